/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A mergeable distribution of CPU usage, in cores: weights in exponential
 * buckets, as VPA keeps its CPU histograms, with DDSketch's mapping so that
 * every bucket has the same relative width. A value x >= PM_DIST_MIN falls in
 * key k = ceil(log(x) / log(gamma)), gamma = (1 + alpha) / (1 - alpha),
 * covering (gamma^(k-1), gamma^k]; a quantile answers the bucket's value
 * 2 gamma^k / (gamma + 1), within alpha of every value in it. Values below
 * PM_DIST_MIN weigh in a zero bucket and answer 0; values above PM_DIST_MAX
 * go to the top bucket.
 *
 * The agent fills one per container and window (a sample a tick); the
 * reconciler adds them up across nodes and windows, with decay. Adding is
 * exact: the merged distribution is the distribution of the union, so its
 * quantiles are the union's within alpha.
 *
 * The buckets are fixed (alpha, PM_DIST_MIN), unlike the agent's model
 * sketch, whose window of keys follows the data: two nodes' distributions
 * must share one set of buckets to add up.
 */
#ifndef PODMETER_DIST_H
#define PODMETER_DIST_H

#include <stddef.h>
#include <stdint.h>

#define PM_DIST_ALPHA 0.02    /* relative accuracy */
#define PM_DIST_MIN   0.001   /* cores: one millicore; below counts as zero */
#define PM_DIST_MAX   10000.0 /* cores: above goes to the top bucket */
/* keys of PM_DIST_MIN and PM_DIST_MAX at PM_DIST_ALPHA */
#define PM_DIST_KEY_MIN (-172)
#define PM_DIST_KEY_MAX 231
#define PM_DIST_KEYS	(PM_DIST_KEY_MAX - PM_DIST_KEY_MIN + 1)

struct pm_dist {
	double zero;	/* weight below PM_DIST_MIN */
	double total;	/* zero included */
	int32_t lo, hi; /* keys held in w[]: lo..hi; lo > hi when none */
	double *w;	/* hi - lo + 1 weights, malloc'ed */
};

void dist__init(struct pm_dist *d);
void dist__free(struct pm_dist *d);
/* The key of @x (x >= PM_DIST_MIN), clamped to [PM_DIST_KEY_MIN, PM_DIST_KEY_MAX]. */
int32_t dist__key(double x);
/* The value a quantile in bucket @key answers. */
double dist__value(int32_t key);
/* Add @weight (> 0) at @x (>= 0, finite). 0, -EINVAL, -ENOMEM. */
int dist__add(struct pm_dist *d, double x, double weight);
/* Add @weight at bucket @key, or at the zero bucket for key INT32_MIN. 0, -EINVAL, -ENOMEM. */
int dist__add_key(struct pm_dist *d, int32_t key, double weight);
/* @dst += @factor x @src. 0, -EINVAL (factor < 0 or not finite), -ENOMEM. */
int dist__merge(struct pm_dist *dst, const struct pm_dist *src, double factor);
/* Multiply every weight by @factor (> 0). */
void dist__scale(struct pm_dist *d, double factor);
/*
 * The value of rank @q in [0, 1]: the first bucket where the cumulative
 * weight reaches q x total (the highest non-empty one for q = 1).
 * 0, -ENODATA (no weight), -EINVAL.
 */
int dist__quantile(const struct pm_dist *d, double q, double *out);

/*
 * The store's form: little-endian, versioned, the zero weight and the
 * non-empty range of keys as doubles. dist__encode returns a malloc'ed
 * buffer; dist__decode refuses what it did not write (-EINVAL).
 */
int dist__encode(const struct pm_dist *d, void **out, size_t *len);
int dist__decode(struct pm_dist *d, const void *buf, size_t len);

#endif /* PODMETER_DIST_H */
