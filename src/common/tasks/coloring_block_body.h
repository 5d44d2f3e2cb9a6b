/*
 * coloring_block_body.h: the block scorer of cycle colouring, one
 * sequence per vector lane, for one numeric type.  cycle_coloring.c
 * includes it twice:
 *   - doubles, 8 lanes: coloring_score_block (the training scores of
 *     task.coloring_numerics: double, bitwise those of the one-sequence
 *     functions coloring_softmax, coloring_loss and coloring_is_proper);
 *   - floats, 16 lanes: coloring_score_block_f (numerics: float).
 * Each inclusion defines the body, its three instruction-set copies
 * CB_PUBLIC_<generic|avx2|avx512> and, unless CB_NO_PUBLIC is defined, the
 * public function that dispatches on blas_isa_get().  The two numerics
 * differ only where the includer says (task.h states each one's
 * operations):
 *   CB_PUBLIC      the public function's name
 *   CB_T, CB_V, CB_M, CB_NL  the scalar type, its vector of CB_NL lanes
 *                  and the comparison-mask vector of the same width
 *   CB_EXP_NEG_N   vmath's e^-x over an array of CB_T (in place)
 *   CB_TRANSPOSE   void (CB_V *zt, const float *const *z, size_t nb,
 *                  size_t NO): zt[i][l] = z[l][i], lanes past nb
 *                  repeating sequence nb - 1
 *   CB_PROB_SCALE, CB_PROB_APPLY  the probabilities of one vertex from
 *                  its exponentials e_c and their sum t = (e0 + e1) + e2:
 *                  u = CB_PROB_SCALE(t), then p_c = CB_PROB_APPLY(e_c, u)
 * No include guard: meant to be included more than once; it #undefs its
 * helpers and its parameters at the end.
 */

#define CB_CAT2(a, b) a##_##b
#define CB_CAT(a, b) CB_CAT2(a, b)
#define CB_FN(sfx) CB_CAT(CB_PUBLIC, sfx)
/* blas.h's dispatch pastes its kernel name: expand CB_PUBLIC first */
#define CB_DISPATCH(name, ...) BLAS_ISA_DISPATCH((void), name, __VA_ARGS__)

/* Lane-wise m ? a : b, m all-ones or all-zeros per lane (a comparison). */
#define CB_SEL(m, a, b) ((CB_V)(((CB_M)(a) & (m)) | ((CB_M)(b) & ~(m))))

static inline __attribute__((always_inline)) void
CB_FN(body)(uint32_t N, size_t nb, const float *const *z,
	    const uint32_t *const *order, CB_T *loss, uint8_t *success,
	    uint8_t *colour, CB_T *p)
{
	const size_t NO = (size_t)N * TASK_COLORS, NL = CB_NL;
	const CB_V zero = {0}, one = zero + 1, two = zero + 2;
	/* lane l is sequence l (past nb: the last one again, unused) */
	CB_V zt[TASK_COLORING_MAX_N * TASK_COLORS];  /* logits by lane     */
	CB_V e[TASK_COLORING_MAX_N * TASK_COLORS];   /* args, exps, probs  */
	CB_V best[TASK_COLORING_MAX_N];              /* argmax colour      */
	CB_V pc[TASK_COLORING_MAX_N * TASK_COLORS];  /* probs, cycle order */
	CB_V bc[TASK_COLORING_MAX_N];                /* colour, cycle order */
	CB_V o[2 * TASK_COLORING_MAX_N];             /* the non-max exps   */
	CB_V s = zero, clash = zero;
	CB_M infinite = {0};
	int all = 1;
	/* the distinct cycles of the block, and the lanes of each */
	const uint32_t *cyc[CB_NL];
	CB_M lanes[CB_NL];
	size_t ncyc = 0;

	RANDES_ASSERT(nb >= 1 && nb <= NL);
	RANDES_ASSERT(N >= 3 && N <= TASK_COLORING_MAX_N);
	CB_TRANSPOSE(zt, z, nb, NO);
	/*
	 * Per vertex: the max (z0, then each later one if greater), the
	 * arguments z_c - mx, and the argmax: z1 > z0 ? 1 : 0, then
	 * z2 > max(z0, z1) ? 2 : that, so ties go to the lower colour and
	 * NaN never wins.  Every comparison feeds a select at once (with
	 * AVX-512F alone GCC would build its mask as a vector lane by lane).
	 */
	for (size_t v = 0; v < N; v++) {
		const CB_V z0 = zt[3 * v], z1 = zt[3 * v + 1], z2 = zt[3 * v + 2];
		CB_V mx = z0, b1;

		mx = CB_SEL(z1 > mx, z1, mx);
		mx = CB_SEL(z2 > mx, z2, mx);
		e[3 * v] = z0 - mx;
		e[3 * v + 1] = z1 - mx;
		e[3 * v + 2] = z2 - mx;
		b1 = CB_SEL(z1 > z0, one, zero);
		best[v] = CB_SEL(z2 > CB_SEL(z1 > z0, z1, z0), two, b1);
		infinite |= mx - mx != zero;
	}
	/*
	 * The exponentials.  best is also the index of mx, so its argument
	 * is mx - mx = +0 whenever mx is finite, and e^-(+0) = 1 exactly:
	 * then only the two other arguments of each vertex go through exp
	 * (in index order), else (an infinite or NaN max in some lane) all
	 * three.
	 */
	for (size_t l = 0; l < NL; l++)
		all = all && infinite[l] == 0;
	if (all) {
		for (size_t v = 0; v < N; v++) {
			const CB_V bv = best[v];

			o[2 * v] = CB_SEL(bv == zero, e[3 * v + 1], e[3 * v]);
			o[2 * v + 1] = CB_SEL(bv == two, e[3 * v + 1],
					      e[3 * v + 2]);
		}
		CB_EXP_NEG_N((CB_T *)o, (CB_T *)o, 2 * N * NL);
		for (size_t v = 0; v < N; v++) {
			const CB_V bv = best[v];

			e[3 * v] = CB_SEL(bv == zero, one, o[2 * v]);
			e[3 * v + 1] = CB_SEL(bv == zero, o[2 * v],
					      CB_SEL(bv == one, one, o[2 * v + 1]));
			e[3 * v + 2] = CB_SEL(bv == two, one, o[2 * v + 1]);
		}
	} else {
		CB_EXP_NEG_N((CB_T *)e, (CB_T *)e, NO * NL);
	}
	for (size_t v = 0; v < N; v++) {
		const CB_V u = CB_PROB_SCALE((e[3 * v] + e[3 * v + 1]) +
					     e[3 * v + 2]);

		for (size_t c = 0; c < TASK_COLORS; c++)
			e[3 * v + c] = CB_PROB_APPLY(e[3 * v + c], u);
	}
	/* each lane's cycle order: the lanes of one cycle (the seeds of one
	 * input share it) take their values by one select per cycle */
	for (size_t l = 0; l < NL; l++) {
		const uint32_t *ol = order[l < nb ? l : nb - 1];
		size_t d = 0;

		while (d < ncyc && cyc[d] != ol)
			d++;
		if (d == ncyc) {
			cyc[ncyc++] = ol;
			lanes[d] = (CB_M){0};
		}
		lanes[d][l] = -1;
	}
	for (size_t k = 0; k < N; k++) {
		size_t u = cyc[0][k];

		pc[3 * k] = e[3 * u];
		pc[3 * k + 1] = e[3 * u + 1];
		pc[3 * k + 2] = e[3 * u + 2];
		bc[k] = best[u];
		for (size_t d = 1; d < ncyc; d++) {
			u = cyc[d][k];
			pc[3 * k] = CB_SEL(lanes[d], e[3 * u], pc[3 * k]);
			pc[3 * k + 1] = CB_SEL(lanes[d], e[3 * u + 1],
					       pc[3 * k + 1]);
			pc[3 * k + 2] = CB_SEL(lanes[d], e[3 * u + 2],
					       pc[3 * k + 2]);
			bc[k] = CB_SEL(lanes[d], best[u], bc[k]);
		}
	}
	/* the loss and properness, edge k -> k+1 mod N, colours in order */
	for (size_t k = 0; k < N; k++) {
		size_t kn = k + 1 == N ? 0 : k + 1;

		for (size_t c = 0; c < TASK_COLORS; c++)
			s = s + pc[3 * k + c] * pc[3 * kn + c];
		clash = CB_SEL(bc[k] == bc[kn], one, clash);
	}
	s = s / (CB_T)(3 * N);
	for (size_t l = 0; l < nb; l++) {
		loss[l] = s[l];
		success[l] = clash[l] == 0;
		if (colour)
			for (size_t v = 0; v < N; v++)
				colour[l * N + v] = (uint8_t)best[v][l];
		if (p)
			for (size_t i = 0; i < NO; i++)
				p[l * NO + i] = e[i][l];
	}
}

#define CB_COPY static __attribute__((unused))

CB_COPY void CB_FN(generic)(uint32_t N, size_t nb, const float *const *z,
			   const uint32_t *const *order, CB_T *loss,
			   uint8_t *success, uint8_t *colour, CB_T *p)
{
	CB_FN(body)(N, nb, z, order, loss, success, colour, p);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) CB_COPY void
CB_FN(avx2)(uint32_t N, size_t nb, const float *const *z,
	    const uint32_t *const *order, CB_T *loss, uint8_t *success,
	    uint8_t *colour, CB_T *p)
{
	CB_FN(body)(N, nb, z, order, loss, success, colour, p);
}

__attribute__((target("avx512f"))) CB_COPY void
CB_FN(avx512)(uint32_t N, size_t nb, const float *const *z,
	      const uint32_t *const *order, CB_T *loss, uint8_t *success,
	      uint8_t *colour, CB_T *p)
{
	CB_FN(body)(N, nb, z, order, loss, success, colour, p);
}
#endif

#ifndef CB_NO_PUBLIC
void CB_PUBLIC(uint32_t N, size_t nb, const float *const *z,
	       const uint32_t *const *order, CB_T *loss, uint8_t *success,
	       uint8_t *colour, CB_T *p)
{
#if defined(__x86_64__) || defined(__i386__)
	CB_DISPATCH(CB_PUBLIC, N, nb, z, order, loss, success, colour, p);
#else
	CB_FN(generic)(N, nb, z, order, loss, success, colour, p);
#endif
}
#endif

#undef CB_SEL
#undef CB_COPY
#undef CB_NO_PUBLIC
#undef CB_DISPATCH
#undef CB_FN
#undef CB_CAT
#undef CB_CAT2
#undef CB_PUBLIC
#undef CB_T
#undef CB_V
#undef CB_M
#undef CB_NL
#undef CB_EXP_NEG_N
#undef CB_TRANSPOSE
#undef CB_PROB_SCALE
#undef CB_PROB_APPLY
