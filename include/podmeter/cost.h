/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Cost with OpenCost's semantics: a container's allocated amount is
 * max(request, usage) each tick, cost = amount x hours x hourly price, GPUs
 * are priced by request, network by egress bytes per peer class; node idle =
 * node price - allocated cost. Pure arithmetic on snapshots: no I/O.
 */
#ifndef PODMETER_COST_H
#define PODMETER_COST_H

#include <podmeter/net.h>
#include <podmeter/snapshot.h>

/*
 * OpenCost's default prices (its cost-model "default.json"), used when the
 * config sets none: per core-hour, GiB-hour, GPU-hour; egress per GiB.
 */
#define PM_PRICE_CPU_CORE_HOUR	     0.031611
#define PM_PRICE_MEMORY_GIB_HOUR     0.004237
#define PM_PRICE_GPU_HOUR	     0.95
#define PM_PRICE_EGRESS_LOCAL	     0.0
#define PM_PRICE_EGRESS_IN_ZONE	     0.0
#define PM_PRICE_EGRESS_CROSS_ZONE   0.01
#define PM_PRICE_EGRESS_CROSS_REGION 0.01
#define PM_PRICE_EGRESS_INTERNET     0.12

#define PM_GIB 1073741824.0

struct pm_prices {
	double cpu_core_hour;
	double memory_gib_hour;
	double gpu_hour;
	double egress_gib[PM_NET_CLASSES];
};

/* What the node has, priced whether used or not. */
struct pm_node_capacity {
	double cpu_cores;
	double memory_bytes;
	double gpus;
};

void cost__default_prices(struct pm_prices *p);

/*
 * OpenCost specification, Appendix A: a node's hourly price split into CPU,
 * RAM and GPU prices that keep the ratios of @base and sum to @node_hour over
 * the node's @cap. Egress prices are copied from @base. -EINVAL when the
 * node has nothing to price (no capacity, or all base prices zero).
 */
int cost__split_node_price(double node_hour, const struct pm_node_capacity *cap,
			   const struct pm_prices *base, struct pm_prices *out);

/*
 * max(request, usage); a request < 0 (none set) allocates the usage. Usage
 * below zero counts as zero.
 */
double cost__allocated(double request, double usage);

/*
 * Advance @s's cost totals (pods' cost[] and waste[], node idle and
 * overhead) from @base, the last tick's snapshot: totals carried from @base
 * plus the interval between them, priced by @p. Pods are matched by uid and
 * containers by id; a pod or container not in @base starts from zero.
 * With @base NULL, totals start at zero.
 */
void cost__advance(const struct pm_prices *p, const struct pm_node_capacity *cap,
		   const struct pm_snapshot *base, struct pm_snapshot *s);

/* Keep every total of @s at least @prev's: counters never step back. */
void cost__keep_monotonic(const struct pm_snapshot *prev, struct pm_snapshot *s);

#endif /* PODMETER_COST_H */
