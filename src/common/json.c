/* json: writer and strict parser (see json.h). */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* --- UTF-8 ----------------------------------------------------------------- */

/*
 * Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one
 * (overlong forms, surrogates and code points above U+10FFFF are invalid).
 */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Encodes code point cp (valid, not a surrogate) into out; returns bytes. */
static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* --- writer ---------------------------------------------------------------- */

void json_writer_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void json_writer_free(struct json_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void json_writer_reset(struct json_writer *w)
{
	char *buf = w->buf;
	size_t cap = w->cap;

	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	if (buf)
		buf[0] = '\0';
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->error)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		char *nb;

		while (cap < w->len + n + 1)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->error = RANDES_ENOMEM;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Separator before a value or key; checks that a value may come here. */
static void before_value(struct json_writer *w)
{
	if (w->depth == 0) {
		RANDES_ASSERT(!w->done); /* one top-level value per document */
		return;
	}
	if (w->kind[w->depth - 1] == 'o') {
		RANDES_ASSERT(w->want_value); /* json_writer_key first */
		w->want_value = 0;
		return;
	}
	if (w->nonempty[w->depth - 1])
		put(w, ",", 1);
	w->nonempty[w->depth - 1] = 1;
}

static void after_value(struct json_writer *w)
{
	if (w->depth == 0)
		w->done = 1;
}

static void open_container(struct json_writer *w, char kind)
{
	before_value(w);
	RANDES_ASSERT(w->depth < JSON_MAX_DEPTH);
	w->kind[w->depth] = kind;
	w->nonempty[w->depth] = 0;
	w->depth++;
	put(w, kind == 'o' ? "{" : "[", 1);
}

static void close_container(struct json_writer *w, char kind)
{
	RANDES_ASSERT(w->depth > 0 && w->kind[w->depth - 1] == kind);
	RANDES_ASSERT(!w->want_value); /* a key without its value */
	w->depth--;
	put(w, kind == 'o' ? "}" : "]", 1);
	after_value(w);
}

void json_writer_object_begin(struct json_writer *w)
{
	open_container(w, 'o');
}

void json_writer_object_end(struct json_writer *w)
{
	close_container(w, 'o');
}

void json_writer_array_begin(struct json_writer *w)
{
	open_container(w, 'a');
}

void json_writer_array_end(struct json_writer *w)
{
	close_container(w, 'a');
}

/* A quoted, escaped string; invalid UTF-8 bytes become U+FFFD. */
static void put_string(struct json_writer *w, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	put(w, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];
		size_t run = i, len;
		char esc[8];

		/* Copy the longest run that needs no escaping at once. */
		while (run < n && u[run] >= 0x20 && u[run] != '"' &&
		       u[run] != '\\' && u[run] < 0x80)
			run++;
		if (run > i) {
			put(w, s + i, run - i);
			i = run;
			continue;
		}
		switch (c) {
		case '"':
			put(w, "\\\"", 2);
			i++;
			continue;
		case '\\':
			put(w, "\\\\", 2);
			i++;
			continue;
		case '\n':
			put(w, "\\n", 2);
			i++;
			continue;
		case '\t':
			put(w, "\\t", 2);
			i++;
			continue;
		case '\r':
			put(w, "\\r", 2);
			i++;
			continue;
		case '\b':
			put(w, "\\b", 2);
			i++;
			continue;
		case '\f':
			put(w, "\\f", 2);
			i++;
			continue;
		default:
			break;
		}
		if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
			i++;
			continue;
		}
		len = utf8_valid_len(u + i, n - i);
		if (len) {
			put(w, s + i, len);
			i += len;
		} else {
			put(w, "\\ufffd", 6);
			i++;
		}
	}
	put(w, "\"", 1);
}

void json_writer_key(struct json_writer *w, const char *key)
{
	RANDES_ASSERT(w->depth > 0 && w->kind[w->depth - 1] == 'o');
	RANDES_ASSERT(!w->want_value);
	if (w->nonempty[w->depth - 1])
		put(w, ",", 1);
	w->nonempty[w->depth - 1] = 1;
	put_string(w, key, strlen(key));
	put(w, ":", 1);
	w->want_value = 1;
}

void json_writer_string(struct json_writer *w, const char *s)
{
	json_writer_string_n(w, s, strlen(s));
}

void json_writer_string_n(struct json_writer *w, const char *s, size_t n)
{
	before_value(w);
	put_string(w, s, n);
	after_value(w);
}

void json_writer_int(struct json_writer *w, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);

	before_value(w);
	put(w, buf, (size_t)n);
	after_value(w);
}

void json_writer_uint(struct json_writer *w, uint64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);

	before_value(w);
	put(w, buf, (size_t)n);
	after_value(w);
}

void json_writer_double(struct json_writer *w, double v)
{
	char buf[40];
	int n = 0;

	before_value(w);
	if (!isfinite(v)) {
		put(w, "null", 4);
		after_value(w);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	put(w, buf, (size_t)n);
	after_value(w);
}

void json_writer_bool(struct json_writer *w, int v)
{
	before_value(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
	after_value(w);
}

void json_writer_null(struct json_writer *w)
{
	before_value(w);
	put(w, "null", 4);
	after_value(w);
}

void json_writer_raw(struct json_writer *w, const char *json)
{
	before_value(w);
	put(w, json, strlen(json));
	after_value(w);
}

int json_writer_status(const struct json_writer *w, char *err)
{
	if (w->error)
		return randes_errf(err, w->error,
				   "json: out of memory after %zu bytes", w->len);
	return 0;
}

/* --- parser: arena ----------------------------------------------------------- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	/* data follows, aligned for any value */
};

struct json_doc {
	struct arena_block *blocks;
	struct json_value root;
};

#define ARENA_ALIGN 16
#define ARENA_HDR \
	((sizeof(struct arena_block) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN)

static void *arena_alloc(struct json_doc *d, size_t n)
{
	struct arena_block *b = d->blocks;

	n = (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	if (!n)
		n = ARENA_ALIGN;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		b = malloc(ARENA_HDR + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = d->blocks;
		d->blocks = b;
	}
	b->used += n;
	return (char *)b + ARENA_HDR + b->used - n;
}

void json_doc_free(struct json_doc *doc)
{
	struct arena_block *b, *next;

	if (!doc)
		return;
	for (b = doc->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(doc);
}

const struct json_value *json_doc_root(const struct json_doc *doc)
{
	return &doc->root;
}

/* --- parser ------------------------------------------------------------------ */

struct parser {
	const char *start, *p, *end;
	struct json_doc *doc;
	char *err;
	int rc;                  /* first error, 0 while fine            */
	struct json_value *stack; /* children of open containers          */
	size_t sp, cap;
	unsigned depth;
	char *sbuf;              /* scratch for decoding one string      */
	size_t scap;
};

static int fail_at(struct parser *ps, const char *at, int code,
		   const char *what)
{
	size_t line = 1, col = 1;

	if (ps->rc)
		return ps->rc;
	for (const char *q = ps->start; q < at && q < ps->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	ps->rc = code;
	if (code == RANDES_ENOMEM)
		randes_errf(ps->err, code, "json: out of memory");
	else
		randes_errf(ps->err, code, "json: line %zu, column %zu: %s",
			    line, col, what);
	return code;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int push(struct parser *ps, const struct json_value *v)
{
	if (ps->sp == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;
		struct json_value *ns = realloc(ps->stack, cap * sizeof(*ns));
		if (!ns)
			return fail_at(ps, ps->p, RANDES_ENOMEM, "");
		ps->stack = ns;
		ps->cap = cap;
	}
	ps->stack[ps->sp++] = *v;
	return 0;
}

static int sbuf_put(struct parser *ps, size_t *n, const char *s, size_t k)
{
	if (*n + k + 1 > ps->scap) {
		size_t cap = ps->scap ? ps->scap : 256;
		char *nb;
		while (cap < *n + k + 1)
			cap *= 2;
		nb = realloc(ps->sbuf, cap);
		if (!nb)
			return fail_at(ps, ps->p, RANDES_ENOMEM, "");
		ps->sbuf = nb;
		ps->scap = cap;
	}
	memcpy(ps->sbuf + *n, s, k);
	*n += k;
	return 0;
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* A string at ps->p (the opening quote), decoded into the arena. */
static int parse_string(struct parser *ps, const char **out, size_t *out_len)
{
	size_t n = 0;
	char *dst;

	ps->p++; /* '"' */
	for (;;) {
		const unsigned char *u = (const unsigned char *)ps->p;
		const char *run = ps->p;

		if (ps->p >= ps->end)
			return fail_at(ps, ps->p, RANDES_EDATA,
				       "unterminated string");
		while (ps->p < ps->end && *u >= 0x20 && *u < 0x80 &&
		       *u != '"' && *u != '\\') {
			ps->p++;
			u++;
		}
		if (ps->p > run && sbuf_put(ps, &n, run, (size_t)(ps->p - run)))
			return ps->rc;
		if (ps->p >= ps->end)
			return fail_at(ps, ps->p, RANDES_EDATA,
				       "unterminated string");
		if (*u == '"') {
			ps->p++;
			break;
		}
		if (*u < 0x20)
			return fail_at(ps, ps->p, RANDES_EDATA,
				       "control character in a string (must be "
				       "escaped)");
		if (*u >= 0x80) {
			size_t len = utf8_valid_len(u, (size_t)(ps->end - ps->p));
			if (!len)
				return fail_at(ps, ps->p, RANDES_EDATA,
					       "invalid UTF-8 in a string");
			if (sbuf_put(ps, &n, ps->p, len))
				return ps->rc;
			ps->p += len;
			continue;
		}
		/* A backslash escape. */
		if (ps->end - ps->p < 2)
			return fail_at(ps, ps->p, RANDES_EDATA,
				       "unterminated string");
		{
			char c = ps->p[1], one;
			uint32_t cp, lo;
			char enc[4];

			switch (c) {
			case '"':
			case '\\':
			case '/':
				one = c;
				break;
			case 'b':
				one = '\b';
				break;
			case 'f':
				one = '\f';
				break;
			case 'n':
				one = '\n';
				break;
			case 'r':
				one = '\r';
				break;
			case 't':
				one = '\t';
				break;
			case 'u':
				if (ps->end - ps->p < 6 || hex4(ps->p + 2, &cp))
					return fail_at(ps, ps->p, RANDES_EDATA,
						       "bad \\u escape");
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail_at(ps, ps->p, RANDES_EDATA,
						       "lone low surrogate");
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (ps->end - ps->p < 12 || ps->p[6] != '\\' ||
					    ps->p[7] != 'u' || hex4(ps->p + 8, &lo) ||
					    lo < 0xdc00 || lo > 0xdfff)
						return fail_at(ps, ps->p, RANDES_EDATA,
							       "lone high surrogate");
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     (lo - 0xdc00);
					ps->p += 6;
				}
				if (sbuf_put(ps, &n, enc, utf8_encode(cp, enc)))
					return ps->rc;
				ps->p += 6;
				continue;
			default:
				return fail_at(ps, ps->p, RANDES_EDATA,
					       "unknown escape");
			}
			if (sbuf_put(ps, &n, &one, 1))
				return ps->rc;
			ps->p += 2;
		}
	}
	dst = arena_alloc(ps->doc, n + 1);
	if (!dst)
		return fail_at(ps, ps->p, RANDES_ENOMEM, "");
	if (n)
		memcpy(dst, ps->sbuf, n);
	dst[n] = '\0';
	*out = dst;
	*out_len = n;
	return 0;
}

static int parse_number(struct parser *ps, struct json_value *v)
{
	const char *s = ps->p, *q = ps->p;
	char tmp[64], *heap = NULL;
	const char *text;
	size_t len;

	if (q < ps->end && *q == '-')
		q++;
	if (q >= ps->end || *q < '0' || *q > '9')
		return fail_at(ps, ps->p, RANDES_EDATA, "invalid value");
	if (*q == '0') {
		q++;
		if (q < ps->end && *q >= '0' && *q <= '9')
			return fail_at(ps, ps->p, RANDES_EDATA,
				       "leading zero in a number");
	} else {
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && *q == '.') {
		q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail_at(ps, q, RANDES_EDATA,
				       "digit expected after '.'");
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail_at(ps, q, RANDES_EDATA,
				       "digit expected in the exponent");
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	len = (size_t)(q - s);
	/* strtod needs a terminated copy (the text need not be). */
	if (len < sizeof(tmp)) {
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		text = tmp;
	} else {
		heap = malloc(len + 1);
		if (!heap)
			return fail_at(ps, s, RANDES_ENOMEM, "");
		memcpy(heap, s, len);
		heap[len] = '\0';
		text = heap;
	}
	v->type = JSON_NUMBER;
	v->number = strtod(text, NULL);
	free(heap);
	if (!isfinite(v->number))
		return fail_at(ps, s, RANDES_EDATA,
			       "number out of the range of a double");
	v->num_text = s;
	v->num_len = len;
	ps->p = q;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct json_value *x = *(const struct json_value *const *)a;
	const struct json_value *y = *(const struct json_value *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* Moves the top n stack entries into the arena as v's children. */
static int take_children(struct parser *ps, struct json_value *v, size_t n,
			 const char *at)
{
	v->n_items = n;
	v->items = NULL;
	if (n) {
		v->items = arena_alloc(ps->doc, n * sizeof(*v->items));
		if (!v->items)
			return fail_at(ps, at, RANDES_ENOMEM, "");
		memcpy(v->items, ps->stack + ps->sp - n, n * sizeof(*v->items));
		ps->sp -= n;
	}
	if (v->type == JSON_OBJECT && n > 1) {
		/* Duplicate keys: sort pointers, compare neighbours. */
		const struct json_value **idx = malloc(n * sizeof(*idx));
		size_t dup = n;

		if (!idx)
			return fail_at(ps, at, RANDES_ENOMEM, "");
		for (size_t i = 0; i < n; i++)
			idx[i] = &v->items[i];
		qsort(idx, n, sizeof(*idx), key_cmp);
		for (size_t i = 1; i < n && dup == n; i++)
			if (!key_cmp(&idx[i - 1], &idx[i]))
				dup = i;
		if (dup < n) {
			char what[160];
			snprintf(what, sizeof(what), "duplicate key \"%.100s\"",
				 idx[dup]->key);
			free(idx);
			return fail_at(ps, at, RANDES_EDATA, what);
		}
		free(idx);
	}
	return 0;
}

static int parse_value(struct parser *ps, struct json_value *v);

static int parse_container(struct parser *ps, struct json_value *v, char open)
{
	const char close = open == '{' ? '}' : ']';
	const char *at = ps->p;
	size_t n = 0;

	if (++ps->depth > JSON_MAX_DEPTH)
		return fail_at(ps, ps->p, RANDES_EDATA, "nested too deeply");
	v->type = open == '{' ? JSON_OBJECT : JSON_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return take_children(ps, v, 0, at);
	}
	for (;;) {
		struct json_value child;

		memset(&child, 0, sizeof(child));
		skip_ws(ps);
		if (open == '{') {
			if (ps->p >= ps->end || *ps->p != '"')
				return fail_at(ps, ps->p, RANDES_EDATA,
					       "object key (a string) expected");
			if (parse_string(ps, &child.key, &child.key_len))
				return ps->rc;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail_at(ps, ps->p, RANDES_EDATA,
					       "':' expected after an object key");
			ps->p++;
			skip_ws(ps);
		}
		{
			const char *key = child.key;
			size_t key_len = child.key_len;
			if (parse_value(ps, &child))
				return ps->rc;
			child.key = key;
			child.key_len = key_len;
		}
		if (push(ps, &child))
			return ps->rc;
		n++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == close)
				return fail_at(ps, ps->p, RANDES_EDATA,
					       "trailing comma");
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		return fail_at(ps, ps->p, RANDES_EDATA,
			       open == '{' ? "',' or '}' expected"
					   : "',' or ']' expected");
	}
	ps->depth--;
	return take_children(ps, v, n, at);
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return fail_at(ps, ps->p, RANDES_EDATA, "invalid value");
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps, struct json_value *v)
{
	memset(v, 0, sizeof(*v));
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail_at(ps, ps->p, RANDES_EDATA,
			       "unexpected end of the text");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, v, *ps->p);
	case '"':
		v->type = JSON_STRING;
		return parse_string(ps, &v->str, &v->str_len);
	case 't':
		v->type = JSON_BOOL;
		v->boolean = 1;
		return literal(ps, "true");
	case 'f':
		v->type = JSON_BOOL;
		return literal(ps, "false");
	case 'n':
		v->type = JSON_NULL;
		return literal(ps, "null");
	default:
		return parse_number(ps, v);
	}
}

int json_parse(const char *text, size_t len, struct json_doc **doc, char *err)
{
	struct parser ps;
	int rc;

	*doc = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.start = ps.p = text;
	ps.end = text + len;
	ps.err = err;
	ps.doc = calloc(1, sizeof(*ps.doc));
	if (!ps.doc)
		return randes_errf(err, RANDES_ENOMEM, "json: out of memory");
	rc = parse_value(&ps, &ps.doc->root);
	if (!rc) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			rc = fail_at(&ps, ps.p, RANDES_EDATA,
				     "unexpected text after the value");
	}
	free(ps.stack);
	free(ps.sbuf);
	if (rc) {
		json_doc_free(ps.doc);
		return rc;
	}
	*doc = ps.doc;
	return 0;
}

const struct json_value *json_object_get(const struct json_value *obj,
					 const char *key)
{
	size_t n;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	n = strlen(key);
	for (size_t i = 0; i < obj->n_items; i++)
		if (obj->items[i].key_len == n &&
		    !memcmp(obj->items[i].key, key, n))
			return &obj->items[i];
	return NULL;
}

int json_number_u64(const struct json_value *v, uint64_t *out)
{
	uint64_t x = 0;

	if (!v || v->type != JSON_NUMBER || v->num_len == 0)
		return -1;
	for (size_t i = 0; i < v->num_len; i++) {
		char c = v->num_text[i];
		if (c < '0' || c > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(c - '0');
	}
	*out = x;
	return 0;
}
