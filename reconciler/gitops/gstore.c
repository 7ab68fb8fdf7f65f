// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Schema version 3 and the statements of deciding and writing: proposals
 * (one row per revision of a group's pull request, its items), verdicts
 * (the latest of each rule, per workload, container and resource), forge
 * objects; container hours gain run-queue wait and replica-seconds, nodes
 * the prices their agents used.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db.h"
#include "gstore.h"
#include "store_int.h"
#include "store_sql.h"

const char *const store_migration_3[] = {
	"ALTER TABLE container_hourly ADD COLUMN runqueue_usec BIGINT NOT NULL DEFAULT 0",
	"ALTER TABLE container_hourly ADD COLUMN pod_seconds DOUBLE PRECISION NOT NULL DEFAULT 0",
	"ALTER TABLE nodes ADD COLUMN cpu_core_hour DOUBLE PRECISION NOT NULL DEFAULT 0",
	"ALTER TABLE nodes ADD COLUMN memory_gib_hour DOUBLE PRECISION NOT NULL DEFAULT 0",
	"ALTER TABLE nodes ADD COLUMN gpu_hour DOUBLE PRECISION NOT NULL DEFAULT 0",
	"CREATE INDEX container_hourly_wl ON container_hourly"
	" (cluster, namespace, owner_kind, owner_name, container, hour)",
	"CREATE TABLE proposals ("
	" id TEXT NOT NULL, grp TEXT NOT NULL, rev BIGINT NOT NULL, kind TEXT NOT NULL,"
	" cluster TEXT NOT NULL, branch TEXT NOT NULL, base TEXT NOT NULL, state TEXT NOT NULL,"
	" content_hash TEXT NOT NULL, commit_sha TEXT NOT NULL, number BIGINT NOT NULL,"
	" url TEXT NOT NULL, title TEXT NOT NULL, reverts TEXT NOT NULL,"
	" savings_nanodollars BIGINT NOT NULL, needs_budget BIGINT NOT NULL, urgent BIGINT NOT NULL,"
	" human BIGINT NOT NULL, closing BIGINT NOT NULL,"
	" created_at DOUBLE PRECISION NOT NULL, pushed_at DOUBLE PRECISION NOT NULL,"
	" opened_at DOUBLE PRECISION NOT NULL, merged_at DOUBLE PRECISION NOT NULL,"
	" closed_at DOUBLE PRECISION NOT NULL, verified_at DOUBLE PRECISION NOT NULL,"
	" applied_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,"
	" doc TEXT NOT NULL, outcome TEXT NOT NULL,"
	" PRIMARY KEY (id))",
	"CREATE UNIQUE INDEX proposals_grp ON proposals (grp, rev)",
	"CREATE INDEX proposals_state ON proposals (state)",
	"CREATE TABLE proposal_items ("
	" proposal TEXT NOT NULL, cluster TEXT NOT NULL, namespace TEXT NOT NULL,"
	" owner_kind TEXT NOT NULL, owner_name TEXT NOT NULL, container TEXT NOT NULL,"
	" resource TEXT NOT NULL, current_value DOUBLE PRECISION NOT NULL,"
	" proposed_value DOUBLE PRECISION NOT NULL,"
	" PRIMARY KEY (proposal, namespace, owner_kind, owner_name, container, resource))",
	"CREATE INDEX proposal_items_wl ON proposal_items (cluster, namespace, owner_kind, owner_name)",
	"CREATE TABLE verdicts ("
	" cluster TEXT NOT NULL, namespace TEXT NOT NULL, owner_kind TEXT NOT NULL,"
	" owner_name TEXT NOT NULL, container TEXT NOT NULL, resource TEXT NOT NULL,"
	" rule TEXT NOT NULL, rule_order BIGINT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,"
	" at DOUBLE PRECISION NOT NULL, since DOUBLE PRECISION NOT NULL,"
	" PRIMARY KEY (cluster, namespace, owner_kind, owner_name, container, resource, rule))",
	"CREATE TABLE forge_objects ("
	" kind TEXT NOT NULL, key TEXT NOT NULL, number BIGINT NOT NULL, hash TEXT NOT NULL,"
	" updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (kind, key))",
	NULL,
};

#define WL_KEY "cluster = $1 AND namespace = $2 AND owner_kind = $3 AND owner_name = $4"
#define P_COLS                                                                                     \
	"id, grp, rev, kind, cluster, branch, base, state, content_hash, commit_sha, number, url," \
	" title, reverts, savings_nanodollars, needs_budget, urgent, human, closing, created_at,"  \
	" pushed_at, opened_at, merged_at, closed_at, verified_at, applied_at, updated_at, doc,"   \
	" outcome"
#define P_COLS_P                                                                                   \
	"p.id, p.grp, p.rev, p.kind, p.cluster, p.branch, p.base, p.state, p.content_hash,"        \
	" p.commit_sha, p.number, p.url, p.title, p.reverts, p.savings_nanodollars,"               \
	" p.needs_budget, p.urgent, p.human, p.closing, p.created_at, p.pushed_at, p.opened_at,"   \
	" p.merged_at, p.closed_at, p.verified_at, p.applied_at, p.updated_at, p.doc, p.outcome"

void store_gitops_sql(const char **sql)
{
	sql[SQL_G_CONTAINERS] =
		"SELECT cluster, namespace, owner_kind, owner_name, container, first_seen, last_seen"
		" FROM container_stats WHERE last_seen >= $1"
		" ORDER BY cluster, namespace, owner_kind, owner_name, container";
	sql[SQL_G_HOURS] =
		"SELECT hour, cpu_usec, memory_peak_bytes, oom_kills, throttled_periods, throttled_usec,"
		" runqueue_usec, pod_windows, cpu_request_millicores, memory_request_bytes,"
		" cpu_limit_millicores, memory_limit_bytes, pod_seconds FROM container_hourly"
		" WHERE " WL_KEY " AND container = $5 AND hour >= $6 ORDER BY hour";
	sql[SQL_G_WL_HOURS] =
		"SELECT hour, SUM(net_tx_bytes), SUM(cost_cpu + cost_memory + cost_gpu + cost_network),"
		" SUM(cpu_core_seconds), SUM(process_starts) FROM rollups_hourly WHERE " WL_KEY
		" AND hour >= $5"
		" GROUP BY hour ORDER BY hour";
	sql[SQL_G_WL_COST] =
		"SELECT COALESCE(SUM(cost_cpu + cost_memory + cost_gpu + cost_network), 0)"
		" FROM rollups_hourly WHERE " WL_KEY " AND hour >= $5 AND hour < $6";
	sql[SQL_G_NS_COST] =
		"SELECT COALESCE(SUM(cost_cpu + cost_memory + cost_gpu + cost_network), 0)"
		" FROM rollups_hourly WHERE cluster = $1 AND namespace = $2 AND hour >= $3 AND hour < $4";
	sql[SQL_G_PRICES] = "SELECT AVG(cpu_core_hour), AVG(memory_gib_hour), COUNT(*) FROM nodes"
			    " WHERE cluster = $1 AND last_received_at >= $2 AND cpu_core_hour > 0";
	sql[SQL_G_FINDINGS] =
		"SELECT kind, namespace, pod, owner_kind, owner_name, node, first_seen, last_seen, since,"
		" detail FROM findings WHERE cluster = $1 AND last_seen >= $2"
		" ORDER BY kind, namespace, owner_kind, owner_name, pod";
	sql[SQL_G_LOCK] = "SELECT pg_try_advisory_lock(CAST($1 AS BIGINT))";
	sql[SQL_G_UNLOCK] = "SELECT pg_advisory_unlock(CAST($1 AS BIGINT))";

	sql[SQL_P_INSERT] =
		"INSERT INTO proposals (" P_COLS
		") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
		" $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27,"
		" $28, $29)";
	sql[SQL_P_ITEM] =
		"INSERT INTO proposal_items (proposal, cluster, namespace, owner_kind, owner_name,"
		" container, resource, current_value, proposed_value)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
	sql[SQL_P_UPDATE] =
		"UPDATE proposals SET state = $2, commit_sha = $3, number = $4, url = $5,"
		" pushed_at = $6, opened_at = $7, merged_at = $8, closed_at = $9, verified_at = $10,"
		" applied_at = $11, human = $12, closing = $13, updated_at = $14, outcome = $15,"
		" base = $16 WHERE id = $1 AND state = $17";
	sql[SQL_P_SELECT] = "SELECT " P_COLS " FROM proposals ORDER BY created_at, grp, rev";
	sql[SQL_P_ITEMS] =
		"SELECT cluster, namespace, owner_kind, owner_name, container, resource, current_value,"
		" proposed_value FROM proposal_items WHERE proposal = $1"
		" ORDER BY namespace, owner_kind, owner_name, container, resource";
	sql[SQL_P_MAXREV] = "SELECT COALESCE(MAX(rev), 0) FROM proposals WHERE grp = $1";
	sql[SQL_P_COUNTS] =
		"SELECT state, COUNT(*), COALESCE(SUM(savings_nanodollars), 0) FROM proposals"
		" GROUP BY state";
	sql[SQL_P_OPENED_SINCE] = "SELECT COUNT(*) FROM proposals WHERE opened_at >= $1";
	sql[SQL_P_REJECTED] =
		"SELECT i.proposed_value, p.closed_at FROM proposal_items i JOIN proposals p"
		" ON p.id = i.proposal WHERE p.state = 'closed' AND p.closed_at >= $7"
		" AND i.cluster = $1 AND i.namespace = $2 AND i.owner_kind = $3 AND i.owner_name = $4"
		" AND i.container = $5 AND i.resource = $6 ORDER BY p.closed_at DESC LIMIT 1";
	sql[SQL_P_LAST_MERGE] =
		"SELECT COALESCE(MAX(p.merged_at), 0) FROM proposals p JOIN proposal_items i"
		" ON p.id = i.proposal WHERE p.merged_at > 0 AND i.cluster = $1 AND i.namespace = $2"
		" AND i.owner_kind = $3 AND i.owner_name = $4";
	sql[SQL_P_OF_WORKLOAD] =
		"SELECT " P_COLS_P
		", i.cluster, i.namespace, i.owner_kind, i.owner_name, i.container,"
		" i.resource, i.current_value, i.proposed_value FROM proposals p JOIN proposal_items i"
		" ON p.id = i.proposal WHERE i.cluster LIKE $1 AND i.namespace = $2"
		" AND i.owner_kind LIKE $3 AND i.owner_name = $4"
		" ORDER BY p.created_at, p.grp, p.rev, i.container, i.resource";

	sql[SQL_V_PUT] =
		"INSERT INTO verdicts (cluster, namespace, owner_kind, owner_name, container, resource,"
		" rule, rule_order, outcome, detail, at, since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
		" $9, $10, $11, $11) ON CONFLICT (cluster, namespace, owner_kind, owner_name, container,"
		" resource, rule) DO UPDATE SET rule_order = excluded.rule_order,"
		" since = CASE WHEN verdicts.outcome = excluded.outcome THEN verdicts.since"
		" ELSE excluded.since END, outcome = excluded.outcome, detail = excluded.detail,"
		" at = excluded.at";
	sql[SQL_V_STALE] = "DELETE FROM verdicts WHERE " WL_KEY " AND at < $5";
	sql[SQL_V_OF_WORKLOAD] =
		"SELECT cluster, namespace, owner_kind, owner_name, container, resource, rule,"
		" rule_order, outcome, detail, at, since FROM verdicts WHERE cluster LIKE $1"
		" AND namespace = $2 AND owner_kind LIKE $3 AND owner_name = $4"
		" ORDER BY cluster, owner_kind, container, resource, rule_order";
	sql[SQL_F_GET] = "SELECT number, hash FROM forge_objects WHERE kind = $1 AND key = $2";
	sql[SQL_F_PUT] =
		"INSERT INTO forge_objects (kind, key, number, hash, updated_at) VALUES ($1, $2, $3, $4,"
		" $5) ON CONFLICT (kind, key) DO UPDATE SET number = excluded.number,"
		" hash = excluded.hash, updated_at = excluded.updated_at";
}

const char *const gs_state_names[GS_N_STATES] = {
	[GS_CANDIDATE] = "candidate", [GS_PUSHED] = "pushed",	  [GS_OPEN] = "open",
	[GS_MERGED] = "merged",	      [GS_CLOSED] = "closed",	  [GS_SUPERSEDED] = "superseded",
	[GS_VERIFIED] = "verified",   [GS_REVERTED] = "reverted",
};

int gs_state__parse(const char *s)
{
	int i;

	for (i = 0; i < GS_N_STATES; i++)
		if (!strcmp(s, gs_state_names[i]))
			return i;
	return -EINVAL;
}

static void cpy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}
#define CPY(d, s) cpy((d), sizeof(d), (s))

/* ---- reading ---- */

static int container_row(void *ctx, const struct db_row *r);

/*
 * The rows are read whole before @fn sees them: @fn runs statements of its
 * own, which a PostgreSQL connection cannot while it is still reading rows.
 */
int gstore__containers(struct store *s, double seen_since, gs_container_fn fn, void *ctx);

struct vec {
	void *v;
	size_t n, cap, size;
};

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *g = realloc(v->v, cap * v->size);

		if (!g)
			return NULL;
		v->v = g;
		v->cap = cap;
	}
	memset((char *)v->v + v->n * v->size, 0, v->size);
	return (char *)v->v + v->n++ * v->size;
}

static int container_row(void *ctx, const struct db_row *r)
{
	struct gs_container *k = vec_push(ctx);

	if (!k)
		return -ENOMEM;
	CPY(k->wl.cluster, db_row__text(r, 0));
	CPY(k->wl.ns, db_row__text(r, 1));
	CPY(k->wl.kind, db_row__text(r, 2));
	CPY(k->wl.name, db_row__text(r, 3));
	CPY(k->container, db_row__text(r, 4));
	k->first_seen = db_row__real(r, 5);
	k->last_seen = db_row__real(r, 6);
	return 0;
}

int gstore__containers(struct store *s, double seen_since, gs_container_fn fn, void *ctx)
{
	struct vec v = { .size = sizeof(struct gs_container) };
	struct db_val p = DB_R(seen_since);
	size_t i;
	int ret = db__run(s->db, SQL_G_CONTAINERS, &p, 1, container_row, &v, NULL);

	for (i = 0; !ret && i < v.n; i++)
		ret = fn(ctx, (struct gs_container *)v.v + i);
	free(v.v);
	return ret;
}

static int hour_row(void *ctx, const struct db_row *r)
{
	struct gs_hour *h = vec_push(ctx);

	if (!h)
		return -ENOMEM;
	h->hour = db_row__int(r, 0);
	h->cpu_usec = db_row__int(r, 1);
	h->mem_peak = db_row__int(r, 2);
	h->ooms = db_row__int(r, 3);
	h->thr_periods = db_row__int(r, 4);
	h->thr_usec = db_row__int(r, 5);
	h->rq_usec = db_row__int(r, 6);
	h->pod_windows = db_row__int(r, 7);
	h->req_cpu_m = db_row__int(r, 8);
	h->req_mem = db_row__int(r, 9);
	h->lim_cpu_m = db_row__int(r, 10);
	h->lim_mem = db_row__int(r, 11);
	h->pod_s = db_row__real(r, 12);
	return 0;
}

static void wl_key(struct db_val *p, const struct gs_wl *w)
{
	p[0] = DB_T(w->cluster);
	p[1] = DB_T(w->ns);
	p[2] = DB_T(w->kind);
	p[3] = DB_T(w->name);
}

int gstore__hours(struct store *s, const struct gs_wl *w, const char *container, int64_t since,
		  struct gs_hour **out, size_t *n)
{
	struct vec v = { .size = sizeof(struct gs_hour) };
	struct db_val p[6];
	int ret;

	wl_key(p, w);
	p[4] = DB_T(container);
	p[5] = DB_I(since);
	ret = db__run(s->db, SQL_G_HOURS, p, 6, hour_row, &v, NULL);
	if (ret) {
		free(v.v);
		return ret;
	}
	*out = v.v;
	*n = v.n;
	return 0;
}

static int wl_hour_row(void *ctx, const struct db_row *r)
{
	struct gs_wl_hour *h = vec_push(ctx);

	if (!h)
		return -ENOMEM;
	h->hour = db_row__int(r, 0);
	h->net_tx = db_row__int(r, 1);
	h->cost = db_row__int(r, 2);
	h->cpu_s = db_row__real(r, 3);
	h->starts = db_row__int(r, 4);
	return 0;
}

int gstore__wl_hours(struct store *s, const struct gs_wl *w, int64_t since, struct gs_wl_hour **out,
		     size_t *n)
{
	struct vec v = { .size = sizeof(struct gs_wl_hour) };
	struct db_val p[5];
	int ret;

	wl_key(p, w);
	p[4] = DB_I(since);
	ret = db__run(s->db, SQL_G_WL_HOURS, p, 5, wl_hour_row, &v, NULL);
	if (ret) {
		free(v.v);
		return ret;
	}
	*out = v.v;
	*n = v.n;
	return 0;
}

static int int_row(void *ctx, const struct db_row *r)
{
	*(int64_t *)ctx = db_row__null(r, 0) ? 0 : db_row__int(r, 0);
	return 0;
}

static int real_row(void *ctx, const struct db_row *r)
{
	*(double *)ctx = db_row__null(r, 0) ? 0 : db_row__real(r, 0);
	return 0;
}

int gstore__cost(struct store *s, const struct gs_wl *w, int64_t since, int64_t until,
		 int64_t *nanodollars)
{
	struct db_val p[6];

	*nanodollars = 0;
	if (!w->kind[0]) {
		p[0] = DB_T(w->cluster);
		p[1] = DB_T(w->ns);
		p[2] = DB_I(since);
		p[3] = DB_I(until);
		return db__run(s->db, SQL_G_NS_COST, p, 4, int_row, nanodollars, NULL);
	}
	wl_key(p, w);
	p[4] = DB_I(since);
	p[5] = DB_I(until);
	return db__run(s->db, SQL_G_WL_COST, p, 6, int_row, nanodollars, NULL);
}

struct prices {
	double cpu, mem;
	int64_t n;
};

static int prices_row(void *ctx, const struct db_row *r)
{
	struct prices *p = ctx;

	p->n = db_row__int(r, 2);
	p->cpu = p->n ? db_row__real(r, 0) : 0;
	p->mem = p->n ? db_row__real(r, 1) : 0;
	return 0;
}

int gstore__prices(struct store *s, const char *cluster, double since, double *cpu_core_hour,
		   double *mem_gib_hour)
{
	struct db_val p[2] = { DB_T(cluster), DB_R(since) };
	struct prices pr = { 0 };
	int ret = db__run(s->db, SQL_G_PRICES, p, 2, prices_row, &pr, NULL);

	if (ret)
		return ret;
	if (!pr.n)
		return -ENOENT;
	*cpu_core_hour = pr.cpu;
	*mem_gib_hour = pr.mem;
	return 0;
}

static int finding_row(void *ctx, const struct db_row *r)
{
	struct gs_finding *f = vec_push(ctx);

	if (!f)
		return -ENOMEM;
	CPY(f->kind, db_row__text(r, 0));
	CPY(f->ns, db_row__text(r, 1));
	CPY(f->pod, db_row__text(r, 2));
	CPY(f->owner_kind, db_row__text(r, 3));
	CPY(f->owner_name, db_row__text(r, 4));
	CPY(f->node, db_row__text(r, 5));
	f->first_seen = db_row__real(r, 6);
	f->last_seen = db_row__real(r, 7);
	f->since = db_row__real(r, 8);
	CPY(f->detail, db_row__text(r, 9));
	return 0;
}

/* Read whole first, as gstore__containers. */
int gstore__findings(struct store *s, const char *cluster, double seen_since, gs_finding_fn fn,
		     void *ctx)
{
	struct vec v = { .size = sizeof(struct gs_finding) };
	struct db_val p[2] = { DB_T(cluster), DB_R(seen_since) };
	size_t i;
	int ret = db__run(s->db, SQL_G_FINDINGS, p, 2, finding_row, &v, NULL);

	for (i = 0; !ret && i < v.n; i++)
		ret = fn(ctx, (struct gs_finding *)v.v + i);
	free(v.v);
	return ret;
}

static int bool_row(void *ctx, const struct db_row *r)
{
	const char *t = db_row__text(r, 0);

	*(int *)ctx = t[0] == 't' || t[0] == '1';
	return 0;
}

int gstore__try_lock(struct store *s, int64_t key)
{
	struct db_val p = DB_I(key);
	int got = 0, ret;

	if (strcmp(store__engine(s), "postgresql"))
		return 1; /* SQLite: one process writes the file; serve takes a file lock */
	ret = db__run(s->db, SQL_G_LOCK, &p, 1, bool_row, &got, NULL);
	return ret ? ret : got;
}

void gstore__unlock(struct store *s, int64_t key)
{
	struct db_val p = DB_I(key);
	int got;

	if (!strcmp(store__engine(s), "postgresql"))
		db__run(s->db, SQL_G_UNLOCK, &p, 1, bool_row, &got, NULL);
}

/* ---- proposals ---- */

void gs_prop__free(struct gs_prop *p)
{
	free(p->doc);
	free(p->outcome);
	p->doc = p->outcome = NULL;
}

/* One transaction around @fn; rolled back on error. */
static int tx(struct store *s, int (*fn)(struct store *s, void *ctx), void *ctx)
{
	int ret = db__begin_write(s->db);

	if (ret)
		return ret;
	ret = fn(s, ctx);
	if (!ret)
		ret = db__exec(s->db, "COMMIT");
	if (ret)
		db__exec(s->db, "ROLLBACK");
	return ret;
}

struct insert_ctx {
	const struct gs_prop *p;
	const struct gs_item *items;
	size_t n;
	const struct gs_prop *upd;
	enum gs_state upd_expect;
};

static int update_one(struct store *s, const struct gs_prop *p, enum gs_state expect);

static int insert_fn(struct store *s, void *ctx)
{
	struct insert_ctx *c = ctx;
	const struct gs_prop *p = c->p;
	struct db_val v[29] = {
		DB_T(p->id),
		DB_T(p->grp),
		DB_I(p->rev),
		DB_T(p->kind),
		DB_T(p->cluster),
		DB_T(p->branch),
		DB_T(p->base),
		DB_T(gs_state_names[p->state]),
		DB_T(p->content_hash),
		DB_T(p->commit_sha),
		DB_I(p->number),
		DB_T(p->url),
		DB_T(p->title),
		DB_T(p->reverts),
		DB_I(p->savings_nd),
		DB_I(p->needs_budget),
		DB_I(p->urgent),
		DB_I(p->human),
		DB_I(p->closing),
		DB_R(p->created_at),
		DB_R(p->pushed_at),
		DB_R(p->opened_at),
		DB_R(p->merged_at),
		DB_R(p->closed_at),
		DB_R(p->verified_at),
		DB_R(p->applied_at),
		DB_R(p->updated_at),
		DB_T(p->doc ? p->doc : "{}"),
		DB_T(p->outcome ? p->outcome : ""),
	};
	size_t i;
	int ret = db__run(s->db, SQL_P_INSERT, v, 29, NULL, NULL, NULL);

	for (i = 0; !ret && i < c->n; i++) {
		const struct gs_item *it = &c->items[i];
		struct db_val w[9] = { DB_T(p->id),	   DB_T(it->wl.cluster),
				       DB_T(it->wl.ns),	   DB_T(it->wl.kind),
				       DB_T(it->wl.name),  DB_T(it->container),
				       DB_T(it->resource), DB_R(it->current),
				       DB_R(it->proposed) };

		ret = db__run(s->db, SQL_P_ITEM, w, 9, NULL, NULL, NULL);
	}
	if (!ret && c->upd)
		ret = update_one(s, c->upd, c->upd_expect);
	return ret;
}

int gstore__prop_insert(struct store *s, struct gs_prop *p, const struct gs_item *items, size_t n,
			const struct gs_prop *upd, enum gs_state upd_expect)
{
	struct insert_ctx c = { p, items, n, upd, upd_expect };

	snprintf(p->id, sizeof(p->id), "%s#%lld", p->grp, (long long)p->rev);
	return tx(s, insert_fn, &c);
}

static int update_one(struct store *s, const struct gs_prop *p, enum gs_state expect)
{
	struct db_val v[17] = {
		DB_T(p->id),
		DB_T(gs_state_names[p->state]),
		DB_T(p->commit_sha),
		DB_I(p->number),
		DB_T(p->url),
		DB_R(p->pushed_at),
		DB_R(p->opened_at),
		DB_R(p->merged_at),
		DB_R(p->closed_at),
		DB_R(p->verified_at),
		DB_R(p->applied_at),
		DB_I(p->human),
		DB_I(p->closing),
		DB_R(p->updated_at),
		DB_T(p->outcome ? p->outcome : ""),
		DB_T(p->base),
		DB_T(gs_state_names[expect]),
	};
	int64_t changed = 0;
	int ret = db__run(s->db, SQL_P_UPDATE, v, 17, NULL, NULL, &changed);

	return ret ? ret : changed == 1 ? 0 : -ESTALE;
}

struct update_ctx {
	const struct gs_prop *p, *q;
	enum gs_state pe, qe;
};

static int update_fn(struct store *s, void *ctx)
{
	struct update_ctx *c = ctx;
	int ret = update_one(s, c->p, c->pe);

	if (!ret && c->q)
		ret = update_one(s, c->q, c->qe);
	return ret;
}

int gstore__prop_update(struct store *s, const struct gs_prop *p, enum gs_state expect,
			const struct gs_prop *q, enum gs_state q_expect)
{
	struct update_ctx c = { p, q, expect, q_expect };

	return tx(s, update_fn, &c);
}

static void prop_of_row(struct gs_prop *p, const struct db_row *r)
{
	int st;

	memset(p, 0, sizeof(*p));
	CPY(p->id, db_row__text(r, 0));
	CPY(p->grp, db_row__text(r, 1));
	p->rev = db_row__int(r, 2);
	CPY(p->kind, db_row__text(r, 3));
	CPY(p->cluster, db_row__text(r, 4));
	CPY(p->branch, db_row__text(r, 5));
	CPY(p->base, db_row__text(r, 6));
	st = gs_state__parse(db_row__text(r, 7));
	p->state = st < 0 ? GS_SUPERSEDED : (enum gs_state)st;
	CPY(p->content_hash, db_row__text(r, 8));
	CPY(p->commit_sha, db_row__text(r, 9));
	p->number = db_row__int(r, 10);
	CPY(p->url, db_row__text(r, 11));
	CPY(p->title, db_row__text(r, 12));
	CPY(p->reverts, db_row__text(r, 13));
	p->savings_nd = db_row__int(r, 14);
	p->needs_budget = db_row__int(r, 15);
	p->urgent = db_row__int(r, 16);
	p->human = db_row__int(r, 17);
	p->closing = db_row__int(r, 18);
	p->created_at = db_row__real(r, 19);
	p->pushed_at = db_row__real(r, 20);
	p->opened_at = db_row__real(r, 21);
	p->merged_at = db_row__real(r, 22);
	p->closed_at = db_row__real(r, 23);
	p->verified_at = db_row__real(r, 24);
	p->applied_at = db_row__real(r, 25);
	p->updated_at = db_row__real(r, 26);
	p->doc = strdup(db_row__text(r, 27));
	p->outcome = strdup(db_row__text(r, 28));
}

struct props_ctx {
	struct vec v;
	unsigned int states;
};

static int prop_row(void *ctx, const struct db_row *r)
{
	struct props_ctx *c = ctx;
	int st = gs_state__parse(db_row__text(r, 7));
	struct gs_prop *p;

	if (st < 0 || !(c->states & (1u << st)))
		return 0;
	p = vec_push(&c->v);
	if (!p)
		return -ENOMEM;
	prop_of_row(p, r);
	return p->doc && p->outcome ? 0 : -ENOMEM;
}

void gstore__props_free(struct gs_prop *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		gs_prop__free(&v[i]);
	free(v);
}

int gstore__props(struct store *s, unsigned int states, struct gs_prop **out, size_t *n)
{
	struct props_ctx c = { .v = { .size = sizeof(struct gs_prop) }, .states = states };
	int ret = db__run(s->db, SQL_P_SELECT, NULL, 0, prop_row, &c, NULL);

	if (ret) {
		gstore__props_free(c.v.v, c.v.n);
		return ret;
	}
	*out = c.v.v;
	*n = c.v.n;
	return 0;
}

static void item_of_row(struct gs_item *it, const struct db_row *r, int col)
{
	memset(it, 0, sizeof(*it));
	CPY(it->wl.cluster, db_row__text(r, col));
	CPY(it->wl.ns, db_row__text(r, col + 1));
	CPY(it->wl.kind, db_row__text(r, col + 2));
	CPY(it->wl.name, db_row__text(r, col + 3));
	CPY(it->container, db_row__text(r, col + 4));
	CPY(it->resource, db_row__text(r, col + 5));
	it->current = db_row__real(r, col + 6);
	it->proposed = db_row__real(r, col + 7);
}

static int item_row(void *ctx, const struct db_row *r)
{
	struct gs_item *it = vec_push(ctx);

	if (!it)
		return -ENOMEM;
	item_of_row(it, r, 0);
	return 0;
}

int gstore__prop_items(struct store *s, const char *id, struct gs_item **out, size_t *n)
{
	struct vec v = { .size = sizeof(struct gs_item) };
	struct db_val p = DB_T(id);
	int ret = db__run(s->db, SQL_P_ITEMS, &p, 1, item_row, &v, NULL);

	if (ret) {
		free(v.v);
		return ret;
	}
	*out = v.v;
	*n = v.n;
	return 0;
}

int gstore__prop_maxrev(struct store *s, const char *grp, int64_t *rev)
{
	struct db_val p = DB_T(grp);

	*rev = 0;
	return db__run(s->db, SQL_P_MAXREV, &p, 1, int_row, rev, NULL);
}

struct counts_ctx {
	int64_t *count, *savings;
};

static int counts_row(void *ctx, const struct db_row *r)
{
	struct counts_ctx *c = ctx;
	int st = gs_state__parse(db_row__text(r, 0));

	if (st >= 0) {
		c->count[st] = db_row__int(r, 1);
		c->savings[st] = db_row__int(r, 2);
	}
	return 0;
}

int gstore__prop_counts(struct store *s, int64_t count[GS_N_STATES], int64_t savings[GS_N_STATES])
{
	struct counts_ctx c = { count, savings };

	memset(count, 0, sizeof(int64_t) * GS_N_STATES);
	memset(savings, 0, sizeof(int64_t) * GS_N_STATES);
	return db__run(s->db, SQL_P_COUNTS, NULL, 0, counts_row, &c, NULL);
}

int gstore__opened_since(struct store *s, double since, int64_t *n)
{
	struct db_val p = DB_R(since);

	*n = 0;
	return db__run(s->db, SQL_P_OPENED_SINCE, &p, 1, int_row, n, NULL);
}

struct rej_ctx {
	double value, at;
	bool found;
};

static int rej_row(void *ctx, const struct db_row *r)
{
	struct rej_ctx *c = ctx;

	c->value = db_row__real(r, 0);
	c->at = db_row__real(r, 1);
	c->found = true;
	return 0;
}

int gstore__rejected(struct store *s, const struct gs_wl *w, const char *container,
		     const char *resource, double since, double *value, double *closed_at)
{
	struct rej_ctx c = { 0 };
	struct db_val p[7];
	int ret;

	wl_key(p, w);
	p[4] = DB_T(container);
	p[5] = DB_T(resource);
	p[6] = DB_R(since);
	ret = db__run(s->db, SQL_P_REJECTED, p, 7, rej_row, &c, NULL);
	if (ret)
		return ret;
	if (!c.found)
		return -ENOENT;
	*value = c.value;
	*closed_at = c.at;
	return 0;
}

int gstore__last_merge(struct store *s, const struct gs_wl *w, double *at)
{
	struct db_val p[4];

	wl_key(p, w);
	*at = 0;
	return db__run(s->db, SQL_P_LAST_MERGE, p, 4, real_row, at, NULL);
}

struct pi_ctx {
	gs_prop_item_fn fn;
	void *ctx;
};

static int prop_item_row(void *ctx, const struct db_row *r)
{
	struct pi_ctx *c = ctx;
	struct gs_prop p;
	struct gs_item it;
	int ret;

	prop_of_row(&p, r);
	item_of_row(&it, r, 29);
	ret = p.doc && p.outcome ? c->fn(c->ctx, &p, &it) : -ENOMEM;
	gs_prop__free(&p);
	return ret;
}

/* "" matches any cluster or kind */
static void wl_pattern(struct db_val *p, const struct gs_wl *w)
{
	p[0] = DB_T(w->cluster[0] ? w->cluster : "%");
	p[1] = DB_T(w->ns);
	p[2] = DB_T(w->kind[0] ? w->kind : "%");
	p[3] = DB_T(w->name);
}

int gstore__props_of(struct store *s, const struct gs_wl *w, gs_prop_item_fn fn, void *ctx)
{
	struct pi_ctx c = { fn, ctx };
	struct db_val p[4];

	wl_pattern(p, w);
	return db__run(s->db, SQL_P_OF_WORKLOAD, p, 4, prop_item_row, &c, NULL);
}

/* ---- verdicts ---- */

struct vput_ctx {
	const struct gs_wl *w;
	const struct gs_verdict *v;
	size_t n;
	double now;
};

static int vput_fn(struct store *s, void *ctx)
{
	struct vput_ctx *c = ctx;
	struct db_val p[11];
	size_t i;
	int ret = 0;

	wl_key(p, c->w);
	for (i = 0; !ret && i < c->n; i++) {
		p[4] = DB_T(c->v[i].container);
		p[5] = DB_T(c->v[i].resource);
		p[6] = DB_T(c->v[i].rule);
		p[7] = DB_I(c->v[i].order);
		p[8] = DB_T(c->v[i].outcome);
		p[9] = DB_T(c->v[i].detail);
		p[10] = DB_R(c->now);
		ret = db__run(s->db, SQL_V_PUT, p, 11, NULL, NULL, NULL);
	}
	p[4] = DB_R(c->now);
	if (!ret)
		ret = db__run(s->db, SQL_V_STALE, p, 5, NULL, NULL, NULL);
	return ret;
}

int gstore__verdicts_put(struct store *s, const struct gs_wl *w, const struct gs_verdict *v,
			 size_t n, double now)
{
	struct vput_ctx c = { w, v, n, now };

	return tx(s, vput_fn, &c);
}

struct vget_ctx {
	gs_verdict_fn fn;
	void *ctx;
};

static int verdict_row(void *ctx, const struct db_row *r)
{
	struct vget_ctx *c = ctx;
	struct gs_verdict v;
	struct gs_wl w;

	memset(&v, 0, sizeof(v));
	memset(&w, 0, sizeof(w));
	CPY(w.cluster, db_row__text(r, 0));
	CPY(w.ns, db_row__text(r, 1));
	CPY(w.kind, db_row__text(r, 2));
	CPY(w.name, db_row__text(r, 3));
	CPY(v.container, db_row__text(r, 4));
	CPY(v.resource, db_row__text(r, 5));
	CPY(v.rule, db_row__text(r, 6));
	v.order = (int)db_row__int(r, 7);
	CPY(v.outcome, db_row__text(r, 8));
	CPY(v.detail, db_row__text(r, 9));
	v.at = db_row__real(r, 10);
	v.since = db_row__real(r, 11);
	return c->fn(c->ctx, &w, &v);
}

int gstore__verdicts(struct store *s, const struct gs_wl *w, gs_verdict_fn fn, void *ctx)
{
	struct vget_ctx c = { fn, ctx };
	struct db_val p[4];

	wl_pattern(p, w);
	return db__run(s->db, SQL_V_OF_WORKLOAD, p, 4, verdict_row, &c, NULL);
}

/* ---- forge objects ---- */

struct fget_ctx {
	int64_t *number;
	char *hash;
	size_t len;
	bool found;
};

static int fget_row(void *ctx, const struct db_row *r)
{
	struct fget_ctx *c = ctx;

	*c->number = db_row__int(r, 0);
	snprintf(c->hash, c->len, "%s", db_row__text(r, 1));
	c->found = true;
	return 0;
}

int gstore__forge_get(struct store *s, const char *kind, const char *key, int64_t *number,
		      char *hash, size_t hashlen)
{
	struct fget_ctx c = { number, hash, hashlen, false };
	struct db_val p[2] = { DB_T(kind), DB_T(key) };
	int ret = db__run(s->db, SQL_F_GET, p, 2, fget_row, &c, NULL);

	if (ret)
		return ret;
	return c.found ? 0 : -ENOENT;
}

int gstore__forge_put(struct store *s, const char *kind, const char *key, int64_t number,
		      const char *hash, double now)
{
	struct db_val p[5] = { DB_T(kind), DB_T(key), DB_I(number), DB_T(hash), DB_R(now) };
	int ret = db__begin_write(s->db);

	if (!ret)
		ret = db__run(s->db, SQL_F_PUT, p, 5, NULL, NULL, NULL);
	if (!ret)
		ret = db__exec(s->db, "COMMIT");
	if (ret)
		db__exec(s->db, "ROLLBACK");
	return ret;
}
