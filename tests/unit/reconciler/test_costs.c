// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Costs as people read them (reconciler/costs.c): the arguments, and the
 * JSON, CSV and table renderings of a store holding two reports, against
 * the amounts put into the reports: each row's cost by resource, waste,
 * idle, total and share, the shares adding up to 1.
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
#include <jansson.h>
#include "costs.h"
#include "fixture.h"

#define T0 1789999200.0

static char path[128];

static void test_args(void **state)
{
	struct costs_query q = { 0 };
	enum costs_format f;
	double s;

	(void)state;
	assert_int_equal(costs__parse_by("workload", &q), 0);
	assert_int_equal(q.by, COSTS_BY_WORKLOAD);
	assert_int_equal(costs__parse_by("label:app.kubernetes.io/name", &q), 0);
	assert_int_equal(q.by, COSTS_BY_LABEL);
	assert_string_equal(q.label, "app.kubernetes.io/name");
	assert_int_equal(costs__parse_by("label:", &q), -EINVAL);
	assert_int_equal(costs__parse_by("team", &q), -EINVAL);
	assert_int_equal(costs__parse_duration("7d", &s), 0);
	assert_true(s == 7 * 86400);
	assert_int_equal(costs__parse_duration("90m", &s), 0);
	assert_true(s == 5400);
	assert_int_equal(costs__parse_duration("1.5h", &s), 0);
	assert_true(s == 5400);
	assert_int_equal(costs__parse_duration("-1h", &s), -EINVAL);
	assert_int_equal(costs__parse_duration("1y", &s), -EINVAL);
	assert_int_equal(costs__parse_format("csv", &f), 0);
	assert_int_equal(f, COSTS_CSV);
	assert_int_equal(costs__parse_format("xml", &f), -EINVAL);
}

static struct store *filled(void)
{
	struct store_report r[2];
	struct store *s;
	struct fx a, b;
	char err[256];

	snprintf(path, sizeof(path), "sqlite:/tmp/pm_rec_costs.%d.db", (int)getpid());
	if (store__open(&s, path, err, sizeof(err)))
		fail_msg("%s", err);
	fx_init(&a, "lab", "node-a", 1, T0, T0 + 60);
	fx_pod(&a, "u1", "shop", "web-1", "Deployment", "web", 3000000000, 1000000000);
	fx_pod(&a, "u2", "batch", "job-1", "Job", "job", 1000000000, 0);
	fx_idle(&a, 2000000000, 0, 0);
	fx_init(&b, "lab", "node-b", 1, T0, T0 + 60);
	fx_pod(&b, "u3", "shop", "web-2", "Deployment", "web", 3000000000, 0);
	r[0] = (struct store_report){ .rep = &a.r, .received_at = T0 + 60 };
	r[1] = (struct store_report){ .rep = &b.r, .received_at = T0 + 60 };
	if (store__ingest(s, r, 2, err, sizeof(err)))
		fail_msg("%s", err);
	fx_free(&a);
	fx_free(&b);
	return s;
}

static void drop(struct store *s)
{
	char p[160];

	store__close(s);
	unlink(path + 7);
	snprintf(p, sizeof(p), "%s-wal", path + 7);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path + 7);
	unlink(p);
}

static json_t *row_of(json_t *rows, const char *ns)
{
	size_t i;
	json_t *r;

	json_array_foreach(rows, i,
			   r) if (!strcmp(json_string_value(json_object_get(r, "namespace")),
					  ns)) return r;
	fail_msg("no row %s", ns);
	return NULL;
}

static double num(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	return json_real_value(b ? json_object_get(v, b) : v);
}

/* shop: 7 $ cost (6 CPU, 1 memory), waste half of it; batch 1 $; idle 2 $: 10 $ in all. */
static void test_json(void **state)
{
	struct costs_query q = {
		.by = COSTS_BY_NAMESPACE, .since = T0, .until = T0 + 60, .format = COSTS_JSON
	};
	struct store *s = filled();
	json_t *root, *rows, *shop;
	double shares = 0;
	char err[256], *out;
	size_t i;

	(void)state;
	out = costs__query(s, &q, err, sizeof(err));
	assert_non_null(out);
	root = json_loads(out, 0, NULL);
	assert_non_null(root);
	rows = json_object_get(root, "rows");
	assert_int_equal(json_array_size(rows), 3);
	shop = row_of(rows, "shop");
	assert_true(fabs(num(shop, "cost", "cpu") - 6) < 1e-9);
	assert_true(fabs(num(shop, "cost", "memory") - 1) < 1e-9);
	assert_true(fabs(num(shop, "cost", "total") - 7) < 1e-9);
	assert_true(fabs(num(shop, "waste", "total") - 3.5) < 1e-9);
	assert_true(fabs(num(shop, "share", NULL) - 0.7) < 1e-9);
	assert_true(fabs(num(row_of(rows, "__idle__"), "idle", "cpu") - 2) < 1e-9);
	assert_true(fabs(num(row_of(rows, "__idle__"), "share", NULL) - 0.2) < 1e-9);
	/* sorted by total, shares add up */
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(rows, 0), "namespace")), "shop");
	for (i = 0; i < 3; i++)
		shares += num(json_array_get(rows, i), "share", NULL);
	assert_true(fabs(shares - 1) < 1e-9);
	assert_true(fabs(num(root, "total", "total") - 10) < 1e-9);
	json_decref(root);
	free(out);
	drop(s);
}

static void test_csv_and_table(void **state)
{
	struct costs_query q = {
		.by = COSTS_BY_NODE, .since = T0, .until = T0 + 60, .format = COSTS_CSV
	};
	struct store *s = filled();
	char err[256], *out, *line;

	(void)state;
	out = costs__query(s, &q, err, sizeof(err));
	assert_non_null(out);
	print_message("%s", out);
	assert_non_null(
		strstr(out, "cluster,node,cpu,memory,gpu,network,cost,waste,idle,total,share\n"));
	line = strstr(out, "lab,node-a,");
	assert_non_null(line);
	/* 4 $ CPU, 1 $ memory, 0, 0; cost 5, waste 2.5, idle 2, total 7, share 0.7 */
	assert_non_null(strstr(line, "4.000000000,1.000000000,0.000000000,0.000000000,5.000000000,"
				     "2.500000000,2.000000000,7.000000000,0.700000\n"));
	free(out);
	q.format = COSTS_TABLE;
	out = costs__query(s, &q, err, sizeof(err));
	assert_non_null(out);
	print_message("%s", out);
	assert_non_null(strstr(out, "70.0%"));
	assert_non_null(strstr(out, "total"));
	free(out);
	drop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_csv_and_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
