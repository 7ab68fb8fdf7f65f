// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One cycle: follow, verify, decide, guard, and walk each group's state machine. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cycle.h"

/* names and messages are bounded by their inputs; a cut message is still a message */
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define SEEN_S	     (2 * 86400.0) /* containers reported within this are decided */
#define LOCAL_MAX    (1 << 20)
#define LABEL_BASE   "podmeter"
#define LABEL_BUDGET "podmeter/needs-budget-approval"
#define LABEL_AUTO   "podmeter/auto-merge"
#define LABEL_IDLE   "podmeter/scale-to-zero"
#define LABEL_REVERT "podmeter/revert"

/* A workload's verdicts of this cycle, kept until the groups are written. */
struct wlv {
	struct gs_wl wl;
	struct gs_verdict *v;
	size_t n, cap;
};

struct cyc {
	struct store *s;
	const struct cycle_cfg *cfg;
	struct cycle_result *res;
	struct gitw *git;
	struct forge *forge;
	char base_sha[GITW_SHA];
	struct tree_src tree;
	struct policy pol;
	struct targets tgts;
	struct mf_index mf[TGT_MAX];
	bool mf_done[TGT_MAX];
	char mf_err[TGT_MAX][256];
	struct group groups[CYCLE_MAX_GROUPS];
	size_t n_groups;
	struct gs_prop *props; /* every proposal, read at the start */
	size_t n_props;
	struct wlv *wlv;
	size_t n_wlv, cap_wlv;
	struct dash_idle *idle;
	size_t n_idle, cap_idle;
	int64_t fresh; /* new groups' revisions this cycle: open soon, paced too */
	double now;
	FILE *out;
};

static void say(struct cyc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct cyc *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->out)
		return;
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	fflush(c->out);
}

/* Tests: a SIGKILL at a named step, to show the next cycle recovers. */
static void crash_point(struct cyc *c, const char *step)
{
	if (c->cfg->crash_at && !strcmp(c->cfg->crash_at, step)) {
		say(c, "crash-at %s: SIGKILL", step);
		raise(SIGKILL);
	}
}

static double clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the repository: base, policy, targets ---- */

static char *read_local(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(LOCAL_MAX + 1);
	*len = buf ? fread(buf, 1, LOCAL_MAX, f) : 0;
	fclose(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

static int open_repo(struct cyc *c, char *err, size_t errlen)
{
	char *repo_pol = NULL, *tg = NULL, *local = NULL;
	size_t rlen = 0, tlen = 0, llen = 0;
	int ret;

	ret = gitw__open(&c->git, &c->cfg->git, err, errlen);
	if (!ret)
		ret = gitw__fetch(c->git, err, errlen);
	if (ret)
		return ret;
	if (gitw__head(c->git, c->cfg->base, c->base_sha)) {
		snprintf(err, errlen, "%s has no branch %s", c->cfg->git.url, c->cfg->base);
		return -ENOENT;
	}
	ret = gitw__tree(c->git, c->base_sha, &c->tree);
	if (ret) {
		snprintf(err, errlen, "base %s: cannot read its tree", c->base_sha);
		return ret;
	}
	if (c->cfg->policy_file && !(local = read_local(c->cfg->policy_file, &llen))) {
		snprintf(err, errlen, "--policy %s: cannot read it", c->cfg->policy_file);
		return -ENOENT;
	}
	ret = c->tree.read(c->tree.ctx, ".podmeter/policy.yaml", &repo_pol, &rlen);
	if (ret && ret != -ENOENT) {
		free(local);
		snprintf(err, errlen, ".podmeter/policy.yaml: %s", strerror(-ret));
		return ret;
	}
	ret = policy__load(&c->pol, local, llen, repo_pol, rlen, err, errlen);
	free(local);
	free(repo_pol);
	if (ret)
		return ret;
	ret = c->tree.read(c->tree.ctx, ".podmeter/targets.yaml", &tg, &tlen);
	if (ret == -ENOENT) {
		say(c, "note: %s has no .podmeter/targets.yaml: nothing can be written",
		    c->cfg->base);
		return 0;
	}
	if (!ret)
		ret = targets__parse(&c->tgts, tg, tlen, err, errlen);
	free(tg);
	return ret;
}

static const struct mf_workload *manifest(struct cyc *c, const struct tgt *tg, const char *kind,
					  const char *name)
{
	size_t i = (size_t)(tg - c->tgts.v);

	if (!c->mf_done[i]) {
		c->mf_done[i] = true;
		if (mf__scan(&c->mf[i], &c->tree, tg, c->pol.opt_out_key, c->pol.opt_out_value,
			     c->mf_err[i], sizeof(c->mf_err[i])))
			say(c, "warning: manifests of %s: %s", tg->path, c->mf_err[i]);
	}
	return mf__find(&c->mf[i], kind, name);
}

/* ---- verdicts ---- */

static struct wlv *wlv_of(struct cyc *c, const struct gs_wl *w)
{
	size_t i;

	for (i = c->n_wlv; i-- > 0;)
		if (!memcmp(&c->wlv[i].wl, w, sizeof(*w)))
			return &c->wlv[i];
	if (c->n_wlv == c->cap_wlv) {
		size_t cap = c->cap_wlv ? c->cap_wlv * 2 : 64;
		struct wlv *g = realloc(c->wlv, cap * sizeof(*g));

		if (!g)
			return NULL;
		c->wlv = g;
		c->cap_wlv = cap;
	}
	memset(&c->wlv[c->n_wlv], 0, sizeof(c->wlv[0]));
	c->wlv[c->n_wlv].wl = *w;
	return &c->wlv[c->n_wlv++];
}

static void wlv_add(struct wlv *w, const struct gs_verdict *v)
{
	if (!w)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 32;
		struct gs_verdict *g = realloc(w->v, cap * sizeof(*g));

		if (!g)
			return;
		w->v = g;
		w->cap = cap;
	}
	w->v[w->n] = *v;
	w->v[w->n].order = (int)w->n;
	w->n++;
}

static void group_verdict(struct cyc *c, const struct group *g, const char *rule,
			  const char *outcome, const char *detail)
{
	struct gs_verdict v;
	size_t i, k;

	memset(&v, 0, sizeof(v));
	snprintf(v.container, sizeof(v.container), "*");
	snprintf(v.resource, sizeof(v.resource), "*");
	snprintf(v.rule, sizeof(v.rule), "%s", rule);
	snprintf(v.outcome, sizeof(v.outcome), "%s", outcome);
	snprintf(v.detail, sizeof(v.detail), "%s: %s", g->name, detail);
	v.at = c->now;
	for (i = 0; i < g->n; i++) {
		for (k = 0; k < i; k++)
			if (!memcmp(&g->items[k].wl, &g->items[i].wl, sizeof(g->items[i].wl)))
				break;
		if (k == i)
			wlv_add(wlv_of(c, &g->items[i].wl), &v);
	}
}

static void store_verdicts(struct cyc *c)
{
	size_t i;

	for (i = 0; i < c->n_wlv; i++) {
		if (!c->cfg->dry_run &&
		    gstore__verdicts_put(c->s, &c->wlv[i].wl, c->wlv[i].v, c->wlv[i].n, c->now))
			c->res->errors++;
		free(c->wlv[i].v);
	}
	free(c->wlv);
	c->wlv = NULL;
	c->n_wlv = 0;
}

/* ---- groups ---- */

static struct group *group_of(struct cyc *c, const char *name, const char *kind,
			      const struct gs_wl *w, const struct tgt *tg)
{
	struct group *g;
	size_t i;

	for (i = 0; i < c->n_groups; i++)
		if (!strcmp(c->groups[i].name, name))
			return &c->groups[i];
	if (c->n_groups == CYCLE_MAX_GROUPS)
		return NULL;
	g = &c->groups[c->n_groups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->kind, sizeof(g->kind), "%s", kind);
	snprintf(g->cluster, sizeof(g->cluster), "%s", w ? w->cluster : "");
	snprintf(g->ns, sizeof(g->ns), "%s", w ? w->ns : "");
	g->tg = tg;
	return g;
}

static int group_add(struct group *g, const struct gs_item *it, struct guard_out *o, struct rec *r)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct gs_item *a = realloc(g->items, cap * sizeof(*a));
		struct guard_out **b = realloc(g->outs, cap * sizeof(*b));
		struct rec **d = realloc(g->recs, cap * sizeof(*d));

		if (a)
			g->items = a;
		if (b)
			g->outs = b;
		if (d)
			g->recs = d;
		if (!a || !b || !d)
			return -ENOMEM;
		g->cap = cap;
	}
	g->items[g->n] = *it;
	g->outs[g->n] = o;
	g->recs[g->n] = r;
	g->n++;
	return 0;
}

static void groups_free(struct cyc *c)
{
	size_t i, k;

	for (i = 0; i < c->n_groups; i++) {
		struct group *g = &c->groups[i];

		for (k = 0; k < g->n; k++) {
			/* an out and a rec are shared by a container's items: freed at the first */
			if (g->outs[k] && (k == 0 || g->outs[k] != g->outs[k - 1]))
				free(g->outs[k]);
			if (g->recs[k] && (k == 0 || g->recs[k] != g->recs[k - 1]))
				free(g->recs[k]);
		}
		free(g->items);
		free(g->outs);
		free(g->recs);
	}
	c->n_groups = 0;
}

/* Merged, not yet verified: its values are on the base branch already. */
static const struct gs_prop *merged_with(struct cyc *c, const struct gs_item *it)
{
	size_t i, k, n;
	struct gs_item *items;
	const struct gs_prop *hit = NULL;

	for (i = 0; i < c->n_props && !hit; i++) {
		if (c->props[i].state != GS_MERGED)
			continue;
		if (gstore__prop_items(c->s, c->props[i].id, &items, &n))
			continue;
		for (k = 0; k < n && !hit; k++)
			if (!memcmp(&items[k].wl, &it->wl, sizeof(it->wl)) &&
			    !strcmp(items[k].container, it->container) &&
			    !strcmp(items[k].resource, it->resource) &&
			    fabs(items[k].proposed - it->proposed) <
				    1e-6 * fmax(1, fabs(it->proposed)))
				hit = &c->props[i];
		free(items);
	}
	return hit;
}

static void item_set(struct gs_item *it, const struct rec *r, const char *res, double cur, double v)
{
	memset(it, 0, sizeof(*it));
	it->wl = r->wl;
	snprintf(it->container, sizeof(it->container), "%s", r->container);
	snprintf(it->resource, sizeof(it->resource), "%s", res);
	it->current = cur;
	it->proposed = v;
}

/* The guard's values as items of the container's group. */
static int add_items(struct cyc *c, const struct tgt *tg, struct rec *r, struct guard_out *o,
		     struct wlv *w)
{
	const char *names[4] = { "cpu", "memory", "cpu_limit", "memory_limit" };
	double vals[4] = { o->cpu, o->mem, o->cpu_lim, o->mem_lim };
	double curs[4] = { r->cur_cpu, r->cur_mem, r->cur_cpu_lim, r->cur_mem_lim };
	char name[200], full[260];
	struct group *g = NULL;
	struct gs_item it;
	bool was_empty = false;
	int k, ret = 0;

	targets__group(tg, r->wl.cluster, r->wl.ns, name, sizeof(name));
	snprintf(full, sizeof(full), "%s%s", name, o->needs_budget ? "-budget" : "");
	for (k = 0; k < 4 && !ret; k++) {
		const struct gs_prop *m;
		struct gs_verdict v;

		if (vals[k] == GUARD_UNTOUCHED)
			continue;
		item_set(&it, r, names[k], curs[k], vals[k]);
		if ((m = merged_with(c, &it))) {
			memset(&v, 0, sizeof(v));
			snprintf(v.container, sizeof(v.container), "%s", r->container);
			snprintf(v.resource, sizeof(v.resource), "%s", names[k]);
			snprintf(v.rule, sizeof(v.rule), "merged");
			snprintf(v.outcome, sizeof(v.outcome), "block");
			snprintf(v.detail, sizeof(v.detail),
				 "%s (#%lld) merged this value; waiting "
				 "for the agents to report it",
				 m->id, (long long)m->number);
			v.at = c->now;
			wlv_add(w, &v);
			continue;
		}
		if (!g) {
			g = group_of(c, full, "resize", &r->wl, tg);
			if (!g)
				return -E2BIG;
			was_empty = !g->n;
		}
		ret = group_add(g, &it, o, r);
	}
	if (!g) {
		free(o);
		free(r);
		return ret;
	}
	g->urgent |= o->urgent;
	g->needs_budget |= o->needs_budget;
	g->auto_merge = was_empty ? o->auto_merge : g->auto_merge && o->auto_merge;
	g->savings_nd += o->savings_nd;
	return ret;
}

struct decide_ctx {
	struct cyc *c;
	double ns_increase;
	char ns_key[2 * GS_NAME];
	/* the workload so far: idle when every container is */
	struct gs_wl wl;
	bool wl_idle, wl_seen;
	double wl_max, wl_days;
	const struct tgt *wl_tg;
	struct pol_settings wl_st;
};

static void idle_done(struct decide_ctx *d);

static double ns_cost_month(struct cyc *c, const struct gs_wl *w)
{
	struct gs_wl ns = *w;
	int64_t nd = 0;
	int64_t until = (int64_t)floor(c->now / 3600) * 3600;

	ns.kind[0] = '\0';
	gstore__cost(c->s, &ns, until - 7 * 86400, until, &nd);
	return nd / 1e9 * DEC_HOURS_PER_MONTH / (7 * 24);
}

static int decide_one(void *ctx, const struct gs_container *k)
{
	struct decide_ctx *d = ctx;
	struct cyc *c = d->c;
	struct rec *r = calloc(1, sizeof(*r));
	struct guard_out *o = calloc(1, sizeof(*o));
	struct pol_settings st;
	const struct tgt *tg;
	struct guard_in in;
	struct wlv *w;
	char key[2 * GS_NAME + 2];
	size_t i;
	int ret;

	if (!r || !o) {
		free(r);
		free(o);
		return -ENOMEM;
	}
	if (d->wl_seen && memcmp(&d->wl, &k->wl, sizeof(k->wl)))
		idle_done(d);
	policy__for(&c->pol, k->wl.ns, k->wl.kind, k->wl.name, &st);
	ret = decide__container(c->s, k, &st, c->now, r);
	if (ret) {
		free(r);
		free(o);
		return ret == -ENOENT ? 0 : ret;
	}
	snprintf(key, sizeof(key), "%s/%s", k->wl.cluster, k->wl.ns);
	if (strcmp(key, d->ns_key)) {
		snprintf(d->ns_key, sizeof(d->ns_key), "%s", key);
		d->ns_increase = 0;
	}
	tg = targets__find(&c->tgts, k->wl.cluster, k->wl.ns);
	in = (struct guard_in){ .r = r,
				.st = &st,
				.pol = &c->pol,
				.has_target = tg != NULL,
				.target_path = tg ? tg->path : "",
				.mf = tg ? manifest(c, tg, k->wl.kind, k->wl.name) : NULL,
				.now = c->now,
				.s = c->s,
				.ns_increase = &d->ns_increase };
	gstore__last_merge(c->s, &k->wl, &in.last_merge);
	in.ns_cost_month = policy__budget(&c->pol, k->wl.ns) >= 0 ? ns_cost_month(c, &k->wl) : 0;
	guard__run(&in, o);
	w = wlv_of(c, &k->wl);
	for (i = 0; i < o->n; i++)
		wlv_add(w, &o->v[i]);
	/* the workload's idleness, judged when its last container is seen */
	if (!d->wl_seen || memcmp(&d->wl, &k->wl, sizeof(k->wl))) {
		d->wl = k->wl;
		d->wl_seen = true;
		d->wl_idle = true;
		d->wl_max = 0;
		d->wl_days = r->days;
		d->wl_tg = tg;
		d->wl_st = st;
	}
	d->wl_idle &= r->idle;
	d->wl_max = fmax(d->wl_max, r->idle_max_cores);
	c->res->blocked += !guard__any(o);
	if (!guard__any(o) || !tg) {
		free(r);
		free(o);
		return 0;
	}
	return add_items(c, tg, r, o, w);
}

/* An idle workload: on the dashboard, and a scale-to-zero proposal where the policy allows. */
static void idle_done(struct decide_ctx *d)
{
	struct cyc *c = d->c;
	struct gs_verdict v;
	struct dash_idle *di;
	struct group *g;
	struct gs_item it;
	char name[200], why[300];
	int64_t nd = 0, until = (int64_t)floor(c->now / 3600) * 3600;

	if (!d->wl_seen || !d->wl_idle)
		return;
	if (c->n_idle == c->cap_idle) {
		size_t cap = c->cap_idle ? c->cap_idle * 2 : 16;
		struct dash_idle *gr = realloc(c->idle, cap * sizeof(*gr));

		if (!gr)
			return;
		c->idle = gr;
		c->cap_idle = cap;
	}
	gstore__cost(c->s, &d->wl, until - 7 * 86400, until, &nd);
	di = &c->idle[c->n_idle++];
	di->wl = d->wl;
	di->cost_month = nd / 1e9 * DEC_HOURS_PER_MONTH / (7 * 24);
	di->max_cores = d->wl_max;
	di->days = d->wl_days;
	memset(&v, 0, sizeof(v));
	snprintf(v.container, sizeof(v.container), "*");
	snprintf(v.resource, sizeof(v.resource), "replicas");
	snprintf(v.rule, sizeof(v.rule), "idle");
	v.at = c->now;
	if (!d->wl_st.idle_scale_to_zero || !d->wl_tg || !strcmp(d->wl.kind, "DaemonSet") ||
	    !policy__in_scope(&c->pol, d->wl.ns, d->wl.kind, d->wl.name, why, sizeof(why)) ||
	    d->wl_st.exclude) {
		snprintf(v.outcome, sizeof(v.outcome), "info");
		snprintf(v.detail, sizeof(v.detail),
			 "idle %.1f days (at most %.4f cores a replica), "
			 "$%.2f a month; listed on the dashboard%s",
			 d->wl_days, d->wl_max, di->cost_month,
			 d->wl_st.idle_scale_to_zero ? ""
						     : "; policy idle.scaleToZero is off for it");
		wlv_add(wlv_of(c, &d->wl), &v);
		return;
	}
	{
		double val, at;

		if (!gstore__rejected(c->s, &d->wl, "", "replicas",
				      c->now - d->wl_st.rej_days * 86400, &val, &at)) {
			snprintf(v.outcome, sizeof(v.outcome), "block");
			snprintf(
				v.detail, sizeof(v.detail),
				"idle %.1f days; a scale-to-zero pull "
				"request was closed unmerged %.1f days ago: not proposed again for "
				"%.0f days",
				d->wl_days, (c->now - at) / 86400, d->wl_st.rej_days);
			wlv_add(wlv_of(c, &d->wl), &v);
			return;
		}
	}
	targets__group(d->wl_tg, d->wl.cluster, d->wl.ns, name, sizeof(name));
	strncat(name, "-idle", sizeof(name) - strlen(name) - 1);
	g = group_of(c, name, "idle", &d->wl, d->wl_tg);
	if (!g)
		return;
	memset(&it, 0, sizeof(it));
	it.wl = d->wl;
	snprintf(it.resource, sizeof(it.resource), "replicas");
	it.current = -1;
	it.proposed = 0;
	if (group_add(g, &it, NULL, NULL))
		return;
	g->savings_nd += llround(di->cost_month * 1e9);
	snprintf(v.outcome, sizeof(v.outcome), "label");
	snprintf(v.detail, sizeof(v.detail),
		 "idle %.1f days (at most %.4f cores a replica): "
		 "scale to zero proposed in %s, $%.2f a month; never merged automatically",
		 d->wl_days, d->wl_max, name, di->cost_month);
	wlv_add(wlv_of(c, &d->wl), &v);
}

static int decide_all(struct cyc *c)
{
	struct decide_ctx d = { .c = c };
	int ret = gstore__containers(c->s, c->now - SEEN_S, decide_one, &d);

	idle_done(&d);
	return ret;
}

/* ---- proposals: following, verifying ---- */

static int load_props(struct cyc *c)
{
	gstore__props_free(c->props, c->n_props);
	c->props = NULL;
	c->n_props = 0;
	return gstore__props(c->s, ~0u, &c->props, &c->n_props);
}

static void follow(struct cyc *c, struct gs_prop *p)
{
	struct forge_pr pr;
	struct gs_prop q = *p;
	int ret;

	if (p->state != GS_OPEN || !p->number || !c->forge)
		return;
	ret = forge__get_pr(c->forge, p->number, &pr);
	if (ret) {
		say(c, "warning: %s #%lld: %s", p->grp, (long long)p->number,
		    forge__error(c->forge));
		c->res->errors++;
		return;
	}
	if (!strcmp(pr.state, "open"))
		return;
	q.updated_at = c->now;
	if (!strcmp(pr.state, "merged")) {
		q.state = GS_MERGED;
		q.merged_at = pr.merged_at > 0 ? pr.merged_at : c->now;
	} else {
		q.state = p->closing ? GS_SUPERSEDED : GS_CLOSED;
		q.closed_at = pr.closed_at > 0 ? pr.closed_at : c->now;
	}
	if (!gstore__prop_update(c->s, &q, GS_OPEN, NULL, 0)) {
		say(c, "%s #%lld: %s", p->id, (long long)p->number, gs_state_names[q.state]);
		if (q.state == GS_MERGED)
			c->res->merged++;
		else
			c->res->closed++;
		p->state = q.state;
		p->merged_at = q.merged_at;
		p->closed_at = q.closed_at;
	}
}

static void revert_of(const struct gs_item *items, size_t n, struct gs_item *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[i] = items[i];
		out[i].current = items[i].proposed;
		out[i].proposed = items[i].current;
	}
}

static void verify_one(struct cyc *c, struct gs_prop *p)
{
	struct verify_out vo = { 0 };
	struct gs_item *items = NULL, *rev = NULL;
	struct pol_settings st;
	struct gs_prop q = *p, r;
	size_t n = 0;
	int ret;

	if (p->state != GS_MERGED || gstore__prop_items(c->s, p->id, &items, &n) || !n) {
		free(items);
		return;
	}
	policy__for(&c->pol, items[0].wl.ns, items[0].wl.kind, items[0].wl.name, &st);
	ret = verify__check(c->s, p, items, n, &st, c->now, &vo);
	if (ret || vo.decision == VERIFY_WAIT || c->cfg->dry_run) {
		if (!ret && vo.decision != VERIFY_WAIT)
			say(c, "would mark %s %s: %s", p->id,
			    vo.decision == VERIFY_OK ? "verified" : "reverted", vo.detail);
		free(vo.json);
		free(items);
		return;
	}
	q.outcome = vo.json;
	q.doc = NULL;
	q.applied_at = vo.applied_at;
	q.verified_at = c->now;
	q.updated_at = c->now;
	if (vo.decision == VERIFY_OK) {
		q.state = GS_VERIFIED;
		ret = gstore__prop_update(c->s, &q, GS_MERGED, NULL, 0);
		c->res->verified += !ret;
	} else {
		/* the revert's candidate and the verdict in one transaction */
		q.state = GS_REVERTED;
		rev = calloc(n, sizeof(*rev));
		memset(&r, 0, sizeof(r));
		snprintf(r.grp, sizeof(r.grp), "revert-%s-%lld", p->grp, (long long)p->rev);
		snprintf(r.kind, sizeof(r.kind), "revert");
		snprintf(r.cluster, sizeof(r.cluster), "%s", p->cluster);
		snprintf(r.branch, sizeof(r.branch), "podmeter/%s", r.grp);
		snprintf(r.base, sizeof(r.base), "%s", c->cfg->base);
		snprintf(r.reverts, sizeof(r.reverts), "%s", p->id);
		r.rev = 1;
		r.urgent = 1;
		r.state = GS_CANDIDATE;
		r.created_at = r.updated_at = c->now;
		r.savings_nd = -p->savings_nd;
		r.outcome = vo.detail;
		ret = rev ? 0 : -ENOMEM;
		if (!ret) {
			/* hashed as its group will be, so the next step takes this row as it is */
			struct group tmp;

			revert_of(items, n, rev);
			memset(&tmp, 0, sizeof(tmp));
			snprintf(tmp.kind, sizeof(tmp.kind), "revert");
			tmp.items = rev;
			tmp.n = n;
			report__hash(&tmp, r.content_hash);
			ret = gstore__prop_insert(c->s, &r, rev, n, &q, GS_MERGED);
		}
		c->res->reverted += !ret;
		free(rev);
	}
	say(c, "%s: %s: %s", p->id, vo.decision == VERIFY_OK ? "verified" : "hurt, reverting",
	    vo.detail);
	if (ret)
		c->res->errors++;
	free(vo.json);
	free(items);
}

/* Revert proposals waiting in the store: groups of their own, items as stored. */
static void revert_groups(struct cyc *c)
{
	size_t i, n, k;
	struct gs_item *items;
	struct group *g;

	for (i = 0; i < c->n_props; i++) {
		const struct gs_prop *p = &c->props[i];

		if (strcmp(p->kind, "revert") || p->state > GS_OPEN ||
		    gstore__prop_items(c->s, p->id, &items, &n))
			continue;
		g = n ? group_of(c, p->grp, "revert", &items[0].wl,
				 targets__find(&c->tgts, items[0].wl.cluster, items[0].wl.ns))
		      : NULL;
		for (k = 0; g && k < n; k++)
			group_add(g, &items[k], NULL, NULL);
		if (g) {
			g->urgent = true;
			g->savings_nd = p->savings_nd;
			snprintf(g->reverts, sizeof(g->reverts), "%s", p->reverts);
			snprintf(g->evidence, sizeof(g->evidence), "%s",
				 p->outcome ? p->outcome : "");
		}
		free(items);
	}
}

/* ---- writing one group ---- */

static struct gs_prop *live_of(struct cyc *c, const char *grp)
{
	size_t i;

	for (i = c->n_props; i-- > 0;)
		if (!strcmp(c->props[i].grp, grp) && c->props[i].state <= GS_OPEN)
			return &c->props[i];
	return NULL;
}

/* Another revision of @grp still open: the one a resumed revision takes the pull request of. */
static struct gs_prop *open_other(struct cyc *c, const char *grp, const char *id)
{
	size_t i;

	for (i = c->n_props; i-- > 0;)
		if (!strcmp(c->props[i].grp, grp) && c->props[i].state == GS_OPEN &&
		    strcmp(c->props[i].id, id))
			return &c->props[i];
	return NULL;
}

static const char *const no_labels[] = { NULL };

static int labels(struct cyc *c, const struct group *g, int64_t number)
{
	const char *add[6] = { LABEL_BASE }, *rm[3] = { NULL };
	int a = 1, r = 0;

	if (g->needs_budget)
		add[a++] = LABEL_BUDGET;
	else
		rm[r++] = LABEL_BUDGET;
	if (g->auto_merge && !g->needs_budget && !strcmp(g->kind, "resize"))
		add[a++] = LABEL_AUTO;
	else
		rm[r++] = LABEL_AUTO;
	if (!strcmp(g->kind, "idle"))
		add[a++] = LABEL_IDLE;
	if (!strcmp(g->kind, "revert"))
		add[a++] = LABEL_REVERT;
	add[a] = NULL;
	rm[r] = NULL;
	(void)no_labels;
	return forge__labels(c->forge, number, add, rm);
}

static int render(struct cyc *c, const struct group *g, const char *id, const char *hash,
		  struct changes *ch, char **doc_out, char *err, size_t errlen)
{
	char path[300], *doc;
	int ret;

	if (!g->tg) {
		snprintf(err, errlen, "no target in .podmeter/targets.yaml");
		return -ENOENT;
	}
	ret = targets__render(g->tg, &c->tree, g->items, g->n, ch, err, errlen);
	if (ret)
		return ret;
	doc = report__doc(g, id, hash);
	if (!doc)
		return -ENOMEM;
	snprintf(path, sizeof(path), ".podmeter/proposals/%s.json", g->name);
	ret = changes__set(ch, path, strdup(doc), strlen(doc));
	*doc_out = doc;
	return ret;
}

static char *commit_message(const struct group *g, const char *title, const char *id)
{
	size_t len = strlen(title) + strlen(g->name) + strlen(id) + 256;
	char *m = malloc(len);

	if (m)
		snprintf(m, len,
			 "%s\n\nRegenerated by podmeter-reconciler from the base branch at "
			 "each cycle.\n\nPodmeter-Proposal: %s\nPodmeter-Group: %s\n",
			 title, id, g->name);
	return m;
}

/* candidate -> pushed: the commit on today's base, pushed unless a person's commit is there. */
static int step_push(struct cyc *c, const struct group *g, struct gs_prop *row, const char *title,
		     char *err, size_t errlen)
{
	char sha[GITW_SHA], head[GITW_SHA] = "", *doc = NULL, *msg = NULL;
	struct changes ch = { 0 };
	struct gs_prop q;
	bool same = false;
	int ret;

	ret = render(c, g, row->id, row->content_hash, &ch, &doc, err, errlen);
	msg = ret ? NULL : commit_message(g, title, row->id);
	if (!ret && !msg)
		ret = -ENOMEM;
	if (!ret)
		ret = gitw__commit(c->git, c->base_sha, &ch, msg, row->created_at, sha, &same, err,
				   errlen);
	free(msg);
	free(doc);
	changes__free(&ch);
	if (ret)
		return ret;
	if (!gitw__head(c->git, row->branch, head) && strcmp(head, sha) &&
	    !gitw__is_ours(c->git, head, g->name)) {
		snprintf(err, errlen, "%s has a commit podmeter did not make (%.12s): left alone",
			 row->branch, head);
		return -EPERM;
	}
	if (strcmp(head, sha)) {
		ret = gitw__push(c->git, row->branch, sha, head, err, errlen);
		if (ret)
			return ret == -ESTALE ? -EPERM : ret;
	}
	crash_point(c, "after-push");
	q = *row;
	q.state = GS_PUSHED;
	snprintf(q.commit_sha, sizeof(q.commit_sha), "%s", sha);
	q.pushed_at = q.updated_at = c->now;
	ret = gstore__prop_update(c->s, &q, GS_CANDIDATE, NULL, 0);
	if (ret)
		return ret;
	*row = q;
	c->res->pushed++;
	say(c, "%s: pushed %.12s to %s", row->id, sha, row->branch);
	crash_point(c, "after-pushed");
	return 0;
}

/* pushed -> open: the group's pull request updated, adopted or created. */
static int step_open(struct cyc *c, const struct group *g, struct gs_prop *row,
		     struct gs_prop *prev, const char *title, const char *body, char *err,
		     size_t errlen)
{
	struct forge_pr pr = { 0 };
	struct gs_prop q, pq;
	bool update = false;
	int ret;

	if (prev && prev->state == GS_OPEN && prev->number > 0) {
		pr.number = prev->number;
		snprintf(pr.url, sizeof(pr.url), "%s", prev->url);
		update = true;
	} else if (!forge__find_pr(c->forge, row->branch, row->base, &pr)) {
		update = true; /* a pull request a crashed cycle opened: adopted */
	}
	if (update) {
		ret = forge__update_pr(c->forge, pr.number, title, body);
		crash_point(c, "after-update");
	} else {
		ret = forge__create_pr(c->forge, row->branch, row->base, title, body, &pr);
		if (ret == -EEXIST) {
			char why[512];

			snprintf(why, sizeof(why), "%s", forge__error(c->forge));
			ret = forge__find_pr(c->forge, row->branch, row->base, &pr);
			if (ret == -ENOENT) /* not a duplicate: the forge's refusal stands */
				snprintf(err, errlen, "%s", why);
		}
		crash_point(c, "after-create");
	}
	if (!ret)
		ret = labels(c, g, pr.number);
	if (ret)
		return ret;
	q = *row;
	q.state = GS_OPEN;
	q.number = pr.number;
	snprintf(q.url, sizeof(q.url), "%s", pr.url);
	q.opened_at = q.updated_at = c->now;
	if (prev && prev->state == GS_OPEN) {
		pq = *prev;
		pq.state = GS_SUPERSEDED;
		pq.updated_at = c->now;
		ret = gstore__prop_update(c->s, &q, GS_PUSHED, &pq, GS_OPEN);
		if (!ret)
			prev->state = GS_SUPERSEDED;
	} else {
		ret = gstore__prop_update(c->s, &q, GS_PUSHED, NULL, 0);
	}
	if (ret)
		return ret;
	*row = q;
	if (update)
		c->res->updated++;
	else
		c->res->opened++;
	say(c, "%s: %s #%lld %s", row->id, update ? "updated" : "opened", (long long)pr.number,
	    pr.url);
	crash_point(c, "after-open");
	return 0;
}

/* open, same content: the commit regenerated on a base that moved on. */
static int step_rebase(struct cyc *c, const struct group *g, struct gs_prop *row, char *err,
		       size_t errlen)
{
	char head[GITW_SHA] = "", title_buf[8];
	struct gs_prop q;
	int ret;

	(void)title_buf;
	if (row->human)
		return 0;
	if (gitw__head(c->git, row->branch, head))
		return 0; /* the branch is gone: the forge will say the pull request closed */
	if (strcmp(head, row->commit_sha) && !gitw__is_ours(c->git, head, g->name)) {
		q = *row;
		q.human = 1;
		q.updated_at = c->now;
		if (!gstore__prop_update(c->s, &q, GS_OPEN, NULL, 0))
			*row = q;
		say(c, "%s: somebody pushed to %s: left alone from now on", row->id, row->branch);
		c->res->left_alone++;
		return 0;
	}
	if (gitw__parent_is(c->git, head, c->base_sha))
		return 0;
	/* a candidate again in memory only: step_push makes and pushes the new commit */
	q = *row;
	q.state = GS_CANDIDATE;
	ret = 0;
	{
		char *title = report__title(g, 0), sha[GITW_SHA], *doc = NULL, *msg;
		struct changes ch = { 0 };
		bool same;

		ret = title ? render(c, g, row->id, row->content_hash, &ch, &doc, err, errlen)
			    : -ENOMEM;
		msg = ret ? NULL : commit_message(g, title, row->id);
		if (!ret)
			ret = msg ? gitw__commit(c->git, c->base_sha, &ch, msg, c->now, sha, &same,
						 err, errlen)
				  : -ENOMEM;
		if (!ret)
			ret = gitw__push(c->git, row->branch, sha, head, err, errlen);
		if (!ret) {
			q = *row;
			snprintf(q.commit_sha, sizeof(q.commit_sha), "%s", sha);
			snprintf(q.base, sizeof(q.base), "%s", c->cfg->base);
			q.updated_at = c->now;
			ret = gstore__prop_update(c->s, &q, GS_OPEN, NULL, 0);
			if (!ret) {
				*row = q;
				say(c, "%s: regenerated on %.12s as %.12s", row->id, c->base_sha,
				    sha);
			}
		}
		free(title);
		free(doc);
		free(msg);
		changes__free(&ch);
	}
	return ret;
}

/* Nothing left to propose for a group with a live proposal: close what is open. */
static int retire(struct cyc *c, struct gs_prop *live, const char *why)
{
	struct forge_pr pr;
	struct gs_prop q = *live;
	enum gs_state from = live->state;
	int ret = 0;

	if (live->human || c->cfg->dry_run) {
		if (c->cfg->dry_run)
			say(c, "would retire %s: %s", live->id, why);
		return 0;
	}
	if (from == GS_PUSHED && !forge__find_pr(c->forge, live->branch, live->base, &pr)) {
		q.number = pr.number;
		from = GS_PUSHED;
	}
	if (q.number > 0 && (from == GS_OPEN || from == GS_PUSHED)) {
		/* closing is marked first: a crash after the close is not taken for a rejection */
		q.closing = 1;
		q.updated_at = c->now;
		ret = gstore__prop_update(c->s, &q, from, NULL, 0);
		if (!ret)
			ret = forge__comment(c->forge, q.number, why);
		if (!ret)
			ret = forge__close_pr(c->forge, q.number);
		crash_point(c, "after-close");
	}
	if (ret)
		return ret;
	q.state = GS_SUPERSEDED;
	q.closed_at = q.updated_at = c->now;
	ret = gstore__prop_update(c->s, &q, from, NULL, 0);
	if (!ret) {
		live->state = GS_SUPERSEDED;
		c->res->superseded++;
		say(c, "%s: superseded (%s)", live->id, why);
	}
	return ret;
}

static bool paced(struct cyc *c, const struct group *g, const struct gs_prop *live)
{
	char why[300];
	int64_t open = 0, hour = 0;
	size_t i;

	if (policy__frozen(&c->pol, c->now, why, sizeof(why))) {
		group_verdict(c, g, "freeze", "block", why);
		return true;
	}
	group_verdict(c, g, "freeze", "pass", why);
	if ((live && live->state == GS_OPEN) || g->urgent) {
		group_verdict(c, g, "pace", "pass",
			      live && live->state == GS_OPEN ? "updates its open pull request"
							     : "urgent: not paced");
		return false;
	}
	for (i = 0; i < c->n_props; i++)
		open += c->props[i].state == GS_OPEN || c->props[i].state == GS_PUSHED;
	open += c->fresh;
	gstore__opened_since(c->s, c->now - 3600, &hour);
	if (open >= c->pol.max_open || hour >= c->pol.per_hour) {
		snprintf(why, sizeof(why),
			 "%lld pull requests open (pace.maxOpen %d), %lld opened in "
			 "the last hour (pace.perHour %d): waiting",
			 (long long)open, c->pol.max_open, (long long)hour, c->pol.per_hour);
		group_verdict(c, g, "pace", "block", why);
		return true;
	}
	snprintf(why, sizeof(why), "%lld open (max %d), %lld in the last hour (max %d)",
		 (long long)open, c->pol.max_open, (long long)hour, c->pol.per_hour);
	group_verdict(c, g, "pace", "pass", why);
	return false;
}

static void dry_run(struct cyc *c, const struct group *g, const char *hash)
{
	char err[512], *doc = NULL, *title = report__title(g, 0), *body;
	struct changes ch = { 0 };
	size_t i;

	say(c, "=== podmeter/%s: %s", g->name, title ? title : "");
	if (render(c, g, "dry-run", hash, &ch, &doc, err, sizeof(err))) {
		say(c, "  cannot render: %s", err);
	} else {
		for (i = 0; i < ch.n; i++)
			say(c, "--- %s (%zu bytes)\n%.*s", ch.v[i].path, ch.v[i].len,
			    (int)ch.v[i].len, ch.v[i].data);
		body = report__body(g, "dry-run", hash, doc);
		say(c, "--- pull request body\n%s", body ? body : "");
		free(body);
	}
	free(doc);
	free(title);
	changes__free(&ch);
}

static int new_row(struct cyc *c, const struct group *g, const char *hash, struct gs_prop *live,
		   struct gs_prop *row)
{
	struct gs_prop q;
	int64_t rev = 0;
	int ret;

	memset(row, 0, sizeof(*row));
	gstore__prop_maxrev(c->s, g->name, &rev);
	snprintf(row->grp, sizeof(row->grp), "%s", g->name);
	snprintf(row->kind, sizeof(row->kind), "%s", g->kind);
	snprintf(row->cluster, sizeof(row->cluster), "%s", g->cluster);
	snprintf(row->branch, sizeof(row->branch), "podmeter/%s", g->name);
	snprintf(row->base, sizeof(row->base), "%s", c->cfg->base);
	snprintf(row->content_hash, sizeof(row->content_hash), "%s", hash);
	snprintf(row->reverts, sizeof(row->reverts), "%s", g->reverts);
	row->rev = rev + 1;
	row->state = GS_CANDIDATE;
	row->savings_nd = g->savings_nd;
	row->needs_budget = g->needs_budget;
	row->urgent = g->urgent;
	row->created_at = row->updated_at = floor(c->now);
	snprintf(row->id, sizeof(row->id), "%s#%lld", row->grp, (long long)row->rev);
	row->doc = report__doc(g, row->id, hash);
	if (!row->doc)
		return -ENOMEM;
	/* a revision that never reached a pull request is superseded at once */
	if (live && live->state != GS_OPEN) {
		q = *live;
		q.state = GS_SUPERSEDED;
		q.updated_at = c->now;
		ret = gstore__prop_insert(c->s, row, g->items, g->n, &q, live->state);
		if (!ret)
			live->state = GS_SUPERSEDED;
	} else {
		ret = gstore__prop_insert(c->s, row, g->items, g->n, NULL, 0);
	}
	if (!ret) {
		c->res->candidates++;
		say(c, "%s: candidate, %zu values", row->id, g->n);
		crash_point(c, "after-candidate");
	}
	return ret;
}

static int write_group(struct cyc *c, struct group *g, char *err, size_t errlen)
{
	struct gs_prop *live = live_of(c, g->name), row, *prev = NULL;
	char hash[17], *title = NULL, *body = NULL;
	bool fresh = false;
	int ret = 0;

	report__hash(g, hash);
	if (!g->n)
		return live ? retire(c, live,
				     "podmeter has nothing left to propose here: the "
				     "values moved, or a guardrail holds them now")
			    : 0;
	if (live && live->human) {
		group_verdict(c, g, "branch", "block", "somebody pushed to the branch: left alone");
		return 0;
	}
	if (live && !strcmp(live->content_hash, hash)) {
		row = *live;
		/* resumed before it was open: the revision it replaces may hold the pull request */
		prev = row.state != GS_OPEN ? open_other(c, g->name, row.id) : NULL;
	} else {
		if (paced(c, g, live))
			return 0;
		if (c->cfg->dry_run) {
			dry_run(c, g, hash);
			return 0;
		}
		ret = new_row(c, g, hash, live, &row);
		if (ret)
			return ret;
		fresh = true;
		c->fresh += !live || live->state != GS_OPEN;
		prev = live && live->state == GS_OPEN ? live : NULL;
	}
	if (c->cfg->dry_run)
		return 0;
	title = report__title(g, 0);
	body = title ? report__body(g, row.id, hash, row.doc) : NULL;
	if (!body) {
		ret = -ENOMEM;
		goto out;
	}
	if (row.state == GS_CANDIDATE)
		ret = step_push(c, g, &row, title, err, errlen);
	if (!ret && row.state == GS_PUSHED)
		ret = step_open(c, g, &row, prev, title, body, err, errlen);
	else if (!ret && row.state == GS_OPEN && !fresh)
		ret = step_rebase(c, g, &row, err, errlen);
	if (ret == -EPERM) {
		group_verdict(c, g, "branch", "block", err);
		c->res->left_alone++;
		ret = 0;
	}
out:
	if (ret && !err[0])
		snprintf(err, errlen, "%s", c->forge ? forge__error(c->forge) : strerror(-ret));
	if (fresh)
		gs_prop__free(&row);
	free(title);
	free(body);
	return ret;
}

/* Groups with a live proposal and nothing this cycle: empty, so that they retire. */
static void empty_groups(struct cyc *c)
{
	size_t i, k;

	for (i = 0; i < c->n_props; i++) {
		const struct gs_prop *p = &c->props[i];

		if (p->state > GS_OPEN || !strcmp(p->kind, "revert"))
			continue;
		for (k = 0; k < c->n_groups; k++)
			if (!strcmp(c->groups[k].name, p->grp))
				break;
		if (k == c->n_groups && c->n_groups < CYCLE_MAX_GROUPS) {
			memset(&c->groups[k], 0, sizeof(c->groups[k]));
			snprintf(c->groups[k].name, sizeof(c->groups[k].name), "%s", p->grp);
			snprintf(c->groups[k].kind, sizeof(c->groups[k].kind), "%s", p->kind);
			c->n_groups++;
		}
	}
}

/* ---- the dashboard ---- */

static int dashboard_issue(struct cyc *c, const char *cluster, const char *md)
{
	char key[300], hash[17] = "", have[32] = "", marker[400];
	int64_t number = 0;
	int ret;

	snprintf(key, sizeof(key), "dashboard/%s", cluster);
	snprintf(marker, sizeof(marker), "<!-- podmeter-dashboard cluster=%s -->", cluster);
	{
		uint64_t h = 0xcbf29ce484222325ULL;
		const char *s;

		for (s = md; *s; s++)
			h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
		snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)h);
	}
	if (!gstore__forge_get(c->s, "issue", key, &number, have, sizeof(have)) &&
	    !strcmp(have, hash))
		return 0;
	if (!number && forge__find_issue(c->forge, "podmeter-dashboard", marker, &number))
		number = 0;
	if (number)
		ret = forge__update_issue(c->forge, number,
					  "podmeter: zombies, orphans and idle "
					  "workloads",
					  md);
	else
		ret = forge__create_issue(c->forge, "podmeter: zombies, orphans and idle workloads",
					  md, "podmeter-dashboard", &number);
	if (!ret)
		ret = gstore__forge_put(c->s, "issue", key, number, hash, c->now);
	if (!ret)
		say(c, "dashboard: issue #%lld", (long long)number);
	return ret;
}

static int dashboard_file(struct cyc *c, const char *md)
{
	char sha[GITW_SHA], head[GITW_SHA] = "", err[512];
	struct changes ch = { 0 };
	bool same;
	int ret = changes__set(&ch, "PODMETER-DASHBOARD.md", strdup(md), strlen(md));

	if (!ret)
		ret = gitw__commit(c->git, c->base_sha, &ch,
				   "podmeter: dashboard\n\n"
				   "Podmeter-Group: dashboard\n",
				   floor(c->now / 86400) * 86400, sha, &same, err, sizeof(err));
	changes__free(&ch);
	if (ret)
		return ret;
	gitw__head(c->git, "podmeter/dashboard", head);
	if (!strcmp(head, sha))
		return 0;
	if (head[0] && !gitw__is_ours(c->git, head, "dashboard"))
		return 0;
	ret = gitw__push(c->git, "podmeter/dashboard", sha, head, err, sizeof(err));
	if (ret)
		say(c, "warning: dashboard: %s", err);
	return ret;
}

static void dashboard(struct cyc *c)
{
	const char *mode = c->cfg->dashboard ? c->cfg->dashboard : "issue";
	char clusters[16][GS_NAME];
	size_t nc = 0, i, k;
	char *md;

	if (!strcmp(mode, "none") || c->cfg->dry_run || (!strcmp(mode, "issue") && !c->forge))
		return;
	for (i = 0; i < c->tgts.n || (i == 0 && !c->tgts.n); i++) {
		const char *cl = c->tgts.n ? c->tgts.v[i].cluster : "";

		for (k = 0; k < nc && strcmp(clusters[k], cl); k++)
			;
		if (k == nc && nc < 16)
			snprintf(clusters[nc++], GS_NAME, "%s", cl);
	}
	for (i = 0; i < nc; i++) {
		md = report__dashboard(c->s, clusters[i], c->idle, c->n_idle, c->now);
		if (!md)
			continue;
		if (strcmp(mode, "file") ? dashboard_issue(c, clusters[i], md)
					 : dashboard_file(c, md))
			c->res->errors++;
		free(md);
	}
}

/* ---- the cycle ---- */

static void cyc_free(struct cyc *c)
{
	size_t i;

	groups_free(c);
	for (i = 0; i < TGT_MAX; i++)
		if (c->mf_done[i])
			mf__free(&c->mf[i]);
	targets__free(&c->tgts);
	policy__free(&c->pol);
	gstore__props_free(c->props, c->n_props);
	free(c->idle);
	forge__close(c->forge);
	gitw__close(c->git);
}

static void write_groups(struct cyc *c)
{
	char err[1024];
	size_t i;

	for (i = 0; i < c->n_groups; i++) {
		err[0] = '\0';
		c->res->groups++;
		if (write_group(c, &c->groups[i], err, sizeof(err))) {
			say(c, "warning: podmeter/%s: %s; trying again next cycle",
			    c->groups[i].name, err);
			c->res->errors++;
		}
	}
}

static int cycle_body(struct cyc *c, char *err, size_t errlen)
{
	size_t i;
	int ret;

	ret = open_repo(c, err, errlen);
	if (!ret && c->cfg->has_forge && !c->cfg->dry_run)
		ret = forge__open(&c->forge, &c->cfg->forge, err, errlen);
	if (!ret)
		ret = load_props(c);
	if (ret)
		return ret;
	for (i = 0; i < c->n_props && !c->cfg->dry_run; i++)
		follow(c, &c->props[i]);
	for (i = 0; i < c->n_props; i++)
		verify_one(c, &c->props[i]);
	ret = load_props(c);
	if (!ret)
		ret = decide_all(c);
	if (ret) {
		snprintf(err, errlen, "deciding: %s", strerror(-ret));
		return ret;
	}
	revert_groups(c);
	empty_groups(c);
	if (!c->forge && !c->cfg->dry_run) {
		say(c, "note: no forge given (--forge): nothing is written");
	} else {
		write_groups(c);
	}
	store_verdicts(c);
	dashboard(c);
	return 0;
}

int cycle__run(struct store *s, const struct cycle_cfg *cfg, struct cycle_result *res, char *err,
	       size_t errlen)
{
	struct cyc *c = calloc(1, sizeof(*c));
	int ret;

	memset(res, 0, sizeof(*res));
	if (!c)
		return -ENOMEM;
	c->s = s;
	c->cfg = cfg;
	c->res = res;
	c->out = cfg->out;
	c->now = cfg->now > 0 ? cfg->now : clock_now();
	ret = cfg->dry_run ? 1 : gstore__try_lock(s, CYCLE_LOCK_KEY);
	if (ret <= 0) {
		free(c);
		if (!ret)
			snprintf(err, errlen, "another replica holds the writer's lock");
		return ret ? ret : -EAGAIN;
	}
	ret = cycle_body(c, err, errlen);
	if (!cfg->dry_run)
		gstore__unlock(s, CYCLE_LOCK_KEY);
	cyc_free(c);
	free(c);
	return ret;
}
