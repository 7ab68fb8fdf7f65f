// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Time-decayed mean and variance, and a robust z-score from a Huber-clipped
 * center and scale. Weights, warm-up and the robust pair are described in
 * include/podmeter/model.h.
 */
#include <errno.h>
#include <math.h>
#include <podmeter/model.h>

/*
 * 1 / E[min(|Z|, c)] for Z ~ N(0, 1) and c = PM_EWMA_CLIP = 3:
 * E = sqrt(2/pi) (1 - exp(-c^2/2)) + 2 c Phi(-c) = 0.797120, so that the
 * EWMA of clipped absolute residuals times this is sigma for Gaussian data.
 */
#define EWMA_ABSDEV_TO_SIGMA 1.254516

int ewma__init(struct pm_ewma *e, double half_life_s, double min_scale)
{
	if (!isfinite(half_life_s) || half_life_s < PM_EWMA_HALF_LIFE_MIN ||
	    half_life_s > PM_EWMA_HALF_LIFE_MAX || !isfinite(min_scale) || min_scale < 0)
		return -EINVAL;
	*e = (struct pm_ewma){ .half_life = half_life_s, .min_scale = min_scale };
	return 0;
}

static double ewma_weight(struct pm_ewma *e, double dt)
{
	if (dt != e->dt) {
		e->dt = dt;
		/* 1 - 2^(-dt/h), accurate for small dt */
		e->a = -expm1(-dt / e->half_life * M_LN2);
	}
	return e->a;
}

static double ewma_scale(const struct pm_ewma *e)
{
	double s = e->absdev * EWMA_ABSDEV_TO_SIGMA;

	return s > e->min_scale ? s : e->min_scale;
}

static void ewma_robust(struct pm_ewma *e, double x, double a)
{
	double lim, r;

	if (e->n < PM_EWMA_WARMUP)
		return;
	if (e->n == PM_EWMA_WARMUP) {
		/* seed from the plain estimates of the warm-up */
		e->center = e->mean;
		e->absdev = sqrt(e->var) / EWMA_ABSDEV_TO_SIGMA;
		return;
	}
	lim = PM_EWMA_CLIP * ewma_scale(e);
	r = x - e->center;
	if (r > lim)
		r = lim;
	else if (r < -lim)
		r = -lim;
	e->center += a * r;
	e->absdev += a * (fabs(r) - e->absdev);
}

int ewma__update(struct pm_ewma *e, double t, double x)
{
	double a, d;

	if (!isfinite(t) || fabs(t) >= PM_MODEL_TIME_MAX || !isfinite(x) ||
	    fabs(x) > PM_MODEL_VALUE_MAX)
		return -EINVAL;
	if (e->n && t <= e->t)
		return -EINVAL;
	if (!e->n) {
		e->n = 1;
		e->t = t;
		e->mean = x;
		e->var = 0;
		return 0;
	}
	a = ewma_weight(e, t - e->t);
	e->n++;
	e->t = t;
	if (a < 1.0 / e->n)
		a = 1.0 / e->n;
	d = x - e->mean;
	e->mean += a * d;
	e->var = (1 - a) * (e->var + a * d * d);
	ewma_robust(e, x, a);
	return 0;
}

double ewma__mean(const struct pm_ewma *e)
{
	return e->mean;
}

double ewma__var(const struct pm_ewma *e)
{
	return e->var;
}

double ewma__std(const struct pm_ewma *e)
{
	return sqrt(e->var);
}

double ewma__robust_scale(const struct pm_ewma *e)
{
	return e->n < PM_EWMA_WARMUP ? ewma__std(e) : ewma_scale(e);
}

double ewma__score(const struct pm_ewma *e, double x)
{
	double s, d;

	if (e->n < PM_EWMA_WARMUP || !isfinite(x))
		return 0;
	s = ewma_scale(e);
	d = x - e->center;	/* |center| <= PM_MODEL_VALUE_MAX: no overflow */
	/* clamp before dividing: no overflow, no division by zero */
	if (d > PM_Z_MAX * s)
		return PM_Z_MAX;
	if (d < -PM_Z_MAX * s)
		return -PM_Z_MAX;
	return s > 0 ? d / s : 0;
}
