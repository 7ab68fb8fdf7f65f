// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A load generator for podmeter-reconciler: simulated nodes post synthetic
 * NodeReports over real HTTP, as agents do (gzip'ed protobuf, the node and
 * seq headers, a bearer token each), in order per node, with duplicates
 * and reordering thrown in. Each node retries a report until it is
 * answered 2xx (or 409), as an agent's spool does, so a reconciler killed
 * mid-stream loses nothing.
 *
 *   reconciler_load --url URL [--nodes 50] [--pods 30] [--reports 20]
 *                   [--concurrency 8] [--rate R] [--dup 0.02] [--reorder 0.02]
 *                   [--cluster lab] [--seq-start 1] [--time-base T] [--seed S]
 *                   [--sums FILE] [--quiet]
 *   reconciler_load --write-tokens FILE --nodes N [--cluster lab]
 *   reconciler_load --dump FILE [--seq-start S] [--pods P]: node 0's report S, as sent
 *
 * Prints reports/s and the acknowledgement latency (p50, p99, max); with
 * --sums, what was acknowledged and the amounts it carried, as JSON, for a
 * test to compare with the store.
 */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <podmeter/dist.h>
#include <podmeter/report.h>
#include "podmeter.pb-c.h"

#define WINDOW_S  60.0
#define WORKLOADS 40   /* shared by the nodes: replicas everywhere */
#define GIVE_UP_S 60.0 /* a report not acknowledged for this long is given up */

struct opts {
	const char *url, *cluster, *sums, *write_tokens, *dump;
	int nodes, pods, reports, concurrency;
	double rate, dup, reorder, time_base;
	uint64_t seq_start, seed;
	bool quiet;
};

/* What the acknowledged reports carried, by node: the truth a test checks the store against. */
struct node_sum {
	uint64_t acked;		     /* distinct reports answered 2xx */
	uint64_t stored, duplicates; /* as the answers said */
	uint64_t cost[4], waste[3], idle[3];
};

struct stats {
	pthread_mutex_t lock;
	double *lat; /* seconds, one a first answered try */
	size_t n_lat, cap_lat;
	uint64_t sent, ok, stored, duplicates, retries, refused[600], errors;
};

struct worker {
	const struct opts *o;
	int id;
	struct stats *st;
	struct node_sum *sums;
	CURL *curl;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* A number in [0, 1) from the seed and a few coordinates: every report is reproducible. */
static double u01(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
	return (mix(seed ^ mix(a * 0x9e3779b97f4a7c15ULL ^ mix(b + 0x1234567 * c))) >> 11) /
	       9007199254740992.0;
}

static void token_of(const struct opts *o, int node, char *buf, size_t len)
{
	snprintf(buf, len, "tok-%s-%d-%016llx", o->cluster, node,
		 (unsigned long long)mix(0x70de + (uint64_t)node));
}

static void node_name(int node, char *buf, size_t len)
{
	snprintf(buf, len, "sim-node-%05d", node);
}

/* ---- a report ---- */

struct arena {
	void **p;
	size_t n, cap;
};

static void *al(struct arena *a, size_t size)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 256;
		a->p = realloc(a->p, a->cap * sizeof(*a->p));
		if (!a->p)
			abort();
	}
	a->p[a->n] = calloc(1, size ? size : 1);
	if (!a->p[a->n])
		abort();
	return a->p[a->n++];
}

static char *str(struct arena *a, const char *s)
{
	return strcpy(al(a, strlen(s) + 1), s);
}

static void arena_free(struct arena *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
}

static Podmeter__V1__Dollars *dollars(struct arena *a, const uint64_t *v, int n)
{
	Podmeter__V1__Dollars *d = al(a, sizeof(*d));

	podmeter__v1__dollars__init(d);
	d->cpu_nanodollars = v[0];
	d->memory_nanodollars = v[1];
	d->gpu_nanodollars = v[2];
	d->network_nanodollars = n > 3 ? v[3] : 0;
	return d;
}

/* A container's CPU over the window: 60 one-second ticks around its workload's level. */
static Podmeter__V1__Histogram *histogram(struct arena *a, const struct opts *o, int node,
					  uint64_t seq, int pod, double level)
{
	Podmeter__V1__Histogram *h = al(a, sizeof(*h));
	struct pm_dist d;
	int32_t k;
	int t;

	dist__init(&d);
	for (t = 0; t < 60; t++)
		dist__add(&d, level * (0.5 + u01(o->seed, node, seq * 64 + t, pod)), 1000);
	podmeter__v1__histogram__init(h);
	h->relative_accuracy = PM_DIST_ALPHA;
	h->min_value = PM_DIST_MIN;
	h->zero_count = (uint64_t)d.zero;
	if (d.lo <= d.hi) {
		h->first_key = d.lo;
		h->counts = al(a, (size_t)(d.hi - d.lo + 1) * sizeof(*h->counts));
		for (k = d.lo; k <= d.hi; k++)
			h->counts[h->n_counts++] = (uint64_t)d.w[k - d.lo];
	}
	dist__free(&d);
	return h;
}

static void finding(struct arena *a, Podmeter__V1__PodReport *p, int node, int i, double since)
{
	Podmeter__V1__Finding *f = al(a, sizeof(*f));
	Podmeter__V1__Finding__AttributesEntry *e = al(a, sizeof(*e));
	char buf[32];

	podmeter__v1__finding__init(f);
	snprintf(buf, sizeof(buf), "%08x%08x", node, i);
	f->id = str(a, buf);
	f->kind = str(a, "idle");
	f->score = 0.5;
	f->since = since;
	f->detail = str(a, "no CPU used in the idle window");
	podmeter__v1__finding__attributes_entry__init(e);
	e->key = str(a, "cpu_max_cores");
	e->value = str(a, "0.001");
	f->attributes = al(a, sizeof(*f->attributes));
	f->attributes[f->n_attributes++] = e;
	p->findings = al(a, sizeof(*p->findings));
	p->findings[p->n_findings++] = f;
}

static Podmeter__V1__PodReport *pod(struct arena *a, const struct opts *o, int node, uint64_t seq,
				    int i, struct node_sum *sum)
{
	Podmeter__V1__PodReport *p = al(a, sizeof(*p));
	Podmeter__V1__ContainerReport *c = al(a, sizeof(*c));
	Podmeter__V1__PodReport__LabelsEntry *l = al(a, sizeof(*l));
	int w = (node * 7 + i) % WORKLOADS, k;
	uint64_t cost[4], waste[3];
	char buf[96];

	podmeter__v1__pod_report__init(p);
	snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012x", node, i);
	p->uid = str(a, buf);
	snprintf(buf, sizeof(buf), "ns-%d", w % 8);
	p->namespace_ = str(a, buf);
	snprintf(buf, sizeof(buf), "app-%d-5d9c8f7b6-%05d%02d", w, node, i);
	p->name = str(a, buf);
	p->owner_kind = str(a, "Deployment");
	snprintf(buf, sizeof(buf), "app-%d", w);
	p->owner_name = str(a, buf);
	for (k = 0; k < 4; k++)
		cost[k] = (uint64_t)(u01(o->seed, node, seq, i * 8 + k) * 2e6);
	for (k = 0; k < 3; k++)
		waste[k] = cost[k] / 3;
	p->cost = dollars(a, cost, 4);
	p->waste = dollars(a, waste, 3);
	p->cpu_usec = (uint64_t)(u01(o->seed, node, seq, i * 8 + 5) * 6e7);
	p->memory_avg_bytes = (uint64_t)(u01(o->seed, node, seq, i * 8 + 6) * 2e9);
	p->memory_peak_bytes = p->memory_avg_bytes + 4096;
	podmeter__v1__container_report__init(c);
	c->id = str(a, "");
	c->name = str(a, "app");
	c->cpu_usec = p->cpu_usec;
	c->memory_working_set_peak_bytes = p->memory_peak_bytes;
	c->cpu_cores = histogram(a, o, node, seq, i, 0.05 * (1 + w % 10));
	p->containers = al(a, sizeof(*p->containers));
	p->containers[p->n_containers++] = c;
	podmeter__v1__pod_report__labels_entry__init(l);
	l->key = str(a, "team");
	snprintf(buf, sizeof(buf), "team-%d", w % 5);
	l->value = str(a, buf);
	p->labels = al(a, sizeof(*p->labels));
	p->labels[p->n_labels++] = l;
	if (i % 10 == 0) /* every tenth pod idle, the same finding window after window */
		finding(a, p, node, i, o->time_base);
	if (sum) {
		for (k = 0; k < 4; k++)
			sum->cost[k] += cost[k];
		for (k = 0; k < 3; k++)
			sum->waste[k] += waste[k];
	}
	return p;
}

/* Report @seq of @node, packed and gzip'ed; with @sum, its amounts added there. */
static int report(const struct opts *o, int node, uint64_t seq, struct node_sum *sum, void **gz,
		  size_t *gzlen)
{
	Podmeter__V1__NodeReport r;
	Podmeter__V1__NodeUsage u;
	struct arena a = { 0 };
	uint64_t idle[3];
	char name[64];
	size_t len;
	uint8_t *pb;
	int i, ret;

	podmeter__v1__node_report__init(&r);
	podmeter__v1__node_usage__init(&u);
	node_name(node, name, sizeof(name));
	r.cluster = (char *)o->cluster;
	r.node = name;
	r.agent_version = "load";
	r.seq = seq;
	r.window_start = o->time_base + (double)(seq - 1) * WINDOW_S;
	r.window_end = r.window_start + WINDOW_S;
	for (i = 0; i < 3; i++)
		idle[i] = (uint64_t)(u01(o->seed, node, seq, 9999 + i) * 3e6);
	u.idle_cost = dollars(&a, idle, 3);
	r.node_usage = &u;
	r.pods = al(&a, o->pods * sizeof(*r.pods));
	for (i = 0; i < o->pods; i++)
		r.pods[r.n_pods++] = pod(&a, o, node, seq, i, sum);
	if (sum)
		for (i = 0; i < 3; i++)
			sum->idle[i] += idle[i];
	len = podmeter__v1__node_report__get_packed_size(&r);
	pb = malloc(len);
	podmeter__v1__node_report__pack(&r, pb);
	ret = gz__compress(pb, len, gz, gzlen);
	free(pb);
	arena_free(&a);
	return ret;
}

/* ---- posting ---- */

struct answer {
	char buf[64];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *b = ctx;
	size_t add = size * n, room = sizeof(b->buf) - 1 - b->len;

	memcpy(b->buf + b->len, p, add < room ? add : room);
	b->len += add < room ? add : room;
	b->buf[b->len] = '\0';
	return add;
}

/* One POST: the HTTP status (0: no answer), the answer's first word in @ans. */
static long post(struct worker *w, int node, uint64_t seq, const void *gz, size_t len,
		 struct answer *ans)
{
	char line[3][256], tok[128], name[64];
	struct curl_slist *h = NULL;
	long status = 0;
	CURLcode rc;

	node_name(node, name, sizeof(name));
	token_of(w->o, node, tok, sizeof(tok));
	snprintf(line[0], sizeof(line[0]), "X-Podmeter-Node: %s", name);
	snprintf(line[1], sizeof(line[1]), "X-Podmeter-Seq: %llu", (unsigned long long)seq);
	snprintf(line[2], sizeof(line[2]), "Authorization: Bearer %s", tok);
	h = curl_slist_append(h, "Content-Type: " PM_REPORT_CONTENT_TYPE);
	h = curl_slist_append(h, "Content-Encoding: gzip");
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, line[0]);
	h = curl_slist_append(h, line[1]);
	h = curl_slist_append(h, line[2]);
	ans->len = 0;
	ans->buf[0] = '\0';
	curl_easy_setopt(w->curl, CURLOPT_URL, w->o->url);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, gz);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, ans);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(w->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

static void note_latency(struct stats *st, double s)
{
	pthread_mutex_lock(&st->lock);
	if (st->n_lat == st->cap_lat) {
		st->cap_lat = st->cap_lat ? st->cap_lat * 2 : 4096;
		st->lat = realloc(st->lat, st->cap_lat * sizeof(*st->lat));
	}
	if (st->lat)
		st->lat[st->n_lat++] = s;
	pthread_mutex_unlock(&st->lock);
}

/* Send until answered 2xx or 409, as a spool does: true when it was acknowledged. */
static bool deliver(struct worker *w, int node, uint64_t seq, bool count_sum)
{
	struct node_sum *sum = &w->sums[node], scratch = { 0 };
	struct answer ans;
	double t0;
	size_t len;
	void *gz;
	long status = 0;
	double first;
	int tries;

	if (report(w->o, node, seq, &scratch, &gz, &len))
		return false;
	first = mono();

	for (tries = 0; mono() - first < GIVE_UP_S; tries++) {
		t0 = mono();
		status = post(w, node, seq, gz, len, &ans);
		pthread_mutex_lock(&w->st->lock);
		w->st->sent++;
		if (tries)
			w->st->retries++;
		if (!status)
			w->st->errors++;
		else if (status < 200 || status >= 300)
			w->st->refused[status < 600 ? status : 599]++;
		pthread_mutex_unlock(&w->st->lock);
		if (status >= 200 && status < 300) {
			if (!tries)
				note_latency(w->st, mono() - t0);
			break;
		}
		if (status == 409 || (status >= 400 && status < 500 && status != 408 &&
				      status != 429 && status != 401 && status != 403))
			break; /* a lasting refusal: an agent moves it to rejected/ */
		usleep(20000 + 1000 * (tries < 50 ? tries : 50));
	}
	free(gz);
	if (!(status >= 200 && status < 300))
		return false;
	pthread_mutex_lock(&w->st->lock);
	w->st->ok++;
	if (!strncmp(ans.buf, "stored", 6))
		w->st->stored++, sum->stored++;
	else if (!strncmp(ans.buf, "duplicate", 9))
		w->st->duplicates++, sum->duplicates++;
	pthread_mutex_unlock(&w->st->lock);
	if (count_sum) {
		int k;

		sum->acked++;
		for (k = 0; k < 4; k++)
			sum->cost[k] += scratch.cost[k];
		for (k = 0; k < 3; k++) {
			sum->waste[k] += scratch.waste[k];
			sum->idle[k] += scratch.idle[k];
		}
	}
	return true;
}

/* The order a node sends its reports in: now and then two neighbours swapped. */
static void order_of(const struct opts *o, int node, uint64_t *seqs)
{
	uint64_t t;
	int r;

	for (r = 0; r < o->reports; r++)
		seqs[r] = o->seq_start + (uint64_t)r;
	for (r = 0; r + 1 < o->reports; r++) {
		if (u01(o->seed, node, seqs[r], 7777) < o->reorder) {
			t = seqs[r];
			seqs[r] = seqs[r + 1];
			seqs[r + 1] = t;
			r++;
		}
	}
}

/* Round after round, each of its nodes sends its next report; some twice, some swapped. */
static void *run(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	double start = mono(), gap = o->rate > 0 ? o->concurrency / o->rate : 0, next;
	uint64_t *seqs = calloc(o->reports,
				sizeof(*seqs) *
					(size_t)((o->nodes + o->concurrency - 1) / o->concurrency));
	int r, node, k, n = 0;

	if (!seqs)
		return NULL;
	for (node = w->id, k = 0; node < o->nodes; node += o->concurrency, k++)
		order_of(o, node, seqs + (size_t)k * o->reports);
	w->curl = curl_easy_init();
	for (r = 0; r < o->reports; r++) {
		for (node = w->id, k = 0; node < o->nodes; node += o->concurrency, k++, n++) {
			uint64_t seq = seqs[(size_t)k * o->reports + r];

			if (gap > 0) {
				next = start + n * gap;
				if (next > mono())
					usleep((useconds_t)((next - mono()) * 1e6));
			}
			deliver(w, node, seq, true);
			if (u01(o->seed, node, seq, 8888) < o->dup)
				deliver(w, node, seq, false); /* its answer "lost": sent again */
		}
	}
	curl_easy_cleanup(w->curl);
	free(seqs);
	return NULL;
}

/* ---- results ---- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double q)
{
	size_t i;

	if (!n)
		return NAN;
	i = (size_t)ceil(q * n);
	return v[i ? i - 1 : 0];
}

static void write_sums(const struct opts *o, const struct node_sum *s)
{
	FILE *f = fopen(o->sums, "w");
	struct node_sum t = { 0 };
	char name[64];
	int i, k;

	if (!f) {
		perror(o->sums);
		return;
	}
	fprintf(f, "{\"cluster\": \"%s\", \"seq_start\": %llu, \"reports\": %d, \"nodes\": {",
		o->cluster, (unsigned long long)o->seq_start, o->reports);
	for (i = 0; i < o->nodes; i++) {
		node_name(i, name, sizeof(name));
		fprintf(f, "%s\"%s\": {\"acked\": %llu, \"stored\": %llu, \"duplicates\": %llu}",
			i ? ", " : "", name, (unsigned long long)s[i].acked,
			(unsigned long long)s[i].stored, (unsigned long long)s[i].duplicates);
		t.acked += s[i].acked;
		for (k = 0; k < 4; k++)
			t.cost[k] += s[i].cost[k];
		for (k = 0; k < 3; k++) {
			t.waste[k] += s[i].waste[k];
			t.idle[k] += s[i].idle[k];
		}
	}
	fprintf(f,
		"}, \"acked\": %llu, \"cost\": [%llu, %llu, %llu, %llu], \"waste\": [%llu, "
		"%llu, %llu], \"idle\": [%llu, %llu, %llu]}\n",
		(unsigned long long)t.acked, (unsigned long long)t.cost[0],
		(unsigned long long)t.cost[1], (unsigned long long)t.cost[2],
		(unsigned long long)t.cost[3], (unsigned long long)t.waste[0],
		(unsigned long long)t.waste[1], (unsigned long long)t.waste[2],
		(unsigned long long)t.idle[0], (unsigned long long)t.idle[1],
		(unsigned long long)t.idle[2]);
	fclose(f);
}

static void print_stats(const struct opts *o, struct stats *st, double secs)
{
	int s;

	qsort(st->lat, st->n_lat, sizeof(*st->lat), cmp_d);
	printf("load: %d nodes x %d pods, %llu reports acknowledged in %.2f s: %.1f reports/s "
	       "(%llu stored, %llu duplicates)\n",
	       o->nodes, o->pods, (unsigned long long)st->ok, secs, st->ok / secs,
	       (unsigned long long)st->stored, (unsigned long long)st->duplicates);
	printf("load: latency p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu first tries answered)\n",
	       pct(st->lat, st->n_lat, 0.5) * 1e3, pct(st->lat, st->n_lat, 0.99) * 1e3,
	       pct(st->lat, st->n_lat, 1) * 1e3, st->n_lat);
	printf("load: %llu posts, %llu retried, %llu without an answer",
	       (unsigned long long)st->sent, (unsigned long long)st->retries,
	       (unsigned long long)st->errors);
	for (s = 0; s < 600; s++)
		if (st->refused[s])
			printf(", %llu x %d", (unsigned long long)st->refused[s], s);
	printf("\n");
}

static int write_tokens(const struct opts *o)
{
	FILE *f = fopen(o->write_tokens, "w");
	char tok[128], name[64];
	int i;

	if (!f) {
		perror(o->write_tokens);
		return 1;
	}
	for (i = 0; i < o->nodes; i++) {
		node_name(i, name, sizeof(name));
		token_of(o, i, tok, sizeof(tok));
		fprintf(f, "%s/%s %s\n", o->cluster, name, tok);
	}
	return fclose(f) ? 1 : 0;
}

static int dump(struct opts *o)
{
	FILE *f = fopen(o->dump, "w");
	size_t len;
	void *gz;
	int ret;

	if (!o->time_base)
		o->time_base = floor((double)time(NULL) / 3600) * 3600 - 86400;
	if (!f || report(o, 0, o->seq_start, NULL, &gz, &len)) {
		perror(o->dump);
		return 1;
	}
	ret = fwrite(gz, 1, len, f) != len;
	free(gz);
	return fclose(f) || ret;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (!strcmp(a, "--url"))
			o->url = v;
		else if (!strcmp(a, "--cluster"))
			o->cluster = v;
		else if (!strcmp(a, "--sums"))
			o->sums = v;
		else if (!strcmp(a, "--write-tokens"))
			o->write_tokens = v;
		else if (!strcmp(a, "--dump"))
			o->dump = v;
		else if (!strcmp(a, "--nodes"))
			o->nodes = atoi(v);
		else if (!strcmp(a, "--pods"))
			o->pods = atoi(v);
		else if (!strcmp(a, "--reports"))
			o->reports = atoi(v);
		else if (!strcmp(a, "--concurrency"))
			o->concurrency = atoi(v);
		else if (!strcmp(a, "--rate"))
			o->rate = atof(v);
		else if (!strcmp(a, "--dup"))
			o->dup = atof(v);
		else if (!strcmp(a, "--reorder"))
			o->reorder = atof(v);
		else if (!strcmp(a, "--seq-start"))
			o->seq_start = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--time-base"))
			o->time_base = atof(v);
		else if (!strcmp(a, "--seed"))
			o->seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--quiet")) {
			o->quiet = true;
			i--;
		} else
			return -1;
	}
	if (i < argc && !strcmp(argv[i], "--quiet"))
		o->quiet = true;
	else if (i < argc)
		return -1;
	if (o->nodes < 1 || o->pods < 1 || o->reports < 1 || o->concurrency < 1 || !o->seq_start)
		return -1;
	return o->url || o->write_tokens || o->dump ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o = { .cluster = "lab",
			  .nodes = 50,
			  .pods = 30,
			  .reports = 20,
			  .concurrency = 8,
			  .dup = 0.02,
			  .reorder = 0.02,
			  .seq_start = 1,
			  .seed = 1 };
	struct stats st = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct worker *w;
	struct node_sum *sums;
	double t0, secs;
	int i;

	if (parse(argc, argv, &o)) {
		fprintf(stderr,
			"usage: see the comment at the top of tests/bench/reconciler_load.c\n");
		return 2;
	}
	if (o.write_tokens)
		return write_tokens(&o);
	if (o.dump)
		return dump(&o);
	if (!o.time_base)
		o.time_base = floor((double)time(NULL) / 3600) * 3600 - 86400;
	if (o.concurrency > o.nodes)
		o.concurrency = o.nodes;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	w = calloc(o.concurrency, sizeof(*w));
	sums = calloc(o.nodes, sizeof(*sums));
	pthread_t *th = calloc(o.concurrency, sizeof(*th));
	if (!w || !sums || !th)
		return 1;
	t0 = mono();
	for (i = 0; i < o.concurrency; i++) {
		w[i] = (struct worker){ .o = &o, .id = i, .st = &st, .sums = sums };
		pthread_create(&th[i], NULL, run, &w[i]);
	}
	for (i = 0; i < o.concurrency; i++)
		pthread_join(th[i], NULL);
	secs = mono() - t0;
	print_stats(&o, &st, secs);
	if (o.sums)
		write_sums(&o, sums);
	free(st.lat);
	free(w);
	free(sums);
	free(th);
	curl_global_cleanup();
	return 0;
}
