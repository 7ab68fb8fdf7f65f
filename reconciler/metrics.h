/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The reconciler's own /metrics, and the refusals table: each has a status and a counter. */
#ifndef PODMETER_RECONCILER_METRICS_H
#define PODMETER_RECONCILER_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include "store.h"

enum rec_reason {
	REASON_NOT_FOUND = 0,
	REASON_METHOD,
	REASON_MEDIA_TYPE,
	REASON_BODY_TOO_LARGE,
	REASON_INFLATED_TOO_LARGE,
	REASON_DECODED_TOO_LARGE,
	REASON_TOO_MANY_ITEMS,
	REASON_BAD_GZIP,
	REASON_BAD_PROTOBUF,
	REASON_BAD_REPORT,
	REASON_HEADER_MISMATCH,
	REASON_UNAUTHENTICATED,
	REASON_FORBIDDEN,
	REASON_AUTH_UNAVAILABLE,
	REASON_SEQ_REUSED,
	REASON_OVERLOADED,
	REASON_STORE,
	REASON_TIMEOUT,
	REASON_BAD_QUERY,
	REASON_N,
};

struct rec_reason_row {
	const char *name;    /* the counter's reason label */
	unsigned int status; /* HTTP */
};

extern const struct rec_reason_row rec_reasons[REASON_N];

struct rec_metrics;

struct rec_metrics *metrics__new(const char *engine);
void metrics__free(struct rec_metrics *m);

void metrics__refusal(struct rec_metrics *m, enum rec_reason r);
/* A report the store gave a verdict: counted, and its node's last report and lag noted. */
void metrics__verdict(struct rec_metrics *m, const struct store_report *sr);
/* A node known from the store at start. */
void metrics__node(struct rec_metrics *m, const char *cluster, const char *node, double received,
		   double window_end);
void metrics__transaction(struct rec_metrics *m, double seconds, size_t reports, bool ok);
void metrics__queue(struct rec_metrics *m, size_t waiting);
void metrics__compaction(struct rec_metrics *m, const struct store_compaction *c, bool ok);
void metrics__tokenreview(struct rec_metrics *m, const char *result);

/* Proposals by state (@names[i]: @count[i]) and savings, $/month: proposed, merged, verified. */
void metrics__proposals(struct rec_metrics *m, const char *const *names, const int64_t *count,
			int n, const double stages[3]);
/* A proposing cycle ended: "ok", "error", "not_writer". */
void metrics__cycle(struct rec_metrics *m, const char *result);

/* The exposition; @store_bytes < 0 when the store could not say. */
int metrics__write(struct rec_metrics *m, FILE *f, int64_t store_bytes);

#endif /* PODMETER_RECONCILER_METRICS_H */
