// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One pod's models, updated together once per tick. */
#include <errno.h>
#include <math.h>
#include <podmeter/model.h>

void pod_model__init(struct pm_pod_model *m)
{
	const struct pm_change_cfg cc = {
		.method = PM_CHANGE_CUSUM,
		.k = PM_CHANGE_K,
		.h = PM_CHANGE_H,
		.warmup = PM_CHANGE_WARMUP,
		.min_sigma = PM_POD_COST_RESOLUTION,
	};
	const struct pm_seasonal_cfg sc = {
		.slots = PM_POD_SLOTS,
		.slot_s = PM_POD_SLOT_S,
		.alpha = PM_SEASONAL_ALPHA,
		.beta = PM_SEASONAL_BETA,
		.gamma = PM_SEASONAL_GAMMA,
	};

	/* constant, valid settings: none of these can fail */
	ewma__init(&m->cpu_ewma, PM_POD_EWMA_HALF_LIFE_S, PM_POD_CPU_RESOLUTION);
	ewma__init(&m->mem_ewma, PM_POD_EWMA_HALF_LIFE_S, PM_POD_MEM_RESOLUTION);
	change__init(&m->cost, &cc);
	seasonal__init(&m->cpu_season, &sc);
}

static bool pod_model_valid(double v)
{
	return isfinite(v) && v >= 0 && v <= PM_MODEL_VALUE_MAX;
}

int pod_model__update(struct pm_pod_model *m, double t, double cpu, double mem, double cost,
		      struct pm_change_alarm *alarm)
{
	if (!isfinite(t) || fabs(t) >= PM_MODEL_TIME_MAX || !pod_model_valid(cpu) || !pod_model_valid(mem) ||
	    !pod_model_valid(cost))
		return -EINVAL;
	if (m->cpu_ewma.n && t <= m->cpu_ewma.t)
		return -EINVAL;
	/* validated above: none of these fails */
	ewma__update(&m->cpu_ewma, t, cpu);
	ewma__update(&m->mem_ewma, t, mem);
	seasonal__update(&m->cpu_season, t, cpu);
	return change__update(&m->cost, cost, alarm);
}
