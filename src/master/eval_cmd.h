/*
 * eval_cmd: the evaluation protocol over MPI (`randes eval`, and the end of
 * `randes train`), and the model export (`randes export`).
 *
 * Evaluation splits the task's evaluation set into one contiguous block of
 * inputs per rank; each rank condenses its inputs into fixed-size records
 * (common/evaluate.h), rank 0 gathers them, summarises, writes eval.json
 * atomically and prints the table.  A record depends only on (config, θ,
 * input index), so the figures do not depend on the number of ranks.
 */
#ifndef RANDES_EVAL_CMD_H
#define RANDES_EVAL_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "worker/comm.h"

struct eval_options {
	uint32_t seeds;   /* K; 0: the config's eval.seeds                   */
	const char *out;  /* eval.json path; NULL: RUN_DIR/eval.json          */
	const char *dump; /* write model inputs/logits here (safetensors)     */
	const char *per_input; /* write one CSV row per input here           */
	const char *tag;  /* progress prefix; NULL: "eval"                    */
	const char *const *sets; /* eval.* / task.eval_* overrides (randes eval) */
	size_t n_sets;
};

/*
 * Evaluates θ (D floats, valid on rank 0; broadcast here) under cfg on all
 * ranks of c (collective).  Rank 0 writes the JSON and prints the table.
 * Returns 0 or a negative enum randes_err, the same on every rank.
 */
int eval_run(struct comm *c, const struct config *cfg, const char *run_dir,
	     const float *theta, size_t D, const struct eval_options *o,
	     char *err);

/*
 * The end of a training run (collective): rank 0 exports
 * RUN_DIR/model.safetensors (theta after `generation` generations); then, if `evaluate`, eval_run with the
 * config's settings.  *evaluated is set when eval.json was written.
 */
int finish_run(struct comm *c, const struct config *cfg, const char *run_dir,
	       const float *theta, size_t D, uint64_t generation, int evaluate,
	       int *evaluated, char *err);

/*
 * Writes theta (D floats, the model after `generation` generations of cfg)
 * to path as randes' safetensors (tensors by the model's layout; metadata:
 * task, variant, run seed, r0, generation, model spec, resolved config),
 * atomically.  One process.  Returns 0 or an enum randes_err.
 */
int export_model(const struct config *cfg, const float *theta, size_t D,
		 uint64_t generation, const char *path, char *err);

/* `randes eval RUN_DIR` on all ranks of c (collective). */
int eval_command(struct comm *c, const char *run_dir,
		 const struct eval_options *o, char *err);

/* `randes export RUN_DIR --out FILE` (one process, no MPI). */
int export_command(const char *run_dir, const char *out, char *err);

#endif
