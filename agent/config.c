// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Agent configuration: embedded defaults < config file < command-line flags.
 * Every value, from the file or from a flag, goes through one setter per key,
 * so both sources accept and reject exactly the same strings.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "podmeter/config.h"
#include "podmeter/cost.h"
#include "podmeter/detect.h"
#include "podmeter/listen.h"
#include "podmeter/quantity.h"
#include "podmeter/net.h"
#include "podmeter/url.h"

#define CFG_MIN_INTERVAL_MS 100ULL
#define CFG_MAX_INTERVAL_MS (3600ULL * 1000)
#define CFG_MAX_FRAC_DIGITS 9
#define CFG_QUOTE_MAX	    128
#define CFG_WHY_MAX	    (CFG_QUOTE_MAX + PATH_MAX / 16 + 256)
#define CFG_KEY_MAX	    64

typedef int (*cfg_setter)(struct pm_config *cfg, const char *v, char *why, size_t len);

/* What a key is, beside its setter. */
enum cfg_key_flags {
	CFG_BOOL = 1 << 0,   /* a bare --flag means true */
	CFG_RELOAD = 1 << 1, /* SIGHUP applies a new value; others wait for a restart */
};

/*
 * A row of the key table: the one place a key's spellings, default, docs and
 * reloadability are written. config__defaults() sets every key to @def
 * through its setter, and config__usage() prints the same @def.
 */
struct cfg_key {
	const char *key;  /* canonical spelling, underscores */
	const char *flag; /* command-line spelling, hyphens */
	const char *hint; /* "give %s" when the value is empty */
	cfg_setter set;
	const char *def;  /* the default, as a value of the key; NULL: none (zero, "") */
	const char *none; /* what no default means, for --help; NULL: "none" */
	const char *arg;  /* --help's name for the value; NULL for a boolean */
	const char *help; /* --help's text; "\n" starts another line */
	size_t off, len;  /* the fields it sets, compared at reload */
	unsigned int flags;
};

struct cfg_opt {
	const char *flag; /* as written, without "=value" */
	int flaglen;
	const struct cfg_key *key; /* NULL for --config and --help */
	bool help;
	const char *value;
};

static void cfg_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfg_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Quote a user value for a one-line message: bounded, control bytes shown as '?'. */
static const char *cfg_quote(const char *s, char *buf, size_t len)
{
	size_t i, n = strlen(s);
	bool cut = n > len - 4;

	if (cut)
		n = len - 4;
	for (i = 0; i < n; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	strcpy(buf + n, cut ? "..." : "");
	return buf;
}

static bool cfg_blank(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return !*s;
}

static int cfg_unit_ms(const char *u, uint64_t *mult)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = { { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(u, units[i].name)) {
			*mult = units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

/* Digits with overflow check; *n is the count of digits read. */
static int cfg_digits(const char **p, uint64_t *val, int *n)
{
	uint64_t v = 0;

	for (*n = 0; isdigit((unsigned char)**p); (*p)++, (*n)++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(**p - '0'), &v))
			return -ERANGE;
	}
	*val = v;
	return 0;
}

int config__parse_duration_ms(const char *s, uint64_t *ms)
{
	uint64_t whole, frac = 0, mult, pow10 = 1, fms, total;
	int n, fn = 0, ret;
	const char *p = s;

	if (!s || !ms)
		return -EINVAL;
	ret = cfg_digits(&p, &whole, &n);
	if (ret)
		return ret;
	if (!n)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (cfg_digits(&p, &frac, &fn) || !fn || fn > CFG_MAX_FRAC_DIGITS)
			return -EINVAL;
	}
	if (cfg_unit_ms(p, &mult))
		return -EINVAL;
	while (fn--)
		pow10 *= 10;
	/* frac < 10^9 and mult <= 3.6e6: the product fits in 64 bits. */
	if (frac * mult % pow10)
		return -EINVAL; /* finer than a millisecond */
	fms = frac * mult / pow10;
	if (__builtin_mul_overflow(whole, mult, &total) ||
	    __builtin_add_overflow(total, fms, &total))
		return -ERANGE;
	*ms = total;
	return 0;
}

static int cfg_set_listen(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char host[sizeof(cfg->http.listen_host)], q[CFG_QUOTE_MAX];
	const char *reason;
	uint16_t port;

	if (listen__parse(v, host, sizeof(host), &port, &reason)) {
		snprintf(why, len, "\"%s\" %s", cfg_quote(v, q, sizeof(q)), reason);
		return -EINVAL;
	}
	strcpy(cfg->http.listen_host, host);
	cfg->http.listen_port = port;
	return 0;
}

/*
 * A duration within [@min, @max] ms; @range ("100ms to 1h") and @example
 * ("1s, 500ms") go into the messages.
 */
static int cfg_duration(const char *v, uint64_t min, uint64_t max, const char *range,
			const char *example, uint64_t *out, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];
	uint64_t ms;
	int ret;

	cfg_quote(v, q, sizeof(q));
	if (*v == '-') {
		snprintf(why, len, "\"%s\" is negative; use %s", q, range);
		return -EINVAL;
	}
	ret = config__parse_duration_ms(v, &ms);
	if (ret == -ERANGE || (!ret && (ms < min || ms > max))) {
		snprintf(why, len, "\"%s\" is out of range; use %s", q, range);
		return -EINVAL;
	}
	if (ret) {
		snprintf(why, len, "\"%s\" is not a duration (e.g. %s)", q, example);
		return -EINVAL;
	}
	*out = ms;
	return 0;
}

static int cfg_set_interval(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, CFG_MIN_INTERVAL_MS, CFG_MAX_INTERVAL_MS, "100ms to 1h", "1s, 500ms",
			    &cfg->collect.interval_ms, why, len);
}

static int cfg_set_zombie_grace(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 100, 24ULL * 3600 * 1000, "100ms to 24h", "60s, 5m",
			    &cfg->collect.zombie_grace_ms, why, len);
}

static int cfg_set_url(char *dst, size_t dstlen, const char *v, const char *default_path, char *why,
		       size_t len);

static int cfg_set_kubelet(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_url(cfg->kubelet.url, sizeof(cfg->kubelet.url), v, "/pods", why, len);
}

/* An absolute path of a readable file. */
static int cfg_set_file(char *dst, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];

	cfg_quote(v, q, sizeof(q));
	if (*v != '/' || strlen(v) >= PATH_MAX) {
		snprintf(why, len, "\"%s\" is not an absolute path", q);
		return -EINVAL;
	}
	if (access(v, R_OK)) {
		snprintf(why, len, "\"%s\": %s", q, strerror(errno));
		return -EINVAL;
	}
	strcpy(dst, v);
	return 0;
}

/* The file is read and checked whole here, so a mistake in it stops the agent at start. */
static int cfg_set_web_config(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	struct pm_web_config web;
	int ret;

	ret = cfg_set_file(cfg->http.web_config, v, why, len);
	if (ret)
		return ret;
	ret = webcfg__load(&web, v, why, len);
	if (ret)
		return ret;
	cfg->http.web = web;
	return 0;
}

static int cfg_set_token_file(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_file(cfg->kubelet.token_file, v, why, len);
}

static int cfg_set_ca_file(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_file(cfg->kubelet.ca_file, v, why, len);
}

static int cfg_bool(const char *v, bool *out, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];

	if (!strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "false"))
		*out = false;
	else {
		snprintf(why, len, "\"%s\" is not true or false", cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return 0;
}

static int cfg_set_insecure_tls(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_bool(v, &cfg->kubelet.insecure_tls, why, len);
}

static int cfg_set_force_raw_tp(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_bool(v, &cfg->collect.force_raw_tp, why, len);
}

static int cfg_set_kubelet_interval(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 1000, 3600 * 1000, "1s to 1h", "30s, 2m", &cfg->kubelet.interval_ms,
			    why, len);
}

/* An absolute path that need not exist yet. */
static int cfg_set_path(char *dst, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];

	if (*v != '/' || strlen(v) >= PATH_MAX) {
		snprintf(why, len, "\"%s\" is not an absolute path", cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	strcpy(dst, v);
	return 0;
}

static int cfg_set_log_pods_dir(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_path(cfg->kubelet.log_pods_dir, v, why, len);
}

/* An existing directory, absolute; trailing slashes dropped so callers can append "/x". */
static int cfg_set_dir(char *dst, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];
	size_t n = strlen(v);
	struct stat st;

	cfg_quote(v, q, sizeof(q));
	if (*v != '/') {
		snprintf(why, len, "\"%s\" is not an absolute path; give one starting with /", q);
		return -EINVAL;
	}
	if (n >= PATH_MAX) {
		snprintf(why, len, "\"%s\" is longer than %d bytes", q, PATH_MAX - 1);
		return -EINVAL;
	}
	if (stat(v, &st)) {
		snprintf(why, len, "\"%s\": %s; give an existing directory", q, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "\"%s\" is not a directory", q);
		return -EINVAL;
	}
	while (n > 1 && v[n - 1] == '/')
		n--;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int cfg_set_cgroup_root(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_dir(cfg->collect.cgroup_root, v, why, len);
}

static int cfg_set_proc_root(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_dir(cfg->collect.proc_root, v, why, len);
}

static int cfg_set_cgroup_mode(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];

	if (!strcmp(v, "auto"))
		cfg->collect.cgroup_mode = PM_CG_AUTO;
	else if (!strcmp(v, "v2"))
		cfg->collect.cgroup_mode = PM_CG_V2;
	else if (!strcmp(v, "v1"))
		cfg->collect.cgroup_mode = PM_CG_V1;
	else {
		snprintf(why, len, "\"%s\" is not a cgroup mode; use auto, v2 or v1",
			 cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return 0;
}

/*
 * net_<class>: a comma-separated CIDR list that replaces the class's list.
 * A network already in another class is an error: the class would be a guess.
 */
static int cfg_set_net(struct pm_config *cfg, int class, const char *v, char *why, size_t len)
{
	struct pm_cidr others[PM_CFG_MAX_CIDRS], fresh[PM_CFG_MAX_CIDRS];
	int i, n = 0, n_fresh = 0, ret, at;
	char a[64];

	for (i = 0; i < cfg->net.n_cidrs; i++)
		if (cfg->net.cidrs[i].class != class)
			others[n++] = cfg->net.cidrs[i];
	ret = cidr__parse_list(v, class, fresh, PM_CFG_MAX_CIDRS, &n_fresh, why, len);
	if (ret)
		return -EINVAL;
	for (i = 0; i < n_fresh; i++) {
		at = cidr__find(others, n, &fresh[i]);
		if (at >= 0) {
			cidr__format(&fresh[i], a, sizeof(a));
			snprintf(why, len, "%s is already in class %s", a,
				 names__net_class(others[at].class));
			return -EINVAL;
		}
	}
	if (n + n_fresh > PM_CFG_MAX_CIDRS) {
		snprintf(why, len, "more than %d CIDRs", PM_CFG_MAX_CIDRS);
		return -EINVAL;
	}
	memcpy(cfg->net.cidrs, others, n * sizeof(others[0]));
	memcpy(cfg->net.cidrs + n, fresh, n_fresh * sizeof(fresh[0]));
	cfg->net.n_cidrs = n + n_fresh;
	return 0;
}

#define CFG_NET_SETTER(name, class)                                                                \
	static int cfg_set_net_##name(struct pm_config *cfg, const char *v, char *why, size_t len) \
	{                                                                                          \
		return cfg_set_net(cfg, class, v, why, len);                                       \
	}
CFG_NET_SETTER(local, PM_NET_LOCAL)
CFG_NET_SETTER(in_zone, PM_NET_IN_ZONE)
CFG_NET_SETTER(cross_zone, PM_NET_CROSS_ZONE)
CFG_NET_SETTER(cross_region, PM_NET_CROSS_REGION)
CFG_NET_SETTER(internet, PM_NET_INTERNET)

/* A price: a plain decimal number of dollars, 0 to 1e6 ("0.031611", "2", "1e-3"). */
static int cfg_price(const char *v, double *out, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX], *end;
	double d;

	cfg_quote(v, q, sizeof(q));
	if (*v == '-') {
		snprintf(why, len, "\"%s\" is negative; give dollars, 0 or more", q);
		return -EINVAL;
	}
	errno = 0;
	d = strtod(v, &end);
	/* digits only: strtod would also take "inf", "nan" and hex floats */
	if ((!isdigit((unsigned char)*v) && *v != '.') || strpbrk(v, "xXpP") || *end || errno ||
	    !isfinite(d)) {
		snprintf(why, len, "\"%s\" is not a price in dollars (e.g. 0.031611)", q);
		return -EINVAL;
	}
	if (d > 1e6) {
		snprintf(why, len, "\"%s\" is out of range; use 0 to 1000000 dollars", q);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

#define CFG_PRICE_SETTER(name, field)                                                              \
	static int cfg_set_##name(struct pm_config *cfg, const char *v, char *why, size_t len)     \
	{                                                                                          \
		return cfg_price(v, &cfg->field, why, len);                                        \
	}
CFG_PRICE_SETTER(price_cpu, prices.cpu_core_hour)
CFG_PRICE_SETTER(price_memory, prices.memory_gib_hour)
CFG_PRICE_SETTER(price_gpu, prices.gpu_hour)
CFG_PRICE_SETTER(price_node, prices.node_hour)
CFG_PRICE_SETTER(egress_local, prices.egress_gib[PM_NET_LOCAL])
CFG_PRICE_SETTER(egress_in_zone, prices.egress_gib[PM_NET_IN_ZONE])
CFG_PRICE_SETTER(egress_cross_zone, prices.egress_gib[PM_NET_CROSS_ZONE])
CFG_PRICE_SETTER(egress_cross_region, prices.egress_gib[PM_NET_CROSS_REGION])
CFG_PRICE_SETTER(egress_internet, prices.egress_gib[PM_NET_INTERNET])

/* A Kubernetes quantity, positive, in thousandths (@milli) or units; 0 = find it. */
static int cfg_quantity(const char *v, bool milli, int64_t max, const char *example, int64_t *out,
			char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];
	struct pm_quantity qty;
	int64_t n;

	cfg_quote(v, q, sizeof(q));
	if (quantity__parse(v, &qty) ||
	    (milli ? quantity__milli(&qty, &n) : quantity__units(&qty, &n))) {
		snprintf(why, len, "\"%s\" is not a quantity (e.g. %s)", q, example);
		return -EINVAL;
	}
	if (n < 0 || n > max) {
		snprintf(why, len, "\"%s\" is out of range", q);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

static int cfg_set_node_cpu(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	int64_t milli;
	int ret = cfg_quantity(v, true, 1LL << 30, "16, 7500m", &milli, why, len);

	if (!ret)
		cfg->prices.node_cpu_cores = milli / 1000.0;
	return ret;
}

static int cfg_set_node_memory(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_quantity(v, false, INT64_MAX, "64Gi, 68719476736",
			    &cfg->prices.node_memory_bytes, why, len);
}

static int cfg_set_node_gpus(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	int ret = cfg_quantity(v, false, 1024, "8", &cfg->prices.node_gpus, why, len);
	char q[CFG_QUOTE_MAX];

	if (!ret && strpbrk(v, ".mun")) {
		snprintf(why, len, "\"%s\" is not a whole number of GPUs",
			 cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return ret;
}

static int cfg_set_overhead_groups(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	int ret = cfg_quantity(v, false, 1000, "10", &cfg->collect.overhead_groups, why, len);
	char q[CFG_QUOTE_MAX];

	if (!ret && strpbrk(v, ".mun")) {
		snprintf(why, len, "\"%s\" is not a whole number of groups",
			 cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return ret;
}

static int cfg_set_report_window(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 1000, 24ULL * 3600 * 1000, "1s to 24h", "60s, 5m",
			    &cfg->report.window_ms, why, len);
}

static int cfg_set_spool(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_path(cfg->report.spool_dir, v, why, len);
}

/* "none" (or empty) turns pinning off. */
static int cfg_set_pin_dir(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	if (!*v || !strcmp(v, "none")) {
		cfg->collect.pin_dir[0] = '\0';
		return 0;
	}
	return cfg_set_path(cfg->collect.pin_dir, v, why, len);
}

static int cfg_set_spool_max(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];
	int ret = cfg_quantity(v, false, INT64_MAX, "64Mi", &cfg->report.spool_max_bytes, why, len);

	if (!ret && cfg->report.spool_max_bytes < 65536) {
		snprintf(why, len, "\"%s\" is too small; give 64Ki or more",
			 cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return ret;
}

/* An http(s) URL; without a path, @default_path (agent/url.c). */
static int cfg_set_url(char *dst, size_t dstlen, const char *v, const char *default_path, char *why,
		       size_t len)
{
	char q[CFG_QUOTE_MAX], reason[128];

	if (url__normalize(v, default_path, dst, dstlen, reason, sizeof(reason))) {
		snprintf(why, len, "\"%s\" %s", cfg_quote(v, q, sizeof(q)), reason);
		return -EINVAL;
	}
	return 0;
}

static int cfg_set_reconciler(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_url(cfg->reconciler.url, sizeof(cfg->reconciler.url), v, "/v1/reports", why,
			   len);
}

#define CFG_FILE_SETTER(name, field)                                                               \
	static int cfg_set_##name(struct pm_config *cfg, const char *v, char *why, size_t len)     \
	{                                                                                          \
		return cfg_set_file(cfg->field, v, why, len);                                      \
	}
CFG_FILE_SETTER(rec_token, reconciler.token_file)
CFG_FILE_SETTER(rec_ca, reconciler.ca_file)
CFG_FILE_SETTER(rec_cert, reconciler.cert_file)
CFG_FILE_SETTER(rec_key, reconciler.key_file)

static int cfg_set_rec_timeout(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 100, 600 * 1000, "100ms to 10m", "10s", &cfg->reconciler.timeout_ms,
			    why, len);
}

static int cfg_set_rec_retry_max(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 500, 3600 * 1000, "500ms to 1h", "30s",
			    &cfg->reconciler.retry_max_ms, why, len);
}

/* A name: printable, no spaces or quotes, bounded. */
static int cfg_set_name(char *dst, size_t dstlen, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];
	const char *p;

	cfg_quote(v, q, sizeof(q));
	for (p = v; *p; p++) {
		if (!isgraph((unsigned char)*p) || *p == '"' || *p == '\\') {
			snprintf(why, len, "\"%s\" has a space, quote or control byte", q);
			return -EINVAL;
		}
	}
	if (strlen(v) >= dstlen) {
		snprintf(why, len, "\"%s\" is longer than %zu bytes", q, dstlen - 1);
		return -EINVAL;
	}
	strcpy(dst, v);
	return 0;
}

static int cfg_set_cluster(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_name(cfg->report.cluster, sizeof(cfg->report.cluster), v, why, len);
}

static int cfg_set_node_name(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_name(cfg->report.node_name, sizeof(cfg->report.node_name), v, why, len);
}

static int cfg_set_idle_window(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 1000, 30ULL * 24 * 3600 * 1000, "1s to 30d", "1h, 30m",
			    &cfg->detection.idle_window_ms, why, len);
}

static int cfg_set_model_step(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 100, 3600 * 1000, "100ms to 1h", "5s, 1m",
			    &cfg->detection.model_step_ms, why, len);
}

/* A share, 0 to 1 ("0.05"). */
static int cfg_set_idle_ratio(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];
	double d;

	if (cfg_price(v, &d, why, len))
		return -EINVAL;
	if (d > 1) {
		snprintf(why, len, "\"%s\" is not a share from 0 to 1", cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	cfg->detection.idle_cpu_ratio = d;
	return 0;
}

static int cfg_set_cores(double *out, const char *v, char *why, size_t len)
{
	int64_t milli;
	int ret = cfg_quantity(v, true, 1LL << 30, "10m, 0.01", &milli, why, len);

	if (!ret)
		*out = milli / 1000.0;
	return ret;
}

static int cfg_set_idle_cpu(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_cores(&cfg->detection.idle_cpu_cores, v, why, len);
}

static int cfg_set_zombie_cpu(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_cores(&cfg->detection.zombie_cpu_cores, v, why, len);
}

static int cfg_set_idle_net(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	int64_t n;
	int ret = cfg_quantity(v, false, INT64_MAX, "1Ki, 1024", &n, why, len);

	if (!ret)
		cfg->detection.idle_net_bytes_s = (double)n;
	return ret;
}

static int cfg_set_zombie_memory(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_quantity(v, false, INT64_MAX, "16Mi", &cfg->detection.zombie_memory_bytes, why,
			    len);
}

void config__detect(const struct pm_config *cfg, struct pm_detect_cfg *out)
{
	detect__defaults(out); /* what the config has no key for */
	out->window_s = cfg->detection.idle_window_ms / 1000.0;
	/* whole ticks, rounded; a step under the interval learns every tick */
	out->learn_every = (unsigned int)((cfg->detection.model_step_ms +
					   cfg->collect.interval_ms / 2) /
					  cfg->collect.interval_ms);
	if (!out->learn_every)
		out->learn_every = 1;
	out->idle_cpu_ratio = cfg->detection.idle_cpu_ratio;
	out->idle_cpu_cores = cfg->detection.idle_cpu_cores;
	out->idle_net_bytes_s = cfg->detection.idle_net_bytes_s;
	out->zombie_cpu_cores = cfg->detection.zombie_cpu_cores;
	out->zombie_memory_bytes = (uint64_t)cfg->detection.zombie_memory_bytes;
}

/* A label key as Kubernetes writes them: [prefix/]name, letters, digits, "-", "_", ".". */
static bool cfg_label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');
	size_t n = strlen(k);

	if (!n || n > PM_LABEL_KEY_MAX ||
	    (slash && (slash == k || !slash[1] || strchr(slash + 1, '/'))))
		return false;
	if (strlen(slash ? slash + 1 : k) > 63)
		return false;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && !strchr("-_./", *k))
			return false;
	return true;
}

/* Comma-separated pod label keys whose values go into reports. */
static int cfg_set_report_labels(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX], copy[sizeof(cfg->report.labels)], *tok, *save;
	char seen[PM_POD_LABELS][PM_LABEL_KEY_MAX + 1];
	int n = 0, i;

	cfg_quote(v, q, sizeof(q));
	if (strlen(v) >= sizeof(copy)) {
		snprintf(why, len, "\"%s\" is longer than %zu bytes", q, sizeof(copy) - 1);
		return -EINVAL;
	}
	strcpy(copy, v);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!cfg_label_key_ok(tok)) {
			snprintf(why, len, "\"%s\": \"%.100s\" is not a label key", q, tok);
			return -EINVAL;
		}
		for (i = 0; i < n; i++) {
			if (!strcmp(seen[i], tok)) {
				snprintf(why, len, "\"%s\": \"%.100s\" is named twice", q, tok);
				return -EINVAL;
			}
		}
		if (n == PM_POD_LABELS) {
			snprintf(why, len, "\"%s\": more than %d keys", q, PM_POD_LABELS);
			return -EINVAL;
		}
		strcpy(seen[n++], tok);
	}
	strcpy(cfg->report.labels, v);
	return 0;
}

/* Comma-separated absolute paths of device files to count as GPUs. */
static int cfg_set_gpu_devices(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX], copy[sizeof(cfg->collect.gpu_devices)], *tok, *save;

	cfg_quote(v, q, sizeof(q));
	if (strlen(v) >= sizeof(copy)) {
		snprintf(why, len, "\"%s\" is longer than %zu bytes", q, sizeof(copy) - 1);
		return -EINVAL;
	}
	strcpy(copy, v);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*tok != '/') {
			snprintf(why, len, "\"%s\": \"%.100s\" is not an absolute path", q, tok);
			return -EINVAL;
		}
	}
	strcpy(cfg->collect.gpu_devices, v);
	return 0;
}

#define CFG_STR_(x) #x
#define CFG_STR(x)  CFG_STR_(x)
/* The bytes a key's setter writes: one field, or the span of two adjacent ones. */
#define CFG_F(f) offsetof(struct pm_config, f), sizeof(((struct pm_config *)0)->f)
#define CFG_SPAN(a, b)                                                                             \
	offsetof(struct pm_config, a), offsetof(struct pm_config, b) +                             \
					       sizeof(((struct pm_config *)0)->b) -                \
					       offsetof(struct pm_config, a)

static const struct cfg_key cfg_keys[] = {
	{ "listen", "listen", "HOST:PORT, e.g. 127.0.0.1:9477", cfg_set_listen, "127.0.0.1:9477",
	  NULL, "HOST:PORT",
	  "serve metrics here; \":PORT\" = all addresses,\n\"[::1]:PORT\" for IPv6",
	  CFG_SPAN(http.listen_host, http.listen_port), 0 },
	{ "interval", "interval", "a duration, e.g. 1s or 500ms", cfg_set_interval, "1s", NULL,
	  "DURATION", "sampling interval, 100ms to 1h", CFG_F(collect.interval_ms), 0 },
	{ "web_config", "web-config", "a file path (TLS, bearer tokens)", cfg_set_web_config, NULL,
	  NULL, "FILE",
	  "TLS and bearer tokens for /metrics and /v1/pods\n(tls_server_config, "
	  "bearer_tokens_file)",
	  CFG_F(http.web_config), 0 },
	{ "cgroup_root", "cgroup-root", "an absolute directory path", cfg_set_cgroup_root, NULL,
	  "found from /proc/self/mountinfo", "DIR", "cgroup root", CFG_F(collect.cgroup_root), 0 },
	{ "proc_root", "proc-root", "an absolute directory path", cfg_set_proc_root, "/proc", NULL,
	  "DIR", "procfs root", CFG_F(collect.proc_root), 0 },
	{ "cgroup_mode", "cgroup-mode", "auto, v2 or v1", cfg_set_cgroup_mode, "auto", NULL, "MODE",
	  "auto, v2 or v1", CFG_F(collect.cgroup_mode), 0 },
	{ "zombie_grace", "zombie-grace", "a duration, e.g. 60s", cfg_set_zombie_grace, "60s", NULL,
	  "DUR", "exited, unreaped this long: a zombie", CFG_F(collect.zombie_grace_ms), 0 },
	{ "force_raw_tp", "force-raw-tp", "true or false", cfg_set_force_raw_tp, "false", NULL,
	  NULL,
	  "attach the raw_tp twins even where tp_btf works\n(also when PODMETER_FORCE_RAW_TP "
	  "is set at start)",
	  CFG_F(collect.force_raw_tp), CFG_BOOL },
	{ "kubelet", "kubelet", "a URL, e.g. https://127.0.0.1:10250", cfg_set_kubelet, NULL,
	  "none; names from --log-pods-dir", "URL",
	  "the kubelet, e.g. https://127.0.0.1:10250 (its /pods;\na path given is kept)",
	  CFG_F(kubelet.url), 0 },
	{ "kubelet_token_file", "kubelet-token-file", "a file path", cfg_set_token_file, NULL, NULL,
	  "F", "bearer token (e.g. the service account's)", CFG_F(kubelet.token_file), 0 },
	{ "kubelet_ca_file", "kubelet-ca-file", "a file path", cfg_set_ca_file, NULL, NULL, "F",
	  "CA to verify the kubelet's certificate", CFG_F(kubelet.ca_file), 0 },
	{ "kubelet_insecure_tls", "kubelet-insecure-tls", "true or false", cfg_set_insecure_tls,
	  "false", NULL, NULL, "do not verify it (labs only)", CFG_F(kubelet.insecure_tls),
	  CFG_BOOL },
	{ "kubelet_interval", "kubelet-interval", "a duration, e.g. 30s", cfg_set_kubelet_interval,
	  "30s", NULL, "DUR", "refresh (also when a new pod appears)", CFG_F(kubelet.interval_ms),
	  0 },
	{ "log_pods_dir", "log-pods-dir", "a directory path", cfg_set_log_pods_dir, "/var/log/pods",
	  NULL, "DIR", "<namespace>_<name>_<uid> dirs name the pods", CFG_F(kubelet.log_pods_dir),
	  0 },
	{ "net_local", "net-local", "CIDRs, e.g. 10.1.0.0/16,fd00:1::/64", cfg_set_net_local, NULL,
	  "built in: loopback", "CIDRS", "the CIDRs (comma-separated) of class local", CFG_F(net),
	  CFG_RELOAD },
	{ "net_in_zone", "net-in-zone", "CIDRs, e.g. 10.1.0.0/16", cfg_set_net_in_zone, NULL,
	  "built in: RFC 1918, 100.64/10, 169.254/16, fc00::/7, fe80::/10", "CIDRS",
	  "the CIDRs of class in-zone", CFG_F(net), CFG_RELOAD },
	{ "net_cross_zone", "net-cross-zone", "CIDRs, e.g. 10.2.0.0/16", cfg_set_net_cross_zone,
	  NULL, NULL, "CIDRS", "the CIDRs of class cross-zone", CFG_F(net), CFG_RELOAD },
	{ "net_cross_region", "net-cross-region", "CIDRs, e.g. 10.3.0.0/16",
	  cfg_set_net_cross_region, NULL, NULL, "CIDRS", "the CIDRs of class cross-region",
	  CFG_F(net), CFG_RELOAD },
	{ "net_internet", "net-internet", "CIDRs, e.g. 192.0.2.0/24", cfg_set_net_internet, NULL,
	  "built in: the rest", "CIDRS",
	  "the CIDRs of class internet (each net key's list\nis over the config file's list "
	  "for it)",
	  CFG_F(net), CFG_RELOAD },
	{ "price_cpu_core_hour", "price-cpu-core-hour", "dollars, e.g. 0.031611", cfg_set_price_cpu,
	  CFG_STR(PM_PRICE_CPU_CORE_HOUR), NULL, "$", "CPU price per core-hour",
	  CFG_F(prices.cpu_core_hour), CFG_RELOAD },
	{ "price_memory_gib_hour", "price-memory-gib-hour", "dollars, e.g. 0.004237",
	  cfg_set_price_memory, CFG_STR(PM_PRICE_MEMORY_GIB_HOUR), NULL, "$",
	  "memory price per GiB-hour", CFG_F(prices.memory_gib_hour), CFG_RELOAD },
	{ "price_gpu_hour", "price-gpu-hour", "dollars, e.g. 0.95", cfg_set_price_gpu,
	  CFG_STR(PM_PRICE_GPU_HOUR), NULL, "$", "GPU price per GPU-hour", CFG_F(prices.gpu_hour),
	  CFG_RELOAD },
	{ "price_node_hour", "price-node-hour", "dollars, e.g. 0.192", cfg_set_price_node, NULL,
	  NULL, "$",
	  "the node's hourly price, split into CPU, memory\nand GPU by the ratios of the three "
	  "above\n(OpenCost spec, Appendix A)",
	  CFG_F(prices.node_hour), CFG_RELOAD },
	{ "price_egress_local", "price-egress-local", "dollars per GiB, e.g. 0",
	  cfg_set_egress_local, CFG_STR(PM_PRICE_EGRESS_LOCAL), NULL, "$",
	  "egress per GiB to class local", CFG_F(prices.egress_gib[PM_NET_LOCAL]), CFG_RELOAD },
	{ "price_egress_in_zone", "price-egress-in-zone", "dollars per GiB, e.g. 0",
	  cfg_set_egress_in_zone, CFG_STR(PM_PRICE_EGRESS_IN_ZONE), NULL, "$",
	  "egress per GiB to class in-zone", CFG_F(prices.egress_gib[PM_NET_IN_ZONE]), CFG_RELOAD },
	{ "price_egress_cross_zone", "price-egress-cross-zone", "dollars per GiB, e.g. 0.01",
	  cfg_set_egress_cross_zone, CFG_STR(PM_PRICE_EGRESS_CROSS_ZONE), NULL, "$",
	  "egress per GiB to class cross-zone", CFG_F(prices.egress_gib[PM_NET_CROSS_ZONE]),
	  CFG_RELOAD },
	{ "price_egress_cross_region", "price-egress-cross-region", "dollars per GiB, e.g. 0.02",
	  cfg_set_egress_cross_region, CFG_STR(PM_PRICE_EGRESS_CROSS_REGION), NULL, "$",
	  "egress per GiB to class cross-region", CFG_F(prices.egress_gib[PM_NET_CROSS_REGION]),
	  CFG_RELOAD },
	{ "price_egress_internet", "price-egress-internet", "dollars per GiB, e.g. 0.12",
	  cfg_set_egress_internet, CFG_STR(PM_PRICE_EGRESS_INTERNET), NULL, "$",
	  "egress per GiB to class internet", CFG_F(prices.egress_gib[PM_NET_INTERNET]),
	  CFG_RELOAD },
	{ "node_cpu_cores", "node-cpu-cores", "cores, e.g. 16", cfg_set_node_cpu, NULL,
	  "online CPUs", "N", "cores the node is priced for", CFG_F(prices.node_cpu_cores),
	  CFG_RELOAD },
	{ "node_memory", "node-memory", "bytes, e.g. 64Gi", cfg_set_node_memory, NULL, "MemTotal",
	  "BYTES", "memory it is priced for", CFG_F(prices.node_memory_bytes), CFG_RELOAD },
	{ "node_gpus", "node-gpus", "a count, e.g. 8", cfg_set_node_gpus, "0", NULL, "N",
	  "GPUs it is priced for", CFG_F(prices.node_gpus), CFG_RELOAD },
	{ "overhead_groups", "overhead-groups", "a count, 0 to 1000, e.g. 10",
	  cfg_set_overhead_groups, "10", NULL, "N",
	  "node overhead groups (units, slices, containers\noutside pods) shown by name; the "
	  "rest in one\n\"other\" row",
	  CFG_F(collect.overhead_groups), 0 },
	{ "report_window", "report-window", "a duration, e.g. 60s", cfg_set_report_window, "60s",
	  NULL, "DUR", "one report per window", CFG_F(report.window_ms), 0 },
	{ "spool", "spool", "a directory path", cfg_set_spool, "/var/lib/podmeter/spool", NULL,
	  "DIR", "reports are written here first", CFG_F(report.spool_dir), 0 },
	{ "spool_max_bytes", "spool-max-bytes", "bytes, e.g. 64Mi", cfg_set_spool_max, "64Mi", NULL,
	  "BYTES", "the spool's bound; the oldest go first", CFG_F(report.spool_max_bytes), 0 },
	{ "pin_dir", "pin-dir", "a directory on bpffs, or none", cfg_set_pin_dir,
	  "/sys/fs/bpf/podmeter", NULL, "DIR",
	  "programs, links and counters are pinned here on\nbpffs and adopted by the next "
	  "agent; none = off",
	  CFG_F(collect.pin_dir), 0 },
	{ "reconciler", "reconciler", "a URL, e.g. https://reconciler:8443", cfg_set_reconciler,
	  NULL, "none; they stay spooled", "URL",
	  "POST reports here, e.g. http://reconciler:9480\n(its /v1/reports)",
	  CFG_F(reconciler.url), 0 },
	{ "reconciler_token_file", "reconciler-token-file", "a file path", cfg_set_rec_token, NULL,
	  NULL, "F", "bearer token for the reconciler", CFG_F(reconciler.token_file), 0 },
	{ "reconciler_ca_file", "reconciler-ca-file", "a file path", cfg_set_rec_ca, NULL, NULL,
	  "F", "CA to verify the reconciler's certificate", CFG_F(reconciler.ca_file), 0 },
	{ "reconciler_cert_file", "reconciler-cert-file", "a file path", cfg_set_rec_cert, NULL,
	  NULL, "F", "client certificate (mTLS)", CFG_F(reconciler.cert_file), 0 },
	{ "reconciler_key_file", "reconciler-key-file", "a file path", cfg_set_rec_key, NULL, NULL,
	  "F", "client key (mTLS)", CFG_F(reconciler.key_file), 0 },
	{ "reconciler_timeout", "reconciler-timeout", "a duration, e.g. 10s", cfg_set_rec_timeout,
	  "10s", NULL, "DUR", "per request", CFG_F(reconciler.timeout_ms), 0 },
	{ "reconciler_retry_max", "reconciler-retry-max", "a duration, e.g. 30s",
	  cfg_set_rec_retry_max, "30s", NULL, "DUR", "retries back off up to this",
	  CFG_F(reconciler.retry_max_ms), 0 },
	{ "cluster", "cluster", "a name, e.g. prod-eu-1", cfg_set_cluster, NULL, NULL, "NAME",
	  "cluster name in reports", CFG_F(report.cluster), 0 },
	{ "node_name", "node-name", "a name, e.g. node-a", cfg_set_node_name, NULL, "the host name",
	  "NAME", "node name in reports", CFG_F(report.node_name), 0 },
	{ "gpu_devices", "gpu-devices", "device paths, e.g. /dev/accel0", cfg_set_gpu_devices, NULL,
	  NULL, "PATHS",
	  "more device files whose ioctls count as GPU\ndriver calls (comma-separated; "
	  "/dev/nvidia*,\n/dev/dri/renderD*, /dev/kfd, /dev/accel/* built in)",
	  CFG_F(collect.gpu_devices), 0 },
	{ "report_labels", "report-labels", "label keys, e.g. team,app.kubernetes.io/name",
	  cfg_set_report_labels, NULL, NULL, "KEYS",
	  "pod labels whose values go into reports, for\ncharge-back (comma-separated, at most 8)",
	  CFG_F(report.labels), 0 },
	{ "idle_window", "idle-window", "a duration, e.g. 1h", cfg_set_idle_window, "1h", NULL,
	  "DUR", "idle and zombie pods are judged over this", CFG_F(detection.idle_window_ms),
	  CFG_RELOAD },
	{ "model_step", "model-step", "a duration, e.g. 5s", cfg_set_model_step, "5s", NULL, "DUR",
	  "each pod's anomaly models and right-sizing learn\na sample this long (whole intervals; "
	  "pods take\nturns, so a tick learns for interval/DUR of them)",
	  CFG_F(detection.model_step_ms), CFG_RELOAD },
	{ "idle_cpu_ratio", "idle-cpu-ratio", "a share of the request, e.g. 0.05",
	  cfg_set_idle_ratio, "0.05", NULL, "R", "idle: CPU under this share of the request",
	  CFG_F(detection.idle_cpu_ratio), CFG_RELOAD },
	{ "idle_cpu_cores", "idle-cpu-cores", "cores, e.g. 10m", cfg_set_idle_cpu, "10m", NULL, "C",
	  "idle: CPU under C cores without a request", CFG_F(detection.idle_cpu_cores),
	  CFG_RELOAD },
	{ "idle_net_bytes_per_second", "idle-net-bytes-per-second", "bytes, e.g. 1Ki",
	  cfg_set_idle_net, "1Ki", NULL, "B", "idle: traffic under B a second (and no GPU work)",
	  CFG_F(detection.idle_net_bytes_s), CFG_RELOAD },
	{ "zombie_cpu_cores", "zombie-cpu-cores", "cores, e.g. 5m", cfg_set_zombie_cpu, "5m", NULL,
	  "C", "workload zombie: CPU under C cores, no traffic", CFG_F(detection.zombie_cpu_cores),
	  CFG_RELOAD },
	{ "zombie_memory", "zombie-memory", "bytes, e.g. 16Mi", cfg_set_zombie_memory, "16Mi", NULL,
	  "BYTES", "workload zombie: while holding this much memory\n(or any GPU memory)",
	  CFG_F(detection.zombie_memory_bytes), CFG_RELOAD },
};

#define CFG_NKEYS ((int)(sizeof(cfg_keys) / sizeof(cfg_keys[0])))
_Static_assert(CFG_NKEYS <= 64, "the config file's seen-key mask is 64 bits");

/* Index of @key in cfg_keys, hyphens and underscores alike; -1 when unknown. */
static int cfg_key_index(const char *key)
{
	char norm[CFG_KEY_MAX];
	size_t i, n = strlen(key);
	int k;

	if (n >= sizeof(norm))
		return -1;
	for (i = 0; i <= n; i++)
		norm[i] = key[i] == '-' ? '_' : key[i];
	for (k = 0; k < CFG_NKEYS; k++) {
		if (!strcmp(norm, cfg_keys[k].key))
			return k;
	}
	return -1;
}

/* Apply one value; on error @why holds the reason, without the key. @cfg is left as it was. */
static int cfg_apply(struct pm_config *cfg, const struct cfg_key *k, const char *v, char *why,
		     size_t len)
{
	if (cfg_blank(v)) {
		snprintf(why, len, "empty value; give %s", k->hint);
		return -EINVAL;
	}
	return k->set(cfg, v, why, len);
}

void config__defaults(struct pm_config *cfg)
{
	char why[CFG_WHY_MAX];
	int k;

	memset(cfg, 0, sizeof(*cfg));
	/* test_config checks that every default goes through its setter */
	for (k = 0; k < CFG_NKEYS; k++)
		if (cfg_keys[k].def)
			cfg_apply(cfg, &cfg_keys[k], cfg_keys[k].def, why, sizeof(why));
}

const char *config__key_default(const char *key)
{
	int k = key ? cfg_key_index(key) : -1;

	return k < 0 ? NULL : cfg_keys[k].def;
}

const char *config__key(int i, bool *reloadable)
{
	if (i < 0 || i >= CFG_NKEYS)
		return NULL;
	if (reloadable)
		*reloadable = cfg_keys[i].flags & CFG_RELOAD;
	return cfg_keys[i].key;
}

int config__fixed_changed(const struct pm_config *old, const struct pm_config *fresh,
			  const char **keys, int max)
{
	const struct cfg_key *k;
	int i, n = 0;

	for (i = 0; i < CFG_NKEYS; i++) {
		k = &cfg_keys[i];
		if (k->flags & CFG_RELOAD ||
		    !memcmp((const char *)old + k->off, (const char *)fresh + k->off, k->len))
			continue;
		if (n < max)
			keys[n] = k->key;
		n++;
	}
	return n;
}

static void cfg_err_unknown(char *err, size_t errlen, const char *prefix, const char *key)
{
	char q[CFG_QUOTE_MAX], known[CFG_NKEYS * CFG_KEY_MAX];
	size_t n = 0;
	int k;

	known[0] = '\0';
	for (k = 0; k < CFG_NKEYS; k++)
		n += snprintf(known + n, sizeof(known) - n, "%s%s", k ? ", " : "", cfg_keys[k].key);
	cfg_err(err, errlen, "%sunknown key \"%s\"; known keys: %s", prefix,
		cfg_quote(key, q, sizeof(q)), known);
}

int config__set(struct pm_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	char why[CFG_WHY_MAX], q[CFG_QUOTE_MAX];
	int k, ret;

	if (!cfg || !key || !value) {
		cfg_err(err, errlen, "config: no key or value given");
		return -EINVAL;
	}
	k = cfg_key_index(key);
	if (k < 0) {
		cfg_err_unknown(err, errlen, "config: ", key);
		return -ENOENT;
	}
	ret = cfg_apply(cfg, &cfg_keys[k], value, why, sizeof(why));
	if (ret)
		cfg_err(err, errlen, "config: %s: %s", cfg_quote(key, q, sizeof(q)), why);
	return ret;
}

static int cfg_yaml_error(const yaml_parser_t *p, const char *path, char *err, size_t errlen)
{
	const char *problem = p->problem ? p->problem : "unknown error";

	if (p->error == YAML_MEMORY_ERROR) {
		cfg_err(err, errlen, "config: %s: out of memory", path);
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR) {
		cfg_err(err, errlen, "config: %s: byte %zu: %s; is it a UTF-8 text file?", path,
			p->problem_offset, problem);
		return -EINVAL;
	}
	cfg_err(err, errlen, "config: %s: line %zu: %s%s%s", path, p->problem_mark.line + 1,
		problem, p->context ? " " : "", p->context ? p->context : "");
	return -EINVAL;
}

/* A scalar node's text, or NULL when it is not a scalar or holds a NUL byte. */
static const char *cfg_scalar(const yaml_node_t *n)
{
	const char *s;

	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	return strlen(s) == n->data.scalar.length ? s : NULL;
}

static int cfg_yaml_pair(struct pm_config *cfg, yaml_document_t *doc, yaml_node_pair_t *pair,
			 uint64_t *seen, const char *path, char *err, size_t errlen)
{
	yaml_node_t *kn = yaml_document_get_node(doc, pair->key);
	yaml_node_t *vn = yaml_document_get_node(doc, pair->value);
	size_t line = kn->start_mark.line + 1;
	const char *key = cfg_scalar(kn), *val = cfg_scalar(vn);
	char why[CFG_WHY_MAX], q[CFG_QUOTE_MAX];
	int k, ret;

	if (!key) {
		cfg_err(err, errlen, "config: %s: line %zu: keys must be plain names", path, line);
		return -EINVAL;
	}
	cfg_quote(key, q, sizeof(q));
	k = cfg_key_index(key);
	if (k < 0) {
		snprintf(why, sizeof(why), "config: %s: line %zu: ", path, line);
		cfg_err_unknown(err, errlen, why, key);
		return -ENOENT;
	}
	if (*seen & (1ULL << k)) {
		cfg_err(err, errlen, "config: %s: line %zu: %s: given twice; keep one", path, line,
			q);
		return -EINVAL;
	}
	*seen |= 1ULL << k;
	if (vn->type != YAML_SCALAR_NODE) {
		cfg_err(err, errlen,
			"config: %s: line %zu: %s: expected a single value, not a list or mapping "
			"(quote values that start with '[')",
			path, line, q);
		return -EINVAL;
	}
	if (!val) {
		cfg_err(err, errlen, "config: %s: line %zu: %s: value contains a NUL byte", path,
			line, q);
		return -EINVAL;
	}
	ret = cfg_apply(cfg, &cfg_keys[k], val, why, sizeof(why));
	if (ret)
		cfg_err(err, errlen, "config: %s: line %zu: %s: %s", path, line, q, why);
	return ret;
}

static int cfg_yaml_doc(struct pm_config *cfg, yaml_document_t *doc, const char *path, char *err,
			size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_pair_t *pair;
	uint64_t seen = 0;
	int ret;

	if (!root)
		return 0;
	/* "---" alone or a bare null is an empty document, not an error. */
	if (root->type == YAML_SCALAR_NODE && root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (!root->data.scalar.length || !strcmp((char *)root->data.scalar.value, "~")))
		return 0;
	if (root->type != YAML_MAPPING_NODE) {
		cfg_err(err, errlen,
			"config: %s: line %zu: expected a mapping of key: value, e.g. \"interval: "
			"1s\"",
			path, root->start_mark.line + 1);
		return -EINVAL;
	}
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		ret = cfg_yaml_pair(cfg, doc, pair, &seen, path, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int cfg_yaml_parse(struct pm_config *cfg, yaml_parser_t *parser, const char *path, char *err,
			  size_t errlen)
{
	yaml_document_t doc;
	bool more;
	int ret;

	if (!yaml_parser_load(parser, &doc))
		return cfg_yaml_error(parser, path, err, errlen);
	ret = cfg_yaml_doc(cfg, &doc, path, err, errlen);
	yaml_document_delete(&doc);
	if (ret)
		return ret;
	if (!yaml_parser_load(parser, &doc))
		return cfg_yaml_error(parser, path, err, errlen);
	more = yaml_document_get_root_node(&doc) != NULL;
	yaml_document_delete(&doc);
	if (more) {
		cfg_err(err, errlen, "config: %s: more than one YAML document; keep one", path);
		return -EINVAL;
	}
	return 0;
}

static int cfg_open(const char *path, FILE **f, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	*f = fopen(path, "re");
	if (!*f) {
		ret = -errno;
		cfg_err(err, errlen, "config: %s: %s; check the --config path", path,
			strerror(-ret));
		return ret;
	}
	if (!fstat(fileno(*f), &st) && S_ISDIR(st.st_mode)) {
		fclose(*f);
		cfg_err(err, errlen, "config: %s: is a directory; give a YAML file", path);
		return -EISDIR;
	}
	return 0;
}

int config__load_file(struct pm_config *cfg, const char *path, char *err, size_t errlen)
{
	struct pm_config tmp;
	yaml_parser_t parser;
	FILE *f;
	int ret;

	if (!cfg || !path || !*path) {
		cfg_err(err, errlen,
			"config: empty config file path; give the path of a YAML file");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(cfg->config_file)) {
		cfg_err(err, errlen, "config: config file path is longer than %d bytes",
			PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	ret = cfg_open(path, &f, err, errlen);
	if (ret)
		return ret;
	if (!yaml_parser_initialize(&parser)) {
		cfg_err(err, errlen, "config: %s: out of memory", path);
		ret = -ENOMEM;
		goto out_close;
	}
	yaml_parser_set_input_file(&parser, f);
	/* Apply to a copy so that a bad file leaves @cfg as it was. */
	tmp = *cfg;
	ret = cfg_yaml_parse(&tmp, &parser, path, err, errlen);
	if (!ret) {
		strcpy(tmp.config_file, path);
		*cfg = tmp;
	}
	yaml_parser_delete(&parser);
out_close:
	fclose(f);
	return ret;
}

static const struct cfg_key *cfg_flag(const char *name, size_t n)
{
	int k;

	for (k = 0; k < CFG_NKEYS; k++) {
		if (strlen(cfg_keys[k].flag) == n && !strncmp(name, cfg_keys[k].flag, n))
			return &cfg_keys[k];
	}
	return NULL;
}

static int cfg_bad_arg(const char *cmd, const char *what, const char *arg, int n, char *err,
		       size_t errlen)
{
	char q[CFG_QUOTE_MAX];

	if (n >= 0 && (size_t)n < strlen(arg))
		arg = strndupa(arg, n);
	cfg_err(err, errlen, "%s \"%s\"; see podmeter %s --help", what,
		cfg_quote(arg, q, sizeof(q)), cmd);
	return -EINVAL;
}

/* Fill @o from the option at argv[*i]: 1 for an option, 0 at the end, or a negative errno. */
static int cfg_next_opt(int argc, char **argv, int *i, struct cfg_opt *o, char *err, size_t errlen)
{
	const char *arg, *name, *eq;
	bool is_config, is_help;
	size_t n;

	if (*i >= argc)
		return 0;
	arg = argv[(*i)++];
	if (!strcmp(arg, "--"))
		return *i < argc ? cfg_bad_arg(argv[0], "unexpected argument", argv[*i], -1, err,
					       errlen)
				 : 0;
	if (arg[0] != '-' || !arg[1])
		return cfg_bad_arg(argv[0], "unexpected argument", arg, -1, err, errlen);
	memset(o, 0, sizeof(*o));
	if (!strcmp(arg, "-h")) {
		o->help = true;
		return 1;
	}
	if (arg[1] != '-')
		return cfg_bad_arg(argv[0], "unknown option", arg, -1, err, errlen);
	name = arg + 2;
	eq = strchr(name, '=');
	n = eq ? (size_t)(eq - name) : strlen(name);
	o->flag = arg;
	o->flaglen = (int)n + 2;
	is_help = n == 4 && !strncmp(name, "help", 4);
	is_config = n == 6 && !strncmp(name, "config", 6);
	o->key = cfg_flag(name, n);
	if (!is_help && !is_config && !o->key)
		return cfg_bad_arg(argv[0], "unknown option", arg, o->flaglen, err, errlen);
	if (is_help) {
		if (eq)
			return cfg_bad_arg(argv[0], "no value expected for option", arg, -1, err,
					   errlen);
		o->help = true;
		return 1;
	}
	if (eq)
		o->value = eq + 1;
	else if (o->key && (o->key->flags & CFG_BOOL))
		o->value = "true";
	else if (*i < argc)
		o->value = argv[(*i)++];
	else
		return cfg_bad_arg(argv[0], "missing value for option", arg, -1, err, errlen);
	return 1;
}

/* First pass: check the syntax of every argument; find --help and the last --config. */
static int cfg_scan_args(int argc, char **argv, bool *help, const char **file, char *err,
			 size_t errlen)
{
	struct cfg_opt o;
	int i = 1, ret;

	while ((ret = cfg_next_opt(argc, argv, &i, &o, err, errlen)) > 0) {
		if (o.help)
			*help = true;
		else if (!o.key)
			*file = o.value;
	}
	return ret;
}

static int cfg_apply_args(struct pm_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	char why[CFG_WHY_MAX];
	struct cfg_opt o;
	int i = 1, ret;

	while (cfg_next_opt(argc, argv, &i, &o, err, errlen) > 0) {
		if (!o.key)
			continue;
		ret = cfg_apply(cfg, o.key, o.value, why, sizeof(why));
		if (ret) {
			cfg_err(err, errlen, "%.*s: %s", o.flaglen, o.flag, why);
			return ret;
		}
	}
	return 0;
}

int config__from_args(struct pm_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	const char *file = NULL;
	struct pm_config tmp;
	bool help = false;
	int ret;

	if (!cfg || argc < 1 || !argv || !argv[0]) {
		cfg_err(err, errlen, "config: no subcommand given; see podmeter --help");
		return -EINVAL;
	}
	ret = cfg_scan_args(argc, argv, &help, &file, err, errlen);
	if (ret)
		return ret;
	if (help) {
		config__usage(stdout);
		return 1;
	}
	config__defaults(&tmp);
	/* the one place the environment is read: kept for scripts and tests that set it */
	if (getenv("PODMETER_FORCE_RAW_TP"))
		tmp.collect.force_raw_tp = true;
	if (file) {
		ret = config__load_file(&tmp, file, err, errlen);
		if (ret)
			return ret;
	}
	ret = cfg_apply_args(&tmp, argc, argv, err, errlen);
	if (ret)
		return ret;
	*cfg = tmp;
	return 0;
}

#define CFG_HELP_COL 32

#define CFG_HELP_COL   32
#define CFG_HELP_WIDTH 100

/* One key's lines of --help: flag and value, then its text and default. */
static void cfg_usage_key(FILE *f, const struct cfg_key *k)
{
	const char *line = k->help, *nl;
	char def[160];
	int col, n;

	if (k->def)
		snprintf(def, sizeof(def), "(default %s)", k->def);
	else if (k->none)
		snprintf(def, sizeof(def), "(default: %s)", k->none);
	else
		snprintf(def, sizeof(def), "(default none)");
	col = fprintf(f, "  %c --%s%s%s", k->flags & CFG_RELOAD ? '*' : ' ', k->flag,
		      k->arg ? " " : "", k->arg ? k->arg : "");
	for (;;) {
		nl = strchr(line, '\n');
		n = nl ? (int)(nl - line) : (int)strlen(line);
		if (col >= CFG_HELP_COL) {
			fputc('\n', f);
			col = 0;
		}
		col += fprintf(f, "%*s%.*s", CFG_HELP_COL - col, "", n, line);
		if (!nl)
			break;
		fputc('\n', f);
		col = 0;
		line = nl + 1;
	}
	if (col + 1 + (int)strlen(def) > CFG_HELP_WIDTH)
		fprintf(f, "\n%*s%s\n", CFG_HELP_COL, "", def);
	else
		fprintf(f, " %s\n", def);
}

void config__usage(FILE *f)
{
	int k;

	fprintf(f, "usage: podmeter run|check [options]\n"
		   "\n"
		   "options (flags override the --config file, which overrides the defaults;\n"
		   "each is also a config file key, with '_' for '-'; SIGHUP reloads those\n"
		   "marked *, the others take effect at restart):\n"
		   "    --config FILE               YAML file of key: value, keys as the flags\n");
	for (k = 0; k < CFG_NKEYS; k++)
		cfg_usage_key(f, &cfg_keys[k]);
	fprintf(f, "    -h, --help                  show this help\n");
}
