// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Resident memory, page faults and OOM kills per cgroup.
 *
 * rss_stat fires whenever an mm counter moves; the program keeps what each
 * process's address space last counted, with the owner's cgroup, so a pod's
 * resident memory is the sum of its processes' own counters, the ones VmRSS
 * is made of. Address spaces that already exist when the programs are
 * attached are read once by a task iterator (the seed), since rss_stat only
 * reports changes. The table is keyed by process and its entry goes when the
 * process's last thread exits: it never holds more entries than the node
 * has processes, and the agent sizes it, with its spill, from the node's
 * task limit. Faults and OOM kills are flows, summed per cgroup as counted
 * (bpf/tables.bpf.h).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "common.bpf.h"
#include "tables.bpf.h"
#include <podmeter/cpu.h>
#include <podmeter/mem.h>

const volatile bool track_v1 = false;
const volatile __u32 hier = PM_HIER_V2;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PM_MEM_MAX_CGROUPS);
	__type(key, struct pm_cg_key);
	__type(value, struct pm_mem_val);
} mem_events SEC(".maps");

/*
 * Sized and flagged by the agent before load (agent/signal/mem.c). A process
 * has its entry in one of the two: mm_spill only when mm_state was full.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MEM_MAX_MMS);
	__type(key, __u32); /* tgid */
	__type(value, struct pm_mm_state);
} mm_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pm_mm_state);
} mm_spill SEC(".maps");

PM_SPILLS_MAP(mm_spills);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} oom_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_MEM_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} mem_errors SEC(".maps");

PM_REFUSALS_MAP(refusals);
PM_FOLD_MAP(mem_fold);
PM_CHANGED_MAP(mem_changed, struct pm_cg_key);
PM_CHANGED_MAP(mm_changed, __u32); /* mm_state's, by tgid */

/* The cgroup @t is counted in: its own, or its container's. */
static __always_inline __u64 counted_cgid(struct task_struct *t)
{
	struct cgroup *cg = task_cgroup_of(t, track_v1);

	return fold_cgid(&mem_fold, cg, BPF_CORE_READ(cg, kn, id));
}

/*
 * @t's cgroup's stats (*@key: as counted). Its own entry is looked up
 * first: a cgroup only gets one when it is counted as itself, and nearly
 * all are.
 */
static __always_inline struct pm_mem_val *stats_of(struct task_struct *t, struct pm_cg_key *key)
{
	struct cgroup *cg = task_cgroup_of(t, track_v1);
	static const struct pm_mem_val zero;
	struct pm_mem_val *v;

	key->cgid = BPF_CORE_READ(cg, kn, id);
	key->hier = hier;
	key->pad = 0;
	v = bpf_map_lookup_elem(&mem_events, key);
	if (v)
		return v;
	key->cgid = fold_cgid(&mem_fold, cg, key->cgid);
	v = map_lookup_or_init(&mem_events, key, &zero, &mem_errors, PM_MEM_ERR_CGROUP_FULL);
	if (!v)
		refusal_add(&refusals, key->cgid, hier, PM_TABLE_CGROUPS);
	return v;
}

/*
 * The process whose address space @mm is: mm->owner (kept with memory
 * cgroups), else @cand's when @mm is @cand's. NULL while @mm is not the
 * owner's address space: a child's being copied at fork, or one torn down.
 */
static __always_inline struct task_struct *mm_owner_via(struct mm_struct *mm,
							struct task_struct *cand)
{
	struct task_struct *owner = NULL;

	if (bpf_core_field_exists(mm->owner))
		owner = BPF_CORE_READ(mm, owner);
	else if (BPF_CORE_READ(cand, mm) == mm)
		owner = BPF_CORE_READ(cand, group_leader);
	if (!owner || BPF_CORE_READ(owner, mm) != mm)
		return NULL;
	return owner;
}

/* The owner of @mm, a tracepoint's: @mm is current's, or its mm->owner's. */
static __always_inline struct task_struct *mm_owner(struct mm_struct *mm)
{
	return mm_owner_via(mm, (struct task_struct *)bpf_get_current_task());
}

/*
 * The value get_mm_counter() returns, the one VmRSS shows. Not inlined: each
 * layout's relocation must stay behind its own existence check, which an
 * unrolled caller would let the compiler hoist.
 */
static __noinline __s64 mm_counter_pages(struct mm_struct *mm, int member)
{
	struct mm_struct___o *old = (void *)mm;
	__s64 v;

	member &= 3;
	if (bpf_core_field_exists(old->rss_stat.count))
		v = BPF_CORE_READ(old, rss_stat.count[member].counter);
	else
		v = BPF_CORE_READ(mm, rss_stat[member].count);
	return v < 0 ? 0 : v;
}

/* All of an address space's counters, for a new entry. */
static __always_inline void read_all(struct mm_struct *mm, struct pm_mm_state *st)
{
	int k;

	for (k = 0; k < PM_MEM_KINDS; k++)
		st->pages[k] = mm_counter_pages(mm, k);
}

/* @tgid's entry, in mm_state or its spill (*@spilled set). */
static __always_inline struct pm_mm_state *mm_entry(__u32 *tgid, bool *spilled)
{
	struct pm_mm_state *st = bpf_map_lookup_elem(&mm_state, tgid);

	*spilled = false;
	if (st)
		return st;
	st = bpf_map_lookup_elem(&mm_spill, tgid);
	*spilled = st != NULL;
	return st;
}

/*
 * A fresh entry for @owner's address space @mm, every counter read: where
 * the process's entry is (@spilled), else in mm_state, else in the spill.
 */
static __always_inline void mm_fresh(struct mm_struct *mm, struct task_struct *owner, __u32 tgid,
				     bool spilled)
{
	struct pm_mm_state fresh = {};

	fresh.own = task_cgroup_id(owner, track_v1);
	fresh.cgid = counted_cgid(owner);
	fresh.tgid = tgid;
	fresh.mm = (__u64)mm;
	read_all(mm, &fresh);
	if (!spilled && !bpf_map_update_elem(&mm_state, &tgid, &fresh, BPF_ANY)) {
		changed_put_each(mm_changed, &tgid);
		return;
	}
	if (!bpf_map_update_elem(&mm_spill, &tgid, &fresh, BPF_ANY)) {
		errors_inc(&mm_spills, 0);
		return;
	}
	errors_inc(&mem_errors, PM_MEM_ERR_MM_FULL);
	refusal_add(&refusals, fresh.cgid, hier, PM_TABLE_MMS);
}

/* @st follows its owner into another cgroup, should it have moved since. */
static __always_inline void mm_follow(struct pm_mm_state *st, struct task_struct *owner)
{
	__u64 cgid = task_cgroup_id(owner, track_v1);

	if (cgid != st->own) {
		st->own = cgid;
		st->cgid = counted_cgid(owner);
	}
}

/*
 * One entry per process: an entry of another address space (after exec, or
 * a process that reused the pid) starts over with every counter read.
 */
static __always_inline int handle_rss_stat(struct mm_struct *mm, int member)
{
	struct task_struct *owner = mm_owner(mm);
	struct pm_mm_state *st;
	bool spilled;
	__u32 tgid;

	if (member < 0 || member >= PM_MEM_KINDS || !owner)
		return 0;
	tgid = BPF_CORE_READ(owner, tgid);
	st = mm_entry(&tgid, &spilled);
	if (st && st->mm == (__u64)mm) {
		mm_follow(st, owner);
		st->pages[member & (PM_MEM_KINDS - 1)] = mm_counter_pages(mm, member);
		changed_mark(mm_changed, &tgid, &st->seen);
		return 0;
	}
	mm_fresh(mm, owner, tgid, spilled);
	return 0;
}

/*
 * A process is forked: its address space was copied before it had a pid
 * (those counter changes are skipped), so it is counted from here. A child
 * sharing its parent's (vfork) finds the parent's entry.
 */
static __always_inline int handle_fork(struct task_struct *child)
{
	struct mm_struct *mm = BPF_CORE_READ(child, mm);
	struct task_struct *owner;
	struct pm_mm_state *st;
	bool spilled;
	__u32 tgid;

	if (!mm || BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a kernel thread, or a thread */
	owner = mm_owner(mm);
	if (!owner)
		return 0;
	tgid = BPF_CORE_READ(owner, tgid);
	st = mm_entry(&tgid, &spilled);
	if (!st || st->mm != (__u64)mm)
		mm_fresh(mm, owner, tgid, spilled);
	return 0;
}

/* The process's last thread exits: its address space is going. */
static __always_inline int handle_exit(struct task_struct *p)
{
	__u32 tgid;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	tgid = BPF_CORE_READ(p, tgid);
	if (bpf_map_delete_elem(&mm_state, &tgid))
		bpf_map_delete_elem(&mm_spill, &tgid);
	else
		changed_put_each(mm_changed, &tgid);
	return 0;
}

#define PM_PF_KTHREAD 0x00200000 /* include/linux/sched.h */

/*
 * The seed: @t's address space as it stands, for processes that were
 * running before the programs were attached. rss_stat reports changes only,
 * so one idle since would never be counted. Entries hold the counters, not
 * deltas: a change seen afterwards overwrites what was read here, and an
 * entry a pinned table already holds (an agent's restart) is read anew, with
 * whatever changed while no program was attached. One visit per process:
 * its leader's, or a thread's when the leader has exited before the rest.
 * A process moving to another cgroup is read the same way, so an idle one
 * is counted in its new cgroup at once (and one the table had no room for
 * gets another chance).
 */
static __always_inline int handle_seed(struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	struct task_struct *owner;
	struct pm_mm_state *st;
	bool spilled;
	__u32 tgid;

	if (!mm || (BPF_CORE_READ(t, flags) & PM_PF_KTHREAD))
		return 0;
	if (BPF_CORE_READ(t, pid) != BPF_CORE_READ(t, tgid) && BPF_CORE_READ(t, group_leader, mm))
		return 0;
	owner = mm_owner_via(mm, t);
	/* an exiting owner: its exit may have been seen already, leave no entry behind */
	if (!owner || BPF_CORE_READ(owner, signal, live.counter) == 0)
		return 0;
	tgid = BPF_CORE_READ(owner, tgid);
	st = mm_entry(&tgid, &spilled);
	if (st && st->mm == (__u64)mm) {
		mm_follow(st, owner);
		read_all(mm, st);
		changed_put_each(mm_changed, &tgid);
		return 0;
	}
	mm_fresh(mm, owner, tgid, spilled);
	return 0;
}

static __always_inline int handle_fault(void)
{
	struct pm_cg_key key;
	struct pm_mem_val *v = stats_of((struct task_struct *)bpf_get_current_task(), &key);

	if (v) {
		v->faults++;
		changed_mark(mem_changed, &key, &v->seen); /* after the count: bpf/tables.bpf.h */
	}
	return 0;
}

static __always_inline int handle_victim(struct task_struct *t)
{
	__u64 cgid = counted_cgid(t);
	struct pm_cg_key key;
	struct pm_mem_val *v = stats_of(t, &key);
	struct pm_oom_event *e;

	if (v) {
		v->oom_kills++;
		changed_mark(mem_changed, &key, &v->seen);
	}
	e = bpf_ringbuf_reserve(&oom_events, sizeof(*e), 0);
	if (!e) {
		errors_inc(&mem_errors, PM_MEM_ERR_OOM_LOST);
		return 0;
	}
	e->cgid = cgid;
	e->pid = BPF_CORE_READ(t, tgid);
	e->pad = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/rss_stat")
int BPF_PROG(tp_btf_rss_stat, struct mm_struct *mm, int member)
{
	return handle_rss_stat(mm, member);
}

SEC("raw_tp/rss_stat")
int BPF_PROG(raw_tp_rss_stat, struct mm_struct *mm, int member)
{
	return handle_rss_stat(mm, member);
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

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(tp_btf_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *t,
	     bool threadgroup)
{
	return handle_seed(t);
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(raw_tp_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *t,
	     bool threadgroup)
{
	return handle_seed(t);
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(tp_btf_page_fault_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return handle_fault();
}

SEC("raw_tp/page_fault_user")
int BPF_PROG(raw_tp_page_fault_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return handle_fault();
}

SEC("tp_btf/mark_victim")
int BPF_PROG(tp_btf_mark_victim, struct task_struct *t)
{
	return handle_victim(t);
}

SEC("raw_tp/mark_victim")
int BPF_PROG(raw_tp_mark_victim, struct task_struct *t)
{
	return handle_victim(t);
}

/* One byte out per task: the agent reads the walk in bounded batches. */
SEC("iter/task")
int seed_task(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	static const char one = 1;

	if (!t)
		return 0;
	handle_seed(t);
	bpf_seq_write(ctx->meta->seq, &one, sizeof(one));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
