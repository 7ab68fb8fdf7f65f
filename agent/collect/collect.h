/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The collector's parts: sources -> ledger (cgroup and pod records) ->
 * walk (the hierarchy, to name cgroups) -> assemble (a snapshot).
 */
#ifndef PODMETER_COLLECT_H
#define PODMETER_COLLECT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <podmeter/agent.h>
#include <podmeter/cost.h>
#include <podmeter/detect.h>
#include <podmeter/overhead.h>
#include <podmeter/podpath.h>
#include <podmeter/source.h>
#include <podmeter/u64map.h>

#define NS_PER_S       1e9
#define PM_MAX_SOURCES 8

struct pod_rec {
	char uid[PM_UID_LEN + 1];
	enum pm_qos qos;
	struct pm_usage retired; /* from its cgroups that are gone */
	char *path;		 /* the pod cgroup, from the hierarchy root; NULL = not seen */
	long long working_set;	 /* bytes, read at walks (see walk.c); -1 = none */
	bool files_stale;	 /* a cgroup of it changed: read its working set */
	bool files_ran;		 /* ... ran or settles: memory.stat whatever the usage */
	__u64 ws_walk;		 /* walk of its working-set read */
	long long ws_usage;	 /* the memory cgroup's usage at that read */
	int live_cgroups;	 /* counted by the last walk */
	int refs;		 /* cg_recs pointing here */
	size_t snap_idx;
	double gone_since; /* unix s; 0 while it has cgroups */
	struct pod_rec *next_same_hash;
	struct pod_rec *next_expired;
};

struct cg_rec {
	struct pm_cg_counts n; /* what the sources read: first, a sink hands it out */
	__u64 cgid;
	struct pod_rec *pod;   /* NULL: node overhead */
	struct pm_oh_rec *grp; /* its overhead group (not in a pod); NULL: "other" */
	char container_id[PM_CID_MAX + 1];
	enum pm_runtime runtime;
	__u64 procs;	       /* cgroup.procs lines at the last walk */
	long long working_set; /* a container's, read at walks (see walk.c); -1 = none */
	int *pids;	       /* cgroup.procs at its last read */
	size_t n_pids, cap_pids;
	bool files_read;   /* its files were read once */
	__u64 procs_mark;  /* procs_mark() (walk.c) at its cgroup.procs read */
	__u64 ws_oncpu_ns; /* CPU time, faults and resident bytes at its working-set read */
	__u64 ws_faults;
	__u64 ws_rss;
	__u64 ws_walk;		 /* the walk of that read */
	long long ws_usage;	 /* the memory cgroup's usage then */
	__u64 walk_oncpu_ns;	 /* CPU time at the last walk */
	unsigned int ws_settle;	 /* walks left to read it in full again after it was busy */
	__u64 thr_oncpu_ns;	 /* CPU time at its throttling read */
	bool cpu_quota;		 /* a CFS quota of its own, as last read (walk.c) */
	bool quota_ran;		 /* ... read after the cgroup had run */
	__u64 walk_gen;		 /* last walk that found it */
	char *rel;		 /* its path as the last full walk found it; NULL = none */
	bool removed;		 /* a cgroup_rmdir event named it */
	bool dead;		 /* not found by the last walk */
	unsigned int dead_reads; /* reads since, with no CPU holding any of it */
	double tomb_since;	 /* retired (totals folded into its pod) at; 0 = live */
	bool parsed;		 /* path classified (pod or not) */
};

/* An open source: its descriptor and its state. */
struct pm_source_inst {
	const struct pm_source *ops;
	void *src;
};

struct pm_collector {
	pthread_mutex_t lock;
	/* read without the lock, by /healthz and the watchdog */
	_Atomic __u64 tick_end_ns;   /* monotonic; 0 before the first periodic tick */
	_Atomic(const char *) phase; /* what the collection is doing */
	_Atomic __u64 phase_ns;	     /* entered at */
	atomic_bool stall_logged;
	__u64 stall_ns;
	struct pm_source_inst srcs[PM_MAX_SOURCES]; /* the signals present, in table order */
	int n_srcs;
	const struct pm_source_inst *keeper; /* keeps retired totals across restarts */
	char gpu_devs[PM_GPU_MAX_DEVS][32];  /* device labels; index = pm_gpu_usage row */
	int n_gpu_devs;
	struct pm_usage *accs; /* assembly's per-pod sums, zeroed between uses */
	size_t cap_accs;
	size_t *ctr_room; /* assembly's containers a pod may have, by snapshot index */
	size_t cap_room;
	struct pm_cuda_job *jobs; /* pods' processes, from the last walk */
	size_t n_jobs, cap_jobs;
	struct u64map pid_cg; /* pid -> cg_rec, from the last walk (NVML) */
	struct pm_kubemeta *meta;
	size_t last_unknown; /* pods without metadata at the last collection */
	struct zombie_seen {
		__u64 cgid;
		struct pm_zombie_snap z;
	} * zombies; /* this read's */
	size_t n_zombies, cap_zombies;
	char mem_root[PATH_MAX]; /* memory controller's hierarchy; "" = none */
	bool mem_v2;
	char cpu_root[PATH_MAX]; /* cpu controller's hierarchy (throttling); "" = none */
	bool cpu_v2;
	enum pm_hier hier;
	char root[PATH_MAX];	 /* hierarchy walked for cgroup ids */
	struct u64map cgroups;	 /* cgid -> cg_rec */
	struct u64map pods;	 /* hash(uid) -> pod_rec chain */
	struct pod_rec **by_uid; /* the pods sorted by uid, for assembly */
	size_t n_by_uid, cap_by_uid;
	bool pods_moved; /* a pod record made or freed since by_uid was sorted */
	__u64 walk_gen;
	/* which sources are open (set at open): what the walk may trust to tell change */
	bool walk_cpu;	/* a CPU source: a quiet cgroup's files are not read */
	bool walk_mem;	/* a memory source: faults and resident bytes tell memory change */
	bool walk_proc; /* a process source: starts and exits tell cgroup.procs change */
	unsigned int ticks_since_walk;
	__u64 reclaim_mark; /* /proc/vmstat's reclaim counters at the last walk (walk.c) */
	__u64 reclaim_walk; /* the last walk that found them moved (or unreadable) */
	bool unknown_seen;
	/* what the next walk must read from the hierarchy itself (see walk.c) */
	bool tree_born;		  /* a cgroup made or renamed since the last full walk, not found */
	__u64 born_checked;	  /* tree_reads when an event's path last led to its cgroup */
	unsigned int light_walks; /* since the last full walk */
	__u64 tree_lost_walked;	  /* lost mkdir/rmdir events, at the last full walk */
	struct pm_usage retired_overhead; /* node overhead's gone cgroups: CPU time */
	struct pm_overhead *oh;		  /* node overhead by unit, slice, container */
	int oh_top;
	bool retired_full_warned;
	__u64 retired_pods_ns; /* of pods no longer tracked */
	struct pm_agent_stats stats;
	struct pm_snapshot *snap;
	struct timespec snap_mono;
	char proc_root[PATH_MAX];
	struct pm_prices prices; /* in use: configured, or split from the node price */
	struct pm_node_capacity capacity;
	struct pm_snapshot *cost_base; /* the last periodic tick's: cost intervals start there */
	struct pm_detector *detector;
	void (*report_stats)(void *ctx, struct pm_report_stats *st);
	void *report_ctx;
};

/* agent/collect/ledger.c: records, one read of the sources, settle, retire, age */
__u64 ledger__uid_hash(const char *uid);
struct pod_rec *ledger__pod(struct pm_collector *c, const struct pm_pod_ident *id);
struct cg_rec *ledger__cgroup(struct pm_collector *c, __u64 cgid);
/* Before a read: the sink the sources read into; last read's figures cleared. */
void ledger__begin_read(struct pm_collector *c, struct pm_sink *sink);
/* A source's refusal count of a cgroup (the refusals op's callback, ctx the collector). */
bool ledger__refusal(void *ctx, __u64 cgid, __u32 table, __u64 n);
void ledger__settle(struct pm_collector *c);
void ledger__age_cgroups(struct pm_collector *c, double now);
void ledger__age_pods(struct pm_collector *c, double now);
void ledger__free(struct pm_collector *c);

/* agent/collect/walk.c: the hierarchy, to name cgroups and count their processes */
void walk__classify(struct pm_collector *c, struct cg_rec *r, const char *rel);
bool walk__born(struct pm_collector *c, struct cg_rec *r, const char *path);
void walk__run(struct pm_collector *c);
/* A pod's or a container's working set as the kubelet counts it; -1 when none. */
long long walk__working_set(const struct pm_collector *c, const char *rel);

/* agent/collect/assemble.c: records -> one snapshot */
struct pm_snapshot *assemble__snapshot(struct pm_collector *c, double now);
/* Fields of /proc/meminfo, in bytes; -1 when absent. */
void assemble__meminfo(const char *proc_root, long long *total, long long *avail);

/* agent/collect/collector.c */
void collector__phase(struct pm_collector *c, const char *what);
double collector__unix_now(void);

#endif /* PODMETER_COLLECT_H */
