// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Collector: the sources' counts per cgroup id -> the ledger -> cgroups named
 * by walking the hierarchy -> pods (podpath) -> one immutable snapshot per
 * collection, labelled, priced and judged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <podmeter/pin.h>
#include "collect.h"

#define WALK_EVERY_TICKS 5 /* also walked at once when an unknown id shows up */
#define STALL_TICKS	 5 /* no periodic tick for this many intervals: stalled ... */
#define STALL_MIN_NS	 (15 * 1000000000ULL) /* ... and at least this long */

/* The signals, in the order they open and are read. */
static const struct pm_source *const sources[] = {
	&pm_source_cpu, &pm_source_mem,	 &pm_source_net,  &pm_source_proc,
	&pm_source_gpu, &pm_source_cuda, &pm_source_nvml,
};

_Static_assert(sizeof(sources) / sizeof(sources[0]) <= PM_MAX_SOURCES, "PM_MAX_SOURCES");
_Static_assert(PM_SNAP_TABLES == PM_TABLES, "the snapshot's tables are the kernel's");

/* What a collection is doing: named in the log when it stalls. */
static const char PH_IDLE[] = "waiting for the next tick";
static const char PH_AGE[] = "retiring removed cgroups";
static const char PH_WALK[] = "walking the cgroup hierarchy";
static const char PH_SNAPSHOT[] = "building the snapshot";
static const char PH_LABEL[] = "labelling pods";
static const char PH_COST[] = "pricing";
static const char PH_DETECT[] = "judging idle and zombie pods";

double collector__unix_now(void)
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

static double mono_diff(struct timespec a, struct timespec b)
{
	return (a.tv_sec - b.tv_sec) + (a.tv_nsec - b.tv_nsec) / NS_PER_S;
}

void collector__phase(struct pm_collector *c, const char *what)
{
	atomic_store(&c->phase_ns, mono_ns());
	atomic_store(&c->phase, what);
}

/* ---- the steps of a collection ---- */

/* Every source into the ledger; a required source's error fails the collection. */
static int read_sources(struct pm_collector *c)
{
	const struct pm_source_inst *s;
	struct pm_sink sink;
	int err;

	ledger__begin_read(c, &sink);
	for (s = c->srcs; s < c->srcs + c->n_srcs; s++) {
		collector__phase(c, s->ops->reading);
		err = s->ops->read(s->src, &sink);
		if (err && !s->ops->optional)
			return err;
		if (err)
			fprintf(stderr, "warning: %s: read: %s\n", s->ops->name, strerror(-err));
	}
	/* refusals by cgroup; a source without the op counts them node-wide only */
	for (s = c->srcs; s < c->srcs + c->n_srcs; s++)
		if (s->ops->refusals)
			s->ops->refusals(s->src, ledger__refusal, c);
	return 0;
}

/* Settle the read and retire what is gone; walk when due or when an unknown id showed up. */
static void update_ledger(struct pm_collector *c, bool periodic)
{
	collector__phase(c, PH_AGE);
	ledger__settle(c);
	ledger__age_cgroups(c, collector__unix_now());
	if (periodic)
		c->ticks_since_walk++;
	if (c->unknown_seen || c->ticks_since_walk >= WALK_EVERY_TICKS || !c->walk_gen) {
		collector__phase(c, PH_WALK);
		walk__run(c);
	}
}

/* The sources' error counters, for the agent's own metrics. */
static void read_errors(struct pm_collector *c)
{
	const struct pm_source_inst *s;

	memset(c->stats.table_refusals, 0, sizeof(c->stats.table_refusals));
	for (s = c->srcs; s < c->srcs + c->n_srcs; s++)
		if (s->ops->errors)
			s->ops->errors(s->src, &c->stats);
}

/* Names from the metadata thread; a pod it does not know asks for a refresh. */
static void label(struct pm_collector *c, struct pm_snapshot *s)
{
	size_t unknown;

	if (!c->meta)
		return; /* not started yet */
	unknown = kubemeta__label(c->meta, s);

	if (unknown > c->last_unknown)
		kubemeta__poke(c->meta);
	c->last_unknown = unknown;
	s->agent.kubelet_errors = kubemeta__errors(c->meta);
}

/*
 * Ticks are the periodic collections: a scrape in between prices the
 * interval so far without ending it, so the totals do not depend on how
 * often anyone scrapes.
 */
static void price(struct pm_collector *c, struct pm_snapshot *s)
{
	if (c->report_stats)
		c->report_stats(c->report_ctx, &s->agent.reports);
	collector__phase(c, PH_COST);
	cost__advance(&c->prices, &c->capacity, c->cost_base, s);
	cost__keep_monotonic(c->snap, s);
}

static void detect(struct pm_collector *c, struct pm_snapshot *s, bool periodic)
{
	collector__phase(c, PH_DETECT);
	if (detect__tick(c->detector, s, c->meta && kubemeta__listed(c->meta), periodic))
		fprintf(stderr, "warning: detect: out of memory; findings of this collection "
				"are incomplete\n");
}

/* The new snapshot replaces the served one; a periodic one starts the next cost interval. */
static void publish(struct pm_collector *c, struct pm_snapshot *s, bool periodic,
		    struct timespec t0)
{
	if (periodic || !c->cost_base) {
		snapshot__put(c->cost_base);
		c->cost_base = snapshot__get(s);
	}
	snapshot__put(c->snap);
	c->snap = s;
	c->snap_mono = t0;
}

static int collect_locked(struct pm_collector *c, bool periodic)
{
	struct timespec t0 = mono_now();
	double read_at = collector__unix_now(), now;
	struct pm_snapshot *s;
	int err;

	err = read_sources(c);
	if (err)
		return err;
	update_ledger(c, periodic);
	now = collector__unix_now();
	ledger__age_pods(c, now);
	read_errors(c);
	c->stats.collect_seconds_last = mono_diff(mono_now(), t0);
	c->stats.collect_seconds_sum += c->stats.collect_seconds_last;
	c->stats.collections++;
	collector__phase(c, PH_SNAPSHOT);
	s = assemble__snapshot(c, now);
	if (!s)
		return -ENOMEM;
	s->mono = t0.tv_sec + t0.tv_nsec / NS_PER_S;
	s->read_time = read_at;
	collector__phase(c, PH_LABEL);
	label(c, s);
	price(c, s);
	detect(c, s, periodic);
	publish(c, s, periodic, t0);
	return 0;
}

int collector__tick(struct pm_collector *c)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = collect_locked(c, true);
	collector__phase(c, PH_IDLE);
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
	const char *what = atomic_load(&c->phase);

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
	snprintf(msg, len, "stalled: no collection finished for %.0f s; %s for %.0f s\n",
		 (now - end) / NS_PER_S, what ? what : PH_IDLE, (now - since) / NS_PER_S);
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
	return root[0] &&
	       (cgroupfs__has_dir(root, "kubepods.slice") || cgroupfs__has_dir(root, "kubepods"));
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
		snprintf(err, errlen,
			 "cgroup: no cgroup v2 hierarchy found; "
			 "use --cgroup-mode v1 or --cgroup-root");
		return -ENOENT;
	}
	if (mode == PM_CG_V1 && !fs->v1_cpuacct[0]) {
		snprintf(err, errlen,
			 "cgroup: no cgroup v1 hierarchy with cpuacct found; "
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

/* The node as priced, and the prices: configured, or the node price split by their ratios. */
static int setup_prices(struct pm_collector *c, const struct pm_config *cfg, char *err,
			size_t errlen)
{
	struct pm_node_capacity *cap = &c->capacity;
	struct pm_prices base;
	long long total, avail;
	long ncpu;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	assemble__meminfo(cfg->collect.proc_root, &total, &avail);
	cap->cpu_cores = cfg->prices.node_cpu_cores > 0 ? cfg->prices.node_cpu_cores
			 : ncpu > 0			? ncpu
							: 0;
	cap->memory_bytes = cfg->prices.node_memory_bytes > 0
				    ? (double)cfg->prices.node_memory_bytes
			    : total > 0 ? (double)total
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

/*
 * Every source of the table, in order: a required one that cannot open
 * stops the agent. The first that keeps retired totals keeps them.
 */
static int open_sources(struct pm_collector *c, const struct pm_source_env *env, char *err,
			size_t errlen)
{
	const struct pm_source *ops;
	size_t i;
	void *src;
	int ret;

	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		ops = sources[i];
		src = NULL;
		ret = ops->open(&src, env, err, errlen);
		if (ret)
			return ret;
		if (!src)
			continue; /* an optional signal not here: it said why */
		c->srcs[c->n_srcs++] = (struct pm_source_inst){ .ops = ops, .src = src };
		c->walk_cpu |= !strcmp(ops->name, "cpu");
		c->walk_mem |= !strcmp(ops->name, "mem");
		c->walk_proc |= !strcmp(ops->name, "proc");
		if (!c->keeper && ops->keep_get) {
			c->keeper = &c->srcs[c->n_srcs - 1];
			/* node overhead's removed cgroups, before this agent */
			ops->keep_get(src, "", &c->retired_overhead);
			c->retired_overhead.runq_ns = 0;
		}
		if (!c->stats.attach_mode && ops->attach_mode)
			c->stats.attach_mode = ops->attach_mode(src);
	}
	return 0;
}

static int collector_init(struct pm_collector *c, const struct pm_config *cfg, char *err,
			  size_t errlen)
{
	struct pm_detect_cfg dc;

	pthread_mutex_init(&c->lock, NULL);
	c->stall_ns = STALL_TICKS * cfg->collect.interval_ms * 1000000ULL;
	if (c->stall_ns < STALL_MIN_NS)
		c->stall_ns = STALL_MIN_NS;
	u64map__init(&c->cgroups);
	u64map__init(&c->pods);
	u64map__init(&c->pid_cg);
	snprintf(c->proc_root, sizeof(c->proc_root), "%s", cfg->collect.proc_root);
	c->oh_top = cfg->collect.overhead_groups;
	if (overhead__new(&c->oh)) {
		snprintf(err, errlen, "collector: out of memory");
		return -ENOMEM;
	}
	config__detect(cfg, &dc);
	c->detector = detect__new(&dc);
	if (!c->detector) {
		snprintf(err, errlen, "collector: out of memory");
		return -ENOMEM;
	}
	return setup_prices(c, cfg, err, errlen);
}

int collector__open(struct pm_collector **out, const struct pm_config *cfg, char *err,
		    size_t errlen)
{
	struct pm_source_env env = { .cfg = cfg, .force_raw_tp = cfg->collect.force_raw_tp };
	struct pm_cgroupfs fs;
	struct pm_collector *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "collector: out of memory");
		return -ENOMEM;
	}
	ret = collector_init(c, cfg, err, errlen);
	if (ret)
		goto out_free;
	pin__set_root(cfg->collect.pin_dir);
	ret = find_cgroupfs(cfg, &fs, err, errlen);
	if (ret)
		goto out_free;
	ret = choose_hierarchy(c, cfg, &fs, err, errlen);
	if (ret)
		goto out_free;
	find_mem_root(c, &fs);
	cgroupfs__controller_root(&fs, "cpu", c->cpu_root, sizeof(c->cpu_root), &c->cpu_v2);
	env.hier = c->hier;
	env.fs = &fs;
	ret = open_sources(c, &env, err, errlen);
	if (ret)
		goto out_free;
	c->stats.start_time = collector__unix_now();
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
	const struct pm_source_inst *s;
	int ret;

	for (s = c->srcs; s < c->srcs + c->n_srcs; s++)
		if (s->ops->start && (ret = s->ops->start(s->src)))
			return ret;
	return 0;
}

static const struct pm_source_inst *source_of(const struct pm_collector *c,
					      const struct pm_source *ops)
{
	int i;

	for (i = 0; i < c->n_srcs; i++)
		if (c->srcs[i].ops == ops)
			return &c->srcs[i];
	return NULL;
}

bool collector__gpu_node(struct pm_collector *c)
{
	const struct pm_source_inst *gpu = source_of(c, &pm_source_gpu);
	char names[PM_GPU_MAX_DEVS][32];

	return source_of(c, &pm_source_cuda) && gpu &&
	       gpu__devices(gpu->src, names, PM_GPU_MAX_DEVS) > 0;
}

int collector__reload(struct pm_collector *c, const struct pm_config *cfg, char *err, size_t errlen)
{
	const struct pm_source_inst *s;
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
	for (s = c->srcs; s < c->srcs + c->n_srcs && !ret; s++)
		if (s->ops->reload)
			ret = s->ops->reload(s->src, cfg, err, errlen);
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void collector__close(struct pm_collector *c)
{
	int i;

	if (!c)
		return;
	kubemeta__close(c->meta);
	overhead__free(c->oh);
	free(c->zombies);
	/* the tracked cgroups' table (the first) goes last */
	for (i = c->n_srcs - 1; i >= 0; i--)
		c->srcs[i].ops->close(c->srcs[i].src);
	ledger__free(c);
	free(c->jobs);
	free(c->accs);
	free(c->ctr_room);
	u64map__free(&c->pid_cg);
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
