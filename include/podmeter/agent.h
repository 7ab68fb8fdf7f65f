/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The daemon's modules: CPU signal, collector. */
#ifndef PODMETER_AGENT_H
#define PODMETER_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <podmeter/config.h>
#include <podmeter/cpu.h>
#include <podmeter/mem.h>
#include <podmeter/net.h>
#include <podmeter/proc.h>
#include <podmeter/snapshot.h>
#include <podmeter/u64map.h>

/* ---- agent/signal/bpfutil.c ---- */
struct bpf_map;

/* Sum a per-CPU array of @n __u64 counters over CPUs into @out (0 on error). */
void bpfutil__sum_counters(struct bpf_map *map, __u32 n, __u64 *out);
bool bpfutil__kernel_at_least(int major, int minor);
/* The node's bound on tasks at once: min(kernel.pid_max, kernel.threads-max). */
__u32 bpfutil__task_limit(__u32 *pid_max, __u32 *threads_max);
/* Hash maps of tracing programs can be allocated as used (kernels >= 6.1). */
bool bpfutil__alloc_on_use(void);
/*
 * Before load: a table keyed by pid or tid sized to the node's task limit,
 * allocated as used; where the kernel needs it preallocated, at most
 * @prealloc_max entries.
 */
void bpfutil__size_by_tasks(struct bpf_map *map, __u32 prealloc_max);
/*
 * A table of one entry per process and its spill (bpf/tables.bpf.h): @first
 * holds up to @first_max, the spill the rest of the node's task limit (4096
 * when there is no rest), both allocated as used; where the kernel needs
 * them preallocated, @first alone.
 */
void bpfutil__size_split(struct bpf_map *first, struct bpf_map *spill, __u32 first_max);
/* What a reader knows of a spill: read it only while due (bpfutil__spill_due()). */
struct pm_spill {
	bool read;    /* read once: the first read always is (a pinned one may hold entries) */
	bool held;    /* the last read found entries */
	__u64 spills; /* inserts the BPF side counted, at the last read */
};
/* Whether the spill counted by @spills needs reading now; then set @s->held after. */
bool bpfutil__spill_due(struct pm_spill *s, struct bpf_map *spills);

/*
 * A table read whole at each read, skipped while none of its counters moved
 * (a flag in the programs' .bss, set by each count while clear). Entries of
 * removed cgroups are deleted by a read, which visits every entry anyway:
 * one is made within PM_MOVED_GONE_NS of a removal whatever moved.
 */
struct pm_moved {
	bool read; /* read once: the first read always is (a pinned table may hold entries) */
	__u64 gone_since_ns; /* CLOCK_MONOTONIC of the oldest removal not yet read; 0: none */
	struct u64map gone;  /* cgroups removed since the last read */
};
#define PM_MOVED_GONE_NS 10000000000ULL
/* Whether to read now, @flag taken (cleared) when so. */
bool bpfutil__moved_due(struct pm_moved *m, volatile __u32 *flag);
/* Cgroup @cgid was removed: its entries wait for a read. 0, or -ENOMEM. */
int bpfutil__moved_gone(struct pm_moved *m, __u64 cgid);
/* In a read: whether @key of @map is a removed cgroup's (@cgid); then it is deleted. */
bool bpfutil__moved_drop(const struct pm_moved *m, struct bpf_map *map, const void *key,
			 __u64 cgid);
/*
 * The read ended with @err (returned): done, its removals with it; or,
 * failed, the next read is made whatever moved, the removals kept for it.
 */
int bpfutil__moved_read(struct pm_moved *m, int err);
void bpfutil__moved_free(struct pm_moved *m);
/* CLOCK_MONOTONIC in ns. */
__u64 bpfutil__now_ns(void);
/*
 * A signal with twin programs: @load(@ctx, true) (tp_btf), else, saying
 * why, @load(@ctx, false) (raw_tp); raw_tp at once with @force_raw_tp.
 * Returns @load's answer, with @err set on error.
 */
int bpfutil__load_twin(int (*load)(void *ctx, bool tp_btf, char *err, size_t errlen), void *ctx,
		       bool force_raw_tp, char *err, size_t errlen);

/*
 * Inserts a table refused (bpf/tables.bpf.h): cumulative, by cgroup and
 * enum pm_table. Returns true when the cgroup is gone and its count taken:
 * the pair is removed.
 */
typedef bool (*pm_refusal_fn)(void *ctx, __u64 cgid, __u32 table, __u64 n);
/* Every (cgroup, table) pair of @hier in a "refusals" map. */
int bpfutil__read_refusals(struct bpf_map *map, enum pm_hier hier, pm_refusal_fn fn, void *ctx);
/*
 * Every entry of a map, @fn called with copies of its key and value: in
 * batches where the kernel has batch lookups (5.6), else key by key. Of a
 * per-CPU map, whose values must be runs of __u64 counters, each counter
 * summed over the CPUs (-EINVAL for a value size that is not a multiple of
 * 8). An entry deleted or added meanwhile may be missed.
 */
typedef void (*pm_entry_fn)(void *ctx, const void *key, const void *value);
int bpfutil__for_each(struct bpf_map *map, pm_entry_fn fn, void *ctx);
/* One entry's value, as bpfutil__for_each() hands it; -ENOENT when absent. */
int bpfutil__lookup(struct bpf_map *map, const void *key, void *value);
/*
 * A stats map keyed by cgroup (or process), read by change: its changed set
 * (bpf/tables.bpf.h, PM_CHANGED_MAP), the set's "_lost" counter and its
 * epoch in the object's mapped .bss.
 */
struct pm_changed_key {
	__u64 w[2]; /* the map's key, zero-padded: 16 bytes at most */
};
struct pm_changed {
	struct bpf_map *set, *counts; /* the set and its counts (enum pm_changed_count) */
	__u64 *epoch;
	__u64 lost_seen;    /* the lost count at the last read */
	__u64 puts_seen;    /* the puts count before the last drain */
	bool drained;	    /* a drain was made (puts_seen holds) */
	unsigned int reads; /* reads by change since the last whole one */
	size_t entries;	    /* the map's at the last whole read */
	bool whole_done;    /* a whole read was made (the first read is one) */
	bool no_batch;	    /* the kernel cannot drain the set: every read is whole */
	/* this read's changed keys; those the next looks at again; the last read's such */
	struct pm_changed_key *keys, *last, *prev;
	size_t n_keys, n_last, cap_keys, cap_last, cap_prev;
};
void bpfutil__changed_init(struct pm_changed *c, struct bpf_map *set, struct bpf_map *counts,
			   __u64 *epoch);
/*
 * @fn for each entry of @stats whose counters may have moved since the last
 * read: the cgroups of the changed set, drained, and those of the last
 * read's put in at its epoch (their counters may have moved after that read
 * looked, unmarked: bpf/tables.bpf.h); every entry at the first read, when
 * the set lost a key, when a large share of the entries changed (a batch
 * read is cheaper then), and every PM_CHANGED_WHOLE_EVERY reads. As
 * bpfutil__for_each(); @gone (may be NULL) for each key looked up and not
 * found. Returns 1 after a whole read, 0 after a read by change, or a
 * negative errno.
 */
typedef void (*pm_key_fn)(void *ctx, const void *key);
int bpfutil__changed_each(struct pm_changed *c, struct bpf_map *stats, pm_entry_fn fn,
			  pm_key_fn gone, void *ctx);
/* The next read is whole. */
void bpfutil__changed_whole_next(struct pm_changed *c);
/*
 * Delete the entries of @n cgroups of hierarchy @hier from @map (keyed by
 * struct pm_cg_key): one system call for all where the kernel deletes in
 * batches (5.6), else one each. @res (may be NULL): 1 for each deleted, 0
 * for each absent, else a negative errno. Returns 0 or -ENOMEM.
 */
int bpfutil__delete_cgroups(struct bpf_map *map, enum pm_hier hier, const __u64 *cgids, size_t n,
			    int *res);
void bpfutil__changed_free(struct pm_changed *c);

/* ---- agent/signal/cpu.c: loads bpf/cpu.bpf.c and reads its maps ---- */
struct pm_cpu;

struct pm_cpu_visitor {
	/* once per cgroup in the map, values summed over CPUs */
	void (*cgroup)(void *ctx, __u64 cgid, const struct pm_cpu_val *sum);
	/* amounts not in the map yet: pending on a CPU, or the slice running now */
	void (*inflight)(void *ctx, __u64 cgid, __u64 oncpu_ns, __u64 runq_ns);
	/* a cgroup a CPU still holds (pending or running): not to be retired yet */
	void (*held)(void *ctx, __u64 cgid);
	/* a cgroup made or renamed since the last read: as struct pm_sink's */
	void (*born)(void *ctx, __u64 cgid, const char *path);
	/* a cgroup removed since the last read */
	void (*gone)(void *ctx, __u64 cgid);
	void *ctx;
};

/*
 * Open, configure for @hier, load and attach (running slices are read from
 * @proc_root/<tid>/schedstat): tp_btf first, raw_tp when
 * tp_btf cannot load or attach (or when @force_raw_tp). Returns 0 or a
 * negative errno with @err set.
 */
int cpu__open(struct pm_cpu **out, enum pm_hier hier, const char *proc_root, bool force_raw_tp,
	      char *err, size_t errlen);
const char *cpu__attach_mode(const struct pm_cpu *cpu);
/* Visit new cgroups, every cgroup in the map, then what the map does not hold yet. */
int cpu__read(struct pm_cpu *cpu, const struct pm_cpu_visitor *v);
/* Retired cgroups' entries: as bpfutil__delete_cgroups(). */
int cpu__remove(struct pm_cpu *cpu, const __u64 *cgids, size_t n, int *res);
/* Totals of a pod's removed cgroups ("" = node overhead), kept across restarts. */
int cpu__retired_get(struct pm_cpu *cpu, const char *uid, struct pm_retired_val *v);
int cpu__retired_set(struct pm_cpu *cpu, const char *uid, const struct pm_retired_val *v);
void cpu__retired_del(struct pm_cpu *cpu, const char *uid);
void cpu__errors(struct pm_cpu *cpu, __u64 errs[PM_CPU_ERR_MAX]);
int cpu__refusals(struct pm_cpu *cpu, pm_refusal_fn fn, void *ctx);
void cpu__close(struct pm_cpu *cpu);

/* ---- agent/signal/mem.c: loads bpf/mem.bpf.c and reads its maps ---- */
struct pm_mem;

struct pm_mem_visitor {
	/* cumulative page faults and OOM kills of a cgroup */
	void (*events)(void *ctx, __u64 cgid, __u64 faults, __u64 oom_kills);
	/* resident bytes of one address space, of one kind (enum pm_mem_kind) */
	void (*rss)(void *ctx, __u64 cgid, int kind, __u64 bytes);
	/* an OOM kill since the last read */
	void (*oom)(void *ctx, __u64 cgid, __u32 pid, const char *comm);
	void *ctx;
};

int mem__open(struct pm_mem **out, enum pm_hier hier, const char *proc_root, bool force_raw_tp,
	      char *err, size_t errlen);
int mem__read(struct pm_mem *mem, const struct pm_mem_visitor *v);
int mem__remove(struct pm_mem *mem, const __u64 *cgids, size_t n);
void mem__errors(struct pm_mem *mem, __u64 errs[PM_MEM_ERR_MAX]);
int mem__refusals(struct pm_mem *mem, pm_refusal_fn fn, void *ctx);
void mem__close(struct pm_mem *mem);

/* ---- agent/signal/net.c: loads bpf/net.bpf.c (cgroup v2 ids only) ---- */
struct pm_net;

struct pm_net_visitor {
	/* cumulative IP bytes and packets of a cgroup, one direction and class */
	void (*traffic)(void *ctx, __u64 cgid, __u32 dir, __u32 cls, __u64 bytes, __u64 packets);
	/* cumulative TCP retransmits of a cgroup */
	void (*retransmits)(void *ctx, __u64 cgid, __u64 n);
	void *ctx;
};

int net__open(struct pm_net **out, const struct pm_config *cfg, const char *v2_root,
	      bool force_raw_tp, char *err, size_t errlen);
int net__read(struct pm_net *net, const struct pm_net_visitor *v);
/* SIGHUP: the classes of @cfg replace those in use, without a gap. */
int net__set_classes(struct pm_net *net, const struct pm_config *cfg, char *err, size_t errlen);
/* A dead cgroup's entries go at the next read. 0, or -ENOMEM (to be tried again). */
int net__remove(struct pm_net *net, __u64 cgid);
void net__errors(struct pm_net *net, __u64 errs[PM_NET_ERR_MAX]);
void net__close(struct pm_net *net);

/* ---- agent/signal/proc.c: loads bpf/proc.bpf.c ---- */
struct pm_proc;

struct pm_proc_visitor {
	/* a cgroup's cumulative process counts (starts, exits, joins), over all CPUs */
	void (*starts)(void *ctx, __u64 cgid, const struct pm_proc_val *sum);
	/* a process exited longer than the grace period ago and not reaped */
	void (*zombie)(void *ctx, __u64 cgid, __u32 pid, __u32 ppid, const char *comm,
		       const char *parent_comm, double age_s);
	void *ctx;
};

int proc__open(struct pm_proc **out, enum pm_hier hier, __u64 zombie_grace_ms, bool force_raw_tp,
	       const char *proc_root, char *err, size_t errlen);
int proc__read(struct pm_proc *p, const struct pm_proc_visitor *v);
int proc__remove(struct pm_proc *p, const __u64 *cgids, size_t n);
void proc__errors(struct pm_proc *p, __u64 errs[PM_PROC_ERR_MAX]);
int proc__refusals(struct pm_proc *p, pm_refusal_fn fn, void *ctx);
void proc__close(struct pm_proc *p);

/* ---- agent/pod/kubemeta.c: pod names, owners, requests (kubelet or /var/log/pods) ---- */
struct pm_kubemeta;

int kubemeta__open(struct pm_kubemeta **out, const struct pm_config *cfg);
void kubemeta__poke(struct pm_kubemeta *k); /* refresh now: an unknown pod showed up */
size_t kubemeta__label(struct pm_kubemeta *k, struct pm_snapshot *s);
uint64_t kubemeta__errors(struct pm_kubemeta *k);
/* The kubelet's pod list is in hand (not only /var/log/pods names). */
bool kubemeta__listed(struct pm_kubemeta *k);
void kubemeta__close(struct pm_kubemeta *k);

/* ---- agent/collect/: sources -> ledger -> pods -> snapshots ---- */
struct pm_collector;

int collector__open(struct pm_collector **out, const struct pm_config *cfg, char *err,
		    size_t errlen);
/*
 * The kubelet client's thread: started apart from collector__open, so that
 * it can start from a thread holding no capability.
 */
int collector__start_meta(struct pm_collector *c, const struct pm_config *cfg, char *err,
			  size_t errlen);
/*
 * The CUDA library scanner's thread: it inherits the caller's
 * capabilities, so start it once those are the ones kept after start.
 */
int collector__start_scanner(struct pm_collector *c);
/* Collect now and publish a new snapshot. */
int collector__tick(struct pm_collector *c);
/* A snapshot collected no earlier than this call (collects when needed). */
struct pm_snapshot *collector__fresh(void *collector);
/*
 * Liveness without the lock (a pm_health_fn): 0 while periodic ticks end,
 * -ETIMEDOUT once none has for several intervals (logged once, with what
 * the collection is doing), -EAGAIN before the first.
 */
int collector__health(void *collector, char *msg, size_t len);
/*
 * SIGHUP: prices and node capacity, network classes and detection thresholds
 * from @cfg, keeping every count and model. On error nothing of prices changes.
 */
int collector__reload(struct pm_collector *c, const struct pm_config *cfg, char *err,
		      size_t errlen);
void collector__close(struct pm_collector *c);
/* GPU devices found and CUDA probing on: uprobes will be attached later. */
bool collector__gpu_node(struct pm_collector *c);
/* The hierarchy walked for pods (for the start-up line). */
const char *collector__root(const struct pm_collector *c);
const char *collector__attach_mode(const struct pm_collector *c);
/* The last periodic snapshot, referenced (put it); NULL before the first. */
struct pm_snapshot *collector__last(struct pm_collector *c);
/* Called at each collection to fill the report counters of the snapshot. */
void collector__set_report_stats(struct pm_collector *c,
				 void (*fn)(void *ctx, struct pm_report_stats *st), void *ctx);

/* ---- agent/cmd/top.c: podmeter top, a terminal view of a running agent ---- */
int top__main(int argc, char **argv);
/*
 * One frame, as --once prints it, from two /v1/pods documents (for tests):
 * 0, or -EINVAL when one is not such a document.
 */
int top__frame(FILE *f, const char *prev, size_t prevlen, const char *cur, size_t curlen);

/* ---- agent/reporter.c: windows -> reports -> spool -> shipper ---- */
struct pm_reporter;

int reporter__open(struct pm_reporter **out, const struct pm_config *cfg, char *err, size_t errlen);
/* A periodic snapshot: added to the window, which is closed into a report when due. */
void reporter__tick(struct pm_reporter *r, const struct pm_snapshot *s);
/* Stopping: close the window so far into a final report. */
void reporter__finish(struct pm_reporter *r);
void reporter__stats(void *r, struct pm_report_stats *st);
void reporter__close(struct pm_reporter *r);

/* ---- agent/signal/gpu.c: loads bpf/gpu.bpf.c: ioctls on GPU device files ---- */
#include <podmeter/gpu.h>

struct pm_gpu;

struct pm_gpu_visitor {
	/*
	 * cumulative ioctl calls of a cgroup on one device (file name) and op
	 * (enum pm_gpu_op, snapshot.h), and ns in them
	 */
	void (*ioctl)(void *ctx, __u64 cgid, const char *device, int op, __u64 calls, __u64 ns);
	/* cumulative jobs a cgroup queued to DRM schedulers (NULL: not asked) */
	void (*jobs)(void *ctx, __u64 cgid, __u64 jobs);
	void *ctx;
};

/*
 * Open, configure for @hier, load and attach: syscalls/sys_{enter,exit}_ioctl
 * (tracefs is mounted at /sys/kernel/tracing when absent), else raw
 * sys_enter/sys_exit (or that at once with @force_raw_tp). Devices are found
 * under @dev_root (NULL: "/dev") and at @extra_paths (comma-separated
 * absolute paths, or NULL); a file whose name starts with "nvidia" or whose
 * major is an NVIDIA driver's has its ioctls sorted into ops. Returns 0,
 * -EOPNOTSUPP with @err set when neither hook attaches (the agent runs
 * without GPU counts), or another negative errno.
 */
int gpu__open(struct pm_gpu **out, enum pm_hier hier, const char *dev_root, const char *extra_paths,
	      bool force_raw_tp, char *err, size_t errlen);
/* "syscalls" or "raw_syscalls" */
const char *gpu__attach_mode(const struct pm_gpu *g);
/*
 * Rescan the device files; returns the number of GPU devices counted now, or
 * a negative errno when the programs could not be attached for the first
 * device (tried again at the next call). The programs are attached only
 * while there is a device: every syscall pays for a syscall tracepoint.
 */
int gpu__refresh(struct pm_gpu *g);
/* The labels of the devices counted now, at most @max; returns how many. */
size_t gpu__devices(struct pm_gpu *g, char names[][32], size_t max);
/* Once per (cgroup, device, op), values summed over CPUs. */
int gpu__read(struct pm_gpu *g, const struct pm_gpu_visitor *v);
/* A dead cgroup's entries go at the next read. 0, or -ENOMEM (to be tried again). */
int gpu__remove(struct pm_gpu *g, __u64 cgid);
void gpu__errors(struct pm_gpu *g, __u64 errs[PM_GPU_ERR_MAX]);
int gpu__refusals(struct pm_gpu *g, pm_refusal_fn fn, void *ctx);
void gpu__close(struct pm_gpu *g);

/* ---- agent/signal/cuda.c: loads bpf/cuda.bpf.c: uprobes on libcuda.so ---- */
#include <podmeter/cuda.h>

struct pm_cuda;

struct pm_cuda_visitor {
	/*
	 * once per cgroup, values summed over CPUs: counters cumulative,
	 * bytes_held what the cgroup holds now (never negative)
	 */
	void (*usage)(void *ctx, __u64 cgid, const struct pm_cuda_val *sum);
	void *ctx;
};

/*
 * Open, configure for @hier and load; nothing is attached until a scan finds
 * a libcuda mapped by a process under @proc_root. Returns 0 or a negative
 * errno with @err set.
 */
int cuda__open(struct pm_cuda **out, enum pm_hier hier, const char *proc_root, char *err,
	       size_t errlen);
/* A process of a pod, handed to the library scanner. */
struct pm_cuda_job {
	int pid;
	__u64 cgid;   /* its cgroup */
	__u64 pod;    /* its pod's key: the per-pod share of the libraries table */
	__u64 ran_ns; /* its cgroup's CPU time at the walk; 0 = not known (scanned when due) */
};

/*
 * The library scanner: a thread of its own (it inherits the caller's
 * capabilities: CAP_SYS_PTRACE for other processes' roots and maps, and
 * what uprobes need). Start it once the caller holds only those.
 */
int cuda__start(struct pm_cuda *c);
/*
 * Hand the scanner the pods' processes of a walk; returns at once (-ENOMEM
 * at worst). It looks for libcuda.so* in their maps and attaches to each
 * file not seen before: a pid's maps are read when it is new, then at
 * growing intervals (5 s up to 60 s) while it maps no libcuda, and not
 * again once it does (its start time is checked every 30 s, against pid
 * reuse). A round not begun when the next walk's arrives is replaced.
 */
int cuda__scan(struct pm_cuda *c, const struct pm_cuda_job *jobs, size_t n);
/*
 * Files refused so far, by reason; and in @stuck, once per file, what the
 * scanner has been doing for more than 30 s ("" otherwise).
 */
void cuda__refusals(struct pm_cuda *c, uint64_t out[PM_CUDA_REFUSE_MAX], char *stuck, size_t len);
/* Libraries with probes attached so far. */
size_t cuda__libraries(const struct pm_cuda *c);
/* Visit every cgroup with CUDA use; now and then first releases dead processes' memory. */
int cuda__read(struct pm_cuda *c, const struct pm_cuda_visitor *v);
int cuda__remove(struct pm_cuda *c, const __u64 *cgids, size_t n);
void cuda__errors(struct pm_cuda *c, __u64 errs[PM_CUDA_ERR_MAX]);
void cuda__close(struct pm_cuda *c);

/* ---- agent/signal/nvml.c: per-process GPU utilisation from libnvidia-ml, when present ---- */
struct pm_nvml;

/* One process on one GPU: the driver's utilisation figures over its last sample period. */
struct pm_nvml_proc {
	__u32 pid;	/* in the host's pid namespace */
	__u32 gpu;	/* NVML device index */
	__u32 sm_util;	/* percent */
	__u32 mem_util; /* percent of memory bandwidth */
	__u32 enc_util; /* percent */
	__u32 dec_util; /* percent */
	__u64 ts_us;	/* CPU time of the sample */
};

/*
 * dlopen @library (NULL: "libnvidia-ml.so.1"), nvmlInit and list the GPUs.
 * -ENOENT with @err set when the library is absent: the agent goes on
 * without utilisation. Never fails the agent.
 */
int nvml__open(struct pm_nvml **out, const char *library, char *err, size_t errlen);
unsigned int nvml__devices(const struct pm_nvml *n);
/*
 * @fn once per process sample newer than the last call's, on every GPU.
 * Returns 0, or the first device's error (others are still read).
 */
int nvml__process_util(struct pm_nvml *n, void (*fn)(void *ctx, const struct pm_nvml_proc *p),
		       void *ctx);
void nvml__close(struct pm_nvml *n);
/* For podmeter check: whether NVML loads and initialises; @detail says what or why not. */
bool nvml__available(const char *library, char *detail, size_t len);

#endif /* PODMETER_AGENT_H */
