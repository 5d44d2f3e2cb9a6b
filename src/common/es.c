/*
 * es: OpenAI-ES and PGPE with antithetic sampling, fitness shaping and the
 * Adam / SGD / ClipUp optimizers (see es.h; every formula, with its
 * reasons, in docs/es.md).
 *
 * Determinism rules followed throughout: the noise of pair k is rebuilt
 * from (run seed, NOISE, g, k) and accumulated for k = 0, 1, 2, ... in that
 * order; every sum over pairs or parameters runs in index order in a double
 * accumulator; the rank sort is a stable merge sort with a total order, so
 * its result does not depend on the sort algorithm; no threads.
 */
#include "es.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "es_vec.h"
#include "rng.h"

/* --- setup ------------------------------------------------------------ */

void es_free(struct es *es)
{
	if (!es)
		return;
	free(es->theta);
	free(es->sigma);
	free(es->adam_m);
	free(es->adam_v);
	free(es->velocity);
	free(es->avg);
	free(es->noise);
	free(es->grad);
	free(es->step);
	free(es->sgrad);
	free(es->shaped);
	free(es->order);
	memset(es, 0, sizeof(*es));
}

/* Checks the cfg->es fields es uses; RANDES_ECONFIG with the key named. */
static int es_config_check(const struct config *cfg, size_t dim, char *err)
{
	const struct config_es *c = &cfg->es;
	double sigma0 = sched_at(&c->sigma, 0);

	if (dim == 0)
		return randes_errf(err, RANDES_ECONFIG,
				   "es: the model has no parameters (D = 0)");
	if (c->strategy != ES_STRATEGY_OPENAI_ES &&
	    c->strategy != ES_STRATEGY_PGPE)
		return randes_errf(err, RANDES_ECONFIG,
				   "es.strategy: unknown value %d",
				   (int)c->strategy);
	if (c->optimizer != ES_OPTIMIZER_ADAM &&
	    c->optimizer != ES_OPTIMIZER_SGD &&
	    c->optimizer != ES_OPTIMIZER_CLIPUP)
		return randes_errf(err, RANDES_ECONFIG,
				   "es.optimizer: unknown value %d",
				   (int)c->optimizer);
	if (c->shaping != ES_SHAPING_CENTERED_RANKS &&
	    c->shaping != ES_SHAPING_NONE &&
	    c->shaping != ES_SHAPING_NORMALIZED)
		return randes_errf(err, RANDES_ECONFIG,
				   "es.shaping: unknown value %d",
				   (int)c->shaping);
	if (c->population < 2 || c->population % 2 != 0)
		return randes_errf(err, RANDES_ECONFIG,
				   "es.population: expected an even number "
				   ">= 2 (antithetic pairs), got %u",
				   c->population);
	if (!isfinite(sigma0) || sigma0 <= 0)
		return randes_errf(err, RANDES_ECONFIG,
				   "es.sigma: expected a positive finite "
				   "value at generation 0, got %g",
				   sigma0);
	if (c->optimizer == ES_OPTIMIZER_ADAM &&
	    (!(c->beta1 >= 0 && c->beta1 < 1) ||
	     !(c->beta2 >= 0 && c->beta2 < 1) || !(c->eps > 0)))
		return randes_errf(err, RANDES_ECONFIG,
				   "es.beta1/beta2/eps: expected 0 <= beta "
				   "< 1 and eps > 0, got %g/%g/%g",
				   c->beta1, c->beta2, c->eps);
	if (!(c->momentum >= 0 && c->momentum < 1))
		return randes_errf(err, RANDES_ECONFIG,
				   "es.momentum: expected 0 <= momentum < 1, "
				   "got %g",
				   c->momentum);
	if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
		return randes_errf(err, RANDES_ECONFIG,
				   "es.weight_decay: expected >= 0, got %g",
				   c->weight_decay);
	if (c->strategy == ES_STRATEGY_PGPE &&
	    (!(c->sigma_lr >= 0) || !isfinite(c->sigma_lr) ||
	     !(c->sigma_max_change >= 0 && c->sigma_max_change <= 1) ||
	     !(c->sigma_min >= 0) || !isfinite(c->sigma_min)))
		return randes_errf(err, RANDES_ECONFIG,
				   "es.sigma_lr/sigma_max_change/sigma_min: "
				   "expected >= 0, 0..1, >= 0; got %g/%g/%g",
				   c->sigma_lr, c->sigma_max_change,
				   c->sigma_min);
	return 0;
}

static int es_nomem(char *err, size_t dim, size_t P)
{
	return randes_errf(err, RANDES_ENOMEM,
			   "es: out of memory for the state of D = %zu, P = %zu",
			   dim, P);
}

int es_init(struct es *es, const struct config *cfg, const float *theta0,
	    size_t dim, char *err)
{
	size_t P = cfg->es.population;
	int rc;

	memset(es, 0, sizeof(*es));
	rc = es_config_check(cfg, dim, err);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < dim; i++) {
		if (!isfinite(theta0[i])) {
			rc = randes_errf(err, RANDES_EDATA,
					 "es: initial parameter %zu is not "
					 "finite",
					 i);
			goto fail;
		}
	}
	es->strategy = cfg->es.strategy;
	es->optimizer = cfg->es.optimizer;
	es->dim = dim;
	es->population = P;
	es->run_seed = cfg->run.seed;
	es->steps = 0;
	es->theta = malloc(dim * sizeof(float));
	es->noise = malloc(dim * sizeof(float));
	es->grad = calloc(dim, sizeof(double));
	es->step = calloc(dim, sizeof(double));
	es->shaped = calloc(P, sizeof(double));
	es->order = calloc(2 * P, sizeof(size_t));
	if (!es->theta || !es->noise || !es->grad || !es->step ||
	    !es->shaped || !es->order) {
		rc = es_nomem(err, dim, P);
		goto fail;
	}
	memcpy(es->theta, theta0, dim * sizeof(float));
	if (es->strategy == ES_STRATEGY_PGPE) {
		float s0 = (float)sched_at(&cfg->es.sigma, 0);
		es->sigma = malloc(dim * sizeof(float));
		es->sgrad = calloc(dim, sizeof(double));
		if (!es->sigma || !es->sgrad) {
			rc = es_nomem(err, dim, P);
			goto fail;
		}
		for (size_t i = 0; i < dim; i++)
			es->sigma[i] = s0;
	}
	if (es->optimizer == ES_OPTIMIZER_ADAM) {
		es->adam_m = calloc(dim, sizeof(double));
		es->adam_v = calloc(dim, sizeof(double));
		if (!es->adam_m || !es->adam_v) {
			rc = es_nomem(err, dim, P);
			goto fail;
		}
	} else {
		es->velocity = calloc(dim, sizeof(double));
		if (!es->velocity) {
			rc = es_nomem(err, dim, P);
			goto fail;
		}
	}
	if (cfg->es.theta_ema > 0) {
		es->avg = malloc(dim * sizeof(double));
		if (!es->avg) {
			rc = es_nomem(err, dim, P);
			goto fail;
		}
		for (size_t i = 0; i < dim; i++)
			es->avg[i] = theta0[i];
	}
	return 0;
fail:
	es_free(es);
	return rc;
}

void es_model(const struct es *es, float *out)
{
	if (!es->avg) {
		if (out != es->theta)
			memcpy(out, es->theta, es->dim * sizeof(float));
		return;
	}
	for (size_t i = 0; i < es->dim; i++)
		out[i] = (float)es->avg[i];
}

/* --- members -------------------------------------------------------------- */

void es_view_get(const struct es *es, const struct config *cfg, uint32_t g,
		 struct es_view *view)
{
	view->run_seed = es->run_seed;
	view->generation = g;
	view->dim = es->dim;
	view->center = es->theta;
	if (es->strategy == ES_STRATEGY_PGPE) {
		view->sigma_vec = es->sigma;
		view->sigma = 0;
	} else {
		view->sigma_vec = NULL;
		view->sigma = sched_at(&cfg->es.sigma, g);
	}
}

void es_member_pair(const struct es_view *view, uint32_t k, float *noise,
		    float *out_plus, float *out_minus)
{
	size_t D = view->dim;

	rng_normal_fill(view->run_seed, RNG_PURPOSE_NOISE, view->generation, k,
			noise, D);
	/* c ± s·ε per parameter, in double, rounded once */
	es_vec_member(noise, view->center, view->sigma_vec, view->sigma,
		      out_plus, out_minus, D);
}

void es_member(const struct es_view *view, uint32_t k, int sign,
	       float *noise, float *out)
{
	RANDES_ASSERT(sign == 1 || sign == -1);
	if (sign > 0)
		es_member_pair(view, k, noise, out, NULL);
	else
		es_member_pair(view, k, noise, NULL, out);
}

/* --- fitness shaping ------------------------------------------------------ */

/* The rank order: non-finite below finite, then by value.  Returns < 0 if
 * score a must come before score b, > 0 after, 0 if they tie. */
static int score_cmp(float a, float b)
{
	int fa = isfinite(a), fb = isfinite(b);

	if (fa != fb)
		return fa ? 1 : -1;
	if (!fa)
		return 0;
	return (a > b) - (a < b);
}

/* Stable bottom-up merge sort of indices 0..n-1 by score_cmp: ties keep
 * index order.  order holds 2n entries; the result is in order[0..n). */
static void rank_sort(const float *f, size_t n, size_t *order)
{
	size_t *src = order, *dst = order + n;

	for (size_t i = 0; i < n; i++)
		src[i] = i;
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t a = lo, b = mid, o = lo;
			while (a < mid && b < hi) {
				/* <= 0 takes the left run on ties: stable */
				if (score_cmp(f[src[a]], f[src[b]]) <= 0)
					dst[o++] = src[a++];
				else
					dst[o++] = src[b++];
			}
			while (a < mid)
				dst[o++] = src[a++];
			while (b < hi)
				dst[o++] = src[b++];
		}
		size_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != order)
		memcpy(order, src, n * sizeof(size_t));
}

size_t es_shape(enum es_shaping shaping, const float *fitness, size_t n,
		double *u, size_t *order)
{
	size_t n_bad = 0, n_good = 0;
	double worst = 0, sum = 0, mean, var = 0;

	for (size_t j = 0; j < n; j++) {
		if (!isfinite(fitness[j])) {
			n_bad++;
			continue;
		}
		if (n_good == 0 || fitness[j] < worst)
			worst = fitness[j];
		n_good++;
	}
	switch (shaping) {
	case ES_SHAPING_CENTERED_RANKS:
		rank_sort(fitness, n, order);
		for (size_t r = 0; r < n; r++)
			u[order[r]] = n > 1 ? (double)r / (double)(n - 1) - 0.5
					    : 0.0;
		break;
	case ES_SHAPING_NONE:
	case ES_SHAPING_NORMALIZED:
		for (size_t j = 0; j < n; j++)
			u[j] = n_good == 0		 ? 0.0
			       : isfinite(fitness[j]) ? (double)fitness[j]
						      : worst;
		if (shaping == ES_SHAPING_NONE)
			break;
		for (size_t j = 0; j < n; j++)
			sum += u[j];
		mean = n > 0 ? sum / (double)n : 0.0;
		for (size_t j = 0; j < n; j++)
			var += (u[j] - mean) * (u[j] - mean);
		var = n > 0 ? var / (double)n : 0.0;
		for (size_t j = 0; j < n; j++)
			u[j] = var > 0 ? (u[j] - mean) / sqrt(var) : 0.0;
		break;
	default:
		RANDES_ASSERT(!"unknown es_shaping");
	}
	return n_bad;
}

/* --- the update ------------------------------------------------------- */

/* Σ x_i² in index order. */
static double sumsq(const double *x, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += x[i] * x[i];
	return s;
}

/* ‖x‖₂ in index order. */
static double norm2(const double *x, size_t n)
{
	return sqrt(sumsq(x, n));
}

/* Σ a_i² and Σ b_i², each in index order: two independent chains of
 * dependent adds, which the CPU runs side by side (one chain of D adds
 * is as fast as a sum in a fixed order can go). */
static void sumsq2(const double *a, const double *b, size_t n, double *sa,
		   double *sb)
{
	double s = 0, t = 0;

	for (size_t i = 0; i < n; i++) {
		s += a[i] * a[i];
		t += b[i] * b[i];
	}
	*sa = s;
	*sb = t;
}

/* Pairs waiting to be summed into grad (and sgrad) in one pass. */
struct pair_group {
	const float *eps[ES_VEC_GROUP];
	double w[ES_VEC_GROUP], s[ES_VEC_GROUP];
	size_t n;
	int rebuilt; /* one of them is in es->noise */
};

/* Adds the group's pairs, in their order, and empties it. */
static void group_flush(struct es *es, struct pair_group *gr)
{
	if (gr->n == 0)
		return;
	es_vec_accumulate(es->grad, gr->eps, gr->w, gr->n, es->dim);
	if (es->strategy == ES_STRATEGY_PGPE)
		es_vec_accumulate_sq(es->sgrad, gr->eps, gr->s, gr->n, es->dim);
	gr->n = 0;
	gr->rebuilt = 0;
}

/* Turns the gradient es->grad into the centre step es->step (ascent) and
 * advances the optimizer state.  lr = lr(g); gn = ‖es->grad‖₂ (norm2),
 * read by ClipUp only (0 for the others).  The loops are es_vec's, whose
 * contracts are the scalar formulas in the comments. */
static void optimizer_step(struct es *es, const struct config_es *c,
			   double lr, double gn)
{
	const double *g = es->grad;
	double *step = es->step;
	size_t D = es->dim;

	switch (es->optimizer) {
	case ES_OPTIMIZER_ADAM: {
		/* m = β₁m + (1 − β₁)g; v = β₂v + (1 − β₂)g²;
		 * step = lr·(m/bc1)/(√(v/bc2) + eps) */
		double t = (double)(es->steps + 1);
		struct es_vec_adam a = {
			.beta1 = c->beta1,
			.beta2 = c->beta2,
			.bc1 = 1.0 - pow(c->beta1, t),
			.bc2 = 1.0 - pow(c->beta2, t),
			.lr = lr,
			.eps = c->eps,
		};
		es_vec_adam(es->adam_m, es->adam_v, step, g, &a, D);
		break;
	}
	case ES_OPTIMIZER_SGD:
		/* PyTorch-style momentum: buf = μ·buf + g; step = lr·buf. */
		es_vec_momentum(es->velocity, step, g, c->momentum, lr, D);
		break;
	case ES_OPTIMIZER_CLIPUP: {
		/* Toklu et al. 2020: v <- m·v + lr·g/‖g‖; clip ‖v‖ to
		 * max_speed; θ += v.  max_speed <= 0 means 2·lr. */
		double vn;
		double vmax = c->max_speed > 0 ? c->max_speed : 2.0 * lr;
		es_vec_clipup(es->velocity, g, c->momentum, lr, gn, D);
		vn = norm2(es->velocity, D);
		if (vn > vmax)
			es_vec_scale(es->velocity, vmax / vn, D);
		memcpy(step, es->velocity, D * sizeof(double));
		break;
	}
	default:
		RANDES_ASSERT(!"unknown es_optimizer");
	}
	es->steps++;
}

/*
 * The update proper, for a generation with at least one finite fitness:
 * shaping, the noise sums in pair order, the centre gradient, the
 * optimizer step with weight decay, and pgpe's σ update.  Fills the
 * gradient and update norms of *st (whose n_nonfinite is already set).
 */
static void es_step(struct es *es, const struct config_es *c, uint32_t g,
		    double lr, double sigma_g, const float *fitness,
		    es_noise_fn_t noise, const void *ctx, struct es_stats *st)
{
	size_t D = es->dim, P = es->population, pairs = P / 2;
	int pgpe = es->strategy == ES_STRATEGY_PGPE;
	double b = 0, gsum, dsum, gn_step, wsq = 0;
	struct pair_group gr = {.n = 0};
	size_t n_bad, theta_bad;

	/* Shaped fitness u; pgpe's baseline b is the mean of all P. */
	n_bad = es_shape(c->shaping, fitness, P, es->shaped, es->order);
	RANDES_ASSERT(n_bad == st->n_nonfinite);
	if (pgpe) {
		for (size_t j = 0; j < P; j++)
			b += es->shaped[j];
		b /= (double)P;
	}

	/* grad_i = Σ_k w_k ε_k,i with w_k = u⁺_k − u⁻_k; for pgpe also
	 * sgrad_i = Σ_k s_k (ε_k,i² − 1) with s_k = ½(u⁺_k + u⁻_k) − b.
	 * k ascending: the fixed order that makes the sum rank-independent.
	 * A pair with w_k = s_k = 0 adds only zeros and is skipped (the sum
	 * starts at +0, so this is bitwise the same).
	 * Up to ES_VEC_GROUP pairs are added in one pass over i (each grad_i
	 * still takes them one after the other, in k order), so grad is read
	 * and written once per group, not once per pair.  The noise source's
	 * rows stay valid during the call (es.h); a rebuilt row lives in
	 * es->noise, so a second one closes the group first. */
	memset(es->grad, 0, D * sizeof(double));
	if (pgpe)
		memset(es->sgrad, 0, D * sizeof(double));
	for (size_t k = 0; k < pairs; k++) {
		double w = es->shaped[2 * k] - es->shaped[2 * k + 1];
		double s = pgpe ? 0.5 * (es->shaped[2 * k] +
					 es->shaped[2 * k + 1]) - b
				: 0.0;
		const float *eps = noise ? noise(ctx, k) : NULL;

		wsq += w * w;
		if (w == 0 && s == 0)
			continue;
		/* full, or this pair needs es->noise and the group holds it */
		if (gr.n == ES_VEC_GROUP || (!eps && gr.rebuilt))
			group_flush(es, &gr);
		if (!eps) {
			rng_normal_fill(es->run_seed, RNG_PURPOSE_NOISE, g,
					(uint32_t)k, es->noise, D);
			eps = es->noise;
			gr.rebuilt = 1;
		}
		gr.eps[gr.n] = eps;
		gr.w[gr.n] = w;
		gr.s[gr.n] = s;
		gr.n++;
	}
	group_flush(es, &gr);

	/* The centre gradient (ascent direction). */
	if (pgpe) {
		/* mean_k ½ w_k σ_i ε_k,i = σ_i Σ_k w_k ε_k,i / P; given the
		 * w_k, coordinate i's noise variance is σ_i² Σ_k w_k² / P² */
		double ss = 0;

		es_vec_pgpe_grad(es->grad, es->sigma, (double)P, D);
		for (size_t i = 0; i < D; i++)
			ss += (double)es->sigma[i] * es->sigma[i];
		st->grad_noise_norm = sqrt(wsq * ss) / (double)P;
	} else {
		/* 1/(Pσ) Σ_k w_k ε_k; given the w_k, each coordinate's noise
		 * has variance Σ_k w_k² / (Pσ)² (ε_k,i independent, unit) */
		es_vec_div(es->grad, (double)P * sigma_g, D);
		st->grad_noise_norm = sqrt((double)D * wsq) /
				      ((double)P * sigma_g);
	}

	/* es.grad_clip scales the estimate down to that global norm, as
	 * gradient descent clips its gradient (stats keep the norm before).
	 * ClipUp needs ‖grad‖ before its step, of the gradient it steps on;
	 * otherwise the norm is summed below beside the update norm (the
	 * same sum). */
	gn_step = 0;
	if (c->grad_clip > 0 || es->optimizer == ES_OPTIMIZER_CLIPUP) {
		gn_step = st->grad_norm = norm2(es->grad, D);
		if (c->grad_clip > 0 && gn_step > c->grad_clip) {
			es_vec_scale(es->grad, c->grad_clip / gn_step, D);
			if (es->optimizer == ES_OPTIMIZER_CLIPUP)
				gn_step = norm2(es->grad, D);
		}
	}
	optimizer_step(es, c, lr, gn_step);

	/* θ ← θ + step − lr·wd·θ (decoupled weight decay, from the old θ);
	 * es->step becomes the move d = step − lr·wd·θ.  Finite fitness and
	 * finite noise give a finite step unless the optimizer diverged
	 * (e.g. SGD with raw fitness of 1e300): stop loudly rather than
	 * continue with inf. */
	theta_bad = es_vec_theta(es->theta, es->step, lr * c->weight_decay, D);
	RANDES_ASSERT(theta_bad == 0);
	if (c->grad_clip > 0 || es->optimizer == ES_OPTIMIZER_CLIPUP) {
		dsum = sumsq(es->step, D);
	} else {
		sumsq2(es->grad, es->step, D, &gsum, &dsum);
		st->grad_norm = sqrt(gsum);
	}
	st->update_norm = sqrt(dsum);

	/* pgpe σ: Δ_i = mean_k s_k((σ_i ε)² − σ_i²)/σ_i = σ_i Σ_k s_k(ε² − 1)
	 * / (P/2); σ ← clip(σ + η_σ Δ, (1−c)σ, (1+c)σ), then ≥ sigma_min.
	 * Plus sign: fitness is maximised, so σ grows when members far from
	 * the centre (ε² > 1) score above the baseline. */
	if (pgpe) {
		for (size_t i = 0; i < D; i++) {
			double s = es->sigma[i];
			double delta = s * es->sgrad[i] / (double)pairs;
			double ns = s + c->sigma_lr * delta;
			double lo = (1.0 - c->sigma_max_change) * s;
			double hi = (1.0 + c->sigma_max_change) * s;
			ns = ns < lo ? lo : ns > hi ? hi : ns;
			if (ns < c->sigma_min)
				ns = c->sigma_min;
			RANDES_ASSERT(isfinite(ns));
			es->sigma[i] = (float)ns;
		}
	}
}

int es_update(struct es *es, const struct config *cfg, uint32_t g,
	      const float *fitness, struct es_stats *stats)
{
	return es_update_noise(es, cfg, g, fitness, NULL, NULL, stats);
}

int es_update_noise(struct es *es, const struct config *cfg, uint32_t g,
		    const float *fitness, es_noise_fn_t noise,
		    const void *ctx, struct es_stats *stats)
{
	const struct config_es *c = &cfg->es;
	size_t D = es->dim, P = es->population;
	int pgpe = es->strategy == ES_STRATEGY_PGPE;
	double lr = sched_at(&c->lr, g);
	double sigma_g = pgpe ? 0.0 : sched_at(&c->sigma, g);
	double fmin = NAN, fmax = NAN, fsum = 0;
	size_t n_good = 0;
	struct es_stats st;

	RANDES_ASSERT(c->strategy == es->strategy);
	RANDES_ASSERT(c->optimizer == es->optimizer);
	RANDES_ASSERT(c->population == P);
	RANDES_ASSERT(isfinite(lr) && lr >= 0);
	RANDES_ASSERT(pgpe || (isfinite(sigma_g) && sigma_g > 0));

	memset(&st, 0, sizeof(st));
	st.lr = lr;
	for (size_t j = 0; j < P; j++) {
		double f = fitness[j];
		if (!isfinite(f))
			continue;
		if (n_good == 0 || f < fmin)
			fmin = f;
		if (n_good == 0 || f > fmax)
			fmax = f;
		fsum += f;
		n_good++;
	}
	st.fit_min = fmin;
	st.fit_max = fmax;
	st.fit_mean = n_good ? fsum / (double)n_good : NAN;
	st.n_nonfinite = P - n_good;
	if (n_good == 0)
		st.skipped = 1; /* nothing to learn from: state untouched */
	else
		es_step(es, c, g, lr, sigma_g, fitness, noise, ctx, &st);
	if (es->avg) {
		/* after every generation, skipped or not: the average's
		 * horizon is counted in generations */
		double b = c->theta_ema;
		for (size_t i = 0; i < D; i++)
			es->avg[i] = b * es->avg[i] + (1 - b) * es->theta[i];
	}

	if (pgpe) {
		double ssum = 0, smin = es->sigma[0], smax = es->sigma[0];
		for (size_t i = 0; i < D; i++) {
			double s = es->sigma[i];
			ssum += s;
			if (s < smin)
				smin = s;
			if (s > smax)
				smax = s;
		}
		st.sigma_mean = ssum / (double)D;
		st.sigma_min = smin;
		st.sigma_max = smax;
	} else {
		st.sigma_mean = st.sigma_min = st.sigma_max = sigma_g;
	}
	if (stats)
		*stats = st;
	return st.skipped;
}

/* --- checkpoint sections ---------------------------------------------------- */

int es_state_export(const struct es *es, struct checkpoint *ck, char *err)
{
	/* The arrays are borrowed; meta lives on this stack frame, so it is
	 * copied (copy = 1). */
	uint64_t meta[6] = {ES_STATE_VERSION, (uint64_t)es->strategy,
			    (uint64_t)es->optimizer, (uint64_t)es->dim,
			    (uint64_t)es->population, es->steps};
	size_t D = es->dim;
	int rc;

	ck->dim = D;
	rc = checkpoint_section_add(ck, "es.meta", CHECKPOINT_TYPE_U64, meta,
				    6, 1, err);
	if (rc < 0)
		goto fail;
	rc = checkpoint_section_add(ck, "es.theta", CHECKPOINT_TYPE_F32,
				    es->theta, D, 0, err);
	if (rc < 0)
		goto fail;
	if (es->sigma) {
		rc = checkpoint_section_add(ck, "es.sigma", CHECKPOINT_TYPE_F32,
					    es->sigma, D, 0, err);
		if (rc < 0)
			goto fail;
	}
	if (es->adam_m) {
		rc = checkpoint_section_add(ck, "es.adam_m",
					    CHECKPOINT_TYPE_F64, es->adam_m, D,
					    0, err);
		if (rc < 0)
			goto fail;
		rc = checkpoint_section_add(ck, "es.adam_v",
					    CHECKPOINT_TYPE_F64, es->adam_v, D,
					    0, err);
		if (rc < 0)
			goto fail;
	}
	if (es->velocity) {
		rc = checkpoint_section_add(ck, "es.velocity",
					    CHECKPOINT_TYPE_F64, es->velocity,
					    D, 0, err);
		if (rc < 0)
			goto fail;
	}
	if (es->avg) {
		rc = checkpoint_section_add(ck, ES_SECTION_AVG,
					    CHECKPOINT_TYPE_F64, es->avg, D, 0,
					    err);
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	return rc;
}

/* 1 if all n floats are finite (and > 0 when positive is set). */
static int floats_ok(const float *x, size_t n, int positive)
{
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]) || (positive && !(x[i] > 0)))
			return 0;
	}
	return 1;
}

static int doubles_ok(const double *x, size_t n, int nonneg)
{
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]) || (nonneg && x[i] < 0))
			return 0;
	}
	return 1;
}

int es_state_import(struct es *es, const struct checkpoint *ck, char *err)
{
	const struct checkpoint_section *meta, *theta, *sigma = NULL;
	const struct checkpoint_section *am = NULL, *av = NULL, *vel = NULL;
	const struct checkpoint_section *avg = NULL;
	const uint64_t *mv;
	size_t D = es->dim;
	int rc = 0;

	meta = checkpoint_section_expect(ck, "es.meta", CHECKPOINT_TYPE_U64, 6,
					 &rc, err);
	if (!meta)
		goto fail;
	mv = meta->data;
	if (mv[0] != ES_STATE_VERSION || mv[1] != (uint64_t)es->strategy ||
	    mv[2] != (uint64_t)es->optimizer || mv[3] != (uint64_t)D ||
	    mv[4] != (uint64_t)es->population) {
		rc = randes_errf(err, RANDES_EDATA,
				 "checkpoint ES state (version %llu, "
				 "strategy %llu, optimizer %llu, D %llu, P "
				 "%llu) does not match this run (version %u, "
				 "strategy %d, optimizer %d, D %zu, P %zu)",
				 (unsigned long long)mv[0],
				 (unsigned long long)mv[1],
				 (unsigned long long)mv[2],
				 (unsigned long long)mv[3],
				 (unsigned long long)mv[4], ES_STATE_VERSION,
				 (int)es->strategy, (int)es->optimizer, D,
				 es->population);
		goto fail;
	}
	theta = checkpoint_section_expect(ck, "es.theta", CHECKPOINT_TYPE_F32,
					  D, &rc, err);
	if (!theta)
		goto fail;
	if (!floats_ok(theta->data, D, 0)) {
		rc = randes_errf(err, RANDES_EDATA,
				 "checkpoint section 'es.theta' holds a "
				 "non-finite value");
		goto fail;
	}
	if (es->sigma) {
		sigma = checkpoint_section_expect(ck, "es.sigma",
						  CHECKPOINT_TYPE_F32, D, &rc,
						  err);
		if (!sigma)
			goto fail;
		if (!floats_ok(sigma->data, D, 1)) {
			rc = randes_errf(err, RANDES_EDATA,
					 "checkpoint section 'es.sigma' holds "
					 "a value that is not finite and "
					 "positive");
			goto fail;
		}
	}
	if (es->adam_m) {
		am = checkpoint_section_expect(ck, "es.adam_m",
					       CHECKPOINT_TYPE_F64, D, &rc,
					       err);
		if (!am)
			goto fail;
		av = checkpoint_section_expect(ck, "es.adam_v",
					       CHECKPOINT_TYPE_F64, D, &rc,
					       err);
		if (!av)
			goto fail;
		if (!doubles_ok(am->data, D, 0) || !doubles_ok(av->data, D, 1)) {
			rc = randes_errf(err, RANDES_EDATA,
					 "checkpoint Adam moments hold a "
					 "non-finite (or negative second) "
					 "value");
			goto fail;
		}
	}
	if (es->velocity) {
		vel = checkpoint_section_expect(ck, "es.velocity",
						CHECKPOINT_TYPE_F64, D, &rc,
						err);
		if (!vel)
			goto fail;
		if (!doubles_ok(vel->data, D, 0)) {
			rc = randes_errf(err, RANDES_EDATA,
					 "checkpoint section 'es.velocity' "
					 "holds a non-finite value");
			goto fail;
		}
	}
	if (es->avg) {
		/* optional: a run that turns es.theta_ema on at a resume
		 * starts its average at the checkpoint's θ */
		avg = checkpoint_section_find(ck, ES_SECTION_AVG);
		if (avg && (avg->type != CHECKPOINT_TYPE_F64 ||
			    avg->count != D || !doubles_ok(avg->data, D, 0))) {
			rc = randes_errf(err, RANDES_EDATA,
					 "checkpoint section '%s' is not %zu "
					 "finite f64 values",
					 ES_SECTION_AVG, D);
			goto fail;
		}
	}
	/* Everything checked: now, and only now, change the state. */
	memcpy(es->theta, theta->data, D * sizeof(float));
	if (es->avg) {
		for (size_t i = 0; i < D; i++)
			es->avg[i] = avg ? ((const double *)avg->data)[i]
					 : (double)es->theta[i];
	}
	if (sigma)
		memcpy(es->sigma, sigma->data, D * sizeof(float));
	if (am) {
		memcpy(es->adam_m, am->data, D * sizeof(double));
		memcpy(es->adam_v, av->data, D * sizeof(double));
	}
	if (vel)
		memcpy(es->velocity, vel->data, D * sizeof(double));
	es->steps = mv[5];
	return 0;
fail:
	return rc;
}
