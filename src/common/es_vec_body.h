/*
 * es_vec_body.h: es_vec's kernels for one target, included three times by
 * es_vec.c with ESV_SFX (the name suffix), ESV_TARGET (the function
 * attribute) and ESV_SQRT (vec8.h's square root for that target).  Each
 * kernel runs 8 parameters per step through vec8.h's generic vectors and
 * leaves the last D mod 8 to es_vec.c's scalar loop from the first index
 * it did not do, so every parameter sees the scalar loop's operations.
 * No include guard: meant to be included more than once.
 */

#define ESV_CAT2(a, b) a##_##b
#define ESV_CAT(a, b) ESV_CAT2(a, b)
#define ESV_FN(name) ESV_CAT(name, ESV_SFX)

/* A v8d of 8 floats widened (exactly; ESV_WIDEN is the target's
 * conversion, see es_vec.c). */
#define ESV_LOAD_F(dst, src)                                               \
	do {                                                               \
		v8f f_;                                                    \
		memcpy(&f_, (src), sizeof(f_));                            \
		(dst) = ESV_WIDEN(f_);                                     \
	} while (0)

ESV_TARGET static void ESV_FN(member)(const float *noise, const float *center,
				      const float *sigma_vec, double sigma,
				      float *plus, float *minus, size_t D)
{
	const v8d sg = {sigma, sigma, sigma, sigma, sigma, sigma, sigma, sigma};
	size_t i = 0;

	for (; i + 8 <= D; i += 8) {
		v8d s = sg, x, c;
		v8f o;

		if (sigma_vec)
			ESV_LOAD_F(s, sigma_vec + i);
		ESV_LOAD_F(x, noise + i);
		ESV_LOAD_F(c, center + i);
		x = s * x;
		if (plus) {
			o = __builtin_convertvector(c + x, v8f);
			memcpy(plus + i, &o, sizeof(o));
		}
		if (minus) {
			o = __builtin_convertvector(c - x, v8f);
			memcpy(minus + i, &o, sizeof(o));
		}
	}
	member_scalar(i, noise, center, sigma_vec, sigma, plus, minus, D);
}

ESV_TARGET static void ESV_FN(acc)(double *acc, const float *const *eps,
				   const double *w, size_t n, size_t D)
{
	size_t i = 0;

	/* 16 parameters a step: two independent chains of n adds (one
	 * chain would wait out the adder's latency at every pair), and each
	 * pair's pointer and weight loaded once for both.  Four chains
	 * measured 3 % faster with AVX-512 but would spill the baseline
	 * build's 16 registers. */
	for (; i + 16 <= D; i += 16) {
		v8d a, b, e, f;

		memcpy(&a, acc + i, sizeof(a));
		memcpy(&b, acc + i + 8, sizeof(b));
		for (size_t j = 0; j < n; j++) {
			const float *ej = eps[j] + i;
			double wj = w[j];

			ESV_LOAD_F(e, ej);
			ESV_LOAD_F(f, ej + 8);
			a = a + wj * e;
			b = b + wj * f;
		}
		memcpy(acc + i, &a, sizeof(a));
		memcpy(acc + i + 8, &b, sizeof(b));
	}
	for (; i + 8 <= D; i += 8) {
		v8d a, e;

		memcpy(&a, acc + i, sizeof(a));
		for (size_t j = 0; j < n; j++) {
			ESV_LOAD_F(e, eps[j] + i);
			a = a + w[j] * e;
		}
		memcpy(acc + i, &a, sizeof(a));
	}
	acc_scalar(i, acc, eps, w, n, D);
}

ESV_TARGET static void ESV_FN(acc_sq)(double *acc, const float *const *eps,
				      const double *s, size_t n, size_t D)
{
	size_t i = 0;

	for (; i + 8 <= D; i += 8) {
		v8d a, e;

		memcpy(&a, acc + i, sizeof(a));
		for (size_t j = 0; j < n; j++) {
			ESV_LOAD_F(e, eps[j] + i);
			a = a + s[j] * (e * e - 1.0);
		}
		memcpy(acc + i, &a, sizeof(a));
	}
	acc_sq_scalar(i, acc, eps, s, n, D);
}

ESV_TARGET static void ESV_FN(div)(double *x, double den, size_t D)
{
	size_t i = 0;

	for (; i + 8 <= D; i += 8) {
		v8d a;

		memcpy(&a, x + i, sizeof(a));
		a = a / den;
		memcpy(x + i, &a, sizeof(a));
	}
	div_scalar(i, x, den, D);
}

ESV_TARGET static void ESV_FN(pgpe_grad)(double *grad, const float *sigma,
					 double P, size_t D)
{
	size_t i = 0;

	for (; i + 8 <= D; i += 8) {
		v8d a, s;

		memcpy(&a, grad + i, sizeof(a));
		ESV_LOAD_F(s, sigma + i);
		a = s * a / P;
		memcpy(grad + i, &a, sizeof(a));
	}
	pgpe_grad_scalar(i, grad, sigma, P, D);
}

ESV_TARGET static void ESV_FN(adam)(double *m, double *v, double *step,
				    const double *g,
				    const struct es_vec_adam *c, size_t D)
{
	const double b1 = c->beta1, b2 = c->beta2, bc1 = c->bc1, bc2 = c->bc2;
	const double lr = c->lr, eps = c->eps;
	const double ob1 = 1.0 - b1, ob2 = 1.0 - b2;
	size_t i = 0;

	for (; i + 8 <= D; i += 8) {
		v8d gv, mv, vv, r;

		memcpy(&gv, g + i, sizeof(gv));
		memcpy(&mv, m + i, sizeof(mv));
		memcpy(&vv, v + i, sizeof(vv));
		mv = b1 * mv + ob1 * gv;
		vv = b2 * vv + ob2 * gv * gv;
		memcpy(m + i, &mv, sizeof(mv));
		memcpy(v + i, &vv, sizeof(vv));
		r = vv / bc2;
		ESV_SQRT(r);
		r = lr * (mv / bc1) / (r + eps);
		memcpy(step + i, &r, sizeof(r));
	}
	adam_scalar(i, m, v, step, g, c, D);
}

ESV_TARGET static void ESV_FN(momentum)(double *vel, double *step,
					const double *g, double mu, double lr,
					size_t D)
{
	size_t i = 0;

	for (; i + 8 <= D; i += 8) {
		v8d gv, vv;

		memcpy(&gv, g + i, sizeof(gv));
		memcpy(&vv, vel + i, sizeof(vv));
		vv = mu * vv + gv;
		memcpy(vel + i, &vv, sizeof(vv));
		vv = lr * vv;
		memcpy(step + i, &vv, sizeof(vv));
	}
	momentum_scalar(i, vel, step, g, mu, lr, D);
}

ESV_TARGET static void ESV_FN(clipup)(double *vel, const double *g, double mu,
				      double lr, double gn, size_t D)
{
	size_t i = 0;

	/* gn is one number: the branch is outside the loop, each case
	 * with the scalar expression's operations (+ 0.0 kept: it turns a
	 * product of -0 into +0) */
	for (; i + 8 <= D; i += 8) {
		v8d gv, vv;

		memcpy(&gv, g + i, sizeof(gv));
		memcpy(&vv, vel + i, sizeof(vv));
		if (gn > 0)
			vv = mu * vv + lr * (gv / gn);
		else
			vv = mu * vv + 0.0;
		memcpy(vel + i, &vv, sizeof(vv));
	}
	clipup_scalar(i, vel, g, mu, lr, gn, D);
}

ESV_TARGET static void ESV_FN(scale)(double *x, double s, size_t D)
{
	size_t i = 0;

	for (; i + 8 <= D; i += 8) {
		v8d a;

		memcpy(&a, x + i, sizeof(a));
		a = a * s;
		memcpy(x + i, &a, sizeof(a));
	}
	scale_scalar(i, x, s, D);
}

ESV_TARGET static size_t ESV_FN(theta)(float *theta, double *step,
				       double lrwd, size_t D)
{
	const v8f zero = {0};
	v8s32 bad = {0};
	size_t i = 0, n_bad;

	for (; i + 8 <= D; i += 8) {
		v8d t, d;
		v8f nt, z;

		ESV_LOAD_F(t, theta + i);
		memcpy(&d, step + i, sizeof(d));
		d = d - lrwd * t;
		nt = __builtin_convertvector(t + d, v8f);
		memcpy(theta + i, &nt, sizeof(nt));
		memcpy(step + i, &d, sizeof(d));
		/* nt - nt is 0 when finite, NaN when inf or NaN */
		z = nt - nt;
		bad -= (v8s32)(z != zero);
	}
	n_bad = theta_scalar(i, theta, step, lrwd, D);
	for (int l = 0; l < 8; l++)
		n_bad += (size_t)bad[l];
	return n_bad;
}

#undef ESV_LOAD_F
#undef ESV_FN
#undef ESV_CAT
#undef ESV_CAT2
