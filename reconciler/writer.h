/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Group commit: request threads queue their reports and wait; writer
 * threads (one per store connection) take whatever has queued, up to
 * REC_BATCH_MAX, write it in one transaction and wake each sender with its
 * verdict once the transaction has committed.
 */
#ifndef PODMETER_RECONCILER_WRITER_H
#define PODMETER_RECONCILER_WRITER_H

#include <stddef.h>
#include "metrics.h"
#include "store.h"

struct rec_writer;

/* One writer thread per store in @stores (their connections; SQLite: one). */
int writer__start(struct rec_writer **out, struct store **stores, int n, struct rec_metrics *m);
/*
 * Queue @sr and wait for its verdict. 0 once it has one (STORE_FAILED
 * included), -EAGAIN when REC_QUEUE_MAX reports wait already, -ESHUTDOWN
 * when stopping.
 */
int writer__submit(struct rec_writer *w, struct store_report *sr);
/* Write what is queued, then stop the threads. */
void writer__stop(struct rec_writer *w);

#endif /* PODMETER_RECONCILER_WRITER_H */
