/*
 * rundir: the run directory of one training run, as rank 0 sees it.
 *
 *   DIR/config.yaml        the resolved config (every key)
 *   DIR/metrics.jsonl      one JSON object per generation
 *   DIR/checkpoint.bin     the newest checkpoint (checkpoint.prev.bin the one before)
 *   DIR/model.safetensors  the trained model (export)
 *   DIR/eval.json          the evaluation protocol's figures
 *   DIR/randes.lock        held by the training process (flock)
 *
 * No MPI in here: the master calls it on rank 0 and broadcasts outcomes.
 */
#ifndef RANDES_RUNDIR_H
#define RANDES_RUNDIR_H

#include <stddef.h>
#include <stdint.h>

#include "common/checkpoint.h"
#include "common/config.h"
#include "common/fsutil.h"

#define RUNDIR_PATH_MAX 4096

/* The path DIR/name into out (RUNDIR_PATH_MAX bytes); RANDES_EUSAGE if it
 * does not fit. */
int rundir_path(char *out, const char *dir, const char *name, char *err);

/* runs/<run.name> relative to the working directory. */
void rundir_default(const struct config *cfg, char *out, size_t len);

/*
 * What a checkpoint of a run of cfg must match: its run seed and its
 * locked-key hash (the current one, or that of randes before 3f6eb0d).
 */
void rundir_expect(const struct config *cfg, struct checkpoint_expect *ex);

/*
 * Opens dir for training: creates it, takes the lock, and decides between a
 * fresh start and a resume.  With resume == 0 a directory that already
 * holds a checkpoint is refused (RANDES_EUSAGE: the message says to pass
 * --resume or choose another --run-dir).  With resume != 0 the newest valid
 * checkpoint is loaded into *ck (*have_ck = 1) after checking that the
 * locked config keys equal those of DIR/config.yaml (RANDES_ECONFIG naming
 * the first differing key); a directory without checkpoint starts fresh
 * (*have_ck = 0, a note in warn).  On success the resolved config is
 * written to DIR/config.yaml.  warn (RANDES_ERR_LEN, may be NULL) receives
 * a message worth logging, or "".  On failure the lock is released.
 */
int rundir_open_train(const char *dir, const struct config *cfg, int resume,
		      struct fsutil_lock *lock, struct checkpoint *ck,
		      int *have_ck, char *warn, char *err);

/*
 * Drops every line of DIR/metrics.jsonl whose generation "g" is >= g0 (lines
 * of generations that ran after the checkpoint being resumed, which will
 * run again), atomically.  A missing file is fine.
 */
int rundir_trim_metrics(const char *dir, uint64_t g0, char *err);

/*
 * Loads a finished or interrupted run for eval/export: DIR/config.yaml and
 * the newest valid checkpoint (checked against the config's hash).
 */
int rundir_load(const char *dir, struct config *cfg, struct checkpoint *ck,
		char *warn, char *err);

#endif
