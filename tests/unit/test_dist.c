// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Mergeable CPU distributions (exporter/dist.c): quantiles against the exact
 * quantiles of the samples (sorted here), merges against the union of the
 * samples, weights (decay) against a weighted quantile computed here, and
 * the store's encoding.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <podmeter/dist.h>

struct sample {
	double x, w;
};

static int cmp_sample(const void *a, const void *b)
{
	double x = ((const struct sample *)a)->x, y = ((const struct sample *)b)->x;

	return x < y ? -1 : x > y;
}

/*
 * The exact weighted quantile: the first sample where the cumulative weight
 * reaches q x total. Sorts @s in place.
 */
static double exact_quantile(struct sample *s, size_t n, double q)
{
	double total = 0, acc = 0;
	size_t i;

	qsort(s, n, sizeof(*s), cmp_sample);
	for (i = 0; i < n; i++)
		total += s[i].w;
	for (i = 0; i < n; i++) {
		acc += s[i].w;
		if (acc >= q * total * (1 - 1e-12))
			return s[i].x;
	}
	return s[n - 1].x;
}

/* xorshift: the same samples every run */
static double rnd(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return (*st >> 11) * (1.0 / 9007199254740992.0);
}

/* A usage sample in cores: mostly around @base, now and then a burst, sometimes idle. */
static double usage(uint64_t *st, double base)
{
	double u = rnd(st);

	if (u < 0.05)
		return 0;
	if (u < 0.15)
		return base * (4 + 8 * rnd(st));
	return base * exp(0.5 * (rnd(st) - 0.5));
}

static void check_close(double got, double want, const char *what, double q)
{
	if (want < PM_DIST_MIN) {
		if (got != 0)
			fail_msg("%s q=%.2f: %g for a value below the minimum", what, q, got);
		return;
	}
	if (fabs(got - want) > PM_DIST_ALPHA * want * (1 + 1e-9))
		fail_msg("%s q=%.2f: %g, exact %g (more than %.0f%% off)", what, q, got, want,
			 PM_DIST_ALPHA * 100);
}

static const double qs[] = { 0, 0.1, 0.5, 0.9, 0.95, 0.99, 1 };

static void test_keys(void **state)
{
	(void)state;
	assert_int_equal(dist__key(PM_DIST_MIN), PM_DIST_KEY_MIN);
	assert_int_equal(dist__key(PM_DIST_MAX), PM_DIST_KEY_MAX);
	assert_int_equal(dist__key(1e9), PM_DIST_KEY_MAX);
	assert_int_equal(dist__key(1.0), 0);
	/* every key's value is within alpha of both ends of its bucket */
	for (int32_t k = PM_DIST_KEY_MIN; k <= PM_DIST_KEY_MAX; k++) {
		double g = (1 + PM_DIST_ALPHA) / (1 - PM_DIST_ALPHA), hi = pow(g, k), lo = hi / g;
		double v = dist__value(k);

		assert_true(fabs(v - hi) <= PM_DIST_ALPHA * hi * (1 + 1e-9));
		assert_true(fabs(v - lo) <= PM_DIST_ALPHA * lo * (1 + 1e-9));
		assert_int_equal(dist__key(hi * (1 - 1e-12)), k);
	}
}

static void test_quantiles(void **state)
{
	struct sample s[5000];
	struct pm_dist d;
	uint64_t st = 42;
	double got;
	size_t i, k;

	(void)state;
	dist__init(&d);
	for (i = 0; i < 5000; i++) {
		s[i] = (struct sample){ usage(&st, 0.3), 1 };
		assert_int_equal(dist__add(&d, s[i].x, 1), 0);
	}
	assert_true(d.total == 5000);
	for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		assert_int_equal(dist__quantile(&d, qs[k], &got), 0);
		check_close(got, exact_quantile(s, 5000, qs[k]), "one distribution", qs[k]);
	}
	assert_int_equal(dist__quantile(&d, 1.5, &got), -EINVAL);
	assert_int_equal(dist__add(&d, -1, 1), -EINVAL);
	assert_int_equal(dist__add(&d, NAN, 1), -EINVAL);
	assert_int_equal(dist__add(&d, 1, 0), -EINVAL);
	dist__free(&d);
	assert_int_equal(dist__quantile(&d, 0.5, &got), -ENODATA);
}

/*
 * Ten nodes' distributions with different loads, merged: the quantiles of
 * the union of their samples. Then with weights, as decay gives them: a
 * weighted merge answers the weighted quantiles of the union.
 */
static void test_merge_is_union(void **state)
{
	static struct sample all[10 * 700], sorted[10 * 700];
	struct pm_dist node[10], merged, decayed;
	uint64_t st = 7;
	double got, w;
	size_t i, j, k, n = 0;

	(void)state;
	dist__init(&merged);
	dist__init(&decayed);
	for (i = 0; i < 10; i++) {
		dist__init(&node[i]);
		for (j = 0; j < 700; j++) {
			double x = usage(&st, 0.05 * (i + 1));

			assert_int_equal(dist__add(&node[i], x, 1), 0);
			all[n++] = (struct sample){ x, 1 };
		}
		assert_int_equal(dist__merge(&merged, &node[i], 1), 0);
	}
	for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		assert_int_equal(dist__quantile(&merged, qs[k], &got), 0);
		memcpy(sorted, all, sizeof(all));
		check_close(got, exact_quantile(sorted, n, qs[k]), "merged", qs[k]);
	}
	/* node i's samples are i hours old: weight 2^(-i / 24) */
	for (i = 0, n = 0; i < 10; i++) {
		w = pow(2, -(double)i / 24);
		assert_int_equal(dist__merge(&decayed, &node[i], w), 0);
		for (j = 0; j < 700; j++, n++)
			all[n].w = w;
	}
	for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		assert_int_equal(dist__quantile(&decayed, qs[k], &got), 0);
		memcpy(sorted, all, sizeof(all));
		check_close(got, exact_quantile(sorted, n, qs[k]), "decayed merge", qs[k]);
	}
	assert_int_equal(dist__merge(&decayed, &node[0], -1), -EINVAL);
	for (i = 0; i < 10; i++)
		dist__free(&node[i]);
	dist__free(&merged);
	dist__free(&decayed);
}

static void test_encode(void **state)
{
	struct pm_dist d, back;
	uint64_t st = 3;
	double a, b;
	unsigned char *buf;
	size_t len, i;
	void *p;

	(void)state;
	dist__init(&d);
	for (i = 0; i < 300; i++)
		assert_int_equal(dist__add(&d, usage(&st, 2), 0.5 + i % 3), 0);
	assert_int_equal(dist__encode(&d, &p, &len), 0);
	assert_int_equal(dist__decode(&back, p, len), 0);
	assert_true(back.total == d.total && back.zero == d.zero);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		assert_int_equal(dist__quantile(&d, qs[i], &a), 0);
		assert_int_equal(dist__quantile(&back, qs[i], &b), 0);
		assert_true(a == b);
	}
	dist__free(&back);
	/* damage: short, another version, a count past the end, a negative weight */
	buf = p;
	assert_int_equal(dist__decode(&back, p, len - 1), -EINVAL);
	buf[0] ^= 0xff;
	assert_int_equal(dist__decode(&back, p, len), -EINVAL);
	buf[0] ^= 0xff;
	buf[16] ^= 0x40;
	assert_int_equal(dist__decode(&back, p, len), -EINVAL);
	buf[16] ^= 0x40;
	buf[20 + 7] = 0xbf; /* the first weight's sign and exponent: -0.1 and so on */
	assert_int_equal(dist__decode(&back, p, len), -EINVAL);
	free(p);
	/* empty */
	dist__free(&d);
	assert_int_equal(dist__encode(&d, &p, &len), 0);
	assert_int_equal(dist__decode(&back, p, len), 0);
	assert_true(back.total == 0);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_merge_is_union),
		cmocka_unit_test(test_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
