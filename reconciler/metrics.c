// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The reconciler's /metrics: counters under one lock, per-node gauges in a bounded table. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rec_limits.h"
#include "metrics.h"

const struct rec_reason_row rec_reasons[REASON_N] = {
	[REASON_NOT_FOUND] = { "not_found", 404 },
	[REASON_METHOD] = { "method", 405 },
	[REASON_MEDIA_TYPE] = { "media_type", 415 },
	[REASON_BODY_TOO_LARGE] = { "body_too_large", 413 },
	[REASON_INFLATED_TOO_LARGE] = { "inflated_too_large", 413 },
	[REASON_DECODED_TOO_LARGE] = { "decoded_too_large", 413 },
	[REASON_TOO_MANY_ITEMS] = { "too_many_items", 413 },
	[REASON_BAD_GZIP] = { "bad_gzip", 400 },
	[REASON_BAD_PROTOBUF] = { "bad_protobuf", 400 },
	[REASON_BAD_REPORT] = { "bad_report", 400 },
	[REASON_HEADER_MISMATCH] = { "header_mismatch", 400 },
	[REASON_UNAUTHENTICATED] = { "unauthenticated", 401 },
	[REASON_FORBIDDEN] = { "forbidden", 403 },
	[REASON_AUTH_UNAVAILABLE] = { "auth_unavailable", 503 },
	[REASON_SEQ_REUSED] = { "seq_reused", 409 },
	[REASON_OVERLOADED] = { "overloaded", 503 },
	[REASON_STORE] = { "store", 503 },
	[REASON_TIMEOUT] = { "timeout", 408 },
	[REASON_BAD_QUERY] = { "bad_query", 400 },
};

/* seconds */
static const double tx_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				     0.25,  0.5,    1,	   2.5,	 5,	10 };
#define N_TX_BUCKETS (sizeof(tx_buckets) / sizeof(tx_buckets[0]))

struct node_gauge {
	char *key; /* cluster \0 node */
	const char *node;
	double received, window_end;
};

struct rec_metrics {
	pthread_mutex_t lock;
	char engine[16];
	double start;
	uint64_t refusals[REASON_N];
	uint64_t verdicts[STORE_FAILED + 1];
	uint64_t seq_jumps;
	uint64_t tx_count, tx_failed, tx_buckets[N_TX_BUCKETS], tx_reports;
	double tx_sum;
	size_t queue;
	uint64_t compactions, compactions_failed, rows_deleted;
	double last_compaction;
	uint64_t tr_ok, tr_refused, tr_error;
	struct node_gauge *nodes; /* open addressing */
	size_t cap, n;
	/* proposals (reconciler/gitops/) */
	const char *const *prop_names;
	int64_t prop_count[16];
	int n_props;
	double savings[3];
	uint64_t cycles[3];
	double last_cycle;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct rec_metrics *metrics__new(const char *engine)
{
	struct rec_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	snprintf(m->engine, sizeof(m->engine), "%s", engine);
	m->start = now_s();
	return m;
}

void metrics__free(struct rec_metrics *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->cap; i++)
		free(m->nodes[i].key);
	free(m->nodes);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void metrics__refusal(struct rec_metrics *m, enum rec_reason r)
{
	pthread_mutex_lock(&m->lock);
	m->refusals[r]++;
	pthread_mutex_unlock(&m->lock);
}

static uint64_t key_hash(const char *cluster, const char *node)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *s;

	for (s = cluster; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL;
	for (s = node; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static bool key_is(const struct node_gauge *g, const char *cluster, const char *node)
{
	return !strcmp(g->key, cluster) && !strcmp(g->node, node);
}

static int grow(struct rec_metrics *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256, i, j;
	struct node_gauge *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < m->cap; i++) {
		if (!m->nodes[i].key)
			continue;
		j = key_hash(m->nodes[i].key, m->nodes[i].node) & (cap - 1);
		while (t[j].key)
			j = (j + 1) & (cap - 1);
		t[j] = m->nodes[i];
	}
	free(m->nodes);
	m->nodes = t;
	m->cap = cap;
	return 0;
}

/* Under the lock: the node's gauges, NULL past REC_NODES_TRACKED. */
static struct node_gauge *node_of(struct rec_metrics *m, const char *cluster, const char *node)
{
	size_t j, lc = strlen(cluster), ln = strlen(node);
	struct node_gauge *g;

	if ((m->n + 1) * 2 > m->cap && (m->n >= REC_NODES_TRACKED || grow(m)))
		return NULL;
	for (j = key_hash(cluster, node) & (m->cap - 1); m->nodes[j].key;
	     j = (j + 1) & (m->cap - 1))
		if (key_is(&m->nodes[j], cluster, node))
			return &m->nodes[j];
	g = &m->nodes[j];
	g->key = malloc(lc + ln + 2);
	if (!g->key)
		return NULL;
	memcpy(g->key, cluster, lc + 1);
	memcpy(g->key + lc + 1, node, ln + 1);
	g->node = g->key + lc + 1;
	m->n++;
	return g;
}

void metrics__node(struct rec_metrics *m, const char *cluster, const char *node, double received,
		   double window_end)
{
	struct node_gauge *g;

	pthread_mutex_lock(&m->lock);
	g = node_of(m, cluster, node);
	if (g && received >= g->received) {
		g->received = received;
		g->window_end = window_end;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics__verdict(struct rec_metrics *m, const struct store_report *sr)
{
	pthread_mutex_lock(&m->lock);
	if (sr->verdict <= STORE_FAILED)
		m->verdicts[sr->verdict]++;
	m->seq_jumps += sr->seq_jump;
	pthread_mutex_unlock(&m->lock);
	if (sr->verdict == STORE_STORED)
		metrics__node(m, sr->rep->cluster, sr->rep->node, sr->received_at,
			      sr->rep->window_end);
}

void metrics__transaction(struct rec_metrics *m, double seconds, size_t reports, bool ok)
{
	size_t i;

	pthread_mutex_lock(&m->lock);
	m->tx_count++;
	m->tx_failed += !ok;
	m->tx_sum += seconds;
	m->tx_reports += reports;
	for (i = 0; i < N_TX_BUCKETS; i++)
		if (seconds <= tx_buckets[i])
			m->tx_buckets[i]++;
	pthread_mutex_unlock(&m->lock);
}

void metrics__queue(struct rec_metrics *m, size_t waiting)
{
	pthread_mutex_lock(&m->lock);
	m->queue = waiting;
	pthread_mutex_unlock(&m->lock);
}

void metrics__compaction(struct rec_metrics *m, const struct store_compaction *c, bool ok)
{
	pthread_mutex_lock(&m->lock);
	if (ok) {
		m->compactions++;
		m->rows_deleted += c->pod_windows + c->ledger + c->rollups + c->container_hours +
				   c->findings + c->stats;
		m->last_compaction = now_s();
	} else {
		m->compactions_failed++;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics__tokenreview(struct rec_metrics *m, const char *result)
{
	pthread_mutex_lock(&m->lock);
	if (!strcmp(result, "authenticated"))
		m->tr_ok++;
	else if (!strcmp(result, "refused"))
		m->tr_refused++;
	else
		m->tr_error++;
	pthread_mutex_unlock(&m->lock);
}

void metrics__proposals(struct rec_metrics *m, const char *const *names, const int64_t *count,
			int n, const double stages[3])
{
	pthread_mutex_lock(&m->lock);
	m->prop_names = names;
	m->n_props = n < 16 ? n : 16;
	memcpy(m->prop_count, count, sizeof(int64_t) * (size_t)m->n_props);
	memcpy(m->savings, stages, sizeof(m->savings));
	pthread_mutex_unlock(&m->lock);
}

void metrics__cycle(struct rec_metrics *m, const char *result)
{
	pthread_mutex_lock(&m->lock);
	m->cycles[!strcmp(result, "ok") ? 0 : !strcmp(result, "error") ? 1 : 2]++;
	m->last_cycle = now_s();
	pthread_mutex_unlock(&m->lock);
}

static void family(FILE *f, const char *name, const char *type, const char *help);

static void write_proposals(struct rec_metrics *m, FILE *f)
{
	static const char *const stages[] = { "proposed", "merged", "verified" };
	static const char *const results[] = { "ok", "error", "not_writer" };
	int i;

	family(f, "podmeter_reconciler_proposals", "gauge",
	       "Proposals (pull request revisions) in the store, by state.");
	for (i = 0; i < m->n_props; i++)
		fprintf(f, "podmeter_reconciler_proposals{state=\"%s\"} %lld\n", m->prop_names[i],
			(long long)m->prop_count[i]);
	family(f, "podmeter_reconciler_savings_dollars_per_month", "gauge",
	       "Monthly savings at the agents' prices: proposed (open), merged (merged, verified "
	       "or reverted), verified.");
	for (i = 0; i < 3; i++)
		fprintf(f, "podmeter_reconciler_savings_dollars_per_month{stage=\"%s\"} %.2f\n",
			stages[i], m->savings[i]);
	family(f, "podmeter_reconciler_propose_cycles_total", "counter",
	       "Proposing cycles, by result (not_writer: another replica holds the lock).");
	for (i = 0; i < 3; i++)
		fprintf(f, "podmeter_reconciler_propose_cycles_total{result=\"%s\"} %llu\n",
			results[i], (unsigned long long)m->cycles[i]);
	family(f, "podmeter_reconciler_last_propose_cycle_time_seconds", "gauge",
	       "When the last proposing cycle ended (0 = none yet).");
	fprintf(f, "podmeter_reconciler_last_propose_cycle_time_seconds %.3f\n", m->last_cycle);
}

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void put_label(FILE *f, const char *name, const char *v, bool more)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
	fputs(more ? "\"," : "\"", f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_counts(struct rec_metrics *m, FILE *f)
{
	static const char *const verdicts[] = {
		[STORE_STORED] = "stored",
		[STORE_DUPLICATE] = "duplicate",
		[STORE_SEQ_REUSED] = "seq_reused",
		[STORE_FAILED] = "failed",
	};
	int i;

	family(f, "podmeter_reconciler_reports_total", "counter",
	       "Reports the store gave a verdict: stored (exactly once), duplicate (already "
	       "there, answered 200), seq_reused (the sequence was taken by another window), "
	       "failed (not stored, the agent retries).");
	for (i = STORE_STORED; i <= STORE_FAILED; i++)
		fprintf(f, "podmeter_reconciler_reports_total{verdict=\"%s\"} %llu\n", verdicts[i],
			(unsigned long long)m->verdicts[i]);
	family(f, "podmeter_reconciler_refusals_total", "counter",
	       "Requests refused, by reason; each reason has its HTTP status.");
	for (i = 0; i < REASON_N; i++)
		fprintf(f, "podmeter_reconciler_refusals_total{reason=\"%s\",status=\"%u\"} %llu\n",
			rec_reasons[i].name, rec_reasons[i].status,
			(unsigned long long)m->refusals[i]);
	family(f, "podmeter_reconciler_seq_jumps_total", "counter",
	       "Reports stored far past their node's last sequence (logged; the node's last "
	       "sequence is not moved by them).");
	fprintf(f, "podmeter_reconciler_seq_jumps_total %llu\n", (unsigned long long)m->seq_jumps);
	family(f, "podmeter_reconciler_tokenreview_requests_total", "counter",
	       "TokenReviews sent to the API server, by result.");
	fprintf(f,
		"podmeter_reconciler_tokenreview_requests_total{result=\"authenticated\"} %llu\n"
		"podmeter_reconciler_tokenreview_requests_total{result=\"refused\"} %llu\n"
		"podmeter_reconciler_tokenreview_requests_total{result=\"error\"} %llu\n",
		(unsigned long long)m->tr_ok, (unsigned long long)m->tr_refused,
		(unsigned long long)m->tr_error);
}

static void write_store(struct rec_metrics *m, FILE *f, int64_t store_bytes)
{
	size_t i;

	family(f, "podmeter_reconciler_transaction_seconds", "histogram",
	       "Store transactions (a batch of reports each), from begin to commit.");
	for (i = 0; i < N_TX_BUCKETS; i++)
		fprintf(f, "podmeter_reconciler_transaction_seconds_bucket{le=\"%g\"} %llu\n",
			tx_buckets[i], (unsigned long long)m->tx_buckets[i]);
	fprintf(f,
		"podmeter_reconciler_transaction_seconds_bucket{le=\"+Inf\"} %llu\n"
		"podmeter_reconciler_transaction_seconds_sum %.6f\n"
		"podmeter_reconciler_transaction_seconds_count %llu\n",
		(unsigned long long)m->tx_count, m->tx_sum, (unsigned long long)m->tx_count);
	family(f, "podmeter_reconciler_transactions_failed_total", "counter",
	       "Store transactions rolled back: their reports were answered 503.");
	fprintf(f, "podmeter_reconciler_transactions_failed_total %llu\n",
		(unsigned long long)m->tx_failed);
	family(f, "podmeter_reconciler_queue_reports", "gauge", "Reports waiting for the writer.");
	fprintf(f, "podmeter_reconciler_queue_reports %zu\n", m->queue);
	if (store_bytes >= 0) {
		family(f, "podmeter_reconciler_store_bytes", "gauge",
		       "Bytes the store takes (SQLite: file and WAL; PostgreSQL: the database).");
		fprintf(f, "podmeter_reconciler_store_bytes %lld\n", (long long)store_bytes);
	}
	family(f, "podmeter_reconciler_compactions_total", "counter",
	       "Retention and compaction runs, by result.");
	fprintf(f,
		"podmeter_reconciler_compactions_total{result=\"ok\"} %llu\n"
		"podmeter_reconciler_compactions_total{result=\"failed\"} %llu\n",
		(unsigned long long)m->compactions, (unsigned long long)m->compactions_failed);
	family(f, "podmeter_reconciler_compaction_rows_deleted_total", "counter",
	       "Rows retention deleted, all tables.");
	fprintf(f, "podmeter_reconciler_compaction_rows_deleted_total %llu\n",
		(unsigned long long)m->rows_deleted);
	family(f, "podmeter_reconciler_last_compaction_time_seconds", "gauge",
	       "When retention last ran (0 = not yet).");
	fprintf(f, "podmeter_reconciler_last_compaction_time_seconds %.3f\n", m->last_compaction);
}

static void write_nodes(struct rec_metrics *m, FILE *f)
{
	static const char *const names[] = { "podmeter_reconciler_node_last_report_time_seconds",
					     "podmeter_reconciler_node_lag_seconds" };
	static const char *const help[] = {
		"When the node's last stored report arrived (unix seconds).",
		"The node's last stored report: arrival less the end of its window, in seconds.",
	};
	size_t i;
	int k;

	for (k = 0; k < 2; k++) {
		family(f, names[k], "gauge", help[k]);
		for (i = 0; i < m->cap; i++) {
			const struct node_gauge *g = &m->nodes[i];

			if (!g->key)
				continue;
			fprintf(f, "%s{", names[k]);
			put_label(f, "cluster", g->key, true);
			put_label(f, "node", g->node, false);
			fprintf(f, "} %.3f\n", k ? g->received - g->window_end : g->received);
		}
	}
}

int metrics__write(struct rec_metrics *m, FILE *f, int64_t store_bytes)
{
	pthread_mutex_lock(&m->lock);
	write_counts(m, f);
	write_store(m, f, store_bytes);
	write_nodes(m, f);
	write_proposals(m, f);
	family(f, "podmeter_reconciler_build_info", "gauge", "The reconciler's version and store.");
	fprintf(f, "podmeter_reconciler_build_info{version=\"%s\",store=\"%s\"} 1\n", PM_VERSION,
		m->engine);
	family(f, "podmeter_reconciler_start_time_seconds", "gauge", "When it started.");
	fprintf(f, "podmeter_reconciler_start_time_seconds %.3f\n", m->start);
	pthread_mutex_unlock(&m->lock);
	return ferror(f) ? -EIO : 0;
}
