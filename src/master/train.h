/*
 * train: the `randes train` daemon, run by every rank of a communicator.
 *
 * Rank 0 is the master: it owns the ES state, decides each generation's
 * command, broadcasts the header and the centre (PGPE also σ), shapes and
 * applies the update, logs a progress line and a metrics.jsonl line, and
 * checkpoints.  Every rank (rank 0 too) is a worker: worker_generation()
 * scores its share of the population.  Stop signals on any rank end the run
 * after the current generation with a checkpoint.  At the end the model is
 * exported and, if run.eval_at_end, evaluated on all ranks.
 */
#ifndef RANDES_TRAIN_H
#define RANDES_TRAIN_H

#include <stdint.h>

#include "common/config.h"
#include "worker/comm.h"

struct train_options {
	const char *run_dir; /* required                                     */
	int resume;          /* continue from the newest checkpoint           */
	const char *tag;     /* prefix of progress lines (NULL: "train")      */
	int no_eval;         /* skip the evaluation at the end                */
	/* Asked by rank 0 after each generation; nonzero ends the run as a
	 * stop signal does (checkpoint, result->stopped and ->yielded set):
	 * a sweep gives the ranks to a regroup.  NULL: never. */
	int (*yield)(void *ctx);
	void *yield_ctx;
};

struct train_result {
	int stopped;         /* ended early on a stop signal (or a yield)     */
	int yielded;         /* ended early because opt->yield said so        */
	uint64_t generation; /* generations completed                        */
	int evaluated;       /* eval.json was written                         */
};

/*
 * Trains cfg on every rank of c (a collective call; all ranks pass the same
 * config and options).  Returns 0 on success, also after a clean stop on a
 * signal (then result->stopped is set); otherwise a negative enum
 * randes_err, the same on every rank, with the message in err on the rank
 * that saw the problem (rank 0 logs it).
 */
int train_run(struct comm *c, const struct config *cfg,
	      const struct train_options *opt, struct train_result *result,
	      char *err);

#endif
