// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HTTP endpoint (libmicrohttpd): /metrics, /v1/pods, /healthz. */
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <podmeter/exporter.h>

#ifndef PM_VERSION
#define PM_VERSION "unknown"
#endif
#ifndef PM_GIT_REV
#define PM_GIT_REV "unknown"
#endif

#define HTTP_BACKLOG   64u
#define HTTP_MAX_CONNS 64u
#define HTTP_TIMEOUT_S 10u

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"

struct pm_http {
	struct MHD_Daemon *daemon;
	pm_snapshot_fn fn;
	pm_health_fn health;
	void *ctx;
};

/* A rendered body: malloc'ed when @owned, a string constant otherwise. */
struct http_body {
	unsigned int status;
	const char *ctype;
	char *buf;
	size_t len;
	bool owned;
};

static void http_const(struct http_body *b, unsigned int status, const char *text)
{
	*b = (struct http_body){status, CT_TEXT, (char *)text, strlen(text), false};
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
} http_routes[] = {
	{"/metrics", http_metrics, "no snapshot yet\n"},
	{"/v1/pods", http_pods, "no snapshot yet\n"},
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

static void http_route(struct pm_http *h, const char *url, struct http_body *b)
{
	const struct http_route *r;
	struct pm_snapshot *s;
	size_t i;

	if (!strcmp(url, "/healthz")) {
		http_healthz(h, b);
		return;
	}
	for (i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]); i++) {
		r = &http_routes[i];
		if (strcmp(url, r->path))
			continue;
		s = h->fn(h->ctx);
		if (!s) {
			http_const(b, MHD_HTTP_SERVICE_UNAVAILABLE, r->unavailable);
			return;
		}
		r->render(s, b);
		snapshot__put(s);
		return;
	}
	http_const(b, MHD_HTTP_NOT_FOUND, "not found; endpoints: /metrics /v1/pods /healthz\n");
}

static enum MHD_Result http_queue(struct MHD_Connection *conn, struct http_body *b, bool allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (b->owned)
		resp = MHD_create_response_from_buffer_with_free_callback(b->len, b->buf, free);
	else
		resp = MHD_create_response_from_buffer(b->len, b->buf, MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (b->owned)
			free(b->buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, b->ctype);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, b->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* HEAD is served as GET: MHD sends the headers and drops the body. */
static enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **req_cls)
{
	static int seen;
	struct http_body b;

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
	http_route(cls, url, &b);
	return http_queue(conn, &b, false);
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

	if (ai->ai_family == AF_INET6)
		flags |= any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	errno = 0;
	return MHD_start_daemon(flags, 0, NULL, NULL, http_handler, h, MHD_OPTION_SOCK_ADDR,
				ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_LIMIT, HTTP_MAX_CONNS,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, HTTP_BACKLOG, MHD_OPTION_END);
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

struct pm_http *http__start(const char *host, uint16_t port, pm_snapshot_fn fn,
			    pm_health_fn health, void *ctx)
{
	struct pm_http *h;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->fn = fn;
	h->health = health;
	h->ctx = ctx;
	err = http_bind(h, host, port);
	if (err) {
		free(h);
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
	free(h);
}
