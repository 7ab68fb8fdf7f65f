/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Guardrail policy: `.podmeter/policy.yaml` in the GitOps repository, over
 * a local file (--policy), over built-in defaults. Per-workload settings
 * come from `defaults:` then every rule of `rules:` whose namespace and
 * workload expressions match, in order (the later wins), local file first,
 * then the repository's. Scope, budgets, pace and freeze windows are the
 * repository's where it sets them, else the local file's.
 */
#ifndef PODMETER_RECONCILER_POLICY_H
#define PODMETER_RECONCILER_POLICY_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include "yamlt.h"

enum pol_set { POL_SET_REQUESTS = 0, POL_SET_REQUESTS_LIMITS };
enum pol_limits { POL_LIM_NONE = 0, POL_LIM_KEEP_RATIO, POL_LIM_MULTIPLIER };
enum pol_hpa { POL_HPA_SKIP_CPU = 0, POL_HPA_IGNORE };

/* What applies to one workload. Cores, bytes, days, dollars a month, percent. */
struct pol_settings {
	bool exclude;
	double cpu_quantile, cpu_target, cpu_min, cpu_max, cpu_floor;
	double mem_headroom, mem_days, mem_min, mem_max, mem_floor;
	int set;    /* enum pol_set */
	int limits; /* enum pol_limits */
	double limit_multiplier;
	double min_days, min_confidence;
	double min_change_pct, min_savings;
	double max_step_down_pct;
	double cooldown_days;
	double urgent_ooms, urgent_throttle_pct, oom_increase;
	double season_min_strength, season_lookback_days;
	double idle_days, idle_max_cores;
	bool idle_scale_to_zero;
	double rej_change_pct, rej_days;
	double verify_after_h, verify_ooms, verify_throttle_pct, verify_rq_pct, verify_restarts;
	int hpa; /* enum pol_hpa */
	bool auto_merge;
};

#define POL_MAX_PATTERNS 32
#define POL_MAX_RULES	 256
#define POL_MAX_BUDGETS	 256
#define POL_MAX_FREEZE	 32

struct pol_patterns {
	regex_t re[POL_MAX_PATTERNS];
	char *src[POL_MAX_PATTERNS];
	size_t n;
};

struct pol_freeze {
	double from, to;      /* absolute unix seconds; 0 for weekly ones */
	unsigned int days;    /* weekly: bit 0 = Sunday ... bit 6 = Saturday */
	int from_min, to_min; /* weekly: minutes of the day, UTC, [from, to) */
};

struct pol_rule {
	yaml_document_t *doc;
	yaml_node_t *node;
	regex_t ns, wl;
	bool has_ns, has_wl;
};

struct policy {
	struct yt files[2]; /* local, repository */
	struct pol_rule rules[POL_MAX_RULES];
	size_t n_rules;
	yaml_document_t *defaults_doc[2];
	yaml_node_t *defaults[2];
	/* global: the repository's where set */
	struct pol_patterns ns_include, ns_exclude, wl_include, wl_exclude;
	char opt_out_key[256], opt_out_value[64];
	struct {
		char ns[256];
		double dollars;
	} budgets[POL_MAX_BUDGETS];
	size_t n_budgets;
	int max_open, per_hour;
	struct pol_freeze freeze[POL_MAX_FREEZE];
	size_t n_freeze;
};

void policy__builtin(struct pol_settings *s);
/*
 * Load @local (may be NULL) and @repo (may be NULL) texts. 0, or -EINVAL
 * with @err saying which file, line or key is wrong.
 */
int policy__load(struct policy *p, const char *local, size_t local_len, const char *repo,
		 size_t repo_len, char *err, size_t errlen);
void policy__free(struct policy *p);
/* The settings of workload @kind/@name in @ns. */
void policy__for(const struct policy *p, const char *ns, const char *kind, const char *name,
		 struct pol_settings *out);
/* In scope by the namespace and workload expressions; @why says which one excluded it. */
bool policy__in_scope(const struct policy *p, const char *ns, const char *kind, const char *name,
		      char *why, size_t len);
/* The namespace's monthly budget in dollars, or a negative number when it has none. */
double policy__budget(const struct policy *p, const char *ns);
/* Within a freeze window at @now; @why names it. */
bool policy__frozen(const struct policy *p, double now, char *why, size_t len);

#endif /* PODMETER_RECONCILER_POLICY_H */
