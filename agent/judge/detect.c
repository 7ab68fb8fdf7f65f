// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Idle and zombie pods, judged at each collection from the rates between
 * two snapshots and a little state per pod (times of last activity).
 *
 * - idle: no interval in the window had CPU above the idle share of the
 *   request (or the absolute floor without one), traffic above the floor, or
 *   any GPU work. A pod with bursts is not idle while the bursts go on:
 *   each burst moves "last busy".
 * - zombie, by kind, each held for the same window:
 *   process   unreaped exited children (the process signal's grace applies);
 *   workload  holds memory (working set) or GPU memory and does no work:
 *             CPU under the background floor, no traffic;
 *   orphan    live processes in a pod cgroup the kubelet no longer lists
 *             (only while the kubelet's list is known);
 *   gpu       holds GPU memory (CUDA) and launched nothing (no launch, no
 *             DRM job, no driver call).
 *   A gpu zombie is not reported as a workload zombie too, and a pod that is
 *   a zombie of any kind is not reported idle: each pod gets the most
 *   specific finding.
 * - anomaly: the pod's cost rate or CPU alarmed in its anomaly detector
 *   (model.h: calibrated, held for the rest of the event), shown for a
 *   window after the alarm.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/detect.h>
#include <podmeter/cost.h>
#include <podmeter/model.h>
#include <podmeter/spare.h>

#define RS_CPU_FLOOR 0.01 /* cores */
#define RS_MEM_FLOOR (20.0 * 1048576)
#define RS_CONF_S    86400.0 /* confidence 0.5 after a day observed */
#define HOURS_MONTH  730.0
#define DAY_SLOTS    24 /* cfg->season_slot_s is an hour of the pods' day */

/* A container's right-sizing state: its CPU rates, its highest working set. */
struct det_ctr {
	char id[PM_CID_MAX + 1];
	bool primed;   /* last_cpu_ns holds a sample */
	bool q_stale;  /* the sketch learnt since q was read */
	int q_err;     /* sketch__quantile()'s answer for q */
	double q_rank; /* the rank q is of */
	double q;      /* the CPU quantile, read when right-sizing needs it after a change */
	double mem_peak;
	double first_seen;
	uint64_t last_cpu_ns;
	uint32_t learn_seen;  /* det_pod.learns when it was last in the pod */
	struct pm_sketch cpu; /* its bins (sketch__free()) as the CPU rates spread */
};

/* A detector's last alarm: what it said, when, and the value it judged. */
struct det_alarm {
	struct pm_anomaly_result res;
	double at; /* 0 = none */
	double value;
};

struct det_pod {
	char uid[PM_UID_LEN + 1];
	double first_seen;
	double last_busy;	    /* idle thresholds exceeded */
	double last_work;	    /* above the background floor, or traffic */
	double last_gpu_work;	    /* a launch, a DRM job or a driver call */
	double held_since;	    /* holding memory or GPU memory, continuously; 0 = not */
	double gpu_held_since;	    /* holding GPU memory; 0 = not */
	double orphan_since;	    /* unlisted with processes; 0 = not */
	double zombies_since;	    /* unreaped children present; 0 = none */
	double cost_at_busy;	    /* its total cost at the last busy interval */
	double cpu_max;		    /* highest CPU rate (cores) since last busy */
	double net_max;		    /* highest traffic (bytes/s) since last busy */
	struct pm_pod_model *model; /* NULL until its first periodic interval */
	double last_model_t;	    /* time and counters of the last model sample */
	uint64_t last_cpu_ns;
	double last_cost;
	uint64_t anomalies;
	struct det_alarm cost_alarm, cpu_alarm; /* the last of each */
	struct det_ctr *ctrs;
	size_t n_ctrs;
	uint32_t turn;	 /* from its uid: which periodic ticks it learns on */
	uint32_t learns; /* its periodic samples so far */
};

struct pm_detector {
	struct pm_detect_cfg cfg;
	struct det_pod *pods; /* sorted by uid */
	size_t n, cap;
	struct pm_spare spare; /* the last tick's array, for the next */
	uint64_t ticks;	       /* periodic ones */
	struct pm_snapshot *prev;
};

void detect__defaults(struct pm_detect_cfg *cfg)
{
	cfg->window_s = 3600;
	cfg->idle_cpu_ratio = 0.05;
	cfg->idle_cpu_cores = 0.01;
	cfg->idle_net_bytes_s = 1024;
	cfg->zombie_cpu_cores = 0.005;
	cfg->zombie_memory_bytes = 16ULL << 20;
	cfg->rs_quantile = 0.95;
	cfg->rs_target = 0.7;
	cfg->rs_headroom = 1.2;
	cfg->season_slot_s = 3600;
	cfg->learn_every = 1;
}

size_t detect__state_bytes(size_t containers)
{
	return sizeof(struct det_pod) + sizeof(struct pm_pod_model) +
	       containers * (sizeof(struct det_ctr) + PM_SKETCH_BINS * sizeof(float));
}

struct pm_detector *detect__new(const struct pm_detect_cfg *cfg)
{
	struct pm_detector *d = calloc(1, sizeof(*d));

	if (d)
		d->cfg = *cfg;
	return d;
}

void detect__set_cfg(struct pm_detector *d, const struct pm_detect_cfg *cfg)
{
	d->cfg = *cfg;
}

static void pod_state_free(struct det_pod *st)
{
	size_t i;

	for (i = 0; i < st->n_ctrs; i++)
		sketch__free(&st->ctrs[i].cpu);
	free(st->model);
	free(st->ctrs);
	st->model = NULL;
	st->ctrs = NULL;
	st->n_ctrs = 0;
}

void detect__free(struct pm_detector *d)
{
	size_t i;

	if (!d)
		return;
	snapshot__put(d->prev);
	for (i = 0; i < d->n; i++)
		pod_state_free(&d->pods[i]);
	free(d->pods);
	free(d->spare.p);
	free(d);
}

/* Room for @n pods' state, zeroed: the spare array when it fits. */
static struct det_pod *pods_room(struct pm_detector *d, size_t n, size_t *cap)
{
	struct det_pod *p;

	if (!n)
		n = 1;
	p = spare__take(&d->spare, n, cap);
	if (p) {
		memset(p, 0, n * sizeof(*p));
		return p;
	}
	*cap = n;
	return calloc(n, sizeof(*p));
}

static double total_cost(const struct pm_pod_snap *p)
{
	double sum = 0;
	int r;

	for (r = 0; r < PM_RES_MAX; r++)
		sum += p->cost_dollars[r];
	return sum;
}

static uint64_t net_bytes(const struct pm_pod_snap *p)
{
	uint64_t n = 0;
	int d, k;

	for (d = 0; d < PM_NET_DIRS; d++)
		for (k = 0; k < PM_NET_CLASSES; k++)
			n += p->net_bytes[d][k];
	return n;
}

/* Kernel launches, DRM jobs and driver calls: any of them is GPU work. */
static uint64_t gpu_work(const struct pm_pod_snap *p)
{
	return p->cuda.launches + p->gpu_jobs + snapshot__gpu_calls(p, NULL);
}

static double rate(uint64_t now, uint64_t then, double dt)
{
	return now > then && dt > 0 ? (double)(now - then) / dt : 0;
}

/* One interval of @p (from @b, NULL when new) moves its times of activity. */
static void observe(const struct pm_detect_cfg *cfg, struct det_pod *st,
		    const struct pm_pod_snap *b, const struct pm_pod_snap *p, double now, double dt,
		    bool kubelet_listed)
{
	double cpu = b ? rate(p->cpu_ns, b->cpu_ns, dt) / 1e9 : 0;
	double net = b ? rate(net_bytes(p), net_bytes(b), dt) : 0;
	bool gpu = b && gpu_work(p) > gpu_work(b);
	double floor = p->cpu_request_milli > 0
			       ? p->cpu_request_milli / 1000.0 * cfg->idle_cpu_ratio
			       : cfg->idle_cpu_cores;
	bool holds = (p->working_set_bytes > 0 &&
		      (uint64_t)p->working_set_bytes >= cfg->zombie_memory_bytes) ||
		     p->cuda.memory_bytes > 0;

	if (!b) {
		/* first seen: busy until shown otherwise */
		st->first_seen = st->last_busy = st->last_work = st->last_gpu_work = now;
		st->cost_at_busy = total_cost(p);
	}
	if (cpu > floor || net > cfg->idle_net_bytes_s || gpu) {
		st->last_busy = now;
		st->cost_at_busy = total_cost(p);
		st->cpu_max = st->net_max = 0;
	} else {
		st->cpu_max = fmax(st->cpu_max, cpu);
		st->net_max = fmax(st->net_max, net);
	}
	if (cpu > cfg->zombie_cpu_cores || net > 0)
		st->last_work = now;
	if (gpu)
		st->last_gpu_work = now;
	st->held_since = holds ? (st->held_since ? st->held_since : now) : 0;
	st->gpu_held_since = p->cuda.memory_bytes > 0
				     ? (st->gpu_held_since ? st->gpu_held_since : now)
				     : 0;
	st->orphan_since = kubelet_listed && !p->has_meta && p->processes
				   ? (st->orphan_since ? st->orphan_since : now)
				   : 0;
	st->zombies_since = p->zombies ? (st->zombies_since ? st->zombies_since : now) : 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static void attr(struct pm_finding_snap *f, const char *key, const char *fmt, double v)
	__attribute__((format(printf, 3, 0)));

static void attr(struct pm_finding_snap *f, const char *key, const char *fmt, double v)
{
	if (f->n_attrs == PM_FINDING_ATTRS)
		return;
	snprintf(f->attrs[f->n_attrs].key, sizeof(f->attrs[0].key), "%s", key);
	snprintf(f->attrs[f->n_attrs].value, sizeof(f->attrs[0].value), fmt, v);
	f->n_attrs++;
}

static void attr_str(struct pm_finding_snap *f, const char *key, const char *value)
{
	if (f->n_attrs == PM_FINDING_ATTRS)
		return;
	snprintf(f->attrs[f->n_attrs].key, sizeof(f->attrs[0].key), "%s", key);
	snprintf(f->attrs[f->n_attrs].value, sizeof(f->attrs[0].value), "%s", value);
	f->n_attrs++;
}

/* A finding of @kind, held since @since; the id stays while the condition does. */
static struct pm_finding_snap *finding(struct pm_pod_snap *p, const char *kind, double since,
				       double now, double window)
{
	struct pm_finding_snap *f, *grown;
	long long at = (long long)since;
	uint64_t h = 0xcbf29ce484222325ULL;

	grown = realloc(p->findings, (p->n_findings + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	p->findings = grown;
	f = &grown[p->n_findings++];
	memset(f, 0, sizeof(*f));
	h = fnv(h, p->uid, strlen(p->uid));
	h = fnv(h, kind, strlen(kind));
	h = fnv(h, &at, sizeof(at));
	snprintf(f->id, sizeof(f->id), "%016llx", (unsigned long long)h);
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	f->since = since;
	/* 0.5 when the window is first reached, towards 1 as it keeps holding */
	f->score = fmin(1.0, (now - since) / (2 * window));
	return f;
}

static struct det_ctr *ctr_find(struct det_pod *st, const char *id)
{
	size_t i;

	for (i = 0; i < st->n_ctrs; i++)
		if (!strcmp(st->ctrs[i].id, id))
			return &st->ctrs[i];
	return NULL;
}

static struct det_ctr *ctr_state(struct det_pod *st, const char *id, double now)
{
	struct det_ctr *c = ctr_find(st, id);

	if (c)
		return c;
	c = realloc(st->ctrs, (st->n_ctrs + 1) * sizeof(*c));
	if (!c)
		return NULL;
	st->ctrs = c;
	c = &c[st->n_ctrs++];
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	sketch__init(&c->cpu, PM_SKETCH_ALPHA_POD);
	c->q_stale = true;
	c->first_seen = now;
	return c;
}

static void note_alarm(struct det_pod *st, struct det_alarm *a, const struct pm_anomaly_result *res,
		       double value, double now)
{
	if (!res->alarm)
		return;
	st->anomalies++;
	a->res = *res;
	a->at = now;
	a->value = value;
}

/*
 * The containers the pod no longer has: container ids are never reused (a
 * restart is a new one), so a container gone at a periodic sample is gone
 * for good. Kept, they would grow without end in a pod whose containers
 * come and go, and with them each tick's lookups.
 */
static void drop_gone_ctrs(struct det_pod *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->n_ctrs; i++) {
		if (st->ctrs[i].learn_seen != st->learns) {
			sketch__free(&st->ctrs[i].cpu);
			continue;
		}
		if (n != i)
			st->ctrs[n] = st->ctrs[i];
		n++;
	}
	st->n_ctrs = n;
}

/* Containers' right-sizing state: CPU rate into each one's sketch, peak working set. */
static int learn_containers(struct det_pod *st, const struct pm_pod_snap *p, double now, double dt)
{
	struct det_ctr *c;
	size_t i;

	st->learns++;
	for (i = 0; i < p->n_containers; i++) {
		const struct pm_container_snap *cs = &p->containers[i];

		if (!cs->id[0])
			continue;
		/* a known pod's container the kubelet does not name is its sandbox */
		if (p->has_meta && !cs->name[0]) {
			c = ctr_find(st, cs->id); /* named before: kept */
			if (c)
				c->learn_seen = st->learns;
			continue;
		}
		c = ctr_state(st, cs->id, now);
		if (!c)
			return -ENOMEM;
		if (dt > 0 && c->primed && cs->cpu_ns >= c->last_cpu_ns) {
			if (sketch__add(&c->cpu, (cs->cpu_ns - c->last_cpu_ns) / 1e9 / dt) ==
			    -ENOMEM)
				return -ENOMEM;
			c->q_stale = true;
		}
		c->last_cpu_ns = cs->cpu_ns;
		c->primed = true;
		c->mem_peak = fmax(c->mem_peak, (double)cs->working_set_bytes);
		c->learn_seen = st->learns;
	}
	drop_gone_ctrs(st);
	return 0;
}

/*
 * One periodic sample into the pod's detectors (CPU cores, cost rate) and
 * its containers' (CPU cores, peak working set). The first interval only
 * sets the counters' baseline.
 */
static int learn(const struct pm_detect_cfg *cfg, struct det_pod *st, const struct pm_pod_snap *p,
		 double now)
{
	double dt = now - st->last_model_t, cost = total_cost(p), cpu, rate;
	struct pm_anomaly_result cost_res, cpu_res;
	int ret;

	if (!st->model) {
		st->model = malloc(sizeof(*st->model));
		if (!st->model)
			return -ENOMEM;
		/* a day the detector refuses (0 or less) learns no daily pattern */
		if (pod_model__init(st->model, DAY_SLOTS * cfg->season_slot_s))
			pod_model__init(st->model, 0);
		dt = 0;
	}
	ret = learn_containers(st, p, now, dt);
	if (ret)
		return ret;
	if (dt > 0) {
		cpu = p->cpu_ns > st->last_cpu_ns ? (p->cpu_ns - st->last_cpu_ns) / 1e9 / dt : 0;
		rate = cost > st->last_cost ? (cost - st->last_cost) / dt * 3600 : 0;
		if (!pod_model__update(st->model, now, cpu, rate, &cost_res, &cpu_res)) {
			note_alarm(st, &st->cost_alarm, &cost_res, rate, now);
			note_alarm(st, &st->cpu_alarm, &cpu_res, cpu, now);
		}
	}
	st->last_model_t = now;
	st->last_cpu_ns = p->cpu_ns;
	st->last_cost = cost;
	return 0;
}

/* Requests from usage: CPU quantile / target, memory peak x headroom; priced. */
/* The container's CPU quantile of rank cfg->rs_quantile, read again only after a change. */
static int ctr_quantile(const struct pm_detect_cfg *cfg, struct det_ctr *c, double *q)
{
	if (c->q_stale || c->q_rank != cfg->rs_quantile) {
		c->q_err = sketch__quantile(&c->cpu, cfg->rs_quantile, &c->q);
		c->q_rank = cfg->rs_quantile;
		c->q_stale = false;
	}
	*q = c->q;
	return c->q_err;
}

static void right_size(const struct pm_detect_cfg *cfg, struct det_pod *st, struct pm_pod_snap *p,
		       const double *price, double now)
{
	double q, cpu, mem, save = 0;
	size_t i;

	for (i = 0; i < p->n_containers; i++) {
		struct pm_container_snap *cs = &p->containers[i];
		struct det_ctr *c;

		cs->rec_cpu_cores = cs->rec_memory_bytes = -1;
		cs->rec_confidence = 0;
		c = ctr_find(st, cs->id);
		if (!c || ctr_quantile(cfg, c, &q))
			continue;
		cpu = fmax(RS_CPU_FLOOR, q / cfg->rs_target);
		mem = fmax(RS_MEM_FLOOR, c->mem_peak * cfg->rs_headroom);
		cs->rec_cpu_cores = cpu;
		cs->rec_memory_bytes = mem;
		cs->rec_confidence = (now - c->first_seen) / (now - c->first_seen + RS_CONF_S);
		if (cs->cpu_request_milli >= 0)
			save += (cs->cpu_request_milli / 1000.0 - cpu) * price[PM_RES_CPU] *
				HOURS_MONTH;
		if (cs->memory_request_bytes >= 0)
			save += (cs->memory_request_bytes - mem) / PM_GIB * price[PM_RES_MEMORY] *
				HOURS_MONTH;
	}
	p->savings_dollars_month = save;
}

/* An alarm of the last window as a finding: what was seen, what was expected, how rare. */
static int anomaly_finding(struct pm_pod_snap *p, const struct det_alarm *a, const char *signal,
			   double now, double window)
{
	bool cpu = !strcmp(signal, "cpu");
	struct pm_finding_snap *f;

	if (!a->at || now - a->at >= window)
		return 0;
	f = finding(p, "anomaly", a->at, now, window);
	if (!f)
		return -ENOMEM;
	f->score = a->res.score;
	if (cpu)
		snprintf(f->detail, sizeof(f->detail),
			 "CPU at %.3f cores where %.3f was expected (%s, %s)", a->value,
			 a->res.expected, anomaly__kind_name(a->res.kind),
			 a->res.dir > 0 ? "up" : "down");
	else
		snprintf(f->detail, sizeof(f->detail),
			 "cost rate at $%.6f/h where $%.6f/h was expected (%s, %s)", a->value,
			 a->res.expected, anomaly__kind_name(a->res.kind),
			 a->res.dir > 0 ? "up" : "down");
	attr_str(f, "signal", signal);
	attr_str(f, "kind", anomaly__kind_name(a->res.kind));
	attr(f, "direction", "%+.0f", a->res.dir);
	attr(f, "value", "%.9g", a->value);
	attr(f, "expected", "%.9g", a->res.expected);
	attr(f, "false_alarm_log10", "%.2f", -a->res.surprise);
	return 0;
}

static int judge(const struct pm_detect_cfg *cfg, const struct det_pod *st, struct pm_pod_snap *p,
		 double now)
{
	double w = cfg->window_s, t;
	struct pm_finding_snap *f;

	p->zombie_mask = 0;
	p->idle = 0;
	p->idle_seconds = 0;
	if (st->zombies_since) {
		p->zombie_mask |= 1u << PM_ZOMBIE_PROCESS;
		f = finding(p, "zombie-process", st->zombies_since, now, w);
		if (!f)
			return -ENOMEM;
		snprintf(f->detail, sizeof(f->detail),
			 "%llu exited processes not reaped by their parent",
			 (unsigned long long)p->zombies);
		attr(f, "zombies", "%.0f", (double)p->zombies);
	}
	if (st->orphan_since && now - st->orphan_since >= w) {
		p->zombie_mask |= 1u << PM_ZOMBIE_ORPHAN;
		f = finding(p, "zombie-orphan", st->orphan_since, now, w);
		if (!f)
			return -ENOMEM;
		snprintf(f->detail, sizeof(f->detail),
			 "%llu processes in a pod cgroup the kubelet does not list",
			 (unsigned long long)p->processes);
		attr(f, "processes", "%.0f", (double)p->processes);
	}
	t = fmax(st->gpu_held_since, st->last_gpu_work);
	if (st->gpu_held_since && now - t >= w) {
		p->zombie_mask |= 1u << PM_ZOMBIE_GPU;
		f = finding(p, "zombie-gpu", t, now, w);
		if (!f)
			return -ENOMEM;
		snprintf(f->detail, sizeof(f->detail),
			 "holds %.0f MiB of GPU memory, no kernel launched for %.0f s",
			 p->cuda.memory_bytes / 1048576.0, now - t);
		attr(f, "gpu_memory_bytes", "%.0f", (double)p->cuda.memory_bytes);
		attr(f, "launches", "%.0f", 0);
	}
	t = fmax(st->held_since, st->last_work);
	if (st->held_since && now - t >= w && !(p->zombie_mask & (1u << PM_ZOMBIE_GPU))) {
		p->zombie_mask |= 1u << PM_ZOMBIE_WORKLOAD;
		f = finding(p, "zombie-workload", t, now, w);
		if (!f)
			return -ENOMEM;
		snprintf(
			f->detail, sizeof(f->detail),
			"holds %.0f MiB and did no work (CPU under %g cores, no traffic) for %.0f s",
			fmax(p->working_set_bytes, 0) / 1048576.0, cfg->zombie_cpu_cores, now - t);
		attr(f, "working_set_bytes", "%.0f", (double)fmax(p->working_set_bytes, 0));
		attr(f, "cpu_max_cores", "%.4f", st->cpu_max);
	}
	p->anomalies = st->anomalies;
	if (anomaly_finding(p, &st->cost_alarm, "cost_rate", now, w) ||
	    anomaly_finding(p, &st->cpu_alarm, "cpu", now, w))
		return -ENOMEM;
	if (!p->zombie_mask && now - st->last_busy >= w) {
		p->idle = 1;
		p->idle_seconds = now - st->last_busy;
		f = finding(p, "idle", st->last_busy, now, w);
		if (!f)
			return -ENOMEM;
		snprintf(f->detail, sizeof(f->detail),
			 "under its idle thresholds for %.0f s; $%.6f spent meanwhile",
			 p->idle_seconds, total_cost(p) - st->cost_at_busy);
		attr(f, "cpu_max_cores", "%.4f", st->cpu_max);
		attr(f, "net_max_bytes_per_s", "%.0f", st->net_max);
		attr(f, "gpu_launches", "%.0f", 0);
		attr(f, "idle_cost_dollars", "%.9f", total_cost(p) - st->cost_at_busy);
	}
	return 0;
}

/*
 * 32-bit FNV-1a of the uid: turns spread evenly whatever the uids share.
 * Not fnv() above: a 64-bit FNV-1a's halves modulo a power of two put
 * uids that differ in their last characters on one turn.
 */
static uint32_t uid_turn(const char *uid)
{
	uint32_t h = 2166136261u;

	for (; *uid; uid++)
		h = (h ^ (unsigned char)*uid) * 16777619u;
	return h;
}

/* Whether a pod learns at this periodic tick: one in cfg.learn_every, by turn. */
static bool my_turn(const struct pm_detector *d, const struct det_pod *st)
{
	unsigned int every = d->cfg.learn_every ? d->cfg.learn_every : 1;

	return (d->ticks + st->turn) % every == 0;
}

int detect__tick(struct pm_detector *d, struct pm_snapshot *s, bool kubelet_listed, bool periodic)
{
	size_t next_cap;
	struct det_pod *next = pods_room(d, s->n_pods, &next_cap);
	double dt = d->prev ? s->mono - d->prev->mono : 0;
	size_t i, j = 0, at = 0;
	int c, err = 0;

	if (!next)
		return -ENOMEM;
	for (i = 0; i < s->n_pods; i++) {
		struct pm_pod_snap *p = &s->pods[i];
		const struct pm_pod_snap *b = snapshot__pod_next(d->prev, p->uid, &at);

		for (c = 1; j < d->n && (c = strcmp(d->pods[j].uid, p->uid)) < 0;)
			pod_state_free(&d->pods[j++]); /* gone */
		if (!c) {
			next[i] = d->pods[j]; /* its models move along */
			memset(&d->pods[j++], 0, sizeof(d->pods[0]));
		}
		if (c || !b) {
			/* new to the detector: no interval yet */
			pod_state_free(&next[i]);
			memset(&next[i], 0, sizeof(next[i]));
			memcpy(next[i].uid, p->uid, sizeof(next[i].uid));
			next[i].turn = uid_turn(p->uid);
			b = NULL;
		}
		observe(&d->cfg, &next[i], b, p, s->time, dt, kubelet_listed);
		if (periodic && !err && my_turn(d, &next[i]))
			err = learn(&d->cfg, &next[i], p, s->time);
		right_size(&d->cfg, &next[i], p, s->price, s->time);
		if (!err)
			err = judge(&d->cfg, &next[i], p, s->time);
	}
	for (; j < d->n; j++)
		pod_state_free(&d->pods[j]);
	/* what moved along was zeroed there: the old array holds nothing now */
	free(spare__give(&d->spare, d->pods, d->cap));
	d->pods = next;
	d->cap = next_cap;
	d->n = s->n_pods;
	d->ticks += periodic;
	snapshot__put(d->prev);
	d->prev = snapshot__get(s);
	return err;
}
