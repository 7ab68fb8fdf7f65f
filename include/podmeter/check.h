/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef PODMETER_CHECK_H
#define PODMETER_CHECK_H

#include <stdio.h>
#include <podmeter/config.h>

/*
 * `podmeter check`: probe what this node offers, print one line per feature
 * to @out. Returns 0 when the agent can run here, 1 when it cannot (the
 * reason is printed last).
 */
int check__run(const struct pm_config *cfg, FILE *out);

#endif /* PODMETER_CHECK_H */
