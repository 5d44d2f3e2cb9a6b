/*
 * vmath: exp and log1p in double, and exp in float, written out (no
 * libm), for the hot loops that score a model's outputs: the recall loss
 * (softplus) and the colouring softmax (double or float,
 * task.coloring_numerics).
 *
 * What it does: the same arithmetic in every build and on every CPU (plain
 * IEEE multiplies and adds, never fused, in a fixed order), so a loss is
 * the same bits on an AVX-512 node, an AVX2 node and a baseline x86-64 node
 * of one cluster.  glibc's exp and log1p pick FMA or SSE2 code at run time,
 * which is not promised to round alike.  The array forms compute exactly
 * the scalar forms' bits, several lanes at a time.
 *
 * Accuracy: within 2 ulp of the true value on the stated domains (the
 * tests compare with libm over them).
 *
 * What it does not do: handle other domains (the callers' arguments are in
 * range by construction), set errno, or raise exceptions on purpose.
 */
#ifndef RANDES_VMATH_H
#define RANDES_VMATH_H

#include <stddef.h>
#include <stdint.h>

/*
 * e^x for x <= 0: x < -708 gives 0 (no subnormal results), NaN gives NaN;
 * x > 0 is taken as 0 (callers pass x <= 0 by construction).
 */
double vmath_exp_neg(double x);

/* y[i] = vmath_exp_neg(x[i]), i < n; x == y allowed. */
void vmath_exp_neg_n(const double *x, double *y, size_t n);

/*
 * The float exponential's pieces, shared by vmath_expf_neg and the model's
 * exp (model_kernels.c): x = n ln2 + r, n = round(x log2 e) by adding and
 * subtracting 1.5 * 2^23, ln2 split in two (VMATH_EXPF_LN2_HI has 9
 * significant bits, so n ln2_hi is exact), |r| <= ln2/2; e^r by its
 * degree-7 Taylor polynomial in Horner form (truncation below 6e-9
 * relative): VMATH_EXPF_POLY(p, r, zero) for a float or a vector of
 * floats (zero: 0 of p's type).
 */
#define VMATH_EXPF_LOG2E 1.44269504088896341f
#define VMATH_EXPF_LN2_HI 0.693359375f
#define VMATH_EXPF_LN2_LO (-2.12194440e-4f) /* ln2 - VMATH_EXPF_LN2_HI */
#define VMATH_EXPF_SHIFT 12582912.0f        /* 1.5 * 2^23 */
#define VMATH_EXPF_POLY(p, r, zero)                                        \
	do {                                                               \
		(p) = (zero) + (1.0f / 5040.0f);                           \
		(p) = (p) * (r) + (1.0f / 720.0f);                         \
		(p) = (p) * (r) + (1.0f / 120.0f);                         \
		(p) = (p) * (r) + (1.0f / 24.0f);                          \
		(p) = (p) * (r) + (1.0f / 6.0f);                           \
		(p) = (p) * (r) + 0.5f;                                    \
		(p) = (p) * (r) + 1.0f;                                    \
		(p) = (p) * (r) + 1.0f;                                    \
	} while (0)

/*
 * e^x in float for x <= 0 (task.coloring_numerics: float): x < -87 gives
 * 0 (no subnormal results), NaN gives NaN, x > 0 is taken as 0, and
 * e^(+-0) = 1 exactly.  Within 2 ulp of the correctly rounded value.
 */
float vmath_expf_neg(float x);

/* y[i] = vmath_expf_neg(x[i]), i < n, 16 lanes at a time; x == y
 * allowed. */
void vmath_expf_neg_n(const float *x, float *y, size_t n);

/* log(1 + x) for x >= 0 (accurate for tiny x), +inf for +inf, NaN for
 * NaN. */
double vmath_log1p_pos(double x);

/* y[i] = vmath_log1p_pos(x[i]), i < n; x == y allowed. */
void vmath_log1p_pos_n(const double *x, double *y, size_t n);

/*
 * x^y for x in [0, 1] and y > 0, as e^(y log x) from this module's own log
 * and exp (so the same bits on every CPU, unlike glibc's pow, which picks
 * FMA or SSE2 code at run time).  0^y = 0, 1^y = 1, NaN gives NaN.  Within
 * a few ulp of pow for y up to a few hundred.  The L^q pool of
 * objective.c uses it.
 */
double vmath_pow_unit(double x, double y);

/* y[i] = a[i] / b[i], i < n, 8 lanes at a time (IEEE division: the same
 * bits as the scalar quotient on every ISA); y may be a or b. */
void vmath_div_n(const double *a, const double *b, double *y, size_t n);

/*
 * Box-Muller on two 32-bit uniform words, as rng.h documents it:
 *     u1 = (a + 0.5) 2^-32,  u2 = b 2^-32,  r = sqrt(-2 log u1),
 *     t = 2 pi u2,  z0 = (float)(r cos t),  z1 = (float)(r sin t)
 * with this module's log and sincos (within 1 ulp in double; the float
 * results are glibc's but in the rare cases where the double lies within
 * an ulp of a float rounding boundary).
 */
void vmath_box_muller(uint32_t a, uint32_t b, float *z0, float *z1);

/*
 * The same for nblocks Philox blocks: words w[4i .. 4i+3] give
 * z[4i], z[4i+1] (from w0, w1) and z[4i+2], z[4i+3] (from w2, w3).
 */
void vmath_box_muller_n(const uint32_t *w, float *z, size_t nblocks);

#endif
