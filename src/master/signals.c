/* signals: flag-only stop handlers (see signals.h). */
#include "signals.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t stop_seconds; /* CLOCK_MONOTONIC at the first */

static void signals_on_stop(int sig)
{
	struct timespec ts;
	/* clock_gettime, write and _exit are async-signal-safe. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (stop_signal) {
		static const char msg[] =
			"randes: second stop signal, exiting now\n";
		ssize_t rc;
		if ((long)ts.tv_sec - (long)stop_seconds < SIGNALS_REPEAT_SECONDS)
			return; /* the same request delivered twice */
		rc = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)rc;
		_exit(128 + sig);
	}
	stop_seconds = (sig_atomic_t)ts.tv_sec;
	stop_signal = sig;
}

void signals_install(void)
{
	struct sigaction sa;
	static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = signals_on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

int signals_stop_requested(void)
{
	return stop_signal;
}

void signals_reset(void)
{
	stop_signal = 0;
	stop_seconds = 0;
}
