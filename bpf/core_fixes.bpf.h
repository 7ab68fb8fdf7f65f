/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel-version and kernel-config differences, one place, each named. */
#ifndef PODMETER_CORE_FIXES_BPF_H
#define PODMETER_CORE_FIXES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>

/*
 * task_struct::sched_info exists only with CONFIG_SCHED_INFO (set by
 * CONFIG_SCHEDSTATS or CONFIG_TASK_DELAY_ACCT): without it there is no
 * run-queue wait to report, and 0 is read.
 */
static __always_inline __u64 task_run_delay(struct task_struct *t)
{
	if (!bpf_core_field_exists(t->sched_info))
		return 0;
	return BPF_CORE_READ(t, sched_info.run_delay);
}

/*
 * The cpuacct controller may be compiled out (CONFIG_CGROUP_CPUACCT=n):
 * then its enum value does not exist and there is no v1 cpuacct id.
 */
static __always_inline __u64 task_cpuacct_cgid(struct task_struct *t)
{
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, cpuacct_cgrp_id))
		return 0;
	int id = bpf_core_enum_value(enum cgroup_subsys_id, cpuacct_cgrp_id);

	return BPF_CORE_READ(t, cgroups, subsys[id], cgroup, kn, id);
}

/* The same hierarchy's struct cgroup; NULL without cpuacct. */
static __always_inline struct cgroup *task_cpuacct_cgroup(struct task_struct *t)
{
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, cpuacct_cgrp_id))
		return NULL;
	int id = bpf_core_enum_value(enum cgroup_subsys_id, cpuacct_cgrp_id);

	return BPF_CORE_READ(t, cgroups, subsys[id], cgroup);
}

/*
 * The CPU a task runs or waits on: thread_info.cpu where the architecture
 * keeps thread_info in task_struct (x86 since Linux 5.16),
 * task_struct::cpu before.
 */
struct task_struct___cpu {
	unsigned int cpu;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_cpu_of(struct task_struct *t)
{
	struct task_struct___cpu *o = (void *)t;

	if (bpf_core_field_exists(t->thread_info.cpu))
		return BPF_CORE_READ(t, thread_info.cpu);
	return BPF_CORE_READ(o, cpu);
}

/*
 * Linux 6.2 made the mm counters percpu_counters (commit f1a7941243c1
 * "mm: convert mm's rss stats into percpu_counter"); before, an array of
 * atomic_long_t in mm->rss_stat.count[]. mm_counter_pages() in mem.bpf.c
 * reads either.
 */
struct mm_rss_stat___o {
	atomic_long_t count[4];
};

struct mm_struct___o {
	struct mm_rss_stat___o rss_stat;
} __attribute__((preserve_access_index));

#endif /* PODMETER_CORE_FIXES_BPF_H */
