/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a cgroup used: every cumulative counter the signals keep, in one
 * struct. A cgroup's record, a pod's retired totals and a pod's sum in a
 * snapshot are all a struct pm_usage; usage__add() folds one into another.
 */
#ifndef PODMETER_USAGE_H
#define PODMETER_USAGE_H

#include <stdbool.h>
#include <linux/types.h>
#include <podmeter/cpu.h>
#include <podmeter/cuda.h>
#include <podmeter/gpu.h>
#include <podmeter/mem.h>
#include <podmeter/net.h>
#include <podmeter/snapshot.h>

/* GPU driver calls by device (the collector's device table) and op: 6 KiB, so on demand. */
struct pm_gpu_usage {
	__u64 calls[PM_GPU_MAX_DEVS][PM_GPU_OPS];
	__u64 ns[PM_GPU_MAX_DEVS][PM_GPU_OPS];
};

struct pm_usage {
	__u64 oncpu_ns;		 /* cpu: on a CPU, in-flight slice included */
	__u64 runq_ns;		 /* cpu: runnable, waiting for a CPU */
	__u64 throttled_periods; /* cpu.stat of a container, read at each walk */
	__u64 throttled_usec;
	__u64 faults;				      /* mem: user page faults */
	__u64 oom_kills;			      /* mem */
	__u64 net_bytes[PM_NET_DIRS][PM_NET_CLASSES]; /* net: IP bytes */
	__u64 net_packets[PM_NET_DIRS][PM_NET_CLASSES];
	__u64 retransmits;	  /* net: TCP */
	__u64 starts;		  /* proc: processes started */
	__u64 exits;		  /* proc: processes ended (their last thread) */
	__u64 joins;		  /* proc: processes or threads moved in */
	__u64 gpu_jobs;		  /* gpu: DRM scheduler jobs queued */
	struct pm_gpu_usage *gpu; /* gpu: ioctls; NULL until one */
	struct pm_cuda_val cuda;  /* cuda: bytes_held is now, not cumulative */
	__u64 refused[PM_TABLES]; /* table inserts refused */
};

/* A cgroup's figures of one read, not cumulative. */
struct pm_reading {
	__u64 inflight_oncpu_ns; /* cpu: what the map does not hold yet */
	__u64 inflight_runq_ns;
	bool held;		       /* cpu: a CPU still holds some of it */
	__u64 rss_bytes[PM_MEM_KINDS]; /* mem: resident, by kind */
	double gpu_util;	       /* nvml: SM utilisation 0..1 summed; < 0 = none */
};

/* What a source reads a cgroup into (the collector keeps one per cgroup). */
struct pm_cg_counts {
	struct pm_usage total; /* cumulative: each source keeps its fields monotonic */
	struct pm_reading now; /* cleared before each read */
	/*
	 * cpu: the map's values as last read, kept between reads (the map is
	 * read by change: a cgroup whose entry did not move is not read), and
	 * whether the map has an entry for it; cleared when it is retired.
	 */
	__u64 map_oncpu_ns;
	__u64 map_runq_ns;
	bool in_map;
	bool retired; /* its totals are in its pod already: leave them be */
};

/*
 * @to += @from, every counter (held CUDA bytes are not cumulative and stay
 * out). Returns 0, or -ENOMEM when @to had no GPU table and none could be
 * made (the rest is added).
 */
int usage__add(struct pm_usage *to, const struct pm_usage *from);
/* Release what a usage points to; the struct is zeroed. */
void usage__free(struct pm_usage *u);
/* Bytes sent and received, every peer class. */
void usage__net_dirs(const struct pm_usage *u, uint64_t out[2]);

/* A cumulative counter read again: it never steps back. */
static inline void usage__raise(__u64 *field, __u64 v)
{
	if (v > *field)
		*field = v;
}

#endif /* PODMETER_USAGE_H */
