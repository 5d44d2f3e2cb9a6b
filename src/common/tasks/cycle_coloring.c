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

#include "common/blas.h"
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

/* --- the scores of a block of sequences, one per vector lane ------------- */

typedef double v8d __attribute__((vector_size(COLORING_LANES * sizeof(double))));
typedef float v8f __attribute__((vector_size(COLORING_LANES * sizeof(float))));
typedef int64_t v8i __attribute__((vector_size(COLORING_LANES * sizeof(double))));
typedef float v16f __attribute__((vector_size(COLORING_LANES_F * sizeof(float))));
typedef int32_t v16s __attribute__((vector_size(COLORING_LANES_F * sizeof(float))));
typedef int32_t v8s __attribute__((vector_size(COLORING_LANES * sizeof(float))));

/*
 * t[j] = (z[0][i + j], ..., z[7][i + j]) for j < 8: an 8 x 8 block
 * transposed in registers, lanes past nb repeating sequence nb - 1.
 */
static inline __attribute__((always_inline)) void
transpose_block_8(v8f *t, const float *const *z, size_t nb, size_t i)
{
	v8f r[COLORING_LANES], u[COLORING_LANES], w[COLORING_LANES];

	for (size_t l = 0; l < COLORING_LANES; l++)
		memcpy(&r[l], z[l < nb ? l : nb - 1] + i, sizeof(v8f));
	for (size_t l = 0; l < COLORING_LANES; l += 2) {
		u[l] = __builtin_shufflevector(r[l], r[l + 1],
					0, 8, 1, 9, 4, 12, 5, 13);
		u[l + 1] = __builtin_shufflevector(r[l], r[l + 1],
					2, 10, 3, 11, 6, 14, 7, 15);
	}
	for (size_t l = 0; l < COLORING_LANES; l += 4)
		for (size_t h = 0; h < 2; h++) {
			v8f a = u[l + h], b = u[l + h + 2];

			w[l + h] = __builtin_shufflevector(a, b,
					0, 1, 8, 9, 4, 5, 12, 13);
			w[l + h + 2] = __builtin_shufflevector(a, b,
					2, 3, 10, 11, 6, 7, 14, 15);
		}
	/* w[0..3]: rows 0-3, columns {0,4} {2,6} {1,5} {3,7} in halves;
	 * w[4..7] rows 4-7 */
	for (size_t j = 0; j < 4; j++) {
		static const size_t src[4] = {0, 2, 1, 3};
		v8f a = w[src[j]], b = w[4 + src[j]];

		t[j] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11);
		t[j + 4] = __builtin_shufflevector(a, b,
					4, 5, 6, 7, 12, 13, 14, 15);
	}
}

/*
 * zt[i][l] = (double)z[l][i] for 8 lanes: 8 x 8 blocks, the last block
 * overlapping the one before (NO = 3N >= 9).
 */
static inline __attribute__((always_inline)) void
transpose_widen_8(v8d *zt, const float *const *z, size_t nb, size_t NO)
{
	for (size_t i0 = 0; i0 < NO; i0 += COLORING_LANES) {
		size_t i = i0 + COLORING_LANES <= NO ? i0 : NO - COLORING_LANES;
		v8f t[COLORING_LANES];

		transpose_block_8(t, z, nb, i);
		for (size_t j = 0; j < COLORING_LANES; j++)
			zt[i + j] = __builtin_convertvector(t[j], v8d);
	}
}

/* zt[i][l] = z[l][i] for 8 lanes of floats, as transpose_widen_8. */
static inline __attribute__((always_inline)) void
transpose_8f(v8f *zt, const float *const *z, size_t nb, size_t NO)
{
	for (size_t i0 = 0; i0 < NO; i0 += COLORING_LANES) {
		size_t i = i0 + COLORING_LANES <= NO ? i0 : NO - COLORING_LANES;

		transpose_block_8(zt + i, z, nb, i);
	}
}

/* One stage of the 16 x 16 transpose: rows i and i + b (i & b == 0)
 * exchange their off-diagonal b x b blocks. */
#define TSTAGE(b, ...)                                                     \
	for (size_t i_ = 0; i_ < 16; i_++) {                               \
		if (i_ & (b))                                              \
			continue;                                          \
		v16f lo_ = __builtin_shufflevector(r[i_], r[i_ + (b)],     \
						   __VA_ARGS__);           \
		r[i_ + (b)] = TSTAGE_HI_##b(r[i_], r[i_ + (b)]);           \
		r[i_] = lo_;                                               \
	}
#define TSTAGE_HI_8(a, c) __builtin_shufflevector(a, c, 8, 9, 10, 11, 12, \
	13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31)
#define TSTAGE_HI_4(a, c) __builtin_shufflevector(a, c, 4, 5, 6, 7, 20,   \
	21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31)
#define TSTAGE_HI_2(a, c) __builtin_shufflevector(a, c, 2, 3, 18, 19, 6,  \
	7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31)
#define TSTAGE_HI_1(a, c) __builtin_shufflevector(a, c, 1, 17, 3, 19, 5,  \
	21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31)

/*
 * zt[i][l] = z[l][i] for 16 lanes: 16 x 16 blocks transposed in registers,
 * the last block overlapping the one before; N <= 5 (NO < 16) lane by
 * lane.
 */
static inline __attribute__((always_inline)) void
transpose_16(v16f *zt, const float *const *z, size_t nb, size_t NO)
{
	const size_t NL = COLORING_LANES_F;

	if (NO < NL) {
		for (size_t i = 0; i < NO; i++)
			for (size_t l = 0; l < NL; l++)
				zt[i][l] = z[l < nb ? l : nb - 1][i];
		return;
	}
	for (size_t i0 = 0; i0 < NO; i0 += NL) {
		size_t i = i0 + NL <= NO ? i0 : NO - NL;
		v16f r[COLORING_LANES_F];

		for (size_t l = 0; l < NL; l++)
			memcpy(&r[l], z[l < nb ? l : nb - 1] + i, sizeof(v16f));
		TSTAGE(8, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22,
		       23)
		TSTAGE(4, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25,
		       26, 27)
		TSTAGE(2, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13,
		       28, 29)
		TSTAGE(1, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28,
		       14, 30)
		for (size_t c = 0; c < NL; c++)
			zt[i + c] = r[c];
	}
}

/* The probabilities from the exponentials and their sum t: doubles
 * p_c = e_c / t, as coloring_softmax; floats one division per vertex,
 * p_c = e_c (1 / t). */
#define PROB_SCALE_DIV(t) (t)
#define PROB_APPLY_DIV(e, t) ((e) / (t))
#define PROB_SCALE_RECIP(t) (1.0f / (t))
#define PROB_APPLY_RECIP(e, u) ((e) * (u))

#define CB_PUBLIC coloring_score_block
#define CB_T double
#define CB_V v8d
#define CB_M v8i
#define CB_NL COLORING_LANES
#define CB_EXP_NEG_N vmath_exp_neg_n
#define CB_TRANSPOSE transpose_widen_8
#define CB_PROB_SCALE PROB_SCALE_DIV
#define CB_PROB_APPLY PROB_APPLY_DIV
#include "common/tasks/coloring_block_body.h"

/*
 * The float scorer twice: 16 lanes (one AVX-512 vector) and 8 (one AVX2
 * vector; GCC would keep a 16-float vector in memory there).  Every lane
 * does the same operations either way, so the bits do not depend on which
 * runs.
 */
#define CB_PUBLIC coloring_score_block_f16
#define CB_NO_PUBLIC
#define CB_T float
#define CB_V v16f
#define CB_M v16s
#define CB_NL COLORING_LANES_F
#define CB_EXP_NEG_N vmath_expf_neg_n
#define CB_TRANSPOSE transpose_16
#define CB_PROB_SCALE PROB_SCALE_RECIP
#define CB_PROB_APPLY PROB_APPLY_RECIP
#include "common/tasks/coloring_block_body.h"

#define CB_PUBLIC coloring_score_block_f8
#define CB_NO_PUBLIC
#define CB_T float
#define CB_V v8f
#define CB_M v8s
#define CB_NL COLORING_LANES
#define CB_EXP_NEG_N vmath_expf_neg_n
#define CB_TRANSPOSE transpose_8f
#define CB_PROB_SCALE PROB_SCALE_RECIP
#define CB_PROB_APPLY PROB_APPLY_RECIP
#include "common/tasks/coloring_block_body.h"

void coloring_score_block_f(uint32_t N, size_t nb, const float *const *z,
			    const uint32_t *const *order, float *loss,
			    uint8_t *success, uint8_t *colour, float *p)
{
#if defined(__x86_64__) || defined(__i386__)
	const size_t NO = (size_t)N * TASK_COLORS;

	switch (blas_isa_get()) {
	case BLAS_ISA_AVX512:
		coloring_score_block_f16_avx512(N, nb, z, order, loss, success,
						colour, p);
		return;
	case BLAS_ISA_AVX2:
		for (size_t s = 0; s < nb; s += COLORING_LANES) {
			size_t n = nb - s < COLORING_LANES ? nb - s
							   : COLORING_LANES;

			coloring_score_block_f8_avx2(
				N, n, z + s, order + s, loss + s, success + s,
				colour ? colour + s * N : NULL,
				p ? p + s * NO : NULL);
		}
		return;
	case BLAS_ISA_GENERIC:
		break;
	}
#endif
	coloring_score_block_f16_generic(N, nb, z, order, loss, success,
					 colour, p);
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
	t->coloring_float =
		cfg->task.coloring_numerics == COLORING_NUMERICS_FLOAT;
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
/* The colouring as one base-3 number: colour[0] + 3 colour[1] + ... */
static uint64_t colour_code(const uint8_t *colour, uint32_t N)
{
	uint64_t c = 0, w = 1;

	for (uint32_t v = 0; v < N; v++) {
		c += w * colour[v];
		w *= TASK_COLORS;
	}
	return c;
}

static void coloring_score_p(const struct task *t,
			     const struct task_inputs *in, size_t slot,
			     const float *z, const double *p, float *loss,
			     uint8_t *success, uint64_t *code, double *sampled,
			     float *prob)
{
	uint32_t N = t->n;
	const uint32_t *order = in->target + slot * N;
	uint8_t colour[TASK_COLORING_MAX_N];

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
	}
	*success = (uint8_t)coloring_is_proper(colour, order, N);
	if (code)
		*code = colour_code(colour, N);
	if (sampled)
		*sampled = coloring_sampled_success(p, order, N);
	if (prob)
		for (size_t i = 0; i < (size_t)N * TASK_COLORS; i++)
			prob[i] = (float)p[i];
}

/* The extra outputs of one sequence scored in float: colour code, sampled
 * success (in double, from the float probabilities) and probabilities. */
static void coloring_extra_f(uint32_t N, const uint32_t *order,
			     const uint8_t *colour, const float *pf,
			     uint64_t *code, double *sampled, float *prob)
{
	if (code)
		*code = colour_code(colour, N);
	if (sampled) {
		double pd[TASK_COLORING_MAX_N * TASK_COLORS];

		for (size_t i = 0; i < (size_t)N * TASK_COLORS; i++)
			pd[i] = (double)pf[i];
		*sampled = coloring_sampled_success(pd, order, N);
	}
	if (prob)
		memcpy(prob, pf, (size_t)N * TASK_COLORS * sizeof(float));
}

static void coloring_score(const struct task *t, const struct task_inputs *in,
			   size_t slot, const float *z, float *loss,
			   uint8_t *success, uint64_t *code, double *sampled,
			   float *prob)
{
	double p[TASK_COLORING_MAX_N * TASK_COLORS];

	if (t->coloring_float) {
		/* a block of one: the bits of coloring_run's blocks */
		const uint32_t *order = in->target + slot * t->n;
		float pf[TASK_COLORING_MAX_N * TASK_COLORS];
		uint8_t colour[TASK_COLORING_MAX_N];

		coloring_score_block_f(t->n, 1, &z, &order, loss, success,
				       colour, pf);
		coloring_extra_f(t->n, order, colour, pf, code, sampled, prob);
		return;
	}
	coloring_softmax(z, t->n, p);
	coloring_score_p(t, in, slot, z, p, loss, success, code, sampled,
			 prob);
}

/* The outputs that do not depend on the numerics: the dumps. */
static void coloring_dump(const struct task_inputs *in, size_t N,
			  size_t slot, const float *z,
			  const struct task_out *out, size_t o)
{
	if (out->dump_feat)
		memcpy(out->dump_feat + o * N * N, in->feat + slot * N * N,
		       N * N * sizeof(float));
	if (out->dump_logits)
		memcpy(out->dump_logits + o * N * TASK_COLORS, z,
		       N * TASK_COLORS * sizeof(float));
	if (out->dump_len)
		out->dump_len[o] = (int32_t)N;
}

/* coloring_run's scores in float: COLORING_LANES_F sequences at a time
 * (coloring_score_block_f). */
static void coloring_run_f(const struct task *t, const struct task_inputs *in,
			   size_t i0, size_t ns, size_t B,
			   const struct task_ws *ws, const struct task_out *out,
			   size_t off)
{
	const size_t N = t->n, O = TASK_COLORS;
	float p[COLORING_LANES_F * TASK_COLORING_MAX_N * TASK_COLORS];
	uint8_t colour[COLORING_LANES_F * TASK_COLORING_MAX_N];
	const int extra = out->code || out->sampled || out->prob;
	const int dump = out->dump_feat || out->dump_logits || out->dump_len;

	for (size_t s0 = 0, nb; s0 < B; s0 += nb) {
		const float *zs[COLORING_LANES_F];
		const uint32_t *os[COLORING_LANES_F];

		nb = B - s0 < COLORING_LANES_F ? B - s0 : COLORING_LANES_F;
		for (size_t k = 0; k < nb; k++) {
			size_t s = s0 + k, slot = i0 + s / ns;

			zs[k] = ws->logits + s * N * O; /* (N, O) */
			os[k] = in->target + slot * N;
		}
		coloring_score_block_f((uint32_t)N, nb, zs, os,
				       &out->loss[off + s0],
				       &out->success[off + s0],
				       extra ? colour : NULL, extra ? p : NULL);
		for (size_t k = 0; k < nb; k++) {
			size_t s = s0 + k, o = off + s;

			if (extra)
				coloring_extra_f((uint32_t)N, os[k],
						 colour + k * N, p + k * N * O,
						 out->code ? &out->code[o] : NULL,
						 out->sampled ? &out->sampled[o]
							      : NULL,
						 out->prob ? &out->prob[o * t->n_prob]
							   : NULL);
			if (dump)
				coloring_dump(in, N, i0 + s / ns, zs[k], out, o);
		}
	}
}

/*
 * The forward pass of the batch, then the scores COLORING_LANES sequences
 * at a time (coloring_score_block: the same bits as coloring_score), or
 * COLORING_LANES_F in float (task.coloring_numerics); the evaluation's
 * extra outputs from the block's softmax and colours.
 */
static int coloring_run(const struct task *t, const struct model *m,
			const float *theta, const struct task_inputs *in,
			size_t i0, size_t ni, const float *seeds, size_t ns,
			struct task_ws *ws, const struct task_out *out,
			size_t off, char *err)
{
	size_t N = t->n, O = TASK_COLORS, B = ni * ns;
	double p[COLORING_LANES * TASK_COLORING_MAX_N * TASK_COLORS];
	uint8_t colour[COLORING_LANES * TASK_COLORING_MAX_N];
	double loss[COLORING_LANES];
	const int extra = out->code || out->sampled || out->prob;
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
	if (t->coloring_float) {
		coloring_run_f(t, in, i0, ns, B, ws, out, off);
		return 0;
	}
	for (size_t s0 = 0, nb; s0 < B; s0 += nb) {
		const float *zs[COLORING_LANES];
		const uint32_t *os[COLORING_LANES];

		nb = B - s0 < COLORING_LANES ? B - s0 : COLORING_LANES;
		for (size_t k = 0; k < nb; k++) {
			size_t s = s0 + k, slot = i0 + s / ns;

			zs[k] = ws->logits + s * N * O; /* (N, O) */
			os[k] = in->target + slot * N;
		}
		coloring_score_block((uint32_t)N, nb, zs, os, loss,
				     &out->success[off + s0],
				     extra ? colour : NULL, extra ? p : NULL);
		for (size_t k = 0; k < nb; k++) {
			size_t s = s0 + k, slot = i0 + s / ns, o = off + s;
			const double *pk = p + k * N * O;

			out->loss[o] = (float)loss[k];

			if (out->code)
				out->code[o] = colour_code(colour + k * N,
							   (uint32_t)N);
			if (out->sampled)
				out->sampled[o] = coloring_sampled_success(
					pk, os[k], (uint32_t)N);
			if (out->prob)
				for (size_t i = 0; i < N * O; i++)
					out->prob[o * t->n_prob + i] = (float)pk[i];
			coloring_dump(in, N, slot, zs[k], out, o);
		}
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
