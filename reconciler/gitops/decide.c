// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Right-sizing one container from the store, with its evidence. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/dist.h>
#include "decide.h"

#define GIB (1024.0 * 1024 * 1024)
#define MIB (1024.0 * 1024)

double decide__round_cpu(double cores)
{
	return ceil(cores * 1000 - 1e-6) / 1000;
}

double decide__round_mem(double bytes)
{
	return ceil(bytes / MIB - 1e-9) * MIB;
}

void decide__fmt_cpu(double cores, char *buf, size_t len)
{
	long long m = llround(cores * 1000);

	if (m % 1000 == 0)
		snprintf(buf, len, "%lld", m / 1000);
	else
		snprintf(buf, len, "%lldm", m);
}

void decide__fmt_mem(double bytes, char *buf, size_t len)
{
	long long mi = llround(bytes / MIB);

	if (mi >= 1024 && mi % 1024 == 0)
		snprintf(buf, len, "%lldGi", mi / 1024);
	else if (fabs(bytes - (double)mi * MIB) < 0.5)
		snprintf(buf, len, "%lldMi", mi);
	else
		snprintf(buf, len, "%.0f", bytes);
}

int64_t decide__monthly(double d_cores, double d_bytes, double replicas, double cpu_price,
			double mem_price)
{
	double dollars = (d_cores * cpu_price + d_bytes / GIB * mem_price) * replicas *
			 DEC_HOURS_PER_MONTH;

	return llround(dollars * 1e9);
}

/* ---- seasons ---- */

int decide__season(const double *y, const bool *have, size_t n, int64_t first_hour, int period,
		   double now, struct season *out)
{
	double *sum = calloc((size_t)period, sizeof(double)), mu = 0, ss_tot = 0, ss_res = 0;
	double recent = 0, best = -INFINITY;
	size_t *cnt = calloc((size_t)period, sizeof(size_t)), i, m = 0, nr = 0, phases = 0;
	int64_t next = (int64_t)floor(now / 3600) * 3600 + 3600, h;
	int p;

	memset(out, 0, sizeof(*out));
	if (!sum || !cnt) {
		free(sum);
		free(cnt);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (!have[i])
			continue;
		p = (int)(((first_hour / 3600 + (int64_t)i) % period + period) % period);
		sum[p] += y[i];
		cnt[p]++;
		mu += y[i];
		m++;
	}
	for (p = 0; p < period; p++)
		phases += cnt[p] > 0;
	/* two periods at least, and most phases seen twice */
	if (m < (size_t)period * 2 || phases < (size_t)period * 9 / 10) {
		free(sum);
		free(cnt);
		return -ENODATA;
	}
	mu /= (double)m;
	for (p = 0; p < period; p++)
		sum[p] = cnt[p] ? sum[p] / (double)cnt[p] : mu;
	for (i = 0; i < n; i++) {
		if (!have[i])
			continue;
		p = (int)(((first_hour / 3600 + (int64_t)i) % period + period) % period);
		ss_tot += (y[i] - mu) * (y[i] - mu);
		ss_res += (y[i] - sum[p]) * (y[i] - sum[p]);
	}
	/* the level of the last period against the phase means: a trend carried forward */
	for (i = n; i-- > 0 && nr < (size_t)period;) {
		if (!have[i])
			continue;
		p = (int)(((first_hour / 3600 + (int64_t)i) % period + period) % period);
		recent += y[i] - sum[p];
		nr++;
	}
	recent = nr ? recent / (double)nr : 0;
	out->period = period;
	out->mean = mu;
	out->strength = ss_tot > 0
				? 1 - (ss_res / (double)(m - phases)) / (ss_tot / (double)(m - 1))
				: 0;
	out->strength = fmax(0, fmin(1, out->strength));
	/* a flat series (within 5% of its mean) has no season worth the name */
	if (sqrt(ss_tot / (double)m) < 0.05 * fabs(mu))
		out->strength = 0;
	for (h = next; h < next + (int64_t)period * 3600; h += 3600) {
		p = (int)(((h / 3600) % period + period) % period);
		if (sum[p] + recent > best) {
			best = sum[p] + recent;
			out->peak_at = (double)h;
		}
	}
	out->peak = fmax(0, best);
	free(sum);
	free(cnt);
	return 0;
}

/* ---- one container ---- */

static void current_of(struct rec *r, const struct gs_hour *h, size_t n)
{
	size_t i;

	r->cur_cpu = r->cur_mem = r->cur_cpu_lim = r->cur_mem_lim = -1;
	for (i = n; i-- > 0;) {
		if (!h[i].pod_windows)
			continue;
		r->cur_cpu = h[i].req_cpu_m >= 0 ? h[i].req_cpu_m / 1000.0 : -1;
		r->cur_mem = h[i].req_mem >= 0 ? (double)h[i].req_mem : -1;
		r->cur_cpu_lim = h[i].lim_cpu_m >= 0 ? h[i].lim_cpu_m / 1000.0 : -1;
		r->cur_mem_lim = h[i].lim_mem >= 0 ? (double)h[i].lim_mem : -1;
		break;
	}
	/* the latest hour whose requests differ from the hour before */
	for (i = n; i-- > 1;) {
		if (!h[i].pod_windows)
			continue;
		if (h[i].req_cpu_m != h[i - 1].req_cpu_m || h[i].req_mem != h[i - 1].req_mem ||
		    h[i].lim_cpu_m != h[i - 1].lim_cpu_m || h[i].lim_mem != h[i - 1].lim_mem) {
			r->last_change = (double)h[i].hour;
			break;
		}
	}
}

static void usage_of(struct rec *r, const struct gs_hour *h, size_t n,
		     const struct pol_settings *st, double now)
{
	double mem_from = now - st->mem_days * 86400, day = now - 86400, rep = 0, thr = 0, cpu = 0;
	double ooms_from = fmax(mem_from, r->last_change);
	size_t i, nrep = 0;

	for (i = 0; i < n; i++) {
		if ((double)h[i].hour + 3600 > mem_from && (double)h[i].mem_peak > r->mem_peak)
			r->mem_peak = (double)h[i].mem_peak;
		if ((double)h[i].hour >= ooms_from)
			r->ooms += h[i].ooms;
		if ((double)h[i].hour + 3600 > day) {
			thr += (double)h[i].thr_usec;
			cpu += (double)h[i].cpu_usec;
		}
		/* replicas from whole hours of the last day: the current one is still filling */
		if ((double)h[i].hour + 3600 > day - 3600 && (double)h[i].hour + 3600 <= now &&
		    h[i].pod_s > 0) {
			rep += h[i].pod_s / 3600;
			nrep++;
		}
	}
	r->mem_days = st->mem_days;
	r->throttle_ratio = cpu > 0 ? thr / cpu : 0;
	if (!nrep) /* no whole hour yet: every hour there is */
		for (i = 0; i < n; i++)
			if (h[i].pod_s > 0)
				rep += h[i].pod_s / 3600, nrep++;
	r->replicas = nrep ? fmax(rep / (double)nrep, 1e-3) : 1;
}

/* Hourly mean cores per replica since @from; the season of it (daily or weekly), if strong. */
static int season_of(struct rec *r, const struct gs_hour *h, size_t n,
		     const struct pol_settings *st, double now)
{
	int64_t first = (int64_t)floor((now - st->season_lookback_days * 86400) / 3600) * 3600;
	size_t len = (size_t)((int64_t)floor(now / 3600) * 3600 - first) / 3600, i;
	double *y = calloc(len + 1, sizeof(double));
	bool *have = calloc(len + 1, sizeof(bool));
	static const int periods[] = { 24, 168 };
	struct season s;
	int k;

	if (!y || !have) {
		free(y);
		free(have);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		int64_t idx = (h[i].hour - first) / 3600;

		/* whole hours only: the one still filling would look like a dip */
		if (idx < 0 || (size_t)idx >= len || !(h[i].pod_s > 0) ||
		    (double)h[i].hour + 3600 > now)
			continue;
		y[idx] = h[i].cpu_usec / 1e6 / h[i].pod_s;
		have[idx] = true;
		if ((double)h[i].hour >= now - st->idle_days * 86400) {
			r->idle_hours++;
			r->idle_max_cores = fmax(r->idle_max_cores, y[idx]);
		}
	}
	for (k = 0; k < 2; k++) {
		if (decide__season(y, have, len, first, periods[k], now, &s))
			continue;
		/* weekly must explain clearly more than daily does */
		if (s.strength >= st->season_min_strength &&
		    (!r->season.period || s.strength > r->season.strength + 0.1))
			r->season = s;
	}
	free(y);
	free(have);
	return 0;
}

static int dist_of(struct store *s, const struct gs_container *c, struct rec *r,
		   const struct pol_settings *st)
{
	struct pm_dist d;
	double ref;
	int ret;

	ret = store__cpu_dist(s, c->wl.cluster, c->wl.ns, c->wl.kind, c->wl.name, c->container, &d,
			      &ref);
	if (!ret)
		ret = dist__quantile(&d, st->cpu_quantile, &r->q_cores);
	if (!ret)
		ret = dist__quantile(&d, 0.5, &r->p50);
	if (!ret)
		ret = dist__quantile(&d, 0.99, &r->p99);
	if (!ret)
		ret = dist__quantile(&d, 1, &r->max_cores);
	dist__free(&d);
	r->quantile = st->cpu_quantile;
	return ret == -ENODATA ? -ENOENT : ret;
}

int decide__container(struct store *s, const struct gs_container *c, const struct pol_settings *st,
		      double now, struct rec *out)
{
	double since = now -
		       fmax(fmax(st->mem_days, st->season_lookback_days), st->idle_days) * 86400 -
		       86400;
	struct gs_hour *h = NULL;
	size_t n = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	out->wl = c->wl;
	snprintf(out->container, sizeof(out->container), "%s", c->container);
	ret = dist_of(s, c, out, st);
	if (ret)
		return ret;
	ret = gstore__hours(s, &c->wl, c->container, (int64_t)floor(since / 3600) * 3600, &h, &n);
	if (ret)
		return ret;
	out->days = fmax(0, (c->last_seen - c->first_seen) / 86400);
	out->confidence = out->days / (out->days + 1); /* 50% after a day, as the agent's */
	current_of(out, h, n);
	usage_of(out, h, n, st, now);
	ret = season_of(out, h, n, st, now);
	out->idle = out->days >= st->idle_days && out->idle_hours >= 0.8 * st->idle_days * 24 &&
		    out->idle_max_cores < st->idle_max_cores;
	free(h);
	if (ret)
		return ret;
	if (gstore__prices(s, c->wl.cluster, now - 2 * 86400, &out->cpu_price, &out->mem_price) &&
	    gstore__prices(s, c->wl.cluster, 0, &out->cpu_price, &out->mem_price))
		out->cpu_price = out->mem_price = 0;
	out->cpu_basis = out->q_cores;
	if (out->season.period && out->season.peak > out->cpu_basis)
		out->cpu_basis = out->season.peak;
	out->cpu_target = st->cpu_target;
	out->cpu_want = decide__round_cpu(out->cpu_basis / st->cpu_target);
	out->mem_want = decide__round_mem(out->mem_peak * st->mem_headroom);
	return 0;
}
