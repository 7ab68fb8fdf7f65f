// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The guardrail table: one case per rule, each run twice, once set up so
 * that the rule holds the change (block, adjust or label, with the value
 * the policy says) and once so that it lets it through (pass). The
 * figures expected are worked out from the case's own numbers. Pace is
 * tested end to end (tests/integration/test_reconciler_propose.sh).
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
#include "guard.h"
#include "store.h"

#define NOW 1790208000.0
#define MIB 1048576.0

struct env {
	struct rec r;
	struct pol_settings st;
	struct policy pol;
	struct mf_workload mf;
	struct guard_in in;
	double ns_increase;
	struct store *s;
};

static char url[512];

static void base(struct env *e, struct store *s)
{
	char err[256];

	memset(e, 0, sizeof(*e));
	snprintf(e->r.wl.cluster, sizeof(e->r.wl.cluster), "lab");
	snprintf(e->r.wl.ns, sizeof(e->r.wl.ns), "shop");
	snprintf(e->r.wl.kind, sizeof(e->r.wl.kind), "Deployment");
	snprintf(e->r.wl.name, sizeof(e->r.wl.name), "web");
	snprintf(e->r.container, sizeof(e->r.container), "app");
	e->r.cur_cpu = 1;
	e->r.cur_mem = 1024 * MIB;
	e->r.cur_cpu_lim = 2;
	e->r.cur_mem_lim = 2048 * MIB;
	e->r.cpu_want = 0.6;
	e->r.mem_want = 700 * MIB;
	e->r.days = 6;
	e->r.confidence = 6.0 / 7;
	e->r.replicas = 4;
	e->r.cpu_price = 0.04;
	e->r.mem_price = 0.005;
	e->r.quantile = 0.95;
	policy__builtin(&e->st);
	assert_int_equal(policy__load(&e->pol, NULL, 0, NULL, 0, err, sizeof(err)), 0);
	snprintf(e->mf.kind, sizeof(e->mf.kind), "Deployment");
	snprintf(e->mf.name, sizeof(e->mf.name), "web");
	snprintf(e->mf.ctr[0], sizeof(e->mf.ctr[0]), "app");
	e->mf.n_ctr = 1;
	e->s = s;
	e->in = (struct guard_in){ .r = &e->r,
				   .st = &e->st,
				   .pol = &e->pol,
				   .has_target = true,
				   .target_path = "apps/shop",
				   .mf = &e->mf,
				   .now = NOW,
				   .s = s,
				   .ns_increase = &e->ns_increase };
}

static const struct gs_verdict *find(const struct guard_out *o, const char *rule, const char *res)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (!strcmp(o->v[i].rule, rule) && (!res || !strcmp(o->v[i].resource, res)))
			return &o->v[i];
	return NULL;
}

static void expect(const struct guard_out *o, const char *rule, const char *res,
		   const char *outcome)
{
	const struct gs_verdict *v = find(o, rule, res);

	if (!v || strcmp(v->outcome, outcome))
		fail_msg("rule %s (%s): wanted %s, got %s: %s", rule, res ? res : "*", outcome,
			 v ? v->outcome : "no verdict", v ? v->detail : "");
}

/* A policy file's text into e->pol. */
static void with_policy(struct env *e, const char *yaml)
{
	char err[256];

	policy__free(&e->pol);
	if (policy__load(&e->pol, NULL, 0, yaml, strlen(yaml), err, sizeof(err)))
		fail_msg("policy: %s", err);
	policy__for(&e->pol, "shop", "Deployment", "web", &e->st);
}

static void run(struct env *e, struct guard_out *o)
{
	guard__run(&e->in, o);
}

static void test_scope(void **state)
{
	struct env e;
	struct guard_out o;

	(void)state;
	base(&e, NULL);
	run(&e, &o);
	expect(&o, "scope", "*", "pass");
	assert_true(guard__any(&o));
	with_policy(&e, "scope:\n  namespaces:\n    exclude: [\"^shop$\"]\n");
	run(&e, &o);
	expect(&o, "scope", "*", "block");
	assert_false(guard__any(&o));
	with_policy(&e, "rules:\n  - workload: ^Deployment/web$\n    exclude: true\n");
	run(&e, &o);
	expect(&o, "scope", "*", "block");
	with_policy(&e, "defaults: {}\n");
	e.mf.opted_out = true; /* the annotation, as the manifest scan reads it */
	run(&e, &o);
	expect(&o, "scope", "*", "block");
	assert_non_null(strstr(find(&o, "scope", "*")->detail, "podmeter.io/rightsize"));
	policy__free(&e.pol);
}

static void test_target(void **state)
{
	struct env e;
	struct guard_out o;

	(void)state;
	base(&e, NULL);
	run(&e, &o);
	expect(&o, "target", "*", "pass");
	e.in.has_target = false;
	run(&e, &o);
	expect(&o, "target", "*", "block");
	e.in.has_target = true;
	snprintf(e.mf.ctr[0], sizeof(e.mf.ctr[0]), "sidecar");
	run(&e, &o);
	expect(&o, "target", "*", "block");
	e.in.mf = NULL;
	run(&e, &o);
	expect(&o, "target", "*", "block");
	assert_false(guard__any(&o));
	policy__free(&e.pol);
}

static void test_data_and_urgent(void **state)
{
	struct env e;
	struct guard_out o;

	(void)state;
	base(&e, NULL);
	e.r.days = 1;
	e.r.confidence = 0.5;
	run(&e, &o);
	expect(&o, "data", "cpu", "block"); /* min 3 days */
	assert_false(guard__any(&o));
	/* OOM kills: memory goes up at once, whatever the data */
	e.r.ooms = 2;
	e.r.mem_want = 900 * MIB;
	run(&e, &o);
	expect(&o, "urgent", "memory", "adjust");
	expect(&o, "data", "memory", "pass");
	expect(&o, "data", "cpu", "block");
	/* max(request 1Gi, limit 2Gi) x 1.5 = 3Gi */
	assert_true(fabs(o.mem - 3072 * MIB) < 1);
	assert_true(o.cpu == GUARD_UNTOUCHED);
	assert_true(o.urgent);
	/* heavy throttling: CPU up at once */
	base(&e, NULL);
	e.r.throttle_ratio = 0.3;
	run(&e, &o);
	expect(&o, "urgent", "cpu", "adjust");
	assert_true(fabs(o.cpu - 1.5) < 1e-9);
	base(&e, NULL);
	run(&e, &o);
	expect(&o, "urgent", "cpu", "pass");
	expect(&o, "data", "*", "pass");
	policy__free(&e.pol);
}

static void test_hpa(void **state)
{
	struct env e;
	struct guard_out o;

	(void)state;
	base(&e, NULL);
	run(&e, &o);
	expect(&o, "hpa", "cpu", "pass");
	e.mf.hpa_cpu = true;
	snprintf(e.mf.hpa, sizeof(e.mf.hpa), "web");
	run(&e, &o);
	expect(&o, "hpa", "cpu", "block");
	assert_true(o.cpu == GUARD_UNTOUCHED && o.mem != GUARD_UNTOUCHED);
	with_policy(&e, "defaults:\n  hpa: ignore\n");
	run(&e, &o);
	expect(&o, "hpa", "cpu", "pass");
	assert_true(o.cpu != GUARD_UNTOUCHED);
	policy__free(&e.pol);
}

static void test_bounds_floor_step(void **state)
{
	struct env e;
	struct guard_out o;

	(void)state;
	base(&e, NULL);
	run(&e, &o);
	expect(&o, "bounds", "cpu", "pass");
	expect(&o, "step", "cpu", "pass");
	assert_true(fabs(o.cpu - 0.6) < 1e-9);
	/* bounds: at most 700m, at least 800m of memory... of CPU: clamped */
	with_policy(&e, "defaults:\n  cpu: {min: 700m}\n  memory: {max: 600Mi}\n");
	run(&e, &o);
	expect(&o, "bounds", "cpu", "adjust");
	expect(&o, "bounds", "memory", "adjust");
	assert_true(fabs(o.cpu - 0.7) < 1e-9 && fabs(o.mem - 600 * MIB) < 1);
	/* floor: never decreased below 800m; at or below it, not decreased at all */
	with_policy(&e, "defaults:\n  cpu: {floor: 800m}\n");
	run(&e, &o);
	expect(&o, "floor", "cpu", "adjust");
	assert_true(fabs(o.cpu - 0.8) < 1e-9);
	with_policy(&e, "defaults:\n  cpu: {floor: \"1\"}\n");
	run(&e, &o);
	expect(&o, "floor", "cpu", "block");
	assert_true(o.cpu == GUARD_UNTOUCHED);
	/* step: 1 core -> 200m is 80% down; the largest step is 50%: 500m */
	with_policy(&e, "defaults: {}\n");
	e.r.cpu_want = 0.2;
	run(&e, &o);
	expect(&o, "step", "cpu", "adjust");
	assert_true(fabs(o.cpu - 0.5) < 1e-9);
	policy__free(&e.pol);
}

static void test_cooldown(void **state)
{
	struct env e;
	struct guard_out o;

	(void)state;
	base(&e, NULL);
	e.in.last_merge = NOW - 10 * 86400;
	run(&e, &o);
	expect(&o, "cooldown", "cpu", "pass");
	e.in.last_merge = NOW - 2 * 86400; /* within 7 days */
	run(&e, &o);
	expect(&o, "cooldown", "cpu", "block");
	expect(&o, "cooldown", "memory", "block");
	assert_false(guard__any(&o));
	/* a change seen in the reports counts as well */
	e.in.last_merge = 0;
	e.r.last_change = NOW - 86400;
	run(&e, &o);
	expect(&o, "cooldown", "cpu", "block");
	/* an increase is not held */
	e.r.cpu_want = 1.5;
	run(&e, &o);
	assert_null(find(&o, "cooldown", "cpu"));
	assert_true(fabs(o.cpu - 1.5) < 1e-9);
	policy__free(&e.pol);
}

static void test_worth(void **state)
{
	struct env e;
	struct guard_out o;
	double saved;

	(void)state;
	base(&e, NULL);
	e.r.cpu_want = 0.95; /* 5% */
	run(&e, &o);
	expect(&o, "worth", "cpu", "block");
	e.r.cpu_want = 0.6; /* 40% */
	run(&e, &o);
	expect(&o, "worth", "cpu", "pass");
	/* 0.4 cores x 4 replicas x $0.04 x 730 h = $46.72 a month; the policy asks for $50 */
	saved = 0.4 * 4 * 0.04 * 730;
	with_policy(&e, "defaults:\n  minMonthlySavings: 50\n");
	run(&e, &o);
	expect(&o, "worth", "cpu", "block");
	assert_non_null(strstr(find(&o, "worth", "cpu")->detail, "46.72"));
	with_policy(&e, "defaults:\n  minMonthlySavings: 46\n");
	run(&e, &o);
	expect(&o, "worth", "cpu", "pass");
	/* memory: 324 MiB x 4 x $0.005 x 730 = $4.62, under $46: held; the change saves the CPU's */
	expect(&o, "worth", "memory", "block");
	assert_true(llabs(o.savings_nd - llround(saved * 1e9)) <= 2);
	with_policy(&e, "defaults:\n  minMonthlySavings: 4\n");
	run(&e, &o);
	assert_true(llabs(o.savings_nd - llround((saved + 324.0 / 1024 * 4 * 0.005 * 730) * 1e9)) <=
		    2);
	policy__free(&e.pol);
}

static void test_rejection(void **state)
{
	struct env e;
	struct guard_out o;
	struct gs_prop p, q;
	struct gs_item it;
	struct store *s;
	char err[256];

	(void)state;
	snprintf(url, sizeof(url), "sqlite:%s/pm_rec_guard.%d.db",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	assert_int_equal(store__open(&s, url, err, sizeof(err)), 0);
	base(&e, s);
	run(&e, &o);
	expect(&o, "rejection", "cpu", "pass");
	/* a pull request for 620m, closed unmerged 3 days ago */
	memset(&p, 0, sizeof(p));
	snprintf(p.grp, sizeof(p.grp), "lab-shop");
	snprintf(p.kind, sizeof(p.kind), "resize");
	p.rev = 1;
	p.state = GS_OPEN;
	memset(&it, 0, sizeof(it));
	it.wl = e.r.wl;
	snprintf(it.container, sizeof(it.container), "app");
	snprintf(it.resource, sizeof(it.resource), "cpu");
	it.current = 1;
	it.proposed = 0.62;
	assert_int_equal(gstore__prop_insert(s, &p, &it, 1, NULL, 0), 0);
	q = p;
	q.state = GS_CLOSED;
	q.closed_at = NOW - 3 * 86400;
	assert_int_equal(gstore__prop_update(s, &q, GS_OPEN, NULL, 0), 0);
	assert_int_equal(gstore__prop_update(s, &q, GS_OPEN, NULL, 0), -ESTALE); /* moved on */
	run(&e, &o);
	expect(&o, "rejection", "cpu", "block"); /* 600m is 3% from 620m */
	expect(&o, "rejection", "memory", "pass");
	e.r.cpu_want = 0.8; /* 29% from it: moved enough */
	run(&e, &o);
	expect(&o, "rejection", "cpu", "pass");
	e.r.cpu_want = 0.6;
	e.in.now = NOW + 28 * 86400; /* 31 days after: forgotten */
	run(&e, &o);
	expect(&o, "rejection", "cpu", "pass");
	store__close(s);
	unlink(url + 7);
	policy__free(&e.pol);
}

static void test_limits(void **state)
{
	struct env e;
	struct guard_out o;

	(void)state;
	base(&e, NULL);
	run(&e, &o); /* keep-ratio: 2x */
	expect(&o, "limits", "cpu", "pass");
	assert_true(fabs(o.cpu_lim - 1.2) < 1e-9 && fabs(o.mem_lim - 1400 * MIB) < 1);
	with_policy(&e, "defaults:\n  limits: multiplier\n  limitMultiplier: 3\n");
	run(&e, &o);
	assert_true(fabs(o.cpu_lim - 1.8) < 1e-9);
	with_policy(&e, "defaults:\n  limits: none\n");
	run(&e, &o);
	assert_true(o.cpu_lim == -1 && o.mem_lim == -1); /* removed */
	/* requests only: an increase past the current limit is held */
	with_policy(&e, "defaults:\n  set: requests\n");
	run(&e, &o);
	expect(&o, "limits", "cpu", "pass");
	assert_true(o.cpu_lim == GUARD_UNTOUCHED);
	e.r.cpu_want = 2.5;
	run(&e, &o);
	expect(&o, "limits", "cpu", "block");
	assert_true(o.cpu == GUARD_UNTOUCHED);
	policy__free(&e.pol);
}

static void test_budget(void **state)
{
	struct env e;
	struct guard_out o;

	(void)state;
	base(&e, NULL);
	e.r.cpu_want = 1.5; /* +0.5 core x 4 x $0.04 x 730 = +$58.40 a month */
	e.r.mem_want = 1024 * MIB;
	run(&e, &o);
	expect(&o, "budget", "*", "pass");
	assert_false(o.needs_budget);
	with_policy(&e, "budgets:\n  shop: 1000\n");
	e.in.ns_cost_month = 900;
	run(&e, &o);
	expect(&o, "budget", "*", "pass"); /* 958.40 <= 1000 */
	e.ns_increase = 0;
	e.in.ns_cost_month = 950;
	run(&e, &o);
	expect(&o, "budget", "*", "label"); /* 1008.40 > 1000 */
	assert_true(o.needs_budget);
	assert_true(o.cpu != GUARD_UNTOUCHED); /* labelled, not held */
	/* auto-merge is never asked for a change that needs budget approval */
	with_policy(&e, "defaults:\n  autoMerge: true\nbudgets:\n  shop: 1000\n");
	e.ns_increase = 0;
	run(&e, &o);
	assert_false(o.auto_merge);
	e.ns_increase = 0;
	e.in.ns_cost_month = 0;
	run(&e, &o);
	assert_true(o.auto_merge);
	policy__free(&e.pol);
}

static void test_freeze(void **state)
{
	struct policy p;
	char err[256], why[256];
	/* NOW is Thursday 2026-09-24 00:00 UTC */
	const char *abs_ =
		"freeze:\n  - {from: \"2026-09-20T00:00:00Z\", to: \"2026-09-25T00:00:00Z\"}\n";
	const char *weekly = "freeze:\n  - {days: [thu], from: \"00:00\", to: \"06:00\"}\n";

	(void)state;
	assert_int_equal(policy__load(&p, NULL, 0, abs_, strlen(abs_), err, sizeof(err)), 0);
	assert_true(policy__frozen(&p, NOW, why, sizeof(why)));
	assert_false(policy__frozen(&p, NOW + 2 * 86400, why, sizeof(why)));
	policy__free(&p);
	assert_int_equal(policy__load(&p, NULL, 0, weekly, strlen(weekly), err, sizeof(err)), 0);
	assert_true(policy__frozen(&p, NOW + 3600, why, sizeof(why)));
	assert_false(policy__frozen(&p, NOW + 7 * 3600, why, sizeof(why)));
	assert_false(policy__frozen(&p, NOW + 86400 + 3600, why, sizeof(why)));
	policy__free(&p);
}

/* Bad policy files are refused with what is wrong; layers: repository over local, later rules win. */
static void test_policy_file(void **state)
{
	static const struct {
		const char *yaml, *err;
	} bad[] = {
		{ "defaults:\n  cpu: {target: 1.5}\n", "cpu.target: bad value" },
		{ "defaults:\n  cpu: {tagret: 0.5}\n", "unknown key cpu.tagret" },
		{ "defaults:\n  memory: {min: lots}\n", "memory.min: bad value" },
		{ "rules:\n  - namespace: \"(\"\n", "bad regular expression" },
		{ "freeze:\n  - {from: yesterday}\n", "freeze[0]" },
		{ "budgets:\n  shop: many\n", "budgets: shop" },
		{ "pacing: {}\n", "unknown key pacing" },
		{ "defaults: [1, 2\n", "line" },
	};
	const char *local = "defaults:\n  cpu: {target: 0.6}\n  minDays: 5\n";
	const char *repo = "defaults:\n  cpu: {target: 0.8}\nrules:\n  - namespace: ^shop$\n"
			   "    cpu: {target: 0.5}\n  - workload: ^Deployment/web$\n"
			   "    cpu: {target: 0.4}\n";
	struct pol_settings st;
	struct policy p;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(policy__load(&p, NULL, 0, bad[i].yaml, strlen(bad[i].yaml),
						  err, sizeof(err)),
				     0);
		if (!strstr(err, bad[i].err))
			fail_msg("%s: got \"%s\", wanted \"%s\"", bad[i].yaml, err, bad[i].err);
	}
	assert_int_equal(
		policy__load(&p, local, strlen(local), repo, strlen(repo), err, sizeof(err)), 0);
	policy__for(&p, "shop", "Deployment", "web", &st);
	assert_true(st.cpu_target == 0.4 && st.min_days == 5);
	policy__for(&p, "shop", "Deployment", "api", &st);
	assert_true(st.cpu_target == 0.5);
	policy__for(&p, "data", "Deployment", "web", &st);
	assert_true(st.cpu_target == 0.4);
	policy__for(&p, "data", "Deployment", "x", &st);
	assert_true(st.cpu_target == 0.8);
	policy__free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_data_and_urgent),
		cmocka_unit_test(test_hpa),
		cmocka_unit_test(test_bounds_floor_step),
		cmocka_unit_test(test_cooldown),
		cmocka_unit_test(test_worth),
		cmocka_unit_test(test_rejection),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_freeze),
		cmocka_unit_test(test_policy_file),
	};

	return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
