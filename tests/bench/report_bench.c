// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Report size and encoding time for a node of N pods (default 1000), each
 * with two containers, requests, limits, traffic in two classes and costs:
 * windows of snapshots 60 s apart closed into gzip'ed NodeReports: the
 * first after a start (every right-sizing recommendation new) and the next
 * (recommendations unchanged, so not sent again), which is timed.
 * The baseline, timed in the same run on the same snapshot, is the
 * /v1/pods JSON encoding.
 *   report_bench [PODS] [REPS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <podmeter/exporter.h>
#include <podmeter/report.h>

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
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

static int cmp_uid(const void *a, const void *b)
{
	return strcmp(((const struct pm_pod_snap *)a)->uid, ((const struct pm_pod_snap *)b)->uid);
}

/* @n pods, sorted by uid as the collector sorts them; counters scaled by @step. */
static void fill(struct pm_snapshot *s, int n, double t, unsigned int step)
{
	static const char *const ns[] = { "shop",	"payments", "search", "kube-system",
					  "monitoring", "batch",    "auth",   "web",
					  "data",	"ml" };
	unsigned int seed = 12345;
	int i, k;

	s->time = 1790000000 + t;
	s->mono = t;
	s->has_net = 1;
	s->price[PM_RES_CPU] = 0.031611;
	s->price[PM_RES_MEMORY] = 0.004237;
	s->price[PM_RES_GPU] = 0.95;
	s->capacity[PM_RES_CPU] = 64;
	s->capacity[PM_RES_MEMORY] = 256.0 * (1 << 30);
	for (i = 0; i < n; i++) {
		struct pm_pod_snap *p = &s->pods[i];
		unsigned int r = rand_r(&seed);
		char owner[32], name[48];
		struct pm_pod_names *nm;

		snprintf(p->uid, sizeof(p->uid), "%08x-%04x-4%03x-8%03x-%012x", r, i & 0xffff,
			 r % 4096, (r >> 12) % 4096, r ^ 0x5a5a5a5a);
		snprintf(owner, sizeof(owner), "svc-%d", i / 3);
		snprintf(name, sizeof(name), "svc-%d-7f9c8d6b5-%05x", i / 3, r % 0xfffff);
		nm = snapshot__names_new(ns[i % 10], name, "Deployment", owner, NULL, NULL);
		if (!nm)
			abort();
		snapshot__pod_names(p, nm);
		p->qos = PM_QOS_BURSTABLE;
		p->cpu_ns = (uint64_t)step * (r % 2000000000ULL);
		p->runq_ns = p->cpu_ns / 20;
		p->working_set_bytes = (long long)(r % (512u << 20));
		p->net_bytes[0][1] = (uint64_t)step * (r % 10000000);
		p->net_packets[0][1] = p->net_bytes[0][1] / 1200;
		p->net_bytes[1][1] = (uint64_t)step * (r % 20000000);
		p->net_packets[1][1] = p->net_bytes[1][1] / 1200;
		p->net_bytes[0][4] = (uint64_t)step * (r % 100000);
		p->net_packets[0][4] = p->net_bytes[0][4] / 1200;
		p->processes = 1 + r % 8;
		p->process_starts = step * (r % 5);
		for (k = 0; k < PM_RES_MAX; k++)
			p->cost_dollars[k] = step * (r % 1000) * 1e-7;
		p->waste_dollars[PM_RES_CPU] = step * (r % 700) * 1e-7;
		p->savings_dollars_month = (double)(r % 5000) / 100;
		p->n_containers = 2;
		p->containers = calloc(2, sizeof(*p->containers));
		for (k = 0; k < 2; k++) {
			struct pm_container_snap *c = &p->containers[k];

			/* runtime ids are sha256 hex: as random as it gets */
			snprintf(c->id, sizeof(c->id), "%08x%08x%08x%08x%08x%08x%08x%08x",
				 rand_r(&seed), rand_r(&seed), rand_r(&seed), rand_r(&seed),
				 rand_r(&seed), rand_r(&seed), rand_r(&seed), rand_r(&seed));
			snprintf(c->name, sizeof(c->name), k ? "istio-proxy" : "app");
			c->cpu_ns = p->cpu_ns / 2;
			c->cpu_request_milli = k ? 100 : 500;
			c->memory_request_bytes = k ? 128 << 20 : 512 << 20;
			c->cpu_limit_milli = k ? 2000 : -1;
			c->memory_limit_bytes = k ? 1 << 30 : 1 << 30;
			/* right-sizing, as after a day of a steady load */
			c->rec_cpu_cores = (r % 3000) / 1000.0 + 0.01;
			c->rec_memory_bytes = (double)((r % 1024) + 20) * 1048576 * 1.2;
			c->rec_confidence = 0.5;
		}
	}
	qsort(s->pods, n, sizeof(*s->pods), cmp_uid);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000, reps = argc > 2 ? atoi(argv[2]) : 21, i;
	struct pm_report_meta meta = { .cluster = "prod", .node = "node-a", .agent_version = "b" };
	double *enc = calloc(reps, sizeof(double)), *js = calloc(reps, sizeof(double)), t;
	size_t gzlen = 0, jslen = 0, rawlen = 0, firstlen = 0;
	void *gz, *raw;

	for (i = 0; i < reps; i++) {
		struct pm_snapshot *a = snapshot__new(n), *b = snapshot__new(n),
				   *c = snapshot__new(n);
		struct pm_report_window *w = report__window_new();
		char *text;

		fill(a, n, 0, 1);
		fill(b, n, 60, 2);
		fill(c, n, 120, 3);
		report__window_tick(w, a);
		report__window_tick(w, b);
		meta.seq = 2 * i + 1;
		/* the first report: every recommendation is new and sent */
		if (report__window_close(w, &meta, &gz, &firstlen)) {
			fprintf(stderr, "report_bench: encoding failed\n");
			return 1;
		}
		free(gz);
		/* the next: recommendations unchanged, not sent again */
		report__window_tick(w, c);
		meta.seq++;
		t = now_s();
		if (report__window_close(w, &meta, &gz, &gzlen)) {
			fprintf(stderr, "report_bench: encoding failed\n");
			return 1;
		}
		enc[i] = now_s() - t;
		if (!gz__decompress(gz, gzlen, PM_REPORT_MAX_BYTES, &raw, &rawlen))
			free(raw);
		free(gz);
		t = now_s();
		text = json__pods(c);
		js[i] = now_s() - t;
		jslen = strlen(text);
		free(text);
		report__window_free(w);
		snapshot__put(a);
		snapshot__put(b);
		snapshot__put(c);
	}
	printf("report: %d pods: %zu bytes gzip'ed (%zu packed), %.1f bytes/pod (goal < 100)\n", n,
	       gzlen, rawlen, (double)gzlen / n);
	printf("report: the first after a start, every recommendation sent: %.1f bytes/pod\n",
	       (double)firstlen / n);
	printf("report: encode + gzip %.2f ms (median of %d; goal < 10 ms for 1000 pods)\n",
	       median(enc, reps) * 1e3, reps);
	printf("report: baseline /v1/pods JSON of the same snapshot %.2f ms, %zu bytes; report "
	       "time / JSON time = %.2f\n",
	       median(js, reps) * 1e3, jslen, median(enc, reps) / median(js, reps));
	free(enc);
	free(js);
	return 0;
}
