/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A signal as the collector sees it: one descriptor of operations. The
 * collector opens every source of its table, reads each into the cgroups'
 * usage, forgets a cgroup in each when it is gone, and closes them; it
 * knows no signal by name.
 */
#ifndef PODMETER_SOURCE_H
#define PODMETER_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <podmeter/cgroupfs.h>
#include <podmeter/config.h>
#include <podmeter/snapshot.h>
#include <podmeter/usage.h>

struct pm_cuda_job;

/* What every source opens from. */
struct pm_source_env {
	const struct pm_config *cfg;
	enum pm_hier hier;	      /* the hierarchy whose ids the collector walks */
	const struct pm_cgroupfs *fs; /* the node's cgroup mounts */
	bool force_raw_tp;	      /* raw_tp at once, no tp_btf */
};

/* Where a source reads to: the collector's cgroup records and its few events. */
struct pm_sink {
	/*
	 * A cgroup's counts; an id the collector has not seen gets a record and
	 * asks for a walk. NULL when out of memory.
	 */
	struct pm_cg_counts *(*cgroup)(void *ctx, __u64 cgid);
	/* A known cgroup's counts, or NULL: nothing is made. */
	struct pm_cg_counts *(*known)(void *ctx, __u64 cgid);
	/* The cgroup of a process of a pod, as of the last walk; NULL when none. */
	struct pm_cg_counts *(*by_pid)(void *ctx, __u32 pid);
	/*
	 * A cgroup made or renamed since the last read, with its path from the
	 * hierarchy root ("" for a rename: the paths below it changed too).
	 */
	void (*born)(void *ctx, __u64 cgid, const char *path);
	/* A cgroup removed since the last read (cgroup_rmdir). */
	void (*gone)(void *ctx, __u64 cgid);
	/* A process exited and not reaped for longer than the grace period. */
	void (*zombie)(void *ctx, __u64 cgid, const struct pm_zombie_snap *z);
	/* An OOM kill since the last read. */
	void (*oom)(void *ctx, __u64 cgid, __u32 pid, const char *comm);
	/* The row of a GPU device label in struct pm_gpu_usage; -1 when the table is full. */
	int (*gpu_dev)(void *ctx, const char *device);
	void *ctx;
};

struct pm_source {
	const char *name;    /* "cpu", "mem", ...: the log's prefix */
	const char *reading; /* what a stalled read is doing, for /healthz */
	/*
	 * Open, configure, load and attach. 0 with *@out set; 0 with *@out NULL
	 * when an optional signal is not there (the source said why); or a
	 * negative errno with @err set, which stops the agent.
	 */
	int (*open)(void **out, const struct pm_source_env *env, char *err, size_t errlen);
	/* Every cgroup's counts into @sink. An error fails the collection unless @optional. */
	int (*read)(void *src, const struct pm_sink *sink);
	/*
	 * Table inserts refused, by cgroup (optional): @fn returns true when
	 * the cgroup is retired and its count taken, and the pair goes.
	 */
	int (*refusals)(void *src, bool (*fn)(void *ctx, __u64 cgid, __u32 table, __u64 n),
			void *ctx);
	/*
	 * Drop @n retired cgroups' entries, now or at the source's next read
	 * (which reports none of them), in as few system calls as it can:
	 * @res[i] 1 when an entry of the tracked cgroups' table went, 0 when
	 * nothing did, or a negative errno (other than -ENOENT) when the cgroup
	 * must be kept and forgotten again later. Returns 0, or a negative
	 * errno for all of them.
	 */
	int (*forget)(void *src, const __u64 *cgids, size_t n, int *res);
	/* Its error counters into @st (table_refusals: added to). */
	void (*errors)(void *src, struct pm_agent_stats *st);
	/* After a walk: the pods' processes (optional). */
	void (*walked)(void *src, const struct pm_cuda_job *jobs, size_t n);
	/* Whether the snapshot has its figures: sets its has_* flag (optional). */
	void (*present)(void *src, struct pm_snapshot *s);
	/* SIGHUP: settings from @cfg (optional). */
	int (*reload)(void *src, const struct pm_config *cfg, char *err, size_t errlen);
	/* Threads of its own, started once capabilities are dropped (optional). */
	int (*start)(void *src);
	/*
	 * The source whose table is the tracked cgroups' (optional; the first
	 * with these ops): its attach mode, and retired totals of a pod ("" =
	 * node overhead) kept across restarts.
	 */
	const char *(*attach_mode)(void *src);
	int (*keep_get)(void *src, const char *uid, struct pm_usage *u);
	int (*keep_set)(void *src, const char *uid, const struct pm_usage *u);
	void (*keep_del)(void *src, const char *uid);
	void (*close)(void *src);
	bool optional; /* a read error is logged, not returned */
};

/* The signals, in the order they open and are read. */
extern const struct pm_source pm_source_cpu;
extern const struct pm_source pm_source_mem;
extern const struct pm_source pm_source_net;
extern const struct pm_source pm_source_proc;
extern const struct pm_source pm_source_gpu;
extern const struct pm_source pm_source_cuda;
extern const struct pm_source pm_source_nvml;

#endif /* PODMETER_SOURCE_H */
