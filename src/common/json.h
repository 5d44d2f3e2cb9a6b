/*
 * json: a small JSON writer and a strict JSON parser (RFC 8259).
 *
 * Writer: appends to a growing NUL-terminated buffer, inserts commas and
 * colons itself, escapes strings (control characters as \n, \t or \u00XX;
 * bytes that are not valid UTF-8 become U+FFFD, so the output is always
 * valid UTF-8), and writes doubles in the shortest form that reads back to
 * the same value.  Compact output, no whitespace: one line per document,
 * as metrics.jsonl wants.  Allocation failure is sticky and reported once
 * by json_writer_status(); a structural misuse (a value where a key is
 * due, an unbalanced end) is a programming error and aborts (RANDES_ASSERT).
 *
 *     struct json_writer w;
 *     json_writer_init(&w);
 *     json_writer_object_begin(&w);
 *     json_writer_key(&w, "g");     json_writer_uint(&w, 12);
 *     json_writer_key(&w, "loss");  json_writer_double(&w, 0.25);
 *     json_writer_object_end(&w);
 *     if (json_writer_status(&w, err) == 0) use(w.buf, w.len);
 *     json_writer_free(&w);
 *
 * Parser: the whole text into a tree of struct json_value held in one
 * arena (struct json_doc), freed at once.  Strict: no comments, no trailing
 * commas, no leading zeros, no NaN/Infinity, numbers that overflow a double
 * refused, only the JSON escapes, raw control characters and invalid UTF-8
 * refused, lone surrogates refused, duplicate keys in an object refused,
 * nesting deeper than JSON_MAX_DEPTH refused, nothing but whitespace after
 * the value.  Errors are RANDES_EDATA with "line L, column C: what".
 *
 * Neither part knows any file format; no I/O, no printing.
 */
#ifndef RANDES_JSON_H
#define RANDES_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 128

/* --- writer ---------------------------------------------------------------- */

struct json_writer {
	char *buf;     /* the text so far, NUL-terminated (NULL when empty) */
	size_t len;    /* bytes in buf, without the NUL                      */
	size_t cap;
	int error;     /* 0, or RANDES_ENOMEM after a failed allocation     */
	unsigned depth;
	char kind[JSON_MAX_DEPTH];    /* 'o' object or 'a' array per level  */
	unsigned char nonempty[JSON_MAX_DEPTH];
	int want_value;               /* a key was written, its value is due */
	int done;                     /* a complete top-level value exists   */
};

/* An empty writer (no allocation yet). */
void json_writer_init(struct json_writer *w);

/* Frees the buffer; the writer may be initialised again. */
void json_writer_free(struct json_writer *w);

/* Empties the writer for a new document, keeping its buffer. */
void json_writer_reset(struct json_writer *w);

void json_writer_object_begin(struct json_writer *w);
void json_writer_object_end(struct json_writer *w);
void json_writer_array_begin(struct json_writer *w);
void json_writer_array_end(struct json_writer *w);

/* The key of the next member; only inside an object. */
void json_writer_key(struct json_writer *w, const char *key);

/* Values (inside an array, after a key, or as the whole document). */
void json_writer_string(struct json_writer *w, const char *s);
void json_writer_string_n(struct json_writer *w, const char *s, size_t n);
void json_writer_int(struct json_writer *w, int64_t v);
void json_writer_uint(struct json_writer *w, uint64_t v);
/* Shortest round-trip decimal ("%.15g" .. "%.17g"); NaN and +-inf, which
 * JSON cannot express, are written as null. */
void json_writer_double(struct json_writer *w, double v);
void json_writer_bool(struct json_writer *w, int v);
void json_writer_null(struct json_writer *w);
/* A value that is already JSON text (e.g. a nested document), verbatim. */
void json_writer_raw(struct json_writer *w, const char *json);

/*
 * 0 if every call so far succeeded, else RANDES_ENOMEM with a message.
 * The text is in w->buf / w->len (complete once every container is closed).
 */
int json_writer_status(const struct json_writer *w, char *err);

/* --- parser ---------------------------------------------------------------- */

enum json_type {
	JSON_NULL = 0,
	JSON_BOOL = 1,
	JSON_NUMBER = 2,
	JSON_STRING = 3,
	JSON_ARRAY = 4,
	JSON_OBJECT = 5,
};

struct json_value {
	enum json_type type;
	const char *key;          /* member of an object: its key (decoded,
				     NUL-terminated); NULL otherwise       */
	size_t key_len;
	int boolean;              /* JSON_BOOL                            */
	double number;            /* JSON_NUMBER: the value (strtod)      */
	const char *num_text;     /* JSON_NUMBER: the literal as written
				     (not NUL-terminated), num_len bytes  */
	size_t num_len;
	const char *str;          /* JSON_STRING: decoded, NUL-terminated;
				     may contain NUL bytes (\u0000)        */
	size_t str_len;
	struct json_value *items; /* JSON_ARRAY items / JSON_OBJECT members,
				     in document order                      */
	size_t n_items;
};

/* A parsed document: every value and string lives in it. */
struct json_doc;

/*
 * Parses text[0..len) (need not be NUL-terminated).  On success *doc owns
 * the tree (json_doc_free).  RANDES_EDATA with "line L, column C: ..." for
 * malformed text, RANDES_ENOMEM; *doc is NULL on failure.
 */
int json_parse(const char *text, size_t len, struct json_doc **doc,
	       char *err);

/* The top-level value. */
const struct json_value *json_doc_root(const struct json_doc *doc);

/* Frees everything (NULL is fine). */
void json_doc_free(struct json_doc *doc);

/* The member of obj with this key, or NULL (also when obj is no object). */
const struct json_value *json_object_get(const struct json_value *obj,
					 const char *key);

/*
 * The exact value of an integer literal (digits only: no sign, fraction or
 * exponent) that fits 64 bits.  Returns 0, or -1 if v is not such a number.
 */
int json_number_u64(const struct json_value *v, uint64_t *out);

#endif
