/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reports to the reconciler: a window of snapshots -> one NodeReport
 * (exporter/podmeter.proto) -> gzip -> the spool -> the shipper. And the
 * other end: `podmeter receive` and `podmeter decode`.
 */
#ifndef PODMETER_REPORT_H
#define PODMETER_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <podmeter/snapshot.h>

#define PM_REPORT_CONTENT_TYPE "application/x-protobuf"
#define PM_REPORT_PATH	       "/v1/reports"
#define PM_REPORT_MAX_BYTES    (64u << 20) /* decompressed or not, larger is refused */

/* ---- exporter/gz.c: gzip (zlib) in memory ---- */

/* gzip @len bytes of @in into a malloc'ed buffer. 0 or -ENOMEM/-EIO. */
int gz__compress(const void *in, size_t len, void **out, size_t *outlen);
/*
 * Inflate a gzip member into a malloc'ed buffer, refusing more than @max
 * bytes out. 0, -EINVAL (not gzip, corrupt, truncated), -EFBIG, -ENOMEM.
 */
int gz__decompress(const void *in, size_t len, size_t max, void **out, size_t *outlen);

/* ---- exporter/report.c: windows of snapshots -> NodeReport ---- */

struct pm_report_window;

struct pm_report_meta {
	const char *cluster;
	const char *node;
	const char *agent_version;
	uint64_t seq;
	bool final; /* closed early: the agent is stopping */
};

struct pm_report_window *report__window_new(void);
void report__window_free(struct pm_report_window *w);
/* Add one periodic snapshot to the window. 0 or -ENOMEM. */
int report__window_tick(struct pm_report_window *w, const struct pm_snapshot *s);
/* Seconds between the window's first and last tick; 0 before two ticks. */
double report__window_span(const struct pm_report_window *w);
bool report__window_empty(const struct pm_report_window *w);
/*
 * Close the window into a packed, gzip-compressed NodeReport (malloc'ed) and
 * start the next one at its last tick. 0, -ENODATA (no tick yet), -ENOMEM.
 */
int report__window_close(struct pm_report_window *w, const struct pm_report_meta *meta, void **gz,
			 size_t *gzlen);

/* ---- exporter/pbjson.c: a decoded report as JSON ---- */

/*
 * A NodeReport's packed bytes (not compressed) as one line of JSON, field
 * names as in the .proto. malloc'ed; NULL with @err set when it does not
 * decode.
 */
char *pbjson__report(const void *pb, size_t len, char *err, size_t errlen);
/*
 * What pbjson__report checks first, from the packed bytes alone: that the
 * wire format holds together and that the JSON (and what protobuf-c unpacks)
 * stays within fixed limits, whatever the packed size. 0, -EINVAL (does not
 * decode) or -EFBIG (renders too large), with @err set. Call it before
 * unpacking an untrusted report.
 */
int pbjson__check(const void *pb, size_t len, char *err, size_t errlen);

/* ---- exporter/receiver.c, exporter/decode.c: subcommands ---- */

/* podmeter receive --listen HOST:PORT --out DIR: the reference receiver. */
int receiver__main(int argc, char **argv);
/* podmeter decode FILE: a spooled (.pmr) or plain gzip/protobuf report as JSON. */
int decode__main(int argc, char **argv);

#endif /* PODMETER_REPORT_H */
