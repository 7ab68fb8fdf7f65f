// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Mean-shift detection: two-sided CUSUM and Page-Hinkley share one pair of
 * one-sided sums and differ in the mean the increments are taken from (see
 * include/podmeter/model.h). Page-Hinkley's m_T - min m_t obeys the same
 * recursion as a one-sided CUSUM sum, so it is kept in that form.
 */
#include <errno.h>
#include <math.h>
#include <podmeter/model.h>

int change__init(struct pm_change *c, const struct pm_change_cfg *cfg)
{
	if (cfg->method != PM_CHANGE_CUSUM && cfg->method != PM_CHANGE_PH)
		return -EINVAL;
	if (!(cfg->k >= 0) || isinf(cfg->k) || !(cfg->h > 0) || isinf(cfg->h))
		return -EINVAL;
	if (cfg->warmup < 2 || !(cfg->min_sigma >= 0) || isinf(cfg->min_sigma))
		return -EINVAL;
	c->cfg = *cfg;
	change__reset(c);
	return 0;
}

void change__reset(struct pm_change *c)
{
	c->ref_mean = c->ref_m2 = 0;
	c->run_mean = 0;
	c->s_up = c->s_dn = 0;
	c->n_ref = c->n = 0;
	c->n_up = c->n_dn = 0;
}

bool change__warming(const struct pm_change *c)
{
	return c->n < c->cfg.warmup;
}

static void change_learn(struct pm_change *c, double x)
{
	double d = x - c->ref_mean;

	c->n_ref++;
	c->ref_mean += d / c->n_ref;
	c->ref_m2 += d * (x - c->ref_mean);
}

static double change_sigma(const struct pm_change *c)
{
	double s = c->n_ref > 1 ? sqrt(c->ref_m2 / (c->n_ref - 1)) : 0;

	return s > c->cfg.min_sigma ? s : c->cfg.min_sigma;
}

/* (x - mu) / sigma, clamped so the sums stay finite for any input. */
static double change_z(double x, double mu, double sigma)
{
	double z;

	if (!(sigma > 0))
		return x == mu ? 0 : (x > mu ? PM_Z_MAX : -PM_Z_MAX);
	z = (x - mu) / sigma;
	return z > PM_Z_MAX ? PM_Z_MAX : (z < -PM_Z_MAX ? -PM_Z_MAX : z);
}

static void change_side(double *s, uint32_t *n, double inc)
{
	*s += inc;
	if (*s > 0) {
		if (*n < UINT32_MAX)
			(*n)++;
	} else {
		*s = 0;
		*n = 0;
	}
}

static void change_fill(const struct pm_change *c, int dir, double sigma,
			struct pm_change_alarm *alarm)
{
	double s = dir > 0 ? c->s_up : c->s_dn;
	uint32_t n = dir > 0 ? c->n_up : c->n_dn;

	alarm->dir = dir;
	alarm->shift = dir * sigma * (c->cfg.k + s / n);
	alarm->before = c->ref_mean;
	alarm->since = n;
}

int change__update(struct pm_change *c, double x, struct pm_change_alarm *alarm)
{
	double sigma, mu, z;
	bool quiet;
	int dir;

	if (!(fabs(x) <= PM_MODEL_VALUE_MAX))
		return -EINVAL;
	c->n++;
	c->run_mean += (x - c->run_mean) / c->n;
	if (c->n <= c->cfg.warmup) {
		change_learn(c, x);
		return 0;
	}
	sigma = change_sigma(c);
	mu = c->cfg.method == PM_CHANGE_CUSUM ? c->ref_mean : c->run_mean;
	z = change_z(x, mu, sigma);
	quiet = c->s_up == 0 && c->s_dn == 0;
	change_side(&c->s_up, &c->n_up, z - c->cfg.k);
	change_side(&c->s_dn, &c->n_dn, -z - c->cfg.k);
	if (c->s_up > c->cfg.h || c->s_dn > c->cfg.h) {
		dir = c->s_up - c->cfg.h >= c->s_dn - c->cfg.h ? 1 : -1;
		if (alarm)
			change_fill(c, dir, sigma, alarm);
		change__reset(c);
		return 1;
	}
	/* the reference keeps learning while no excursion is under way */
	if (quiet)
		change_learn(c, x);
	return 0;
}
