/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * agent/judge/overhead.c: the collector's node overhead groups (agent/pod/ohpath.c):
 * each holds its removed cgroups' totals and sums its live ones' at every
 * snapshot.
 */
#ifndef PODMETER_OVERHEAD_H
#define PODMETER_OVERHEAD_H

#include <stdint.h>
#include <podmeter/snapshot.h>

#define PM_OH_LINGER_S 120 /* a group without cgroups stays in snapshots this long */

struct pm_overhead;
struct pm_oh_rec;

int overhead__new(struct pm_overhead **out);
void overhead__free(struct pm_overhead *o);
/* The group of the cgroup at @rel, found or made, with one more reference; NULL: no memory. */
struct pm_oh_rec *overhead__ref(struct pm_overhead *o, const char *rel);
void overhead__unref(struct pm_oh_rec *g);
/* A removed cgroup's totals (or a late flush of one), kept by its group. */
void overhead__retire(struct pm_oh_rec *g, uint64_t cpu_ns, const uint64_t net[2]);
/* Before adding the live cgroups of a snapshot. */
void overhead__begin(struct pm_overhead *o);
void overhead__add(struct pm_oh_rec *g, uint64_t cpu_ns, const uint64_t net[2]);
/* At each walk: every group's working set, by @ws (-1 = none) from its own cgroup. */
void overhead__refresh(struct pm_overhead *o, long long (*ws)(void *ctx, const char *path),
		       void *ctx);
/*
 * Every group into @s (s->overhead, sorted by kind then name); groups without
 * cgroups for PM_OH_LINGER_S are dropped (their CPU stays in the node's
 * overhead, their network in s->overhead_gone_net). 0 or -ENOMEM.
 */
int overhead__snap(struct pm_overhead *o, struct pm_snapshot *s, double now);

#endif /* PODMETER_OVERHEAD_H */
