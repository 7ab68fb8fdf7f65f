// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ledger: a record per cgroup id the sources report, a record per pod.
 *
 * Every cgroup's total is kept monotonic. A cgroup that disappears from the
 * hierarchy is read one last time at the next collection, its total is folded
 * into its pod (or node overhead), and every source forgets it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/esc.h>
#include "collect.h"

#define POD_LINGER_S 120 /* a gone pod stays in snapshots this long */
#define DEAD_READS   2	 /* reads a dead cgroup is seen dead, unheld, before retiring */
#define TOMB_S	     60	 /* a retired cgroup's id is remembered this long */
#define AGE_MAX	     256 /* cgroups retired, and forgotten, a read at most: the rest go next time */

__u64 ledger__uid_hash(const char *uid)
{
	__u64 h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *uid; uid++)
		h = (h ^ (unsigned char)*uid) * 0x100000001b3ULL;
	return h;
}

struct pod_rec *ledger__pod(struct pm_collector *c, const struct pm_pod_ident *id)
{
	__u64 h = ledger__uid_hash(id->uid);
	struct pod_rec *head = u64map__get(&c->pods, h), *p;

	for (p = head; p; p = p->next_same_hash)
		if (!strcmp(p->uid, id->uid))
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->uid, id->uid, sizeof(p->uid));
	p->qos = id->qos;
	p->working_set = -1;
	/* what its removed containers ran before this agent started */
	if (c->keeper)
		c->keeper->ops->keep_get(c->keeper->src, p->uid, &p->retired);
	p->next_same_hash = head;
	c->pods_moved = true;
	if (u64map__put(&c->pods, h, p)) {
		free(p);
		return NULL;
	}
	return p;
}

struct cg_rec *ledger__cgroup(struct pm_collector *c, __u64 cgid)
{
	struct cg_rec *r = u64map__get(&c->cgroups, cgid);

	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cgid = cgid;
	r->working_set = -1;
	if (u64map__put(&c->cgroups, cgid, r)) {
		free(r);
		return NULL;
	}
	return r;
}

/* ---- the sink the sources read into ---- */

/* A cgroup id read from a source: one the walk has not found yet asks for a walk. */
static struct pm_cg_counts *sink_cgroup(void *ctx, __u64 cgid)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = u64map__get(&c->cgroups, cgid);

	if (!r) {
		c->unknown_seen = true;
		r = ledger__cgroup(c, cgid);
	}
	return r ? &r->n : NULL;
}

static struct pm_cg_counts *sink_known(void *ctx, __u64 cgid)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = u64map__get(&c->cgroups, cgid);

	return r ? &r->n : NULL;
}

static struct pm_cg_counts *sink_by_pid(void *ctx, __u32 pid)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = u64map__get(&c->pid_cg, pid);

	return r ? &r->n : NULL;
}

/*
 * Named at birth: a cgroup gone before any walk still lands in its pod. The
 * next walk reads the hierarchy unless the path leads to it (walk__born()).
 */
static void sink_born(void *ctx, __u64 cgid, const char *path)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = ledger__cgroup(c, cgid);

	if (r && path[0])
		walk__classify(c, r, path);
	if (!r || !walk__born(c, r, path))
		c->tree_born = true;
}

/* Removed: the next walk counts it dead without reading the hierarchy. */
static void sink_gone(void *ctx, __u64 cgid)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = u64map__get(&c->cgroups, cgid);

	if (r)
		r->removed = true;
}

static void sink_zombie(void *ctx, __u64 cgid, const struct pm_zombie_snap *zs)
{
	struct pm_collector *c = ctx;
	struct zombie_seen *z;

	if (c->n_zombies == c->cap_zombies) {
		size_t cap = c->cap_zombies ? c->cap_zombies * 2 : 64;

		z = realloc(c->zombies, cap * sizeof(*z));
		if (!z)
			return;
		c->zombies = z;
		c->cap_zombies = cap;
	}
	z = &c->zombies[c->n_zombies++];
	z->cgid = cgid;
	z->z = *zs;
}

static void sink_oom(void *ctx, __u64 cgid, __u32 pid, const char *comm)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = u64map__get(&c->cgroups, cgid);
	char ecomm[PM_ESC_BUF], euid[PM_ESC_BUF];

	fprintf(stderr, "oom: pid %u (\"%s\") killed in %s%s\n", pid,
		esc__str(ecomm, sizeof(ecomm), comm), r && r->pod ? "pod " : "cgroup outside pods",
		r && r->pod ? esc__str(euid, sizeof(euid), r->pod->uid) : "");
}

/* The row of a device label in the GPU tables; -1 when the table is full. */
static int sink_gpu_dev(void *ctx, const char *device)
{
	struct pm_collector *c = ctx;
	int i;

	for (i = 0; i < c->n_gpu_devs; i++)
		if (!strcmp(c->gpu_devs[i], device))
			return i;
	if (c->n_gpu_devs == PM_GPU_MAX_DEVS)
		return -1;
	snprintf(c->gpu_devs[c->n_gpu_devs], sizeof(c->gpu_devs[0]), "%s", device);
	return c->n_gpu_devs++;
}

/* Before a read: the sink, and every record's figures of the last read cleared. */
void ledger__begin_read(struct pm_collector *c, struct pm_sink *sink)
{
	struct cg_rec *r;
	size_t i = 0;
	uint64_t key;
	void *v;

	*sink = (struct pm_sink){
		.cgroup = sink_cgroup,
		.known = sink_known,
		.by_pid = sink_by_pid,
		.born = sink_born,
		.gone = sink_gone,
		.zombie = sink_zombie,
		.oom = sink_oom,
		.gpu_dev = sink_gpu_dev,
		.ctx = c,
	};
	c->unknown_seen = false;
	c->n_zombies = 0;
	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		r = v;
		memset(&r->n.now, 0, sizeof(r->n.now));
		r->n.now.gpu_util = -1;
	}
}

/* A retired cgroup's count is in its pod already: its pair goes. */
bool ledger__refusal(void *ctx, __u64 cgid, __u32 table, __u64 n)
{
	struct pm_cg_counts *r = sink_cgroup(ctx, cgid);

	if (!r || table >= PM_TABLES)
		return false;
	if (r->retired)
		return true;
	usage__raise(&r->total.refused[table], n);
	return false;
}

/* ---- after a read ---- */

/* Fold the in-flight slice in, keeping each total monotonic. */
void ledger__settle(struct pm_collector *c)
{
	struct pm_reading *now;
	struct cg_rec *r;
	size_t i = 0;
	uint64_t key;
	void *v;

	c->stats.cgroups_tracked = 0;
	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		r = v;
		now = &r->n.now;
		c->stats.cgroups_tracked += r->n.in_map;
		if (r->tomb_since)
			continue;
		usage__raise(&r->n.total.oncpu_ns, r->n.map_oncpu_ns + now->inflight_oncpu_ns);
		usage__raise(&r->n.total.runq_ns, r->n.map_runq_ns + now->inflight_runq_ns);
	}
}

/* Into its pod (or node overhead), and into the copy a restart reads. */
static void fold(struct pm_collector *c, struct pod_rec *pod, const struct pm_usage *u)
{
	const struct pm_usage *kept = pod ? &pod->retired : &c->retired_overhead;
	int err;

	if (pod)
		usage__add(&pod->retired, u);
	else
		c->retired_overhead.oncpu_ns += u->oncpu_ns;
	if (!c->keeper)
		return;
	err = c->keeper->ops->keep_set(c->keeper->src, pod ? pod->uid : "", kept);
	if (err && !c->retired_full_warned) {
		fprintf(stderr,
			"warning: %s: keep removed cgroups' totals: %s; a restart "
			"would lose them\n",
			c->keeper->ops->name, strerror(-err));
		c->retired_full_warned = true;
	}
}

/* The sources forgot @r: what a late flush brings back is new (bury_again()). */
static void forgotten(struct cg_rec *r)
{
	r->n.in_map = false;
	r->n.map_oncpu_ns = r->n.map_runq_ns = 0;
}

/* A dead cgroup the sources forgot: its totals go into its pod (or node overhead). */
static void retire(struct pm_collector *c, struct cg_rec *r, double now)
{
	uint64_t net[2];

	forgotten(r);
	fold(c, r->pod, &r->n.total);
	if (r->grp) {
		usage__net_dirs(&r->n.total, net);
		overhead__retire(r->grp, r->n.total.oncpu_ns, net);
	}
	r->tomb_since = now;
	r->n.retired = true;
}

/*
 * Retire the dead cgroups of this read: every source forgets all of them at
 * once, then each goes into its pod and its id is kept for TOMB_S as a
 * tombstone. One a source could not forget is kept (tried again next read).
 */
static void retire_all(struct pm_collector *c, struct cg_rec **due, size_t n, double now)
{
	const struct pm_source_inst *s;
	int res[AGE_MAX], err;
	__u64 cgids[AGE_MAX];
	bool removed[AGE_MAX] = {}, failed[AGE_MAX] = {};
	size_t i;

	for (i = 0; i < n; i++)
		cgids[i] = due[i]->cgid;
	for (s = c->srcs; n && s < c->srcs + c->n_srcs; s++) {
		if (!s->ops->forget)
			continue;
		err = s->ops->forget(s->src, cgids, n, res);
		if (err) {
			fprintf(stderr, "warning: %s: remove %zu cgroups: %s; retrying next tick\n",
				s->ops->name, n, strerror(-err));
			memset(failed, true, sizeof(failed));
			continue;
		}
		for (i = 0; i < n; i++) {
			if (res[i] < 0 && !failed[i])
				fprintf(stderr,
					"warning: %s: remove cgroup %llu: %s; retrying next tick\n",
					s->ops->name, (unsigned long long)cgids[i],
					strerror(-res[i]));
			failed[i] |= res[i] < 0;
			removed[i] |= res[i] > 0;
		}
	}
	for (i = 0; i < n; i++) {
		if (failed[i])
			continue;
		if (removed[i])
			c->stats.cgroups_removed++;
		retire(c, due[i], now);
	}
}

/*
 * A tombstone whose id is back in the tracked table got a late flush from a
 * CPU: all of that is new, and belongs to the same pod.
 */
static void bury_again(struct pm_collector *c, struct cg_rec *r)
{
	struct pm_usage late = {};
	int res = 0;

	if (!r->n.in_map || !c->keeper ||
	    c->keeper->ops->forget(c->keeper->src, &r->cgid, 1, &res) || res != 1)
		return;
	late.oncpu_ns = r->n.map_oncpu_ns;
	late.runq_ns = r->n.map_runq_ns;
	forgotten(r);
	fold(c, r->pod, &late);
	if (r->grp)
		overhead__retire(r->grp, late.oncpu_ns, (uint64_t[2]){ 0, 0 });
}

enum age { AGE_KEEP, AGE_RETIRE, AGE_FREE };

static enum age age_cgroup(struct pm_collector *c, struct cg_rec *r, double now)
{
	if (r->tomb_since) {
		bury_again(c, r);
		return now - r->tomb_since > TOMB_S ? AGE_FREE : AGE_KEEP;
	}
	if (!r->dead || r->n.now.held) {
		r->dead_reads = 0;
		return AGE_KEEP;
	}
	/* read dead and unheld twice: no CPU can still move amounts of it in */
	return ++r->dead_reads >= DEAD_READS ? AGE_RETIRE : AGE_KEEP;
}

static void cgroup_free(struct pm_collector *c, struct cg_rec *r)
{
	if (r->pod)
		r->pod->refs--;
	if (r->grp)
		overhead__unref(r->grp);
	u64map__del(&c->cgroups, r->cgid);
	usage__free(&r->n.total);
	free(r->pids);
	free(r->rel);
	free(r);
}

/*
 * Cgroups the walk no longer finds: read a last time, retired, remembered
 * for a while, then forgotten.
 */
void ledger__age_cgroups(struct pm_collector *c, double now)
{
	struct cg_rec *gone[AGE_MAX], *due[AGE_MAX];
	size_t i = 0, n = 0, n_due = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		switch (age_cgroup(c, v, now)) {
		case AGE_RETIRE:
			if (n_due < AGE_MAX)
				due[n_due++] = v;
			break;
		case AGE_FREE:
			if (n < AGE_MAX)
				gone[n++] = v;
			break;
		case AGE_KEEP:
			break;
		}
	}
	retire_all(c, due, n_due, now);
	for (i = 0; i < n; i++)
		cgroup_free(c, gone[i]);
}

static void pod_free(struct pm_collector *c, struct pod_rec *p)
{
	__u64 h = ledger__uid_hash(p->uid);
	struct pod_rec *head = u64map__get(&c->pods, h), **pp;

	for (pp = &head; *pp; pp = &(*pp)->next_same_hash) {
		if (*pp == p) {
			*pp = p->next_same_hash;
			break;
		}
	}
	if (head)
		u64map__put(&c->pods, h, head); /* a replace: cannot fail */
	else
		u64map__del(&c->pods, h);
	c->retired_pods_ns += p->retired.oncpu_ns;
	c->pods_moved = true;
	if (c->keeper)
		c->keeper->ops->keep_del(c->keeper->src, p->uid);
	usage__free(&p->retired);
	free(p->path);
	free(p);
}

/* Pods without cgroups linger in snapshots for POD_LINGER_S, then go. */
void ledger__age_pods(struct pm_collector *c, double now)
{
	struct pod_rec *expired = NULL, *p, *next;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->pods, &i, &key, &v)) {
		for (p = v; p; p = p->next_same_hash) {
			if (p->live_cgroups)
				p->gone_since = 0;
			else if (!p->gone_since)
				p->gone_since = now;
		}
	}
	/* unlink outside the iteration: collect through a list of their own */
	for (i = 0; u64map__next(&c->pods, &i, &key, &v);) {
		for (p = v; p; p = p->next_same_hash) {
			if (!p->refs && p->gone_since && now - p->gone_since > POD_LINGER_S) {
				p->next_expired = expired;
				expired = p;
			}
		}
	}
	for (p = expired; p; p = next) {
		next = p->next_expired;
		pod_free(c, p);
	}
}

/* Every record, at close: nothing is folded or forgotten in the sources. */
void ledger__free(struct pm_collector *c)
{
	struct pod_rec *p, *next;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		usage__free(&((struct cg_rec *)v)->n.total);
		free(((struct cg_rec *)v)->pids);
		free(((struct cg_rec *)v)->rel);
		free(v);
	}
	for (i = 0; u64map__next(&c->pods, &i, &key, &v);) {
		for (p = v; p; p = next) {
			next = p->next_same_hash;
			usage__free(&p->retired);
			free(p->path);
			free(p);
		}
	}
	u64map__free(&c->cgroups);
	u64map__free(&c->pods);
	free(c->by_uid);
	c->by_uid = NULL;
	c->n_by_uid = c->cap_by_uid = 0;
}
