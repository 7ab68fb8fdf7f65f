/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Synthetic fleets for the reconciler's deciding tests: workloads whose
 * CPU follows a known distribution (lognormal, uniform, gamma, a mixture),
 * optionally with a daily or weekly peak, spread over several nodes, each
 * node sending one report an hour as an agent does (a sample every 10 s,
 * weighed 10,000 ms, into the mergeable histogram). What the generator
 * drew is the truth the tests compare with: the distribution's own
 * quantile, the peak working set it emitted, the prices it priced with.
 */
#ifndef PODMETER_TEST_REC_FLEET_H
#define PODMETER_TEST_REC_FLEET_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "fixture.h"

enum fleet_dist { FLEET_LOGNORMAL = 0, FLEET_UNIFORM, FLEET_GAMMA, FLEET_MIXTURE, FLEET_CONST };
enum fleet_season { FLEET_FLAT = 0, FLEET_DAILY, FLEET_WEEKLY };

#define FLEET_TICK_S 10
#define FLEET_TICKS  (3600 / FLEET_TICK_S)
#define FLEET_MIB    1048576.0

struct fleet_wl {
	const char *ns, *kind, *name, *container;
	int replicas;
	enum fleet_dist dist;
	double a, b; /* lognormal median, sigma; uniform lo, hi; gamma k, theta;
					   mixture: 80% near a, 20% near b */
	enum fleet_season season;
	double season_mult; /* CPU x this in the peak hours */
	double mem_peak;    /* bytes: the highest working set it ever shows */
	double req_cpu, req_mem, lim_cpu, lim_mem; /* cores, bytes; -1 not set */
	double ooms_per_hour, thr_ratio, rq_ratio;
	/* filled as it goes: what was emitted */
	double emitted_peak;
};

struct fleet {
	struct fleet_wl *wl;
	int n_wl, nodes;
	const char *cluster;
	double cpu_price, mem_price; /* $ per core-hour, per GiB-hour */
	uint64_t rng;
};

static inline double fleet_u(struct fleet *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return ((f->rng * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
}

static inline double fleet_normal(struct fleet *f)
{
	return sqrt(-2 * log(fleet_u(f))) * cos(2 * M_PI * fleet_u(f));
}

static inline double fleet_gamma(struct fleet *f, double k)
{
	double d = k - 1.0 / 3, c = 1 / sqrt(9 * d), x, v, u;

	if (k < 1)
		return fleet_gamma(f, k + 1) * pow(fleet_u(f), 1 / k);
	for (;;) {
		do {
			x = fleet_normal(f);
			v = 1 + c * x;
		} while (v <= 0);
		v = v * v * v;
		u = fleet_u(f);
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

/* One draw of @w's CPU, in cores, before its season. */
static inline double fleet_draw(struct fleet *f, const struct fleet_wl *w)
{
	switch (w->dist) {
	case FLEET_LOGNORMAL:
		return w->a * exp(w->b * fleet_normal(f));
	case FLEET_UNIFORM:
		return w->a + (w->b - w->a) * fleet_u(f);
	case FLEET_GAMMA:
		return fleet_gamma(f, w->a) * w->b;
	case FLEET_MIXTURE:
		return fmax(0, fleet_u(f) < 0.8 ? w->a * (1 + 0.05 * fleet_normal(f))
						: w->b * (1 + 0.05 * fleet_normal(f)));
	case FLEET_CONST:
		return w->a;
	}
	return 0;
}

/* The distribution's own quantile @q: exact where there is a formula, else from 2M draws. */
static inline double fleet_true_quantile(const struct fleet_wl *w, double q, uint64_t seed)
{
	static double v[2000000];
	struct fleet f = { .rng = seed | 1 };
	size_t n = sizeof(v) / sizeof(v[0]), i, j;
	double z = 1.6448536269514722; /* the standard normal's 0.95 quantile */

	if (w->dist == FLEET_LOGNORMAL && q == 0.95)
		return w->a * exp(w->b * z);
	if (w->dist == FLEET_UNIFORM)
		return w->a + (w->b - w->a) * q;
	if (w->dist == FLEET_CONST)
		return w->a;
	for (i = 0; i < n; i++)
		v[i] = fleet_draw(&f, w);
	/* quickselect of rank q n */
	{
		size_t k = (size_t)(q * (double)n), lo = 0, hi = n - 1;

		while (lo < hi) {
			double pivot = v[(lo + hi) / 2], t;

			i = lo;
			j = hi;
			while (i <= j) {
				while (v[i] < pivot)
					i++;
				while (v[j] > pivot)
					j--;
				if (i <= j) {
					t = v[i];
					v[i] = v[j];
					v[j] = t;
					i++;
					if (j)
						j--;
				}
			}
			if (k <= j)
				hi = j;
			else if (k >= i)
				lo = i;
			else
				break;
		}
		return v[k];
	}
}

static inline bool fleet_peak_hour(const struct fleet_wl *w, double t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (w->season == FLEET_DAILY)
		return tm.tm_hour >= 9 && tm.tm_hour < 12;
	if (w->season == FLEET_WEEKLY)
		return tm.tm_wday == 1 && tm.tm_hour >= 9 && tm.tm_hour < 17;
	return false;
}

static inline Podmeter__V1__Resources *fleet_res(struct fx *x, double cpu, double mem)
{
	Podmeter__V1__Resources *r = fx_alloc(x, sizeof(*r));

	podmeter__v1__resources__init(r);
	r->cpu_millicores = cpu < 0 ? -1 : llround(cpu * 1000);
	r->memory_bytes = mem < 0 ? -1 : llround(mem);
	return r;
}

/* Node @node's report for the hour starting at @hour (unix seconds, a multiple of 3600). */
static inline void fleet_report(struct fleet *f, struct fx *x, int node, uint64_t seq, double hour)
{
	char nodename[32], uid[128], pod[128];
	Podmeter__V1__Prices *pr;
	int i, r, t;

	snprintf(nodename, sizeof(nodename), "node-%d", node);
	fx_init(x, f->cluster, nodename, seq, hour, hour + 3600);
	pr = fx_alloc(x, sizeof(*pr));
	podmeter__v1__prices__init(pr);
	pr->cpu_core_hour = f->cpu_price;
	pr->memory_gib_hour = f->mem_price;
	x->r.prices = pr;
	for (i = 0; i < f->n_wl; i++) {
		struct fleet_wl *w = &f->wl[i];
		double mult = fleet_peak_hour(w, hour) ? w->season_mult : 1;

		for (r = node; r < w->replicas; r += f->nodes) {
			Podmeter__V1__PodReport *p;
			Podmeter__V1__ContainerReport *c;
			struct pm_dist d;
			double sum = 0, peak;
			double cost_cpu = fmax(w->req_cpu, 0) * f->cpu_price * 1e9;

			if (x->r.n_pods == 64)
				break;
			snprintf(uid, sizeof(uid), "uid-%s-%s-%d", w->ns, w->name, r);
			snprintf(pod, sizeof(pod), "%s-%d", w->name, r);
			dist__init(&d);
			for (t = 0; t < FLEET_TICKS; t++) {
				double v = fleet_draw(f, w) * mult;

				sum += v * FLEET_TICK_S;
				dist__add(&d, v, FLEET_TICK_S * 1000.0);
			}
			p = fx_pod(x, uid, w->ns, pod, w->kind, w->name, (uint64_t)cost_cpu,
				   (uint64_t)(fmax(w->req_mem, 0) / (1 << 30) * f->mem_price *
					      1e9));
			p->cpu_usec = (uint64_t)llround(sum * 1e6);
			p->runqueue_usec = (uint64_t)llround(sum * 1e6 * w->rq_ratio);
			c = fx_container(x, p, w->container, &d);
			dist__free(&d);
			c->requests = fleet_res(x, w->req_cpu, w->req_mem);
			c->limits = fleet_res(x, w->lim_cpu, w->lim_mem);
			c->cpu_usec = p->cpu_usec;
			peak = w->mem_peak * (0.85 + 0.15 * fleet_u(f));
			if (fleet_u(f) < 0.05)
				peak = w->mem_peak;
			peak = floor(peak);
			w->emitted_peak = fmax(w->emitted_peak, peak);
			c->memory_working_set_peak_bytes = (uint64_t)peak;
			p->memory_peak_bytes = (uint64_t)peak;
			p->memory_avg_bytes = (uint64_t)(peak * 0.8);
			/* whole kills an hour, and the fraction as a chance of one more */
			c->oom_kills = (uint64_t)floor(w->ooms_per_hour) +
				       (fleet_u(f) < w->ooms_per_hour - floor(w->ooms_per_hour));
			p->oom_kills = c->oom_kills;
			c->cpu_throttled_usec = (uint64_t)llround(sum * 1e6 * w->thr_ratio);
			c->cpu_throttled_periods = c->cpu_throttled_usec / 1000;
		}
	}
}

#endif /* PODMETER_TEST_REC_FLEET_H */
