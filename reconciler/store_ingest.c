// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reports into the store, exactly once. In one transaction per batch, each
 * report under a savepoint:
 *   1. the ledger row (cluster, node, seq), unique: a report already there
 *      is a duplicate (same window) or a reused sequence (another window),
 *      and nothing else is written for it;
 *   2. its pod-windows, hourly rollups (split over the hours its window
 *      spans), workloads and their labels, container hours, findings;
 *   3. its containers' CPU distributions, added up in memory over the batch
 *      (decayed to the batch's time) and written once per container at the
 *      end, so replicas on many nodes cost one row update a batch.
 * The caller answers only after the commit.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "rec_limits.h"
#include "store.h"
#include "store_int.h"
#include "store_sql.h"

/* ---- distributions, summed over a batch ---- */

struct dacc_ent {
	char *key;		/* cluster \x1f namespace \x1f kind \x1f name \x1f container */
	const char *part[5];	/* into a copy of key, split */
	char *parts;
	struct pm_dist d;	/* weights as of the accumulator's ref */
	double first, last;	/* window times seen */
};

struct dacc {
	struct dacc_ent *tab;	/* open addressing, cap a power of two */
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
		dist__free(&a->tab[i].d);
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
	for (p = e->parts; *p && k < 5; p++) {
		if (*p == '\x1f') {
			*p = '\0';
			e->part[k++] = p + 1;
		}
	}
	return k == 5 ? 0 : -EINVAL;
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
	e->first = INFINITY;
	e->last = -INFINITY;
	a->n++;
	return e;
}

static double decay(double from, double to)
{
	return exp2((from - to) / STORE_HALF_LIFE_S);
}

/* Add @src's entries to @dst, rescaled from @src's ref to @dst's. */
static int dacc_merge(struct dacc *dst, const struct dacc *src)
{
	double f;
	size_t i;
	int err;

	if (!src->n)
		return 0;
	if (!dst->has_ref) {
		dst->ref = src->ref;
		dst->has_ref = true;
	}
	f = decay(src->ref, dst->ref);
	for (i = 0; i < src->cap; i++) {
		const struct dacc_ent *s = &src->tab[i];
		struct dacc_ent *d;

		if (!s->key)
			continue;
		d = dacc_get(dst, s->key);
		if (!d)
			return -ENOMEM;
		err = dist__merge(&d->d, &s->d, f);
		if (err)
			return err;
		d->first = fmin(d->first, s->first);
		d->last = fmax(d->last, s->last);
	}
	return 0;
}

/* ---- one report ---- */

struct wl_acc {
	const char *ns, *kind, *name;
	const Podmeter__V1__PodReport *first;	/* its labels */
	int64_t cost[4], waste[3], net_tx, pods;
	double cpu_s, mem_byte_s;
};

struct ctr_acc {
	const struct wl_acc *wl;
	const char *name;
	int64_t cpu_usec, peak, ooms, thr_periods, thr_usec, pods;
	const Podmeter__V1__ContainerReport *last;	/* requests and limits */
};

struct one {
	struct store *s;
	const Podmeter__V1__NodeReport *r;
	struct wl_acc *wl;
	size_t n_wl;
	struct ctr_acc *ctr;
	size_t n_ctr;
	struct dacc dists;
};

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
	o->wl[o->n_wl] = (struct wl_acc){ .ns = p->namespace_, .kind = kind, .name = name,
					  .first = p };
	return &o->wl[o->n_wl++];
}

static int pod_window(struct one *o, const Podmeter__V1__PodReport *p, const struct wl_acc *wl)
{
	const Podmeter__V1__NodeReport *r = o->r;
	struct db_val v[22] = {
		DB_T(r->cluster), DB_T(r->node), DB_I(r->seq), DB_T(p->uid), DB_T(p->namespace_),
		DB_T(p->name), DB_T(wl->kind), DB_T(wl->name), DB_R(r->window_start),
		DB_R(r->window_end), DB_I(nd(p->cpu_usec)), DB_I(nd(p->memory_avg_bytes)),
		DB_I(nd(p->memory_peak_bytes)), DB_I(nd(net_tx(p))), DB_I(nd(p->oom_kills)),
	};
	int k;

	for (k = 0; k < 4; k++)
		v[15 + k] = DB_I(nd(dollars(p->cost, k)));
	for (k = 0; k < 3; k++)
		v[19 + k] = DB_I(nd(dollars(p->waste, k)));
	return db__run(o->s->db, SQL_POD_WINDOW, v, 22, NULL, NULL, NULL);
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
	char key[5 * (REC_STRING_MAX + 1)];
	struct dacc_ent *e;
	int err;

	if (!c->cpu_cores)
		return 0;
	snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s\x1f%s", r->cluster, wl->ns, wl->kind,
		 wl->name, c->name);
	if (!o->dists.has_ref) {
		o->dists.ref = r->window_end;
		o->dists.has_ref = true;
	}
	e = dacc_get(&o->dists, key);
	if (!e)
		return -ENOMEM;
	err = hist_add(&e->d, c->cpu_cores, 1);
	if (err == -EINVAL)
		return 0;	/* another bucketing: the rest of the report still counts */
	e->first = fmin(e->first, r->window_start);
	e->last = fmax(e->last, r->window_end);
	return err;
}

static struct ctr_acc *ctr_of(struct one *o, const struct wl_acc *wl, const char *name)
{
	size_t i;

	for (i = 0; i < o->n_ctr; i++)
		if (o->ctr[i].wl == wl && !strcmp(o->ctr[i].name, name))
			return &o->ctr[i];
	o->ctr[o->n_ctr] = (struct ctr_acc){ .wl = wl, .name = name };
	return &o->ctr[o->n_ctr++];
}

/* Containers by name: the workload's, across its pods; unnamed ones are no one's to resize. */
static int containers(struct one *o, const struct wl_acc *wl, const Podmeter__V1__PodReport *p)
{
	struct ctr_acc *a;
	size_t i;
	int err;

	for (i = 0; i < p->n_containers; i++) {
		const Podmeter__V1__ContainerReport *c = p->containers[i];

		if (!c->name[0])
			continue;
		a = ctr_of(o, wl, c->name);
		a->cpu_usec += nd(c->cpu_usec);
		a->ooms += nd(c->oom_kills);
		a->thr_periods += nd(c->cpu_throttled_periods);
		a->thr_usec += nd(c->cpu_throttled_usec);
		if (nd(c->memory_working_set_peak_bytes) > a->peak)
			a->peak = nd(c->memory_working_set_peak_bytes);
		a->pods++;
		a->last = c;
		err = ctr_dist(o, wl, c);
		if (err)
			return err;
	}
	return 0;
}

static int64_t res_or(const Podmeter__V1__Resources *r, int cpu)
{
	if (!r)
		return -1;
	return cpu ? r->cpu_millicores : r->memory_bytes;
}

static int write_containers(struct one *o)
{
	const Podmeter__V1__NodeReport *r = o->r;
	int64_t hour = (int64_t)floor(r->window_start / 3600) * 3600;
	size_t i;
	int ret = 0;

	for (i = 0; i < o->n_ctr && !ret; i++) {
		const struct ctr_acc *a = &o->ctr[i];
		struct db_val v[16] = {
			DB_T(r->cluster), DB_I(hour), DB_T(a->wl->ns), DB_T(a->wl->kind),
			DB_T(a->wl->name), DB_T(a->name), DB_I(a->cpu_usec), DB_I(a->peak),
			DB_I(a->ooms), DB_I(a->thr_periods), DB_I(a->thr_usec),
			DB_I(res_or(a->last->requests, 1)), DB_I(res_or(a->last->requests, 0)),
			DB_I(res_or(a->last->limits, 1)), DB_I(res_or(a->last->limits, 0)),
			DB_I(a->pods),
		};

		ret = db__run(o->s->db, SQL_CTR_HOURLY, v, 16, NULL, NULL, NULL);
	}
	return ret;
}

/* ---- hourly rollups ---- */

struct rollup {
	const char *ns, *kind, *name;
	int64_t cost[4], waste[3], idle[3], net_tx, pods;
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
	struct db_val v[20] = {
		DB_T(r->cluster), DB_I(hour), DB_T(ru->ns), DB_T(ru->kind), DB_T(ru->name),
		DB_T(r->node),
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
	v[19] = DB_I(f0 == 0 ? ru->pods : 0);	/* pod-windows counted once, in the first hour */
	return db__run(o->s->db, SQL_ROLLUP, v, 20, NULL, NULL, NULL);
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

static int write_workloads(struct one *o)
{
	const Podmeter__V1__NodeReport *r = o->r;
	size_t i, k;
	int ret = 0;

	for (i = 0; i < o->n_wl && !ret; i++) {
		const struct wl_acc *w = &o->wl[i];
		struct db_val v[7] = { DB_T(r->cluster), DB_T(w->ns), DB_T(w->kind), DB_T(w->name),
				       DB_R(r->window_start), DB_R(r->window_end) };

		ret = db__run(o->s->db, SQL_WORKLOAD, v, 6, NULL, NULL, NULL);
		for (k = 0; !ret && k < w->first->n_labels; k++) {
			v[4] = DB_T(w->first->labels[k]->key);
			v[5] = DB_T(w->first->labels[k]->value);
			v[6] = DB_R(r->window_end);
			ret = db__run(o->s->db, SQL_LABEL, v, 7, NULL, NULL, NULL);
		}
	}
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
		return 0;	/* without a stable id there is nothing to follow */
	attrs = attributes_json(f);
	if (!attrs)
		return -ENOMEM;
	{
		struct db_val v[15] = {
			DB_T(r->cluster), DB_T(f->id), DB_T(f->kind),
			DB_T(p ? p->namespace_ : ""), DB_T(p ? p->name : ""), DB_T(p ? p->uid : ""),
			DB_T(wl ? wl->kind : ""), DB_T(wl ? wl->name : ""), DB_T(r->node),
			DB_R(r->window_start), DB_R(r->window_end),
			DB_R(isfinite(f->since) ? f->since : 0),
			DB_R(isfinite(f->score) ? f->score : 0), DB_T(f->detail), DB_T(attrs),
		};

		ret = db__run(o->s->db, SQL_FINDING, v, 15, NULL, NULL, NULL);
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
			continue;	/* a pod is counted once a report */
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

/* ---- the ledger ---- */

struct node_state {
	bool found;
	int64_t last_seq, floor;
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

/*
 * The ledger row; 1 when the report is already there (verdict set), 0 when
 * new, with *@last the node's last sequence as it is to be kept: a jump
 * leaves it where it was, so later real reports are judged against it.
 */
static int ledger(struct one *o, struct store_report *sr, int64_t *last)
{
	const Podmeter__V1__NodeReport *r = o->r;
	struct db_val key[3] = { DB_T(r->cluster), DB_T(r->node), DB_I(r->seq) };
	struct node_state ns = { 0 };
	double was = NAN;
	int64_t changes;
	int ret;

	ret = db__run(o->s->db, SQL_NODE_GET, key, 2, node_row, &ns, NULL);
	if (ret)
		return ret;
	if (ns.found && (int64_t)r->seq <= ns.floor) {
		sr->verdict = STORE_DUPLICATE;
		snprintf(sr->why, sizeof(sr->why), "older than the ledger keeps (at or below %lld)",
			 (long long)ns.floor);
		return 1;
	}
	sr->seq_jump = ns.found && r->seq > (uint64_t)ns.last_seq + REC_SEQ_JUMP_MAX;
	*last = sr->seq_jump ? ns.last_seq : (int64_t)r->seq;
	{
		struct db_val v[9] = { key[0], key[1], key[2], DB_R(r->window_start),
				       DB_R(r->window_end), DB_R(sr->received_at), DB_I(sr->bytes),
				       DB_I(r->n_pods), DB_I(sr->seq_jump) };

		ret = db__run(o->s->db, SQL_LEDGER_INSERT, v, 9, NULL, NULL, &changes);
	}
	if (ret || changes)
		return ret;
	ret = db__run(o->s->db, SQL_LEDGER_GET, key, 3, window_row, &was, NULL);
	if (ret)
		return ret;
	sr->verdict = was == r->window_start ? STORE_DUPLICATE : STORE_SEQ_REUSED;
	if (sr->verdict == STORE_SEQ_REUSED)
		snprintf(sr->why, sizeof(sr->why), "seq %llu was taken for another window; was the "
			 "node's spool reset?", (unsigned long long)r->seq);
	return 1;
}

static int node_upsert(struct one *o, const struct store_report *sr, int64_t last_seq)
{
	const Podmeter__V1__NodeReport *r = o->r;
	struct db_val v[7] = { DB_T(r->cluster), DB_T(r->node), DB_I(last_seq),
			       DB_R(r->window_end), DB_R(sr->received_at), DB_I(sr->seq_jump),
			       DB_T(r->agent_version) };

	return db__run(o->s->db, SQL_NODE_UPSERT, v, 7, NULL, NULL, NULL);
}

static int ingest_one(struct store *s, struct store_report *sr, struct dacc *dists)
{
	const Podmeter__V1__NodeReport *r = sr->rep;
	struct one o = { .s = s, .r = r };
	int64_t last = 0;
	size_t n_ctr = 0, i;
	int ret;

	for (i = 0; i < r->n_pods; i++)
		n_ctr += r->pods[i]->n_containers;
	o.wl = calloc(r->n_pods + 1, sizeof(*o.wl));
	o.ctr = calloc(n_ctr + 1, sizeof(*o.ctr));
	if (!o.wl || !o.ctr) {
		ret = -ENOMEM;
		goto out;
	}
	ret = ledger(&o, sr, &last);
	if (ret) {
		ret = ret > 0 ? 0 : ret;
		goto out;
	}
	ret = node_upsert(&o, sr, last);
	if (!ret)
		ret = write_pods(&o);
	if (!ret)
		ret = write_rollups(&o);
	if (!ret)
		ret = write_workloads(&o);
	if (!ret)
		ret = write_containers(&o);
	if (!ret)
		ret = dacc_merge(dists, &o.dists);
	if (!ret)
		sr->verdict = STORE_STORED;
out:
	dacc_free(&o.dists);
	free(o.wl);
	free(o.ctr);
	return ret;
}

/* ---- the batch ---- */

static int flush_dist(struct store *s, const struct dacc *a, const struct dacc_ent *e)
{
	struct db_val key[9] = { DB_T(e->part[0]), DB_T(e->part[1]), DB_T(e->part[2]),
				 DB_T(e->part[3]), DB_T(e->part[4]) };
	struct pm_dist row;
	double ref, to;
	size_t len;
	void *blob;
	int ret;

	ret = store_dist_get(s, key, &row, &ref);
	if (ret == -ENOENT)
		ref = a->ref;
	else if (ret)
		return ret;
	/* both decayed to the later of the two times: weights only ever shrink */
	to = fmax(ref, a->ref);
	dist__scale(&row, decay(ref, to));
	ret = dist__merge(&row, &e->d, decay(a->ref, to));
	if (!ret)
		ret = dist__encode(&row, &blob, &len);
	dist__free(&row);
	if (ret)
		return ret;
	key[5] = DB_B(blob, len);
	key[6] = DB_R(to);
	key[7] = DB_R(e->first);
	key[8] = DB_R(e->last);
	ret = db__run(s->db, SQL_DIST_PUT, key, 9, NULL, NULL, NULL);
	free(blob);
	return ret;
}

static int flush_dists(struct store *s, const struct dacc *a)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < a->cap && !ret; i++)
		if (a->tab[i].key)
			ret = flush_dist(s, a, &a->tab[i]);
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

/* One report under its savepoint; a failure rolls back that report only. */
static int ingest_saved(struct store *s, struct store_report *sr, struct dacc *dists)
{
	int ret = db__exec(s->db, "SAVEPOINT report");

	if (ret)
		return ret;
	ret = ingest_one(s, sr, dists);
	if (ret) {
		sr->verdict = STORE_FAILED;
		snprintf(sr->why, sizeof(sr->why), "%s", db__error(s->db));
		if (db__exec(s->db, "ROLLBACK TO SAVEPOINT report"))
			return -EIO;
	}
	return db__exec(s->db, "RELEASE SAVEPOINT report");
}

int store__ingest(struct store *s, struct store_report *reps, size_t n, char *err, size_t errlen)
{
	struct dacc dists = { 0 };
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		reps[i].verdict = STORE_PENDING;
		reps[i].seq_jump = false;
		reps[i].why[0] = '\0';
	}
	ret = db__begin_write(s->db);
	for (i = 0; i < n && !ret; i++)
		ret = ingest_saved(s, &reps[i], &dists);
	if (!ret)
		ret = flush_dists(s, &dists);
	if (!ret)
		ret = db__exec(s->db, "COMMIT");
	dacc_free(&dists);
	if (ret) {
		snprintf(err, errlen, "%s", ret == -ENOMEM ? "out of memory" : db__error(s->db));
		db__exec(s->db, "ROLLBACK");
		fail_all(reps, n, err);
	}
	return ret;
}
