/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The reconciler's subcommands. */
#ifndef PODMETER_RECONCILER_SERVE_H
#define PODMETER_RECONCILER_SERVE_H

/* podmeter-reconciler serve ... */
int serve__main(int argc, char **argv);
/* podmeter-reconciler migrate --store URL: the schema up to date, and its version */
int migrate__main(int argc, char **argv);

#endif /* PODMETER_RECONCILER_SERVE_H */
