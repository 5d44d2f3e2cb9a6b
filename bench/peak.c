/*
 * peak: what this machine can do, to put the model's GFLOP/s in context.
 *
 *   fma        a register-resident loop of independent fused multiply-adds
 *              (AVX-512 or AVX2, chosen at run time): the FMA limit of one
 *              core, 2 FLOP per lane per FMA.
 *   mul+add    the same with separate multiplies and adds, the operations
 *              randes' ordered GEMM uses (blas.h): its limit.
 *   sgemm      OpenBLAS cblas_sgemm on 2048^3, one thread, through
 *              blas_sgemm; and the ordered GEMM (blas_gemm_packed) on the
 *              same matrices.
 *
 * One thread throughout: figures are per core.  Medians of several runs.
 * Not a test; scripts/bench runs it.  Usage: peak [--quick]
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/blas.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * Twelve independent accumulators in named registers (an array would live
 * in memory at -O2) hide the FMA latency on two pipes.  Returns the FLOP
 * done; the sum goes to *sink so that nothing is optimised away.
 */
#define DECL12(T, init)                                                    \
	T a0 = init(0.0f), a1 = init(1.0f), a2 = init(2.0f), a3 = init(3.0f), \
	  a4 = init(4.0f), a5 = init(5.0f), a6 = init(6.0f), a7 = init(7.0f), \
	  a8 = init(8.0f), a9 = init(9.0f), a10 = init(10.0f),             \
	  a11 = init(11.0f)
#define STEP12(op)                                                         \
	do {                                                               \
		a0 = op(a0); a1 = op(a1); a2 = op(a2); a3 = op(a3);        \
		a4 = op(a4); a5 = op(a5); a6 = op(a6); a7 = op(a7);        \
		a8 = op(a8); a9 = op(a9); a10 = op(a10); a11 = op(a11);    \
	} while (0)
#define SUM12(add)                                                         \
	add(add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7))), \
	    add(add(a8, a9), add(a10, a11)))

__attribute__((target("avx512f"))) static double fma_avx512(long iters,
							   float *sink)
{
	const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
	DECL12(__m512, _mm512_set1_ps);

#define OP(a) _mm512_fmadd_ps(a, x, y)
	for (long n = 0; n < iters; n++)
		STEP12(OP);
#undef OP
	*sink = _mm512_reduce_add_ps(SUM12(_mm512_add_ps));
	return 12.0 * 16.0 * 2.0 * (double)iters;
}

__attribute__((target("avx512f"))) static double muladd_avx512(long iters,
							      float *sink)
{
	const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
	DECL12(__m512, _mm512_set1_ps);

#define OP(a) _mm512_add_ps(_mm512_mul_ps(a, x), y)
	for (long n = 0; n < iters; n++)
		STEP12(OP);
#undef OP
	*sink = _mm512_reduce_add_ps(SUM12(_mm512_add_ps));
	return 12.0 * 16.0 * 2.0 * (double)iters;
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters,
							  float *sink)
{
	const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
	float out[8];
	DECL12(__m256, _mm256_set1_ps);

#define OP(a) _mm256_fmadd_ps(a, x, y)
	for (long n = 0; n < iters; n++)
		STEP12(OP);
#undef OP
	_mm256_storeu_ps(out, SUM12(_mm256_add_ps));
	*sink = out[0];
	return 12.0 * 8.0 * 2.0 * (double)iters;
}

__attribute__((target("avx2"))) static double muladd_avx2(long iters,
							 float *sink)
{
	const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
	float out[8];
	DECL12(__m256, _mm256_set1_ps);

#define OP(a) _mm256_add_ps(_mm256_mul_ps(a, x), y)
	for (long n = 0; n < iters; n++)
		STEP12(OP);
#undef OP
	_mm256_storeu_ps(out, SUM12(_mm256_add_ps));
	*sink = out[0];
	return 12.0 * 8.0 * 2.0 * (double)iters;
}

typedef double (*loop_fn)(long, float *);

static double loop_gflops(loop_fn f, long iters, int runs)
{
	double r[16];
	float sink = 0.0f;

	f(iters / 10, &sink); /* warm-up: clocks up, code in cache */
	for (int i = 0; i < runs; i++) {
		double t0 = now(), flop = f(iters, &sink);
		r[i] = flop / (now() - t0) * 1e-9;
	}
	if (sink == 12345.0f)
		printf(" ");
	return median(r, runs);
}

int main(int argc, char **argv)
{
	const int quick = argc > 1 && !strcmp(argv[1], "--quick");
	const int runs = quick ? 3 : 5;
	const long iters = quick ? 20000000L : 100000000L;
	const size_t n = quick ? 1024 : 2048;
	double r[16];
	float *a, *b, *c, *bp;

	blas_init();
	__builtin_cpu_init();
	printf("peak: one thread, medians of %d runs (machine shared: noisy)\n",
	       runs);
	if (__builtin_cpu_supports("avx512f")) {
		printf("  fma      avx512  %7.1f GFLOP/s per core\n",
		       loop_gflops(fma_avx512, iters, runs));
		printf("  mul+add  avx512  %7.1f GFLOP/s per core\n",
		       loop_gflops(muladd_avx512, iters, runs));
	}
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		printf("  fma      avx2    %7.1f GFLOP/s per core\n",
		       loop_gflops(fma_avx2, iters, runs));
		printf("  mul+add  avx2    %7.1f GFLOP/s per core\n",
		       loop_gflops(muladd_avx2, iters, runs));
	}

	a = malloc(n * n * sizeof(float));
	b = malloc(n * n * sizeof(float));
	c = malloc(n * n * sizeof(float));
	bp = malloc(blas_pack_floats(n, n) * sizeof(float));
	if (!a || !b || !c || !bp)
		return 1;
	for (size_t i = 0; i < n * n; i++) {
		a[i] = (float)((i * 7) % 13) * 0.1f - 0.6f;
		b[i] = (float)((i * 5) % 11) * 0.1f - 0.5f;
	}
	blas_sgemm(n, n, n, a, n, b, n, 0.0f, c, n); /* warm-up */
	for (int i = 0; i < runs; i++) {
		double t0 = now();
		blas_sgemm(n, n, n, a, n, b, n, 0.0f, c, n);
		r[i] = 2.0 * (double)n * n * n / (now() - t0) * 1e-9;
	}
	printf("  sgemm    OpenBLAS %zu^3, core '%s': %7.1f GFLOP/s\n", n,
	       blas_corename(), median(r, runs));
	blas_pack_b(n, n, b, n, bp);
	blas_gemm_packed(n, n, n, a, n, bp, NULL, 0, c, n); /* warm-up */
	for (int i = 0; i < runs; i++) {
		double t0 = now();
		blas_pack_b(n, n, b, n, bp);
		blas_gemm_packed(n, n, n, a, n, bp, NULL, 0, c, n);
		r[i] = 2.0 * (double)n * n * n / (now() - t0) * 1e-9;
	}
	printf("  ordered  randes %zu^3, isa %s:      %7.1f GFLOP/s\n", n,
	       blas_isa_name(blas_isa_get()), median(r, runs));
	free(a);
	free(b);
	free(c);
	free(bp);
	return 0;
}
