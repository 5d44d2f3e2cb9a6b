/*
 * sweep: `randes sweep` — a grid of training runs inside one MPI
 * allocation, their summary, and the standing optimizer daemon (--watch).
 *
 * A sweep file (docs/sweep.md) names a base config, common overrides, a
 * grid of `key.path: [values...]` (cartesian product) and/or an explicit
 * list of runs (crossed with the grid).  sweep_plan_load() expands it into
 * runs with stable indices and names and validates every run's config
 * before anything is trained or written.
 *
 * Scheduling needs no central server: the ranks are split into groups of
 * ranks_per_run (MPI_Comm_split); each group leader walks the run list and
 * claims a run by taking its run-directory lock (fsutil lock), so the same
 * mechanism keeps separate jobs (job arrays, several allocations) apart.
 * Finished runs are skipped, interrupted ones resumed; train_run() trains,
 * exports and evaluates.  World rank 0 writes SWEEP_ROOT/summary.csv when
 * every group is done.
 *
 * With --watch DIR the groups also poll DIR for dropped configs: bad ones
 * go to DIR/rejected/ (with NAME.err), good ones to DIR/queue/, trained by
 * the next free group, then moved to DIR/done/ (or DIR/failed/ + NAME.err).
 *
 * Parsing, listing and summarising use no MPI; sweep_execute() is the only
 * collective call.  Signals (signals.h) stop every group cleanly.
 */
#ifndef RANDES_SWEEP_H
#define RANDES_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "worker/comm.h"

/* Longest run name (a directory name) and sweep name. */
#define SWEEP_NAME_MAX 200
/* Most runs a sweep may expand to. */
#define SWEEP_MAX_RUNS 100000u
/* The default parent of sweep roots and watched runs. */
#define SWEEP_DEFAULT_RUN_ROOT "runs"

/* One expanded run. */
struct sweep_run {
	char name[SWEEP_NAME_MAX + 1]; /* directory name under the root   */
	char **overrides;     /* "key.path=value", in the order applied   */
	size_t n_overrides;
	char **swept;         /* (n_swept): value text per swept key, or
				 NULL where this run does not set it      */
	struct config cfg;    /* the validated config                     */
};

/* A loaded, expanded and validated sweep. */
struct sweep_plan {
	char *path;           /* the sweep file as given                  */
	char *text;           /* its bytes (NUL-terminated), for the copy */
	size_t text_len;
	char name[SWEEP_NAME_MAX + 1];
	char *base;           /* the base config path, resolved           */
	char *description;    /* free text, or NULL                       */
	uint32_t ranks_per_run;
	char **swept_keys;    /* (n_swept): run keys, then grid keys      */
	size_t n_swept;
	struct sweep_run *runs;
	size_t n_runs;
};

/* What the status of one run is, as seen on disk. */
enum sweep_status {
	SWEEP_STATUS_PENDING = 0, /* no checkpoint yet                    */
	SWEEP_STATUS_PARTIAL = 1, /* a checkpoint short of run.generations */
	SWEEP_STATUS_TRAINED = 2, /* trained, eval.json missing           */
	SWEEP_STATUS_DONE = 3,    /* trained and evaluated                */
	SWEEP_STATUS_INVALID = 4, /* unreadable checkpoint or another config */
};

struct sweep_options {
	const char *run_root;     /* NULL: SWEEP_DEFAULT_RUN_ROOT           */
	int only;                 /* run exactly run only_index             */
	size_t only_index;
	uint32_t ranks_per_run;   /* 0: the plan's (1 without a plan)       */
	const char *watch_dir;    /* NULL: no daemon                        */
	int no_regroup;           /* idle groups never take over runs       */
};

/* Zeroes *plan (safe to free). */
void sweep_plan_init(struct sweep_plan *plan);

/*
 * Reads, parses (strictly: unknown keys, duplicates and wrong types are
 * errors "FILE:LINE:COL: key: expected ..., got ...") and expands the sweep
 * file at path, then validates every run (config_load_file of the base
 * with the run's overrides, and the task's sizes).  Returns 0; RANDES_EIO
 * if the file cannot be read; RANDES_ECONFIG naming the file position and
 * the run for anything else; RANDES_ENOMEM.  Writes nothing.  On failure
 * *plan is freed and zeroed.
 */
int sweep_plan_load(struct sweep_plan *plan, const char *path, char *err);

/* Frees everything the plan owns and zeroes it. */
void sweep_plan_free(struct sweep_plan *plan);

/* RUN_ROOT/<sweep name> into out (len bytes); RANDES_EUSAGE if too long. */
int sweep_root_path(const struct sweep_plan *plan, const char *run_root,
		    char *out, size_t len, char *err);

/*
 * The status of a run directory for a run whose config is cfg, without
 * taking its lock.  *generation (may be NULL) receives the checkpoint's
 * generation (0 without one); note (RANDES_ERR_LEN, may be NULL) says why
 * a run is INVALID.
 */
enum sweep_status sweep_status_of(const char *run_dir,
				  const struct config *cfg,
				  uint64_t *generation, char *note);

/* "pending", "partial", ... */
const char *sweep_status_name(enum sweep_status s);

/*
 * Prints one line per run: "INDEX<TAB>NAME<TAB>STATUS" (status on disk
 * under run_root; "running" when a process holds the run's lock).
 * Returns 0 or RANDES_EIO if out fails.
 */
int sweep_list(const struct sweep_plan *plan, const char *run_root,
	       FILE *out, char *err);

/*
 * (Re)writes SWEEP_ROOT/summary.csv from what is on disk (atomically), one
 * row per run in index order; docs/sweep.md lists the columns.  Creates no
 * run directory.  *path_out (may be NULL, RUNDIR_PATH_MAX bytes) receives the
 * file's path.  Returns 0 or RANDES_EIO/RANDES_ENOMEM/RANDES_EUSAGE.
 */
int sweep_summarize(const struct sweep_plan *plan, const char *run_root,
		    char *path_out, char *err);

/*
 * The sweep (plan may be NULL with o->watch_dir) on every rank of world
 * (collective; every rank passes an identical plan and options).  Splits
 * the ranks into groups, trains the runs (o->only: exactly run only_index,
 * on all ranks), runs the watch daemon, stops cleanly on a signal, and
 * writes summary.csv on rank 0 (not with o->only).  Returns 0 (also after
 * a clean stop, and when some runs are busy in another process) or the
 * most severe error of any run or rank, the same on every rank; rank 0's
 * err holds a message.
 */
int sweep_execute(struct comm *world, const struct sweep_plan *plan,
		  const struct sweep_options *o, char *err);

/*
 * Validates a config file dropped into a watched directory (config_load_file
 * and the task's sizes).  Returns 0, or the loader's error with its message.
 */
int sweep_watch_validate(const char *path, struct config *cfg, char *err);

#endif
