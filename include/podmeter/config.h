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

#define PM_CFG_MAX_CIDRS 256

enum pm_cgroup_mode {
	PM_CG_AUTO = 0, /* v2 unless pod cgroups are found only in v1 cpuacct */
	PM_CG_V2,
	PM_CG_V1,
};

/*
 * The settings, one section per concern. Defaults, docs and reloadability
 * live in one place: the key table in agent/config.c (config__key_default()
 * reads a key's default back, e.g. "pin_dir").
 */

/* Where metrics are served. */
struct pm_cfg_http {
	char listen_host[256];
	uint16_t listen_port;
	char web_config[PATH_MAX]; /* "" = plain HTTP, no token */
	struct pm_web_config web;  /* what it says, checked at load */
};

/* What is read from the kernel, and how. */
struct pm_cfg_collect {
	uint64_t interval_ms;
	char cgroup_root[PATH_MAX]; /* "" = find from mountinfo */
	char proc_root[PATH_MAX];
	enum pm_cgroup_mode cgroup_mode;
	uint64_t zombie_grace_ms; /* unreaped this long: a zombie */
	int64_t overhead_groups;  /* node overhead groups shown by name; the rest "other" */
	char gpu_devices[1024];	  /* more GPU device files, comma-separated */
	char pin_dir[PATH_MAX];	  /* "" = not pinning */
	bool force_raw_tp;	  /* raw_tp even where tp_btf works (tests, old kernels) */
};

/* Pod names and labels. */
struct pm_cfg_kubelet {
	char url[512]; /* "" = no kubelet: names from log_pods_dir */
	char token_file[PATH_MAX];
	char ca_file[PATH_MAX];
	bool insecure_tls;
	uint64_t interval_ms;
	char log_pods_dir[PATH_MAX];
};

/* Network classes beyond the built-in ones: net_<class> = CIDR list. */
struct pm_cfg_net {
	struct pm_cidr cidrs[PM_CFG_MAX_CIDRS];
	int n_cidrs;
};

/* Prices (defaults: OpenCost's, see podmeter/cost.h) and the node as priced. */
struct pm_cfg_prices {
	double cpu_core_hour;
	double memory_gib_hour;
	double gpu_hour;
	double node_hour; /* > 0: split over the node by the ratios above */
	double egress_gib[PM_NET_CLASSES];
	/* 0 = found (online CPUs, MemTotal, no GPUs) */
	double node_cpu_cores;
	int64_t node_memory_bytes;
	int64_t node_gpus;
};

/* Reports and their spool. */
struct pm_cfg_report {
	uint64_t window_ms;
	char spool_dir[PATH_MAX];
	int64_t spool_max_bytes;
	char cluster[128];
	char node_name[254]; /* "" = the host name */
	/* pod label keys carried into reports, comma-separated; "" = none */
	char labels[PM_POD_LABELS * (PM_LABEL_KEY_MAX + 1)];
};

/* Where reports go. */
struct pm_cfg_reconciler {
	char url[512]; /* "" = reports stay in the spool */
	char token_file[PATH_MAX];
	char ca_file[PATH_MAX];
	char cert_file[PATH_MAX];
	char key_file[PATH_MAX];
	uint64_t timeout_ms;
	uint64_t retry_max_ms; /* backoff cap */
};

/* Idle and zombie pods (see config__detect). */
struct pm_cfg_detection {
	uint64_t idle_window_ms;
	uint64_t model_step_ms; /* each pod's models learn a sample this long */
	double idle_cpu_ratio;
	double idle_cpu_cores;
	double idle_net_bytes_s;
	double zombie_cpu_cores;
	int64_t zombie_memory_bytes;
};

struct pm_config {
	struct pm_cfg_http http;
	struct pm_cfg_collect collect;
	struct pm_cfg_kubelet kubelet;
	struct pm_cfg_net net;
	struct pm_cfg_prices prices;
	struct pm_cfg_report report;
	struct pm_cfg_reconciler reconciler;
	struct pm_cfg_detection detection;
	char config_file[PATH_MAX]; /* "" = none */
};

struct pm_detect_cfg;
/* The detection settings of @cfg. */
void config__detect(const struct pm_config *cfg, struct pm_detect_cfg *out);

/* Every key at its default, from the key table. */
void config__defaults(struct pm_config *cfg);

/* The default of @key as written in the key table ("1s", "/proc"); NULL = none or unknown. */
const char *config__key_default(const char *key);

/* The @i-th key of the table (from 0), and whether SIGHUP reloads it; NULL past the end. */
const char *config__key(int i, bool *reloadable);

/*
 * Keys whose values differ between @old and @fresh but that a reload does
 * not apply (not reloadable in the key table): up to @max names into @keys.
 * Returns how many there are.
 */
int config__fixed_changed(const struct pm_config *old, const struct pm_config *fresh,
			  const char **keys, int max);

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
 * Defaults, then the environment (PODMETER_FORCE_RAW_TP set: force_raw_tp),
 * then the file named by --config, then the other flags (flags win). @argv is the argument list after the subcommand (argv[0] is the
 * subcommand name). Returns 0, 1 when --help was asked (usage printed), or a
 * negative errno with @err set.
 */
int config__from_args(struct pm_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* "1s", "500ms", "2m", "1h", "1.5s", plain number = seconds. */
int config__parse_duration_ms(const char *s, uint64_t *ms);

void config__usage(FILE *f);

#endif /* PODMETER_CONFIG_H */
