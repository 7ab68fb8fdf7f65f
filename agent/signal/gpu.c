// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads bpf/gpu.bpf.c; keeps its table of GPU device files and reads ioctl
 * calls and time per cgroup, device and op.
 *
 * Devices are character device files, found by name under the dev root
 * (nvidia*, also one level into nvidia-caps; dri/renderD*; kfd; everything in accel)
 * and in the extra paths given, each put in the kernel's table by its device
 * number. A device keeps its index, and so its label, for the agent's
 * lifetime: the counts under an index are cumulative.
 *
 * With any syscall tracepoint attached every syscall of the node takes the
 * kernel's traced path, a cost of some tens of ns per syscall: the programs
 * are attached only while a GPU device exists, and a node without GPUs pays
 * nothing.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>
#include <podmeter/gpu.h>
#include <podmeter/pin.h>
#include <podmeter/source.h>
#include "gpu.skel.h"

#define GPU_NAME_MAX  32
#define GPU_NV_MAJORS 16	     /* character majors the NVIDIA drivers registered */
#define GPU_NV_MAJOR  195	     /* nvidia, nvidia-frontend: fixed */
#define GPU_STALE_NS  10000000000ULL /* an in-flight entry this old is checked */
#define GPU_SWEEP_NS  GPU_STALE_NS   /* and checked that often, not every read */
#define GPU_TRACEFS   "/sys/kernel/tracing"

struct gpu_dev {
	__u32 rdev;   /* kernel dev_t encoding, the gpu_devs key */
	__u32 flags;  /* PM_GPU_DEV_* */
	bool present; /* found at the last scan */
	bool in_map;  /* in gpu_devs now */
	char name[GPU_NAME_MAX];
};

struct pm_gpu {
	struct gpu_bpf *skel;
	struct pm_pin pin;
	enum pm_hier hier;
	bool syscalls; /* sys_{enter,exit}_ioctl programs, else raw sys_enter/exit */
	bool attached; /* while a GPU device is in gpu_devs */
	char dev_root[PATH_MAX];
	char *extra_paths;
	struct gpu_dev devs[PM_GPU_MAX_DEVS];
	__u32 ndevs;	 /* table entries used */
	__u64 devs_full; /* devices found with the table full */
	__u32 nv_majors[GPU_NV_MAJORS];
	size_t n_nv_majors;
	struct bpf_link *drm_link; /* gpu_scheduler's job-queued event, when loaded */
	const char *drm_event;
	__u64 swept_ns;	       /* the last sweep of gpu_inflight (bpfutil__now_ns()) */
	struct pm_moved moved; /* read when counted, removed cgroups' entries deleted then */
};

_Static_assert((int)PM_GPU_IOCTL_ALLOC == (int)PM_GPU_OP_ALLOC &&
		       (int)PM_GPU_IOCTL_FREE == (int)PM_GPU_OP_FREE &&
		       (int)PM_GPU_IOCTL_CONTROL == (int)PM_GPU_OP_CONTROL &&
		       (int)PM_GPU_IOCTL_MAP == (int)PM_GPU_OP_MAP &&
		       (int)PM_GPU_IOCTL_UNMAP == (int)PM_GPU_OP_UNMAP &&
		       (int)PM_GPU_IOCTL_OTHER == (int)PM_GPU_OP_OTHER &&
		       (int)PM_GPU_IOCTL_OPS == (int)PM_GPU_OPS,
	       "the kernel's op classes are the snapshot's, in the same order");

/* Majors of /proc/devices' character drivers named nvidia* (uvm, caps, modeset ...). */
static void gpu_read_nv_majors(struct pm_gpu *g)
{
	char line[256], name[128];
	bool chr = false;
	unsigned int major;
	FILE *f;

	g->nv_majors[g->n_nv_majors++] = GPU_NV_MAJOR;
	f = fopen("/proc/devices", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Character", 9) || !strncmp(line, "Block", 5)) {
			chr = line[0] == 'C';
			continue;
		}
		if (chr && sscanf(line, "%u %127s", &major, name) == 2 &&
		    !strncmp(name, "nvidia", 6) && major != GPU_NV_MAJOR &&
		    g->n_nv_majors < GPU_NV_MAJORS)
			g->nv_majors[g->n_nv_majors++] = major;
	}
	fclose(f);
}

static bool gpu_is_nvidia(const struct pm_gpu *g, unsigned int major, const char *name)
{
	size_t i;

	if (!strncmp(name, "nvidia", 6))
		return true;
	for (i = 0; i < g->n_nv_majors; i++)
		if (g->nv_majors[i] == major)
			return true;
	return false;
}

static struct gpu_dev *gpu_find(struct pm_gpu *g, __u32 rdev)
{
	__u32 i;

	for (i = 0; i < g->ndevs; i++)
		if (g->devs[i].rdev == rdev)
			return &g->devs[i];
	return NULL;
}

static bool gpu_name_taken(const struct pm_gpu *g, const char *name)
{
	__u32 i;

	for (i = 0; i < g->ndevs; i++)
		if (!strcmp(g->devs[i].name, name))
			return true;
	return false;
}

/* Mark the character device at @path present; a new one gets the next index. */
static void gpu_add_path(struct pm_gpu *g, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct gpu_dev *d;
	struct stat st;
	__u32 rdev;

	if (stat(path, &st) || !S_ISCHR(st.st_mode))
		return;
	rdev = PM_GPU_DEVT(major(st.st_rdev), minor(st.st_rdev));
	d = gpu_find(g, rdev);
	if (d) {
		d->present = true;
		return;
	}
	if (g->ndevs == PM_GPU_MAX_DEVS) {
		g->devs_full++;
		return;
	}
	d = &g->devs[g->ndevs];
	/* two files with one name (and other numbers) get told apart by their numbers */
	snprintf(d->name, sizeof(d->name), "%s", base);
	if (gpu_name_taken(g, d->name))
		snprintf(d->name, sizeof(d->name), "%.20s@%u:%u", base, major(st.st_rdev),
			 minor(st.st_rdev));
	d->rdev = rdev;
	d->flags = gpu_is_nvidia(g, major(st.st_rdev), base) ? PM_GPU_DEV_NVIDIA : 0;
	d->present = true;
	d->in_map = false;
	g->ndevs++;
}

static bool gpu_is_dir(const struct dirent *e, const char *path)
{
	struct stat st;

	if (e->d_type != DT_UNKNOWN)
		return e->d_type == DT_DIR;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* Entries of @dir whose name starts with @prefix; directories one level deeper when @depth. */
static void gpu_scan_dir(struct pm_gpu *g, const char *dir, const char *prefix, int depth)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			continue;
		if (depth > 0 && gpu_is_dir(e, path))
			gpu_scan_dir(g, path, "", depth - 1);
		else
			gpu_add_path(g, path);
	}
	closedir(d);
}

/* Comma-separated absolute paths; blanks around each are ignored. */
static void gpu_scan_extra(struct pm_gpu *g)
{
	char *list, *tok, *save = NULL, *end;

	if (!g->extra_paths)
		return;
	list = strdup(g->extra_paths);
	if (!list)
		return;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*tok == '/')
			gpu_add_path(g, tok);
	}
	free(list);
}

static void gpu_scan(struct pm_gpu *g)
{
	char dir[PATH_MAX + 16];
	__u32 i;

	for (i = 0; i < g->ndevs; i++)
		g->devs[i].present = false;
	gpu_scan_dir(g, g->dev_root, "nvidia", 1);
	snprintf(dir, sizeof(dir), "%s/dri", g->dev_root);
	gpu_scan_dir(g, dir, "renderD", 0);
	snprintf(dir, sizeof(dir), "%s/kfd", g->dev_root);
	gpu_add_path(g, dir);
	snprintf(dir, sizeof(dir), "%s/accel", g->dev_root);
	gpu_scan_dir(g, dir, "", 0);
	gpu_scan_extra(g);
}

/* The kernel's table follows the scan; returns the devices present. */
static int gpu_sync_map(struct pm_gpu *g)
{
	int fd = bpf_map__fd(g->skel->maps.gpu_devs), n = 0;
	struct pm_gpu_dev val;
	struct gpu_dev *d;
	__u32 i;

	for (i = 0; i < g->ndevs; i++) {
		d = &g->devs[i];
		if (d->present && !d->in_map) {
			val.index = i;
			val.flags = d->flags;
			d->in_map = !bpf_map_update_elem(fd, &d->rdev, &val, BPF_ANY);
		} else if (!d->present && d->in_map) {
			bpf_map_delete_elem(fd, &d->rdev);
			d->in_map = false;
		}
		n += d->in_map;
	}
	g->skel->bss->ndevs = n;
	return n;
}

/*
 * libbpf finds the syscall tracepoints through tracefs: mount it where the
 * node has not (it stays mounted, as it would for any tracer).
 */
static int gpu_tracefs(char *err, size_t errlen)
{
	static const char *const ids[] = {
		GPU_TRACEFS "/events/syscalls/sys_enter_ioctl/id",
		"/sys/kernel/debug/tracing/events/syscalls/sys_enter_ioctl/id",
	};

	if (!access(ids[0], F_OK) || !access(ids[1], F_OK))
		return 0;
	if (access(GPU_TRACEFS "/events", F_OK) &&
	    mount("tracefs", GPU_TRACEFS, "tracefs", 0, NULL)) {
		int ret = -errno;

		snprintf(err, errlen, "gpu: mount tracefs on %s: %s", GPU_TRACEFS, strerror(-ret));
		return ret;
	}
	if (!access(ids[0], F_OK))
		return 0;
	/* tracefs without syscall events: a kernel built without CONFIG_FTRACE_SYSCALLS */
	snprintf(err, errlen, "gpu: no syscalls/sys_enter_ioctl tracepoint in %s/events",
		 GPU_TRACEFS);
	return -ENOENT;
}

static void gpu_set_mode(struct gpu_bpf *skel, bool syscalls)
{
	bpf_program__set_autoload(skel->progs.tp_sys_enter_ioctl, syscalls);
	bpf_program__set_autoload(skel->progs.tp_sys_exit_ioctl, syscalls);
	bpf_program__set_autoload(skel->progs.raw_tp_sys_enter, !syscalls);
	bpf_program__set_autoload(skel->progs.raw_tp_sys_exit, !syscalls);
}

static void gpu_destroy(struct pm_gpu *g)
{
	__u32 i;

	bpf_link__destroy(g->drm_link);
	g->drm_link = NULL;
	g->drm_event = NULL;
	gpu_bpf__destroy(g->skel);
	g->skel = NULL;
	for (i = 0; i < g->ndevs; i++)
		g->devs[i].in_map = false;
}

/*
 * The counters are pinned and adopted; the programs are not kept attached
 * (they attach only while GPU devices exist), so calls made while no agent
 * runs are not counted. The device table and calls in flight are per agent.
 */
static const char *const gpu_transient[] = { "gpu_devs", "gpu_inflight", NULL };

/* open -> configure -> load -> fill gpu_devs -> attach; one cleanup path */
static int gpu_load(struct pm_gpu *g, bool syscalls, char *err, size_t errlen)
{
	const char *what = "open";
	int ret = syscalls ? gpu_tracefs(err, errlen) : 0;

	if (ret)
		return ret;
	g->skel = gpu_bpf__open();
	if (!g->skel) {
		ret = -errno;
		goto out_err;
	}
	g->skel->rodata->track_v1 = g->hier == PM_HIER_V1_CPUACCT;
	g->skel->rodata->hier = g->hier;
	g->skel->rodata->ioctl_nr = SYS_ioctl;
	gpu_set_mode(g->skel, syscalls);
	/* an entry lives while its thread is inside the call: no more than the node has threads */
	bpfutil__size_by_tasks(g->skel->maps.gpu_inflight, PM_GPU_MAX_INFLIGHT);
	what = "pin";
	ret = pin__prepare(&g->pin, g->skel->obj, gpu_transient);
	if (ret)
		goto out_destroy;
	what = "load";
	ret = gpu_bpf__load(g->skel);
	if (ret)
		goto out_destroy;
	pin__commit(&g->pin, g->skel->obj);
	gpu_sync_map(g);
	what = "attach";
	ret = gpu_bpf__attach(g->skel);
	if (ret)
		goto out_destroy;
	g->syscalls = syscalls;
	g->attached = true;
	return 0;

out_destroy:
	gpu_destroy(g);
out_err:
	snprintf(err, errlen, "gpu: %s %s programs: %s", what,
		 syscalls ? "syscalls/sys_*_ioctl" : "raw_syscalls sys_enter/sys_exit",
		 strerror(-ret));
	return ret;
}

static int gpu_attach_any(struct pm_gpu *g, bool force_raw_tp, char *err, size_t errlen)
{
	char first[256] = "syscall tracepoints not tried (raw_tp forced)";
	int ret;

	if (!force_raw_tp) {
		if (!gpu_load(g, true, first, sizeof(first)))
			return 0;
		fprintf(stderr,
			"warning: %s; falling back to raw sys_enter/sys_exit, which run at "
			"every syscall\n",
			first);
	}
	ret = gpu_load(g, false, err, errlen);
	if (!ret)
		return 0;
	snprintf(first + strlen(first), sizeof(first) - strlen(first), "; %s", err);
	snprintf(err, errlen, "%s; ioctls on GPU devices are not counted", first);
	return -EOPNOTSUPP;
}

/* Threads inside a call when the programs are detached would leave their entries. */
static void gpu_clear_inflight(struct pm_gpu *g)
{
	int fd = bpf_map__fd(g->skel->maps.gpu_inflight);
	__u32 tid;

	while (!bpf_map_get_next_key(fd, NULL, &tid))
		if (bpf_map_delete_elem(fd, &tid))
			break;
}

/*
 * The DRM scheduler's job-queued event, by its name in this kernel, once the
 * scheduler is loaded (it is a module): tried at open and at each refresh.
 * It fires only when a job is queued, so it stays attached with or without
 * a device in the table.
 */
static void gpu_attach_drm(struct pm_gpu *g)
{
	static const char *const events[] = { "drm_sched_job_queue", "drm_sched_job" };
	char path[128];
	size_t i;

	if (g->drm_link || !g->skel)
		return;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), GPU_TRACEFS "/events/gpu_scheduler/%s", events[i]);
		if (access(path, F_OK))
			continue;
		g->drm_link = bpf_program__attach_tracepoint(g->skel->progs.drm_sched_job,
							     "gpu_scheduler", events[i]);
		if (!g->drm_link) {
			fprintf(stderr,
				"warning: gpu: attach gpu_scheduler/%s: %s; DRM jobs are "
				"not counted\n",
				events[i], strerror(errno));
			return;
		}
		g->drm_event = events[i];
		fprintf(stderr, "podmeter: gpu: DRM scheduler jobs via gpu_scheduler/%s\n",
			events[i]);
		return;
	}
}

static int gpu_set_attached(struct pm_gpu *g, bool on)
{
	int ret;

	if (on == g->attached)
		return 0;
	if (on) {
		ret = gpu_bpf__attach(g->skel);
		if (ret) {
			gpu_bpf__detach(g->skel); /* the links made before the failure */
			return ret;
		}
	} else {
		gpu_bpf__detach(g->skel);
		gpu_clear_inflight(g);
	}
	g->attached = on;
	return 0;
}

int gpu__refresh(struct pm_gpu *g)
{
	int n, ret;

	gpu_scan(g);
	n = gpu_sync_map(g);
	gpu_attach_drm(g);
	ret = gpu_set_attached(g, n > 0);
	return ret ? ret : n;
}

int gpu__open(struct pm_gpu **out, enum pm_hier hier, const char *dev_root, const char *extra_paths,
	      bool force_raw_tp, char *err, size_t errlen)
{
	struct pm_gpu *g;
	int ret = -ENOMEM;

	g = calloc(1, sizeof(*g));
	if (!g)
		goto out_nomem;
	g->hier = hier;
	snprintf(g->dev_root, sizeof(g->dev_root), "%s", dev_root && *dev_root ? dev_root : "/dev");
	if (extra_paths && *extra_paths) {
		g->extra_paths = strdup(extra_paths);
		if (!g->extra_paths)
			goto out_nomem;
	}
	gpu_read_nv_majors(g);
	gpu_scan(g);
	ret = gpu_attach_any(g, force_raw_tp, err, errlen);
	if (ret)
		goto out_free;
	/* attaching proved the hooks work; without a GPU they wait for one */
	gpu_set_attached(g, g->skel->bss->ndevs > 0);
	gpu_attach_drm(g);
	*out = g;
	return 0;

out_nomem:
	snprintf(err, errlen, "gpu: set-up: %s", strerror(ENOMEM));
out_free:
	gpu__close(g);
	return ret;
}

const char *gpu__attach_mode(const struct pm_gpu *g)
{
	return g->syscalls ? "syscalls" : "raw_syscalls";
}

size_t gpu__devices(struct pm_gpu *g, char names[][32], size_t max)
{
	size_t n = 0;
	__u32 i;

	for (i = 0; i < g->ndevs && n < max; i++)
		if (g->devs[i].in_map)
			snprintf(names[n++], 32, "%s", g->devs[i].name);
	return n;
}

/*
 * A thread that died inside a GPU ioctl (or whose exit went unseen, while
 * the programs were attaching) leaves its entry behind: drop those of
 * threads gone. The kernel deletes entries during the walk, and a walk
 * whose key was deleted starts over: the steps are bounded. Once every
 * GPU_SWEEP_NS: a walk visits each bucket of a table sized by the node's
 * task limit (4,194,304 is common), even an empty one.
 */
static void gpu_sweep_inflight(struct pm_gpu *g)
{
	int fd = bpf_map__fd(g->skel->maps.gpu_inflight), more;
	__u64 steps = 2ULL * bpf_map__max_entries(g->skel->maps.gpu_inflight);
	__u64 now = bpfutil__now_ns();
	struct pm_gpu_call call;
	__u32 tid, next;

	if (g->swept_ns && now - g->swept_ns < GPU_SWEEP_NS)
		return;
	g->swept_ns = now;
	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more && steps--) {
		tid = next;
		more = !bpf_map_get_next_key(fd, &tid, &next);
		if (bpf_map_lookup_elem(fd, &tid, &call) || now < call.start_ns + GPU_STALE_NS)
			continue;
		if (syscall(SYS_tgkill, call.tgid, tid, 0) && errno == ESRCH)
			bpf_map_delete_elem(fd, &tid);
	}
}

struct gpu_walk {
	const struct pm_gpu *g;
	const struct pm_gpu_visitor *v;
};

/* One gpu_jobs entry: DRM scheduler jobs of a cgroup, summed over CPUs. */
static void gpu_jobs_entry(void *ctx, const void *key, const void *val)
{
	const struct gpu_walk *w = ctx;
	struct pm_cg_key k;
	__u64 jobs;

	memcpy(&k, key, sizeof(k));
	memcpy(&jobs, val, sizeof(jobs));
	if (k.hier != w->g->hier ||
	    bpfutil__moved_drop(&w->g->moved, w->g->skel->maps.gpu_jobs, key, k.cgid))
		return;
	if (w->v->jobs)
		w->v->jobs(w->v->ctx, k.cgid, jobs);
}

/* One gpu_stats entry: a cgroup's calls of one op on one device, summed over CPUs. */
static void gpu_stats_entry(void *ctx, const void *key, const void *val)
{
	const struct gpu_walk *w = ctx;
	const struct pm_gpu_val *sum = val;
	struct pm_gpu_key k;

	memcpy(&k, key, sizeof(k));
	if (k.hier != w->g->hier ||
	    bpfutil__moved_drop(&w->g->moved, w->g->skel->maps.gpu_stats, key, k.cgid))
		return;
	if (k.op < PM_GPU_IOCTL_OPS && k.dev < w->g->ndevs)
		w->v->ioctl(w->v->ctx, k.cgid, w->g->devs[k.dev].name, (int)k.op, sum->calls,
			    sum->ns);
}

/*
 * Both tables in batches: a walk key by key costs two calls an entry, and
 * more in a sparse map. Not at all while no counter moved (the totals read
 * last stand), unless cgroups were removed a while ago: their entries are
 * deleted on the way.
 */
int gpu__read(struct pm_gpu *g, const struct pm_gpu_visitor *v)
{
	struct gpu_walk w = { g, v };
	int err;

	gpu_sweep_inflight(g);
	if (!bpfutil__moved_due(&g->moved, &g->skel->bss->gpu_moved))
		return 0;
	err = bpfutil__for_each(g->skel->maps.gpu_stats, gpu_stats_entry, &w);
	if (!err && (v->jobs || g->moved.gone.len))
		err = bpfutil__for_each(g->skel->maps.gpu_jobs, gpu_jobs_entry, &w);
	return bpfutil__moved_read(&g->moved, err);
}

/*
 * A dead cgroup's entries go at the next read, which visits every entry
 * anyway: finding them here took a walk of the whole table, key by key, for
 * each cgroup removed.
 */
int gpu__remove(struct pm_gpu *g, __u64 cgid)
{
	return bpfutil__moved_gone(&g->moved, cgid);
}

int gpu__refusals(struct pm_gpu *g, pm_refusal_fn fn, void *ctx)
{
	return bpfutil__read_refusals(g->skel->maps.refusals, g->hier, fn, ctx);
}

void gpu__errors(struct pm_gpu *g, __u64 errs[PM_GPU_ERR_MAX])
{
	bpfutil__sum_counters(g->skel->maps.gpu_errors, PM_GPU_ERR_BPF, errs);
	errs[PM_GPU_ERR_DEVS_FULL] = g->devs_full;
}

void gpu__close(struct pm_gpu *g)
{
	if (!g)
		return;
	bpf_link__destroy(g->drm_link);
	gpu_bpf__destroy(g->skel);
	free(g->extra_paths);
	bpfutil__moved_free(&g->moved);
	free(g);
}

/* ---- the collector's source ---- */

static void src_gpu_ioctl(void *ctx, __u64 cgid, const char *device, int o, __u64 calls, __u64 ns)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);
	int d = sink->gpu_dev(sink->ctx, device);
	struct pm_usage *u = r ? &r->total : NULL;

	if (!u || d < 0 || o < 0 || o >= PM_GPU_OPS)
		return;
	if (!u->gpu && !(u->gpu = calloc(1, sizeof(*u->gpu))))
		return;
	u->gpu->calls[d][o] = calls;
	u->gpu->ns[d][o] = ns;
}

static void src_gpu_jobs(void *ctx, __u64 cgid, __u64 jobs)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);

	if (r)
		r->total.gpu_jobs = jobs;
}

/* GPU signals are optional: what cannot load is said once, and the agent goes on. */
static int src_gpu_open(void **out, const struct pm_source_env *env, char *err, size_t errlen)
{
	const struct pm_config *cfg = env->cfg;
	char why[512], names[PM_GPU_MAX_DEVS][32], list[8 * 40] = "";
	struct pm_gpu *g;
	size_t n, i, off;

	(void)err;
	(void)errlen;
	*out = NULL;
	if (gpu__open(&g, env->hier, NULL,
		      cfg->collect.gpu_devices[0] ? cfg->collect.gpu_devices : NULL,
		      env->force_raw_tp, why, sizeof(why))) {
		fprintf(stderr, "warning: gpu: %s; running without GPU driver counts\n", why);
		return 0;
	}
	n = gpu__devices(g, names, PM_GPU_MAX_DEVS);
	for (i = 0, off = 0; i < n && i < 8; i++)
		off += snprintf(list + off, off < sizeof(list) ? sizeof(list) - off : 0, "%s%s",
				i ? ", " : ": ", names[i]);
	/* one call, one line: other threads log too */
	fprintf(stderr, "podmeter: gpu: ioctls via %s on %zu device%s%s%s\n", gpu__attach_mode(g),
		n, n == 1 ? "" : "s", list, n > 8 ? ", ..." : "");
	*out = g;
	return 0;
}

static int src_gpu_read(void *src, const struct pm_sink *sink)
{
	struct pm_gpu_visitor v = {
		.ioctl = src_gpu_ioctl,
		.jobs = src_gpu_jobs,
		.ctx = (void *)sink,
	};

	return gpu__read(src, &v);
}

static int src_gpu_refusals(void *src, pm_refusal_fn fn, void *ctx)
{
	return gpu__refusals(src, fn, ctx);
}

static int src_gpu_forget(void *src, const __u64 *cgids, size_t n, int *res)
{
	size_t i;

	for (i = 0; i < n; i++)
		res[i] = gpu__remove(src, cgids[i]);
	return 0;
}

static void src_gpu_errors(void *src, struct pm_agent_stats *st)
{
	__u64 errs[PM_GPU_ERR_MAX] = {};

	gpu__errors(src, errs);
	st->gpu_insert_failures = errs[PM_GPU_ERR_STATS_FULL] + errs[PM_GPU_ERR_INFLIGHT_FULL] +
				  errs[PM_GPU_ERR_DEVS_FULL];
	st->table_refusals[PM_TABLE_GPU_INFLIGHT] += errs[PM_GPU_ERR_INFLIGHT_FULL];
	st->table_refusals[PM_TABLE_CGROUPS] += errs[PM_GPU_ERR_STATS_FULL];
}

/* At each walk: device files come and go. */
static void src_gpu_walked(void *src, const struct pm_cuda_job *jobs, size_t n)
{
	(void)jobs;
	(void)n;
	gpu__refresh(src);
}

static void src_gpu_present(void *src, struct pm_snapshot *s)
{
	(void)src;
	s->has_gpu = 1;
}

static void src_gpu_close(void *src)
{
	gpu__close(src);
}

const struct pm_source pm_source_gpu = {
	.name = "gpu",
	.reading = "reading the GPU counters",
	.open = src_gpu_open,
	.read = src_gpu_read,
	.refusals = src_gpu_refusals,
	.forget = src_gpu_forget,
	.errors = src_gpu_errors,
	.walked = src_gpu_walked,
	.present = src_gpu_present,
	.close = src_gpu_close,
	.optional = true,
};
