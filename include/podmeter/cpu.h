/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/cpu.bpf.c and agent/signal/cpu.c: fixed-size, __u32/__u64 only. */
#ifndef PODMETER_CPU_H
#define PODMETER_CPU_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Named map sizes; the agent may change them before load. */
#define PM_CPU_MAX_CGROUPS 16384
#define PM_CPU_FOLD_SLOTS  8 /* per-CPU cache of counted cgroups; a power of two */
#define PM_CPU_BASE_BITS   8 /* per-CPU charged-up-to bases: 1 << 8 slots */
#define PM_CPU_FLUSH_BITS  6 /* per-CPU log of the cgroups last flushed: 1 << 6 */

/* Which hierarchy a cgroup id belongs to: ids are only unique per hierarchy. */
enum pm_hier {
	PM_HIER_V2 = 0,		/* cgroup v2 (unified) */
	PM_HIER_V1_CPUACCT = 1, /* cgroup v1, the hierarchy carrying cpuacct */
};

struct pm_cg_key {
	__u64 cgid;
	__u32 hier;
	__u32 pad;
};

/* Per-CPU value of the cpu_stats map; user space sums across CPUs. */
struct pm_cpu_val {
	__u64 oncpu_ns; /* time tasks of the cgroup ran */
	__u64 runq_ns;	/* time they waited runnable on a run queue */
	__u64 seen; /* the changed set's epoch this CPU last put the key in (bpf/tables.bpf.h) */
};

/*
 * Per-CPU state, read by user space too. Slices that end are added to
 * "pending" while consecutive slices on the CPU belong to one cgroup, and
 * moved into cpu_stats when another cgroup's task switches out: a CPU
 * running one pod (with idle in between) touches no hash map at all.
 * seq_begin and seq_end differ while the program updates the state: it
 * moves seq_end first and sets seq_begin to it last, and a copy, made in
 * address order, reads seq_begin first and seq_end last, so a copy that
 * overlapped an update has them differ. The fields between the two are
 * covered; those after seq_end (written by other CPUs too) are not. The
 * fields between are written by the CPU's own switches, and by a move of a
 * waiting task off the CPU (sched_migrate_task), which holds the CPU's run
 * queue lock: never two at once.
 */
struct pm_cpu_run {
	__u64 seq_begin;
	__u64 cgid;	    /* cgroup of the task running now; 0 = idle */
	__u64 sum_start;    /* its se.sum_exec_runtime at switch-in */
	__u64 delay_start;  /* its sched_info.run_delay at switch-in: all charged */
	__u64 pcount_start; /* its sched_info.pcount at switch-in (one less than now) */
	__u64 pend_cgid;    /* cgroup the pending amounts belong to */
	__u64 pend_oncpu_ns;
	__u64 pend_runq_ns;
	__u64 flushes; /* times pending was moved into cpu_stats */
	__u64 task;    /* task_struct running now (0 = no switch seen yet) */
	__u32 pid;     /* its pid; 0 = idle */
	__u32 pad;
	__u64 seq_end;
	/*
	 * The CPU's last cgroups and the cgroup each is counted as (see
	 * bpf/tables.bpf.h): a switch looks here before the shared cache.
	 */
	__u64 fold_from[PM_CPU_FOLD_SLOTS];
	__u64 fold_to[PM_CPU_FOLD_SLOTS];
	/*
	 * The task running now was moved to another cgroup (cgroup_attach_task)
	 * while it ran, its se.sum_exec_runtime then: the slice is split there.
	 * Written by the CPU the move ran on; 0 = no move.
	 */
	__u64 moved_task;
	__u64 moved_sum;
};

/*
 * Per CPU, what tasks that left the CPU, or were moved onto it, are charged
 * up to: se.sum_exec_runtime and sched_info.run_delay at a task's switch-out
 * there, or at its migration there (sched_migrate_task). A task waiting on a
 * run queue that the load balancer moves to another has that wait added to
 * run_delay between its slices: it is charged at the move, from the old
 * CPU's base. A switch-in the tracepoint never showed is charged from here.
 * Slot by pid; check = pid ^ the halves of sum and delay (a slot written by
 * two CPUs at once is not taken). A map of its own: the reader never copies
 * it.
 */
struct pm_cpu_bases {
	struct pm_cpu_base {
		__u64 task; /* task_struct */
		__u64 sum;
		__u64 delay;
		__u32 pid;
		__u32 check;
	} slot[1 << PM_CPU_BASE_BITS];
};

/*
 * The cgroup of each of a CPU's last flushes, flush number n
 * (pm_cpu_run.flushes counts them) at [n % (1 << PM_CPU_FLUSH_BITS)]: a
 * reader that walked cpu_stats while flushes happened reads these cgroups
 * again (agent/signal/cpu.c). A per-CPU map of its own, written by the
 * flushes only.
 */
struct pm_cpu_flushlog {
	__u64 cgid[1 << PM_CPU_FLUSH_BITS];
};

/*
 * A cgroup created in the hierarchy the agent counts by (cgroup_mkdir), sent
 * through a ring buffer: its path names its pod even when it is gone before
 * the next walk of the tree (an init container, a job's short run).
 */
#define PM_CG_PATH_MAX 512

enum pm_tree_kind {
	PM_TREE_MADE,	 /* cgroup_mkdir */
	PM_TREE_GONE,	 /* cgroup_rmdir, no path */
	PM_TREE_RENAMED, /* cgroup_rename: the paths below it changed too */
};

struct pm_cg_born {
	__u64 cgid;
	__u32 kind; /* enum pm_tree_kind */
	__u32 pad;
	char path[PM_CG_PATH_MAX]; /* from the hierarchy root, "/..." */
};

/*
 * What removed cgroups ran, folded into their pod by user space (the
 * programs never touch it): pinned with the counters, so a pod's total
 * survives the agent's restart after its containers' entries are gone.
 * Keyed by pod uid; "" is node overhead.
 */
#define PM_CPU_MAX_PODS 4096
#define PM_UID_KEY_LEN	40

struct pm_retired_key {
	char uid[PM_UID_KEY_LEN];
};

struct pm_retired_val {
	__u64 oncpu_ns;
	__u64 runq_ns;
};

/*
 * Tables a pod can fill (the `table` label of refusals). Each is sized from
 * the node's limits or bounded per cgroup; an entry refused is counted for
 * the cgroup whose event needed it (an LRU hash of struct pm_refusal_key ->
 * __u64 in each BPF object, "refusals": refusals are rare, one count is
 * shared by the CPUs).
 */
enum pm_table {
	PM_TABLE_MMS = 0,      /* mem mm_state: address spaces */
	PM_TABLE_EXITED,       /* proc exited: processes exited, not freed */
	PM_TABLE_GPU_INFLIGHT, /* gpu gpu_inflight: threads inside a GPU ioctl */
	PM_TABLE_CUDA_ALLOCS,  /* cuda cuda_allocs: live device allocations */
	PM_TABLE_CUDA_PENDING, /* cuda cuda_pending: threads inside an alloc or sync call */
	PM_TABLE_CGROUPS,      /* a stats map keyed by cgroup (cpu_stats, mem_events, ...) */
	PM_TABLES,
};

/* The per-CPU counts of a changed set, "<set>_counts" (bpf/tables.bpf.h). */
enum pm_changed_count {
	PM_CHANGED_LOST = 0, /* keys the set had no room for */
	PM_CHANGED_PUTS,     /* keys put in, each counted after it is in */
	PM_CHANGED_COUNTS,
};

#define PM_REFUSAL_MAX_KEYS 1024 /* (cgroup, table) pairs with a refusal */
#define PM_FOLD_CACHE	    4096 /* cgroups whose counted cgroup is known */

struct pm_refusal_key {
	__u64 cgid;  /* as counted: a container's below it are folded into it */
	__u32 hier;  /* enum pm_hier */
	__u32 table; /* enum pm_table */
};

/* Indexes into the cpu_errors per-CPU array. */
enum pm_cpu_err {
	PM_CPU_ERR_CGROUP_FULL = 0, /* cpu_stats insert failed */
	PM_CPU_ERR_RESYNC = 1,	    /* prev was not the task seen switching in */
	PM_CPU_ERR_BORN_LOST = 2,   /* cgroup_mkdir/rename/rmdir event dropped: ring full */
	PM_CPU_ERR_SLICE_LOST = 3,  /* a slice no switch showed whole, not charged */
	PM_CPU_ERR_WAIT_LOST = 4,   /* a wait before a migration, not charged */
	PM_CPU_ERR_MAX,
};

#endif /* PODMETER_CPU_H */
