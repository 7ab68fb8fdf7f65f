/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* agent/signal/pin.c: BPF programs, links and maps kept under bpffs across restarts. */
#ifndef PODMETER_PIN_H
#define PODMETER_PIN_H

#include <limits.h>
#include <stdbool.h>

/*
 * Bumped whenever a map's meaning changes without its sizes changing: a set
 * pinned with another number is replaced, not adopted.
 *   2: mm_state keyed by process; cgroups below a container counted in it;
 *      per-task tables sized from the node's task limit; refusals maps.
 */
#define PM_PIN_LAYOUT 2

struct bpf_object;
struct bpf_object_skeleton;
struct bpf_program;
struct bpf_link;

struct pm_pin {
	char dir[PATH_MAX / 2];	      /* <root>/<object>; "" = not pinning */
	const char *const *transient; /* maps of configuration: not pinned */
};

/* Where every object's set lives, for the process; "" (the start) = not pinning. */
void pin__set_root(const char *root);
/*
 * Before load: adopt the compatible set pinned for @obj under the root, or
 * remove an incompatible one. Maps named in @transient (NULL-terminated, or
 * NULL) hold configuration, not counts: never pinned, always made fresh.
 * Problems are logged and turn pinning off for @obj; returns 0 but for a
 * path too long.
 */
int pin__prepare(struct pm_pin *pin, struct bpf_object *obj, const char *const *transient);
/*
 * After load: attach each program of @s that loads (with @attach, or
 * bpf_program__attach for auto-attachable ones when NULL), taking over or
 * replacing its pinned link, and pin the new link.
 */
int pin__attach(struct pm_pin *pin, const struct bpf_object_skeleton *s,
		struct bpf_link *(*attach)(struct bpf_program *prog, void *ctx), void *ctx);
/* After attach: pin the maps not adopted, and the layout. */
int pin__commit(struct pm_pin *pin, struct bpf_object *obj);
/*
 * The steps a signal's start shares, once its skeleton is opened and
 * configured: prepare (@transient as above), load, attach every program
 * as libbpf would, commit. Returns 0, or the error of the step named in
 * @what ("pin", "load", "attach").
 */
int pin__load(struct pm_pin *pin, const struct bpf_object_skeleton *s, const char *const *transient,
	      const char **what);
/* Before destroying @s: pinned links stay attached when the agent exits. */
void pin__release(struct pm_pin *pin, const struct bpf_object_skeleton *s);
/* podmeter unpin: remove everything under @root (detaching pinned links). */
int pin__remove(const char *root);

#endif /* PODMETER_PIN_H */
