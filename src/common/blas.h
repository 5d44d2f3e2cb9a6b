/*
 * blas: the matrix products of randes.
 *
 * Two ways to compute out(M,N) = a(M,K) . b(K,N), row-major:
 *
 *   blas_sgemm        the one wrapper around OpenBLAS cblas_sgemm, with the
 *                     thread count pinned to 1 (blas_init).  Fast for large
 *                     matrices, but the rounding of a row of `out` depends
 *                     on M and on where the row sits in `a` (OpenBLAS picks
 *                     different micro-kernels and small-matrix paths; see
 *                     docs/model.md "Determinism" for the measurement).  So
 *                     the model does not use it by default: the benchmarks
 *                     and the optional "openblas" kernel table do.
 *
 *   blas_gemm_packed  randes' own "ordered" GEMM.  Every output element is
 *                     accumulated in float in the fixed order k = 0..K-1
 *                     (s = s + a[i][k] * b[k][j], product rounded, sum
 *                     rounded, never fused), so a row of `out` is a pure
 *                     function of that row of `a`: it does not depend on M,
 *                     on the position of the row, on the CPU's vector width
 *                     (the SSE2, AVX2 and AVX-512 builds of the kernel give
 *                     bitwise the same numbers) or on the library version.
 *                     That is what lets model_forward promise logits that do
 *                     not depend on the batch or the number of MPI ranks.
 *                     b is packed first (blas_pack_b) into column panels of
 *                     BLAS_NR floats, zero-padded.
 *
 * No allocation here, no printing, no MPI.
 */
#ifndef RANDES_BLAS_H
#define RANDES_BLAS_H

#include <stddef.h>

/* Columns per packed panel of b (one 512-bit vector of floats). */
#define BLAS_NR 16

/* Instruction sets the ordered GEMM is built for; all give the same bits. */
enum blas_isa {
	BLAS_ISA_GENERIC = 0, /* SSE2 (x86-64 baseline) or plain C       */
	BLAS_ISA_AVX2 = 1,
	BLAS_ISA_AVX512 = 2,
};

/*
 * Pins OpenBLAS to one thread (openblas_set_num_threads(1)) and picks the
 * widest instruction set this CPU supports for the ordered kernels.
 * Idempotent; called by model_ws_new and lazily by blas_sgemm.  One BLAS
 * thread per rank is the DESIGN.md determinism promise (ranks x threads <=
 * cores).
 */
void blas_init(void);

/* OpenBLAS's name for the kernel set it uses ("SkylakeX", "Haswell", ...),
 * or "unknown" when the BLAS is not OpenBLAS. */
const char *blas_corename(void);

/*
 * Compares OpenBLAS's kernel set (blas_corename) with what this CPU can
 * run.  Returns 1 and writes a one-line explanation into msg (len bytes,
 * may be NULL) when the kernels are two or more vector generations below
 * the CPU (SSE-era kernels such as Prescott on an AVX2 or AVX-512 CPU, or
 * Sandybridge's AVX on an AVX-512 CPU): Debian's OpenBLAS 0.3.21 falls back
 * to Prescott on CPUs it does not recognise, about 5x below the machine.
 * Returns 0 otherwise, and for kernel names it does not know.  randes'
 * model kernels do not go through OpenBLAS (blas_gemm_packed and the fast
 * path are its own), so this matters for blas_sgemm, the "openblas" kernel
 * table and anything else in the process that uses OpenBLAS.
 */
int blas_core_check(char *msg, size_t len);

/*
 * out(M,N) = a(M,K) . b(K,N) + beta * out(M,N) through cblas_sgemm,
 * row-major, with leading dimensions lda >= K, ldb >= N, ldo >= N.  One
 * thread.  Rounding may depend on M (see above).
 */
void blas_sgemm(size_t M, size_t N, size_t K, const float *a, size_t lda,
		const float *b, size_t ldb, float beta, float *out, size_t ldo);

/* Floats needed to pack a (K, N) matrix: ceil(N / BLAS_NR) * K * BLAS_NR. */
size_t blas_pack_floats(size_t K, size_t N);

/*
 * Packs b(K, N) (leading dimension ldb) into `packed` (blas_pack_floats
 * floats): panel c holds columns c*NR .. c*NR+NR-1 as (K, NR), columns past
 * N set to 0.
 */
void blas_pack_b(size_t K, size_t N, const float *b, size_t ldb,
		 float *packed);

/*
 * The ordered GEMM: for every i < M, j < N
 *     s = 0; for k = 0..K-1: s = s + a[i*lda + k] * b[k][j]
 *     t = bias ? s + bias[j] : s
 *     out[i*ldo + j] = accumulate ? out[i*ldo + j] + t : t
 * with b given packed (blas_pack_b).  K may be 0 (s = 0).  Bitwise
 * reproducible per row (see the top of this file).
 */
void blas_gemm_packed(size_t M, size_t N, size_t K, const float *a,
		      size_t lda, const float *bpacked, const float *bias,
		      int accumulate, float *out, size_t ldo);

/* The instruction set the ordered kernels use now. */
enum blas_isa blas_isa_get(void);

/* "generic", "avx2" or "avx512". */
const char *blas_isa_name(enum blas_isa isa);

/*
 * Forces an instruction set (tests compare them; benchmarks measure them).
 * Returns 0, or -1 if this CPU lacks it (nothing changes then).
 */
int blas_isa_set(enum blas_isa isa);

#if defined(__x86_64__) || defined(__i386__)
/*
 * r kernel_avx512(...), r kernel_avx2(...) or r kernel_generic(...),
 * whichever instruction set the kernels use now: the one dispatch of every
 * vectorised loop (vmath, rng, es_vec, model_lin, the colouring scorer).  r
 * is what stands before the call: "x =" for a result, "(void)" for none.
 * x86 only; elsewhere the caller's portable code runs instead.
 */
#define BLAS_ISA_DISPATCH(r, kernel, ...)                                  \
	do {                                                               \
		switch (blas_isa_get()) {                                  \
		case BLAS_ISA_AVX512:                                      \
			r kernel##_avx512(__VA_ARGS__);                    \
			break;                                             \
		case BLAS_ISA_AVX2:                                        \
			r kernel##_avx2(__VA_ARGS__);                      \
			break;                                             \
		case BLAS_ISA_GENERIC:                                     \
			r kernel##_generic(__VA_ARGS__);                   \
			break;                                             \
		}                                                          \
	} while (0)
#endif

/*
 * RANDES_ISA=generic|avx2|avx512 forces that instruction set for the whole
 * process, so that a run on this machine can show what another CPU would
 * compute (the same bits: docs/performance.md).  0 if unset or empty or
 * done; RANDES_EUSAGE with err written for an unknown name or one this
 * CPU lacks.
 */
int blas_isa_from_env(char *err);

#endif
