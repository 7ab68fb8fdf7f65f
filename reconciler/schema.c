// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The store's schema, one text for both engines (types both read the same
 * way: BIGINT, DOUBLE PRECISION, TEXT, BYTEA), and every statement the
 * reconciler runs. Migrations are numbered and only ever appended; the
 * version applied is kept in schema_migrations.
 *
 * Money is in nanodollars (BIGINT: sums are exact), times in unix seconds.
 * README.md's "Schema" section describes each table.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_sql.h"

static const char *const migration_1[] = {
	/* one row per report taken: exactly once rests on this key */
	"CREATE TABLE ledger ("
	" cluster TEXT NOT NULL, node TEXT NOT NULL, seq BIGINT NOT NULL,"
	" window_start DOUBLE PRECISION NOT NULL, window_end DOUBLE PRECISION NOT NULL,"
	" received_at DOUBLE PRECISION NOT NULL, bytes BIGINT NOT NULL, pods BIGINT NOT NULL,"
	" seq_jump BIGINT NOT NULL,"
	" PRIMARY KEY (cluster, node, seq))",
	"CREATE INDEX ledger_received ON ledger (received_at)",
	"CREATE TABLE nodes ("
	" cluster TEXT NOT NULL, node TEXT NOT NULL,"
	" last_seq BIGINT NOT NULL, last_window_end DOUBLE PRECISION NOT NULL,"
	" last_received_at DOUBLE PRECISION NOT NULL, reports BIGINT NOT NULL,"
	" seq_jumps BIGINT NOT NULL, ledger_floor BIGINT NOT NULL, agent_version TEXT NOT NULL,"
	" PRIMARY KEY (cluster, node))",
	"CREATE TABLE pod_windows ("
	" cluster TEXT NOT NULL, node TEXT NOT NULL, seq BIGINT NOT NULL, uid TEXT NOT NULL,"
	" namespace TEXT NOT NULL, pod TEXT NOT NULL, owner_kind TEXT NOT NULL,"
	" owner_name TEXT NOT NULL,"
	" window_start DOUBLE PRECISION NOT NULL, window_end DOUBLE PRECISION NOT NULL,"
	" cpu_usec BIGINT NOT NULL, memory_avg_bytes BIGINT NOT NULL,"
	" memory_peak_bytes BIGINT NOT NULL, net_tx_bytes BIGINT NOT NULL, oom_kills BIGINT NOT NULL,"
	" cost_cpu BIGINT NOT NULL, cost_memory BIGINT NOT NULL, cost_gpu BIGINT NOT NULL,"
	" cost_network BIGINT NOT NULL,"
	" waste_cpu BIGINT NOT NULL, waste_memory BIGINT NOT NULL, waste_gpu BIGINT NOT NULL)",
	/* no key of its own: the ledger admits a report once, a report lists a pod once */
	"CREATE INDEX pod_windows_end ON pod_windows (window_end)",
	"CREATE TABLE rollups_hourly ("
	" cluster TEXT NOT NULL, hour BIGINT NOT NULL, namespace TEXT NOT NULL,"
	" owner_kind TEXT NOT NULL, owner_name TEXT NOT NULL, node TEXT NOT NULL,"
	" cost_cpu BIGINT NOT NULL, cost_memory BIGINT NOT NULL, cost_gpu BIGINT NOT NULL,"
	" cost_network BIGINT NOT NULL,"
	" waste_cpu BIGINT NOT NULL, waste_memory BIGINT NOT NULL, waste_gpu BIGINT NOT NULL,"
	" idle_cpu BIGINT NOT NULL, idle_memory BIGINT NOT NULL, idle_gpu BIGINT NOT NULL,"
	" cpu_core_seconds DOUBLE PRECISION NOT NULL,"
	" memory_byte_seconds DOUBLE PRECISION NOT NULL, net_tx_bytes BIGINT NOT NULL,"
	" pod_windows BIGINT NOT NULL,"
	" PRIMARY KEY (cluster, hour, namespace, owner_kind, owner_name, node))",
	"CREATE INDEX rollups_hourly_hour ON rollups_hourly (hour)",
	"CREATE TABLE workloads ("
	" cluster TEXT NOT NULL, namespace TEXT NOT NULL, owner_kind TEXT NOT NULL,"
	" owner_name TEXT NOT NULL, first_seen DOUBLE PRECISION NOT NULL,"
	" last_seen DOUBLE PRECISION NOT NULL,"
	" PRIMARY KEY (cluster, namespace, owner_kind, owner_name))",
	"CREATE TABLE workload_labels ("
	" cluster TEXT NOT NULL, namespace TEXT NOT NULL, owner_kind TEXT NOT NULL,"
	" owner_name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" updated_at DOUBLE PRECISION NOT NULL,"
	" PRIMARY KEY (cluster, namespace, owner_kind, owner_name, key))",
	"CREATE TABLE container_stats ("
	" cluster TEXT NOT NULL, namespace TEXT NOT NULL, owner_kind TEXT NOT NULL,"
	" owner_name TEXT NOT NULL, container TEXT NOT NULL,"
	" cpu_dist BYTEA NOT NULL, ref_time DOUBLE PRECISION NOT NULL,"
	" first_seen DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL,"
	" PRIMARY KEY (cluster, namespace, owner_kind, owner_name, container))",
	"CREATE TABLE container_hourly ("
	" cluster TEXT NOT NULL, hour BIGINT NOT NULL, namespace TEXT NOT NULL,"
	" owner_kind TEXT NOT NULL, owner_name TEXT NOT NULL, container TEXT NOT NULL,"
	" cpu_usec BIGINT NOT NULL, memory_peak_bytes BIGINT NOT NULL, oom_kills BIGINT NOT NULL,"
	" throttled_periods BIGINT NOT NULL, throttled_usec BIGINT NOT NULL,"
	" cpu_request_millicores BIGINT NOT NULL, memory_request_bytes BIGINT NOT NULL,"
	" cpu_limit_millicores BIGINT NOT NULL, memory_limit_bytes BIGINT NOT NULL,"
	" pod_windows BIGINT NOT NULL,"
	" PRIMARY KEY (cluster, hour, namespace, owner_kind, owner_name, container))",
	"CREATE INDEX container_hourly_hour ON container_hourly (hour)",
	"CREATE TABLE findings ("
	" cluster TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL,"
	" pod TEXT NOT NULL, uid TEXT NOT NULL, owner_kind TEXT NOT NULL, owner_name TEXT NOT NULL,"
	" node TEXT NOT NULL, first_seen DOUBLE PRECISION NOT NULL,"
	" last_seen DOUBLE PRECISION NOT NULL, since DOUBLE PRECISION NOT NULL,"
	" score DOUBLE PRECISION NOT NULL, detail TEXT NOT NULL, attributes TEXT NOT NULL,"
	" PRIMARY KEY (cluster, id))",
	"CREATE INDEX findings_last_seen ON findings (last_seen)",
	NULL,
};

/*
 * 2: what verifying a change needs besides cost: the pods' run-queue wait
 * (per pod-window and per workload-hour, to set against their CPU time) and
 * their process starts (a restarting container starts its processes again).
 */
static const char *const migration_2[] = {
	"ALTER TABLE pod_windows ADD COLUMN runqueue_usec BIGINT NOT NULL DEFAULT 0",
	"ALTER TABLE pod_windows ADD COLUMN process_starts BIGINT NOT NULL DEFAULT 0",
	"ALTER TABLE rollups_hourly ADD COLUMN runqueue_usec BIGINT NOT NULL DEFAULT 0",
	"ALTER TABLE rollups_hourly ADD COLUMN process_starts BIGINT NOT NULL DEFAULT 0",
	NULL,
};

const char *const *const store_migrations[] = {
	migration_1, migration_2,
	store_migration_3, /* reconciler/gitops/gstore.c: proposals, verdicts */
};
const int store_n_migrations = sizeof(store_migrations) / sizeof(store_migrations[0]);

/* "a = CASE WHEN excluded.a > t.a THEN excluded.a ELSE t.a END": both engines, unlike max() */
#define GREATER(t, c)                                                                              \
	c " = CASE WHEN excluded." c " > " t "." c " THEN excluded." c " ELSE " t "." c " END"
#define LESSER(t, c)                                                                               \
	c " = CASE WHEN excluded." c " < " t "." c " THEN excluded." c " ELSE " t "." c " END"
#define ADD(t, c) c " = " t "." c " + excluded." c

#define COST_SUMS                                                                                  \
	"SUM(cost_cpu), SUM(cost_memory), SUM(cost_gpu), SUM(cost_network), SUM(waste_cpu), "      \
	"SUM(waste_memory), SUM(waste_gpu), SUM(idle_cpu), SUM(idle_memory), SUM(idle_gpu)"

const char *store_sql[SQL_N] = {
	[SQL_MIG_TABLE] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
			  "version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
	[SQL_MIG_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
	[SQL_MIG_INSERT] = "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",

	[SQL_NODE_GET] =
		"SELECT last_seq, ledger_floor FROM nodes WHERE cluster = $1 AND node = $2",
	/* nothing at or below the node's floor: retention deleted those rows, they were seen */
	[SQL_LEDGER_INSERT] =
		"INSERT INTO ledger (cluster, node, seq, window_start, window_end, received_at, bytes,"
		" pods, seq_jump) SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT),"
		" CAST($4 AS DOUBLE PRECISION), CAST($5 AS DOUBLE PRECISION),"
		" CAST($6 AS DOUBLE PRECISION), CAST($7 AS BIGINT), CAST($8 AS BIGINT), 0"
		" WHERE NOT EXISTS (SELECT 1 FROM nodes WHERE cluster = $1 AND node = $2"
		" AND ledger_floor >= CAST($3 AS BIGINT))"
		" ON CONFLICT (cluster, node, seq) DO NOTHING",
	[SQL_LEDGER_JUMP] =
		"UPDATE ledger SET seq_jump = 1 WHERE cluster = $1 AND node = $2 AND seq = $3",
	[SQL_LEDGER_GET] =
		"SELECT window_start FROM ledger WHERE cluster = $1 AND node = $2 AND seq = $3",
	[SQL_NODE_UPSERT] =
		"INSERT INTO nodes (cluster, node, last_seq, last_window_end, last_received_at, reports,"
		" seq_jumps, ledger_floor, agent_version, cpu_core_hour, memory_gib_hour, gpu_hour)"
		" VALUES ($1, $2, $3, $4, $5, 1, $6, 0, $7, $8, $9, $10)"
		" ON CONFLICT (cluster, node) DO UPDATE SET " GREATER("nodes", "last_seq") ", " GREATER(
			"nodes",
			"last_window_end") ", last_received_at = excluded.last_received_at,"
					   " reports = nodes.reports + 1, " ADD(
						   "nodes",
						   "seq_jumps") ","
								" agent_version = excluded.agent_version, cpu_core_hour = excluded.cpu_core_hour,"
								" memory_gib_hour = excluded.memory_gib_hour, gpu_hour = excluded.gpu_hour",
	[SQL_POD_WINDOW] =
		"INSERT INTO pod_windows (cluster, node, seq, uid, namespace, pod, owner_kind, owner_name,"
		" window_start, window_end, cpu_usec, memory_avg_bytes, memory_peak_bytes, net_tx_bytes,"
		" oom_kills, cost_cpu, cost_memory, cost_gpu, cost_network, waste_cpu, waste_memory,"
		" waste_gpu, runqueue_usec, process_starts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
		" $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
	[SQL_ROLLUP] =
		"INSERT INTO rollups_hourly (cluster, hour, namespace, owner_kind, owner_name, node,"
		" cost_cpu, cost_memory, cost_gpu, cost_network, waste_cpu, waste_memory, waste_gpu,"
		" idle_cpu, idle_memory, idle_gpu, cpu_core_seconds, memory_byte_seconds, net_tx_bytes,"
		" pod_windows, runqueue_usec, process_starts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
		" $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
		" ON CONFLICT (cluster, hour, namespace, owner_kind, owner_name, node) DO UPDATE SET " ADD(
			"rollups_hourly",
			"cost_cpu") ", " ADD("rollups_hourly",
					     "cost_memory") ", " ADD("rollups_hourly",
								     "cost_gpu") ", " ADD("rollups_hourly",
											  "cost_network") ", " ADD("rollups_hourly",
														   "waste_cpu") ", " ADD("rollups_hourly", "waste_memory") ", " ADD("rollups_hourly", "waste_gpu") ", " ADD("rollups_hourly", "idle_cpu") ", " ADD("rollups_hourly", "idle_memory") ", " ADD("rollups_hourly",
																																					     "idle_gpu") ", " ADD("rollups_hourly",
																																								  "cpu_core_seconds") ", " ADD("rollups_hourly",
																																											       "memory_byte_seconds") ", " ADD("rollups_hourly",
																																															       "net_tx_bytes") ", " ADD("rollups_hourly",
																																																			"pod_windows") ", " ADD("rollups_hourly",
																																																						"runqueue_usec") ", " ADD("rollups_hourly",
																																																									  "process_starts"),
	[SQL_WORKLOAD] =
		"INSERT INTO workloads (cluster, namespace, owner_kind, owner_name, first_seen, last_seen)"
		" VALUES ($1, $2, $3, $4, $5, $6)"
		" ON CONFLICT (cluster, namespace, owner_kind, owner_name) DO UPDATE SET " LESSER(
			"workloads", "first_seen") ", " GREATER("workloads", "last_seen"),
	[SQL_LABEL] =
		"INSERT INTO workload_labels (cluster, namespace, owner_kind, owner_name, key, value,"
		" updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
		" ON CONFLICT (cluster, namespace, owner_kind, owner_name, key) DO UPDATE SET"
		" value = CASE WHEN excluded.updated_at >= workload_labels.updated_at"
		" THEN excluded.value ELSE workload_labels.value END, " GREATER("workload_labels",
										"updated_at"),
	[SQL_CTR_HOURLY] =
		"INSERT INTO container_hourly (cluster, hour, namespace, owner_kind, owner_name, container,"
		" cpu_usec, memory_peak_bytes, oom_kills, throttled_periods, throttled_usec,"
		" cpu_request_millicores, memory_request_bytes, cpu_limit_millicores, memory_limit_bytes,"
		" pod_windows, runqueue_usec, pod_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
		" $10, $11, $12, $13, $14, $15, $16, $17, $18)"
		" ON CONFLICT (cluster, hour, namespace, owner_kind, owner_name, container)"
		" DO UPDATE SET " ADD("container_hourly", "cpu_usec") ", " GREATER("container_hourly", "memory_peak_bytes") ", " ADD("container_hourly", "oom_kills") ", " ADD(
			"container_hourly",
			"throttled_periods") ", " ADD("container_hourly",
						      "throttled_usec") ", "
									"cpu_request_millicores = excluded.cpu_request_millicores,"
									" memory_request_bytes = excluded.memory_request_bytes,"
									" cpu_limit_millicores = excluded.cpu_limit_millicores,"
									" memory_limit_bytes = excluded.memory_limit_bytes, " ADD(
										"container_hourly",
										"pod_windows") ", " ADD("container_hourly",
													"runqueue_usec") ", " ADD("container_hourly",
																  "pod_seconds"),
	[SQL_DIST_GET] =
		"SELECT cpu_dist, ref_time FROM container_stats WHERE cluster = $1 AND namespace = $2"
		" AND owner_kind = $3 AND owner_name = $4 AND container = $5",
	[SQL_DIST_PUT] =
		"INSERT INTO container_stats (cluster, namespace, owner_kind, owner_name, container,"
		" cpu_dist, ref_time, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
		" ON CONFLICT (cluster, namespace, owner_kind, owner_name, container) DO UPDATE SET"
		" cpu_dist = excluded.cpu_dist, ref_time = excluded.ref_time, " LESSER(
			"container_stats", "first_seen") ", " GREATER("container_stats",
								      "last_seen"),
	[SQL_FINDING] =
		"INSERT INTO findings (cluster, id, kind, namespace, pod, uid, owner_kind, owner_name,"
		" node, first_seen, last_seen, since, score, detail, attributes) VALUES ($1, $2, $3, $4,"
		" $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
		" ON CONFLICT (cluster, id) DO UPDATE SET"
		" score = CASE WHEN excluded.last_seen >= findings.last_seen THEN excluded.score"
		" ELSE findings.score END,"
		" detail = CASE WHEN excluded.last_seen >= findings.last_seen THEN excluded.detail"
		" ELSE findings.detail END,"
		" attributes = CASE WHEN excluded.last_seen >= findings.last_seen"
		" THEN excluded.attributes ELSE findings.attributes END,"
		" node = CASE WHEN excluded.last_seen >= findings.last_seen THEN excluded.node"
		" ELSE findings.node END, " LESSER("findings", "first_seen") ", " GREATER(
			"findings", "last_seen"),

	[SQL_DEL_POD_WINDOWS] = "DELETE FROM pod_windows WHERE window_end < $1",
	[SQL_OLDEST_POD_WINDOW] = "SELECT MIN(window_end) FROM pod_windows",
	[SQL_RAISE_FLOOR] =
		"UPDATE nodes SET ledger_floor = (SELECT MAX(l.seq) FROM ledger l"
		" WHERE l.cluster = nodes.cluster AND l.node = nodes.node AND l.received_at < $1"
		" AND l.seq_jump = 0)"
		" WHERE (SELECT MAX(l.seq) FROM ledger l WHERE l.cluster = nodes.cluster"
		" AND l.node = nodes.node AND l.received_at < $1 AND l.seq_jump = 0) > ledger_floor",
	[SQL_DEL_LEDGER] =
		"DELETE FROM ledger WHERE (cluster, node, seq) IN (SELECT cluster, node, seq FROM ledger"
		" WHERE received_at < $1 LIMIT $2)",
	[SQL_DEL_ROLLUPS] = "DELETE FROM rollups_hourly WHERE hour < $1",
	[SQL_DEL_CTR_HOURLY] = "DELETE FROM container_hourly WHERE hour < $1",
	[SQL_DEL_FINDINGS] = "DELETE FROM findings WHERE last_seen < $1",
	[SQL_DEL_STATS] = "DELETE FROM container_stats WHERE last_seen < $1",

	[SQL_COSTS_NAMESPACE] = "SELECT cluster, namespace, '', '', " COST_SUMS
				" FROM rollups_hourly"
				" WHERE hour >= $1 AND hour < $2 GROUP BY cluster, namespace",
	[SQL_COSTS_WORKLOAD] =
		"SELECT cluster, namespace, owner_kind, owner_name, " COST_SUMS
		" FROM rollups_hourly"
		" WHERE hour >= $1 AND hour < $2 GROUP BY cluster, namespace, owner_kind, owner_name",
	[SQL_COSTS_NODE] = "SELECT cluster, node, '', '', " COST_SUMS " FROM rollups_hourly"
			   " WHERE hour >= $1 AND hour < $2 GROUP BY cluster, node",
	[SQL_COSTS_LABEL] =
		"SELECT r.cluster, CASE WHEN r.namespace = '__idle__' THEN '__idle__'"
		" ELSE COALESCE(l.value, '') END, '', '', "
		"SUM(r.cost_cpu), SUM(r.cost_memory), SUM(r.cost_gpu), SUM(r.cost_network),"
		" SUM(r.waste_cpu), SUM(r.waste_memory), SUM(r.waste_gpu), SUM(r.idle_cpu),"
		" SUM(r.idle_memory), SUM(r.idle_gpu)"
		" FROM rollups_hourly r LEFT JOIN workload_labels l ON l.cluster = r.cluster"
		" AND l.namespace = r.namespace AND l.owner_kind = r.owner_kind"
		" AND l.owner_name = r.owner_name AND l.key = $3"
		" WHERE r.hour >= $1 AND r.hour < $2 GROUP BY r.cluster,"
		" CASE WHEN r.namespace = '__idle__' THEN '__idle__' ELSE COALESCE(l.value, '') END",
	[SQL_COSTS_POD] =
		"SELECT cluster, namespace, pod, '', SUM(cost_cpu), SUM(cost_memory), SUM(cost_gpu),"
		" SUM(cost_network), SUM(waste_cpu), SUM(waste_memory), SUM(waste_gpu), 0, 0, 0"
		" FROM pod_windows WHERE window_end > $1 AND window_start < $2"
		" GROUP BY cluster, namespace, pod",
	[SQL_NODES_ALL] =
		"SELECT cluster, node, last_received_at, last_window_end, last_seq FROM nodes",
	[SQL_LEDGER_COUNT] = "SELECT COUNT(*) FROM ledger",
};

/*
 * @sql's VALUES tuple of @k placeholders, @rows times, renumbered: one
 * statement writes many rows, the values still bound one by one.
 */
static char *multi_row(const char *sql, int k, int rows)
{
	const char *open = strstr(sql, " VALUES ("), *close = open ? strchr(open, ')') : NULL;
	size_t cap = strlen(sql) + (size_t)rows * (size_t)k * 8 + 64, n;
	char *out;
	int r, i;

	if (!close || !(out = malloc(cap)))
		return NULL;
	n = (size_t)snprintf(out, cap, "%.*s VALUES ", (int)(open - sql), sql);
	for (r = 0; r < rows; r++) {
		n += (size_t)snprintf(out + n, cap - n, "%s(", r ? ", " : "");
		for (i = 0; i < k; i++)
			n += (size_t)snprintf(out + n, cap - n, "%s$%d", i ? ", " : "",
					      r * k + i + 1);
		n += (size_t)snprintf(out + n, cap - n, ")");
	}
	snprintf(out + n, cap - n, "%s", close + 1);
	return out;
}

static int sql_init_ret;

static void sql_init_once(void)
{
	store_sql[SQL_POD_WINDOW_ROWS] = multi_row(store_sql[SQL_POD_WINDOW], 24, STORE_ROWS);
	store_sql[SQL_ROLLUP_ROWS] = multi_row(store_sql[SQL_ROLLUP], 22, STORE_ROWS);
	sql_init_ret = store_sql[SQL_POD_WINDOW_ROWS] && store_sql[SQL_ROLLUP_ROWS] ? 0 : -ENOMEM;
	store_gitops_sql(store_sql);
}

int store_sql_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, sql_init_once);
	return sql_init_ret;
}
