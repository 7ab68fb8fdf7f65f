// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What a pull request says (title, table, guardrails, the JSON document) and the dashboard. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "cycle.h"
#include "yamlt.h"

#define REPORT_BODY_MAX 60000 /* bytes: under GitHub's 65,536 characters */
#define REPORT_ROWS_CUT 150

#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

static bool is_cpu(const struct gs_item *it)
{
	return !strncmp(it->resource, "cpu", 3);
}

static void value_text(const struct gs_item *it, double v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, strcmp(it->resource, "replicas") ? "unset" : "?");
	else if (!strcmp(it->resource, "replicas"))
		snprintf(buf, len, "%.0f", v);
	else if (is_cpu(it))
		decide__fmt_cpu(v, buf, len);
	else
		decide__fmt_mem(v, buf, len);
}

static const char *res_label(const char *r)
{
	return !strcmp(r, "cpu")	    ? "CPU request"
	       : !strcmp(r, "memory")	    ? "memory request"
	       : !strcmp(r, "cpu_limit")    ? "CPU limit"
	       : !strcmp(r, "memory_limit") ? "memory limit"
					    : "replicas";
}

/* Dollars a month this item adds (negative: saves); limits cost nothing in OpenCost's terms. */
static double item_dollars(const struct group *g, size_t i)
{
	const struct gs_item *it = &g->items[i];
	const struct rec *r = g->recs ? g->recs[i] : NULL;
	double d = it->proposed - fmax(it->current, 0);

	if (!r || it->proposed < 0)
		return 0;
	if (!strcmp(it->resource, "cpu"))
		return decide__monthly(d, 0, r->replicas, r->cpu_price, r->mem_price) / 1e9;
	if (!strcmp(it->resource, "memory"))
		return decide__monthly(0, d, r->replicas, r->cpu_price, r->mem_price) / 1e9;
	return 0;
}

void report__hash(const struct group *g, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char line[1400];
	size_t i;
	const char *s;

	for (i = 0; i < g->n; i++) {
		const struct gs_item *it = &g->items[i];

		snprintf(line, sizeof(line), "%s/%s/%s/%s/%s/%s=%.6g;", it->wl.cluster, it->wl.ns,
			 it->wl.kind, it->wl.name, it->container, it->resource, it->proposed);
		for (s = line; *s; s++)
			h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	}
	for (s = g->kind; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h = (h ^ (unsigned char)g->needs_budget) * 0x100000001b3ULL;
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

char *report__title(const struct group *g, int64_t reverts_number)
{
	char *t = malloc(512);
	double dollars = -g->savings_nd / 1e9;

	(void)reverts_number;
	if (!t)
		return NULL;
	if (!strcmp(g->kind, "revert"))
		snprintf(t, 512, "podmeter: revert %s, which made %s worse", g->reverts, g->ns);
	else if (!strcmp(g->kind, "idle"))
		snprintf(t, 512,
			 "podmeter: scale %zu idle workload%s in %s to zero ($%.2f a month)", g->n,
			 g->n == 1 ? "" : "s", g->ns, -dollars);
	else
		snprintf(t, 512, "podmeter: %s %zu value%s in %s (%s$%.2f a month)",
			 g->urgent ? "raise" : "right-size", g->n, g->n == 1 ? "" : "s", g->ns,
			 dollars <= 0 ? "saves " : "costs ", fabs(dollars));
	return t;
}

static json_t *evidence(const struct rec *r)
{
	json_t *e = json_pack(
		"{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:f, s:f, s:f}",
		"quantile", r->quantile, "quantileCores", r->q_cores, "p50Cores", r->p50,
		"p99Cores", r->p99, "maxCores", r->max_cores, "daysObserved", r->days, "confidence",
		r->confidence, "replicas", r->replicas, "memoryPeakBytes", r->mem_peak,
		"memoryDays", r->mem_days, "oomKills", (json_int_t)r->ooms, "throttledRatio",
		r->throttle_ratio, "cpuDollarsPerCoreHour", r->cpu_price, "memoryDollarsPerGiBHour",
		r->mem_price);

	if (e && r->season.period)
		json_object_set_new(e, "season",
				    json_pack("{s:s, s:f, s:f, s:f}", "period",
					      r->season.period == 24 ? "daily" : "weekly",
					      "strength", r->season.strength, "forecastPeakCores",
					      r->season.peak, "forecastPeakAt", r->season.peak_at));
	if (e)
		json_object_set_new(e, "sizedForCores", json_real(r->cpu_basis));
	return e;
}

static json_t *guardrails(const struct guard_out *o, const struct gs_item *it)
{
	json_t *a = json_array();
	const char *res = !strncmp(it->resource, "cpu", 3) ? "cpu" : "memory";
	size_t i;

	for (i = 0; a && o && i < o->n; i++) {
		const struct gs_verdict *v = &o->v[i];

		if (strcmp(v->resource, "*") && strcmp(v->resource, res))
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "rule", v->rule, "outcome",
						   v->outcome, "detail", v->detail));
	}
	return a;
}

char *report__doc(const struct group *g, const char *id, const char *hash)
{
	json_t *doc, *items = json_array(), *labels = json_array();
	double total = 0;
	char cur[32], prop[32], *s;
	size_t i;

	for (i = 0; items && i < g->n; i++) {
		const struct gs_item *it = &g->items[i];
		json_t *o;

		value_text(it, it->current, cur, sizeof(cur));
		value_text(it, it->proposed, prop, sizeof(prop));
		if (it->proposed < 0)
			snprintf(prop, sizeof(prop), "unset");
		o = json_pack("{s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:f, s:f, s:f}",
			      "workload", "cluster", it->wl.cluster, "namespace", it->wl.ns, "kind",
			      it->wl.kind, "name", it->wl.name, "container", it->container,
			      "resource", it->resource, "current", cur, "proposed", prop,
			      "currentValue", it->current, "proposedValue", it->proposed,
			      "costDeltaDollarsPerMonth", item_dollars(g, i));
		total += item_dollars(g, i);
		if (o && g->recs && g->recs[i])
			json_object_set_new(o, "evidence", evidence(g->recs[i]));
		if (o && g->outs && g->outs[i])
			json_object_set_new(o, "guardrails", guardrails(g->outs[i], it));
		json_array_append_new(items, o);
	}
	json_array_append_new(labels, json_string("podmeter"));
	if (g->needs_budget)
		json_array_append_new(labels, json_string("podmeter/needs-budget-approval"));
	if (!strcmp(g->kind, "idle"))
		json_array_append_new(labels, json_string("podmeter/scale-to-zero"));
	if (!strcmp(g->kind, "revert"))
		json_array_append_new(labels, json_string("podmeter/revert"));
	if (!strcmp(g->kind, "idle") || !strcmp(g->kind, "revert"))
		total = -g->savings_nd / 1e9;
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:b, s:f, s:o}",
			"apiVersion", "podmeter.io/v1", "kind", "Proposal", "id", id, "group",
			g->name, "type", g->kind, "cluster", g->cluster, "namespace", g->ns,
			"contentHash", hash, "labels", labels, "autoMerge",
			g->auto_merge && !g->needs_budget && !strcmp(g->kind, "resize"),
			"needsBudgetApproval", g->needs_budget, "urgent", g->urgent,
			"costDeltaDollarsPerMonth", total, "items", items);
	if (doc && g->reverts[0]) {
		json_object_set_new(doc, "reverts", json_string(g->reverts));
		json_object_set_new(doc, "evidence", json_string(g->evidence));
	}
	s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	return s;
}

static void row_evidence(struct yt_buf *b, const struct group *g, size_t i)
{
	const struct gs_item *it = &g->items[i];
	const struct rec *r = g->recs ? g->recs[i] : NULL;

	if (!r) {
		yt_buf__printf(b, "%s",
			       !strcmp(g->kind, "idle")	    ? "idle for the policy's days"
			       : !strcmp(g->kind, "revert") ? "the merged value hurt"
							    : "");
		return;
	}
	if (!strcmp(it->resource, "cpu"))
		yt_buf__printf(b, "p%.0f %.3f cores%s ÷ %.2f; %.1f days, confidence %.0f%%",
			       r->quantile * 100, r->q_cores,
			       r->season.period && r->cpu_basis > r->q_cores ? " (forecast peak)"
									     : "",
			       r->cpu_target, r->days, r->confidence * 100);
	else if (!strcmp(it->resource, "memory"))
		yt_buf__printf(b, "peak %.0f MiB over %.0f days × headroom; %lld OOM kills",
			       r->mem_peak / 1048576.0, r->mem_days, (long long)r->ooms);
	else
		yt_buf__printf(b, "by the limit policy");
}

static void table(struct yt_buf *b, const struct group *g)
{
	char cur[32], prop[32];
	size_t i;

	yt_buf__printf(b, "| Workload | Container | Value | Current → Proposed | Evidence | "
			  "$/month |\n|---|---|---|---|---|---:|\n");
	for (i = 0; i < g->n; i++) {
		const struct gs_item *it = &g->items[i];
		double d = item_dollars(g, i);

		value_text(it, it->current, cur, sizeof(cur));
		value_text(it, it->proposed, prop, sizeof(prop));
		yt_buf__printf(b, "| %s/%s/%s | %s | %s | %s → **%s** | ", it->wl.ns, it->wl.kind,
			       it->wl.name, it->container[0] ? it->container : "—",
			       res_label(it->resource), cur, prop);
		row_evidence(b, g, i);
		if (d != 0)
			yt_buf__printf(b, " | %s$%.2f |\n", d < 0 ? "−" : "+", fabs(d));
		else
			yt_buf__printf(b, " | |\n");
	}
}

static void forecasts(struct yt_buf *b, const struct group *g)
{
	bool any = false;
	size_t i;

	for (i = 0; g->recs && i < g->n; i++) {
		const struct rec *r = g->recs[i];
		time_t t;
		struct tm tm;
		char when[64];

		if (!r || !r->season.period || strcmp(g->items[i].resource, "cpu"))
			continue;
		if (!any)
			yt_buf__printf(
				b, "\n**Forecast** (a seasonal model over the hourly rollups):\n");
		any = true;
		t = (time_t)r->season.peak_at;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%a %H:00 UTC", &tm);
		yt_buf__printf(b,
			       "- %s/%s `%s`: %s season (strength %.2f), the coming %s peaks at "
			       "%.3f cores a replica, %s; sized for %.3f cores\n",
			       r->wl.kind, r->wl.name, r->container,
			       r->season.period == 24 ? "daily" : "weekly", r->season.strength,
			       r->season.period == 24 ? "day" : "week", r->season.peak, when,
			       r->cpu_basis);
	}
}

static void passed(struct yt_buf *b, const struct group *g)
{
	size_t i, k;

	if (!g->outs)
		return;
	yt_buf__printf(b, "\n**Guardrails passed** (`.podmeter/policy.yaml`):\n");
	for (i = 0; i < g->n; i++) {
		const struct guard_out *o = g->outs[i];

		if (!o || (i && g->outs[i - 1] == o))
			continue;
		yt_buf__printf(b, "- %s/%s `%s`:", g->items[i].wl.kind, g->items[i].wl.name,
			       g->items[i].container);
		for (k = 0; k < o->n; k++) {
			const struct gs_verdict *v = &o->v[k];

			if (!strcmp(v->rule, "evidence") || !strcmp(v->outcome, "block"))
				continue;
			yt_buf__printf(b, " %s%s%s%s (%s)%s", v->rule,
				       strcmp(v->resource, "*") ? "/" : "",
				       strcmp(v->resource, "*") ? v->resource : "",
				       !strcmp(v->outcome, "pass")     ? " ✓"
				       : !strcmp(v->outcome, "adjust") ? " adjusted"
								       : " labelled",
				       v->detail, k + 1 < o->n ? ";" : "");
		}
		yt_buf__printf(b, "\n");
	}
}

/*
 * The body at @level of detail: 0 everything; 1 without the embedded
 * document (it is committed in the branch); 2 without the guardrails' list;
 * 3 with the table cut to its first rows.
 */
static char *body_at(const struct group *g, const char *id, const char *hash, const char *doc,
		     int level)
{
	struct yt_buf b = { 0 };
	struct group cut = *g;

	yt_buf__printf(&b, "<!-- podmeter-proposal group=%s id=%s hash=%s -->\n", g->name, id,
		       hash);
	if (!strcmp(g->kind, "revert"))
		yt_buf__printf(
			&b,
			"podmeter-reconciler merged %s, then saw it make things worse "
			"(OOM kills, CPU throttling or run-queue wait past the policy's "
			"verify thresholds). This puts the values back.\n\n**Evidence** (the "
			"hours after it applied against the day before it merged): %s\n\n",
			g->reverts,
			g->evidence[0] ? g->evidence : "see podmeter-reconciler explain");
	else if (!strcmp(g->kind, "idle"))
		yt_buf__printf(
			&b, "These workloads have been idle for the policy's days. podmeter "
			    "proposes scaling them to zero; **never merged automatically**.\n\n");
	else
		yt_buf__printf(
			&b,
			"podmeter-reconciler proposes these requests from what its agents "
			"measured on every node of cluster `%s`: CPU from the merged "
			"distribution (quantile ÷ target utilisation, or the forecast peak), "
			"memory from the peak working set × headroom.\n\n",
			g->cluster);
	if (level >= 3 && cut.n > REPORT_ROWS_CUT)
		cut.n = REPORT_ROWS_CUT;
	table(&b, &cut);
	if (cut.n < g->n)
		yt_buf__printf(&b, "| … %zu more: see `.podmeter/proposals/%s.json` | | | | | |\n",
			       g->n - cut.n, g->name);
	yt_buf__printf(&b, "\n%s: **%s$%.2f a month** at the prices the agents used.\n",
		       g->savings_nd >= 0 ? "Saves" : "Costs", "", fabs(g->savings_nd / 1e9));
	forecasts(&b, &cut);
	if (level < 2)
		passed(&b, g);
	else
		yt_buf__printf(&b,
			       "\nEvery guardrail verdict is in `.podmeter/proposals/%s.json` "
			       "and `podmeter-reconciler explain`.\n",
			       g->name);
	if (g->needs_budget)
		yt_buf__printf(&b,
			       "\n:warning: Takes namespace `%s` over its monthly budget: "
			       "labelled `podmeter/needs-budget-approval`, never merged "
			       "automatically.\n",
			       g->ns);
	yt_buf__printf(&b, "\nThe files changed are podmeter's own (regenerated from the base "
			   "branch at each cycle). Close this pull request to reject it: podmeter "
			   "remembers, and asks again only when the value moves or time passes.\n");
	if (level < 1)
		yt_buf__printf(&b,
			       "\n<details><summary>Proposal document (<code>.podmeter/"
			       "proposals/%s.json</code>)</summary>\n\n```json\n%s\n```\n"
			       "</details>\n",
			       g->name, doc ? doc : "{}");
	if (b.err) {
		yt_buf__free(&b);
		return NULL;
	}
	return b.s;
}

char *report__body(const struct group *g, const char *id, const char *hash, const char *doc)
{
	char *s = NULL;
	int level;

	/* forges refuse long bodies (GitHub: 65,536 characters) */
	for (level = 0; level <= 3; level++) {
		free(s);
		s = body_at(g, id, hash, doc, level);
		if (!s || strlen(s) <= REPORT_BODY_MAX)
			break;
	}
	return s;
}

/* ---- the dashboard ---- */

struct dash {
	struct store *s;
	struct yt_buf *b;
	const char *cluster, *kinds; /* "zombie" or "orphan" */
	double now, total;
	int rows;
};

static int dash_finding(void *ctx, const struct gs_finding *f)
{
	struct dash *d = ctx;
	bool orphan = strstr(f->kind, "orphan") != NULL;
	int64_t nd = 0, until = (int64_t)floor(d->now / 3600) * 3600;
	char when[32];
	struct gs_wl w;
	struct tm tm;
	time_t t = (time_t)f->since;
	double month;

	if (strncmp(f->kind, "zombie", 6) || orphan != !strcmp(d->kinds, "orphan"))
		return 0;
	memset(&w, 0, sizeof(w));
	snprintf(w.cluster, sizeof(w.cluster), "%s", d->cluster);
	snprintf(w.ns, sizeof(w.ns), "%s", f->ns);
	snprintf(w.kind, sizeof(w.kind), "%s", f->owner_kind[0] ? f->owner_kind : "Pod");
	snprintf(w.name, sizeof(w.name), "%s", f->owner_name[0] ? f->owner_name : f->pod);
	gstore__cost(d->s, &w, until - 7 * 86400, until, &nd);
	month = nd / 1e9 * DEC_HOURS_PER_MONTH / (7 * 24);
	d->total += month;
	if (!d->rows++)
		yt_buf__printf(d->b,
			       "| Kind | Namespace | Pod | Workload | Node | Since | $/month | "
			       "Detail |\n|---|---|---|---|---|---|---:|---|\n");
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	yt_buf__printf(d->b, "| %s | %s | %s | %s/%s | %s | %s | $%.0f | %s |\n", f->kind, f->ns,
		       f->pod, w.kind, w.name, f->node, when, month, f->detail);
	return 0;
}

char *report__dashboard(struct store *s, const char *cluster, const struct dash_idle *idle,
			size_t n_idle, double now)
{
	struct yt_buf b = { 0 };
	struct dash d = { .s = s, .b = &b, .cluster = cluster, .now = now };
	double total = 0;
	size_t i;

	yt_buf__printf(&b,
		       "<!-- podmeter-dashboard cluster=%s -->\n"
		       "podmeter-reconciler keeps this issue up to date (cluster `%s`): workloads "
		       "idle for the policy's days, zombie and orphan findings from the agents. "
		       "Nothing here is patched, except idle workloads where the policy allows a "
		       "scale-to-zero pull request.\n\n## Idle workloads\n\n",
		       cluster, cluster);
	for (i = 0; i < n_idle; i++) {
		if (strcmp(idle[i].wl.cluster, cluster))
			continue;
		if (!d.rows++)
			yt_buf__printf(&b,
				       "| Namespace | Workload | Observed | Max cores a replica | "
				       "$/month |\n|---|---|---:|---:|---:|\n");
		yt_buf__printf(&b, "| %s | %s/%s | %.1f days | %.4f | $%.0f |\n", idle[i].wl.ns,
			       idle[i].wl.kind, idle[i].wl.name, idle[i].days, idle[i].max_cores,
			       idle[i].cost_month);
		total += idle[i].cost_month;
	}
	if (!d.rows)
		yt_buf__printf(&b, "None.\n");
	else
		yt_buf__printf(&b, "\nIdle workloads cost **$%.0f a month**.\n", total);
	yt_buf__printf(&b, "\n## Zombies\n\n");
	d.kinds = "zombie";
	d.rows = 0;
	gstore__findings(s, cluster, now - 86400, dash_finding, &d);
	if (!d.rows)
		yt_buf__printf(&b, "None.\n");
	yt_buf__printf(&b, "\n## Orphans\n\n");
	d.kinds = "orphan";
	d.rows = 0;
	gstore__findings(s, cluster, now - 86400, dash_finding, &d);
	if (!d.rows)
		yt_buf__printf(&b, "None.\n");
	if (b.err) {
		yt_buf__free(&b);
		return NULL;
	}
	return b.s;
}
