/*
 * evaluate: the evaluation protocol (see evaluate.h; every figure is
 * defined in docs/tasks.md).  Inputs are evaluated one at a time with all K
 * seeds in one model call, so a record never depends on which other inputs
 * shared a call, and the records of any split of a range are bitwise equal.
 */
#include "common/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/rng.h"
#include "common/stats.h"

struct evaluator {
	struct objective *obj;      /* borrowed                              */
	const struct task *task;
	struct config_eval ecfg;
	uint64_t run_seed;
	size_t K, S, P;             /* seeds, floats per seed, probs per seq */
	uint64_t n_inputs;          /* after eval.max_inputs                 */
	uint64_t n_full;            /* task->n_eval_full                     */
	float *seeds;               /* (K, S)                                */
	struct task_inputs *in;     /* one slot                              */
	struct task_ws *ws;         /* capacity min(K, OBJECTIVE_CHUNK_SEQS) */
	float *loss;                /* (K)                                   */
	uint8_t *success;           /* (K)                                   */
	uint64_t *code;             /* (K)                                   */
	double *sampled;            /* (K)                                   */
	float *prob;                /* (K, P)                                */
	uint32_t *perm;             /* (K) majority draws                    */
	uint64_t *vote_code;        /* (K)                                   */
	uint8_t *vote_ok;           /* (K)                                   */
	uint64_t *vote_scratch;     /* (K)                                   */
};

int evaluate_new(struct evaluator **out, struct objective *obj,
		 const struct config_eval *ecfg, char *err)
{
	struct evaluator *ev = NULL;
	const struct task *t = obj->task;
	size_t K, cap;
	int rc;

	*out = NULL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		goto nomem;
	ev->obj = obj;
	ev->task = t;
	ev->ecfg = ecfg ? *ecfg : obj->cfg.eval;
	ev->run_seed = obj->cfg.run.seed;
	if (ev->ecfg.n_majority > CONFIG_MAX_MAJORITY) {
		rc = randes_errf(err, RANDES_ECONFIG,
				 "eval.majority: at most %d vote sizes",
				 CONFIG_MAX_MAJORITY);
		goto fail;
	}
	for (unsigned i = 0; i < ev->ecfg.n_majority; i++) {
		if (ev->ecfg.majority[i] < 1) {
			rc = randes_errf(err, RANDES_ECONFIG,
					 "eval.majority: vote sizes must be "
					 ">= 1");
			goto fail;
		}
	}
	if (!t->has_model || obj->uses_r0) {
		K = 1;
	} else {
		K = ev->ecfg.seeds;
		if (K < 1) {
			rc = randes_errf(err, RANDES_ECONFIG,
					 "eval.seeds: expected >= 1, got 0");
			goto fail;
		}
	}
	ev->K = K;
	for (unsigned i = 0; i < ev->ecfg.n_majority; i++) {
		uint32_t v = ev->ecfg.majority[i];
		if (v > 1 && v < K && ev->ecfg.majority_draws == 0) {
			rc = randes_errf(err, RANDES_ECONFIG,
					 "eval.majority_draws: expected >= 1 "
					 "for majority %u < %zu seeds", v, K);
			goto fail;
		}
	}
	ev->S = t->has_model ? obj->seed_size : 0;
	ev->P = t->n_prob;
	ev->n_full = t->n_eval_full;
	if (ev->n_full > UINT32_MAX) {
		/* stream indices (fillings, samples, majority draws) are
		 * 32-bit */
		rc = randes_errf(err, RANDES_ECONFIG,
				 "evaluate: the %s evaluation set has %llu "
				 "inputs, more than 2^32; lower "
				 "task.eval_fillings or task.value_bits",
				 task_name(t), (unsigned long long)ev->n_full);
		goto fail;
	}
	ev->n_inputs = ev->n_full;
	if (ev->ecfg.max_inputs > 0 && ev->ecfg.max_inputs < ev->n_full)
		ev->n_inputs = ev->ecfg.max_inputs;

	ev->seeds = calloc(K * (ev->S ? ev->S : 1), sizeof(float));
	ev->loss = calloc(K, sizeof(float));
	ev->success = calloc(K, 1);
	ev->code = calloc(K, sizeof(uint64_t));
	ev->sampled = calloc(K, sizeof(double));
	ev->prob = calloc(K * (ev->P ? ev->P : 1), sizeof(float));
	ev->perm = calloc(K, sizeof(uint32_t));
	ev->vote_code = calloc(K, sizeof(uint64_t));
	ev->vote_ok = calloc(K, 1);
	ev->vote_scratch = calloc(K, sizeof(uint64_t));
	if (!ev->seeds || !ev->loss || !ev->success || !ev->code ||
	    !ev->sampled || !ev->prob || !ev->perm || !ev->vote_code ||
	    !ev->vote_ok || !ev->vote_scratch)
		goto nomem;
	if (t->has_model) {
		ev->in = task_inputs_new(t, 1);
		cap = K < OBJECTIVE_CHUNK_SEQS ? K : OBJECTIVE_CHUNK_SEQS;
		ev->ws = task_ws_new(t, &obj->model, cap);
		if (!ev->in || !ev->ws)
			goto nomem;
		if (obj->uses_r0) {
			memcpy(ev->seeds, obj->r0, ev->S * sizeof(float));
		} else {
			for (size_t j = 0; j < K; j++) {
				struct rng_stream s;
				rng_stream_init(&s, ev->run_seed,
						RNG_PURPOSE_EVAL_SEEDS, 0,
						(uint32_t)j);
				model_seed_sample(&obj->model, &s,
						  ev->seeds + j * ev->S);
			}
		}
	}
	*out = ev;
	return 0;
nomem:
	rc = randes_errf(err, RANDES_ENOMEM, "evaluate: out of memory");
fail:
	evaluate_free(ev);
	return rc;
}

void evaluate_free(struct evaluator *ev)
{
	if (!ev)
		return;
	task_inputs_free(ev->in);
	task_ws_free(ev->ws);
	free(ev->seeds);
	free(ev->loss);
	free(ev->success);
	free(ev->code);
	free(ev->sampled);
	free(ev->prob);
	free(ev->perm);
	free(ev->vote_code);
	free(ev->vote_ok);
	free(ev->vote_scratch);
	free(ev);
}

uint64_t evaluate_n_inputs(const struct evaluator *ev)
{
	return ev->n_inputs;
}

size_t evaluate_n_seeds(const struct evaluator *ev)
{
	return ev->K;
}

/* Index k of the thinned set -> floor(k * n_full / n_inputs), computed
 * without overflowing 64 bits. */
static uint64_t source_index(const struct evaluator *ev, uint64_t k)
{
	uint64_t n = ev->n_inputs, q = ev->n_full / n, r = ev->n_full % n;

	if (n == ev->n_full)
		return k;
	return k * q + (k * r) / n;
}

double evaluate_majority(const uint64_t *code, const uint8_t *ok, size_t K,
			 uint32_t v, uint32_t draws, struct rng_stream *s,
			 uint32_t *perm, uint64_t *vote_code,
			 uint8_t *vote_ok, uint64_t *scratch)
{
	double credit = 0.0;

	if (v > K || v == 0)
		return NAN;
	if (v == 1) {
		for (size_t j = 0; j < K; j++)
			credit += ok[j];
		return credit / (double)K;
	}
	if (v == K)
		return stats_mode_credit(code, ok, K, scratch);
	RANDES_ASSERT(draws > 0);
	for (size_t j = 0; j < K; j++)
		perm[j] = (uint32_t)j;
	for (uint32_t d = 0; d < draws; d++) {
		for (uint32_t i = 0; i < v; i++) {
			uint32_t r = i + rng_below(s, (uint32_t)(K - i));
			uint32_t tmp = perm[i];
			perm[i] = perm[r];
			perm[r] = tmp;
			vote_code[i] = code[perm[i]];
			vote_ok[i] = ok[perm[i]];
		}
		credit += stats_mode_credit(vote_code, vote_ok, v, scratch);
	}
	return credit / (double)draws;
}

/* The majority figure of vote size v for the outcomes in ev's buffers;
 * draws from stream (run_seed, EVAL_DRAWS, v, source). */
static double majority_of(struct evaluator *ev, uint32_t v, uint64_t source)
{
	struct rng_stream s;

	RANDES_ASSERT(source <= UINT32_MAX);
	rng_stream_init(&s, ev->run_seed, RNG_PURPOSE_EVAL_DRAWS, v,
			(uint32_t)source);
	return evaluate_majority(ev->code, ev->success, ev->K, v,
				 ev->ecfg.majority_draws, &s, ev->perm,
				 ev->vote_code, ev->vote_ok, ev->vote_scratch);
}

/* Condenses the K outcomes now in ev's buffers into *r. */
static void condense(struct evaluator *ev, uint64_t k, uint64_t source,
		     struct eval_record *r)
{
	size_t K = ev->K, P = ev->P;
	double sl = 0.0, ss = 0.0, sp = 0.0, var = 0.0;

	memset(r, 0, sizeof(*r));
	r->input = k;
	r->source = source;
	r->seeds = (uint32_t)K;
	r->n_majority = ev->ecfg.n_majority;
	for (size_t j = 0; j < K; j++) {
		sl += (double)ev->loss[j];
		ss += ev->success[j];
		sp += ev->sampled[j];
	}
	r->loss = sl / (double)K;
	r->success = ss / (double)K;
	r->sampled = ev->task->has_sampled ? sp / (double)K : NAN;
	/* Variance over seeds (divisor K) of each output probability, then
	 * the mean over outputs. */
	for (size_t u = 0; u < P; u++) {
		double mu = 0.0, v = 0.0;
		for (size_t j = 0; j < K; j++)
			mu += (double)ev->prob[j * P + u];
		mu /= (double)K;
		for (size_t j = 0; j < K; j++) {
			double dlt = (double)ev->prob[j * P + u] - mu;
			v += dlt * dlt;
		}
		var += v / (double)K;
	}
	r->pred_var = P ? var / (double)P : 0.0;
	for (unsigned i = 0; i < CONFIG_MAX_MAJORITY; i++)
		r->majority[i] = NAN;
	for (unsigned i = 0; i < ev->ecfg.n_majority; i++)
		r->majority[i] = majority_of(ev, ev->ecfg.majority[i], source);
}

int evaluate_range(struct evaluator *ev, const float *theta, uint64_t k0,
		   uint64_t count, struct eval_record *rec, char *err)
{
	const struct task *t = ev->task;
	struct objective *obj = ev->obj;
	int rc;

	if (k0 > ev->n_inputs || count > ev->n_inputs - k0)
		return randes_errf(err, RANDES_ESTATE,
				   "evaluate: range [%llu, %llu) past the %llu "
				   "evaluation inputs",
				   (unsigned long long)k0,
				   (unsigned long long)(k0 + count),
				   (unsigned long long)ev->n_inputs);
	for (uint64_t c = 0; c < count; c++) {
		uint64_t k = k0 + c, src = source_index(ev, k);

		if (t->has_model) {
			struct task_out to = {
				.loss = ev->loss,
				.success = ev->success,
				.code = ev->code,
				.sampled = ev->sampled,
				.prob = ev->P ? ev->prob : NULL,
			};
			task_fill_eval(t, ev->run_seed, src, ev->in, 0);
			rc = task_run(t, &obj->model, theta, ev->in, 0, 1,
				      ev->seeds, ev->K, ev->ws, &to, err);
			if (rc < 0)
				return rc;
		} else {
			double f = task_direct_loss(t, theta, obj->n_params);
			ev->loss[0] = (float)f;
			ev->success[0] = f < OBJECTIVE_TESTFN_SUCCESS;
			ev->code[0] = 0;
			ev->sampled[0] = NAN;
		}
		condense(ev, k, src, &rec[c]);
		if (!t->has_model)
			rec[c].loss = task_direct_loss(t, theta, obj->n_params);
	}
	return 0;
}

/* mean, lower 5th percentile and min of x[0..n) (sorted in place). */
static struct eval_figure figure_up(double *x, size_t n)
{
	struct eval_figure f;

	f.mean = stats_mean(x, n);
	stats_sort(x, n);
	f.p5 = stats_percentile_sorted(x, n, 5.0);
	f.worst = n ? x[0] : NAN;
	/* a NaN anywhere makes the worst case NaN, not a silent minimum */
	if (n && isnan(x[n - 1]))
		f.worst = NAN;
	return f;
}

/* mean and lower 95th percentile of x[0..n) (sorted in place). */
static void mean_p95(double *x, size_t n, double *mean, double *p95)
{
	*mean = stats_mean(x, n);
	stats_sort(x, n);
	*p95 = stats_percentile_sorted(x, n, 95.0);
}

void evaluate_summary_init(const struct evaluator *ev,
			   struct eval_summary *sum)
{
	const struct config *cfg = &ev->obj->cfg;

	memset(sum, 0, sizeof(*sum));
	snprintf(sum->task, sizeof(sum->task), "%s", task_name(ev->task));
	snprintf(sum->variant, sizeof(sum->variant), "%s",
		 config_variant_name(cfg->objective.variant));
	sum->set_size = ev->task->eval_set_size;
	sum->is_sample = ev->task->eval_is_sample;
	sum->is_thinned = ev->n_inputs < ev->n_full;
	sum->seeds = (uint32_t)ev->K;
	sum->uses_r0 = ev->obj->uses_r0;
	sum->has_sampled = ev->task->has_sampled;
	sum->has_reward = ev->task->kind == TASK_KIND_GRIDWORLD;
	sum->n_majority = ev->ecfg.n_majority;
	for (unsigned m = 0; m < ev->ecfg.n_majority; m++) {
		sum->majority_k[m] = ev->ecfg.majority[m];
		sum->majority_valid[m] = ev->ecfg.majority[m] <= ev->K;
	}
}

static const struct eval_figure no_figure = {NAN, NAN, NAN};

int evaluate_summary_compute(struct eval_summary *sum,
			     const struct eval_record *rec, size_t n,
			     char *err)
{
	uint64_t counts[EVAL_HIST_BINS];
	double *x;

	sum->n_inputs = n;
	if (n == 0)
		return randes_errf(err, RANDES_ESTATE,
				   "evaluate: nothing to summarise");
	x = malloc(n * sizeof(double));
	if (!x)
		return randes_errf(err, RANDES_ENOMEM,
				   "evaluate: out of memory");

	for (size_t i = 0; i < n; i++)
		x[i] = rec[i].success;
	stats_histogram(x, n, 0.0, 1.0, EVAL_HIST_BINS, counts);
	for (size_t b = 0; b < EVAL_HIST_BINS; b++)
		sum->hist[b] = (double)counts[b] / (double)n;
	sum->success = figure_up(x, n);

	for (unsigned m = 0; m < sum->n_majority; m++) {
		if (!sum->majority_valid[m]) {
			sum->majority[m] = no_figure;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			x[i] = rec[i].majority[m];
		sum->majority[m] = figure_up(x, n);
	}

	sum->sampled = no_figure;
	if (sum->has_sampled) {
		for (size_t i = 0; i < n; i++)
			x[i] = rec[i].sampled;
		sum->sampled = figure_up(x, n);
	}

	for (size_t i = 0; i < n; i++)
		x[i] = rec[i].pred_var;
	mean_p95(x, n, &sum->var_mean, &sum->var_p95);

	/* How much the seed changes the answers, whatever the probabilities'
	 * scale: 0 when every seed agrees, 1/4 when half succeed. */
	for (size_t i = 0; i < n; i++)
		x[i] = rec[i].success * (1.0 - rec[i].success);
	mean_p95(x, n, &sum->dis_mean, &sum->dis_p95);

	for (size_t i = 0; i < n; i++)
		x[i] = rec[i].loss;
	mean_p95(x, n, &sum->loss_mean, &sum->loss_p95);
	sum->loss_worst = x[n - 1];

	sum->reward = no_figure;
	if (sum->has_reward) {
		for (size_t i = 0; i < n; i++)
			x[i] = -rec[i].loss;
		sum->reward = figure_up(x, n);
	}
	free(x);
	return 0;
}

int evaluate_summarize(const struct evaluator *ev,
		       const struct eval_record *rec, size_t n,
		       struct eval_summary *sum, char *err)
{
	evaluate_summary_init(ev, sum);
	return evaluate_summary_compute(sum, rec, n, err);
}

static void json_figure(struct json_writer *w, const char *name,
			const struct eval_figure *g)
{
	json_writer_key(w, name);
	json_writer_object_begin(w);
	json_writer_key(w, "average");
	json_writer_double(w, g->mean);
	json_writer_key(w, "p5");
	json_writer_double(w, g->p5);
	json_writer_key(w, "worst");
	json_writer_double(w, g->worst);
	json_writer_object_end(w);
}

/* "name": {"average": mean, "p95": p95} */
static void json_mean_p95(struct json_writer *w, const char *name,
			  double mean, double p95)
{
	json_writer_key(w, name);
	json_writer_object_begin(w);
	json_writer_key(w, "average");
	json_writer_double(w, mean);
	json_writer_key(w, "p95");
	json_writer_double(w, p95);
	json_writer_object_end(w);
}

int evaluate_write_json(const struct eval_summary *s, FILE *f)
{
	struct json_writer w;
	int rc;

	json_writer_init(&w);
	json_writer_object_begin(&w);
	json_writer_key(&w, "task");
	json_writer_string(&w, s->task);
	json_writer_key(&w, "variant");
	json_writer_string(&w, s->variant);
	json_writer_key(&w, "eval_set");
	json_writer_object_begin(&w);
	json_writer_key(&w, "inputs");
	json_writer_uint(&w, s->n_inputs);
	json_writer_key(&w, "full_size");
	if (s->set_size == UINT64_MAX)
		json_writer_null(&w);
	else
		json_writer_uint(&w, s->set_size);
	json_writer_key(&w, "kind");
	json_writer_string(&w, s->is_sample    ? "sample"
			       : s->is_thinned ? "subset"
					       : "all");
	json_writer_object_end(&w);
	json_writer_key(&w, "seeds");
	json_writer_uint(&w, s->seeds);
	json_writer_key(&w, "uses_r0");
	json_writer_bool(&w, s->uses_r0);
	json_figure(&w, "success", &s->success);
	json_writer_key(&w, "majority");
	json_writer_array_begin(&w);
	for (unsigned m = 0; m < s->n_majority; m++) {
		if (!s->majority_valid[m])
			continue; /* k > K: not measurable */
		json_writer_object_begin(&w);
		json_writer_key(&w, "k");
		json_writer_uint(&w, s->majority_k[m]);
		json_writer_key(&w, "average");
		json_writer_double(&w, s->majority[m].mean);
		json_writer_key(&w, "p5");
		json_writer_double(&w, s->majority[m].p5);
		json_writer_key(&w, "worst");
		json_writer_double(&w, s->majority[m].worst);
		json_writer_object_end(&w);
	}
	json_writer_array_end(&w);
	if (s->has_sampled) {
		json_figure(&w, "sampled", &s->sampled);
	} else {
		json_writer_key(&w, "sampled");
		json_writer_null(&w);
	}
	json_mean_p95(&w, "predictive_variance", s->var_mean, s->var_p95);
	json_mean_p95(&w, "seed_disagreement", s->dis_mean, s->dis_p95);
	json_writer_key(&w, "histogram");
	json_writer_object_begin(&w);
	json_writer_key(&w, "bin_width");
	json_writer_double(&w, 1.0 / EVAL_HIST_BINS);
	json_writer_key(&w, "fractions");
	json_writer_array_begin(&w);
	for (size_t b = 0; b < EVAL_HIST_BINS; b++)
		json_writer_double(&w, s->hist[b]);
	json_writer_array_end(&w);
	json_writer_object_end(&w);
	json_writer_key(&w, "loss");
	json_writer_object_begin(&w);
	json_writer_key(&w, "average");
	json_writer_double(&w, s->loss_mean);
	json_writer_key(&w, "p95");
	json_writer_double(&w, s->loss_p95);
	json_writer_key(&w, "worst");
	json_writer_double(&w, s->loss_worst);
	json_writer_object_end(&w);
	if (s->has_reward) {
		json_figure(&w, "reward", &s->reward);
	} else {
		json_writer_key(&w, "reward");
		json_writer_null(&w);
	}
	json_writer_object_end(&w);

	rc = json_writer_status(&w, NULL);
	if (rc == 0 && (fwrite(w.buf, 1, w.len, f) != w.len ||
			fputc('\n', f) == EOF || ferror(f)))
		rc = RANDES_EIO;
	json_writer_free(&w);
	return rc;
}

/* One CSV number: 10 significant digits, or nothing for NaN. */
static void csv_number(FILE *f, double x)
{
	if (!isnan(x))
		fprintf(f, ",%.10g", x);
	else
		fputc(',', f);
}

int evaluate_write_inputs_csv(const struct evaluator *ev,
			      const struct eval_record *rec, size_t n,
			      FILE *f)
{
	const char *const *names;
	size_t nl = task_eval_label_names(ev->task, &names);

	fputs("input,source", f);
	for (size_t i = 0; i < nl; i++)
		fprintf(f, ",%s", names[i]);
	fputs(",success,loss,sampled,pred_var", f);
	for (unsigned m = 0; m < ev->ecfg.n_majority; m++)
		fprintf(f, ",majority_%u", ev->ecfg.majority[m]);
	fputc('\n', f);
	for (size_t r = 0; r < n; r++) {
		const struct eval_record *e = &rec[r];
		uint64_t v[TASK_EVAL_LABELS];

		fprintf(f, "%llu,%llu", (unsigned long long)e->input,
			(unsigned long long)e->source);
		task_eval_labels(ev->task, e->source, v);
		for (size_t i = 0; i < nl; i++)
			fprintf(f, ",%llu", (unsigned long long)v[i]);
		csv_number(f, e->success);
		csv_number(f, e->loss);
		csv_number(f, e->sampled);
		csv_number(f, e->pred_var);
		for (unsigned m = 0; m < ev->ecfg.n_majority; m++)
			csv_number(f, e->majority[m]);
		fputc('\n', f);
	}
	return ferror(f) ? RANDES_EIO : 0;
}

static void table_row(FILE *f, const char *name, const struct eval_figure *g,
		      double scale)
{
	fprintf(f, "  %-22s %10.4f %10.4f %10.4f\n", name, g->mean * scale,
		g->p5 * scale, g->worst * scale);
}

int evaluate_write_table(const struct eval_summary *s, FILE *f)
{
	char name[40];

	fprintf(f, "evaluation: %s %s, %llu inputs (%s", s->task, s->variant,
		(unsigned long long)s->n_inputs,
		s->is_sample ? "random sample" :
		s->is_thinned ? "evenly spaced subset" : "the full set");
	if (s->set_size != UINT64_MAX)
		fprintf(f, " of %llu", (unsigned long long)s->set_size);
	fprintf(f, "), %u seed%s%s\n", s->seeds, s->seeds == 1 ? "" : "s",
		s->uses_r0 ? " (r0)" : "");
	fprintf(f, "  %-22s %10s %10s %10s\n", "figure (success %)",
		"average", "p5", "worst");
	table_row(f, "success", &s->success, 100.0);
	for (unsigned m = 0; m < s->n_majority; m++) {
		if (!s->majority_valid[m])
			continue;
		snprintf(name, sizeof(name), "majority(%u)", s->majority_k[m]);
		table_row(f, name, &s->majority[m], 100.0);
	}
	if (s->has_sampled)
		table_row(f, "sampled", &s->sampled, 100.0);
	if (s->has_reward)
		table_row(f, "reward (-moves)", &s->reward, 1.0);
	fprintf(f, "  %-22s %10s %10s %10s\n", "", "average", "p95", "worst");
	fprintf(f, "  %-22s %10.5f %10.5f %10.5f\n", "loss", s->loss_mean,
		s->loss_p95, s->loss_worst);
	fprintf(f, "  %-22s %10.5f %10.5f\n", "predictive variance",
		s->var_mean, s->var_p95);
	fprintf(f, "  %-22s %10.5f %10.5f\n", "seed disagreement",
		s->dis_mean, s->dis_p95);
	fputs("  success histogram (5 % bins, fraction of inputs):\n   ", f);
	for (size_t b = 0; b < EVAL_HIST_BINS; b++)
		fprintf(f, " %.3f", s->hist[b]);
	fputc('\n', f);
	return ferror(f) ? RANDES_EIO : 0;
}

void evaluate_dump_shape(const struct evaluator *ev, struct eval_dump *d)
{
	const struct task *t = ev->task;

	d->n_inputs = ev->n_inputs < EVAL_DUMP_INPUTS ? (size_t)ev->n_inputs
						      : EVAL_DUMP_INPUTS;
	d->n_seeds = ev->K < EVAL_DUMP_SEEDS ? ev->K : EVAL_DUMP_SEEDS;
	d->seq_len = t->io.seq_len;
	d->n_feat = t->io.feat;
	d->n_index = t->io.n_index;
	d->mask_len = t->mask_len;
	d->seed_size = ev->S;
	d->rows = t->dump_rows;
	d->out_dim = t->io.out_dim;
	d->target_len = t->target_len;
}

int evaluate_dump(struct evaluator *ev, const float *theta,
		  struct eval_dump *d, char *err)
{
	const struct task *t = ev->task;
	size_t nS = d->n_seeds, Lx = d->seq_len, F = d->n_feat;
	size_t NI = d->n_index, L = d->mask_len, Rw = d->rows;
	size_t O = d->out_dim, G = d->target_len;
	int rc;

	if (!t->has_model)
		return randes_errf(err, RANDES_ESTATE,
				   "evaluate: %s has no model to dump",
				   task_name(t));
	RANDES_ASSERT(nS <= ev->K);
	memcpy(d->seed, ev->seeds, nS * ev->S * sizeof(float));
	for (size_t i = 0; i < d->n_inputs; i++) {
		uint64_t src = source_index(ev, i);
		struct task_out to = {
			.loss = ev->loss,
			.success = ev->success,
			.dump_feat = d->feat + i * nS * Lx * F,
			.dump_index = NI ? d->index + i * nS * Lx * NI : NULL,
			.dump_logits = d->logits + i * nS * Rw * O,
			.dump_len = d->length + i * nS,
		};

		task_fill_eval(t, ev->run_seed, src, ev->in, 0);
		rc = task_run(t, &ev->obj->model, theta, ev->in, 0, 1,
			      ev->seeds, nS, ev->ws, &to, err);
		if (rc < 0)
			return rc;
		if (L)
			memcpy(d->mask + i * L * L, ev->in->mask, L * L);
		memcpy(d->target + i * G, ev->in->target,
		       G * sizeof(uint32_t));
		d->input[i] = src;
	}
	return 0;
}
