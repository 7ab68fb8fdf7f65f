// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reference-counted snapshots: the collector publishes, HTTP responses hold. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/spare.h>
#include <podmeter/snapshot.h>

/* @s (NULL: "") cut at @max bytes, copied to *@at, which moves past it; its copy. */
static const char *names_put(char **at, const char *s, size_t max)
{
	size_t len = s ? strnlen(s, max) : 0;
	char *copy = *at;

	memcpy(copy, s ? s : "", len);
	copy[len] = '\0';
	*at += len + 1;
	return copy;
}

struct pm_pod_names *snapshot__names_new(const char *namespace_, const char *name,
					 const char *owner_kind, const char *owner_name,
					 const char *node, const char *const *labels)
{
	size_t size = sizeof(struct pm_pod_names), i;
	struct pm_pod_names *n;
	char *at;

	size += (namespace_ ? strnlen(namespace_, PM_NAMESPACE_MAX) : 0) + 1;
	size += (name ? strnlen(name, PM_NAME_MAX) : 0) + 1;
	size += (owner_kind ? strnlen(owner_kind, PM_KIND_MAX) : 0) + 1;
	size += (owner_name ? strnlen(owner_name, PM_NAME_MAX) : 0) + 1;
	size += (node ? strnlen(node, PM_NAME_MAX) : 0) + 1;
	for (i = 0; i < PM_POD_LABELS; i++)
		size += (labels && labels[i] ? strnlen(labels[i], PM_LABEL_VALUE_MAX) : 0) + 1;
	n = malloc(size);
	if (!n)
		return NULL;
	n->refcnt = 1;
	at = n->buf;
	n->namespace_ = names_put(&at, namespace_, PM_NAMESPACE_MAX);
	n->name = names_put(&at, name, PM_NAME_MAX);
	n->owner_kind = names_put(&at, owner_kind, PM_KIND_MAX);
	n->owner_name = names_put(&at, owner_name, PM_NAME_MAX);
	n->node = names_put(&at, node, PM_NAME_MAX);
	for (i = 0; i < PM_POD_LABELS; i++)
		n->labels[i] = names_put(&at, labels ? labels[i] : NULL, PM_LABEL_VALUE_MAX);
	return n;
}

struct pm_pod_names *snapshot__names_get(struct pm_pod_names *n)
{
	if (n)
		__atomic_add_fetch(&n->refcnt, 1, __ATOMIC_RELAXED);
	return n;
}

void snapshot__names_put(struct pm_pod_names *n)
{
	if (n && __atomic_sub_fetch(&n->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		free(n);
}

void snapshot__pod_names(struct pm_pod_snap *p, struct pm_pod_names *n)
{
	int i;

	snapshot__names_put(p->names);
	p->names = n;
	p->namespace_ = n ? n->namespace_ : "";
	p->name = n ? n->name : "";
	p->owner_kind = n ? n->owner_kind : "";
	p->owner_name = n ? n->owner_name : "";
	p->node = n ? n->node : "";
	for (i = 0; i < PM_POD_LABELS; i++)
		p->labels[i] = n ? n->labels[i] : "";
}

/* The pods array of the last snapshot freed, for the next: a snapshot a tick. */
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pm_spare spare;

static struct pm_pod_snap *pods_new(size_t n, size_t *cap)
{
	struct pm_pod_snap *p;

	pthread_mutex_lock(&spare_lock);
	p = spare__take(&spare, n, cap);
	pthread_mutex_unlock(&spare_lock);
	if (p) {
		memset(p, 0, n * sizeof(*p));
		return p;
	}
	*cap = n;
	return calloc(n, sizeof(*p));
}

static void pods_free(struct pm_pod_snap *p, size_t cap)
{
	pthread_mutex_lock(&spare_lock);
	p = spare__give(&spare, p, cap);
	pthread_mutex_unlock(&spare_lock);
	free(p);
}

struct pm_snapshot *snapshot__new(size_t n_pods)
{
	struct pm_snapshot *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (n_pods) {
		s->pods = pods_new(n_pods, &s->pods_cap);
		if (!s->pods) {
			free(s);
			return NULL;
		}
	}
	s->n_pods = n_pods;
	for (size_t i = 0; i < n_pods; i++) {
		s->pods[i].gpu_utilization = -1;
		snapshot__pod_names(&s->pods[i], NULL);
	}
	s->node_memory_overhead_bytes = -1;
	s->refcnt = 1;
	return s;
}

struct pm_snapshot *snapshot__get(struct pm_snapshot *s)
{
	if (s)
		__atomic_add_fetch(&s->refcnt, 1, __ATOMIC_RELAXED);
	return s;
}

static void snapshot_free(struct pm_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->n_pods; i++) {
		if (!s->ctr_pool)
			free(s->pods[i].containers);
		free(s->pods[i].gpu_ops);
		free(s->pods[i].findings);
		free(s->pods[i].zombie_list);
		snapshot__names_put(s->pods[i].names);
	}
	pods_free(s->pods, s->pods_cap);
	free(s->ctr_pool);
	free(s->overhead);
	free(s);
}

void snapshot__put(struct pm_snapshot *s)
{
	/* acq_rel: the last holder must see every write made before the others' puts */
	if (s && __atomic_sub_fetch(&s->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		snapshot_free(s);
}

const struct pm_pod_snap *snapshot__pod(const struct pm_snapshot *s, const char *uid)
{
	size_t lo = 0, hi = s ? s->n_pods : 0, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(s->pods[mid].uid, uid);
		if (!c)
			return &s->pods[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct pm_pod_snap *snapshot__pod_next(const struct pm_snapshot *s, const char *uid,
					     size_t *at)
{
	const struct pm_pod_snap *p;

	if (s && *at < s->n_pods && !strcmp(s->pods[*at].uid, uid))
		p = &s->pods[*at];
	else
		p = snapshot__pod(s, uid);
	if (p)
		*at = (size_t)(p - s->pods) + 1;
	return p;
}

const struct pm_container_snap *snapshot__container(const struct pm_pod_snap *p, const char *id)
{
	size_t i;

	for (i = 0; p && i < p->n_containers; i++)
		if (!strcmp(p->containers[i].id, id))
			return &p->containers[i];
	return NULL;
}

uint64_t snapshot__gpu_calls(const struct pm_pod_snap *p, uint64_t *ns)
{
	uint64_t calls = 0, t = 0;
	size_t i;

	for (i = 0; p && i < p->n_gpu_ops; i++) {
		calls += p->gpu_ops[i].calls;
		t += p->gpu_ops[i].ns;
	}
	if (ns)
		*ns = t;
	return calls;
}

static int oh_cmp_key(int ka, const char *na, int kb, const char *nb)
{
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return strcmp(na, nb);
}

const struct pm_overhead_snap *snapshot__overhead(const struct pm_snapshot *s, int kind,
						  const char *name)
{
	size_t lo = 0, hi = s ? s->n_overhead : 0, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = oh_cmp_key(s->overhead[mid].kind, s->overhead[mid].name, kind, name);
		if (!c)
			return &s->overhead[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Costliest first; before any cost, by CPU, then memory; then by name: a stable order. */
static int oh_cmp_rank(const void *x, const void *y)
{
	const struct pm_overhead_snap *a = *(const struct pm_overhead_snap *const *)x;
	const struct pm_overhead_snap *b = *(const struct pm_overhead_snap *const *)y;
	double ca = a->cost_dollars[0] + a->cost_dollars[1];
	double cb = b->cost_dollars[0] + b->cost_dollars[1];

	if (ca != cb)
		return ca > cb ? -1 : 1;
	if (a->cpu_ns != b->cpu_ns)
		return a->cpu_ns > b->cpu_ns ? -1 : 1;
	if (a->memory_bytes != b->memory_bytes)
		return a->memory_bytes > b->memory_bytes ? -1 : 1;
	return oh_cmp_key(a->kind, a->name, b->kind, b->name);
}

static double oh_rest(double total, double shown)
{
	return total > shown ? total - shown : 0;
}

long snapshot__overhead_rows(const struct pm_snapshot *s, struct pm_overhead_snap **rows)
{
	const struct pm_overhead_snap **rank;
	struct pm_overhead_snap *out, *other;
	size_t top = s->overhead_top > 0 ? (size_t)s->overhead_top : 0, i, n = 0;
	uint64_t cpu = 0;
	long long mem = 0;
	double cost[PM_RES_GPU] = { 0 };
	int r;

	if (top > s->n_overhead)
		top = s->n_overhead;
	rank = calloc(s->n_overhead ? s->n_overhead : 1, sizeof(*rank));
	out = calloc(top + 1, sizeof(*out));
	if (!rank || !out) {
		free(rank);
		free(out);
		return -ENOMEM;
	}
	for (i = 0; i < s->n_overhead; i++)
		rank[i] = &s->overhead[i];
	qsort(rank, s->n_overhead, sizeof(*rank), oh_cmp_rank);
	other = &out[top];
	memcpy(other->net_bytes, s->overhead_gone_net, sizeof(other->net_bytes));
	for (i = 0; i < s->n_overhead; i++) {
		if (n < top && rank[i]->kind != PM_OH_OTHER) {
			out[n] = *rank[i];
			cpu += out[n].cpu_ns;
			if (out[n].memory_bytes > 0)
				mem += out[n].memory_bytes;
			for (r = 0; r < PM_RES_GPU; r++)
				cost[r] += out[n].cost_dollars[r];
			n++;
			continue;
		}
		other->net_bytes[0] += rank[i]->net_bytes[0];
		other->net_bytes[1] += rank[i]->net_bytes[1];
	}
	free(rank);
	other = &out[n];
	if (n < top) {
		/* fewer shown than room: "other" moves up, its network kept */
		memcpy(other->net_bytes, out[top].net_bytes, sizeof(other->net_bytes));
		memset(&out[top], 0, sizeof(out[top]));
	}
	snprintf(other->name, sizeof(other->name), "other");
	other->kind = PM_OH_OTHER;
	other->cpu_ns = s->node_cpu_overhead_ns > cpu ? s->node_cpu_overhead_ns - cpu : 0;
	other->cpu_seconds = other->cpu_ns / 1e9;
	other->memory_bytes = s->node_memory_overhead_bytes < 0 ? -1
			      : s->node_memory_overhead_bytes > mem
				      ? s->node_memory_overhead_bytes - mem
				      : 0;
	for (r = 0; r < PM_RES_GPU; r++)
		other->cost_dollars[r] = oh_rest(s->node_overhead_cost_dollars[r], cost[r]);
	*rows = out;
	return (long)n + 1;
}
