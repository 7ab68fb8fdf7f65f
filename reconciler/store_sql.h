/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The store's statements (reconciler/schema.c), by number. */
#ifndef PODMETER_RECONCILER_STORE_SQL_H
#define PODMETER_RECONCILER_STORE_SQL_H

enum store_sql_id {
	SQL_MIG_TABLE = 0,
	SQL_MIG_VERSION,
	SQL_MIG_INSERT,
	SQL_NODE_GET,
	SQL_LEDGER_INSERT,
	SQL_LEDGER_GET,
	SQL_LEDGER_JUMP,
	SQL_NODE_UPSERT,
	SQL_POD_WINDOW,
	SQL_ROLLUP,
	SQL_WORKLOAD,
	SQL_LABEL,
	SQL_CTR_HOURLY,
	SQL_DIST_GET,
	SQL_DIST_PUT,
	SQL_FINDING,
	SQL_DEL_POD_WINDOWS,
	SQL_OLDEST_POD_WINDOW,
	SQL_RAISE_FLOOR,
	SQL_DEL_LEDGER,
	SQL_DEL_ROLLUPS,
	SQL_DEL_CTR_HOURLY,
	SQL_DEL_FINDINGS,
	SQL_DEL_STATS,
	SQL_COSTS_NAMESPACE,
	SQL_COSTS_WORKLOAD,
	SQL_COSTS_NODE,
	SQL_COSTS_LABEL,
	SQL_COSTS_POD,
	SQL_NODES_ALL,
	SQL_LEDGER_COUNT,
	SQL_POD_WINDOW_ROWS, /* SQL_POD_WINDOW, STORE_ROWS rows at once (built by store_sql_init) */
	SQL_ROLLUP_ROWS,     /* SQL_ROLLUP, likewise */
	/* part 2, reconciler/gitops/gstore.c: deciding, proposals, verdicts */
	SQL_G_CONTAINERS,
	SQL_G_HOURS,
	SQL_G_WL_HOURS,
	SQL_G_WL_COST,
	SQL_G_NS_COST,
	SQL_G_PRICES,
	SQL_G_FINDINGS,
	SQL_G_LOCK,
	SQL_G_UNLOCK,
	SQL_P_INSERT,
	SQL_P_ITEM,
	SQL_P_UPDATE,
	SQL_P_SELECT,
	SQL_P_ITEMS,
	SQL_P_MAXREV,
	SQL_P_COUNTS,
	SQL_P_OPENED_SINCE,
	SQL_P_REJECTED,
	SQL_P_LAST_MERGE,
	SQL_P_OF_WORKLOAD,
	SQL_V_PUT,
	SQL_V_STALE,
	SQL_V_OF_WORKLOAD,
	SQL_F_GET,
	SQL_F_PUT,
	SQL_N,
};

#define STORE_ROWS 16 /* rows a multi-row INSERT takes */

/* The statements; the multi-row ones exist once store_sql_init has run (0 or -ENOMEM). */
extern const char *store_sql[SQL_N];
int store_sql_init(void);
/* store_migrations[v - 1]: the DDL of version v, NULL-terminated */
extern const char *const *const store_migrations[];
extern const char *const store_migration_3[];
/* Fill in the SQL_G_, SQL_P_, SQL_V_, SQL_F_ statements (reconciler/gitops/gstore.c). */
void store_gitops_sql(const char **sql);
extern const int store_n_migrations;

#endif /* PODMETER_RECONCILER_STORE_SQL_H */
