/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* agent/esc.c: strings from tenants, made safe for one log line. */
#ifndef PODMETER_ESC_H
#define PODMETER_ESC_H

#include <stddef.h>

#define PM_ESC_SHOWN 160		    /* bytes of the source shown at most */
#define PM_ESC_BUF   (PM_ESC_SHOWN * 4 + 8) /* room for all of them escaped, and "..." */

/*
 * @src (a comm, a cgroup or file name, a pod name: anything a tenant
 * chooses) as log-safe text in @dst: bytes below 0x20, 0x7f and above,
 * backslash and double quote become \xNN or \\ and \", and a source longer
 * than PM_ESC_SHOWN is cut and ends in "...". NULL is shown as "(null)".
 * Returns @dst, so it can be an argument of the log call.
 */
const char *esc__str(char *dst, size_t len, const char *src);

#endif /* PODMETER_ESC_H */
