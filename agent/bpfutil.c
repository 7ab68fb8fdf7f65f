// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Small things every signal's loader needs. */
#include <errno.h>
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
