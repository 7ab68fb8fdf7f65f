// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Quantile sketch with relative accuracy alpha in fixed memory: logarithmic
 * buckets (the DDSketch construction) over a sliding window of PM_SKETCH_BINS
 * bucket keys that collapses its lowest buckets when the data span more.
 * The guarantee and its limits are in include/podmeter/model.h.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <podmeter/model.h>

#define NO_COLLAPSE INT32_MIN

static bool sketch_has_bins(const struct pm_sketch *s)
{
	return s->lo <= s->hi;
}

int sketch__init(struct pm_sketch *s, double alpha)
{
	if (!isfinite(alpha) || alpha < PM_SKETCH_ALPHA_MIN || alpha > PM_SKETCH_ALPHA_MAX)
		return -EINVAL;
	s->alpha = alpha;
	s->ln_gamma = log1p(2 * alpha / (1 - alpha));
	s->inv_ln_gamma = 1 / s->ln_gamma;
	sketch__reset(s);
	return 0;
}

void sketch__reset(struct pm_sketch *s)
{
	s->count = 0;
	s->zero = 0;
	s->off = 0;
	s->collapse_key = NO_COLLAPSE;
	s->lo = PM_SKETCH_BINS;
	s->hi = 0;
	memset(s->bins, 0, sizeof(s->bins));
}

static int32_t sketch_key(const struct pm_sketch *s, double x)
{
	/* x >= PM_SKETCH_MIN_VALUE and finite: |key| < 2^23 for any allowed alpha */
	return (int32_t)ceil(log(x) * s->inv_ln_gamma);
}

/* exp(@e) without overflow: the top bucket's bounds may pass DBL_MAX by up to alpha */
static double sketch_exp(double e)
{
	return e < 709.78 ? exp(e) : DBL_MAX; /* log(DBL_MAX) = 709.7827 */
}

/* The value reported for bucket @key: within alpha of all its values. */
static double sketch_value(const struct pm_sketch *s, int32_t key)
{
	return sketch_exp(key * s->ln_gamma + log(2 / (exp(s->ln_gamma) + 1)));
}

static void sketch_note_collapse(struct pm_sketch *s, int32_t key)
{
	if (s->collapse_key == NO_COLLAPSE || key > s->collapse_key)
		s->collapse_key = key;
}

/*
 * Move the window so bins[0] holds key @new_off; buckets below it are folded
 * into bins[0]. O(PM_SKETCH_BINS), on the stack: happens only when the data
 * leave the window.
 */
static void sketch_move(struct pm_sketch *s, int32_t new_off)
{
	float tmp[PM_SKETCH_BINS];
	int64_t delta = (int64_t)new_off - s->off;
	int lo = PM_SKETCH_BINS, hi = -1, i;

	memset(tmp, 0, sizeof(tmp));
	for (i = s->lo; i <= s->hi; i++) {
		int64_t j = i - delta;

		if (s->bins[i] == 0)
			continue;
		if (j < 0) {
			j = 0;
			sketch_note_collapse(s, new_off);
		}
		/* callers never move the top of the data out of the window */
		tmp[j] += s->bins[i];
		if (j < lo)
			lo = (int)j;
		if (j > hi)
			hi = (int)j;
	}
	memcpy(s->bins, tmp, sizeof(tmp));
	s->off = new_off;
	s->lo = (uint16_t)lo;
	s->hi = (uint16_t)(hi < 0 ? 0 : hi);
}

/* The bin for @key, moving or collapsing the window when it is outside. */
static int sketch_bin(struct pm_sketch *s, int32_t key)
{
	int64_t klo, khi, span;

	if (!sketch_has_bins(s)) {
		s->off = key - PM_SKETCH_BINS / 2;
		return PM_SKETCH_BINS / 2;
	}
	if (key >= s->off && key < (int64_t)s->off + PM_SKETCH_BINS)
		return key - s->off;
	klo = s->off + s->lo;
	khi = s->off + s->hi;
	if (key < klo)
		klo = key;
	if (key > khi)
		khi = key;
	span = khi - klo + 1;
	if (span <= PM_SKETCH_BINS) {
		/* everything fits: centre it, leaving room both ways */
		sketch_move(s, (int32_t)(klo - (PM_SKETCH_BINS - span) / 2));
		return key - s->off;
	}
	if (key > s->off) {
		/* a new high: keep it, collapse the lowest buckets */
		sketch_move(s, key - PM_SKETCH_BINS + 1);
		return PM_SKETCH_BINS - 1;
	}
	/* a new low that does not fit: into the lowest bucket */
	sketch_note_collapse(s, s->off);
	return 0;
}

static void sketch_put(struct pm_sketch *s, int i, float w)
{
	s->bins[i] += w;
	if (!sketch_has_bins(s)) {
		s->lo = s->hi = (uint16_t)i;
	} else {
		if (i < s->lo)
			s->lo = (uint16_t)i;
		if (i > s->hi)
			s->hi = (uint16_t)i;
	}
	s->count += w;
}

static float sketch_max_bin(const struct pm_sketch *s)
{
	float m = (float)s->zero;
	int i;

	for (i = s->lo; i <= s->hi; i++)
		if (s->bins[i] > m)
			m = s->bins[i];
	return m;
}

static void sketch_scale(struct pm_sketch *s, float f)
{
	double sum;
	int i, lo = PM_SKETCH_BINS, hi = -1;

	s->zero *= f;
	if (s->zero < PM_SKETCH_PRUNE)
		s->zero = 0;
	sum = s->zero;
	for (i = s->lo; i <= s->hi; i++) {
		s->bins[i] *= f;
		if (s->bins[i] < PM_SKETCH_PRUNE)
			s->bins[i] = 0;
		if (s->bins[i] == 0)
			continue;
		sum += s->bins[i];
		if (i < lo)
			lo = i;
		hi = i;
	}
	s->count = sum;
	if (hi < 0) {
		s->lo = PM_SKETCH_BINS;
		s->hi = 0;
		s->collapse_key = NO_COLLAPSE;
	} else {
		s->lo = (uint16_t)lo;
		s->hi = (uint16_t)hi;
	}
}

int sketch__add(struct pm_sketch *s, double x)
{
	int i;

	if (!isfinite(x) || x < 0)
		return -EINVAL;
	if (x < PM_SKETCH_MIN_VALUE) {
		if (s->zero + 1 > PM_SKETCH_WEIGHT_MAX)
			sketch_scale(s, 0.5f);
		s->zero += 1;
		s->count += 1;
		return 0;
	}
	i = sketch_bin(s, sketch_key(s, x));
	if (s->bins[i] + 1 > PM_SKETCH_WEIGHT_MAX)
		sketch_scale(s, 0.5f);
	sketch_put(s, i, 1);
	return 0;
}

int sketch__quantile(const struct pm_sketch *s, double q, double *out)
{
	double rank, cum;
	int i;

	if (isnan(q) || q < 0 || q > 1)
		return -EINVAL;
	if (s->count <= 0)
		return -ENODATA;
	/* the same sum the rank is compared with: no drift between count and bins */
	cum = s->zero;
	for (i = s->lo; i <= s->hi; i++)
		cum += s->bins[i];
	rank = q * cum;
	cum = s->zero;
	if (cum > rank || !sketch_has_bins(s)) {
		*out = 0;
		return 0;
	}
	for (i = s->lo; i < s->hi; i++) {
		cum += s->bins[i];
		if (cum > rank)
			break;
	}
	*out = sketch_value(s, s->off + i);
	return 0;
}

double sketch__count(const struct pm_sketch *s)
{
	return s->count;
}

double sketch__exact_above(const struct pm_sketch *s)
{
	if (s->collapse_key == NO_COLLAPSE)
		return 0;
	return sketch_exp(s->collapse_key * s->ln_gamma);
}

int sketch__merge(struct pm_sketch *dst, const struct pm_sketch *src)
{
	float f = 1;
	int i;

	if (src->ln_gamma != dst->ln_gamma)
		return -EINVAL;
	if (dst == src) {
		/* every weight doubles; when that would overflow, halving first undoes it */
		if (2 * sketch_max_bin(dst) <= PM_SKETCH_WEIGHT_MAX)
			sketch_scale(dst, 2);
		return 0;
	}
	while (sketch_max_bin(dst) + f * sketch_max_bin(src) > PM_SKETCH_WEIGHT_MAX) {
		sketch_scale(dst, 0.5f);
		f *= 0.5f;
	}
	dst->zero += f * src->zero;
	dst->count += f * src->zero;
	for (i = src->lo; i <= src->hi; i++) {
		int32_t key = src->off + i;

		if (src->bins[i] == 0)
			continue;
		sketch_put(dst, sketch_bin(dst, key), f * src->bins[i]);
	}
	if (src->collapse_key != NO_COLLAPSE)
		sketch_note_collapse(dst, src->collapse_key);
	return 0;
}

int sketch__decay(struct pm_sketch *s, double factor)
{
	if (isnan(factor) || factor < 0 || factor > 1)
		return -EINVAL;
	sketch_scale(s, (float)factor);
	return 0;
}
