/*
 * model_lin: the attention-only fast path of model_forward (internal to
 * src/common; model.c and the tests include it, nothing else should).
 *
 * What it does: for a model whose blocks are pure linear attention (no
 * block MLP, no LayerNorm; any embedding, positional encoding, seed
 * placement, heads and layer count), it computes the same function as
 * model_forward_ref through three exact rewrites (docs/model.md section 8):
 *
 *   1. Tabulation.  Everything before the first attention is a function of
 *      one token and its seed: the embedding (MLP included), the positional
 *      term, and every projection of the first layer's input.  A batch has
 *      few distinct (token content, position where it matters) "classes"
 *      (recall N = 20: 660 over 10,752 token instances; C10: 10 over 2,560),
 *      so a plan maps each (input, position) to its class once per batch,
 *      and per member a table holds one row per (class, seed).
 *   2. Merged linear maps.  Without MLPs and norms the residual stream is
 *      H^l = H^0 + sum_{l'<l} Y^l' Wo^l', so every projection a later layer
 *      or the head takes of it is H^0 P + sum Y^l' (Wo^l' P): the table holds
 *      H^0 P for every later P, and each layer's attention output Y (H*Vs
 *      floats) is multiplied by one merged matrix Wo P of all the columns
 *      downstream.  The last layer's values are taken through Wo Wout
 *      directly (O floats per head), and with a graph mask so are the first
 *      layer's ("pushed": sum_q s_q (V_q R) instead of (sum_q s_q V_q) R,
 *      cheaper when a query has few keys).
 *   3. Small attention.  Causal or full attention over all queries runs in
 *      its recurrent form (a K x Vs state per head) when that is cheaper;
 *      with MODEL_OUTPUT_LAST the last layer computes only the last query.
 *   4. The first-layer table.  With a graph mask (pushed, direct first
 *      layer) the first layer's output at a query depends only on the
 *      table rows of the query and its keys: the plan also finds the
 *      distinct (query class, key classes) "tuples" (C10: <= 360 for the
 *      2,560 queries of 256 cycles), each is computed once per lane block
 *      (lin_first_row) and the sequences run from the second layer.
 *   5. The Gram form (on request only: the colouring task's float
 *      numerics): the last layer's scores expanded through the pushed
 *      first layer into per-lane-block tables over class pairs (below,
 *      lin_ws_set_gram); not the exact path's bits.
 *
 * Layout: lanes are seeds.  Sequences (i, j) for a block of LIN_LANES
 * seeds of one input share the input's classes and mask, so the table is
 * stored (class, column, lane) and every lane of every operation is one
 * sequence doing the scalar arithmetic: results do not depend on the vector
 * width (AVX-512, AVX2 and the x86-64 baseline give the same bits), on the
 * batch, or on how it is planned or chunked.  Products are never fused
 * (-ffp-contract=off), sums run in a fixed order.
 *
 * Not used for causal masks with MODEL_OUTPUT_EVERY: roll-outs promise the
 * full pass's bits there, and they keep the generic kernels.
 *
 * Dimension letters follow model.h; here also C classes, TW table columns,
 * RW columns downstream of a layer, NL layers.
 */
#ifndef RANDES_MODEL_LIN_H
#define RANDES_MODEL_LIN_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Seeds per lane block: one AVX-512 vector (two AVX2, four SSE2). */
#define LIN_LANES 16

/* Upper bound on table columns (the model is refused beyond it). */
#define LIN_MAX_TW 4096

/* Longest sequence the fast path takes (positions L). */
#define LIN_MAX_L 1024

/* (Query, key) pairs whose scores the direct form computes together (a
 * query's keys never split, so a group holds up to LIN_PAIRS + L - 1). */
#define LIN_PAIRS 64
#define LIN_PAIRS_CAP (LIN_PAIRS + LIN_MAX_L)

/* Inputs per internally planned chunk when model_forward gets no plan. */
#define LIN_CHUNK_INPUTS 64

/* How one layer is computed (a function of the spec alone). */
struct lin_layer {
	int pushed;       /* V columns already carry Wo R: Y adds to X as is */
	int recurrent;    /* state form: causal prefix or full-mask global   */
	int last_only;    /* the last layer with MODEL_OUTPUT_LAST           */
	size_t off;       /* first column of the block [K (HK) | V | Q (HK)] */
	size_t vw;        /* V columns per head: Vs, or RW when pushed       */
	size_t down;      /* first column downstream (= off + block width)   */
	size_t rw;        /* columns downstream: down .. TW-1                */
	size_t rw_short;  /* of those, needed at positions < L-1            */
};

/* The fast path's plan of computation for a model. */
struct lin_spec {
	size_t L, Lx, W, H, K, Vs, O, NL;
	size_t skip;      /* model positions without output (first_token: 1) */
	int last;         /* MODEL_OUTPUT_LAST                               */
	enum model_mask mask;
	size_t tw;        /* table columns TW                                */
	size_t tw_short;  /* columns needed at positions < L-1 (LAST), or TW */
	size_t head;      /* first head column (TW - O)                      */
	size_t max_rw;    /* largest RW (scratch sizing)                     */
	struct lin_layer layer[MODEL_MAX_LAYERS];
};

/*
 * Fills *ls and returns 1 when model m can take the fast path (linear
 * attention, no block MLP, no LayerNorm, not causal with every output,
 * TW <= LIN_MAX_TW, L <= LIN_MAX_L); returns 0 otherwise.
 */
int lin_spec_init(const struct model *m, struct lin_spec *ls);

/* Scratch of the fast path: merged weights, plans and tables. */
struct lin_ws;

/* NULL when m is not eligible or on ENOMEM (the caller tells them apart
 * with lin_spec_init).  chunk_inputs: inputs per internal plan. */
struct lin_ws *lin_ws_new(const struct model *m, size_t chunk_inputs);
void lin_ws_free(struct lin_ws *lw);
size_t lin_ws_bytes(const struct model *m, size_t chunk_inputs);

/*
 * Plans the inputs of batch b (n_inputs, feat, index, mask; the seeds are
 * not looked at) once, for every later lin_forward on a batch with the same
 * n_inputs and the same feat, index and mask pointers.  The caller must
 * plan again after changing those inputs (objective_prepare does).  May
 * allocate (the first time, or for a larger batch): returns 0 or
 * RANDES_ENOMEM (the previous plan is dropped then).
 */
int lin_plan_set(struct lin_ws *lw, const struct model *m,
		 const struct model_batch *b);
void lin_plan_clear(struct lin_ws *lw);

/* Classes of the current plan (0 without one); for tests and benches. */
size_t lin_plan_classes(const struct lin_ws *lw);
/* First-layer tuples of the current plan (0 without one or the table). */
size_t lin_plan_tuples(const struct lin_ws *lw);

/*
 * The fast forward pass: same contract as model_forward (logits (B, O) or
 * (B, Lx, O)).  Uses the plan when it matches b, else plans chunks of
 * chunk_inputs inputs itself.  No allocation.
 */
void lin_forward(const struct model *m, const float *theta,
		 const struct model_batch *b, struct lin_ws *lw,
		 float *logits);

/* --- kernels, exposed for tests (dispatched on blas_isa_get()) ---------- */

/*
 * out(N, 16 lanes) = in(K, 16 lanes)^T-per-lane . w(K, N) [+ bias(N)]:
 * for every lane l and column n,
 *     s = 0; for k = 0..K-1: s = s + in[k][l] * w[k*ldw + n]
 *     out[n][l] = bias ? s + bias[n] : s
 * w row-major with leading dimension ldw >= N.  in and out 64-byte aligned.
 */
void lin_soa_gemm(size_t K, size_t N, const float *in, const float *w,
		  size_t ldw, const float *bias, float *out);

/*
 * Runs the layers of one lane block of one sequence.  rows[p] (TW, 16
 * lanes) is the table row of position p (columns >= tw_short of positions
 * < L-1 are not read with LAST); xs (L, TW, 16) receives the columns
 * downstream of the first layer, and so, in the head columns, the logits
 * of every position with an output (with no layer they are the rows').
 * mrest[l] is the merged (H*Vs, RW_l) matrix of an unpushed layer (NULL
 * when pushed); mask (L, L) for MODEL_MASK_GRAPH, else NULL; scratch:
 * lin_seq_scratch floats.  All buffers 64-byte aligned.
 */
void lin_seq(const struct lin_spec *ls, const float *const *mrest,
	     const uint8_t *mask, const float *const *rows, float *xs,
	     float *scratch);
size_t lin_seq_scratch(const struct lin_spec *ls);

/*
 * lin_seq from layer l0 on: with l0 > 0, rows[p] (TW - off_l0, 16 lanes)
 * holds columns layer[l0].off .. TW-1 of position p's input to layer l0
 * (as lin_first_row makes them for l0 = 1); xs receives the columns
 * downstream of layer l0.  lin_seq is l0 = 0.
 */
void lin_seq_from(const struct lin_spec *ls, size_t l0,
		  const float *const *mrest, const uint8_t *mask,
		  const float *const *rows, float *xs, float *scratch);

/*
 * The first-layer table (docs/model.md section 8.2).  With a graph mask
 * the first layer is pushed and direct, so its output at a query is a
 * function of the query's table row and its keys' rows alone:
 * lin_first_row computes it, out (rw_0, 16 lanes) = columns
 * down_0 .. TW-1 of X at the query, from src[0] the query's row and
 * src[1 .. nk] its keys' rows in position order; bit for bit what lin_seq
 * writes there (it calls the same block kernels in the same order).
 * scratch: lin_seq_scratch floats.  lin_first_table_ok: 1 when ls allows
 * it (graph mask, two layers or more, every output); the fast path then
 * plans (query class, key classes) "tuples" and tabulates each once per
 * lane block, unless lin_ws_set_first_table(lw, 0) (tests compare both).
 */
void lin_first_row(const struct lin_spec *ls, const float *const *src,
		   size_t nk, float *out, float *scratch);
int lin_first_table_ok(const struct lin_spec *ls);
void lin_ws_set_first_table(struct lin_ws *lw, int enable);

/*
 * The Gram form of the last layer (docs/model.md section 8.2;
 * task.coloring_numerics: float).  With a graph mask, two layers, one
 * head and the first-layer table, the last layer's scores
 * Q1[p] . K1[q] expand through the pushed first layer into the first
 * layer's scores s0 at p and at q and four per-lane-block tables over
 * class pairs (lin_gram_tables), so a sequence needs per position only
 * its s0 and the last layer's value and head columns (lin_first_row_g)
 * and per (query, key) about 9 table reads instead of a K-long product.
 * Not the bits of lin_seq (the sums are reassociated; tests compare
 * within a tolerance), but the same bits on every instruction set and
 * for every batch, plan and chunking.  Off by default; lin_ws_set_gram
 * turns it on (it may allocate the tables: 0 or RANDES_ENOMEM).  Used
 * when lin_gram_ok and the plan has at most LIN_GRAM_MAXC classes, for
 * every input none of whose queries has more than LIN_GRAM_MAXK keys (the
 * others take lin_seq: the exact path's bits).  Known limit: a plan of
 * more classes takes the exact path for all its inputs, so for such
 * models an input's bits would depend on the plan; the colouring task's
 * plans have N <= 40 classes (one per vertex) and never reach it.
 */
#define LIN_GRAM_MAXC 64
#define LIN_GRAM_MAXK 8
int lin_gram_ok(const struct lin_spec *ls);
int lin_ws_set_gram(struct lin_ws *lw, int enable);

/* g (4, C, C, 16) from the C table rows (TW, 16) of a lane block. */
void lin_gram_tables(const struct lin_spec *ls, const float *table,
		     size_t C, float *g);

/* A tuple's row (LIN_GRAM_MAXK + 2 O, 16): s0 of its nk keys, then the
 * last layer's V and head columns of X (src as lin_first_row). */
void lin_first_row_g(const struct lin_spec *ls, const float *const *src,
		     size_t nk, float *out, float *scratch);

/* The last layer of one lane block from the Gram tables g of C classes:
 * rows[p] the tuple row of position p, cls[p] its class, keys
 * (L, LIN_GRAM_MAXK) the positions of p's nkeys[p] keys in order (the
 * graph mask's row); writes the head columns of xs (L, TW, 16), where
 * lin_seq leaves the logits. */
void lin_seq_g(const struct lin_spec *ls, const float *g, size_t C,
	       const uint32_t *cls, const float *const *rows,
	       const uint16_t *keys, const uint8_t *nkeys, float *xs);

/* Internal helpers shared with model.c. */
void model_pe_fill(float *pe, size_t L, size_t W);
void model_token_build(const struct model *m, const float *theta,
		       const float *feat, const int32_t *index, float *dst);

#endif
