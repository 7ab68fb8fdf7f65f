// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The driver: an engine by the URL's scheme, and the calls every engine answers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db.h"

static const struct db_ops *const db_engines[] = {
	&db_sqlite_ops,
	&db_pg_ops,
};

int db__fail(struct db *db, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
	return ret;
}

int db__open(struct db **out, const char *url, const char *const *stmts, int n_stmts, char *err,
	     size_t errlen)
{
	struct db *db;
	size_t i;
	int ret;

	*out = NULL;
	for (i = 0; i < sizeof(db_engines) / sizeof(db_engines[0]); i++)
		if (db_engines[i]->claims(url))
			break;
	if (i == sizeof(db_engines) / sizeof(db_engines[0])) {
		snprintf(err, errlen, "store \"%.200s\": not sqlite:PATH or postgresql://...", url);
		return -EINVAL;
	}
	db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	db->ops = db_engines[i];
	db->stmts = stmts;
	db->n_stmts = n_stmts;
	ret = db->ops->open(db, url);
	if (ret) {
		snprintf(err, errlen, "%s", db->err);
		db__close(db);
		return ret;
	}
	*out = db;
	return 0;
}

void db__close(struct db *db)
{
	if (!db)
		return;
	if (db->impl)
		db->ops->close(db);
	free(db);
}

const char *db__engine(const struct db *db)
{
	return db->ops->engine;
}

const char *db__error(const struct db *db)
{
	return db->err;
}

int db__exec(struct db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

int db__begin_write(struct db *db)
{
	return db->ops->begin_write(db);
}

int db__run(struct db *db, int id, const struct db_val *params, int n, db_row_fn fn, void *ctx,
	    int64_t *changes)
{
	if (id < 0 || id >= db->n_stmts || !db->stmts[id])
		return db__fail(db, -EINVAL, "no statement %d", id);
	if (changes)
		*changes = 0;
	return db->ops->run(db, id, params, n, fn, ctx, changes);
}

int db__batch(struct db *db, const struct db_call *calls, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (calls[i].id < 0 || calls[i].id >= db->n_stmts || !db->stmts[calls[i].id])
			return db__fail(db, -EINVAL, "no statement %d", calls[i].id);
		if (calls[i].changes)
			*calls[i].changes = 0;
	}
	return db->ops->batch(db, calls, n);
}

int db__queue(struct db *db, int id, const struct db_val *params, int n)
{
	if (id < 0 || id >= db->n_stmts || !db->stmts[id])
		return db__fail(db, -EINVAL, "no statement %d", id);
	return db->ops->queue(db, id, params, n);
}

int db__flush(struct db *db)
{
	return db->ops->flush(db);
}

int db__size(struct db *db, int64_t *bytes)
{
	return db->ops->size(db, bytes);
}

int db__maintain(struct db *db)
{
	return db->ops->maintain(db);
}

int db_row__columns(const struct db_row *r)
{
	return r->db->ops->row_columns(r);
}

bool db_row__null(const struct db_row *r, int col)
{
	return r->db->ops->row_null(r, col);
}

int64_t db_row__int(const struct db_row *r, int col)
{
	return r->db->ops->row_int(r, col);
}

double db_row__real(const struct db_row *r, int col)
{
	return r->db->ops->row_real(r, col);
}

const char *db_row__text(const struct db_row *r, int col)
{
	return r->db->ops->row_text(r, col);
}

const void *db_row__blob(const struct db_row *r, int col, size_t *len)
{
	return r->db->ops->row_blob(r, col, len);
}
