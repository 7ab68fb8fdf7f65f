/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/gpu.bpf.c and agent/signal/gpu.c: fixed-size, __u32/__u64 only. */
#ifndef PODMETER_GPU_H
#define PODMETER_GPU_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Named map sizes. */
#define PM_GPU_MAX_DEVS 64    /* GPU device files tracked (gpu_devs) */
#define PM_GPU_MAX_KEYS 16384 /* (cgroup, device, op) series (gpu_stats) */
#define PM_GPU_MAX_INFLIGHT                                                                        \
	65536			     /* threads inside a GPU ioctl at once (gpu_inflight):
					 * preallocated (kernels < 6.1); else the node's task limit */
#define PM_GPU_MAX_JOB_CGROUPS 16384 /* cgroups queueing DRM scheduler jobs (gpu_jobs) */

/* The kernel's dev_t encoding (MINORBITS = 20), the key of gpu_devs. */
#define PM_GPU_DEVT(major, minor) (((__u32)(major) << 20) | ((__u32)(minor)&0xfffff))

/* Value of gpu_devs: which device, and how its ioctl numbers read. */
struct pm_gpu_dev {
	__u32 index; /* into the agent's device table, < PM_GPU_MAX_DEVS */
	__u32 flags; /* PM_GPU_DEV_* */
};

#define PM_GPU_DEV_NVIDIA 0x1 /* NVIDIA RM escapes: type 'F', nr from nv_escape.h */

/*
 * The op label: classes of NVIDIA RM escapes; everything else is "other".
 * In the order of enum pm_gpu_op (names.h).
 */
enum pm_gpu_ioctl_op {
	PM_GPU_IOCTL_ALLOC = 0,	  /* RM_ALLOC_MEMORY, _OBJECT, RM_ALLOC, RM_ALLOC_CONTEXT_DMA2 */
	PM_GPU_IOCTL_FREE = 1,	  /* RM_FREE */
	PM_GPU_IOCTL_CONTROL = 2, /* RM_CONTROL */
	PM_GPU_IOCTL_MAP = 3,	  /* RM_MAP_MEMORY, RM_MAP_MEMORY_DMA */
	PM_GPU_IOCTL_UNMAP = 4,	  /* RM_UNMAP_MEMORY, RM_UNMAP_MEMORY_DMA */
	PM_GPU_IOCTL_OTHER = 5,
	PM_GPU_IOCTL_OPS,
};

/* NVIDIA's ioctl type and escape numbers (open-gpu-kernel-modules, nv_escape.h). */
#define PM_NV_IOCTL_MAGIC		0x46 /* 'F' */
#define PM_NV_ESC_RM_ALLOC_MEMORY	0x27
#define PM_NV_ESC_RM_ALLOC_OBJECT	0x28
#define PM_NV_ESC_RM_FREE		0x29
#define PM_NV_ESC_RM_CONTROL		0x2A
#define PM_NV_ESC_RM_ALLOC		0x2B
#define PM_NV_ESC_RM_MAP_MEMORY		0x4E
#define PM_NV_ESC_RM_UNMAP_MEMORY	0x4F
#define PM_NV_ESC_RM_ALLOC_CONTEXT_DMA2 0x54
#define PM_NV_ESC_RM_MAP_MEMORY_DMA	0x57
#define PM_NV_ESC_RM_UNMAP_MEMORY_DMA	0x58

/* Key of the per-CPU gpu_stats map. */
struct pm_gpu_key {
	__u64 cgid;
	__u32 hier; /* enum pm_hier (cpu.h) */
	__u32 dev;  /* struct pm_gpu_dev.index */
	__u32 op;   /* enum pm_gpu_ioctl_op */
	__u32 pad;
};

/* Per-CPU value of gpu_stats; user space sums across CPUs. */
struct pm_gpu_val {
	__u64 calls; /* ioctls that returned */
	__u64 ns;    /* time from syscall entry to exit, summed */
};

/* A thread inside a GPU ioctl, keyed by tid in gpu_inflight. */
struct pm_gpu_call {
	__u64 start_ns; /* bpf_ktime_get_ns() at entry */
	__u32 tgid;	/* its process: user space drops entries of threads gone */
	__u32 dev;
	__u32 op;
	__u32 pad;
};

/* Indexes into the gpu_errors per-CPU array; the agent adds its own after them. */
enum pm_gpu_err {
	PM_GPU_ERR_STATS_FULL = 0,    /* gpu_stats insert failed */
	PM_GPU_ERR_INFLIGHT_FULL = 1, /* gpu_inflight insert failed: that call is not counted */
	PM_GPU_ERR_DEVS_FULL = 2,     /* user space: a device found with the table full */
	PM_GPU_ERR_MAX,
};

#define PM_GPU_ERR_BPF 2 /* how many of them the BPF program counts */

#endif /* PODMETER_GPU_H */
