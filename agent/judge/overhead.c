// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Node overhead groups. A group's figures are its removed cgroups' (kept
 * here when the collector retires one) plus its live cgroups' (added at each
 * snapshot), so they only grow while the group is tracked. Tenants choose
 * cgroup names: groups are bounded by the cgroups that exist (each cgroup
 * has one) and are dropped PM_OH_LINGER_S after their last cgroup goes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/ohpath.h>
#include <podmeter/overhead.h>
#include <podmeter/u64map.h>

struct pm_oh_rec {
	struct pm_oh_group g;
	char *path; /* its own cgroup, from the hierarchy's root */
	uint64_t retired_ns;
	uint64_t retired_net[2];
	uint64_t live_ns; /* this snapshot's */
	uint64_t live_net[2];
	long long working_set; /* at the last walk; -1 = none */
	int refs;	       /* cgroups (live or remembered) in it */
	double gone_since;     /* unix s; 0 while it has cgroups */
	uint64_t key;
	struct pm_oh_rec *next_same_hash;
};

struct pm_overhead {
	struct u64map groups; /* hash(kind, name) -> chain */
	size_t n;
	uint64_t gone_net[2];
};

static uint64_t oh_hash(int kind, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)kind; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return h;
}

int overhead__new(struct pm_overhead **out)
{
	struct pm_overhead *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	u64map__init(&o->groups);
	*out = o;
	return 0;
}

void overhead__free(struct pm_overhead *o)
{
	struct pm_oh_rec *g, *next;
	size_t i = 0;
	uint64_t key;
	void *v;

	if (!o)
		return;
	while (u64map__next(&o->groups, &i, &key, &v)) {
		for (g = v; g; g = next) {
			next = g->next_same_hash;
			free(g->path);
			free(g);
		}
	}
	u64map__free(&o->groups);
	free(o);
}

struct pm_oh_rec *overhead__ref(struct pm_overhead *o, const char *rel)
{
	struct pm_oh_group grp;
	struct pm_oh_rec *head, *g;
	uint64_t key;

	ohpath__parse(rel, &grp);
	key = oh_hash(grp.kind, grp.name);
	head = u64map__get(&o->groups, key);
	for (g = head; g; g = g->next_same_hash)
		if (g->g.kind == grp.kind && !strcmp(g->g.name, grp.name))
			goto found;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->path = strndup(rel, grp.path_len);
	if (!g->path) {
		free(g);
		return NULL;
	}
	g->g = grp;
	g->key = key;
	g->working_set = -1;
	g->next_same_hash = head;
	if (u64map__put(&o->groups, key, g)) {
		free(g->path);
		free(g);
		return NULL;
	}
	o->n++;
found:
	g->refs++;
	g->gone_since = 0;
	return g;
}

void overhead__unref(struct pm_oh_rec *g)
{
	g->refs--;
}

void overhead__retire(struct pm_oh_rec *g, uint64_t cpu_ns, const uint64_t net[2])
{
	g->retired_ns += cpu_ns;
	g->retired_net[0] += net[0];
	g->retired_net[1] += net[1];
}

void overhead__begin(struct pm_overhead *o)
{
	struct pm_oh_rec *g;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&o->groups, &i, &key, &v)) {
		for (g = v; g; g = g->next_same_hash) {
			g->live_ns = 0;
			g->live_net[0] = g->live_net[1] = 0;
		}
	}
}

void overhead__add(struct pm_oh_rec *g, uint64_t cpu_ns, const uint64_t net[2])
{
	g->live_ns += cpu_ns;
	g->live_net[0] += net[0];
	g->live_net[1] += net[1];
}

void overhead__refresh(struct pm_overhead *o, long long (*ws)(void *ctx, const char *path),
		       void *ctx)
{
	struct pm_oh_rec *g;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&o->groups, &i, &key, &v))
		for (g = v; g; g = g->next_same_hash)
			g->working_set = g->g.own_memory && g->refs ? ws(ctx, g->path) : -1;
}

static void oh_drop(struct pm_overhead *o, struct pm_oh_rec *g)
{
	struct pm_oh_rec *head = u64map__get(&o->groups, g->key), **pp;

	for (pp = &head; *pp; pp = &(*pp)->next_same_hash) {
		if (*pp == g) {
			*pp = g->next_same_hash;
			break;
		}
	}
	if (head)
		u64map__put(&o->groups, g->key, head); /* a replace: cannot fail */
	else
		u64map__del(&o->groups, g->key);
	o->gone_net[0] += g->retired_net[0];
	o->gone_net[1] += g->retired_net[1];
	o->n--;
	free(g->path);
	free(g);
}

/* Groups without cgroups for PM_OH_LINGER_S: unlinked outside the iteration. */
static void oh_age(struct pm_overhead *o, double now)
{
	struct pm_oh_rec *g, *expired[256];
	size_t i = 0, n = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&o->groups, &i, &key, &v)) {
		for (g = v; g; g = g->next_same_hash) {
			if (g->refs > 0)
				continue;
			if (!g->gone_since)
				g->gone_since = now;
			else if (now - g->gone_since > PM_OH_LINGER_S && n < 256)
				expired[n++] = g; /* the rest go next time */
		}
	}
	for (i = 0; i < n; i++)
		oh_drop(o, expired[i]);
}

static int oh_cmp(const void *x, const void *y)
{
	const struct pm_overhead_snap *a = x, *b = y;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->name, b->name);
}

int overhead__snap(struct pm_overhead *o, struct pm_snapshot *s, double now)
{
	struct pm_overhead_snap *os;
	struct pm_oh_rec *g;
	size_t i = 0, n = 0;
	uint64_t key;
	void *v;

	oh_age(o, now);
	s->overhead = calloc(o->n ? o->n : 1, sizeof(*s->overhead));
	if (!s->overhead)
		return -ENOMEM;
	while (u64map__next(&o->groups, &i, &key, &v)) {
		for (g = v; g && n < o->n; g = g->next_same_hash) {
			os = &s->overhead[n++];
			memcpy(os->name, g->g.name, sizeof(os->name));
			os->kind = g->g.kind;
			os->cpu_ns = g->retired_ns + g->live_ns;
			os->cpu_seconds = os->cpu_ns / 1e9;
			os->memory_bytes = g->working_set;
			os->net_bytes[0] = g->retired_net[0] + g->live_net[0];
			os->net_bytes[1] = g->retired_net[1] + g->live_net[1];
		}
	}
	s->n_overhead = n;
	qsort(s->overhead, n, sizeof(*s->overhead), oh_cmp);
	memcpy(s->overhead_gone_net, o->gone_net, sizeof(s->overhead_gone_net));
	return 0;
}
