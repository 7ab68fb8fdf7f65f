// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reports: the NodeReport schema through protobuf-c (every field set by hand,
 * packed, unpacked, compared), the gzip helpers, and the JSON rendering of
 * `podmeter decode` and `podmeter receive`.
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
#include <jansson.h>
#include <podmeter/report.h>
#include "podmeter.pb-c.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a NodeReport with every field at a distinct, non-default value ---- */

struct fixture {
	Podmeter__V1__NodeReport report;
	Podmeter__V1__Prices prices;
	Podmeter__V1__EgressPrice egress[2], *egress_p[2];
	Podmeter__V1__Capacity capacity;
	Podmeter__V1__NodeUsage usage;
	Podmeter__V1__Dollars idle, overhead, cost, waste;
	Podmeter__V1__PodReport pod, *pod_p[1];
	Podmeter__V1__ContainerReport ctr[2], *ctr_p[2];
	Podmeter__V1__Resources req[2], lim[2];
	Podmeter__V1__NetTraffic net[2], *net_p[2];
	Podmeter__V1__Finding pod_finding, *pod_finding_p[1];
	Podmeter__V1__Finding node_finding, *node_finding_p[1];
	Podmeter__V1__Finding__AttributesEntry attr[3], *pod_attr_p[2], *node_attr_p[1];
	Podmeter__V1__Histogram hist[2];
	uint64_t counts[2][3];
	Podmeter__V1__PodReport__LabelsEntry label[2], *label_p[2];
};

static void fixture_dollars(Podmeter__V1__Dollars *d, uint64_t base)
{
	podmeter__v1__dollars__init(d);
	d->cpu_nanodollars = base + 1;
	d->memory_nanodollars = base + 2;
	d->gpu_nanodollars = base + 3;
	d->network_nanodollars = base + 4;
}

static void fixture_resources(Podmeter__V1__Resources *r, int64_t cpu, int64_t mem, int64_t gpus)
{
	podmeter__v1__resources__init(r);
	r->cpu_millicores = cpu;
	r->memory_bytes = mem;
	r->gpus = gpus;
}

static void fixture_attr(Podmeter__V1__Finding__AttributesEntry *e, const char *k, const char *v)
{
	podmeter__v1__finding__attributes_entry__init(e);
	e->key = (char *)k;
	e->value = (char *)v;
}

static void fixture_containers(struct fixture *fx)
{
	static const char *ids[] = { "0123456789abcdef", "fedcba9876543210" };
	static const char *names[] = { "app", "sidecar" };
	size_t i;

	fixture_resources(&fx->req[0], 250, 268435456, 1);
	fixture_resources(&fx->lim[0], -1, 536870912, 2); /* no CPU limit */
	fixture_resources(&fx->req[1], 100, 67108864, 3);
	fixture_resources(&fx->lim[1], 500, -1, 4); /* no memory limit */
	for (i = 0; i < 2; i++) {
		podmeter__v1__container_report__init(&fx->ctr[i]);
		fx->ctr[i].id = (char *)ids[i];
		fx->ctr[i].name = (char *)names[i];
		fx->ctr[i].requests = &fx->req[i];
		fx->ctr[i].limits = &fx->lim[i];
		fx->ctr[i].cpu_usec = 1000001 + i;
		fx->ctr[i].recommended_cpu_millicores = 250 + i;
		fx->ctr[i].recommended_memory_mib = 120 + i;
		fx->ctr[i].recommendation_confidence_percent = 50 + i;
		podmeter__v1__histogram__init(&fx->hist[i]);
		fx->hist[i].relative_accuracy = 0.02;
		fx->hist[i].min_value = 0.001;
		fx->hist[i].zero_count = 7 + i;
		fx->hist[i].first_key = -40 - (int)i; /* sint32: negative on the wire */
		fx->counts[i][0] = 1;
		fx->counts[i][1] = 0;
		fx->counts[i][2] = 300000000000ULL + i;
		fx->hist[i].n_counts = 3;
		fx->hist[i].counts = fx->counts[i];
		fx->ctr[i].cpu_cores = &fx->hist[i];
		fx->ctr[i].memory_working_set_peak_bytes = 5368709120ULL + i;
		fx->ctr[i].oom_kills = 2 + i;
		fx->ctr[i].cpu_throttled_periods = 1234 + i;
		fx->ctr[i].cpu_throttled_usec = 5678901 + i;
		fx->ctr_p[i] = &fx->ctr[i];
	}
}

static void fixture_network(struct fixture *fx)
{
	podmeter__v1__net_traffic__init(&fx->net[0]);
	fx->net[0].direction = PODMETER__V1__DIRECTION__RX;
	fx->net[0].class_ = PODMETER__V1__NET_CLASS__CROSS_ZONE;
	fx->net[0].bytes = 123456789;
	fx->net[0].packets = 4321;
	podmeter__v1__net_traffic__init(&fx->net[1]);
	/* the default, next to one that is not */
	fx->net[1].direction = PODMETER__V1__DIRECTION__TX;
	fx->net[1].class_ = PODMETER__V1__NET_CLASS__INTERNET;
	fx->net[1].bytes = 9876543210ULL;
	fx->net[1].packets = 8765;
	fx->net_p[0] = &fx->net[0];
	fx->net_p[1] = &fx->net[1];
}

static void fixture_findings(struct fixture *fx)
{
	fixture_attr(&fx->attr[0], "window", "300s");
	fixture_attr(&fx->attr[1], "cpu_p95", "0.01");
	fixture_attr(&fx->attr[2], "pid", "4242");
	fx->pod_attr_p[0] = &fx->attr[0];
	fx->pod_attr_p[1] = &fx->attr[1];
	fx->node_attr_p[0] = &fx->attr[2];

	podmeter__v1__finding__init(&fx->pod_finding);
	fx->pod_finding.kind = "idle";
	fx->pod_finding.score = 0.875;
	fx->pod_finding.detail = "no CPU used in 5 minutes";
	fx->pod_finding.n_attributes = 2;
	fx->pod_finding.id = "0123456789abcdef";
	fx->pod_finding.since = 1700000000.5;
	fx->pod_finding.attributes = fx->pod_attr_p;
	fx->pod_finding_p[0] = &fx->pod_finding;

	podmeter__v1__finding__init(&fx->node_finding);
	fx->node_finding.kind = "zombie";
	fx->node_finding.score = 0.5;
	fx->node_finding.detail = "a zombie outside pods";
	fx->node_finding.n_attributes = 1;
	fx->node_finding.id = "fedcba9876543210";
	fx->node_finding.since = 1700000001.25;
	fx->node_finding.attributes = fx->node_attr_p;
	fx->node_finding_p[0] = &fx->node_finding;
}

static void fixture_pod(struct fixture *fx)
{
	Podmeter__V1__PodReport *p = &fx->pod;

	fixture_containers(fx);
	fixture_network(fx);
	fixture_dollars(&fx->cost, 10000000000ULL);
	fixture_dollars(&fx->waste, 20000);
	podmeter__v1__pod_report__init(p);
	p->uid = "6f1c2a3b-4d5e-4f60-8172-839405162738";
	p->namespace_ = "shop";
	p->name = "cart-7d9f8b6c5-x2x4z";
	p->owner_kind = "Deployment";
	p->owner_name = "cart";
	p->qos = PODMETER__V1__QOS__BURSTABLE;
	p->n_containers = 2;
	p->containers = fx->ctr_p;
	p->cpu_usec = 2000003;
	p->runqueue_usec = 3004;
	p->memory_avg_bytes = 104857605;
	p->memory_peak_bytes = 209715206;
	p->n_network = 2;
	p->network = fx->net_p;
	p->tcp_retransmits = 17;
	p->processes = 23;
	p->zombies = 2;
	p->oom_kills = 3;
	p->process_starts = 41;
	p->cost = &fx->cost;
	p->waste = &fx->waste;
	p->n_findings = 1;
	p->findings = fx->pod_finding_p;
	p->gone = 1;
	p->gpu_driver_calls = 51;
	p->gpu_driver_usec = 52;
	p->gpu_kernel_launches = 53;
	p->gpu_memory_peak_bytes = 8589934592ULL;
	p->gpu_memcpy_bytes = 55;
	p->gpu_sync_usec = 56;
	p->gpu_utilization_permille = 875;
	p->gpu_jobs = 57;
	p->anomalies = 2;
	p->savings_cents_per_month = -123456;
	podmeter__v1__pod_report__labels_entry__init(&fx->label[0]);
	fx->label[0].key = "team";
	fx->label[0].value = "payments";
	podmeter__v1__pod_report__labels_entry__init(&fx->label[1]);
	fx->label[1].key = "app.kubernetes.io/name";
	fx->label[1].value = "cart";
	fx->label_p[0] = &fx->label[0];
	fx->label_p[1] = &fx->label[1];
	p->n_labels = 2;
	p->labels = fx->label_p;
	fx->pod_p[0] = p;
}

static void fixture_node(struct fixture *fx)
{
	podmeter__v1__egress_price__init(&fx->egress[0]);
	fx->egress[0].class_ = PODMETER__V1__NET_CLASS__IN_ZONE;
	fx->egress[0].dollars_per_gib = 0.001;
	podmeter__v1__egress_price__init(&fx->egress[1]);
	fx->egress[1].class_ = PODMETER__V1__NET_CLASS__CROSS_REGION;
	fx->egress[1].dollars_per_gib = 0.02;
	fx->egress_p[0] = &fx->egress[0];
	fx->egress_p[1] = &fx->egress[1];
	podmeter__v1__prices__init(&fx->prices);
	fx->prices.cpu_core_hour = 0.031611;
	fx->prices.memory_gib_hour = 0.004237;
	fx->prices.gpu_hour = 0.95;
	fx->prices.n_egress = 2;
	fx->prices.egress = fx->egress_p;

	podmeter__v1__capacity__init(&fx->capacity);
	fx->capacity.cpu_cores = 7.5;
	fx->capacity.memory_bytes = 33554432123ULL;
	fx->capacity.gpus = 1.5;

	fixture_dollars(&fx->idle, 30000);
	fixture_dollars(&fx->overhead, 40000);
	podmeter__v1__node_usage__init(&fx->usage);
	fx->usage.pods_cpu_usec = 5000007;
	fx->usage.overhead_cpu_usec = 6008;
	fx->usage.idle_cost = &fx->idle;
	fx->usage.overhead_cost = &fx->overhead;
}

static void fixture_init(struct fixture *fx)
{
	Podmeter__V1__NodeReport *r = &fx->report;

	memset(fx, 0, sizeof(*fx));
	fixture_node(fx);
	fixture_pod(fx);
	fixture_findings(fx);
	podmeter__v1__node_report__init(r);
	r->cluster = "prod-eu";
	r->node = "node-a.example";
	r->agent_version = "1.2.3";
	r->seq = 1099511627783ULL; /* beyond 32 bits */
	r->window_start = 1700000000.123456;
	r->window_end = 1700000060.987654;
	r->prices = &fx->prices;
	r->capacity = &fx->capacity;
	r->n_pods = 1;
	r->pods = fx->pod_p;
	r->node_usage = &fx->usage;
	r->final = 1;
	r->gpu_utilization_known = 1;
	r->n_findings = 1;
	r->findings = fx->node_finding_p;
}

static void *fixture_pack(const Podmeter__V1__NodeReport *r, size_t *len)
{
	uint8_t *buf;

	*len = podmeter__v1__node_report__get_packed_size(r);
	buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	assert_int_equal(podmeter__v1__node_report__pack(r, buf), *len);
	return buf;
}

/* ---- protobuf round trip ---- */

/* The fixture sets every field; a field added to the schema must be added here. */
static void test_pb_fixture_covers_schema(void **state)
{
	static const struct {
		const ProtobufCMessageDescriptor *d;
		unsigned fields;
	} known[] = {
		{ &podmeter__v1__node_report__descriptor, 13 },
		{ &podmeter__v1__prices__descriptor, 4 },
		{ &podmeter__v1__egress_price__descriptor, 2 },
		{ &podmeter__v1__capacity__descriptor, 3 },
		{ &podmeter__v1__node_usage__descriptor, 4 },
		{ &podmeter__v1__dollars__descriptor, 4 },
		{ &podmeter__v1__resources__descriptor, 3 },
		{ &podmeter__v1__container_report__descriptor, 13 },
		{ &podmeter__v1__histogram__descriptor, 5 },
		{ &podmeter__v1__net_traffic__descriptor, 4 },
		{ &podmeter__v1__pod_report__descriptor, 32 },
		{ &podmeter__v1__finding__descriptor, 6 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(known); i++) {
		if (known[i].d->n_fields != known[i].fields)
			fail_msg("%s has %u fields, this test sets %u: extend the fixture",
				 known[i].d->name, known[i].d->n_fields, known[i].fields);
	}
}

static void check_dollars(const Podmeter__V1__Dollars *d, uint64_t base)
{
	assert_non_null(d);
	assert_int_equal(d->cpu_nanodollars, base + 1);
	assert_int_equal(d->memory_nanodollars, base + 2);
	assert_int_equal(d->gpu_nanodollars, base + 3);
	assert_int_equal(d->network_nanodollars, base + 4);
}

static void check_resources(const Podmeter__V1__Resources *got, const Podmeter__V1__Resources *want)
{
	assert_non_null(got);
	assert_int_equal(got->cpu_millicores, want->cpu_millicores);
	assert_int_equal(got->memory_bytes, want->memory_bytes);
	assert_int_equal(got->gpus, want->gpus);
}

static void check_finding(const Podmeter__V1__Finding *got, const Podmeter__V1__Finding *want)
{
	size_t i;

	assert_string_equal(got->kind, want->kind);
	assert_true(got->score == want->score);
	assert_string_equal(got->detail, want->detail);
	assert_string_equal(got->id, want->id);
	assert_true(got->since == want->since);
	assert_int_equal(got->n_attributes, want->n_attributes);
	for (i = 0; i < want->n_attributes; i++) {
		assert_string_equal(got->attributes[i]->key, want->attributes[i]->key);
		assert_string_equal(got->attributes[i]->value, want->attributes[i]->value);
	}
}

static void check_node(const Podmeter__V1__NodeReport *r, const struct fixture *fx)
{
	size_t i;

	assert_string_equal(r->cluster, "prod-eu");
	assert_string_equal(r->node, "node-a.example");
	assert_string_equal(r->agent_version, "1.2.3");
	assert_int_equal(r->seq, 1099511627783ULL);
	assert_true(r->window_start == 1700000000.123456);
	assert_true(r->window_end == 1700000060.987654);
	assert_true(r->final);
	assert_true(r->gpu_utilization_known);
	assert_non_null(r->prices);
	assert_true(r->prices->cpu_core_hour == 0.031611);
	assert_true(r->prices->memory_gib_hour == 0.004237);
	assert_true(r->prices->gpu_hour == 0.95);
	assert_int_equal(r->prices->n_egress, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(r->prices->egress[i]->class_, fx->egress[i].class_);
		assert_true(r->prices->egress[i]->dollars_per_gib == fx->egress[i].dollars_per_gib);
	}
	assert_non_null(r->capacity);
	assert_true(r->capacity->cpu_cores == 7.5);
	assert_int_equal(r->capacity->memory_bytes, 33554432123ULL);
	assert_true(r->capacity->gpus == 1.5);
	assert_non_null(r->node_usage);
	assert_int_equal(r->node_usage->pods_cpu_usec, 5000007);
	assert_int_equal(r->node_usage->overhead_cpu_usec, 6008);
	check_dollars(r->node_usage->idle_cost, 30000);
	check_dollars(r->node_usage->overhead_cost, 40000);
	assert_int_equal(r->n_findings, 1);
	check_finding(r->findings[0], &fx->node_finding);
}

static void check_pod(const Podmeter__V1__PodReport *p, const struct fixture *fx)
{
	const Podmeter__V1__PodReport *w = &fx->pod;
	size_t i;

	assert_string_equal(p->uid, w->uid);
	assert_string_equal(p->namespace_, w->namespace_);
	assert_string_equal(p->name, w->name);
	assert_string_equal(p->owner_kind, w->owner_kind);
	assert_string_equal(p->owner_name, w->owner_name);
	assert_int_equal(p->qos, PODMETER__V1__QOS__BURSTABLE);
	assert_int_equal(p->n_containers, 2);
	for (i = 0; i < 2; i++) {
		assert_string_equal(p->containers[i]->id, fx->ctr[i].id);
		assert_string_equal(p->containers[i]->name, fx->ctr[i].name);
		check_resources(p->containers[i]->requests, &fx->req[i]);
		check_resources(p->containers[i]->limits, &fx->lim[i]);
		assert_int_equal(p->containers[i]->cpu_usec, fx->ctr[i].cpu_usec);
		assert_int_equal(p->containers[i]->recommended_cpu_millicores, 250 + i);
		assert_int_equal(p->containers[i]->recommended_memory_mib, 120 + i);
		assert_int_equal(p->containers[i]->recommendation_confidence_percent, 50 + i);
		assert_non_null(p->containers[i]->cpu_cores);
		assert_true(p->containers[i]->cpu_cores->relative_accuracy == 0.02);
		assert_true(p->containers[i]->cpu_cores->min_value == 0.001);
		assert_int_equal(p->containers[i]->cpu_cores->zero_count, 7 + i);
		assert_int_equal(p->containers[i]->cpu_cores->first_key, -40 - (int)i);
		assert_int_equal(p->containers[i]->cpu_cores->n_counts, 3);
		assert_memory_equal(p->containers[i]->cpu_cores->counts, fx->counts[i],
				    sizeof(fx->counts[i]));
		assert_int_equal(p->containers[i]->memory_working_set_peak_bytes,
				 5368709120ULL + i);
		assert_int_equal(p->containers[i]->oom_kills, 2 + i);
		assert_int_equal(p->containers[i]->cpu_throttled_periods, 1234 + i);
		assert_int_equal(p->containers[i]->cpu_throttled_usec, 5678901 + i);
	}
	assert_int_equal(p->n_labels, 2);
	for (i = 0; i < 2; i++) {
		assert_string_equal(p->labels[i]->key, fx->label[i].key);
		assert_string_equal(p->labels[i]->value, fx->label[i].value);
	}
	assert_int_equal(p->cpu_usec, w->cpu_usec);
	assert_int_equal(p->runqueue_usec, w->runqueue_usec);
	assert_int_equal(p->memory_avg_bytes, w->memory_avg_bytes);
	assert_int_equal(p->memory_peak_bytes, w->memory_peak_bytes);
	assert_int_equal(p->n_network, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(p->network[i]->direction, fx->net[i].direction);
		assert_int_equal(p->network[i]->class_, fx->net[i].class_);
		assert_int_equal(p->network[i]->bytes, fx->net[i].bytes);
		assert_int_equal(p->network[i]->packets, fx->net[i].packets);
	}
	assert_int_equal(p->tcp_retransmits, w->tcp_retransmits);
	assert_int_equal(p->processes, w->processes);
	assert_int_equal(p->zombies, w->zombies);
	assert_int_equal(p->oom_kills, w->oom_kills);
	assert_int_equal(p->process_starts, w->process_starts);
	check_dollars(p->cost, 10000000000ULL);
	check_dollars(p->waste, 20000);
	assert_int_equal(p->n_findings, 1);
	check_finding(p->findings[0], &fx->pod_finding);
	assert_true(p->gone);
	assert_int_equal(p->gpu_driver_calls, 51);
	assert_int_equal(p->gpu_driver_usec, 52);
	assert_int_equal(p->gpu_kernel_launches, 53);
	assert_int_equal(p->gpu_memory_peak_bytes, 8589934592ULL);
	assert_int_equal(p->gpu_memcpy_bytes, 55);
	assert_int_equal(p->gpu_sync_usec, 56);
	assert_int_equal(p->gpu_utilization_permille, 875);
	assert_int_equal(p->gpu_jobs, 57);
	assert_int_equal(p->anomalies, 2);
	assert_true(p->savings_cents_per_month == -123456);
}

static void test_pb_roundtrip_every_field(void **state)
{
	Podmeter__V1__NodeReport *r;
	struct fixture fx;
	size_t len;
	void *pb;

	(void)state;
	fixture_init(&fx);
	pb = fixture_pack(&fx.report, &len);
	r = podmeter__v1__node_report__unpack(NULL, len, pb);
	assert_non_null(r);
	check_node(r, &fx);
	assert_int_equal(r->n_pods, 1);
	check_pod(r->pods[0], &fx);
	podmeter__v1__node_report__free_unpacked(r, NULL);
	free(pb);
}

/* ---- gzip ---- */

static void test_gz_roundtrip(void **state)
{
	struct fixture fx;
	void *pb, *gz, *out;
	size_t len, gzlen, outlen;

	(void)state;
	fixture_init(&fx);
	pb = fixture_pack(&fx.report, &len);
	assert_int_equal(gz__compress(pb, len, &gz, &gzlen), 0);
	assert_true(gzlen > 18);
	assert_memory_equal(gz, "\x1f\x8b", 2);
	assert_int_equal(gz__decompress(gz, gzlen, PM_REPORT_MAX_BYTES, &out, &outlen), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, pb, len);
	free(out);
	/* the bound is inclusive */
	assert_int_equal(gz__decompress(gz, gzlen, len, &out, &outlen), 0);
	assert_int_equal(outlen, len);
	free(out);
	assert_int_equal(gz__decompress(gz, gzlen, len - 1, &out, &outlen), -EFBIG);
	free(gz);
	free(pb);
}

/* Output many times the input: the buffer grows, and the bound stops it. */
static void test_gz_large_and_bound(void **state)
{
	size_t len = 8u << 20, gzlen, outlen;
	void *gz, *out;
	char *in;

	(void)state;
	in = calloc(1, len);
	assert_non_null(in);
	memcpy(in + len / 2, "podmeter", 8);
	assert_int_equal(gz__compress(in, len, &gz, &gzlen), 0);
	assert_true(gzlen < len / 100);
	assert_int_equal(gz__decompress(gz, gzlen, len, &out, &outlen), 0);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, in, len);
	free(out);
	assert_int_equal(gz__decompress(gz, gzlen, 1u << 20, &out, &outlen), -EFBIG);
	free(gz);
	free(in);
}

static void test_gz_rejects_damage(void **state)
{
	struct fixture fx;
	void *pb, *gz, *out;
	size_t len, gzlen, outlen, cut;
	char *bad;

	(void)state;
	fixture_init(&fx);
	pb = fixture_pack(&fx.report, &len);
	assert_int_equal(gz__compress(pb, len, &gz, &gzlen), 0);
	/* truncated anywhere: in the header, the data, the CRC or the length */
	for (cut = 0; cut < gzlen; cut++)
		assert_int_equal(gz__decompress(gz, cut, PM_REPORT_MAX_BYTES, &out, &outlen),
				 -EINVAL);
	bad = malloc(gzlen + 1);
	assert_non_null(bad);
	/* one flipped byte in the deflate data, in the CRC, in the length */
	for (cut = 0; cut < 3; cut++) {
		size_t at = cut == 0 ? gzlen / 2 : cut == 1 ? gzlen - 6 : gzlen - 2;

		memcpy(bad, gz, gzlen);
		bad[at] ^= 0x5a;
		assert_int_equal(gz__decompress(bad, gzlen, PM_REPORT_MAX_BYTES, &out, &outlen),
				 -EINVAL);
	}
	/* trailing bytes after the member */
	memcpy(bad, gz, gzlen);
	bad[gzlen] = 0;
	assert_int_equal(gz__decompress(bad, gzlen + 1, PM_REPORT_MAX_BYTES, &out, &outlen),
			 -EINVAL);
	/* not gzip at all: the packed protobuf itself */
	assert_int_equal(gz__decompress(pb, len, PM_REPORT_MAX_BYTES, &out, &outlen), -EINVAL);
	free(bad);
	free(gz);
	free(pb);
}

/* ---- pbjson ---- */

/* The value at a dotted path, array indexes as numbers: "pods.0.name". */
static json_t *jget(json_t *j, const char *path)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(j))
			j = json_array_get(j, strtoul(tok, NULL, 10));
		else
			j = json_object_get(j, tok);
	}
	if (!j)
		fail_msg("no %s in the JSON", path);
	return j;
}

static void assert_jstr(json_t *root, const char *path, const char *want)
{
	json_t *j = jget(root, path);

	if (!json_is_string(j))
		fail_msg("%s is not a string", path);
	assert_string_equal(json_string_value(j), want);
}

static void assert_jint(json_t *root, const char *path, long long want)
{
	json_t *j = jget(root, path);

	if (!json_is_integer(j))
		fail_msg("%s is not an integer", path);
	assert_int_equal(json_integer_value(j), want);
}

static void assert_jreal(json_t *root, const char *path, double want)
{
	json_t *j = jget(root, path);

	if (!json_is_real(j))
		fail_msg("%s is not a real", path);
	if (json_real_value(j) != want)
		fail_msg("%s is %.17g, want %.17g", path, json_real_value(j), want);
}

static json_t *render(const Podmeter__V1__NodeReport *r)
{
	char err[128] = "", *s;
	json_error_t jerr;
	size_t len;
	json_t *j;
	void *pb;

	pb = fixture_pack(r, &len);
	s = pbjson__report(pb, len, err, sizeof(err));
	free(pb);
	if (!s)
		fail_msg("pbjson__report: %s", err);
	assert_null(strchr(s, '\n'));
	j = json_loads(s, 0, &jerr);
	if (!j)
		fail_msg("not JSON: %s: %s", jerr.text, s);
	free(s);
	return j;
}

static void test_pbjson_node_fields(void **state)
{
	struct fixture fx;
	json_t *j;

	(void)state;
	fixture_init(&fx);
	j = render(&fx.report);
	assert_int_equal(json_object_size(j), 13);
	assert_true(json_is_true(jget(j, "gpu_utilization_known")));
	assert_jstr(j, "cluster", "prod-eu");
	assert_jstr(j, "node", "node-a.example");
	assert_jstr(j, "agent_version", "1.2.3");
	assert_jint(j, "seq", 1099511627783LL);
	assert_jreal(j, "window_start", 1700000000.123456);
	assert_jreal(j, "window_end", 1700000060.987654);
	assert_true(json_is_true(jget(j, "final")));
	assert_jreal(j, "prices.cpu_core_hour", 0.031611);
	assert_jreal(j, "prices.memory_gib_hour", 0.004237);
	assert_jreal(j, "prices.gpu_hour", 0.95);
	assert_int_equal(json_array_size(jget(j, "prices.egress")), 2);
	assert_jstr(j, "prices.egress.0.class", "IN_ZONE");
	assert_jstr(j, "prices.egress.1.class", "CROSS_REGION");
	assert_jreal(j, "prices.egress.1.dollars_per_gib", 0.02);
	assert_jreal(j, "capacity.cpu_cores", 7.5);
	assert_jint(j, "capacity.memory_bytes", 33554432123LL);
	assert_jreal(j, "capacity.gpus", 1.5);
	assert_jint(j, "node_usage.pods_cpu_usec", 5000007);
	assert_jint(j, "node_usage.overhead_cpu_usec", 6008);
	assert_jint(j, "node_usage.idle_cost.cpu_nanodollars", 30001);
	assert_jint(j, "node_usage.overhead_cost.network_nanodollars", 40004);
	assert_jstr(j, "findings.0.kind", "zombie");
	assert_jreal(j, "findings.0.score", 0.5);
	assert_jstr(j, "findings.0.detail", "a zombie outside pods");
	assert_jstr(j, "findings.0.attributes.pid", "4242");
	json_decref(j);
}

static void test_pbjson_pod_fields(void **state)
{
	struct fixture fx;
	json_t *j, *attrs;

	(void)state;
	fixture_init(&fx);
	j = render(&fx.report);
	assert_int_equal(json_array_size(jget(j, "pods")), 1);
	assert_int_equal(json_object_size(jget(j, "pods.0")), 32);
	assert_jstr(j, "pods.0.labels.team", "payments");
	assert_string_equal(json_string_value(json_object_get(jget(j, "pods.0.labels"),
							      "app.kubernetes.io/name")),
			    "cart");
	assert_jint(j, "pods.0.containers.1.cpu_cores.first_key", -41);
	assert_jint(j, "pods.0.containers.1.cpu_cores.counts.2", 300000000001LL);
	assert_jint(j, "pods.0.containers.0.cpu_throttled_usec", 5678901);
	assert_jint(j, "pods.0.gpu_memory_peak_bytes", 8589934592LL);
	assert_jint(j, "pods.0.gpu_utilization_permille", 875);
	assert_jstr(j, "pods.0.uid", "6f1c2a3b-4d5e-4f60-8172-839405162738");
	assert_jstr(j, "pods.0.namespace", "shop");
	assert_jstr(j, "pods.0.name", "cart-7d9f8b6c5-x2x4z");
	assert_jstr(j, "pods.0.owner_kind", "Deployment");
	assert_jstr(j, "pods.0.owner_name", "cart");
	assert_jstr(j, "pods.0.qos", "BURSTABLE");
	assert_int_equal(json_array_size(jget(j, "pods.0.containers")), 2);
	assert_jstr(j, "pods.0.containers.0.id", "0123456789abcdef");
	assert_jstr(j, "pods.0.containers.1.name", "sidecar");
	assert_jint(j, "pods.0.containers.0.requests.cpu_millicores", 250);
	assert_jint(j, "pods.0.containers.0.requests.memory_bytes", 268435456);
	assert_jint(j, "pods.0.containers.0.requests.gpus", 1);
	assert_jint(j, "pods.0.containers.0.limits.cpu_millicores", -1);
	assert_jint(j, "pods.0.containers.1.limits.memory_bytes", -1);
	assert_jint(j, "pods.0.containers.1.limits.gpus", 4);
	assert_jint(j, "pods.0.containers.1.cpu_usec", 1000002);
	assert_jint(j, "pods.0.cpu_usec", 2000003);
	assert_jint(j, "pods.0.runqueue_usec", 3004);
	assert_jint(j, "pods.0.memory_avg_bytes", 104857605);
	assert_jint(j, "pods.0.memory_peak_bytes", 209715206);
	assert_jstr(j, "pods.0.network.0.direction", "RX");
	assert_jstr(j, "pods.0.network.0.class", "CROSS_ZONE");
	assert_jint(j, "pods.0.network.0.bytes", 123456789);
	assert_jstr(j, "pods.0.network.1.direction", "TX");
	assert_jstr(j, "pods.0.network.1.class", "INTERNET");
	assert_jint(j, "pods.0.network.1.bytes", 9876543210LL);
	assert_jint(j, "pods.0.network.1.packets", 8765);
	assert_jint(j, "pods.0.tcp_retransmits", 17);
	assert_jint(j, "pods.0.processes", 23);
	assert_jint(j, "pods.0.zombies", 2);
	assert_jint(j, "pods.0.oom_kills", 3);
	assert_jint(j, "pods.0.process_starts", 41);
	assert_jint(j, "pods.0.cost.memory_nanodollars", 10000000002LL);
	assert_jint(j, "pods.0.waste.gpu_nanodollars", 20003);
	assert_true(json_is_true(jget(j, "pods.0.gone")));
	assert_jstr(j, "pods.0.findings.0.kind", "idle");
	assert_jreal(j, "pods.0.findings.0.score", 0.875);
	/* a map is an object, not a list of entries */
	attrs = jget(j, "pods.0.findings.0.attributes");
	assert_true(json_is_object(attrs));
	assert_int_equal(json_object_size(attrs), 2);
	assert_jstr(attrs, "window", "300s");
	assert_jstr(attrs, "cpu_p95", "0.01");
	json_decref(j);
}

/* An empty report: every field there, at its default; unset messages null. */
static void test_pbjson_defaults(void **state)
{
	Podmeter__V1__NodeReport r = PODMETER__V1__NODE_REPORT__INIT;
	json_t *j;

	(void)state;
	j = render(&r);
	assert_int_equal(json_object_size(j), 13);
	assert_jstr(j, "cluster", "");
	assert_jstr(j, "node", "");
	assert_jint(j, "seq", 0);
	assert_jreal(j, "window_start", 0);
	assert_true(json_is_null(jget(j, "prices")));
	assert_true(json_is_null(jget(j, "capacity")));
	assert_true(json_is_null(jget(j, "node_usage")));
	assert_true(json_is_array(jget(j, "pods")) && !json_array_size(jget(j, "pods")));
	assert_true(json_is_array(jget(j, "findings")) && !json_array_size(jget(j, "findings")));
	assert_true(json_is_false(jget(j, "final")));
	json_decref(j);
}

/* Values JSON cannot hold as they are. */
static void test_pbjson_edges(void **state)
{
	Podmeter__V1__NodeReport r = PODMETER__V1__NODE_REPORT__INIT;
	Podmeter__V1__Capacity cap = PODMETER__V1__CAPACITY__INIT;
	Podmeter__V1__NetTraffic net = PODMETER__V1__NET_TRAFFIC__INIT, *netp = &net;
	Podmeter__V1__PodReport pod = PODMETER__V1__POD_REPORT__INIT, *podp = &pod;
	json_t *j;

	(void)state;
	r.seq = UINT64_MAX;
	r.node = "bad\xff utf-8";
	r.window_start = NAN;
	r.window_end = -INFINITY;
	cap.memory_bytes = (uint64_t)INT64_MAX;
	r.capacity = &cap;
	net.class_ = 42; /* a class this schema does not know */
	pod.n_network = 1;
	pod.network = &netp;
	r.n_pods = 1;
	r.pods = &podp;
	j = render(&r);
	assert_jstr(j, "seq", "18446744073709551615");
	assert_jint(j, "capacity.memory_bytes", INT64_MAX);
	assert_jstr(j, "node", "bad\xef\xbf\xbd utf-8");
	assert_jstr(j, "window_start", "NaN");
	assert_jstr(j, "window_end", "-Infinity");
	assert_jint(j, "pods.0.network.0.class", 42);
	assert_true(json_is_null(jget(j, "pods.0.cost")));
	json_decref(j);
}

static void test_pbjson_rejects_garbage(void **state)
{
	static const struct {
		const char *data;
		size_t len;
	} bad[] = {
		{ "\xff\xff\xff\xff", 4 }, /* a tag that is not a varint */
		{ "\x12\x10node", 6 },	   /* node: a string longer than the input */
		{ "\x1f\x8b\x08\x00", 4 }, /* gzip: not decompressed first */
	};
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_null(pbjson__report(bad[i].data, bad[i].len, err, sizeof(err)));
		assert_true(err[0] != '\0');
	}
}

/* @n copies of @rec (an encoded field) one after the other. */
static uint8_t *repeat(const char *rec, size_t reclen, size_t n, size_t *len)
{
	uint8_t *buf = malloc(reclen * n + 1);
	size_t i;

	assert_non_null(buf);
	for (i = 0; i < n; i++)
		memcpy(buf + i * reclen, rec, reclen);
	*len = reclen * n;
	return buf;
}

/*
 * Every message renders all its fields: an empty PodReport is two packed
 * bytes and some 30 JSON members. What the packed bytes stand for is bounded
 * before anything is unpacked, whatever their size.
 */
static void test_pbjson_bounded(void **state)
{
	char err[256], *s;
	json_error_t jerr;
	uint8_t *pb, *big;
	size_t len, i;
	json_t *j;

	(void)state;
	/* 1 MiB of empty pods: half a million pods, 16 million JSON members */
	pb = repeat("\x4a\x00", 2, 512 * 1024, &len);
	assert_int_equal(pbjson__check(pb, len, err, sizeof(err)), -EFBIG);
	err[0] = '\0';
	assert_null(pbjson__report(pb, len, err, sizeof(err)));
	assert_non_null(strstr(err, "refused"));
	free(pb);

	/* 20000 of them, some 640000 members: within the bound, every one rendered */
	pb = repeat("\x4a\x00", 2, 20000, &len);
	assert_int_equal(pbjson__check(pb, len, err, sizeof(err)), 0);
	s = pbjson__report(pb, len, err, sizeof(err));
	assert_non_null(s);
	j = json_loads(s, 0, &jerr);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "pods")), 20000);
	assert_int_equal(json_object_size(json_array_get(json_object_get(j, "pods"), 19999)),
			 podmeter__v1__pod_report__descriptor.n_fields);
	json_decref(j);
	free(s);
	free(pb);

	/* a node name of 12 MiB could render as 72 MiB of escapes; 1 MiB renders */
	for (i = 0; i < 2; i++) {
		size_t n = i ? (1u << 20) : (12u << 20);

		big = malloc(n + 5);
		assert_non_null(big);
		big[0] = 0x12; /* field 2, length-delimited; the length as a 4-byte varint */
		big[1] = (n & 0x7f) | 0x80;
		big[2] = ((n >> 7) & 0x7f) | 0x80;
		big[3] = ((n >> 14) & 0x7f) | 0x80;
		big[4] = (n >> 21) & 0x7f;
		memset(big + 5, '\x01', n);
		assert_int_equal(pbjson__check(big, n + 5, err, sizeof(err)), i ? 0 : -EFBIG);
		s = pbjson__report(big, n + 5, err, sizeof(err));
		if (i) {
			if (!s)
				fail_msg("%s", err);
			assert_true(strlen(s) > 6 * n); /* "\u0001" each */
		} else {
			assert_null(s);
		}
		free(s);
		free(big);
	}

	/*
	 * The bound reads the wire as protobuf-c does: field 0 in a two-byte tag
	 * is an unknown field it keeps, in a one-byte tag an error.
	 */
	assert_int_equal(pbjson__check("\x81\x00"
				       "12345678",
				       10, err, sizeof(err)),
			 0);
	s = pbjson__report("\x81\x00"
			   "12345678",
			   10, err, sizeof(err));
	assert_non_null(s);
	free(s);
	assert_int_equal(pbjson__check("\x01"
				       "12345678",
				       9, err, sizeof(err)),
			 -EINVAL);
	assert_null(pbjson__report("\x01"
				   "12345678",
				   9, err, sizeof(err)));
}

/* ---- windows of snapshots -> NodeReport (exporter/report.c) ---- */

static struct pm_snapshot *win_snap(double t, size_t n)
{
	struct pm_snapshot *s = snapshot__new(n);

	assert_non_null(s);
	s->time = 1790000000 + t;
	s->mono = t;
	return s;
}

static void win_pod(struct pm_pod_snap *p, const char *uid, uint64_t cpu_s, long long ws,
		    double cost_cpu)
{
	struct pm_pod_names *names = snapshot__names_new("shop", uid, NULL, NULL, NULL, NULL);

	assert_non_null(names);
	strcpy(p->uid, uid);
	snapshot__pod_names(p, names);
	p->cpu_ns = cpu_s * 1000000000ULL;
	p->working_set_bytes = ws;
	p->net_bytes[PM_NET_TX][PM_NET_INTERNET] = cpu_s * 1000;
	p->net_packets[PM_NET_TX][PM_NET_INTERNET] = cpu_s;
	p->cost_dollars[PM_RES_CPU] = cost_cpu;
	p->n_containers = 1;
	p->containers = calloc(1, sizeof(*p->containers));
	assert_non_null(p->containers);
	strcpy(p->containers[0].id, "c0ffee");
	strcpy(p->containers[0].name, "app");
	p->containers[0].cpu_ns = p->cpu_ns;
	p->containers[0].cpu_request_milli = 250;
	p->containers[0].memory_request_bytes = -1;
	p->containers[0].cpu_limit_milli = -1;
	p->containers[0].memory_limit_bytes = 1 << 30;
}

static Podmeter__V1__NodeReport *win_close(struct pm_report_window *w, uint64_t seq)
{
	struct pm_report_meta meta = {
		.cluster = "c", .node = "n", .agent_version = "v", .seq = seq
	};
	Podmeter__V1__NodeReport *r;
	size_t gzlen, len;
	void *gz, *raw;

	assert_int_equal(report__window_close(w, &meta, &gz, &gzlen), 0);
	assert_int_equal(gz__decompress(gz, gzlen, PM_REPORT_MAX_BYTES, &raw, &len), 0);
	r = podmeter__v1__node_report__unpack(NULL, len, raw);
	assert_non_null(r);
	free(gz);
	free(raw);
	return r;
}

static const Podmeter__V1__PodReport *win_find(const Podmeter__V1__NodeReport *r, const char *uid)
{
	size_t i;

	for (i = 0; i < r->n_pods; i++)
		if (!strcmp(r->pods[i]->uid, uid))
			return r->pods[i];
	fail_msg("pod %s not in the report", uid);
	return NULL;
}

/*
 * Three ticks: "a" all along, "b" born at the second, "c" gone at the third.
 * Amounts are the deltas from the window's first tick; memory is averaged over
 * the ticks a pod was seen; the next window starts at the last tick.
 */
static void test_window_deltas(void **state)
{
	struct pm_snapshot *s0 = win_snap(0, 2), *s1 = win_snap(30, 3), *s2 = win_snap(60, 2);
	struct pm_report_window *w = report__window_new();
	const Podmeter__V1__PodReport *a, *b, *c;
	Podmeter__V1__NodeReport *r;

	(void)state;
	assert_non_null(w);
	assert_int_equal(report__window_close(w, &(struct pm_report_meta){ 0 }, &(void *){ 0 },
					      &(size_t){ 0 }),
			 -ENODATA);
	win_pod(&s0->pods[0], "a", 10, 100, 0.5);
	win_pod(&s0->pods[1], "c", 7, 50, 0.25);
	win_pod(&s1->pods[0], "a", 20, 300, 0.75);
	win_pod(&s1->pods[1], "b", 3, 40, 0.000000123);
	win_pod(&s1->pods[2], "c", 9, 70, 0.5);
	win_pod(&s2->pods[0], "a", 40, 200, 1.0);
	win_pod(&s2->pods[1], "b", 5, 60, 0.000000246);
	s0->node_cpu_pods_seconds = 17;
	s2->node_cpu_pods_seconds = 45;
	s2->price[PM_RES_CPU] = 0.031611;
	assert_int_equal(report__window_tick(w, s0), 0);
	assert_int_equal(report__window_tick(w, s1), 0);
	assert_int_equal(report__window_tick(w, s2), 0);
	assert_true(report__window_span(w) == 60);
	r = win_close(w, 9);
	assert_int_equal(r->seq, 9);
	assert_true(r->window_start == 1790000000);
	assert_true(r->window_end == 1790000060);
	assert_int_equal(r->n_pods, 3);
	assert_int_equal(r->node_usage->pods_cpu_usec, 28000000);
	assert_true(r->prices->cpu_core_hour == 0.031611);

	a = win_find(r, "a");
	assert_int_equal(a->cpu_usec, 30000000);
	assert_int_equal(a->memory_avg_bytes, 200); /* (100 + 300 + 200) / 3 */
	assert_int_equal(a->memory_peak_bytes, 300);
	assert_int_equal(a->cost->cpu_nanodollars, 500000000);
	assert_false(a->gone);
	assert_int_equal(a->n_network, 1);
	assert_int_equal(a->network[0]->direction, PODMETER__V1__DIRECTION__TX);
	assert_int_equal(a->network[0]->class_, PODMETER__V1__NET_CLASS__INTERNET);
	assert_int_equal(a->network[0]->bytes, 30000);
	assert_int_equal(a->network[0]->packets, 30);
	assert_int_equal(a->n_containers, 1);
	assert_string_equal(a->containers[0]->name, "app");
	assert_string_equal(a->containers[0]->id, ""); /* named: no id */
	assert_int_equal(a->containers[0]->cpu_usec, 30000000);
	assert_int_equal(a->containers[0]->requests->cpu_millicores, 250);
	assert_int_equal(a->containers[0]->requests->memory_bytes, -1);
	assert_int_equal(a->containers[0]->limits->memory_bytes, 1 << 30);

	b = win_find(r, "b"); /* born in the window: from zero */
	assert_int_equal(b->cpu_usec, 5000000);
	assert_int_equal(b->memory_avg_bytes, 50);
	assert_int_equal(b->cost->cpu_nanodollars, 246);

	c = win_find(r, "c"); /* gone: its last values, once, marked */
	assert_true(c->gone);
	assert_int_equal(c->cpu_usec, 2000000);
	assert_int_equal(c->memory_peak_bytes, 70);
	podmeter__v1__node_report__free_unpacked(r, NULL);

	/* the next window starts at the last tick: "c" is not reported again */
	snapshot__put(s0);
	s0 = win_snap(90, 2);
	win_pod(&s0->pods[0], "a", 41, 100, 1.0);
	win_pod(&s0->pods[1], "b", 5, 60, 0.000000246);
	s0->pods[1].containers[0].name[0] = '\0'; /* not known: the id instead */
	assert_int_equal(report__window_tick(w, s0), 0);
	r = win_close(w, 10);
	assert_true(r->window_start == 1790000060);
	assert_int_equal(r->n_pods, 2);
	assert_int_equal(win_find(r, "a")->cpu_usec, 1000000);
	assert_int_equal(win_find(r, "b")->cpu_usec, 0);
	assert_string_equal(win_find(r, "b")->containers[0]->id, "c0ffee");
	podmeter__v1__node_report__free_unpacked(r, NULL);

	report__window_free(w);
	snapshot__put(s0);
	snapshot__put(s1);
	snapshot__put(s2);
}

/* Recommendations are sent when new, when they move by more than 2%, and hourly. */
static void test_window_recommendations(void **state)
{
	static const struct {
		double t, cpu;
		unsigned int want; /* millicores sent; 0 = not sent */
	} steps[] = {
		{ 0, 0.5, 0 },	    { 60, 0.5, 500 }, { 120, 0.505, 0 },
		{ 180, 0.55, 550 }, { 240, 0.55, 0 }, { 3780, 0.55, 550 },
	};
	struct pm_report_window *w = report__window_new();
	Podmeter__V1__NodeReport *r;
	struct pm_snapshot *s;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		s = win_snap(steps[i].t, 1);
		win_pod(&s->pods[0], "a", (uint64_t)steps[i].t, 100, 0);
		s->pods[0].containers[0].rec_cpu_cores = steps[i].cpu;
		s->pods[0].containers[0].rec_memory_bytes = 100.0 * 1048576;
		s->pods[0].containers[0].rec_confidence = 0.25;
		s->pods[0].savings_dollars_month = 1.5;
		assert_int_equal(report__window_tick(w, s), 0);
		snapshot__put(s);
		if (!i)
			continue; /* the first tick only opens the window */
		r = win_close(w, i);
		print_message("t=%.0f cpu %.3f: sent %u millicores, %u MiB, savings %lld cents\n",
			      steps[i].t, steps[i].cpu,
			      r->pods[0]->containers[0]->recommended_cpu_millicores,
			      r->pods[0]->containers[0]->recommended_memory_mib,
			      (long long)r->pods[0]->savings_cents_per_month);
		assert_int_equal(r->pods[0]->containers[0]->recommended_cpu_millicores,
				 steps[i].want);
		assert_int_equal(r->pods[0]->containers[0]->recommended_memory_mib,
				 steps[i].want ? 100 : 0);
		assert_int_equal(r->pods[0]->savings_cents_per_month, steps[i].want ? 150 : 0);
		podmeter__v1__node_report__free_unpacked(r, NULL);
	}
	report__window_free(w);
}

static void v2_ctr(struct pm_container_snap *c, const char *id, const char *name, double cpu_s,
		   long long ws, uint64_t oom, uint64_t thr_periods, uint64_t thr_usec)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->id, id);
	strcpy(c->name, name);
	c->cpu_ns = (uint64_t)llround(cpu_s * 1e9);
	c->working_set_bytes = ws;
	c->oom_kills = oom;
	c->throttled_periods = thr_periods;
	c->throttled_usec = thr_usec;
	c->cpu_request_milli = c->memory_request_bytes = -1;
	c->cpu_limit_milli = c->memory_limit_bytes = -1;
	c->rec_cpu_cores = -1;
}

static struct pm_snapshot *v2_snap(double t, int n_ctrs)
{
	struct pm_snapshot *s = win_snap(t, 1);
	struct pm_pod_names *names = snapshot__names_new("shop", NULL, NULL, NULL, NULL, NULL);

	assert_non_null(names);
	strcpy(s->pods[0].uid, "a");
	snapshot__pod_names(&s->pods[0], names);
	s->pods[0].working_set_bytes = 1000;
	s->pods[0].n_containers = n_ctrs;
	s->pods[0].containers = calloc(n_ctrs, sizeof(*s->pods[0].containers));
	assert_non_null(s->pods[0].containers);
	return s;
}

static int32_t v2_key(double cores)
{
	return (int32_t)ceil(log(cores) / log(1.02 / 0.98));
}

/* Histogram counts by key, the zero bucket as INT32_MIN. */
static uint64_t v2_count(const Podmeter__V1__Histogram *h, int32_t key)
{
	if (key == INT32_MIN)
		return h->zero_count;
	if (key < h->first_key || key >= h->first_key + (int32_t)h->n_counts)
		return 0;
	return h->counts[key - h->first_key];
}

static const Podmeter__V1__ContainerReport *v2_find(const Podmeter__V1__PodReport *p,
						    const char *name)
{
	size_t i;

	for (i = 0; i < p->n_containers; i++)
		if (!strcmp(p->containers[i]->name, name))
			return p->containers[i];
	fail_msg("container %s not in the report", name);
	return NULL;
}

/*
 * Reports v2: per container, one CPU sample per tick (its CPU time over the
 * tick's length) weighed by the tick's length in ms, the working set's peak, OOM kills and throttling as deltas,
 * a container that left in the window reported once more; the pod's labels
 * for the keys asked, empty ones left out.
 */
static void test_window_v2(void **state)
{
	struct pm_report_window *w = report__window_new();
	struct pm_snapshot *s[4];
	const Podmeter__V1__ContainerReport *c1, *c2;
	Podmeter__V1__NodeReport *r;
	uint64_t total = 0;
	size_t i;

	(void)state;
	s[0] = v2_snap(0, 2);
	v2_ctr(&s[0]->pods[0].containers[0], "c1", "app", 10, 100, 4, 10, 500);
	v2_ctr(&s[0]->pods[0].containers[1], "c2", "init", 3, 50, 0, 0, 0);
	s[1] = v2_snap(2, 2); /* 2 s: app used 1 core, init 0.1 */
	v2_ctr(&s[1]->pods[0].containers[0], "c1", "app", 12, 300, 4, 10, 500);
	v2_ctr(&s[1]->pods[0].containers[1], "c2", "init", 3.2, 70, 0, 0, 0);
	s[2] = v2_snap(3, 1); /* init is gone; app used 0.25 core, OOM-killed once, throttled */
	v2_ctr(&s[2]->pods[0].containers[0], "c1", "app", 12.25, 200, 5, 13, 40500);
	s[3] = v2_snap(4, 1); /* app idle */
	v2_ctr(&s[3]->pods[0].containers[0], "c1", "app", 12.25, 150, 5, 13, 40500);
	s[3]->n_label_keys = 2;
	strcpy(s[3]->label_keys[0], "team");
	strcpy(s[3]->label_keys[1], "tier");
	snapshot__pod_names(&s[3]->pods[0],
			    snapshot__names_new("shop", NULL, NULL, NULL, NULL,
						(const char *[PM_POD_LABELS]){ "payments" }));
	assert_non_null(s[3]->pods[0].names);
	for (i = 0; i < 4; i++)
		assert_int_equal(report__window_tick(w, s[i]), 0);
	r = win_close(w, 1);
	assert_int_equal(r->n_pods, 1);
	assert_int_equal(r->pods[0]->n_containers, 2);
	c1 = v2_find(r->pods[0], "app");
	assert_non_null(c1->cpu_cores);
	assert_true(c1->cpu_cores->relative_accuracy == 0.02);
	assert_true(c1->cpu_cores->min_value == 0.001);
	/* weights are the ticks' lengths in ms: 2 s at 1 core, then 1 s at 0.25, 1 s idle */
	assert_int_equal(v2_count(c1->cpu_cores, v2_key(1.0)), 2000);
	assert_int_equal(v2_count(c1->cpu_cores, v2_key(0.25)), 1000);
	assert_int_equal(v2_count(c1->cpu_cores, INT32_MIN), 1000);
	for (i = 0; i < c1->cpu_cores->n_counts; i++)
		total += c1->cpu_cores->counts[i];
	assert_int_equal(total + c1->cpu_cores->zero_count, 4000); /* the window's 4 s */
	assert_int_equal(c1->cpu_usec, 2250000);
	assert_int_equal(c1->memory_working_set_peak_bytes, 300);
	assert_int_equal(c1->oom_kills, 1);
	assert_int_equal(c1->cpu_throttled_periods, 3);
	assert_int_equal(c1->cpu_throttled_usec, 40000);
	c2 = v2_find(r->pods[0], "init"); /* left in the window: its last values */
	assert_int_equal(c2->cpu_usec, 200000);
	assert_int_equal(c2->memory_working_set_peak_bytes, 70);
	assert_non_null(c2->cpu_cores);
	assert_int_equal(v2_count(c2->cpu_cores, v2_key(0.1)), 2000);
	assert_int_equal(r->pods[0]->n_labels, 1);
	assert_string_equal(r->pods[0]->labels[0]->key, "team");
	assert_string_equal(r->pods[0]->labels[0]->value, "payments");
	podmeter__v1__node_report__free_unpacked(r, NULL);

	/* the next window: samples from its own ticks only; "init" is not reported again */
	snapshot__put(s[0]);
	s[0] = v2_snap(5, 1);
	v2_ctr(&s[0]->pods[0].containers[0], "c1", "app", 12.75, 150, 5, 13, 40500);
	assert_int_equal(report__window_tick(w, s[0]), 0);
	r = win_close(w, 2);
	assert_int_equal(r->pods[0]->n_containers, 1);
	c1 = r->pods[0]->containers[0];
	assert_int_equal(v2_count(c1->cpu_cores, v2_key(0.5)), 1000);
	assert_int_equal(c1->cpu_cores->zero_count, 0);
	assert_int_equal(c1->cpu_cores->n_counts, 1);
	assert_int_equal(c1->oom_kills, 0);
	assert_int_equal(c1->memory_working_set_peak_bytes, 150);
	assert_int_equal(r->pods[0]->n_labels, 0); /* the labels of the last tick */
	podmeter__v1__node_report__free_unpacked(r, NULL);
	report__window_free(w);
	for (i = 0; i < 4; i++)
		snapshot__put(s[i]);
}

/*
 * A pod whose containers come and go within one window (a job runner): at
 * each of N ticks a new container is born, and each lives two ticks,
 * burning 0.5 s in its second. Every one is reported once, with its own
 * figures (its working set peak is told apart by its birth tick).
 */
static void test_window_many_containers(void **state)
{
	enum { N = 1500 };
	struct pm_report_window *w = report__window_new();
	const Podmeter__V1__ContainerReport *c;
	Podmeter__V1__NodeReport *r;
	struct pm_snapshot *s;
	char name[32];
	bool *seen;
	int t, k, born;

	(void)state;
	seen = calloc(N + 1, sizeof(*seen));
	assert_non_null(seen);
	for (t = 0; t <= N; t++) {
		s = v2_snap(t, t ? 3 : 2);
		v2_ctr(&s->pods[0].containers[0], "app", "app", t * 0.1, 100, 0, 0, 0);
		for (k = 0; k < 2 && t - k >= 0; k++) {
			born = t - k;
			snprintf(name, sizeof(name), "j%d", born);
			v2_ctr(&s->pods[0].containers[1 + k], name, name, k * 0.5, 1000 + born, 0,
			       0, 0);
		}
		assert_int_equal(report__window_tick(w, s), 0);
		snapshot__put(s);
	}
	r = win_close(w, 1);
	assert_int_equal(r->n_pods, 1);
	print_message("%d containers born in the window, %zu reported\n", N + 1,
		      r->pods[0]->n_containers - 1);
	assert_int_equal(r->pods[0]->n_containers, N + 2);
	for (k = 0; k < (int)r->pods[0]->n_containers; k++) {
		c = r->pods[0]->containers[k];
		if (!strcmp(c->name, "app")) {
			assert_int_equal(c->cpu_usec, N * 100000);
			continue;
		}
		born = atoi(c->name + 1);
		assert_true(c->name[0] == 'j' && born >= 0 && born <= N && !seen[born]);
		seen[born] = true;
		assert_int_equal(c->memory_working_set_peak_bytes, 1000 + born);
		assert_int_equal(c->cpu_usec, born == N ? 0 : 500000);
	}
	podmeter__v1__node_report__free_unpacked(r, NULL);
	report__window_free(w);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pb_fixture_covers_schema),
		cmocka_unit_test(test_pb_roundtrip_every_field),
		cmocka_unit_test(test_gz_roundtrip),
		cmocka_unit_test(test_gz_large_and_bound),
		cmocka_unit_test(test_gz_rejects_damage),
		cmocka_unit_test(test_pbjson_node_fields),
		cmocka_unit_test(test_pbjson_pod_fields),
		cmocka_unit_test(test_pbjson_defaults),
		cmocka_unit_test(test_pbjson_edges),
		cmocka_unit_test(test_pbjson_rejects_garbage),
		cmocka_unit_test(test_pbjson_bounded),
		cmocka_unit_test(test_window_deltas),
		cmocka_unit_test(test_window_recommendations),
		cmocka_unit_test(test_window_v2),
		cmocka_unit_test(test_window_many_containers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
