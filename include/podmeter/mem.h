/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/mem.bpf.c and agent/signal/mem.c: fixed-size, __u32/__u64 only. */
#ifndef PODMETER_MEM_H
#define PODMETER_MEM_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Named map sizes. */
#define PM_MEM_MAX_CGROUPS 16384
#define PM_MEM_MAX_MMS	   65536 /* preallocated (kernels < 6.1); else the node's task limit */

/* The kernel's mm counters (enum MM_*), the `kind` label. */
enum pm_mem_kind {
	PM_MEM_FILE = 0,
	PM_MEM_ANON = 1,
	PM_MEM_SWAP = 2,
	PM_MEM_SHMEM = 3,
	PM_MEM_KINDS,
};

/* Per-CPU value of mem_events, keyed by struct pm_cg_key (cpu.h). */
struct pm_mem_val {
	__u64 faults;	 /* user page faults */
	__u64 oom_kills; /* tasks chosen as OOM victims */
	__u64 seen; /* the changed set's epoch this CPU last put the key in (bpf/tables.bpf.h) */
};

/*
 * One process's address space, keyed by the process (its tgid, so no more
 * entries than processes can exist): its counters as the kernel last
 * reported them, and the owner's cgroup. The entry goes when the process's
 * last thread exits; a gauge is state, not a flow: user space sums these by
 * cgroup and drops those whose owner is gone (exits missed while no
 * program was attached; a pid reused meanwhile is caught by the kernel, as
 * the new process's first counter change brings another mm).
 */
struct pm_mm_state {
	__u64 cgid; /* the owner's cgroup as counted (bpf/tables.bpf.h) */
	__u64 own;  /* the owner's cgroup itself, to see it move */
	__u64 mm;   /* the mm_struct counted: another one (exec, a reused pid) starts over */
	__u32 tgid; /* owner process, the key */
	__u32 seen; /* mm_changed's epoch (low half) it was last put in at (bpf/tables.bpf.h) */
	__s64 pages[PM_MEM_KINDS];
};

/* An OOM kill, through a ring buffer (rare). */
struct pm_oom_event {
	__u64 cgid;
	__u32 pid;
	__u32 pad;
	char comm[16];
};

enum pm_mem_err {
	PM_MEM_ERR_CGROUP_FULL = 0, /* mem_events insert failed */
	PM_MEM_ERR_MM_FULL = 1,	    /* mm_state insert failed */
	PM_MEM_ERR_OOM_LOST = 2,    /* OOM event dropped: ring buffer full */
	PM_MEM_ERR_MAX,
};

#endif /* PODMETER_MEM_H */
