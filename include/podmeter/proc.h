/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/proc.bpf.c and agent/signal/proc.c: fixed-size, __u32/__u64 only. */
#ifndef PODMETER_PROC_H
#define PODMETER_PROC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PM_PROC_MAX_CGROUPS 16384
#define PM_PROC_MAX_EXITED  65536 /* preallocated (kernels < 6.1); else the node's task limit */

/* Per-CPU value of proc_stats, keyed by struct pm_cg_key (cpu.h). */
struct pm_proc_val {
	__u64 starts; /* processes started (forks of a new thread group) */
	__u64 execs;
	__u64 exits; /* processes ended: their last thread exited */
	__u64 joins; /* processes (or threads) moved in */
};

/*
 * A process whose threads have all exited and that is not freed yet: a
 * zombie while its parent has not reaped it. Keyed by its pid (tgid);
 * removed at the process's own sched_process_free (by start time: a pid
 * freed at release is reused before the old task's free runs). The agent
 * also drops an entry /proc no longer shows as that zombie.
 */
struct pm_exited {
	__u64 ts;   /* bpf_ktime_get_ns() at exit */
	__u64 cgid; /* as counted (bpf/tables.bpf.h) */
	__u32 ppid; /* the parent that should reap it */
	__u32 pad;
	char comm[16];
	char parent_comm[16];
	__u64 start_ns; /* the process's start_boottime: /proc's starttime */
};

enum pm_proc_err {
	PM_PROC_ERR_CGROUP_FULL = 0,
	PM_PROC_ERR_EXITED_FULL = 1,
	PM_PROC_ERR_KERNEL,			/* the ones the programs count */
	PM_PROC_ERR_STALE = PM_PROC_ERR_KERNEL, /* exited entries /proc contradicted */
	PM_PROC_ERR_MAX,
};

#endif /* PODMETER_PROC_H */
