/*
 * vec8: the 8-lane vector types shared by the kernels that are compiled
 * three times, for the x86-64 baseline, AVX2 and AVX-512F, and picked at
 * run time by blas_isa_get() (vmath.c, es_vec.c).  GCC's generic vectors:
 * the compiler splits a 64-byte vector into as many registers as the
 * function's target has, and every lane gets exactly the operations
 * written, so the three builds compute the same bits.
 *
 * Internal to src/common; x86 only (include it under the callers'
 * defined(__x86_64__) || defined(__i386__)).  It does not provide any
 * operation that could round differently between the builds: no FMA, no
 * approximate reciprocal or square root.
 */
#ifndef RANDES_VEC8_H
#define RANDES_VEC8_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef double v8d __attribute__((vector_size(64)));
typedef int64_t v8i __attribute__((vector_size(64)));
typedef int32_t v8s32 __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));
typedef uint32_t v8u32 __attribute__((vector_size(32)));

/* Lane-wise m ? a : b with m all-ones or all-zeros per lane. */
#define V8SEL(m, a, b) ((v8d)(((v8i)(a) & (m)) | ((v8i)(b) & ~(m))))

/*
 * x = sqrt(x) lane by lane, one macro per target (generic vectors have no
 * square root; a loop of sqrt() over the lanes compiles to a scalar
 * square root per lane with libm's errno branch, through memory).  The
 * instructions are IEEE's correctly rounded square root, the bits of
 * sqrt().  x must be an lvalue of type v8d.
 */
#if defined(__SSE2__)
#define V8SQRT_SSE2(x)                                                     \
	do {                                                               \
		__m128d q_[4];                                             \
		memcpy(q_, &(x), sizeof(q_));                              \
		q_[0] = _mm_sqrt_pd(q_[0]);                                \
		q_[1] = _mm_sqrt_pd(q_[1]);                                \
		q_[2] = _mm_sqrt_pd(q_[2]);                                \
		q_[3] = _mm_sqrt_pd(q_[3]);                                \
		memcpy(&(x), q_, sizeof(q_));                              \
	} while (0)
#else
#define V8SQRT_SSE2(x)                                                     \
	do {                                                               \
		for (int l_ = 0; l_ < 8; l_++)                             \
			(x)[l_] = sqrt((x)[l_]);                           \
	} while (0)
#endif
/* for functions with target("avx2") (AVX's 4-lane square root) */
#define V8SQRT_AVX2(x)                                                     \
	do {                                                               \
		__m256d h_[2];                                             \
		memcpy(h_, &(x), sizeof(h_));                              \
		h_[0] = _mm256_sqrt_pd(h_[0]);                             \
		h_[1] = _mm256_sqrt_pd(h_[1]);                             \
		memcpy(&(x), h_, sizeof(h_));                              \
	} while (0)
/* for functions with target("avx512f") */
#define V8SQRT_AVX512(x)                                                   \
	do {                                                               \
		(x) = (v8d)_mm512_sqrt_pd((__m512d)(x));                   \
	} while (0)

#endif
