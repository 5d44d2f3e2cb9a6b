/*
 * es_vec: the ES update's per-parameter loops (see es_vec.h).  The scalar
 * loops below are the definition: each vector kernel in es_vec_body.h
 * runs their operations on 8 parameters at a time and calls them for the
 * rest; off x86 they are all there is.  They start at index i0 (their
 * first argument) so that a kernel hands over its tail without a second
 * copy of the formula.
 */
#include "es_vec.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blas.h"

/* --- the scalar loops (the contracts of es_vec.h) ------------------------- */

static void member_scalar(size_t i0, const float *noise, const float *center,
			  const float *sigma_vec, double sigma, float *plus,
			  float *minus, size_t D)
{
	for (size_t i = i0; i < D; i++) {
		double s = sigma_vec ? (double)sigma_vec[i] : sigma;
		double x = s * (double)noise[i];
		double c = (double)center[i];

		if (plus)
			plus[i] = (float)(c + x);
		if (minus)
			minus[i] = (float)(c - x);
	}
}

static void acc_scalar(size_t i0, double *acc, const float *const *eps,
		       const double *w, size_t n, size_t D)
{
	for (size_t i = i0; i < D; i++) {
		double a = acc[i];

		for (size_t j = 0; j < n; j++)
			a = a + w[j] * (double)eps[j][i];
		acc[i] = a;
	}
}

static void acc_sq_scalar(size_t i0, double *acc, const float *const *eps,
			  const double *s, size_t n, size_t D)
{
	for (size_t i = i0; i < D; i++) {
		double a = acc[i];

		for (size_t j = 0; j < n; j++) {
			double e = (double)eps[j][i];
			a = a + s[j] * (e * e - 1.0);
		}
		acc[i] = a;
	}
}

static void div_scalar(size_t i0, double *x, double den, size_t D)
{
	for (size_t i = i0; i < D; i++)
		x[i] = x[i] / den;
}

static void pgpe_grad_scalar(size_t i0, double *grad, const float *sigma,
			     double P, size_t D)
{
	for (size_t i = i0; i < D; i++)
		grad[i] = (double)sigma[i] * grad[i] / P;
}

static void adam_scalar(size_t i0, double *m, double *v, double *step,
			const double *g, const struct es_vec_adam *c, size_t D)
{
	for (size_t i = i0; i < D; i++) {
		double mi = c->beta1 * m[i] + (1.0 - c->beta1) * g[i];
		double vi = c->beta2 * v[i] + (1.0 - c->beta2) * g[i] * g[i];

		m[i] = mi;
		v[i] = vi;
		step[i] = c->lr * (mi / c->bc1) / (sqrt(vi / c->bc2) + c->eps);
	}
}

static void momentum_scalar(size_t i0, double *vel, double *step,
			    const double *g, double mu, double lr, size_t D)
{
	for (size_t i = i0; i < D; i++) {
		vel[i] = mu * vel[i] + g[i];
		step[i] = lr * vel[i];
	}
}

static void clipup_scalar(size_t i0, double *vel, const double *g, double mu,
			  double lr, double gn, size_t D)
{
	for (size_t i = i0; i < D; i++)
		vel[i] = mu * vel[i] + (gn > 0 ? lr * (g[i] / gn) : 0.0);
}

static void scale_scalar(size_t i0, double *x, double s, size_t D)
{
	for (size_t i = i0; i < D; i++)
		x[i] = x[i] * s;
}

static size_t theta_scalar(size_t i0, float *theta, double *step,
			   double lrwd, size_t D)
{
	size_t n_bad = 0;

	for (size_t i = i0; i < D; i++) {
		double t = theta[i];
		double d = step[i] - lrwd * t;
		float nt = (float)(t + d);

		theta[i] = nt;
		step[i] = d;
		n_bad += !isfinite(nt);
	}
	return n_bad;
}

/* --- the vector kernels, three builds ------------------------------------- */

#if defined(__x86_64__) || defined(__i386__)
#include "vec8.h"

/* ESV_WIDEN: float to double lane by lane.  GCC builds the generic
 * conversion of 8 lanes from two 4-lane conversions even where AVX-512F
 * has the 8-lane one. */
#define ESV_SFX generic
#define ESV_WIDEN(f) __builtin_convertvector(f, v8d)
#define ESV_TARGET
#define ESV_SQRT V8SQRT_SSE2
#include "es_vec_body.h"
#undef ESV_SFX
#undef ESV_TARGET
#undef ESV_SQRT
#undef ESV_WIDEN

#define ESV_SFX avx2
#define ESV_WIDEN(f) __builtin_convertvector(f, v8d)
#define ESV_TARGET __attribute__((target("avx2")))
#define ESV_SQRT V8SQRT_AVX2
#include "es_vec_body.h"
#undef ESV_SFX
#undef ESV_TARGET
#undef ESV_SQRT
#undef ESV_WIDEN

#define ESV_SFX avx512
#define ESV_WIDEN(f) (v8d)_mm512_cvtps_pd((__m256)(f))
#define ESV_TARGET __attribute__((target("avx512f")))
#define ESV_SQRT V8SQRT_AVX512
#include "es_vec_body.h"
#undef ESV_SFX
#undef ESV_TARGET
#undef ESV_SQRT
#undef ESV_WIDEN

/* r kernel_<isa>(args) for the ISA in use (blas.h). */
#define ESV_DISPATCH(r, kernel, ...) BLAS_ISA_DISPATCH(r, kernel, __VA_ARGS__)
#else
#define ESV_DISPATCH(r, kernel, ...) r kernel##_scalar(0, __VA_ARGS__)
#endif

void es_vec_member(const float *noise, const float *center,
		   const float *sigma_vec, double sigma, float *plus,
		   float *minus, size_t D)
{
	ESV_DISPATCH((void), member, noise, center, sigma_vec, sigma, plus,
		     minus, D);
}

void es_vec_accumulate(double *acc, const float *const *eps, const double *w,
		       size_t n, size_t D)
{
	ESV_DISPATCH((void), acc, acc, eps, w, n, D);
}

void es_vec_accumulate_sq(double *acc, const float *const *eps,
			  const double *s, size_t n, size_t D)
{
	ESV_DISPATCH((void), acc_sq, acc, eps, s, n, D);
}

void es_vec_div(double *x, double den, size_t D)
{
	ESV_DISPATCH((void), div, x, den, D);
}

void es_vec_pgpe_grad(double *grad, const float *sigma, double P, size_t D)
{
	ESV_DISPATCH((void), pgpe_grad, grad, sigma, P, D);
}

void es_vec_adam(double *m, double *v, double *step, const double *g,
		 const struct es_vec_adam *a, size_t D)
{
	ESV_DISPATCH((void), adam, m, v, step, g, a, D);
}

void es_vec_momentum(double *vel, double *step, const double *g, double mu,
		     double lr, size_t D)
{
	ESV_DISPATCH((void), momentum, vel, step, g, mu, lr, D);
}

void es_vec_clipup(double *vel, const double *g, double mu, double lr,
		   double gn, size_t D)
{
	ESV_DISPATCH((void), clipup, vel, g, mu, lr, gn, D);
}

void es_vec_scale(double *x, double s, size_t D)
{
	ESV_DISPATCH((void), scale, x, s, D);
}

size_t es_vec_theta(float *theta, double *step, double lrwd, size_t D)
{
	size_t n_bad = 0;

	ESV_DISPATCH(n_bad =, theta, theta, step, lrwd, D);
	return n_bad;
}
