/*
 * bench-model: speed of the model's fast paths on the three tasks' models,
 * with realistic inputs, one BLAS thread, one core:
 *
 *   AR N=20     PAPER.md 2.2, 512 inputs x 30 seeds = 15,360 sequences
 *   colouring   PAPER.md 3.2, 256 cycles x 10 seeds = 2,560 sequences
 *   grid        PAPER.md 4.3 [I], roll-outs of 24 x 10 = 240 sequences,
 *               the seed token then 50 steps through the KV cache
 *
 * For each it prints sequences per second and the effective GFLOP/s,
 * 2 * model_macs_per_sequence * sequences / seconds: the paper's dense
 * count (every position through every layer, dense L x L attention), so
 * work the fast path skips (the last layer's non-final positions, the
 * shared embedding, causal halves) counts as done.  Medians of several
 * runs after a warm-up, for the default "ordered" kernel table and the
 * OpenBLAS one, next to OpenBLAS's large sgemm measured in the same run.
 * Not a test; scripts/bench runs it.
 *
 * Usage: bench-model [--quick] [--chunk N] [--runs N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/blas.h"
#include "common/err.h"
#include "common/model.h"
#include "common/rng.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
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

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		fprintf(stderr, "bench-model: out of memory\n");
		exit(3);
	}
	return p;
}

static struct config_model cfg_zero(void)
{
	struct config_model c;
	memset(&c, 0, sizeof(c));
	c.heads = 1;
	c.layers = 2;
	c.embedding_init_var = 1.0;
	c.weight_init_var = 1.0;
	return c;
}

static void must(int rc, const char *err)
{
	if (rc) {
		fprintf(stderr, "bench-model: %s\n", err);
		exit(2);
	}
}

/* One workload: a model, theta, and a function that runs it once. */
struct work {
	const char *name, *shape;
	struct model m;
	float *theta;
	size_t seqs;                  /* sequences per run               */
	/* full forward */
	struct model_batch batch;
	float *logits;
	/* roll-out */
	int rollout;
	size_t steps;
	float *seed, *feat;
	int32_t *index;
};

static void work_ar(struct work *w, size_t nin, size_t ns)
{
	struct config_model c = cfg_zero();
	struct model_io io = {.seq_len = 21, .feat = 25, .out_dim = 5,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_LAST};
	char err[RANDES_ERR_LEN];
	struct rng_stream st;
	float *feat, *seed;

	c.width = 40;
	c.key_size = 5;
	c.value_size = 5;
	c.input_embedding = MODEL_EMBED_MLP;
	c.seed_encoding.dim = 10;
	must(model_init(&w->m, &c, &io, err), err);
	w->name = "AR N=20";
	w->shape = "512 x 30 seeds";
	feat = xcalloc(nin * 21 * 25, sizeof(float));
	seed = xcalloc(ns * 10, sizeof(float));
	rng_stream_init(&st, 1, RNG_PURPOSE_TEST, 0, 0);
	for (size_t i = 0; i < nin; i++) {
		float *x = feat + i * 21 * 25; /* (21, 25): [e_key | value] */
		for (size_t t = 0; t < 20; t++) {
			x[t * 25 + t] = 1.0f;
			for (size_t v = 0; v < 5; v++)
				x[t * 25 + 20 + v] = rng_bit(&st);
		}
		x[20 * 25 + rng_below(&st, 20)] = 1.0f; /* query, no value */
	}
	for (size_t j = 0; j < ns; j++)
		model_seed_sample(&w->m, &st, seed + j * 10);
	w->batch = (struct model_batch){.n_inputs = nin, .n_seeds = ns,
					.feat = feat, .seed = seed};
	w->seqs = nin * ns;
}

static void work_c10(struct work *w, size_t nin, size_t ns)
{
	struct config_model c = cfg_zero();
	struct model_io io = {.seq_len = 10, .feat = 10, .out_dim = 3,
			      .mask = MODEL_MASK_GRAPH,
			      .output = MODEL_OUTPUT_EVERY};
	char err[RANDES_ERR_LEN];
	struct rng_stream st;
	float *feat, *seed;
	uint8_t *mask;

	c.width = 16;
	c.key_size = 16;
	c.value_size = 16;
	c.input_embedding = MODEL_EMBED_LINEAR;
	c.seed_encoding.kind = RSE_KIND_UNIFORM;
	c.seed_encoding.dim = 1;
	c.seed_encoding.placement = RSE_PLACEMENT_PER_TOKEN;
	c.embedding_init_var = 0.1;
	must(model_init(&w->m, &c, &io, err), err);
	w->name = "colouring C10";
	w->shape = "256 x 10 seeds";
	feat = xcalloc(nin * 10 * 10, sizeof(float));
	mask = xcalloc(nin * 100, 1);
	seed = xcalloc(ns * 10, sizeof(float));
	rng_stream_init(&st, 2, RNG_PURPOSE_TEST, 0, 0);
	for (size_t i = 0; i < nin; i++) {
		uint32_t perm[10];
		for (uint32_t v = 0; v < 10; v++) {
			feat[(i * 10 + v) * 10 + v] = 1.0f; /* one-hot vertex id */
			perm[v] = v;
		}
		rng_shuffle_u32(&st, perm, 10); /* a relabelled cycle */
		for (size_t k = 0; k < 10; k++) {
			uint32_t a = perm[k], b = perm[(k + 1) % 10];
			mask[i * 100 + a * 10 + b] = 1;
			mask[i * 100 + b * 10 + a] = 1;
		}
	}
	for (size_t j = 0; j < ns; j++)
		model_seed_sample(&w->m, &st, seed + j * 10);
	w->batch = (struct model_batch){.n_inputs = nin, .n_seeds = ns,
					.feat = feat, .seed = seed,
					.mask = mask};
	w->seqs = nin * ns;
}

static void work_grid(struct work *w, size_t n)
{
	struct config_model c = cfg_zero();
	struct model_io io = {.seq_len = 50, .feat = 1, .n_index = 2,
			      .index_vocab = 5, .out_dim = 4,
			      .mask = MODEL_MASK_CAUSAL,
			      .output = MODEL_OUTPUT_LAST};
	char err[RANDES_ERR_LEN];
	struct rng_stream st;

	c.width = 80;
	c.heads = 4;
	c.key_size = 10;
	c.value_size = 10;
	c.input_embedding = MODEL_EMBED_LINEAR;
	c.attention = MODEL_ATTENTION_SOFTMAX;
	c.mlp = 1;
	c.mlp_ratio = 4;
	c.layernorm = 1;
	c.positional = MODEL_POSITIONAL_LEARNED;
	c.seed_encoding.kind = RSE_KIND_NORMAL;
	c.seed_encoding.placement = RSE_PLACEMENT_FIRST_TOKEN;
	c.index_dim = 32;
	must(model_init(&w->m, &c, &io, err), err);
	w->name = "grid roll-out";
	w->shape = "24 x 10 seeds";
	w->rollout = 1;
	w->steps = 50;
	w->seqs = n;
	w->seed = xcalloc(n * 65, sizeof(float));
	w->feat = xcalloc(n * 50, sizeof(float));
	w->index = xcalloc(n * 50 * 2, sizeof(int32_t));
	rng_stream_init(&st, 3, RNG_PURPOSE_TEST, 0, 0);
	for (size_t b = 0; b < n; b++)
		model_seed_sample(&w->m, &st, w->seed + b * 65);
	for (size_t i = 0; i < n * 50; i++) {
		w->feat[i] = rng_below(&st, 25) ? -0.1f : 1.0f;
		w->index[2 * i] = (int32_t)rng_below(&st, 5);
		w->index[2 * i + 1] = (int32_t)rng_below(&st, 5);
	}
}

/* One run of the workload; returns seconds. */
static double work_run(struct work *w, struct model_ws *ws)
{
	double t0 = now();

	if (!w->rollout) {
		model_forward(&w->m, w->theta, &w->batch, ws, w->logits);
		return now() - t0;
	}
	model_rollout_begin(&w->m, w->theta, ws, w->seqs, w->seed, w->logits);
	for (size_t t = 0; t < w->steps; t++) {
		/* Step t's inputs, (B, F) and (B, NI), from the per-step arrays
		 * laid out (t, B, .). */
		model_rollout_step(&w->m, w->theta, ws, w->feat + t * w->seqs,
				   w->index + 2 * t * w->seqs, w->logits);
	}
	return now() - t0;
}

int main(int argc, char **argv)
{
	int quick = 0, runs = 7;
	const char *only = NULL, *only_variant = NULL;
	static const char *const model_key[] = {"ar", "c10", "grid"};
	size_t chunk = 256;
	struct work works[3];
	double r[64];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
			chunk = (size_t)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--model") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--variant") && i + 1 < argc)
			only_variant = argv[++i];
		else {
			fprintf(stderr, "usage: bench-model [--quick] [--chunk N] "
					"[--runs N] [--model ar|c10|grid] "
					"[--variant NAME]\n");
			return 2;
		}
	}
	if (quick)
		runs = 3;
	if (runs < 1 || runs > 64 || chunk < 1) {
		fprintf(stderr, "bench-model: --runs 1..64, --chunk >= 1\n");
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
	memset(works, 0, sizeof(works));
	work_ar(&works[0], 512, 30);
	work_c10(&works[1], 256, 10);
	work_grid(&works[2], 240);

	printf("bench-model: isa %s, OpenBLAS core '%s', one BLAS thread, "
	       "chunk %zu sequences,\n  medians of %d runs after a warm-up "
	       "(the machine is shared: numbers are noisy)\n",
	       blas_isa_name(blas_isa_get()), blas_corename(), chunk, runs);
	{
		const size_t n = quick ? 1024 : 2048;
		float *a = xcalloc(n * n, sizeof(float));
		float *b = xcalloc(n * n, sizeof(float));
		float *c = xcalloc(n * n, sizeof(float));
		int k = runs < 3 ? runs : 3;
		for (size_t i = 0; i < n * n; i++) {
			a[i] = (float)(i % 7) * 0.1f;
			b[i] = (float)(i % 5) * 0.1f;
		}
		blas_sgemm(n, n, n, a, n, b, n, 0.0f, c, n);
		for (int i = 0; i < k; i++) {
			double t0 = now();
			blas_sgemm(n, n, n, a, n, b, n, 0.0f, c, n);
			r[i] = 2.0 * (double)n * n * n / (now() - t0) * 1e-9;
		}
		printf("OpenBLAS sgemm %zu^3 (1 thread): %.1f GFLOP/s\n\n", n,
		       median(r, k));
		free(a);
		free(b);
		free(c);
	}
	printf("%-14s %-15s %-9s %9s %12s %10s %9s\n", "model", "batch",
	       "kernels", "MACs/seq", "seq/s", "GFLOP/s", "ms/run");
	for (int k = 0; k < 3; k++) {
		struct work *w = &works[k];
		if (only && strcmp(only, model_key[k]))
			continue;
		double macs = model_macs_per_sequence(&w->m);
		size_t per = w->m.spec.io.output == MODEL_OUTPUT_LAST
				     ? w->m.spec.io.out_dim
				     : w->m.spec.io.seq_len * w->m.spec.io.out_dim;

		w->theta = xcalloc(model_n_params(&w->m), sizeof(float));
		w->logits = xcalloc(w->seqs * per, sizeof(float));
		model_init_theta(&w->m, 42, w->theta);
		/* fast+plan: the attention-only fast path with the batch
		 * planned once (as objective_prepare does); fast: planning
		 * chunks itself; generic: the ordered kernels layer by layer;
		 * openblas: the generic path on cblas_sgemm. */
		static const char *const variant[] = {"fast+plan", "fast",
						      "generic", "openblas"};
		for (int v = 0; v < 4; v++) {
			size_t c = w->rollout ? w->seqs : chunk;
			struct model_ws *ws = model_ws_new(&w->m, c);
			double t;

			if (!ws) {
				fprintf(stderr, "bench-model: out of memory\n");
				return 3;
			}
			if (only_variant && strcmp(only_variant, variant[v])) {
				model_ws_free(ws);
				continue;
			}
			if (v < 2 && !model_ws_fast_path(ws)) {
				model_ws_free(ws);
				continue;
			}
			if (v == 0 && model_ws_plan(ws, &w->m, &w->batch)) {
				fprintf(stderr, "bench-model: out of memory\n");
				return 3;
			}
			if (v >= 2)
				model_ws_set_fast_path(ws, 0);
			if (v == 3)
				model_ws_set_kernels(ws, model_kernels_openblas());
			work_run(w, ws); /* warm-up */
			for (int i = 0; i < runs; i++)
				r[i] = work_run(w, ws);
			t = median(r, runs);
			printf("%-14s %-15s %-9s %9.0f %12.0f %10.1f %9.2f\n",
			       w->name, w->shape, variant[v], macs,
			       (double)w->seqs / t,
			       2.0 * macs * (double)w->seqs / t * 1e-9, 1e3 * t);
			model_ws_free(ws);
		}
		free(w->theta);
		free(w->logits);
	}
	return 0;
}
