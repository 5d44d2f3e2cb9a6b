/*
 * model_lin_body.h: the vector kernels of the attention-only fast path,
 * written once and compiled three times by model_lin.c (x86-64 baseline,
 * AVX2, AVX-512F) with
 *     LIN_SFX     the name suffix (generic, avx2, avx512)
 *     LIN_TARGET  the target attribute (empty for the baseline)
 *     LIN_VL      lanes per vector: the machine's register width in floats
 *                 (4 on the baseline, 8 with AVX2, 16 with AVX-512F)
 *     LIN_CB      columns kept in registers at once (8 with 32 vector
 *                 registers, 4 otherwise)
 * Not a header to include anywhere else.
 *
 * Data come in lane blocks of 16 lanes, one sequence (seed) per lane,
 * stored 16 floats per value.  Every value here is a vector VL of LIN_VL
 * of those lanes; each entry point runs its pass over a block 16 / LIN_VL
 * times, on lanes o .. o+LIN_VL-1 (every per-lane pointer moved by o).  A
 * vector as wide as the registers stays in them: GCC keeps a 16-float
 * vector in memory on AVX2, which made that build 3-7 times slower than it
 * is now (docs/performance.md section 7.1).  Every lane performs exactly the
 * scalar operations the comments state, in the stated order, each product
 * and sum rounded separately (the build has -ffp-contract=off; nothing here
 * asks for fma), and no lane reads another.  So the three builds give the
 * same bits; only the number of instructions per operation differs.
 * Loads and stores go through memcpy (GCC turns them into vector moves);
 * no function takes or returns a VL, so the calling convention never
 * depends on the build.
 */

#define LIN_CAT2(a, b) a##_##b
#define LIN_CAT(a, b) LIN_CAT2(a, b)
#define LIN_FN(name) LIN_CAT(name, LIN_SFX)

typedef float LIN_FN(vl) __attribute__((vector_size(LIN_VL * sizeof(float))));
#define VL LIN_FN(vl)

/* one pass per LIN_VL lanes of a block of 16 */
#define LIN_PASSES(o) for (size_t o = 0; o < 16; o += LIN_VL)

/* dst[i] = src[i] + o, i < n: per-lane row pointers moved to a pass's
 * first lane. */
static inline __attribute__((always_inline)) void
LIN_FN(moved)(const float **dst, const float *const *src, size_t n, size_t o)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] + o;
}

/* A first-layer tuple row in passes: pass(ls, src, nk, out, scratch) with
 * src[0 .. nk], out and scratch moved to each pass's first lane. */
static inline __attribute__((always_inline)) void
LIN_FN(row_passes)(void (*pass)(const struct lin_spec *, const float *const *,
				size_t, float *, float *),
		   const struct lin_spec *ls, const float *const *src,
		   size_t nk, float *out, float *scratch)
{
	const float *so[LIN_MAX_L + 1];

	LIN_PASSES(o)
	{
		LIN_FN(moved)(so, src, nk + 1, o);
		pass(ls, so, nk, out + o, scratch + o);
	}
}

#define VLD(v, p) memcpy(&(v), (p), sizeof(VL))
#define VST(p, v) memcpy((p), &(v), sizeof(VL))

/*
 * out(N, 16) = in(K, 16) . w(K, N) [+ bias(N)] per lane (model_lin.h):
 * LIN_CB columns at a time with their accumulators in registers, the k
 * loop inside, one vector of `in` times a broadcast weight per step.
 */
LIN_TARGET static void LIN_FN(soa_gemm_pass)(size_t K, size_t N,
					      const float *in, const float *w,
					      size_t ldw, const float *bias,
					      float *out)
{
	size_t n = 0;

	for (; n + LIN_CB <= N; n += LIN_CB) {
		VL acc[LIN_CB];

#pragma GCC unroll 8
		for (size_t i = 0; i < LIN_CB; i++)
			acc[i] = (VL){0};
		for (size_t k = 0; k < K; k++) {
			const float *wr = w + k * ldw + n; /* (LIN_CB) */
			VL x;

			VLD(x, in + k * 16);
#pragma GCC unroll 8
			for (size_t i = 0; i < LIN_CB; i++)
				acc[i] = acc[i] + x * wr[i];
		}
#pragma GCC unroll 8
		for (size_t i = 0; i < LIN_CB; i++) {
			VL t = bias ? acc[i] + bias[n + i] : acc[i];
			VST(out + (n + i) * 16, t);
		}
	}
	for (; n < N; n++) {
		VL acc = {0}, x;

		for (size_t k = 0; k < K; k++) {
			VLD(x, in + k * 16);
			acc = acc + x * w[k * ldw + n];
		}
		if (bias)
			acc = acc + bias[n];
		VST(out + n * 16, acc);
	}
}

LIN_TARGET static void LIN_FN(soa_gemm)(size_t K, size_t N, const float *in,
					 const float *w, size_t ldw,
					 const float *bias, float *out)
{
	LIN_PASSES(o)
	LIN_FN(soa_gemm_pass)(K, N, in + o, w, ldw, bias, out + o);
}

/*
 * The embedding sum of a table row, h (W, 16):
 *     h[w] = (tp[w] + sp[w]) + be[w]
 * tp (W) broadcast over the lanes, sp (W, 16) per lane; a NULL tp or sp
 * drops that term (h = sp + be, or h = tp + be).
 */
LIN_TARGET static void LIN_FN(embed_sum)(size_t W, const float *tp,
					  const float *sp, const float *be,
					  float *h)
{
	LIN_PASSES(o)
	for (size_t w = 0; w < W; w++) {
		VL t, sv;

		if (tp && sp) {
			VLD(sv, sp + w * 16 + o);
			t = tp[w] + sv;
		} else if (sp) {
			VLD(t, sp + w * 16 + o);
		} else {
			t = (VL){0} + tp[w];
		}
		t = t + be[w];
		VST(h + w * 16 + o, t);
	}
}

/* h[w] = h[w] + pe[w] per lane, w < W. */
LIN_TARGET static void LIN_FN(add_row)(size_t W, const float *pe, float *h)
{
	LIN_PASSES(o)
	for (size_t w = 0; w < W; w++) {
		VL t;

		VLD(t, h + w * 16 + o);
		t = t + pe[w];
		VST(h + w * 16 + o, t);
	}
}

/* Position p, column c of the sequence scratch xs (L, TW, 16). */
#define XP(p, c) (xs + ((size_t)(p) * TW + (c)) * 16)

/*
 * Dispatches a block of nb <= LIN_CB columns to a body with nb a
 * compile-time constant, so that its accumulators live in registers
 * (CASE(n) expands the body for n columns).
 */
#if LIN_CB == 8
#define NB_SWITCH(nb, CASE)                                                \
	switch (nb) {                                                      \
	case 1: CASE(1); break;                                            \
	case 2: CASE(2); break;                                            \
	case 3: CASE(3); break;                                            \
	case 4: CASE(4); break;                                            \
	case 5: CASE(5); break;                                            \
	case 6: CASE(6); break;                                            \
	case 7: CASE(7); break;                                            \
	default: CASE(8); break;                                           \
	}
#else
#define NB_SWITCH(nb, CASE)                                                \
	switch (nb) {                                                      \
	case 1: CASE(1); break;                                            \
	case 2: CASE(2); break;                                            \
	case 3: CASE(3); break;                                            \
	default: CASE(4); break;                                           \
	}
#endif

/*
 * x[c] = src[c] + y(nr, 16) . m(nr, ldm)[:, c] per lane, c0 <= c < c0+NB:
 *     t = 0; for r = 0..nr-1: t = t + y[r] * m[r][c];  x = src + t
 */
static inline __attribute__((always_inline)) void
LIN_FN(contrib_block)(const size_t NB, const float *y, size_t nr,
		      const float *m, size_t ldm, const float *src, float *x)
{
	VL t[LIN_CB], yr, xv;

#pragma GCC unroll 8
	for (size_t i = 0; i < NB; i++)
		t[i] = (VL){0};
	for (size_t r = 0; r < nr; r++) {
		const float *mr = m + r * ldm;

		VLD(yr, y + r * 16);
#pragma GCC unroll 8
		for (size_t i = 0; i < NB; i++)
			t[i] = t[i] + yr * mr[i];
	}
#pragma GCC unroll 8
	for (size_t i = 0; i < NB; i++) {
		VLD(xv, src + i * 16);
		xv = xv + t[i];
		VST(x + i * 16, xv);
	}
}

/*
 * x[c] = src[c] + y(nr, 16) . m(nr, ldm)[:, c] per lane, c < ncols (the
 * contribution of an unpushed layer's output through its merged matrix;
 * src is x itself, or the table row for the first layer).
 */
LIN_TARGET static void LIN_FN(contrib)(const float *y, size_t nr,
					const float *m, size_t ldm,
					size_t ncols, const float *src,
					float *x)
{
	for (size_t c = 0; c < ncols; c += LIN_CB) {
		size_t nb = ncols - c < LIN_CB ? ncols - c : LIN_CB;
#define CONTRIB_CASE(n)                                                    \
	LIN_FN(contrib_block)(n, y, nr, m + c, ldm, src + c * 16, x + c * 16)
		NB_SWITCH(nb, CONTRIB_CASE)
#undef CONTRIB_CASE
	}
}

/*
 * One position of a causal state layer for columns c0 .. c0+NB-1 of every
 * head: the state update S[h][e][c] = S + K[h,e] V[h,c], then
 * a[c] = sum_h sum_e Q[h,e] S[h][e][c] (pushed: summed over heads into
 * acc; unpushed: per head into y).  qk: Q of p at column qc, kk: K at kc,
 * vv: V at vc (pointers to position p's columns).
 */
static inline __attribute__((always_inline)) void
LIN_FN(rec_block)(const size_t NB, size_t H, size_t K, size_t vw, size_t c0,
		  const float *qk, const float *kk, const float *vk,
		  float *st, int pushed, size_t Vs, float *y, VL *acc)
{
	VL a[LIN_CB], v[LIN_CB], sv, kv, qv;

#pragma GCC unroll 8
	for (size_t i = 0; i < NB; i++)
		a[i] = (VL){0};
	for (size_t h = 0; h < H; h++) {
#pragma GCC unroll 8
		for (size_t i = 0; i < NB; i++)
			VLD(v[i], vk + (h * vw + c0 + i) * 16);
		if (!pushed) {
#pragma GCC unroll 8
			for (size_t i = 0; i < NB; i++)
				a[i] = (VL){0};
		}
		for (size_t e = 0; e < K; e++) {
			float *s = st + ((h * K + e) * vw + c0) * 16;

			VLD(kv, kk + (h * K + e) * 16);
			VLD(qv, qk + (h * K + e) * 16);
#pragma GCC unroll 8
			for (size_t i = 0; i < NB; i++) {
				VLD(sv, s + i * 16);
				sv = sv + kv * v[i];
				VST(s + i * 16, sv);
				a[i] = a[i] + qv * sv;
			}
		}
		if (!pushed) {
#pragma GCC unroll 8
			for (size_t i = 0; i < NB; i++)
				VST(y + (h * Vs + c0 + i) * 16, a[i]);
		}
	}
	if (pushed) {
#pragma GCC unroll 8
		for (size_t i = 0; i < NB; i++)
			acc[i] = a[i];
	}
}

/*
 * NB (query, key) scores at once (independent chains, so the additions
 * overlap): out[i] = sum_d q_i[d] k_i[d], d = 0..K-1 in order.
 */
static inline __attribute__((always_inline)) void
LIN_FN(score_block)(const size_t NB, size_t K, const float *const *qp,
		    const float *const *kp, float *out)
{
	VL s[LIN_CB], qv, kv;

#pragma GCC unroll 8
	for (size_t i = 0; i < NB; i++)
		s[i] = (VL){0};
	for (size_t d = 0; d < K; d++) {
#pragma GCC unroll 8
		for (size_t i = 0; i < NB; i++) {
			VLD(qv, qp[i] + d * 16);
			VLD(kv, kp[i] + d * 16);
			s[i] = s[i] + qv * kv;
		}
	}
#pragma GCC unroll 8
	for (size_t i = 0; i < NB; i++)
		VST(out + i * 16, s[i]);
}

/*
 * Query p of a direct layer, columns c0 .. c0+NB-1 of the pushed values:
 * a[c] = sum_h sum_k s[h][k] V[q_k][h,c]; X[p][c] = src[p][c] + a[c].
 */
static inline __attribute__((always_inline)) void
LIN_FN(push_block)(const size_t NB, size_t H, size_t nk, size_t hstride,
		   const uint16_t *keys, const float *const *src, size_t vc,
		   size_t vw, size_t c0, const float *sc, const float *xsrc,
		   float *x)
{
	VL a[LIN_CB], s, vv, xv;

#pragma GCC unroll 8
	for (size_t i = 0; i < NB; i++)
		a[i] = (VL){0};
	for (size_t h = 0; h < H; h++)
		for (size_t k = 0; k < nk; k++) {
			const float *vq = src[keys[k]] + (vc + h * vw + c0) * 16;

			VLD(s, sc + (h * hstride + k) * 16);
#pragma GCC unroll 8
			for (size_t i = 0; i < NB; i++) {
				VLD(vv, vq + i * 16);
				a[i] = a[i] + s * vv;
			}
		}
#pragma GCC unroll 8
	for (size_t i = 0; i < NB; i++) {
		VLD(xv, xsrc + i * 16);
		xv = xv + a[i];
		VST(x + i * 16, xv);
	}
}

/*
 * The first layer's output for one query (lin_first_row in model_lin.h):
 * src[0] is the query's table row, src[1 .. nk] its keys' in order; out
 * (rw, 16) receives columns down .. down+rw-1 of X, computed by the same
 * score_block and push_block calls as seq's direct form, so bit for bit
 * what seq writes for that query.
 */
LIN_TARGET static void LIN_FN(first_row_pass)(const struct lin_spec *ls,
					       const float *const *src,
					       size_t nk, float *out,
					       float *scratch)
{
	const struct lin_layer *ly = &ls->layer[0];
	const size_t H = ls->H, K = ls->K, HK = H * K, vw = ly->vw;
	const size_t kc = ly->off, vc = kc + HK, qc = vc + H * vw;
	float *sc = scratch; /* (H, LIN_PAIRS_CAP, 16) */
	uint16_t keys[LIN_MAX_L];

	for (size_t k = 0; k < nk; k++)
		keys[k] = (uint16_t)(k + 1);
	for (size_t h = 0; h < H; h++)
		for (size_t i0 = 0; i0 < nk; i0 += LIN_CB) {
			size_t nb = nk - i0 < LIN_CB ? nk - i0 : LIN_CB;
			const float *qp[LIN_CB], *kp[LIN_CB];

			for (size_t i = 0; i < nb; i++) {
				qp[i] = src[0] + (qc + h * K) * 16;
				kp[i] = src[1 + i0 + i] + (kc + h * K) * 16;
			}
#define SCORE_CASE(n)                                                      \
	LIN_FN(score_block)(n, K, qp, kp, sc + (h * LIN_PAIRS_CAP + i0) * 16)
			NB_SWITCH(nb, SCORE_CASE)
#undef SCORE_CASE
		}
	for (size_t c = 0; c < ly->rw; c += LIN_CB) {
		size_t nb = ly->rw - c < LIN_CB ? ly->rw - c : LIN_CB;
#define PUSH_CASE(n)                                                       \
	LIN_FN(push_block)(n, H, nk, LIN_PAIRS_CAP, keys, src, vc, vw, c, sc, \
			   src[0] + (ly->down + c) * 16, out + c * 16)
		NB_SWITCH(nb, PUSH_CASE)
#undef PUSH_CASE
	}
}

LIN_TARGET static void LIN_FN(first_row)(const struct lin_spec *ls,
					  const float *const *src, size_t nk,
					  float *out, float *scratch)
{
	LIN_FN(row_passes)(LIN_FN(first_row_pass), ls, src, nk, out, scratch);
}

/*
 * The Gram tables of a lane block (lin_gram_tables in model_lin.h): the
 * last layer's query and key columns (Tq, Tk) of the C table rows, and the
 * first layer's pushed values of those columns (Vq, Vk), against each
 * other, g (4, C, C, 16):
 *     g[0][a][b] = Tq[a] . Tk[b]     g[1][a][b] = Tq[a] . Vk[b]
 *     g[2][a][b] = Vq[a] . Tk[b]     g[3][a][b] = Vq[a] . Vk[b]
 * each s = 0; for d = 0..K-1: s = s + x[d] y[d] (score_block's order).
 */
LIN_TARGET static void LIN_FN(gram_pass)(const struct lin_spec *ls,
					  const float *table, size_t C,
					  float *g)
{
	const struct lin_layer *l0 = &ls->layer[0], *l1 = &ls->layer[1];
	const size_t TW = ls->tw, K = ls->K, vc0 = l0->off + K;
	const size_t kc1 = l1->off, qc1 = kc1 + K + l1->vw;
	const size_t vk = vc0 + (kc1 - l0->down), vq = vc0 + (qc1 - l0->down);
	const size_t col[4][2] = {{qc1, kc1}, {qc1, vk}, {vq, kc1}, {vq, vk}};

	for (size_t m = 0; m < 4; m++)
		for (size_t a = 0; a < C; a++)
			for (size_t b0 = 0; b0 < C; b0 += LIN_CB) {
				size_t nb = C - b0 < LIN_CB ? C - b0 : LIN_CB;
				const float *qp[LIN_CB], *kp[LIN_CB];
				float *dst = g + ((m * C + a) * C + b0) * 16;

				for (size_t i = 0; i < nb; i++) {
					qp[i] = table + (a * TW + col[m][0]) * 16;
					kp[i] = table + ((b0 + i) * TW +
							 col[m][1]) * 16;
				}
#define SCORE_CASE(n) LIN_FN(score_block)(n, K, qp, kp, dst)
				NB_SWITCH(nb, SCORE_CASE)
#undef SCORE_CASE
			}
}

LIN_TARGET static void LIN_FN(gram)(const struct lin_spec *ls,
				     const float *table, size_t C, float *g)
{
	LIN_PASSES(o)
	LIN_FN(gram_pass)(ls, table + o, C, g + o);
}

/*
 * A first-layer tuple's row for the Gram form (lin_first_row_g): the
 * first layer's scores s0[k] of the query (src[0]) with its keys
 * (src[1 .. nk]) into out[k], and the last layer's value and head columns
 * of X at the query into out[LIN_GRAM_MAXK ..] and out[LIN_GRAM_MAXK + O
 * ..]: the same score_block and push_block calls as first_row, so the same
 * bits as its columns.
 */
LIN_TARGET static void LIN_FN(first_row_g_pass)(const struct lin_spec *ls,
						 const float *const *src,
						 size_t nk, float *out,
						 float *scratch)
{
	const struct lin_layer *ly = &ls->layer[0], *l1 = &ls->layer[1];
	const size_t K = ls->K, O = ls->O, vw = ly->vw;
	const size_t kc = ly->off, vc = kc + K, qc = vc + vw;
	/* the last layer's V and head columns, relative to down_0 */
	const size_t cv = l1->off + K - ly->down, ch = ls->head - ly->down;
	float *sc = scratch; /* (LIN_PAIRS_CAP, 16) */
	uint16_t keys[LIN_GRAM_MAXK];

	for (size_t k = 0; k < nk; k++)
		keys[k] = (uint16_t)(k + 1);
	for (size_t i0 = 0; i0 < nk; i0 += LIN_CB) {
		size_t nb = nk - i0 < LIN_CB ? nk - i0 : LIN_CB;
		const float *qp[LIN_CB], *kp[LIN_CB];

		for (size_t i = 0; i < nb; i++) {
			qp[i] = src[0] + qc * 16;
			kp[i] = src[1 + i0 + i] + kc * 16;
		}
#define SCORE_CASE(n) LIN_FN(score_block)(n, K, qp, kp, sc + i0 * 16)
		NB_SWITCH(nb, SCORE_CASE)
#undef SCORE_CASE
	}
	for (size_t k = 0; k < nk; k++) {
		VL sv;

		VLD(sv, sc + k * 16);
		VST(out + k * 16, sv);
	}
	for (size_t c = 0; c < O; c += LIN_CB) {
		size_t nb = O - c < LIN_CB ? O - c : LIN_CB;
#define PUSH_CASE(n)                                                       \
	LIN_FN(push_block)(n, 1, nk, LIN_PAIRS_CAP, keys, src, vc, vw, cv + c, \
			   sc, src[0] + (ly->down + cv + c) * 16,          \
			   out + (LIN_GRAM_MAXK + c) * 16);                \
	LIN_FN(push_block)(n, 1, nk, LIN_PAIRS_CAP, keys, src, vc, vw, ch + c, \
			   sc, src[0] + (ly->down + ch + c) * 16,          \
			   out + (LIN_GRAM_MAXK + O + c) * 16)
		NB_SWITCH(nb, PUSH_CASE)
#undef PUSH_CASE
	}
}

LIN_TARGET static void LIN_FN(first_row_g)(const struct lin_spec *ls,
					    const float *const *src,
					    size_t nk, float *out,
					    float *scratch)
{
	LIN_FN(row_passes)(LIN_FN(first_row_g_pass), ls, src, nk, out,
			   scratch);
}

/*
 * The last layer of one lane block of one sequence in the Gram form
 * (lin_seq_g): rows[p] is position p's tuple row (first_row_g), cls[p] its
 * class, g the Gram tables of the lane block's C classes, keys[p] (nkeys[p]
 * of LIN_GRAM_MAXK) p's keys.  Per query p
 * with keys x_1 < x_2 < ... (mask[p][.] != 0) and each key q of p, whose
 * keys are y_1 < y_2 < ..., the score Q1[p] . K1[q] expanded through the
 * pushed first layer (Q1[p] = Tq[p] + sum_i s0_p[i] Vq[x_i], K1 alike):
 *     s = g0[p][q]
 *     for j: u = g1[p][y_j]; for i: u = u + s0_p[i] g3[x_i][y_j]
 *            s = s + s0_q[j] u
 *     for i: s = s + s0_p[i] g2[x_i][q]
 * (classes for positions), then as push_block: a[c] = sum_q s V[q][c]
 * over the keys in order, X[p][head + c] = head[p][c] + a[c], written to
 * xs where lin_seq writes the logits.
 */
LIN_TARGET static void LIN_FN(seq_g_pass)(const struct lin_spec *ls,
					   const float *g, size_t C,
					   const uint32_t *cls,
					   const float *const *rows,
					   const uint16_t *keys,
					   const uint8_t *nkeys, float *xs)
{
	const size_t L = ls->L, O = ls->O, TW = ls->tw, CC = C * C;
	const size_t MK = LIN_GRAM_MAXK;
	const float *g0 = g, *g1 = g + CC * 16, *g2 = g1 + CC * 16;
	const float *g3 = g2 + CC * 16;
	const VL zero = {0};

#define GV(t, a, b) (t + ((a) * C + (b)) * 16)
	for (size_t p = 0; p < L; p++) {
		const size_t nk = nkeys[p], cp = cls[p];
		const uint16_t *kp = keys + p * MK;
		const float *rp = rows[p];
		VL sp[LIN_GRAM_MAXK], a[8], s, u, t, sq, v;
		size_t cx[LIN_GRAM_MAXK];

		if (nk == 2 && O == 3 && nkeys[kp[0]] == 2 &&
		    nkeys[kp[1]] == 2) {
			/* a cycle: the loops below unrolled, both keys'
			 * chains side by side (the same operations) */
			VL sk[2], va[2][3], h;

			VLD(sp[0], rp);
			VLD(sp[1], rp + 16);
			cx[0] = cls[kp[0]];
			cx[1] = cls[kp[1]];

#pragma GCC unroll 2
			for (size_t k = 0; k < 2; k++) {
				const size_t q = kp[k], cq = cls[q];
				const uint16_t *kq = keys + q * MK;
				const size_t cy0 = cls[kq[0]], cy1 = cls[kq[1]];
				const float *rq = rows[q];
				VL u0, u1, t0, t1, sq0, sq1;

				VLD(s, GV(g0, cp, cq));
				VLD(u0, GV(g1, cp, cy0));
				VLD(u1, GV(g1, cp, cy1));
				VLD(t0, GV(g3, cx[0], cy0));
				VLD(t1, GV(g3, cx[0], cy1));
				u0 = u0 + sp[0] * t0;
				u1 = u1 + sp[0] * t1;
				VLD(t0, GV(g3, cx[1], cy0));
				VLD(t1, GV(g3, cx[1], cy1));
				u0 = u0 + sp[1] * t0;
				u1 = u1 + sp[1] * t1;
				VLD(sq0, rq);
				VLD(sq1, rq + 16);
				s = s + sq0 * u0;
				s = s + sq1 * u1;
				VLD(t0, GV(g2, cx[0], cq));
				VLD(t1, GV(g2, cx[1], cq));
				s = s + sp[0] * t0;
				s = s + sp[1] * t1;
				sk[k] = s;
#pragma GCC unroll 3
				for (size_t c = 0; c < 3; c++)
					VLD(va[k][c], rq + (MK + c) * 16);
			}
#pragma GCC unroll 3
			for (size_t c = 0; c < 3; c++) {
				VL ac = zero + sk[0] * va[0][c];

				ac = ac + sk[1] * va[1][c];
				VLD(h, rp + (MK + 3 + c) * 16);
				h = h + ac;
				VST(XP(p, ls->head + c), h);
			}
			continue;
		}
		for (size_t i = 0; i < nk; i++) {
			VLD(sp[i], rp + i * 16);
			cx[i] = cls[kp[i]];
		}
		for (size_t c = 0; c < O; c++)
			a[c] = zero;
		for (size_t k = 0; k < nk; k++) {
			const size_t q = kp[k], cq = cls[q], nq = nkeys[q];
			const uint16_t *kq = keys + q * MK;
			const float *rq = rows[q];

			VLD(s, GV(g0, cp, cq));
			for (size_t j = 0; j < nq; j++) {
				const size_t cy = cls[kq[j]];

				VLD(u, GV(g1, cp, cy));
				for (size_t i = 0; i < nk; i++) {
					VLD(t, GV(g3, cx[i], cy));
					u = u + sp[i] * t;
				}
				VLD(sq, rq + j * 16);
				s = s + sq * u;
			}
			for (size_t i = 0; i < nk; i++) {
				VLD(t, GV(g2, cx[i], cq));
				s = s + sp[i] * t;
			}
			for (size_t c = 0; c < O; c++) {
				VLD(v, rq + (MK + c) * 16);
				a[c] = a[c] + s * v;
			}
		}
		for (size_t c = 0; c < O; c++) {
			VLD(v, rp + (MK + O + c) * 16);
			v = v + a[c];
			VST(XP(p, ls->head + c), v);
		}
	}
#undef GV
}

LIN_TARGET static void LIN_FN(seq_g)(const struct lin_spec *ls,
				      const float *g, size_t C,
				      const uint32_t *cls,
				      const float *const *rows,
				      const uint16_t *keys, const uint8_t *nkeys,
				      float *xs)
{
	const float *ro[LIN_MAX_L];

	LIN_PASSES(o)
	{
		LIN_FN(moved)(ro, rows, ls->L, o);
		LIN_FN(seq_g_pass)(ls, g + o, C, cls, ro, keys, nkeys, xs + o);
	}
}

/* The pass's lanes of n values at p, n * 16 floats, set to 0. */
static inline __attribute__((always_inline)) void LIN_FN(zero)(float *p,
								size_t n)
{
	const VL z = {0};

	for (size_t i = 0; i < n; i++)
		VST(p + i * 16, z);
}

/*
 * The layers of one lane block of one sequence (lin_seq in model_lin.h).
 * Position p's columns are read from src[p]: the table row for the first
 * layer, the sequence scratch xs afterwards; every contribution writes xs
 * as src + contribution, so the first layer's contributions also copy the
 * rows in.  Per layer l, with its block [K | V | Q] at columns kc, vc, qc:
 *
 * direct form, query p, allowed keys q_0 < q_1 < ... (causal: q <= p;
 * full: all; graph: mask[p][q] != 0):
 *     s[h][q] = sum_d Q[p][h,d] K[q][h,d]                  (d in order)
 *     pushed:   a[c] = sum_h sum_q s[h][q] V[q][h,c]       (h, then q)
 *               X[p][down + c] = src[p][down + c] + a[c]
 *     unpushed: y[h,c] = sum_q s[h][q] V[q][h,c]          (q in order)
 *               X[p][down + c] = src + y . mrest[:, c]     (contrib)
 * recurrent form (causal: state after position p; full: after all):
 *     S[h][e][c] = S[h][e][c] + K[q][h,e] V[q][h,c]        (q in order)
 *     pushed:   a[c] = sum_h sum_e Q[p][h,e] S[h][e][c]; X = src + a
 *     unpushed: y[h,c] = sum_e Q[p][h,e] S[h][e][c]; X = src + y . mrest
 * Only the first rw_short downstream columns are formed at positions
 * p < L-1 with MODEL_OUTPUT_LAST (nothing reads the others).
 */
LIN_TARGET static void LIN_FN(seq_pass)(const struct lin_spec *ls, size_t l0,
					 const float *const *mrest,
					 const uint8_t *mask,
					 const float *const *rows, float *xs,
					 float *scratch)
{
	const size_t L = ls->L, H = ls->H, K = ls->K, Vs = ls->Vs;
	const size_t TW = ls->tw, HK = H * K;
	float *sc = scratch;      /* (H, LIN_PAIRS_CAP, 16) scores of a group */
	float *y = sc + H * LIN_PAIRS_CAP * 16; /* (H*Vs, 16) unpushed output */
	float *st = y + H * Vs * 16;         /* (H, K, vw, 16) state         */
	const float *src[LIN_MAX_L];         /* row of position p            */
	/* a group of queries: its pairs' keys and queries, and per query
	 * its first pair and number of keys */
	uint16_t keys[LIN_PAIRS_CAP], kquery[LIN_PAIRS_CAP];
	uint16_t kfirst[LIN_PAIRS_CAP], knum[LIN_PAIRS_CAP];

	/* the first column of src[p]: 0 but for rows given from layer l0 > 0,
	 * which start at column layer[l0].off */
	size_t cb = 0;

#define SP(p, c) (src[p] + ((size_t)(c) - cb) * 16)
	for (size_t l = l0; l < ls->NL; l++) {
		const struct lin_layer *ly = &ls->layer[l];
		const size_t vw = ly->vw, kc = ly->off, vc = kc + HK;
		const size_t qc = vc + H * vw;
		size_t p0 = ly->last_only ? L - 1 : 0;

		cb = l == l0 && l0 > 0 ? ly->off : 0;
		for (size_t p = 0; p < L; p++)
			src[p] = l == l0 ? rows[p] : XP(p, 0);
		if (ly->recurrent && ls->mask == MODEL_MASK_CAUSAL) {
			LIN_FN(zero)(st, H * K * vw);
			for (size_t p = 0; p < L; p++) {
				size_t ncols = ls->last && p + 1 < L
						       ? ly->rw_short : ly->rw;
				size_t cw = ly->pushed ? ncols : vw;

				for (size_t c = 0; c < cw; c += LIN_CB) {
					size_t nb = cw - c < LIN_CB ? cw - c
								    : LIN_CB;
					VL acc[LIN_CB], xv;
#define REC_CASE(n)                                                        \
	LIN_FN(rec_block)(n, H, K, vw, c, SP(p, qc), SP(p, kc), SP(p, vc), st, \
			  ly->pushed, Vs, y, acc)
					NB_SWITCH(nb, REC_CASE)
#undef REC_CASE
					if (!ly->pushed)
						continue;
					for (size_t i = 0; i < nb; i++) {
						VLD(xv, SP(p, ly->down + c + i));
						xv = xv + acc[i];
						VST(XP(p, ly->down + c + i), xv);
					}
				}
				if (!ly->pushed)
					LIN_FN(contrib)(y, H * Vs, mrest[l], ly->rw,
							ncols, SP(p, ly->down),
							XP(p, ly->down));
			}
			continue;
		}
		if (ly->recurrent) {
			/* full mask: the state over every key, then the
			 * queries */
			size_t nst = H * K * vw;

			LIN_FN(zero)(st, nst);
			for (size_t q = 0; q < L; q++)
				for (size_t h = 0; h < H; h++)
					for (size_t e = 0; e < K; e++) {
						const float *vq = SP(q, vc + h * vw);
						float *s = st + ((h * K + e) * vw) * 16;
						VL kv, vv, sv;

						VLD(kv, SP(q, kc + h * K + e));
						for (size_t c = 0; c < vw; c++) {
							VLD(vv, vq + c * 16);
							VLD(sv, s + c * 16);
							sv = sv + kv * vv;
							VST(s + c * 16, sv);
						}
					}
			for (size_t p = 0; p < L; p++) {
				size_t ncols = ls->last && p + 1 < L
						       ? ly->rw_short : ly->rw;

				if (ly->pushed) {
					for (size_t c = 0; c < ncols; c++) {
						VL a = {0}, qv, sv, xv;

						for (size_t h = 0; h < H; h++)
							for (size_t e = 0; e < K; e++) {
								VLD(qv, SP(p, qc + h * K + e));
								VLD(sv, st + ((h * K + e) * vw + c) * 16);
								a = a + qv * sv;
							}
						VLD(xv, SP(p, ly->down + c));
						xv = xv + a;
						VST(XP(p, ly->down + c), xv);
					}
					continue;
				}
				for (size_t h = 0; h < H; h++)
					for (size_t c = 0; c < Vs; c++) {
						VL a = {0}, qv, sv;

						for (size_t e = 0; e < K; e++) {
							VLD(qv, SP(p, qc + h * K + e));
							VLD(sv, st + ((h * K + e) * vw + c) * 16);
							a = a + qv * sv;
						}
						VST(y + (h * Vs + c) * 16, a);
					}
				LIN_FN(contrib)(y, H * Vs, mrest[l], ly->rw,
						ncols, SP(p, ly->down),
						XP(p, ly->down));
			}
			continue;
		}

		/*
		 * Direct form, queries in groups of at most LIN_PAIRS (query,
		 * key) pairs (a query's keys never split): first every score
		 * of the group, LIN_CB pairs at a time, then each query's
		 * output.
		 */
		for (size_t pg = p0; pg < L;) {
			size_t np = 0, nq = 0;

			while (pg + nq < L) {
				size_t p = pg + nq, nk = 0;
				uint16_t *kk = keys + np;

				/* room for up to L keys after the group's
				 * (np exceeds LIN_PAIRS only through a first
				 * query of many keys) */
				if (nq > 0 && np + L > LIN_PAIRS_CAP)
					break;
				switch (ls->mask) {
				case MODEL_MASK_CAUSAL:
					for (size_t q = 0; q <= p; q++)
						kk[nk++] = (uint16_t)q;
					break;
				case MODEL_MASK_FULL:
					for (size_t q = 0; q < L; q++)
						kk[nk++] = (uint16_t)q;
					break;
				case MODEL_MASK_GRAPH:
					/* no branch per key: the mask's
					 * outcomes are random */
					for (size_t q = 0; q < L; q++) {
						kk[nk] = (uint16_t)q;
						nk += mask[p * L + q] != 0;
					}
					break;
				}
				if (nq > 0 && np + nk > LIN_PAIRS)
					break; /* p starts the next group */
				kfirst[nq] = (uint16_t)np;
				knum[nq] = (uint16_t)nk;
				for (size_t k = 0; k < nk; k++)
					kquery[np + k] = (uint16_t)p;
				np += nk;
				nq++;
			}
			/* scores s[h][pair] = Q[query][h] . K[key][h] */
			for (size_t h = 0; h < H; h++)
				for (size_t i0 = 0; i0 < np; i0 += LIN_CB) {
					size_t nb = np - i0 < LIN_CB ? np - i0
								     : LIN_CB;
					const float *qp[LIN_CB], *kp[LIN_CB];

					for (size_t i = 0; i < nb; i++) {
						qp[i] = SP(kquery[i0 + i], qc + h * K);
						kp[i] = SP(keys[i0 + i], kc + h * K);
					}
#define SCORE_CASE(n)                                                      \
	LIN_FN(score_block)(n, K, qp, kp, sc + (h * LIN_PAIRS_CAP + i0) * 16)
					NB_SWITCH(nb, SCORE_CASE)
#undef SCORE_CASE
				}
			for (size_t j = 0; j < nq; j++) {
				size_t p = pg + j, nk = knum[j];
				const uint16_t *kk = keys + kfirst[j];
				const float *scp = sc + (size_t)kfirst[j] * 16;
				size_t ncols = ls->last && p + 1 < L ? ly->rw_short
								      : ly->rw;

				if (ly->pushed) {
					for (size_t c = 0; c < ncols; c += LIN_CB) {
						size_t nb = ncols - c < LIN_CB
								    ? ncols - c : LIN_CB;
#define PUSH_CASE(n)                                                       \
	LIN_FN(push_block)(n, H, nk, LIN_PAIRS_CAP, kk, src, vc - cb, vw, c, scp, \
			   SP(p, ly->down + c), XP(p, ly->down + c))
						NB_SWITCH(nb, PUSH_CASE)
#undef PUSH_CASE
					}
					continue;
				}
				for (size_t h = 0; h < H; h++)
					for (size_t c = 0; c < Vs; c++) {
						VL a = {0}, sv, vv;

						for (size_t k = 0; k < nk; k++) {
							VLD(sv, scp + (h * LIN_PAIRS_CAP + k) * 16);
							VLD(vv, SP(kk[k], vc + h * Vs + c));
							a = a + sv * vv;
						}
						VST(y + (h * Vs + c) * 16, a);
					}
				LIN_FN(contrib)(y, H * Vs, mrest[l], ly->rw, ncols,
						SP(p, ly->down), XP(p, ly->down));
			}
			pg += nq;
		}
	}
#undef SP
}

LIN_TARGET static void LIN_FN(seq)(const struct lin_spec *ls, size_t l0,
				    const float *const *mrest,
				    const uint8_t *mask,
				    const float *const *rows, float *xs,
				    float *scratch)
{
	const float *ro[LIN_MAX_L];

	LIN_PASSES(o)
	{
		LIN_FN(moved)(ro, rows, ls->L, o);
		LIN_FN(seq_pass)(ls, l0, mrest, mask, ro, xs + o, scratch + o);
	}
}

#undef XP
#undef NB_SWITCH
#undef VL
#undef LIN_PASSES
#undef VLD
#undef VST
#undef LIN_FN
#undef LIN_CAT
#undef LIN_CAT2
