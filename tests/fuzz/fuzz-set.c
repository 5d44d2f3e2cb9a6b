/*
 * fuzz-set: the --set override parser on arbitrary strings, applied to
 * valid base configs of every task kind and strategy.
 *
 * Each input is one override "key.path=value" (cut at its first NUL, as a
 * command-line argument would be), tried two ways on each base:
 *   A. config_apply_override(&cfg, s)  (on an already loaded config);
 *   B. config_load_string(base YAML, overrides = {s})  (what `randes train
 *      --set` and `check-config --set` do).
 * Contract checked:
 *   - a refusal is RANDES_ECONFIG (or RANDES_ENOMEM) with a message naming
 *     the override ("--set ..."), and with A the config is unchanged;
 *   - an accepted override gives a config that validates and round-trips
 *     through its resolved YAML (fuzz_config_roundtrip);
 *   - A and B agree, unless the override switches task.kind (B then
 *     applies the new kind's preset to the keys the base file leaves out,
 *     A keeps the loaded values: documented in config.h): both accept with
 *     the same resolved YAML, or both refuse.
 * B loads the short base file, not its resolved form: the resolved YAML is
 * ten times longer and loading it dominated the cost of an input.
 */
#include "fuzz.h"

/* Bases: every task kind, both strategies, the optimizers, schedules. */
static const char *const fuzz_set_bases[] = {
	"run: {generations: 50}\ntask: {kind: cycle_coloring}\n"
	"objective: {variant: q_R, q: {interp: step, points: [[0, 1], "
	"[10, 10]]}, seeds: 3, inputs: 8}\n",
	"run: {generations: 50, seed: 9}\n"
	"task: {kind: associative_recall, num_tokens: 12}\n"
	"objective: {variant: q_r0}\n"
	"es: {optimizer: sgd, momentum: 0.5}\n",
	"run: {generations: 50, name: grid}\ntask: {kind: gridworld}\n"
	"es: {strategy: pgpe, optimizer: clipup, max_speed: 0.1}\n",
	"run: {generations: 50, checkpoint_every: 7}\n"
	"task: {kind: sphere, dim: 10}\n"
	"es: {sigma: {interp: linear, points: [[0, 0.1], [100, 0.01]]}}\n"
	"eval: {majority: [1, 3]}\n",
};
#define FUZZ_SET_N_BASES (sizeof(fuzz_set_bases) / sizeof(fuzz_set_bases[0]))
#define FUZZ_SET_MAX_INPUT 4096

struct fuzz_set_base {
	const char *text; /* the base file */
	struct config cfg;
	char *yaml;       /* config_to_yaml(&cfg): every key explicit */
};

static struct fuzz_set_base fuzz_set_loaded[FUZZ_SET_N_BASES];
static int fuzz_set_ready;

static void fuzz_set_init(void)
{
	char err[RANDES_ERR_LEN];

	for (size_t i = 0; i < FUZZ_SET_N_BASES; i++) {
		struct fuzz_set_base *b = &fuzz_set_loaded[i];
		const char *y = fuzz_set_bases[i];
		b->text = y;
		if (config_load_string(&b->cfg, y, strlen(y), "base.yaml", NULL,
				       0, err) != 0)
			fuzz_fail("set", "base %zu does not load: %s", i, err);
		b->yaml = config_to_yaml(&b->cfg);
		if (!b->yaml)
			fuzz_fail("set", "out of memory");
	}
	fuzz_set_ready = 1;
}

/* A refusal: class config, a message naming the override (with
 * config_load_string a cross-field error may instead point at the key in
 * the base file: "base.yaml:LINE:COL: ..."). */
static void fuzz_set_check_refusal(int rc, const char *how, const char *err,
				   int file_ok)
{
	if (rc != RANDES_ECONFIG && rc != RANDES_ENOMEM)
		fuzz_fail("set", "%s refused with class %d (%s), expected "
				 "config",
			  how, rc, randes_err_name(rc));
	fuzz_check_message("set", how, err);
	if (rc == RANDES_ECONFIG && strncmp(err, "--set ", 6) != 0 &&
	    !(file_ok && strncmp(err, "base.yaml:", 10) == 0))
		fuzz_fail("set", "%s: the message does not name the "
				 "override: %s",
			  how, err);
}

static void fuzz_set_on_base(const struct fuzz_set_base *b, const char *s)
{
	static struct config a, l;
	char err[RANDES_ERR_LEN];
	const char *ov[1] = {s};
	char *ya = NULL, *yl = NULL;
	int ra, rl;

	a = b->cfg;
	memset(err, FUZZ_ERR_FILL, sizeof(err));
	ra = config_apply_override(&a, s, err);
	if (ra != 0) {
		fuzz_set_check_refusal(ra, "config_apply_override", err, 0);
		ya = config_to_yaml(&a);
		if (ya && strcmp(ya, b->yaml) != 0)
			fuzz_fail("set", "a refused override changed the "
					 "config: '%s'",
				  s);
	} else {
		fuzz_config_roundtrip("set", &a);
		ya = config_to_yaml(&a);
	}

	memset(err, FUZZ_ERR_FILL, sizeof(err));
	rl = config_load_string(&l, b->text, strlen(b->text), "base.yaml", ov,
				1, err);
	if (rl != 0) {
		fuzz_set_check_refusal(rl, "config_load_string", err, 1);
	} else {
		/* The round trip of A covers B when both give the same YAML
		 * (checked below). */
		yl = config_to_yaml(&l);
	}

	/* A switch of task.kind (by A or by B) changes B's presets. */
	if ((ra == 0 && a.task.kind != b->cfg.task.kind) ||
	    (rl == 0 && l.task.kind != b->cfg.task.kind)) {
		free(ya);
		free(yl);
		return;
	}
	if ((ra == 0) != (rl == 0))
		fuzz_fail("set", "'%s': config_apply_override %s it but "
				 "config_load_string %s it",
			  s, ra == 0 ? "accepts" : "refuses",
			  rl == 0 ? "accepts" : "refuses");
	if (ra == 0 && ya && yl && strcmp(ya, yl) != 0)
		fuzz_fail("set", "'%s': the two ways give different "
				 "configs\n--- apply_override\n%s--- "
				 "load_string\n%s",
			  s, ya, yl);
	free(ya);
	free(yl);
}

int fuzz_set_one(const uint8_t *data, size_t size)
{
	char s[FUZZ_SET_MAX_INPUT + 1];

	if (size > FUZZ_SET_MAX_INPUT)
		return 0;
	if (!fuzz_set_ready)
		fuzz_set_init();
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t i = 0; i < FUZZ_SET_N_BASES; i++)
		fuzz_set_on_base(&fuzz_set_loaded[i], s);
	return 0;
}

FUZZ_ENTRY(fuzz_set_one)
