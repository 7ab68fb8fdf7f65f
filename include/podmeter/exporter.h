/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Outputs: they read snapshots and know nothing of BPF. */
#ifndef PODMETER_EXPORTER_H
#define PODMETER_EXPORTER_H

#include <stdint.h>
#include <stdio.h>
#include <podmeter/snapshot.h>

/* Prometheus text format (0.0.4) of @s to @f. Returns 0 or -EIO. */
int prom__write(FILE *f, const struct pm_snapshot *s, const char *version, const char *git_rev);

/*
 * Escape a label value as the exposition format requires (\\, \", \n) into
 * @dst (NUL-terminated). Returns the length written, or -ENOSPC when @dst is
 * too small.
 */
int prom__escape_label(char *dst, size_t dstlen, const char *src);

/* /v1/pods JSON of @s, malloc'ed, NUL-terminated; NULL on allocation failure. */
char *json__pods(const struct pm_snapshot *s);

/*
 * Returns a referenced snapshot, recent (the agent collects on demand, at
 * most every 250 ms), or NULL when none is available yet. The caller puts it.
 */
typedef struct pm_snapshot *(*pm_snapshot_fn)(void *ctx);

/*
 * /healthz: 0 when healthy, a negative errno otherwise (-EAGAIN starting,
 * -ETIMEDOUT stalled), with a one-line reason in @msg. Answers from state:
 * it must never wait on a collection.
 */
typedef int (*pm_health_fn)(void *ctx, char *msg, size_t len);

struct pm_http;

struct pm_web_config;

/*
 * Serve GET /metrics, /v1/pods and /healthz on @host:@port from a thread of
 * its own; with @web (NULL: plain HTTP, open), over TLS and for bearer-token
 * holders as it says, /healthz always open. A scrape is answered from the
 * snapshot @fn returns, its body rendered once per snapshot. Returns NULL
 * with errno set when the address cannot be bound or the TLS files read.
 */
struct pm_http *http__start(const char *host, uint16_t port, pm_snapshot_fn fn, pm_health_fn health,
			    void *ctx, const struct pm_web_config *web);
void http__stop(struct pm_http *h);
/*
 * A newer snapshot than the rendered ones is out: they are let go (a
 * body is a few KiB a pod, and it held its snapshot). NULL @h: nothing.
 */
void http__snapshot_out(struct pm_http *h, const struct pm_snapshot *s);

#endif /* PODMETER_EXPORTER_H */
