// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process lifecycle per cgroup: starts and execs (counters), and processes
 * that have exited but are not freed, for zombie detection: an entry from
 * the moment the last thread of a process exits until the task is freed
 * (after its parent reaps it). The agent calls one a zombie after a grace
 * period. The exited table is keyed by pid, and an exited process holds its
 * pid until it is freed: it never holds more entries than the node has
 * pids in use, and the agent sizes it from the node's task limit.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "common.bpf.h"
#include "tables.bpf.h"
#include <podmeter/cpu.h>
#include <podmeter/proc.h>

const volatile bool track_v1 = false;
const volatile __u32 hier = PM_HIER_V2;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PM_PROC_MAX_CGROUPS);
	__type(key, struct pm_cg_key);
	__type(value, struct pm_proc_val);
} proc_stats SEC(".maps");

/*
 * Sized and flagged by the agent before load (agent/signal/proc.c); the
 * spill takes exits while exited is full (bpf/tables.bpf.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_PROC_MAX_EXITED);
	__type(key, __u32);
	__type(value, struct pm_exited);
} exited SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_exited);
} exited_spill SEC(".maps");

PM_SPILLS_MAP(exited_spills);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_PROC_ERR_KERNEL);
	__type(key, __u32);
	__type(value, __u64);
} proc_errors SEC(".maps");

PM_REFUSALS_MAP(refusals);
PM_FOLD_MAP(proc_fold);
PM_CHANGED_MAP(proc_changed, struct pm_cg_key);

/* @t's cgroup's stats, as counted (*@key): its own entry first (bpf/tables.bpf.h). */
static __always_inline struct pm_proc_val *stats_of(struct task_struct *t, struct pm_cg_key *key)
{
	struct cgroup *cg = task_cgroup_of(t, track_v1);
	static const struct pm_proc_val zero;
	struct pm_proc_val *v;

	key->cgid = BPF_CORE_READ(cg, kn, id);
	key->hier = hier;
	key->pad = 0;
	v = bpf_map_lookup_elem(&proc_stats, key);
	if (v)
		return v;
	key->cgid = fold_cgid(&proc_fold, cg, key->cgid);
	v = map_lookup_or_init(&proc_stats, key, &zero, &proc_errors, PM_PROC_ERR_CGROUP_FULL);
	if (!v)
		refusal_add(&refusals, key->cgid, hier, PM_TABLE_CGROUPS);
	return v;
}

/*
 * One more @field in @t's cgroup, which then goes in the changed set (after
 * the count: see bpf/tables.bpf.h; events are rare here, so at each one).
 */
#define count_event(t, field)                                                                      \
	do {                                                                                       \
		struct pm_cg_key key_;                                                             \
		struct pm_proc_val *v_ = stats_of(t, &key_);                                       \
                                                                                                   \
		if (v_) {                                                                          \
			v_->field++;                                                               \
			changed_put_each(proc_changed, &key_);                                     \
		}                                                                                  \
	} while (0)

static __always_inline bool is_leader(struct task_struct *t)
{
	return BPF_CORE_READ(t, pid) == BPF_CORE_READ(t, tgid);
}

static __always_inline int handle_fork(struct task_struct *child)
{
	if (!is_leader(child))
		return 0; /* a thread, not a process */
	count_event(child, starts);
	return 0;
}

static __always_inline int handle_exec(struct task_struct *p)
{
	count_event(p, execs);
	return 0;
}

/* signal->live reaches 0 when the last thread exits (before this tracepoint). */
static __always_inline int handle_exit(struct task_struct *p)
{
	struct task_struct *parent;
	struct pm_exited e = {};
	__u32 tgid;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	count_event(p, exits);
	tgid = BPF_CORE_READ(p, tgid);
	parent = BPF_CORE_READ(p, real_parent);
	e.ts = bpf_ktime_get_ns();
	e.cgid = fold_cgid(&proc_fold, task_cgroup_of(p, track_v1), task_cgroup_id(p, track_v1));
	e.ppid = BPF_CORE_READ(parent, tgid);
	e.start_ns = BPF_CORE_READ(p, group_leader, start_boottime);
	BPF_CORE_READ_STR_INTO(&e.comm, p, comm);
	BPF_CORE_READ_STR_INTO(&e.parent_comm, parent, comm);
	if (!bpf_map_update_elem(&exited, &tgid, &e, BPF_ANY))
		return 0;
	if (!bpf_map_update_elem(&exited_spill, &tgid, &e, BPF_ANY)) {
		errors_inc(&exited_spills, 0);
		return 0;
	}
	errors_inc(&proc_errors, PM_PROC_ERR_EXITED_FULL);
	refusal_add(&refusals, e.cgid, hier, PM_TABLE_EXITED);
	return 0;
}

/*
 * Only the entry this process made: its pid was freed at release, before
 * this runs, and a new process may already hold it (and have exited).
 */
static __always_inline int handle_free(struct task_struct *p)
{
	struct pm_exited *e;
	__u64 start;
	__u32 tgid;

	if (!is_leader(p))
		return 0;
	tgid = BPF_CORE_READ(p, tgid);
	start = BPF_CORE_READ(p, start_boottime);
	e = bpf_map_lookup_elem(&exited, &tgid);
	if (e && e->start_ns == start) {
		bpf_map_delete_elem(&exited, &tgid);
		return 0;
	}
	e = bpf_map_lookup_elem(&exited_spill, &tgid);
	if (e && e->start_ns == start)
		bpf_map_delete_elem(&exited_spill, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_btf_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(child);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(raw_tp_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(child);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tp_btf_sched_process_exec, struct task_struct *p)
{
	return handle_exec(p);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(raw_tp_sched_process_exec, struct task_struct *p)
{
	return handle_exec(p);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tp_btf_sched_process_exit, struct task_struct *p)
{
	return handle_exit(p);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(raw_tp_sched_process_exit, struct task_struct *p)
{
	return handle_exit(p);
}

/* after the move: the task's cgroup is the one it joined (in the counted hierarchy) */
static __always_inline int handle_join(struct task_struct *t)
{
	count_event(t, joins);
	return 0;
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(tp_btf_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *t,
	     bool threadgroup)
{
	return handle_join(t);
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(raw_tp_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *t,
	     bool threadgroup)
{
	return handle_join(t);
}

SEC("tp_btf/sched_process_free")
int BPF_PROG(tp_btf_sched_process_free, struct task_struct *p)
{
	return handle_free(p);
}

SEC("raw_tp/sched_process_free")
int BPF_PROG(raw_tp_sched_process_free, struct task_struct *p)
{
	return handle_free(p);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
