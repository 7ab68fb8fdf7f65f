// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * On-CPU time and run-queue wait per cgroup, aggregated in the kernel, from
 * sched_switch.
 *
 * A slice is the growth of the task's se.sum_exec_runtime between its
 * switch-in and switch-out: the very clock the kernel charges cpuacct and
 * cpu.stat from (wall time would also count time a hypervisor stole). The
 * run-queue wait before a slice is the growth of its sched_info.run_delay
 * (the kernel's own schedstat), which the kernel updates when the task
 * arrives on the CPU, so no wakeup hook is needed. Both are charged at
 * switch-out to the cgroup the task had at switch-in, as counted: a cgroup
 * below a container is counted in the container's (bpf/tables.bpf.h),
 * decided once per cgroup and kept in a few slots per CPU.
 *
 * A switch touches only its CPU's state (struct pm_cpu_run), no per-task
 * map: a per-task lookup cost more than the rest of the program together.
 * What that leaves to mend, each rare:
 * - a task moved to another cgroup while it runs (cgroup_attach_task) has
 *   its CPU marked: its slice is split where the move found its runtime, as
 *   the kernel charges it;
 * - a waiting task the load balancer moves to another CPU has that wait
 *   added to run_delay between two slices: sched_migrate_task charges it
 *   then, on the old CPU (whose run queue lock the move holds), from where
 *   that CPU last charged the task (struct pm_cpu_bases);
 * - a switch the tracepoint never shows (seen on a 6.18 guest) is settled
 *   at the next one seen on the CPU (see handle_switch()).
 * Nothing is sent to user space per event.
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
const volatile int hierarchy_id = 0; /* of the counted hierarchy; v2 is 0 */
const volatile __u32 nr_cpus = 1;    /* possible CPUs */

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_cpu_bases);
} cpu_bases SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_cpu_flushlog);
} cpu_flushlog SEC(".maps");

PM_REFUSALS_MAP(refusals);
PM_FOLD_MAP(cpu_fold);
PM_CHANGED_MAP(cpu_changed, struct pm_cg_key);

/*
 * Move the pending amounts of @run, the state of CPU @cpu (-1: this CPU's),
 * into cpu_stats (the cgroup into the changed set).
 */
static __always_inline void flush(struct pm_cpu_run *run, const int cpu)
{
	struct pm_cg_key key = { .cgid = run->pend_cgid, .hier = hier };
	static const struct pm_cpu_val zero;
	struct pm_cpu_flushlog *log;
	struct pm_cpu_val *v;
	__u32 first = 0;

	v = map_lookup_or_init(&cpu_stats, &key, &zero, &cpu_errors, PM_CPU_ERR_CGROUP_FULL);
	if (v) {
		v->oncpu_ns += run->pend_oncpu_ns;
		v->runq_ns += run->pend_runq_ns;
		changed_mark(cpu_changed, &key, &v->seen); /* after the count: bpf/tables.bpf.h */
	} else {
		refusal_add(&refusals, run->pend_cgid, hier, PM_TABLE_CGROUPS);
	}
	run->pend_oncpu_ns = 0;
	run->pend_runq_ns = 0;
	if (cpu < 0)
		log = bpf_map_lookup_elem(&cpu_flushlog, &first);
	else
		log = bpf_map_lookup_percpu_elem(&cpu_flushlog, &first, cpu);
	if (log)
		log->cgid[run->flushes & ((1 << PM_CPU_FLUSH_BITS) - 1)] = run->pend_cgid;
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

/*
 * task_cgid() from the shared cache only: for another CPU's event (the
 * per-CPU slots are written by their own CPU's switches alone).
 */
static __always_inline __u64 task_cgid_shared(struct task_struct *t, const bool btf)
{
	struct cgroup *cg = task_cgroup(t, btf);

	return fold_cgid(&cpu_fold, cg, BPF_CORE_READ(cg, kn, id));
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

#define TASK_ON_RQ_MIGRATING 2

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

/* Times @t was put on a CPU (sched_info.pcount); 0 when not kept. */
static __always_inline __u64 run_count(struct task_struct *t, const bool btf)
{
	if (!bpf_core_field_exists(t->sched_info))
		return 0;
	return TASK_READ(btf, t, sched_info.pcount);
}

/* Add to the pending amounts of @run, the state of CPU @cpu (-1: this CPU's). */
static __always_inline void charge_on(struct pm_cpu_run *run, __u64 cgid, __u64 oncpu, __u64 runq,
				      const int cpu)
{
	if (cgid != run->pend_cgid) {
		if (run->pend_oncpu_ns || run->pend_runq_ns)
			flush(run, cpu);
		run->pend_cgid = cgid;
	}
	run->pend_oncpu_ns += oncpu;
	run->pend_runq_ns += runq;
}

static __always_inline void charge(struct pm_cpu_run *run, __u64 cgid, __u64 oncpu, __u64 runq)
{
	charge_on(run, cgid, oncpu, runq, -1);
}

static __always_inline __u64 growth(__u64 now, __u64 start)
{
	return now > start ? now - start : 0;
}

static __always_inline struct pm_cpu_base *base_slot(struct pm_cpu_bases *bases, __u32 pid)
{
	__u32 h = pid * 0x9E3779B1U;

	return &bases->slot[(h >> (32 - PM_CPU_BASE_BITS)) & ((1 << PM_CPU_BASE_BITS) - 1)];
}

static __always_inline __u32 base_check(__u32 pid, __u64 sum, __u64 delay)
{
	return pid ^ (__u32)sum ^ (__u32)(sum >> 32) ^ (__u32)delay ^ (__u32)(delay >> 32);
}

/* Task @task (@pid) is charged up to runtime @sum and run_delay @delay, as @bases' CPU knows. */
static __always_inline void base_keep(struct pm_cpu_bases *bases, void *task, __u32 pid, __u64 sum,
				      __u64 delay)
{
	struct pm_cpu_base *b = base_slot(bases, pid);

	b->task = (__u64)task;
	b->sum = sum;
	b->delay = delay;
	b->pid = pid;
	b->check = base_check(pid, sum, delay);
}

/*
 * Where task @task (@pid), at runtime @sum and run_delay @delay now, is
 * charged up to, as @bases' CPU knows it: true with *@sum_base and
 * *@delay_base set, else false.
 */
static __always_inline bool base_find(struct pm_cpu_bases *bases, void *task, __u32 pid, __u64 sum,
				      __u64 delay, __u64 *sum_base, __u64 *delay_base)
{
	struct pm_cpu_base *b = base_slot(bases, pid);
	__u64 bs = b->sum, bd = b->delay;

	if (b->task != (__u64)task || b->pid != pid || b->check != base_check(pid, bs, bd) ||
	    bs > sum || bd > delay)
		return false;
	*sum_base = bs;
	*delay_base = bd;
	return true;
}

/*
 * The slice of @t, the task this CPU saw switching in, ends with its runtime
 * at @sum and its run_delay at @delay. Moved to another cgroup while it ran
 * (see mark_running()): what ran up to the move is the old cgroup's (with
 * the wait before the slice), the rest the new one's. @btf: @t is trusted.
 */
static __always_inline void close_slice(struct pm_cpu_run *run, struct task_struct *t, __u64 sum,
					__u64 delay, const bool btf)
{
	__u64 runq = growth(delay, run->delay_start), cgid = run->cgid, moved, to;

	if (run->moved_task != run->task) {
		charge(run, cgid, growth(sum, run->sum_start), runq);
		return;
	}
	moved = run->moved_sum;
	run->moved_task = 0;
	to = task_cgid(run, t, btf);
	if (moved >= sum || to == cgid) {
		charge(run, cgid, growth(sum, run->sum_start), runq);
	} else if (moved > run->sum_start) {
		charge(run, cgid, moved - run->sum_start, runq);
		charge(run, to, sum - moved, 0);
	} else {
		charge(run, to, growth(sum, run->sum_start), runq);
	}
}

/* @prev, seen switching in on this CPU, switches out: the common case. */
static __always_inline void close_seen(struct pm_cpu_run *run, struct pm_cpu_bases *bases,
				       struct task_struct *prev, const bool btf)
{
	__u64 sum = TASK_READ(btf, prev, se.sum_exec_runtime);
	__u64 delay = run_delay(prev, btf);

	base_keep(bases, prev, run->pid, sum, delay);
	close_slice(run, prev, sum, delay, btf);
}

/*
 * The task this CPU saw switching in left it unseen. Its slice ended where
 * its runtime stands now when it has not been put on a CPU since (pcount
 * one more than at its switch-in): charged so. Otherwise (or when the task
 * is gone: its pid no longer reads back) the slice is lost and counted.
 */
static __always_inline void settle_missed(struct pm_cpu_run *run, struct pm_cpu_bases *bases)
{
	struct task_struct *t = (struct task_struct *)run->task;
	__u64 sum, delay, pcount;
	__u32 pid;

	if (!run->pid)
		return; /* the idle task */
	/* not a trusted pointer any more: read through BPF_CORE_READ */
	sum = BPF_CORE_READ(t, se.sum_exec_runtime);
	delay = run_delay(t, false);
	barrier();
	pcount = run_count(t, false);
	pid = BPF_CORE_READ(t, pid);
	if (pid != run->pid || !pcount || pcount != run->pcount_start + 1) {
		errors_inc(&cpu_errors, PM_CPU_ERR_SLICE_LOST);
		return;
	}
	base_keep(bases, t, pid, sum, delay);
	close_slice(run, t, sum, delay, false);
}

/*
 * @prev switches out, its switch-in unseen. Charged from where this CPU
 * knows it was charged up to (its last switch-out here, or its arrival by
 * migration); else from zero when this is its first slice ever; else from
 * where CFS marked the start of its slice (se.prev_sum_exec_runtime, kept
 * by CFS only), its wait not at all; a slice of another class is lost and
 * counted.
 */
static __always_inline void close_unseen(struct pm_cpu_run *run, struct pm_cpu_bases *bases,
					 struct task_struct *prev, __u32 pid, const bool btf)
{
	__u64 sum = TASK_READ(btf, prev, se.sum_exec_runtime);
	__u64 delay = run_delay(prev, btf), pcount = run_count(prev, btf), start, base;
	__u64 cgid = task_cgid(run, prev, btf);

	if (!base_find(bases, prev, pid, sum, delay, &start, &base)) {
		start = sum;
		base = delay;
		if (pcount == 1)
			start = base = 0;
		else if (task_is_fair(prev, btf))
			start = TASK_READ(btf, prev, se.prev_sum_exec_runtime);
		else
			errors_inc(&cpu_errors, PM_CPU_ERR_SLICE_LOST);
	}
	base_keep(bases, prev, pid, sum, delay);
	charge(run, cgid, growth(sum, start), growth(delay, base));
}

/*
 * @next switches in. Its run_delay does not hold the wait that ends now
 * yet (the kernel adds it right after the tracepoint), and every wait
 * before is charged (a wait the load balancer moved, at the move): its
 * slice charges the growth of run_delay from here.
 */
static __always_inline void open_slice(struct pm_cpu_run *run, struct task_struct *next,
				       const bool btf)
{
	run->task = (__u64)next;
	run->pid = TASK_READ(btf, next, pid);
	run->moved_task = 0;
	if (!run->pid) {
		run->cgid = 0; /* idle: charged to no one, pending kept */
		return;
	}
	run->cgid = task_cgid(run, next, btf);
	run->sum_start = TASK_READ(btf, next, se.sum_exec_runtime);
	run->delay_start = run_delay(next, btf);
	run->pcount_start = run_count(next, btf);
}

/*
 * Some switches never reach the tracepoint (seen on a 6.18 guest: a thread's
 * switch-out and the next task's switch-in both missing), so prev is not the
 * task this CPU saw switch in. Each is counted; the task seen switching in
 * is settled (settle_missed()), and prev charged from its own marks
 * (close_unseen()).
 */
static __always_inline int handle_switch(struct task_struct *prev, struct task_struct *next,
					 const bool btf)
{
	struct pm_cpu_bases *bases;
	struct pm_cpu_run *run;
	__u32 zero = 0, pid;

	run = bpf_map_lookup_elem(&cpu_run, &zero);
	bases = bpf_map_lookup_elem(&cpu_bases, &zero);
	if (!run || !bases)
		return 0;
	run->seq_end++; /* seq_end first, seq_begin last: see struct pm_cpu_run */
	barrier();
	if (run->task == (__u64)prev) {
		if (run->pid)
			close_seen(run, bases, prev, btf);
	} else if (run->task) {
		errors_inc(&cpu_errors, PM_CPU_ERR_RESYNC);
		settle_missed(run, bases);
		pid = TASK_READ(btf, prev, pid);
		if (pid)
			close_unseen(run, bases, prev, pid, btf);
	}
	open_slice(run, next, btf);
	barrier();
	run->seq_begin = run->seq_end;
	return 0;
}

/*
 * @p moves to @dest (set_task_cpu), not running: it is charged up to its
 * runtime now. A task woken elsewhere has waited for nothing since its last
 * slice: its wait is charged up to its run_delay now. A task taken off a run
 * queue (the load balancer, an affinity change) has just had its wait so
 * far added to run_delay: that wait is charged now, on the old CPU, from
 * where that CPU last charged the task (from zero for a task never on a
 * CPU; a base the old CPU lost is counted, the wait not charged). The move
 * holds the old CPU's run queue lock, so none of that CPU's switches runs
 * meanwhile; its state is written as a switch writes it (seq_end first,
 * seq_begin last).
 */
static __always_inline int handle_migrate(struct task_struct *p, int dest, const bool btf)
{
	__u32 src = task_cpu_of(p), zero = 0, pid = TASK_READ(btf, p, pid);
	__u64 sum, delay, sum_base, base;
	struct pm_cpu_bases *bases;
	struct pm_cpu_run *from;

	if (src == (__u32)dest || !pid)
		return 0;
	sum = TASK_READ(btf, p, se.sum_exec_runtime);
	delay = run_delay(p, btf);
	if (TASK_READ(btf, p, on_rq) == TASK_ON_RQ_MIGRATING) {
		from = bpf_map_lookup_percpu_elem(&cpu_run, &zero, src);
		bases = bpf_map_lookup_percpu_elem(&cpu_bases, &zero, src);
		if (!from || !bases)
			return 0;
		if (!base_find(bases, p, pid, sum, delay, &sum_base, &base)) {
			base = delay;
			if (!run_count(p, btf))
				base = 0;
			else
				errors_inc(&cpu_errors, PM_CPU_ERR_WAIT_LOST);
		}
		if (base < delay) {
			from->seq_end++;
			barrier();
			charge_on(from, task_cgid_shared(p, btf), 0, delay - base, src);
			barrier();
			from->seq_begin = from->seq_end;
		}
	}
	bases = bpf_map_lookup_percpu_elem(&cpu_bases, &zero, dest);
	if (bases)
		base_keep(bases, p, pid, sum, delay);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(tp_btf_sched_migrate_task, struct task_struct *p, int dest_cpu)
{
	return handle_migrate(p, dest_cpu, true);
}

SEC("raw_tp/sched_migrate_task")
int BPF_PROG(raw_tp_sched_migrate_task, struct task_struct *p, int dest_cpu)
{
	return handle_migrate(p, dest_cpu, false);
}

struct moved_group {
	__u64 task; /* task_struct moved */
	__s32 tgid; /* with its thread group when not 0 */
	__u32 pad;
};

/*
 * The moved task (or a thread of the moved group) running on @cpu now: its
 * slice so far stays its old cgroup's (close_slice()). Tasks not running
 * start their next slice in the new cgroup.
 */
static long mark_running(__u32 cpu, struct moved_group *g)
{
	struct task_struct *t;
	struct pm_cpu_run *run;
	__u32 zero = 0;

	run = bpf_map_lookup_percpu_elem(&cpu_run, &zero, cpu);
	if (!run || !run->task || !run->pid)
		return 0;
	t = (struct task_struct *)run->task;
	if (run->task != g->task && (!g->tgid || BPF_CORE_READ(t, tgid) != g->tgid))
		return 0;
	run->moved_sum = BPF_CORE_READ(t, se.sum_exec_runtime);
	barrier();
	run->moved_task = (__u64)t;
	return 0;
}

/*
 * Rare: @t (with its thread group when @group) was moved into @dst. The
 * tracepoint names the leader only; whichever of them runs now is found on
 * the CPUs.
 */
static __always_inline int handle_attach(struct cgroup *dst, struct task_struct *t, bool group,
					 const bool btf)
{
	struct moved_group g = { .task = (__u64)t };

	if (BPF_CORE_READ(dst, root, hierarchy_id) != hierarchy_id)
		return 0;
	if (group)
		g.tgid = TASK_READ(btf, t, tgid);
	bpf_loop(nr_cpus, mark_running, &g, 0);
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
static __always_inline int handle_tree(struct cgroup *cgrp, const char *path,
				       enum pm_tree_kind kind)
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
	e->kind = kind;
	e->pad = 0;
	e->path[0] = '\0';
	if (kind != PM_TREE_GONE && bpf_probe_read_kernel_str(e->path, sizeof(e->path), path) < 0)
		e->path[0] = '\0';
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(tp_btf_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, PM_TREE_MADE);
}

SEC("raw_tp/cgroup_mkdir")
int BPF_PROG(raw_tp_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, PM_TREE_MADE);
}

/* a rename is a new path for the same id and every cgroup below it: the walk reads the tree */
SEC("tp_btf/cgroup_rename")
int BPF_PROG(tp_btf_cgroup_rename, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, PM_TREE_RENAMED);
}

SEC("raw_tp/cgroup_rename")
int BPF_PROG(raw_tp_cgroup_rename, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, PM_TREE_RENAMED);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(tp_btf_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, PM_TREE_GONE);
}

SEC("raw_tp/cgroup_rmdir")
int BPF_PROG(raw_tp_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	return handle_tree(cgrp, path, PM_TREE_GONE);
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
