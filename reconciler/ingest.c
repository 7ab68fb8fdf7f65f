// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Decoding and checking a report, bounded at every step (see ingest.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/report.h>
#include "ingest.h"
#include "rec_limits.h"

#define WINDOW_EARLIEST 1577836800.0 /* 2020-01-01: older is not a podmeter window */
#define WINDOW_AHEAD_S	86400.0	     /* clocks may be off; a day is not a clock */
#define WINDOW_SPAN_MAX (7 * 86400.0)

static int refuse(enum rec_reason *reason, enum rec_reason r, char *why, size_t whylen,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int refuse(enum rec_reason *reason, enum rec_reason r, char *why, size_t whylen,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	*reason = r;
	return -1;
}

/* ---- unpacking under a memory budget ---- */

struct budget {
	size_t used, max;
	bool exceeded;
};

static void *budget_alloc(void *ctx, size_t size)
{
	struct budget *b = ctx;

	if (size > b->max - b->used) {
		b->exceeded = true;
		return NULL;
	}
	b->used += size;
	return malloc(size ? size : 1);
}

/* protobuf-c frees with this, and ingest__free with the system allocator: both free() */
static void budget_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

int ingest__decode(const void *body, size_t len, Podmeter__V1__NodeReport **out,
		   enum rec_reason *reason, char *why, size_t whylen)
{
	struct budget b = { .max = REC_DECODED_MAX };
	ProtobufCAllocator alloc = { budget_alloc, budget_free, &b };
	size_t plen;
	void *pb;
	int ret;

	*out = NULL;
	ret = gz__decompress(body, len, REC_INFLATED_MAX, &pb, &plen);
	if (ret == -EFBIG)
		return refuse(reason, REASON_INFLATED_TOO_LARGE, why, whylen,
			      "the body inflates to more than %u MiB", REC_INFLATED_MAX >> 20);
	if (ret == -ENOMEM)
		return refuse(reason, REASON_OVERLOADED, why, whylen, "out of memory; try again");
	if (ret)
		return refuse(reason, REASON_BAD_GZIP, why, whylen,
			      "the body is not gzip or is corrupt");
	*out = podmeter__v1__node_report__unpack(&alloc, plen, pb);
	free(pb);
	if (*out)
		return 0;
	if (b.exceeded)
		return refuse(reason, REASON_DECODED_TOO_LARGE, why, whylen,
			      "the report takes more than %u MiB decoded", REC_DECODED_MAX >> 20);
	return refuse(reason, REASON_BAD_PROTOBUF, why, whylen,
		      "the body is not a podmeter.v1.NodeReport (exporter/podmeter.proto)");
}

void ingest__free(Podmeter__V1__NodeReport *r)
{
	if (r)
		podmeter__v1__node_report__free_unpacked(r, NULL);
}

/* ---- checking ---- */

/* Valid UTF-8, at most @max bytes; with @name, no control characters either. */
static bool str_ok(const char *s, size_t max, bool name)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, k, len;
	uint32_t cp;

	if (!s)
		return true;
	while (p[n]) {
		if (n >= max)
			return false;
		if (p[n] < 0x80) {
			if (name && (p[n] < 0x20 || p[n] == 0x7f))
				return false;
			n++;
			continue;
		}
		len = p[n] >= 0xf0 ? 4 : p[n] >= 0xe0 ? 3 : p[n] >= 0xc2 ? 2 : 0;
		if (!len || p[n] > 0xf4)
			return false;
		cp = p[n] & (0x3f >> (len - 1));
		for (k = 1; k < len; k++) {
			if ((p[n + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[n + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		n += len;
	}
	return n <= max;
}

struct checker {
	enum rec_reason *reason;
	char *why;
	size_t whylen;
	size_t containers;
	size_t findings;
};

#define NAME(c, s, what)                                                                           \
	do {                                                                                       \
		if (!str_ok((s), REC_NAME_MAX, true))                                              \
			return refuse((c)->reason, REASON_BAD_REPORT, (c)->why, (c)->whylen,       \
				      "%s is not a name (UTF-8, at most %d bytes, no control "     \
				      "characters)",                                               \
				      what, REC_NAME_MAX);                                         \
	} while (0)
#define TEXT(c, s, what)                                                                           \
	do {                                                                                       \
		if (!str_ok((s), REC_STRING_MAX, false))                                           \
			return refuse((c)->reason, REASON_BAD_REPORT, (c)->why, (c)->whylen,       \
				      "%s is not UTF-8 of at most %d bytes", what,                 \
				      REC_STRING_MAX);                                             \
	} while (0)
#define MANY(c, n, max, what)                                                                      \
	do {                                                                                       \
		if ((n) > (size_t)(max))                                                           \
			return refuse((c)->reason, REASON_TOO_MANY_ITEMS, (c)->why, (c)->whylen,   \
				      "%zu %s, at most %zu", (size_t)(n), what, (size_t)(max));    \
	} while (0)

static int check_finding(struct checker *c, const Podmeter__V1__Finding *f)
{
	size_t i;

	MANY(c, ++c->findings, REC_FINDINGS_MAX, "findings in the report");
	MANY(c, f->n_attributes, REC_ATTRS_MAX, "attributes in a finding");
	NAME(c, f->id, "a finding's id");
	NAME(c, f->kind, "a finding's kind");
	TEXT(c, f->detail, "a finding's detail");
	for (i = 0; i < f->n_attributes; i++) {
		NAME(c, f->attributes[i]->key, "a finding's attribute");
		TEXT(c, f->attributes[i]->value, "a finding's attribute value");
	}
	return 0;
}

static int check_container(struct checker *c, const Podmeter__V1__ContainerReport *k)
{
	MANY(c, ++c->containers, REC_CONTAINERS_TOTAL, "containers in the report");
	NAME(c, k->name, "a container's name");
	NAME(c, k->id, "a container's id");
	if (k->cpu_cores)
		MANY(c, k->cpu_cores->n_counts, REC_HIST_KEYS_MAX, "buckets in a histogram");
	return 0;
}

static int check_pod(struct checker *c, const Podmeter__V1__PodReport *p)
{
	size_t i;

	MANY(c, p->n_containers, REC_CONTAINERS_MAX, "containers in a pod");
	MANY(c, p->n_labels, REC_LABELS_MAX, "labels on a pod");
	MANY(c, p->n_network, REC_NET_MAX, "traffic entries of a pod");
	NAME(c, p->uid, "a pod's uid");
	NAME(c, p->namespace_, "a pod's namespace");
	NAME(c, p->name, "a pod's name");
	NAME(c, p->owner_kind, "a pod's owner kind");
	NAME(c, p->owner_name, "a pod's owner name");
	if (!p->uid[0])
		return refuse(c->reason, REASON_BAD_REPORT, c->why, c->whylen, "a pod has no uid");
	for (i = 0; i < p->n_labels; i++) {
		if (!str_ok(p->labels[i]->key, 317, true))
			return refuse(c->reason, REASON_BAD_REPORT, c->why, c->whylen,
				      "a pod's label key is not a label key");
		NAME(c, p->labels[i]->value, "a pod's label value");
	}
	for (i = 0; i < p->n_containers; i++)
		if (check_container(c, p->containers[i]))
			return -1;
	for (i = 0; i < p->n_findings; i++)
		if (check_finding(c, p->findings[i]))
			return -1;
	return 0;
}

static int check_window(struct checker *c, const Podmeter__V1__NodeReport *r, double now)
{
	if (!isfinite(r->window_start) || !isfinite(r->window_end) ||
	    r->window_start < WINDOW_EARLIEST || r->window_end < r->window_start ||
	    r->window_end > now + WINDOW_AHEAD_S ||
	    r->window_end - r->window_start > WINDOW_SPAN_MAX)
		return refuse(c->reason, REASON_BAD_REPORT, c->why, c->whylen,
			      "the window %.3f..%.3f is not one (after 2020, ordered, at most 7 "
			      "days, not a day ahead of this clock)",
			      r->window_start, r->window_end);
	return 0;
}

int ingest__check(const Podmeter__V1__NodeReport *r, double now, enum rec_reason *reason, char *why,
		  size_t whylen)
{
	struct checker c = { reason, why, whylen, 0, 0 };
	size_t i;

	if (!r->node[0])
		return refuse(reason, REASON_BAD_REPORT, why, whylen,
			      "the report has no node name");
	NAME(&c, r->node, "the node name");
	NAME(&c, r->cluster, "the cluster name");
	NAME(&c, r->agent_version, "the agent version");
	if (!r->seq)
		return refuse(reason, REASON_BAD_REPORT, why, whylen,
			      "the report has seq 0; sequences start at 1");
	if (r->seq > INT64_MAX)
		return refuse(reason, REASON_BAD_REPORT, why, whylen, "seq beyond 2^63");
	if (check_window(&c, r, now))
		return -1;
	MANY(&c, r->n_pods, REC_PODS_MAX, "pods in the report");
	for (i = 0; i < r->n_pods; i++)
		if (check_pod(&c, r->pods[i]))
			return -1;
	for (i = 0; i < r->n_findings; i++)
		if (check_finding(&c, r->findings[i]))
			return -1;
	return 0;
}
