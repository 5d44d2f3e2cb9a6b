/*
 * rng: the counter-based random number generator (Philox4x32-10, Salmon et
 * al., SC'11) and the streams randes derives from it.
 *
 * Every random number in randes is a pure function of
 *     (run seed, purpose, generation, index, position in the stream)
 * so that any rank can rebuild any perturbation, batch or seed without
 * communication, and a resumed run draws exactly what an uninterrupted one
 * would.  There is no global state.
 *
 * Mapping onto Philox: key = the 64-bit run seed (low word first);
 * counter = {block, index, generation, purpose}.  One block gives four
 * 32-bit words.  A stream therefore holds 2^32 blocks (2^34 words).
 *
 * Normals are Box-Muller in double precision on two 32-bit uniforms, rounded
 * to float: block b of a stream yields normals 4b..4b+3, so
 * rng_normal_fill_at() can start anywhere in the stream.
 */
#ifndef RANDES_RNG_H
#define RANDES_RNG_H

#include <stddef.h>
#include <stdint.h>

/* What a stream is for.  Values are part of the on-disk contract: a
 * checkpoint resumes only if these never change. */
enum rng_purpose {
	RNG_PURPOSE_INIT = 1,        /* parameter initialisation            */
	RNG_PURPOSE_NOISE = 2,       /* ES perturbation of pair k, gen g    */
	RNG_PURPOSE_INPUTS = 3,      /* the n training inputs of gen g      */
	RNG_PURPOSE_SEEDS = 4,       /* the m training seeds of gen g       */
	RNG_PURPOSE_R0 = 5,          /* the fixed seed r0 of *_r0 variants  */
	RNG_PURPOSE_EVAL_INPUTS = 6, /* evaluation inputs (fillings, ...)   */
	RNG_PURPOSE_EVAL_SEEDS = 7,  /* the K evaluation seeds              */
	RNG_PURPOSE_EVAL_DRAWS = 8,  /* majority-vote resampling            */
	RNG_PURPOSE_TASK = 9,        /* task-internal (rollout noise, ...)  */
	RNG_PURPOSE_SWEEP = 10,      /* sweep-level derivations             */
	RNG_PURPOSE_TEST = 100,      /* tests only                          */
};

/* One Philox4x32 block with 10 rounds: out = philox(ctr, key). */
void rng_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
		       uint32_t out[4]);

/*
 * nblocks consecutive blocks: block b is philox({ctr[0] + b (mod 2^32),
 * ctr[1], ctr[2], ctr[3]}, key), its four words at out[4b .. 4b + 3].
 * The same words as nblocks calls of rng_philox4x32_10 (integer
 * arithmetic only), eight blocks per vector where the CPU has AVX2 or
 * AVX-512 (blas_isa_get()).
 */
void rng_philox4x32_10_n(const uint32_t ctr[4], const uint32_t key[2],
			 size_t nblocks, uint32_t *out);

/* A sequential reader over one stream.  Plain value; copy freely. */
struct rng_stream {
	uint32_t key[2];
	uint32_t ctr[4]; /* ctr[0] is the next block */
	uint32_t buf[4];
	unsigned have;   /* unread words left in buf (taken from the end) */
	int has_spare;   /* a second Box-Muller normal is waiting */
	float spare;
};

/* Positions s at the start of stream (seed, purpose, generation, index). */
void rng_stream_init(struct rng_stream *s, uint64_t seed, uint32_t purpose,
		     uint32_t generation, uint32_t index);

uint32_t rng_u32(struct rng_stream *s);
uint64_t rng_u64(struct rng_stream *s);

/* Uniform float in [0, 1) with 24 random bits. */
float rng_uniform(struct rng_stream *s);

/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform_double(struct rng_stream *s);

/* Uniform integer in [0, n), unbiased (rejection); n must be > 0. */
uint32_t rng_below(struct rng_stream *s, uint32_t n);

/* A fair bit as 0.0f or 1.0f. */
float rng_bit(struct rng_stream *s);

/* Standard normal (Box-Muller; the second value of a pair is cached). */
float rng_normal(struct rng_stream *s);

/* Fisher-Yates shuffle of perm[0..n) in place. */
void rng_shuffle_u32(struct rng_stream *s, uint32_t *perm, size_t n);

/*
 * out[i] = normal number (offset + i) of stream (seed, purpose, generation,
 * index), for i in [0, n).  Random access: the result does not depend on how
 * a range is split into calls.  Used for ES noise.
 */
void rng_normal_fill_at(uint64_t seed, uint32_t purpose, uint32_t generation,
			uint32_t index, uint64_t offset, float *out, size_t n);

/* The same as rng_normal_fill_at with offset 0. */
void rng_normal_fill(uint64_t seed, uint32_t purpose, uint32_t generation,
		     uint32_t index, float *out, size_t n);

/* A 64-bit value derived from (seed, purpose, a, b): for deriving sub-seeds
 * such as the seed of run k in a sweep.  Never equal to seed by accident of
 * construction (it is a Philox output). */
uint64_t rng_derive(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b);

#endif
