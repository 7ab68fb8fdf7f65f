/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel-version differences, one place, each naming the change. */
#ifndef PODMETER_CORE_FIXES_BPF_H
#define PODMETER_CORE_FIXES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>

/*
 * Linux 5.14 renamed task_struct::state to __state (commit 2f064a59a11f
 * "sched: Change task_struct::state").
 */
struct task_struct___o {
	volatile long int state;
} __attribute__((preserve_access_index));

static __always_inline __s64 get_task_state(void *task)
{
	struct task_struct___o *t = task;

	if (bpf_core_field_exists(t->state))
		return BPF_CORE_READ(t, state);
	return BPF_CORE_READ((struct task_struct *)task, __state);
}

/*
 * The cpuacct controller may be compiled out (CONFIG_CGROUP_CPUACCT=n):
 * then its enum value does not exist and there is no v1 cpuacct id.
 */
static __always_inline __u64 get_task_cpuacct_cgid(struct task_struct *task)
{
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, cpuacct_cgrp_id))
		return 0;
	int id = bpf_core_enum_value(enum cgroup_subsys_id, cpuacct_cgrp_id);

	return BPF_CORE_READ(task, cgroups, subsys[id], cgroup, kn, id);
}

static __always_inline __u64 get_task_dfl_cgid(struct task_struct *task)
{
	return BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
}

#endif /* PODMETER_CORE_FIXES_BPF_H */
