/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One immutable snapshot per collection: the agent builds it, the exporters
 * read it. Reference-counted so an HTTP response can hold it while the next
 * one is published.
 */
#ifndef PODMETER_SNAPSHOT_H
#define PODMETER_SNAPSHOT_H

#include <stdint.h>
#include <stddef.h>
#include <podmeter/names.h>

struct pm_container_snap {
	char id[PM_CID_MAX + 1]; /* "" = cgroups of the pod outside any container */
	enum pm_runtime runtime;
	double cpu_seconds;	     /* cumulative on-CPU time */
	double runq_seconds;	     /* cumulative run-queue wait */
	uint64_t cpu_ns, runq_ns;    /* the same, exact: summed in ns, divided once */
	long long working_set_bytes; /* its memory cgroup, as of the last walk; -1 = none */
	/* from the kubelet, matched by container id; -1 = none set or not known */
	char name[64]; /* "" = not known */
	int64_t cpu_request_milli, memory_request_bytes;
	int64_t gpu_request; /* 0 = none */
	int64_t cpu_limit_milli, memory_limit_bytes;
	int64_t gpu_limit;
	/* right-sizing from what it used: < 0 = not enough seen yet */
	double rec_cpu_cores;	    /* chosen quantile / target utilisation, >= 10m */
	double rec_memory_bytes;    /* peak working set x headroom, >= 20 MiB */
	double rec_confidence;	    /* 0..1, grows with the time observed */
	uint64_t oom_kills;	    /* cumulative, while its cgroup lives */
	uint64_t throttled_periods; /* cpu.stat nr_throttled, as of the last walk */
	uint64_t throttled_usec;    /* cpu.stat throttled_usec (v1 throttled_time / 1000) */
};

/* Pod labels carried into reports: the keys --report-labels names. */
#define PM_POD_LABELS	   8
#define PM_LABEL_KEY_MAX   317 /* prefix (a DNS subdomain) / name */
#define PM_LABEL_VALUE_MAX 63

#define PM_SNAP_ZOMBIES 8 /* listed per pod; the count is exact */

#define PM_FINDING_ATTRS 6

/* A detection with its evidence; the same condition keeps the same id. */
struct pm_finding_snap {
	char id[17];	  /* hex of a hash of (uid, kind, since) */
	char kind[24];	  /* "idle", "zombie-process", "zombie-workload", ... */
	double since;	  /* unix seconds the condition began */
	double score;	  /* 0..1: grows with how long it has held */
	char detail[160]; /* one line for people */
	int n_attrs;
	struct {
		char key[24];
		char value[40];
	} attrs[PM_FINDING_ATTRS];
};

/* Driver calls of one pod on one device, one op class: cumulative. */
struct pm_gpu_op_snap {
	char device[32]; /* "nvidia0", "renderD128", ... */
	int op;		 /* enum pm_gpu_op */
	uint64_t calls;
	uint64_t ns; /* time spent in the calls */
};

/* CUDA driver API use, by uprobes on libcuda.so.1: cumulative, except held bytes. */
struct pm_cuda_snap {
	uint64_t launches; /* cuLaunchKernel, cuLaunchKernelEx */
	uint64_t allocs, frees;
	long long memory_bytes; /* device memory held through cuMemAlloc, now */
	uint64_t memcpy_bytes;
	uint64_t sync_calls;
	uint64_t sync_ns; /* time in cuCtxSynchronize */
};

struct pm_zombie_snap {
	uint32_t pid, ppid;
	char comm[16];
	char parent_comm[16]; /* the parent that does not reap it */
	double age_seconds;   /* since it exited */
};

/*
 * Who a pod is, as the kubelet (or /var/log/pods) names it: made once per
 * pod and listing, shared by every snapshot that names the pod. The strings
 * lie packed after it (a pod's names take about 100 bytes there, where
 * arrays of the names' bounds would take 1.4 KiB).
 */
#define PM_NAMESPACE_MAX 63  /* a DNS label */
#define PM_NAME_MAX	 253 /* a DNS subdomain: pod, owner and node names */
#define PM_KIND_MAX	 63

struct pm_pod_names {
	int refcnt;
	const char *namespace_, *name, *owner_kind, *owner_name, *node;
	const char *labels[PM_POD_LABELS]; /* values of the snapshot's label_keys; "" = none */
	char buf[];
};

struct pm_pod_snap {
	char uid[PM_UID_LEN + 1];
	/* "" until kubelet metadata exists; then into names (snapshot__pod_names()) */
	const char *namespace_, *name, *owner_kind, *owner_name, *node;
	struct pm_pod_names *names;		    /* a reference, or NULL */
	int has_meta;				    /* named by the kubelet or /var/log/pods */
	int64_t cpu_request_milli, cpu_limit_milli; /* sums over containers; -1 = none set */
	int64_t memory_request_bytes, memory_limit_bytes;
	int64_t gpu_request, gpu_limit;
	enum pm_qos qos;
	double cpu_seconds; /* sum over the pod's cgroups, live and gone */
	double runq_seconds;
	uint64_t cpu_ns, runq_ns;
	uint64_t rss_bytes[PM_MEM_KINDS]; /* resident, by kind (enum pm_mem_kind) */
	long long working_set_bytes;	  /* memory cgroup usage - inactive file; -1 = none */
	uint64_t page_faults;		  /* cumulative user page faults */
	uint64_t oom_kills;		  /* cumulative OOM kills */
	uint64_t net_bytes[PM_NET_DIRS][PM_NET_CLASSES];   /* IP bytes by direction, class */
	uint64_t net_packets[PM_NET_DIRS][PM_NET_CLASSES]; /* by direction and class */
	uint64_t tcp_retransmits;
	uint64_t processes;	 /* in the pod's cgroups (cgroup.procs, as of the last walk) */
	uint64_t process_starts; /* cumulative */
	uint64_t zombies;	 /* exited, unreaped for longer than the grace period */
	double cost_dollars[PM_RES_MAX];  /* cumulative: allocated x time x price */
	double waste_dollars[PM_RES_MAX]; /* cumulative: requested, unused (cpu, memory, gpu) */
	size_t n_zombie_list;
	struct pm_zombie_snap *zombie_list; /* room for PM_SNAP_ZOMBIES; NULL while none */
	size_t n_containers;
	struct pm_container_snap *containers;
	size_t n_gpu_ops;
	struct pm_gpu_op_snap *gpu_ops; /* non-zero (device, op) pairs */
	struct pm_cuda_snap cuda;
	uint64_t gpu_jobs;	      /* DRM scheduler jobs queued, cumulative */
	double gpu_utilization;	      /* NVML SM utilisation 0..1; < 0 = not known */
	uint64_t anomalies;	      /* changes of its cost rate found, cumulative */
	double savings_dollars_month; /* requests -> recommendations, priced; 0 = none */
	int idle;		      /* under the idle thresholds for the window, no zombie */
	double idle_seconds;	      /* since it last was busy, while idle; else 0 */
	unsigned int zombie_mask;     /* 1 << enum pm_zombie_kind */
	uint64_t table_refusals[PM_SNAP_TABLES]; /* entries its events needed and were refused */
	size_t n_findings;
	struct pm_finding_snap *findings;
	uint64_t throttled_periods; /* its containers', removed ones included: cumulative */
	uint64_t throttled_usec;
	/* values of the snapshot's label_keys; "" = the pod has no such label */
	const char *labels[PM_POD_LABELS];
};

struct pm_report_stats {
	int enabled;	   /* reports are being made */
	int shipping;	   /* a reconciler URL is set */
	uint64_t written;  /* reports put in the spool */
	uint64_t sent;	   /* answered 2xx and deleted */
	uint64_t retries;  /* sends retried after an error, timeout or 5xx/408/429 */
	uint64_t rejected; /* moved to rejected/ on another 4xx */
	uint64_t dropped;  /* the spool's bound dropped them, or they could not be stored */
	uint64_t corrupt;  /* torn or corrupt spool files quarantined */
	uint64_t spool_bytes, spool_files;
	double last_success; /* unix seconds of the last 2xx; 0 = never */
};

struct pm_agent_stats {
	double collect_seconds_last; /* duration of the last collection */
	double collect_seconds_sum;  /* all collections since start */
	uint64_t collections;
	uint64_t cgroup_insert_failures;	    /* cpu_stats map full */
	uint64_t sched_resyncs;			    /* switches the tracepoint never saw */
	uint64_t born_lost;			    /* cgroup_mkdir events the ring dropped */
	uint64_t mem_insert_failures;		    /* mem_events map full */
	uint64_t mm_insert_failures;		    /* mm_state map full */
	uint64_t oom_lost;			    /* OOM events the ring dropped */
	uint64_t net_insert_failures;		    /* net_stats / tcp_retrans full */
	uint64_t gpu_insert_failures;		    /* gpu_stats / gpu_inflight full */
	uint64_t cuda_insert_failures;		    /* cuda_stats / allocations / pending full */
	uint64_t proc_insert_failures;		    /* proc_stats full */
	uint64_t exited_insert_failures;	    /* exited full */
	uint64_t exited_stale;			    /* exited entries /proc contradicted */
	uint64_t sched_slices_lost;		    /* slices no switch showed whole */
	uint64_t sched_waits_lost;		    /* waits before a migration not known */
	uint64_t table_refusals[PM_SNAP_TABLES];    /* node-wide, as the kernel counted them */
	uint64_t cuda_refusals[PM_CUDA_REFUSE_MAX]; /* libcuda files not probed, by reason */
	uint64_t kubelet_errors;		    /* failed or garbled /pods requests */
	uint64_t cgroups_tracked;		    /* entries in cpu_stats */
	uint64_t cgroups_removed;     /* dead cgroups read one last time and removed */
	uint64_t walks;		      /* walks of the cgroup hierarchy */
	uint64_t tree_reads;	      /* of them, those that listed its directories */
	const char *cgroup_hierarchy; /* "v2" or "v1" */
	const char *attach_mode;      /* "tp_btf" or "raw_tp" */
	double start_time;	      /* unix seconds */
	struct pm_report_stats reports;
};

/* Node overhead of one group: a systemd unit or slice, or a container outside Kubernetes. */
struct pm_overhead_snap {
	char name[PM_OH_NAME_MAX + 1]; /* escaped (agent/pod/ohpath.c) */
	int kind;		       /* enum pm_oh_kind */
	uint64_t cpu_ns;	       /* cumulative, its removed cgroups' included */
	double cpu_seconds;
	long long memory_bytes;		 /* working set; -1 = not its own, or unknown */
	uint64_t net_bytes[PM_NET_DIRS]; /* cumulative: sent, received (every peer class) */
	double cost_dollars[PM_RES_GPU]; /* cumulative cpu, memory */
};

struct pm_snapshot {
	int refcnt;
	size_t pods_cap; /* pods' room (snapshot__new()'s, perhaps a spare one larger) */
	/* when set, every pod's containers lie in this one block (the collector's snapshots) */
	struct pm_container_snap *ctr_pool;
	double time;		      /* unix seconds when collected */
	double read_time;	      /* unix seconds when its kernel counters began to be read */
	double mono;		      /* CLOCK_MONOTONIC seconds of the read: cost intervals */
	double node_cpu_pods_seconds; /* all pod cgroups */
	double node_cpu_overhead_seconds;     /* everything else that ran (not the idle task) */
	long long node_memory_overhead_bytes; /* in use outside pods' working sets; -1 = unknown */
	double node_idle_cost_dollars[PM_RES_NETWORK]; /* cumulative, cpu/memory/gpu */
	double node_overhead_cost_dollars[PM_RES_GPU]; /* cumulative, cpu/memory */
	uint64_t node_cpu_overhead_ns;		       /* node_cpu_overhead_seconds, as summed */
	size_t n_overhead;
	struct pm_overhead_snap *overhead;	 /* every group tracked, by kind then name */
	uint64_t overhead_gone_net[PM_NET_DIRS]; /* of groups no longer tracked */
	int overhead_top;			 /* groups shown by name; the rest are "other" */
	double price[PM_RES_NETWORK];		 /* per core-hour, GiB-hour, GPU-hour in use */
	double egress_price_gib[PM_NET_CLASSES]; /* per class (enum pm_net_class) */
	double capacity[PM_RES_NETWORK];	 /* node: cores, bytes, GPUs */
	int has_net;				 /* network is measured on this node */
	int has_gpu;				 /* GPU driver calls are measured */
	int has_cuda;				 /* libcuda.so.1 uprobes are attached somewhere */
	size_t n_pods;
	struct pm_pod_snap *pods; /* sorted by uid */
	struct pm_agent_stats agent;
	int n_label_keys; /* --report-labels */
	char label_keys[PM_POD_LABELS][PM_LABEL_KEY_MAX + 1];
};

/* The group @kind/@name in @s; NULL when it is not there (or @s is NULL). */
const struct pm_overhead_snap *snapshot__overhead(const struct pm_snapshot *s, int kind,
						  const char *name);
/*
 * The overhead rows to show: the s->overhead_top groups that cost most, then
 * one row of kind "other" with the rest (the other groups, groups no longer
 * tracked, and what no group holds), so that the rows add up to the node's
 * overhead CPU, memory and cost. *@rows is allocated (free it); returns the
 * number of rows, or -ENOMEM.
 */
long snapshot__overhead_rows(const struct pm_snapshot *s, struct pm_overhead_snap **rows);

/*
 * Pod names with refcnt 1 (NULL: out of memory). Each string is copied, cut
 * at its bound (PM_NAMESPACE_MAX, PM_NAME_MAX, PM_KIND_MAX for the owner's
 * kind, PM_LABEL_VALUE_MAX for a label); NULL is "". @labels: NULL, or
 * PM_POD_LABELS values.
 */
struct pm_pod_names *snapshot__names_new(const char *namespace_, const char *name,
					 const char *owner_kind, const char *owner_name,
					 const char *node, const char *const *labels);
struct pm_pod_names *snapshot__names_get(struct pm_pod_names *n);
void snapshot__names_put(struct pm_pod_names *n);
/* @p's names from @n, whose reference it takes (NULL: none, all ""). */
void snapshot__pod_names(struct pm_pod_snap *p, struct pm_pod_names *n);

/* A new snapshot with refcnt 1 and room for @n_pods pods (zeroed, names ""). */
struct pm_snapshot *snapshot__new(size_t n_pods);
struct pm_snapshot *snapshot__get(struct pm_snapshot *s);
void snapshot__put(struct pm_snapshot *s);

/* The pod of @uid in @s (NULL: not there, or @s NULL): pods are sorted by uid. */
const struct pm_pod_snap *snapshot__pod(const struct pm_snapshot *s, const char *uid);
/*
 * The same, for a caller visiting another snapshot's pods in uid order (a
 * merge of the two): the pod at *@at is tried first, and *@at is left just
 * past the one found. Start *@at at 0.
 */
const struct pm_pod_snap *snapshot__pod_next(const struct pm_snapshot *s, const char *uid,
					     size_t *at);
/* The container of @id in @p (NULL: not there, or @p NULL). */
const struct pm_container_snap *snapshot__container(const struct pm_pod_snap *p, const char *id);
/* GPU driver calls of @p over all devices and ops, and the ns spent in them (0 for NULL). */
uint64_t snapshot__gpu_calls(const struct pm_pod_snap *p, uint64_t *ns);

#endif /* PODMETER_SNAPSHOT_H */
