// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Mergeable CPU distributions: fixed exponential buckets (see podmeter/dist.h). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/dist.h>

#define DIST_BLOB_VERSION 1
#define DIST_BLOB_HEAD	  (4 + 8 + 4 + 4) /* version, zero, lo, count */

static double dist_ln_gamma(void)
{
	return log((1 + PM_DIST_ALPHA) / (1 - PM_DIST_ALPHA));
}

void dist__init(struct pm_dist *d)
{
	memset(d, 0, sizeof(*d));
	d->lo = 1;
	d->hi = 0;
}

void dist__free(struct pm_dist *d)
{
	free(d->w);
	dist__init(d);
}

int32_t dist__key(double x)
{
	double k;

	if (!(x >= PM_DIST_MIN))
		return PM_DIST_KEY_MIN;
	k = ceil(log(x) / dist_ln_gamma());
	if (k < PM_DIST_KEY_MIN)
		return PM_DIST_KEY_MIN;
	if (k > PM_DIST_KEY_MAX)
		return PM_DIST_KEY_MAX;
	return (int32_t)k;
}

double dist__value(int32_t key)
{
	double g = (1 + PM_DIST_ALPHA) / (1 - PM_DIST_ALPHA);

	return 2 * exp(key * dist_ln_gamma()) / (g + 1);
}

static bool dist_empty(const struct pm_dist *d)
{
	return d->lo > d->hi;
}

/* Room for keys @lo..@hi; 0 or -ENOMEM. */
static int dist_grow(struct pm_dist *d, int32_t lo, int32_t hi)
{
	int32_t nlo, nhi;
	double *w;

	if (!dist_empty(d) && lo >= d->lo && hi <= d->hi)
		return 0;
	nlo = dist_empty(d) || lo < d->lo ? lo : d->lo;
	nhi = dist_empty(d) || hi > d->hi ? hi : d->hi;
	w = calloc((size_t)(nhi - nlo + 1), sizeof(*w));
	if (!w)
		return -ENOMEM;
	if (!dist_empty(d))
		memcpy(w + (d->lo - nlo), d->w, (size_t)(d->hi - d->lo + 1) * sizeof(*w));
	free(d->w);
	d->w = w;
	d->lo = nlo;
	d->hi = nhi;
	return 0;
}

static bool dist_key_valid(int32_t key)
{
	return key == INT32_MIN || (key >= PM_DIST_KEY_MIN && key <= PM_DIST_KEY_MAX);
}

int dist__add_key(struct pm_dist *d, int32_t key, double weight)
{
	int err;

	if (!(weight > 0) || !isfinite(weight) || !dist_key_valid(key))
		return -EINVAL;
	if (key == INT32_MIN) {
		d->zero += weight;
	} else {
		err = dist_grow(d, key, key);
		if (err)
			return err;
		d->w[key - d->lo] += weight;
	}
	d->total += weight;
	return 0;
}

int dist__add(struct pm_dist *d, double x, double weight)
{
	if (!(x >= 0) || !isfinite(x))
		return -EINVAL;
	return dist__add_key(d, x < PM_DIST_MIN ? INT32_MIN : dist__key(x), weight);
}

int dist__merge(struct pm_dist *dst, const struct pm_dist *src, double factor)
{
	int32_t k;
	int err;

	if (!(factor >= 0) || !isfinite(factor))
		return -EINVAL;
	if (!dist_empty(src)) {
		err = dist_grow(dst, src->lo, src->hi);
		if (err)
			return err;
		for (k = src->lo; k <= src->hi; k++)
			dst->w[k - dst->lo] += factor * src->w[k - src->lo];
	}
	dst->zero += factor * src->zero;
	dst->total += factor * src->total;
	return 0;
}

void dist__scale(struct pm_dist *d, double factor)
{
	int32_t k;

	for (k = d->lo; k <= d->hi; k++)
		d->w[k - d->lo] *= factor;
	d->zero *= factor;
	d->total *= factor;
}

int dist__quantile(const struct pm_dist *d, double q, double *out)
{
	double want, acc;
	int32_t k, last = INT32_MIN;

	if (!(q >= 0 && q <= 1))
		return -EINVAL;
	if (!(d->total > 0))
		return -ENODATA;
	want = q * d->total;
	acc = d->zero;
	if (acc > 0 && acc >= want && q < 1) {
		*out = 0;
		return 0;
	}
	for (k = d->lo; k <= d->hi; k++) {
		if (!(d->w[k - d->lo] > 0))
			continue;
		acc += d->w[k - d->lo];
		last = k;
		if (acc >= want && q < 1)
			break;
	}
	*out = last == INT32_MIN ? 0 : dist__value(last);
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void putd(unsigned char *p, double d)
{
	uint64_t v;
	int i;

	memcpy(&v, &d, sizeof(v));
	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static double getd(const unsigned char *p)
{
	uint64_t v = 0;
	double d;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	memcpy(&d, &v, sizeof(d));
	return d;
}

int dist__encode(const struct pm_dist *d, void **out, size_t *len)
{
	uint32_t n = dist_empty(d) ? 0 : (uint32_t)(d->hi - d->lo + 1), i;
	unsigned char *b;

	*len = DIST_BLOB_HEAD + (size_t)n * 8;
	b = malloc(*len);
	if (!b)
		return -ENOMEM;
	put32(b, DIST_BLOB_VERSION);
	putd(b + 4, d->zero);
	put32(b + 12, (uint32_t)(n ? d->lo : 0));
	put32(b + 16, n);
	for (i = 0; i < n; i++)
		putd(b + DIST_BLOB_HEAD + 8 * i, d->w[i]);
	*out = b;
	return 0;
}

int dist__decode(struct pm_dist *d, const void *buf, size_t len)
{
	const unsigned char *b = buf;
	uint32_t n, i;
	int32_t lo;
	double v;
	int err;

	dist__init(d);
	if (len < DIST_BLOB_HEAD || get32(b) != DIST_BLOB_VERSION)
		return -EINVAL;
	lo = (int32_t)get32(b + 12);
	n = get32(b + 16);
	if (n > PM_DIST_KEYS || len != DIST_BLOB_HEAD + (size_t)n * 8 ||
	    (n && (lo < PM_DIST_KEY_MIN || lo + (int32_t)n - 1 > PM_DIST_KEY_MAX)))
		return -EINVAL;
	v = getd(b + 4);
	if (v > 0 && (err = dist__add_key(d, INT32_MIN, v)))
		goto fail;
	for (i = 0; i < n; i++) {
		v = getd(b + DIST_BLOB_HEAD + 8 * i);
		if (!(v >= 0) || !isfinite(v)) {
			err = -EINVAL;
			goto fail;
		}
		if (v > 0 && (err = dist__add_key(d, lo + (int32_t)i, v)))
			goto fail;
	}
	return 0;
fail:
	dist__free(d);
	return err;
}
