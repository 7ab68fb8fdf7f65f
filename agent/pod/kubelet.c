// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kubelet's PodList, parsed as it streams in with yajl's event parser.
 * Only the fields podmeter labels by are kept (and the pod labels reports
 * name); annotations, managedFields and everything else are passed over
 * without being stored, so a list of any size costs the pods kept plus the
 * longest token, never the whole document.
 *
 * Where a value goes is a row of kl_fields: (context, key) -> what it is,
 * what a wrong type costs, and the context or setter it feeds.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#include <podmeter/kubelet.h>
#include <podmeter/quantity.h>

#define KL_MAX_DEPTH 64		 /* a pod is about 20 deep (managedFields) */
#define KL_PIECE     (64u << 10) /* fed to yajl at most this much at a time */
#define KL_MAX_TOKEN (16u << 20) /* bytes without an event: one token, buffered */
#define KL_QTY_LEN   64
#define KL_HASH_LEN  (PM_LABEL_VALUE_MAX + 1)

enum kl_ctx {
	KL_TOP,	 /* before the document */
	KL_ROOT, /* the PodList */
	KL_ITEMS,
	KL_POD,
	KL_META,
	KL_LABELS,
	KL_OWNERS,
	KL_OWNER,
	KL_SPEC,
	KL_CTRS,
	KL_CTR,
	KL_RES,
	KL_REQ,
	KL_LIM,
	KL_STATUS,
	KL_CSTATS,
	KL_CSTAT,
	KL_NCTX,
};

enum kl_type { KL_OBJ, KL_ARR, KL_STR, KL_BOOL };

/* What a value of the wrong type, or a second one for the same key, costs. */
enum kl_strict {
	KL_IGNORE,  /* nothing: treated as absent (a duplicate: the last wins) */
	KL_BAD_REF, /* the owner reference is unusable */
	KL_BAD_POD, /* the pod is skipped */
	KL_BAD_DOC, /* the body is no PodList */
};

enum kl_res { KL_CPU, KL_MEMORY, KL_GPU };

struct pm_kubelet_parser;
struct kl_field;
/* A string (@s, @len) or a boolean (@s NULL, @len its value) for @f. */
typedef void (*kl_take)(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
			size_t len);

struct kl_field {
	enum kl_ctx in;
	const char *key; /* NULL: every element of the array */
	enum kl_type type;
	enum kl_strict strict;
	enum kl_ctx child; /* objects and arrays */
	kl_take take;	   /* strings and booleans */
	int arg;
};

struct kl_frame {
	enum kl_ctx ctx;
	const struct kl_field *next; /* what the next value is; NULL: not read */
	uint64_t seen;		     /* fields met in this object, by row */
};

struct kl_status {
	char name[254];
	char id[PM_CID_MAX + 1];
};

/* The pod being read: what may arrive in any order, settled at its end. */
struct kl_pod {
	struct pm_pod_meta m;
	size_t cap;
	bool bad, has_meta, has_spec, has_ctrs, has_uid, has_ns, has_name;
	bool owned;		/* the controlling reference was met */
	char hash[KL_HASH_LEN]; /* pod-template-hash */
	bool has_hash;
	char label_key[PM_LABEL_KEY_MAX + 1]; /* the label whose value comes next */
	bool label_key_ok;
	size_t cap_labels;
	struct {
		char kind[64], name[254];
		bool controller, bad, has_kind, has_name;
	} ref;
	struct pm_container_meta *ctr; /* the container being read; NULL: over the cap */
	bool ctr_named;
	struct kl_status st; /* the container status being read */
};

struct pm_kubelet_parser {
	yajl_handle yajl;
	struct kl_frame stack[KL_MAX_DEPTH];
	int depth;     /* frames in stack */
	int skip;      /* levels inside a value not read */
	size_t offset; /* bytes fed before this piece */
	size_t quiet;  /* bytes fed since the last event */
	bool items_seen;
	const char *const *want; /* the labels kept; NULL: the first that fit */
	size_t n_want;
	struct kl_pod pod;
	struct kl_status *statuses;
	size_t n_statuses, cap_statuses;
	struct pm_pod_meta *pods;
	size_t n_pods, cap_pods, n_ctrs, skipped;
	int ret;
	char err[256];
};

static void kl_fail(struct pm_kubelet_parser *p, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void kl_fail(struct pm_kubelet_parser *p, int ret, const char *fmt, ...)
{
	va_list ap;

	if (p->ret)
		return;
	p->ret = ret;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

static void *kl_grow(struct pm_kubelet_parser *p, void *arr, size_t *cap, size_t n, size_t size)
{
	size_t want = *cap ? *cap * 2 : 4;
	void *grown;

	if (n < *cap)
		return arr;
	grown = realloc(arr, want * size);
	if (!grown) {
		kl_fail(p, -ENOMEM, "out of memory");
		return NULL;
	}
	*cap = want;
	return grown;
}

/* ---- setters ---- */

static bool kl_copy(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size || memchr(s, '\0', len))
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

static bool kl_is(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(s, lit, len);
}

/* A bounded, printable copy of an outside string, for a message. */
static const char *kl_quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	buf[n] = '\0';
	return buf;
}

static void take_kind(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
		      size_t len)
{
	char q[40];

	(void)f;
	if (!kl_is(s, len, "PodList"))
		kl_fail(p, -EINVAL, "not a PodList (kind \"%s\")", kl_quote(s, len, q, sizeof(q)));
}

#define KL_FIELD(member)                                                                           \
	{                                                                                          \
		offsetof(struct pm_pod_meta, member), sizeof(((struct pm_pod_meta *)0)->member)    \
	}

/* A string of the pod, into its field; too long or not text: malformed. */
static void take_pod_str(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
			 size_t len)
{
	static const struct {
		size_t off, size;
	} dst[] = {
		KL_FIELD(uid),	KL_FIELD(namespace_), KL_FIELD(name),
		KL_FIELD(node), KL_FIELD(phase),
	};
	struct kl_pod *pod = &p->pod;
	bool *required[] = { &pod->has_uid, &pod->has_ns, &pod->has_name, NULL, NULL };

	if (!kl_copy((char *)&pod->m + dst[f->arg].off, dst[f->arg].size, s, len))
		pod->bad = true;
	else if (required[f->arg])
		*required[f->arg] = true;
}

static void take_qos(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
		     size_t len)
{
	(void)f;
	if (kl_is(s, len, "Guaranteed"))
		p->pod.m.qos = PM_QOS_GUARANTEED;
	else if (kl_is(s, len, "Burstable"))
		p->pod.m.qos = PM_QOS_BURSTABLE;
	else if (kl_is(s, len, "BestEffort"))
		p->pod.m.qos = PM_QOS_BESTEFFORT;
	else
		p->pod.m.qos = PM_QOS_UNKNOWN;
}

static bool kl_label_wanted(const struct pm_kubelet_parser *p, const char *key)
{
	size_t i;

	if (!p->want)
		return p->pod.m.n_labels < PM_META_LABELS_MAX;
	for (i = 0; i < p->n_want; i++)
		if (!strcmp(p->want[i], key))
			return true;
	return false;
}

/*
 * A label that fits: pod-template-hash tells a Deployment's ReplicaSet, and
 * the ones reports name are kept. One of those given twice: malformed.
 */
static void take_label(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
		       size_t len)
{
	struct kl_pod *pod = &p->pod;
	struct pm_label_meta *grown;
	bool hash = !strcmp(pod->label_key, "pod-template-hash");

	(void)f;
	if (!pod->label_key_ok || len > PM_LABEL_VALUE_MAX || memchr(s, '\0', len))
		return;
	pod->bad |= hash && pod->has_hash;
	if (hash)
		pod->has_hash = kl_copy(pod->hash, sizeof(pod->hash), s, len);
	if (!kl_label_wanted(p, pod->label_key))
		return;
	if (kubelet__label(&pod->m, pod->label_key)) {
		pod->bad = true;
		return;
	}
	grown = kl_grow(p, pod->m.labels, &pod->cap_labels, pod->m.n_labels, sizeof(*grown));
	if (!grown)
		return;
	pod->m.labels = grown;
	strcpy(grown[pod->m.n_labels].key, pod->label_key);
	kl_copy(grown[pod->m.n_labels++].value, sizeof(grown->value), s, len);
}

static void take_ref(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
		     size_t len)
{
	typeof(p->pod.ref) *r = &p->pod.ref;

	if (!s)
		r->controller = len;
	else if (f->arg == 0)
		r->has_kind = kl_copy(r->kind, sizeof(r->kind), s, len);
	else
		r->has_name = kl_copy(r->name, sizeof(r->name), s, len);
	r->bad |= s && !(f->arg == 0 ? r->has_kind : r->has_name);
}

static void take_ctr_name(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
			  size_t len)
{
	struct pm_container_meta *c = p->pod.ctr;

	(void)f;
	if (!c)
		return;
	p->pod.ctr_named = kl_copy(c->name, sizeof(c->name), s, len);
	p->pod.bad |= !p->pod.ctr_named;
}

/*
 * A quantity, clamped to [0, PM_KUBELET_QTY_MAX]: the API server admits no
 * negative request and nothing near the top, so only a hostile or broken
 * list meets the clamp. One that does not parse makes the pod malformed.
 */
static int kl_quantity(const char *s, size_t len, enum kl_res res, int64_t *out)
{
	char buf[KL_QTY_LEN];
	struct pm_quantity q;
	int ret;

	if (!kl_copy(buf, sizeof(buf), s, len) || quantity__parse(buf, &q))
		return -EINVAL;
	if (q.mantissa < 0) {
		*out = 0;
		return 0;
	}
	ret = res == KL_CPU ? quantity__milli(&q, out) : quantity__units(&q, out);
	if (ret == -ERANGE || (!ret && *out > PM_KUBELET_QTY_MAX))
		*out = PM_KUBELET_QTY_MAX;
	else if (ret)
		return ret;
	return 0;
}

static void take_qty(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
		     size_t len)
{
	struct pm_container_meta *c = p->pod.ctr;
	struct pm_resources *r;
	int64_t v;

	if (!c)
		return;
	if (kl_quantity(s, len, f->arg, &v)) {
		p->pod.bad = true;
		return;
	}
	r = f->in == KL_REQ ? &c->requests : &c->limits;
	if (f->arg == KL_CPU)
		r->cpu_milli = v;
	else if (f->arg == KL_MEMORY)
		r->memory_bytes = v;
	else
		r->gpus = kubelet__qty_add(r->gpus, v); /* nvidia.com + amd.com */
}

/* "containerd://<hex>", "cri-o://<hex>", "docker://<hex>" -> "<hex>" */
static void take_status(struct pm_kubelet_parser *p, const struct kl_field *f, const char *s,
			size_t len)
{
	struct kl_status *st = &p->pod.st;
	const char *id = s;
	size_t i;

	if (f->arg == 0) {
		if (!kl_copy(st->name, sizeof(st->name), s, len))
			st->name[0] = '\0';
		return;
	}
	for (i = 0; i + 3 <= len; i++) {
		if (!memcmp(s + i, "://", 3)) {
			id = s + i + 3;
			break;
		}
	}
	if (id == s)
		len = 0; /* no runtime prefix: no id */
	else
		len -= id - s;
	if (len > PM_CID_MAX)
		len = PM_CID_MAX;
	if (!kl_copy(st->id, sizeof(st->id), id, len))
		st->id[0] = '\0';
}

#define OBJ(in, key, strict, child)                                                                \
	{                                                                                          \
		in, key, KL_OBJ, strict, child, NULL, 0                                            \
	}
#define ARR(in, key, strict, child)                                                                \
	{                                                                                          \
		in, key, KL_ARR, strict, child, NULL, 0                                            \
	}
#define STR(in, key, strict, take, arg)                                                            \
	{                                                                                          \
		in, key, KL_STR, strict, KL_TOP, take, arg                                         \
	}
#define BOOL(in, key, strict, take, arg)                                                           \
	{                                                                                          \
		in, key, KL_BOOL, strict, KL_TOP, take, arg                                        \
	}

static const char kl_any[] = ""; /* a key: any key */

static const struct kl_field kl_fields[] = {
	OBJ(KL_TOP, NULL, KL_BAD_DOC, KL_ROOT),
	STR(KL_ROOT, "kind", KL_IGNORE, take_kind, 0),
	ARR(KL_ROOT, "items", KL_BAD_DOC, KL_ITEMS),
	OBJ(KL_ITEMS, NULL, KL_BAD_POD, KL_POD),
	OBJ(KL_POD, "metadata", KL_BAD_POD, KL_META),
	OBJ(KL_POD, "spec", KL_BAD_POD, KL_SPEC),
	OBJ(KL_POD, "status", KL_IGNORE, KL_STATUS),
	STR(KL_META, "uid", KL_BAD_POD, take_pod_str, 0),
	STR(KL_META, "namespace", KL_BAD_POD, take_pod_str, 1),
	STR(KL_META, "name", KL_BAD_POD, take_pod_str, 2),
	OBJ(KL_META, "labels", KL_IGNORE, KL_LABELS),
	ARR(KL_META, "ownerReferences", KL_IGNORE, KL_OWNERS),
	STR(KL_LABELS, kl_any, KL_IGNORE, take_label, 0),
	OBJ(KL_OWNERS, NULL, KL_IGNORE, KL_OWNER),
	BOOL(KL_OWNER, "controller", KL_IGNORE, take_ref, 0),
	STR(KL_OWNER, "kind", KL_BAD_REF, take_ref, 0),
	STR(KL_OWNER, "name", KL_BAD_REF, take_ref, 1),
	STR(KL_SPEC, "nodeName", KL_BAD_POD, take_pod_str, 3),
	ARR(KL_SPEC, "containers", KL_BAD_POD, KL_CTRS),
	OBJ(KL_CTRS, NULL, KL_BAD_POD, KL_CTR),
	STR(KL_CTR, "name", KL_BAD_POD, take_ctr_name, 0),
	OBJ(KL_CTR, "resources", KL_IGNORE, KL_RES),
	OBJ(KL_RES, "requests", KL_BAD_POD, KL_REQ),
	OBJ(KL_RES, "limits", KL_BAD_POD, KL_LIM),
	STR(KL_REQ, "cpu", KL_BAD_POD, take_qty, KL_CPU),
	STR(KL_REQ, "memory", KL_BAD_POD, take_qty, KL_MEMORY),
	STR(KL_REQ, "nvidia.com/gpu", KL_BAD_POD, take_qty, KL_GPU),
	STR(KL_REQ, "amd.com/gpu", KL_BAD_POD, take_qty, KL_GPU),
	STR(KL_LIM, "cpu", KL_BAD_POD, take_qty, KL_CPU),
	STR(KL_LIM, "memory", KL_BAD_POD, take_qty, KL_MEMORY),
	STR(KL_LIM, "nvidia.com/gpu", KL_BAD_POD, take_qty, KL_GPU),
	STR(KL_LIM, "amd.com/gpu", KL_BAD_POD, take_qty, KL_GPU),
	STR(KL_STATUS, "phase", KL_BAD_POD, take_pod_str, 4),
	STR(KL_STATUS, "qosClass", KL_IGNORE, take_qos, 0),
	ARR(KL_STATUS, "containerStatuses", KL_IGNORE, KL_CSTATS),
	OBJ(KL_CSTATS, NULL, KL_IGNORE, KL_CSTAT),
	STR(KL_CSTAT, "name", KL_IGNORE, take_status, 0),
	STR(KL_CSTAT, "containerID", KL_IGNORE, take_status, 1),
};
#undef OBJ
#undef ARR
#undef STR
#undef BOOL

#define KL_NFIELDS (sizeof(kl_fields) / sizeof(kl_fields[0]))
_Static_assert(KL_NFIELDS <= 64, "an object's seen-field mask is 64 bits");

static const struct kl_field *kl_field(enum kl_ctx ctx, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < KL_NFIELDS; i++) {
		const struct kl_field *f = &kl_fields[i];

		if (f->in == ctx &&
		    (key ? f->key && (f->key == kl_any || kl_is(key, len, f->key)) : !f->key))
			return f;
	}
	return NULL;
}

/* ---- entering and leaving objects ---- */

static void kl_pod_begin(struct pm_kubelet_parser *p)
{
	memset(&p->pod, 0, sizeof(p->pod));
	p->n_statuses = 0;
}

static void kl_ctr_begin(struct pm_kubelet_parser *p)
{
	struct kl_pod *pod = &p->pod;
	struct pm_container_meta *grown;

	pod->ctr = NULL;
	pod->ctr_named = false;
	if (pod->m.n_containers >= PM_KUBELET_MAX_CONTAINERS) {
		pod->bad = true;
		return;
	}
	grown = kl_grow(p, pod->m.containers, &pod->cap, pod->m.n_containers, sizeof(*grown));
	if (!grown)
		return;
	pod->m.containers = grown;
	pod->ctr = &grown[pod->m.n_containers++];
	memset(pod->ctr, 0, sizeof(*pod->ctr));
	pod->ctr->requests.cpu_milli = pod->ctr->requests.memory_bytes = -1;
	pod->ctr->limits.cpu_milli = pod->ctr->limits.memory_bytes = -1;
}

static void kl_ctr_end(struct pm_kubelet_parser *p)
{
	p->pod.bad |= p->pod.ctr && !p->pod.ctr_named;
	p->pod.ctr = NULL;
}

static void kl_ref_begin(struct pm_kubelet_parser *p)
{
	memset(&p->pod.ref, 0, sizeof(p->pod.ref));
}

/* The first controlling reference is the owner; unusable, it leaves none. */
static void kl_ref_end(struct pm_kubelet_parser *p)
{
	struct kl_pod *pod = &p->pod;

	if (!pod->ref.controller || pod->owned)
		return;
	pod->owned = true;
	if (pod->ref.bad || !pod->ref.has_kind || !pod->ref.has_name)
		return;
	strcpy(pod->m.owner_kind, pod->ref.kind);
	strcpy(pod->m.owner_name, pod->ref.name);
}

static void kl_status_begin(struct pm_kubelet_parser *p)
{
	memset(&p->pod.st, 0, sizeof(p->pod.st));
}

static void kl_status_end(struct pm_kubelet_parser *p)
{
	struct kl_status *grown;

	if (!p->pod.st.name[0] || p->n_statuses >= PM_KUBELET_MAX_CONTAINERS)
		return;
	grown = kl_grow(p, p->statuses, &p->cap_statuses, p->n_statuses, sizeof(*grown));
	if (!grown)
		return;
	p->statuses = grown;
	p->statuses[p->n_statuses++] = p->pod.st;
}

static void kl_meta_begin(struct pm_kubelet_parser *p)
{
	p->pod.has_meta = true;
}

static void kl_spec_begin(struct pm_kubelet_parser *p)
{
	p->pod.has_spec = true;
}

static void kl_ctrs_begin(struct pm_kubelet_parser *p)
{
	p->pod.has_ctrs = true;
}

static void kl_items_begin(struct pm_kubelet_parser *p)
{
	p->items_seen = true;
}

/* A ReplicaSet named "<deployment>-<pod-template-hash>" is its Deployment. */
static void kl_deployment(struct kl_pod *pod)
{
	char *name = pod->m.owner_name;
	size_t n = strlen(name), h = strlen(pod->hash);

	if (!pod->has_hash || strcmp(pod->m.owner_kind, "ReplicaSet") || n <= h + 1 ||
	    strcmp(name + n - h, pod->hash) || name[n - h - 1] != '-')
		return;
	name[n - h - 1] = '\0';
	strcpy(pod->m.owner_kind, "Deployment");
}

/* Each container's id from the status of the same name (the last one). */
static void kl_match_statuses(struct pm_kubelet_parser *p)
{
	size_t i, k;

	for (i = 0; i < p->pod.m.n_containers; i++) {
		struct pm_container_meta *c = &p->pod.m.containers[i];

		for (k = 0; k < p->n_statuses; k++)
			if (!strcmp(p->statuses[k].name, c->name))
				strcpy(c->id, p->statuses[k].id);
	}
}

static bool kl_pod_ok(const struct pm_kubelet_parser *p)
{
	const struct kl_pod *pod = &p->pod;

	return !pod->bad && pod->has_meta && pod->has_spec && pod->has_ctrs && pod->has_uid &&
	       pod->has_ns && pod->has_name && p->n_pods < PM_KUBELET_MAX_PODS &&
	       p->n_ctrs + pod->m.n_containers <= PM_KUBELET_MAX_ALL_CONTAINERS;
}

static void kl_pod_end(struct pm_kubelet_parser *p)
{
	struct kl_pod *pod = &p->pod;
	struct pm_pod_meta *grown;

	grown = kl_pod_ok(p) ? kl_grow(p, p->pods, &p->cap_pods, p->n_pods, sizeof(*grown)) : NULL;
	if (!grown) {
		free(pod->m.containers);
		free(pod->m.labels);
		pod->m.containers = NULL;
		pod->m.labels = NULL;
		p->skipped += !p->ret;
		return;
	}
	p->pods = grown;
	kl_deployment(pod);
	kl_match_statuses(p);
	p->n_ctrs += pod->m.n_containers;
	p->pods[p->n_pods++] = pod->m;
	pod->m.containers = NULL;
	pod->m.labels = NULL;
}

static const struct {
	void (*begin)(struct pm_kubelet_parser *p);
	void (*end)(struct pm_kubelet_parser *p);
} kl_ctxs[KL_NCTX] = {
	[KL_ITEMS] = { kl_items_begin, NULL },	 [KL_POD] = { kl_pod_begin, kl_pod_end },
	[KL_META] = { kl_meta_begin, NULL },	 [KL_OWNER] = { kl_ref_begin, kl_ref_end },
	[KL_SPEC] = { kl_spec_begin, NULL },	 [KL_CTRS] = { kl_ctrs_begin, NULL },
	[KL_CTR] = { kl_ctr_begin, kl_ctr_end }, [KL_CSTAT] = { kl_status_begin, kl_status_end },
};

/* ---- yajl events ---- */

/* What the value now arriving is, NULL when podmeter does not read it. */
static const struct kl_field *kl_next(struct pm_kubelet_parser *p)
{
	static const struct kl_field *top = &kl_fields[0];

	p->quiet = 0;
	if (p->skip)
		return NULL;
	return p->depth ? p->stack[p->depth - 1].next : top;
}

/* A value of the wrong type where @f was expected, or a second one. */
static void kl_wrong(struct pm_kubelet_parser *p, const struct kl_field *f)
{
	switch (f->strict) {
	case KL_BAD_DOC:
		kl_fail(p, -EINVAL,
			f->in == KL_TOP ? "not a PodList (not a JSON object)"
					: "not a PodList (\"items\" is not one array)");
		break;
	case KL_BAD_POD:
		if (f->in == KL_ITEMS)
			p->skipped++; /* no pod begun */
		else
			p->pod.bad = true;
		break;
	case KL_BAD_REF:
		p->pod.ref.bad = true;
		break;
	case KL_IGNORE:
		break;
	}
}

static int kl_scalar(struct pm_kubelet_parser *p, enum kl_type type, const char *s, size_t len)
{
	const struct kl_field *f = kl_next(p);

	if (!f)
		return 1;
	if (f->type != type)
		kl_wrong(p, f);
	else
		f->take(p, f, s, len);
	return !p->ret;
}

static int kl_on_null(void *ctx)
{
	struct pm_kubelet_parser *p = ctx;
	const struct kl_field *f = kl_next(p);

	/* a member set to null is absent; an element that is null is no object */
	if (f && !f->key)
		kl_wrong(p, f);
	return !p->ret;
}

static int kl_on_bool(void *ctx, int v)
{
	return kl_scalar(ctx, KL_BOOL, NULL, v != 0);
}

/* No field podmeter reads is a number. */
static int kl_on_number(void *ctx, const char *s, size_t len)
{
	struct pm_kubelet_parser *p = ctx;
	const struct kl_field *f = kl_next(p);

	(void)s;
	(void)len;
	if (f)
		kl_wrong(p, f);
	return !p->ret;
}

static int kl_on_string(void *ctx, const unsigned char *s, size_t len)
{
	return kl_scalar(ctx, KL_STR, (const char *)s, len);
}

static int kl_open(struct pm_kubelet_parser *p, enum kl_type type)
{
	const struct kl_field *f = kl_next(p);
	struct kl_frame *fr;

	if (p->depth + p->skip >= KL_MAX_DEPTH) {
		kl_fail(p, -EINVAL, "not a PodList (nested deeper than %d levels)", KL_MAX_DEPTH);
		return 0;
	}
	if (f && f->type != type)
		kl_wrong(p, f);
	if (!f || f->type != type) {
		p->skip++;
		return !p->ret;
	}
	fr = &p->stack[p->depth++];
	fr->ctx = f->child;
	fr->seen = 0;
	fr->next = type == KL_ARR ? kl_field(f->child, NULL, 0) : NULL;
	if (kl_ctxs[f->child].begin)
		kl_ctxs[f->child].begin(p);
	return !p->ret;
}

static int kl_close(struct pm_kubelet_parser *p)
{
	enum kl_ctx ctx;

	p->quiet = 0;
	if (p->skip) {
		p->skip--;
		return 1;
	}
	ctx = p->stack[--p->depth].ctx;
	if (kl_ctxs[ctx].end)
		kl_ctxs[ctx].end(p);
	return !p->ret;
}

static int kl_on_start_map(void *ctx)
{
	return kl_open(ctx, KL_OBJ);
}

static int kl_on_start_array(void *ctx)
{
	return kl_open(ctx, KL_ARR);
}

static int kl_on_end(void *ctx)
{
	return kl_close(ctx);
}

static int kl_on_key(void *ctx, const unsigned char *key, size_t len)
{
	struct pm_kubelet_parser *p = ctx;
	struct kl_frame *fr;
	const struct kl_field *f;
	uint64_t bit;

	p->quiet = 0;
	if (p->skip)
		return 1;
	fr = &p->stack[p->depth - 1];
	f = kl_field(fr->ctx, (const char *)key, len);
	fr->next = f;
	if (!f)
		return 1;
	if (f->key == kl_any) {
		p->pod.label_key_ok = kl_copy(p->pod.label_key, sizeof(p->pod.label_key),
					      (const char *)key, len);
		return 1;
	}
	bit = 1ULL << (f - kl_fields);
	if (fr->seen & bit) {
		if (f->strict == KL_BAD_DOC)
			kl_fail(p, -EINVAL, "not a PodList (\"%s\" twice)", f->key);
		else
			kl_wrong(p, f);
	}
	fr->seen |= bit;
	return !p->ret;
}

static const yajl_callbacks kl_callbacks = {
	.yajl_null = kl_on_null,
	.yajl_boolean = kl_on_bool,
	.yajl_number = kl_on_number,
	.yajl_string = kl_on_string,
	.yajl_start_map = kl_on_start_map,
	.yajl_map_key = kl_on_key,
	.yajl_end_map = kl_on_end,
	.yajl_start_array = kl_on_start_array,
	.yajl_end_array = kl_on_end,
};

/* ---- the parser ---- */

int kubelet__parser_new(struct pm_kubelet_parser **out)
{
	struct pm_kubelet_parser *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->yajl = yajl_alloc(&kl_callbacks, NULL, p);
	if (!p->yajl) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

void kubelet__parser_labels(struct pm_kubelet_parser *p, const char *const *keys, size_t n)
{
	p->want = keys;
	p->n_want = n;
}

/* yajl's own complaint, with where it was made. */
static void kl_yajl_error(struct pm_kubelet_parser *p, yajl_status st)
{
	unsigned char *msg;
	size_t n;

	if (st == yajl_status_client_canceled || p->ret)
		return;
	msg = yajl_get_error(p->yajl, 0, NULL, 0);
	n = msg ? strcspn((const char *)msg, "\n") : 0;
	kl_fail(p, -EINVAL, "not JSON: byte %zu: %.*s",
		p->offset + yajl_get_bytes_consumed(p->yajl), (int)n, msg ? (const char *)msg : "");
	if (msg)
		yajl_free_error(p->yajl, msg);
}

int kubelet__parser_feed(struct pm_kubelet_parser *p, const char *buf, size_t len)
{
	yajl_status st;
	size_t piece;

	while (!p->ret && len) {
		piece = len < KL_PIECE ? len : KL_PIECE;
		st = yajl_parse(p->yajl, (const unsigned char *)buf, piece);
		if (st != yajl_status_ok) {
			kl_yajl_error(p, st);
			break;
		}
		p->offset += piece;
		p->quiet += piece;
		if (p->quiet > KL_MAX_TOKEN)
			kl_fail(p, -E2BIG, "not a PodList (a token over %u MiB at byte %zu)",
				KL_MAX_TOKEN >> 20, p->offset);
		buf += piece;
		len -= piece;
	}
	return p->ret;
}

int kubelet__parser_finish(struct pm_kubelet_parser *p, struct pm_pod_meta **out, size_t *n,
			   size_t *skipped, char *err, size_t errlen)
{
	yajl_status st;

	*out = NULL;
	*n = *skipped = 0;
	if (!p->ret) {
		st = yajl_complete_parse(p->yajl);
		if (st != yajl_status_ok)
			kl_yajl_error(p, st);
	}
	if (!p->ret && !p->items_seen)
		kl_fail(p, -EINVAL, "not a PodList (no \"items\" array)");
	if (!p->ret && !p->pods && !(p->pods = calloc(1, sizeof(*p->pods))))
		kl_fail(p, -ENOMEM, "out of memory");
	if (p->ret) {
		snprintf(err, errlen, "%s", p->err);
		return p->ret;
	}
	*out = p->pods;
	*n = p->n_pods;
	*skipped = p->skipped;
	p->pods = NULL;
	p->n_pods = 0;
	return 0;
}

void kubelet__parser_free(struct pm_kubelet_parser *p)
{
	if (!p)
		return;
	yajl_free(p->yajl);
	free(p->pod.m.containers);
	free(p->pod.m.labels);
	free(p->statuses);
	kubelet__free_pods(p->pods, p->n_pods);
	free(p);
}

int kubelet__parse_pods(const char *json, size_t len, struct pm_pod_meta **out, size_t *n,
			size_t *skipped, char *err, size_t errlen)
{
	struct pm_kubelet_parser *p;
	int ret;

	*out = NULL;
	*n = *skipped = 0;
	if (kubelet__parser_new(&p)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = kubelet__parser_feed(p, json, len);
	if (!ret)
		ret = kubelet__parser_finish(p, out, n, skipped, err, errlen);
	else
		snprintf(err, errlen, "%s", p->err);
	kubelet__parser_free(p);
	return ret;
}

void kubelet__free_pods(struct pm_pod_meta *pods, size_t n)
{
	size_t i;

	for (i = 0; pods && i < n; i++) {
		free(pods[i].containers);
		free(pods[i].labels);
	}
	free(pods);
}

const char *kubelet__label(const struct pm_pod_meta *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n_labels; i++)
		if (!strcmp(m->labels[i].key, key))
			return m->labels[i].value;
	return NULL;
}
