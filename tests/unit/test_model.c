// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The online models against exact or analytic figures: sketch quantiles
 * against a sort of the same samples; the tail calibration against the
 * exact tails of the laws that generated its input; the seasonal profile
 * against the pattern that generated the series; the anomaly detector
 * against synthetic series whose anomalies (a level shift, a spike, a change
 * of variance, a broken daily pattern, a drift) start at a known row, and
 * against series without any, of several scales and noise laws, whose every
 * alarm is false. Samples come from a fixed-seed splitmix64 (uniform),
 * inversion (exponential, Laplace), Box-Muller (Gaussian) and ratios of
 * those (Student t), so every run sees the same numbers. Each test prints
 * the figures it checks.
 */
#include <errno.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <podmeter/model.h>

/* ---- samples ---- */

struct rng {
	uint64_t s;
	double spare;
	int has_spare;
};

static void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed;
	r->has_spare = 0;
}

/* splitmix64 (Steele, Lea, Flood 2014) */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform on (0, 1] */
static double rng_u01(struct rng *r)
{
	return ((rng_next(r) >> 11) + 1) * 0x1p-53;
}

static double rng_exp(struct rng *r)
{
	return -log(rng_u01(r));
}

/* Box-Muller: two independent N(0, 1) per pair of uniforms */
static double rng_gauss(struct rng *r)
{
	double rad, th;

	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	rad = sqrt(-2 * log(rng_u01(r)));
	th = 2 * M_PI * rng_u01(r);
	r->spare = rad * sin(th);
	r->has_spare = 1;
	return rad * cos(th);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- sketch ---- */

#define NSAMPLES 100000

static double gen_uniform(struct rng *r)
{
	return 100 * rng_u01(r);
}

static double gen_exponential(struct rng *r)
{
	return rng_exp(r);
}

/* memory-like: 70% around 200 MB, 30% around 2 GB */
static double gen_bimodal(struct rng *r)
{
	if (rng_u01(r) <= 0.7)
		return 200e6 + 10e6 * rng_gauss(r);
	return 2e9 + 100e6 * rng_gauss(r);
}

/* CPU-like: 30% exactly idle, else lognormal around 0.05 cores */
static double gen_cpu(struct rng *r)
{
	if (rng_u01(r) <= 0.3)
		return 0;
	return 0.05 * exp(1.2 * rng_gauss(r));
}

struct dist {
	const char *name;
	double (*gen)(struct rng *r);
};

static const struct dist dists[] = {
	{ "uniform(0,100)", gen_uniform },
	{ "exponential(1)", gen_exponential },
	{ "bimodal 200M/2G", gen_bimodal },
	{ "30% zero+lognormal", gen_cpu },
};

static const double qs[] = { 0, 0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1 };

/* The value the sketch's rank rule picks from sorted samples. */
static double exact_quantile(const double *sorted, size_t n, double q)
{
	size_t i = (size_t)floor(q * (double)n);

	return sorted[i < n ? i : n - 1];
}

/*
 * Check every quantile of @s against @sorted: within alpha above
 * exact_above(), an upper bound below. Returns the largest relative error
 * seen in the guaranteed range; counts quantiles in the collapsed range.
 */
static double check_quantiles(const struct pm_sketch *s, const double *sorted, size_t n,
			      const char *name, int *collapsed)
{
	double worst = 0, floor_v = sketch__exact_above(s);
	size_t i;

	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double ref = exact_quantile(sorted, n, qs[i]), est, err;

		assert_int_equal(sketch__quantile(s, qs[i], &est), 0);
		if (ref == 0) {
			assert_true(est == 0);
			err = 0;
		} else {
			err = fabs(est - ref) / ref;
		}
		if (est > floor_v || ref == 0) {
			assert_true(err <= s->alpha * (1 + 1e-9));
			if (err > worst)
				worst = err;
		} else {
			(*collapsed)++;
			/* folded values are reported at a higher bucket: never low */
			assert_true(est >= ref * (1 - s->alpha));
		}
		printf("  %-19s a=%.2f q=%-5g exact %-12.6g sketch %-12.6g rel.err %.5f%s\n", name,
		       s->alpha, qs[i], ref, est, err,
		       est > floor_v || ref == 0 ? "" : " (collapsed)");
	}
	return worst;
}

static void test_sketch_distributions(void **state)
{
	static double v[NSAMPLES];
	static const double alphas[] = { 0.01, 0.02 };
	struct pm_sketch s;
	struct rng r;
	size_t d, a, i;

	(void)state;
	for (a = 0; a < 2; a++) {
		for (d = 0; d < sizeof(dists) / sizeof(dists[0]); d++) {
			double worst, p50;
			int collapsed = 0;

			assert_int_equal(sketch__init(&s, alphas[a]), 0);
			rng_seed(&r, 1000 + d);
			for (i = 0; i < NSAMPLES; i++) {
				v[i] = dists[d].gen(&r);
				assert_int_equal(sketch__add(&s, v[i]), 0);
			}
			assert_true(sketch__count(&s) == NSAMPLES);
			qsort(v, NSAMPLES, sizeof(v[0]), cmp_double);
			worst = check_quantiles(&s, v, NSAMPLES, dists[d].name, &collapsed);
			printf("%s, alpha %.2f, %d samples: max rel.err %.5f (bound %.2f), "
			       "%d quantiles below the collapse point %.4g\n",
			       dists[d].name, alphas[a], NSAMPLES, worst, alphas[a], collapsed,
			       sketch__exact_above(&s));
			/* p50 and above are what right-sizing reads: exact at the pod's alpha */
			assert_int_equal(sketch__quantile(&s, 0.5, &p50), 0);
			if (alphas[a] == PM_SKETCH_ALPHA_POD)
				assert_true(p50 == 0 || p50 > sketch__exact_above(&s));
			assert_true(sketch__bytes(&s) <= PM_SKETCH_BINS * sizeof(float));
			sketch__free(&s);
		}
	}
}

struct wv {
	double v, w;
};

static int cmp_wv(const void *a, const void *b)
{
	return cmp_double(&((const struct wv *)a)->v, &((const struct wv *)b)->v);
}

/*
 * The window under stress: 20 phases of 5000 samples, log-uniform over two
 * decades around a center that random-walks between 1e-6 and 1e12, halving
 * all weights after some phases. After each phase every quantile is checked
 * against the weighted samples: within alpha above exact_above(), never
 * under-reported below it. Weights are powers of two: sums are exact.
 */
static void test_sketch_window_moves(void **state)
{
	static struct wv ref[100000];
	static struct wv sorted[100000];
	struct pm_sketch s;
	struct rng r;
	double center = 0, total = 0;
	int phase, i, n = 0, decays = 0, exact_q = 0, collapsed_q = 0;

	(void)state;
	rng_seed(&r, 3);
	assert_int_equal(sketch__init(&s, PM_SKETCH_ALPHA_POD), 0);
	for (phase = 0; phase < 20; phase++) {
		center += rng_u01(&r) < 0.5 ? -2 : 2;
		center = fmax(-5, fmin(11, center));
		for (i = 0; i < 5000; i++, n++) {
			ref[n].v = pow(10, center - 1 + 2 * rng_u01(&r));
			ref[n].w = 1;
			total += 1;
			assert_int_equal(sketch__add(&s, ref[n].v), 0);
		}
		if (decays < 8 && rng_u01(&r) < 0.4) {
			assert_int_equal(sketch__decay(&s, 0.5), 0);
			for (i = 0; i < n; i++)
				ref[i].w *= 0.5;
			total *= 0.5;
			decays++;
		}
		assert_true(sketch__count(&s) == total);
		memcpy(sorted, ref, n * sizeof(ref[0]));
		qsort(sorted, n, sizeof(sorted[0]), cmp_wv);
		for (i = 0; i < (int)(sizeof(qs) / sizeof(qs[0])); i++) {
			double rank = qs[i] * total, cum = 0, est, x = sorted[n - 1].v;
			int j;

			for (j = 0; j < n; j++) {
				cum += sorted[j].w;
				if (cum > rank) {
					x = sorted[j].v;
					break;
				}
			}
			assert_int_equal(sketch__quantile(&s, qs[i], &est), 0);
			if (est > sketch__exact_above(&s)) {
				assert_true(fabs(est - x) <= PM_SKETCH_ALPHA_POD * x * (1 + 1e-9));
				exact_q++;
			} else {
				assert_true(est >= x * (1 - PM_SKETCH_ALPHA_POD));
				collapsed_q++;
			}
		}
	}
	printf("window moving over 1e-6..1e12 with %d halvings: %d quantiles within alpha %.2f, "
	       "%d below the collapse point (upper bounds)\n",
	       decays, exact_q, PM_SKETCH_ALPHA_POD, collapsed_q);
	assert_true(sketch__bytes(&s) <= PM_SKETCH_BINS * sizeof(float));
	sketch__free(&s);
}

/* A: uniform(0.5, 50), B: lognormal around 20; merge(A, B) against the union. */
static void test_sketch_merge(void **state)
{
	static double v[NSAMPLES];
	struct pm_sketch a, b, u;
	struct rng r;
	double worst;
	size_t i, j;
	int collapsed = 0;

	(void)state;
	rng_seed(&r, 7);
	assert_int_equal(sketch__init(&a, PM_SKETCH_ALPHA), 0);
	assert_int_equal(sketch__init(&b, PM_SKETCH_ALPHA), 0);
	assert_int_equal(sketch__init(&u, PM_SKETCH_ALPHA), 0);
	for (i = 0; i < NSAMPLES; i++) {
		bool to_a = i % 2 == 0;

		v[i] = to_a ? 0.5 + 49.5 * rng_u01(&r) : 20 * exp(0.5 * rng_gauss(&r));
		assert_int_equal(sketch__add(to_a ? &a : &b, v[i]), 0);
		assert_int_equal(sketch__add(&u, v[i]), 0);
	}
	assert_int_equal(sketch__merge(&a, &b), 0);
	assert_true(sketch__count(&a) == NSAMPLES);
	qsort(v, NSAMPLES, sizeof(v[0]), cmp_double);
	worst = check_quantiles(&a, v, NSAMPLES, "merge(A,B)", &collapsed);
	assert_int_equal(collapsed, 0);
	for (j = 0; j < sizeof(qs) / sizeof(qs[0]); j++) {
		double qm, qu;

		assert_int_equal(sketch__quantile(&a, qs[j], &qm), 0);
		assert_int_equal(sketch__quantile(&u, qs[j], &qu), 0);
		assert_true(qm == qu);
	}
	printf("merge of two 50k sketches: every quantile equal to the union's sketch; "
	       "max rel.err vs exact %.5f (bound %.2f)\n",
	       worst, PM_SKETCH_ALPHA);

	/* merging into an empty sketch copies; different alphas do not merge */
	sketch__free(&b);
	assert_int_equal(sketch__init(&b, PM_SKETCH_ALPHA), 0);
	assert_int_equal(sketch__merge(&b, &a), 0);
	assert_true(sketch__count(&b) == NSAMPLES);
	sketch__free(&b);
	assert_int_equal(sketch__init(&b, PM_SKETCH_ALPHA_POD), 0);
	assert_int_equal(sketch__merge(&b, &a), -EINVAL);
	/* with itself: the union of a multiset with itself, same quantiles */
	assert_int_equal(sketch__merge(&a, &a), 0);
	assert_true(sketch__count(&a) == 2 * NSAMPLES);
	sketch__free(&a);
	sketch__free(&b);
	sketch__free(&u);
}

/*
 * A window "with decay": weights halve, quantiles do not move, and newer
 * samples outweigh the decayed ones.
 */
static void test_sketch_decay(void **state)
{
	struct pm_sketch s;
	struct rng r;
	double before[9], q;
	size_t i;

	(void)state;
	rng_seed(&r, 11);
	assert_int_equal(sketch__init(&s, PM_SKETCH_ALPHA), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(sketch__add(&s, 1 + 9 * rng_u01(&r)), 0);
	assert_int_equal(sketch__add(&s, 0), 0);
	for (i = 0; i < 9; i++)
		assert_int_equal(sketch__quantile(&s, qs[i], &before[i]), 0);
	q = sketch__count(&s);
	assert_int_equal(sketch__decay(&s, 0.5), 0);
	printf("decay 0.5: count %.1f -> %.1f, 9 quantiles unchanged\n", q, sketch__count(&s));
	assert_true(sketch__count(&s) == 500.5);
	for (i = 0; i < 9; i++) {
		assert_int_equal(sketch__quantile(&s, qs[i], &q), 0);
		assert_true(q == before[i]);
	}
	/* 1000 new samples at 100 outweigh the 500.5 decayed ones: the median is 100 */
	for (i = 0; i < 1000; i++)
		assert_int_equal(sketch__add(&s, 100), 0);
	assert_int_equal(sketch__quantile(&s, 0.5, &q), 0);
	printf("after 1000 samples at 100: p50 %.3f\n", q);
	assert_true(fabs(q - 100) <= 100 * PM_SKETCH_ALPHA);
	assert_int_equal(sketch__quantile(&s, 0.3, &q), 0);
	assert_true(q < 10 * (1 + PM_SKETCH_ALPHA));
	/* a bucket decayed below PM_SKETCH_PRUNE is gone */
	assert_int_equal(sketch__decay(&s, 1e-7), 0);
	assert_int_equal(sketch__quantile(&s, 0.5, &q), -ENODATA);
	assert_true(sketch__count(&s) == 0);
	assert_int_equal(sketch__decay(&s, 1.5), -EINVAL);
	assert_int_equal(sketch__decay(&s, NAN), -EINVAL);
	sketch__free(&s);
}

static void test_sketch_edges(void **state)
{
	struct pm_sketch s;
	double q;
	size_t i;

	(void)state;
	assert_int_equal(sketch__init(&s, 0), -EINVAL);
	assert_int_equal(sketch__init(&s, NAN), -EINVAL);
	assert_int_equal(sketch__init(&s, 0.5), -EINVAL);
	assert_int_equal(sketch__init(&s, PM_SKETCH_ALPHA), 0);
	assert_int_equal(sketch__quantile(&s, 0.5, &q), -ENODATA);
	assert_true(sketch__exact_above(&s) == 0);
	assert_int_equal(sketch__add(&s, NAN), -EINVAL);
	assert_int_equal(sketch__add(&s, INFINITY), -EINVAL);
	assert_int_equal(sketch__add(&s, -1), -EINVAL);
	assert_true(sketch__count(&s) == 0);
	/* zeros and values too small to index: the zero bucket */
	assert_int_equal(sketch__add(&s, 0), 0);
	assert_int_equal(sketch__add(&s, 1e-300), 0);
	assert_int_equal(sketch__quantile(&s, 1, &q), 0);
	assert_true(q == 0);
	assert_int_equal(sketch__quantile(&s, -0.1, &q), -EINVAL);
	assert_int_equal(sketch__quantile(&s, 1.1, &q), -EINVAL);
	assert_int_equal(sketch__quantile(&s, NAN, &q), -EINVAL);
	/* the largest double: reported within alpha, finite */
	assert_int_equal(sketch__add(&s, DBL_MAX), 0);
	assert_int_equal(sketch__quantile(&s, 1, &q), 0);
	assert_true(isfinite(q) && q >= DBL_MAX * (1 - PM_SKETCH_ALPHA));
	/* 1e-8 .. DBL_MAX cannot fit: the low one collapses, the top stays exact */
	assert_int_equal(sketch__add(&s, 1e-8), 0);
	assert_int_equal(sketch__quantile(&s, 0.5, &q), 0);
	assert_true(isfinite(q));
	assert_true(sketch__exact_above(&s) > 1e-8);
	printf("span 1e-8..DBL_MAX: values up to %.3g are upper bounds only\n",
	       sketch__exact_above(&s));

	/* past 2^23 in one bucket the sketch halves itself: proportions hold */
	sketch__reset(&s);
	for (i = 0; i < 12000000; i++)
		assert_int_equal(sketch__add(&s, i % 4 ? 5.0 : 50.0), 0);
	printf("12e6 samples (3/4 at 5, 1/4 at 50): weight %.0f after self-halving\n",
	       sketch__count(&s));
	assert_true(sketch__count(&s) < 12000000);
	assert_int_equal(sketch__quantile(&s, 0.74, &q), 0);
	assert_true(fabs(q - 5) <= 5 * PM_SKETCH_ALPHA);
	assert_int_equal(sketch__quantile(&s, 0.76, &q), 0);
	assert_true(fabs(q - 50) <= 50 * PM_SKETCH_ALPHA);
	sketch__free(&s);
}

/*
 * The bins held follow the data's spread: a pod's CPU within a factor of 2
 * holds a few dozen bins (log(2) / log(gamma) = 18 at the pod's alpha, and
 * the spare), a spread over 5 decades nearly all of them, and every bin
 * comes back with sketch__reset(). Quantiles as before each growth.
 */
static void test_sketch_footprint(void **state)
{
	struct pm_sketch s;
	struct rng r;
	double q;
	size_t i, narrow;

	(void)state;
	rng_seed(&r, 5);
	assert_int_equal(sketch__init(&s, PM_SKETCH_ALPHA_POD), 0);
	assert_int_equal(sketch__bytes(&s), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(sketch__add(&s, i % 3 ? 0 : 0.05 * (1 + rng_u01(&r))), 0);
	narrow = sketch__bytes(&s);
	assert_int_equal(sketch__quantile(&s, 0.9, &q), 0);
	printf("CPU within 0.05..0.1 cores, a third of the ticks: %zu bytes of bins (all: %zu), "
	       "p90 %.4f\n",
	       narrow, PM_SKETCH_BINS * sizeof(float), q);
	assert_true(q >= 0.05 * (1 - PM_SKETCH_ALPHA_POD) && q <= 0.1 * (1 + PM_SKETCH_ALPHA_POD));
	assert_true(narrow > 0 && narrow <= 64 * sizeof(float));
	/* spreading up, then down: grows, and the earlier buckets keep their weight */
	for (i = 0; i < 100; i++)
		assert_int_equal(sketch__add(&s, 2 + rng_u01(&r)), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(sketch__add(&s, 1e-4 * (1 + rng_u01(&r))), 0);
	assert_true(sketch__bytes(&s) > narrow);
	assert_true(sketch__bytes(&s) <= PM_SKETCH_BINS * sizeof(float));
	assert_true(sketch__count(&s) == 1200);
	assert_int_equal(sketch__quantile(&s, 0.85, &q), 0);
	assert_true(q >= 0.05 * (1 - PM_SKETCH_ALPHA_POD) && q <= 0.1 * (1 + PM_SKETCH_ALPHA_POD));
	assert_int_equal(sketch__quantile(&s, 1, &q), 0);
	assert_true(q >= 2 * (1 - PM_SKETCH_ALPHA_POD) && q <= 3 * (1 + PM_SKETCH_ALPHA_POD));
	assert_int_equal(sketch__quantile(&s, 0.6, &q), 0);
	assert_true(q >= 1e-4 * (1 - PM_SKETCH_ALPHA_POD) && q <= 2e-4 * (1 + PM_SKETCH_ALPHA_POD));
	sketch__reset(&s);
	assert_int_equal(sketch__bytes(&s), 0);
	assert_int_equal(sketch__quantile(&s, 0.5, &q), -ENODATA);
	sketch__free(&s);
}

/* ---- tail calibration ---- */

static double rng_t3(struct rng *r)
{
	double z = rng_gauss(r), a = rng_gauss(r), b = rng_gauss(r), c = rng_gauss(r);

	return z / sqrt((a * a + b * b + c * c) / 3);
}

#define TAIL_KEEP (1 - M_LN2 / 2048)

static void feed(struct pm_tail *t, struct rng *r, double (*gen)(struct rng *), int n)
{
	int i;

	for (i = 0; i < n; i++)
		tail__add(t, fabs(gen(r)), TAIL_KEEP);
}

/*
 * Fed |Z| of a law whose tail is known, the surprise at z is -log10 of the
 * law's P(|Z| >= z): exactly for the exponential law the fit assumes, on
 * the safe side (lower) for the lighter Gaussian tail, and a heavier tail
 * (Student t, 3 degrees) earns lower surprises than a lighter one.
 */
static void test_tail_calibration(void **state)
{
	static const double zs[] = { 3, 4, 6, 8 };
	struct pm_tail ex, ga, st;
	struct rng r;
	size_t i;

	(void)state;
	tail__init(&ex);
	tail__init(&ga);
	tail__init(&st);
	rng_seed(&r, 1);
	feed(&ex, &r, rng_exp, 200000);
	rng_seed(&r, 2);
	feed(&ga, &r, rng_gauss, 200000);
	rng_seed(&r, 3);
	feed(&st, &r, rng_t3, 200000);
	for (i = 0; i < sizeof(zs) / sizeof(zs[0]); i++) {
		double z = zs[i], se = tail__surprise(&ex, z), sg = tail__surprise(&ga, z);
		double st3 = tail__surprise(&st, z);
		double true_e = z / M_LN10, true_g = -log10(erfc(z / M_SQRT2));

		printf("z %.0f: exponential %.3f (exact %.3f), Gaussian %.3f (exact %.3f), "
		       "Student t3 %.3f\n",
		       z, se, true_e, sg, true_g, st3);
		/* within what ~60 excesses in memory allow; the Gaussian's light tail on the safe side */
		assert_true(fabs(se - true_e) <= 0.1 * true_e + 0.1);
		assert_true(sg <= true_g + 0.3);
		assert_true(z < 6 || sg < true_g);
		assert_true(sg >= 0.5 * true_g);
		assert_true(st3 < se && se < sg);
	}
	/* monotone, bounded, 0 for nothing */
	for (i = 1; i < 400; i++)
		assert_true(tail__surprise(&ga, i * 0.05) >= tail__surprise(&ga, (i - 1) * 0.05));
	assert_true(tail__surprise(&ga, 0) == 0);
	assert_true(tail__surprise(&ga, NAN) == 0);
	assert_true(tail__surprise(&ga, -3) == 0);
	assert_true(tail__surprise(&ga, 1e300) == PM_TAIL_SURPRISE_MAX);
	/* a bounded statistic, never past u: its common values stay unsurprising */
	tail__init(&ex);
	rng_seed(&r, 4);
	for (i = 0; i < 100000; i++)
		tail__add(&ex, 2 * rng_u01(&r), TAIL_KEEP);
	assert_true(tail__surprise(&ex, 1.99) < 1.7);
	assert_true(tail__surprise(&ex, 3) > 10);
	printf("bounded in [0, 2]: surprise %.2f at 1.99, %.1f at 3\n", tail__surprise(&ex, 1.99),
	       tail__surprise(&ex, 3));
}

/* ---- seasonal profile ---- */

static void test_profile(void **state)
{
	static float v[PM_PROFILE_SLOTS_MAX];
	static uint8_t seen[PM_PROFILE_SLOTS_MAX];
	struct pm_profile_slots sl = { v, seen };
	struct pm_profile p;
	double t, err = 0;
	int i;

	(void)state;
	assert_int_equal(profile__init(&p, &sl, 86400, 96), 0);
	assert_false(profile__knows(&p, &sl, 0));
	assert_true(profile__value(&p, &sl, 0) == 0);
	/* half a day: the morning is known, the afternoon is not */
	for (i = 0; i < 144; i++)
		profile__add(&p, &sl, i * 300.0, 1000 + 20 * sin(2 * M_PI * i / 288.0), 300);
	assert_true(profile__knows(&p, &sl, 3 * 3600));
	assert_false(profile__knows(&p, &sl, 18 * 3600));
	/* three days, on an offset the profile leaves out: the shape, within 2% */
	for (; i < 3 * 288; i++)
		profile__add(&p, &sl, i * 300.0, 1000 + 20 * sin(2 * M_PI * i / 288.0), 300);
	for (t = 0; t < 86400; t += 137)
		err = fmax(err, fabs(profile__value(&p, &sl, t) - 20 * sin(2 * M_PI * t / 86400)));
	printf("daily sine of amplitude 20 on 1000, 96 slots: largest error %.4f\n", err);
	assert_true(err < 0.4); /* 2% */
	assert_true(fabs(profile__age(&p, 3 * 86400) - 3) < 0.01);
	assert_int_equal(profile__init(&p, &sl, 0, 96), -EINVAL);
	assert_int_equal(profile__init(&p, &sl, NAN, 96), -EINVAL);
	assert_int_equal(profile__init(&p, &sl, 60, 1), -EINVAL);
	assert_int_equal(profile__init(&p, &sl, 60, PM_PROFILE_SLOTS_MAX + 1), -EINVAL);
	assert_false(profile__knows(&p, &sl, NAN));
	assert_true(profile__value(&p, &sl, INFINITY) == 0);
}

/* ---- the anomaly detector ---- */

#define ROWS  4032 /* two weeks of 5-minute samples */
#define ONSET 3000
#define STEP  300.0
#define SEEDS 4

enum shape { LEVEL, SPIKE, VARIANCE, PERIOD, DRIFT, SINE, SHAPES };

static const struct {
	const char *name;
	int max_delay; /* rows from the onset to its first high score */
	bool alarms;   /* alarms at the default level in every seed */
} shapes[SHAPES] = {
	[LEVEL] = { "level +6 sigma", 2, true },
	[SPIKE] = { "spike +10 sigma", 0, true },
	[VARIANCE] = { "variance x5", 20, false },
	[PERIOD] = { "daily pattern flat a day", 2, true },
	[DRIFT] = { "drift +1 sigma a row", 10, false },
	[SINE] = { "clean daily sine", 0, false },
};

static double shape_x(enum shape k, int i, struct rng *r)
{
	double day = 50 + 20 * sin(2 * M_PI * i / 288.0);

	switch (k) {
	case LEVEL:
		return 10 + rng_gauss(r) + (i >= ONSET ? 6 : 0);
	case SPIKE:
		return 10 + rng_gauss(r) + (i == ONSET ? 10 : 0);
	case VARIANCE:
		return 10 + rng_gauss(r) * (i >= ONSET ? 5 : 1);
	case PERIOD:
		return (i >= ONSET && i < ONSET + 288 ? 50 : day) + rng_gauss(r);
	case DRIFT:
		return 10 + rng_gauss(r) + (i >= ONSET ? i - ONSET : 0);
	default:
		return day + rng_gauss(r);
	}
}

struct shape_run {
	double top_before, top_onset, tail_surprise;
	int alarms_before, alarms_event, first_alarm, season;
};

static void shape_run(enum shape k, uint64_t seed, struct shape_run *o)
{
	struct pm_anomaly_result res;
	struct pm_anomaly_cfg cfg;
	static struct pm_anomaly a;
	struct rng r;
	double hold;
	int i;

	rng_seed(&r, seed);
	anomaly__defaults(&cfg);
	assert_int_equal(anomaly__init(&a, &cfg), 0);
	memset(o, 0, sizeof(*o));
	o->first_alarm = -1;
	for (i = 0; i < ROWS; i++) {
		assert_int_equal(anomaly__update(&a, 1.7e9 + i * STEP, shape_x(k, i, &r), &res), 0);
		assert_true(res.score >= 0 && res.score <= 1 && isfinite(res.surprise));
		assert_true(res.warmup == (i < PM_ANOMALY_WARMUP));
		hold = anomaly__hold_s(&a) / STEP;
		if (i < ONSET) {
			o->top_before = fmax(o->top_before, res.score);
			o->alarms_before += res.alarm;
			continue;
		}
		if (i <= ONSET + shapes[k].max_delay)
			o->top_onset = fmax(o->top_onset, res.score);
		if (i < ONSET + hold)
			o->alarms_event += res.alarm;
		if (res.alarm && o->first_alarm < 0)
			o->first_alarm = i;
		/* once the models have adapted: the last 500 rows */
		if (i >= ROWS - 500)
			o->tail_surprise = fmax(o->tail_surprise, res.surprise);
	}
	o->season = a.season;
}

/*
 * Each anomaly scores, within a few rows of its onset, above anything the
 * series scored before it (its first alarm at the default level for the
 * abrupt ones), alarms once for the hold time, and the score falls back as
 * the models adapt. Before the onsets and on the clean sine, false alarms
 * come no oftener than the default level promises.
 */
static void test_anomaly_shapes(void **state)
{
	struct shape_run o;
	int k, s, false_alarms = 0;

	(void)state;
	for (k = 0; k < SHAPES; k++) {
		for (s = 1; s <= SEEDS; s++) {
			shape_run(k, 100 * k + s, &o);
			printf("%-26s seed %d: top score before %.3f, at the onset %.3f, first alarm "
			       "%+d rows, %d alarm(s) in the hold time, surprise at the end %.2f, "
			       "baseline %d\n",
			       shapes[k].name, s, o.top_before, o.top_onset,
			       o.first_alarm < 0 ? -1 : o.first_alarm - ONSET, o.alarms_event,
			       o.tail_surprise, o.season);
			false_alarms += o.alarms_before;
			if (k == SINE) {
				false_alarms += o.alarms_event;
				/* the daily pattern is learnt and explains the series */
				assert_true(o.season == 1 || o.season == 2);
				continue;
			}
			assert_true(o.top_onset > o.top_before);
			assert_true(o.alarms_event <= 1);
			assert_true(o.tail_surprise < 3);
			if (shapes[k].alarms)
				assert_true(o.first_alarm >= ONSET &&
					    o.first_alarm <= ONSET + shapes[k].max_delay);
		}
		if (k == PERIOD)
			assert_true(o.season == 1 || o.season == 2);
	}
	/*
	 * About 70,000 rows of clean noise at the default level (1e-5 a row):
	 * 0.7 false alarms expected, 4 or more has a chance of 0.6%.
	 */
	printf("%d series, %d rows each: %d false alarm(s) before the onsets\n", SHAPES * SEEDS,
	       ROWS, false_alarms);
	assert_true(false_alarms <= 3);
}

/* ---- one threshold, one false-alarm rate ---- */

static double rng_laplace(struct rng *r)
{
	return (rng_u01(r) < 0.5 ? -1 : 1) * rng_exp(r);
}

static double rng_poisson3(struct rng *r)
{
	double l = exp(-3), p = 1;
	int k = -1;

	do {
		k++;
		p *= rng_u01(r);
	} while (p > l);
	return k;
}

enum noise { GAUSS, GAUSS_BIG, LAPLACE, T3, UNIFORM, AR1, COUNTS, NOISES };

static const char *const noise_names[NOISES] = {
	"Gaussian",
	"Gaussian x1e6 + 1e9",
	"Laplace",
	"Student t3",
	"uniform",
	"AR(1) 0.9 (wanders)",
	"Poisson 3 (counts)",
};

static double noise_x(enum noise k, struct rng *r, double *ar)
{
	switch (k) {
	case GAUSS:
		return rng_gauss(r);
	case GAUSS_BIG:
		return 1e9 + 1e6 * rng_gauss(r);
	case LAPLACE:
		return rng_laplace(r);
	case T3:
		return rng_t3(r);
	case UNIFORM:
		return rng_u01(r);
	case AR1:
		*ar = 0.9 * *ar + rng_gauss(r);
		return *ar;
	default:
		return rng_poisson3(r);
	}
}

#define CAL_ROWS 20000

/*
 * Series without anomalies, of very different scales and noise laws: the
 * share of rows at or above a score s stays near or under 10^(-10 s), the
 * false-alarm rate the score promises, on every one. For contrast, the
 * share of rows with |z| >= 3 against their mean and standard deviation
 * (what a fixed z threshold alarms on) is printed: it moves with the law.
 * The same series scaled by 1e6 and offset by 1e9 scores the same.
 */
static void test_anomaly_calibration(void **state)
{
	struct pm_anomaly_result res;
	struct pm_anomaly_cfg cfg;
	static struct pm_anomaly a;
	static double xs[CAL_ROWS];
	long n2[NOISES], n3[NOISES];
	int k, i;

	(void)state;
	anomaly__defaults(&cfg);
	cfg.hold_s = 0; /* every row counts */
	for (k = 0; k < NOISES; k++) {
		struct rng r;
		double ar = 0, mean = 0, var = 0;
		long z3 = 0;

		/* Gaussian and its scaled copy share a seed */
		rng_seed(&r, k == GAUSS_BIG ? 500 : 500 + k);
		assert_int_equal(anomaly__init(&a, &cfg), 0);
		n2[k] = n3[k] = 0;
		for (i = 0; i < CAL_ROWS; i++) {
			xs[i] = noise_x(k, &r, &ar);
			mean += xs[i] / CAL_ROWS;
			assert_int_equal(anomaly__update(&a, 1.7e9 + i * STEP, xs[i], &res), 0);
			n2[k] += res.score >= 0.2;
			n3[k] += res.score >= 0.3;
		}
		for (i = 0; i < CAL_ROWS; i++)
			var += (xs[i] - mean) * (xs[i] - mean) / CAL_ROWS;
		for (i = 0; i < CAL_ROWS; i++)
			z3 += fabs(xs[i] - mean) >= 3 * sqrt(var);
		printf("%-20s rows at score >= 0.2: %.4f (promised <= 0.01), >= 0.3: %.5f "
		       "(<= 0.001); |z| >= 3: %.4f\n",
		       noise_names[k], (double)n2[k] / CAL_ROWS, (double)n3[k] / CAL_ROWS,
		       (double)z3 / CAL_ROWS);
		assert_true(n2[k] <= 0.015 * CAL_ROWS);
		assert_true(n3[k] <= 0.0015 * CAL_ROWS);
	}
	assert_int_equal(n2[GAUSS], n2[GAUSS_BIG]);
	assert_int_equal(n3[GAUSS], n3[GAUSS_BIG]);
}

/* ---- events and the hold ---- */

/*
 * A step of 1,000 noise sigmas that stays: without a hold, every row at the
 * alarm level alarms; with the default hold, the first one only, and the
 * event's rows that do not beat its top score are capped below the floor;
 * a hold of 10 rows lets the event alarm again after it, if it still scores.
 */
static void test_anomaly_hold(void **state)
{
	static const double holds[] = { 0, 10 * STEP, PM_ANOMALY_HOLD_AUTO };
	struct pm_anomaly_result res;
	struct pm_anomaly_cfg cfg;
	static struct pm_anomaly a;
	int alarms[3], high = 0, capped = 0, h, i;

	(void)state;
	for (h = 0; h < 3; h++) {
		struct rng r;

		rng_seed(&r, 77);
		anomaly__defaults(&cfg);
		cfg.hold_s = holds[h];
		assert_int_equal(anomaly__init(&a, &cfg), 0);
		alarms[h] = 0;
		for (i = 0; i < ROWS; i++) {
			double x = 10 + 1e-3 * rng_gauss(&r) + (i >= ONSET ? 1 : 0);

			anomaly__update(&a, 1.7e9 + i * STEP, x, &res);
			alarms[h] += res.alarm;
			if (!h)
				high += fmin(res.surprise / 10, 1) >= PM_ANOMALY_ALARM;
			if (holds[h] == PM_ANOMALY_HOLD_AUTO && res.held) {
				capped += res.score < PM_ANOMALY_HOLD_FLOOR;
				assert_true(res.score < PM_ANOMALY_HOLD_FLOOR ||
					    res.score == fmin(res.surprise / 10, 1));
			}
		}
		if (holds[h] == PM_ANOMALY_HOLD_AUTO)
			assert_true(anomaly__hold_s(&a) == PM_ANOMALY_LEVEL_HL * STEP);
	}
	printf("a step of 1000 sigmas: %d rows at the alarm level; alarms: no hold %d, hold 10 "
	       "rows %d, default hold (%g s) %d, %d rows capped\n",
	       high, alarms[0], alarms[1], PM_ANOMALY_LEVEL_HL * STEP, alarms[2], capped);
	assert_int_equal(alarms[0], high);
	assert_true(high >= 3);
	assert_true(alarms[1] >= 1 && alarms[1] <= alarms[0]);
	assert_int_equal(alarms[2], 1);
	assert_true(capped >= high - 1);
}

/* ---- edges ---- */

static void test_anomaly_edges(void **state)
{
	static const double xs[] = { 0, 1e30, -1e30, 1e-300, -1e-300, 1e30, 0, 5e-324 };
	struct pm_anomaly_result res;
	struct pm_anomaly_cfg cfg;
	static struct pm_anomaly a;
	struct rng r;
	int i;

	(void)state;
	printf("state of one series: %zu bytes\n", sizeof(struct pm_anomaly));
	assert_true(sizeof(struct pm_anomaly) <= 4096);
	anomaly__defaults(&cfg);
	cfg.alarm = 0.1;
	assert_int_equal(anomaly__init(&a, &cfg), -EINVAL);
	anomaly__defaults(&cfg);
	cfg.hold_s = -2;
	assert_int_equal(anomaly__init(&a, &cfg), -EINVAL);
	anomaly__defaults(&cfg);
	cfg.resolution = NAN;
	assert_int_equal(anomaly__init(&a, &cfg), -EINVAL);
	anomaly__defaults(&cfg);
	cfg.day_s = -1;
	assert_int_equal(anomaly__init(&a, &cfg), -EINVAL);
	anomaly__defaults(&cfg);
	assert_int_equal(anomaly__init(&a, &cfg), 0);
	assert_int_equal(anomaly__update(&a, 100, 42, &res), 0);
	assert_int_equal(anomaly__update(&a, 100, 42, &res), 0); /* the same time again */
	assert_int_equal(anomaly__update(&a, 99, 1, &res), -EINVAL);
	assert_int_equal(anomaly__update(&a, 101, NAN, &res), -EINVAL);
	assert_int_equal(anomaly__update(&a, 101, INFINITY, &res), -EINVAL);
	assert_int_equal(anomaly__update(&a, 101, 2e30, &res), -EINVAL);
	assert_int_equal(anomaly__update(&a, 1e15, 1, &res), -EINVAL);
	assert_int_equal(anomaly__update(&a, NAN, 1, &res), -EINVAL);
	assert_true(a.n == 2);
	/* constant: nothing to see; then a change, the first ever: an alarm */
	for (i = 2; i < 500; i++) {
		assert_int_equal(anomaly__update(&a, 100 + i, 42, &res), 0);
		assert_true(res.score == 0);
	}
	anomaly__update(&a, 600, 43, &res);
	printf("constant 42 for 500 rows, then 43: score %.4f (%s)\n", res.score,
	       anomaly__kind_name(res.kind));
	assert_true(res.score >= PM_ANOMALY_ALARM && res.alarm);
	/* the extremes in turn, then noise: finite scores in [0, 1], no FP exception */
	for (i = 0; i < 4000; i++) {
		anomaly__update(&a, 700 + i, xs[i % 8], &res);
		assert_true(isfinite(res.surprise) && res.score >= 0 && res.score <= 1);
	}
	rng_seed(&r, 9);
	for (i = 0; i < 4000; i++) {
		anomaly__update(&a, 5000 + i * 1e3, rng_gauss(&r) * 1e-290, &res);
		assert_true(isfinite(res.surprise) && res.score >= 0 && res.score <= 1);
	}
	assert_string_equal(anomaly__kind_name(PM_ANOMALY_PATTERN), "pattern");
	assert_string_equal(anomaly__kind_name(PM_ANOMALY_KINDS), "unknown");
}

/* Irregular intervals: the typical one is their median; a gap ages the baselines only. */
static void test_anomaly_intervals(void **state)
{
	static const double steps[] = { 300, 300, 600, 300, 900, 300, 300 };
	struct pm_anomaly_result res;
	struct pm_anomaly_cfg cfg;
	static struct pm_anomaly a;
	double t = 1.7e9;
	struct rng r;
	int i, alarms = 0;

	(void)state;
	rng_seed(&r, 31);
	anomaly__defaults(&cfg);
	assert_int_equal(anomaly__init(&a, &cfg), 0);
	for (i = 0; i < 3000; i++) {
		t += steps[i % 7] + (i == 2000 ? 5 * 86400 : 0);
		anomaly__update(&a, t, 7 + rng_gauss(&r), &res);
		alarms += res.alarm;
	}
	printf("intervals of 300, 600 and 900 s, a 5-day gap: typical interval %.0f s, %d "
	       "alarms\n",
	       a.step, alarms);
	assert_true(a.step >= 300 / 1.06 && a.step <= 300 * 1.06);
	assert_int_equal(alarms, 0);
}

/* ---- one pod ---- */

static void test_pod_model(void **state)
{
	struct pm_anomaly_result cr, ur;
	static struct pm_pod_model m;
	int i, cost_alarms = 0, cpu_alarms = 0, first = -1;
	struct rng r;

	(void)state;
	printf("a pod's models: %zu bytes (two series)\n", sizeof(m));
	assert_int_equal(pod_model__init(&m, 86400), 0);
	assert_int_equal(pod_model__init(&m, -1), -EINVAL);
	assert_int_equal(pod_model__init(&m, 86400), 0);
	rng_seed(&r, 5);
	for (i = 0; i < 3000; i++) {
		double cost = (i < 2000 ? 0.10 : 0.30) + 0.001 * rng_gauss(&r);

		assert_int_equal(pod_model__update(&m, i * 10.0, 0.25 + 0.01 * rng_u01(&r),
						   fmax(cost, 0), &cr, &ur),
				 0);
		if (cr.alarm && first < 0)
			first = i;
		cost_alarms += cr.alarm;
		cpu_alarms += ur.alarm;
	}
	printf("cost rate 0.10 -> 0.30 at tick 2000: first alarm at tick %d (%s, %+d), %d cost "
	       "alarm(s), %d CPU alarm(s)\n",
	       first, anomaly__kind_name(cr.kind), cr.dir, cost_alarms, cpu_alarms);
	assert_true(first >= 2000 && first <= 2002);
	assert_int_equal(cost_alarms, 1);
	assert_int_equal(cpu_alarms, 0);
	assert_int_equal(pod_model__update(&m, 1e9, NAN, 1, &cr, &ur), -EINVAL);
	assert_int_equal(pod_model__update(&m, 1e9, 1, -1, &cr, &ur), -EINVAL);
	assert_int_equal(pod_model__update(&m, 10, 1, 1, &cr, &ur), -EINVAL); /* back in time */
	assert_true(m.cpu.n == 3000 && m.cost.n == 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sketch_distributions),
		cmocka_unit_test(test_sketch_window_moves),
		cmocka_unit_test(test_sketch_merge),
		cmocka_unit_test(test_sketch_decay),
		cmocka_unit_test(test_sketch_edges),
		cmocka_unit_test(test_sketch_footprint),
		cmocka_unit_test(test_tail_calibration),
		cmocka_unit_test(test_profile),
		cmocka_unit_test(test_anomaly_shapes),
		cmocka_unit_test(test_anomaly_calibration),
		cmocka_unit_test(test_anomaly_hold),
		cmocka_unit_test(test_anomaly_edges),
		cmocka_unit_test(test_anomaly_intervals),
		cmocka_unit_test(test_pod_model),
	};

	/* no model may raise an invalid operation, a division by zero or an overflow */
	feenableexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
