/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the kubelet's /pods says of each pod: names, owner, requests, limits. */
#ifndef PODMETER_KUBELET_H
#define PODMETER_KUBELET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <podmeter/podpath.h>
#include <podmeter/snapshot.h>

/*
 * Bounds on what a PodList may make podmeter keep: pods past
 * PM_KUBELET_MAX_PODS, pods with more than PM_KUBELET_MAX_CONTAINERS
 * containers and pods past PM_KUBELET_MAX_ALL_CONTAINERS containers in all
 * are skipped (and counted). With the labels kept to those reports name
 * (kubelet__parser_labels), what a list leaves is at most about 27 MiB
 * (twice that while its arrays grow), however it is written. Annotations and
 * every other field podmeter does not read are passed over unstored.
 */
#define PM_KUBELET_MAX_PODS	      4096
#define PM_KUBELET_MAX_CONTAINERS     256
#define PM_KUBELET_MAX_ALL_CONTAINERS 32768

/*
 * Requests and limits are clamped to [0, PM_KUBELET_QTY_MAX] (2^53: exact in
 * a double, which prices them), and so are their sums over containers and GPU
 * vendors, so no arithmetic on a tenant's numbers can overflow.
 */
#define PM_KUBELET_QTY_MAX (1LL << 53)

struct pm_resources {
	int64_t cpu_milli;    /* -1 = not set */
	int64_t memory_bytes; /* -1 = not set */
	int64_t gpus;	      /* nvidia.com/gpu + amd.com/gpu; 0 = none */
};

struct pm_container_meta {
	char name[254];
	char id[PM_CID_MAX + 1]; /* from containerStatuses, runtime prefix dropped */
	struct pm_resources requests, limits;
};

#define PM_META_LABELS_MAX 64 /* labels kept per pod; the rest are not looked at */

struct pm_label_meta {
	char key[PM_LABEL_KEY_MAX + 1];
	char value[PM_LABEL_VALUE_MAX + 1];
};

struct pm_pod_meta {
	char uid[PM_UID_LEN + 1];
	char namespace_[64];
	char name[254];
	char node[254];
	char phase[16];
	enum pm_qos qos;
	char owner_kind[64]; /* controller; a ReplicaSet of a Deployment is the Deployment */
	char owner_name[254];
	size_t n_containers;
	struct pm_container_meta *containers;
	/* metadata.labels, the first PM_META_LABELS_MAX that fit (malloc'ed) */
	size_t n_labels;
	struct pm_label_meta *labels;
};

/* @a + @b for quantities in [0, PM_KUBELET_QTY_MAX], saturating at the maximum. */
static inline int64_t kubelet__qty_add(int64_t a, int64_t b)
{
	int64_t sum;

	if (__builtin_add_overflow(a, b, &sum) || sum > PM_KUBELET_QTY_MAX)
		return PM_KUBELET_QTY_MAX;
	return sum < 0 ? 0 : sum;
}

/* The value of label @key of @m, NULL when it has none. */
const char *kubelet__label(const struct pm_pod_meta *m, const char *key);

/*
 * A PodList parsed as it arrives, in pieces of any size: memory stays bounded
 * (the fields kept, plus the longest JSON token, at most 16 MiB) whatever the
 * size of the list. Pods with a malformed field are skipped and counted; a
 * body that is not a PodList is an error. Duplicate keys in the fields
 * podmeter reads make the pod malformed ("items" twice: not a PodList);
 * elsewhere they are passed over like everything else podmeter does not read.
 */
struct pm_kubelet_parser;

int kubelet__parser_new(struct pm_kubelet_parser **out);
/*
 * Keep only the labels named in @keys (at most PM_POD_LABELS; the strings
 * must outlive the parser). Without it, the first PM_META_LABELS_MAX labels
 * that fit are kept.
 */
void kubelet__parser_labels(struct pm_kubelet_parser *p, const char *const *keys, size_t n);
/* Returns 0, or -EINVAL / -E2BIG / -ENOMEM once the body is known bad. */
int kubelet__parser_feed(struct pm_kubelet_parser *p, const char *buf, size_t len);
/*
 * The end of the body. Returns 0 with a malloc'ed array (free with
 * kubelet__free_pods), or a negative errno with @err set.
 */
int kubelet__parser_finish(struct pm_kubelet_parser *p, struct pm_pod_meta **out, size_t *n,
			   size_t *skipped, char *err, size_t errlen);
void kubelet__parser_free(struct pm_kubelet_parser *p);

/*
 * Parse a whole PodList (the kubelet's GET /pods) held in a buffer: the
 * parser above, fed at once. Returns 0 with a malloc'ed array (free with
 * kubelet__free_pods), or -EINVAL (-ENOMEM, -E2BIG) with @err set.
 */
int kubelet__parse_pods(const char *json, size_t len, struct pm_pod_meta **out, size_t *n,
			size_t *skipped, char *err, size_t errlen);
void kubelet__free_pods(struct pm_pod_meta *pods, size_t n);

#endif /* PODMETER_KUBELET_H */
