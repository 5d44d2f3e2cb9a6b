/* err: error classes, messages and exit codes (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int randes_err_exit_code(int err)
{
	switch (err) {
	case RANDES_OK:
		return RANDES_EXIT_OK;
	case RANDES_EUSAGE:
	case RANDES_ECONFIG:
	case RANDES_EBUSY:
	case RANDES_ESTATE:
		return RANDES_EXIT_USAGE;
	case RANDES_EIO:
	case RANDES_EDATA:
	case RANDES_ENOMEM:
		return RANDES_EXIT_DATA;
	case RANDES_EMPI:
		return RANDES_EXIT_MPI;
	default:
		return RANDES_EXIT_MPI;
	}
}

const char *randes_err_name(int err)
{
	switch (err) {
	case RANDES_OK:
		return "ok";
	case RANDES_EUSAGE:
		return "usage";
	case RANDES_ECONFIG:
		return "config";
	case RANDES_EIO:
		return "io";
	case RANDES_EDATA:
		return "data";
	case RANDES_ENOMEM:
		return "memory";
	case RANDES_EMPI:
		return "mpi";
	case RANDES_EBUSY:
		return "busy";
	case RANDES_ESTATE:
		return "state";
	default:
		return "unknown";
	}
}

int randes_errf(char *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, RANDES_ERR_LEN, fmt, ap);
		va_end(ap);
	}
	return code;
}

void randes_err_prefix(char *err, const char *fmt, ...)
{
	char prefix[RANDES_ERR_LEN], old[RANDES_ERR_LEN];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err, RANDES_ERR_LEN);
	old[RANDES_ERR_LEN - 1] = '\0';
	/* Long messages are cut, never overflowed. */
	size_t n = strlen(prefix);
	if (n > RANDES_ERR_LEN - 3)
		n = RANDES_ERR_LEN - 3;
	memcpy(err, prefix, n);
	err[n] = ':';
	err[n + 1] = ' ';
	size_t room = RANDES_ERR_LEN - n - 2;
	size_t m = strlen(old);
	if (m >= room)
		m = room - 1;
	memcpy(err + n + 2, old, m);
	err[n + 2 + m] = '\0';
}

void randes_assert_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "randes: %s:%d: assertion failed: %s\n", file, line,
		expr);
	fflush(stderr);
	abort();
}
