// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * On-CPU time and run-queue wait per cgroup, aggregated in the kernel, from
 * sched_switch alone.
 *
 * A slice is the growth of the task's se.sum_exec_runtime between its
 * switch-in and switch-out: the very clock the kernel charges cpuacct and
 * cpu.stat from (wall time would also count time a hypervisor stole). The
 * run-queue wait before a slice is the growth of its sched_info.run_delay
 * (the kernel's own schedstat), which the kernel updates when the task
 * arrives on the CPU, so no wakeup hook is needed. Both are charged at
 * switch-out to the cgroup the task had at switch-in, as counted: a cgroup
 * below a container is counted in the container's (bpf/tables.bpf.h),
 * decided once per cgroup and kept in a few slots per CPU. A task moved to
 * another cgroup while it runs (cgroup_attach_task, rare) has its slice
 * split where the move found its runtime, as the kernel charges it: the
 * part before is the old cgroup's. Nothing is sent to user space per event.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "common.bpf.h"
#include "tables.bpf.h"
#include <podmeter/cpu.h>

#define barrier() asm volatile("" ::: "memory")

/* Set by the agent before load. */
const volatile bool track_v1 = false; /* key by the v1 cpuacct id, not v2 */
const volatile __u32 hier = PM_HIER_V2;
const volatile bool use_task_storage = false; /* tp_btf on kernels >= 6.4 */
const volatile int hierarchy_id = 0;	      /* of the counted hierarchy; v2 is 0 */
const volatile __u32 nr_cpus = 1;	      /* possible CPUs */

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PM_CPU_MAX_CGROUPS);
	__type(key, struct pm_cg_key);
	__type(value, struct pm_cpu_val);
} cpu_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_cpu_run);
} cpu_run SEC(".maps");

/*
 * Per task: the runtime and run_delay already charged (struct pm_task_seen).
 * A slice is charged as the growth since the task's last charge, so running
 * that no tracepoint showed (see handle_switch()) is charged at the task's next
 * switch-out seen. The kernel also adds to run_delay while a task waits and
 * is moved to another CPU's queue (sched_info_dequeue), between two of its
 * slices; charging from here keeps that part too. tp_btf uses task storage on
 * kernels >= 6.4, whose task storage does not allocate with GFP_ATOMIC under
 * the run-queue lock; otherwise, and for the raw_tp twin (untrusted task
 * pointers), an LRU hash by pid. The task storage map is created only for
 * tp_btf.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pm_task_seen);
} task_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_CPU_MAX_TASKS);
	__type(key, __u32);
	__type(value, struct pm_task_seen);
} task_seen_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} cg_born SEC(".maps");

/* Written by user space only (struct pm_retired_key). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_CPU_MAX_PODS);
	__type(key, struct pm_retired_key);
	__type(value, struct pm_retired_val);
} cpu_retired SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_CPU_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} cpu_errors SEC(".maps");

PM_REFUSALS_MAP(refusals);
PM_FOLD_MAP(cpu_fold);

/* Move the CPU's pending amounts into cpu_stats. */
static __always_inline void flush(struct pm_cpu_run *run)
{
	struct pm_cg_key key = { .cgid = run->pend_cgid, .hier = hier };
	static const struct pm_cpu_val zero;
	struct pm_cpu_val *v;

	v = map_lookup_or_init(&cpu_stats, &key, &zero, &cpu_errors, PM_CPU_ERR_CGROUP_FULL);
	if (v) {
		v->oncpu_ns += run->pend_oncpu_ns;
		v->runq_ns += run->pend_runq_ns;
	} else {
		refusal_add(&refusals, run->pend_cgid, hier, PM_TABLE_CGROUPS);
	}
	run->pend_oncpu_ns = 0;
	run->pend_runq_ns = 0;
	run->flushes++;
}

/*
 * tp_btf hands trusted task pointers: fields are read with plain loads. The
 * raw_tp twin reads through BPF_CORE_READ. @btf is a constant at each call
 * site, so each program keeps only its own branch.
 */
#define TASK_READ(btf, t, field) ((btf) ? (t)->field : BPF_CORE_READ(t, field))

/*
 * task_cgroup_of() (common.bpf.h) with tp_btf's plain loads: the hot path,
 * it stays one read of track_v1.
 */
static __always_inline struct cgroup *task_cgroup(struct task_struct *t, const bool btf)
{
	if (track_v1)
		return task_cpuacct_cgroup(t);
	return btf ? t->cgroups->dfl_cgrp : BPF_CORE_READ(t, cgroups, dfl_cgrp);
}

/* Not inlined: a CPU's slots answer nearly every switch. */
static __noinline __u64 fold_slow(struct pm_cpu_run *run, struct cgroup *cg, __u64 cgid)
{
	__u32 slot = cgid & (PM_CPU_FOLD_SLOTS - 1);
	__u64 to = fold_cgid(&cpu_fold, cg, cgid);

	run->fold_from[slot] = cgid;
	run->fold_to[slot] = to;
	return to;
}

/* The cgroup @t is counted in: its own, or its container's. */
static __always_inline __u64 task_cgid(struct pm_cpu_run *run, struct task_struct *t,
				       const bool btf)
{
	struct cgroup *cg = task_cgroup(t, btf);
	__u64 cgid = btf && !track_v1 ? cg->kn->id : BPF_CORE_READ(cg, kn, id);
	__u32 slot = cgid & (PM_CPU_FOLD_SLOTS - 1);

	if (run->fold_from[slot] == cgid)
		return run->fold_to[slot];
	return fold_slow(run, cg, cgid);
}

static __always_inline __u64 run_delay(struct task_struct *t, const bool btf)
{
	if (!bpf_core_field_exists(t->sched_info))
		return 0;
	return btf ? t->sched_info.run_delay : task_run_delay(t);
}

#define SCHED_NORMAL 0
#define SCHED_BATCH  3
#define SCHED_IDLE   5
#define MAX_RT_PRIO  100

/*
 * Run by CFS: a fair policy, and not boosted into RT or deadline by priority
 * inheritance (prio below MAX_RT_PRIO). (fair_sched_class itself is not in
 * kallsyms without CONFIG_KALLSYMS_ALL.)
 */
static __always_inline bool task_is_fair(struct task_struct *t, const bool btf)
{
	__u32 policy = TASK_READ(btf, t, policy);
	int prio = TASK_READ(btf, t, prio);

	return (policy == SCHED_NORMAL || policy == SCHED_BATCH || policy == SCHED_IDLE) &&
	       prio >= MAX_RT_PRIO;
}

static __always_inline struct pm_task_seen *task_seen_get(struct task_struct *t, __u32 pid,
							  __u64 cgid, const bool btf)
{
	struct pm_task_seen *seen, fresh = { .task = (__u64)t };

	if (btf && use_task_storage)
		return bpf_task_storage_get(&task_seen, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	seen = bpf_map_lookup_elem(&task_seen_pid, &pid);
	if (seen && seen->task == (__u64)t)
		return seen;
	if (bpf_map_update_elem(&task_seen_pid, &pid, &fresh, BPF_ANY)) {
		errors_inc(&cpu_errors, PM_CPU_ERR_TASK_FULL);
		refusal_add(&refusals, cgid, hier, PM_TABLE_TASKS);
		return NULL;
	}
	return bpf_map_lookup_elem(&task_seen_pid, &pid);
}

/* Growth of a per-task clock since its baseline, which moves to @now. */
static __always_inline __u64 owed(__u64 *charged, __u64 now, __u64 start)
{
	__u64 base = *charged && *charged <= now ? *charged : start;

	*charged = now;
	return now > base ? now - base : 0;
}

static __always_inline void charge(struct pm_cpu_run *run, __u64 cgid, __u64 oncpu, __u64 runq)
{
	if (cgid != run->pend_cgid) {
		if (run->pend_oncpu_ns || run->pend_runq_ns)
			flush(run);
		run->pend_cgid = cgid;
	}
	run->pend_oncpu_ns += oncpu;
	run->pend_runq_ns += runq;
}

/* Times @t was put on a CPU (sched_info.pcount); 0 when not kept. */
static __always_inline __u64 run_count(struct task_struct *t, const bool btf)
{
	if (!bpf_core_field_exists(t->sched_info))
		return 0;
	return TASK_READ(btf, t, sched_info.pcount);
}

/*
 * @prev was moved to another cgroup (cgroup_attach_task) since its last
 * charge, its runtime then @seen->moved_sum. The kernel charges a running
 * task's time to the cgroup it has when the time is accounted: what ran up
 * to the move goes to @cgid, the old one (with the wait before the slice);
 * the cgroup it is counted in now, returned, takes the rest (all of it when
 * the move came before the baseline, e.g. a new task that had not run).
 */
static __always_inline __u64 split_moved(struct pm_cpu_run *run, struct task_struct *prev,
					 struct pm_task_seen *seen, __u64 cgid, __u64 sum,
					 __u64 sum_start, __u64 delay, __u64 delay_start,
					 const bool btf)
{
	__u64 moved = seen->moved_sum, charged = seen->oncpu_charged, base, to;

	seen->moved = 0;
	if (moved > sum)
		return cgid;
	to = task_cgid(run, prev, btf);
	base = charged && charged <= sum ? charged : sum_start;
	if (to != cgid && moved > base)
		charge(run, cgid, owed(&seen->oncpu_charged, moved, sum_start),
		       owed(&seen->runq_charged, delay, delay_start));
	return to;
}

/*
 * @prev switches out. Charged: the growth of its runtime and run_delay since
 * its last charge. Without a baseline (first sight, or the pid map had no
 * room): from zero when this is the task's first slice ever; else from its
 * switch-in when seen here; else from the kernel's own mark of where its
 * slice began (se.prev_sum_exec_runtime, kept by CFS only), its wait not at
 * all.
 */
static __always_inline void close_slice(struct pm_cpu_run *run, struct task_struct *prev, __u32 pid,
					bool seen_in, const bool btf)
{
	__u64 sum = TASK_READ(btf, prev, se.sum_exec_runtime);
	__u64 delay = run_delay(prev, btf);
	__u64 cgid = seen_in ? run->cgid : task_cgid(run, prev, btf);
	struct pm_task_seen *seen = task_seen_get(prev, pid, cgid, btf), none = {};
	__u64 sum_start, delay_start;

	if (run_count(prev, btf) == 1) {
		sum_start = 0;
		delay_start = 0;
	} else if (seen_in) {
		sum_start = run->sum_start;
		delay_start = run->delay_start;
	} else {
		sum_start = task_is_fair(prev, btf) ? TASK_READ(btf, prev, se.prev_sum_exec_runtime)
						    : sum;
		delay_start = delay;
	}
	if (!seen)
		seen = &none; /* no room for a baseline: this slice only */
	if (seen->moved)
		cgid = split_moved(run, prev, seen, cgid, sum, sum_start, delay, delay_start, btf);
	charge(run, cgid, owed(&seen->oncpu_charged, sum, sum_start),
	       owed(&seen->runq_charged, delay, delay_start));
	/* by pid: the entry goes with the task (task storage does by itself) */
	if (!(btf && use_task_storage) && task_dead(prev))
		bpf_map_delete_elem(&task_seen_pid, &pid);
}

static __always_inline void open_slice(struct pm_cpu_run *run, struct task_struct *next,
				       const bool btf)
{
	run->task = (__u64)next;
	run->pid = TASK_READ(btf, next, pid);
	if (!run->pid) {
		run->cgid = 0; /* idle: charged to no one, pending kept */
		return;
	}
	run->cgid = task_cgid(run, next, btf);
	run->sum_start = TASK_READ(btf, next, se.sum_exec_runtime);
	run->delay_start = run_delay(next, btf);
	if (bpf_core_field_exists(next->sched_info))
		run->pcount_start = TASK_READ(btf, next, sched_info.pcount);
}

/*
 * Some switches never reach the tracepoint (seen on a 6.18 guest: a thread's
 * switch-out and the next task's switch-in both missing), so prev is not the
 * task this CPU saw switch in. Each is counted. The task seen switching in
 * is charged at its next switch-out seen, from its baseline; prev is charged
 * from its own baseline now. Only a task whose last switch-out is missed
 * (it exits there) loses that slice.
 */
static __always_inline int handle_switch(struct task_struct *prev, struct task_struct *next,
					 const bool btf)
{
	struct pm_cpu_run *run;
	bool seen_in;
	__u32 zero = 0, pid;

	run = bpf_map_lookup_elem(&cpu_run, &zero);
	if (!run)
		return 0;
	run->seq_begin++;
	barrier();
	seen_in = run->task == (__u64)prev;
	if (!seen_in && run->task)
		errors_inc(&cpu_errors, PM_CPU_ERR_RESYNC);
	pid = TASK_READ(btf, prev, pid);
	if (pid && (seen_in || run->task))
		close_slice(run, prev, pid, seen_in, btf);
	open_slice(run, next, btf);
	barrier();
	run->seq_end = run->seq_begin;
	return 0;
}

/* The first move since @seen's last charge: where the runtime stood. */
static __always_inline void mark_moved(struct pm_task_seen *seen, __u64 sum)
{
	if (seen && !seen->moved) {
		seen->moved_sum = sum;
		seen->moved = 1;
	}
}

struct moved_group {
	__u64 leader; /* task_struct */
	__s32 tgid;
};

/*
 * A thread of the moved group running on @cpu now: its slice so far stays
 * its old cgroup's (split_moved()). Threads not running were charged at
 * their last switch-out and start their next slice in the new cgroup.
 */
static long mark_running_thread(__u32 cpu, struct moved_group *g)
{
	struct task_struct *t;
	struct pm_cpu_run *run;
	__u32 zero = 0, pid;

	run = bpf_map_lookup_percpu_elem(&cpu_run, &zero, cpu);
	if (!run || !run->task || run->task == g->leader)
		return 0;
	pid = run->pid;
	t = (struct task_struct *)run->task;
	if (!pid || BPF_CORE_READ(t, tgid) != g->tgid)
		return 0;
	if (use_task_storage) {
		if (!bpf_task_from_pid) /* weak: 0 where the kernel lacks it */
			return 1;
		t = bpf_task_from_pid(pid);
		if (!t)
			return 0;
		if (t->tgid == g->tgid)
			mark_moved(bpf_task_storage_get(&task_seen, t, 0,
							BPF_LOCAL_STORAGE_GET_F_CREATE),
				   t->se.sum_exec_runtime);
		bpf_task_release(t);
	} else {
		struct pm_task_seen *seen = bpf_map_lookup_elem(&task_seen_pid, &pid);

		if (seen && seen->task == run->task)
			mark_moved(seen, BPF_CORE_READ(t, se.sum_exec_runtime));
	}
	return 0;
}

/*
 * Rare: @t (with its thread group when @group) was moved into @dst. The
 * tracepoint names the leader only; its threads running now are found on
 * the CPUs.
 */
static __always_inline int handle_attach(struct cgroup *dst, struct task_struct *t, bool group,
					 const bool btf)
{
	struct moved_group g;
	__u32 pid;

	if (BPF_CORE_READ(dst, root, hierarchy_id) != hierarchy_id)
		return 0;
	pid = TASK_READ(btf, t, pid);
	mark_moved(task_seen_get(t, pid, BPF_CORE_READ(dst, kn, id), btf),
		   TASK_READ(btf, t, se.sum_exec_runtime));
	if (!btf || !group)
		return 0;
	g.leader = (__u64)t;
	g.tgid = t->tgid;
	bpf_loop(nr_cpus, mark_running_thread, &g, 0);
	return 0;
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(tp_btf_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *t,
	     bool group)
{
	return handle_attach(dst, t, group, true);
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(raw_tp_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *t,
	     bool group)
{
	return handle_attach(dst, t, group, false);
}

/* Rare: a cgroup is made or renamed (its id and path) or removed, for the agent's walk. */
static __always_inline int handle_tree(struct cgroup *cgrp, const char *path, bool gone)
{
	struct pm_cg_born *e;

	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != hierarchy_id)
		return 0;
	e = bpf_ringbuf_reserve(&cg_born, sizeof(*e), 0);
	if (!e) {
		errors_inc(&cpu_errors, PM_CPU_ERR_BORN_LOST);
		return 0;
	}
	e->cgid = BPF_CORE_READ(cgrp, kn, id);
	e->gone = gone;
	e->pad = 0;
	e->path[0] = '\0';
	if (!gone && bpf_probe_read_kernel_str(e->path, sizeof(e->path), path) < 0)
		e->path[0] = '\0';
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(tp_btf_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, false);
}

SEC("raw_tp/cgroup_mkdir")
int BPF_PROG(raw_tp_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, false);
}

/* a rename is a new path for the same id: as a mkdir, the walk reads the tree */
SEC("tp_btf/cgroup_rename")
int BPF_PROG(tp_btf_cgroup_rename, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, false);
}

SEC("raw_tp/cgroup_rename")
int BPF_PROG(raw_tp_cgroup_rename, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, false);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(tp_btf_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, true);
}

SEC("raw_tp/cgroup_rmdir")
int BPF_PROG(raw_tp_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, true);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return handle_switch(prev, next, true);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(raw_tp_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return handle_switch(prev, next, false);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
