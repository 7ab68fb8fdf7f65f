/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* agent/caps.c: the capabilities the agent needs, and dropping the rest. */
#ifndef PODMETER_CAPS_H
#define PODMETER_CAPS_H

#include <stdbool.h>
#include <stdio.h>

struct pm_cap_need {
	int cap;	  /* CAP_* number */
	const char *name; /* "CAP_BPF" */
	bool after_start; /* still needed once everything is attached */
	const char *why;
};

/* What `podmeter run` needs to start (kernels >= 5.8), NULL-name terminated. */
extern const struct pm_cap_need caps__needed[];

/* @cap (CAP_*) is in the calling thread's effective set. */
bool caps__held(int cap);
/* podmeter check --required-caps: one name a line. */
void caps__print_required(FILE *f);
/*
 * Capabilities belong to a thread: each call changes the calling thread
 * only, and threads it starts afterwards inherit the result.
 *
 * After loading and attaching: keep only the capabilities still needed
 * (permitted, effective; inheritable and ambient cleared; the bounding set
 * too when CAP_SETPCAP is held), and set no_new_privs; CAP_SYS_ADMIN too,
 * when held and @uprobes (a GPU node: CUDA uprobes for later processes).
 * Writes what is kept to @kept. Returns 0 or a negative errno.
 */
int caps__drop_after_start(char *kept, size_t len, bool uprobes);
/* Every capability of the calling thread, for threads that need none. */
int caps__drop_all(void);

#endif /* PODMETER_CAPS_H */
