/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/cuda.bpf.c and agent/signal/cuda.c: fixed-size, __u32/__u64 only. */
#ifndef PODMETER_CUDA_H
#define PODMETER_CUDA_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Named map sizes. */
#define PM_CUDA_MAX_CGROUPS 16384
#define PM_CUDA_MAX_ALLOCS  262144 /* live device allocations, node-wide */
#define PM_CUDA_MAX_PENDING 16384  /* threads inside an allocation or a sync call */
#define PM_CUDA_MAX_QUOTAS  4096   /* cgroups using CUDA at once (an LRU) */
/*
 * What one cgroup (a container: cgroups below it count in it) may hold of
 * each: a sixteenth, so a pod filling its share leaves the tables to the
 * others. Real processes hold hundreds to a few thousand allocations
 * (caching allocators take large segments).
 */
#define PM_CUDA_ALLOCS_PER_CGROUP  (PM_CUDA_MAX_ALLOCS / 16)
#define PM_CUDA_PENDING_PER_CGROUP (PM_CUDA_MAX_PENDING / 16)

/*
 * Per-CPU value of cuda_stats, keyed by struct pm_cg_key (cpu.h); user space
 * sums across CPUs. An allocation and its free may run on different CPUs:
 * bytes_held is a signed delta per CPU whose sum is what the cgroup holds.
 */
struct pm_cuda_val {
	__u64 launches;	    /* kernel launches */
	__u64 allocs;	    /* successful device allocations */
	__u64 frees;	    /* frees of allocations seen */
	__s64 bytes_held;   /* device memory allocated and not freed */
	__u64 bytes_copied; /* bytes asked of cuMemcpy* */
	__u64 sync_ns;	    /* time host threads waited in synchronize calls */
	__u64 sync_calls;
};

/* A live device allocation, keyed by the process and the device pointer. */
struct pm_cuda_alloc_key {
	__u64 dptr;
	__u32 tgid;
	__u32 pad;
};

struct pm_cuda_alloc {
	__u64 size;
	__u64 cgid;	  /* cgroup charged: frees are taken from it */
	__u64 start_time; /* owner's start_boottime (ns): against pid reuse */
	__u64 task;	  /* owner's group leader: the kernel drops a dead owner's first */
};

/*
 * Per cgroup charged (struct pm_cg_key): entries it holds in cuda_allocs and
 * cuda_pending, checked before an insert and changed atomically by the
 * programs. User space deleting allocations of dead processes does not
 * change them: a cgroup at its share has the kernel count again (at most
 * once a second), dropping dead owners' entries on the way.
 */
struct pm_cuda_quota {
	__s64 allocs;
	__s64 pending;
	__u64 recount_ns; /* last recount, bpf_ktime_get_ns() */
};

enum pm_cuda_err {
	PM_CUDA_ERR_CGROUP_FULL = 0,	 /* cuda_stats insert failed */
	PM_CUDA_ERR_ALLOC_FULL = 1,	 /* allocation table full: its bytes are not held */
	PM_CUDA_ERR_READ = 2,		 /* the returned device pointer could not be read */
	PM_CUDA_ERR_UNMATCHED = 3,	 /* a return without its entry (pending table full) */
	PM_CUDA_ERR_ALLOC_REFUSED = 4,	 /* an allocation over its cgroup's share: not held */
	PM_CUDA_ERR_PENDING_REFUSED = 5, /* a call over its cgroup's share: not timed */
	PM_CUDA_ERR_MAX,
};

/*
 * Why a libcuda file a pod maps was not probed (user space; labels in
 * names__cuda_refusal). The file reasons follow enum pm_podfile_err.
 */
enum pm_cuda_refusal {
	PM_CUDA_REFUSE_FILE = 0,	/* + enum pm_podfile_err: opening it was refused */
	PM_CUDA_REFUSE_ESCAPE = 2,	/* a symlink at the end, or out of the pod's root */
	PM_CUDA_REFUSE_NOT_REGULAR = 3, /* a FIFO, a device, a socket, a directory */
	PM_CUDA_REFUSE_OTHER_FILE = 4,	/* not the file the mapping names */
	PM_CUDA_REFUSE_TOO_BIG = 5,
	PM_CUDA_REFUSE_DENIED = 6,  /* no permission */
	PM_CUDA_REFUSE_BAD_ELF = 7, /* malformed, or over elfsym's bounds */
	PM_CUDA_REFUSE_NO_SYMBOLS,  /* defines no driver API entry point */
	PM_CUDA_REFUSE_ATTACH,	    /* the kernel refused every probe */
	PM_CUDA_REFUSE_POD_SHARE,   /* its pod brought its share of the table already */
	PM_CUDA_REFUSE_TABLE_FULL,  /* the libraries table is full of attached files */
	PM_CUDA_REFUSE_MAPS_LONG,   /* maps read up to the per-process or per-pod bound */
	PM_CUDA_REFUSE_MAX,
};

#endif /* PODMETER_CUDA_H */
