// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Prometheus text exposition format 0.0.4 of a snapshot. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <podmeter/exporter.h>

/* The escape sequence for @c inside a label value, or NULL to copy it verbatim. */
static const char *prom_escape_char(char c)
{
	switch (c) {
	case '\\':
		return "\\\\";
	case '"':
		return "\\\"";
	case '\n':
		return "\\n";
	default:
		return NULL;
	}
}

int prom__escape_label(char *dst, size_t dstlen, const char *src)
{
	const char *esc;
	size_t n = 0, need;

	for (; *src; src++) {
		esc = prom_escape_char(*src);
		need = esc ? strlen(esc) : 1;
		if (n + need + 1 > dstlen || n + need > INT_MAX)
			return -ENOSPC;
		if (esc)
			memcpy(dst + n, esc, need);
		else
			dst[n] = *src;
		n += need;
	}
	if (!dstlen)
		return -ENOSPC;
	dst[n] = '\0';
	return (int)n;
}

static void prom_put_label(FILE *f, const char *name, const char *val, bool first)
{
	const char *esc;

	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (val = val ? val : ""; *val; val++) {
		esc = prom_escape_char(*val);
		if (esc)
			fputs(esc, f);
		else
			fputc(*val, f);
	}
	fputc('"', f);
}

/* %.17g round-trips a double: counters of seconds keep ns over years. */
static void prom_put_value(FILE *f, double v)
{
	if (isnan(v))
		fputs(" NaN\n", f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
	else
		fprintf(f, " %.17g\n", v);
}

static void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A pod's value for a family; NaN leaves the pod out of it. */
typedef double (*prom_pod_value_fn)(const struct pm_pod_snap *p);

static void prom_pod_labels(FILE *f, const char *name, const struct pm_pod_snap *p)
{
	fprintf(f, "%s{", name);
	prom_put_label(f, "namespace", p->namespace_, true);
	prom_put_label(f, "pod", p->name, false);
	prom_put_label(f, "uid", p->uid, false);
}

static void prom_pod_family(FILE *f, const struct pm_snapshot *s, const char *name,
			    const char *type, const char *help, prom_pod_value_fn value)
{
	size_t i;

	prom_family(f, name, type, help);
	for (i = 0; i < s->n_pods; i++) {
		double v = value(&s->pods[i]);

		if (isnan(v))
			continue;
		prom_pod_labels(f, name, &s->pods[i]);
		fputc('}', f);
		prom_put_value(f, v);
	}
}

static double pod_cpu(const struct pm_pod_snap *p)
{
	return p->cpu_seconds;
}

static double pod_runq(const struct pm_pod_snap *p)
{
	return p->runq_seconds;
}

static double pod_working_set(const struct pm_pod_snap *p)
{
	return p->working_set_bytes < 0 ? NAN : (double)p->working_set_bytes;
}

static double pod_faults(const struct pm_pod_snap *p)
{
	return (double)p->page_faults;
}

static double pod_ooms(const struct pm_pod_snap *p)
{
	return (double)p->oom_kills;
}

static double pod_throttled_periods(const struct pm_pod_snap *p)
{
	return (double)p->throttled_periods;
}

static double pod_throttled_seconds(const struct pm_pod_snap *p)
{
	return p->throttled_usec / 1e6;
}

static void prom_write_rss(FILE *f, const struct pm_snapshot *s)
{
	const char *name = "podmeter_pod_memory_rss_bytes";
	size_t i, k;

	prom_family(
		f, name, "gauge",
		"Resident memory of the pod's processes by kind (their mm counters), in bytes.");
	for (i = 0; i < s->n_pods; i++) {
		for (k = 0; k < PM_MEM_KINDS; k++) {
			prom_pod_labels(f, name, &s->pods[i]);
			prom_put_label(f, "kind", names__mem_kind(k), false);
			fputc('}', f);
			prom_put_value(f, (double)s->pods[i].rss_bytes[k]);
		}
	}
}

static void prom_write_net(FILE *f, const struct pm_snapshot *s)
{
	const char *bytes = "podmeter_pod_network_bytes_total";
	const char *packets = "podmeter_pod_network_packets_total";
	size_t i, d, k;

	prom_family(f, bytes, "counter",
		    "IP bytes the pod's sockets sent (tx) or received (rx), by the peer's "
		    "network class.");
	for (i = 0; i < s->n_pods; i++) {
		for (d = 0; d < PM_NET_DIRS; d++) {
			for (k = 0; k < PM_NET_CLASSES; k++) {
				prom_pod_labels(f, bytes, &s->pods[i]);
				prom_put_label(f, "direction", names__net_dir(d), false);
				prom_put_label(f, "class", names__net_class(k), false);
				fputc('}', f);
				prom_put_value(f, (double)s->pods[i].net_bytes[d][k]);
			}
		}
	}
	prom_family(f, packets, "counter", "IP packets the pod's sockets sent or received.");
	for (i = 0; i < s->n_pods; i++) {
		for (d = 0; d < PM_NET_DIRS; d++) {
			uint64_t n = 0;

			for (k = 0; k < PM_NET_CLASSES; k++)
				n += s->pods[i].net_packets[d][k];
			prom_pod_labels(f, packets, &s->pods[i]);
			prom_put_label(f, "direction", names__net_dir(d), false);
			fputc('}', f);
			prom_put_value(f, (double)n);
		}
	}
}

static double pod_retransmits(const struct pm_pod_snap *p)
{
	return (double)p->tcp_retransmits;
}

static double pod_procs(const struct pm_pod_snap *p)
{
	return (double)p->processes;
}

static double pod_zombies(const struct pm_pod_snap *p)
{
	return (double)p->zombies;
}

static double pod_starts(const struct pm_pod_snap *p)
{
	return (double)p->process_starts;
}

static double pod_cpu_request(const struct pm_pod_snap *p)
{
	return p->cpu_request_milli < 0 ? NAN : p->cpu_request_milli / 1000.0;
}

static double pod_cpu_limit(const struct pm_pod_snap *p)
{
	return p->cpu_limit_milli < 0 ? NAN : p->cpu_limit_milli / 1000.0;
}

static double pod_mem_request(const struct pm_pod_snap *p)
{
	return p->memory_request_bytes < 0 ? NAN : (double)p->memory_request_bytes;
}

static double pod_mem_limit(const struct pm_pod_snap *p)
{
	return p->memory_limit_bytes < 0 ? NAN : (double)p->memory_limit_bytes;
}

static double pod_gpu_request(const struct pm_pod_snap *p)
{
	return p->has_meta ? (double)p->gpu_request : NAN;
}

static double pod_gpu_limit(const struct pm_pod_snap *p)
{
	return p->has_meta ? (double)p->gpu_limit : NAN;
}

/* For joins: one series a pod, value 1, carrying its identity. */
static void prom_write_info(FILE *f, const struct pm_snapshot *s)
{
	const char *name = "podmeter_pod_info";
	size_t i;

	prom_family(f, name, "gauge", "A pod's identity: owner, QoS class and node (value 1).");
	for (i = 0; i < s->n_pods; i++) {
		const struct pm_pod_snap *p = &s->pods[i];

		fprintf(f, "%s{", name);
		prom_put_label(f, "uid", p->uid, true);
		prom_put_label(f, "namespace", p->namespace_, false);
		prom_put_label(f, "pod", p->name, false);
		prom_put_label(f, "owner_kind", p->owner_kind, false);
		prom_put_label(f, "owner_name", p->owner_name, false);
		prom_put_label(f, "qos", names__qos(p->qos), false);
		prom_put_label(f, "node", p->node, false);
		fputs("} 1\n", f);
	}
}

static void prom_write_requests(FILE *f, const struct pm_snapshot *s)
{
	prom_pod_family(f, s, "podmeter_pod_cpu_request_cores", "gauge",
			"CPU the pod's containers request, in cores.", pod_cpu_request);
	prom_pod_family(f, s, "podmeter_pod_cpu_limit_cores", "gauge",
			"CPU limit of the pod's containers, in cores.", pod_cpu_limit);
	prom_pod_family(f, s, "podmeter_pod_memory_request_bytes", "gauge",
			"Memory the pod's containers request, in bytes.", pod_mem_request);
	prom_pod_family(f, s, "podmeter_pod_memory_limit_bytes", "gauge",
			"Memory limit of the pod's containers, in bytes.", pod_mem_limit);
	prom_pod_family(f, s, "podmeter_pod_gpu_request", "gauge",
			"GPUs the pod's containers request.", pod_gpu_request);
	prom_pod_family(f, s, "podmeter_pod_gpu_limit", "gauge",
			"GPU limit of the pod's containers.", pod_gpu_limit);
}

/* One family of per-pod dollars by resource: cost (all four) or waste (cpu, memory). */
static void prom_write_dollars(FILE *f, const struct pm_snapshot *s, bool waste)
{
	const char *name = waste ? "podmeter_pod_waste_dollars_total"
				 : "podmeter_pod_cost_dollars_total";
	/* waste: gpu only where GPU work is measured; network has none */
	int r, n = waste	? (s->has_gpu || s->has_cuda ? PM_RES_NETWORK : PM_RES_GPU)
		   : s->has_net ? PM_RES_MAX
				: PM_RES_NETWORK;
	size_t i;

	prom_family(
		f, name, "counter",
		waste ? "Requested and unused, priced: (request - usage) x time x price; GPUs "
			"with no launch and no driver call, in dollars."
		      : "Cost allocated to the pod: max(request, usage) x time x price; GPUs by "
			"request; network by egress bytes per class, in dollars.");
	for (i = 0; i < s->n_pods; i++) {
		for (r = 0; r < n; r++) {
			prom_pod_labels(f, name, &s->pods[i]);
			prom_put_label(f, "resource", names__res(r), false);
			fputc('}', f);
			prom_put_value(f, waste ? s->pods[i].waste_dollars[r]
						: s->pods[i].cost_dollars[r]);
		}
	}
}

static bool pod_uses_cuda(const struct pm_pod_snap *p)
{
	const struct pm_cuda_snap *c = &p->cuda;

	return c->launches || c->allocs || c->frees || c->memory_bytes || c->memcpy_bytes ||
	       c->sync_calls;
}

static double pod_gpu_launches(const struct pm_pod_snap *p)
{
	return pod_uses_cuda(p) ? (double)p->cuda.launches : NAN;
}

static double pod_gpu_memory(const struct pm_pod_snap *p)
{
	return pod_uses_cuda(p) ? (double)p->cuda.memory_bytes : NAN;
}

static double pod_gpu_memcpy(const struct pm_pod_snap *p)
{
	return pod_uses_cuda(p) ? (double)p->cuda.memcpy_bytes : NAN;
}

static double pod_gpu_sync(const struct pm_pod_snap *p)
{
	return pod_uses_cuda(p) ? p->cuda.sync_ns / 1e9 : NAN;
}

static double pod_gpu_jobs(const struct pm_pod_snap *p)
{
	return p->gpu_jobs ? (double)p->gpu_jobs : NAN;
}

static double pod_gpu_util(const struct pm_pod_snap *p)
{
	return p->gpu_utilization < 0 ? NAN : p->gpu_utilization;
}

/* Driver calls by (device, op), and time in them by device: only pods that made some. */
static void prom_write_gpu_driver(FILE *f, const struct pm_snapshot *s)
{
	const char *calls = "podmeter_pod_gpu_driver_calls_total";
	const char *secs = "podmeter_pod_gpu_driver_seconds_total";
	size_t i, j, k;

	prom_family(f, calls, "counter",
		    "ioctl calls the pod's processes made on GPU device files, by device and op.");
	for (i = 0; i < s->n_pods; i++) {
		const struct pm_pod_snap *p = &s->pods[i];

		for (j = 0; j < p->n_gpu_ops; j++) {
			prom_pod_labels(f, calls, p);
			prom_put_label(f, "device", p->gpu_ops[j].device, false);
			prom_put_label(f, "op", names__gpu_op(p->gpu_ops[j].op), false);
			fputc('}', f);
			prom_put_value(f, (double)p->gpu_ops[j].calls);
		}
	}
	prom_family(
		f, secs, "counter",
		"Time the pod's processes spent in ioctl calls on GPU device files, by device.");
	for (i = 0; i < s->n_pods; i++) {
		const struct pm_pod_snap *p = &s->pods[i];

		for (j = 0; j < p->n_gpu_ops; j++) {
			uint64_t ns = 0;
			bool first = true;

			/* one series per device: sum its ops, at the device's first entry */
			for (k = 0; k < j && first; k++)
				first = strcmp(p->gpu_ops[k].device, p->gpu_ops[j].device) != 0;
			if (!first)
				continue;
			for (k = j; k < p->n_gpu_ops; k++)
				if (!strcmp(p->gpu_ops[k].device, p->gpu_ops[j].device))
					ns += p->gpu_ops[k].ns;
			prom_pod_labels(f, secs, p);
			prom_put_label(f, "device", p->gpu_ops[j].device, false);
			fputc('}', f);
			prom_put_value(f, ns / 1e9);
		}
	}
}

static void prom_write_gpu(FILE *f, const struct pm_snapshot *s)
{
	if (s->has_gpu) {
		prom_write_gpu_driver(f, s);
		prom_pod_family(f, s, "podmeter_pod_gpu_jobs_total", "counter",
				"Jobs the pod's processes queued to DRM GPU schedulers (pods that "
				"queued some).",
				pod_gpu_jobs);
	}
	if (!s->has_cuda)
		return;
	prom_pod_family(
		f, s, "podmeter_pod_gpu_kernel_launches_total", "counter",
		"CUDA kernel launches (cuLaunchKernel, cuLaunchKernelEx) of pods using CUDA.",
		pod_gpu_launches);
	prom_pod_family(f, s, "podmeter_pod_gpu_memory_bytes", "gauge",
			"GPU memory the pod holds through cuMemAlloc, in bytes.", pod_gpu_memory);
	prom_pod_family(f, s, "podmeter_pod_gpu_memcpy_bytes_total", "counter",
			"Bytes the pod copied with cuMemcpy*.", pod_gpu_memcpy);
	prom_pod_family(f, s, "podmeter_pod_gpu_sync_seconds_total", "counter",
			"Time the pod waited in cuCtxSynchronize, in seconds.", pod_gpu_sync);
	prom_pod_family(f, s, "podmeter_pod_gpu_utilization_ratio", "gauge",
			"SM utilisation of the pod's processes (NVML), 0 to 1.", pod_gpu_util);
}

static double pod_idle(const struct pm_pod_snap *p)
{
	return p->idle;
}

static double pod_idle_seconds(const struct pm_pod_snap *p)
{
	return p->idle_seconds;
}

/* Zombie flags: every kind of the pods with at least one, 0 or 1. */
static void prom_write_judgement(FILE *f, const struct pm_snapshot *s)
{
	const char *name = "podmeter_pod_zombie";
	size_t i;
	int k;

	prom_pod_family(f, s, "podmeter_pod_idle", "gauge",
			"1 when the pod stayed under its idle thresholds for the idle window "
			"(and is no zombie).",
			pod_idle);
	prom_pod_family(f, s, "podmeter_pod_idle_seconds", "gauge",
			"How long an idle pod has been idle, in seconds; 0 when not idle.",
			pod_idle_seconds);
	prom_family(f, name, "gauge",
		    "1 when the pod is a zombie of this kind: process (unreaped children), "
		    "workload (holds memory, does no work), orphan (not listed by the kubelet), "
		    "gpu (holds GPU memory, launches nothing); pods with none are left out.");
	for (i = 0; i < s->n_pods; i++) {
		if (!s->pods[i].zombie_mask)
			continue;
		for (k = 0; k < PM_ZOMBIE_KINDS; k++) {
			prom_pod_labels(f, name, &s->pods[i]);
			prom_put_label(f, "kind", names__zombie(k), false);
			fputc('}', f);
			prom_put_value(f, (s->pods[i].zombie_mask >> k) & 1);
		}
	}
}

static double pod_anomalies(const struct pm_pod_snap *p)
{
	return (double)p->anomalies;
}

static bool pod_has_rec(const struct pm_pod_snap *p)
{
	size_t i;

	for (i = 0; i < p->n_containers; i++)
		if (p->containers[i].rec_cpu_cores >= 0)
			return true;
	return false;
}

static double pod_savings(const struct pm_pod_snap *p)
{
	return pod_has_rec(p) ? p->savings_dollars_month : NAN;
}

/* Per container: its name, or its id when the kubelet gave none. */
static void prom_write_rec(FILE *f, const struct pm_snapshot *s, bool memory)
{
	const char *name = memory ? "podmeter_pod_recommended_memory_bytes"
				  : "podmeter_pod_recommended_cpu_cores";
	size_t i, j;

	prom_family(f, name, "gauge",
		    memory ? "Recommended memory request: peak working set x headroom (>= 20 MiB)."
			   : "Recommended CPU request: usage quantile / target utilisation "
			     "(>= 10m).");
	for (i = 0; i < s->n_pods; i++) {
		for (j = 0; j < s->pods[i].n_containers; j++) {
			const struct pm_container_snap *c = &s->pods[i].containers[j];

			if (c->rec_cpu_cores < 0)
				continue;
			prom_pod_labels(f, name, &s->pods[i]);
			prom_put_label(f, "container", c->name[0] ? c->name : c->id, false);
			fputc('}', f);
			prom_put_value(f, memory ? c->rec_memory_bytes : c->rec_cpu_cores);
		}
	}
}

/* Only pods with a refusal: the series exists once something was refused. */
static void prom_write_refusals(FILE *f, const struct pm_snapshot *s)
{
	const char *name = "podmeter_pod_table_refusals_total";
	size_t i;
	int t;

	prom_family(f, name, "counter",
		    "Entries the pod's events needed in a kernel table that its share or the "
		    "table's size refused; what they carried is not counted.");
	for (i = 0; i < s->n_pods; i++) {
		for (t = 0; t < PM_SNAP_TABLES; t++) {
			if (!s->pods[i].table_refusals[t])
				continue;
			prom_pod_labels(f, name, &s->pods[i]);
			prom_put_label(f, "table", names__table(t), false);
			fputc('}', f);
			prom_put_value(f, (double)s->pods[i].table_refusals[t]);
		}
	}
}

static void prom_write_pods(FILE *f, const struct pm_snapshot *s)
{
	prom_write_judgement(f, s);
	prom_pod_family(f, s, "podmeter_pod_anomalies_total", "counter",
			"Changes in the pod's cost rate found by its change detector.",
			pod_anomalies);
	prom_write_rec(f, s, false);
	prom_write_rec(f, s, true);
	prom_pod_family(f, s, "podmeter_pod_recommended_savings_dollars_per_month", "gauge",
			"What moving the requests to the recommendations would save a month "
			"(negative: cost more), in dollars.",
			pod_savings);
	prom_write_gpu(f, s);
	prom_write_dollars(f, s, false);
	prom_write_dollars(f, s, true);
	prom_write_info(f, s);
	prom_write_requests(f, s);
	/* per-container series are off by default: they multiply cardinality */
	prom_pod_family(f, s, "podmeter_pod_cpu_seconds_total", "counter",
			"CPU time the pod's processes ran, in seconds.", pod_cpu);
	prom_pod_family(f, s, "podmeter_pod_cpu_runqueue_seconds_total", "counter",
			"Time the pod's runnable tasks waited on a run queue, in seconds.",
			pod_runq);
	prom_pod_family(f, s, "podmeter_pod_cpu_throttled_periods_total", "counter",
			"CFS periods in which the pod's containers were throttled by their CPU "
			"limit (cpu.stat nr_throttled).",
			pod_throttled_periods);
	prom_pod_family(f, s, "podmeter_pod_cpu_throttled_seconds_total", "counter",
			"Time the pod's containers were throttled by their CPU limit (cpu.stat "
			"throttled_usec), in seconds.",
			pod_throttled_seconds);
	prom_write_rss(f, s);
	prom_pod_family(f, s, "podmeter_pod_memory_working_set_bytes", "gauge",
			"Memory cgroup usage less inactive file pages, in bytes.", pod_working_set);
	prom_pod_family(f, s, "podmeter_pod_page_faults_total", "counter",
			"User page faults of the pod's processes.", pod_faults);
	prom_pod_family(f, s, "podmeter_pod_oom_kills_total", "counter",
			"Processes of the pod chosen as OOM victims.", pod_ooms);
	prom_pod_family(f, s, "podmeter_pod_processes", "gauge", "Processes in the pod's cgroups.",
			pod_procs);
	prom_pod_family(
		f, s, "podmeter_pod_zombie_processes", "gauge",
		"Processes that exited and were not reaped for longer than the grace period.",
		pod_zombies);
	prom_pod_family(f, s, "podmeter_pod_process_starts_total", "counter",
			"Processes started in the pod (threads not counted).", pod_starts);
	prom_write_refusals(f, s);
	if (!s->has_net)
		return;
	prom_write_net(f, s);
	prom_pod_family(f, s, "podmeter_pod_tcp_retransmits_total", "counter",
			"TCP segments the pod's sockets retransmitted.", pod_retransmits);
}

static void prom_write_node(FILE *f, const struct pm_snapshot *s)
{
	prom_family(f, "podmeter_node_cpu_seconds_total", "counter",
		    "CPU time on this node in pods, or outside pods (overhead); idle excluded.");
	fputs("podmeter_node_cpu_seconds_total{scope=\"pods\"}", f);
	prom_put_value(f, s->node_cpu_pods_seconds);
	fputs("podmeter_node_cpu_seconds_total{scope=\"overhead\"}", f);
	prom_put_value(f, s->node_cpu_overhead_seconds);
	if (s->node_memory_overhead_bytes >= 0) {
		prom_family(f, "podmeter_node_memory_overhead_bytes", "gauge",
			    "Memory in use on the node (MemTotal - MemAvailable) outside the pods' "
			    "working sets, in bytes.");
		fputs("podmeter_node_memory_overhead_bytes", f);
		prom_put_value(f, (double)s->node_memory_overhead_bytes);
	}
}

static void prom_write_node_cost(FILE *f, const struct pm_snapshot *s)
{
	static const char *const units[] = { "core_hour", "gib_hour", "gpu_hour" };
	static const char *const capacity[] = {
		"podmeter_node_cpu_cores",
		"podmeter_node_memory_bytes",
		"podmeter_node_gpus",
	};
	int r;

	prom_family(f, "podmeter_node_idle_cost_dollars_total", "counter",
		    "Node price less the cost allocated to pods (usage outside pods included), "
		    "in dollars.");
	for (r = 0; r < PM_RES_NETWORK; r++) {
		fprintf(f, "podmeter_node_idle_cost_dollars_total{resource=\"%s\"}", names__res(r));
		prom_put_value(f, s->node_idle_cost_dollars[r]);
	}
	prom_family(f, "podmeter_node_overhead_cost_dollars_total", "counter",
		    "Usage outside pods, priced, in dollars (also part of the idle cost).");
	for (r = 0; r < PM_RES_GPU; r++) {
		fprintf(f, "podmeter_node_overhead_cost_dollars_total{resource=\"%s\"}",
			names__res(r));
		prom_put_value(f, s->node_overhead_cost_dollars[r]);
	}
	prom_family(f, "podmeter_price_dollars", "gauge",
		    "Hourly price in use per unit of each resource.");
	for (r = 0; r < PM_RES_NETWORK; r++) {
		fprintf(f, "podmeter_price_dollars{resource=\"%s\",unit=\"%s\"}", names__res(r),
			units[r]);
		prom_put_value(f, s->price[r]);
	}
	prom_family(f, "podmeter_egress_price_dollars_per_gib", "gauge",
		    "Price of egress per GiB, by the peer's network class.");
	for (r = 0; r < PM_NET_CLASSES; r++) {
		fprintf(f, "podmeter_egress_price_dollars_per_gib{class=\"%s\"}",
			names__net_class(r));
		prom_put_value(f, s->egress_price_gib[r]);
	}
	for (r = 0; r < PM_RES_NETWORK; r++) {
		prom_family(f, capacity[r], "gauge", "What the node is priced for.");
		fputs(capacity[r], f);
		prom_put_value(f, s->capacity[r]);
	}
}

static void prom_oh_labels(FILE *f, const char *family, const struct pm_overhead_snap *g)
{
	fprintf(f, "%s{", family);
	prom_put_label(f, "group", g->name, true);
	prom_put_label(f, "kind", names__oh_kind(g->kind), false);
}

/* The top groups by cost and one "other": a bounded set of series that adds up to the node's. */
static int prom_write_overhead(FILE *f, const struct pm_snapshot *s)
{
	struct pm_overhead_snap *rows;
	long n = snapshot__overhead_rows(s, &rows), i;
	int r;

	if (n < 0)
		return (int)n;
	prom_family(f, "podmeter_overhead_cpu_seconds_total", "counter",
		    "CPU time outside pods by systemd unit, slice or container; \"other\" holds "
		    "the rest of the node's overhead.");
	for (i = 0; i < n; i++) {
		prom_oh_labels(f, "podmeter_overhead_cpu_seconds_total", &rows[i]);
		fputc('}', f);
		prom_put_value(f, rows[i].cpu_seconds);
	}
	prom_family(f, "podmeter_overhead_memory_bytes", "gauge",
		    "Working set outside pods by unit, slice or container (usage less inactive "
		    "file pages); \"other\" holds the rest of the node's memory overhead.");
	for (i = 0; i < n; i++) {
		if (rows[i].memory_bytes < 0)
			continue;
		prom_oh_labels(f, "podmeter_overhead_memory_bytes", &rows[i]);
		fputc('}', f);
		prom_put_value(f, (double)rows[i].memory_bytes);
	}
	if (s->has_net) {
		prom_family(f, "podmeter_overhead_network_bytes_total", "counter",
			    "Bytes sent (tx) and received (rx) by sockets outside pods, by unit, "
			    "slice or container.");
		for (i = 0; i < n; i++) {
			for (r = 0; r < PM_NET_DIRS; r++) {
				prom_oh_labels(f, "podmeter_overhead_network_bytes_total",
					       &rows[i]);
				fprintf(f, ",direction=\"%s\"}", names__net_dir(r));
				prom_put_value(f, (double)rows[i].net_bytes[r]);
			}
		}
	}
	prom_family(f, "podmeter_overhead_cost_dollars_total", "counter",
		    "Node overhead cost by unit, slice or container, in dollars; the rows add up "
		    "to podmeter_node_overhead_cost_dollars_total.");
	for (i = 0; i < n; i++) {
		for (r = 0; r < PM_RES_GPU; r++) {
			prom_oh_labels(f, "podmeter_overhead_cost_dollars_total", &rows[i]);
			fprintf(f, ",resource=\"%s\"}", names__res(r));
			prom_put_value(f, rows[i].cost_dollars[r]);
		}
	}
	free(rows);
	return 0;
}

static void prom_write_collect(FILE *f, const struct pm_agent_stats *a)
{
	int i;

	prom_family(f, "podmeter_agent_collect_duration_seconds", "summary",
		    "Time the agent spent collecting, in seconds.");
	fputs("podmeter_agent_collect_duration_seconds_sum", f);
	prom_put_value(f, a->collect_seconds_sum);
	fprintf(f, "podmeter_agent_collect_duration_seconds_count %" PRIu64 "\n", a->collections);

	prom_family(f, "podmeter_agent_last_collect_duration_seconds", "gauge",
		    "Duration of the last collection, in seconds.");
	fputs("podmeter_agent_last_collect_duration_seconds", f);
	prom_put_value(f, a->collect_seconds_last);

	prom_family(f, "podmeter_agent_map_insert_failures_total", "counter",
		    "Entries a full BPF map could not take; non-zero means lost samples.");
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"cpu_stats\"} %" PRIu64 "\n",
		a->cgroup_insert_failures);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"cg_born\"} %" PRIu64 "\n",
		a->born_lost);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"mem_events\"} %" PRIu64 "\n",
		a->mem_insert_failures);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"mm_state\"} %" PRIu64 "\n",
		a->mm_insert_failures);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"oom_events\"} %" PRIu64 "\n",
		a->oom_lost);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"net_stats\"} %" PRIu64 "\n",
		a->net_insert_failures);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"gpu_stats\"} %" PRIu64 "\n",
		a->gpu_insert_failures);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"cuda_stats\"} %" PRIu64 "\n",
		a->cuda_insert_failures);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"proc_stats\"} %" PRIu64 "\n",
		a->proc_insert_failures);
	fprintf(f, "podmeter_agent_map_insert_failures_total{map=\"exited\"} %" PRIu64 "\n",
		a->exited_insert_failures);

	prom_family(f, "podmeter_agent_exited_stale_total", "counter",
		    "Exited-process entries dropped because /proc no longer showed that zombie "
		    "(the process's free event was not seen).");
	fprintf(f, "podmeter_agent_exited_stale_total %" PRIu64 "\n", a->exited_stale);

	prom_family(f, "podmeter_agent_table_refusals_total", "counter",
		    "Entries kernel tables refused on the whole node, by table (a pod over its "
		    "share, or a full table).");
	for (i = 0; i < PM_SNAP_TABLES; i++)
		fprintf(f, "podmeter_agent_table_refusals_total{table=\"%s\"} %" PRIu64 "\n",
			names__table(i), a->table_refusals[i]);

	prom_family(f, "podmeter_agent_cuda_library_refusals_total", "counter",
		    "libcuda files pods map that were not probed, by reason.");
	for (i = 0; i < PM_CUDA_REFUSE_MAX; i++)
		if (names__cuda_refusal(i))
			fprintf(f,
				"podmeter_agent_cuda_library_refusals_total{reason=\"%s\"} %" PRIu64
				"\n",
				names__cuda_refusal(i), a->cuda_refusals[i]);

	prom_family(f, "podmeter_agent_kubelet_errors_total", "counter",
		    "Requests to the kubelet's /pods that failed or returned no PodList.");
	fprintf(f, "podmeter_agent_kubelet_errors_total %" PRIu64 "\n", a->kubelet_errors);

	prom_family(f, "podmeter_agent_sched_resyncs_total", "counter",
		    "Context switches that never reached the tracepoint, closed from the kernel's "
		    "own marks.");
	fprintf(f, "podmeter_agent_sched_resyncs_total %" PRIu64 "\n", a->sched_resyncs);

	prom_family(
		f, "podmeter_agent_sched_lost_total", "counter",
		"Of those, what could not be charged: a slice the switches around it did not "
		"bound (part=\"slice\"), or a run-queue wait before a migration whose start the "
		"CPU had forgotten (part=\"wait\").");
	fprintf(f, "podmeter_agent_sched_lost_total{part=\"slice\"} %" PRIu64 "\n",
		a->sched_slices_lost);
	fprintf(f, "podmeter_agent_sched_lost_total{part=\"wait\"} %" PRIu64 "\n",
		a->sched_waits_lost);
}

static void prom_counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	prom_family(f, name, "counter", help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void prom_write_reports(FILE *f, const struct pm_report_stats *r)
{
	if (!r->enabled)
		return;
	prom_counter(f, "podmeter_agent_reports_written_total", "Reports written to the spool.",
		     r->written);
	prom_counter(f, "podmeter_agent_reports_sent_total",
		     "Reports the reconciler answered 2xx (then deleted).", r->sent);
	prom_counter(f, "podmeter_agent_reports_retries_total",
		     "Sends retried after an error, a timeout or a 5xx/408/429.", r->retries);
	prom_counter(f, "podmeter_agent_reports_rejected_total",
		     "Reports the reconciler refused with another 4xx (kept in rejected/).",
		     r->rejected);
	prom_counter(f, "podmeter_agent_reports_dropped_total",
		     "Reports dropped: the oldest, to keep the spool under its bound, or one "
		     "that could not be stored.",
		     r->dropped);
	prom_counter(f, "podmeter_agent_reports_corrupt_total",
		     "Torn or corrupt spool files found and moved to corrupt/.", r->corrupt);
	prom_family(f, "podmeter_agent_spool_bytes", "gauge", "Bytes of reports in the spool.");
	fprintf(f, "podmeter_agent_spool_bytes %" PRIu64 "\n", r->spool_bytes);
	prom_family(f, "podmeter_agent_spool_reports", "gauge", "Reports in the spool.");
	fprintf(f, "podmeter_agent_spool_reports %" PRIu64 "\n", r->spool_files);
	if (!r->shipping)
		return;
	prom_family(f, "podmeter_agent_reports_last_success_time_seconds", "gauge",
		    "When the reconciler last answered 2xx, since the unix epoch; 0 = never.");
	fputs("podmeter_agent_reports_last_success_time_seconds", f);
	prom_put_value(f, r->last_success);
}

static void prom_write_agent(FILE *f, const struct pm_snapshot *s, const char *version,
			     const char *git_rev)
{
	const struct pm_agent_stats *a = &s->agent;

	prom_write_collect(f, a);
	prom_write_reports(f, &a->reports);
	prom_family(f, "podmeter_agent_pods_tracked", "gauge", "Pods in the current snapshot.");
	fprintf(f, "podmeter_agent_pods_tracked %zu\n", s->n_pods);
	prom_family(f, "podmeter_agent_cgroups_tracked", "gauge",
		    "Cgroups with an entry in the cpu_stats map.");
	fprintf(f, "podmeter_agent_cgroups_tracked %" PRIu64 "\n", a->cgroups_tracked);
	prom_family(f, "podmeter_agent_cgroups_removed_total", "counter",
		    "Dead cgroups read one last time and removed from the maps.");
	fprintf(f, "podmeter_agent_cgroups_removed_total %" PRIu64 "\n", a->cgroups_removed);
	prom_family(
		f, "podmeter_agent_cgroup_walks_total", "counter",
		"Walks of the cgroup hierarchy (every 5 ticks, and when an unknown cgroup shows).");
	fprintf(f, "podmeter_agent_cgroup_walks_total %" PRIu64 "\n", a->walks);
	prom_family(f, "podmeter_agent_cgroup_tree_reads_total", "counter",
		    "Walks that listed the hierarchy's directories (the others took it from the "
		    "records and the cgroup_mkdir/rmdir events).");
	fprintf(f, "podmeter_agent_cgroup_tree_reads_total %" PRIu64 "\n", a->tree_reads);

	prom_family(f, "podmeter_agent_build_info", "gauge",
		    "Agent build and runtime mode; the value is always 1.");
	fputs("podmeter_agent_build_info{", f);
	prom_put_label(f, "version", version, true);
	prom_put_label(f, "git_rev", git_rev, false);
	prom_put_label(f, "hierarchy", a->cgroup_hierarchy, false);
	prom_put_label(f, "attach", a->attach_mode, false);
	fputs("} 1\n", f);

	prom_family(f, "podmeter_agent_start_time_seconds", "gauge",
		    "Start time of the agent since the unix epoch, in seconds.");
	fputs("podmeter_agent_start_time_seconds", f);
	prom_put_value(f, a->start_time);

	prom_family(f, "podmeter_collection_time_seconds", "gauge",
		    "When the collection served began reading the kernel's counters, since the "
		    "unix epoch, in seconds (a scrape within 0.25 s of a collection is served "
		    "that collection).");
	fputs("podmeter_collection_time_seconds", f);
	prom_put_value(f, s->read_time);
}

int prom__write(FILE *f, const struct pm_snapshot *s, const char *version, const char *git_rev)
{
	prom_write_pods(f, s);
	prom_write_node(f, s);
	prom_write_node_cost(f, s);
	if (prom_write_overhead(f, s))
		return -ENOMEM;
	prom_write_agent(f, s, version, git_rev);
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}
