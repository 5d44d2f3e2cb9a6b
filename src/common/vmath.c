/*
 * vmath: deterministic exp (x <= 0) and log1p (x >= 0) in double, exp
 * (x <= 0) in float (see vmath.h).
 *
 * exp: x = n ln2 + r with n = round(x log2 e) and |r| <= ln2/2 (Cody-Waite,
 * ln2 split so that n * ln2_hi is exact), e^r by its Taylor polynomial of
 * degree 13 in Horner form (truncation below 1e-17 relative), times 2^n
 * built in the exponent bits.  The array form runs the same operations on
 * 8 lanes, compiled for the baseline, AVX2 and AVX-512F (like blas.c).
 *
 * log1p: below sqrt(2) - 1 directly; above, 1 + x = 2^k m with m in
 * [sqrt(1/2), sqrt(2)) and log1p(x) = k ln2 + log(m) + c / (1 + x), c the
 * rounding error of 1 + x.  log(1 + f) for |f| <= sqrt(2) - 1 is
 * f - s (f - R), s = f / (2 + f) (fdlibm's form, see log1p_core), R to
 * s^22 (truncation below 1e-17 relative).  Within 1 ulp of glibc's.
 */
#include "vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blas.h"

#define EXP_LOG2E 1.4426950408889634074
#define EXP_LN2_HI 6.93147180369123816490e-01 /* 0x3fe62e42fee00000 */
#define EXP_LN2_LO 1.90821492927058770002e-10
#define EXP_SHIFT 6755399441055744.0 /* 1.5 * 2^52: rounds to an integer */
#define EXP_MIN (-708.0)

/* 1/k! for k = 13 .. 2 */
#define C13 1.6059043836821614599e-10
#define C12 2.0876756987868098979e-09
#define C11 2.5052108385441718775e-08
#define C10 2.7557319223985890653e-07
#define C9 2.7557319223985890653e-06
#define C8 2.4801587301587301587e-05
#define C7 1.9841269841269841270e-04
#define C6 1.3888888888888888889e-03
#define C5 8.3333333333333333333e-03
#define C4 4.1666666666666666667e-02
#define C3 1.6666666666666666667e-01
#define C2 0.5

double vmath_exp_neg(double x)
{
	double n, r, p, t, scale;
	uint64_t bits, sb;
	int64_t k;

	if (x > 0.0)
		x = 0.0;
	t = x * EXP_LOG2E + EXP_SHIFT;
	n = t - EXP_SHIFT;
	r = (x - n * EXP_LN2_HI) - n * EXP_LN2_LO;
	p = C13;
	p = p * r + C12;
	p = p * r + C11;
	p = p * r + C10;
	p = p * r + C9;
	p = p * r + C8;
	p = p * r + C7;
	p = p * r + C6;
	p = p * r + C5;
	p = p * r + C4;
	p = p * r + C3;
	p = p * r + C2;
	p = p * r + 1.0;
	p = p * r + 1.0;
	/* n as an integer: the low bits of t (exact for |n| < 2^51) */
	memcpy(&bits, &t, sizeof(bits));
	{
		double shift = EXP_SHIFT;
		memcpy(&sb, &shift, sizeof(sb));
	}
	k = (int64_t)(bits - sb);
	bits = (uint64_t)(k + 1023) << 52;
	memcpy(&scale, &bits, sizeof(scale));
	/* below EXP_MIN (or -inf) the result is 0; NaN stays NaN */
	return x < EXP_MIN ? 0.0 : p * scale;
}

#if defined(__x86_64__) || defined(__i386__)
#include "vec8.h"

/* vmath_exp_neg on 8 lanes, the same operations lane by lane. */
#define EXP8_BODY                                                          \
	do {                                                               \
		const v8d zero = {0}, shift = zero + EXP_SHIFT;            \
		size_t i = 0;                                              \
		/* two independent vectors at a time (the polynomial is   \
		 * one long chain of dependent steps) */                  \
		for (; i + 16 <= n; i += 16) {                             \
			v8d xv, t, nn, r, p, scale, xw, tw, nw, rw, pw, sw; \
			v8i bits, bw;                                      \
			memcpy(&xv, x + i, sizeof(xv));                    \
			memcpy(&xw, x + i + 8, sizeof(xw));                \
			xv = V8SEL(xv > zero, zero, xv);                   \
			xw = V8SEL(xw > zero, zero, xw);                   \
			t = xv * EXP_LOG2E + shift;                        \
			tw = xw * EXP_LOG2E + shift;                       \
			nn = t - shift;                                    \
			nw = tw - shift;                                   \
			r = (xv - nn * EXP_LN2_HI) - nn * EXP_LN2_LO;      \
			rw = (xw - nw * EXP_LN2_HI) - nw * EXP_LN2_LO;     \
			p = zero + C13;                                    \
			pw = zero + C13;                                   \
			p = p * r + C12;                                   \
			pw = pw * rw + C12;                                \
			p = p * r + C11;                                   \
			pw = pw * rw + C11;                                \
			p = p * r + C10;                                   \
			pw = pw * rw + C10;                                \
			p = p * r + C9;                                    \
			pw = pw * rw + C9;                                 \
			p = p * r + C8;                                    \
			pw = pw * rw + C8;                                 \
			p = p * r + C7;                                    \
			pw = pw * rw + C7;                                 \
			p = p * r + C6;                                    \
			pw = pw * rw + C6;                                 \
			p = p * r + C5;                                    \
			pw = pw * rw + C5;                                 \
			p = p * r + C4;                                    \
			pw = pw * rw + C4;                                 \
			p = p * r + C3;                                    \
			pw = pw * rw + C3;                                 \
			p = p * r + C2;                                    \
			pw = pw * rw + C2;                                 \
			p = p * r + 1.0;                                   \
			pw = pw * rw + 1.0;                                \
			p = p * r + 1.0;                                   \
			pw = pw * rw + 1.0;                                \
			bits = ((v8i)t - (v8i)shift + 1023) << 52;         \
			bw = ((v8i)tw - (v8i)shift + 1023) << 52;          \
			memcpy(&scale, &bits, sizeof(scale));              \
			memcpy(&sw, &bw, sizeof(sw));                      \
			p = p * scale;                                     \
			pw = pw * sw;                                      \
			p = V8SEL(xv < EXP_MIN, zero, p);                  \
			pw = V8SEL(xw < EXP_MIN, zero, pw);                \
			memcpy(y + i, &p, sizeof(p));                      \
			memcpy(y + i + 8, &pw, sizeof(pw));                \
		}                                                          \
		for (; i + 8 <= n; i += 8) {                               \
			v8d xv, t, nn, r, p, scale;                        \
			v8i bits;                                          \
			memcpy(&xv, x + i, sizeof(xv));                    \
			xv = V8SEL(xv > zero, zero, xv);                   \
			t = xv * EXP_LOG2E + shift;                        \
			nn = t - shift;                                    \
			r = (xv - nn * EXP_LN2_HI) - nn * EXP_LN2_LO;      \
			p = zero + C13;                                    \
			p = p * r + C12;                                   \
			p = p * r + C11;                                   \
			p = p * r + C10;                                   \
			p = p * r + C9;                                    \
			p = p * r + C8;                                    \
			p = p * r + C7;                                    \
			p = p * r + C6;                                    \
			p = p * r + C5;                                    \
			p = p * r + C4;                                    \
			p = p * r + C3;                                    \
			p = p * r + C2;                                    \
			p = p * r + 1.0;                                   \
			p = p * r + 1.0;                                   \
			bits = ((v8i)t - (v8i)shift + 1023) << 52;         \
			memcpy(&scale, &bits, sizeof(scale));              \
			p = p * scale;                                     \
			p = V8SEL(xv < EXP_MIN, zero, p);                  \
			memcpy(y + i, &p, sizeof(p));                      \
		}                                                          \
		for (; i < n; i++)                                         \
			y[i] = vmath_exp_neg(x[i]);                        \
	} while (0)

static void exp8_generic(const double *x, double *y, size_t n)
{
	EXP8_BODY;
}

__attribute__((target("avx2"))) static void
exp8_avx2(const double *x, double *y, size_t n)
{
	EXP8_BODY;
}

__attribute__((target("avx512f"))) static void
exp8_avx512(const double *x, double *y, size_t n)
{
	EXP8_BODY;
}
#endif

void vmath_exp_neg_n(const double *x, double *y, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), exp8, x, y, n);
#else
	for (size_t i = 0; i < n; i++)
		y[i] = vmath_exp_neg(x[i]);
#endif
}

/*
 * exp in float, x <= 0: the same scheme as vmath_exp_neg in float.  x =
 * n ln2 + r, n = round(x log2 e), |r| <= ln2/2 (ln2_hi has 9 significant
 * bits, so n ln2_hi is exact for |n| < 2^15, and x - n ln2_hi is exact);
 * e^r by its Taylor polynomial of degree 7 in Horner form (truncation
 * below 6e-9 relative); times 2^n in the exponent bits, n >= -126 for
 * x >= -87, so the result is never subnormal.
 */
#define EXPF_MIN (-87.0f)

float vmath_expf_neg(float x)
{
	float t, n, r, p, scale, shift = VMATH_EXPF_SHIFT;
	uint32_t bits, sb;

	if (x > 0.0f)
		x = 0.0f;
	t = x * VMATH_EXPF_LOG2E + VMATH_EXPF_SHIFT;
	n = t - VMATH_EXPF_SHIFT;
	r = (x - n * VMATH_EXPF_LN2_HI) - n * VMATH_EXPF_LN2_LO;
	VMATH_EXPF_POLY(p, r, 0.0f);
	/* n as an integer: the low bits of t; unsigned arithmetic, so that
	 * the garbage of a -inf or NaN lane wraps instead of overflowing */
	memcpy(&bits, &t, sizeof(bits));
	memcpy(&sb, &shift, sizeof(sb));
	bits = (bits - sb + 127u) << 23;
	memcpy(&scale, &bits, sizeof(scale));
	/* below EXPF_MIN (or -inf) the result is 0; NaN stays NaN */
	return x < EXPF_MIN ? 0.0f : p * scale;
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * vmath_expf_neg over an array, in vectors of the registers' width: W
 * floats (4 on the baseline, 8 with AVX2, 16 with AVX-512F; GCC keeps a
 * vector wider than the registers in memory).  EXPF_V(T, xv, out) is
 * vmath_expf_neg on one vector of type T (with the integer types T##s and
 * T##u of its width), the same operations lane by lane; a macro, so that
 * no function takes or returns a vector.
 */
#define VSELF(T, m, a, b) ((T)(((T##s)(a) & (m)) | ((T##s)(b) & ~(m))))
#define EXPF_V(T, xv, out)                                                 \
	do {                                                               \
		T x_ = (xv), t_, n_, r_, p_, s_;                           \
		T##u b_;                                                   \
		x_ = VSELF(T, x_ > zero, zero, x_);                        \
		t_ = x_ * VMATH_EXPF_LOG2E + shift;                        \
		n_ = t_ - shift;                                           \
		r_ = (x_ - n_ * VMATH_EXPF_LN2_HI) - n_ * VMATH_EXPF_LN2_LO; \
		VMATH_EXPF_POLY(p_, r_, zero);                             \
		b_ = ((T##u)t_ - (T##u)shift + 127u) << 23;                \
		memcpy(&s_, &b_, sizeof(s_));                              \
		p_ = p_ * s_;                                              \
		(out) = VSELF(T, x_ < EXPF_MIN, zero, p_);                 \
	} while (0)

/* Two independent vectors per step (the polynomial is one chain). */
#define EXPF_BODY(T, W)                                                    \
	do {                                                               \
		const T zero = {0}, shift = zero + VMATH_EXPF_SHIFT;       \
		size_t i = 0;                                              \
		for (; i + 2 * (W) <= n; i += 2 * (W)) {                   \
			T a, b;                                            \
			memcpy(&a, x + i, sizeof(a));                      \
			memcpy(&b, x + i + (W), sizeof(b));                \
			EXPF_V(T, a, a);                                   \
			EXPF_V(T, b, b);                                   \
			memcpy(y + i, &a, sizeof(a));                      \
			memcpy(y + i + (W), &b, sizeof(b));                \
		}                                                          \
		for (; i + (W) <= n; i += (W)) {                           \
			T a;                                               \
			memcpy(&a, x + i, sizeof(a));                      \
			EXPF_V(T, a, a);                                   \
			memcpy(y + i, &a, sizeof(a));                      \
		}                                                          \
		for (; i < n; i++)                                         \
			y[i] = vmath_expf_neg(x[i]);                       \
	} while (0)

#define EXPF_TYPES(T, W)                                                   \
	typedef float T __attribute__((vector_size((W) * 4)));            \
	typedef int32_t T##s __attribute__((vector_size((W) * 4)));       \
	typedef uint32_t T##u __attribute__((vector_size((W) * 4)))
EXPF_TYPES(vf4, 4);
EXPF_TYPES(vf8, 8);
EXPF_TYPES(vf16, 16);

static void expf_generic(const float *x, float *y, size_t n)
{
	EXPF_BODY(vf4, 4);
}

__attribute__((target("avx2"))) static void
expf_avx2(const float *x, float *y, size_t n)
{
	EXPF_BODY(vf8, 8);
}

__attribute__((target("avx512f"))) static void
expf_avx512(const float *x, float *y, size_t n)
{
	EXPF_BODY(vf16, 16);
}
#endif

void vmath_expf_neg_n(const float *x, float *y, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), expf, x, y, n);
#else
	for (size_t i = 0; i < n; i++)
		y[i] = vmath_expf_neg(x[i]);
#endif
}

/*
 * log(1 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1]: with s = f / (2 + f),
 * log(1 + f) = 2 atanh(s) = 2s + s R, R = sum_{j>=1} 2 s^2j / (2j + 1), and
 * 2s = f - s f, so log(1 + f) = f - s (f - R): the exact f carries the
 * result, the rounding sits in a correction of order f^2 (fdlibm's form).
 */
static double log1p_core(double f)
{
	double s = f / (2.0 + f), z = s * s, t;

	t = 2.0 / 23.0;
	t = t * z + 2.0 / 21.0;
	t = t * z + 2.0 / 19.0;
	t = t * z + 2.0 / 17.0;
	t = t * z + 2.0 / 15.0;
	t = t * z + 2.0 / 13.0;
	t = t * z + 2.0 / 11.0;
	t = t * z + 2.0 / 9.0;
	t = t * z + 2.0 / 7.0;
	t = t * z + 2.0 / 5.0;
	t = t * z + 2.0 / 3.0;
	return f - s * (f - z * t);
}

/* k ln2 + 2 atanh(s), k as a double (0 on the small branch). */
#define LOG1P_SQRT2M1 0.41421356237309503
#define LOG1P_SQRT2 1.4142135623730951

double vmath_log1p_pos(double x)
{
	double y, m, c;
	uint64_t bits;
	int k;

	if (!(x < LOG1P_SQRT2M1)) {
		if (isnan(x) || isinf(x))
			return x;
		/* 1 + x = 2^k m, m in [sqrt(1/2), sqrt(2)); c / y corrects
		 * the rounding of y = 1 + x (both subtractions exact) */
		y = 1.0 + x;
		memcpy(&bits, &y, sizeof(bits));
		k = (int)((bits >> 52) & 0x7ff) - 1023;
		c = k == 0 ? x - (y - 1.0) : 1.0 - (y - x);
		c = c / y;
		bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
		memcpy(&m, &bits, sizeof(m));
		if (m > LOG1P_SQRT2) {
			m = 0.5 * m;
			k++;
		}
		/* m - 1 is exact */
		return (double)k * EXP_LN2_HI +
		       (log1p_core(m - 1.0) + ((double)k * EXP_LN2_LO + c));
	}
	return log1p_core(x);
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * vmath_log1p_pos on 8 lanes: both branches computed, each lane keeps the
 * one the scalar code takes, with the scalar code's operations; NaN and
 * +inf lanes are passed through as the scalar code does.
 */
#define LOG8_BODY                                                          \
	do {                                                               \
		const v8d zero = {0}, one = zero + 1.0;                    \
		size_t i = 0;                                              \
		for (; i + 8 <= n; i += 8) {                               \
			v8d xv, yv, m, s, z, t, kd, c, big, small, res;    \
			v8i bits, k;                                       \
			const v8i one_i = (v8i){0} + 1, zero_i = {0};      \
			memcpy(&xv, x + i, sizeof(xv));                    \
			/* large branch: 1 + x = 2^k m */                  \
			yv = one + xv;                                     \
			memcpy(&bits, &yv, sizeof(bits));                  \
			k = ((bits >> 52) & 0x7ff) - 1023;                 \
			c = V8SEL(k == 0, xv - (yv - 1.0), 1.0 - (yv - xv)); \
			c = c / yv;                                        \
			bits = (bits & 0x000fffffffffffffll) |             \
			       0x3ff0000000000000ll;                       \
			memcpy(&m, &bits, sizeof(m));                      \
			/* k + 1 where m is halved (each comparison feeds  \
			 * a select: no mask built lane by lane) */        \
			k = k + (v8i)V8SEL(m > LOG1P_SQRT2, (v8d)one_i,    \
					   (v8d)zero_i);                   \
			m = V8SEL(m > LOG1P_SQRT2, 0.5 * m, m);            \
			/* |k| < 2^11: through int32 (int64 to double     \
			 * needs AVX-512DQ) */                             \
			kd = __builtin_convertvector(                      \
				__builtin_convertvector(k, v8s32), v8d);   \
			LOGCORE8(m - 1.0, big);                            \
			big = kd * EXP_LN2_HI + (big + (kd * EXP_LN2_LO + c)); \
			/* small branch */                                 \
			LOGCORE8(xv, small);                               \
			res = V8SEL(xv < LOG1P_SQRT2M1, small, big);       \
			/* NaN and inf pass through */                     \
			res = V8SEL(xv != xv, xv, res);                    \
			res = V8SEL(xv == zero + INFINITY, xv, res);       \
			memcpy(y + i, &res, sizeof(res));                  \
		}                                                          \
		for (; i < n; i++)                                         \
			y[i] = vmath_log1p_pos(x[i]);                      \
	} while (0)

/* log1p_core on 8 lanes. */
#define LOGCORE8(fv, out)                                                  \
	do {                                                               \
		v8d f_ = (fv);                                             \
		s = f_ / (2.0 + f_);                                       \
		z = s * s;                                                 \
		t = zero + 2.0 / 23.0;                                     \
		t = t * z + 2.0 / 21.0;                                    \
		t = t * z + 2.0 / 19.0;                                    \
		t = t * z + 2.0 / 17.0;                                    \
		t = t * z + 2.0 / 15.0;                                    \
		t = t * z + 2.0 / 13.0;                                    \
		t = t * z + 2.0 / 11.0;                                    \
		t = t * z + 2.0 / 9.0;                                     \
		t = t * z + 2.0 / 7.0;                                     \
		t = t * z + 2.0 / 5.0;                                     \
		t = t * z + 2.0 / 3.0;                                     \
		(out) = f_ - s * (f_ - z * t);                             \
	} while (0)

static void log8_generic(const double *x, double *y, size_t n)
{
	LOG8_BODY;
}

__attribute__((target("avx2"))) static void
log8_avx2(const double *x, double *y, size_t n)
{
	LOG8_BODY;
}

__attribute__((target("avx512f"))) static void
log8_avx512(const double *x, double *y, size_t n)
{
	LOG8_BODY;
}
#endif

void vmath_log1p_pos_n(const double *x, double *y, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), log8, x, y, n);
#else
	for (size_t i = 0; i < n; i++)
		y[i] = vmath_log1p_pos(x[i]);
#endif
}

/* --- Box-Muller ---------------------------------------------------------- */

#define BM_PIO2_1 1.57079632673412561417e+00  /* first 33 bits of pi/2 */
#define BM_PIO2_2 6.07710050650619224932e-11  /* next 33 bits         */
#define BM_PIO2_3 2.02226624879595063154e-21  /* the rest             */
#define BM_2OPI 6.36619772367581382433e-01    /* 2/pi                 */
#define BM_2PI 6.283185307179586476925286766559
#define BM_TWO32 (1.0 / 4294967296.0)

/* log(x) for x in (0, 1]: x = 2^k m, m in [sqrt(1/2), sqrt(2)). */
static double log_pos(double x)
{
	uint64_t bits;
	double m;
	int k;

	memcpy(&bits, &x, sizeof(bits));
	k = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	memcpy(&m, &bits, sizeof(m));
	if (m > LOG1P_SQRT2) {
		m = 0.5 * m;
		k++;
	}
	return (double)k * EXP_LN2_HI +
	       (log1p_core(m - 1.0) + (double)k * EXP_LN2_LO);
}

/* sin and cos of r, |r| <= pi/4, Taylor to r^15 and r^16. */
#define SIN_POLY(r, z, out, zero)                                          \
	do {                                                               \
		(out) = (zero) + -7.6471637318198164759e-13;               \
		(out) = (out) * (z) + 1.6059043836821614599e-10;           \
		(out) = (out) * (z) - 2.5052108385441718775e-08;           \
		(out) = (out) * (z) + 2.7557319223985890653e-06;           \
		(out) = (out) * (z) - 1.9841269841269841270e-04;           \
		(out) = (out) * (z) + 8.3333333333333333333e-03;           \
		(out) = (out) * (z) - 1.6666666666666666667e-01;           \
		(out) = (r) + (r) * ((z) * (out));                         \
	} while (0)
#define COS_POLY(z, out, zero)                                             \
	do {                                                               \
		(out) = (zero) + 4.7794773323873852974e-14;                \
		(out) = (out) * (z) - 1.1470745597729724714e-11;           \
		(out) = (out) * (z) + 2.0876756987868098979e-09;           \
		(out) = (out) * (z) - 2.7557319223985890653e-07;           \
		(out) = (out) * (z) + 2.4801587301587301587e-05;           \
		(out) = (out) * (z) - 1.3888888888888888889e-03;           \
		(out) = (out) * (z) + 4.1666666666666666667e-02;           \
		(out) = (out) * (z) - 0.5;                                 \
		(out) = 1.0 + (z) * (out);                                 \
	} while (0)

void vmath_box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
	double u1 = ((double)a + 0.5) * BM_TWO32;
	double u2 = (double)b * BM_TWO32;
	double rad = sqrt(-2.0 * log_pos(u1));
	double t = BM_2PI * u2;
	/* t = q pi/2 + r, q in 0..4, |r| <= pi/4 (q pi/2_1 exact) */
	double q = (t * BM_2OPI + EXP_SHIFT) - EXP_SHIFT;
	double r = ((t - q * BM_PIO2_1) - q * BM_PIO2_2) - q * BM_PIO2_3;
	double z = r * r, sn, cs, s, c;
	unsigned quad = (unsigned)q & 3u;

	SIN_POLY(r, z, sn, 0.0);
	COS_POLY(z, cs, 0.0);
	/* sin/cos of q pi/2 + r */
	s = quad == 0 ? sn : quad == 1 ? cs : quad == 2 ? -sn : -cs;
	c = quad == 0 ? cs : quad == 1 ? -sn : quad == 2 ? -cs : sn;
	*z0 = (float)(rad * c);
	*z1 = (float)(rad * s);
}

#if defined(__x86_64__) || defined(__i386__)
/* vmath_box_muller on 8 pairs: lanes 0..3 take (w0, w1) of 4 blocks and
 * lanes 4..7 their (w2, w3); the same operations lane by lane.  SQRT is
 * vec8.h's square root for the target. */
#define BM8_BODY(SQRT)                                                     \
	do {                                                               \
		const v8d zero = {0}, shift = zero + EXP_SHIFT;            \
		size_t i = 0;                                              \
		for (; i + 4 <= nblocks; i += 4) {                         \
			v8d a, b, u1, u2, rad, t, q, r, z, sn, cs, s, c, m,  \
				lg, kd, f_, s_, t_, zz;                    \
			v8i bits, k, quad;                                 \
			const v8i one_i = (v8i){0} + 1, zero_i = {0};      \
			v8u32 wl, wh;                                      \
			v8f cf, sf, ol, oh;                                \
			/* lanes 0..3: (w0, w1) of blocks i..i+3; 4..7:    \
			 * their (w2, w3) */                               \
			memcpy(&wl, w + 4 * i, sizeof(wl));                \
			memcpy(&wh, w + 4 * i + 8, sizeof(wh));            \
			a = __builtin_convertvector(__builtin_shufflevector(wl, wh, \
				0, 4, 8, 12, 2, 6, 10, 14), v8d);          \
			b = __builtin_convertvector(__builtin_shufflevector(wl, wh, \
				1, 5, 9, 13, 3, 7, 11, 15), v8d);          \
			u1 = (a + 0.5) * BM_TWO32;                         \
			u2 = b * BM_TWO32;                                 \
			/* log_pos(u1) */                                  \
			memcpy(&bits, &u1, sizeof(bits));                  \
			k = ((bits >> 52) & 0x7ff) - 1023;                 \
			bits = (bits & 0x000fffffffffffffll) |             \
			       0x3ff0000000000000ll;                       \
			memcpy(&m, &bits, sizeof(m));                      \
			k = k + (v8i)V8SEL(m > LOG1P_SQRT2, (v8d)one_i,    \
					   (v8d)zero_i);                   \
			m = V8SEL(m > LOG1P_SQRT2, 0.5 * m, m);            \
			/* |k| < 2^11: through int32 (int64 to double     \
			 * needs AVX-512DQ) */                             \
			kd = __builtin_convertvector(                      \
				__builtin_convertvector(k, v8s32), v8d);   \
			f_ = m - 1.0;                                      \
			s_ = f_ / (2.0 + f_);                              \
			zz = s_ * s_;                                      \
			t_ = zero + 2.0 / 23.0;                            \
			t_ = t_ * zz + 2.0 / 21.0;                         \
			t_ = t_ * zz + 2.0 / 19.0;                         \
			t_ = t_ * zz + 2.0 / 17.0;                         \
			t_ = t_ * zz + 2.0 / 15.0;                         \
			t_ = t_ * zz + 2.0 / 13.0;                         \
			t_ = t_ * zz + 2.0 / 11.0;                         \
			t_ = t_ * zz + 2.0 / 9.0;                          \
			t_ = t_ * zz + 2.0 / 7.0;                          \
			t_ = t_ * zz + 2.0 / 5.0;                          \
			t_ = t_ * zz + 2.0 / 3.0;                          \
			lg = f_ - s_ * (f_ - zz * t_);                     \
			lg = kd * EXP_LN2_HI + (lg + kd * EXP_LN2_LO);     \
			rad = -2.0 * lg;                                   \
			SQRT(rad);                                         \
			/* sincos */                                       \
			t = BM_2PI * u2;                                   \
			q = (t * BM_2OPI + shift) - shift;                 \
			r = ((t - q * BM_PIO2_1) - q * BM_PIO2_2) -        \
			    q * BM_PIO2_3;                                 \
			z = r * r;                                         \
			SIN_POLY(r, z, sn, zero);                          \
			COS_POLY(z, cs, zero);                             \
			quad = ((v8i)(q + shift) - (v8i)shift) & 3;        \
			s = V8SEL(quad == 0, sn, V8SEL(quad == 1, cs,      \
				  V8SEL(quad == 2, -sn, -cs)));            \
			c = V8SEL(quad == 0, cs, V8SEL(quad == 1, -sn,     \
				  V8SEL(quad == 2, -cs, sn)));             \
			c = rad * c;                                       \
			s = rad * s;                                       \
			cf = __builtin_convertvector(c, v8f);              \
			sf = __builtin_convertvector(s, v8f);              \
			/* block l: c[l], s[l], c[l + 4], s[l + 4] */      \
			ol = __builtin_shufflevector(cf, sf,               \
				0, 8, 4, 12, 1, 9, 5, 13);                 \
			oh = __builtin_shufflevector(cf, sf,               \
				2, 10, 6, 14, 3, 11, 7, 15);               \
			memcpy(z_out + 4 * i, &ol, sizeof(ol));            \
			memcpy(z_out + 4 * i + 8, &oh, sizeof(oh));        \
		}                                                          \
		for (; i < nblocks; i++) {                                 \
			vmath_box_muller(w[4 * i], w[4 * i + 1],           \
					 &z_out[4 * i], &z_out[4 * i + 1]);  \
			vmath_box_muller(w[4 * i + 2], w[4 * i + 3],       \
					 &z_out[4 * i + 2], &z_out[4 * i + 3]); \
		}                                                          \
	} while (0)

static void bm8_generic(const uint32_t *w, float *z_out, size_t nblocks)
{
	BM8_BODY(V8SQRT_SSE2);
}

__attribute__((target("avx2"))) static void
bm8_avx2(const uint32_t *w, float *z_out, size_t nblocks)
{
	BM8_BODY(V8SQRT_AVX2);
}

__attribute__((target("avx512f"))) static void
bm8_avx512(const uint32_t *w, float *z_out, size_t nblocks)
{
	BM8_BODY(V8SQRT_AVX512);
}
#endif

void vmath_box_muller_n(const uint32_t *w, float *z, size_t nblocks)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), bm8, w, z, nblocks);
#else
	for (size_t i = 0; i < nblocks; i++) {
		vmath_box_muller(w[4 * i], w[4 * i + 1], &z[4 * i], &z[4 * i + 1]);
		vmath_box_muller(w[4 * i + 2], w[4 * i + 3], &z[4 * i + 2],
				 &z[4 * i + 3]);
	}
#endif
}

/* --- division ------------------------------------------------------------ */

#if defined(__x86_64__) || defined(__i386__)
#define DIV8_BODY                                                          \
	do {                                                               \
		size_t i = 0;                                              \
		for (; i + 8 <= n; i += 8) {                               \
			v8d av, bv;                                        \
			memcpy(&av, a + i, sizeof(av));                    \
			memcpy(&bv, b + i, sizeof(bv));                    \
			av = av / bv;                                      \
			memcpy(y + i, &av, sizeof(av));                    \
		}                                                          \
		for (; i < n; i++)                                         \
			y[i] = a[i] / b[i];                                \
	} while (0)

static void div8_generic(const double *a, const double *b, double *y,
			 size_t n)
{
	DIV8_BODY;
}

__attribute__((target("avx2"))) static void
div8_avx2(const double *a, const double *b, double *y, size_t n)
{
	DIV8_BODY;
}

__attribute__((target("avx512f"))) static void
div8_avx512(const double *a, const double *b, double *y, size_t n)
{
	DIV8_BODY;
}
#endif

void vmath_div_n(const double *a, const double *b, double *y, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), div8, a, b, y, n);
#else
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] / b[i];
#endif
}

double vmath_pow_unit(double x, double y)
{
	if (isnan(x) || isnan(y))
		return NAN;
	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	/* log_pos(x) < 0 and y > 0: the argument of exp is <= 0. */
	return vmath_exp_neg(y * log_pos(x));
}
