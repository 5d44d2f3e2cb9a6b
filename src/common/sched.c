/*
 * sched: the value of a generation-dependent scalar (struct sched in
 * config.h) at generation g.  Parsing and range checks of schedules live in
 * config.c; this file only evaluates them, as a pure function of (s, g).
 *
 * Semantics (docs/config.md, "Schedules"):
 *   - npoints == 0: the constant s->value.
 *   - before the first point and after the last, the end values hold;
 *   - step:   the value of the last point at or before g;
 *   - linear: straight line between the neighbouring points;
 *   - cosine: half-cosine from the left value (t = 0) to the right one (t = 1);
 *   - an interval with an infinite end (q may be inf) is held as a step:
 *     the left value until the right point is reached, since there is no
 *     meaningful line towards infinity.
 */
#include "config.h"

#include <math.h>

#include "err.h"

double sched_at(const struct sched *s, uint64_t g)
{
	unsigned i;

	RANDES_ASSERT(s != NULL);
	if (s->npoints == 0)
		return s->value;
	RANDES_ASSERT(s->npoints <= SCHED_MAX_POINTS);
	if (g <= s->gen[0])
		return s->val[0];
	if (g >= s->gen[s->npoints - 1])
		return s->val[s->npoints - 1];

	/* Here gen[0] < g < gen[last], so some interval [gen[i], gen[i+1])
	 * holds g; a linear scan is plenty for at most 16 points. */
	for (i = 0; i + 1 < s->npoints; i++)
		if (g < s->gen[i + 1])
			break;
	RANDES_ASSERT(i + 1 < s->npoints);

	double v0 = s->val[i], v1 = s->val[i + 1];
	if (s->interp == SCHED_INTERP_STEP || isinf(v0) || isinf(v1))
		return v0;

	/* t in [0, 1): the position of g inside the interval. */
	double t = (double)(g - s->gen[i]) /
		   (double)(s->gen[i + 1] - s->gen[i]);
	if (s->interp == SCHED_INTERP_LINEAR)
		return v0 + t * (v1 - v0);
	RANDES_ASSERT(s->interp == SCHED_INTERP_COSINE);
	return v1 + (v0 - v1) * 0.5 * (1.0 + cos(M_PI * t));
}
