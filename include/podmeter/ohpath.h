/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup path outside pods -> node overhead group (systemd unit, slice, container). */
#ifndef PODMETER_OHPATH_H
#define PODMETER_OHPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <podmeter/names.h> /* PM_OH_NAME_MAX, enum pm_oh_kind (names__oh_kind) */

#define PM_OH_SHORT_ID 12 /* a container id is shown by its first 12 hex digits */

struct pm_oh_group {
	enum pm_oh_kind kind;
	/* printable ASCII: bytes outside it, '\\' and '"' escaped as agent/esc.c does */
	char name[PM_OH_NAME_MAX + 1];
	/* bytes of the input that are the group's own cgroup ("" for the root) */
	size_t path_len;
	/* its cgroup's memory is its own: no other group's cgroup lies under it */
	bool own_memory;
};

/*
 * The group of the cgroup at @path (relative to the hierarchy's root; '/'
 * ignored at either end and between parts). Every path has one: 0 always.
 * The root is slice "/"; a cgroup under a unit or container belongs to it.
 */
int ohpath__parse(const char *path, struct pm_oh_group *g);

#endif /* PODMETER_OHPATH_H */
