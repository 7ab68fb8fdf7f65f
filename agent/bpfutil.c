// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Small things every signal's loader needs. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>

void bpfutil__sum_counters(struct bpf_map *map, __u32 n, __u64 *out)
{
	int fd = bpf_map__fd(map), ncpus = libbpf_num_possible_cpus(), c;
	__u64 *vals = ncpus > 0 ? calloc(ncpus, sizeof(*vals)) : NULL;
	__u32 i;

	for (i = 0; i < n; i++) {
		out[i] = 0;
		if (!vals || bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (c = 0; c < ncpus; c++)
			out[i] += vals[c];
	}
	free(vals);
}

bool bpfutil__kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma, mi;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

static __u32 read_sysctl(const char *path, __u32 fallback)
{
	unsigned long v;
	FILE *f = fopen(path, "re");
	int n;

	if (!f)
		return fallback;
	n = fscanf(f, "%lu", &v);
	fclose(f);
	return n == 1 && v > 0 && v <= UINT32_MAX ? (__u32)v : fallback;
}

__u32 bpfutil__task_limit(__u32 *pid_max, __u32 *threads_max)
{
	/* the kernel's own bounds: PID_MAX_LIMIT, and its default pid_max */
	__u32 p = read_sysctl("/proc/sys/kernel/pid_max", 4194304);
	__u32 t = read_sysctl("/proc/sys/kernel/threads-max", 4194304);

	if (pid_max)
		*pid_max = p;
	if (threads_max)
		*threads_max = t;
	return p < t ? p : t;
}

bool bpfutil__alloc_on_use(void)
{
	/* 6.1: run-time allocated hash maps in every tracing program (bpf_mem_alloc) */
	return bpfutil__kernel_at_least(6, 1);
}

void bpfutil__size_by_tasks(struct bpf_map *map, __u32 prealloc_max)
{
	__u32 n = bpfutil__task_limit(NULL, NULL);

	if (bpfutil__alloc_on_use()) {
		bpf_map__set_map_flags(map, bpf_map__map_flags(map) | BPF_F_NO_PREALLOC);
	} else if (n > prealloc_max) {
		n = prealloc_max;
	}
	bpf_map__set_max_entries(map, n);
}

int bpfutil__read_refusals(struct bpf_map *map, enum pm_hier hier, pm_refusal_fn fn, void *ctx)
{
	int fd = bpf_map__fd(map), ncpus = libbpf_num_possible_cpus(), c;
	struct pm_refusal_key key, next, *prev = NULL;
	__u64 *vals, n;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.hier != hier || key.table >= PM_TABLES ||
		    bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (n = 0, c = 0; c < ncpus; c++)
			n += vals[c];
		fn(ctx, key.cgid, key.table, n);
	}
	free(vals);
	return 0;
}

void bpfutil__remove_refusals(struct bpf_map *map, enum pm_hier hier, __u64 cgid)
{
	struct pm_refusal_key key = { .cgid = cgid, .hier = hier };

	for (key.table = 0; key.table < PM_TABLES; key.table++)
		bpf_map_delete_elem(bpf_map__fd(map), &key);
}
