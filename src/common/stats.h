/*
 * stats: the small descriptive statistics the evaluation protocol uses.
 *
 * What it does: mean and variance accumulated in double in index order,
 * sorting, percentiles by the lower order statistic (numpy's
 * method='lower'), fixed-width histograms, and the mode of a set of output
 * codes with fractional credit for tied modes (majority vote).
 *
 * What it does not do: allocate (callers pass scratch), print, or know what
 * the numbers mean.  Every function is a pure function of its arguments, so
 * results never depend on threads, ranks or chunking.
 */
#ifndef RANDES_STATS_H
#define RANDES_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Mean of x[0..n), summed in index order in double.  NaN for n == 0; NaN
 * or inf in x propagate.
 */
double stats_mean(const double *x, size_t n);

/*
 * Population variance (divisor n) of x[0..n), two-pass in double:
 * mean first, then the mean of squared deviations in index order.  0 for
 * n == 1, NaN for n == 0.
 */
double stats_variance(const double *x, size_t n);

/* The same two statistics over a float array (each value widened). */
double stats_mean_f(const float *x, size_t n);
double stats_variance_f(const float *x, size_t n);

/*
 * Sorts x[0..n) ascending in place.  NaN values sort after every number
 * (so a NaN shows up as the worst loss, never as a silent middle value).
 */
void stats_sort(double *x, size_t n);

/*
 * The p-th percentile (0 <= p <= 100) of an ascending sorted array by the
 * lower order statistic: sorted[floor(p * (n - 1) / 100)].  This is
 * numpy.percentile(x, p, method='lower').  Examples: n = 21, p = 5 gives
 * sorted[1]; n = 20, p = 5 gives sorted[0]; p = 0 the minimum, p = 100 the
 * maximum.  NaN for n == 0.
 */
double stats_percentile_sorted(const double *sorted, size_t n, double p);

/*
 * Index of that order statistic: floor(p * (n - 1) / 100), computed so that
 * integral products are exact.  n must be > 0.
 */
size_t stats_percentile_index(size_t n, double p);

/*
 * Histogram of x[0..n) over [lo, hi] in `bins` equal bins: bin b counts
 * lo + b*w <= x < lo + (b+1)*w with w = (hi - lo) / bins; x == hi goes to
 * the last bin.  To keep values like 5/100 on their side of a boundary
 * despite rounding, the bin is floor((x - lo) / w + 1e-9).  Values outside
 * [lo, hi] are clamped to the first/last bin; NaN values are not counted.
 * counts has `bins` entries and is overwritten.  Returns the number of
 * values counted (n minus the NaNs).
 */
size_t stats_histogram(const double *x, size_t n, double lo, double hi,
		       size_t bins, uint64_t *counts);

/*
 * Sorts codes[0..n) ascending in place (insertion sort below 32 elements,
 * qsort above): used on the small arrays of a majority vote.
 */
void stats_sort_u64(uint64_t *codes, size_t n);

/*
 * Majority vote with tie credit.  codes[0..n) are the outputs of n runs
 * (one per seed) and ok[i] says whether output codes[i] is correct; ok must
 * be a function of the code (equal codes, equal ok).  The modes are the
 * codes that occur most often.  Returns (number of modes that are correct)
 * / (number of modes): 1 or 0 when the mode is unique, a fraction when
 * modes tie.  scratch has n entries (overwritten).  n must be > 0.
 */
double stats_mode_credit(const uint64_t *codes, const uint8_t *ok, size_t n,
			 uint64_t *scratch);

#endif
