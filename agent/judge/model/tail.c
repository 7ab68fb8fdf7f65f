// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Peaks over threshold: the surprise of a robust |z| from the tail of its
 * own history, a generalised Pareto law fitted by moments to the decayed
 * excesses over a fixed threshold (see include/podmeter/model.h).
 */
#include <math.h>
#include <podmeter/model.h>

/*
 * The prior: |Z| for Z ~ N(0, 1), whose mean excess over u is
 * phi(u) / Q(u) - u, taken as exponential (second moment 2 m^2).
 */
#define TAIL_P_U     0.02    /* P(|Z| > 2.3263) */
#define TAIL_LR0     1.69897 /* -log10(TAIL_P_U) */
#define TAIL_EXCESS0 0.3389
#define TAIL_CLIP    10.0   /* an excess counts up to this many mean excesses */
#define TAIL_M_MIN   1e-3   /* the mean excess is at least this */
#define TAIL_EMPTY   1e-30f /* decayed weights below this are none (floats: above FLT_MIN) */

void tail__init(struct pm_tail *t)
{
	t->n = PM_TAIL_PRIOR;
	t->nu = PM_TAIL_PRIOR * TAIL_P_U;
	t->s1 = t->nu * TAIL_EXCESS0;
	t->s2 = t->nu * 2 * TAIL_EXCESS0 * TAIL_EXCESS0;
}

/* -ln P(Z >= z | Z > u) for the law fitted to the excesses: exponential when gamma is 0. */
static double tail_excess(const struct pm_tail *t, double z)
{
	double m = t->nu > 0 ? fmax(t->s1 / t->nu, TAIL_M_MIN) : TAIL_EXCESS0;
	double v = t->nu > 0 ? t->s2 / t->nu - m * m : 0, gamma = 0, y;

	if (v > 0)
		gamma = fmin(fmax(0.5 * (1 - m * m / v), 0), PM_TAIL_GAMMA_MAX);
	y = (z - PM_TAIL_U) / (m * (1 - gamma));
	return gamma > 1e-6 ? log1p(gamma * y) / gamma : y;
}

/*
 * -ln P for the next sample rather than for the fitted law: with the
 * excesses' scale known from only @k of them, the predictive law of an
 * exponential is a Lomax, -ln P = k ln(1 + l / k) for the fit's -ln P = l
 * (a Gamma posterior on the rate). Much lower than l while k is small (a
 * young tail, the start of a series), the same once k is large.
 */
static double tail_predictive(double l, double k)
{
	/* never less than the prior's one excess */
	if (k < 1)
		k = 1;
	return k * log1p(l / k);
}

double tail__surprise(const struct pm_tail *t, double z)
{
	double lr, s;

	/* isgreater(): a NaN compares false without raising an invalid operation */
	if (!isgreater(z, 0))
		return 0;
	if (z <= PM_TAIL_U) {
		/*
		 * Below the tail: a ramp up to the prior's surprise at u, never more,
		 * as values below u are common whatever the tail (a bounded series
		 * may never pass u at all). No log while the rate is below the prior's.
		 */
		lr = t->nu > TAIL_P_U * t->n ? -log10(t->nu / t->n) : TAIL_LR0;
		return z / PM_TAIL_U * lr;
	}
	/* a tail decayed to nothing (a long constant run): the top of the scale */
	lr = t->nu > 0 ? fmin(-log10(t->nu / t->n), PM_TAIL_SURPRISE_MAX) : PM_TAIL_SURPRISE_MAX;
	s = lr + tail_predictive(tail_excess(t, z), t->nu) / M_LN10;
	return fmin(s, PM_TAIL_SURPRISE_MAX);
}

void tail__add(struct pm_tail *t, double z, double keep)
{
	double x;

	t->n = keep * t->n + 1;
	t->nu *= keep;
	t->s1 *= keep;
	t->s2 *= keep;
	/*
	 * No excess for ~200,000 samples: the sums would sink into subnormal
	 * numbers, where every operation is slow and the decay stalls. Nothing.
	 */
	if (t->nu < TAIL_EMPTY)
		t->nu = t->s1 = t->s2 = 0;
	if (!isgreater(z, PM_TAIL_U))
		return;
	/*
	 * Winsorised at what no exponential tail produces (e^-10): a huge excess,
	 * most often the anomaly itself, moves the fit a bounded step.
	 */
	t->nu += 1;
	x = fmin(z - PM_TAIL_U, TAIL_CLIP * (t->s1 + TAIL_EXCESS0) / t->nu);
	t->s1 += x;
	t->s2 += x * x;
}
