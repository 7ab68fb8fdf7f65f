/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Online models for judgement on the node: per series, O(1) work per sample
 * (a quantile query is O(bins)), fixed-size state owned by the caller, no
 * allocation, no I/O. Every update rejects NaN and infinite input, and
 * (but for the sketch) values above PM_MODEL_VALUE_MAX and times beyond
 * PM_MODEL_TIME_MAX, with -EINVAL and leaves the model as it was. Inputs are
 * classified before any arithmetic, so no model raises a floating-point
 * exception (invalid, division by zero, overflow) or returns NaN or an
 * infinity, whatever it is given.
 *
 *   sketch    mergeable quantile sketch with a relative-error guarantee
 *   tail      calibration of a statistic by the tail of its own history
 *   profile   a series' mean shape over a day or a week
 *   anomaly   one series' anomaly detector, built of the two above
 *   pod_model one pod's detectors
 */
#ifndef PODMETER_MODEL_H
#define PODMETER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_MODEL_VALUE_MAX 1e30 /* |x|: squares and float copies stay finite */
#define PM_MODEL_TIME_MAX  1e15 /* |t| in seconds: 3e7 years */
#define PM_Z_MAX	   1e6	/* z-scores are clamped to +-PM_Z_MAX */

/*
 * Quantile sketch (the DDSketch construction). A value x > 0 falls in bucket
 * k = ceil(log_gamma(x)), gamma = (1 + alpha) / (1 - alpha), covering
 * (gamma^(k-1), gamma^k]; a quantile reports its bucket's value
 * 2 gamma^k / (gamma + 1), within a factor alpha of every value in the bucket.
 * Values below PM_SKETCH_MIN_VALUE (and 0) are counted in a separate zero
 * bucket and reported as 0.
 *
 * Bounded memory: at most PM_SKETCH_BINS float weights over a window of
 * consecutive bucket keys, which follows the data. Only the bins between the
 * lowest and the highest non-empty one are held (allocated as the data
 * spread, a few spare either way), so a series that keeps to a factor of 2
 * holds about 50 bins, not 320: sketch__free() releases them. The window spans a factor of
 * gamma^PM_SKETCH_BINS between the smallest and the largest value kept:
 * about 2.8 decades at alpha = 0.01, 5.6 decades at alpha = 0.02. When the
 * data span more, the lowest buckets are collapsed into the window's lowest
 * bucket (high quantiles, the ones that size pods, stay exact).
 *
 * Guarantee: for rank q, the reported value v and the value x of that rank in
 * the (weighted) data satisfy |v - x| <= alpha * x whenever v is above
 * sketch__exact_above() (0 while nothing was collapsed); at or below it, v is
 * only an upper bound (folding moves values up, never down). Ranks are those
 * of the weights held: whole sample counts are exact in a float bucket (kept
 * below 2^23); a decay by other than a power of two rounds each weight to
 * float precision (2^-24 relative).
 *
 * Weights rather than counts, so a window can decay (sketch__decay()). When
 * one bucket would pass PM_SKETCH_WEIGHT_MAX the sketch decays itself by 1/2
 * first: after ~8 million samples in one bucket, older samples weigh half.
 */
#define PM_SKETCH_BINS	     320
#define PM_SKETCH_ALPHA	     0.01 /* general default */
#define PM_SKETCH_ALPHA_POD  0.02 /* per-pod sketches: 5.6 decades in 320 bins */
#define PM_SKETCH_ALPHA_MIN  1e-4
#define PM_SKETCH_ALPHA_MAX  0.2
#define PM_SKETCH_MIN_VALUE  1e-9	/* below: counted as zero */
#define PM_SKETCH_WEIGHT_MAX 8388608.0f /* 2^23: whole numbers stay exact in a float */
#define PM_SKETCH_PRUNE	     1e-3	/* a bucket decayed below this weight is dropped */

struct pm_sketch {
	double ln_gamma; /* log(gamma) */
	double inv_ln_gamma;
	double alpha;
	double count;	      /* total weight, zero bucket included */
	double zero;	      /* weight of values < PM_SKETCH_MIN_VALUE */
	int32_t off;	      /* bucket key of bins[0] */
	int32_t collapse_key; /* lowest keys folded into this one; INT32_MIN: none */
	uint16_t lo, hi;      /* first and last non-empty bin; lo > hi: none */
	uint16_t base, room;  /* bins base .. base + room - 1 are held in v[] */
	float *v;	      /* room weights, malloc'ed; NULL while room is 0 */
};

/*
 * -EINVAL unless PM_SKETCH_ALPHA_MIN <= @alpha <= PM_SKETCH_ALPHA_MAX. @s
 * holds nothing yet: sketch__init() of a sketch that holds bins leaks them.
 */
int sketch__init(struct pm_sketch *s, double alpha);
void sketch__reset(struct pm_sketch *s); /* empty, same alpha; its bins released */
void sketch__free(struct pm_sketch *s);	 /* its bins released; sketch__init() again to use it */
/* Bytes of bins @s holds now: at most PM_SKETCH_BINS floats. */
size_t sketch__bytes(const struct pm_sketch *s);
/* -EINVAL for x < 0, NaN or infinite; -ENOMEM, nothing learnt, when its bins cannot grow. */
int sketch__add(struct pm_sketch *s, double x);
/*
 * The value of rank q (0 = min, 0.5 = median, 1 = max) into @out: the first
 * bucket where the cumulative weight exceeds q * count (the last non-empty
 * one for q = 1). -ENODATA when empty, -EINVAL for q outside [0, 1].
 */
int sketch__quantile(const struct pm_sketch *s, double q, double *out);
double sketch__count(const struct pm_sketch *s);
/* See the guarantee above; 0 when nothing was collapsed. */
double sketch__exact_above(const struct pm_sketch *s);
/*
 * Add @src's weights to @dst: the sketch of the union. -EINVAL when the two
 * alphas differ. When a bucket of the sum would pass PM_SKETCH_WEIGHT_MAX,
 * both are halved first, so the proportions stay those of the union.
 * -ENOMEM when @dst's bins cannot grow: @dst is left unchanged.
 */
int sketch__merge(struct pm_sketch *dst, const struct pm_sketch *src);
/*
 * Multiply every weight by @factor in [0, 1] (a "with decay" window); buckets
 * left below PM_SKETCH_PRUNE are dropped. Quantiles are unchanged by the
 * factor itself. -EINVAL for a factor outside [0, 1].
 */
int sketch__decay(struct pm_sketch *s, double factor);

/*
 * Tail calibration (peaks over threshold): turns a statistic z >= 0 (a
 * robust |z|-score) into its surprise -log10 P(Z >= z), measured on the
 * statistic's own history rather than assumed. The excesses over
 * PM_TAIL_U (the 98% point of |Z| for Gaussian Z) are fitted with a
 * generalised Pareto law by moments on decayed sums, shape
 * gamma = (1 - m^2 / v) / 2 for their mean m and variance v, kept within
 * [0, PM_TAIL_GAMMA_MAX] (0: exponential), scale sigma = m (1 - gamma):
 *   P(Z >= z) = P(Z > u) (1 + gamma (z - u) / sigma)^(-1/gamma)
 * Each excess counts up to 10 m (winsorised at what no exponential tail
 * produces: an anomaly does not rewrite the tail at once). The surprise is
 * that of the next sample's predictive law, which allows for the fit being
 * made of few excesses (k = the decayed count above u: a Lomax, -ln P =
 * k ln(1 + l / k) for the fit's -ln P = l, k at least the prior's one), so
 * a young tail claims little.
 * Below u the surprise rises linearly to the prior's at u (1.7), never
 * more: values below u are common whatever the tail. A heavy-tailed series thus earns
 * lower surprises for the same z than a Gaussian one, and the same surprise
 * means about the same false-alarm rate on any series. The fit starts from
 * PM_TAIL_PRIOR samples of a Gaussian's tail, so a short history claims
 * nothing extreme. Measurements behind these choices: README, Anomalies.
 */
#define PM_TAIL_U	     2.3263
#define PM_TAIL_PRIOR	     50.0 /* samples: one excess above u */
#define PM_TAIL_GAMMA_MAX    0.45 /* the excess keeps a finite variance */
#define PM_TAIL_SURPRISE_MAX 30.0 /* -log10 p is clamped here */

/*
 * Floats: a pod keeps 48 of these (struct pm_pod_model), and their 24 bits
 * hold a surprise to far better than it is known; |z| <= PM_Z_MAX keeps the
 * sums finite.
 */
struct pm_tail {
	float n, nu;  /* decayed weights: samples, and those above u */
	float s1, s2; /* decayed sums of the (winsorised) excesses z - u and squares */
};

void tail__init(struct pm_tail *t);
/* -log10 P(Z >= @z) in [0, PM_TAIL_SURPRISE_MAX]; 0 for z <= 0 or NaN. */
double tail__surprise(const struct pm_tail *t, double z);
/* Learn @z >= 0, the history kept with weight @keep in [0, 1]. */
void tail__add(struct pm_tail *t, double z, double keep);

/*
 * Seasonal profile: the mean of a series at each phase of a period of
 * @period_s seconds, in @slots slots, read with linear interpolation between
 * slot centres and centred (less the mean of the slots seen), so a level
 * can be added to it. A sample updates the slot nearest its phase: the
 * plain mean of the slot's samples at first, then an EWMA whose memory is
 * PM_PROFILE_KEEP periods.
 */
#define PM_PROFILE_SLOTS_MAX 168
#define PM_PROFILE_KEEP	     4.0 /* periods: half-life of a slot's memory */

struct pm_profile {
	double period_s;
	double sum;		/* of the slots seen */
	double t0;		/* the first sample's time */
	double rate_step, rate; /* a slot's steady EWMA weight, for samples rate_step apart */
	uint32_t slots, nseen;
	bool started;
};

/*
 * A profile's slots, in arrays of its @slots the caller keeps (a daily and a
 * weekly profile differ in size) and passes with each call.
 */
struct pm_profile_slots {
	float *v;
	uint8_t *seen; /* samples in each slot (saturates) */
};

/* Where a time falls: the slots either side of its phase, and the nearer one. */
struct pm_profile_pos {
	uint32_t i, j, near;
	double frac; /* weight of j */
};

/*
 * -EINVAL unless 2 <= @slots <= PM_PROFILE_SLOTS_MAX and @period_s > 0 is
 * finite; @s's @slots entries are cleared.
 */
int profile__init(struct pm_profile *p, const struct pm_profile_slots *s, double period_s,
		  uint32_t slots);
/* Whether the slot nearest @t's phase has seen a sample. */
bool profile__knows(const struct pm_profile *p, const struct pm_profile_slots *s, double t);
/* The centred profile at @t (|@t| < PM_MODEL_TIME_MAX); 0 where it knows nothing. */
double profile__value(const struct pm_profile *p, const struct pm_profile_slots *s, double t);
/* Learn @x at @t, samples coming every @step_s seconds. */
void profile__add(struct pm_profile *p, const struct pm_profile_slots *s, double t, double x,
		  double step_s);
/* Periods of data seen since the first sample. */
double profile__age(const struct pm_profile *p, double t);
/* The same, with @t's position worked out once: -EINVAL for a @t out of range. */
int profile__pos(const struct pm_profile *p, double t, struct pm_profile_pos *pos);
bool profile__knows_at(const struct pm_profile_slots *s, const struct pm_profile_pos *pos);
double profile__value_at(const struct pm_profile *p, const struct pm_profile_slots *s,
			 const struct pm_profile_pos *pos);
void profile__add_at(struct pm_profile *p, const struct pm_profile_slots *s,
		     const struct pm_profile_pos *pos, double t, double x, double step_s);

/*
 * Anomaly detector for one series: scores each sample at its arrival with
 * what the samples before it say, then learns it. O(1) work and fixed state
 * (sizeof(struct pm_anomaly), under 4 KiB), no allocation.
 *
 * Baselines, three candidates run side by side (tracks): a level (EWMA of
 * PM_ANOMALY_LEVEL_HL typical intervals), and that level plus a daily or a
 * weekly profile. A profile's track is scored once the profile has seen two
 * periods and the track a period of residuals; it is used when its squared
 * error is the lowest and at most PM_ANOMALY_SEASON_GAIN of the plain
 * level's: the period is learnt from the data, among the two that human
 * activity imposes. Per track, e = x - baseline and the innovation
 * e - phi e' (phi: e's lag-1 autocorrelation).
 *
 * Statistics of each track, each turned into a robust z-score against its
 * own history (Huber centre and scale, PM_ANOMALY_MEMORY samples) and then
 * into a surprise by its own tail calibration (struct pm_tail):
 *   jump      the innovation: spikes, and the onset of any change
 *   dev       e itself
 *   mean      e averaged over 4, 16 and 64 samples: shifts down to a
 *             fraction of the noise, drifts, a broken period
 *   variance  log of the innovation's recent (16 samples) over its long
 *             mean square: changes of variance, of spike density
 *   energy    the same for e: a sustained departure from the pattern,
 *             whatever its sign
 *   far       x less the long-run level (PM_ANOMALY_MEMORY), over 16
 *             samples: a value the series has not been near for long
 * They are judged once the longest average has filled its window (64
 * samples) and the scales have 16 samples, a young scale's z read as a
 * Student t; the scales' floor is the resolution (cfg.resolution, or the
 * smallest step seen), less for an average as its spread is less. A
 * sample's surprise is the largest, less log10 of their number (a
 * Bonferroni bound), from the track in use; its score is surprise / 10 in
 * [0, 1]: score s is a false-alarm probability of about 10^(-10 s) per
 * sample, 0.5 at 1e-5, whatever the series' scale and noise.
 *
 * Events: a score of PM_ANOMALY_HOLD_FLOOR or more (1 in 50 after the
 * Bonferroni bound) starts an event, and a row within the hold time of the event's
 * highest score belongs to it. A row of an event that does not beat its
 * highest score is held: its score is capped just below the floor, so that
 * whatever threshold above the floor alarms are raised at, an event raises
 * them once. An alarm is the first row of an event with a score of
 * cfg.alarm or more; the event's other rows are held (their score stays
 * what it is where it beats the event's highest so far).
 */
enum pm_anomaly_kind {
	PM_ANOMALY_NONE,
	PM_ANOMALY_JUMP,     /* a spike, or the first step of a change */
	PM_ANOMALY_LEVEL,    /* the level moved */
	PM_ANOMALY_DRIFT,    /* the level moved slowly, or far from its long-run value */
	PM_ANOMALY_VARIANCE, /* noisier or quieter */
	PM_ANOMALY_PATTERN,  /* away from the daily or weekly pattern */
	PM_ANOMALY_KINDS,
};

#define PM_ANOMALY_STATS       8
#define PM_ANOMALY_MEANS       3      /* e averaged over 4, 16, 64 samples */
#define PM_ANOMALY_LEVEL_HL    256.0  /* typical intervals */
#define PM_ANOMALY_MEMORY      2048.0 /* samples: scales and tails */
#define PM_ANOMALY_WARMUP      96     /* samples scored 0: the longest average and its scale */
#define PM_ANOMALY_ALARM       0.5    /* 1e-5 */
#define PM_ANOMALY_HOLD_FLOOR  0.1699 /* -log10(1 - PM_TAIL_Q) / 10 */
#define PM_ANOMALY_HOLD_AUTO   (-1.0) /* hold_s: PM_ANOMALY_LEVEL_HL typical intervals */
#define PM_ANOMALY_SEASON_GAIN 0.5
#define PM_ANOMALY_DAY_S       86400.0
#define PM_ANOMALY_DAY_SLOTS   96
#define PM_ANOMALY_WEEK_SLOTS  168
#define PM_ANOMALY_TRACKS      3 /* no season, daily, weekly */

struct pm_anomaly_cfg {
	double alarm;	   /* score of an alarm, [PM_ANOMALY_HOLD_FLOOR, 1] */
	double hold_s;	   /* seconds an event holds; 0: none; PM_ANOMALY_HOLD_AUTO */
	double resolution; /* floor of the scales, the series' units; 0: the smallest step seen */
	double day_s;	   /* the daily period (PM_ANOMALY_DAY_S; a week is 7); 0: no seasons */
};

struct pm_anomaly_result {
	double score;		   /* [0, 1] */
	double surprise;	   /* -log10 of the false-alarm probability */
	double expected;	   /* the baseline the sample was judged against */
	enum pm_anomaly_kind kind; /* what scored highest */
	int dir;		   /* +1 above the baseline, -1 below, 0 none */
	bool warmup;		   /* too early to judge: score 0 */
	bool alarm;		   /* a new alarm */
	bool held; /* part of an event that alarmed or scored higher (then capped) */
};

/* Floats, as struct pm_tail: statistics stay within 4 PM_MODEL_VALUE_MAX. */
struct anomaly_norm {
	float c, d; /* centre, mean clipped absolute deviation */
};

/* One candidate baseline, its residual's statistics and their calibration. */
struct anomaly_track {
	double level;	      /* EWMA of x less the candidate's profile */
	double far, far_mean; /* long-run level; x less it, averaged */
	double err;	      /* EWMA of the squared residual */
	double e, phi_num, phi_den;
	double mean[PM_ANOMALY_MEANS];
	double v_short, v_long, e2_short, e2_long;
	uint64_t n; /* residuals scored */
	struct anomaly_norm norm[PM_ANOMALY_STATS];
	struct pm_tail tail[PM_ANOMALY_STATS];
};

struct pm_anomaly {
	struct pm_anomaly_cfg cfg;
	uint64_t n;
	double t, step;		     /* last time; typical interval */
	double x;		     /* the last sample */
	double res;		     /* resolution in use */
	int season;		     /* the track in use */
	double event_t, event_score; /* the last event's highest score, and when */
	bool event, event_alarmed;
	struct anomaly_track track[PM_ANOMALY_TRACKS];
	struct pm_profile day, week;
	uint8_t day_seen[PM_ANOMALY_DAY_SLOTS], week_seen[PM_ANOMALY_WEEK_SLOTS];
	float day_v[PM_ANOMALY_DAY_SLOTS], week_v[PM_ANOMALY_WEEK_SLOTS];
};

void anomaly__defaults(struct pm_anomaly_cfg *cfg);
/* -EINVAL for a configuration outside the ranges above. */
int anomaly__init(struct pm_anomaly *a, const struct pm_anomaly_cfg *cfg);
/*
 * Score (@t seconds, @x) against the samples so far, then learn it; @res
 * filled. @t may repeat the last sample's (one more sample at that time)
 * but not go back. -EINVAL, and nothing learnt, for NaN or infinite input,
 * |@x| above PM_MODEL_VALUE_MAX, |@t| >= PM_MODEL_TIME_MAX or @t before the
 * last.
 */
int anomaly__update(struct pm_anomaly *a, double t, double x, struct pm_anomaly_result *res);
/* The seconds an event holds now (the typical interval is learnt). */
double anomaly__hold_s(const struct pm_anomaly *a);
const char *anomaly__kind_name(enum pm_anomaly_kind k);

/*
 * One pod's models: an anomaly detector on its cost rate and one on its
 * CPU (cores), whose daily and weekly patterns it learns. Quantile sketches
 * are kept per container, where right-sizing needs them (the detector's).
 */
#define PM_POD_CPU_RESOLUTION  1e-4   /* cores */
#define PM_POD_MEM_RESOLUTION  4096.0 /* bytes */
#define PM_POD_COST_RESOLUTION 1e-6   /* per hour */

struct pm_pod_model {
	struct pm_anomaly cost, cpu;
};

/* @day_s: the daily period (PM_ANOMALY_DAY_S); -EINVAL when the detector refuses it. */
int pod_model__init(struct pm_pod_model *m, double day_s);
/*
 * One tick of one pod: @t seconds, CPU in cores, cost rate per hour; each
 * detector's result into @cost and @cpu. -EINVAL, and nothing updated, when
 * an input is negative, NaN, infinite or above PM_MODEL_VALUE_MAX,
 * |@t| >= PM_MODEL_TIME_MAX, or @t is before the last tick's.
 */
int pod_model__update(struct pm_pod_model *m, double t, double cpu, double cost,
		      struct pm_anomaly_result *cost_res, struct pm_anomaly_result *cpu_res);

#endif /* PODMETER_MODEL_H */
