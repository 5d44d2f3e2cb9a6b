/*
 * es: the evolution-strategy numerics — antithetic perturbations, fitness
 * shaping, gradient estimates, the optimizers, and the PGPE σ update.
 *
 * Pure single-process arithmetic: no MPI, no tasks, no files, no threads.
 * The one-generation contract (shared/DESIGN.md; formulas in docs/es.md):
 *
 *   pair k (k = 0 .. P/2-1) of generation g has the noise vector
 *       ε_k = rng_normal_fill(run_seed, RNG_PURPOSE_NOISE, g, k, ., D)
 *   member 2k   = centre + σ⊙ε_k   (sign +1)
 *   member 2k+1 = centre − σ⊙ε_k   (sign −1)
 *
 * where σ is the scalar σ(g) of the schedule es.sigma for openai_es and the
 * per-parameter vector of the state for pgpe.  The daemon broadcasts what
 * es_view_get() exposes (the centre, and the σ vector for pgpe, or the
 * scalar σ(g)); any rank rebuilds any member with es_member().  The master
 * gives es_update() the P fitnesses (to be MAXIMISED) in member order; it
 * rebuilds ε_k for k = 0, 1, 2, ... in that order and accumulates in double,
 * so the result does not depend on how many ranks scored the members.
 *
 * Everything is deterministic: fixed loop orders, double accumulators, no
 * hidden state.  Restoring a state from es_state_export()'s sections gives
 * bitwise the same continuation.
 *
 * Shapes: D = number of parameters (dim), P = population (even), P/2 pairs.
 */
#ifndef RANDES_ES_H
#define RANDES_ES_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "config.h"

/* Version of the "es.meta" checkpoint section layout. */
#define ES_STATE_VERSION 1u
/* The checkpoint section of the θ average (es.theta_ema > 0; f64 D). */
#define ES_SECTION_AVG "es.theta_avg"

/*
 * The optimizer state.  Owned arrays; the state proper is the centre, σ
 * (pgpe), the moments and the step count: those are what a checkpoint
 * holds.  The rest is scratch, sized once in es_init (no allocation in
 * es_update).
 */
struct es {
	enum es_strategy strategy;
	enum es_optimizer optimizer;
	size_t dim;            /* D                                          */
	size_t population;     /* P (even)                                   */
	uint64_t run_seed;     /* run.seed: keys the noise                   */
	uint64_t steps;        /* optimizer steps taken (Adam's t)           */
	float *theta;          /* (D) the centre: θ (openai_es) or μ (pgpe)  */
	float *sigma;          /* (D) pgpe per-parameter σ; NULL otherwise   */
	double *adam_m;        /* (D) Adam first moment; NULL otherwise      */
	double *adam_v;        /* (D) Adam second moment; NULL otherwise     */
	double *velocity;      /* (D) SGD momentum / ClipUp velocity, or NULL */
	double *avg;           /* (D) es.theta_ema > 0: the moving average of
				* the centre, the run's model; else NULL     */
	/* scratch */
	float *noise;          /* (D) ε_k being accumulated                  */
	double *grad;          /* (D) Σ_k w_k ε_k, then the centre gradient  */
	double *step;          /* (D) the step, then the centre's move (+ wd) */
	double *sgrad;         /* (D) pgpe: Σ_k s_k (ε_k² − 1); else NULL    */
	double *shaped;        /* (P) shaped fitness                         */
	size_t *order;         /* (2P) rank-sort scratch                     */
};

/* What a rank needs to build the members of one generation. */
struct es_view {
	uint64_t run_seed;
	uint32_t generation;   /* g                                          */
	size_t dim;            /* D                                          */
	const float *center;   /* (D) θ or μ                                 */
	const float *sigma_vec; /* (D) pgpe σ; NULL for openai_es            */
	double sigma;          /* openai_es: σ(g); pgpe: 0 (unused)          */
};

/* Per-generation figures for the metrics line. */
struct es_stats {
	double fit_min;        /* over the finite fitnesses (NaN if none)   */
	double fit_mean;
	double fit_max;
	size_t n_nonfinite;    /* NaN / ±inf fitnesses this generation      */
	int skipped;           /* 1: no finite fitness, state unchanged     */
	double lr;             /* lr(g) used                                 */
	double grad_norm;      /* ‖g‖₂ of the centre gradient estimate      */
	double grad_noise_norm; /* ‖·‖₂ of its perturbation noise alone, given
				 * the fitness: √(Σ_i Var g_i) (docs/es.md) */
	double update_norm;    /* ‖Δθ‖₂ of the applied centre update        */
	double sigma_mean;     /* openai_es: σ(g); pgpe: mean σ after update */
	double sigma_min;      /* pgpe: min σ after update (= mean for oes)  */
	double sigma_max;      /* pgpe: max σ after update                   */
};

/*
 * Builds the state from cfg->es (strategy, population, sigma, optimizer,
 * ...) and cfg->run.seed, with the centre set to theta0[0..dim) (copied)
 * and, for pgpe, every σ_i = sigma(0).  Moments, velocity and the step
 * count start at zero.  Returns 0, RANDES_ECONFIG if cfg->es is unusable
 * (odd or too small population, σ(0) <= 0 or not finite, dim == 0, ...),
 * or RANDES_ENOMEM; on failure *es is freed and zeroed (es_free is safe).
 */
int es_init(struct es *es, const struct config *cfg, const float *theta0,
	    size_t dim, char *err);

/* Frees all arrays and zeroes *es.  Accepts a zeroed or half-built state. */
void es_free(struct es *es);

/*
 * The run's model into out (D floats): with es.theta_ema = b > 0 the
 * moving average of the centre, avg <- b avg + (1 - b) θ after every
 * generation from θ at the start (rounded to float); else θ itself.
 */
void es_model(const struct es *es, float *out);

/*
 * Fills *view for generation g: pointers into es (valid until the next
 * es_update or es_free) and σ(g) = sched_at(&cfg->es.sigma, g) for
 * openai_es.  This is exactly what the master must broadcast.
 */
void es_view_get(const struct es *es, const struct config *cfg, uint32_t g,
		 struct es_view *view);

/*
 * Writes member (k, sign) of the generation described by view into
 * out[0..D):  out_i = float(center_i + sign · (σ_i · ε_k,i)), computed in
 * double and rounded once, with σ_i = view->sigma_vec[i] or view->sigma.
 * sign is +1 (member 2k) or −1 (member 2k+1).  noise is caller scratch of
 * D floats (it receives ε_k); nothing is allocated.  The same view and
 * (k, sign) give bitwise the same out on every rank.
 */
void es_member(const struct es_view *view, uint32_t k, int sign,
	       float *noise, float *out);

/* Both members of pair k with one noise generation: out_plus = member 2k,
 * out_minus = member 2k+1, bitwise equal to two es_member calls. */
void es_member_pair(const struct es_view *view, uint32_t k, float *noise,
		    float *out_plus, float *out_minus);

/*
 * Fitness shaping of n scores into u[0..n) (docs/es.md):
 *   ES_SHAPING_CENTERED_RANKS: rank r_j in 0..n-1 of score j ascending,
 *     non-finite scores (NaN, ±inf) below every finite one, ties broken by
 *     index (lower index, lower rank); u_j = r_j/(n−1) − 0.5 (0 if n = 1).
 *   ES_SHAPING_NORMALIZED: non-finite scores replaced by the lowest finite
 *     score; u_j = (f_j − mean)/std (population std), all 0 if std = 0.
 *   ES_SHAPING_NONE: non-finite replaced likewise; u_j = f_j.
 * With no finite score at all, NORMALIZED and NONE give all zeros.
 * order is scratch of 2n size_t.  Returns the number of non-finite scores.
 */
size_t es_shape(enum es_shaping shaping, const float *fitness, size_t n,
		double *u, size_t *order);

/*
 * One ES step for generation g from the P fitnesses of its members
 * (fitness[2k] = member +, fitness[2k+1] = member −; maximised).  Shapes
 * with cfg->es.shaping, rebuilds ε_0, ε_1, ... in index order, forms the
 * gradient (openai_es: g = 1/(Pσ) Σ_k (u⁺_k − u⁻_k) ε_k; pgpe: centre and σ
 * gradients), steps the optimizer with lr = sched_at(&cfg->es.lr, g) and
 * applies decoupled weight decay; pgpe then updates σ.  Fills *stats (may be
 * NULL).  If no fitness is finite, nothing changes (not even the step
 * count) and the return value is 1; otherwise 0.  Non-finite fitness never
 * reaches the state.  The cfg->es fields fixed at es_init (strategy,
 * optimizer, population) must not change (RANDES_ASSERT).
 */
int es_update(struct es *es, const struct config *cfg, uint32_t g,
	      const float *fitness, struct es_stats *stats);

/*
 * Pair k's noise ε_k of the generation being updated (D floats), or NULL
 * when the caller does not have it; ctx is the caller's.
 */
typedef const float *(*es_noise_fn_t)(const void *ctx, size_t k);

/*
 * es_update taking the noise of the pairs the caller already made (rank
 * 0's worker keeps those it scored) from noise(ctx, k) instead of
 * rebuilding them; pairs it returns NULL for are rebuilt.  What noise
 * returns must be exactly rng_normal_fill(run seed, RNG_PURPOSE_NOISE, g,
 * k, ., D) (es_member_pair's noise for es_view_get's view of generation
 * g); then the result is bitwise es_update's.  noise NULL: es_update.
 * The rows noise returns must stay valid and unchanged until
 * es_update_noise returns (it sums several pairs in one pass).
 */
int es_update_noise(struct es *es, const struct config *cfg, uint32_t g,
		    const float *fitness, es_noise_fn_t noise,
		    const void *ctx, struct es_stats *stats);

/*
 * Adds the state to ck as sections borrowing es's arrays (valid until the
 * next es_update / es_free): "es.meta" (u64: ES_STATE_VERSION, strategy,
 * optimizer, D, P, steps), "es.theta" (f32 D), and as the strategy and
 * optimizer need "es.sigma" (f32 D), "es.adam_m", "es.adam_v",
 * "es.velocity" (f64 D), and with es.theta_ema > 0 ES_SECTION_AVG (f64 D).
 * Sets ck->dim = D.  Returns 0 or the error of
 * checkpoint_section_add (ck may then hold some of the sections).
 */
int es_state_export(const struct es *es, struct checkpoint *ck, char *err);

/*
 * Restores the state saved by es_state_export into es, which must have
 * been set up by es_init with the same strategy, optimizer, D and P.  Every
 * section is validated (present, type, count, meta values, σ and centre
 * finite, σ > 0) before anything is copied.  A state with an average takes
 * ES_SECTION_AVG if ck has it, else starts the average at ck's θ; one
 * without ignores it.  Returns 0, or RANDES_EDATA with a message and es
 * unchanged.
 */
int es_state_import(struct es *es, const struct checkpoint *ck, char *err);

#endif
