// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Collector: BPF map totals per cgroup id -> cgroups found by walking the
 * hierarchy -> pods (podpath) -> one immutable snapshot per collection.
 *
 * Every cgroup's total is kept monotonic. A cgroup that disappears from the
 * hierarchy is read one last time at the next collection, its total is folded
 * into its pod (or node overhead), and its map entry is removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <podmeter/agent.h>
#include <podmeter/pin.h>
#include <podmeter/cgroupfs.h>
#include <podmeter/cost.h>
#include <podmeter/detect.h>
#include <podmeter/esc.h>
#include <podmeter/overhead.h>
#include <podmeter/podpath.h>
#include <podmeter/u64map.h>

#define WALK_EVERY_TICKS	5	/* also walked at once when an unknown id shows up */
#define WALK_MAX_DEPTH		32
#define POD_LINGER_S		120	/* a gone pod stays in snapshots this long */
#define DEAD_READS		2	/* reads a dead cgroup is seen dead, unheld, before retiring */
#define TOMB_S			60	/* a retired cgroup's id is remembered this long */
#define NS_PER_S		1e9
#define STALL_TICKS		5	/* no periodic tick for this many intervals: stalled ... */
#define STALL_MIN_NS		(15 * 1000000000ULL)	/* ... and at least this long */

/* What a collection is doing: named in the log when it stalls. */
enum collect_phase {
	PH_IDLE,
	PH_READ_CPU,
	PH_READ_MEM,
	PH_READ_NET,
	PH_READ_PROC,
	PH_READ_GPU,
	PH_AGE,
	PH_WALK,
	PH_SNAPSHOT,
	PH_LABEL,
	PH_COST,
	PH_DETECT,
	PH_MAX,
};

static const char *const phase_names[PH_MAX] = {
	[PH_IDLE] = "waiting for the next tick",
	[PH_READ_CPU] = "reading the CPU counters",
	[PH_READ_MEM] = "reading the memory counters",
	[PH_READ_NET] = "reading the network counters",
	[PH_READ_PROC] = "reading the process counters",
	[PH_READ_GPU] = "reading the GPU counters",
	[PH_AGE] = "retiring removed cgroups",
	[PH_WALK] = "walking the cgroup hierarchy",
	[PH_SNAPSHOT] = "building the snapshot",
	[PH_LABEL] = "labelling pods",
	[PH_COST] = "pricing",
	[PH_DETECT] = "judging idle and zombie pods",
};

struct pm_net_counts {
	__u64 bytes[PM_NET_DIRS][PM_NET_CLASSES];
	__u64 packets[PM_NET_DIRS][PM_NET_CLASSES];
	__u64 retransmits;
};

static void net_add(struct pm_net_counts *to, const struct pm_net_counts *from)
{
	int d, k;

	for (d = 0; d < PM_NET_DIRS; d++) {
		for (k = 0; k < PM_NET_CLASSES; k++) {
			to->bytes[d][k] += from->bytes[d][k];
			to->packets[d][k] += from->packets[d][k];
		}
	}
	to->retransmits += from->retransmits;
}

/* GPU driver calls of a cgroup or a pod, by device (the collector's table) and op. */
struct gpu_counts {
	__u64 calls[PM_GPU_MAX_DEVS][PM_GPU_OPS];
	__u64 ns[PM_GPU_MAX_DEVS][PM_GPU_OPS];
};

static void gpu_add(struct gpu_counts *to, const struct gpu_counts *from)
{
	int d, o;

	for (d = 0; d < PM_GPU_MAX_DEVS; d++) {
		for (o = 0; o < PM_GPU_OPS; o++) {
			to->calls[d][o] += from->calls[d][o];
			to->ns[d][o] += from->ns[d][o];
		}
	}
}

/* Counters of a cgroup's CUDA use that survive it (held memory goes with it). */
static void cuda_add(struct pm_cuda_snap *to, const struct pm_cuda_val *from, bool held)
{
	to->launches += from->launches;
	to->allocs += from->allocs;
	to->frees += from->frees;
	to->memcpy_bytes += from->bytes_copied;
	to->sync_calls += from->sync_calls;
	to->sync_ns += from->sync_ns;
	if (held && from->bytes_held > 0)
		to->memory_bytes += from->bytes_held;
}

struct pod_rec {
	char uid[PM_UID_LEN + 1];
	enum pm_qos qos;
	__u64 retired_oncpu_ns;		/* from its cgroups that are gone */
	__u64 retired_runq_ns;
	__u64 retired_faults;
	__u64 retired_oom_kills;
	struct pm_net_counts retired_net;
	__u64 retired_starts;
	struct gpu_counts *retired_gpu;	/* NULL until a gone cgroup had some */
	struct pm_cuda_val retired_cuda;
	__u64 retired_gpu_jobs;
	__u64 retired_refused[PM_TABLES];
	__u64 retired_throttled_periods, retired_throttled_usec;
	char path[PATH_MAX];		/* the pod cgroup, from the hierarchy root */
	long long working_set;		/* bytes, read at each walk; -1 = none */
	int live_cgroups;		/* counted by the last walk */
	int refs;			/* cg_recs pointing here */
	size_t snap_idx;
	double gone_since;		/* unix s; 0 while it has cgroups */
	struct pod_rec *next_same_hash;
	struct pod_rec *next_expired;
};

struct cg_rec {
	__u64 cgid;
	struct pod_rec *pod;		/* NULL: node overhead */
	struct pm_oh_rec *grp;		/* its overhead group (not in a pod); NULL: "other" */
	char container_id[PM_CID_MAX + 1];
	enum pm_runtime runtime;
	__u64 oncpu_ns;			/* monotonic totals, in-flight slice included */
	__u64 runq_ns;
	__u64 map_oncpu_ns;		/* this read: map values ... */
	__u64 map_runq_ns;
	__u64 inflight_ns;		/* ... plus what the map does not hold yet */
	__u64 inflight_runq_ns;
	__u64 rss_bytes[PM_MEM_KINDS];	/* this read */
	__u64 faults;			/* cumulative */
	__u64 oom_kills;
	struct pm_net_counts net;	/* cumulative */
	__u64 starts;			/* cumulative */
	__u64 procs;			/* cgroup.procs lines at the last walk */
	long long working_set;		/* a container's, read at each walk; -1 = none */
	__u64 throttled_periods;	/* a container's cpu.stat, read at each walk */
	__u64 throttled_usec;
	struct gpu_counts *gpu;		/* cumulative; NULL until it makes a GPU ioctl */
	struct pm_cuda_val cuda;	/* cumulative, bytes_held now */
	__u64 gpu_jobs;			/* DRM scheduler jobs queued, cumulative */
	__u64 refused[PM_TABLES];	/* table inserts refused, cumulative */
	double gpu_util;		/* NVML, this read: sum over its processes; < 0 = none */
	__u64 walk_gen;			/* last walk that found it */
	bool dead;			/* not found by the last walk */
	unsigned int dead_reads;	/* reads since, with no CPU holding any of it */
	bool held;			/* a CPU still holds some of it */
	double tomb_since;		/* retired (totals folded into its pod) at; 0 = live */
	bool in_map;
	bool parsed;			/* path classified (pod or not) */
};

struct pm_collector {
	pthread_mutex_t lock;
	/* read without the lock, by /healthz and the watchdog */
	_Atomic __u64 tick_end_ns;	/* monotonic; 0 before the first periodic tick */
	_Atomic int phase;		/* enum collect_phase */
	_Atomic __u64 phase_ns;		/* entered at */
	atomic_bool stall_logged;
	__u64 stall_ns;
	struct pm_cpu *cpu;
	struct pm_mem *mem;
	struct pm_net *net;		/* NULL: no per-pod network here */
	struct pm_proc *proc;
	struct pm_gpu *gpu;		/* NULL: no GPU driver counts here */
	struct pm_cuda *cuda;		/* NULL: no CUDA uprobes */
	struct pm_nvml *nvml;		/* NULL: no NVML */
	char gpu_devs[PM_GPU_MAX_DEVS][32];	/* device labels; index = gpu_counts row */
	int n_gpu_devs;
	struct pm_cuda_job *jobs;	/* pods' processes, from the last walk */
	size_t n_jobs, cap_jobs;
	struct u64map pid_cg;		/* pid -> cg_rec, from the last walk (NVML) */
	struct pm_kubemeta *meta;
	size_t last_unknown;		/* pods without metadata at the last collection */
	struct zombie_seen {
		__u64 cgid;
		struct pm_zombie_snap z;
	} *zombies;			/* this read's */
	size_t n_zombies, cap_zombies;
	char mem_root[PATH_MAX];	/* memory controller's hierarchy; "" = none */
	bool mem_v2;
	char cpu_root[PATH_MAX];	/* cpu controller's hierarchy (throttling); "" = none */
	bool cpu_v2;
	enum pm_hier hier;
	char root[PATH_MAX];		/* hierarchy walked for cgroup ids */
	struct u64map cgroups;		/* cgid -> cg_rec */
	struct u64map pods;		/* hash(uid) -> pod_rec chain */
	__u64 walk_gen;
	unsigned int ticks_since_walk;
	bool unknown_seen;
	__u64 retired_overhead_ns;
	struct pm_overhead *oh;		/* node overhead by unit, slice, container */
	int oh_top;
	bool retired_full_warned;
	__u64 retired_pods_ns;		/* of pods no longer tracked */
	struct pm_agent_stats stats;
	struct pm_snapshot *snap;
	struct timespec snap_mono;
	char proc_root[PATH_MAX];
	struct pm_prices prices;	/* in use: configured, or split from the node price */
	struct pm_node_capacity capacity;
	struct pm_snapshot *cost_base;	/* the last periodic tick's: cost intervals start there */
	struct pm_detector *detector;
	void (*report_stats)(void *ctx, struct pm_report_stats *st);
	void *report_ctx;
};

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / NS_PER_S;
}

static struct timespec mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static __u64 mono_ns(void)
{
	struct timespec ts = mono_now();

	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void phase(struct pm_collector *c, enum collect_phase p)
{
	atomic_store(&c->phase_ns, mono_ns());
	atomic_store(&c->phase, p);
}

static double mono_diff(struct timespec a, struct timespec b)
{
	return (a.tv_sec - b.tv_sec) + (a.tv_nsec - b.tv_nsec) / NS_PER_S;
}

static __u64 uid_hash(const char *uid)
{
	__u64 h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *uid; uid++)
		h = (h ^ (unsigned char)*uid) * 0x100000001b3ULL;
	return h;
}

static struct pod_rec *pod_get(struct pm_collector *c, const struct pm_pod_ident *id)
{
	__u64 h = uid_hash(id->uid);
	struct pod_rec *head = u64map__get(&c->pods, h), *p;
	struct pm_retired_val rv;

	for (p = head; p; p = p->next_same_hash)
		if (!strcmp(p->uid, id->uid))
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->uid, id->uid, sizeof(p->uid));
	p->qos = id->qos;
	p->working_set = -1;
	/* what its removed containers ran before this agent started */
	if (c->cpu && !cpu__retired_get(c->cpu, p->uid, &rv)) {
		p->retired_oncpu_ns = rv.oncpu_ns;
		p->retired_runq_ns = rv.runq_ns;
	}
	p->next_same_hash = head;
	if (u64map__put(&c->pods, h, p)) {
		free(p);
		return NULL;
	}
	return p;
}

static struct cg_rec *cg_get(struct pm_collector *c, __u64 cgid)
{
	struct cg_rec *r = u64map__get(&c->cgroups, cgid);

	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cgid = cgid;
	r->working_set = -1;
	if (u64map__put(&c->cgroups, cgid, r)) {
		free(r);
		return NULL;
	}
	return r;
}

/* ---- reading the map ---- */

/* A cgroup id read from BPF: one the walk has not found yet asks for a walk. */
static struct cg_rec *cg_seen(struct pm_collector *c, __u64 cgid)
{
	struct cg_rec *r = u64map__get(&c->cgroups, cgid);

	if (r)
		return r;
	c->unknown_seen = true;
	return cg_get(c, cgid);
}

static void visit_cgroup(void *ctx, __u64 cgid, const struct pm_cpu_val *sum)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = cg_seen(c, cgid);

	if (!r)
		return;
	r->in_map = true;
	r->map_oncpu_ns = sum->oncpu_ns;
	r->map_runq_ns = sum->runq_ns;
	c->stats.cgroups_tracked++;
}

static void visit_inflight(void *ctx, __u64 cgid, __u64 oncpu_ns, __u64 runq_ns)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = cgid ? cg_seen(c, cgid) : NULL;

	if (!r)
		return;
	r->inflight_ns += oncpu_ns;
	r->inflight_runq_ns += runq_ns;
}

static void visit_held(void *ctx, __u64 cgid)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = cgid ? u64map__get(&c->cgroups, cgid) : NULL;

	if (r)
		r->held = true;
}

static void clear_read_marks(struct pm_collector *c)
{
	struct cg_rec *r;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		r = v;
		r->held = false;
		r->in_map = false;
		r->map_oncpu_ns = 0;
		r->map_runq_ns = 0;
		r->gpu_util = -1;
		memset(r->rss_bytes, 0, sizeof(r->rss_bytes));
	}
}

static void visit_mem_events(void *ctx, __u64 cgid, __u64 faults, __u64 oom_kills)
{
	struct cg_rec *r = cg_seen(ctx, cgid);

	if (!r || r->tomb_since)
		return;
	if (faults > r->faults)
		r->faults = faults;
	if (oom_kills > r->oom_kills)
		r->oom_kills = oom_kills;
}

static void visit_rss(void *ctx, __u64 cgid, int kind, __u64 bytes)
{
	struct cg_rec *r = cg_seen(ctx, cgid);

	if (r && kind >= 0 && kind < PM_MEM_KINDS)
		r->rss_bytes[kind] += bytes;
}

static void visit_traffic(void *ctx, __u64 cgid, __u32 dir, __u32 cls, __u64 bytes,
			  __u64 packets)
{
	struct cg_rec *r = cg_seen(ctx, cgid);

	if (!r || r->tomb_since)
		return;
	if (bytes > r->net.bytes[dir][cls])
		r->net.bytes[dir][cls] = bytes;
	if (packets > r->net.packets[dir][cls])
		r->net.packets[dir][cls] = packets;
}

static void visit_retransmits(void *ctx, __u64 cgid, __u64 n)
{
	struct cg_rec *r = cg_seen(ctx, cgid);

	if (r && !r->tomb_since && n > r->net.retransmits)
		r->net.retransmits = n;
}

static void visit_starts(void *ctx, __u64 cgid, __u64 n)
{
	struct cg_rec *r = cg_seen(ctx, cgid);

	if (r && !r->tomb_since && n > r->starts)
		r->starts = n;
}

static void visit_zombie(void *ctx, __u64 cgid, __u32 pid, __u32 ppid, const char *comm,
			 const char *parent_comm, double age_s)
{
	struct pm_collector *c = ctx;
	struct zombie_seen *z;

	if (c->n_zombies == c->cap_zombies) {
		size_t cap = c->cap_zombies ? c->cap_zombies * 2 : 64;

		z = realloc(c->zombies, cap * sizeof(*z));
		if (!z)
			return;
		c->zombies = z;
		c->cap_zombies = cap;
	}
	z = &c->zombies[c->n_zombies++];
	z->cgid = cgid;
	z->z.pid = pid;
	z->z.ppid = ppid;
	snprintf(z->z.comm, sizeof(z->z.comm), "%s", comm);
	snprintf(z->z.parent_comm, sizeof(z->z.parent_comm), "%s", parent_comm);
	z->z.age_seconds = age_s;
}

static void visit_oom(void *ctx, __u64 cgid, __u32 pid, const char *comm)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = u64map__get(&c->cgroups, cgid);

	char ecomm[PM_ESC_BUF], euid[PM_ESC_BUF];

	fprintf(stderr, "oom: pid %u (\"%s\") killed in %s%s\n", pid,
		esc__str(ecomm, sizeof(ecomm), comm),
		r && r->pod ? "pod " : "cgroup outside pods",
		r && r->pod ? esc__str(euid, sizeof(euid), r->pod->uid) : "");
}

/* The row of a device label in the GPU tables; -1 when the table is full. */
static int gpu_dev_index(struct pm_collector *c, const char *device)
{
	int i;

	for (i = 0; i < c->n_gpu_devs; i++)
		if (!strcmp(c->gpu_devs[i], device))
			return i;
	if (c->n_gpu_devs == PM_GPU_MAX_DEVS)
		return -1;
	snprintf(c->gpu_devs[c->n_gpu_devs], sizeof(c->gpu_devs[0]), "%s", device);
	return c->n_gpu_devs++;
}

static void visit_gpu_ioctl(void *ctx, __u64 cgid, const char *device, int o, __u64 calls,
			    __u64 ns)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = cg_seen(c, cgid);
	int d = gpu_dev_index(c, device);

	if (!r || d < 0 || o < 0 || o >= PM_GPU_OPS)
		return;
	if (!r->gpu && !(r->gpu = calloc(1, sizeof(*r->gpu))))
		return;
	r->gpu->calls[d][o] = calls;
	r->gpu->ns[d][o] = ns;
}

static void visit_gpu_jobs(void *ctx, __u64 cgid, __u64 jobs)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = cg_seen(c, cgid);

	if (r)
		r->gpu_jobs = jobs;
}

static void visit_cuda(void *ctx, __u64 cgid, const struct pm_cuda_val *sum)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = cg_seen(c, cgid);

	if (r)
		r->cuda = *sum;
}

_Static_assert(PM_SNAP_TABLES == PM_TABLES, "the snapshot's tables are the kernel's");

/* A retired cgroup's count is in its pod already: its pair goes. */
static bool visit_refusal(void *ctx, __u64 cgid, __u32 table, __u64 n)
{
	struct cg_rec *r = cg_seen(ctx, cgid);

	if (!r || table >= PM_TABLES)
		return false;
	if (r->tomb_since)
		return true;
	if (n > r->refused[table])
		r->refused[table] = n;
	return false;
}

/* Refusals by cgroup; CUDA's stay node-wide until agent/cuda.c reads its map. */
static void read_refusals(struct pm_collector *c)
{
	cpu__refusals(c->cpu, visit_refusal, c);
	mem__refusals(c->mem, visit_refusal, c);
	proc__refusals(c->proc, visit_refusal, c);
	if (c->gpu)
		gpu__refusals(c->gpu, visit_refusal, c);
}

/* NVML's per-process SM utilisation, to the process's cgroup (as of the last walk). */
static void visit_nvml(void *ctx, const struct pm_nvml_proc *p)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = u64map__get(&c->pid_cg, p->pid);

	if (!r)
		return;
	if (r->gpu_util < 0)
		r->gpu_util = 0;
	r->gpu_util += p->sm_util / 100.0;
}

/* ---- walking the hierarchy ---- */

/* Pod or node overhead, from the cgroup's path; once per cgroup. */
static void classify(struct pm_collector *c, struct cg_rec *r, const char *rel)
{
	struct pm_pod_ident id;
	int err;

	if (r->parsed)
		return;
	char erel[PM_ESC_BUF];

	err = podpath__parse(rel, &id);
	if (err == -EINVAL)
		fprintf(stderr, "warning: cgroup: malformed pod cgroup path \"%s\"; "
				"counting it as node overhead\n", esc__str(erel, sizeof(erel), rel));
	if (err) {
		r->parsed = true;
		r->grp = overhead__ref(c->oh, rel);
		return;
	}
	r->pod = pod_get(c, &id);
	if (!r->pod)
		return;	/* out of memory: classified again next time */
	r->parsed = true;
	r->pod->refs++;
	if (id.runtime == PM_RT_NONE && !r->pod->path[0])
		snprintf(r->pod->path, sizeof(r->pod->path), "%s", rel);
	memcpy(r->container_id, id.container_id, sizeof(r->container_id));
	r->runtime = id.runtime;
}

/*
 * Lines of a pod cgroup's cgroup.procs: its processes, by the kernel's list.
 * Their pids go to the CUDA library scanner and NVML's per-process figures.
 */
static __u64 count_procs(struct pm_collector *c, struct cg_rec *r, const char *rel)
{
	char path[2 * PATH_MAX], line[32];
	struct pm_cuda_job *grown;
	__u64 n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", c->root, rel);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		int pid = atoi(line);

		n++;
		if (pid <= 0)
			continue;
		if (c->n_jobs == c->cap_jobs) {
			c->cap_jobs = c->cap_jobs ? c->cap_jobs * 2 : 256;
			grown = realloc(c->jobs, c->cap_jobs * sizeof(*grown));
			if (!grown) {
				c->cap_jobs = c->n_jobs;
				continue;
			}
			c->jobs = grown;
		}
		c->jobs[c->n_jobs++] = (struct pm_cuda_job){
			.pid = pid, .cgid = r->cgid, .pod = uid_hash(r->pod->uid) };
		u64map__put(&c->pid_cg, (uint64_t)pid, r);
	}
	fclose(f);
	return n;
}

/* A "key value" line of a cgroup file; -1 when absent. */
static long long cg_stat(const char *path, const char *key)
{
	char name[64];
	long long v;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, key)) {
			fclose(f);
			return v;
		}
	}
	fclose(f);
	return -1;
}

/*
 * Working set as the kubelet and cAdvisor count it: the memory cgroup's
 * usage less its inactive file pages. -1 when there is no memory cgroup.
 */
static long long working_set(const struct pm_collector *c, const char *rel)
{
	char path[2 * PATH_MAX + 32];
	long long usage, inactive;
	FILE *f;

	if (!c->mem_root[0] || !rel[0])
		return -1;
	snprintf(path, sizeof(path), "%s/%s/%s", c->mem_root, rel,
		 c->mem_v2 ? "memory.current" : "memory.usage_in_bytes");
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &usage) != 1)
		usage = -1;
	fclose(f);
	if (usage < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/memory.stat", c->mem_root, rel);
	inactive = cg_stat(path, c->mem_v2 ? "inactive_file" : "total_inactive_file");
	if (inactive < 0)
		inactive = 0;
	return usage > inactive ? usage - inactive : 0;
}

static long long oh_working_set(void *c, const char *rel)
{
	return working_set(c, rel);
}

/* A container's CPU throttling, from the cpu controller's cpu.stat; kept when unreadable. */
static void read_throttling(const struct pm_collector *c, struct cg_rec *r, const char *rel)
{
	char path[2 * PATH_MAX + 16];
	uint64_t periods, usec;

	if (!c->cpu_root[0])
		return;
	snprintf(path, sizeof(path), "%s/%s/cpu.stat", c->cpu_root, rel);
	if (cgroupfs__cpu_throttling(path, &periods, &usec))
		return;
	r->throttled_periods = periods;
	r->throttled_usec = usec;
}

static void walk_found(struct pm_collector *c, __u64 ino, const char *rel)
{
	struct cg_rec *r = cg_get(c, ino);

	if (!r)
		return;
	r->walk_gen = c->walk_gen;
	r->dead = false;
	classify(c, r, rel);
	if (!r->pod)
		return;
	r->pod->live_cgroups++;
	r->procs = count_procs(c, r, rel);
	/* a container's own, for its allocation; the pod's is read for the pod */
	if (r->container_id[0]) {
		r->working_set = working_set(c, rel);
		read_throttling(c, r, rel);
	}
}

/* Named at birth: a cgroup gone before any walk still lands in its pod. */
static void visit_born(void *ctx, __u64 cgid, const char *path)
{
	struct pm_collector *c = ctx;
	struct cg_rec *r = cg_get(c, cgid);

	if (r && path[0])
		classify(c, r, path);
}

static void walk_dir(struct pm_collector *c, int dfd, char *rel, size_t len, int depth)
{
	struct dirent *de;
	DIR *d;

	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (len + 1 + n >= PATH_MAX || depth >= WALK_MAX_DEPTH)
			continue;
		rel[len] = '/';
		memcpy(rel + len + 1, de->d_name, n + 1);
		/* cgroupfs inode numbers are the kernfs ids BPF sees */
		walk_found(c, de->d_ino, rel);
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			walk_dir(c, sub, rel, len + 1 + n, depth + 1);
		rel[len] = '\0';
	}
	closedir(d);
}

static void walk(struct pm_collector *c)
{
	static char rel[PATH_MAX];
	struct pod_rec *p;
	struct cg_rec *r;
	struct stat st;
	size_t i = 0;
	uint64_t key;
	void *v;
	int fd;

	c->walk_gen++;
	c->stats.walks++;
	c->ticks_since_walk = 0;
	c->n_jobs = 0;
	u64map__free(&c->pid_cg);
	u64map__init(&c->pid_cg);
	while (u64map__next(&c->pods, &i, &key, &v))
		for (p = v; p; p = p->next_same_hash)
			p->live_cgroups = 0;
	fd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "warning: cgroup: open %s: %s; keeping the last view\n", c->root,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	rel[0] = '\0';
	walk_found(c, st.st_ino, "/");
	walk_dir(c, fd, rel, 0, 0);
	for (i = 0; u64map__next(&c->cgroups, &i, &key, &v);) {
		r = v;
		r->dead = r->walk_gen != c->walk_gen;
		if (r->dead) {
			r->procs = 0;
			r->working_set = -1;
		}
	}
}

/* ---- after a read ---- */

/* Fold the in-flight slice in, keeping each total monotonic. */
static void settle(struct pm_collector *c)
{
	struct cg_rec *r;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		r = v;
		if (r->tomb_since)
			continue;
		if (r->map_oncpu_ns + r->inflight_ns > r->oncpu_ns)
			r->oncpu_ns = r->map_oncpu_ns + r->inflight_ns;
		if (r->map_runq_ns + r->inflight_runq_ns > r->runq_ns)
			r->runq_ns = r->map_runq_ns + r->inflight_runq_ns;
		r->inflight_ns = 0;
		r->inflight_runq_ns = 0;
	}
}

/* Bytes sent and received, every peer class. */
static void net_dirs(const struct pm_net_counts *n, uint64_t out[2])
{
	int d, k;

	for (d = 0; d < 2; d++)
		for (out[d] = 0, k = 0; k < PM_NET_CLASSES; k++)
			out[d] += n->bytes[d][k];
}

/* Into its pod (or node overhead), and into the pinned copy a restart reads. */
static void fold(struct pm_collector *c, struct pod_rec *pod, __u64 oncpu_ns, __u64 runq_ns)
{
	struct pm_retired_val v;
	int err;

	if (pod) {
		pod->retired_oncpu_ns += oncpu_ns;
		pod->retired_runq_ns += runq_ns;
		v.oncpu_ns = pod->retired_oncpu_ns;
		v.runq_ns = pod->retired_runq_ns;
	} else {
		c->retired_overhead_ns += oncpu_ns;
		v.oncpu_ns = c->retired_overhead_ns;
		v.runq_ns = 0;
	}
	err = cpu__retired_set(c->cpu, pod ? pod->uid : "", &v);
	if (err && !c->retired_full_warned) {
		fprintf(stderr, "warning: cpu: keep removed cgroups' totals: %s; a restart "
				"would lose them\n", strerror(-err));
		c->retired_full_warned = true;
	}
}

/*
 * Retire a dead cgroup: remove its map entry, fold its totals into its pod
 * (or node overhead), and keep its id for TOMB_S as a tombstone. Returns
 * false when the entry could not be removed (tried again next read).
 */
static bool retire(struct pm_collector *c, struct cg_rec *r, double now)
{
	int err = cpu__remove(c->cpu, r->cgid), t;

	if (err && err != -ENOENT) {
		fprintf(stderr, "warning: cpu: remove cgroup %llu: %s; retrying next tick\n",
			(unsigned long long)r->cgid, strerror(-err));
		return false;
	}
	if (!err)
		c->stats.cgroups_removed++;
	fold(c, r->pod, r->oncpu_ns, r->runq_ns);
	if (r->grp) {
		uint64_t net[2];

		net_dirs(&r->net, net);
		overhead__retire(r->grp, r->oncpu_ns, net);
	}
	/* memory events of a cgroup come only from its tasks: none are left */
	mem__remove(c->mem, r->cgid);
	if (c->net)
		net__remove(c->net, r->cgid);
	proc__remove(c->proc, r->cgid);
	if (c->gpu)
		gpu__remove(c->gpu, r->cgid);
	if (c->cuda)
		cuda__remove(c->cuda, r->cgid);
	if (r->pod && r->gpu && (r->pod->retired_gpu ||
				 (r->pod->retired_gpu = calloc(1, sizeof(*r->gpu)))))
		gpu_add(r->pod->retired_gpu, r->gpu);
	if (r->pod) {
		struct pm_cuda_val *rc = &r->pod->retired_cuda;

		rc->launches += r->cuda.launches;
		rc->allocs += r->cuda.allocs;
		rc->frees += r->cuda.frees;
		rc->bytes_copied += r->cuda.bytes_copied;
		rc->sync_calls += r->cuda.sync_calls;
		rc->sync_ns += r->cuda.sync_ns;
		r->pod->retired_gpu_jobs += r->gpu_jobs;
		r->pod->retired_starts += r->starts;
		r->pod->retired_faults += r->faults;
		r->pod->retired_oom_kills += r->oom_kills;
		r->pod->retired_throttled_periods += r->throttled_periods;
		r->pod->retired_throttled_usec += r->throttled_usec;
		net_add(&r->pod->retired_net, &r->net);
		for (t = 0; t < PM_TABLES; t++)
			r->pod->retired_refused[t] += r->refused[t];
	}
	r->tomb_since = now;
	return true;
}

/*
 * A tombstone whose id is back in the map got a late flush from a CPU: all
 * of that is new, and belongs to the same pod.
 */
static void bury_again(struct pm_collector *c, struct cg_rec *r)
{
	if (!r->in_map || cpu__remove(c->cpu, r->cgid))
		return;
	fold(c, r->pod, r->map_oncpu_ns, r->map_runq_ns);
	if (r->grp)
		overhead__retire(r->grp, r->map_oncpu_ns, (uint64_t[2]){ 0, 0 });
}

/* Returns true when @r may be freed. */
static bool age_cgroup(struct pm_collector *c, struct cg_rec *r, double now)
{
	if (r->tomb_since) {
		bury_again(c, r);
		return now - r->tomb_since > TOMB_S;
	}
	if (!r->dead || r->held) {
		r->dead_reads = 0;
		return false;
	}
	/* read dead and unheld twice: no CPU can still move amounts of it in */
	if (++r->dead_reads >= DEAD_READS)
		retire(c, r, now);
	return false;
}

static void free_cgroups(struct pm_collector *c, struct cg_rec **gone, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (gone[i]->pod)
			gone[i]->pod->refs--;
		if (gone[i]->grp)
			overhead__unref(gone[i]->grp);
		u64map__del(&c->cgroups, gone[i]->cgid);
		free(gone[i]->gpu);
		free(gone[i]);
	}
}

/*
 * Cgroups the walk no longer finds: read a last time, retired, remembered
 * for a while, then forgotten.
 */
static void age_cgroups(struct pm_collector *c, double now)
{
	struct cg_rec *gone[256];
	size_t i = 0, n = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->cgroups, &i, &key, &v))
		if (age_cgroup(c, v, now) && n < 256)
			gone[n++] = v;
	/* at most 256 a read: the rest go next time */
	free_cgroups(c, gone, n);
}

static void pod_free(struct pm_collector *c, struct pod_rec *p)
{
	__u64 h = uid_hash(p->uid);
	struct pod_rec *head = u64map__get(&c->pods, h), **pp;

	for (pp = &head; *pp; pp = &(*pp)->next_same_hash) {
		if (*pp == p) {
			*pp = p->next_same_hash;
			break;
		}
	}
	if (head)
		u64map__put(&c->pods, h, head);	/* a replace: cannot fail */
	else
		u64map__del(&c->pods, h);
	c->retired_pods_ns += p->retired_oncpu_ns;
	cpu__retired_del(c->cpu, p->uid);
	free(p->retired_gpu);
	free(p);
}

/* Pods without cgroups linger in snapshots for POD_LINGER_S, then go. */
static void age_pods(struct pm_collector *c, double now)
{
	struct pod_rec *expired = NULL, *p, *next;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->pods, &i, &key, &v)) {
		for (p = v; p; p = p->next_same_hash) {
			if (p->live_cgroups)
				p->gone_since = 0;
			else if (!p->gone_since)
				p->gone_since = now;
		}
	}
	/* unlink outside the iteration: collect through a list of their own */
	for (i = 0; u64map__next(&c->pods, &i, &key, &v);) {
		for (p = v; p; p = p->next_same_hash) {
			if (!p->refs && p->gone_since && now - p->gone_since > POD_LINGER_S) {
				p->next_expired = expired;
				expired = p;
			}
		}
	}
	for (p = expired; p; p = next) {
		next = p->next_expired;
		pod_free(c, p);
	}
}

/* ---- snapshot ---- */

static int cmp_pod(const void *a, const void *b)
{
	return strcmp((*(struct pod_rec *const *)a)->uid, (*(struct pod_rec *const *)b)->uid);
}

static struct pm_container_snap *container_in(struct pm_pod_snap *ps, const struct cg_rec *r)
{
	struct pm_container_snap *cs;
	size_t i;

	for (i = 0; i < ps->n_containers; i++)
		if (!strcmp(ps->containers[i].id, r->container_id))
			return &ps->containers[i];
	cs = realloc(ps->containers, (ps->n_containers + 1) * sizeof(*cs));
	if (!cs)
		return NULL;
	ps->containers = cs;
	cs = &cs[ps->n_containers++];
	memset(cs, 0, sizeof(*cs));
	memcpy(cs->id, r->container_id, sizeof(cs->id));
	cs->runtime = r->runtime;
	cs->working_set_bytes = -1;
	cs->cpu_request_milli = cs->memory_request_bytes = -1;
	cs->cpu_limit_milli = cs->memory_limit_bytes = -1;
	return cs;
}

/* Pods sorted by uid; returns the count, or -ENOMEM. */
static ssize_t sorted_pods(struct pm_collector *c, struct pod_rec ***out)
{
	struct pod_rec **pods, *p;
	size_t i = 0, n = 0, cap = c->pods.len + 8;
	uint64_t key;
	void *v;

	pods = malloc(cap * sizeof(*pods));
	if (!pods)
		return -ENOMEM;
	while (u64map__next(&c->pods, &i, &key, &v)) {
		for (p = v; p; p = p->next_same_hash) {
			if (n == cap) {
				struct pod_rec **grown = realloc(pods, (cap *= 2) * sizeof(*pods));

				if (!grown) {
					free(pods);
					return -ENOMEM;
				}
				pods = grown;
			}
			pods[n++] = p;
		}
	}
	qsort(pods, n, sizeof(*pods), cmp_pod);
	*out = pods;
	return n;
}

/* At each walk: the working set changes slowly and costs two reads a pod. */
static void refresh_working_sets(struct pm_collector *c)
{
	struct pod_rec *p;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->pods, &i, &key, &v))
		for (p = v; p; p = p->next_same_hash)
			p->working_set = working_set(c, p->path);
}

/* Seconds from nanoseconds summed as integers: counters never step back. */
static void finish_seconds(struct pm_snapshot *s)
{
	size_t i, k;

	for (i = 0; i < s->n_pods; i++) {
		struct pm_pod_snap *ps = &s->pods[i];

		ps->cpu_seconds = ps->cpu_ns / NS_PER_S;
		ps->runq_seconds = ps->runq_ns / NS_PER_S;
		for (k = 0; k < ps->n_containers; k++) {
			ps->containers[k].cpu_seconds = ps->containers[k].cpu_ns / NS_PER_S;
			ps->containers[k].runq_seconds = ps->containers[k].runq_ns / NS_PER_S;
		}
	}
}

static void add_net(struct pm_pod_snap *ps, const struct pm_net_counts *n)
{
	int d, k;

	for (d = 0; d < PM_NET_DIRS; d++) {
		for (k = 0; k < PM_NET_CLASSES; k++) {
			ps->net_bytes[d][k] += n->bytes[d][k];
			ps->net_packets[d][k] += n->packets[d][k];
		}
	}
	ps->tcp_retransmits += n->retransmits;
}

/* This read's zombies, to their pods: all counted, the first few listed. */
static void add_zombies(struct pm_collector *c, struct pm_snapshot *s)
{
	struct pm_pod_snap *ps;
	struct cg_rec *r;
	size_t i;

	for (i = 0; i < c->n_zombies; i++) {
		r = u64map__get(&c->cgroups, c->zombies[i].cgid);
		if (!r || !r->pod || r->tomb_since)
			continue;
		ps = &s->pods[r->pod->snap_idx];
		ps->zombies++;
		if (ps->n_zombie_list < PM_SNAP_ZOMBIES)
			ps->zombie_list[ps->n_zombie_list++] = c->zombies[i].z;
	}
}

/* Add the live cgroups to their pods and containers, or to node overhead. */
static int add_cgroups(struct pm_collector *c, struct pm_snapshot *s, struct gpu_counts **accs,
		       __u64 *pods_ns, __u64 *overhead_ns)
{
	struct pm_container_snap *cs;
	struct pm_pod_snap *ps;
	struct cg_rec *r;
	size_t i = 0;
	uint64_t key;
	void *v;
	int k;

	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		r = v;
		if (r->tomb_since)
			continue;	/* folded into its pod already */
		if (!r->pod) {
			uint64_t net[2];

			*overhead_ns += r->oncpu_ns;
			net_dirs(&r->net, net);
			if (r->grp)
				overhead__add(r->grp, r->oncpu_ns, net);
			continue;
		}
		ps = &s->pods[r->pod->snap_idx];
		ps->cpu_ns += r->oncpu_ns;
		ps->runq_ns += r->runq_ns;
		ps->page_faults += r->faults;
		ps->oom_kills += r->oom_kills;
		add_net(ps, &r->net);
		ps->process_starts += r->starts;
		ps->processes += r->procs;
		for (k = 0; k < PM_TABLES; k++)
			ps->table_refusals[k] += r->refused[k];
		cuda_add(&ps->cuda, &r->cuda, true);
		ps->gpu_jobs += r->gpu_jobs;
		if (r->gpu_util >= 0)
			ps->gpu_utilization = (ps->gpu_utilization > 0 ? ps->gpu_utilization : 0) +
					      r->gpu_util;
		if (r->gpu) {
			struct gpu_counts **acc = &accs[r->pod->snap_idx];

			if (!*acc && !(*acc = calloc(1, sizeof(**acc))))
				return -ENOMEM;
			gpu_add(*acc, r->gpu);
		}
		for (k = 0; k < PM_MEM_KINDS; k++)
			ps->rss_bytes[k] += r->rss_bytes[k];
		*pods_ns += r->oncpu_ns;
		/* the pod's own cgroup is a container only if tasks ran in it */
		if (!r->container_id[0] && !r->oncpu_ns && !r->runq_ns)
			continue;
		cs = container_in(ps, r);
		if (!cs)
			return -ENOMEM;
		cs->cpu_ns += r->oncpu_ns;
		cs->runq_ns += r->runq_ns;
		cs->oom_kills += r->oom_kills;
		cs->throttled_periods += r->throttled_periods;
		cs->throttled_usec += r->throttled_usec;
		ps->throttled_periods += r->throttled_periods;
		ps->throttled_usec += r->throttled_usec;
		if (r->working_set >= 0)
			cs->working_set_bytes = (cs->working_set_bytes > 0 ? cs->working_set_bytes : 0) +
						r->working_set;
	}
	return 0;
}

/* Fields of /proc/meminfo, in bytes; -1 when absent. */
static void meminfo(const char *proc_root, long long *total, long long *avail)
{
	char path[PATH_MAX + 16], name[64];
	long long kb;
	FILE *f;

	*total = *avail = -1;
	snprintf(path, sizeof(path), "%s/meminfo", proc_root);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fscanf(f, "%63s %lld%*[^\n]", name, &kb) == 2) {
		if (!strcmp(name, "MemTotal:"))
			*total = kb * 1024;
		else if (!strcmp(name, "MemAvailable:"))
			*avail = kb * 1024;
	}
	fclose(f);
}

/* Memory in use on the node that no pod's working set holds. */
static long long memory_overhead(const struct pm_collector *c, const struct pm_snapshot *s)
{
	long long total, avail, used;
	size_t i;

	meminfo(c->proc_root, &total, &avail);
	if (total < 0 || avail < 0)
		return -1;
	used = total - avail;
	for (i = 0; i < s->n_pods; i++)
		if (s->pods[i].working_set_bytes > 0)
			used -= s->pods[i].working_set_bytes;
	return used > 0 ? used : 0;
}

/* A pod's driver calls as the snapshot lists them: non-zero (device, op) pairs. */
static int gpu_ops_of(const struct pm_collector *c, const struct gpu_counts *g,
		      struct pm_pod_snap *ps)
{
	size_t n = 0;
	int d, o;

	for (d = 0; d < c->n_gpu_devs; d++)
		for (o = 0; o < PM_GPU_OPS; o++)
			n += g->calls[d][o] || g->ns[d][o];
	if (!n)
		return 0;
	ps->gpu_ops = calloc(n, sizeof(*ps->gpu_ops));
	if (!ps->gpu_ops)
		return -ENOMEM;
	for (d = 0; d < c->n_gpu_devs; d++) {
		for (o = 0; o < PM_GPU_OPS; o++) {
			struct pm_gpu_op_snap *op = &ps->gpu_ops[ps->n_gpu_ops];

			if (!g->calls[d][o] && !g->ns[d][o])
				continue;
			snprintf(op->device, sizeof(op->device), "%s", c->gpu_devs[d]);
			op->op = o;
			op->calls = g->calls[d][o];
			op->ns = g->ns[d][o];
			ps->n_gpu_ops++;
		}
	}
	return 0;
}

/* GPU figures of every pod: its gone cgroups' and its live ones' (in @accs). */
static int add_gpu(struct pm_collector *c, struct pm_snapshot *s, struct pod_rec **pods,
		   struct gpu_counts **accs)
{
	size_t i;
	int err;

	for (i = 0; i < s->n_pods; i++) {
		struct pm_pod_snap *ps = &s->pods[i];

		cuda_add(&ps->cuda, &pods[i]->retired_cuda, false);
		ps->gpu_jobs += pods[i]->retired_gpu_jobs;
		if (pods[i]->retired_gpu) {
			if (!accs[i] && !(accs[i] = calloc(1, sizeof(*accs[i]))))
				return -ENOMEM;
			gpu_add(accs[i], pods[i]->retired_gpu);
		}
		if (accs[i] && (err = gpu_ops_of(c, accs[i], ps)))
			return err;
	}
	return 0;
}

static struct pm_snapshot *build_snapshot(struct pm_collector *c, double now)
{
	__u64 pods_ns = c->retired_pods_ns, overhead_ns = c->retired_overhead_ns;
	struct gpu_counts **accs = NULL;
	struct pm_snapshot *s;
	struct pod_rec **pods;
	ssize_t n;
	size_t i;

	n = sorted_pods(c, &pods);
	if (n < 0)
		return NULL;
	s = snapshot__new(n);
	if (!s)
		goto out_free;
	s->time = now;
	s->has_net = c->net != NULL;
	for (i = 0; i < (size_t)n; i++) {
		struct pm_pod_snap *ps = &s->pods[i];

		pods[i]->snap_idx = i;
		memcpy(ps->uid, pods[i]->uid, sizeof(ps->uid));
		ps->qos = pods[i]->qos;
		ps->cpu_ns = pods[i]->retired_oncpu_ns;
		ps->runq_ns = pods[i]->retired_runq_ns;
		ps->page_faults = pods[i]->retired_faults;
		ps->oom_kills = pods[i]->retired_oom_kills;
		ps->throttled_periods = pods[i]->retired_throttled_periods;
		ps->throttled_usec = pods[i]->retired_throttled_usec;
		add_net(ps, &pods[i]->retired_net);
		ps->process_starts = pods[i]->retired_starts;
		memcpy(ps->table_refusals, pods[i]->retired_refused, sizeof(ps->table_refusals));
		ps->working_set_bytes = pods[i]->working_set;
		pods_ns += ps->cpu_ns;
	}
	accs = calloc(n ? n : 1, sizeof(*accs));
	overhead__begin(c->oh);
	if (!accs || add_cgroups(c, s, accs, &pods_ns, &overhead_ns) || add_gpu(c, s, pods, accs) ||
	    overhead__snap(c->oh, s, now)) {
		snapshot__put(s);
		s = NULL;
		goto out_free;
	}
	s->has_gpu = c->gpu != NULL;
	s->has_cuda = c->cuda && cuda__libraries(c->cuda) > 0;
	add_zombies(c, s);
	finish_seconds(s);
	s->node_cpu_pods_seconds = pods_ns / NS_PER_S;
	s->node_cpu_overhead_seconds = overhead_ns / NS_PER_S;
	s->node_cpu_overhead_ns = overhead_ns;
	s->overhead_top = c->oh_top;
	s->node_memory_overhead_bytes = memory_overhead(c, s);
	s->agent = c->stats;
out_free:
	for (i = 0; accs && i < (size_t)n; i++)
		free(accs[i]);
	free(accs);
	free(pods);
	return s;
}

/* Names from the metadata thread; a pod it does not know asks for a refresh. */
static void label(struct pm_collector *c, struct pm_snapshot *s)
{
	size_t unknown;

	if (!c->meta)
		return;	/* not started yet */
	unknown = kubemeta__label(c->meta, s);

	if (unknown > c->last_unknown)
		kubemeta__poke(c->meta);
	c->last_unknown = unknown;
	s->agent.kubelet_errors = kubemeta__errors(c->meta);
}

/* ---- one collection ---- */

static void read_errors(struct pm_collector *c)
{
	__u64 errs[PM_CPU_ERR_MAX], merrs[PM_MEM_ERR_MAX], nerrs[PM_NET_ERR_MAX];
	__u64 gerrs[PM_GPU_ERR_MAX] = {}, cerrs[PM_CUDA_ERR_MAX] = {}, perrs[PM_PROC_ERR_MAX];
	uint64_t *refused = c->stats.table_refusals;
	__u64 unmatched;

	cpu__errors(c->cpu, errs);
	c->stats.cgroup_insert_failures = errs[PM_CPU_ERR_CGROUP_FULL];
	c->stats.sched_resyncs = errs[PM_CPU_ERR_RESYNC];
	c->stats.born_lost = errs[PM_CPU_ERR_BORN_LOST];
	c->stats.task_insert_failures = errs[PM_CPU_ERR_TASK_FULL];
	mem__errors(c->mem, merrs);
	c->stats.mem_insert_failures = merrs[PM_MEM_ERR_CGROUP_FULL];
	c->stats.mm_insert_failures = merrs[PM_MEM_ERR_MM_FULL];
	c->stats.oom_lost = merrs[PM_MEM_ERR_OOM_LOST];
	proc__errors(c->proc, perrs);
	c->stats.proc_insert_failures = perrs[PM_PROC_ERR_CGROUP_FULL];
	c->stats.exited_insert_failures = perrs[PM_PROC_ERR_EXITED_FULL];
	c->stats.exited_stale = perrs[PM_PROC_ERR_STALE];
	if (c->gpu) {
		gpu__errors(c->gpu, gerrs);
		c->stats.gpu_insert_failures = gerrs[PM_GPU_ERR_STATS_FULL] +
					       gerrs[PM_GPU_ERR_INFLIGHT_FULL] +
					       gerrs[PM_GPU_ERR_DEVS_FULL];
	}
	if (c->cuda) {
		char stuck[PATH_MAX + 128];

		cuda__errors(c->cuda, cerrs);
		/* a call over its share returns without an entry: a refusal, not a loss */
		unmatched = cerrs[PM_CUDA_ERR_UNMATCHED] - cerrs[PM_CUDA_ERR_PENDING_REFUSED];
		if (cerrs[PM_CUDA_ERR_UNMATCHED] < cerrs[PM_CUDA_ERR_PENDING_REFUSED])
			unmatched = 0;
		c->stats.cuda_insert_failures = cerrs[PM_CUDA_ERR_CGROUP_FULL] +
						cerrs[PM_CUDA_ERR_ALLOC_FULL] + unmatched;
		cuda__refusals(c->cuda, c->stats.cuda_refusals, stuck, sizeof(stuck));
		if (stuck[0])
			fprintf(stderr, "warning: cuda: the library scanner has spent %s; "
					"libraries of new processes wait, the rest is counted\n", stuck);
	}
	refused[PM_TABLE_TASKS] = errs[PM_CPU_ERR_TASK_FULL];
	refused[PM_TABLE_MMS] = merrs[PM_MEM_ERR_MM_FULL];
	refused[PM_TABLE_EXITED] = perrs[PM_PROC_ERR_EXITED_FULL];
	refused[PM_TABLE_GPU_INFLIGHT] = gerrs[PM_GPU_ERR_INFLIGHT_FULL];
	refused[PM_TABLE_CUDA_ALLOCS] = cerrs[PM_CUDA_ERR_ALLOC_FULL] +
					cerrs[PM_CUDA_ERR_ALLOC_REFUSED];
	refused[PM_TABLE_CUDA_PENDING] = cerrs[PM_CUDA_ERR_PENDING_REFUSED];
	refused[PM_TABLE_CGROUPS] = errs[PM_CPU_ERR_CGROUP_FULL] + merrs[PM_MEM_ERR_CGROUP_FULL] +
				    perrs[PM_PROC_ERR_CGROUP_FULL] + gerrs[PM_GPU_ERR_STATS_FULL] +
				    cerrs[PM_CUDA_ERR_CGROUP_FULL];
	if (c->net) {
		net__errors(c->net, nerrs);
		c->stats.net_insert_failures = nerrs[PM_NET_ERR_STATS_FULL] +
					       nerrs[PM_NET_ERR_RETRANS_FULL];
	}
}

/* GPU driver calls, CUDA use, NVML: each optional; an error is logged, never fatal. */
static void read_gpu(struct pm_collector *c)
{
	struct pm_gpu_visitor gvis = { .ioctl = visit_gpu_ioctl, .jobs = visit_gpu_jobs, .ctx = c };
	struct pm_cuda_visitor cvis = { .usage = visit_cuda, .ctx = c };
	int err;

	if (c->gpu && (err = gpu__read(c->gpu, &gvis)))
		fprintf(stderr, "warning: gpu: read: %s\n", strerror(-err));
	if (c->cuda && cuda__libraries(c->cuda) && (err = cuda__read(c->cuda, &cvis)))
		fprintf(stderr, "warning: cuda: read: %s\n", strerror(-err));
	if (c->nvml)
		nvml__process_util(c->nvml, visit_nvml, c);
}

/* At each walk: device files come and go, new processes may map libcuda. */
static void rescan_gpu(struct pm_collector *c)
{
	if (c->gpu)
		gpu__refresh(c->gpu);
	/* handed over: the scanner reads the pods' files, not this thread */
	if (c->cuda && cuda__scan(c->cuda, c->jobs, c->n_jobs))
		fprintf(stderr, "warning: cuda: out of memory; new processes' libcuda is looked "
				"for at the next walk\n");
}

static int collect_locked(struct pm_collector *c, bool periodic)
{
	struct timespec t0 = mono_now();
	struct pm_cpu_visitor vis = {
		.cgroup = visit_cgroup,
		.inflight = visit_inflight,
		.held = visit_held,
		.born = visit_born,
		.ctx = c,
	};
	struct pm_mem_visitor mvis = {
		.events = visit_mem_events,
		.rss = visit_rss,
		.oom = visit_oom,
		.ctx = c,
	};
	struct pm_net_visitor nvis = {
		.traffic = visit_traffic,
		.retransmits = visit_retransmits,
		.ctx = c,
	};
	struct pm_proc_visitor pvis = {
		.starts = visit_starts,
		.zombie = visit_zombie,
		.ctx = c,
	};
	double read_at = unix_now(), now;
	struct pm_snapshot *s;
	int err;

	c->unknown_seen = false;
	c->stats.cgroups_tracked = 0;
	clear_read_marks(c);
	phase(c, PH_READ_CPU);
	err = cpu__read(c->cpu, &vis);
	if (err)
		return err;
	phase(c, PH_READ_MEM);
	err = mem__read(c->mem, &mvis);
	if (err)
		return err;
	if (c->net) {
		phase(c, PH_READ_NET);
		err = net__read(c->net, &nvis);
		if (err)
			return err;
	}
	c->n_zombies = 0;
	phase(c, PH_READ_PROC);
	err = proc__read(c->proc, &pvis);
	if (err)
		return err;
	phase(c, PH_READ_GPU);
	read_gpu(c);
	read_refusals(c);
	phase(c, PH_AGE);
	settle(c);
	age_cgroups(c, unix_now());
	if (periodic)
		c->ticks_since_walk++;
	if (c->unknown_seen || c->ticks_since_walk >= WALK_EVERY_TICKS || !c->walk_gen) {
		phase(c, PH_WALK);
		walk(c);
		refresh_working_sets(c);
		overhead__refresh(c->oh, oh_working_set, c);
		rescan_gpu(c);
	}
	now = unix_now();
	age_pods(c, now);
	read_errors(c);

	c->stats.collect_seconds_last = mono_diff(mono_now(), t0);
	c->stats.collect_seconds_sum += c->stats.collect_seconds_last;
	c->stats.collections++;
	phase(c, PH_SNAPSHOT);
	s = build_snapshot(c, now);
	if (!s)
		return -ENOMEM;
	s->mono = t0.tv_sec + t0.tv_nsec / NS_PER_S;
	s->read_time = read_at;
	phase(c, PH_LABEL);
	label(c, s);
	/*
	 * Ticks are the periodic collections: a scrape in between prices the
	 * interval so far without ending it, so the totals do not depend on
	 * how often anyone scrapes.
	 */
	if (c->report_stats)
		c->report_stats(c->report_ctx, &s->agent.reports);
	phase(c, PH_COST);
	cost__advance(&c->prices, &c->capacity, c->cost_base, s);
	cost__keep_monotonic(c->snap, s);
	phase(c, PH_DETECT);
	if (detect__tick(c->detector, s, c->meta && kubemeta__listed(c->meta), periodic))
		fprintf(stderr, "warning: detect: out of memory; findings of this collection "
				"are incomplete\n");
	if (periodic || !c->cost_base) {
		snapshot__put(c->cost_base);
		c->cost_base = snapshot__get(s);
	}
	snapshot__put(c->snap);
	c->snap = s;
	c->snap_mono = t0;
	return 0;
}

int collector__tick(struct pm_collector *c)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = collect_locked(c, true);
	phase(c, PH_IDLE);
	pthread_mutex_unlock(&c->lock);
	/* a tick that failed still ran: only one that never ends is a stall */
	atomic_store(&c->tick_end_ns, mono_ns());
	return err;
}

int collector__health(void *collector, char *msg, size_t len)
{
	struct pm_collector *c = collector;
	__u64 now = mono_ns(), end = atomic_load(&c->tick_end_ns);
	__u64 since = atomic_load(&c->phase_ns);
	int ph = atomic_load(&c->phase);

	if (!end) {
		snprintf(msg, len, "starting\n");
		return -EAGAIN;
	}
	if (now - end <= c->stall_ns) {
		if (atomic_exchange(&c->stall_logged, false))
			fprintf(stderr, "podmeter: collector: ticking again after a stall\n");
		snprintf(msg, len, "ok\n");
		return 0;
	}
	if (ph < 0 || ph >= PH_MAX)
		ph = PH_IDLE;
	snprintf(msg, len, "stalled: no collection finished for %.0f s; %s for %.0f s\n",
		 (now - end) / NS_PER_S, phase_names[ph], (now - since) / NS_PER_S);
	if (!atomic_exchange(&c->stall_logged, true))
		fprintf(stderr, "warning: collector: %s", msg);
	return -ETIMEDOUT;
}

/*
 * A scrape reads the latest collection, collecting first only when that one
 * started more than FRESH_S before the request: a scrape flood costs at most
 * one collection every FRESH_S, whatever its rate.
 */
struct pm_snapshot *collector__fresh(void *collector)
{
	static const double FRESH_S = 0.25;
	struct pm_collector *c = collector;
	struct timespec asked = mono_now();
	struct pm_snapshot *s = NULL;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->snap || mono_diff(c->snap_mono, asked) < -FRESH_S)
		err = collect_locked(c, false);
	if (err)
		fprintf(stderr, "warning: collect on request: %s; serving the last snapshot\n",
			strerror(-err));
	if (c->snap)
		s = snapshot__get(c->snap);
	pthread_mutex_unlock(&c->lock);
	return s;
}

/* ---- set-up ---- */

static bool has_kubepods(const char *root)
{
	return root[0] && (cgroupfs__has_dir(root, "kubepods.slice") ||
			   cgroupfs__has_dir(root, "kubepods"));
}

/*
 * auto: cgroup v2 when there is one, unless only the v1 cpuacct hierarchy
 * holds the kubelet's pod tree (a v1 kubelet on a hybrid host).
 */
static int choose_hierarchy(struct pm_collector *c, const struct pm_config *cfg,
			    const struct pm_cgroupfs *fs, char *err, size_t errlen)
{
	enum pm_cgroup_mode mode = cfg->collect.cgroup_mode;

	if (mode == PM_CG_AUTO) {
		if (!fs->v2[0] || (has_kubepods(fs->v1_cpuacct) && !has_kubepods(fs->v2)))
			mode = PM_CG_V1;
		else
			mode = PM_CG_V2;
	}
	if (mode == PM_CG_V2 && !fs->v2[0]) {
		snprintf(err, errlen, "cgroup: no cgroup v2 hierarchy found; "
				      "use --cgroup-mode v1 or --cgroup-root");
		return -ENOENT;
	}
	if (mode == PM_CG_V1 && !fs->v1_cpuacct[0]) {
		snprintf(err, errlen, "cgroup: no cgroup v1 hierarchy with cpuacct found; "
				      "use --cgroup-mode v2 or --cgroup-root");
		return -ENOENT;
	}
	c->hier = mode == PM_CG_V2 ? PM_HIER_V2 : PM_HIER_V1_CPUACCT;
	snprintf(c->root, sizeof(c->root), "%s", mode == PM_CG_V2 ? fs->v2 : fs->v1_cpuacct);
	c->stats.cgroup_hierarchy = mode == PM_CG_V2 ? "v2" : "v1";
	return 0;
}

static int find_cgroupfs(const struct pm_config *cfg, struct pm_cgroupfs *fs, char *err,
			 size_t errlen)
{
	char mountinfo[PATH_MAX + 32];
	int ret;

	if (cfg->collect.cgroup_root[0]) {
		ret = cgroupfs__from_root(fs, cfg->collect.cgroup_root);
		if (ret)
			snprintf(err, errlen, "cgroup: %s is not a cgroup v2 or v1 root: %s",
				 cfg->collect.cgroup_root, strerror(-ret));
		return ret;
	}
	snprintf(mountinfo, sizeof(mountinfo), "%s/self/mountinfo", cfg->collect.proc_root);
	ret = cgroupfs__from_mountinfo(fs, mountinfo);
	if (ret)
		snprintf(err, errlen, "cgroup: read %s: %s; check --proc-root", mountinfo,
			 strerror(-ret));
	return ret;
}

/* The memory controller's hierarchy: v2 when it has it, else v1 "memory". */
static void find_mem_root(struct pm_collector *c, const struct pm_cgroupfs *fs)
{
	char path[PATH_MAX + 32];
	int i;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", fs->v2);
	if (fs->v2[0] && !access(path, R_OK)) {
		FILE *f = fopen(path, "re");
		char ctl[64];

		while (f && fscanf(f, "%63s", ctl) == 1) {
			if (!strcmp(ctl, "memory")) {
				snprintf(c->mem_root, sizeof(c->mem_root), "%s", fs->v2);
				c->mem_v2 = true;
				break;
			}
		}
		if (f)
			fclose(f);
		if (c->mem_v2)
			return;
	}
	for (i = 0; i < fs->n_v1; i++) {
		if (strstr(fs->v1[i].options, "memory")) {
			snprintf(c->mem_root, sizeof(c->mem_root), "%s", fs->v1[i].path);
			return;
		}
	}
}

/* Network is counted by cgroup v2 id: without v2 ids there is none. */
static void open_net(struct pm_collector *c, const struct pm_config *cfg,
		     const struct pm_cgroupfs *fs)
{
	char err[512];

	if (c->hier != PM_HIER_V2) {
		fprintf(stderr, "warning: net: sockets carry cgroup v2 ids only; "
				"no per-pod network with --cgroup-mode v1\n");
		return;
	}
	if (net__open(&c->net, cfg, fs->v2, cfg->collect.force_raw_tp, err,
		      sizeof(err))) {
		fprintf(stderr, "warning: %s; going on without per-pod network\n", err);
		c->net = NULL;
	}
}

/* GPU signals are optional: what cannot load is said once, and the agent goes on. */
static void open_gpu(struct pm_collector *c, const struct pm_config *cfg)
{
	char why[512], names[PM_GPU_MAX_DEVS][32], list[8 * 40] = "";
	size_t n, i, off;
	int ret;

	u64map__init(&c->pid_cg);
	ret = gpu__open(&c->gpu, c->hier, NULL, cfg->collect.gpu_devices[0] ? cfg->collect.gpu_devices : NULL,
			cfg->collect.force_raw_tp, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "warning: gpu: %s; running without GPU driver counts\n", why);
		c->gpu = NULL;
	} else {
		n = gpu__devices(c->gpu, names, PM_GPU_MAX_DEVS);
		for (i = 0, off = 0; i < n && i < 8; i++)
			off += snprintf(list + off, off < sizeof(list) ? sizeof(list) - off : 0,
					"%s%s", i ? ", " : ": ", names[i]);
		/* one call, one line: other threads log too */
		fprintf(stderr, "podmeter: gpu: ioctls via %s on %zu device%s%s%s\n",
			gpu__attach_mode(c->gpu), n, n == 1 ? "" : "s", list, n > 8 ? ", ..." : "");
	}
	ret = cuda__open(&c->cuda, c->hier, cfg->collect.proc_root, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "warning: cuda: %s; running without CUDA counts\n", why);
		c->cuda = NULL;
	}
	if (nvml__open(&c->nvml, NULL, why, sizeof(why)))
		c->nvml = NULL;	/* no NVIDIA driver here: nothing to say each start */
}

/* The node as priced, and the prices: configured, or the node price split by their ratios. */
static int setup_prices(struct pm_collector *c, const struct pm_config *cfg, char *err,
			size_t errlen)
{
	struct pm_node_capacity *cap = &c->capacity;
	struct pm_prices base;
	long long total, avail;
	long ncpu;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	meminfo(cfg->collect.proc_root, &total, &avail);
	cap->cpu_cores = cfg->prices.node_cpu_cores > 0 ? cfg->prices.node_cpu_cores : ncpu > 0 ? ncpu : 0;
	cap->memory_bytes = cfg->prices.node_memory_bytes > 0 ? (double)cfg->prices.node_memory_bytes
			    : total > 0		   ? (double)total
						   : 0;
	cap->gpus = (double)cfg->prices.node_gpus;
	base.cpu_core_hour = cfg->prices.cpu_core_hour;
	base.memory_gib_hour = cfg->prices.memory_gib_hour;
	base.gpu_hour = cfg->prices.gpu_hour;
	memcpy(base.egress_gib, cfg->prices.egress_gib, sizeof(base.egress_gib));
	c->prices = base;
	if (cfg->prices.node_hour > 0 &&
	    cost__split_node_price(cfg->prices.node_hour, cap, &base, &c->prices)) {
		snprintf(err, errlen,
			 "price_node_hour: cannot split $%g over %g cores, %.0f bytes, %g GPUs at "
			 "these per-resource prices; set node_cpu_cores/node_memory or non-zero "
			 "prices",
			 cfg->prices.node_hour, cap->cpu_cores, cap->memory_bytes, cap->gpus);
		return -EINVAL;
	}
	fprintf(stderr,
		"podmeter: cost: $%.6g/core-hour, $%.6g/GiB-hour, $%.6g/GPU-hour over %g cores, "
		"%.2f GiB, %g GPUs%s\n",
		c->prices.cpu_core_hour, c->prices.memory_gib_hour, c->prices.gpu_hour,
		cap->cpu_cores, cap->memory_bytes / PM_GIB, cap->gpus,
		cfg->prices.node_hour > 0 ? " (node price split by ratio)" : "");
	return 0;
}

int collector__open(struct pm_collector **out, const struct pm_config *cfg, char *err,
		    size_t errlen)
{
	struct pm_cgroupfs fs;
	struct pm_collector *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "collector: out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->stall_ns = STALL_TICKS * cfg->collect.interval_ms * 1000000ULL;
	if (c->stall_ns < STALL_MIN_NS)
		c->stall_ns = STALL_MIN_NS;
	u64map__init(&c->cgroups);
	u64map__init(&c->pods);
	snprintf(c->proc_root, sizeof(c->proc_root), "%s", cfg->collect.proc_root);
	c->oh_top = cfg->collect.overhead_groups;
	if (overhead__new(&c->oh)) {
		snprintf(err, errlen, "collector: out of memory");
		ret = -ENOMEM;
		goto out_free;
	}
	{
		struct pm_detect_cfg dc;

		config__detect(cfg, &dc);
		c->detector = detect__new(&dc);
		if (!c->detector) {
			snprintf(err, errlen, "collector: out of memory");
			ret = -ENOMEM;
			goto out_free;
		}
	}
	ret = setup_prices(c, cfg, err, errlen);
	if (ret)
		goto out_free;
	pin__set_root(cfg->collect.pin_dir);
	ret = find_cgroupfs(cfg, &fs, err, errlen);
	if (ret)
		goto out_free;
	ret = choose_hierarchy(c, cfg, &fs, err, errlen);
	if (ret)
		goto out_free;
	ret = cpu__open(&c->cpu, c->hier, cfg->collect.proc_root, cfg->collect.force_raw_tp, err, errlen);
	if (ret)
		goto out_free;
	{
		struct pm_retired_val rv;

		/* node overhead's removed cgroups, before this agent */
		if (!cpu__retired_get(c->cpu, "", &rv))
			c->retired_overhead_ns = rv.oncpu_ns;
	}
	ret = mem__open(&c->mem, c->hier, cfg->collect.proc_root, cfg->collect.force_raw_tp,
			err, errlen);
	if (ret)
		goto out_free;
	find_mem_root(c, &fs);
	cgroupfs__controller_root(&fs, "cpu", c->cpu_root, sizeof(c->cpu_root), &c->cpu_v2);
	open_net(c, cfg, &fs);
	ret = proc__open(&c->proc, c->hier, cfg->collect.zombie_grace_ms,
			 cfg->collect.force_raw_tp, cfg->collect.proc_root, err, errlen);
	if (ret)
		goto out_free;
	open_gpu(c, cfg);
	c->stats.attach_mode = cpu__attach_mode(c->cpu);
	c->stats.start_time = unix_now();
	*out = c;
	return 0;

out_free:
	collector__close(c);
	return ret;
}

int collector__start_meta(struct pm_collector *c, const struct pm_config *cfg, char *err,
			  size_t errlen)
{
	int ret = kubemeta__open(&c->meta, cfg);

	if (ret)
		snprintf(err, errlen, "kubelet: start: %s", strerror(-ret));
	return ret;
}

int collector__start_scanner(struct pm_collector *c)
{
	return c->cuda ? cuda__start(c->cuda) : 0;
}

bool collector__gpu_node(struct pm_collector *c)
{
	char names[PM_GPU_MAX_DEVS][32];

	return c->cuda && c->gpu && gpu__devices(c->gpu, names, PM_GPU_MAX_DEVS) > 0;
}

int collector__reload(struct pm_collector *c, const struct pm_config *cfg, char *err,
		      size_t errlen)
{
	struct pm_node_capacity cap;
	struct pm_detect_cfg dc;
	struct pm_prices prices;
	int ret;

	pthread_mutex_lock(&c->lock);
	prices = c->prices;
	cap = c->capacity;
	ret = setup_prices(c, cfg, err, errlen);
	if (ret) {
		c->prices = prices;
		c->capacity = cap;
		goto out;
	}
	config__detect(cfg, &dc);
	detect__set_cfg(c->detector, &dc);
	if (c->net)
		ret = net__set_classes(c->net, cfg, err, errlen);
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void collector__close(struct pm_collector *c)
{
	struct pod_rec *p, *next;
	size_t i = 0;
	uint64_t key;
	void *v;

	if (!c)
		return;
	kubemeta__close(c->meta);
	overhead__free(c->oh);
	proc__close(c->proc);
	free(c->zombies);
	net__close(c->net);
	mem__close(c->mem);
	gpu__close(c->gpu);
	cuda__close(c->cuda);
	nvml__close(c->nvml);
	cpu__close(c->cpu);
	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		free(((struct cg_rec *)v)->gpu);
		free(v);
	}
	for (i = 0; u64map__next(&c->pods, &i, &key, &v);) {
		for (p = v; p; p = next) {
			next = p->next_same_hash;
			free(p->retired_gpu);
			free(p);
		}
	}
	free(c->jobs);
	u64map__free(&c->pid_cg);
	u64map__free(&c->cgroups);
	u64map__free(&c->pods);
	snapshot__put(c->snap);
	snapshot__put(c->cost_base);
	detect__free(c->detector);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *collector__root(const struct pm_collector *c)
{
	return c->root;
}

struct pm_snapshot *collector__last(struct pm_collector *c)
{
	struct pm_snapshot *s;

	pthread_mutex_lock(&c->lock);
	s = snapshot__get(c->cost_base);
	pthread_mutex_unlock(&c->lock);
	return s;
}

void collector__set_report_stats(struct pm_collector *c,
				 void (*fn)(void *ctx, struct pm_report_stats *st), void *ctx)
{
	pthread_mutex_lock(&c->lock);
	c->report_stats = fn;
	c->report_ctx = ctx;
	pthread_mutex_unlock(&c->lock);
}

const char *collector__attach_mode(const struct pm_collector *c)
{
	return c->stats.attach_mode;
}
