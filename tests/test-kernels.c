/*
 * test-kernels: the kernels of the attention-only fast path (model_lin.h)
 * against naive re-implementations of their documented operation order
 * (bit for bit, on every instruction set this CPU has), and the fast path
 * as a whole against the reference forward (model_forward_ref) at the
 * paper's sizes: recall N = 20 and C10 colouring, with lane blocks cut
 * mid-way (37 seeds), one seed, planned and unplanned batches, and every
 * workspace chunking giving the same bits; vmath's and es_vec's loops
 * (the ES update) the same way against plain loops.  No timing here.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/blas.h"
#include "common/err.h"
#include "common/es_vec.h"
#include "common/model.h"
#include "common/model_lin.h"
#include "common/rng.h"
#include "common/vmath.h"
#include "testutil.h"

/* --- helpers --------------------------------------------------------------- */

static void *xalloc(size_t n)
{
	void *p = aligned_alloc(64, (n + 63) / 64 * 64);
	ck_assert(p);
	memset(p, 0, (n + 63) / 64 * 64);
	return p;
}

/* Uniform in [-a, a). */
static void fill(float *x, size_t n, float a, uint32_t salt)
{
	struct rng_stream s;

	rng_stream_init(&s, 11, RNG_PURPOSE_TEST, salt, 7);
	for (size_t i = 0; i < n; i++)
		x[i] = a * (2.0f * rng_uniform(&s) - 1.0f);
}

/* The instruction sets of this CPU, generic first. */
static int isas(enum blas_isa *out)
{
	enum blas_isa saved = blas_isa_get();
	int n = 0;

	for (int i = BLAS_ISA_GENERIC; i <= BLAS_ISA_AVX512; i++)
		if (blas_isa_set((enum blas_isa)i) == 0)
			out[n++] = (enum blas_isa)i;
	blas_isa_set(saved);
	return n;
}

/* The relative difference of test-model: against max(|b|, 0.1 max|b|). */
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
	c.mlp_ratio = 4;
	c.positional = MODEL_POSITIONAL_NONE;
	c.seed_encoding.kind = RSE_KIND_BITS;
	c.seed_encoding.dim = 2;
	c.seed_encoding.placement = RSE_PLACEMENT_EVERY_TOKEN;
	c.index_dim = 3;
	c.embedding_init_var = 1.0;
	c.weight_init_var = 1.0;
	return c;
}

/* PAPER.md 2.2 with the recall task's io. */
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

/* Small attention-only models that reach every branch of the kernels. */
struct shape {
	const char *name;
	enum model_embed embed;
	enum model_mask mask;
	enum model_positional pos;
	enum rse_placement place;
	enum model_output out;
	size_t heads, K, Vs, width, layers, F, Lx, R, O;
};

static const struct shape shapes[] = {
	/* recurrent causal layers (2, 3 of them), last-only direct */
	{"causal-last", MODEL_EMBED_MLP, MODEL_MASK_CAUSAL,
	 MODEL_POSITIONAL_NONE, RSE_PLACEMENT_EVERY_TOKEN, MODEL_OUTPUT_LAST,
	 1, 3, 3, 12, 2, 7, 9, 3, 5},
	{"causal-last-3-heads", MODEL_EMBED_LINEAR, MODEL_MASK_CAUSAL,
	 MODEL_POSITIONAL_SINUSOIDAL, RSE_PLACEMENT_EVERY_TOKEN,
	 MODEL_OUTPUT_LAST, 2, 2, 3, 10, 3, 4, 11, 2, 2},
	/* causal, direct everywhere (K Vs large against L) */
	{"causal-last-direct", MODEL_EMBED_LINEAR, MODEL_MASK_CAUSAL,
	 MODEL_POSITIONAL_NONE, RSE_PLACEMENT_EVERY_TOKEN, MODEL_OUTPUT_LAST,
	 1, 9, 9, 9, 2, 3, 3, 2, 3},
	/* full mask: recurrent (global state) and direct, every and last */
	{"full-every-recurrent", MODEL_EMBED_LINEAR, MODEL_MASK_FULL,
	 MODEL_POSITIONAL_LEARNED, RSE_PLACEMENT_PER_TOKEN, MODEL_OUTPUT_EVERY,
	 2, 2, 2, 8, 2, 3, 9, 1, 3},
	{"full-last-direct", MODEL_EMBED_MLP, MODEL_MASK_FULL,
	 MODEL_POSITIONAL_NONE, RSE_PLACEMENT_FIRST_TOKEN, MODEL_OUTPUT_LAST,
	 1, 7, 6, 8, 2, 5, 3, 0, 4},
	/* graph: pushed first layer, unpushed middle layer, multi-head */
	{"graph-every-3", MODEL_EMBED_LINEAR, MODEL_MASK_GRAPH,
	 MODEL_POSITIONAL_NONE, RSE_PLACEMENT_PER_TOKEN, MODEL_OUTPUT_EVERY,
	 2, 3, 4, 8, 3, 6, 6, 1, 3},
	{"graph-last-1", MODEL_EMBED_LINEAR, MODEL_MASK_GRAPH,
	 MODEL_POSITIONAL_NONE, RSE_PLACEMENT_EVERY_TOKEN, MODEL_OUTPUT_LAST,
	 3, 2, 5, 8, 1, 6, 5, 2, 3},
	{"zero-layers", MODEL_EMBED_LINEAR, MODEL_MASK_CAUSAL,
	 MODEL_POSITIONAL_NONE, RSE_PLACEMENT_EVERY_TOKEN, MODEL_OUTPUT_LAST,
	 1, 2, 2, 8, 0, 3, 4, 2, 3},
};

static void shape_model(const struct shape *sh, struct model *m)
{
	struct config_model c = cfg_base();
	struct model_io io;
	char err[RANDES_ERR_LEN];

	memset(&io, 0, sizeof(io));
	io.seq_len = sh->Lx;
	io.feat = sh->F;
	io.out_dim = sh->O;
	io.mask = sh->mask;
	io.output = sh->out;
	c.width = (uint32_t)sh->width;
	c.layers = (uint32_t)sh->layers;
	c.heads = (uint32_t)sh->heads;
	c.key_size = (uint32_t)sh->K;
	c.value_size = (uint32_t)sh->Vs;
	c.input_embedding = sh->embed;
	c.positional = sh->pos;
	c.seed_encoding.kind = RSE_KIND_NORMAL;
	c.seed_encoding.dim = (uint32_t)sh->R;
	c.seed_encoding.placement = sh->place;
	ck_assert_msg(model_init(m, &c, &io, err) == 0, "%s: %s", sh->name,
		      err);
}

/* --- the SoA GEMM -------------------------------------------------------------- */

static const size_t gemm_shapes[][2] = {
	{0, 1}, {1, 1}, {1, 17}, {3, 7}, {40, 35}, {40, 25}, {40, 40},
	{16, 108}, {11, 9}, {17, 33}, {5, 8}, {7, 16},
};

/* The order lin_soa_gemm documents, one lane at a time. */
static void soa_gemm_naive(size_t K, size_t N, const float *in,
			   const float *w, size_t ldw, const float *bias,
			   float *out)
{
	for (size_t n = 0; n < N; n++)
		for (size_t l = 0; l < 16; l++) {
			float s = 0.0f;
			for (size_t k = 0; k < K; k++)
				s = s + in[k * 16 + l] * w[k * ldw + n];
			out[n * 16 + l] = bias ? s + bias[n] : s;
		}
}

START_TEST(kernels_soa_gemm)
{
	const size_t K = gemm_shapes[_i][0], N = gemm_shapes[_i][1];
	const size_t ldw = N + 3;
	enum blas_isa list[3], saved = blas_isa_get();
	int n = isas(list);
	float *in = xalloc((K + 1) * 16 * sizeof(float));
	float *w = xalloc((K + 1) * ldw * sizeof(float));
	float *bias = xalloc(N * sizeof(float));
	float *want = xalloc(N * 16 * sizeof(float));
	float *got = xalloc(N * 16 * sizeof(float));

	fill(in, K * 16, 2.0f, 1 + (uint32_t)_i);
	fill(w, K * ldw, 1.0f, 100 + (uint32_t)_i);
	fill(bias, N, 1.0f, 200 + (uint32_t)_i);
	for (int with_bias = 0; with_bias < 2; with_bias++) {
		const float *bb = with_bias ? bias : NULL;

		soa_gemm_naive(K, N, in, w, ldw, bb, want);
		for (int k = 0; k < n; k++) {
			ck_assert_int_eq(blas_isa_set(list[k]), 0);
			memset(got, 0xff, N * 16 * sizeof(float));
			lin_soa_gemm(K, N, in, w, ldw, bb, got);
			ck_assert_msg(!memcmp(got, want, N * 16 * sizeof(float)),
				      "soa_gemm K %zu N %zu bias %d: %s differs "
				      "from the naive loop", K, N, with_bias,
				      blas_isa_name(list[k]));
		}
	}
	blas_isa_set(saved);
	free(in);
	free(w);
	free(bias);
	free(want);
	free(got);
}
END_TEST

/* --- the sequence kernel ------------------------------------------------------ */

/*
 * The operations lin_seq documents, written out for one lane in plain
 * float: rows (L, TW, 16), lane l; out (L, TW) receives the columns the
 * kernel writes to xs.
 */
static void seq_naive(const struct lin_spec *ls, const float *const *mrest,
		      const uint8_t *mask, const float *const *rows,
		      size_t lane, float *X)
{
	const size_t L = ls->L, H = ls->H, K = ls->K, Vs = ls->Vs;
	const size_t TW = ls->tw, HK = H * K;
	float *S = calloc(H * K * (ls->max_rw + Vs + 1), sizeof(float));
	float *y = calloc(H * Vs + ls->max_rw + 1, sizeof(float));
	float *sc = calloc(H * L + 1, sizeof(float));

	ck_assert(S && y && sc);
	for (size_t l = 0; l < ls->NL; l++) {
		const struct lin_layer *ly = &ls->layer[l];
		const size_t vw = ly->vw, kc = ly->off, vc = kc + HK;
		const size_t qc = vc + H * vw;
#define SRC(p, c) (l == 0 ? rows[p][(size_t)(c) * 16 + lane] : X[(p) * TW + (c)])

		for (size_t p = ly->last_only ? L - 1 : 0; p < L; p++) {
			size_t ncols = ls->last && p + 1 < L ? ly->rw_short
							      : ly->rw;
			size_t keys[LIN_MAX_L], nk = 0;

			if (ly->recurrent) {
				/* the state over the keys of p, in order */
				size_t q1 = ls->mask == MODEL_MASK_FULL ? L : p + 1;
				memset(S, 0, H * K * vw * sizeof(float));
				for (size_t q = 0; q < q1; q++)
					for (size_t h = 0; h < H; h++)
						for (size_t e = 0; e < K; e++)
							for (size_t c = 0; c < vw; c++)
								S[(h * K + e) * vw + c] =
									S[(h * K + e) * vw + c] +
									SRC(q, kc + h * K + e) *
										SRC(q, vc + h * vw + c);
				if (ly->pushed) {
					for (size_t c = 0; c < ncols; c++) {
						float a = 0.0f;
						for (size_t h = 0; h < H; h++)
							for (size_t e = 0; e < K; e++)
								a = a + SRC(p, qc + h * K + e) *
										S[(h * K + e) * vw + c];
						X[p * TW + ly->down + c] =
							SRC(p, ly->down + c) + a;
					}
					continue;
				}
				for (size_t h = 0; h < H; h++)
					for (size_t c = 0; c < Vs; c++) {
						float a = 0.0f;
						for (size_t e = 0; e < K; e++)
							a = a + SRC(p, qc + h * K + e) *
									S[(h * K + e) * vw + c];
						y[h * Vs + c] = a;
					}
			} else {
				for (size_t q = 0; q < L; q++)
					if (ls->mask == MODEL_MASK_FULL ||
					    (ls->mask == MODEL_MASK_CAUSAL && q <= p) ||
					    (ls->mask == MODEL_MASK_GRAPH &&
					     mask[p * L + q]))
						keys[nk++] = q;
				for (size_t h = 0; h < H; h++)
					for (size_t k = 0; k < nk; k++) {
						float s = 0.0f;
						for (size_t d = 0; d < K; d++)
							s = s + SRC(p, qc + h * K + d) *
									SRC(keys[k], kc + h * K + d);
						sc[h * L + k] = s;
					}
				if (ly->pushed) {
					for (size_t c = 0; c < ncols; c++) {
						float a = 0.0f;
						for (size_t h = 0; h < H; h++)
							for (size_t k = 0; k < nk; k++)
								a = a + sc[h * L + k] *
										SRC(keys[k], vc + h * vw + c);
						X[p * TW + ly->down + c] =
							SRC(p, ly->down + c) + a;
					}
					continue;
				}
				for (size_t h = 0; h < H; h++)
					for (size_t c = 0; c < Vs; c++) {
						float a = 0.0f;
						for (size_t k = 0; k < nk; k++)
							a = a + sc[h * L + k] *
									SRC(keys[k], vc + h * Vs + c);
						y[h * Vs + c] = a;
					}
			}
			/* unpushed: through the merged matrix */
			for (size_t c = 0; c < ncols; c++) {
				float t = 0.0f;
				for (size_t r = 0; r < H * Vs; r++)
					t = t + y[r] * mrest[l][r * ly->rw + c];
				X[p * TW + ly->down + c] = SRC(p, ly->down + c) + t;
			}
		}
#undef SRC
	}
	free(S);
	free(y);
	free(sc);
}

/*
 * The first-layer table's kernels against the naive loop: lin_first_row at
 * every query (keys from the mask: none, two or three) = the naive first
 * layer's output columns; lin_seq_from(1) on those rows = the naive
 * model's columns downstream of the second layer.  Every ISA, bitwise.
 */
static void first_table_check(const struct lin_spec *ls, const char *name,
			      const float *const *mr, const uint8_t *mask,
			      const float *const *rows,
			      const enum blas_isa *list, int n,
			      float *scratch, float *xs)
{
	const size_t L = ls->L, TW = ls->tw, RW = ls->layer[0].rw;
	const size_t c0 = ls->layer[0].down, d1 = ls->layer[1].down;
	struct lin_spec one = *ls;
	float *want1 = xalloc(L * TW * 16 * sizeof(float));
	float *want = xalloc(L * TW * 16 * sizeof(float));
	float *first = xalloc(L * RW * 16 * sizeof(float));
	const float *frows[LIN_MAX_L], *src[LIN_MAX_L + 1];

	one.NL = 1; /* the naive loop stopped after the first layer */
	for (size_t lane = 0; lane < 16; lane++) {
		float *X = calloc(L * TW, sizeof(float));
		float *X1 = calloc(L * TW, sizeof(float));
		ck_assert(X && X1);
		seq_naive(ls, mr, mask, rows, lane, X);
		seq_naive(&one, mr, mask, rows, lane, X1);
		for (size_t i = 0; i < L * TW; i++) {
			want[i * 16 + lane] = X[i];
			want1[i * 16 + lane] = X1[i];
		}
		free(X);
		free(X1);
	}
	for (int k = 0; k < n; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		memset(first, 0xff, L * RW * 16 * sizeof(float));
		for (size_t p = 0; p < L; p++) {
			size_t nk = 0;

			src[0] = rows[p];
			for (size_t q = 0; q < L; q++)
				if (mask[p * L + q])
					src[1 + nk++] = rows[q];
			lin_first_row(ls, src, nk, first + p * RW * 16, scratch);
			ck_assert_msg(!memcmp(first + p * RW * 16,
					      want1 + (p * TW + c0) * 16,
					      RW * 16 * sizeof(float)),
				      "%s: %s: first_row at %zu (%zu keys) "
				      "differs from the naive first layer", name,
				      blas_isa_name(list[k]), p, nk);
			frows[p] = first + p * RW * 16;
		}
		memset(xs, 0, L * TW * 16 * sizeof(float));
		lin_seq_from(ls, 1, mr, mask, frows, xs, scratch);
		for (size_t p = 0; p < L; p++)
			ck_assert_msg(!memcmp(xs + (p * TW + d1) * 16,
					      want + (p * TW + d1) * 16,
					      (TW - d1) * 16 * sizeof(float)),
				      "%s: %s: seq_from(1) at %zu differs from "
				      "the naive loop", name,
				      blas_isa_name(list[k]), p);
	}
	free(want1);
	free(want);
	free(first);
}

/* Shapes for the kernel: the table's, the paper models first. */
static void seq_model(int i, struct model *m, const char **name)
{
	if (i == 0) {
		model_ar(m, 20);
		*name = "AR N=20";
	} else if (i == 1) {
		model_c10(m);
		*name = "C10";
	} else {
		shape_model(&shapes[i - 2], m);
		*name = shapes[i - 2].name;
	}
}

#define N_SEQ_MODELS (2 + (int)(sizeof(shapes) / sizeof(shapes[0])))

START_TEST(kernels_seq)
{
	struct model m;
	struct lin_spec ls;
	const char *name;
	enum blas_isa list[3], saved = blas_isa_get();
	int n;
	const float *rows[LIN_MAX_L];
	const float *mr[MODEL_MAX_LAYERS];
	float *mrest[MODEL_MAX_LAYERS];
	float *table, *xs, *scratch, *want;
	uint8_t *mask;
	size_t L, TW;

	seq_model(_i, &m, &name);
	ck_assert_msg(lin_spec_init(&m, &ls), "%s: not eligible", name);
	n = isas(list);
	L = ls.L;
	TW = ls.tw;
	/* L rows, positions sharing some rows as classes do */
	table = xalloc(L * TW * 16 * sizeof(float));
	fill(table, L * TW * 16, 1.0f, 300 + (uint32_t)_i);
	for (size_t p = 0; p < L; p++)
		rows[p] = table + ((p * 7) % L) * TW * 16;
	for (size_t l = 0; l < ls.NL; l++) {
		mrest[l] = NULL;
		if (!ls.layer[l].pushed) {
			size_t k = ls.H * ls.Vs * ls.layer[l].rw;
			mrest[l] = xalloc(k * sizeof(float));
			fill(mrest[l], k, 0.5f, 400 + (uint32_t)(_i * 16 + l));
		}
		mr[l] = mrest[l];
	}
	mask = xalloc(L * L);
	for (size_t p = 0; p < L; p++) {
		/* a cycle plus a chord; position 0 with no key at all */
		if (p == 0)
			continue;
		mask[p * L + (p + 1) % L] = 1;
		mask[p * L + (p + L - 1) % L] = 1;
		mask[p * L + (p * 3) % L] = 1;
	}
	xs = xalloc(L * TW * 16 * sizeof(float));
	scratch = xalloc(lin_seq_scratch(&ls) * sizeof(float) + 64);
	want = xalloc(L * TW * 16 * sizeof(float));
	for (size_t lane = 0; lane < 16; lane++) {
		float *X = calloc(L * TW, sizeof(float));
		ck_assert(X);
		seq_naive(&ls, mr, ls.mask == MODEL_MASK_GRAPH ? mask : NULL,
			  rows, lane, X);
		for (size_t i = 0; i < L * TW; i++)
			want[i * 16 + lane] = X[i];
		free(X);
	}
	for (int k = 0; k < n; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		memset(xs, 0, L * TW * 16 * sizeof(float));
		lin_seq(&ls, mr, ls.mask == MODEL_MASK_GRAPH ? mask : NULL, rows,
			xs, scratch);
		/* compare what the kernel defines: the columns downstream of
		 * the first layer, where and as far as they are formed */
		for (size_t p = 0; p < L && ls.NL; p++) {
			size_t c0 = ls.layer[0].down;
			size_t c1 = ls.last && p + 1 < L
					    ? c0 + ls.layer[0].rw_short : TW;
			if (ls.layer[0].last_only && p + 1 < L)
				continue;
			ck_assert_msg(!memcmp(xs + (p * TW + c0) * 16,
					      want + (p * TW + c0) * 16,
					      (c1 - c0) * 16 * sizeof(float)),
				      "%s: %s: position %zu differs from the "
				      "naive loop", name, blas_isa_name(list[k]),
				      p);
		}
	}
	if (lin_first_table_ok(&ls))
		first_table_check(&ls, name, mr, mask, rows, list, n, scratch,
				  xs);
	blas_isa_set(saved);
	for (size_t l = 0; l < ls.NL; l++)
		free(mrest[l]);
	free(table);
	free(mask);
	free(xs);
	free(scratch);
	free(want);
}
END_TEST

/* --- the fast path at the paper's sizes ------------------------------------------ */

struct batch {
	struct model_batch b;
	float *feat, *seed;
	uint8_t *mask;
};

/* Recall inputs as the task makes them: one-hot keys, value bits, the
 * query token's key; seeds of 10 bits. */
static void batch_ar(const struct model *m, size_t nin, size_t ns,
		     uint32_t salt, struct batch *d)
{
	const size_t N = m->spec.io.seq_len - 1, F = m->spec.io.feat;
	struct rng_stream st;

	memset(d, 0, sizeof(*d));
	rng_stream_init(&st, 3, RNG_PURPOSE_TEST, salt, 1);
	d->feat = calloc(nin * (N + 1) * F, sizeof(float));
	d->seed = calloc(ns * m->spec.seed_size + 1, sizeof(float));
	ck_assert(d->feat && d->seed);
	for (size_t i = 0; i < nin; i++) {
		float *x = d->feat + i * (N + 1) * F;
		for (size_t t = 0; t < N; t++) {
			x[t * F + t] = 1.0f;
			for (size_t v = 0; v < 5; v++)
				x[t * F + N + v] = rng_bit(&st);
		}
		x[N * F + rng_below(&st, (uint32_t)N)] = 1.0f;
	}
	for (size_t j = 0; j < ns; j++)
		model_seed_sample(m, &st, d->seed + j * m->spec.seed_size);
	d->b = (struct model_batch){.n_inputs = nin, .n_seeds = ns,
				    .feat = d->feat, .seed = d->seed};
}

/* C10 inputs: one-hot vertex ids, a relabelled cycle as the mask. */
static void batch_c10(const struct model *m, size_t nin, size_t ns,
		      uint32_t salt, struct batch *d)
{
	struct rng_stream st;

	memset(d, 0, sizeof(*d));
	rng_stream_init(&st, 4, RNG_PURPOSE_TEST, salt, 1);
	d->feat = calloc(nin * 100, sizeof(float));
	d->mask = calloc(nin * 100, 1);
	d->seed = calloc(ns * m->spec.seed_size + 1, sizeof(float));
	ck_assert(d->feat && d->mask && d->seed);
	for (size_t i = 0; i < nin; i++) {
		uint32_t perm[10];
		for (uint32_t v = 0; v < 10; v++) {
			d->feat[(i * 10 + v) * 10 + v] = 1.0f;
			perm[v] = v;
		}
		rng_shuffle_u32(&st, perm, 10);
		for (size_t k = 0; k < 10; k++) {
			uint32_t a = perm[k], b = perm[(k + 1) % 10];
			d->mask[i * 100 + a * 10 + b] = 1;
			d->mask[i * 100 + b * 10 + a] = 1;
		}
	}
	for (size_t j = 0; j < ns; j++)
		model_seed_sample(m, &st, d->seed + j * m->spec.seed_size);
	d->b = (struct model_batch){.n_inputs = nin, .n_seeds = ns,
				    .feat = d->feat, .seed = d->seed,
				    .mask = d->mask};
}

static void batch_free(struct batch *d)
{
	free(d->feat);
	free(d->seed);
	free(d->mask);
}

/* theta from the initialiser plus N(0, 0.1^2) noise everywhere. */
static float *theta_random(const struct model *m, uint32_t salt)
{
	size_t D = model_n_params(m);
	float *theta = malloc(D * sizeof(float));
	struct rng_stream st;

	ck_assert(theta);
	model_init_theta(m, 500 + salt, theta);
	rng_stream_init(&st, 6, RNG_PURPOSE_TEST, salt, 2);
	for (size_t i = 0; i < D; i++)
		theta[i] += 0.1f * rng_normal(&st);
	return theta;
}

static size_t per_seq(const struct model *m)
{
	return (m->spec.io.output == MODEL_OUTPUT_LAST ? 1 : m->spec.io.seq_len) *
	       m->spec.io.out_dim;
}

/* Cases: model (0 AR N=20, 1 C10) x seeds (37: three lane blocks, the
 * last one cut; 1; 16: exactly one block). */
static const size_t paper_cases[][2] = {
	{0, 37}, {0, 1}, {0, 16}, {1, 37}, {1, 10}, {1, 1},
};

/*
 * Fast path = reference to 1e-5; planned = unplanned = any workspace size
 * = every instruction set, bit for bit; a sequence alone = in the batch.
 */
START_TEST(kernels_paper_fast_vs_ref)
{
	const size_t which = paper_cases[_i][0], NS = paper_cases[_i][1];
	const size_t NIN = which == 0 ? 9 : 7;
	static const size_t ws_sizes[] = {1, 5, 64, 1000};
	enum blas_isa list[3], saved = blas_isa_get();
	int nisa = isas(list);
	struct model m;
	struct batch d;
	struct model_ws *ws;
	float *theta, *ref, *base, *got;
	size_t n, where, per;
	double diff;

	if (which == 0)
		model_ar(&m, 20);
	else
		model_c10(&m);
	per = per_seq(&m);
	theta = theta_random(&m, (uint32_t)_i);
	if (which == 0)
		batch_ar(&m, NIN, NS, (uint32_t)_i, &d);
	else
		batch_c10(&m, NIN, NS, (uint32_t)_i, &d);
	n = NIN * NS * per;
	ref = malloc(n * sizeof(float));
	base = malloc(n * sizeof(float));
	got = malloc(n * sizeof(float));
	ck_assert(ref && base && got);
	ck_assert_int_eq(model_forward_ref(&m, theta, &d.b, ref), 0);

	ws = model_ws_new(&m, MODEL_WS_CHUNK_SEQS);
	ck_assert(ws);
	ck_assert(model_ws_fast_path(ws));
	ck_assert_int_eq(model_ws_plan(ws, &m, &d.b), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, base), 0);
	diff = rel_diff(base, ref, n, &where);
	ck_assert_msg(diff <= 1e-5, "%s NS %zu: fast vs reference %.3g at %zu "
		      "(%.9g vs %.9g)", which ? "C10" : "AR", NS, diff, where,
		      base[where], ref[where]);
	fprintf(stderr, "kernels: %s, %zu seeds: fast vs reference %.2g\n",
		which ? "C10" : "AR N=20", NS, diff);

	/* the plan does not change a bit, nor the chunking, nor the ISA,
	 * nor the first-layer table (C10) */
	ck_assert(which == 0 ? model_ws_plan_tuples(ws) == 0
			     : model_ws_plan_tuples(ws) > 0);
	for (int k = 0; k < nisa; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, got), 0);
		ck_assert_msg(!memcmp(got, base, n * sizeof(float)),
			      "planned, %s differs", blas_isa_name(list[k]));
		model_ws_set_first_table(ws, 0);
		memset(got, 0xff, n * sizeof(float));
		ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, got), 0);
		model_ws_set_first_table(ws, 1);
		ck_assert_msg(!memcmp(got, base, n * sizeof(float)),
			      "without the first-layer table, %s differs",
			      blas_isa_name(list[k]));
		for (size_t c = 0; c < sizeof(ws_sizes) / sizeof(ws_sizes[0]); c++) {
			struct model_ws *w2 = model_ws_new(&m, ws_sizes[c]);
			ck_assert(w2);
			ck_assert_int_eq(model_forward(&m, theta, &d.b, w2, got), 0);
			ck_assert_msg(!memcmp(got, base, n * sizeof(float)),
				      "unplanned, %zu-sequence workspace, %s "
				      "differs", ws_sizes[c],
				      blas_isa_name(list[k]));
			model_ws_free(w2);
		}
	}
	blas_isa_set(saved);
	/* a sequence alone, and a planned batch of one input */
	for (size_t b = 0; b < NIN * NS; b += 5) {
		struct model_batch one = d.b;
		size_t i = b / NS, j = b % NS;

		one.n_inputs = 1;
		one.n_seeds = 1;
		one.feat = d.b.feat + i * m.spec.io.seq_len * m.spec.io.feat;
		one.seed = d.b.seed + j * m.spec.seed_size;
		if (one.mask)
			one.mask = d.b.mask + i * 100;
		ck_assert_int_eq(model_ws_plan(ws, &m, &one), 0);
		ck_assert_int_eq(model_forward(&m, theta, &one, ws, got), 0);
		ck_assert_msg(!memcmp(got, base + b * per, per * sizeof(float)),
			      "sequence %zu alone differs", b);
	}
	model_ws_free(ws);
	free(theta);
	free(ref);
	free(base);
	free(got);
	batch_free(&d);
}
END_TEST

/*
 * The Gram form of the last layer (model_ws_set_gram; the colouring
 * task's float numerics) on C10 and on graphs with chords (queries of 2
 * to 9 keys: the unrolled cycle branch, the general loops, and for an
 * input with a query past LIN_GRAM_MAXK keys the exact path): the
 * reference to 1e-5 of the largest
 * logit, not the exact path's bits (so the form is taken), and bit for
 * bit the same on every instruction set, planned or not, for any
 * workspace size and for a sequence alone.
 */
START_TEST(kernels_gram_vs_ref)
{
	const int chords = _i; /* 0 a cycle, 1 a few chords, 2 many */
	const size_t NIN = 11, NS = 21;
	enum blas_isa list[3], saved = blas_isa_get();
	int nisa = isas(list);
	struct model m;
	struct batch d;
	struct model_ws *ws, *w2;
	float *theta, *ref, *exact, *base, *got;
	size_t n, where, per;
	double diff;
	struct rng_stream st;

	model_c10(&m);
	per = per_seq(&m);
	theta = theta_random(&m, 40 + (uint32_t)_i);
	batch_c10(&m, NIN, NS, 40 + (uint32_t)_i, &d);
	rng_stream_init(&st, 9, RNG_PURPOSE_TEST, (uint32_t)_i, 3);
	for (size_t i = 0; chords && i < NIN; i++)
		for (int e = 0; e < (chords == 1 ? 3 : 30); e++) {
			uint32_t a = rng_below(&st, 10), b = rng_below(&st, 10);
			if (a == b)
				continue;
			d.mask[i * 100 + a * 10 + b] = 1;
			d.mask[i * 100 + b * 10 + a] = 1;
		}
	for (uint32_t b = 1; chords == 2 && b < 10; b++) {
		/* vertex 0 of input 0 sees all 9 others */
		d.mask[b] = 1;
		d.mask[b * 10] = 1;
	}
	n = NIN * NS * per;
	ref = malloc(n * sizeof(float));
	exact = malloc(n * sizeof(float));
	base = malloc(n * sizeof(float));
	got = malloc(n * sizeof(float));
	ck_assert(ref && exact && base && got);
	ck_assert_int_eq(model_forward_ref(&m, theta, &d.b, ref), 0);
	ws = model_ws_new(&m, MODEL_WS_CHUNK_SEQS);
	ck_assert(ws);
	ck_assert_int_eq(model_ws_plan(ws, &m, &d.b), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, exact), 0);
	ck_assert_int_eq(model_ws_set_gram(ws, 1), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, base), 0);
	diff = rel_diff(base, ref, n, &where);
	ck_assert_msg(diff <= 1e-5, "chords %d: Gram form vs reference %.3g "
		      "at %zu (%.9g vs %.9g)", chords, diff, where, base[where],
		      ref[where]);
	/* an input with a query of 9 keys (more than LIN_GRAM_MAXK) keeps
	 * the exact path's bits; the others take the Gram form */
	if (chords == 2)
		ck_assert(!memcmp(base, exact, NS * per * sizeof(float)));
	ck_assert_msg(memcmp(base + (chords == 2) * NS * per,
			     exact + (chords == 2) * NS * per,
			     (n - (chords == 2) * NS * per) * sizeof(float)),
		      "the Gram form gave the exact path's bits");
	fprintf(stderr, "kernels: C10 Gram form (chords %d) vs reference "
		"%.2g\n", chords, diff);
	for (int k = 0; k < nisa; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		memset(got, 0xff, n * sizeof(float));
		ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, got), 0);
		ck_assert_msg(!memcmp(got, base, n * sizeof(float)),
			      "Gram form, %s differs", blas_isa_name(list[k]));
		w2 = model_ws_new(&m, 3);
		ck_assert(w2);
		ck_assert_int_eq(model_ws_set_gram(w2, 1), 0);
		ck_assert_int_eq(model_forward(&m, theta, &d.b, w2, got), 0);
		ck_assert_msg(!memcmp(got, base, n * sizeof(float)),
			      "Gram form unplanned, %s differs",
			      blas_isa_name(list[k]));
		model_ws_free(w2);
	}
	blas_isa_set(saved);
	for (size_t b = 0; b < NIN * NS; b += 7) {
		struct model_batch one = d.b;
		size_t i = b / NS, j = b % NS;

		one.n_inputs = 1;
		one.n_seeds = 1;
		one.feat = d.b.feat + i * 100;
		one.seed = d.b.seed + j * m.spec.seed_size;
		one.mask = d.b.mask + i * 100;
		ck_assert_int_eq(model_ws_plan(ws, &m, &one), 0);
		ck_assert_int_eq(model_forward(&m, theta, &one, ws, got), 0);
		ck_assert_msg(!memcmp(got, base + b * per, per * sizeof(float)),
			      "Gram form: sequence %zu alone differs", b);
	}
	/* off again: the exact path's bits */
	ck_assert_int_eq(model_ws_set_gram(ws, 0), 0);
	ck_assert_int_eq(model_ws_plan(ws, &m, &d.b), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, got), 0);
	ck_assert(!memcmp(got, exact, n * sizeof(float)));
	model_ws_free(ws);
	free(theta);
	free(ref);
	free(exact);
	free(base);
	free(got);
	batch_free(&d);
}
END_TEST

/*
 * The generic path and the fast path compute the same function: on the
 * paper models at realistic theta (the initialiser plus noise) they agree
 * to 1e-5 of the largest logit.
 */
START_TEST(kernels_fast_vs_generic)
{
	struct model m;
	struct batch d;
	struct model_ws *ws;
	float *theta, *a, *b;
	size_t n, where;

	if (_i == 0) {
		model_ar(&m, 20);
		batch_ar(&m, 20, 30, 77, &d);
	} else {
		model_c10(&m);
		batch_c10(&m, 30, 10, 77, &d);
	}
	theta = theta_random(&m, 900 + (uint32_t)_i);
	n = d.b.n_inputs * d.b.n_seeds * per_seq(&m);
	a = malloc(n * sizeof(float));
	b = malloc(n * sizeof(float));
	ws = model_ws_new(&m, 64);
	ck_assert(a && b && ws);
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, a), 0);
	model_ws_set_fast_path(ws, 0);
	ck_assert(!model_ws_fast_path(ws));
	ck_assert_int_eq(model_forward(&m, theta, &d.b, ws, b), 0);
	ck_assert_msg(rel_diff(a, b, n, &where) <= 1e-5,
		      "fast vs generic differ at %zu: %.9g vs %.9g", where,
		      a[where], b[where]);
	model_ws_free(ws);
	free(theta);
	free(a);
	free(b);
	batch_free(&d);
}
END_TEST

/* --- plans --------------------------------------------------------------------- */

/* Distinct rows of an (n, F) float matrix, by brute force. */
static size_t distinct_rows(const float *x, size_t n, size_t F)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !memcmp(x + i * F, x + j * F, F * sizeof(float));
		k += !seen;
	}
	return k;
}

START_TEST(kernels_plan_classes)
{
	struct model m;
	struct batch d;
	struct model_ws *ws;

	/* recall: a class per distinct token, none per position */
	model_ar(&m, 20);
	batch_ar(&m, 300, 3, 5, &d);
	ws = model_ws_new(&m, 8);
	ck_assert(ws);
	ck_assert_int_eq(model_ws_plan_classes(ws), 0);
	ck_assert_int_eq(model_ws_plan(ws, &m, &d.b), 0);
	ck_assert_uint_eq(model_ws_plan_classes(ws),
			  distinct_rows(d.feat, 300 * 21, 25));
	/* at most 20 keys x 32 values + 20 queries */
	ck_assert_uint_le(model_ws_plan_classes(ws), 660);
	ck_assert_uint_ge(model_ws_plan_classes(ws), 600);
	model_ws_plan_clear(ws);
	ck_assert_int_eq(model_ws_plan_classes(ws), 0);
	model_ws_free(ws);
	batch_free(&d);

	/* colouring: the tokens never depend on the cycle; per-token seeds
	 * make the position part of the class: 10 */
	model_c10(&m);
	batch_c10(&m, 256, 10, 6, &d);
	ws = model_ws_new(&m, 8);
	ck_assert(ws);
	ck_assert_int_eq(model_ws_plan(ws, &m, &d.b), 0);
	ck_assert_uint_eq(model_ws_plan_classes(ws), 10);
	/* first-layer tuples: distinct (vertex, its two neighbours), at most
	 * 10 x 36, counted by brute force */
	{
		uint8_t seen[10][10][10] = {{{0}}};
		size_t want = 0;

		for (size_t i = 0; i < 256; i++)
			for (size_t v = 0; v < 10; v++) {
				size_t nb[2], k = 0;
				for (size_t u = 0; u < 10; u++)
					if (d.mask[i * 100 + v * 10 + u])
						nb[k++] = u;
				ck_assert_uint_eq(k, 2);
				want += !seen[v][nb[0]][nb[1]];
				seen[v][nb[0]][nb[1]] = 1;
			}
		ck_assert_uint_eq(model_ws_plan_tuples(ws), want);
		ck_assert_uint_le(want, 360);
		ck_assert_uint_ge(want, 300);
	}
	model_ws_free(ws);
	batch_free(&d);
}
END_TEST

/*
 * A plan is used only for its own batch (the same pointers and size):
 * another batch, or the same memory with fewer inputs, is planned afresh,
 * with the same bits as without any plan.
 */
START_TEST(kernels_plan_scope)
{
	struct model m;
	struct batch d1, d2;
	struct model_ws *ws, *plain;
	float *theta, *a, *b;
	size_t n;

	model_ar(&m, 20);
	theta = theta_random(&m, 31);
	batch_ar(&m, 12, 7, 1, &d1);
	batch_ar(&m, 12, 7, 2, &d2);
	n = 12 * 7 * 5;
	a = malloc(n * sizeof(float));
	b = malloc(n * sizeof(float));
	ws = model_ws_new(&m, 16);
	plain = model_ws_new(&m, 16);
	ck_assert(a && b && ws && plain);
	ck_assert_int_eq(model_ws_plan(ws, &m, &d1.b), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d2.b, ws, a), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d2.b, plain, b), 0);
	ck_assert(!memcmp(a, b, n * sizeof(float)));
	d1.b.n_inputs = 5;
	ck_assert_int_eq(model_forward(&m, theta, &d1.b, ws, a), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d1.b, plain, b), 0);
	ck_assert(!memcmp(a, b, 5 * 7 * 5 * sizeof(float)));
	/* a bigger batch after a smaller plan: re-allocated, same bits */
	d1.b.n_inputs = 12;
	ck_assert_int_eq(model_ws_plan(ws, &m, &d2.b), 0);
	ck_assert_int_eq(model_ws_plan(ws, &m, &d1.b), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d1.b, ws, a), 0);
	ck_assert_int_eq(model_forward(&m, theta, &d1.b, plain, b), 0);
	ck_assert(!memcmp(a, b, n * sizeof(float)));
	model_ws_free(ws);
	model_ws_free(plain);
	free(theta);
	free(a);
	free(b);
	batch_free(&d1);
	batch_free(&d2);
}
END_TEST

/* Which models take the fast path. */
START_TEST(kernels_eligibility)
{
	struct config_model c = cfg_base();
	struct model_io io = {.seq_len = 5, .feat = 4, .out_dim = 3,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_LAST};
	char err[RANDES_ERR_LEN];
	struct model m;
	struct lin_spec ls;

	ck_assert_int_eq(model_init(&m, &c, &io, err), 0);
	ck_assert(lin_spec_init(&m, &ls));
	io.output = MODEL_OUTPUT_EVERY; /* roll-outs keep the generic bits */
	ck_assert_int_eq(model_init(&m, &c, &io, err), 0);
	ck_assert(!lin_spec_init(&m, &ls));
	io.mask = MODEL_MASK_FULL;
	ck_assert_int_eq(model_init(&m, &c, &io, err), 0);
	ck_assert(lin_spec_init(&m, &ls));
	c.mlp = 1;
	ck_assert_int_eq(model_init(&m, &c, &io, err), 0);
	ck_assert(!lin_spec_init(&m, &ls));
	c.mlp = 0;
	c.layernorm = 1;
	ck_assert_int_eq(model_init(&m, &c, &io, err), 0);
	ck_assert(!lin_spec_init(&m, &ls));
	c.layernorm = 0;
	c.attention = MODEL_ATTENTION_SOFTMAX;
	ck_assert_int_eq(model_init(&m, &c, &io, err), 0);
	ck_assert(!lin_spec_init(&m, &ls));
	{
		struct model_ws *ws = model_ws_new(&m, 4);
		ck_assert(ws);
		ck_assert(!model_ws_fast_path(ws));
		ck_assert_int_eq(model_ws_plan(ws, &m, NULL), 0);
		model_ws_free(ws);
	}
	/* the paper models: recall's layer 1 in the state form, its last
	 * layer at the query only; C10's first layer pushed */
	model_ar(&m, 20);
	ck_assert(lin_spec_init(&m, &ls));
	ck_assert(ls.layer[0].recurrent && !ls.layer[0].pushed);
	ck_assert(ls.layer[1].last_only && ls.layer[1].pushed);
	ck_assert_uint_eq(ls.tw, 35);
	model_c10(&m);
	ck_assert(lin_spec_init(&m, &ls));
	ck_assert(ls.layer[0].pushed && !ls.layer[0].recurrent);
	ck_assert_uint_eq(ls.layer[1].vw, 3);
}
END_TEST

/* --- vmath ---------------------------------------------------------------------- */

/* |a - b| in units of b's last place. */
static double ulps(double a, double b)
{
	if (a == b)
		return 0.0;
	return fabs(a - b) / (nextafter(fabs(b), INFINITY) - fabs(b));
}

START_TEST(kernels_vmath_exp)
{
	enum blas_isa list[3], saved = blas_isa_get();
	int nisa = isas(list);
	const size_t n = 20011; /* not a multiple of the 8 lanes */
	double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
	double worst = 0.0;
	struct rng_stream st;

	ck_assert(x && y);
	rng_stream_init(&st, 12, RNG_PURPOSE_TEST, 0, 0);
	for (size_t i = 0; i < n; i++) {
		/* spread over [-708, 0], dense near 0 */
		double u = (double)rng_uniform(&st);
		x[i] = i % 3 ? -708.0 * u * u * u : -40.0 * u;
	}
	x[0] = 0.0;
	x[1] = -0.0;
	x[2] = -1e-300;
	x[3] = -708.0;
	for (size_t i = 0; i < n; i++) {
		double e = vmath_exp_neg(x[i]), d = ulps(e, exp(x[i]));
		if (d > worst)
			worst = d;
	}
	ck_assert_msg(worst <= 2.0, "exp: %.2f ulp from libm", worst);
	ck_assert(vmath_exp_neg(0.0) == 1.0);
	ck_assert(vmath_exp_neg(-709.0) == 0.0);
	ck_assert(vmath_exp_neg(-INFINITY) == 0.0);
	ck_assert(isnan(vmath_exp_neg(NAN)));
	ck_assert(vmath_exp_neg(3.0) == 1.0); /* x > 0 taken as 0 */
	for (int k = 0; k < nisa; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		x[5] = NAN;
		x[6] = -INFINITY;
		x[7] = -1000.0;
		/* and in the second vector of a 16-element step */
		x[9] = NAN;
		x[12] = -INFINITY;
		x[14] = 0.0;
		vmath_exp_neg_n(x, y, n);
		for (size_t i = 0; i < n; i++) {
			double e = vmath_exp_neg(x[i]);
			ck_assert_msg(!memcmp(&e, &y[i], sizeof(e)),
				      "%s: exp lane %zu (x = %.17g) differs from "
				      "the scalar", blas_isa_name(list[k]), i,
				      x[i]);
		}
	}
	blas_isa_set(saved);
	fprintf(stderr, "kernels: vmath_exp_neg within %.2f ulp of libm\n",
		worst);
	free(x);
	free(y);
}
END_TEST

/* |a - b| in units of b's last place, in float. */
static double ulpsf(float a, float b)
{
	if (a == b)
		return 0.0;
	return fabs((double)a - (double)b) /
	       ((double)nextafterf(fabsf(b), INFINITY) - (double)fabsf(b));
}

/*
 * vmath_expf_neg against the correctly rounded e^x (libm's double exp
 * rounded to float) over a sweep of [-87, 0] (every 2^-12 down to -16,
 * then every 2^-6, and random points), and the vector form against the
 * scalar bit for bit on every instruction set.
 */
START_TEST(kernels_vmath_expf)
{
	enum blas_isa list[3], saved = blas_isa_get();
	int nisa = isas(list);
	const size_t nsweep = 16 * 4096 + 71 * 64, n = nsweep + 20011;
	float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
	double worst = 0.0, worst_at = 0.0;
	struct rng_stream st;

	ck_assert(x && y);
	for (size_t i = 0; i < 16 * 4096; i++)
		x[i] = -(float)i / 4096.0f;
	for (size_t i = 0; i < 71 * 64; i++)
		x[16 * 4096 + i] = -16.0f - (float)i / 64.0f;
	rng_stream_init(&st, 14, RNG_PURPOSE_TEST, 0, 0);
	for (size_t i = nsweep; i < n; i++) {
		float u = rng_uniform(&st);
		x[i] = i % 2 ? -87.0f * u : -0.5f * u * u;
	}
	for (size_t i = 0; i < n; i++) {
		float want = (float)exp((double)x[i]);
		double d = ulpsf(vmath_expf_neg(x[i]), want);

		if (d > worst) {
			worst = d;
			worst_at = x[i];
		}
	}
	ck_assert_msg(worst <= 2.0, "expf: %.2f ulp from e^x at x = %.9g",
		      worst, worst_at);
	ck_assert(vmath_expf_neg(0.0f) == 1.0f);
	ck_assert(vmath_expf_neg(-0.0f) == 1.0f);
	ck_assert(vmath_expf_neg(-87.0f) > 0.0f);
	ck_assert(isnormal(vmath_expf_neg(-87.0f)));
	ck_assert(vmath_expf_neg(-87.01f) == 0.0f);
	ck_assert(vmath_expf_neg(-INFINITY) == 0.0f);
	ck_assert(isnan(vmath_expf_neg(NAN)));
	ck_assert(vmath_expf_neg(3.0f) == 1.0f); /* x > 0 taken as 0 */
	for (int k = 0; k < nisa; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		x[5] = NAN;
		x[6] = -INFINITY;
		x[7] = -1000.0f;
		/* and in the second vector of a 32-element step */
		x[17] = NAN;
		x[20] = -INFINITY;
		x[30] = 5.0f;
		vmath_expf_neg_n(x, y, n);
		for (size_t i = 0; i < n; i++) {
			float e = vmath_expf_neg(x[i]);
			ck_assert_msg(!memcmp(&e, &y[i], sizeof(e)),
				      "%s: expf lane %zu (x = %.9g) differs "
				      "from the scalar", blas_isa_name(list[k]),
				      i, x[i]);
		}
	}
	blas_isa_set(saved);
	fprintf(stderr, "kernels: vmath_expf_neg within %.2f ulp of e^x\n",
		worst);
	free(x);
	free(y);
}
END_TEST

START_TEST(kernels_vmath_log1p)
{
	enum blas_isa list[3], saved = blas_isa_get();
	int nisa = isas(list);
	const size_t n = 20011;
	double *x = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
	double worst = 0.0;
	struct rng_stream st;

	ck_assert(x && y);
	rng_stream_init(&st, 13, RNG_PURPOSE_TEST, 0, 0);
	for (size_t i = 0; i < n; i++) {
		/* tiny to huge: 10^(-300 .. 8), and the branch point */
		double u = (double)rng_uniform(&st);
		x[i] = i % 2 ? pow(10.0, -300.0 + 308.0 * u) : 2.0 * u;
	}
	x[0] = 0.0;
	x[1] = 0.41421356237309503;
	x[2] = nextafter(0.41421356237309503, 0.0);
	x[3] = 31.0;
	x[4] = 1e-320; /* subnormal */
	for (size_t i = 0; i < n; i++) {
		double e = vmath_log1p_pos(x[i]), d = ulps(e, log1p(x[i]));
		if (d > worst)
			worst = d;
	}
	ck_assert_msg(worst <= 2.0, "log1p: %.2f ulp from libm", worst);
	ck_assert(vmath_log1p_pos(0.0) == 0.0);
	ck_assert(isinf(vmath_log1p_pos(INFINITY)));
	ck_assert(isnan(vmath_log1p_pos(NAN)));
	for (int k = 0; k < nisa; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		x[5] = NAN;
		x[6] = INFINITY;
		vmath_log1p_pos_n(x, y, n);
		for (size_t i = 0; i < n; i++) {
			double e = vmath_log1p_pos(x[i]);
			ck_assert_msg(!memcmp(&e, &y[i], sizeof(e)),
				      "%s: log1p lane %zu (x = %.17g) differs "
				      "from the scalar", blas_isa_name(list[k]),
				      i, x[i]);
		}
	}
	blas_isa_set(saved);
	fprintf(stderr, "kernels: vmath_log1p_pos within %.2f ulp of libm\n",
		worst);
	free(x);
	free(y);
}
END_TEST

/*
 * Box-Muller: the 8-lane form equals the scalar form bit for bit on every
 * ISA, and both agree with the same formula on glibc's log, cos and sin
 * (rng.h's definition) but for a handful of values next to 0.
 */
/* x^y for x in [0, 1], y > 0 (the L^q pool's powers): close to libm's pow
 * over the ranges the pool uses, exact at the ends. */
START_TEST(kernels_vmath_pow_unit)
{
	struct rng_stream st;
	double worst = 0.0;

	rng_stream_init(&st, 17, RNG_PURPOSE_TEST, 0, 0);
	for (int i = 0; i < 50000; i++) {
		double x = rng_uniform_double(&st);
		/* y: the q of the pool (1 .. 512) or its inverse */
		double q = pow(2.0, 9.0 * rng_uniform_double(&st));
		double y = i % 2 ? q : 1.0 / q;
		double want = pow(x, y), got = vmath_pow_unit(x, y);
		double rel = want > 0 ? fabs(got - want) / want : fabs(got);
		/* relative error ~ y |log x| ulp: allow 1e-12 where the result
		 * is not vanishingly small */
		if (want > 1e-250 && rel > worst)
			worst = rel;
	}
	ck_assert_msg(worst < 1e-12, "pow_unit: %.3g relative from libm", worst);
	ck_assert(vmath_pow_unit(0.0, 3.0) == 0.0);
	ck_assert(vmath_pow_unit(1.0, 100.0) == 1.0);
	ck_assert(vmath_pow_unit(0.5, 1.0) == 0.5);
	ck_assert(vmath_pow_unit(0.25, 0.5) == 0.5);
	ck_assert(isnan(vmath_pow_unit(NAN, 2.0)));
	ck_assert(vmath_pow_unit(1e-300, 512.0) == 0.0);
}
END_TEST

START_TEST(kernels_vmath_box_muller)
{
	enum blas_isa list[3], saved = blas_isa_get();
	int nisa = isas(list);
	const size_t nb = 50003; /* blocks, not a multiple of 4 */
	uint32_t *w = malloc(4 * nb * sizeof(uint32_t));
	float *z = malloc(4 * nb * sizeof(float));
	size_t differ = 0;
	double worst = 0.0;
	struct rng_stream st;

	ck_assert(w && z);
	rng_stream_init(&st, 14, RNG_PURPOSE_TEST, 0, 0);
	for (size_t i = 0; i < 4 * nb; i++)
		w[i] = rng_u32(&st);
	/* the extremes of both words */
	w[0] = 0;
	w[1] = 0;
	w[2] = 0xffffffffu;
	w[3] = 0xffffffffu;
	w[4] = 0x80000000u;
	w[5] = 0x40000000u;
	w[6] = 1;
	w[7] = 0xc0000000u;
	for (size_t i = 0; i < 2 * nb; i++) {
		float a, b;
		double u1 = ((double)w[2 * i] + 0.5) * (1.0 / 4294967296.0);
		double u2 = (double)w[2 * i + 1] * (1.0 / 4294967296.0);
		double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
		float ga = (float)(r * cos(t)), gb = (float)(r * sin(t));

		vmath_box_muller(w[2 * i], w[2 * i + 1], &a, &b);
		differ += (a != ga) + (b != gb);
		if (fabs(a - ga) > worst)
			worst = fabs(a - ga);
		if (fabs(b - gb) > worst)
			worst = fabs(b - gb);
	}
	ck_assert_msg(differ <= 4 && worst <= 1e-6,
		      "%zu of %zu normals differ from glibc's, by up to %g",
		      differ, 4 * nb, worst);
	for (int k = 0; k < nisa; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		vmath_box_muller_n(w, z, nb);
		for (size_t i = 0; i < 2 * nb; i++) {
			float a, b;
			vmath_box_muller(w[2 * i], w[2 * i + 1], &a, &b);
			ck_assert_msg(!memcmp(&a, &z[2 * i], sizeof(a)) &&
					      !memcmp(&b, &z[2 * i + 1], sizeof(b)),
				      "%s: pair %zu differs from the scalar",
				      blas_isa_name(list[k]), i);
		}
	}
	blas_isa_set(saved);
	free(w);
	free(z);
}
END_TEST

/* --- es_vec: the ES update's loops ---------------------------------------- */

static const size_t es_vec_dims[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 2291};

/* Fills x (n doubles) with values of both signs, and a few ±0. */
static void fill_d(double *x, size_t n, uint32_t salt)
{
	struct rng_stream s;

	rng_stream_init(&s, 12, RNG_PURPOSE_TEST, salt, 3);
	for (size_t i = 0; i < n; i++)
		x[i] = i % 11 == 3 ? -0.0 : i % 13 == 5 ? 0.0
			: 4.0 * rng_uniform_double(&s) - 2.0;
}

/*
 * Each es_vec kernel against its contract written here as a plain loop,
 * bit for bit (memcmp, so ±0 counts), on every instruction set this CPU
 * has, for D across the vector width and its tails; es_vec_accumulate for
 * every group size 1..ES_VEC_GROUP; ClipUp with gn = 0 (the + 0.0 that
 * turns -0 into +0) and gn > 0; es_vec_theta's count of non-finite
 * results.
 */
START_TEST(kernels_es_vec)
{
	const size_t D = es_vec_dims[_i];
	enum blas_isa list[3], saved = blas_isa_get();
	int nisa = isas(list);
	float *eps[ES_VEC_GROUP], *th0 = xalloc(D * sizeof(float));
	float *th = xalloc(D * sizeof(float)), *thr = xalloc(D * sizeof(float));
	float *sig = xalloc(D * sizeof(float));
	double *x0 = xalloc(D * sizeof(double)), *g = xalloc(D * sizeof(double));
	double *m0 = xalloc(D * sizeof(double)), *v0 = xalloc(D * sizeof(double));
	double *a = xalloc(D * sizeof(double)), *ar = xalloc(D * sizeof(double));
	double *b = xalloc(D * sizeof(double)), *br = xalloc(D * sizeof(double));
	double *c = xalloc(D * sizeof(double)), *cr = xalloc(D * sizeof(double));
	double w[ES_VEC_GROUP];
	const struct es_vec_adam ad = {0.9, 0.999, 1.0 - pow(0.9, 3.0),
				       1.0 - pow(0.999, 3.0), 0.01, 1e-8};

#define SAME(p, q, what)                                                   \
	ck_assert_msg(!memcmp((p), (q), D * sizeof(*(p))),                 \
		      "es_vec %s, D %zu, %s: differs from the plain loop",   \
		      (what), D, blas_isa_name(list[k]))

	for (int j = 0; j < ES_VEC_GROUP; j++) {
		struct rng_stream s;

		eps[j] = xalloc(D * sizeof(float));
		rng_normal_fill(5, RNG_PURPOSE_TEST, 0, (uint32_t)j, eps[j], D);
		rng_stream_init(&s, 6, RNG_PURPOSE_TEST, 0, (uint32_t)j);
		w[j] = j == 2 ? 0.0 : 2.0 * rng_uniform_double(&s) - 1.0;
	}
	fill_d(x0, D, 1);
	fill_d(g, D, 2);
	fill_d(m0, D, 3);
	fill_d(v0, D, 4);
	for (size_t i = 0; i < D; i++) {
		v0[i] = fabs(v0[i]);
		th0[i] = (float)(x0[i] * 3.0);
		sig[i] = (float)(0.1 + fabs(g[i]));
	}
	for (int k = 0; k < nisa; k++) {
		ck_assert_int_eq(blas_isa_set(list[k]), 0);
		for (size_t n = 1; n <= ES_VEC_GROUP; n++) {
			memcpy(a, x0, D * sizeof(double));
			memcpy(ar, x0, D * sizeof(double));
			es_vec_accumulate(a, (const float *const *)eps, w, n, D);
			for (size_t i = 0; i < D; i++)
				for (size_t j = 0; j < n; j++)
					ar[i] += w[j] * (double)eps[j][i];
			SAME(a, ar, "accumulate");
			memcpy(a, x0, D * sizeof(double));
			memcpy(ar, x0, D * sizeof(double));
			es_vec_accumulate_sq(a, (const float *const *)eps, w, n,
					     D);
			for (size_t i = 0; i < D; i++)
				for (size_t j = 0; j < n; j++) {
					double e = eps[j][i];
					ar[i] += w[j] * (e * e - 1.0);
				}
			SAME(a, ar, "accumulate_sq");
		}
		for (int pv = 0; pv < 4; pv++) {
			/* σ per parameter or one σ; both members or one */
			const float *sv = pv & 1 ? sig : NULL;
			float *pl = pv == 2 ? NULL : th, *mi = pv == 3 ? NULL : thr;
			float *plr = xalloc(D * sizeof(float));
			float *mir = xalloc(D * sizeof(float));

			memset(th, 0x7f, D * sizeof(float));
			memset(thr, 0x7f, D * sizeof(float));
			memset(plr, 0x7f, D * sizeof(float));
			memset(mir, 0x7f, D * sizeof(float));
			es_vec_member(eps[0], th0, sv, 0.03, pl, mi, D);
			for (size_t i = 0; i < D; i++) {
				double sg = sv ? (double)sv[i] : 0.03;
				double x = sg * (double)eps[0][i];
				double ci = (double)th0[i];

				if (pl)
					plr[i] = (float)(ci + x);
				if (mi)
					mir[i] = (float)(ci - x);
			}
			SAME(th, plr, "member plus");
			SAME(thr, mir, "member minus");
			free(plr);
			free(mir);
		}
		memcpy(a, x0, D * sizeof(double));
		es_vec_div(a, 0.37, D);
		for (size_t i = 0; i < D; i++)
			ar[i] = x0[i] / 0.37;
		SAME(a, ar, "div");
		memcpy(a, x0, D * sizeof(double));
		es_vec_pgpe_grad(a, sig, 40.0, D);
		for (size_t i = 0; i < D; i++)
			ar[i] = (double)sig[i] * x0[i] / 40.0;
		SAME(a, ar, "pgpe_grad");
		memcpy(a, m0, D * sizeof(double));
		memcpy(b, v0, D * sizeof(double));
		memcpy(ar, m0, D * sizeof(double));
		memcpy(br, v0, D * sizeof(double));
		es_vec_adam(a, b, c, g, &ad, D);
		for (size_t i = 0; i < D; i++) {
			ar[i] = ad.beta1 * ar[i] + (1.0 - ad.beta1) * g[i];
			br[i] = ad.beta2 * br[i] + (1.0 - ad.beta2) * g[i] * g[i];
			cr[i] = ad.lr * (ar[i] / ad.bc1) /
				(sqrt(br[i] / ad.bc2) + ad.eps);
		}
		SAME(a, ar, "adam m");
		SAME(b, br, "adam v");
		SAME(c, cr, "adam step");
		memcpy(a, m0, D * sizeof(double));
		memcpy(ar, m0, D * sizeof(double));
		es_vec_momentum(a, c, g, 0.9, 0.01, D);
		for (size_t i = 0; i < D; i++) {
			ar[i] = 0.9 * ar[i] + g[i];
			cr[i] = 0.01 * ar[i];
		}
		SAME(a, ar, "momentum velocity");
		SAME(c, cr, "momentum step");
		for (int z = 0; z < 2; z++) {
			double gn = z ? 0.0 : 1.7;

			memcpy(a, m0, D * sizeof(double));
			memcpy(ar, m0, D * sizeof(double));
			es_vec_clipup(a, g, 0.5, 0.01, gn, D);
			for (size_t i = 0; i < D; i++)
				ar[i] = 0.5 * ar[i] +
					(gn > 0 ? 0.01 * (g[i] / gn) : 0.0);
			SAME(a, ar, z ? "clipup, gn = 0" : "clipup");
		}
		memcpy(a, x0, D * sizeof(double));
		es_vec_scale(a, 0.3, D);
		for (size_t i = 0; i < D; i++)
			ar[i] = x0[i] * 0.3;
		SAME(a, ar, "scale");
		for (int bad = 0; bad < 2; bad++) {
			size_t nb, nbr = 0;

			memcpy(th, th0, D * sizeof(float));
			memcpy(thr, th0, D * sizeof(float));
			memcpy(a, g, D * sizeof(double));
			memcpy(ar, g, D * sizeof(double));
			if (bad) {
				a[D / 2] = ar[D / 2] = INFINITY;
				a[D - 1] = ar[D - 1] = NAN;
			}
			nb = es_vec_theta(th, a, 0.003, D);
			for (size_t i = 0; i < D; i++) {
				double t = thr[i], d = ar[i] - 0.003 * t;
				thr[i] = (float)(t + d);
				ar[i] = d;
				nbr += !isfinite(thr[i]);
			}
			SAME(th, thr, "theta");
			SAME(a, ar, "theta's move");
			ck_assert_uint_eq(nb, nbr);
			ck_assert_uint_eq(nb, bad ? (D > 1 ? 2 : 1) : 0);
		}
	}
#undef SAME
	blas_isa_set(saved);
	for (int j = 0; j < ES_VEC_GROUP; j++)
		free(eps[j]);
	free(th0);
	free(th);
	free(thr);
	free(sig);
	free(x0);
	free(g);
	free(m0);
	free(v0);
	free(a);
	free(ar);
	free(b);
	free(br);
	free(c);
	free(cr);
}
END_TEST

/* --- the OpenBLAS kernel check ---------------------------------------------------- */

/*
 * blas_core_check on this process (the kernel OpenBLAS chose here) and on
 * a copy of this test run with OPENBLAS_CORETYPE=Prescott (the fallback of
 * Debian's 0.3.21 on unknown CPUs), which must warn on any AVX2 CPU.
 */
/* This program's path, for running a copy of it (not /proc/self/exe,
 * which is valgrind under valgrind). */
static const char *self_path = "test-kernels";

START_TEST(kernels_blas_core_check)
{
	char msg[512], out[512] = "";
	int fd[2], status;
	pid_t pid;
	ssize_t n;

	if (blas_core_check(msg, sizeof(msg)))
		ck_assert_ptr_nonnull(strstr(msg, blas_corename()));
	if (!__builtin_cpu_supports("avx2"))
		return; /* Prescott is no downgrade there */
	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd[1], 1);
		setenv("OPENBLAS_CORETYPE", "Prescott", 1);
		execl(self_path, self_path, "--core-check", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	n = read(fd[0], out, sizeof(out) - 1);
	close(fd[0]);
	waitpid(pid, &status, 0);
	ck_assert(n > 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "no warning for Prescott kernels: '%s'", out);
	ck_assert_ptr_nonnull(strstr(out, "Prescott"));
	ck_assert_ptr_nonnull(strstr(out, "OPENBLAS_CORETYPE="));
}
END_TEST

static Suite *kernels_suite(void)
{
	Suite *s = suite_create("kernels");
	TCase *tc = tcase_create("kernels");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, kernels_soa_gemm, 0,
			    (int)(sizeof(gemm_shapes) / sizeof(gemm_shapes[0])));
	tcase_add_loop_test(tc, kernels_seq, 0, N_SEQ_MODELS);
	tcase_add_loop_test(tc, kernels_paper_fast_vs_ref, 0,
			    (int)(sizeof(paper_cases) / sizeof(paper_cases[0])));
	tcase_add_loop_test(tc, kernels_fast_vs_generic, 0, 2);
	tcase_add_loop_test(tc, kernels_gram_vs_ref, 0, 3);
	tcase_add_test(tc, kernels_plan_classes);
	tcase_add_test(tc, kernels_plan_scope);
	tcase_add_test(tc, kernels_eligibility);
	tcase_add_test(tc, kernels_vmath_exp);
	tcase_add_test(tc, kernels_vmath_expf);
	tcase_add_test(tc, kernels_vmath_log1p);
	tcase_add_test(tc, kernels_vmath_pow_unit);
	tcase_add_test(tc, kernels_vmath_box_muller);
	tcase_add_loop_test(tc, kernels_es_vec, 0,
			    sizeof(es_vec_dims) / sizeof(es_vec_dims[0]));
	tcase_add_test(tc, kernels_blas_core_check);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	self_path = argv[0];
	if (argc > 1 && !strcmp(argv[1], "--core-check")) {
		/* the child of kernels_blas_core_check */
		char msg[512] = "";
		int warned = blas_core_check(msg, sizeof(msg));
		printf("%s %s\n", blas_corename(), msg);
		return warned;
	}
	sr = srunner_create(kernels_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
