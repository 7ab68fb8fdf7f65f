// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /v1/pods: the current snapshot as JSON (jansson). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <jansson.h>
#include <podmeter/exporter.h>

/*
 * jansson refuses invalid UTF-8; a bad byte from a cgroup path or the kubelet
 * must not take the whole document down, so non-ASCII is replaced then.
 */
static json_t *json_str(const char *s)
{
	char buf[256];
	size_t i;
	json_t *v;

	if (!s)
		s = "";
	v = json_string(s);
	if (v || strlen(s) >= sizeof(buf))
		return v;
	for (i = 0; s[i]; i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

/* JSON has no NaN or infinity: those become null. */
static json_t *json_num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* null where no container sets the resource */
static json_t *json_resources(int64_t cpu_milli, int64_t memory, int64_t gpus)
{
	return json_pack("{s:o,s:o,s:I}", "cpu_cores",
			 cpu_milli < 0 ? json_null() : json_real(cpu_milli / 1000.0),
			 "memory_bytes", memory < 0 ? json_null() : json_integer(memory), "gpus",
			 (json_int_t)gpus);
}

static json_t *json_container(const struct pm_container_snap *c)
{
	json_t *o = json_object();
	int err = 0;

	if (!o)
		return NULL;
	err |= json_object_set_new(o, "id", json_str(c->id));
	err |= json_object_set_new(o, "name", json_str(c->name));
	err |= json_object_set_new(o, "runtime", json_str(names__runtime(c->runtime)));
	err |= json_object_set_new(o, "cpu_seconds", json_num(c->cpu_seconds));
	err |= json_object_set_new(o, "runqueue_seconds", json_num(c->runq_seconds));
	err |= json_object_set_new(o, "working_set_bytes",
				   c->working_set_bytes < 0 ? json_null()
							    : json_integer(c->working_set_bytes));
	err |= json_object_set_new(o, "requests",
				   json_resources(c->cpu_request_milli, c->memory_request_bytes,
						  c->gpu_request));
	err |= json_object_set_new(o, "limits",
				   json_resources(c->cpu_limit_milli, c->memory_limit_bytes,
						  c->gpu_limit));
	err |= json_object_set_new(o, "recommended",
				   c->rec_cpu_cores < 0
					   ? json_null()
					   : json_pack("{s:o,s:o,s:o}", "cpu_cores",
						       json_num(c->rec_cpu_cores), "memory_bytes",
						       json_num(c->rec_memory_bytes), "confidence",
						       json_num(c->rec_confidence)));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *json_containers(const struct pm_pod_snap *p)
{
	json_t *a = json_array();
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < p->n_containers; i++) {
		if (json_array_append_new(a, json_container(&p->containers[i]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* {name(k): v[k]} for k < @n, @name one of the tables of names.h */
static json_t *json_counts(const uint64_t *v, int n, const char *(*name)(int))
{
	json_t *o = json_object();
	int k, err = 0;

	for (k = 0; o && k < n; k++)
		err |= json_object_set_new(o, name(k), json_integer((json_int_t)v[k]));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* the same for values in dollars (or any real) */
static json_t *json_reals(const double *v, int n, const char *(*name)(int))
{
	json_t *o = json_object();
	int k, err = 0;

	for (k = 0; o && k < n; k++)
		err |= json_object_set_new(o, name(k), json_num(v[k]));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *json_memory(const struct pm_pod_snap *p)
{
	return json_pack(
		"{s:o,s:o,s:I,s:I}", "rss_bytes",
		json_counts(p->rss_bytes, PM_MEM_KINDS, names__mem_kind), "working_set_bytes",
		p->working_set_bytes < 0 ? json_null() : json_integer(p->working_set_bytes),
		"page_faults", (json_int_t)p->page_faults, "oom_kills", (json_int_t)p->oom_kills);
}

static json_t *json_net_dir(const struct pm_pod_snap *p, int d)
{
	uint64_t packets = 0;
	int k;

	for (k = 0; k < PM_NET_CLASSES; k++)
		packets += p->net_packets[d][k];
	return json_pack("{s:I,s:o}", "packets", (json_int_t)packets, "bytes",
			 json_counts(p->net_bytes[d], PM_NET_CLASSES, names__net_class));
}

static json_t *json_network(const struct pm_pod_snap *p)
{
	return json_pack("{s:o,s:o,s:I}", names__net_dir(PM_NET_TX), json_net_dir(p, PM_NET_TX),
			 names__net_dir(PM_NET_RX), json_net_dir(p, PM_NET_RX), "tcp_retransmits",
			 (json_int_t)p->tcp_retransmits);
}

static json_t *json_processes(const struct pm_pod_snap *p)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; list && i < p->n_zombie_list; i++) {
		const struct pm_zombie_snap *z = &p->zombie_list[i];

		json_array_append_new(list, json_pack("{s:I,s:o,s:I,s:o,s:f}", "pid",
						      (json_int_t)z->pid, "comm", json_str(z->comm),
						      "ppid", (json_int_t)z->ppid, "parent_comm",
						      json_str(z->parent_comm), "age_seconds",
						      z->age_seconds));
	}
	return json_pack("{s:I,s:I,s:I,s:o}", "count", (json_int_t)p->processes, "starts",
			 (json_int_t)p->process_starts, "zombies", (json_int_t)p->zombies,
			 "zombie_list", list ? list : json_null());
}

/* {table: entries refused} of the tables that refused the pod something */
static json_t *json_refusals(const struct pm_pod_snap *p)
{
	json_t *o = json_object();
	int t;

	for (t = 0; o && t < PM_SNAP_TABLES; t++) {
		if (!p->table_refusals[t])
			continue;
		if (json_object_set_new(o, names__table(t),
					json_integer((json_int_t)p->table_refusals[t]))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* {cpu, memory, gpu[, network]} of @v, in dollars */
static json_t *json_dollars(const double *v, int n)
{
	return json_reals(v, n, names__res);
}

static json_t *json_gpu(const struct pm_pod_snap *p)
{
	const struct pm_cuda_snap *c = &p->cuda;
	json_t *calls = json_array();
	size_t i;

	for (i = 0; calls && i < p->n_gpu_ops; i++)
		json_array_append_new(calls, json_pack("{s:o,s:s,s:I,s:f}", "device",
						       json_str(p->gpu_ops[i].device), "op",
						       names__gpu_op(p->gpu_ops[i].op), "calls",
						       (json_int_t)p->gpu_ops[i].calls, "seconds",
						       p->gpu_ops[i].ns / 1e9));
	return json_pack("{s:o,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:f},s:o}", "driver_calls",
			 calls ? calls : json_null(), "drm_jobs", (json_int_t)p->gpu_jobs, "cuda",
			 "kernel_launches", (json_int_t)c->launches, "allocs",
			 (json_int_t)c->allocs, "frees", (json_int_t)c->frees, "memory_bytes",
			 (json_int_t)c->memory_bytes, "memcpy_bytes", (json_int_t)c->memcpy_bytes,
			 "syncs", (json_int_t)c->sync_calls, "sync_seconds", c->sync_ns / 1e9,
			 "utilization",
			 p->gpu_utilization < 0 ? json_null() : json_real(p->gpu_utilization));
}

static json_t *json_findings(const struct pm_pod_snap *p)
{
	json_t *a = json_array(), *attrs;
	size_t i;
	int k;

	for (i = 0; a && i < p->n_findings; i++) {
		const struct pm_finding_snap *f = &p->findings[i];

		attrs = json_object();
		for (k = 0; attrs && k < f->n_attrs; k++)
			json_object_set_new(attrs, f->attrs[k].key, json_str(f->attrs[k].value));
		json_array_append_new(
			a, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "id", json_str(f->id), "kind",
				     json_str(f->kind), "since", json_num(f->since), "score",
				     json_num(f->score), "detail", json_str(f->detail), "evidence",
				     attrs ? attrs : json_null()));
	}
	return a;
}

static json_t *json_zombies(const struct pm_pod_snap *p)
{
	json_t *a = json_array();
	int k;

	for (k = 0; a && k < PM_ZOMBIE_KINDS; k++)
		if (p->zombie_mask & (1u << k))
			json_array_append_new(a, json_string(names__zombie(k)));
	return a;
}

static json_t *json_pod(const struct pm_pod_snap *p, bool has_net, bool has_gpu)
{
	json_t *o = json_object();
	int err = 0;

	if (!o)
		return NULL;
	err |= json_object_set_new(o, "uid", json_str(p->uid));
	err |= json_object_set_new(o, "namespace", json_str(p->namespace_));
	err |= json_object_set_new(o, "pod", json_str(p->name));
	err |= json_object_set_new(o, "qos", json_str(names__qos(p->qos)));
	err |= json_object_set_new(o, "owner",
				   json_pack("{s:o,s:o}", "kind", json_str(p->owner_kind), "name",
					     json_str(p->owner_name)));
	err |= json_object_set_new(o, "node", json_str(p->node));
	err |= json_object_set_new(o, "requests",
				   json_resources(p->cpu_request_milli, p->memory_request_bytes,
						  p->gpu_request));
	err |= json_object_set_new(o, "limits",
				   json_resources(p->cpu_limit_milli, p->memory_limit_bytes,
						  p->gpu_limit));
	err |= json_object_set_new(o, "cpu_seconds", json_num(p->cpu_seconds));
	err |= json_object_set_new(o, "runqueue_seconds", json_num(p->runq_seconds));
	err |= json_object_set_new(o, "memory", json_memory(p));
	if (has_net)
		err |= json_object_set_new(o, "network", json_network(p));
	err |= json_object_set_new(o, "processes", json_processes(p));
	err |= json_object_set_new(o, "table_refusals", json_refusals(p));
	err |= json_object_set_new(o, "gpu", json_gpu(p));
	err |= json_object_set_new(o, "idle", json_boolean(p->idle));
	err |= json_object_set_new(o, "idle_seconds", json_num(p->idle_seconds));
	err |= json_object_set_new(o, "zombie", json_zombies(p));
	err |= json_object_set_new(o, "findings", json_findings(p));
	err |= json_object_set_new(o, "anomalies", json_integer((json_int_t)p->anomalies));
	err |= json_object_set_new(o, "savings_dollars_per_month",
				   json_num(p->savings_dollars_month));
	err |= json_object_set_new(o, "cost_dollars",
				   json_dollars(p->cost_dollars,
						has_net ? PM_RES_MAX : PM_RES_NETWORK));
	err |= json_object_set_new(o, "waste_dollars",
				   json_dollars(p->waste_dollars,
						has_gpu ? PM_RES_NETWORK : PM_RES_GPU));
	err |= json_object_set_new(o, "containers", json_containers(p));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *json_node(const struct pm_snapshot *s)
{
	json_t *o = json_object();
	int err = 0;

	if (!o)
		return NULL;
	err |= json_object_set_new(o, "cpu_seconds_pods", json_num(s->node_cpu_pods_seconds));
	err |= json_object_set_new(o, "cpu_seconds_overhead",
				   json_num(s->node_cpu_overhead_seconds));
	err |= json_object_set_new(o, "memory_overhead_bytes",
				   s->node_memory_overhead_bytes < 0
					   ? json_null()
					   : json_integer(s->node_memory_overhead_bytes));
	err |= json_object_set_new(o, "idle_cost_dollars",
				   json_dollars(s->node_idle_cost_dollars, PM_RES_NETWORK));
	err |= json_object_set_new(o, "overhead_cost_dollars",
				   json_dollars(s->node_overhead_cost_dollars, PM_RES_GPU));
	err |= json_object_set_new(o, "capacity",
				   json_pack("{s:f,s:f,s:f}", "cpu_cores", s->capacity[PM_RES_CPU],
					     "memory_bytes", s->capacity[PM_RES_MEMORY], "gpus",
					     s->capacity[PM_RES_GPU]));
	err |= json_object_set_new(
		o, "prices",
		json_pack("{s:f,s:f,s:f,s:o}", "cpu_core_hour", s->price[PM_RES_CPU],
			  "memory_gib_hour", s->price[PM_RES_MEMORY], "gpu_hour",
			  s->price[PM_RES_GPU], "egress_gib",
			  json_reals(s->egress_price_gib, PM_NET_CLASSES, names__net_class)));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *json_pods(const struct pm_snapshot *s)
{
	json_t *a = json_array();
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < s->n_pods; i++) {
		if (json_array_append_new(a, json_pod(&s->pods[i], s->has_net,
						      s->has_gpu || s->has_cuda))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *json_overhead_row(const struct pm_overhead_snap *g, bool has_net)
{
	json_t *o = json_object();
	int err = 0;

	if (!o)
		return NULL;
	err |= json_object_set_new(o, "group", json_string(g->name));
	err |= json_object_set_new(o, "kind", json_string(names__oh_kind(g->kind)));
	err |= json_object_set_new(o, "cpu_seconds", json_num(g->cpu_seconds));
	err |= json_object_set_new(o, "memory_bytes",
				   g->memory_bytes < 0 ? json_null()
						       : json_integer(g->memory_bytes));
	err |= json_object_set_new(
		o, "network",
		has_net ? json_pack("{s:I,s:I}", "tx_bytes", (json_int_t)g->net_bytes[PM_NET_TX],
				    "rx_bytes", (json_int_t)g->net_bytes[PM_NET_RX])
			: json_null());
	err |= json_object_set_new(o, "cost_dollars", json_dollars(g->cost_dollars, PM_RES_GPU));
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Node overhead: the top groups by cost, then "other" (snapshot__overhead_rows). */
static json_t *json_overhead(const struct pm_snapshot *s)
{
	struct pm_overhead_snap *rows;
	long n = snapshot__overhead_rows(s, &rows), i;
	json_t *a = n < 0 ? NULL : json_array();

	for (i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_overhead_row(&rows[i], s->has_net))) {
			json_decref(a);
			a = NULL;
		}
	}
	if (n >= 0)
		free(rows);
	return a;
}

char *json__pods(const struct pm_snapshot *s)
{
	json_t *root = json_object();
	char *out = NULL;
	int err = 0;

	if (!root)
		return NULL;
	err |= json_object_set_new(root, "time", json_num(s->time));
	err |= json_object_set_new(root, "read_time", json_num(s->read_time));
	err |= json_object_set_new(root, "node", json_node(s));
	err |= json_object_set_new(root, "pods", json_pods(s));
	err |= json_object_set_new(root, "overhead", json_overhead(s));
	if (!err)
		out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(root);
	return out;
}
