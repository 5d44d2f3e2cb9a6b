/* stats: descriptive statistics for the evaluation protocol (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

double stats_mean(const double *x, size_t n)
{
	double s = 0.0;

	if (n == 0)
		return NAN;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	return s / (double)n;
}

double stats_variance(const double *x, size_t n)
{
	double mu, s = 0.0;

	if (n == 0)
		return NAN;
	mu = stats_mean(x, n);
	for (size_t i = 0; i < n; i++) {
		double d = x[i] - mu;
		s += d * d;
	}
	return s / (double)n;
}

double stats_mean_f(const float *x, size_t n)
{
	double s = 0.0;

	if (n == 0)
		return NAN;
	for (size_t i = 0; i < n; i++)
		s += (double)x[i];
	return s / (double)n;
}

double stats_variance_f(const float *x, size_t n)
{
	double mu, s = 0.0;

	if (n == 0)
		return NAN;
	mu = stats_mean_f(x, n);
	for (size_t i = 0; i < n; i++) {
		double d = (double)x[i] - mu;
		s += d * d;
	}
	return s / (double)n;
}

/* Total order with NaN last; equal values compare equal. */
static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	int na = isnan(a), nb = isnan(b);

	if (na || nb)
		return na - nb;
	return (a > b) - (a < b);
}

void stats_sort(double *x, size_t n)
{
	if (n > 1)
		qsort(x, n, sizeof(*x), cmp_double);
}

size_t stats_percentile_index(size_t n, double p)
{
	double pos;
	size_t idx;

	RANDES_ASSERT(n > 0);
	RANDES_ASSERT(p >= 0.0 && p <= 100.0);
	/* p * (n - 1) is exact for integral p and n < 2^46, so the division
	 * by 100 lands exactly on integers when it should. */
	pos = floor(p * (double)(n - 1) / 100.0);
	idx = (size_t)pos;
	return idx < n ? idx : n - 1;
}

double stats_percentile_sorted(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return NAN;
	return sorted[stats_percentile_index(n, p)];
}

size_t stats_histogram(const double *x, size_t n, double lo, double hi,
		       size_t bins, uint64_t *counts)
{
	double w = (hi - lo) / (double)bins;
	size_t counted = 0;

	RANDES_ASSERT(bins > 0 && hi > lo);
	memset(counts, 0, bins * sizeof(*counts));
	for (size_t i = 0; i < n; i++) {
		double v = x[i], f;
		size_t b;

		if (isnan(v))
			continue;
		f = floor((v - lo) / w + 1e-9);
		if (f < 0.0)
			b = 0;
		else if (f >= (double)bins)
			b = bins - 1;
		else
			b = (size_t)f;
		counts[b]++;
		counted++;
	}
	return counted;
}

static int cmp_u64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return (a > b) - (a < b);
}

void stats_sort_u64(uint64_t *codes, size_t n)
{
	if (n > 32) {
		qsort(codes, n, sizeof(*codes), cmp_u64);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint64_t v = codes[i];
		size_t j = i;

		while (j > 0 && codes[j - 1] > v) {
			codes[j] = codes[j - 1];
			j--;
		}
		codes[j] = v;
	}
}

/* ok of the first run whose output is `code` (every run with that code has
 * the same ok by the contract). */
static uint8_t ok_of(const uint64_t *codes, const uint8_t *ok, size_t n,
		     uint64_t code)
{
	for (size_t i = 0; i < n; i++)
		if (codes[i] == code)
			return ok[i];
	RANDES_ASSERT(!"code not found");
	return 0;
}

double stats_mode_credit(const uint64_t *codes, const uint8_t *ok, size_t n,
			 uint64_t *scratch)
{
	size_t best = 0, n_modes = 0, n_ok = 0;

	RANDES_ASSERT(n > 0);
	memcpy(scratch, codes, n * sizeof(*scratch));
	stats_sort_u64(scratch, n);

	/* First pass: the largest multiplicity. */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && scratch[j] == scratch[i])
			j++;
		if (j - i > best)
			best = j - i;
		i = j;
	}
	/* Second pass: every code with that multiplicity is a mode. */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && scratch[j] == scratch[i])
			j++;
		if (j - i == best) {
			n_modes++;
			n_ok += ok_of(codes, ok, n, scratch[i]) ? 1 : 0;
		}
		i = j;
	}
	return (double)n_ok / (double)n_modes;
}
