/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The store's insides, shared by store.c and store_ingest.c. */
#ifndef PODMETER_RECONCILER_STORE_INT_H
#define PODMETER_RECONCILER_STORE_INT_H

#include <podmeter/dist.h>
#include "db.h"

struct store {
	struct db *db;
};

/* The CPU distribution row of @key (cluster, namespace, kind, name, container). */
int store_dist_get(struct store *s, const struct db_val *key, struct pm_dist *out, double *ref);

#endif /* PODMETER_RECONCILER_STORE_INT_H */
