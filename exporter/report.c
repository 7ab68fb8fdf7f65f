// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A window of periodic snapshots -> one NodeReport.
 *
 * Amounts are deltas of the cumulative counters between the window's first
 * and last snapshot; the next window starts at the last one, so windows
 * chain without a gap or an overlap. Memory average and peak are taken from
 * every tick. A pod that leaves the snapshots within the window is kept with
 * its last values and reported once more, marked gone.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/dist.h>
#include <podmeter/report.h>
#include <podmeter/u64map.h>
#include "podmeter.pb-c.h"

/* A container's cumulative counters at the window's start: its report subtracts them. */
struct ctr_base {
	uint64_t cpu_ns, oom_kills, throttled_periods, throttled_usec;
};

/* A container's figures over the window, by container id within its pod. */
struct ctr_stat {
	char id[PM_CID_MAX + 1];
	bool has_base;			/* it was there at the window's start */
	struct ctr_base base;		/* ... with these counters */
	struct pm_dist cpu;		/* cores used at each tick, weighed by its ms */
	uint64_t ws_peak;		/* working set, highest tick */
	struct pm_container_snap *gone; /* its last values once it left the pod; NULL: there */
};

/*
 * A pod's cumulative counters at the window's start, which its report
 * subtracts: what the window keeps of its first tick instead of the whole
 * snapshot.
 */
struct pod_base {
	uint64_t cpu_ns, runq_ns, tcp_retransmits, oom_kills, process_starts, anomalies;
	uint64_t net_bytes[PM_NET_DIRS][PM_NET_CLASSES];
	uint64_t net_packets[PM_NET_DIRS][PM_NET_CLASSES];
	uint64_t gpu_calls, gpu_ns, gpu_jobs;
	uint64_t cuda_launches, cuda_memcpy_bytes, cuda_sync_ns;
	double cost_dollars[PM_RES_MAX], waste_dollars[PM_RES_MAX];
};

struct mem_stat {
	char uid[PM_UID_LEN + 1];
	struct pod_base *base; /* NULL: not there at the window's start */
	struct ctr_stat *ctrs; /* its containers seen in the window */
	size_t n_ctrs, cap_ctrs;
	struct u64map ctr_at; /* ctr_hash(id) -> index in ctrs + 1, of the first with that hash */
	double sum;	      /* bytes x ticks */
	uint64_t peak;
	uint32_t ticks;
	uint64_t gpu_peak; /* CUDA memory held */
	double util_sum;   /* NVML utilisation x ticks it was known */
	uint32_t util_ticks;
};

/* A container's recommendation as last sent: resent when it moves, and hourly. */
struct rec_sent {
	uint64_t key; /* hash of (pod uid, container id) */
	uint32_t cpu_milli, mem_mib;
	double at; /* unix seconds it was sent */
};

#define REC_MOVE      0.02   /* resent when either moves by 2% */
#define REC_REFRESH_S 3600.0 /* ... or this long after it was last sent */

/* The node at the window's first tick (the last tick of the previous window). */
struct node_base {
	bool set;
	double time, mono;
	double cpu_pods_seconds, cpu_overhead_seconds;
	double idle_cost_dollars[PM_RES_NETWORK];
	double overhead_cost_dollars[PM_RES_GPU];
};

struct pm_report_window {
	struct node_base start; /* the pods' are in mem[] */
	struct pm_snapshot *last;
	struct mem_stat *mem; /* sorted by uid */
	size_t n_mem;
	struct pm_pod_snap *gone; /* pods that left the snapshots in this window */
	size_t n_gone;
	struct rec_sent *sent; /* sorted by key */
	size_t n_sent;
	struct rec_sent *next_sent; /* being built by a close */
	size_t n_next, cap_next;
};

struct pm_report_window *report__window_new(void)
{
	return calloc(1, sizeof(struct pm_report_window));
}

static void free_pods(struct pm_pod_snap *pods, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(pods[i].containers);
		free(pods[i].gpu_ops);
		free(pods[i].findings);
		free(pods[i].zombie_list);
		snapshot__names_put(pods[i].names);
	}
	free(pods);
}

static void free_mem(struct mem_stat *mem, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < mem[i].n_ctrs; k++) {
			dist__free(&mem[i].ctrs[k].cpu);
			free(mem[i].ctrs[k].gone);
		}
		free(mem[i].ctrs);
		u64map__free(&mem[i].ctr_at);
		free(mem[i].base);
	}
	free(mem);
}

void report__window_free(struct pm_report_window *w)
{
	if (!w)
		return;
	snapshot__put(w->last);
	free_mem(w->mem, w->n_mem);
	free_pods(w->gone, w->n_gone);
	free(w->sent);
	free(w->next_sent);
	free(w);
}

bool report__window_empty(const struct pm_report_window *w)
{
	return !w->last;
}

double report__window_span(const struct pm_report_window *w)
{
	return w->start.set && w->last ? w->last->mono - w->start.mono : 0;
}

/* What a pod has in memory at one tick: its working set, else its resident bytes. */
static uint64_t pod_memory(const struct pm_pod_snap *p)
{
	if (p->working_set_bytes >= 0)
		return (uint64_t)p->working_set_bytes;
	return p->rss_bytes[PM_MEM_FILE] + p->rss_bytes[PM_MEM_ANON] + p->rss_bytes[PM_MEM_SHMEM];
}

static uint64_t ctr_hash(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 0x100000001b3ULL;
	return h;
}

#define CTR_INDEX_MIN 8 /* a pod's containers in a window: past this many, indexed */

/* Index @m's containers from @from on: their hash to the first of that hash. */
static int ctr_index(struct mem_stat *m, size_t from)
{
	uint64_t h;
	size_t i;
	int err;

	for (i = from; i < m->n_ctrs; i++) {
		h = ctr_hash(m->ctrs[i].id);
		if (u64map__get(&m->ctr_at, h))
			continue; /* found by the walk from the first */
		err = u64map__put(&m->ctr_at, h, (void *)(uintptr_t)(i + 1));
		if (err)
			return err;
	}
	return 0;
}

/*
 * Container @id of @m, NULL when the window has not seen it. A pod's few by
 * a walk; a pod whose containers come and go (jobs, crash loops) sees
 * hundreds in a window, each looked up every tick: by their hash. Two ids
 * of one hash: a walk from the first.
 */
static struct ctr_stat *ctr_find(const struct mem_stat *m, const char *id)
{
	size_t at = 1, i;

	if (m->ctr_at.len)
		at = (size_t)(uintptr_t)u64map__get(&m->ctr_at, ctr_hash(id));
	for (i = at ? at - 1 : m->n_ctrs; i < m->n_ctrs; i++)
		if (!strcmp(m->ctrs[i].id, id))
			return &m->ctrs[i];
	return NULL;
}

static struct ctr_stat *ctr_stat_of(struct mem_stat *m, const char *id)
{
	struct ctr_stat *st = ctr_find(m, id), *grown;
	size_t cap;

	if (st)
		return st;
	if (m->n_ctrs == m->cap_ctrs) {
		cap = m->cap_ctrs ? m->cap_ctrs * 2 : 1;
		grown = realloc(m->ctrs, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		m->ctrs = grown;
		m->cap_ctrs = cap;
	}
	st = &m->ctrs[m->n_ctrs++];
	memset(st, 0, sizeof(*st));
	snprintf(st->id, sizeof(st->id), "%s", id);
	dist__init(&st->cpu);
	/* the index holds all of them, or none */
	if (m->ctr_at.len || m->n_ctrs > CTR_INDEX_MIN) {
		if (ctr_index(m, m->ctr_at.len ? m->n_ctrs - 1 : 0))
			u64map__free(&m->ctr_at); /* walked instead: found all the same */
	}
	return st;
}

/*
 * This tick's containers of pod @p: working-set peaks, and when there was a
 * previous tick @dt seconds before (@prev: the pod then, NULL when it was
 * not there), a CPU sample each. A container born since has used all its
 * CPU within the tick. @base: the window's first tick, whose counters the
 * report subtracts. A container of @prev that @p no longer has keeps its
 * last values, to be reported once more.
 */
static int add_containers(struct mem_stat *m, const struct pm_pod_snap *p,
			  const struct pm_pod_snap *prev, double dt, bool base)
{
	const struct pm_container_snap *c, *b;
	uint64_t then;
	struct ctr_stat *st;
	size_t i;
	int err = 0;

	for (i = 0; i < p->n_containers; i++) {
		c = &p->containers[i];
		st = ctr_stat_of(m, c->id);
		if (!st)
			return -ENOMEM;
		free(st->gone); /* back, or never gone */
		st->gone = NULL;
		if (base) {
			st->has_base = true;
			st->base = (struct ctr_base){ c->cpu_ns, c->oom_kills, c->throttled_periods,
						      c->throttled_usec };
		}
		if (c->working_set_bytes > 0 && (uint64_t)c->working_set_bytes > st->ws_peak)
			st->ws_peak = (uint64_t)c->working_set_bytes;
		b = snapshot__container(prev, c->id);
		then = b ? b->cpu_ns : 0;
		/* weighed by the tick's length in ms: a late tick stands for more time */
		if (dt > 0 && c->cpu_ns >= then &&
		    dist__add(&st->cpu, (c->cpu_ns - then) / 1e9 / dt, dt * 1000))
			err = -ENOMEM;
	}
	for (i = 0; prev && i < prev->n_containers; i++) {
		c = &prev->containers[i];
		if (snapshot__container(p, c->id))
			continue;
		st = ctr_stat_of(m, c->id);
		if (st && !st->gone)
			st->gone = malloc(sizeof(*st->gone));
		if (!st || !st->gone)
			return -ENOMEM;
		*st->gone = *c;
	}
	return err;
}

static void pod_base_of(struct pod_base *b, const struct pm_pod_snap *p)
{
	b->cpu_ns = p->cpu_ns;
	b->runq_ns = p->runq_ns;
	b->tcp_retransmits = p->tcp_retransmits;
	b->oom_kills = p->oom_kills;
	b->process_starts = p->process_starts;
	b->anomalies = p->anomalies;
	memcpy(b->net_bytes, p->net_bytes, sizeof(b->net_bytes));
	memcpy(b->net_packets, p->net_packets, sizeof(b->net_packets));
	b->gpu_calls = snapshot__gpu_calls(p, &b->gpu_ns);
	b->gpu_jobs = p->gpu_jobs;
	b->cuda_launches = p->cuda.launches;
	b->cuda_memcpy_bytes = p->cuda.memcpy_bytes;
	b->cuda_sync_ns = p->cuda.sync_ns;
	memcpy(b->cost_dollars, p->cost_dollars, sizeof(b->cost_dollars));
	memcpy(b->waste_dollars, p->waste_dollars, sizeof(b->waste_dollars));
}

/*
 * Merge this tick's pods (sorted by uid) into the memory statistics; with
 * @sample, one CPU sample per container since the previous tick. The
 * window's first tick (@base) also keeps each pod's and container's counters
 * and the node's: a report is what grew since them.
 */
static int add_memory(struct pm_report_window *w, const struct pm_snapshot *s, bool sample,
		      bool base)
{
	const struct pm_snapshot *prev = sample ? w->last : NULL;
	double dt = prev ? s->mono - prev->mono : 0;
	int err = 0;
	struct mem_stat *out = malloc((w->n_mem + s->n_pods + 1) * sizeof(*out));
	size_t i = 0, j = 0, n = 0, at = 0;
	int c;

	if (!out) {
		w->start.set = !base && w->start.set; /* else the next tick starts the window */
		return -ENOMEM;
	}
	if (base) {
		w->start = (struct node_base){
			.set = true,
			.time = s->time,
			.mono = s->mono,
			.cpu_pods_seconds = s->node_cpu_pods_seconds,
			.cpu_overhead_seconds = s->node_cpu_overhead_seconds,
		};
		memcpy(w->start.idle_cost_dollars, s->node_idle_cost_dollars,
		       sizeof(w->start.idle_cost_dollars));
		memcpy(w->start.overhead_cost_dollars, s->node_overhead_cost_dollars,
		       sizeof(w->start.overhead_cost_dollars));
	}
	while (i < w->n_mem || j < s->n_pods) {
		c = i == w->n_mem ? 1 : j == s->n_pods ? -1 : strcmp(w->mem[i].uid, s->pods[j].uid);
		if (c < 0) {
			out[n++] = w->mem[i++];
			continue;
		}
		if (c > 0) {
			memset(&out[n], 0, sizeof(out[n]));
			memcpy(out[n].uid, s->pods[j].uid, sizeof(out[n].uid));
		} else {
			out[n] = w->mem[i++];
		}
		{
			const struct pm_pod_snap *p = &s->pods[j++];
			uint64_t m = pod_memory(p);

			if (base && !out[n].base) {
				out[n].base = malloc(sizeof(*out[n].base));
				if (out[n].base)
					pod_base_of(out[n].base, p);
				else
					err = -ENOMEM;
			}
			if (add_containers(&out[n], p, snapshot__pod_next(prev, p->uid, &at), dt,
					   base))
				err = -ENOMEM;
			out[n].sum += (double)m;
			out[n].ticks++;
			if (m > out[n].peak)
				out[n].peak = m;
			if (p->cuda.memory_bytes > 0 &&
			    (uint64_t)p->cuda.memory_bytes > out[n].gpu_peak)
				out[n].gpu_peak = (uint64_t)p->cuda.memory_bytes;
			if (p->gpu_utilization >= 0) {
				out[n].util_sum += p->gpu_utilization;
				out[n].util_ticks++;
			}
		}
		n++;
	}
	free(w->mem);
	w->mem = out;
	w->n_mem = n;
	return err;
}

static void *dup_array(const void *src, size_t n, size_t size, int *err)
{
	void *p;

	if (!n)
		return NULL;
	p = malloc(n * size);
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	return memcpy(p, src, n * size);
}

/* A deep copy: @dst owns its arrays (free_pods). */
static int copy_pod(struct pm_pod_snap *dst, const struct pm_pod_snap *src)
{
	int err = 0;

	*dst = *src;
	snapshot__names_get(dst->names); /* its name strings point there */
	dst->containers = dup_array(src->containers, src->n_containers, sizeof(*src->containers),
				    &err);
	dst->gpu_ops = dup_array(src->gpu_ops, src->n_gpu_ops, sizeof(*src->gpu_ops), &err);
	dst->findings = dup_array(src->findings, src->n_findings, sizeof(*src->findings), &err);
	dst->zombie_list = dup_array(src->zombie_list, src->n_zombie_list,
				     sizeof(*src->zombie_list), &err);
	if (err) {
		free(dst->containers);
		free(dst->gpu_ops);
		free(dst->findings);
		free(dst->zombie_list);
		dst->containers = NULL;
		dst->gpu_ops = NULL;
		dst->findings = NULL;
		dst->zombie_list = NULL;
		dst->n_containers = dst->n_gpu_ops = dst->n_findings = dst->n_zombie_list = 0;
		snapshot__pod_names(dst, NULL); /* the caller does not keep it */
	}
	return err;
}

/* Pods in @prev that @s no longer has: kept with their last values. */
static int keep_gone(struct pm_report_window *w, const struct pm_snapshot *prev,
		     const struct pm_snapshot *s)
{
	struct pm_pod_snap *grown;
	size_t i, j = 0;
	int c;

	for (i = 0; i < prev->n_pods; i++) {
		for (c = 1; j < s->n_pods && (c = strcmp(s->pods[j].uid, prev->pods[i].uid)) < 0;)
			j++;
		if (!c)
			continue;
		grown = realloc(w->gone, (w->n_gone + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		w->gone = grown;
		if (copy_pod(&w->gone[w->n_gone], &prev->pods[i]))
			return -ENOMEM;
		w->n_gone++;
	}
	return 0;
}

int report__window_tick(struct pm_report_window *w, const struct pm_snapshot *s)
{
	int err;

	if (w->last) {
		err = keep_gone(w, w->last, s);
		if (err)
			return err;
	}
	err = add_memory(w, s, true, !w->start.set);
	if (err)
		return err;
	snapshot__put(w->last);
	w->last = snapshot__get((struct pm_snapshot *)s);
	return 0;
}

/* ---- building the message ---- */

/* One allocation list per report: freed after packing. */
struct arena {
	void **ptrs;
	size_t n, cap;
	bool failed;
};

static void *arena_alloc(struct arena *a, size_t size)
{
	void *p, **grown;

	if (a->failed)
		return NULL;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		grown = realloc(a->ptrs, a->cap * sizeof(*grown));
		if (!grown) {
			a->failed = true;
			return NULL;
		}
		a->ptrs = grown;
	}
	p = calloc(1, size ? size : 1);
	if (!p) {
		a->failed = true;
		return NULL;
	}
	a->ptrs[a->n++] = p;
	return p;
}

static void arena_free(struct arena *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->ptrs[i]);
	free(a->ptrs);
}

static uint64_t delta(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : now;
}

static double ddelta(double now, double then)
{
	return now >= then ? now - then : now;
}

static uint64_t nano(double dollars)
{
	return dollars > 0 ? (uint64_t)(dollars * 1e9 + 0.5) : 0;
}

static Podmeter__V1__Dollars *dollars(struct arena *a, const double *now, const double *then, int n)
{
	Podmeter__V1__Dollars *d = arena_alloc(a, sizeof(*d));
	double v[PM_RES_MAX] = { 0 };
	int r;

	if (!d)
		return NULL;
	podmeter__v1__dollars__init(d);
	for (r = 0; r < n; r++)
		v[r] = ddelta(now[r], then ? then[r] : 0);
	d->cpu_nanodollars = nano(v[PM_RES_CPU]);
	d->memory_nanodollars = nano(v[PM_RES_MEMORY]);
	d->gpu_nanodollars = nano(v[PM_RES_GPU]);
	d->network_nanodollars = nano(v[PM_RES_NETWORK]);
	return d;
}

static Podmeter__V1__Resources *resources(struct arena *a, int64_t cpu, int64_t mem, int64_t gpus)
{
	Podmeter__V1__Resources *r = arena_alloc(a, sizeof(*r));

	if (!r)
		return NULL;
	podmeter__v1__resources__init(r);
	r->cpu_millicores = cpu < 0 ? -1 : cpu;
	r->memory_bytes = mem < 0 ? -1 : mem;
	r->gpus = gpus;
	return r;
}

static uint64_t rec_key(const char *uid, const char *id)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *uid; uid++)
		h = (h ^ (unsigned char)*uid) * 0x100000001b3ULL;
	h = (h ^ '/') * 0x100000001b3ULL;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 0x100000001b3ULL;
	return h;
}

static const struct rec_sent *find_sent(const struct pm_report_window *w, uint64_t key)
{
	size_t lo = 0, hi = w->n_sent, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (w->sent[mid].key == key)
			return &w->sent[mid];
		if (w->sent[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_sent(const void *a, const void *b)
{
	uint64_t x = ((const struct rec_sent *)a)->key, y = ((const struct rec_sent *)b)->key;

	return x < y ? -1 : x > y;
}

static bool moved(uint32_t then, uint32_t now)
{
	return fabs((double)now - then) > REC_MOVE * then;
}

/*
 * A container's recommendation goes into the report when it is new, when it
 * moved, or an hour after it was last sent: it changes slowly, and sending
 * it each minute would cost more than the rest of the pod.
 */
static int recommend(struct pm_report_window *w, Podmeter__V1__ContainerReport *r, const char *uid,
		     const struct pm_container_snap *c)
{
	uint32_t cpu = (uint32_t)(c->rec_cpu_cores * 1000 + 0.5);
	uint32_t mem = (uint32_t)ceil(c->rec_memory_bytes / 1048576);
	uint64_t key = rec_key(uid, c->id);
	const struct rec_sent *prev = find_sent(w, key);
	double now = w->last->time;
	struct rec_sent *grown, *e;

	if (w->n_next == w->cap_next) {
		w->cap_next = w->cap_next ? w->cap_next * 2 : 64;
		grown = realloc(w->next_sent, w->cap_next * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		w->next_sent = grown;
	}
	e = &w->next_sent[w->n_next++];
	if (prev && !moved(prev->cpu_milli, cpu) && !moved(prev->mem_mib, mem) &&
	    now - prev->at < REC_REFRESH_S) {
		*e = *prev; /* unchanged: not sent */
		return 0;
	}
	*e = (struct rec_sent){ .key = key, .cpu_milli = cpu, .mem_mib = mem, .at = now };
	r->recommended_cpu_millicores = cpu;
	r->recommended_memory_mib = mem;
	r->recommendation_confidence_percent = (uint32_t)(c->rec_confidence * 100 + 0.5);
	return 0;
}

/* A window's CPU samples as the wire's Histogram. */
static Podmeter__V1__Histogram *histogram(struct arena *a, const struct pm_dist *d)
{
	Podmeter__V1__Histogram *h;
	int32_t k;

	if (!(d->total > 0))
		return NULL;
	h = arena_alloc(a, sizeof(*h));
	if (!h)
		return NULL;
	podmeter__v1__histogram__init(h);
	h->relative_accuracy = PM_DIST_ALPHA;
	h->min_value = PM_DIST_MIN;
	h->zero_count = (uint64_t)llround(d->zero);
	if (d->lo <= d->hi) {
		h->first_key = d->lo;
		h->counts = arena_alloc(a, (size_t)(d->hi - d->lo + 1) * sizeof(*h->counts));
		if (!h->counts)
			return NULL;
		for (k = d->lo; k <= d->hi; k++)
			h->counts[h->n_counts++] = (uint64_t)llround(d->w[k - d->lo]);
	}
	return h;
}

static const struct ctr_stat *find_ctr(const struct mem_stat *m, const char *id)
{
	return m ? ctr_find(m, id) : NULL;
}

/* Reports v2: the distribution, peak, OOM kills and throttling of a container. */
static int container_v2(struct arena *a, Podmeter__V1__ContainerReport *r,
			const struct pm_container_snap *c, const struct ctr_base *b,
			const struct ctr_stat *st)
{
	if (st && st->cpu.total > 0) {
		r->cpu_cores = histogram(a, &st->cpu);
		if (!r->cpu_cores)
			return -ENOMEM;
	}
	r->memory_working_set_peak_bytes = st ? st->ws_peak
					   : c->working_set_bytes > 0
						   ? (uint64_t)c->working_set_bytes
						   : 0;
	r->oom_kills = delta(c->oom_kills, b ? b->oom_kills : 0);
	r->cpu_throttled_periods = delta(c->throttled_periods, b ? b->throttled_periods : 0);
	r->cpu_throttled_usec = delta(c->throttled_usec, b ? b->throttled_usec : 0);
	return 0;
}

static Podmeter__V1__ContainerReport *container(struct arena *a, struct pm_report_window *w,
						const char *uid, const struct pm_container_snap *c,
						const struct mem_stat *m)
{
	Podmeter__V1__ContainerReport *r = arena_alloc(a, sizeof(*r));
	const struct ctr_stat *st = find_ctr(m, c->id);
	const struct ctr_base *b = st && st->has_base ? &st->base : NULL;

	if (!r)
		return NULL;
	podmeter__v1__container_report__init(r);
	r->id = (char *)(c->name[0] ? "" : c->id);
	r->name = (char *)c->name;
	r->requests = resources(a, c->cpu_request_milli, c->memory_request_bytes, c->gpu_request);
	r->limits = resources(a, c->cpu_limit_milli, c->memory_limit_bytes, c->gpu_limit);
	r->cpu_usec = delta(c->cpu_ns, b ? b->cpu_ns : 0) / 1000;
	if (c->rec_cpu_cores >= 0 && c->id[0] && recommend(w, r, uid, c))
		return NULL;
	if (container_v2(a, r, c, b, st))
		return NULL;
	return r;
}

/*
 * The pod's containers: those of its last tick, then those that left
 * within the window, once more with their last values.
 */
static int containers(struct arena *a, struct pm_report_window *w, Podmeter__V1__PodReport *r,
		      const struct pm_pod_snap *p, const struct mem_stat *m)
{
	size_t i, n_gone = 0;

	for (i = 0; m && i < m->n_ctrs; i++)
		n_gone += m->ctrs[i].gone && !snapshot__container(p, m->ctrs[i].id);
	r->containers = arena_alloc(a, (p->n_containers + n_gone) * sizeof(*r->containers));
	if (!r->containers)
		return -ENOMEM;
	for (i = 0; i < p->n_containers; i++) {
		r->containers[r->n_containers] = container(a, w, p->uid, &p->containers[i], m);
		if (!r->containers[r->n_containers++])
			return -ENOMEM;
	}
	for (i = 0; m && i < m->n_ctrs; i++) {
		if (!m->ctrs[i].gone || snapshot__container(p, m->ctrs[i].id))
			continue;
		r->containers[r->n_containers] = container(a, w, p->uid, m->ctrs[i].gone, m);
		if (!r->containers[r->n_containers++])
			return -ENOMEM;
	}
	return 0;
}

/* The values of the label keys the agent was asked for; empty ones left out. */
static int labels(struct arena *a, Podmeter__V1__PodReport *r, const struct pm_pod_snap *p,
		  const struct pm_snapshot *s)
{
	Podmeter__V1__PodReport__LabelsEntry *e;
	int i;

	if (!s->n_label_keys)
		return 0;
	r->labels = arena_alloc(a, (size_t)s->n_label_keys * sizeof(*r->labels));
	if (!r->labels)
		return -ENOMEM;
	for (i = 0; i < s->n_label_keys && i < PM_POD_LABELS; i++) {
		if (!p->labels[i][0])
			continue;
		e = arena_alloc(a, sizeof(*e));
		if (!e)
			return -ENOMEM;
		podmeter__v1__pod_report__labels_entry__init(e);
		e->key = (char *)s->label_keys[i];
		e->value = (char *)p->labels[i];
		r->labels[r->n_labels++] = e;
	}
	return 0;
}

static int network(struct arena *a, Podmeter__V1__PodReport *r, const struct pm_pod_snap *p,
		   const struct pod_base *then)
{
	Podmeter__V1__NetTraffic *t;
	int d, k;

	r->network = arena_alloc(a, PM_NET_DIRS * PM_NET_CLASSES * sizeof(*r->network));
	if (!r->network)
		return -ENOMEM;
	for (d = 0; d < PM_NET_DIRS; d++) {
		for (k = 0; k < PM_NET_CLASSES; k++) {
			uint64_t bytes = delta(p->net_bytes[d][k],
					       then ? then->net_bytes[d][k] : 0);
			uint64_t packets = delta(p->net_packets[d][k],
						 then ? then->net_packets[d][k] : 0);

			if (!bytes && !packets)
				continue;
			t = arena_alloc(a, sizeof(*t));
			if (!t)
				return -ENOMEM;
			podmeter__v1__net_traffic__init(t);
			t->direction = d == PM_NET_TX ? PODMETER__V1__DIRECTION__TX
						      : PODMETER__V1__DIRECTION__RX;
			t->class_ = (Podmeter__V1__NetClass)k;
			t->bytes = bytes;
			t->packets = packets;
			r->network[r->n_network++] = t;
		}
	}
	return 0;
}

static const Podmeter__V1__Qos qos_pb[] = {
	[PM_QOS_UNKNOWN] = PODMETER__V1__QOS__QOS_UNKNOWN,
	[PM_QOS_GUARANTEED] = PODMETER__V1__QOS__GUARANTEED,
	[PM_QOS_BURSTABLE] = PODMETER__V1__QOS__BURSTABLE,
	[PM_QOS_BESTEFFORT] = PODMETER__V1__QOS__BEST_EFFORT,
};

static const struct mem_stat *find_mem(const struct pm_report_window *w, const char *uid)
{
	size_t lo = 0, hi = w->n_mem, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(w->mem[mid].uid, uid);
		if (!c)
			return &w->mem[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The pod's findings as of the window's end, with their evidence. */
static int findings(struct arena *a, Podmeter__V1__PodReport *r, const struct pm_pod_snap *p)
{
	size_t i;
	int k;

	if (!p->n_findings)
		return 0;
	r->findings = arena_alloc(a, p->n_findings * sizeof(*r->findings));
	if (!r->findings)
		return -ENOMEM;
	for (i = 0; i < p->n_findings; i++) {
		const struct pm_finding_snap *f = &p->findings[i];
		Podmeter__V1__Finding *pf = arena_alloc(a, sizeof(*pf));

		if (!pf)
			return -ENOMEM;
		podmeter__v1__finding__init(pf);
		pf->id = (char *)f->id;
		pf->kind = (char *)f->kind;
		pf->since = f->since;
		pf->score = f->score;
		pf->detail = (char *)f->detail;
		pf->attributes = arena_alloc(a, (f->n_attrs + 1) * sizeof(*pf->attributes));
		if (!pf->attributes)
			return -ENOMEM;
		for (k = 0; k < f->n_attrs; k++) {
			Podmeter__V1__Finding__AttributesEntry *e = arena_alloc(a, sizeof(*e));

			if (!e)
				return -ENOMEM;
			podmeter__v1__finding__attributes_entry__init(e);
			e->key = (char *)f->attrs[k].key;
			e->value = (char *)f->attrs[k].value;
			pf->attributes[pf->n_attributes++] = e;
		}
		r->findings[r->n_findings++] = pf;
	}
	return 0;
}

static void gpu(Podmeter__V1__PodReport *r, const struct mem_stat *m, const struct pm_pod_snap *p,
		const struct pod_base *then)
{
	uint64_t calls, ns;

	calls = snapshot__gpu_calls(p, &ns);
	r->gpu_driver_calls = delta(calls, then ? then->gpu_calls : 0);
	r->gpu_driver_usec = delta(ns, then ? then->gpu_ns : 0) / 1000;
	r->gpu_kernel_launches = delta(p->cuda.launches, then ? then->cuda_launches : 0);
	r->gpu_jobs = delta(p->gpu_jobs, then ? then->gpu_jobs : 0);
	r->gpu_memcpy_bytes = delta(p->cuda.memcpy_bytes, then ? then->cuda_memcpy_bytes : 0);
	r->gpu_sync_usec = delta(p->cuda.sync_ns, then ? then->cuda_sync_ns : 0) / 1000;
	if (m) {
		r->gpu_memory_peak_bytes = m->gpu_peak;
		if (m->util_ticks)
			r->gpu_utilization_permille = (uint32_t)(m->util_sum / m->util_ticks *
									 1000 +
								 0.5);
	}
}

/* @p's report over the window: what grew since its counters at the window's start, if there. */
static Podmeter__V1__PodReport *pod(struct arena *a, struct pm_report_window *w,
				    const struct pm_pod_snap *p, bool gone)
{
	Podmeter__V1__PodReport *r = arena_alloc(a, sizeof(*r));
	const struct mem_stat *m = find_mem(w, p->uid);
	const struct pod_base *then = m ? m->base : NULL;
	size_t i;

	if (!r)
		return NULL;
	podmeter__v1__pod_report__init(r);
	r->uid = (char *)p->uid;
	r->namespace_ = (char *)p->namespace_;
	r->name = (char *)p->name;
	r->owner_kind = (char *)p->owner_kind;
	r->owner_name = (char *)p->owner_name;
	r->qos = p->qos < sizeof(qos_pb) / sizeof(qos_pb[0]) ? qos_pb[p->qos]
							     : PODMETER__V1__QOS__QOS_UNKNOWN;
	if (containers(a, w, r, p, m) || labels(a, r, p, w->last))
		return NULL;
	r->cpu_usec = delta(p->cpu_ns, then ? then->cpu_ns : 0) / 1000;
	r->runqueue_usec = delta(p->runq_ns, then ? then->runq_ns : 0) / 1000;
	if (m && m->ticks) {
		r->memory_avg_bytes = (uint64_t)(m->sum / m->ticks);
		r->memory_peak_bytes = m->peak;
	}
	if (network(a, r, p, then))
		return NULL;
	r->tcp_retransmits = delta(p->tcp_retransmits, then ? then->tcp_retransmits : 0);
	r->processes = (uint32_t)p->processes;
	r->zombies = (uint32_t)p->zombies;
	r->oom_kills = delta(p->oom_kills, then ? then->oom_kills : 0);
	r->process_starts = delta(p->process_starts, then ? then->process_starts : 0);
	gpu(r, m, p, then);
	if (findings(a, r, p))
		return NULL;
	r->cost = dollars(a, p->cost_dollars, then ? then->cost_dollars : NULL, PM_RES_MAX);
	r->waste = dollars(a, p->waste_dollars, then ? then->waste_dollars : NULL, PM_RES_MAX);
	r->gone = gone;
	r->anomalies = delta(p->anomalies, then ? then->anomalies : 0);
	/* with the recommendations it follows from: when one of them is sent */
	for (i = 0; i < r->n_containers; i++)
		if (r->containers[i]->recommended_cpu_millicores)
			r->savings_cents_per_month = (int64_t)llround(p->savings_dollars_month *
								      100);
	return r->cost && r->waste ? r : NULL;
}

static Podmeter__V1__Prices *prices(struct arena *a, const struct pm_snapshot *s)
{
	Podmeter__V1__Prices *p = arena_alloc(a, sizeof(*p));
	Podmeter__V1__EgressPrice *e;
	int k;

	if (!p)
		return NULL;
	podmeter__v1__prices__init(p);
	p->cpu_core_hour = s->price[PM_RES_CPU];
	p->memory_gib_hour = s->price[PM_RES_MEMORY];
	p->gpu_hour = s->price[PM_RES_GPU];
	p->egress = arena_alloc(a, PM_NET_CLASSES * sizeof(*p->egress));
	if (!p->egress)
		return NULL;
	for (k = 0; k < PM_NET_CLASSES; k++) {
		e = arena_alloc(a, sizeof(*e));
		if (!e)
			return NULL;
		podmeter__v1__egress_price__init(e);
		e->class_ = (Podmeter__V1__NetClass)k;
		e->dollars_per_gib = s->egress_price_gib[k];
		p->egress[p->n_egress++] = e;
	}
	return p;
}

static int node_parts(struct arena *a, Podmeter__V1__NodeReport *r, const struct pm_snapshot *s,
		      const struct node_base *b)
{
	Podmeter__V1__Capacity *cap = arena_alloc(a, sizeof(*cap));
	Podmeter__V1__NodeUsage *u = arena_alloc(a, sizeof(*u));

	if (!cap || !u)
		return -ENOMEM;
	podmeter__v1__capacity__init(cap);
	cap->cpu_cores = s->capacity[PM_RES_CPU];
	cap->memory_bytes = (uint64_t)s->capacity[PM_RES_MEMORY];
	cap->gpus = s->capacity[PM_RES_GPU];
	podmeter__v1__node_usage__init(u);
	u->pods_cpu_usec = (uint64_t)(ddelta(s->node_cpu_pods_seconds, b->cpu_pods_seconds) * 1e6);
	u->overhead_cpu_usec = (uint64_t)(ddelta(s->node_cpu_overhead_seconds,
						 b->cpu_overhead_seconds) *
					  1e6);
	u->idle_cost = dollars(a, s->node_idle_cost_dollars, b->idle_cost_dollars, PM_RES_NETWORK);
	u->overhead_cost = dollars(a, s->node_overhead_cost_dollars, b->overhead_cost_dollars,
				   PM_RES_GPU);
	r->capacity = cap;
	r->node_usage = u;
	r->prices = prices(a, s);
	return u->idle_cost && u->overhead_cost && r->prices ? 0 : -ENOMEM;
}

static int build(struct arena *a, struct pm_report_window *w, const struct pm_report_meta *meta,
		 Podmeter__V1__NodeReport *r)
{
	const struct pm_snapshot *s = w->last;
	const struct node_base *b = &w->start;
	size_t i, n = 0;

	podmeter__v1__node_report__init(r);
	r->cluster = (char *)(meta->cluster ? meta->cluster : "");
	r->node = (char *)(meta->node ? meta->node : "");
	r->agent_version = (char *)(meta->agent_version ? meta->agent_version : "");
	r->seq = meta->seq;
	r->final = meta->final;
	for (i = 0; i < s->n_pods && !r->gpu_utilization_known; i++)
		r->gpu_utilization_known = s->pods[i].gpu_utilization >= 0;
	r->window_start = b->time;
	r->window_end = s->time;
	if (node_parts(a, r, s, b))
		return -ENOMEM;
	r->pods = arena_alloc(a, (s->n_pods + w->n_gone) * sizeof(*r->pods));
	if (!r->pods)
		return -ENOMEM;
	for (i = 0; i < s->n_pods; i++) {
		r->pods[n] = pod(a, w, &s->pods[i], false);
		if (!r->pods[n++])
			return -ENOMEM;
	}
	for (i = 0; i < w->n_gone; i++) {
		r->pods[n] = pod(a, w, &w->gone[i], true);
		if (!r->pods[n++])
			return -ENOMEM;
	}
	r->n_pods = n;
	return 0;
}

int report__window_close(struct pm_report_window *w, const struct pm_report_meta *meta, void **gz,
			 size_t *gzlen)
{
	Podmeter__V1__NodeReport r;
	struct arena a = { 0 };
	uint8_t *packed = NULL;
	size_t len;
	int err;

	if (!w->last)
		return -ENODATA;
	w->n_next = 0;
	err = build(&a, w, meta, &r);
	if (!err) {
		len = podmeter__v1__node_report__get_packed_size(&r);
		packed = malloc(len ? len : 1);
		if (!packed)
			err = -ENOMEM;
	}
	if (!err) {
		podmeter__v1__node_report__pack(&r, packed);
		err = gz__compress(packed, len, gz, gzlen);
	}
	free(packed);
	arena_free(&a);
	if (err)
		return err;
	/* what was sent is what the next windows compare with */
	if (w->n_next)
		qsort(w->next_sent, w->n_next, sizeof(*w->next_sent), cmp_sent);
	{
		struct rec_sent *t = w->sent;
		size_t cap = w->n_sent;

		w->sent = w->next_sent;
		w->n_sent = w->n_next;
		w->next_sent = t;
		w->cap_next = t ? cap : 0;
		w->n_next = 0;
	}
	/* the next window starts where this one ended */
	free_mem(w->mem, w->n_mem);
	w->mem = NULL;
	w->n_mem = 0;
	free_pods(w->gone, w->n_gone);
	w->gone = NULL;
	w->n_gone = 0;
	return add_memory(w, w->last, false, true);
}
