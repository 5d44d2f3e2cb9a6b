/*
 * test-config: the strict YAML loader, presets, overrides, the writer's
 * round trip, schedules and the locked hash.
 *
 * The bad-config table is the heart of it: every row is a broken config
 * (inline YAML written into a scratch dir, and/or one --set override) with
 * the exact location prefix its error must start with.  Line/column values
 * were counted by hand from the strings (1-based, as editors show them).
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"
#include "common/rng.h"
#include "testutil.h"

#ifndef RANDES_SOURCE_ROOT
#define RANDES_SOURCE_ROOT "."
#endif

/* A minimal valid colouring config (2 lines); rows append from line 3. */
#define BASE "task: {kind: cycle_coloring}\nrun: {generations: 10}\n"

static char scratch[4096];

static void setup(void)
{
	snprintf(scratch, sizeof(scratch), "%s", tu_mkdtemp());
}

static void teardown(void)
{
	tu_rm_rf(scratch);
}

/* Writes yaml to scratch/name and loads it with the given overrides. */
static int load(struct config *cfg, const char *name, const char *yaml,
		const char *const *ov, size_t n_ov, char *err,
		const char **path_out)
{
	const char *path = tu_write_file(scratch, name, yaml, (size_t)-1);
	static char copy[4096];

	snprintf(copy, sizeof(copy), "%s", path);
	if (path_out)
		*path_out = copy;
	err[0] = '\0';
	return config_load_file(cfg, copy, ov, n_ov, err);
}

/* ------------------------------------------------------------------------ */
/* Bad configs                                                               */
/* ------------------------------------------------------------------------ */

static const struct bad_row {
	const char *yaml;
	const char *override; /* NULL: none                              */
	const char *prefix;   /* "L:C: key.path:" after "FILE:", or the
				 whole start of the message for "--set" */
} bad[] = {
	/* unknown keys: top level, nested block, nested flow */
	{BASE "foo: 1\n", NULL, "3:1: foo:"},
	{"task:\n  kind: cycle_coloring\nrun:\n  generations: 10\nmodel:\n"
	 "  widht: 3\n",
	 NULL, "6:3: model.widht:"},
	{BASE "model: {seed_encoding: {kind: bits, dimm: 3}}\n", NULL,
	 "3:37: model.seed_encoding.dimm:"},
	/* duplicate keys: a value, a whole section */
	{"task: {kind: cycle_coloring}\nrun:\n  generations: 10\n"
	 "  generations: 20\n",
	 NULL, "4:3: run.generations:"},
	{BASE "run: {seed: 1}\n", NULL, "3:1: run:"},
	/* wrong types */
	{BASE "es: {population: {a: 1}}\n", NULL, "3:18: es.population:"},
	{BASE "es:\n  sigma: abc\n", NULL, "4:10: es.sigma:"},
	{BASE "es:\n  population: 1.5\n", NULL, "4:15: es.population:"},
	{BASE "model: {mlp: yes}\n", NULL, "3:14: model.mlp:"},
	{BASE "model: {layernorm: \"true\"}\n", NULL, "3:20: model.layernorm:"},
	{BASE "es: {sigma: \"0.02\"}\n", NULL, "3:13: es.sigma:"},
	{"task: {kind: sphere}\nrun: {generations: 1e3}\n", NULL,
	 "2:20: run.generations:"},
	{"task: {kind: sphere}\nrun: {generations: 010}\n", NULL,
	 "2:20: run.generations:"},
	{"task: cycle_coloring\nrun: {generations: 10}\n", NULL, "1:7: task:"},
	{"- a\n- b\n", NULL, "1:1: (top level):"},
	{BASE "[a]: 1\n", NULL, "3:1: (top level):"},
	/* out of range */
	{BASE "es: {population: 7}\n", NULL, "3:18: es.population:"},
	{BASE "es: {population: 0}\n", NULL, "3:18: es.population:"},
	{BASE "objective: {q: 0.5}\n", NULL, "3:16: objective.q:"},
	{BASE "es: {sigma: 0}\n", NULL, "3:13: es.sigma:"},
	{BASE "es: {lr: -0.01}\n", NULL, "3:10: es.lr:"},
	{BASE "objective:\n  seeds: -3\n", NULL, "4:10: objective.seeds:"},
	{BASE "objective:\n  inputs: 0\n", NULL, "4:11: objective.inputs:"},
	{BASE "es: {beta1: 1.0}\n", NULL, "3:13: es.beta1:"},
	{BASE "es: {grad_clip: -1}\n", NULL, "3:17: es.grad_clip:"},
	{BASE "es: {beta2: -0.1}\n", NULL, "3:13: es.beta2:"},
	{BASE "es: {sigma: inf}\n", NULL, "3:13: es.sigma:"},
	{BASE "es: {lr: .nan}\n", NULL, "3:10: es.lr:"},
	{"task: {kind: sphere}\nrun: {generations: 4294967296}\n", NULL,
	 "2:20: run.generations:"},
	{"task: {kind: sphere}\nrun: {generations: 1, seed: "
	 "18446744073709551616}\n",
	 NULL, "2:29: run.seed:"},
	{"task: {kind: sphere}\nrun: {generations: 5, name: a/b}\n", NULL,
	 "2:29: run.name:"},
	{BASE "eval: {majority: [0]}\n", NULL, "3:19: eval.majority:"},
	/* unknown enum words */
	{"task: {kind: graph_coloring}\nrun: {generations: 10}\n", NULL,
	 "1:14: task.kind:"},
	{BASE "model:\n  attention: quadratic\n", NULL,
	 "4:14: model.attention:"},
	/* missing required keys point at the parent mapping */
	{"run: {generations: 10}\ntask: {num_tokens: 12}\n", NULL,
	 "2:7: task.kind:"},
	{"run: {generations: 10}\n", NULL, "1:1: task.kind:"},
	{"task: {kind: sphere}\nrun:\n  seed: 3\n", NULL,
	 "3:3: run.generations:"},
	/* cross-field rules point at the key that was set */
	{BASE "eval: {seeds: 10, majority: [1, 5, 30]}\n", NULL,
	 "3:29: eval.majority:"},
	{BASE "eval:\n  seeds: 3\n", NULL, "4:10: eval.majority:"},
	{"task: {kind: associative_recall}\nrun: {generations: 10}\n"
	 "model: {seed_encoding: {dim: 0}}\n",
	 NULL, "3:30: model.seed_encoding.dim:"},
	{"task: {kind: associative_recall, value_bits: 2, "
	 "exhaustive_values: 5}\nrun: {generations: 10}\n",
	 NULL, "1:68: task.exhaustive_values:"},
	{"task: {kind: gridworld}\nrun: {generations: 5}\n"
	 "es: {sigma: {interp: linear, points: [[0, 0.03], [10, 0.01]]}}\n",
	 NULL, "3:13: es.sigma:"},
	{BASE "model: {init_seed_scale: 0.5}\n", NULL,
	 "3:26: model.init_seed_scale: expected 0 without model.init_from"},
	{BASE "model: {init_from: a.safetensors, init_seed_scale: 0.5}\n",
	 "model.init_from=", "3:52: model.init_seed_scale: expected 0 without"},
	/* schedules */
	{BASE "es:\n  lr: {interp: linear, points: [[0, 0.01], [100, 0.005], "
	      "[100, 0.001]]}\n",
	 NULL, "4:59: es.lr.points[2]:"},
	{BASE "es: {lr: {interp: step, points: [[5, 0.01]]}}\n", NULL,
	 "3:35: es.lr.points[0]:"},
	{BASE "objective: {q: {interp: step, points: [[0, 1], [10, 0.5]]}}\n",
	 NULL, "3:53: objective.q.points[1]:"},
	{BASE "objective: {q: {interp: quadratic, points: [[0, 1]]}}\n", NULL,
	 "3:25: objective.q.interp:"},
	{BASE "objective: {q: {interp: step, points: [[0, 1]], foo: 1}}\n",
	 NULL, "3:49: objective.q.foo:"},
	{BASE "es:\n  lr: {interp: step, points: [[0,1],[1,1],[2,1],[3,1],"
	      "[4,1],[5,1],[6,1],[7,1],[8,1],[9,1],[10,1],[11,1],[12,1],"
	      "[13,1],[14,1],[15,1],[16,1]]}\n",
	 NULL, "4:30: es.lr.points:"},
	/* documents */
	{BASE "---\nfoo: 1\n", NULL, "3:1: (top level):"},
	/* --set overrides, on a valid file */
	{BASE, "es.sigma=abc",
	 "--set es.sigma=abc: es.sigma: expected a number > 0, got 'abc'"},
	{BASE, "es.sigmaa=1", "--set es.sigmaa=1: es.sigmaa:"},
	{BASE, "es.sigma", "--set es.sigma: expected key.path=value"},
	{BASE, "eval.majority=[1,3", "--set eval.majority=[1,3: yaml:"},
	{BASE, "es.population=3",
	 "--set es.population=3: es.population: expected an even integer "
	 ">= 2, got '3'"},
	{BASE, "eval.seeds=4", "--set eval.seeds=4: eval.majority:"},
	{BASE, "foo.bar=1", "--set foo.bar=1: foo.bar:"},
	{BASE, "model.foo.bar=1",
	 "--set model.foo.bar=1: model.foo.bar: expected a key of model ("},
	{BASE, "es.sigma.x=1",
	 "--set es.sigma.x=1: es.sigma.x: expected no key below es.sigma"},
	{BASE, "es.lr=", "--set es.lr=: es.lr: expected a number > 0, got ''"},
	{BASE, "task=sphere", "--set task=sphere: task:"},
	{BASE, "task.coloring_numerics=half",
	 "--set task.coloring_numerics=half: task.coloring_numerics: "
	 "expected one of float, double, got 'half'"},
	{"run: {generations: 10}\n"
	 "task: {kind: cycle_coloring, coloring_numerics: 32}\n", NULL,
	 "2:49: task.coloring_numerics: expected one of float, double"},
	{BASE, "model.seed_encoding={kind: bits, dim: 3, placemnt: every_token}",
	 "--set model.seed_encoding={kind: bits, dim: 3, placemnt: "
	 "every_token}: model.seed_encoding.placemnt:"},
	/* an override of task.kind re-resolves: the file's sigma schedule is
	 * now refused by the grid-world preset's pgpe */
	{BASE "es: {sigma: {interp: linear, points: [[0, 0.03], [10, 0.01]]}}\n",
	 "task.kind=gridworld", "3:13: es.sigma:"},
};

#define N_BAD (sizeof(bad) / sizeof(bad[0]))

START_TEST(config_bad_row)
{
	const struct bad_row *r = &bad[_i];
	struct config cfg;
	char err[RANDES_ERR_LEN], want[RANDES_ERR_LEN + 4096];
	const char *path;
	const char *ov[1] = {r->override};

	int rc = load(&cfg, "bad.yaml", r->yaml, ov, r->override ? 1 : 0, err,
		      &path);
	if (strncmp(r->prefix, "--set", 5) == 0)
		snprintf(want, sizeof(want), "%s", r->prefix);
	else
		snprintf(want, sizeof(want), "%s:%s", path, r->prefix);
	ck_assert_msg(rc == RANDES_ECONFIG, "row %d: rc %d (%s)", _i, rc, err);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
		      "row %d:\n  got  %s\n  want %s...", _i, err, want);
	/* Every message says what was expected (or names the syntax). */
	ck_assert_msg(strstr(err, "expected") || strstr(err, "yaml:"),
		      "row %d: %s", _i, err);
}
END_TEST

/* Full messages for a few rows: the form the user sees. */
START_TEST(config_bad_messages)
{
	struct config cfg;
	char err[RANDES_ERR_LEN], want[RANDES_ERR_LEN + 4096];
	const char *path;

	load(&cfg, "m.yaml", BASE "es: {population: 7}\n", NULL, 0, err, &path);
	snprintf(want, sizeof(want),
		 "%s:3:18: es.population: expected an even integer >= 2, "
		 "got '7'",
		 path);
	ck_assert_str_eq(err, want);

	load(&cfg, "m.yaml", BASE "model: {mlp: yes}\n", NULL, 0, err, &path);
	snprintf(want, sizeof(want),
		 "%s:3:14: model.mlp: expected true or false, got 'yes'", path);
	ck_assert_str_eq(err, want);

	load(&cfg, "m.yaml", BASE "objective: {variant: q_r}\n", NULL, 0, err,
	     &path);
	snprintf(want, sizeof(want),
		 "%s:3:22: objective.variant: expected one of E_r0, q_r0, "
		 "E_R, q_R, got 'q_r'",
		 path);
	ck_assert_str_eq(err, want);

	load(&cfg, "m.yaml", BASE "es: {sigma: \"0.02\"}\n", NULL, 0, err,
	     &path);
	snprintf(want, sizeof(want),
		 "%s:3:13: es.sigma: expected a number > 0, got '\"0.02\"'",
		 path);
	ck_assert_str_eq(err, want);

	load(&cfg, "m.yaml", "task: {kind: sphere}\nrun:\n  seed: 3\n", NULL,
	     0, err, &path);
	snprintf(want, sizeof(want),
		 "%s:3:3: run.generations: expected a required key (an "
		 "integer >= 1), got nothing",
		 path);
	ck_assert_str_eq(err, want);

	load(&cfg, "m.yaml", BASE "es: {beta1: 1.0}\n", NULL, 0, err, &path);
	snprintf(want, sizeof(want),
		 "%s:3:13: es.beta1: expected a number in [0, 1), got '1.0'",
		 path);
	ck_assert_str_eq(err, want);

	load(&cfg, "m.yaml", BASE "objective: {q: 0.5}\n", NULL, 0, err, &path);
	snprintf(want, sizeof(want),
		 "%s:3:16: objective.q: expected a number >= 1 or inf, got "
		 "'0.5'",
		 path);
	ck_assert_str_eq(err, want);

	load(&cfg, "m.yaml",
	     "task:\n  kind: cycle_coloring\nrun:\n  generations: 10\n"
	     "  generations: 20\n",
	     NULL, 0, err, &path);
	snprintf(want, sizeof(want),
		 "%s:5:3: run.generations: expected each key once, got "
		 "'generations' again (first at line 4)",
		 path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(config_bad_io)
{
	struct config cfg;
	char err[RANDES_ERR_LEN], path[4200];

	snprintf(path, sizeof(path), "%s/does-not-exist.yaml", scratch);
	ck_assert_int_eq(config_load_file(&cfg, path, NULL, 0, err),
			 RANDES_EIO);
	ck_assert_ptr_nonnull(strstr(err, "does-not-exist.yaml"));
	/* A directory is not a config either. */
	ck_assert_int_ne(config_load_file(&cfg, scratch, NULL, 0, err), 0);
}
END_TEST

/* YAML syntax errors carry libyaml's mark and problem text. */
START_TEST(config_bad_syntax)
{
	struct config cfg;
	char err[RANDES_ERR_LEN], want[RANDES_ERR_LEN + 4096];
	const char *path;

	/* "   run" is indented deeper than "kind": the ':' after it is a
	 * mapping value where none may start (line 3, column 7). */
	ck_assert_int_eq(load(&cfg, "s.yaml", "task:\n  kind: sphere\n   run: 1\n",
			      NULL, 0, err, &path),
			 RANDES_ECONFIG);
	snprintf(want, sizeof(want),
		 "%s:3:7: yaml: mapping values are not allowed in this context",
		 path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

	/* An unclosed flow sequence runs to the end of the stream. */
	ck_assert_int_eq(load(&cfg, "s.yaml", "task: [kind\n", NULL, 0, err,
			      &path),
			 RANDES_ECONFIG);
	snprintf(want, sizeof(want), "%s:2:1: yaml: did not find expected ',' "
				     "or ']' (while parsing a flow sequence "
				     "at line 1 column 7)",
		 path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Good configs: presets and overrides, checked by hand against PAPER.md     */
/* ------------------------------------------------------------------------ */

START_TEST(config_preset_coloring)
{
	struct config c;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(load(&c, "col3.yaml", BASE, NULL, 0, err, NULL), 0);
	ck_assert_str_eq(c.run.name, "col3");
	ck_assert_uint_eq(c.run.generations, 10);
	ck_assert_uint_eq(c.run.seed, 0);
	ck_assert_uint_eq(c.run.checkpoint_every, 50);
	ck_assert(c.run.progress_seconds == 0.0);
	ck_assert_int_eq(c.run.eval_at_end, 1);
	ck_assert_int_eq(c.task.kind, TASK_KIND_CYCLE_COLORING);
	ck_assert_uint_eq(c.task.num_vertices, 10);
	ck_assert_uint_eq(c.task.eval_max_cycles, 200000);
	ck_assert_int_eq(c.task.coloring_numerics, COLORING_NUMERICS_FLOAT);
	ck_assert_uint_eq(c.model.width, 16);
	ck_assert_uint_eq(c.model.layers, 2);
	ck_assert_uint_eq(c.model.heads, 1);
	ck_assert_uint_eq(c.model.key_size, 16);
	ck_assert_uint_eq(c.model.value_size, 16);
	ck_assert_int_eq(c.model.input_embedding, MODEL_EMBED_LINEAR);
	ck_assert_int_eq(c.model.attention, MODEL_ATTENTION_LINEAR);
	ck_assert_int_eq(c.model.mlp, 0);
	ck_assert_int_eq(c.model.layernorm, 0);
	ck_assert_int_eq(c.model.positional, MODEL_POSITIONAL_NONE);
	ck_assert_int_eq(c.model.seed_encoding.kind, RSE_KIND_UNIFORM);
	ck_assert_uint_eq(c.model.seed_encoding.dim, 1);
	ck_assert_int_eq(c.model.seed_encoding.placement,
			 RSE_PLACEMENT_PER_TOKEN);
	ck_assert(c.model.embedding_init_var == 0.1);
	ck_assert(c.model.weight_init_var == 1.0);
	ck_assert_int_eq(c.objective.variant, VARIANT_Q_R);
	ck_assert_uint_eq(c.objective.q.npoints, 0);
	ck_assert(c.objective.q.value == 10.0);
	ck_assert_uint_eq(c.objective.seeds, 10);
	ck_assert_uint_eq(c.objective.inputs, 256);
	ck_assert_int_eq(c.objective.adversary, ADVERSARY_SAMPLED);
	ck_assert_int_eq(c.es.strategy, ES_STRATEGY_OPENAI_ES);
	ck_assert_uint_eq(c.es.population, 128);
	ck_assert(c.es.sigma.value == 0.03);
	ck_assert(c.es.lr.value == 0.01);
	ck_assert_int_eq(c.es.optimizer, ES_OPTIMIZER_ADAM);
	ck_assert(c.es.beta1 == 0.9 && c.es.beta2 == 0.999 && c.es.eps == 1e-8);
	ck_assert(c.es.weight_decay == 0.0 && c.es.grad_clip == 0.0);
	ck_assert_int_eq(c.es.shaping, ES_SHAPING_CENTERED_RANKS);
	ck_assert(c.es.momentum == 0.9 && c.es.max_speed == 0.1);
	ck_assert_int_eq(c.es.assign, ES_ASSIGN_STATIC);
	ck_assert_uint_eq(c.es.chunk_pairs, 4);
	ck_assert_uint_eq(c.eval.seeds, 100);
	ck_assert_uint_eq(c.eval.n_majority, 3);
	ck_assert_uint_eq(c.eval.majority[0], 1);
	ck_assert_uint_eq(c.eval.majority[1], 5);
	ck_assert_uint_eq(c.eval.majority[2], 30);
	ck_assert_uint_eq(c.eval.majority_draws, 200);
	ck_assert_uint_eq(c.eval.max_inputs, 0);
	ck_assert_ptr_nonnull(strstr(c.path, "col3.yaml"));
}
END_TEST

START_TEST(config_preset_ar)
{
	struct config c;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(load(&c, "ar.yml",
			      "task: {kind: associative_recall}\n"
			      "run: {generations: 1}\n",
			      NULL, 0, err, NULL),
			 0);
	ck_assert_str_eq(c.run.name, "ar");
	ck_assert_uint_eq(c.task.num_tokens, 20);
	ck_assert_uint_eq(c.task.value_bits, 5);
	ck_assert_uint_eq(c.task.exhaustive_values, 4);
	ck_assert_uint_eq(c.task.eval_fillings, 16);
	ck_assert_uint_eq(c.model.width, 40);
	ck_assert_uint_eq(c.model.layers, 2);
	ck_assert_uint_eq(c.model.heads, 1);
	ck_assert_uint_eq(c.model.key_size, 5);
	ck_assert_uint_eq(c.model.value_size, 5);
	ck_assert_int_eq(c.model.input_embedding, MODEL_EMBED_MLP);
	ck_assert_int_eq(c.model.attention, MODEL_ATTENTION_LINEAR);
	ck_assert_int_eq(c.model.mlp, 0);
	ck_assert_uint_eq(c.model.mlp_ratio, 4);
	ck_assert_int_eq(c.model.layernorm, 0);
	ck_assert_int_eq(c.model.positional, MODEL_POSITIONAL_NONE);
	ck_assert_int_eq(c.model.seed_encoding.kind, RSE_KIND_BITS);
	ck_assert_uint_eq(c.model.seed_encoding.dim, 10);
	ck_assert_int_eq(c.model.seed_encoding.placement,
			 RSE_PLACEMENT_EVERY_TOKEN);
	ck_assert_uint_eq(c.model.index_dim, 32);
	ck_assert(c.model.embedding_init_var == 1.0);
	ck_assert(c.model.weight_init_var == 1.0);
	ck_assert(c.objective.q.value == 100.0);
	ck_assert_uint_eq(c.objective.seeds, 30);
	ck_assert_uint_eq(c.objective.inputs, 512);
	ck_assert_int_eq(c.objective.adversary, ADVERSARY_SAMPLED);
	ck_assert_uint_eq(c.es.population, 256);
	ck_assert(c.es.sigma.value == 0.02);
	ck_assert(c.es.lr.value == 0.01);
	ck_assert(c.es.beta1 == 0.9);
}
END_TEST

START_TEST(config_preset_grid)
{
	struct config c;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(load(&c, "g.yaml",
			      "task: {kind: gridworld}\nrun: {generations: 1}\n",
			      NULL, 0, err, NULL),
			 0);
	ck_assert_uint_eq(c.task.size, 5);
	ck_assert_uint_eq(c.task.episode_steps, 25);
	ck_assert_uint_eq(c.task.episodes, 2);
	ck_assert_uint_eq(c.model.width, 80);
	ck_assert_uint_eq(c.model.heads, 4);
	ck_assert_uint_eq(c.model.key_size, 10);
	ck_assert_uint_eq(c.model.value_size, 10);
	ck_assert_int_eq(c.model.input_embedding, MODEL_EMBED_LINEAR);
	ck_assert_int_eq(c.model.attention, MODEL_ATTENTION_SOFTMAX);
	ck_assert_int_eq(c.model.mlp, 1);
	ck_assert_uint_eq(c.model.mlp_ratio, 4);
	ck_assert_int_eq(c.model.layernorm, 1);
	ck_assert_int_eq(c.model.positional, MODEL_POSITIONAL_LEARNED);
	ck_assert_int_eq(c.model.seed_encoding.kind, RSE_KIND_NORMAL);
	ck_assert_uint_eq(c.model.seed_encoding.dim, 0);
	ck_assert_int_eq(c.model.seed_encoding.placement,
			 RSE_PLACEMENT_FIRST_TOKEN);
	ck_assert(isinf(c.objective.q.value) && c.objective.q.value > 0);
	ck_assert_uint_eq(c.objective.seeds, 10);
	ck_assert_uint_eq(c.objective.inputs, 24);
	ck_assert_int_eq(c.objective.adversary, ADVERSARY_EXHAUSTIVE);
	ck_assert_int_eq(c.es.strategy, ES_STRATEGY_PGPE);
	ck_assert_uint_eq(c.es.population, 300);
	ck_assert(c.es.sigma.value == 0.03);
	ck_assert(c.es.lr.value == 0.01);
	ck_assert(c.es.beta1 == 0.99 && c.es.beta2 == 0.999);
	ck_assert(c.es.eps == 1e-8);
	ck_assert(c.es.sigma_lr == 0.01);
	ck_assert(c.es.sigma_max_change == 0.2);
	ck_assert(c.es.sigma_min == 0.01);
}
END_TEST

START_TEST(config_preset_testfn)
{
	struct config c;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(load(&c, "r.yaml",
			      "task: {kind: rastrigin}\nrun: {generations: 1}\n",
			      NULL, 0, err, NULL),
			 0);
	ck_assert_int_eq(c.task.kind, TASK_KIND_RASTRIGIN);
	ck_assert_uint_eq(c.task.dim, 100);
	ck_assert_int_eq(c.es.strategy, ES_STRATEGY_OPENAI_ES);
	ck_assert_uint_eq(c.es.population, 64);
	ck_assert(c.es.sigma.value == 0.1);
	ck_assert(c.es.lr.value == 0.05);
	ck_assert_int_eq(c.objective.variant, VARIANT_E_R0);
	ck_assert_uint_eq(config_seeds_per_input(&c), 1);
}
END_TEST

/* Explicit values beat the preset; quoted enum words are words; q: inf. */
START_TEST(config_good_values)
{
	struct config c;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(
		load(&c, "v.yaml",
		     "# a comment\n"
		     "task:\n  kind: 'associative_recall'\n  num_tokens: 12\n"
		     "run:\n  generations: +7\n  seed: 18446744073709551615\n"
		     "  name: my-run_1.b\n  eval_at_end: false\n"
		     "objective:\n  q: .inf\n  variant: \"q_r0\"\n"
		     "es:\n  sigma: 2e-2\n  lr: .5\n  weight_decay: -0\n"
		     "eval:\n  majority: []\n",
		     NULL, 0, err, NULL),
		0);
	ck_assert_uint_eq(c.task.num_tokens, 12);
	ck_assert_uint_eq(c.run.generations, 7);
	ck_assert_uint_eq(c.run.seed, UINT64_MAX);
	ck_assert_str_eq(c.run.name, "my-run_1.b");
	ck_assert_int_eq(c.run.eval_at_end, 0);
	ck_assert(isinf(c.objective.q.value));
	ck_assert_int_eq(c.objective.variant, VARIANT_Q_R0);
	ck_assert(c.es.sigma.value == 0.02);
	ck_assert(c.es.lr.value == 0.5);
	ck_assert(c.es.weight_decay == 0.0 && signbit(c.es.weight_decay));
	ck_assert_uint_eq(c.eval.n_majority, 0);
	/* the rest is still the AR preset */
	ck_assert_uint_eq(c.model.width, 40);
}
END_TEST

/* An empty file is a config made of overrides alone; strings are named
 * "config". */
START_TEST(config_good_empty_and_string)
{
	struct config c;
	char err[RANDES_ERR_LEN];
	const char *ov[] = {"task.kind=sphere", "run.generations=3"};

	ck_assert_int_eq(load(&c, "empty.yaml", "", ov, 2, err, NULL), 0);
	ck_assert_int_eq(c.task.kind, TASK_KIND_SPHERE);
	ck_assert_str_eq(c.run.name, "empty");

	const char *y = "task: {kind: sphere}\nrun: {generations: 2}\n";
	ck_assert_int_eq(config_load_string(&c, y, strlen(y), "inline", NULL,
					    0, err),
			 0);
	ck_assert_str_eq(c.run.name, "config");
	ck_assert_str_eq(c.path, "");

	/* The file name is made safe for a directory name. */
	ck_assert_int_eq(load(&c, "my run+1.yaml", y, NULL, 0, err, NULL), 0);
	ck_assert_str_eq(c.run.name, "my_run_1");
}
END_TEST

START_TEST(config_overrides)
{
	struct config c;
	char err[RANDES_ERR_LEN];

	/* Flow collections, schedules, order (the last one wins). */
	const char *ov[] = {
		"eval.majority=[1,3]",
		"objective.q={interp: step, points: [[0,1],[100,16]]}",
		"es.sigma=0.5",
		"es.sigma=0.25",
		"model.seed_encoding={kind: bits, dim: 3}",
		"run.name=from-set",
	};
	ck_assert_int_eq(load(&c, "o.yaml", BASE, ov, 6, err, NULL), 0);
	ck_assert_uint_eq(c.eval.n_majority, 2);
	ck_assert_uint_eq(c.eval.majority[0], 1);
	ck_assert_uint_eq(c.eval.majority[1], 3);
	ck_assert_uint_eq(c.objective.q.npoints, 2);
	ck_assert_int_eq(c.objective.q.interp, SCHED_INTERP_STEP);
	ck_assert_uint_eq(c.objective.q.gen[1], 100);
	ck_assert(c.objective.q.val[1] == 16.0);
	ck_assert(c.es.sigma.value == 0.25);
	ck_assert_int_eq(c.model.seed_encoding.kind, RSE_KIND_BITS);
	ck_assert_uint_eq(c.model.seed_encoding.dim, 3);
	/* placement was not given: the colouring preset */
	ck_assert_int_eq(c.model.seed_encoding.placement,
			 RSE_PLACEMENT_PER_TOKEN);
	ck_assert_str_eq(c.run.name, "from-set");

	/* task.kind from --set: the grid preset for every absent key, the
	 * file's explicit values kept. */
	const char *ov2[] = {"task.kind=gridworld"};
	ck_assert_int_eq(load(&c, "o.yaml", BASE "model: {width: 24}\n", ov2, 1,
			      err, NULL),
			 0);
	ck_assert_int_eq(c.task.kind, TASK_KIND_GRIDWORLD);
	ck_assert_uint_eq(c.model.width, 24);
	ck_assert_uint_eq(c.model.heads, 4);
	ck_assert_int_eq(c.es.strategy, ES_STRATEGY_PGPE);
	ck_assert(isinf(c.objective.q.value));

	/* a required key from --set alone */
	const char *ov3[] = {"run.generations=9"};
	ck_assert_int_eq(load(&c, "o.yaml", "task: {kind: sphere}\n", ov3, 1,
			      err, NULL),
			 0);
	ck_assert_uint_eq(c.run.generations, 9);

	/* "key=" with nothing after it: the empty string, which clears a
	 * path key and is refused by every other key */
	const char *ov4[] = {"model.init_from="};
	ck_assert_int_eq(load(&c, "o.yaml",
			      BASE "model: {init_from: a/m.safetensors}\n",
			      ov4, 1, err, NULL),
			 0);
	ck_assert_str_eq(c.model.init_from, "");
	const char *ov5[] = {"run.name="};
	ck_assert_int_eq(load(&c, "o.yaml", BASE, ov5, 1, err, NULL),
			 RANDES_ECONFIG);
	ck_assert_msg(strstr(err, "--set run.name=: run.name: expected"),
		      "%s", err);

	/* a path into a sweep's run directory: randes sweep names runs with
	 * '=', ',' and '~'; the first '=' of --set ends the key */
	const char *ov6[] = {
		"model.init_from=runs/s/variant=q_R,q=10~92baf9da/m.safetensors"};
	ck_assert_int_eq(load(&c, "o.yaml", BASE, ov6, 1, err, NULL), 0);
	ck_assert_str_eq(c.model.init_from,
			 "runs/s/variant=q_R,q=10~92baf9da/m.safetensors");
	/* characters the YAML writer would have to escape stay refused */
	const char *ov7[] = {"model.init_from=runs/a b.safetensors"};
	ck_assert_int_eq(load(&c, "o.yaml", BASE, ov7, 1, err, NULL),
			 RANDES_ECONFIG);
	const char *ov8[] = {"model.init_from=runs/a\"b.safetensors"};
	ck_assert_int_eq(load(&c, "o.yaml", BASE, ov8, 1, err, NULL),
			 RANDES_ECONFIG);
}
END_TEST

/* config_apply_override on a loaded config: applied and re-validated; a
 * failing override leaves the config untouched. */
START_TEST(config_apply_override_test)
{
	struct config c, before;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(load(&c, "a.yaml", BASE, NULL, 0, err, NULL), 0);
	ck_assert_int_eq(config_apply_override(&c, "es.lr=0.125", err), 0);
	ck_assert(c.es.lr.value == 0.125);
	before = c;
	ck_assert_int_eq(config_apply_override(&c, "es.lr=0", err),
			 RANDES_ECONFIG);
	ck_assert_str_eq(err, "--set es.lr=0: es.lr: expected a number > 0, "
			      "got '0'");
	ck_assert_int_eq(memcmp(&c, &before, sizeof(c)), 0);
	/* cross-field: shrinking eval.seeds below a vote size */
	ck_assert_int_eq(config_apply_override(&c, "eval.seeds=20", err),
			 RANDES_ECONFIG);
	ck_assert_str_eq(err, "--set eval.seeds=20: eval.majority: expected "
			      "vote sizes <= eval.seeds (20), got '30'");
	ck_assert_int_eq(memcmp(&c, &before, sizeof(c)), 0);
}
END_TEST

START_TEST(config_validate_struct)
{
	struct config c;
	char err[RANDES_ERR_LEN];

	config_defaults(&c, TASK_KIND_CYCLE_COLORING);
	c.run.generations = 5;
	ck_assert_int_eq(config_validate(&c, err), 0);
	c.es.population = 7;
	ck_assert_int_eq(config_validate(&c, err), RANDES_ECONFIG);
	ck_assert_str_eq(err, "es.population: expected an even integer >= 2, "
			      "got '7'");
	c.es.population = 8;
	c.objective.q.npoints = 2;
	c.objective.q.gen[0] = 0;
	c.objective.q.gen[1] = 0; /* not increasing */
	c.objective.q.val[0] = c.objective.q.val[1] = 2;
	ck_assert_int_eq(config_validate(&c, err), RANDES_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "objective.q:"));
	c.objective.q.gen[1] = 10;
	ck_assert_int_eq(config_validate(&c, err), 0);
	c.es.sigma.value = NAN;
	ck_assert_int_eq(config_validate(&c, err), RANDES_ECONFIG);
	c.es.sigma.value = 0.1;
	c.task.kind = (enum task_kind)17;
	ck_assert_int_eq(config_validate(&c, err), RANDES_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "task.kind:"));
	c.task.kind = TASK_KIND_CYCLE_COLORING;
	c.run.generations = 0; /* the defaults alone are not a config */
	ck_assert_int_eq(config_validate(&c, err), RANDES_ECONFIG);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Round trip                                                                */
/* ------------------------------------------------------------------------ */

/* load(write(c)) == c bytewise (path aside), and write is a fixed point. */
static void check_round_trip(const struct config *c, const char *what)
{
	struct config back;
	char err[RANDES_ERR_LEN];
	char *text = config_to_yaml(c), *again;

	ck_assert_ptr_nonnull(text);
	int rc = config_load_string(&back, text, strlen(text), what, NULL, 0,
				    err);
	ck_assert_msg(rc == 0, "%s: reload failed: %s\n%s", what, err, text);
	memcpy(back.path, c->path, sizeof(back.path));
	ck_assert_msg(memcmp(&back, c, sizeof(back)) == 0,
		      "%s: round trip differs\n%s", what, text);
	again = config_to_yaml(&back);
	ck_assert_ptr_nonnull(again);
	ck_assert_str_eq(again, text);
	free(again);
	free(text);
}

START_TEST(config_files_load_and_round_trip)
{
	const char *dir_env = getenv("RANDES_SOURCE_ROOT");
	char dir[4096], path[4400];
	struct config c;
	char err[RANDES_ERR_LEN];
	size_t n = 0;

	snprintf(dir, sizeof(dir), "%s/configs",
		 dir_env && *dir_env ? dir_env : RANDES_SOURCE_ROOT);
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		int rc = config_load_file(&c, path, NULL, 0, err);
		ck_assert_msg(rc == 0, "%s: %s", e->d_name, err);
		check_round_trip(&c, e->d_name);
		n++;
	}
	closedir(d);
	/* default + 3 tasks x 4 variants + sphere + rastrigin */
	ck_assert_uint_ge(n, 15);
}
END_TEST

/* The paper's settings in the per-variant files. */
START_TEST(config_files_settings)
{
	static const char *variants[] = {"E_r0", "q_r0", "E_R", "q_R"};
	char path[4400], err[RANDES_ERR_LEN];
	struct config c;

	for (int v = 0; v < 4; v++) {
		snprintf(path, sizeof(path), "%s/configs/ar-%s.yaml",
			 RANDES_SOURCE_ROOT, variants[v]);
		ck_assert_msg(config_load_file(&c, path, NULL, 0, err) == 0,
			      "%s", err);
		ck_assert_int_eq(c.objective.variant, v);
		ck_assert_str_eq(config_variant_name(c.objective.variant),
				 variants[v]);
		ck_assert_uint_eq(c.task.num_tokens, 12);
		ck_assert_uint_eq(c.objective.seeds, v >= 2 ? 10 : 1);
		ck_assert_int_eq(c.objective.adversary, ADVERSARY_EXHAUSTIVE);
		ck_assert_uint_eq(c.es.population, 1024);

		snprintf(path, sizeof(path), "%s/configs/coloring-%s.yaml",
			 RANDES_SOURCE_ROOT, variants[v]);
		ck_assert_msg(config_load_file(&c, path, NULL, 0, err) == 0,
			      "%s", err);
		ck_assert_int_eq(c.objective.variant, v);
		ck_assert_uint_eq(c.objective.inputs, 256);

		snprintf(path, sizeof(path), "%s/configs/grid-%s.yaml",
			 RANDES_SOURCE_ROOT, variants[v]);
		ck_assert_msg(config_load_file(&c, path, NULL, 0, err) == 0,
			      "%s", err);
		ck_assert_int_eq(c.objective.variant, v);
		ck_assert_int_eq(c.es.strategy, ES_STRATEGY_OPENAI_ES);
		ck_assert_uint_eq(c.es.population, 64);
		ck_assert_uint_eq(c.model.width, 32);
	}
	snprintf(path, sizeof(path), "%s/configs/default.yaml",
		 RANDES_SOURCE_ROOT);
	ck_assert_msg(config_load_file(&c, path, NULL, 0, err) == 0, "%s", err);
	ck_assert_str_eq(c.run.name, "default");
	ck_assert_int_eq(c.task.kind, TASK_KIND_CYCLE_COLORING);
	ck_assert_uint_eq(c.run.generations, 3000);
	ck_assert_uint_eq(c.objective.inputs, 256);
	ck_assert_uint_eq(c.es.population, 128);
}
END_TEST

/* Edge values drawn from the counter RNG: extreme integers, subnormal and
 * huge reals, -0, inf, full schedules, every enum value. */
static double edge_double(struct rng_stream *s, double lo)
{
	static const double picks[] = {1e-300, 4.9406564584124654e-324,
				       0.1 + 0.2, 1.0 / 3.0, 1e300, 0.5,
				       2.2250738585072014e-308, 123456789.125};
	uint32_t k = rng_below(s, 10);
	double v = k < 8 ? picks[k] : rng_uniform_double(s) * 1e3;
	return v > lo ? v : lo + 0.5 + v;
}

START_TEST(config_round_trip_edges)
{
	for (uint32_t i = 0; i < 300; i++) {
		struct rng_stream s;
		struct config c;
		char err[RANDES_ERR_LEN], what[64];

		rng_stream_init(&s, 2024, RNG_PURPOSE_TEST, 1, i);
		config_defaults(&c, (enum task_kind)rng_below(&s, 5));
		c.run.generations = rng_below(&s, 2) ? UINT32_MAX
						     : 1 + rng_below(&s, 1000);
		c.run.seed = rng_below(&s, 3) ? rng_u64(&s) : UINT64_MAX;
		c.run.progress_seconds = rng_below(&s, 2) ? 0.0
							  : edge_double(&s, 0);
		c.run.eval_at_end = (int)rng_below(&s, 2);
		/* a name from the allowed charset, 1..127 characters */
		static const char cs[] = "abcXYZ019._-";
		size_t len = 1 + rng_below(&s, 127);
		memset(c.run.name, 0, sizeof(c.run.name));
		for (size_t k = 0; k < len; k++)
			c.run.name[k] = cs[rng_below(&s, sizeof(cs) - 1)];
		c.task.num_tokens = 2 + rng_below(&s, 63);
		c.model.width = 1 + rng_below(&s, 4096);
		c.model.attention = (enum model_attention)rng_below(&s, 2);
		c.model.positional = (enum model_positional)rng_below(&s, 3);
		c.model.seed_encoding.kind = (enum rse_kind)rng_below(&s, 3);
		c.model.embedding_init_var = edge_double(&s, 0);
		c.es.weight_decay = rng_below(&s, 2) ? -0.0 : edge_double(&s, 0);
		c.es.grad_clip = edge_double(&s, 0);
		c.es.beta2 = rng_uniform_double(&s);
		c.es.optimizer = (enum es_optimizer)rng_below(&s, 3);
		c.es.shaping = (enum es_shaping)rng_below(&s, 3);
		c.es.assign = (enum es_assign)rng_below(&s, 2);
		c.task.coloring_numerics =
			(enum coloring_numerics)rng_below(&s, 2);
		c.objective.variant = (enum objective_variant)rng_below(&s, 4);
		/* q: a constant (maybe inf) or a full schedule ending in inf */
		struct sched *q = &c.objective.q;
		memset(q, 0, sizeof(*q));
		if (rng_below(&s, 2)) {
			q->value = rng_below(&s, 2) ? HUGE_VAL
						    : edge_double(&s, 1);
		} else {
			q->npoints = 1 + rng_below(&s, SCHED_MAX_POINTS);
			q->interp = (enum sched_interp)rng_below(&s, 3);
			uint32_t g = 0;
			for (unsigned k = 0; k < q->npoints; k++) {
				q->gen[k] = g;
				g += 1 + rng_below(&s, 100000);
				q->val[k] = edge_double(&s, 1);
			}
			q->val[q->npoints - 1] = HUGE_VAL;
			q->value = q->val[0];
		}
		if (c.es.strategy != ES_STRATEGY_PGPE && rng_below(&s, 2)) {
			struct sched *sg = &c.es.sigma;
			memset(sg, 0, sizeof(*sg));
			sg->npoints = SCHED_MAX_POINTS;
			sg->interp = SCHED_INTERP_COSINE;
			for (unsigned k = 0; k < sg->npoints; k++) {
				sg->gen[k] = k * 1000u + (k ? rng_below(&s, 999)
							    : 0);
				sg->val[k] = edge_double(&s, 0);
			}
			sg->value = sg->val[0];
		}
		c.eval.seeds = 1 + rng_below(&s, 1000);
		c.eval.n_majority = rng_below(&s, CONFIG_MAX_MAJORITY + 1);
		memset(c.eval.majority, 0, sizeof(c.eval.majority));
		for (unsigned k = 0; k < c.eval.n_majority; k++)
			c.eval.majority[k] = 1 + rng_below(&s, c.eval.seeds);

		ck_assert_msg(config_validate(&c, err) == 0, "case %u: %s", i,
			      err);
		snprintf(what, sizeof(what), "edge case %u", i);
		check_round_trip(&c, what);
	}
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Schedules                                                                 */
/* ------------------------------------------------------------------------ */

static struct sched mk(enum sched_interp interp, unsigned n,
		       const uint32_t *gen, const double *val)
{
	struct sched s;

	memset(&s, 0, sizeof(s));
	s.interp = interp;
	s.npoints = n;
	for (unsigned i = 0; i < n; i++) {
		s.gen[i] = gen[i];
		s.val[i] = val[i];
	}
	s.value = n ? val[0] : 0;
	return s;
}

START_TEST(config_sched_values)
{
	struct sched c;
	memset(&c, 0, sizeof(c));
	c.value = 0.25;
	ck_assert(sched_at(&c, 0) == 0.25);
	ck_assert(sched_at(&c, UINT64_MAX) == 0.25);

	const uint32_t g3[] = {0, 100, 300};
	const double v3[] = {1, 16, 100};
	struct sched st = mk(SCHED_INTERP_STEP, 3, g3, v3);
	ck_assert(sched_at(&st, 0) == 1);
	ck_assert(sched_at(&st, 99) == 1);
	ck_assert(sched_at(&st, 100) == 16);
	ck_assert(sched_at(&st, 299) == 16);
	ck_assert(sched_at(&st, 300) == 100);
	ck_assert(sched_at(&st, 1000000000000ull) == 100);

	const uint32_t g2[] = {0, 100};
	const double v2[] = {0.03, 0.01};
	struct sched li = mk(SCHED_INTERP_LINEAR, 2, g2, v2);
	ck_assert(fabs(sched_at(&li, 50) - 0.02) < 1e-15);
	ck_assert(fabs(sched_at(&li, 25) - 0.025) < 1e-15);
	ck_assert(fabs(sched_at(&li, 99) - 0.0102) < 1e-15);
	ck_assert(sched_at(&li, 100) == 0.01);
	ck_assert(sched_at(&li, 5000) == 0.01);

	const uint32_t gv[] = {0, 10, 20};
	const double vv[] = {0, 10, 0};
	struct sched tri = mk(SCHED_INTERP_LINEAR, 3, gv, vv);
	ck_assert(sched_at(&tri, 5) == 5);
	ck_assert(sched_at(&tri, 10) == 10);
	ck_assert(sched_at(&tri, 15) == 5);
	ck_assert(sched_at(&tri, 21) == 0);

	/* half-cosine from 1 to 0 over [0, 100]:
	 * v(t) = (1 + cos(pi t)) / 2; t = 1/4 -> (1 + sqrt(2)/2) / 2. */
	const double vc[] = {1, 0};
	struct sched co = mk(SCHED_INTERP_COSINE, 2, g2, vc);
	ck_assert(sched_at(&co, 0) == 1);
	ck_assert(fabs(sched_at(&co, 25) - 0.85355339059327373) < 1e-15);
	ck_assert(fabs(sched_at(&co, 50) - 0.5) < 1e-15);
	ck_assert(fabs(sched_at(&co, 75) - 0.14644660940672627) < 1e-15);
	ck_assert(sched_at(&co, 100) == 0);

	/* the first point need not be at 0 for the pure function: before it
	 * the first value holds */
	const uint32_t gl[] = {10, 20};
	const double vl[] = {3, 5};
	struct sched late = mk(SCHED_INTERP_LINEAR, 2, gl, vl);
	ck_assert(sched_at(&late, 0) == 3);
	ck_assert(sched_at(&late, 10) == 3);
	ck_assert(sched_at(&late, 15) == 4);

	/* inf: an interval towards inf holds its left value, then inf */
	const double vi[] = {1, HUGE_VAL};
	struct sched qi = mk(SCHED_INTERP_LINEAR, 2, g2, vi);
	ck_assert(sched_at(&qi, 0) == 1);
	ck_assert(sched_at(&qi, 99) == 1);
	ck_assert(isinf(sched_at(&qi, 100)));
	qi.interp = SCHED_INTERP_COSINE;
	ck_assert(sched_at(&qi, 50) == 1);

	/* one point: a constant */
	struct sched one = mk(SCHED_INTERP_COSINE, 1, g2, v2);
	ck_assert(sched_at(&one, 0) == 0.03 && sched_at(&one, 77) == 0.03);
}
END_TEST

/* A schedule read from YAML evaluates as written. */
START_TEST(config_sched_from_yaml)
{
	struct config c;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(
		load(&c, "s.yaml",
		     BASE "es:\n  sigma: {interp: linear, points: [[0, 0.04], "
			  "[200, 0.02]]}\n"
			  "objective:\n  q:\n    interp: step\n    points:\n"
			  "      - [0, 1]\n      - [50, 16]\n      - [80, inf]\n",
		     NULL, 0, err, NULL),
		0);
	ck_assert_uint_eq(c.es.sigma.npoints, 2);
	ck_assert(fabs(sched_at(&c.es.sigma, 100) - 0.03) < 1e-15);
	ck_assert(config_q_at(&c, 49) == 1);
	ck_assert(config_q_at(&c, 50) == 16);
	ck_assert(isinf(config_q_at(&c, 80)));
	check_round_trip(&c, "schedules");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Helpers and the locked hash                                               */
/* ------------------------------------------------------------------------ */

START_TEST(config_variant_semantics)
{
	struct config c;

	config_defaults(&c, TASK_KIND_ASSOCIATIVE_RECALL);
	c.run.generations = 1;
	/* E_* always use q = 1; q_* follow objective.q */
	c.objective.variant = VARIANT_E_R;
	ck_assert(config_q_at(&c, 0) == 1.0);
	ck_assert_uint_eq(config_seeds_per_input(&c), 30);
	ck_assert_int_eq(config_uses_r0(&c), 0);
	c.objective.variant = VARIANT_E_R0;
	ck_assert(config_q_at(&c, 0) == 1.0);
	ck_assert_uint_eq(config_seeds_per_input(&c), 1);
	ck_assert_int_eq(config_uses_r0(&c), 1);
	c.objective.variant = VARIANT_Q_R0;
	ck_assert(config_q_at(&c, 0) == 100.0);
	ck_assert_uint_eq(config_seeds_per_input(&c), 1);
	ck_assert_int_eq(config_uses_r0(&c), 1);
	c.objective.variant = VARIANT_Q_R;
	ck_assert(config_q_at(&c, 12345) == 100.0);
	ck_assert_uint_eq(config_seeds_per_input(&c), 30);
	ck_assert_int_eq(config_uses_r0(&c), 0);

	ck_assert_str_eq(config_task_kind_name(TASK_KIND_GRIDWORLD),
			 "gridworld");
	ck_assert_str_eq(config_task_kind_name((enum task_kind)99), "unknown");
	ck_assert_str_eq(config_variant_name(VARIANT_E_R0), "E_r0");
	ck_assert_str_eq(config_strategy_name(ES_STRATEGY_PGPE), "pgpe");
}
END_TEST

static const struct hash_row {
	const char *override;
	int locked; /* 1: must change the hash and be named by diff */
	const char *key;
} hash_rows[] = {
	{"model.width=17", 1, "model.width"},
	{"task.num_vertices=11", 1, "task.num_vertices"},
	{"run.seed=1", 1, "run.seed"},
	{"es.population=130", 1, "es.population"},
	{"es.optimizer=sgd", 1, "es.optimizer"},
	{"model.seed_encoding.dim=2", 1, "model.seed_encoding.dim"},
	{"model.embedding_init_var=0.2", 1, "model.embedding_init_var"},
	{"model.mlp=true", 1, "model.mlp"},
	{"es.sigma=0.5", 0, ""},
	{"es.lr={interp: linear, points: [[0, 0.1], [9, 0.2]]}", 0, ""},
	{"run.generations=99", 0, ""},
	{"run.name=other", 0, ""},
	{"objective.q=3", 0, ""},
	{"objective.variant=E_R", 0, ""},
	{"eval.seeds=50", 0, ""},
	{"es.shaping=none", 0, ""},
	/* keys of other task kinds, and evaluation-only keys, do not fix the
	 * meaning of a colouring run's state */
	{"task.size=7", 0, ""},
	{"task.num_tokens=9", 0, ""},
	{"task.dim=5", 0, ""},
	{"task.eval_max_cycles=1000", 0, ""},
	{"task.eval_fillings=3", 0, ""},
	{"task.kind=gridworld", 1, "task.kind"},
	/* the arithmetic of the colouring scores changes the trained state */
	{"task.coloring_numerics=double", 1, "task.coloring_numerics"},
};

START_TEST(config_hash_locked_row)
{
	const struct hash_row *r = &hash_rows[_i];
	struct config a, b;
	char err[RANDES_ERR_LEN], key[64];

	ck_assert_int_eq(load(&a, "h.yaml", BASE, NULL, 0, err, NULL), 0);
	b = a;
	ck_assert_msg(config_apply_override(&b, r->override, err) == 0, "%s",
		      err);
	ck_assert_int_eq(config_diff_locked(&a, &b, key, sizeof(key)),
			 r->locked);
	ck_assert_str_eq(key, r->key);
	if (r->locked)
		ck_assert_msg(config_hash_locked(&a) != config_hash_locked(&b),
			      "%s did not change the hash", r->override);
	else
		ck_assert_msg(config_hash_locked(&a) == config_hash_locked(&b),
			      "%s changed the hash", r->override);
}
END_TEST

/* config_diff_text names every changed key, locked or not, in the order
 * of docs/config.md, with both values as config.yaml writes them. */
START_TEST(config_diff_text_lists_changes)
{
	struct config a, b;
	char err[RANDES_ERR_LEN], text[256], tiny[12];

	ck_assert_int_eq(load(&a, "d.yaml", BASE, NULL, 0, err, NULL), 0);
	b = a;
	ck_assert_uint_eq(config_diff_text(&a, &b, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "");
	ck_assert_int_eq(config_apply_override(&b, "es.lr=0.002", err), 0);
	ck_assert_int_eq(config_apply_override(&b, "run.generations=25", err),
			 0);
	ck_assert_int_eq(config_apply_override(&b, "eval.majority=[1, 3]",
					       err), 0);
	ck_assert_int_eq(config_apply_override(&b, "es.sigma={interp: step, "
					       "points: [[0, 0.1], [5, 0.05]]}",
					       err), 0);
	ck_assert_uint_eq(config_diff_text(&a, &b, text, sizeof(text)), 4);
	ck_assert_str_eq(text, "run.generations 10 -> 25, es.sigma 0.03 -> "
			       "{interp: step, points: [[0, 0.1], [5, 0.05]]}, "
			       "es.lr 0.01 -> 0.002, "
			       "eval.majority [1, 5, 30] -> [1, 3]");
	/* a short buffer is cut, the count stays */
	ck_assert_uint_eq(config_diff_text(&a, &b, tiny, sizeof(tiny)), 4);
	ck_assert_str_eq(tiny, "run.generat");
	ck_assert_uint_eq(config_diff_text(&a, &b, NULL, 0), 4);
}
END_TEST

START_TEST(config_hash_canonical)
{
	struct config a, b;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(load(&a, "h.yaml", BASE, NULL, 0, err, NULL), 0);
	/* The same values from a differently written file. */
	ck_assert_int_eq(load(&b, "other.yaml",
			      "run:\n  generations: 10\ntask:\n"
			      "  kind: cycle_coloring\nmodel:\n  width: 16\n",
			      NULL, 0, err, NULL),
			 0);
	ck_assert(config_hash_locked(&a) == config_hash_locked(&b));
	ck_assert_int_eq(config_diff_locked(&a, &b, NULL, 0), 0);

	/* Padding bytes are not hashed: struct config_model has 4 bytes of
	 * padding between index_dim and the first double on x86-64. */
	size_t from = offsetof(struct config_model, index_dim) +
		      sizeof(uint32_t);
	size_t to = offsetof(struct config_model, embedding_init_var);
	if (to > from) {
		memset((char *)&b.model + from, 0xab, to - from);
		ck_assert(config_hash_locked(&a) == config_hash_locked(&b));
	}

	/* Each kind's preset hashes differently. */
	uint64_t h[5];
	for (int k = 0; k < 5; k++) {
		config_defaults(&a, (enum task_kind)k);
		h[k] = config_hash_locked(&a);
		for (int j = 0; j < k; j++)
			ck_assert(h[j] != h[k]);
	}
}
END_TEST

/* Known answers from real runs: results/recall/q_R-N12-config.yaml is the
 * config of a run started under randes 5961341, whose checkpoints carry the
 * locked-key hash 89a30e65f6872663 (read from their header); the current
 * hash of the same config is 9b33ffd409d30104 (what `randes eval` of that
 * run reported before the loaders accepted the old hash). */
START_TEST(config_hash_v1_known_answer)
{
	char path[4400], err[RANDES_ERR_LEN];
	struct config c;

	snprintf(path, sizeof(path), "%s/results/recall/q_R-N12-config.yaml",
		 RANDES_SOURCE_ROOT);
	ck_assert_msg(config_load_file(&c, path, NULL, 0, err) == 0, "%s", err);
	ck_assert_uint_eq(config_hash_locked_v1(&c), 0x89a30e65f6872663ull);
	ck_assert_uint_eq(config_hash_locked(&c), 0x9b33ffd409d30104ull);

	/* v1 hashed the evaluation-only keys and the keys of other task
	 * kinds; the current hash does not. */
	struct config d = c;
	d.task.eval_fillings += 1;
	ck_assert(config_hash_locked(&d) == config_hash_locked(&c));
	ck_assert(config_hash_locked_v1(&d) != config_hash_locked_v1(&c));
	d = c;
	d.task.size += 1; /* a grid-world key, in a recall run */
	ck_assert(config_hash_locked(&d) == config_hash_locked(&c));
	ck_assert(config_hash_locked_v1(&d) != config_hash_locked_v1(&c));
}
END_TEST

/* task.coloring_numerics came after colouring checkpoints were written:
 * stated as double (results/coloring/q_R/config.yaml does) it leaves the
 * hashes as randes computed them before the key existed (read with the
 * build of commit 1577e33), so those checkpoints still resume; float, the
 * default, is a different run. */
START_TEST(config_hash_coloring_numerics_known_answer)
{
	char path[4400], err[RANDES_ERR_LEN];
	struct config c, d;

	snprintf(path, sizeof(path), "%s/results/coloring/q_R/config.yaml",
		 RANDES_SOURCE_ROOT);
	ck_assert_msg(config_load_file(&c, path, NULL, 0, err) == 0, "%s", err);
	ck_assert_int_eq(c.task.coloring_numerics, COLORING_NUMERICS_DOUBLE);
	ck_assert_uint_eq(config_hash_locked(&c), 0xfec4420541ada33eull);
	ck_assert_uint_eq(config_hash_locked_v1(&c), 0xb9f431bbf0bd0bccull);
	d = c;
	d.task.coloring_numerics = COLORING_NUMERICS_FLOAT;
	ck_assert(config_hash_locked(&d) != config_hash_locked(&c));
	ck_assert(config_hash_locked_v1(&d) != config_hash_locked_v1(&c));
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("config:bad");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, config_bad_row, 0, (int)N_BAD);
	tcase_add_test(tc, config_bad_messages);
	tcase_add_test(tc, config_bad_io);
	tcase_add_test(tc, config_bad_syntax);
	suite_add_tcase(s, tc);

	tc = tcase_create("config:good");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_preset_coloring);
	tcase_add_test(tc, config_preset_ar);
	tcase_add_test(tc, config_preset_grid);
	tcase_add_test(tc, config_preset_testfn);
	tcase_add_test(tc, config_good_values);
	tcase_add_test(tc, config_good_empty_and_string);
	tcase_add_test(tc, config_validate_struct);
	suite_add_tcase(s, tc);

	tc = tcase_create("config:override");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_overrides);
	tcase_add_test(tc, config_apply_override_test);
	suite_add_tcase(s, tc);

	tc = tcase_create("config:roundtrip");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_files_load_and_round_trip);
	tcase_add_test(tc, config_files_settings);
	tcase_add_test(tc, config_round_trip_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("config:sched");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_sched_values);
	tcase_add_test(tc, config_sched_from_yaml);
	suite_add_tcase(s, tc);

	tc = tcase_create("config:hash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_variant_semantics);
	tcase_add_test(tc, config_hash_v1_known_answer);
	tcase_add_test(tc, config_hash_coloring_numerics_known_answer);
	tcase_add_loop_test(tc, config_hash_locked_row, 0,
			    (int)(sizeof(hash_rows) / sizeof(hash_rows[0])));
	tcase_add_test(tc, config_diff_text_lists_changes);
	tcase_add_test(tc, config_hash_canonical);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
