/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Deciding: per workload container, what its requests should be, with the
 * evidence for each number. CPU from the merged distribution (quantile ÷
 * target utilisation), or the forecast peak of the coming day or week when
 * the hourly rollups show a season; memory from the peak working set over
 * the policy's days × headroom. Guardrails come after (guard.h).
 */
#ifndef PODMETER_RECONCILER_DECIDE_H
#define PODMETER_RECONCILER_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gstore.h"
#include "policy.h"

#define DEC_HOURS_PER_MONTH 730.0

/* A seasonal model of an hourly series: phase means and a level. */
struct season {
	int period;	 /* hours: 24, 168; 0 when no season was found */
	double strength; /* adjusted R^2 of the phase means, [0, 1] */
	double peak;	 /* forecast peak of the coming period (the series' unit) */
	double peak_at;	 /* unix seconds of that hour */
	double mean;
};

/*
 * Fit phase means of period @period to @y (hourly values; @have[i] false
 * where hour @first_hour + i has no data) and forecast the next period
 * from @now. 0, or -ENODATA with less than two periods of data.
 */
int decide__season(const double *y, const bool *have, size_t n, int64_t first_hour, int period,
		   double now, struct season *out);

struct rec {
	struct gs_wl wl;
	char container[GS_NAME];
	/* what it has now (latest hour); -1 when not set */
	double cur_cpu, cur_mem, cur_cpu_lim, cur_mem_lim;
	/* evidence */
	double quantile, q_cores, p50, p99, max_cores;
	double mem_peak, mem_days;
	double days, confidence, replicas;
	int64_t ooms;		     /* in the memory window, since the last change */
	double throttle_ratio;	     /* throttled µs per CPU µs, last 24 h */
	struct season season;	     /* the chosen one (period 0: none) */
	double last_change;	     /* when its requests last changed in the reports; 0 */
	double cpu_price, mem_price; /* $ per core-hour, per GiB-hour */
	/* before guardrails */
	double cpu_basis;	   /* cores sized for: the quantile, or the forecast peak */
	double cpu_target;	   /* the target utilisation it was divided by */
	double cpu_want, mem_want; /* cores, bytes */
	/* idle over the policy's days */
	bool idle;
	double idle_max_cores; /* the highest hourly mean per replica in that time */
	double idle_hours;     /* hours with data in it */
};

/* Decide @c as of @now with @st; 0, -ENOENT (no distribution), or a negative errno. */
int decide__container(struct store *s, const struct gs_container *c, const struct pol_settings *st,
		      double now, struct rec *out);

/* Round requests as a pull request writes them: millicores up, MiB up. */
double decide__round_cpu(double cores);
double decide__round_mem(double bytes);
/* "250m", "1500m", "2" ; "410Mi", "2Gi" */
void decide__fmt_cpu(double cores, char *buf, size_t len);
void decide__fmt_mem(double bytes, char *buf, size_t len);
/* Nanodollars a month of @cores and @bytes more (negative: less), @replicas of them. */
int64_t decide__monthly(double d_cores, double d_bytes, double replicas, double cpu_price,
			double mem_price);

#endif /* PODMETER_RECONCILER_DECIDE_H */
