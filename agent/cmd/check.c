// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `podmeter check`: what this node offers the agent, one line per feature,
 * found by really loading and attaching the empty programs of probe.bpf.c
 * rather than by guessing from kernel versions.
 */
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/libbpf.h>

#include <podmeter/agent.h>
#include <podmeter/cgroupfs.h>
#include <podmeter/check.h>
#include "probe.skel.h"

#define CHECK_DETAIL_MAX 1024

/* Capability numbers, from linux/capability.h (CAP_BPF/CAP_PERFMON need 5.8 headers). */
#define CHECK_CAP_SYS_ADMIN    21
#define CHECK_CAP_SYS_RESOURCE 24
#define CHECK_CAP_PERFMON      38
#define CHECK_CAP_BPF	       39

struct check_ctx {
	const struct pm_config *cfg;
	struct pm_cgroupfs fs;
	int fs_err;
	bool tp_btf;
	bool raw_tp;
	bool cgroup_skb;
	bool uprobes;
	bool caps;
};

struct check_probe {
	const char *name;
	/* 0 when present, else a negative errno; @detail is printed either way. */
	int (*fn)(struct check_ctx *ctx, char *detail, size_t len);
};

typedef struct bpf_link *(*check_attach_fn)(struct check_ctx *ctx, struct bpf_program *prog);

/* The uprobe probe's target: a real out-of-line function of this binary. */
void check__uprobe_target(void);

__attribute__((noinline)) void check__uprobe_target(void)
{
	__asm__ volatile("" ::: "memory");
}

static int check_silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* "@fallback (@err's text)": what the agent does instead, and why. */
static int check_missing(char *detail, size_t len, const char *fallback, const char *why, int err)
{
	if (why && why[0])
		snprintf(detail, len, "%s (%s)", fallback, why);
	else if (err)
		snprintf(detail, len, "%s (%s)", fallback, strerror(-err));
	else
		snprintf(detail, len, "%s", fallback);
	return err ? err : -ENOENT;
}

/* open -> autoload only @name -> load -> attach -> destroy. */
static int check_bpf_prog(struct check_ctx *ctx, const char *name, check_attach_fn attach,
			  char *why, size_t len)
{
	struct bpf_program *prog, *target;
	struct probe_bpf *skel;
	struct bpf_link *link;
	int err;

	skel = probe_bpf__open();
	if (!skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(why, len, "open: %s", strerror(-err));
		return err;
	}
	target = bpf_object__find_program_by_name(skel->obj, name);
	if (!target) {
		err = -ENOENT;
		snprintf(why, len, "no program %s in probe.bpf.o", name);
		goto out_destroy;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, prog == target);
	err = probe_bpf__load(skel);
	if (err) {
		snprintf(why, len, "load: %s", strerror(-err));
		goto out_destroy;
	}
	link = attach(ctx, target);
	if (!link) {
		err = errno ? -errno : -EINVAL;
		snprintf(why, len, "attach: %s", strerror(-err));
		goto out_destroy;
	}
	bpf_link__destroy(link);
out_destroy:
	probe_bpf__destroy(skel);
	return err;
}

static struct bpf_link *check_attach_plain(struct check_ctx *ctx, struct bpf_program *prog)
{
	(void)ctx;
	return bpf_program__attach(prog);
}

static struct bpf_link *check_attach_cgroup(struct check_ctx *ctx, struct bpf_program *prog)
{
	struct bpf_link *link;
	int fd, err;

	fd = open(ctx->fs.v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	link = bpf_program__attach_cgroup(prog, fd);
	err = errno;
	close(fd);
	errno = err;
	return link;
}

static struct bpf_link *check_attach_uprobe(struct check_ctx *ctx, struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "check__uprobe_target");
	struct bpf_link *link;

	(void)ctx;
	link = bpf_program__attach_uprobe_opts(prog, 0, "/proc/self/exe", 0, &opts);
	if (link)
		check__uprobe_target();
	return link;
}

static int check_btf(struct check_ctx *ctx, char *detail, size_t len)
{
	const char *path = "/sys/kernel/btf/vmlinux";

	(void)ctx;
	if (access(path, R_OK))
		return check_missing(detail, len,
				     "no tp_btf; CO-RE needs an external BTF for this kernel", NULL,
				     -errno);
	snprintf(detail, len, "%s", path);
	return 0;
}

static int check_tp_btf(struct check_ctx *ctx, char *detail, size_t len)
{
	char why[256];
	int err;

	err = check_bpf_prog(ctx, "probe_tp_btf", check_attach_plain, why, sizeof(why));
	if (err)
		return check_missing(detail, len, "falling back to raw_tp", why, err);
	ctx->tp_btf = true;
	snprintf(detail, len, "tp_btf/sched_switch loads and attaches");
	return 0;
}

static int check_raw_tp(struct check_ctx *ctx, char *detail, size_t len)
{
	char why[256];
	int err;

	err = check_bpf_prog(ctx, "probe_raw_tp", check_attach_plain, why, sizeof(why));
	if (err)
		return check_missing(detail, len,
				     ctx->tp_btf ? "not needed: tp_btf is used" : "no cpu signal",
				     why, err);
	ctx->raw_tp = true;
	snprintf(detail, len, "raw_tp/sched_switch loads and attaches%s",
		 ctx->tp_btf ? " (fallback, unused)" : "");
	return 0;
}

/* The mount point of a tracefs in @mountinfo, or false. */
static bool check_tracefs_mounted(const char *mountinfo, char *mnt, size_t len)
{
	char line[4096], point[4096];
	bool found = false;
	FILE *f;

	f = fopen(mountinfo, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " - tracefs ") &&
			sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1;
	fclose(f);
	if (found)
		snprintf(mnt, len, "%s", point);
	return found;
}

static int check_tracefs(struct check_ctx *ctx, char *detail, size_t len)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char mountinfo[PATH_MAX + 32], mnt[PATH_MAX];
	size_t i;

	snprintf(mountinfo, sizeof(mountinfo), "%s/self/mountinfo", ctx->cfg->collect.proc_root);
	if (check_tracefs_mounted(mountinfo, mnt, sizeof(mnt))) {
		snprintf(detail, len, "mounted at %s", mnt);
		return 0;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (cgroupfs__has_dir(dirs[i], "events")) {
			snprintf(detail, len, "%s/events", dirs[i]);
			return 0;
		}
	}
	return check_missing(detail, len, "not needed: BTF tracepoints attach without it", NULL, 0);
}

static void check_load_cgroupfs(struct check_ctx *ctx)
{
	char mountinfo[PATH_MAX + 32];

	if (ctx->cfg->collect.cgroup_root[0]) {
		ctx->fs_err = cgroupfs__from_root(&ctx->fs, ctx->cfg->collect.cgroup_root);
		return;
	}
	snprintf(mountinfo, sizeof(mountinfo), "%s/self/mountinfo", ctx->cfg->collect.proc_root);
	ctx->fs_err = cgroupfs__from_mountinfo(&ctx->fs, mountinfo);
}

/* Where the cgroup layout was looked for, and what went wrong there. */
static const char *check_cg_source(const struct check_ctx *ctx)
{
	if (!ctx->cfg->collect.cgroup_root[0])
		return ctx->fs_err ? "cannot read <proc_root>/self/mountinfo" : "none in mountinfo";
	if (ctx->fs_err == -ENOENT)
		return "--cgroup-root is not a directory";
	return "none under --cgroup-root";
}

static int check_cgroup_v2(struct check_ctx *ctx, char *detail, size_t len)
{
	const char *fallback = ctx->fs.v1_cpuacct[0] ? "using cgroup v1 cpuacct ids"
						     : "no cgroup v1 cpuacct hierarchy either";

	if (!ctx->fs.v2[0])
		return check_missing(detail, len, fallback, check_cg_source(ctx), ctx->fs_err);
	snprintf(detail, len, "%s%s", ctx->fs.v2, ctx->fs.n_v1 ? " (hybrid: v1 beside it)" : "");
	return 0;
}

static int check_cgroup_v1(struct check_ctx *ctx, char *detail, size_t len)
{
	size_t used;
	int i;

	if (!ctx->fs.n_v1)
		return check_missing(detail, len,
				     ctx->fs.v2[0] ? "not needed: cgroup v2 ids are used"
						   : "no cgroup hierarchy to attribute cpu",
				     check_cg_source(ctx), ctx->fs_err);
	used = snprintf(detail, len, "%d:", ctx->fs.n_v1);
	for (i = 0; i < ctx->fs.n_v1 && used < len; i++)
		used += snprintf(detail + used, len - used, " %s", ctx->fs.v1[i].options);
	if (used < len)
		snprintf(detail + used, len - used, "; cpuacct %s",
			 ctx->fs.v1_cpuacct[0] ? ctx->fs.v1_cpuacct : "absent");
	return 0;
}

static int check_cgroup_skb(struct check_ctx *ctx, char *detail, size_t len)
{
	const char *fallback = "no per-pod network";
	char why[256];
	int err;

	if (!ctx->fs.v2[0])
		return check_missing(detail, len, fallback, "needs a cgroup v2 mount", 0);
	err = check_bpf_prog(ctx, "probe_cgroup_skb", check_attach_cgroup, why, sizeof(why));
	if (err)
		return check_missing(detail, len, fallback, why, err);
	ctx->cgroup_skb = true;
	snprintf(detail, len, "cgroup_skb/egress attaches to %s", ctx->fs.v2);
	return 0;
}

static int check_uprobes(struct check_ctx *ctx, char *detail, size_t len)
{
	char why[256];
	int err;

	err = check_bpf_prog(ctx, "probe_uprobe", check_attach_uprobe, why, sizeof(why));
	if (err)
		return check_missing(detail, len, "no CUDA driver API counts", why, err);
	ctx->uprobes = true;
	snprintf(detail, len, "attached to check__uprobe_target in /proc/self/exe");
	return 0;
}

static int check_memlock(struct check_ctx *ctx, char *detail, size_t len)
{
	struct rlimit rl;

	(void)ctx;
	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return check_missing(detail, len, "cannot read RLIMIT_MEMLOCK", NULL, -errno);
	if (rl.rlim_cur == RLIM_INFINITY) {
		snprintf(detail, len, "unlimited");
		return 0;
	}
	/* since 5.11 BPF memory is charged to the memcg, not RLIMIT_MEMLOCK */
	if (bpfutil__kernel_at_least(5, 11)) {
		snprintf(detail, len,
			 "%llu KiB, not used: kernel >= 5.11 charges BPF memory to memcg",
			 (unsigned long long)rl.rlim_cur / 1024);
		return 0;
	}
	snprintf(detail, len,
		 "%llu KiB on a kernel < 5.11: libbpf raises it (needs CAP_SYS_RESOURCE)",
		 (unsigned long long)rl.rlim_cur / 1024);
	return -ENOMEM;
}

static bool check_cap(const struct __user_cap_data_struct *data, int cap)
{
	return data[cap / 32].effective & (1U << (cap % 32));
}

static int check_capabilities(struct check_ctx *ctx, char *detail, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	bool admin, bpf, perfmon;

	if (syscall(SYS_capget, &hdr, data))
		return check_missing(detail, len, "cannot load BPF", "capget", -errno);
	admin = check_cap(data, CHECK_CAP_SYS_ADMIN);
	bpf = check_cap(data, CHECK_CAP_BPF);
	perfmon = check_cap(data, CHECK_CAP_PERFMON);
	ctx->caps = admin || (bpf && perfmon);
	if (!ctx->caps)
		return check_missing(detail, len, "cannot load BPF",
				     "needs CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON", 0);
	snprintf(detail, len, "%s%s%s%s", admin ? "CAP_SYS_ADMIN" : "", bpf ? " CAP_BPF" : "",
		 perfmon ? " CAP_PERFMON" : "",
		 check_cap(data, CHECK_CAP_SYS_RESOURCE) ? " CAP_SYS_RESOURCE" : "");
	if (detail[0] == ' ')
		memmove(detail, detail + 1, strlen(detail));
	return 0;
}

/*
 * Tracepoints each signal hooks, found in the kernel's BTF (what tp_btf and
 * raw_tp attach to); what the agent does without the optional ones.
 */
struct check_tps {
	const char *names[5];
	const char *without; /* NULL: required */
};

static int check_tracepoints(const struct check_tps *tps, char *detail, size_t len)
{
	char have[256] = "", lack[256] = "";
	int i, required_missing = 0;

	for (i = 0; i < 5 && tps->names[i]; i++) {
		bool ok = libbpf_find_vmlinux_btf_id(tps->names[i], BPF_TRACE_RAW_TP) > 0;
		char *dst = ok ? have : lack;

		snprintf(dst + strlen(dst), sizeof(have) - strlen(dst), "%s%s", dst[0] ? " " : "",
			 tps->names[i]);
		required_missing |= !ok && !tps->without;
	}
	if (!lack[0]) {
		snprintf(detail, len, "%s", have);
		return 0;
	}
	snprintf(detail, len, "%s: %s", lack,
		 required_missing ? "this signal is not measured" : tps->without);
	return -ENOENT;
}

static int check_tp_cpu(struct check_ctx *ctx, char *detail, size_t len)
{
	static const struct check_tps tps = { { "sched_switch", "cgroup_mkdir" }, NULL };

	(void)ctx;
	return check_tracepoints(&tps, detail, len);
}

static int check_tp_mem(struct check_ctx *ctx, char *detail, size_t len)
{
	static const struct check_tps tps = {
		{ "rss_stat", "mark_victim", "page_fault_user" },
		"page faults are not counted (page_fault_user is x86 only)",
	};

	(void)ctx;
	return check_tracepoints(&tps, detail, len);
}

static int check_tp_net(struct check_ctx *ctx, char *detail, size_t len)
{
	static const struct check_tps tps = { { "tcp_retransmit_skb" },
					      "TCP retransmits are not counted" };

	(void)ctx;
	return check_tracepoints(&tps, detail, len);
}

static int check_tp_proc(struct check_ctx *ctx, char *detail, size_t len)
{
	static const struct check_tps tps = {
		{ "sched_process_fork", "sched_process_exec", "sched_process_exit",
		  "sched_process_free" },
		NULL,
	};

	(void)ctx;
	return check_tracepoints(&tps, detail, len);
}

/* GPU driver calls: the ioctl syscall tracepoints, else raw sys_enter/sys_exit. */
static int check_tp_gpu(struct check_ctx *ctx, char *detail, size_t len)
{
	char mountinfo[PATH_MAX + 32], mnt[PATH_MAX], path[PATH_MAX + 64];
	bool drm = false;

	snprintf(mountinfo, sizeof(mountinfo), "%s/self/mountinfo", ctx->cfg->collect.proc_root);
	if (check_tracefs_mounted(mountinfo, mnt, sizeof(mnt))) {
		snprintf(path, sizeof(path), "%s/events/gpu_scheduler", mnt);
		drm = !access(path, F_OK);
		snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_ioctl", mnt);
		if (!access(path, F_OK)) {
			snprintf(detail, len, "syscalls/sys_enter_ioctl sys_exit_ioctl%s",
				 drm ? " gpu_scheduler"
				     : "; no gpu_scheduler events (no DRM "
				       "scheduler loaded): DRM jobs not counted");
			return 0;
		}
	}
	if (libbpf_find_vmlinux_btf_id("sys_enter", BPF_TRACE_RAW_TP) > 0) {
		snprintf(detail, len,
			 "raw_syscalls sys_enter sys_exit (every syscall is filtered "
			 "in the kernel; syscalls/sys_*_ioctl are cheaper)");
		return 0;
	}
	snprintf(detail, len, "no syscall tracepoints: GPU driver calls are not counted");
	return -ENOENT;
}

/* Device files the agent counts as GPUs (more with --gpu-devices). */
static int check_gpu_devices(struct check_ctx *ctx, char *detail, size_t len)
{
	static const char *const globs[] = { "/dev/nvidia*", "/dev/dri/renderD*", "/dev/kfd",
					     "/dev/accel/*" };
	size_t i, n = 0, j;
	glob_t g;

	(void)ctx;
	detail[0] = '\0';
	for (i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
		if (glob(globs[i], 0, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++, n++)
			if (strlen(detail) + strlen(g.gl_pathv[j]) + 2 < len && n < 8)
				snprintf(detail + strlen(detail), len - strlen(detail), "%s%s",
					 n ? " " : "", g.gl_pathv[j]);
		globfree(&g);
	}
	if (!n) {
		snprintf(detail, len, "none found: GPU calls counted only on --gpu-devices");
		return -ENOENT;
	}
	return 0;
}

/* NVML (libnvidia-ml.so.1): per-process GPU utilisation when the driver is installed. */
static int check_nvml(struct check_ctx *ctx, char *detail, size_t len)
{
	char why[256];

	(void)ctx;
	if (nvml__available(NULL, why, sizeof(why))) {
		snprintf(detail, len, "%s", why);
		return 0;
	}
	snprintf(detail, len, "%s: no per-process GPU utilisation", why);
	return -ENOENT;
}

static const struct check_probe check_probes[] = {
	{ "btf", check_btf },
	{ "tp_btf", check_tp_btf },
	{ "raw_tp", check_raw_tp },
	{ "tracefs", check_tracefs },
	{ "cgroup v2", check_cgroup_v2 },
	{ "cgroup v1", check_cgroup_v1 },
	{ "cgroup_skb", check_cgroup_skb },
	{ "uprobes", check_uprobes },
	{ "memlock", check_memlock },
	{ "capabilities", check_capabilities },
	{ "cpu hooks", check_tp_cpu },
	{ "memory hooks", check_tp_mem },
	{ "network hooks", check_tp_net },
	{ "process hooks", check_tp_proc },
	{ "gpu hooks", check_tp_gpu },
	{ "gpu devices", check_gpu_devices },
	{ "nvml", check_nvml },
};

/* The reason the agent cannot run, or NULL when it can. */
static const char *check_blocker(const struct check_ctx *ctx)
{
	if (!ctx->caps)
		return "missing capabilities: run as root, or grant CAP_BPF and CAP_PERFMON";
	if (!ctx->tp_btf && !ctx->raw_tp)
		return "neither tp_btf nor raw_tp programs attach to sched_switch";
	if (!ctx->fs.v2[0] && !ctx->fs.v1_cpuacct[0])
		return "no cgroup v2 mount and no cgroup v1 cpuacct hierarchy";
	return NULL;
}

static void check_summary(const struct check_ctx *ctx, FILE *out)
{
	fprintf(out, "ok: podmeter can run on this node (cpu via %s, %s%s%s)\n",
		ctx->tp_btf ? "tp_btf" : "raw_tp",
		ctx->fs.v2[0] ? "cgroup v2" : "cgroup v1 cpuacct",
		ctx->cgroup_skb ? ", network via cgroup_skb" : "",
		ctx->uprobes ? ", CUDA via uprobes" : "");
}

int check__run(const struct pm_config *cfg, FILE *out)
{
	struct check_ctx ctx = { .cfg = cfg };
	char detail[CHECK_DETAIL_MAX];
	libbpf_print_fn_t old_print;
	const char *blocker;
	size_t i;

	check_load_cgroupfs(&ctx);
	/* Failures are the answer here, not errors: keep libbpf's own log quiet. */
	old_print = libbpf_set_print(check_silent);
	for (i = 0; i < sizeof(check_probes) / sizeof(check_probes[0]); i++) {
		detail[0] = '\0';
		errno = 0;
		if (check_probes[i].fn(&ctx, detail, sizeof(detail)))
			fprintf(out, "%-16s missing  %s\n", check_probes[i].name, detail);
		else
			fprintf(out, "%-16s ok    %s\n", check_probes[i].name, detail);
	}
	libbpf_set_print(old_print);
	blocker = check_blocker(&ctx);
	if (blocker) {
		fprintf(out, "cannot run: %s\n", blocker);
		return 1;
	}
	check_summary(&ctx, out);
	return 0;
}
