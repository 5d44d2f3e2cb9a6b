/*
 * test-objective: the L^q pool against its limits and a naive formula
 * (q = 1 is the mean, q = inf the max, large q approaches the max, scale
 * invariance, M = 0, NaN/inf), the four variants' batches (r0 fixed and
 * equal to its stream, E_* with q = 1, the m seeds shared by all inputs and
 * equal to their streams), and the loss matrix of a real model against an
 * independent per-sequence computation with the reference forward pass.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"
#include "common/model.h"
#include "common/objective.h"
#include "common/params.h"
#include "common/rng.h"
#include "common/tasks/task.h"

/* ---- the pool ----------------------------------------------------------- */

static const double hand[4] = {0.1, 0.5, 0.2, 0.9};

START_TEST(objective_pool_limits)
{
	/* q = 1: the mean; q = inf: the max */
	ck_assert_double_eq_tol(objective_pool(hand, 4, 1.0), 0.425, 1e-15);
	ck_assert_double_eq(objective_pool(hand, 4, INFINITY), 0.9);
	/* q = 2 by hand: sqrt((.01 + .25 + .04 + .81) / 4) */
	ck_assert_double_eq_tol(objective_pool(hand, 4, 2.0), sqrt(0.2775),
				1e-15);
	/* large q approaches the max from below: max * n^(-1/q) <= L <= max */
	double l1000 = objective_pool(hand, 4, 1000.0);
	ck_assert_double_le(l1000, 0.9);
	ck_assert_double_ge(l1000, 0.9 * pow(4.0, -1.0 / 1000.0));
	ck_assert_double_eq_tol(objective_pool(hand, 4, 1e7), 0.9, 1e-6);
	/* the power mean grows with q */
	double prev = 0.0;
	const double qs[] = {1, 1.5, 2, 4, 10, 100, 1000, INFINITY};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double l = objective_pool(hand, 4, qs[i]);
		ck_assert_double_ge(l, prev);
		prev = l;
	}
}
END_TEST

/* (1/n sum x^q)^(1/q), the textbook formula (fine for moderate values) */
static double naive_lq(const double *x, size_t n, double q)
{
	double s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += pow(x[i], q);
	return pow(s / (double)n, 1.0 / q);
}

START_TEST(objective_pool_naive_and_scale)
{
	struct rng_stream s;
	double x[37], cx[37];
	const double qs[] = {1, 2, 3.5, 10, 64, INFINITY};
	const double cs[] = {1e-3, 7.3, 1e4};

	rng_stream_init(&s, 3, RNG_PURPOSE_TEST, 0, 0);
	for (size_t i = 0; i < 37; i++)
		x[i] = rng_uniform_double(&s) * 2.0;
	for (size_t k = 0; k < 4; k++) /* finite q only */
		ck_assert_double_eq_tol(objective_pool(x, 37, qs[k]),
					naive_lq(x, 37, qs[k]), 1e-12);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		double l = objective_pool(x, 37, qs[k]);
		for (size_t c = 0; c < 3; c++) {
			for (size_t i = 0; i < 37; i++)
				cx[i] = cs[c] * x[i];
			ck_assert_double_eq_tol(objective_pool(cx, 37, qs[k]),
						cs[c] * l,
						1e-13 * cs[c] * l);
		}
	}
	/* stable where the naive form underflows */
	double tiny[2] = {1e-200, 2e-200};
	double want = 2e-200 * pow(0.5 * (pow(0.5, 100.0) + 1.0), 0.01);
	ck_assert_double_eq(naive_lq(tiny, 2, 100.0), 0.0);
	ck_assert_double_eq_tol(objective_pool(tiny, 2, 100.0), want,
				1e-12 * want);
}
END_TEST

START_TEST(objective_pool_degenerate)
{
	double zero[3] = {0, 0, 0};
	double with_nan[3] = {0.1, NAN, 0.3};
	double with_inf[3] = {0.1, INFINITY, 0.3};

	ck_assert_double_eq(objective_pool(zero, 3, 1.0), 0.0);
	ck_assert_double_eq(objective_pool(zero, 3, 10.0), 0.0);
	ck_assert_double_eq(objective_pool(zero, 3, INFINITY), 0.0);
	for (int k = 0; k < 3; k++) {
		double q = k == 0 ? 1.0 : k == 1 ? 10.0 : INFINITY;
		ck_assert(isnan(objective_pool(with_nan, 3, q)));
		ck_assert(isinf(objective_pool(with_inf, 3, q)));
	}
}
END_TEST

START_TEST(objective_row_means_hand)
{
	const float loss[6] = {1, 2, 3, 0.5f, 0.5f, 2};
	double lbar[2];

	objective_row_means(loss, 2, 3, lbar);
	ck_assert_double_eq(lbar[0], 2.0);
	ck_assert_double_eq(lbar[1], 1.0);
}
END_TEST

/* ---- model-free tasks ---------------------------------------------------- */

START_TEST(objective_testfn)
{
	struct config cfg;
	struct objective *obj = NULL;
	struct objective_score sc;
	char err[RANDES_ERR_LEN];
	float theta[3];

	config_defaults(&cfg, TASK_KIND_SPHERE);
	cfg.task.dim = 3;
	ck_assert_int_eq(objective_new(&obj, &cfg, err), 0);
	ck_assert_uint_eq(objective_n_params(obj), 3);
	objective_init_theta(obj, theta);
	for (int i = 0; i < 3; i++)
		ck_assert(theta[i] == 3.0f);
	ck_assert_int_eq(objective_score(obj, theta, &sc, err),
			 RANDES_ESTATE);
	ck_assert_int_eq(objective_prepare(obj, 0, err), 0);
	ck_assert_int_eq(objective_score(obj, theta, &sc, err), 0);
	ck_assert_double_eq(sc.loss, 27.0);
	ck_assert_double_eq(sc.fitness, -27.0);
	ck_assert_double_eq(sc.success, 0.0);
	memset(theta, 0, sizeof(theta));
	ck_assert_int_eq(objective_score(obj, theta, &sc, err), 0);
	ck_assert_double_eq(sc.fitness, 0.0);
	ck_assert_double_eq(sc.success, 1.0);
	theta[1] = NAN;
	ck_assert_int_eq(objective_score(obj, theta, &sc, err), 0);
	ck_assert(isnan(sc.fitness));
	objective_free(obj);

	/* rastrigin: uniform start in the box, a pure function of the seed */
	float a[50], b[50];
	config_defaults(&cfg, TASK_KIND_RASTRIGIN);
	cfg.task.dim = 50;
	cfg.run.seed = 5;
	ck_assert_int_eq(objective_new(&obj, &cfg, err), 0);
	objective_init_theta(obj, a);
	objective_init_theta(obj, b);
	ck_assert(memcmp(a, b, sizeof(a)) == 0);
	for (int i = 0; i < 50; i++)
		ck_assert(a[i] >= -5.12f && a[i] <= 5.12f);
	objective_prepare(obj, 0, err);
	ck_assert_int_eq(objective_score(obj, a, &sc, err), 0);
	ck_assert_double_eq_tol(sc.loss, testfn_rastrigin(a, 50), 1e-9);
	objective_free(obj);
	cfg.run.seed = 6;
	ck_assert_int_eq(objective_new(&obj, &cfg, err), 0);
	objective_init_theta(obj, b);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	objective_free(obj);
}
END_TEST

/* ---- with a model ---------------------------------------------------------- */

/* A small colouring setting: C6, n = 8 cycles, m = 3 seeds. */
static void small_coloring(struct config *cfg, enum objective_variant v)
{
	config_defaults(cfg, TASK_KIND_CYCLE_COLORING);
	cfg->run.seed = 11;
	cfg->task.num_vertices = 6;
	cfg->objective.variant = v;
	cfg->objective.inputs = 8;
	cfg->objective.seeds = 3;
}

static struct objective *new_obj(const struct config *cfg)
{
	struct objective *obj = NULL;
	char err[RANDES_ERR_LEN];
	int rc = objective_new(&obj, cfg, err);

	ck_assert_msg(rc == 0, "objective_new: %s", err);
	return obj;
}

START_TEST(objective_variant_seeds)
{
	struct config cfg;
	char err[RANDES_ERR_LEN];
	struct objective *obj;
	size_t S;

	/* q_R: m seeds from (seed, SEEDS, g, j), q from the config */
	small_coloring(&cfg, VARIANT_Q_R);
	obj = new_obj(&cfg);
	S = obj->seed_size;
	ck_assert_uint_eq(S, 6); /* per_token, dr = 1, Lx = 6 */
	ck_assert_uint_eq(obj->n_seeds, 3);
	ck_assert_uint_eq(obj->n_inputs, 8);
	for (uint32_t g = 0; g < 3; g++) {
		ck_assert_int_eq(objective_prepare(obj, g, err), 0);
		ck_assert_double_eq(obj->q, 10.0);
		for (uint32_t j = 0; j < 3; j++) {
			float want[6];
			struct rng_stream s;
			rng_stream_init(&s, 11, RNG_PURPOSE_SEEDS, g, j);
			model_seed_sample(&obj->model, &s, want);
			ck_assert(memcmp(obj->seeds + j * S, want,
					 sizeof(want)) == 0);
		}
	}
	objective_free(obj);

	/* E_R: the same seeds, q = 1 whatever objective.q says */
	small_coloring(&cfg, VARIANT_E_R);
	obj = new_obj(&cfg);
	objective_prepare(obj, 2, err);
	ck_assert_double_eq(obj->q, 1.0);
	ck_assert_uint_eq(obj->n_seeds, 3);
	objective_free(obj);

	/* q_r0: one seed, r0 from (seed, R0, 0, 0), the same every g */
	small_coloring(&cfg, VARIANT_Q_R0);
	obj = new_obj(&cfg);
	{
		float want[6];
		struct rng_stream s;
		size_t s_out;
		rng_stream_init(&s, 11, RNG_PURPOSE_R0, 0, 0);
		model_seed_sample(&obj->model, &s, want);
		ck_assert(memcmp(objective_r0(obj, &s_out), want,
				 sizeof(want)) == 0);
		ck_assert_uint_eq(s_out, 6);
		ck_assert_uint_eq(obj->n_seeds, 1);
		for (uint32_t g = 0; g < 200; g += 37) {
			objective_prepare(obj, g, err);
			ck_assert(memcmp(obj->seeds, want, sizeof(want)) == 0);
			ck_assert_double_eq(obj->q, 10.0);
		}
	}
	objective_free(obj);

	/* E_r0: q = 1 */
	small_coloring(&cfg, VARIANT_E_R0);
	obj = new_obj(&cfg);
	objective_prepare(obj, 9, err);
	ck_assert_double_eq(obj->q, 1.0);
	objective_free(obj);

	/* a q schedule: step 1 -> 16 at generation 10 */
	small_coloring(&cfg, VARIANT_Q_R);
	cfg.objective.q.npoints = 2;
	cfg.objective.q.interp = SCHED_INTERP_STEP;
	cfg.objective.q.gen[0] = 0;
	cfg.objective.q.val[0] = 1.0;
	cfg.objective.q.gen[1] = 10;
	cfg.objective.q.val[1] = 16.0;
	obj = new_obj(&cfg);
	objective_prepare(obj, 9, err);
	ck_assert_double_eq(obj->q, 1.0);
	objective_prepare(obj, 10, err);
	ck_assert_double_eq(obj->q, 16.0);
	ck_assert_int_eq(objective_prepare(obj, (uint64_t)1 << 32, err),
			 RANDES_ESTATE);
	objective_free(obj);
}
END_TEST

/* The (i, j) loss by an independent path: one sequence at a time through
 * the reference forward, scored with the pure helpers. */
static double ref_loss(const struct objective *obj, const float *theta,
		       size_t i, size_t j)
{
	const struct task *t = obj->task;
	const struct task_inputs *in = obj->inputs;
	size_t Lx = t->io.seq_len, F = t->io.feat, O = t->io.out_dim;
	size_t L = t->mask_len;
	float logits[64 * 3];
	struct model_batch b = {
		.n_inputs = 1,
		.n_seeds = 1,
		.feat = in->feat + i * Lx * F,
		.seed = obj->seeds + j * obj->seed_size,
		.mask = L ? in->mask + i * L * L : NULL,
	};

	ck_assert_int_eq(model_forward_ref(&obj->model, theta, &b, logits),
			 0);
	if (t->kind == TASK_KIND_CYCLE_COLORING) {
		double p[64 * 3];
		coloring_softmax(logits, t->n, p);
		return coloring_loss(p, in->target + i * t->n, t->n);
	}
	(void)O;
	return recall_bce_mean(logits, in->target[i * 2 + 1], t->bits);
}

static void check_score_against_ref(struct objective *obj, uint32_t g)
{
	char err[RANDES_ERR_LEN];
	struct objective_score sc, sc2;
	size_t n = obj->n_inputs, m = obj->n_seeds;
	size_t D = objective_n_params(obj);
	float *theta = malloc(D * sizeof(float));
	double *lbar = malloc(n * sizeof(double));

	objective_init_theta(obj, theta);
	ck_assert_int_eq(objective_prepare(obj, g, err), 0);
	ck_assert_int_eq(objective_score(obj, theta, &sc, err), 0);
	for (size_t i = 0; i < n; i++) {
		double s = 0.0;
		for (size_t j = 0; j < m; j++) {
			double want = ref_loss(obj, theta, i, j);
			ck_assert_double_eq_tol(obj->loss[i * m + j], want,
						1e-4 * want + 1e-7);
			s += want;
		}
		lbar[i] = s / (double)m;
	}
	ck_assert_double_eq_tol(sc.loss, naive_lq(lbar, n, obj->q),
				1e-4 * sc.loss);
	ck_assert_double_eq(sc.fitness, -sc.loss);
	/* scoring again gives bitwise the same */
	ck_assert_int_eq(objective_score(obj, theta, &sc2, err), 0);
	ck_assert(memcmp(&sc, &sc2, sizeof(sc)) == 0);
	/* a NaN parameter gives a non-finite fitness */
	theta[0] = NAN;
	ck_assert_int_eq(objective_score(obj, theta, &sc2, err), 0);
	ck_assert(!isfinite(sc2.fitness));
	free(theta);
	free(lbar);
}

START_TEST(objective_score_coloring)
{
	struct config cfg;
	struct objective *obj;

	small_coloring(&cfg, VARIANT_Q_R);
	obj = new_obj(&cfg);
	check_score_against_ref(obj, 4);
	objective_free(obj);
	small_coloring(&cfg, VARIANT_E_R0);
	obj = new_obj(&cfg);
	check_score_against_ref(obj, 4);
	objective_free(obj);
}
END_TEST

START_TEST(objective_score_recall)
{
	struct config cfg;
	struct objective *obj;

	config_defaults(&cfg, TASK_KIND_ASSOCIATIVE_RECALL);
	cfg.run.seed = 3;
	cfg.task.num_tokens = 8;
	cfg.objective.inputs = 6;
	cfg.objective.seeds = 4;
	obj = new_obj(&cfg);
	check_score_against_ref(obj, 1);
	objective_free(obj);

	/* the exhaustive adversary: N x exhaustive_values inputs */
	cfg.objective.adversary = ADVERSARY_EXHAUSTIVE;
	cfg.task.exhaustive_values = 2;
	cfg.objective.seeds = 2;
	obj = new_obj(&cfg);
	ck_assert_uint_eq(obj->n_inputs, 16);
	check_score_against_ref(obj, 0);
	objective_free(obj);
}
END_TEST

/* Two objectives built from one config score a theta bitwise equally, and
 * the batch of generation g does not depend on what was prepared before. */
START_TEST(objective_pure)
{
	struct config cfg;
	struct objective *a, *b;
	struct objective_score sa, sb;
	char err[RANDES_ERR_LEN];
	float *theta;

	small_coloring(&cfg, VARIANT_Q_R);
	a = new_obj(&cfg);
	b = new_obj(&cfg);
	theta = malloc(objective_n_params(a) * sizeof(float));
	objective_init_theta(a, theta);
	objective_prepare(a, 7, err);
	objective_prepare(b, 3, err);
	objective_prepare(b, 7, err);
	ck_assert(memcmp(a->seeds, b->seeds,
			 a->n_seeds * a->seed_size * sizeof(float)) == 0);
	ck_assert(memcmp(a->inputs->mask, b->inputs->mask, 8 * 36) == 0);
	objective_score(a, theta, &sa, err);
	objective_score(b, theta, &sb, err);
	ck_assert(memcmp(&sa, &sb, sizeof(sa)) == 0);
	ck_assert(memcmp(a->loss, b->loss, 8 * 3 * sizeof(float)) == 0);
	free(theta);
	objective_free(a);
	objective_free(b);
}
END_TEST


/* Sets every parameter to 0 except tensor `name`, filled from vals. */
static void theta_only(const struct objective *obj, float *theta,
		       const char *name, const float *vals, size_t n)
{
	const struct params_tensor *pt =
		params_tensor_find(&obj->model.layout, name);

	ck_assert_ptr_nonnull(pt);
	ck_assert_uint_eq(pt->count, n);
	memset(theta, 0, objective_n_params(obj) * sizeof(float));
	memcpy(theta + pt->offset, vals, n * sizeof(float));
}

/*
 * A hand-built grid policy: every weight 0, the head bias prefers "right".
 * The agent walks along the bottom row: a treasure (x, 0) costs x moves
 * per episode, any other treasure 25 + 25.
 */
START_TEST(objective_grid_hand_theta)
{
	struct config cfg;
	struct objective *obj;
	struct objective_score sc;
	char err[RANDES_ERR_LEN];
	const float right[4] = {0, 0, 1, 0};
	float *theta;
	double mean = 0.0;

	config_defaults(&cfg, TASK_KIND_GRIDWORLD);
	cfg.run.seed = 2;
	cfg.objective.variant = VARIANT_E_R;
	cfg.objective.seeds = 2;
	obj = new_obj(&cfg);
	ck_assert_uint_eq(obj->n_inputs, 24);
	theta = malloc(objective_n_params(obj) * sizeof(float));
	theta_only(obj, theta, "head.b", right, 4);
	ck_assert_int_eq(objective_prepare(obj, 0, err), 0);
	ck_assert_int_eq(objective_score(obj, theta, &sc, err), 0);
	for (size_t i = 0; i < 24; i++) {
		uint32_t tx = obj->inputs->target[2 * i];
		uint32_t ty = obj->inputs->target[2 * i + 1];
		float want = ty == 0 ? 2.0f * (float)tx : 50.0f;
		for (size_t j = 0; j < 2; j++) {
			ck_assert_float_eq(obj->loss[i * 2 + j], want);
			ck_assert_uint_eq(obj->success[i * 2 + j], ty == 0);
		}
		mean += want / 24.0;
	}
	ck_assert_double_eq_tol(mean, 42.5, 1e-12);
	ck_assert_double_eq_tol(sc.fitness, -42.5, 1e-12);
	ck_assert_double_eq_tol(sc.success, 4.0 / 24.0, 1e-12);
	objective_free(obj);

	/* q_R with q = inf: the worst treasure, found by brute force */
	cfg.objective.variant = VARIANT_Q_R;
	obj = new_obj(&cfg);
	objective_prepare(obj, 0, err);
	ck_assert_double_eq(obj->q, INFINITY);
	ck_assert_int_eq(objective_score(obj, theta, &sc, err), 0);
	ck_assert_double_eq(sc.fitness, -50.0);
	ck_assert_double_eq(sc.worst, 50.0);
	free(theta);
	objective_free(obj);
}
END_TEST

/*
 * The batched KV-cache roll-out against a replay of each sequence alone:
 * move 1 from the seed token (rollout_begin with B = 1), every later move
 * from the reference forward pass over the prefix of tokens so far.
 */
START_TEST(objective_grid_vs_ref)
{
	struct config cfg;
	struct objective *obj;
	struct objective_score sc;
	char err[RANDES_ERR_LEN];
	float *theta;
	struct model_ws *mws;

	config_defaults(&cfg, TASK_KIND_GRIDWORLD);
	cfg.run.seed = 5;
	cfg.task.size = 3;
	cfg.task.episode_steps = 6;
	cfg.model.width = 16;
	cfg.model.heads = 2;
	cfg.model.key_size = 4;
	cfg.model.value_size = 4;
	cfg.model.mlp_ratio = 2;
	cfg.model.index_dim = 4;
	cfg.objective.variant = VARIANT_E_R;
	cfg.objective.seeds = 3;
	obj = new_obj(&cfg);
	theta = malloc(objective_n_params(obj) * sizeof(float));
	objective_init_theta(obj, theta);
	/* a livelier policy than the small init gives */
	for (size_t k = 0; k < objective_n_params(obj); k++)
		theta[k] *= 4.0f;
	mws = model_ws_new(&obj->model, 1);
	ck_assert_int_eq(objective_prepare(obj, 3, err), 0);
	ck_assert_int_eq(objective_score(obj, theta, &sc, err), 0);
	ck_assert_uint_eq(obj->n_inputs, 8);
	unsigned distinct = 0;
	for (size_t i = 0; i < 8; i++) {
		struct grid_world w = {
			.size = 3, .episode_steps = 6, .episodes = 2,
			.tx = obj->inputs->target[2 * i],
			.ty = obj->inputs->target[2 * i + 1]};
		for (size_t j = 0; j < 3; j++) {
			const float *seed = obj->seeds + j * obj->seed_size;
			float feat[12] = {0}, logits[12 * 4], z[4];
			int32_t index[24] = {0};
			struct grid_state st;
			struct grid_token tok;
			struct model_batch b = {.n_inputs = 1, .n_seeds = 1,
						.feat = feat, .index = index,
						.seed = seed};

			ck_assert_int_eq(model_rollout_begin(&obj->model,
							     theta, mws, 1,
							     seed, z),
					 1);
			gridworld_state_init(&st);
			for (size_t t = 0; !st.done; t++) {
				if (t > 0) {
					model_forward_ref(&obj->model, theta,
							  &b, logits);
					memcpy(z, logits + (t - 1) * 4,
					       sizeof(z));
				}
				gridworld_step(&w, &st, gridworld_argmax(z),
					       &tok);
				feat[t] = tok.reward;
				index[2 * t] = (int32_t)tok.x;
				index[2 * t + 1] = (int32_t)tok.y;
			}
			ck_assert_float_eq(obj->loss[i * 3 + j],
					   (float)st.total);
			ck_assert_uint_eq(obj->success[i * 3 + j],
					  st.found == 2);
			distinct |= 1u << (st.total % 32);
		}
	}
	/* the policy is not trivial: several different move counts */
	ck_assert_uint_ne(__builtin_popcount(distinct), 1);
	model_ws_free(mws);
	free(theta);
	objective_free(obj);
}
END_TEST

START_TEST(objective_model_mismatch)
{
	struct config cfg;
	struct objective *obj = NULL;
	char err[RANDES_ERR_LEN];

	config_defaults(&cfg, TASK_KIND_GRIDWORLD);
	cfg.model.seed_encoding.placement = RSE_PLACEMENT_EVERY_TOKEN;
	cfg.model.seed_encoding.dim = 4;
	ck_assert_int_eq(objective_new(&obj, &cfg, err), RANDES_ECONFIG);
	ck_assert_ptr_null(obj);
	ck_assert_ptr_nonnull(strstr(err, "first_token"));

	config_defaults(&cfg, TASK_KIND_CYCLE_COLORING);
	cfg.model.seed_encoding.placement = RSE_PLACEMENT_FIRST_TOKEN;
	ck_assert_int_eq(objective_new(&obj, &cfg, err), RANDES_ECONFIG);
	ck_assert_ptr_null(obj);
}
END_TEST

static Suite *objective_suite(void)
{
	Suite *s = suite_create("objective");
	TCase *tc;

	tc = tcase_create("objective:pool");
	tcase_add_test(tc, objective_pool_limits);
	tcase_add_test(tc, objective_pool_naive_and_scale);
	tcase_add_test(tc, objective_pool_degenerate);
	tcase_add_test(tc, objective_row_means_hand);
	suite_add_tcase(s, tc);

	tc = tcase_create("objective:testfn");
	tcase_add_test(tc, objective_testfn);
	suite_add_tcase(s, tc);

	tc = tcase_create("objective:model");
	tcase_add_test(tc, objective_variant_seeds);
	tcase_add_test(tc, objective_score_coloring);
	tcase_add_test(tc, objective_score_recall);
	tcase_add_test(tc, objective_pure);
	tcase_add_test(tc, objective_model_mismatch);
	tcase_add_test(tc, objective_grid_hand_theta);
	tcase_add_test(tc, objective_grid_vs_ref);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(objective_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
