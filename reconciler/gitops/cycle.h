/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One cycle of the reconciler's writing side: fetch the GitOps repository,
 * read its policy and targets, follow the pull requests already open
 * (merged, closed), verify what merged (and propose a revert when it hurt),
 * decide and guard every container, then walk each proposal group through
 * its state machine in the store:
 *
 *   candidate --push--> pushed --create/adopt--> open --> merged --> verified
 *                                                     \          \-> reverted
 *                                                      \-> closed | superseded
 *
 * Every step records its result in the store in one transaction after the
 * step took effect, and every step can be redone: a branch already at the
 * commit is not pushed again, a pull request already open for the branch is
 * adopted, not created again. A SIGKILL between any two steps leaves neither
 * a duplicate pull request nor a lost one.
 */
#ifndef PODMETER_RECONCILER_CYCLE_H
#define PODMETER_RECONCILER_CYCLE_H

#include <stdbool.h>
#include <stdio.h>
#include "decide.h"
#include "forge.h"
#include "gitw.h"
#include "guard.h"
#include "gstore.h"

#define CYCLE_LOCK_KEY	 0x706f646d6574LL /* "podmet": PostgreSQL advisory lock */
#define CYCLE_MAX_GROUPS 512
#define CYCLE_MAX_ITEMS	 4096

struct cycle_cfg {
	struct gitw_cfg git;
	const char *base; /* the base branch (default main) */
	struct forge_cfg forge;
	bool has_forge;
	const char *policy_file; /* local policy, under the repository's */
	const char *dashboard;	 /* "issue" (default), "file", "none" */
	bool dry_run;
	const char *crash_at; /* tests: SIGKILL itself at this step */
	FILE *out;	      /* what it did, or would do */
	double now;	      /* 0: the clock */
};

struct cycle_result {
	int groups, candidates, pushed, opened, updated, merged, closed, superseded, verified;
	int reverted, left_alone, blocked, errors;
};

/* One proposal group being written this cycle. */
struct group {
	char name[200], kind[16], cluster[GS_NAME], ns[GS_NAME], reverts[GS_NAME];
	char evidence[1024]; /* a revert: what the verification saw */
	const struct tgt *tg;
	struct gs_item *items;
	struct guard_out **outs; /* per item: the verdicts that let it through (may be NULL) */
	struct rec **recs;	 /* per item: its evidence (may be NULL) */
	size_t n, cap;
	bool urgent, needs_budget, auto_merge;
	int64_t savings_nd;
};

/*
 * Run one cycle against @s. 0 (what went wrong with single groups is
 * counted in @res->errors and printed), -EAGAIN when another replica holds
 * the writer's lock, or a negative errno with @err set.
 */
int cycle__run(struct store *s, const struct cycle_cfg *cfg, struct cycle_result *res, char *err,
	       size_t errlen);

/* ---- report.c: what a pull request says ---- */

/* The title, the body (markdown, with the hidden marker) and the document (JSON). */
char *report__title(const struct group *g, int64_t reverts_number);
char *report__doc(const struct group *g, const char *id, const char *hash);
char *report__body(const struct group *g, const char *id, const char *hash, const char *doc);
/* A stable hash of the group's items: equal content, equal hash. */
void report__hash(const struct group *g, char out[17]);
/* The dashboard: zombies, orphans and idle workloads with their cost (markdown, malloc'ed). */
struct dash_idle {
	struct gs_wl wl;
	double cost_month, max_cores, days;
};
char *report__dashboard(struct store *s, const char *cluster, const struct dash_idle *idle,
			size_t n_idle, double now);

/* ---- verify.c ---- */

enum verify_decision { VERIFY_WAIT = 0, VERIFY_OK, VERIFY_HARM };

struct verify_out {
	enum verify_decision decision;
	double applied_at;
	char detail[1024]; /* one line for people */
	char *json;	   /* the outcome kept in the store (malloc'ed) */
};

/* Judge merged proposal @p (its @items) against the policy's thresholds @st as of @now. */
int verify__check(struct store *s, const struct gs_prop *p, const struct gs_item *items, size_t n,
		  const struct pol_settings *st, double now, struct verify_out *out);

#endif /* PODMETER_RECONCILER_CYCLE_H */
