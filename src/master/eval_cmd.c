/* eval_cmd: evaluation over MPI and model export (see eval_cmd.h). */
#include "eval_cmd.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/checkpoint.h"
#include "common/err.h"
#include "common/es.h"
#include "common/evaluate.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/modelfile.h"
#include "common/safetensors.h"
#include "common/objective.h"
#include "master/rundir.h"
#include "randes_version.h"

/* Inputs evaluated between two looks at the clock. */
#define EVAL_BLOCK 64u

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/*
 * Renders a file in memory with render(ctx, f) and writes it to path
 * atomically: a reader sees the old file or the whole new one.
 */
static int write_rendered(const char *path,
			  int (*render)(const void *ctx, FILE *f),
			  const void *ctx, char *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f)
		return randes_errf(err, RANDES_ENOMEM,
				   "out of memory rendering %s", path);
	rc = render(ctx, f);
	if (fclose(f) != 0 && rc == 0)
		rc = RANDES_ENOMEM;
	if (rc == 0)
		rc = fsutil_write_atomic(path, buf, len, err);
	else
		randes_errf(err, rc, "cannot render %s", path);
	free(buf);
	return rc;
}

static int render_summary(const void *sum, FILE *f)
{
	return evaluate_write_json(sum, f);
}

/* The records of a --per-input file and the evaluator that names them. */
struct per_input {
	const struct evaluator *ev;
	const struct eval_record *rec;
	size_t n;
};

static int render_per_input(const void *ctx, FILE *f)
{
	const struct per_input *p = ctx;

	return evaluate_write_inputs_csv(p->ev, p->rec, p->n, f);
}

/* Appends a tensor to the dump layout and converts src to float. */
static void dump_add(struct params_layout *l, float *all, const char *name,
		     unsigned ndim, const size_t *shape, const void *src,
		     char kind)
{
	size_t off = params_add(l, name, ndim, shape);
	const struct params_tensor *t = &l->tensors[l->n_tensors - 1];

	for (size_t i = 0; i < t->count; i++) {
		switch (kind) {
		case 'f': all[off + i] = ((const float *)src)[i]; break;
		case 'i': all[off + i] = (float)((const int32_t *)src)[i]; break;
		case 'b': all[off + i] = (float)((const uint8_t *)src)[i]; break;
		case 'u': all[off + i] = (float)((const uint32_t *)src)[i]; break;
		case 'q': all[off + i] = (float)((const uint64_t *)src)[i]; break;
		}
	}
}

/*
 * --dump: the exact model inputs and logits of the first evaluation inputs
 * and seeds (evaluate_dump), as one safetensors file of F32 tensors
 * (integer arrays converted exactly: every value is below 2^24), for
 * checking randes against an outside implementation.  docs/tasks.md
 * describes the tensors.
 */
static int write_dump(struct evaluator *ev, const float *theta,
		      const struct config *cfg, const char *path, char *err)
{
	struct eval_dump d;
	struct params_layout *l = NULL;
	float *all = NULL;
	size_t nI, nS, total;
	int rc;

	memset(&d, 0, sizeof(d));
	evaluate_dump_shape(ev, &d);
	nI = d.n_inputs;
	nS = d.n_seeds;
	d.feat = calloc(nI * nS * d.seq_len * (d.n_feat ? d.n_feat : 1), sizeof(float));
	d.index = d.n_index ? calloc(nI * nS * d.seq_len * d.n_index, sizeof(int32_t)) : NULL;
	d.mask = d.mask_len ? calloc(nI * d.mask_len * d.mask_len, 1) : NULL;
	d.seed = calloc(nS * (d.seed_size ? d.seed_size : 1), sizeof(float));
	d.logits = calloc(nI * nS * d.rows * d.out_dim, sizeof(float));
	d.length = calloc(nI * nS, sizeof(int32_t));
	d.target = calloc(nI * (d.target_len ? d.target_len : 1), sizeof(uint32_t));
	d.input = calloc(nI, sizeof(uint64_t));
	l = malloc(sizeof(*l));
	total = nI * nS * d.seq_len * d.n_feat + nI * nS * d.seq_len * d.n_index +
		nI * d.mask_len * d.mask_len + nS * d.seed_size +
		nI * nS * d.rows * d.out_dim + nI * nS + nI * d.target_len + nI;
	all = malloc(sizeof(float) * (total ? total : 1));
	if (!d.feat || (d.n_index && !d.index) || (d.mask_len && !d.mask) ||
	    !d.seed || !d.logits || !d.length || !d.target || !d.input || !l ||
	    !all) {
		rc = randes_errf(err, RANDES_ENOMEM, "out of memory for --dump");
		goto out;
	}
	rc = evaluate_dump(ev, theta, &d, err);
	if (rc)
		goto out;
	params_layout_init(l);
	if (d.n_feat) {
		size_t sh[4] = {nI, nS, d.seq_len, d.n_feat};
		dump_add(l, all, "feat", 4, sh, d.feat, 'f');
	}
	if (d.n_index) {
		size_t sh[4] = {nI, nS, d.seq_len, d.n_index};
		dump_add(l, all, "index", 4, sh, d.index, 'i');
	}
	if (d.mask_len) {
		size_t sh[3] = {nI, d.mask_len, d.mask_len};
		dump_add(l, all, "mask", 3, sh, d.mask, 'b');
	}
	{
		size_t sh[2] = {nS, d.seed_size};
		dump_add(l, all, "seed", 2, sh, d.seed, 'f');
	}
	{
		size_t sh[4] = {nI, nS, d.rows, d.out_dim};
		dump_add(l, all, "logits", 4, sh, d.logits, 'f');
	}
	{
		size_t sh[2] = {nI, nS};
		dump_add(l, all, "length", 2, sh, d.length, 'i');
	}
	if (d.target_len) {
		size_t sh[2] = {nI, d.target_len};
		dump_add(l, all, "target", 2, sh, d.target, 'u');
	}
	{
		size_t sh[1] = {nI};
		dump_add(l, all, "input", 1, sh, d.input, 'q');
	}
	{
		char *yaml = config_to_yaml(cfg);
		struct safetensors_kv kv[3] = {
			{"format", "randes-eval-dump"},
			{"task", config_task_kind_name(cfg->task.kind)},
			{"config", yaml ? yaml : ""},
		};
		rc = safetensors_write(path, l, all, kv, 3, err);
		free(yaml);
	}
out:
	free(d.feat);
	free(d.index);
	free(d.mask);
	free(d.seed);
	free(d.logits);
	free(d.length);
	free(d.target);
	free(d.input);
	free(l);
	free(all);
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
			rc = write_rendered(path, render_summary, &sum, err);
		if (rc == 0 && o && o->per_input) {
			struct per_input p = {ev, all, (size_t)n};
			rc = write_rendered(o->per_input, render_per_input, &p,
					    err);
			if (rc == 0)
				printf("[%s] per-input figures: %s\n", tag,
				       o->per_input);
		}
		if (rc == 0 && o && o->dump) {
			rc = write_dump(ev, theta, &cfg, o->dump, err);
			if (rc == 0)
				printf("[%s] model inputs and logits of the "
				       "first inputs and seeds: %s\n",
				       tag, o->dump);
		}
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

/*
 * Writes theta as safetensors at path, with the metadata that makes the
 * file self-describing: format, version, task, variant, run seed, r0 (JSON
 * list), generation, the model spec (JSON) and the resolved config (YAML).
 * Model-free tasks (sphere, rastrigin) get one tensor "x" of D floats.
 */
int export_model(const struct config *cfg, const float *theta,
			size_t D, uint64_t generation, const char *path,
			char *err)
{
	struct objective *obj = NULL;
	struct params_layout *flat = NULL;
	const struct params_layout *layout;
	struct json_writer r0w, specw;
	struct safetensors_kv kv[9];
	char seed[32], gen[32];
	char *yaml = NULL;
	const float *r0;
	size_t S = 0, n = 0;
	int rc;

	json_writer_init(&r0w);
	json_writer_init(&specw);
	rc = objective_new(&obj, cfg, err);
	if (rc)
		goto out;
	if (objective_n_params(obj) != D) {
		rc = randes_errf(err, RANDES_EDATA,
				 "theta has %zu parameters, the config's model "
				 "%zu",
				 D, objective_n_params(obj));
		goto out;
	}
	if (obj->task->has_model) {
		layout = &obj->model.layout;
		model_spec_write_json(&obj->model, &specw);
	} else {
		size_t shape[1] = {D};
		flat = malloc(sizeof(*flat));
		if (!flat) {
			rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
			goto out;
		}
		params_layout_init(flat);
		params_add(flat, "x", 1, shape);
		layout = flat;
		json_writer_null(&specw);
	}
	r0 = objective_r0(obj, &S);
	json_writer_array_begin(&r0w);
	for (size_t i = 0; r0 && i < S; i++)
		json_writer_double(&r0w, r0[i]);
	json_writer_array_end(&r0w);
	rc = json_writer_status(&r0w, err);
	if (rc == 0)
		rc = json_writer_status(&specw, err);
	yaml = config_to_yaml(cfg);
	if (rc == 0 && !yaml)
		rc = randes_errf(err, RANDES_ENOMEM, "out of memory");
	if (rc)
		goto out;
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)cfg->run.seed);
	snprintf(gen, sizeof(gen), "%llu", (unsigned long long)generation);
	kv[n++] = (struct safetensors_kv){"format", "randes"};
	kv[n++] = (struct safetensors_kv){"randes_version", RANDES_VERSION};
	kv[n++] = (struct safetensors_kv){"task",
					  config_task_kind_name(cfg->task.kind)};
	kv[n++] = (struct safetensors_kv){
		"variant", config_variant_name(cfg->objective.variant)};
	kv[n++] = (struct safetensors_kv){"run_seed", seed};
	kv[n++] = (struct safetensors_kv){"r0", r0w.buf};
	kv[n++] = (struct safetensors_kv){"generation", gen};
	kv[n++] = (struct safetensors_kv){"model", specw.buf};
	kv[n++] = (struct safetensors_kv){"config", yaml};
	rc = safetensors_write(path, layout, theta, kv, n, err);
out:
	free(yaml);
	free(flat);
	json_writer_free(&r0w);
	json_writer_free(&specw);
	objective_free(obj);
	return rc;
}

int finish_run(struct comm *c, const struct config *cfg, const char *run_dir,
	       const float *theta, size_t D, uint64_t generation, int evaluate,
	       int *evaluated, char *err)
{
	int rc = 0;

	*evaluated = 0;
	if (c->rank == 0) {
		char path[RUNDIR_PATH_MAX];
		rc = rundir_path(path, run_dir, "model.safetensors", err);
		if (rc == 0)
			rc = export_model(cfg, theta, D, generation, path, err);
	}
	rc = -comm_max_int(c, -rc);
	if (rc || !evaluate)
		return rc;
	rc = eval_run(c, cfg, run_dir, theta, D, NULL, err);
	if (rc == 0)
		*evaluated = 1;
	return rc;
}

/* 1 if path is a regular file (an exported model), else 0. */
static int path_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The model of a run's checkpoint: its θ average (es.theta_ema) if it holds
 * one, else es.theta.  *theta points into ck or at *owned (free it).
 */
static int checkpoint_model(const struct checkpoint *ck, const char *run_dir,
			    const float **theta, float **owned, char *err)
{
	const struct checkpoint_section *s =
		checkpoint_section_find(ck, ES_SECTION_AVG);

	*theta = NULL;
	*owned = NULL;
	if (s) {
		if (s->type != CHECKPOINT_TYPE_F64 || s->count != ck->dim)
			return randes_errf(err, RANDES_EDATA,
					   "%s: the checkpoint's %s section "
					   "is not %llu f64 values",
					   run_dir, ES_SECTION_AVG,
					   (unsigned long long)ck->dim);
		float *m = malloc(sizeof(float) * (size_t)ck->dim);
		if (!m)
			return randes_errf(err, RANDES_ENOMEM,
					   "out of memory for the model");
		for (uint64_t i = 0; i < ck->dim; i++)
			m[i] = (float)((const double *)s->data)[i];
		*theta = *owned = m;
		return 0;
	}
	s = checkpoint_section_find(ck, "es.theta");
	if (!s || s->type != CHECKPOINT_TYPE_F32 || s->count != ck->dim)
		return randes_errf(err, RANDES_EDATA,
				   "%s: the checkpoint has no usable es.theta "
				   "section",
				   run_dir);
	*theta = s->data;
	return 0;
}

int eval_command(struct comm *c, const char *run_dir,
		 const struct eval_options *o, char *err)
{
	struct config cfg;
	struct checkpoint ck;
	struct eval_options eo = *o;
	char warn[RANDES_ERR_LEN] = "", out_path[RUNDIR_PATH_MAX];
	char *yaml = NULL;
	const float *theta = NULL;
	float *exported = NULL;
	uint64_t D = 0;
	int rc = 0, is_file = 0;

	checkpoint_init(&ck);
	if (c->rank == 0 && (is_file = path_is_file(run_dir)) == 1) {
		/* An exported model: evaluate it where it lies. */
		size_t d = 0;
		rc = modelfile_load(run_dir, &cfg, &exported, &d, err);
		theta = exported;
		D = d;
		if (rc == 0 && !eo.out) {
			snprintf(out_path, sizeof(out_path), "%s.eval.json",
				 run_dir);
			eo.out = out_path;
		}
	} else if (c->rank == 0) {
		rc = rundir_load(run_dir, &cfg, &ck, warn, err);
		if (rc == 0) {
			if (warn[0])
				log_msg(LOG_WARN, "%s", warn);
			rc = checkpoint_model(&ck, run_dir, &theta, &exported,
					      err);
			D = ck.dim;
		}
	}
	if (c->rank == 0) {
		/* Evaluation settings may be overridden; nothing that changes
		 * the model or what it was trained on.  The colouring
		 * arithmetic may: a model trained with one is evaluated with
		 * either (e.g. an older model's figures reproduced with
		 * double). */
		for (size_t i = 0; rc == 0 && i < o->n_sets; i++) {
			const char *k = o->sets[i];
			if (strncmp(k, "eval.", 5) != 0 &&
			    strncmp(k, "task.eval_", 10) != 0 &&
			    strncmp(k, "task.coloring_numerics=", 23) != 0)
				rc = randes_errf(err, RANDES_EUSAGE,
						 "--set %s: only eval.*, "
						 "task.eval_* and "
						 "task.coloring_numerics may "
						 "be changed for an "
						 "evaluation",
						 k);
			else
				rc = config_apply_override(&cfg, k, err);
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
	rc = eval_run(c, &cfg, run_dir, theta, (size_t)D, &eo, err);
out:
	free(exported);
	free(yaml);
	checkpoint_free(&ck);
	return rc;
}

int export_command(const char *run_dir, const char *out, char *err)
{
	struct config cfg;
	struct checkpoint ck;
	char warn[RANDES_ERR_LEN] = "";
	const float *theta;
	float *owned = NULL;
	int rc;

	checkpoint_init(&ck);
	rc = rundir_load(run_dir, &cfg, &ck, warn, err);
	if (rc)
		goto out;
	if (warn[0])
		log_msg(LOG_WARN, "%s", warn);
	rc = checkpoint_model(&ck, run_dir, &theta, &owned, err);
	if (rc)
		goto out;
	rc = export_model(&cfg, theta, (size_t)ck.dim, ck.generation, out,
			  err);
	if (rc == 0)
		printf("randes export: %s (generation %llu of %s)\n", out,
		       (unsigned long long)ck.generation, run_dir);
out:
	free(owned);
	checkpoint_free(&ck);
	return rc;
}
