/*
 * err: the error classes of randes, their exit codes, and the always-on
 * assertion.
 *
 * Functions in src/common return 0 on success or a negative enum randes_err,
 * and write a human message into a caller-supplied buffer of RANDES_ERR_LEN
 * bytes (which may be NULL).  common/ never prints and never exits; the
 * command line maps the class to an exit code in exactly one place,
 * randes_err_exit_code().
 *
 * Exit codes (docs/cli.md): 0 success, 2 bad usage or config, 3 I/O or data
 * (unreadable or corrupt checkpoint, disk full, out of memory), 4 worker or
 * MPI failure.
 */
#ifndef RANDES_ERR_H
#define RANDES_ERR_H

#include <stddef.h>

#define RANDES_ERR_LEN 1024

enum randes_err {
	RANDES_OK = 0,
	RANDES_EUSAGE = -1,    /* bad command line                      -> 2 */
	RANDES_ECONFIG = -2,   /* bad config file or --set override     -> 2 */
	RANDES_EIO = -3,       /* read/write/fsync/rename failed        -> 3 */
	RANDES_EDATA = -4,     /* corrupt or mismatched file contents   -> 3 */
	RANDES_ENOMEM = -5,    /* allocation failed                     -> 3 */
	RANDES_EMPI = -6,      /* MPI call failed, a rank died          -> 4 */
	RANDES_EBUSY = -7,     /* run directory locked by another run   -> 2 */
	RANDES_ESTATE = -8,    /* request not valid in this state       -> 2 */
};

#define RANDES_EXIT_OK 0
#define RANDES_EXIT_USAGE 2
#define RANDES_EXIT_DATA 3
#define RANDES_EXIT_MPI 4

/* The process exit code for an error class (0 for RANDES_OK). */
int randes_err_exit_code(int err);

/* A short lower-case name for an error class ("config", "io", ...). */
const char *randes_err_name(int err);

/*
 * Formats a message into err (RANDES_ERR_LEN bytes; ignored when NULL) and
 * returns code, so that callers can write `return randes_errf(err, ...)`.
 */
int randes_errf(char *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prepends "prefix: " to the message already in err (no-op when NULL).
 */
void randes_err_prefix(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Called by RANDES_ASSERT: prints file:line and the expression, aborts. */
_Noreturn void randes_assert_fail(const char *file, int line,
				  const char *expr);

/*
 * Always on, also in release builds: for invariants whose breach would make
 * results silently wrong.  Plain assert() is for debug checks in hot loops.
 */
#define RANDES_ASSERT(x)                                                   \
	do {                                                               \
		if (!(x))                                                  \
			randes_assert_fail(__FILE__, __LINE__, #x);        \
	} while (0)

#endif
