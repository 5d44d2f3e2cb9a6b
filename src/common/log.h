/*
 * log: the one logging macro.  Human-readable lines on stderr, prefixed with
 * the time, the MPI rank and the role ("master", "worker", "cli").  Metrics
 * never go here: they go to metrics.jsonl.  Progress lines of a training run
 * go to stdout (see master/), not through this module.
 *
 * The level is checked before the arguments are evaluated.
 */
#ifndef RANDES_LOG_H
#define RANDES_LOG_H

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO = 1,
	LOG_WARN = 2,
	LOG_ERROR = 3,
};

/* Messages below this level are dropped (default LOG_INFO; RANDES_LOG_LEVEL
 * = debug|info|warn|error in the environment overrides it at log_init). */
extern int log_level_min;

/* Sets the rank and role shown in each line; reads RANDES_LOG_LEVEL. */
void log_init(int rank, const char *role);

void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_msg(level, ...)                                                \
	do {                                                               \
		if ((int)(level) >= log_level_min)                         \
			log_write((level), __VA_ARGS__);                   \
	} while (0)

#endif
