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
#include <stdlib.h>
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
	s->v = NULL;
	s->room = 0;
	sketch__reset(s);
	return 0;
}

void sketch__free(struct pm_sketch *s)
{
	free(s->v);
	s->v = NULL;
	s->base = 0;
	s->room = 0;
}

void sketch__reset(struct pm_sketch *s)
{
	sketch__free(s);
	s->count = 0;
	s->zero = 0;
	s->off = 0;
	s->collapse_key = NO_COLLAPSE;
	s->lo = PM_SKETCH_BINS;
	s->hi = 0;
}

size_t sketch__bytes(const struct pm_sketch *s)
{
	return s->room * sizeof(*s->v);
}

/* The weight of bin @i: 0 outside the bins held. */
static float sketch_w(const struct pm_sketch *s, int i)
{
	unsigned int k = (unsigned int)(i - s->base);

	return k < s->room ? s->v[k] : 0;
}

/*
 * Room to hold bins @lo .. @hi of @tmp, or of the bins held now when @tmp is
 * NULL: a new array with some spare beyond them (a quarter, at least 8), so
 * that a series spreading bin by bin grows its array a few times only. 0,
 * or -ENOMEM with nothing changed.
 */
static int sketch_regrow(struct pm_sketch *s, int lo, int hi, const float *tmp)
{
	int pad = 8 + (hi - lo + 1) / 4, i;
	float *v;

	lo = lo - pad < 0 ? 0 : lo - pad;
	hi = hi + pad >= PM_SKETCH_BINS ? PM_SKETCH_BINS - 1 : hi + pad;
	v = calloc(hi - lo + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = lo; i <= hi; i++)
		v[i - lo] = tmp ? tmp[i] : sketch_w(s, i);
	free(s->v);
	s->v = v;
	s->base = (uint16_t)lo;
	s->room = (uint16_t)(hi - lo + 1);
	return 0;
}

/* Bin @i held (the bins held now kept): 0, or -ENOMEM with nothing changed. */
static int sketch_hold(struct pm_sketch *s, int i)
{
	int lo = i, hi = i, top = s->base + s->room - 1;

	if (s->room && i >= s->base && i <= top)
		return 0;
	if (s->room) {
		lo = i < s->base ? i : s->base;
		hi = i > top ? i : top;
	}
	return sketch_regrow(s, lo, hi, NULL);
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
 * into bins[0]. Bin @want (of the moved window) is held afterwards.
 * O(PM_SKETCH_BINS), on the stack: happens only when the data leave the
 * window. 0, or -ENOMEM with nothing changed.
 */
static int sketch_move(struct pm_sketch *s, int32_t new_off, int want)
{
	float tmp[PM_SKETCH_BINS];
	int64_t delta = (int64_t)new_off - s->off;
	int lo = PM_SKETCH_BINS, hi = -1, i;
	bool collapsed = false;

	memset(tmp, 0, sizeof(tmp));
	for (i = s->lo; i <= s->hi; i++) {
		int64_t j = i - delta;
		float w = sketch_w(s, i);

		if (w == 0)
			continue;
		if (j < 0) {
			j = 0;
			collapsed = true;
		}
		/* callers never move the top of the data out of the window */
		tmp[j] += w;
		if (j < lo)
			lo = (int)j;
		if (j > hi)
			hi = (int)j;
	}
	if (s->room == PM_SKETCH_BINS) {
		memcpy(s->v, tmp, sizeof(tmp)); /* all held: in place */
	} else if (sketch_regrow(s, lo < want ? lo : want, hi > want ? hi : want, tmp)) {
		return -ENOMEM;
	}
	if (collapsed)
		sketch_note_collapse(s, new_off);
	s->off = new_off;
	s->lo = (uint16_t)lo;
	s->hi = (uint16_t)(hi < 0 ? 0 : hi);
	return 0;
}

/*
 * The bin for @key into *@i, held, moving or collapsing the window when it
 * is outside: 0, or -ENOMEM with nothing changed.
 */
static int sketch_bin(struct pm_sketch *s, int32_t key, int *i)
{
	int64_t klo, khi, span;
	int32_t off;
	int ret;

	if (!sketch_has_bins(s)) {
		ret = sketch_hold(s, PM_SKETCH_BINS / 2);
		if (!ret) {
			s->off = key - PM_SKETCH_BINS / 2;
			*i = PM_SKETCH_BINS / 2;
		}
		return ret;
	}
	if (key >= s->off && key < (int64_t)s->off + PM_SKETCH_BINS) {
		*i = key - s->off;
		return sketch_hold(s, *i);
	}
	klo = s->off + s->lo;
	khi = s->off + s->hi;
	if (key < klo)
		klo = key;
	if (key > khi)
		khi = key;
	span = khi - klo + 1;
	if (span <= PM_SKETCH_BINS) {
		/* everything fits: centre it, leaving room both ways */
		off = (int32_t)(klo - (PM_SKETCH_BINS - span) / 2);
		*i = key - off;
		return sketch_move(s, off, *i);
	}
	if (key > s->off) {
		/* a new high: keep it, collapse the lowest buckets */
		*i = PM_SKETCH_BINS - 1;
		return sketch_move(s, key - PM_SKETCH_BINS + 1, *i);
	}
	/* a new low that does not fit: into the lowest bucket */
	*i = 0;
	ret = sketch_hold(s, 0);
	if (!ret)
		sketch_note_collapse(s, s->off);
	return ret;
}

/* Add @w to bin @i, which is held. */
static void sketch_put(struct pm_sketch *s, int i, float w)
{
	s->v[i - s->base] += w;
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
		if (sketch_w(s, i) > m)
			m = sketch_w(s, i);
	return m;
}

/* Every weight times @f; the bins held stay held. */
static void sketch_scale(struct pm_sketch *s, float f)
{
	double sum;
	int i, lo = PM_SKETCH_BINS, hi = -1;

	s->zero *= f;
	if (s->zero < PM_SKETCH_PRUNE)
		s->zero = 0;
	sum = s->zero;
	for (i = s->lo; i <= s->hi; i++) {
		float *w = &s->v[i - s->base];

		*w *= f;
		if (*w < PM_SKETCH_PRUNE)
			*w = 0;
		if (*w == 0)
			continue;
		sum += *w;
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
	int i, ret;

	if (!isfinite(x) || x < 0)
		return -EINVAL;
	if (x < PM_SKETCH_MIN_VALUE) {
		if (s->zero + 1 > PM_SKETCH_WEIGHT_MAX)
			sketch_scale(s, 0.5f);
		s->zero += 1;
		s->count += 1;
		return 0;
	}
	ret = sketch_bin(s, sketch_key(s, x), &i);
	if (ret)
		return ret;
	if (sketch_w(s, i) + 1 > PM_SKETCH_WEIGHT_MAX)
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
		cum += sketch_w(s, i);
	rank = q * cum;
	cum = s->zero;
	if (cum > rank || !sketch_has_bins(s)) {
		*out = 0;
		return 0;
	}
	for (i = s->lo; i < s->hi; i++) {
		cum += sketch_w(s, i);
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
	/* every bin held first: nothing below can fail */
	if (dst->room < PM_SKETCH_BINS && sketch_regrow(dst, 0, PM_SKETCH_BINS - 1, NULL))
		return -ENOMEM;
	while (sketch_max_bin(dst) + f * sketch_max_bin(src) > PM_SKETCH_WEIGHT_MAX) {
		sketch_scale(dst, 0.5f);
		f *= 0.5f;
	}
	dst->zero += f * src->zero;
	dst->count += f * src->zero;
	for (i = src->lo; i <= src->hi; i++) {
		float w = sketch_w(src, i);
		int j;

		if (w == 0)
			continue;
		sketch_bin(dst, src->off + i, &j); /* all held: cannot fail */
		sketch_put(dst, j, f * w);
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
