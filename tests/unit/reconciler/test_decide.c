// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Deciding, on synthetic fleets put through the store as agents' reports
 * (tests/unit/reconciler/fleet.h): CPU proposals against p95 ÷ target of
 * the true distribution the generator drew from (within 5%), memory
 * against the peak it emitted, $/month against the prices it priced with,
 * a weekly peak the decayed distribution forgot found by the seasonal
 * model, idle workloads. The truth is the generator's input, never the
 * code's output.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "decide.h"
#include "fleet.h"
#include "store.h"

#define T_END 1790208000.0 /* a whole hour, a Thursday 00:00 UTC */

static char url[512];

static int setup(void **state)
{
	static int n;

	(void)state;
	snprintf(url, sizeof(url), "sqlite:%s/pm_rec_decide.%d.%d.db",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), n++);
	return 0;
}

static int teardown(void **state)
{
	char path[600];

	(void)state;
	unlink(url + 7);
	snprintf(path, sizeof(path), "%s-wal", url + 7);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", url + 7);
	unlink(path);
	return 0;
}

/* @hours of hourly reports from every node, ending at T_END, into a new store. */
static struct store *fill(struct fleet *f, int hours)
{
	struct store *s;
	char err[512];
	int h, n;

	if (store__open(&s, url, err, sizeof(err)))
		fail_msg("store: %s", err);
	for (h = 0; h < hours; h++) {
		struct fx x[16];
		struct store_report r[16];

		for (n = 0; n < f->nodes; n++) {
			fleet_report(f, &x[n], n, (uint64_t)h + 1, T_END - (hours - h) * 3600.0);
			r[n] = (struct store_report){ .rep = &x[n].r,
						      .received_at = T_END -
								     (hours - h - 1) * 3600.0,
						      .bytes = 100 };
		}
		if (store__ingest(s, r, (size_t)f->nodes, err, sizeof(err)))
			fail_msg("ingest: %s", err);
		for (n = 0; n < f->nodes; n++)
			fx_free(&x[n]);
	}
	return s;
}

struct found {
	struct gs_container c[16];
	int n;
};

static int collect(void *ctx, const struct gs_container *c)
{
	struct found *f = ctx;

	if (f->n < 16)
		f->c[f->n++] = *c;
	return 0;
}

static const struct gs_container *container_of(struct found *fd, const char *name)
{
	int i;

	for (i = 0; i < fd->n; i++)
		if (!strcmp(fd->c[i].wl.name, name))
			return &fd->c[i];
	fail_msg("no container for %s", name);
	return NULL;
}

static void test_accuracy(void **state)
{
	struct fleet_wl wl[] = {
		{ "shop", "Deployment", "web", "app", 6, FLEET_LOGNORMAL, 0.3, 0.4, FLEET_FLAT, 1,
		  700 * FLEET_MIB, 2, 2048 * FLEET_MIB, -1, -1, 0, 0, 0, 0 },
		{ "shop", "Deployment", "batch", "worker", 4, FLEET_UNIFORM, 0.5, 1.5, FLEET_FLAT,
		  1, 1500 * FLEET_MIB, 2, 4096 * FLEET_MIB, -1, -1, 0, 0, 0, 0 },
		{ "data", "StatefulSet", "etl", "main", 3, FLEET_GAMMA, 2, 0.15, FLEET_FLAT, 1,
		  3000 * FLEET_MIB, 1, 4096 * FLEET_MIB, -1, -1, 0, 0, 0, 0 },
		{ "data", "Deployment", "api", "api", 5, FLEET_MIXTURE, 0.1, 0.8, FLEET_FLAT, 1,
		  400 * FLEET_MIB, 1.5, 1024 * FLEET_MIB, -1, -1, 0, 0, 0, 0 },
	};
	struct fleet f = { .wl = wl,
			   .n_wl = 4,
			   .nodes = 4,
			   .cluster = "lab",
			   .cpu_price = 0.031,
			   .mem_price = 0.0042,
			   .rng = 7 };
	struct store *s = fill(&f, 72);
	struct pol_settings st;
	struct found fd = { .n = 0 };
	int i;

	(void)state;
	policy__builtin(&st);
	assert_int_equal(gstore__containers(s, 0, collect, &fd), 0);
	assert_int_equal(fd.n, 4);
	for (i = 0; i < 4; i++) {
		const struct fleet_wl *w = &wl[i];
		double truth = fleet_true_quantile(w, 0.95, 99 + (uint64_t)i) / st.cpu_target;
		double mem_truth = ceil(w->emitted_peak * st.mem_headroom / FLEET_MIB) * FLEET_MIB;
		double d_cpu, d_mem, want_nd;
		struct rec r;

		assert_int_equal(decide__container(s, container_of(&fd, w->name), &st, T_END, &r),
				 0);
		printf("accuracy %-6s %-9s proposed %.4f cores, true p95/0.7 %.4f (%+.2f%%); memory "
		       "%.0f MiB, peak x 1.2 %.0f MiB; %.2f replicas of %d\n",
		       w->name,
		       w->dist == FLEET_LOGNORMAL ? "lognormal"
		       : w->dist == FLEET_UNIFORM ? "uniform"
		       : w->dist == FLEET_GAMMA	  ? "gamma"
						  : "mixture",
		       r.cpu_want, truth, (r.cpu_want / truth - 1) * 100, r.mem_want / FLEET_MIB,
		       mem_truth / FLEET_MIB, r.replicas, w->replicas);
		assert_true(fabs(r.cpu_want / truth - 1) <= 0.05);
		assert_true(fabs(r.mem_want - mem_truth) < 1);
		assert_true(fabs(r.replicas - w->replicas) < 1e-6);
		assert_true(fabs(r.cur_cpu - w->req_cpu) < 1e-9 &&
			    fabs(r.cur_mem - w->req_mem) < 1);
		/* $/month at the generator's prices, worked out here */
		d_cpu = r.cpu_want - w->req_cpu;
		d_mem = r.mem_want - w->req_mem;
		want_nd = (d_cpu * f.cpu_price + d_mem / (1 << 30) * f.mem_price) * w->replicas *
			  730 * 1e9;
		printf("savings  %-6s %+.2f $/month, from the prices %+.2f\n", w->name,
		       -decide__monthly(d_cpu, d_mem, r.replicas, r.cpu_price, r.mem_price) / 1e9,
		       -want_nd / 1e9);
		assert_true(fabs(r.cpu_price - f.cpu_price) < 1e-12);
		assert_true(fabs(r.mem_price - f.mem_price) < 1e-12);
		assert_true(
			llabs(decide__monthly(d_cpu, d_mem, r.replicas, r.cpu_price, r.mem_price) -
			      llround(want_nd)) <= 2);
		assert_int_equal(r.season.period, 0); /* flat: no season */
	}
	store__close(s);
}

/* A Monday peak (8 hours a week, under 5% of the time) the 24 h decay has forgotten by Thursday. */
static void test_weekly_peak(void **state)
{
	struct fleet_wl wl[] = {
		{ "shop", "Deployment", "report", "app", 2, FLEET_UNIFORM, 0.2, 0.4, FLEET_WEEKLY,
		  5, 300 * FLEET_MIB, 1, 1024 * FLEET_MIB, -1, -1, 0, 0, 0, 0 },
	};
	struct fleet f = { .wl = wl,
			   .n_wl = 1,
			   .nodes = 2,
			   .cluster = "lab",
			   .cpu_price = 0.03,
			   .mem_price = 0.004,
			   .rng = 11 };
	struct store *s = fill(&f, 21 * 24);
	struct pol_settings st;
	struct found fd = { .n = 0 };
	double peak_mean = 0.3 * 5; /* the peak hours' mean: uniform(0.2, 0.4) x 5 */
	struct rec r;
	time_t t;
	struct tm tm;

	(void)state;
	policy__builtin(&st);
	assert_int_equal(gstore__containers(s, 0, collect, &fd), 0);
	assert_int_equal(decide__container(s, &fd.c[0], &st, T_END, &r), 0);
	t = (time_t)r.season.peak_at;
	gmtime_r(&t, &tm);
	printf("weekly: p95 %.3f cores (decayed), season %d h strength %.2f, forecast peak %.3f "
	       "cores (true %.3f) on day %d at %02d:00, proposed %.3f\n",
	       r.q_cores, r.season.period, r.season.strength, r.season.peak, peak_mean, tm.tm_wday,
	       tm.tm_hour, r.cpu_want);
	assert_true(r.q_cores < 0.5); /* the distribution alone misses it */
	assert_int_equal(r.season.period, 168);
	assert_true(fabs(r.season.peak / peak_mean - 1) < 0.05);
	assert_int_equal(tm.tm_wday, 1);
	assert_true(tm.tm_hour >= 9 && tm.tm_hour < 17);
	assert_true(fabs(r.cpu_want - decide__round_cpu(r.season.peak / st.cpu_target)) < 1e-9);
	store__close(s);
}

static void test_idle(void **state)
{
	struct fleet_wl wl[] = {
		{ "shop", "Deployment", "old", "app", 1, FLEET_CONST, 0.0005, 0, FLEET_FLAT, 1,
		  40 * FLEET_MIB, 0.5, 256 * FLEET_MIB, -1, -1, 0, 0, 0, 0 },
		{ "shop", "Deployment", "busy", "app", 1, FLEET_CONST, 0.05, 0, FLEET_FLAT, 1,
		  40 * FLEET_MIB, 0.5, 256 * FLEET_MIB, -1, -1, 0, 0, 0, 0 },
	};
	struct fleet f = { .wl = wl,
			   .n_wl = 2,
			   .nodes = 1,
			   .cluster = "lab",
			   .cpu_price = 0.03,
			   .mem_price = 0.004,
			   .rng = 5 };
	struct store *s = fill(&f, 4 * 24);
	struct pol_settings st;
	struct found fd = { .n = 0 };
	struct rec r;

	(void)state;
	policy__builtin(&st);
	st.idle_days = 3;
	assert_int_equal(gstore__containers(s, 0, collect, &fd), 0);
	assert_int_equal(decide__container(s, container_of(&fd, "old"), &st, T_END, &r), 0);
	assert_true(r.idle);
	assert_true(r.idle_max_cores < st.idle_max_cores);
	assert_int_equal(decide__container(s, container_of(&fd, "busy"), &st, T_END, &r), 0);
	assert_false(r.idle);
	st.idle_days = 7; /* not observed that long */
	assert_int_equal(decide__container(s, container_of(&fd, "old"), &st, T_END, &r), 0);
	assert_false(r.idle);
	store__close(s);
}

/* The seasonal model on its own: a daily sine is found, noise is not. */
static void test_season_model(void **state)
{
	double y[24 * 14];
	bool have[24 * 14];
	struct fleet f = { .rng = 3 };
	struct season s;
	int64_t first = 1790000000 / 3600 * 3600;
	size_t i;

	(void)state;
	for (i = 0; i < 24 * 14; i++) {
		int h = (int)((first / 3600 + (int64_t)i) % 24);

		y[i] = 1 + 0.5 * sin(2 * M_PI * h / 24) + 0.05 * fleet_normal(&f);
		have[i] = i % 17 != 0; /* a few hours missing */
	}
	assert_int_equal(decide__season(y, have, 24 * 14, first, 24, first + 24 * 14 * 3600.0, &s),
			 0);
	assert_true(s.strength > 0.9);
	assert_true(fabs(s.peak - 1.5) < 0.05);
	for (i = 0; i < 24 * 14; i++)
		y[i] = 1 + 0.2 * fleet_normal(&f);
	assert_int_equal(decide__season(y, have, 24 * 14, first, 24, first + 24 * 14 * 3600.0, &s),
			 0);
	assert_true(s.strength < 0.2);
	assert_int_equal(decide__season(y, have, 30, first, 24, first + 30 * 3600.0, &s), -ENODATA);
}

static void test_format(void **state)
{
	char b[32];

	(void)state;
	decide__fmt_cpu(0.35, b, sizeof(b));
	assert_string_equal(b, "350m");
	decide__fmt_cpu(2, b, sizeof(b));
	assert_string_equal(b, "2");
	decide__fmt_mem(410 * FLEET_MIB, b, sizeof(b));
	assert_string_equal(b, "410Mi");
	decide__fmt_mem(2048 * FLEET_MIB, b, sizeof(b));
	assert_string_equal(b, "2Gi");
	assert_true(decide__round_cpu(0.4681) == 0.469);
	assert_true(decide__round_mem(1.5 * FLEET_MIB) == 2 * FLEET_MIB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accuracy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_weekly_peak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
		cmocka_unit_test(test_season_model),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests_name("decide", tests, NULL, NULL);
}
