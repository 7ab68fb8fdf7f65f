// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter receive: the reference receiver. Takes the agents' NodeReports
 * on POST /v1/reports and appends each as one JSON line to
 * <out>/reports.jsonl, answering 2xx only once the line is on disk (the
 * agent keeps a report spooled until then). Reports are dropped as
 * duplicates by (node, seq): a node's sequence only grows, so anything at
 * or below the highest stored for the node has been stored already.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <jansson.h>
#include <microhttpd.h>
#include <podmeter/listen.h>
#include <podmeter/report.h>
#include "podmeter.pb-c.h"

#define RECV_FILE	"reports.jsonl"
#define RECV_MAX_CONNS	64u
#define RECV_BACKLOG	64u
#define RECV_TIMEOUT_S	30u /* idle connection; a large body keeps it busy */
#define RECV_NAME_MAX	253 /* a Kubernetes node name; longer is cut in logs */
#define RECV_REASON_MAX 192
#define RECV_DROP_MAX	(2 * (size_t)PM_REPORT_MAX_BYTES) /* of a refused body, read to answer */
#define RECV_HDR_NODE	"X-Podmeter-Node"
#define RECV_HDR_SEQ	"X-Podmeter-Seq"
#define RECV_CT_TEXT	"text/plain; charset=utf-8"

/* The highest sequence stored for one node. */
struct recv_node {
	char *name;
	uint64_t seq;
};

struct recv {
	pthread_mutex_t lock; /* the file, its size and the node table */
	int fd;		      /* reports.jsonl, O_APPEND */
	off_t size;	      /* bytes of whole, durable lines */
	bool dirty;	      /* a failed append may have left a part line */
	char path[PATH_MAX];
	struct recv_node *nodes; /* sorted by name */
	size_t n_nodes, cap_nodes;
	struct MHD_Daemon *daemon;
	int family; /* of the bound address */
};

/* One request: the body as it arrives, or why it is refused already. */
struct recv_req {
	char *body;
	size_t len, cap;
	unsigned int status; /* non-zero: refused; the body is read and dropped */
	size_t dropped;	     /* bytes of body dropped so far */
	bool answered;
	char reason[RECV_REASON_MAX];
};

/* What the store made of a report. */
struct recv_result {
	unsigned int status;
	const char *body;
	const char *verdict; /* for the log: stored, duplicate, rejected */
	char reason[RECV_REASON_MAX];
	char node[RECV_NAME_MAX + 1]; /* for the log */
	char seq[24];
};

/* ---- the node table ---- */

/* Index of @name, or where it goes (with *@found false). */
static size_t recv_find(const struct recv *r, const char *name, bool *found)
{
	size_t lo = 0, hi = r->n_nodes, mid;
	int c;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, r->nodes[mid].name);
		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Room for one more node, so that noting one after a write cannot fail. */
static int recv_reserve(struct recv *r)
{
	size_t cap = r->cap_nodes ? r->cap_nodes * 2 : 64;
	struct recv_node *grown;

	if (r->n_nodes < r->cap_nodes)
		return 0;
	grown = realloc(r->nodes, cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	r->nodes = grown;
	r->cap_nodes = cap;
	return 0;
}

/* Raise @name's highest sequence to @seq; @name is taken (freed if known). */
static void recv_note(struct recv *r, char *name, uint64_t seq)
{
	bool found;
	size_t i = recv_find(r, name, &found);

	if (found) {
		free(name);
		if (seq > r->nodes[i].seq)
			r->nodes[i].seq = seq;
		return;
	}
	memmove(&r->nodes[i + 1], &r->nodes[i], (r->n_nodes - i) * sizeof(r->nodes[0]));
	r->nodes[i] = (struct recv_node){ name, seq };
	r->n_nodes++;
}

static uint64_t recv_highest(const struct recv *r, const char *name)
{
	bool found;
	size_t i = recv_find(r, name, &found);

	return found ? r->nodes[i].seq : 0;
}

/* ---- the store: reports.jsonl ---- */

static int recv_mkdirs(const char *dir)
{
	char p[PATH_MAX], *s;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* "seq" as pbjson writes it: an integer, or a decimal string above INT64_MAX. */
static bool recv_json_seq(json_t *j, uint64_t *seq)
{
	const char *s;
	char *end;

	if (json_is_integer(j) && json_integer_value(j) > 0) {
		*seq = json_integer_value(j);
		return true;
	}
	s = json_string_value(j);
	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*seq = strtoull(s, &end, 10);
	return !errno && !*end;
}

/* One stored line: note its node and sequence. False when it is not a report. */
static bool recv_scan_line(struct recv *r, const char *line)
{
	json_t *j = json_loads(line, JSON_DECODE_ANY, NULL);
	const char *node = json_string_value(json_object_get(j, "node"));
	uint64_t seq;
	char *name;
	bool ok = false;

	if (node && *node && recv_json_seq(json_object_get(j, "seq"), &seq)) {
		name = strdup(node);
		ok = name && !recv_reserve(r);
		if (ok)
			recv_note(r, name, seq);
		else
			free(name);
	}
	json_decref(j);
	return ok;
}

/*
 * Rebuild the node table from the lines stored before. A last line without
 * its newline is a write that a crash cut short: it was never answered 2xx,
 * so it is cut off (the agent sends that report again), or the next line
 * would be glued to it.
 */
static int recv_scan(struct recv *r)
{
	size_t cap = 0, lineno = 0;
	char *line = NULL;
	ssize_t n;
	FILE *f;

	f = fopen(r->path, "r");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] != '\n') {
			fprintf(stderr,
				"warning: receive: %s: torn last line (%zd bytes, an interrupted "
				"write) dropped; the agent sends that report again\n",
				r->path, n);
			break;
		}
		r->size += n;
		if (!recv_scan_line(r, line))
			fprintf(stderr,
				"warning: receive: %s: line %zu is not a report; skipped "
				"(a resent copy of it would be stored again)\n",
				r->path, lineno);
	}
	free(line);
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return 0;
}

static int recv_fsync_dir(const char *dir)
{
	int fd, ret = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

static int recv_open(struct recv *r, const char *dir, char *err, size_t errlen)
{
	int n = strlen(dir), ret;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (snprintf(r->path, sizeof(r->path), "%.*s/%s", n, dir, RECV_FILE) >=
	    (int)sizeof(r->path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	ret = recv_mkdirs(dir);
	if (ret) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-ret));
		return ret;
	}
	r->fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (r->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open %s: %s", r->path, strerror(errno));
		return ret;
	}
	if (flock(r->fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", r->path,
			 errno == EWOULDBLOCK ? "in use by another podmeter receive; give this one "
						"another --out"
					      : strerror(errno));
		return ret;
	}
	ret = recv_scan(r);
	if (!ret && (ftruncate(r->fd, r->size) || fsync(r->fd)))
		ret = -errno;
	if (!ret)
		ret = recv_fsync_dir(dir);
	if (ret)
		snprintf(err, errlen, "%s: %s", r->path, strerror(-ret));
	return ret;
}

/*
 * Append one line and make it durable. A failed append leaves no part of
 * the line behind: it is cut off now, or before the next append.
 */
static int recv_append(struct recv *r, const char *line, size_t len)
{
	size_t done = 0;
	ssize_t n;
	int ret = 0;

	if (r->dirty) {
		if (ftruncate(r->fd, r->size))
			return -errno;
		r->dirty = false;
	}
	while (done < len) {
		n = write(r->fd, line + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		done += n;
	}
	if (!ret && fsync(r->fd))
		ret = -errno;
	if (ret) {
		r->dirty = ftruncate(r->fd, r->size) != 0;
		return ret;
	}
	r->size += len;
	return 0;
}

/* ---- one report ---- */

static void recv_refuse(struct recv_result *res, unsigned int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void recv_refuse(struct recv_result *res, unsigned int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	res->status = status;
	res->body = res->reason;
	res->verdict = "rejected";
}

/* The headers, when sent, must name the report in the body. */
static bool recv_headers_match(struct MHD_Connection *conn, const Podmeter__V1__NodeReport *rep,
			       struct recv_result *res)
{
	const char *node = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, RECV_HDR_NODE);
	const char *seq = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, RECV_HDR_SEQ);
	char want[24];

	if (node && strcmp(node, rep->node)) {
		recv_refuse(res, MHD_HTTP_BAD_REQUEST,
			    RECV_HDR_NODE " does not match the node in the report");
		return false;
	}
	snprintf(want, sizeof(want), "%llu", (unsigned long long)rep->seq);
	if (seq && strcmp(seq, want)) {
		recv_refuse(res, MHD_HTTP_BAD_REQUEST,
			    RECV_HDR_SEQ " does not match the seq in the report (%s)", want);
		return false;
	}
	return true;
}

/* Under the lock: drop a duplicate, or store the line and then note it. */
static void recv_commit(struct recv *r, const Podmeter__V1__NodeReport *rep, const char *line,
			size_t len, struct recv_result *res)
{
	char *name;
	int ret;

	pthread_mutex_lock(&r->lock);
	if (rep->seq <= recv_highest(r, rep->node)) {
		res->status = MHD_HTTP_OK;
		res->body = res->verdict = "duplicate";
		goto out_unlock;
	}
	name = strdup(rep->node);
	if (!name || recv_reserve(r)) {
		free(name);
		recv_refuse(res, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory; try again");
		goto out_unlock;
	}
	ret = recv_append(r, line, len);
	if (ret) {
		free(name);
		recv_refuse(res, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot write %s: %s; try again",
			    r->path, strerror(-ret));
		goto out_unlock;
	}
	recv_note(r, name, rep->seq);
	res->status = MHD_HTTP_OK;
	res->body = res->verdict = "stored";
out_unlock:
	pthread_mutex_unlock(&r->lock);
}

/* Node and seq for the log: printable bytes only, cut to a node name's length. */
static void recv_ident(struct recv_result *res, const char *node, const char *seq)
{
	size_t i;

	snprintf(res->node, sizeof(res->node), "%s", node && *node ? node : "?");
	snprintf(res->seq, sizeof(res->seq), "%s", seq && *seq ? seq : "?");
	for (i = 0; res->node[i]; i++)
		if (!isprint((unsigned char)res->node[i]))
			res->node[i] = '?';
	for (i = 0; res->seq[i]; i++)
		if (!isprint((unsigned char)res->seq[i]))
			res->seq[i] = '?';
}

/* Check and render an unpacked report, then hand it to the store. */
static void recv_report(struct recv *r, struct MHD_Connection *conn,
			const Podmeter__V1__NodeReport *rep, const void *pb, size_t len,
			struct recv_result *res)
{
	char err[RECV_REASON_MAX], seq[24];
	char *json, *line;
	json_t *node;
	size_t n;

	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)rep->seq);
	recv_ident(res, rep->node, seq);
	if (!*rep->node) {
		recv_refuse(res, MHD_HTTP_BAD_REQUEST, "the report has no node name");
		return;
	}
	/* the stored line has it as JSON: it must come back the same at the next start */
	node = json_string(rep->node);
	if (!node) {
		recv_refuse(res, MHD_HTTP_BAD_REQUEST, "the node name is not valid UTF-8");
		return;
	}
	json_decref(node);
	if (!rep->seq) {
		recv_refuse(res, MHD_HTTP_BAD_REQUEST,
			    "the report has seq 0; sequences start at 1");
		return;
	}
	if (!recv_headers_match(conn, rep, res))
		return;
	json = pbjson__report(pb, len, err, sizeof(err));
	if (!json) {
		/* checked before: only memory can fail here, and a retry may find some */
		recv_refuse(res, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
		return;
	}
	n = strlen(json);
	line = realloc(json, n + 2);
	if (!line) {
		free(json);
		recv_refuse(res, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory; try again");
		return;
	}
	memcpy(line + n, "\n", 2);
	recv_commit(r, rep, line, n + 1, res);
	free(line);
}

static void recv_body(struct recv *r, struct MHD_Connection *conn, const struct recv_req *q,
		      struct recv_result *res)
{
	Podmeter__V1__NodeReport *rep;
	char reason[RECV_REASON_MAX];
	size_t len;
	void *pb;
	int ret;

	ret = gz__decompress(q->body, q->len, PM_REPORT_MAX_BYTES, &pb, &len);
	if (ret == -EFBIG) {
		recv_refuse(res, MHD_HTTP_CONTENT_TOO_LARGE,
			    "the body inflates to more than %u MiB", PM_REPORT_MAX_BYTES >> 20);
		return;
	}
	if (ret) {
		if (ret == -ENOMEM)
			recv_refuse(res, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "out of memory; try again");
		else
			recv_refuse(res, MHD_HTTP_BAD_REQUEST,
				    "the body is not gzip or is corrupt");
		return;
	}
	/* bounded before anything is unpacked: empty messages unpack a thousandfold */
	ret = pbjson__check(pb, len, reason, sizeof(reason));
	if (ret) {
		recv_refuse(res, ret == -EFBIG ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_REQUEST,
			    "%s", reason);
		free(pb);
		return;
	}
	rep = podmeter__v1__node_report__unpack(NULL, len, pb);
	if (rep) {
		recv_report(r, conn, rep, pb, len, res);
		podmeter__v1__node_report__free_unpacked(rep, NULL);
	} else {
		recv_refuse(res, MHD_HTTP_BAD_REQUEST,
			    "the body is not a podmeter.v1.NodeReport (exporter/podmeter.proto)");
	}
	free(pb);
}

/* ---- HTTP ---- */

/* Does the header value @v name the media type or coding @want (parameters aside)? */
static bool recv_token_is(const char *v, const char *want)
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

/* What the headers alone refuse; the body is then read and dropped. */
static void recv_check_headers(struct MHD_Connection *conn, const char *url, const char *method,
			       struct recv_req *q)
{
	const char *ct, *ce, *cl;

	ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	ce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (strcmp(url, PM_REPORT_PATH)) {
		q->status = MHD_HTTP_NOT_FOUND;
		snprintf(q->reason, sizeof(q->reason), "not found; reports go to POST %s",
			 PM_REPORT_PATH);
	} else if (strcmp(method, MHD_HTTP_METHOD_POST)) {
		q->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		snprintf(q->reason, sizeof(q->reason), "method not allowed; reports are POSTed");
	} else if (!recv_token_is(ct, PM_REPORT_CONTENT_TYPE)) {
		q->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		snprintf(q->reason, sizeof(q->reason), "Content-Type must be %s",
			 PM_REPORT_CONTENT_TYPE);
	} else if (!recv_token_is(ce, "gzip") && !recv_token_is(ce, "x-gzip")) {
		q->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		snprintf(q->reason, sizeof(q->reason),
			 "Content-Encoding must be gzip: reports are sent gzip-compressed");
	} else if (cl && strtoull(cl, NULL, 10) > PM_REPORT_MAX_BYTES) {
		q->status = MHD_HTTP_CONTENT_TOO_LARGE;
		snprintf(q->reason, sizeof(q->reason), "the body is larger than %u MiB",
			 PM_REPORT_MAX_BYTES >> 20);
	}
}

/* Keep a chunk of the body; refuse (413) past the bound. */
static void recv_take(struct recv_req *q, const char *data, size_t len)
{
	size_t cap = q->cap ? q->cap : 64 << 10;
	char *grown;

	if (len > PM_REPORT_MAX_BYTES - q->len) {
		q->status = MHD_HTTP_CONTENT_TOO_LARGE;
		snprintf(q->reason, sizeof(q->reason), "the body is larger than %u MiB",
			 PM_REPORT_MAX_BYTES >> 20);
		q->dropped = q->len + len;
		free(q->body);
		q->body = NULL;
		q->len = q->cap = 0;
		return;
	}
	while (cap < q->len + len)
		cap *= 2;
	if (cap != q->cap) {
		grown = realloc(q->body, cap);
		if (!grown) {
			q->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			snprintf(q->reason, sizeof(q->reason), "out of memory; try again");
			return;
		}
		q->body = grown;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, len);
	q->len += len;
}

static enum MHD_Result recv_respond(struct MHD_Connection *conn, const struct recv_result *res)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char body[RECV_REASON_MAX + 1];
	int n;

	n = snprintf(body, sizeof(body), "%s\n", res->body);
	resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, RECV_CT_TEXT);
	if (res->status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, MHD_HTTP_METHOD_POST);
	if (res->status == MHD_HTTP_UNSUPPORTED_MEDIA_TYPE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_ENCODING, "gzip");
	ret = MHD_queue_response(conn, res->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answer and log a request refused on its headers or size. */
static enum MHD_Result recv_answer_refused(struct MHD_Connection *conn, const char *method,
					   const char *url, struct recv_req *q)
{
	struct recv_result res = { 0 };
	char where[96];
	size_t i;

	recv_ident(&res, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, RECV_HDR_NODE),
		   MHD_lookup_connection_value(conn, MHD_HEADER_KIND, RECV_HDR_SEQ));
	recv_refuse(&res, q->status, "%s", q->reason);
	snprintf(where, sizeof(where), "%s %s", method, url);
	for (i = 0; where[i]; i++)
		if (!isprint((unsigned char)where[i]))
			where[i] = '?';
	fprintf(stderr, "receive: %s seq %s: rejected (%u %s: %s)\n", res.node, res.seq, res.status,
		where, res.reason);
	q->answered = true;
	return recv_respond(conn, &res);
}

static enum MHD_Result recv_answer(struct recv *r, struct MHD_Connection *conn, struct recv_req *q)
{
	struct recv_result res = { 0 };

	recv_ident(&res, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, RECV_HDR_NODE),
		   MHD_lookup_connection_value(conn, MHD_HEADER_KIND, RECV_HDR_SEQ));
	recv_body(r, conn, q, &res);
	if (res.status == MHD_HTTP_OK)
		fprintf(stderr, "receive: %s seq %s: %s\n", res.node, res.seq, res.verdict);
	else
		fprintf(stderr, "receive: %s seq %s: rejected (%u: %s)\n", res.node, res.seq,
			res.status, res.reason);
	q->answered = true;
	return recv_respond(conn, &res);
}

/*
 * Called with the headers, then with each piece of the body, then once
 * with none. Refusals wait for the end of the body, so the client reads
 * the answer instead of a reset connection; only a body declared over the
 * bound is answered at once (a client that asked "Expect: 100-continue"
 * sends nothing more).
 */
static enum MHD_Result recv_handler(void *cls, struct MHD_Connection *conn, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **req_cls)
{
	struct recv_req *q = *req_cls;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*req_cls = q;
		recv_check_headers(conn, url, method, q);
		if (q->status == MHD_HTTP_CONTENT_TOO_LARGE)
			return recv_answer_refused(conn, method, url, q);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!q->status)
			recv_take(q, upload_data, *upload_data_size);
		else
			q->dropped += *upload_data_size;
		*upload_data_size = 0;
		/* a body without end: answer now, and MHD closes the connection */
		if (q->dropped > RECV_DROP_MAX && !q->answered)
			return recv_answer_refused(conn, method, url, q);
		return MHD_YES;
	}
	if (q->answered)
		return MHD_YES;
	if (q->status)
		return recv_answer_refused(conn, method, url, q);
	return recv_answer(cls, conn, q);
}

static void recv_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct recv_req *q = *req_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!q)
		return;
	free(q->body);
	free(q);
	*req_cls = NULL;
}

static struct MHD_Daemon *recv_start_at(struct recv *r, const struct addrinfo *ai, bool any)
{
	unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION;

	if (ai->ai_family == AF_INET6)
		flags |= any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	errno = 0;
	return MHD_start_daemon(flags, 0, NULL, NULL, recv_handler, r, MHD_OPTION_SOCK_ADDR,
				ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, recv_completed, r,
				MHD_OPTION_CONNECTION_TIMEOUT, RECV_TIMEOUT_S,
				MHD_OPTION_CONNECTION_LIMIT, RECV_MAX_CONNS,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, RECV_BACKLOG, MHD_OPTION_END);
}

/* The first address of @host that binds; "" = the IPv6 wildcard (dual stack), else IPv4's. */
static int recv_bind(struct recv *r, const char *host, uint16_t port, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *res, *ai;
	bool any = !*host;
	int rc, pass, e = EADDRNOTAVAIL;
	char serv[8];

	snprintf(serv, sizeof(serv), "%u", port);
	rc = getaddrinfo(any ? NULL : host, serv, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	for (pass = any ? 0 : 1; pass < 2 && !r->daemon; pass++) {
		for (ai = res; ai && !r->daemon; ai = ai->ai_next) {
			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			if (any && (pass == 0) != (ai->ai_family == AF_INET6))
				continue;
			r->daemon = recv_start_at(r, ai, any);
			if (r->daemon)
				r->family = ai->ai_family;
			else
				e = errno ? errno : EIO;
		}
	}
	freeaddrinfo(res);
	if (!r->daemon) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s",
			 any ? "every address," : host, port, strerror(e));
		return -e;
	}
	return 0;
}

/* ---- the subcommand ---- */

static void recv_usage(FILE *f)
{
	fprintf(f,
		"usage: podmeter receive --listen HOST:PORT --out DIR\n\n"
		"The reference receiver: takes reports on POST %s (gzip-compressed\n"
		"NodeReports), drops duplicates by (node, seq) and appends each report\n"
		"as one JSON line to DIR/%s, answering 2xx once it is on disk.\n"
		"SIGINT or SIGTERM stops it.\n\n"
		"  --listen HOST:PORT  address to listen on; \":PORT\" = every address\n"
		"  --out DIR           where reports.jsonl is kept (created if missing)\n",
		PM_REPORT_PATH, RECV_FILE);
}

/* --flag VALUE or --flag=VALUE. 1 when @argv[*i] is @flag, 0 when not, -1 without a value. */
static int recv_flag(int argc, char **argv, int *i, const char *flag, const char **val)
{
	size_t n = strlen(flag);

	if (strncmp(argv[*i], flag, n))
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n])
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* 0, 1 for --help (printed), -1 with a message printed. */
static int recv_args(int argc, char **argv, const char **listen, const char **out)
{
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			recv_usage(stdout);
			return 1;
		}
		rc = recv_flag(argc, argv, &i, "--listen", listen);
		if (!rc)
			rc = recv_flag(argc, argv, &i, "--out", out);
		if (rc < 0) {
			fprintf(stderr, "receive: %s needs a value; see podmeter receive --help\n",
				argv[i]);
			return -1;
		}
		if (!rc) {
			fprintf(stderr,
				"receive: unknown argument %s; see podmeter receive --help\n",
				argv[i]);
			return -1;
		}
	}
	if (!*listen || !*out || !**out) {
		fprintf(stderr, "receive: %s is required; see podmeter receive --help\n",
			!*listen ? "--listen HOST:PORT" : "--out DIR");
		return -1;
	}
	return 0;
}

static void recv_close(struct recv *r)
{
	size_t i;

	if (r->daemon)
		MHD_stop_daemon(r->daemon);
	if (r->fd >= 0)
		close(r->fd);
	for (i = 0; i < r->n_nodes; i++)
		free(r->nodes[i].name);
	free(r->nodes);
	pthread_mutex_destroy(&r->lock);
}

int receiver__main(int argc, char **argv)
{
	struct recv r = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };
	const char *listen = NULL, *out = NULL, *shown;
	char host[256], err[PATH_MAX + 128];
	uint16_t port;
	sigset_t set;
	int rc, sig;

	rc = recv_args(argc, argv, &listen, &out);
	if (rc)
		return rc > 0 ? 0 : 1;
	if (listen__parse(listen, host, sizeof(host), &port, NULL)) {
		fprintf(stderr, "receive: --listen \"%s\" is not HOST:PORT, [V6]:PORT or :PORT\n",
			listen);
		return 1;
	}
	/* every thread MHD starts inherits the mask; sigwait takes the signals */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (recv_open(&r, out, err, sizeof(err)) || recv_bind(&r, host, port, err, sizeof(err))) {
		fprintf(stderr, "receive: %s\n", err);
		recv_close(&r);
		return 1;
	}
	if (r.n_nodes)
		fprintf(stderr,
			"podmeter receive: %s holds reports of %zu node(s); a report at or "
			"below its node's highest seq is a duplicate\n",
			r.path, r.n_nodes);
	shown = *host ? host : r.family == AF_INET6 ? "::" : "0.0.0.0";
	fprintf(stderr, "podmeter receive: listening on http://%s%s%s:%u%s, storing in %s\n",
		strchr(shown, ':') ? "[" : "", shown, strchr(shown, ':') ? "]" : "", port,
		PM_REPORT_PATH, r.path);
	do {
		rc = sigwait(&set, &sig);
	} while (rc == EINTR);
	fprintf(stderr, "podmeter receive: stopping on %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	recv_close(&r);
	return 0;
}
