/*
 * fuzz-checkpoint: the checkpoint decoder (checkpoint_decode) and the ES
 * state import behind it (es_state_import) on arbitrary bytes.
 *
 * Each input is decoded twice: as it is (the CRC gate is part of the
 * contract), and as a "fixed" copy whose recorded file size and CRC
 * trailer have been rewritten to match, so that mutations reach the
 * structural checks behind the CRC instead of dying at it.
 *
 * Contract checked:
 *   - a refusal is RANDES_EDATA (or RANDES_ENOMEM) with a message that
 *     starts with the name given ("fuzz.bin: "), and the output checkpoint
 *     is left empty;
 *   - an accepted file encodes back to exactly its own bytes (the format
 *     has one encoding per state, so nothing was misread or ignored);
 *   - the expectations work: the decoded D, config hash and run seed are
 *     accepted when expected and a different D is refused;
 *   - es_state_import into ES states of several strategies/optimizers
 *     either succeeds, and then re-exports to the same sections, or fails
 *     with RANDES_EDATA and a message and leaves the state unchanged.
 */
#include "fuzz.h"

#include "common/checkpoint.h"
#include "common/crc.h"
#include "common/es.h"

#define FUZZ_CKPT_MAX_INPUT (1u << 20)
#define FUZZ_CKPT_DIM 4

/* ES states the sections are imported into (D = FUZZ_CKPT_DIM, P = 8):
 * Adam, SGD with momentum (velocity), PGPE + ClipUp (σ and velocity). */
static const char *const fuzz_ckpt_configs[] = {
	"run: {generations: 10, seed: 3}\ntask: {kind: sphere, dim: 4}\n"
	"es: {population: 8, optimizer: adam}\n",
	"run: {generations: 10, seed: 3}\ntask: {kind: sphere, dim: 4}\n"
	"es: {population: 8, optimizer: sgd, momentum: 0.9}\n",
	"run: {generations: 10, seed: 3}\ntask: {kind: sphere, dim: 4}\n"
	"es: {strategy: pgpe, population: 8, optimizer: clipup}\n",
};
#define FUZZ_CKPT_N_ES (sizeof(fuzz_ckpt_configs) / sizeof(fuzz_ckpt_configs[0]))

static struct es fuzz_ckpt_es[FUZZ_CKPT_N_ES];
static int fuzz_ckpt_ready;

static void fuzz_ckpt_init(void)
{
	static struct config cfg;
	float theta0[FUZZ_CKPT_DIM] = {0.5f, -1.0f, 2.0f, 0.25f};
	char err[RANDES_ERR_LEN];

	for (size_t i = 0; i < FUZZ_CKPT_N_ES; i++) {
		const char *y = fuzz_ckpt_configs[i];
		if (config_load_string(&cfg, y, strlen(y), "es.yaml", NULL, 0,
				       err) != 0 ||
		    es_init(&fuzz_ckpt_es[i], &cfg, theta0, FUZZ_CKPT_DIM,
			    err) != 0)
			fuzz_fail("checkpoint", "ES state %zu: %s", i, err);
	}
	fuzz_ckpt_ready = 1;
}

static void fuzz_ckpt_put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The bytes of an ES state's export (malloc'd; NULL on ENOMEM). */
static unsigned char *fuzz_ckpt_es_bytes(const struct es *es, size_t *len)
{
	struct checkpoint ck;
	unsigned char *buf = NULL;
	char err[RANDES_ERR_LEN];

	checkpoint_init(&ck);
	if (es_state_export(es, &ck, err) != 0 ||
	    checkpoint_encode(&ck, &buf, len, err) != 0)
		buf = NULL;
	checkpoint_free(&ck);
	return buf;
}

static void fuzz_ckpt_import(struct es *es, const struct checkpoint *ck)
{
	char err[RANDES_ERR_LEN];
	size_t n0 = 0, n1 = 0;
	unsigned char *before = fuzz_ckpt_es_bytes(es, &n0), *after;
	int rc;

	memset(err, FUZZ_ERR_FILL, sizeof(err));
	rc = es_state_import(es, ck, err);
	after = fuzz_ckpt_es_bytes(es, &n1);
	if (rc != 0) {
		if (rc != RANDES_EDATA)
			fuzz_fail("checkpoint", "es_state_import refused with "
						"class %d (%s), expected data",
				  rc, randes_err_name(rc));
		fuzz_check_message("checkpoint", "es_state_import", err);
		if (before && after &&
		    (n0 != n1 || memcmp(before, after, n0) != 0))
			fuzz_fail("checkpoint", "a refused import changed the "
						"ES state: %s",
				  err);
	} else {
		/* Every section the import read must come back unchanged. */
		const struct checkpoint_section *t =
			checkpoint_section_find(ck, "es.theta");
		if (!t || t->count != es->dim ||
		    memcmp(t->data, es->theta, es->dim * sizeof(float)) != 0)
			fuzz_fail("checkpoint", "an accepted import did not "
						"restore es.theta");
		if (es->sigma) {
			t = checkpoint_section_find(ck, "es.sigma");
			if (!t || memcmp(t->data, es->sigma,
					 es->dim * sizeof(float)) != 0)
				fuzz_fail("checkpoint", "an accepted import "
							"did not restore "
							"es.sigma");
		}
	}
	free(before);
	free(after);
}

static void fuzz_ckpt_decode(const unsigned char *buf, size_t len)
{
	struct checkpoint ck;
	struct checkpoint_expect ex;
	char err[RANDES_ERR_LEN];
	unsigned char *enc = NULL;
	size_t elen = 0;
	int rc;

	memset(err, FUZZ_ERR_FILL, sizeof(err));
	rc = checkpoint_decode(buf, len, "fuzz.bin", NULL, &ck, err);
	if (rc != 0) {
		if (rc != RANDES_EDATA && rc != RANDES_ENOMEM)
			fuzz_fail("checkpoint", "refused with class %d (%s), "
						"expected data",
				  rc, randes_err_name(rc));
		fuzz_check_message("checkpoint", "checkpoint_decode", err);
		if (strncmp(err, "fuzz.bin: ", 10) != 0)
			fuzz_fail("checkpoint", "the message does not start "
						"with the file name: %s",
				  err);
		if (ck.n_sections != 0)
			fuzz_fail("checkpoint", "a refused decode left %zu "
						"sections",
				  ck.n_sections);
		return;
	}

	if (checkpoint_encode(&ck, &enc, &elen, err) != 0)
		fuzz_fail("checkpoint", "an accepted checkpoint does not "
					"encode: %s",
			  err);
	if (elen != len || memcmp(enc, buf, len) != 0)
		fuzz_fail("checkpoint", "an accepted checkpoint encodes to "
					"other bytes (%zu, was %zu)",
			  elen, len);
	free(enc);

	memset(&ex, 0, sizeof(ex));
	ex.dim = ck.dim;
	ex.check_config_hash = 1;
	ex.config_hash = ck.config_hash;
	ex.check_run_seed = 1;
	ex.run_seed = ck.run_seed;
	{
		struct checkpoint again;
		if (ck.dim != 0 &&
		    checkpoint_decode(buf, len, "fuzz.bin", &ex, &again,
				      err) != 0)
			fuzz_fail("checkpoint", "refused under its own "
						"expectations: %s",
				  err);
		if (ck.dim != 0)
			checkpoint_free(&again);
		ex.dim = ck.dim + 1;
		if (ex.dim != 0 &&
		    checkpoint_decode(buf, len, "fuzz.bin", &ex, &again,
				      err) != RANDES_EDATA)
			fuzz_fail("checkpoint", "accepted with D = %llu "
						"expected, holding %llu",
				  (unsigned long long)ex.dim,
				  (unsigned long long)ck.dim);
	}

	for (size_t i = 0; i < FUZZ_CKPT_N_ES; i++)
		fuzz_ckpt_import(&fuzz_ckpt_es[i], &ck);
	checkpoint_free(&ck);
}

int fuzz_checkpoint_one(const uint8_t *data, size_t size)
{
	unsigned char *fixed;

	if (size > FUZZ_CKPT_MAX_INPUT)
		return 0;
	if (!fuzz_ckpt_ready)
		fuzz_ckpt_init();
	fuzz_ckpt_decode(data, size);
	if (size < 80)
		return 0;
	fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	fuzz_ckpt_put_u64(fixed + 16, (uint64_t)size);
	fuzz_ckpt_put_u64(fixed + size - 8, crc64_update(0, fixed, size - 8));
	fuzz_ckpt_decode(fixed, size);
	free(fixed);
	return 0;
}

FUZZ_ENTRY(fuzz_checkpoint_one)
