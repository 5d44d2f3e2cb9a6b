/*
 * test-rng: Philox4x32-10 against the published Random123 known-answer
 * vectors, and the properties the ES contract relies on: streams are
 * reproducible, keyed streams differ, random access equals sequential
 * reading, and the derived distributions have the right moments.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/blas.h"
#include "common/rng.h"

/* Random123 kat_vectors, "philox4x32 10" lines: ctr[4] key[2] -> out[4]. */
static const struct {
	uint32_t ctr[4], key[2], out[4];
} kat[] = {
	{{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
	{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
	 {0xffffffff, 0xffffffff},
	 {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
	{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
	 {0xa4093822, 0x299f31d0},
	 {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

START_TEST(rng_kat)
{
	uint32_t out[4];

	rng_philox4x32_10(kat[_i].ctr, kat[_i].key, out);
	for (int w = 0; w < 4; w++)
		ck_assert_msg(out[w] == kat[_i].out[w],
			      "vector %d word %d: got %08x want %08x", _i, w,
			      out[w], kat[_i].out[w]);
}
END_TEST

/* The stream reads Philox blocks in counter order, words in block order. */
START_TEST(rng_stream_layout)
{
	struct rng_stream s;
	uint64_t seed = 0x0123456789abcdefull;
	uint32_t key[2] = {0x89abcdef, 0x01234567};

	rng_stream_init(&s, seed, 7, 11, 13);
	for (uint32_t block = 0; block < 3; block++) {
		uint32_t ctr[4] = {block, 13, 11, 7}, out[4];
		rng_philox4x32_10(ctr, key, out);
		for (int w = 0; w < 4; w++)
			ck_assert_uint_eq(rng_u32(&s), out[w]);
	}
}
END_TEST

/*
 * rng_philox4x32_10_n equals one scalar call per block on every
 * instruction set this CPU runs: block counts around the vector widths
 * (2, 4 and 8 lanes), first counters that wrap past 2^32 inside a vector,
 * and the three KAT keys.  The first words are the KAT vectors themselves.
 */
START_TEST(rng_philox_n_matches_scalar)
{
	static const size_t counts[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 40, 64, 67};
	static const uint32_t firsts[] = {0, 1, 0xfffffffbu, 0xffffffffu};
	enum blas_isa saved = blas_isa_get();
	int isas = 0;

	for (int isa = 0; isa < 3; isa++) {
		if (blas_isa_set((enum blas_isa)isa) != 0)
			continue;
		isas++;
		for (size_t k = 0; k < sizeof(kat) / sizeof(kat[0]); k++) {
			uint32_t got[4 * 67], want[4];

			rng_philox4x32_10_n(kat[k].ctr, kat[k].key, 1, got);
			ck_assert_msg(!memcmp(got, kat[k].out, sizeof(want)),
				      "isa %d: KAT vector %zu differs", isa, k);
			for (size_t f = 0; f < sizeof(firsts) / sizeof(firsts[0]); f++)
			for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
				uint32_t ctr[4] = {firsts[f], kat[k].ctr[1],
						   kat[k].ctr[2], kat[k].ctr[3]};
				size_t n = counts[c];

				memset(got, 0xa5, sizeof(got));
				rng_philox4x32_10_n(ctr, kat[k].key, n, got);
				for (size_t b = 0; b < n; b++) {
					uint32_t cb[4] = {firsts[f] + (uint32_t)b,
							  ctr[1], ctr[2], ctr[3]};

					rng_philox4x32_10(cb, kat[k].key, want);
					ck_assert_msg(!memcmp(got + 4 * b, want,
							      sizeof(want)),
						      "isa %d key %zu first %08x n %zu: block %zu differs",
						      isa, k, firsts[f], n, b);
				}
				for (size_t w = 4 * n; w < 4 * 67; w++)
					ck_assert_msg(got[w] == 0xa5a5a5a5u,
						      "isa %d n %zu: word %zu written",
						      isa, n, w);
			}
		}
	}
	blas_isa_set(saved);
	ck_assert_int_ge(isas, 1);
}
END_TEST

START_TEST(rng_reproducible)
{
	struct rng_stream a, b;

	rng_stream_init(&a, 42, RNG_PURPOSE_INPUTS, 5, 3);
	rng_stream_init(&b, 42, RNG_PURPOSE_INPUTS, 5, 3);
	for (int i = 0; i < 10000; i++) {
		ck_assert_uint_eq(rng_u32(&a), rng_u32(&b));
		ck_assert(rng_normal(&a) == rng_normal(&b));
	}
}
END_TEST

/* Streams that differ in any one key component share no 4-word block among
 * their first 256 blocks (a collision would be a 2^-128 event for a proper
 * keyed PRF, so any hit means the key mapping is broken). */
static int cmp_block(const void *x, const void *y)
{
	return memcmp(x, y, 16);
}

START_TEST(rng_streams_disjoint)
{
	const uint64_t seeds[] = {0, 1, 1ull << 32};
	const uint32_t vals[] = {0, 1, 2};
	size_t nstreams = 0, per = 256;
	uint32_t *blocks = malloc(sizeof(uint32_t) * 4 * per * 3 * 3 * 3 * 3);

	ck_assert_ptr_nonnull(blocks);
	for (int a = 0; a < 3; a++)
		for (int p = 0; p < 3; p++)
			for (int g = 0; g < 3; g++)
				for (int k = 0; k < 3; k++) {
					struct rng_stream s;
					rng_stream_init(&s, seeds[a], vals[p] + 1,
							vals[g], vals[k]);
					for (size_t i = 0; i < per * 4; i++)
						blocks[nstreams * per * 4 + i] =
							rng_u32(&s);
					nstreams++;
				}
	qsort(blocks, nstreams * per, 16, cmp_block);
	for (size_t i = 1; i < nstreams * per; i++)
		ck_assert_msg(memcmp(blocks + 4 * (i - 1), blocks + 4 * i, 16),
			      "repeated block");
	free(blocks);
}
END_TEST

START_TEST(rng_normal_random_access)
{
	enum { N = 1001 };
	float all[N], part[N];

	rng_normal_fill(99, RNG_PURPOSE_NOISE, 3, 17, all, N);
	/* Pieces starting at odd offsets must reproduce the same numbers. */
	size_t cuts[] = {0, 1, 2, 7, 64, 333, 998, N};
	for (size_t c = 0; c + 1 < sizeof(cuts) / sizeof(cuts[0]); c++)
		rng_normal_fill_at(99, RNG_PURPOSE_NOISE, 3, 17, cuts[c],
				   part + cuts[c], cuts[c + 1] - cuts[c]);
	ck_assert(memcmp(all, part, sizeof(all)) == 0);
	/* And a different index gives different numbers. */
	rng_normal_fill(99, RNG_PURPOSE_NOISE, 3, 18, part, N);
	ck_assert(memcmp(all, part, sizeof(all)) != 0);
}
END_TEST

START_TEST(rng_normal_moments)
{
	enum { N = 1 << 20 };
	float *z = malloc(sizeof(float) * N);
	double s1 = 0, s2 = 0, s4 = 0;
	size_t beyond3 = 0;

	ck_assert_ptr_nonnull(z);
	rng_normal_fill(2024, RNG_PURPOSE_TEST, 0, 0, z, N);
	for (size_t i = 0; i < N; i++) {
		double x = z[i];
		s1 += x;
		s2 += x * x;
		s4 += x * x * x * x;
		beyond3 += fabs(x) > 3.0;
	}
	double mean = s1 / N, var = s2 / N - mean * mean, kurt = s4 / N;
	/* Standard errors at N = 2^20: mean 0.001, var 0.0014, E[z^4] 0.01. */
	ck_assert_msg(fabs(mean) < 0.005, "mean %g", mean);
	ck_assert_msg(fabs(var - 1.0) < 0.007, "var %g", var);
	ck_assert_msg(fabs(kurt - 3.0) < 0.05, "E z^4 %g", kurt);
	/* P(|z| > 3) = 0.0026998 */
	ck_assert_msg(fabs((double)beyond3 / N - 0.0026998) < 0.0003,
		      "tail %g", (double)beyond3 / N);
	free(z);
}
END_TEST

START_TEST(rng_uniform_range_and_mean)
{
	struct rng_stream s;
	double sum = 0, sumd = 0;
	float lo = 1, hi = 0;

	rng_stream_init(&s, 5, RNG_PURPOSE_TEST, 0, 0);
	for (int i = 0; i < 200000; i++) {
		float u = rng_uniform(&s);
		double d = rng_uniform_double(&s);
		ck_assert(u >= 0.0f && u < 1.0f);
		ck_assert(d >= 0.0 && d < 1.0);
		sum += u;
		sumd += d;
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
	}
	ck_assert(fabs(sum / 200000 - 0.5) < 0.003);
	ck_assert(fabs(sumd / 200000 - 0.5) < 0.003);
	ck_assert(lo < 0.001f && hi > 0.999f);
}
END_TEST

/* rng_below: every value in [0, n) with the right frequency (chi-square
 * against the 0.999 quantile; the stream is fixed, so this is exact). */
START_TEST(rng_below_uniform)
{
	const uint32_t n = 24;
	unsigned count[24] = {0};
	struct rng_stream s;
	const int draws = 240000;
	double chi2 = 0;

	rng_stream_init(&s, 77, RNG_PURPOSE_TEST, 1, 0);
	for (int i = 0; i < draws; i++) {
		uint32_t v = rng_below(&s, n);
		ck_assert_uint_lt(v, n);
		count[v]++;
	}
	for (uint32_t v = 0; v < n; v++) {
		double e = (double)draws / n;
		chi2 += (count[v] - e) * (count[v] - e) / e;
	}
	/* chi2(23) 0.999 quantile = 49.73 */
	ck_assert_msg(chi2 < 49.73, "chi2 %g", chi2);
	ck_assert_uint_eq(rng_below(&s, 1), 0);
}
END_TEST

START_TEST(rng_shuffle_is_permutation)
{
	uint32_t perm[100];
	int seen[100] = {0};
	struct rng_stream s;
	int moved = 0;

	for (uint32_t i = 0; i < 100; i++)
		perm[i] = i;
	rng_stream_init(&s, 1, RNG_PURPOSE_TEST, 0, 0);
	rng_shuffle_u32(&s, perm, 100);
	for (uint32_t i = 0; i < 100; i++) {
		ck_assert_uint_lt(perm[i], 100);
		seen[perm[i]]++;
		moved += perm[i] != i;
	}
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_int_gt(moved, 80);
}
END_TEST

START_TEST(rng_derive_distinct)
{
	ck_assert(rng_derive(1, RNG_PURPOSE_SWEEP, 0, 0) !=
		  rng_derive(1, RNG_PURPOSE_SWEEP, 1, 0));
	ck_assert(rng_derive(1, RNG_PURPOSE_SWEEP, 0, 0) ==
		  rng_derive(1, RNG_PURPOSE_SWEEP, 0, 0));
	ck_assert(rng_derive(1, RNG_PURPOSE_SWEEP, 0, 0) !=
		  rng_derive(2, RNG_PURPOSE_SWEEP, 0, 0));
}
END_TEST

static Suite *rng_suite(void)
{
	Suite *s = suite_create("rng");
	TCase *tc = tcase_create("rng:philox");

	tcase_add_loop_test(tc, rng_kat, 0, sizeof(kat) / sizeof(kat[0]));
	tcase_add_test(tc, rng_stream_layout);
	tcase_add_test(tc, rng_philox_n_matches_scalar);
	suite_add_tcase(s, tc);

	tc = tcase_create("rng:streams");
	tcase_add_test(tc, rng_reproducible);
	tcase_add_test(tc, rng_streams_disjoint);
	tcase_add_test(tc, rng_normal_random_access);
	tcase_add_test(tc, rng_derive_distinct);
	suite_add_tcase(s, tc);

	tc = tcase_create("rng:distributions");
	tcase_add_test(tc, rng_normal_moments);
	tcase_add_test(tc, rng_uniform_range_and_mean);
	tcase_add_test(tc, rng_below_uniform);
	tcase_add_test(tc, rng_shuffle_is_permutation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rng_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
