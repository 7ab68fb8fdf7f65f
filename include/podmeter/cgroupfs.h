/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Where the cgroup hierarchies are: from mountinfo, or under --cgroup-root. */
#ifndef PODMETER_CGROUPFS_H
#define PODMETER_CGROUPFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_CG_MAX_V1 16

struct pm_cg_v1 {
	char path[PATH_MAX];
	char options[256]; /* controllers, comma-separated ("cpu,cpuacct", "name=systemd") */
};

struct pm_cgroupfs {
	char v2[PATH_MAX];	   /* "" when there is no v2 mount */
	char v1_cpuacct[PATH_MAX]; /* "" when no v1 hierarchy carries cpuacct */
	struct pm_cg_v1 v1[PM_CG_MAX_V1];
	int n_v1;
};

/*
 * Parse a mountinfo file (e.g. <proc_root>/self/mountinfo). Fills @fs with the
 * cgroup2 mount and the v1 hierarchies. Returns 0 or a negative errno.
 */
int cgroupfs__from_mountinfo(struct pm_cgroupfs *fs, const char *mountinfo_path);

/*
 * Lay out @fs from a given root: a pure v2 root (has cgroup.controllers), or a
 * hybrid/v1 root holding unified/ and per-controller directories.
 */
int cgroupfs__from_root(struct pm_cgroupfs *fs, const char *root);

/* True when @dir (relative to @root) exists and is a directory. */
bool cgroupfs__has_dir(const char *root, const char *dir);

/*
 * The hierarchy carrying controller @ctl ("cpu", "memory"): v2 when its
 * cgroup.controllers lists it (*@v2 true), else the v1 mount whose options
 * name it. 0, or -ENOENT when no hierarchy has it (@out "").
 */
int cgroupfs__controller_root(const struct pm_cgroupfs *fs, const char *ctl, char *out, size_t len,
			      bool *v2);

/*
 * CPU throttling of a cgroup from its cpu.stat (@path): nr_throttled and
 * the time throttled in µs (v2 throttled_usec, v1 throttled_time in ns).
 * 0, or a negative errno when the file cannot be read or has neither.
 */
int cgroupfs__cpu_throttling(const char *path, uint64_t *periods, uint64_t *usec);
/*
 * Whether the cgroup at @dir has a CFS quota of its own (v2 cpu.max other
 * than "max", v1 cpu.cfs_quota_us other than -1): 1 or 0, or a negative
 * errno when neither file can be read or makes sense.
 */
int cgroupfs__cpu_quota_set(const char *dir);

#endif /* PODMETER_CGROUPFS_H */
