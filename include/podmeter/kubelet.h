/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the kubelet's /pods says of each pod: names, owner, requests, limits. */
#ifndef PODMETER_KUBELET_H
#define PODMETER_KUBELET_H

#include <stddef.h>
#include <stdint.h>
#include <podmeter/podpath.h>

/*
 * Tenants write these numbers. The API server refuses negative ones, and so
 * does the parser (the pod is skipped); larger ones than these are clamped
 * to them, so that sums over a pod's containers (at most
 * PM_POD_MAX_CONTAINERS) and products with prices stay far from overflow.
 */
#define PM_CPU_MILLI_MAX	(1LL << 40)	/* about 1.1e9 cores */
#define PM_MEMORY_BYTES_MAX	(1LL << 52)	/* 4 PiB */
#define PM_GPUS_MAX		(1LL << 20)
#define PM_POD_MAX_CONTAINERS	1024		/* more: the pod is skipped */

struct pm_resources {
	int64_t cpu_milli;	/* -1 = not set; else 0..PM_CPU_MILLI_MAX */
	int64_t memory_bytes;	/* -1 = not set; else 0..PM_MEMORY_BYTES_MAX */
	int64_t gpus;		/* nvidia.com/gpu + amd.com/gpu; 0 = none; at most PM_GPUS_MAX */
};

struct pm_container_meta {
	char name[254];
	char id[PM_CID_MAX + 1];	/* from containerStatuses, runtime prefix dropped */
	struct pm_resources requests, limits;
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
};

/*
 * Parse a PodList (the kubelet's GET /pods). Pods with a malformed field
 * (a negative quantity, more than PM_POD_MAX_CONTAINERS containers) are
 * skipped and counted in @skipped; a body that is not a PodList is an error.
 * Returns 0 with a malloc'ed array (free with kubelet__free_pods), or
 * -EINVAL with @err set.
 */
int kubelet__parse_pods(const char *json, size_t len, struct pm_pod_meta **out, size_t *n,
			size_t *skipped, char *err, size_t errlen);
void kubelet__free_pods(struct pm_pod_meta *pods, size_t n);

#endif /* PODMETER_KUBELET_H */
