/*
 * safetensors: theta as a .safetensors file (the Hugging Face format), so a
 * trained model loads in Python (`safetensors`, or plain json + NumPy)
 * without randes, and back into randes for evaluation.
 *
 * File layout: an 8-byte little-endian unsigned header length N, N bytes of
 * UTF-8 JSON, then the tensor data.  The JSON maps each tensor name to
 * {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]} (byte
 * offsets relative to the start of the data) and holds "__metadata__", a
 * string-to-string map.  randes writes the tensors of a params layout in
 * layout order, contiguous, as little-endian F32, and pads the header with
 * spaces so that the data starts at a multiple of 8 bytes.
 *
 * Reading is strict and never trusts the file: it checks the header length
 * (at least 8 bytes in the file, not past its end, at most 100 MB), the
 * JSON (json.h's strict parser), that every tensor of the expected layout
 * is present with dtype F32 and exactly the expected shape, that no other
 * tensor is present, that the data_offsets are in range, have the right
 * length, do not overlap, leave no gap, and end exactly at the end of the
 * file: trailing bytes after the last tensor are refused, as the reference
 * implementation refuses them.  Metadata values must be strings, keys must
 * not be empty, and neither may contain a NUL (\u0000), which the C strings
 * of struct safetensors_meta could not carry.  theta is written only after
 * all checks passed.  Every refusal is RANDES_EDATA with a message naming
 * the file and what is wrong.
 *
 * Not here: what the metadata means (the caller fills and reads it: model
 * spec JSON, task, variant, run seed, r0), and the command line.
 */
#ifndef RANDES_SAFETENSORS_H
#define RANDES_SAFETENSORS_H

#include <stddef.h>

#include "params.h"

/* The largest header accepted (the reference implementation's limit). */
#define SAFETENSORS_MAX_HEADER 100000000ull

/* One metadata entry to write: both strings UTF-8, NUL-terminated. */
struct safetensors_kv {
	const char *key;
	const char *value;
};

/* Metadata read back: n entries, in file order; all strings malloc'd. */
struct safetensors_meta {
	size_t n;
	char **keys;
	char **values;
};

/*
 * Serialises theta (layout l) and meta[0..n_meta) into a malloc'd buffer
 * holding the whole file (*out, *out_len; caller frees).  Returns 0,
 * RANDES_EUSAGE for a duplicate or empty metadata key, RANDES_ENOMEM.
 * On failure *out is NULL.
 */
int safetensors_encode(const struct params_layout *l, const float *theta,
		       const struct safetensors_kv *meta, size_t n_meta,
		       unsigned char **out, size_t *out_len, char *err);

/*
 * safetensors_encode, then an atomic replacement of path (temp file in the
 * same directory, fsync, rename, fsync of the directory: fsutil).  Returns
 * 0 or the error of either step (RANDES_EIO for the file system); on
 * failure an existing file at path is untouched.
 */
int safetensors_write(const char *path, const struct params_layout *l,
		      const float *theta, const struct safetensors_kv *meta,
		      size_t n_meta, char *err);

/*
 * Checks buf[0..len) against layout l (see the top of this file) and, if
 * everything is right, copies the tensors into theta (l->total floats) and
 * the metadata into *meta (may be NULL: not returned; free with
 * safetensors_meta_free).  Returns 0 or RANDES_EDATA (RANDES_ENOMEM); on
 * failure theta is untouched and *meta is empty.
 */
int safetensors_decode(const unsigned char *buf, size_t len,
		       const struct params_layout *l, float *theta,
		       struct safetensors_meta *meta, char *err);

/*
 * Reads the file at path and decodes it (safetensors_decode).  Messages
 * start with the path.  RANDES_EIO if the file cannot be read.
 */
int safetensors_read(const char *path, const struct params_layout *l,
		     float *theta, struct safetensors_meta *meta, char *err);

/* The value of a metadata key, or NULL. */
const char *safetensors_meta_get(const struct safetensors_meta *m,
				 const char *key);

/* Frees the strings and empties *m (NULL and empty are fine). */
void safetensors_meta_free(struct safetensors_meta *m);

#endif
