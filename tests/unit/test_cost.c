// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Cost arithmetic against vectors from the OpenCost specification and its
 * tests (Appendix A's node price split; max(request, usage) allocation), and
 * against intervals worked out by hand.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <podmeter/cost.h>

static void near(double got, double want, int line)
{
	if (fabs(got - want) > 1e-12 * fmax(1.0, fabs(want)))
		fail_msg("line %d: got %.17g, want %.17g", line, got, want);
}
#define NEAR(a, b) near((a), (b), __LINE__)

/* Appendix A: a $35 node with 1 GPU, 1 CPU and 1 GB at base prices 30/30/10. */
static void test_split_appendix_a(void **state)
{
	struct pm_node_capacity cap = { .cpu_cores = 1, .memory_bytes = PM_GIB, .gpus = 1 };
	struct pm_prices base, out;

	(void)state;
	cost__default_prices(&base);
	base.gpu_hour = 30;
	base.cpu_core_hour = 30;
	base.memory_gib_hour = 10;
	assert_int_equal(cost__split_node_price(35, &cap, &base, &out), 0);
	NEAR(out.gpu_hour, 15);
	NEAR(out.cpu_core_hour, 15);
	NEAR(out.memory_gib_hour, 5);
	/* the ratios hold and the parts sum to the node */
	NEAR(out.gpu_hour / out.memory_gib_hour, 3);
	NEAR(out.cpu_core_hour + out.memory_gib_hour + out.gpu_hour, 35);
	/* egress is not part of the node price */
	NEAR(out.egress_gib[PM_NET_INTERNET], PM_PRICE_EGRESS_INTERNET);
}

/* A 16-core, 64 GiB node without GPUs at OpenCost's default ratios. */
static void test_split_sums_to_node(void **state)
{
	struct pm_node_capacity cap = { .cpu_cores = 16, .memory_bytes = 64 * PM_GIB };
	struct pm_prices base, out;

	(void)state;
	cost__default_prices(&base);
	assert_int_equal(cost__split_node_price(0.768, &cap, &base, &out), 0);
	NEAR(16 * out.cpu_core_hour + 64 * out.memory_gib_hour, 0.768);
	NEAR(out.cpu_core_hour / out.memory_gib_hour,
	     PM_PRICE_CPU_CORE_HOUR / PM_PRICE_MEMORY_GIB_HOUR);
}

static void test_split_rejects(void **state)
{
	struct pm_node_capacity none = { 0 }, cap = { .cpu_cores = 2 };
	struct pm_prices base, zero, out;

	(void)state;
	cost__default_prices(&base);
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(cost__split_node_price(1, &none, &base, &out), -EINVAL);
	assert_int_equal(cost__split_node_price(1, &cap, &zero, &out), -EINVAL);
	assert_int_equal(cost__split_node_price(-1, &cap, &base, &out), -EINVAL);
	assert_int_equal(cost__split_node_price(NAN, &cap, &base, &out), -EINVAL);
}

/* OpenCost's allocation tests: max(request, usage), one side zero gives the other. */
static void test_allocated(void **state)
{
	(void)state;
	NEAR(cost__allocated(1.0, 0.01), 1.0);
	NEAR(cost__allocated(1.0, 2.2), 2.2);
	NEAR(cost__allocated(10000000, 75000000), 75000000);
	NEAR(cost__allocated(0, 0.5), 0.5);
	NEAR(cost__allocated(2.0, 0), 2.0);
	NEAR(cost__allocated(0, 0), 0);
	/* no request set: the usage */
	NEAR(cost__allocated(-1, 0.3), 0.3);
	NEAR(cost__allocated(-1, -5), 0);
}

/* ---- intervals ---- */

static struct pm_snapshot *snap(double mono, size_t n_pods)
{
	struct pm_snapshot *s = snapshot__new(n_pods);

	assert_non_null(s);
	s->mono = mono;
	s->node_memory_overhead_bytes = -1;
	return s;
}

static struct pm_container_snap *container(struct pm_pod_snap *p, const char *id,
					   int64_t cpu_req_milli, int64_t mem_req, int64_t gpus)
{
	struct pm_container_snap *c;

	p->containers = realloc(p->containers, (p->n_containers + 1) * sizeof(*c));
	assert_non_null(p->containers);
	c = &p->containers[p->n_containers++];
	memset(c, 0, sizeof(*c));
	strcpy(c->id, id);
	c->working_set_bytes = -1;
	c->cpu_request_milli = cpu_req_milli;
	c->memory_request_bytes = mem_req;
	c->gpu_request = gpus;
	return c;
}

static const struct pm_node_capacity cap4 = { .cpu_cores = 4, .memory_bytes = 16 * PM_GIB };

/* price 3600 $/core-hour = 1 $/core-second: dollars read as core-seconds */
static struct pm_prices unit_prices(void)
{
	struct pm_prices p;

	memset(&p, 0, sizeof(p));
	p.cpu_core_hour = 3600;
	p.memory_gib_hour = 3600; /* 1 $/GiB-second */
	p.gpu_hour = 3600;
	p.egress_gib[PM_NET_INTERNET] = 0.12;
	p.egress_gib[PM_NET_CROSS_ZONE] = 0.01;
	return p;
}

static void test_cpu_request_or_usage(void **state)
{
	struct pm_snapshot *a = snap(100, 1), *b = snap(110, 1);
	struct pm_prices p = unit_prices();
	struct pm_container_snap *c;

	(void)state;
	strcpy(a->pods[0].uid, "pod-a");
	strcpy(b->pods[0].uid, "pod-a");
	/* "idle": request 500m, used 2 s of 10 s = 0.2 cores */
	c = container(&a->pods[0], "idle", 500, -1, 0);
	c->cpu_ns = 1000000000ULL;
	c = container(&b->pods[0], "idle", 500, -1, 0);
	c->cpu_ns = 3000000000ULL;
	/* "busy": request 500m, used 8 s of 10 s = 0.8 cores */
	c = container(&a->pods[0], "busy", 500, -1, 0);
	c->cpu_ns = 0;
	c = container(&b->pods[0], "busy", 500, -1, 0);
	c->cpu_ns = 8000000000ULL;
	a->pods[0].cpu_ns = 1000000000ULL;
	/* 10 + 3 s more than the containers show: one born and gone in the tick */
	b->pods[0].cpu_ns = a->pods[0].cpu_ns + 10000000000ULL + 3000000000ULL;

	cost__advance(&p, &cap4, NULL, a);
	NEAR(a->pods[0].cost_dollars[PM_RES_CPU], 0);
	cost__advance(&p, &cap4, a, b);
	/* idle: max(5, 2) = 5; busy: max(5, 8) = 8; unaccounted: 3 */
	NEAR(b->pods[0].cost_dollars[PM_RES_CPU], 5 + 8 + 3);
	/* requested, unused: 5 - 2 */
	NEAR(b->pods[0].waste_dollars[PM_RES_CPU], 3);
	/* node: 4 cores x 10 s, less 16 allocated */
	NEAR(b->node_idle_cost_dollars[PM_RES_CPU], 40 - 16);
	snapshot__put(a);
	snapshot__put(b);
}

static void test_memory_gpu_network(void **state)
{
	struct pm_snapshot *a = snap(0, 1), *b = snap(3600, 1);
	struct pm_prices p;
	struct pm_container_snap *c;
	struct pm_pod_snap *pa = &a->pods[0], *pb = &b->pods[0];

	(void)state;
	cost__default_prices(&p);
	strcpy(pa->uid, "u");
	strcpy(pb->uid, "u");
	container(pa, "m", -1, 10000000, 2);
	c = container(pb, "m", -1, 10000000, 2);
	c->working_set_bytes = 75000000; /* OpenCost's vector: usage wins */
	c = container(pb, "small", -1, 100000000, 0);
	c->working_set_bytes = 25000000;		    /* request wins, 75e6 unused */
	pb->working_set_bytes = 75000000 + 25000000 + 4096; /* pod's own charge */
	pa->net_bytes[PM_NET_TX][PM_NET_INTERNET] = 1000;
	pb->net_bytes[PM_NET_TX][PM_NET_INTERNET] = 1000 + 2 * (uint64_t)PM_GIB;
	pb->net_bytes[PM_NET_TX][PM_NET_IN_ZONE] = 5 * (uint64_t)PM_GIB;
	pb->net_bytes[PM_NET_RX][PM_NET_INTERNET] = 7 * (uint64_t)PM_GIB; /* ingress: free */

	cost__advance(&p, &cap4, NULL, a);
	cost__advance(&p, &cap4, a, b);
	NEAR(pb->cost_dollars[PM_RES_MEMORY],
	     (75000000.0 + 100000000.0 + 4096) / PM_GIB * PM_PRICE_MEMORY_GIB_HOUR);
	NEAR(pb->waste_dollars[PM_RES_MEMORY], 75000000.0 / PM_GIB * PM_PRICE_MEMORY_GIB_HOUR);
	NEAR(pb->cost_dollars[PM_RES_GPU], 2 * PM_PRICE_GPU_HOUR);
	NEAR(pb->cost_dollars[PM_RES_NETWORK], 2 * PM_PRICE_EGRESS_INTERNET);
	NEAR(pb->cost_dollars[PM_RES_CPU], 0);
	/* GPUs: none on the node as priced, so no idle; memory: 16 GiB less allocated */
	NEAR(b->node_idle_cost_dollars[PM_RES_GPU], 0);
	NEAR(b->node_idle_cost_dollars[PM_RES_MEMORY],
	     (16 * PM_GIB - 175004096.0) / PM_GIB * PM_PRICE_MEMORY_GIB_HOUR);
	snapshot__put(a);
	snapshot__put(b);
}

/* Totals carry over; pods new to the interval start from zero. */
static void test_carry_and_new_pods(void **state)
{
	struct pm_snapshot *a = snap(10, 1), *b = snap(20, 2);
	struct pm_prices p = unit_prices();

	(void)state;
	strcpy(a->pods[0].uid, "b-old");
	a->pods[0].cost_dollars[PM_RES_CPU] = 100;
	a->pods[0].waste_dollars[PM_RES_MEMORY] = 7;
	a->pods[0].cpu_ns = 5000000000ULL;
	strcpy(b->pods[0].uid, "a-new");
	b->pods[0].cpu_ns = 2000000000ULL;
	strcpy(b->pods[1].uid, "b-old");
	b->pods[1].cpu_ns = 6000000000ULL;
	a->node_idle_cost_dollars[PM_RES_CPU] = 1000;
	a->node_cpu_overhead_seconds = 1;
	b->node_cpu_overhead_seconds = 1.5;
	b->node_memory_overhead_bytes = (long long)PM_GIB;

	cost__advance(&p, &cap4, a, b);
	NEAR(b->pods[0].cost_dollars[PM_RES_CPU], 2);
	NEAR(b->pods[1].cost_dollars[PM_RES_CPU], 101);
	NEAR(b->pods[1].waste_dollars[PM_RES_MEMORY], 7);
	NEAR(b->node_idle_cost_dollars[PM_RES_CPU], 1000 + 40 - 3);
	NEAR(b->node_overhead_cost_dollars[PM_RES_CPU], 0.5);
	NEAR(b->node_overhead_cost_dollars[PM_RES_MEMORY], 10); /* 1 GiB x 10 s */
	NEAR(b->price[PM_RES_CPU], 3600);
	NEAR(b->capacity[PM_RES_CPU], 4);
	snapshot__put(a);
	snapshot__put(b);
}

/*
 * The merge lookup finds what the binary search finds, whether its cursor
 * is right (the same pods), behind (a pod added) or ahead (a pod gone).
 */
static void test_pod_lookup_merge(void **state)
{
	static const char *const have[] = { "a", "c", "d", "f" };
	static const char *const ask[] = { "a", "b", "c", "d", "e", "f", "g", "c", "a" };
	struct pm_snapshot *s = snap(1, 4);
	const struct pm_pod_snap *p;
	size_t i, at = 0;

	(void)state;
	for (i = 0; i < 4; i++)
		strcpy(s->pods[i].uid, have[i]);
	for (i = 0; i < sizeof(ask) / sizeof(ask[0]); i++) {
		size_t before = at;

		p = snapshot__pod_next(s, ask[i], &at);
		assert_ptr_equal(p, snapshot__pod(s, ask[i]));
		if (p)
			assert_int_equal(at, (size_t)(p - s->pods) + 1);
		else
			assert_int_equal(at, before);
	}
	at = 0;
	assert_null(snapshot__pod_next(NULL, "a", &at));
	assert_int_equal(at, 0);
	snapshot__put(s);
}

/* A clock that did not move prices nothing; counters never step back. */
static void test_no_time_and_monotonic(void **state)
{
	struct pm_snapshot *a = snap(50, 1), *b = snap(50, 1), *c = snap(49, 1);
	struct pm_prices p = unit_prices();

	(void)state;
	strcpy(a->pods[0].uid, "x");
	strcpy(b->pods[0].uid, "x");
	strcpy(c->pods[0].uid, "x");
	container(&a->pods[0], "k", 1000, -1, 0);
	container(&b->pods[0], "k", 1000, -1, 0);
	a->pods[0].cost_dollars[PM_RES_CPU] = 9;
	cost__advance(&p, &cap4, a, b);
	NEAR(b->pods[0].cost_dollars[PM_RES_CPU], 9);
	NEAR(b->node_idle_cost_dollars[PM_RES_CPU], 0);

	c->pods[0].cost_dollars[PM_RES_CPU] = 4;
	c->node_idle_cost_dollars[PM_RES_GPU] = 1;
	b->node_idle_cost_dollars[PM_RES_GPU] = 2;
	cost__keep_monotonic(b, c);
	NEAR(c->pods[0].cost_dollars[PM_RES_CPU], 9);
	NEAR(c->node_idle_cost_dollars[PM_RES_GPU], 2);
	snapshot__put(a);
	snapshot__put(b);
	snapshot__put(c);
}

/* A container counter that went back (its cgroup retired into the pod) is not negative use. */
static void test_container_steps_back(void **state)
{
	struct pm_snapshot *a = snap(0, 1), *b = snap(10, 1);
	struct pm_prices p = unit_prices();
	struct pm_container_snap *c;

	(void)state;
	strcpy(a->pods[0].uid, "x");
	strcpy(b->pods[0].uid, "x");
	c = container(&a->pods[0], "k", -1, -1, 0);
	c->cpu_ns = 9000000000ULL;
	c = container(&b->pods[0], "k", -1, -1, 0);
	c->cpu_ns = 1000000000ULL;
	a->pods[0].cpu_ns = 9000000000ULL;
	b->pods[0].cpu_ns = 12000000000ULL;
	cost__advance(&p, &cap4, a, b);
	NEAR(b->pods[0].cost_dollars[PM_RES_CPU], 3);
	snapshot__put(a);
	snapshot__put(b);
}

/* Requested GPUs that saw no launch and no driver call in a tick are waste, when measured. */
static void test_gpu_waste(void **state)
{
	struct pm_snapshot *a = snap(0, 2), *b = snap(1800, 2);
	struct pm_prices p;
	struct pm_gpu_op_snap op = { .device = "nvidia0", .op = PM_GPU_OP_CONTROL, .calls = 5 };

	(void)state;
	cost__default_prices(&p);
	strcpy(a->pods[0].uid, "busy");
	strcpy(b->pods[0].uid, "busy");
	strcpy(a->pods[1].uid, "idle");
	strcpy(b->pods[1].uid, "idle");
	container(&a->pods[0], "k", -1, -1, 1);
	container(&b->pods[0], "k", -1, -1, 1);
	container(&a->pods[1], "k", -1, -1, 2);
	container(&b->pods[1], "k", -1, -1, 2);
	b->pods[0].gpu_ops = malloc(sizeof(op));
	assert_non_null(b->pods[0].gpu_ops);
	b->pods[0].gpu_ops[0] = op;
	b->pods[0].n_gpu_ops = 1;
	/* not measured: no claim either way */
	cost__advance(&p, &cap4, a, b);
	NEAR(b->pods[1].waste_dollars[PM_RES_GPU], 0);
	NEAR(b->pods[1].cost_dollars[PM_RES_GPU], 2 * 0.5 * PM_PRICE_GPU_HOUR);
	b->has_gpu = 1;
	cost__advance(&p, &cap4, a, b);
	NEAR(b->pods[0].waste_dollars[PM_RES_GPU], 0); /* made driver calls */
	NEAR(b->pods[1].waste_dollars[PM_RES_GPU], 2 * 0.5 * PM_PRICE_GPU_HOUR);
	/* a launch alone is work too, and so is a DRM scheduler job */
	b->pods[1].cuda.launches = 1;
	cost__advance(&p, &cap4, a, b);
	NEAR(b->pods[1].waste_dollars[PM_RES_GPU], 0);
	b->pods[1].cuda.launches = 0;
	b->pods[1].gpu_jobs = 3;
	cost__advance(&p, &cap4, a, b);
	NEAR(b->pods[1].waste_dollars[PM_RES_GPU], 0);
	snapshot__put(a);
	snapshot__put(b);
}

static void oh_group(struct pm_overhead_snap *g, int kind, const char *name, uint64_t cpu_ns,
		     long long mem)
{
	strcpy(g->name, name);
	g->kind = kind;
	g->cpu_ns = cpu_ns;
	g->cpu_seconds = cpu_ns / 1e9;
	g->memory_bytes = mem;
}

/*
 * Overhead groups: CPU over the interval (all of it for a group new in it),
 * working sets scaled down together when they exceed the node's memory
 * overhead, and costs carried from the last tick.
 */
static void test_overhead_groups(void **state)
{
	struct pm_snapshot *a = snap(100, 0), *b = snap(110, 0);
	struct pm_prices p = unit_prices();

	(void)state;
	a->overhead = calloc(1, sizeof(*a->overhead));
	b->overhead = calloc(3, sizeof(*b->overhead));
	assert_non_null(a->overhead);
	assert_non_null(b->overhead);
	a->n_overhead = 1;
	oh_group(&a->overhead[0], PM_OH_UNIT, "x.service", 2000000000ULL, PM_GIB);
	a->overhead[0].cost_dollars[PM_RES_CPU] = 1;
	a->overhead[0].cost_dollars[PM_RES_MEMORY] = 2;
	b->n_overhead = 3;
	oh_group(&b->overhead[0], PM_OH_UNIT, "x.service", 7000000000ULL, PM_GIB);
	oh_group(&b->overhead[1], PM_OH_SLICE, "s.slice", 1000000000ULL, -1);
	oh_group(&b->overhead[2], PM_OH_CONTAINER, "docker y", 3000000000ULL, 3 * PM_GIB);
	a->node_cpu_overhead_seconds = 2;
	b->node_cpu_overhead_seconds = 14;
	b->node_memory_overhead_bytes = 2 * PM_GIB; /* half of the groups' 4 GiB */

	cost__advance(&p, &cap4, a, b);
	NEAR(b->overhead[0].cost_dollars[PM_RES_CPU], 1 + 5);
	NEAR(b->overhead[1].cost_dollars[PM_RES_CPU], 1); /* new: all of its CPU */
	NEAR(b->overhead[2].cost_dollars[PM_RES_CPU], 3);
	NEAR(b->overhead[0].cost_dollars[PM_RES_MEMORY], 2 + 1 * 0.5 * 10);
	NEAR(b->overhead[1].cost_dollars[PM_RES_MEMORY], 0);
	NEAR(b->overhead[2].cost_dollars[PM_RES_MEMORY], 3 * 0.5 * 10);
	/* the node's: 12 s of CPU, 2 GiB for 10 s; the groups' memory is all of it */
	NEAR(b->node_overhead_cost_dollars[PM_RES_CPU], 12);
	NEAR(b->node_overhead_cost_dollars[PM_RES_MEMORY], 20);
	snapshot__put(a);
	snapshot__put(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_appendix_a),
		cmocka_unit_test(test_split_sums_to_node),
		cmocka_unit_test(test_split_rejects),
		cmocka_unit_test(test_allocated),
		cmocka_unit_test(test_cpu_request_or_usage),
		cmocka_unit_test(test_memory_gpu_network),
		cmocka_unit_test(test_carry_and_new_pods),
		cmocka_unit_test(test_pod_lookup_merge),
		cmocka_unit_test(test_no_time_and_monotonic),
		cmocka_unit_test(test_container_steps_back),
		cmocka_unit_test(test_gpu_waste),
		cmocka_unit_test(test_overhead_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
