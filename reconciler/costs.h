/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading costs back: `podmeter-reconciler costs` and GET /v1/costs share this. */
#ifndef PODMETER_RECONCILER_COSTS_H
#define PODMETER_RECONCILER_COSTS_H

#include <stddef.h>
#include "store.h"

#define COSTS_LABEL_MAX 317

enum costs_format {
	COSTS_TABLE = 0,
	COSTS_JSON,
	COSTS_CSV,
};

struct costs_query {
	enum store_costs_by by;
	char label[COSTS_LABEL_MAX + 1]; /* COSTS_BY_LABEL */
	double since, until;		 /* unix seconds */
	enum costs_format format;
};

/* "namespace", "workload", "node", "pod", "label:KEY". 0 or -EINVAL. */
int costs__parse_by(const char *s, struct costs_query *q);
/* "24h", "7d", "90m", "30s", or seconds. 0 or -EINVAL. */
int costs__parse_duration(const char *s, double *seconds);
int costs__parse_format(const char *s, enum costs_format *f);

/*
 * Run @q against @s and render it (malloc'ed, NUL-terminated): rows by
 * total (cost + idle) descending, each with cost by resource, waste, idle
 * and its share of the total, then the total. NULL with @err set.
 */
char *costs__query(struct store *s, const struct costs_query *q, char *err, size_t errlen);

/* podmeter-reconciler costs ... */
int costs__main(int argc, char **argv);

#endif /* PODMETER_RECONCILER_COSTS_H */
