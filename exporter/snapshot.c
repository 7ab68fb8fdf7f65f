// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reference-counted snapshots: the collector publishes, HTTP responses hold. */
#include <stdlib.h>
#include <podmeter/snapshot.h>

struct pm_snapshot *snapshot__new(size_t n_pods)
{
	struct pm_snapshot *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (n_pods) {
		s->pods = calloc(n_pods, sizeof(*s->pods));
		if (!s->pods) {
			free(s);
			return NULL;
		}
	}
	s->n_pods = n_pods;
	for (size_t i = 0; i < n_pods; i++)
		s->pods[i].gpu_utilization = -1;
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
		free(s->pods[i].containers);
		free(s->pods[i].gpu_ops);
		free(s->pods[i].findings);
	}
	free(s->pods);
	free(s);
}

void snapshot__put(struct pm_snapshot *s)
{
	/* acq_rel: the last holder must see every write made before the others' puts */
	if (s && __atomic_sub_fetch(&s->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		snapshot_free(s);
}
