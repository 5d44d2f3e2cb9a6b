/*
 * fuzz.h: what the fuzz targets (tests/fuzz/fuzz-*.c) share, and what
 * tests/test-regress.c uses to replay their findings and corpora.
 *
 * Each target is a function fuzz_NAME_one(data, size) that feeds one input
 * to one parser of outside data and checks the parser's contract (not just
 * "no crash"): a refusal has a class and a non-empty message; an accepted
 * input survives a round trip (render, reload, compare); a failed call
 * leaves the caller's state as it was.  A broken contract calls
 * fuzz_fail(), which prints the target, the reason and aborts, so libFuzzer
 * (and Check, in the regression suite) report it as a crash.
 *
 * Built with -DRANDES_LIBFUZZER (tests/fuzz/meson.build, clang
 * -fsanitize=fuzzer), FUZZ_ENTRY() also defines LLVMFuzzerTestOneInput.
 * tests/test-regress.c includes the four fuzz-*.c files directly, so their
 * static names carry a per-target prefix.
 */
#ifndef RANDES_FUZZ_H
#define RANDES_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"

int fuzz_config_one(const uint8_t *data, size_t size);
int fuzz_set_one(const uint8_t *data, size_t size);
int fuzz_checkpoint_one(const uint8_t *data, size_t size);
int fuzz_safetensors_one(const uint8_t *data, size_t size);

/* Prints "fuzz TARGET: contract broken: ..." and aborts. */
static void fuzz_fail(const char *target, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn, unused));

static void fuzz_fail(const char *target, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz %s: contract broken: ", target);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

/*
 * An error buffer is filled with this byte before a call, so that a
 * refusal that forgot its message (or did not terminate it) is caught.
 */
#define FUZZ_ERR_FILL 'X'

/* Checks that a refusal left a message: non-empty, NUL-terminated inside
 * RANDES_ERR_LEN, not the fill pattern. */
static void fuzz_check_message(const char *target, const char *what,
			       const char *err) __attribute__((unused));

static void fuzz_check_message(const char *target, const char *what,
			       const char *err)
{
	size_t n = strnlen(err, RANDES_ERR_LEN);

	if (n == RANDES_ERR_LEN)
		fuzz_fail(target, "%s: the error message is not terminated",
			  what);
	if (n == 0)
		fuzz_fail(target, "%s: refused without a message", what);
	if (err[0] == FUZZ_ERR_FILL && err[1] == FUZZ_ERR_FILL)
		fuzz_fail(target, "%s: refused without writing a message",
			  what);
}

/*
 * An accepted config must pass config_validate, and its resolved YAML
 * (config_to_yaml: what check-config prints and a run directory stores)
 * must load back to the same YAML text and the same locked-key hash: the
 * promise --resume relies on.  Used by fuzz-config and fuzz-set.
 */
static void fuzz_config_roundtrip(const char *target, const struct config *a)
	__attribute__((unused));

static void fuzz_config_roundtrip(const char *target, const struct config *a)
{
	static struct config b; /* large: not on the stack */
	char err[RANDES_ERR_LEN];
	char *y1 = NULL, *y2 = NULL;
	int rc;

	memset(err, FUZZ_ERR_FILL, sizeof(err));
	if (config_validate(a, err) != 0)
		fuzz_fail(target, "an accepted config fails config_validate: %s",
			  err);
	y1 = config_to_yaml(a);
	if (!y1)
		return; /* out of memory: nothing to check */
	memset(err, FUZZ_ERR_FILL, sizeof(err));
	rc = config_load_string(&b, y1, strlen(y1), "resolved.yaml", NULL, 0,
				err);
	if (rc != 0)
		fuzz_fail(target,
			  "the resolved config does not load back (%d): %s\n"
			  "--- resolved YAML\n%s",
			  rc, err, y1);
	y2 = config_to_yaml(&b);
	if (y2 && strcmp(y1, y2) != 0)
		fuzz_fail(target,
			  "the resolved config changes on reload\n--- first\n"
			  "%s--- reloaded\n%s",
			  y1, y2);
	if (config_hash_locked(a) != config_hash_locked(&b))
		fuzz_fail(target, "the locked-key hash changes on reload");
	free(y1);
	free(y2);
}

#ifdef RANDES_LIBFUZZER
#define FUZZ_ENTRY(fn)                                                     \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);      \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)       \
	{                                                                  \
		return fn(data, size);                                     \
	}
#else
#define FUZZ_ENTRY(fn)
#endif

#endif
