/*
 * associative_recall: PAPER.md section 2.1.  N tokens carry a one-hot key
 * and d value bits; a final query token carries the key of one of them and
 * no value; the model must output that token's value bits from the last
 * position.  Loss: BCE-with-logits averaged over the d bits; success: every
 * bit right.  Token layout and draw order: docs/tasks.md.
 */
#include "common/tasks/task.h"

#include <math.h>
#include <string.h>

#include "common/err.h"
#include "common/rng.h"
#include "common/vmath.h"

/*
 * The loss from the d values u_b = exp(-|z_b|): softplus(v) - y v =
 * max(+-v, 0) + log1p(u), and the d log1p terms are summed as one
 * log1p(q) with 1 + q = prod_b (1 + u_b), q accumulated as
 * q = (q + u) + q u (all terms >= 0, so no cancellation and tiny q keeps
 * its bits): loss = (lin + log1p(q)) / d.  This part gives lin and q.
 * Nothing branches on the data (random targets and signs would mispredict
 * half the time): the sign is 1 - 2 y, and max(w, 0) = (w + |w|) / 2
 * exactly (a NaN z makes q, and so the loss, NaN anyway).
 */
static void bce_lin_q(const float *z, const double *u, uint64_t target,
		      size_t d, double *lin_out, double *q_out)
{
	double lin = 0.0, q = 0.0;

	for (size_t b = 0; b < d; b++) {
		double y = (double)((target >> b) & 1u);
		double w = (double)z[b] * (1.0 - 2.0 * y);

		lin += (w + fabs(w)) * 0.5;
		q = (q + u[b]) + q * u[b];
	}
	*lin_out = lin;
	*q_out = q;
}

double recall_bce_mean(const float *z, uint64_t target, size_t d)
{
	double u[64], lin, q;

	RANDES_ASSERT(d <= 64);
	for (size_t b = 0; b < d; b++)
		u[b] = vmath_exp_neg(-fabs((double)z[b]));
	bce_lin_q(z, u, target, d, &lin, &q);
	return (lin + vmath_log1p_pos(q)) / (double)d;
}

uint64_t recall_code(const float *z, size_t d)
{
	uint64_t c = 0;

	for (size_t b = 0; b < d; b++)
		if (z[b] > 0.0f)
			c |= (uint64_t)1 << b;
	return c;
}

/* The logistic function, without overflow for large |v|. */
static double sigmoid(double v)
{
	if (v >= 0.0)
		return 1.0 / (1.0 + exp(-v));
	double e = exp(v);
	return e / (1.0 + e);
}

double recall_sampled_success(const float *z, uint64_t target, size_t d)
{
	double p = 1.0;

	for (size_t b = 0; b < d; b++) {
		double v = (double)z[b];
		p *= sigmoid(((target >> b) & 1u) ? v : -v);
	}
	return p;
}

/*
 * Writes one input into slot: token i (i < N) = [e_i | Y_i], token N =
 * [e_q | 0]; the target is (q, y).  Y is drawn as N*d bits, row-major, from
 * s, and row q is then overwritten by y.
 */
static void recall_write(const struct task *t, struct task_inputs *in,
			 size_t slot, uint32_t q, uint32_t y,
			 struct rng_stream *s)
{
	size_t N = t->n, d = t->bits, F = t->io.feat, Lx = t->io.seq_len;
	float *x = in->feat + slot * Lx * F; /* (Lx, F) */

	memset(x, 0, Lx * F * sizeof(float));
	for (size_t i = 0; i < N; i++) {
		x[i * F + i] = 1.0f;
		for (size_t b = 0; b < d; b++)
			x[i * F + N + b] = rng_bit(s);
	}
	for (size_t b = 0; b < d; b++)
		x[(size_t)q * F + N + b] = (float)((y >> b) & 1u);
	x[N * F + q] = 1.0f;
	in->target[slot * 2 + 0] = q;
	in->target[slot * 2 + 1] = y;
}

/* d fair bits as an integer, bit b from the b-th draw. */
static uint32_t draw_bits(struct rng_stream *s, size_t d)
{
	uint32_t y = 0;

	for (size_t b = 0; b < d; b++)
		if (rng_bit(s) != 0.0f)
			y |= 1u << b;
	return y;
}

static int recall_init(struct task *t, const struct config *cfg, char *err)
{
	const struct config_task *c = &cfg->task;
	uint64_t values, n_eval;

	if (c->num_tokens < 2 || c->num_tokens > 64)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.num_tokens: expected 2..64, got %u",
				   c->num_tokens);
	if (c->value_bits < 1 || c->value_bits > TASK_RECALL_MAX_BITS)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.value_bits: expected 1..%u, got %u",
				   TASK_RECALL_MAX_BITS, c->value_bits);
	values = (uint64_t)1 << c->value_bits;
	if (c->exhaustive_values < 1 || c->exhaustive_values > values)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.exhaustive_values: expected 1..%llu "
				   "(2^value_bits), got %u",
				   (unsigned long long)values,
				   c->exhaustive_values);
	if (c->eval_fillings < 1)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.eval_fillings: expected >= 1, got %u",
				   c->eval_fillings);
	t->n = c->num_tokens;
	t->bits = c->value_bits;
	t->exhaustive_values = c->exhaustive_values;
	t->fillings = c->eval_fillings;
	t->has_model = 1;
	t->io.seq_len = (size_t)t->n + 1;
	t->io.feat = (size_t)t->n + t->bits;
	t->io.n_index = 0;
	t->io.index_vocab = 0;
	t->io.out_dim = t->bits;
	t->io.mask = MODEL_MASK_CAUSAL;
	t->io.output = MODEL_OUTPUT_LAST;
	t->target_len = 2;
	t->n_prob = t->bits;
	t->dump_rows = 1;
	t->mask_len = 0;
	t->has_sampled = 1;
	t->n_adversary = (uint64_t)t->n * t->exhaustive_values;
	n_eval = (uint64_t)t->n * values * t->fillings;
	t->n_eval_full = n_eval;
	t->eval_set_size = n_eval;
	t->eval_is_sample = 0;
	if (cfg->objective.adversary == ADVERSARY_EXHAUSTIVE &&
	    t->n_adversary > TASK_EXHAUSTIVE_MAX)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.exhaustive_values: the exhaustive "
				   "set has %llu inputs (N x values), more "
				   "than %u; lower it",
				   (unsigned long long)t->n_adversary,
				   TASK_EXHAUSTIVE_MAX);
	return 0;
}

static void recall_make_train(const struct task *t, uint64_t run_seed,
			      uint32_t g, uint64_t k, int exhaustive,
			      struct task_inputs *in, size_t slot)
{
	struct rng_stream s;
	uint32_t q, y;

	RANDES_ASSERT(k <= UINT32_MAX);
	rng_stream_init(&s, run_seed, RNG_PURPOSE_INPUTS, g, (uint32_t)k);
	if (exhaustive) {
		/* k = position * values + value slot */
		q = (uint32_t)(k / t->exhaustive_values);
		if (t->exhaustive_values == (1u << t->bits))
			y = (uint32_t)(k % t->exhaustive_values);
		else
			y = draw_bits(&s, t->bits);
	} else {
		q = rng_below(&s, t->n);
		y = draw_bits(&s, t->bits);
	}
	recall_write(t, in, slot, q, y, &s);
}

/* Evaluation input k = (position * 2^d + value) * fillings + filling, as
 * v = (query position, query value, filling); the value as the integer
 * whose bit b is value bit b. */
static void recall_eval_labels(const struct task *t, uint64_t k, uint64_t *v)
{
	uint64_t py = k / t->fillings;

	v[0] = py >> t->bits;
	v[1] = py & ((1u << t->bits) - 1u);
	v[2] = k % t->fillings;
}

static void recall_make_eval(const struct task *t, uint64_t run_seed,
			     uint64_t k, struct task_inputs *in, size_t slot)
{
	struct rng_stream s;
	uint64_t v[TASK_EVAL_LABELS];

	recall_eval_labels(t, k, v);
	/* Filling v[2] is the same N x d bit matrix for every (q, y). */
	rng_stream_init(&s, run_seed, RNG_PURPOSE_EVAL_INPUTS, 0,
			(uint32_t)v[2]);
	recall_write(t, in, slot, (uint32_t)v[0], (uint32_t)v[1], &s);
}

/* Everything recall_score gives but the loss. */
static void recall_score_rest(const struct task *t,
			      const struct task_inputs *in, size_t slot,
			      const float *z, uint8_t *success, uint64_t *code,
			      double *sampled, float *prob)
{
	size_t d = t->bits;
	uint64_t target = in->target[slot * 2 + 1];
	uint64_t c = recall_code(z, d);

	*success = c == target;
	if (code)
		*code = c;
	if (sampled)
		*sampled = recall_sampled_success(z, target, d);
	if (prob)
		for (size_t b = 0; b < d; b++)
			prob[b] = (float)sigmoid((double)z[b]);
}

static void recall_score(const struct task *t, const struct task_inputs *in,
			 size_t slot, const float *z, float *loss,
			 uint8_t *success, uint64_t *code, double *sampled,
			 float *prob)
{
	*loss = (float)recall_bce_mean(z, in->target[slot * 2 + 1], t->bits);
	recall_score_rest(t, in, slot, z, success, code, sampled, prob);
}

/* Sequences whose exp(-|z|) are computed together in recall_run. */
#define RECALL_BLOCK 64

static int recall_run(const struct task *t, const struct model *m,
		      const float *theta, const struct task_inputs *in,
		      size_t i0, size_t ni, const float *seeds, size_t ns,
		      struct task_ws *ws, const struct task_out *out,
		      size_t off, char *err)
{
	size_t Lx = t->io.seq_len, F = t->io.feat, O = t->io.out_dim;
	size_t B = ni * ns;
	double u[RECALL_BLOCK * TASK_RECALL_MAX_BITS];
	double lin[RECALL_BLOCK], qv[RECALL_BLOCK];
	struct model_batch b = {
		.n_inputs = ni,
		.n_seeds = ns,
		.feat = in->feat + i0 * Lx * F,
		.index = NULL,
		.seed = seeds,
		.mask = NULL,
	};
	int rc;

	RANDES_ASSERT(B <= ws->cap);
	rc = model_forward(m, theta, &b, ws->mws, ws->logits);
	if (rc < 0)
		return randes_errf(err, rc, "associative_recall: forward "
				   "pass failed");
	for (size_t s = 0; s < B; s++) {
		size_t slot = i0 + s / ns, o = off + s;
		const float *z = ws->logits + s * O; /* (O) */
		size_t blk = s % RECALL_BLOCK;

		if (blk == 0) {
			/* the block's losses, the exponentials and logarithms
			 * vectorised: the same bits as recall_bce_mean's */
			size_t nb = B - s < RECALL_BLOCK ? B - s : RECALL_BLOCK;
			for (size_t k = 0; k < nb * O; k++)
				u[k] = -fabs((double)z[k]);
			vmath_exp_neg_n(u, u, nb * O);
			for (size_t k = 0; k < nb; k++)
				bce_lin_q(z + k * O, u + k * O,
					  in->target[(i0 + (s + k) / ns) * 2 + 1],
					  O, &lin[k], &qv[k]);
			vmath_log1p_pos_n(qv, qv, nb);
		}
		out->loss[o] = (float)((lin[blk] + qv[blk]) / (double)O);
		recall_score_rest(t, in, slot, z, &out->success[o],
				  out->code ? &out->code[o] : NULL,
				  out->sampled ? &out->sampled[o] : NULL,
				  out->prob ? out->prob + o * t->n_prob : NULL);
		if (out->dump_feat)
			memcpy(out->dump_feat + o * Lx * F,
			       in->feat + slot * Lx * F,
			       Lx * F * sizeof(float));
		if (out->dump_logits)
			memcpy(out->dump_logits + o * O, z, O * sizeof(float));
		if (out->dump_len)
			out->dump_len[o] = (int32_t)Lx;
	}
	return 0;
}

const struct task_ops task_ops_associative_recall = {
	.name = "associative_recall",
	.init = recall_init,
	.make_train = recall_make_train,
	.make_eval = recall_make_eval,
	.run = recall_run,
	.score = recall_score,
	.direct_loss = NULL,
	.eval_labels = recall_eval_labels,
	.eval_label_names = {"position", "value", "filling"},
};
