/*
 * testutil: small helpers shared by the Check suites: scratch directories,
 * files from strings, and numeric comparison with the max difference
 * reported.
 */
#ifndef RANDES_TESTUTIL_H
#define RANDES_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a static path
 * valid until the next call.  Aborts on failure. */
const char *tu_mkdtemp(void);

/* Writes len bytes (strlen when len == (size_t)-1) to dir/name; returns the
 * full path in a static buffer.  Aborts on failure. */
const char *tu_write_file(const char *dir, const char *name, const char *data,
			  size_t len);

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL on error. */
char *tu_read_file(const char *path, size_t *len);

/* rm -rf of a directory made by tu_mkdtemp. */
void tu_rm_rf(const char *dir);

/* max_i |a_i - b_i| / max(|b_i|, floor): relative difference, with `floor`
 * guarding values near zero. */
double tu_max_rel_diff(const float *a, const float *b, size_t n, double floor);

#endif
