/*
 * test-tasks: the three tasks and the test functions against independent
 * expectations: hand-computed losses of hand-set outputs, the sampled-
 * success formulas against brute-force enumeration, the cycle enumeration
 * against a brute-force count, the documented structure of generated inputs
 * (and their purity in (seed, g)), and the grid-world dynamics and roll-out
 * driven by scripted policies.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/blas.h"
#include "common/config.h"
#include "common/err.h"
#include "common/rng.h"
#include "common/tasks/task.h"
#include "common/vmath.h"

static struct task *make_task(enum task_kind kind,
			      void (*tweak)(struct config *))
{
	struct config cfg;
	struct task *t = NULL;
	char err[RANDES_ERR_LEN];

	config_defaults(&cfg, kind);
	cfg.run.seed = 7;
	if (tweak)
		tweak(&cfg);
	int rc = task_new(&t, &cfg, err);
	ck_assert_msg(rc == 0, "task_new: %s", err);
	return t;
}

/* ---- associative recall --------------------------------------------- */

/* softplus by the naive formula, valid for moderate v */
static double naive_softplus(double v)
{
	return log(1.0 + exp(v));
}

START_TEST(tasks_recall_bce)
{
	/* bits (LSB first) 1, 0, 1 */
	const float z[3] = {0.0f, 2.0f, -3.0f};
	const uint64_t target = 0x5;
	/* hand: ln 2, softplus(2), softplus(3) */
	double hand = (0.69314718055994531 + 2.1269280110429727 +
		       3.0485873515737420) / 3.0;
	double naive = (naive_softplus(0.0) - 0.0 + naive_softplus(2.0) +
			naive_softplus(-3.0) + 3.0) / 3.0;

	ck_assert_double_eq_tol(recall_bce_mean(z, target, 3), hand, 1e-12);
	ck_assert_double_eq_tol(recall_bce_mean(z, target, 3), naive, 1e-12);

	/* extremes: confident and right ~ 0, confident and wrong = |z| */
	const float big[2] = {100.0f, -100.0f};
	ck_assert_double_le(recall_bce_mean(big, 0x1, 2), 1e-40);
	ck_assert_double_eq_tol(recall_bce_mean(big, 0x2, 2), 100.0, 1e-9);
	ck_assert(recall_bce_mean(big, 0x2, 2) >= 0.0);

	/* NaN propagates */
	const float bad[2] = {NAN, 1.0f};
	ck_assert(isnan(recall_bce_mean(bad, 0, 2)));
}
END_TEST

START_TEST(tasks_recall_sampled_bruteforce)
{
	struct rng_stream s;

	rng_stream_init(&s, 1, RNG_PURPOSE_TEST, 0, 0);
	for (int rep = 0; rep < 20; rep++) {
		size_t d = 1 + (size_t)rep % 6;
		float z[8];
		uint64_t target = rng_below(&s, 1u << d);
		double total = 0.0, hit = 0.0;

		for (size_t b = 0; b < d; b++)
			z[b] = 4.0f * rng_normal(&s);
		/* every output o with P(o) = prod_b p_b^o_b (1-p_b)^(1-o_b) */
		for (uint64_t o = 0; o < (1u << d); o++) {
			double p = 1.0;
			for (size_t b = 0; b < d; b++) {
				double p1 = 1.0 / (1.0 + exp(-(double)z[b]));
				p *= ((o >> b) & 1) ? p1 : 1.0 - p1;
			}
			total += p;
			if (o == target)
				hit += p;
		}
		ck_assert_double_eq_tol(total, 1.0, 1e-12);
		ck_assert_double_eq_tol(recall_sampled_success(z, target, d),
					hit, 1e-12);
	}
}
END_TEST

static void recall_small(struct config *c)
{
	c->task.num_tokens = 6;
	c->task.value_bits = 3;
	c->task.exhaustive_values = 8;
	c->task.eval_fillings = 4;
}

/* Checks the documented layout of recall input `slot`; returns q. */
static uint32_t check_recall_input(const struct task *t,
				   const struct task_inputs *in, size_t slot)
{
	size_t N = t->n, d = t->bits, F = N + d, Lx = N + 1;
	const float *x = in->feat + slot * Lx * F;
	uint32_t q = in->target[slot * 2], y = in->target[slot * 2 + 1];

	ck_assert_uint_eq(t->io.seq_len, Lx);
	ck_assert_uint_eq(t->io.feat, F);
	ck_assert_uint_lt(q, N);
	ck_assert_uint_lt(y, 1u << d);
	for (size_t i = 0; i < N; i++) {
		for (size_t k = 0; k < N; k++)
			ck_assert(x[i * F + k] == (k == i ? 1.0f : 0.0f));
		for (size_t b = 0; b < d; b++)
			ck_assert(x[i * F + N + b] == 0.0f ||
				  x[i * F + N + b] == 1.0f);
	}
	for (size_t b = 0; b < d; b++)
		ck_assert(x[q * F + N + b] == (float)((y >> b) & 1));
	/* query row: key e_q, value part zero */
	for (size_t k = 0; k < N; k++)
		ck_assert(x[N * F + k] == (k == q ? 1.0f : 0.0f));
	for (size_t b = 0; b < d; b++)
		ck_assert(x[N * F + N + b] == 0.0f);
	return q;
}

START_TEST(tasks_recall_inputs)
{
	struct task *t = make_task(TASK_KIND_ASSOCIATIVE_RECALL, recall_small);
	struct task_inputs *a = task_inputs_new(t, 64);
	struct task_inputs *b = task_inputs_new(t, 64);
	size_t bytes = 64 * t->io.seq_len * t->io.feat * sizeof(float);
	unsigned seen_q = 0;

	ck_assert_int_eq(t->io.mask, MODEL_MASK_CAUSAL);
	ck_assert_int_eq(t->io.output, MODEL_OUTPUT_LAST);
	ck_assert_uint_eq(t->io.out_dim, 3);
	task_fill_train(t, 7, 3, 0, a, 64);
	task_fill_train(t, 7, 3, 0, b, 64);
	ck_assert(memcmp(a->feat, b->feat, bytes) == 0);
	ck_assert(memcmp(a->target, b->target, 64 * 2 * 4) == 0);
	for (size_t i = 0; i < 64; i++)
		seen_q |= 1u << check_recall_input(t, a, i);
	ck_assert_uint_eq(seen_q, 0x3f); /* 64 draws hit all 6 positions */
	task_fill_train(t, 7, 4, 0, b, 64);
	ck_assert(memcmp(a->feat, b->feat, bytes) != 0);
	task_fill_train(t, 8, 3, 0, b, 64);
	ck_assert(memcmp(a->feat, b->feat, bytes) != 0);

	/* input k alone equals input k of the batch */
	struct task_inputs *one = task_inputs_new(t, 64);
	task_fill_train(t, 7, 3, 0, one, 10);
	ck_assert(memcmp(one->feat, a->feat,
			 10 * t->io.seq_len * t->io.feat * 4) == 0);
	task_inputs_free(one);

	/* exhaustive: k = position * 8 + value, all values */
	ck_assert_uint_eq(t->n_adversary, 48);
	task_fill_train(t, 7, 3, 1, a, 48);
	for (size_t k = 0; k < 48; k++) {
		ck_assert_uint_eq(check_recall_input(t, a, k), k / 8);
		ck_assert_uint_eq(a->target[2 * k + 1], k % 8);
	}
	task_inputs_free(a);
	task_inputs_free(b);
	task_free(t);
}
END_TEST

START_TEST(tasks_recall_eval_set)
{
	struct task *t = make_task(TASK_KIND_ASSOCIATIVE_RECALL, recall_small);
	struct task_inputs *in = task_inputs_new(t, 2);
	size_t N = 6, d = 3, F = N + d;

	ck_assert_uint_eq(t->n_eval_full, 6 * 8 * 4);
	ck_assert(!t->eval_is_sample);
	for (uint64_t k = 0; k < t->n_eval_full; k++) {
		task_fill_eval(t, 7, k, in, 0);
		check_recall_input(t, in, 0);
		ck_assert_uint_eq(in->target[0], k / 4 / 8);
		ck_assert_uint_eq(in->target[1], (k / 4) % 8);
		/* the same filling f for another (q, y): rows other than
		 * both queried rows agree */
		uint64_t other = ((uint64_t)((k / 32 + 1) % 6) * 8 + 5) * 4 +
				 k % 4;
		task_fill_eval(t, 7, other, in, 1);
		for (size_t i = 0; i < N; i++) {
			if (i == in->target[0] || i == in->target[2])
				continue;
			ck_assert(memcmp(in->feat + i * F,
					 in->feat + (N + 1) * F + i * F,
					 F * sizeof(float)) == 0);
		}
	}
	task_inputs_free(in);
	task_free(t);
}
END_TEST

START_TEST(tasks_recall_score_oracle)
{
	struct task *t = make_task(TASK_KIND_ASSOCIATIVE_RECALL, recall_small);
	struct task_inputs *in = task_inputs_new(t, 16);

	task_fill_train(t, 7, 0, 0, in, 16);
	for (size_t i = 0; i < 16; i++) {
		uint32_t y = in->target[2 * i + 1];
		float z[3], loss, prob[3];
		uint8_t ok;
		uint64_t code;
		double sampled;

		/* the oracle: +8 where the queried value has a 1 */
		for (size_t b = 0; b < 3; b++)
			z[b] = ((y >> b) & 1) ? 8.0f : -8.0f;
		task_score_logits(t, in, i, z, &loss, &ok, &code, &sampled,
				  prob);
		ck_assert_uint_eq(ok, 1);
		ck_assert_uint_eq(code, y);
		ck_assert_double_eq_tol(loss, log1p(exp(-8.0)), 1e-7);
		ck_assert_double_eq_tol(sampled,
					pow(1.0 / (1.0 + exp(-8.0)), 3), 1e-9);
		for (size_t b = 0; b < 3; b++)
			ck_assert_double_eq_tol(prob[b],
						((y >> b) & 1) ? 0.99966465
							       : 0.00033535,
						1e-7);
		/* flip one bit: failure, code differs in that bit */
		z[1] = -z[1];
		task_score_logits(t, in, i, z, &loss, &ok, &code, &sampled,
				  NULL);
		ck_assert_uint_eq(ok, 0);
		ck_assert_uint_eq(code, y ^ 2u);
	}
	task_inputs_free(in);
	task_free(t);
}
END_TEST

/* ---- cycle colouring ------------------------------------------------- */

static void coloring4(struct config *c)
{
	c->task.num_vertices = 4;
}

static void coloring_double(struct config *c)
{
	c->task.coloring_numerics = COLORING_NUMERICS_DOUBLE;
}

START_TEST(tasks_coloring_loss_hand)
{
	/* N = 3, order 0 -> 1 -> 2 -> 0:
	 * p0 = (.5,.5,0), p1 = (1,0,0), p2 = (0,.5,.5)
	 * edges (0,1): .5, (1,2): 0, (2,0): .25  -> .75 / 9 */
	const double p[9] = {0.5, 0.5, 0, 1, 0, 0, 0, 0.5, 0.5};
	const uint32_t order[3] = {0, 1, 2};
	ck_assert_double_eq_tol(coloring_loss(p, order, 3), 0.75 / 9.0,
				1e-15);

	/* uniform p on C4: every edge 1/3, 4 edges, / 12 -> 1/9 */
	double u[12];
	const uint32_t o4[4] = {2, 0, 3, 1};
	for (int i = 0; i < 12; i++)
		u[i] = 1.0 / 3.0;
	ck_assert_double_eq_tol(coloring_loss(u, o4, 4), 1.0 / 9.0, 1e-15);
}
END_TEST

/*
 * nb lanes of colouring logits and cycles for the block-scorer tests:
 * values from a small set (ties, signed zeros, +-80) or 4 N(0, 1); lane 0
 * gets a NaN when rep % 7 == 6, the last lane an infinity when rep % 11 ==
 * 10; the cycles of the lanes are all distinct (rep % 3 == 0), all one
 * (1) or runs of three (2), as the seeds of one input share a cycle.
 * Returns 1 if a NaN or infinity was planted.
 */
static int coloring_block_inputs(struct rng_stream *st, uint32_t N,
				 size_t nb, int rep,
				 float z[][TASK_COLORING_MAX_N * 3],
				 uint32_t ord[][TASK_COLORING_MAX_N],
				 const float **zs, const uint32_t **os)
{
	static const float vals[] = {-1.0f, 0.0f, -0.0f, 0.5f, 0.5f, 2.0f,
				     80.0f, -80.0f};
	const int share = rep % 3;
	int nonfinite = 0;

	for (size_t l = 0; l < nb; l++) {
		for (size_t i = 0; i < N * 3; i++) {
			uint32_t r = rng_below(st, 10);
			z[l][i] = r < 8 ? vals[r] : 4.0f * rng_normal(st);
		}
		if (rep % 7 == 6 && l == 0) {
			z[l][rng_below(st, N * 3)] = NAN;
			nonfinite = 1;
		}
		if (rep % 11 == 10 && l + 1 == nb) {
			z[l][rng_below(st, N * 3)] =
				rep % 2 ? INFINITY : -INFINITY;
			nonfinite = 1;
		}
		for (uint32_t v = 0; v < N; v++)
			ord[l][v] = v;
		rng_shuffle_u32(st, ord[l], N);
		zs[l] = z[l];
		os[l] = share == 0 ? ord[l]
			: share == 1 ? ord[0] : ord[l / 3 * 3];
	}
	return nonfinite;
}

/*
 * coloring_score_block against the one-sequence functions, bit for bit, on
 * every instruction set: random logits with ties (values from a small
 * set), signed zeros, large magnitudes and NaN; blocks of 1..8 lanes whose
 * cycles are all distinct, all one, or runs of one (seeds of an input).
 */
START_TEST(tasks_coloring_score_block)
{
	static const uint32_t Ns[] = {3, 4, 10, 40};
	enum blas_isa saved = blas_isa_get();
	struct rng_stream st;
	size_t checked = 0;

	/* the block takes exp(+0) = 1 without computing it */
	ck_assert(vmath_exp_neg(0.0) == 1.0);
	rng_stream_init(&st, 11, RNG_PURPOSE_TEST, 0, 7);
	for (int isa = BLAS_ISA_GENERIC; isa <= BLAS_ISA_AVX512; isa++) {
		if (blas_isa_set((enum blas_isa)isa) != 0)
			continue;
		for (size_t ni = 0; ni < sizeof(Ns) / sizeof(Ns[0]); ni++)
		for (int rep = 0; rep < 60; rep++) {
			const uint32_t N = Ns[ni];
			const size_t nb = 1 + (size_t)rep % COLORING_LANES;
			float z[COLORING_LANES][TASK_COLORING_MAX_N * 3];
			uint32_t ord[COLORING_LANES][TASK_COLORING_MAX_N];
			const float *zs[COLORING_LANES];
			const uint32_t *os[COLORING_LANES];
			double loss[COLORING_LANES];
			uint8_t ok[COLORING_LANES];
			uint8_t col[COLORING_LANES * TASK_COLORING_MAX_N];
			double p[COLORING_LANES * TASK_COLORING_MAX_N * 3];

			coloring_block_inputs(&st, N, nb, rep, z, ord, zs, os);
			coloring_score_block(N, nb, zs, os, loss, ok, col, p);
			for (size_t l = 0; l < nb; l++) {
				double pr[TASK_COLORING_MAX_N * 3];
				uint8_t cr[TASK_COLORING_MAX_N];
				double lr;

				coloring_softmax(zs[l], N, pr);
				lr = coloring_loss(pr, os[l], N);
				for (uint32_t v = 0; v < N; v++) {
					const float *zv = zs[l] + v * 3;
					unsigned b1 = zv[1] > zv[0];
					float m1 = b1 ? zv[1] : zv[0];
					cr[v] = zv[2] > m1 ? 2 : (uint8_t)b1;
				}
				ck_assert_msg(!memcmp(&lr, &loss[l], sizeof(lr)),
					      "%s N %u lane %zu/%zu: loss %.17g, "
					      "want %.17g", blas_isa_name(
						      (enum blas_isa)isa), N, l,
					      nb, loss[l], lr);
				ck_assert_msg(!memcmp(pr, p + l * N * 3,
						      N * 3 * sizeof(double)),
					      "N %u lane %zu: softmax differs",
					      N, l);
				ck_assert_msg(!memcmp(cr, col + l * N, N),
					      "N %u lane %zu: argmax differs",
					      N, l);
				ck_assert_int_eq(ok[l],
						 coloring_is_proper(cr, os[l], N));
				checked++;
			}
			/* without the optional outputs: the same scores */
			{
				double l2[COLORING_LANES];
				uint8_t ok2[COLORING_LANES];

				coloring_score_block(N, nb, zs, os, l2, ok2,
						     NULL, NULL);
				ck_assert(!memcmp(l2, loss, nb * sizeof(double)));
				ck_assert(!memcmp(ok2, ok, nb));
			}
		}
	}
	blas_isa_set((enum blas_isa)saved);
	ck_assert_uint_gt(checked, 1000);
}
END_TEST

/*
 * coloring_score_block_f (task.coloring_numerics: float) against a naive
 * reference in double (libm's exp, the softmax and the loss written out):
 * probabilities within 4e-7 absolute, the loss within 1e-6 relative (1e-5
 * for losses below 1e-20, sums of exponentials of large arguments), the
 * argmax and the success exactly (the same comparisons of the same float
 * logits).  Then bit for bit across the instruction sets and against
 * blocks of one sequence (a lane's results do not depend on the others).
 * Logits as in tasks_coloring_score_block, NaN and infinities included.
 */
START_TEST(tasks_coloring_score_block_f)
{
	static const uint32_t Ns[] = {3, 5, 6, 10, 17, 40};
	enum { NL = COLORING_LANES_F, MAXO = TASK_COLORING_MAX_N * 3 };
	enum blas_isa saved = blas_isa_get();
	struct rng_stream st;
	size_t checked = 0, nisa = 0;
	double worst_p = 0.0, worst_l = 0.0;

	rng_stream_init(&st, 12, RNG_PURPOSE_TEST, 0, 7);
	for (size_t ni = 0; ni < sizeof(Ns) / sizeof(Ns[0]); ni++)
	for (int rep = 0; rep < 40; rep++) {
		const uint32_t N = Ns[ni];
		const size_t nb = 1 + (size_t)rep % NL;
		float z[NL][MAXO];
		uint32_t ord[NL][TASK_COLORING_MAX_N];
		const float *zs[NL];
		const uint32_t *os[NL];
		float loss[3][NL], p[3][NL * MAXO];
		uint8_t ok[3][NL], col[3][NL * TASK_COLORING_MAX_N];
		int k = 0;
		int nonfinite = coloring_block_inputs(&st, N, nb, rep, z, ord,
						      zs, os);

		for (int isa = BLAS_ISA_GENERIC; isa <= BLAS_ISA_AVX512; isa++) {
			if (blas_isa_set((enum blas_isa)isa) != 0)
				continue;
			coloring_score_block_f(N, nb, zs, os, loss[k], ok[k],
					       col[k], p[k]);
			if (k > 0) {
				ck_assert_msg(!memcmp(loss[k], loss[0],
						      nb * sizeof(float)) &&
					      !memcmp(p[k], p[0], nb * N * 3 *
						      sizeof(float)) &&
					      !memcmp(ok[k], ok[0], nb) &&
					      !memcmp(col[k], col[0], nb * N),
					      "N %u nb %zu: %s differs from %s",
					      N, nb, blas_isa_name(
						      (enum blas_isa)isa),
					      blas_isa_name(BLAS_ISA_GENERIC));
			}
			k++;
		}
		nisa = (size_t)k;
		blas_isa_set(saved);
		for (size_t l = 0; l < nb; l++) {
			double pr[MAXO], lr = 0.0;
			uint8_t cr[TASK_COLORING_MAX_N];
			float l1, p1[MAXO];
			uint8_t ok1, c1[TASK_COLORING_MAX_N];

			/* the naive reference, in double with libm */
			for (uint32_t v = 0; v < N; v++) {
				const float *zv = zs[l] + v * 3;
				double mx = fmax(fmax(zv[0], zv[1]), zv[2]);
				double e[3], t = 0.0;
				unsigned b1 = zv[1] > zv[0];
				float m1 = b1 ? zv[1] : zv[0];

				for (int c = 0; c < 3; c++)
					t += e[c] = exp((double)zv[c] - mx);
				for (int c = 0; c < 3; c++)
					pr[v * 3 + c] = e[c] / t;
				cr[v] = zv[2] > m1 ? 2 : (uint8_t)b1;
			}
			for (uint32_t e = 0; e < N; e++)
				for (int c = 0; c < 3; c++)
					lr += pr[os[l][e] * 3 + c] *
					      pr[os[l][(e + 1) % N] * 3 + c];
			lr /= 3.0 * N;
			ck_assert_msg(!memcmp(cr, col[0] + l * N, N),
				      "N %u lane %zu: argmax differs", N, l);
			ck_assert_int_eq(ok[0][l],
					 coloring_is_proper(cr, os[l], N));
			/* a block of one gives the lane's bits */
			coloring_score_block_f(N, 1, &zs[l], &os[l], &l1, &ok1,
					       c1, p1);
			ck_assert(!memcmp(&l1, &loss[0][l], sizeof(l1)));
			ck_assert(!memcmp(p1, p[0] + l * N * 3,
					  N * 3 * sizeof(float)));
			ck_assert(ok1 == ok[0][l] && !memcmp(c1, cr, N));
			if (nonfinite && (isnan(lr) || !isfinite(loss[0][l])))
				continue; /* NaN in, NaN out: checked above */
			for (size_t i = 0; i < N * 3; i++) {
				double d = fabs((double)p[0][l * N * 3 + i] -
						pr[i]);
				if (d > worst_p)
					worst_p = d;
				ck_assert_msg(d <= 4e-7, "N %u lane %zu: p[%zu] "
					      "%.9g, want %.9g", N, l, i,
					      (double)p[0][l * N * 3 + i], pr[i]);
			}
			{
				/* relative, but for losses made of terms
				 * below e^-60 (the rounding of z - mx moves
				 * e^(z - mx) by up to |z - mx| 2^-24) */
				double d = fabs((double)loss[0][l] - lr) /
					   (lr + 1e-20);
				if (d > worst_l && lr > 1e-20)
					worst_l = d;
				ck_assert_msg(d <= (lr > 1e-20 ? 1e-6 : 1e-5),
					      "N %u lane %zu: loss "
					      "%.9g, want %.9g", N, l,
					      (double)loss[0][l], lr);
			}
			checked++;
		}
	}
	ck_assert_uint_gt(checked, 1000);
	fprintf(stderr, "tasks: float colouring scores: p within %.2g, loss "
		"within %.2g relative of double (%zu instruction sets "
		"bitwise equal)\n", worst_p, worst_l, nisa);
}
END_TEST

/*
 * task.coloring_numerics reaches the scores: the same logits scored by a
 * float task and a double task agree to float precision, and the float
 * task's task_score_logits is coloring_score_block_f's block of one.
 */
START_TEST(tasks_coloring_numerics_switch)
{
	struct task *tf = make_task(TASK_KIND_CYCLE_COLORING, NULL);
	struct task *td = make_task(TASK_KIND_CYCLE_COLORING, coloring_double);
	struct task_inputs *in = task_inputs_new(tf, 1);
	struct rng_stream st;
	float z[30], lf, ld, pf[30], pd[30], lb, pb[30];
	uint8_t okf, okd, okb, cb[10];
	uint64_t cf, cd;
	double sf, sd;
	const float *zp = z;
	const uint32_t *op;

	ck_assert_int_eq(tf->coloring_float, 1);
	ck_assert_int_eq(td->coloring_float, 0);
	task_fill_eval(tf, 7, 3, in, 0);
	op = in->target;
	rng_stream_init(&st, 13, RNG_PURPOSE_TEST, 0, 0);
	for (int i = 0; i < 30; i++)
		z[i] = 3.0f * rng_normal(&st);
	task_score_logits(tf, in, 0, z, &lf, &okf, &cf, &sf, pf);
	task_score_logits(td, in, 0, z, &ld, &okd, &cd, &sd, pd);
	ck_assert_uint_eq(okf, okd);
	ck_assert_uint_eq(cf, cd);
	ck_assert_double_eq_tol(lf, ld, 2.5e-7 * ld); /* 2 ulp of float */
	ck_assert_double_eq_tol(sf, sd, 1e-6 * sd + 1e-12);
	for (int i = 0; i < 30; i++)
		ck_assert_double_eq_tol(pf[i], pd[i], 4e-7);
	coloring_score_block_f(10, 1, &zp, &op, &lb, &okb, cb, pb);
	ck_assert(!memcmp(&lb, &lf, sizeof(lb)));
	ck_assert(!memcmp(pb, pf, sizeof(pb)));
	task_inputs_free(in);
	task_free(tf);
	task_free(td);
}
END_TEST

START_TEST(tasks_coloring_score_clash)
{
	struct task *t = make_task(TASK_KIND_CYCLE_COLORING, coloring4);
	struct task_inputs *in = task_inputs_new(t, 1);
	/* cycle number 0 is pair (1, 2) with rest (3): order (0, 1, 3, 2),
	 * edges (0,1) (1,3) (3,2) (2,0) */
	float z[12];
	float loss, prob[12];
	uint8_t ok;
	uint64_t code;
	double sampled;
	const uint8_t col_bad[4] = {0, 0, 1, 2};  /* edge (0,1) clashes */
	const uint8_t col_good[4] = {0, 1, 2, 0};

	task_fill_eval(t, 7, 0, in, 0);
	ck_assert_uint_eq(in->target[0], 0);
	ck_assert_uint_eq(in->target[1], 1);
	ck_assert_uint_eq(in->target[2], 3);
	ck_assert_uint_eq(in->target[3], 2);

	/* near one-hot: logit 40 on the chosen colour */
	for (int v = 0; v < 4; v++)
		for (int c = 0; c < 3; c++)
			z[v * 3 + c] = c == col_bad[v] ? 40.0f : 0.0f;
	task_score_logits(t, in, 0, z, &loss, &ok, &code, &sampled, prob);
	ck_assert_uint_eq(ok, 0);
	ck_assert_double_eq_tol(loss, 1.0 / 12.0, 1e-7); /* one clash */
	ck_assert_uint_eq(code, 0 + 0 * 3 + 1 * 9 + 2 * 27);
	ck_assert_double_le(sampled, 1e-9);

	for (int v = 0; v < 4; v++)
		for (int c = 0; c < 3; c++)
			z[v * 3 + c] = c == col_good[v] ? 40.0f : 0.0f;
	task_score_logits(t, in, 0, z, &loss, &ok, &code, &sampled, prob);
	ck_assert_uint_eq(ok, 1);
	ck_assert_double_le(loss, 1e-9);
	ck_assert_uint_eq(code, 0 + 1 * 3 + 2 * 9 + 0 * 27);
	ck_assert_double_ge(sampled, 1.0 - 1e-9);

	/* two clashes: all vertices colour 1 except vertex 2 (colour 0):
	 * edges (0,1) and (1,3) clash -> 2/12 */
	for (int v = 0; v < 4; v++)
		for (int c = 0; c < 3; c++)
			z[v * 3 + c] = c == (v == 2 ? 0 : 1) ? 40.0f : 0.0f;
	task_score_logits(t, in, 0, z, &loss, &ok, &code, &sampled, prob);
	ck_assert_uint_eq(ok, 0);
	ck_assert_double_eq_tol(loss, 2.0 / 12.0, 1e-7);

	/* argmax ties go to the lowest colour: all zero -> colour 0 */
	memset(z, 0, sizeof(z));
	task_score_logits(t, in, 0, z, &loss, &ok, &code, &sampled, prob);
	ck_assert_uint_eq(code, 0);
	ck_assert_uint_eq(ok, 0);
	ck_assert_double_eq_tol(loss, 1.0 / 9.0, 1e-7);
	ck_assert_double_eq_tol(prob[5], 1.0 / 3.0, 1e-7);
	task_inputs_free(in);
	task_free(t);
}
END_TEST

/* Sum over all 3^N colourings of prod_v p_v(c_v) over proper ones. */
static double brute_sampled(const double *p, const uint32_t *order,
			    uint32_t N)
{
	uint8_t col[16];
	double total = 0.0;
	uint64_t n = 1;

	for (uint32_t v = 0; v < N; v++)
		n *= 3;
	for (uint64_t c = 0; c < n; c++) {
		uint64_t r = c;
		double pr = 1.0;
		for (uint32_t v = 0; v < N; v++) {
			col[v] = (uint8_t)(r % 3);
			r /= 3;
			pr *= p[v * 3 + col[v]];
		}
		int proper = 1;
		for (uint32_t k = 0; k < N; k++)
			if (col[order[k]] == col[order[(k + 1) % N]])
				proper = 0;
		if (proper)
			total += pr;
	}
	return total;
}

START_TEST(tasks_coloring_sampled_bruteforce)
{
	struct rng_stream s;

	rng_stream_init(&s, 2, RNG_PURPOSE_TEST, 0, 0);
	for (uint32_t N = 3; N <= 7; N++) {
		for (int rep = 0; rep < 6; rep++) {
			double p[21];
			float z[21];
			uint32_t order[7];

			for (uint32_t i = 0; i < N * 3; i++)
				z[i] = 2.0f * rng_normal(&s);
			coloring_softmax(z, N, p);
			for (uint32_t v = 0; v < N; v++)
				order[v] = v;
			rng_shuffle_u32(&s, order, N);
			ck_assert_double_eq_tol(
				coloring_sampled_success(p, order, N),
				brute_sampled(p, order, N), 1e-12);
		}
		/* uniform p: proper 3-colourings of C_N are 2^N + 2(-1)^N */
		double u[21];
		uint32_t order[7];
		for (uint32_t i = 0; i < N * 3; i++)
			u[i] = 1.0 / 3.0;
		for (uint32_t v = 0; v < N; v++)
			order[v] = v;
		ck_assert_double_eq_tol(coloring_sampled_success(u, order, N),
					(pow(2, N) + 2 * pow(-1, N)) /
						pow(3, N),
					1e-12);
	}
}
END_TEST

static int cmp_canon(const void *a, const void *b)
{
	return memcmp(a, b, 8 * sizeof(uint32_t));
}

START_TEST(tasks_coloring_cycle_count)
{
	static const uint64_t want[] = {12, 60, 360, 2520, 20160, 181440};

	for (uint32_t N = 5; N <= 10; N++)
		ck_assert_uint_eq(coloring_cycle_count(N), want[N - 5]);
	ck_assert_uint_eq(coloring_cycle_count(3), 1);

	/* N <= 8: every N! vertex order, canonicalised and deduplicated,
	 * gives (N-1)!/2 cycles, and the unranked cycles are exactly them */
	for (uint32_t N = 3; N <= 8; N++) {
		uint64_t nf = 1, count = coloring_cycle_count(N), uniq = 0;
		for (uint32_t i = 2; i <= N; i++)
			nf *= i;
		uint32_t(*all)[8] = calloc(nf, sizeof(*all));
		uint32_t(*ranked)[8] = calloc(count, sizeof(*ranked));
		uint32_t perm[8];

		ck_assert(all && ranked);
		for (uint32_t v = 0; v < N; v++)
			perm[v] = v;
		/* Heap's algorithm, iterative */
		uint32_t c[8] = {0};
		uint64_t k = 0;
		coloring_cycle_canonical(perm, N, all[k++]);
		for (uint32_t i = 1; i < N;) {
			if (c[i] < i) {
				uint32_t j = (i % 2) ? c[i] : 0;
				uint32_t tmp = perm[j];
				perm[j] = perm[i];
				perm[i] = tmp;
				coloring_cycle_canonical(perm, N, all[k++]);
				c[i]++;
				i = 1;
			} else {
				c[i] = 0;
				i++;
			}
		}
		ck_assert_uint_eq(k, nf);
		qsort(all, nf, sizeof(*all), cmp_canon);
		for (uint64_t i = 0; i < nf; i++)
			if (i == 0 || cmp_canon(all[i], all[i - 1]) != 0)
				memmove(all[uniq++], all[i], sizeof(*all));
		ck_assert_uint_eq(uniq, count);

		for (uint64_t r = 0; r < count; r++) {
			uint32_t order[8], canon[8] = {0};
			coloring_cycle_unrank(r, N, order);
			ck_assert_uint_eq(order[0], 0);
			ck_assert_uint_lt(order[1], order[N - 1]);
			coloring_cycle_canonical(order, N, canon);
			ck_assert(memcmp(canon, order, N * 4) == 0);
			memcpy(ranked[r], canon, sizeof(ranked[r]));
		}
		qsort(ranked, count, sizeof(*ranked), cmp_canon);
		ck_assert(memcmp(ranked, all, count * sizeof(*all)) == 0);
		free(all);
		free(ranked);
	}
}
END_TEST

/* Checks the colouring input in slot: identity one-hot tokens; the mask
 * symmetric, zero diagonal, degree 2, one single cycle that is the
 * target order. */
static void check_coloring_input(const struct task *t,
				 const struct task_inputs *in, size_t slot)
{
	size_t N = t->n;
	const float *x = in->feat + slot * N * N;
	const uint8_t *mk = in->mask + slot * N * N;
	const uint32_t *order = in->target + slot * N;
	uint32_t seen = 0;

	for (size_t u = 0; u < N; u++) {
		unsigned deg = 0;
		ck_assert_uint_eq(mk[u * N + u], 0);
		for (size_t v = 0; v < N; v++) {
			ck_assert(x[u * N + v] == (u == v ? 1.0f : 0.0f));
			ck_assert_uint_eq(mk[u * N + v], mk[v * N + u]);
			deg += mk[u * N + v];
		}
		ck_assert_uint_eq(deg, 2);
	}
	/* walk the mask from vertex 0: N distinct vertices, back to 0 */
	size_t prev = N, cur = 0;
	for (size_t k = 0; k < N; k++) {
		size_t next = N;
		ck_assert(!(seen & (1u << cur)));
		seen |= 1u << cur;
		for (size_t v = 0; v < N; v++)
			if (mk[cur * N + v] && v != prev) {
				next = v;
				break;
			}
		prev = cur;
		cur = next;
	}
	ck_assert_uint_eq(cur, 0);
	ck_assert_uint_eq(seen, (1u << N) - 1);
	/* the target order follows mask edges */
	for (size_t k = 0; k < N; k++)
		ck_assert_uint_eq(mk[order[k] * N + order[(k + 1) % N]], 1);
}

START_TEST(tasks_coloring_inputs)
{
	struct task *t = make_task(TASK_KIND_CYCLE_COLORING, NULL);
	struct task_inputs *a = task_inputs_new(t, 32);
	struct task_inputs *b = task_inputs_new(t, 32);

	ck_assert_uint_eq(t->n, 10);
	ck_assert_int_eq(t->io.mask, MODEL_MASK_GRAPH);
	ck_assert_int_eq(t->io.output, MODEL_OUTPUT_EVERY);
	ck_assert_uint_eq(t->io.seq_len, 10);
	ck_assert_uint_eq(t->io.feat, 10);
	ck_assert_uint_eq(t->io.out_dim, 3);
	task_fill_train(t, 7, 11, 0, a, 32);
	task_fill_train(t, 7, 11, 0, b, 32);
	ck_assert(memcmp(a->mask, b->mask, 32 * 100) == 0);
	for (size_t i = 0; i < 32; i++)
		check_coloring_input(t, a, i);
	task_fill_train(t, 7, 12, 0, b, 32);
	ck_assert(memcmp(a->mask, b->mask, 32 * 100) != 0);

	/* the full evaluation set of C10 */
	ck_assert_uint_eq(t->n_eval_full, 181440);
	ck_assert(!t->eval_is_sample);
	for (uint64_t k = 0; k < 181440; k += 997) {
		task_fill_eval(t, 7, k, a, 0);
		check_coloring_input(t, a, 0);
	}
	task_inputs_free(a);
	task_inputs_free(b);
	task_free(t);
}
END_TEST

static void coloring_big(struct config *c)
{
	c->task.num_vertices = 12;
	c->task.eval_max_cycles = 1000;
}

static void coloring_exhaustive10(struct config *c)
{
	c->objective.adversary = ADVERSARY_EXHAUSTIVE;
}

START_TEST(tasks_coloring_sample_and_limits)
{
	struct task *t = make_task(TASK_KIND_CYCLE_COLORING, coloring_big);
	struct task_inputs *in = task_inputs_new(t, 1);
	struct config cfg;
	struct task *bad = NULL;
	char err[RANDES_ERR_LEN];

	ck_assert(t->eval_is_sample);
	ck_assert_uint_eq(t->n_eval_full, 1000);
	ck_assert_uint_eq(t->eval_set_size, 19958400); /* 11!/2 */
	task_fill_eval(t, 7, 999, in, 0);
	check_coloring_input(t, in, 0);
	task_inputs_free(in);
	task_free(t);

	/* 181440 cycles per generation is refused with a clear message */
	config_defaults(&cfg, TASK_KIND_CYCLE_COLORING);
	coloring_exhaustive10(&cfg);
	ck_assert_int_eq(task_new(&bad, &cfg, err), RANDES_ECONFIG);
	ck_assert_ptr_null(bad);
	ck_assert_ptr_nonnull(strstr(err, "sampled"));
	/* N = 8 exhaustive is fine: 2520 cycles */
	cfg.task.num_vertices = 8;
	ck_assert_int_eq(task_new(&bad, &cfg, err), 0);
	ck_assert_uint_eq(bad->n_adversary, 2520);
	task_free(bad);
}
END_TEST

START_TEST(tasks_config_errors)
{
	struct config cfg;
	struct task *t = NULL;
	char err[RANDES_ERR_LEN];

	config_defaults(&cfg, TASK_KIND_ASSOCIATIVE_RECALL);
	cfg.task.value_bits = 17;
	ck_assert_int_eq(task_new(&t, &cfg, err), RANDES_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "task.value_bits"));
	config_defaults(&cfg, TASK_KIND_ASSOCIATIVE_RECALL);
	cfg.task.exhaustive_values = 33;
	ck_assert_int_eq(task_new(&t, &cfg, err), RANDES_ECONFIG);
	config_defaults(&cfg, TASK_KIND_CYCLE_COLORING);
	cfg.task.num_vertices = 2;
	ck_assert_int_eq(task_new(&t, &cfg, err), RANDES_ECONFIG);
	config_defaults(&cfg, TASK_KIND_GRIDWORLD);
	cfg.task.size = 1;
	ck_assert_int_eq(task_new(&t, &cfg, err), RANDES_ECONFIG);
	ck_assert_ptr_null(t);
}
END_TEST

/* ---- grid world ------------------------------------------------------- */

START_TEST(tasks_grid_step_hand)
{
	struct grid_world w = {.size = 5, .episode_steps = 25, .episodes = 2,
			       .tx = 2, .ty = 1};
	struct grid_state s;
	struct grid_token tok;
	/* episode 1: left, down (two wall bumps), right, up, right (finds);
	 * episode 2: right, right, up (finds) */
	const unsigned acts[] = {GRID_LEFT, GRID_DOWN, GRID_RIGHT, GRID_UP,
				 GRID_RIGHT, GRID_RIGHT, GRID_RIGHT, GRID_UP};
	const uint32_t px[] = {0, 0, 1, 1, 2, 1, 2, 2};
	const uint32_t py[] = {0, 0, 0, 1, 1, 0, 0, 1};

	gridworld_state_init(&s);
	for (int i = 0; i < 8; i++) {
		ck_assert(!s.done);
		gridworld_step(&w, &s, acts[i], &tok);
		ck_assert_uint_eq(tok.x, px[i]);
		ck_assert_uint_eq(tok.y, py[i]);
		int finds = i == 4 || i == 7;
		ck_assert_int_eq(tok.found, finds);
		ck_assert_int_eq(tok.episode_end, finds);
		ck_assert(tok.reward == (finds ? 1.0f : -0.1f));
		if (i == 4) {
			/* reset to the start for episode 2 */
			ck_assert_uint_eq(s.x, 0);
			ck_assert_uint_eq(s.y, 0);
			ck_assert_uint_eq(s.episode, 1);
			ck_assert_uint_eq(s.total, 5);
		}
	}
	ck_assert(s.done);
	ck_assert_uint_eq(s.total, 8);
	ck_assert_uint_eq(s.found, 2);

	/* walls on the far side: up at the top row, right at the right */
	struct grid_world w2 = {.size = 3, .episode_steps = 25, .episodes = 1,
				.tx = 0, .ty = 1};
	gridworld_state_init(&s);
	s.x = 2;
	s.y = 2;
	gridworld_step(&w2, &s, GRID_UP, &tok);
	ck_assert_uint_eq(tok.x, 2);
	ck_assert_uint_eq(tok.y, 2);
	gridworld_step(&w2, &s, GRID_RIGHT, &tok);
	ck_assert_uint_eq(tok.x, 2);
	ck_assert_uint_eq(s.moves, 2);
}
END_TEST

START_TEST(tasks_grid_step_timeout)
{
	struct grid_world w = {.size = 5, .episode_steps = 25, .episodes = 2,
			       .tx = 4, .ty = 4};
	struct grid_state s;
	struct grid_token tok;
	int moves = 0;

	gridworld_state_init(&s);
	while (!s.done) {
		gridworld_step(&w, &s, GRID_LEFT, &tok);
		moves++;
		ck_assert(tok.reward == -0.1f);
		ck_assert_int_eq(tok.episode_end, moves == 25 || moves == 50);
	}
	ck_assert_int_eq(moves, 50);
	ck_assert_uint_eq(s.total, 50);
	ck_assert_uint_eq(s.found, 0);

	/* found in episode 1, never in episode 2: 1 + 25 moves */
	w.tx = 1;
	w.ty = 0;
	gridworld_state_init(&s);
	gridworld_step(&w, &s, GRID_RIGHT, &tok);
	ck_assert(tok.found);
	while (!s.done)
		gridworld_step(&w, &s, GRID_UP, &tok);
	ck_assert_uint_eq(s.total, 26);
	ck_assert_uint_eq(s.found, 1);
}
END_TEST

START_TEST(tasks_grid_argmax)
{
	const float tie[4] = {1, 3, 3, 0};
	const float nan0[4] = {NAN, -1, -2, -3};
	const float all[4] = {2, 2, 2, 2};

	ck_assert_uint_eq(gridworld_argmax(tie), 1);
	ck_assert_uint_eq(gridworld_argmax(nan0), 1);
	ck_assert_uint_eq(gridworld_argmax(all), 0);
}
END_TEST

START_TEST(tasks_grid_inputs)
{
	struct task *t = make_task(TASK_KIND_GRIDWORLD, NULL);
	struct task_inputs *a = task_inputs_new(t, 200);
	struct task_inputs *b = task_inputs_new(t, 200);
	uint32_t hits[25] = {0};

	ck_assert_uint_eq(t->io.seq_len, 50);
	ck_assert_uint_eq(t->io.feat, 1);
	ck_assert_uint_eq(t->io.n_index, 2);
	ck_assert_uint_eq(t->io.index_vocab, 5);
	ck_assert_uint_eq(t->io.out_dim, 4);
	ck_assert_uint_eq(t->n_adversary, 24);
	ck_assert_uint_eq(t->n_eval_full, 24);
	task_fill_train(t, 7, 5, 0, a, 200);
	task_fill_train(t, 7, 5, 0, b, 200);
	ck_assert(memcmp(a->target, b->target, 200 * 2 * 4) == 0);
	for (size_t i = 0; i < 200; i++) {
		uint32_t x = a->target[2 * i], y = a->target[2 * i + 1];
		ck_assert(x < 5 && y < 5);
		ck_assert(!(x == 0 && y == 0));
		hits[y * 5 + x]++;
	}
	ck_assert_uint_eq(hits[0], 0);
	task_fill_train(t, 7, 6, 0, b, 200);
	ck_assert(memcmp(a->target, b->target, 200 * 2 * 4) != 0);
	/* exhaustive: every non-start cell exactly once */
	memset(hits, 0, sizeof(hits));
	task_fill_train(t, 7, 5, 1, a, 24);
	for (size_t i = 0; i < 24; i++)
		hits[a->target[2 * i + 1] * 5 + a->target[2 * i]]++;
	ck_assert_uint_eq(hits[0], 0);
	for (int c = 1; c < 25; c++)
		ck_assert_uint_eq(hits[c], 1);
	task_inputs_free(a);
	task_inputs_free(b);
	task_free(t);
}
END_TEST

/*
 * A scripted policy: knows every sequence's treasure and walks straight
 * to it (x first, then y), tracking the position from the tokens it is
 * fed, exactly as a model would have to.  It also checks that sequence s
 * got seed s % ns.
 */
struct oracle {
	size_t B, ns, S;
	const struct task_inputs *in;
	uint32_t px[64], py[64];
	int steps;
	int mode; /* 0 oracle, 1 always left, 2 NaN after 3 steps */
};

static void oracle_logits(struct oracle *o, float *logits)
{
	for (size_t s = 0; s < o->B; s++) {
		uint32_t tx = o->in->target[(s / o->ns) * 2];
		uint32_t ty = o->in->target[(s / o->ns) * 2 + 1];
		unsigned a;
		float *z = logits + s * 4;

		if (o->mode == 1)
			a = GRID_LEFT;
		else if (o->px[s] < tx)
			a = GRID_RIGHT;
		else if (o->py[s] < ty)
			a = GRID_UP;
		else
			a = GRID_DOWN; /* only at the treasure: unused */
		for (int k = 0; k < 4; k++)
			z[k] = k == (int)a ? 1.0f : 0.0f;
		if (o->mode == 2 && o->steps >= 3 && s == o->B - 1)
			z[0] = NAN;
	}
}

static int oracle_begin(void *ctx, size_t B, const float *seed,
			float *logits)
{
	struct oracle *o = ctx;

	ck_assert_uint_eq(B, o->B);
	for (size_t s = 0; s < B; s++) {
		/* the test's seeds: seed j is S copies of j */
		for (size_t e = 0; e < o->S; e++)
			ck_assert(seed[s * o->S + e] == (float)(s % o->ns));
		o->px[s] = 0;
		o->py[s] = 0;
	}
	o->steps = 0;
	oracle_logits(o, logits);
	return 1;
}

static int oracle_step(void *ctx, const float *feat, const int32_t *index,
		       float *logits)
{
	struct oracle *o = ctx;

	for (size_t s = 0; s < o->B; s++) {
		o->px[s] = (uint32_t)index[2 * s];
		o->py[s] = (uint32_t)index[2 * s + 1];
		if (feat[s] == 1.0f) { /* found: the next episode starts */
			o->px[s] = 0;
			o->py[s] = 0;
		}
	}
	o->steps++;
	oracle_logits(o, logits);
	return 0;
}

START_TEST(tasks_grid_rollout_scripted)
{
	struct task *t = make_task(TASK_KIND_GRIDWORLD, NULL);
	struct task_inputs *in = task_inputs_new(t, 24);
	struct task_ws *ws;
	size_t ns = 2, S = 3, B = 48, Lx = 50;
	float seeds[6] = {0, 0, 0, 1, 1, 1};
	float loss[48];
	uint8_t ok[48];
	uint64_t code[48];
	float *dfeat = calloc(B * Lx, sizeof(float));
	int32_t *dindex = calloc(B * Lx * 2, sizeof(int32_t));
	float *dlogits = calloc(B * Lx * 4, sizeof(float));
	int32_t dlen[48];
	struct task_out out = {.loss = loss, .success = ok, .code = code,
			       .dump_feat = dfeat, .dump_index = dindex,
			       .dump_logits = dlogits, .dump_len = dlen};
	struct oracle o = {.B = B, .ns = ns, .S = S, .in = in};
	struct grid_policy pol = {oracle_begin, oracle_step, &o};
	char err[RANDES_ERR_LEN];

	/* task_ws_new wants a model for the grid; build the roll-out
	 * scratch by hand for the scripted policy */
	ws = calloc(1, sizeof(*ws));
	ws->cap = B;
	ws->logits = calloc(B * 4, sizeof(float));
	ws->seed_rows = calloc(B * S, sizeof(float));
	ws->feat = calloc(B, sizeof(float));
	ws->index = calloc(B * 2, sizeof(int32_t));
	ws->state = calloc(B, sizeof(*ws->state));
	ws->bad = calloc(B, 1);
	ws->hash = calloc(B, sizeof(uint64_t));

	task_fill_train(t, 7, 0, 1, in, 24);
	ck_assert_int_eq(gridworld_rollout(t, &pol, in, 0, 24, seeds, ns, S,
					   ws, &out, 0, err),
			 0);
	for (size_t s = 0; s < B; s++) {
		uint32_t tx = in->target[(s / ns) * 2];
		uint32_t ty = in->target[(s / ns) * 2 + 1];
		int32_t d = (int32_t)(tx + ty);

		ck_assert_float_eq(loss[s], (float)(2 * d));
		ck_assert_uint_eq(ok[s], 1);
		ck_assert_int_eq(dlen[s], 2 * d);
		/* the finding moves carry reward +1, the others -0.1 */
		for (int32_t m = 0; m < 2 * d; m++) {
			float r = dfeat[s * Lx + (size_t)m];
			ck_assert(r == ((m == d - 1 || m == 2 * d - 1)
						? 1.0f
						: -0.1f));
		}
		/* the token of the first finding move is the treasure */
		ck_assert_int_eq(dindex[(s * Lx + (size_t)d - 1) * 2], tx);
		ck_assert_int_eq(dindex[(s * Lx + (size_t)d - 1) * 2 + 1],
				 ty);
		/* past the end: zeros */
		ck_assert(dfeat[s * Lx + (size_t)(2 * d)] == 0.0f);
		/* the same path, the same action hash, for both seeds */
		if (s % ns == 1)
			ck_assert_uint_eq(code[s], code[s - 1]);
	}
	/* different treasures, different paths */
	ck_assert_uint_ne(code[0], code[2 * 23]);

	/* a policy that never finds: 50 moves, failure */
	o.mode = 1;
	ck_assert_int_eq(gridworld_rollout(t, &pol, in, 0, 24, seeds, ns, S,
					   ws, &out, 0, err),
			 0);
	for (size_t s = 0; s < B; s++) {
		ck_assert_float_eq(loss[s], 50.0f);
		ck_assert_uint_eq(ok[s], 0);
	}

	/* non-finite logits give a NaN loss for that sequence only */
	o.mode = 2;
	ck_assert_int_eq(gridworld_rollout(t, &pol, in, 0, 24, seeds, ns, S,
					   ws, &out, 0, err),
			 0);
	ck_assert(isnan(loss[B - 1]));
	ck_assert(isfinite(loss[B - 2]));
	ck_assert(isfinite(loss[0]));

	free(dfeat);
	free(dindex);
	free(dlogits);
	task_ws_free(ws);
	task_inputs_free(in);
	task_free(t);
}
END_TEST

/* ---- test functions ---------------------------------------------------- */

static void rastrigin2(struct config *c)
{
	c->task.dim = 2;
}

START_TEST(tasks_testfn)
{
	float x[4] = {0, 0, 0, 0};

	ck_assert_double_eq(testfn_rastrigin(x, 4), 0.0);
	ck_assert_double_eq(testfn_sphere(x, 4), 0.0);
	/* integers: cos(2 pi k) = 1, so 1 + 0 per unit coordinate */
	float ones[3] = {1, -1, 2};
	ck_assert_double_eq_tol(testfn_rastrigin(ones, 3), 1 + 1 + 4, 1e-9);
	/* x = 0.5: 0.25 + 10 + 10 */
	float half[2] = {0.5f, -0.5f};
	ck_assert_double_eq_tol(testfn_rastrigin(half, 2), 40.5, 1e-9);
	ck_assert_double_eq(testfn_sphere(ones, 3), 6.0);

	struct task *t = make_task(TASK_KIND_RASTRIGIN, rastrigin2);
	ck_assert(!t->has_model);
	ck_assert_double_eq(task_direct_loss(t, half, t->dim),
			    testfn_rastrigin(half, 2));
	task_free(t);
}
END_TEST

static Suite *tasks_suite(void)
{
	Suite *s = suite_create("tasks");
	TCase *tc;

	tc = tcase_create("tasks:recall");
	tcase_add_test(tc, tasks_recall_bce);
	tcase_add_test(tc, tasks_recall_sampled_bruteforce);
	tcase_add_test(tc, tasks_recall_inputs);
	tcase_add_test(tc, tasks_recall_eval_set);
	tcase_add_test(tc, tasks_recall_score_oracle);
	suite_add_tcase(s, tc);

	tc = tcase_create("tasks:coloring");
	tcase_add_test(tc, tasks_coloring_loss_hand);
	tcase_add_test(tc, tasks_coloring_score_clash);
	tcase_add_test(tc, tasks_coloring_score_block);
	tcase_add_test(tc, tasks_coloring_score_block_f);
	tcase_add_test(tc, tasks_coloring_numerics_switch);
	tcase_add_test(tc, tasks_coloring_sampled_bruteforce);
	tcase_add_test(tc, tasks_coloring_cycle_count);
	tcase_add_test(tc, tasks_coloring_inputs);
	tcase_add_test(tc, tasks_coloring_sample_and_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("tasks:grid");
	tcase_add_test(tc, tasks_grid_step_hand);
	tcase_add_test(tc, tasks_grid_step_timeout);
	tcase_add_test(tc, tasks_grid_argmax);
	tcase_add_test(tc, tasks_grid_inputs);
	tcase_add_test(tc, tasks_grid_rollout_scripted);
	suite_add_tcase(s, tc);

	tc = tcase_create("tasks:misc");
	tcase_add_test(tc, tasks_config_errors);
	tcase_add_test(tc, tasks_testfn);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tasks_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
