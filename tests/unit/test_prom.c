// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests: exporter/prom.c, exporter/json.c, common/snapshot.c. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <podmeter/exporter.h>

#define UID_A  "0b3c9a5e-1f2d-4c6b-9a8e-7d6c5b4a3f21"
#define UID_B  "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"
#define CID_A1 "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"

/* ---- label escaping ---- */

struct esc_case {
	const char *name;
	const char *in;
	const char *out;
};

static const struct esc_case esc_cases[] = {
	{ "plain", "kube-system", "kube-system" },
	{ "empty", "", "" },
	{ "backslash", "a\\b", "a\\\\b" },
	{ "quote", "a\"b", "a\\\"b" },
	{ "newline", "a\nb", "a\\nb" },
	{ "mixed", "\"\\\n\\\"x\n", "\\\"\\\\\\n\\\\\\\"x\\n" },
	{ "other bytes verbatim", "t\tr\r{}=,\xc3\xa9", "t\tr\r{}=,\xc3\xa9" },
};

static void test_escape_table(void **state)
{
	char buf[64];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		n = prom__escape_label(buf, sizeof(buf), esc_cases[i].in);
		if (n != (int)strlen(esc_cases[i].out) || strcmp(buf, esc_cases[i].out))
			fail_msg("%s: got %d \"%s\"", esc_cases[i].name, n, buf);
	}
}

static void test_escape_exact_fit(void **state)
{
	const char *want = "a\\\"b\\\\c\\n";
	char buf[10]; /* strlen(want) == 9, + NUL */

	(void)state;
	assert_int_equal(prom__escape_label(buf, sizeof(buf), "a\"b\\c\n"), 9);
	assert_string_equal(buf, want);
	assert_int_equal(prom__escape_label(buf, 4, "abc"), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(prom__escape_label(buf, 1, ""), 0);
	assert_string_equal(buf, "");
}

static void test_escape_too_small(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(prom__escape_label(buf, 3, "abc"), -ENOSPC);
	/* the escape sequence must fit whole, not half of it */
	assert_int_equal(prom__escape_label(buf, 2, "\""), -ENOSPC);
	assert_int_equal(prom__escape_label(buf, 9, "a\"b\\c\n"), -ENOSPC);
	assert_int_equal(prom__escape_label(buf, 0, ""), -ENOSPC);
}

/* ---- a hand-built snapshot ---- */

static struct pm_snapshot *make_snapshot(void)
{
	struct pm_snapshot *s = snapshot__new(2);
	struct pm_pod_snap *a, *b;
	struct pm_pod_names *names;

	assert_non_null(s);
	s->time = 1700000000.5;
	s->read_time = 1700000000.25;
	s->node_cpu_pods_seconds = 1234.5;
	s->node_cpu_overhead_seconds = 56.25;
	s->agent = (struct pm_agent_stats){
		.collect_seconds_last = 0.00125,
		.collect_seconds_sum = 0.5,
		.collections = 400,
		.cgroup_insert_failures = 3,
		.cgroups_tracked = 42,
		.cgroups_removed = 7,
		.cgroup_hierarchy = "v2",
		.attach_mode = "tp_btf",
		.start_time = 1699999000,
	};

	a = &s->pods[0];
	strcpy(a->uid, UID_A);
	names = snapshot__names_new("we\"ird\\ns\n", "pod \"x\"\\y\nz", NULL, NULL, NULL, NULL);
	assert_non_null(names);
	snapshot__pod_names(a, names);
	a->qos = PM_QOS_BURSTABLE;
	a->cpu_seconds = 12.5;
	a->runq_seconds = 0.25;
	a->n_containers = 2;
	a->containers = calloc(2, sizeof(*a->containers));
	assert_non_null(a->containers);
	strcpy(a->containers[0].id, CID_A1);
	a->containers[0].runtime = PM_RT_CONTAINERD;
	a->containers[0].cpu_seconds = 12;
	a->containers[0].runq_seconds = 0.125;
	a->containers[1].runtime = PM_RT_NONE; /* the pod cgroup itself */
	a->containers[1].cpu_seconds = 0.5;
	a->containers[1].runq_seconds = 0.125;

	b = &s->pods[1]; /* idle, no kubelet metadata */
	strcpy(b->uid, UID_B);
	b->qos = PM_QOS_BESTEFFORT;
	return s;
}

static char *slurp(FILE *f)
{
	long len;
	char *buf;

	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	buf = malloc(len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, len, f), (size_t)len);
	buf[len] = '\0';
	return buf;
}

static bool have_promtool(void)
{
	return system("command -v promtool >/dev/null 2>&1") == 0;
}

/* Writes @s to a temp file, checks it with promtool when present, returns the text. */
static char *write_checked(const struct pm_snapshot *s)
{
	char path[] = "/tmp/test_prom_XXXXXX";
	char cmd[128];
	char *text;
	FILE *f;
	int fd, rc;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w+");
	assert_non_null(f);
	assert_int_equal(prom__write(f, s, "1.2.3", "abc\"def"), 0);
	text = slurp(f);
	fclose(f);
	if (have_promtool()) {
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
		rc = system(cmd);
		if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
			fail_msg("promtool check metrics failed (%d) on:\n%s", rc, text);
	} else {
		print_message("promtool not in PATH: exposition not validated by it\n");
	}
	unlink(path);
	return text;
}

static void assert_line(const char *text, const char *line)
{
	char *want;

	assert_true(asprintf(&want, "\n%s\n", line) > 0);
	if (!strstr(text, want) && strncmp(text, want + 1, strlen(want + 1)))
		fail_msg("missing line: %s\nin:\n%s", line, text);
	free(want);
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (; (text = strstr(text, needle)); text++)
		n++;
	return n;
}

static const char *const families[] = {
	"podmeter_pod_info gauge",
	"podmeter_pod_cpu_request_cores gauge",
	"podmeter_pod_cpu_limit_cores gauge",
	"podmeter_pod_memory_request_bytes gauge",
	"podmeter_pod_memory_limit_bytes gauge",
	"podmeter_pod_gpu_request gauge",
	"podmeter_pod_gpu_limit gauge",
	"podmeter_agent_kubelet_errors_total counter",
	"podmeter_pod_cpu_seconds_total counter",
	"podmeter_pod_cpu_runqueue_seconds_total counter",
	"podmeter_pod_memory_rss_bytes gauge",
	"podmeter_pod_memory_working_set_bytes gauge",
	"podmeter_pod_page_faults_total counter",
	"podmeter_pod_oom_kills_total counter",
	"podmeter_pod_processes gauge",
	"podmeter_pod_zombie_processes gauge",
	"podmeter_pod_process_starts_total counter",
	"podmeter_node_cpu_seconds_total counter",
	"podmeter_agent_collect_duration_seconds summary",
	"podmeter_agent_last_collect_duration_seconds gauge",
	"podmeter_agent_map_insert_failures_total counter",
	"podmeter_agent_sched_resyncs_total counter",
	"podmeter_agent_sched_lost_total counter",
	"podmeter_agent_pods_tracked gauge",
	"podmeter_agent_cgroups_tracked gauge",
	"podmeter_agent_cgroups_removed_total counter",
	"podmeter_agent_build_info gauge",
	"podmeter_agent_start_time_seconds gauge",
	"podmeter_collection_time_seconds gauge",
};

static void assert_families_once(const char *text)
{
	char type[128], help[128];
	size_t i;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(type, sizeof(type), "# TYPE %s\n", families[i]);
		snprintf(help, sizeof(help), "# HELP %.*s ", (int)strcspn(families[i], " "),
			 families[i]);
		if (count(text, type) != 1 || count(text, help) != 1)
			fail_msg("family not exactly once: %s", families[i]);
	}
}

static void test_prom_write(void **state)
{
	struct pm_snapshot *s = make_snapshot();
	char *text;

	(void)state;
	text = write_checked(s);
	assert_families_once(text);
	assert_line(text, "podmeter_pod_cpu_seconds_total{namespace=\"we\\\"ird\\\\ns\\n\","
			  "pod=\"pod \\\"x\\\"\\\\y\\nz\",uid=\"" UID_A "\"} 12.5");
	assert_line(text,
		    "podmeter_pod_cpu_runqueue_seconds_total{namespace=\"we\\\"ird\\\\ns\\n\","
		    "pod=\"pod \\\"x\\\"\\\\y\\nz\",uid=\"" UID_A "\"} 0.25");
	assert_line(text,
		    "podmeter_pod_cpu_seconds_total{namespace=\"\",pod=\"\",uid=\"" UID_B "\"} 0");
	assert_line(text,
		    "podmeter_pod_cpu_runqueue_seconds_total{namespace=\"\",pod=\"\",uid=\"" UID_B
		    "\"} 0");
	assert_line(text, "podmeter_node_cpu_seconds_total{scope=\"pods\"} 1234.5");
	assert_line(text, "podmeter_node_cpu_seconds_total{scope=\"overhead\"} 56.25");
	assert_line(text, "podmeter_agent_collect_duration_seconds_sum 0.5");
	assert_line(text, "podmeter_agent_collect_duration_seconds_count 400");
	assert_line(text, "podmeter_agent_last_collect_duration_seconds 0.00125");
	assert_line(text, "podmeter_agent_map_insert_failures_total{map=\"cpu_stats\"} 3");
	assert_line(text, "podmeter_agent_pods_tracked 2");
	assert_line(text, "podmeter_agent_cgroups_tracked 42");
	assert_line(text, "podmeter_agent_cgroups_removed_total 7");
	assert_line(text, "podmeter_agent_build_info{version=\"1.2.3\",git_rev=\"abc\\\"def\","
			  "hierarchy=\"v2\",attach=\"tp_btf\"} 1");
	assert_line(text, "podmeter_agent_start_time_seconds 1699999000");
	assert_line(text, "podmeter_collection_time_seconds 1700000000.25");
	assert_null(strstr(text, "podmeter_container_"));
	free(text);
	snapshot__put(s);
}

/* Dollars by resource: network cost only where network is measured, waste for cpu and memory. */
static void test_prom_cost(void **state)
{
	struct pm_snapshot *s = snapshot__new(1);
	const char *pod = "namespace=\"\",pod=\"\",uid=\"\"";
	char *text, want[256];

	(void)state;
	assert_non_null(s);
	s->pods[0].cost_dollars[PM_RES_CPU] = 0.5;
	s->pods[0].cost_dollars[PM_RES_GPU] = 2.25;
	s->pods[0].waste_dollars[PM_RES_MEMORY] = 0.125;
	s->node_idle_cost_dollars[PM_RES_CPU] = 3.5;
	s->node_overhead_cost_dollars[PM_RES_MEMORY] = 0.75;
	s->price[PM_RES_CPU] = 0.031611;
	s->egress_price_gib[PM_NET_INTERNET] = 0.12;
	s->capacity[PM_RES_MEMORY] = 1073741824;
	text = write_checked(s);
	snprintf(want, sizeof(want), "podmeter_pod_cost_dollars_total{%s,resource=\"cpu\"} 0.5",
		 pod);
	assert_line(text, want);
	snprintf(want, sizeof(want), "podmeter_pod_cost_dollars_total{%s,resource=\"gpu\"} 2.25",
		 pod);
	assert_line(text, want);
	snprintf(want, sizeof(want),
		 "podmeter_pod_waste_dollars_total{%s,resource=\"memory\"} 0.125", pod);
	assert_line(text, want);
	assert_null(strstr(text, "resource=\"network\"} "));
	assert_null(strstr(text,
			   "podmeter_pod_waste_dollars_total{namespace=\"\",pod=\"\",uid=\"\","
			   "resource=\"gpu\"}"));
	assert_line(text, "podmeter_node_idle_cost_dollars_total{resource=\"cpu\"} 3.5");
	assert_line(text, "podmeter_node_overhead_cost_dollars_total{resource=\"memory\"} 0.75");
	assert_line(text, "podmeter_price_dollars{resource=\"cpu\",unit=\"core_hour\"} 0.031611");
	assert_line(text, "podmeter_egress_price_dollars_per_gib{class=\"internet\"} 0.12");
	assert_line(text, "podmeter_node_memory_bytes 1073741824");
	free(text);
	s->has_net = 1;
	text = write_checked(s);
	snprintf(want, sizeof(want), "podmeter_pod_cost_dollars_total{%s,resource=\"network\"} 0",
		 pod);
	assert_line(text, want);
	free(text);
	snapshot__put(s);
}

/* Counters of seconds must keep nanoseconds after days of uptime. */
static void test_prom_precision(void **state)
{
	struct pm_snapshot *s = snapshot__new(1);
	const char *key = "podmeter_pod_cpu_seconds_total{namespace=\"\",pod=\"\",uid=\"\"} ";
	char *text, *v;

	(void)state;
	assert_non_null(s);
	s->pods[0].cpu_seconds = 864000.000000001; /* 10 days + 1 ns */
	text = write_checked(s);
	v = strstr(text, key);
	assert_non_null(v);
	assert_true(strtod(v + strlen(key), NULL) == s->pods[0].cpu_seconds);
	free(text);
	snapshot__put(s);
}

/* No pods, no hierarchy yet: every family is still there, with HELP and TYPE. */
static void test_prom_empty(void **state)
{
	struct pm_snapshot *s = snapshot__new(0);
	char *text;

	(void)state;
	assert_non_null(s);
	text = write_checked(s);
	assert_families_once(text);
	assert_null(strstr(text, "podmeter_pod_cpu_seconds_total{"));
	assert_line(text, "podmeter_agent_pods_tracked 0");
	assert_line(text, "podmeter_agent_build_info{version=\"1.2.3\",git_rev=\"abc\\\"def\","
			  "hierarchy=\"\",attach=\"\"} 1");
	free(text);
	snapshot__put(s);
}

static void test_prom_write_error(void **state)
{
	struct pm_snapshot *s = snapshot__new(0);
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	assert_non_null(s);
	if (!f) {
		print_message("/dev/full missing: write error path not tested\n");
		snapshot__put(s);
		return;
	}
	assert_int_equal(prom__write(f, s, "v", "r"), -EIO);
	fclose(f);
	snapshot__put(s);
}

/* ---- JSON ---- */

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		fail_msg("%s: not a number", key);
	return json_number_value(v);
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("%s: not a string", key);
	return json_string_value(v);
}

static void check_json_pod_a(json_t *p)
{
	json_t *cs, *c;

	assert_string_equal(str(p, "uid"), UID_A);
	assert_string_equal(str(p, "namespace"), "we\"ird\\ns\n");
	assert_string_equal(str(p, "pod"), "pod \"x\"\\y\nz");
	assert_string_equal(str(p, "qos"), "burstable");
	assert_true(num(p, "cpu_seconds") == 12.5);
	assert_true(num(p, "runqueue_seconds") == 0.25);
	cs = json_object_get(p, "containers");
	assert_true(json_is_array(cs));
	assert_int_equal(json_array_size(cs), 2);
	c = json_array_get(cs, 0);
	assert_string_equal(str(c, "id"), CID_A1);
	assert_string_equal(str(c, "runtime"), "containerd");
	assert_true(num(c, "cpu_seconds") == 12);
	assert_true(num(c, "runqueue_seconds") == 0.125);
	c = json_array_get(cs, 1);
	assert_string_equal(str(c, "id"), "");
	assert_string_equal(str(c, "runtime"), "");
	assert_true(num(c, "cpu_seconds") == 0.5);
}

static void test_json_pods(void **state)
{
	struct pm_snapshot *s = make_snapshot();
	json_error_t jerr;
	json_t *root, *node, *pods, *b;
	char *text;

	(void)state;
	text = json__pods(s);
	assert_non_null(text);
	root = json_loads(text, 0, &jerr);
	if (!root)
		fail_msg("json__pods output does not parse: %s: %s", jerr.text, text);
	assert_true(num(root, "time") == 1700000000.5);
	node = json_object_get(root, "node");
	assert_true(num(node, "cpu_seconds_pods") == 1234.5);
	assert_true(num(node, "cpu_seconds_overhead") == 56.25);
	pods = json_object_get(root, "pods");
	assert_true(json_is_array(pods));
	assert_int_equal(json_array_size(pods), 2);
	check_json_pod_a(json_array_get(pods, 0));
	b = json_array_get(pods, 1);
	assert_string_equal(str(b, "uid"), UID_B);
	assert_string_equal(str(b, "namespace"), "");
	assert_string_equal(str(b, "qos"), "besteffort");
	assert_true(num(b, "cpu_seconds") == 0);
	assert_int_equal(json_array_size(json_object_get(b, "containers")), 0);
	json_decref(root);
	free(text);
	snapshot__put(s);
}

static void test_json_empty(void **state)
{
	struct pm_snapshot *s = snapshot__new(0);
	char *text;

	(void)state;
	assert_non_null(s);
	text = json__pods(s);
	assert_non_null(text);
	assert_string_equal(
		text,
		"{\"time\":0.0,\"read_time\":0.0,\"node\":{\"cpu_seconds_pods\":0.0,\"cpu_seconds_overhead\":0.0,"
		"\"memory_overhead_bytes\":null,"
		"\"idle_cost_dollars\":{\"cpu\":0.0,\"memory\":0.0,\"gpu\":0.0},"
		"\"overhead_cost_dollars\":{\"cpu\":0.0,\"memory\":0.0},"
		"\"capacity\":{\"cpu_cores\":0.0,\"memory_bytes\":0.0,\"gpus\":0.0},"
		"\"prices\":{\"cpu_core_hour\":0.0,\"memory_gib_hour\":0.0,\"gpu_hour\":0.0,"
		"\"egress_gib\":{\"local\":0.0,\"in_zone\":0.0,\"cross_zone\":0.0,"
		"\"cross_region\":0.0,\"internet\":0.0}}},\"pods\":[],"
		"\"overhead\":[{\"group\":\"other\",\"kind\":\"other\",\"cpu_seconds\":0.0,"
		"\"memory_bytes\":null,\"network\":null,"
		"\"cost_dollars\":{\"cpu\":0.0,\"memory\":0.0}}]}");
	free(text);
	snapshot__put(s);
}

/* ---- node overhead rows ---- */

static void oh_set(struct pm_overhead_snap *g, int kind, const char *name, uint64_t cpu_ns,
		   long long mem, uint64_t tx, uint64_t rx, double cpu_cost, double mem_cost)
{
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->kind = kind;
	g->cpu_ns = cpu_ns;
	g->cpu_seconds = cpu_ns / 1e9;
	g->memory_bytes = mem;
	g->net_bytes[0] = tx;
	g->net_bytes[1] = rx;
	g->cost_dollars[PM_RES_CPU] = cpu_cost;
	g->cost_dollars[PM_RES_MEMORY] = mem_cost;
}

/* Four groups (sorted by kind, then name) on a node whose overhead is more than theirs. */
static struct pm_snapshot *oh_snapshot(int top)
{
	struct pm_snapshot *s = snapshot__new(0);

	assert_non_null(s);
	s->overhead = calloc(4, sizeof(*s->overhead));
	assert_non_null(s->overhead);
	s->n_overhead = 4;
	oh_set(&s->overhead[0], PM_OH_UNIT, "a.service", 5000000000ULL, 100, 10, 20, 0.5, 0.1);
	oh_set(&s->overhead[1], PM_OH_UNIT, "d.service", 0, 0, 0, 0, 0, 0);
	oh_set(&s->overhead[2], PM_OH_SLICE, "c.slice", 2000000000ULL, -1, 100, 200, 0.2, 0);
	oh_set(&s->overhead[3], PM_OH_CONTAINER, "docker b\\\"x", 1000000000ULL, 300, 1, 2, 0.1,
	       0.3);
	s->overhead_gone_net[0] = 1000;
	s->overhead_gone_net[1] = 2000;
	s->node_cpu_overhead_ns = 10000000000ULL;
	s->node_cpu_overhead_seconds = 10;
	s->node_memory_overhead_bytes = 1000;
	s->node_overhead_cost_dollars[PM_RES_CPU] = 1.0;
	s->node_overhead_cost_dollars[PM_RES_MEMORY] = 0.5;
	s->has_net = 1;
	s->overhead_top = top;
	return s;
}

static void test_overhead_rows(void **state)
{
	struct pm_snapshot *s = oh_snapshot(2);
	struct pm_overhead_snap *rows;
	long n;

	(void)state;
	assert_ptr_equal(snapshot__overhead(s, PM_OH_SLICE, "c.slice"), &s->overhead[2]);
	assert_null(snapshot__overhead(s, PM_OH_UNIT, "c.slice"));
	n = snapshot__overhead_rows(s, &rows);
	assert_int_equal(n, 3);
	/* by cost: a ($0.6), then b ($0.4); c ($0.2) and d ($0) are "other" */
	assert_string_equal(rows[0].name, "a.service");
	assert_string_equal(rows[1].name, "docker b\\\"x");
	assert_string_equal(rows[2].name, "other");
	assert_int_equal(rows[2].kind, PM_OH_OTHER);
	assert_int_equal(rows[2].cpu_ns, 4000000000ULL); /* 10 s less 5 s and 1 s */
	assert_int_equal(rows[2].memory_bytes, 600);	 /* 1000 less 100 and 300 */
	assert_int_equal(rows[2].net_bytes[0], 1100);	 /* c's and the gone groups' */
	assert_int_equal(rows[2].net_bytes[1], 2200);
	assert_true(fabs(rows[2].cost_dollars[PM_RES_CPU] - 0.4) < 1e-12);
	assert_true(fabs(rows[2].cost_dollars[PM_RES_MEMORY] - 0.1) < 1e-12);
	free(rows);

	/* 0 shown: one row with all of it; more room than groups: all of them, then "other" */
	s->overhead_top = 0;
	assert_int_equal(snapshot__overhead_rows(s, &rows), 1);
	assert_int_equal(rows[0].cpu_ns, 10000000000ULL);
	assert_int_equal(rows[0].net_bytes[0], 1111);
	free(rows);
	s->overhead_top = 10;
	assert_int_equal(snapshot__overhead_rows(s, &rows), 5);
	assert_string_equal(rows[2].name, "c.slice");
	assert_string_equal(rows[3].name, "d.service");
	assert_int_equal(rows[4].cpu_ns, 2000000000ULL);
	assert_int_equal(rows[4].net_bytes[0], 1000);
	free(rows);
	snapshot__put(s);
}

/* The rows in /metrics: group and kind labels, names escaped once more for the format. */
static void test_prom_overhead(void **state)
{
	struct pm_snapshot *s = oh_snapshot(2);
	char *text;

	(void)state;
	text = write_checked(s);
	assert_line(text,
		    "podmeter_overhead_cpu_seconds_total{group=\"a.service\",kind=\"unit\"} 5");
	assert_line(text, "podmeter_overhead_cpu_seconds_total{group=\"docker b\\\\\\\"x\","
			  "kind=\"container\"} 1");
	assert_line(text, "podmeter_overhead_cpu_seconds_total{group=\"other\",kind=\"other\"} 4");
	assert_line(text, "podmeter_overhead_memory_bytes{group=\"other\",kind=\"other\"} 600");
	assert_line(text, "podmeter_overhead_network_bytes_total{group=\"other\",kind=\"other\","
			  "direction=\"rx\"} 2200");
	assert_line(text, "podmeter_overhead_cost_dollars_total{group=\"a.service\",kind=\"unit\","
			  "resource=\"memory\"} 0.10000000000000001");
	assert_null(strstr(text, "c.slice"));
	free(text);
	snapshot__put(s);
}

/* ---- snapshot refcount ---- */

static void test_snapshot_refcount(void **state)
{
	struct pm_snapshot *s = make_snapshot();

	(void)state;
	assert_int_equal(s->refcnt, 1);
	assert_ptr_equal(snapshot__get(s), s);
	assert_int_equal(s->refcnt, 2);
	snapshot__put(s);
	assert_int_equal(s->refcnt, 1);
	snapshot__put(s); /* frees; ASan reports a leak or double free otherwise */
	snapshot__put(NULL);
	assert_null(snapshot__get(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),	  cmocka_unit_test(test_escape_exact_fit),
		cmocka_unit_test(test_escape_too_small),  cmocka_unit_test(test_prom_write),
		cmocka_unit_test(test_prom_precision),	  cmocka_unit_test(test_prom_empty),
		cmocka_unit_test(test_prom_write_error),  cmocka_unit_test(test_json_pods),
		cmocka_unit_test(test_json_empty),	  cmocka_unit_test(test_prom_cost),
		cmocka_unit_test(test_overhead_rows),	  cmocka_unit_test(test_prom_overhead),
		cmocka_unit_test(test_snapshot_refcount),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
