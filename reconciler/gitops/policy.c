// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The guardrail policy: a key table over YAML blocks, layered. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <podmeter/quantity.h>
#include "policy.h"

enum key_type { K_NUM, K_FRACTION, K_CPU, K_MEM, K_BOOL, K_SET, K_LIMITS, K_HPA };

struct key {
	const char *path; /* dotted, as written in YAML */
	size_t off;
	enum key_type type;
	double lo, hi; /* K_NUM bounds */
};

#define O(m) offsetof(struct pol_settings, m)
static const struct key keys[] = {
	{ "exclude", O(exclude), K_BOOL, 0, 0 },
	{ "cpu.quantile", O(cpu_quantile), K_FRACTION, 0, 0 },
	{ "cpu.target", O(cpu_target), K_FRACTION, 0, 0 },
	{ "cpu.min", O(cpu_min), K_CPU, 0, 0 },
	{ "cpu.max", O(cpu_max), K_CPU, 0, 0 },
	{ "cpu.floor", O(cpu_floor), K_CPU, 0, 0 },
	{ "memory.headroom", O(mem_headroom), K_NUM, 1, 10 },
	{ "memory.days", O(mem_days), K_NUM, 0.01, 400 },
	{ "memory.min", O(mem_min), K_MEM, 0, 0 },
	{ "memory.max", O(mem_max), K_MEM, 0, 0 },
	{ "memory.floor", O(mem_floor), K_MEM, 0, 0 },
	{ "set", O(set), K_SET, 0, 0 },
	{ "limits", O(limits), K_LIMITS, 0, 0 },
	{ "limitMultiplier", O(limit_multiplier), K_NUM, 1, 100 },
	{ "minDays", O(min_days), K_NUM, 0, 400 },
	{ "minConfidence", O(min_confidence), K_FRACTION, 0, 0 },
	{ "minChangePercent", O(min_change_pct), K_NUM, 0, 1000 },
	{ "minMonthlySavings", O(min_savings), K_NUM, 0, 1e9 },
	{ "maxStepDownPercent", O(max_step_down_pct), K_NUM, 1, 100 },
	{ "cooldownDays", O(cooldown_days), K_NUM, 0, 400 },
	{ "urgent.oomKills", O(urgent_ooms), K_NUM, 1, 1e9 },
	{ "urgent.throttlingPercent", O(urgent_throttle_pct), K_NUM, 0, 1e6 },
	{ "urgent.increase", O(oom_increase), K_NUM, 1, 100 },
	{ "seasonality.minStrength", O(season_min_strength), K_FRACTION, 0, 0 },
	{ "seasonality.lookbackDays", O(season_lookback_days), K_NUM, 1, 400 },
	{ "idle.days", O(idle_days), K_NUM, 0.01, 400 },
	{ "idle.maxCores", O(idle_max_cores), K_NUM, 0, 1000 },
	{ "idle.scaleToZero", O(idle_scale_to_zero), K_BOOL, 0, 0 },
	{ "rejection.changePercent", O(rej_change_pct), K_NUM, 0, 1000 },
	{ "rejection.days", O(rej_days), K_NUM, 0, 400 },
	{ "verify.afterHours", O(verify_after_h), K_NUM, 0.01, 24 * 60 },
	{ "verify.oomKills", O(verify_ooms), K_NUM, 1, 1e9 },
	{ "verify.throttlingPercent", O(verify_throttle_pct), K_NUM, 0, 1e6 },
	{ "verify.runqueueIncreasePercent", O(verify_rq_pct), K_NUM, 0, 1e6 },
	{ "verify.restartsPerHour", O(verify_restarts), K_NUM, 0.01, 1e6 },
	{ "hpa", O(hpa), K_HPA, 0, 0 },
	{ "autoMerge", O(auto_merge), K_BOOL, 0, 0 },
};
#undef O
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

void policy__builtin(struct pol_settings *s)
{
	*s = (struct pol_settings){
		.cpu_quantile = 0.95,
		.cpu_target = 0.7,
		.cpu_min = 0.01,
		.cpu_max = 64,
		.cpu_floor = 0,
		.mem_headroom = 1.2,
		.mem_days = 7,
		.mem_min = 16 << 20,
		.mem_max = 256.0 * (1 << 30),
		.mem_floor = 0,
		.set = POL_SET_REQUESTS_LIMITS,
		.limits = POL_LIM_KEEP_RATIO,
		.limit_multiplier = 2,
		.min_days = 3,
		.min_confidence = 0.5,
		.min_change_pct = 10,
		.min_savings = 1,
		.max_step_down_pct = 50,
		.cooldown_days = 7,
		.urgent_ooms = 1,
		.urgent_throttle_pct = 25,
		.oom_increase = 1.5,
		.season_min_strength = 0.5,
		.season_lookback_days = 28,
		.idle_days = 7,
		.idle_max_cores = 0.005,
		.idle_scale_to_zero = false,
		.rej_change_pct = 20,
		.rej_days = 30,
		.verify_after_h = 24,
		.verify_ooms = 1,
		.verify_throttle_pct = 10,
		.verify_rq_pct = 50,
		.verify_restarts = 1,
		.hpa = POL_HPA_SKIP_CPU,
		.auto_merge = false,
	};
}

static int enum_of(const char *v, const char *const *names)
{
	int i;

	for (i = 0; names[i]; i++)
		if (!strcmp(v, names[i]))
			return i;
	return -1;
}

/* Write @n's value for key @k into @s. 0 or -EINVAL. */
static int key_set(struct pol_settings *s, const struct key *k, yaml_node_t *n)
{
	static const char *const sets[] = { "requests", "requests-and-limits", NULL };
	static const char *const lims[] = { "none", "keep-ratio", "multiplier", NULL };
	static const char *const hpas[] = { "skip-cpu", "ignore", NULL };
	void *dst = (char *)s + k->off;
	const char *v = yt__str(n);
	struct pm_quantity q;
	int64_t x;
	double d;
	int e;

	if (!v)
		return -EINVAL;
	switch (k->type) {
	case K_BOOL:
		return yt__bool(n, dst);
	case K_NUM:
	case K_FRACTION:
		if (yt__num(n, &d) || !isfinite(d))
			return -EINVAL;
		if (k->type == K_FRACTION ? !(d > 0 && d <= 1) : (d < k->lo || d > k->hi))
			return -EINVAL;
		*(double *)dst = d;
		return 0;
	case K_CPU:
		if (quantity__parse(v, &q) || quantity__milli(&q, &x) || x < 0)
			return -EINVAL;
		*(double *)dst = x / 1000.0;
		return 0;
	case K_MEM:
		if (quantity__parse(v, &q) || quantity__units(&q, &x) || x < 0)
			return -EINVAL;
		*(double *)dst = (double)x;
		return 0;
	case K_SET:
	case K_LIMITS:
	case K_HPA:
		e = enum_of(v, k->type == K_SET ? sets : k->type == K_LIMITS ? lims : hpas);
		if (e < 0)
			return -EINVAL;
		*(int *)dst = e;
		return 0;
	}
	return -EINVAL;
}

static const struct key *key_of(const char *path)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].path, path))
			return &keys[i];
	return NULL;
}

/*
 * Apply a settings block (a mapping) onto @s: every leaf by its dotted
 * path. @skip names keys of the block that are not settings (a rule's
 * "namespace", "workload"). -EINVAL with @err naming the key.
 */
static int apply_block(struct pol_settings *s, yaml_document_t *d, yaml_node_t *n,
		       const char *prefix, const char *const *skip, char *err, size_t errlen)
{
	yaml_node_pair_t *pr;
	char path[256];
	size_t i;
	int ret;

	if (!yt__is_map(n)) {
		snprintf(err, errlen, "%s: not a mapping", prefix[0] ? prefix : "settings");
		return -EINVAL;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		const char *k = yt__str(yaml_document_get_node(d, pr->key));
		yaml_node_t *v = yaml_document_get_node(d, pr->value);
		const struct key *key;
		bool skipped = false;

		if (!k) {
			snprintf(err, errlen, "%s: a key that is not a string", prefix);
			return -EINVAL;
		}
		for (i = 0; skip && skip[i] && !prefix[0]; i++)
			skipped |= !strcmp(skip[i], k);
		if (skipped)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k);
		if (yt__is_map(v)) {
			ret = apply_block(s, d, v, path, NULL, err, errlen);
			if (ret)
				return ret;
			continue;
		}
		key = key_of(path);
		if (!key) {
			snprintf(err, errlen, "unknown key %s", path);
			return -EINVAL;
		}
		if (key_set(s, key, v)) {
			snprintf(err, errlen, "%s: bad value \"%.64s\"", path,
				 yt__str(v) ? yt__str(v) : "");
			return -EINVAL;
		}
	}
	return 0;
}

static const char *const rule_keys[] = { "namespace", "workload", NULL };

static int compile(regex_t *re, const char *src, char *err, size_t errlen)
{
	int ret = regcomp(re, src, REG_EXTENDED | REG_NOSUB);

	if (ret) {
		snprintf(err, errlen, "bad regular expression \"%.100s\"", src);
		return -EINVAL;
	}
	return 0;
}

static int load_rules(struct policy *p, yaml_document_t *d, yaml_node_t *rules, char *err,
		      size_t errlen)
{
	struct pol_settings scratch;
	size_t i;

	for (i = 0; i < yt__len(rules); i++) {
		yaml_node_t *r = yt__item(d, rules, i);
		struct pol_rule *pr;
		const char *ns, *wl;
		char why[200];

		if (p->n_rules == POL_MAX_RULES) {
			snprintf(err, errlen, "more than %d rules", POL_MAX_RULES);
			return -E2BIG;
		}
		policy__builtin(&scratch);
		if (apply_block(&scratch, d, r, "", rule_keys, why, sizeof(why))) {
			snprintf(err, errlen, "rules[%zu]: %s", i, why);
			return -EINVAL;
		}
		pr = &p->rules[p->n_rules];
		pr->doc = d;
		pr->node = r;
		ns = yt__str(yt__get(d, r, "namespace"));
		wl = yt__str(yt__get(d, r, "workload"));
		if (ns && compile(&pr->ns, ns, err, errlen))
			return -EINVAL;
		pr->has_ns = ns;
		if (wl && compile(&pr->wl, wl, err, errlen)) {
			if (ns)
				regfree(&pr->ns);
			pr->has_ns = false;
			return -EINVAL;
		}
		pr->has_wl = wl;
		p->n_rules++;
	}
	return 0;
}

static int load_patterns(struct pol_patterns *pp, yaml_document_t *d, yaml_node_t *seq, char *err,
			 size_t errlen)
{
	size_t i;

	for (i = 0; i < pp->n; i++) {
		regfree(&pp->re[i]);
		free(pp->src[i]);
	}
	pp->n = 0;
	for (i = 0; i < yt__len(seq) && i < POL_MAX_PATTERNS; i++) {
		const char *s = yt__str(yt__item(d, seq, i));

		if (!s) {
			snprintf(err, errlen, "scope: a pattern that is not a string");
			return -EINVAL;
		}
		if (compile(&pp->re[pp->n], s, err, errlen))
			return -EINVAL;
		pp->src[pp->n++] = strdup(s);
	}
	return 0;
}

static int load_scope(struct policy *p, yaml_document_t *d, yaml_node_t *scope, char *err,
		      size_t errlen)
{
	static const char *const names[4][2] = { { "namespaces", "include" },
						 { "namespaces", "exclude" },
						 { "workloads", "include" },
						 { "workloads", "exclude" } };
	struct pol_patterns *pp[4] = { &p->ns_include, &p->ns_exclude, &p->wl_include,
				       &p->wl_exclude };
	const char *opt;
	int i;

	for (i = 0; i < 4; i++) {
		yaml_node_t *n = yt__path(d, scope, names[i][0], names[i][1], NULL);

		if (n && load_patterns(pp[i], d, n, err, errlen))
			return -EINVAL;
	}
	opt = yt__str(yt__get(d, scope, "optOutAnnotation"));
	if (opt) {
		const char *eq = strchr(opt, '=');

		snprintf(p->opt_out_key, sizeof(p->opt_out_key), "%.*s",
			 (int)(eq ? eq - opt : (long)strlen(opt)), opt);
		snprintf(p->opt_out_value, sizeof(p->opt_out_value), "%s", eq ? eq + 1 : "false");
	}
	return 0;
}

static int load_budgets(struct policy *p, yaml_document_t *d, yaml_node_t *b, char *err,
			size_t errlen)
{
	yaml_node_pair_t *pr;

	if (!yt__is_map(b)) {
		snprintf(err, errlen, "budgets: not a mapping of namespace: dollars a month");
		return -EINVAL;
	}
	p->n_budgets = 0;
	for (pr = b->data.mapping.pairs.start; pr < b->data.mapping.pairs.top; pr++) {
		const char *ns = yt__str(yaml_document_get_node(d, pr->key));
		double v;

		if (!ns || yt__num(yaml_document_get_node(d, pr->value), &v) || !(v >= 0)) {
			snprintf(err, errlen, "budgets: %s: not dollars a month", ns ? ns : "?");
			return -EINVAL;
		}
		if (p->n_budgets == POL_MAX_BUDGETS)
			break;
		snprintf(p->budgets[p->n_budgets].ns, sizeof(p->budgets[0].ns), "%s", ns);
		p->budgets[p->n_budgets++].dollars = v;
	}
	return 0;
}

/* "2024-12-20T00:00:00Z" */
static int parse_time(const char *s, double *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end || (*end && strcmp(end, "Z")))
		return -EINVAL;
	*out = (double)timegm(&tm);
	return 0;
}

/* "HH:MM" -> minutes */
static int parse_hm(const char *s, int *out)
{
	int h, m;
	char c;

	if (!s || sscanf(s, "%d:%d%c", &h, &m, &c) != 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
	    h * 60 + m > 1440)
		return -EINVAL;
	*out = h * 60 + m;
	return 0;
}

static int load_weekly(struct pol_freeze *f, yaml_document_t *d, yaml_node_t *w)
{
	static const char *const wd[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };
	yaml_node_t *days = yt__get(d, w, "days");
	size_t i;
	int e;

	for (i = 0; i < yt__len(days); i++) {
		const char *s = yt__str(yt__item(d, days, i));

		e = s ? enum_of(s, wd) : -1;
		if (e < 0)
			return -EINVAL;
		f->days |= 1u << e;
	}
	f->from_min = 0;
	f->to_min = 1440;
	if (yt__get(d, w, "from") && parse_hm(yt__str(yt__get(d, w, "from")), &f->from_min))
		return -EINVAL;
	if (yt__get(d, w, "to") && parse_hm(yt__str(yt__get(d, w, "to")), &f->to_min))
		return -EINVAL;
	return f->days ? 0 : -EINVAL;
}

static int load_freeze(struct policy *p, yaml_document_t *d, yaml_node_t *fz, char *err,
		       size_t errlen)
{
	size_t i;

	p->n_freeze = 0;
	for (i = 0; i < yt__len(fz) && i < POL_MAX_FREEZE; i++) {
		yaml_node_t *w = yt__item(d, fz, i);
		struct pol_freeze *f = &p->freeze[p->n_freeze];
		int ret;

		memset(f, 0, sizeof(*f));
		if (yt__get(d, w, "days"))
			ret = load_weekly(f, d, w);
		else
			ret = parse_time(yt__str(yt__get(d, w, "from")), &f->from) ||
					      parse_time(yt__str(yt__get(d, w, "to")), &f->to) ||
					      f->to <= f->from
				      ? -EINVAL
				      : 0;
		if (ret) {
			snprintf(err, errlen,
				 "freeze[%zu]: give from and to (2006-01-02T15:04:05Z), "
				 "or days [mon, ...] with from and to (HH:MM, UTC)",
				 i);
			return -EINVAL;
		}
		p->n_freeze++;
	}
	return 0;
}

static int load_pace(struct policy *p, yaml_document_t *d, yaml_node_t *pace, char *err,
		     size_t errlen)
{
	double v;

	if (yt__get(d, pace, "maxOpen")) {
		if (yt__num(yt__get(d, pace, "maxOpen"), &v) || v < 0 || v > 1e6)
			goto bad;
		p->max_open = (int)v;
	}
	if (yt__get(d, pace, "perHour")) {
		if (yt__num(yt__get(d, pace, "perHour"), &v) || v < 0 || v > 1e6)
			goto bad;
		p->per_hour = (int)v;
	}
	return 0;
bad:
	snprintf(err, errlen, "pace: maxOpen and perHour are counts");
	return -EINVAL;
}

static const char *const top_keys[] = { "version", "defaults", "rules",	 "scope",
					"budgets", "pace",     "freeze", NULL };

static int load_file(struct policy *p, int which, char *err, size_t errlen)
{
	yaml_document_t *d = &p->files[which].docs[0];
	yaml_node_t *root = yt__root(&p->files[which], 0), *n;
	struct pol_settings scratch;
	yaml_node_pair_t *pr;
	int ret = 0;

	if (!root)
		return 0;
	if (!yt__is_map(root)) {
		snprintf(err, errlen, "not a mapping");
		return -EINVAL;
	}
	for (pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
		const char *k = yt__str(yaml_document_get_node(d, pr->key));

		if (!k || enum_of(k, top_keys) < 0) {
			snprintf(err, errlen,
				 "unknown key %s (known: defaults, rules, scope, "
				 "budgets, pace, freeze)",
				 k ? k : "?");
			return -EINVAL;
		}
	}
	n = yt__get(d, root, "defaults");
	if (n) {
		policy__builtin(&scratch);
		ret = apply_block(&scratch, d, n, "", NULL, err, errlen);
		p->defaults_doc[which] = d;
		p->defaults[which] = n;
	}
	if (!ret && (n = yt__get(d, root, "rules")))
		ret = load_rules(p, d, n, err, errlen);
	if (!ret && (n = yt__get(d, root, "scope")))
		ret = load_scope(p, d, n, err, errlen);
	if (!ret && (n = yt__get(d, root, "budgets")))
		ret = load_budgets(p, d, n, err, errlen);
	if (!ret && (n = yt__get(d, root, "pace")))
		ret = load_pace(p, d, n, err, errlen);
	if (!ret && (n = yt__get(d, root, "freeze")))
		ret = load_freeze(p, d, n, err, errlen);
	return ret;
}

int policy__load(struct policy *p, const char *local, size_t local_len, const char *repo,
		 size_t repo_len, char *err, size_t errlen)
{
	const char *texts[2] = { local, repo };
	size_t lens[2] = { local_len, repo_len };
	const char *names[2] = { "local policy", ".podmeter/policy.yaml" };
	char why[384];
	int i, ret;

	memset(p, 0, sizeof(*p));
	p->max_open = 10;
	p->per_hour = 5;
	snprintf(p->opt_out_key, sizeof(p->opt_out_key), "podmeter.io/rightsize");
	snprintf(p->opt_out_value, sizeof(p->opt_out_value), "false");
	for (i = 0; i < 2; i++) {
		if (!texts[i])
			continue;
		ret = yt__parse(&p->files[i], texts[i], lens[i], why, sizeof(why));
		if (!ret)
			ret = load_file(p, i, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%s: %s", names[i], why);
			policy__free(p);
			return ret;
		}
	}
	return 0;
}

static void free_patterns(struct pol_patterns *pp)
{
	size_t i;

	for (i = 0; i < pp->n; i++) {
		regfree(&pp->re[i]);
		free(pp->src[i]);
	}
	pp->n = 0;
}

void policy__free(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->n_rules; i++) {
		if (p->rules[i].has_ns)
			regfree(&p->rules[i].ns);
		if (p->rules[i].has_wl)
			regfree(&p->rules[i].wl);
	}
	free_patterns(&p->ns_include);
	free_patterns(&p->ns_exclude);
	free_patterns(&p->wl_include);
	free_patterns(&p->wl_exclude);
	yt__free(&p->files[0]);
	yt__free(&p->files[1]);
	memset(p, 0, sizeof(*p));
}

static bool rule_matches(const struct pol_rule *r, const char *ns, const char *wl)
{
	return (!r->has_ns || !regexec(&r->ns, ns, 0, NULL, 0)) &&
	       (!r->has_wl || !regexec(&r->wl, wl, 0, NULL, 0));
}

void policy__for(const struct policy *p, const char *ns, const char *kind, const char *name,
		 struct pol_settings *out)
{
	char wl[600], err[256];
	size_t i;
	int f;

	snprintf(wl, sizeof(wl), "%s/%s", kind, name);
	policy__builtin(out);
	/* checked at load: no block fails here */
	for (f = 0; f < 2; f++) {
		if (p->defaults[f])
			apply_block(out, p->defaults_doc[f], p->defaults[f], "", NULL, err,
				    sizeof(err));
		for (i = 0; i < p->n_rules; i++)
			if (p->rules[i].doc == &p->files[f].docs[0] &&
			    rule_matches(&p->rules[i], ns, wl))
				apply_block(out, p->rules[i].doc, p->rules[i].node, "", rule_keys,
					    err, sizeof(err));
	}
}

static int match_any(const struct pol_patterns *pp, const char *s)
{
	size_t i;

	for (i = 0; i < pp->n; i++)
		if (!regexec(&pp->re[i], s, 0, NULL, 0))
			return (int)i;
	return -1;
}

bool policy__in_scope(const struct policy *p, const char *ns, const char *kind, const char *name,
		      char *why, size_t len)
{
	char wl[600];
	int i;

	snprintf(wl, sizeof(wl), "%s/%s", kind, name);
	if (p->ns_include.n && match_any(&p->ns_include, ns) < 0) {
		snprintf(why, len, "namespace %s matches no scope.namespaces.include", ns);
		return false;
	}
	if ((i = match_any(&p->ns_exclude, ns)) >= 0) {
		snprintf(why, len, "namespace %s matches scope.namespaces.exclude \"%s\"", ns,
			 p->ns_exclude.src[i]);
		return false;
	}
	if (p->wl_include.n && match_any(&p->wl_include, wl) < 0) {
		snprintf(why, len, "%s matches no scope.workloads.include", wl);
		return false;
	}
	if ((i = match_any(&p->wl_exclude, wl)) >= 0) {
		snprintf(why, len, "%s matches scope.workloads.exclude \"%s\"", wl,
			 p->wl_exclude.src[i]);
		return false;
	}
	snprintf(why, len, "namespace %s and %s in scope", ns, wl);
	return true;
}

double policy__budget(const struct policy *p, const char *ns)
{
	size_t i;

	for (i = 0; i < p->n_budgets; i++)
		if (!strcmp(p->budgets[i].ns, ns))
			return p->budgets[i].dollars;
	return -1;
}

bool policy__frozen(const struct policy *p, double now, char *why, size_t len)
{
	time_t t = (time_t)now;
	struct tm tm;
	size_t i;
	int min;

	gmtime_r(&t, &tm);
	min = tm.tm_hour * 60 + tm.tm_min;
	for (i = 0; i < p->n_freeze; i++) {
		const struct pol_freeze *f = &p->freeze[i];

		if (f->days ? (f->days & (1u << tm.tm_wday)) && min >= f->from_min &&
				      min < f->to_min
			    : now >= f->from && now < f->to) {
			snprintf(why, len, "freeze[%zu] holds now", i);
			return true;
		}
	}
	snprintf(why, len, "no freeze window now (%zu set)", p->n_freeze);
	return false;
}
