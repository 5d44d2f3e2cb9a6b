/*
 * test-modelfile: model.init_from.  A run starts from an exported model's
 * tensors: the same tensors copied as they are; an associative-recall model
 * of another num_tokens mapped feature by feature (a key row goes to the
 * same key, a value or seed row to the same value bit or seed bit, keys
 * the file lacks keep their fresh rows), both growing and shrinking N; and
 * every mismatch refused with theta untouched.  The expected rows come
 * from the token layout of docs/tasks.md ([key (N) | value (d) | seed]),
 * not from the code under test.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"
#include "common/model.h"
#include "common/modelfile.h"
#include "common/objective.h"
#include "common/params.h"
#include "common/safetensors.h"
#include "testutil.h"

#define VALUE_BITS 5
#define SEED_BITS 10

#define RECALL_YAML \
	"run: {seed: 3, generations: 1}\n" \
	"task: {kind: associative_recall, num_tokens: %u, value_bits: 5}\n" \
	"model: {width: %u, key_size: 5, value_size: 5, " \
	"input_embedding: mlp, init_seed_scale: %g,\n" \
	"        init_from: given-to-modelfile_init_theta.safetensors,\n" \
	"        seed_encoding: {kind: bits, dim: 10, placement: " \
	"every_token}}\n" \
	"objective: {variant: %s, seeds: 3}\n" \
	"es: {population: 4}\n"

static struct objective *recall_scaled(unsigned n, unsigned width,
				      const char *variant, double seed_scale)
{
	char y[1024], err[RANDES_ERR_LEN];
	struct config cfg;
	struct objective *obj = NULL;

	snprintf(y, sizeof(y), RECALL_YAML, n, width, seed_scale, variant);
	ck_assert_msg(config_load_string(&cfg, y, strlen(y), "t.yaml", NULL, 0,
					 err) == 0,
		      "%s", err);
	ck_assert_msg(objective_new(&obj, &cfg, err) == 0, "%s", err);
	return obj;
}

static struct objective *recall_variant(unsigned n, unsigned width,
				       const char *variant)
{
	return recall_scaled(n, width, variant, 0.0);
}

static struct objective *recall_objective(unsigned n, unsigned width)
{
	return recall_variant(n, width, "E_r0");
}

static struct objective *coloring_objective(void)
{
	static const char y[] = "run: {generations: 1}\n"
				"task: {kind: cycle_coloring}\n"
				"objective: {variant: q_r0}\n"
				"es: {population: 4}\n";
	char err[RANDES_ERR_LEN];
	struct config cfg;
	struct objective *obj = NULL;

	ck_assert_msg(config_load_string(&cfg, y, strlen(y), "c.yaml", NULL, 0,
					 err) == 0,
		      "%s", err);
	ck_assert_msg(objective_new(&obj, &cfg, err) == 0, "%s", err);
	return obj;
}

/* theta with every element distinct and recognisable: 1000 + index */
static float *marked_theta(const struct objective *obj)
{
	size_t D = objective_n_params(obj);
	float *t = malloc(sizeof(float) * D);

	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < D; i++)
		t[i] = 1000.0f + (float)i;
	return t;
}

/* Writes theta as `randes export` does as far as modelfile reads it: the
 * tensors and the resolved config in the metadata. */
static const char *write_model(const char *dir, const char *name,
			       const struct objective *obj, const float *theta)
{
	static char path[4096];
	char err[RANDES_ERR_LEN];
	char *yaml = config_to_yaml(&obj->cfg);
	struct safetensors_kv kv[2] = {{"format", "randes"}, {"config", yaml}};

	ck_assert_ptr_nonnull(yaml);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg(safetensors_write(path, &obj->model.layout, theta, kv, 2,
					err) == 0,
		      "%s", err);
	free(yaml);
	return path;
}

static float *fresh_theta(const struct objective *obj)
{
	float *t = malloc(sizeof(float) * objective_n_params(obj));

	ck_assert_ptr_nonnull(t);
	objective_init_theta(obj, t);
	return t;
}

/*
 * The row of embed.w that carries feature f of a model with n keys: f < 64
 * is key f, 64 + b value bit b, 128 + s seed bit s; -1 if the model has no
 * such key.
 */
static long feature_row(unsigned n, unsigned f)
{
	if (f < 64)
		return f < n ? (long)f : -1;
	if (f < 128)
		return (long)n + (f - 64);
	return (long)n + VALUE_BITS + (f - 128);
}

static void check_mapped(unsigned n_file, unsigned n_run)
{
	const char *dir = tu_mkdtemp();
	struct objective *src = recall_objective(n_file, 16);
	struct objective *dst = recall_objective(n_run, 16);
	float *ft = marked_theta(src), *t = fresh_theta(dst);
	float *fresh = fresh_theta(dst);
	const char *path = write_model(dir, "m.safetensors", src, ft);
	const struct params_layout *ld = &dst->model.layout;
	const struct params_layout *ls = &src->model.layout;
	char err[RANDES_ERR_LEN];

	ck_assert_msg(modelfile_init_theta(dst, path, t, err) == 0, "%s", err);
	for (size_t i = 0; i < ld->n_tensors; i++) {
		const struct params_tensor *td = &ld->tensors[i];
		const struct params_tensor *ts =
			params_tensor_find(ls, td->name);

		ck_assert_ptr_nonnull(ts);
		if (strcmp(td->name, "embed.w") != 0) {
			ck_assert_uint_eq(td->count, ts->count);
			for (size_t k = 0; k < td->count; k++)
				ck_assert_float_eq(t[td->offset + k],
						   ft[ts->offset + k]);
			continue;
		}
		size_t W = td->shape[1];
		size_t rows = 0;
		ck_assert_uint_eq(td->shape[0],
				  n_run + VALUE_BITS + SEED_BITS);
		for (unsigned f = 0; f < 128 + SEED_BITS; f++) {
			long rd = feature_row(n_run, f);
			long rs = feature_row(n_file, f);

			if (f >= 64 + VALUE_BITS && f < 128)
				continue; /* no such value bit */
			if (rd < 0)
				continue; /* a key only the file has */
			rows++;
			for (size_t c = 0; c < W; c++) {
				float got = t[td->offset + (size_t)rd * W + c];
				float want = rs >= 0
					? ft[ts->offset + (size_t)rs * W + c]
					: fresh[td->offset + (size_t)rd * W + c];
				ck_assert_msg(got == want,
					      "feature %u column %zu: %g, "
					      "expected %g",
					      f, c, (double)got, (double)want);
			}
		}
		ck_assert_uint_eq(rows, td->shape[0]);
	}
	free(ft);
	free(t);
	free(fresh);
	objective_free(src);
	objective_free(dst);
	tu_rm_rf(dir);
}

START_TEST(modelfile_same_shape)
{
	check_mapped(6, 6);
}
END_TEST

START_TEST(modelfile_recall_grow)
{
	check_mapped(4, 7);
}
END_TEST

START_TEST(modelfile_recall_shrink)
{
	check_mapped(8, 5);
}
END_TEST

/* A refused file leaves theta as it was and says why. */
static void check_refused(struct objective *dst, const char *path,
			  int want_rc, const char *want_text)
{
	char err[RANDES_ERR_LEN];
	float *t = fresh_theta(dst), *fresh = fresh_theta(dst);
	int rc = modelfile_init_theta(dst, path, t, err);

	ck_assert_int_eq(rc, want_rc);
	ck_assert_msg(strstr(err, want_text), "message '%s' lacks '%s'", err,
		      want_text);
	ck_assert_mem_eq(t, fresh, sizeof(float) * objective_n_params(dst));
	free(t);
	free(fresh);
}

START_TEST(modelfile_refusals)
{
	const char *dir = tu_mkdtemp();
	struct objective *run = recall_objective(6, 16);
	struct objective *wide = recall_objective(6, 24);
	struct objective *col = coloring_objective();
	float *tw = marked_theta(wide), *tc = marked_theta(col);
	char path[4096];

	/* another task */
	snprintf(path, sizeof(path), "%s",
		 write_model(dir, "col.safetensors", col, tc));
	check_refused(run, path, RANDES_EDATA, "a cycle_coloring model");
	/* another width: the first tensor that differs is named */
	snprintf(path, sizeof(path), "%s",
		 write_model(dir, "wide.safetensors", wide, tw));
	check_refused(run, path, RANDES_EDATA, "tensor embed.w is [21, 24]");
	/* no file; not a model */
	snprintf(path, sizeof(path), "%s/none.safetensors", dir);
	check_refused(run, path, RANDES_EIO, "none.safetensors");
	snprintf(path, sizeof(path), "%s",
		 tu_write_file(dir, "junk.safetensors", "not a model", 11));
	check_refused(run, path, RANDES_EDATA, "junk.safetensors");
	free(tw);
	free(tc);
	objective_free(run);
	objective_free(wide);
	objective_free(col);
	tu_rm_rf(dir);
}
END_TEST

/* The logits of input i of obj's current batch under one seed vector,
 * through the reference forward. */
static void ref_logits(const struct objective *obj, const float *theta,
		       size_t i, const float *seed, float *logits)
{
	const struct task *t = obj->task;
	size_t Lx = t->io.seq_len, F = t->io.feat;
	struct model_batch b = {
		.n_inputs = 1,
		.n_seeds = 1,
		.feat = obj->inputs->feat + i * Lx * F,
		.seed = seed,
	};

	ck_assert_int_eq(model_forward_ref(&obj->model, theta, &b, logits),
			 0);
}

/*
 * A fixed-seed model read into a fresh-seed run: under every seed the start
 * answers as the file's model answers r0.  Read into another fixed-seed
 * run, nothing is folded, and another seed changes the answer.
 */
START_TEST(modelfile_fold_r0)
{
	const char *dir = tu_mkdtemp();
	struct objective *src = recall_variant(5, 16, "E_r0");
	struct objective *qr = recall_variant(5, 16, "q_R");
	struct objective *er0 = recall_variant(5, 16, "E_r0");
	float *ft = fresh_theta(src), *tq = fresh_theta(qr);
	float *te = fresh_theta(er0);
	char err[RANDES_ERR_LEN];
	const char *path;
	size_t S = 0;
	const float *r0 = objective_r0(src, &S);
	float want[8], got[8];

	/* a seed part that matters: the seed rows of embed.w scaled up */
	for (size_t k = src->model.spec.din - S; k < src->model.spec.din; k++)
		for (size_t c = 0; c < 16; c++)
			ft[src->model.off.embed_w + k * 16 + c] *= 8.0f;
	path = write_model(dir, "r0.safetensors", src, ft);
	ck_assert_msg(modelfile_init_theta(qr, path, tq, err) == 0, "%s", err);
	ck_assert_msg(modelfile_init_theta(er0, path, te, err) == 0, "%s",
		      err);
	ck_assert_int_eq(objective_prepare(src, 0, err), 0);
	ck_assert_int_eq(objective_prepare(qr, 0, err), 0);
	ck_assert_int_eq(objective_prepare(er0, 0, err), 0);
	ck_assert_uint_eq(qr->n_seeds, 3);
	for (size_t i = 0; i < 4; i++) {
		ref_logits(src, ft, i, r0, want);
		for (size_t j = 0; j < qr->n_seeds; j++) {
			ref_logits(qr, tq, i, qr->seeds + j * S, got);
			for (size_t o = 0; o < VALUE_BITS; o++)
				ck_assert_msg(fabsf(got[o] - want[o]) <=
						      1e-4f * (1.0f + fabsf(want[o])),
					      "input %zu seed %zu bit %zu: %g, "
					      "r0 gave %g",
					      i, j, o, (double)got[o],
					      (double)want[o]);
		}
	}
	/* not folded for a fixed-seed run: the copy is exact, and a seed
	 * other than r0 gives other logits */
	ck_assert_mem_eq(te, ft, sizeof(float) * objective_n_params(src));
	ref_logits(er0, te, 0, r0, want);
	ref_logits(er0, te, 0, qr->seeds, got);
	ck_assert(memcmp(got, want, sizeof(float) * VALUE_BITS) != 0);
	free(ft);
	free(tq);
	free(te);
	objective_free(src);
	objective_free(qr);
	objective_free(er0);
	tu_rm_rf(dir);
}
END_TEST

/*
 * model.init_seed_scale: after the fold the seed rows restart at the scale
 * times the run's fresh rows, and the bias is moved so that the embedding's
 * mean over seeds (each bit 1 with probability 1/2) is the folded one;
 * every other tensor is the folded start's.  A run that folds nothing
 * refuses the key.
 */
START_TEST(modelfile_seed_scale)
{
	const char *dir = tu_mkdtemp();
	struct objective *src = recall_variant(5, 16, "E_r0");
	struct objective *fold = recall_variant(5, 16, "q_R");
	struct objective *scaled = recall_scaled(5, 16, "q_R", 0.25);
	struct objective *fixed = recall_scaled(5, 16, "q_r0", 0.25);
	size_t D = objective_n_params(src), W = 16;
	size_t din = src->model.spec.din, S = SEED_BITS, ew, eb;
	float *ft = marked_theta(src), *tf = fresh_theta(fold);
	float *ts = fresh_theta(scaled), *fresh = fresh_theta(scaled);
	char err[RANDES_ERR_LEN];
	const char *path = write_model(dir, "r0.safetensors", src, ft);

	ck_assert_msg(modelfile_init_theta(fold, path, tf, err) == 0, "%s",
		      err);
	ck_assert_msg(modelfile_init_theta(scaled, path, ts, err) == 0, "%s",
		      err);
	ew = scaled->model.off.embed_w;
	eb = scaled->model.off.embed_b;
	for (size_t i = 0; i < D; i++) {
		int seed_row = i >= ew + (din - S) * W && i < ew + din * W;

		if (seed_row)
			ck_assert_float_eq(ts[i], 0.25f * fresh[i]);
		else if (i < eb || i >= eb + W)
			ck_assert_float_eq(ts[i], tf[i]);
	}
	for (size_t c = 0; c < W; c++) {
		double mean = ts[eb + c];

		for (size_t r = din - S; r < din; r++)
			mean += 0.5 * ts[ew + r * W + c];
		ck_assert_msg(fabs(mean - tf[eb + c]) <=
				      1e-6 * (1.0 + fabs(tf[eb + c])),
			      "column %zu: mean bias %g, folded %g", c, mean,
			      (double)tf[eb + c]);
	}
	/* a fixed-seed run folds nothing, so the scale has nothing to act on */
	check_refused(fixed, path, RANDES_EDATA, "init_seed_scale");
	free(ft);
	free(tf);
	free(ts);
	free(fresh);
	objective_free(src);
	objective_free(fold);
	objective_free(scaled);
	objective_free(fixed);
	tu_rm_rf(dir);
}
END_TEST

static Suite *modelfile_suite(void)
{
	Suite *s = suite_create("modelfile");
	TCase *tc = tcase_create("modelfile:init_from");

	tcase_add_test(tc, modelfile_same_shape);
	tcase_add_test(tc, modelfile_recall_grow);
	tcase_add_test(tc, modelfile_recall_shrink);
	tcase_add_test(tc, modelfile_refusals);
	tcase_add_test(tc, modelfile_fold_r0);
	tcase_add_test(tc, modelfile_seed_scale);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(modelfile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
