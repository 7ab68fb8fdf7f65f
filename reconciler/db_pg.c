// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PostgreSQL engine (libpq): statements prepared by name on first use,
 * values sent as text (bytea in binary), results read as text. A broken
 * connection is reset once and its statements prepared again; the
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

struct pg {
	PGconn *c;
	bool *prepared;
};

struct pg_row {
	PGresult *res;
	int row;
	unsigned char *blob;	/* the last bytea unescaped, freed after the row */
};

static bool pg_claims(const char *url)
{
	return !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
}

/* libpq's messages end with a newline */
static const char *pg_msg(PGconn *c)
{
	static __thread char buf[384];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", PQerrorMessage(c));
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static int pg_result(struct db *db, PGresult *res, const char *what)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	db__fail(db, -EIO, "postgresql: %s: %s", what, pg_msg(((struct pg *)db->impl)->c));
	/* 40001 serialization, 40P01 deadlock, 55P03 lock not available */
	if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03")))
		return -EBUSY;
	return -EIO;
}

/* After a failure: a dropped connection is reset, and everything must be prepared again. */
static void pg_check_conn(struct db *db)
{
	struct pg *p = db->impl;

	if (PQstatus(p->c) == CONNECTION_OK)
		return;
	PQreset(p->c);
	memset(p->prepared, 0, db->n_stmts * sizeof(*p->prepared));
	if (PQstatus(p->c) == CONNECTION_OK) {
		PGresult *res = PQexec(p->c, PG_STATEMENT_TIMEOUT);

		PQclear(res);
	}
}

static int pg_exec(struct db *db, const char *sql)
{
	struct pg *p = db->impl;
	PGresult *res = PQexec(p->c, sql);
	int ret = pg_result(db, res, sql);

	PQclear(res);
	if (ret)
		pg_check_conn(db);
	return ret;
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
		return db__fail(db, -EIO, "postgresql: connect: %s", pg_msg(p->c));
	return pg_exec(db, PG_STATEMENT_TIMEOUT);
}

static void pg_close(struct db *db)
{
	struct pg *p = db->impl;

	if (p->c)
		PQfinish(p->c);
	free(p->prepared);
	free(p);
	db->impl = NULL;
}

static int pg_begin_write(struct db *db)
{
	return pg_exec(db, "BEGIN");
}

static int pg_prepare(struct db *db, int id, int n)
{
	struct pg *p = db->impl;
	char name[16];
	PGresult *res;
	int ret;

	if (p->prepared[id])
		return 0;
	snprintf(name, sizeof(name), "s%d", id);
	res = PQprepare(p->c, name, db->stmts[id], n, NULL);
	ret = pg_result(db, res, "prepare");
	PQclear(res);
	if (ret) {
		pg_check_conn(db);
		return ret;
	}
	p->prepared[id] = true;
	return 0;
}

/* Values as text, bytea in binary; @txt holds the numbers' text. */
static void pg_params(const struct db_val *v, int n, char (*txt)[32], const char **vals,
		      int *lens, int *fmts)
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

#define PG_MAX_PARAMS 32

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

static int pg_run(struct db *db, int id, const struct db_val *v, int n, db_row_fn fn, void *ctx,
		  int64_t *changes)
{
	struct pg *p = db->impl;
	char txt[PG_MAX_PARAMS][32], name[16];
	const char *vals[PG_MAX_PARAMS];
	int lens[PG_MAX_PARAMS], fmts[PG_MAX_PARAMS], ret;
	PGresult *res;

	if (n > PG_MAX_PARAMS)
		return db__fail(db, -E2BIG, "statement %d: %d values", id, n);
	ret = pg_prepare(db, id, n);
	if (ret)
		return ret;
	pg_params(v, n, txt, vals, lens, fmts);
	snprintf(name, sizeof(name), "s%d", id);
	res = PQexecPrepared(p->c, name, n, vals, lens, fmts, 0);
	ret = pg_result(db, res, name);
	if (!ret) {
		if (changes && *PQcmdTuples(res))
			*changes = strtoll(PQcmdTuples(res), NULL, 10);
		ret = pg_rows(db, res, fn, ctx);
	}
	PQclear(res);
	if (ret < 0)
		pg_check_conn(db);
	return ret;
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
	int ret = pg_result(db, res, "size");

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
	.size = pg_size,
	.maintain = pg_maintain,
	.row_columns = pg_row_columns,
	.row_null = pg_row_null,
	.row_text = pg_row_text,
	.row_int = pg_row_int,
	.row_real = pg_row_real,
	.row_blob = pg_row_blob,
};
