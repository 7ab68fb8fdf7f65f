// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Coarse seasonal baseline: additive Holt-Winters, one step per slot, on the
 * mean of the slot's samples. Equations in include/podmeter/model.h.
 */
#include <errno.h>
#include <math.h>
#include <podmeter/model.h>

static bool seasonal_unit_range(double v)
{
	return v >= 0 && v <= 1;
}

int seasonal__init(struct pm_seasonal *s, const struct pm_seasonal_cfg *cfg)
{
	if (cfg->slots < 2 || cfg->slots > PM_SEASONAL_SLOTS_MAX)
		return -EINVAL;
	if (!isfinite(cfg->slot_s) || cfg->slot_s < PM_SEASONAL_SLOT_MIN_S ||
	    cfg->slot_s > PM_SEASONAL_SLOT_MAX_S)
		return -EINVAL;
	if (!seasonal_unit_range(cfg->alpha) || !seasonal_unit_range(cfg->beta) ||
	    !seasonal_unit_range(cfg->gamma))
		return -EINVAL;
	*s = (struct pm_seasonal){ .cfg = *cfg };
	return 0;
}

bool seasonal__ready(const struct pm_seasonal *s)
{
	return s->ready;
}

static bool seasonal_started(const struct pm_seasonal *s)
{
	return s->acc_n || s->closed;
}

/* |t| < PM_MODEL_TIME_MAX and slot_s >= PM_SEASONAL_SLOT_MIN_S: fits an int64 */
static int seasonal_slot(const struct pm_seasonal *s, double t, int64_t *slot)
{
	if (!isfinite(t) || fabs(t) >= PM_MODEL_TIME_MAX)
		return -EINVAL;
	*slot = (int64_t)floor(t / s->cfg.slot_s);
	return 0;
}

static unsigned int seasonal_idx(const struct pm_seasonal *s, int64_t slot)
{
	int64_t i = slot % s->cfg.slots;

	return (unsigned int)(i < 0 ? i + s->cfg.slots : i);
}

/* End of the first period: level = mean of the slot means, season = deviations. */
static void seasonal_start(struct pm_seasonal *s)
{
	double sum = 0;
	unsigned int i, n = 0;

	for (i = 0; i < s->cfg.slots; i++) {
		if (s->seen & (1ULL << i)) {
			sum += s->season[i];
			n++;
		}
	}
	s->level = sum / n;	/* n >= 1: a slot was closed */
	for (i = 0; i < s->cfg.slots; i++)
		s->season[i] = s->seen & (1ULL << i) ? (float)(s->season[i] - s->level) : 0;
	s->trend = 0;
	s->ready = true;
}

static void seasonal_step(struct pm_seasonal *s, int64_t slot, double y)
{
	const struct pm_seasonal_cfg *c = &s->cfg;
	unsigned int i = seasonal_idx(s, slot);
	int64_t gap = slot - s->last - 1;
	double level;

	if (gap > c->slots)
		gap = c->slots;
	s->level += gap * s->trend;	/* slots without samples: follow the trend only */
	level = c->alpha * (y - s->season[i]) + (1 - c->alpha) * (s->level + s->trend);
	s->trend = c->beta * (level - s->level) + (1 - c->beta) * s->trend;
	s->season[i] = (float)(c->gamma * (y - level) + (1 - c->gamma) * s->season[i]);
	s->level = level;
}

static void seasonal_close(struct pm_seasonal *s)
{
	double y = s->acc / s->acc_n;
	unsigned int i = seasonal_idx(s, s->cur);

	if (s->ready) {
		seasonal_step(s, s->cur, y);
	} else {
		/* first period: keep the raw slot means, the level is their mean */
		s->season[i] = (float)y;
		s->seen |= 1ULL << i;
		s->level += (y - s->level) / ((double)s->closed + 1);
	}
	if (s->closed < UINT32_MAX)
		s->closed++;
	s->last = s->cur;
	s->acc = 0;
	s->acc_n = 0;
}

int seasonal__update(struct pm_seasonal *s, double t, double x)
{
	int64_t slot;

	if (!isfinite(x) || fabs(x) > PM_MODEL_VALUE_MAX || seasonal_slot(s, t, &slot))
		return -EINVAL;
	if (!seasonal_started(s)) {
		s->cur = s->first = slot;
	} else if (slot < s->cur) {
		return -EINVAL;
	} else if (slot > s->cur) {
		seasonal_close(s);
		if (!s->ready && slot - s->first >= s->cfg.slots)
			seasonal_start(s);
		s->cur = slot;
	}
	s->acc += x;
	s->acc_n++;
	return 0;
}

int seasonal__expected(const struct pm_seasonal *s, double t, double *out)
{
	int64_t slot, h;

	if (!seasonal_started(s))
		return -ENODATA;
	if (seasonal_slot(s, t, &slot))
		return -EINVAL;
	if (!s->ready) {
		*out = s->closed ? s->level : s->acc / s->acc_n;
		return 0;
	}
	/* forecast horizon in slots, kept within one period */
	h = slot - s->last;
	if (h < 1)
		h = 1;
	if (h > s->cfg.slots)
		h = s->cfg.slots;
	*out = s->level + h * s->trend + s->season[seasonal_idx(s, slot)];
	return 0;
}

double seasonal__residual(const struct pm_seasonal *s, double t, double x)
{
	double e;

	if (!isfinite(x) || fabs(x) > PM_MODEL_VALUE_MAX || seasonal__expected(s, t, &e))
		return 0;
	return x - e;
}
