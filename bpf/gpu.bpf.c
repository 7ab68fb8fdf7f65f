// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ioctl calls on GPU device files per cgroup, device and op: how many, and
 * the time from syscall entry to exit.
 *
 * Hooks: the syscall tracepoints syscalls/sys_{enter,exit}_ioctl first:
 * their programs run for ioctl only (the kernel tests a per-syscall bit
 * before calling into BPF), though with any syscall tracepoint in use every
 * syscall takes the kernel's traced entry path (some tens of ns: see
 * tests/bench/syscall_overhead.sh). They are found through tracefs. Without
 * them, the raw sys_enter/sys_exit tracepoints, whose programs run for every
 * syscall and leave at their first test of the syscall number. Compat
 * (32-bit) syscalls have other numbers and are not counted in either mode.
 *
 * At entry the fd is resolved to its inode's device number, looked up in
 * gpu_devs (filled by the agent); a GPU call leaves {start, device, op} in a
 * per-thread entry that the exit takes and adds to gpu_stats. Every
 * syscall's exit is traced, a killed thread's too: an entry lives while its
 * thread is inside the call, and the agent sizes the table from the node's
 * task limit. Stats are keyed by cgroup as counted (bpf/tables.bpf.h).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "common.bpf.h"
#include "tables.bpf.h"
#include <podmeter/cpu.h>
#include <podmeter/gpu.h>

#define S_IFMT	0170000
#define S_IFCHR 0020000

const volatile bool track_v1 = false;
const volatile __u32 hier = PM_HIER_V2;
const volatile long ioctl_nr = -1; /* __NR_ioctl of the agent's architecture */

/* Set once a counter of gpu_stats or gpu_jobs moved (moved_set()); the agent's read clears it. */
volatile __u32 gpu_moved;

/* Devices in gpu_devs, kept by the agent: 0 lets every ioctl leave at once. */
volatile __u32 ndevs;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_GPU_MAX_DEVS);
	__type(key, __u32); /* kernel dev_t: major << 20 | minor */
	__type(value, struct pm_gpu_dev);
} gpu_devs SEC(".maps");

/* Sized and flagged by the agent before load (agent/signal/gpu.c). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PM_GPU_MAX_INFLIGHT);
	__type(key, __u32); /* tid */
	__type(value, struct pm_gpu_call);
} gpu_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PM_GPU_MAX_KEYS);
	__type(key, struct pm_gpu_key);
	__type(value, struct pm_gpu_val);
} gpu_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_GPU_ERR_BPF);
	__type(key, __u32);
	__type(value, __u64);
} gpu_errors SEC(".maps");

/* Jobs queued to DRM schedulers, per cgroup of the submitting task. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PM_GPU_MAX_JOB_CGROUPS);
	__type(key, struct pm_cg_key);
	__type(value, __u64);
} gpu_jobs SEC(".maps");

PM_REFUSALS_MAP(refusals);
PM_FOLD_MAP(gpu_fold);

/* Where each architecture keeps the syscall number in the user registers. */
struct pt_regs___x86 {
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct pt_regs___arm64 {
	s32 syscallno;
} __attribute__((preserve_access_index));

/* @cgid (current's) as counted: its container's when it lies below one. */
static __always_inline __u64 counted(__u64 cgid)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return fold_cgid(&gpu_fold, task_cgroup_of(t, track_v1), cgid);
}

/*
 * The device number of current's open file @fd when it is a character
 * device, else 0. The task's own fields are plain loads (BTF pointers); the
 * fd array and what it points to need probe reads.
 */
static __always_inline __u32 fd_rdev(__u32 fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = t->files->fdt;
	struct file **fds, *f = NULL;
	struct inode *inode;

	if (!fdt || fd >= fdt->max_fds)
		return 0;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	inode = BPF_CORE_READ(f, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFCHR)
		return 0;
	return BPF_CORE_READ(inode, i_rdev);
}

static __always_inline __u32 op_of(__u32 cmd, __u32 flags)
{
	if (!(flags & PM_GPU_DEV_NVIDIA) || ((cmd >> 8) & 0xff) != PM_NV_IOCTL_MAGIC)
		return PM_GPU_IOCTL_OTHER;
	switch (cmd & 0xff) {
	case PM_NV_ESC_RM_ALLOC_MEMORY:
	case PM_NV_ESC_RM_ALLOC_OBJECT:
	case PM_NV_ESC_RM_ALLOC:
	case PM_NV_ESC_RM_ALLOC_CONTEXT_DMA2:
		return PM_GPU_IOCTL_ALLOC;
	case PM_NV_ESC_RM_FREE:
		return PM_GPU_IOCTL_FREE;
	case PM_NV_ESC_RM_CONTROL:
		return PM_GPU_IOCTL_CONTROL;
	case PM_NV_ESC_RM_MAP_MEMORY:
	case PM_NV_ESC_RM_MAP_MEMORY_DMA:
		return PM_GPU_IOCTL_MAP;
	case PM_NV_ESC_RM_UNMAP_MEMORY:
	case PM_NV_ESC_RM_UNMAP_MEMORY_DMA:
		return PM_GPU_IOCTL_UNMAP;
	default:
		return PM_GPU_IOCTL_OTHER;
	}
}

static __always_inline int handle_enter(__u32 fd, __u32 cmd)
{
	struct pm_gpu_call call = {};
	struct pm_gpu_dev *dev;
	__u64 id;
	__u32 rdev, tid;

	if (!ndevs)
		return 0;
	rdev = fd_rdev(fd);
	if (!rdev)
		return 0;
	dev = bpf_map_lookup_elem(&gpu_devs, &rdev);
	if (!dev)
		return 0;
	id = bpf_get_current_pid_tgid();
	tid = (__u32)id;
	call.tgid = id >> 32;
	call.dev = dev->index;
	call.op = op_of(cmd, dev->flags);
	call.start_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&gpu_inflight, &tid, &call, BPF_ANY)) {
		errors_inc(&gpu_errors, PM_GPU_ERR_INFLIGHT_FULL);
		refusal_add(&refusals, counted(current_cgroup_id(track_v1)), hier,
			    PM_TABLE_GPU_INFLIGHT);
	}
	return 0;
}

static __always_inline int handle_exit(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pm_gpu_key key = { .hier = hier };
	static const struct pm_gpu_val zero;
	struct pm_gpu_call *call;
	struct pm_gpu_val *v;
	__u64 ns;

	call = bpf_map_lookup_elem(&gpu_inflight, &tid);
	if (!call)
		return 0;
	ns = bpf_ktime_get_ns() - call->start_ns;
	key.dev = call->dev;
	key.op = call->op;
	bpf_map_delete_elem(&gpu_inflight, &tid);
	key.cgid = current_cgroup_id(track_v1);
	v = bpf_map_lookup_elem(&gpu_stats, &key);
	if (!v) {
		key.cgid = counted(key.cgid);
		v = bpf_map_lookup_elem(&gpu_stats, &key);
	}
	if (!v)
		v = map_try_init(&gpu_stats, &key, &zero, &gpu_errors, PM_GPU_ERR_STATS_FULL);
	if (!v) {
		refusal_add(&refusals, key.cgid, hier, PM_TABLE_CGROUPS);
		return 0;
	}
	v->calls++;
	v->ns += ns;
	moved_set(&gpu_moved);
	return 0;
}

/*
 * The syscall number at sys_exit, or -1 where this kernel's pt_regs keeps it
 * in no field known here (then gpu_inflight's lookup is the filter). Not
 * inlined: each relocation must stay behind its own existence check.
 */
static __noinline long exit_syscall_nr(struct pt_regs *regs)
{
	struct pt_regs___x86 *x86 = (void *)regs;
	struct pt_regs___arm64 *arm64 = (void *)regs;

	if (bpf_core_field_exists(x86->orig_ax))
		return BPF_CORE_READ(x86, orig_ax);
	if (bpf_core_field_exists(arm64->syscallno))
		return BPF_CORE_READ(arm64, syscallno);
	return -1;
}

SEC("tracepoint/syscalls/sys_enter_ioctl")
int tp_sys_enter_ioctl(struct trace_event_raw_sys_enter *ctx)
{
	return handle_enter(ctx->args[0], ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_ioctl")
int tp_sys_exit_ioctl(struct trace_event_raw_sys_exit *ctx)
{
	return handle_exit();
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_tp_sys_enter, struct pt_regs *regs, long id)
{
	if (id != ioctl_nr)
		return 0;
	return handle_enter(PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs));
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_tp_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = exit_syscall_nr(regs);

	if (nr >= 0 && nr != ioctl_nr)
		return 0;
	return handle_exit();
}

/*
 * gpu_scheduler's job-queued event (drm_sched_job_queue, drm_sched_job on
 * older kernels), fired in drm_sched_entity_push_job() from the driver's
 * submit ioctl: the current task is the submitter. Attached by name from
 * user space when the scheduler is loaded; no field is read, so any layout
 * of the event works.
 */
SEC("tracepoint")
int drm_sched_job(void *ctx)
{
	struct pm_cg_key key = { .cgid = current_cgroup_id(track_v1), .hier = hier };
	static const __u64 zero;
	__u64 *v;

	v = bpf_map_lookup_elem(&gpu_jobs, &key);
	if (!v) {
		key.cgid = counted(key.cgid);
		v = bpf_map_lookup_elem(&gpu_jobs, &key);
	}
	if (!v)
		v = map_try_init(&gpu_jobs, &key, &zero, &gpu_errors, PM_GPU_ERR_STATS_FULL);
	if (!v) {
		refusal_add(&refusals, key.cgid, hier, PM_TABLE_CGROUPS);
		return 0;
	}
	*v += 1;
	moved_set(&gpu_moved);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
