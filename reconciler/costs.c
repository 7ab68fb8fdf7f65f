// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Costs by namespace, workload, node, pod or label: table, JSON or CSV. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "costs.h"

#define ND 1e-9 /* nanodollars to dollars */

static const char *const resources[] = { "cpu", "memory", "gpu", "network" };

struct row_sum {
	const struct store_cost_row *r;
	int64_t cost, waste, idle, total;
};

static const struct {
	const char *name;
	enum store_costs_by by;
	int keys; /* key columns after cluster */
	const char *heads[3];
} groupings[] = {
	{ "namespace", COSTS_BY_NAMESPACE, 1, { "namespace" } },
	{ "workload", COSTS_BY_WORKLOAD, 3, { "namespace", "kind", "name" } },
	{ "node", COSTS_BY_NODE, 1, { "node" } },
	{ "pod", COSTS_BY_POD, 2, { "namespace", "pod" } },
	{ "label", COSTS_BY_LABEL, 1, { "label" } },
};

#define N_GROUPINGS (sizeof(groupings) / sizeof(groupings[0]))

int costs__parse_by(const char *s, struct costs_query *q)
{
	size_t i;

	if (!strncmp(s, "label:", 6)) {
		if (!s[6] || strlen(s + 6) > COSTS_LABEL_MAX)
			return -EINVAL;
		q->by = COSTS_BY_LABEL;
		snprintf(q->label, sizeof(q->label), "%s", s + 6);
		return 0;
	}
	for (i = 0; i < N_GROUPINGS; i++) {
		if (groupings[i].by != COSTS_BY_LABEL && !strcmp(s, groupings[i].name)) {
			q->by = groupings[i].by;
			return 0;
		}
	}
	return -EINVAL;
}

int costs__parse_duration(const char *s, double *seconds)
{
	static const struct {
		const char *unit;
		double s;
	} units[] = { { "", 1 },     { "s", 1 },     { "m", 60 },
		      { "h", 3600 }, { "d", 86400 }, { "w", 7 * 86400 } };
	char *end;
	double v;
	size_t i;

	v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			*seconds = v * units[i].s;
			return *seconds <= 100 * 365 * 86400.0 ? 0 : -EINVAL;
		}
	}
	return -EINVAL;
}

int costs__parse_format(const char *s, enum costs_format *f)
{
	if (!strcmp(s, "table"))
		*f = COSTS_TABLE;
	else if (!strcmp(s, "json"))
		*f = COSTS_JSON;
	else if (!strcmp(s, "csv"))
		*f = COSTS_CSV;
	else
		return -EINVAL;
	return 0;
}

static int grouping(enum store_costs_by by)
{
	size_t i;

	for (i = 0; i < N_GROUPINGS; i++)
		if (groupings[i].by == by)
			return (int)i;
	return 0;
}

static int cmp_total(const void *a, const void *b)
{
	const struct row_sum *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->r->key[0], y->r->key[0]);
}

static struct row_sum *sum_rows(const struct store_costs *c, struct row_sum *all)
{
	struct row_sum *s = calloc(c->n + 1, sizeof(*s));
	size_t i;
	int k;

	if (!s)
		return NULL;
	memset(all, 0, sizeof(*all));
	for (i = 0; i < c->n; i++) {
		s[i].r = &c->rows[i];
		for (k = 0; k < 4; k++)
			s[i].cost += c->rows[i].cost[k];
		for (k = 0; k < 3; k++) {
			s[i].waste += c->rows[i].waste[k];
			s[i].idle += c->rows[i].idle[k];
		}
		s[i].total = s[i].cost + s[i].idle;
		all->cost += s[i].cost;
		all->waste += s[i].waste;
		all->idle += s[i].idle;
		all->total += s[i].total;
	}
	qsort(s, c->n, sizeof(*s), cmp_total);
	return s;
}

static double share(int64_t part, int64_t total)
{
	return total > 0 ? (double)part / (double)total : 0;
}

/* ---- JSON ---- */

static json_t *by_resource(const int64_t *v, int n)
{
	json_t *o = json_object();
	int64_t t = 0;
	int k;

	for (k = 0; k < n; k++) {
		json_object_set_new(o, resources[k], json_real(v[k] * ND));
		t += v[k];
	}
	json_object_set_new(o, "total", json_real(t * ND));
	return o;
}

static json_t *json_row(const struct row_sum *s, int g, int64_t total)
{
	json_t *o = json_object();
	int k;

	json_object_set_new(o, "cluster", json_string(s->r->cluster));
	for (k = 0; k < groupings[g].keys; k++)
		json_object_set_new(o, groupings[g].heads[k], json_string(s->r->key[k]));
	json_object_set_new(o, "cost", by_resource(s->r->cost, 4));
	json_object_set_new(o, "waste", by_resource(s->r->waste, 3));
	json_object_set_new(o, "idle", by_resource(s->r->idle, 3));
	json_object_set_new(o, "total", json_real(s->total * ND));
	json_object_set_new(o, "share", json_real(share(s->total, total)));
	return o;
}

static char *render_json(const struct store_costs *c, const struct row_sum *s,
			 const struct row_sum *all, const struct costs_query *q)
{
	json_t *root = json_object(), *rows = json_array(), *tot = json_object();
	int g = grouping(q->by);
	char *out;
	size_t i;

	for (i = 0; i < c->n; i++)
		json_array_append_new(rows, json_row(&s[i], g, all->total));
	json_object_set_new(root, "by", json_string(groupings[g].name));
	if (q->by == COSTS_BY_LABEL)
		json_object_set_new(root, "label", json_string(q->label));
	json_object_set_new(root, "since", json_real(q->since));
	json_object_set_new(root, "until", json_real(q->until));
	json_object_set_new(root, "rows", rows);
	json_object_set_new(tot, "cost", json_real(all->cost * ND));
	json_object_set_new(tot, "waste", json_real(all->waste * ND));
	json_object_set_new(tot, "idle", json_real(all->idle * ND));
	json_object_set_new(tot, "total", json_real(all->total * ND));
	json_object_set_new(root, "total", tot);
	out = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(12));
	json_decref(root);
	return out;
}

/* ---- table and CSV ---- */

static void put_cell(FILE *f, const char *s, enum costs_format fmt, int width)
{
	if (fmt == COSTS_TABLE) {
		fprintf(f, "%-*s ", width, *s ? s : "-");
		return;
	}
	if (strpbrk(s, ",\"\n")) { /* RFC 4180 */
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputs("\",", f);
	} else {
		fprintf(f, "%s,", s);
	}
}

static void put_money(FILE *f, int64_t nd, enum costs_format fmt, bool last)
{
	if (fmt == COSTS_TABLE)
		fprintf(f, "%12.6f%s", nd * ND, last ? "\n" : " ");
	else
		fprintf(f, "%.9f%s", nd * ND, last ? "\n" : ",");
}

static void text_head(FILE *f, int g, enum costs_format fmt, const char *label)
{
	static const char *const money[] = { "cpu",  "memory", "gpu",  "network",
					     "cost", "waste",  "idle", "total" };
	int k;

	put_cell(f, "cluster", fmt, 12);
	for (k = 0; k < groupings[g].keys; k++)
		put_cell(f, groupings[g].by == COSTS_BY_LABEL ? label : groupings[g].heads[k], fmt,
			 k == groupings[g].keys - 1 ? 32 : 16);
	for (k = 0; k < 8; k++)
		fprintf(f, fmt == COSTS_TABLE ? "%12s " : "%s,", money[k]);
	fprintf(f, fmt == COSTS_TABLE ? "%7s\n" : "%s\n", "share");
}

static void text_row(FILE *f, const struct row_sum *s, int g, enum costs_format fmt, int64_t total)
{
	int k;

	put_cell(f, s->r->cluster, fmt, 12);
	for (k = 0; k < groupings[g].keys; k++)
		put_cell(f, s->r->key[k], fmt, k == groupings[g].keys - 1 ? 32 : 16);
	for (k = 0; k < 4; k++)
		put_money(f, s->r->cost[k], fmt, false);
	put_money(f, s->cost, fmt, false);
	put_money(f, s->waste, fmt, false);
	put_money(f, s->idle, fmt, false);
	put_money(f, s->total, fmt, false);
	fprintf(f, fmt == COSTS_TABLE ? "%6.1f%%\n" : "%.6f\n",
		share(s->total, total) * (fmt == COSTS_TABLE ? 100 : 1));
}

static char *render_text(const struct store_costs *c, const struct row_sum *s,
			 const struct row_sum *all, const struct costs_query *q)
{
	int g = grouping(q->by);
	struct store_cost_row tr = { .cluster = "total" };
	struct row_sum t = *all;
	char *buf = NULL;
	size_t len, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	text_head(f, g, q->format, q->label);
	for (i = 0; i < c->n; i++)
		text_row(f, &s[i], g, q->format, all->total);
	if (q->format == COSTS_TABLE) {
		for (i = 0; i < c->n; i++) {
			int k;

			for (k = 0; k < 4; k++)
				tr.cost[k] += s[i].r->cost[k];
		}
		t.r = &tr;
		text_row(f, &t, g, q->format, all->total);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *costs__query(struct store *s, const struct costs_query *q, char *err, size_t errlen)
{
	struct store_costs c;
	struct row_sum all, *sums;
	char *out;

	if (store__costs(s, q->by, q->label, q->since, q->until, &c, err, errlen))
		return NULL;
	sums = sum_rows(&c, &all);
	if (!sums) {
		store__costs_free(&c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	out = q->format == COSTS_JSON ? render_json(&c, sums, &all, q)
				      : render_text(&c, sums, &all, q);
	if (!out)
		snprintf(err, errlen, "out of memory");
	free(sums);
	store__costs_free(&c);
	return out;
}

/* ---- the subcommand ---- */

static void costs_usage(FILE *f)
{
	fprintf(f,
		"usage: podmeter-reconciler costs --store URL [--by namespace|workload|node|pod|"
		"label:KEY]\n"
		"                                  [--since DUR] [--format table|json|csv]\n\n"
		"What each row cost over the span: by resource, waste (requested, unused), idle\n"
		"(nodes' unallocated capacity, the __idle__ row), and its share of the total.\n"
		"Hourly rollups: the span starts at the hour; --by pod reads the raw pod-windows\n"
		"(kept 7 days).\n\n"
		"  --store URL      sqlite:PATH or postgresql://...\n"
		"  --by GROUP       default namespace\n"
		"  --since DUR      e.g. 1h, 7d (default 24h)\n"
		"  --format F       default table\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int costs_args(int argc, char **argv, const char **store, struct costs_query *q)
{
	double since = 86400;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			costs_usage(stdout);
			return 1;
		}
		if (!v) {
			fprintf(stderr, "costs: %s needs a value; see --help\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--store"))
			*store = v;
		else if (!strcmp(a, "--by") && !costs__parse_by(v, q))
			continue;
		else if (!strcmp(a, "--since") && !costs__parse_duration(v, &since))
			continue;
		else if (!strcmp(a, "--format") && !costs__parse_format(v, &q->format))
			continue;
		else {
			fprintf(stderr, "costs: %s %s: not understood; see --help\n", a, v);
			return -1;
		}
	}
	if (!*store) {
		fprintf(stderr, "costs: --store URL is required\n");
		return -1;
	}
	q->until = now_s();
	q->since = q->until - since;
	return 0;
}

int costs__main(int argc, char **argv)
{
	struct costs_query q = { .by = COSTS_BY_NAMESPACE };
	const char *url = "";
	struct store *s;
	char err[512], *out;
	int ret;

	ret = costs_args(argc, argv, &url, &q);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (store__open(&s, url, err, sizeof(err))) {
		fprintf(stderr, "costs: store: %s\n", err);
		return 1;
	}
	out = costs__query(s, &q, err, sizeof(err));
	store__close(s);
	if (!out) {
		fprintf(stderr, "costs: %s\n", err);
		return 1;
	}
	fputs(out, stdout);
	if (q.format == COSTS_JSON)
		fputc('\n', stdout);
	free(out);
	return 0;
}
