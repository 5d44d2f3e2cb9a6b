/*
 * model_kernels: the primitive operations of the fast forward pass and the
 * roll-outs (struct model_kernels in model.h): GEMM, gelu, LayerNorm and
 * attention for one query.
 *
 * Every kernel here computes each output from its own inputs in a fixed
 * order of float operations, so results never depend on how many rows a
 * call covers: a full forward, a roll-out step and a batch of any size
 * round a sequence identically.  gelu and softmax use our own exp
 * (kernel_expf below) rather than libm's: it vectorises, and it is the same
 * function on every machine.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blas.h"
#include "err.h"
#include "model.h"
#include "vmath.h"

/* --- exp and gelu ---------------------------------------------------------- */

/*
 * exp(x) in float for x clamped to [-87.3, 88]: x = n ln2 + r with
 * |r| <= ln2/2 (Cody-Waite, ln2 split in two), e^r by its degree-7 Taylor
 * polynomial (vmath.h's VMATH_EXPF_*), times 2^n built in the exponent
 * bits.  About 2 ulp.  The scalar and the vector version below
 * perform the same operations in the same order.
 */
#define EXP_LO (-87.3f)
#define EXP_HI 88.0f

static float kernel_expf(float x)
{
	float n, r, p, scale;
	int32_t bits;

	x = x > EXP_HI ? EXP_HI : x;
	x = x < EXP_LO ? EXP_LO : x;
	n = (x * VMATH_EXPF_LOG2E + VMATH_EXPF_SHIFT) - VMATH_EXPF_SHIFT;
	r = (x - n * VMATH_EXPF_LN2_HI) - n * VMATH_EXPF_LN2_LO;
	VMATH_EXPF_POLY(p, r, 0.0f);
	bits = ((int32_t)n + 127) << 23;
	memcpy(&scale, &bits, sizeof(scale));
	return p * scale;
}

/*
 * gelu with the tanh approximation, 0.5 x (1 + tanh(u)) with
 * u = sqrt(2/pi) (x + 0.044715 x^3), computed as x / (1 + exp(-2u)):
 * the same function (1 + tanh(u) = 2 / (1 + e^(-2u))) without the
 * cancellation of 1 + tanh(u) for negative u.
 */
#define GELU_C 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_A 0.044715f

static float kernel_gelu1(float x)
{
	float u = GELU_C * (x + GELU_A * (x * x * x));
	return x / (1.0f + kernel_expf(-2.0f * u));
}

static void gelu_scalar(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = kernel_gelu1(x[i]);
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * kernel_gelu1 on the registers' width of lanes (VW floats): the same
 * operations, lane by lane; GELU_VEC(sfx, target, VW) defines gelu_<sfx>.
 * VSEL(vi, m, a, b) is the lane-wise m ? a : b for a mask m (of the integer
 * vector type vi) all-ones or all-zeros per lane.
 */
#define GELU_VEC(SFX, TARGET, VW)                                          \
	typedef float vf_##SFX __attribute__((vector_size(VW * 4)));      \
	typedef int32_t vi_##SFX __attribute__((vector_size(VW * 4)));    \
	__attribute__((target(TARGET))) static void gelu_##SFX(float *x,  \
								size_t n)  \
	{                                                                  \
		const vf_##SFX hi = (vf_##SFX){0} + EXP_HI;                \
		const vf_##SFX lo = (vf_##SFX){0} + EXP_LO;                \
		size_t i = 0;                                              \
                                                                           \
		for (; i + VW <= n; i += VW) {                             \
			vf_##SFX v, u, e, nn, r, p, scale;                 \
			vi_##SFX bits;                                     \
                                                                           \
			memcpy(&v, x + i, sizeof(v));                      \
			u = GELU_C * (v + GELU_A * (v * v * v));           \
			e = -2.0f * u;                                     \
			e = VSEL(vi_##SFX, e > hi, hi, e);                 \
			e = VSEL(vi_##SFX, e < lo, lo, e);                 \
			nn = (e * VMATH_EXPF_LOG2E + VMATH_EXPF_SHIFT) -   \
			     VMATH_EXPF_SHIFT;                             \
			r = (e - nn * VMATH_EXPF_LN2_HI) -                 \
			    nn * VMATH_EXPF_LN2_LO;                        \
			VMATH_EXPF_POLY(p, r, (vf_##SFX){0});              \
			bits = (__builtin_convertvector(nn, vi_##SFX) + 127) \
			       << 23;                                      \
			memcpy(&scale, &bits, sizeof(scale));              \
			v = v / (1.0f + p * scale);                        \
			memcpy(x + i, &v, sizeof(v));                      \
		}                                                          \
		gelu_scalar(x + i, n - i);                                 \
	}
#define VSEL(vi, m, a, b)                                                  \
	((__typeof__(a))(((vi)(a) & (m)) | ((vi)(b) & ~(m))))

GELU_VEC(avx512, "avx512f", 16)
GELU_VEC(avx2, "avx2", 8)
#undef GELU_VEC
#undef VSEL
#endif

static void kernel_gelu(float *x, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
	switch (blas_isa_get()) {
	case BLAS_ISA_AVX512:
		gelu_avx512(x, n);
		return;
	case BLAS_ISA_AVX2:
		gelu_avx2(x, n);
		return;
	case BLAS_ISA_GENERIC:
		break;
	}
#endif
	gelu_scalar(x, n);
}

/* --- LayerNorm ------------------------------------------------------------- */

/* Mean and variance in double, in index order; y rounded once. */
static void kernel_layernorm(size_t rows, size_t W, const float *x, size_t ldx,
			     const float *g, const float *b, float *y,
			     size_t ldy)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * ldx; /* (W) */
		float *yr = y + r * ldy;       /* (W) */
		double mean = 0.0, var = 0.0, rstd;

		for (size_t i = 0; i < W; i++)
			mean += xr[i];
		mean /= (double)W;
		for (size_t i = 0; i < W; i++) {
			double d = xr[i] - mean;
			var += d * d;
		}
		var /= (double)W;
		rstd = 1.0 / sqrt(var + 1e-5);
		for (size_t i = 0; i < W; i++)
			yr[i] = (float)((xr[i] - mean) * rstd * g[i] + b[i]);
	}
}

/* --- attention ------------------------------------------------------------- */

/*
 * One query, all heads.  Scores s_j = q . k_j summed in float in index
 * order.  Linear: out = sum_j s_j v_j over allowed keys j in increasing
 * order.  Softmax: s_j *= scale, m = max s_j, e_j = exp(s_j - m),
 * out = (sum_j e_j v_j) / (sum_j e_j); no allowed key gives out = 0.
 */
static void kernel_attend(const struct model_attn *at, const float *qkv,
			  size_t p, size_t nkeys, const uint8_t *allow,
			  float *out, float *scratch)
{
	const size_t H = at->heads, K = at->key_size, Vs = at->value_size;
	const size_t st = at->stride;

	for (size_t h = 0; h < H; h++) {
		const float *q = qkv + p * st + h * K;           /* (K)  */
		const float *k0 = qkv + H * K + h * K;           /* rows */
		const float *v0 = qkv + 2 * H * K + h * Vs;      /* rows */
		float *o = out + h * Vs;                         /* (Vs) */

		for (size_t d = 0; d < Vs; d++)
			o[d] = 0.0f;
		if (at->kind == MODEL_ATTENTION_LINEAR) {
			for (size_t j = 0; j < nkeys; j++) {
				const float *kj = k0 + j * st, *vj = v0 + j * st;
				float s = 0.0f;

				if (allow && !allow[j])
					continue;
				for (size_t d = 0; d < K; d++)
					s = s + q[d] * kj[d];
				for (size_t d = 0; d < Vs; d++)
					o[d] = o[d] + s * vj[d];
			}
			continue;
		}

		float mx = 0.0f, sum = 0.0f;
		int any = 0;

		for (size_t j = 0; j < nkeys; j++) {
			const float *kj = k0 + j * st;
			float s = 0.0f;

			if (allow && !allow[j])
				continue;
			for (size_t d = 0; d < K; d++)
				s = s + q[d] * kj[d];
			s = s * at->scale;
			scratch[j] = s;
			if (!any || s > mx)
				mx = s;
			any = 1;
		}
		if (!any)
			continue; /* no allowed key: zero output */
		for (size_t j = 0; j < nkeys; j++) {
			const float *vj = v0 + j * st;
			float e;

			if (allow && !allow[j])
				continue;
			e = kernel_expf(scratch[j] - mx);
			sum = sum + e;
			for (size_t d = 0; d < Vs; d++)
				o[d] = o[d] + e * vj[d];
		}
		for (size_t d = 0; d < Vs; d++)
			o[d] = o[d] / sum;
	}
}

/* --- the OpenBLAS GEMM, for comparison ------------------------------------- */

static size_t plain_pack_floats(size_t K, size_t N)
{
	return K * N;
}

static void plain_pack(size_t K, size_t N, const float *b, size_t ldb,
		       float *packed)
{
	for (size_t k = 0; k < K; k++)
		memcpy(packed + k * N, b + k * ldb, N * sizeof(float));
}

static void openblas_gemm(size_t M, size_t N, size_t K, const float *a,
			  size_t lda, const float *bp, const float *bias,
			  int accumulate, float *out, size_t ldo)
{
	if (bias && !accumulate) {
		for (size_t i = 0; i < M; i++)
			memcpy(out + i * ldo, bias, N * sizeof(float));
		blas_sgemm(M, N, K, a, lda, bp, N, 1.0f, out, ldo);
		return;
	}
	blas_sgemm(M, N, K, a, lda, bp, N, accumulate ? 1.0f : 0.0f, out, ldo);
	if (bias)
		for (size_t i = 0; i < M; i++)
			for (size_t j = 0; j < N; j++)
				out[i * ldo + j] += bias[j];
}

static const struct model_kernels kernels_ordered = {
	.name = "ordered",
	.pack_floats = blas_pack_floats,
	.pack = blas_pack_b,
	.gemm = blas_gemm_packed,
	.gelu = kernel_gelu,
	.layernorm = kernel_layernorm,
	.attend = kernel_attend,
};

static const struct model_kernels kernels_openblas = {
	.name = "openblas",
	.pack_floats = plain_pack_floats,
	.pack = plain_pack,
	.gemm = openblas_gemm,
	.gelu = kernel_gelu,
	.layernorm = kernel_layernorm,
	.attend = kernel_attend,
};

const struct model_kernels *model_kernels_ordered(void)
{
	return &kernels_ordered;
}

const struct model_kernels *model_kernels_openblas(void)
{
	return &kernels_openblas;
}
