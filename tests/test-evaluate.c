/*
 * test-evaluate: the statistics helpers on hand-made data (percentile by
 * the lower order statistic, 5 % histogram bins, mode with tie credit),
 * majority vote on constructed seed outcomes (against exact enumeration of
 * the k-subsets), the summary's figures on hand-made records, the JSON
 * output, and, with a real model, per-input records against an independent
 * computation, split invariance (bitwise), r0 evaluation, a hand-built
 * oracle, and the dump.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"
#include "common/evaluate.h"
#include "common/json.h"
#include "common/model.h"
#include "common/objective.h"
#include "common/params.h"
#include "common/rng.h"
#include "common/stats.h"
#include "common/tasks/task.h"
#include "testutil.h"

/* ---- stats -------------------------------------------------------------- */

START_TEST(evaluate_stats_moments)
{
	const double x[4] = {1, 2, 3, 6};
	const float xf[4] = {1, 2, 3, 6};

	ck_assert_double_eq(stats_mean(x, 4), 3.0);
	ck_assert_double_eq(stats_variance(x, 4), 3.5); /* (4+1+0+9)/4 */
	ck_assert_double_eq(stats_mean_f(xf, 4), 3.0);
	ck_assert_double_eq(stats_variance_f(xf, 4), 3.5);
	ck_assert_double_eq(stats_variance(x, 1), 0.0);
	ck_assert(isnan(stats_mean(x, 0)));
}
END_TEST

START_TEST(evaluate_stats_percentile)
{
	double x[21];

	/* numpy.percentile(range(1, 21), 5, method='lower') == 1,
	 * with 21 values == 2; p95 of 1..20 == 19; p95 of 1..21 == 20 */
	for (int i = 0; i < 21; i++)
		x[i] = 21 - i; /* unsorted on purpose */
	stats_sort(x, 21);
	for (int i = 0; i < 21; i++)
		ck_assert_double_eq(x[i], i + 1);
	ck_assert_double_eq(stats_percentile_sorted(x, 20, 5), 1);
	ck_assert_double_eq(stats_percentile_sorted(x, 21, 5), 2);
	ck_assert_double_eq(stats_percentile_sorted(x, 20, 95), 19);
	ck_assert_double_eq(stats_percentile_sorted(x, 21, 95), 20);
	ck_assert_double_eq(stats_percentile_sorted(x, 21, 0), 1);
	ck_assert_double_eq(stats_percentile_sorted(x, 21, 100), 21);
	ck_assert_double_eq(stats_percentile_sorted(x, 1, 5), 1);
	/* 101 values: p5 is exactly the 6th smallest */
	ck_assert_uint_eq(stats_percentile_index(101, 5), 5);
	ck_assert_uint_eq(stats_percentile_index(181440, 5), 9071);
	/* NaN sorts last */
	double y[3] = {NAN, 1, 0};
	stats_sort(y, 3);
	ck_assert_double_eq(y[0], 0);
	ck_assert(isnan(y[2]));
}
END_TEST

START_TEST(evaluate_stats_histogram)
{
	/* bins of 0.05: [0, .05) -> 0, .05 -> 1, 5/100 -> 1, .1 -> 2,
	 * .5 -> 10, .94999 -> 18, .95 -> 19, 1 -> 19 */
	const double x[] = {0.0, 0.05, 5.0 / 100.0, 0.0999, 0.1, 0.5,
			    0.94999, 0.95, 1.0, 19.0 / 20.0, NAN};
	const size_t want[] = {0, 1, 1, 1, 2, 10, 18, 19, 19, 19};
	uint64_t c[20];

	ck_assert_uint_eq(stats_histogram(x, 11, 0.0, 1.0, 20, c), 10);
	for (size_t b = 0; b < 20; b++) {
		uint64_t n = 0;
		for (size_t i = 0; i < 10; i++)
			n += want[i] == b;
		ck_assert_uint_eq(c[b], n);
	}
	/* all k/K values for K = 100 and 30 land in bin floor(20 k / K) */
	for (unsigned K = 30; K <= 100; K += 70)
		for (unsigned k = 0; k <= K; k++) {
			double v = (double)k / (double)K;
			unsigned b = 20 * k / K;
			stats_histogram(&v, 1, 0.0, 1.0, 20, c);
			ck_assert_uint_eq(c[b < 20 ? b : 19], 1);
		}
}
END_TEST

START_TEST(evaluate_stats_mode)
{
	uint64_t scratch[8];
	const uint64_t a[3] = {3, 3, 5};
	const uint8_t aok[3] = {1, 1, 0};
	const uint64_t b[2] = {3, 5};
	const uint8_t bok[2] = {1, 0};
	const uint64_t c[4] = {3, 5, 7, 7};
	const uint8_t cok[4] = {1, 0, 0, 0};
	const uint64_t d[6] = {9, 1, 4, 1, 4, 9};
	const uint8_t dok[6] = {1, 0, 1, 0, 1, 1};

	ck_assert_double_eq(stats_mode_credit(a, aok, 3, scratch), 1.0);
	ck_assert_double_eq(stats_mode_credit(b, bok, 2, scratch), 0.5);
	ck_assert_double_eq(stats_mode_credit(c, cok, 4, scratch), 0.0);
	/* three tied modes, two of them correct (colouring: several proper
	 * outputs can be modes) */
	ck_assert_double_eq_tol(stats_mode_credit(d, dok, 6, scratch),
				2.0 / 3.0, 1e-15);
	/* the input is not reordered */
	ck_assert_uint_eq(d[0], 9);
	ck_assert_uint_eq(d[1], 1);
}
END_TEST

/* ---- majority vote -------------------------------------------------------- */

START_TEST(evaluate_majority_constructed)
{
	/* outcomes of K = 4 seeds: A A B C, A correct */
	const uint64_t code[4] = {10, 10, 20, 30};
	const uint8_t ok[4] = {1, 1, 0, 0};
	uint32_t perm[4];
	uint64_t vc[4], scr[4];
	uint8_t vo[4];
	struct rng_stream s, s2;

	rng_stream_init(&s, 1, RNG_PURPOSE_EVAL_DRAWS, 3, 0);
	/* v = 1: the mean success; v = K: one vote of all seeds */
	ck_assert_double_eq(evaluate_majority(code, ok, 4, 1, 100, &s, perm,
					      vc, vo, scr),
			    0.5);
	ck_assert_double_eq(evaluate_majority(code, ok, 4, 4, 100, &s, perm,
					      vc, vo, scr),
			    1.0);
	ck_assert(isnan(evaluate_majority(code, ok, 4, 5, 100, &s, perm, vc,
					  vo, scr)));
	/* v = 3: the 4 subsets {AAB} {AAC} {ABC} {ABC} score 1, 1, 1/3,
	 * 1/3: expectation 2/3.  v = 2: {AA} 1, {AB} {AB} {AC} {AC} 1/2
	 * each (two tied modes, one correct), {BC} 0 -> 3/6 = 1/2 */
	rng_stream_init(&s, 1, RNG_PURPOSE_EVAL_DRAWS, 3, 0);
	double m3 = evaluate_majority(code, ok, 4, 3, 40000, &s, perm, vc, vo,
				      scr);
	ck_assert_double_eq_tol(m3, 2.0 / 3.0, 0.01);
	rng_stream_init(&s, 1, RNG_PURPOSE_EVAL_DRAWS, 2, 0);
	double m2 = evaluate_majority(code, ok, 4, 2, 40000, &s, perm, vc, vo,
				      scr);
	ck_assert_double_eq_tol(m2, 0.5, 0.01);
	/* a pure function of the stream */
	rng_stream_init(&s, 1, RNG_PURPOSE_EVAL_DRAWS, 2, 0);
	rng_stream_init(&s2, 1, RNG_PURPOSE_EVAL_DRAWS, 2, 0);
	ck_assert_double_eq(
		evaluate_majority(code, ok, 4, 2, 50, &s, perm, vc, vo, scr),
		evaluate_majority(code, ok, 4, 2, 50, &s2, perm, vc, vo, scr));

	/* a randomized solver right 40 % of the time with scattered wrong
	 * answers: majority of 5 beats single seeds */
	uint64_t c10[10] = {1, 2, 1, 3, 4, 1, 5, 6, 1, 7};
	uint8_t o10[10] = {1, 0, 1, 0, 0, 1, 0, 0, 1, 0};
	uint32_t p10[10];
	uint64_t v10[10], s10[10];
	uint8_t w10[10];
	rng_stream_init(&s, 2, RNG_PURPOSE_EVAL_DRAWS, 5, 0);
	ck_assert_double_gt(evaluate_majority(c10, o10, 10, 5, 2000, &s, p10,
					      v10, w10, s10),
			    0.6);
	ck_assert_double_eq(evaluate_majority(c10, o10, 10, 10, 0, &s, p10,
					      v10, w10, s10),
			    1.0);
}
END_TEST

/* ---- summary -------------------------------------------------------------- */

START_TEST(evaluate_summary_hand)
{
	struct eval_summary sum;
	struct eval_record rec[20];
	char err[RANDES_ERR_LEN];

	memset(&sum, 0, sizeof(sum));
	sum.seeds = 10;
	sum.n_majority = 2;
	sum.majority_k[0] = 5;
	sum.majority_valid[0] = 1;
	sum.majority_k[1] = 30;
	sum.majority_valid[1] = 0;
	sum.has_sampled = 1;
	sum.has_reward = 1;
	for (int i = 0; i < 20; i++) {
		memset(&rec[i], 0, sizeof(rec[i]));
		rec[i].input = (uint64_t)(19 - i);
		rec[i].success = (double)(i % 11) / 10.0; /* 0..1, 0..0.8 */
		rec[i].loss = (double)i;
		rec[i].sampled = 0.5;
		rec[i].pred_var = i < 10 ? 0.0 : 0.01 * i;
		rec[i].majority[0] = i == 3 ? 0.0 : 1.0;
		rec[i].majority[1] = NAN;
	}
	ck_assert_int_eq(evaluate_summary_compute(&sum, rec, 20, err), 0);
	ck_assert_uint_eq(sum.n_inputs, 20);
	/* success values: 0..1 by .1 (11) then 0..0.8 (9): sum 5.5 + 3.6 */
	ck_assert_double_eq_tol(sum.success.mean, 9.1 / 20.0, 1e-15);
	ck_assert_double_eq(sum.success.p5, 0.0); /* sorted[0] of 20 */
	ck_assert_double_eq(sum.success.worst, 0.0);
	/* histogram: 0 twice, .1 twice (bin 2) ... 1.0 once (bin 19) */
	ck_assert_double_eq(sum.hist[0], 0.1);
	ck_assert_double_eq(sum.hist[1], 0.0);
	ck_assert_double_eq(sum.hist[2], 0.1);
	ck_assert_double_eq(sum.hist[18], 0.05);
	ck_assert_double_eq(sum.hist[19], 0.05);
	double hs = 0.0;
	for (int b = 0; b < 20; b++)
		hs += sum.hist[b];
	ck_assert_double_eq_tol(hs, 1.0, 1e-15);
	ck_assert_double_eq_tol(sum.majority[0].mean, 0.95, 1e-15);
	ck_assert_double_eq(sum.majority[0].p5, 0.0);
	ck_assert(isnan(sum.majority[1].mean));
	ck_assert_double_eq(sum.sampled.mean, 0.5);
	/* predictive variance: p95 of 20 values is sorted[18] = 0.18 */
	ck_assert_double_eq_tol(sum.var_p95, 0.18, 1e-15);
	ck_assert_double_eq_tol(sum.var_mean, 0.01 * 145 / 20.0, 1e-15);
	/* seed disagreement s(1 - s): k(10 - k)/100 summed over k = 0..10
	 * (1.65) and k = 0..8 (1.56); the largest two are 0.25 (k = 5) */
	ck_assert_double_eq_tol(sum.dis_mean, 3.21 / 20.0, 1e-15);
	ck_assert_double_eq_tol(sum.dis_p95, 0.25, 1e-15);
	/* loss 0..19: mean 9.5, p95 sorted[18] = 18, worst 19 */
	ck_assert_double_eq(sum.loss_mean, 9.5);
	ck_assert_double_eq(sum.loss_p95, 18.0);
	ck_assert_double_eq(sum.loss_worst, 19.0);
	/* reward = -loss: mean -9.5, p5 sorted[0] = -19, worst -19 */
	ck_assert_double_eq(sum.reward.mean, -9.5);
	ck_assert_double_eq(sum.reward.p5, -19.0);
	ck_assert_double_eq(sum.reward.worst, -19.0);
	ck_assert_int_eq(evaluate_summary_compute(&sum, rec, 0, err),
			 RANDES_ESTATE);
}
END_TEST

START_TEST(evaluate_json_table)
{
	struct eval_summary sum;
	const char *dir = tu_mkdtemp();
	char path[4096];
	FILE *f;
	char *txt;

	memset(&sum, 0, sizeof(sum));
	snprintf(sum.task, sizeof(sum.task), "cycle_coloring");
	snprintf(sum.variant, sizeof(sum.variant), "q_R");
	sum.n_inputs = 181440;
	sum.set_size = 181440;
	sum.seeds = 100;
	sum.success.mean = 0.865;
	sum.success.p5 = 0.695;
	sum.success.worst = 0.25;
	sum.n_majority = 2;
	sum.majority_k[0] = 5;
	sum.majority_valid[0] = 1;
	sum.majority[0].mean = 1.0;
	sum.majority_k[1] = 300;
	sum.majority_valid[1] = 0;
	sum.has_sampled = 1;
	sum.sampled.mean = NAN;
	sum.hist[19] = 1.0;
	sum.dis_mean = 0.125;
	sum.dis_p95 = 0.1875;

	snprintf(path, sizeof(path), "%s/eval.json", dir);
	f = fopen(path, "w");
	ck_assert_int_eq(evaluate_write_json(&sum, f), 0);
	fclose(f);
	size_t len;
	struct json_doc *doc = NULL;
	const struct json_value *root, *v, *m;
	char err[RANDES_ERR_LEN];

	txt = tu_read_file(path, &len);
	ck_assert_int_eq(json_parse(txt, len, &doc, err), 0);
	root = json_doc_root(doc);
	v = json_object_get(root, "task");
	ck_assert_str_eq(v->str, "cycle_coloring");
	ck_assert_str_eq(json_object_get(root, "variant")->str, "q_R");
	v = json_object_get(root, "eval_set");
	ck_assert_str_eq(json_object_get(v, "kind")->str, "all");
	ck_assert_double_eq(json_object_get(v, "full_size")->number, 181440);
	ck_assert_double_eq(json_object_get(root, "seeds")->number, 100);
	v = json_object_get(root, "success");
	/* shortest round-trip doubles: bitwise the same values */
	ck_assert(json_object_get(v, "average")->number == 0.865);
	ck_assert(json_object_get(v, "p5")->number == 0.695);
	ck_assert(json_object_get(v, "worst")->number == 0.25);
	m = json_object_get(root, "majority");
	ck_assert_int_eq(m->type, JSON_ARRAY);
	ck_assert_uint_eq(m->n_items, 1); /* k = 300 > K left out */
	ck_assert_double_eq(json_object_get(&m->items[0], "k")->number, 5);
	ck_assert_double_eq(
		json_object_get(&m->items[0], "average")->number, 1.0);
	v = json_object_get(root, "sampled");
	ck_assert_int_eq(json_object_get(v, "average")->type, JSON_NULL);
	ck_assert_int_eq(json_object_get(root, "reward")->type, JSON_NULL);
	v = json_object_get(json_object_get(root, "histogram"), "fractions");
	ck_assert_uint_eq(v->n_items, 20);
	ck_assert_double_eq(v->items[19].number, 1.0);
	ck_assert_double_eq(v->items[0].number, 0.0);
	ck_assert_ptr_nonnull(json_object_get(root, "predictive_variance"));
	v = json_object_get(root, "seed_disagreement");
	ck_assert_ptr_nonnull(v);
	ck_assert(json_object_get(v, "average")->number == 0.125);
	ck_assert(json_object_get(v, "p95")->number == 0.1875);
	ck_assert_ptr_nonnull(json_object_get(root, "loss"));
	json_doc_free(doc);
	free(txt);

	snprintf(path, sizeof(path), "%s/table.txt", dir);
	f = fopen(path, "w");
	ck_assert_int_eq(evaluate_write_table(&sum, f), 0);
	fclose(f);
	txt = tu_read_file(path, NULL);
	ck_assert_ptr_nonnull(strstr(txt, "majority(5)"));
	ck_assert_ptr_nonnull(strstr(txt, "86.5000"));
	free(txt);
	tu_rm_rf(dir);
}
END_TEST

START_TEST(evaluate_sphere)
{
	struct config cfg;
	struct objective *obj = NULL;
	struct evaluator *ev = NULL;
	struct eval_record rec;
	struct eval_summary sum;
	char err[RANDES_ERR_LEN];
	float theta[4] = {1, 2, 0, 0};

	config_defaults(&cfg, TASK_KIND_SPHERE);
	cfg.task.dim = 4;
	ck_assert_int_eq(objective_new(&obj, &cfg, err), 0);
	ck_assert_int_eq(evaluate_new(&ev, obj, NULL, err), 0);
	ck_assert_uint_eq(evaluate_n_inputs(ev), 1);
	ck_assert_uint_eq(evaluate_n_seeds(ev), 1);
	ck_assert_int_eq(evaluate_range(ev, theta, 0, 1, &rec, err), 0);
	ck_assert_double_eq(rec.loss, 5.0);
	ck_assert_double_eq(rec.success, 0.0);
	ck_assert_int_eq(evaluate_range(ev, theta, 1, 1, &rec, err),
			 RANDES_ESTATE);
	ck_assert_int_eq(evaluate_summarize(ev, &rec, 1, &sum, err), 0);
	ck_assert_double_eq(sum.loss_mean, 5.0);
	ck_assert(!sum.has_sampled);
	evaluate_free(ev);
	objective_free(obj);
}
END_TEST

/* ---- with a model -------------------------------------------------------- */

static struct objective *coloring_obj(uint32_t N, enum objective_variant v)
{
	struct config cfg;
	struct objective *obj = NULL;
	char err[RANDES_ERR_LEN];

	config_defaults(&cfg, TASK_KIND_CYCLE_COLORING);
	cfg.run.seed = 21;
	cfg.task.num_vertices = N;
	cfg.objective.variant = v;
	cfg.objective.inputs = 4;
	cfg.objective.seeds = 2;
	cfg.eval.seeds = 7;
	cfg.eval.majority[0] = 1;
	cfg.eval.majority[1] = 3;
	cfg.eval.majority[2] = 7;
	cfg.eval.majority[3] = 8;
	cfg.eval.n_majority = 4;
	cfg.eval.majority_draws = 20;
	ck_assert_int_eq(objective_new(&obj, &cfg, err), 0);
	return obj;
}

START_TEST(evaluate_split_bitwise)
{
	struct objective *obj = coloring_obj(6, VARIANT_Q_R);
	struct evaluator *ev = NULL;
	char err[RANDES_ERR_LEN];
	struct eval_record all[60], part[60];
	float *theta = malloc(objective_n_params(obj) * sizeof(float));

	objective_init_theta(obj, theta);
	ck_assert_int_eq(evaluate_new(&ev, obj, NULL, err), 0);
	ck_assert_uint_eq(evaluate_n_inputs(ev), 60);
	ck_assert_uint_eq(evaluate_n_seeds(ev), 7);
	ck_assert_int_eq(evaluate_range(ev, theta, 0, 60, all, err), 0);
	for (uint64_t a = 1; a < 60; a += 22) {
		memset(part, 0xab, sizeof(part));
		ck_assert_int_eq(evaluate_range(ev, theta, 0, a, part, err),
				 0);
		ck_assert_int_eq(evaluate_range(ev, theta, a, 60 - a,
						part + a, err),
				 0);
		ck_assert(memcmp(all, part, sizeof(all)) == 0);
	}
	for (int i = 0; i < 60; i++) {
		ck_assert_uint_eq(all[i].input, (uint64_t)i);
		ck_assert_uint_eq(all[i].source, (uint64_t)i);
		ck_assert_double_eq(all[i].majority[0], all[i].success);
		ck_assert(isnan(all[i].majority[3])); /* k = 8 > K = 7 */
	}
	evaluate_free(ev);

	/* eval.max_inputs = 20 keeps every third cycle */
	struct config_eval ec = obj->cfg.eval;
	ec.max_inputs = 20;
	ck_assert_int_eq(evaluate_new(&ev, obj, &ec, err), 0);
	ck_assert_uint_eq(evaluate_n_inputs(ev), 20);
	ck_assert_int_eq(evaluate_range(ev, theta, 0, 20, part, err), 0);
	for (int i = 0; i < 20; i++) {
		ck_assert_uint_eq(part[i].source, 3 * (uint64_t)i);
		ck_assert_double_eq(part[i].success, all[3 * i].success);
	}
	evaluate_free(ev);
	free(theta);
	objective_free(obj);
}
END_TEST

/* Records against an independent computation: every seed through the
 * reference forward pass, scored with the pure helpers. */
START_TEST(evaluate_records_vs_ref)
{
	struct objective *obj = coloring_obj(5, VARIANT_Q_R);
	const struct task *t = obj->task;
	struct evaluator *ev = NULL;
	char err[RANDES_ERR_LEN];
	struct eval_record rec[12];
	struct task_inputs *in = task_inputs_new(t, 1);
	size_t S = obj->seed_size, N = 5, K = 7;
	float *theta = malloc(objective_n_params(obj) * sizeof(float));
	float seeds[7 * 5], logits[15];

	objective_init_theta(obj, theta);
	ck_assert_int_eq(evaluate_new(&ev, obj, NULL, err), 0);
	ck_assert_int_eq(evaluate_range(ev, theta, 0, 12, rec, err), 0);
	for (uint32_t j = 0; j < K; j++) {
		struct rng_stream s;
		rng_stream_init(&s, 21, RNG_PURPOSE_EVAL_SEEDS, 0, j);
		model_seed_sample(&obj->model, &s, seeds + j * S);
	}
	for (size_t k = 0; k < 12; k++) {
		double sl = 0, ss = 0, sp = 0, p[7][15], var = 0;
		uint32_t order[5];

		task_fill_eval(t, 21, k, in, 0);
		coloring_cycle_unrank(k, 5, order);
		ck_assert(memcmp(order, in->target, sizeof(order)) == 0);
		for (size_t j = 0; j < K; j++) {
			struct model_batch b = {.n_inputs = 1, .n_seeds = 1,
						.feat = in->feat,
						.seed = seeds + j * S,
						.mask = in->mask};
			uint8_t col[5];
			ck_assert_int_eq(model_forward_ref(&obj->model, theta,
							   &b, logits),
					 0);
			coloring_softmax(logits, 5, p[j]);
			sl += coloring_loss(p[j], order, 5);
			sp += coloring_sampled_success(p[j], order, 5);
			for (size_t v = 0; v < N; v++) {
				col[v] = 0;
				for (uint8_t c = 1; c < 3; c++)
					if (logits[v * 3 + c] >
					    logits[v * 3 + col[v]])
						col[v] = c;
			}
			ss += coloring_is_proper(col, order, 5);
		}
		for (size_t u = 0; u < 15; u++) {
			double mu = 0, v = 0;
			for (size_t j = 0; j < K; j++)
				mu += p[j][u] / K;
			for (size_t j = 0; j < K; j++)
				v += (p[j][u] - mu) * (p[j][u] - mu) / K;
			var += v / 15;
		}
		ck_assert_double_eq_tol(rec[k].loss, sl / K, 1e-5 * sl / K);
		ck_assert_double_eq_tol(rec[k].success, ss / K, 1e-12);
		ck_assert_double_eq_tol(rec[k].sampled, sp / K,
					1e-5 * sp / K + 1e-9);
		ck_assert_double_eq_tol(rec[k].pred_var, var, 1e-4 * var + 1e-9);
	}
	task_inputs_free(in);
	evaluate_free(ev);
	free(theta);
	objective_free(obj);
}
END_TEST

START_TEST(evaluate_r0_and_dump)
{
	struct objective *obj = coloring_obj(6, VARIANT_Q_R0);
	struct evaluator *ev = NULL;
	char err[RANDES_ERR_LEN];
	struct eval_record rec[60];
	struct eval_summary sum;
	struct eval_dump d;
	float *theta = malloc(objective_n_params(obj) * sizeof(float));
	size_t S;
	const float *r0 = objective_r0(obj, &S);

	objective_init_theta(obj, theta);
	ck_assert_int_eq(evaluate_new(&ev, obj, NULL, err), 0);
	ck_assert_uint_eq(evaluate_n_seeds(ev), 1);
	ck_assert_int_eq(evaluate_range(ev, theta, 0, 60, rec, err), 0);
	ck_assert_int_eq(evaluate_summarize(ev, rec, 60, &sum, err), 0);
	ck_assert(sum.uses_r0);
	ck_assert_uint_eq(sum.seeds, 1);
	ck_assert(sum.majority_valid[0]);
	ck_assert(!sum.majority_valid[1]);
	for (int i = 0; i < 60; i++) {
		ck_assert(rec[i].success == 0.0 || rec[i].success == 1.0);
		ck_assert_double_eq(rec[i].pred_var, 0.0);
	}

	evaluate_dump_shape(ev, &d);
	ck_assert_uint_eq(d.n_inputs, 60);
	ck_assert_uint_eq(d.n_seeds, 1);
	ck_assert_uint_eq(d.mask_len, 6);
	ck_assert_uint_eq(d.rows, 6);
	d.feat = calloc(60 * 6 * 6, sizeof(float));
	d.index = NULL;
	d.mask = calloc(60 * 36, 1);
	d.seed = calloc(S, sizeof(float));
	d.logits = calloc(60 * 6 * 3, sizeof(float));
	d.length = calloc(60, sizeof(int32_t));
	d.target = calloc(60 * 6, sizeof(uint32_t));
	d.input = calloc(60, sizeof(uint64_t));
	ck_assert_int_eq(evaluate_dump(ev, theta, &d, err), 0);
	ck_assert(memcmp(d.seed, r0, S * sizeof(float)) == 0);
	for (size_t i = 0; i < 60; i += 7) {
		float want[18];
		struct model_batch b = {.n_inputs = 1, .n_seeds = 1,
					.feat = d.feat + i * 36, .seed = r0,
					.mask = d.mask + i * 36};
		ck_assert_int_eq(model_forward_ref(&obj->model, theta, &b,
						   want),
				 0);
		ck_assert_double_le(tu_max_rel_diff(d.logits + i * 18, want,
						    18, 1e-3),
				    1e-4);
		ck_assert_int_eq(d.length[i], 6);
		ck_assert_uint_eq(d.input[i], i);
		/* the logits reproduce the record */
		float loss;
		uint8_t ok;
		struct task_inputs *in = task_inputs_new(obj->task, 1);
		task_fill_eval(obj->task, 21, i, in, 0);
		ck_assert(memcmp(in->mask, d.mask + i * 36, 36) == 0);
		task_score_logits(obj->task, in, 0, d.logits + i * 18, &loss,
				  &ok, NULL, NULL, NULL);
		ck_assert_double_eq(ok, rec[i].success);
		task_inputs_free(in);
	}
	free(d.feat);
	free(d.mask);
	free(d.seed);
	free(d.logits);
	free(d.length);
	free(d.target);
	free(d.input);
	evaluate_free(ev);
	free(theta);
	objective_free(obj);
}
END_TEST


/*
 * A hand-built oracle for C3: attention off (all weights 0), the embedding
 * copies the vertex id into the first 3 channels and the head reads them
 * as colour logits, so vertex v takes colour v: proper on the one cycle.
 */
START_TEST(evaluate_oracle_c3)
{
	struct objective *obj = coloring_obj(3, VARIANT_Q_R);
	struct evaluator *ev = NULL;
	char err[RANDES_ERR_LEN];
	struct eval_record rec;
	struct eval_summary sum;
	size_t D = objective_n_params(obj);
	float *theta = calloc(D, sizeof(float));
	const struct params_tensor *we =
		params_tensor_find(&obj->model.layout, "embed.w");
	const struct params_tensor *wh =
		params_tensor_find(&obj->model.layout, "head.w");

	ck_assert_ptr_nonnull(we);
	ck_assert_ptr_nonnull(wh);
	/* embed.w (Din, W) with Din = 3 ids + 1 seed; head.w (W, 3) */
	for (size_t v = 0; v < 3; v++) {
		theta[we->offset + v * we->shape[1] + v] = 1.0f;
		theta[wh->offset + v * wh->shape[1] + v] = 10.0f;
	}
	ck_assert_int_eq(evaluate_new(&ev, obj, NULL, err), 0);
	ck_assert_uint_eq(evaluate_n_inputs(ev), 1);
	ck_assert_int_eq(evaluate_range(ev, theta, 0, 1, &rec, err), 0);
	ck_assert_double_eq(rec.success, 1.0);
	ck_assert_double_eq(rec.majority[1], 1.0);
	ck_assert_double_eq(rec.majority[2], 1.0);
	ck_assert_double_eq(rec.pred_var, 0.0); /* the seed is ignored */
	/* p_v(v) = 1 / (1 + 2 e^-10): sampled = P(all three distinct) */
	double pv = 1.0 / (1.0 + 2.0 * exp(-10.0));
	double q = (1.0 - pv) / 2.0;
	/* proper colourings of C3 are the 6 permutations: identity pv^3,
	 * the 3 transpositions pv q^2 each, the 2 3-cycles q^3 each */
	double want = pv * pv * pv + 3.0 * pv * q * q + 2.0 * q * q * q;
	ck_assert_double_eq_tol(rec.sampled, want, 1e-6);
	ck_assert_int_eq(evaluate_summarize(ev, &rec, 1, &sum, err), 0);
	ck_assert_double_eq(sum.success.p5, 1.0);
	ck_assert_double_eq(sum.hist[19], 1.0);
	evaluate_free(ev);
	free(theta);
	objective_free(obj);
}
END_TEST

static Suite *evaluate_suite(void)
{
	Suite *s = suite_create("evaluate");
	TCase *tc;

	tc = tcase_create("evaluate:stats");
	tcase_add_test(tc, evaluate_stats_moments);
	tcase_add_test(tc, evaluate_stats_percentile);
	tcase_add_test(tc, evaluate_stats_histogram);
	tcase_add_test(tc, evaluate_stats_mode);
	suite_add_tcase(s, tc);

	tc = tcase_create("evaluate:protocol");
	tcase_add_test(tc, evaluate_majority_constructed);
	tcase_add_test(tc, evaluate_summary_hand);
	tcase_add_test(tc, evaluate_json_table);
	tcase_add_test(tc, evaluate_sphere);
	suite_add_tcase(s, tc);

	tc = tcase_create("evaluate:model");
	tcase_add_test(tc, evaluate_split_bitwise);
	tcase_add_test(tc, evaluate_records_vs_ref);
	tcase_add_test(tc, evaluate_r0_and_dump);
	tcase_add_test(tc, evaluate_oracle_c3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(evaluate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
