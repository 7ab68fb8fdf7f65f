/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Guardrails: each rule a row of a table, run in order over one container's
 * recommendation; each leaves a verdict (pass, adjust, block, label) with
 * its figures, kept in the store for `explain`. Rules over a whole pull
 * request (pace, freeze windows) are the cycle's (cycle.c).
 */
#ifndef PODMETER_RECONCILER_GUARD_H
#define PODMETER_RECONCILER_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include "decide.h"
#include "policy.h"
#include "targets.h"

#define GUARD_MAX_VERDICTS 40
#define GUARD_UNTOUCHED	   -2.0 /* a value no item changes */

struct guard_in {
	const struct rec *r;
	const struct pol_settings *st;
	const struct policy *pol;
	bool has_target; /* targets.yaml maps its cluster and namespace */
	const char *target_path;
	const struct mf_workload *mf; /* in the target's manifests; NULL: not found */
	double now, last_merge;	      /* when a proposal touching it last merged; 0 */
	struct store *s;	      /* rejection memory; NULL: not consulted */
	double ns_cost_month;	      /* the namespace's cost now, dollars a month */
	double *ns_increase;	      /* increases proposed in it so far this cycle, $/month */
};

struct guard_out {
	double cpu, mem, cpu_lim, mem_lim; /* cores, bytes; -1 removed; GUARD_UNTOUCHED */
	bool urgent, needs_budget, auto_merge;
	int64_t savings_nd; /* nanodollars a month saved (negative: costs) */
	struct gs_verdict v[GUARD_MAX_VERDICTS];
	size_t n;
};

/* Run every rule over @in; @out has the values to write and every verdict. */
void guard__run(const struct guard_in *in, struct guard_out *out);
/* Whether @out changes anything. */
bool guard__any(const struct guard_out *out);
/* The rules' names in order, for documentation and tests. */
extern const char *const guard_rule_names[];

#endif /* PODMETER_RECONCILER_GUARD_H */
