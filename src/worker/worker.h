/*
 * worker: what every rank (rank 0 too) does in one generation.
 *
 * Given the generation's header and centre (broadcast by the master), a
 * worker prepares the generation's batch (a pure function of (config, g)),
 * rebuilds the perturbations of the pairs it is assigned from the counter
 * RNG, scores both members of each pair with the objective, and returns two
 * floats per pair to rank 0.  Rank 0 also scores the unperturbed centre on
 * the same batch (for the log) unless another rank does.
 *
 * Work assignment: static (contiguous blocks of pairs per rank, the centre
 * on the last rank) or dynamic (rank 0 hands out chunks of es.chunk_pairs
 * pairs as ranks ask for them, and scores chunks itself in between).  The
 * assignment never changes a result: member k's fitness is a pure function
 * of (config, centre, g, k).
 *
 * What it does not do: shape fitness, update theta, checkpoint, or know
 * which strategy produced the centre.
 */
#ifndef RANDES_WORKER_H
#define RANDES_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "common/es.h"
#include "common/objective.h"
#include "worker/comm.h"

enum worker_cmd {
	WORKER_CMD_GENERATION = 1, /* score generation `generation`      */
	WORKER_CMD_STOP = 2,       /* leave the loop, all is well        */
	WORKER_CMD_ABORT = 3,      /* leave the loop with error `code`   */
};

/* Broadcast by rank 0 before every generation (fixed size on the wire). */
struct worker_header {
	uint32_t cmd;        /* enum worker_cmd                          */
	uint32_t generation; /* g                                        */
	int32_t code;        /* ABORT: the enum randes_err to exit with  */
	uint32_t reserved;
	double sigma;        /* openai_es: σ(g); pgpe: 0                 */
};

/* What each rank reports to rank 0 after a generation (fixed size). */
struct worker_report {
	double t_eval;          /* seconds spent scoring on this rank       */
	double t_wait;          /* seconds spent in communication           */
	uint32_t stop_signal;   /* a stop signal arrived on this rank       */
	uint32_t has_center;    /* this rank scored the centre              */
	uint32_t members;       /* members scored on this rank              */
	int32_t error;          /* a scoring error (enum randes_err) or 0   */
	struct objective_score center;
};

/* Most bytes of noise rank 0 keeps for the update (beyond: rebuilt). */
#define WORKER_KEEP_NOISE_BYTES ((size_t)64 << 20)

struct worker {
	struct comm *comm;
	struct objective *obj;  /* borrowed                                 */
	const struct config *cfg; /* borrowed                               */
	size_t dim;             /* D                                        */
	size_t pairs;           /* P/2                                      */
	float *noise;           /* (D) scratch                              */
	float *plus, *minus;    /* (D) the two members of a pair            */
	float *fitness;         /* (P) this rank's scores, by member index  */
	uint8_t *done;          /* (P/2) pairs scored this generation       */
	/* rank 0: the noise of the pairs it scored this generation, kept for
	 * the update (es_update_noise; worker_pair_noise) */
	size_t keep_first, keep_count; /* the pairs it may keep            */
	float *noise_kept;      /* (keep_count, D)                          */
	uint8_t *kept;          /* (keep_count) pair keep_first + i's noise
				   is in noise_kept row i                   */
	struct worker_report *reports; /* rank 0: (size) gathered reports   */
	int *counts, *displs;   /* rank 0: Gatherv layout (static)          */
};

/* Allocates scratch for obj's D and the config's population.  Returns 0
 * or RANDES_ENOMEM. */
int worker_init(struct worker *w, struct comm *comm, struct objective *obj,
		const struct config *cfg, char *err);
void worker_free(struct worker *w);

/*
 * Rank 0, after worker_generation: pair k's noise ε_k if this rank scored
 * the pair in that generation (exactly what es_update would rebuild), else
 * NULL.  ctx is the struct worker; an es_noise_fn_t for es_update_noise.
 */
const float *worker_pair_noise(const void *ctx, size_t k);

/*
 * Runs one generation on every rank of w->comm (a collective call).
 * view: on every rank, the generation's centre and σ as broadcast (the
 * caller broadcasts; see master/train.c).  On rank 0, fitness_out receives
 * the P fitnesses by member index (2k: +, 2k+1: −) and reports_out (may be
 * NULL) the per-rank reports; the centre's score goes to *center.  Returns
 * 0, or the most severe scoring error of any rank (the same value on every
 * rank), with the message of the local failure in err.
 */
int worker_generation(struct worker *w, const struct es_view *view,
		      int stop_signal, float *fitness_out,
		      struct objective_score *center, char *err);

/* The reports of the last generation (rank 0 only; comm->size entries). */
const struct worker_report *worker_reports(const struct worker *w);

#endif
