// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP endpoint (libmicrohttpd): /metrics, /v1/pods, /healthz. With a web
 * config, over TLS (client certificates verified when asked) and only for
 * scrapers that show a bearer token; /healthz is always open, for probes.
 * A body is rendered once per snapshot and the same response is sent to
 * every scrape that reads that snapshot.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <podmeter/exporter.h>
#include <podmeter/webcfg.h>

#ifndef PM_VERSION
#define PM_VERSION "unknown"
#endif
#ifndef PM_GIT_REV
#define PM_GIT_REV "unknown"
#endif

#define HTTP_BACKLOG	      64u
#define HTTP_MAX_CONNS	      64u
#define HTTP_MAX_CONNS_PER_IP 32u /* one client cannot take every connection */
#define HTTP_TIMEOUT_S	      10u
#define HTTP_NROUTES	      2u

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"

/* A route's last rendered response, for the snapshot it was rendered from. */
struct http_cache {
	pthread_mutex_t lock;
	struct pm_snapshot *snap; /* referenced, so its address is not reused */
	struct MHD_Response *resp;
};

/* The bearer tokens, read again when their file changes (tokens rotate). */
struct http_tokens {
	pthread_mutex_t lock;
	struct stat st; /* the file as last read */
	struct pm_web_tokens *t;
};

struct pm_http {
	struct MHD_Daemon *daemon;
	pm_snapshot_fn fn;
	pm_health_fn health;
	void *ctx;
	struct pm_web_config web;
	char *cert, *key, *ca; /* PEM, for the daemon's life */
	struct http_tokens tokens;
	struct http_cache cache[HTTP_NROUTES];
};

/* A rendered body: malloc'ed when @owned, a string constant otherwise. */
struct http_body {
	unsigned int status;
	const char *ctype;
	char *buf;
	size_t len;
	bool owned;
	const char *challenge; /* WWW-Authenticate, with a 401 */
};

static void http_const(struct http_body *b, unsigned int status, const char *text)
{
	*b = (struct http_body){ status, CT_TEXT, (char *)text, strlen(text), false, NULL };
}

static void http_metrics(const struct pm_snapshot *s, struct http_body *b)
{
	FILE *f;
	int err;

	f = open_memstream(&b->buf, &b->len);
	if (!f) {
		http_const(b, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		return;
	}
	err = prom__write(f, s, PM_VERSION, PM_GIT_REV);
	if (fclose(f) || err) {
		free(b->buf);
		http_const(b, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n");
		return;
	}
	b->status = MHD_HTTP_OK;
	b->ctype = CT_PROM;
	b->owned = true;
}

static void http_pods(const struct pm_snapshot *s, struct http_body *b)
{
	b->buf = json__pods(s);
	if (!b->buf) {
		http_const(b, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render pods\n");
		return;
	}
	b->len = strlen(b->buf);
	b->status = MHD_HTTP_OK;
	b->ctype = CT_JSON;
	b->owned = true;
}

static const struct http_route {
	const char *path;
	void (*render)(const struct pm_snapshot *s, struct http_body *b);
	const char *unavailable; /* body when no snapshot exists yet */
} http_routes[HTTP_NROUTES] = {
	{ "/metrics", http_metrics, "no snapshot yet\n" },
	{ "/v1/pods", http_pods, "no snapshot yet\n" },
};

/*
 * From the collector's state, never waiting on a collection: unhealthy only
 * when periodic collections have stopped.
 */
static void http_healthz(struct pm_http *h, struct http_body *b)
{
	char msg[256];
	int ret = h->health(h->ctx, msg, sizeof(msg));

	b->buf = strdup(msg);
	if (!b->buf) {
		http_const(b, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		return;
	}
	b->len = strlen(b->buf);
	b->status = ret ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
	b->ctype = CT_TEXT;
	b->owned = true;
}

static struct MHD_Response *http_response(struct http_body *b, bool allow)
{
	struct MHD_Response *resp;

	if (b->owned)
		resp = MHD_create_response_from_buffer_with_free_callback(b->len, b->buf, free);
	else
		resp = MHD_create_response_from_buffer(b->len, b->buf, MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (b->owned)
			free(b->buf);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, b->ctype);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (b->challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, b->challenge);
	return resp;
}

static enum MHD_Result http_queue(struct MHD_Connection *conn, struct http_body *b, bool allow)
{
	struct MHD_Response *resp = http_response(b, allow);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(conn, b->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * Route @i from snapshot @s: the response rendered for @s when there is one,
 * else rendered now and kept; a scrape flood renders once per collection.
 */
static enum MHD_Result http_cached(struct pm_http *h, size_t i, struct pm_snapshot *s,
				   struct MHD_Connection *conn)
{
	struct http_cache *c = &h->cache[i];
	struct MHD_Response *resp;
	struct http_body b = { 0 };
	enum MHD_Result ret;

	pthread_mutex_lock(&c->lock);
	if (c->snap != s || !c->resp) {
		http_routes[i].render(s, &b);
		if (b.status != MHD_HTTP_OK) {
			pthread_mutex_unlock(&c->lock);
			snapshot__put(s);
			return http_queue(conn, &b, false);
		}
		resp = http_response(&b, false);
		if (!resp) {
			pthread_mutex_unlock(&c->lock);
			snapshot__put(s);
			return MHD_NO;
		}
		if (c->resp)
			MHD_destroy_response(c->resp); /* sent on while queued elsewhere */
		snapshot__put(c->snap);
		c->snap = snapshot__get(s);
		c->resp = resp;
	}
	ret = MHD_queue_response(conn, MHD_HTTP_OK, c->resp);
	pthread_mutex_unlock(&c->lock);
	snapshot__put(s);
	return ret;
}

void http__snapshot_out(struct pm_http *h, const struct pm_snapshot *s)
{
	struct http_cache *c;
	size_t i;

	for (i = 0; h && i < HTTP_NROUTES; i++) {
		c = &h->cache[i];
		pthread_mutex_lock(&c->lock);
		if (c->snap && c->snap != s) {
			if (c->resp)
				MHD_destroy_response(c->resp); /* sent on while queued elsewhere */
			snapshot__put(c->snap);
			c->snap = NULL;
			c->resp = NULL;
		}
		pthread_mutex_unlock(&c->lock);
	}
}

static enum MHD_Result http_route(struct pm_http *h, struct MHD_Connection *conn, const char *url)
{
	struct pm_snapshot *s;
	struct http_body b = { 0 };
	size_t i;

	if (!strcmp(url, "/healthz")) {
		http_healthz(h, &b);
		return http_queue(conn, &b, false);
	}
	for (i = 0; i < HTTP_NROUTES; i++) {
		if (strcmp(url, http_routes[i].path))
			continue;
		s = h->fn(h->ctx);
		if (!s) {
			http_const(&b, MHD_HTTP_SERVICE_UNAVAILABLE, http_routes[i].unavailable);
			return http_queue(conn, &b, false);
		}
		return http_cached(h, i, s, conn);
	}
	http_const(&b, MHD_HTTP_NOT_FOUND, "not found; endpoints: /metrics /v1/pods /healthz\n");
	return http_queue(conn, &b, false);
}

/* ---- who may read ---- */

/* The client's certificate, verified against client_ca_file. */
static bool http_client_cert_ok(struct pm_http *h, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	unsigned int status = 0;
	int ret;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	ret = gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status);
	if (ret == GNUTLS_E_NO_CERTIFICATE_FOUND)
		return h->web.client_auth == PM_CLIENT_AUTH_IF_GIVEN;
	return ret == GNUTLS_E_SUCCESS && !status;
}

/* The token file again when it changed; a file that does not load keeps the last tokens. */
static void http_tokens_fresh(struct pm_http *h)
{
	struct http_tokens *k = &h->tokens;
	struct pm_web_tokens *t;
	struct stat st;
	char err[128];

	if (stat(h->web.tokens_file, &st) ||
	    (st.st_ino == k->st.st_ino && st.st_dev == k->st.st_dev &&
	     st.st_size == k->st.st_size && st.st_mtim.tv_sec == k->st.st_mtim.tv_sec &&
	     st.st_mtim.tv_nsec == k->st.st_mtim.tv_nsec))
		return;
	k->st = st;
	t = malloc(sizeof(*t));
	if (!t)
		return;
	if (webcfg__load_tokens(t, h->web.tokens_file, err, sizeof(err))) {
		free(t);
		return;
	}
	free(k->t);
	k->t = t;
}

static bool http_token_ok(struct pm_http *h, const char *authorization)
{
	bool ok;

	pthread_mutex_lock(&h->tokens.lock);
	http_tokens_fresh(h);
	ok = h->tokens.t && webcfg__bearer_ok(h->tokens.t, authorization);
	pthread_mutex_unlock(&h->tokens.lock);
	return ok;
}

/* 0 when the request may be answered; otherwise @b says why not. */
static int http_authorize(struct pm_http *h, struct MHD_Connection *conn, struct http_body *b)
{
	const char *authorization;

	if (h->web.client_auth != PM_CLIENT_AUTH_NONE && !http_client_cert_ok(h, conn)) {
		http_const(b, MHD_HTTP_FORBIDDEN, "client certificate missing or not trusted\n");
		return -EACCES;
	}
	if (!h->web.tokens_file[0])
		return 0;
	authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	if (!authorization) {
		http_const(b, MHD_HTTP_UNAUTHORIZED, "bearer token required\n");
		b->challenge = "Bearer realm=\"podmeter\"";
		return -EACCES;
	}
	if (!http_token_ok(h, authorization)) {
		http_const(b, MHD_HTTP_UNAUTHORIZED, "bearer token not accepted\n");
		b->challenge = "Bearer realm=\"podmeter\", error=\"invalid_token\"";
		return -EACCES;
	}
	return 0;
}

/* HEAD is served as GET: MHD sends the headers and drops the body. */
static enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **req_cls)
{
	static int seen;
	struct http_body b = { 0 };

	(void)version;
	(void)upload_data;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		http_const(&b, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
		return http_queue(conn, &b, true);
	}
	/*
	 * The first call has only the headers: answering then makes MHD close
	 * the connection, so wait for the (empty) body and keep it alive.
	 */
	if (!*req_cls) {
		*req_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* no route reads a body: drop it */
		return MHD_YES;
	}
	if (strcmp(url, "/healthz") && http_authorize(cls, conn, &b))
		return http_queue(conn, &b, false);
	return http_route(cls, conn, url);
}

static int http_gai_errno(int rc)
{
	switch (rc) {
	case EAI_SYSTEM:
		return errno;
	case EAI_MEMORY:
		return ENOMEM;
	case EAI_AGAIN:
		return EAGAIN;
	default:
		return EADDRNOTAVAIL;
	}
}

/* MHD binds and owns the socket; dual stack only for the wildcard address. */
static struct MHD_Daemon *http_start_at(struct pm_http *h, const struct addrinfo *ai, bool any)
{
	unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr },
		{ MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, HTTP_MAX_CONNS, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTP_MAX_CONNS_PER_IP, NULL },
		{ MHD_OPTION_LISTEN_BACKLOG_SIZE, HTTP_BACKLOG, NULL },
		/* TLS: these four, or the end */
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, h->key },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0,
		  h->web.tls13 ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
			       : "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" },
		{ h->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, h->ca },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (!h->cert)
		opts[5].option = MHD_OPTION_END;
	else
		flags |= MHD_USE_TLS;
	if (ai->ai_family == AF_INET6)
		flags |= any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	errno = 0;
	return MHD_start_daemon(flags, 0, NULL, NULL, http_handler, h, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
}

/*
 * Serve on the first address of @host that binds; "" means every address:
 * the IPv6 wildcard (dual stack) first, the IPv4 one where there is no IPv6.
 * Returns 0 or a negative errno.
 */
static int http_bind(struct pm_http *h, const char *host, uint16_t port)
{
	struct addrinfo hints = {
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *res, *ai;
	bool any = !host || !*host;
	int rc, pass, err = EADDRNOTAVAIL;
	char serv[8];

	snprintf(serv, sizeof(serv), "%u", port);
	rc = getaddrinfo(any ? NULL : host, serv, &hints, &res);
	if (rc)
		return -http_gai_errno(rc);
	for (pass = any ? 0 : 1; pass < 2 && !h->daemon; pass++) {
		for (ai = res; ai && !h->daemon; ai = ai->ai_next) {
			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			if (any && (pass == 0) != (ai->ai_family == AF_INET6))
				continue;
			h->daemon = http_start_at(h, ai, any);
			if (!h->daemon)
				err = errno ? errno : EIO;
		}
	}
	freeaddrinfo(res);
	return h->daemon ? 0 : -err;
}

/* The PEM files of the web config, read once; the daemon keeps them. */
static int http_tls_files(struct pm_http *h)
{
	int ret;

	if (!h->web.cert_file[0])
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return -EPROTONOSUPPORT;
	ret = webcfg__read_file(h->web.cert_file, &h->cert, NULL);
	if (!ret)
		ret = webcfg__read_file(h->web.key_file, &h->key, NULL);
	if (!ret && h->web.client_ca_file[0])
		ret = webcfg__read_file(h->web.client_ca_file, &h->ca, NULL);
	return ret;
}

static void http_free(struct pm_http *h)
{
	size_t i;

	for (i = 0; i < HTTP_NROUTES; i++) {
		if (h->cache[i].resp)
			MHD_destroy_response(h->cache[i].resp);
		snapshot__put(h->cache[i].snap);
		pthread_mutex_destroy(&h->cache[i].lock);
	}
	pthread_mutex_destroy(&h->tokens.lock);
	free(h->tokens.t);
	free(h->cert);
	free(h->key);
	free(h->ca);
	free(h);
}

struct pm_http *http__start(const char *host, uint16_t port, pm_snapshot_fn fn, pm_health_fn health,
			    void *ctx, const struct pm_web_config *web)
{
	struct pm_http *h;
	size_t i;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->fn = fn;
	h->health = health;
	h->ctx = ctx;
	if (web)
		h->web = *web;
	for (i = 0; i < HTTP_NROUTES; i++)
		pthread_mutex_init(&h->cache[i].lock, NULL);
	pthread_mutex_init(&h->tokens.lock, NULL);
	err = http_tls_files(h);
	if (!err)
		err = http_bind(h, host, port);
	if (err) {
		http_free(h);
		errno = -err;
		return NULL;
	}
	return h;
}

void http__stop(struct pm_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	http_free(h);
}
