/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A report's body -> a checked NodeReport: inflated within REC_INFLATED_MAX,
 * unpacked within REC_DECODED_MAX of memory (protobuf-c given an allocator
 * with a budget: repeated empty messages cannot expand past it), then every
 * count, string and time checked against reconciler/limits.h. Library code:
 * no logging, a reason and a message for the caller.
 */
#ifndef PODMETER_RECONCILER_INGEST_H
#define PODMETER_RECONCILER_INGEST_H

#include <stddef.h>
#include "metrics.h"
#include "podmeter.pb-c.h"

/*
 * Decode @body (gzip'ed protobuf). 0 with *@out (free with ingest__free),
 * or -1 with *@reason and @why set.
 */
int ingest__decode(const void *body, size_t len, Podmeter__V1__NodeReport **out,
		   enum rec_reason *reason, char *why, size_t whylen);

/*
 * Check a decoded report: counts, strings (UTF-8, bounded, no control
 * characters in names), sequence, window times against @now.
 * 0, or -1 with *@reason and @why set.
 */
int ingest__check(const Podmeter__V1__NodeReport *r, double now, enum rec_reason *reason, char *why,
		  size_t whylen);

void ingest__free(Podmeter__V1__NodeReport *r);

#endif /* PODMETER_RECONCILER_INGEST_H */
