/*
 * bench-gen: one ES generation of a config, taken apart in one process on
 * one core, without MPI: the parts the daemon's metrics lump together.
 *
 *   prepare   objective_prepare: the generation's inputs, seeds and the
 *             model's plan of the batch (once per generation, every rank)
 *   noise     es_member_pair for every pair: the normals of eps_k and the
 *             two members (every rank, for its own pairs)
 *   score     objective_score of the P members and the centre (the
 *             forward passes and the objective)
 *   update    es_update_noise on rank 0 holding every pair's noise (as
 *             at -np 1: shaping, the step); "rebuild" is what a pair
 *             scored on another rank adds (its normals made again)
 *
 * Each is timed in CPU time of the thread (CLOCK_THREAD_CPUTIME_ID), so a
 * shared machine slows the wall clock but not these figures; medians over
 * the generations after a warm-up.  Prints one JSON object on the last line
 * of stdout.  scripts/bench runs it next to the daemon to split the ES
 * overhead (noise + update) out of the daemon's evaluation time.
 *
 * Usage: bench-gen CONFIG.yaml [--gens N] [--warmup N] [--set key=value]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/blas.h"
#include "common/config.h"
#include "common/err.h"
#include "common/es.h"
#include "common/model.h"
#include "common/objective.h"
#include "common/rng.h"

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench-gen: %s: %s\n", what, err);
	exit(2);
}

#define MAX_GENS 256

/* es_update_noise's source: every pair's noise, kept (pairs, D). */
static size_t kept_d;

static const float *kept_noise(const void *ctx, size_t k)
{
	return (const float *)ctx + k * kept_d;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *sets[32];
	size_t nsets = 0;
	int gens = 6, warm = 1;
	char err[RANDES_ERR_LEN];
	struct config cfg;
	struct objective *obj;
	struct es es;
	float *theta0, *noise, *plus, *minus, *fit, *kept;
	size_t D, P, pairs;
	double t_prep[MAX_GENS], t_noise[MAX_GENS], t_score[MAX_GENS];
	double t_upd[MAX_GENS], t_member[MAX_GENS], t_rebuild[MAX_GENS];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--gens") && i + 1 < argc)
			gens = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
			warm = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--set") && i + 1 < argc && nsets < 32)
			sets[nsets++] = argv[++i];
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else {
			fprintf(stderr, "usage: bench-gen CONFIG.yaml [--gens N] "
					"[--warmup N] [--set key=value]...\n");
			return 2;
		}
	}
	if (!path || gens < 1 || warm < 0 || gens + warm > MAX_GENS) {
		fprintf(stderr, "bench-gen: a config, --gens 1..%d\n", MAX_GENS);
		return 2;
	}
	blas_init();
	/* RANDES_ISA: the kernels another CPU would use, as in randes
	 * itself (docs/performance.md) */
	char ierr[RANDES_ERR_LEN];
	if (blas_isa_from_env(ierr) != 0) {
		fprintf(stderr, "%s: %s\n", argv[0], ierr);
		return 2;
	}
	if (config_load_file(&cfg, path, sets, nsets, err))
		die(path, err);
	if (objective_new(&obj, &cfg, err))
		die("objective", err);
	D = objective_n_params(obj);
	P = cfg.es.population;
	pairs = P / 2;
	theta0 = malloc(D * sizeof(float));
	noise = malloc(D * sizeof(float));
	plus = malloc(D * sizeof(float));
	minus = malloc(D * sizeof(float));
	fit = malloc(P * sizeof(float));
	kept = malloc(pairs * D * sizeof(float));
	if (!theta0 || !noise || !plus || !minus || !fit || !kept)
		die("memory", "out of memory");
	objective_init_theta(obj, theta0);
	if (es_init(&es, &cfg, theta0, D, err))
		die("es", err);

	for (int g = 0; g < warm + gens; g++) {
		struct es_view view;
		struct objective_score sc;
		struct es_stats st;
		double t0, tn = 0.0, ts = 0.0;
		int k = g - warm;

		es_view_get(&es, &cfg, (uint32_t)g, &view);
		t0 = cpu_now();
		if (objective_prepare(obj, (uint64_t)g, err))
			die("prepare", err);
		if (k >= 0)
			t_prep[k] = cpu_now() - t0;
		for (size_t p = 0; p < pairs; p++) {
			t0 = cpu_now();
			es_member_pair(&view, (uint32_t)p, kept + p * D, plus,
				       minus);
			tn += cpu_now() - t0;
			t0 = cpu_now();
			if (objective_score(obj, plus, &sc, err))
				die("score", err);
			fit[2 * p] = (float)sc.fitness;
			if (objective_score(obj, minus, &sc, err))
				die("score", err);
			fit[2 * p + 1] = (float)sc.fitness;
			ts += cpu_now() - t0;
		}
		t0 = cpu_now();
		if (objective_score(obj, view.center, &sc, err))
			die("score", err);
		ts += cpu_now() - t0;
		t0 = cpu_now();
		kept_d = D;
		es_update_noise(&es, &cfg, (uint32_t)g, fit, kept_noise, kept,
				&st);
		if (k >= 0)
			t_upd[k] = cpu_now() - t0;
		/* one pair's normals, as the update rebuilds them */
		t0 = cpu_now();
		rng_normal_fill(cfg.run.seed, RNG_PURPOSE_NOISE, (uint32_t)g, 0,
				noise, D);
		if (k >= 0) {
			t_rebuild[k] = cpu_now() - t0;
			t_noise[k] = tn;
			t_score[k] = ts;
			t_member[k] = ts / (double)(P + 1);
		}
	}
	{
		double prep = median(t_prep, gens), nz = median(t_noise, gens);
		double score = median(t_score, gens), upd = median(t_upd, gens);
		double mem = median(t_member, gens);
		double rebuild = median(t_rebuild, gens);
		double total = prep + nz + score + upd;
		double seqs = (double)obj->n_inputs * (double)obj->n_seeds;

		printf("bench-gen: %s, D = %zu, P = %zu, %zu x %zu sequences per "
		       "member, isa %s, fast path %s, CPU seconds per generation "
		       "on one core (median of %d after %d warm-up):\n",
		       path, D, P, obj->n_inputs, obj->n_seeds,
		       blas_isa_name(blas_isa_get()),
		       obj->task->has_model &&
				       model_ws_fast_path(obj->ws->mws) ? "on" : "off",
		       gens, warm);
		printf("  prepare %.4f  noise %.4f  score %.4f (%.2f ms/member)  "
		       "update %.4f  total %.4f  (rebuild %.1f us/pair)\n", prep,
		       nz, score, 1e3 * mem, upd, total, 1e6 * rebuild);
		printf("{\"bench\": \"gen\", \"config\": \"%s\", \"D\": %zu, "
		       "\"P\": %zu, \"seqs_per_member\": %.0f, "
		       "\"macs_per_seq\": %.0f, \"prepare\": %.6f, "
		       "\"noise\": %.6f, \"score\": %.6f, \"member\": %.6f, "
		       "\"update\": %.6f, \"rebuild\": %.8f, \"total\": %.6f}\n",
		       path, D, P, seqs,
		       obj->task->has_model
			       ? model_macs_per_sequence(&obj->model) : 0.0,
		       prep, nz, score, mem, upd, rebuild, total);
	}
	es_free(&es);
	objective_free(obj);
	free(theta0);
	free(noise);
	free(plus);
	free(minus);
	free(fit);
	free(kept);
	return 0;
}
