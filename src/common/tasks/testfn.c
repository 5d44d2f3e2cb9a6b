/*
 * testfn: the model-free tasks sphere and rastrigin.  Their "input" is
 * theta itself (D = task.dim numbers), there is one input and one seed, and
 * the loss is the function value, so the ES machinery can be checked
 * against known optima without a transformer.  Success is f(theta) < 1e-4.
 */
#include "common/tasks/task.h"

#include <math.h>

#include "common/err.h"

double testfn_sphere(const float *x, size_t n)
{
	double s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += (double)x[i] * (double)x[i];
	return s;
}

double testfn_rastrigin(const float *x, size_t n)
{
	const double two_pi = 6.283185307179586476925286766559;
	double s = 10.0 * (double)n;

	for (size_t i = 0; i < n; i++) {
		double v = (double)x[i];
		s += v * v - 10.0 * cos(two_pi * v);
	}
	return s;
}

static int testfn_init(struct task *t, const struct config *cfg, char *err)
{
	if (cfg->task.dim < 1 || cfg->task.dim > (1u << 24))
		return randes_errf(err, RANDES_ECONFIG,
				   "task.dim: expected 1..%u, got %u",
				   1u << 24, cfg->task.dim);
	t->dim = cfg->task.dim;
	t->has_model = 0;
	t->target_len = 0;
	t->n_prob = 0;
	t->dump_rows = 0;
	t->mask_len = 0;
	t->has_sampled = 0;
	t->n_adversary = 1;
	t->n_eval_full = 1;
	t->eval_set_size = 1;
	t->eval_is_sample = 0;
	return 0;
}

/* There is nothing to generate: the one input is theta. */
static void testfn_make_train(const struct task *t, uint64_t run_seed,
			      uint32_t g, uint64_t k, int exhaustive,
			      struct task_inputs *in, size_t slot)
{
}

static void testfn_make_eval(const struct task *t, uint64_t run_seed,
			     uint64_t k, struct task_inputs *in, size_t slot)
{
}

static double sphere_loss(const struct task *t, const float *theta, size_t n)
{
	RANDES_ASSERT(n == t->dim);
	return testfn_sphere(theta, n);
}

static double rastrigin_loss(const struct task *t, const float *theta,
			     size_t n)
{
	RANDES_ASSERT(n == t->dim);
	return testfn_rastrigin(theta, n);
}

const struct task_ops task_ops_sphere = {
	.name = "sphere",
	.init = testfn_init,
	.make_train = testfn_make_train,
	.make_eval = testfn_make_eval,
	.run = NULL,
	.score = NULL,
	.direct_loss = sphere_loss,
};

const struct task_ops task_ops_rastrigin = {
	.name = "rastrigin",
	.init = testfn_init,
	.make_train = testfn_make_train,
	.make_eval = testfn_make_eval,
	.run = NULL,
	.score = NULL,
	.direct_loss = rastrigin_loss,
};
