/*
 * cycle_coloring: PAPER.md section 3.1.  Distributed 3-colouring of a
 * relabelled N-cycle: token v is the one-hot id e_v (the model appends a
 * per-token uniform seed), the cycle enters only through the attention
 * mask (adjacency, no self), and every position outputs 3 colour logits.
 * Loss: (1/(3N)) sum over the directed cycle's edges of sum_c p_u(c)
 * p_v(c); success: the argmax colouring is proper.  Also the enumeration of
 * all (N-1)!/2 cycles for the evaluation set.  See docs/tasks.md.
 */
#include "common/tasks/task.h"

#include <math.h>
#include <string.h>

#include "common/err.h"
#include "common/rng.h"
#include "common/vmath.h"

uint64_t coloring_cycle_count(uint32_t N)
{
	uint64_t f = 1;

	RANDES_ASSERT(N >= 3);
	/* (N-1)!/2 = 3 * 4 * ... * (N-1) */
	for (uint64_t i = 3; i <= (uint64_t)N - 1; i++) {
		if (f > UINT64_MAX / i)
			return UINT64_MAX;
		f *= i;
	}
	return f;
}

static uint64_t factorial(uint32_t n)
{
	uint64_t f = 1;

	for (uint64_t i = 2; i <= n; i++)
		f *= i;
	return f;
}

void coloring_cycle_unrank(uint64_t k, uint32_t N, uint32_t *order)
{
	uint32_t rest[TASK_COLORING_MAX_N];
	uint64_t per_pair, pair_rank, r;
	uint32_t a = 1, b, n_rest = 0;

	RANDES_ASSERT(N >= 3 && N <= 21); /* (N-3)! fits in 64 bits */
	RANDES_ASSERT(k < coloring_cycle_count(N));
	per_pair = factorial(N - 3);
	pair_rank = k / per_pair;
	r = k % per_pair;
	/* Pairs with first element a: b in a+1..N-1, N-1-a of them. */
	while (pair_rank >= (uint64_t)(N - 1 - a)) {
		pair_rank -= N - 1 - a;
		a++;
	}
	b = a + 1 + (uint32_t)pair_rank;
	for (uint32_t v = 1; v < N; v++)
		if (v != a && v != b)
			rest[n_rest++] = v;
	order[0] = 0;
	order[1] = a;
	order[N - 1] = b;
	/* Lexicographic unranking of the middle (Lehmer code). */
	for (uint32_t i = 0; i < n_rest; i++) {
		uint64_t f = factorial(n_rest - 1 - i);
		uint32_t idx = (uint32_t)(r / f);
		r %= f;
		order[2 + i] = rest[idx];
		memmove(rest + idx, rest + idx + 1,
			(n_rest - 1 - idx - i) * sizeof(uint32_t));
	}
}

void coloring_cycle_canonical(const uint32_t *order, uint32_t N,
			      uint32_t *canon)
{
	uint32_t p = 0;

	while (order[p] != 0) {
		p++;
		RANDES_ASSERT(p < N);
	}
	for (uint32_t i = 0; i < N; i++)
		canon[i] = order[(p + i) % N];
	if (canon[1] > canon[N - 1]) {
		/* reverse the direction, keeping 0 first */
		for (uint32_t i = 1, j = N - 1; i < j; i++, j--) {
			uint32_t tmp = canon[i];
			canon[i] = canon[j];
			canon[j] = tmp;
		}
	}
}

/* The softmax in two halves around its exponentials (so that coloring_run
 * can take the exponentials of many sequences at once): the arguments
 * z - max per vertex, then the normalisation of e = exp(arguments). */
static void softmax_args(const float *z, uint32_t N, double *a)
{
	for (uint32_t v = 0; v < N; v++) {
		const float *zv = z + (size_t)v * TASK_COLORS;
		double mx = (double)zv[0];

		for (unsigned c = 1; c < TASK_COLORS; c++)
			if ((double)zv[c] > mx)
				mx = (double)zv[c];
		for (unsigned c = 0; c < TASK_COLORS; c++)
			a[v * TASK_COLORS + c] = (double)zv[c] - mx;
	}
}

/* s[v*3 + c] = the sum of vertex v's three exponentials, for every c. */
static void softmax_sums(uint32_t N, const double *p, double *s)
{
	for (uint32_t v = 0; v < N; v++) {
		double t = 0.0;

		for (unsigned c = 0; c < TASK_COLORS; c++)
			t += p[v * TASK_COLORS + c];
		for (unsigned c = 0; c < TASK_COLORS; c++)
			s[v * TASK_COLORS + c] = t;
	}
}

static void softmax_finish(uint32_t N, double *p)
{
	double s[TASK_COLORING_MAX_N * TASK_COLORS];

	softmax_sums(N, p, s);
	for (uint32_t i = 0; i < N * TASK_COLORS; i++)
		p[i] /= s[i];
}

void coloring_softmax(const float *z, uint32_t N, double *p)
{
	softmax_args(z, N, p);
	for (uint32_t i = 0; i < N * TASK_COLORS; i++)
		p[i] = vmath_exp_neg(p[i]);
	softmax_finish(N, p);
}

double coloring_loss(const double *p, const uint32_t *order, uint32_t N)
{
	double s = 0.0;

	for (uint32_t k = 0; k < N; k++) {
		const double *pu = p + (size_t)order[k] * TASK_COLORS;
		const double *pv = p + (size_t)order[(k + 1) % N] * TASK_COLORS;
		for (unsigned c = 0; c < TASK_COLORS; c++)
			s += pu[c] * pv[c];
	}
	return s / (3.0 * (double)N);
}

double coloring_sampled_success(const double *p, const uint32_t *order,
				uint32_t N)
{
	/* T = prod_k diag(p_k) (J - I); (diag(p) (J - I))[a][b] = p[a] for
	 * a != b, 0 on the diagonal. */
	double t[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};

	for (uint32_t k = 0; k < N; k++) {
		const double *pk = p + (size_t)order[k] * TASK_COLORS;
		double nt[3][3];

		for (unsigned i = 0; i < 3; i++)
			for (unsigned j = 0; j < 3; j++) {
				double s = 0.0;
				for (unsigned l = 0; l < 3; l++)
					if (l != j)
						s += t[i][l] * pk[l];
				nt[i][j] = s;
			}
		memcpy(t, nt, sizeof(t));
	}
	return t[0][0] + t[1][1] + t[2][2];
}

int coloring_is_proper(const uint8_t *colour, const uint32_t *order,
		       uint32_t N)
{
	unsigned clash = 0;

	/* no early exit: a data-dependent branch per edge mispredicts */
	for (uint32_t k = 0; k < N; k++)
		clash |= colour[order[k]] == colour[order[(k + 1) % N]];
	return !clash;
}

/* The one-hot tokens, the adjacency mask and the target of one cycle. */
static void coloring_write(const struct task *t, struct task_inputs *in,
			   size_t slot, const uint32_t *order)
{
	size_t N = t->n;
	float *x = in->feat + slot * N * N;     /* (Lx, F) = (N, N) */
	uint8_t *mk = in->mask + slot * N * N;  /* (L, L) = (N, N)  */
	uint32_t *tg = in->target + slot * N;   /* (N)              */

	memset(x, 0, N * N * sizeof(float));
	memset(mk, 0, N * N);
	for (size_t v = 0; v < N; v++)
		x[v * N + v] = 1.0f;
	for (size_t k = 0; k < N; k++) {
		size_t u = order[k], v = order[(k + 1) % N];
		mk[u * N + v] = 1;
		mk[v * N + u] = 1;
		tg[k] = order[k];
	}
}

static void random_cycle(struct rng_stream *s, uint32_t N, uint32_t *order)
{
	for (uint32_t v = 0; v < N; v++)
		order[v] = v;
	rng_shuffle_u32(s, order, N);
}

static int coloring_init(struct task *t, const struct config *cfg, char *err)
{
	uint32_t N = cfg->task.num_vertices;
	uint64_t count;

	if (N < 3 || N > TASK_COLORING_MAX_N)
		return randes_errf(err, RANDES_ECONFIG,
				   "task.num_vertices: expected 3..%u, got %u",
				   TASK_COLORING_MAX_N, N);
	t->n = N;
	t->has_model = 1;
	t->io.seq_len = N;
	t->io.feat = N;
	t->io.n_index = 0;
	t->io.index_vocab = 0;
	t->io.out_dim = TASK_COLORS;
	t->io.mask = MODEL_MASK_GRAPH;
	t->io.output = MODEL_OUTPUT_EVERY;
	t->target_len = N;
	t->n_prob = (size_t)N * TASK_COLORS;
	t->dump_rows = N;
	t->mask_len = N;
	t->has_sampled = 1;
	count = coloring_cycle_count(N);
	t->eval_set_size = count;
	t->n_adversary = count <= TASK_EXHAUSTIVE_MAX ? count : 0;
	if (cfg->objective.adversary == ADVERSARY_EXHAUSTIVE &&
	    t->n_adversary == 0)
		return randes_errf(err, RANDES_ECONFIG,
				   "objective.adversary: exhaustive over all "
				   "(N-1)!/2 cycles is %s%llu inputs per "
				   "generation for N = %u (limit %u); use "
				   "adversary: sampled",
				   count == UINT64_MAX ? "more than " : "",
				   (unsigned long long)count, N,
				   TASK_EXHAUSTIVE_MAX);
	if (cfg->task.eval_max_cycles == 0) {
		if (count > UINT32_MAX)
			return randes_errf(err, RANDES_ECONFIG,
					   "task.eval_max_cycles: 0 asks for "
					   "all cycles, too many for N = %u; "
					   "give a sample size", N);
		t->n_eval_full = count;
		t->eval_is_sample = 0;
	} else if (count <= cfg->task.eval_max_cycles) {
		t->n_eval_full = count;
		t->eval_is_sample = 0;
	} else {
		t->n_eval_full = cfg->task.eval_max_cycles;
		t->eval_is_sample = 1;
	}
	return 0;
}

static void coloring_make_train(const struct task *t, uint64_t run_seed,
				uint32_t g, uint64_t k, int exhaustive,
				struct task_inputs *in, size_t slot)
{
	uint32_t order[TASK_COLORING_MAX_N];

	if (exhaustive) {
		coloring_cycle_unrank(k, t->n, order);
	} else {
		struct rng_stream s;
		RANDES_ASSERT(k <= UINT32_MAX);
		rng_stream_init(&s, run_seed, RNG_PURPOSE_INPUTS, g,
				(uint32_t)k);
		random_cycle(&s, t->n, order);
	}
	coloring_write(t, in, slot, order);
}

static void coloring_make_eval(const struct task *t, uint64_t run_seed,
			       uint64_t k, struct task_inputs *in,
			       size_t slot)
{
	uint32_t order[TASK_COLORING_MAX_N];

	if (!t->eval_is_sample) {
		coloring_cycle_unrank(k, t->n, order);
	} else {
		struct rng_stream s;
		RANDES_ASSERT(k <= UINT32_MAX);
		rng_stream_init(&s, run_seed, RNG_PURPOSE_EVAL_INPUTS, 0,
				(uint32_t)k);
		random_cycle(&s, t->n, order);
	}
	coloring_write(t, in, slot, order);
}

/* coloring_score with the softmax p (N, 3) of z already made. */
static void coloring_score_p(const struct task *t,
			     const struct task_inputs *in, size_t slot,
			     const float *z, const double *p, float *loss,
			     uint8_t *success, uint64_t *code, double *sampled,
			     float *prob)
{
	uint32_t N = t->n;
	const uint32_t *order = in->target + slot * N;
	uint8_t colour[TASK_COLORING_MAX_N];
	uint64_t c = 0, w = 1;

	*loss = (float)coloring_loss(p, order, N);
	for (uint32_t v = 0; v < N; v++) {
		const float *zv = z + (size_t)v * TASK_COLORS;
		/* argmax, ties to the lower colour, NaN never wins; with
		 * selects on the values rather than branches (the outcomes
		 * are random) */
		unsigned b1 = zv[1] > zv[0];
		float m1 = b1 ? zv[1] : zv[0];
		unsigned b2 = zv[2] > m1;
		unsigned best = b2 ? 2u : b1;
		colour[v] = (uint8_t)best;
		c += w * best;
		w *= TASK_COLORS;
	}
	*success = (uint8_t)coloring_is_proper(colour, order, N);
	if (code)
		*code = c;
	if (sampled)
		*sampled = coloring_sampled_success(p, order, N);
	if (prob)
		for (size_t i = 0; i < (size_t)N * TASK_COLORS; i++)
			prob[i] = (float)p[i];
}

static void coloring_score(const struct task *t, const struct task_inputs *in,
			   size_t slot, const float *z, float *loss,
			   uint8_t *success, uint64_t *code, double *sampled,
			   float *prob)
{
	double p[TASK_COLORING_MAX_N * TASK_COLORS];

	coloring_softmax(z, t->n, p);
	coloring_score_p(t, in, slot, z, p, loss, success, code, sampled,
			 prob);
}

/* Sequences whose softmax exponentials coloring_run takes together. */
#define COLORING_BLOCK 16

static int coloring_run(const struct task *t, const struct model *m,
			const float *theta, const struct task_inputs *in,
			size_t i0, size_t ni, const float *seeds, size_t ns,
			struct task_ws *ws, const struct task_out *out,
			size_t off, char *err)
{
	size_t N = t->n, O = TASK_COLORS, B = ni * ns;
	double e[COLORING_BLOCK * TASK_COLORING_MAX_N * TASK_COLORS];
	double sums[COLORING_BLOCK * TASK_COLORING_MAX_N * TASK_COLORS];
	struct model_batch b = {
		.n_inputs = ni,
		.n_seeds = ns,
		.feat = in->feat + i0 * N * N,
		.index = NULL,
		.seed = seeds,
		.mask = in->mask + i0 * N * N,
	};
	int rc;

	RANDES_ASSERT(B <= ws->cap);
	rc = model_forward(m, theta, &b, ws->mws, ws->logits);
	if (rc < 0)
		return randes_errf(err, rc, "cycle_coloring: forward pass "
				   "failed");
	for (size_t s = 0; s < B; s++) {
		size_t slot = i0 + s / ns, o = off + s;
		const float *z = ws->logits + s * N * O; /* (N, O) */
		size_t blk = s % COLORING_BLOCK;

		if (blk == 0) {
			/* the block's exponentials at once: the same bits as
			 * coloring_softmax's */
			size_t nb = B - s < COLORING_BLOCK ? B - s
							   : COLORING_BLOCK;
			for (size_t k = 0; k < nb; k++)
				softmax_args(z + k * N * O, (uint32_t)N,
					     e + k * N * O);
			vmath_exp_neg_n(e, e, nb * N * O);
			/* the normalisation, the divisions of the whole block
			 * at once (IEEE division: the same bits) */
			for (size_t k = 0; k < nb; k++)
				softmax_sums((uint32_t)N, e + k * N * O,
					     sums + k * N * O);
			vmath_div_n(e, sums, e, nb * N * O);
		}
		coloring_score_p(t, in, slot, z, e + blk * N * O,
				 &out->loss[o], &out->success[o],
				 out->code ? &out->code[o] : NULL,
				 out->sampled ? &out->sampled[o] : NULL,
				 out->prob ? out->prob + o * t->n_prob : NULL);
		if (out->dump_feat)
			memcpy(out->dump_feat + o * N * N,
			       in->feat + slot * N * N,
			       N * N * sizeof(float));
		if (out->dump_logits)
			memcpy(out->dump_logits + o * N * O, z,
			       N * O * sizeof(float));
		if (out->dump_len)
			out->dump_len[o] = (int32_t)N;
	}
	return 0;
}

const struct task_ops task_ops_cycle_coloring = {
	.name = "cycle_coloring",
	.init = coloring_init,
	.make_train = coloring_make_train,
	.make_eval = coloring_make_eval,
	.run = coloring_run,
	.score = coloring_score,
	.direct_loss = NULL,
};
