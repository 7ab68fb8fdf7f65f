// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter-reconciler serve: the store, the writers (group commit), the
 * HTTP(S) endpoint, retention on a timer; SIGHUP re-reads the token files,
 * SIGINT or SIGTERM stop it after the requests in flight.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "auth.h"
#include "cli.h"
#include "costs.h"
#include "metrics.h"
#include "serve.h"
#include "server.h"
#include "store.h"
#include "writer.h"

#define DEFAULT_LISTEN	":9480"
#define DEFAULT_STORE	"sqlite:/var/lib/podmeter-reconciler/podmeter.db"
#define DEFAULT_TR_USER "system:serviceaccount:podmeter:podmeter"
#define DEFAULT_TR_AUD	"podmeter-reconciler"
#define SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define WRITERS_MAX	16

struct serve_opts {
	const char *listen, *store;
	struct rec_auth_cfg auth;
	const char *tls_cert, *tls_key, *client_ca;
	bool insecure;
	struct store_retention retention;
	double compact_every, request_max_s;
	int writers;
	struct proposer_opts gitops; /* --propose-every and the GitOps flags */
};

struct compactor {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, started;
	const struct serve_opts *o;
	struct rec_metrics *m;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: podmeter-reconciler serve [--listen HOST:PORT] [--store URL] AUTH...\n\n"
		"Takes the agents' reports on POST /v1/reports into the store, exactly once.\n"
		"Also GET /v1/costs (JSON, with an API token), /metrics and /healthz.\n\n"
		"  --listen HOST:PORT          default %s (\":PORT\" = every address)\n"
		"  --store URL                 sqlite:PATH (WAL; the default, %s)\n"
		"                              or postgresql://USER@HOST/DB (libpq URL)\n"
		"authentication, at least one (or --insecure-no-auth):\n"
		"  --node-tokens FILE          \"NODE TOKEN\" lines (\"CLUSTER/NODE TOKEN\" binds\n"
		"                              the cluster too); re-read on SIGHUP\n"
		"  --tokenreview URL           the API server's TokenReview endpoint: the agent's\n"
		"                              projected token, its node claim names the node\n"
		"  --tokenreview-token-file F  the reconciler's own token (default %s/token)\n"
		"  --tokenreview-ca-file F     the API server's CA (default %s/ca.crt)\n"
		"  --tokenreview-audience A    asked of the token (default %s)\n"
		"  --tokenreview-user U        the agents' user (default %s)\n"
		"  --tls-cert F --tls-key F    HTTPS\n"
		"  --client-ca F               mTLS: a client certificate this CA signed names\n"
		"                              its node by its common name (system:node:NAME or NAME)\n"
		"  --insecure-no-auth          take reports from anyone (tests only)\n"
		"reading:\n"
		"  --api-tokens FILE           \"NAME TOKEN\" lines for GET /v1/costs; re-read on SIGHUP\n"
		"retention (run by itself, every --compact-every, default 1h):\n"
		"  --retention DUR             raw pod-windows (default 7d)\n"
		"  --ledger-retention DUR      ledger rows; older sequences still count as seen (30d)\n"
		"  --rollup-retention DUR      hourly rollups and container hours (400d)\n"
		"  --findings-retention DUR    findings not seen since (30d)\n"
		"  --writers N                 store connections writing (sqlite 1, postgresql 2)\n"
		"  --request-timeout DUR       a whole request, headers to last byte (default 60s)\n"
		"proposing (pull requests to the GitOps repository, see propose --help):\n"
		"  --propose-every DUR         run a propose cycle this often (off by default)\n",
		DEFAULT_LISTEN, DEFAULT_STORE, SA_DIR, SA_DIR, DEFAULT_TR_AUD, DEFAULT_TR_USER);
}

static int dur_opt(const char *v, double *out)
{
	return costs__parse_duration(v, out) || *out <= 0 ? -EINVAL : 0;
}

/* One flag and its value; 1 taken, 0 not this flag, -1 bad value. */
static int opt(struct serve_opts *o, const char *a, const char *v)
{
	static const struct {
		const char *flag;
		size_t off;
	} strs[] = {
#define S(f, m) { f, offsetof(struct serve_opts, m) }
		S("--listen", listen),
		S("--store", store),
		S("--node-tokens", auth.node_tokens),
		S("--api-tokens", auth.api_tokens),
		S("--tokenreview", auth.tokenreview_url),
		S("--tokenreview-token-file", auth.tokenreview_token),
		S("--tokenreview-ca-file", auth.tokenreview_ca),
		S("--tokenreview-audience", auth.tokenreview_audience),
		S("--tokenreview-user", auth.tokenreview_user),
		S("--tls-cert", tls_cert),
		S("--tls-key", tls_key),
		S("--client-ca", client_ca),
#undef S
	};
	size_t i;
	int r;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (!strcmp(a, strs[i].flag)) {
			*(const char **)((char *)o + strs[i].off) = v;
			return 1;
		}
	}
	if (!strcmp(a, "--retention"))
		return dur_opt(v, &o->retention.pod_windows_s) ? -1 : 1;
	if (!strcmp(a, "--ledger-retention"))
		return dur_opt(v, &o->retention.ledger_s) ? -1 : 1;
	if (!strcmp(a, "--rollup-retention"))
		return dur_opt(v, &o->retention.rollups_s) ? -1 : 1;
	if (!strcmp(a, "--findings-retention"))
		return dur_opt(v, &o->retention.findings_s) ? -1 : 1;
	if (!strcmp(a, "--compact-every"))
		return dur_opt(v, &o->compact_every) ? -1 : 1;
	if (!strcmp(a, "--request-timeout"))
		return dur_opt(v, &o->request_max_s) ? -1 : 1;
	r = proposer__opt(&o->gitops, a, v);
	if (r)
		return r;
	if (!strcmp(a, "--writers")) {
		o->writers = atoi(v);
		return o->writers >= 1 && o->writers <= WRITERS_MAX ? 1 : -1;
	}
	return 0;
}

static int check_opts(struct serve_opts *o)
{
	if (!!o->tls_cert != !!o->tls_key) {
		fprintf(stderr, "serve: --tls-cert and --tls-key go together\n");
		return -1;
	}
	if (o->client_ca && !o->tls_cert) {
		fprintf(stderr, "serve: --client-ca needs --tls-cert and --tls-key\n");
		return -1;
	}
	if (o->gitops.every || o->gitops.repo_given) {
		char err[256];

		if (proposer__check(&o->gitops, err, sizeof(err))) {
			fprintf(stderr, "serve: %s\n", err);
			return -1;
		}
	}
	if (!o->auth.node_tokens && !o->auth.tokenreview_url && !o->client_ca && !o->insecure) {
		fprintf(stderr, "serve: refusing to start without authentication: give "
				"--node-tokens, --tokenreview or --client-ca (or, for tests only, "
				"--insecure-no-auth)\n");
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct serve_opts *o)
{
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--insecure-no-auth")) {
			o->insecure = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "serve: %s: unknown, or needs a value; see --help\n",
				argv[i]);
			return -1;
		}
		r = opt(o, argv[i], argv[i + 1]);
		if (r <= 0) {
			fprintf(stderr, "serve: %s %s: %s; see --help\n", argv[i], argv[i + 1],
				r ? "bad value" : "unknown flag");
			return -1;
		}
		i++;
	}
	return check_opts(o);
}

/* "HOST:PORT", "[V6]:PORT", ":PORT" */
static int parse_listen(const char *s, char *host, size_t len, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long p;
	size_t n;

	if (!colon)
		return -EINVAL;
	p = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || *end || p > 65535)
		return -EINVAL;
	n = colon - s;
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n >= len)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* ---- retention on a timer ---- */

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void compact_once(struct compactor *c, struct store *s)
{
	struct store_compaction st;
	char err[512];
	int ret = store__compact(s, &c->o->retention, wall(), &st, err, sizeof(err));

	metrics__compaction(c->m, &st, !ret);
	if (ret) {
		fprintf(stderr, "warning: retention: %s; trying again in %.0f s\n", err,
			c->o->compact_every);
		return;
	}
	if (st.pod_windows || st.ledger || st.rollups || st.findings)
		fprintf(stderr,
			"retention: deleted %lld pod-windows, %lld ledger rows, %lld "
			"rollups, %lld findings; store %lld -> %lld bytes\n",
			(long long)st.pod_windows, (long long)st.ledger, (long long)st.rollups,
			(long long)st.findings, (long long)st.bytes_before,
			(long long)st.bytes_after);
}

static void *compactor_run(void *arg)
{
	struct compactor *c = arg;
	struct store *s = NULL;
	struct timespec until;
	char err[512];

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)c->o->compact_every;
		while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &until) != ETIMEDOUT)
			;
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		if (!s && store__open(&s, c->o->store, err, sizeof(err)))
			fprintf(stderr, "warning: retention: store: %s; trying again later\n", err);
		if (s)
			compact_once(c, s);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	store__close(s);
	return NULL;
}

static void compactor_stop(struct compactor *c)
{
	if (!c->started)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
}

/* A libpq URL may carry a password: not in the log. */
static const char *redacted(const char *url, char *buf, size_t len)
{
	const char *scheme = strstr(url, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;

	if (!at)
		return url;
	snprintf(buf, len, "%.*s***%s", (int)(scheme + 3 - url), url, at);
	return buf;
}

/* ---- the phases ---- */

struct serve_state {
	struct serve_opts o;
	struct store *writers[WRITERS_MAX], *reader;
	int n_writers;
	pthread_mutex_t reader_lock;
	struct rec_metrics *m;
	struct rec_auth *auth;
	struct rec_writer *writer;
	struct rec_server *server;
	struct compactor comp;
	struct proposer *proposer;
};

static void node_seen(void *ctx, const char *cluster, const char *node, double received,
		      double window_end, uint64_t last_seq)
{
	(void)last_seq;
	metrics__node(ctx, cluster, node, received, window_end);
}

static int open_stores(struct serve_state *st, char *err, size_t errlen)
{
	int i, ret;

	ret = store__open(&st->reader, st->o.store, err, errlen);
	if (ret)
		return ret;
	if (!st->o.writers)
		st->o.writers = strcmp(store__engine(st->reader), "sqlite") ? 2 : 1;
	for (i = 0; i < st->o.writers; i++) {
		ret = store__open(&st->writers[i], st->o.store, err, errlen);
		if (ret)
			return ret;
		st->n_writers++;
	}
	st->m = metrics__new(store__engine(st->reader));
	if (!st->m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	store__nodes(st->reader, node_seen, st->m);
	return 0;
}

static int start(struct serve_state *st, char *err, size_t errlen)
{
	struct rec_server_cfg sc = { .tls_cert = st->o.tls_cert,
				     .tls_key = st->o.tls_key,
				     .client_ca = st->o.client_ca,
				     .insecure_no_auth = st->o.insecure,
				     .request_max_s = st->o.request_max_s };
	struct rec_server_deps d;
	char host[256];
	int ret;

	if (parse_listen(st->o.listen, host, sizeof(host), &sc.port)) {
		snprintf(err, errlen, "--listen \"%s\" is not HOST:PORT", st->o.listen);
		return -EINVAL;
	}
	sc.host = host;
	ret = open_stores(st, err, errlen);
	if (!ret)
		ret = auth__open(&st->auth, &st->o.auth, st->m, err, errlen);
	if (!ret && (ret = writer__start(&st->writer, st->writers, st->n_writers, st->m)))
		snprintf(err, errlen, "writer threads: %s", strerror(-ret));
	if (ret)
		return ret;
	d = (struct rec_server_deps){ st->writer, st->auth, st->m, st->reader, &st->reader_lock };
	ret = server__start(&st->server, &sc, &d, err, errlen);
	if (ret)
		return ret;
	st->comp.o = &st->o;
	st->comp.m = st->m;
	ret = -pthread_create(&st->comp.thread, NULL, compactor_run, &st->comp);
	st->comp.started = !ret;
	if (ret)
		snprintf(err, errlen, "retention thread: %s", strerror(-ret));
	if (!ret && (ret = proposer__start(&st->proposer, &st->o.gitops, st->o.store, st->m)))
		snprintf(err, errlen, "proposer thread: %s", strerror(-ret));
	return ret;
}

static void stop(struct serve_state *st)
{
	int i;

	proposer__stop(st->proposer);
	server__stop(st->server); /* requests in flight finish first */
	writer__stop(st->writer);
	compactor_stop(&st->comp);
	auth__close(st->auth);
	for (i = 0; i < st->n_writers; i++)
		store__close(st->writers[i]);
	store__close(st->reader);
	metrics__free(st->m);
}

static void wait_signals(struct serve_state *st, sigset_t *set)
{
	char err[512];
	int sig;

	for (;;) {
		if (sigwait(set, &sig))
			continue;
		if (sig != SIGHUP) {
			fprintf(stderr, "podmeter-reconciler: stopping on %s\n",
				sig == SIGINT ? "SIGINT" : "SIGTERM");
			return;
		}
		if (auth__reload(st->auth, err, sizeof(err)))
			fprintf(stderr, "warning: reload: %s; keeping the tokens as they were\n",
				err);
		else
			fprintf(stderr, "podmeter-reconciler: tokens re-read\n");
	}
}

int serve__main(int argc, char **argv)
{
	static struct serve_state st;
	char err[1024], shown[512];
	sigset_t set;
	int ret;

	st.o = (struct serve_opts){ .listen = DEFAULT_LISTEN,
				    .store = DEFAULT_STORE,
				    .compact_every = 3600 };
	proposer__defaults(&st.o.gitops);
	st.o.auth.tokenreview_token = SA_DIR "/token";
	st.o.auth.tokenreview_ca = SA_DIR "/ca.crt";
	st.o.auth.tokenreview_audience = DEFAULT_TR_AUD;
	st.o.auth.tokenreview_user = DEFAULT_TR_USER;
	store__retention_defaults(&st.o.retention);
	ret = parse_args(argc, argv, &st.o);
	if (ret)
		return ret > 0 ? 0 : 2;
	pthread_mutex_init(&st.reader_lock, NULL);
	/* every thread started from here on inherits the mask; sigwait takes them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = start(&st, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "serve: %s\n", err);
	} else {
		fprintf(stderr,
			"podmeter-reconciler: listening on %s (port %u), store %s (%s, "
			"schema %d), %d writer(s)%s\n",
			st.o.listen, server__port(st.server),
			redacted(st.o.store, shown, sizeof(shown)), store__engine(st.reader),
			store__schema_version(st.reader), st.n_writers,
			st.o.insecure ? ", WITHOUT AUTHENTICATION" : "");
		wait_signals(&st, &set);
	}
	stop(&st);
	curl_global_cleanup();
	return ret ? 1 : 0;
}
