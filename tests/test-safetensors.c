/*
 * test-safetensors: bitwise round trips (memory and file, metadata
 * included), files written in another tensor order accepted, and every
 * malformed case refused with RANDES_EDATA, a message saying what is wrong,
 * and theta untouched: short files, header lengths past the end or absurd,
 * every truncation, invalid JSON, missing / extra tensors, wrong dtype,
 * wrong shape, data_offsets out of range / overlapping / leaving a gap /
 * not reaching the end / wrongly sized / not integers, trailing bytes,
 * malformed metadata.  With /usr/bin/python3 and NumPy, a standalone
 * Python reader (tests/safetensors_check.py) checks the file too.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/model.h"
#include "common/params.h"
#include "common/safetensors.h"
#include "testutil.h"

#ifndef RANDES_SOURCE_ROOT
#define RANDES_SOURCE_ROOT "."
#endif

/* The value stored at global float index g (exact in float). */
static float ramp(size_t g)
{
	return (float)((double)((long)((g * 37) % 1001) - 500) / 64.0);
}

/* a (4, 3) then b (5): 48 + 20 = 68 data bytes. */
static void layout_small(struct params_layout *l)
{
	params_layout_init(l);
	params_add(l, "a", 2, (size_t[]){4, 3});
	params_add(l, "b", 1, (size_t[]){5});
}

static float *theta_ramp(const struct params_layout *l)
{
	float *t = malloc((l->total + 1) * sizeof(float));

	ck_assert(t);
	for (size_t g = 0; g < l->total; g++)
		t[g] = ramp(g);
	return t;
}

/* A file from a raw header text and data_len bytes of ramp data. */
static unsigned char *craft(const char *header, size_t data_len, size_t *len)
{
	size_t h = strlen(header), hp = (h + 7) / 8 * 8;
	unsigned char *buf = malloc(8 + hp + data_len + 1);

	ck_assert(buf);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)hp >> (8 * i));
	memcpy(buf + 8, header, h);
	memset(buf + 8 + h, ' ', hp - h);
	for (size_t i = 0; i < data_len / 4; i++) {
		float v = ramp(i);
		memcpy(buf + 8 + hp + 4 * i, &v, 4);
	}
	memset(buf + 8 + hp + data_len / 4 * 4, 0, data_len % 4);
	*len = 8 + hp + data_len;
	return buf;
}

static const struct safetensors_kv meta_in[] = {
	{"model", "{\"width\": 40, \"attention\": \"linear\"}"},
	{"task", "associative_recall"},
	{"variant", "q_R"},
	{"run_seed", "7"},
	{"r0", "[0, 1, 1, 0, 1.5e-3]"},
	{"note", "caf\xc3\xa9 \"quoted\" \\ \t"},
};
#define N_META (sizeof(meta_in) / sizeof(meta_in[0]))

START_TEST(st_round_trip_memory)
{
	struct model m;
	struct config_model c;
	struct model_io io = {.seq_len = 21, .feat = 25, .out_dim = 5,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_LAST};
	struct safetensors_meta meta;
	char err[RANDES_ERR_LEN];
	unsigned char *buf;
	size_t len;
	float *theta, *back;
	uint64_t hlen = 0;

	memset(&c, 0, sizeof(c));
	c.width = 40;
	c.layers = 2;
	c.heads = 1;
	c.key_size = 5;
	c.value_size = 5;
	c.input_embedding = MODEL_EMBED_MLP;
	c.seed_encoding.dim = 10;
	c.embedding_init_var = 1.0;
	c.weight_init_var = 1.0;
	ck_assert(model_init(&m, &c, &io, err) == 0);
	theta = malloc(model_n_params(&m) * sizeof(float));
	back = malloc(model_n_params(&m) * sizeof(float));
	ck_assert(theta && back);
	model_init_theta(&m, 3, theta);
	theta[5] = -0.0f; /* bit patterns, not values, must survive */
	memset(back, 0xa5, model_n_params(&m) * sizeof(float));

	ck_assert_int_eq(safetensors_encode(&m.layout, theta, meta_in, N_META,
					    &buf, &len, err), 0);
	for (int i = 0; i < 8; i++)
		hlen |= (uint64_t)buf[i] << (8 * i);
	ck_assert_uint_eq(hlen % 8, 0);
	ck_assert_uint_eq(len, 8 + hlen + 4 * model_n_params(&m));
	ck_assert_int_eq(buf[8], '{');
	ck_assert_int_eq(safetensors_decode(buf, len, &m.layout, back, &meta,
					    err), 0);
	ck_assert(!memcmp(theta, back, model_n_params(&m) * sizeof(float)));
	ck_assert_uint_eq(meta.n, N_META);
	for (size_t i = 0; i < N_META; i++) {
		ck_assert_str_eq(meta.keys[i], meta_in[i].key);
		ck_assert_str_eq(safetensors_meta_get(&meta, meta_in[i].key),
				 meta_in[i].value);
	}
	ck_assert(safetensors_meta_get(&meta, "absent") == NULL);
	safetensors_meta_free(&meta);
	safetensors_meta_free(&meta); /* twice is fine */
	/* meta NULL: not returned; no metadata written at all */
	free(buf);
	ck_assert_int_eq(safetensors_encode(&m.layout, theta, NULL, 0, &buf, &len,
					    err), 0);
	for (size_t i = 0; i + 12 <= len; i++)
		ck_assert(memcmp(buf + i, "__metadata__", 12) != 0);
	ck_assert_int_eq(safetensors_decode(buf, len, &m.layout, back, NULL,
					    err), 0);
	free(buf);
	free(theta);
	free(back);
}
END_TEST

START_TEST(st_round_trip_file)
{
	struct params_layout l;
	struct safetensors_meta meta;
	char err[RANDES_ERR_LEN], path[4200], cmd[8600], script[4200];
	const char *dir = tu_mkdtemp();
	float *theta, *back;
	FILE *probe;
	struct stat st;

	layout_small(&l);
	theta = theta_ramp(&l);
	back = calloc(l.total, sizeof(float));
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	ck_assert_msg(safetensors_write(path, &l, theta, meta_in, N_META, err) == 0,
		      "%s", err);
	/* Overwrite in place (atomic replace of an existing file). */
	ck_assert_int_eq(safetensors_write(path, &l, theta, meta_in, N_META, err),
			 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(safetensors_read(path, &l, back, &meta, err), 0);
	ck_assert(!memcmp(theta, back, l.total * sizeof(float)));
	ck_assert_str_eq(safetensors_meta_get(&meta, "variant"), "q_R");
	safetensors_meta_free(&meta);

	/* The standalone Python reader (json + NumPy only). */
	snprintf(script, sizeof(script), "%s/tests/safetensors_check.py",
		 RANDES_SOURCE_ROOT);
	probe = popen("/usr/bin/python3 -c 'import numpy' 2>/dev/null && echo y",
		      "r");
	if (probe && fgetc(probe) == 'y' && access(script, R_OK) == 0) {
		snprintf(cmd, sizeof(cmd),
			 "/usr/bin/python3 '%s' '%s' --expect-ramp --quiet "
			 "--meta task=associative_recall --meta run_seed=7 "
			 "--meta 'r0=[0, 1, 1, 0, 1.5e-3]' >/dev/null",
			 script, path);
		ck_assert_msg(system(cmd) == 0, "Python reader refused %s", path);
		/* ... and it is a real check: it refuses a wrong expectation. */
		snprintf(cmd, sizeof(cmd),
			 "/usr/bin/python3 '%s' '%s' --quiet --meta task=x "
			 ">/dev/null 2>&1", script, path);
		ck_assert(system(cmd) != 0);
	} else {
		fprintf(stderr, "test-safetensors: SKIPPED the Python reader "
				"check (/usr/bin/python3 with numpy or %s "
				"missing)\n", script);
	}
	if (probe)
		pclose(probe);

	snprintf(path, sizeof(path), "%s/absent.safetensors", dir);
	ck_assert_int_eq(safetensors_read(path, &l, back, NULL, err), RANDES_EIO);
	/* Writing into a directory that does not exist fails cleanly. */
	snprintf(path, sizeof(path), "%s/no/such/dir/x.safetensors", dir);
	ck_assert_int_eq(safetensors_write(path, &l, theta, NULL, 0, err),
			 RANDES_EIO);
	free(theta);
	free(back);
	tu_rm_rf(dir);
}
END_TEST

/* Another writer's tensor order (sorted by name, b first), no metadata. */
START_TEST(st_other_order)
{
	struct params_layout l;
	char err[RANDES_ERR_LEN];
	const char *h = "{\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]},"
			"\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[20,68]}}";
	size_t len;
	unsigned char *buf = craft(h, 68, &len);
	float back[17];

	layout_small(&l);
	ck_assert_msg(safetensors_decode(buf, len, &l, back, NULL, err) == 0, "%s",
		      err);
	/* b is data floats 0..4, a is 5..16 */
	for (size_t i = 0; i < 12; i++)
		ck_assert(back[i] == ramp(5 + i));
	for (size_t i = 0; i < 5; i++)
		ck_assert(back[12 + i] == ramp(i));
	free(buf);
}
END_TEST

START_TEST(st_encode_errors)
{
	struct params_layout l;
	char err[RANDES_ERR_LEN];
	unsigned char *buf = (unsigned char *)1;
	size_t len;
	float theta[17] = {0};
	const struct safetensors_kv dup[] = {{"k", "1"}, {"k", "2"}};
	const struct safetensors_kv empty[] = {{"", "1"}};

	layout_small(&l);
	ck_assert_int_eq(safetensors_encode(&l, theta, dup, 2, &buf, &len, err),
			 RANDES_EUSAGE);
	ck_assert(buf == NULL);
	ck_assert(strstr(err, "'k'"));
	ck_assert_int_eq(safetensors_encode(&l, theta, empty, 1, &buf, &len, err),
			 RANDES_EUSAGE);
}
END_TEST

/* --- malformed files ------------------------------------------------------- */

#define A_OK "\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]}"
#define B_OK "\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[48,68]}"

static const struct {
	const char *header;
	size_t data_len;
	const char *what; /* substring of the message */
} bad[] = {
	/* the two good entries, but 4 bytes too many / too few data */
	{"{" A_OK "," B_OK "}", 72, "4 bytes after the last tensor"},
	{"{" A_OK "," B_OK "}", 64, "out of range"},
	/* missing, extra */
	{"{" A_OK "}", 48, "missing tensor 'b'"},
	{"{" A_OK "," B_OK ",\"c\":{\"dtype\":\"F32\",\"shape\":[1],"
	 "\"data_offsets\":[68,72]}}", 72, "unexpected tensor 'c'"},
	{"{\"A\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "unexpected tensor 'A'"},
	/* dtype */
	{"{\"a\":{\"dtype\":\"F16\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "dtype 'F16', expected F32"},
	{"{\"a\":{\"dtype\":32,\"shape\":[4,3],\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "expected F32"},
	/* shape */
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "shape [3, 4], but the model (config) has [4, 3]"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[12],\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "shape [12]"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3,1],\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "shape [4, 3, 1]"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,-3],\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "not a non-negative integer"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3.0],\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "not a non-negative integer"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":\"4,3\",\"data_offsets\":[0,48]},"
	 B_OK "}", 68, "shape is not an array"},
	/* data_offsets */
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,4800]},"
	 B_OK "}", 68, "out of range"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],"
	 "\"data_offsets\":[18446744073709551615,18446744073709551615]},"
	 B_OK "}", 68, "out of range"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[48,0]},"
	 B_OK "}", 68, "out of range"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,44]},"
	 B_OK "}", 68, "span 44 bytes"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[20,68]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]}}", 72,
	 "4 bytes after"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[40,60]}}", 68,
	 "overlap"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]}}", 68,
	 "overlap"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[4,52]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[52,72]}}", 72,
	 "4 unused bytes before tensor 'a'"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[52,72]}}", 72,
	 "unused bytes before tensor 'b'"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0]},"
	 B_OK "}", 68, "two non-negative integers"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48,68]},"
	 B_OK "}", 68, "two non-negative integers"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[-1,47]},"
	 B_OK "}", 68, "two non-negative integers"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0.0,48]},"
	 B_OK "}", 68, "two non-negative integers"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":\"0,48\"},"
	 B_OK "}", 68, "two non-negative integers"},
	/* entry structure */
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3]}," B_OK "}", 68,
	 "needs dtype, shape and data_offsets"},
	{"{\"a\":[0,48]," B_OK "}", 68, "not a JSON object"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48],"
	 "\"x\":1}," B_OK "}", 68, "unexpected key 'x'"},
	{"{" A_OK "," A_OK "," B_OK "}", 68, "duplicate key \"a\""},
	/* metadata */
	{"{\"__metadata__\":{\"k\":1}," A_OK "," B_OK "}", 68, "not a string"},
	{"{\"__metadata__\":[\"k\"]," A_OK "," B_OK "}", 68,
	 "__metadata__ is not a JSON object"},
	/* JSON */
	{"{" A_OK "," B_OK "", 68, "header: json"},
	{"{" A_OK "," B_OK ",}", 68, "trailing comma"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
	 B_OK "}\x01", 68, "header: json"},
	{"[1]", 68, "does not start with '{'"},
	{" {}", 68, "does not start with '{'"},
};

START_TEST(st_refuse_crafted)
{
	struct params_layout l;
	struct safetensors_meta meta;
	char err[RANDES_ERR_LEN] = "";
	size_t len;
	unsigned char *buf = craft(bad[_i].header, bad[_i].data_len, &len);
	float theta[17];

	layout_small(&l);
	memset(theta, 0x5a, sizeof(theta));
	ck_assert_int_eq(safetensors_decode(buf, len, &l, theta, &meta, err),
			 RANDES_EDATA);
	ck_assert_msg(strstr(err, bad[_i].what), "case %d: message '%s' lacks "
		      "'%s'", _i, err, bad[_i].what);
	for (size_t i = 0; i < 17; i++) {
		uint32_t u;
		memcpy(&u, &theta[i], 4);
		ck_assert_msg(u == 0x5a5a5a5au, "theta touched on failure");
	}
	ck_assert_uint_eq(meta.n, 0);
	free(buf);
}
END_TEST

/* Header length field: short files, past the end, absurd. */
START_TEST(st_refuse_header_length)
{
	struct params_layout l;
	char err[RANDES_ERR_LEN];
	unsigned char *buf;
	size_t len;
	float theta[17];

	layout_small(&l);
	buf = craft("{" A_OK "," B_OK "}", 68, &len);
	for (size_t n = 0; n < 8; n++) {
		ck_assert_int_eq(safetensors_decode(buf, n, &l, theta, NULL, err),
				 RANDES_EDATA);
		ck_assert_msg(strstr(err, "shorter than the 8-byte"), "%s", err);
	}
	/* Every truncation of a valid file is refused, none crashes. */
	for (size_t n = 8; n < len; n++)
		ck_assert_msg(safetensors_decode(buf, n, &l, theta, NULL, err) ==
				      RANDES_EDATA,
			      "truncated to %zu of %zu bytes: accepted", n, len);
	/* header length one past the end */
	{
		uint64_t h = len - 8 + 1;
		for (int i = 0; i < 8; i++)
			buf[i] = (unsigned char)(h >> (8 * i));
		ck_assert_int_eq(safetensors_decode(buf, len, &l, theta, NULL, err),
				 RANDES_EDATA);
		ck_assert_msg(strstr(err, "past the end"), "%s", err);
	}
	/* absurd: 2^63, and just above the 100 MB limit */
	{
		const uint64_t hs[] = {1ull << 63, SAFETENSORS_MAX_HEADER + 1,
				       UINT64_MAX};
		for (int k = 0; k < 3; k++) {
			for (int i = 0; i < 8; i++)
				buf[i] = (unsigned char)(hs[k] >> (8 * i));
			ck_assert_int_eq(safetensors_decode(buf, len, &l, theta, NULL,
							    err), RANDES_EDATA);
			ck_assert_msg(strstr(err, "absurd"), "%s", err);
		}
	}
	free(buf);
}
END_TEST

/* A file of a different model: names, shapes or counts differ. */
START_TEST(st_refuse_other_layout)
{
	struct params_layout l, other;
	char err[RANDES_ERR_LEN];
	unsigned char *buf;
	size_t len;
	float *theta;

	layout_small(&l);
	params_layout_init(&other);
	params_add(&other, "a", 2, (size_t[]){4, 3});
	params_add(&other, "b", 1, (size_t[]){6});
	theta = calloc(other.total, sizeof(float));
	ck_assert_int_eq(safetensors_encode(&other, theta, NULL, 0, &buf, &len,
					    err), 0);
	ck_assert_int_eq(safetensors_decode(buf, len, &l, theta, NULL, err),
			 RANDES_EDATA);
	ck_assert_msg(strstr(err, "tensor 'b': shape [6], but the model (config) "
				  "has [5]"), "%s", err);
	free(buf);
	free(theta);
}
END_TEST

/* Bit flips in the header give an error or a clean accept, never a crash
 * or a read out of bounds (run under valgrind to see the latter). */
START_TEST(st_header_bit_flips)
{
	struct params_layout l;
	char err[RANDES_ERR_LEN];
	unsigned char *buf, *copy;
	size_t len, hlen = 0;
	float theta[17];

	layout_small(&l);
	buf = craft("{" A_OK "," B_OK "}", 68, &len);
	copy = malloc(len);
	for (int i = 0; i < 8; i++)
		hlen |= (size_t)buf[i] << (8 * i);
	for (size_t byte = 0; byte < 8 + hlen; byte++)
		for (int bit = 0; bit < 8; bit++) {
			int rc;
			memcpy(copy, buf, len);
			copy[byte] ^= (unsigned char)(1u << bit);
			rc = safetensors_decode(copy, len, &l, theta, NULL, err);
			ck_assert(rc == 0 || rc == RANDES_EDATA);
		}
	free(buf);
	free(copy);
}
END_TEST

static Suite *st_suite(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("safetensors:round-trip");

	tcase_add_test(tc, st_round_trip_memory);
	tcase_add_test(tc, st_round_trip_file);
	tcase_add_test(tc, st_other_order);
	tcase_add_test(tc, st_encode_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("safetensors:malformed");
	tcase_add_loop_test(tc, st_refuse_crafted, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, st_refuse_header_length);
	tcase_add_test(tc, st_refuse_other_layout);
	tcase_add_test(tc, st_header_bit_flips);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(st_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
