// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kubelet's GET /pods body (agent/kubelet.c). */
#include <podmeter/kubelet.h>
#include "fuzz.h"

static void check_resources(const struct pm_resources *r)
{
	fuzz_assert(r->cpu_milli >= -1 && r->cpu_milli <= PM_CPU_MILLI_MAX);
	fuzz_assert(r->memory_bytes >= -1 && r->memory_bytes <= PM_MEMORY_BYTES_MAX);
	fuzz_assert(r->gpus >= 0 && r->gpus <= PM_GPUS_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_pod_meta *pods;
	size_t n, skipped, i, k;
	char err[256];

	if (kubelet__parse_pods((const char *)data, size, &pods, &n, &skipped, err, sizeof(err))) {
		fuzz_assert(!pods && !n && err[0]);
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct pm_pod_meta *m = &pods[i];

		fuzz_assert(strlen(m->uid) <= PM_UID_LEN && m->uid[0]);
		fuzz_assert(m->n_containers <= PM_POD_MAX_CONTAINERS);
		for (k = 0; k < m->n_containers; k++) {
			fuzz_assert(strlen(m->containers[k].id) <= PM_CID_MAX);
			check_resources(&m->containers[k].requests);
			check_resources(&m->containers[k].limits);
		}
	}
	kubelet__free_pods(pods, n);
	return 0;
}
