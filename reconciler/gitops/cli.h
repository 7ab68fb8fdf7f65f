/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * podmeter-reconciler propose and explain, and the proposer that serve runs
 * on an interval (--propose-every): the same cycle (cycle.h), one writer at
 * a time (PostgreSQL's advisory lock; a file lock beside a SQLite store).
 */
#ifndef PODMETER_RECONCILER_CLI_H
#define PODMETER_RECONCILER_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "cycle.h"

struct rec_metrics;

struct proposer_opts {
	struct cycle_cfg cfg;
	double every; /* seconds; 0: serve proposes nothing */
	bool repo_given;
};

void proposer__defaults(struct proposer_opts *o);
/* One flag of the writing side and its value: 1 taken, 0 not this flag, -1 bad value. */
int proposer__opt(struct proposer_opts *o, const char *flag, const char *val);
/* The flags' help, for propose and serve. */
void proposer__usage(FILE *f);
int proposer__check(const struct proposer_opts *o, char *err, size_t errlen);

struct proposer;
/* Cycles every o->every seconds on a thread of their own, counted in @m. */
int proposer__start(struct proposer **out, const struct proposer_opts *o, const char *store_url,
		    struct rec_metrics *m);
void proposer__stop(struct proposer *p);

int propose__main(int argc, char **argv);
int explain__main(int argc, char **argv);

#endif /* PODMETER_RECONCILER_CLI_H */
