// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * After a merge: wait for the agents to report the new requests (applied),
 * then compare the workload's hours after with the hours before the merge:
 * OOM kills per replica-hour, CPU throttling per CPU-second, run-queue wait
 * per CPU-second. Worse past the policy's verify thresholds is harm.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cycle.h"

#define NEVER_APPLIED_S (7 * 86400.0) /* merged, never seen in the reports: given up */
#define RQ_FLOOR	0.05	      /* run-queue s per CPU-s under which nothing is judged */
#define MIB		1048576.0

struct side {
	double ooms, thr_usec, cpu_usec, rq_usec, pod_s;
	double starts, wl_pod_s; /* process starts of the workloads, their replica-seconds */
};

/* The first hour at or after the merge whose requests are the proposed ones; 0 not yet. */
static double applied_hour(const struct gs_hour *h, size_t n, const struct gs_item *items,
			   size_t n_items, const struct gs_item *of, double merged_at)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		bool all = true;

		if ((double)h[i].hour + 3600 <= merged_at || !h[i].pod_windows)
			continue;
		for (k = 0; k < n_items; k++) {
			const struct gs_item *it = &items[k];

			if (memcmp(&it->wl, &of->wl, sizeof(of->wl)) ||
			    strcmp(it->container, of->container) || it->proposed < 0)
				continue;
			if (!strcmp(it->resource, "cpu"))
				all &= llabs(h[i].req_cpu_m - llround(it->proposed * 1000)) <= 1;
			else if (!strcmp(it->resource, "memory"))
				all &= fabs((double)h[i].req_mem - it->proposed) < MIB;
		}
		if (all)
			return (double)h[i].hour;
	}
	return 0;
}

static void add(struct side *s, const struct gs_hour *h)
{
	s->ooms += (double)h->ooms;
	s->thr_usec += (double)h->thr_usec;
	s->cpu_usec += (double)h->cpu_usec;
	s->rq_usec += (double)h->rq_usec;
	s->pod_s += h->pod_s;
}

static double per(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static void judge(const struct side *b, const struct side *a, const struct pol_settings *st,
		  struct verify_out *out)
{
	double oom_b = per(b->ooms, b->pod_s / 3600), oom_a = per(a->ooms, a->pod_s / 3600);
	double thr_b = per(b->thr_usec, b->cpu_usec), thr_a = per(a->thr_usec, a->cpu_usec);
	double rq_b = per(b->rq_usec, b->cpu_usec), rq_a = per(a->rq_usec, a->cpu_usec);
	double st_b = per(b->starts, b->wl_pod_s / 3600), st_a = per(a->starts, a->wl_pod_s / 3600);
	bool h_st = st_a >= 2 * st_b && st_a - st_b >= st->verify_restarts;
	bool h_oom = a->ooms >= st->verify_ooms && oom_a > oom_b;
	bool h_thr = (thr_a - thr_b) * 100 >= st->verify_throttle_pct;
	bool h_rq = rq_a >= RQ_FLOOR && rq_a > rq_b * (1 + st->verify_rq_pct / 100);

	out->decision = h_oom || h_thr || h_rq || h_st ? VERIFY_HARM : VERIFY_OK;
	snprintf(out->detail, sizeof(out->detail),
		 "OOM kills %.0f after (%.3f a replica-hour, before %.3f)%s; throttled %.1f%% of "
		 "CPU time after, %.1f%% before%s; run-queue wait %.3f s per CPU-second after, "
		 "%.3f before%s; process starts (restarts) %.2f a replica-hour after, %.2f "
		 "before%s",
		 a->ooms, oom_a, oom_b, h_oom ? " WORSE" : "", thr_a * 100, thr_b * 100,
		 h_thr ? " WORSE" : "", rq_a, rq_b, h_rq ? " WORSE" : "", st_a, st_b,
		 h_st ? " WORSE" : "");
	out->json = json_dumps(
		json_pack("{s:s, s:f, s:{s:f, s:f, s:f, s:f, s:f},"
			  " s:{s:f, s:f, s:f, s:f, s:f}, s:b, s:b, s:b, s:b, s:s}",
			  "decision", out->decision == VERIFY_OK ? "verified" : "harm", "appliedAt",
			  out->applied_at, "before", "oomKills", b->ooms, "oomPerReplicaHour",
			  oom_b, "throttledRatio", thr_b, "runqueuePerCpuSecond", rq_b,
			  "startsPerReplicaHour", st_b, "after", "oomKills", a->ooms,
			  "oomPerReplicaHour", oom_a, "throttledRatio", thr_a,
			  "runqueuePerCpuSecond", rq_a, "startsPerReplicaHour", st_a, "oomWorse",
			  h_oom, "throttlingWorse", h_thr, "runqueueWorse", h_rq, "restartsWorse",
			  h_st, "detail", out->detail),
		JSON_COMPACT | JSON_SORT_KEYS);
}

static bool first_of_workload(const struct gs_item *items, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (items[k].container[0] &&
		    !memcmp(&items[k].wl, &items[i].wl, sizeof(items[i].wl)))
			return false;
	return true;
}

/* The workload's process starts (rollups, every node) before and after, per replica-second. */
static int starts(struct store *s, const struct gs_wl *w, int64_t from, double merged_hour,
		  double at, double after_s, struct side *b, struct side *a)
{
	struct gs_wl_hour *wh;
	size_t n, k;
	int ret = gstore__wl_hours(s, w, from, &wh, &n);

	if (ret)
		return ret;
	for (k = 0; k < n; k++) {
		if ((double)wh[k].hour < merged_hour)
			b->starts += (double)wh[k].starts;
		else if ((double)wh[k].hour >= at && (double)wh[k].hour < at + after_s)
			a->starts += (double)wh[k].starts;
	}
	free(wh);
	/* replica-seconds: the container hours of this workload's first container */
	b->wl_pod_s = b->pod_s;
	a->wl_pod_s = a->pod_s;
	return 0;
}

int verify__check(struct store *s, const struct gs_prop *p, const struct gs_item *items, size_t n,
		  const struct pol_settings *st, double now, struct verify_out *out)
{
	double after_s = st->verify_after_h * 3600, before_s = fmax(after_s, 86400);
	int64_t from = (int64_t)floor((p->merged_at - before_s) / 3600) * 3600;
	struct side before = { 0 }, after = { 0 };
	double applied = 0, merged_hour = floor(p->merged_at / 3600) * 3600;
	struct gs_hour *h;
	size_t i, k, nh;
	int ret;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		double at;

		for (k = 0; k < i; k++)
			if (!memcmp(&items[k].wl, &items[i].wl, sizeof(items[i].wl)) &&
			    !strcmp(items[k].container, items[i].container))
				break;
		if (k < i || !items[i].container[0])
			continue;
		ret = gstore__hours(s, &items[i].wl, items[i].container, from, &h, &nh);
		if (ret)
			return ret;
		at = applied_hour(h, nh, items, n, &items[i], p->merged_at);
		if (!at) {
			free(h);
			if (now - p->merged_at > NEVER_APPLIED_S) {
				out->decision = VERIFY_OK;
				snprintf(out->detail, sizeof(out->detail),
					 "merged %.1f days ago, never "
					 "seen applied in the agents' reports: not judged",
					 (now - p->merged_at) / 86400);
				out->json = json_dumps(json_pack("{s:s, s:s}", "decision",
								 "unapplied", "detail",
								 out->detail),
						       0);
			}
			return 0;
		}
		applied = fmax(applied, at);
		for (k = 0; k < nh; k++) {
			if ((double)h[k].hour < merged_hour)
				add(&before, &h[k]);
			else if ((double)h[k].hour >= at && (double)h[k].hour < at + after_s)
				add(&after, &h[k]);
		}
		free(h);
		if (first_of_workload(items, i)) {
			ret = starts(s, &items[i].wl, from, merged_hour, at, after_s, &before,
				     &after);
			if (ret)
				return ret;
		}
	}
	out->applied_at = applied;
	if (!applied) { /* replicas only (scale to zero): nothing to compare */
		out->decision = VERIFY_OK;
		snprintf(out->detail, sizeof(out->detail), "no requests changed: not judged");
		out->json = json_dumps(json_pack("{s:s}", "decision", "verified"), 0);
		return 0;
	}
	if (now < applied + after_s)
		return 0; /* wait for the hours after */
	judge(&before, &after, st, out);
	return out->json ? 0 : -ENOMEM;
}
