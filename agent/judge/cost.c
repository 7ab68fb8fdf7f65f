// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Cost: OpenCost's allocation rules applied per container and per tick.
 *
 * A tick is the interval between two snapshots. Over it a container is
 * allocated max(request x seconds, CPU seconds used) of CPU and
 * max(request, working set) x seconds of memory; CPU a pod used that no
 * container present at both ends can account for (a container born or gone
 * within the tick) is allocated as used, so nothing used goes unpriced.
 */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>
#include <podmeter/cost.h>

#define S_PER_HOUR 3600.0

void cost__default_prices(struct pm_prices *p)
{
	memset(p, 0, sizeof(*p));
	p->cpu_core_hour = PM_PRICE_CPU_CORE_HOUR;
	p->memory_gib_hour = PM_PRICE_MEMORY_GIB_HOUR;
	p->gpu_hour = PM_PRICE_GPU_HOUR;
	p->egress_gib[PM_NET_LOCAL] = PM_PRICE_EGRESS_LOCAL;
	p->egress_gib[PM_NET_IN_ZONE] = PM_PRICE_EGRESS_IN_ZONE;
	p->egress_gib[PM_NET_CROSS_ZONE] = PM_PRICE_EGRESS_CROSS_ZONE;
	p->egress_gib[PM_NET_CROSS_REGION] = PM_PRICE_EGRESS_CROSS_REGION;
	p->egress_gib[PM_NET_INTERNET] = PM_PRICE_EGRESS_INTERNET;
}

int cost__split_node_price(double node_hour, const struct pm_node_capacity *cap,
			   const struct pm_prices *base, struct pm_prices *out)
{
	double gib = cap->memory_bytes / PM_GIB, weight, scale;

	weight = cap->cpu_cores * base->cpu_core_hour + gib * base->memory_gib_hour +
		 cap->gpus * base->gpu_hour;
	if (!(node_hour >= 0) || !isfinite(node_hour) || !(weight > 0) || !isfinite(weight))
		return -EINVAL;
	scale = node_hour / weight;
	*out = *base;
	out->cpu_core_hour = base->cpu_core_hour * scale;
	out->memory_gib_hour = base->memory_gib_hour * scale;
	out->gpu_hour = base->gpu_hour * scale;
	return 0;
}

double cost__allocated(double request, double usage)
{
	if (!(usage > 0))
		usage = 0;
	return request > usage ? request : usage;
}

static double grown(uint64_t now, uint64_t then)
{
	return now > then ? (double)(now - then) : 0.0;
}

/* What one pod was allocated over @dt seconds. */
struct pod_alloc {
	double cpu_core_s; /* core-seconds */
	double mem_byte_s; /* byte-seconds */
	double gpu_s;	   /* GPU-seconds */
	double cpu_waste_core_s;
	double mem_waste_byte_s;
	double gpu_waste_s; /* requested GPUs that saw no launch and no driver call */
	double egress_bytes[PM_NET_CLASSES];
};

/* Any kernel launch, DRM job or GPU driver call in the interval. */
static bool gpu_work(const struct pm_pod_snap *bp, const struct pm_pod_snap *ps)
{
	return grown(ps->cuda.launches, bp ? bp->cuda.launches : 0) > 0 ||
	       grown(ps->gpu_jobs, bp ? bp->gpu_jobs : 0) > 0 ||
	       grown(snapshot__gpu_calls(ps, NULL), snapshot__gpu_calls(bp, NULL)) > 0;
}

static void pod_allocation(const struct pm_pod_snap *bp, const struct pm_pod_snap *ps, double dt,
			   bool gpu_measured, struct pod_alloc *a)
{
	double pod_cpu = grown(ps->cpu_ns, bp ? bp->cpu_ns : 0), seen_cpu = 0, seen_ws = 0;
	double used, req, ws, mreq;
	size_t i;
	int k;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < ps->n_containers; i++) {
		const struct pm_container_snap *cs = &ps->containers[i];
		const struct pm_container_snap *bc = snapshot__container(bp, cs->id);

		used = grown(cs->cpu_ns, bc ? bc->cpu_ns : 0);
		if (used > pod_cpu - seen_cpu)
			used = pod_cpu - seen_cpu;
		seen_cpu += used;
		used /= 1e9;
		req = cs->cpu_request_milli >= 0 ? cs->cpu_request_milli / 1000.0 * dt : -1;
		a->cpu_core_s += cost__allocated(req, used);
		if (req > used)
			a->cpu_waste_core_s += req - used;

		ws = cs->working_set_bytes > 0 ? (double)cs->working_set_bytes : 0;
		mreq = cs->memory_request_bytes >= 0 ? (double)cs->memory_request_bytes : -1;
		seen_ws += ws;
		a->mem_byte_s += cost__allocated(mreq, ws) * dt;
		if (mreq > ws)
			a->mem_waste_byte_s += (mreq - ws) * dt;

		if (cs->gpu_request > 0)
			a->gpu_s += (double)cs->gpu_request * dt;
	}
	/* used by no container seen at both ends: allocated as used */
	a->cpu_core_s += (pod_cpu - seen_cpu) / 1e9;
	if (ps->working_set_bytes > seen_ws)
		a->mem_byte_s += (ps->working_set_bytes - seen_ws) * dt;
	for (k = 0; k < PM_NET_CLASSES; k++)
		a->egress_bytes[k] = grown(ps->net_bytes[PM_NET_TX][k],
					   bp ? bp->net_bytes[PM_NET_TX][k] : 0);
	if (a->gpu_s > 0 && gpu_measured && !gpu_work(bp, ps))
		a->gpu_waste_s = a->gpu_s;
}

static void price_pod(const struct pm_prices *p, const struct pod_alloc *a,
		      const struct pm_pod_snap *bp, struct pm_pod_snap *ps)
{
	double net = 0;
	int r, k;

	for (r = 0; r < PM_RES_MAX; r++) {
		ps->cost_dollars[r] = bp ? bp->cost_dollars[r] : 0;
		ps->waste_dollars[r] = bp ? bp->waste_dollars[r] : 0;
	}
	for (k = 0; k < PM_NET_CLASSES; k++)
		net += a->egress_bytes[k] / PM_GIB * p->egress_gib[k];
	ps->cost_dollars[PM_RES_CPU] += a->cpu_core_s / S_PER_HOUR * p->cpu_core_hour;
	ps->cost_dollars[PM_RES_MEMORY] += a->mem_byte_s / PM_GIB / S_PER_HOUR * p->memory_gib_hour;
	ps->cost_dollars[PM_RES_GPU] += a->gpu_s / S_PER_HOUR * p->gpu_hour;
	ps->cost_dollars[PM_RES_NETWORK] += net;
	ps->waste_dollars[PM_RES_CPU] += a->cpu_waste_core_s / S_PER_HOUR * p->cpu_core_hour;
	ps->waste_dollars[PM_RES_MEMORY] += a->mem_waste_byte_s / PM_GIB / S_PER_HOUR *
					    p->memory_gib_hour;
	ps->waste_dollars[PM_RES_GPU] += a->gpu_waste_s / S_PER_HOUR * p->gpu_hour;
}

/* Node price over @dt less what pods were allocated, never below zero. */
static double idle(double capacity, double allocated, double dt)
{
	double free_ = capacity * dt - allocated;

	return free_ > 0 ? free_ : 0;
}

/*
 * Node overhead groups, priced as the node's overhead is: CPU over the
 * interval, working set over its length. Memory is priced out of the node's
 * memory overhead: working sets that add to more (page cache the kernel
 * counts as available) are scaled down together, so the parts never exceed
 * the whole.
 */
static void price_overhead(const struct pm_prices *p, const struct pm_snapshot *base,
			   struct pm_snapshot *s, double dt)
{
	double ws = 0, scale = 1, cpu_s;
	const struct pm_overhead_snap *b;
	struct pm_overhead_snap *g;
	size_t i;

	for (i = 0; i < s->n_overhead; i++)
		if (s->overhead[i].memory_bytes > 0)
			ws += s->overhead[i].memory_bytes;
	if (s->node_memory_overhead_bytes <= 0)
		scale = 0;
	else if (ws > s->node_memory_overhead_bytes)
		scale = s->node_memory_overhead_bytes / ws;
	for (i = 0; i < s->n_overhead; i++) {
		g = &s->overhead[i];
		b = snapshot__overhead(base, g->kind, g->name);
		if (b)
			memcpy(g->cost_dollars, b->cost_dollars, sizeof(g->cost_dollars));
		if (!base)
			continue;
		/* a group new since the last tick ran all of its time in this interval */
		cpu_s = b ? g->cpu_seconds - b->cpu_seconds : g->cpu_seconds;
		if (cpu_s > 0)
			g->cost_dollars[PM_RES_CPU] += cpu_s / S_PER_HOUR * p->cpu_core_hour;
		if (g->memory_bytes > 0)
			g->cost_dollars[PM_RES_MEMORY] += g->memory_bytes * scale * dt / PM_GIB /
							  S_PER_HOUR * p->memory_gib_hour;
	}
}

void cost__advance(const struct pm_prices *p, const struct pm_node_capacity *cap,
		   const struct pm_snapshot *base, struct pm_snapshot *s)
{
	double dt = base ? s->mono - base->mono : 0, cpu = 0, mem = 0, gpu = 0, oh_cpu;
	struct pod_alloc a;
	size_t i, at = 0;
	int r;

	if (!(dt > 0))
		dt = 0;
	for (i = 0; i < s->n_pods; i++) {
		struct pm_pod_snap *ps = &s->pods[i];
		const struct pm_pod_snap *bp = snapshot__pod_next(base, ps->uid, &at);

		pod_allocation(bp, ps, dt, s->has_gpu || s->has_cuda, &a);
		if (!base)
			memset(&a, 0, sizeof(a));
		price_pod(p, &a, bp, ps);
		cpu += a.cpu_core_s;
		mem += a.mem_byte_s;
		gpu += a.gpu_s;
	}

	s->price[PM_RES_CPU] = p->cpu_core_hour;
	s->price[PM_RES_MEMORY] = p->memory_gib_hour;
	s->price[PM_RES_GPU] = p->gpu_hour;
	memcpy(s->egress_price_gib, p->egress_gib, sizeof(s->egress_price_gib));
	s->capacity[PM_RES_CPU] = cap->cpu_cores;
	s->capacity[PM_RES_MEMORY] = cap->memory_bytes;
	s->capacity[PM_RES_GPU] = cap->gpus;
	for (r = 0; r < PM_RES_NETWORK; r++)
		s->node_idle_cost_dollars[r] = base ? base->node_idle_cost_dollars[r] : 0;
	for (r = 0; r < PM_RES_GPU; r++)
		s->node_overhead_cost_dollars[r] = base ? base->node_overhead_cost_dollars[r] : 0;
	price_overhead(p, base, s, dt);
	if (!base)
		return;
	s->node_idle_cost_dollars[PM_RES_CPU] += idle(cap->cpu_cores, cpu, dt) / S_PER_HOUR *
						 p->cpu_core_hour;
	s->node_idle_cost_dollars[PM_RES_MEMORY] += idle(cap->memory_bytes, mem, dt) / PM_GIB /
						    S_PER_HOUR * p->memory_gib_hour;
	s->node_idle_cost_dollars[PM_RES_GPU] += idle(cap->gpus, gpu, dt) / S_PER_HOUR *
						 p->gpu_hour;
	oh_cpu = s->node_cpu_overhead_seconds - base->node_cpu_overhead_seconds;
	if (oh_cpu > 0)
		s->node_overhead_cost_dollars[PM_RES_CPU] += oh_cpu / S_PER_HOUR * p->cpu_core_hour;
	if (s->node_memory_overhead_bytes > 0)
		s->node_overhead_cost_dollars[PM_RES_MEMORY] += s->node_memory_overhead_bytes * dt /
								PM_GIB / S_PER_HOUR *
								p->memory_gib_hour;
}

static void keep_max(double *now, const double *before, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (now[i] < before[i])
			now[i] = before[i];
}

void cost__keep_monotonic(const struct pm_snapshot *prev, struct pm_snapshot *s)
{
	const struct pm_pod_snap *bp;
	size_t i, at = 0;

	if (!prev)
		return;
	for (i = 0; i < s->n_pods; i++) {
		bp = snapshot__pod_next(prev, s->pods[i].uid, &at);
		if (!bp)
			continue;
		keep_max(s->pods[i].cost_dollars, bp->cost_dollars, PM_RES_MAX);
		keep_max(s->pods[i].waste_dollars, bp->waste_dollars, PM_RES_MAX);
	}
	keep_max(s->node_idle_cost_dollars, prev->node_idle_cost_dollars, PM_RES_NETWORK);
	keep_max(s->node_overhead_cost_dollars, prev->node_overhead_cost_dollars, PM_RES_GPU);
	for (i = 0; i < s->n_overhead; i++) {
		const struct pm_overhead_snap *bg = snapshot__overhead(prev, s->overhead[i].kind,
								       s->overhead[i].name);

		if (bg)
			keep_max(s->overhead[i].cost_dollars, bg->cost_dollars, PM_RES_GPU);
	}
}
