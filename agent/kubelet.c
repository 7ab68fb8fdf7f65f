// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kubelet's PodList, parsed with jansson into what podmeter labels by. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <podmeter/kubelet.h>
#include <podmeter/quantity.h>

static const char *str_at(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Copy a string field; false when present but not a string or too long. */
static bool copy_str(json_t *obj, const char *key, char *dst, size_t len, bool required)
{
	json_t *v = json_object_get(obj, key);

	dst[0] = '\0';
	if (!v)
		return !required;
	if (!json_is_string(v) || json_string_length(v) >= len)
		return false;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static enum pm_qos qos_of(const char *s)
{
	if (!s)
		return PM_QOS_UNKNOWN;
	if (!strcmp(s, "Guaranteed"))
		return PM_QOS_GUARANTEED;
	if (!strcmp(s, "Burstable"))
		return PM_QOS_BURSTABLE;
	if (!strcmp(s, "BestEffort"))
		return PM_QOS_BESTEFFORT;
	return PM_QOS_UNKNOWN;
}

/*
 * A quantity, in thousandths or units, clamped to @max: false when it does
 * not parse or is negative. Too large for an int64 is clamped too.
 */
static bool quantity_at(json_t *obj, const char *key, bool milli, int64_t max, int64_t *out)
{
	const char *s = str_at(obj, key);
	struct pm_quantity q;
	int ret;

	if (!s)
		return true;
	if (quantity__parse(s, &q) || q.mantissa < 0)
		return false;
	ret = milli ? quantity__milli(&q, out) : quantity__units(&q, out);
	if (ret == -ERANGE || (!ret && *out > max))
		*out = max;
	return ret == 0 || ret == -ERANGE;
}

/* requests/limits: cpu in millicores, memory in bytes, GPUs by count. */
static bool parse_resources(json_t *obj, struct pm_resources *r)
{
	int64_t nvidia = 0, amd = 0;

	r->cpu_milli = r->memory_bytes = -1;
	r->gpus = 0;
	if (!obj)
		return true;
	if (!json_is_object(obj))
		return false;
	if (!quantity_at(obj, "cpu", true, PM_CPU_MILLI_MAX, &r->cpu_milli) ||
	    !quantity_at(obj, "memory", false, PM_MEMORY_BYTES_MAX, &r->memory_bytes) ||
	    !quantity_at(obj, "nvidia.com/gpu", false, PM_GPUS_MAX, &nvidia) ||
	    !quantity_at(obj, "amd.com/gpu", false, PM_GPUS_MAX, &amd))
		return false;
	r->gpus = nvidia + amd > PM_GPUS_MAX ? PM_GPUS_MAX : nvidia + amd;
	return true;
}

/* "containerd://<hex>", "cri-o://<hex>", "docker://<hex>" -> "<hex>" */
static void container_id(const char *s, char *dst, size_t len)
{
	const char *p = s ? strstr(s, "://") : NULL;

	snprintf(dst, len, "%s", p ? p + 3 : "");
}

/* containerStatuses by container name, the last of a name winning: one lookup per container. */
static json_t *statuses_by_name(json_t *status)
{
	json_t *statuses = json_object_get(status, "containerStatuses"), *st;
	json_t *idx = json_object();
	const char *n;
	size_t k;

	json_array_foreach(statuses, k, st) {
		n = str_at(st, "name");
		if (idx && n && json_object_set(idx, n, st)) {
			json_decref(idx);
			idx = NULL;
		}
	}
	return idx;
}

static bool parse_containers(json_t *spec, json_t *status, struct pm_pod_meta *m)
{
	json_t *ctrs = json_object_get(spec, "containers"), *c, *st, *statuses;
	bool ok = true;
	size_t i;

	if (!json_is_array(ctrs) || json_array_size(ctrs) > PM_POD_MAX_CONTAINERS)
		return false;
	m->containers = calloc(json_array_size(ctrs) + 1, sizeof(*m->containers));
	statuses = statuses_by_name(status);
	if (!m->containers || !statuses) {
		json_decref(statuses);
		return false;
	}
	json_array_foreach(ctrs, i, c) {
		struct pm_container_meta *cm = &m->containers[m->n_containers++];
		json_t *res = json_object_get(c, "resources");

		if (!copy_str(c, "name", cm->name, sizeof(cm->name), true) ||
		    !parse_resources(json_object_get(res, "requests"), &cm->requests) ||
		    !parse_resources(json_object_get(res, "limits"), &cm->limits)) {
			ok = false;
			break;
		}
		st = json_object_get(statuses, cm->name);
		if (st)
			container_id(str_at(st, "containerID"), cm->id, sizeof(cm->id));
	}
	json_decref(statuses);
	return ok;
}

/*
 * The controlling owner; a ReplicaSet named "<deployment>-<pod-template-hash>"
 * is reported as its Deployment.
 */
static void parse_owner(json_t *meta, struct pm_pod_meta *m)
{
	json_t *refs = json_object_get(meta, "ownerReferences"), *r;
	const char *hash = str_at(json_object_get(meta, "labels"), "pod-template-hash");
	size_t i, n;

	json_array_foreach(refs, i, r) {
		if (!json_is_true(json_object_get(r, "controller")))
			continue;
		if (!copy_str(r, "kind", m->owner_kind, sizeof(m->owner_kind), true) ||
		    !copy_str(r, "name", m->owner_name, sizeof(m->owner_name), true)) {
			m->owner_kind[0] = m->owner_name[0] = '\0';
			return;
		}
		n = strlen(m->owner_name);
		if (!strcmp(m->owner_kind, "ReplicaSet") && hash && n > strlen(hash) + 1 &&
		    !strcmp(m->owner_name + n - strlen(hash), hash) &&
		    m->owner_name[n - strlen(hash) - 1] == '-') {
			m->owner_name[n - strlen(hash) - 1] = '\0';
			strcpy(m->owner_kind, "Deployment");
		}
		return;
	}
}

static bool parse_pod(json_t *item, struct pm_pod_meta *m)
{
	json_t *meta = json_object_get(item, "metadata"), *spec = json_object_get(item, "spec");
	json_t *status = json_object_get(item, "status");
	char uid[PM_UID_LEN + 8];

	memset(m, 0, sizeof(*m));
	if (!json_is_object(meta) || !json_is_object(spec))
		return false;
	if (!copy_str(meta, "uid", uid, sizeof(uid), true) || strlen(uid) > PM_UID_LEN ||
	    !copy_str(meta, "namespace", m->namespace_, sizeof(m->namespace_), true) ||
	    !copy_str(meta, "name", m->name, sizeof(m->name), true) ||
	    !copy_str(spec, "nodeName", m->node, sizeof(m->node), false) ||
	    !copy_str(status, "phase", m->phase, sizeof(m->phase), false))
		return false;
	strcpy(m->uid, uid);
	m->qos = qos_of(str_at(status, "qosClass"));
	parse_owner(meta, m);
	return parse_containers(spec, status, m);
}

/* Twice the room, or NULL (freeing the @n pods kept) when memory runs out. */
static struct pm_pod_meta *grow_pods(struct pm_pod_meta *pods, size_t n, size_t *cap)
{
	struct pm_pod_meta *grown = reallocarray(pods, *cap * 2, sizeof(*pods));

	if (!grown) {
		kubelet__free_pods(pods, n);
		return NULL;
	}
	*cap *= 2;
	return grown;
}

int kubelet__parse_pods(const char *json, size_t len, struct pm_pod_meta **out, size_t *n,
			size_t *skipped, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *items, *item;
	struct pm_pod_meta *pods;
	size_t i, cap = 16;

	*out = NULL;
	*n = *skipped = 0;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "not JSON: line %d: %s", jerr.line, jerr.text);
		return -EINVAL;
	}
	items = json_object_get(root, "items");
	if (!json_is_array(items) || (str_at(root, "kind") && strcmp(str_at(root, "kind"), "PodList"))) {
		snprintf(err, errlen, "not a PodList (no \"items\" array)");
		json_decref(root);
		return -EINVAL;
	}
	/* grown as pods are kept: an item of two bytes ("{}") must not cost a pod's kilobyte */
	pods = calloc(cap, sizeof(*pods));
	json_array_foreach(items, i, item) {
		if (pods && *n == cap)
			pods = grow_pods(pods, *n, &cap);
		if (!pods)
			break;
		if (parse_pod(item, &pods[*n])) {
			(*n)++;
		} else {
			free(pods[*n].containers);
			(*skipped)++;
		}
	}
	json_decref(root);
	if (!pods) {
		*n = *skipped = 0;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = pods;
	return 0;
}

void kubelet__free_pods(struct pm_pod_meta *pods, size_t n)
{
	size_t i;

	for (i = 0; pods && i < n; i++)
		free(pods[i].containers);
	free(pods);
}
