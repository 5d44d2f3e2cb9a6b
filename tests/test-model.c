/*
 * test-model: the transformer.  The fast forward pass against the plain
 * reference for a table of option combinations that covers every option;
 * roll-outs against the full pass (bitwise) at every step; the batch
 * independence the ES determinism promise rests on (bitwise); the ordered
 * GEMM against its documented operation order (bitwise) and across
 * instruction sets; a forward pass computed by hand; the initialisation
 * statistics; parameter and MAC counts against PAPER.md.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/blas.h"
#include "common/err.h"
#include "common/json.h"
#include "common/model.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "testutil.h"

#ifndef RANDES_SOURCE_ROOT
#define RANDES_SOURCE_ROOT "."
#endif

/* --- helpers --------------------------------------------------------------- */

static struct config_model cfg_base(void)
{
	struct config_model c;

	memset(&c, 0, sizeof(c));
	c.width = 8;
	c.layers = 2;
	c.heads = 1;
	c.key_size = 4;
	c.value_size = 4;
	c.input_embedding = MODEL_EMBED_LINEAR;
	c.attention = MODEL_ATTENTION_LINEAR;
	c.mlp = 0;
	c.mlp_ratio = 4;
	c.layernorm = 0;
	c.positional = MODEL_POSITIONAL_NONE;
	c.seed_encoding.kind = RSE_KIND_BITS;
	c.seed_encoding.dim = 2;
	c.seed_encoding.placement = RSE_PLACEMENT_EVERY_TOKEN;
	c.index_dim = 3;
	c.embedding_init_var = 1.0;
	c.weight_init_var = 1.0;
	return c;
}

/* The model of PAPER.md 2.2 with the io the recall task passes. */
static void model_ar(struct model *m, size_t N)
{
	struct config_model c = cfg_base();
	struct model_io io = {.seq_len = N + 1, .feat = N + 5, .out_dim = 5,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_LAST};
	char err[RANDES_ERR_LEN];

	c.width = 40;
	c.key_size = 5;
	c.value_size = 5;
	c.input_embedding = MODEL_EMBED_MLP;
	c.seed_encoding.dim = 10;
	ck_assert_int_eq(model_init(m, &c, &io, err), 0);
}

/* PAPER.md 3.2: C10 colouring. */
static void model_c10(struct model *m)
{
	struct config_model c = cfg_base();
	struct model_io io = {.seq_len = 10, .feat = 10, .out_dim = 3,
			      .mask = MODEL_MASK_GRAPH,
			      .output = MODEL_OUTPUT_EVERY};
	char err[RANDES_ERR_LEN];

	c.width = 16;
	c.key_size = 16;
	c.value_size = 16;
	c.seed_encoding.kind = RSE_KIND_UNIFORM;
	c.seed_encoding.dim = 1;
	c.seed_encoding.placement = RSE_PLACEMENT_PER_TOKEN;
	c.embedding_init_var = 0.1;
	ck_assert_int_eq(model_init(m, &c, &io, err), 0);
}

/* PAPER.md 4.3 [I]: the grid-world model. */
static void model_grid(struct model *m)
{
	struct config_model c = cfg_base();
	struct model_io io = {.seq_len = 50, .feat = 1, .n_index = 2,
			      .index_vocab = 5, .out_dim = 4,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_LAST};
	char err[RANDES_ERR_LEN];

	c.width = 80;
	c.heads = 4;
	c.key_size = 10;
	c.value_size = 10;
	c.attention = MODEL_ATTENTION_SOFTMAX;
	c.mlp = 1;
	c.mlp_ratio = 4;
	c.layernorm = 1;
	c.positional = MODEL_POSITIONAL_LEARNED;
	c.seed_encoding.kind = RSE_KIND_NORMAL;
	c.seed_encoding.placement = RSE_PLACEMENT_FIRST_TOKEN;
	c.index_dim = 32;
	ck_assert_int_eq(model_init(m, &c, &io, err), 0);
}

/* Inputs, seeds and masks for a batch, all from the test stream. */
struct batch_data {
	struct model_batch b;
	float *feat, *seed;
	int32_t *index;
	uint8_t *mask;
};

static void batch_make(const struct model *m, size_t nin, size_t ns,
		       uint32_t salt, struct batch_data *d)
{
	const struct model_spec *s = &m->spec;
	const size_t Lx = s->io.seq_len, L = s->seq_total;
	struct rng_stream st;

	memset(d, 0, sizeof(*d));
	rng_stream_init(&st, 99, RNG_PURPOSE_TEST, salt, 1);
	d->feat = calloc(nin * Lx * s->io.feat + 1, sizeof(float));
	d->index = calloc(nin * Lx * s->io.n_index + 1, sizeof(int32_t));
	d->seed = calloc(ns * s->seed_size + 1, sizeof(float));
	d->mask = calloc(nin * L * L + 1, 1);
	ck_assert(d->feat && d->index && d->seed && d->mask);
	for (size_t i = 0; i < nin * Lx * s->io.feat; i++)
		d->feat[i] = rng_normal(&st);
	for (size_t i = 0; i < nin * Lx * s->io.n_index; i++)
		d->index[i] = (int32_t)rng_below(&st, (uint32_t)s->io.index_vocab);
	for (size_t j = 0; j < ns; j++)
		model_seed_sample(m, &st, d->seed + j * s->seed_size);
	for (size_t i = 0; i < nin; i++)
		for (size_t p = 0; p < L; p++)
			for (size_t q = 0; q < L; q++)
				d->mask[(i * L + p) * L + q] =
					p != q && rng_below(&st, 2);
	/* A query with no allowed key: input 0, last position (and the
	 * first, when there are two). */
	memset(d->mask + (L - 1) * L, 0, L);
	memset(d->mask, 0, L);
	d->b.n_inputs = nin;
	d->b.n_seeds = ns;
	d->b.feat = s->io.feat ? d->feat : NULL;
	d->b.index = s->io.n_index ? d->index : NULL;
	d->b.seed = s->seed_size ? d->seed : NULL;
	d->b.mask = s->io.mask == MODEL_MASK_GRAPH ? d->mask : NULL;
}

static void batch_free(struct batch_data *d)
{
	free(d->feat);
	free(d->index);
	free(d->seed);
	free(d->mask);
}

/* theta from the initialiser plus N(0, 0.1^2) everywhere, so that biases,
 * LayerNorm gains and zero-initialised tensors are exercised too. */
static float *theta_random(const struct model *m, uint32_t salt)
{
	size_t D = model_n_params(m);
	float *theta = malloc(D * sizeof(float));
	struct rng_stream st;

	ck_assert(theta);
	model_init_theta(m, 1000 + salt, theta);
	rng_stream_init(&st, 5, RNG_PURPOSE_TEST, salt, 2);
	for (size_t i = 0; i < D; i++)
		theta[i] += 0.1f * rng_normal(&st);
	return theta;
}

static size_t logits_per_seq(const struct model *m)
{
	return (m->spec.io.output == MODEL_OUTPUT_LAST ? 1 : m->spec.io.seq_len) *
	       m->spec.io.out_dim;
}

/*
 * max_i |a_i - b_i| / max(|b_i|, floor) with floor = 0.1 * max_i |b_i|:
 * relative for logits of the batch's scale, absolute (relative to that
 * scale) below it.  A logit that cancels to near zero carries the float
 * rounding of its terms, which are of the batch's scale: measured over the
 * table below, |fast - ref| / max|ref| stays under 1.1e-6, while bugs give
 * differences of order 1.
 */
static double rel_diff(const float *a, const float *b, size_t n, size_t *where)
{
	double scale = 0.0, worst = 0.0;

	for (size_t i = 0; i < n; i++)
		if (fabs(b[i]) > scale)
			scale = fabs(b[i]);
	*where = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]);
		double s = fabs((double)b[i]);
		double r = d / (s > 0.1 * scale ? s : (0.1 * scale + 1e-30));
		if (isnan(r) || r > worst) {
			worst = isnan(r) ? INFINITY : r;
			*where = i;
		}
	}
	return worst;
}

/* --- the ordered GEMM ------------------------------------------------------ */

/* The operation order blas.h documents, written out naively. */
static void gemm_naive(size_t M, size_t N, size_t K, const float *a,
		       const float *b, const float *bias, int acc, float *out)
{
	for (size_t i = 0; i < M; i++)
		for (size_t j = 0; j < N; j++) {
			float s = 0.0f, t;
			for (size_t k = 0; k < K; k++)
				s = s + a[i * K + k] * b[k * N + j];
			t = bias ? s + bias[j] : s;
			out[i * N + j] = acc ? out[i * N + j] + t : t;
		}
}

static const size_t gemm_shapes[][3] = {
	{1, 1, 1}, {7, 5, 40}, {21, 40, 40}, {33, 15, 40}, {100, 48, 16},
	{9, 17, 0}, {64, 320, 80}, {13, 80, 320}, {5, 3, 11},
};

START_TEST(model_gemm_order)
{
	size_t M = gemm_shapes[_i][0], N = gemm_shapes[_i][1];
	size_t K = gemm_shapes[_i][2];
	float *a = malloc((M * K + 1) * sizeof(float));
	float *b = malloc((K * N + 1) * sizeof(float));
	float *bias = malloc(N * sizeof(float));
	float *bp = malloc((blas_pack_floats(K, N) + 1) * sizeof(float));
	float *want = malloc(M * N * sizeof(float));
	float *got = malloc(M * N * sizeof(float));
	struct rng_stream st;
	enum blas_isa saved = blas_isa_get();

	rng_stream_init(&st, 1, RNG_PURPOSE_TEST, (uint32_t)_i, 0);
	for (size_t i = 0; i < M * K; i++)
		a[i] = rng_normal(&st);
	for (size_t i = 0; i < K * N; i++)
		b[i] = rng_normal(&st);
	for (size_t i = 0; i < N; i++)
		bias[i] = rng_normal(&st);
	blas_pack_b(K, N, b, N, bp);
	for (int isa = BLAS_ISA_GENERIC; isa <= BLAS_ISA_AVX512; isa++) {
		if (blas_isa_set((enum blas_isa)isa) != 0)
			continue;
		for (int mode = 0; mode < 4; mode++) {
			const float *bi = mode & 1 ? bias : NULL;
			int acc = mode >> 1;

			for (size_t i = 0; i < M * N; i++)
				want[i] = got[i] = (float)i * 0.25f - 3.0f;
			gemm_naive(M, N, K, a, b, bi, acc, want);
			blas_gemm_packed(M, N, K, a, K, bp, bi, acc, got, N);
			ck_assert_msg(!memcmp(want, got, M * N * sizeof(float)),
				      "%s: M=%zu N=%zu K=%zu bias=%d acc=%d differs "
				      "from the documented order",
				      blas_isa_name((enum blas_isa)isa), M, N, K,
				      mode & 1, acc);
		}
	}
	blas_isa_set(saved);
	free(a);
	free(b);
	free(bias);
	free(bp);
	free(want);
	free(got);
}
END_TEST

/* A row's result does not depend on M or on where the row sits. */
START_TEST(model_gemm_rows_independent)
{
	const size_t K = 40, N = 40, MAXM = 300;
	float *a = malloc(MAXM * K * sizeof(float));
	float *b = malloc(K * N * sizeof(float));
	float *bp = malloc(blas_pack_floats(K, N) * sizeof(float));
	float *one = malloc(N * sizeof(float));
	float *out = malloc(MAXM * N * sizeof(float));
	struct rng_stream st;

	rng_stream_init(&st, 2, RNG_PURPOSE_TEST, 0, 0);
	for (size_t i = 0; i < MAXM * K; i++)
		a[i] = rng_normal(&st);
	for (size_t i = 0; i < K * N; i++)
		b[i] = rng_normal(&st);
	blas_pack_b(K, N, b, N, bp);
	for (size_t row = 0; row < 40; row += 7) {
		blas_gemm_packed(1, N, K, a + row * K, K, bp, NULL, 0, one, N);
		for (size_t M = 1; M <= 257; M += 16)
			for (size_t off = 0; off <= row && off < M; off += 3) {
				blas_gemm_packed(M, N, K, a + (row - off) * K, K, bp,
						 NULL, 0, out, N);
				ck_assert_msg(!memcmp(out + off * N, one,
						      N * sizeof(float)),
					      "row %zu at position %zu of M=%zu "
					      "differs", row, off, M);
			}
	}
	free(a);
	free(b);
	free(bp);
	free(one);
	free(out);
}
END_TEST

/* --- kernels --------------------------------------------------------------- */

/* 0.5 x (1 + tanh u) written as x / (1 + e^(-2u)), in double: no
 * cancellation, so it is accurate also far out on the negative side. */
static double gelu_exact(double x)
{
	double u = sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
	return x / (1.0 + exp(-2.0 * u));
}

START_TEST(model_gelu_values)
{
	const struct model_kernels *k = model_kernels_ordered();
	/* Published values of the tanh approximation. */
	float x[4] = {1.0f, -1.0f, 2.0f, 0.0f};
	const double want[4] = {0.8411919906082768, -0.15880800939172324,
				1.9545976940871754, 0.0};
	float v[200], one;
	enum blas_isa saved = blas_isa_get();

	k->gelu(x, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(fabs(x[i] - want[i]) <= 2e-7 * fabs(want[i]) + 1e-12,
			      "gelu #%d: %.9g want %.9g", i, x[i], want[i]);
	/* Relative accuracy over a wide range, and vector lanes equal to the
	 * scalar tail bit for bit (n = 1 takes the scalar path). */
	for (int isa = BLAS_ISA_GENERIC; isa <= BLAS_ISA_AVX512; isa++) {
		if (blas_isa_set((enum blas_isa)isa) != 0)
			continue;
		for (int i = 0; i < 200; i++)
			v[i] = -12.0f + 0.121f * (float)i;
		k->gelu(v, 200);
		for (int i = 0; i < 200; i++) {
			double xi = -12.0f + 0.121f * (float)i;
			double g = gelu_exact(xi);
			one = (float)(-12.0f + 0.121f * (float)i);
			k->gelu(&one, 1);
			ck_assert_msg(!memcmp(&one, &v[i], sizeof(float)),
				      "%s: lane %d differs from scalar",
				      blas_isa_name((enum blas_isa)isa), i);
			/* For x << 0, gelu ~ x e^(2u): the float rounding of u
			 * (relative 6e-8) is amplified by 2|u| in e^(2u). */
			double u = sqrt(2.0 / M_PI) * (xi + 0.044715 * xi * xi * xi);
			double cond = 1.0 + (u < 0 ? -2.0 * u : 0.0);
			ck_assert_msg(fabs(v[i] - g) <= 1e-6 * fabs(g) * cond + 1e-30,
				      "gelu(%g) = %.9g want %.9g", xi, v[i], g);
		}
	}
	blas_isa_set(saved);
}
END_TEST

/* --- reference equivalence over a table of option combinations ------------- */

struct combo {
	const char *name;
	enum model_embed embed;
	enum model_attention attn;
	enum model_mask mask;
	int ln, mlp;
	enum model_positional pos;
	enum rse_placement place;
	enum rse_kind kind;
	enum model_output out;
	size_t heads, K, Vs, width, layers;
	size_t NI, F, Lx, R;
};

#define E_NONE MODEL_EMBED_NONE
#define E_LIN MODEL_EMBED_LINEAR
#define E_MLP MODEL_EMBED_MLP
#define A_LIN MODEL_ATTENTION_LINEAR
#define A_SM MODEL_ATTENTION_SOFTMAX
#define M_C MODEL_MASK_CAUSAL
#define M_G MODEL_MASK_GRAPH
#define M_F MODEL_MASK_FULL
#define P_NO MODEL_POSITIONAL_NONE
#define P_SIN MODEL_POSITIONAL_SINUSOIDAL
#define P_LRN MODEL_POSITIONAL_LEARNED
#define EVERY RSE_PLACEMENT_EVERY_TOKEN
#define PER RSE_PLACEMENT_PER_TOKEN
#define FIRST RSE_PLACEMENT_FIRST_TOKEN
#define BITS RSE_KIND_BITS
#define UNIF RSE_KIND_UNIFORM
#define NORM RSE_KIND_NORMAL
#define O_LAST MODEL_OUTPUT_LAST
#define O_ALL MODEL_OUTPUT_EVERY

/* name, embed, attn, mask, ln, mlp, pos, place, kind, out,
 * heads, K, Vs, width, layers, NI, F, Lx, R */
static const struct combo combos[] = {
	{"ar-like", E_MLP, A_LIN, M_C, 0, 0, P_NO, EVERY, BITS, O_LAST,
	 1, 5, 5, 16, 2, 0, 9, 5, 4},
	{"colouring-like", E_LIN, A_LIN, M_G, 0, 0, P_NO, PER, UNIF, O_ALL,
	 1, 8, 8, 8, 2, 0, 5, 5, 1},
	{"grid-like", E_LIN, A_SM, M_C, 1, 1, P_LRN, FIRST, NORM, O_LAST,
	 4, 4, 3, 16, 2, 2, 1, 6, 0},
	{"none-every-full", E_NONE, A_SM, M_F, 0, 0, P_SIN, EVERY, NORM, O_ALL,
	 2, 3, 2, 8, 2, 0, 5, 4, 3},
	{"none-per-causal-ln", E_NONE, A_LIN, M_C, 1, 0, P_LRN, PER, UNIF,
	 O_LAST, 2, 2, 3, 8, 2, 0, 6, 5, 2},
	{"none-first-causal-mlp", E_NONE, A_SM, M_C, 1, 1, P_SIN, FIRST, NORM,
	 O_ALL, 4, 2, 2, 8, 1, 0, 8, 3, 0},
	{"mlp-softmax-graph-first", E_MLP, A_SM, M_G, 1, 1, P_SIN, FIRST, NORM,
	 O_ALL, 2, 4, 4, 12, 2, 1, 2, 5, 0},
	{"linear-full-mlp-learned", E_LIN, A_LIN, M_F, 0, 1, P_LRN, EVERY, BITS,
	 O_ALL, 4, 2, 3, 12, 2, 2, 3, 4, 3},
	{"mlp-causal-ln-mlp-per", E_MLP, A_LIN, M_C, 1, 1, P_NO, PER, UNIF,
	 O_ALL, 1, 6, 4, 10, 2, 1, 0, 6, 2},
	{"softmax-full-first-last", E_LIN, A_SM, M_F, 0, 0, P_NO, FIRST, NORM,
	 O_LAST, 1, 5, 6, 9, 1, 0, 4, 5, 0},
	{"softmax-graph-every-last", E_LIN, A_SM, M_G, 0, 1, P_SIN, EVERY, BITS,
	 O_LAST, 2, 3, 3, 8, 3, 1, 2, 5, 2},
	{"linear-graph-ln-first-last", E_MLP, A_LIN, M_G, 1, 0, P_LRN, FIRST,
	 UNIF, O_LAST, 2, 2, 2, 8, 2, 0, 3, 4, 0},
	{"L1-every-causal", E_LIN, A_SM, M_C, 1, 1, P_LRN, EVERY, BITS, O_LAST,
	 2, 3, 3, 8, 2, 0, 3, 1, 2},
	{"L1-per-linear-every", E_MLP, A_LIN, M_C, 0, 0, P_SIN, PER, UNIF, O_ALL,
	 1, 4, 4, 8, 2, 1, 1, 1, 1},
	{"L1-graph-empty-row", E_LIN, A_SM, M_G, 0, 0, P_NO, EVERY, NORM, O_ALL,
	 1, 4, 4, 8, 1, 0, 3, 1, 1},
	{"L1-graph-linear", E_LIN, A_LIN, M_G, 1, 1, P_SIN, PER, BITS, O_LAST,
	 2, 2, 2, 8, 1, 0, 2, 1, 2},
	{"first-L2-full", E_LIN, A_LIN, M_F, 1, 0, P_SIN, FIRST, NORM, O_ALL,
	 1, 3, 3, 8, 2, 1, 0, 1, 0},
	{"zero-layers", E_LIN, A_LIN, M_C, 1, 0, P_LRN, EVERY, BITS, O_LAST,
	 1, 3, 3, 8, 0, 0, 3, 4, 2},
	{"wide-heads", E_LIN, A_SM, M_C, 1, 1, P_LRN, FIRST, NORM, O_ALL,
	 4, 10, 10, 40, 2, 2, 1, 7, 0},
	{"three-layers-linear-every", E_MLP, A_LIN, M_C, 0, 1, P_NO, EVERY, BITS,
	 O_ALL, 2, 3, 5, 20, 3, 0, 7, 6, 5},
	{"no-seed", E_LIN, A_LIN, M_C, 0, 0, P_NO, EVERY, BITS, O_LAST,
	 1, 4, 4, 8, 2, 0, 5, 4, 0},
	/* Attention-only models for the fast path (model_lin.h): every
	 * mask and output it takes, recurrent and direct forms, pushed and
	 * unpushed layers, 0 to 3 layers, heads, seed placements,
	 * positional terms, index features, embeddings. */
	{"lin-causal-last-3layers-heads", E_MLP, A_LIN, M_C, 0, 0, P_NO, EVERY,
	 BITS, O_LAST, 2, 3, 4, 12, 3, 0, 6, 7, 3},
	{"lin-full-every-sin-per", E_LIN, A_LIN, M_F, 0, 0, P_SIN, PER, UNIF,
	 O_ALL, 2, 2, 3, 8, 2, 1, 3, 5, 2},
	{"lin-graph-learned-first", E_MLP, A_LIN, M_G, 0, 0, P_LRN, FIRST, NORM,
	 O_LAST, 2, 3, 3, 8, 2, 1, 2, 5, 0},
	{"lin-none-full-direct", E_NONE, A_LIN, M_F, 0, 0, P_NO, EVERY, NORM,
	 O_LAST, 1, 8, 8, 8, 2, 0, 5, 3, 3},
	{"lin-causal-1layer-first-index", E_LIN, A_LIN, M_C, 0, 0, P_LRN, FIRST,
	 BITS, O_LAST, 3, 2, 2, 9, 1, 2, 1, 4, 0},
	{"lin-graph-every-3layers", E_LIN, A_LIN, M_G, 0, 0, P_NO, EVERY, BITS,
	 O_ALL, 1, 4, 6, 8, 3, 0, 4, 6, 2},
	{"lin-zero-layers-mlp-sin", E_MLP, A_LIN, M_C, 0, 0, P_SIN, EVERY, BITS,
	 O_LAST, 1, 3, 3, 8, 0, 0, 3, 4, 2},
	{"lin-graph-L1", E_LIN, A_LIN, M_G, 0, 0, P_NO, EVERY, NORM, O_ALL,
	 1, 4, 4, 8, 1, 0, 3, 1, 1},
	{"lin-full-first-every-mlp", E_MLP, A_LIN, M_F, 0, 0, P_NO, FIRST, UNIF,
	 O_ALL, 2, 4, 2, 10, 2, 0, 4, 3, 0},
	{"lin-none-first-graph", E_NONE, A_LIN, M_G, 0, 0, P_SIN, FIRST, NORM,
	 O_ALL, 2, 2, 2, 8, 2, 1, 5, 4, 0},
	/* heads x value size (24) wider than the model (6): merged maps of
	 * more rows than W */
	{"lin-wide-values", E_LIN, A_LIN, M_C, 0, 0, P_NO, EVERY, BITS, O_LAST,
	 4, 3, 6, 6, 3, 0, 4, 5, 2},
	{"lin-wide-values-graph", E_MLP, A_LIN, M_G, 0, 0, P_NO, PER, UNIF,
	 O_ALL, 3, 2, 8, 6, 2, 0, 3, 4, 1},
};

static int combo_model(const struct combo *c, struct model *m, char *err)
{
	struct config_model cfg = cfg_base();
	struct model_io io;

	memset(&io, 0, sizeof(io));
	io.seq_len = c->Lx;
	io.feat = c->F;
	io.n_index = c->NI;
	io.index_vocab = c->NI ? 5 : 0;
	io.out_dim = 3;
	io.mask = c->mask;
	io.output = c->out;
	cfg.width = (uint32_t)c->width;
	cfg.layers = (uint32_t)c->layers;
	cfg.heads = (uint32_t)c->heads;
	cfg.key_size = (uint32_t)c->K;
	cfg.value_size = (uint32_t)c->Vs;
	cfg.input_embedding = c->embed;
	cfg.attention = c->attn;
	cfg.mlp = c->mlp;
	cfg.mlp_ratio = 2;
	cfg.layernorm = c->ln;
	cfg.positional = c->pos;
	cfg.seed_encoding.kind = c->kind;
	cfg.seed_encoding.dim = (uint32_t)c->R;
	cfg.seed_encoding.placement = c->place;
	cfg.index_dim = 3;
	return model_init(m, &cfg, &io, err);
}

START_TEST(model_fast_matches_ref)
{
	const struct combo *c = &combos[_i];
	const size_t NIN = 3, NS = 5, B = NIN * NS;
	struct model m;
	struct batch_data d;
	struct model_ws *ws;
	char err[RANDES_ERR_LEN];
	float *theta, *fast, *ref;
	size_t n, where;
	double diff;

	ck_assert_msg(combo_model(c, &m, err) == 0, "%s: %s", c->name, err);
	theta = theta_random(&m, (uint32_t)_i);
	batch_make(&m, NIN, NS, (uint32_t)_i, &d);
	n = B * logits_per_seq(&m);
	fast = malloc(n * sizeof(float));
	ref = malloc(n * sizeof(float));
	ws = model_ws_new(&m, 4); /* chunks 4, 4, 4, 3: inputs and seeds cut */
	ck_assert(fast && ref && ws);
	ck_assert_int_eq(model_forward_ref(&m, theta, &d.b, ref), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, fast), 0);
	diff = rel_diff(fast, ref, n, &where);
	ck_assert_msg(diff <= 1e-5,
		      "%s: fast vs reference max rel diff %.3g at logit %zu "
		      "(%.9g vs %.9g)", c->name, diff, where, fast[where],
		      ref[where]);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(isfinite(fast[i]), "%s: logit %zu not finite",
			      c->name, i);
	model_ws_free(ws);
	free(fast);
	free(ref);
	free(theta);
	batch_free(&d);
}
END_TEST

/* --- roll-outs --------------------------------------------------------------- */

/*
 * For every causal combination: a roll-out over the B = NIN * NS sequences
 * of the batch gives, at each step, the full pass's logits at that position
 * bit for bit (the full pass run with chunks of 4), and the first_token
 * seed position matches the reference.
 */
START_TEST(model_rollout_matches_full)
{
	const struct combo *c = &combos[_i];
	const size_t NIN = 3, NS = 5, B = NIN * NS;
	struct model m;
	struct batch_data d;
	struct model_ws *ws_full, *ws_ro;
	char err[RANDES_ERR_LEN];
	float *theta, *full, *all, *step, *feat, *seed;
	int32_t *index;
	size_t Lx, L, O, F, NI, S, skip, where;

	if (c->mask != MODEL_MASK_CAUSAL)
		return;
	ck_assert(combo_model(c, &m, err) == 0);
	m.spec.io.output = MODEL_OUTPUT_EVERY; /* same layout, every position */
	Lx = m.spec.io.seq_len;
	L = m.spec.seq_total;
	O = m.spec.io.out_dim;
	F = m.spec.io.feat;
	NI = m.spec.io.n_index;
	S = m.spec.seed_size;
	skip = L - Lx;
	theta = theta_random(&m, 100 + (uint32_t)_i);
	batch_make(&m, NIN, NS, (uint32_t)_i, &d);
	full = malloc(B * Lx * O * sizeof(float));
	all = malloc(B * L * O * sizeof(float));
	step = malloc(B * O * sizeof(float));
	feat = malloc((B * F + 1) * sizeof(float));
	index = malloc((B * NI + 1) * sizeof(int32_t));
	seed = malloc((B * S + 1) * sizeof(float));
	ws_full = model_ws_new(&m, 4);
	ws_ro = model_ws_new(&m, B + 2);
	ck_assert(full && all && step && feat && index && seed && ws_full &&
		  ws_ro);
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws_full, full), 0);
	ck_assert_int_eq(model_forward_ref_all(&m, theta, &d.b, all), 0);

	for (size_t b = 0; b < B; b++)
		memcpy(seed + b * S, d.seed + (b % NS) * S, S * sizeof(float));
	ck_assert_int_eq(model_rollout_begin(&m, theta, ws_ro, B, seed, step),
			 (int)skip);
	if (skip) {
		float want[64 * 3];
		for (size_t b = 0; b < B; b++)
			memcpy(want + b * O, all + b * L * O, O * sizeof(float));
		ck_assert_msg(rel_diff(step, want, B * O, &where) <= 1e-5,
			      "%s: seed-token logits differ from the reference",
			      c->name);
	}
	for (size_t t = 0; t < Lx; t++) {
		for (size_t b = 0; b < B; b++) {
			size_t i = b / NS;
			memcpy(feat + b * F, d.feat + (i * Lx + t) * F,
			       F * sizeof(float));
			memcpy(index + b * NI, d.index + (i * Lx + t) * NI,
			       NI * sizeof(int32_t));
		}
		ck_assert_int_eq(model_rollout_step(&m, theta, ws_ro, feat,
						    index, step), 0);
		for (size_t b = 0; b < B; b++) {
			ck_assert_msg(!memcmp(step + b * O,
					      full + (b * Lx + t) * O,
					      O * sizeof(float)),
				      "%s: roll-out step %zu, sequence %zu: %.9g "
				      "vs full pass %.9g", c->name, t, b,
				      step[b * O], full[(b * Lx + t) * O]);
		}
	}
	model_ws_free(ws_full);
	model_ws_free(ws_ro);
	free(theta);
	free(full);
	free(all);
	free(step);
	free(feat);
	free(index);
	free(seed);
	batch_free(&d);
}
END_TEST

/* --- batch independence ---------------------------------------------------- */

/*
 * The logits of (input x, seed r) are the same bits whatever else is in the
 * batch and however it is chunked: the ES promises bitwise-identical
 * results for any number of ranks.
 */
START_TEST(model_batch_independent)
{
	static const size_t picks[] = {0, 2, 9, 12};
	const struct combo *c = &combos[_i];
	const size_t NIN = 4, NS = 6, B = NIN * NS;
	const size_t chunks[] = {1, 3, 5, 7, 24, 64};
	struct model m;
	struct batch_data d;
	char err[RANDES_ERR_LEN];
	float *theta, *base, *got;
	size_t per;

	ck_assert(combo_model(c, &m, err) == 0);
	per = logits_per_seq(&m);
	theta = theta_random(&m, 200 + (uint32_t)_i);
	batch_make(&m, NIN, NS, 300 + (uint32_t)_i, &d);
	base = malloc(B * per * sizeof(float));
	got = malloc(B * per * sizeof(float));
	ck_assert(base && got);
	{
		struct model_ws *ws = model_ws_new(&m, 2);
		ck_assert(ws);
		ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, base), 0);
		model_ws_free(ws);
	}
	/* The whole batch under other chunk sizes, and the OpenBLAS table
	 * must at least agree numerically. */
	for (size_t ci = 0; ci < sizeof(chunks) / sizeof(chunks[0]); ci++) {
		struct model_ws *ws = model_ws_new(&m, chunks[ci]);
		ck_assert(ws);
		ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, got), 0);
		ck_assert_msg(!memcmp(base, got, B * per * sizeof(float)),
			      "%s: chunk size %zu changes the logits", c->name,
			      chunks[ci]);
		model_ws_free(ws);
	}
	/* Single (input, seed) batches picked out of the big one. */
	for (size_t k = 0; k < sizeof(picks) / sizeof(picks[0]); k++) {
		size_t bb = picks[k], i = bb / NS, j = bb % NS;
		struct model_batch one = d.b;
		struct model_ws *ws = model_ws_new(&m, 3);
		size_t Lx = m.spec.io.seq_len, L = m.spec.seq_total;

		ck_assert(ws);
		one.n_inputs = 1;
		one.n_seeds = 1;
		if (one.feat)
			one.feat = d.feat + i * Lx * m.spec.io.feat;
		if (one.index)
			one.index = d.index + i * Lx * m.spec.io.n_index;
		if (one.seed)
			one.seed = d.seed + j * m.spec.seed_size;
		if (one.mask)
			one.mask = d.mask + i * L * L;
		ck_assert_int_eq(model_forward(&m, theta, &one, ws, got), 0);
		ck_assert_msg(!memcmp(base + bb * per, got, per * sizeof(float)),
			      "%s: sequence %zu alone differs from in the batch",
			      c->name, bb);
		model_ws_free(ws);
	}
	free(theta);
	free(base);
	free(got);
	batch_free(&d);
}
END_TEST

/*
 * The same at the paper's sizes (AR N = 20: K = 35 and 40, N = 40, 15),
 * where OpenBLAS's sgemm does round rows differently for different M (this
 * test fails with the openblas kernel table).
 */
START_TEST(model_batch_independent_ar)
{
	const size_t NIN = 8, NS = 6, B = NIN * NS;
	const size_t chunks[] = {1, 5, 48};
	struct model m;
	struct batch_data d;
	float *theta, *base, *got;

	model_ar(&m, 20);
	theta = theta_random(&m, 77);
	batch_make(&m, NIN, NS, 77, &d);
	base = malloc(B * 5 * sizeof(float));
	got = malloc(B * 5 * sizeof(float));
	ck_assert(base && got);
	for (size_t ci = 0; ci < 3; ci++) {
		struct model_ws *ws = model_ws_new(&m, chunks[ci]);
		ck_assert(ws);
		ck_assert_int_eq(model_forward(&m, theta, &d.b, ws,
					       ci ? got : base), 0);
		if (ci)
			ck_assert_msg(!memcmp(base, got, B * 5 * sizeof(float)),
				      "AR N=20: chunk size %zu changes the logits",
				      chunks[ci]);
		model_ws_free(ws);
	}
	for (size_t bb = 0; bb < B; bb += 7) {
		struct model_batch one = d.b;
		struct model_ws *ws = model_ws_new(&m, 1);

		ck_assert(ws);
		one.n_inputs = 1;
		one.n_seeds = 1;
		one.feat = d.feat + (bb / NS) * 21 * 25;
		one.seed = d.seed + (bb % NS) * 10;
		ck_assert_int_eq(model_forward(&m, theta, &one, ws, got), 0);
		ck_assert_msg(!memcmp(base + bb * 5, got, 5 * sizeof(float)),
			      "AR N=20: sequence %zu alone differs", bb);
		model_ws_free(ws);
	}
	free(theta);
	free(base);
	free(got);
	batch_free(&d);
}
END_TEST

/* The OpenBLAS kernel table computes the same function (not bitwise). */
START_TEST(model_openblas_table)
{
	const struct combo *c = &combos[_i];
	struct model m;
	struct batch_data d;
	struct model_ws *ws;
	char err[RANDES_ERR_LEN];
	float *theta, *a, *b;
	size_t n, where;

	ck_assert(combo_model(c, &m, err) == 0);
	theta = theta_random(&m, 400 + (uint32_t)_i);
	batch_make(&m, 3, 5, 400 + (uint32_t)_i, &d);
	n = 15 * logits_per_seq(&m);
	a = malloc(n * sizeof(float));
	b = malloc(n * sizeof(float));
	ws = model_ws_new(&m, 4);
	ck_assert(a && b && ws);
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, a), 0);
	model_ws_set_kernels(ws, model_kernels_openblas());
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, b), 0);
	ck_assert_msg(rel_diff(b, a, n, &where) <= 1e-5,
		      "%s: openblas table differs at %zu", c->name, where);
	model_ws_free(ws);
	free(theta);
	free(a);
	free(b);
	batch_free(&d);
}
END_TEST

/* --- an independent implementation -------------------------------------------- */

static void json_floats(struct json_writer *w, const char *key, const float *v,
			size_t n)
{
	json_writer_key(w, key);
	json_writer_array_begin(w);
	for (size_t i = 0; i < n; i++)
		json_writer_double(w, v[i]);
	json_writer_array_end(w);
}

/*
 * docs/model.md's equations, re-implemented in NumPy (the `forward` of
 * tests/safetensors_check.py, printed in the docs), reading theta and the
 * spec from an exported file: for every combination of the table, the
 * logits at every position agree with the C reference to 1e-6 of the
 * batch's largest logit.  Skipped (with a message) without NumPy.
 */
START_TEST(model_numpy_forward)
{
	const char *dir = tu_mkdtemp();
	char script[4200], cmd[16384], err[RANDES_ERR_LEN];
	size_t used;
	FILE *probe;

	snprintf(script, sizeof(script), "%s/tests/safetensors_check.py",
		 RANDES_SOURCE_ROOT);
	probe = popen("/usr/bin/python3 -c 'import numpy' 2>/dev/null && echo y",
		      "r");
	if (!probe || fgetc(probe) != 'y' || access(script, R_OK) != 0) {
		fprintf(stderr, "test-model: SKIPPED the NumPy forward check "
				"(/usr/bin/python3 with numpy or %s missing)\n",
			script);
		if (probe)
			pclose(probe);
		tu_rm_rf(dir);
		return;
	}
	pclose(probe);
	used = (size_t)snprintf(cmd, sizeof(cmd),
				"/usr/bin/python3 '%s' --forward", script);
	for (size_t ci = 0; ci < sizeof(combos) / sizeof(combos[0]); ci++) {
		const struct combo *c = &combos[ci];
		const size_t NIN = 2, NS = 3;
		struct model m;
		struct batch_data d;
		struct json_writer ws, wi;
		char path[4300];
		float *theta, *all;
		size_t L, Lx, O;

		ck_assert(combo_model(c, &m, err) == 0);
		L = m.spec.seq_total;
		Lx = m.spec.io.seq_len;
		O = m.spec.io.out_dim;
		theta = theta_random(&m, 500 + (uint32_t)ci);
		batch_make(&m, NIN, NS, 500 + (uint32_t)ci, &d);
		all = malloc(NIN * NS * L * O * sizeof(float));
		ck_assert(all);
		ck_assert_int_eq(model_forward_ref_all(&m, theta, &d.b, all), 0);
		json_writer_init(&ws);
		model_spec_write_json(&m, &ws);
		json_writer_init(&wi);
		json_writer_object_begin(&wi);
		json_writer_key(&wi, "nin");
		json_writer_uint(&wi, NIN);
		json_writer_key(&wi, "ns");
		json_writer_uint(&wi, NS);
		json_floats(&wi, "feat", d.feat, NIN * Lx * m.spec.io.feat);
		json_writer_key(&wi, "index");
		json_writer_array_begin(&wi);
		for (size_t i = 0; i < NIN * Lx * m.spec.io.n_index; i++)
			json_writer_int(&wi, d.index[i]);
		json_writer_array_end(&wi);
		json_floats(&wi, "seed", d.seed, NS * m.spec.seed_size);
		json_writer_key(&wi, "mask");
		json_writer_array_begin(&wi);
		for (size_t i = 0; i < NIN * L * L; i++)
			json_writer_int(&wi, d.mask[i]);
		json_writer_array_end(&wi);
		json_floats(&wi, "ref", all, NIN * NS * L * O);
		json_writer_object_end(&wi);
		ck_assert(json_writer_status(&ws, err) == 0 &&
			  json_writer_status(&wi, err) == 0);
		{
			const struct safetensors_kv kv[] = {{"model", ws.buf},
							    {"inputs", wi.buf}};
			snprintf(path, sizeof(path), "%s/%s.safetensors", dir,
				 c->name);
			ck_assert_msg(safetensors_write(path, &m.layout, theta, kv,
							2, err) == 0, "%s", err);
		}
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, " '%s'",
					 path);
		ck_assert(used < sizeof(cmd));
		json_writer_free(&ws);
		json_writer_free(&wi);
		free(all);
		free(theta);
		batch_free(&d);
	}
	ck_assert_msg(system(cmd) == 0, "the NumPy forward disagrees (see above)");
	tu_rm_rf(dir);
}
END_TEST

/* --- a forward pass by hand ------------------------------------------------ */

/*
 * W = 2, one layer, one head, K = Vs = 1, no embedding (tokens are the two
 * features), no seed, no norm, no MLP, causal mask, head at every position.
 *   wq = [1, 0]^T  -> q_p = x_p[0]       wk = [0, 1]^T -> k_p = x_p[1]
 *   wv = [1, 1]^T  -> v_p = x_p[0] + x_p[1]
 *   wo = [1, -1]   head.w = [1, 2]^T, head.b = 0.5
 *   x_0 = [1, 2], x_1 = [3, -1]
 * q = (1, 3), k = (2, -1), v = (3, 2).
 * Linear attention:
 *   p = 0: s00 = 1*2 = 2; a_0 = 2*3 = 6; h_0 = [1,2] + 6*[1,-1] = [7, -4];
 *          logit = 7 + 2*(-4) + 0.5 = -0.5
 *   p = 1: s10 = 3*2 = 6, s11 = 3*(-1) = -3; a_1 = 6*3 - 3*2 = 12;
 *          h_1 = [3,-1] + 12*[1,-1] = [15, -13]; logit = 15 - 26 + 0.5 = -10.5
 * Softmax attention (scale 1/sqrt(1)):
 *   p = 0: a_0 = v_0 = 3; h_0 = [4, -1]; logit = 4 - 2 + 0.5 = 2.5
 *   p = 1: weights e^6, e^-3 -> a_1 = (3 e^9 + 2) / (e^9 + 1);
 *          h_1 = [3 + a_1, -1 - a_1]; logit = 1.5 - a_1
 */
START_TEST(model_hand_forward)
{
	struct config_model cfg = cfg_base();
	struct model_io io = {.seq_len = 2, .feat = 2, .out_dim = 1,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_EVERY};
	const float x[4] = {1, 2, 3, -1};
	struct model_batch b = {.n_inputs = 1, .n_seeds = 1, .feat = x};
	struct model m;
	struct model_ws *ws;
	char err[RANDES_ERR_LEN];
	float theta[16], fast[2], ref[2];
	double e9 = exp(9.0), a1 = (3.0 * e9 + 2.0) / (e9 + 1.0);
	const double want[2][2] = {{-0.5, -10.5}, {2.5, 1.5 - a1}};

	cfg.width = 2;
	cfg.layers = 1;
	cfg.key_size = 1;
	cfg.value_size = 1;
	cfg.input_embedding = MODEL_EMBED_NONE;
	cfg.seed_encoding.dim = 0;
	for (int sm = 0; sm < 2; sm++) {
		cfg.attention = sm ? MODEL_ATTENTION_SOFTMAX
				   : MODEL_ATTENTION_LINEAR;
		ck_assert_msg(model_init(&m, &cfg, &io, err) == 0, "%s", err);
		ck_assert_uint_eq(model_n_params(&m), 2 + 2 + 2 + 2 + 2 + 1);
		memset(theta, 0, sizeof(theta));
#define SET(name, ...)                                                      \
	do {                                                                \
		const float v_[] = {__VA_ARGS__};                           \
		const struct params_tensor *t_ =                            \
			params_tensor_find(&m.layout, name);                \
		ck_assert(t_ && t_->count == sizeof(v_) / sizeof(v_[0]));   \
		memcpy(theta + t_->offset, v_, sizeof(v_));                 \
	} while (0)
		SET("blocks.0.attn.wq", 1, 0);
		SET("blocks.0.attn.wk", 0, 1);
		SET("blocks.0.attn.wv", 1, 1);
		SET("blocks.0.attn.wo", 1, -1);
		SET("head.w", 1, 2);
		SET("head.b", 0.5);
#undef SET
		ws = model_ws_new(&m, 1);
		ck_assert(ws);
		ck_assert_int_eq(model_forward(&m, theta, &b, ws, fast), 0);
		ck_assert_int_eq(model_forward_ref(&m, theta, &b, ref), 0);
		for (int p = 0; p < 2; p++) {
			ck_assert_msg(fabs(fast[p] - want[sm][p]) <= 1e-6,
				      "%s p=%d: fast %.9g want %.9g",
				      sm ? "softmax" : "linear", p, fast[p],
				      want[sm][p]);
			ck_assert_msg(fabs(ref[p] - want[sm][p]) <= 1e-6,
				      "%s p=%d: ref %.9g want %.9g",
				      sm ? "softmax" : "linear", p, ref[p],
				      want[sm][p]);
		}
		model_ws_free(ws);
	}
}
END_TEST

/*
 * Embedding, LayerNorm and positional encoding by hand: W = 2, no layers.
 * Token [1] with every_token seed [2] (Din = 2), linear embedding
 * W_e = [[1, 0], [1, 1]] (rows: token, seed), b_e = [0, 1]:
 *   H0 = [1*1 + 2*1, 1*0 + 2*1] + [0, 1] = [3, 3].
 * Sinusoidal position 0 adds [sin 0, cos 0] = [0, 1] -> [3, 4].
 * Final LayerNorm (g = 1, b = 0): mean 3.5, var 0.25 ->
 *   [-0.5, 0.5] / sqrt(0.25 + 1e-5).
 * head.w = [[1], [0]], head.b = 0 -> logit = -0.5 / sqrt(0.25001).
 */
START_TEST(model_hand_embed)
{
	struct config_model cfg = cfg_base();
	struct model_io io = {.seq_len = 1, .feat = 1, .out_dim = 1,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_LAST};
	const float x[1] = {1}, r[1] = {2};
	struct model_batch b = {.n_inputs = 1, .n_seeds = 1, .feat = x,
				.seed = r};
	struct model m;
	struct model_ws *ws;
	char err[RANDES_ERR_LEN];
	float theta[32], fast, ref;
	double want = -0.5 / sqrt(0.25 + 1e-5);

	cfg.width = 2;
	cfg.layers = 0;
	cfg.layernorm = 1;
	cfg.positional = MODEL_POSITIONAL_SINUSOIDAL;
	cfg.seed_encoding.dim = 1;
	ck_assert_msg(model_init(&m, &cfg, &io, err) == 0, "%s", err);
	model_init_theta(&m, 1, theta);
	memcpy(theta + params_tensor_find(&m.layout, "embed.w")->offset,
	       (float[]){1, 0, 1, 1}, 4 * sizeof(float));
	memcpy(theta + params_tensor_find(&m.layout, "embed.b")->offset,
	       (float[]){0, 1}, 2 * sizeof(float));
	memcpy(theta + params_tensor_find(&m.layout, "head.w")->offset,
	       (float[]){1, 0}, 2 * sizeof(float));
	ws = model_ws_new(&m, 1);
	ck_assert(ws);
	ck_assert_int_eq(model_forward(&m, theta, &b, ws, &fast), 0);
	ck_assert_int_eq(model_forward_ref(&m, theta, &b, &ref), 0);
	ck_assert_msg(fabs(fast - want) <= 1e-6, "fast %.9g want %.9g", fast,
		      want);
	ck_assert_msg(fabs(ref - want) <= 1e-6, "ref %.9g want %.9g", ref, want);
	model_ws_free(ws);
}
END_TEST

/* --- counts ----------------------------------------------------------------- */

START_TEST(model_counts_paper)
{
	struct model m;
	static const size_t ns[] = {8, 12, 15, 20};

	for (size_t k = 0; k < 4; k++) {
		model_ar(&m, ns[k]);
		ck_assert_msg(model_n_params(&m) == 40 * ns[k] + 4085,
			      "AR N=%zu: %zu parameters, PAPER.md says %zu",
			      ns[k], model_n_params(&m), 40 * ns[k] + 4085);
		ck_assert_uint_eq(m.spec.din, ns[k] + 15);
	}
	/* MACs(N) = L (40N + 4000) + 20 L^2, L = N + 1: 109,620 at N = 20. */
	model_ar(&m, 20);
	ck_assert_msg(fabs(model_macs_per_sequence(&m) - 109620.0) < 0.5,
		      "AR N=20: %.1f MACs", model_macs_per_sequence(&m));
	model_c10(&m);
	ck_assert_uint_eq(model_n_params(&m), 2291);
	ck_assert_uint_eq(m.spec.din, 11);
	/* 10 (176 + 2*1024 + 48) + 2 * 32 * 100 = 29,120. */
	ck_assert_msg(fabs(model_macs_per_sequence(&m) - 29120.0) < 0.5,
		      "C10: %.1f MACs", model_macs_per_sequence(&m));
	/* Grid [I]: 320 index + 5,280 embedding + 4,080 positional +
	 * 2 * (160 + 12,800 + 160 + 51,600) + 160 final norm + 324 head. */
	model_grid(&m);
	ck_assert_uint_eq(m.spec.seq_total, 51);
	ck_assert_uint_eq(m.spec.din, 65);
	ck_assert_uint_eq(model_n_params(&m), 139604);
}
END_TEST

START_TEST(model_layout_names)
{
	struct model m;
	static const char *const want[] = {
		"embed.w", "embed.b", "embed.w2", "embed.b2",
		"blocks.0.attn.wq", "blocks.0.attn.wk", "blocks.0.attn.wv",
		"blocks.0.attn.wo", "blocks.1.attn.wq", "blocks.1.attn.wk",
		"blocks.1.attn.wv", "blocks.1.attn.wo", "head.w", "head.b",
	};

	model_ar(&m, 20);
	ck_assert_uint_eq(m.layout.n_tensors, 14);
	for (size_t t = 0; t < 14; t++)
		ck_assert_str_eq(m.layout.tensors[t].name, want[t]);
	ck_assert_uint_eq(m.layout.tensors[0].shape[0], 35);
	ck_assert_uint_eq(m.layout.tensors[0].shape[1], 40);
	ck_assert_uint_eq(m.layout.tensors[7].shape[0], 5);  /* wo (H*Vs, W) */
	ck_assert_uint_eq(m.layout.tensors[7].shape[1], 40);

	model_grid(&m);
	ck_assert_str_eq(m.layout.tensors[0].name, "embed.index.0");
	ck_assert_str_eq(m.layout.tensors[1].name, "embed.index.1");
	ck_assert_uint_eq(m.layout.tensors[1].shape[0], 5);
	ck_assert_uint_eq(m.layout.tensors[1].shape[1], 32);
	ck_assert(params_tensor_find(&m.layout, "pos") != NULL);
	ck_assert(params_tensor_find(&m.layout, "blocks.1.ln2.g") != NULL);
	ck_assert(params_tensor_find(&m.layout, "blocks.1.mlp.w2") != NULL);
	ck_assert(params_tensor_find(&m.layout, "ln_f.b") != NULL);
	ck_assert_uint_eq(params_tensor_find(&m.layout, "blocks.0.mlp.w1")->shape[1],
			  320);
}
END_TEST

START_TEST(model_config_errors)
{
	struct config_model cfg = cfg_base();
	struct model_io io = {.seq_len = 4, .feat = 5, .out_dim = 2,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_LAST};
	struct model m;
	char err[RANDES_ERR_LEN];

	cfg.input_embedding = MODEL_EMBED_NONE; /* Din = 5 + 2 = 7 != 8 */
	ck_assert_int_eq(model_init(&m, &cfg, &io, err), RANDES_ECONFIG);
	ck_assert_msg(strstr(err, "model.width") && strstr(err, "7"), "%s", err);
	cfg.width = 7;
	ck_assert_int_eq(model_init(&m, &cfg, &io, err), 0);
	cfg.layers = MODEL_MAX_LAYERS + 1;
	ck_assert_int_eq(model_init(&m, &cfg, &io, err), RANDES_ECONFIG);
	cfg = cfg_base();
	cfg.heads = 0;
	ck_assert_int_eq(model_init(&m, &cfg, &io, err), RANDES_ECONFIG);
	cfg = cfg_base();
	io.n_index = 1;
	io.index_vocab = 0;
	ck_assert_int_eq(model_init(&m, &cfg, &io, err), RANDES_ECONFIG);
}
END_TEST

/* --- initialisation ----------------------------------------------------------- */

START_TEST(model_init_statistics)
{
	struct model m;
	float *theta, *again;
	size_t D;

	model_grid(&m);
	D = model_n_params(&m);
	theta = malloc(D * sizeof(float));
	again = malloc(D * sizeof(float));
	ck_assert(theta && again);
	model_init_theta(&m, 7, theta);
	model_init_theta(&m, 7, again);
	ck_assert(!memcmp(theta, again, D * sizeof(float)));
	model_init_theta(&m, 8, again);
	ck_assert(memcmp(theta, again, D * sizeof(float)));

	for (size_t t = 0; t < m.layout.n_tensors; t++) {
		const struct params_tensor *pt = &m.layout.tensors[t];
		const struct model_init_rule *r = &m.init[t];
		const float *v = theta + pt->offset;
		double sum = 0.0, sq = 0.0, sd, want;

		if (r->kind != MODEL_INIT_TRUNC) {
			float c = r->kind == MODEL_INIT_ONE ? 1.0f : 0.0f;
			for (size_t i = 0; i < pt->count; i++)
				ck_assert_msg(v[i] == c, "%s[%zu] = %g", pt->name,
					      i, v[i]);
			continue;
		}
		for (size_t i = 0; i < pt->count; i++) {
			ck_assert_msg(fabs(v[i]) <= 2.0 * r->stddev * (1 + 1e-6),
				      "%s[%zu] = %g beyond 2 stddev %g", pt->name,
				      i, v[i], r->stddev);
			sum += v[i];
			sq += (double)v[i] * v[i];
		}
		/* A standard normal truncated to [-2, 2] has std 0.8796. */
		sd = sqrt(sq / (double)pt->count);
		want = r->stddev * 0.87962566103423978;
		ck_assert_msg(fabs(sd / want - 1.0) <=
				      5.0 / sqrt(2.0 * (double)pt->count) + 0.005,
			      "%s: std %.5g, theory %.5g (n = %zu)", pt->name,
			      sd, want, pt->count);
		ck_assert_msg(fabs(sum / (double)pt->count) <=
				      5.0 * want / sqrt((double)pt->count),
			      "%s: mean %.3g", pt->name, sum / (double)pt->count);
	}
	/* The rules themselves (PAPER.md 2.3). */
	{
		const double c = 0.87962566103423978;
		const struct {
			const char *name;
			double stddev;
		} rules[] = {
			{"embed.index.0", 1.0},
			{"embed.w", sqrt(1.0 / 65) / c},
			{"pos", 0.02},
			{"blocks.0.attn.wq", sqrt(1.0 / 80) / c},
			{"blocks.1.attn.wv", sqrt(1.0 / 80) / c},
			{"blocks.0.attn.wo", sqrt(1.0 / (2 * 4) / 10) / c},
			{"blocks.0.mlp.w1", sqrt(2.0 / 80) / c},
			{"blocks.1.mlp.w2", sqrt(0.5 / 320) / c},
			{"head.w", sqrt(1.0 / 80) / c},
		};
		for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++) {
			const struct params_tensor *pt =
				params_tensor_find(&m.layout, rules[k].name);
			ck_assert(pt);
			ck_assert_msg(fabs(m.init[pt - m.layout.tensors].stddev -
					   rules[k].stddev) < 1e-12,
				      "%s: stddev %.9g want %.9g", rules[k].name,
				      m.init[pt - m.layout.tensors].stddev,
				      rules[k].stddev);
		}
		model_ar(&m, 20);
		ck_assert(fabs(m.init[2].stddev - 1.0 / sqrt(40.0)) < 1e-12);
		ck_assert(fabs(m.init[0].stddev - sqrt(1.0 / 35) / c) < 1e-12);
		ck_assert(fabs(m.init[7].stddev - sqrt(0.5 / 5) / c) < 1e-12);
		model_c10(&m);
		ck_assert(fabs(m.init[0].stddev - sqrt(0.1 / 11) / c) < 1e-12);
	}
	free(theta);
	free(again);
}
END_TEST

START_TEST(model_seed_kinds)
{
	struct model m;
	struct rng_stream st;
	float seed[10];
	double sum[3] = {0}, sq[3] = {0};
	const int n = 4000;

	model_ar(&m, 20);
	ck_assert_uint_eq(m.spec.seed_size, 10);
	rng_stream_init(&st, 3, RNG_PURPOSE_TEST, 0, 0);
	for (int r = 0; r < n; r++) {
		model_seed_sample(&m, &st, seed);
		for (int i = 0; i < 10; i++) {
			ck_assert(seed[i] == 0.0f || seed[i] == 1.0f);
			sum[0] += seed[i];
		}
	}
	model_c10(&m);
	ck_assert_uint_eq(m.spec.seed_size, 10); /* Lx * 1 */
	for (int r = 0; r < n; r++) {
		model_seed_sample(&m, &st, seed);
		for (int i = 0; i < 10; i++) {
			ck_assert(seed[i] >= 0.0f && seed[i] < 1.0f);
			sum[1] += seed[i];
		}
	}
	model_grid(&m);
	ck_assert_uint_eq(m.spec.seed_size, 65);
	for (int r = 0; r < n / 6; r++) {
		float g[65];
		model_seed_sample(&m, &st, g);
		for (int i = 0; i < 65; i++) {
			sum[2] += g[i];
			sq[2] += (double)g[i] * g[i];
		}
	}
	ck_assert(fabs(sum[0] / (10.0 * n) - 0.5) < 0.02);
	ck_assert(fabs(sum[1] / (10.0 * n) - 0.5) < 0.02);
	ck_assert(fabs(sum[2] / (65.0 * (n / 6))) < 0.03);
	ck_assert(fabs(sq[2] / (65.0 * (n / 6)) - 1.0) < 0.05);
}
END_TEST

START_TEST(model_spec_json)
{
	struct model m;
	struct json_writer w;
	struct json_doc *doc;
	char err[RANDES_ERR_LEN];
	const struct json_value *r;
	uint64_t u;

	model_grid(&m);
	json_writer_init(&w);
	model_spec_write_json(&m, &w);
	ck_assert_int_eq(json_writer_status(&w, err), 0);
	ck_assert_msg(json_parse(w.buf, w.len, &doc, err) == 0, "%s", err);
	r = json_doc_root(doc);
	ck_assert_str_eq(json_object_get(r, "attention")->str, "softmax");
	ck_assert_str_eq(json_object_get(json_object_get(r, "seed_encoding"),
					 "placement")->str, "first_token");
	ck_assert_str_eq(json_object_get(json_object_get(r, "io"), "mask")->str,
			 "causal");
	ck_assert_int_eq(json_number_u64(json_object_get(r, "n_params"), &u), 0);
	ck_assert(u == 139604);
	ck_assert_int_eq(json_number_u64(json_object_get(r, "mlp_hidden"), &u), 0);
	ck_assert(u == 320);
	ck_assert(json_object_get(r, "layernorm")->boolean);
	json_doc_free(doc);
	json_writer_free(&w);
}
END_TEST

/* Memory stays bounded for the AR batch of the perf goal (15,360
 * sequences of length 21 at width 40) by chunking. */
START_TEST(model_ws_bounded)
{
	struct model m;
	size_t bytes;

	model_ar(&m, 20);
	bytes = model_ws_bytes(&m, 1024);
	ck_assert_msg(bytes < 200u << 20, "%zu bytes", bytes);
	ck_assert(model_ws_bytes(&m, 2048) > bytes);
}
END_TEST

/* Misuse is a programming error: it aborts rather than compute garbage. */
START_TEST(model_abort_rollout_not_causal)
{
	struct model m;
	struct model_ws *ws;
	float seed[10], logits[30];

	model_c10(&m); /* graph mask */
	ws = model_ws_new(&m, 4);
	memset(seed, 0, sizeof(seed));
	model_rollout_begin(&m, NULL, ws, 1, seed, logits); /* aborts */
}
END_TEST

START_TEST(model_abort_ws_mismatch)
{
	struct model a, b;
	struct model_ws *ws;
	struct batch_data d;
	float *theta, logits[64];

	model_ar(&a, 8);
	model_ar(&b, 12);
	ws = model_ws_new(&a, 4);
	theta = theta_random(&b, 1);
	batch_make(&b, 1, 1, 1, &d);
	model_forward(&b, theta, &d.b, ws, logits); /* aborts */
}
END_TEST

START_TEST(model_abort_bad_index)
{
	struct model m;
	struct model_ws *ws;
	struct batch_data d;
	float *theta, logits[8];

	model_grid(&m);
	ws = model_ws_new(&m, 1);
	theta = theta_random(&m, 1);
	batch_make(&m, 1, 1, 1, &d);
	d.index[7] = 5; /* V = 5: out of range */
	model_forward(&m, theta, &d.b, ws, logits); /* aborts */
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model:gemm");
	int ncombo = (int)(sizeof(combos) / sizeof(combos[0]));

	tcase_add_loop_test(tc, model_gemm_order, 0,
			    sizeof(gemm_shapes) / sizeof(gemm_shapes[0]));
	tcase_add_test(tc, model_gemm_rows_independent);
	tcase_add_test(tc, model_gelu_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("model:equivalence");
	tcase_add_loop_test(tc, model_fast_matches_ref, 0, ncombo);
	tcase_add_loop_test(tc, model_openblas_table, 0, ncombo);
	tcase_add_test(tc, model_hand_forward);
	tcase_add_test(tc, model_hand_embed);
	tcase_add_test(tc, model_numpy_forward);
	suite_add_tcase(s, tc);

	tc = tcase_create("model:determinism");
	tcase_add_loop_test(tc, model_rollout_matches_full, 0, ncombo);
	tcase_add_loop_test(tc, model_batch_independent, 0, ncombo);
	tcase_add_test(tc, model_batch_independent_ar);
	suite_add_tcase(s, tc);

	tc = tcase_create("model:layout");
	tcase_add_test(tc, model_counts_paper);
	tcase_add_test(tc, model_layout_names);
	tcase_add_test(tc, model_config_errors);
	tcase_add_test(tc, model_init_statistics);
	tcase_add_test(tc, model_seed_kinds);
	tcase_add_test(tc, model_ws_bounded);
	tcase_add_test(tc, model_spec_json);
	/* Aborting tests need a fork per test (not under CK_FORK=no). */
	if (!getenv("CK_FORK") || strcmp(getenv("CK_FORK"), "no")) {
		tcase_add_test_raise_signal(tc, model_abort_rollout_not_causal,
					    SIGABRT);
		tcase_add_test_raise_signal(tc, model_abort_ws_mismatch, SIGABRT);
		tcase_add_test_raise_signal(tc, model_abort_bad_index, SIGABRT);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(model_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
