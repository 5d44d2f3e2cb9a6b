/* eval_cmd: evaluation over MPI and model export (see eval_cmd.h). */
#include "eval_cmd.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/checkpoint.h"
#include "common/err.h"
#include "common/evaluate.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/objective.h"
#include "master/rundir.h"

/* Inputs evaluated between two looks at the clock. */
#define EVAL_BLOCK 64u

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes the summary as JSON to path, atomically. */
static int write_eval_json(const char *path, const struct eval_summary *sum,
			   char *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f)
		return randes_errf(err, RANDES_ENOMEM,
				   "out of memory rendering %s", path);
	rc = evaluate_write_json(sum, f);
	if (fclose(f) != 0 && rc == 0)
		rc = RANDES_ENOMEM;
	if (rc == 0)
		rc = fsutil_write_atomic(path, buf, len, err);
	else
		randes_errf(err, rc, "cannot render %s", path);
	free(buf);
	return rc;
}

int eval_run(struct comm *c, const struct config *cfg_in, const char *run_dir,
	     const float *theta_in, size_t D, const struct eval_options *o,
	     char *err)
{
	const char *tag = o && o->tag ? o->tag : "eval";
	struct config cfg = *cfg_in;
	struct objective *obj = NULL;
	struct evaluator *ev = NULL;
	struct eval_record *rec = NULL, *all = NULL;
	float *theta = NULL;
	int *counts = NULL, *displs = NULL;
	uint64_t n = 0, first64 = 0;
	size_t first, count;
	int rc;

	if (err)
		err[0] = '\0';
	if (o && o->seeds)
		cfg.eval.seeds = o->seeds;
	rc = objective_new(&obj, &cfg, err);
	if (rc == 0 && objective_n_params(obj) != D)
		rc = randes_errf(err, RANDES_EDATA,
				 "theta has %zu parameters, the config's model "
				 "%zu",
				 D, objective_n_params(obj));
	if (rc == 0)
		rc = evaluate_new(&ev, obj, &cfg.eval, err);
	if (rc == 0) {
		theta = malloc(sizeof(float) * (D ? D : 1));
		if (!theta)
			rc = randes_errf(err, RANDES_ENOMEM,
					 "out of memory for theta");
	}
	if ((rc = -comm_max_int(c, -rc)) != 0)
		goto out;
	if (c->rank == 0)
		memcpy(theta, theta_in, sizeof(float) * D);
	comm_bcast(c, theta, sizeof(float) * D);

	n = evaluate_n_inputs(ev);
	comm_block((size_t)n, c->rank, c->size, &first, &count);
	first64 = first;
	rec = malloc(sizeof(*rec) * (count ? count : 1));
	if (!rec)
		rc = randes_errf(err, RANDES_ENOMEM,
				 "out of memory for %zu evaluation records",
				 count);
	if (c->rank == 0) {
		all = malloc(sizeof(*all) * (size_t)(n ? n : 1));
		counts = malloc(sizeof(int) * (size_t)c->size);
		displs = malloc(sizeof(int) * (size_t)c->size);
		if (!all || !counts || !displs)
			rc = randes_errf(err, RANDES_ENOMEM,
					 "out of memory for %" PRIu64
					 " evaluation records",
					 n);
		else if ((uint64_t)n * sizeof(*all) > (uint64_t)INT32_MAX)
			rc = randes_errf(err, RANDES_ECONFIG,
					 "%" PRIu64 " evaluation inputs are "
					 "too many to gather; set "
					 "eval.max_inputs",
					 n);
	}
	if ((rc = -comm_max_int(c, -rc)) != 0)
		goto out;

	if (c->rank == 0)
		log_msg(LOG_INFO,
			"%s: %" PRIu64 " inputs x %zu seeds on %d rank%s", tag,
			n, evaluate_n_seeds(ev), c->size,
			c->size == 1 ? "" : "s");
	{
		double t0 = now_seconds(), last = t0;
		for (size_t done = 0; done < count && rc == 0;) {
			size_t b = count - done < EVAL_BLOCK ? count - done
							     : EVAL_BLOCK;
			rc = evaluate_range(ev, theta, first64 + done, b,
					    rec + done, err);
			done += b;
			double t = now_seconds();
			if (c->rank == 0 && t - last >= 5.0 && done < count) {
				double frac = (double)done / (double)count;
				printf("[%s] %.0f%% of rank 0's %zu inputs, "
				       "ETA %.0fs\n",
				       tag, 100.0 * frac, count,
				       (t - t0) * (1 - frac) / frac);
				fflush(stdout);
				last = t;
			}
		}
	}
	if ((rc = -comm_max_int(c, -rc)) != 0)
		goto out;

	if (c->rank == 0)
		for (int r = 0; r < c->size; r++) {
			size_t f, k;
			comm_block((size_t)n, r, c->size, &f, &k);
			counts[r] = (int)(k * sizeof(*rec));
			displs[r] = (int)(f * sizeof(*rec));
		}
	COMM_CHECK(c, MPI_Gatherv(rec, (int)(count * sizeof(*rec)), MPI_BYTE,
				  all, counts, displs, MPI_BYTE, 0, c->comm));

	if (c->rank == 0) {
		struct eval_summary sum;
		char path[RUNDIR_PATH_MAX];
		rc = evaluate_summarize(ev, all, (size_t)n, &sum, err);
		if (rc == 0) {
			if (o && o->out)
				snprintf(path, sizeof(path), "%s", o->out);
			else
				rc = rundir_path(path, run_dir, "eval.json",
						 err);
		}
		if (rc == 0)
			rc = write_eval_json(path, &sum, err);
		if (rc == 0) {
			printf("[%s] %s (%s, run dir %s)\n", tag, path,
			       config_variant_name(cfg.objective.variant),
			       run_dir);
			evaluate_write_table(&sum, stdout);
			fflush(stdout);
		}
	}
	rc = -comm_max_int(c, -rc);
out:
	free(theta);
	free(rec);
	free(all);
	free(counts);
	free(displs);
	evaluate_free(ev);
	objective_free(obj);
	return rc;
}

int finish_run(struct comm *c, const struct config *cfg, const char *run_dir,
	       const float *theta, size_t D, int evaluate, int *evaluated,
	       char *err)
{
	int rc = 0;

	*evaluated = 0;
	if (c->rank == 0) {
		/* TODO(export): model.safetensors lands with the
		 * safetensors module. */
	}
	rc = -comm_max_int(c, -rc);
	if (rc || !evaluate)
		return rc;
	rc = eval_run(c, cfg, run_dir, theta, D, NULL, err);
	if (rc == 0)
		*evaluated = 1;
	return rc;
}

int eval_command(struct comm *c, const char *run_dir,
		 const struct eval_options *o, char *err)
{
	struct config cfg;
	struct checkpoint ck;
	char warn[RANDES_ERR_LEN] = "";
	char *yaml = NULL;
	const float *theta = NULL;
	uint64_t D = 0;
	int rc = 0;

	checkpoint_init(&ck);
	if (c->rank == 0) {
		rc = rundir_load(run_dir, &cfg, &ck, warn, err);
		if (rc == 0) {
			if (warn[0])
				log_msg(LOG_WARN, "%s", warn);
			const struct checkpoint_section *s =
				checkpoint_section_find(&ck, "es.theta");
			if (!s || s->type != CHECKPOINT_TYPE_F32 ||
			    s->count != ck.dim)
				rc = randes_errf(err, RANDES_EDATA,
						 "%s: the checkpoint has no "
						 "usable es.theta section",
						 run_dir);
			else {
				theta = s->data;
				D = ck.dim;
			}
		}
		if (rc == 0) {
			yaml = config_to_yaml(&cfg);
			if (!yaml)
				rc = randes_errf(err, RANDES_ENOMEM,
						 "out of memory");
		}
	}
	if ((rc = -comm_max_int(c, -rc)) != 0)
		goto out;
	comm_bcast(c, &D, sizeof(D));
	rc = comm_bcast_string(c, &yaml, err);
	if (rc == 0 && c->rank != 0)
		rc = config_load_string(&cfg, yaml, strlen(yaml),
					"(broadcast config)", NULL, 0, err);
	if ((rc = -comm_max_int(c, -rc)) != 0)
		goto out;
	rc = eval_run(c, &cfg, run_dir, theta, (size_t)D, o, err);
out:
	free(yaml);
	checkpoint_free(&ck);
	return rc;
}

int export_command(const char *run_dir, const char *out, char *err)
{
	(void)run_dir;
	(void)out;
	return randes_errf(err, RANDES_EUSAGE,
			   "export is not available yet (needs the "
			   "safetensors module)");
}
