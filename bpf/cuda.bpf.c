// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CUDA driver API use per cgroup, by uprobes on libcuda.so.1: kernel
 * launches, device memory allocated and held, bytes copied, and time spent
 * waiting in synchronize calls.
 *
 * Programs are attached by the agent to each copy of the library it finds
 * mapped (agent/cuda.c), one program to several entry points of the same
 * shape: the _v2 names, the Async twins, the per-thread-stream variants.
 * An allocation's device pointer exists only when the call returns: the
 * entry probe keeps where the driver will write it, the return probe reads
 * it and records the allocation with the cgroup charged, so its free is
 * taken from that cgroup whichever thread frees it.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
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
	__u64 dptr_addr;	/* alloc: where the driver writes the device pointer */
	__u64 pitch_addr;	/* alloc: cuMemAllocPitch's *pPitch; 0 for the others */
	__u64 size;		/* alloc: bytes (or rows, with pitch_addr); sync: start ns */
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

static __always_inline void count_error(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&cuda_errors, &idx);

	if (v)
		*v += 1;
}

static __always_inline __u64 cgid_of(struct task_struct *t)
{
	if (track_v1)
		return task_cpuacct_cgid(t);
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

static __always_inline struct pm_cuda_val *stats_of(__u64 cgid)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = hier };
	static const struct pm_cuda_val zero;
	struct pm_cuda_val *v;

	v = bpf_map_lookup_elem(&cuda_stats, &key);
	if (v)
		return v;
	bpf_map_update_elem(&cuda_stats, &key, &zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&cuda_stats, &key);
	if (!v)
		count_error(PM_CUDA_ERR_CGROUP_FULL);
	return v;
}

static __always_inline struct pm_cuda_val *current_stats(void)
{
	return stats_of(cgid_of((struct task_struct *)bpf_get_current_task()));
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

static __always_inline int alloc_enter(__u64 dptr_addr, __u64 pitch_addr, __u64 size)
{
	struct pending_key key = pending_key_of(PENDING_ALLOC);
	struct pending p = { .dptr_addr = dptr_addr, .pitch_addr = pitch_addr, .size = size };

	bpf_map_update_elem(&cuda_pending, &key, &p, BPF_ANY);
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

	if (!old)
		return;
	v = stats_of(old->cgid);
	if (v)
		v->bytes_held -= old->size;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_alloc, int ret)
{
	struct pending_key pkey = pending_key_of(PENDING_ALLOC);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pm_cuda_alloc_key key = {};
	struct pm_cuda_alloc a = {};
	struct pm_cuda_val *v;
	struct pending *p;
	__u64 size, pitch;

	p = bpf_map_lookup_elem(&cuda_pending, &pkey);
	if (!p) {
		count_error(PM_CUDA_ERR_UNMATCHED);
		return 0;
	}
	size = p->size;
	if (ret != CUDA_SUCCESS)
		goto out_delete;
	if (bpf_probe_read_user(&key.dptr, sizeof(key.dptr), (void *)p->dptr_addr) ||
	    (p->pitch_addr &&
	     bpf_probe_read_user(&pitch, sizeof(pitch), (void *)p->pitch_addr))) {
		count_error(PM_CUDA_ERR_READ);
		goto out_delete;
	}
	if (p->pitch_addr)
		size *= pitch;
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	a.size = size;
	a.cgid = cgid_of(task);
	a.start_time = BPF_CORE_READ(task, group_leader, start_boottime);
	v = stats_of(a.cgid);
	if (!v)
		goto out_delete;
	v->allocs++;
	release_stale(&key);
	if (bpf_map_update_elem(&cuda_allocs, &key, &a, BPF_ANY)) {
		count_error(PM_CUDA_ERR_ALLOC_FULL);
		goto out_delete;
	}
	v->bytes_held += size;
out_delete:
	bpf_map_delete_elem(&cuda_pending, &pkey);
	return 0;
}

/* cuMemFree_v2, cuMemFreeAsync: (CUdeviceptr dptr, ...); only allocations seen count */
SEC("uprobe")
int BPF_KPROBE(uprobe_free, __u64 dptr)
{
	struct pm_cuda_alloc_key key = { .dptr = dptr, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct pm_cuda_alloc *a;
	struct pm_cuda_val *v;

	a = bpf_map_lookup_elem(&cuda_allocs, &key);
	if (!a)
		return 0;
	v = stats_of(a->cgid);
	if (v) {
		v->frees++;
		v->bytes_held -= a->size;
	}
	bpf_map_delete_elem(&cuda_allocs, &key);
	return 0;
}

/* cuCtxSynchronize, cuStreamSynchronize */
SEC("uprobe")
int BPF_KPROBE(uprobe_sync)
{
	struct pending_key key = pending_key_of(PENDING_SYNC);
	struct pending p = { .size = bpf_ktime_get_ns() };

	bpf_map_update_elem(&cuda_pending, &key, &p, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_sync)
{
	struct pending_key key = pending_key_of(PENDING_SYNC);
	struct pm_cuda_val *v;
	struct pending *p;
	__u64 now = bpf_ktime_get_ns();

	p = bpf_map_lookup_elem(&cuda_pending, &key);
	if (!p) {
		count_error(PM_CUDA_ERR_UNMATCHED);
		return 0;
	}
	v = current_stats();
	if (v && now > p->size) {
		v->sync_ns += now - p->size;
		v->sync_calls++;
	}
	bpf_map_delete_elem(&cuda_pending, &key);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
