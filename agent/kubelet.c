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

/* requests/limits: cpu in millicores, memory in bytes, GPUs by count. */
static bool parse_resources(json_t *obj, struct pm_resources *r)
{
	static const char *const gpu_keys[] = { "nvidia.com/gpu", "amd.com/gpu" };
	struct pm_quantity q;
	const char *s;
	int64_t v;
	size_t i;

	r->cpu_milli = r->memory_bytes = -1;
	r->gpus = 0;
	if (!obj)
		return true;
	if (!json_is_object(obj))
		return false;
	s = str_at(obj, "cpu");
	if (s && (quantity__parse(s, &q) || quantity__milli(&q, &r->cpu_milli)))
		return false;
	s = str_at(obj, "memory");
	if (s && (quantity__parse(s, &q) || quantity__units(&q, &r->memory_bytes)))
		return false;
	for (i = 0; i < sizeof(gpu_keys) / sizeof(gpu_keys[0]); i++) {
		s = str_at(obj, gpu_keys[i]);
		if (!s)
			continue;
		if (quantity__parse(s, &q) || quantity__units(&q, &v))
			return false;
		r->gpus += v;
	}
	return true;
}

/* "containerd://<hex>", "cri-o://<hex>", "docker://<hex>" -> "<hex>" */
static void container_id(const char *s, char *dst, size_t len)
{
	const char *p = s ? strstr(s, "://") : NULL;

	snprintf(dst, len, "%s", p ? p + 3 : "");
}

static bool parse_containers(json_t *spec, json_t *status, struct pm_pod_meta *m)
{
	json_t *ctrs = json_object_get(spec, "containers"), *c, *st;
	json_t *statuses = json_object_get(status, "containerStatuses");
	size_t i, k;

	if (!json_is_array(ctrs))
		return false;
	m->containers = calloc(json_array_size(ctrs) + 1, sizeof(*m->containers));
	if (!m->containers)
		return false;
	json_array_foreach(ctrs, i, c) {
		struct pm_container_meta *cm = &m->containers[m->n_containers++];
		json_t *res = json_object_get(c, "resources");

		if (!copy_str(c, "name", cm->name, sizeof(cm->name), true) ||
		    !parse_resources(json_object_get(res, "requests"), &cm->requests) ||
		    !parse_resources(json_object_get(res, "limits"), &cm->limits))
			return false;
		json_array_foreach(statuses, k, st) {
			const char *n = str_at(st, "name");

			if (n && !strcmp(n, cm->name))
				container_id(str_at(st, "containerID"), cm->id, sizeof(cm->id));
		}
	}
	return true;
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

/* Labels that fit; a longer key or value is not one a report could name. */
static bool parse_labels(json_t *meta, struct pm_pod_meta *m)
{
	json_t *labels = json_object_get(meta, "labels"), *v;
	const char *key;

	if (!json_is_object(labels))
		return true;
	m->labels = calloc(json_object_size(labels) < PM_META_LABELS_MAX ?
				   json_object_size(labels) + 1 : PM_META_LABELS_MAX,
			   sizeof(*m->labels));
	if (!m->labels)
		return false;
	json_object_foreach(labels, key, v) {
		struct pm_label_meta *l = &m->labels[m->n_labels];

		if (m->n_labels == PM_META_LABELS_MAX)
			break;
		if (!json_is_string(v) || strlen(key) > PM_LABEL_KEY_MAX ||
		    json_string_length(v) > PM_LABEL_VALUE_MAX)
			continue;
		strcpy(l->key, key);
		strcpy(l->value, json_string_value(v));
		m->n_labels++;
	}
	return true;
}

const char *kubelet__label(const struct pm_pod_meta *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n_labels; i++)
		if (!strcmp(m->labels[i].key, key))
			return m->labels[i].value;
	return NULL;
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
	return parse_labels(meta, m) && parse_containers(spec, status, m);
}

int kubelet__parse_pods(const char *json, size_t len, struct pm_pod_meta **out, size_t *n,
			size_t *skipped, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *items, *item;
	struct pm_pod_meta *pods;
	size_t i;

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
	pods = calloc(json_array_size(items) + 1, sizeof(*pods));
	if (!pods) {
		json_decref(root);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	json_array_foreach(items, i, item) {
		if (parse_pod(item, &pods[*n])) {
			(*n)++;
		} else {
			free(pods[*n].containers);
			free(pods[*n].labels);
			(*skipped)++;
		}
	}
	json_decref(root);
	*out = pods;
	return 0;
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
