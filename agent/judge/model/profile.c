// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Seasonal profile over one period: slot means, read with linear
 * interpolation between slot centres and centred on the mean of the slots
 * seen (see include/podmeter/model.h).
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <podmeter/model.h>

int profile__init(struct pm_profile *p, const struct pm_profile_slots *s, double period_s,
		  uint32_t slots)
{
	if (slots < 2 || slots > PM_PROFILE_SLOTS_MAX || !isfinite(period_s) || period_s <= 0)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	memset(s->v, 0, slots * sizeof(*s->v));
	memset(s->seen, 0, slots * sizeof(*s->seen));
	p->period_s = period_s;
	p->slots = slots;
	return 0;
}

int profile__pos(const struct pm_profile *p, double t, struct pm_profile_pos *pos)
{
	double ph, k;

	if (!isfinite(t) || fabs(t) >= PM_MODEL_TIME_MAX)
		return -EINVAL;
	ph = t / p->period_s;
	ph = (ph - floor(ph)) * p->slots - 0.5; /* in slots, from the first centre */
	k = floor(ph);
	pos->frac = ph - k;
	pos->i = (uint32_t)(k < 0 ? k + p->slots : k);
	pos->j = pos->i + 1 == p->slots ? 0 : pos->i + 1;
	pos->near = pos->frac < 0.5 ? pos->i : pos->j;
	return 0;
}

bool profile__knows_at(const struct pm_profile_slots *s, const struct pm_profile_pos *pos)
{
	return s->seen[pos->near] > 0;
}

double profile__value_at(const struct pm_profile *p, const struct pm_profile_slots *s,
			 const struct pm_profile_pos *pos)
{
	double v;

	if (!profile__knows_at(s, pos))
		return 0;
	if (!s->seen[pos->i])
		v = s->v[pos->j];
	else if (!s->seen[pos->j])
		v = s->v[pos->i];
	else
		v = (1 - pos->frac) * s->v[pos->i] + pos->frac * s->v[pos->j];
	return v - p->sum / p->nseen;
}

/* The weight of a sample in a slot's EWMA at @step_s: PM_PROFILE_KEEP periods of memory. */
static double profile_rate(struct pm_profile *p, double step_s)
{
	/* samples a slot gets in a period: 1 / per */
	double per = fmin(step_s / p->period_s * p->slots, 1);

	if (step_s != p->rate_step) {
		p->rate_step = step_s;
		p->rate = -expm1(-M_LN2 * per / PM_PROFILE_KEEP);
	}
	return p->rate;
}

void profile__add_at(struct pm_profile *p, const struct pm_profile_slots *s,
		     const struct pm_profile_pos *pos, double t, double x, double step_s)
{
	double rate = profile_rate(p, step_s);
	uint32_t k = pos->near;
	float old;

	if (!isfinite(x) || fabs(x) > PM_MODEL_VALUE_MAX)
		return;
	if (!p->started) {
		p->started = true;
		p->t0 = t;
	}
	old = s->v[k];
	if (!s->seen[k]) {
		p->nseen++;
		old = 0;
		s->v[k] = (float)x;
	} else {
		/* the plain mean while the slot is young */
		if (1.0 / (s->seen[k] + 1) > rate)
			rate = 1.0 / (s->seen[k] + 1);
		s->v[k] += (float)(rate * (x - s->v[k]));
	}
	if (s->seen[k] < UINT8_MAX)
		s->seen[k]++;
	p->sum += (double)s->v[k] - old;
}

bool profile__knows(const struct pm_profile *p, const struct pm_profile_slots *s, double t)
{
	struct pm_profile_pos pos;

	return !profile__pos(p, t, &pos) && profile__knows_at(s, &pos);
}

double profile__value(const struct pm_profile *p, const struct pm_profile_slots *s, double t)
{
	struct pm_profile_pos pos;

	return profile__pos(p, t, &pos) ? 0 : profile__value_at(p, s, &pos);
}

void profile__add(struct pm_profile *p, const struct pm_profile_slots *s, double t, double x,
		  double step_s)
{
	struct pm_profile_pos pos;

	if (!profile__pos(p, t, &pos))
		profile__add_at(p, s, &pos, t, x, step_s);
}

double profile__age(const struct pm_profile *p, double t)
{
	return p->started ? (t - p->t0) / p->period_s : 0;
}
