/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The durable spool: every report is a file before it is sent, and stays one
 * until a receiver has answered 2xx. And the shipper that sends them.
 *
 * File format (<dir>/<seq, 20 digits>.pmr), little-endian:
 *   "PMR1" | u32 payload length | u32 CRC-32 (zlib) of the payload | u32 0 | payload
 */
#ifndef PODMETER_SPOOL_H
#define PODMETER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define PM_SPOOL_MAGIC	"PMR1"
#define PM_SPOOL_HEADER 16
#define PM_SPOOL_SUFFIX ".pmr"

struct pm_spool;

struct pm_spool_stats {
	uint64_t written;  /* reports put */
	uint64_t dropped;  /* oldest dropped to stay under the bound, or not written at all */
	uint64_t corrupt;  /* torn or corrupt files moved to corrupt/ */
	uint64_t rejected; /* moved to rejected/ on a 4xx */
	uint64_t bytes;	   /* in the spool now */
	uint64_t files;
};

/*
 * Open (creating @dir, @dir/rejected and @dir/corrupt as needed) a spool
 * bounded to @max_bytes. Scans what is there, quarantines what does not
 * verify, and recovers the sequence: the next number is one past the
 * highest ever committed (the "seq" file, or a report file above it).
 */
int spool__open(struct pm_spool **out, const char *dir, uint64_t max_bytes, char *err,
		size_t errlen);
/* The sequence number the next report gets. */
uint64_t spool__next_seq(struct pm_spool *s);
/*
 * Store the report @seq (== spool__next_seq()) durably: temporary file,
 * fsync, rename, fsync of the directory; then the sequence is committed.
 * When over the bound, or when the filesystem is full, the oldest reports
 * are dropped first (counted). 0; 1 when stored after dropping older ones,
 * with @err saying why; or a negative errno with @err set (the sequence is
 * consumed anyway, so numbers never repeat; the report is counted as
 * dropped).
 */
int spool__put(struct pm_spool *s, uint64_t seq, const void *payload, size_t len, char *err,
	       size_t errlen);
/*
 * The oldest report: its sequence and payload (malloc'ed). Files that do not
 * verify are moved to corrupt/ and counted on the way. 0, or -ENOENT when
 * the spool is empty.
 */
int spool__oldest(struct pm_spool *s, uint64_t *seq, void **payload, size_t *len);
int spool__remove(struct pm_spool *s, uint64_t seq);
/* Move to rejected/, with <seq>.reason holding @reason. */
int spool__reject(struct pm_spool *s, uint64_t seq, const char *reason);
void spool__stats(struct pm_spool *s, struct pm_spool_stats *st);
void spool__close(struct pm_spool *s);

/* Read and verify one spool file. 0, or -EINVAL (with @err) / -errno. */
int spool__read_file(const char *path, void **payload, size_t *len, char *err, size_t errlen);

/* ---- exporter/shipper.c: POSTs the spool, oldest first ---- */
struct pm_shipper;

struct pm_shipper_opts {
	const char *url;	/* e.g. http://reconciler:8080/v1/reports */
	const char *node;	/* X-Podmeter-Node */
	const char *token_file; /* "" = none; re-read at each request */
	const char *ca_file;	/* "" = system CAs */
	const char *cert_file;	/* client certificate for mTLS, "" = none */
	const char *key_file;
	uint64_t timeout_ms;	 /* whole request */
	uint64_t backoff_min_ms; /* first retry after about this */
	uint64_t backoff_max_ms; /* cap */
};

struct pm_shipper_stats {
	uint64_t sent;
	uint64_t retries;
	uint64_t rejected;
	double last_success; /* unix seconds; 0 = never */
};

int shipper__start(struct pm_shipper **out, struct pm_spool *spool, const struct pm_shipper_opts *o,
		   char *err, size_t errlen);
void shipper__wake(struct pm_shipper *s); /* a report was put */
void shipper__stats(struct pm_shipper *s, struct pm_shipper_stats *st);
/* Stop after the request in flight (bounded by the timeout). */
void shipper__stop(struct pm_shipper *s);

#endif /* PODMETER_SPOOL_H */
