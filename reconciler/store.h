/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The store: one interface over SQLite and PostgreSQL (reconciler/db.h),
 * the same schema and behaviour on both. Every write is one transaction;
 * a report's ledger row and everything it feeds commit together or not at
 * all.
 */
#ifndef PODMETER_RECONCILER_STORE_H
#define PODMETER_RECONCILER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <podmeter/dist.h>
#include "podmeter.pb-c.h"

#define STORE_HALF_LIFE_S    (24 * 3600.0) /* CPU distributions decay as VPA's */
#define STORE_IDLE_NAMESPACE "__idle__"	   /* rollup rows of nodes' idle cost */

struct store;

/* Open @url ("sqlite:PATH", "postgresql://...") and bring its schema up to date. */
int store__open(struct store **out, const char *url, char *err, size_t errlen);
void store__close(struct store *s);
const char *store__engine(const struct store *s);
/* The schema version the store is at, and the newest this build knows. */
int store__schema_version(struct store *s);
int store__schema_latest(void);

enum store_verdict {
	STORE_PENDING = 0,
	STORE_STORED,
	STORE_DUPLICATE,  /* the ledger has (cluster, node, seq) with this window */
	STORE_SEQ_REUSED, /* ... with another window: the node's sequence restarted */
	STORE_FAILED,	  /* not stored; the sender should retry */
};

/* One report for the writer: decoded and checked (reconciler/ingest.c). */
struct store_report {
	const Podmeter__V1__NodeReport *rep;
	double received_at;
	size_t bytes;		    /* as received (gzip'ed) */
	enum store_verdict verdict; /* set by store__ingest */
	bool seq_jump;		    /* stored, far past the node's last sequence */
	char why[160];		    /* for a verdict other than STORED */
};

/*
 * Write @n reports in one transaction (group commit). When it fails, each
 * is written again in a transaction of its own, so that a report the store
 * refuses fails alone (marked FAILED). Returns 0 once a transaction
 * committed, verdicts set; a negative errno when nothing was committed
 * (every verdict FAILED, @err set).
 */
int store__ingest(struct store *s, struct store_report *reps, size_t n, char *err, size_t errlen);

struct store_retention {
	double pod_windows_s; /* raw pod-windows (default 7 days) */
	double ledger_s;      /* ledger rows; older sequences count as seen (default 30 days) */
	double rollups_s;     /* hourly rollups, container hours (default 400 days) */
	double findings_s;    /* findings not seen since (default 30 days) */
};

void store__retention_defaults(struct store_retention *r);

struct store_compaction {
	int64_t pod_windows, ledger, rollups, container_hours, findings, stats; /* rows deleted */
	int64_t bytes_before, bytes_after;
};

/* Retention, then giving space back. Runs in its own transactions, in slices. */
int store__compact(struct store *s, const struct store_retention *r, double now,
		   struct store_compaction *out, char *err, size_t errlen);

int store__size(struct store *s, int64_t *bytes);

/* ---- reading ---- */

enum store_costs_by {
	COSTS_BY_NAMESPACE = 0,
	COSTS_BY_WORKLOAD,
	COSTS_BY_NODE,
	COSTS_BY_POD,
	COSTS_BY_LABEL,
};

struct store_cost_row {
	char cluster[128];
	char key[3][256]; /* namespace | namespace, kind, name | node | namespace, pod | value */
	int64_t cost[4];  /* nanodollars: cpu, memory, gpu, network */
	int64_t waste[3]; /* cpu, memory, gpu */
	int64_t idle[3];  /* cpu, memory, gpu */
};

struct store_costs {
	struct store_cost_row *rows;
	size_t n;
};

/*
 * Costs over [@since, @until) grouped by @by (@label_key for COSTS_BY_LABEL).
 * Rollups are hourly: the span is widened to whole hours; pods come from
 * the raw windows that overlap it.
 */
int store__costs(struct store *s, enum store_costs_by by, const char *label_key, double since,
		 double until, struct store_costs *out, char *err, size_t errlen);
void store__costs_free(struct store_costs *c);

/*
 * A workload container's merged CPU distribution: weights are relative
 * (decayed to *@ref_time); quantiles do not depend on the scale.
 * 0, -ENOENT, or a negative errno.
 */
int store__cpu_dist(struct store *s, const char *cluster, const char *namespace_,
		    const char *owner_kind, const char *owner_name, const char *container,
		    struct pm_dist *out, double *ref_time);

/* Every node the store knows, for the per-node metrics at start. */
typedef void (*store_node_fn)(void *ctx, const char *cluster, const char *node,
			      double last_received, double last_window_end, uint64_t last_seq);
int store__nodes(struct store *s, store_node_fn fn, void *ctx);

/* The workload a pod belongs to: its controller, or the pod itself ("Pod", name). */
void store__workload_of(const Podmeter__V1__PodReport *p, const char **kind, const char **name);

#endif /* PODMETER_RECONCILER_STORE_H */
