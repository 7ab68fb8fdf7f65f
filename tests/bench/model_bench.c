// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-pod model state and update cost: the detector's whole state for a pod
 * of two containers (detect__state_bytes: the pod's models, its detector
 * fields, a CPU sketch per container), and the time to update all of one
 * pod's models with one sample (two EWMAs, the cost-rate change detector,
 * the seasonal baseline, and the two containers' sketches). The baseline,
 * timed in the same run, is the same loop generating the same samples and
 * only summing them; the update cost is the difference, per sample.
 * Two shapes: one pod (its state stays in L1) and PODS pods in turn, as a
 * collector tick walks a node's pods (the state comes from further away).
 * Runs interleave baseline and models; figures are medians over RUNS.
 *   model_bench [SAMPLES] [RUNS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <podmeter/detect.h>
#include <podmeter/model.h>

#define CONTAINERS 2

struct bench_pod {
	struct pm_pod_model m;
	struct pm_sketch ctr[CONTAINERS];
};

#define PODS 1000
#define TICK_S 10.0

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
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

struct sample {
	double cpu, mem, cost;
};

/* A busy-ish pod: CPU 0.1..0.5 cores, 300 MB +- 10 MB, a cost rate around 0.02/h. */
static inline void gen(uint64_t *s, struct sample *x)
{
	double u = next_u(s);

	x->cpu = 0.1 + 0.4 * u;
	x->mem = 290e6 + 20e6 * u;
	x->cost = 0.02 + 0.001 * u;
}

/* ns for @n samples spread over @npods pods; @models: update them, or just sum */
static double run(struct bench_pod *pods, int npods, long n, int models, double *sink)
{
	uint64_t seed = 42;
	double t0, acc = 0;
	long i;
	int p = 0;

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		struct sample x;

		gen(&seed, &x);
		if (models) {
			acc += pod_model__update(&pods[p].m, 1e6 + (i / npods + 1) * TICK_S, x.cpu,
						 x.mem, x.cost, NULL);
			acc += sketch__add(&pods[p].ctr[0], x.cpu * 0.7);
			acc += sketch__add(&pods[p].ctr[1], x.cpu * 0.3);
		} else
			acc += x.cpu + x.mem + x.cost;
		if (++p == npods)
			p = 0;
	}
	*sink += acc;
	return now_ns() - t0;
}

static void bench(struct bench_pod *pods, int npods, long n, int runs)
{
	double base[64], model[64], ratio[64], sink = 0, b, m;
	int r, i;

	for (r = 0; r < runs; r++) {
		for (i = 0; i < npods; i++) {
			pod_model__init(&pods[i].m);
			sketch__init(&pods[i].ctr[0], PM_SKETCH_ALPHA_POD);
			sketch__init(&pods[i].ctr[1], PM_SKETCH_ALPHA_POD);
		}
		base[r] = run(pods, npods, n, 0, &sink);
		model[r] = run(pods, npods, n, 1, &sink);
		ratio[r] = model[r] / base[r];
	}
	b = median(base, runs) / n;
	m = median(model, runs) / n;
	printf("%4d pod(s), %ld samples x %d runs: baseline %.1f ns/sample, with models %.1f "
	       "ns/sample: update %.1f ns (goal <= 1000), ratio to baseline %.2f\n", npods, n, runs,
	       b, m, m - b, median(ratio, runs));
	if (sink == 0.5)	/* keeps the loops' results alive */
		printf("%g\n", sink);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	int runs = argc > 2 ? atoi(argv[2]) : 7;
	struct bench_pod *pods;

	if (n < PODS || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: model_bench [SAMPLES >= %d] [RUNS 1..64]\n", PODS);
		return 2;
	}
	pods = calloc(PODS, sizeof(*pods));
	if (!pods) {
		fprintf(stderr, "model_bench: out of memory\n");
		return 1;
	}
	printf("per-pod state, %d containers: %zu bytes (goal <= 4096): pod models %zu (ewma %zu "
	       "x 2, change %zu, seasonal %zu), a container's sketch %zu; 1 container: %zu, "
	       "3: %zu\n",
	       CONTAINERS, detect__state_bytes(CONTAINERS), sizeof(struct pm_pod_model),
	       sizeof(struct pm_ewma), sizeof(struct pm_change), sizeof(struct pm_seasonal),
	       sizeof(struct pm_sketch), detect__state_bytes(1), detect__state_bytes(3));
	bench(pods, 1, n, runs);
	bench(pods, PODS, n, runs);
	free(pods);
	return 0;
}
