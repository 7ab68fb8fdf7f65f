// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Assembly: the ledger's records -> one immutable snapshot. A pod's usage is
 * its retired usage plus its live cgroups'; that sum is written into the
 * snapshot's fields in one place (pod_fields).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect.h"

static int cmp_pod(const void *a, const void *b)
{
	return strcmp((*(struct pod_rec *const *)a)->uid, (*(struct pod_rec *const *)b)->uid);
}

/*
 * Pods sorted by uid (c->by_uid); returns the count, or -ENOMEM. Sorted
 * again only when a pod record was made or freed since.
 */
static ssize_t sorted_pods(struct pm_collector *c)
{
	struct pod_rec **grown, *p;
	size_t i = 0, n = 0;
	uint64_t key;
	void *v;

	if (!c->pods_moved)
		return c->n_by_uid;
	while (u64map__next(&c->pods, &i, &key, &v)) {
		for (p = v; p; p = p->next_same_hash) {
			if (n == c->cap_by_uid) {
				grown = realloc(c->by_uid, (n * 2 + 64) * sizeof(*grown));
				if (!grown)
					return -ENOMEM;
				c->by_uid = grown;
				c->cap_by_uid = n * 2 + 64;
			}
			c->by_uid[n++] = p;
		}
	}
	qsort(c->by_uid, n, sizeof(*c->by_uid), cmp_pod);
	c->n_by_uid = n;
	c->pods_moved = false;
	return n;
}

/* A live cgroup that is a container of its pod: the pod's own cgroup only if tasks ran in it. */
static bool cg_container(const struct cg_rec *r)
{
	return r->container_id[0] || r->n.total.oncpu_ns || r->n.total.runq_ns;
}

/*
 * Every pod's containers in one block, each pod's at most as many as its
 * cgroups that are containers: one allocation a tick instead of one a pod,
 * and a pod's containers next to the next pod's when later steps read them.
 */
static int ctr_pool(struct pm_collector *c, struct pm_snapshot *s)
{
	size_t i = 0, n = s->n_pods, total = 0, *room;
	struct cg_rec *r;
	uint64_t key;
	void *v;

	if (n > c->cap_room) {
		room = realloc(c->ctr_room, n * sizeof(*room));
		if (!room)
			return -ENOMEM;
		c->ctr_room = room;
		c->cap_room = n;
	}
	room = c->ctr_room;
	memset(room, 0, n * sizeof(*room));
	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		r = v;
		if (!r->tomb_since && r->pod && cg_container(r))
			room[r->pod->snap_idx]++;
	}
	for (i = 0; i < n; i++)
		total += room[i];
	if (!total)
		return 0;
	s->ctr_pool = malloc(total * sizeof(*s->ctr_pool));
	if (!s->ctr_pool)
		return -ENOMEM;
	for (i = 0, total = 0; i < n; i++) {
		s->pods[i].containers = room[i] ? s->ctr_pool + total : NULL;
		total += room[i];
	}
	return 0;
}

static struct pm_container_snap *container_in(struct pm_pod_snap *ps, size_t room,
					      const struct cg_rec *r)
{
	struct pm_container_snap *cs;
	size_t i;

	for (i = 0; i < ps->n_containers; i++)
		if (!strcmp(ps->containers[i].id, r->container_id))
			return &ps->containers[i];
	if (ps->n_containers == room)
		return NULL; /* ctr_pool() counted otherwise: cannot happen */
	cs = &ps->containers[ps->n_containers++];
	memset(cs, 0, sizeof(*cs));
	memcpy(cs->id, r->container_id, sizeof(cs->id));
	cs->runtime = r->runtime;
	cs->working_set_bytes = -1;
	cs->cpu_request_milli = cs->memory_request_bytes = -1;
	cs->cpu_limit_milli = cs->memory_limit_bytes = -1;
	return cs;
}

/* A container's share of a live cgroup. */
static void container_add(struct pm_container_snap *cs, const struct cg_rec *r)
{
	const struct pm_usage *u = &r->n.total;

	cs->cpu_ns += u->oncpu_ns;
	cs->runq_ns += u->runq_ns;
	cs->oom_kills += u->oom_kills;
	cs->throttled_periods += u->throttled_periods;
	cs->throttled_usec += u->throttled_usec;
	if (r->working_set >= 0)
		cs->working_set_bytes = (cs->working_set_bytes > 0 ? cs->working_set_bytes : 0) +
					r->working_set;
}

/* A live cgroup into its pod's usage (@acc) and snapshot, and its container. */
static int pod_add(struct pm_pod_snap *ps, size_t room, struct pm_usage *acc,
		   const struct cg_rec *r)
{
	const struct pm_reading *now = &r->n.now;
	struct pm_container_snap *cs;
	int k;

	if (usage__add(acc, &r->n.total))
		return -ENOMEM;
	/* held CUDA memory is the cgroup's now: it goes with the cgroup */
	if (r->n.total.cuda.bytes_held > 0)
		acc->cuda.bytes_held += r->n.total.cuda.bytes_held;
	ps->processes += r->procs;
	if (now->gpu_util >= 0)
		ps->gpu_utilization = (ps->gpu_utilization > 0 ? ps->gpu_utilization : 0) +
				      now->gpu_util;
	for (k = 0; k < PM_MEM_KINDS; k++)
		ps->rss_bytes[k] += now->rss_bytes[k];
	if (!cg_container(r))
		return 0;
	cs = container_in(ps, room, r);
	if (!cs)
		return -ENOMEM;
	container_add(cs, r);
	return 0;
}

/* Add the live cgroups to their pods and containers, or to node overhead. */
static int add_cgroups(struct pm_collector *c, struct pm_snapshot *s, struct pm_usage *accs,
		       __u64 *pods_ns, __u64 *overhead_ns)
{
	struct cg_rec *r;
	uint64_t key, net[2];
	size_t i = 0, k;
	void *v;

	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		r = v;
		if (r->tomb_since)
			continue; /* folded into its pod already */
		if (!r->pod) {
			*overhead_ns += r->n.total.oncpu_ns;
			usage__net_dirs(&r->n.total, net);
			if (r->grp)
				overhead__add(r->grp, r->n.total.oncpu_ns, net);
			continue;
		}
		*pods_ns += r->n.total.oncpu_ns;
		k = r->pod->snap_idx;
		if (pod_add(&s->pods[k], c->ctr_room[k], &accs[k], r))
			return -ENOMEM;
	}
	return 0;
}

/* A pod's driver calls as the snapshot lists them: non-zero (device, op) pairs. */
static int gpu_ops_of(const struct pm_collector *c, const struct pm_gpu_usage *g,
		      struct pm_pod_snap *ps)
{
	size_t n = 0;
	int d, o;

	for (d = 0; d < c->n_gpu_devs; d++)
		for (o = 0; o < PM_GPU_OPS; o++)
			n += g->calls[d][o] || g->ns[d][o];
	if (!n)
		return 0;
	ps->gpu_ops = calloc(n, sizeof(*ps->gpu_ops));
	if (!ps->gpu_ops)
		return -ENOMEM;
	for (d = 0; d < c->n_gpu_devs; d++) {
		for (o = 0; o < PM_GPU_OPS; o++) {
			struct pm_gpu_op_snap *op = &ps->gpu_ops[ps->n_gpu_ops];

			if (!g->calls[d][o] && !g->ns[d][o])
				continue;
			snprintf(op->device, sizeof(op->device), "%s", c->gpu_devs[d]);
			op->op = o;
			op->calls = g->calls[d][o];
			op->ns = g->ns[d][o];
			ps->n_gpu_ops++;
		}
	}
	return 0;
}

/* A pod's usage, as the snapshot's fields: the one place they are named. */
static int pod_fields(const struct pm_collector *c, const struct pm_usage *u,
		      struct pm_pod_snap *ps)
{
	int d, k;

	ps->cpu_ns = u->oncpu_ns;
	ps->runq_ns = u->runq_ns;
	ps->throttled_periods = u->throttled_periods;
	ps->throttled_usec = u->throttled_usec;
	ps->page_faults = u->faults;
	ps->oom_kills = u->oom_kills;
	for (d = 0; d < PM_NET_DIRS; d++) {
		for (k = 0; k < PM_NET_CLASSES; k++) {
			ps->net_bytes[d][k] = u->net_bytes[d][k];
			ps->net_packets[d][k] = u->net_packets[d][k];
		}
	}
	ps->tcp_retransmits = u->retransmits;
	ps->process_starts = u->starts;
	memcpy(ps->table_refusals, u->refused, sizeof(ps->table_refusals));
	ps->gpu_jobs = u->gpu_jobs;
	ps->cuda.launches = u->cuda.launches;
	ps->cuda.allocs = u->cuda.allocs;
	ps->cuda.frees = u->cuda.frees;
	ps->cuda.memory_bytes = u->cuda.bytes_held;
	ps->cuda.memcpy_bytes = u->cuda.bytes_copied;
	ps->cuda.sync_calls = u->cuda.sync_calls;
	ps->cuda.sync_ns = u->cuda.sync_ns;
	return u->gpu ? gpu_ops_of(c, u->gpu, ps) : 0;
}

/* Seconds from nanoseconds summed as integers: counters never step back. */
static void finish_seconds(struct pm_snapshot *s)
{
	size_t i, k;

	for (i = 0; i < s->n_pods; i++) {
		struct pm_pod_snap *ps = &s->pods[i];

		ps->cpu_seconds = ps->cpu_ns / NS_PER_S;
		ps->runq_seconds = ps->runq_ns / NS_PER_S;
		for (k = 0; k < ps->n_containers; k++) {
			ps->containers[k].cpu_seconds = ps->containers[k].cpu_ns / NS_PER_S;
			ps->containers[k].runq_seconds = ps->containers[k].runq_ns / NS_PER_S;
		}
	}
}

/* This read's zombies, to their pods: all counted, the first few listed. */
static void add_zombies(struct pm_collector *c, struct pm_snapshot *s)
{
	struct pm_pod_snap *ps;
	struct cg_rec *r;
	size_t i;

	for (i = 0; i < c->n_zombies; i++) {
		r = u64map__get(&c->cgroups, c->zombies[i].cgid);
		if (!r || !r->pod || r->tomb_since)
			continue;
		ps = &s->pods[r->pod->snap_idx];
		ps->zombies++;
		if (!ps->zombie_list)
			ps->zombie_list = calloc(PM_SNAP_ZOMBIES, sizeof(*ps->zombie_list));
		/* out of memory: counted, not listed */
		if (ps->zombie_list && ps->n_zombie_list < PM_SNAP_ZOMBIES)
			ps->zombie_list[ps->n_zombie_list++] = c->zombies[i].z;
	}
}

void assemble__meminfo(const char *proc_root, long long *total, long long *avail)
{
	char path[PATH_MAX + 16], name[64];
	long long kb;
	FILE *f;

	*total = *avail = -1;
	snprintf(path, sizeof(path), "%s/meminfo", proc_root);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fscanf(f, "%63s %lld%*[^\n]", name, &kb) == 2) {
		if (!strcmp(name, "MemTotal:"))
			*total = kb * 1024;
		else if (!strcmp(name, "MemAvailable:"))
			*avail = kb * 1024;
	}
	fclose(f);
}

/* Memory in use on the node that no pod's working set holds. */
static long long memory_overhead(const struct pm_collector *c, const struct pm_snapshot *s)
{
	long long total, avail, used;
	size_t i;

	assemble__meminfo(c->proc_root, &total, &avail);
	if (total < 0 || avail < 0)
		return -1;
	used = total - avail;
	for (i = 0; i < s->n_pods; i++)
		if (s->pods[i].working_set_bytes > 0)
			used -= s->pods[i].working_set_bytes;
	return used > 0 ? used : 0;
}

/* Pods in uid order, each starting from what its gone cgroups used. */
static int add_pods(struct pm_snapshot *s, struct pod_rec **pods, struct pm_usage *accs,
		    __u64 *pods_ns)
{
	size_t i;

	for (i = 0; i < s->n_pods; i++) {
		struct pm_pod_snap *ps = &s->pods[i];

		pods[i]->snap_idx = i;
		memcpy(ps->uid, pods[i]->uid, sizeof(ps->uid));
		ps->qos = pods[i]->qos;
		ps->working_set_bytes = pods[i]->working_set;
		if (usage__add(&accs[i], &pods[i]->retired))
			return -ENOMEM;
		*pods_ns += pods[i]->retired.oncpu_ns;
	}
	return 0;
}

/* The node's figures, and the sources' say on which figures the snapshot has. */
static void node_fields(struct pm_collector *c, struct pm_snapshot *s, __u64 pods_ns,
			__u64 overhead_ns)
{
	const struct pm_source_inst *src;

	for (src = c->srcs; src < c->srcs + c->n_srcs; src++)
		if (src->ops->present)
			src->ops->present(src->src, s);
	s->node_cpu_pods_seconds = pods_ns / NS_PER_S;
	s->node_cpu_overhead_seconds = overhead_ns / NS_PER_S;
	s->node_cpu_overhead_ns = overhead_ns;
	s->overhead_top = c->oh_top;
	s->node_memory_overhead_bytes = memory_overhead(c, s);
	s->agent = c->stats;
}

struct pm_snapshot *assemble__snapshot(struct pm_collector *c, double now)
{
	__u64 pods_ns = c->retired_pods_ns, overhead_ns = c->retired_overhead.oncpu_ns;
	struct pm_usage *accs = NULL;
	struct pm_snapshot *s;
	struct pod_rec **pods;
	ssize_t n;
	size_t i;
	int err;

	n = sorted_pods(c);
	if (n < 0)
		return NULL;
	pods = c->by_uid;
	s = snapshot__new(n);
	if (!s)
		goto out_free;
	s->time = now;
	if ((size_t)n > c->cap_accs) {
		/* kept between snapshots: usage__free() leaves each entry zeroed */
		accs = realloc(c->accs, n * sizeof(*accs));
		if (accs) {
			memset(accs + c->cap_accs, 0, (n - c->cap_accs) * sizeof(*accs));
			c->accs = accs;
			c->cap_accs = n;
		}
	}
	accs = (size_t)n <= c->cap_accs ? c->accs : NULL;
	overhead__begin(c->oh);
	err = (n && !accs) || add_pods(s, pods, accs, &pods_ns) || ctr_pool(c, s) ||
	      add_cgroups(c, s, accs, &pods_ns, &overhead_ns);
	for (i = 0; !err && i < (size_t)n; i++)
		err = pod_fields(c, &accs[i], &s->pods[i]);
	if (err || overhead__snap(c->oh, s, now)) {
		snapshot__put(s);
		s = NULL;
		goto out_free;
	}
	add_zombies(c, s);
	finish_seconds(s);
	node_fields(c, s, pods_ns, overhead_ns);
out_free:
	for (i = 0; accs && i < (size_t)n; i++)
		usage__free(&accs[i]);
	return s;
}
