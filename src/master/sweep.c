/* sweep: grids of runs, their summary, and the watch daemon (see sweep.h
 * and docs/sweep.md). */
#include "sweep.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "common/checkpoint.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/tasks/task.h"
#include "common/yamltext.h"
#include "master/rundir.h"
#include "master/signals.h"
#include "master/train.h"

/* A sweep file is small; anything larger is not one. */
#define SWEEP_FILE_MAX ((size_t)1 << 20)
/* eval.json of one run: a few kB. */
#define SWEEP_EVAL_MAX ((size_t)1 << 20)
/* Most values per grid key and entries in `runs`. */
#define SWEEP_MAX_VALUES 10000u
/* Milliseconds between two looks at a watched directory. */
#define SWEEP_WATCH_POLL_MS 500
/* Longest idle wait between two tests of a pending MPI request. */
#define SWEEP_POLL_MAX_US 50000L

#define PATH_LEN RUNDIR_PATH_MAX
/* The directory in a run directory whose lock is a group's claim. */
#define SWEEP_CLAIM_DIR ".claim"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static char *str_dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

/* Appends a copy of s to the string vector *v of *n entries. */
static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	char *d;

	if (!nv)
		return RANDES_ENOMEM;
	*v = nv;
	d = str_dup(s);
	if (!d)
		return RANDES_ENOMEM;
	nv[(*n)++] = d;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* FNV-1a 32 of a string: the suffix of names that had to be mangled. */
static uint32_t fnv1a32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static int path_join(char *out, size_t len, const char *dir, const char *name,
		     char *err)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return randes_errf(err, RANDES_EUSAGE, "path too long: %s/%s",
				   dir, name);
	return 0;
}

/* Characters a swept value keeps in a run name ('=' and ',' separate). */
static int name_value_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == '+';
}

/* Characters allowed in config keys: [A-Za-z0-9_] components joined by
 * dots. */
static int key_ok(const char *k)
{
	int prev_dot = 1;

	if (!*k)
		return 0;
	for (; *k; k++) {
		char c = *k;
		if (c == '.') {
			if (prev_dot)
				return 0;
			prev_dot = 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return 0;
		prev_dot = 0;
	}
	return !prev_dot;
}

/* Names that sit beside the runs in a sweep root. */
static int name_reserved(const char *n)
{
	static const char *const reserved[] = {
		".", "..", "summary.csv", "sweep.yaml", "report.html",
		"plots",
	};

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(n, reserved[i]) == 0)
			return 1;
	return 0;
}

/* Sweep and explicit run names: 1..max chars of [A-Za-z0-9._+=,-], not
 * starting with '.' or '-'. */
static int explicit_name_ok(const char *n, size_t max)
{
	size_t len = strlen(n);

	if (len == 0 || len > max || n[0] == '.' || n[0] == '-' ||
	    name_reserved(n))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!name_value_char(n[i]) && n[i] != '=' && n[i] != ',')
			return 0;
	return 1;
}

/* The shortest "%.*g" that reads back to v; "inf" for infinity. */
static void fmt_shortest(double v, char *buf, size_t cap)
{
	if (isinf(v)) {
		snprintf(buf, cap, "%sinf", v < 0 ? "-" : "");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, cap, "%.0f", v);
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, cap, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000L, (us % 1000000L) * 1000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
		if (signals_stop_requested())
			return;
	}
}

/* ------------------------------------------------------------------------ */
/* The sweep file                                                            */
/* ------------------------------------------------------------------------ */

/* A key: value pair of `overrides`, of a `runs` entry, or one grid value. */
struct sweep_kv {
	char *key;
	char *text;   /* the value as YAML text: the override's right side */
	char *label;  /* the value as shown in names and summary.csv      */
	size_t line, col;
};

struct grid_axis {
	char *key;
	struct sweep_kv *values;
	size_t n;
};

struct run_entry {
	char *name;   /* explicit name, or NULL                           */
	struct sweep_kv *kvs;
	size_t n;
	size_t line, col;
};

struct parse {
	const char *file;
	const char *text;
	size_t len;
	yaml_document_t *doc;
	char *err;
	/* results */
	char *name, *base, *description;
	int have_rpr;
	uint32_t rpr;
	struct sweep_kv *common;
	size_t n_common;
	struct grid_axis *axes;
	size_t n_axes;
	struct run_entry *entries;
	size_t n_entries;
	int have_runs;
};

static void kv_free(struct sweep_kv *kv)
{
	free(kv->key);
	free(kv->text);
	free(kv->label);
}

static void parse_free(struct parse *p)
{
	free(p->name);
	free(p->base);
	free(p->description);
	for (size_t i = 0; i < p->n_common; i++)
		kv_free(&p->common[i]);
	free(p->common);
	for (size_t a = 0; a < p->n_axes; a++) {
		free(p->axes[a].key);
		for (size_t i = 0; i < p->axes[a].n; i++)
			kv_free(&p->axes[a].values[i]);
		free(p->axes[a].values);
	}
	free(p->axes);
	for (size_t e = 0; e < p->n_entries; e++) {
		free(p->entries[e].name);
		for (size_t i = 0; i < p->entries[e].n; i++)
			kv_free(&p->entries[e].kvs[i]);
		free(p->entries[e].kvs);
	}
	free(p->entries);
}

/* "FILE:LINE:COL: path: message" at node (1:1 without one). */
static int pfail(struct parse *p, const yaml_node_t *node, const char *path,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int pfail(struct parse *p, const yaml_node_t *node, const char *path,
		 const char *fmt, ...)
{
	char msg[RANDES_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return randes_errf(p->err, RANDES_ECONFIG, "%s:%zu:%zu: %s: %s",
			   p->file, node ? (size_t)node->start_mark.line + 1 : 1,
			   node ? (size_t)node->start_mark.column + 1 : 1, path,
			   msg);
}

/* What was found at a node, for "got ...". */
static void got_text(const yaml_node_t *node, char *buf, size_t cap)
{
	if (!node) {
		snprintf(buf, cap, "nothing");
		return;
	}
	if (node->type == YAML_MAPPING_NODE) {
		snprintf(buf, cap, "a mapping");
		return;
	}
	if (node->type == YAML_SEQUENCE_NODE) {
		snprintf(buf, cap, "%s",
			 node->data.sequence.items.top ==
					 node->data.sequence.items.start
				 ? "an empty sequence"
				 : "a sequence");
		return;
	}
	size_t n = node->data.scalar.length, k;
	char text[72];
	for (k = 0; k < n && k < 60; k++) {
		unsigned char c = node->data.scalar.value[k];
		text[k] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	text[k] = '\0';
	snprintf(buf, cap, "'%s%s'", text, n > 60 ? "..." : "");
}

static int pexpect(struct parse *p, const yaml_node_t *node, const char *path,
		   const char *expected)
{
	char got[96];

	got_text(node, got, sizeof(got));
	return pfail(p, node, path, "expected %s, got %s", expected, got);
}

static yaml_node_t *pnode(struct parse *p, int index)
{
	return yaml_document_get_node(p->doc, index);
}


/*
 * The source text [a, b) of a flow value as one line: line breaks (and the
 * indentation after them) become one space, as YAML folds them, and
 * comments are dropped.  Quotes are tracked so that '#' and breaks inside
 * quoted scalars are handled as YAML does.
 */
static char *one_line(const char *s, size_t a, size_t b)
{
	char *out = malloc(b - a + 1);
	size_t o = 0;
	char quote = 0;

	if (!out)
		return NULL;
	for (size_t i = a; i < b; i++) {
		char c = s[i];
		if (quote == '\'' && c == '\'' && i + 1 < b && s[i + 1] == '\'') {
			out[o++] = c;
			out[o++] = s[++i];
			continue;
		}
		if (quote == '"' && c == '\\' && i + 1 < b &&
		    s[i + 1] != '\n' && s[i + 1] != '\r') {
			out[o++] = c;
			out[o++] = s[++i];
			continue;
		}
		if (quote && c == quote) {
			quote = 0;
			out[o++] = c;
			continue;
		}
		if (!quote && (c == '\'' || c == '"')) {
			quote = c;
			out[o++] = c;
			continue;
		}
		if (!quote && c == '#' && (o == 0 || out[o - 1] == ' ' ||
					   out[o - 1] == '\t')) {
			while (i + 1 < b && s[i + 1] != '\n' && s[i + 1] != '\r')
				i++;
			continue;
		}
		if (c == '\n' || c == '\r') {
			while (i + 1 < b && (s[i + 1] == ' ' || s[i + 1] == '\t' ||
					     s[i + 1] == '\n' || s[i + 1] == '\r'))
				i++;
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
			continue;
		}
		out[o++] = c;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return out;
}

/*
 * Reads one value (a scalar or a flow collection) at node for key into kv:
 * its source text becomes the override's right-hand side, so whatever the
 * config loader accepts for the key works here, and it checks it.
 */
static int read_value(struct parse *p, const char *key, const char *path,
		      const yaml_node_t *node, struct sweep_kv *kv)
{
	size_t a = node->start_mark.index, b = node->end_mark.index;

	memset(kv, 0, sizeof(*kv));
	if (node->type == YAML_SCALAR_NODE) {
		if (!yaml_scalar_text(node))
			return pexpect(p, node, path, "a value without NUL bytes");
		if (node->data.scalar.length == 0 &&
		    node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return pexpect(p, node, path, "a value");
	} else if (node->type == YAML_SEQUENCE_NODE) {
		if (node->data.sequence.style != YAML_FLOW_SEQUENCE_STYLE)
			return pfail(p, node, path,
				     "expected a scalar or a flow collection "
				     "([...] or {...}), got a block sequence");
	} else if (node->data.mapping.style != YAML_FLOW_MAPPING_STYLE) {
		return pfail(p, node, path,
			     "expected a scalar or a flow collection ([...] or "
			     "{...}), got a block mapping");
	}
	if (b < a || b > p->len)
		return pfail(p, node, path, "cannot locate the value's text");
	kv->key = str_dup(key);
	kv->text = one_line(p->text, a, b);
	if (node->type == YAML_SCALAR_NODE)
		kv->label = str_dup(yaml_scalar_text(node));
	else
		kv->label = kv->text ? str_dup(kv->text) : NULL;
	if (!kv->key || !kv->text || !kv->label) {
		kv_free(kv);
		return randes_errf(p->err, RANDES_ENOMEM, "out of memory");
	}
	kv->line = node->start_mark.line + 1;
	kv->col = node->start_mark.column + 1;
	return 0;
}

/* The key of a mapping pair, checked to be a config key path. */
static int read_key(struct parse *p, const yaml_node_t *knode,
		    const char *section, const char **key)
{
	const char *k = yaml_scalar_text(knode);
	char path[160];

	snprintf(path, sizeof(path), "%s", section);
	if (!k || !key_ok(k) || strlen(k) >= 128)
		return pexpect(p, knode, path,
			       "a config key path (e.g. objective.q)");
	*key = k;
	return 0;
}

/* Refuses the second occurrence of a key within one mapping. */
static int check_duplicate(struct parse *p, const yaml_node_t *map,
			   const yaml_node_pair_t *pair, const char *path)
{
	const char *k = yaml_scalar_text(pnode(p, pair->key));

	for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pair;
	     q++) {
		const char *o = yaml_scalar_text(pnode(p, q->key));
		if (k && o && strcmp(k, o) == 0) {
			char got[96];
			got_text(pnode(p, pair->key), got, sizeof(got));
			return pfail(p, pnode(p, pair->key), path,
				     "expected each key once, got %s again "
				     "(first at line %zu)",
				     got,
				     (size_t)pnode(p, q->key)->start_mark.line +
					     1);
		}
	}
	return 0;
}

/* `overrides:` or one `runs` entry: a mapping of key.path -> value.  With
 * entry != NULL, a `name` key names the run. */
static int read_pairs(struct parse *p, const yaml_node_t *map,
		      const char *section, struct sweep_kv **kvs, size_t *n,
		      struct run_entry *entry)
{
	size_t cap = (size_t)(map->data.mapping.pairs.top -
			      map->data.mapping.pairs.start);
	int rc;

	*kvs = calloc(cap ? cap : 1, sizeof(**kvs));
	*n = 0;
	if (!*kvs)
		return randes_errf(p->err, RANDES_ENOMEM, "out of memory");
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = pnode(p, pr->key), *vn = pnode(p, pr->value);
		const char *k = yaml_scalar_text(kn);
		char path[256];

		rc = check_duplicate(p, map, pr, section);
		if (rc)
			return rc;
		if (entry && k && strcmp(k, "name") == 0) {
			const char *v = yaml_scalar_text(vn);
			snprintf(path, sizeof(path), "%s.name", section);
			if (!v || !explicit_name_ok(v, SWEEP_NAME_MAX - 40))
				return pexpect(p, vn, path,
					       "a run name of 1 to 160 "
					       "characters from A-Z a-z 0-9 . _ "
					       "+ = , - (not starting with . "
					       "or -)");
			entry->name = str_dup(v);
			if (!entry->name)
				return randes_errf(p->err, RANDES_ENOMEM,
						   "out of memory");
			continue;
		}
		rc = read_key(p, kn, section, &k);
		if (rc)
			return rc;
		snprintf(path, sizeof(path), "%s.%s", section, k);
		rc = read_value(p, k, path, vn, &(*kvs)[*n]);
		if (rc)
			return rc;
		(*n)++;
	}
	return 0;
}

static int read_grid(struct parse *p, const yaml_node_t *map)
{
	size_t cap = (size_t)(map->data.mapping.pairs.top -
			      map->data.mapping.pairs.start);
	int rc;

	p->axes = calloc(cap ? cap : 1, sizeof(*p->axes));
	if (!p->axes)
		return randes_errf(p->err, RANDES_ENOMEM, "out of memory");
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = pnode(p, pr->key), *vn = pnode(p, pr->value);
		struct grid_axis *ax = &p->axes[p->n_axes];
		const char *k;
		char path[256];

		rc = check_duplicate(p, map, pr, "grid");
		if (rc)
			return rc;
		rc = read_key(p, kn, "grid", &k);
		if (rc)
			return rc;
		snprintf(path, sizeof(path), "grid.%s", k);
		if (vn->type != YAML_SEQUENCE_NODE)
			return pexpect(p, vn, path,
				       "a list of values ([v1, v2, ...])");
		size_t nv = (size_t)(vn->data.sequence.items.top -
				     vn->data.sequence.items.start);
		if (nv == 0 || nv > SWEEP_MAX_VALUES)
			return pexpect(p, vn, path,
				       "a list of 1 to 10000 values");
		ax->key = str_dup(k);
		ax->values = calloc(nv, sizeof(*ax->values));
		p->n_axes++;
		if (!ax->key || !ax->values)
			return randes_errf(p->err, RANDES_ENOMEM,
					   "out of memory");
		for (size_t i = 0; i < nv; i++) {
			yaml_node_t *it = pnode(p, vn->data.sequence.items.start[i]);
			char ipath[280];
			snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
			rc = read_value(p, k, ipath, it, &ax->values[i]);
			if (rc)
				return rc;
			ax->n++;
		}
	}
	return 0;
}

static int read_runs(struct parse *p, const yaml_node_t *seq)
{
	size_t n = (size_t)(seq->data.sequence.items.top -
			    seq->data.sequence.items.start);
	int rc;

	if (n == 0 || n > SWEEP_MAX_VALUES)
		return pexpect(p, seq, "runs", "a list of 1 to 10000 runs");
	p->entries = calloc(n, sizeof(*p->entries));
	if (!p->entries)
		return randes_errf(p->err, RANDES_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = pnode(p, seq->data.sequence.items.start[i]);
		struct run_entry *e = &p->entries[i];
		char path[64];

		snprintf(path, sizeof(path), "runs[%zu]", i);
		p->n_entries++;
		if (it->type != YAML_MAPPING_NODE)
			return pexpect(p, it, path,
				       "a mapping of key.path: value (and an "
				       "optional name)");
		e->line = it->start_mark.line + 1;
		e->col = it->start_mark.column + 1;
		rc = read_pairs(p, it, path, &e->kvs, &e->n, e);
		if (rc)
			return rc;
		if (!e->name && e->n == 0)
			return pexpect(p, it, path,
				       "a name or at least one key.path: "
				       "value");
	}
	return 0;
}

/* The top-level mapping. */
static int read_top(struct parse *p, const yaml_node_t *root)
{
	static const char known[] =
		"name, description, base, ranks_per_run, overrides, grid, runs";
	int rc;

	if (!root || root->type != YAML_MAPPING_NODE)
		return pexpect(p, root, "(top level)",
			       "a mapping with base and grid or runs");
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = pnode(p, pr->key), *vn = pnode(p, pr->value);
		const char *k = yaml_scalar_text(kn), *v = yaml_scalar_text(vn);
		char what[160];

		rc = check_duplicate(p, root, pr, "(top level)");
		if (rc)
			return rc;
		if (!k) {
			snprintf(what, sizeof(what), "a key of the sweep (%s)",
				 known);
			return pexpect(p, kn, "(top level)", what);
		}
		if (strcmp(k, "name") == 0) {
			if (!v || !explicit_name_ok(v, 127) || strchr(v, '=') ||
			    strchr(v, ',') || strchr(v, '+'))
				return pexpect(p, vn, "name",
					       "1 to 127 characters from A-Z "
					       "a-z 0-9 . _ - (not starting "
					       "with . or -)");
			p->name = str_dup(v);
		} else if (strcmp(k, "description") == 0) {
			if (!v)
				return pexpect(p, vn, "description",
					       "a string");
			p->description = str_dup(v);
		} else if (strcmp(k, "base") == 0) {
			if (!v || !*v)
				return pexpect(p, vn, "base",
					       "the path of the base config "
					       "(relative to the sweep file)");
			p->base = str_dup(v);
			if (p->base) {
				/* Resolve against the sweep file's directory. */
				const char *slash = strrchr(p->file, '/');
				if (v[0] != '/' && slash) {
					char *full = malloc((size_t)(slash -
								     p->file) +
							    strlen(v) + 2);
					if (full)
						sprintf(full, "%.*s/%s",
							(int)(slash - p->file),
							p->file, v);
					free(p->base);
					p->base = full;
				}
				if (p->base && access(p->base, R_OK) != 0)
					return pfail(p, vn, "base",
						     "cannot read the base "
						     "config '%s': %s",
						     p->base, strerror(errno));
			}
		} else if (strcmp(k, "ranks_per_run") == 0) {
			char *end;
			unsigned long long r;
			errno = 0;
			r = v && vn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
					    v[0] >= '1' && v[0] <= '9'
				    ? strtoull(v, &end, 10)
				    : 0;
			if (!r || errno || *end || r > 65536)
				return pexpect(p, vn, "ranks_per_run",
					       "an integer in [1, 65536]");
			p->have_rpr = 1;
			p->rpr = (uint32_t)r;
		} else if (strcmp(k, "overrides") == 0) {
			if (vn->type != YAML_MAPPING_NODE)
				return pexpect(p, vn, "overrides",
					       "a mapping of key.path: value");
			rc = read_pairs(p, vn, "overrides", &p->common,
					&p->n_common, NULL);
			if (rc)
				return rc;
		} else if (strcmp(k, "grid") == 0) {
			if (vn->type != YAML_MAPPING_NODE)
				return pexpect(p, vn, "grid",
					       "a mapping of key.path: [values]");
			rc = read_grid(p, vn);
			if (rc)
				return rc;
		} else if (strcmp(k, "runs") == 0) {
			if (vn->type != YAML_SEQUENCE_NODE)
				return pexpect(p, vn, "runs",
					       "a list of runs (mappings)");
			p->have_runs = 1;
			rc = read_runs(p, vn);
			if (rc)
				return rc;
		} else {
			snprintf(what, sizeof(what), "a key of the sweep (%s)",
				 known);
			return pexpect(p, kn, k, what);
		}
		if ((strcmp(k, "name") == 0 && !p->name) ||
		    (strcmp(k, "description") == 0 && !p->description) ||
		    (strcmp(k, "base") == 0 && !p->base))
			return randes_errf(p->err, RANDES_ENOMEM,
					   "out of memory");
	}
	if (!p->base)
		return pfail(p, root, "base",
			     "expected a required key (the base config), got "
			     "nothing");
	if (p->n_axes == 0 && !p->have_runs)
		return pfail(p, root, "grid",
			     "expected a grid or a list of runs, got neither");
	return 0;
}

/* yaml parser error as "FILE:LINE:COL: yaml: problem". */
static int yaml_error(struct parse *p, const yaml_parser_t *y)
{
	if (y->error == YAML_MEMORY_ERROR)
		return randes_errf(p->err, RANDES_ENOMEM,
				   "%s: out of memory while parsing", p->file);
	return randes_errf(p->err, RANDES_ECONFIG, "%s:%zu:%zu: yaml: %s",
			   p->file, (size_t)y->problem_mark.line + 1,
			   (size_t)y->problem_mark.column + 1,
			   y->problem ? y->problem : "syntax error");
}

/* Parses p->text into p's results. */
static int parse_sweep(struct parse *p)
{
	yaml_parser_t y;
	yaml_document_t doc, extra;
	int have_y = 0, have_doc = 0, have_extra = 0, rc;

	if (!yaml_parser_initialize(&y)) {
		rc = randes_errf(p->err, RANDES_ENOMEM, "out of memory");
		goto fail;
	}
	have_y = 1;
	yaml_parser_set_input_string(&y, (const unsigned char *)p->text, p->len);
	if (!yaml_parser_load(&y, &doc)) {
		rc = yaml_error(p, &y);
		goto fail;
	}
	have_doc = 1;
	if (!yaml_parser_load(&y, &extra)) {
		rc = yaml_error(p, &y);
		goto fail;
	}
	have_extra = 1;
	if (yaml_document_get_root_node(&extra)) {
		rc = randes_errf(p->err, RANDES_ECONFIG,
				 "%s:%zu:%zu: (top level): expected a single "
				 "YAML document, got a second one",
				 p->file, (size_t)extra.start_mark.line + 1,
				 (size_t)extra.start_mark.column + 1);
		goto fail;
	}
	p->doc = &doc;
	rc = read_top(p, yaml_document_get_root_node(&doc));
	p->doc = NULL;
fail:
	if (have_extra)
		yaml_document_delete(&extra);
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_y)
		yaml_parser_delete(&y);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Expansion, names, validation                                              */
/* ------------------------------------------------------------------------ */

void sweep_plan_init(struct sweep_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
}

void sweep_plan_free(struct sweep_plan *plan)
{
	free(plan->path);
	free(plan->text);
	free(plan->base);
	free(plan->description);
	strv_free(plan->swept_keys, plan->n_swept);
	for (size_t i = 0; plan->runs && i < plan->n_runs; i++) {
		strv_free(plan->runs[i].overrides, plan->runs[i].n_overrides);
		if (plan->runs[i].swept) {
			for (size_t k = 0; k < plan->n_swept; k++)
				free(plan->runs[i].swept[k]);
			free(plan->runs[i].swept);
		}
	}
	free(plan->runs);
	memset(plan, 0, sizeof(*plan));
}

/* Index of key in plan->swept_keys, or -1. */
static long swept_index(const struct sweep_plan *plan, const char *key)
{
	for (size_t i = 0; i < plan->n_swept; i++)
		if (strcmp(plan->swept_keys[i], key) == 0)
			return (long)i;
	return -1;
}

/* The key as it appears in run names: its last component, or the whole
 * path when another swept key ends in the same component. */
static const char *short_key(const struct sweep_plan *plan, const char *key)
{
	const char *dot = strrchr(key, '.');
	const char *last = dot ? dot + 1 : key;

	for (size_t i = 0; i < plan->n_swept; i++) {
		const char *o = plan->swept_keys[i];
		const char *od = strrchr(o, '.');
		if (strcmp(o, key) != 0 && strcmp(od ? od + 1 : o, last) == 0)
			return key;
	}
	return last;
}

/* Appends "key=label" to the name being built; *lossy is set when the
 * label had to be changed: each run of characters a name cannot hold
 * becomes one '_', and such runs at either end are dropped. */
static void name_append(FILE *f, int *first, const char *key,
			const char *label, int *lossy)
{
	size_t n = strlen(label), a = 0, b = n;

	fprintf(f, "%s%s=", *first ? "" : ",", key);
	*first = 0;
	if (n == 0)
		*lossy = 1;
	while (a < b && !name_value_char(label[a]))
		a++;
	while (b > a && !name_value_char(label[b - 1]))
		b--;
	if (a > 0 || b < n)
		*lossy = 1;
	for (size_t i = a; i < b; i++) {
		if (name_value_char(label[i])) {
			fputc(label[i], f);
		} else {
			*lossy = 1;
			if (name_value_char(label[i - 1]))
				fputc('_', f);
		}
	}
}

/*
 * The run's directory name from its swept values: "k1=v1,k2=v2" (the run
 * entry's name instead of its own values when it has one).  When a value
 * had to be changed to fit (characters outside A-Z a-z 0-9 . _ + -) or the
 * name is too long, "~" and 8 hex digits of a hash of the exact values are
 * appended, so the name stays unique and depends on nothing but the run's
 * own values.
 */
static int make_name(const struct sweep_plan *plan, const struct parse *p,
		     const struct run_entry *e, const size_t *pick,
		     char *out, char *exact_out, size_t exact_cap)
{
	char *buf = NULL, *exact = NULL;
	size_t blen = 0, elen = 0;
	FILE *f = open_memstream(&buf, &blen);
	FILE *fe = open_memstream(&exact, &elen);
	int first = 1, first_e = 1, lossy = 0;

	if (!f || !fe) {
		if (f)
			fclose(f);
		if (fe)
			fclose(fe);
		free(buf);
		free(exact);
		return RANDES_ENOMEM;
	}
	if (e && e->name) {
		fputs(e->name, f);
		fputs(e->name, fe);
		first = first_e = 0;
	} else if (e) {
		for (size_t i = 0; i < e->n; i++) {
			const char *k = short_key(plan, e->kvs[i].key);
			name_append(f, &first, k, e->kvs[i].label, &lossy);
			fprintf(fe, "%s%s=%s", first_e ? "" : ",", k,
				e->kvs[i].label);
			first_e = 0;
		}
	}
	for (size_t a = 0; a < p->n_axes; a++) {
		const struct sweep_kv *v = &p->axes[a].values[pick[a]];
		const char *k = short_key(plan, v->key);
		name_append(f, &first, k, v->label, &lossy);
		fprintf(fe, "%s%s=%s", first_e ? "" : ",", k, v->label);
		first_e = 0;
	}
	if (fclose(f) != 0 || fclose(fe) != 0 || !buf || !exact) {
		free(buf);
		free(exact);
		return RANDES_ENOMEM;
	}
	if (lossy || blen > SWEEP_NAME_MAX) {
		size_t keep = blen < SWEEP_NAME_MAX - 9 ? blen
							: SWEEP_NAME_MAX - 9;
		snprintf(out, SWEEP_NAME_MAX + 1, "%.*s~%08" PRIx32, (int)keep,
			 buf, fnv1a32(exact));
	} else {
		snprintf(out, SWEEP_NAME_MAX + 1, "%s", buf);
	}
	snprintf(exact_out, exact_cap, "%s", exact);
	free(buf);
	free(exact);
	return 0;
}

/* run.name for the run's config: the sweep and run names mapped into the
 * characters run.name allows. */
static void config_run_name(const char *sweep, const char *run, char *out,
			    size_t cap)
{
	size_t o = 0;
	char full[2 * SWEEP_NAME_MAX + 2];

	snprintf(full, sizeof(full), "%s.%s", sweep, run);
	for (const char *c = full; *c && o + 1 < cap && o < 127; c++) {
		char ch = *c;
		if (ch == '=' || ch == '~')
			ch = '-';
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
			   ch == '_'))
			ch = '_';
		out[o++] = ch;
	}
	out[o] = '\0';
}

/* Adds "key=text" to the run's override list. */
static int push_override(struct sweep_run *r, const struct sweep_kv *kv)
{
	size_t n = strlen(kv->key) + strlen(kv->text) + 2;
	char *s = malloc(n);
	int rc;

	if (!s)
		return RANDES_ENOMEM;
	snprintf(s, n, "%s=%s", kv->key, kv->text);
	rc = strv_push(&r->overrides, &r->n_overrides, s);
	free(s);
	return rc;
}

/* Records kv's label as the run's value of a swept key. */
static int set_swept(const struct sweep_plan *plan, struct sweep_run *r,
		     const struct sweep_kv *kv)
{
	long k = swept_index(plan, kv->key);

	if (k < 0)
		return 0;
	free(r->swept[k]);
	r->swept[k] = str_dup(kv->label);
	return r->swept[k] ? 0 : RANDES_ENOMEM;
}

/* The place in the sweep file of the override a config error is about. */
static const struct sweep_kv *
culprit(const struct parse *p, const struct run_entry *e, const size_t *pick,
	const char *msg)
{
	const char *prefix = "--set ";
	size_t pl = strlen(prefix);

	if (strncmp(msg, prefix, pl) != 0)
		return NULL;
	msg += pl;
	/* The later override wins, so look in reverse order of application. */
	for (size_t a = p->n_axes; a-- > 0;) {
		const struct sweep_kv *v = &p->axes[a].values[pick[a]];
		size_t kl = strlen(v->key), tl = strlen(v->text);
		if (strncmp(msg, v->key, kl) == 0 && msg[kl] == '=' &&
		    strncmp(msg + kl + 1, v->text, tl) == 0 &&
		    msg[kl + 1 + tl] == ':')
			return v;
	}
	for (size_t pass = 0; pass < 2; pass++) {
		const struct sweep_kv *kvs = pass == 0 && e ? e->kvs : p->common;
		size_t n = pass == 0 ? (e ? e->n : 0) : p->n_common;
		for (size_t i = n; i-- > 0;) {
			const struct sweep_kv *v = &kvs[i];
			size_t kl = strlen(v->key), tl = strlen(v->text);
			if (strncmp(msg, v->key, kl) == 0 && msg[kl] == '=' &&
			    strncmp(msg + kl + 1, v->text, tl) == 0 &&
			    msg[kl + 1 + tl] == ':')
				return v;
		}
	}
	return NULL;
}

/* Collects the swept keys: run-entry keys in first-seen order, then the
 * grid keys.  A key both in a run entry and in the grid is refused. */
static int collect_swept(struct sweep_plan *plan, struct parse *p)
{
	int rc;

	for (size_t e = 0; e < p->n_entries; e++)
		for (size_t i = 0; i < p->entries[e].n; i++) {
			const struct sweep_kv *kv = &p->entries[e].kvs[i];
			if (swept_index(plan, kv->key) >= 0)
				continue;
			rc = strv_push(&plan->swept_keys, &plan->n_swept,
				       kv->key);
			if (rc)
				return randes_errf(p->err, rc, "out of memory");
		}
	for (size_t a = 0; a < p->n_axes; a++) {
		if (swept_index(plan, p->axes[a].key) >= 0) {
			const struct sweep_kv *v = &p->axes[a].values[0];
			return randes_errf(p->err, RANDES_ECONFIG,
					   "%s:%zu:%zu: grid.%s: expected a key "
					   "that the runs do not set, got it in "
					   "both (which would win is not "
					   "obvious)",
					   p->file, v->line, v->col,
					   p->axes[a].key);
		}
		rc = strv_push(&plan->swept_keys, &plan->n_swept,
			       p->axes[a].key);
		if (rc)
			return randes_errf(p->err, rc, "out of memory");
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	const struct sweep_run *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Builds, names and validates run `index` (entry e, grid pick). */
static int build_run(struct sweep_plan *plan, struct parse *p, size_t index,
		     const struct run_entry *e, const size_t *pick)
{
	struct sweep_run *r = &plan->runs[index];
	char rn[160], ov[200], exact[4096];
	struct task *t = NULL;
	int rc;

	r->swept = calloc(plan->n_swept ? plan->n_swept : 1, sizeof(char *));
	if (!r->swept)
		return randes_errf(p->err, RANDES_ENOMEM, "out of memory");
	rc = make_name(plan, p, e, pick, r->name, exact, sizeof(exact));
	if (rc)
		return randes_errf(p->err, rc, "out of memory");
	config_run_name(plan->name, r->name, rn, sizeof(rn));
	snprintf(ov, sizeof(ov), "run.name=%s", rn);
	rc = strv_push(&r->overrides, &r->n_overrides, ov);
	/* Order of application: common overrides, the run entry, the grid
	 * (a later one wins). */
	for (size_t i = 0; rc == 0 && i < p->n_common; i++)
		rc = push_override(r, &p->common[i]);
	for (size_t i = 0; rc == 0 && e && i < e->n; i++) {
		rc = push_override(r, &e->kvs[i]);
		if (rc == 0)
			rc = set_swept(plan, r, &e->kvs[i]);
	}
	for (size_t a = 0; rc == 0 && a < p->n_axes; a++) {
		rc = push_override(r, &p->axes[a].values[pick[a]]);
		if (rc == 0)
			rc = set_swept(plan, r, &p->axes[a].values[pick[a]]);
	}
	if (rc)
		return randes_errf(p->err, rc, "out of memory");

	char cerr[RANDES_ERR_LEN];
	rc = config_load_file(&r->cfg, plan->base,
			      (const char *const *)r->overrides,
			      r->n_overrides, cerr);
	if (rc == 0) {
		rc = task_new(&t, &r->cfg, cerr);
		task_free(t);
	}
	if (rc) {
		const struct sweep_kv *v = culprit(p, e, pick, cerr);
		if (rc == RANDES_EIO)
			rc = RANDES_ECONFIG; /* the base was readable a moment ago */
		if (v)
			return randes_errf(p->err, rc,
					   "%s:%zu:%zu: run %zu (%s): %s",
					   p->file, v->line, v->col, index,
					   r->name, cerr);
		if (e && !e->name && e->n == 0)
			e = NULL;
		return randes_errf(p->err, rc, "%s:%zu:%zu: run %zu (%s): %s",
				   p->file, e ? e->line : (size_t)1,
				   e ? e->col : (size_t)1, index, r->name,
				   cerr);
	}
	return 0;
}

static int expand(struct sweep_plan *plan, struct parse *p)
{
	size_t n_grid = 1, n_entries = p->have_runs ? p->n_entries : 1;
	size_t *pick = NULL;
	struct sweep_run **sorted = NULL;
	int rc;

	for (size_t a = 0; a < p->n_axes; a++) {
		if (n_grid > SWEEP_MAX_RUNS / p->axes[a].n) {
			n_grid = SWEEP_MAX_RUNS + 1;
			break;
		}
		n_grid *= p->axes[a].n;
	}
	if (n_grid > SWEEP_MAX_RUNS || n_grid * n_entries > SWEEP_MAX_RUNS)
		return randes_errf(p->err, RANDES_ECONFIG,
				   "%s: the sweep expands to more than %u runs",
				   p->file, SWEEP_MAX_RUNS);
	rc = collect_swept(plan, p);
	if (rc)
		return rc;
	plan->n_runs = n_grid * n_entries;
	plan->runs = calloc(plan->n_runs, sizeof(*plan->runs));
	pick = calloc(p->n_axes ? p->n_axes : 1, sizeof(*pick));
	if (!plan->runs || !pick) {
		rc = randes_errf(p->err, RANDES_ENOMEM, "out of memory");
		goto fail;
	}
	/* Index order: run entries outermost, then the grid keys in file
	 * order, the last key varying fastest. */
	for (size_t i = 0; i < plan->n_runs; i++) {
		size_t e = i / n_grid, g = i % n_grid;
		for (size_t a = p->n_axes; a-- > 0;) {
			pick[a] = g % p->axes[a].n;
			g /= p->axes[a].n;
		}
		rc = build_run(plan, p, i, p->have_runs ? &p->entries[e] : NULL,
			       pick);
		if (rc)
			goto fail;
	}
	/* Names must be unique: they are directories. */
	sorted = malloc(plan->n_runs * sizeof(*sorted));
	if (!sorted) {
		rc = randes_errf(p->err, RANDES_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < plan->n_runs; i++)
		sorted[i] = &plan->runs[i];
	qsort(sorted, plan->n_runs, sizeof(*sorted), name_cmp);
	for (size_t i = 1; i < plan->n_runs; i++) {
		if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
			size_t a = (size_t)(sorted[i - 1] - plan->runs);
			size_t b = (size_t)(sorted[i] - plan->runs);
			rc = randes_errf(p->err, RANDES_ECONFIG,
					 "%s: runs %zu and %zu have the same "
					 "name '%s': give them different "
					 "values or names",
					 p->file, a < b ? a : b, a < b ? b : a,
					 sorted[i]->name);
			goto fail;
		}
	}
	rc = 0;
fail:
	free(sorted);
	free(pick);
	return rc;
}

/* The sweep's default name: the file's base name without .yaml/.yml,
 * other characters replaced by '_' (as run.name's default). */
static void default_name(const char *path, char *out, size_t cap)
{
	const char *base = strrchr(path, '/');
	size_t n, o = 0;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	else if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
		n -= 4;
	for (size_t i = 0; i < n && o + 1 < cap && o < 127; i++) {
		char c = base[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			 c == '-';
		out[o++] = ok ? c : '_';
	}
	out[o] = '\0';
	if (o == 0 || out[0] == '.' || out[0] == '-')
		snprintf(out, cap, "sweep");
}

int sweep_plan_load(struct sweep_plan *plan, const char *path, char *err)
{
	struct parse p;
	char *data = NULL;
	size_t len = 0;
	int rc;

	sweep_plan_init(plan);
	memset(&p, 0, sizeof(p));
	p.file = path;
	p.err = err;
	rc = fsutil_read_file(path, SWEEP_FILE_MAX, &data, &len, err);
	if (rc) {
		if (rc == RANDES_EDATA)
			rc = RANDES_ECONFIG; /* too large, or not a file */
		goto fail;
	}
	p.text = data;
	p.len = len;
	rc = parse_sweep(&p);
	if (rc)
		goto fail;
	plan->path = str_dup(path);
	plan->text = data;
	plan->text_len = len;
	data = NULL;
	plan->base = p.base;
	p.base = NULL;
	plan->description = p.description;
	p.description = NULL;
	if (!plan->path) {
		rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
		goto fail;
	}
	if (p.name)
		snprintf(plan->name, sizeof(plan->name), "%s", p.name);
	else
		default_name(path, plan->name, sizeof(plan->name));
	plan->ranks_per_run = p.have_rpr ? p.rpr : 1;
	rc = expand(plan, &p);
	if (rc)
		goto fail;
	parse_free(&p);
	return 0;
fail:
	free(data);
	parse_free(&p);
	sweep_plan_free(plan);
	return rc;
}

int sweep_root_path(const struct sweep_plan *plan, const char *run_root,
		    char *out, size_t len, char *err)
{
	return path_join(out, len, run_root ? run_root : SWEEP_DEFAULT_RUN_ROOT,
			 plan->name, err);
}

/* ------------------------------------------------------------------------ */
/* The state of a run on disk                                                */
/* ------------------------------------------------------------------------ */

struct run_state {
	enum sweep_status status;
	int have_ck;          /* a checkpoint file exists                   */
	int loaded;           /* ... and was read: generation/elapsed valid */
	uint64_t generation;
	double elapsed;
	char note[RANDES_ERR_LEN];
};

/* 1 if path exists, 0 if not; -1 (note filled) if that cannot be told. */
static int exists_noted(const char *path, char *note)
{
	int e = fsutil_path_exists(path, note);

	return e < 0 ? -1 : e;
}

/*
 * Reads the state of run directory dir for config cfg.  The checkpoint is
 * loaded (and checked against cfg's locked hash) when `full`, or when it
 * decides between done and not done; otherwise a run with a checkpoint but
 * no eval.json is PARTIAL without looking inside.
 */
static void run_state_read(const char *dir, const struct config *cfg,
			   int full, struct run_state *st)
{
	char ck[PATH_LEN], prev[PATH_LEN], ev[PATH_LEN];
	int e_ck, e_prev, e_ev;

	memset(st, 0, sizeof(*st));
	if (path_join(ck, sizeof(ck), dir, CHECKPOINT_FILE_NAME, st->note) ||
	    path_join(prev, sizeof(prev), dir, CHECKPOINT_PREV_NAME,
		      st->note) ||
	    path_join(ev, sizeof(ev), dir, "eval.json", st->note)) {
		st->status = SWEEP_STATUS_INVALID;
		return;
	}
	e_ck = exists_noted(ck, st->note);
	e_prev = e_ck < 0 ? -1 : exists_noted(prev, st->note);
	e_ev = e_prev < 0 ? -1 : exists_noted(ev, st->note);
	if (e_ev < 0) {
		st->status = SWEEP_STATUS_INVALID;
		return;
	}
	st->have_ck = e_ck || e_prev;
	if (!st->have_ck) {
		st->status = SWEEP_STATUS_PENDING;
		return;
	}
	if (!full && !e_ev && cfg->run.eval_at_end) {
		st->status = SWEEP_STATUS_PARTIAL;
		return;
	}

	struct checkpoint c;
	struct checkpoint_expect expect;
	enum checkpoint_source source;

	checkpoint_init(&c);
	rundir_expect(cfg, &expect);
	if (checkpoint_load_latest(dir, &expect, &c, &source, NULL, st->note)) {
		st->status = SWEEP_STATUS_INVALID;
		return;
	}
	st->loaded = 1;
	st->generation = c.generation;
	st->elapsed = c.elapsed_seconds;
	checkpoint_free(&c);
	if (st->generation < cfg->run.generations)
		st->status = SWEEP_STATUS_PARTIAL;
	else if (e_ev || !cfg->run.eval_at_end)
		st->status = SWEEP_STATUS_DONE;
	else
		st->status = SWEEP_STATUS_TRAINED;
}

enum sweep_status sweep_status_of(const char *run_dir,
				  const struct config *cfg,
				  uint64_t *generation, char *note)
{
	struct run_state st;

	run_state_read(run_dir, cfg, 1, &st);
	if (generation)
		*generation = st.generation;
	if (note)
		snprintf(note, RANDES_ERR_LEN, "%s",
			 st.status == SWEEP_STATUS_INVALID ? st.note : "");
	return st.status;
}

const char *sweep_status_name(enum sweep_status s)
{
	switch (s) {
	case SWEEP_STATUS_PENDING:
		return "pending";
	case SWEEP_STATUS_PARTIAL:
		return "partial";
	case SWEEP_STATUS_TRAINED:
		return "trained";
	case SWEEP_STATUS_DONE:
		return "done";
	case SWEEP_STATUS_INVALID:
		return "invalid";
	}
	return "?";
}

/*
 * The pid written in dir/randes.lock, or 0 when the file is absent or
 * empty.  A lock is released by emptying the file, so a pid means a holder
 * (or one that was killed: flock itself is not probed, since a probe would
 * steal a claim from a leader that is about to take it).
 */
static long lock_pid(const char *dir)
{
	char path[PATH_LEN], buf[32];
	FILE *f;
	size_t n;
	long pid = 0;

	if (path_join(path, sizeof(path), dir, FSUTIL_LOCK_NAME, NULL))
		return 0;
	f = fopen(path, "rb");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pid = pid * 10 + (buf[i] - '0');
	return pid;
}

/* The holder of the run's lock or of a sweep's claim on it, or 0. */
static long lock_holder(const char *dir)
{
	char cdir[PATH_LEN];
	long pid = lock_pid(dir);

	if (!pid && path_join(cdir, sizeof(cdir), dir, SWEEP_CLAIM_DIR,
			      NULL) == 0)
		pid = lock_pid(cdir);
	return pid;
}

int sweep_list(const struct sweep_plan *plan, const char *run_root,
	       FILE *out, char *err)
{
	char root[PATH_LEN], dir[PATH_LEN];
	int rc = sweep_root_path(plan, run_root, root, sizeof(root), err);

	if (rc)
		return rc;
	for (size_t i = 0; i < plan->n_runs; i++) {
		struct run_state st;
		const char *status;
		rc = path_join(dir, sizeof(dir), root, plan->runs[i].name, err);
		if (rc)
			return rc;
		run_state_read(dir, &plan->runs[i].cfg, 1, &st);
		status = sweep_status_name(st.status);
		if (st.status != SWEEP_STATUS_DONE && lock_holder(dir))
			status = "running";
		fprintf(out, "%zu\t%s\t%s\n", i, plan->runs[i].name, status);
	}
	if (fflush(out) != 0 || ferror(out))
		return randes_errf(err, RANDES_EIO, "cannot write the list: %s",
				   strerror(errno));
	return 0;
}

/* ------------------------------------------------------------------------ */
/* summary.csv                                                               */
/* ------------------------------------------------------------------------ */

/* One CSV field, quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s, int first)
{
	if (!first)
		fputc(',', f);
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* A JSON number as written in eval.json (exact), or "" for null/absent. */
static void json_num_text(const struct json_value *v, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (v && v->type == JSON_NUMBER) {
		size_t n = v->num_len < cap - 1 ? v->num_len : cap - 1;
		memcpy(buf, v->num_text, n);
		buf[n] = '\0';
	}
}

static const struct json_value *jget(const struct json_value *o,
				     const char *a, const char *b)
{
	const struct json_value *v = json_object_get(o, a);

	return b ? json_object_get(v, b) : v;
}

/* The majority entry with vote size k, or NULL. */
static const struct json_value *majority_of(const struct json_value *root,
					    uint64_t k)
{
	const struct json_value *m = json_object_get(root, "majority");

	if (!m || m->type != JSON_ARRAY)
		return NULL;
	for (size_t i = 0; i < m->n_items; i++) {
		uint64_t kk;
		if (json_number_u64(json_object_get(&m->items[i], "k"), &kk) ==
			    0 &&
		    kk == k)
			return &m->items[i];
	}
	return NULL;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The task's size parameter: N for recall and colouring, the grid side,
 * the dimension of a test function. */
static uint32_t task_size_of(const struct config *cfg)
{
	switch (cfg->task.kind) {
	case TASK_KIND_ASSOCIATIVE_RECALL:
		return cfg->task.num_tokens;
	case TASK_KIND_CYCLE_COLORING:
		return cfg->task.num_vertices;
	case TASK_KIND_GRIDWORLD:
		return cfg->task.size;
	case TASK_KIND_SPHERE:
	case TASK_KIND_RASTRIGIN:
		return cfg->task.dim;
	}
	return 0;
}

/* Inputs per generation n (the exhaustive set's size when exhaustive). */
static uint64_t inputs_per_generation(const struct config *cfg)
{
	struct task *t = NULL;
	uint64_t n = cfg->objective.inputs;

	if (task_new(&t, cfg, NULL) == 0)
		n = task_train_count(t, cfg);
	task_free(t);
	return n;
}

static const char *const eval_groups[][4] = {
	/* eval.json object, then its members */
	{"success", "average", "p5", "worst"},
	{"sampled", "average", "p5", "worst"},
	{"predictive_variance", "average", "p95", NULL},
	{"seed_disagreement", "average", "p95", NULL},
	{"loss", "average", "p95", "worst"},
	{"reward", "average", "p5", "worst"},
};
#define N_EVAL_GROUPS (sizeof(eval_groups) / sizeof(eval_groups[0]))
#define N_HIST_BINS 20

/* Writes the header and rows of summary.csv into f. */
static int summary_render(const struct sweep_plan *plan, const char *root,
			  FILE *f, char *err)
{
	struct json_doc **docs = calloc(plan->n_runs ? plan->n_runs : 1,
					sizeof(*docs));
	/* The parsed numbers point into their text: both live until the
	 * end. */
	char **texts = calloc(plan->n_runs ? plan->n_runs : 1, sizeof(*texts));
	uint64_t *ks = NULL;
	size_t n_ks = 0, cap_ks = 0;
	char dir[PATH_LEN], path[PATH_LEN], num[64], col[256];
	int rc = 0;

	if (!docs || !texts) {
		free(docs);
		free(texts);
		return randes_errf(err, RANDES_ENOMEM, "out of memory");
	}
	/* eval.json of every run, and the union of the vote sizes. */
	for (size_t i = 0; i < plan->n_runs; i++) {
		size_t len = 0;
		if (path_join(dir, sizeof(dir), root, plan->runs[i].name, err) ||
		    path_join(path, sizeof(path), dir, "eval.json", err)) {
			rc = RANDES_EUSAGE;
			goto fail;
		}
		if (fsutil_read_file(path, SWEEP_EVAL_MAX, &texts[i], &len, NULL))
			continue;
		if (json_parse(texts[i], len, &docs[i], NULL) != 0)
			docs[i] = NULL; /* a broken file shows as empty cells */
		const struct json_value *m = json_object_get(
			docs[i] ? json_doc_root(docs[i]) : NULL, "majority");
		for (size_t j = 0; m && m->type == JSON_ARRAY && j < m->n_items;
		     j++) {
			uint64_t k;
			int seen = 0;
			if (json_number_u64(json_object_get(&m->items[j], "k"),
					    &k))
				continue;
			for (size_t q = 0; q < n_ks; q++)
				seen |= ks[q] == k;
			if (seen)
				continue;
			if (n_ks == cap_ks) {
				uint64_t *nk = realloc(
					ks, (cap_ks ? 2 * cap_ks : 8) * sizeof(*ks));
				if (!nk) {
					rc = randes_errf(err, RANDES_ENOMEM,
							 "out of memory");
					goto fail;
				}
				ks = nk;
				cap_ks = cap_ks ? 2 * cap_ks : 8;
			}
			ks[n_ks++] = k;
		}
	}
	if (n_ks)
		qsort(ks, n_ks, sizeof(*ks), u64_cmp);

	/* Header. */
	static const char *const fixed[] = {"index", "run", "status"};
	static const char *const resolved[] = {
		"task",          "variant",     "task_size",
		"q",             "m",           "n",
		"population",    "run_seed",    "generations",
		"generations_total", "wall_seconds", "train_forward_passes",
		"eval_forward_passes", "eval_inputs", "eval_seeds",
	};
	for (size_t c = 0; c < 3; c++)
		csv_field(f, fixed[c], c == 0);
	for (size_t k = 0; k < plan->n_swept; k++)
		csv_field(f, plan->swept_keys[k], 0);
	for (size_t c = 0; c < sizeof(resolved) / sizeof(resolved[0]); c++)
		csv_field(f, resolved[c], 0);
	for (size_t g = 0; g < N_EVAL_GROUPS; g++) {
		for (size_t m = 1; m < 4 && eval_groups[g][m]; m++) {
			snprintf(col, sizeof(col), "%s.%s", eval_groups[g][0],
				 eval_groups[g][m]);
			csv_field(f, col, 0);
		}
		if (g == 0)
			for (size_t q = 0; q < n_ks; q++)
				for (size_t m = 1; m < 4; m++) {
					snprintf(col, sizeof(col),
						 "majority.%" PRIu64 ".%s",
						 ks[q], eval_groups[0][m]);
					csv_field(f, col, 0);
				}
	}
	for (size_t b = 0; b < N_HIST_BINS; b++) {
		snprintf(col, sizeof(col), "histogram.%02zu", b);
		csv_field(f, col, 0);
	}
	csv_field(f, "note", 0);
	fputc('\n', f);

	/* Rows. */
	for (size_t i = 0; i < plan->n_runs; i++) {
		const struct sweep_run *r = &plan->runs[i];
		const struct config *cfg = &r->cfg;
		const struct json_value *ej =
			docs[i] ? json_doc_root(docs[i]) : NULL;
		struct run_state st;
		const char *status;
		uint64_t n_in = inputs_per_generation(cfg);
		uint64_t m = config_seeds_per_input(cfg);

		if (path_join(dir, sizeof(dir), root, r->name, err)) {
			rc = RANDES_EUSAGE;
			goto fail;
		}
		run_state_read(dir, cfg, 1, &st);
		status = sweep_status_name(st.status);
		if (st.status != SWEEP_STATUS_DONE && lock_holder(dir))
			status = "running";

		snprintf(num, sizeof(num), "%zu", i);
		csv_field(f, num, 1);
		csv_field(f, r->name, 0);
		csv_field(f, status, 0);
		for (size_t k = 0; k < plan->n_swept; k++)
			csv_field(f, r->swept[k], 0);
		csv_field(f, config_task_kind_name(cfg->task.kind), 0);
		csv_field(f, config_variant_name(cfg->objective.variant), 0);
		snprintf(num, sizeof(num), "%" PRIu32, task_size_of(cfg));
		csv_field(f, num, 0);
		fmt_shortest(config_q_at(cfg, cfg->run.generations - 1), num,
			     sizeof(num));
		csv_field(f, num, 0);
		snprintf(num, sizeof(num), "%" PRIu64, m);
		csv_field(f, num, 0);
		snprintf(num, sizeof(num), "%" PRIu64, n_in);
		csv_field(f, num, 0);
		snprintf(num, sizeof(num), "%" PRIu32, cfg->es.population);
		csv_field(f, num, 0);
		snprintf(num, sizeof(num), "%" PRIu64, cfg->run.seed);
		csv_field(f, num, 0);
		if (st.loaded)
			snprintf(num, sizeof(num), "%" PRIu64, st.generation);
		else
			snprintf(num, sizeof(num), "%s",
				 st.status == SWEEP_STATUS_PENDING ? "0" : "");
		csv_field(f, num, 0);
		snprintf(num, sizeof(num), "%" PRIu32, cfg->run.generations);
		csv_field(f, num, 0);
		if (st.loaded)
			snprintf(num, sizeof(num), "%.3f", st.elapsed);
		else
			num[0] = '\0';
		csv_field(f, num, 0);
		/* Sequences through the model (roll-outs for the grid): each
		 * generation scores P members and the centre on n*m. */
		if (st.loaded)
			snprintf(num, sizeof(num), "%" PRIu64,
				 st.generation *
					 ((uint64_t)cfg->es.population + 1) *
					 n_in * m);
		else
			num[0] = '\0';
		csv_field(f, num, 0);
		{
			uint64_t ein = 0, es = 0;
			int have = ej &&
				   json_number_u64(jget(ej, "eval_set", "inputs"),
						   &ein) == 0 &&
				   json_number_u64(json_object_get(ej, "seeds"),
						   &es) == 0;
			const struct json_value *ur =
				json_object_get(ej, "uses_r0");
			uint64_t eff = ur && ur->type == JSON_BOOL && ur->boolean
					       ? 1
					       : es;
			if (have)
				snprintf(num, sizeof(num), "%" PRIu64, ein * eff);
			else
				num[0] = '\0';
			csv_field(f, num, 0);
			if (have)
				snprintf(num, sizeof(num), "%" PRIu64, ein);
			csv_field(f, num, 0);
			if (have)
				snprintf(num, sizeof(num), "%" PRIu64, eff);
			csv_field(f, num, 0);
		}
		for (size_t g = 0; g < N_EVAL_GROUPS; g++) {
			for (size_t c = 1; c < 4 && eval_groups[g][c]; c++) {
				json_num_text(jget(ej, eval_groups[g][0],
						   eval_groups[g][c]),
					      num, sizeof(num));
				csv_field(f, num, 0);
			}
			if (g == 0)
				for (size_t q = 0; q < n_ks; q++) {
					const struct json_value *mj =
						majority_of(ej, ks[q]);
					for (size_t c = 1; c < 4; c++) {
						json_num_text(
							json_object_get(
								mj,
								eval_groups[0][c]),
							num, sizeof(num));
						csv_field(f, num, 0);
					}
				}
		}
		{
			const struct json_value *h =
				jget(ej, "histogram", "fractions");
			for (size_t b = 0; b < N_HIST_BINS; b++) {
				json_num_text(h && h->type == JSON_ARRAY &&
						      b < h->n_items
						      ? &h->items[b]
						      : NULL,
					      num, sizeof(num));
				csv_field(f, num, 0);
			}
		}
		csv_field(f, st.status == SWEEP_STATUS_INVALID ? st.note : "",
			  0);
		fputc('\n', f);
	}
fail:
	for (size_t i = 0; i < plan->n_runs; i++) {
		json_doc_free(docs[i]);
		free(texts[i]);
	}
	free(docs);
	free(texts);
	free(ks);
	return rc;
}

int sweep_summarize(const struct sweep_plan *plan, const char *run_root,
		    char *path_out, char *err)
{
	char root[PATH_LEN], path[PATH_LEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	rc = sweep_root_path(plan, run_root, root, sizeof(root), err);
	if (rc == 0)
		rc = path_join(path, sizeof(path), root, "summary.csv", err);
	if (rc == 0)
		rc = fsutil_mkdir_p(root, 0777, err);
	if (rc)
		return rc;
	f = open_memstream(&buf, &len);
	if (!f)
		return randes_errf(err, RANDES_ENOMEM, "out of memory");
	rc = summary_render(plan, root, f, err);
	if (fclose(f) != 0 && rc == 0)
		rc = randes_errf(err, RANDES_ENOMEM,
				 "out of memory rendering %s", path);
	if (rc == 0)
		rc = fsutil_write_atomic(path, buf, len, err);
	free(buf);
	if (rc == 0 && path_out)
		snprintf(path_out, RUNDIR_PATH_MAX, "%s", path);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Watched directories                                                       */
/* ------------------------------------------------------------------------ */

int sweep_watch_validate(const char *path, struct config *cfg, char *err)
{
	struct task *t = NULL;
	int rc = config_load_file(cfg, path, NULL, 0, err);

	if (rc == 0) {
		rc = task_new(&t, cfg, err);
		task_free(t);
	}
	return rc;
}

/* The subdirectories of a watched directory. */
static const char *const watch_subdirs[] = {"queue", "done", "rejected",
					    "failed"};

/* 1 if name is a config to pick up: NAME.yaml or NAME.yml, not hidden. */
static int watch_candidate(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return 0;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

/* The run name of a watched file: its name without .yaml/.yml. */
static void watch_stem(const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	if (n > 5 && strcmp(name + n - 5, ".yaml") == 0)
		n -= 5;
	else if (n > 4 && strcmp(name + n - 4, ".yml") == 0)
		n -= 4;
	snprintf(out, cap, "%.*s", (int)n, name);
}

/* The file name is usable as a run directory: [A-Za-z0-9._-], 1..127
 * characters before the suffix, not starting with '-'. */
static int watch_name_ok(const char *name)
{
	char stem[256];

	watch_stem(name, stem, sizeof(stem));
	if (!stem[0] || strlen(stem) > 127 || stem[0] == '-' ||
	    name_reserved(stem))
		return 0;
	for (const char *c = stem; *c; c++)
		if (!name_value_char(*c) || *c == '+')
			return 0;
	return 1;
}

/*
 * Moves dir_a/name to dir_b/name (rename, then the directories synced).
 * Returns 0; 1 if dir_a/name is gone (another leader took it); or
 * RANDES_EIO/RANDES_EUSAGE with a message.
 */
static int move_file(const char *dir_a, const char *dir_b, const char *name,
		     char *err)
{
	char from[PATH_LEN], to[PATH_LEN];
	int rc = path_join(from, sizeof(from), dir_a, name, err);

	if (rc == 0)
		rc = path_join(to, sizeof(to), dir_b, name, err);
	if (rc)
		return rc;
	if (rename(from, to) != 0) {
		if (errno == ENOENT)
			return 1;
		return randes_errf(err, RANDES_EIO, "cannot move %s to %s: %s",
				   from, to, strerror(errno));
	}
	rc = fsutil_dir_sync(dir_b, err);
	if (rc == 0)
		rc = fsutil_dir_sync(dir_a, err);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* MPI: groups, claims and the loop every group runs                        */
/* ------------------------------------------------------------------------ */

#define SWEEP_TAG_STOP 7101
#define SWEEP_TAG_REGROUP 7102

enum action_cmd {
	ACTION_QUIT = 0,  /* leave the loop                                 */
	ACTION_RUN = 1,   /* train sweep run `index`                        */
	ACTION_WATCH = 2, /* train the queued file whose name follows       */
	ACTION_IDLE = 3,  /* nothing to do now: look again shortly          */
};

struct action {
	int32_t cmd;
	int32_t resume;
	uint64_t index;
	uint64_t name_len; /* ACTION_WATCH: bytes of the name, NUL included */
};

enum claim_outcome {
	CLAIM_OK = 0,     /* ours to train                                  */
	CLAIM_DONE = 1,   /* finished and evaluated                         */
	CLAIM_BUSY = 2,   /* another process holds the lock                 */
	CLAIM_ERROR = 3,  /* could not even look (message in err)           */
};

/*
 * A notice one group leader sends to every other leader, at most once per
 * round (a stop, or a call to regroup): a receive for it stays posted at
 * every leader, so one MPI_Test sees a notice that has arrived (MPI_Iprobe
 * may need several calls); notice_collect takes in the ones still in
 * flight before the leaders change or MPI ends.
 */
struct notice {
	int tag;
	int sent;                /* this leader sent it this round          */
	int received;            /* notices taken in this round             */
	int pending;             /* one has come                            */
	int32_t msg, in;
	MPI_Request recv;        /* the posted receive                      */
	MPI_Request *reqs;       /* (n_groups) the sends                    */
	int n_reqs;
};

struct sweeper {
	struct comm *world;
	struct comm group;       /* the ranks that train one run together  */
	struct comm p2p;         /* a duplicate of world: stop messages     */
	MPI_Comm gcomm, pcomm;
	int n_groups, group_id;
	int *leaders;            /* world rank of each group's leader       */
	const struct sweep_plan *plan;
	const struct sweep_options *o;
	const char *run_root;
	char root[PATH_LEN];     /* RUN_ROOT/<sweep name>, "" without plan  */
	char watch[PATH_LEN];    /* the watched directory, "" without       */
	char sub[4][PATH_LEN];   /* watch/{queue,done,rejected,failed}      */
	/* leader state */
	unsigned char *done;     /* (n_runs) trained or found done          */
	unsigned char *tries;    /* (n_runs) failed attempts                */
	char **failed_names;     /* queued files that failed here           */
	size_t n_failed_names;
	long current;            /* the sweep run being trained, or -1      */
	struct fsutil_lock claim; /* the claim of the run being trained     */
	struct notice stop;      /* "start no new run" (a signal)           */
	struct notice call;      /* "give your run back": the regroup       */
	int regroup_ok;          /* a plan without --only, --watch,
				  * --no-regroup                           */
	int yielded;             /* this group gave its run back            */
	int worst_exit;
	unsigned failures;
	char first_err[RANDES_ERR_LEN];
};

static int is_leader(const struct sweeper *sw)
{
	return sw->group.rank == 0;
}

/*
 * Waits for a non-blocking MPI operation by testing it with growing sleeps
 * in between: an idle group (all its runs done, or an empty watch queue)
 * must not spin its cores away from the groups that are training.
 */
static void wait_request(struct comm *c, MPI_Request *req)
{
	long us = 100;
	int done = 0;

	for (;;) {
		COMM_CHECK(c, MPI_Test(req, &done, MPI_STATUS_IGNORE));
		if (done)
			return;
		sleep_us(us);
		us = us * 2 > SWEEP_POLL_MAX_US ? SWEEP_POLL_MAX_US : us * 2;
	}
}

static void notice_post(struct sweeper *sw, struct notice *n)
{
	COMM_CHECK(&sw->p2p, MPI_Irecv(&n->in, 1, MPI_INT, MPI_ANY_SOURCE,
				       n->tag, sw->pcomm, &n->recv));
}

/* Leader: takes in the notices that have arrived; n->pending after. */
static int notice_poll(struct sweeper *sw, struct notice *n)
{
	for (;;) {
		int flag = 0;
		COMM_CHECK(&sw->p2p,
			   MPI_Test(&n->recv, &flag, MPI_STATUS_IGNORE));
		if (!flag)
			return n->pending;
		n->pending = 1;
		n->received++;
		notice_post(sw, n);
	}
}

/* Leader: sends the notice to every other leader (once per round). */
static void notice_send(struct sweeper *sw, struct notice *n)
{
	if (n->sent || sw->n_groups < 2)
		return;
	n->sent = 1;
	n->msg = 1;
	for (int g = 0; g < sw->n_groups; g++) {
		if (g == sw->group_id)
			continue;
		COMM_CHECK(&sw->p2p,
			   MPI_Isend(&n->msg, 1, MPI_INT, sw->leaders[g],
				     n->tag, sw->pcomm, &n->reqs[n->n_reqs++]));
	}
}

/*
 * Leader, when every rank knows how many of these notices other leaders
 * sent it (`expected`): receives the rest, withdraws the posted receive,
 * completes its own sends, and starts the next round's counts.
 */
static void notice_collect(struct sweeper *sw, struct notice *n,
			   int expected)
{
	while (n->received < expected) {
		COMM_CHECK(&sw->p2p, MPI_Wait(&n->recv, MPI_STATUS_IGNORE));
		n->received++;
		notice_post(sw, n);
	}
	COMM_CHECK(&sw->p2p, MPI_Cancel(&n->recv));
	COMM_CHECK(&sw->p2p, MPI_Wait(&n->recv, MPI_STATUS_IGNORE));
	if (n->n_reqs)
		COMM_CHECK(&sw->p2p, MPI_Waitall(n->n_reqs, n->reqs,
						 MPI_STATUSES_IGNORE));
	n->n_reqs = n->sent = n->received = n->pending = 0;
}

/*
 * Regrouping.  When a group finds no run left to claim while other groups
 * still train, its ranks would sit idle until the last run ends.  Instead
 * its leader calls for a regroup (a notice to every other leader); each
 * training group gives its run back after the current generation (a
 * checkpoint, as for a stop signal) and every rank meets in regroup(),
 * which splits the ranks anew into one group per run given back.  Those
 * groups resume the runs from their checkpoints with more ranks; a run's
 * results do not depend on its rank count (docs/architecture.md), so the
 * θ hashes are those of an undisturbed run.  sweep_yield is train_run's
 * yield hook, asked on the group's rank 0 (its leader).
 */
static int sweep_yield(void *ctx)
{
	struct sweeper *sw = ctx;

	return notice_poll(sw, &sw->call);
}

/*
 * The group's view of stop requests: flags[0] = a signal reached a rank of
 * this group, flags[1] = another group's leader said stop.
 */
static void group_stop_flags(struct sweeper *sw, int flags[2])
{
	int in[2] = {signals_stop_requested() != 0, 0};
	MPI_Request req;

	if (is_leader(sw))
		in[1] = notice_poll(sw, &sw->stop);
	COMM_CHECK(&sw->group, MPI_Iallreduce(in, flags, 2, MPI_INT, MPI_MAX,
					      sw->gcomm, &req));
	wait_request(&sw->group, &req);
}

static void bcast_action(struct sweeper *sw, struct action *a)
{
	MPI_Request req;

	COMM_CHECK(&sw->group, MPI_Ibcast(a, (int)sizeof(*a), MPI_BYTE, 0,
					  sw->gcomm, &req));
	wait_request(&sw->group, &req);
}

/* Logs a failed run and remembers the most severe exit code. */
static void record_failure(struct sweeper *sw, const char *what, int rc,
			   const char *msg)
{
	int code = randes_err_exit_code(rc);

	log_msg(LOG_ERROR, "%s: %s", what, msg && msg[0] ? msg : "failed");
	if (code > sw->worst_exit)
		sw->worst_exit = code;
	if (!sw->failures)
		snprintf(sw->first_err, sizeof(sw->first_err), "%s: %s", what,
			 msg && msg[0] ? msg : "failed");
	sw->failures++;
}

/*
 * Claims run directory dir for cfg by taking the claim lock
 * DIR/.claim/randes.lock (an fsutil lock, so it dies with its process),
 * which the leader holds until its group has finished with the run.
 * train_run() takes the run's own lock DIR/randes.lock as always, which
 * also keeps a plain `randes train` on the directory out.  The state is
 * looked at again under the claim: another process may have finished the
 * run in between.  On CLAIM_OK *claim is held and *resume says whether
 * the directory holds a checkpoint; otherwise *claim is not held.
 */
static enum claim_outcome claim_dir(const char *dir, const struct config *cfg,
				    struct fsutil_lock *claim, int *resume,
				    char *err)
{
	char cdir[PATH_LEN];
	struct run_state st;
	int rc;

	*resume = 0;
	run_state_read(dir, cfg, 0, &st);
	if (st.status == SWEEP_STATUS_DONE)
		return CLAIM_DONE;
	if (path_join(cdir, sizeof(cdir), dir, SWEEP_CLAIM_DIR, err) ||
	    fsutil_mkdir_p(cdir, 0777, err))
		return CLAIM_ERROR;
	rc = fsutil_lock_acquire(claim, cdir, err);
	if (rc == RANDES_EBUSY)
		return CLAIM_BUSY;
	if (rc)
		return CLAIM_ERROR;
	run_state_read(dir, cfg, 0, &st);
	if (st.status == SWEEP_STATUS_DONE) {
		fsutil_lock_release(claim);
		return CLAIM_DONE;
	}
	*resume = st.have_ck;
	return CLAIM_OK;
}

/* Progress counts over the sweep's runs, cheaply: a run is done when this
 * process trained it or its eval.json exists, running when its lock file
 * names a holder (or it is this group's), and left otherwise. */
static void progress_counts(const struct sweeper *sw, size_t *done,
			    size_t *running, size_t *left)
{
	char dir[PATH_LEN], ev[PATH_LEN];

	*done = *running = *left = 0;
	for (size_t i = 0; i < sw->plan->n_runs; i++) {
		int d = sw->done[i];
		if (!d && path_join(dir, sizeof(dir), sw->root,
				    sw->plan->runs[i].name, NULL) == 0 &&
		    path_join(ev, sizeof(ev), dir, "eval.json", NULL) == 0)
			d = fsutil_path_exists(ev, NULL) == 1 &&
			    sw->plan->runs[i].cfg.run.eval_at_end;
		if (d)
			(*done)++;
		else if ((long)i == sw->current || lock_holder(dir))
			(*running)++;
		else
			(*left)++;
	}
}

/* One progress line of a group leader on stdout. */
static void progress(const struct sweeper *sw, size_t index,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void progress(const struct sweeper *sw, size_t index,
		     const char *fmt, ...)
{
	char what[RANDES_ERR_LEN];
	size_t d, r, l;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	progress_counts(sw, &d, &r, &l);
	printf("[sweep %s] #%zu %s %s: %zu done, %zu running, %zu left (of "
	       "%zu)\n",
	       sw->plan->name, index, sw->plan->runs[index].name, what, d, r,
	       l, sw->plan->n_runs);
	fflush(stdout);
}

/* Leader: the next sweep run to train, or -1. */
static long next_sweep_run(struct sweeper *sw, int *resume, int *quit)
{
	const struct sweep_plan *plan = sw->plan;
	char dir[PATH_LEN], err[RANDES_ERR_LEN], what[2 * SWEEP_NAME_MAX + 64];
	size_t first = sw->o->only ? sw->o->only_index : 0;
	size_t end = sw->o->only ? first + 1 : plan->n_runs;

	*quit = 0;
	for (size_t i = first; i < end; i++) {
		enum claim_outcome c;
		if (sw->done[i] || sw->tries[i] >= 2)
			continue;
		snprintf(what, sizeof(what), "sweep %s: run %zu (%s)",
			 plan->name, i, plan->runs[i].name);
		if (path_join(dir, sizeof(dir), sw->root, plan->runs[i].name,
			      err)) {
			sw->tries[i] = 2;
			record_failure(sw, what, RANDES_EUSAGE, err);
			continue;
		}
		c = claim_dir(dir, &plan->runs[i].cfg, &sw->claim, resume, err);
		if (c == CLAIM_OK)
			return (long)i;
		if (c == CLAIM_DONE) {
			sw->done[i] = 1;
			if (sw->o->only) {
				printf("[sweep %s] #%zu %s is done already\n",
				       plan->name, i, plan->runs[i].name);
				fflush(stdout);
			}
		} else if (c == CLAIM_ERROR) {
			sw->tries[i] = 2;
			record_failure(sw, what, RANDES_EIO, err);
		} else if (sw->o->only) {
			sw->tries[i] = 2;
			record_failure(sw, what, RANDES_EBUSY, err);
		}
	}
	if (sw->o->only)
		*quit = 1;
	return -1;
}

/* Leader: moves a dropped file to rejected/ with its error beside it. */
static void watch_reject(struct sweeper *sw, const char *name,
			 const char *why)
{
	char err[RANDES_ERR_LEN], path[PATH_LEN], ename[PATH_LEN];
	int rc = move_file(sw->watch, sw->sub[2], name, err);

	if (rc == 1)
		return; /* another leader took it */
	if (rc == 0) {
		snprintf(ename, sizeof(ename), "%s.err", name);
		rc = path_join(path, sizeof(path), sw->sub[2], ename, err);
	}
	if (rc == 0) {
		size_t n = strlen(why);
		char *text = malloc(n + 2);
		if (!text) {
			rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
		} else {
			memcpy(text, why, n);
			text[n] = '\n';
			text[n + 1] = '\0';
			rc = fsutil_write_atomic(path, text, n + 1, err);
			free(text);
		}
	}
	if (rc) {
		char what[PATH_LEN + 300];
		snprintf(what, sizeof(what), "watch %s: rejecting %s", sw->watch,
			 name);
		record_failure(sw, what, rc, err);
		return;
	}
	printf("[watch %s] rejected %s (see rejected/%s.err): %s\n", sw->watch,
	       name, name, why);
	fflush(stdout);
}

/* Leader: validates the configs dropped into the watched directory and
 * moves each to queue/ or rejected/. */
static void watch_scan(struct sweeper *sw)
{
	DIR *d = opendir(sw->watch);
	struct dirent *de;

	if (!d) {
		char what[PATH_LEN + 16], msg[RANDES_ERR_LEN];
		snprintf(what, sizeof(what), "watch %s", sw->watch);
		snprintf(msg, sizeof(msg), "cannot read the directory: %s",
			 strerror(errno));
		record_failure(sw, what, RANDES_EIO, msg);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char path[PATH_LEN], err[RANDES_ERR_LEN], stem[256];
		const char *name = de->d_name;
		struct stat sb;
		struct config cfg;
		int dup = 0;

		if (!watch_candidate(name) ||
		    path_join(path, sizeof(path), sw->watch, name, NULL) ||
		    stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		watch_stem(name, stem, sizeof(stem));
		if (!watch_name_ok(name) ||
		    (sw->plan && strcmp(stem, sw->plan->name) == 0)) {
			watch_reject(sw, name,
				     "the file name must be NAME.yaml with NAME "
				     "made of 1 to 127 characters from A-Z a-z "
				     "0-9 . _ - (not starting with -), and not "
				     "the name of the sweep: NAME becomes the "
				     "run directory");
			continue;
		}
		for (int s = 0; s < 2; s++) {
			char other[PATH_LEN];
			if (path_join(other, sizeof(other), sw->sub[s], name,
				      NULL) == 0 &&
			    fsutil_path_exists(other, NULL) == 1)
				dup = 1;
		}
		if (dup) {
			watch_reject(sw, name,
				     "a config of this name is already queued "
				     "or done; drop it under another name");
			continue;
		}
		if (sweep_watch_validate(path, &cfg, err) != 0) {
			watch_reject(sw, name, err);
			continue;
		}
		int rc = move_file(sw->watch, sw->sub[0], name, err);
		if (rc == 1)
			continue;
		if (rc) {
			char what[PATH_LEN + 300];
			snprintf(what, sizeof(what), "watch %s: accepting %s",
				 sw->watch, name);
			record_failure(sw, what, rc, err);
			continue;
		}
		printf("[watch %s] accepted %s into queue/\n", sw->watch, name);
		fflush(stdout);
	}
	closedir(d);
}

struct queued {
	char name[256];
	struct timespec ctime;
};

static int queued_cmp(const void *a, const void *b)
{
	const struct queued *x = a, *y = b;

	if (x->ctime.tv_sec != y->ctime.tv_sec)
		return x->ctime.tv_sec < y->ctime.tv_sec ? -1 : 1;
	if (x->ctime.tv_nsec != y->ctime.tv_nsec)
		return x->ctime.tv_nsec < y->ctime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Leader: moves a queued file to failed/ with the error beside it. */
static void watch_fail(struct sweeper *sw, const char *name, int rc,
		       const char *msg)
{
	char err[RANDES_ERR_LEN], path[PATH_LEN], ename[PATH_LEN],
		what[PATH_LEN + 32];
	int mrc;

	snprintf(what, sizeof(what), "watch %s: %s", sw->watch, name);
	record_failure(sw, what, rc, msg);
	strv_push(&sw->failed_names, &sw->n_failed_names, name);
	mrc = move_file(sw->sub[0], sw->sub[3], name, err);
	if (mrc == 0) {
		snprintf(ename, sizeof(ename), "%s.err", name);
		if (path_join(path, sizeof(path), sw->sub[3], ename, err) == 0) {
			char text[RANDES_ERR_LEN + 2];
			int n = snprintf(text, sizeof(text), "%s\n", msg);
			fsutil_write_atomic(path, text, (size_t)n, err);
		}
	}
}

/* Leader: the next queued config to train (its file name into name), or
 * 0 if there is none. */
static int next_queued(struct sweeper *sw, char *name, size_t cap,
		       int *resume)
{
	DIR *d = opendir(sw->sub[0]);
	struct dirent *de;
	struct queued *q = NULL;
	size_t n = 0, qcap = 0;
	int found = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_LEN];
		struct stat sb;
		if (!watch_candidate(de->d_name) ||
		    strlen(de->d_name) >= sizeof(q->name) ||
		    path_join(path, sizeof(path), sw->sub[0], de->d_name,
			      NULL) ||
		    stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (n == qcap) {
			struct queued *nq = realloc(q, (qcap ? 2 * qcap : 16) *
							       sizeof(*q));
			if (!nq)
				break;
			q = nq;
			qcap = qcap ? 2 * qcap : 16;
		}
		snprintf(q[n].name, sizeof(q[n].name), "%s", de->d_name);
		q[n].ctime = sb.st_ctim;
		n++;
	}
	closedir(d);
	/* First come, first served: the time of the move into queue/. */
	if (n)
		qsort(q, n, sizeof(*q), queued_cmp);
	for (size_t i = 0; i < n && !found; i++) {
		char path[PATH_LEN], dir[PATH_LEN], stem[256],
			err[RANDES_ERR_LEN];
		struct config cfg;
		int skip = 0;
		for (size_t f = 0; f < sw->n_failed_names; f++)
			skip |= strcmp(sw->failed_names[f], q[i].name) == 0;
		if (skip)
			continue;
		watch_stem(q[i].name, stem, sizeof(stem));
		if (path_join(path, sizeof(path), sw->sub[0], q[i].name, err) ||
		    path_join(dir, sizeof(dir), sw->run_root, stem, err)) {
			watch_fail(sw, q[i].name, RANDES_EUSAGE, err);
			continue;
		}
		int rc = sweep_watch_validate(path, &cfg, err);
		if (rc) {
			if (fsutil_path_exists(path, NULL) == 1)
				watch_fail(sw, q[i].name, rc, err);
			continue;
		}
		switch (claim_dir(dir, &cfg, &sw->claim, resume, err)) {
		case CLAIM_OK:
			snprintf(name, cap, "%s", q[i].name);
			found = 1;
			break;
		case CLAIM_DONE:
			if (move_file(sw->sub[0], sw->sub[1], q[i].name, err) ==
			    0) {
				printf("[watch %s] %s is done (%s): moved to "
				       "done/\n",
				       sw->watch, q[i].name, dir);
				fflush(stdout);
			}
			break;
		case CLAIM_BUSY:
			break;
		case CLAIM_ERROR:
			watch_fail(sw, q[i].name, RANDES_EIO, err);
			break;
		}
	}
	free(q);
	return found;
}

/* Leader: what the group does next. */
static void leader_decide(struct sweeper *sw, struct action *a, char *name,
			  size_t cap)
{
	int resume = 0, quit = 0;

	memset(a, 0, sizeof(*a));
	if (sw->plan) {
		long i = next_sweep_run(sw, &resume, &quit);
		if (i >= 0) {
			a->cmd = ACTION_RUN;
			a->index = (uint64_t)i;
			a->resume = resume;
			return;
		}
		if (quit) {
			a->cmd = ACTION_QUIT;
			return;
		}
	}
	if (sw->watch[0]) {
		watch_scan(sw);
		if (next_queued(sw, name, cap, &resume)) {
			a->cmd = ACTION_WATCH;
			a->resume = resume;
			a->name_len = strlen(name) + 1;
		} else {
			a->cmd = ACTION_IDLE;
		}
		return;
	}
	a->cmd = ACTION_QUIT;
}

/* The whole group trains sweep run a->index. */
static void group_run_sweep(struct sweeper *sw, const struct action *a)
{
	const struct sweep_run *r = &sw->plan->runs[a->index];
	struct train_options topt;
	struct train_result res;
	char dir[PATH_LEN], err[RANDES_ERR_LEN] = "", what[2 * SWEEP_NAME_MAX + 64];
	int rc;

	/* The leader checked the path when it claimed the run. */
	path_join(dir, sizeof(dir), sw->root, r->name, NULL);
	if (is_leader(sw)) {
		sw->current = (long)a->index;
		progress(sw, a->index, "start on group %d (%d rank%s%s)",
			 sw->group_id, sw->group.size,
			 sw->group.size == 1 ? "" : "s",
			 a->resume ? ", resuming" : "");
	}
	memset(&topt, 0, sizeof(topt));
	topt.run_dir = dir;
	topt.resume = a->resume;
	topt.tag = r->name;
	if (sw->regroup_ok) {
		topt.yield = sweep_yield;
		topt.yield_ctx = sw;
	}
	rc = train_run(&sw->group, &r->cfg, &topt, &res, err);
	if (!is_leader(sw))
		return;
	fsutil_lock_release(&sw->claim);
	if (rc == 0 && res.yielded) {
		/* Counted as running still: the regroup resumes it at once. */
		sw->yielded = 1;
		progress(sw, a->index,
			 "gave its ranks back at generation %" PRIu64
			 " for a regroup (checkpoint written)",
			 res.generation);
		sw->current = -1;
		return;
	}
	sw->current = -1;
	snprintf(what, sizeof(what), "sweep %s: run %" PRIu64 " (%s)",
		 sw->plan->name, a->index, r->name);
	if (rc == 0) {
		if (res.stopped) {
			progress(sw, a->index,
				 "stopped at generation %" PRIu64
				 " (checkpoint written)",
				 res.generation);
		} else {
			sw->done[a->index] = 1;
			progress(sw, a->index,
				 "finished (%" PRIu64 " generations%s)",
				 res.generation,
				 res.evaluated ? ", evaluated" : "");
		}
	} else if (rc == RANDES_EBUSY && !sw->o->only) {
		/* Another process won the claim: it trains the run. */
		log_msg(LOG_INFO, "%s: %s", what, err);
	} else if (rc == RANDES_EUSAGE && !a->resume &&
		   ++sw->tries[a->index] < 2) {
		/* A checkpoint appeared between claim and start: look again. */
		log_msg(LOG_INFO, "%s: %s; looking again", what, err);
	} else {
		sw->tries[a->index] = 2;
		record_failure(sw, what, rc, err);
	}
}

/* The whole group trains a queued config (its name broadcast here). */
static void group_run_watch(struct sweeper *sw, const struct action *a,
			    char *leader_name)
{
	char *name = is_leader(sw) ? leader_name : NULL;
	char path[PATH_LEN], dir[PATH_LEN], stem[256], err[RANDES_ERR_LEN] = "";
	struct config cfg;
	struct train_options topt;
	struct train_result res;
	int rc;

	rc = comm_bcast_string(&sw->group, &name, err);
	if (-comm_max_int(&sw->group, -rc) != 0) {
		if (!is_leader(sw))
			free(name);
		if (is_leader(sw)) {
			fsutil_lock_release(&sw->claim);
			record_failure(sw, "watch", RANDES_ENOMEM,
				       "out of memory");
		}
		return;
	}
	(void)a;
	watch_stem(name, stem, sizeof(stem));
	rc = path_join(path, sizeof(path), sw->sub[0], name, err);
	if (rc == 0)
		rc = path_join(dir, sizeof(dir), sw->run_root, stem, err);
	/* Every rank reads the config, as `randes train` does. */
	if (rc == 0)
		rc = config_load_file(&cfg, path, NULL, 0, err);
	int agreed = -comm_max_int(&sw->group, -rc);
	if (agreed) {
		if (is_leader(sw))
			fsutil_lock_release(&sw->claim);
		if (is_leader(sw))
			watch_fail(sw, name,
				   rc ? rc : agreed,
				   rc ? err : "another rank could not read it");
		goto out;
	}
	if (is_leader(sw)) {
		printf("[watch %s] start %s on group %d (%d rank%s%s): run dir "
		       "%s\n",
		       sw->watch, name, sw->group_id, sw->group.size,
		       sw->group.size == 1 ? "" : "s",
		       a->resume ? ", resuming" : "", dir);
		fflush(stdout);
	}
	memset(&topt, 0, sizeof(topt));
	topt.run_dir = dir;
	topt.resume = a->resume;
	topt.tag = stem;
	rc = train_run(&sw->group, &cfg, &topt, &res, err);
	if (!is_leader(sw))
		goto out;
	fsutil_lock_release(&sw->claim);
	if (rc == 0 && res.stopped) {
		printf("[watch %s] stopped %s at generation %" PRIu64
		       " (checkpoint written; it stays in queue/)\n",
		       sw->watch, name, res.generation);
	} else if (rc == 0) {
		int mrc = move_file(sw->sub[0], sw->sub[1], name, err);
		if (mrc < 0)
			record_failure(sw, "watch", mrc, err);
		printf("[watch %s] finished %s (%" PRIu64
		       " generations%s): moved to done/\n",
		       sw->watch, name, res.generation,
		       res.evaluated ? ", evaluated" : "");
	} else if (rc == RANDES_EBUSY ||
		   (rc == RANDES_EUSAGE && !a->resume)) {
		log_msg(LOG_INFO, "watch %s: %s: %s", sw->watch, name, err);
	} else {
		watch_fail(sw, name, rc, err);
	}
	fflush(stdout);
out:
	if (!is_leader(sw))
		free(name);
}

/* The loop every group runs until it has nothing left or must stop. */
static void group_loop(struct sweeper *sw)
{
	char name[256];

	for (;;) {
		struct action a;
		int flags[2];

		group_stop_flags(sw, flags);
		memset(&a, 0, sizeof(a));
		if (is_leader(sw)) {
			if (flags[0])
				notice_send(sw, &sw->stop);
			if (flags[0] || flags[1])
				a.cmd = ACTION_QUIT;
			else if (sw->regroup_ok && notice_poll(sw, &sw->call))
				a.cmd = ACTION_QUIT; /* to regroup() */
			else {
				leader_decide(sw, &a, name, sizeof(name));
				/* nothing left here while others may train:
				 * call them to a regroup */
				if (a.cmd == ACTION_QUIT && sw->regroup_ok)
					notice_send(sw, &sw->call);
			}
		}
		bcast_action(sw, &a);
		switch (a.cmd) {
		case ACTION_RUN:
			group_run_sweep(sw, &a);
			break;
		case ACTION_WATCH:
			group_run_watch(sw, &a, name);
			break;
		case ACTION_IDLE:
			if (is_leader(sw))
				for (int t = 0; t < SWEEP_WATCH_POLL_MS / 50 &&
						!signals_stop_requested();
				     t++)
					sleep_us(50000);
			break;
		default:
			return;
		}
	}
}

/* Rank 0, before any group starts: the sweep root with a copy of the
 * sweep file, and the watched directory's subdirectories. */
static int prepare_dirs(struct sweeper *sw, char *err)
{
	char path[PATH_LEN];
	int rc = 0;

	if (sw->plan) {
		rc = fsutil_mkdir_p(sw->root, 0777, err);
		if (rc == 0)
			rc = path_join(path, sizeof(path), sw->root,
				       "sweep.yaml", err);
		if (rc == 0)
			rc = fsutil_write_atomic(path, sw->plan->text,
						 sw->plan->text_len, err);
	}
	for (int s = 0; rc == 0 && sw->watch[0] && s < 4; s++)
		rc = fsutil_mkdir_p(sw->sub[s], 0777, err);
	return rc;
}

/*
 * Every rank, when its group has left group_loop: the end of a round.
 * Sums over the world the stop requests (signals, stop messages), the runs
 * given back and the regroup calls; takes in every call still in flight;
 * then, if nothing asked to stop and runs were given back, splits the
 * ranks anew into one group per such run (consecutive blocks, sizes within
 * one of each other) and returns 1: group_loop runs again, and the new
 * groups claim and resume those runs.  Returns 0 when the sweep is over.
 */
static int regroup(struct sweeper *sw)
{
	struct comm *w = sw->world;
	int in[3] = {0, 0, 0}, out[3], n, color;
	size_t n_runs = sw->plan ? sw->plan->n_runs : 0;
	char err[RANDES_ERR_LEN];
	MPI_Request req;

	if (!sw->regroup_ok)
		return 0;
	in[0] = signals_stop_requested() != 0;
	if (is_leader(sw)) {
		in[0] |= sw->stop.sent || sw->stop.pending;
		in[1] = sw->yielded;
		in[2] = sw->call.sent;
	}
	COMM_CHECK(w, MPI_Iallreduce(in, out, 3, MPI_INT, MPI_SUM, w->comm,
				     &req));
	wait_request(w, &req);
	/* every caller sent one call to each other leader */
	if (is_leader(sw))
		notice_collect(sw, &sw->call, out[2] - sw->call.sent);
	sw->yielded = 0;
	if (out[0] || out[1] == 0) {
		/* over (or stopped): the final collection expects the stop
		 * receive posted, and no regroup receive */
		return 0;
	}

	/* What each old leader learnt about the runs, for the new ones. */
	COMM_CHECK(w, MPI_Allreduce(MPI_IN_PLACE, sw->done, (int)n_runs,
				    MPI_UNSIGNED_CHAR, MPI_MAX, w->comm));
	COMM_CHECK(w, MPI_Allreduce(MPI_IN_PLACE, sw->tries, (int)n_runs,
				    MPI_UNSIGNED_CHAR, MPI_MAX, w->comm));
	if (is_leader(sw))
		notice_collect(sw, &sw->stop, 0); /* no stop anywhere */
	n = out[1] < w->size ? out[1] : w->size;
	color = (int)((int64_t)w->rank * n / w->size);
	COMM_CHECK(w, MPI_Comm_free(&sw->gcomm));
	COMM_CHECK(w, MPI_Comm_split(w->comm, color, w->rank, &sw->gcomm));
	if (comm_wrap(&sw->group, sw->gcomm, err))
		comm_fail(w, MPI_ERR_COMM, err, __FILE__, __LINE__);
	for (int r = w->size - 1; r >= 0; r--)
		sw->leaders[(int64_t)r * n / w->size] = r;
	sw->n_groups = n;
	sw->group_id = color;
	if (is_leader(sw)) {
		notice_post(sw, &sw->stop);
		notice_post(sw, &sw->call);
	}
	if (w->rank == 0) {
		char sizes[32];
		int lo = w->size / n, hi = lo + (w->size % n != 0);

		snprintf(sizes, sizeof(sizes), lo == hi ? "%d" : "%d-%d", lo,
			 hi);
		log_msg(LOG_INFO,
			"sweep %s: ranks were idle: %d run%s still training "
			"gave %s ranks back; regrouped into %d group%s of %s "
			"rank%s",
			sw->plan->name, out[1], out[1] == 1 ? "" : "s",
			out[1] == 1 ? "its" : "their", n, n == 1 ? "" : "s",
			sizes, hi == 1 ? "" : "s");
	}
	return 1;
}

static void sweeper_free(struct sweeper *sw)
{
	fsutil_lock_release(&sw->claim);
	if (sw->gcomm != MPI_COMM_NULL)
		MPI_Comm_free(&sw->gcomm);
	if (sw->pcomm != MPI_COMM_NULL)
		MPI_Comm_free(&sw->pcomm);
	free(sw->leaders);
	free(sw->done);
	free(sw->tries);
	free(sw->stop.reqs);
	free(sw->call.reqs);
	strv_free(sw->failed_names, sw->n_failed_names);
}

int sweep_execute(struct comm *world, const struct sweep_plan *plan,
		  const struct sweep_options *o, char *err)
{
	struct sweeper sw;
	uint32_t rpr = o->ranks_per_run ? o->ranks_per_run
					: (plan ? plan->ranks_per_run : 1);
	size_t n_runs = plan ? plan->n_runs : 0;
	int rc = 0, color;

	if (err)
		err[0] = '\0';
	memset(&sw, 0, sizeof(sw));
	sw.gcomm = sw.pcomm = MPI_COMM_NULL;
	sw.world = world;
	sw.plan = plan;
	sw.o = o;
	sw.current = -1;
	fsutil_lock_init(&sw.claim);
	sw.run_root = o->run_root ? o->run_root : SWEEP_DEFAULT_RUN_ROOT;
	if (plan)
		rc = sweep_root_path(plan, sw.run_root, sw.root,
				     sizeof(sw.root), err);
	if (rc == 0 && o->watch_dir) {
		snprintf(sw.watch, sizeof(sw.watch), "%s", o->watch_dir);
		for (int s = 0; rc == 0 && s < 4; s++)
			rc = path_join(sw.sub[s], sizeof(sw.sub[s]), sw.watch,
				       watch_subdirs[s], err);
	}
	if (rc == 0 && world->rank == 0)
		rc = prepare_dirs(&sw, err);
	if ((rc = -comm_max_int(world, -rc)) != 0)
		goto out;

	/* Groups of rpr consecutive ranks; leftover ranks join the last
	 * group; --only trains its one run on every rank. */
	sw.n_groups = o->only ? 1 : world->size / (int)rpr;
	if (sw.n_groups < 1)
		sw.n_groups = 1;
	color = o->only ? 0 : world->rank / (int)rpr;
	if (color >= sw.n_groups)
		color = sw.n_groups - 1;
	sw.group_id = color;
	COMM_CHECK(world, MPI_Comm_split(world->comm, color, world->rank,
					 &sw.gcomm));
	COMM_CHECK(world, MPI_Comm_dup(world->comm, &sw.pcomm));
	rc = comm_wrap(&sw.group, sw.gcomm, err);
	if (rc == 0)
		rc = comm_wrap(&sw.p2p, sw.pcomm, err);
	sw.leaders = calloc((size_t)sw.n_groups, sizeof(int));
	sw.stop.tag = SWEEP_TAG_STOP;
	sw.call.tag = SWEEP_TAG_REGROUP;
	sw.stop.reqs = calloc((size_t)sw.n_groups, sizeof(MPI_Request));
	sw.call.reqs = calloc((size_t)sw.n_groups, sizeof(MPI_Request));
	sw.regroup_ok = plan && !o->only && !o->watch_dir && !o->no_regroup;
	sw.done = calloc(n_runs ? n_runs : 1, 1);
	sw.tries = calloc(n_runs ? n_runs : 1, 1);
	if (rc == 0 && (!sw.leaders || !sw.stop.reqs || !sw.call.reqs ||
			!sw.done || !sw.tries))
		rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
	if ((rc = -comm_max_int(world, -rc)) != 0)
		goto out;
	for (int g = 0; g < sw.n_groups; g++)
		sw.leaders[g] = o->only ? 0 : g * (int)rpr;
	if (is_leader(&sw)) {
		notice_post(&sw, &sw.stop);
		if (sw.regroup_ok)
			notice_post(&sw, &sw.call);
	}

	if (world->rank == 0) {
		if (plan && o->only)
			log_msg(LOG_INFO, "sweep %s: run #%zu of %zu under %s on "
					  "%d rank%s",
				plan->name, o->only_index, plan->n_runs, sw.root,
				world->size, world->size == 1 ? "" : "s");
		else if (plan)
			log_msg(LOG_INFO,
				"sweep %s: %zu run%s under %s; %d rank%s in %d "
				"group%s of %u%s",
				plan->name, plan->n_runs,
				plan->n_runs == 1 ? "" : "s", sw.root,
				world->size, world->size == 1 ? "" : "s",
				sw.n_groups, sw.n_groups == 1 ? "" : "s",
				world->size < (int)rpr ? (uint32_t)world->size
						       : rpr,
				world->size % (int)rpr && world->size > (int)rpr
					? " (the last group takes the "
					  "leftover ranks)"
					: "");
		if (sw.watch[0])
			log_msg(LOG_INFO,
				"watching %s: drop NAME.yaml there (write a "
				"temporary name, then rename); runs go to "
				"%s/NAME",
				sw.watch, sw.run_root);
		if (!o->only && world->size < (int)rpr)
			log_msg(LOG_WARN,
				"ranks_per_run %u > %d ranks: one group of "
				"all ranks",
				rpr, world->size);
	}

	do
		group_loop(&sw);
	while (regroup(&sw));

	/* Every group is done: wait for the others without spinning. */
	{
		MPI_Request req;
		COMM_CHECK(world, MPI_Ibarrier(world->comm, &req));
		wait_request(world, &req);
	}
	/* Collect the stop messages still in flight, so none is left
	 * unmatched at MPI_Finalize. */
	{
		/* each sender sent one to every other leader (only leaders
		 * send, so the sum over all ranks counts the senders) */
		int senders = 0;

		COMM_CHECK(world, MPI_Allreduce(&sw.stop.sent, &senders, 1,
						MPI_INT, MPI_SUM, world->comm));
		if (is_leader(&sw))
			notice_collect(&sw, &sw.stop, senders - sw.stop.sent);
	}

	/* The summary, from what is on disk now. */
	int sum_rc = 0;
	if (world->rank == 0 && plan && !o->only) {
		char spath[PATH_LEN], serr[RANDES_ERR_LEN];
		size_t d = 0, r = 0, l = 0;
		sum_rc = sweep_summarize(plan, sw.run_root, spath, serr);
		if (sum_rc) {
			record_failure(&sw, "summary.csv", sum_rc, serr);
		} else {
			progress_counts(&sw, &d, &r, &l);
			printf("[sweep %s] %zu run%s: %zu done, %zu running "
			       "elsewhere, %zu left%s; summary %s\n",
			       plan->name, plan->n_runs,
			       plan->n_runs == 1 ? "" : "s", d, r, l,
			       signals_stop_requested() ? " (stopped by a "
							  "signal)"
							: "",
			       spath);
			fflush(stdout);
		}
	}
	{
		int worst = comm_max_int(world, sw.worst_exit);
		int in = (int)sw.failures, total = 0;
		COMM_CHECK(world, MPI_Allreduce(&in, &total, 1, MPI_INT,
						MPI_SUM, world->comm));
		if (worst) {
			rc = worst >= RANDES_EXIT_MPI    ? RANDES_EMPI
			     : worst >= RANDES_EXIT_DATA ? RANDES_EIO
							 : RANDES_ECONFIG;
			if (err && world->rank == 0)
				snprintf(err, RANDES_ERR_LEN,
					 "%d failure%s (see the messages "
					 "above)%s%.900s",
					 total, total == 1 ? "" : "s",
					 sw.first_err[0] ? "; first: " : "",
					 sw.first_err);
		}
	}
out:
	sweeper_free(&sw);
	return rc;
}
