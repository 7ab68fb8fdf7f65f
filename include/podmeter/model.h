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
 *   ewma      time-decayed mean and variance, and a robust z-score
 *   change    mean-shift detection: two-sided CUSUM or Page-Hinkley
 *   seasonal  additive Holt-Winters baseline over a few slots (hours of a day)
 *   pod_model one pod's bundle of the above
 */
#ifndef PODMETER_MODEL_H
#define PODMETER_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define PM_MODEL_VALUE_MAX	1e30	/* |x|: squares and float copies stay finite */
#define PM_MODEL_TIME_MAX	1e15	/* |t| in seconds: 3e7 years */

/*
 * Quantile sketch (the DDSketch construction). A value x > 0 falls in bucket
 * k = ceil(log_gamma(x)), gamma = (1 + alpha) / (1 - alpha), covering
 * (gamma^(k-1), gamma^k]; a quantile reports its bucket's value
 * 2 gamma^k / (gamma + 1), within a factor alpha of every value in the bucket.
 * Values below PM_SKETCH_MIN_VALUE (and 0) are counted in a separate zero
 * bucket and reported as 0.
 *
 * Fixed memory: PM_SKETCH_BINS float weights over a window of consecutive
 * bucket keys, which follows the data. The window spans a factor of
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
#define PM_SKETCH_BINS		320
#define PM_SKETCH_ALPHA		0.01	/* general default */
#define PM_SKETCH_ALPHA_POD	0.02	/* per-pod sketches: 5.6 decades in 320 bins */
#define PM_SKETCH_ALPHA_MIN	1e-4
#define PM_SKETCH_ALPHA_MAX	0.2
#define PM_SKETCH_MIN_VALUE	1e-9	/* below: counted as zero */
#define PM_SKETCH_WEIGHT_MAX	8388608.0f	/* 2^23: whole numbers stay exact in a float */
#define PM_SKETCH_PRUNE		1e-3	/* a bucket decayed below this weight is dropped */

struct pm_sketch {
	double ln_gamma;	/* log(gamma) */
	double inv_ln_gamma;
	double alpha;
	double count;		/* total weight, zero bucket included */
	double zero;		/* weight of values < PM_SKETCH_MIN_VALUE */
	int32_t off;		/* bucket key of bins[0] */
	int32_t collapse_key;	/* lowest keys folded into this one; INT32_MIN: none */
	uint16_t lo, hi;	/* first and last non-empty bin; lo > hi: none */
	float bins[PM_SKETCH_BINS];
};

/* -EINVAL unless PM_SKETCH_ALPHA_MIN <= @alpha <= PM_SKETCH_ALPHA_MAX. */
int sketch__init(struct pm_sketch *s, double alpha);
void sketch__reset(struct pm_sketch *s);	/* empty, same alpha */
/* -EINVAL for x < 0, NaN or infinite. */
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
 */
int sketch__merge(struct pm_sketch *dst, const struct pm_sketch *src);
/*
 * Multiply every weight by @factor in [0, 1] (a "with decay" window); buckets
 * left below PM_SKETCH_PRUNE are dropped. Quantiles are unchanged by the
 * factor itself. -EINVAL for a factor outside [0, 1].
 */
int sketch__decay(struct pm_sketch *s, double factor);

/*
 * EWMA: mean and variance decayed in time, with a half-life in seconds: a
 * sample dt seconds after the last one gets weight a = 1 - 2^(-dt / half_life),
 * so missed ticks are accounted for; at a steady tick this is the classic
 * per-sample alpha. While 1/n > a, the weight is 1/n instead: the first
 * samples give the plain running mean and variance, not a start biased
 * towards the first sample. The variance is the usual exponentially weighted
 * one, (1 - a) (var + a d^2): for i.i.d. data its mean is var * 2(1-a)/(2-a),
 * 0.03% low at a half-life of 1000 samples; no correction is applied.
 *
 * The robust z-score uses a second pair, which outliers barely move: a
 * center and a scale updated, after a warm-up of PM_EWMA_WARMUP samples,
 * with residuals clipped to +-PM_EWMA_CLIP scales (Huber); the scale is the
 * EWMA of the clipped absolute residual times the factor that makes it the
 * standard deviation for Gaussian data. A level shift inflates the scale
 * geometrically until the center follows: after a shift of 100 sigma the
 * center is back within 1 sigma in about 8 half-lives (the plain mean: 7).
 * The scale never goes below min_scale (set it to the series' resolution),
 * so a constant series stays adaptable.
 */
#define PM_EWMA_WARMUP		16
#define PM_EWMA_HALF_LIFE_MIN	1e-3	/* seconds */
#define PM_EWMA_HALF_LIFE_MAX	1e12
#define PM_EWMA_CLIP		3.0
#define PM_Z_MAX		1e6	/* scores are clamped to +-PM_Z_MAX */

struct pm_ewma {
	double half_life;	/* seconds */
	double min_scale;
	double t;		/* time of the last sample */
	double dt, a;		/* last interval and its weight: no expm1() at a steady tick */
	double mean, var;
	double center, absdev;	/* robust pair */
	uint64_t n;
};

/* -EINVAL unless @half_life_s is within the bounds above and @min_scale >= 0. */
int ewma__init(struct pm_ewma *e, double half_life_s, double min_scale);
/*
 * Add @x observed at @t seconds (any monotonic clock). -EINVAL for NaN or
 * infinite input and for a @t not after the last sample's.
 */
int ewma__update(struct pm_ewma *e, double t, double x);
double ewma__mean(const struct pm_ewma *e);
double ewma__var(const struct pm_ewma *e);
double ewma__std(const struct pm_ewma *e);
double ewma__robust_scale(const struct pm_ewma *e);	/* sigma-equivalent */
/*
 * Robust z of @x against the history: (x - center) / scale, clamped to
 * +-PM_Z_MAX. Score a sample before adding it. 0 during the warm-up and
 * for a NaN or infinite @x.
 */
double ewma__score(const struct pm_ewma *e, double x);

/*
 * Change detection: a shift of the mean by a few sigma, up or down. The
 * first @warmup samples after init or an alarm learn the reference mean and
 * sigma; after that, each sample's increment in sigma units feeds two
 * one-sided sums, S+ = max(0, S+ + inc - k) and S- likewise downwards, and a
 * sum above h raises the alarm:
 *   CUSUM         inc = (x - mu0) / sigma. mu0 and sigma keep learning from
 *                 samples taken while both sums are 0 (no excursion under way).
 *   Page-Hinkley  inc = (x - mean of every sample since the reset) / sigma;
 *                 k is the tolerance delta, h the threshold lambda.
 * After an alarm the detector resets and learns the new level.
 * At an alarm, the onset and the shift are estimated by likelihood ratio
 * over a few candidate windows ending at the alarm: the whole excursion (the
 * N samples since the alarming sum left 0: the classic estimate
 * sigma * (k + S / N)) and the last 1 .. PM_CHANGE_RECENT samples within it;
 * the window with the largest (sum of x - mean)^2 / length wins, its mean is
 * the shift. The short windows matter for large jumps, where the excursion
 * often began with a few in-control samples that would dilute the estimate.
 */
enum pm_change_method {
	PM_CHANGE_CUSUM,
	PM_CHANGE_PH,
};

struct pm_change_cfg {
	enum pm_change_method method;
	double k;		/* allowance / tolerance, in sigma */
	double h;		/* threshold, in sigma */
	uint32_t warmup;	/* samples, >= 2 */
	double min_sigma;	/* floor of sigma, in the series' units */
};

/*
 * k = 0.5, h = 20: ~1e9 in-control samples between false alarms (Siegmund's
 * approximation), a 1-sigma shift found in ~40 samples, 2 sigma in ~14.
 */
#define PM_CHANGE_K		0.5
#define PM_CHANGE_H		20.0
#define PM_CHANGE_WARMUP	100	/* 32 gives false alarms from a poor first sigma */
#define PM_CHANGE_RECENT	8

struct pm_change_alarm {
	int dir;		/* +1 up, -1 down */
	double shift;		/* estimated shift of the mean, signed, series' units */
	double before;		/* reference mean before the shift */
	uint32_t since;		/* onset: the last this many samples, the alarm's included */
};

struct pm_change {
	struct pm_change_cfg cfg;
	double ref_mean, ref_m2;	/* reference, Welford */
	double run_mean;		/* every sample since the reset (Page-Hinkley) */
	double s_up, s_dn;
	double d_up, d_dn;		/* sum of x - mean while the sum is above 0 */
	uint64_t n_ref, n;
	uint32_t n_up, n_dn;
	float recent[PM_CHANGE_RECENT];	/* last x - mean, a ring */
	uint32_t head;
};

/* -EINVAL for k < 0, h <= 0, warmup < 2, min_sigma < 0 or an unknown method. */
int change__init(struct pm_change *c, const struct pm_change_cfg *cfg);
void change__reset(struct pm_change *c);
/*
 * Add @x: 1 and @alarm filled (when not NULL) on an alarm, after which the
 * detector has reset; 0 otherwise; -EINVAL for NaN or infinite @x.
 */
int change__update(struct pm_change *c, double x, struct pm_change_alarm *alarm);
bool change__warming(const struct pm_change *c);

/*
 * Seasonal baseline: additive Holt-Winters over @slots slots of @slot_s
 * seconds (24 x 3600: hours of the day). Samples are averaged per slot; each
 * closed slot updates, with its mean y and its slot s,
 *   level'  = alpha (y - season[s]) + (1 - alpha) (level + trend)
 *   trend   = beta (level' - level) + (1 - beta) trend
 *   season[s] = gamma (y - level') + (1 - gamma) season[s]
 * The first full period sets the level (its mean) and the season (each slot's
 * deviation from it). Slots without samples advance the level by the trend
 * and leave their season as it was. expected(t) = level + h trend +
 * season[slot(t)], h the slots from the last closed one; before the first
 * period is over, the mean so far.
 */
#define PM_SEASONAL_SLOTS_MAX	48
#define PM_SEASONAL_SLOT_MIN_S	1e-3
#define PM_SEASONAL_SLOT_MAX_S	1e9

struct pm_seasonal_cfg {
	uint32_t slots;		/* 2 .. PM_SEASONAL_SLOTS_MAX */
	double slot_s;		/* PM_SEASONAL_SLOT_MIN_S .. PM_SEASONAL_SLOT_MAX_S */
	double alpha, beta, gamma;	/* each in [0, 1] */
};

#define PM_SEASONAL_ALPHA	0.1
#define PM_SEASONAL_BETA	0.01
#define PM_SEASONAL_GAMMA	0.3

struct pm_seasonal {
	struct pm_seasonal_cfg cfg;
	double level, trend;
	double acc;		/* sum of the open slot's samples */
	int64_t cur;		/* open slot, absolute (floor(t / slot_s)) */
	int64_t last;		/* last closed slot, absolute */
	int64_t first;		/* first slot with a sample, absolute */
	uint64_t seen;		/* first period: slots with samples, one bit each */
	uint32_t acc_n;
	uint32_t closed;	/* slots closed so far (saturates) */
	bool ready;		/* first period done */
	float season[PM_SEASONAL_SLOTS_MAX];
};

/* -EINVAL for a configuration outside the ranges above. */
int seasonal__init(struct pm_seasonal *s, const struct pm_seasonal_cfg *cfg);
/*
 * Add @x at @t seconds. -EINVAL for NaN or infinite input and for a @t in a
 * slot before the open one.
 */
int seasonal__update(struct pm_seasonal *s, double t, double x);
/* -ENODATA before any sample. */
int seasonal__expected(const struct pm_seasonal *s, double t, double *out);
/* x - expected(t); 0 before any sample or for NaN/infinite input. */
double seasonal__residual(const struct pm_seasonal *s, double t, double x);
bool seasonal__ready(const struct pm_seasonal *s);

/*
 * One pod's models: EWMAs of CPU (cores) and memory (bytes), a change
 * detector on its cost rate, and a seasonal baseline of CPU. Quantile
 * sketches are kept per container, where right-sizing needs them (the
 * detector's), so a pod does not carry two more it would not use.
 * Defaults below; re-init a member to change its settings.
 */
#define PM_POD_EWMA_HALF_LIFE_S	600.0
#define PM_POD_CPU_RESOLUTION	1e-4	/* cores */
#define PM_POD_MEM_RESOLUTION	4096.0	/* bytes */
#define PM_POD_COST_RESOLUTION	1e-6	/* per hour */
#define PM_POD_SLOTS		24
#define PM_POD_SLOT_S		3600.0

struct pm_pod_model {
	struct pm_ewma cpu_ewma, mem_ewma;
	struct pm_change cost;
	struct pm_seasonal cpu_season;
};

void pod_model__init(struct pm_pod_model *m);
/*
 * One tick of one pod: @t seconds, CPU in cores, memory in bytes, cost rate.
 * 1 when the cost rate's detector raised an alarm (@alarm filled when not
 * NULL), 0 otherwise; -EINVAL, and nothing updated, when an input is
 * negative, NaN, infinite or above PM_MODEL_VALUE_MAX, |@t| >= PM_MODEL_TIME_MAX,
 * or @t is not after the last tick's.
 */
int pod_model__update(struct pm_pod_model *m, double t, double cpu, double mem, double cost,
		      struct pm_change_alarm *alarm);

#endif /* PODMETER_MODEL_H */
