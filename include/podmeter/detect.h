/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * On-node judgement of each pod, every collection: idle, zombie (by kind),
 * each with the evidence it rests on. Pure arithmetic on snapshots: no I/O.
 */
#ifndef PODMETER_DETECT_H
#define PODMETER_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <podmeter/snapshot.h>

struct pm_detect_cfg {
	double window_s;	      /* idle and zombie window (--idle-window, 1 h) */
	double idle_cpu_ratio;	      /* busy above this share of the CPU request (0.05) */
	double idle_cpu_cores;	      /* ... or above this without a request (0.01) */
	double idle_net_bytes_s;      /* busy above this traffic, both directions (1024) */
	double zombie_cpu_cores;      /* a workload zombie stays under this floor (0.005) */
	uint64_t zombie_memory_bytes; /* ... while holding at least this (16 MiB) */
	double rs_quantile;	      /* right-sizing: CPU quantile (0.95) */
	double rs_target;	      /* ... divided by this utilisation (0.7) */
	double rs_headroom;	      /* memory: peak x this (1.2) */
	double season_slot_s;	      /* CPU's seasonal baseline: 24 slots of this (1 h) */
	unsigned int learn_every;     /* a pod's models learn every this many periodic
				       * ticks, pods taking turns (1: every tick) */
};

void detect__defaults(struct pm_detect_cfg *cfg);

struct pm_detector;

struct pm_detector *detect__new(const struct pm_detect_cfg *cfg);
void detect__free(struct pm_detector *d);
void detect__set_cfg(struct pm_detector *d, const struct pm_detect_cfg *cfg);

/*
 * Judge @s's pods against what was seen so far (@s follows the snapshot of
 * the previous call): fills each pod's idle, zombie, anomaly, right-sizing
 * and findings fields. @kubelet_listed: the kubelet's pod list is known
 * (orphans can be told). The models learn from @periodic ticks only, one
 * sample each, so scrapes in between do not weigh; with cfg.learn_every
 * n > 1, a pod learns on one periodic tick in n (a sample of n ticks), each
 * pod on its own turn, so a tick learns for 1/n of the pods. 0 or -ENOMEM.
 */
int detect__tick(struct pm_detector *d, struct pm_snapshot *s, bool kubelet_listed, bool periodic);

/* What the detector keeps at most for a pod of @containers containers, in bytes. */
size_t detect__state_bytes(size_t containers);

#endif /* PODMETER_DETECT_H */
