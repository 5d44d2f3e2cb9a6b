/* safetensors: write and strictly read theta as .safetensors (see the .h). */
#include "safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fsutil.h"
#include "json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ST_BIG_ENDIAN 1
#else
#define ST_BIG_ENDIAN 0
#endif

/* n floats to little-endian bytes (and back: the same byte swap). */
static void floats_le(unsigned char *dst, const void *src, size_t n)
{
	memcpy(dst, src, n * sizeof(float));
#if ST_BIG_ENDIAN
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = dst + 4 * i, t;
		t = p[0], p[0] = p[3], p[3] = t;
		t = p[1], p[1] = p[2], p[2] = t;
	}
#endif
}

int safetensors_encode(const struct params_layout *l, const float *theta,
		       const struct safetensors_kv *meta, size_t n_meta,
		       unsigned char **out, size_t *out_len, char *err)
{
	struct json_writer w;
	unsigned char *buf = NULL;
	size_t hlen, total;
	int rc;

	*out = NULL;
	*out_len = 0;
	json_writer_init(&w);
	for (size_t i = 0; i < n_meta; i++) {
		if (!meta[i].key[0]) {
			rc = randes_errf(err, RANDES_EUSAGE,
					 "safetensors: empty metadata key");
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(meta[i].key, meta[j].key)) {
				rc = randes_errf(err, RANDES_EUSAGE,
						 "safetensors: metadata key '%s' "
						 "given twice", meta[i].key);
				goto fail;
			}
	}

	json_writer_object_begin(&w);
	if (n_meta) {
		json_writer_key(&w, "__metadata__");
		json_writer_object_begin(&w);
		for (size_t i = 0; i < n_meta; i++) {
			json_writer_key(&w, meta[i].key);
			json_writer_string(&w, meta[i].value);
		}
		json_writer_object_end(&w);
	}
	for (size_t t = 0; t < l->n_tensors; t++) {
		const struct params_tensor *pt = &l->tensors[t];

		json_writer_key(&w, pt->name);
		json_writer_object_begin(&w);
		json_writer_key(&w, "dtype");
		json_writer_string(&w, "F32");
		json_writer_key(&w, "shape");
		json_writer_array_begin(&w);
		for (unsigned d = 0; d < pt->ndim; d++)
			json_writer_uint(&w, pt->shape[d]);
		json_writer_array_end(&w);
		json_writer_key(&w, "data_offsets");
		json_writer_array_begin(&w);
		json_writer_uint(&w, pt->offset * sizeof(float));
		json_writer_uint(&w, (pt->offset + pt->count) * sizeof(float));
		json_writer_array_end(&w);
		json_writer_object_end(&w);
	}
	json_writer_object_end(&w);
	rc = json_writer_status(&w, err);
	if (rc)
		goto fail;

	/* Pad with spaces so the data starts 8-byte aligned. */
	hlen = (w.len + 7) / 8 * 8;
	total = 8 + hlen + l->total * sizeof(float);
	buf = malloc(total);
	if (!buf) {
		rc = randes_errf(err, RANDES_ENOMEM,
				 "safetensors: out of memory (%zu bytes)", total);
		goto fail;
	}
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
	memcpy(buf + 8, w.buf, w.len);
	memset(buf + 8 + w.len, ' ', hlen - w.len);
	floats_le(buf + 8 + hlen, theta, l->total);
	json_writer_free(&w);
	*out = buf;
	*out_len = total;
	return 0;
fail:
	json_writer_free(&w);
	free(buf);
	return rc;
}

int safetensors_write(const char *path, const struct params_layout *l,
		      const float *theta, const struct safetensors_kv *meta,
		      size_t n_meta, char *err)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	rc = safetensors_encode(l, theta, meta, n_meta, &buf, &len, err);
	if (rc == 0)
		rc = fsutil_write_atomic(path, buf, len, err);
	free(buf);
	return rc;
}

/* --- reading ----------------------------------------------------------------- */

/* One tensor entry of the header, matched to the layout. */
struct st_entry {
	const char *name;
	size_t layout_index;
	uint64_t begin, end;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct st_entry *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* "[3, 4]" into buf. */
static void shape_str(char *buf, size_t n, const size_t *shape, unsigned ndim)
{
	size_t used = 0;

	used += (size_t)snprintf(buf, n, "[");
	for (unsigned d = 0; d < ndim && used < n; d++)
		used += (size_t)snprintf(buf + used, n - used, "%s%zu",
					 d ? ", " : "", shape[d]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

/* Checks one tensor entry (name e->name, JSON v) against layout tensor pt. */
static int entry_check(const struct json_value *v,
		       const struct params_tensor *pt, uint64_t data_len,
		       struct st_entry *e, char *err)
{
	const struct json_value *dtype, *shape, *offs;
	size_t got[PARAMS_MAX_DIMS];
	char want_s[96], got_s[96];
	int shape_ok;

	if (v->type != JSON_OBJECT)
		return randes_errf(err, RANDES_EDATA,
				   "tensor '%s': entry is not a JSON object",
				   pt->name);
	for (size_t i = 0; i < v->n_items; i++) {
		const char *k = v->items[i].key;
		if (strcmp(k, "dtype") && strcmp(k, "shape") &&
		    strcmp(k, "data_offsets"))
			return randes_errf(err, RANDES_EDATA,
					   "tensor '%s': unexpected key '%.64s'",
					   pt->name, k);
	}
	dtype = json_object_get(v, "dtype");
	shape = json_object_get(v, "shape");
	offs = json_object_get(v, "data_offsets");
	if (!dtype || !shape || !offs)
		return randes_errf(err, RANDES_EDATA,
				   "tensor '%s': needs dtype, shape and "
				   "data_offsets", pt->name);
	if (dtype->type != JSON_STRING || strcmp(dtype->str, "F32"))
		return randes_errf(err, RANDES_EDATA,
				   "tensor '%s': dtype %s%.16s%s, expected F32",
				   pt->name, dtype->type == JSON_STRING ? "'" : "",
				   dtype->type == JSON_STRING ? dtype->str
							      : "(not a string)",
				   dtype->type == JSON_STRING ? "'" : "");
	if (shape->type != JSON_ARRAY)
		return randes_errf(err, RANDES_EDATA,
				   "tensor '%s': shape is not an array", pt->name);
	shape_ok = shape->n_items == pt->ndim;
	for (size_t d = 0; d < shape->n_items; d++) {
		uint64_t x;
		if (json_number_u64(&shape->items[d], &x))
			return randes_errf(err, RANDES_EDATA,
					   "tensor '%s': shape entry %zu is not "
					   "a non-negative integer", pt->name, d);
		if (d < PARAMS_MAX_DIMS)
			got[d] = (size_t)x;
		if (d >= pt->ndim || x != pt->shape[d])
			shape_ok = 0;
	}
	shape_str(want_s, sizeof(want_s), pt->shape, pt->ndim);
	if (!shape_ok) {
		if (shape->n_items <= PARAMS_MAX_DIMS)
			shape_str(got_s, sizeof(got_s), got,
				  (unsigned)shape->n_items);
		else
			snprintf(got_s, sizeof(got_s), "(%zu dimensions)",
				 shape->n_items);
		return randes_errf(err, RANDES_EDATA,
				   "tensor '%s': shape %s, but the model "
				   "(config) has %s", pt->name, got_s, want_s);
	}
	if (offs->type != JSON_ARRAY || offs->n_items != 2 ||
	    json_number_u64(&offs->items[0], &e->begin) ||
	    json_number_u64(&offs->items[1], &e->end))
		return randes_errf(err, RANDES_EDATA,
				   "tensor '%s': data_offsets must be two "
				   "non-negative integers [begin, end]", pt->name);
	if (e->begin > e->end || e->end > data_len)
		return randes_errf(err, RANDES_EDATA,
				   "tensor '%s': data_offsets [%llu, %llu] out "
				   "of range (the data has %llu bytes)", pt->name,
				   (unsigned long long)e->begin,
				   (unsigned long long)e->end,
				   (unsigned long long)data_len);
	if (e->end - e->begin != (uint64_t)pt->count * sizeof(float))
		return randes_errf(err, RANDES_EDATA,
				   "tensor '%s': data_offsets [%llu, %llu] span "
				   "%llu bytes, shape %s in F32 needs %zu",
				   pt->name, (unsigned long long)e->begin,
				   (unsigned long long)e->end,
				   (unsigned long long)(e->end - e->begin), want_s,
				   pt->count * sizeof(float));
	return 0;
}

/* Collects __metadata__ (a string-to-string object) into *meta. */
static int meta_collect(const struct json_value *v,
			struct safetensors_meta *meta, char *err)
{
	if (v->type != JSON_OBJECT)
		return randes_errf(err, RANDES_EDATA,
				   "__metadata__ is not a JSON object");
	for (size_t i = 0; i < v->n_items; i++) {
		const struct json_value *it = &v->items[i];
		if (it->type != JSON_STRING)
			return randes_errf(err, RANDES_EDATA,
					   "__metadata__ value of '%.64s' is not "
					   "a string", it->key);
		/* Keys and values are handed out as C strings: a NUL (\u0000)
		 * would cut them silently, and an empty key is one the
		 * encoder refuses.  Refuse both rather than misread. */
		if (it->key_len == 0 || strlen(it->key) != it->key_len ||
		    strlen(it->str) != it->str_len)
			return randes_errf(err, RANDES_EDATA,
					   "__metadata__ entry '%.64s': %s",
					   it->key,
					   it->key_len == 0
						   ? "empty key"
						   : "a NUL character (\\u0000) "
						     "in the key or value");
	}
	if (!meta || !v->n_items)
		return 0;
	meta->keys = calloc(v->n_items, sizeof(char *));
	meta->values = calloc(v->n_items, sizeof(char *));
	if (!meta->keys || !meta->values)
		goto nomem;
	for (size_t i = 0; i < v->n_items; i++) {
		meta->n = i + 1;
		meta->keys[i] = malloc(v->items[i].key_len + 1);
		meta->values[i] = malloc(v->items[i].str_len + 1);
		if (!meta->keys[i] || !meta->values[i])
			goto nomem;
		memcpy(meta->keys[i], v->items[i].key, v->items[i].key_len + 1);
		memcpy(meta->values[i], v->items[i].str, v->items[i].str_len + 1);
	}
	meta->n = v->n_items;
	return 0;
nomem:
	safetensors_meta_free(meta);
	return randes_errf(err, RANDES_ENOMEM, "out of memory");
}

int safetensors_decode(const unsigned char *buf, size_t len,
		       const struct params_layout *l, float *theta,
		       struct safetensors_meta *meta, char *err)
{
	struct json_doc *doc = NULL;
	struct st_entry *ents = NULL;
	unsigned char *seen = NULL;
	const struct json_value *root;
	const unsigned char *data;
	uint64_t hlen = 0, data_len;
	size_t n_ents = 0;
	int rc;

	if (meta)
		memset(meta, 0, sizeof(*meta));
	if (len < 8)
		return randes_errf(err, RANDES_EDATA,
				   "file is %zu bytes, shorter than the 8-byte "
				   "header length (truncated?)", len);
	for (int i = 0; i < 8; i++)
		hlen |= (uint64_t)buf[i] << (8 * i);
	if (hlen > SAFETENSORS_MAX_HEADER)
		return randes_errf(err, RANDES_EDATA,
				   "header length %llu is absurd (limit %llu "
				   "bytes): not a safetensors file?",
				   (unsigned long long)hlen,
				   SAFETENSORS_MAX_HEADER);
	if (hlen > len - 8)
		return randes_errf(err, RANDES_EDATA,
				   "header length %llu runs past the end of "
				   "the %zu-byte file (truncated?)",
				   (unsigned long long)hlen, len);
	if (hlen < 2 || buf[8] != '{')
		return randes_errf(err, RANDES_EDATA,
				   "header does not start with '{': not a "
				   "safetensors file?");
	rc = json_parse((const char *)buf + 8, (size_t)hlen, &doc, err);
	if (rc) {
		randes_err_prefix(err, "header");
		goto fail;
	}
	root = json_doc_root(doc);
	data = buf + 8 + hlen;
	data_len = len - 8 - hlen;

	ents = calloc(root->n_items + 1, sizeof(*ents));
	seen = calloc(l->n_tensors + 1, 1);
	if (!ents || !seen) {
		rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < root->n_items; i++) {
		const struct json_value *v = &root->items[i];
		const struct params_tensor *pt;
		struct st_entry *e = &ents[n_ents];

		if (!strcmp(v->key, "__metadata__"))
			continue;
		pt = params_tensor_find(l, v->key);
		if (!pt || strlen(v->key) != v->key_len) {
			rc = randes_errf(err, RANDES_EDATA,
					 "unexpected tensor '%.64s' (the model "
					 "has no such tensor: a file of another "
					 "config?)", v->key);
			goto fail;
		}
		rc = entry_check(v, pt, data_len, e, err);
		if (rc)
			goto fail;
		e->name = pt->name;
		e->layout_index = (size_t)(pt - l->tensors);
		seen[e->layout_index] = 1;
		n_ents++;
	}
	for (size_t t = 0; t < l->n_tensors; t++)
		if (!seen[t]) {
			rc = randes_errf(err, RANDES_EDATA,
					 "missing tensor '%s' (a file of another "
					 "config?)", l->tensors[t].name);
			goto fail;
		}

	/* The tensors must tile the data exactly: sorted by offset, each
	 * begins where the previous ended, the first at 0, the last at the
	 * end of the file. */
	qsort(ents, n_ents, sizeof(*ents), entry_cmp);
	{
		uint64_t at = 0;
		for (size_t i = 0; i < n_ents; i++) {
			if (ents[i].begin < at) {
				rc = randes_errf(err, RANDES_EDATA,
						 "tensors '%s' and '%s' overlap",
						 ents[i - 1].name, ents[i].name);
				goto fail;
			}
			if (ents[i].begin > at) {
				rc = randes_errf(err, RANDES_EDATA,
						 "%llu unused bytes before "
						 "tensor '%s' (data_offsets "
						 "leave a gap)",
						 (unsigned long long)(ents[i].begin - at),
						 ents[i].name);
				goto fail;
			}
			at = ents[i].end;
		}
		if (at != data_len) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%llu bytes after the last tensor "
					 "(trailing data is refused)",
					 (unsigned long long)(data_len - at));
			goto fail;
		}
	}
	{
		const struct json_value *mv = json_object_get(root, "__metadata__");
		if (mv) {
			rc = meta_collect(mv, meta, err);
			if (rc)
				goto fail;
		}
	}
	/* Everything checked: only now touch theta. */
	for (size_t i = 0; i < n_ents; i++) {
		const struct params_tensor *pt = &l->tensors[ents[i].layout_index];
		floats_le((unsigned char *)(theta + pt->offset),
			  data + ents[i].begin, pt->count);
	}
	rc = 0;
fail:
	json_doc_free(doc);
	free(ents);
	free(seen);
	return rc;
}

int safetensors_read(const char *path, const struct params_layout *l,
		     float *theta, struct safetensors_meta *meta, char *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (meta)
		memset(meta, 0, sizeof(*meta));
	rc = fsutil_read_file(path, 8 + SAFETENSORS_MAX_HEADER +
					    l->total * sizeof(float),
			      &data, &len, err);
	if (rc)
		return rc;
	rc = safetensors_decode((const unsigned char *)data, len, l, theta,
				meta, err);
	if (rc)
		randes_err_prefix(err, "%s", path);
	free(data);
	return rc;
}

const char *safetensors_meta_get(const struct safetensors_meta *m,
				 const char *key)
{
	for (size_t i = 0; m && i < m->n; i++)
		if (!strcmp(m->keys[i], key))
			return m->values[i];
	return NULL;
}

void safetensors_meta_free(struct safetensors_meta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys ? m->keys[i] : NULL);
		free(m->values ? m->values[i] : NULL);
	}
	free(m->keys);
	free(m->values);
	memset(m, 0, sizeof(*m));
}
