/*
 * config: the typed run configuration, loaded from YAML with libyaml.
 *
 * The loader is driven by one table of descriptors {YAML path, type, offset,
 * limits, default} (config.c); nothing outside the table is accepted.
 * Unknown keys, duplicate keys, wrong types, out-of-range values and unknown
 * enum words are errors of the form
 *     FILE:LINE:COL: key.path: expected ..., got '...'
 * and `--set key.path=value` overrides go through the same table and the same
 * checks ("--set es.sigma=abc: es.sigma: expected ...").
 *
 * Defaults: keys that are absent take the default of the task kind (the
 * paper's setting for that task: docs/config.md lists them), so
 * `task: {kind: cycle_coloring}` alone gives the paper's colouring model.
 *
 * This module knows nothing of MPI, the model or the tasks; other modules
 * read the struct.
 */
#ifndef RANDES_CONFIG_H
#define RANDES_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum task_kind {
	TASK_KIND_ASSOCIATIVE_RECALL = 0,
	TASK_KIND_CYCLE_COLORING = 1,
	TASK_KIND_GRIDWORLD = 2,
	TASK_KIND_SPHERE = 3,
	TASK_KIND_RASTRIGIN = 4,
};

/* The arithmetic of the cycle-colouring scoring and second layer
 * (task.coloring_numerics, docs/config.md): double is the arithmetic the
 * committed results were trained with, float the faster default. */
enum coloring_numerics {
	COLORING_NUMERICS_DOUBLE = 0,
	COLORING_NUMERICS_FLOAT = 1,
};

enum model_embed {
	MODEL_EMBED_NONE = 0,   /* tokens are used as they are (Din == width) */
	MODEL_EMBED_LINEAR = 1, /* H0 = X We + be                            */
	MODEL_EMBED_MLP = 2,    /* H = gelu(X We + be) Wf + bf (first_mlp)    */
};

enum model_attention {
	MODEL_ATTENTION_LINEAR = 0,  /* S = (Q K^T) .* mask, no softmax/scale */
	MODEL_ATTENTION_SOFTMAX = 1, /* softmax(Q K^T / sqrt(dk)) over allowed */
};

enum model_positional {
	MODEL_POSITIONAL_NONE = 0,
	MODEL_POSITIONAL_SINUSOIDAL = 1,
	MODEL_POSITIONAL_LEARNED = 2,
};

enum rse_kind {
	RSE_KIND_BITS = 0,    /* Bernoulli(1/2) as 0.0 / 1.0      */
	RSE_KIND_UNIFORM = 1, /* U[0, 1)                          */
	RSE_KIND_NORMAL = 2,  /* N(0, 1)                          */
};

enum rse_placement {
	RSE_PLACEMENT_EVERY_TOKEN = 0, /* one vector appended to every token */
	RSE_PLACEMENT_PER_TOKEN = 1,   /* fresh noise appended per token     */
	RSE_PLACEMENT_FIRST_TOKEN = 2, /* a whole noise token before x       */
};

enum objective_variant {
	VARIANT_E_R0 = 0, /* ERM (q = 1), one fixed seed r0            */
	VARIANT_Q_R0 = 1, /* L^q, one fixed seed r0                    */
	VARIANT_E_R = 2,  /* ERM (q = 1), m fresh seeds per generation */
	VARIANT_Q_R = 3,  /* L^q, m fresh seeds: the randomized model  */
};

enum objective_adversary {
	ADVERSARY_SAMPLED = 0,    /* n inputs drawn per generation          */
	ADVERSARY_EXHAUSTIVE = 1, /* the task's whole adversary set         */
};

enum es_strategy {
	ES_STRATEGY_OPENAI_ES = 0,
	ES_STRATEGY_PGPE = 1,
};

enum es_optimizer {
	ES_OPTIMIZER_ADAM = 0,
	ES_OPTIMIZER_SGD = 1,    /* with momentum es.momentum (0 = plain) */
	ES_OPTIMIZER_CLIPUP = 2, /* Toklu et al. 2020                     */
};

enum es_shaping {
	ES_SHAPING_CENTERED_RANKS = 0, /* ranks mapped to [-0.5, 0.5]     */
	ES_SHAPING_NONE = 1,           /* raw fitness                     */
	ES_SHAPING_NORMALIZED = 2,     /* (f - mean) / std                */
};

enum es_assign {
	ES_ASSIGN_STATIC = 0,  /* contiguous blocks of pairs per rank    */
	ES_ASSIGN_DYNAMIC = 1, /* chunks handed out as ranks finish      */
};

/*
 * A scalar that may change with the generation g.  A constant has
 * npoints == 0 and lives in .value.  Otherwise points (gen[i], val[i]) with
 * gen strictly increasing and gen[0] == 0; before gen[0] and after the last
 * point the end values hold.  YAML:
 *     sigma: 0.02
 *     sigma: {interp: cosine, points: [[0, 0.03], [2000, 0.005]]}
 *     q:     {interp: step,   points: [[0, 1], [300, 16], [800, 100]]}
 */
enum sched_interp {
	SCHED_INTERP_STEP = 0,   /* value of the last point at or before g  */
	SCHED_INTERP_LINEAR = 1, /* linear between neighbouring points      */
	SCHED_INTERP_COSINE = 2, /* half-cosine between neighbouring points */
};

#define SCHED_MAX_POINTS 16

struct sched {
	double value;
	unsigned npoints;
	enum sched_interp interp;
	uint32_t gen[SCHED_MAX_POINTS];
	double val[SCHED_MAX_POINTS];
};

/* The value of s at generation g (pure function; inf passes through). */
double sched_at(const struct sched *s, uint64_t g);

#define CONFIG_NAME_LEN 128
#define CONFIG_PATH_LEN 1024
#define CONFIG_MAX_MAJORITY 8

struct config_run {
	char name[CONFIG_NAME_LEN]; /* default: config file name sans .yaml */
	uint64_t seed;              /* run seed: every random number hangs on it */
	uint32_t generations;       /* total generations to train            */
	uint32_t checkpoint_every;  /* 0: only at the end and on a stop      */
	uint32_t model_every;       /* 0: off; else models/model-g<G>        */
	double progress_seconds;    /* min seconds between progress lines; 0 = every generation */
	int eval_at_end;            /* bool: run the evaluation after training */
};

struct config_task {
	enum task_kind kind;
	/* associative_recall */
	uint32_t num_tokens;        /* N, 2..64                              */
	uint32_t value_bits;        /* d = 5                                 */
	uint32_t exhaustive_values; /* values per query position, exhaustive adversary */
	uint32_t eval_fillings;     /* random fillings per (position, value) in eval, 16 */
	/* cycle_coloring */
	uint32_t num_vertices;      /* N = 10                                */
	uint32_t eval_max_cycles;   /* sample this many when (N-1)!/2 is larger */
	enum coloring_numerics coloring_numerics; /* float (default) or double */
	/* gridworld */
	uint32_t size;              /* 5                                     */
	uint32_t episode_steps;     /* 25                                    */
	uint32_t episodes;          /* 2                                     */
	/* sphere, rastrigin */
	uint32_t dim;               /* D                                     */
};

struct config_seed_encoding {
	enum rse_kind kind;
	uint32_t dim;               /* dr; ignored (set to Din) for first_token */
	enum rse_placement placement;
};

struct config_model {
	uint32_t width;             /* embedding width W                     */
	uint32_t layers;
	uint32_t heads;
	uint32_t key_size;          /* per head                              */
	uint32_t value_size;        /* per head                              */
	enum model_embed input_embedding;
	enum model_attention attention;
	int mlp;                    /* bool: residual MLP in each block      */
	uint32_t mlp_ratio;         /* hidden = ratio * width                */
	int layernorm;              /* bool: pre-norm blocks + final norm    */
	enum model_positional positional;
	struct config_seed_encoding seed_encoding;
	uint32_t index_dim;         /* learned per-index embedding dim (gridworld coordinates) */
	double embedding_init_var;  /* first_embedding_init_var: 1 (AR), 0.1 (colouring) */
	double weight_init_var;     /* w_init_var: 1                          */
	/* "" or an exported model whose tensors start the run (docs/config.md) */
	char init_from[CONFIG_PATH_LEN];
	/* with init_from and a folded fixed-seed model: the seed rows restart
	 * at this times their random initialisation, centred (docs/config.md) */
	double init_seed_scale;
};

struct config_objective {
	enum objective_variant variant;
	struct sched q;             /* q of the q_* variants (>= 1 or inf); E_* use 1 */
	uint32_t seeds;             /* m; *_r0 variants use their one r0      */
	uint32_t inputs;            /* n (sampled adversary)                  */
	enum objective_adversary adversary;
};

struct config_es {
	enum es_strategy strategy;
	uint32_t population;        /* P, even, >= 2: P/2 antithetic pairs    */
	struct sched sigma;         /* openai_es: noise std; pgpe: initial std */
	struct sched lr;            /* (centre) learning rate                 */
	enum es_optimizer optimizer;
	double weight_decay;        /* decoupled: theta -= lr * wd * theta    */
	double grad_clip;           /* ‖g‖ above it is scaled to it; 0 = none */
	enum es_shaping shaping;
	double beta1, beta2, eps;   /* Adam                                   */
	double momentum;            /* SGD / ClipUp momentum                  */
	double max_speed;           /* ClipUp                                 */
	double theta_ema;           /* decay of the θ average the run writes
				     * as its model; 0 = θ itself          */
	double sigma_lr;            /* pgpe: std learning rate                */
	double sigma_max_change;    /* pgpe: |relative change| per step, 0.2  */
	double sigma_min;           /* pgpe: floor                            */
	enum es_assign assign;
	uint32_t chunk_pairs;       /* dynamic assignment: pairs per chunk    */
};

struct config_eval {
	uint32_t seeds;             /* K evaluation seeds (100)               */
	uint32_t majority[CONFIG_MAX_MAJORITY]; /* vote sizes k              */
	unsigned n_majority;
	uint32_t majority_draws;    /* k-seed groups drawn per input (200)    */
	uint32_t max_inputs;        /* 0 = the task's full evaluation set     */
};

struct config {
	char path[CONFIG_PATH_LEN]; /* where it was loaded from ("" if none) */
	struct config_run run;
	struct config_task task;
	struct config_model model;
	struct config_objective objective;
	struct config_es es;
	struct config_eval eval;
};

/* Fills every field with the defaults for task kind `kind`. */
void config_defaults(struct config *cfg, enum task_kind kind);

/*
 * Loads and validates a YAML file, then applies overrides[0..n) of the form
 * "key.path=value" (value parsed as a YAML scalar or flow sequence), then
 * validates the whole.  On failure returns RANDES_ECONFIG (RANDES_EIO if the
 * file cannot be read) with the message in err, and *cfg is unspecified.
 */
int config_load_file(struct config *cfg, const char *path,
		     const char *const *overrides, size_t n_overrides,
		     char *err);

/* The same from a string; `name` is used in messages in place of a path. */
int config_load_string(struct config *cfg, const char *yaml, size_t len,
		       const char *name, const char *const *overrides,
		       size_t n_overrides, char *err);

/* Applies one "key.path=value" override to an already loaded config and
 * re-validates.  RANDES_ECONFIG with a message on failure, *cfg unchanged.
 * Only that key changes: task.kind here does not re-apply a preset (pass
 * the override to config_load_* for that). */
int config_apply_override(struct config *cfg, const char *override, char *err);

/* Cross-field validation (also run by the loaders). */
int config_validate(const struct config *cfg, char *err);

/*
 * Writes the resolved config (every key, defaults included) as YAML that
 * config_load_* reads back to an identical struct.  Returns 0, or
 * RANDES_EIO if the stream fails.
 */
int config_write_yaml(const struct config *cfg, FILE *out);

/* The same into a malloc'd string (caller frees); NULL on ENOMEM. */
char *config_to_yaml(const struct config *cfg);

/*
 * A 64-bit hash of the keys that fix the meaning and shape of the trained
 * state: task.*, model.*, run.seed, es.strategy, es.optimizer,
 * es.population.  A checkpoint records it; --resume refuses a config whose
 * hash differs.  config_diff_locked() names the first differing such key:
 * it returns 1 and writes the key path into key (if non-NULL), or returns
 * 0 and writes "" when all locked keys are equal.
 */
uint64_t config_hash_locked(const struct config *cfg);
/*
 * The same hash as written by randes before commit 3f6eb0d (every locked
 * key whatever the task kind, plus task.eval_fillings and
 * task.eval_max_cycles), so that checkpoints of runs started then still
 * resume: the loaders accept either hash (checkpoint_expect.config_hash_v1).
 */
uint64_t config_hash_locked_v1(const struct config *cfg);
int config_diff_locked(const struct config *a, const struct config *b,
		       char *key, size_t key_len);
/*
 * The number of keys (locked or not) whose values differ between a and b.
 * Writes "key old -> new, ..." into out (out_len bytes, cut if longer;
 * out may be NULL), the values as config_write_yaml writes them.
 */
size_t config_diff_text(const struct config *a, const struct config *b,
			char *out, size_t out_len);

/* Effective q at generation g for the variant: 1 for E_*, q(g) for q_*. */
double config_q_at(const struct config *cfg, uint64_t g);

/* Seeds per input actually used: 1 for *_r0, objective.seeds otherwise. */
uint32_t config_seeds_per_input(const struct config *cfg);

/* 1 for the *_r0 variants (one fixed seed r0 for the whole run). */
int config_uses_r0(const struct config *cfg);

/* Enum word tables, also used by docs and --help. */
const char *config_task_kind_name(enum task_kind k);
const char *config_variant_name(enum objective_variant v);
const char *config_strategy_name(enum es_strategy s);

#endif
