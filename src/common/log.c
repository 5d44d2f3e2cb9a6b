/* log: timestamped, rank-tagged lines on stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int log_level_min = LOG_INFO;

static int log_rank = -1;
static char log_role[16] = "cli";

void log_init(int rank, const char *role)
{
	const char *env = getenv("RANDES_LOG_LEVEL");

	log_rank = rank;
	snprintf(log_role, sizeof(log_role), "%s", role ? role : "cli");
	if (env) {
		if (!strcmp(env, "debug"))
			log_level_min = LOG_DEBUG;
		else if (!strcmp(env, "info"))
			log_level_min = LOG_INFO;
		else if (!strcmp(env, "warn"))
			log_level_min = LOG_WARN;
		else if (!strcmp(env, "error"))
			log_level_min = LOG_ERROR;
	}
}

void log_write(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char stamp[32], line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_rank >= 0)
		n = snprintf(line, sizeof(line), "%s.%03ldZ [%s %d] %s: ", stamp,
			     ts.tv_nsec / 1000000L, log_role, log_rank,
			     names[level]);
	else
		n = snprintf(line, sizeof(line), "%s.%03ldZ [%s] %s: ", stamp,
			     ts.tv_nsec / 1000000L, log_role, names[level]);
	if (n < 0)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines of different ranks do not interleave. */
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}
