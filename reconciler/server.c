// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP(S) for the reconciler (see server.h). A request goes through four
 * steps, each able to refuse it with its status and counter:
 *   parse: route, method, media type, declared length;
 *   bound: body size, time;
 *   authenticate: the node a token or certificate speaks for must be the
 *     node the request names (X-Podmeter-Node), before the body is
 *     inflated, and the report's own node and cluster after;
 *   act: decode within bounds, check, queue for the writer, wait for the
 *     commit, answer.
 * Refusals wait for the end of the body, so a client reads the answer
 * rather than a reset; a body declared too large is answered at once.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <podmeter/report.h>
#include "costs.h"
#include "ingest.h"
#include "rec_limits.h"
#include "server.h"

#define HDR_NODE  "X-Podmeter-Node"
#define HDR_SEQ	  "X-Podmeter-Seq"
#define CT_TEXT	  "text/plain; charset=utf-8"
#define CT_JSON	  "application/json"
#define CT_PROM	  "text/plain; version=0.0.4; charset=utf-8"
#define LOG_PER_S 20			     /* refusal lines a second, the rest counted */
#define DROP_MAX  (2 * (size_t)REC_BODY_MAX) /* of a refused body, read to answer */

enum route {
	ROUTE_NONE = -1,
	ROUTE_REPORTS = 0,
	ROUTE_COSTS,
	ROUTE_METRICS,
	ROUTE_HEALTH,
};

static const struct {
	const char *path, *method;
} routes[] = {
	[ROUTE_REPORTS] = { PM_REPORT_PATH, MHD_HTTP_METHOD_POST },
	[ROUTE_COSTS] = { "/v1/costs", MHD_HTTP_METHOD_GET },
	[ROUTE_METRICS] = { "/metrics", MHD_HTTP_METHOD_GET },
	[ROUTE_HEALTH] = { "/healthz", MHD_HTTP_METHOD_GET },
};

struct rec_server {
	struct rec_server_cfg cfg;
	struct rec_server_deps d;
	struct MHD_Daemon *daemon;
	char *cert, *key, *ca;
	uint16_t port;
	pthread_mutex_t log_lock;
	time_t log_second;
	unsigned int log_lines, log_skipped;
};

struct req {
	enum route route;
	bool refused;
	enum rec_reason reason;
	char why[256];
	char node[REC_NAME_MAX + 1]; /* X-Podmeter-Node */
	bool by_token; /* authenticated by a bearer token: the cluster is checked after */
	char *body;
	size_t len, cap, dropped;
	double start;
	bool answered;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Printable, bounded: what a client sent, fit for a log line. */
static void clean(char *dst, size_t len, const char *src)
{
	size_t i;

	snprintf(dst, len, "%s", src && *src ? src : "?");
	for (i = 0; dst[i]; i++)
		if (!isprint((unsigned char)dst[i]))
			dst[i] = '?';
}

static void refuse(struct req *q, enum rec_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(struct req *q, enum rec_reason r, const char *fmt, ...)
{
	va_list ap;

	if (q->refused)
		return;
	va_start(ap, fmt);
	vsnprintf(q->why, sizeof(q->why), fmt, ap);
	va_end(ap);
	q->refused = true;
	q->reason = r;
}

/* One line per refusal, LOG_PER_S a second at most; the rest are only counted. */
static void log_refusal(struct rec_server *s, struct req *q, const char *seq)
{
	char node[64], sq[24];
	time_t now = time(NULL);
	unsigned int skipped = 0;
	bool print;

	pthread_mutex_lock(&s->log_lock);
	if (now != s->log_second) {
		skipped = s->log_skipped;
		s->log_second = now;
		s->log_lines = s->log_skipped = 0;
	}
	print = s->log_lines < LOG_PER_S;
	if (print)
		s->log_lines++;
	else
		s->log_skipped++;
	pthread_mutex_unlock(&s->log_lock);
	if (skipped)
		fprintf(stderr, "serve: %u more refusals in the last second, counted only\n",
			skipped);
	if (!print)
		return;
	clean(node, sizeof(node), q->node);
	clean(sq, sizeof(sq), seq);
	fprintf(stderr, "serve: %s seq %s: refused (%u %s: %s)\n", node, sq,
		rec_reasons[q->reason].status, rec_reasons[q->reason].name, q->why);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status, const char *ct,
			       const char *body, size_t len, bool retry_after)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ct);
	if (retry_after)
		MHD_add_response_header(resp, "Retry-After", "1");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, MHD_HTTP_METHOD_POST);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * Mid-body MHD cannot answer: a request past its time, or one streaming
 * past the bounds, is counted, logged and its connection closed.
 */
static enum MHD_Result close_refused(struct rec_server *s, struct MHD_Connection *conn,
				     struct req *q)
{
	q->answered = true;
	metrics__refusal(s->d.metrics, q->reason);
	log_refusal(s, q, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HDR_SEQ));
	return MHD_NO;
}

static enum MHD_Result answer_refusal(struct rec_server *s, struct MHD_Connection *conn,
				      struct req *q)
{
	char body[320];
	int n;

	q->answered = true;
	metrics__refusal(s->d.metrics, q->reason);
	log_refusal(s, q, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HDR_SEQ));
	n = snprintf(body, sizeof(body), "%s: %s\n", rec_reasons[q->reason].name, q->why);
	return respond(conn, rec_reasons[q->reason].status, CT_TEXT, body,
		       n < (int)sizeof(body) ? (size_t)n : sizeof(body) - 1,
		       rec_reasons[q->reason].status == 503);
}

/* ---- parse and authenticate: the headers of POST /v1/reports ---- */

static bool token_is(const char *v, const char *want)
{
	size_t n = strlen(want);

	if (!v)
		return false;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, want, n))
		return false;
	v += n;
	while (*v == ' ' || *v == '\t')
		v++;
	return !*v || *v == ';';
}

/*
 * The node of the client's certificate, when it sent one our CA signed.
 * 1 with @out set, 0 without a (valid) certificate.
 */
static int cert_node(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *certs;
	gnutls_session_t tls;
	gnutls_x509_crt_t crt;
	unsigned int status = 1, n = 0;
	char cn[256];
	size_t cnlen = sizeof(cn);
	int ok = 0;

	if (!ci || !ci->tls_session)
		return 0;
	tls = (gnutls_session_t)ci->tls_session;
	if (gnutls_certificate_verify_peers2(tls, &status) || status)
		return 0;
	certs = gnutls_certificate_get_peers(tls, &n);
	if (!certs || !n || gnutls_x509_crt_init(&crt))
		return 0;
	if (!gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) &&
	    !gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cnlen)) {
		snprintf(out, len, "%s", auth__cert_node(cn));
		ok = 1;
	}
	gnutls_x509_crt_deinit(crt);
	return ok;
}

static void authenticate(struct rec_server *s, struct MHD_Connection *conn, struct req *q)
{
	const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_AUTHORIZATION);
	char node[REC_NAME_MAX + 1];
	enum auth_result r;

	if (s->cfg.insecure_no_auth)
		return;
	if (s->cfg.client_ca && cert_node(conn, node, sizeof(node))) {
		if (strcmp(node, q->node))
			refuse(q, REASON_FORBIDDEN, "the client certificate is node %.100s's",
			       node);
		return;
	}
	if (!auth__nodes_enabled(s->d.auth)) {
		refuse(q, REASON_UNAUTHENTICATED,
		       "a client certificate signed by --client-ca is "
		       "needed");
		return;
	}
	r = auth__node(s->d.auth, authz, NULL, q->node, q->why, sizeof(q->why));
	q->by_token = true;
	if (r == AUTH_OK)
		return;
	q->refused = true;
	q->reason = r == AUTH_OTHER	    ? REASON_FORBIDDEN
		    : r == AUTH_UNAVAILABLE ? REASON_AUTH_UNAVAILABLE
					    : REASON_UNAUTHENTICATED;
}

static void parse_report_headers(struct rec_server *s, struct MHD_Connection *conn, struct req *q)
{
	const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *ce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_ENCODING);
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *node = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HDR_NODE);

	if (!token_is(ct, PM_REPORT_CONTENT_TYPE))
		refuse(q, REASON_MEDIA_TYPE, "Content-Type must be %s", PM_REPORT_CONTENT_TYPE);
	else if (!token_is(ce, "gzip") && !token_is(ce, "x-gzip"))
		refuse(q, REASON_MEDIA_TYPE, "Content-Encoding must be gzip");
	else if (cl && strtoull(cl, NULL, 10) > REC_BODY_MAX)
		refuse(q, REASON_BODY_TOO_LARGE, "the body is larger than %u MiB",
		       REC_BODY_MAX >> 20);
	else if (!node || !*node || strlen(node) > REC_NAME_MAX)
		refuse(q, REASON_HEADER_MISMATCH, HDR_NODE " must name the node");
	if (q->refused)
		return;
	snprintf(q->node, sizeof(q->node), "%s", node);
	authenticate(s, conn, q);
}

/* ---- bound: the body ---- */

static void take(struct req *q, const char *data, size_t len, double max_s)
{
	size_t cap = q->cap ? q->cap : 16 << 10;
	char *grown;

	if (mono() - q->start > max_s) {
		refuse(q, REASON_TIMEOUT, "the request took more than %.0f s", max_s);
		return;
	}
	if (len > REC_BODY_MAX - q->len) {
		refuse(q, REASON_BODY_TOO_LARGE, "the body is larger than %u MiB",
		       REC_BODY_MAX >> 20);
		return;
	}
	while (cap < q->len + len)
		cap *= 2;
	if (cap != q->cap) {
		grown = realloc(q->body, cap);
		if (!grown) {
			refuse(q, REASON_OVERLOADED, "out of memory; try again");
			return;
		}
		q->body = grown;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, len);
	q->len += len;
}

/* ---- act: POST /v1/reports ---- */

static bool headers_match(struct MHD_Connection *conn, const Podmeter__V1__NodeReport *r,
			  struct req *q)
{
	const char *seq = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HDR_SEQ);
	char want[24];

	if (strcmp(q->node, r->node)) {
		refuse(q, REASON_HEADER_MISMATCH, HDR_NODE " does not name the report's node");
		return false;
	}
	snprintf(want, sizeof(want), "%llu", (unsigned long long)r->seq);
	if (seq && strcmp(seq, want)) {
		refuse(q, REASON_HEADER_MISMATCH, HDR_SEQ " does not match the report's seq (%s)",
		       want);
		return false;
	}
	return true;
}

/* A token bound to a cluster ("CLUSTER/NODE TOKEN") must match the report's. */
static bool cluster_allowed(struct rec_server *s, struct MHD_Connection *conn,
			    const Podmeter__V1__NodeReport *r, struct req *q)
{
	const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_AUTHORIZATION);
	enum auth_result a;

	if (!q->by_token)
		return true;
	a = auth__node(s->d.auth, authz, r->cluster, r->node, q->why, sizeof(q->why));
	if (a == AUTH_OK)
		return true;
	q->refused = true;
	q->reason = a == AUTH_OTHER	    ? REASON_FORBIDDEN
		    : a == AUTH_UNAVAILABLE ? REASON_AUTH_UNAVAILABLE
					    : REASON_UNAUTHENTICATED;
	return false;
}

static enum MHD_Result store_answer(struct rec_server *s, struct MHD_Connection *conn,
				    struct req *q, struct store_report *sr)
{
	char node[64];

	switch (sr->verdict) {
	case STORE_STORED:
	case STORE_DUPLICATE:
		if (sr->seq_jump) {
			clean(node, sizeof(node), sr->rep->node);
			fprintf(stderr,
				"warning: serve: %s seq %llu: far past the node's last "
				"sequence; stored, the node's last sequence kept\n",
				node, (unsigned long long)sr->rep->seq);
		}
		q->answered = true;
		return sr->verdict == STORE_STORED
			       ? respond(conn, MHD_HTTP_OK, CT_TEXT, "stored\n", 7, false)
			       : respond(conn, MHD_HTTP_OK, CT_TEXT, "duplicate\n", 10, false);
	case STORE_SEQ_REUSED:
		refuse(q, REASON_SEQ_REUSED, "%s", sr->why);
		break;
	default:
		refuse(q, REASON_STORE, "not stored (%s); try again", sr->why);
		break;
	}
	return answer_refusal(s, conn, q);
}

static enum MHD_Result act_report(struct rec_server *s, struct MHD_Connection *conn, struct req *q)
{
	struct store_report sr = { .received_at = wall(), .bytes = q->len };
	Podmeter__V1__NodeReport *r;
	enum MHD_Result ret;
	int err;

	if (ingest__decode(q->body, q->len, &r, &q->reason, q->why, sizeof(q->why))) {
		q->refused = true;
		return answer_refusal(s, conn, q);
	}
	if (!ingest__check(r, sr.received_at, &q->reason, q->why, sizeof(q->why)))
		q->refused = false;
	else
		q->refused = true;
	if (!q->refused && headers_match(conn, r, q) && cluster_allowed(s, conn, r, q)) {
		sr.rep = r;
		err = writer__submit(s->d.writer, &sr);
		if (err)
			refuse(q, REASON_OVERLOADED, "%s; try again",
			       err == -EAGAIN ? "too many reports waiting" : "stopping");
		else {
			ret = store_answer(s, conn, q, &sr);
			ingest__free(r);
			return ret;
		}
	}
	ingest__free(r);
	return answer_refusal(s, conn, q);
}

/* ---- GET /v1/costs, /metrics, /healthz ---- */

static void costs_args(struct MHD_Connection *conn, struct costs_query *cq, struct req *q)
{
	const char *by = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "by");
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	double span = 86400;

	cq->by = COSTS_BY_NAMESPACE;
	cq->format = COSTS_JSON;
	if (by && (strlen(by) > REC_QUERY_MAX || costs__parse_by(by, cq)))
		refuse(q, REASON_BAD_QUERY, "by: namespace, workload, node, pod or label:KEY");
	if (since && costs__parse_duration(since, &span))
		refuse(q, REASON_BAD_QUERY, "since: a duration such as 1h or 7d");
	cq->until = wall();
	cq->since = cq->until - span;
}

static enum MHD_Result act_costs(struct rec_server *s, struct MHD_Connection *conn, struct req *q)
{
	const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_AUTHORIZATION);
	struct costs_query cq = { 0 };
	enum auth_result a = AUTH_OK;
	enum MHD_Result ret;
	char err[256], *out;

	if (auth__api_enabled(s->d.auth))
		a = auth__api(s->d.auth, authz);
	else if (!s->cfg.insecure_no_auth)
		a = AUTH_UNKNOWN;
	if (a != AUTH_OK)
		refuse(q, REASON_UNAUTHENTICATED, "%s",
		       auth__api_enabled(s->d.auth)
			       ? "an API token from --api-tokens is needed"
			       : "no --api-tokens were given: costs are read with the CLI");
	costs_args(conn, &cq, q);
	if (q->refused)
		return answer_refusal(s, conn, q);
	pthread_mutex_lock(s->d.reader_lock);
	out = costs__query(s->d.reader, &cq, err, sizeof(err));
	pthread_mutex_unlock(s->d.reader_lock);
	if (!out) {
		refuse(q, REASON_STORE, "%s", err);
		return answer_refusal(s, conn, q);
	}
	q->answered = true;
	ret = respond(conn, MHD_HTTP_OK, CT_JSON, out, strlen(out), false);
	free(out);
	return ret;
}

static enum MHD_Result act_metrics(struct rec_server *s, struct MHD_Connection *conn, struct req *q)
{
	int64_t bytes = -1;
	char *buf = NULL;
	size_t len = 0;
	enum MHD_Result ret;
	FILE *f;

	pthread_mutex_lock(s->d.reader_lock);
	if (store__size(s->d.reader, &bytes))
		bytes = -1;
	pthread_mutex_unlock(s->d.reader_lock);
	f = open_memstream(&buf, &len);
	if (!f || metrics__write(s->d.metrics, f, bytes) || fclose(f)) {
		free(buf);
		refuse(q, REASON_OVERLOADED, "out of memory");
		return answer_refusal(s, conn, q);
	}
	q->answered = true;
	ret = respond(conn, MHD_HTTP_OK, CT_PROM, buf, len, false);
	free(buf);
	return ret;
}

static enum MHD_Result act(struct rec_server *s, struct MHD_Connection *conn, struct req *q)
{
	switch (q->route) {
	case ROUTE_REPORTS:
		return act_report(s, conn, q);
	case ROUTE_COSTS:
		return act_costs(s, conn, q);
	case ROUTE_METRICS:
		return act_metrics(s, conn, q);
	default:
		q->answered = true;
		return respond(conn, MHD_HTTP_OK, CT_TEXT, "ok\n", 3, false);
	}
}

/* ---- MHD ---- */

static void parse(struct rec_server *s, struct MHD_Connection *conn, const char *url,
		  const char *method, struct req *q)
{
	size_t i;

	q->route = ROUTE_NONE;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(url, routes[i].path))
			q->route = (enum route)i;
	if (q->route == ROUTE_NONE) {
		refuse(q, REASON_NOT_FOUND, "reports go to POST %s", PM_REPORT_PATH);
		return;
	}
	if (strcmp(method, routes[q->route].method)) {
		refuse(q, REASON_METHOD, "%s takes %s", routes[q->route].path,
		       routes[q->route].method);
		return;
	}
	if (q->route == ROUTE_REPORTS)
		parse_report_headers(s, conn, q);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *size, void **req_cls)
{
	struct rec_server *s = cls;
	struct req *q = *req_cls;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*req_cls = q;
		q->start = mono();
		parse(s, conn, url, method, q);
		if (q->refused && q->reason == REASON_BODY_TOO_LARGE)
			return answer_refusal(s, conn, q);
		return MHD_YES;
	}
	if (*size) {
		if (!q->refused)
			take(q, data, *size, s->cfg.request_max_s);
		else
			q->dropped += *size;
		*size = 0;
		if (q->refused && !q->answered &&
		    (q->dropped > DROP_MAX || q->reason == REASON_BODY_TOO_LARGE ||
		     q->reason == REASON_TIMEOUT))
			return close_refused(s, conn, q);
		return MHD_YES;
	}
	if (q->answered)
		return MHD_YES;
	if (q->refused)
		return answer_refusal(s, conn, q);
	return act(s, conn, q);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *q = *req_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!q)
		return;
	free(q->body);
	free(q);
	*req_cls = NULL;
}

/* MHD's own messages, but for the close that close_refused asks for (logged there). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strstr(msg, "Application reported internal error"))
		return;
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "serve: http: %s\n", msg);
}

static char *slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = calloc(1, 1 << 20);
	n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf && !n) {
		snprintf(err, errlen, "%s: empty", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static int load_tls(struct rec_server *s, char *err, size_t errlen)
{
	if (!s->cfg.tls_cert)
		return 0;
	s->cert = slurp(s->cfg.tls_cert, err, errlen);
	s->key = s->cert ? slurp(s->cfg.tls_key, err, errlen) : NULL;
	if (!s->key)
		return -EINVAL;
	if (s->cfg.client_ca && !(s->ca = slurp(s->cfg.client_ca, err, errlen)))
		return -EINVAL;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen, "this libmicrohttpd has no TLS");
		return -ENOTSUP;
	}
	return 0;
}

static struct MHD_Daemon *start_at(struct rec_server *s, const struct addrinfo *ai, bool any)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_ERROR_LOG;
	struct MHD_OptionItem tls[4] = { { MHD_OPTION_END, 0, NULL } };
	int n = 0;

	if (ai->ai_family == AF_INET6)
		flags |= any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	if (s->cert) {
		flags |= MHD_USE_TLS;
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->key };
		if (s->ca)
			tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca };
		tls[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	}
	errno = 0;
	return MHD_start_daemon(flags, 0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				MHD_OPTION_NOTIFY_COMPLETED, completed, s,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)REC_IDLE_TIMEOUT_S,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)REC_CONNS_MAX,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)REC_CONNS_PER_IP,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)REC_BACKLOG,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(4 * REC_HEADER_MAX),
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_ARRAY, tls,
				MHD_OPTION_END);
}

static int bind_daemon(struct rec_server *s, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	bool any = !*s->cfg.host;
	char serv[8];
	int rc, pass, e = EADDRNOTAVAIL;

	snprintf(serv, sizeof(serv), "%u", s->cfg.port);
	rc = getaddrinfo(any ? NULL : s->cfg.host, serv, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", s->cfg.host, gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	for (pass = any ? 0 : 1; pass < 2 && !s->daemon; pass++) {
		for (ai = res; ai && !s->daemon; ai = ai->ai_next) {
			if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
			    (any && (pass == 0) != (ai->ai_family == AF_INET6)))
				continue;
			s->daemon = start_at(s, ai, any);
			if (!s->daemon)
				e = errno ? errno : EIO;
		}
	}
	freeaddrinfo(res);
	if (!s->daemon) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s",
			 any ? "every address," : s->cfg.host, s->cfg.port, strerror(e));
		return -e;
	}
	s->port = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
	return 0;
}

int server__start(struct rec_server **out, const struct rec_server_cfg *cfg,
		  const struct rec_server_deps *deps, char *err, size_t errlen)
{
	struct rec_server *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = *cfg;
	if (!(s->cfg.request_max_s > 0))
		s->cfg.request_max_s = REC_REQUEST_MAX_S;
	s->d = *deps;
	pthread_mutex_init(&s->log_lock, NULL);
	ret = load_tls(s, err, errlen);
	if (!ret)
		ret = bind_daemon(s, err, errlen);
	if (ret) {
		server__stop(s);
		return ret;
	}
	*out = s;
	return 0;
}

void server__stop(struct rec_server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	free(s->cert);
	free(s->key);
	free(s->ca);
	pthread_mutex_destroy(&s->log_lock);
	free(s);
}

uint16_t server__port(const struct rec_server *s)
{
	return s->port;
}
