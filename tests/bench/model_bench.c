// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The anomaly detector's budgets: the state of one series (struct
 * pm_anomaly: goal <= 4096 bytes) and the CPU time of one sample of one
 * series (goal <= 1000 ns), and what a pod costs the detector in all
 * (detect__state_bytes: its two series, its detector fields, a CPU sketch
 * per container) and per tick (both series and two containers' sketches).
 *
 * The series is a daily pattern with noise every 5 minutes, the detector's
 * most expensive case: all three baselines (level, daily, weekly) scored
 * once their profiles have seen two periods, so the timed samples come
 * after ANOM_WARM_S of warm-up. The baseline, timed in the same run, is
 * the same loop generating the same samples and only summing them; the
 * update cost is the difference, per sample. Times are the thread's CPU
 * time (CLOCK_THREAD_CPUTIME_ID), so a busy machine slows the figures down
 * less than wall time would. Two shapes: one series (its state stays in
 * L1) and SERIES series in turn, as a collector tick walks a node's pods.
 * Runs interleave baseline and models (which go on learning from run to
 * run); figures are medians over RUNS.
 *   model_bench [SAMPLES] [RUNS]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <podmeter/detect.h>
#include <podmeter/model.h>

#define SERIES	   1000
#define STEP_S	   300.0
#define WARM_S	   (15 * 86400.0) /* two weeks and a day: every baseline is scored */
#define CONTAINERS 2

static double cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* splitmix64, then a uniform in [0, 1) */
static inline double next_u(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return ((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

/* Sample @i: a daily swing of +-20 around 50, uniform noise of +-2. */
static inline double gen(uint64_t *s, long i)
{
	return 50 + 20 * sin(2 * M_PI * fmod(i * STEP_S, 86400) / 86400) + 4 * (next_u(s) - 0.5);
}

static void warm(struct pm_anomaly *a, int nseries)
{
	struct pm_anomaly_result res;
	struct pm_anomaly_cfg cfg;
	uint64_t seed = 7;
	long i, n = (long)(WARM_S / STEP_S);
	int k;

	anomaly__defaults(&cfg);
	for (k = 0; k < nseries; k++) {
		anomaly__init(&a[k], &cfg);
		for (i = 0; i < n; i++)
			anomaly__update(&a[k], 1.5e9 + i * STEP_S, gen(&seed, i), &res);
	}
}

/*
 * CPU ns for @n samples spread over @nseries series from tick @first on;
 * @models: update them, or just sum.
 */
static double run(struct pm_anomaly *a, int nseries, long n, long first, int models, double *sink)
{
	long i;
	struct pm_anomaly_result res;
	uint64_t seed = 42;
	double t0, acc = 0;
	int k = 0;

	t0 = cpu_ns();
	for (i = 0; i < n; i++) {
		long tick = first + i / nseries;
		double x = gen(&seed, tick);

		if (models) {
			anomaly__update(&a[k], 1.5e9 + tick * STEP_S, x, &res);
			acc += res.score;
		} else {
			acc += x;
		}
		if (++k == nseries)
			k = 0;
	}
	*sink += acc;
	return cpu_ns() - t0;
}

static void bench(struct pm_anomaly *a, int nseries, long n, int runs)
{
	double base[64], model[64], ratio[64], sink = 0, b, m;
	long tick = (long)(WARM_S / STEP_S);
	int r;

	warm(a, nseries);
	for (r = 0; r < runs; r++) {
		base[r] = run(a, nseries, n, tick, 0, &sink);
		model[r] = run(a, nseries, n, tick, 1, &sink);
		ratio[r] = model[r] / base[r];
		/* time goes on: the next run's samples come after these */
		tick += n / nseries + 1;
	}
	b = median(base, runs) / n;
	m = median(model, runs) / n;
	printf("%4d series, %ld samples x %d runs: baseline %.1f ns/sample, with the detector "
	       "%.1f ns/sample: update %.1f ns/sample/series (goal <= 1000), ratio to baseline "
	       "%.2f; baselines in use: %s\n",
	       nseries, n, runs, b, m, m - b, median(ratio, runs),
	       a[0].season == 1	  ? "level + daily"
	       : a[0].season == 2 ? "level + weekly"
				  : "level");
	if (sink == 0.5) /* keeps the loops' results alive */
		printf("%g\n", sink);
}

/* One pod's tick: both detectors and two containers' sketches, as detect.c does. */
static void bench_pod(long n)
{
	struct pm_sketch ctr[CONTAINERS];
	struct pm_anomaly_result cr, ur;
	struct pm_pod_model m;
	uint64_t seed = 3;
	double t0, t1, acc = 0;
	long i;

	pod_model__init(&m, 86400);
	sketch__init(&ctr[0], PM_SKETCH_ALPHA_POD);
	sketch__init(&ctr[1], PM_SKETCH_ALPHA_POD);
	t0 = cpu_ns();
	for (i = 0; i < n; i++) {
		double cpu = 0.1 + 0.4 * next_u(&seed);

		pod_model__update(&m, 1.5e9 + i * 10.0, cpu, 0.02 + cpu * 0.03, &cr, &ur);
		sketch__add(&ctr[0], cpu * 0.7);
		sketch__add(&ctr[1], cpu * 0.3);
		acc += cr.score + ur.score;
	}
	t1 = cpu_ns();
	printf("a pod's tick (two series and two containers' sketches), %ld ticks: %.1f ns; "
	       "the sketches hold %zu and %zu bytes of bins\n",
	       n, (t1 - t0) / n, sketch__bytes(&ctr[0]), sketch__bytes(&ctr[1]));
	sketch__free(&ctr[0]);
	sketch__free(&ctr[1]);
	if (acc == 0.5)
		printf("%g\n", acc);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	struct pm_anomaly *a;

	if (n < SERIES || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: model_bench [SAMPLES >= %d] [RUNS 1..64]\n", SERIES);
		return 2;
	}
	a = calloc(SERIES, sizeof(*a));
	if (!a) {
		fprintf(stderr, "model_bench: out of memory\n");
		return 1;
	}
	printf("state of one series: %zu bytes (goal <= 4096): 3 baselines x %zu, daily and "
	       "weekly profiles %zu and %zu\n",
	       sizeof(struct pm_anomaly), sizeof(struct anomaly_track),
	       sizeof(struct pm_profile) + PM_ANOMALY_DAY_SLOTS * (sizeof(float) + 1),
	       sizeof(struct pm_profile) + PM_ANOMALY_WEEK_SLOTS * (sizeof(float) + 1));
	printf("state of a pod, %d containers: at most %zu bytes (its two series %zu, a "
	       "container's sketch %zu and up to %zu of bins); 1 container: %zu, 3: %zu\n",
	       CONTAINERS, detect__state_bytes(CONTAINERS), sizeof(struct pm_pod_model),
	       sizeof(struct pm_sketch), PM_SKETCH_BINS * sizeof(float), detect__state_bytes(1),
	       detect__state_bytes(3));
	bench(a, 1, n, runs);
	bench(a, SERIES, n, runs);
	bench_pod(n / 10);
	free(a);
	return 0;
}
