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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "podmeter/config.h"
#include "podmeter/cost.h"
#include "podmeter/detect.h"
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

struct cfg_key {
	const char *key;  /* canonical spelling, underscores */
	const char *flag; /* command-line spelling, hyphens */
	const char *hint; /* "give %s" when the value is empty */
	cfg_setter set;
	bool boolean;	/* a bare --flag means true */
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
	} units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
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

static bool cfg_hostname_ok(const char *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)h[i]) && !strchr(".-_", h[i]))
			return false;
	}
	return true;
}

static bool cfg_ipv6_ok(const char *h, size_t n)
{
	const char *zone = memchr(h, '%', n);
	size_t an = zone ? (size_t)(zone - h) : n;
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (an >= sizeof(buf))
		return false;
	/* A zone ("fe80::1%eth0") names an interface. */
	if (zone && (an + 1 == n || !cfg_hostname_ok(zone + 1, n - an - 1)))
		return false;
	memcpy(buf, h, an);
	buf[an] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* Port: 1-65535, digits only. */
static int cfg_port(const char *s, uint16_t *port, const char **why)
{
	unsigned long v = 0;
	const char *p;

	if (!*s) {
		*why = "has no port after ':'";
		return -EINVAL;
	}
	for (p = s; *p; p++) {
		if (!isdigit((unsigned char)*p)) {
			*why = "has a port that is not a number";
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			break;
	}
	if (v < 1 || v > 65535) {
		*why = "has a port out of range; use 1-65535";
		return -ERANGE;
	}
	*port = (uint16_t)v;
	return 0;
}

static int cfg_listen(const char *s, char *host, size_t hostlen, uint16_t *port, const char **why)
{
	const char *h = s, *colon;
	size_t hn;
	int ret;

	if (*s == '[') {
		colon = strchr(s, ']');
		h = s + 1;
		hn = colon ? (size_t)(colon - h) : 0;
		if (!colon || colon[1] != ':' || !cfg_ipv6_ok(h, hn)) {
			*why = "is not [IPV6]:PORT, e.g. [::1]:9477";
			return -EINVAL;
		}
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			*why = "has no :PORT, e.g. 127.0.0.1:9477";
			return -EINVAL;
		}
		hn = (size_t)(colon - s);
		if (memchr(s, ':', hn)) {
			*why = "has an IPv6 address without brackets; write [::1]:9477";
			return -EINVAL;
		}
		if (!cfg_hostname_ok(s, hn)) {
			*why = "has a host that is not an address or name";
			return -EINVAL;
		}
	}
	if (hn >= hostlen) {
		*why = "has a host name that is too long";
		return -ENAMETOOLONG;
	}
	ret = cfg_port(colon + 1, port, why);
	if (ret)
		return ret;
	memcpy(host, h, hn);
	host[hn] = '\0';
	return 0;
}

int config__parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *why;

	if (!s || !host || !hostlen || !port)
		return -EINVAL;
	return cfg_listen(s, host, hostlen, port, &why);
}

static int cfg_set_listen(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char host[sizeof(cfg->listen_host)], q[CFG_QUOTE_MAX];
	const char *reason;
	uint16_t port;

	if (cfg_listen(v, host, sizeof(host), &port, &reason)) {
		snprintf(why, len, "\"%s\" %s", cfg_quote(v, q, sizeof(q)), reason);
		return -EINVAL;
	}
	strcpy(cfg->listen_host, host);
	cfg->listen_port = port;
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
	return cfg_duration(v, CFG_MIN_INTERVAL_MS, CFG_MAX_INTERVAL_MS, "100ms to 1h",
			    "1s, 500ms", &cfg->interval_ms, why, len);
}

static int cfg_set_zombie_grace(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 100, 24ULL * 3600 * 1000, "100ms to 24h", "60s, 5m",
			    &cfg->zombie_grace_ms, why, len);
}

static int cfg_set_url(char *dst, size_t dstlen, const char *v, const char *default_path,
		       char *why, size_t len);

static int cfg_set_kubelet(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_url(cfg->kubelet_url, sizeof(cfg->kubelet_url), v, "/pods", why, len);
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

	ret = cfg_set_file(cfg->web_config, v, why, len);
	if (ret)
		return ret;
	ret = webcfg__load(&web, v, why, len);
	if (ret)
		return ret;
	cfg->web = web;
	return 0;
}

static int cfg_set_token_file(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_file(cfg->kubelet_token_file, v, why, len);
}

static int cfg_set_ca_file(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_file(cfg->kubelet_ca_file, v, why, len);
}

static int cfg_set_insecure_tls(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];

	if (!strcmp(v, "true"))
		cfg->kubelet_insecure_tls = true;
	else if (!strcmp(v, "false"))
		cfg->kubelet_insecure_tls = false;
	else {
		snprintf(why, len, "\"%s\" is not true or false", cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return 0;
}

static int cfg_set_kubelet_interval(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 1000, 3600 * 1000, "1s to 1h", "30s, 2m", &cfg->kubelet_interval_ms,
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
	return cfg_set_path(cfg->log_pods_dir, v, why, len);
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
	return cfg_set_dir(cfg->cgroup_root, v, why, len);
}

static int cfg_set_proc_root(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_dir(cfg->proc_root, v, why, len);
}

static int cfg_set_cgroup_mode(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];

	if (!strcmp(v, "auto"))
		cfg->cgroup_mode = PM_CG_AUTO;
	else if (!strcmp(v, "v2"))
		cfg->cgroup_mode = PM_CG_V2;
	else if (!strcmp(v, "v1"))
		cfg->cgroup_mode = PM_CG_V1;
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

	for (i = 0; i < cfg->n_cidrs; i++)
		if (cfg->cidrs[i].class != class)
			others[n++] = cfg->cidrs[i];
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
	memcpy(cfg->cidrs, others, n * sizeof(others[0]));
	memcpy(cfg->cidrs + n, fresh, n_fresh * sizeof(fresh[0]));
	cfg->n_cidrs = n + n_fresh;
	return 0;
}

#define CFG_NET_SETTER(name, class)                                                        \
	static int cfg_set_net_##name(struct pm_config *cfg, const char *v, char *why,     \
				      size_t len)                                          \
	{                                                                                  \
		return cfg_set_net(cfg, class, v, why, len);                               \
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
	if ((!isdigit((unsigned char)*v) && *v != '.') || strpbrk(v, "xXpP") || *end ||
	    errno || !isfinite(d)) {
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

#define CFG_PRICE_SETTER(name, field)                                                      \
	static int cfg_set_##name(struct pm_config *cfg, const char *v, char *why, size_t len) \
	{                                                                                  \
		return cfg_price(v, &cfg->field, why, len);                                \
	}
CFG_PRICE_SETTER(price_cpu, price_cpu_core_hour)
CFG_PRICE_SETTER(price_memory, price_memory_gib_hour)
CFG_PRICE_SETTER(price_gpu, price_gpu_hour)
CFG_PRICE_SETTER(price_node, price_node_hour)
CFG_PRICE_SETTER(egress_local, price_egress_gib[PM_NET_LOCAL])
CFG_PRICE_SETTER(egress_in_zone, price_egress_gib[PM_NET_IN_ZONE])
CFG_PRICE_SETTER(egress_cross_zone, price_egress_gib[PM_NET_CROSS_ZONE])
CFG_PRICE_SETTER(egress_cross_region, price_egress_gib[PM_NET_CROSS_REGION])
CFG_PRICE_SETTER(egress_internet, price_egress_gib[PM_NET_INTERNET])

/* A Kubernetes quantity, positive, in thousandths (@milli) or units; 0 = find it. */
static int cfg_quantity(const char *v, bool milli, int64_t max, const char *example,
			int64_t *out, char *why, size_t len)
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
		cfg->node_cpu_cores = milli / 1000.0;
	return ret;
}

static int cfg_set_node_memory(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_quantity(v, false, INT64_MAX, "64Gi, 68719476736", &cfg->node_memory_bytes,
			    why, len);
}

static int cfg_set_node_gpus(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	int ret = cfg_quantity(v, false, 1024, "8", &cfg->node_gpus, why, len);
	char q[CFG_QUOTE_MAX];

	if (!ret && strpbrk(v, ".mun")) {
		snprintf(why, len, "\"%s\" is not a whole number of GPUs", cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return ret;
}

static int cfg_set_overhead_groups(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	int ret = cfg_quantity(v, false, 1000, "10", &cfg->overhead_groups, why, len);
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
			    &cfg->report_window_ms, why, len);
}

static int cfg_set_spool(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_path(cfg->spool_dir, v, why, len);
}

/* "none" (or empty) turns pinning off. */
static int cfg_set_pin_dir(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	if (!*v || !strcmp(v, "none")) {
		cfg->pin_dir[0] = '\0';
		return 0;
	}
	return cfg_set_path(cfg->pin_dir, v, why, len);
}

static int cfg_set_spool_max(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX];
	int ret = cfg_quantity(v, false, INT64_MAX, "64Mi", &cfg->spool_max_bytes, why, len);

	if (!ret && cfg->spool_max_bytes < 65536) {
		snprintf(why, len, "\"%s\" is too small; give 64Ki or more", cfg_quote(v, q, sizeof(q)));
		return -EINVAL;
	}
	return ret;
}

/* An http(s) URL; without a path, @default_path (agent/url.c). */
static int cfg_set_url(char *dst, size_t dstlen, const char *v, const char *default_path,
		       char *why, size_t len)
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
	return cfg_set_url(cfg->reconciler_url, sizeof(cfg->reconciler_url), v, "/v1/reports", why,
			   len);
}

#define CFG_FILE_SETTER(name, field)                                                       \
	static int cfg_set_##name(struct pm_config *cfg, const char *v, char *why, size_t len) \
	{                                                                                  \
		return cfg_set_file(cfg->field, v, why, len);                              \
	}
CFG_FILE_SETTER(rec_token, reconciler_token_file)
CFG_FILE_SETTER(rec_ca, reconciler_ca_file)
CFG_FILE_SETTER(rec_cert, reconciler_cert_file)
CFG_FILE_SETTER(rec_key, reconciler_key_file)

static int cfg_set_rec_timeout(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 100, 600 * 1000, "100ms to 10m", "10s", &cfg->reconciler_timeout_ms,
			    why, len);
}

static int cfg_set_rec_retry_max(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 500, 3600 * 1000, "500ms to 1h", "30s",
			    &cfg->reconciler_retry_max_ms, why, len);
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
	return cfg_set_name(cfg->cluster, sizeof(cfg->cluster), v, why, len);
}

static int cfg_set_node_name(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_name(cfg->node_name, sizeof(cfg->node_name), v, why, len);
}

static int cfg_set_idle_window(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_duration(v, 1000, 30ULL * 24 * 3600 * 1000, "1s to 30d", "1h, 30m",
			    &cfg->idle_window_ms, why, len);
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
	cfg->idle_cpu_ratio = d;
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
	return cfg_set_cores(&cfg->idle_cpu_cores, v, why, len);
}

static int cfg_set_zombie_cpu(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_set_cores(&cfg->zombie_cpu_cores, v, why, len);
}

static int cfg_set_idle_net(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	int64_t n;
	int ret = cfg_quantity(v, false, INT64_MAX, "1Ki, 1024", &n, why, len);

	if (!ret)
		cfg->idle_net_bytes_s = (double)n;
	return ret;
}

static int cfg_set_zombie_memory(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	return cfg_quantity(v, false, INT64_MAX, "16Mi", &cfg->zombie_memory_bytes, why, len);
}

void config__detect(const struct pm_config *cfg, struct pm_detect_cfg *out)
{
	detect__defaults(out);	/* what the config has no key for */
	out->window_s = cfg->idle_window_ms / 1000.0;
	out->idle_cpu_ratio = cfg->idle_cpu_ratio;
	out->idle_cpu_cores = cfg->idle_cpu_cores;
	out->idle_net_bytes_s = cfg->idle_net_bytes_s;
	out->zombie_cpu_cores = cfg->zombie_cpu_cores;
	out->zombie_memory_bytes = (uint64_t)cfg->zombie_memory_bytes;
}

/* A label key as Kubernetes writes them: [prefix/]name, letters, digits, "-", "_", ".". */
static bool cfg_label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');
	size_t n = strlen(k);

	if (!n || n > PM_LABEL_KEY_MAX || (slash && (slash == k || !slash[1] || strchr(slash + 1, '/'))))
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
	char q[CFG_QUOTE_MAX], copy[sizeof(cfg->report_labels)], *tok, *save;
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
	strcpy(cfg->report_labels, v);
	return 0;
}

/* Comma-separated absolute paths of device files to count as GPUs. */
static int cfg_set_gpu_devices(struct pm_config *cfg, const char *v, char *why, size_t len)
{
	char q[CFG_QUOTE_MAX], copy[sizeof(cfg->gpu_devices)], *tok, *save;

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
	strcpy(cfg->gpu_devices, v);
	return 0;
}

static const struct cfg_key cfg_keys[] = {
	{"listen", "listen", "HOST:PORT, e.g. 127.0.0.1:9477", cfg_set_listen, false},
	{"interval", "interval", "a duration, e.g. 1s or 500ms", cfg_set_interval, false},
	{"web_config", "web-config", "a file path (TLS, bearer tokens)", cfg_set_web_config, false},
	{"cgroup_root", "cgroup-root", "an absolute directory path", cfg_set_cgroup_root, false},
	{"proc_root", "proc-root", "an absolute directory path", cfg_set_proc_root, false},
	{"cgroup_mode", "cgroup-mode", "auto, v2 or v1", cfg_set_cgroup_mode, false},
	{"zombie_grace", "zombie-grace", "a duration, e.g. 60s", cfg_set_zombie_grace, false},
	{"kubelet", "kubelet", "a URL, e.g. https://127.0.0.1:10250", cfg_set_kubelet, false},
	{"kubelet_token_file", "kubelet-token-file", "a file path", cfg_set_token_file, false},
	{"kubelet_ca_file", "kubelet-ca-file", "a file path", cfg_set_ca_file, false},
	{"kubelet_insecure_tls", "kubelet-insecure-tls", "true or false", cfg_set_insecure_tls,
	 true},
	{"kubelet_interval", "kubelet-interval", "a duration, e.g. 30s", cfg_set_kubelet_interval, false},
	{"log_pods_dir", "log-pods-dir", "a directory path", cfg_set_log_pods_dir, false},
	{"net_local", "net-local", "CIDRs, e.g. 10.1.0.0/16,fd00:1::/64", cfg_set_net_local, false},
	{"net_in_zone", "net-in-zone", "CIDRs, e.g. 10.1.0.0/16", cfg_set_net_in_zone, false},
	{"net_cross_zone", "net-cross-zone", "CIDRs, e.g. 10.2.0.0/16", cfg_set_net_cross_zone, false},
	{"net_cross_region", "net-cross-region", "CIDRs, e.g. 10.3.0.0/16",
	 cfg_set_net_cross_region, false},
	{"net_internet", "net-internet", "CIDRs, e.g. 192.0.2.0/24", cfg_set_net_internet, false},
	{"price_cpu_core_hour", "price-cpu-core-hour", "dollars, e.g. 0.031611", cfg_set_price_cpu,
	 false},
	{"price_memory_gib_hour", "price-memory-gib-hour", "dollars, e.g. 0.004237",
	 cfg_set_price_memory, false},
	{"price_gpu_hour", "price-gpu-hour", "dollars, e.g. 0.95", cfg_set_price_gpu, false},
	{"price_node_hour", "price-node-hour", "dollars, e.g. 0.192", cfg_set_price_node, false},
	{"price_egress_local", "price-egress-local", "dollars per GiB, e.g. 0",
	 cfg_set_egress_local, false},
	{"price_egress_in_zone", "price-egress-in-zone", "dollars per GiB, e.g. 0",
	 cfg_set_egress_in_zone, false},
	{"price_egress_cross_zone", "price-egress-cross-zone", "dollars per GiB, e.g. 0.01",
	 cfg_set_egress_cross_zone, false},
	{"price_egress_cross_region", "price-egress-cross-region", "dollars per GiB, e.g. 0.02",
	 cfg_set_egress_cross_region, false},
	{"price_egress_internet", "price-egress-internet", "dollars per GiB, e.g. 0.12",
	 cfg_set_egress_internet, false},
	{"node_cpu_cores", "node-cpu-cores", "cores, e.g. 16", cfg_set_node_cpu, false},
	{"node_memory", "node-memory", "bytes, e.g. 64Gi", cfg_set_node_memory, false},
	{"node_gpus", "node-gpus", "a count, e.g. 8", cfg_set_node_gpus, false},
	{"overhead_groups", "overhead-groups", "a count, 0 to 1000, e.g. 10",
	 cfg_set_overhead_groups, false},
	{"report_window", "report-window", "a duration, e.g. 60s", cfg_set_report_window, false},
	{"spool", "spool", "a directory path", cfg_set_spool, false},
	{"spool_max_bytes", "spool-max-bytes", "bytes, e.g. 64Mi", cfg_set_spool_max, false},
	{"pin_dir", "pin-dir", "a directory on bpffs, or none", cfg_set_pin_dir, false},
	{"reconciler", "reconciler", "a URL, e.g. https://reconciler:8443",
	 cfg_set_reconciler, false},
	{"reconciler_token_file", "reconciler-token-file", "a file path", cfg_set_rec_token, false},
	{"reconciler_ca_file", "reconciler-ca-file", "a file path", cfg_set_rec_ca, false},
	{"reconciler_cert_file", "reconciler-cert-file", "a file path", cfg_set_rec_cert, false},
	{"reconciler_key_file", "reconciler-key-file", "a file path", cfg_set_rec_key, false},
	{"reconciler_timeout", "reconciler-timeout", "a duration, e.g. 10s", cfg_set_rec_timeout,
	 false},
	{"reconciler_retry_max", "reconciler-retry-max", "a duration, e.g. 30s",
	 cfg_set_rec_retry_max, false},
	{"cluster", "cluster", "a name, e.g. prod-eu-1", cfg_set_cluster, false},
	{"node_name", "node-name", "a name, e.g. node-a", cfg_set_node_name, false},
	{"gpu_devices", "gpu-devices", "device paths, e.g. /dev/accel0", cfg_set_gpu_devices, false},
	{"report_labels", "report-labels", "label keys, e.g. team,app.kubernetes.io/name",
	 cfg_set_report_labels, false},
	{"idle_window", "idle-window", "a duration, e.g. 1h", cfg_set_idle_window, false},
	{"idle_cpu_ratio", "idle-cpu-ratio", "a share of the request, e.g. 0.05", cfg_set_idle_ratio,
	 false},
	{"idle_cpu_cores", "idle-cpu-cores", "cores, e.g. 10m", cfg_set_idle_cpu, false},
	{"idle_net_bytes_per_second", "idle-net-bytes-per-second", "bytes, e.g. 1Ki",
	 cfg_set_idle_net, false},
	{"zombie_cpu_cores", "zombie-cpu-cores", "cores, e.g. 5m", cfg_set_zombie_cpu, false},
	{"zombie_memory", "zombie-memory", "bytes, e.g. 16Mi", cfg_set_zombie_memory, false},
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
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen_host, PM_DEFAULT_LISTEN_HOST);
	cfg->listen_port = PM_DEFAULT_LISTEN_PORT;
	cfg->interval_ms = PM_DEFAULT_INTERVAL_MS;
	strcpy(cfg->proc_root, PM_DEFAULT_PROC_ROOT);
	cfg->cgroup_mode = PM_CG_AUTO;
	cfg->zombie_grace_ms = PM_DEFAULT_ZOMBIE_GRACE_MS;
	cfg->kubelet_interval_ms = PM_DEFAULT_KUBELET_INTERVAL_MS;
	strcpy(cfg->log_pods_dir, PM_DEFAULT_LOG_PODS_DIR);
	cfg->price_cpu_core_hour = PM_PRICE_CPU_CORE_HOUR;
	cfg->price_memory_gib_hour = PM_PRICE_MEMORY_GIB_HOUR;
	cfg->price_gpu_hour = PM_PRICE_GPU_HOUR;
	cfg->price_egress_gib[PM_NET_LOCAL] = PM_PRICE_EGRESS_LOCAL;
	cfg->price_egress_gib[PM_NET_IN_ZONE] = PM_PRICE_EGRESS_IN_ZONE;
	cfg->price_egress_gib[PM_NET_CROSS_ZONE] = PM_PRICE_EGRESS_CROSS_ZONE;
	cfg->price_egress_gib[PM_NET_CROSS_REGION] = PM_PRICE_EGRESS_CROSS_REGION;
	cfg->price_egress_gib[PM_NET_INTERNET] = PM_PRICE_EGRESS_INTERNET;
	cfg->report_window_ms = PM_DEFAULT_REPORT_WINDOW_MS;
	strcpy(cfg->spool_dir, PM_DEFAULT_SPOOL_DIR);
	strcpy(cfg->pin_dir, PM_DEFAULT_PIN_DIR);
	cfg->spool_max_bytes = PM_DEFAULT_SPOOL_MAX_BYTES;
	cfg->overhead_groups = PM_DEFAULT_OVERHEAD_GROUPS;
	cfg->reconciler_timeout_ms = PM_DEFAULT_RECONCILER_TIMEOUT_MS;
	cfg->reconciler_retry_max_ms = PM_DEFAULT_RECONCILER_RETRY_MAX_MS;
	{
		struct pm_detect_cfg d;

		detect__defaults(&d);
		cfg->idle_window_ms = (uint64_t)(d.window_s * 1000);
		cfg->idle_cpu_ratio = d.idle_cpu_ratio;
		cfg->idle_cpu_cores = d.idle_cpu_cores;
		cfg->idle_net_bytes_s = d.idle_net_bytes_s;
		cfg->zombie_cpu_cores = d.zombie_cpu_cores;
		cfg->zombie_memory_bytes = (int64_t)d.zombie_memory_bytes;
	}
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
	else if (o->key && o->key->boolean)
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

void config__usage(FILE *f)
{
	unsigned long long iv = PM_DEFAULT_INTERVAL_MS;

	fprintf(f, "usage: podmeter run|check [options]\n"
		   "\n"
		   "options (flags override the --config file, which overrides the defaults):\n");
	fprintf(f,
		"  --listen HOST:PORT     serve metrics here (default %s:%d);\n"
		"                         \":PORT\" = all addresses, \"[::1]:PORT\" for IPv6\n",
		PM_DEFAULT_LISTEN_HOST, PM_DEFAULT_LISTEN_PORT);
	fprintf(f, "  --web-config FILE      TLS and bearer tokens for /metrics and /v1/pods\n"
		   "                         (tls_server_config, bearer_tokens_file)\n");
	if (iv % 1000)
		fprintf(f,
			"  --interval DURATION    sampling interval, 100ms to 1h (default "
			"%llums)\n",
			iv);
	else
		fprintf(f,
			"  --interval DURATION    sampling interval, 100ms to 1h (default %llus)\n",
			iv / 1000);
	fprintf(f,
		"  --config FILE          YAML file of key: value, keys as the flags\n"
		"  --cgroup-root DIR      cgroup root (default: found from /proc/self/mountinfo)\n"
		"  --proc-root DIR        procfs root (default %s)\n"
		"  --cgroup-mode MODE     auto, v2 or v1 (default auto)\n"
		"  --zombie-grace DUR     exited, unreaped this long: a zombie (default 60s)\n"
		"  --kubelet URL          the kubelet, e.g. https://127.0.0.1:10250 (its /pods;\n"
		"                         a path given is kept); default none: names from\n"
		"                         --log-pods-dir\n"
		"  --kubelet-token-file F bearer token (e.g. the service account's)\n"
		"  --kubelet-ca-file F    CA to verify the kubelet's certificate\n"
		"  --kubelet-insecure-tls do not verify it (labs only)\n"
		"  --kubelet-interval DUR refresh (default 30s; also when a new pod appears)\n"
		"  --log-pods-dir DIR     <namespace>_<name>_<uid> dirs (default /var/log/pods)\n"
		"  --net-CLASS CIDRS      the CIDRs (comma-separated) of a network class, over\n"
		"                         the config file's list for it:\n"
		"                         local, in-zone, cross-zone, cross-region, internet;\n"
		"                         built in: loopback local; RFC 1918, 100.64/10,\n"
		"                         169.254/16, fc00::/7, fe80::/10 in-zone; else internet\n",
		PM_DEFAULT_PROC_ROOT);
	fprintf(f,
		"  --price-cpu-core-hour $     CPU price per core-hour (default %g)\n"
		"  --price-memory-gib-hour $   memory price per GiB-hour (default %g)\n"
		"  --price-gpu-hour $          GPU price per GPU-hour (default %g)\n"
		"  --price-node-hour $         the node's hourly price, split into CPU, memory\n"
		"                              and GPU by the ratios of the three above\n"
		"                              (OpenCost spec, Appendix A; default none)\n"
		"  --price-egress-CLASS $      egress per GiB to a network class (defaults:\n"
		"                              local %g, in-zone %g, cross-zone %g,\n"
		"                              cross-region %g, internet %g)\n"
		"  --node-cpu-cores N          cores the node is priced for (default: online CPUs)\n"
		"  --node-memory BYTES         memory it is priced for (default: MemTotal)\n"
		"  --node-gpus N               GPUs it is priced for (default 0)\n"
		"  --overhead-groups N         node overhead groups (units, slices, containers\n"
		"                              outside pods) shown by name; the rest in one\n"
		"                              \"other\" row (default 10)\n"
		"                              (default prices: OpenCost's defaults)\n"
		"  --report-window DUR         one report per window (default 60s)\n"
		"  --spool DIR                 reports are written here first (default %s)\n"
		"  --spool-max-bytes BYTES     the spool's bound; the oldest go first (default 64Mi)\n"
		"  --pin-dir DIR               programs, links and counters are pinned here on\n"
		"                              bpffs and adopted by the next agent; none = off\n"
		"                              (default %s)\n"
		"  --reconciler URL            POST reports here, e.g. http://reconciler:9480 (its\n"
		"                              /v1/reports; default none: they stay spooled)\n"
		"  --reconciler-token-file F   bearer token; --reconciler-ca-file F, --reconciler-\n"
		"                              cert-file F, --reconciler-key-file F for (m)TLS\n"
		"  --reconciler-timeout DUR    per request (default 10s)\n"
		"  --reconciler-retry-max DUR  retries back off up to this (default 30s)\n"
		"  --cluster NAME              cluster name in reports (default none)\n"
		"  --node-name NAME            node name in reports (default: the host name)\n"
		"  --report-labels KEYS        pod labels whose values go into reports, for\n"
		"                              charge-back (comma-separated, at most 8; default none)\n"
		"  --idle-window DUR           idle and zombie pods are judged over this (default 1h)\n"
		"  --idle-cpu-ratio R          idle: CPU under this share of the request (0.05),\n"
		"  --idle-cpu-cores C          or under C cores without a request (10m), and\n"
		"  --idle-net-bytes-per-second B  traffic under B (1Ki), no GPU work\n"
		"  --zombie-cpu-cores C        workload zombie: under C cores (5m), no traffic,\n"
		"  --zombie-memory BYTES       while holding this much memory (16Mi) or GPU memory\n"
		"  --gpu-devices PATHS         more device files whose ioctls count as GPU\n"
		"                              driver calls (comma-separated; /dev/nvidia*,\n"
		"                              /dev/dri/renderD*, /dev/kfd, /dev/accel/* built in)\n"
		"  -h, --help                  show this help\n",
		PM_PRICE_CPU_CORE_HOUR, PM_PRICE_MEMORY_GIB_HOUR, PM_PRICE_GPU_HOUR,
		PM_PRICE_EGRESS_LOCAL, PM_PRICE_EGRESS_IN_ZONE, PM_PRICE_EGRESS_CROSS_ZONE,
		PM_PRICE_EGRESS_CROSS_REGION, PM_PRICE_EGRESS_INTERNET, PM_DEFAULT_SPOOL_DIR,
		PM_DEFAULT_PIN_DIR);
}
