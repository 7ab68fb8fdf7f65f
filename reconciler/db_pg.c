// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PostgreSQL engine (libpq). A statement is prepared by name the first time
 * it is sent, in the same round trip as its first run. Outside a write transaction a statement is one round
 * trip. Within one, the connection is in pipeline mode: statements whose
 * rows nobody reads (db__queue) are sent without waiting, and a statement
 * that is read, or COMMIT, waits for all of them; a few round trips a
 * report instead of one a row. Values go as text (bytea in binary),
 * results come back as text.
 *
 * A broken connection is reset once and its statements prepared again; the
 * statement that found it broken fails, and its caller retries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "db.h"

#define PG_STATEMENT_TIMEOUT "SET statement_timeout = '60s'"
#define PG_MAX_PARAMS	     512
#define PG_PENDING_MAX	     1024 /* sent before waiting: results must not pile up unread */

/* Where a sent statement's results go. */
struct pg_slot {
	db_row_fn fn;
	void *ctx;
	int64_t *changes;
};

struct pg {
	PGconn *c;
	bool *prepared; /* sent to the server for preparing */
	bool reprepare; /* a pipeline failed: maybe a PREPARE did; start over */
	bool pipeline;	/* in a write transaction */
	int pending;	/* sent, results not read: slots[0..pending) */
	struct pg_slot *slots;
	int cap_slots;
	bool failed; /* a pipelined statement failed: the transaction is lost */
};

struct pg_row {
	PGresult *res;
	int row;
	unsigned char *blob; /* the last bytea unescaped, freed after the row */
};

static bool pg_claims(const char *url)
{
	return !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
}

static void pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* NOTICEs ("already exists, skipping") are not errors */
}

/* libpq's messages end with a newline */
static int pg_fail(struct db *db, int ret, const char *what)
{
	struct pg *p = db->impl;
	char msg[384];
	size_t n;

	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(p->c));
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	return db__fail(db, ret, "postgresql: %s: %s", what, msg);
}

/* 0 for a result that succeeded; -EBUSY for a conflict worth retrying; -EIO. */
static int pg_status(struct db *db, PGresult *res, const char *what)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	if (st == PGRES_PIPELINE_ABORTED)
		return -EIO; /* an earlier statement's error is the one to report */
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	db__fail(db, -EIO, "postgresql: %s: %s", what,
		 PQresultErrorMessage(res) ? PQresultErrorMessage(res) : "failed");
	/* 40001 serialization, 40P01 deadlock, 55P03 lock not available */
	if (state &&
	    (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03")))
		return -EBUSY;
	return -EIO;
}

static int pg_set_timeout(struct db *db)
{
	struct pg *p = db->impl;
	PGresult *res = PQexec(p->c, PG_STATEMENT_TIMEOUT);
	int ret = pg_status(db, res, "set statement_timeout");

	PQclear(res);
	return ret;
}

/* Outside a transaction: forget every prepared statement, to prepare them again. */
static void pg_forget_prepared(struct db *db)
{
	struct pg *p = db->impl;
	PGresult *res;

	if (!p->reprepare || PQstatus(p->c) != CONNECTION_OK)
		return;
	res = PQexec(p->c, "DEALLOCATE ALL");
	PQclear(res);
	memset(p->prepared, 0, db->n_stmts * sizeof(*p->prepared));
	p->reprepare = false;
}

/* After a failure: a dropped connection is reset, and everything prepared again. */
static void pg_check_conn(struct db *db)
{
	struct pg *p = db->impl;

	if (PQstatus(p->c) == CONNECTION_OK)
		return;
	PQreset(p->c);
	p->pipeline = false;
	p->pending = 0;
	p->failed = false;
	p->reprepare = false;
	memset(p->prepared, 0, db->n_stmts * sizeof(*p->prepared));
	if (PQstatus(p->c) == CONNECTION_OK)
		pg_set_timeout(db);
}

static int pg_open(struct db *db, const char *url)
{
	struct pg *p = calloc(1, sizeof(*p));

	if (!p)
		return db__fail(db, -ENOMEM, "out of memory");
	db->impl = p;
	p->prepared = calloc(db->n_stmts ? db->n_stmts : 1, sizeof(*p->prepared));
	if (!p->prepared)
		return db__fail(db, -ENOMEM, "out of memory");
	p->c = PQconnectdb(url);
	if (!p->c)
		return db__fail(db, -ENOMEM, "out of memory");
	if (PQstatus(p->c) != CONNECTION_OK)
		return pg_fail(db, -EIO, "connect");
	PQsetNoticeProcessor(p->c, pg_quiet, NULL);
	return pg_set_timeout(db);
}

static void pg_close(struct db *db)
{
	struct pg *p = db->impl;

	if (p->c)
		PQfinish(p->c);
	free(p->prepared);
	free(p->slots);
	free(p);
	db->impl = NULL;
}

/* ---- results ---- */

static int pg_rows(struct db *db, PGresult *res, db_row_fn fn, void *ctx)
{
	struct pg_row pr = { .res = res };
	struct db_row row = { .db = db, .impl = &pr };
	int i, n = PQntuples(res), ret = 0;

	for (i = 0; i < n && !ret && fn; i++) {
		pr.row = i;
		ret = fn(ctx, &row);
		PQfreemem(pr.blob);
		pr.blob = NULL;
	}
	return ret;
}

/* Room for one more sent statement's slot; 0 or -ENOMEM. */
static int pg_slot(struct db *db, db_row_fn fn, void *ctx, int64_t *changes)
{
	struct pg *p = db->impl;
	struct pg_slot *grown;

	if (p->pending == p->cap_slots) {
		p->cap_slots = p->cap_slots ? p->cap_slots * 2 : 256;
		grown = realloc(p->slots, p->cap_slots * sizeof(*grown));
		if (!grown)
			return db__fail(db, -ENOMEM, "out of memory");
		p->slots = grown;
	}
	p->slots[p->pending++] = (struct pg_slot){ fn, ctx, changes };
	return 0;
}

/*
 * Read the results of every statement sent, up to the sync point, each to
 * its slot: rows to its function, its count to its changes. The first
 * error is returned.
 */
static int pg_drain(struct db *db)
{
	struct pg *p = db->impl;
	int q = 0, ret = 0, r;
	PGresult *res;

	for (;;) {
		res = PQgetResult(p->c);
		if (!res) {
			if (PQstatus(p->c) != CONNECTION_OK)
				return ret ? ret : pg_fail(db, -EIO, "connection");
			q++; /* the end of one statement's results */
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		r = pg_status(db, res, "pipelined statement");
		if (r && !ret)
			ret = r;
		if (!r && q < p->pending) {
			const struct pg_slot *sl = &p->slots[q];

			if (sl->changes && *PQcmdTuples(res))
				*sl->changes = strtoll(PQcmdTuples(res), NULL, 10);
			r = sl->fn ? pg_rows(db, res, sl->fn, sl->ctx) : 0;
			if (r && !ret)
				ret = r;
		}
		PQclear(res);
	}
	p->pending = 0;
	if (ret) {
		p->failed = true;
		p->reprepare = true;
	}
	return ret;
}

static int pg_sync(struct db *db)
{
	struct pg *p = db->impl;

	if (!PQpipelineSync(p->c))
		return pg_fail(db, -EIO, "sync");
	return pg_drain(db);
}

/* ---- statements ---- */

static void pg_params(const struct db_val *v, int n, char (*txt)[32], const char **vals, int *lens,
		      int *fmts)
{
	int i;

	for (i = 0; i < n; i++) {
		lens[i] = 0;
		fmts[i] = 0;
		switch (v[i].type) {
		case DB_NULL:
			vals[i] = NULL;
			break;
		case DB_INT:
			snprintf(txt[i], sizeof(txt[i]), "%" PRId64, v[i].i);
			vals[i] = txt[i];
			break;
		case DB_REAL:
			snprintf(txt[i], sizeof(txt[i]), "%.17g", v[i].d);
			vals[i] = txt[i];
			break;
		case DB_TEXT:
			vals[i] = v[i].s ? v[i].s : "";
			break;
		case DB_BLOB:
			vals[i] = v[i].b ? v[i].b : "";
			lens[i] = (int)v[i].len;
			fmts[i] = 1;
			break;
		}
	}
}

static int pg_send(struct db *db, const struct db_call *c)
{
	struct pg *p = db->impl;
	char txt[PG_MAX_PARAMS][32], name[16];
	const char *vals[PG_MAX_PARAMS];
	int lens[PG_MAX_PARAMS], fmts[PG_MAX_PARAMS];

	if (c->n > PG_MAX_PARAMS)
		return db__fail(db, -E2BIG, "statement %d: %d values", c->id, c->n);
	pg_params(c->params, c->n, txt, vals, lens, fmts);
	snprintf(name, sizeof(name), "s%d", c->id);
	if (!p->prepared[c->id]) {
		if (!PQsendPrepare(p->c, name, db->stmts[c->id], 0, NULL))
			return pg_fail(db, -EIO, name);
		if (pg_slot(db, NULL, NULL, NULL))
			return -ENOMEM;
		p->prepared[c->id] = true;
	}
	if (!PQsendQueryPrepared(p->c, name, c->n, vals, lens, fmts, 0))
		return pg_fail(db, -EIO, name);
	return pg_slot(db, c->fn, c->ctx, c->changes);
}

/* Send them all, then wait once (and every PG_PENDING_MAX on the way). */
static int pg_batch(struct db *db, const struct db_call *calls, int n)
{
	struct pg *p = db->impl;
	bool alone = !p->pipeline;
	int i, ret = 0;

	if (alone)
		pg_forget_prepared(db);
	if (p->failed)
		return db__fail(db, -EIO, "postgresql: the transaction failed before: %s", db->err);
	if (alone && !PQenterPipelineMode(p->c))
		return pg_fail(db, -EIO, "pipeline");
	for (i = 0; i < n && !ret; i++) {
		ret = pg_send(db, &calls[i]);
		if (!ret && p->pending >= PG_PENDING_MAX)
			ret = pg_sync(db);
	}
	if (!ret)
		ret = pg_sync(db);
	else if (p->pending)
		pg_sync(db);
	if (alone) {
		PQexitPipelineMode(p->c);
		p->failed = false;
	}
	if (ret < 0)
		pg_check_conn(db);
	return ret;
}

static int pg_run(struct db *db, int id, const struct db_val *v, int n, db_row_fn fn, void *ctx,
		  int64_t *changes)
{
	struct db_call c = { id, v, n, fn, ctx, changes };

	return pg_batch(db, &c, 1);
}

static int pg_queue(struct db *db, int id, const struct db_val *v, int n)
{
	struct pg *p = db->impl;
	struct db_call c = { id, v, n, NULL, NULL, NULL };
	int ret;

	if (!p->pipeline)
		return pg_run(db, id, v, n, NULL, NULL, NULL);
	if (p->failed)
		return db__fail(db, -EIO, "postgresql: the transaction failed before: %s", db->err);
	ret = pg_send(db, &c);
	if (!ret && p->pending >= PG_PENDING_MAX)
		ret = pg_sync(db);
	if (ret < 0)
		pg_check_conn(db);
	return ret;
}

static int pg_flush(struct db *db)
{
	struct pg *p = db->impl;

	if (!p->pipeline || (!p->pending && !p->failed))
		return 0;
	if (p->failed)
		return db__fail(db, -EIO, "postgresql: the transaction failed before: %s", db->err);
	return pg_sync(db);
}

/* SQL without values: alone, or at the end of the pipeline (COMMIT, ROLLBACK end it). */
static int pg_exec(struct db *db, const char *sql)
{
	struct pg *p = db->impl;
	bool ends = !strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK");
	PGresult *res;
	int ret;

	if (!p->pipeline) {
		res = PQexec(p->c, sql);
		ret = pg_status(db, res, sql);
		PQclear(res);
		if (ret)
			pg_check_conn(db);
		return ret;
	}
	if (p->failed && !strcmp(sql, "COMMIT"))
		ret = db__fail(db, -EIO, "postgresql: the transaction failed before: %s", db->err);
	else if (!PQsendQueryParams(p->c, sql, 0, NULL, NULL, NULL, NULL, 0))
		ret = pg_fail(db, -EIO, sql);
	else if (pg_slot(db, NULL, NULL, NULL))
		ret = -ENOMEM;
	else {
		p->failed = false; /* ROLLBACK's own result is what counts now */
		ret = pg_sync(db);
	}
	if (ends || ret) {
		if (ret && p->pipeline && PQtransactionStatus(p->c) != PQTRANS_IDLE) {
			PQsendQueryParams(p->c, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
			p->pending = 0;
			pg_slot(db, NULL, NULL, NULL);
			pg_sync(db);
		}
		PQexitPipelineMode(p->c);
		p->pipeline = false;
		p->failed = false;
		p->pending = 0;
		pg_forget_prepared(db);
	}
	if (ret < 0)
		pg_check_conn(db);
	return ret;
}

static int pg_begin_write(struct db *db)
{
	struct pg *p = db->impl;
	int ret;

	pg_forget_prepared(db);
	/* BEGIN goes with the transaction's first statements: no round trip of its own */
	if (!PQenterPipelineMode(p->c))
		return pg_fail(db, -EIO, "pipeline");
	p->pipeline = true;
	p->pending = 0;
	p->failed = false;
	if (!PQsendQueryParams(p->c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
		ret = pg_fail(db, -EIO, "BEGIN");
		PQexitPipelineMode(p->c);
		p->pipeline = false;
		return ret;
	}
	return pg_slot(db, NULL, NULL, NULL);
}

static int pg_size_row(void *ctx, const struct db_row *r)
{
	*(int64_t *)ctx = db_row__int(r, 0);
	return 0;
}

static int pg_size(struct db *db, int64_t *bytes)
{
	struct pg *p = db->impl;
	PGresult *res = PQexec(p->c, "SELECT pg_database_size(current_database())");
	int ret = pg_status(db, res, "size");

	*bytes = 0;
	if (!ret)
		ret = pg_rows(db, res, pg_size_row, bytes);
	PQclear(res);
	if (ret)
		pg_check_conn(db);
	return ret;
}

/* autovacuum gives space back; nothing to do by hand */
static int pg_maintain(struct db *db)
{
	(void)db;
	return 0;
}

static int pg_row_columns(const struct db_row *r)
{
	return PQnfields(((struct pg_row *)r->impl)->res);
}

static bool pg_row_null(const struct db_row *r, int col)
{
	struct pg_row *pr = r->impl;

	return PQgetisnull(pr->res, pr->row, col);
}

static const char *pg_row_text(const struct db_row *r, int col)
{
	struct pg_row *pr = r->impl;

	return PQgetvalue(pr->res, pr->row, col);
}

static int64_t pg_row_int(const struct db_row *r, int col)
{
	const char *s = pg_row_text(r, col);

	/* SUM() of bigint is numeric: "12" or "12.0" both read as 12 */
	return strchr(s, '.') || strchr(s, 'e') ? (int64_t)strtod(s, NULL) : strtoll(s, NULL, 10);
}

static double pg_row_real(const struct db_row *r, int col)
{
	return strtod(pg_row_text(r, col), NULL);
}

static const void *pg_row_blob(const struct db_row *r, int col, size_t *len)
{
	struct pg_row *pr = r->impl;

	*len = 0;
	if (PQgetisnull(pr->res, pr->row, col))
		return NULL;
	PQfreemem(pr->blob);
	pr->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(pr->res, pr->row, col), len);
	return pr->blob;
}

const struct db_ops db_pg_ops = {
	.engine = "postgresql",
	.claims = pg_claims,
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.begin_write = pg_begin_write,
	.run = pg_run,
	.batch = pg_batch,
	.queue = pg_queue,
	.flush = pg_flush,
	.size = pg_size,
	.maintain = pg_maintain,
	.row_columns = pg_row_columns,
	.row_null = pg_row_null,
	.row_text = pg_row_text,
	.row_int = pg_row_int,
	.row_real = pg_row_real,
	.row_blob = pg_row_blob,
};
