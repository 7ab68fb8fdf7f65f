// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Seeds written by podmeter's own code, so the fuzzers start from what the
 * parsers really read: a window of two snapshots of three pods (containers,
 * traffic, a GPU pod, findings) closed into a report, that report packed,
 * gzip'ed and spooled, and the /v1/pods documents of the two snapshots.
 *   mkseeds DIR    writes DIR/{pbjson,gz,decode,spool,top}/...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <podmeter/exporter.h>
#include <podmeter/report.h>
#include <podmeter/spool.h>

static void die(const char *what)
{
	fprintf(stderr, "mkseeds: %s\n", what);
	exit(1);
}

static void put(const char *dir, const char *sub, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0755) && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		die(path);
}

static void container(struct pm_container_snap *c, const char *id, const char *name, int step)
{
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->runtime = PM_RT_CONTAINERD;
	c->cpu_ns = step * 1500000000ULL;
	c->cpu_seconds = c->cpu_ns / 1e9;
	c->working_set_bytes = 96 << 20;
	c->cpu_request_milli = 250;
	c->memory_request_bytes = 128 << 20;
	c->cpu_limit_milli = -1;
	c->memory_limit_bytes = 256 << 20;
	c->rec_cpu_cores = 0.12;
	c->rec_memory_bytes = 140.0 * (1 << 20);
	c->rec_confidence = 0.5;
}

static void pod(struct pm_pod_snap *p, int i, int step)
{
	static const char *const uids[] = { "2f5a7c1e-3b4d-4e8f-9a0b-1c2d3e4f5a6b",
					    "7e3b1c2d-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
					    "c0ffee00-1234-4abc-9def-0123456789ab" };
	static const char *const names[] = { "web-5d9c8f7b6-x2kqp", "trainer-0", "orphan" };
	struct pm_finding_snap *f;

	snprintf(p->uid, sizeof(p->uid), "%s", uids[i]);
	p->namespace_ = i == 1 ? "ml" : "shop";
	p->name = names[i];
	p->owner_kind = i == 1 ? "StatefulSet" : "Deployment";
	p->owner_name = i == 1 ? "trainer" : "web";
	p->node = "node-a";
	p->has_meta = 1;
	p->qos = i == 1 ? PM_QOS_GUARANTEED : PM_QOS_BURSTABLE;
	p->cpu_ns = step * 3000000000ULL * (i + 1);
	p->cpu_seconds = p->cpu_ns / 1e9;
	p->runq_ns = p->cpu_ns / 20;
	p->working_set_bytes = (192LL << 20) * (i + 1);
	p->net_bytes[0][1] = step * 123456ULL;
	p->net_packets[0][1] = step * 100ULL;
	p->net_bytes[1][4] = step * 98765ULL;
	p->net_packets[1][4] = step * 80ULL;
	p->processes = 3;
	p->process_starts = step;
	p->cost_dollars[PM_RES_CPU] = step * 1e-4;
	p->cost_dollars[PM_RES_MEMORY] = step * 2e-5;
	p->waste_dollars[PM_RES_CPU] = step * 3e-5;
	p->gpu_utilization = -1;
	p->n_containers = 2;
	p->containers = calloc(2, sizeof(*p->containers));
	if (!p->containers)
		die("out of memory");
	container(&p->containers[0], i ? "8c1f0e6a2b3d4c5e" : "495bedb5e9bccf9d", "app", step);
	container(&p->containers[1], i ? "1a2b3c4d5e6f7081" : "0123456789abcdef", "sidecar", step);
	if (i == 1) {
		p->cuda.launches = step * 1000ULL;
		p->cuda.memory_bytes = 8LL << 30;
		p->gpu_request = p->gpu_limit = 1;
		p->gpu_utilization = 0.875;
		p->gpu_jobs = step * 50ULL;
	}
	if (i == 2) {
		p->idle = 1;
		p->idle_seconds = 3600;
		p->zombies = 1;
		p->n_findings = 1;
		p->findings = f = calloc(1, sizeof(*f));
		if (!f)
			die("out of memory");
		snprintf(f->id, sizeof(f->id), "0123456789abcdef");
		snprintf(f->kind, sizeof(f->kind), "idle");
		f->since = 1790000000;
		f->score = 0.75;
		snprintf(f->detail, sizeof(f->detail), "under 5%% of its CPU request for 1h");
		f->n_attrs = 2;
		snprintf(f->attrs[0].key, sizeof(f->attrs[0].key), "cpu_max_cores");
		snprintf(f->attrs[0].value, sizeof(f->attrs[0].value), "0.004");
		snprintf(f->attrs[1].key, sizeof(f->attrs[1].key), "window");
		snprintf(f->attrs[1].value, sizeof(f->attrs[1].value), "3600s");
	}
}

static struct pm_snapshot *snap(int step)
{
	struct pm_snapshot *s = snapshot__new(3);
	int i;

	if (!s)
		die("out of memory");
	s->time = 1790000000 + 60.0 * step;
	s->mono = 60.0 * step;
	s->has_net = s->has_gpu = s->has_cuda = 1;
	s->price[PM_RES_CPU] = 0.031611;
	s->price[PM_RES_MEMORY] = 0.004237;
	s->price[PM_RES_GPU] = 0.95;
	s->capacity[PM_RES_CPU] = 16;
	s->capacity[PM_RES_MEMORY] = 64.0 * (1 << 30);
	s->capacity[PM_RES_GPU] = 1;
	s->egress_price_gib[PM_NET_INTERNET] = 0.12;
	s->node_cpu_pods_seconds = step * 18.0;
	s->node_cpu_overhead_seconds = step * 2.0;
	for (i = 0; i < 3; i++)
		pod(&s->pods[i], i, step);
	return s;
}

int main(int argc, char **argv)
{
	struct pm_report_meta meta = {
		.cluster = "prod-eu", .node = "node-a", .agent_version = "0.1.0", .seq = 42
	};
	struct pm_snapshot *a, *b;
	struct pm_report_window *w;
	char *ja, *jb, *both, err[512], name[64];
	size_t gzlen, pblen, la, lb;
	void *gz, *pb, *payload;
	struct pm_spool *sp;
	uint64_t seq;
	int ret;

	if (argc != 2)
		die("usage: mkseeds DIR");
	a = snap(1);
	b = snap(2);
	w = report__window_new();
	if (!w || report__window_tick(w, a) || report__window_tick(w, b) ||
	    report__window_close(w, &meta, &gz, &gzlen))
		die("closing the report failed");
	if (gz__decompress(gz, gzlen, PM_REPORT_MAX_BYTES, &pb, &pblen))
		die("the report does not inflate");
	put(argv[1], "pbjson", "report-3pods.pb", pb, pblen);
	put(argv[1], "decode", "report-3pods.pb", pb, pblen);
	put(argv[1], "gz", "report-3pods.gz", gz, gzlen);
	put(argv[1], "decode", "report-3pods.gz", gz, gzlen);

	/* a spool file as the agent leaves it, read back from a fresh spool */
	snprintf(name, sizeof(name), "/tmp/mkseeds.XXXXXX");
	if (!mkdtemp(name))
		die("mkdtemp failed");
	if (spool__open(&sp, name, 1 << 20, err, sizeof(err)))
		die(err);
	if ((ret = spool__put(sp, spool__next_seq(sp), gz, gzlen, err, sizeof(err))) < 0)
		die(err);
	if (spool__oldest(sp, &seq, &payload, &la))
		die("the spool lost the report");
	free(payload);
	snprintf(err, sizeof(err), "%s/%020llu.pmr", name, (unsigned long long)seq);
	{
		FILE *f = fopen(err, "rb");
		static char buf[1 << 20];
		size_t n;

		if (!f)
			die(err);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		put(argv[1], "spool", "report.pmr", buf, n);
		put(argv[1], "decode", "report.pmr", buf, n);
	}
	spool__remove(sp, seq);
	spool__close(sp);
	snprintf(err, sizeof(err), "rm -rf -- '%s'", name);
	if (system(err))
		die("cannot remove the temporary spool");

	/* two readings of /v1/pods, as `podmeter top` reads them, split by a NUL */
	ja = json__pods(a);
	jb = json__pods(b);
	if (!ja || !jb)
		die("json__pods failed");
	la = strlen(ja);
	lb = strlen(jb);
	both = malloc(la + 1 + lb);
	if (!both)
		die("out of memory");
	memcpy(both, ja, la + 1);
	memcpy(both + la + 1, jb, lb);
	put(argv[1], "top", "two-readings.json", both, la + 1 + lb);
	put(argv[1], "top", "one-reading.json", jb, lb);
	free(both);
	free(ja);
	free(jb);
	free(gz);
	free(pb);
	report__window_free(w);
	snapshot__put(a);
	snapshot__put(b);
	return 0;
}
