/*
 * test-es: the ES numerics against independent expectations — fitness
 * shaping on hand-made vectors and a naive O(n²) ranker, the openai_es and
 * pgpe gradients against a naive recomputation from the contract's noise,
 * Adam / SGD / ClipUp / weight decay against hand-computed steps, the pgpe
 * σ-update sign, clip and floor, the whole update on every instruction
 * set against a plain scalar update, members, non-finite fitness, state
 * export/import continuation, and the optimizer validation of issue 5
 * point 6 (sphere D = 100, rastrigin D = 10 against random search).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/blas.h"
#include "common/checkpoint.h"
#include "common/err.h"
#include "common/es.h"
#include "common/rng.h"

/* A config with every es field set here, so the tests do not depend on
 * config defaults.  Constant schedules. */
static void cfg_make(struct config *c, enum es_strategy strategy,
		     enum es_optimizer optimizer, uint32_t population,
		     double sigma, double lr)
{
	memset(c, 0, sizeof(*c));
	c->run.seed = 42;
	c->es.strategy = strategy;
	c->es.optimizer = optimizer;
	c->es.population = population;
	c->es.shaping = ES_SHAPING_CENTERED_RANKS;
	c->es.sigma.value = sigma;
	c->es.lr.value = lr;
	c->es.beta1 = 0.9;
	c->es.beta2 = 0.999;
	c->es.eps = 1e-8;
	c->es.momentum = 0.0;
	c->es.max_speed = 0.0;
	c->es.weight_decay = 0.0;
	c->es.sigma_lr = 0.1;
	c->es.sigma_max_change = 0.2;
	c->es.sigma_min = 0.0;
}

/* A two-point cosine schedule from v0 at g = 0 to v1 at g = g1. */
static void sched_cosine(struct sched *s, double v0, double v1, uint32_t g1)
{
	memset(s, 0, sizeof(*s));
	s->npoints = 2;
	s->interp = SCHED_INTERP_COSINE;
	s->gen[0] = 0;
	s->gen[1] = g1;
	s->val[0] = v0;
	s->val[1] = v1;
}

static void es_setup(struct es *es, const struct config *c, const float *th,
		     size_t dim)
{
	char err[RANDES_ERR_LEN];
	int rc = es_init(es, c, th, dim, err);

	ck_assert_msg(rc == 0, "es_init: %s", err);
}

/* ε_k of generation g under the contract, independently of es.c. */
static void noise_of(uint64_t seed, uint32_t g, uint32_t k, float *out,
		     size_t dim)
{
	rng_normal_fill(seed, RNG_PURPOSE_NOISE, g, k, out, dim);
}

static int close_rel(double a, double b, double tol)
{
	double s = fabs(b) > 1e-30 ? fabs(b) : 1e-30;

	return fabs(a - b) / s <= tol;
}

/* --- shaping ------------------------------------------------------------ */

static const struct {
	size_t n;
	float f[8];
	double u[8];
	size_t bad;
} rank_cases[] = {
	/* distinct values: ranks {2, 0, 1, 3} over n - 1 = 3 */
	{4, {3, 1, 2, 5}, {1.0 / 6, -0.5, -1.0 / 6, 0.5}, 0},
	/* ties broken by index: the 1s at indices 0, 1, 3 get ranks 1, 2, 3 */
	{4, {1, 1, 0, 1}, {-1.0 / 6, 1.0 / 6, -0.5, 0.5}, 0},
	/* NaN and ±inf rank below every finite value, in index order */
	{6,
	 {NAN, 2, -INFINITY, INFINITY, 1, NAN},
	 {-0.5, 0.5, -0.3, -0.1, 0.3, 0.1},
	 4},
	/* all equal: pure index order */
	{3, {7, 7, 7}, {-0.5, 0.0, 0.5}, 0},
	/* -0 and +0 tie */
	{2, {0.0f, -0.0f}, {-0.5, 0.5}, 0},
	/* one score */
	{1, {5}, {0.0}, 0},
};

START_TEST(es_shape_ranks_hand)
{
	double u[8];
	size_t order[16];
	size_t n = rank_cases[_i].n;
	size_t bad = es_shape(ES_SHAPING_CENTERED_RANKS, rank_cases[_i].f, n,
			      u, order);

	ck_assert_uint_eq(bad, rank_cases[_i].bad);
	for (size_t j = 0; j < n; j++)
		ck_assert_msg(fabs(u[j] - rank_cases[_i].u[j]) < 1e-15,
			      "case %d score %zu: u = %.17g, expected %.17g",
			      _i, j, u[j], rank_cases[_i].u[j]);
}
END_TEST

/* Naive ranker: rank_j = number of scores that come before j in the
 * order (non-finite first, then value, then index). */
static int naive_before(const float *f, size_t i, size_t j)
{
	int fi = isfinite(f[i]), fj = isfinite(f[j]);

	if (fi != fj)
		return !fi;
	if (fi && f[i] != f[j])
		return f[i] < f[j];
	return i < j;
}

START_TEST(es_shape_ranks_naive)
{
	enum { N = 257 };
	float f[N];
	double u[N];
	size_t order[2 * N];
	struct rng_stream s;
	size_t n_bad = 0;

	rng_stream_init(&s, 1000 + (uint64_t)_i, RNG_PURPOSE_TEST, 0, 0);
	/* Few distinct values (many ties) and a sprinkle of NaN/inf. */
	for (size_t j = 0; j < N; j++) {
		uint32_t r = rng_below(&s, 20);
		f[j] = r == 0 ? NAN : r == 1 ? INFINITY
				: r == 2 ? -INFINITY
					 : (float)rng_below(&s, 9) - 4.0f;
		n_bad += !isfinite(f[j]);
	}
	ck_assert_uint_eq(es_shape(ES_SHAPING_CENTERED_RANKS, f, N, u, order),
			  n_bad);
	for (size_t j = 0; j < N; j++) {
		size_t rank = 0;
		for (size_t i = 0; i < N; i++)
			rank += (size_t)(i != j && naive_before(f, i, j));
		ck_assert_msg(fabs(u[j] - ((double)rank / (N - 1) - 0.5)) <
				      1e-15,
			      "score %zu", j);
	}
}
END_TEST

START_TEST(es_shape_normalized_none)
{
	const float f[4] = {1, 2, 3, NAN};
	const float same[3] = {2, 2, 2};
	const float bad[2] = {NAN, INFINITY};
	double u[4];
	size_t order[8];
	/* NaN -> worst finite (1): {1, 2, 3, 1}, mean 1.75, var 0.6875 */
	double sd = sqrt(0.6875);

	ck_assert_uint_eq(es_shape(ES_SHAPING_NORMALIZED, f, 4, u, order), 1);
	ck_assert(fabs(u[0] - (-0.75 / sd)) < 1e-15);
	ck_assert(fabs(u[1] - (0.25 / sd)) < 1e-15);
	ck_assert(fabs(u[2] - (1.25 / sd)) < 1e-15);
	ck_assert(fabs(u[3] - (-0.75 / sd)) < 1e-15);
	ck_assert_uint_eq(es_shape(ES_SHAPING_NONE, f, 4, u, order), 1);
	ck_assert(u[0] == 1 && u[1] == 2 && u[2] == 3 && u[3] == 1);
	/* std 0: all zero */
	es_shape(ES_SHAPING_NORMALIZED, same, 3, u, order);
	ck_assert(u[0] == 0 && u[1] == 0 && u[2] == 0);
	/* nothing finite: zeros, 2 counted */
	ck_assert_uint_eq(es_shape(ES_SHAPING_NONE, bad, 2, u, order), 2);
	ck_assert(u[0] == 0 && u[1] == 0);
	ck_assert_uint_eq(es_shape(ES_SHAPING_NORMALIZED, bad, 2, u, order),
			  2);
	ck_assert(u[0] == 0 && u[1] == 0);
}
END_TEST

/* --- members -------------------------------------------------------------- */

START_TEST(es_member_antithetic)
{
	enum { D = 37 };
	struct config c;
	struct es es;
	struct es_view v;
	float zero[D], th[D], eps[D], noise[D], a[D], b[D], p[D], m[D];

	memset(zero, 0, sizeof(zero));
	for (size_t i = 0; i < D; i++)
		th[i] = 0.25f * (float)i - 3.0f;
	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_ADAM, 8, 0.05, 0.01);

	/* Around θ = 0 the pair is exactly ±σε. */
	es_setup(&es, &c, zero, D);
	es_view_get(&es, &c, 3, &v);
	ck_assert(v.sigma == 0.05 && v.sigma_vec == NULL && v.generation == 3);
	es_member(&v, 5, +1, noise, a);
	es_member(&v, 5, -1, noise, b);
	noise_of(42, 3, 5, eps, D);
	for (size_t i = 0; i < D; i++) {
		ck_assert(b[i] == -a[i]);
		ck_assert(a[i] == (float)(0.05 * (double)eps[i]));
	}
	es_free(&es);

	/* Around θ: reproducible, pair == singles, (a + b)/2 ≈ θ. */
	es_setup(&es, &c, th, D);
	es_view_get(&es, &c, 3, &v);
	es_member(&v, 5, +1, noise, a);
	es_member(&v, 5, -1, noise, b);
	es_member_pair(&v, 5, noise, p, m);
	ck_assert(memcmp(a, p, sizeof(a)) == 0);
	ck_assert(memcmp(b, m, sizeof(b)) == 0);
	es_member(&v, 5, +1, noise, p);
	ck_assert(memcmp(a, p, sizeof(a)) == 0);
	for (size_t i = 0; i < D; i++) {
		ck_assert(fabs(0.5 * ((double)a[i] + b[i]) - th[i]) < 1e-6);
		ck_assert(fabs((double)a[i] - th[i] - 0.05 * eps[i]) < 1e-6);
	}
	/* another pair, another generation: different noise */
	es_member(&v, 6, +1, noise, p);
	ck_assert(memcmp(a, p, sizeof(a)) != 0);
	es_view_get(&es, &c, 4, &v);
	es_member(&v, 5, +1, noise, p);
	ck_assert(memcmp(a, p, sizeof(a)) != 0);
	es_free(&es);

	/* pgpe uses its σ vector. */
	cfg_make(&c, ES_STRATEGY_PGPE, ES_OPTIMIZER_ADAM, 8, 0.03, 0.01);
	es_setup(&es, &c, zero, D);
	for (size_t i = 0; i < D; i++)
		es.sigma[i] = 0.01f * (float)(i + 1);
	es_view_get(&es, &c, 3, &v);
	ck_assert(v.sigma_vec == es.sigma && v.center == es.theta);
	es_member(&v, 5, +1, noise, a);
	for (size_t i = 0; i < D; i++)
		ck_assert(a[i] == (float)((double)es.sigma[i] * eps[i]));
	es_free(&es);
}
END_TEST

/* --- gradients ------------------------------------------------------------ */

/* openai_es, P = 4, D = 3, fitness {4, 1, 2, 3}: ranks {3, 0, 1, 2},
 * u = {1/2, -1/2, -1/6, 1/6}; w_0 = 1, w_1 = -1/3;
 * g = (ε_0 − ε_1/3) / (4σ).  SGD with lr 1 and no momentum from θ = 0
 * makes θ_1 = g. */
START_TEST(es_grad_openai_naive)
{
	struct config c;
	struct es es;
	struct es_stats st;
	const float fit[4] = {4, 1, 2, 3};
	float zero[3] = {0, 0, 0}, e0[3], e1[3];
	double sigma = 0.1, gn = 0;

	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_SGD, 4, sigma, 1.0);
	es_setup(&es, &c, zero, 3);
	ck_assert_int_eq(es_update(&es, &c, 9, fit, &st), 0);
	noise_of(42, 9, 0, e0, 3);
	noise_of(42, 9, 1, e1, 3);
	for (size_t i = 0; i < 3; i++) {
		double g = ((double)e0[i] - (double)e1[i] / 3.0) / (4 * sigma);
		gn += g * g;
		ck_assert_msg(close_rel(es.theta[i], g, 1e-6),
			      "i %zu: %.9g vs %.9g", i, es.theta[i], g);
	}
	ck_assert(close_rel(st.grad_norm, sqrt(gn), 1e-12));
	ck_assert(close_rel(st.update_norm, sqrt(gn), 1e-12));
	/* the noise alone, given w = (1, -1/3) (the centered ranks above):
	 * √(D Σ_k w_k²) / (Pσ) = √(3 · 10/9) / (4σ) */
	ck_assert_msg(close_rel(st.grad_noise_norm,
				sqrt(30.0 / 9.0) / (4 * sigma), 1e-12),
		      "%.17g", st.grad_noise_norm);
	ck_assert(st.fit_min == 1 && st.fit_max == 4 && st.fit_mean == 2.5);
	ck_assert(st.n_nonfinite == 0 && st.skipped == 0 && st.lr == 1.0);
	ck_assert(st.sigma_mean == sigma);
	ck_assert_uint_eq(es.steps, 1);
	es_free(&es);
}
END_TEST

/* es_update_noise's noise source: pairs k with k % 3 != 2 from the views'
 * members (es_member_pair, as rank 0's worker keeps them), others NULL;
 * the test changes one value of pair 1's at the end. */
struct kept_noise {
	float *eps;   /* (pairs, D) */
	size_t dim;
};

static const float *kept_noise_fn(const void *ctx, size_t k)
{
	const struct kept_noise *kn = ctx;

	return k % 3 == 2 ? NULL : kn->eps + k * kn->dim;
}

/*
 * es_update_noise with the members' own noise for some pairs = es_update
 * bit for bit (θ, σ and the optimizer state), for openai_es and pgpe over
 * a few generations; a changed noise changes θ (the source is used).
 */
START_TEST(es_update_kept_noise)
{
	const size_t D = 37, P = 12;
	const int pgpe = _i == 1;
	struct config c;
	struct es a, b;
	float th[37], fit[12], *plus = malloc(D * sizeof(float));
	struct kept_noise kn = {malloc(P / 2 * D * sizeof(float)), D};
	struct rng_stream st;

	ck_assert(plus && kn.eps);
	cfg_make(&c, pgpe ? ES_STRATEGY_PGPE : ES_STRATEGY_OPENAI_ES,
		 ES_OPTIMIZER_ADAM, (uint32_t)P, 0.05, 0.01);
	rng_stream_init(&st, 5, RNG_PURPOSE_TEST, 0, 1);
	for (size_t i = 0; i < D; i++)
		th[i] = rng_normal(&st);
	es_setup(&a, &c, th, D);
	es_setup(&b, &c, th, D);
	for (uint32_t g = 0; g < 4; g++) {
		struct es_view v;
		struct es_stats sa, sb;

		es_view_get(&b, &c, g, &v);
		for (size_t k = 0; k < P / 2; k++)
			es_member_pair(&v, (uint32_t)k, kn.eps + k * D, plus,
				       NULL);
		for (size_t j = 0; j < P; j++)
			fit[j] = rng_normal(&st);
		ck_assert_int_eq(es_update(&a, &c, g, fit, &sa), 0);
		ck_assert_int_eq(es_update_noise(&b, &c, g, fit, kept_noise_fn,
						 &kn, &sb), 0);
		ck_assert(!memcmp(a.theta, b.theta, D * sizeof(float)));
		ck_assert(sa.grad_norm == sb.grad_norm &&
			  sa.update_norm == sb.update_norm);
		if (pgpe)
			ck_assert(!memcmp(a.sigma, b.sigma, D * sizeof(float)));
		else
			ck_assert(!memcmp(a.adam_m, b.adam_m, D * sizeof(double)) &&
				  !memcmp(a.adam_v, b.adam_v, D * sizeof(double)));
	}
	/* the source is read: pair 1's noise changed moves θ */
	{
		struct es_view v;

		es_view_get(&b, &c, 4, &v);
		for (size_t k = 0; k < P / 2; k++)
			es_member_pair(&v, (uint32_t)k, kn.eps + k * D, plus,
				       NULL);
		kn.eps[1 * D + 3] += 1.0f;
		for (size_t j = 0; j < P; j++)
			fit[j] = (float)j;
		es_update(&a, &c, 4, fit, NULL);
		es_update_noise(&b, &c, 4, fit, kept_noise_fn, &kn, NULL);
		ck_assert(memcmp(a.theta, b.theta, D * sizeof(float)) != 0);
	}
	es_free(&a);
	es_free(&b);
	free(plus);
	free(kn.eps);
}
END_TEST

/* --- the update on every instruction set ------------------------------- */

/*
 * The update written the plain way, one parameter and one pair at a time
 * (es.c's loops as they were before es_vec), for es_update_isas: the same
 * formulas in the same order, so its bits are the contract's.  Shaping
 * is es_shape's (tested above).
 */
struct ref_es {
	size_t dim, P;
	uint64_t steps;
	float *theta, *sigma;
	double *m, *v, *vel, *grad, *sgrad, *u;
	size_t *order;
	float *eps;
};

static void ref_es_init(struct ref_es *r, const float *th, size_t D,
			size_t P, double sigma0)
{
	memset(r, 0, sizeof(*r));
	r->dim = D;
	r->P = P;
	r->theta = malloc(D * sizeof(float));
	r->sigma = malloc(D * sizeof(float));
	r->m = calloc(D, sizeof(double));
	r->v = calloc(D, sizeof(double));
	r->vel = calloc(D, sizeof(double));
	r->grad = calloc(D, sizeof(double));
	r->sgrad = calloc(D, sizeof(double));
	r->u = calloc(P, sizeof(double));
	r->order = calloc(2 * P, sizeof(size_t));
	r->eps = malloc(D * sizeof(float));
	ck_assert(r->theta && r->sigma && r->m && r->v && r->vel && r->grad &&
		  r->sgrad && r->u && r->order && r->eps);
	memcpy(r->theta, th, D * sizeof(float));
	for (size_t i = 0; i < D; i++)
		r->sigma[i] = (float)sigma0;
}

static void ref_es_free(struct ref_es *r)
{
	free(r->theta);
	free(r->sigma);
	free(r->m);
	free(r->v);
	free(r->vel);
	free(r->grad);
	free(r->sgrad);
	free(r->u);
	free(r->order);
	free(r->eps);
}

static double ref_norm2(const double *x, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += x[i] * x[i];
	return sqrt(s);
}

/* One generation g with every fitness finite; the norms into *gn, *un. */
static void ref_es_update(struct ref_es *r, const struct config *cfg,
			  uint32_t g, const float *fit, double *gn_out,
			  double *un_out)
{
	const struct config_es *c = &cfg->es;
	const int pgpe = c->strategy == ES_STRATEGY_PGPE;
	const size_t D = r->dim, P = r->P;
	const double lr = c->lr.value, sg = c->sigma.value;
	double b = 0, dsum = 0;

	es_shape(c->shaping, fit, P, r->u, r->order);
	for (size_t j = 0; pgpe && j < P; j++)
		b += r->u[j];
	b /= (double)P;
	for (size_t i = 0; i < D; i++)
		r->grad[i] = r->sgrad[i] = 0;
	for (size_t k = 0; k < P / 2; k++) {
		double w = r->u[2 * k] - r->u[2 * k + 1];
		double s = pgpe ? 0.5 * (r->u[2 * k] + r->u[2 * k + 1]) - b
				: 0.0;

		if (w == 0 && s == 0)
			continue;
		noise_of(cfg->run.seed, g, (uint32_t)k, r->eps, D);
		for (size_t i = 0; i < D; i++) {
			double e = r->eps[i];
			r->grad[i] += w * e;
			r->sgrad[i] += s * (e * e - 1.0);
		}
	}
	for (size_t i = 0; i < D; i++)
		r->grad[i] = pgpe ? (double)r->sigma[i] * r->grad[i] / (double)P
				  : r->grad[i] / ((double)P * sg);
	*gn_out = ref_norm2(r->grad, D);
	for (size_t i = 0; i < D; i++) {
		double gi = r->grad[i], st, t, d;

		if (c->optimizer == ES_OPTIMIZER_ADAM) {
			double tt = (double)(r->steps + 1);
			double bc1 = 1.0 - pow(c->beta1, tt);
			double bc2 = 1.0 - pow(c->beta2, tt);
			r->m[i] = c->beta1 * r->m[i] + (1.0 - c->beta1) * gi;
			r->v[i] = c->beta2 * r->v[i] + (1.0 - c->beta2) * gi * gi;
			st = lr * (r->m[i] / bc1) / (sqrt(r->v[i] / bc2) + c->eps);
		} else if (c->optimizer == ES_OPTIMIZER_SGD) {
			r->vel[i] = c->momentum * r->vel[i] + gi;
			st = lr * r->vel[i];
		} else {
			r->vel[i] = c->momentum * r->vel[i] +
				    (*gn_out > 0 ? lr * (gi / *gn_out) : 0.0);
			continue; /* clipped below */
		}
		t = r->theta[i];
		d = st - lr * c->weight_decay * t;
		r->theta[i] = (float)(t + d);
		dsum += d * d;
	}
	if (c->optimizer == ES_OPTIMIZER_CLIPUP) {
		double vn = ref_norm2(r->vel, D);
		double vmax = c->max_speed > 0 ? c->max_speed : 2.0 * lr;

		for (size_t i = 0; vn > vmax && i < D; i++)
			r->vel[i] *= vmax / vn;
		for (size_t i = 0; i < D; i++) {
			double t = r->theta[i];
			double d = r->vel[i] - lr * c->weight_decay * t;
			r->theta[i] = (float)(t + d);
			dsum += d * d;
		}
	}
	*un_out = sqrt(dsum);
	r->steps++;
	for (size_t i = 0; pgpe && i < D; i++) {
		double s = r->sigma[i];
		double ns = s + c->sigma_lr * (s * r->sgrad[i] / (double)(P / 2));
		double lo = (1.0 - c->sigma_max_change) * s;
		double hi = (1.0 + c->sigma_max_change) * s;

		ns = ns < lo ? lo : ns > hi ? hi : ns;
		if (ns < c->sigma_min)
			ns = c->sigma_min;
		r->sigma[i] = (float)ns;
	}
}

/*
 * es_update_noise (es_vec's kernels, pairs grouped, some pairs' noise
 * from the caller and some rebuilt) on every instruction set this CPU
 * has, against ref_es_update: θ, σ, the optimizer state and both norms
 * bit for bit over 12 generations, for each optimizer and strategy.
 * D = 2,291 (the colouring model: full vectors and a tail of 3) and 13
 * (one vector and a tail); P = 40, so 20 pairs make groups of 8, 8 and 4
 * minus the skipped; tied fitness makes pairs with w_k = 0, weight decay
 * and momentum are on, ClipUp clips.
 */
START_TEST(es_update_isas)
{
	static const enum es_optimizer opts[3] = {
		ES_OPTIMIZER_ADAM, ES_OPTIMIZER_SGD, ES_OPTIMIZER_CLIPUP};
	const enum es_optimizer opt = opts[_i % 3];
	const int pgpe = (_i / 3) % 2;
	const size_t D = _i < 6 ? 2291 : 13, P = 40;
	enum blas_isa saved = blas_isa_get();
	struct config c;
	float *th = malloc(D * sizeof(float)), fit[40];
	float *plus = malloc(D * sizeof(float));
	struct kept_noise kn = {malloc(P / 2 * D * sizeof(float)), D};
	struct rng_stream st;
	int nisa = 0;

	ck_assert(th && plus && kn.eps);
	cfg_make(&c, pgpe ? ES_STRATEGY_PGPE : ES_STRATEGY_OPENAI_ES, opt,
		 (uint32_t)P, 0.05, 0.02);
	c.es.momentum = 0.7;
	c.es.weight_decay = 0.3;
	c.es.max_speed = 0.05;
	rng_stream_init(&st, 9, RNG_PURPOSE_TEST, (uint32_t)_i, 0);
	for (size_t i = 0; i < D; i++)
		th[i] = rng_normal(&st);
	for (int isa = BLAS_ISA_GENERIC; isa <= BLAS_ISA_AVX512; isa++) {
		struct ref_es r;
		struct es es;

		if (blas_isa_set((enum blas_isa)isa) != 0)
			continue;
		nisa++;
		es_setup(&es, &c, th, D);
		ref_es_init(&r, th, D, P, 0.05);
		rng_stream_init(&st, 9, RNG_PURPOSE_TEST, (uint32_t)_i, 1);
		for (uint32_t g = 0; g < 12; g++) {
			struct es_view v;
			struct es_stats s;
			double gn, un;

			es_view_get(&es, &c, g, &v);
			for (size_t k = 0; k < P / 2; k++)
				es_member_pair(&v, (uint32_t)k, kn.eps + k * D,
					       plus, NULL);
			for (size_t j = 0; j < P; j++)
				fit[j] = j % 7 == 1 ? fit[j - 1]
						    : rng_normal(&st);
			ck_assert_int_eq(es_update_noise(&es, &c, g, fit,
							 kept_noise_fn, &kn,
							 &s),
					 0);
			ref_es_update(&r, &c, g, fit, &gn, &un);
			ck_assert_msg(!memcmp(es.theta, r.theta,
					      D * sizeof(float)),
				      "%s, optimizer %d, pgpe %d, D %zu, g %u: "
				      "θ differs from the scalar update",
				      blas_isa_name((enum blas_isa)isa),
				      (int)opt, pgpe, D, g);
			ck_assert_msg(s.grad_norm == gn && s.update_norm == un,
				      "%s, g %u: norms %.17g %.17g, scalar "
				      "%.17g %.17g",
				      blas_isa_name((enum blas_isa)isa), g,
				      s.grad_norm, s.update_norm, gn, un);
			if (pgpe)
				ck_assert(!memcmp(es.sigma, r.sigma,
						  D * sizeof(float)));
			if (opt == ES_OPTIMIZER_ADAM)
				ck_assert(!memcmp(es.adam_m, r.m,
						  D * sizeof(double)) &&
					  !memcmp(es.adam_v, r.v,
						  D * sizeof(double)));
			else
				ck_assert(!memcmp(es.velocity, r.vel,
						  D * sizeof(double)));
		}
		es_free(&es);
		ref_es_free(&r);
	}
	ck_assert_int_ge(nisa, 1);
	blas_isa_set(saved);
	free(th);
	free(plus);
	free(kn.eps);
}
END_TEST

/* pgpe, P = 6, D = 3, raw fitness: centre gradient
 * mean_k ½(f⁺−f⁻)σ⊙ε_k and σ gradient mean_k s_k((σε)² − σ²)/σ with
 * b = mean f, written the naive way. */
START_TEST(es_grad_pgpe_naive)
{
	struct config c;
	struct es es;
	const float fit[6] = {0.5f, -1.0f, 2.0f, 2.5f, -0.25f, 1.0f};
	float mu0[3] = {0.1f, -0.2f, 0.3f}, eps[3][3];
	double sig0 = 0.05, b = 0, gmu[3] = {0}, gsig[3] = {0}, wsq = 0;
	struct es_stats st;

	cfg_make(&c, ES_STRATEGY_PGPE, ES_OPTIMIZER_SGD, 6, sig0, 1.0);
	c.es.shaping = ES_SHAPING_NONE;
	c.es.sigma_lr = 0.01;
	c.es.sigma_max_change = 1.0; /* clip at [0, 2σ]: not reached */
	es_setup(&es, &c, mu0, 3);
	ck_assert_int_eq(es_update(&es, &c, 2, fit, &st), 0);
	for (int k = 0; k < 3; k++)
		noise_of(42, 2, (uint32_t)k, eps[k], 3);
	/* gμ_i = σ Σ_k w_k ε_k,i / 6: its noise has variance σ² Σ_k w_k² / 36
	 * on each of the 3 coordinates */
	for (int k = 0; k < 3; k++) {
		double w = (double)fit[2 * k] - fit[2 * k + 1];

		wsq += w * w;
	}
	ck_assert_msg(close_rel(st.grad_noise_norm,
				sqrt(3 * sig0 * sig0 * wsq) / 6, 1e-6),
		      "%.17g", st.grad_noise_norm);
	for (int j = 0; j < 6; j++)
		b += fit[j] / 6.0;
	for (int k = 0; k < 3; k++) {
		double fp = fit[2 * k], fm = fit[2 * k + 1];
		double s = 0.5 * (fp + fm) - b;
		for (int i = 0; i < 3; i++) {
			double se = sig0 * eps[k][i];
			gmu[i] += 0.5 * (fp - fm) * se / 3.0;
			gsig[i] += s * (se * se - sig0 * sig0) / sig0 / 3.0;
		}
	}
	for (int i = 0; i < 3; i++) {
		double mu1 = (double)mu0[i] + gmu[i];
		double s1 = sig0 + 0.01 * gsig[i];
		ck_assert_msg(fabs(es.theta[i] - mu1) < 1e-7, "mu %d", i);
		ck_assert_msg(close_rel(es.sigma[i], s1, 1e-6),
			      "sigma %d: %.9g vs %.9g", i, es.sigma[i], s1);
	}
	es_free(&es);
}
END_TEST

/* --- optimizers ----------------------------------------------------------- */

/* P = 2 with raw fitness {1, 0} gives g = ε_0/(2σ); {0, 1} gives −g.
 * Adam (β1 0.9, β2 0.999) from m = v = 0, by hand:
 *   step 1 (g):  m = 0.1g, v = 0.001g²; m̂ = g, v̂ = g²  -> Δ = lr·g/|g|
 *   step 2 (−g): m = 0.09g − 0.1g = −0.01g; m̂ = −0.01g/0.19 = −g/19;
 *                v = 0.000999g² + 0.001g² = 0.001999g²; v̂ = g²
 *                -> Δ = −(lr/19)·g/|g|            (eps = 1e-8 negligible) */
START_TEST(es_adam_hand)
{
	enum { D = 6 };
	struct config c;
	struct es es;
	const float up[2] = {1, 0}, down[2] = {0, 1};
	float zero[D] = {0}, e0[D];
	double lr = 0.01;

	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_ADAM, 2, 0.02, lr);
	c.es.shaping = ES_SHAPING_NONE;
	es_setup(&es, &c, zero, D);
	noise_of(42, 0, 0, e0, D);
	es_update(&es, &c, 0, up, NULL);
	for (size_t i = 0; i < D; i++) {
		double sgn = e0[i] > 0 ? 1 : -1;
		ck_assert_msg(fabs(es.theta[i] - sgn * lr) < 1e-9, "step 1");
		ck_assert(close_rel(es.adam_m[i], 0.1 * e0[i] / 0.04, 1e-12));
	}
	es_update(&es, &c, 0, down, NULL);
	for (size_t i = 0; i < D; i++) {
		double sgn = e0[i] > 0 ? 1 : -1;
		double want = sgn * lr - sgn * lr / 19.0;
		ck_assert_msg(fabs(es.theta[i] - want) < 1e-8,
			      "step 2, i %zu: %.9g vs %.9g", i, es.theta[i],
			      want);
	}
	ck_assert_uint_eq(es.steps, 2);
	es_free(&es);
}
END_TEST

/* SGD momentum 0.5 under a constant gradient: steps lr·g, then lr·1.5g. */
START_TEST(es_sgd_momentum)
{
	enum { D = 4 };
	struct config c;
	struct es es;
	const float up[2] = {1, 0};
	float zero[D] = {0}, e0[D];
	double lr = 0.001, sigma = 0.1;

	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_SGD, 2, sigma, lr);
	c.es.shaping = ES_SHAPING_NONE;
	c.es.momentum = 0.5;
	es_setup(&es, &c, zero, D);
	noise_of(42, 0, 0, e0, D);
	es_update(&es, &c, 0, up, NULL);
	es_update(&es, &c, 0, up, NULL);
	for (size_t i = 0; i < D; i++) {
		double g = e0[i] / (2 * sigma);
		ck_assert(close_rel(es.theta[i], lr * g * 2.5, 1e-6));
	}
	es_free(&es);
}
END_TEST

/* ClipUp, momentum 0.5, lr 0.1, max_speed 0.12, ĝ = ε_0/‖ε_0‖:
 *   1 (g):  v = 0.1ĝ                      θ = 0.1ĝ
 *   2 (g):  v = 0.05ĝ + 0.1ĝ = 0.15ĝ -> clipped to 0.12ĝ; θ = 0.22ĝ
 *   3 (−g): v = 0.06ĝ − 0.1ĝ = −0.04ĝ     θ = 0.18ĝ */
START_TEST(es_clipup_hand)
{
	enum { D = 5 };
	struct config c;
	struct es es;
	struct es_stats st;
	const float up[2] = {1, 0}, down[2] = {0, 1};
	float zero[D] = {0}, e0[D];
	double n = 0;

	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_CLIPUP, 2, 0.02, 0.1);
	c.es.shaping = ES_SHAPING_NONE;
	c.es.momentum = 0.5;
	c.es.max_speed = 0.12;
	es_setup(&es, &c, zero, D);
	noise_of(42, 0, 0, e0, D);
	for (size_t i = 0; i < D; i++)
		n += (double)e0[i] * e0[i];
	n = sqrt(n);
	es_update(&es, &c, 0, up, &st);
	ck_assert(fabs(st.update_norm - 0.1) < 1e-12);
	for (size_t i = 0; i < D; i++)
		ck_assert(fabs(es.theta[i] - 0.1 * e0[i] / n) < 1e-7);
	es_update(&es, &c, 0, up, &st);
	ck_assert_msg(fabs(st.update_norm - 0.12) < 1e-12, "clipped: %.17g",
		      st.update_norm);
	for (size_t i = 0; i < D; i++)
		ck_assert(fabs(es.theta[i] - 0.22 * e0[i] / n) < 1e-7);
	es_update(&es, &c, 0, down, &st);
	ck_assert(fabs(st.update_norm - 0.04) < 1e-12);
	for (size_t i = 0; i < D; i++)
		ck_assert(fabs(es.theta[i] - 0.18 * e0[i] / n) < 1e-7);
	es_free(&es);
}
END_TEST

/* es.grad_clip, with SGD at lr 1 (θ = the step = the clipped g) and
 * g = ε_0/(2σ) (P = 2, shaping none):
 *   clip 2: θ = 2 ε_0/‖ε_0‖, the stats keep ‖g‖ = ‖ε_0‖/(2σ), the update 2;
 *   clip above ‖g‖: θ is the unclipped run's, bit for bit;
 *   ClipUp: its step is the same with and without the clip (it steps on
 *   g/‖g‖), up to rounding. */
START_TEST(es_grad_clip_hand)
{
	enum { D = 6 };
	struct config c;
	struct es es, ref;
	struct es_stats st;
	const float up[2] = {1, 0};
	float zero[D] = {0}, e0[D];
	double sigma = 0.02, n = 0;

	noise_of(42, 0, 0, e0, D);
	for (size_t i = 0; i < D; i++)
		n += (double)e0[i] * e0[i];
	n = sqrt(n);

	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_SGD, 2, sigma, 1.0);
	c.es.shaping = ES_SHAPING_NONE;
	c.es.grad_clip = 2.0;
	es_setup(&es, &c, zero, D);
	ck_assert_int_eq(es_update(&es, &c, 0, up, &st), 0);
	for (size_t i = 0; i < D; i++)
		ck_assert_msg(fabs(es.theta[i] - 2.0 * e0[i] / n) < 1e-6,
			      "i %zu: %.9g vs %.9g", i, es.theta[i],
			      2.0 * e0[i] / n);
	ck_assert_msg(close_rel(st.grad_norm, n / (2 * sigma), 1e-12),
		      "grad_norm %.17g, want %.17g", st.grad_norm,
		      n / (2 * sigma));
	ck_assert(close_rel(st.update_norm, 2.0, 1e-12));
	es_free(&es);

	/* a clip the gradient does not reach changes nothing */
	c.es.grad_clip = 1.001 * n / (2 * sigma);
	es_setup(&es, &c, zero, D);
	c.es.grad_clip = 0;
	es_setup(&ref, &c, zero, D);
	c.es.grad_clip = 1.001 * n / (2 * sigma);
	es_update(&es, &c, 0, up, NULL);
	c.es.grad_clip = 0;
	es_update(&ref, &c, 0, up, NULL);
	ck_assert(memcmp(es.theta, ref.theta, sizeof(zero)) == 0);
	ck_assert(fabs(es.theta[0] - e0[0] / (2 * sigma)) < 1e-4);
	es_free(&es);
	es_free(&ref);

	/* ClipUp with and without a clip far below ‖g‖ */
	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_CLIPUP, 2, sigma, 0.1);
	c.es.shaping = ES_SHAPING_NONE;
	c.es.max_speed = 1.0;
	c.es.grad_clip = 1e-3;
	es_setup(&es, &c, zero, D);
	es_update(&es, &c, 0, up, &st);
	ck_assert(close_rel(st.grad_norm, n / (2 * sigma), 1e-12));
	for (size_t i = 0; i < D; i++)
		ck_assert(fabs(es.theta[i] - 0.1 * e0[i] / n) < 1e-7);
	es_free(&es);
}
END_TEST

/* Decoupled weight decay with a zero gradient (raw fitness all equal):
 * θ ← θ − lr·wd·θ = 0.95θ for lr 0.1, wd 0.5, for every optimizer. */
START_TEST(es_weight_decay)
{
	enum { D = 8 };
	static const enum es_optimizer opts[3] = {
		ES_OPTIMIZER_ADAM, ES_OPTIMIZER_SGD, ES_OPTIMIZER_CLIPUP};
	struct config c;
	struct es es;
	const float flat[4] = {3, 3, 3, 3};
	float th[D];

	for (size_t i = 0; i < D; i++)
		th[i] = (float)i - 3.5f;
	cfg_make(&c, (enum es_strategy)(_i / 3), opts[_i % 3], 4, 0.05, 0.1);
	c.es.shaping = ES_SHAPING_NONE;
	c.es.weight_decay = 0.5;
	c.es.momentum = 0.9;
	c.es.max_speed = 1.0;
	es_setup(&es, &c, th, D);
	es_update(&es, &c, 0, flat, NULL);
	for (size_t i = 0; i < D; i++)
		ck_assert_msg(close_rel(es.theta[i], 0.95 * th[i], 1.2e-7),
			      "case %d, i %zu: %.9g", _i, i, es.theta[i]);
	es_free(&es);
}
END_TEST

/* --- pgpe σ ---------------------------------------------------------- */

/* D = 1, P = 8: member fitness ±(x − μ)² (same within a pair).
 * With `grow`, larger perturbations score higher, so σ must grow;
 * otherwise shrink.  s_k is then increasing (decreasing) in ε_k² with
 * Σ s_k = 0, so Σ s_k (ε_k² − 1) has a definite sign (Chebyshev). */
static void pgpe_sigma_run(int grow, double sigma_lr, double sigma_min,
			   float *sigma_out, double *naive_out)
{
	struct config c;
	struct es es;
	struct es_view v;
	float mu = 0.5f, noise[1], x[1], fit[8], eps[4];
	double s0 = 0.1, u[8], b = 0, delta = 0;
	size_t order[16];

	cfg_make(&c, ES_STRATEGY_PGPE, ES_OPTIMIZER_ADAM, 8, s0, 0.01);
	c.es.sigma_lr = sigma_lr;
	c.es.sigma_min = sigma_min;
	es_setup(&es, &c, &mu, 1);
	es_view_get(&es, &c, 0, &v);
	for (uint32_t k = 0; k < 4; k++) {
		for (int s = 0; s < 2; s++) {
			es_member(&v, k, s ? -1 : 1, noise, x);
			double d = (double)x[0] - mu;
			fit[2 * k + s] = (float)(grow ? d * d : -d * d);
		}
		noise_of(42, 0, k, &eps[k], 1);
	}
	/* naive σ gradient from the shaped fitness */
	es_shape(ES_SHAPING_CENTERED_RANKS, fit, 8, u, order);
	for (int j = 0; j < 8; j++)
		b += u[j] / 8;
	for (int k = 0; k < 4; k++) {
		double sk = 0.5 * (u[2 * k] + u[2 * k + 1]) - b;
		double se = s0 * eps[k];
		delta += sk * (se * se - s0 * s0) / s0 / 4.0;
	}
	*naive_out = s0 + sigma_lr * delta;
	es_update(&es, &c, 0, fit, NULL);
	*sigma_out = es.sigma[0];
	es_free(&es);
}

START_TEST(es_pgpe_sigma_sign)
{
	float s;
	double naive;

	/* small η_σ: unclipped, equal to the naive formula */
	pgpe_sigma_run(1, 0.01, 0.0, &s, &naive);
	ck_assert_msg(s > 0.1f, "large perturbations better: σ %.9g", s);
	ck_assert(close_rel(s, naive, 1e-6));
	pgpe_sigma_run(0, 0.01, 0.0, &s, &naive);
	ck_assert_msg(s < 0.1f, "large perturbations worse: σ %.9g", s);
	ck_assert(close_rel(s, naive, 1e-6));
	/* huge η_σ: the ±20 % clip */
	pgpe_sigma_run(1, 1e4, 0.0, &s, &naive);
	ck_assert_msg(s == (float)((1.0 + 0.2) * (double)0.1f), "clip up: %.9g",
		      s);
	pgpe_sigma_run(0, 1e4, 0.0, &s, &naive);
	ck_assert_msg(s == (float)((1.0 - 0.2) * (double)0.1f),
		      "clip down: %.9g", s);
	/* the floor wins over the clip */
	pgpe_sigma_run(0, 1e4, 0.09, &s, &naive);
	ck_assert_msg(s == 0.09f, "floor: %.9g", s);
}
END_TEST

/* D = 20: fitness ±‖x − μ‖²: the mean σ moves the right way. */
START_TEST(es_pgpe_sigma_mean)
{
	enum { D = 20, P = 64 };
	struct config c;
	struct es es;
	struct es_view v;
	struct es_stats st;
	float mu[D] = {0}, noise[D], x[D], fit[P];

	for (int grow = 0; grow < 2; grow++) {
		cfg_make(&c, ES_STRATEGY_PGPE, ES_OPTIMIZER_ADAM, P, 0.1,
			 0.01);
		c.es.sigma_lr = 0.05;
		es_setup(&es, &c, mu, D);
		es_view_get(&es, &c, 0, &v);
		for (uint32_t k = 0; k < P / 2; k++) {
			for (int s = 0; s < 2; s++) {
				double d2 = 0;
				es_member(&v, k, s ? -1 : 1, noise, x);
				for (size_t i = 0; i < D; i++)
					d2 += (double)x[i] * x[i];
				fit[2 * k + s] = (float)(grow ? d2 : -d2);
			}
		}
		es_update(&es, &c, 0, fit, &st);
		if (grow)
			ck_assert_msg(st.sigma_mean > 0.1, "%.9g",
				      st.sigma_mean);
		else
			ck_assert_msg(st.sigma_mean < 0.1, "%.9g",
				      st.sigma_mean);
		ck_assert(st.sigma_min >= 0.08 - 1e-9 &&
			  st.sigma_max <= 0.12 + 1e-9);
		es_free(&es);
	}
}
END_TEST

/* --- non-finite fitness -------------------------------------------------- */

START_TEST(es_nonfinite_fitness)
{
	enum { D = 16 };
	static const enum es_optimizer opts[3] = {
		ES_OPTIMIZER_ADAM, ES_OPTIMIZER_SGD, ES_OPTIMIZER_CLIPUP};
	static const enum es_shaping shapes[3] = {ES_SHAPING_CENTERED_RANKS,
						  ES_SHAPING_NORMALIZED,
						  ES_SHAPING_NONE};
	const float fit[8] = {NAN, 1, INFINITY, 2, -INFINITY, 3, 4, 5};
	const float none[8] = {NAN, NAN, INFINITY, -INFINITY,
			       NAN, NAN, NAN, NAN};
	struct config c;
	struct es es;
	struct es_stats st;
	float th[D], before[D];

	for (size_t i = 0; i < D; i++)
		th[i] = 0.1f * (float)i;
	cfg_make(&c, (enum es_strategy)(_i / 9), opts[(_i / 3) % 3], 8, 0.05,
		 0.01);
	c.es.shaping = shapes[_i % 3];
	c.es.momentum = 0.9;
	c.es.max_speed = 0.1;
	c.es.weight_decay = 0.01;
	es_setup(&es, &c, th, D);
	for (uint32_t g = 0; g < 5; g++) {
		ck_assert_int_eq(es_update(&es, &c, g, fit, &st), 0);
		ck_assert_uint_eq(st.n_nonfinite, 3);
		ck_assert(st.fit_min == 1 && st.fit_max == 5 &&
			  st.fit_mean == 3);
		for (size_t i = 0; i < D; i++) {
			ck_assert(isfinite(es.theta[i]));
			if (es.sigma)
				ck_assert(isfinite(es.sigma[i]) &&
					  es.sigma[i] > 0);
		}
	}
	/* Nothing finite: skipped, state bitwise unchanged. */
	memcpy(before, es.theta, sizeof(before));
	ck_assert_int_eq(es_update(&es, &c, 5, none, &st), 1);
	ck_assert(st.skipped == 1 && st.n_nonfinite == 8 && isnan(st.fit_mean));
	ck_assert(memcmp(before, es.theta, sizeof(before)) == 0);
	ck_assert_uint_eq(es.steps, 5);
	es_free(&es);
}
END_TEST

/* --- state export / import ------------------------------------------------ */

/* Sphere fitness for all members of generation g of es. */
static void sphere_fitness(const struct es *es, const struct config *c,
			   uint32_t g, float *fit, float *noise, float *x)
{
	struct es_view v;

	es_view_get(es, c, g, &v);
	for (uint32_t k = 0; k < es->population / 2; k++) {
		for (int s = 0; s < 2; s++) {
			double f = 0;
			es_member(&v, k, s ? -1 : 1, noise, x);
			for (size_t i = 0; i < es->dim; i++)
				f += (double)x[i] * x[i];
			fit[2 * k + s] = (float)-f;
		}
	}
}

START_TEST(es_state_roundtrip)
{
	enum { D = 11, P = 10 };
	static const enum es_optimizer opts[3] = {
		ES_OPTIMIZER_ADAM, ES_OPTIMIZER_SGD, ES_OPTIMIZER_CLIPUP};
	struct config c;
	struct es a, b;
	struct checkpoint ck, back;
	unsigned char *buf;
	size_t len;
	char err[RANDES_ERR_LEN];
	float th[D], other[D], noise[D], x[D], fit[P];

	for (size_t i = 0; i < D; i++) {
		th[i] = 0.5f - 0.1f * (float)i;
		other[i] = 9.0f;
	}
	cfg_make(&c, (enum es_strategy)(_i / 3), opts[_i % 3], P, 0.05, 0.02);
	c.es.momentum = 0.9;
	c.es.max_speed = 0.05;
	c.es.weight_decay = 0.001;
	es_setup(&a, &c, th, D);
	for (uint32_t g = 0; g < 3; g++) {
		sphere_fitness(&a, &c, g, fit, noise, x);
		es_update(&a, &c, g, fit, NULL);
	}
	checkpoint_init(&ck);
	ck_assert_int_eq(es_state_export(&a, &ck, err), 0);
	ck_assert_uint_eq(ck.dim, D);
	ck_assert_int_eq(checkpoint_encode(&ck, &buf, &len, err), 0);
	ck_assert_int_eq(checkpoint_decode(buf, len, "mem", NULL, &back, err),
			 0);
	free(buf);
	es_setup(&b, &c, other, D);
	ck_assert_msg(es_state_import(&b, &back, err) == 0, "%s", err);
	ck_assert_uint_eq(b.steps, 3);
	for (uint32_t g = 3; g < 7; g++) {
		sphere_fitness(&a, &c, g, fit, noise, x);
		es_update(&a, &c, g, fit, NULL);
		sphere_fitness(&b, &c, g, fit, noise, x);
		es_update(&b, &c, g, fit, NULL);
	}
	ck_assert(memcmp(a.theta, b.theta, D * sizeof(float)) == 0);
	if (a.sigma)
		ck_assert(memcmp(a.sigma, b.sigma, D * sizeof(float)) == 0);
	if (a.adam_m) {
		ck_assert(memcmp(a.adam_m, b.adam_m, D * sizeof(double)) == 0);
		ck_assert(memcmp(a.adam_v, b.adam_v, D * sizeof(double)) == 0);
	}
	if (a.velocity)
		ck_assert(memcmp(a.velocity, b.velocity, D * sizeof(double)) ==
			  0);
	ck_assert_uint_eq(a.steps, b.steps);
	checkpoint_free(&ck);
	checkpoint_free(&back);
	es_free(&a);
	es_free(&b);
}
END_TEST

/*
 * es.theta_ema: the model is avg <- b avg + (1 - b) θ after every update,
 * from θ0, recomputed here from the θ the updates leave; it does not touch
 * θ; it survives a checkpoint; a checkpoint without it starts it at θ.
 */
START_TEST(es_theta_average)
{
	enum { D = 7, P = 8, G = 6 };
	const double b = 0.75;
	struct config c, plain;
	struct es a, ref, back;
	struct checkpoint ck, ck2;
	char err[RANDES_ERR_LEN];
	float th[D], noise[D], x[D], fit[P], model[D];
	double want[D];

	for (size_t i = 0; i < D; i++) {
		th[i] = 0.3f * (float)i - 1.0f;
		want[i] = th[i];
	}
	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_ADAM, P, 0.05, 0.05);
	plain = c;
	c.es.theta_ema = b;
	es_setup(&a, &c, th, D);
	es_setup(&ref, &plain, th, D);
	es_model(&a, model);
	ck_assert(memcmp(model, th, sizeof(th)) == 0);
	for (uint32_t g = 0; g < G; g++) {
		sphere_fitness(&a, &c, g, fit, noise, x);
		es_update(&a, &c, g, fit, NULL);
		sphere_fitness(&ref, &plain, g, fit, noise, x);
		es_update(&ref, &plain, g, fit, NULL);
		ck_assert(memcmp(a.theta, ref.theta, sizeof(th)) == 0);
		for (size_t i = 0; i < D; i++)
			want[i] = b * want[i] + (1 - b) * a.theta[i];
	}
	es_model(&a, model);
	for (size_t i = 0; i < D; i++) {
		ck_assert_float_eq(model[i], (float)want[i]);
		ck_assert(model[i] != a.theta[i]);
	}
	es_model(&ref, model);
	ck_assert(memcmp(model, ref.theta, sizeof(th)) == 0);

	/* through a checkpoint */
	checkpoint_init(&ck);
	ck_assert_int_eq(es_state_export(&a, &ck, err), 0);
	ck_assert_ptr_nonnull(checkpoint_section_find(&ck, ES_SECTION_AVG));
	es_setup(&back, &c, th, D);
	ck_assert_msg(es_state_import(&back, &ck, err) == 0, "%s", err);
	ck_assert(memcmp(back.avg, a.avg, D * sizeof(double)) == 0);
	es_free(&back);
	/* a checkpoint of the plain run: the average starts at its θ */
	checkpoint_init(&ck2);
	ck_assert_int_eq(es_state_export(&ref, &ck2, err), 0);
	ck_assert_ptr_null(checkpoint_section_find(&ck2, ES_SECTION_AVG));
	es_setup(&back, &c, th, D);
	ck_assert_msg(es_state_import(&back, &ck2, err) == 0, "%s", err);
	es_model(&back, model);
	ck_assert(memcmp(model, ref.theta, sizeof(th)) == 0);
	es_free(&back);
	/* and the plain run ignores an average in its checkpoint */
	es_setup(&back, &plain, th, D);
	ck_assert_msg(es_state_import(&back, &ck, err) == 0, "%s", err);
	ck_assert_ptr_null(back.avg);
	es_free(&back);
	checkpoint_free(&ck);
	checkpoint_free(&ck2);
	es_free(&a);
	es_free(&ref);
}
END_TEST

START_TEST(es_state_import_refused)
{
	enum { D = 5, P = 4 };
	struct config c;
	struct es a, b;
	struct checkpoint ck;
	char err[RANDES_ERR_LEN];
	float th[D] = {1, 2, 3, 4, 5}, other[D + 1] = {0};

	cfg_make(&c, ES_STRATEGY_PGPE, ES_OPTIMIZER_ADAM, P, 0.05, 0.02);
	es_setup(&a, &c, th, D);
	checkpoint_init(&ck);
	ck_assert_int_eq(es_state_export(&a, &ck, err), 0);

	/* other D */
	es_setup(&b, &c, other, D + 1);
	ck_assert_int_eq(es_state_import(&b, &ck, err), RANDES_EDATA);
	ck_assert_msg(strstr(err, "D 5") != NULL, "%s", err);
	es_free(&b);

	/* other optimizer */
	c.es.optimizer = ES_OPTIMIZER_CLIPUP;
	es_setup(&b, &c, other, D);
	ck_assert_int_eq(es_state_import(&b, &ck, err), RANDES_EDATA);
	es_free(&b);
	c.es.optimizer = ES_OPTIMIZER_ADAM;

	/* a NaN σ: refused, and nothing copied (not even θ) */
	a.sigma[2] = NAN;
	es_setup(&b, &c, other, D);
	ck_assert_int_eq(es_state_import(&b, &ck, err), RANDES_EDATA);
	ck_assert_msg(strstr(err, "es.sigma") != NULL, "%s", err);
	for (size_t i = 0; i < D; i++)
		ck_assert(b.theta[i] == 0.0f);
	ck_assert_uint_eq(b.steps, 0);
	es_free(&b);
	checkpoint_free(&ck);

	/* a missing section */
	checkpoint_init(&ck);
	a.sigma[2] = 0.05f;
	ck_assert_int_eq(es_state_export(&a, &ck, err), 0);
	ck.n_sections = 2; /* meta, theta: σ and moments gone */
	es_setup(&b, &c, other, D);
	ck_assert_int_eq(es_state_import(&b, &ck, err), RANDES_EDATA);
	ck_assert_msg(strstr(err, "missing") != NULL, "%s", err);
	es_free(&b);
	checkpoint_free(&ck);
	es_free(&a);
}
END_TEST

START_TEST(es_init_refused)
{
	struct config c;
	struct es es;
	char err[RANDES_ERR_LEN];
	float th[2] = {0, NAN};

	cfg_make(&c, ES_STRATEGY_OPENAI_ES, ES_OPTIMIZER_ADAM, 7, 0.05, 0.01);
	ck_assert_int_eq(es_init(&es, &c, th, 1, err), RANDES_ECONFIG);
	ck_assert_msg(strstr(err, "es.population") != NULL, "%s", err);
	c.es.population = 8;
	c.es.sigma.value = 0;
	ck_assert_int_eq(es_init(&es, &c, th, 1, err), RANDES_ECONFIG);
	c.es.sigma.value = 0.05;
	ck_assert_int_eq(es_init(&es, &c, th, 0, err), RANDES_ECONFIG);
	ck_assert_int_eq(es_init(&es, &c, th, 2, err), RANDES_EDATA);
	ck_assert(es.theta == NULL);
	es_free(&es); /* safe after a failed init */
}
END_TEST

/* --- optimizer validation (issue 5, point 6) --------------------------- */

static double f_sphere(const float *x, size_t d)
{
	double s = 0;

	for (size_t i = 0; i < d; i++)
		s += (double)x[i] * x[i];
	return s;
}

static double f_rastrigin(const float *x, size_t d)
{
	double s = 10.0 * (double)d;

	for (size_t i = 0; i < d; i++) {
		double v = x[i];
		s += v * v - 10.0 * cos(2.0 * M_PI * v);
	}
	return s;
}

/* Runs G generations minimising fn (fitness = −fn) from θ_i = start and
 * returns fn at the final centre. */
static double es_minimise(const struct config *c, double (*fn)(const float *,
							       size_t),
			  size_t D, float start, uint32_t G)
{
	struct es es;
	struct es_view v;
	size_t P = c->es.population;
	float *th = malloc(D * sizeof(float)), *noise = malloc(D * sizeof(float));
	float *x = malloc(D * sizeof(float)), *fit = malloc(P * sizeof(float));
	double out;

	ck_assert(th && noise && x && fit);
	for (size_t i = 0; i < D; i++)
		th[i] = start;
	es_setup(&es, c, th, D);
	for (uint32_t g = 0; g < G; g++) {
		es_view_get(&es, c, g, &v);
		for (uint32_t k = 0; k < P / 2; k++) {
			es_member(&v, k, +1, noise, x);
			fit[2 * k] = (float)-fn(x, D);
			es_member(&v, k, -1, noise, x);
			fit[2 * k + 1] = (float)-fn(x, D);
		}
		es_update(&es, c, g, fit, NULL);
	}
	out = fn(es.theta, D);
	es_free(&es);
	free(th);
	free(noise);
	free(x);
	free(fit);
	return out;
}

/* The documented validation settings (docs/es.md, "Validation"). */
static void cfg_validation(struct config *c, enum es_strategy s, int rastrigin,
			   uint32_t G)
{
	cfg_make(c, s, ES_OPTIMIZER_ADAM, 100, 0.1, 0.05);
	c->run.seed = 7;
	if (!rastrigin) {
		sched_cosine(&c->es.lr, 0.05, 0.002, G);
		if (s == ES_STRATEGY_OPENAI_ES)
			sched_cosine(&c->es.sigma, 0.1, 0.01, G);
		else
			c->es.sigma.value = 0.1;
	} else {
		sched_cosine(&c->es.lr, 0.1, 0.005, G);
		if (s == ES_STRATEGY_OPENAI_ES)
			sched_cosine(&c->es.sigma, 1.0, 0.05, G);
		else
			c->es.sigma.value = 0.5;
	}
	c->es.sigma_lr = 0.2;
	c->es.sigma_max_change = 0.2;
	c->es.sigma_min = 1e-5;
}

/* Sphere, D = 100, θ_0 = (1, ..., 1), f_0 = 100: at least 1000× lower
 * after 300 generations of P = 100 (30,000 evaluations). */
START_TEST(es_validate_sphere)
{
	enum { D = 100, G = 300 };
	struct config c;
	double f0 = 100.0, f;

	cfg_validation(&c, (enum es_strategy)_i, 0, G);
	f = es_minimise(&c, f_sphere, D, 1.0f, G);
	fprintf(stderr, "sphere D=%d %s: f %.3g -> %.3g (%.3g x) in %d "
		"generations of P=%u\n",
		D, _i ? "pgpe" : "openai_es", f0, f, f0 / f, G,
		c.es.population);
	ck_assert_msg(f * 1000.0 <= f0, "%s: only %.3g x",
		      _i ? "pgpe" : "openai_es", f0 / f);
}
END_TEST

/* Rastrigin, D = 10, θ_0 = (3, ..., 3): the ES centre after 300
 * generations of P = 100 against the best of the same 30,000 evaluations
 * drawn uniformly from [-5.12, 5.12]^10 (seed fixed). */
START_TEST(es_validate_rastrigin)
{
	enum { D = 10, G = 300 };
	struct config c;
	struct rng_stream s;
	float x[D];
	double f_es, f_rs = INFINITY;
	size_t evals;

	cfg_validation(&c, (enum es_strategy)_i, 1, G);
	f_es = es_minimise(&c, f_rastrigin, D, 3.0f, G);
	evals = (size_t)G * c.es.population;
	rng_stream_init(&s, 7, RNG_PURPOSE_TEST, 0, 0);
	for (size_t e = 0; e < evals; e++) {
		for (size_t i = 0; i < D; i++)
			x[i] = (float)(-5.12 + 10.24 * rng_uniform_double(&s));
		double f = f_rastrigin(x, D);
		if (f < f_rs)
			f_rs = f;
	}
	fprintf(stderr, "rastrigin D=%d %s: centre %.4g vs random search "
		"best %.4g over %zu evaluations\n",
		D, _i ? "pgpe" : "openai_es", f_es, f_rs, evals);
	/* "beats" with a margin: less than half of random search's best */
	ck_assert_msg(f_es < 0.5 * f_rs, "%s: %.4g vs %.4g",
		      _i ? "pgpe" : "openai_es", f_es, f_rs);
}
END_TEST

static Suite *es_suite(void)
{
	Suite *s = suite_create("es");
	TCase *tc;

	tc = tcase_create("es:shape");
	tcase_add_loop_test(tc, es_shape_ranks_hand, 0,
			    sizeof(rank_cases) / sizeof(rank_cases[0]));
	tcase_add_loop_test(tc, es_shape_ranks_naive, 0, 8);
	tcase_add_test(tc, es_shape_normalized_none);
	suite_add_tcase(s, tc);

	tc = tcase_create("es:member");
	tcase_add_test(tc, es_member_antithetic);
	suite_add_tcase(s, tc);

	tc = tcase_create("es:gradient");
	tcase_add_test(tc, es_grad_openai_naive);
	tcase_add_test(tc, es_grad_pgpe_naive);
	tcase_add_loop_test(tc, es_update_kept_noise, 0, 2);
	tcase_add_loop_test(tc, es_update_isas, 0, 12);
	suite_add_tcase(s, tc);

	tc = tcase_create("es:optimizer");
	tcase_add_test(tc, es_adam_hand);
	tcase_add_test(tc, es_sgd_momentum);
	tcase_add_test(tc, es_clipup_hand);
	tcase_add_test(tc, es_grad_clip_hand);
	tcase_add_loop_test(tc, es_weight_decay, 0, 6);
	suite_add_tcase(s, tc);

	tc = tcase_create("es:pgpe_sigma");
	tcase_add_test(tc, es_pgpe_sigma_sign);
	tcase_add_test(tc, es_pgpe_sigma_mean);
	suite_add_tcase(s, tc);

	tc = tcase_create("es:nonfinite");
	tcase_add_loop_test(tc, es_nonfinite_fitness, 0, 18);
	suite_add_tcase(s, tc);

	tc = tcase_create("es:state");
	tcase_add_test(tc, es_theta_average);
	tcase_add_loop_test(tc, es_state_roundtrip, 0, 6);
	tcase_add_test(tc, es_state_import_refused);
	tcase_add_test(tc, es_init_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("es:validate");
	tcase_add_loop_test(tc, es_validate_sphere, 0, 2);
	tcase_add_loop_test(tc, es_validate_rastrigin, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(es_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
