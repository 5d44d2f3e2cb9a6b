/*
 * model: the spec and parameter layout, initialisation, the fast batched
 * forward pass and the KV-cache roll-outs (see model.h; the equations are in
 * docs/model.md, the plain-loop reference in model_ref.c).
 *
 * The fast path works through a batch in chunks of at most max_seqs
 * sequences, layer by layer, each product one call of the kernel table's
 * GEMM over all rows of the chunk.  Batch structure is exploited: sequence
 * b = i * NS + j pairs input i with seed j, and the input embedding
 * X W_e = [token | seed] W_e splits into token . W_e[:T] (computed once per
 * input) plus seed . W_e[T:] (once per seed).  In the last layer with
 * MODEL_OUTPUT_LAST only the last position goes through W_o, the MLP and
 * the head.
 *
 * Determinism: every operation computes a row from its own inputs in a
 * fixed order (model_kernels.c, blas.h), so a sequence's logits do not
 * depend on B, on the chunk it falls in, or on whether it was computed by a
 * full pass or a roll-out: they are bitwise equal.
 */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "err.h"
#include "json.h"
#include "model_lin.h"

/* Standard deviation of N(0, 1) truncated to [-2, 2]: haiku divides the
 * VarianceScaling stddev by it so the truncated draw has the target std. */
#define TRUNC_STD 0.87962566103423978

/* Views into the workspace are aligned to 16 floats (64 bytes). */
#define WS_ALIGN 16

/* --- spec and layout ------------------------------------------------------- */

static size_t add_tensor(struct model *m, const char *name, unsigned ndim,
			 size_t d0, size_t d1, enum model_init_kind kind,
			 double stddev)
{
	size_t shape[2] = {d0, d1};
	struct model_init_rule *r = &m->init[m->layout.n_tensors];

	r->kind = kind;
	r->stddev = stddev;
	return params_add(&m->layout, name, ndim, shape);
}

/* haiku VarianceScaling(scale, fan_in, truncated_normal). */
static double vs_std(double scale, size_t fan_in)
{
	return sqrt(scale / (double)fan_in) / TRUNC_STD;
}

/* Builds the layout in the documented order (docs/model.md); init draws
 * follow the same order. */
static void model_layout_build(struct model *m)
{
	const struct model_spec *s = &m->spec;
	struct model_offsets *o = &m->off;
	const size_t W = s->width, H = s->heads, K = s->key_size;
	const size_t Vs = s->value_size, M = s->mlp_hidden;
	char name[PARAMS_NAME_LEN];

	params_layout_init(&m->layout);
	memset(o, 0xff, sizeof(*o)); /* every offset MODEL_ABSENT */

	for (size_t k = 0; k < s->io.n_index; k++) {
		snprintf(name, sizeof(name), "embed.index.%zu", k);
		/* haiku Embed default: TruncatedNormal(stddev = 1). */
		o->index[k] = add_tensor(m, name, 2, s->io.index_vocab,
					 s->index_dim, MODEL_INIT_TRUNC, 1.0);
	}
	if (s->embed != MODEL_EMBED_NONE) {
		o->embed_w = add_tensor(m, "embed.w", 2, s->din, W,
					MODEL_INIT_TRUNC,
					vs_std(s->embedding_init_var, s->din));
		o->embed_b = add_tensor(m, "embed.b", 1, W, 0, MODEL_INIT_ZERO,
					0.0);
	}
	if (s->embed == MODEL_EMBED_MLP) {
		/* haiku Linear default: TruncatedNormal(1/sqrt(fan_in)), no
		 * 0.8796 correction. */
		o->embed_w2 = add_tensor(m, "embed.w2", 2, W, W,
					 MODEL_INIT_TRUNC,
					 1.0 / sqrt((double)W));
		o->embed_b2 = add_tensor(m, "embed.b2", 1, W, 0,
					 MODEL_INIT_ZERO, 0.0);
	}
	if (s->positional == MODEL_POSITIONAL_LEARNED)
		o->pos = add_tensor(m, "pos", 2, s->seq_total, W,
				    MODEL_INIT_TRUNC, 0.02);
	for (size_t l = 0; l < s->layers; l++) {
		struct model_layer_offsets *lo = &o->layer[l];
		double wo_var = s->weight_init_var /
				(double)(s->layers * s->heads);

#define LNAME(suffix) (snprintf(name, sizeof(name), "blocks.%zu." suffix, l), name)
		if (s->layernorm) {
			lo->ln1_g = add_tensor(m, LNAME("ln1.g"), 1, W, 0,
					       MODEL_INIT_ONE, 0.0);
			lo->ln1_b = add_tensor(m, LNAME("ln1.b"), 1, W, 0,
					       MODEL_INIT_ZERO, 0.0);
		}
		lo->wq = add_tensor(m, LNAME("attn.wq"), 2, W, H * K,
				    MODEL_INIT_TRUNC,
				    vs_std(s->weight_init_var, W));
		lo->wk = add_tensor(m, LNAME("attn.wk"), 2, W, H * K,
				    MODEL_INIT_TRUNC,
				    vs_std(s->weight_init_var, W));
		lo->wv = add_tensor(m, LNAME("attn.wv"), 2, W, H * Vs,
				    MODEL_INIT_TRUNC,
				    vs_std(s->weight_init_var, W));
		/* haiku's fan_in_axes=[-2] on (H, Vs, W): fan-in Vs. */
		lo->wo = add_tensor(m, LNAME("attn.wo"), 2, H * Vs, W,
				    MODEL_INIT_TRUNC, vs_std(wo_var, Vs));
		if (M) {
			if (s->layernorm) {
				lo->ln2_g = add_tensor(m, LNAME("ln2.g"), 1, W,
						       0, MODEL_INIT_ONE, 0.0);
				lo->ln2_b = add_tensor(m, LNAME("ln2.b"), 1, W,
						       0, MODEL_INIT_ZERO, 0.0);
			}
			lo->w1 = add_tensor(m, LNAME("mlp.w1"), 2, W, M,
					    MODEL_INIT_TRUNC, vs_std(2.0, W));
			lo->b1 = add_tensor(m, LNAME("mlp.b1"), 1, M, 0,
					    MODEL_INIT_ZERO, 0.0);
			lo->w2 = add_tensor(m, LNAME("mlp.w2"), 2, M, W,
					    MODEL_INIT_TRUNC,
					    vs_std(1.0 / (double)s->layers, M));
			lo->b2 = add_tensor(m, LNAME("mlp.b2"), 1, W, 0,
					    MODEL_INIT_ZERO, 0.0);
		}
#undef LNAME
	}
	if (s->layernorm) {
		o->lnf_g = add_tensor(m, "ln_f.g", 1, W, 0, MODEL_INIT_ONE, 0.0);
		o->lnf_b = add_tensor(m, "ln_f.b", 1, W, 0, MODEL_INIT_ZERO,
				      0.0);
	}
	o->head_w = add_tensor(m, "head.w", 2, W, s->io.out_dim,
			       MODEL_INIT_TRUNC, vs_std(1.0, W));
	o->head_b = add_tensor(m, "head.b", 1, s->io.out_dim, 0,
			       MODEL_INIT_ZERO, 0.0);
}

int model_init(struct model *m, const struct config_model *cfg,
	       const struct model_io *io, char *err)
{
	struct model_spec *s;

	memset(m, 0, sizeof(*m));
	s = &m->spec;
	if (cfg->width < 1 || cfg->heads < 1 || cfg->key_size < 1 ||
	    cfg->value_size < 1)
		return randes_errf(err, RANDES_ECONFIG,
				   "model: width, heads, key_size and "
				   "value_size must be >= 1 (got %u, %u, %u, %u)",
				   cfg->width, cfg->heads, cfg->key_size,
				   cfg->value_size);
	if (cfg->layers > MODEL_MAX_LAYERS)
		return randes_errf(err, RANDES_ECONFIG,
				   "model.layers: at most %d supported, got %u",
				   MODEL_MAX_LAYERS, cfg->layers);
	if (cfg->mlp && cfg->mlp_ratio < 1)
		return randes_errf(err, RANDES_ECONFIG,
				   "model.mlp_ratio: must be >= 1 when "
				   "model.mlp is on, got %u", cfg->mlp_ratio);
	if ((unsigned)cfg->input_embedding > MODEL_EMBED_MLP ||
	    (unsigned)cfg->attention > MODEL_ATTENTION_SOFTMAX ||
	    (unsigned)cfg->positional > MODEL_POSITIONAL_LEARNED ||
	    (unsigned)cfg->seed_encoding.kind > RSE_KIND_NORMAL ||
	    (unsigned)cfg->seed_encoding.placement > RSE_PLACEMENT_FIRST_TOKEN ||
	    (unsigned)io->mask > MODEL_MASK_FULL ||
	    (unsigned)io->output > MODEL_OUTPUT_EVERY)
		return randes_errf(err, RANDES_ECONFIG,
				   "model: an option has an unknown value");
	if (!(cfg->embedding_init_var > 0.0) || !(cfg->weight_init_var > 0.0))
		return randes_errf(err, RANDES_ECONFIG,
				   "model: embedding_init_var and "
				   "weight_init_var must be > 0 (got %g, %g)",
				   cfg->embedding_init_var, cfg->weight_init_var);
	if (io->seq_len < 1 || io->out_dim < 1)
		return randes_errf(err, RANDES_ECONFIG,
				   "model: the task gives %zu tokens and %zu "
				   "outputs; both must be >= 1",
				   io->seq_len, io->out_dim);
	if (io->n_index > MODEL_MAX_INDEX)
		return randes_errf(err, RANDES_ECONFIG,
				   "model: at most %d index features per token, "
				   "the task gives %zu", MODEL_MAX_INDEX,
				   io->n_index);
	if (io->n_index > 0 && (io->index_vocab < 1 || cfg->index_dim < 1))
		return randes_errf(err, RANDES_ECONFIG,
				   "model.index_dim: the task has %zu index "
				   "features (vocabulary %zu); index_dim and "
				   "the vocabulary must be >= 1 (got %u)",
				   io->n_index, io->index_vocab, cfg->index_dim);

	s->io = *io;
	s->width = cfg->width;
	s->layers = cfg->layers;
	s->heads = cfg->heads;
	s->key_size = cfg->key_size;
	s->value_size = cfg->value_size;
	s->mlp_hidden = cfg->mlp ? (size_t)cfg->mlp_ratio * cfg->width : 0;
	s->embed = cfg->input_embedding;
	s->attention = cfg->attention;
	s->layernorm = cfg->layernorm ? 1 : 0;
	s->positional = cfg->positional;
	s->rse_kind = cfg->seed_encoding.kind;
	s->rse_placement = cfg->seed_encoding.placement;
	s->index_dim = io->n_index ? cfg->index_dim : 0;
	s->token_dim = io->n_index * s->index_dim + io->feat;
	s->embedding_init_var = cfg->embedding_init_var;
	s->weight_init_var = cfg->weight_init_var;
	switch (s->rse_placement) {
	case RSE_PLACEMENT_EVERY_TOKEN:
		s->rse_dim = cfg->seed_encoding.dim;
		s->seed_size = s->rse_dim;
		s->din = s->token_dim + s->rse_dim;
		s->seq_total = io->seq_len;
		break;
	case RSE_PLACEMENT_PER_TOKEN:
		s->rse_dim = cfg->seed_encoding.dim;
		s->seed_size = io->seq_len * s->rse_dim;
		s->din = s->token_dim + s->rse_dim;
		s->seq_total = io->seq_len;
		break;
	case RSE_PLACEMENT_FIRST_TOKEN:
		s->rse_dim = s->token_dim;
		s->seed_size = s->token_dim;
		s->din = s->token_dim;
		s->seq_total = io->seq_len + 1;
		break;
	}
	if (s->din < 1)
		return randes_errf(err, RANDES_ECONFIG,
				   "model: the input token is empty (no task "
				   "features and no seed)");
	if (s->embed == MODEL_EMBED_NONE && s->din != s->width)
		return randes_errf(err, RANDES_ECONFIG,
				   "model.input_embedding: 'none' feeds the "
				   "tokens in as they are, so their width Din = "
				   "T + R = %zu + %zu must equal model.width = "
				   "%zu; use 'linear' or set width to %zu",
				   s->token_dim,
				   s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN
					   ? (size_t)0 : s->rse_dim,
				   s->width, s->din);
	model_layout_build(m);
	return 0;
}

size_t model_n_params(const struct model *m)
{
	return m->layout.total;
}

void model_init_theta(const struct model *m, uint64_t run_seed, float *theta)
{
	struct rng_stream st;

	rng_stream_init(&st, run_seed, RNG_PURPOSE_INIT, 0, 0);
	for (size_t t = 0; t < m->layout.n_tensors; t++) {
		const struct params_tensor *pt = &m->layout.tensors[t];
		const struct model_init_rule *r = &m->init[t];
		float *dst = theta + pt->offset;

		for (size_t i = 0; i < pt->count; i++) {
			float z;

			switch (r->kind) {
			case MODEL_INIT_ZERO:
				dst[i] = 0.0f;
				break;
			case MODEL_INIT_ONE:
				dst[i] = 1.0f;
				break;
			case MODEL_INIT_TRUNC:
				do {
					z = rng_normal(&st);
				} while (z < -2.0f || z > 2.0f);
				dst[i] = (float)((double)z * r->stddev);
				break;
			}
		}
	}
}

void model_seed_sample(const struct model *m, struct rng_stream *s,
		       float *seed)
{
	for (size_t i = 0; i < m->spec.seed_size; i++) {
		switch (m->spec.rse_kind) {
		case RSE_KIND_BITS:
			seed[i] = rng_bit(s);
			break;
		case RSE_KIND_UNIFORM:
			seed[i] = rng_uniform(s);
			break;
		case RSE_KIND_NORMAL:
			seed[i] = rng_normal(s);
			break;
		}
	}
}

double model_macs_per_sequence(const struct model *m)
{
	const struct model_spec *s = &m->spec;
	const double L = (double)s->seq_total, W = (double)s->width;
	const double H = (double)s->heads, K = (double)s->key_size;
	const double Vs = (double)s->value_size, M = (double)s->mlp_hidden;
	double per_pos = 0.0, attn;

	if (s->embed != MODEL_EMBED_NONE)
		per_pos += (double)s->din * W;
	if (s->embed == MODEL_EMBED_MLP)
		per_pos += W * W;
	per_pos += (double)s->layers *
		   (W * H * (2.0 * K + Vs) + H * Vs * W + 2.0 * W * M);
	per_pos += W * (double)s->io.out_dim;
	/* Dense L x L scores (K per entry) and weighted values (Vs). */
	attn = (double)s->layers * H * (K + Vs) * L * L;
	return L * per_pos + attn;
}

/* --- the spec as JSON --------------------------------------------------------- */

static const char *const embed_names[] = {"none", "linear", "mlp"};
static const char *const attention_names[] = {"linear", "softmax"};
static const char *const positional_names[] = {"none", "sinusoidal",
					       "learned"};
static const char *const rse_kind_names[] = {"bits", "uniform", "normal"};
static const char *const placement_names[] = {"every_token", "per_token",
					      "first_token"};
static const char *const mask_names[] = {"causal", "graph", "full"};
static const char *const output_names[] = {"last", "every"};

static void kv_uint(struct json_writer *w, const char *k, size_t v)
{
	json_writer_key(w, k);
	json_writer_uint(w, v);
}

static void kv_str(struct json_writer *w, const char *k, const char *v)
{
	json_writer_key(w, k);
	json_writer_string(w, v);
}

void model_spec_write_json(const struct model *m, struct json_writer *w)
{
	const struct model_spec *s = &m->spec;

	json_writer_object_begin(w);
	kv_uint(w, "width", s->width);
	kv_uint(w, "layers", s->layers);
	kv_uint(w, "heads", s->heads);
	kv_uint(w, "key_size", s->key_size);
	kv_uint(w, "value_size", s->value_size);
	kv_str(w, "input_embedding", embed_names[s->embed]);
	kv_str(w, "attention", attention_names[s->attention]);
	json_writer_key(w, "mlp");
	json_writer_bool(w, s->mlp_hidden > 0);
	kv_uint(w, "mlp_hidden", s->mlp_hidden);
	json_writer_key(w, "layernorm");
	json_writer_bool(w, s->layernorm);
	kv_str(w, "positional", positional_names[s->positional]);
	json_writer_key(w, "seed_encoding");
	json_writer_object_begin(w);
	kv_str(w, "kind", rse_kind_names[s->rse_kind]);
	kv_uint(w, "dim", s->rse_dim);
	kv_str(w, "placement", placement_names[s->rse_placement]);
	json_writer_object_end(w);
	kv_uint(w, "index_dim", s->index_dim);
	json_writer_key(w, "embedding_init_var");
	json_writer_double(w, s->embedding_init_var);
	json_writer_key(w, "weight_init_var");
	json_writer_double(w, s->weight_init_var);
	json_writer_key(w, "io");
	json_writer_object_begin(w);
	kv_uint(w, "seq_len", s->io.seq_len);
	kv_uint(w, "feat", s->io.feat);
	kv_uint(w, "n_index", s->io.n_index);
	kv_uint(w, "index_vocab", s->io.index_vocab);
	kv_uint(w, "out_dim", s->io.out_dim);
	kv_str(w, "mask", mask_names[s->io.mask]);
	kv_str(w, "output", output_names[s->io.output]);
	json_writer_object_end(w);
	kv_uint(w, "token_dim", s->token_dim);
	kv_uint(w, "seed_size", s->seed_size);
	kv_uint(w, "din", s->din);
	kv_uint(w, "seq_total", s->seq_total);
	kv_uint(w, "n_params", m->layout.total);
	json_writer_object_end(w);
}

/* --- workspace ------------------------------------------------------------- */

struct ws_layer_pack {
	float *wqkv; /* packed (W, 2HK + HVs) = [wq | wk | wv] */
	float *wo;   /* packed (HVs, W)                        */
	float *w1;   /* packed (W, M)                          */
	float *w2;   /* packed (M, W)                          */
};

struct model_ws {
	const struct model_kernels *k;
	size_t max_seqs;                 /* C                                */
	/* the shape the workspace was sized for (checked on every use)      */
	size_t n_params, L, W, T, S, layers;
	size_t pack_capacity;            /* floats reserved for packed weights */
	float *mem;
	float *pack_base;                /* start of the packed-weight region */
	/* activations; C = max_seqs, QW = 2HK + HVs, HV = H*Vs            */
	float *tok;    /* (C*Lx, T) task tokens of a chunk's inputs          */
	float *inp;    /* (C*Lx, W) token part of the input embedding        */
	float *seedp;  /* (C*Ls, W) seed part (Ls = Lx for per_token, else 1) */
	float *ro_seed;/* (C, S) roll-out seeds (input_embedding none)       */
	float *h;      /* (C*L, W) residual stream                           */
	float *x;      /* (C*L, W) LayerNorm / gelu output fed to a product  */
	float *qkv;    /* (ncache, C, L, QW): the KV cache of a roll-out;
			  a full pass uses the first (C, L, QW) slab        */
	float *att;    /* (C*L, HV) attention output                         */
	float *hid;    /* (C*L, M) MLP hidden                                */
	float *hl;     /* (C, W) last positions                              */
	float *attl;   /* (C, HV) attention output of last positions         */
	float *scores; /* (L) attention scratch                              */
	float *pe;     /* (L, W) sinusoidal table                            */
	float *wtmp;   /* (W, QW) [wq | wk | wv] before packing             */
	/* packed weights, refreshed from theta by every forward / begin     */
	float *pk_top;  /* packed (T, W): W_e rows of the task token; for
			   first_token all of W_e                           */
	float *pk_bot;  /* packed (R, W): W_e rows of the seed; first_token:
			   the same as pk_top                               */
	float *pk_wf;   /* packed (W, W)                                     */
	float *pk_head; /* packed (W, O)                                     */
	struct ws_layer_pack pl[MODEL_MAX_LAYERS];
	/* roll-out state */
	int ro_active;
	size_t ro_B, ro_pos;
	const float *ro_theta;
	/* the attention-only fast path (model_lin.h): NULL when the model
	 * is not eligible; used while lin_on and the table is "ordered" */
	struct lin_ws *lin;
	int lin_on;
};

static size_t round_up(size_t n)
{
	return (n + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN;
}

/* Takes n floats (rounded up) from *cursor; with base NULL only counts. */
static float *carve(float *base, size_t *cursor, size_t n)
{
	float *p = base ? base + *cursor : NULL;
	*cursor += round_up(n);
	return p;
}

static size_t qkv_width(const struct model_spec *s)
{
	return s->heads * (2 * s->key_size + s->value_size);
}

/* Assigns (base != NULL) or counts the packed-weight views for table k. */
static size_t packs_carve(const struct model *m, const struct model_kernels *k,
			  struct model_ws *ws, float *base)
{
	const struct model_spec *s = &m->spec;
	const size_t W = s->width, QW = qkv_width(s);
	const size_t HV = s->heads * s->value_size, M = s->mlp_hidden;
	size_t cur = 0;
	float *p;

	if (s->embed != MODEL_EMBED_NONE) {
		if (s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN) {
			p = carve(base, &cur, k->pack_floats(s->din, W));
			if (ws) {
				ws->pk_top = p;
				ws->pk_bot = p;
			}
		} else {
			p = carve(base, &cur, k->pack_floats(s->token_dim, W));
			if (ws)
				ws->pk_top = p;
			p = carve(base, &cur, k->pack_floats(s->rse_dim, W));
			if (ws)
				ws->pk_bot = p;
		}
	}
	if (s->embed == MODEL_EMBED_MLP) {
		p = carve(base, &cur, k->pack_floats(W, W));
		if (ws)
			ws->pk_wf = p;
	}
	for (size_t l = 0; l < s->layers; l++) {
		struct ws_layer_pack tmp, *pl = ws ? &ws->pl[l] : &tmp;

		pl->wqkv = carve(base, &cur, k->pack_floats(W, QW));
		pl->wo = carve(base, &cur, k->pack_floats(HV, W));
		pl->w1 = M ? carve(base, &cur, k->pack_floats(W, M)) : NULL;
		pl->w2 = M ? carve(base, &cur, k->pack_floats(M, W)) : NULL;
	}
	p = carve(base, &cur, k->pack_floats(W, s->io.out_dim));
	if (ws)
		ws->pk_head = p;
	return cur;
}

/* Assigns (base != NULL) or counts the activation views. */
static size_t acts_carve(const struct model *m, size_t C, struct model_ws *ws,
			 float *base)
{
	const struct model_spec *s = &m->spec;
	const size_t L = s->seq_total, Lx = s->io.seq_len, W = s->width;
	const size_t QW = qkv_width(s), HV = s->heads * s->value_size;
	const size_t Ls = s->rse_placement == RSE_PLACEMENT_PER_TOKEN ? Lx : 1;
	const size_t ncache = (s->io.mask == MODEL_MASK_CAUSAL && s->layers)
				      ? s->layers : 1;
	struct model_ws tmp, *w = ws ? ws : &tmp;
	size_t cur = 0;

	w->tok = carve(base, &cur, C * Lx * s->token_dim);
	w->inp = carve(base, &cur, C * Lx * W);
	w->seedp = carve(base, &cur, C * Ls * W);
	w->ro_seed = carve(base, &cur, C * s->seed_size);
	w->h = carve(base, &cur, C * L * W);
	w->x = carve(base, &cur, C * L * W);
	w->qkv = carve(base, &cur, ncache * C * L * QW);
	w->att = carve(base, &cur, C * L * HV);
	w->hid = carve(base, &cur, C * L * s->mlp_hidden);
	w->hl = carve(base, &cur, C * W);
	w->attl = carve(base, &cur, C * HV);
	w->scores = carve(base, &cur, L);
	w->pe = carve(base, &cur, L * W);
	w->wtmp = carve(base, &cur, W * QW);
	return cur;
}

static void ws_check(const struct model *m, const struct model_ws *ws);

/* Inputs per internal plan of the fast path for a workspace of max_seqs
 * sequences. */
static size_t lin_chunk(size_t max_seqs)
{
	return max_seqs < LIN_CHUNK_INPUTS ? max_seqs : LIN_CHUNK_INPUTS;
}

size_t model_ws_bytes(const struct model *m, size_t max_seqs)
{
	size_t floats = acts_carve(m, max_seqs, NULL, NULL) +
			packs_carve(m, model_kernels_ordered(), NULL, NULL);
	return sizeof(struct model_ws) + floats * sizeof(float) + 64 +
	       lin_ws_bytes(m, lin_chunk(max_seqs));
}

/* The standard sinusoidal table: PE[p][2i] = sin(p w_i), PE[p][2i+1] =
 * cos(p w_i), w_i = 10000^(-2i/W); computed in double. */
void model_pe_fill(float *pe, size_t L, size_t W)
{
	for (size_t p = 0; p < L; p++)
		for (size_t c = 0; c < W; c++) {
			size_t i2 = c - c % 2;
			double w = pow(10000.0, -(double)i2 / (double)W);
			double a = (double)p * w;
			pe[p * W + c] = (float)(c % 2 ? cos(a) : sin(a));
		}
}

struct model_ws *model_ws_new(const struct model *m, size_t max_seqs)
{
	const struct model_spec *s = &m->spec;
	struct model_ws *ws = NULL;
	size_t acts, packs, bytes;

	RANDES_ASSERT(max_seqs >= 1);
	blas_init();
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		goto fail;
	acts = acts_carve(m, max_seqs, NULL, NULL);
	packs = packs_carve(m, model_kernels_ordered(), NULL, NULL);
	bytes = (acts + packs) * sizeof(float);
	ws->mem = aligned_alloc(64, (bytes + 63) / 64 * 64);
	if (!ws->mem)
		goto fail;
	/* Zeroed once so that a view is never read uninitialised by
	 * padding lanes; the forward pass itself writes before it reads. */
	memset(ws->mem, 0, bytes);
	acts_carve(m, max_seqs, ws, ws->mem);
	ws->pack_base = ws->mem + acts;
	packs_carve(m, model_kernels_ordered(), ws, ws->pack_base);
	ws->pack_capacity = packs;
	ws->k = model_kernels_ordered();
	ws->max_seqs = max_seqs;
	ws->n_params = m->layout.total;
	ws->L = s->seq_total;
	ws->W = s->width;
	ws->T = s->token_dim;
	ws->S = s->seed_size;
	ws->layers = s->layers;
	if (s->positional == MODEL_POSITIONAL_SINUSOIDAL)
		model_pe_fill(ws->pe, s->seq_total, s->width);
	{
		struct lin_spec ls;
		if (lin_spec_init(m, &ls)) {
			ws->lin = lin_ws_new(m, lin_chunk(max_seqs));
			if (!ws->lin)
				goto fail;
			ws->lin_on = 1;
		}
	}
	return ws;
fail:
	model_ws_free(ws);
	return NULL;
}

void model_ws_free(struct model_ws *ws)
{
	if (!ws)
		return;
	lin_ws_free(ws->lin);
	free(ws->mem);
	free(ws);
}

int model_ws_fast_path(const struct model_ws *ws)
{
	return ws->lin && ws->lin_on && ws->k == model_kernels_ordered();
}

void model_ws_set_fast_path(struct model_ws *ws, int enable)
{
	ws->lin_on = enable ? 1 : 0;
}

void model_ws_set_first_table(struct model_ws *ws, int enable)
{
	if (ws->lin)
		lin_ws_set_first_table(ws->lin, enable);
}

int model_ws_set_gram(struct model_ws *ws, int enable)
{
	return ws->lin ? lin_ws_set_gram(ws->lin, enable) : 0;
}

int model_ws_plan(struct model_ws *ws, const struct model *m,
		  const struct model_batch *b)
{
	int rc;

	ws_check(m, ws);
	if (!ws->lin)
		return 0;
	RANDES_ASSERT(!m->spec.io.feat || !b->n_inputs || b->feat);
	RANDES_ASSERT(!m->spec.io.n_index || !b->n_inputs || b->index);
	rc = lin_plan_set(ws->lin, m, b);
	return rc;
}

void model_ws_plan_clear(struct model_ws *ws)
{
	if (ws->lin)
		lin_plan_clear(ws->lin);
}

size_t model_ws_plan_classes(const struct model_ws *ws)
{
	return ws->lin ? lin_plan_classes(ws->lin) : 0;
}

size_t model_ws_plan_tuples(const struct model_ws *ws)
{
	return ws->lin ? lin_plan_tuples(ws->lin) : 0;
}

void model_ws_set_kernels(struct model_ws *ws, const struct model_kernels *k)
{
	/* The packed views move with the table (pack sizes differ). */
	ws->k = k;
	ws->ro_active = 0;
}

/* The workspace must have been made for a model of this shape. */
static void ws_check(const struct model *m, const struct model_ws *ws)
{
	const struct model_spec *s = &m->spec;

	RANDES_ASSERT(ws->n_params == m->layout.total &&
		      ws->L == s->seq_total && ws->W == s->width &&
		      ws->T == s->token_dim && ws->S == s->seed_size &&
		      ws->layers == s->layers);
}

/* Packs every weight matrix of theta for the current kernel table. */
static void pack_weights(const struct model *m, const float *theta,
			 struct model_ws *ws)
{
	const struct model_spec *s = &m->spec;
	const struct model_offsets *o = &m->off;
	const struct model_kernels *k = ws->k;
	const size_t W = s->width, HK = s->heads * s->key_size;
	const size_t HV = s->heads * s->value_size, QW = qkv_width(s);
	const size_t M = s->mlp_hidden;
	size_t used;

	/* The views depend on the table's pack sizes: re-carve them. */
	used = packs_carve(m, k, ws, ws->pack_base);
	RANDES_ASSERT(used <= ws->pack_capacity);
	if (s->embed != MODEL_EMBED_NONE) {
		const float *we = theta + o->embed_w; /* (Din, W) */
		if (s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN) {
			k->pack(s->din, W, we, W, ws->pk_top);
		} else {
			k->pack(s->token_dim, W, we, W, ws->pk_top);
			k->pack(s->rse_dim, W, we + s->token_dim * W, W,
				ws->pk_bot);
		}
	}
	if (s->embed == MODEL_EMBED_MLP)
		k->pack(W, W, theta + o->embed_w2, W, ws->pk_wf);
	for (size_t l = 0; l < s->layers; l++) {
		const struct model_layer_offsets *lo = &o->layer[l];
		struct ws_layer_pack *pl = &ws->pl[l];

		for (size_t r = 0; r < W; r++) {
			float *dst = ws->wtmp + r * QW; /* row r of [wq|wk|wv] */
			memcpy(dst, theta + lo->wq + r * HK, HK * sizeof(float));
			memcpy(dst + HK, theta + lo->wk + r * HK,
			       HK * sizeof(float));
			memcpy(dst + 2 * HK, theta + lo->wv + r * HV,
			       HV * sizeof(float));
		}
		k->pack(W, QW, ws->wtmp, QW, pl->wqkv);
		k->pack(HV, W, theta + lo->wo, W, pl->wo);
		if (M) {
			k->pack(W, M, theta + lo->w1, M, pl->w1);
			k->pack(M, W, theta + lo->w2, W, pl->w2);
		}
	}
	k->pack(W, s->io.out_dim, theta + o->head_w, s->io.out_dim,
		ws->pk_head);
}

/* --- building blocks shared by the full pass and the roll-outs ------------- */

/* dst = (a + b) + c, element-wise (c may be NULL: dst = a + b). */
static void add3(float *dst, const float *a, const float *b, const float *c,
		 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float t = a[i] + b[i];
		dst[i] = c ? t + c[i] : t;
	}
}

/* dst += a, element-wise. */
static void add_in(float *dst, const float *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = dst[i] + a[i];
}

/*
 * The task token (T floats): [E_0[index[0]] | ... | E_{NI-1}[index[NI-1]] |
 * feat (F)].  An index outside [0, V) is a task bug: abort rather than read
 * out of bounds.
 */
void model_token_build(const struct model *m, const float *theta,
		       const float *feat, const int32_t *index, float *dst)
{
	const struct model_spec *s = &m->spec;
	const size_t E = s->index_dim;

	for (size_t k = 0; k < s->io.n_index; k++) {
		int32_t idx = index[k];
		RANDES_ASSERT(idx >= 0 && (size_t)idx < s->io.index_vocab);
		memcpy(dst + k * E, theta + m->off.index[k] + (size_t)idx * E,
		       E * sizeof(float));
	}
	if (s->io.feat)
		memcpy(dst + s->io.n_index * E, feat, s->io.feat * sizeof(float));
}

/* The keys query p may attend to under the spec's mask. */
static void attn_keys(const struct model_spec *s, size_t p,
		      const uint8_t *mask_seq, size_t *nkeys,
		      const uint8_t **allow)
{
	*nkeys = p + 1;
	*allow = NULL;
	switch (s->io.mask) {
	case MODEL_MASK_CAUSAL:
		return;
	case MODEL_MASK_FULL:
		*nkeys = s->seq_total;
		*allow = NULL;
		return;
	case MODEL_MASK_GRAPH:
		*nkeys = s->seq_total;
		*allow = mask_seq + p * s->seq_total;
		return;
	}
}

static void attn_params(const struct model_spec *s, struct model_attn *at)
{
	at->kind = s->attention;
	at->heads = s->heads;
	at->key_size = s->key_size;
	at->value_size = s->value_size;
	at->stride = qkv_width(s);
	at->scale = (float)(1.0 / sqrt((double)s->key_size));
}

/* Adds the positional encoding of position p to rows (rows, W) of h. */
static void pos_add(const struct model *m, const float *theta,
		    const struct model_ws *ws, float *row, size_t p)
{
	const struct model_spec *s = &m->spec;

	if (s->positional == MODEL_POSITIONAL_SINUSOIDAL)
		add_in(row, ws->pe + p * s->width, s->width);
	else if (s->positional == MODEL_POSITIONAL_LEARNED)
		add_in(row, theta + m->off.pos + p * s->width, s->width);
}

/* embed mlp: h = gelu(h) W_f + b_f over `rows` rows of h. */
static void embed_mlp_rows(const struct model *m, const float *theta,
			   struct model_ws *ws, size_t rows)
{
	const size_t W = m->spec.width;

	if (m->spec.embed != MODEL_EMBED_MLP)
		return;
	memcpy(ws->x, ws->h, rows * W * sizeof(float));
	ws->k->gelu(ws->x, rows * W);
	ws->k->gemm(rows, W, W, ws->x, W, ws->pk_wf, theta + m->off.embed_b2,
		    0, ws->h, W);
}

/* The MLP of layer l on rows (rows, W) of hh: hh += gelu(LN2(hh) W1 + b1)
 * W2 + b2. */
static void mlp_rows(const struct model *m, const float *theta,
		     struct model_ws *ws, size_t l, size_t rows, float *hh)
{
	const struct model_spec *s = &m->spec;
	const struct model_layer_offsets *lo = &m->off.layer[l];
	const size_t W = s->width, M = s->mlp_hidden;
	const float *xin = hh;

	if (!M)
		return;
	if (s->layernorm) {
		ws->k->layernorm(rows, W, hh, W, theta + lo->ln2_g,
				 theta + lo->ln2_b, ws->x, W);
		xin = ws->x;
	}
	ws->k->gemm(rows, M, W, xin, W, ws->pl[l].w1, theta + lo->b1, 0,
		    ws->hid, M);
	ws->k->gelu(ws->hid, rows * M);
	ws->k->gemm(rows, W, M, ws->hid, M, ws->pl[l].w2, theta + lo->b2, 1,
		    hh, W);
}

/* logits(rows, O) = LN_f(src) W_out + b_out, src (rows, W) contiguous. */
static void head_rows(const struct model *m, const float *theta,
		      struct model_ws *ws, size_t rows, const float *src,
		      float *out)
{
	const struct model_spec *s = &m->spec;
	const size_t W = s->width;
	const float *y = src;

	if (s->layernorm) {
		ws->k->layernorm(rows, W, src, W, theta + m->off.lnf_g,
				 theta + m->off.lnf_b, ws->x, W);
		y = ws->x;
	}
	ws->k->gemm(rows, s->io.out_dim, W, y, W, ws->pk_head,
		    theta + m->off.head_b, 0, out, s->io.out_dim);
}

/* --- the full forward pass ------------------------------------------------- */

/*
 * Input embedding (+ positional encoding) of sequences b0 .. b0+nc-1 into
 * ws->h (nc*L, W).
 */
static void embed_chunk(const struct model *m, const float *theta,
			const struct model_batch *b, struct model_ws *ws,
			size_t b0, size_t nc)
{
	const struct model_spec *s = &m->spec;
	const struct model_kernels *k = ws->k;
	const size_t NS = b->n_seeds, L = s->seq_total, Lx = s->io.seq_len;
	const size_t W = s->width, T = s->token_dim, R = s->rse_dim;
	const size_t F = s->io.feat, NI = s->io.n_index, S = s->seed_size;
	const int first = s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN;
	const int per = s->rse_placement == RSE_PLACEMENT_PER_TOKEN;
	const size_t i0 = b0 / NS, ninp = (b0 + nc - 1) / NS - i0 + 1;
	const size_t j0 = b0 % NS, ns = nc < NS ? nc : NS;
	const float *be = s->embed != MODEL_EMBED_NONE ? theta + m->off.embed_b
						      : NULL;

	if (s->embed == MODEL_EMBED_NONE) {
		for (size_t q = 0; q < nc; q++) {
			size_t i = (b0 + q) / NS, j = (b0 + q) % NS;
			const float *seed = S ? b->seed + j * S : NULL;

			for (size_t p = 0; p < L; p++) {
				float *row = ws->h + (q * L + p) * W; /* (W) */
				size_t t = first ? p - 1 : p;

				if (first && p == 0) {
					memcpy(row, seed, T * sizeof(float));
					continue;
				}
				model_token_build(m, theta,
					    F ? b->feat + (i * Lx + t) * F : NULL,
					    NI ? b->index + (i * Lx + t) * NI : NULL,
					    row);
				if (!first && R)
					memcpy(row + T, seed + (per ? t * R : 0),
					       R * sizeof(float));
			}
		}
	} else {
		/* Token part, once per input: inp (ninp*Lx, W). */
		for (size_t u = 0; u < ninp; u++)
			for (size_t t = 0; t < Lx; t++)
				model_token_build(m, theta,
					    F ? b->feat + ((i0 + u) * Lx + t) * F
					      : NULL,
					    NI ? b->index + ((i0 + u) * Lx + t) * NI
					       : NULL,
					    ws->tok + (u * Lx + t) * T);
		k->gemm(ninp * Lx, W, T, ws->tok, T, ws->pk_top, NULL, 0,
			ws->inp, W);
		/* Seed part, once per seed: seedp (ns*Ls, W). */
		for (size_t u = 0; u < ns; u++) {
			const float *seed = S ? b->seed + ((j0 + u) % NS) * S
					      : NULL;
			size_t Ls = per ? Lx : 1, Kseed = first ? T : R;

			k->gemm(Ls, W, Kseed, seed, Kseed, ws->pk_bot, NULL, 0,
				ws->seedp + u * Ls * W, W);
		}
		for (size_t q = 0; q < nc; q++) {
			size_t u = (b0 + q) / NS - i0;
			size_t v = ((b0 + q) % NS + NS - j0) % NS;

			for (size_t p = 0; p < L; p++) {
				float *row = ws->h + (q * L + p) * W;
				if (first)
					add3(row, p ? ws->inp + (u * Lx + p - 1) * W
						    : ws->seedp + v * W,
					     be, NULL, W);
				else
					add3(row, ws->inp + (u * Lx + p) * W,
					     ws->seedp + (per ? v * Lx + p : v) * W,
					     be, W);
			}
		}
		embed_mlp_rows(m, theta, ws, nc * L);
	}
	for (size_t q = 0; q < nc; q++)
		for (size_t p = 0; p < L; p++)
			pos_add(m, theta, ws, ws->h + (q * L + p) * W, p);
}

/* The blocks and the head for sequences b0 .. b0+nc-1 (embedded in ws->h). */
static void blocks_chunk(const struct model *m, const float *theta,
			 const struct model_batch *b, struct model_ws *ws,
			 size_t b0, size_t nc, float *logits)
{
	const struct model_spec *s = &m->spec;
	const struct model_kernels *k = ws->k;
	const size_t NS = b->n_seeds, L = s->seq_total, Lx = s->io.seq_len;
	const size_t W = s->width, O = s->io.out_dim, QW = qkv_width(s);
	const size_t HV = s->heads * s->value_size, R = nc * L;
	const int last_only = s->io.output == MODEL_OUTPUT_LAST;
	struct model_attn at;

	attn_params(s, &at);
	for (size_t l = 0; l < s->layers; l++) {
		const struct model_layer_offsets *lo = &m->off.layer[l];
		const float *xin = ws->h;
		int last = last_only && l + 1 == s->layers;

		if (s->layernorm) {
			k->layernorm(R, W, ws->h, W, theta + lo->ln1_g,
				     theta + lo->ln1_b, ws->x, W);
			xin = ws->x;
		}
		k->gemm(R, QW, W, xin, W, ws->pl[l].wqkv, NULL, 0, ws->qkv, QW);
		for (size_t q = 0; q < nc; q++) {
			const float *qs = ws->qkv + q * L * QW; /* (L, QW) */
			const uint8_t *mask_seq = NULL, *allow;
			size_t nkeys;

			if (s->io.mask == MODEL_MASK_GRAPH)
				mask_seq = b->mask + ((b0 + q) / NS) * L * L;
			if (last) {
				attn_keys(s, L - 1, mask_seq, &nkeys, &allow);
				k->attend(&at, qs, L - 1, nkeys, allow,
					  ws->attl + q * HV, ws->scores);
				memcpy(ws->hl + q * W, ws->h + (q * L + L - 1) * W,
				       W * sizeof(float));
				continue;
			}
			for (size_t p = 0; p < L; p++) {
				attn_keys(s, p, mask_seq, &nkeys, &allow);
				k->attend(&at, qs, p, nkeys, allow,
					  ws->att + (q * L + p) * HV, ws->scores);
			}
		}
		if (last) {
			k->gemm(nc, W, HV, ws->attl, HV, ws->pl[l].wo, NULL, 1,
				ws->hl, W);
			mlp_rows(m, theta, ws, l, nc, ws->hl);
		} else {
			k->gemm(R, W, HV, ws->att, HV, ws->pl[l].wo, NULL, 1,
				ws->h, W);
			mlp_rows(m, theta, ws, l, R, ws->h);
		}
	}

	if (last_only) {
		if (s->layers == 0)
			for (size_t q = 0; q < nc; q++)
				memcpy(ws->hl + q * W, ws->h + (q * L + L - 1) * W,
				       W * sizeof(float));
		head_rows(m, theta, ws, nc, ws->hl, logits + b0 * O);
	} else if (s->rse_placement != RSE_PLACEMENT_FIRST_TOKEN) {
		head_rows(m, theta, ws, R, ws->h, logits + b0 * Lx * O);
	} else {
		/* Skip each sequence's seed position 0. */
		for (size_t q = 0; q < nc; q++)
			head_rows(m, theta, ws, Lx, ws->h + (q * L + 1) * W,
				  logits + (b0 + q) * Lx * O);
	}
}

int model_forward(const struct model *m, const float *theta,
		  const struct model_batch *b, struct model_ws *ws,
		  float *logits)
{
	const struct model_spec *s = &m->spec;
	const size_t B = b->n_inputs * b->n_seeds;

	ws_check(m, ws);
	ws->ro_active = 0; /* the KV cache is about to be overwritten */
	if (B == 0)
		return 0;
	RANDES_ASSERT(!s->seed_size || b->seed);
	RANDES_ASSERT(!s->io.feat || b->feat);
	RANDES_ASSERT(!s->io.n_index || b->index);
	RANDES_ASSERT(s->io.mask != MODEL_MASK_GRAPH || b->mask);
	if (model_ws_fast_path(ws)) {
		lin_forward(m, theta, b, ws->lin, logits);
		return 0;
	}
	pack_weights(m, theta, ws);
	for (size_t b0 = 0; b0 < B; b0 += ws->max_seqs) {
		size_t nc = B - b0 < ws->max_seqs ? B - b0 : ws->max_seqs;

		embed_chunk(m, theta, b, ws, b0, nc);
		blocks_chunk(m, theta, b, ws, b0, nc, logits);
	}
	return 0;
}

/* --- roll-outs ------------------------------------------------------------- */

/*
 * One new position p for the ro_B sequences of a roll-out, its embedding
 * already in ws->h (B, W): runs the blocks (appending K and V to the cache)
 * and the head.  The same kernels on the same rows as blocks_chunk, so the
 * logits equal the full pass's bit for bit.
 */
static void rollout_position(const struct model *m, const float *theta,
			     struct model_ws *ws, size_t p, float *logits)
{
	const struct model_spec *s = &m->spec;
	const struct model_kernels *k = ws->k;
	const size_t B = ws->ro_B, L = s->seq_total, W = s->width;
	const size_t QW = qkv_width(s), HV = s->heads * s->value_size;
	struct model_attn at;

	attn_params(s, &at);
	for (size_t l = 0; l < s->layers; l++) {
		const struct model_layer_offsets *lo = &m->off.layer[l];
		float *cache = ws->qkv + l * ws->max_seqs * L * QW; /* (C, L, QW) */
		const float *xin = ws->h;

		if (s->layernorm) {
			k->layernorm(B, W, ws->h, W, theta + lo->ln1_g,
				     theta + lo->ln1_b, ws->x, W);
			xin = ws->x;
		}
		k->gemm(B, QW, W, xin, W, ws->pl[l].wqkv, NULL, 0, cache + p * QW,
			L * QW);
		for (size_t q = 0; q < B; q++)
			k->attend(&at, cache + q * L * QW, p, p + 1, NULL,
				  ws->att + q * HV, ws->scores);
		k->gemm(B, W, HV, ws->att, HV, ws->pl[l].wo, NULL, 1, ws->h, W);
		mlp_rows(m, theta, ws, l, B, ws->h);
	}
	head_rows(m, theta, ws, B, ws->h, logits);
}

int model_rollout_begin(const struct model *m, const float *theta,
			struct model_ws *ws, size_t B, const float *seed,
			float *logits)
{
	const struct model_spec *s = &m->spec;
	const size_t W = s->width, S = s->seed_size;
	const int first = s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN;

	ws_check(m, ws);
	RANDES_ASSERT(s->io.mask == MODEL_MASK_CAUSAL);
	RANDES_ASSERT(B >= 1 && B <= ws->max_seqs);
	RANDES_ASSERT(!S || seed);
	pack_weights(m, theta, ws);
	ws->ro_active = 1;
	ws->ro_B = B;
	ws->ro_pos = 0;
	ws->ro_theta = theta;
	if (S)
		memcpy(ws->ro_seed, seed, B * S * sizeof(float));
	if (s->embed != MODEL_EMBED_NONE) {
		/* The seed part of the embedding, once: (B*Ls, W).  With an
		 * empty seed (R = 0) the product is K = 0: zeros. */
		size_t Kseed = first ? s->token_dim : s->rse_dim;
		size_t rows = s->rse_placement == RSE_PLACEMENT_PER_TOKEN
				      ? B * s->io.seq_len : B;
		ws->k->gemm(rows, W, Kseed, seed, Kseed, ws->pk_bot, NULL, 0,
			    ws->seedp, W);
	}
	if (!first)
		return 0;
	for (size_t q = 0; q < B; q++) {
		float *row = ws->h + q * W;
		if (s->embed == MODEL_EMBED_NONE)
			memcpy(row, ws->ro_seed + q * S, W * sizeof(float));
		else
			add3(row, ws->seedp + q * W, theta + m->off.embed_b,
			     NULL, W);
	}
	embed_mlp_rows(m, theta, ws, B);
	for (size_t q = 0; q < B; q++)
		pos_add(m, theta, ws, ws->h + q * W, 0);
	rollout_position(m, theta, ws, 0, logits);
	ws->ro_pos = 1;
	return 1;
}

int model_rollout_step(const struct model *m, const float *theta,
		       struct model_ws *ws, const float *feat,
		       const int32_t *index, float *logits)
{
	const struct model_spec *s = &m->spec;
	const size_t B = ws->ro_B, W = s->width, T = s->token_dim;
	const size_t R = s->rse_dim, S = s->seed_size, F = s->io.feat;
	const size_t NI = s->io.n_index, Lx = s->io.seq_len;
	const int first = s->rse_placement == RSE_PLACEMENT_FIRST_TOKEN;
	const int per = s->rse_placement == RSE_PLACEMENT_PER_TOKEN;
	size_t p, t;

	ws_check(m, ws);
	RANDES_ASSERT(ws->ro_active && theta == ws->ro_theta);
	RANDES_ASSERT(ws->ro_pos < s->seq_total);
	RANDES_ASSERT(!F || feat);
	RANDES_ASSERT(!NI || index);
	p = ws->ro_pos;
	t = first ? p - 1 : p;

	if (s->embed == MODEL_EMBED_NONE) {
		for (size_t q = 0; q < B; q++) {
			float *row = ws->h + q * W;
			model_token_build(m, theta, F ? feat + q * F : NULL,
				    NI ? index + q * NI : NULL, row);
			if (!first && R)
				memcpy(row + T, ws->ro_seed + q * S + (per ? t * R : 0),
				       R * sizeof(float));
		}
	} else {
		for (size_t q = 0; q < B; q++)
			model_token_build(m, theta, F ? feat + q * F : NULL,
				    NI ? index + q * NI : NULL, ws->tok + q * T);
		ws->k->gemm(B, W, T, ws->tok, T, ws->pk_top, NULL, 0, ws->inp,
			    W);
		for (size_t q = 0; q < B; q++) {
			float *row = ws->h + q * W;
			const float *be = theta + m->off.embed_b;
			if (first)
				add3(row, ws->inp + q * W, be, NULL, W);
			else
				add3(row, ws->inp + q * W,
				     ws->seedp + (per ? q * Lx + t : q) * W, be, W);
		}
		embed_mlp_rows(m, theta, ws, B);
	}
	for (size_t q = 0; q < B; q++)
		pos_add(m, theta, ws, ws->h + q * W, p);
	rollout_position(m, theta, ws, p, logits);
	ws->ro_pos = p + 1;
	return 0;
}
