/* train: the generation loop (see train.h and docs/architecture.md). */
#include "train.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/blas.h"
#include "common/checkpoint.h"
#include "common/err.h"
#include "common/es.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/modelfile.h"
#include "common/objective.h"
#include "common/params.h"
#include "master/eval_cmd.h"
#include "master/rundir.h"
#include "master/signals.h"
#include "worker/worker.h"

/* What rank 0 tells everyone after setting up. */
struct train_start {
	int32_t rc;          /* 0, or the error every rank returns          */
	uint32_t generation; /* g0, the first generation to run             */
};

/* The master's own counters, saved in the checkpoint's "master" section. */
struct master_counters {
	double best_objective; /* lowest centre loss seen                  */
	uint64_t best_generation;
	uint64_t nonfinite_total;
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(double s, char *out, size_t len)
{
	if (!isfinite(s) || s < 0) {
		snprintf(out, len, "?");
		return;
	}
	unsigned long t = (unsigned long)(s + 0.5);
	if (t >= 3600)
		snprintf(out, len, "%luh%02lum%02lus", t / 3600, t / 60 % 60,
			 t % 60);
	else if (t >= 60)
		snprintf(out, len, "%lum%02lus", t / 60, t % 60);
	else
		snprintf(out, len, "%lus", t);
}

/* %.9g, or null for a non-finite number (JSON has no NaN). */
static int json_num(char *out, size_t len, double v)
{
	if (!isfinite(v))
		return snprintf(out, len, "null");
	return snprintf(out, len, "%.9g", v);
}

/* Builds one metrics.jsonl object. */
static void metrics_line(char *buf, size_t len, uint32_t g,
			 const struct es_stats *st,
			 const struct objective_score *center, double lr,
			 double t_gen, double t_eval, double t_comm,
			 double t_update, double elapsed, double evals_per_s,
			 uint64_t theta_hash, uint64_t bytes_down,
			 uint64_t bytes_up)
{
	char f[16][40];
	json_num(f[0], 40, st->fit_min);
	json_num(f[1], 40, st->fit_mean);
	json_num(f[2], 40, st->fit_max);
	json_num(f[3], 40, center->loss);
	json_num(f[4], 40, center->q);
	json_num(f[5], 40, center->mean_loss);
	json_num(f[6], 40, center->success);
	json_num(f[7], 40, center->worst);
	json_num(f[8], 40, st->sigma_mean);
	json_num(f[9], 40, lr);
	json_num(f[10], 40, st->grad_norm);
	json_num(f[11], 40, st->grad_noise_norm);
	json_num(f[12], 40, st->update_norm);
	json_num(f[13], 40, evals_per_s);
	snprintf(buf, len,
		 "{\"g\": %" PRIu32 ", \"fitness_min\": %s, \"fitness_mean\": %s, "
		 "\"fitness_max\": %s, \"nonfinite\": %zu, \"objective\": %s, "
		 "\"q\": %s, \"loss_mean\": %s, \"success\": %s, "
		 "\"worst_input_loss\": %s, \"sigma\": %s, \"lr\": %s, "
		 "\"grad_norm\": %s, \"grad_noise_norm\": %s, "
		 "\"update_norm\": %s, "
		 "\"evals_per_s\": %s, \"seconds\": %.6f, "
		 "\"t_eval\": %.6f, \"t_comm\": %.6f, \"t_update\": %.6f, "
		 "\"elapsed\": %.3f, \"bytes_down\": %" PRIu64
		 ", \"bytes_up\": %" PRIu64 ", \"theta_hash\": \"%016" PRIx64
		 "\"}",
		 g, f[0], f[1], f[2], st->n_nonfinite, f[3], f[4], f[5], f[6],
		 f[7], f[8], f[9], f[10], f[11], f[12], f[13], t_gen, t_eval,
		 t_comm, t_update, elapsed, bytes_down, bytes_up, theta_hash);
}

/* Rank 0: writes the checkpoint of "generation g completed". */
static int save_checkpoint(const char *dir, const struct config *cfg,
			   const struct es *es, const struct objective *obj,
			   const struct master_counters *mc, uint64_t next_g,
			   double elapsed, uint32_t flags, char *err)
{
	struct checkpoint ck;
	size_t S = 0;
	const float *r0 = objective_r0(obj, &S);
	int rc;

	checkpoint_init(&ck);
	ck.flags = flags;
	ck.run_seed = cfg->run.seed;
	ck.config_hash = config_hash_locked(cfg);
	ck.generation = next_g;
	ck.elapsed_seconds = elapsed;
	rc = es_state_export(es, &ck, err);
	if (rc == 0 && r0 && S)
		rc = checkpoint_section_add(&ck, "r0", CHECKPOINT_TYPE_F32, r0,
					    S, 0, err);
	if (rc == 0)
		rc = checkpoint_section_add(&ck, "master", CHECKPOINT_TYPE_U8,
					    mc, sizeof(*mc), 0, err);
	if (rc == 0)
		rc = checkpoint_save(dir, &ck, err);
	checkpoint_free(&ck);
	return rc;
}

/* Rank 0: restores the master counters (absent or odd-sized: zeros). */
static void load_counters(const struct checkpoint *ck,
			  struct master_counters *mc)
{
	const struct checkpoint_section *s = checkpoint_section_find(ck, "master");

	memset(mc, 0, sizeof(*mc));
	mc->best_objective = INFINITY;
	if (s && s->type == CHECKPOINT_TYPE_U8 && s->count == sizeof(*mc))
		memcpy(mc, s->data, sizeof(*mc));
}

/* Rank 0: everything that happens before the first generation. */
static int master_setup(const struct config *cfg,
			const struct train_options *opt, struct objective *obj,
			struct es *es, struct fsutil_lock *lock,
			struct master_counters *mc, uint32_t *g0,
			double *elapsed0, char *err)
{
	struct checkpoint ck;
	char warn[RANDES_ERR_LEN];
	size_t D = objective_n_params(obj);
	float *theta0 = NULL;
	int have_ck = 0, rc;

	checkpoint_init(&ck);
	memset(mc, 0, sizeof(*mc));
	mc->best_objective = INFINITY;
	*g0 = 0;
	*elapsed0 = 0;
	rc = rundir_open_train(opt->run_dir, cfg, opt->resume, lock, &ck,
			       &have_ck, warn, err);
	if (rc)
		return rc;
	if (warn[0])
		log_msg(LOG_WARN, "%s", warn);

	theta0 = malloc(sizeof(float) * D);
	if (!theta0) {
		rc = randes_errf(err, RANDES_ENOMEM,
				 "out of memory for theta (D = %zu)", D);
		goto fail;
	}
	objective_init_theta(obj, theta0);
	if (!have_ck && cfg->model.init_from[0]) {
		/* a new run that starts from a trained model; a resumed one
		 * takes theta from its checkpoint */
		rc = modelfile_init_theta(obj, cfg->model.init_from, theta0,
					  err);
		if (rc)
			goto fail;
		log_msg(LOG_INFO,
			"train: theta initialised from %s (theta hash "
			"%016" PRIx64 ")",
			cfg->model.init_from, params_hash(theta0, D));
	}
	rc = es_init(es, cfg, theta0, D, err);
	if (rc)
		goto fail;
	if (have_ck) {
		rc = es_state_import(es, &ck, err);
		if (rc) {
			randes_err_prefix(err, "%s", opt->run_dir);
			goto fail;
		}
		if (ck.generation > cfg->run.generations) {
			log_msg(LOG_WARN,
				"the checkpoint is at generation %" PRIu64
				", beyond run.generations = %" PRIu32
				"; nothing left to train",
				ck.generation, cfg->run.generations);
		}
		*g0 = (uint32_t)(ck.generation > cfg->run.generations
					 ? cfg->run.generations
					 : ck.generation);
		*elapsed0 = ck.elapsed_seconds;
		load_counters(&ck, mc);
		/* r0 is re-derived from the run seed; the stored copy must
		 * agree, or the run is not the one it claims to be. */
		const struct checkpoint_section *s = checkpoint_section_find(&ck, "r0");
		size_t S = 0;
		const float *r0 = objective_r0(obj, &S);
		if (s && r0 &&
		    (s->type != CHECKPOINT_TYPE_F32 || s->count != S ||
		     memcmp(s->data, r0, S * sizeof(float)) != 0)) {
			rc = randes_errf(err, RANDES_EDATA,
					 "%s: the checkpoint's r0 differs from "
					 "the one the run seed gives",
					 opt->run_dir);
			goto fail;
		}
		log_msg(LOG_INFO, "resuming %s at generation %" PRIu32,
			opt->run_dir, *g0);
	}
	rc = rundir_trim_metrics(opt->run_dir, *g0, err);
	if (rc)
		goto fail;
	free(theta0);
	checkpoint_free(&ck);
	return 0;
fail:
	free(theta0);
	checkpoint_free(&ck);
	es_free(es);
	fsutil_lock_release(lock);
	return rc;
}

/*
 * run.model_every: the run's model after `generation` generations (θ, or
 * its average with es.theta_ema: what model.safetensors would hold) as
 * RUN_DIR/models/model-g<generation>.safetensors, atomically; buf holds D
 * floats.
 */
static int write_snapshot(const char *run_dir, const struct config *cfg,
			  const struct es *es, float *buf, size_t D,
			  uint32_t generation, char *err)
{
	char dir[RUNDIR_PATH_MAX], name[64], path[RUNDIR_PATH_MAX];
	int rc = rundir_path(dir, run_dir, "models", err);

	if (rc == 0)
		rc = fsutil_mkdir_p(dir, 0777, err);
	snprintf(name, sizeof(name), "model-g%" PRIu32 ".safetensors",
		 generation);
	if (rc == 0)
		rc = rundir_path(path, dir, name, err);
	if (rc)
		return rc;
	es_model(es, buf);
	return export_model(cfg, buf, D, generation, path, err);
}

int train_run(struct comm *c, const struct config *cfg,
	      const struct train_options *opt, struct train_result *result,
	      char *err)
{
	const char *tag = opt->tag ? opt->tag : "train";
	struct objective *obj = NULL;
	struct worker w;
	struct es es;
	struct fsutil_lock lock;
	struct fsutil_appender metrics;
	struct master_counters mc;
	struct train_start start;
	float *center = NULL, *sigma_vec = NULL, *fitness = NULL;
	float *snap = NULL; /* rank 0, run.model_every: the model to write */
	size_t D = 0, P = cfg->es.population;
	uint32_t g, G = cfg->run.generations;
	double elapsed0 = 0, t_start, t_last_progress = -1e30;
	int pgpe = cfg->es.strategy == ES_STRATEGY_PGPE;
	int rc, stop = 0, yielded = 0;
	char path[RUNDIR_PATH_MAX];

	memset(result, 0, sizeof(*result));
	memset(&w, 0, sizeof(w));
	memset(&es, 0, sizeof(es));
	fsutil_lock_init(&lock);
	fsutil_append_init(&metrics);
	if (err)
		err[0] = '\0';

	/* Every rank builds the same objective; the outcome is agreed on
	 * so that no rank is left alone in a collective. */
	rc = objective_new(&obj, cfg, err);
	if (-comm_max_int(c, -rc) != 0) {
		if (rc == 0)
			rc = RANDES_ECONFIG;
		goto out;
	}
	D = objective_n_params(obj);

	memset(&start, 0, sizeof(start));
	if (c->rank == 0) {
		start.rc = master_setup(cfg, opt, obj, &es, &lock, &mc,
					&start.generation, &elapsed0, err);
		if (start.rc == 0) {
			rc = rundir_path(path, opt->run_dir, "metrics.jsonl",
					 err);
			if (rc == 0)
				rc = fsutil_append_open(&metrics, path, NULL,
							err);
			start.rc = rc;
		}
	}
	comm_bcast(c, &start, sizeof(start));
	if (start.rc) {
		rc = start.rc;
		goto out;
	}

	rc = worker_init(&w, c, obj, cfg, err);
	if (rc == 0) {
		center = c->rank == 0 ? NULL : malloc(sizeof(float) * D);
		sigma_vec = pgpe && c->rank != 0 ? malloc(sizeof(float) * D)
						  : NULL;
		fitness = malloc(sizeof(float) * P);
		if (c->rank == 0 && cfg->run.model_every)
			snap = malloc(sizeof(float) * D);
		if ((c->rank != 0 && !center) ||
		    (pgpe && c->rank != 0 && !sigma_vec) || !fitness ||
		    (c->rank == 0 && cfg->run.model_every && !snap))
			rc = randes_errf(err, RANDES_ENOMEM,
					 "out of memory for the generation "
					 "buffers (D = %zu)",
					 D);
	}
	if (-comm_max_int(c, -rc) != 0) {
		if (rc == 0)
			rc = RANDES_ENOMEM;
		goto out;
	}

	if (c->rank == 0)
		log_msg(LOG_INFO,
			"%s: %s, %s, D = %zu parameters, P = %zu, %" PRIu32
			" generations, %d rank%s, run dir %s, kernels %s",
			tag, config_task_kind_name(cfg->task.kind),
			config_variant_name(cfg->objective.variant), D, P, G,
			c->size, c->size == 1 ? "" : "s", opt->run_dir,
			blas_isa_name(blas_isa_get()));

	struct worker_header hdr;

	t_start = now_seconds();
	for (g = start.generation;; g++) {
		struct es_view view;
		struct objective_score cs;
		double t0 = now_seconds(), t_comm = 0, t1, t_upd = 0;
		uint64_t down0 = c->bytes_sent, up0 = c->bytes_received;

		memset(&hdr, 0, sizeof(hdr));
		memset(&cs, 0, sizeof(cs));
		cs.loss = cs.mean_loss = cs.success = cs.worst = NAN;
		if (c->rank == 0) {
			if (stop || g >= G) {
				hdr.cmd = WORKER_CMD_STOP;
			} else {
				es_view_get(&es, cfg, g, &view);
				hdr.cmd = WORKER_CMD_GENERATION;
				hdr.sigma = view.sigma;
			}
			hdr.generation = g;
		}
		comm_bcast(c, &hdr, sizeof(hdr));
		if (hdr.cmd != WORKER_CMD_GENERATION)
			break;
		if (c->rank == 0) {
			/* Broadcast straight from the ES state. */
			comm_bcast(c, es.theta, sizeof(float) * D);
			if (pgpe)
				comm_bcast(c, es.sigma, sizeof(float) * D);
		} else {
			comm_bcast(c, center, sizeof(float) * D);
			if (pgpe)
				comm_bcast(c, sigma_vec, sizeof(float) * D);
			memset(&view, 0, sizeof(view));
			view.run_seed = cfg->run.seed;
			view.generation = hdr.generation;
			view.dim = D;
			view.center = center;
			view.sigma_vec = sigma_vec;
			view.sigma = hdr.sigma;
		}
		t_comm += now_seconds() - t0;

		rc = worker_generation(&w, &view, signals_stop_requested(),
				       fitness, &cs, err);
		if (rc) {
			if (c->rank == 0 && err && !err[0])
				snprintf(err, RANDES_ERR_LEN,
					 "scoring failed on another rank in "
					 "generation %" PRIu32 " (see its log)",
					 g);
			goto out;
		}

		if (c->rank != 0)
			continue;

		/* Rank 0: the update, the log, the checkpoint. */
		const struct worker_report *reps = worker_reports(&w);
		double t_eval = 0, t_wait = 0;
		for (int r = 0; r < c->size; r++) {
			if (reps[r].stop_signal)
				stop = 1;
			if (reps[r].t_eval > t_eval)
				t_eval = reps[r].t_eval;
		}
		t_wait = reps[0].t_wait;
		if (signals_stop_requested())
			stop = 1;
		if (!stop && g + 1 < G && opt->yield &&
		    opt->yield(opt->yield_ctx))
			stop = yielded = 1;

		t1 = now_seconds();
		struct es_stats st;
		double lr = sched_at(&cfg->es.lr, g);
		/* with the noise of the pairs rank 0 scored: not rebuilt */
		if (es_update_noise(&es, cfg, g, fitness, worker_pair_noise,
				    &w, &st) == 1)
			log_msg(LOG_WARN,
				"generation %" PRIu32 ": every fitness was "
				"NaN or infinite; the update was skipped",
				g);
		mc.nonfinite_total += st.n_nonfinite;
		if (isfinite(cs.loss) && cs.loss < mc.best_objective) {
			mc.best_objective = cs.loss;
			mc.best_generation = g;
		}
		t_upd = now_seconds() - t1;

		double now = now_seconds();
		double t_gen = now - t0;
		double elapsed = elapsed0 + (now - t_start);
		uint64_t theta_hash = params_hash(es.theta, D);
		int due = cfg->run.checkpoint_every &&
			  (g + 1) % cfg->run.checkpoint_every == 0;
		int save = due || stop || g + 1 == G;
		char line[2048];
		metrics_line(line, sizeof(line), g, &st, &cs, lr, t_gen, t_eval,
			     t_comm + t_wait, t_upd, elapsed,
			     (double)(P + 1) / (t_gen > 0 ? t_gen : 1e-9),
			     theta_hash, c->bytes_sent - down0,
			     c->bytes_received - up0);
		/* The metrics file is fsynced with every checkpoint, so a
		 * resumed run finds every line up to its checkpoint. */
		rc = fsutil_append_line(&metrics, line, strlen(line), save, err);
		if (rc)
			goto abort_all;

		if (cfg->run.progress_seconds <= 0 ||
		    now - t_last_progress >= cfg->run.progress_seconds ||
		    g + 1 == G || stop) {
			char el[32], eta[32];
			double per_gen = (now - t_start) /
					 (double)(g + 1 - start.generation);
			format_duration(elapsed, el, sizeof(el));
			format_duration(per_gen * (double)(G - g - 1), eta,
					sizeof(eta));
			printf("[%s] g %" PRIu32 "/%" PRIu32
			       "  fitness max %.5g mean %.5g min %.5g"
			       "  L %.5g (q %g)  success %.3f  sigma %.4g"
			       "  %.1fk evals/s  %s elapsed, ETA %s\n",
			       tag, g + 1, G, st.fit_max, st.fit_mean,
			       st.fit_min, cs.loss, cs.q, cs.success,
			       st.sigma_mean,
			       (double)(P + 1) / (t_gen > 0 ? t_gen : 1e-9) /
				       1e3,
			       el, eta);
			fflush(stdout);
			t_last_progress = now;
		}

		if (save) {
			uint32_t flags = 0;
			if (g + 1 == G)
				flags |= CHECKPOINT_FLAG_FINAL;
			else if (stop)
				flags |= CHECKPOINT_FLAG_STOPPED;
			rc = save_checkpoint(opt->run_dir, cfg, &es, obj, &mc,
					     g + 1, elapsed, flags, err);
			if (rc)
				goto abort_all;
			if (stop && g + 1 < G)
				log_msg(LOG_INFO,
					"%s: checkpoint written at generation "
					"%" PRIu32 "; continue with --resume",
					yielded ? "the ranks yielded to a "
						  "regroup"
						: "stop requested (signal)",
					g + 1);
		}
		if (snap && (g + 1) % cfg->run.model_every == 0) {
			rc = write_snapshot(opt->run_dir, cfg, &es, snap, D,
					    g + 1, err);
			if (rc)
				goto abort_all;
		}
		continue;
abort_all:
		/* Tell the workers to leave, then fail. */
		{
			struct worker_header ab;
			memset(&ab, 0, sizeof(ab));
			ab.cmd = WORKER_CMD_ABORT;
			ab.code = rc;
			comm_bcast(c, &ab, sizeof(ab));
		}
		goto out;
	}

	/* Every rank arrives here with the master's STOP or ABORT (rank 0
	 * itself leaves through abort_all instead). */
	if (hdr.cmd == WORKER_CMD_ABORT) {
		rc = hdr.code ? hdr.code : RANDES_EIO;
		if (err && !err[0])
			snprintf(err, RANDES_ERR_LEN,
				 "the master stopped the run with an error "
				 "(see rank 0's log)");
		goto out;
	}
	if (c->rank == 0) {
		result->generation = g;
		result->stopped = stop && g < G;
		result->yielded = yielded && result->stopped;
	}
	{
		uint32_t info[3] = {c->rank == 0 ? (uint32_t)result->stopped : 0,
				    c->rank == 0 ? g : 0,
				    c->rank == 0 ? (uint32_t)result->yielded : 0};
		comm_bcast(c, info, sizeof(info));
		result->stopped = (int)info[0];
		result->generation = info[1];
		result->yielded = (int)info[2];
	}

	if (!result->stopped) {
		/* Export and evaluate the final model on all ranks: θ, or
		 * its average (es.theta_ema).  The final checkpoint is
		 * written, so es.theta may now hold the model. */
		if (c->rank == 0)
			es_model(&es, es.theta);
		const float *theta = c->rank == 0 ? es.theta : NULL;
		rc = finish_run(c, cfg, opt->run_dir, theta, D,
				result->generation,
				!opt->no_eval && cfg->run.eval_at_end,
				&result->evaluated, err);
	}

out:
	if (c->rank == 0) {
		fsutil_append_close(&metrics);
		fsutil_lock_release(&lock);
	}
	free(center);
	free(sigma_vec);
	free(fitness);
	free(snap);
	worker_free(&w);
	es_free(&es);
	objective_free(obj);
	return rc;
}
