// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One usage type: adding one to another is the only fold there is. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/usage.h>

static void add_gpu(struct pm_gpu_usage *to, const struct pm_gpu_usage *from)
{
	int d, o;

	for (d = 0; d < PM_GPU_MAX_DEVS; d++) {
		for (o = 0; o < PM_GPU_OPS; o++) {
			to->calls[d][o] += from->calls[d][o];
			to->ns[d][o] += from->ns[d][o];
		}
	}
}

int usage__add(struct pm_usage *to, const struct pm_usage *from)
{
	int d, k, t;

	to->oncpu_ns += from->oncpu_ns;
	to->runq_ns += from->runq_ns;
	to->throttled_periods += from->throttled_periods;
	to->throttled_usec += from->throttled_usec;
	to->faults += from->faults;
	to->oom_kills += from->oom_kills;
	for (d = 0; d < PM_NET_DIRS; d++) {
		for (k = 0; k < PM_NET_CLASSES; k++) {
			to->net_bytes[d][k] += from->net_bytes[d][k];
			to->net_packets[d][k] += from->net_packets[d][k];
		}
	}
	to->retransmits += from->retransmits;
	to->starts += from->starts;
	to->exits += from->exits;
	to->joins += from->joins;
	to->gpu_jobs += from->gpu_jobs;
	to->cuda.launches += from->cuda.launches;
	to->cuda.allocs += from->cuda.allocs;
	to->cuda.frees += from->cuda.frees;
	to->cuda.bytes_copied += from->cuda.bytes_copied;
	to->cuda.sync_calls += from->cuda.sync_calls;
	to->cuda.sync_ns += from->cuda.sync_ns;
	for (t = 0; t < PM_TABLES; t++)
		to->refused[t] += from->refused[t];
	if (!from->gpu)
		return 0;
	if (!to->gpu && !(to->gpu = calloc(1, sizeof(*to->gpu))))
		return -ENOMEM;
	add_gpu(to->gpu, from->gpu);
	return 0;
}

void usage__free(struct pm_usage *u)
{
	free(u->gpu);
	memset(u, 0, sizeof(*u));
}

void usage__net_dirs(const struct pm_usage *u, uint64_t out[2])
{
	int d, k;

	for (d = 0; d < 2; d++)
		for (out[d] = 0, k = 0; k < PM_NET_CLASSES; k++)
			out[d] += u->net_bytes[d][k];
}
