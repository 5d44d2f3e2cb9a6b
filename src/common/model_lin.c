/*
 * model_lin: the attention-only fast path of model_forward (model_lin.h has
 * the algebra; docs/model.md section 8 the equations and the measurements).
 *
 * Per model_forward call:
 *   1. merged weights from theta, in double, rounded to float once
 *      (weights_prepare): the table matrix Wbig (W, TW) whose columns are
 *      every projection the layers and the head take of the embedding
 *      output, the same folded through the MLP embedding's W_f when there
 *      is no positional term (Wfold = W_f Wbig), and for each unpushed
 *      layer l the merged Mrest_l = Wo_l Wbig[:, down_l:];
 *   2. per lane block of 16 seeds: one table row per class (table_build):
 *      the embedding of the class's token with each lane's seed, through
 *      gelu and the SoA GEMM with Wbig or Wfold;
 *   3. per input and lane block: the rows of its positions copied into the
 *      sequence scratch, the layers (lin_seq), the logits read out.
 * Steps 2 and 3 run on the plan of the whole batch when the caller made one
 * (lin_plan_set), else on chunks of LIN_CHUNK_INPUTS inputs planned here.
 * Every row, lane and output is a pure function of its own inputs, so the
 * plan, the chunking and the batch never change a bit.
 */
#include "model_lin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "err.h"

/* --- the kernels, three builds -------------------------------------------- */

#define LIN_SFX generic
#define LIN_TARGET
#define LIN_VL 4
#define LIN_CB 4
#include "model_lin_body.h"
#undef LIN_SFX
#undef LIN_TARGET
#undef LIN_VL
#undef LIN_CB

#if defined(__x86_64__) || defined(__i386__)
#define LIN_SFX avx2
#define LIN_TARGET __attribute__((target("avx2")))
#define LIN_VL 8
#define LIN_CB 4
#include "model_lin_body.h"
#undef LIN_SFX
#undef LIN_TARGET
#undef LIN_VL
#undef LIN_CB

#define LIN_SFX avx512
#define LIN_TARGET __attribute__((target("avx512f")))
#define LIN_VL 16
#define LIN_CB 8
#include "model_lin_body.h"
#undef LIN_SFX
#undef LIN_TARGET
#undef LIN_VL
#undef LIN_CB
#endif

void lin_soa_gemm(size_t K, size_t N, const float *in, const float *w,
		  size_t ldw, const float *bias, float *out)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), soa_gemm, K, N, in, w, ldw, bias, out);
#else
	soa_gemm_generic(K, N, in, w, ldw, bias, out);
#endif
}

/* The embedding sum and the positional add of a table row (the body's
 * embed_sum and add_row). */
static void lin_embed_sum(size_t W, const float *tp, const float *sp,
			  const float *be, float *h)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), embed_sum, W, tp, sp, be, h);
#else
	embed_sum_generic(W, tp, sp, be, h);
#endif
}

static void lin_add_row(size_t W, const float *pe, float *h)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), add_row, W, pe, h);
#else
	add_row_generic(W, pe, h);
#endif
}

void lin_seq_from(const struct lin_spec *ls, size_t l0,
		  const float *const *mrest, const uint8_t *mask,
		  const float *const *rows, float *xs, float *scratch)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), seq, ls, l0, mrest, mask, rows, xs, scratch);
#else
	seq_generic(ls, l0, mrest, mask, rows, xs, scratch);
#endif
}

void lin_seq(const struct lin_spec *ls, const float *const *mrest,
	     const uint8_t *mask, const float *const *rows, float *xs,
	     float *scratch)
{
	lin_seq_from(ls, 0, mrest, mask, rows, xs, scratch);
}

void lin_first_row(const struct lin_spec *ls, const float *const *src,
		   size_t nk, float *out, float *scratch)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), first_row, ls, src, nk, out, scratch);
#else
	first_row_generic(ls, src, nk, out, scratch);
#endif
}

void lin_gram_tables(const struct lin_spec *ls, const float *table,
		     size_t C, float *g)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), gram, ls, table, C, g);
#else
	gram_generic(ls, table, C, g);
#endif
}

void lin_first_row_g(const struct lin_spec *ls, const float *const *src,
		     size_t nk, float *out, float *scratch)
{
	RANDES_ASSERT(nk <= LIN_GRAM_MAXK);
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), first_row_g, ls, src, nk, out, scratch);
#else
	first_row_g_generic(ls, src, nk, out, scratch);
#endif
}

void lin_seq_g(const struct lin_spec *ls, const float *g, size_t C,
	       const uint32_t *cls, const float *const *rows,
	       const uint16_t *keys, const uint8_t *nkeys, float *xs)
{
#if defined(__x86_64__) || defined(__i386__)
	BLAS_ISA_DISPATCH((void), seq_g, ls, g, C, cls, rows, keys, nkeys, xs);
#else
	seq_g_generic(ls, g, C, cls, rows, keys, nkeys, xs);
#endif
}

int lin_gram_ok(const struct lin_spec *ls)
{
	/* the tuple row (LIN_GRAM_MAXK + 2 O columns) lives in the first
	 * table's row (RW_0 = 2 K + 2 O columns) */
	return lin_first_table_ok(ls) && ls->NL == 2 && ls->H == 1 &&
	       ls->layer[1].pushed && !ls->layer[1].recurrent &&
	       !ls->layer[1].last_only && ls->O <= 8 &&
	       2 * ls->K >= LIN_GRAM_MAXK;
}

int lin_first_table_ok(const struct lin_spec *ls)
{
	return ls->mask == MODEL_MASK_GRAPH && ls->NL >= 2 && !ls->last &&
	       ls->layer[0].pushed && !ls->layer[0].recurrent;
}

/* --- the spec ------------------------------------------------------------ */

int lin_spec_init(const struct model *m, struct lin_spec *ls)
{
	const struct model_spec *s = &m->spec;
	size_t NL = s->layers, H = s->heads, K = s->key_size;
	size_t HK = H * K, O = s->io.out_dim, right, off;

	memset(ls, 0, sizeof(*ls));
	if (s->attention != MODEL_ATTENTION_LINEAR || s->mlp_hidden ||
	    s->layernorm || s->seq_total > LIN_MAX_L ||
	    (s->io.mask == MODEL_MASK_CAUSAL &&
	     s->io.output == MODEL_OUTPUT_EVERY))
		return 0;
	ls->L = s->seq_total;
	ls->Lx = s->io.seq_len;
	ls->W = s->width;
	ls->H = H;
	ls->K = K;
	ls->Vs = s->value_size;
	ls->O = O;
	ls->NL = NL;
	ls->skip = s->seq_total - s->io.seq_len;
	ls->last = s->io.output == MODEL_OUTPUT_LAST;
	ls->mask = s->io.mask;

	/* Widths right to left: a layer's V columns may carry everything
	 * downstream of it. */
	right = O;
	for (size_t l = NL; l-- > 0;) {
		struct lin_layer *ly = &ls->layer[l];
		double avg_keys = ls->mask == MODEL_MASK_CAUSAL
					  ? (double)(ls->L + 1) / 2.0
					  : (double)ls->L;

		ly->pushed = l + 1 == NL ||
			     (l == 0 && ls->mask == MODEL_MASK_GRAPH);
		ly->last_only = ls->last && l + 1 == NL;
		ly->rw = right;
		ly->vw = ly->pushed ? right : ls->Vs;
		/* The state form costs 2 K vw per query and head, the direct
		 * form (K + vw) per key. */
		ly->recurrent = !ly->last_only &&
				ls->mask != MODEL_MASK_GRAPH &&
				2.0 * (double)(K * ly->vw) <
					avg_keys * (double)(K + ly->vw);
		right += 2 * HK + H * ly->vw;
		if (right > LIN_MAX_TW)
			return 0;
	}
	ls->tw = right;
	ls->head = right - O;
	off = 0;
	for (size_t l = 0; l < NL; l++) {
		struct lin_layer *ly = &ls->layer[l];

		ly->off = off;
		ly->down = off + 2 * HK + H * ly->vw;
		off = ly->down;
		/* With LAST, positions before L-1 never need the last layer's
		 * Q nor the head: the last HK + O columns. */
		ly->rw_short = ls->last && l + 1 < NL ? ly->rw - (HK + O)
						      : ly->rw;
		if (ly->rw > ls->max_rw)
			ls->max_rw = ly->rw;
	}
	ls->tw_short = ls->last ? ls->tw - (NL ? HK + O : O) : ls->tw;
	return 1;
}

/* --- plans ----------------------------------------------------------------- */

/* A distinct pre-attention row up to the seed. */
struct lin_class {
	uint32_t input;      /* representative input (of the planned batch) */
	uint32_t pos;        /* its model position p                        */
	uint8_t seed_token;  /* the first_token seed position               */
	uint8_t at_last;     /* occurs at position L-1                      */
};

/* A distinct (query class, key classes in order) of the first layer. */
struct lin_tuple {
	uint32_t input;      /* representative input (of the planned batch) */
	uint32_t pos;        /* its query position p                        */
};

struct lin_plan {
	size_t cap_inputs, cap_classes, hash_cap;
	size_t n_inputs, n_classes;
	size_t n_tuples;       /* 0 without the first-layer table        */
	int valid;
	const float *feat;     /* the batch planned (pointer identity)   */
	const int32_t *index;
	const uint8_t *mask;
	uint32_t *cls;         /* (cap_inputs, L) class of each position */
	struct lin_class *cl;  /* (cap_classes)                          */
	uint32_t *hash;        /* (hash_cap) class + 1, 0 empty          */
	float *tok;            /* (cap_classes, T) task tokens           */
	float *tokpart;        /* (cap_classes, W) tok . W_e[:T]         */
	float *table;          /* (cap_classes, TW, 16)                  */
	/* the first-layer table (lin_first_table_ok specs only) */
	uint32_t *tup;         /* (cap_inputs, L) tuple of each position */
	struct lin_tuple *tl;  /* (cap_classes)                          */
	uint32_t *thash;       /* (hash_cap) tuple + 1, 0 empty          */
	float *ttab;           /* (cap_classes, RW_0, 16)                */
	uint16_t *keys;        /* (cap_inputs, L, LIN_GRAM_MAXK) keys    */
	uint8_t *nkeys;        /* (cap_inputs, L) how many (Gram form)   */
	uint8_t *gram_in;      /* (cap_inputs) no query over MAXK keys   */
};

static void plan_free(struct lin_plan *pl)
{
	free(pl->cls);
	free(pl->cl);
	free(pl->hash);
	free(pl->tok);
	free(pl->tokpart);
	free(pl->table);
	free(pl->tup);
	free(pl->tl);
	free(pl->thash);
	free(pl->ttab);
	free(pl->keys);
	free(pl->nkeys);
	free(pl->gram_in);
	memset(pl, 0, sizeof(*pl));
}

static size_t pow2_at_least(size_t n)
{
	size_t c = 16;

	while (c < n)
		c *= 2;
	return c;
}

static size_t align64(size_t bytes)
{
	return (bytes + 63) / 64 * 64;
}

/* Bytes plan_alloc takes for cap inputs (virtual: a large table is only
 * touched as far as a batch's classes reach). */
static size_t plan_bytes(const struct model *m, const struct lin_spec *ls,
			 size_t cap)
{
	size_t L = ls->L, C = cap * L;
	size_t first = !lin_first_table_ok(ls) ? 0
		: cap * L * sizeof(uint32_t) + C * sizeof(struct lin_tuple) +
		  pow2_at_least(2 * C) * sizeof(uint32_t) +
		  align64(C * ls->layer[0].rw * 16 * sizeof(float)) +
		  (lin_gram_ok(ls) ? C * (LIN_GRAM_MAXK * 2 + 1) + cap : 0);

	return cap * L * sizeof(uint32_t) + C * sizeof(struct lin_class) +
	       pow2_at_least(2 * C) * sizeof(uint32_t) +
	       C * (m->spec.token_dim + 1) * sizeof(float) +
	       C * ls->W * sizeof(float) +
	       align64(C * ls->tw * 16 * sizeof(float)) + first;
}

static int plan_alloc(const struct model *m, const struct lin_spec *ls,
		      struct lin_plan *pl, size_t cap)
{
	size_t L = ls->L, C = cap * L;

	memset(pl, 0, sizeof(*pl));
	pl->cap_inputs = cap;
	pl->cap_classes = C;
	pl->hash_cap = pow2_at_least(2 * C);
	pl->cls = malloc(cap * L * sizeof(uint32_t));
	pl->cl = malloc(C * sizeof(struct lin_class));
	pl->hash = malloc(pl->hash_cap * sizeof(uint32_t));
	pl->tok = malloc(C * (m->spec.token_dim + 1) * sizeof(float));
	pl->tokpart = malloc(C * ls->W * sizeof(float));
	pl->table = aligned_alloc(64, align64(C * ls->tw * 16 * sizeof(float)));
	if (!pl->cls || !pl->cl || !pl->hash || !pl->tok || !pl->tokpart ||
	    !pl->table)
		goto fail;
	if (lin_first_table_ok(ls)) {
		pl->tup = malloc(cap * L * sizeof(uint32_t));
		pl->tl = malloc(C * sizeof(struct lin_tuple));
		pl->thash = malloc(pl->hash_cap * sizeof(uint32_t));
		pl->ttab = aligned_alloc(64, align64(C * ls->layer[0].rw * 16 *
						     sizeof(float)));
		if (!pl->tup || !pl->tl || !pl->thash || !pl->ttab)
			goto fail;
	}
	if (lin_gram_ok(ls)) {
		pl->keys = malloc(C * LIN_GRAM_MAXK * sizeof(uint16_t));
		pl->nkeys = malloc(C);
		pl->gram_in = malloc(cap);
		if (!pl->keys || !pl->nkeys || !pl->gram_in)
			goto fail;
	}
	return 0;
fail:
	plan_free(pl);
	return RANDES_ENOMEM;
}

/* FNV-1a over 32-bit words. */
static uint64_t hash_words(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		uint32_t w;

		memcpy(&w, b + 4 * i, 4);
		h = (h ^ w) * 0x100000001b3ull;
	}
	return h;
}

/*
 * The keys of query p of input i under the graph mask (n, L, L), in
 * position order: their positions into kpos and their classes into kcls;
 * returns how many.
 */
static size_t tuple_keys(const struct lin_plan *pl, size_t L,
			 const uint8_t *gmask, size_t i, size_t p,
			 uint16_t *kpos, uint32_t *kcls)
{
	const uint8_t *mr = gmask + (i * L + p) * L;
	size_t nk = 0;

	for (size_t q = 0; q < L; q++)
		if (mr[q]) {
			kpos[nk] = (uint16_t)q;
			kcls[nk] = pl->cls[i * L + q];
			nk++;
		}
	return nk;
}

/*
 * The first-layer tuples of input i, whose classes are planned: two
 * queries share a tuple when their classes are equal and so are their
 * keys' classes, in order (then the first layer's output there is the
 * same function of the seed, lin_first_row).
 */
static void plan_tuples(struct lin_plan *pl, size_t L, const uint8_t *gmask,
			size_t i)
{
	const size_t mask = pl->hash_cap - 1;
	uint16_t kpos[LIN_MAX_L];
	uint32_t kc[LIN_MAX_L], kc2[LIN_MAX_L];

	if (pl->gram_in)
		pl->gram_in[i] = 1;
	for (size_t p = 0; p < L; p++) {
		uint32_t qc = pl->cls[i * L + p], nk32, t;
		size_t nk = tuple_keys(pl, L, gmask, i, p, kpos, kc), slot;
		uint64_t h = 0xcbf29ce484222325ull;

		/* the keys' positions for the Gram form (the search below
		 * reuses kpos) */
		if (pl->keys && nk <= LIN_GRAM_MAXK) {
			memcpy(pl->keys + (i * L + p) * LIN_GRAM_MAXK, kpos,
			       nk * sizeof(uint16_t));
			pl->nkeys[i * L + p] = (uint8_t)nk;
		} else if (pl->keys) {
			pl->gram_in[i] = 0;
		}
		nk32 = (uint32_t)nk;
		h = hash_words(h, &qc, 1);
		h = hash_words(h, &nk32, 1);
		h = hash_words(h, kc, nk);
		slot = (size_t)(h ^ (h >> 29)) & mask;
		for (;;) {
			uint32_t e = pl->thash[slot];
			const struct lin_tuple *k;

			if (e == 0) {
				t = (uint32_t)pl->n_tuples++;
				pl->tl[t] = (struct lin_tuple){
					.input = (uint32_t)i, .pos = (uint32_t)p};
				pl->thash[slot] = t + 1;
				break;
			}
			k = &pl->tl[e - 1];
			if (pl->cls[k->input * L + k->pos] == qc &&
			    tuple_keys(pl, L, gmask, k->input, k->pos, kpos,
				       kc2) == nk &&
			    !memcmp(kc, kc2, nk * sizeof(uint32_t))) {
				t = e - 1;
				break;
			}
			slot = (slot + 1) & mask;
		}
		pl->tup[i * L + p] = t;
	}
}

/*
 * Classes of the n inputs (feat (n, Lx, F), index (n, Lx, NI)): two
 * positions share a class when their tokens are bitwise equal and, if the
 * row depends on the position (a positional term, or per-token seed
 * slices), their positions are equal; every first_token seed position is
 * one class.
 */
static void plan_build(const struct model *m, const struct lin_spec *ls,
		       struct lin_plan *pl, const float *feat,
		       const int32_t *index, const uint8_t *gmask, size_t n)
{
	const struct model_spec *s = &m->spec;
	const size_t L = ls->L, Lx = ls->Lx, F = s->io.feat;
	const size_t NI = s->io.n_index, skip = ls->skip;
	const int keypos = s->positional != MODEL_POSITIONAL_NONE ||
			   s->rse_placement == RSE_PLACEMENT_PER_TOKEN;
	const size_t mask = pl->hash_cap - 1;
	uint32_t seed_cls = UINT32_MAX;

	RANDES_ASSERT(n <= pl->cap_inputs);
	memset(pl->hash, 0, pl->hash_cap * sizeof(uint32_t));
	pl->n_classes = 0;
	pl->n_tuples = 0;
	if (pl->thash)
		memset(pl->thash, 0, pl->hash_cap * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		for (size_t p = 0; p < L; p++) {
			uint32_t c;

			if (p < skip) {
				if (seed_cls == UINT32_MAX) {
					seed_cls = (uint32_t)pl->n_classes++;
					pl->cl[seed_cls] = (struct lin_class){
						.input = (uint32_t)i, .pos = 0,
						.seed_token = 1, .at_last = 0};
				}
				c = seed_cls;
			} else {
				size_t t = p - skip;
				const float *fr = F ? feat + (i * Lx + t) * F : NULL;
				const int32_t *ir = NI ? index + (i * Lx + t) * NI
						       : NULL;
				uint32_t kp = keypos ? (uint32_t)p : UINT32_MAX;
				uint64_t h = 0xcbf29ce484222325ull;
				size_t slot;

				if (F)
					h = hash_words(h, fr, F);
				if (NI)
					h = hash_words(h, ir, NI);
				h = hash_words(h, &kp, 1);
				slot = (size_t)(h ^ (h >> 29)) & mask;
				for (;;) {
					uint32_t e = pl->hash[slot];
					const struct lin_class *k;
					size_t kt;

					if (e == 0) {
						c = (uint32_t)pl->n_classes++;
						pl->cl[c] = (struct lin_class){
							.input = (uint32_t)i,
							.pos = (uint32_t)p,
							.seed_token = 0,
							.at_last = 0};
						pl->hash[slot] = c + 1;
						break;
					}
					k = &pl->cl[e - 1];
					kt = k->pos - skip;
					if (!k->seed_token &&
					    (!keypos || k->pos == p) &&
					    (!F || !memcmp(feat + (k->input * Lx + kt) * F,
							   fr, F * sizeof(float))) &&
					    (!NI || !memcmp(index + (k->input * Lx + kt) * NI,
							    ir, NI * sizeof(int32_t)))) {
						c = e - 1;
						break;
					}
					slot = (slot + 1) & mask;
				}
			}
			if (p + 1 == L)
				pl->cl[c].at_last = 1;
			pl->cls[i * L + p] = c;
		}
		if (pl->tup)
			plan_tuples(pl, L, gmask, i);
	}
	RANDES_ASSERT(pl->n_classes <= pl->cap_classes);
	RANDES_ASSERT(pl->n_tuples <= pl->cap_classes);
	pl->n_inputs = n;
}

/* --- the workspace ---------------------------------------------------------- */

struct lin_ws {
	struct lin_spec ls;
	size_t chunk_inputs;
	size_t Ls;               /* seed rows per lane: Lx (per_token) or 1  */
	size_t kseed;            /* floats of a seed row fed to W_e          */
	int fold;                /* mlp embedding, no positional: Wf folded  */
	struct lin_plan own;     /* chunks planned here                      */
	struct lin_plan given;   /* lin_plan_set's                          */
	float *wbig;             /* (W, TW)                                  */
	float *bbig;             /* (TW): zeros but b_out                    */
	float *wfold;            /* (W, TW) = W_f Wbig, when fold           */
	float *bfold;            /* (TW) = b_f Wbig + bbig                  */
	float *mrest[MODEL_MAX_LAYERS]; /* (H*Vs, RW_l), unpushed layers   */
	double *dbig;            /* (W, TW) Wbig in double                  */
	double *dtmp;            /* (max(W, H*Vs), TW) products in double   */
	float *pk_top, *pk_bot;  /* packed W_e rows for the ordered GEMM    */
	float *seedp;            /* (16 * Ls, W) seed part, row-major        */
	float *seedt;            /* (Ls, W, 16) seed part by lane            */
	float *h0, *h1;          /* (W, 16) each                             */
	float *xs;               /* (L, TW, 16) one lane block of a sequence */
	float *scratch;          /* lin_seq_scratch floats                   */
	float *pe;               /* (L, W) sinusoidal table                  */
	const float *rows[LIN_MAX_L]; /* table row of each position          */
	const float *trows[LIN_MAX_L + 1]; /* a tuple's query and key rows  */
	int first_table;         /* use the plans' tuples (on by default)    */
	float *gram;             /* (4, LIN_GRAM_MAXC^2, 16) when Gram form  */
	int use_gram;            /* lin_ws_set_gram                          */
};

size_t lin_seq_scratch(const struct lin_spec *ls)
{
	size_t st = 0;

	for (size_t l = 0; l < ls->NL; l++)
		if (ls->layer[l].recurrent &&
		    ls->H * ls->K * ls->layer[l].vw > st)
			st = ls->H * ls->K * ls->layer[l].vw;
	return 16 * (ls->H * LIN_PAIRS_CAP + ls->H * ls->Vs + st);
}

/* Every buffer but the plans, as one list (sizes in floats). */
#define LW_BUFS(X)                                                         \
	X(wbig, W * TW)                                                    \
	X(bbig, TW)                                                        \
	X(wfold, W * TW)                                                   \
	X(bfold, TW)                                                       \
	X(pk_top, blas_pack_floats(T ? T : 1, W))                          \
	X(pk_bot, blas_pack_floats(kseed ? kseed : 1, W))                  \
	X(seedp, 16 * Ls * W)                                              \
	X(seedt, Ls * W * 16)                                              \
	X(h0, W * 16)                                                      \
	X(h1, W * 16)                                                      \
	X(xs, ls->L * TW * 16)                                             \
	X(scratch, lin_seq_scratch(ls))                                    \
	X(pe, ls->L * W)

static size_t lw_floats(const struct model *m, const struct lin_spec *ls,
			size_t Ls, size_t kseed)
{
	const size_t W = ls->W, TW = ls->tw, T = m->spec.token_dim;
	size_t n = 0;

#define X_COUNT(name, count) n += ((count) + 15) / 16 * 16;
	LW_BUFS(X_COUNT)
#undef X_COUNT
	for (size_t l = 0; l < ls->NL; l++)
		if (!ls->layer[l].pushed)
			n += (ls->H * ls->Vs * ls->layer[l].rw + 15) / 16 * 16;
	return n;
}

static void seed_shape(const struct model *m, size_t *Ls, size_t *kseed)
{
	const struct model_spec *s = &m->spec;

	*Ls = s->rse_placement == RSE_PLACEMENT_PER_TOKEN ? s->io.seq_len : 1;
	*kseed = s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN ? s->token_dim
							     : s->rse_dim;
}

/* Doubles of dbig (W, TW) and dtmp (max(W, H*Vs), TW): dtmp holds
 * W_o . Wbig products (H*Vs rows, or Vs per head) and the fold (W rows). */
static size_t dbl_floats(const struct lin_spec *ls)
{
	size_t rows = ls->H * ls->Vs > ls->W ? ls->H * ls->Vs : ls->W;

	return (ls->W + rows) * ls->tw;
}

size_t lin_ws_bytes(const struct model *m, size_t chunk_inputs)
{
	struct lin_spec ls;
	size_t Ls, kseed;

	if (!lin_spec_init(m, &ls))
		return 0;
	seed_shape(m, &Ls, &kseed);
	return sizeof(struct lin_ws) +
	       lw_floats(m, &ls, Ls, kseed) * sizeof(float) +
	       dbl_floats(&ls) * sizeof(double) + 64 +
	       plan_bytes(m, &ls, chunk_inputs ? chunk_inputs : 1);
}

struct lin_ws *lin_ws_new(const struct model *m, size_t chunk_inputs)
{
	struct lin_ws *lw = calloc(1, sizeof(*lw));
	const struct lin_spec *ls;
	size_t W, TW, T = m->spec.token_dim, Ls, kseed, total;
	float *base;

	if (!lw)
		return NULL;
	if (!lin_spec_init(m, &lw->ls)) {
		free(lw);
		return NULL;
	}
	ls = &lw->ls;
	W = ls->W;
	TW = ls->tw;
	seed_shape(m, &Ls, &kseed);
	lw->Ls = Ls;
	lw->kseed = kseed;
	lw->chunk_inputs = chunk_inputs ? chunk_inputs : 1;
	lw->first_table = 1;
	lw->fold = m->spec.embed == MODEL_EMBED_MLP &&
		   m->spec.positional == MODEL_POSITIONAL_NONE;
	total = lw_floats(m, ls, Ls, kseed);
	/* One zeroed block for every float buffer (padding lanes and unused
	 * columns are then never uninitialised). */
	base = aligned_alloc(64, align64(total * sizeof(float)));
	lw->dbig = malloc(dbl_floats(ls) * sizeof(double) + 16);
	if (!base || !lw->dbig) {
		free(base);
		free(lw->dbig);
		free(lw);
		return NULL;
	}
	memset(base, 0, total * sizeof(float));
	lw->dtmp = lw->dbig + W * TW;
	{
		size_t cur = 0;
#define X_CARVE(name, count)                                               \
	lw->name = base + cur;                                             \
	cur += ((count) + 15) / 16 * 16;
		LW_BUFS(X_CARVE)
#undef X_CARVE
		for (size_t l = 0; l < ls->NL; l++)
			if (!ls->layer[l].pushed) {
				lw->mrest[l] = base + cur;
				cur += (ls->H * ls->Vs * ls->layer[l].rw + 15) /
				       16 * 16;
			}
	}
	if (m->spec.positional == MODEL_POSITIONAL_SINUSOIDAL)
		model_pe_fill(lw->pe, ls->L, W);
	if (plan_alloc(m, ls, &lw->own, lw->chunk_inputs) < 0) {
		lin_ws_free(lw);
		return NULL;
	}
	return lw;
}

void lin_ws_free(struct lin_ws *lw)
{
	if (!lw)
		return;
	plan_free(&lw->own);
	plan_free(&lw->given);
	free(lw->wbig); /* the base of the float block */
	free(lw->dbig);
	free(lw->gram);
	free(lw);
}

int lin_plan_set(struct lin_ws *lw, const struct model *m,
		 const struct model_batch *b)
{
	struct lin_plan *pl = &lw->given;
	size_t n = b->n_inputs;

	pl->valid = 0;
	if (n > pl->cap_inputs) {
		plan_free(pl);
		if (plan_alloc(m, &lw->ls, pl, n) < 0)
			return RANDES_ENOMEM;
	}
	if (n == 0)
		return 0;
	plan_build(m, &lw->ls, pl, b->feat, b->index, b->mask, n);
	pl->feat = b->feat;
	pl->index = b->index;
	pl->mask = b->mask;
	pl->valid = 1;
	return 0;
}

void lin_plan_clear(struct lin_ws *lw)
{
	lw->given.valid = 0;
}

size_t lin_plan_classes(const struct lin_ws *lw)
{
	return lw->given.valid ? lw->given.n_classes : 0;
}

size_t lin_plan_tuples(const struct lin_ws *lw)
{
	return lw->given.valid ? lw->given.n_tuples : 0;
}

void lin_ws_set_first_table(struct lin_ws *lw, int enable)
{
	lw->first_table = enable ? 1 : 0;
}

int lin_ws_set_gram(struct lin_ws *lw, int enable)
{
	lw->use_gram = 0;
	if (!enable || !lin_gram_ok(&lw->ls))
		return 0;
	if (!lw->gram) {
		lw->gram = aligned_alloc(64, 4 * LIN_GRAM_MAXC * LIN_GRAM_MAXC *
					     16 * sizeof(float));
		if (!lw->gram)
			return RANDES_ENOMEM;
	}
	lw->use_gram = 1;
	return 0;
}

/* --- merged weights ---------------------------------------------------------- */

/*
 * dst (rows, n) = a (rows, k) . b (k, n), a float, b and dst double,
 * row-major with leading dimensions; sums in index order in double.
 */
static void fdgemm(size_t rows, size_t n, size_t k, const float *a,
		   size_t lda, const double *b, size_t ldb, double *dst,
		   size_t ldd)
{
	for (size_t i = 0; i < rows; i++) {
		size_t j = 0;

		/* four columns at once: independent sums, each in r order */
		for (; j + 4 <= n; j += 4) {
			double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
			for (size_t r = 0; r < k; r++) {
				const double av = (double)a[i * lda + r];
				const double *br = b + r * ldb + j;
				s0 += av * br[0];
				s1 += av * br[1];
				s2 += av * br[2];
				s3 += av * br[3];
			}
			dst[i * ldd + j] = s0;
			dst[i * ldd + j + 1] = s1;
			dst[i * ldd + j + 2] = s2;
			dst[i * ldd + j + 3] = s3;
		}
		for (; j < n; j++) {
			double s = 0.0;
			for (size_t r = 0; r < k; r++)
				s += (double)a[i * lda + r] * b[r * ldb + j];
			dst[i * ldd + j] = s;
		}
	}
}

/*
 * Wbig in double, right to left: head columns W_out; per layer, from the
 * last: Q columns W_q, pushed V columns W_v[:, head h] . (W_o[head h rows]
 * . Wbig[:, down:]) per head, or W_v, and K columns W_k.  Then Mrest, the
 * float copies, and the MLP fold.
 */
static void weights_prepare(const struct model *m, const float *theta,
			    struct lin_ws *lw)
{
	const struct model_spec *s = &m->spec;
	const struct model_offsets *o = &m->off;
	const struct lin_spec *ls = &lw->ls;
	const size_t W = ls->W, TW = ls->tw, H = ls->H, K = ls->K;
	const size_t Vs = ls->Vs, O = ls->O, HK = H * K, HV = H * Vs;
	double *big = lw->dbig; /* (W, TW) */

	for (size_t w = 0; w < W; w++)
		for (size_t c = 0; c < O; c++)
			big[w * TW + ls->head + c] =
				(double)theta[o->head_w + w * O + c];
	for (size_t l = ls->NL; l-- > 0;) {
		const struct lin_layer *ly = &ls->layer[l];
		const struct model_layer_offsets *lo = &o->layer[l];
		size_t kc = ly->off, vc = kc + HK, qc = vc + H * ly->vw;

		for (size_t w = 0; w < W; w++) {
			for (size_t c = 0; c < HK; c++) {
				big[w * TW + kc + c] =
					(double)theta[lo->wk + w * HK + c];
				big[w * TW + qc + c] =
					(double)theta[lo->wq + w * HK + c];
			}
		}
		if (!ly->pushed) {
			for (size_t w = 0; w < W; w++)
				for (size_t c = 0; c < HV; c++)
					big[w * TW + vc + c] =
						(double)theta[lo->wv + w * HV + c];
			continue;
		}
		for (size_t h = 0; h < H; h++) {
			/* dtmp (Vs, rw) = W_o[h*Vs .. , :] . Wbig[:, down:] */
			fdgemm(Vs, ly->rw, W, theta + lo->wo + h * Vs * W, W,
			       big + ly->down, TW, lw->dtmp, ly->rw);
			/* V columns of head h: W_v[:, h] . dtmp */
			fdgemm(W, ly->rw, Vs, theta + lo->wv + h * Vs, HV,
			       lw->dtmp, ly->rw, big + vc + h * ly->vw, TW);
		}
	}
	for (size_t l = 0; l < ls->NL; l++) {
		const struct lin_layer *ly = &ls->layer[l];

		if (ly->pushed)
			continue;
		fdgemm(HV, ly->rw, W, theta + o->layer[l].wo, W,
		       big + ly->down, TW, lw->dtmp, ly->rw);
		for (size_t i = 0; i < HV * ly->rw; i++)
			lw->mrest[l][i] = (float)lw->dtmp[i];
	}
	for (size_t i = 0; i < W * TW; i++)
		lw->wbig[i] = (float)big[i];
	memset(lw->bbig, 0, TW * sizeof(float));
	memcpy(lw->bbig + ls->head, theta + o->head_b, O * sizeof(float));
	if (lw->fold) {
		/* Wfold = W_f Wbig, bfold = b_f Wbig + bbig. */
		fdgemm(W, TW, W, theta + o->embed_w2, W, big, TW, lw->dtmp, TW);
		for (size_t i = 0; i < W * TW; i++)
			lw->wfold[i] = (float)lw->dtmp[i];
		fdgemm(1, TW, W, theta + o->embed_b2, W, big, TW, lw->dtmp, TW);
		for (size_t c = 0; c < TW; c++)
			lw->bfold[c] = (float)(lw->dtmp[c] +
					       (double)lw->bbig[c]);
	}
	if (s->embed != MODEL_EMBED_NONE) {
		const float *we = theta + o->embed_w; /* (Din, W) */

		if (s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN) {
			blas_pack_b(s->din, W, we, W, lw->pk_top);
		} else {
			if (s->token_dim)
				blas_pack_b(s->token_dim, W, we, W, lw->pk_top);
			if (s->rse_dim)
				blas_pack_b(s->rse_dim, W, we + s->token_dim * W,
					    W, lw->pk_bot);
		}
	}
}

/* --- tables ------------------------------------------------------------------ */

/* Task tokens and their part of the input embedding, once per class. */
static void tokens_prepare(const struct model *m, const float *theta,
			   const struct model_batch *b, struct lin_ws *lw,
			   struct lin_plan *pl)
{
	const struct model_spec *s = &m->spec;
	const size_t T = s->token_dim, Lx = s->io.seq_len, F = s->io.feat;
	const size_t NI = s->io.n_index, W = lw->ls.W, skip = lw->ls.skip;

	for (size_t c = 0; c < pl->n_classes; c++) {
		const struct lin_class *k = &pl->cl[c];
		size_t t = k->pos - skip;

		if (k->seed_token) {
			memset(pl->tok + c * T, 0, T * sizeof(float));
			continue;
		}
		model_token_build(m, theta,
				  F ? b->feat + (k->input * Lx + t) * F : NULL,
				  NI ? b->index + (k->input * Lx + t) * NI : NULL,
				  pl->tok + c * T);
	}
	if (s->embed == MODEL_EMBED_NONE)
		return; /* the tokens are used as they are */
	/* pk_top: W_e[:T], or all of W_e with first_token (the seed class's
	 * row, zero, is computed and never read) */
	blas_gemm_packed(pl->n_classes, W, T, pl->tok, T, lw->pk_top, NULL, 0,
			 pl->tokpart, W);
}

/*
 * The seed part of the input embedding for lanes j0 .. j0+nj-1 into seedt
 * (Ls, W, 16), lanes past nj repeating the last seed.
 */
static void seeds_prepare(const struct model *m, const struct model_batch *b,
			  struct lin_ws *lw, size_t j0, size_t nj)
{
	const struct model_spec *s = &m->spec;
	const size_t W = lw->ls.W, Ls = lw->Ls, S = s->seed_size;

	if (s->embed == MODEL_EMBED_NONE || !S)
		return;
	/* seed j's rows: every_token R floats at j*S; per_token Lx rows of
	 * R at j*S + t*R (contiguous across j since S = Lx R); first_token
	 * T floats at j*S */
	blas_gemm_packed(nj * Ls, W, lw->kseed, b->seed + j0 * S, lw->kseed,
			 s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN
				 ? lw->pk_top : lw->pk_bot,
			 NULL, 0, lw->seedp, W);
	for (size_t t = 0; t < Ls; t++)
		for (size_t w = 0; w < W; w++)
			for (size_t l = 0; l < 16; l++) {
				size_t j = l < nj ? l : nj - 1;
				lw->seedt[(t * W + w) * 16 + l] =
					lw->seedp[(j * Ls + t) * W + w];
			}
}

/*
 * h0 (W, 16) of class k for lanes j0 .. j0+15 (past nj: the last seed):
 *   none:   X itself ([token | seed slice], or the seed / the token with
 *           first_token);
 *   else:   (token part + seed part) + b_e, or one of them + b_e with
 *           first_token.
 */
static void h0_build(const struct model *m, const float *theta,
		     const struct model_batch *b, const struct lin_ws *lw,
		     const struct lin_plan *pl, size_t c, size_t j0,
		     size_t nj, float *h0)
{
	const struct model_spec *s = &m->spec;
	const struct lin_class *k = &pl->cl[c];
	const size_t W = lw->ls.W, T = s->token_dim, R = s->rse_dim;
	const size_t S = s->seed_size;
	const int first = s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN;
	const int per = s->rse_placement == RSE_PLACEMENT_PER_TOKEN;
	const float *tok = pl->tok + c * T;
	const float *be = theta + m->off.embed_b;

	if (s->embed == MODEL_EMBED_NONE) {
		for (size_t l = 0; l < 16; l++) {
			size_t j = j0 + (l < nj ? l : nj - 1);
			const float *seed = S ? b->seed + j * S : NULL;

			for (size_t w = 0; w < W; w++) {
				float v;
				if (first)
					v = k->seed_token ? seed[w] : tok[w];
				else if (w < T)
					v = tok[w];
				else
					v = seed[(per ? k->pos * R : 0) + w - T];
				h0[w * 16 + l] = v;
			}
		}
		return;
	}
	if (first)
		lin_embed_sum(W, k->seed_token ? NULL : pl->tokpart + c * W,
			      k->seed_token ? lw->seedt : NULL, be, h0);
	else
		lin_embed_sum(W, pl->tokpart + c * W,
			      S ? lw->seedt + (per ? k->pos : 0) * W * 16 : NULL,
			      be, h0);
}

/* Adds the positional term of position p to h (W, 16). */
static void pos_add16(const struct model *m, const float *theta,
		      const struct lin_ws *lw, size_t p, float *h)
{
	const struct model_spec *s = &m->spec;
	const size_t W = lw->ls.W;
	const float *pe;

	if (s->positional == MODEL_POSITIONAL_NONE)
		return;
	pe = s->positional == MODEL_POSITIONAL_SINUSOIDAL
		     ? lw->pe + p * W
		     : theta + m->off.pos + p * W;
	lin_add_row(W, pe, h);
}

/* Table rows (TW, 16) of every class of pl for lanes j0 .. j0+15. */
static void table_build(const struct model *m, const float *theta,
			const struct model_batch *b, struct lin_ws *lw,
			struct lin_plan *pl, size_t j0, size_t nj)
{
	const struct model_spec *s = &m->spec;
	const struct lin_spec *ls = &lw->ls;
	const size_t W = ls->W, TW = ls->tw;
	const struct model_kernels *kt = model_kernels_ordered();

	for (size_t c = 0; c < pl->n_classes; c++) {
		const struct lin_class *k = &pl->cl[c];
		size_t ncols = ls->last && !k->at_last ? ls->tw_short : TW;
		float *row = pl->table + c * TW * 16;
		float *h = lw->h0;

		if (ncols == 0)
			continue;
		h0_build(m, theta, b, lw, pl, c, j0, nj, lw->h0);
		if (s->embed == MODEL_EMBED_MLP) {
			kt->gelu(lw->h0, W * 16);
			if (lw->fold) {
				lin_soa_gemm(W, ncols, lw->h0, lw->wfold, TW,
					     lw->bfold, row);
				continue;
			}
			lin_soa_gemm(W, W, lw->h0, theta + m->off.embed_w2, W,
				     theta + m->off.embed_b2, lw->h1);
			h = lw->h1;
		}
		pos_add16(m, theta, lw, k->pos, h);
		lin_soa_gemm(W, ncols, h, lw->wbig, TW, lw->bbig, row);
	}
}

/* --- the pass ------------------------------------------------------------------ */

/*
 * Inputs 0 .. pl->n_inputs-1 of b (planned in pl), all seeds; logits of
 * input i go to sequence (i0 + i) * NS + j.
 */
static void plan_run(const struct model *m, const float *theta,
		     const struct model_batch *b, struct lin_ws *lw,
		     struct lin_plan *pl, size_t i0, float *logits)
{
	const struct lin_spec *ls = &lw->ls;
	const size_t L = ls->L, Lx = ls->Lx, TW = ls->tw, O = ls->O;
	const size_t NS = b->n_seeds, row = TW * 16;
	const size_t trow = ls->layer[0].rw * 16;
	const float *const *mrest = (const float *const *)lw->mrest;
	/* the first layer from the tuples' table, or in lin_seq */
	const int first = lw->first_table && pl->tup && pl->n_tuples;
	/* the last layer in the Gram form (lin_ws_set_gram), for the
	 * inputs without a query of more than LIN_GRAM_MAXK keys (the others
	 * take lin_seq from the first layer on: the exact path's bits) */
	const int gram = first && lw->use_gram && pl->keys &&
			 pl->n_classes <= LIN_GRAM_MAXC;

	tokens_prepare(m, theta, b, lw, pl);
	for (size_t j0 = 0; j0 < NS; j0 += 16) {
		size_t nj = NS - j0 < 16 ? NS - j0 : 16;

		seeds_prepare(m, b, lw, j0, nj);
		table_build(m, theta, b, lw, pl, j0, nj);
		if (gram)
			lin_gram_tables(ls, pl->table, pl->n_classes, lw->gram);
		for (size_t t = 0; first && t < pl->n_tuples; t++) {
			const struct lin_tuple *tp = &pl->tl[t];
			const uint32_t *cls = pl->cls + (size_t)tp->input * L;
			const uint8_t *mr = b->mask +
					    ((size_t)tp->input * L + tp->pos) * L;
			size_t nk = 0;

			lw->trows[0] = pl->table + cls[tp->pos] * row;
			for (size_t q = 0; q < L; q++)
				if (mr[q])
					lw->trows[1 + nk++] =
						pl->table + cls[q] * row;
			if (gram && nk > LIN_GRAM_MAXK)
				continue; /* only its input's lin_seq uses it */
			if (gram)
				lin_first_row_g(ls, lw->trows, nk,
						pl->ttab + t * trow,
						lw->scratch);
			else
				lin_first_row(ls, lw->trows, nk,
					      pl->ttab + t * trow, lw->scratch);
		}
		for (size_t i = 0; i < pl->n_inputs; i++) {
			const uint32_t *cls = pl->cls + i * L;
			const uint8_t *mask = ls->mask == MODEL_MASK_GRAPH
						      ? b->mask + i * L * L
						      : NULL;
			/* the logits: in xs after a layer, else in the rows */
			const float *out = ls->NL ? lw->xs : NULL;

			if (gram && !pl->gram_in[i]) {
				for (size_t p = 0; p < L; p++)
					lw->rows[p] = pl->table + cls[p] * row;
				lin_seq(ls, mrest, mask, lw->rows, lw->xs,
					lw->scratch);
			} else if (first) {
				const uint32_t *tup = pl->tup + i * L;

				for (size_t p = 0; p < L; p++)
					lw->rows[p] = pl->ttab + tup[p] * trow;
				if (gram)
					lin_seq_g(ls, lw->gram, pl->n_classes,
						  cls, lw->rows,
						  pl->keys + i * L * LIN_GRAM_MAXK,
						  pl->nkeys + i * L, lw->xs);
				else
					lin_seq_from(ls, 1, mrest, mask,
						     lw->rows, lw->xs,
						     lw->scratch);
			} else {
				for (size_t p = 0; p < L; p++)
					lw->rows[p] = pl->table + cls[p] * row;
				lin_seq(ls, mrest, mask, lw->rows, lw->xs,
					lw->scratch);
			}
			for (size_t l = 0; l < nj; l++) {
				size_t sq = (i0 + i) * NS + j0 + l;

				if (ls->last) {
					const float *x = (out ? out + (L - 1) * row
							      : lw->rows[L - 1]) +
							 ls->head * 16 + l;
					for (size_t o = 0; o < O; o++)
						logits[sq * O + o] = x[o * 16];
					continue;
				}
				for (size_t t = 0; t < Lx; t++) {
					size_t p = t + ls->skip;
					const float *x = (out ? out + p * row
							      : lw->rows[p]) +
							 ls->head * 16 + l;
					float *dst = logits + (sq * Lx + t) * O;

					if (O == 3) {
						/* colouring: no loop of 3 */
						dst[0] = x[0];
						dst[1] = x[16];
						dst[2] = x[32];
						continue;
					}
					for (size_t o = 0; o < O; o++)
						dst[o] = x[o * 16];
				}
			}
		}
	}
}

void lin_forward(const struct model *m, const float *theta,
		 const struct model_batch *b, struct lin_ws *lw,
		 float *logits)
{
	const struct model_spec *s = &m->spec;
	const struct lin_plan *g = &lw->given;
	const size_t L = lw->ls.L, Lx = s->io.seq_len;
	const size_t F = s->io.feat, NI = s->io.n_index;

	if (b->n_inputs == 0 || b->n_seeds == 0)
		return;
	weights_prepare(m, theta, lw);
	if (g->valid && g->n_inputs == b->n_inputs && g->feat == b->feat &&
	    g->index == b->index && g->mask == b->mask) {
		plan_run(m, theta, b, lw, &lw->given, 0, logits);
		return;
	}
	for (size_t i0 = 0; i0 < b->n_inputs; i0 += lw->chunk_inputs) {
		size_t n = b->n_inputs - i0 < lw->chunk_inputs
				   ? b->n_inputs - i0 : lw->chunk_inputs;
		struct model_batch sub = *b;

		sub.n_inputs = n;
		if (F)
			sub.feat = b->feat + i0 * Lx * F;
		if (NI)
			sub.index = b->index + i0 * Lx * NI;
		if (s->io.mask == MODEL_MASK_GRAPH)
			sub.mask = b->mask + i0 * L * L;
		plan_build(m, &lw->ls, &lw->own, sub.feat, sub.index, sub.mask,
			   n);
		plan_run(m, theta, &sub, lw, &lw->own, i0, logits);
	}
}
