/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The store's two engines behind one small driver: SQLite (libsqlite3) and
 * PostgreSQL (libpq). Statements are constants in a table the caller gives
 * at open, written with $1, $2 ... placeholders, prepared once per
 * connection and run with bound values: no value is ever formatted into SQL.
 *
 * One connection per struct db, used by one thread at a time.
 */
#ifndef PODMETER_RECONCILER_DB_H
#define PODMETER_RECONCILER_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_type {
	DB_NULL = 0,
	DB_INT,
	DB_REAL,
	DB_TEXT,
	DB_BLOB,
};

struct db_val {
	enum db_type type;
	int64_t i;
	double d;
	const char *s;
	const void *b;
	size_t len;
};

#define DB_I(x)	   ((struct db_val){ .type = DB_INT, .i = (int64_t)(x) })
#define DB_R(x)	   ((struct db_val){ .type = DB_REAL, .d = (double)(x) })
#define DB_T(x)	   ((struct db_val){ .type = DB_TEXT, .s = (x) })
#define DB_B(p, n) ((struct db_val){ .type = DB_BLOB, .b = (p), .len = (n) })

struct db;
struct db_row;

/* Called for each row; a non-zero return stops the statement and is returned. */
typedef int (*db_row_fn)(void *ctx, const struct db_row *row);

/*
 * Open @url: "sqlite:PATH" (WAL, synchronous FULL) or "postgresql://..." /
 * "postgres://..." (libpq). @stmts[i] is statement i for db__run.
 * 0, or a negative errno with @err set.
 */
int db__open(struct db **out, const char *url, const char *const *stmts, int n_stmts, char *err,
	     size_t errlen);
void db__close(struct db *db);
/* "sqlite" or "postgresql" */
const char *db__engine(const struct db *db);
/* The last error, for a message. */
const char *db__error(const struct db *db);

/* SQL without values: DDL, BEGIN, COMMIT, SAVEPOINT. 0 or -EIO. */
int db__exec(struct db *db, const char *sql);
/* Begin a transaction that writes: SQLite takes the write lock at once. */
int db__begin_write(struct db *db);
/*
 * Run statement @id with @n values; @fn (may be NULL) sees each row;
 * @changes (may be NULL) gets the rows an INSERT, UPDATE or DELETE touched.
 * 0, @fn's non-zero return, -EBUSY (locked past the timeout) or -EIO.
 */
int db__run(struct db *db, int id, const struct db_val *params, int n, db_row_fn fn, void *ctx,
	    int64_t *changes);

/* One statement of a db__batch, with where its rows and count go. */
struct db_call {
	int id;
	const struct db_val *params;
	int n;
	db_row_fn fn; /* may be NULL */
	void *ctx;
	int64_t *changes; /* may be NULL */
};

/*
 * Run @n statements: PostgreSQL sends them all and waits once. Each one's
 * rows and count go where its call says. The first error is returned.
 */
int db__batch(struct db *db, const struct db_call *calls, int n);

/*
 * Statement @id without rows to read: PostgreSQL sends it and goes on (a
 * pipeline within the write transaction); its error, if any, comes back
 * from a later db__run, db__exec or db__flush. SQLite runs it at once.
 */
int db__queue(struct db *db, int id, const struct db_val *params, int n);
/* Wait for what was queued; its first error. */
int db__flush(struct db *db);

/* Bytes the store takes on disk (SQLite: file and WAL; PostgreSQL: the database). */
int db__size(struct db *db, int64_t *bytes);
/* Give space back after deletions (SQLite: checkpoint, incremental vacuum). */
int db__maintain(struct db *db);

/* ---- a row ---- */
int db_row__columns(const struct db_row *r);
bool db_row__null(const struct db_row *r, int col);
int64_t db_row__int(const struct db_row *r, int col);
double db_row__real(const struct db_row *r, int col);
/* "" for NULL; valid during the callback */
const char *db_row__text(const struct db_row *r, int col);
/* valid during the callback; NULL with *len 0 for NULL */
const void *db_row__blob(const struct db_row *r, int col, size_t *len);

/* ---- for the engines (db_sqlite.c, db_pg.c) ---- */
struct db_ops {
	const char *engine;
	bool (*claims)(const char *url);
	int (*open)(struct db *db, const char *url);
	void (*close)(struct db *db);
	int (*exec)(struct db *db, const char *sql);
	int (*begin_write)(struct db *db);
	int (*run)(struct db *db, int id, const struct db_val *p, int n, db_row_fn fn, void *ctx,
		   int64_t *changes);
	int (*batch)(struct db *db, const struct db_call *calls, int n);
	int (*queue)(struct db *db, int id, const struct db_val *p, int n);
	int (*flush)(struct db *db);
	int (*size)(struct db *db, int64_t *bytes);
	int (*maintain)(struct db *db);
	int (*row_columns)(const struct db_row *r);
	bool (*row_null)(const struct db_row *r, int col);
	const char *(*row_text)(const struct db_row *r, int col);
	int64_t (*row_int)(const struct db_row *r, int col);
	double (*row_real)(const struct db_row *r, int col);
	const void *(*row_blob)(const struct db_row *r, int col, size_t *len);
};

struct db {
	const struct db_ops *ops;
	void *impl;
	const char *const *stmts;
	int n_stmts;
	char err[512];
};

struct db_row {
	const struct db *db;
	void *impl;
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

/* Set db->err; returns @ret. */
int db__fail(struct db *db, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* PODMETER_RECONCILER_DB_H */
