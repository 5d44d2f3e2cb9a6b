/*
 * model: the transformer A_theta(x, r) every task is scored with.
 *
 * What it does: builds the parameter layout from the config's model group
 * and the task's input/output shape (struct model_io), initialises theta as
 * PAPER.md section 2.3 states, and runs the forward pass on a batch of
 * sequences (fast path on OpenBLAS, one preallocated workspace, no
 * allocation) or one token at a time with a KV cache for roll-outs.  A naive
 * reference forward (model_ref.c) defines the semantics; tests hold the fast
 * paths to it.  docs/model.md gives the equations and tensor names.
 *
 * What it does not do: generate task inputs, score outputs, or know about
 * ES or MPI.
 *
 * Dimension legend (used in every shape comment):
 *   B   sequences in a batch (B = NIn * NS: inputs x seeds)
 *   NIn inputs in a batch, NS seeds in a batch
 *   Lx  task tokens per sequence
 *   L   model positions per sequence: Lx, or Lx + 1 with a first_token seed
 *   F   float features per task token
 *   NI  integer (index) features per task token, each with its own table
 *   V   rows per index table (index_vocab), E columns (index_dim)
 *   T   task token width after index embedding: NI*E + F
 *   R   seed-encoding width: dr (every_token, per_token) or T (first_token)
 *   S   floats per seed: R (every_token), Lx*R (per_token), T (first_token)
 *   Din model input width per position: T + R, or T for first_token
 *   W   width, H heads, K key size per head, Vs value size per head
 *   M   MLP hidden width (mlp_ratio * W), O outputs per position
 */
#ifndef RANDES_MODEL_H
#define RANDES_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "params.h"
#include "rng.h"

enum model_mask {
	MODEL_MASK_CAUSAL = 0, /* position p attends to 0..p (diagonal included) */
	MODEL_MASK_GRAPH = 1,  /* a per-input (L, L) 0/1 matrix; no implicit self */
	MODEL_MASK_FULL = 2,   /* every position attends to every position    */
};

enum model_output {
	MODEL_OUTPUT_LAST = 0,  /* logits of the last position only: (B, O)     */
	MODEL_OUTPUT_EVERY = 1, /* logits of every task position: (B, Lx, O)    */
};

/* What a task feeds the model and wants back.  Filled by the task. */
struct model_io {
	size_t seq_len;     /* Lx */
	size_t feat;        /* F  */
	size_t n_index;     /* NI */
	size_t index_vocab; /* V  */
	size_t out_dim;     /* O  */
	enum model_mask mask;
	enum model_output output;
};

/* The resolved model: config + io + derived sizes.  Read-only after init. */
struct model_spec {
	struct model_io io;
	size_t width, layers, heads, key_size, value_size;
	size_t mlp_hidden;            /* M; 0 when model.mlp is false      */
	enum model_embed embed;
	enum model_attention attention;
	int layernorm;
	enum model_positional positional;
	enum rse_kind rse_kind;
	enum rse_placement rse_placement;
	size_t index_dim;             /* E                                  */
	size_t token_dim;             /* T                                  */
	size_t rse_dim;               /* R                                  */
	size_t seed_size;             /* S                                  */
	size_t din;                   /* Din                                */
	size_t seq_total;             /* L                                  */
	double embedding_init_var;
	double weight_init_var;
};

/* Limits of a layout (the tensor table holds PARAMS_MAX_TENSORS names). */
#define MODEL_MAX_LAYERS 16
#define MODEL_MAX_INDEX 8

/* Where each tensor starts in theta; MODEL_ABSENT when the option that
 * creates it is off.  Filled by model_init from the layout. */
#define MODEL_ABSENT ((size_t)-1)

struct model_layer_offsets {
	size_t ln1_g, ln1_b;          /* (W), (W)                          */
	size_t wq, wk, wv;            /* (W, H*K), (W, H*K), (W, H*Vs)     */
	size_t wo;                    /* (H*Vs, W)                         */
	size_t ln2_g, ln2_b;          /* (W), (W)                          */
	size_t w1, b1, w2, b2;        /* (W, M), (M), (M, W), (W)          */
};

struct model_offsets {
	size_t index[MODEL_MAX_INDEX]; /* embed.index.<k>: (V, E)          */
	size_t embed_w, embed_b;       /* (Din, W), (W)                    */
	size_t embed_w2, embed_b2;     /* (W, W), (W)                      */
	size_t pos;                    /* (L, W)                           */
	struct model_layer_offsets layer[MODEL_MAX_LAYERS];
	size_t lnf_g, lnf_b;           /* (W), (W)                         */
	size_t head_w, head_b;         /* (W, O), (O)                      */
};

/* How model_init_theta fills a tensor (docs/model.md, "Initialisation"). */
enum model_init_kind {
	MODEL_INIT_ZERO = 0,
	MODEL_INIT_ONE = 1,
	MODEL_INIT_TRUNC = 2, /* z ~ N(0,1) truncated to [-2, 2], times stddev */
};

struct model_init_rule {
	enum model_init_kind kind;
	double stddev;        /* MODEL_INIT_TRUNC: the multiplier of z      */
};

struct model {
	struct model_spec spec;
	struct params_layout layout;
	struct model_offsets off;                       /* added: offsets  */
	struct model_init_rule init[PARAMS_MAX_TENSORS]; /* per layout entry */
};

/*
 * Resolves the spec and builds the layout.  RANDES_ECONFIG with a message if
 * the combination is impossible (e.g. input_embedding none with Din != W).
 */
int model_init(struct model *m, const struct config_model *cfg,
	       const struct model_io *io, char *err);

/* D, the number of parameters. */
size_t model_n_params(const struct model *m);

/* Initialises theta (D floats) from stream (run_seed, RNG_PURPOSE_INIT). */
void model_init_theta(const struct model *m, uint64_t run_seed, float *theta);

/* Draws one seed encoding (S floats) from s per spec.rse_kind. */
void model_seed_sample(const struct model *m, struct rng_stream *s,
		       float *seed);

/*
 * A batch of B = n_inputs * n_seeds sequences: sequence b = i * n_seeds + j
 * pairs input i with seed j (so all inputs can share the same seeds, and the
 * per-seed part of the embedding can be computed once).
 */
struct model_batch {
	size_t n_inputs, n_seeds;
	const float *feat;     /* (NIn, Lx, F), NULL when F == 0              */
	const int32_t *index;  /* (NIn, Lx, NI), NULL when NI == 0; in [0, V) */
	const float *seed;     /* (NS, S)                                     */
	const uint8_t *mask;   /* (NIn, L, L) for MODEL_MASK_GRAPH, else NULL;
				  mask[p][q] = 1: position p may attend to q  */
};

/* Scratch memory for forward passes and roll-outs, sized once. */
struct model_ws;

/*
 * Sequences per chunk that keep a one-shot forward pass in cache: callers
 * that run larger batches through model_forward size the workspace with
 * min(B, MODEL_WS_CHUNK_SEQS) (roll-outs need max_seqs >= B instead).
 */
#define MODEL_WS_CHUNK_SEQS 256

/*
 * Allocates a workspace for batches processed max_seqs sequences at a time
 * (model_forward takes any B and works through it in chunks of at most
 * max_seqs) and for roll-outs of at most max_seqs sequences.  NULL on
 * ENOMEM.  model_ws_bytes() tells the size it would allocate.
 */
struct model_ws *model_ws_new(const struct model *m, size_t max_seqs);
size_t model_ws_bytes(const struct model *m, size_t max_seqs);
void model_ws_free(struct model_ws *ws);

/*
 * The fast forward pass.  logits: (B, O) for MODEL_OUTPUT_LAST, (B, Lx, O)
 * for MODEL_OUTPUT_EVERY (the seed token of first_token has no output).
 * Makes no allocation.  Returns 0.
 */
int model_forward(const struct model *m, const float *theta,
		  const struct model_batch *b, struct model_ws *ws,
		  float *logits);

/*
 * The reference forward: plain loops, one sequence at a time, double
 * accumulators, written for clarity.  Same contract as model_forward; it may
 * allocate.  Returns 0 or RANDES_ENOMEM.
 */
int model_forward_ref(const struct model *m, const float *theta,
		      const struct model_batch *b, float *logits);

/*
 * Roll-outs (causal mask only): B sequences grown one task token at a time
 * with a KV cache.  begin takes the seeds (B, S); with first_token placement
 * it processes the seed token and writes its logits (B, O) to logits and
 * returns 1, otherwise it writes nothing and returns 0.  step appends task
 * token t = 0, 1, ... (feat (B, F), index (B, NI)) and writes the logits of
 * that position (B, O).  At most Lx steps.  The logits equal those of the
 * full forward pass over the same prefix.
 */
int model_rollout_begin(const struct model *m, const float *theta,
			struct model_ws *ws, size_t B, const float *seed,
			float *logits);
int model_rollout_step(const struct model *m, const float *theta,
		       struct model_ws *ws, const float *feat,
		       const int32_t *index, float *logits);

/*
 * The reference forward at every model position: logits (B, L, O), the
 * first_token seed position included (position 0).  Same numerics as
 * model_forward_ref (which picks positions out of this).  Tests use it to
 * check roll-outs position by position.  Returns 0 or RANDES_ENOMEM.
 */
int model_forward_ref_all(const struct model *m, const float *theta,
			  const struct model_batch *b, float *logits);

/*
 * Kernel table: the primitive operations of the fast paths.  model_forward
 * and the roll-outs call only these, so specialised kernels (AVX-512 for a
 * given width, ...) slot in by providing another table.  A table must keep
 * each row's result independent of how many rows a call has (the
 * determinism promise), unless it says otherwise.
 */
struct model_attn {
	enum model_attention kind;
	size_t heads, key_size, value_size; /* H, K, Vs                      */
	size_t stride;       /* floats per qkv row: 2*H*K + H*Vs             */
	float scale;         /* softmax: 1/sqrt(K) rounded to float          */
};

struct model_kernels {
	const char *name;
	/* floats of a packed (K, N) right-hand matrix */
	size_t (*pack_floats)(size_t K, size_t N);
	/* packs b (K, N), leading dimension ldb */
	void (*pack)(size_t K, size_t N, const float *b, size_t ldb,
		     float *packed);
	/* out(M,N) = [out +] (a(M,K) . b(K,N) [+ bias(N)]), b packed */
	void (*gemm)(size_t M, size_t N, size_t K, const float *a, size_t lda,
		     const float *bpacked, const float *bias, int accumulate,
		     float *out, size_t ldo);
	/* x[i] = gelu_tanh(x[i]), i < n */
	void (*gelu)(float *x, size_t n);
	/* y(rows, W) = LayerNorm(x(rows, W)) * g + b, eps 1e-5 */
	void (*layernorm)(size_t rows, size_t W, const float *x, size_t ldx,
			  const float *g, const float *b, float *y,
			  size_t ldy);
	/*
	 * Attention output (H*Vs) of query row p of one sequence, over key
	 * rows j < nkeys with allow == NULL or allow[j] != 0.  qkv: (nkeys or
	 * more, stride) rows [q (H*K) | k (H*K) | v (H*Vs)]; scratch: nkeys
	 * floats.
	 */
	void (*attend)(const struct model_attn *at, const float *qkv, size_t p,
		       size_t nkeys, const uint8_t *allow, float *out,
		       float *scratch);
};

/* The default table: randes' ordered GEMM (blas_gemm_packed), bitwise
 * reproducible for any batching. */
const struct model_kernels *model_kernels_ordered(void);

/* cblas_sgemm for the products: faster for some shapes, but the rounding of
 * a sequence may depend on the batch (blas.h).  For benchmarks only. */
const struct model_kernels *model_kernels_openblas(void);

/* Selects the kernel table of a workspace (model_ws_new picks ordered). */
void model_ws_set_kernels(struct model_ws *ws, const struct model_kernels *k);

/*
 * The attention-only fast path (docs/model.md section 8, model_lin.h): for
 * models whose blocks are linear attention without MLP and LayerNorm (and
 * not causal with MODEL_OUTPUT_EVERY, whose roll-outs promise the generic
 * path's bits), model_forward tabulates everything before the first
 * attention once per distinct token and merges the linear maps after it.
 * Its logits are a pure function of (theta, input, seed) like the generic
 * path's, and identical on every instruction set, but not bitwise equal to
 * the generic path's (both match the reference to 1e-5).
 *
 * model_ws_fast_path: 1 when model_forward on ws takes it (eligible model,
 * enabled, the "ordered" kernel table).  model_ws_set_fast_path(ws, 0)
 * forces the generic path (tests and benchmarks); 1 restores the default.
 */
int model_ws_fast_path(const struct model_ws *ws);
void model_ws_set_fast_path(struct model_ws *ws, int enable);

/*
 * model_ws_set_first_table(ws, 0) makes the fast path compute a graph
 * model's first layer per sequence instead of once per distinct (query
 * token, key tokens) of the plan (docs/model.md section 8.2; the same
 * bits, for tests and benchmarks); 1 restores the default.  A no-op
 * without a fast path.
 */
void model_ws_set_first_table(struct model_ws *ws, int enable);

/*
 * model_ws_set_gram(ws, 1) makes the fast path take a graph model's last
 * layer in the Gram form (model_lin.h lin_ws_set_gram; docs/model.md
 * section 8.2): faster, and different in the last bits of the logits
 * (the colouring task's task.coloring_numerics: float turns it on); 0,
 * the default, restores the exact path.  A no-op for models it does not
 * apply to.  Returns 0, or RANDES_ENOMEM (the form stays off).
 */
int model_ws_set_gram(struct model_ws *ws, int enable);

/*
 * Plans batch b's inputs for the fast path once: every later model_forward
 * on ws with a batch of the same n_inputs and the same feat, index and
 * mask pointers (any seeds) finds the distinct tokens without looking at
 * them again and tabulates them once per call.  The caller must plan again
 * (or clear) after changing those inputs in place; objective_prepare does.
 * Without a plan model_forward plans chunks of the batch itself (same
 * bits, slower).  A no-op returning 0 when ws has no fast path.  May
 * allocate (first call, or a larger batch): returns 0 or RANDES_ENOMEM
 * (no plan then).  model_ws_plan_classes: distinct tokens of the current
 * plan (0 without one).
 */
int model_ws_plan(struct model_ws *ws, const struct model *m,
		  const struct model_batch *b);
void model_ws_plan_clear(struct model_ws *ws);
size_t model_ws_plan_classes(const struct model_ws *ws);
/* First-layer tuples of the current plan (0 without one, or when the model
 * does not tabulate its first layer). */
size_t model_ws_plan_tuples(const struct model_ws *ws);

/*
 * Writes the resolved spec as one JSON object into w (as a value: at the top
 * level, after a key, or in an array): every model option with its config
 * word, the task io, and the derived sizes (T, R, S, Din, L, D).  For the
 * "model" entry of an exported file's metadata and for logs.
 */
struct json_writer;
void model_spec_write_json(const struct model *m, struct json_writer *w);

/*
 * Multiply-accumulate count of one sequence's forward pass in the paper's
 * formulation (dense L x L attention, every position through every layer):
 * the FLOP figure benchmarks divide by time (FLOP = 2 * MACs).
 */
double model_macs_per_sequence(const struct model *m);

#endif
