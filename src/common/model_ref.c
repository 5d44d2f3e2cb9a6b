/*
 * model_ref: the reference forward pass.  One sequence at a time, plain
 * loops, every activation in double, written to read like the equations of
 * docs/model.md and nothing else: no batch structure, no split embedding,
 * no chunking, no packing.  The fast paths (model.c) are tested against it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "model.h"

/* out(n, N) = x(n, K) . w(K, N) [+ bias(N)], w row-major floats. */
static void ref_matmul(size_t n, size_t K, size_t N, const double *x,
		       const float *w, const float *bias, double *out)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < N; j++) {
			double acc = bias ? bias[j] : 0.0;
			for (size_t k = 0; k < K; k++)
				acc += x[i * K + k] * (double)w[k * N + j];
			out[i * N + j] = acc;
		}
}

static double ref_gelu(double x)
{
	const double c = sqrt(2.0 / M_PI);
	return 0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x)));
}

/* y(n, W) = (x - mean) / sqrt(var + 1e-5) * g + b, per row (biased var). */
static void ref_layernorm(size_t n, size_t W, const double *x, const float *g,
			  const float *b, double *y)
{
	for (size_t i = 0; i < n; i++) {
		double mean = 0.0, var = 0.0;
		for (size_t c = 0; c < W; c++)
			mean += x[i * W + c];
		mean /= (double)W;
		for (size_t c = 0; c < W; c++)
			var += (x[i * W + c] - mean) * (x[i * W + c] - mean);
		var /= (double)W;
		for (size_t c = 0; c < W; c++)
			y[i * W + c] = (x[i * W + c] - mean) / sqrt(var + 1e-5) *
					       g[c] + b[c];
	}
}

/* Task token of input i at task position t: [E_0[idx] | ... | feat]. */
static void ref_token(const struct model *m, const float *theta,
		      const struct model_batch *b, size_t i, size_t t,
		      double *dst)
{
	const struct model_spec *s = &m->spec;
	const size_t Lx = s->io.seq_len, E = s->index_dim;
	const size_t NI = s->io.n_index, F = s->io.feat;

	for (size_t k = 0; k < NI; k++) {
		int32_t idx = b->index[(i * Lx + t) * NI + k];
		RANDES_ASSERT(idx >= 0 && (size_t)idx < s->io.index_vocab);
		for (size_t e = 0; e < E; e++)
			dst[k * E + e] =
				theta[m->off.index[k] + (size_t)idx * E + e];
	}
	for (size_t f = 0; f < F; f++)
		dst[NI * E + f] = b->feat[(i * Lx + t) * F + f];
}

/* May position p attend to position q in a sequence of input i? */
static int ref_allowed(const struct model_spec *s, const struct model_batch *b,
		       size_t i, size_t p, size_t q)
{
	const size_t L = s->seq_total;

	switch (s->io.mask) {
	case MODEL_MASK_CAUSAL:
		return q <= p;
	case MODEL_MASK_FULL:
		return 1;
	case MODEL_MASK_GRAPH:
		return b->mask[(i * L + p) * L + q] != 0;
	}
	return 0;
}

int model_forward_ref_all(const struct model *m, const float *theta,
			  const struct model_batch *b, float *logits)
{
	const struct model_spec *s = &m->spec;
	const struct model_offsets *o = &m->off;
	const size_t L = s->seq_total, W = s->width, Din = s->din;
	const size_t T = s->token_dim, R = s->rse_dim, S = s->seed_size;
	const size_t H = s->heads, K = s->key_size, Vs = s->value_size;
	const size_t M = s->mlp_hidden, O = s->io.out_dim;
	const size_t NS = b->n_seeds;
	const size_t big = L * (Din > W ? Din : W);
	double *X = NULL, *Hs = NULL, *Xn = NULL, *Q = NULL, *Kk = NULL;
	double *V = NULL, *A = NULL, *Hid = NULL, *Y = NULL, *sc = NULL;
	int rc = RANDES_ENOMEM;

	X = calloc(L * Din + 1, sizeof(double));    /* (L, Din)  */
	Hs = calloc(big + 1, sizeof(double));       /* (L, W)    */
	Xn = calloc(big + 1, sizeof(double));       /* (L, W)    */
	Q = calloc(L * H * K + 1, sizeof(double));  /* (L, H*K)  */
	Kk = calloc(L * H * K + 1, sizeof(double)); /* (L, H*K)  */
	V = calloc(L * H * Vs + 1, sizeof(double)); /* (L, H*Vs) */
	A = calloc(L * H * Vs + 1, sizeof(double)); /* (L, H*Vs) */
	Hid = calloc(L * M + 1, sizeof(double));    /* (L, M)    */
	Y = calloc(L * (W > O ? W : O) + 1, sizeof(double));
	sc = calloc(L + 1, sizeof(double));         /* (L)       */
	if (!X || !Hs || !Xn || !Q || !Kk || !V || !A || !Hid || !Y || !sc)
		goto fail;

	for (size_t bb = 0; bb < b->n_inputs * NS; bb++) {
		const size_t i = bb / NS, j = bb % NS;
		const float *seed = S ? b->seed + j * S : NULL;

		/* The model input X (L, Din). */
		for (size_t p = 0; p < L; p++) {
			double *xr = X + p * Din;
			switch (s->rse_placement) {
			case RSE_PLACEMENT_FIRST_TOKEN:
				if (p == 0)
					for (size_t c = 0; c < T; c++)
						xr[c] = seed[c];
				else
					ref_token(m, theta, b, i, p - 1, xr);
				break;
			case RSE_PLACEMENT_EVERY_TOKEN:
				ref_token(m, theta, b, i, p, xr);
				for (size_t c = 0; c < R; c++)
					xr[T + c] = seed[c];
				break;
			case RSE_PLACEMENT_PER_TOKEN:
				ref_token(m, theta, b, i, p, xr);
				for (size_t c = 0; c < R; c++)
					xr[T + c] = seed[p * R + c];
				break;
			}
		}

		/* Input embedding H (L, W). */
		switch (s->embed) {
		case MODEL_EMBED_NONE:
			memcpy(Hs, X, L * W * sizeof(double)); /* Din == W */
			break;
		case MODEL_EMBED_LINEAR:
			ref_matmul(L, Din, W, X, theta + o->embed_w,
				   theta + o->embed_b, Hs);
			break;
		case MODEL_EMBED_MLP:
			ref_matmul(L, Din, W, X, theta + o->embed_w,
				   theta + o->embed_b, Xn);
			for (size_t c = 0; c < L * W; c++)
				Xn[c] = ref_gelu(Xn[c]);
			ref_matmul(L, W, W, Xn, theta + o->embed_w2,
				   theta + o->embed_b2, Hs);
			break;
		}

		/* Positional encoding, added. */
		for (size_t p = 0; p < L; p++)
			for (size_t c = 0; c < W; c++) {
				if (s->positional == MODEL_POSITIONAL_SINUSOIDAL) {
					size_t i2 = c - c % 2;
					double a = (double)p *
						   pow(10000.0, -(double)i2 / (double)W);
					Hs[p * W + c] += c % 2 ? cos(a) : sin(a);
				} else if (s->positional == MODEL_POSITIONAL_LEARNED) {
					Hs[p * W + c] += theta[o->pos + p * W + c];
				}
			}

		for (size_t l = 0; l < s->layers; l++) {
			const struct model_layer_offsets *lo = &o->layer[l];

			/* Attention sub-block: H += Attn(LN1(H)) W_o. */
			if (s->layernorm)
				ref_layernorm(L, W, Hs, theta + lo->ln1_g,
					      theta + lo->ln1_b, Xn);
			else
				memcpy(Xn, Hs, L * W * sizeof(double));
			ref_matmul(L, W, H * K, Xn, theta + lo->wq, NULL, Q);
			ref_matmul(L, W, H * K, Xn, theta + lo->wk, NULL, Kk);
			ref_matmul(L, W, H * Vs, Xn, theta + lo->wv, NULL, V);
			for (size_t h = 0; h < H; h++)
				for (size_t p = 0; p < L; p++) {
					double *a = A + p * H * Vs + h * Vs;
					double mx = -INFINITY, z = 0.0;
					int any = 0;

					for (size_t q = 0; q < L; q++) {
						double d = 0.0;
						for (size_t c = 0; c < K; c++)
							d += Q[p * H * K + h * K + c] *
							     Kk[q * H * K + h * K + c];
						sc[q] = d;
						if (ref_allowed(s, b, i, p, q)) {
							any = 1;
							if (s->attention == MODEL_ATTENTION_SOFTMAX)
								sc[q] /= sqrt((double)K);
							if (sc[q] > mx)
								mx = sc[q];
						}
					}
					for (size_t c = 0; c < Vs; c++)
						a[c] = 0.0;
					if (!any)
						continue;
					/* Linear: weights = scores of allowed keys,
					 * 0 elsewhere.  Softmax: normalised exp. */
					for (size_t q = 0; q < L; q++) {
						double wgt;
						if (!ref_allowed(s, b, i, p, q))
							continue;
						if (s->attention == MODEL_ATTENTION_LINEAR)
							wgt = sc[q];
						else
							wgt = exp(sc[q] - mx);
						z += wgt;
						for (size_t c = 0; c < Vs; c++)
							a[c] += wgt * V[q * H * Vs + h * Vs + c];
					}
					if (s->attention == MODEL_ATTENTION_SOFTMAX)
						for (size_t c = 0; c < Vs; c++)
							a[c] /= z;
				}
			ref_matmul(L, H * Vs, W, A, theta + lo->wo, NULL, Xn);
			for (size_t c = 0; c < L * W; c++)
				Hs[c] += Xn[c];

			/* MLP sub-block: H += gelu(LN2(H) W1 + b1) W2 + b2. */
			if (!M)
				continue;
			if (s->layernorm)
				ref_layernorm(L, W, Hs, theta + lo->ln2_g,
					      theta + lo->ln2_b, Xn);
			else
				memcpy(Xn, Hs, L * W * sizeof(double));
			ref_matmul(L, W, M, Xn, theta + lo->w1, theta + lo->b1,
				   Hid);
			for (size_t c = 0; c < L * M; c++)
				Hid[c] = ref_gelu(Hid[c]);
			ref_matmul(L, M, W, Hid, theta + lo->w2, theta + lo->b2,
				   Xn);
			for (size_t c = 0; c < L * W; c++)
				Hs[c] += Xn[c];
		}

		/* Final norm and head at every position. */
		if (s->layernorm)
			ref_layernorm(L, W, Hs, theta + o->lnf_g,
				      theta + o->lnf_b, Xn);
		else
			memcpy(Xn, Hs, L * W * sizeof(double));
		ref_matmul(L, W, O, Xn, theta + o->head_w, theta + o->head_b, Y);
		for (size_t c = 0; c < L * O; c++)
			logits[bb * L * O + c] = (float)Y[c];
	}
	rc = 0;
fail:
	free(X);
	free(Hs);
	free(Xn);
	free(Q);
	free(Kk);
	free(V);
	free(A);
	free(Hid);
	free(Y);
	free(sc);
	return rc;
}

int model_forward_ref(const struct model *m, const float *theta,
		      const struct model_batch *b, float *logits)
{
	const struct model_spec *s = &m->spec;
	const size_t L = s->seq_total, Lx = s->io.seq_len, O = s->io.out_dim;
	const size_t B = b->n_inputs * b->n_seeds;
	const size_t skip = L - Lx; /* 1 with a first_token seed, else 0 */
	float *all = malloc((B * L * O + 1) * sizeof(float));
	int rc;

	if (!all)
		return RANDES_ENOMEM;
	rc = model_forward_ref_all(m, theta, b, all);
	if (rc == 0)
		for (size_t bb = 0; bb < B; bb++) {
			if (s->io.output == MODEL_OUTPUT_LAST)
				memcpy(logits + bb * O, all + (bb * L + L - 1) * O,
				       O * sizeof(float));
			else
				memcpy(logits + bb * Lx * O,
				       all + (bb * L + skip) * O,
				       Lx * O * sizeof(float));
		}
	free(all);
	return rc;
}
