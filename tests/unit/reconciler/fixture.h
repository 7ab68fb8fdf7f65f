/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * NodeReports built by hand for the reconciler's tests: every allocation
 * on one list, freed at once. Amounts are given by the test, so sums are
 * computed from the inputs, never read back from the code under test.
 */
#ifndef PODMETER_TEST_REC_FIXTURE_H
#define PODMETER_TEST_REC_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/dist.h>
#include <podmeter/report.h>
#include "podmeter.pb-c.h"

struct fx {
	void **ptrs;
	size_t n, cap;
	Podmeter__V1__NodeReport r;
};

static inline void *fx_alloc(struct fx *f, size_t size)
{
	void *p;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->ptrs = realloc(f->ptrs, f->cap * sizeof(*f->ptrs));
	}
	p = calloc(1, size ? size : 1);
	f->ptrs[f->n++] = p;
	return p;
}

static inline char *fx_str(struct fx *f, const char *s)
{
	char *p = fx_alloc(f, strlen(s) + 1);

	return strcpy(p, s);
}

static inline void fx_free(struct fx *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->ptrs[i]);
	free(f->ptrs);
	memset(f, 0, sizeof(*f));
}

static inline void fx_init(struct fx *f, const char *cluster, const char *node, uint64_t seq,
			   double ws, double we)
{
	memset(f, 0, sizeof(*f));
	podmeter__v1__node_report__init(&f->r);
	f->r.cluster = fx_str(f, cluster);
	f->r.node = fx_str(f, node);
	f->r.agent_version = fx_str(f, "test");
	f->r.seq = seq;
	f->r.window_start = ws;
	f->r.window_end = we;
	f->r.pods = fx_alloc(f, 64 * sizeof(*f->r.pods));
}

static inline Podmeter__V1__Dollars *fx_dollars(struct fx *f, uint64_t cpu, uint64_t mem,
						uint64_t gpu, uint64_t net)
{
	Podmeter__V1__Dollars *d = fx_alloc(f, sizeof(*d));

	podmeter__v1__dollars__init(d);
	d->cpu_nanodollars = cpu;
	d->memory_nanodollars = mem;
	d->gpu_nanodollars = gpu;
	d->network_nanodollars = net;
	return d;
}

/* The node's idle cost, cpu/memory/gpu nanodollars. */
static inline void fx_idle(struct fx *f, uint64_t cpu, uint64_t mem, uint64_t gpu)
{
	Podmeter__V1__NodeUsage *u = fx_alloc(f, sizeof(*u));

	podmeter__v1__node_usage__init(u);
	u->idle_cost = fx_dollars(f, cpu, mem, gpu, 0);
	f->r.node_usage = u;
}

static inline Podmeter__V1__PodReport *fx_pod(struct fx *f, const char *uid, const char *ns,
					      const char *name, const char *kind, const char *owner,
					      uint64_t cost_cpu, uint64_t cost_mem)
{
	Podmeter__V1__PodReport *p = fx_alloc(f, sizeof(*p));

	podmeter__v1__pod_report__init(p);
	p->uid = fx_str(f, uid);
	p->namespace_ = fx_str(f, ns);
	p->name = fx_str(f, name);
	p->owner_kind = fx_str(f, kind);
	p->owner_name = fx_str(f, owner);
	p->cost = fx_dollars(f, cost_cpu, cost_mem, 0, 0);
	p->waste = fx_dollars(f, cost_cpu / 2, cost_mem / 2, 0, 0);
	p->cpu_usec = cost_cpu;
	p->containers = fx_alloc(f, 8 * sizeof(*p->containers));
	p->labels = fx_alloc(f, 8 * sizeof(*p->labels));
	f->r.pods[f->r.n_pods++] = p;
	return p;
}

static inline void fx_label(struct fx *f, Podmeter__V1__PodReport *p, const char *k, const char *v)
{
	Podmeter__V1__PodReport__LabelsEntry *e = fx_alloc(f, sizeof(*e));

	podmeter__v1__pod_report__labels_entry__init(e);
	e->key = fx_str(f, k);
	e->value = fx_str(f, v);
	p->labels[p->n_labels++] = e;
}

/* A container; with @d, its CPU histogram from that distribution's weights. */
static inline Podmeter__V1__ContainerReport *fx_container(struct fx *f, Podmeter__V1__PodReport *p,
							  const char *name, const struct pm_dist *d)
{
	Podmeter__V1__ContainerReport *c = fx_alloc(f, sizeof(*c));
	Podmeter__V1__Histogram *h;
	int32_t k;

	podmeter__v1__container_report__init(c);
	c->id = fx_str(f, "");
	c->name = fx_str(f, name);
	p->containers[p->n_containers++] = c;
	if (!d || !(d->total > 0))
		return c;
	h = fx_alloc(f, sizeof(*h));
	podmeter__v1__histogram__init(h);
	h->relative_accuracy = PM_DIST_ALPHA;
	h->min_value = PM_DIST_MIN;
	h->zero_count = (uint64_t)(d->zero + 0.5);
	if (d->lo <= d->hi) {
		h->first_key = d->lo;
		h->counts = fx_alloc(f, (size_t)(d->hi - d->lo + 1) * sizeof(*h->counts));
		for (k = d->lo; k <= d->hi; k++)
			h->counts[h->n_counts++] = (uint64_t)(d->w[k - d->lo] + 0.5);
	}
	c->cpu_cores = h;
	return c;
}

/* Packed and gzip'ed, as the agent sends it (malloc'ed). */
static inline void *fx_wire(const struct fx *f, size_t *len)
{
	size_t n = podmeter__v1__node_report__get_packed_size(&f->r);
	uint8_t *pb = malloc(n ? n : 1);
	void *gz = NULL;

	podmeter__v1__node_report__pack(&f->r, pb);
	if (gz__compress(pb, n, &gz, len))
		gz = NULL;
	free(pb);
	return gz;
}

#endif /* PODMETER_TEST_REC_FIXTURE_H */
