/*
 * test-regress: the fuzzers' findings and corpora, replayed in every test
 * run (and under ASan + UBSan by scripts/test's second pass).
 *
 *   - regress:corpus  every committed seed of tests/fuzz/corpus/<target>/
 *     goes through the same contract checks the fuzz target applies
 *     (tests/fuzz/fuzz-*.c are compiled into this file), so a change that
 *     breaks a parser's contract on a known input fails here, not only
 *     under the fuzzer;
 *   - regress:findings  each input a fuzzer found that broke a contract,
 *     embedded as bytes, with the exact outcome the fix gives it (not just
 *     "no crash"); docs/reliability.md lists them.
 *   - regress:sanity  the contract checks themselves can fail: a refusal
 *     without a message, a state changed by a refused call, ... abort.
 */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"
#include "testutil.h"

#include "fuzz/fuzz-checkpoint.c"
#include "fuzz/fuzz-config.c"
#include "fuzz/fuzz-safetensors.c"
#include "fuzz/fuzz-set.c"

/* --- corpus replay ------------------------------------------------------ */

static const struct {
	const char *target;
	int (*one)(const uint8_t *data, size_t size);
	size_t min_files; /* the committed corpus holds at least this many */
} targets[] = {
	{"config", fuzz_config_one, 15},
	{"set", fuzz_set_one, 20},
	{"checkpoint", fuzz_checkpoint_one, 4},
	{"safetensors", fuzz_safetensors_one, 2},
};
#define N_TARGETS (sizeof(targets) / sizeof(targets[0]))

START_TEST(corpus_replay)
{
	char dir[4096], path[4096 + 256];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
		 RANDES_SOURCE_ROOT, targets[_i].target);
	d = opendir(dir);
	ck_assert_msg(d != NULL, "no corpus directory %s", dir);
	while ((e = readdir(d)) != NULL) {
		size_t len = 0;
		char *data;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		data = tu_read_file(path, &len);
		ck_assert_msg(data != NULL, "cannot read %s", path);
		/* Aborts (a test error naming the contract) on a violation. */
		targets[_i].one((const uint8_t *)data, len);
		free(data);
		n++;
	}
	closedir(d);
	ck_assert_msg(n >= targets[_i].min_files,
		      "%s: %zu corpus files, expected at least %zu", dir, n,
		      targets[_i].min_files);
}
END_TEST

/* Every file in configs/ is accepted (also a seed of fuzz-config). */
START_TEST(corpus_configs_accepted)
{
	char dir[4096], path[4096 + 256], err[RANDES_ERR_LEN];
	static struct config cfg;
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/config",
		 RANDES_SOURCE_ROOT);
	d = opendir(dir);
	ck_assert(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, "bad-", 4) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ck_assert_msg(config_load_file(&cfg, path, NULL, 0, err) == 0,
			      "%s", err);
		n++;
	}
	closedir(d);
	ck_assert_uint_ge(n, 15);
}
END_TEST

/* --- findings ------------------------------------------------------------ */

/* (none yet: each fuzzer finding gets a test here, the input embedded as
 * bytes, asserting the outcome of the fix.) */

/* --- the checks can fail --------------------------------------------------- */

/* A refusal without a message is a contract violation. */
START_TEST(sanity_empty_message)
{
	char err[RANDES_ERR_LEN];

	memset(err, FUZZ_ERR_FILL, sizeof(err));
	fuzz_check_message("sanity", "a call that wrote nothing", err);
}
END_TEST

START_TEST(sanity_good_message)
{
	fuzz_check_message("sanity", "a call with a message", "x: y");
}
END_TEST

/* An accepted config that does not validate (here a population made odd
 * behind the loader's back) must abort the round-trip check. */
START_TEST(sanity_roundtrip_catches_invalid)
{
	static struct config cfg;
	static const char y[] = "run: {generations: 5}\ntask: {kind: sphere}\n";
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(config_load_string(&cfg, y, strlen(y), "s.yaml", NULL,
					    0, err),
			 0);
	fuzz_config_roundtrip("sanity", &cfg); /* valid: returns */
	cfg.es.population = 7;
	fuzz_config_roundtrip("sanity", &cfg); /* aborts */
}
END_TEST

static Suite *regress_suite(void)
{
	Suite *s = suite_create("regress");
	TCase *tc;

	tc = tcase_create("regress:corpus");
	tcase_add_loop_test(tc, corpus_replay, 0, (int)N_TARGETS);
	tcase_add_test(tc, corpus_configs_accepted);
	suite_add_tcase(s, tc);

	tc = tcase_create("regress:findings");
	suite_add_tcase(s, tc);

	tc = tcase_create("regress:sanity");
	tcase_add_test_raise_signal(tc, sanity_empty_message, SIGABRT);
	tcase_add_test(tc, sanity_good_message);
	tcase_add_test_raise_signal(tc, sanity_roundtrip_catches_invalid,
				    SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(regress_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
