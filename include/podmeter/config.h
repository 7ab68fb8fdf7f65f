/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Agent configuration: embedded defaults < config file < command-line flags. */
#ifndef PODMETER_CONFIG_H
#define PODMETER_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <podmeter/cidr.h>
#include <podmeter/net.h>
#include <podmeter/webcfg.h>
#include <podmeter/snapshot.h>

#define PM_CFG_MAX_CIDRS	256

#define PM_DEFAULT_LISTEN_HOST	"127.0.0.1"
#define PM_DEFAULT_LISTEN_PORT	9477
#define PM_DEFAULT_INTERVAL_MS	1000
#define PM_DEFAULT_PROC_ROOT	"/proc"
#define PM_DEFAULT_ZOMBIE_GRACE_MS	60000
#define PM_DEFAULT_KUBELET_INTERVAL_MS	30000
#define PM_DEFAULT_LOG_PODS_DIR		"/var/log/pods"
#define PM_DEFAULT_REPORT_WINDOW_MS	60000
#define PM_DEFAULT_SPOOL_DIR		"/var/lib/podmeter/spool"
#define PM_DEFAULT_PIN_DIR		"/sys/fs/bpf/podmeter"
#define PM_DEFAULT_SPOOL_MAX_BYTES	(64LL << 20)
#define PM_DEFAULT_OVERHEAD_GROUPS	10
#define PM_DEFAULT_RECONCILER_TIMEOUT_MS 10000
#define PM_DEFAULT_RECONCILER_RETRY_MAX_MS 30000

enum pm_cgroup_mode {
	PM_CG_AUTO = 0,	/* v2 unless pod cgroups are found only in v1 cpuacct */
	PM_CG_V2,
	PM_CG_V1,
};

struct pm_config {
	char listen_host[256];
	uint16_t listen_port;
	char web_config[PATH_MAX];	/* "" = plain HTTP, no token */
	struct pm_web_config web;	/* what it says, checked at load */
	uint64_t interval_ms;
	char cgroup_root[PATH_MAX];	/* "" = find from mountinfo */
	char proc_root[PATH_MAX];
	enum pm_cgroup_mode cgroup_mode;
	uint64_t zombie_grace_ms;	/* unreaped this long: a zombie */
	char kubelet_url[512];		/* "" = no kubelet: names from log_pods_dir */
	char kubelet_token_file[PATH_MAX];
	char kubelet_ca_file[PATH_MAX];
	bool kubelet_insecure_tls;
	uint64_t kubelet_interval_ms;
	char log_pods_dir[PATH_MAX];
	char config_file[PATH_MAX];	/* "" = none */
	/* network classes beyond the built-in ones: net_<class> = CIDR list */
	struct pm_cidr cidrs[PM_CFG_MAX_CIDRS];
	int n_cidrs;
	/* prices (defaults: OpenCost's, see podmeter/cost.h) */
	double price_cpu_core_hour;
	double price_memory_gib_hour;
	double price_gpu_hour;
	double price_node_hour;		/* > 0: split over the node by the ratios above */
	double price_egress_gib[PM_NET_CLASSES];
	/* the node as priced; 0 = found (online CPUs, MemTotal, no GPUs) */
	double node_cpu_cores;
	int64_t node_memory_bytes;
	int64_t node_gpus;
	int64_t overhead_groups;	/* node overhead groups shown by name; the rest "other" */
	/* reports */
	uint64_t report_window_ms;
	char spool_dir[PATH_MAX];
	char pin_dir[PATH_MAX];		/* "" = not pinning */
	int64_t spool_max_bytes;
	char reconciler_url[512];	/* "" = reports stay in the spool */
	char reconciler_token_file[PATH_MAX];
	char reconciler_ca_file[PATH_MAX];
	char reconciler_cert_file[PATH_MAX];
	char reconciler_key_file[PATH_MAX];
	uint64_t reconciler_timeout_ms;
	uint64_t reconciler_retry_max_ms;	/* backoff cap */
	char cluster[128];
	char node_name[254];		/* "" = the host name */
	/* pod label keys carried into reports, comma-separated; "" = none */
	char report_labels[PM_POD_LABELS * (PM_LABEL_KEY_MAX + 1)];
	char gpu_devices[1024];		/* more GPU device files, comma-separated */
	/* detection (defaults: detect__defaults) */
	uint64_t idle_window_ms;
	double idle_cpu_ratio;
	double idle_cpu_cores;
	double idle_net_bytes_s;
	double zombie_cpu_cores;
	int64_t zombie_memory_bytes;
};

struct pm_detect_cfg;
/* The detection settings of @cfg. */
void config__detect(const struct pm_config *cfg, struct pm_detect_cfg *out);

void config__defaults(struct pm_config *cfg);

/*
 * Set one key from its string form; the config file and the flags both go
 * through here. Returns 0, -ENOENT for an unknown key, -EINVAL for a bad
 * value, with a message in @err either way.
 */
int config__set(struct pm_config *cfg, const char *key, const char *value, char *err,
		size_t errlen);

/* Load a YAML mapping of key: value (keys as config__set). */
int config__load_file(struct pm_config *cfg, const char *path, char *err, size_t errlen);

/*
 * Defaults, then the file named by --config, then the other flags (flags
 * win). @argv is the argument list after the subcommand (argv[0] is the
 * subcommand name). Returns 0, 1 when --help was asked (usage printed), or a
 * negative errno with @err set.
 */
int config__from_args(struct pm_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* "1s", "500ms", "2m", "1h", "1.5s", plain number = seconds. */
int config__parse_duration_ms(const char *s, uint64_t *ms);

/* "HOST:PORT", "[v6]:PORT", ":PORT" (= all addresses). */
int config__parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port);

void config__usage(FILE *f);

#endif /* PODMETER_CONFIG_H */
