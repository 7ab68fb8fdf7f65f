// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Resident memory, page faults and OOM kills per cgroup.
 *
 * rss_stat fires whenever an mm counter moves; the program keeps what each
 * address space last counted, with its owner and the owner's cgroup, so a
 * pod's resident memory is the sum of its processes' own counters, the ones
 * VmRSS is made of. Faults and OOM kills are flows, summed per cgroup.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_MEM_MAX_MMS);
	__type(key, __u64);
	__type(value, struct pm_mm_state);
} mm_state SEC(".maps");

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

static __always_inline void count_error(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&mem_errors, &idx);

	if (v)
		*v += 1;
}

static __always_inline __u64 cgid_of(struct task_struct *t)
{
	if (track_v1)
		return task_cpuacct_cgid(t);
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

static __always_inline struct pm_mem_val *stats_of(__u64 cgid)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = hier };
	static const struct pm_mem_val zero;
	struct pm_mem_val *v;

	v = bpf_map_lookup_elem(&mem_events, &key);
	if (v)
		return v;
	bpf_map_update_elem(&mem_events, &key, &zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&mem_events, &key);
	if (!v)
		count_error(PM_MEM_ERR_CGROUP_FULL);
	return v;
}

/* The address space's owner: current when it is current's, else mm->owner. */
static __always_inline struct task_struct *mm_owner(struct mm_struct *mm)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();

	if (BPF_CORE_READ(cur, mm) == mm)
		return BPF_CORE_READ(cur, group_leader);
	if (bpf_core_field_exists(mm->owner))
		return BPF_CORE_READ(mm, owner);
	return NULL;
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

/*
 * mm_structs are reused by address: an entry whose owner is not this mm's
 * owner is a dead address space's, and starts over.
 */
static __always_inline int handle_rss_stat(struct mm_struct *mm, int member)
{
	struct task_struct *owner = mm_owner(mm);
	struct pm_mm_state fresh = {}, *st;
	__u64 key = (__u64)mm;
	__u32 tgid;

	if (member < 0 || member >= PM_MEM_KINDS || !owner)
		return 0;
	tgid = BPF_CORE_READ(owner, tgid);
	st = bpf_map_lookup_elem(&mm_state, &key);
	if (st && st->tgid == tgid) {
		/* the owner may have moved to another cgroup since */
		st->cgid = cgid_of(owner);
		st->pages[member & (PM_MEM_KINDS - 1)] = mm_counter_pages(mm, member);
		return 0;
	}
	fresh.cgid = cgid_of(owner);
	fresh.tgid = tgid;
	fresh.start_time = BPF_CORE_READ(owner, start_boottime);
	read_all(mm, &fresh);
	if (bpf_map_update_elem(&mm_state, &key, &fresh, BPF_ANY) == -7 /* E2BIG */)
		count_error(PM_MEM_ERR_MM_FULL);
	return 0;
}

static __always_inline int handle_fault(void)
{
	struct pm_mem_val *v = stats_of(cgid_of((struct task_struct *)bpf_get_current_task()));

	if (v)
		v->faults++;
	return 0;
}

static __always_inline int handle_victim(struct task_struct *t)
{
	__u64 cgid = cgid_of(t);
	struct pm_mem_val *v = stats_of(cgid);
	struct pm_oom_event *e;

	if (v)
		v->oom_kills++;
	e = bpf_ringbuf_reserve(&oom_events, sizeof(*e), 0);
	if (!e) {
		count_error(PM_MEM_ERR_OOM_LOST);
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
