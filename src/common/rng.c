/* rng: Philox4x32-10 and the streams built on it (see rng.h). */
#include "rng.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "vmath.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rng_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
		       uint32_t out[4])
{
	uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
	uint32_t k0 = key[0], k1 = key[1];

	for (int round = 0; round < 10; round++) {
		uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
		uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
		uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
		uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;

		c0 = hi1 ^ c1 ^ k0;
		c1 = lo1;
		c2 = hi0 ^ c3 ^ k1;
		c3 = lo0;
		/* The key schedule bumps between rounds, not after the last. */
		k0 += PHILOX_W0;
		k1 += PHILOX_W1;
	}
	out[0] = c0;
	out[1] = c1;
	out[2] = c2;
	out[3] = c3;
}

/* Blocks b0 .. nblocks - 1 of rng_philox4x32_10_n, one call each. */
static void philox_blocks(const uint32_t ctr[4], const uint32_t key[2],
			  size_t b0, size_t nblocks, uint32_t *out)
{
	for (size_t b = b0; b < nblocks; b++) {
		uint32_t c[4] = {ctr[0] + (uint32_t)b, ctr[1], ctr[2], ctr[3]};

		rng_philox4x32_10(c, key, out + 4 * b);
	}
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * W blocks at once, one per 64-bit lane, W the registers' width (2 on the
 * baseline, 4 with AVX2, 8 with AVX-512F; GCC keeps a vector wider than
 * the registers in memory): a lane holds a 32-bit word zero-extended, so a
 * lane's product with a multiplier is the exact 64-bit product of the
 * scalar round, and its high and low halves are the scalar's hi and lo.
 * The key is the same for every lane.
 */
#define PHILOX_TYPE(T, W)                                                  \
	typedef uint64_t T __attribute__((vector_size((W) * sizeof(uint64_t))))
PHILOX_TYPE(philox_v2, 2);
PHILOX_TYPE(philox_v4, 4);
PHILOX_TYPE(philox_v8, 8);

#define PHILOX_BODY(T, W)                                                  \
	do {                                                               \
		const uint64_t m32 = 0xffffffffu;                          \
		T lane;                                                    \
		size_t b = 0;                                              \
                                                                           \
		for (int l = 0; l < (W); l++)                              \
			lane[l] = (uint64_t)l;                             \
		for (; b + (W) <= nblocks; b += (W)) {                     \
			uint32_t k0 = key[0], k1 = key[1];                 \
			T c0 = (lane + (uint64_t)ctr[0] + b) & m32;        \
			T c1 = (T){0} + ctr[1];                            \
			T c2 = (T){0} + ctr[2];                            \
			T c3 = (T){0} + ctr[3];                            \
                                                                           \
			for (int round = 0; round < 10; round++) {         \
				T p0 = c0 * (uint64_t)PHILOX_M0;           \
				T p1 = c2 * (uint64_t)PHILOX_M1;           \
                                                                           \
				c0 = (p1 >> 32) ^ c1 ^ k0;                 \
				c1 = p1 & m32;                             \
				c2 = (p0 >> 32) ^ c3 ^ k1;                 \
				c3 = p0 & m32;                             \
				k0 += PHILOX_W0;                           \
				k1 += PHILOX_W1;                           \
			}                                                  \
			for (int l = 0; l < (W); l++) {                    \
				uint32_t *o = out + 4 * (b + (size_t)l);   \
                                                                           \
				o[0] = (uint32_t)c0[l];                    \
				o[1] = (uint32_t)c1[l];                    \
				o[2] = (uint32_t)c2[l];                    \
				o[3] = (uint32_t)c3[l];                    \
			}                                                  \
		}                                                          \
		philox_blocks(ctr, key, b, nblocks, out);                  \
	} while (0)

static void philox_v_generic(const uint32_t ctr[4], const uint32_t key[2],
			     size_t nblocks, uint32_t *out)
{
	PHILOX_BODY(philox_v2, 2);
}

__attribute__((target("avx2"))) static void
philox_v_avx2(const uint32_t ctr[4], const uint32_t key[2], size_t nblocks,
	      uint32_t *out)
{
	PHILOX_BODY(philox_v4, 4);
}

__attribute__((target("avx512f"))) static void
philox_v_avx512(const uint32_t ctr[4], const uint32_t key[2],
		size_t nblocks, uint32_t *out)
{
	PHILOX_BODY(philox_v8, 8);
}
#endif

void rng_philox4x32_10_n(const uint32_t ctr[4], const uint32_t key[2],
			 size_t nblocks, uint32_t *out)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), philox_v, ctr, key, nblocks, out);
#else
	philox_blocks(ctr, key, 0, nblocks, out);
#endif
}

void rng_stream_init(struct rng_stream *s, uint64_t seed, uint32_t purpose,
		     uint32_t generation, uint32_t index)
{
	s->key[0] = (uint32_t)seed;
	s->key[1] = (uint32_t)(seed >> 32);
	s->ctr[0] = 0;
	s->ctr[1] = index;
	s->ctr[2] = generation;
	s->ctr[3] = purpose;
	s->have = 0;
	s->has_spare = 0;
	s->spare = 0.0f;
}

uint32_t rng_u32(struct rng_stream *s)
{
	if (s->have == 0) {
		uint32_t out[4];
		rng_philox4x32_10(s->ctr, s->key, out);
		s->ctr[0]++;
		/* Stored reversed so that words come out in block order. */
		s->buf[0] = out[3];
		s->buf[1] = out[2];
		s->buf[2] = out[1];
		s->buf[3] = out[0];
		s->have = 4;
	}
	return s->buf[--s->have];
}

uint64_t rng_u64(struct rng_stream *s)
{
	uint64_t lo = rng_u32(s);
	uint64_t hi = rng_u32(s);
	return lo | (hi << 32);
}

float rng_uniform(struct rng_stream *s)
{
	return (float)(rng_u32(s) >> 8) * (1.0f / 16777216.0f);
}

double rng_uniform_double(struct rng_stream *s)
{
	return (double)(rng_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t rng_below(struct rng_stream *s, uint32_t n)
{
	/* Reject the top partial copy of [0, n) so every value is equally
	 * likely; at most half the draws are rejected, usually none. */
	uint32_t limit = UINT32_MAX - (uint32_t)(((uint64_t)UINT32_MAX + 1) % n);
	uint32_t x;

	do {
		x = rng_u32(s);
	} while (x > limit);
	return x % n;
}

float rng_bit(struct rng_stream *s)
{
	return (rng_u32(s) >> 31) ? 1.0f : 0.0f;
}

/* Box-Muller on two words; u1 is in (0, 1) so the log is finite.  vmath's
 * log and sincos rather than libm's: the same bits on every CPU (glibc
 * picks FMA or SSE2 code at run time), and 8 lanes at a time in
 * rng_normal_fill_at. */
static void box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
	vmath_box_muller(a, b, z0, z1);
}

float rng_normal(struct rng_stream *s)
{
	float z0, z1;

	if (s->has_spare) {
		s->has_spare = 0;
		return s->spare;
	}
	uint32_t a = rng_u32(s);
	uint32_t b = rng_u32(s);
	box_muller(a, b, &z0, &z1);
	s->spare = z1;
	s->has_spare = 1;
	return z0;
}

void rng_shuffle_u32(struct rng_stream *s, uint32_t *perm, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		uint32_t j = rng_below(s, (uint32_t)i);
		uint32_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}

/* Blocks per batch of rng_normal_fill_at (a multiple of vmath's 4). */
#define FILL_BLOCKS 64

void rng_normal_fill_at(uint64_t seed, uint32_t purpose, uint32_t generation,
			uint32_t index, uint64_t offset, float *out, size_t n)
{
	uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
	uint32_t ctr[4] = {0, index, generation, purpose};
	uint64_t pos = offset;
	size_t done = 0, take;

	while (done < n) {
		/* up to FILL_BLOCKS blocks' words, then their normals */
		uint32_t w[4 * FILL_BLOCKS];
		float z[4 * FILL_BLOCKS];
		uint64_t block = pos >> 2;
		unsigned first = (unsigned)(pos & 3);
		size_t nb = (first + (n - done) + 3) / 4;

		if (nb > FILL_BLOCKS)
			nb = FILL_BLOCKS;
		ctr[0] = (uint32_t)block;
		rng_philox4x32_10_n(ctr, key, nb, w);
		vmath_box_muller_n(w, z, nb);
		take = 4 * nb - first;
		if (take > n - done)
			take = n - done;
		memcpy(out + done, z + first, take * sizeof(float));
		done += take;
		pos += take;
	}
}

void rng_normal_fill(uint64_t seed, uint32_t purpose, uint32_t generation,
		     uint32_t index, float *out, size_t n)
{
	rng_normal_fill_at(seed, purpose, generation, index, 0, out, n);
}

uint64_t rng_derive(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b)
{
	struct rng_stream s;

	rng_stream_init(&s, seed, purpose, a, b);
	return rng_u64(&s);
}
