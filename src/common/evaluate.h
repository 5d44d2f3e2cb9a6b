/*
 * evaluate: the evaluation protocol of PAPER.md 1.4, 2.6, 3.5 and 4.4.
 *
 * What it does: enumerates the task's evaluation inputs by index, runs the
 * model on each with K evaluation seeds (the run's r0 alone, K = 1, for the
 * *_r0 variants), and condenses each input into a fixed-size record: mean
 * success over the seeds, mean loss, the exact `sampled` success,
 * majority-vote success for each vote size k, and the predictive variance.
 * Records are plain structs (no pointers), and record k depends only on
 * (config, theta, k): MPI ranks may evaluate any split of the index range
 * and the master gathers and summarises them.  The summary gives every
 * figure the paper reports (average, "95th percentile", worst, majority,
 * sampled, predictive variance, histogram, loss, grid reward) and is
 * written as eval.json and as a table.  docs/tasks.md defines every figure.
 *
 * Streams: evaluation seed j is model_seed_sample on (run_seed,
 * RNG_PURPOSE_EVAL_SEEDS, 0, j); the majority draws of input k for vote
 * size v come from (run_seed, RNG_PURPOSE_EVAL_DRAWS, v, k); evaluation
 * inputs use RNG_PURPOSE_EVAL_INPUTS (task.h).
 *
 * What it does not do: MPI, progress printing (the caller evaluates the
 * range in blocks and prints), or file naming.
 */
#ifndef RANDES_EVALUATE_H
#define RANDES_EVALUATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/objective.h"
#include "common/rng.h"

#define EVAL_HIST_BINS 20
#define EVAL_DUMP_INPUTS 256u
#define EVAL_DUMP_SEEDS 4u

/* One evaluation input, condensed.  Fixed size, no pointers. */
struct eval_record {
	uint64_t input;     /* index k in the (possibly capped) set        */
	uint64_t source;    /* index in the task's enumeration it maps to  */
	uint32_t seeds;     /* K                                           */
	uint32_t n_majority;
	double success;     /* mean over seeds of success (0/1)            */
	double loss;        /* mean over seeds of the loss                 */
	double sampled;     /* mean over seeds of the exact sampled
			       success; NaN where the task has none       */
	double pred_var;    /* mean over outputs of the variance over
			       seeds of the output probability; 0 if none  */
	double majority[CONFIG_MAX_MAJORITY]; /* per eval.majority[i]; NaN
						 when k > K                  */
};

/* Average, 5th percentile (lower order statistic) and worst over inputs. */
struct eval_figure {
	double mean, p5, worst;
};

struct eval_summary {
	char task[32];
	char variant[16];
	uint64_t n_inputs;      /* records summarised                         */
	uint64_t set_size;      /* size of the task's full evaluation set
				   (UINT64_MAX: too many to count)            */
	int is_sample;          /* the set is a uniform random sample          */
	int is_thinned;         /* eval.max_inputs kept an evenly spaced subset */
	uint32_t seeds;         /* K                                          */
	int uses_r0;
	struct eval_figure success;
	unsigned n_majority;
	uint32_t majority_k[CONFIG_MAX_MAJORITY];
	int majority_valid[CONFIG_MAX_MAJORITY]; /* k <= K                     */
	struct eval_figure majority[CONFIG_MAX_MAJORITY];
	int has_sampled;
	struct eval_figure sampled;
	double var_mean, var_p95; /* predictive variance: mean, 95th pct   */
	double dis_mean, dis_p95; /* seed disagreement s(1 - s) of each
				     input's success share s: mean, 95th pct */
	double hist[EVAL_HIST_BINS]; /* fraction of inputs per 5 % bin      */
	double loss_mean, loss_p95, loss_worst;
	int has_reward;           /* gridworld: reward = -moves             */
	struct eval_figure reward;
};

/* The exact model inputs and outputs of the first inputs and seeds. */
struct eval_dump {
	size_t n_inputs, n_seeds;  /* min(256, set), min(4, K)              */
	size_t seq_len, n_feat, n_index, mask_len, seed_size, rows, out_dim;
	size_t target_len; /* Lx, F, NI, L, S, Rw, O, G                     */
	float *feat;       /* (nI, nS, Lx, F)                                */
	int32_t *index;    /* (nI, nS, Lx, NI); NULL when NI == 0            */
	uint8_t *mask;     /* (nI, L, L); NULL when mask_len == 0            */
	float *seed;       /* (nS, S)                                        */
	float *logits;     /* (nI, nS, Rw, O)                                */
	int32_t *length;   /* (nI, nS) valid tokens / logit rows             */
	uint32_t *target;  /* (nI, G)                                        */
	uint64_t *input;   /* (nI) source index of each input                */
};

struct evaluator;

/*
 * Prepares an evaluation with obj's task, model and r0 (borrowed: obj must
 * outlive the evaluator and must not be used concurrently).  ecfg gives K,
 * the vote sizes and draws and the input cap; NULL means obj's config.
 * Draws the K seeds.  Returns 0 and *out, or RANDES_ECONFIG / RANDES_ENOMEM
 * with a message in err.
 */
int evaluate_new(struct evaluator **out, struct objective *obj,
		 const struct config_eval *ecfg, char *err);
void evaluate_free(struct evaluator *ev);

/* Evaluation inputs (after eval.max_inputs) and seeds K. */
uint64_t evaluate_n_inputs(const struct evaluator *ev);
size_t evaluate_n_seeds(const struct evaluator *ev);

/*
 * Evaluates inputs [k0, k0 + count) into rec[0..count).  Each record is a
 * pure function of (config, theta, k): any split of a range gives bitwise
 * the same records.  Makes no allocation.  Returns 0, or RANDES_ESTATE for
 * a range past the end, or a model error.
 */
int evaluate_range(struct evaluator *ev, const float *theta, uint64_t k0,
		   uint64_t count, struct eval_record *rec, char *err);

/*
 * Summarises rec[0..n) (all the evaluator's inputs, in any order):
 * evaluate_summary_init then evaluate_summary_compute.  Allocates sorting
 * scratch; returns 0, RANDES_ESTATE for n == 0, or RANDES_ENOMEM.
 */
int evaluate_summarize(const struct evaluator *ev,
		       const struct eval_record *rec, size_t n,
		       struct eval_summary *sum, char *err);

/* Zeroes *sum and fills its description of the evaluation (task, variant,
 * set, K, vote sizes and which are valid, has_sampled, has_reward). */
void evaluate_summary_init(const struct evaluator *ev,
			   struct eval_summary *sum);

/*
 * Fills every figure of *sum from rec[0..n), using the description already
 * in *sum (K, n_majority, majority_valid, has_sampled, has_reward).  A pure
 * function of the records (the order of rec does not matter).  Returns 0,
 * RANDES_ESTATE for n == 0, or RANDES_ENOMEM.
 */
int evaluate_summary_compute(struct eval_summary *sum,
			     const struct eval_record *rec, size_t n,
			     char *err);

/*
 * Majority-vote success with vote size v over K outcomes (code[j], ok[j]:
 * the argmax output with seed j and whether it is correct): exactly the
 * mean of ok for v = 1, one vote of all K seeds for v = K, otherwise the
 * mean stats_mode_credit of `draws` uniformly random v-subsets of the
 * seeds, each drawn by a partial Fisher-Yates shuffle of perm (reset to the
 * identity first) from stream s.  NaN for v > K.  perm, vote_code, vote_ok
 * and scratch have K entries.
 */
double evaluate_majority(const uint64_t *code, const uint8_t *ok, size_t K,
			 uint32_t v, uint32_t draws, struct rng_stream *s,
			 uint32_t *perm, uint64_t *vote_code,
			 uint8_t *vote_ok, uint64_t *scratch);

/* Writes the summary as one JSON object on one line (eval.json; keys in
 * docs/tasks.md); non-finite numbers become null, majority entries with
 * k > K are left out.  Returns 0, RANDES_ENOMEM or RANDES_EIO. */
int evaluate_write_json(const struct eval_summary *sum, FILE *f);

/*
 * Writes one CSV row per record of rec[0..n) (in the given order) under a
 * header: input, source, the task's labels of the source index
 * (task_ops.eval_labels), success, loss, sampled, pred_var and one
 * majority_<k> column per vote size.  Numbers have 10 significant digits;
 * NaN (no sampled success, k > K) is an empty field.  Columns in
 * docs/formats.md.  Returns 0 or RANDES_EIO.
 */
int evaluate_write_inputs_csv(const struct evaluator *ev,
			      const struct eval_record *rec, size_t n,
			      FILE *f);

/* Writes the summary as a plain-text table.  Returns 0 or RANDES_EIO. */
int evaluate_write_table(const struct eval_summary *sum, FILE *f);

/* Fills the sizes of a dump (pointers untouched): the caller allocates
 * every array by these sizes. */
void evaluate_dump_shape(const struct evaluator *ev, struct eval_dump *d);

/*
 * Runs the first d->n_inputs evaluation inputs with the first d->n_seeds
 * evaluation seeds and fills the caller's arrays.  RANDES_ESTATE for a
 * model-free task; otherwise 0 or a model error.
 */
int evaluate_dump(struct evaluator *ev, const float *theta,
		  struct eval_dump *d, char *err);

#endif
