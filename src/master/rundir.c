/* rundir: run-directory handling on rank 0 (see rundir.h). */
#include "rundir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

int rundir_path(char *out, const char *dir, const char *name, char *err)
{
	int n = snprintf(out, RUNDIR_PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= RUNDIR_PATH_MAX)
		return randes_errf(err, RANDES_EUSAGE,
				   "run directory path too long: %s", dir);
	return 0;
}

void rundir_default(const struct config *cfg, char *out, size_t len)
{
	snprintf(out, len, "runs/%s", cfg->run.name);
}

/* Loads DIR/config.yaml; RANDES_EIO if missing. */
static int load_stored_config(const char *dir, struct config *stored,
			      char *err)
{
	char path[RUNDIR_PATH_MAX];
	int rc = rundir_path(path, dir, "config.yaml", err);

	if (rc)
		return rc;
	return config_load_file(stored, path, NULL, 0, err);
}

/* Writes cfg as YAML to DIR/name, atomically. */
static int write_config_as(const char *dir, const char *name,
			   const struct config *cfg, char *err)
{
	char path[RUNDIR_PATH_MAX];
	char *yaml;
	int rc = rundir_path(path, dir, name, err);

	if (rc)
		return rc;
	yaml = config_to_yaml(cfg);
	if (!yaml)
		return randes_errf(err, RANDES_ENOMEM,
				   "out of memory rendering the config");
	rc = fsutil_write_atomic(path, yaml, strlen(yaml), err);
	free(yaml);
	return rc;
}

static int write_config(const char *dir, const struct config *cfg, char *err)
{
	return write_config_as(dir, "config.yaml", cfg, err);
}

/*
 * A resume whose config differs from the stored one in keys that leave the
 * saved state alone (run.generations, a schedule, objective.seeds, ...):
 * the stored config, the one that trained generations up to g, is kept as
 * DIR/config.g<g>.yaml before config.yaml is replaced, and the change is
 * logged.  An existing config.g<g>.yaml is left alone: it trained those
 * generations, a later resume at the same g trained none.
 */
static int keep_changed_config(const char *dir, const struct config *stored,
			       const struct config *cfg, uint64_t g, char *err)
{
	char path[RUNDIR_PATH_MAX], name[64], what[768];
	size_t n = config_diff_text(stored, cfg, what, sizeof(what));
	int rc, exists;

	if (n == 0)
		return 0;
	snprintf(name, sizeof(name), "config.g%" PRIu64 ".yaml", g);
	rc = rundir_path(path, dir, name, err);
	if (rc)
		return rc;
	exists = fsutil_path_exists(path, err);
	if (exists < 0)
		return exists;
	if (!exists) {
		rc = write_config_as(dir, name, stored, err);
		if (rc)
			return rc;
	}
	log_msg(LOG_INFO,
		"resume: the config differs from %s/config.yaml in %zu key%s "
		"(%s); the config of generations up to %" PRIu64 " is kept as "
		"%s",
		dir, n, n == 1 ? "" : "s", what, g, path);
	return 0;
}

void rundir_expect(const struct config *cfg, struct checkpoint_expect *ex)
{
	memset(ex, 0, sizeof(*ex));
	ex->check_config_hash = 1;
	ex->config_hash = config_hash_locked(cfg);
	ex->config_hash_v1 = config_hash_locked_v1(cfg);
	ex->check_run_seed = 1;
	ex->run_seed = cfg->run.seed;
}

int rundir_open_train(const char *dir, const struct config *cfg, int resume,
		      struct fsutil_lock *lock, struct checkpoint *ck,
		      int *have_ck, char *warn, char *err)
{
	char path[RUNDIR_PATH_MAX], lwarn[RANDES_ERR_LEN] = "";
	struct checkpoint_expect expect;
	enum checkpoint_source source;
	int rc, exists;

	*have_ck = 0;
	if (warn)
		warn[0] = '\0';
	rc = fsutil_mkdir_p(dir, 0777, err);
	if (rc)
		return rc;
	rc = fsutil_lock_acquire(lock, dir, err);
	if (rc)
		return rc;

	rc = rundir_path(path, dir, CHECKPOINT_FILE_NAME, err);
	if (rc)
		goto fail;
	exists = fsutil_path_exists(path, err);
	if (exists < 0) {
		rc = exists;
		goto fail;
	}
	if (!exists) {
		rc = rundir_path(path, dir, CHECKPOINT_PREV_NAME, err);
		if (rc)
			goto fail;
		exists = fsutil_path_exists(path, err);
		if (exists < 0) {
			rc = exists;
			goto fail;
		}
	}

	if (!resume) {
		if (exists) {
			rc = randes_errf(err, RANDES_EUSAGE,
					 "%s already holds a checkpoint; pass "
					 "--resume to continue that run, or "
					 "choose another --run-dir",
					 dir);
			goto fail;
		}
		rc = write_config(dir, cfg, err);
		if (rc)
			goto fail;
		return 0;
	}

	if (!exists) {
		if (warn)
			snprintf(warn, RANDES_ERR_LEN,
				 "--resume: %s holds no checkpoint yet; "
				 "starting from generation 0",
				 dir);
		rc = write_config(dir, cfg, err);
		if (rc)
			goto fail;
		return 0;
	}

	/* The stored config must agree on every key that fixes the meaning
	 * of the saved state. */
	struct config stored;
	{
		char key[128];
		rc = load_stored_config(dir, &stored, err);
		if (rc) {
			randes_err_prefix(err, "--resume: cannot read the run's "
					       "config");
			goto fail;
		}
		if (config_diff_locked(&stored, cfg, key, sizeof(key))) {
			rc = randes_errf(err, RANDES_ECONFIG,
					 "--resume: %s differs from the run in "
					 "%s/config.yaml; it fixes the meaning "
					 "of the saved state, so the run cannot "
					 "continue with it (use a new "
					 "--run-dir)",
					 key, dir);
			goto fail;
		}
	}

	rundir_expect(cfg, &expect);
	rc = checkpoint_load_latest(dir, &expect, ck, &source, lwarn, err);
	if (rc)
		goto fail;
	*have_ck = 1;
	if (warn && lwarn[0])
		snprintf(warn, RANDES_ERR_LEN, "%s", lwarn);
	rc = keep_changed_config(dir, &stored, cfg, ck->generation, err);
	if (rc) {
		checkpoint_free(ck);
		*have_ck = 0;
		goto fail;
	}
	rc = write_config(dir, cfg, err);
	if (rc) {
		checkpoint_free(ck);
		*have_ck = 0;
		goto fail;
	}
	return 0;
fail:
	fsutil_lock_release(lock);
	return rc;
}

/* The value of "g" in a metrics line, or -1 if there is none. */
static int64_t metrics_line_generation(const char *line, size_t len)
{
	const char *key = "\"g\":";
	size_t klen = strlen(key);

	for (size_t i = 0; i + klen < len; i++) {
		if (memcmp(line + i, key, klen) == 0) {
			const char *p = line + i + klen;
			char *end;
			while (*p == ' ')
				p++;
			errno = 0;
			long long v = strtoll(p, &end, 10);
			if (errno || end == p || v < 0)
				return -1;
			return v;
		}
	}
	return -1;
}

int rundir_trim_metrics(const char *dir, uint64_t g0, char *err)
{
	char path[RUNDIR_PATH_MAX];
	char *data = NULL, *out = NULL;
	size_t len = 0, olen = 0;
	int rc = rundir_path(path, dir, "metrics.jsonl", err);

	if (rc)
		return rc;
	rc = fsutil_path_exists(path, err);
	if (rc <= 0)
		return rc;
	rc = fsutil_read_file(path, (size_t)1 << 31, &data, &len, err);
	if (rc)
		return rc;
	out = malloc(len + 1);
	if (!out) {
		free(data);
		return randes_errf(err, RANDES_ENOMEM,
				   "out of memory trimming %s", path);
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && data[j] != '\n')
			j++;
		if (j == len)
			break; /* an unterminated last line is a torn write */
		int64_t g = metrics_line_generation(data + i, j - i);
		if (g >= 0 && (uint64_t)g < g0) {
			memcpy(out + olen, data + i, j - i + 1);
			olen += j - i + 1;
		}
		i = j + 1;
	}
	rc = 0;
	if (olen != len)
		rc = fsutil_write_atomic(path, out, olen, err);
	free(out);
	free(data);
	return rc;
}

int rundir_load(const char *dir, struct config *cfg, struct checkpoint *ck,
		char *warn, char *err)
{
	struct checkpoint_expect expect;
	enum checkpoint_source source;
	int rc;

	rc = load_stored_config(dir, cfg, err);
	if (rc) {
		if (rc == RANDES_EIO)
			randes_err_prefix(err, "%s is not a run directory", dir);
		return rc;
	}
	rundir_expect(cfg, &expect);
	return checkpoint_load_latest(dir, &expect, ck, &source, warn, err);
}
