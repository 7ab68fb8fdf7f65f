// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * SQLite engine: one file in WAL mode, synchronous FULL (a commit is on
 * disk before it returns: an acknowledged report survives a power cut),
 * incremental auto-vacuum so retention gives space back, a busy timeout for
 * the readers beside the writer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "db.h"

#define SQLITE_BUSY_MS 10000

struct sq {
	sqlite3 *h;
	char *path;
	sqlite3_stmt **stmts; /* prepared on first use */
};

struct sq_row {
	sqlite3_stmt *st;
};

static bool sq_claims(const char *url)
{
	return !strncmp(url, "sqlite:", 7);
}

static const char *sq_path(const char *url)
{
	url += 7;
	if (!strncmp(url, "//", 2)) /* sqlite:///abs/path and sqlite://rel */
		url += 2;
	return url;
}

static int sq_exec(struct db *db, const char *sql)
{
	struct sq *q = db->impl;
	char *msg = NULL;
	int rc = sqlite3_exec(q->h, sql, NULL, NULL, &msg);

	if (rc == SQLITE_OK)
		return 0;
	db__fail(db, rc == SQLITE_BUSY ? -EBUSY : -EIO, "sqlite: %s: %s", sql,
		 msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc == SQLITE_BUSY ? -EBUSY : -EIO;
}

static int sq_open(struct db *db, const char *url)
{
	static const char *const setup[] = {
		"PRAGMA auto_vacuum = INCREMENTAL", /* takes effect in a new file only */
		"PRAGMA journal_mode = WAL",
		"PRAGMA synchronous = FULL",
		"PRAGMA foreign_keys = OFF",
	};
	const char *path = sq_path(url);
	struct sq *q;
	size_t i;
	int rc;

	if (!*path)
		return db__fail(db, -EINVAL, "sqlite: no path in \"%s\"", url);
	q = calloc(1, sizeof(*q));
	if (!q)
		return db__fail(db, -ENOMEM, "out of memory");
	db->impl = q;
	q->path = strdup(path);
	q->stmts = calloc(db->n_stmts ? db->n_stmts : 1, sizeof(*q->stmts));
	if (!q->path || !q->stmts)
		return db__fail(db, -ENOMEM, "out of memory");
	rc = sqlite3_open_v2(path, &q->h,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK)
		return db__fail(db, -EIO, "sqlite: open %s: %s", path,
				q->h ? sqlite3_errmsg(q->h) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(q->h, SQLITE_BUSY_MS);
	for (i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
		rc = sq_exec(db, setup[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static void sq_close(struct db *db)
{
	struct sq *q = db->impl;
	int i;

	for (i = 0; q->stmts && i < db->n_stmts; i++)
		sqlite3_finalize(q->stmts[i]);
	free(q->stmts);
	if (q->h)
		sqlite3_close_v2(q->h);
	free(q->path);
	free(q);
	db->impl = NULL;
}

static int sq_begin_write(struct db *db)
{
	return sq_exec(db, "BEGIN IMMEDIATE");
}

/* "$1" -> "?1": the statements are written once for both engines. */
static char *sq_translate(const char *sql)
{
	char *out = strdup(sql), *p;

	for (p = out; p && *p; p++)
		if (*p == '$' && p[1] >= '0' && p[1] <= '9')
			*p = '?';
	return out;
}

static sqlite3_stmt *sq_stmt(struct db *db, int id)
{
	struct sq *q = db->impl;
	char *sql;
	int rc;

	if (q->stmts[id])
		return q->stmts[id];
	sql = sq_translate(db->stmts[id]);
	if (!sql) {
		db__fail(db, -ENOMEM, "out of memory");
		return NULL;
	}
	rc = sqlite3_prepare_v3(q->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->stmts[id], NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		db__fail(db, -EIO, "sqlite: prepare statement %d: %s", id, sqlite3_errmsg(q->h));
		return NULL;
	}
	return q->stmts[id];
}

static int sq_bind(struct db *db, sqlite3_stmt *st, const struct db_val *p, int n)
{
	int i, rc = SQLITE_OK;

	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		switch (p[i].type) {
		case DB_NULL:
			rc = sqlite3_bind_null(st, i + 1);
			break;
		case DB_INT:
			rc = sqlite3_bind_int64(st, i + 1, p[i].i);
			break;
		case DB_REAL:
			rc = sqlite3_bind_double(st, i + 1, p[i].d);
			break;
		case DB_TEXT:
			rc = sqlite3_bind_text(st, i + 1, p[i].s ? p[i].s : "", -1, SQLITE_STATIC);
			break;
		case DB_BLOB:
			rc = sqlite3_bind_blob64(st, i + 1, p[i].b ? p[i].b : "", p[i].len,
						 SQLITE_STATIC);
			break;
		}
	}
	if (rc != SQLITE_OK)
		return db__fail(db, -EIO, "sqlite: bind: %s", sqlite3_errstr(rc));
	return 0;
}

static int sq_run(struct db *db, int id, const struct db_val *p, int n, db_row_fn fn, void *ctx,
		  int64_t *changes)
{
	struct sq *q = db->impl;
	sqlite3_stmt *st = sq_stmt(db, id);
	struct sq_row sr;
	struct db_row row = { .db = db, .impl = &sr };
	int rc, ret = 0;

	if (!st)
		return -EIO;
	ret = sq_bind(db, st, p, n);
	sr.st = st;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn ? fn(ctx, &row) : 0;
	if (!ret && rc != SQLITE_DONE)
		ret = db__fail(db, rc == SQLITE_BUSY ? -EBUSY : -EIO, "sqlite: statement %d: %s",
			       id, sqlite3_errmsg(q->h));
	if (!ret && changes)
		*changes = sqlite3_changes64(q->h);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static int sq_batch(struct db *db, const struct db_call *c, int n)
{
	int i, ret = 0;

	for (i = 0; i < n && !ret; i++)
		ret = sq_run(db, c[i].id, c[i].params, c[i].n, c[i].fn, c[i].ctx, c[i].changes);
	return ret;
}

static int sq_queue(struct db *db, int id, const struct db_val *p, int n)
{
	return sq_run(db, id, p, n, NULL, NULL, NULL);
}

static int sq_flush(struct db *db)
{
	(void)db;
	return 0;
}

static int sq_size(struct db *db, int64_t *bytes)
{
	struct sq *q = db->impl;
	char wal[4096];
	struct stat st;
	sqlite3_stmt *s;
	int64_t pages = 0, size = 0;

	/* page_count x page_size without a statement table entry: fixed SQL, no values */
	if (sqlite3_prepare_v2(q->h,
			       "SELECT page_count * page_size FROM pragma_page_count(), "
			       "pragma_page_size()",
			       -1, &s, NULL) != SQLITE_OK)
		return db__fail(db, -EIO, "sqlite: size: %s", sqlite3_errmsg(q->h));
	if (sqlite3_step(s) == SQLITE_ROW)
		pages = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	snprintf(wal, sizeof(wal), "%s-wal", q->path);
	if (!stat(wal, &st))
		size = st.st_size;
	*bytes = pages + size;
	return 0;
}

static int sq_maintain(struct db *db)
{
	int ret = sq_exec(db, "PRAGMA incremental_vacuum");

	if (!ret)
		ret = sq_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	if (!ret)
		ret = sq_exec(db, "PRAGMA optimize");
	return ret;
}

static int sq_row_columns(const struct db_row *r)
{
	return sqlite3_column_count(((struct sq_row *)r->impl)->st);
}

static bool sq_row_null(const struct db_row *r, int col)
{
	return sqlite3_column_type(((struct sq_row *)r->impl)->st, col) == SQLITE_NULL;
}

static const char *sq_row_text(const struct db_row *r, int col)
{
	const unsigned char *s = sqlite3_column_text(((struct sq_row *)r->impl)->st, col);

	return s ? (const char *)s : "";
}

static int64_t sq_row_int(const struct db_row *r, int col)
{
	return sqlite3_column_int64(((struct sq_row *)r->impl)->st, col);
}

static double sq_row_real(const struct db_row *r, int col)
{
	return sqlite3_column_double(((struct sq_row *)r->impl)->st, col);
}

static const void *sq_row_blob(const struct db_row *r, int col, size_t *len)
{
	sqlite3_stmt *st = ((struct sq_row *)r->impl)->st;
	const void *b = sqlite3_column_blob(st, col);

	*len = b ? (size_t)sqlite3_column_bytes(st, col) : 0;
	return b;
}

const struct db_ops db_sqlite_ops = {
	.engine = "sqlite",
	.claims = sq_claims,
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.begin_write = sq_begin_write,
	.run = sq_run,
	.batch = sq_batch,
	.queue = sq_queue,
	.flush = sq_flush,
	.size = sq_size,
	.maintain = sq_maintain,
	.row_columns = sq_row_columns,
	.row_null = sq_row_null,
	.row_text = sq_row_text,
	.row_int = sq_row_int,
	.row_real = sq_row_real,
	.row_blob = sq_row_blob,
};
