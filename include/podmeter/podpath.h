/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup path -> pod identity, for the systemd and cgroupfs kubelet drivers. */
#ifndef PODMETER_PODPATH_H
#define PODMETER_PODPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <podmeter/names.h> /* PM_UID_LEN, PM_CID_MAX, enum pm_qos, enum pm_runtime */

#define PM_UID_HASH_LEN 32 /* static (manifest) pods: 32 hex, no dashes */

struct pm_pod_ident {
	char uid[PM_UID_LEN + 1];	   /* dashed, lower-case; or 32 hex (static pod) */
	char container_id[PM_CID_MAX + 1]; /* "" when runtime == PM_RT_NONE */
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

#endif /* PODMETER_PODPATH_H */
