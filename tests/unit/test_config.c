// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for agent/config.c (parsers, keys, YAML files, flags) and the web config. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "podmeter/config.h"
#include "podmeter/detect.h"
#include "podmeter/webcfg.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN	      512

/* Temp tree made once: <dir>/cg, <dir>/proc (directories), <dir>/file (a file). */
static char tmpdir[64];
static char cgdir[PATH_MAX + 8];
static char procdir[PATH_MAX + 8];
static char plainfile[PATH_MAX + 8];

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) < 0 ? -1 : 0, 0);
	assert_int_equal(fclose(f), 0);
}

/* Write @text to <tmpdir>/@name; the path goes to @path. */
static void tmp_file(char *path, size_t len, const char *name, const char *text)
{
	snprintf(path, len, "%s/%s", tmpdir, name);
	write_text(path, text);
}

static int group_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/podmeter-test-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cgdir, sizeof(cgdir), "%s/cg", tmpdir);
	snprintf(procdir, sizeof(procdir), "%s/proc", tmpdir);
	snprintf(plainfile, sizeof(plainfile), "%s/file", tmpdir);
	if (mkdir(cgdir, 0700) || mkdir(procdir, 0700))
		return -1;
	write_text(plainfile, "x\n");
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) ? -1 : 0;
}

/* Each of @subs (NULL-terminated) must appear in @msg. */
static void assert_msg_has(const char *msg, const char *const *subs)
{
	for (; *subs; subs++) {
		if (!strstr(msg, *subs))
			fail_msg("error \"%s\" lacks \"%s\"", msg, *subs);
	}
}

static void assert_cfg_equal(const struct pm_config *a, const struct pm_config *b)
{
	assert_string_equal(a->http.listen_host, b->http.listen_host);
	assert_int_equal(a->http.listen_port, b->http.listen_port);
	assert_int_equal(a->collect.interval_ms, b->collect.interval_ms);
	assert_string_equal(a->collect.cgroup_root, b->collect.cgroup_root);
	assert_string_equal(a->collect.proc_root, b->collect.proc_root);
	assert_int_equal(a->collect.cgroup_mode, b->collect.cgroup_mode);
	assert_string_equal(a->config_file, b->config_file);
}

static void test_defaults(void **state)
{
	struct pm_config cfg;

	(void)state;
	config__defaults(&cfg);
	assert_string_equal(cfg.http.listen_host, "127.0.0.1");
	assert_int_equal(cfg.http.listen_port, 9477);
	assert_int_equal(cfg.collect.interval_ms, 1000);
	assert_string_equal(cfg.collect.cgroup_root, "");
	assert_string_equal(cfg.collect.proc_root, "/proc");
	assert_int_equal(cfg.collect.cgroup_mode, PM_CG_AUTO);
	assert_string_equal(cfg.config_file, "");
}

static void test_duration_good(void **state)
{
	static const struct {
		const char *in;
		uint64_t ms;
	} cases[] = {
		{ "1s", 1000 },	     { "500ms", 500 }, { "2m", 120000 }, { "1h", 3600000 },
		{ "1.5s", 1500 },    { "2", 2000 },    { "0.1", 100 },	 { "0ms", 0 },
		{ "1.25m", 75000 },  { "0.001s", 1 },  { "007s", 7000 }, { "1.000s", 1000 },
		{ "0.5h", 1800000 }, { "100ms", 100 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t ms = 12345;
		int ret = config__parse_duration_ms(cases[i].in, &ms);

		if (ret || ms != cases[i].ms)
			fail_msg("\"%s\": ret %d ms %llu, want 0 and %llu", cases[i].in, ret,
				 (unsigned long long)ms, (unsigned long long)cases[i].ms);
	}
}

static void test_duration_bad(void **state)
{
	static const struct {
		const char *in;
		int ret;
	} cases[] = {
		{ "", -EINVAL },
		{ "abc", -EINVAL },
		{ "1sx", -EINVAL },
		{ "-1s", -EINVAL },
		{ " 1s", -EINVAL },
		{ "1s ", -EINVAL },
		{ "1 s", -EINVAL },
		{ "1.s", -EINVAL },
		{ ".5s", -EINVAL },
		{ "1.5ms", -EINVAL },
		{ "1S", -EINVAL },
		{ "s", -EINVAL },
		{ "+1s", -EINVAL },
		{ "1d", -EINVAL },
		{ "1.2.3s", -EINVAL },
		{ "0.0000000001s", -EINVAL },
		{ "99999999999999999999s", -ERANGE },
		{ "18446744073709551615h", -ERANGE },
		{ "18446744073709551615s", -ERANGE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t ms = 12345;
		int ret = config__parse_duration_ms(cases[i].in, &ms);

		if (ret != cases[i].ret || ms != 12345)
			fail_msg("\"%s\": ret %d ms %llu, want %d and ms untouched", cases[i].in,
				 ret, (unsigned long long)ms, cases[i].ret);
	}
}

static void test_set_good(void **state)
{
	char err[ERRLEN] = "", slashed[PATH_MAX + 16];
	struct pm_config cfg;

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "listen", "[::1]:9000", err, sizeof(err)), 0);
	assert_string_equal(cfg.http.listen_host, "::1");
	assert_int_equal(cfg.http.listen_port, 9000);
	assert_int_equal(config__set(&cfg, "interval", "250ms", err, sizeof(err)), 0);
	assert_int_equal(cfg.collect.interval_ms, 250);
	assert_int_equal(config__set(&cfg, "interval", "100ms", err, sizeof(err)), 0);
	assert_int_equal(cfg.collect.interval_ms, 100);
	assert_int_equal(config__set(&cfg, "interval", "1h", err, sizeof(err)), 0);
	assert_int_equal(cfg.collect.interval_ms, 3600000);
	assert_int_equal(config__set(&cfg, "cgroup-root", cgdir, err, sizeof(err)), 0);
	assert_string_equal(cfg.collect.cgroup_root, cgdir);
	snprintf(slashed, sizeof(slashed), "%s//", procdir);
	assert_int_equal(config__set(&cfg, "proc_root", slashed, err, sizeof(err)), 0);
	assert_string_equal(cfg.collect.proc_root, procdir);
	assert_int_equal(config__set(&cfg, "proc-root", "/", err, sizeof(err)), 0);
	assert_string_equal(cfg.collect.proc_root, "/");
	assert_int_equal(config__set(&cfg, "cgroup_mode", "v1", err, sizeof(err)), 0);
	assert_int_equal(cfg.collect.cgroup_mode, PM_CG_V1);
	assert_int_equal(config__set(&cfg, "cgroup-mode", "v2", err, sizeof(err)), 0);
	assert_int_equal(cfg.collect.cgroup_mode, PM_CG_V2);
	assert_int_equal(config__set(&cfg, "cgroup-mode", "auto", err, sizeof(err)), 0);
	assert_int_equal(cfg.collect.cgroup_mode, PM_CG_AUTO);
	assert_string_equal(err, "");
}

struct bad_case {
	const char *key, *value;
	int ret;
	const char *subs[4];
};

static void check_bad_set(const struct bad_case *c)
{
	struct pm_config cfg, before;
	char err[ERRLEN] = "";
	int ret;

	config__defaults(&cfg);
	before = cfg;
	ret = config__set(&cfg, c->key, c->value, err, sizeof(err));
	if (ret != c->ret)
		fail_msg("%s=\"%s\": ret %d, want %d (%s)", c->key, c->value, ret, c->ret, err);
	assert_true(strncmp(err, "config: ", 8) == 0);
	assert_null(strchr(err, '\n'));
	assert_msg_has(err, c->subs);
	assert_cfg_equal(&cfg, &before);
}

static void test_set_bad(void **state)
{
	const struct bad_case cases[] = {
		{ "interval",
		  "abc",
		  -EINVAL,
		  { "config: interval: \"abc\" is not a duration (e.g. 1s, 500ms)" } },
		{ "interval", "", -EINVAL, { "interval", "empty value" } },
		{ "interval", "   ", -EINVAL, { "interval", "empty value" } },
		{ "interval", "1sx", -EINVAL, { "interval", "\"1sx\"", "not a duration" } },
		{ "interval", "-1s", -EINVAL, { "interval", "\"-1s\"", "negative" } },
		{ "interval", "50ms", -EINVAL, { "interval", "\"50ms\"", "100ms to 1h" } },
		{ "interval", "0", -EINVAL, { "interval", "\"0\"", "out of range" } },
		{ "interval", "61m", -EINVAL, { "interval", "\"61m\"", "out of range" } },
		{ "interval", "99999999999999999999999s", -EINVAL, { "interval", "out of range" } },
		{ "listen", "", -EINVAL, { "listen", "empty value", "HOST:PORT" } },
		{ "listen", "abc", -EINVAL, { "listen", "\"abc\"", ":PORT" } },
		{ "listen", ":0", -EINVAL, { "listen", "\":0\"", "1-65535" } },
		{ "listen", ":65536", -EINVAL, { "listen", "\":65536\"", "1-65535" } },
		{ "listen", "::1:80", -EINVAL, { "listen", "\"::1:80\"", "brackets" } },
		{ "listen", "h:x", -EINVAL, { "listen", "\"h:x\"", "not a number" } },
		{ "cgroup_root",
		  "sys/fs/cgroup",
		  -EINVAL,
		  { "cgroup_root", "\"sys/fs/cgroup\"", "absolute" } },
		{ "cgroup-root",
		  "/nonexistent/podmeter",
		  -EINVAL,
		  { "cgroup-root", "\"/nonexistent/podmeter\"", "No such file" } },
		{ "cgroup_root",
		  plainfile,
		  -EINVAL,
		  { "cgroup_root", plainfile, "not a directory" } },
		{ "cgroup_root", " ", -EINVAL, { "cgroup_root", "empty value" } },
		{ "proc_root", "proc", -EINVAL, { "proc_root", "\"proc\"", "absolute" } },
		{ "proc_root", "/no/such/proc", -EINVAL, { "proc_root", "\"/no/such/proc\"" } },
		{ "cgroup_mode", "v3", -EINVAL, { "cgroup_mode", "\"v3\"", "auto, v2 or v1" } },
		{ "cgroup_mode", "V2", -EINVAL, { "cgroup_mode", "\"V2\"" } },
		{ "cgroup_mode", "", -EINVAL, { "cgroup_mode", "empty value" } },
		{ "foo", "1", -ENOENT, { "config: unknown key \"foo\"" } },
		{ "Interval", "1s", -ENOENT, { "unknown key \"Interval\"" } },
		{ "", "1s", -ENOENT, { "unknown key \"\"" } },
		{ "listen", "h:1\n2", -EINVAL, { "listen", "\"h:1?2\"" } },
		{ "price_cpu_core_hour", "-0.1", -EINVAL, { "price_cpu_core_hour", "negative" } },
		{ "price_cpu_core_hour", "abc", -EINVAL, { "\"abc\"", "not a price" } },
		{ "price_memory_gib_hour", "inf", -EINVAL, { "\"inf\"", "not a price" } },
		{ "price_gpu_hour", "nan", -EINVAL, { "\"nan\"", "not a price" } },
		{ "price_gpu_hour", "0x10", -EINVAL, { "\"0x10\"", "not a price" } },
		{ "price_node_hour", "1e400", -EINVAL, { "\"1e400\"", "not a price" } },
		{ "price_node_hour", "2000000", -EINVAL, { "\"2000000\"", "out of range" } },
		{ "price_node_hour", "$1", -EINVAL, { "\"$1\"", "not a price" } },
		{ "price-egress-internet", "0.12/GiB", -EINVAL, { "\"0.12/GiB\"", "not a price" } },
		{ "price_egress_cross_zone",
		  "",
		  -EINVAL,
		  { "price_egress_cross_zone", "empty value" } },
		{ "node_cpu_cores", "lots", -EINVAL, { "node_cpu_cores", "not a quantity" } },
		{ "node_cpu_cores", "-4", -EINVAL, { "node_cpu_cores", "out of range" } },
		{ "node_memory", "64GiB", -EINVAL, { "node_memory", "not a quantity" } },
		{ "node_gpus", "1.5", -EINVAL, { "node_gpus", "whole number" } },
		{ "node_gpus", "100000", -EINVAL, { "node_gpus", "out of range" } },
		{ "report_window", "500ms", -EINVAL, { "report_window", "1s to 24h" } },
		{ "report_window", "soon", -EINVAL, { "report_window", "not a duration" } },
		{ "spool", "spool", -EINVAL, { "spool", "absolute" } },
		{ "spool_max_bytes", "1Ki", -EINVAL, { "spool_max_bytes", "too small" } },
		{ "spool_max_bytes", "lots", -EINVAL, { "spool_max_bytes", "not a quantity" } },
		{ "reconciler", "ftp://r/v1/reports", -EINVAL, { "reconciler", "scheme \"ftp\"" } },
		{ "reconciler", "r:9480", -EINVAL, { "reconciler", "\"r:9480\" has no scheme" } },
		{ "kubelet",
		  "127.0.0.1:10250",
		  -EINVAL,
		  { "kubelet", "\"127.0.0.1:10250\" has no scheme" } },
		{ "kubelet",
		  "unix:///run/kubelet.sock",
		  -EINVAL,
		  { "kubelet", "scheme \"unix\"" } },
		{ "kubelet", "https://:10250/pods", -EINVAL, { "kubelet", "no host" } },
		{ "kubelet", "https://node:102500", -EINVAL, { "kubelet", "port out of range" } },
		{ "kubelet", "https://node:https", -EINVAL, { "kubelet", "not a number" } },
		{ "reconciler_token_file", "/no/such/token", -EINVAL, { "reconciler_token_file" } },
		{ "reconciler_timeout", "20m", -EINVAL, { "reconciler_timeout", "100ms to 10m" } },
		{ "reconciler_retry_max",
		  "10ms",
		  -EINVAL,
		  { "reconciler_retry_max", "500ms to 1h" } },
		{ "cluster", "prod eu", -EINVAL, { "cluster", "space" } },
		{ "node_name", "a\"b", -EINVAL, { "node_name", "quote" } },
		{ "force_raw_tp", "yes", -EINVAL, { "force_raw_tp", "\"yes\"", "true or false" } },
		{ "force-raw-tp", "", -EINVAL, { "force-raw-tp", "empty value", "true or false" } },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_bad_set(&cases[i]);
}

/* Prices and the node as priced: defaults are OpenCost's, values exact. */
static void test_prices(void **state)
{
	char err[ERRLEN] = "";
	struct pm_config cfg;

	(void)state;
	config__defaults(&cfg);
	assert_true(cfg.prices.cpu_core_hour == 0.031611);
	assert_true(cfg.prices.memory_gib_hour == 0.004237);
	assert_true(cfg.prices.gpu_hour == 0.95);
	assert_true(cfg.prices.node_hour == 0);
	assert_true(cfg.prices.egress_gib[PM_NET_IN_ZONE] == 0);
	assert_true(cfg.prices.egress_gib[PM_NET_CROSS_ZONE] == 0.01);
	assert_true(cfg.prices.egress_gib[PM_NET_CROSS_REGION] == 0.01);
	assert_true(cfg.prices.egress_gib[PM_NET_INTERNET] == 0.12);
	assert_int_equal(config__set(&cfg, "price_cpu_core_hour", "0.05", err, sizeof(err)), 0);
	assert_true(cfg.prices.cpu_core_hour == 0.05);
	assert_int_equal(config__set(&cfg, "price-node-hour", "1e-1", err, sizeof(err)), 0);
	assert_true(cfg.prices.node_hour == 0.1);
	assert_int_equal(config__set(&cfg, "price_egress_internet", ".09", err, sizeof(err)), 0);
	assert_true(cfg.prices.egress_gib[PM_NET_INTERNET] == 0.09);
	assert_int_equal(config__set(&cfg, "price_gpu_hour", "0", err, sizeof(err)), 0);
	assert_true(cfg.prices.gpu_hour == 0);
	assert_int_equal(config__set(&cfg, "node_cpu_cores", "7500m", err, sizeof(err)), 0);
	assert_true(cfg.prices.node_cpu_cores == 7.5);
	assert_int_equal(config__set(&cfg, "node_memory", "64Gi", err, sizeof(err)), 0);
	assert_int_equal(cfg.prices.node_memory_bytes, 64LL << 30);
	assert_int_equal(config__set(&cfg, "node_gpus", "8", err, sizeof(err)), 0);
	assert_int_equal(cfg.prices.node_gpus, 8);
}

/* Report settings: defaults documented in the README, values as given. */
static void test_report_keys(void **state)
{
	char err[ERRLEN] = "";
	struct pm_config cfg;

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(cfg.report.window_ms, 60000);
	assert_string_equal(cfg.report.spool_dir, "/var/lib/podmeter/spool");
	assert_int_equal(cfg.report.spool_max_bytes, 64LL << 20);
	assert_string_equal(cfg.reconciler.url, "");
	assert_int_equal(cfg.reconciler.timeout_ms, 10000);
	assert_int_equal(cfg.reconciler.retry_max_ms, 30000);
	assert_int_equal(config__set(&cfg, "report_window", "5m", err, sizeof(err)), 0);
	assert_int_equal(cfg.report.window_ms, 300000);
	assert_int_equal(config__set(&cfg, "spool", "/tmp/not/yet/there", err, sizeof(err)), 0);
	assert_string_equal(cfg.report.spool_dir, "/tmp/not/yet/there");
	assert_int_equal(config__set(&cfg, "spool-max-bytes", "1Gi", err, sizeof(err)), 0);
	assert_int_equal(cfg.report.spool_max_bytes, 1LL << 30);
	assert_int_equal(
		config__set(&cfg, "reconciler", "https://r:8443/v1/reports", err, sizeof(err)), 0);
	assert_string_equal(cfg.reconciler.url, "https://r:8443/v1/reports");
	/* without a path: the reconciler's /v1/reports */
	assert_int_equal(config__set(&cfg, "reconciler", "https://r:8443/", err, sizeof(err)), 0);
	assert_string_equal(cfg.reconciler.url, "https://r:8443/v1/reports");
	assert_int_equal(config__set(&cfg, "cluster", "prod-eu-1", err, sizeof(err)), 0);
	assert_string_equal(cfg.report.cluster, "prod-eu-1");
	assert_int_equal(config__set(&cfg, "node_name", "node-a", err, sizeof(err)), 0);
	assert_string_equal(cfg.report.node_name, "node-a");
	assert_string_equal(cfg.report.labels, "");
	assert_int_equal(config__set(&cfg, "report-labels", "team,app.kubernetes.io/name", err,
				     sizeof(err)),
			 0);
	assert_string_equal(cfg.report.labels, "team,app.kubernetes.io/name");
}

/* Label keys: Kubernetes' shape, no repeats, at most PM_POD_LABELS; a refusal keeps the old value. */
static void test_report_labels_bad(void **state)
{
	static const char *const bad[] = {
		"team,team",
		"a b",
		"/name",
		"prefix/",
		"a/b/c",
		"team,,x=y",
		"a,b,c,d,e,f,g,h,i",
		"x/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	char err[ERRLEN];
	struct pm_config cfg;
	size_t i;

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "report_labels", "team", err, sizeof(err)), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(config__set(&cfg, "report_labels", bad[i], err, sizeof(err)),
				 -EINVAL);
		assert_true(err[0] != '\0');
		assert_string_equal(cfg.report.labels, "team");
	}
	assert_int_equal(config__set(&cfg, "report_labels", "a,b,c,d,e,f,g,h", err, sizeof(err)),
			 0);
}

/* Detection settings from the config, the rest at the detector's defaults. */
static void test_detect_keys(void **state)
{
	struct pm_detect_cfg d, def;
	char err[ERRLEN] = "";
	struct pm_config cfg;

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "idle_window", "30s", err, sizeof(err)), 0);
	assert_int_equal(config__set(&cfg, "zombie_memory", "32Mi", err, sizeof(err)), 0);
	memset(&d, 0x7f, sizeof(d)); /* garbage, as on a stack */
	config__detect(&cfg, &d);
	detect__defaults(&def);
	assert_true(d.window_s == 30);
	assert_int_equal(d.zombie_memory_bytes, 32 << 20);
	assert_true(d.idle_cpu_ratio == def.idle_cpu_ratio);
	assert_true(d.rs_quantile == def.rs_quantile && d.rs_target == def.rs_target);
	assert_true(d.rs_headroom == def.rs_headroom && d.season_slot_s == def.season_slot_s);
}

/* The unknown-key message names every key, the new ones too. */
static void test_unknown_key_lists_keys(void **state)
{
	const char *const subs[] = { "known keys: listen, interval", "price_node_hour",
				     "price_egress_internet", "node_gpus", NULL };
	char err[2048] = "";
	struct pm_config cfg;

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "price", "1", err, sizeof(err)), -ENOENT);
	assert_msg_has(err, subs);
}

static void test_set_tiny_err_buffer(void **state)
{
	struct pm_config cfg;
	char err[8];

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "interval", "abc", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config:");
	assert_int_equal(config__set(&cfg, "interval", "abc", NULL, 0), -EINVAL);
}

static void test_file_good(void **state)
{
	char path[PATH_MAX], text[3 * PATH_MAX], err[ERRLEN] = "";
	struct pm_config cfg;

	(void)state;
	snprintf(text, sizeof(text),
		 "# podmeter config\n"
		 "listen: \"[::1]:9000\"\n"
		 "interval: 250ms   # faster\n"
		 "cgroup-root: %s\n"
		 "proc_root: '%s'\n"
		 "cgroup_mode: v1\n",
		 cgdir, procdir);
	tmp_file(path, sizeof(path), "good.yaml", text);
	config__defaults(&cfg);
	assert_int_equal(config__load_file(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.http.listen_host, "::1");
	assert_int_equal(cfg.http.listen_port, 9000);
	assert_int_equal(cfg.collect.interval_ms, 250);
	assert_string_equal(cfg.collect.cgroup_root, cgdir);
	assert_string_equal(cfg.collect.proc_root, procdir);
	assert_int_equal(cfg.collect.cgroup_mode, PM_CG_V1);
	assert_string_equal(cfg.config_file, path);
}

static void test_file_empty(void **state)
{
	static const char *const texts[] = { "", "\n# only a comment\n", "---\n", "~\n" };
	char path[PATH_MAX], err[ERRLEN] = "";
	struct pm_config cfg, want;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		tmp_file(path, sizeof(path), "empty.yaml", texts[i]);
		config__defaults(&cfg);
		config__defaults(&want);
		strcpy(want.config_file, path);
		if (config__load_file(&cfg, path, err, sizeof(err)))
			fail_msg("\"%s\": %s", texts[i], err);
		assert_cfg_equal(&cfg, &want);
	}
}

struct file_case {
	const char *name, *text;
	int ret;
	const char *subs[4];
};

static void check_bad_file(const struct file_case *c)
{
	char path[PATH_MAX], err[ERRLEN] = "";
	struct pm_config cfg, before;
	int ret;

	tmp_file(path, sizeof(path), c->name, c->text);
	config__defaults(&cfg);
	before = cfg;
	ret = config__load_file(&cfg, path, err, sizeof(err));
	if (ret != c->ret)
		fail_msg("%s: ret %d, want %d (%s)", c->name, ret, c->ret, err);
	assert_non_null(strstr(err, path));
	assert_null(strchr(err, '\n'));
	assert_msg_has(err, c->subs);
	/* A bad file applies nothing, not even the keys before the bad one. */
	assert_cfg_equal(&cfg, &before);
}

static void test_file_bad(void **state)
{
	static const struct file_case cases[] = {
		{ "unknown.yaml",
		  "interval: 2s\nfoo: 1\n",
		  -ENOENT,
		  { "line 2", "unknown key \"foo\"" } },
		{ "unknown2.yaml",
		  "interval: 2s\nlisten: 1.2.3.4:9\ninterval2: x\n",
		  -ENOENT,
		  { "line 3", "\"interval2\"" } },
		{ "badinterval.yaml",
		  "listen: :80\ninterval: abc\n",
		  -EINVAL,
		  { "line 2", "interval: \"abc\" is not a duration" } },
		{ "badport.yaml", "listen: \":0\"\n", -EINVAL, { "line 1", "listen", "\":0\"" } },
		{ "nullval.yaml", "interval:\n", -EINVAL, { "interval", "empty value" } },
		{ "syntax.yaml", "interval: 1s\nlisten: :80\n  bad: [\n", -EINVAL, { "line 3" } },
		{ "syntax2.yaml", "a: b\n\"unterminated\n", -EINVAL, { "line " } },
		{ "nested.yaml",
		  "interval: 1s\ncgroup_root:\n  path: /sys\n",
		  -EINVAL,
		  { "line 2", "cgroup_root", "single value" } },
		{ "seq.yaml",
		  "cgroup-mode: [v1, v2]\n",
		  -EINVAL,
		  { "cgroup-mode", "single value" } },
		{ "v6unquoted.yaml", "listen: [::1]:9477\n", -EINVAL, { "line 1" } },
		{ "toplist.yaml", "- interval: 1s\n", -EINVAL, { "line 1", "mapping" } },
		{ "topscalar.yaml", "hello\n", -EINVAL, { "mapping" } },
		{ "dup.yaml",
		  "interval: 1s\ncgroup_mode: v2\ninterval: 2s\n",
		  -EINVAL,
		  { "line 3", "interval", "twice" } },
		{ "dupspell.yaml", "cgroup_mode: v2\ncgroup-mode: v1\n", -EINVAL, { "twice" } },
		{ "twodocs.yaml", "interval: 1s\n---\ninterval: 2s\n", -EINVAL, { "document" } },
		{ "nulbyte.yaml", "cgroup_mode: \"v2\\0x\"\n", -EINVAL, { "cgroup_mode", "NUL" } },
		{ "mapkey.yaml", "? [a, b]\n: 1\n", -EINVAL, { "keys" } },
		{ "badutf8.yaml", "interval: \xff\xfe\n", -EINVAL, { "UTF-8" } },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_bad_file(&cases[i]);
}

static void test_file_missing(void **state)
{
	char path[PATH_MAX], err[ERRLEN] = "";
	struct pm_config cfg;

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.yaml", tmpdir);
	config__defaults(&cfg);
	assert_int_equal(config__load_file(&cfg, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_int_equal(config__load_file(&cfg, tmpdir, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, tmpdir));
	assert_int_equal(config__load_file(&cfg, "", err, sizeof(err)), -EINVAL);
	assert_string_equal(cfg.config_file, "");
}

/* Run config__from_args on a NULL-terminated list; stdout goes to @out when not NULL. */
static int from_args(struct pm_config *cfg, char *err, const char **argv, char *out, size_t outlen)
{
	char capture[PATH_MAX + 16];
	int argc = 0, saved = -1, fd, ret;
	ssize_t n;

	while (argv[argc])
		argc++;
	snprintf(capture, sizeof(capture), "%s/stdout", tmpdir);
	fflush(stdout);
	fd = open(capture, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDOUT_FILENO);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	ret = config__from_args(cfg, argc, (char **)argv, err, ERRLEN);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	if (out) {
		n = pread(fd, out, outlen - 1, 0);
		assert_true(n >= 0);
		out[n] = '\0';
	}
	close(fd);
	return ret;
}

static void test_args_defaults(void **state)
{
	const char *argv[] = { "run", NULL };
	char err[ERRLEN] = "";
	struct pm_config cfg, want;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	config__defaults(&want);
	assert_int_equal(from_args(&cfg, err, argv, NULL, 0), 0);
	assert_cfg_equal(&cfg, &want);
}

static void test_args_forms(void **state)
{
	char err[ERRLEN] = "", cgflag[PATH_MAX + 32];
	const char *argv[] = {
		"check",       "--listen=:9000", "--interval", "250ms", "--cgroup-mode=v2",
		"--proc-root", procdir,		 cgflag,       "--",	NULL
	};
	struct pm_config cfg;

	(void)state;
	snprintf(cgflag, sizeof(cgflag), "--cgroup-root=%s", cgdir);
	assert_int_equal(from_args(&cfg, err, argv, NULL, 0), 0);
	assert_string_equal(cfg.http.listen_host, "");
	assert_int_equal(cfg.http.listen_port, 9000);
	assert_int_equal(cfg.collect.interval_ms, 250);
	assert_int_equal(cfg.collect.cgroup_mode, PM_CG_V2);
	assert_string_equal(cfg.collect.proc_root, procdir);
	assert_string_equal(cfg.collect.cgroup_root, cgdir);
	assert_string_equal(cfg.config_file, "");
}

/* defaults < file < flags, wherever --config sits on the line. */
static void test_args_flags_win_over_file(void **state)
{
	char path[PATH_MAX], cfgflag[PATH_MAX + 16], err[ERRLEN] = "";
	const char *before[] = { "run", "--interval", "2s", "--config", path, NULL };
	const char *after[] = { "run", cfgflag, "--interval=2s", NULL };
	const char **lines[] = { before, after };
	struct pm_config cfg;
	size_t i;

	(void)state;
	tmp_file(path, sizeof(path), "flags.yaml",
		 "interval: 5s\nlisten: 0.0.0.0:9100\ncgroup-mode: v1\n");
	snprintf(cfgflag, sizeof(cfgflag), "--config=%s", path);
	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		if (from_args(&cfg, err, lines[i], NULL, 0))
			fail_msg("line %zu: %s", i, err);
		assert_int_equal(cfg.collect.interval_ms, 2000);
		assert_string_equal(cfg.http.listen_host, "0.0.0.0");
		assert_int_equal(cfg.http.listen_port, 9100);
		assert_int_equal(cfg.collect.cgroup_mode, PM_CG_V1);
		assert_string_equal(cfg.collect.proc_root, "/proc");
		assert_string_equal(cfg.config_file, path);
	}
}

static void test_args_file_errors(void **state)
{
	char path[PATH_MAX], missing[PATH_MAX + 16], err[ERRLEN] = "";
	const char *bad[] = { "run", "--config", path, "--interval", "2s", NULL };
	const char *gone[] = { "run", "--config", missing, NULL };
	struct pm_config cfg;

	(void)state;
	tmp_file(path, sizeof(path), "flagsbad.yaml", "interval: 5s\nbogus: 1\n");
	assert_int_equal(from_args(&cfg, err, bad, NULL, 0), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "unknown key \"bogus\""));
	snprintf(missing, sizeof(missing), "%s/missing.yaml", tmpdir);
	assert_int_equal(from_args(&cfg, err, gone, NULL, 0), -ENOENT);
	assert_non_null(strstr(err, missing));
}

struct args_case {
	const char *argv[6];
	int ret;
	const char *subs[4];
};

/* The kubelet's URL as people type it: its /pods, from the file and from the flag. */
static void test_kubelet_url(void **state)
{
	char path[PATH_MAX], err[ERRLEN] = "";
	const char *proxy[] = { "run",
				"--config",
				path,
				"--kubelet",
				"https://api:6443/api/v1/nodes/node-a/proxy/pods",
				NULL };
	const char *slash[] = { "run", "--kubelet=HTTPS://node-a:10250/", NULL };
	struct pm_config cfg;

	(void)state;
	tmp_file(path, sizeof(path), "kubelet.yaml", "kubelet: https://127.0.0.1:10250\n");
	config__defaults(&cfg);
	if (config__load_file(&cfg, path, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(cfg.kubelet.url, "https://127.0.0.1:10250/pods");
	/* a path given, as through the API server's node proxy, is kept */
	if (from_args(&cfg, err, proxy, NULL, 0))
		fail_msg("%s", err);
	assert_string_equal(cfg.kubelet.url, "https://api:6443/api/v1/nodes/node-a/proxy/pods");
	if (from_args(&cfg, err, slash, NULL, 0))
		fail_msg("%s", err);
	assert_string_equal(cfg.kubelet.url, "https://node-a:10250/pods");
}

static void test_args_bad(void **state)
{
	static const struct args_case cases[] = {
		{ { "run", "--foo", NULL },
		  -EINVAL,
		  { "unknown option \"--foo\"; see podmeter run --help" } },
		{ { "check", "--foo=bar", NULL },
		  -EINVAL,
		  { "unknown option \"--foo\"; see podmeter check --help" } },
		{ { "run", "-x", NULL }, -EINVAL, { "unknown option \"-x\"" } },
		{ { "run", "--int", "1s", NULL }, -EINVAL, { "unknown option \"--int\"" } },
		{ { "run", "--cgroup_root", "/", NULL }, -EINVAL, { "\"--cgroup_root\"" } },
		{ { "run", "extra", NULL },
		  -EINVAL,
		  { "unexpected argument \"extra\"", "--help" } },
		{ { "run", "--interval", "1s", "extra", NULL }, -EINVAL, { "\"extra\"" } },
		{ { "run", "--", "extra", NULL }, -EINVAL, { "unexpected argument \"extra\"" } },
		{ { "run", "-", NULL }, -EINVAL, { "unexpected argument \"-\"" } },
		{ { "run", "--interval", NULL }, -EINVAL, { "missing value", "\"--interval\"" } },
		{ { "run", "--help=yes", NULL }, -EINVAL, { "\"--help=yes\"" } },
		{ { "run", "--interval=abc", NULL },
		  -EINVAL,
		  { "--interval: \"abc\" is not a duration" } },
		{ { "run", "--interval", "", NULL }, -EINVAL, { "--interval", "empty value" } },
		{ { "run", "--listen", ":70000", NULL }, -EINVAL, { "--listen", "\":70000\"" } },
		{ { "run", "--proc-root=proc", NULL }, -EINVAL, { "--proc-root", "\"proc\"" } },
		{ { "run", "--cgroup-mode", "v9", NULL }, -EINVAL, { "--cgroup-mode", "\"v9\"" } },
		{ { "run", "--config=", NULL }, -EINVAL, { "config file path" } },
		{ { "run", "--kubelet", "node:10250", NULL },
		  -EINVAL,
		  { "--kubelet: \"node:10250\" has no scheme" } },
		{ { "run", "--reconciler=http://r:0", NULL },
		  -EINVAL,
		  { "--reconciler", "out of range" } },
	};
	struct pm_config cfg, before;
	char err[ERRLEN];
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		config__defaults(&cfg);
		cfg.collect.interval_ms = 4242;
		before = cfg;
		err[0] = '\0';
		ret = from_args(&cfg, err, (const char **)cases[i].argv, NULL, 0);
		if (ret != cases[i].ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret, cases[i].ret, err);
		assert_null(strchr(err, '\n'));
		assert_msg_has(err, cases[i].subs);
		assert_cfg_equal(&cfg, &before);
	}
}

static void test_args_help(void **state)
{
	static const char *const lines[][4] = {
		{ "run", "--help", NULL },
		{ "run", "-h", NULL },
		{ "check", "--interval", "1s", "-h" },
		{ "run", "--config", "/nonexistent.yaml", "--help" },
	};
	static const char *const subs[] = {
		"--listen",	 "127.0.0.1:9477", "--interval",  "1s",	   "--config",
		"--cgroup-root", "mountinfo",	   "--proc-root", "/proc", "--cgroup-mode",
		"auto",		 "--help",	   NULL
	};
	char err[ERRLEN] = "", out[8192];
	const char *argv[5];
	struct pm_config cfg;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		memcpy(argv, lines[i], sizeof(lines[i]));
		argv[4] = NULL;
		out[0] = '\0';
		assert_int_equal(from_args(&cfg, err, argv, out, sizeof(out)), 1);
		assert_msg_has(out, subs);
	}
}

/* Every default is written once, in the key table, and goes through the key's own setter. */
static void test_defaults_from_table(void **state)
{
	struct pm_config cfg, again;
	struct pm_detect_cfg d;
	char err[ERRLEN] = "";
	const char *key, *def;
	int i, with_def = 0;

	(void)state;
	config__defaults(&cfg);
	for (i = 0; (key = config__key(i, NULL)); i++) {
		def = config__key_default(key);
		if (!def)
			continue;
		with_def++;
		again = cfg;
		if (config__set(&again, key, def, err, sizeof(err)))
			fail_msg("%s: default \"%s\" refused: %s", key, def, err);
		/* setting a key to its default changes nothing: config__defaults did just that */
		if (memcmp(&again, &cfg, sizeof(cfg)))
			fail_msg("%s: default \"%s\" is not what config__defaults set", key, def);
	}
	assert_true(i > 50);
	assert_true(with_def > 25);
	assert_null(config__key(i, NULL));
	assert_null(config__key(-1, NULL));
	assert_string_equal(config__key_default("pin_dir"), "/sys/fs/bpf/podmeter");
	assert_string_equal(config__key_default("pin-dir"), "/sys/fs/bpf/podmeter");
	assert_string_equal(config__key_default("interval"), "1s");
	assert_null(config__key_default("price_node_hour"));
	assert_null(config__key_default("no_such_key"));
	assert_null(config__key_default(NULL));
	/* the detection section's defaults are the detector's own */
	detect__defaults(&d);
	assert_true(cfg.detection.idle_window_ms == (uint64_t)(d.window_s * 1000));
	assert_true(cfg.detection.idle_cpu_ratio == d.idle_cpu_ratio);
	assert_true(cfg.detection.idle_cpu_cores == d.idle_cpu_cores);
	assert_true(cfg.detection.idle_net_bytes_s == d.idle_net_bytes_s);
	assert_true(cfg.detection.zombie_cpu_cores == d.zombie_cpu_cores);
	assert_int_equal(cfg.detection.zombie_memory_bytes, (int64_t)d.zombie_memory_bytes);
	assert_false(cfg.collect.force_raw_tp);
	assert_int_equal(cfg.report.window_ms, 60000);
	assert_int_equal(cfg.report.spool_max_bytes, 64LL << 20);
	assert_string_equal(cfg.collect.pin_dir, "/sys/fs/bpf/podmeter");
}

/* What SIGHUP applies and what it names as waiting for a restart. */
static void test_reload_fixed(void **state)
{
	static const struct {
		const char *key, *value;
		bool reloadable;
	} cases[] = {
		{ "price_cpu_core_hour", "0.05", true },
		{ "price_node_hour", "0.2", true },
		{ "price_egress_internet", "0.2", true },
		{ "node_cpu_cores", "4", true },
		{ "node_memory", "8Gi", true },
		{ "net_in_zone", "10.9.0.0/16", true },
		{ "idle_window", "2h", true },
		{ "zombie_memory", "32Mi", true },
		{ "listen", ":9999", false },
		{ "interval", "2s", false },
		{ "report_window", "5m", false },
		{ "spool", "/tmp/elsewhere", false },
		{ "pin_dir", "none", false },
		{ "reconciler", "http://r:9480", false },
		{ "node_name", "n1", false },
		{ "cluster", "c1", false },
		{ "report_labels", "team", false },
		{ "overhead_groups", "3", false },
		{ "cgroup_mode", "v1", false },
		{ "force_raw_tp", "true", false },
		{ "gpu_devices", "/dev/x", false },
		{ "kubelet_interval", "1m", false },
	};
	struct pm_config old, fresh;
	char err[ERRLEN] = "";
	const char *keys[64];
	bool reloadable;
	size_t i;
	int n, k;

	(void)state;
	config__defaults(&old);
	fresh = old;
	assert_int_equal(config__fixed_changed(&old, &fresh, keys, 64), 0);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fresh = old;
		if (config__set(&fresh, cases[i].key, cases[i].value, err, sizeof(err)))
			fail_msg("%s: %s", cases[i].key, err);
		n = config__fixed_changed(&old, &fresh, keys, 64);
		if (cases[i].reloadable ? n != 0 : n != 1 || strcmp(keys[0], cases[i].key))
			fail_msg("%s changed: %d keys named, first %s", cases[i].key, n,
				 n ? keys[0] : "none");
		for (k = 0; config__key(k, &reloadable); k++)
			if (!strcmp(config__key(k, NULL), cases[i].key))
				assert_int_equal(reloadable, cases[i].reloadable);
	}
	/* all the restart-only ones at once, counted beyond @max */
	fresh = old;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(
			config__set(&fresh, cases[i].key, cases[i].value, err, sizeof(err)), 0);
	assert_int_equal(config__fixed_changed(&old, &fresh, keys, 2), 14);
	assert_string_equal(keys[0], "listen");
}

/* The raw_tp switch: a key and a flag; the environment variable only when loading. */
static void test_force_raw_tp(void **state)
{
	const char *plain[] = { "run", NULL };
	const char *flag[] = { "run", "--force-raw-tp", NULL };
	const char *off[] = { "run", "--force-raw-tp=false", NULL };
	const char *bad[] = { "run", "--force-raw-tp=maybe", NULL };
	char err[ERRLEN] = "";
	struct pm_config cfg;

	(void)state;
	unsetenv("PODMETER_FORCE_RAW_TP");
	assert_int_equal(from_args(&cfg, err, plain, NULL, 0), 0);
	assert_false(cfg.collect.force_raw_tp);
	assert_int_equal(from_args(&cfg, err, flag, NULL, 0), 0);
	assert_true(cfg.collect.force_raw_tp);
	assert_int_equal(from_args(&cfg, err, bad, NULL, 0), -EINVAL);
	assert_non_null(strstr(err, "--force-raw-tp: \"maybe\" is not true or false"));
	setenv("PODMETER_FORCE_RAW_TP", "1", 1);
	assert_int_equal(from_args(&cfg, err, plain, NULL, 0), 0);
	assert_true(cfg.collect.force_raw_tp);
	/* a flag still wins over the environment */
	assert_int_equal(from_args(&cfg, err, off, NULL, 0), 0);
	assert_false(cfg.collect.force_raw_tp);
	/* config__defaults alone does not read it */
	config__defaults(&cfg);
	assert_false(cfg.collect.force_raw_tp);
	unsetenv("PODMETER_FORCE_RAW_TP");
}

static void test_args_no_subcommand(void **state)
{
	const char *argv[] = { NULL };
	char err[ERRLEN] = "";
	struct pm_config cfg;

	(void)state;
	assert_int_equal(config__from_args(&cfg, 0, (char **)argv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "subcommand"));
}

/* ---- the web config (exporter/webcfg.c) ---- */

/* A self-signed EC certificate and its key, made for this test only, and another key. */
static const char web_cert[] = "-----BEGIN CERTIFICATE-----\n"
			       "MIIBdTCCARugAwIBAgIUY871f1BRHbnj8HM0DF5JeTtu5EQwCgYIKoZIzj0EAwIw\n"
			       "DzENMAsGA1UEAwwEdW5pdDAgFw0yNjEyMDQxNzQwNThaGA8yMTI2MTExMDE3NDA1\n"
			       "OFowDzENMAsGA1UEAwwEdW5pdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIjO\n"
			       "EkRIA30aFYTzEsW3Hqh/ibqhNXwBmi7wUsmqw0xlffOb0ZaVeArDIfp0922ntkRq\n"
			       "cNh8z8n94EM1DPwnXdyjUzBRMB0GA1UdDgQWBBQCAp6Hv4Aji3UlTjWwWB5X6uhP\n"
			       "ijAfBgNVHSMEGDAWgBQCAp6Hv4Aji3UlTjWwWB5X6uhPijAPBgNVHRMBAf8EBTAD\n"
			       "AQH/MAoGCCqGSM49BAMCA0gAMEUCIQDPv16Ab7jA2v8hOlQoKzA+p43MuutxYa6a\n"
			       "GAZDP7ZI+AIgDNJD7mVSdDkUvgC0A9FyW8gkKohrHvB+fthgazFL/Cg=\n"
			       "-----END CERTIFICATE-----\n";
static const char web_key[] = "-----BEGIN PRIVATE KEY-----\n"
			      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXqaBYS2NvnaIYiNq\n"
			      "opJPCLNSNmWfwgXhQQkU4llAoG2hRANCAASIzhJESAN9GhWE8xLFtx6of4m6oTV8\n"
			      "AZou8FLJqsNMZX3zm9GWlXgKwyH6dPdtp7ZEanDYfM/J/eBDNQz8J13c\n"
			      "-----END PRIVATE KEY-----\n";
static const char web_other_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVPZgycj/RRVOrg3Z\n"
	"n4Zb7dhNZVQGsq4FqbzbDvnYrFehRANCAATVEdfasbELTw9kajSPXP8rtt6Eyrrl\n"
	"qA9Ed9i4G2u9DKc4/n51yRRCCqdrP16TWNGguo7PBNS64Z1ZNszsJO76\n"
	"-----END PRIVATE KEY-----\n";

/* The certificate, keys and a token file, in <tmpdir>/web. */
static void web_files(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/web", tmpdir);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/tls.crt", dir);
	write_text(path, web_cert);
	snprintf(path, sizeof(path), "%s/tls.key", dir);
	write_text(path, web_key);
	snprintf(path, sizeof(path), "%s/other.key", dir);
	write_text(path, web_other_key);
	snprintf(path, sizeof(path), "%s/tokens", dir);
	write_text(path, "# scrapers\n\n  prometheus-0123456789abcdef  \n"
			 "second-token-0123456789\n");
}

static int web_load(const char *yaml, struct pm_web_config *wc, char *err)
{
	char path[PATH_MAX + 16];

	web_files();
	snprintf(path, sizeof(path), "%s/web/web.yaml", tmpdir);
	write_text(path, yaml);
	memset(wc, 0x5a, sizeof(*wc));
	err[0] = '\0';
	return webcfg__load(wc, path, err, ERRLEN);
}

static void test_web_good(void **state)
{
	struct pm_web_config wc;
	char err[ERRLEN], want[PATH_MAX + 32];

	(void)state;
	assert_int_equal(web_load("", &wc, err), 0);
	assert_string_equal(wc.cert_file, "");
	assert_string_equal(wc.tokens_file, "");
	assert_int_equal(wc.client_auth, PM_CLIENT_AUTH_NONE);
	/* paths relative to the file's directory, as exporter-toolkit reads them */
	assert_int_equal(web_load("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
				  "  client_auth_type: RequireAndVerifyClientCert\n"
				  "  client_ca_file: tls.crt\n  min_version: TLS13\n"
				  "bearer_tokens_file: tokens\n",
				  &wc, err),
			 0);
	snprintf(want, sizeof(want), "%s/web/tls.crt", tmpdir);
	assert_string_equal(wc.cert_file, want);
	assert_string_equal(wc.client_ca_file, want);
	snprintf(want, sizeof(want), "%s/web/tokens", tmpdir);
	assert_string_equal(wc.tokens_file, want);
	assert_int_equal(wc.client_auth, PM_CLIENT_AUTH_REQUIRE);
	assert_true(wc.tls13);
	/* tokens alone: plain HTTP with a token */
	assert_int_equal(web_load("bearer_tokens_file: tokens\n", &wc, err), 0);
	assert_string_equal(wc.cert_file, "");
}

struct web_bad {
	const char *yaml;
	const char *const subs[3];
};

static const struct web_bad web_bads[] = {
	{ "basic_auth_users:\n  alice: x\n", { "basic_auth_users", "not supported", NULL } },
	{ "tls_server_config:\n  cert_file: tls.crt\n  cipher_suites: [x]\n",
	  { "cipher_suites", "not supported", NULL } },
	{ "tls_server_config:\n  cert_file: tls.crt\n", { "both cert_file and key_file", NULL } },
	{ "tls_server_config: {}\n", { "both cert_file and key_file", NULL } },
	{ "tls_server_config:\n  cert_file: tls.crt\n  key_file: other.key\n",
	  { "cert_file", "key_file", NULL } },
	{ "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
	  "  client_auth_type: RequireAndVerifyClientCert\n",
	  { "needs client_ca_file", NULL } },
	{ "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
	  "  client_ca_file: tls.crt\n",
	  { "without client_auth_type", NULL } },
	{ "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
	  "  client_auth_type: RequireAnyClientCert\n  client_ca_file: tls.crt\n",
	  { "RequireAnyClientCert", "not verified", NULL } },
	{ "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  min_version: TLS11\n",
	  { "TLS11", NULL } },
	{ "tls_server_config:\n  cert_file: nope.crt\n  key_file: tls.key\n",
	  { "nope.crt", "No such file", NULL } },
	{ "bearer_tokens_file: tokens\nbearer_tokens_file: tokens\n", { "given twice", NULL } },
	{ "bearer_tokens_file: tls.crt\n", { "token", NULL } },
	{ "bearer_tokens_file: [a, b]\n", { "one value", NULL } },
	{ "- a\n- b\n", { "expected a mapping", NULL } },
	{ "tls_server_config: yes\n", { "expected a mapping", NULL } },
	{ "a: [\n", { "line", NULL } },
};

static void test_web_bad(void **state)
{
	struct pm_web_config wc;
	char err[ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(web_bads); i++) {
		if (!web_load(web_bads[i].yaml, &wc, err))
			fail_msg("accepted: %s", web_bads[i].yaml);
		assert_msg_has(err, web_bads[i].subs);
	}
}

/* The --web-config flag loads and checks the file at start. */
static void test_web_flag(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN], path[PATH_MAX + 16];

	(void)state;
	web_files();
	snprintf(path, sizeof(path), "%s/web/flag.yaml", tmpdir);
	write_text(path, "bearer_tokens_file: tokens\n");
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "web_config", path, err, sizeof(err)), 0);
	assert_string_equal(cfg.http.web_config, path);
	assert_true(strstr(cfg.http.web.tokens_file, "/web/tokens") != NULL);
	write_text(path, "basic_auth_users: {}\n");
	assert_int_equal(config__set(&cfg, "web_config", path, err, sizeof(err)), -EINVAL);
	assert_true(strstr(err, "basic_auth_users") != NULL);
}

static void tokens_from(const char *text, int want_ret, int want_n)
{
	struct pm_web_tokens *t = malloc(sizeof(*t));
	char path[PATH_MAX + 16], err[ERRLEN];

	assert_non_null(t);
	tmp_file(path, sizeof(path), "tokens.txt", text);
	assert_int_equal(webcfg__load_tokens(t, path, err, sizeof(err)), want_ret);
	if (!want_ret)
		assert_int_equal(t->n, want_n);
	free(t);
}

static void test_web_tokens(void **state)
{
	char many[64 * 40] = "", line[40];
	int i;

	(void)state;
	tokens_from("abcdefghijklmnop\n# c\n\n\tqrstuvwxyz0123456789 \r\n", 0, 2);
	tokens_from("short\n", -EINVAL, 0);
	tokens_from("# only comments\n\n", -EINVAL, 0);
	tokens_from("has space in it 0123456789\n", -EINVAL, 0);
	for (i = 0; i < PM_WEB_TOKENS_MAX + 1; i++) {
		snprintf(line, sizeof(line), "token-number-%04d-abcdef\n", i);
		strcat(many, line);
	}
	tokens_from(many, -E2BIG, 0);
}

static void test_web_bearer(void **state)
{
	struct pm_web_tokens t = { .n = 2 };

	(void)state;
	strcpy(t.token[0], "prometheus-0123456789abcdef");
	strcpy(t.token[1], "second-token-0123456789");
	assert_true(webcfg__bearer_ok(&t, "Bearer prometheus-0123456789abcdef"));
	assert_true(webcfg__bearer_ok(&t, "bearer second-token-0123456789"));
	assert_false(webcfg__bearer_ok(&t, "Bearer prometheus-0123456789abcde"));
	assert_false(webcfg__bearer_ok(&t, "Bearer prometheus-0123456789abcdefg"));
	assert_false(webcfg__bearer_ok(&t, "Bearer "));
	assert_false(webcfg__bearer_ok(&t, "Basic prometheus-0123456789abcdef"));
	assert_false(webcfg__bearer_ok(&t, "prometheus-0123456789abcdef"));
	assert_false(webcfg__bearer_ok(&t, NULL));
	t.n = 0;
	assert_false(webcfg__bearer_ok(&t, "Bearer prometheus-0123456789abcdef"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_set_good),
		cmocka_unit_test(test_set_bad),
		cmocka_unit_test(test_set_tiny_err_buffer),
		cmocka_unit_test(test_prices),
		cmocka_unit_test(test_report_keys),
		cmocka_unit_test(test_report_labels_bad),
		cmocka_unit_test(test_detect_keys),
		cmocka_unit_test(test_unknown_key_lists_keys),
		cmocka_unit_test(test_file_good),
		cmocka_unit_test(test_file_empty),
		cmocka_unit_test(test_file_bad),
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_args_defaults),
		cmocka_unit_test(test_args_forms),
		cmocka_unit_test(test_args_flags_win_over_file),
		cmocka_unit_test(test_args_file_errors),
		cmocka_unit_test(test_kubelet_url),
		cmocka_unit_test(test_args_bad),
		cmocka_unit_test(test_args_help),
		cmocka_unit_test(test_args_no_subcommand),
		cmocka_unit_test(test_defaults_from_table),
		cmocka_unit_test(test_reload_fixed),
		cmocka_unit_test(test_force_raw_tp),
		cmocka_unit_test(test_web_good),
		cmocka_unit_test(test_web_bad),
		cmocka_unit_test(test_web_flag),
		cmocka_unit_test(test_web_tokens),
		cmocka_unit_test(test_web_bearer),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
