/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The store's part in deciding and writing: what right-sizing reads
 * (containers, their hours, prices, costs, findings), the proposals with
 * their state machine, every guardrail verdict, and forge objects (the
 * dashboard issue). Same interface on SQLite and PostgreSQL; each write is
 * one transaction, and a state change is a compare-and-set on the state the
 * caller read, so two writers can never both move one proposal.
 */
#ifndef PODMETER_RECONCILER_GSTORE_H
#define PODMETER_RECONCILER_GSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store.h"

#define GS_NAME 256

struct gs_wl {
	char cluster[GS_NAME], ns[GS_NAME], kind[64], name[GS_NAME];
};

/* A container the agents still report (container_stats). */
struct gs_container {
	struct gs_wl wl;
	char container[GS_NAME];
	double first_seen, last_seen;
};

/* One hour of a container, summed over its replicas and nodes (container_hourly). */
struct gs_hour {
	int64_t hour, cpu_usec, mem_peak, ooms, thr_periods, thr_usec, rq_usec, pod_windows;
	int64_t req_cpu_m, req_mem, lim_cpu_m, lim_mem; /* -1: not set */
	double pod_s;
};

/* One hour of a workload (rollups_hourly, every node). */
struct gs_wl_hour {
	int64_t hour, net_tx, cost, starts; /* starts: processes started, a sign of restarts */
	double cpu_s;
};

struct gs_finding {
	char kind[64], ns[GS_NAME], pod[GS_NAME], owner_kind[64], owner_name[GS_NAME];
	char node[GS_NAME], detail[512];
	double first_seen, last_seen, since;
};

typedef int (*gs_container_fn)(void *ctx, const struct gs_container *c);
int gstore__containers(struct store *s, double seen_since, gs_container_fn fn, void *ctx);
/* The hours of a container since @since, oldest first (malloc'ed *@out). */
int gstore__hours(struct store *s, const struct gs_wl *w, const char *container, int64_t since,
		  struct gs_hour **out, size_t *n);
int gstore__wl_hours(struct store *s, const struct gs_wl *w, int64_t since, struct gs_wl_hour **out,
		     size_t *n);
/* Nanodollars the workload (or namespace, @w->kind NULL) cost over [since, until). */
int gstore__cost(struct store *s, const struct gs_wl *w, int64_t since, int64_t until,
		 int64_t *nanodollars);
/* The cluster's prices: the mean over the nodes heard from since @since. -ENOENT: none. */
int gstore__prices(struct store *s, const char *cluster, double since, double *cpu_core_hour,
		   double *mem_gib_hour);
typedef int (*gs_finding_fn)(void *ctx, const struct gs_finding *f);
int gstore__findings(struct store *s, const char *cluster, double seen_since, gs_finding_fn fn,
		     void *ctx);

/* One replica writes to git: PostgreSQL's advisory lock. 1 taken, 0 held elsewhere, -errno. */
int gstore__try_lock(struct store *s, int64_t key);
void gstore__unlock(struct store *s, int64_t key);

/* ---- proposals ---- */

/* candidate -> pushed -> open -> merged | closed | superseded; merged -> verified | reverted */
enum gs_state {
	GS_CANDIDATE = 0,
	GS_PUSHED,
	GS_OPEN,
	GS_MERGED,
	GS_CLOSED,
	GS_SUPERSEDED,
	GS_VERIFIED,
	GS_REVERTED,
	GS_N_STATES,
};

extern const char *const gs_state_names[GS_N_STATES];
int gs_state__parse(const char *s);

struct gs_prop {
	char id[GS_NAME], grp[200], kind[16], cluster[GS_NAME], branch[GS_NAME], base[GS_NAME];
	char content_hash[72], commit_sha[48], url[512], title[GS_NAME], reverts[GS_NAME];
	enum gs_state state;
	int64_t rev, number, savings_nd, needs_budget, urgent, human, closing;
	double created_at, pushed_at, opened_at, merged_at, closed_at, verified_at, applied_at;
	double updated_at;
	char *doc;     /* the proposal document (JSON), malloc'ed */
	char *outcome; /* verification (JSON), malloc'ed; may be NULL */
};

/* One value a proposal changes. Values: cores, bytes, replicas; -1 = not set / removed. */
struct gs_item {
	struct gs_wl wl;
	char container[GS_NAME], resource[24]; /* cpu, memory, cpu_limit, memory_limit, replicas */
	double current, proposed;
};

void gs_prop__free(struct gs_prop *p);

/*
 * Insert @p (its id made from grp and rev) with its items, and, with @upd,
 * write @upd as gstore__prop_update does, all in one transaction.
 */
int gstore__prop_insert(struct store *s, struct gs_prop *p, const struct gs_item *items, size_t n,
			const struct gs_prop *upd, enum gs_state upd_expect);
/*
 * Write @p's mutable columns if its state is still @expect; with @q, also
 * @q if its state is still @q_expect, in the same transaction. -ESTALE when
 * a row had moved on (nothing written).
 */
int gstore__prop_update(struct store *s, const struct gs_prop *p, enum gs_state expect,
			const struct gs_prop *q, enum gs_state q_expect);
/* Proposals by state (@states a bitmask of 1 << state), oldest first. */
int gstore__props(struct store *s, unsigned int states, struct gs_prop **out, size_t *n);
void gstore__props_free(struct gs_prop *v, size_t n);
int gstore__prop_items(struct store *s, const char *id, struct gs_item **out, size_t *n);
int gstore__prop_maxrev(struct store *s, const char *grp, int64_t *rev);
/* By state: how many, and their savings (nanodollars a month). */
int gstore__prop_counts(struct store *s, int64_t count[GS_N_STATES], int64_t savings[GS_N_STATES]);
int gstore__opened_since(struct store *s, double since, int64_t *n);
/* The latest proposal closed unmerged since @since for this value: its value and when. -ENOENT. */
int gstore__rejected(struct store *s, const struct gs_wl *w, const char *container,
		     const char *resource, double since, double *value, double *closed_at);
/* When a proposal touching the workload last merged; 0 when none. */
int gstore__last_merge(struct store *s, const struct gs_wl *w, double *at);

/* ---- verdicts ---- */

struct gs_verdict {
	char container[GS_NAME], resource[24], rule[32], outcome[16];
	char detail[512];
	int order;
	double at, since;
};

/* A workload's verdicts of this cycle, replacing the last cycle's, in one transaction. */
int gstore__verdicts_put(struct store *s, const struct gs_wl *w, const struct gs_verdict *v,
			 size_t n, double now);
/* A workload's verdicts (@w->kind "" = any kind), by container, resource and rule order. */
typedef int (*gs_verdict_fn)(void *ctx, const struct gs_wl *w, const struct gs_verdict *v);
int gstore__verdicts(struct store *s, const struct gs_wl *w, gs_verdict_fn fn, void *ctx);
/* Proposals touching a workload, with their items, oldest first. */
typedef int (*gs_prop_item_fn)(void *ctx, const struct gs_prop *p, const struct gs_item *it);
int gstore__props_of(struct store *s, const struct gs_wl *w, gs_prop_item_fn fn, void *ctx);

/* ---- forge objects (the dashboard) ---- */
int gstore__forge_get(struct store *s, const char *kind, const char *key, int64_t *number,
		      char *hash, size_t hashlen);
int gstore__forge_put(struct store *s, const char *kind, const char *key, int64_t number,
		      const char *hash, double now);

#endif /* PODMETER_RECONCILER_GSTORE_H */
