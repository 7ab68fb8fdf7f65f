// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The guardrail rules, a table; each one leaves its verdict with its figures. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "guard.h"

/* a verdict's detail is a line for people: cut short rather than fail */
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

enum { R_CPU = 0, R_MEM, R_N };

struct res {
	const char *name; /* cpu, memory */
	double cur, want, lim_cur;
	bool blocked, urgent;
};

struct g {
	const struct guard_in *in;
	struct guard_out *out;
	struct res res[R_N];
	bool all_blocked;
};

static void verdict(struct g *g, const char *res, const char *rule, const char *outcome,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void verdict(struct g *g, const char *res, const char *rule, const char *outcome,
		    const char *fmt, ...)
{
	struct gs_verdict *v;
	va_list ap;

	if (g->out->n == GUARD_MAX_VERDICTS)
		return;
	v = &g->out->v[g->out->n];
	memset(v, 0, sizeof(*v));
	snprintf(v->container, sizeof(v->container), "%s", g->in->r->container);
	snprintf(v->resource, sizeof(v->resource), "%s", res);
	snprintf(v->rule, sizeof(v->rule), "%s", rule);
	snprintf(v->outcome, sizeof(v->outcome), "%s", outcome);
	v->order = (int)g->out->n;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	g->out->n++;
}

static void fmt_res(const struct res *r, double v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "unset");
	else if (r == NULL || !strcmp(r->name, "cpu"))
		decide__fmt_cpu(v, buf, len);
	else
		decide__fmt_mem(v, buf, len);
}

static bool decrease(const struct res *r)
{
	return r->cur > 0 && r->want < r->cur;
}

static double step_price(const struct g *g, const struct res *r, double delta)
{
	const struct rec *rc = g->in->r;

	return !strcmp(r->name, "cpu")
		       ? decide__monthly(delta, 0, rc->replicas, rc->cpu_price, rc->mem_price) / 1e9
		       : decide__monthly(0, delta, rc->replicas, rc->cpu_price, rc->mem_price) /
				 1e9;
}

/* ---- the rules ---- */

static void rule_evidence(struct g *g)
{
	const struct rec *r = g->in->r;
	char cw[32], mw[32], pk[32], season[200] = "no daily or weekly season";

	decide__fmt_cpu(r->cpu_want, cw, sizeof(cw));
	decide__fmt_mem(r->mem_want, mw, sizeof(mw));
	decide__fmt_mem(decide__round_mem(r->mem_peak), pk, sizeof(pk));
	if (r->season.period)
		snprintf(season, sizeof(season),
			 "%s season (strength %.2f): forecast peak %.3f cores "
			 "at hour %.0f",
			 r->season.period == 24 ? "daily" : "weekly", r->season.strength,
			 r->season.peak, fmod(r->season.peak_at / 3600, r->season.period));
	verdict(g, "cpu", "evidence", "info",
		"p%.0f %.3f cores (p50 %.3f, p99 %.3f, max %.3f) over %.1f days, confidence %.0f%%; "
		"%s; sized for %.3f ÷ target %.2f = %s; %.2f replicas at $%.4f/core-hour",
		r->quantile * 100, r->q_cores, r->p50, r->p99, r->max_cores, r->days,
		r->confidence * 100, season, r->cpu_basis, g->in->st->cpu_target, cw, r->replicas,
		r->cpu_price);
	verdict(g, "memory", "evidence", "info",
		"peak working set %s over %.0f days × headroom %.2f = %s; %lld OOM kills; "
		"$%.4f/GiB-hour",
		pk, r->mem_days, g->in->st->mem_headroom, mw, (long long)r->ooms, r->mem_price);
}

static void block_all(struct g *g, const char *rule, const char *why)
{
	int k;

	for (k = 0; k < R_N; k++)
		g->res[k].blocked = true;
	g->all_blocked = true;
	verdict(g, "*", rule, "block", "%s", why);
}

static void rule_scope(struct g *g)
{
	const struct rec *r = g->in->r;
	char why[400];

	if (!policy__in_scope(g->in->pol, r->wl.ns, r->wl.kind, r->wl.name, why, sizeof(why)))
		return block_all(g, "scope", why);
	if (g->in->st->exclude)
		return block_all(g, "scope", "a policy rule says exclude: true");
	if (g->in->mf && g->in->mf->opted_out) {
		snprintf(why, sizeof(why), "annotation %s: \"%s\" on %s/%s",
			 g->in->pol->opt_out_key, g->in->pol->opt_out_value, r->wl.kind,
			 r->wl.name);
		return block_all(g, "scope", why);
	}
	verdict(g, "*", "scope", "pass", "%s; no opt-out annotation", why);
}

static void rule_target(struct g *g)
{
	const struct rec *r = g->in->r;
	char why[600];

	if (g->all_blocked)
		return;
	if (!g->in->has_target) {
		snprintf(why, sizeof(why),
			 "no entry in .podmeter/targets.yaml for cluster \"%s\", "
			 "namespace %s",
			 r->wl.cluster, r->wl.ns);
		return block_all(g, "target", why);
	}
	if (!g->in->mf) {
		snprintf(why, sizeof(why), "%s/%s is not among the workloads of %s", r->wl.kind,
			 r->wl.name, g->in->target_path);
		return block_all(g, "target", why);
	}
	if (!mf__has_container(g->in->mf, r->container)) {
		snprintf(why, sizeof(why), "container %s is not in %s/%s's manifest in %s",
			 r->container, r->wl.kind, r->wl.name, g->in->target_path);
		return block_all(g, "target", why);
	}
	verdict(g, "*", "target", "pass", "%s/%s, container %s, in %s", r->wl.kind, r->wl.name,
		r->container, g->in->target_path);
}

static void rule_urgent(struct g *g)
{
	const struct rec *r = g->in->r;
	const struct pol_settings *st = g->in->st;
	struct res *m = &g->res[R_MEM], *c = &g->res[R_CPU];
	char a[32], b[32];

	if (g->all_blocked)
		return;
	if (r->ooms >= (int64_t)st->urgent_ooms) {
		double base = fmax(m->cur, m->lim_cur);
		double want = fmax(m->want, decide__round_mem(base * st->oom_increase));

		m->urgent = true;
		fmt_res(m, want, a, sizeof(a));
		fmt_res(m, base, b, sizeof(b));
		verdict(g, "memory", "urgent", "adjust",
			"%lld OOM kills (policy: %.0f): memory goes "
			"up at once, to %s (at least %s × %.2f)",
			(long long)r->ooms, st->urgent_ooms, a, b, st->oom_increase);
		m->want = want;
	} else {
		verdict(g, "memory", "urgent", "pass", "%lld OOM kills (urgent at %.0f)",
			(long long)r->ooms, st->urgent_ooms);
	}
	if (r->throttle_ratio * 100 >= st->urgent_throttle_pct && c->cur > 0) {
		double want = fmax(c->want, decide__round_cpu(c->cur * st->oom_increase));

		c->urgent = true;
		fmt_res(c, want, a, sizeof(a));
		verdict(g, "cpu", "urgent", "adjust",
			"throttled %.1f%% of its CPU time (urgent at "
			"%.0f%%): CPU goes up at once, to %s",
			r->throttle_ratio * 100, st->urgent_throttle_pct, a);
		c->want = want;
	} else {
		verdict(g, "cpu", "urgent", "pass",
			"throttled %.1f%% of its CPU time (urgent at %.0f%%)",
			r->throttle_ratio * 100, st->urgent_throttle_pct);
	}
	g->out->urgent = m->urgent || c->urgent;
}

static void rule_data(struct g *g)
{
	const struct rec *r = g->in->r;
	const struct pol_settings *st = g->in->st;
	int k;

	if (g->all_blocked)
		return;
	if (r->days >= st->min_days && r->confidence >= st->min_confidence) {
		verdict(g, "*", "data", "pass",
			"%.1f days observed (min %.1f), confidence %.0f%% "
			"(min %.0f%%)",
			r->days, st->min_days, r->confidence * 100, st->min_confidence * 100);
		return;
	}
	for (k = 0; k < R_N; k++) {
		struct res *x = &g->res[k];

		if (x->urgent) {
			verdict(g, x->name, "data", "pass",
				"%.1f days observed (min %.1f): an urgent "
				"increase does not wait",
				r->days, st->min_days);
			continue;
		}
		x->blocked = true;
		verdict(g, x->name, "data", "block",
			"%.1f days observed (min %.1f), confidence "
			"%.0f%% (min %.0f%%): not enough yet",
			r->days, st->min_days, r->confidence * 100, st->min_confidence * 100);
	}
}

static void rule_hpa(struct g *g)
{
	const struct mf_workload *mf = g->in->mf;
	struct res *c = &g->res[R_CPU];

	if (g->all_blocked || c->blocked)
		return;
	if (mf && mf->hpa_cpu && g->in->st->hpa == POL_HPA_SKIP_CPU) {
		c->blocked = true;
		verdict(g, "cpu", "hpa", "block",
			"HorizontalPodAutoscaler %s scales it on CPU: its "
			"CPU request is the HPA's yardstick, left alone",
			mf->hpa);
		return;
	}
	verdict(g, "cpu", "hpa", "pass",
		mf && mf->hpa_cpu ? "an HPA scales it on CPU; policy "
				    "hpa: ignore"
				  : "no HorizontalPodAutoscaler scales it on CPU");
}

static void rule_bounds(struct g *g)
{
	const struct pol_settings *st = g->in->st;
	double lo[R_N] = { st->cpu_min, st->mem_min }, hi[R_N] = { st->cpu_max, st->mem_max };
	int k;

	for (k = 0; k < R_N && !g->all_blocked; k++) {
		struct res *x = &g->res[k];
		double v = fmin(fmax(x->want, lo[k]), hi[k]);
		char a[32], b[32], w[32];

		if (x->blocked)
			continue;
		fmt_res(x, lo[k], a, sizeof(a));
		fmt_res(x, hi[k], b, sizeof(b));
		fmt_res(x, v, w, sizeof(w));
		verdict(g, x->name, "bounds", v != x->want ? "adjust" : "pass",
			v != x->want ? "clamped to [%s, %s]: %s" : "within [%s, %s]: %s", a, b, w);
		x->want = v;
	}
}

static void rule_floor(struct g *g)
{
	const struct pol_settings *st = g->in->st;
	double floor_[R_N] = { st->cpu_floor, st->mem_floor };
	int k;

	for (k = 0; k < R_N && !g->all_blocked; k++) {
		struct res *x = &g->res[k];
		char f[32], c[32];

		if (x->blocked || !decrease(x) || !(floor_[k] > 0))
			continue;
		fmt_res(x, floor_[k], f, sizeof(f));
		fmt_res(x, x->cur, c, sizeof(c));
		if (x->cur <= floor_[k]) {
			x->blocked = true;
			verdict(g, x->name, "floor", "block",
				"now %s, at or under the floor %s: not "
				"decreased",
				c, f);
		} else if (x->want < floor_[k]) {
			x->want = floor_[k];
			verdict(g, x->name, "floor", "adjust",
				"decreased no further than the floor %s", f);
		} else {
			verdict(g, x->name, "floor", "pass", "above the floor %s", f);
		}
	}
}

static void rule_step(struct g *g)
{
	double pct = g->in->st->max_step_down_pct;
	int k;

	for (k = 0; k < R_N && !g->all_blocked; k++) {
		struct res *x = &g->res[k];
		double lowest;
		char a[32];

		if (x->blocked || !decrease(x))
			continue;
		lowest = x->cur * (1 - pct / 100);
		lowest = k == R_CPU ? decide__round_cpu(lowest) : decide__round_mem(lowest);
		if (x->want < lowest) {
			fmt_res(x, lowest, a, sizeof(a));
			verdict(g, x->name, "step", "adjust",
				"down %.0f%% is more than the largest "
				"step, %.0f%%: %s this time",
				(1 - x->want / x->cur) * 100, pct, a);
			x->want = lowest;
		} else {
			verdict(g, x->name, "step", "pass", "down %.0f%% (largest step %.0f%%)",
				(1 - x->want / x->cur) * 100, pct);
		}
	}
}

static void rule_cooldown(struct g *g)
{
	double last = fmax(g->in->last_merge, g->in->r->last_change);
	double days = g->in->st->cooldown_days, ago = (g->in->now - last) / 86400;
	int k;

	for (k = 0; k < R_N && !g->all_blocked; k++) {
		struct res *x = &g->res[k];

		if (x->blocked || !decrease(x))
			continue;
		if (last > 0 && ago < days) {
			x->blocked = true;
			verdict(g, x->name, "cooldown", "block",
				"last changed %.1f days ago (cooldown "
				"%.1f days): no decrease yet",
				ago, days);
		} else {
			verdict(g, x->name, "cooldown", "pass",
				last > 0 ? "last changed %.1f days ago "
					   "(cooldown %.1f days)"
					 : "no change seen (cooldown %.1f days)",
				last > 0 ? ago : days, days);
		}
	}
}

static void rule_worth(struct g *g)
{
	const struct pol_settings *st = g->in->st;
	int k;

	for (k = 0; k < R_N && !g->all_blocked; k++) {
		struct res *x = &g->res[k];
		double pct, dollars;

		if (x->blocked)
			continue;
		if (x->cur < 0) {
			verdict(g, x->name, "worth", "pass", "not set now: setting it is worth it");
			continue;
		}
		pct = x->cur > 0 ? fabs(x->want - x->cur) / x->cur * 100 : 100;
		dollars = -step_price(g, x, x->want - x->cur);
		if (pct < st->min_change_pct) {
			x->blocked = true;
			verdict(g, x->name, "worth", "block",
				"a %.1f%% change (min %.0f%%), $%.2f a "
				"month",
				pct, st->min_change_pct, dollars);
		} else if (decrease(x) && dollars < st->min_savings && !x->urgent) {
			x->blocked = true;
			verdict(g, x->name, "worth", "block", "saves $%.2f a month (min $%.2f)",
				dollars, st->min_savings);
		} else {
			verdict(g, x->name, "worth", "pass", "a %.1f%% change, $%.2f a month %s",
				pct, fabs(dollars), dollars >= 0 ? "saved" : "more");
		}
	}
}

static void rule_rejection(struct g *g)
{
	const struct pol_settings *st = g->in->st;
	int k;

	for (k = 0; k < R_N && !g->all_blocked; k++) {
		struct res *x = &g->res[k];
		double val, at, moved;

		if (x->blocked || x->urgent)
			continue;
		if (!g->in->s ||
		    gstore__rejected(g->in->s, &g->in->r->wl, g->in->r->container, x->name,
				     g->in->now - st->rej_days * 86400, &val, &at)) {
			verdict(g, x->name, "rejection", "pass",
				"no pull request closed unmerged in "
				"%.0f days",
				st->rej_days);
			continue;
		}
		moved = val > 0 ? fabs(x->want - val) / val * 100 : 100;
		if (moved <= st->rej_change_pct) {
			x->blocked = true;
			verdict(g, x->name, "rejection", "block",
				"a pull request for %.4g was closed "
				"unmerged %.1f days ago; %.1f%% from it (needs more than %.0f%%, or "
				"%.0f days)",
				val, (g->in->now - at) / 86400, moved, st->rej_change_pct,
				st->rej_days);
		} else {
			verdict(g, x->name, "rejection", "pass",
				"%.1f%% from the value closed unmerged "
				"%.1f days ago (more than %.0f%%)",
				moved, (g->in->now - at) / 86400, st->rej_change_pct);
		}
	}
}

static void limit_of(struct g *g, struct res *x, double *out)
{
	const struct pol_settings *st = g->in->st;
	bool cpu = x == &g->res[R_CPU];
	double v;
	char a[32];

	*out = GUARD_UNTOUCHED;
	if (x->blocked)
		return;
	if (st->set == POL_SET_REQUESTS) {
		if (x->lim_cur > 0 && x->want > x->lim_cur) {
			x->blocked = true;
			fmt_res(x, x->lim_cur, a, sizeof(a));
			verdict(g, x->name, "limits", "block",
				"requests only (policy set: requests), "
				"and the request would exceed its limit %s",
				a);
		} else {
			verdict(g, x->name, "limits", "pass", "requests only; the limit stays");
		}
		return;
	}
	if (st->limits == POL_LIM_NONE) {
		*out = x->lim_cur > 0 ? -1 : GUARD_UNTOUCHED;
		verdict(g, x->name, "limits", "pass", "limits: none%s",
			x->lim_cur > 0 ? ": the limit is removed" : "");
		return;
	}
	if (st->limits == POL_LIM_KEEP_RATIO) {
		if (!(x->lim_cur > 0 && x->cur > 0)) {
			verdict(g, x->name, "limits", "pass", "limits: keep-ratio, no limit now");
			return;
		}
		v = x->want * x->lim_cur / x->cur;
	} else {
		v = x->want * st->limit_multiplier;
	}
	*out = cpu ? decide__round_cpu(v) : decide__round_mem(v);
	fmt_res(x, *out, a, sizeof(a));
	verdict(g, x->name, "limits", "pass", "limit %s (%s)", a,
		st->limits == POL_LIM_KEEP_RATIO ? "the current ratio kept" : "policy multiplier");
}

static void rule_limits(struct g *g)
{
	if (g->all_blocked)
		return;
	limit_of(g, &g->res[R_CPU], &g->out->cpu_lim);
	limit_of(g, &g->res[R_MEM], &g->out->mem_lim);
}

static void rule_budget(struct g *g)
{
	const struct rec *r = g->in->r;
	double budget = policy__budget(g->in->pol, r->wl.ns), delta = 0;
	int k;

	if (g->all_blocked)
		return;
	for (k = 0; k < R_N; k++)
		if (!g->res[k].blocked)
			delta += step_price(g, &g->res[k], g->res[k].want - fmax(g->res[k].cur, 0));
	if (budget < 0 || delta <= 0) {
		verdict(g, "*", "budget", "pass",
			budget < 0 ? "no budget for namespace %s" : "namespace %s: no increase",
			r->wl.ns);
		return;
	}
	if (g->in->ns_cost_month + *g->in->ns_increase + delta > budget) {
		g->out->needs_budget = true;
		verdict(g, "*", "budget", "label",
			"namespace %s costs $%.2f a month, +$%.2f proposed "
			"so far, +$%.2f here: over its budget $%.2f; labelled for budget approval, "
			"never merged automatically",
			r->wl.ns, g->in->ns_cost_month, *g->in->ns_increase, delta, budget);
	} else {
		verdict(g, "*", "budget", "pass",
			"namespace %s: $%.2f + $%.2f a month within its "
			"budget $%.2f",
			r->wl.ns, g->in->ns_cost_month + *g->in->ns_increase, delta, budget);
	}
	*g->in->ns_increase += delta;
}

static void rule_result(struct g *g)
{
	const struct rec *r = g->in->r;
	double d_cpu = 0, d_mem = 0;

	g->out->cpu = g->res[R_CPU].blocked ? GUARD_UNTOUCHED : g->res[R_CPU].want;
	g->out->mem = g->res[R_MEM].blocked ? GUARD_UNTOUCHED : g->res[R_MEM].want;
	if (g->res[R_CPU].blocked)
		g->out->cpu_lim = GUARD_UNTOUCHED;
	if (g->res[R_MEM].blocked)
		g->out->mem_lim = GUARD_UNTOUCHED;
	/* a value already what it would be is no change */
	if (g->out->cpu >= 0 && fabs(g->out->cpu - g->res[R_CPU].cur) < 5e-4)
		g->out->cpu = GUARD_UNTOUCHED;
	if (g->out->mem >= 0 && fabs(g->out->mem - g->res[R_MEM].cur) < 0.5)
		g->out->mem = GUARD_UNTOUCHED;
	if (g->out->cpu == GUARD_UNTOUCHED || fabs(g->out->cpu_lim - g->res[R_CPU].lim_cur) < 5e-4)
		g->out->cpu_lim = GUARD_UNTOUCHED;
	if (g->out->mem == GUARD_UNTOUCHED || fabs(g->out->mem_lim - g->res[R_MEM].lim_cur) < 0.5)
		g->out->mem_lim = GUARD_UNTOUCHED;
	if (g->out->cpu >= 0)
		d_cpu = g->out->cpu - fmax(g->res[R_CPU].cur, 0);
	if (g->out->mem >= 0)
		d_mem = g->out->mem - fmax(g->res[R_MEM].cur, 0);
	g->out->savings_nd = -decide__monthly(d_cpu, d_mem, r->replicas, r->cpu_price,
					      r->mem_price);
	g->out->auto_merge = g->in->st->auto_merge && !g->out->needs_budget;
}

struct rule {
	const char *name;
	void (*fn)(struct g *g);
};

static const struct rule rules[] = {
	{ "evidence", rule_evidence }, { "scope", rule_scope },	  { "target", rule_target },
	{ "urgent", rule_urgent },     { "data", rule_data },	  { "hpa", rule_hpa },
	{ "bounds", rule_bounds },     { "floor", rule_floor },	  { "step", rule_step },
	{ "cooldown", rule_cooldown }, { "worth", rule_worth },	  { "rejection", rule_rejection },
	{ "limits", rule_limits },     { "budget", rule_budget }, { "result", rule_result },
};

const char *const guard_rule_names[] = { "evidence", "scope",	  "target", "urgent", "data",
					 "hpa",	     "bounds",	  "floor",  "step",   "cooldown",
					 "worth",    "rejection", "limits", "budget", "pace",
					 "freeze",   NULL };

void guard__run(const struct guard_in *in, struct guard_out *out)
{
	struct g g = { .in = in, .out = out };
	size_t i;

	memset(out, 0, sizeof(*out));
	out->cpu = out->mem = out->cpu_lim = out->mem_lim = GUARD_UNTOUCHED;
	g.res[R_CPU] = (struct res){ "cpu", in->r->cur_cpu, in->r->cpu_want, in->r->cur_cpu_lim,
				     false, false };
	g.res[R_MEM] = (struct res){ "memory",		 in->r->cur_mem, in->r->mem_want,
				     in->r->cur_mem_lim, false,		 false };
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		rules[i].fn(&g);
	for (i = 0; i < out->n; i++)
		out->v[i].at = in->now;
}

bool guard__any(const struct guard_out *o)
{
	return o->cpu != GUARD_UNTOUCHED || o->mem != GUARD_UNTOUCHED ||
	       o->cpu_lim != GUARD_UNTOUCHED || o->mem_lim != GUARD_UNTOUCHED;
}
