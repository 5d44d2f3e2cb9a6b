/*
 * es_vec: the per-parameter loops of the ES update (es.c's es_step and
 * optimizer_step), 8 parameters at a time, compiled for the x86-64
 * baseline, AVX2 and AVX-512F and picked by blas_isa_get().
 *
 * What it does: every parameter gets exactly the operations, in exactly
 * the order, of the scalar loops written next to each contract below
 * (IEEE multiplies, adds, divisions and square roots, never fused: the
 * project builds with -ffp-contract=off); only the parameters run side by
 * side.  So the result is the scalar loop's, bit for bit, on every
 * instruction set and for any D (the last D mod 8 parameters run through
 * the scalar loop itself).
 *
 * What it does not do: sums over parameters (the norms' order is the
 * index order, a chain no vector shortens; es.c keeps them), the shaping,
 * pgpe's σ update, allocation.  Internal to src/common and the tests.
 */
#ifndef RANDES_ES_VEC_H
#define RANDES_ES_VEC_H

#include <stddef.h>

/*
 * A pair's two members (es_member_pair), σ per parameter or one σ:
 *     s = sigma_vec ? (double)sigma_vec[i] : sigma;
 *     x = s * (double)noise[i]; c = (double)center[i];
 *     plus[i] = (float)(c + x); minus[i] = (float)(c - x)
 * plus or minus may be NULL (not written).
 */
void es_vec_member(const float *noise, const float *center,
		   const float *sigma_vec, double sigma, float *plus,
		   float *minus, size_t D);

/* At most this many pairs per es_vec_accumulate call. */
#define ES_VEC_GROUP 8

/*
 * The noise sum of n pairs (n <= ES_VEC_GROUP), in pair order:
 *     for j < n: acc[i] = acc[i] + w[j] * (double)eps[j][i]
 * for every i < D; acc (D), eps: n pointers to (D) floats.
 */
void es_vec_accumulate(double *acc, const float *const *eps, const double *w,
		       size_t n, size_t D);

/*
 * pgpe's σ-gradient sum of n pairs, in pair order:
 *     for j < n: e = (double)eps[j][i]; acc[i] = acc[i] + s[j] * (e * e - 1.0)
 */
void es_vec_accumulate_sq(double *acc, const float *const *eps,
			  const double *s, size_t n, size_t D);

/* x[i] = x[i] / den (openai_es: the centre gradient from the noise sum). */
void es_vec_div(double *x, double den, size_t D);

/* grad[i] = (double)sigma[i] * grad[i] / P (pgpe's centre gradient). */
void es_vec_pgpe_grad(double *grad, const float *sigma, double P, size_t D);

/* Adam's constants for one step: bc1, bc2 = 1 - beta^t. */
struct es_vec_adam {
	double beta1, beta2, bc1, bc2, lr, eps;
};

/*
 *     m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
 *     v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i]
 *     step[i] = lr * (m[i] / bc1) / (sqrt(v[i] / bc2) + eps)
 * (C's left-to-right order: ((1 - beta2) * g) * g, (lr * (m/bc1)) / ...).
 */
void es_vec_adam(double *m, double *v, double *step, const double *g,
		 const struct es_vec_adam *a, size_t D);

/* SGD with momentum: vel[i] = mu * vel[i] + g[i]; step[i] = lr * vel[i]. */
void es_vec_momentum(double *vel, double *step, const double *g, double mu,
		     double lr, size_t D);

/*
 * ClipUp's velocity before the clip, gn = ‖g‖₂:
 *     vel[i] = mu * vel[i] + (gn > 0 ? lr * (g[i] / gn) : 0.0)
 */
void es_vec_clipup(double *vel, const double *g, double mu, double lr,
		   double gn, size_t D);

/* x[i] = x[i] * s. */
void es_vec_scale(double *x, double s, size_t D);

/*
 * The centre's move with decoupled weight decay, lrwd = lr * weight_decay:
 *     t = (double)theta[i]; d = step[i] - lrwd * t;
 *     theta[i] = (float)(t + d); step[i] = d
 * (step keeps d for the update norm).  Returns how many of the new
 * theta[i] are not finite (all are written).
 */
size_t es_vec_theta(float *theta, double *step, double lrwd, size_t D);

#endif
