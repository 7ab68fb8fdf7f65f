// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reports into the store, exactly once. In one transaction per batch (a
 * batch that fails is written again report by report):
 *   1. the ledger row (cluster, node, seq), unique: a report already there
 *      is a duplicate (same window) or a reused sequence (another window),
 *      and nothing else is written for it;
 *   2. its pod-windows, hourly rollups by node (split over the hours its
 *      window spans), findings;
 *   3. what workloads share across nodes, added up in memory over the batch
 *      and written once a batch at its end: container hours, workloads and
 *      their labels, and the containers' CPU distributions (decayed to the
 *      batch's time), so replicas on many nodes cost one row a batch.
 * The caller answers only after the commit.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "rec_limits.h"
#include "store.h"
#include "store_int.h"
#include "store_sql.h"

/* ---- what a batch adds up, by key ---- */

#define KEY_PARTS 7

struct dacc_ent {
	char *key;		     /* parts joined by \x1f */
	const char *part[KEY_PARTS]; /* into a copy of key, split */
	int n_parts;
	char *parts;
	struct pm_dist d;   /* distributions: weights as of the accumulator's ref */
	double first, last; /* window times seen */
	/* container hours */
	int64_t cpu_usec, peak, ooms, thr_periods, thr_usec, pods, res[4], rq_usec;
	double pod_s; /* seconds of pod-windows: per-replica means */
	/* labels: the value of the latest report */
	char *value;
	/* distributions: the stored row, read with the ledger */
	struct pm_dist row;
	double row_ref;
	bool row_found;
	int row_ret;
};

struct dacc {
	struct dacc_ent *tab; /* open addressing, cap a power of two */
	size_t cap, n;
	double ref;
	bool has_ref;
};

static uint64_t dacc_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static void dacc_free(struct dacc *a)
{
	size_t i;

	for (i = 0; i < a->cap; i++) {
		if (!a->tab[i].key)
			continue;
		free(a->tab[i].key);
		free(a->tab[i].parts);
		free(a->tab[i].value);
		dist__free(&a->tab[i].d);
		dist__free(&a->tab[i].row);
	}
	free(a->tab);
	memset(a, 0, sizeof(*a));
}

static int dacc_grow(struct dacc *a)
{
	size_t cap = a->cap ? a->cap * 2 : 64, i, j;
	struct dacc_ent *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < a->cap; i++) {
		if (!a->tab[i].key)
			continue;
		for (j = dacc_hash(a->tab[i].key) & (cap - 1); tab[j].key; j = (j + 1) & (cap - 1))
			;
		tab[j] = a->tab[i];
	}
	free(a->tab);
	a->tab = tab;
	a->cap = cap;
	return 0;
}

static int dacc_split(struct dacc_ent *e)
{
	char *p;
	int k = 0;

	e->parts = strdup(e->key);
	if (!e->parts)
		return -ENOMEM;
	e->part[k++] = e->parts;
	for (p = e->parts; *p; p++) {
		if (*p == '\x1f') {
			if (k == KEY_PARTS)
				return -EINVAL;
			*p = '\0';
			e->part[k++] = p + 1;
		}
	}
	e->n_parts = k;
	return 0;
}

/* The entry of @key, made empty when new. */
static struct dacc_ent *dacc_get(struct dacc *a, const char *key)
{
	struct dacc_ent *e;
	size_t j;

	if ((a->n + 1) * 2 > a->cap && dacc_grow(a))
		return NULL;
	for (j = dacc_hash(key) & (a->cap - 1); a->tab[j].key; j = (j + 1) & (a->cap - 1))
		if (!strcmp(a->tab[j].key, key))
			return &a->tab[j];
	e = &a->tab[j];
	e->key = strdup(key);
	if (!e->key || dacc_split(e)) {
		free(e->key);
		free(e->parts);
		memset(e, 0, sizeof(*e));
		return NULL;
	}
	dist__init(&e->d);
	dist__init(&e->row);
	e->first = INFINITY;
	e->last = -INFINITY;
	a->n++;
	return e;
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp((*(const struct dacc_ent *const *)a)->key,
		      (*(const struct dacc_ent *const *)b)->key);
}

/*
 * The entries sorted by key (malloc'ed, NULL-terminated): writers taking
 * row locks in one order cannot deadlock one another over them.
 */
static const struct dacc_ent **dacc_sorted(const struct dacc *a)
{
	const struct dacc_ent **v = calloc(a->n + 1, sizeof(*v));
	size_t i, n = 0;

	if (!v)
		return NULL;
	for (i = 0; i < a->cap; i++)
		if (a->tab[i].key)
			v[n++] = &a->tab[i];
	qsort(v, n, sizeof(*v), cmp_ent);
	return v;
}

static double decay(double from, double to)
{
	return exp2((from - to) / STORE_HALF_LIFE_S);
}

/* ---- one report ---- */

struct wl_acc {
	const char *ns, *kind, *name;
	const Podmeter__V1__PodReport *first; /* its labels */
	int64_t cost[4], waste[3], net_tx, pods, runq, starts;
	double cpu_s, mem_byte_s;
};

struct batch {
	struct dacc dists, hours, wls, labels;
};

/* Rows of one statement, written STORE_ROWS to a statement (the rest one by one). */
struct rows {
	int one, many, k; /* the statements, and values a row */
	struct db_val v[STORE_ROWS * 24];
	int n;
};

struct one {
	struct store *s;
	const Podmeter__V1__NodeReport *r;
	struct wl_acc *wl;
	size_t n_wl;
	struct batch *b;
	struct rows pods, rollups;
};

static int rows_flush(struct db *db, struct rows *w)
{
	int i, ret = 0;

	if (w->n == STORE_ROWS)
		ret = db__queue(db, w->many, w->v, STORE_ROWS * w->k);
	else
		for (i = 0; i < w->n && !ret; i++)
			ret = db__queue(db, w->one, &w->v[i * w->k], w->k);
	w->n = 0;
	return ret;
}

/* The values of @v stay valid until the rows are flushed: the report's, or constants. */
static int rows_add(struct db *db, struct rows *w, const struct db_val *v)
{
	memcpy(&w->v[w->n * w->k], v, w->k * sizeof(*v));
	return ++w->n == STORE_ROWS ? rows_flush(db, w) : 0;
}

/* The entry of the parts joined, in @a. */
static struct dacc_ent *batch_get(struct dacc *a, int n, ...)
{
	char key[KEY_PARTS * (REC_STRING_MAX + 1)];
	size_t len = 0;
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		len += snprintf(key + len, sizeof(key) - len, "%s%s", i ? "\x1f" : "",
				va_arg(ap, const char *));
	va_end(ap);
	return len < sizeof(key) ? dacc_get(a, key) : NULL;
}

void store__workload_of(const Podmeter__V1__PodReport *p, const char **kind, const char **name)
{
	if (p->owner_kind[0] && p->owner_name[0]) {
		*kind = p->owner_kind;
		*name = p->owner_name;
	} else {
		*kind = "Pod";
		*name = p->name[0] ? p->name : p->uid;
	}
}

static uint64_t dollars(const Podmeter__V1__Dollars *d, int k)
{
	if (!d)
		return 0;
	switch (k) {
	case 0:
		return d->cpu_nanodollars;
	case 1:
		return d->memory_nanodollars;
	case 2:
		return d->gpu_nanodollars;
	default:
		return d->network_nanodollars;
	}
}

/* Amounts a report can hold fit in BIGINT; a forged one is cut to it. */
static int64_t nd(uint64_t v)
{
	return v > (uint64_t)INT64_MAX / 4096 ? INT64_MAX / 4096 : (int64_t)v;
}

static uint64_t net_tx(const Podmeter__V1__PodReport *p)
{
	uint64_t b = 0;
	size_t i;

	for (i = 0; i < p->n_network; i++)
		if (p->network[i]->direction == PODMETER__V1__DIRECTION__TX)
			b += p->network[i]->bytes;
	return b;
}

static struct wl_acc *wl_of(struct one *o, const Podmeter__V1__PodReport *p)
{
	const char *kind, *name;
	size_t i;

	store__workload_of(p, &kind, &name);
	for (i = 0; i < o->n_wl; i++)
		if (!strcmp(o->wl[i].ns, p->namespace_) && !strcmp(o->wl[i].kind, kind) &&
		    !strcmp(o->wl[i].name, name))
			return &o->wl[i];
	o->wl[o->n_wl] = (struct wl_acc){
		.ns = p->namespace_, .kind = kind, .name = name, .first = p
	};
	return &o->wl[o->n_wl++];
}

static int pod_window(struct one *o, const Podmeter__V1__PodReport *p, const struct wl_acc *wl)
{
	const Podmeter__V1__NodeReport *r = o->r;
	struct db_val v[24] = {
		DB_T(r->cluster),
		DB_T(r->node),
		DB_I(r->seq),
		DB_T(p->uid),
		DB_T(p->namespace_),
		DB_T(p->name),
		DB_T(wl->kind),
		DB_T(wl->name),
		DB_R(r->window_start),
		DB_R(r->window_end),
		DB_I(nd(p->cpu_usec)),
		DB_I(nd(p->memory_avg_bytes)),
		DB_I(nd(p->memory_peak_bytes)),
		DB_I(nd(net_tx(p))),
		DB_I(nd(p->oom_kills)),
	};
	int k;

	for (k = 0; k < 4; k++)
		v[15 + k] = DB_I(nd(dollars(p->cost, k)));
	for (k = 0; k < 3; k++)
		v[19 + k] = DB_I(nd(dollars(p->waste, k)));
	v[22] = DB_I(nd(p->runqueue_usec));
	v[23] = DB_I(nd(p->process_starts));
	return rows_add(o->s->db, &o->pods, v);
}

static void wl_add(struct wl_acc *wl, const Podmeter__V1__PodReport *p, double span)
{
	int k;

	for (k = 0; k < 4; k++)
		wl->cost[k] += nd(dollars(p->cost, k));
	for (k = 0; k < 3; k++)
		wl->waste[k] += nd(dollars(p->waste, k));
	wl->cpu_s += p->cpu_usec / 1e6;
	wl->mem_byte_s += (double)p->memory_avg_bytes * span;
	wl->net_tx += nd(net_tx(p));
	wl->runq += nd(p->runqueue_usec);
	wl->starts += nd(p->process_starts);
	wl->pods++;
}

/* The histogram's weights into @d, times @f; one from an unknown bucketing is skipped. */
static int hist_add(struct pm_dist *d, const Podmeter__V1__Histogram *h, double f)
{
	size_t i;
	int err = 0;

	if (h->relative_accuracy != PM_DIST_ALPHA || h->min_value != PM_DIST_MIN ||
	    h->first_key < PM_DIST_KEY_MIN ||
	    (int64_t)h->first_key + (int64_t)h->n_counts - 1 > PM_DIST_KEY_MAX)
		return -EINVAL;
	if (h->zero_count)
		err = dist__add_key(d, INT32_MIN, (double)h->zero_count * f);
	for (i = 0; i < h->n_counts && !err; i++)
		if (h->counts[i])
			err = dist__add_key(d, h->first_key + (int32_t)i, (double)h->counts[i] * f);
	return err;
}

static int ctr_dist(struct one *o, const struct wl_acc *wl, const Podmeter__V1__ContainerReport *c)
{
	const Podmeter__V1__NodeReport *r = o->r;
	struct dacc *a = &o->b->dists;
	struct dacc_ent *e;
	int err;

	if (!c->cpu_cores)
		return 0;
	if (!a->has_ref) {
		a->ref = r->window_end;
		a->has_ref = true;
	}
	e = batch_get(a, 5, r->cluster, wl->ns, wl->kind, wl->name, c->name);
	if (!e)
		return -ENOMEM;
	err = hist_add(&e->d, c->cpu_cores, decay(r->window_end, a->ref));
	if (err == -EINVAL)
		return 0; /* another bucketing: the rest of the report still counts */
	e->first = fmin(e->first, r->window_start);
	e->last = fmax(e->last, r->window_end);
	return err;
}

static int64_t res_or(const Podmeter__V1__Resources *r, int cpu)
{
	if (!r)
		return -1;
	return cpu ? r->cpu_millicores : r->memory_bytes;
}

/* Containers by name: the workload's, across its pods; unnamed ones are no one's to resize. */
static int containers(struct one *o, const struct wl_acc *wl, const Podmeter__V1__PodReport *p)
{
	const Podmeter__V1__NodeReport *r = o->r;
	double cpu_sum = 0;
	char hour[24];
	struct dacc_ent *a;
	size_t i, named = 0;
	int err;

	snprintf(hour, sizeof(hour), "%lld", (long long)floor(r->window_start / 3600) * 3600);
	for (i = 0; i < p->n_containers; i++)
		if (p->containers[i]->name[0])
			named++, cpu_sum += (double)nd(p->containers[i]->cpu_usec);
	for (i = 0; i < p->n_containers; i++) {
		const Podmeter__V1__ContainerReport *c = p->containers[i];

		if (!c->name[0])
			continue;
		a = batch_get(&o->b->hours, 6, r->cluster, hour, wl->ns, wl->kind, wl->name,
			      c->name);
		if (!a)
			return -ENOMEM;
		/* the pod's run-queue wait, shared by CPU time: the ratio per CPU-second holds */
		a->rq_usec += llround(
			(double)nd(p->runqueue_usec) *
			(cpu_sum > 0 ? (double)nd(c->cpu_usec) / cpu_sum : 1.0 / named));
		a->pod_s += fmax(r->window_end - r->window_start, 0);
		a->cpu_usec += nd(c->cpu_usec);
		a->ooms += nd(c->oom_kills);
		a->thr_periods += nd(c->cpu_throttled_periods);
		a->thr_usec += nd(c->cpu_throttled_usec);
		if (nd(c->memory_working_set_peak_bytes) > a->peak)
			a->peak = nd(c->memory_working_set_peak_bytes);
		a->pods++;
		a->res[0] = res_or(c->requests, 1);
		a->res[1] = res_or(c->requests, 0);
		a->res[2] = res_or(c->limits, 1);
		a->res[3] = res_or(c->limits, 0);
		err = ctr_dist(o, wl, c);
		if (err)
			return err;
	}
	return 0;
}

static int flush_hours(struct store *s, const struct dacc *a)
{
	const struct dacc_ent **sorted = dacc_sorted(a), *e;
	size_t i;
	int ret = sorted ? 0 : -ENOMEM;

	for (i = 0; !ret && (e = sorted[i]); i++) {
		struct db_val v[18];

		v[0] = DB_T(e->part[0]);
		v[1] = DB_I(strtoll(e->part[1], NULL, 10));
		v[2] = DB_T(e->part[2]);
		v[3] = DB_T(e->part[3]);
		v[4] = DB_T(e->part[4]);
		v[5] = DB_T(e->part[5]);
		v[6] = DB_I(e->cpu_usec);
		v[7] = DB_I(e->peak);
		v[8] = DB_I(e->ooms);
		v[9] = DB_I(e->thr_periods);
		v[10] = DB_I(e->thr_usec);
		v[11] = DB_I(e->res[0]);
		v[12] = DB_I(e->res[1]);
		v[13] = DB_I(e->res[2]);
		v[14] = DB_I(e->res[3]);
		v[15] = DB_I(e->pods);
		v[16] = DB_I(e->rq_usec);
		v[17] = DB_R(e->pod_s);
		ret = db__queue(s->db, SQL_CTR_HOURLY, v, 18);
	}
	free(sorted);
	return ret;
}

/* ---- hourly rollups ---- */

struct rollup {
	const char *ns, *kind, *name;
	int64_t cost[4], waste[3], idle[3], net_tx, pods, runq, starts;
	double cpu_s, mem_byte_s;
};

/* @v's share of the hours' fractions so far, rounded so that the parts add up to @v. */
static int64_t part(int64_t v, double frac_before, double frac_after)
{
	return llround((double)v * frac_after) - llround((double)v * frac_before);
}

static int rollup_hour(struct one *o, const struct rollup *ru, int64_t hour, double f0, double f1)
{
	const Podmeter__V1__NodeReport *r = o->r;
	struct db_val v[22] = {
		DB_T(r->cluster), DB_I(hour),	  DB_T(ru->ns),
		DB_T(ru->kind),	  DB_T(ru->name), DB_T(r->node),
	};
	int k;

	for (k = 0; k < 4; k++)
		v[6 + k] = DB_I(part(ru->cost[k], f0, f1));
	for (k = 0; k < 3; k++) {
		v[10 + k] = DB_I(part(ru->waste[k], f0, f1));
		v[13 + k] = DB_I(part(ru->idle[k], f0, f1));
	}
	v[16] = DB_R(ru->cpu_s * (f1 - f0));
	v[17] = DB_R(ru->mem_byte_s * (f1 - f0));
	v[18] = DB_I(part(ru->net_tx, f0, f1));
	v[19] = DB_I(f0 == 0 ? ru->pods : 0); /* pod-windows counted once, in the first hour */
	v[20] = DB_I(part(ru->runq, f0, f1));
	v[21] = DB_I(part(ru->starts, f0, f1));
	return rows_add(o->s->db, &o->rollups, v);
}

/* One rollup over the hours the report's window spans, in proportion to the time in each. */
static int rollup(struct one *o, const struct rollup *ru)
{
	double ws = o->r->window_start, we = o->r->window_end, span = we - ws, f0 = 0, f1, end;
	int64_t hour = (int64_t)floor(ws / 3600) * 3600;
	int ret = 0;

	if (!(span > 0))
		return rollup_hour(o, ru, hour, 0, 1);
	for (; !ret && f0 < 1; hour += 3600, f0 = f1) {
		end = fmin((double)hour + 3600, we);
		f1 = end >= we ? 1 : (end - ws) / span;
		ret = rollup_hour(o, ru, hour, f0, f1);
	}
	return ret;
}

static int write_rollups(struct one *o)
{
	const Podmeter__V1__NodeUsage *u = o->r->node_usage;
	struct rollup ru;
	size_t i;
	int k, ret = 0;

	for (i = 0; i < o->n_wl && !ret; i++) {
		const struct wl_acc *w = &o->wl[i];

		memset(&ru, 0, sizeof(ru));
		ru.ns = w->ns;
		ru.kind = w->kind;
		ru.name = w->name;
		memcpy(ru.cost, w->cost, sizeof(ru.cost));
		memcpy(ru.waste, w->waste, sizeof(ru.waste));
		ru.cpu_s = w->cpu_s;
		ru.mem_byte_s = w->mem_byte_s;
		ru.net_tx = w->net_tx;
		ru.pods = w->pods;
		ru.runq = w->runq;
		ru.starts = w->starts;
		ret = rollup(o, &ru);
	}
	if (ret || !u || !u->idle_cost)
		return ret;
	/* the node's unallocated capacity, OpenCost's __idle__ */
	memset(&ru, 0, sizeof(ru));
	ru.ns = STORE_IDLE_NAMESPACE;
	ru.kind = ru.name = "";
	for (k = 0; k < 3; k++)
		ru.idle[k] = nd(dollars(u->idle_cost, k));
	return rollup(o, &ru);
}

/* ---- workloads, labels, findings ---- */

/* The report's workloads and their labels, into the batch. */
static int note_workloads(struct one *o)
{
	const Podmeter__V1__NodeReport *r = o->r;
	struct dacc_ent *e;
	size_t i, k;

	for (i = 0; i < o->n_wl; i++) {
		const struct wl_acc *w = &o->wl[i];

		e = batch_get(&o->b->wls, 4, r->cluster, w->ns, w->kind, w->name);
		if (!e)
			return -ENOMEM;
		e->first = fmin(e->first, r->window_start);
		e->last = fmax(e->last, r->window_end);
		for (k = 0; k < w->first->n_labels; k++) {
			e = batch_get(&o->b->labels, 5, r->cluster, w->ns, w->kind, w->name,
				      w->first->labels[k]->key);
			if (!e)
				return -ENOMEM;
			if (r->window_end < e->last)
				continue; /* a later report of the batch said otherwise */
			free(e->value);
			e->value = strdup(w->first->labels[k]->value);
			if (!e->value)
				return -ENOMEM;
			e->last = r->window_end;
		}
	}
	return 0;
}

static int flush_workloads(struct store *s, const struct batch *b)
{
	const struct dacc_ent **wls = dacc_sorted(&b->wls), **labels = dacc_sorted(&b->labels), *e;
	size_t i;
	int ret = wls && labels ? 0 : -ENOMEM;

	for (i = 0; !ret && (e = wls[i]); i++) {
		{
			struct db_val v[6] = { DB_T(e->part[0]), DB_T(e->part[1]), DB_T(e->part[2]),
					       DB_T(e->part[3]), DB_R(e->first),   DB_R(e->last) };

			ret = db__queue(s->db, SQL_WORKLOAD, v, 6);
		}
	}
	for (i = 0; !ret && (e = labels[i]); i++) {
		if (e->value) {
			struct db_val v[7] = { DB_T(e->part[0]), DB_T(e->part[1]), DB_T(e->part[2]),
					       DB_T(e->part[3]), DB_T(e->part[4]), DB_T(e->value),
					       DB_R(e->last) };

			ret = db__queue(s->db, SQL_LABEL, v, 7);
		}
	}
	free(wls);
	free(labels);
	return ret;
}

static char *attributes_json(const Podmeter__V1__Finding *f)
{
	json_t *o = json_object();
	char *s;
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < f->n_attributes; i++)
		json_object_set_new(o, f->attributes[i]->key, json_string(f->attributes[i]->value));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

static int write_finding(struct one *o, const Podmeter__V1__Finding *f,
			 const Podmeter__V1__PodReport *p, const struct wl_acc *wl)
{
	const Podmeter__V1__NodeReport *r = o->r;
	char *attrs;
	int ret;

	if (!f->id[0])
		return 0; /* without a stable id there is nothing to follow */
	attrs = attributes_json(f);
	if (!attrs)
		return -ENOMEM;
	{
		struct db_val v[15] = {
			DB_T(r->cluster),
			DB_T(f->id),
			DB_T(f->kind),
			DB_T(p ? p->namespace_ : ""),
			DB_T(p ? p->name : ""),
			DB_T(p ? p->uid : ""),
			DB_T(wl ? wl->kind : ""),
			DB_T(wl ? wl->name : ""),
			DB_T(r->node),
			DB_R(r->window_start),
			DB_R(r->window_end),
			DB_R(isfinite(f->since) ? f->since : 0),
			DB_R(isfinite(f->score) ? f->score : 0),
			DB_T(f->detail),
			DB_T(attrs),
		};

		ret = db__queue(o->s->db, SQL_FINDING, v, 15);
	}
	free(attrs);
	return ret;
}

/* Is pod @i's uid also that of an earlier pod of the report? */
static bool listed_before(const Podmeter__V1__NodeReport *r, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (!strcmp(r->pods[k]->uid, r->pods[i]->uid))
			return true;
	return false;
}

static int write_pods(struct one *o)
{
	const Podmeter__V1__NodeReport *r = o->r;
	double span = r->window_end - r->window_start;
	struct wl_acc *wl;
	size_t i, k;
	int ret = 0;

	for (i = 0; i < r->n_pods && !ret; i++) {
		const Podmeter__V1__PodReport *p = r->pods[i];

		if (listed_before(r, i))
			continue; /* a pod is counted once a report */
		wl = wl_of(o, p);
		wl_add(wl, p, span > 0 ? span : 0);
		ret = pod_window(o, p, wl);
		if (!ret)
			ret = containers(o, wl, p);
		for (k = 0; !ret && k < p->n_findings; k++)
			ret = write_finding(o, p->findings[k], p, wl);
	}
	for (k = 0; !ret && k < r->n_findings; k++)
		ret = write_finding(o, r->findings[k], NULL, NULL);
	return ret;
}

/* ---- the ledger: the batch's reads in one round trip ---- */

struct node_state {
	bool found;
	int64_t last_seq, floor;
};

/* What the batch knows of each report before writing it. */
struct pre {
	struct node_state db; /* the node as the store had it */
	int64_t last;	      /* the node's last sequence once this report is in */
	int64_t changes;      /* the ledger insert's */
	double was;	      /* the ledger's window for a sequence already there */
	bool known;	      /* already seen: a duplicate, a reuse, or at or below the floor */
	struct db_val key[9];
};

static int node_row(void *ctx, const struct db_row *row)
{
	struct node_state *n = ctx;

	n->found = true;
	n->last_seq = db_row__int(row, 0);
	n->floor = db_row__int(row, 1);
	return 0;
}

static int window_row(void *ctx, const struct db_row *row)
{
	*(double *)ctx = db_row__real(row, 0);
	return 0;
}

static int dist_row(void *ctx, const struct db_row *r)
{
	struct dacc_ent *e = ctx;
	size_t len;
	const void *b = db_row__blob(r, 0, &len);

	e->row_found = true;
	e->row_ref = db_row__real(r, 1);
	e->row_ret = dist__decode(&e->row, b, len);
	return 0;
}

static bool same_node(const Podmeter__V1__NodeReport *a, const Podmeter__V1__NodeReport *b)
{
	return !strcmp(a->node, b->node) && !strcmp(a->cluster, b->cluster);
}

/* Every distribution a report of the batch may feed: their rows are read up front. */
static int dist_keys(struct batch *b, struct store_report *reps, size_t n)
{
	const char *kind, *name;
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		const Podmeter__V1__NodeReport *r = reps[i].rep;

		if (!b->dists.has_ref) {
			b->dists.ref = r->window_end;
			b->dists.has_ref = true;
		}
		for (j = 0; j < r->n_pods; j++) {
			store__workload_of(r->pods[j], &kind, &name);
			for (k = 0; k < r->pods[j]->n_containers; k++) {
				const Podmeter__V1__ContainerReport *c = r->pods[j]->containers[k];

				if (c->name[0] && c->cpu_cores &&
				    !batch_get(&b->dists, 5, r->cluster, r->pods[j]->namespace_,
					       kind, name, c->name))
					return -ENOMEM;
			}
		}
	}
	return 0;
}

/*
 * One round trip: each report's node, its ledger row (inserted unless the
 * key is there or at or below the node's floor), and the stored
 * distributions the batch may add to.
 */
static int read_and_insert(struct store *s, struct store_report *reps, struct pre *pre, size_t n,
			   struct batch *b)
{
	struct db_call *calls = calloc(2 * n + b->dists.n + 1, sizeof(*calls));
	size_t i, k = 0;
	int ret;

	if (!calls)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const Podmeter__V1__NodeReport *r = reps[i].rep;
		struct db_val *v = pre[i].key;

		v[0] = DB_T(r->cluster);
		v[1] = DB_T(r->node);
		v[2] = DB_I(r->seq);
		v[3] = DB_R(r->window_start);
		v[4] = DB_R(r->window_end);
		v[5] = DB_R(reps[i].received_at);
		v[6] = DB_I(reps[i].bytes);
		v[7] = DB_I(r->n_pods);
		calls[k++] = (struct db_call){ SQL_NODE_GET, v, 2, node_row, &pre[i].db, NULL };
		calls[k++] = (struct db_call){
			SQL_LEDGER_INSERT, v, 8, NULL, NULL, &pre[i].changes
		};
	}
	for (i = 0; i < b->dists.cap; i++) {
		struct dacc_ent *e = &b->dists.tab[i];

		if (e->key)
			calls[k++] = (struct db_call){ SQL_DIST_GET, NULL, 5, dist_row, e, NULL };
	}
	/* the keys' values point into the entries: set once the table no longer moves */
	for (i = 2 * n; i < k; i++) {
		struct dacc_ent *e = calls[i].ctx;
		struct db_val *v = calloc(5, sizeof(*v));
		int p;

		if (!v) {
			while (i-- > 2 * n)
				free((void *)calls[i].params);
			free(calls);
			return -ENOMEM;
		}
		for (p = 0; p < 5; p++)
			v[p] = DB_T(e->part[p]);
		calls[i].params = v;
	}
	ret = db__batch(s->db, calls, (int)k);
	for (i = 2 * n; i < k; i++)
		free((void *)calls[i].params);
	free(calls);
	return ret;
}

/*
 * Already seen: a key in the ledger with this window is a duplicate, with
 * another a reused sequence; no row at all means at or below the node's
 * floor. One round trip, for those only.
 */
static int judge_known(struct store *s, struct store_report *reps, struct pre *pre, size_t n)
{
	struct db_call *calls = calloc(n + 1, sizeof(*calls));
	size_t i, k = 0;
	int ret;

	if (!calls)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		pre[i].was = NAN;
		if (!pre[i].changes) {
			pre[i].known = true;
			calls[k++] = (struct db_call){ SQL_LEDGER_GET, pre[i].key,  3,
						       window_row,     &pre[i].was, NULL };
		}
	}
	ret = k ? db__batch(s->db, calls, (int)k) : 0;
	free(calls);
	for (i = 0; i < n && !ret; i++) {
		if (!pre[i].known)
			continue;
		if (isnan(pre[i].was)) {
			reps[i].verdict = STORE_DUPLICATE;
			snprintf(reps[i].why, sizeof(reps[i].why),
				 "older than the ledger keeps (at or below %lld)",
				 (long long)pre[i].db.floor);
		} else if (pre[i].was == reps[i].rep->window_start) {
			reps[i].verdict = STORE_DUPLICATE;
		} else {
			reps[i].verdict = STORE_SEQ_REUSED;
			snprintf(reps[i].why, sizeof(reps[i].why),
				 "seq %llu was taken for another window; was the node's spool "
				 "reset?",
				 (unsigned long long)reps[i].rep->seq);
		}
	}
	return ret;
}

/*
 * In batch order, each new report against its node's state (the store's,
 * or as an earlier report of the batch left it): far past the last
 * sequence it is a jump, flagged in the ledger, which leaves the node's
 * last sequence where it was, so later real reports are judged against it.
 */
static int judge_sequences(struct store *s, struct store_report *reps, struct pre *pre, size_t n)
{
	struct node_state st;
	size_t i, j;
	int ret = 0;

	for (i = 0; i < n && !ret; i++) {
		const Podmeter__V1__NodeReport *r = reps[i].rep;

		if (pre[i].known)
			continue;
		st = pre[i].db;
		for (j = i; j-- > 0;) {
			if (same_node(reps[j].rep, r) && !pre[j].known) {
				st = (struct node_state){ true, pre[j].last, pre[j].db.floor };
				break;
			}
		}
		reps[i].seq_jump = st.found && r->seq > (uint64_t)st.last_seq + REC_SEQ_JUMP_MAX;
		pre[i].last = !st.found			      ? (int64_t)r->seq
			      : reps[i].seq_jump	      ? st.last_seq
			      : (int64_t)r->seq > st.last_seq ? (int64_t)r->seq
							      : st.last_seq;
		if (reps[i].seq_jump)
			ret = db__queue(s->db, SQL_LEDGER_JUMP, pre[i].key, 3);
	}
	return ret;
}

static int node_upsert(struct one *o, const struct store_report *sr, int64_t last_seq)
{
	const Podmeter__V1__NodeReport *r = o->r;
	const Podmeter__V1__Prices *pr = r->prices;
	struct db_val v[10] = { DB_T(r->cluster),
				DB_T(r->node),
				DB_I(last_seq),
				DB_R(r->window_end),
				DB_R(sr->received_at),
				DB_I(sr->seq_jump),
				DB_T(r->agent_version),
				DB_R(pr ? pr->cpu_core_hour : 0),
				DB_R(pr ? pr->memory_gib_hour : 0),
				DB_R(pr ? pr->gpu_hour : 0) };

	return db__queue(o->s->db, SQL_NODE_UPSERT, v, 10);
}

/* A new report's rows, queued; what workloads share, into the batch. */
static int write_report(struct store *s, struct store_report *sr, int64_t last, struct batch *b)
{
	const Podmeter__V1__NodeReport *r = sr->rep;
	struct one *o = calloc(1, sizeof(*o));
	int ret;

	if (!o)
		return -ENOMEM;
	*o = (struct one){ .s = s,
			   .r = r,
			   .b = b,
			   .pods = { .one = SQL_POD_WINDOW, .many = SQL_POD_WINDOW_ROWS, .k = 24 },
			   .rollups = { .one = SQL_ROLLUP, .many = SQL_ROLLUP_ROWS, .k = 22 } };
	o->wl = calloc(r->n_pods + 1, sizeof(*o->wl));
	if (!o->wl) {
		free(o);
		return -ENOMEM;
	}
	ret = node_upsert(o, sr, last);
	if (!ret)
		ret = write_pods(o);
	if (!ret)
		ret = rows_flush(s->db, &o->pods);
	if (!ret)
		ret = write_rollups(o);
	if (!ret)
		ret = rows_flush(s->db, &o->rollups);
	if (!ret)
		ret = note_workloads(o);
	if (!ret)
		sr->verdict = STORE_STORED;
	free(o->wl);
	free(o);
	return ret;
}

/* ---- the batch ---- */

/* The stored distribution and the batch's, both decayed to the later time: weights only shrink. */
static int put_dist(struct store *s, const struct dacc *a, struct dacc_ent *e)
{
	struct db_val key[9] = { DB_T(e->part[0]), DB_T(e->part[1]), DB_T(e->part[2]),
				 DB_T(e->part[3]), DB_T(e->part[4]) };
	double ref = e->row_found ? e->row_ref : a->ref, to = fmax(ref, a->ref);
	size_t len;
	void *blob;
	int ret = e->row_ret;

	if (ret)
		return ret;
	dist__scale(&e->row, decay(ref, to));
	ret = dist__merge(&e->row, &e->d, decay(a->ref, to));
	if (!ret)
		ret = dist__encode(&e->row, &blob, &len);
	if (ret)
		return ret;
	key[5] = DB_B(blob, len);
	key[6] = DB_R(to);
	key[7] = DB_R(e->first);
	key[8] = DB_R(e->last);
	ret = db__queue(s->db, SQL_DIST_PUT, key, 9);
	free(blob);
	return ret;
}

/* The distributions the batch added to, written back (rows were read with the ledger). */
static int flush_dists(struct store *s, const struct dacc *a)
{
	const struct dacc_ent **sorted = dacc_sorted(a);
	size_t i;
	int ret = sorted ? 0 : -ENOMEM;

	for (i = 0; !ret && sorted[i]; i++)
		if (sorted[i]->last >= sorted[i]->first) /* a stored report fed it */
			ret = put_dist(s, a, (struct dacc_ent *)sorted[i]);
	free(sorted);
	return ret;
}

static void fail_all(struct store_report *reps, size_t n, const char *why)
{
	size_t i;

	for (i = 0; i < n; i++) {
		reps[i].verdict = STORE_FAILED;
		snprintf(reps[i].why, sizeof(reps[i].why), "%s", why);
	}
}

static void batch_free(struct batch *b)
{
	dacc_free(&b->dists);
	dacc_free(&b->hours);
	dacc_free(&b->wls);
	dacc_free(&b->labels);
}

/* The batch's reads with the ledger, then the new reports' rows, then what it added up. */
static int batch_write(struct store *s, struct store_report *reps, size_t n, struct batch *b)
{
	struct pre *pre = calloc(n, sizeof(*pre));
	size_t i;
	int ret = pre ? dist_keys(b, reps, n) : -ENOMEM;

	if (!ret)
		ret = read_and_insert(s, reps, pre, n, b);
	if (!ret)
		ret = judge_known(s, reps, pre, n);
	if (!ret)
		ret = judge_sequences(s, reps, pre, n);
	for (i = 0; i < n && !ret; i++)
		if (!pre[i].known)
			ret = write_report(s, &reps[i], pre[i].last, b);
	if (!ret)
		ret = flush_hours(s, &b->hours);
	if (!ret)
		ret = flush_workloads(s, b);
	if (!ret)
		ret = flush_dists(s, &b->dists);
	free(pre);
	return ret;
}

/* @n reports in one transaction; their verdicts count only once it committed. */
static int ingest_batch(struct store *s, struct store_report *reps, size_t n, char *err,
			size_t errlen)
{
	struct batch b = { 0 };
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		reps[i].verdict = STORE_PENDING;
		reps[i].seq_jump = false;
		reps[i].why[0] = '\0';
	}
	ret = db__begin_write(s->db);
	if (!ret)
		ret = batch_write(s, reps, n, &b);
	if (!ret)
		ret = db__flush(s->db);
	if (!ret)
		ret = db__exec(s->db, "COMMIT");
	batch_free(&b);
	if (ret) {
		snprintf(err, errlen, "%s", ret == -ENOMEM ? "out of memory" : db__error(s->db));
		db__exec(s->db, "ROLLBACK");
		fail_all(reps, n, err);
	}
	return ret;
}

/*
 * A batch that fails is written again report by report, so that one report
 * the store refuses does not fail the others: a failure is then that
 * report's alone.
 */
int store__ingest(struct store *s, struct store_report *reps, size_t n, char *err, size_t errlen)
{
	char why[256];
	size_t i, ok = 0;
	int ret;

	ret = ingest_batch(s, reps, n, err, errlen);
	if (!ret || n == 1)
		return ret;
	for (i = 0; i < n; i++)
		ok += !ingest_batch(s, &reps[i], 1, why, sizeof(why));
	return ok ? 0 : ret;
}
