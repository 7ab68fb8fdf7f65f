// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reference-counted snapshots: the collector publishes, HTTP responses hold. */
#include <stdlib.h>
#include <string.h>
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

const char *snapshot__gpu_op_str(int op)
{
	static const char *const names[PM_GPU_OPS] = {
		[PM_GPU_OP_ALLOC] = "alloc", [PM_GPU_OP_FREE] = "free",   [PM_GPU_OP_CONTROL] = "control",
		[PM_GPU_OP_MAP] = "map",     [PM_GPU_OP_UNMAP] = "unmap", [PM_GPU_OP_OTHER] = "other",
	};

	return op >= 0 && op < PM_GPU_OPS ? names[op] : "other";
}

const char *snapshot__zombie_str(int kind)
{
	static const char *const names[PM_ZOMBIE_KINDS] = {
		[PM_ZOMBIE_PROCESS] = "process",
		[PM_ZOMBIE_WORKLOAD] = "workload",
		[PM_ZOMBIE_ORPHAN] = "orphan",
		[PM_ZOMBIE_GPU] = "gpu",
	};

	return kind >= 0 && kind < PM_ZOMBIE_KINDS ? names[kind] : "?";
}

const char *snapshot__cuda_refusal_str(int why)
{
	static const char *const names[PM_CUDA_REFUSE_MAX] = {
		[PM_CUDA_REFUSE_ESCAPE] = "escape",
		[PM_CUDA_REFUSE_NOT_REGULAR] = "not_regular",
		[PM_CUDA_REFUSE_OTHER_FILE] = "other_file",
		[PM_CUDA_REFUSE_TOO_BIG] = "too_big",
		[PM_CUDA_REFUSE_DENIED] = "denied",
		[PM_CUDA_REFUSE_BAD_ELF] = "bad_elf",
		[PM_CUDA_REFUSE_NO_SYMBOLS] = "no_symbols",
		[PM_CUDA_REFUSE_ATTACH] = "attach",
		[PM_CUDA_REFUSE_POD_SHARE] = "pod_share",
		[PM_CUDA_REFUSE_TABLE_FULL] = "table_full",
		[PM_CUDA_REFUSE_MAPS_LONG] = "maps_long",
	};

	return why >= 0 && why < PM_CUDA_REFUSE_MAX ? names[why] : NULL;
}
