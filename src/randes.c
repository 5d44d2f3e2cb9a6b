/*
 * randes: the command line.
 *
 *   randes train CONFIG [--run-dir DIR] [--set key.path=value]... [--resume]
 *   randes eval RUN_DIR [--seeds K] [--out FILE]
 *   randes export RUN_DIR --out FILE
 *   randes sweep SWEEP.yaml [--run-root DIR] [--ranks-per-run N] [--no-regroup] [--only INDEX | --list | --summarize]
 *   randes sweep [SWEEP.yaml] --watch DIR [--run-root DIR] [--ranks-per-run N]
 *   randes check-config CONFIG [--set key.path=value]...
 *   randes --help | -h | help [COMMAND] | COMMAND --help | --version
 *
 * Each subcommand is one function cmd_NAME(argc, argv) with its own option
 * parsing and help text; argv[0] is the subcommand's name.  Errors map to
 * exit codes only through randes_err_exit_code() (docs/cli.md): 0 success,
 * 2 bad usage or config, 3 I/O or data, 4 worker or MPI.  Usage errors name
 * the problem and point at the command's --help.
 *
 * train and eval run under MPI (mpirun/srun, or alone as one rank): MPI is
 * initialised only after the command line and the config have been
 * checked, so a bad invocation never starts a job.  check-config and export
 * never touch MPI.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/blas.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "master/eval_cmd.h"
#include "master/rundir.h"
#include "master/signals.h"
#include "master/sweep.h"
#include "master/train.h"
#include "randes_version.h"
#include "worker/comm.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help; /* printed by `randes help NAME` and NAME --help */
};

static const struct command *command_find(const char *name);
static void print_usage(FILE *out);

/* "randes CMD: message" + a pointer to the help, on stderr; returns 2. */
static int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "randes%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'randes %s%s'.\n", cmd ? cmd : "",
		cmd ? " --help" : "--help");
	return randes_err_exit_code(RANDES_EUSAGE);
}

/*
 * Option scanning shared by the subcommands.  `--name VALUE` and
 * `--name=VALUE` both work; `--` ends the options.
 */
struct opts {
	const char *cmd;
	int argc;
	char **argv;
	int i;           /* index of the argument being looked at */
	int only_pos;    /* after "--": everything is positional */
};

/* 1 if argv[i] is option `name` taking a value (stored in *value, i
 * advanced past it); 0 if it is not this option; -1 (error printed) if the
 * value is missing. */
static int opt_value(struct opts *o, const char *name, const char **value)
{
	const char *a = o->argv[o->i];
	size_t n = strlen(name);

	if (o->only_pos || strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*value = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (o->i + 1 >= o->argc) {
		usage_error(o->cmd, "option '%s' needs a value", name);
		return -1;
	}
	o->i++;
	*value = o->argv[o->i];
	return 1;
}

/* 1 if argv[i] is the flag `name`; -1 (error printed) for `name=...`. */
static int opt_flag(struct opts *o, const char *name)
{
	const char *a = o->argv[o->i];
	size_t n = strlen(name);

	if (o->only_pos || strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		usage_error(o->cmd, "option '%s' takes no value", name);
		return -1;
	}
	return a[n] == '\0';
}

/* Strict positive integer for --seeds: digits only, 1..UINT32_MAX. */
static int parse_count(const char *s, uint32_t *out)
{
	unsigned long long v = 0;

	if (!*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (v == 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Prints a refused config; the message already names file:line:col. */
static int report_config_error(const char *cmd, int rc, const char *err)
{
	fprintf(stderr, "%s\n", err);
	if (rc == RANDES_ECONFIG)
		fprintf(stderr,
			"randes %s: config refused; docs/config.md lists "
			"every key, its type and its range\n",
			cmd);
	return randes_err_exit_code(rc);
}

static int help_requested(struct opts *o)
{
	const char *a = o->argv[o->i];

	return !o->only_pos && (strcmp(a, "--help") == 0 ||
				strcmp(a, "-h") == 0);
}

static int print_command_help(const char *name)
{
	const struct command *c = command_find(name);

	fputs(c->help, stdout);
	return 0;
}

/* ------------------------------------------------------------------------ */

static const char help_train[] =
	"Usage: randes train CONFIG [--run-dir DIR] [--set key.path=value]... "
	"[--resume]\n"
	"\n"
	"Trains the model of CONFIG by evolution strategies.  Launch it under\n"
	"mpirun or srun; every rank evaluates perturbations, rank 0 also\n"
	"updates and writes the run directory.\n"
	"\n"
	"  --run-dir DIR          where to write (default runs/<run.name>)\n"
	"  --set key.path=value   override a config key (repeatable; the value\n"
	"                         is YAML: --set eval.majority=[1,3])\n"
	"  --resume               continue from the run directory's checkpoint\n"
	"                         (starts fresh if it holds none yet; a changed\n"
	"                         config keeps the old one as config.g<G>.yaml)\n"
	"  -h, --help             show this help\n"
	"\n"
	"Writes DIR/config.yaml, metrics.jsonl (one line per generation),\n"
	"checkpoint.bin (every run.checkpoint_every generations, at the end and\n"
	"on a stop), model.safetensors (the theta average with es.theta_ema),\n"
	"models/model-g<G>.safetensors (every run.model_every generations)\n"
	"and eval.json.  SIGTERM, SIGINT, SIGUSR1 or SIGUSR2 on any rank:\n"
	"finish the generation, checkpoint, exit 0; a second signal exits at\n"
	"once (128 + signal).  Under mpirun send SIGUSR1 (mpirun forwards it;\n"
	"SIGTERM to mpirun kills the ranks).\n"
	"Example: mpirun -np 2 randes train configs/default.yaml\n";

/*
 * Starts MPI for a command that has passed every local check.  Returns 0,
 * or the exit code to leave with.
 */
static int start_mpi(struct comm *comm, int *argc, char ***argv)
{
	char err[RANDES_ERR_LEN];
	int rc;

	/* Before MPI starts: a stop signal during start-up is a request to
	 * stop, not a kill (and once more after, in case MPI_Init installed
	 * handlers of its own). */
	signals_install();
	rc = comm_init_world(comm, argc, argv, err);

	if (rc) {
		fprintf(stderr, "randes: %s\n", err);
		return randes_err_exit_code(rc);
	}
	log_init(comm->rank, comm->rank == 0 ? "master" : "worker");
	signals_install();
	return 0;
}

/* Ends the program after an MPI command: the same exit code on every rank
 * (they agreed on rc), the message once, from the rank that has it. */
static int finish_mpi(struct comm *comm, const char *cmd, int rc,
		      const char *err)
{
	if (rc && err && err[0])
		log_msg(LOG_ERROR, "%s: %s", cmd, err);
	comm_finalize();
	return randes_err_exit_code(rc);
}

static int run_train(const struct config *cfg, const char *run_dir,
		     int resume)
{
	struct comm comm;
	struct train_options topt;
	struct train_result res;
	char dir[RUNDIR_PATH_MAX], err[RANDES_ERR_LEN] = "";
	int argc = 0, rc;
	char **argv = NULL;

	if (run_dir)
		snprintf(dir, sizeof(dir), "%s", run_dir);
	else
		rundir_default(cfg, dir, sizeof(dir));
	rc = start_mpi(&comm, &argc, &argv);
	if (rc)
		return rc;
	memset(&topt, 0, sizeof(topt));
	topt.run_dir = dir;
	topt.resume = resume;
	rc = train_run(&comm, cfg, &topt, &res, err);
	if (rc == 0 && comm.rank == 0)
		log_msg(LOG_INFO, "%s after %llu generations: %s",
			res.stopped ? "stopped" : "finished",
			(unsigned long long)res.generation, dir);
	return finish_mpi(&comm, "train", rc, err);
}

static int cmd_train(int argc, char **argv)
{
	struct opts o = {.cmd = "train", .argc = argc, .argv = argv};
	const char *config = NULL, *run_dir = NULL, *v;
	const char **sets = calloc((size_t)argc, sizeof(*sets));
	size_t n_sets = 0;
	int resume = 0, rc, r;
	struct config cfg;
	char err[RANDES_ERR_LEN];

	if (!sets)
		return randes_err_exit_code(RANDES_ENOMEM);
	for (o.i = 1; o.i < argc; o.i++) {
		const char *a = argv[o.i];
		if (help_requested(&o)) {
			free(sets);
			return print_command_help("train");
		}
		if (!o.only_pos && strcmp(a, "--") == 0) {
			o.only_pos = 1;
		} else if ((r = opt_value(&o, "--run-dir", &run_dir)) != 0) {
			if (r < 0)
				goto usage;
		} else if ((r = opt_value(&o, "--set", &v)) != 0) {
			if (r < 0)
				goto usage;
			sets[n_sets++] = v;
		} else if ((r = opt_flag(&o, "--resume")) != 0) {
			if (r < 0)
				goto usage;
			resume = 1;
		} else if (!o.only_pos && a[0] == '-' && a[1] != '\0') {
			usage_error("train", "unknown option '%s'", a);
			goto usage;
		} else if (!config) {
			config = a;
		} else {
			usage_error("train", "unexpected argument '%s'", a);
			goto usage;
		}
	}
	if (!config) {
		usage_error("train", "missing the CONFIG argument");
		goto usage;
	}

	/* A bad config is refused now, before anything else. */
	rc = config_load_file(&cfg, config, sets, n_sets, err);
	free(sets);
	if (rc)
		return report_config_error("train", rc, err);
	return run_train(&cfg, run_dir, resume);
usage:
	free(sets);
	return randes_err_exit_code(RANDES_EUSAGE);
}

static const char help_check_config[] =
	"Usage: randes check-config CONFIG [--set key.path=value]...\n"
	"\n"
	"Loads CONFIG strictly, applies the overrides, and prints the resolved\n"
	"config (every key, defaults included) as YAML on stdout.  The output\n"
	"loads back to the same config.  A bad config is reported on stderr as\n"
	"FILE:LINE:COL: key.path: expected ..., got '...' with exit code 2.\n"
	"\n"
	"  --set key.path=value   override a config key (repeatable)\n"
	"  -h, --help             show this help\n";

static int cmd_check_config(int argc, char **argv)
{
	struct opts o = {.cmd = "check-config", .argc = argc, .argv = argv};
	const char *config = NULL, *v;
	const char **sets = calloc((size_t)argc, sizeof(*sets));
	size_t n_sets = 0;
	int rc, r;
	struct config cfg;
	char err[RANDES_ERR_LEN];

	if (!sets)
		return randes_err_exit_code(RANDES_ENOMEM);
	for (o.i = 1; o.i < argc; o.i++) {
		const char *a = argv[o.i];
		if (help_requested(&o)) {
			free(sets);
			return print_command_help("check-config");
		}
		if (!o.only_pos && strcmp(a, "--") == 0) {
			o.only_pos = 1;
		} else if ((r = opt_value(&o, "--set", &v)) != 0) {
			if (r < 0)
				goto usage;
			sets[n_sets++] = v;
		} else if (!o.only_pos && a[0] == '-' && a[1] != '\0') {
			usage_error("check-config", "unknown option '%s'", a);
			goto usage;
		} else if (!config) {
			config = a;
		} else {
			usage_error("check-config", "unexpected argument '%s'",
				    a);
			goto usage;
		}
	}
	if (!config) {
		usage_error("check-config", "missing the CONFIG argument");
		goto usage;
	}
	rc = config_load_file(&cfg, config, sets, n_sets, err);
	free(sets);
	if (rc)
		return report_config_error("check-config", rc, err);
	rc = config_write_yaml(&cfg, stdout);
	if (rc) {
		fprintf(stderr, "randes check-config: cannot write to stdout\n");
		return randes_err_exit_code(rc);
	}
	return 0;
usage:
	free(sets);
	return randes_err_exit_code(RANDES_EUSAGE);
}

static const char help_eval[] =
	"Usage: randes eval RUN_DIR|MODEL.safetensors [--seeds K] [--out FILE]\n"
	"                   [--per-input FILE] [--dump FILE]\n"
	"                   [--set eval.key=value]...\n"
	"\n"
	"Runs the evaluation protocol (average, 5th percentile, worst case,\n"
	"majority votes, sampled success, predictive variance; also the seed\n"
	"disagreement) on the trained model of RUN_DIR, or on a model written\n"
	"by `randes export`.\n"
	"\n"
	"  --seeds K     evaluation seeds per input (default: eval.seeds)\n"
	"  --out FILE    where to write the JSON (default RUN_DIR/eval.json,\n"
	"                or MODEL.safetensors.eval.json)\n"
	"  --per-input FILE\n"
	"                also write one CSV row per input: its success, loss,\n"
	"                majorities and predictive variance (docs/formats.md)\n"
	"  --dump FILE   also write the exact model inputs and logits of the\n"
	"                first 256 inputs and 4 seeds as safetensors\n"
	"  --set k=v     override an evaluation key (eval.*, task.eval_*),\n"
	"                e.g. --set eval.max_inputs=0 for the full set\n"
	"  -h, --help    show this help\n"
	"\n"
	"Runs under mpirun too: the evaluation inputs are split over the ranks\n"
	"and the figures do not depend on their number.  Prints the table on\n"
	"stdout.  docs/tasks.md defines every figure.\n";

static int cmd_eval_with(int argc, char **argv, const char **sets)
{
	struct opts o = {.cmd = "eval", .argc = argc, .argv = argv};
	const char *run_dir = NULL, *out = NULL, *seeds_arg = NULL;
	const char *dump = NULL, *per_input = NULL, *v;
	size_t n_sets = 0;
	uint32_t seeds = 0;
	int r;

	for (o.i = 1; o.i < argc; o.i++) {
		const char *a = argv[o.i];
		if (help_requested(&o))
			return print_command_help("eval");
		if (!o.only_pos && strcmp(a, "--") == 0)
			o.only_pos = 1;
		else if ((r = opt_value(&o, "--seeds", &seeds_arg)) != 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
			if (parse_count(seeds_arg, &seeds) != 0)
				return usage_error("eval",
						   "--seeds expects an integer "
						   ">= 1, got '%s'",
						   seeds_arg);
		} else if ((r = opt_value(&o, "--out", &out)) != 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
		} else if ((r = opt_value(&o, "--dump", &dump)) != 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
		} else if ((r = opt_value(&o, "--per-input", &per_input)) !=
			   0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
		} else if ((r = opt_value(&o, "--set", &v)) != 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
			sets[n_sets++] = v;
		} else if (!o.only_pos && a[0] == '-' && a[1] != '\0')
			return usage_error("eval", "unknown option '%s'", a);
		else if (!run_dir)
			run_dir = a;
		else
			return usage_error("eval", "unexpected argument '%s'",
					   a);
	}
	if (!run_dir)
		return usage_error("eval", "missing the RUN_DIR argument");
	{
		struct comm comm;
		struct eval_options eo;
		char err[RANDES_ERR_LEN] = "";
		int rc, margc = 0;
		char **margv = NULL;

		rc = start_mpi(&comm, &margc, &margv);
		if (rc)
			return rc;
		memset(&eo, 0, sizeof(eo));
		eo.seeds = seeds;
		eo.out = out;
		eo.dump = dump;
		eo.per_input = per_input;
		eo.sets = sets;
		eo.n_sets = n_sets;
		rc = eval_command(&comm, run_dir, &eo, err);
		return finish_mpi(&comm, "eval", rc, err);
	}
}

/* cmd_eval_with owns no memory; the --set list lives here. */
static int cmd_eval(int argc, char **argv)
{
	const char **sets = calloc((size_t)argc, sizeof(*sets));
	int rc;

	if (!sets)
		return randes_err_exit_code(RANDES_ENOMEM);
	rc = cmd_eval_with(argc, argv, sets);
	free(sets);
	return rc;
}

static const char help_export[] =
	"Usage: randes export RUN_DIR --out FILE\n"
	"\n"
	"Writes the model of RUN_DIR's newest checkpoint as safetensors\n"
	"(tensor names in docs/model.md; run seed and r0 in the metadata),\n"
	"the same file training writes as RUN_DIR/model.safetensors at the\n"
	"end.  Works on a run that is still training or was stopped.\n"
	"\n"
	"  --out FILE    the .safetensors file to write (required)\n"
	"  -h, --help    show this help\n"
	"\n"
	"Exit 3 if the run cannot be read or FILE cannot be written.\n";

static int cmd_export(int argc, char **argv)
{
	struct opts o = {.cmd = "export", .argc = argc, .argv = argv};
	const char *run_dir = NULL, *out = NULL;
	int r;

	for (o.i = 1; o.i < argc; o.i++) {
		const char *a = argv[o.i];
		if (help_requested(&o))
			return print_command_help("export");
		if (!o.only_pos && strcmp(a, "--") == 0)
			o.only_pos = 1;
		else if ((r = opt_value(&o, "--out", &out)) != 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
		} else if (!o.only_pos && a[0] == '-' && a[1] != '\0')
			return usage_error("export", "unknown option '%s'", a);
		else if (!run_dir)
			run_dir = a;
		else
			return usage_error("export",
					   "unexpected argument '%s'", a);
	}
	if (!run_dir)
		return usage_error("export", "missing the RUN_DIR argument");
	if (!out || !*out)
		return usage_error("export", "missing the --out FILE option");
	{
		char err[RANDES_ERR_LEN] = "";
		int rc = export_command(run_dir, out, err);
		if (rc)
			fprintf(stderr, "randes export: %s\n", err);
		return randes_err_exit_code(rc);
	}
}

static const char help_sweep[] =
	"Usage: randes sweep SWEEP.yaml [--run-root DIR] [--ranks-per-run N] "
	"[--no-regroup]\n"
	"                   [--only INDEX | --list | --summarize]\n"
	"       randes sweep [SWEEP.yaml] --watch DIR [--run-root DIR] "
	"[--ranks-per-run N]\n"
	"\n"
	"Trains a grid of runs (SWEEP.yaml: a base config, overrides, a grid\n"
	"of key.path: [values] and/or a list of runs; docs/sweep.md) in\n"
	"RUN_ROOT/<sweep name>/<run name>, evaluates each, and writes\n"
	"RUN_ROOT/<sweep name>/summary.csv.  Every run is validated before\n"
	"anything is written.  Launch it under mpirun or srun: the ranks form\n"
	"groups of ranks_per_run that train runs side by side, each group\n"
	"claiming runs through their run-directory locks (so job arrays and\n"
	"several allocations can share a sweep).  Run again, it skips finished\n"
	"runs and resumes interrupted ones.  When a group finds no run left\n"
	"while others still train, the training groups give their runs back\n"
	"after the current generation (a checkpoint) and the ranks regroup:\n"
	"one group per run, each resuming its run with more ranks (the same\n"
	"results; not with --watch or --only).\n"
	"\n"
	"  --run-root DIR      parent of the sweep and of watched runs\n"
	"                      (default runs)\n"
	"  --only INDEX        train only run INDEX (0-based, as --list numbers\n"
	"                      them) on all ranks: one job-array task per run\n"
	"  --list              print INDEX, NAME and STATUS of each run; exit\n"
	"  --summarize         only (re)write summary.csv from what is on disk\n"
	"  --watch DIR         stay up as a daemon: configs dropped into DIR\n"
	"                      (as NAME.yaml: write elsewhere, then rename) are\n"
	"                      validated, queued and trained in RUN_ROOT/NAME\n"
	"                      (after the sweep's own runs) until a signal\n"
	"  --ranks-per-run N   ranks per group (default: the sweep's\n"
	"                      ranks_per_run, else 1)\n"
	"  --no-regroup        idle groups wait for the last runs instead\n"
	"  -h, --help          show this help\n"
	"\n"
	"SIGTERM, SIGINT, SIGUSR1 or SIGUSR2 (to every rank: mpirun and srun\n"
	"forward them): each group checkpoints its run and stops, no new run\n"
	"starts, exit 0; the same command continues.  --list and --summarize\n"
	"use no MPI.  Exit codes: 0, 2 bad usage or sweep (or a run's config,\n"
	"or a busy --only run), 3 I/O or data, 4 MPI; with failed runs, the\n"
	"worst of them after the other runs are done.\n"
	"Example: mpirun -np 4 randes sweep configs/sweeps/cc-variants.yaml\n";

static int cmd_sweep(int argc, char **argv)
{
	struct opts o = {.cmd = "sweep", .argc = argc, .argv = argv};
	const char *sweep = NULL, *root = NULL, *only_arg = NULL;
	const char *watch = NULL, *rpr_arg = NULL;
	int list = 0, summarize = 0, r, rc;
	struct sweep_options so;
	struct sweep_plan plan;
	char err[RANDES_ERR_LEN] = "";

	memset(&so, 0, sizeof(so));
	for (o.i = 1; o.i < argc; o.i++) {
		const char *a = argv[o.i];
		if (help_requested(&o))
			return print_command_help("sweep");
		if (!o.only_pos && strcmp(a, "--") == 0)
			o.only_pos = 1;
		else if ((r = opt_value(&o, "--run-root", &root)) != 0 ||
			 (r = opt_value(&o, "--only", &only_arg)) != 0 ||
			 (r = opt_value(&o, "--watch", &watch)) != 0 ||
			 (r = opt_value(&o, "--ranks-per-run", &rpr_arg)) !=
				 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
		} else if ((r = opt_flag(&o, "--list")) != 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
			list = 1;
		} else if ((r = opt_flag(&o, "--summarize")) != 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
			summarize = 1;
		} else if ((r = opt_flag(&o, "--no-regroup")) != 0) {
			if (r < 0)
				return randes_err_exit_code(RANDES_EUSAGE);
			so.no_regroup = 1;
		} else if (!o.only_pos && a[0] == '-' && a[1] != '\0')
			return usage_error("sweep", "unknown option '%s'", a);
		else if (!sweep)
			sweep = a;
		else
			return usage_error("sweep", "unexpected argument '%s'",
					   a);
	}
	if (!sweep && !watch)
		return usage_error("sweep", "missing the SWEEP.yaml argument");
	if (only_arg && (list || summarize || watch))
		return usage_error("sweep", "--only cannot be combined with "
					    "--list, --summarize or --watch");
	if (list + summarize + (watch != NULL) > 1)
		return usage_error("sweep", "choose one of --list, --summarize "
					    "and --watch");
	if ((root && !*root) || (watch && !*watch))
		return usage_error("sweep", "--run-root and --watch need a "
					    "directory");
	if (only_arg) {
		/* A 0-based index: digits only. */
		unsigned long long v = 0;
		const char *p = only_arg;
		for (; *p >= '0' && *p <= '9' && v <= SWEEP_MAX_RUNS; p++)
			v = v * 10 + (unsigned long long)(*p - '0');
		if (!*only_arg || *p)
			return usage_error("sweep", "--only expects a run "
						    "index >= 0, got '%s'",
					   only_arg);
		so.only = 1;
		so.only_index = (size_t)v;
	}
	if (rpr_arg) {
		uint32_t v;
		if (parse_count(rpr_arg, &v) != 0 || v > 65536)
			return usage_error("sweep", "--ranks-per-run expects "
						    "an integer in [1, 65536], "
						    "got '%s'",
					   rpr_arg);
		so.ranks_per_run = v;
	}
	so.run_root = root;
	so.watch_dir = watch;

	/* The whole sweep is expanded and validated before MPI starts. */
	sweep_plan_init(&plan);
	if (sweep) {
		rc = sweep_plan_load(&plan, sweep, err);
		if (rc) {
			fprintf(stderr, "%s\n", err);
			if (rc == RANDES_ECONFIG)
				fprintf(stderr,
					"randes sweep: sweep refused; "
					"docs/sweep.md describes the sweep "
					"file, docs/config.md every key\n");
			return randes_err_exit_code(rc);
		}
		if (so.only && so.only_index >= plan.n_runs) {
			rc = usage_error("sweep",
					 "--only %s: the sweep has runs 0..%zu",
					 only_arg, plan.n_runs - 1);
			sweep_plan_free(&plan);
			return rc;
		}
	}
	if (list || summarize) {
		char path[RUNDIR_PATH_MAX];
		rc = list ? sweep_list(&plan, root, stdout, err)
			  : sweep_summarize(&plan, root, path, err);
		if (rc)
			fprintf(stderr, "randes sweep: %s\n", err);
		else if (summarize)
			printf("%s\n", path);
		sweep_plan_free(&plan);
		return randes_err_exit_code(rc);
	}
	{
		struct comm comm;
		int margc = 0;
		char **margv = NULL;

		rc = start_mpi(&comm, &margc, &margv);
		if (rc) {
			sweep_plan_free(&plan);
			return rc;
		}
		rc = sweep_execute(&comm, sweep ? &plan : NULL, &so, err);
		sweep_plan_free(&plan);
		return finish_mpi(&comm, "sweep", rc, err);
	}
}

static const char help_help[] =
	"Usage: randes help [COMMAND]\n"
	"\n"
	"Shows the overview, or the help of COMMAND.\n";

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stdout);
		return 0;
	}
	if (argc > 2)
		return usage_error("help", "unexpected argument '%s'", argv[2]);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return print_command_help("help");
	if (!command_find(argv[1]))
		return usage_error("help", "unknown command '%s'", argv[1]);
	return print_command_help(argv[1]);
}

static const struct command commands[] = {
	{"train", cmd_train, help_train},
	{"eval", cmd_eval, help_eval},
	{"export", cmd_export, help_export},
	{"sweep", cmd_sweep, help_sweep},
	{"check-config", cmd_check_config, help_check_config},
	{"help", cmd_help, help_help},
};

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_usage(FILE *out)
{
	fputs("Usage: randes COMMAND [ARGS]...\n"
	      "\n"
	      "Trains small transformers by evolution strategies over MPI to\n"
	      "become randomized algorithms (von Oswald et al., ICLR 2025).\n"
	      "\n"
	      "Commands:\n"
	      "  train CONFIG          train a model (under mpirun or srun)\n"
	      "  eval RUN_DIR          run the evaluation protocol on a run\n"
	      "  export RUN_DIR        write a run's model as safetensors\n"
	      "  sweep SWEEP.yaml      run a grid of trainings, summarize them\n"
	      "  check-config CONFIG   validate a config, print it resolved\n"
	      "  help [COMMAND]        show this overview or a command's help\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help            show this help\n"
	      "  --version             print the version\n"
	      "\n"
	      "Environment: RANDES_LOG_LEVEL=debug|info|warn|error,\n"
	      "RANDES_ISA=generic|avx2|avx512 (force the kernels' instruction\n"
	      "set; the same bits on each), RANDES_FAULT=N:ERRNAME (tests).\n"
	      "\n"
	      "Exit codes: 0 success, 2 bad usage or config, 3 I/O or data\n"
	      "error, 4 worker or MPI failure (docs/cli.md).\n",
	      out);
}

int main(int argc, char **argv)
{
	const struct command *c;
	char ferr[RANDES_ERR_LEN];

	/* Testing aid (docs/reliability.md): RANDES_FAULT=N:ERRNAME makes
	 * the N-th file-system write, fsync, rename, ... of this process
	 * fail, so end-to-end tests can hit a checkpoint save or a metrics
	 * append deterministically.  Unset in normal use. */
	if (fsutil_fault_from_env(ferr) != 0) {
		fprintf(stderr, "randes: %s\n", ferr);
		return randes_err_exit_code(RANDES_EUSAGE);
	}
	/* RANDES_ISA=generic|avx2|avx512: the kernels another CPU would
	 * use (docs/performance.md); unset in normal use. */
	if (blas_isa_from_env(ferr) != 0) {
		fprintf(stderr, "randes: %s\n", ferr);
		return randes_err_exit_code(RANDES_EUSAGE);
	}

	if (argc < 2) {
		print_usage(stderr);
		return randes_err_exit_code(RANDES_EUSAGE);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("randes %s\n", RANDES_VERSION);
		return 0;
	}
	if (argv[1][0] == '-')
		return usage_error(NULL, "unknown option '%s'", argv[1]);
	c = command_find(argv[1]);
	if (!c)
		return usage_error(NULL, "unknown command '%s'", argv[1]);
	return c->run(argc - 1, argv + 1);
}
