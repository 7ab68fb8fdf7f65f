// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The store: open and migrate, retention and compaction, and what is read back. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "db.h"
#include "store.h"
#include "store_int.h"
#include "store_sql.h"

#define COMPACT_SLICE	 5000 /* ledger rows deleted per transaction */
#define COMPACT_WINDOW_S 10.0 /* seconds of pod-windows deleted per transaction */

static double store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int store_int_row(void *ctx, const struct db_row *r)
{
	*(int64_t *)ctx = db_row__int(r, 0);
	return 0;
}

int store__schema_latest(void)
{
	return store_n_migrations;
}

int store__schema_version(struct store *s)
{
	int64_t v = 0;

	if (db__run(s->db, SQL_MIG_VERSION, NULL, 0, store_int_row, &v, NULL))
		return -EIO;
	return (int)v;
}

/* Apply migration @v (1-based) and record it, in one transaction. */
static int store_migrate_one(struct store *s, int v, char *err, size_t errlen)
{
	const char *const *ddl = store_migrations[v - 1];
	struct db_val p[2] = { DB_I(v), DB_R(store_now()) };
	int ret = 0;

	for (; *ddl && !ret; ddl++)
		ret = db__exec(s->db, *ddl);
	if (!ret)
		ret = db__run(s->db, SQL_MIG_INSERT, p, 2, NULL, NULL, NULL);
	if (ret)
		snprintf(err, errlen, "migration %d: %s", v, db__error(s->db));
	return ret;
}

/*
 * Bring the schema to the newest version: each migration in its own
 * transaction, under the write lock, so two reconcilers starting together
 * apply it once.
 */
static int store_migrate(struct store *s, char *err, size_t errlen)
{
	int v, ret;

	ret = db__exec(s->db, store_sql[SQL_MIG_TABLE]);
	if (ret) {
		snprintf(err, errlen, "%s", db__error(s->db));
		return ret;
	}
	for (;;) {
		ret = db__begin_write(s->db);
		if (ret) {
			snprintf(err, errlen, "%s", db__error(s->db));
			return ret;
		}
		v = store__schema_version(s);
		if (v < 0 || v >= store_n_migrations) {
			db__exec(s->db, "ROLLBACK");
			if (v > store_n_migrations) {
				snprintf(err, errlen,
					 "the store's schema is version %d, this "
					 "reconciler knows up to %d: run a newer one",
					 v, store_n_migrations);
				return -EPROTO;
			}
			if (v < 0)
				snprintf(err, errlen, "schema version: %s", db__error(s->db));
			return v < 0 ? -EIO : 0;
		}
		ret = store_migrate_one(s, v + 1, err, errlen);
		if (!ret)
			ret = db__exec(s->db, "COMMIT");
		if (ret) {
			db__exec(s->db, "ROLLBACK");
			return ret;
		}
	}
}

int store__open(struct store **out, const char *url, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = store_sql_init();
	if (ret)
		snprintf(err, errlen, "out of memory");
	if (!ret)
		ret = db__open(&s->db, url, store_sql, SQL_N, err, errlen);
	if (!ret)
		ret = store_migrate(s, err, errlen);
	if (ret) {
		store__close(s);
		return ret;
	}
	*out = s;
	return 0;
}

void store__close(struct store *s)
{
	if (!s)
		return;
	db__close(s->db);
	free(s);
}

const char *store__engine(const struct store *s)
{
	return db__engine(s->db);
}

int store__size(struct store *s, int64_t *bytes)
{
	return db__size(s->db, bytes);
}

void store__retention_defaults(struct store_retention *r)
{
	r->pod_windows_s = 7 * 86400.0;
	r->ledger_s = 30 * 86400.0;
	r->rollups_s = 400 * 86400.0;
	r->findings_s = 30 * 86400.0;
}

/* One statement in its own write transaction; *@rows gets what it touched. */
static int store_tx(struct store *s, int id, const struct db_val *p, int n, int64_t *rows)
{
	int ret = db__begin_write(s->db);

	if (ret)
		return ret;
	ret = db__run(s->db, id, p, n, NULL, NULL, rows);
	if (!ret)
		ret = db__exec(s->db, "COMMIT");
	if (ret)
		db__exec(s->db, "ROLLBACK");
	return ret;
}

/* Delete in slices, so the writer never waits long behind retention. */
static int store_sliced(struct store *s, int id, double cutoff, int64_t *total)
{
	struct db_val p[2] = { DB_R(cutoff), DB_I(COMPACT_SLICE) };
	int64_t rows;
	int ret;

	do {
		ret = store_tx(s, id, p, 2, &rows);
		if (!ret)
			*total += rows;
	} while (!ret && rows >= COMPACT_SLICE);
	return ret;
}

static int store_real_row(void *ctx, const struct db_row *r)
{
	*(double *)ctx = db_row__null(r, 0) ? NAN : db_row__real(r, 0);
	return 0;
}

/*
 * Raw pod-windows older than @cutoff, COMPACT_WINDOW_S of windows a
 * transaction, oldest first: a slice is what a fleet sends in those seconds.
 */
static int store_old_windows(struct store *s, double cutoff, int64_t *total)
{
	double oldest;
	struct db_val p;
	int64_t rows;
	int ret;

	for (;;) {
		oldest = NAN;
		ret = db__run(s->db, SQL_OLDEST_POD_WINDOW, NULL, 0, store_real_row, &oldest, NULL);
		if (ret || isnan(oldest) || oldest >= cutoff)
			return ret;
		p = DB_R(fmin(oldest + COMPACT_WINDOW_S, cutoff));
		ret = store_tx(s, SQL_DEL_POD_WINDOWS, &p, 1, &rows);
		if (ret)
			return ret;
		*total += rows;
	}
}

int store__compact(struct store *s, const struct store_retention *r, double now,
		   struct store_compaction *out, char *err, size_t errlen)
{
	struct db_val ledger_cut = DB_R(now - r->ledger_s);
	struct db_val hour_cut = DB_I((int64_t)floor((now - r->rollups_s) / 3600) * 3600);
	struct db_val find_cut = DB_R(now - r->findings_s);
	int64_t rows;
	int ret;

	memset(out, 0, sizeof(*out));
	db__size(s->db, &out->bytes_before);
	ret = store_old_windows(s, now - r->pod_windows_s, &out->pod_windows);
	/* sequences of the ledger rows that go still count as seen: the node's floor */
	if (!ret)
		ret = store_tx(s, SQL_RAISE_FLOOR, &ledger_cut, 1, &rows);
	if (!ret)
		ret = store_sliced(s, SQL_DEL_LEDGER, ledger_cut.d, &out->ledger);
	if (!ret)
		ret = store_tx(s, SQL_DEL_ROLLUPS, &hour_cut, 1, &out->rollups);
	if (!ret)
		ret = store_tx(s, SQL_DEL_CTR_HOURLY, &hour_cut, 1, &out->container_hours);
	if (!ret)
		ret = store_tx(s, SQL_DEL_FINDINGS, &find_cut, 1, &out->findings);
	if (!ret)
		ret = store_tx(s, SQL_DEL_STATS, &find_cut, 1, &out->stats);
	if (!ret)
		ret = db__maintain(s->db);
	if (ret) {
		snprintf(err, errlen, "%s", db__error(s->db));
		return ret;
	}
	db__size(s->db, &out->bytes_after);
	return 0;
}

/* ---- costs ---- */

struct costs_ctx {
	struct store_costs *out;
	size_t cap;
};

static int store_cost_row(void *ctx, const struct db_row *r)
{
	struct costs_ctx *c = ctx;
	struct store_cost_row *row;
	int k;

	if (c->out->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct store_cost_row *grown = realloc(c->out->rows, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		c->out->rows = grown;
		c->cap = cap;
	}
	row = &c->out->rows[c->out->n++];
	memset(row, 0, sizeof(*row));
	snprintf(row->cluster, sizeof(row->cluster), "%s", db_row__text(r, 0));
	for (k = 0; k < 3; k++)
		snprintf(row->key[k], sizeof(row->key[k]), "%s", db_row__text(r, 1 + k));
	for (k = 0; k < 4; k++)
		row->cost[k] = db_row__int(r, 4 + k);
	for (k = 0; k < 3; k++) {
		row->waste[k] = db_row__int(r, 8 + k);
		row->idle[k] = db_row__int(r, 11 + k);
	}
	return 0;
}

int store__costs(struct store *s, enum store_costs_by by, const char *label_key, double since,
		 double until, struct store_costs *out, char *err, size_t errlen)
{
	static const int ids[] = {
		[COSTS_BY_NAMESPACE] = SQL_COSTS_NAMESPACE,
		[COSTS_BY_WORKLOAD] = SQL_COSTS_WORKLOAD,
		[COSTS_BY_NODE] = SQL_COSTS_NODE,
		[COSTS_BY_POD] = SQL_COSTS_POD,
		[COSTS_BY_LABEL] = SQL_COSTS_LABEL,
	};
	struct costs_ctx c = { .out = out };
	struct db_val p[3];
	int ret;

	memset(out, 0, sizeof(*out));
	if (by == COSTS_BY_POD) {
		p[0] = DB_R(since);
		p[1] = DB_R(until);
	} else {
		p[0] = DB_I((int64_t)floor(since / 3600) * 3600);
		p[1] = DB_I((int64_t)ceil(until / 3600) * 3600);
	}
	p[2] = DB_T(label_key ? label_key : "");
	ret = db__run(s->db, ids[by], p, by == COSTS_BY_LABEL ? 3 : 2, store_cost_row, &c, NULL);
	if (ret) {
		snprintf(err, errlen, "%s", ret == -ENOMEM ? "out of memory" : db__error(s->db));
		store__costs_free(out);
	}
	return ret;
}

void store__costs_free(struct store_costs *c)
{
	free(c->rows);
	c->rows = NULL;
	c->n = 0;
}

/* ---- distributions, nodes ---- */

struct dist_ctx {
	struct pm_dist *d;
	double ref;
	int ret;
	bool found;
};

static int store_dist_row(void *ctx, const struct db_row *r)
{
	struct dist_ctx *c = ctx;
	size_t len;
	const void *b = db_row__blob(r, 0, &len);

	c->found = true;
	c->ref = db_row__real(r, 1);
	c->ret = dist__decode(c->d, b, len);
	return 0;
}

int store_dist_get(struct store *s, const struct db_val *key, struct pm_dist *out, double *ref)
{
	struct dist_ctx c = { .d = out };
	int ret;

	dist__init(out);
	ret = db__run(s->db, SQL_DIST_GET, key, 5, store_dist_row, &c, NULL);
	if (ret)
		return ret;
	if (!c.found)
		return -ENOENT;
	*ref = c.ref;
	return c.ret;
}

int store__cpu_dist(struct store *s, const char *cluster, const char *namespace_,
		    const char *owner_kind, const char *owner_name, const char *container,
		    struct pm_dist *out, double *ref_time)
{
	struct db_val key[5] = { DB_T(cluster), DB_T(namespace_), DB_T(owner_kind),
				 DB_T(owner_name), DB_T(container) };

	return store_dist_get(s, key, out, ref_time);
}

struct nodes_ctx {
	store_node_fn fn;
	void *ctx;
};

static int store_node_row(void *ctx, const struct db_row *r)
{
	struct nodes_ctx *c = ctx;

	c->fn(c->ctx, db_row__text(r, 0), db_row__text(r, 1), db_row__real(r, 2),
	      db_row__real(r, 3), (uint64_t)db_row__int(r, 4));
	return 0;
}

int store__nodes(struct store *s, store_node_fn fn, void *ctx)
{
	struct nodes_ctx c = { fn, ctx };

	return db__run(s->db, SQL_NODES_ALL, NULL, 0, store_node_row, &c, NULL);
}
