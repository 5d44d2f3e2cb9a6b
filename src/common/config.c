/*
 * config: YAML (libyaml) -> struct config, strictly, through one table.
 *
 * Everything the loader accepts is a row of `descs[]` below: the YAML key
 * path, the C type, the field offset and size, the allowed range, the enum
 * words and the flags (required, part of the locked hash, ...).  The walker
 * only ever writes a field through its row, so a key that is not in the table
 * cannot be set, and a value that is not in range cannot get in.
 *
 * How a config is resolved (docs/config.md, "How a config is resolved"):
 *   1. the file is parsed with libyaml's document API (nodes keep their
 *      line/column marks) and walked into a scratch struct, recording for
 *      every row whether it was set and where;
 *   2. each `--set key.path=value` is parsed as a YAML document of its own
 *      and applied to the same scratch struct, in order (the last one wins);
 *   3. required keys (task.kind, run.generations) must have been set by 1 or 2;
 *   4. the result starts from the preset of the final task.kind, and only the
 *      rows that were set are copied over it.  So `--set task.kind=gridworld`
 *      on a colouring file gives the grid-world preset for every absent key;
 *   5. cross-field rules run, pointing at the key that was set.
 *
 * Numbers are parsed strictly: plain (unquoted) scalars only; integers are
 * decimal digits with an optional '+', no leading zeros, no exponent, no
 * fraction; reals are [+-]digits[.digits][e[+-]digits], no NaN, and `inf`
 * (also .inf, Inf, .Inf, INF, .INF) only where the key allows it.  Booleans
 * are exactly `true` or `false`.
 *
 * This file never prints and never exits.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "err.h"
#include "yamltext.h"

/* Enum fields are written through an int pointer. */
_Static_assert(sizeof(enum task_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum model_embed) == sizeof(int), "enum size");
_Static_assert(sizeof(enum model_attention) == sizeof(int), "enum size");
_Static_assert(sizeof(enum model_positional) == sizeof(int), "enum size");
_Static_assert(sizeof(enum rse_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum rse_placement) == sizeof(int), "enum size");
_Static_assert(sizeof(enum objective_variant) == sizeof(int), "enum size");
_Static_assert(sizeof(enum objective_adversary) == sizeof(int), "enum size");
_Static_assert(sizeof(enum es_strategy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum es_optimizer) == sizeof(int), "enum size");
_Static_assert(sizeof(enum es_shaping) == sizeof(int), "enum size");
_Static_assert(sizeof(enum es_assign) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sched_interp) == sizeof(int), "enum size");

/* ------------------------------------------------------------------------ */
/* The descriptor table                                                      */
/* ------------------------------------------------------------------------ */

enum desc_type {
	DESC_U32,
	DESC_U64,
	DESC_DOUBLE,
	DESC_BOOL,   /* int 0/1 */
	DESC_ENUM,   /* int, one of words[] */
	DESC_STRING, /* char[size], NUL-terminated */
	DESC_SCHED,  /* struct sched; limits apply to every value */
	DESC_U32_LIST, /* uint32_t[size / 4] + unsigned count at count_offset */
};

#define DF_REQUIRED (1u << 0) /* no default: the file or --set must give it */
#define DF_LOCKED (1u << 1)   /* hashed by config_hash_locked()          */
#define DF_MIN_EXCL (1u << 2) /* value > min (not >=)                     */
#define DF_MAX_EXCL (1u << 3) /* value < max (not <=)                     */
#define DF_INF (1u << 4)      /* +inf allowed (reals and schedules)       */
#define DF_EVEN (1u << 5)     /* integers: must be even                   */
#define DF_NAME (1u << 6)     /* strings: [A-Za-z0-9._-], 1..size-1 chars */
#define DF_LOCKED_V1 (1u << 7) /* also hashed by config_hash_locked_v1()   */
/* A locked key added after checkpoints were written: hashed only when its
 * value is not 0, the behaviour those checkpoints were trained with, so
 * that their hashes still match a config that states 0. */
#define DF_HASH_NONZERO (1u << 8)
#define DF_PATH (1u << 9)     /* strings: a file path, [A-Za-z0-9._+/=,~-], may be empty */

struct enum_word {
	const char *word;
	int value;
};

struct desc {
	const char *path;  /* "es.sigma": the YAML key path           */
	enum desc_type type;
	size_t offset;     /* of the field in struct config           */
	size_t size;       /* of the field, bytes                     */
	size_t count_offset; /* DESC_U32_LIST: the element count       */
	double min, max;   /* numeric limits (see DF_*_EXCL, DF_INF)   */
	unsigned flags;
	const struct enum_word *words; /* DESC_ENUM, NULL-terminated   */
};

static const struct enum_word task_kind_words[] = {
	{"associative_recall", TASK_KIND_ASSOCIATIVE_RECALL},
	{"cycle_coloring", TASK_KIND_CYCLE_COLORING},
	{"gridworld", TASK_KIND_GRIDWORLD},
	{"sphere", TASK_KIND_SPHERE},
	{"rastrigin", TASK_KIND_RASTRIGIN},
	{NULL, 0},
};
static const struct enum_word coloring_numerics_words[] = {
	{"float", COLORING_NUMERICS_FLOAT},
	{"double", COLORING_NUMERICS_DOUBLE},
	{NULL, 0},
};
static const struct enum_word embed_words[] = {
	{"none", MODEL_EMBED_NONE},
	{"linear", MODEL_EMBED_LINEAR},
	{"mlp", MODEL_EMBED_MLP},
	{NULL, 0},
};
static const struct enum_word attention_words[] = {
	{"linear", MODEL_ATTENTION_LINEAR},
	{"softmax", MODEL_ATTENTION_SOFTMAX},
	{NULL, 0},
};
static const struct enum_word positional_words[] = {
	{"none", MODEL_POSITIONAL_NONE},
	{"sinusoidal", MODEL_POSITIONAL_SINUSOIDAL},
	{"learned", MODEL_POSITIONAL_LEARNED},
	{NULL, 0},
};
static const struct enum_word rse_kind_words[] = {
	{"bits", RSE_KIND_BITS},
	{"uniform", RSE_KIND_UNIFORM},
	{"normal", RSE_KIND_NORMAL},
	{NULL, 0},
};
static const struct enum_word placement_words[] = {
	{"every_token", RSE_PLACEMENT_EVERY_TOKEN},
	{"per_token", RSE_PLACEMENT_PER_TOKEN},
	{"first_token", RSE_PLACEMENT_FIRST_TOKEN},
	{NULL, 0},
};
static const struct enum_word variant_words[] = {
	{"E_r0", VARIANT_E_R0},
	{"q_r0", VARIANT_Q_R0},
	{"E_R", VARIANT_E_R},
	{"q_R", VARIANT_Q_R},
	{NULL, 0},
};
static const struct enum_word adversary_words[] = {
	{"sampled", ADVERSARY_SAMPLED},
	{"exhaustive", ADVERSARY_EXHAUSTIVE},
	{NULL, 0},
};
static const struct enum_word strategy_words[] = {
	{"openai_es", ES_STRATEGY_OPENAI_ES},
	{"pgpe", ES_STRATEGY_PGPE},
	{NULL, 0},
};
static const struct enum_word optimizer_words[] = {
	{"adam", ES_OPTIMIZER_ADAM},
	{"sgd", ES_OPTIMIZER_SGD},
	{"clipup", ES_OPTIMIZER_CLIPUP},
	{NULL, 0},
};
static const struct enum_word shaping_words[] = {
	{"centered_ranks", ES_SHAPING_CENTERED_RANKS},
	{"none", ES_SHAPING_NONE},
	{"normalized", ES_SHAPING_NORMALIZED},
	{NULL, 0},
};
static const struct enum_word assign_words[] = {
	{"static", ES_ASSIGN_STATIC},
	{"dynamic", ES_ASSIGN_DYNAMIC},
	{NULL, 0},
};
static const struct enum_word interp_words[] = {
	{"step", SCHED_INTERP_STEP},
	{"linear", SCHED_INTERP_LINEAR},
	{"cosine", SCHED_INTERP_COSINE},
	{NULL, 0},
};

#define U32MAX 4294967295.0
#define F(member)                                                          \
	.offset = offsetof(struct config, member),                         \
	.size = sizeof(((struct config *)0)->member)

/*
 * The order of rows is the order of keys in config_write_yaml(); rows of one
 * section (and sub-mapping) must stay together.  Limits are documented in
 * docs/config.md: keep the two in step.
 */
static const struct desc descs[] = {
	{.path = "run.name", .type = DESC_STRING, F(run.name),
	 .flags = DF_NAME},
	{.path = "run.seed", .type = DESC_U64, F(run.seed), .min = 0,
	 .max = HUGE_VAL, .flags = DF_LOCKED},
	{.path = "run.generations", .type = DESC_U32, F(run.generations),
	 .min = 1, .max = U32MAX, .flags = DF_REQUIRED},
	{.path = "run.checkpoint_every", .type = DESC_U32,
	 F(run.checkpoint_every), .min = 0, .max = U32MAX},
	{.path = "run.model_every", .type = DESC_U32, F(run.model_every),
	 .min = 0, .max = U32MAX},
	{.path = "run.progress_seconds", .type = DESC_DOUBLE,
	 F(run.progress_seconds), .min = 0, .max = HUGE_VAL},
	{.path = "run.eval_at_end", .type = DESC_BOOL, F(run.eval_at_end)},

	{.path = "task.kind", .type = DESC_ENUM, F(task.kind),
	 .flags = DF_REQUIRED | DF_LOCKED, .words = task_kind_words},
	{.path = "task.num_tokens", .type = DESC_U32, F(task.num_tokens),
	 .min = 2, .max = 64, .flags = DF_LOCKED},
	{.path = "task.value_bits", .type = DESC_U32, F(task.value_bits),
	 .min = 1, .max = 16, .flags = DF_LOCKED},
	{.path = "task.exhaustive_values", .type = DESC_U32,
	 F(task.exhaustive_values), .min = 1, .max = 65536,
	 .flags = DF_LOCKED},
	{.path = "task.eval_fillings", .type = DESC_U32,
	 F(task.eval_fillings), .min = 1, .max = U32MAX,
	 .flags = DF_LOCKED_V1},
	{.path = "task.num_vertices", .type = DESC_U32, F(task.num_vertices),
	 .min = 3, .max = 64, .flags = DF_LOCKED},
	{.path = "task.eval_max_cycles", .type = DESC_U32,
	 F(task.eval_max_cycles), .min = 1, .max = U32MAX,
	 .flags = DF_LOCKED_V1},
	{.path = "task.coloring_numerics", .type = DESC_ENUM,
	 F(task.coloring_numerics), .flags = DF_LOCKED | DF_HASH_NONZERO,
	 .words = coloring_numerics_words},
	{.path = "task.size", .type = DESC_U32, F(task.size), .min = 2,
	 .max = 64, .flags = DF_LOCKED},
	{.path = "task.episode_steps", .type = DESC_U32,
	 F(task.episode_steps), .min = 1, .max = 4096, .flags = DF_LOCKED},
	{.path = "task.episodes", .type = DESC_U32, F(task.episodes),
	 .min = 1, .max = 64, .flags = DF_LOCKED},
	{.path = "task.dim", .type = DESC_U32, F(task.dim), .min = 1,
	 .max = 100000000, .flags = DF_LOCKED},

	{.path = "model.width", .type = DESC_U32, F(model.width), .min = 1,
	 .max = 4096, .flags = DF_LOCKED},
	{.path = "model.layers", .type = DESC_U32, F(model.layers), .min = 1,
	 .max = 64, .flags = DF_LOCKED},
	{.path = "model.heads", .type = DESC_U32, F(model.heads), .min = 1,
	 .max = 64, .flags = DF_LOCKED},
	{.path = "model.key_size", .type = DESC_U32, F(model.key_size),
	 .min = 1, .max = 1024, .flags = DF_LOCKED},
	{.path = "model.value_size", .type = DESC_U32, F(model.value_size),
	 .min = 1, .max = 1024, .flags = DF_LOCKED},
	{.path = "model.input_embedding", .type = DESC_ENUM,
	 F(model.input_embedding), .flags = DF_LOCKED, .words = embed_words},
	{.path = "model.attention", .type = DESC_ENUM, F(model.attention),
	 .flags = DF_LOCKED, .words = attention_words},
	{.path = "model.mlp", .type = DESC_BOOL, F(model.mlp),
	 .flags = DF_LOCKED},
	{.path = "model.mlp_ratio", .type = DESC_U32, F(model.mlp_ratio),
	 .min = 1, .max = 64, .flags = DF_LOCKED},
	{.path = "model.layernorm", .type = DESC_BOOL, F(model.layernorm),
	 .flags = DF_LOCKED},
	{.path = "model.positional", .type = DESC_ENUM, F(model.positional),
	 .flags = DF_LOCKED, .words = positional_words},
	{.path = "model.seed_encoding.kind", .type = DESC_ENUM,
	 F(model.seed_encoding.kind), .flags = DF_LOCKED,
	 .words = rse_kind_words},
	{.path = "model.seed_encoding.dim", .type = DESC_U32,
	 F(model.seed_encoding.dim), .min = 0, .max = 1024,
	 .flags = DF_LOCKED},
	{.path = "model.seed_encoding.placement", .type = DESC_ENUM,
	 F(model.seed_encoding.placement), .flags = DF_LOCKED,
	 .words = placement_words},
	{.path = "model.index_dim", .type = DESC_U32, F(model.index_dim),
	 .min = 1, .max = 1024, .flags = DF_LOCKED},
	{.path = "model.embedding_init_var", .type = DESC_DOUBLE,
	 F(model.embedding_init_var), .min = 0, .max = HUGE_VAL,
	 .flags = DF_LOCKED | DF_MIN_EXCL},
	{.path = "model.weight_init_var", .type = DESC_DOUBLE,
	 F(model.weight_init_var), .min = 0, .max = HUGE_VAL,
	 .flags = DF_LOCKED | DF_MIN_EXCL},
	{.path = "model.init_from", .type = DESC_STRING, F(model.init_from),
	 .flags = DF_PATH},
	{.path = "model.init_seed_scale", .type = DESC_DOUBLE,
	 F(model.init_seed_scale), .min = 0, .max = 1e3},

	{.path = "objective.variant", .type = DESC_ENUM,
	 F(objective.variant), .words = variant_words},
	{.path = "objective.q", .type = DESC_SCHED, F(objective.q), .min = 1,
	 .max = HUGE_VAL, .flags = DF_INF},
	{.path = "objective.seeds", .type = DESC_U32, F(objective.seeds),
	 .min = 1, .max = U32MAX},
	{.path = "objective.inputs", .type = DESC_U32, F(objective.inputs),
	 .min = 1, .max = U32MAX},
	{.path = "objective.adversary", .type = DESC_ENUM,
	 F(objective.adversary), .words = adversary_words},

	{.path = "es.strategy", .type = DESC_ENUM, F(es.strategy),
	 .flags = DF_LOCKED, .words = strategy_words},
	{.path = "es.population", .type = DESC_U32, F(es.population),
	 .min = 2, .max = U32MAX - 1, .flags = DF_LOCKED | DF_EVEN},
	{.path = "es.sigma", .type = DESC_SCHED, F(es.sigma), .min = 0,
	 .max = HUGE_VAL, .flags = DF_MIN_EXCL},
	{.path = "es.lr", .type = DESC_SCHED, F(es.lr), .min = 0,
	 .max = HUGE_VAL, .flags = DF_MIN_EXCL},
	{.path = "es.optimizer", .type = DESC_ENUM, F(es.optimizer),
	 .flags = DF_LOCKED, .words = optimizer_words},
	{.path = "es.weight_decay", .type = DESC_DOUBLE, F(es.weight_decay),
	 .min = 0, .max = HUGE_VAL},
	{.path = "es.grad_clip", .type = DESC_DOUBLE, F(es.grad_clip),
	 .min = 0, .max = HUGE_VAL},
	{.path = "es.shaping", .type = DESC_ENUM, F(es.shaping),
	 .words = shaping_words},
	{.path = "es.beta1", .type = DESC_DOUBLE, F(es.beta1), .min = 0,
	 .max = 1, .flags = DF_MAX_EXCL},
	{.path = "es.beta2", .type = DESC_DOUBLE, F(es.beta2), .min = 0,
	 .max = 1, .flags = DF_MAX_EXCL},
	{.path = "es.eps", .type = DESC_DOUBLE, F(es.eps), .min = 0,
	 .max = HUGE_VAL, .flags = DF_MIN_EXCL},
	{.path = "es.momentum", .type = DESC_DOUBLE, F(es.momentum),
	 .min = 0, .max = 1, .flags = DF_MAX_EXCL},
	{.path = "es.max_speed", .type = DESC_DOUBLE, F(es.max_speed),
	 .min = 0, .max = HUGE_VAL, .flags = DF_MIN_EXCL},
	{.path = "es.sigma_lr", .type = DESC_DOUBLE, F(es.sigma_lr),
	 .min = 0, .max = HUGE_VAL},
	{.path = "es.sigma_max_change", .type = DESC_DOUBLE,
	 F(es.sigma_max_change), .min = 0, .max = 1, .flags = DF_MIN_EXCL},
	{.path = "es.sigma_min", .type = DESC_DOUBLE, F(es.sigma_min),
	 .min = 0, .max = HUGE_VAL},
	{.path = "es.assign", .type = DESC_ENUM, F(es.assign),
	 .words = assign_words},
	{.path = "es.chunk_pairs", .type = DESC_U32, F(es.chunk_pairs),
	 .min = 1, .max = U32MAX},
	{.path = "es.theta_ema", .type = DESC_DOUBLE, F(es.theta_ema),
	 .min = 0, .max = 1, .flags = DF_MAX_EXCL},

	{.path = "eval.seeds", .type = DESC_U32, F(eval.seeds), .min = 1,
	 .max = U32MAX},
	{.path = "eval.majority", .type = DESC_U32_LIST, F(eval.majority),
	 .count_offset = offsetof(struct config, eval.n_majority), .min = 1,
	 .max = U32MAX},
	{.path = "eval.majority_draws", .type = DESC_U32,
	 F(eval.majority_draws), .min = 1, .max = U32MAX},
	{.path = "eval.max_inputs", .type = DESC_U32, F(eval.max_inputs),
	 .min = 0, .max = U32MAX},
};

#define N_DESCS (sizeof(descs) / sizeof(descs[0]))
#define MAX_DESCS 96
_Static_assert(N_DESCS <= MAX_DESCS, "raise MAX_DESCS");
_Static_assert(sizeof(((struct config *)0)->eval.majority) ==
		       CONFIG_MAX_MAJORITY * sizeof(uint32_t),
	       "majority list layout");

/* Longest key path we ever build (user keys longer than this are unknown). */
#define PATH_LEN 160

static const struct desc *desc_find(const char *path)
{
	for (size_t i = 0; i < N_DESCS; i++)
		if (strcmp(descs[i].path, path) == 0)
			return &descs[i];
	return NULL;
}

static size_t desc_index(const struct desc *d)
{
	return (size_t)(d - descs);
}

/* 1 if `path` names a mapping of the table (a section such as "es" or
 * "model.seed_encoding"), i.e. some row path starts with path + ".". */
static int is_section(const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < N_DESCS; i++)
		if (strncmp(descs[i].path, path, n) == 0 &&
		    descs[i].path[n] == '.')
			return 1;
	return 0;
}

/* Writes the distinct key names one level below `prefix` ("" for the top
 * level), comma-separated, into buf. */
static void children_of(const char *prefix, char *buf, size_t cap)
{
	size_t n = strlen(prefix), used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_DESCS; i++) {
		const char *p = descs[i].path, *child;
		size_t len;
		if (n > 0) {
			if (strncmp(p, prefix, n) != 0 || p[n] != '.')
				continue;
			child = p + n + 1;
		} else {
			child = p;
		}
		len = strcspn(child, ".");
		/* Skip a child already listed (rows of a mapping are
		 * contiguous, so comparing with earlier rows is enough). */
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *q = descs[j].path, *qc;
			if (n > 0) {
				if (strncmp(q, prefix, n) != 0 || q[n] != '.')
					continue;
				qc = q + n + 1;
			} else {
				qc = q;
			}
			if (strcspn(qc, ".") == len &&
			    strncmp(qc, child, len) == 0)
				seen = 1;
		}
		if (seen)
			continue;
		int w = snprintf(buf + used, cap - used, "%s%.*s",
				 used ? ", " : "", (int)len, child);
		if (w < 0 || (size_t)w >= cap - used)
			return;
		used += (size_t)w;
	}
}

static void *field_ptr(struct config *cfg, const struct desc *d)
{
	return (char *)cfg + d->offset;
}

static const void *field_cptr(const struct config *cfg, const struct desc *d)
{
	return (const char *)cfg + d->offset;
}

static const char *enum_word_of(const struct enum_word *w, int v)
{
	for (; w->word; w++)
		if (w->value == v)
			return w->word;
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Describing and checking values                                            */
/* ------------------------------------------------------------------------ */

/* "an integer in [2, 64]", "a number > 0", "one of step, linear, cosine". */
static void describe(const struct desc *d, char *buf, size_t cap)
{
	size_t used = 0;

#define PUT(...)                                                           \
	do {                                                               \
		int w_ = snprintf(buf + used, cap - used, __VA_ARGS__);    \
		if (w_ > 0)                                                \
			used += (size_t)w_ < cap - used ? (size_t)w_       \
							 : cap - used - 1; \
	} while (0)

	buf[0] = '\0';
	switch (d->type) {
	case DESC_U32:
	case DESC_U64:
	case DESC_U32_LIST:
		if (d->type == DESC_U32_LIST)
			PUT("a list of at most %d integers ",
			    CONFIG_MAX_MAJORITY);
		else
			PUT("%s ", d->flags & DF_EVEN ? "an even integer"
						      : "an integer");
		if (d->type == DESC_U64)
			PUT("in [0, 18446744073709551615]");
		else if (d->max >= U32MAX - 1)
			PUT(">= %.0f", d->min);
		else
			PUT("in [%.0f, %.0f]", d->min, d->max);
		break;
	case DESC_DOUBLE:
	case DESC_SCHED:
		PUT("a number ");
		if (isinf(d->max))
			PUT("%s %g", d->flags & DF_MIN_EXCL ? ">" : ">=",
			    d->min);
		else
			PUT("in %c%g, %g%c", d->flags & DF_MIN_EXCL ? '(' : '[',
			    d->min, d->max,
			    d->flags & DF_MAX_EXCL ? ')' : ']');
		if (d->flags & DF_INF)
			PUT(" or inf");
		break;
	case DESC_BOOL:
		PUT("true or false");
		break;
	case DESC_ENUM:
		PUT("one of ");
		for (const struct enum_word *w = d->words; w->word; w++)
			PUT("%s%s", w == d->words ? "" : ", ", w->word);
		break;
	case DESC_STRING:
		if (d->flags & DF_PATH)
			PUT("\"\" or a path of up to %zu characters from "
			    "A-Z a-z 0-9 . _ - + / = , ~",
			    d->size - 1);
		else
			PUT("a name of 1 to %zu characters from A-Z a-z 0-9 "
			    ". _ -",
			    d->size - 1);
		break;
	}
#undef PUT
}

static int uint_ok(const struct desc *d, uint64_t v)
{
	if (d->type == DESC_U64)
		return 1;
	if ((double)v < d->min || (double)v > d->max)
		return 0;
	if ((d->flags & DF_EVEN) && (v & 1u))
		return 0;
	return 1;
}

static int double_ok(const struct desc *d, double v)
{
	if (isnan(v))
		return 0;
	if (isinf(v))
		return v > 0 && (d->flags & DF_INF);
	if (d->flags & DF_MIN_EXCL ? v <= d->min : v < d->min)
		return 0;
	if (d->flags & DF_MAX_EXCL ? v >= d->max : v > d->max)
		return 0;
	return 1;
}

/*
 * A name: 1 to cap - 1 characters from [A-Za-z0-9._-].  A path (DF_PATH)
 * may also hold '+' and '/', and '=', ',' and '~', which randes sweep puts
 * into run directory names (q=8, variant=q_R,q=10, ...~92baf9da), so a run's
 * model can be named where it lies; it may be empty (none).  None of these
 * needs escaping inside the double quotes the YAML writer puts around
 * strings.
 */
static int string_ok(const char *s, size_t cap, unsigned flags)
{
	size_t n = strnlen(s, cap);
	int path = (flags & DF_PATH) != 0;

	if ((n == 0 && !path) || n >= cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' ||
		      (path && (c == '/' || c == '+' || c == '=' || c == ',' ||
				c == '~'))))
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------------ */
/* Strict number parsing                                                     */
/* ------------------------------------------------------------------------ */

/* Decimal unsigned integer: [+]digits, no leading zeros, <= max. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0;

	if (*p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	if (p[0] == '0' && p[1] != '\0')
		return -1; /* 007: octal in YAML 1.1, decimal in 1.2 */
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned digit = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int is_inf_word(const char *s)
{
	static const char *const words[] = {"inf", ".inf", "Inf", ".Inf",
					    "INF", ".INF"};
	if (*s == '+')
		s++;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return 1;
	return 0;
}

/* [+-](digits[.digits*] | .digits)([eE][+-]digits)?, finite; or an inf word
 * (returned as +inf; the caller decides whether inf is allowed). */
static int parse_double(const char *s, double *out)
{
	const char *p = s;
	size_t int_digits = 0, frac_digits = 0;
	char *end;

	if (is_inf_word(s)) {
		*out = HUGE_VAL;
		return 0;
	}
	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		int_digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			frac_digits++;
		}
	}
	if (int_digits + frac_digits == 0)
		return -1;
	if (*p == 'e' || *p == 'E') {
		size_t exp_digits = 0;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			exp_digits++;
		}
		if (exp_digits == 0)
			return -1;
	}
	if (*p != '\0')
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v))
		return -1; /* 1e999 overflows to inf: not what was written */
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Locations and messages                                                    */
/* ------------------------------------------------------------------------ */

/* Where a value came from: a file position, an override, or nowhere. */
struct loc {
	const char *file;     /* non-NULL: "file:line:col: "          */
	const char *override; /* non-NULL: "--set ARG: "               */
	size_t line, col;     /* 1-based                                */
};

struct section_loc {
	char path[PATH_LEN];
	struct loc loc;
};

#define MAX_SECTIONS 32

/* The state of one load (or one config_apply_override). */
struct load {
	struct config work;       /* the scratch struct values go into   */
	const char *file;         /* name for messages (file or string)  */
	const char *override;     /* the --set argument being applied    */
	yaml_document_t *doc;     /* document being walked               */
	unsigned char set[MAX_DESCS];
	struct loc where[MAX_DESCS];
	struct section_loc sections[MAX_SECTIONS];
	size_t n_sections;
	struct loc root;
	char *err;
};

static struct loc loc_of(const struct load *ld, const yaml_node_t *node)
{
	struct loc l = {0};

	if (ld->override) {
		l.override = ld->override;
	} else {
		l.file = ld->file;
		l.line = node ? node->start_mark.line + 1 : 1;
		l.col = node ? node->start_mark.column + 1 : 1;
	}
	return l;
}

/* Formats "LOC: path: " followed by the printf message into err. */
static int fail_loc(char *err, const struct loc *l, const char *path,
		    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_loc(char *err, const struct loc *l, const char *path,
		    const char *fmt, ...)
{
	char where[CONFIG_PATH_LEN + 64], msg[RANDES_ERR_LEN];
	va_list ap;

	if (!err)
		return RANDES_ECONFIG;
	where[0] = '\0';
	if (l && l->override)
		snprintf(where, sizeof(where), "--set %s: ", l->override);
	else if (l && l->file)
		snprintf(where, sizeof(where), "%s:%zu:%zu: ", l->file,
			 l->line, l->col);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return randes_errf(err, RANDES_ECONFIG, "%s%s: %s", where, path, msg);
}

/* What was found at a node, for "got ...": the scalar quoted as written
 * (cut at 60 characters), or "a mapping" / "a sequence". */
static void got_text(const yaml_node_t *node, char *buf, size_t cap)
{
	if (!node) {
		snprintf(buf, cap, "''");
		return;
	}
	if (node->type == YAML_MAPPING_NODE) {
		snprintf(buf, cap, "a mapping");
		return;
	}
	if (node->type == YAML_SEQUENCE_NODE) {
		snprintf(buf, cap, "a sequence");
		return;
	}
	const char *open = "", *close = "";
	if (node->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		open = close = "\"";
	else if (node->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE)
		open = close = "'";
	char text[72];
	size_t n = node->data.scalar.length, k;
	for (k = 0; k < n && k < 60; k++) {
		unsigned char c = node->data.scalar.value[k];
		text[k] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	text[k] = '\0';
	snprintf(buf, cap, "'%s%s%s%s'", open, text, n > 60 ? "..." : "",
		 close);
}

/* Expected-vs-got error at a node. */
static int fail_value(struct load *ld, const yaml_node_t *node,
		      const char *path, const char *expected)
{
	char got[96];
	struct loc l = loc_of(ld, node);

	got_text(node, got, sizeof(got));
	return fail_loc(ld->err, &l, path, "expected %s, got %s", expected,
			got);
}

static int fail_desc(struct load *ld, const yaml_node_t *node,
		     const struct desc *d)
{
	char what[256];

	describe(d, what, sizeof(what));
	return fail_value(ld, node, d->path, what);
}

static yaml_node_t *node_at(const struct load *ld, int index)
{
	return yaml_document_get_node(ld->doc, index);
}

/* Numbers and booleans must be plain scalars: "0.5" in quotes is a string. */
static const char *plain_scalar_of(const yaml_node_t *node)
{
	const char *s = yaml_scalar_text(node);

	if (s && node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return NULL;
	return s;
}

/* ------------------------------------------------------------------------ */
/* Setting values through the table                                          */
/* ------------------------------------------------------------------------ */

/* A number for row d at node (a schedule point value or a plain real). */
static int read_number(struct load *ld, const yaml_node_t *node,
		       const struct desc *d, const char *path, double *out)
{
	const char *s = plain_scalar_of(node);
	char what[256];

	if (!s || parse_double(s, out) != 0 || !double_ok(d, *out)) {
		describe(d, what, sizeof(what));
		return fail_value(ld, node, path, what);
	}
	return 0;
}

/* {interp: step|linear|cosine, points: [[gen, value], ...]} */
static int read_sched(struct load *ld, const yaml_node_t *node,
		      const struct desc *d, struct sched *out)
{
	char path[PATH_LEN], what[320];
	const yaml_node_t *interp_node = NULL, *points_node = NULL;
	struct sched s;

	memset(&s, 0, sizeof(s));
	if (node->type == YAML_SCALAR_NODE) {
		int rc = read_number(ld, node, d, d->path, &s.value);
		if (rc)
			return rc;
		*out = s;
		return 0;
	}
	if (node->type != YAML_MAPPING_NODE) {
		describe(d, what, sizeof(what));
		strncat(what, ", or {interp: step|linear|cosine, points: "
			      "[[gen, value], ...]}",
			sizeof(what) - strlen(what) - 1);
		return fail_value(ld, node, d->path, what);
	}

	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
		const char *key = yaml_scalar_text(k);
		const yaml_node_t **slot = NULL;
		if (key && strcmp(key, "interp") == 0)
			slot = &interp_node;
		else if (key && strcmp(key, "points") == 0)
			slot = &points_node;
		snprintf(path, sizeof(path), "%s.%s", d->path,
			 key ? key : "?");
		if (!slot)
			return fail_value(ld, k, path,
					  "a schedule key (interp, points)");
		if (*slot) {
			struct loc l = loc_of(ld, k);
			return fail_loc(ld->err, &l, path,
					"expected each key once, got '%s' "
					"again",
					key);
		}
		*slot = v;
	}
	if (!interp_node || !points_node) {
		struct loc l = loc_of(ld, node);
		snprintf(path, sizeof(path), "%s.%s", d->path,
			 interp_node ? "points" : "interp");
		return fail_loc(ld->err, &l, path,
				"expected a required key of a schedule, got "
				"nothing");
	}

	snprintf(path, sizeof(path), "%s.interp", d->path);
	const char *iw = yaml_scalar_text(interp_node);
	const struct enum_word *w = interp_words;
	for (; iw && w->word; w++)
		if (strcmp(iw, w->word) == 0)
			break;
	if (!iw || !w->word)
		return fail_value(ld, interp_node, path,
				  "one of step, linear, cosine");
	s.interp = (enum sched_interp)w->value;

	snprintf(path, sizeof(path), "%s.points", d->path);
	if (points_node->type != YAML_SEQUENCE_NODE)
		return fail_value(ld, points_node, path,
				  "a list of [generation, value] pairs");
	size_t n = (size_t)(points_node->data.sequence.items.top -
			    points_node->data.sequence.items.start);
	if (n == 0 || n > SCHED_MAX_POINTS) {
		struct loc l = loc_of(ld, points_node);
		return fail_loc(ld->err, &l, path,
				"expected 1 to %d [generation, value] pairs, "
				"got %zu",
				SCHED_MAX_POINTS, n);
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *pt =
			node_at(ld, points_node->data.sequence.items.start[i]);
		snprintf(path, sizeof(path), "%s.points[%zu]", d->path, i);
		if (pt->type != YAML_SEQUENCE_NODE ||
		    pt->data.sequence.items.top -
				    pt->data.sequence.items.start !=
			    2)
			return fail_value(ld, pt, path,
					  "a pair [generation, value]");
		yaml_node_t *gn = node_at(ld, pt->data.sequence.items.start[0]);
		yaml_node_t *vn = node_at(ld, pt->data.sequence.items.start[1]);
		const char *gs = plain_scalar_of(gn);
		uint64_t g;
		if (!gs || parse_uint(gs, UINT32_MAX, &g) != 0)
			return fail_value(ld, gn, path,
					  "a generation: an integer >= 0");
		if (i == 0 && g != 0)
			return fail_value(ld, gn, path,
					  "the first point at generation 0");
		if (i > 0 && g <= s.gen[i - 1]) {
			snprintf(what, sizeof(what),
				 "a generation > %" PRIu32
				 " (strictly increasing)",
				 s.gen[i - 1]);
			return fail_value(ld, gn, path, what);
		}
		int rc = read_number(ld, vn, d, path, &s.val[i]);
		if (rc)
			return rc;
		s.gen[i] = (uint32_t)g;
	}
	s.npoints = (unsigned)n;
	s.value = s.val[0];
	*out = s;
	return 0;
}

static int read_list(struct load *ld, const yaml_node_t *node,
		     const struct desc *d)
{
	uint32_t vals[CONFIG_MAX_MAJORITY] = {0};
	size_t n;

	if (node->type != YAML_SEQUENCE_NODE)
		return fail_desc(ld, node, d);
	n = (size_t)(node->data.sequence.items.top -
		     node->data.sequence.items.start);
	if (n > CONFIG_MAX_MAJORITY)
		return fail_desc(ld, node, d);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *e = node_at(ld, node->data.sequence.items.start[i]);
		const char *s = plain_scalar_of(e);
		uint64_t v;
		if (!s || parse_uint(s, UINT32_MAX, &v) != 0 || !uint_ok(d, v))
			return fail_desc(ld, e, d);
		vals[i] = (uint32_t)v;
	}
	memcpy(field_ptr(&ld->work, d), vals, sizeof(vals));
	*(unsigned *)((char *)&ld->work + d->count_offset) = (unsigned)n;
	return 0;
}

/* Parses node as the value of row d into ld->work; marks it set. */
static int set_value(struct load *ld, const struct desc *d,
		     const yaml_node_t *node)
{
	void *f = field_ptr(&ld->work, d);
	const char *s;
	int rc = 0;

	/* no node: "--set key=", an empty document; only a string key can
	 * take it (the empty string, which string_ok allows for paths) */
	if (!node && d->type != DESC_STRING)
		return fail_desc(ld, node, d);
	switch (d->type) {
	case DESC_U32:
	case DESC_U64: {
		uint64_t v;
		s = plain_scalar_of(node);
		if (!s ||
		    parse_uint(s, d->type == DESC_U32 ? UINT32_MAX : UINT64_MAX,
			       &v) != 0 ||
		    !uint_ok(d, v))
			return fail_desc(ld, node, d);
		if (d->type == DESC_U32)
			*(uint32_t *)f = (uint32_t)v;
		else
			*(uint64_t *)f = v;
		break;
	}
	case DESC_DOUBLE:
		rc = read_number(ld, node, d, d->path, (double *)f);
		break;
	case DESC_BOOL:
		s = plain_scalar_of(node);
		if (s && strcmp(s, "true") == 0)
			*(int *)f = 1;
		else if (s && strcmp(s, "false") == 0)
			*(int *)f = 0;
		else
			return fail_desc(ld, node, d);
		break;
	case DESC_ENUM: {
		const struct enum_word *w = d->words;
		s = yaml_scalar_text(node);
		for (; s && w->word; w++)
			if (strcmp(s, w->word) == 0)
				break;
		if (!s || !w->word)
			return fail_desc(ld, node, d);
		*(int *)f = w->value;
		break;
	}
	case DESC_STRING:
		s = node ? yaml_scalar_text(node) : "";
		if (!s || !string_ok(s, d->size, d->flags))
			return fail_desc(ld, node, d);
		memset(f, 0, d->size);
		memcpy(f, s, strlen(s));
		break;
	case DESC_SCHED:
		rc = read_sched(ld, node, d, (struct sched *)f);
		break;
	case DESC_U32_LIST:
		rc = read_list(ld, node, d);
		break;
	}
	if (rc)
		return rc;
	ld->set[desc_index(d)] = 1;
	ld->where[desc_index(d)] = loc_of(ld, node);
	return 0;
}

static void note_section(struct load *ld, const char *path,
			 const yaml_node_t *node)
{
	for (size_t i = 0; i < ld->n_sections; i++)
		if (strcmp(ld->sections[i].path, path) == 0)
			return; /* the first place it was written wins */
	if (ld->n_sections == MAX_SECTIONS)
		return;
	snprintf(ld->sections[ld->n_sections].path, PATH_LEN, "%s", path);
	ld->sections[ld->n_sections].loc = loc_of(ld, node);
	ld->n_sections++;
}

static int walk_mapping(struct load *ld, const char *prefix,
			const yaml_node_t *map);

/* The value of key `path` (a row or a section). */
static int walk_value(struct load *ld, const char *path,
		      const yaml_node_t *key_node, const yaml_node_t *value)
{
	const struct desc *d = desc_find(path);
	char what[640], kids[400];

	if (d)
		return set_value(ld, d, value);
	if (is_section(path)) {
		if (!value || value->type != YAML_MAPPING_NODE) {
			children_of(path, kids, sizeof(kids));
			snprintf(what, sizeof(what),
				 "a mapping with keys %s", kids);
			return fail_value(ld, value, path, what);
		}
		return walk_mapping(ld, path, value);
	}

	/* Unknown: find the first component that is not a known mapping and
	 * name the keys that would have been valid in its place. */
	char parent[PATH_LEN];
	size_t plen = 0;
	for (;;) {
		size_t next = plen + (plen ? 1 : 0);
		size_t clen = strcspn(path + next, ".");
		if (path[next + clen] != '.')
			break; /* the last component: the key itself */
		snprintf(parent, sizeof(parent), "%.*s", (int)(next + clen),
			 path);
		if (desc_find(parent)) {
			struct loc l = key_node ? loc_of(ld, key_node)
						: loc_of(ld, value);
			return fail_loc(ld->err, &l, path,
					"expected no key below %s (it holds a "
					"value, not a mapping), got '%s'",
					parent, path + next + clen + 1);
		}
		if (!is_section(parent))
			break;
		plen = next + clen;
	}
	snprintf(parent, sizeof(parent), "%.*s", (int)plen, path);
	const char *bad_key = path + plen + (plen ? 1 : 0);
	size_t bad_len = strcspn(bad_key, ".");
	children_of(parent, kids, sizeof(kids));
	snprintf(what, sizeof(what), "a key of %s (%s)",
		 plen ? parent : "the top level", kids);
	struct loc l = key_node ? loc_of(ld, key_node) : loc_of(ld, value);
	return fail_loc(ld->err, &l, path, "expected %s, got '%.*s'", what,
			(int)bad_len, bad_key);
}

static int walk_mapping(struct load *ld, const char *prefix,
			const yaml_node_t *map)
{
	char path[PATH_LEN];

	RANDES_ASSERT(map->type == YAML_MAPPING_NODE);
	note_section(ld, prefix, map);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
		const char *key = yaml_scalar_text(k);

		if (!key || k->data.scalar.length == 0) {
			struct loc l = loc_of(ld, k);
			char got[96];
			got_text(k, got, sizeof(got));
			return fail_loc(ld->err, &l,
					*prefix ? prefix : "(top level)",
					"expected a key name, got %s", got);
		}
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start;
		     q < p; q++) {
			yaml_node_t *qk = node_at(ld, q->key);
			const char *qs = yaml_scalar_text(qk);
			if (qs && strcmp(qs, key) == 0) {
				struct loc l = loc_of(ld, k);
				snprintf(path, sizeof(path), "%s%s%s", prefix,
					 *prefix ? "." : "", key);
				return fail_loc(ld->err, &l, path,
						"expected each key once, got "
						"'%s' again (first at line "
						"%zu)",
						key, (size_t)qk->start_mark.line + 1);
			}
		}
		int w = snprintf(path, sizeof(path), "%s%s%s", prefix,
				 *prefix ? "." : "", key);
		if (w < 0 || (size_t)w >= sizeof(path)) {
			struct loc l = loc_of(ld, k);
			return fail_loc(ld->err, &l,
					*prefix ? prefix : "(top level)",
					"expected a known key, got a key of "
					"%zu characters",
					strlen(key));
		}
		int rc = walk_value(ld, path, k, v);
		if (rc)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* YAML documents                                                            */
/* ------------------------------------------------------------------------ */

/* The parser's error as "LOC: yaml: problem (context)". */
static int yaml_fail(const yaml_parser_t *p, const char *file,
		     const char *override, char *err)
{
	char ctx[256] = "";
	struct loc l = {0};

	if (p->error == YAML_MEMORY_ERROR)
		return randes_errf(err, RANDES_ENOMEM,
				   "%s: out of memory while parsing YAML",
				   override ? override : file);
	if (p->context)
		snprintf(ctx, sizeof(ctx), " (%s at line %zu column %zu)",
			 p->context, (size_t)p->context_mark.line + 1,
			 (size_t)p->context_mark.column + 1);
	l.file = file;
	l.override = override;
	if (p->error == YAML_READER_ERROR) {
		/* The reader gives a byte offset, not a mark. */
		l.line = p->mark.line + 1;
		l.col = p->mark.column + 1;
		return fail_loc(err, &l, "yaml", "%s (byte %zu)",
				p->problem ? p->problem : "unreadable input",
				(size_t)p->problem_offset);
	}
	l.line = p->problem_mark.line + 1;
	l.col = p->problem_mark.column + 1;
	return fail_loc(err, &l, "yaml", "%s%s",
			p->problem ? p->problem : "syntax error", ctx);
}

/* Applies one "key.path=value" to ld->work. */
static int apply_override(struct load *ld, const char *arg)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int have_parser = 0, have_doc = 0, rc;
	char key[PATH_LEN];
	const char *eq = strchr(arg, '=');

	ld->override = arg;
	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
		rc = randes_errf(ld->err, RANDES_ECONFIG,
				 "--set %s: expected key.path=value", arg);
		goto fail;
	}
	snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
	if (!desc_find(key) && !is_section(key)) {
		rc = walk_value(ld, key, NULL, NULL); /* the unknown-key error */
		goto fail;
	}
	if (!yaml_parser_initialize(&parser)) {
		rc = randes_errf(ld->err, RANDES_ENOMEM, "out of memory");
		goto fail;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)(eq + 1),
				     strlen(eq + 1));
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_fail(&parser, NULL, arg, ld->err);
		goto fail;
	}
	have_doc = 1;
	ld->doc = &doc;
	rc = walk_value(ld, key, NULL, yaml_document_get_root_node(&doc));
fail:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	ld->doc = NULL;
	ld->override = NULL;
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Presets                                                                   */
/* ------------------------------------------------------------------------ */

static void sched_const(struct sched *s, double v)
{
	memset(s, 0, sizeof(*s));
	s->value = v;
}

void config_defaults(struct config *cfg, enum task_kind kind)
{
	RANDES_ASSERT(enum_word_of(task_kind_words, (int)kind) != NULL);
	/* Zeroed first, padding included, so that two configs with equal
	 * values compare equal with memcmp. */
	memset(cfg, 0, sizeof(*cfg));

	snprintf(cfg->run.name, sizeof(cfg->run.name), "config");
	cfg->run.seed = 0;
	cfg->run.generations = 0; /* required: the loader insists */
	cfg->run.checkpoint_every = 50;
	cfg->run.progress_seconds = 0.0;
	cfg->run.eval_at_end = 1;

	/* Every task key has its own task's default, whatever the kind, so
	 * that switching the kind gives sensible values everywhere. */
	cfg->task.kind = kind;
	cfg->task.num_tokens = 20;
	cfg->task.value_bits = 5;
	cfg->task.exhaustive_values = 4;
	cfg->task.eval_fillings = 16;
	cfg->task.num_vertices = 10;
	cfg->task.eval_max_cycles = 200000;
	cfg->task.coloring_numerics = COLORING_NUMERICS_FLOAT;
	cfg->task.size = 5;
	cfg->task.episode_steps = 25;
	cfg->task.episodes = 2;
	cfg->task.dim = 100;

	/* The colouring model is the base (small, linear, no MLP/norm). */
	cfg->model.width = 16;
	cfg->model.layers = 2;
	cfg->model.heads = 1;
	cfg->model.key_size = 16;
	cfg->model.value_size = 16;
	cfg->model.input_embedding = MODEL_EMBED_LINEAR;
	cfg->model.attention = MODEL_ATTENTION_LINEAR;
	cfg->model.mlp = 0;
	cfg->model.mlp_ratio = 4;
	cfg->model.layernorm = 0;
	cfg->model.positional = MODEL_POSITIONAL_NONE;
	cfg->model.seed_encoding.kind = RSE_KIND_UNIFORM;
	cfg->model.seed_encoding.dim = 1;
	cfg->model.seed_encoding.placement = RSE_PLACEMENT_PER_TOKEN;
	cfg->model.index_dim = 32;
	cfg->model.embedding_init_var = 0.1;
	cfg->model.weight_init_var = 1.0;

	cfg->objective.variant = VARIANT_Q_R;
	sched_const(&cfg->objective.q, 10.0);
	cfg->objective.seeds = 10;
	cfg->objective.inputs = 256;
	cfg->objective.adversary = ADVERSARY_SAMPLED;

	cfg->es.strategy = ES_STRATEGY_OPENAI_ES;
	cfg->es.population = 128;
	sched_const(&cfg->es.sigma, 0.03);
	sched_const(&cfg->es.lr, 0.01);
	cfg->es.optimizer = ES_OPTIMIZER_ADAM;
	cfg->es.weight_decay = 0.0;
	cfg->es.grad_clip = 0.0;
	cfg->es.shaping = ES_SHAPING_CENTERED_RANKS;
	cfg->es.beta1 = 0.9;
	cfg->es.beta2 = 0.999;
	cfg->es.eps = 1e-8;
	cfg->es.momentum = 0.9;
	cfg->es.max_speed = 0.1;
	cfg->es.sigma_lr = 0.01;
	cfg->es.sigma_max_change = 0.2;
	cfg->es.sigma_min = 0.01;
	cfg->es.assign = ES_ASSIGN_STATIC;
	cfg->es.chunk_pairs = 4;

	cfg->eval.seeds = 100;
	cfg->eval.majority[0] = 1;
	cfg->eval.majority[1] = 5;
	cfg->eval.majority[2] = 30;
	cfg->eval.n_majority = 3;
	cfg->eval.majority_draws = 200;
	cfg->eval.max_inputs = 0;

	switch (kind) {
	case TASK_KIND_ASSOCIATIVE_RECALL: /* PAPER.md 2.2, 2.5 */
		cfg->model.width = 40;
		cfg->model.key_size = 5;
		cfg->model.value_size = 5;
		cfg->model.input_embedding = MODEL_EMBED_MLP;
		cfg->model.seed_encoding.kind = RSE_KIND_BITS;
		cfg->model.seed_encoding.dim = 10;
		cfg->model.seed_encoding.placement = RSE_PLACEMENT_EVERY_TOKEN;
		cfg->model.embedding_init_var = 1.0;
		sched_const(&cfg->objective.q, 100.0);
		cfg->objective.seeds = 30;
		cfg->objective.inputs = 512;
		cfg->es.population = 256;
		sched_const(&cfg->es.sigma, 0.02);
		break;
	case TASK_KIND_CYCLE_COLORING: /* PAPER.md 3.2, 3.4: the base */
		break;
	case TASK_KIND_GRIDWORLD: /* PAPER.md 4.2-4.5 */
		cfg->model.width = 80;
		cfg->model.heads = 4;
		cfg->model.key_size = 10;
		cfg->model.value_size = 10;
		cfg->model.attention = MODEL_ATTENTION_SOFTMAX;
		cfg->model.mlp = 1;
		cfg->model.layernorm = 1;
		cfg->model.positional = MODEL_POSITIONAL_LEARNED;
		cfg->model.seed_encoding.kind = RSE_KIND_NORMAL;
		cfg->model.seed_encoding.dim = 0;
		cfg->model.seed_encoding.placement = RSE_PLACEMENT_FIRST_TOKEN;
		cfg->model.embedding_init_var = 1.0;
		sched_const(&cfg->objective.q, HUGE_VAL);
		cfg->objective.seeds = 10;
		cfg->objective.inputs = 24;
		cfg->objective.adversary = ADVERSARY_EXHAUSTIVE;
		cfg->es.strategy = ES_STRATEGY_PGPE;
		cfg->es.population = 300;
		cfg->es.beta1 = 0.99;
		break;
	case TASK_KIND_SPHERE:
	case TASK_KIND_RASTRIGIN:
		/* Plain test functions: no inputs, no seeds, no model. */
		cfg->objective.variant = VARIANT_E_R0;
		sched_const(&cfg->objective.q, 1.0);
		cfg->objective.seeds = 1;
		cfg->objective.inputs = 1;
		cfg->es.population = 64;
		sched_const(&cfg->es.sigma, 0.1);
		sched_const(&cfg->es.lr, 0.05);
		break;
	}
}

/* ------------------------------------------------------------------------ */
/* Cross-field rules                                                         */
/* ------------------------------------------------------------------------ */

/* Location for a cross-field error: the primary key if it was set, else the
 * secondary, else the top of the file (NULL ld: no location). */
static const struct loc *cross_loc(const struct load *ld, const char *primary,
				   const char *secondary)
{
	if (!ld)
		return NULL;
	const struct desc *d = desc_find(primary);
	if (d && ld->set[desc_index(d)])
		return &ld->where[desc_index(d)];
	d = secondary ? desc_find(secondary) : NULL;
	if (d && ld->set[desc_index(d)])
		return &ld->where[desc_index(d)];
	return &ld->root;
}

static int validate_cross(const struct config *c, const struct load *ld,
			  char *err)
{
	for (unsigned i = 0; i < c->eval.n_majority; i++)
		if (c->eval.majority[i] > c->eval.seeds)
			return fail_loc(err,
					cross_loc(ld, "eval.majority",
						  "eval.seeds"),
					"eval.majority",
					"expected vote sizes <= eval.seeds "
					"(%" PRIu32 "), got '%" PRIu32 "'",
					c->eval.seeds, c->eval.majority[i]);

	if (c->task.kind == TASK_KIND_ASSOCIATIVE_RECALL &&
	    (uint64_t)c->task.exhaustive_values > (1ull << c->task.value_bits))
		return fail_loc(err,
				cross_loc(ld, "task.exhaustive_values",
					  "task.value_bits"),
				"task.exhaustive_values",
				"expected at most 2^task.value_bits = %llu "
				"values, got '%" PRIu32 "'",
				1ull << c->task.value_bits,
				c->task.exhaustive_values);

	if (c->es.strategy == ES_STRATEGY_PGPE && c->es.sigma.npoints > 0)
		return fail_loc(err, cross_loc(ld, "es.sigma", "es.strategy"),
				"es.sigma",
				"expected a constant number with es.strategy "
				"pgpe (it is only the initial std; pgpe adapts "
				"sigma itself), got a schedule");

	if (c->model.seed_encoding.placement != RSE_PLACEMENT_FIRST_TOKEN &&
	    c->model.seed_encoding.dim == 0)
		return fail_loc(err,
				cross_loc(ld, "model.seed_encoding.dim",
					  "model.seed_encoding.placement"),
				"model.seed_encoding.dim",
				"expected an integer >= 1 with placement %s "
				"(0 means a whole token, first_token only), "
				"got '0'",
				enum_word_of(placement_words,
					     (int)c->model.seed_encoding
						     .placement));

	if (c->model.init_seed_scale > 0 && c->model.init_from[0] == '\0')
		return fail_loc(err,
				cross_loc(ld, "model.init_seed_scale",
					  "model.init_from"),
				"model.init_seed_scale",
				"expected 0 without model.init_from (it "
				"restarts the seed rows of a loaded model), "
				"got '%g'",
				c->model.init_seed_scale);
	return 0;
}

/* Range checks of every row on a struct built anywhere (no locations). */
static int validate_fields(const struct config *c, char *err)
{
	char what[320];

	for (size_t i = 0; i < N_DESCS; i++) {
		const struct desc *d = &descs[i];
		const void *f = field_cptr(c, d);
		char got[64] = "";
		int ok = 1;

		switch (d->type) {
		case DESC_U32:
			ok = uint_ok(d, *(const uint32_t *)f);
			snprintf(got, sizeof(got), "%" PRIu32,
				 *(const uint32_t *)f);
			break;
		case DESC_U64:
			break;
		case DESC_DOUBLE:
			ok = double_ok(d, *(const double *)f);
			snprintf(got, sizeof(got), "%g", *(const double *)f);
			break;
		case DESC_BOOL:
			ok = *(const int *)f == 0 || *(const int *)f == 1;
			snprintf(got, sizeof(got), "%d", *(const int *)f);
			break;
		case DESC_ENUM:
			ok = enum_word_of(d->words, *(const int *)f) != NULL;
			snprintf(got, sizeof(got), "%d", *(const int *)f);
			break;
		case DESC_STRING:
			ok = string_ok((const char *)f, d->size, d->flags);
			snprintf(got, sizeof(got), "%.40s",
				 strnlen((const char *)f, d->size) < d->size
					 ? (const char *)f
					 : "(unterminated)");
			break;
		case DESC_SCHED: {
			const struct sched *s = f;
			if (s->npoints == 0) {
				ok = double_ok(d, s->value);
				snprintf(got, sizeof(got), "%g", s->value);
				break;
			}
			ok = s->npoints <= SCHED_MAX_POINTS &&
			     enum_word_of(interp_words, (int)s->interp) &&
			     s->gen[0] == 0;
			for (unsigned k = 0; ok && k < s->npoints; k++) {
				ok = double_ok(d, s->val[k]) &&
				     (k == 0 || s->gen[k] > s->gen[k - 1]);
				snprintf(got, sizeof(got),
					 "point %u: [%" PRIu32 ", %g]", k,
					 s->gen[k], s->val[k]);
			}
			break;
		}
		case DESC_U32_LIST: {
			unsigned n = *(const unsigned *)((const char *)c +
							 d->count_offset);
			const uint32_t *v = f;
			ok = n <= CONFIG_MAX_MAJORITY;
			snprintf(got, sizeof(got), "%u elements", n);
			for (unsigned k = 0; ok && k < n; k++) {
				ok = uint_ok(d, v[k]);
				snprintf(got, sizeof(got), "%" PRIu32, v[k]);
			}
			break;
		}
		}
		if (!ok) {
			describe(d, what, sizeof(what));
			return randes_errf(err, RANDES_ECONFIG,
					   "%s: expected %s, got '%s'",
					   d->path, what, got);
		}
	}
	return 0;
}

int config_validate(const struct config *cfg, char *err)
{
	int rc = validate_fields(cfg, err);

	if (rc)
		return rc;
	return validate_cross(cfg, NULL, err);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */
/* ------------------------------------------------------------------------ */

/* The default run.name: the file's base name without .yaml/.yml, with any
 * character outside [A-Za-z0-9._-] replaced by '_'. */
static void name_from_path(const char *path, char *name, size_t cap)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	else if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
		n -= 4;
	if (n >= cap)
		n = cap - 1;
	memset(name, 0, cap);
	for (size_t i = 0; i < n; i++) {
		char c = base[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			 c == '-';
		name[i] = ok ? c : '_';
	}
	if (n == 0)
		snprintf(name, cap, "config");
}

static int load_common(struct config *cfg, const char *yaml, size_t len,
		       const char *msgname, const char *runname,
		       const char *const *overrides, size_t n_overrides,
		       char *err)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	int have_parser = 0, have_doc = 0, have_extra = 0, rc;
	struct load *ld = calloc(1, sizeof(*ld));

	if (!ld) {
		rc = randes_errf(err, RANDES_ENOMEM, "%s: out of memory",
				 msgname);
		goto fail;
	}
	ld->file = msgname;
	ld->err = err;
	ld->root.file = msgname;
	ld->root.line = ld->root.col = 1;
	/* Values go into a scratch struct first; the preset of the final
	 * task kind is only known after the file and the overrides. */
	config_defaults(&ld->work, TASK_KIND_ASSOCIATIVE_RECALL);

	if (!yaml_parser_initialize(&parser)) {
		rc = randes_errf(err, RANDES_ENOMEM, "%s: out of memory",
				 msgname);
		goto fail;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_fail(&parser, msgname, NULL, err);
		goto fail;
	}
	have_doc = 1;
	if (!yaml_parser_load(&parser, &extra)) {
		rc = yaml_fail(&parser, msgname, NULL, err);
		goto fail;
	}
	have_extra = 1;
	if (yaml_document_get_root_node(&extra)) {
		struct loc l = {.file = msgname,
				.line = extra.start_mark.line + 1,
				.col = extra.start_mark.column + 1};
		rc = fail_loc(err, &l, "(top level)",
			      "expected a single YAML document, got a second "
			      "one");
		goto fail;
	}

	yaml_node_t *root = yaml_document_get_root_node(&doc);
	ld->doc = &doc;
	if (root) {
		ld->root = loc_of(ld, root);
		if (root->type != YAML_MAPPING_NODE) {
			char kids[256], what[320];
			children_of("", kids, sizeof(kids));
			snprintf(what, sizeof(what),
				 "a mapping of sections (%s)", kids);
			rc = fail_value(ld, root, "(top level)", what);
			goto fail;
		}
		rc = walk_mapping(ld, "", root);
		if (rc)
			goto fail;
	}
	ld->doc = NULL;

	for (size_t i = 0; i < n_overrides; i++) {
		rc = apply_override(ld, overrides[i]);
		if (rc)
			goto fail;
	}

	for (size_t i = 0; i < N_DESCS; i++) {
		if (!(descs[i].flags & DF_REQUIRED) || ld->set[i])
			continue;
		/* Point at the mapping that should have held the key. */
		char parent[PATH_LEN], what[320];
		const struct loc *l = &ld->root;
		const char *dot = strrchr(descs[i].path, '.');
		snprintf(parent, sizeof(parent), "%.*s",
			 (int)(dot - descs[i].path), descs[i].path);
		for (size_t s = 0; s < ld->n_sections; s++)
			if (strcmp(ld->sections[s].path, parent) == 0)
				l = &ld->sections[s].loc;
		describe(&descs[i], what, sizeof(what));
		rc = fail_loc(err, l, descs[i].path,
			      "expected a required key (%s), got nothing",
			      what);
		goto fail;
	}

	/* The preset of the final kind, then every row that was set. */
	config_defaults(cfg, ld->work.task.kind);
	for (size_t i = 0; i < N_DESCS; i++) {
		if (!ld->set[i])
			continue;
		memcpy(field_ptr(cfg, &descs[i]),
		       field_cptr(&ld->work, &descs[i]), descs[i].size);
		if (descs[i].type == DESC_U32_LIST)
			memcpy((char *)cfg + descs[i].count_offset,
			       (const char *)&ld->work + descs[i].count_offset,
			       sizeof(unsigned));
	}
	if (!ld->set[desc_index(desc_find("run.name"))])
		name_from_path(runname, cfg->run.name, sizeof(cfg->run.name));

	rc = validate_cross(cfg, ld, err);
	if (rc)
		goto fail;
	/* Every row was range-checked when it was read and the presets are
	 * valid: a failure here is a bug in this file. */
	rc = validate_fields(cfg, err);
	if (rc)
		goto fail;
fail:
	if (have_extra)
		yaml_document_delete(&extra);
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	free(ld);
	return rc;
}

int config_load_string(struct config *cfg, const char *yaml, size_t len,
		       const char *name, const char *const *overrides,
		       size_t n_overrides, char *err)
{
	return load_common(cfg, yaml, len, name ? name : "(string)", "config",
			   overrides, n_overrides, err);
}

/* Config files are small; anything larger is not a config. */
#define CONFIG_MAX_BYTES (1u << 20)

int config_load_file(struct config *cfg, const char *path,
		     const char *const *overrides, size_t n_overrides,
		     char *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (strlen(path) >= sizeof(cfg->path)) {
		rc = randes_errf(err, RANDES_ECONFIG,
				 "%.64s...: path longer than %zu bytes", path,
				 sizeof(cfg->path) - 1);
		goto fail;
	}
	f = fopen(path, "rb");
	if (!f) {
		rc = randes_errf(err, RANDES_EIO, "%s: cannot open: %s", path,
				 strerror(errno));
		goto fail;
	}
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		rc = randes_errf(err, RANDES_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	len = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = randes_errf(err, RANDES_EIO, "%s: cannot read: %s", path,
				 strerror(errno));
		goto fail;
	}
	if (len > CONFIG_MAX_BYTES) {
		rc = randes_errf(err, RANDES_ECONFIG,
				 "%s: larger than %u bytes: not a config file",
				 path, CONFIG_MAX_BYTES);
		goto fail;
	}
	rc = load_common(cfg, buf, len, path, path, overrides, n_overrides,
			 err);
	if (rc)
		goto fail;
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
fail:
	if (f)
		fclose(f);
	free(buf);
	return rc;
}

int config_apply_override(struct config *cfg, const char *override,
			  char *err)
{
	struct load *ld = calloc(1, sizeof(*ld));
	int rc;

	if (!ld) {
		rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
		goto fail;
	}
	/* Work on a copy so that cfg is untouched when the override fails. */
	ld->work = *cfg;
	ld->err = err;
	ld->root.override = override;
	rc = apply_override(ld, override);
	if (rc)
		goto fail;
	rc = validate_cross(&ld->work, ld, err);
	if (rc)
		goto fail;
	rc = validate_fields(&ld->work, err);
	if (rc)
		goto fail;
	*cfg = ld->work;
fail:
	free(ld);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/* The shortest %.Ng (N = 15..17) that reads back to the same double; inf as
 * "inf".  %.17g alone is always exact but prints 0.03 as
 * 0.029999999999999999. */
static void fmt_double(double v, char *buf, size_t cap)
{
	if (isinf(v)) {
		snprintf(buf, cap, "%s", v > 0 ? "inf" : "-inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		double back = strtod(buf, NULL);
		if (memcmp(&back, &v, sizeof(v)) == 0)
			return; /* bitwise: keeps -0 apart from 0 */
	}
}

static void write_value(const struct config *c, const struct desc *d,
			FILE *out)
{
	const void *f = field_cptr(c, d);
	char num[64];

	switch (d->type) {
	case DESC_U32:
		fprintf(out, "%" PRIu32, *(const uint32_t *)f);
		break;
	case DESC_U64:
		fprintf(out, "%" PRIu64, *(const uint64_t *)f);
		break;
	case DESC_DOUBLE:
		fmt_double(*(const double *)f, num, sizeof(num));
		fputs(num, out);
		break;
	case DESC_BOOL:
		fputs(*(const int *)f ? "true" : "false", out);
		break;
	case DESC_ENUM: {
		const char *w = enum_word_of(d->words, *(const int *)f);
		fputs(w ? w : "?", out);
		break;
	}
	case DESC_STRING:
		/* The name charset needs no escaping; quotes keep names like
		 * "true" or "123" strings for other YAML readers. */
		fprintf(out, "\"%.*s\"", (int)d->size, (const char *)f);
		break;
	case DESC_SCHED: {
		const struct sched *s = f;
		if (s->npoints == 0) {
			fmt_double(s->value, num, sizeof(num));
			fputs(num, out);
			break;
		}
		fprintf(out, "{interp: %s, points: [",
			enum_word_of(interp_words, (int)s->interp));
		for (unsigned k = 0; k < s->npoints; k++) {
			fmt_double(s->val[k], num, sizeof(num));
			fprintf(out, "%s[%" PRIu32 ", %s]", k ? ", " : "",
				s->gen[k], num);
		}
		fputs("]}", out);
		break;
	}
	case DESC_U32_LIST: {
		unsigned n = *(const unsigned *)((const char *)c +
						 d->count_offset);
		const uint32_t *v = f;
		fputc('[', out);
		for (unsigned k = 0; k < n && k < CONFIG_MAX_MAJORITY; k++)
			fprintf(out, "%s%" PRIu32, k ? ", " : "", v[k]);
		fputc(']', out);
		break;
	}
	}
}

/* Splits "a.b.c" into at most 4 components (pointers into path, lengths). */
static size_t split_path(const char *path, const char *comp[4], size_t len[4])
{
	size_t n = 0;

	while (n < 4) {
		comp[n] = path;
		len[n] = strcspn(path, ".");
		path += len[n];
		n++;
		if (*path != '.')
			break;
		path++;
	}
	RANDES_ASSERT(*path == '\0');
	return n;
}

int config_write_yaml(const struct config *cfg, FILE *out)
{
	const char *prev[4] = {0}, *comp[4];
	size_t prev_len[4] = {0}, len[4], prev_n = 0;

	fputs("# randes config, resolved: every key, defaults included "
	      "(docs/config.md)\n",
	      out);
	for (size_t i = 0; i < N_DESCS; i++) {
		size_t n = split_path(descs[i].path, comp, len), same = 0;
		/* Print the headers of the mappings this row opens. */
		while (same + 1 < n && same + 1 < prev_n &&
		       len[same] == prev_len[same] &&
		       strncmp(comp[same], prev[same], len[same]) == 0)
			same++;
		for (size_t k = same; k + 1 < n; k++)
			fprintf(out, "%*s%.*s:\n", (int)(2 * k), "",
				(int)len[k], comp[k]);
		fprintf(out, "%*s%.*s: ", (int)(2 * (n - 1)), "",
			(int)len[n - 1], comp[n - 1]);
		write_value(cfg, &descs[i], out);
		fputc('\n', out);
		memcpy(prev, comp, sizeof(prev));
		memcpy(prev_len, len, sizeof(prev_len));
		prev_n = n;
	}
	if (fflush(out) != 0 || ferror(out))
		return RANDES_EIO;
	return 0;
}

char *config_to_yaml(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	int rc = config_write_yaml(cfg, f);
	if (fclose(f) != 0 || rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ------------------------------------------------------------------------ */
/* The locked hash                                                           */
/* ------------------------------------------------------------------------ */

static size_t put_u32(unsigned char *b, size_t at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[at + (size_t)i] = (unsigned char)(v >> (8 * i));
	return at + 4;
}

static size_t put_u64(unsigned char *b, size_t at, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[at + (size_t)i] = (unsigned char)(v >> (8 * i));
	return at + 8;
}

static size_t put_f64(unsigned char *b, size_t at, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return put_u64(b, at, bits);
}

#define RENDER_CAP 512

/* A canonical little-endian rendering of the value of row d: the same bytes
 * on every host, never padding. */
static size_t render_field(const struct config *c, const struct desc *d,
			   unsigned char *b)
{
	const void *f = field_cptr(c, d);
	size_t at = 0;

	b[at++] = (unsigned char)d->type;
	switch (d->type) {
	case DESC_U32:
		at = put_u32(b, at, *(const uint32_t *)f);
		break;
	case DESC_U64:
		at = put_u64(b, at, *(const uint64_t *)f);
		break;
	case DESC_DOUBLE:
		at = put_f64(b, at, *(const double *)f);
		break;
	case DESC_BOOL:
	case DESC_ENUM:
		at = put_u32(b, at, (uint32_t)*(const int *)f);
		break;
	case DESC_STRING: {
		size_t n = strnlen((const char *)f, d->size);
		at = put_u32(b, at, (uint32_t)n);
		memcpy(b + at, f, n);
		at += n;
		break;
	}
	case DESC_SCHED: {
		const struct sched *s = f;
		unsigned n = s->npoints <= SCHED_MAX_POINTS ? s->npoints : 0;
		at = put_u32(b, at, n);
		if (n == 0) {
			at = put_f64(b, at, s->value);
			break;
		}
		at = put_u32(b, at, (uint32_t)s->interp);
		for (unsigned k = 0; k < n; k++) {
			at = put_u32(b, at, s->gen[k]);
			at = put_f64(b, at, s->val[k]);
		}
		break;
	}
	case DESC_U32_LIST: {
		unsigned n = *(const unsigned *)((const char *)c +
						 d->count_offset);
		if (n > CONFIG_MAX_MAJORITY)
			n = CONFIG_MAX_MAJORITY;
		at = put_u32(b, at, n);
		for (unsigned k = 0; k < n; k++)
			at = put_u32(b, at, ((const uint32_t *)f)[k]);
		break;
	}
	}
	RANDES_ASSERT(at <= RENDER_CAP);
	return at;
}

/* FNV-1a, 64 bit: enough to tell configs apart, not a security hash. */
static uint64_t fnv1a(uint64_t h, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/*
 * Whether a locked key matters for a run of task kind k: the task keys of
 * other kinds do not, and no model key matters to the model-free tasks.
 * (Evaluation-only keys are not locked at all.)
 */
static int locked_applies(const struct desc *d, enum task_kind k)
{
	static const struct {
		const char *path;
		unsigned kinds;
	} only[] = {
		{"task.num_tokens", 1u << TASK_KIND_ASSOCIATIVE_RECALL},
		{"task.value_bits", 1u << TASK_KIND_ASSOCIATIVE_RECALL},
		{"task.exhaustive_values", 1u << TASK_KIND_ASSOCIATIVE_RECALL},
		{"task.num_vertices", 1u << TASK_KIND_CYCLE_COLORING},
		{"task.coloring_numerics", 1u << TASK_KIND_CYCLE_COLORING},
		{"task.size", 1u << TASK_KIND_GRIDWORLD},
		{"task.episode_steps", 1u << TASK_KIND_GRIDWORLD},
		{"task.episodes", 1u << TASK_KIND_GRIDWORLD},
		{"task.dim", (1u << TASK_KIND_SPHERE) | (1u << TASK_KIND_RASTRIGIN)},
	};

	if (!(d->flags & DF_LOCKED))
		return 0;
	if (strncmp(d->path, "model.", 6) == 0)
		return k != TASK_KIND_SPHERE && k != TASK_KIND_RASTRIGIN;
	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++)
		if (strcmp(d->path, only[i].path) == 0)
			return (only[i].kinds >> k) & 1u;
	return 1;
}

/* FNV-1a over path and rendered value of every field keep() admits. */
static uint64_t hash_fields(const struct config *cfg,
			    int (*keep)(const struct desc *, enum task_kind))
{
	unsigned char buf[RENDER_CAP];
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < N_DESCS; i++) {
		if (!keep(&descs[i], cfg->task.kind))
			continue;
		/* such a key is absent from hashes written before it, v1
		 * included: hashed only where it applies, and not 0 */
		if ((descs[i].flags & DF_HASH_NONZERO) &&
		    (*(const int *)field_cptr(cfg, &descs[i]) == 0 ||
		     !locked_applies(&descs[i], cfg->task.kind)))
			continue;
		/* The path (with its NUL) separates the fields. */
		h = fnv1a(h, (const unsigned char *)descs[i].path,
			  strlen(descs[i].path) + 1);
		h = fnv1a(h, buf, render_field(cfg, &descs[i], buf));
	}
	return h;
}

/* The key set of the hash before 3f6eb0d: every locked key whatever the
 * kind, and the two evaluation-only task keys. */
static int locked_v1(const struct desc *d, enum task_kind k)
{
	(void)k;
	return (d->flags & (DF_LOCKED | DF_LOCKED_V1)) != 0;
}

uint64_t config_hash_locked(const struct config *cfg)
{
	return hash_fields(cfg, locked_applies);
}

uint64_t config_hash_locked_v1(const struct config *cfg)
{
	return hash_fields(cfg, locked_v1);
}

/* 1 if row d has different values in a and b (their canonical bytes). */
static int field_differs(const struct config *a, const struct config *b,
			 const struct desc *d)
{
	unsigned char ba[RENDER_CAP], bb[RENDER_CAP];
	size_t na = render_field(a, d, ba);
	size_t nb = render_field(b, d, bb);

	return na != nb || memcmp(ba, bb, na) != 0;
}

/* The YAML text of row d's value in c, as config_write_yaml writes it
 * (cut at len - 1 bytes). */
static void value_text(const struct config *c, const struct desc *d,
		       char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	buf[0] = '\0';
	if (!f)
		return;
	/* no buffer of its own: the text lands in buf as written */
	setvbuf(f, NULL, _IONBF, 0);
	write_value(c, d, f);
	fclose(f);
}

size_t config_diff_text(const struct config *a, const struct config *b,
			char *out, size_t out_len)
{
	char va[160], vb[160];
	size_t n = 0, at = 0;

	if (out && out_len)
		out[0] = '\0';
	for (size_t i = 0; i < N_DESCS; i++) {
		const struct desc *d = &descs[i];

		if (!field_differs(a, b, d))
			continue;
		n++;
		if (!out || at + 1 >= out_len)
			continue;
		value_text(a, d, va, sizeof(va));
		value_text(b, d, vb, sizeof(vb));
		int w = snprintf(out + at, out_len - at, "%s%s %s -> %s",
				 n > 1 ? ", " : "", d->path, va, vb);
		if (w < 0 || (size_t)w >= out_len - at)
			at = out_len - 1;
		else
			at += (size_t)w;
	}
	return n;
}

int config_diff_locked(const struct config *a, const struct config *b,
		       char *key, size_t key_len)
{
	for (size_t i = 0; i < N_DESCS; i++) {
		/* task.kind is locked and comes first: a different kind is
		 * reported as such, so a's kind decides for the rest. */
		if (!locked_applies(&descs[i], a->task.kind))
			continue;
		if (field_differs(a, b, &descs[i])) {
			if (key && key_len)
				snprintf(key, key_len, "%s", descs[i].path);
			return 1;
		}
	}
	if (key && key_len)
		key[0] = '\0';
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

double config_q_at(const struct config *cfg, uint64_t g)
{
	if (cfg->objective.variant == VARIANT_E_R0 ||
	    cfg->objective.variant == VARIANT_E_R)
		return 1.0;
	return sched_at(&cfg->objective.q, g);
}

uint32_t config_seeds_per_input(const struct config *cfg)
{
	return config_uses_r0(cfg) ? 1 : cfg->objective.seeds;
}

int config_uses_r0(const struct config *cfg)
{
	return cfg->objective.variant == VARIANT_E_R0 ||
	       cfg->objective.variant == VARIANT_Q_R0;
}

const char *config_task_kind_name(enum task_kind k)
{
	const char *w = enum_word_of(task_kind_words, (int)k);
	return w ? w : "unknown";
}

const char *config_variant_name(enum objective_variant v)
{
	const char *w = enum_word_of(variant_words, (int)v);
	return w ? w : "unknown";
}

const char *config_strategy_name(enum es_strategy s)
{
	const char *w = enum_word_of(strategy_words, (int)s);
	return w ? w : "unknown";
}
