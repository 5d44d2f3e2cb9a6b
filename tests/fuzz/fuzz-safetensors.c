/*
 * fuzz-safetensors: the strict safetensors decoder (safetensors_decode,
 * and json_parse under it) on arbitrary bytes, against two expected
 * layouts: the transformer of a small cycle-colouring config (many
 * tensors of several shapes) and the flat "x" vector of a sphere task.
 *
 * Contract checked (safetensors.h):
 *   - a refusal is RANDES_EDATA (or RANDES_ENOMEM) with a message, theta
 *     is untouched and the metadata is empty;
 *   - an accepted file's metadata is exactly the header's __metadata__,
 *     byte for byte (checked against json_parse of the header: nothing
 *     cut at a NUL, nothing dropped);
 *   - an accepted file re-encodes (safetensors_encode of the decoded
 *     tensors and metadata) to a file that decodes to bitwise the same
 *     theta and the same metadata, in order;
 *   - the metadata's "config" (what `randes eval FILE.safetensors` loads
 *     the model from) is loaded like eval does; if accepted, it round-trips.
 */
#include "fuzz.h"

#include "common/json.h"
#include "common/objective.h"
#include "common/params.h"
#include "common/safetensors.h"

#define FUZZ_ST_MAX_INPUT (1u << 20)
#define FUZZ_ST_SPHERE_D 6

static const char fuzz_st_model_yaml[] =
	"run: {generations: 3, seed: 5}\n"
	"task: {kind: cycle_coloring, num_vertices: 4}\n"
	"model: {width: 4, layers: 1, heads: 1, key_size: 2, value_size: 2}\n"
	"objective: {variant: q_r0, q: 10, seeds: 1, inputs: 2}\n"
	"es: {population: 4}\n";

static struct params_layout fuzz_st_layouts[2];
static float *fuzz_st_theta[2], *fuzz_st_sentinel[2], *fuzz_st_again;
static int fuzz_st_ready;

static void fuzz_st_init(void)
{
	static struct config cfg;
	struct objective *obj = NULL;
	char err[RANDES_ERR_LEN];
	size_t shape[1] = {FUZZ_ST_SPHERE_D}, max = 0;

	if (config_load_string(&cfg, fuzz_st_model_yaml,
			       strlen(fuzz_st_model_yaml), "model.yaml", NULL,
			       0, err) != 0 ||
	    objective_new(&obj, &cfg, err) != 0)
		fuzz_fail("safetensors", "model layout: %s", err);
	fuzz_st_layouts[0] = obj->model.layout;
	objective_free(obj);
	params_layout_init(&fuzz_st_layouts[1]);
	params_add(&fuzz_st_layouts[1], "x", 1, shape);
	for (int i = 0; i < 2; i++) {
		size_t D = fuzz_st_layouts[i].total;
		fuzz_st_theta[i] = malloc(sizeof(float) * D);
		fuzz_st_sentinel[i] = malloc(sizeof(float) * D);
		if (!fuzz_st_theta[i] || !fuzz_st_sentinel[i])
			fuzz_fail("safetensors", "out of memory");
		/* A pattern no decode writes by accident: NaN payloads. */
		for (size_t k = 0; k < D; k++) {
			uint32_t bits = 0x7fc0de00u | (uint32_t)(k & 0xff);
			memcpy(&fuzz_st_sentinel[i][k], &bits, 4);
		}
		if (D > max)
			max = D;
	}
	fuzz_st_again = malloc(sizeof(float) * max);
	if (!fuzz_st_again)
		fuzz_fail("safetensors", "out of memory");
	fuzz_st_ready = 1;
}

/* The decoded metadata must be the header's __metadata__ exactly. */
static void fuzz_st_meta_exact(const uint8_t *data, size_t size,
			       const struct safetensors_meta *meta)
{
	struct json_doc *doc = NULL;
	const struct json_value *mv;
	char err[RANDES_ERR_LEN];
	uint64_t hlen = 0;

	for (int i = 0; i < 8; i++)
		hlen |= (uint64_t)data[i] << (8 * i);
	if (hlen > size - 8 ||
	    json_parse((const char *)data + 8, (size_t)hlen, &doc, err) != 0)
		fuzz_fail("safetensors", "an accepted file has a header "
					 "json_parse refuses: %s",
			  err);
	mv = json_object_get(json_doc_root(doc), "__metadata__");
	if ((mv ? mv->n_items : 0) != meta->n)
		fuzz_fail("safetensors", "%zu metadata entries decoded, the "
					 "header has %zu",
			  meta->n, mv ? mv->n_items : 0);
	for (size_t i = 0; i < meta->n; i++) {
		const struct json_value *v = &mv->items[i];
		if (v->key_len != strlen(meta->keys[i]) ||
		    memcmp(v->key, meta->keys[i], v->key_len) != 0 ||
		    v->type != JSON_STRING ||
		    v->str_len != strlen(meta->values[i]) ||
		    memcmp(v->str, meta->values[i], v->str_len) != 0)
			fuzz_fail("safetensors", "metadata entry %zu is not "
						 "the header's (a NUL inside "
						 "'%.40s'?)",
				  i, meta->keys[i]);
	}
	json_doc_free(doc);
}

/* The metadata "config", loaded as `randes eval FILE` does. */
static void fuzz_st_config(const struct safetensors_meta *meta)
{
	static struct config cfg;
	const char *y = safetensors_meta_get(meta, "config");
	char err[RANDES_ERR_LEN];

	if (!y)
		return;
	memset(err, FUZZ_ERR_FILL, sizeof(err));
	if (config_load_string(&cfg, y, strlen(y), "meta", NULL, 0, err) == 0)
		fuzz_config_roundtrip("safetensors", &cfg);
	else
		fuzz_check_message("safetensors", "metadata config", err);
}

/* Re-encodes an accepted file and checks it decodes to the same. */
static void fuzz_st_roundtrip(const struct params_layout *l,
			      const float *theta,
			      const struct safetensors_meta *meta)
{
	struct safetensors_kv *kv = NULL;
	struct safetensors_meta m2;
	unsigned char *enc = NULL;
	size_t elen = 0;
	char err[RANDES_ERR_LEN];
	int rc;

	if (meta->n) {
		kv = malloc(sizeof(*kv) * meta->n);
		if (!kv)
			return;
		for (size_t i = 0; i < meta->n; i++) {
			kv[i].key = meta->keys[i];
			kv[i].value = meta->values[i];
		}
	}
	rc = safetensors_encode(l, theta, kv, meta->n, &enc, &elen, err);
	if (rc == RANDES_ENOMEM)
		goto out;
	if (rc != 0)
		fuzz_fail("safetensors", "an accepted file does not re-encode: "
					 "%s",
			  err);
	rc = safetensors_decode(enc, elen, l, fuzz_st_again, &m2, err);
	if (rc != 0)
		fuzz_fail("safetensors", "a re-encoded file is refused: %s",
			  err);
	if (memcmp(fuzz_st_again, theta, sizeof(float) * l->total) != 0)
		fuzz_fail("safetensors", "theta changes on re-encoding");
	if (m2.n != meta->n)
		fuzz_fail("safetensors", "%zu metadata entries became %zu",
			  meta->n, m2.n);
	for (size_t i = 0; i < m2.n; i++)
		if (strcmp(m2.keys[i], meta->keys[i]) != 0 ||
		    strcmp(m2.values[i], meta->values[i]) != 0)
			fuzz_fail("safetensors", "metadata entry %zu ('%.40s') "
						 "changes on re-encoding",
				  i, meta->keys[i]);
	safetensors_meta_free(&m2);
out:
	free(enc);
	free(kv);
}

int fuzz_safetensors_one(const uint8_t *data, size_t size)
{
	if (size > FUZZ_ST_MAX_INPUT)
		return 0;
	if (!fuzz_st_ready)
		fuzz_st_init();
	for (int i = 0; i < 2; i++) {
		const struct params_layout *l = &fuzz_st_layouts[i];
		float *theta = fuzz_st_theta[i];
		struct safetensors_meta meta;
		char err[RANDES_ERR_LEN];
		int rc;

		memcpy(theta, fuzz_st_sentinel[i], sizeof(float) * l->total);
		memset(err, FUZZ_ERR_FILL, sizeof(err));
		rc = safetensors_decode(data, size, l, theta, &meta, err);
		if (rc != 0) {
			if (rc != RANDES_EDATA && rc != RANDES_ENOMEM)
				fuzz_fail("safetensors", "refused with class "
							 "%d (%s), expected "
							 "data",
					  rc, randes_err_name(rc));
			fuzz_check_message("safetensors", "safetensors_decode",
					   err);
			if (memcmp(theta, fuzz_st_sentinel[i],
				   sizeof(float) * l->total) != 0)
				fuzz_fail("safetensors", "a refused file "
							 "changed theta: %s",
					  err);
			if (meta.n != 0 || meta.keys || meta.values)
				fuzz_fail("safetensors", "a refused file left "
							 "metadata: %s",
					  err);
			continue;
		}
		fuzz_st_meta_exact(data, size, &meta);
		fuzz_st_roundtrip(l, theta, &meta);
		fuzz_st_config(&meta);
		safetensors_meta_free(&meta);
	}
	return 0;
}

FUZZ_ENTRY(fuzz_safetensors_one)
