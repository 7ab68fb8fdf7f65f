/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the kubelet's /pods says of each pod: names, owner, requests, limits. */
#ifndef PODMETER_KUBELET_H
#define PODMETER_KUBELET_H

#include <stddef.h>
#include <stdint.h>
#include <podmeter/podpath.h>
#include <podmeter/snapshot.h>

struct pm_resources {
	int64_t cpu_milli;	/* -1 = not set */
	int64_t memory_bytes;	/* -1 = not set */
	int64_t gpus;		/* nvidia.com/gpu + amd.com/gpu; 0 = none */
};

struct pm_container_meta {
	char name[254];
	char id[PM_CID_MAX + 1];	/* from containerStatuses, runtime prefix dropped */
	struct pm_resources requests, limits;
};

#define PM_META_LABELS_MAX 64	/* labels kept per pod; the rest are not looked at */

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
	char owner_kind[64];	/* controller; a ReplicaSet of a Deployment is the Deployment */
	char owner_name[254];
	size_t n_containers;
	struct pm_container_meta *containers;
	/* metadata.labels, the first PM_META_LABELS_MAX that fit (malloc'ed) */
	size_t n_labels;
	struct pm_label_meta *labels;
};

/* The value of label @key of @m, NULL when it has none. */
const char *kubelet__label(const struct pm_pod_meta *m, const char *key);

/*
 * Parse a PodList (the kubelet's GET /pods). Pods with a malformed field are
 * skipped and counted in @skipped; a body that is not a PodList is an error.
 * Returns 0 with a malloc'ed array (free with kubelet__free_pods), or
 * -EINVAL with @err set.
 */
int kubelet__parse_pods(const char *json, size_t len, struct pm_pod_meta **out, size_t *n,
			size_t *skipped, char *err, size_t errlen);
void kubelet__free_pods(struct pm_pod_meta *pods, size_t n);

#endif /* PODMETER_KUBELET_H */
