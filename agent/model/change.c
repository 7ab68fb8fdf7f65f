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
	if (!isfinite(cfg->k) || cfg->k < 0 || !isfinite(cfg->h) || cfg->h <= 0)
		return -EINVAL;
	if (cfg->warmup < 2 || !isfinite(cfg->min_sigma) || cfg->min_sigma < 0)
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
	c->d_up = c->d_dn = 0;
	c->n_ref = c->n = 0;
	c->n_up = c->n_dn = 0;
	c->head = 0;
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

/* (x - mu) / sigma, clamped (before dividing) so the sums stay finite. */
static double change_z(double x, double mu, double sigma)
{
	double d = x - mu;

	if (d > PM_Z_MAX * sigma)
		return PM_Z_MAX;
	if (d < -PM_Z_MAX * sigma)
		return -PM_Z_MAX;
	return sigma > 0 ? d / sigma : 0;
}

static void change_side(double *s, double *dev, uint32_t *n, double inc, double d)
{
	*s += inc;
	if (*s > 0) {
		*dev += d;
		if (*n < UINT32_MAX)
			(*n)++;
	} else {
		*s = 0;
		*dev = 0;
		*n = 0;
	}
}

/* The window ending now with the largest likelihood ratio: sum^2 / length. */
static void change_fill(const struct pm_change *c, int dir, struct pm_change_alarm *alarm)
{
	uint32_t n = dir > 0 ? c->n_up : c->n_dn, i, best_n = n;
	double sum = dir > 0 ? c->d_up : c->d_dn, best = sum, part = 0;

	for (i = 1; i <= PM_CHANGE_RECENT && i < n; i++) {
		part += c->recent[(c->head - i) % PM_CHANGE_RECENT];
		if (dir * part > 0 && part * part * best_n > best * best * i) {
			best = part;
			best_n = i;
		}
	}
	alarm->dir = dir;
	alarm->shift = best / best_n;
	alarm->before = c->ref_mean;
	alarm->since = best_n;
}

int change__update(struct pm_change *c, double x, struct pm_change_alarm *alarm)
{
	double sigma, mu, z;
	bool quiet;
	int dir;

	if (!isfinite(x) || fabs(x) > PM_MODEL_VALUE_MAX)
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
	change_side(&c->s_up, &c->d_up, &c->n_up, z - c->cfg.k, x - mu);
	change_side(&c->s_dn, &c->d_dn, &c->n_dn, -z - c->cfg.k, x - mu);
	c->recent[c->head++ % PM_CHANGE_RECENT] = (float)(x - mu);
	if (c->s_up > c->cfg.h || c->s_dn > c->cfg.h) {
		dir = c->s_up - c->cfg.h >= c->s_dn - c->cfg.h ? 1 : -1;
		if (alarm)
			change_fill(c, dir, alarm);
		change__reset(c);
		return 1;
	}
	/* the reference keeps learning while no excursion is under way */
	if (quiet)
		change_learn(c, x);
	return 0;
}
