/*
 * blas: the OpenBLAS wrapper and randes' own ordered GEMM (see blas.h).
 *
 * The ordered GEMM is written once, with GCC vector extensions (a v16 is 16
 * floats), and compiled three times through target attributes: baseline
 * x86-64, AVX2 and AVX-512F.  Only element-wise IEEE multiply and add are
 * used (never fused: the build has -ffp-contract=off and we write no fma),
 * so every build computes the same bits; only the speed differs.
 */
#include "blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

typedef float v16 __attribute__((vector_size(BLAS_NR * sizeof(float))));

static int blas_ready;
static enum blas_isa blas_isa_now = BLAS_ISA_GENERIC;

static int isa_supported(enum blas_isa isa)
{
#if defined(__x86_64__) || defined(__i386__)
	switch (isa) {
	case BLAS_ISA_GENERIC:
		return 1;
	case BLAS_ISA_AVX2:
		return __builtin_cpu_supports("avx2");
	case BLAS_ISA_AVX512:
		return __builtin_cpu_supports("avx512f");
	}
	return 0;
#else
	return isa == BLAS_ISA_GENERIC;
#endif
}

void blas_init(void)
{
	if (blas_ready)
		return;
#ifdef OPENBLAS_VERSION
	/* One thread per rank: ranks x threads <= cores, and no reduction
	 * whose order depends on thread scheduling. */
	openblas_set_num_threads(1);
#endif
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
#endif
	if (isa_supported(BLAS_ISA_AVX512))
		blas_isa_now = BLAS_ISA_AVX512;
	else if (isa_supported(BLAS_ISA_AVX2))
		blas_isa_now = BLAS_ISA_AVX2;
	else
		blas_isa_now = BLAS_ISA_GENERIC;
	blas_ready = 1;
}

const char *blas_corename(void)
{
#ifdef OPENBLAS_VERSION
	const char *name = openblas_get_corename();
	return name ? name : "unknown";
#else
	return "unknown";
#endif
}

/* Vector generations: 1 SSE, 2 AVX, 3 AVX2, 4 AVX-512. */
static int core_level(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} cores[] = {
		{"SkylakeX", 4}, {"Cooperlake", 4}, {"SapphireRapids", 4},
		{"Haswell", 3}, {"Zen", 3}, {"Excavator", 3},
		{"Sandybridge", 2}, {"Bulldozer", 2}, {"Piledriver", 2},
		{"Steamroller", 2},
		{"Prescott", 1}, {"Core2", 1}, {"Penryn", 1}, {"Dunnington", 1},
		{"Nehalem", 1}, {"Atom", 1}, {"Barcelona", 1}, {"Opteron", 1},
		{"Opteron_SSE3", 1}, {"Bobcat", 1}, {"Nano", 1}, {"Katmai", 1},
		{"Coppermine", 1}, {"Northwood", 1}, {"Banias", 1},
		{"Athlon", 1},
	};

	for (size_t i = 0; i < sizeof(cores) / sizeof(cores[0]); i++)
		if (!strcmp(name, cores[i].name))
			return cores[i].level;
	return 0;
}

int blas_core_check(char *msg, size_t len)
{
	const char *core = blas_corename();
	int have = 1, got = core_level(core);
	const char *want = "SSE";

	if (!blas_ready)
		blas_init();
#if defined(__x86_64__) || defined(__i386__)
	if (__builtin_cpu_supports("avx512f")) {
		have = 4;
		want = "SkylakeX";
	} else if (__builtin_cpu_supports("avx2")) {
		have = 3;
		want = "Haswell";
	} else if (__builtin_cpu_supports("avx")) {
		have = 2;
		want = "Sandybridge";
	}
#endif
	if (got == 0 || have - got < 2)
		return 0;
	if (msg && len)
		snprintf(msg, len,
			 "OpenBLAS uses its '%s' kernels on a CPU with %s: its "
			 "sgemm runs several times below this machine (randes' "
			 "own model kernels do not use OpenBLAS); set "
			 "OPENBLAS_CORETYPE=%s in the environment to fix it",
			 core, have == 4 ? "AVX-512" : have == 3 ? "AVX2" : "AVX",
			 want);
	return 1;
}

void blas_sgemm(size_t M, size_t N, size_t K, const float *a, size_t lda,
		const float *b, size_t ldb, float beta, float *out, size_t ldo)
{
	if (!blas_ready)
		blas_init();
	if (M == 0 || N == 0)
		return;
	/* cblas takes int dimensions: refuse silently-wrapping sizes. */
	RANDES_ASSERT(M <= 0x7fffffff && N <= 0x7fffffff && K <= 0x7fffffff);
	RANDES_ASSERT(lda <= 0x7fffffff && ldb <= 0x7fffffff &&
		      ldo <= 0x7fffffff);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N,
		    (int)K, 1.0f, a, (int)(lda ? lda : 1), b,
		    (int)(ldb ? ldb : 1), beta, out, (int)ldo);
}

size_t blas_pack_floats(size_t K, size_t N)
{
	return (N + BLAS_NR - 1) / BLAS_NR * K * BLAS_NR;
}

void blas_pack_b(size_t K, size_t N, const float *b, size_t ldb,
		 float *packed)
{
	size_t npan = (N + BLAS_NR - 1) / BLAS_NR;

	for (size_t c = 0; c < npan; c++) {
		size_t j0 = c * BLAS_NR;
		size_t nj = N - j0 < BLAS_NR ? N - j0 : BLAS_NR;
		float *p = packed + c * K * BLAS_NR; /* (K, NR) */

		for (size_t k = 0; k < K; k++) {
			size_t j = 0;
			for (; j < nj; j++)
				p[k * BLAS_NR + j] = b[k * ldb + j0 + j];
			for (; j < BLAS_NR; j++)
				p[k * BLAS_NR + j] = 0.0f;
		}
	}
}

/*
 * Loads n <= 16 floats into the low lanes of the zeroed vector v.  (Macros
 * rather than functions: a v16 argument would change the calling
 * convention between the ISA builds.)
 */
#define V16_LOAD_N(v, p, n)                                                \
	do {                                                               \
		(v) = (v16){0};                                            \
		memcpy(&(v), (p), (n) * sizeof(float));                   \
	} while (0)

/* Finishes one tile row: t = acc (+ bias), o = (accumulate ? o + t : t)
 * for the nj valid lanes. */
#define TILE_STORE(acc, o)                                                 \
	do {                                                               \
		v16 t_ = bias ? (acc) + biasv : (acc);                     \
		if (accumulate) {                                          \
			v16 o_;                                            \
			V16_LOAD_N(o_, (o), nj);                           \
			t_ = o_ + t_;                                      \
		}                                                          \
		memcpy((o), &t_, nj * sizeof(float));                      \
	} while (0)

/* One k step of a row: acc = acc + b(k, :) * a[k] (rounded twice). */
#define TILE_STEP(acc, r) ((acc) = (acc) + bv * ar[(r) * lda + k])

/*
 * The ordered GEMM on 16-float vectors (AVX-512: one zmm each), with tiles
 * of mr rows (8: eight accumulators hide the add latency); inlined into
 * the target-specific entry point below.  Panels
 * outside, rows inside: a panel (K x 16 floats) stays in L1 while the rows
 * of a stream past it.  Every row, whatever tile it falls in, sees the
 * same operations in the same order.
 */
static inline __attribute__((always_inline)) void
gemm_body(size_t M, size_t N, size_t K, const float *a, size_t lda,
	  const float *bp, const float *bias, int accumulate, float *out,
	  size_t ldo, const size_t mr)
{
	size_t npan = (N + BLAS_NR - 1) / BLAS_NR;

	for (size_t c = 0; c < npan; c++) {
		const float *panel = bp + c * K * BLAS_NR; /* (K, NR) */
		size_t j0 = c * BLAS_NR;
		size_t nj = N - j0 < BLAS_NR ? N - j0 : BLAS_NR;
		v16 biasv = {0};
		size_t i = 0;

		if (bias)
			V16_LOAD_N(biasv, bias + j0, nj);
		for (; mr >= 8 && i + 8 <= M; i += 8) {
			const float *ar = a + i * lda; /* (8, K) at stride lda */
			float *o = out + i * ldo + j0;
			v16 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
			v16 acc4 = {0}, acc5 = {0}, acc6 = {0}, acc7 = {0};

			for (size_t k = 0; k < K; k++) {
				v16 bv;
				memcpy(&bv, panel + k * BLAS_NR, sizeof(bv));
				TILE_STEP(acc0, 0);
				TILE_STEP(acc1, 1);
				TILE_STEP(acc2, 2);
				TILE_STEP(acc3, 3);
				TILE_STEP(acc4, 4);
				TILE_STEP(acc5, 5);
				TILE_STEP(acc6, 6);
				TILE_STEP(acc7, 7);
			}
			TILE_STORE(acc0, o + 0 * ldo);
			TILE_STORE(acc1, o + 1 * ldo);
			TILE_STORE(acc2, o + 2 * ldo);
			TILE_STORE(acc3, o + 3 * ldo);
			TILE_STORE(acc4, o + 4 * ldo);
			TILE_STORE(acc5, o + 5 * ldo);
			TILE_STORE(acc6, o + 6 * ldo);
			TILE_STORE(acc7, o + 7 * ldo);
		}
		for (; mr >= 4 && i + 4 <= M; i += 4) {
			const float *ar = a + i * lda; /* (4, K) at stride lda */
			float *o = out + i * ldo + j0;
			v16 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};

			for (size_t k = 0; k < K; k++) {
				v16 bv;
				memcpy(&bv, panel + k * BLAS_NR, sizeof(bv));
				TILE_STEP(acc0, 0);
				TILE_STEP(acc1, 1);
				TILE_STEP(acc2, 2);
				TILE_STEP(acc3, 3);
			}
			TILE_STORE(acc0, o + 0 * ldo);
			TILE_STORE(acc1, o + 1 * ldo);
			TILE_STORE(acc2, o + 2 * ldo);
			TILE_STORE(acc3, o + 3 * ldo);
		}
		/* Leftover rows one at a time. */
		for (; i < M; i++) {
			const float *ar = a + i * lda;
			v16 acc0 = {0};

			for (size_t k = 0; k < K; k++) {
				v16 bv;
				memcpy(&bv, panel + k * BLAS_NR, sizeof(bv));
				TILE_STEP(acc0, 0);
			}
			TILE_STORE(acc0, out + i * ldo + j0);
		}
	}
}

/*
 * The same GEMM on 8-float vectors, for AVX2 and the x86-64 baseline, where
 * GCC would spill 16-float vectors to the stack: each 16-column panel is
 * two halves (lo, hi).  Identical operations per element, so identical
 * bits.  Tiles of mr rows (4: 8 ymm accumulators).
 */
typedef float v8 __attribute__((vector_size(8 * sizeof(float))));

#define V8_STEP(lo, hi, r)                                                 \
	do {                                                               \
		(lo) = (lo) + blo * ar[(r) * lda + k];                     \
		(hi) = (hi) + bhi * ar[(r) * lda + k];                     \
	} while (0)

#define V8_STORE(lo, hi, o)                                                \
	do {                                                               \
		float t_[BLAS_NR], o_[BLAS_NR] = {0};                      \
		v8 tlo_ = bias ? (lo) + biaslo : (lo);                     \
		v8 thi_ = bias ? (hi) + biashi : (hi);                     \
		if (accumulate) {                                          \
			v8 olo_, ohi_;                                     \
			memcpy(o_, (o), nj * sizeof(float));               \
			memcpy(&olo_, o_, sizeof(olo_));                   \
			memcpy(&ohi_, o_ + 8, sizeof(ohi_));               \
			tlo_ = olo_ + tlo_;                                \
			thi_ = ohi_ + thi_;                                \
		}                                                          \
		memcpy(t_, &tlo_, sizeof(tlo_));                           \
		memcpy(t_ + 8, &thi_, sizeof(thi_));                       \
		memcpy((o), t_, nj * sizeof(float));                       \
	} while (0)

static inline __attribute__((always_inline)) void
gemm_body8(size_t M, size_t N, size_t K, const float *a, size_t lda,
	   const float *bp, const float *bias, int accumulate, float *out,
	   size_t ldo, const size_t mr)
{
	size_t npan = (N + BLAS_NR - 1) / BLAS_NR;

	for (size_t c = 0; c < npan; c++) {
		const float *panel = bp + c * K * BLAS_NR; /* (K, NR) */
		size_t j0 = c * BLAS_NR;
		size_t nj = N - j0 < BLAS_NR ? N - j0 : BLAS_NR;
		float bb[BLAS_NR] = {0};
		v8 biaslo, biashi;
		size_t i = 0;

		if (bias)
			memcpy(bb, bias + j0, nj * sizeof(float));
		memcpy(&biaslo, bb, sizeof(biaslo));
		memcpy(&biashi, bb + 8, sizeof(biashi));
		for (; mr >= 4 && i + 4 <= M; i += 4) {
			const float *ar = a + i * lda; /* (4, K) at stride lda */
			float *o = out + i * ldo + j0;
			v8 l0 = {0}, h0 = {0}, l1 = {0}, h1 = {0};
			v8 l2 = {0}, h2 = {0}, l3 = {0}, h3 = {0};

			for (size_t k = 0; k < K; k++) {
				v8 blo, bhi;
				memcpy(&blo, panel + k * BLAS_NR, sizeof(blo));
				memcpy(&bhi, panel + k * BLAS_NR + 8, sizeof(bhi));
				V8_STEP(l0, h0, 0);
				V8_STEP(l1, h1, 1);
				V8_STEP(l2, h2, 2);
				V8_STEP(l3, h3, 3);
			}
			V8_STORE(l0, h0, o + 0 * ldo);
			V8_STORE(l1, h1, o + 1 * ldo);
			V8_STORE(l2, h2, o + 2 * ldo);
			V8_STORE(l3, h3, o + 3 * ldo);
		}
		for (; mr >= 2 && i + 2 <= M; i += 2) {
			const float *ar = a + i * lda; /* (2, K) at stride lda */
			float *o = out + i * ldo + j0;
			v8 l0 = {0}, h0 = {0}, l1 = {0}, h1 = {0};

			for (size_t k = 0; k < K; k++) {
				v8 blo, bhi;
				memcpy(&blo, panel + k * BLAS_NR, sizeof(blo));
				memcpy(&bhi, panel + k * BLAS_NR + 8, sizeof(bhi));
				V8_STEP(l0, h0, 0);
				V8_STEP(l1, h1, 1);
			}
			V8_STORE(l0, h0, o + 0 * ldo);
			V8_STORE(l1, h1, o + 1 * ldo);
		}
		for (; i < M; i++) {
			const float *ar = a + i * lda;
			v8 l0 = {0}, h0 = {0};

			for (size_t k = 0; k < K; k++) {
				v8 blo, bhi;
				memcpy(&blo, panel + k * BLAS_NR, sizeof(blo));
				memcpy(&bhi, panel + k * BLAS_NR + 8, sizeof(bhi));
				V8_STEP(l0, h0, 0);
			}
			V8_STORE(l0, h0, out + i * ldo + j0);
		}
	}
}

/*
 * The portable build: plain loops with the same operations per element.
 * Slow, but only machines without AVX2 use it (and tests, to check that
 * the vector builds give the same bits).
 */
static void gemm_generic(size_t M, size_t N, size_t K, const float *a,
			 size_t lda, const float *bp, const float *bias,
			 int accumulate, float *out, size_t ldo)
{
	size_t npan = (N + BLAS_NR - 1) / BLAS_NR;

	for (size_t c = 0; c < npan; c++) {
		const float *panel = bp + c * K * BLAS_NR; /* (K, NR) */
		size_t j0 = c * BLAS_NR;
		size_t nj = N - j0 < BLAS_NR ? N - j0 : BLAS_NR;

		for (size_t i = 0; i < M; i++) {
			const float *ar = a + i * lda;
			float acc[BLAS_NR] = {0};

			for (size_t k = 0; k < K; k++)
				for (size_t j = 0; j < BLAS_NR; j++)
					acc[j] = acc[j] + panel[k * BLAS_NR + j] * ar[k];
			for (size_t j = 0; j < nj; j++) {
				float t = bias ? acc[j] + bias[j0 + j] : acc[j];
				float *o = out + i * ldo + j0 + j;
				*o = accumulate ? *o + t : t;
			}
		}
	}
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static void
gemm_avx2(size_t M, size_t N, size_t K, const float *a, size_t lda,
	  const float *bp, const float *bias, int accumulate, float *out,
	  size_t ldo)
{
	gemm_body8(M, N, K, a, lda, bp, bias, accumulate, out, ldo, 4);
}

__attribute__((target("avx512f"))) static void
gemm_avx512(size_t M, size_t N, size_t K, const float *a, size_t lda,
	    const float *bp, const float *bias, int accumulate, float *out,
	    size_t ldo)
{
	gemm_body(M, N, K, a, lda, bp, bias, accumulate, out, ldo, 8);
}
#endif

void blas_gemm_packed(size_t M, size_t N, size_t K, const float *a,
		      size_t lda, const float *bpacked, const float *bias,
		      int accumulate, float *out, size_t ldo)
{
	if (!blas_ready)
		blas_init();
	if (M == 0 || N == 0)
		return;
#if defined(__x86_64__) || defined(__i386__)
	switch (blas_isa_now) {
	case BLAS_ISA_AVX512:
		gemm_avx512(M, N, K, a, lda, bpacked, bias, accumulate, out,
			    ldo);
		return;
	case BLAS_ISA_AVX2:
		gemm_avx2(M, N, K, a, lda, bpacked, bias, accumulate, out,
			  ldo);
		return;
	case BLAS_ISA_GENERIC:
		break;
	}
#endif
	gemm_generic(M, N, K, a, lda, bpacked, bias, accumulate, out, ldo);
}

enum blas_isa blas_isa_get(void)
{
	if (!blas_ready)
		blas_init();
	return blas_isa_now;
}

const char *blas_isa_name(enum blas_isa isa)
{
	switch (isa) {
	case BLAS_ISA_GENERIC:
		return "generic";
	case BLAS_ISA_AVX2:
		return "avx2";
	case BLAS_ISA_AVX512:
		return "avx512";
	}
	return "unknown";
}

int blas_isa_set(enum blas_isa isa)
{
	if (!blas_ready)
		blas_init();
	if (!isa_supported(isa))
		return -1;
	blas_isa_now = isa;
	return 0;
}

int blas_isa_from_env(char *err)
{
	static const enum blas_isa all[] = {BLAS_ISA_GENERIC, BLAS_ISA_AVX2,
					    BLAS_ISA_AVX512};
	const char *v = getenv("RANDES_ISA");

	if (!v || !*v)
		return 0;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(v, blas_isa_name(all[i])) != 0)
			continue;
		if (blas_isa_set(all[i]) != 0)
			return randes_errf(err, RANDES_EUSAGE,
					   "RANDES_ISA='%s': this CPU lacks "
					   "it (it has %s at most)",
					   v, blas_isa_name(blas_isa_get()));
		return 0;
	}
	return randes_errf(err, RANDES_EUSAGE,
			   "RANDES_ISA='%s': expected generic, avx2 or avx512",
			   v);
}
