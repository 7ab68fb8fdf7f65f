// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The online models against exact or analytic figures: sketch quantiles
 * against a sort of the same samples, EWMA estimates against the generating
 * distribution's mean and variance, change detectors against known shifts
 * and long in-control runs, the seasonal baseline against the pattern that
 * generated the series. Samples come from a fixed-seed splitmix64 (uniform),
 * inversion (exponential) and Box-Muller (Gaussian), so every run sees the
 * same numbers. Each test prints the figures it checks.
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
	       "%d below the collapse point (upper bounds)\n", decays, exact_q,
	       PM_SKETCH_ALPHA_POD, collapsed_q);
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
	       "max rel.err vs exact %.5f (bound %.2f)\n", worst, PM_SKETCH_ALPHA);

	/* merging into an empty sketch copies; different alphas do not merge */
	assert_int_equal(sketch__init(&b, PM_SKETCH_ALPHA), 0);
	assert_int_equal(sketch__merge(&b, &a), 0);
	assert_true(sketch__count(&b) == NSAMPLES);
	assert_int_equal(sketch__init(&b, PM_SKETCH_ALPHA_POD), 0);
	assert_int_equal(sketch__merge(&b, &a), -EINVAL);
	/* with itself: the union of a multiset with itself, same quantiles */
	assert_int_equal(sketch__merge(&a, &a), 0);
	assert_true(sketch__count(&a) == 2 * NSAMPLES);
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
}

/* ---- EWMA ---- */

static void test_ewma_converges(void **state)
{
	const double mu = 5, sigma = 2, half_life = 1000;
	struct pm_ewma e;
	struct rng r;
	double em, ev, es;
	int i;

	(void)state;
	rng_seed(&r, 21);
	assert_int_equal(ewma__init(&e, half_life, 0), 0);
	for (i = 0; i < 200000; i++)
		assert_int_equal(ewma__update(&e, i, mu + sigma * rng_gauss(&r)), 0);
	em = fabs(ewma__mean(&e) - mu) / sigma;
	ev = fabs(ewma__var(&e) / (sigma * sigma) - 1);
	es = fabs(ewma__robust_scale(&e) / sigma - 1);
	printf("N(5, 2^2), 200k samples, half-life 1000 samples: mean %.4f (|err| %.3f sigma, "
	       "tol 0.1), var %.4f (rel.err %.3f, tol 0.1), robust scale %.4f (rel.err %.3f, "
	       "tol 0.1)\n", ewma__mean(&e), em, ewma__var(&e), ev, ewma__robust_scale(&e), es);
	assert_true(em <= 0.1);
	assert_true(ev <= 0.1);
	assert_true(es <= 0.1);
}

/* The half-life is in time: a sample one half-life after the last weighs 1/2. */
static void test_ewma_half_life(void **state)
{
	struct pm_ewma e;
	int i;

	(void)state;
	assert_int_equal(ewma__init(&e, 10, 0), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(ewma__update(&e, i, 0), 0);
	assert_int_equal(ewma__update(&e, 999 + 10, 1), 0);
	printf("after 1000 zeros, a 1 one half-life later: mean %.6f (expect 0.5)\n",
	       ewma__mean(&e));
	assert_true(fabs(ewma__mean(&e) - 0.5) < 1e-12);
	/* during warm-up the weight is 1/n: the plain mean of 1, 2, 3 */
	assert_int_equal(ewma__init(&e, 1e6, 0), 0);
	for (i = 1; i <= 3; i++)
		assert_int_equal(ewma__update(&e, i, i), 0);
	assert_true(fabs(ewma__mean(&e) - 2) < 1e-12);
	assert_true(fabs(ewma__var(&e) - 2.0 / 3) < 1e-12);
}

static void train(struct pm_ewma *e, struct rng *r, int n, double mu, double sigma,
		  double p_out, double out)
{
	int i;

	for (i = 0; i < n; i++) {
		double x = rng_u01(r) <= p_out ? out : mu + sigma * rng_gauss(r);

		assert_int_equal(ewma__update(e, e->n ? e->t + 1 : 0, x), 0);
	}
}

static void test_ewma_outlier_score(void **state)
{
	const double mu = 5, sigma = 2;
	struct pm_ewma e;
	struct rng r;
	double z, zc;

	(void)state;
	rng_seed(&r, 22);
	assert_int_equal(ewma__init(&e, 200, 1e-3), 0);
	train(&e, &r, 20000, mu, sigma, 0, 0);
	z = ewma__score(&e, mu + 10 * sigma);
	printf("clean N(5, 2^2): robust z of a 10-sigma outlier %.2f (expect 10 +- 2), "
	       "of the mean %.2f\n", z, ewma__score(&e, mu));
	assert_true(z >= 8 && z <= 12);
	assert_true(fabs(ewma__score(&e, mu)) < 1);
	assert_true(ewma__score(&e, mu - 10 * sigma) <= -8);

	/* 2% of the samples at +50 sigma: the plain std inflates, the robust scale barely */
	rng_seed(&r, 23);
	assert_int_equal(ewma__init(&e, 200, 1e-3), 0);
	train(&e, &r, 20000, mu, sigma, 0.02, mu + 50 * sigma);
	z = ewma__score(&e, mu + 10 * sigma);
	zc = 10 * sigma / ewma__std(&e);
	printf("2%% outliers at +50 sigma: plain std %.2f, robust scale %.2f (sigma 2); "
	       "10-sigma point: robust z %.2f, plain z %.2f\n", ewma__std(&e),
	       ewma__robust_scale(&e), z, zc);
	assert_true(ewma__robust_scale(&e) < 1.25 * sigma);
	assert_true(z >= 7);
	assert_true(zc < 3);
}

/*
 * After a 100-sigma level shift the robust center follows: the clipped
 * residuals inflate the scale geometrically. Compared with the plain mean of
 * the same model, which needs log2(100) = 6.6 half-lives to come within 1 sigma.
 */
static void test_ewma_adapts(void **state)
{
	struct pm_ewma e;
	struct rng r;
	int i, robust = -1, plain = -1;

	(void)state;
	rng_seed(&r, 24);
	assert_int_equal(ewma__init(&e, 100, 1e-3), 0);
	train(&e, &r, 5000, 10, 1, 0, 0);
	for (i = 0; i < 20000 && (robust < 0 || plain < 0); i++) {
		train(&e, &r, 1, 110, 1, 0, 0);
		if (robust < 0 && fabs(e.center - 110) < 1)
			robust = i + 1;
		if (plain < 0 && fabs(ewma__mean(&e) - 110) < 1)
			plain = i + 1;
	}
	printf("level shift of 100 sigma, half-life 100 samples: within 1 sigma after %d samples "
	       "(robust center, bound 1000) and %d (plain mean)\n", robust, plain);
	assert_true(robust > 0 && robust <= 1000);
	/* the scale comes back to sigma once the center has followed */
	train(&e, &r, 2000, 110, 1, 0, 0);
	printf("  robust scale 2000 samples later: %.3f (sigma 1)\n", ewma__robust_scale(&e));
	assert_true(fabs(ewma__robust_scale(&e) - 1) < 0.2);
}

static void test_ewma_edges(void **state)
{
	struct pm_ewma e, copy;
	int i;

	(void)state;
	assert_int_equal(ewma__init(&e, 0, 0), -EINVAL);
	assert_int_equal(ewma__init(&e, NAN, 0), -EINVAL);
	assert_int_equal(ewma__init(&e, 10, -1), -EINVAL);
	assert_int_equal(ewma__init(&e, 10, 0), 0);
	assert_true(ewma__score(&e, 1) == 0);
	assert_true(ewma__std(&e) == 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(ewma__update(&e, i, 3), 0);
	copy = e;
	assert_int_equal(ewma__update(&e, 200, NAN), -EINVAL);
	assert_int_equal(ewma__update(&e, 200, INFINITY), -EINVAL);
	assert_int_equal(ewma__update(&e, 200, 2 * PM_MODEL_VALUE_MAX), -EINVAL);
	assert_int_equal(ewma__update(&e, PM_MODEL_TIME_MAX, 1), -EINVAL);
	assert_int_equal(ewma__update(&e, NAN, 1), -EINVAL);
	assert_int_equal(ewma__update(&e, 99, 1), -EINVAL);	/* not after the last */
	assert_int_equal(ewma__update(&e, 50, 1), -EINVAL);
	assert_memory_equal(&e, &copy, sizeof(e));
	/* constant series, no floor: zero variance, no NaN */
	assert_true(ewma__var(&e) == 0);
	assert_true(ewma__score(&e, 3) == 0);
	assert_true(ewma__score(&e, 3.5) == PM_Z_MAX);
	assert_true(ewma__score(&e, 2.5) == -PM_Z_MAX);
	assert_true(ewma__score(&e, NAN) == 0);
	assert_true(ewma__score(&e, DBL_MAX) == PM_Z_MAX);
	/* with a floor the score is finite and proportional */
	assert_int_equal(ewma__init(&e, 10, 0.5), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(ewma__update(&e, i, 3), 0);
	assert_true(fabs(ewma__score(&e, 4) - 2) < 1e-12);
	/* extreme but accepted magnitudes stay finite */
	assert_int_equal(ewma__update(&e, 100, PM_MODEL_VALUE_MAX), 0);
	assert_int_equal(ewma__update(&e, 101, -PM_MODEL_VALUE_MAX), 0);
	assert_true(isfinite(ewma__mean(&e)) && isfinite(ewma__var(&e)));
	assert_true(isfinite(ewma__score(&e, -DBL_MAX)));
}

/* ---- change detection ---- */

#define TRIALS 200
#define PRE_SHIFT 500
#define MAX_WAIT 1000

static const char *method_name(enum pm_change_method m)
{
	return m == PM_CHANGE_CUSUM ? "CUSUM" : "Page-Hinkley";
}

static void change_cfg(struct pm_change_cfg *cfg, enum pm_change_method m)
{
	*cfg = (struct pm_change_cfg){
		.method = m,
		.k = PM_CHANGE_K,
		.h = PM_CHANGE_H,
		.warmup = PM_CHANGE_WARMUP,
		.min_sigma = 0,
	};
}

/* Samples after the shift until the alarm; MAX_WAIT + 1 for none. */
static int delay_once(enum pm_change_method m, uint64_t seed, double shift,
		      struct pm_change_alarm *al)
{
	struct pm_change_cfg cfg;
	struct pm_change c;
	struct rng r;
	int i;

	change_cfg(&cfg, m);
	assert_int_equal(change__init(&c, &cfg), 0);
	rng_seed(&r, seed);
	for (i = 0; i < PRE_SHIFT; i++)
		assert_int_equal(change__update(&c, 10 + rng_gauss(&r), al), 0);
	for (i = 1; i <= MAX_WAIT; i++)
		if (change__update(&c, 10 + shift + rng_gauss(&r), al) == 1)
			return i;
	return MAX_WAIT + 1;
}

/* Asserted bounds on the worst delay over TRIALS, per shift of 1, 2, 3 sigma. */
static const int delay_bound[] = { 250, 30, 16 };

static void test_change_delay(void **state)
{
	enum pm_change_method m;
	int k, dir, t;

	(void)state;
	for (m = PM_CHANGE_CUSUM; m <= PM_CHANGE_PH; m++) {
		for (k = 1; k <= 3; k++) {
			for (dir = -1; dir <= 1; dir += 2) {
				double sum = 0, est = 0;
				int worst = 0, wrong = 0;

				for (t = 0; t < TRIALS; t++) {
					struct pm_change_alarm al = { 0 };
					int d = delay_once(m, 5000 + t, dir * k, &al);

					wrong += al.dir != dir;
					sum += d;
					est += al.shift;
					if (d > worst)
						worst = d;
				}
				printf("%-12s shift %+d sigma (k=%.1f h=%.0f): delay mean %.1f, "
				       "max %d over %d trials (bound %d); estimated shift %+.2f\n",
				       method_name(m), dir * k, PM_CHANGE_K, PM_CHANGE_H,
				       sum / TRIALS, worst, TRIALS, delay_bound[k - 1],
				       est / TRIALS);
				assert_int_equal(wrong, 0);
				assert_true(worst <= delay_bound[k - 1]);
				assert_true(fabs(est / TRIALS - dir * k) <= 0.2 * k);
			}
		}
	}
}

static void test_change_no_false_alarm(void **state)
{
	const int n = 1000000;
	enum pm_change_method m;
	struct pm_change_cfg cfg;
	struct pm_change c;
	struct rng r;
	double peak;
	int i, alarms;

	(void)state;
	for (m = PM_CHANGE_CUSUM; m <= PM_CHANGE_PH; m++) {
		change_cfg(&cfg, m);
		assert_int_equal(change__init(&c, &cfg), 0);
		rng_seed(&r, 99);
		alarms = 0;
		peak = 0;
		for (i = 0; i < n; i++) {
			alarms += change__update(&c, 10 + 3 * rng_gauss(&r), NULL);
			peak = fmax(peak, fmax(c.s_up, c.s_dn));
		}
		printf("%-12s %d samples of stationary N(10, 3^2): %d alarms (highest sum %.2f, "
		       "threshold %.0f)\n", method_name(m), n, alarms, peak, PM_CHANGE_H);
		assert_int_equal(alarms, 0);
	}
}

static void test_change_edges(void **state)
{
	struct pm_change_cfg cfg;
	struct pm_change c, copy;
	struct pm_change_alarm al;
	int i;

	(void)state;
	change_cfg(&cfg, PM_CHANGE_CUSUM);
	cfg.h = 0;
	assert_int_equal(change__init(&c, &cfg), -EINVAL);
	change_cfg(&cfg, PM_CHANGE_CUSUM);
	cfg.warmup = 1;
	assert_int_equal(change__init(&c, &cfg), -EINVAL);
	change_cfg(&cfg, PM_CHANGE_CUSUM);
	cfg.k = NAN;
	assert_int_equal(change__init(&c, &cfg), -EINVAL);
	change_cfg(&cfg, (enum pm_change_method)7);
	assert_int_equal(change__init(&c, &cfg), -EINVAL);

	/* a constant series (sigma 0, no floor): no alarm, then a step alarms at once */
	change_cfg(&cfg, PM_CHANGE_PH);
	assert_int_equal(change__init(&c, &cfg), 0);
	assert_true(change__warming(&c));
	for (i = 0; i < 1000; i++)
		assert_int_equal(change__update(&c, 4, &al), 0);
	assert_false(change__warming(&c));
	copy = c;
	assert_int_equal(change__update(&c, NAN, &al), -EINVAL);
	assert_int_equal(change__update(&c, -INFINITY, &al), -EINVAL);
	assert_memory_equal(&c, &copy, sizeof(c));
	assert_int_equal(change__update(&c, 3, &al), 1);
	assert_int_equal(al.dir, -1);
	assert_true(isfinite(al.shift) && al.shift < 0);
	assert_true(al.before == 4);
	assert_int_equal(al.since, 1);
	/* reset after the alarm: learning the new level */
	assert_true(change__warming(&c));
	for (i = 0; i < 1000; i++)
		assert_int_equal(change__update(&c, 3, NULL), 0);
	/* with a floor, a change below it is not one */
	change_cfg(&cfg, PM_CHANGE_CUSUM);
	cfg.min_sigma = 1;
	assert_int_equal(change__init(&c, &cfg), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(change__update(&c, 4 + (i % 2) * 1e-9, NULL), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(change__update(&c, 4.2, NULL), 0);
}

/* ---- seasonal ---- */

#define SLOTS 24
#define SLOT_S 60.0
#define TICK_S 5.0
#define PERIOD_S (SLOTS * SLOT_S)

static void seasonal_cfg(struct pm_seasonal_cfg *cfg)
{
	*cfg = (struct pm_seasonal_cfg){
		.slots = SLOTS,
		.slot_s = SLOT_S,
		.alpha = PM_SEASONAL_ALPHA,
		.beta = PM_SEASONAL_BETA,
		.gamma = PM_SEASONAL_GAMMA,
	};
}

static double sine_day(double t)
{
	return 50 + 10 * sin(2 * M_PI * t / PERIOD_S);
}

/* business hours: 8 slots high, 16 low */
static double square_day(double t)
{
	return fmod(t, PERIOD_S) < 8 * SLOT_S ? 100 : 20;
}

struct season_run {
	double rms;		/* residual RMS over the last period */
	double raw_rms;		/* the pattern's own deviation from its mean */
	double shift_resid;	/* mean residual over the slot after the level shift */
};

/*
 * @periods periods of @pattern + N(0, @noise^2), scored before each update;
 * then a level shift of @shift for one slot.
 */
static void season_run(double (*pattern)(double), double noise, int periods, double shift,
		       struct season_run *out)
{
	struct pm_seasonal_cfg cfg;
	struct pm_seasonal s;
	struct rng r;
	double t, sum2 = 0, raw2 = 0, rsum = 0, mean = 0;
	int n = 0, m = 0;

	seasonal_cfg(&cfg);
	assert_int_equal(seasonal__init(&s, &cfg), 0);
	rng_seed(&r, 31);
	for (t = 0; t < PERIOD_S; t += TICK_S)
		mean += pattern(t) / (PERIOD_S / TICK_S);
	for (t = 0; t < periods * PERIOD_S; t += TICK_S) {
		double x = pattern(t) + noise * rng_gauss(&r);

		if (t >= (periods - 1) * PERIOD_S) {
			double res = seasonal__residual(&s, t, x);

			assert_true(seasonal__ready(&s));
			sum2 += res * res;
			raw2 += (x - mean) * (x - mean);
			n++;
		}
		assert_int_equal(seasonal__update(&s, t, x), 0);
	}
	for (; t < periods * PERIOD_S + SLOT_S; t += TICK_S) {
		double x = pattern(t) + shift + noise * rng_gauss(&r);

		rsum += seasonal__residual(&s, t, x);
		m++;
		assert_int_equal(seasonal__update(&s, t, x), 0);
	}
	out->rms = sqrt(sum2 / n);
	out->raw_rms = sqrt(raw2 / n);
	out->shift_resid = rsum / m;
}

static void test_seasonal_sine(void **state)
{
	struct season_run sr;

	(void)state;
	season_run(sine_day, 0.5, 5, 8, &sr);
	printf("sine day (50 +- 10, noise 0.5, 24 slots): residual RMS in period 5 %.3f "
	       "(bound 1.5) vs the pattern's own %.3f; level shift +8: mean residual %.2f\n",
	       sr.rms, sr.raw_rms, sr.shift_resid);
	assert_true(sr.rms <= 1.5);
	assert_true(sr.shift_resid >= 6 && sr.shift_resid >= 5 * sr.rms);
}

static void test_seasonal_square(void **state)
{
	struct season_run sr;

	(void)state;
	season_run(square_day, 1, 4, -10, &sr);
	printf("square day (100 for 8 slots, 20 for 16, noise 1): residual RMS in period 4 "
	       "%.3f (bound 1.3) vs the pattern's own %.3f; level shift -10: mean residual "
	       "%.2f\n", sr.rms, sr.raw_rms, sr.shift_resid);
	assert_true(sr.rms <= 1.3);
	assert_true(sr.shift_resid <= -8);
}

/*
 * The point of the baseline: a CUSUM on the raw daily pattern alarms at every
 * change of phase, one on the seasonal residual stays quiet.
 */
static void test_seasonal_not_flagged(void **state)
{
	struct pm_seasonal_cfg cfg;
	struct pm_change_cfg ccfg;
	struct pm_seasonal s;
	struct pm_change raw, res;
	struct rng r;
	double t;
	int a_raw = 0, a_res = 0;

	(void)state;
	seasonal_cfg(&cfg);
	assert_int_equal(seasonal__init(&s, &cfg), 0);
	change_cfg(&ccfg, PM_CHANGE_CUSUM);
	assert_int_equal(change__init(&raw, &ccfg), 0);
	assert_int_equal(change__init(&res, &ccfg), 0);
	rng_seed(&r, 41);
	for (t = 0; t < 20 * PERIOD_S; t += TICK_S) {
		double x = square_day(t) + rng_gauss(&r);

		if (t >= PERIOD_S) {
			a_raw += change__update(&raw, x, NULL);
			a_res += change__update(&res, seasonal__residual(&s, t, x), NULL);
		}
		assert_int_equal(seasonal__update(&s, t, x), 0);
	}
	printf("19 days of the square day: CUSUM alarms on the raw series %d, on the seasonal "
	       "residual %d\n", a_raw, a_res);
	assert_true(a_raw >= 19);
	assert_int_equal(a_res, 0);
}

static void test_seasonal_edges(void **state)
{
	struct pm_seasonal_cfg cfg;
	struct pm_seasonal s, copy;
	double e;
	int i;

	(void)state;
	seasonal_cfg(&cfg);
	cfg.slots = 1;
	assert_int_equal(seasonal__init(&s, &cfg), -EINVAL);
	cfg.slots = PM_SEASONAL_SLOTS_MAX + 1;
	assert_int_equal(seasonal__init(&s, &cfg), -EINVAL);
	seasonal_cfg(&cfg);
	cfg.slot_s = 0;
	assert_int_equal(seasonal__init(&s, &cfg), -EINVAL);
	seasonal_cfg(&cfg);
	cfg.gamma = 1.5;
	assert_int_equal(seasonal__init(&s, &cfg), -EINVAL);
	seasonal_cfg(&cfg);
	assert_int_equal(seasonal__init(&s, &cfg), 0);
	assert_int_equal(seasonal__expected(&s, 0, &e), -ENODATA);
	assert_true(seasonal__residual(&s, 0, 5) == 0);
	/* before the first period is over: the mean so far */
	assert_int_equal(seasonal__update(&s, -30, 4), 0);	/* negative times are fine */
	assert_int_equal(seasonal__update(&s, 100, 6), 0);
	assert_int_equal(seasonal__expected(&s, 100, &e), 0);
	assert_true(e == 4);
	copy = s;
	assert_int_equal(seasonal__update(&s, -61, 1), -EINVAL);	/* an earlier slot */
	assert_int_equal(seasonal__update(&s, 200, NAN), -EINVAL);
	assert_int_equal(seasonal__update(&s, INFINITY, 1), -EINVAL);
	assert_int_equal(seasonal__update(&s, 1e300, 1), -EINVAL);
	assert_memory_equal(&s, &copy, sizeof(s));
	/* a gap of several periods, then data again: finite forecasts */
	for (i = 0; i < 3 * SLOTS; i++)
		assert_int_equal(seasonal__update(&s, 200 + i * SLOT_S, i % SLOTS), 0);
	assert_int_equal(seasonal__update(&s, 1e6, 3), 0);
	assert_int_equal(seasonal__update(&s, 1e6 + SLOT_S, 3), 0);
	assert_true(seasonal__ready(&s));
	assert_int_equal(seasonal__expected(&s, 1e6 + 100 * PERIOD_S, &e), 0);
	assert_true(isfinite(e));
	assert_int_equal(seasonal__update(&s, 1e6 + 2 * SLOT_S, PM_MODEL_VALUE_MAX), 0);
	assert_int_equal(seasonal__update(&s, 1e6 + 3 * SLOT_S, -PM_MODEL_VALUE_MAX), 0);
	assert_true(isfinite(seasonal__residual(&s, 1e6 + 4 * SLOT_S, PM_MODEL_VALUE_MAX)));
	assert_int_equal(seasonal__expected(&s, 1e6 + 4 * SLOT_S, &e), 0);
	assert_true(isfinite(e));
}

/* ---- one pod ---- */

static void test_pod_model(void **state)
{
	static struct pm_pod_model pm;
	struct pm_pod_model *m = &pm;
	struct pm_change_alarm al;
	double q;
	int i, rc, alarms = 0;

	(void)state;
	printf("per-pod model state: %zu bytes (ewma %zu x 2, change %zu, seasonal %zu), a "
	       "container's sketch %zu\n", sizeof(*m), sizeof(m->cpu_ewma), sizeof(m->cost),
	       sizeof(m->cpu_season), sizeof(struct pm_sketch));
	assert_true(sizeof(*m) <= 4096);
	pod_model__init(m);
	for (i = 0; i < 2000; i++) {
		double cost = i < 1000 ? 0.10 : 0.30;

		rc = pod_model__update(m, i * 10.0, 0.25, 300e6, cost + 0.001 * (i % 7), &al);
		assert_true(rc == 0 || rc == 1);
		if (rc == 1) {
			printf("cost rate 0.10 -> 0.30 at tick 1000: alarm at tick %d, dir %+d, "
			       "shift %.4f, onset: the last %u tick(s)\n", i, al.dir, al.shift,
			       al.since);
			alarms++;
			assert_int_equal(al.dir, 1);
			assert_true(fabs(al.shift - 0.2) < 0.01);
		}
	}
	assert_int_equal(alarms, 1);
	assert_int_equal(pod_model__update(m, 1e9, NAN, 1, 1, NULL), -EINVAL);
	assert_int_equal(pod_model__update(m, 1e9, 1, -1, 1, NULL), -EINVAL);
	assert_int_equal(pod_model__update(m, 10, 1, 1, 1, NULL), -EINVAL);	/* back in time */
	assert_true(m->cpu_ewma.n == 2000 && m->mem_ewma.n == 2000);
	q = ewma__mean(&m->mem_ewma);
	assert_true(fabs(q - 300e6) <= 300e6 * 1e-6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sketch_distributions),
		cmocka_unit_test(test_sketch_window_moves),
		cmocka_unit_test(test_sketch_merge),
		cmocka_unit_test(test_sketch_decay),
		cmocka_unit_test(test_sketch_edges),
		cmocka_unit_test(test_ewma_converges),
		cmocka_unit_test(test_ewma_half_life),
		cmocka_unit_test(test_ewma_outlier_score),
		cmocka_unit_test(test_ewma_adapts),
		cmocka_unit_test(test_ewma_edges),
		cmocka_unit_test(test_change_delay),
		cmocka_unit_test(test_change_no_false_alarm),
		cmocka_unit_test(test_change_edges),
		cmocka_unit_test(test_seasonal_sine),
		cmocka_unit_test(test_seasonal_square),
		cmocka_unit_test(test_seasonal_not_flagged),
		cmocka_unit_test(test_seasonal_edges),
		cmocka_unit_test(test_pod_model),
	};

	/* no model may raise an invalid operation, a division by zero or an overflow */
	feenableexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
