// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reports: periodic snapshots go into a window; a window that spans
 * --report-window is closed into a report, stored durably in the spool under
 * the next sequence number, and the shipper (when a reconciler is set) is
 * woken to send it. Without a reconciler the reports stay in the bounded
 * spool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <podmeter/agent.h>
#include <podmeter/report.h>
#include <podmeter/spool.h>

struct pm_reporter {
	struct pm_report_window *window;
	struct pm_spool *spool;
	struct pm_shipper *shipper; /* NULL: no reconciler */
	double window_s;
	char node[254];
	char cluster[128];
	char spool_dir[PATH_MAX];
	bool failing; /* reports being dropped: one log line per change */
};

int reporter__open(struct pm_reporter **out, const struct pm_config *cfg, char *err, size_t errlen)
{
	struct pm_shipper_opts o = { 0 };
	struct pm_reporter *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r || !(r->window = report__window_new())) {
		free(r);
		snprintf(err, errlen, "reports: out of memory");
		return -ENOMEM;
	}
	r->window_s = cfg->report.window_ms / 1000.0;
	snprintf(r->cluster, sizeof(r->cluster), "%s", cfg->report.cluster);
	if (cfg->report.node_name[0])
		snprintf(r->node, sizeof(r->node), "%s", cfg->report.node_name);
	else if (gethostname(r->node, sizeof(r->node)) || !r->node[0])
		snprintf(r->node, sizeof(r->node), "unknown");
	r->node[sizeof(r->node) - 1] = '\0';
	snprintf(r->spool_dir, sizeof(r->spool_dir), "%s", cfg->report.spool_dir);
	ret = spool__open(&r->spool, cfg->report.spool_dir, (uint64_t)cfg->report.spool_max_bytes,
			  err, errlen);
	if (ret)
		goto fail;
	if (cfg->reconciler.url[0]) {
		o.url = cfg->reconciler.url;
		o.node = r->node;
		o.token_file = cfg->reconciler.token_file;
		o.ca_file = cfg->reconciler.ca_file;
		o.cert_file = cfg->reconciler.cert_file;
		o.key_file = cfg->reconciler.key_file;
		o.timeout_ms = cfg->reconciler.timeout_ms;
		o.backoff_min_ms = 500;
		o.backoff_max_ms = cfg->reconciler.retry_max_ms;
		ret = shipper__start(&r->shipper, r->spool, &o, err, errlen);
		if (ret)
			goto fail;
	}
	fprintf(stderr, "podmeter: reports: every %.0f s as node \"%s\", spooled in %s%s%s\n",
		r->window_s, r->node, cfg->report.spool_dir,
		r->shipper ? ", sent to " : " (no reconciler)",
		r->shipper ? cfg->reconciler.url : "");
	*out = r;
	return 0;
fail:
	reporter__close(r);
	return ret;
}

static void emit(struct pm_reporter *r, bool final)
{
	struct pm_report_meta meta = {
		.cluster = r->cluster,
		.node = r->node,
		.agent_version = PM_VERSION,
		.final = final,
	};
	char err[512];
	size_t len;
	void *gz;
	int ret;

	meta.seq = spool__next_seq(r->spool);
	ret = report__window_close(r->window, &meta, &gz, &len);
	if (ret) {
		fprintf(stderr,
			"warning: reports: closing window %llu: %s; its amounts go into "
			"the next one\n",
			(unsigned long long)meta.seq, strerror(-ret));
		return;
	}
	err[0] = '\0';
	ret = spool__put(r->spool, meta.seq, gz, len, err, sizeof(err));
	free(gz);
	/* one line when reports start to be lost, one when they stop */
	if (ret && !r->failing)
		fprintf(stderr, "warning: %s%s\n", err,
			ret > 0 ? " (counted in podmeter_agent_reports_dropped_total)" : "");
	else if (!ret && r->failing)
		fprintf(stderr, "reports: spool %s has room again\n", r->spool_dir);
	r->failing = ret != 0;
	if (ret >= 0 && r->shipper)
		shipper__wake(r->shipper);
}

void reporter__tick(struct pm_reporter *r, const struct pm_snapshot *s)
{
	int ret = report__window_tick(r->window, s);

	if (ret) {
		fprintf(stderr, "warning: reports: %s; this tick is left out of the window\n",
			strerror(-ret));
		return;
	}
	if (report__window_span(r->window) >= r->window_s - 0.001)
		emit(r, false);
}

void reporter__finish(struct pm_reporter *r)
{
	if (report__window_span(r->window) > 0)
		emit(r, true);
}

void reporter__stats(void *ctx, struct pm_report_stats *st)
{
	struct pm_reporter *r = ctx;
	struct pm_shipper_stats sh = { 0 };
	struct pm_spool_stats sp;

	spool__stats(r->spool, &sp);
	if (r->shipper)
		shipper__stats(r->shipper, &sh);
	st->enabled = 1;
	st->shipping = r->shipper != NULL;
	st->written = sp.written;
	st->dropped = sp.dropped;
	st->corrupt = sp.corrupt;
	st->spool_bytes = sp.bytes;
	st->spool_files = sp.files;
	st->sent = sh.sent;
	st->retries = sh.retries;
	st->rejected = sh.rejected;
	st->last_success = sh.last_success;
}

void reporter__close(struct pm_reporter *r)
{
	if (!r)
		return;
	if (r->shipper)
		shipper__stop(r->shipper);
	if (r->spool)
		spool__close(r->spool);
	report__window_free(r->window);
	free(r);
}
