/*
 * test-signals: the stop-request handlers.  The first SIGTERM/SIGINT/
 * SIGUSR1/SIGUSR2 is recorded and the process keeps running; a repeat
 * within SIGNALS_REPEAT_SECONDS is the same request delivered twice and is
 * ignored; a second signal after that ends the process at once with
 * 128 + signal.  Each case runs in a forked child (Check's default), whose
 * exit status Check asserts.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "master/signals.h"

START_TEST(signals_first_is_recorded)
{
	signals_reset();
	signals_install();
	ck_assert_int_eq(signals_stop_requested(), 0);
	raise(SIGUSR1);
	ck_assert_int_eq(signals_stop_requested(), SIGUSR1);
	/* A quick repeat (another signal even) is the same request. */
	raise(SIGTERM);
	raise(SIGUSR1);
	ck_assert_int_eq(signals_stop_requested(), SIGUSR1);
	signals_reset();
	ck_assert_int_eq(signals_stop_requested(), 0);
}
END_TEST

/* Exits with 128 + SIGTERM = 143 from inside the handler. */
START_TEST(signals_second_exits_at_once)
{
	signals_reset();
	signals_install();
	raise(SIGINT);
	ck_assert_int_eq(signals_stop_requested(), SIGINT);
	sleep(SIGNALS_REPEAT_SECONDS + 1);
	raise(SIGTERM);
	/* Not reached: the handler called _exit(143). */
	exit(1);
}
END_TEST

static Suite *signals_suite(void)
{
	Suite *s = suite_create("signals");
	TCase *tc = tcase_create("signals:stop");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, signals_first_is_recorded);
	tcase_add_exit_test(tc, signals_second_exits_at_once, 128 + SIGTERM);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(signals_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
