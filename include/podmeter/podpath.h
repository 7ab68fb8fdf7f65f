/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup path -> pod identity, for the systemd and cgroupfs kubelet drivers. */
#ifndef PODMETER_PODPATH_H
#define PODMETER_PODPATH_H

#include <stdbool.h>
#include <stddef.h>

#define PM_UID_LEN	36	/* 8-4-4-4-12 hex, dashed */
#define PM_UID_HASH_LEN	32	/* static (manifest) pods: 32 hex, no dashes */
#define PM_CID_MAX	64	/* container ids: hex, up to 64 */

enum pm_qos {
	PM_QOS_UNKNOWN = 0,
	PM_QOS_GUARANTEED,
	PM_QOS_BURSTABLE,
	PM_QOS_BESTEFFORT,
};

enum pm_runtime {
	PM_RT_NONE = 0,		/* no container in the path (the pod cgroup itself) */
	PM_RT_CONTAINERD,	/* cri-containerd-<id>.scope, or a bare <id> (cgroupfs) */
	PM_RT_CRIO,		/* crio-<id>.scope / crio-<id> */
	PM_RT_CRIO_CONMON,	/* crio-conmon-<id>.scope: the runtime's monitor, pod overhead */
	PM_RT_DOCKER,		/* docker-<id>.scope */
};

struct pm_pod_ident {
	char uid[PM_UID_LEN + 1];		/* dashed, lower-case; or 32 hex (static pod) */
	char container_id[PM_CID_MAX + 1];	/* "" when runtime == PM_RT_NONE */
	enum pm_qos qos;
	enum pm_runtime runtime;
};

/*
 * Parse a cgroup path, relative to the hierarchy root or absolute ("/" is
 * ignored at either end). Returns 0 and fills @id when the path is a pod
 * cgroup or lies inside one; -ENOENT when it is not under any pod (node
 * overhead); -EINVAL when it looks like a pod cgroup but a part is malformed
 * (bad uid, bad container id, "..", a component too long, control bytes).
 * Components deeper than 64 levels are checked but never taken for a pod.
 * Deeper levels below a container (a container's own sub-cgroups) belong to
 * that container.
 */
int podpath__parse(const char *path, struct pm_pod_ident *id);

const char *podpath__qos_str(enum pm_qos qos);		/* "guaranteed", ... "" */
const char *podpath__runtime_str(enum pm_runtime rt);	/* "containerd", ... "" */

#endif /* PODMETER_PODPATH_H */
