// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * On-CPU time and run-queue wait per cgroup, aggregated in the kernel.
 *
 * sched_switch closes the slice of the task leaving the CPU and charges it to
 * the cgroup recorded when that task came on. A slice is measured as the
 * growth of the task's se.sum_exec_runtime, the very clock the kernel's own
 * cpuacct and cpu.stat are charged from: wall time would also count the time
 * a hypervisor stole and interrupts took. sched_wakeup (and a preempted
 * task going back to its run queue) starts a run-queue wait that the next
 * switch-in of that task ends. Nothing is sent to user space per event.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include <podmeter/cpu.h>

#define TASK_RUNNING 0
#define E2BIG 7

/* Set by the agent before load. */
const volatile bool track_v2 = true;
const volatile bool track_v1 = false;

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

/* pid -> ktime when it became runnable */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_CPU_MAX_WAKEUPS);
	__type(key, __u32);
	__type(value, __u64);
} wakeups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_CPU_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} cpu_errors SEC(".maps");

static __always_inline void count_error(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&cpu_errors, &idx);

	if (v)
		*v += 1;
}

static __always_inline struct pm_cpu_val *stats_of(__u64 cgid, __u32 hier)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = hier };
	static const struct pm_cpu_val zero;
	struct pm_cpu_val *v;

	v = bpf_map_lookup_elem(&cpu_stats, &key);
	if (v)
		return v;
	/* EEXIST from a racing insert on another CPU is fine: look up again. */
	bpf_map_update_elem(&cpu_stats, &key, &zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&cpu_stats, &key);
	if (!v)
		count_error(PM_CPU_ERR_CGROUP_FULL);
	return v;
}

static __always_inline void charge(__u64 cg_v2, __u64 cg_v1, __u64 oncpu, __u64 runq, __u64 in)
{
	struct pm_cpu_val *v;

	if (track_v2 && cg_v2) {
		v = stats_of(cg_v2, PM_HIER_V2);
		if (v) {
			v->oncpu_ns += oncpu;
			v->runq_ns += runq;
			v->switches_in += in;
		}
	}
	if (track_v1 && cg_v1) {
		v = stats_of(cg_v1, PM_HIER_V1_CPUACCT);
		if (v) {
			v->oncpu_ns += oncpu;
			v->runq_ns += runq;
			v->switches_in += in;
		}
	}
}

static __always_inline void mark_runnable(__u32 pid, __u64 now)
{
	if (!pid)
		return;
	/* Keep the first wakeup: a second one of a task already queued is not a new wait. */
	if (bpf_map_update_elem(&wakeups, &pid, &now, BPF_NOEXIST) == -E2BIG)
		count_error(PM_CPU_ERR_WAKEUP_FULL);
}

static __always_inline int handle_wakeup(struct task_struct *p)
{
	mark_runnable(BPF_CORE_READ(p, pid), bpf_ktime_get_ns());
	return 0;
}

static __always_inline int handle_switch(bool preempt, struct task_struct *prev,
					 struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0, next_pid;
	struct pm_cpu_run *run;
	__u64 runq = 0, *ts;

	run = bpf_map_lookup_elem(&cpu_run, &zero);
	if (!run)
		return 0;

	/* Close the slice of prev, charged to the cgroup it had on switch-in. */
	if (run->pid && run->start_ns && run->pid == BPF_CORE_READ(prev, pid)) {
		__u64 sum = BPF_CORE_READ(prev, se.sum_exec_runtime);

		if (sum > run->sum_start)
			charge(run->cg_v2, run->cg_v1, sum - run->sum_start, 0, 0);
	}

	/*
	 * A preempted task stays on its run queue, even one preempted on its
	 * way to sleep: its run-queue wait starts now.
	 */
	if (preempt || get_task_state(prev) == TASK_RUNNING)
		mark_runnable(BPF_CORE_READ(prev, pid), now);

	next_pid = BPF_CORE_READ(next, pid);
	run->start_ns = now;
	run->sum_start = BPF_CORE_READ(next, se.sum_exec_runtime);
	run->pid = next_pid;
	if (!next_pid) {
		run->cg_v2 = 0;
		run->cg_v1 = 0;
		return 0;
	}
	run->cg_v2 = track_v2 ? get_task_dfl_cgid(next) : 0;
	run->cg_v1 = track_v1 ? get_task_cpuacct_cgid(next) : 0;

	ts = bpf_map_lookup_elem(&wakeups, &next_pid);
	if (ts) {
		if (now > *ts)
			runq = now - *ts;
		bpf_map_delete_elem(&wakeups, &next_pid);
	}
	charge(run->cg_v2, run->cg_v1, 0, runq, 1);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return handle_switch(preempt, prev, next);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(tp_btf_sched_wakeup, struct task_struct *p)
{
	return handle_wakeup(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(tp_btf_sched_wakeup_new, struct task_struct *p)
{
	return handle_wakeup(p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(raw_tp_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return handle_switch(preempt, prev, next);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(raw_tp_sched_wakeup, struct task_struct *p)
{
	return handle_wakeup(p);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(raw_tp_sched_wakeup_new, struct task_struct *p)
{
	return handle_wakeup(p);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
