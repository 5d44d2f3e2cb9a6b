/*
 * objective: L^q over inputs of the mean loss over m seeds, for one
 * generation's batch; the four variants E_r0, q_r0, E_R, q_R (see
 * objective.h for the formula and the streams).
 */
#include "common/objective.h"
#include "common/vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/rng.h"

/*
 * Sequences per task_run call: the whole batch when its logits fit
 * (recall N = 20 and C10: 0.3 MB), so that each member is one model call
 * and the model's fast path tabulates the batch's distinct tokens once per
 * member; the model works through the call in cache-sized chunks of its
 * own (task_ws_new).  Roll-out tasks keep OBJECTIVE_CHUNK_SEQS: their model
 * workspace holds a whole call.  A function of the config alone; and no
 * float depends on it anyway (every sequence is computed on its own).
 */
static size_t chunk_size(const struct objective *obj)
{
	size_t total = obj->n_inputs * obj->n_seeds;
	size_t per_seq = obj->task->dump_rows * obj->task->io.out_dim *
			 sizeof(float);
	size_t c = total;

	if (obj->task->kind == TASK_KIND_GRIDWORLD && c > OBJECTIVE_CHUNK_SEQS)
		c = OBJECTIVE_CHUNK_SEQS;
	if (c == 0)
		c = 1;
	for (;;) {
		size_t mc = c;
		if (obj->task->kind != TASK_KIND_GRIDWORLD &&
		    mc > MODEL_WS_CHUNK_SEQS)
			mc = MODEL_WS_CHUNK_SEQS;
		if (c == 1 || c * per_seq + model_ws_bytes(&obj->model, mc) <=
				      OBJECTIVE_WS_MAX_BYTES)
			break;
		c /= 2;
	}
	return c;
}

int objective_new(struct objective **out, const struct config *cfg,
		  char *err)
{
	struct objective *obj = NULL;
	struct rng_stream s;
	size_t n, m;
	int rc;

	*out = NULL;
	obj = calloc(1, sizeof(*obj));
	if (!obj)
		goto nomem;
	obj->cfg = *cfg;
	rc = task_new(&obj->task, cfg, err);
	if (rc < 0)
		goto fail;

	if (!obj->task->has_model) {
		/* sphere / rastrigin: theta is the point, one input, one
		 * seed, nothing to generate. */
		obj->n_params = obj->task->dim;
		obj->n_inputs = 1;
		obj->n_seeds = 1;
		obj->loss = calloc(1, sizeof(float));
		obj->success = calloc(1, 1);
		obj->row_mean = calloc(1, sizeof(double));
		if (!obj->loss || !obj->success || !obj->row_mean)
			goto nomem;
		*out = obj;
		return 0;
	}

	rc = model_init(&obj->model, &cfg->model, &obj->task->io, err);
	if (rc < 0)
		goto fail;
	rc = task_check_model(obj->task, &obj->model, err);
	if (rc < 0)
		goto fail;
	obj->n_params = model_n_params(&obj->model);
	obj->seed_size = obj->model.spec.seed_size;
	obj->uses_r0 = config_uses_r0(cfg);
	obj->exhaustive = cfg->objective.adversary == ADVERSARY_EXHAUSTIVE;
	n = task_train_count(obj->task, cfg);
	m = config_seeds_per_input(cfg);
	if (n == 0 || m == 0) {
		rc = randes_errf(err, RANDES_ECONFIG,
				 "objective: %s must be >= 1",
				 n == 0 ? "objective.inputs" : "objective.seeds");
		goto fail;
	}
	obj->n_inputs = n;
	obj->n_seeds = m;

	obj->inputs = task_inputs_new(obj->task, n);
	obj->seeds = calloc(m * obj->seed_size, sizeof(float));
	obj->r0 = calloc(obj->seed_size ? obj->seed_size : 1, sizeof(float));
	obj->loss = calloc(n * m, sizeof(float));
	obj->success = calloc(n * m, 1);
	obj->row_mean = calloc(n, sizeof(double));
	if (!obj->inputs || !obj->seeds || !obj->r0 || !obj->loss ||
	    !obj->success || !obj->row_mean)
		goto nomem;
	obj->chunk = chunk_size(obj);
	obj->ws = task_ws_new(obj->task, &obj->model, obj->chunk);
	if (!obj->ws)
		goto nomem;

	/* r0 is drawn whatever the variant, so that it is always on record
	 * (checkpoints and exports carry it). */
	rng_stream_init(&s, cfg->run.seed, RNG_PURPOSE_R0, 0, 0);
	model_seed_sample(&obj->model, &s, obj->r0);
	*out = obj;
	return 0;
nomem:
	rc = randes_errf(err, RANDES_ENOMEM, "objective: out of memory");
fail:
	objective_free(obj);
	return rc;
}

void objective_free(struct objective *obj)
{
	if (!obj)
		return;
	task_ws_free(obj->ws);
	task_inputs_free(obj->inputs);
	task_free(obj->task);
	free(obj->seeds);
	free(obj->r0);
	free(obj->loss);
	free(obj->success);
	free(obj->row_mean);
	free(obj);
}

size_t objective_n_params(const struct objective *obj)
{
	return obj->n_params;
}

void objective_init_theta(const struct objective *obj, float *theta)
{
	const struct task *t = obj->task;

	if (t->has_model) {
		model_init_theta(&obj->model, obj->cfg.run.seed, theta);
		return;
	}
	if (t->kind == TASK_KIND_SPHERE) {
		for (size_t i = 0; i < obj->n_params; i++)
			theta[i] = 3.0f;
		return;
	}
	/* rastrigin: the usual search box [-5.12, 5.12]^D */
	struct rng_stream s;
	rng_stream_init(&s, obj->cfg.run.seed, RNG_PURPOSE_INIT, 0, 0);
	for (size_t i = 0; i < obj->n_params; i++)
		theta[i] = (float)(-5.12 + 10.24 * (double)rng_uniform(&s));
}

int objective_prepare(struct objective *obj, uint64_t g, char *err)
{
	const struct config *cfg = &obj->cfg;
	uint32_t g32;

	if (g > UINT32_MAX)
		return randes_errf(err, RANDES_ESTATE,
				   "objective: generation %llu out of range",
				   (unsigned long long)g);
	g32 = (uint32_t)g;
	obj->q = config_q_at(cfg, g);
	RANDES_ASSERT(obj->q >= 1.0);
	if (obj->task->has_model) {
		task_fill_train(obj->task, cfg->run.seed, g32, obj->exhaustive,
				obj->inputs, obj->n_inputs);
		if (obj->uses_r0) {
			memcpy(obj->seeds, obj->r0,
			       obj->seed_size * sizeof(float));
		} else {
			for (size_t j = 0; j < obj->n_seeds; j++) {
				struct rng_stream s;
				rng_stream_init(&s, cfg->run.seed,
						RNG_PURPOSE_SEEDS, g32,
						(uint32_t)j);
				model_seed_sample(&obj->model, &s,
						  obj->seeds +
							  j * obj->seed_size);
			}
		}
		if (obj->chunk >= obj->n_inputs * obj->n_seeds) {
			/* One model call per member will see exactly this
			 * batch: plan its distinct tokens once. */
			struct model_batch b = {
				.n_inputs = obj->n_inputs,
				.n_seeds = obj->n_seeds,
				.feat = obj->inputs->feat,
				.index = obj->inputs->index,
				.seed = obj->seeds,
				.mask = obj->inputs->mask,
			};
			int rc = model_ws_plan(obj->ws->mws, &obj->model, &b);
			if (rc < 0)
				return randes_errf(err, rc, "objective: out of "
						   "memory planning generation "
						   "%llu", (unsigned long long)g);
		}
	}
	obj->generation = g;
	obj->prepared = 1;
	return 0;
}

void objective_row_means(const float *loss, size_t n, size_t m,
			 double *lbar)
{
	for (size_t i = 0; i < n; i++) {
		double s = 0.0;
		for (size_t j = 0; j < m; j++)
			s += (double)loss[i * m + j];
		lbar[i] = s / (double)m;
	}
}

double objective_pool(const double *lbar, size_t n, double q)
{
	double M = 0.0, s = 0.0;
	int any_inf = 0;

	RANDES_ASSERT(n > 0);
	RANDES_ASSERT(q >= 1.0);
	for (size_t i = 0; i < n; i++) {
		if (isnan(lbar[i]))
			return NAN;
		if (isinf(lbar[i]))
			any_inf = 1;
	}
	if (any_inf)
		return INFINITY;
	if (q == 1.0) {
		for (size_t i = 0; i < n; i++)
			s += lbar[i];
		return s / (double)n;
	}
	for (size_t i = 0; i < n; i++)
		if (lbar[i] > M)
			M = lbar[i];
	if (isinf(q) || M <= 0.0)
		return M;
	/* vmath_pow_unit, not pow: the fitness must have the same bits on
	 * every CPU of a cluster (docs/performance.md). */
	for (size_t i = 0; i < n; i++)
		s += vmath_pow_unit(lbar[i] / M, q);
	return M * vmath_pow_unit(s / (double)n, 1.0 / q);
}

int objective_score(struct objective *obj, const float *theta,
		    struct objective_score *out, char *err)
{
	size_t n = obj->n_inputs, m = obj->n_seeds;
	double sum = 0.0, ok = 0.0, worst = 0.0;
	int rc;

	if (!obj->prepared)
		return randes_errf(err, RANDES_ESTATE,
				   "objective: score before prepare");
	if (obj->task->has_model) {
		struct task_out to = {
			.loss = obj->loss,
			.success = obj->success,
		};
		rc = task_run(obj->task, &obj->model, theta, obj->inputs, 0,
			      n, obj->seeds, m, obj->ws, &to, err);
		if (rc < 0)
			return rc;
		objective_row_means(obj->loss, n, m, obj->row_mean);
	} else {
		/* Kept in double: near the optimum float would round. */
		double f = task_direct_loss(obj->task, theta, obj->n_params);
		obj->loss[0] = (float)f;
		obj->success[0] = f < OBJECTIVE_TESTFN_SUCCESS;
		obj->row_mean[0] = f;
	}
	for (size_t k = 0; k < n * m; k++) {
		sum += (double)obj->loss[k];
		ok += obj->success[k];
	}
	if (!obj->task->has_model)
		sum = obj->row_mean[0];
	for (size_t i = 0; i < n; i++) {
		double v = obj->row_mean[i];
		if (isnan(v) || isnan(worst))
			worst = NAN;
		else if (v > worst)
			worst = v;
	}
	out->q = obj->q;
	out->loss = objective_pool(obj->row_mean, n, obj->q);
	out->fitness = -out->loss;
	out->mean_loss = sum / (double)(n * m);
	out->success = ok / (double)(n * m);
	out->worst = worst;
	return 0;
}

const float *objective_r0(const struct objective *obj, size_t *seed_size)
{
	if (seed_size)
		*seed_size = obj->seed_size;
	return obj->r0;
}
