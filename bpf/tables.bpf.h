/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tables a pod can fill: what the BPF objects share to keep one pod from
 * stopping the others' accounting.
 *
 * Folding. The per-cgroup stats maps get entries only for the cgroups the
 * kubelet and the runtime make: the pod's cgroup, the cgroups right below it
 * (its containers) and everything outside pods. A cgroup below a container
 * (made inside it: systemd in a container, a delegated cgroup v2 subtree)
 * is counted in its container's entry, which is what the agent attributes it
 * to anyway: a pod that can make cgroups cannot add entries. The pod's
 * cgroup is found by name, as podpath.c parses it: "pod<uid>" (cgroupfs) or
 * "...-pod<uid>.slice" (systemd), the one nearest the root. A cgroup's
 * folded id never changes (ids are not reused), so it is computed once and
 * cached.
 *
 * Refusals. An insert a table has no room for, or that a cgroup's share
 * does not allow, is counted by (cgroup, table) in the object's "refusals"
 * map, which the agent reads into each pod's figures.
 */
#ifndef PODMETER_TABLES_BPF_H
#define PODMETER_TABLES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include <podmeter/cpu.h>

#define PM_FOLD_TOP   10 /* the pod's cgroup is looked for at levels 1 .. 8 */
#define PM_FOLD_CLIMB 64 /* levels climbed from a deeper cgroup */
#define PM_CG_NAME    128
#define PM_POD_UID    36 /* 8-4-4-4-12 */
#define PM_POD_HASH   32 /* a static pod's hash */

static __always_inline struct cgroup *cg_parent(struct cgroup *cg)
{
	struct cgroup_subsys_state *css = BPF_CORE_READ(cg, self.parent);

	/* the cgroup's own css is its member "self" */
	return css ? (void *)css - bpf_core_field_offset(struct cgroup, self) : NULL;
}

static __always_inline bool chars_at(const char *s, const char *want, int n)
{
	char got[8] = {};
	int i;

	if (bpf_probe_read_kernel(got, n & 7, s))
		return false;
	for (i = 0; i < 8; i++)
		if (i < n && got[i] != want[i])
			return false;
	return true;
}

/*
 * "pod<uid>" (cgroupfs), or "<prefix>-pod<uid>.slice" (systemd). Global
 * functions, taking the cgroup as a number: the verifier checks each once,
 * not once per call.
 */
__noinline int pm_pod_named(__u64 cgp)
{
	struct cgroup *cg = (void *)cgp;
	const char *name = BPF_CORE_READ(cg, kn, name);
	char buf[PM_CG_NAME];
	long n;

	n = bpf_probe_read_kernel_str(buf, sizeof(buf), name) - 1;
	if (n == 3 + PM_POD_UID || n == 3 + PM_POD_HASH)
		return buf[0] == 'p' && buf[1] == 'o' && buf[2] == 'd';
	if (n < 4 + PM_POD_HASH + 6 || n >= PM_CG_NAME - 1 || !chars_at(name + n - 6, ".slice", 6))
		return false;
	return chars_at(name + n - 6 - PM_POD_UID - 4, "-pod", 4) ||
	       chars_at(name + n - 6 - PM_POD_HASH - 4, "-pod", 4);
}

/*
 * The id @cg is counted as: its container's when it lies below one, else
 * its own. Climbing from @cg to the root, the last pod cgroup seen is the
 * one nearest the root (a pod cannot make cgroups above its own); the
 * cgroup climbed from just before it is the container. A cgroup more than
 * PM_FOLD_CLIMB levels below level PM_FOLD_TOP - 1 is counted in its
 * ancestor PM_FOLD_CLIMB levels up.
 */
__noinline __u64 pm_fold_compute(__u64 cgp)
{
	struct cgroup *cg = (void *)cgp, *c = cg, *prev = NULL, *below = NULL;
	int level = BPF_CORE_READ(cg, level), n, l, i, pod_level = -1;

	for (i = 0; i < PM_FOLD_CLIMB && c && BPF_CORE_READ(c, level) >= PM_FOLD_TOP; i++) {
		prev = c;
		c = cg_parent(c);
	}
	if (!c)
		return BPF_CORE_READ(cg, kn, id);
	n = BPF_CORE_READ(c, level);
	if (n >= PM_FOLD_TOP)
		return BPF_CORE_READ(c, kn, id);
	for (l = PM_FOLD_TOP - 1; l >= 1 && c; l--) {
		if (l > n)
			continue;
		if (pm_pod_named((__u64)c)) {
			pod_level = l;
			below = prev;
		}
		prev = c;
		c = cg_parent(c);
	}
	if (pod_level < 0 || level <= pod_level + 1 || !below)
		return BPF_CORE_READ(cg, kn, id);
	return BPF_CORE_READ(below, kn, id);
}

/* @cgid (of @cg) as counted, through @cache (an LRU hash: a miss only costs a walk). */
static __always_inline __u64 fold_cgid(void *cache, struct cgroup *cg, __u64 cgid)
{
	__u64 *to = bpf_map_lookup_elem(cache, &cgid), cgp = 0, v;

	if (to)
		return *to;
	/* as a number: a trusted pointer cannot be handed to a global function */
	if (!cg || bpf_probe_read_kernel(&cgp, sizeof(cgp), &cg))
		return cgid;
	v = pm_fold_compute(cgp);
	bpf_map_update_elem(cache, &cgid, &v, BPF_ANY);
	return v;
}

/* One refusal of @table for @cgid (already folded). */
static __always_inline void refusal_add(void *map, __u64 cgid, __u32 hier, __u32 table)
{
	struct pm_refusal_key key = { .cgid = cgid, .hier = hier, .table = table };
	static const __u64 zero;
	__u64 *v = map_lookup_or_init(map, &key, &zero, NULL, 0);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* LRU: where no agent removes gone cgroups' pairs (CUDA's), old ones make room. */
#define PM_REFUSALS_MAP(name)                                                                      \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);                                               \
		__uint(max_entries, PM_REFUSAL_MAX_KEYS);                                          \
		__type(key, struct pm_refusal_key);                                                \
		__type(value, __u64);                                                              \
	} name SEC(".maps")

#define PM_FOLD_MAP(name)                                                                          \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);                                               \
		__uint(max_entries, PM_FOLD_CACHE);                                                \
		__type(key, __u64);                                                                \
		__type(value, __u64);                                                              \
	} name SEC(".maps")

/*
 * A table keyed by process comes in two: the first, sized for the processes
 * a node has, is read every tick; its spill takes the rest up to the node's
 * task limit and is read only while in use (bpfutil__size_split()). A hash
 * table's read visits each of its buckets, and a task limit of 4,194,304 is
 * common. Each insert into a spill is counted in one per-CPU slot, for the
 * agent to know it has one to read.
 */
#define PM_SPILLS_MAP(name)                                                                        \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, 1);                                                            \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} name SEC(".maps")

/*
 * Changed sets. A stats map keyed by cgroup (or by process) is read by
 * change: a program that moves a cgroup's counters then puts its key in the
 * map's changed set ("<name>", a hash of the map's key), and the agent reads
 * only the keys the set holds, draining it (bpfutil__changed_each()).
 * "<name>_epoch" is the agent's read number, written by the agent before
 * it drains: a program that keeps a per-CPU mark in the counters' value
 * puts a key in the set once an epoch on each CPU, not once an event. The
 * key's value is the epoch it went in at: one put in after the agent moved
 * the epoch and before it drained is read by the next read too (that CPU's
 * later counts this epoch put nothing in). Counting comes before the put,
 * so a key drained has its count in. "<name>_counts" (per CPU) counts the
 * keys the set had no room for (the agent reads the whole map then), and
 * every put, after its key is in: a read that finds the puts where they
 * stood at the last drain has nothing to drain (a drain visits every bucket
 * of the set).
 */
#define PM_CHANGED_MAX 4096

#define PM_CHANGED_MAP(name, key_type)                                                             \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(max_entries, PM_CHANGED_MAX);                                               \
		__type(key, key_type);                                                             \
		__type(value, __u64);                                                              \
	} name SEC(".maps");                                                                       \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, PM_CHANGED_COUNTS);                                            \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} name##_counts SEC(".maps");                                                              \
	__u64 name##_epoch

static __always_inline void changed_put(void *set, void *counts, const void *key, __u64 epoch)
{
	if (bpf_map_update_elem(set, key, &epoch, BPF_ANY))
		errors_inc(counts, PM_CHANGED_LOST);
	errors_inc(counts, PM_CHANGED_PUTS);
}

/* @key's counters moved: into the set once this epoch on this CPU (@seen, in the value) */
#define changed_mark(name, key, seen)                                                              \
	do {                                                                                       \
		__u64 epoch_ = name##_epoch;                                                       \
                                                                                                   \
		if (*(seen) != (__typeof__(*(seen)))epoch_) {                                      \
			*(seen) = epoch_;                                                          \
			changed_put(&name, &name##_counts, key, epoch_);                           \
		}                                                                                  \
	} while (0)

/* ... into the set at each event: for rare events, with no mark in the value */
#define changed_put_each(name, key) changed_put(&name, &name##_counts, key, name##_epoch)

#endif /* PODMETER_TABLES_BPF_H */
