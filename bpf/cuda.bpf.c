// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CUDA driver API use per cgroup, by uprobes on libcuda.so.1: kernel
 * launches, device memory allocated and held, bytes copied, and time spent
 * waiting in synchronize calls.
 *
 * Programs are attached by the agent to each copy of the library it finds
 * mapped (agent/signal/cuda.c), one program to several entry points of the same
 * shape: the _v2 names, the Async twins, the per-thread-stream variants.
 * An allocation's device pointer exists only when the call returns: the
 * entry probe keeps where the driver will write it, the return probe reads
 * it and records the allocation with the cgroup charged, so its free is
 * taken from that cgroup whichever thread frees it.
 *
 * Any process can map a file named libcuda and call into it, as often as it
 * likes: each cgroup (as counted, bpf/tables.bpf.h) may hold a sixteenth of
 * the allocation table and of the table of calls in progress
 * (struct pm_cuda_quota). A cgroup at its share has its entries counted
 * again, those of dead owners dropped (at most once a second, kernels with
 * bpf_for_each_map_elem); what is still over the share is refused and
 * counted for the cgroup: an allocation refused is not held, a call refused
 * is not timed.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "common.bpf.h"
#include "tables.bpf.h"
#include <podmeter/cpu.h>
#include <podmeter/cuda.h>

#define CUDA_SUCCESS 0

const volatile bool track_v1 = false;
const volatile __u32 hier = PM_HIER_V2;

/* Which call a thread is inside: a thread is in one of each at most. */
enum pending_call {
	PENDING_ALLOC = 0,
	PENDING_SYNC = 1,
};

struct pending_key {
	__u32 tid;
	__u32 call;
};

struct pending {
	__u64 dptr_addr;  /* alloc: where the driver writes the device pointer */
	__u64 pitch_addr; /* alloc: cuMemAllocPitch's *pPitch; 0 for the others */
	__u64 size;	  /* alloc: bytes (or rows, with pitch_addr); sync: start ns */
	__u64 cgid;	  /* cgroup whose share it takes */
	__u64 task;	  /* the thread, and its start: a killed one's entry is dropped */
	__u64 start_time;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PM_CUDA_MAX_CGROUPS);
	__type(key, struct pm_cg_key);
	__type(value, struct pm_cuda_val);
} cuda_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_CUDA_MAX_ALLOCS);
	__type(key, struct pm_cuda_alloc_key);
	__type(value, struct pm_cuda_alloc);
} cuda_allocs SEC(".maps");

/* LRU: a thread killed inside a call never returns; its entry ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_CUDA_MAX_PENDING);
	__type(key, struct pending_key);
	__type(value, struct pending);
} cuda_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_CUDA_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} cuda_errors SEC(".maps");

/* LRU: a cgroup gone long ago leaves room; a live one is used and stays. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PM_CUDA_MAX_QUOTAS);
	__type(key, struct pm_cg_key);
	__type(value, struct pm_cuda_quota);
} cuda_quota SEC(".maps");

PM_REFUSALS_MAP(refusals);
PM_FOLD_MAP(cuda_fold);

#define RECOUNT_NS 1000000000ULL /* a cgroup at its share is counted again at most this often */

/* The stats of @cgid, as counted already (an allocation's). */
static __always_inline struct pm_cuda_val *stats_of(__u64 cgid)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = hier };
	static const struct pm_cuda_val zero;
	struct pm_cuda_val *v;

	v = map_lookup_or_init(&cuda_stats, &key, &zero, &cuda_errors, PM_CUDA_ERR_CGROUP_FULL);
	if (!v)
		refusal_add(&refusals, cgid, hier, PM_TABLE_CGROUPS);
	return v;
}

/* The cgroup current is counted in: its own, or its container's. */
static __always_inline __u64 current_cgid(void)
{
	struct cgroup *cg = current_cgroup_of(track_v1);

	return fold_cgid(&cuda_fold, cg, BPF_CORE_READ(cg, kn, id));
}

/* Current's stats: the cgroup's own entry first (nearly every cgroup is counted as itself). */
static __always_inline struct pm_cuda_val *current_stats(void)
{
	struct cgroup *cg = current_cgroup_of(track_v1);
	struct pm_cg_key key = { .cgid = BPF_CORE_READ(cg, kn, id), .hier = hier };
	struct pm_cuda_val *v = bpf_map_lookup_elem(&cuda_stats, &key);

	return v ? v : stats_of(fold_cgid(&cuda_fold, cg, key.cgid));
}

/* ---- shares ---- */

struct recount {
	__u64 cgid;
	__s64 live;
	__s64 released; /* bytes of dead owners' allocations dropped */
};

/* @task (started at @start) has not exited: a freed task_struct reads another start. */
static __always_inline bool task_alive(__u64 task, __u64 start, bool process)
{
	struct task_struct *t = (void *)task;

	if (!t || BPF_CORE_READ(t, start_boottime) != start)
		return false;
	return process ? BPF_CORE_READ(t, signal, live.counter) > 0 : !BPF_CORE_READ(t, exit_state);
}

static long recount_alloc(struct bpf_map *map, struct pm_cuda_alloc_key *key,
			  struct pm_cuda_alloc *a, struct recount *rc)
{
	__u64 size = a->size;

	if (a->cgid != rc->cgid)
		return 0;
	if (task_alive(a->task, a->start_time, true))
		rc->live++;
	else if (!bpf_map_delete_elem(map, key))
		rc->released += size;
	return 0;
}

static long recount_pending(struct bpf_map *map, struct pending_key *key, struct pending *p,
			    struct recount *rc)
{
	if (p->cgid != rc->cgid)
		return 0;
	if (task_alive(p->task, p->start_time, false))
		rc->live++;
	else
		bpf_map_delete_elem(map, key);
	return 0;
}

/*
 * Count @cgid's entries again: user space drops dead processes'
 * allocations without touching the count, and a killed thread leaves its
 * call behind. Not inlined: the walk is rare and long.
 */
static __noinline void recount(struct pm_cuda_quota *q, __u64 cgid, bool allocs)
{
	struct recount rc = { .cgid = cgid };
	__u64 now = bpf_ktime_get_ns();
	struct pm_cuda_val *v;

	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_for_each_map_elem) ||
	    now - q->recount_ns < RECOUNT_NS)
		return;
	q->recount_ns = now;
	if (allocs) {
		bpf_for_each_map_elem(&cuda_allocs, recount_alloc, &rc, 0);
		q->allocs = rc.live;
		v = rc.released ? stats_of(cgid) : NULL;
		if (v)
			v->bytes_held -= rc.released;
	} else {
		bpf_for_each_map_elem(&cuda_pending, recount_pending, &rc, 0);
		q->pending = rc.live;
	}
}

static __always_inline struct pm_cuda_quota *quota_of(__u64 cgid)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = hier };
	static const struct pm_cuda_quota zero;

	return map_lookup_or_init(&cuda_quota, &key, &zero, NULL, 0);
}

/* One more entry for @cgid, within its share; refused ones are counted. */
static __always_inline bool quota_take(__u64 cgid, bool allocs)
{
	struct pm_cuda_quota *q = quota_of(cgid);
	__s64 share = allocs ? PM_CUDA_ALLOCS_PER_CGROUP : PM_CUDA_PENDING_PER_CGROUP;

	if (!q)
		return true; /* no room to keep a count: the table itself still bounds it */
	if ((allocs ? q->allocs : q->pending) >= share) {
		recount(q, cgid, allocs);
		if ((allocs ? q->allocs : q->pending) >= share) {
			errors_inc(&cuda_errors, allocs ? PM_CUDA_ERR_ALLOC_REFUSED
							: PM_CUDA_ERR_PENDING_REFUSED);
			refusal_add(&refusals, cgid, hier,
				    allocs ? PM_TABLE_CUDA_ALLOCS : PM_TABLE_CUDA_PENDING);
			return false;
		}
	}
	if (allocs)
		__sync_fetch_and_add(&q->allocs, 1);
	else
		__sync_fetch_and_add(&q->pending, 1);
	return true;
}

static __always_inline void quota_give(__u64 cgid, bool allocs)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = hier };
	struct pm_cuda_quota *q = bpf_map_lookup_elem(&cuda_quota, &key);

	if (!q)
		return;
	if (allocs)
		__sync_fetch_and_add(&q->allocs, -1);
	else
		__sync_fetch_and_add(&q->pending, -1);
}

static __always_inline struct pending_key pending_key_of(__u32 call)
{
	struct pending_key key = { .tid = (__u32)bpf_get_current_pid_tgid(), .call = call };

	return key;
}

/* cuLaunchKernel, cuLaunchKernelEx, cuLaunchCooperativeKernel and their _ptsz twins */
SEC("uprobe")
int BPF_KPROBE(uprobe_launch)
{
	struct pm_cuda_val *v = current_stats();

	if (v)
		v->launches++;
	return 0;
}

/* cuMemcpy*(dst, src, ByteCount, ...): every variant has the byte count third */
SEC("uprobe")
int BPF_KPROBE(uprobe_memcpy, __u64 dst, __u64 src, __u64 bytes)
{
	struct pm_cuda_val *v = current_stats();

	if (v)
		v->bytes_copied += bytes;
	return 0;
}

/*
 * Current thread enters a call of @call: its entry takes a place of its
 * cgroup's share. An entry already under the key is this thread's (or a
 * dead thread's with its tid) from a call that never returned: replaced.
 */
static __always_inline void pending_enter(__u32 call, struct pending *p)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct pending_key key = pending_key_of(call);
	struct pending *old = bpf_map_lookup_elem(&cuda_pending, &key);

	p->cgid = current_cgid();
	p->task = (__u64)t;
	p->start_time = BPF_CORE_READ(t, start_boottime);
	if (old) {
		if (old->cgid != p->cgid) {
			quota_give(old->cgid, false);
			if (!quota_take(p->cgid, false)) {
				bpf_map_delete_elem(&cuda_pending, &key);
				return;
			}
		}
		*old = *p;
		return;
	}
	if (!quota_take(p->cgid, false))
		return;
	if (bpf_map_update_elem(&cuda_pending, &key, p, BPF_NOEXIST))
		quota_give(p->cgid, false);
}

/* The call returned: its entry, taken out of the table and its cgroup's share. */
static __always_inline bool pending_exit(__u32 call, struct pending *out)
{
	struct pending_key key = pending_key_of(call);
	struct pending *p = bpf_map_lookup_elem(&cuda_pending, &key);

	if (!p) {
		errors_inc(&cuda_errors, PM_CUDA_ERR_UNMATCHED);
		return false;
	}
	*out = *p;
	if (bpf_map_delete_elem(&cuda_pending, &key))
		return false; /* dropped as a dead thread's meanwhile */
	quota_give(out->cgid, false);
	return true;
}

static __always_inline int alloc_enter(__u64 dptr_addr, __u64 pitch_addr, __u64 size)
{
	struct pending p = { .dptr_addr = dptr_addr, .pitch_addr = pitch_addr, .size = size };

	pending_enter(PENDING_ALLOC, &p);
	return 0;
}

/* cuMemAlloc_v2, cuMemAllocManaged, cuMemAllocAsync: (CUdeviceptr *dptr, size_t bytesize, ...) */
SEC("uprobe")
int BPF_KPROBE(uprobe_alloc, __u64 dptr_addr, __u64 bytes)
{
	return alloc_enter(dptr_addr, 0, bytes);
}

/* cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height, ...) */
SEC("uprobe")
int BPF_KPROBE(uprobe_alloc_pitch, __u64 dptr_addr, __u64 pitch_addr, __u64 width, __u64 height)
{
	return alloc_enter(dptr_addr, pitch_addr, height);
}

/*
 * The driver does not hand out an address still in use: an entry already
 * under this key is an allocation whose free was not seen (its process died
 * and the pid was reused, or it was freed by a call not probed). Release it.
 */
static __always_inline void release_stale(const struct pm_cuda_alloc_key *key)
{
	struct pm_cuda_alloc *old = bpf_map_lookup_elem(&cuda_allocs, key);
	struct pm_cuda_val *v;
	__u64 cgid, size;

	if (!old)
		return;
	cgid = old->cgid;
	size = old->size;
	if (bpf_map_delete_elem(&cuda_allocs, key))
		return;
	v = stats_of(cgid);
	if (v)
		v->bytes_held -= size;
	quota_give(cgid, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_alloc, int ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pm_cuda_alloc_key key = {};
	struct pm_cuda_alloc a = {};
	struct pm_cuda_val *v;
	struct pending p;
	__u64 size, pitch;

	if (!pending_exit(PENDING_ALLOC, &p))
		return 0;
	size = p.size;
	if (ret != CUDA_SUCCESS)
		return 0;
	if (bpf_probe_read_user(&key.dptr, sizeof(key.dptr), (void *)p.dptr_addr) ||
	    (p.pitch_addr && bpf_probe_read_user(&pitch, sizeof(pitch), (void *)p.pitch_addr))) {
		errors_inc(&cuda_errors, PM_CUDA_ERR_READ);
		return 0;
	}
	if (p.pitch_addr)
		size *= pitch;
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	a.size = size;
	a.cgid = p.cgid;
	a.task = (__u64)BPF_CORE_READ(task, group_leader);
	a.start_time = BPF_CORE_READ(task, group_leader, start_boottime);
	v = stats_of(a.cgid);
	if (!v)
		return 0;
	v->allocs++;
	release_stale(&key);
	if (!quota_take(a.cgid, true))
		return 0; /* over its share: allocated, not held */
	if (bpf_map_update_elem(&cuda_allocs, &key, &a, BPF_NOEXIST)) {
		quota_give(a.cgid, true);
		errors_inc(&cuda_errors, PM_CUDA_ERR_ALLOC_FULL);
		refusal_add(&refusals, a.cgid, hier, PM_TABLE_CUDA_ALLOCS);
		return 0;
	}
	v->bytes_held += size;
	return 0;
}

/* cuMemFree_v2, cuMemFreeAsync: (CUdeviceptr dptr, ...); only allocations seen count */
SEC("uprobe")
int BPF_KPROBE(uprobe_free, __u64 dptr)
{
	struct pm_cuda_alloc_key key = { .dptr = dptr, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct pm_cuda_alloc *a;
	struct pm_cuda_val *v;
	__u64 cgid, size;

	a = bpf_map_lookup_elem(&cuda_allocs, &key);
	if (!a)
		return 0;
	cgid = a->cgid;
	size = a->size;
	/* whoever deletes it (a free, a recount, user space) releases its bytes */
	if (bpf_map_delete_elem(&cuda_allocs, &key))
		return 0;
	v = stats_of(cgid);
	if (v) {
		v->frees++;
		v->bytes_held -= size;
	}
	quota_give(cgid, true);
	return 0;
}

/* cuCtxSynchronize, cuStreamSynchronize */
SEC("uprobe")
int BPF_KPROBE(uprobe_sync)
{
	struct pending p = { .size = bpf_ktime_get_ns() };

	pending_enter(PENDING_SYNC, &p);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_sync)
{
	__u64 now = bpf_ktime_get_ns();
	struct pm_cuda_val *v;
	struct pending p;

	if (!pending_exit(PENDING_SYNC, &p))
		return 0;
	v = stats_of(p.cgid);
	if (v && now > p.size) {
		v->sync_ns += now - p.size;
		v->sync_calls++;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
