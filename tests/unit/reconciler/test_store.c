// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reconciler's store, on SQLite (a file per test) and, when PM_TEST_PG
 * is a libpq URL, on PostgreSQL too (its public schema emptied per test):
 * exactly once (duplicates in a batch and across batches, reused and far
 * jumping sequences), hourly rollups split over the hours a window spans,
 * costs by every grouping against sums of the reports' own amounts, merged
 * CPU distributions with decay against the quantiles of the union of the
 * samples, and retention with the ledger's floor.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "db.h"
#include "store.h"
#include "store_sql.h"
#include "fixture.h"

static char url[512];
static const char *engine_url; /* NULL: SQLite */

static int setup(void **state)
{
	static int n;
	PGconn *c;
	PGresult *r;

	(void)state;
	if (!engine_url) {
		snprintf(url, sizeof(url), "sqlite:%s/pm_rec_store.%d.%d.db",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), n++);
		return 0;
	}
	snprintf(url, sizeof(url), "%s", engine_url);
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "PM_TEST_PG: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	PQclear(r);
	PQfinish(c);
	return 0;
}

static int teardown(void **state)
{
	char path[600];

	(void)state;
	if (engine_url)
		return 0;
	unlink(url + 7);
	snprintf(path, sizeof(path), "%s-wal", url + 7);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", url + 7);
	unlink(path);
	return 0;
}

static struct store *open_store(void)
{
	struct store *s;
	char err[512];

	if (store__open(&s, url, err, sizeof(err)))
		fail_msg("store %s: %s", url, err);
	return s;
}

static void ingest(struct store *s, struct store_report *r, size_t n)
{
	char err[512];

	if (store__ingest(s, r, n, err, sizeof(err)))
		fail_msg("ingest: %s", err);
}

static struct store_report sr_of(const struct fx *f, double received)
{
	return (struct store_report){ .rep = &f->r, .received_at = received, .bytes = 100 };
}

/* Sums by namespace of one grouping's rows: the rows' resources added up here. */
static int64_t ns_cost(const struct store_costs *c, const char *key, int res)
{
	int64_t v = 0;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->rows[i].key[0], key))
			v += res < 0 ? c->rows[i].idle[0] + c->rows[i].idle[1] + c->rows[i].idle[2]
				     : c->rows[i].cost[res];
	return v;
}

static void costs(struct store *s, enum store_costs_by by, const char *label, double since,
		  double until, struct store_costs *out)
{
	char err[512];

	if (store__costs(s, by, label, since, until, out, err, sizeof(err)))
		fail_msg("costs: %s", err);
}

#define T0 1789999200.0 /* a whole hour */

/* Three pods, two namespaces, an idle cost; returns the amounts put in. */
static void node_pods(struct fx *f, const char *node, uint64_t seq, double ws, double we)
{
	Podmeter__V1__PodReport *p;

	fx_init(f, "lab", node, seq, ws, we);
	p = fx_pod(f, "u1", "shop", "web-1", "Deployment", "web", 1000, 2000);
	fx_label(f, p, "team", "payments");
	fx_container(f, p, "app", NULL);
	p = fx_pod(f, "u2", "shop", "web-2", "Deployment", "web", 3000, 4000);
	fx_label(f, p, "team", "payments");
	fx_pod(f, "u3", "batch", "job-x", "", "", 5000, 6000); /* a bare pod: its own workload */
	fx_idle(f, 700, 800, 0);
}

static void three_pods(struct fx *f, uint64_t seq, double ws, double we)
{
	node_pods(f, "node-a", seq, ws, we);
}

static void test_exactly_once(void **state)
{
	struct store *s = open_store();
	struct store_report r[3];
	struct store_costs c;
	struct fx a, b;

	(void)state;
	three_pods(&a, 1, T0, T0 + 60);
	three_pods(&b, 1, T0, T0 + 60); /* the same report, sent again */
	r[0] = sr_of(&a, T0 + 61);
	r[1] = sr_of(&b, T0 + 61);
	ingest(s, r, 2);
	assert_int_equal(r[0].verdict, STORE_STORED);
	assert_int_equal(r[1].verdict, STORE_DUPLICATE);
	r[2] = sr_of(&b, T0 + 70);
	ingest(s, &r[2], 1);
	assert_int_equal(r[2].verdict, STORE_DUPLICATE);
	costs(s, COSTS_BY_NAMESPACE, NULL, T0, T0 + 3600, &c);
	assert_int_equal(ns_cost(&c, "shop", 0), 1000 + 3000);
	assert_int_equal(ns_cost(&c, "shop", 1), 2000 + 4000);
	assert_int_equal(ns_cost(&c, "batch", 0), 5000);
	assert_int_equal(ns_cost(&c, STORE_IDLE_NAMESPACE, -1), 700 + 800);
	store__costs_free(&c);
	fx_free(&a);
	fx_free(&b);
	store__close(s);
}

static void test_seq_reused(void **state)
{
	struct store *s = open_store();
	struct store_report r;
	struct store_costs c;
	struct fx a, b;

	(void)state;
	three_pods(&a, 1, T0, T0 + 60);
	three_pods(&b, 1, T0 + 600, T0 + 660); /* seq 1 again, another window */
	r = sr_of(&a, T0 + 61);
	ingest(s, &r, 1);
	r = sr_of(&b, T0 + 661);
	ingest(s, &r, 1);
	assert_int_equal(r.verdict, STORE_SEQ_REUSED);
	assert_non_null(strstr(r.why, "seq 1"));
	costs(s, COSTS_BY_NAMESPACE, NULL, T0, T0 + 3600, &c);
	assert_int_equal(ns_cost(&c, "batch", 0), 5000); /* once */
	store__costs_free(&c);
	fx_free(&a);
	fx_free(&b);
	store__close(s);
}

struct last_seq {
	uint64_t seq;
};

static void node_cb(void *ctx, const char *cluster, const char *node, double received,
		    double window_end, uint64_t last_seq)
{
	(void)cluster;
	(void)node;
	(void)received;
	(void)window_end;
	((struct last_seq *)ctx)->seq = last_seq;
}

/* A forged jump far ahead is stored and flagged; later real reports are not duplicates. */
static void test_seq_jump(void **state)
{
	static const uint64_t seqs[] = { 1, 2, 3, 3 + 2000000, 4, 5 };
	struct store *s = open_store();
	struct last_seq ls = { 0 };
	struct store_report r;
	struct store_costs c;
	struct fx f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		three_pods(&f, seqs[i], T0 + 60.0 * i, T0 + 60.0 * (i + 1));
		r = sr_of(&f, T0 + 60.0 * (i + 1));
		ingest(s, &r, 1);
		assert_int_equal(r.verdict, STORE_STORED);
		assert_int_equal(r.seq_jump, seqs[i] > 1000000);
		fx_free(&f);
	}
	assert_int_equal(store__nodes(s, node_cb, &ls), 0);
	assert_int_equal(ls.seq, 5); /* the jump did not move it */
	costs(s, COSTS_BY_NAMESPACE, NULL, T0, T0 + 3600, &c);
	assert_int_equal(ns_cost(&c, "batch", 0), 6 * 5000);
	store__costs_free(&c);
	store__close(s);
}

/* A window across an hour: each hour gets its share, and the parts add up exactly. */
static void test_hour_split(void **state)
{
	struct store *s = open_store();
	struct store_costs h1, h2;
	struct store_report r;
	struct fx f;

	(void)state;
	fx_init(&f, "lab", "node-a", 1, T0 + 3600 - 90, T0 + 3600 + 30); /* 3/4, 1/4 */
	fx_pod(&f, "u1", "shop", "web-1", "Deployment", "web", 1001, 4000);
	r = sr_of(&f, T0 + 3700);
	ingest(s, &r, 1);
	costs(s, COSTS_BY_NAMESPACE, NULL, T0, T0 + 3600, &h1);
	costs(s, COSTS_BY_NAMESPACE, NULL, T0 + 3600, T0 + 7200, &h2);
	assert_int_equal(ns_cost(&h1, "shop", 0) + ns_cost(&h2, "shop", 0), 1001);
	assert_true(llabs(ns_cost(&h1, "shop", 0) - 751) <= 1);
	assert_int_equal(ns_cost(&h1, "shop", 1), 3000);
	assert_int_equal(ns_cost(&h2, "shop", 1), 1000);
	store__costs_free(&h1);
	store__costs_free(&h2);
	fx_free(&f);
	store__close(s);
}

static const struct store_cost_row *row(const struct store_costs *c, const char *k0, const char *k1)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->rows[i].key[0], k0) && (!k1 || !strcmp(c->rows[i].key[1], k1)))
			return &c->rows[i];
	fail_msg("no row %s %s", k0, k1 ? k1 : "");
	return NULL;
}

static void test_groupings(void **state)
{
	struct store *s = open_store();
	struct store_report r[2];
	struct store_costs c;
	struct fx a, b;

	(void)state;
	three_pods(&a, 1, T0, T0 + 60);
	node_pods(&b, "node-b", 7, T0, T0 + 60);
	r[0] = sr_of(&a, T0 + 60);
	r[1] = sr_of(&b, T0 + 60);
	ingest(s, r, 2);
	costs(s, COSTS_BY_WORKLOAD, NULL, T0, T0 + 60, &c);
	assert_int_equal(row(&c, "shop", "Deployment")->cost[0], 2 * (1000 + 3000));
	assert_string_equal(row(&c, "shop", "Deployment")->key[2], "web");
	assert_int_equal(row(&c, "batch", "Pod")->cost[1], 2 * 6000);
	assert_string_equal(row(&c, "batch", "Pod")->key[2], "job-x");
	store__costs_free(&c);
	costs(s, COSTS_BY_NODE, NULL, T0, T0 + 60, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(row(&c, "node-b", NULL)->cost[0], 1000 + 3000 + 5000);
	assert_int_equal(row(&c, "node-b", NULL)->idle[1], 800);
	assert_int_equal(row(&c, "node-a", NULL)->waste[0], 500 + 1500 + 2500);
	store__costs_free(&c);
	costs(s, COSTS_BY_POD, NULL, T0, T0 + 60, &c);
	assert_int_equal(row(&c, "shop", "web-2")->cost[1], 2 * 4000);
	store__costs_free(&c);
	costs(s, COSTS_BY_LABEL, "team", T0, T0 + 60, &c);
	assert_int_equal(row(&c, "payments", NULL)->cost[0], 2 * (1000 + 3000));
	assert_int_equal(row(&c, "", NULL)->cost[0], 2 * 5000); /* no team label */
	assert_int_equal(row(&c, STORE_IDLE_NAMESPACE, NULL)->idle[0], 2 * 700);
	assert_int_equal(c.n, 3);
	store__costs_free(&c);
	fx_free(&a);
	fx_free(&b);
	store__close(s);
}

/* ---- merged distributions ---- */

struct sample {
	double x, w;
};

static int cmp_sample(const void *a, const void *b)
{
	double x = ((const struct sample *)a)->x, y = ((const struct sample *)b)->x;

	return x < y ? -1 : x > y;
}

static double exact_quantile(struct sample *s, size_t n, double q)
{
	double total = 0, acc = 0;
	size_t i;

	qsort(s, n, sizeof(*s), cmp_sample);
	for (i = 0; i < n; i++)
		total += s[i].w;
	for (i = 0; i < n; i++) {
		acc += s[i].w;
		if (acc >= q * total * (1 - 1e-12))
			return s[i].x;
	}
	return s[n - 1].x;
}

static double rnd(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return (*st >> 11) * (1.0 / 9007199254740992.0);
}

#define NODES	6
#define WINDOWS 48 /* an hour apart: two days, so decay matters */
#define TICKS	60

/*
 * Six nodes run replicas of one workload, each busier than the last, over
 * two days; their hourly reports arrive in a shuffled order, in batches.
 * The store's merged distribution answers the quantiles of the union of
 * every tick's sample, each weighed by its tick's ms and 2^(-age / 24 h).
 */
static void test_merged_quantiles(void **state)
{
	static struct sample all[NODES * WINDOWS * TICKS];
	static const double qs[] = { 0.5, 0.9, 0.95, 0.99 };
	struct store_report r[NODES * WINDOWS];
	struct fx *f = calloc(NODES * WINDOWS, sizeof(*f));
	size_t order[NODES * WINDOWS], i, j, n = 0, k;
	struct store *s = open_store();
	struct pm_dist d, merged;
	uint64_t st = 99;
	double ref, got, want;
	char node[16], uid[16];

	(void)state;
	for (i = 0; i < NODES * WINDOWS; i++) {
		size_t nd = i % NODES, w = i / NODES;
		double we = T0 + 3600.0 * (w + 1), ms = 1000 + 10 * (double)(i % 7);
		Podmeter__V1__PodReport *p;

		snprintf(node, sizeof(node), "node-%zu", nd);
		snprintf(uid, sizeof(uid), "u%zu", nd);
		fx_init(&f[i], "lab", node, w + 1, we - 60, we);
		p = fx_pod(&f[i], uid, "shop", uid, "Deployment", "web", 1, 1);
		dist__init(&d);
		for (j = 0; j < TICKS; j++) {
			double x = rnd(&st) < 0.1 ? 0
						  : 0.05 * (nd + 1) * exp(rnd(&st) - 0.5) *
							    (1 + 0.5 * sin(w / 4.0));

			assert_int_equal(dist__add(&d, x, ms), 0);
			all[n++] = (struct sample){ x, ms * exp2((we - T0) / STORE_HALF_LIFE_S) };
		}
		fx_container(&f[i], p, "app", &d);
		dist__free(&d);
		order[i] = i;
	}
	for (i = NODES * WINDOWS - 1; i > 0; i--) { /* any order: decay is by window time */
		size_t t = (size_t)(rnd(&st) * (i + 1)), x = order[i];

		order[i] = order[t];
		order[t] = x;
	}
	for (i = 0; i < NODES * WINDOWS; i++)
		r[i] = sr_of(&f[order[i]], f[order[i]].r.window_end);
	for (i = 0; i < NODES * WINDOWS; i += k) {
		k = 1 + (size_t)(rnd(&st) * 40);
		ingest(s, &r[i], i + k > NODES * WINDOWS ? NODES * WINDOWS - i : k);
	}
	assert_int_equal(
		store__cpu_dist(s, "lab", "shop", "Deployment", "web", "app", &merged, &ref), 0);
	for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		assert_int_equal(dist__quantile(&merged, qs[k], &got), 0);
		want = exact_quantile(all, n, qs[k]);
		print_message("p%.0f: merged %.4f, union %.4f cores\n", qs[k] * 100, got, want);
		if (fabs(got - want) > PM_DIST_ALPHA * want * (1 + 1e-9))
			fail_msg("q=%.2f: merged %g, union of the samples %g (more than 2%% off)",
				 qs[k], got, want);
	}
	dist__free(&merged);
	for (i = 0; i < NODES * WINDOWS; i++)
		fx_free(&f[i]);
	free(f);
	store__close(s);
}

/* ---- retention ---- */

static void test_retention(void **state)
{
	struct store *s = open_store();
	struct store_retention ret;
	struct store_compaction st;
	struct store_report r;
	struct store_costs c;
	double now = T0 + 40 * 86400.0;
	char err[512];
	struct fx f;
	int i;

	(void)state;
	store__retention_defaults(&ret);
	for (i = 1; i <= 4; i++) { /* 1..3 forty days old, 4 now */
		double we = i < 4 ? T0 + 60.0 * i : now - 60;

		three_pods(&f, i, we - 60, we);
		r = sr_of(&f, we);
		ingest(s, &r, 1);
		fx_free(&f);
	}
	assert_int_equal(store__compact(s, &ret, now, &st, err, sizeof(err)), 0);
	assert_int_equal(st.pod_windows, 3 * 3);
	assert_int_equal(st.ledger, 3);
	assert_int_equal(st.rollups, 0);
	costs(s, COSTS_BY_POD, NULL, T0 - 3600, now, &c); /* raw windows: only seq 4's */
	assert_int_equal(row(&c, "batch", "job-x")->cost[0], 5000);
	store__costs_free(&c);
	costs(s, COSTS_BY_NAMESPACE, NULL, T0 - 3600, now, &c); /* rollups: all four */
	assert_int_equal(ns_cost(&c, "batch", 0), 4 * 5000);
	store__costs_free(&c);
	/* seq 2 again: its ledger row is gone, the node's floor remembers it */
	three_pods(&f, 2, T0 + 60, T0 + 120);
	r = sr_of(&f, now);
	ingest(s, &r, 1);
	assert_int_equal(r.verdict, STORE_DUPLICATE);
	fx_free(&f);
	costs(s, COSTS_BY_NAMESPACE, NULL, T0 - 3600, now, &c);
	assert_int_equal(ns_cost(&c, "batch", 0), 4 * 5000);
	store__costs_free(&c);
	store__close(s);
}

static void test_schema(void **state)
{
	struct store *s = open_store();

	(void)state;
	assert_int_equal(store__schema_version(s), store__schema_latest());
	store__close(s);
	s = open_store(); /* a second open migrates nothing */
	assert_int_equal(store__schema_version(s), store__schema_latest());
	store__close(s);
}

static int sum_row(void *ctx, const struct db_row *r)
{
	int64_t *v = ctx;

	v[0] = db_row__int(r, 0);
	v[1] = db_row__int(r, 1);
	v[2] = db_row__int(r, 2);
	v[3] = db_row__int(r, 3);
	return 0;
}

/*
 * A store made at schema version 1 (its migration applied by hand, as an
 * older reconciler left it, a report's ledger row in it) is brought to the
 * newest version by opening it: the row is still there, and reports feed
 * version 2's columns (run-queue wait, process starts, read back here by
 * SQL of the test's own).
 */
static void test_migrate_from_v1(void **state)
{
	static const char *const own[] = {
		"SELECT SUM(runqueue_usec), SUM(process_starts), 0, 0 FROM rollups_hourly",
		"SELECT SUM(runqueue_usec), SUM(process_starts), COUNT(*),"
		" (SELECT COUNT(*) FROM ledger) FROM pod_windows",
	};
	const char *const *ddl = store_migrations[0];
	struct db_val v1[2] = { DB_I(1), DB_R(T0) };
	struct db_val row[9] = { DB_T("lab"), DB_T("old-node"), DB_I(7), DB_R(T0 - 60),
				 DB_R(T0),    DB_R(T0),		DB_I(1), DB_I(0) };
	int64_t got[4] = { 0 };
	struct store_report r;
	struct store *s;
	struct db *db;
	char err[512];
	struct fx f;

	(void)state;
	assert_int_equal(store_sql_init(), 0);
	if (db__open(&db, url, store_sql, SQL_N, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(db__begin_write(db), 0);
	assert_int_equal(db__exec(db, store_sql[SQL_MIG_TABLE]), 0);
	for (; *ddl; ddl++)
		assert_int_equal(db__exec(db, *ddl), 0);
	assert_int_equal(db__run(db, SQL_MIG_INSERT, v1, 2, NULL, NULL, NULL), 0);
	assert_int_equal(db__run(db, SQL_LEDGER_INSERT, row, 8, NULL, NULL, NULL), 0);
	assert_int_equal(db__exec(db, "COMMIT"), 0);
	db__close(db);

	s = open_store();
	assert_true(store__schema_latest() >= 2);
	assert_int_equal(store__schema_version(s), store__schema_latest());
	fx_init(&f, "lab", "node-a", 1, T0, T0 + 60);
	fx_pod(&f, "u1", "shop", "web-1", "Deployment", "web", 10, 10)->runqueue_usec = 123456;
	fx_pod(&f, "u2", "shop", "web-2", "Deployment", "web", 10, 10)->process_starts = 7;
	r = sr_of(&f, T0 + 60);
	ingest(s, &r, 1);
	assert_int_equal(r.verdict, STORE_STORED);
	store__close(s);
	fx_free(&f);

	if (db__open(&db, url, own, 2, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(db__run(db, 0, NULL, 0, sum_row, got, NULL), 0);
	assert_int_equal(got[0], 123456);
	assert_int_equal(got[1], 7);
	assert_int_equal(db__run(db, 1, NULL, 0, sum_row, got, NULL), 0);
	assert_int_equal(got[0], 123456);
	assert_int_equal(got[1], 7);
	assert_int_equal(got[2], 2);
	assert_int_equal(got[3], 2); /* the old ledger row and the new one */
	db__close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hour_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_groupings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merged_quantiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
	};
	int fails;

	fails = cmocka_run_group_tests_name("store sqlite", tests, NULL, NULL);
	engine_url = getenv("PM_TEST_PG");
	if (engine_url && *engine_url)
		fails += cmocka_run_group_tests_name("store postgresql", tests, NULL, NULL);
	return fails;
}
