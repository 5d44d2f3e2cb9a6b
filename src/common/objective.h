/*
 * objective: the training objective of PAPER.md eq. (5) for one generation.
 *
 * What it does: owns the task, the model built for it, the batch of one
 * generation (n inputs and m seeds, or the run's fixed seed r0), a model
 * workspace and the loss matrix, all sized once at creation.  Per
 * generation g it fills the batch as a pure function of (run seed, g); per
 * member it scores theta on that batch: the (n, m) matrix of losses
 * l_ij >= 0, the per-input means lbar_i = (1/m) sum_j l_ij, and the pooled
 *     L = M * ( (1/n) sum_i (lbar_i / M)^q )^(1/q),  M = max_i lbar_i,
 * with q = 1 the plain mean, q = inf the max, and L = 0 when M = 0.  The
 * fitness the ES maximises is -L.  Variants (PAPER.md 1.3):
 *     E_r0  q = 1, one seed r0 for the whole run
 *     q_r0  q = q(g), r0
 *     E_R   q = 1, m fresh seeds per generation shared by all inputs
 *     q_R   q = q(g), m fresh seeds per generation shared by all inputs
 * r0 comes from stream (run_seed, RNG_PURPOSE_R0, 0, 0); the m seeds of
 * generation g from (run_seed, RNG_PURPOSE_SEEDS, g, j), j = 0..m-1; input
 * k of generation g from (run_seed, RNG_PURPOSE_INPUTS, g, k).
 *
 * Determinism: the fitness is a pure function of (config, theta, g): the
 * chunking of the n*m sequences depends on the config alone and every sum
 * runs in a fixed order in double.  NaN or inf losses give a non-finite
 * fitness (NaN if any loss is NaN, else -inf); nothing is hidden.
 *
 * What it does not do: perturb theta, shape fitness, or know about MPI.
 * One objective serves one thread (it holds one workspace).
 */
#ifndef RANDES_OBJECTIVE_H
#define RANDES_OBJECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/model.h"
#include "common/tasks/task.h"

/* Sequences per model call at most for roll-out tasks (one-shot tasks give
 * the model a member's whole batch in one call; it chunks internally), and
 * fewer if the workspace would exceed OBJECTIVE_WS_MAX_BYTES. */
#define OBJECTIVE_CHUNK_SEQS 2048u
#define OBJECTIVE_WS_MAX_BYTES ((size_t)256 << 20)

/* A model-free task counts theta as a success when its loss is below this. */
#define OBJECTIVE_TESTFN_SUCCESS 1e-4

struct objective_score {
	double fitness;   /* -L                                           */
	double loss;      /* L, the pooled loss                           */
	double q;         /* the q that pooled it                         */
	double mean_loss; /* mean of l_ij over the n*m pairs              */
	double success;   /* fraction of the n*m pairs that succeeded      */
	double worst;     /* max_i lbar_i                                 */
};

struct objective {
	struct config cfg;          /* a copy; the objective does not borrow */
	struct task *task;
	struct model model;         /* valid when task->has_model            */
	size_t n_params;            /* D                                     */
	size_t n_inputs;            /* n                                     */
	size_t n_seeds;             /* m (1 for *_r0)                        */
	size_t seed_size;           /* S                                     */
	int uses_r0;
	int exhaustive;
	struct task_inputs *inputs; /* the generation's n inputs             */
	float *seeds;               /* (m, S): this generation's seeds       */
	float *r0;                  /* (S): the run's fixed seed             */
	struct task_ws *ws;         /* model calls of <= chunk sequences     */
	size_t chunk;               /* sequences per model call              */
	float *loss;                /* (n, m) of the last objective_score    */
	uint8_t *success;           /* (n, m)                                */
	double *row_mean;           /* (n): lbar_i                           */
	int prepared;               /* objective_prepare has run             */
	uint64_t generation;        /* the prepared generation               */
	double q;                   /* q of the prepared generation          */
};

/*
 * Builds the task, the model (model_init with the task's io and
 * cfg->model), r0 and every buffer.  Returns 0 and *out, or RANDES_ECONFIG
 * (impossible task/model combination) / RANDES_ENOMEM with a message in err
 * and *out NULL.  cfg is copied.
 */
int objective_new(struct objective **out, const struct config *cfg,
		  char *err);
void objective_free(struct objective *obj);

/* D, the length of theta. */
size_t objective_n_params(const struct objective *obj);

/*
 * The start theta (D floats): model_init_theta from (run_seed,
 * RNG_PURPOSE_INIT); sphere: every coordinate 3.0; rastrigin: uniform in
 * [-5.12, 5.12] from stream (run_seed, RNG_PURPOSE_INIT, 0, 0), coordinate
 * i from the i-th uniform (rng_uniform, 24 bits).
 */
void objective_init_theta(const struct objective *obj, float *theta);

/*
 * Fills the batch of generation g (g <= UINT32_MAX): the inputs, the seeds
 * (r0 for *_r0) and q.  Pure function of (config, g).  Returns 0, or
 * RANDES_ESTATE if g is out of range.
 */
int objective_prepare(struct objective *obj, uint64_t g, char *err);

/*
 * Scores theta on the prepared batch: fills obj->loss / success /
 * row_mean and *out.  Makes no allocation.  Returns 0, RANDES_ESTATE if no
 * generation is prepared, or a model error.
 */
int objective_score(struct objective *obj, const float *theta,
		    struct objective_score *out, char *err);

/*
 * lbar[i] = (1/m) sum_j loss[i*m + j], summed in j order in double.
 */
void objective_row_means(const float *loss, size_t n, size_t m,
			 double *lbar);

/*
 * The stable L^q pool of lbar[0..n) (PAPER.md 1.2), q >= 1 or inf: q = 1
 * gives the mean, q = inf the max, M = max = 0 gives 0, otherwise
 * M * (mean_i (lbar_i / M)^q)^(1/q), sums in index order in double.  NaN
 * if any value is NaN, +inf if any is +inf.
 */
double objective_pool(const double *lbar, size_t n, double q);

/* The run's fixed seed r0 (S floats) and S. */
const float *objective_r0(const struct objective *obj, size_t *seed_size);

#endif
