// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One series' anomaly detector: candidate baselines (a level, and a level
 * plus a daily or a weekly profile), a few statistics of each one's
 * residual, each scored by the tail of its own history, the best baseline's
 * scores reported, and alarms held for a while after they fire. See
 * include/podmeter/model.h.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <podmeter/model.h>

#define ANOM_WEEK_DAYS 7
#define ANOM_CLIP      3.0 /* Huber clip of the scales' updates, in scales */
#define ANOM_STAT_WARM 64  /* samples before the statistics are judged: the longest mean's */
#define ANOM_NORM_WARM 16  /* then samples of plain mean and deviation first */
/* sigma / E|Z| clipped at ANOM_CLIP, Z ~ N(0, sigma^2): E = sqrt(2/pi) (1 - e^-4.5) + 6 Q(3) */
#define ANOM_ABSDEV	1.254516
#define ANOM_SHORT_HL	16.0 /* samples: the recent window of variance, energy and far */
#define ANOM_VAR_FLOOR	0.05 /* floor of its scale: log units */
#define ANOM_STEP_GAIN	1.05 /* the typical interval's median tracker */
#define ANOM_PHI_MAX	0.99
#define ANOM_SEASON_AGE 2.0  /* periods seen before a profile may be used */
#define ANOM_HOLD_CAP	1e-4 /* held rows score this much below the floor */
#define ANOM_T_MAX	(2 * PM_ANOMALY_MEMORY / M_LN2) /* a scale EWMA's effective count */

enum {
	STAT_JUMP,
	STAT_DEV,
	STAT_MEAN, /* PM_ANOMALY_MEANS of them */
	STAT_VAR = STAT_MEAN + PM_ANOMALY_MEANS,
	STAT_FAR,
	STAT_ENERGY,
};

static const double anom_mean_hl[PM_ANOMALY_MEANS] = { 4, 16, 64 };

static const char *const anom_kind_names[PM_ANOMALY_KINDS] = {
	[PM_ANOMALY_NONE] = "none",	    [PM_ANOMALY_JUMP] = "jump",
	[PM_ANOMALY_LEVEL] = "level",	    [PM_ANOMALY_DRIFT] = "drift",
	[PM_ANOMALY_VARIANCE] = "variance", [PM_ANOMALY_PATTERN] = "pattern",
};

const char *anomaly__kind_name(enum pm_anomaly_kind k)
{
	return (unsigned int)k < PM_ANOMALY_KINDS ? anom_kind_names[k] : "unknown";
}

void anomaly__defaults(struct pm_anomaly_cfg *cfg)
{
	cfg->alarm = PM_ANOMALY_ALARM;
	cfg->hold_s = PM_ANOMALY_HOLD_AUTO;
	cfg->resolution = 0;
	cfg->day_s = PM_ANOMALY_DAY_S;
}

/* The weight of a new sample in an EWMA of half-life @hl samples, @w samples on. */
static double anom_rate(double hl, double w)
{
	return -expm1(-M_LN2 * w / hl);
}

/* Per-sample EWMA weights and scale floors: the same for every series, worked out once. */
struct anomaly_rates {
	double mean[PM_ANOMALY_MEANS], recent, level, memory;
	double floor[PM_ANOMALY_STATS]; /* of each statistic, in resolutions (0: fixed) */
};

static struct anomaly_rates anom_rates_v;
static pthread_once_t anom_rates_once = PTHREAD_ONCE_INIT;

/*
 * Each statistic's floor in resolutions: 1 for a sample, less for an
 * average, as much less as the average's spread is (sqrt(a / (2 - a)) of a
 * sample's for an EWMA of weight a); 0 for the logs of mean squares, whose
 * floor is ANOM_VAR_FLOOR.
 */

static void anom_rates_init(void)
{
	struct anomaly_rates *r = &anom_rates_v;
	int i;

	for (i = 0; i < PM_ANOMALY_MEANS; i++)
		r->mean[i] = anom_rate(anom_mean_hl[i], 1);
	r->recent = anom_rate(ANOM_SHORT_HL, 1);
	r->level = anom_rate(PM_ANOMALY_LEVEL_HL, 1);
	r->memory = anom_rate(PM_ANOMALY_MEMORY, 1);
	for (i = 0; i < PM_ANOMALY_STATS; i++)
		r->floor[i] = 1;
	for (i = 0; i < PM_ANOMALY_MEANS; i++)
		r->floor[STAT_MEAN + i] = sqrt(r->mean[i] / (2 - r->mean[i]));
	r->floor[STAT_FAR] = sqrt(r->recent / (2 - r->recent));
	r->floor[STAT_VAR] = r->floor[STAT_ENERGY] = 0;
}

/* The same for every series: worked out once, not kept in each. */
static const struct anomaly_rates *anom_rates(void)
{
	pthread_once(&anom_rates_once, anom_rates_init);
	return &anom_rates_v;
}

int anomaly__init(struct pm_anomaly *a, const struct pm_anomaly_cfg *cfg)
{
	int c, i;

	if (!isfinite(cfg->alarm) || cfg->alarm < PM_ANOMALY_HOLD_FLOOR || cfg->alarm > 1)
		return -EINVAL;
	if (!isfinite(cfg->hold_s) || (cfg->hold_s < 0 && cfg->hold_s != PM_ANOMALY_HOLD_AUTO) ||
	    cfg->hold_s >= PM_MODEL_TIME_MAX)
		return -EINVAL;
	if (!isfinite(cfg->resolution) || cfg->resolution < 0 ||
	    cfg->resolution > PM_MODEL_VALUE_MAX)
		return -EINVAL;
	if (!isfinite(cfg->day_s) || cfg->day_s < 0 ||
	    cfg->day_s * ANOM_WEEK_DAYS >= PM_MODEL_TIME_MAX)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	anom_rates();
	for (c = 0; c < PM_ANOMALY_TRACKS; c++)
		for (i = 0; i < PM_ANOMALY_STATS; i++)
			tail__init(&a->track[c].tail[i]);
	if (cfg->day_s > 0) {
		struct pm_profile_slots day = { a->day_v, a->day_seen };
		struct pm_profile_slots week = { a->week_v, a->week_seen };

		profile__init(&a->day, &day, cfg->day_s, PM_ANOMALY_DAY_SLOTS);
		profile__init(&a->week, &week, cfg->day_s * ANOM_WEEK_DAYS, PM_ANOMALY_WEEK_SLOTS);
	}
	return 0;
}

/*
 * An EWMA fed zeros (a constant series) decays into subnormal numbers,
 * where each operation is slow and the decay stalls: those are zero.
 */
static double anom_normal(double x)
{
	return fabs(x) < DBL_MIN ? 0 : x;
}

static float anom_normalf(float x)
{
	return fabsf(x) < FLT_MIN ? 0 : x;
}

/* Weight @rate while fewer than @n samples were seen: their plain mean, no start bias. */
static double anom_young(double rate, uint64_t n)
{
	return (double)n * rate < 1 ? 1.0 / (double)n : rate;
}

static double anom_scale(const struct anomaly_norm *nm, double floor)
{
	double s = nm->d * ANOM_ABSDEV;

	return s > floor ? s : floor;
}

static double anom_z(const struct anomaly_norm *nm, double f, double floor)
{
	double s = anom_scale(nm, floor), d = f - nm->c;

	if (d == 0)
		return 0;
	/* clamped before dividing: no overflow, and a zero scale gives the clamp */
	if (fabs(d) >= PM_Z_MAX * s)
		return d > 0 ? PM_Z_MAX : -PM_Z_MAX;
	return d / s;
}

/*
 * A z-score whose scale was estimated from @n samples is a Student t with
 * about n degrees of freedom: its Gaussian equivalent (the approximation
 * z (1 - 1/4n) / sqrt(1 + z^2 / 2n)), so that a young scale does not make
 * ordinary values look extreme. Past ANOM_T_MAX samples (the scale's EWMA
 * holds about that many) the correction is a few percent at most and is
 * left out: no square root per statistic in the steady state.
 */
static double anom_t(double z, uint64_t n)
{
	double nu = (double)n;

	if (nu >= ANOM_T_MAX)
		return z;
	return z * (1 - 0.25 / nu) / sqrt(1 + z * z / (2 * nu));
}

/* Plain running mean and mean |deviation| first, then Huber-clipped EWMAs of weight @w. */
static void anom_norm_add(struct anomaly_norm *nm, double f, double floor, uint64_t n, double w)
{
	double lim, r;

	if (n <= ANOM_NORM_WARM) {
		nm->c += (f - nm->c) / n;
		nm->d += (fabs(f - nm->c) - nm->d) / n;
		return;
	}
	lim = ANOM_CLIP * anom_scale(nm, floor);
	r = f - nm->c;
	r = r > lim ? lim : r < -lim ? -lim : r;
	nm->c += w * r;
	nm->d += w * (fabs(r) - nm->d);
}

/* Track @c's profile and its slots (into @sl); NULL for the plain level, or without seasons. */
static struct pm_profile *anom_profile(struct pm_anomaly *a, int c, struct pm_profile_slots *sl)
{
	if (!a->cfg.day_s)
		return NULL;
	if (c == 1) {
		*sl = (struct pm_profile_slots){ a->day_v, a->day_seen };
		return &a->day;
	}
	if (c == 2) {
		*sl = (struct pm_profile_slots){ a->week_v, a->week_seen };
		return &a->week;
	}
	return NULL;
}

/*
 * The statistics of residual @e (and @far, x less the long-run level),
 * before it is learnt. They count samples, not time: after a gap an average
 * still holds as many samples, so its spread stays the one its scale learnt.
 */
/*
 * ln(@x) for a normal @x > 0, to 1e-9 relative: x = m 2^k with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh(u) for u = (m - 1) / (m + 1), |u| <
 * 0.172, by its series to u^9. Six of these a sample: libm's log took a
 * quarter of the update's time.
 */
static double anom_log(double x)
{
	double m, u, u2;
	int k;

	m = frexp(x, &k); /* [1/2, 1) */
	if (m < M_SQRT1_2) {
		m *= 2;
		k--;
	}
	u = (m - 1) / (m + 1);
	u2 = u * u;
	return 2 * u * (1 + u2 * (1.0 / 3 + u2 * (1.0 / 5 + u2 * (1.0 / 7 + u2 / 9)))) + k * M_LN2;
}

/* ln(@a / @b) for a, b >= DBL_MIN: one log unless the ratio could overflow. */
static double anom_log_ratio(double a, double b)
{
	return b > 1e-250 ? anom_log(a / b) : anom_log(a) - anom_log(b);
}

static void anom_stats(const struct anomaly_rates *rt, struct anomaly_track *k, double e,
		       double far, double res, double *f)
{
	double phi = k->phi_den > 0 ? k->phi_num / k->phi_den : 0, eps;
	double keep = anom_young(rt->memory, k->n), recent = anom_young(rt->recent, k->n);
	/* a floor for the logs of a constant series' zero mean squares */
	double r2 = res * res > DBL_MIN ? res * res : DBL_MIN;
	int i;

	phi = phi < 0 ? 0 : phi > ANOM_PHI_MAX ? ANOM_PHI_MAX : phi;
	eps = e - phi * k->e;
	f[STAT_JUMP] = eps;
	f[STAT_DEV] = e;
	for (i = 0; i < PM_ANOMALY_MEANS; i++) {
		k->mean[i] += anom_young(rt->mean[i], k->n) * (e - k->mean[i]);
		f[STAT_MEAN + i] = k->mean[i];
	}
	/* the long mean squares first: a first sample compares with itself */
	k->v_long += keep * (eps * eps - k->v_long);
	k->e2_long += keep * (e * e - k->e2_long);
	k->v_short += recent * (eps * eps - k->v_short);
	k->e2_short += recent * (e * e - k->e2_short);
	k->far_mean += recent * (far - k->far_mean);
	f[STAT_VAR] = anom_log_ratio(k->v_short + r2, k->v_long + r2);
	f[STAT_ENERGY] = anom_log_ratio(k->e2_short + r2, k->e2_long + r2);
	f[STAT_FAR] = k->far_mean;
	k->phi_num += keep * (e * k->e - k->phi_num);
	k->phi_den += keep * (k->e * k->e - k->phi_den);
	k->e = e;
}

/*
 * EWMAs fed zeros (a constant series) decay into subnormal numbers, where
 * each operation is slow and the decay stalls; a pass every 1,024 samples
 * sets them to zero, long before (that takes some 2 million samples).
 */
static void anom_flush(struct anomaly_track *k)
{
	double *v[] = { &k->v_short, &k->v_long,   &k->e2_short, &k->e2_long, &k->phi_num,
			&k->phi_den, &k->far_mean, &k->mean[0],	 &k->mean[1], &k->mean[2] };
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		*v[i] = anom_normal(*v[i]);
	for (i = 0; i < PM_ANOMALY_STATS; i++) {
		k->norm[i].c = anom_normalf(k->norm[i].c);
		k->norm[i].d = anom_normalf(k->norm[i].d);
	}
}

/*
 * Judge the statistics @f against their histories, then learn them. Only
 * the track in use (@judge) works out surprises: the others keep their
 * histories ready for when they are chosen.
 */
static double anom_score(const struct anomaly_rates *rt, struct anomaly_track *k, const double *f,
			 double res, uint64_t n, bool judge, int *top, int *dir)
{
	double best = 0, keep = 1 - rt->memory, floor, z, s, w;
	int i;

	*top = 0;
	*dir = 0;
	/* an average is what it says once its window has filled */
	if (n <= ANOM_STAT_WARM)
		return 0;
	n -= ANOM_STAT_WARM;
	w = anom_young(rt->memory, n);
	for (i = 0; i < PM_ANOMALY_STATS; i++) {
		floor = rt->floor[i] > 0 ? rt->floor[i] * res : ANOM_VAR_FLOOR;
		if (n > ANOM_NORM_WARM) {
			/* once there is a scale to judge by */
			z = anom_z(&k->norm[i], f[i], floor);
			/* a scale estimated from the data, not the resolution's floor */
			if (k->norm[i].d * ANOM_ABSDEV > floor)
				z = anom_t(z, n);
			s = judge ? tail__surprise(&k->tail[i], fabs(z)) : 0;
			if (s > best) {
				best = s;
				*top = i;
				*dir = z > 0 ? 1 : -1;
			}
			tail__add(&k->tail[i], fabs(z), keep);
		}
		anom_norm_add(&k->norm[i], f[i], floor, n, w);
	}
	return fmax(best - log10(PM_ANOMALY_STATS), 0);
}

/* What each statistic says; with a season, a departure from it is a pattern's. */
static enum pm_anomaly_kind anom_kind(int season, int stat)
{
	static const enum pm_anomaly_kind kinds[PM_ANOMALY_STATS] = {
		[STAT_JUMP] = PM_ANOMALY_JUMP,	    [STAT_DEV] = PM_ANOMALY_LEVEL,
		[STAT_MEAN] = PM_ANOMALY_LEVEL,	    [STAT_MEAN + 1] = PM_ANOMALY_LEVEL,
		[STAT_MEAN + 2] = PM_ANOMALY_DRIFT, [STAT_VAR] = PM_ANOMALY_VARIANCE,
		[STAT_FAR] = PM_ANOMALY_DRIFT,	    [STAT_ENERGY] = PM_ANOMALY_VARIANCE,
	};
	enum pm_anomaly_kind k = kinds[stat];

	if (season && (k == PM_ANOMALY_LEVEL || stat == STAT_ENERGY))
		return PM_ANOMALY_PATTERN;
	return k;
}

/*
 * A seasonal track's residual means something once its profile has seen
 * ANOM_SEASON_AGE periods, eight samples a period at least; before, the
 * track learns its baseline only.
 */
static bool anom_track_scores(const struct pm_anomaly *a, const struct pm_profile *p,
			      const struct pm_profile_slots *sl, const struct pm_profile_pos *pos,
			      double t)
{
	if (!p)
		return true;
	return profile__age(p, t) >= ANOM_SEASON_AGE && a->step * 8 <= p->period_s &&
	       profile__knows_at(sl, pos);
}

/* In use once it has scored a period's samples, and when it explains the series. */
static void anom_choose(struct pm_anomaly *a)
{
	double best = a->track[0].err * PM_ANOMALY_SEASON_GAIN;
	int c;

	a->season = 0;
	for (c = 1; c < PM_ANOMALY_TRACKS; c++) {
		struct pm_profile_slots sl;
		const struct pm_profile *p = anom_profile(a, c, &sl);

		if (!p || a->step <= 0 || a->track[c].n < p->period_s / a->step)
			continue;
		if (a->track[c].err < best) {
			best = a->track[c].err;
			a->season = c;
		}
	}
}

/*
 * Every track judges @x against its baseline and learns it; the result is
 * the track in use's, and the track to use next is chosen.
 */
static void anom_tracks(struct pm_anomaly *a, double t, double x, double w,
			struct pm_anomaly_result *res)
{
	const struct anomaly_rates *rt = anom_rates();
	/* a gap ages the baselines: as many samples' weight as intervals it spans */
	double lw = w == 1 ? rt->level : anom_rate(PM_ANOMALY_LEVEL_HL, w);
	double fw = w == 1 ? rt->memory : anom_rate(PM_ANOMALY_MEMORY, w);
	double f[PM_ANOMALY_STATS];
	int c, top, dir;

	for (c = 0; c < PM_ANOMALY_TRACKS; c++) {
		struct anomaly_track *k = &a->track[c];
		struct pm_profile_slots sl;
		struct pm_profile *p = anom_profile(a, c, &sl);
		struct pm_profile_pos pos;
		double s, e, sur = 0;

		if (c && !p)
			continue;
		/* validated by the caller: the position is found */
		if (p)
			profile__pos(p, t, &pos);
		s = p ? profile__value_at(p, &sl, &pos) : 0;
		e = x - k->level - s;
		top = dir = 0;
		if (anom_track_scores(a, p, &sl, &pos, t)) {
			k->n++;
			anom_stats(rt, k, e, x - s - k->far, a->res, f);
			sur = anom_score(rt, k, f, a->res, k->n, c == a->season, &top, &dir);
			k->err += anom_young(rt->memory, k->n) * (e * e - k->err);
			if (!(k->n % 1024))
				anom_flush(k);
		}
		if (c == a->season) {
			res->surprise = sur;
			res->expected = k->level + s;
			res->kind = anom_kind(c, top);
			res->dir = dir;
		}
		if (p)
			profile__add_at(p, &sl, &pos, t, x, a->step > 0 ? a->step : p->period_s);
		k->level += anom_young(lw, a->n) * (x - s - k->level);
		k->far += anom_young(fw, a->n) * (x - s - k->far);
	}
	anom_choose(a);
}

/* The typical interval: a median tracker of the positive ones. */
static double anom_steps(struct pm_anomaly *a, double dt)
{
	if (dt <= 0)
		return 1; /* a repeated timestamp: one more sample */
	if (a->step == 0)
		a->step = dt;
	else if (dt > a->step * ANOM_STEP_GAIN)
		a->step *= ANOM_STEP_GAIN;
	else if (dt * ANOM_STEP_GAIN < a->step)
		a->step /= ANOM_STEP_GAIN;
	return fmin(fmax(dt / a->step, 1), PM_ANOMALY_LEVEL_HL);
}

double anomaly__hold_s(const struct pm_anomaly *a)
{
	if (a->cfg.hold_s != PM_ANOMALY_HOLD_AUTO)
		return a->cfg.hold_s;
	return PM_ANOMALY_LEVEL_HL * a->step;
}

/*
 * Events, the rows they hold, and alarms: a row of the floor or more starts
 * an event or, within its hold time, belongs to it; a row that does not
 * beat the event's highest score is capped under the floor. The event
 * alarms once, at its first row of the alarm level or more.
 */
static void anom_alarm(struct pm_anomaly *a, double t, struct pm_anomaly_result *res)
{
	bool holding = a->event && t - a->event_t < anomaly__hold_s(a);

	if (res->score < PM_ANOMALY_HOLD_FLOOR)
		return;
	if (holding && res->score <= a->event_score) {
		res->held = true;
		res->score = PM_ANOMALY_HOLD_FLOOR - ANOM_HOLD_CAP;
		return;
	}
	if (!holding) {
		a->event = true;
		a->event_alarmed = false;
	}
	a->event_t = t;
	a->event_score = res->score;
	if (res->score < a->cfg.alarm)
		return;
	res->alarm = !a->event_alarmed;
	res->held = a->event_alarmed;
	a->event_alarmed = true;
}

static void anom_first(struct pm_anomaly *a, double t, double x)
{
	int c;

	a->n = 1;
	a->t = t;
	a->x = x;
	for (c = 0; c < PM_ANOMALY_TRACKS; c++)
		a->track[c].level = a->track[c].far = x;
}

int anomaly__update(struct pm_anomaly *a, double t, double x, struct pm_anomaly_result *res)
{
	double w, d;

	if (!isfinite(t) || fabs(t) >= PM_MODEL_TIME_MAX || !isfinite(x) ||
	    fabs(x) > PM_MODEL_VALUE_MAX)
		return -EINVAL;
	if (a->n && t < a->t)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	res->warmup = a->n < PM_ANOMALY_WARMUP;
	if (!a->n) {
		anom_first(a, t, x);
		res->expected = x;
		return 0;
	}
	w = anom_steps(a, t - a->t);
	if (a->cfg.resolution > 0)
		a->res = a->cfg.resolution;
	a->n++;
	anom_tracks(a, t, x, w, res);
	/* the resolution learns from the sample after judging it, as the rest */
	d = fabs(x - a->x);
	if (!a->cfg.resolution && d > 0 && (a->res == 0 || d < a->res))
		a->res = d;
	a->t = t;
	a->x = x;
	if (res->warmup) {
		res->surprise = 0;
		res->kind = PM_ANOMALY_NONE;
		res->dir = 0;
		return 0;
	}
	res->score = fmin(res->surprise / 10, 1);
	anom_alarm(a, t, res);
	return 0;
}
