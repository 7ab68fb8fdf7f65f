/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/cpu.bpf.c and agent/cpu.c: fixed-size, __u32/__u64 only. */
#ifndef PODMETER_CPU_H
#define PODMETER_CPU_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Named map sizes; the agent may raise them before load. */
#define PM_CPU_MAX_CGROUPS	16384
#define PM_CPU_MAX_WAKEUPS	65536

/* Which hierarchy a cgroup id belongs to: ids are only unique per hierarchy. */
enum pm_hier {
	PM_HIER_V2 = 0,		/* cgroup v2 (unified) */
	PM_HIER_V1_CPUACCT = 1,	/* cgroup v1, the hierarchy carrying cpuacct */
};

struct pm_cg_key {
	__u64 cgid;
	__u32 hier;
	__u32 pad;
};

/* Per-CPU value of the cpu_stats map; user space sums across CPUs. */
struct pm_cpu_val {
	__u64 oncpu_ns;		/* time tasks of the cgroup ran */
	__u64 runq_ns;		/* time they waited runnable on a run queue */
	__u64 switches_in;	/* times a task of the cgroup was switched in */
};

/*
 * What runs on a CPU now, since when: lets user space add the in-flight
 * slice of a task that has not switched out since the last switch.
 */
struct pm_cpu_run {
	__u64 start_ns;		/* bpf_ktime_get_ns() at switch-in; 0 = unknown */
	__u64 sum_start;	/* its se.sum_exec_runtime at switch-in */
	__u64 cg_v2;
	__u64 cg_v1;
	__u32 pid;		/* 0 = idle task */
	__u32 pad;
};

/* Indexes into the cpu_errors per-CPU array. */
enum pm_cpu_err {
	PM_CPU_ERR_CGROUP_FULL = 0,	/* cpu_stats insert failed */
	PM_CPU_ERR_WAKEUP_FULL = 1,	/* wakeup timestamp insert failed */
	PM_CPU_ERR_MAX,
};

#endif /* PODMETER_CPU_H */
