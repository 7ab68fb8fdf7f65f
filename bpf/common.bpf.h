/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers every BPF object uses, written once: a map entry made on first
 * use, a task's cgroup in the counted hierarchy, the per-CPU error
 * counters the agent reads, and the moved flags it reads tables by.
 */
#ifndef PODMETER_COMMON_BPF_H
#define PODMETER_COMMON_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"

/*
 * One more error @idx in @errors, a per-CPU array of __u64 counters: no
 * atomics, the agent sums the CPUs.
 */
static __always_inline void errors_inc(void *errors, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(errors, &idx);

	if (v)
		*v += 1;
}

/*
 * A table's moved flag (agent.h, struct pm_moved), set after a count: a
 * read that finds it clear skips the table. Written only while clear, so
 * the line is shared, not bounced, between CPUs counting. A plain load
 * after the count, no barrier: a count whose load saw the flag of an
 * earlier one an instant before the agent took it, with the count's store
 * not yet out of the CPU's store buffer when the read copied the entry
 * (nanoseconds against a system call), waits for the next count.
 */
static __always_inline void moved_set(volatile __u32 *flag)
{
	if (!*flag)
		*flag = 1;
}

/*
 * @key's entry in @map after its lookup missed: inserted from @init and
 * looked up again. EEXIST (another CPU made it meanwhile) is fine; a map
 * with no room gives NULL, counted as error @err in @errors when @errors is
 * not NULL.
 */
static __always_inline void *map_try_init(void *map, const void *key, const void *init,
					  void *errors, __u32 err)
{
	void *v;

	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v && errors)
		errors_inc(errors, err);
	return v;
}

/* @key's entry in @map, made from @init when there is none (see map_try_init()). */
static __always_inline void *map_lookup_or_init(void *map, const void *key, const void *init,
						void *errors, __u32 err)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	return map_try_init(map, key, init, errors, err);
}

/*
 * @t's cgroup in the counted hierarchy: the cgroup v2 one, or with @v1 the
 * v1 cpuacct one (NULL without cpuacct, see core_fixes.bpf.h).
 */
static __always_inline struct cgroup *task_cgroup_of(struct task_struct *t, bool v1)
{
	if (v1)
		return task_cpuacct_cgroup(t);
	return BPF_CORE_READ(t, cgroups, dfl_cgrp);
}

/* The id of @t's cgroup in the counted hierarchy. */
static __always_inline __u64 task_cgroup_id(struct task_struct *t, bool v1)
{
	return BPF_CORE_READ(task_cgroup_of(t, v1), kn, id);
}

/* Current's cgroup in the counted hierarchy (see task_cgroup_of()). */
static __always_inline struct cgroup *current_cgroup_of(bool v1)
{
	return task_cgroup_of((struct task_struct *)bpf_get_current_task(), v1);
}

/* The id of current's cgroup in the counted hierarchy; v2 has a helper. */
static __always_inline __u64 current_cgroup_id(bool v1)
{
	if (v1)
		return task_cpuacct_cgid(bpf_get_current_task_btf());
	return bpf_get_current_cgroup_id();
}

#endif /* PODMETER_COMMON_BPF_H */
