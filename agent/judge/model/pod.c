// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One pod's detectors, updated together once per tick. */
#include <errno.h>
#include <math.h>
#include <podmeter/model.h>

int pod_model__init(struct pm_pod_model *m, double day_s)
{
	struct pm_anomaly_cfg c;
	int ret;

	anomaly__defaults(&c);
	c.day_s = day_s;
	c.resolution = PM_POD_COST_RESOLUTION;
	ret = anomaly__init(&m->cost, &c);
	if (ret)
		return ret;
	c.resolution = PM_POD_CPU_RESOLUTION;
	return anomaly__init(&m->cpu, &c);
}

static bool pod_model_valid(double v)
{
	return isfinite(v) && v >= 0 && v <= PM_MODEL_VALUE_MAX;
}

int pod_model__update(struct pm_pod_model *m, double t, double cpu, double cost,
		      struct pm_anomaly_result *cost_res, struct pm_anomaly_result *cpu_res)
{
	if (!isfinite(t) || fabs(t) >= PM_MODEL_TIME_MAX || !pod_model_valid(cpu) ||
	    !pod_model_valid(cost))
		return -EINVAL;
	if (m->cpu.n && t < m->cpu.t)
		return -EINVAL;
	/* validated above: neither fails */
	anomaly__update(&m->cost, t, cost, cost_res);
	anomaly__update(&m->cpu, t, cpu, cpu_res);
	return 0;
}
