// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loads bpf/proc.bpf.c; reads process starts per cgroup and unreaped exits. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>
#include <podmeter/proc.h>
#include <podmeter/u64map.h>
#include <podmeter/pin.h>
#include <podmeter/source.h>
#include "proc.skel.h"

struct pm_proc {
	struct proc_bpf *skel;
	struct pm_pin pin;
	enum pm_hier hier;
	__u64 grace_ns;
	char proc_root[PATH_MAX];
	bool verify; /* /proc shows the node's pids (the init pid namespace) */
	long clk_tck;
	size_t verify_from;	   /* where this read's checks start among the old entries */
	__u64 stale;		   /* entries dropped: /proc no longer shows that zombie */
	struct pm_spill spill;	   /* exited_spill */
	struct pm_changed changed; /* proc_stats' changed set */
};

/* Zombies checked against /proc per read, in turn: a pod's thousands cannot stall a tick. */
#define VERIFY_PER_READ 4096

static void set_twin(struct proc_bpf *skel, bool tp_btf)
{
	bpf_program__set_autoload(skel->progs.tp_btf_sched_process_fork, tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_sched_process_exec, tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_sched_process_exit, tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_sched_process_free, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_process_fork, !tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_process_exec, !tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_process_exit, !tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_process_free, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_cgroup_attach_task, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_cgroup_attach_task, !tp_btf);
}

/* open -> configure -> load -> attach; one cleanup path */
static int load(void *ctx, bool tp_btf, char *err, size_t errlen)
{
	struct pm_proc *p = ctx;
	const char *what = "open";
	int ret;

	p->skel = proc_bpf__open();
	if (!p->skel) {
		ret = -errno;
		goto out_err;
	}
	p->skel->rodata->track_v1 = p->hier == PM_HIER_V1_CPUACCT;
	p->skel->rodata->hier = p->hier;
	set_twin(p->skel, tp_btf);
	/* an exited process holds its pid until freed: no more entries than pids in use */
	bpfutil__size_split(p->skel->maps.exited, p->skel->maps.exited_spill, PM_PROC_MAX_EXITED);
	ret = pin__load(&p->pin, p->skel->skeleton, NULL, &what);
	if (!ret)
		return 0;
	proc_bpf__destroy(p->skel);
	p->skel = NULL;
out_err:
	snprintf(err, errlen, "proc: %s %s programs: %s", what, tp_btf ? "tp_btf" : "raw_tp",
		 strerror(-ret));
	return ret;
}

/* Whether @proc_root's pids are the kernel's own: one level in NSpid. */
static bool host_pids(const char *proc_root)
{
	char path[PATH_MAX + 16], line[256];
	bool one = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/self/status", proc_root);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:", 6)) {
			const char *pids = line + 6 + strspn(line + 6, " \t");

			one = !strpbrk(pids, " \t");
			break;
		}
	fclose(f);
	return one;
}

int proc__open(struct pm_proc **out, enum pm_hier hier, __u64 zombie_grace_ms, bool force_raw_tp,
	       const char *proc_root, char *err, size_t errlen)
{
	struct pm_proc *p;
	int ret = -ENOMEM;

	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_nomem;
	p->hier = hier;
	p->grace_ns = zombie_grace_ms * 1000000ULL;
	snprintf(p->proc_root, sizeof(p->proc_root), "%s", proc_root);
	p->clk_tck = sysconf(_SC_CLK_TCK);
	p->verify = p->clk_tck > 0 && host_pids(proc_root);
	ret = bpfutil__load_twin(load, p, force_raw_tp, err, errlen);
	if (ret)
		goto out_free;
	*out = p;
	return 0;

out_nomem:
	snprintf(err, errlen, "proc: set-up: %s", strerror(ENOMEM));
out_free:
	proc__close(p);
	return ret;
}

/* An entry to drop: its pid, and which process held it (a pid may be in both tables). */
struct stale {
	__u32 pid;
	__u64 start_ns;
};

struct exited_read {
	struct pm_proc *p;
	const struct pm_proc_visitor *v;
	__u64 now, grace_ns;
	size_t old, checked; /* entries past the grace period; of them, checked */
	struct u64map seen;  /* a pid deleted and made again during the walk: taken once */
	struct stale *drop;  /* entries /proc contradicts */
	size_t n_drop, cap_drop;
	size_t n; /* entries seen */
};

/*
 * Whether /proc still shows @pid as the zombie @e describes: state Z and
 * the same start time. An entry whose sched_process_free never reached the
 * program (one seen missing on a busy node) would otherwise stay a zombie
 * for good. Unknown (no /proc to ask) counts as yes.
 */
static bool still_zombie(const struct pm_proc *p, __u32 pid, const struct pm_exited *e)
{
	char path[PATH_MAX + 32], buf[1024], *s;
	unsigned long long start;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "%s/%u/stat", p->proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT && errno != ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 && errno != ESRCH;
	buf[n] = '\0';
	s = strrchr(buf, ')'); /* comm may hold anything, ")" included */
	if (!s || s[1] != ' ' || s[2] != 'Z')
		return false;
	/* after "state": fields 4 .. 22, starttime the last */
	for (s += 3, i = 4; i < 22 && s; i++)
		s = strchr(s + 1, ' ');
	if (!s || sscanf(s, " %llu", &start) != 1)
		return true;
	/* clock ticks since boot, rounded down; start_boottime in ns */
	return start == e->start_ns / (1000000000ULL / p->clk_tck);
}

/* Unreaped exits older than the grace period are zombies. */
static void exited_entry(void *ctx, const void *key, const void *value)
{
	struct exited_read *rd = ctx;
	struct pm_exited e = *(const struct pm_exited *)value;
	__u32 pid = *(const __u32 *)key;
	struct stale *grown;

	rd->n++;
	if (rd->now < e.ts || rd->now - e.ts < rd->grace_ns || u64map__get(&rd->seen, pid) ||
	    u64map__put(&rd->seen, pid, &rd->seen))
		return;
	if (rd->p->verify && rd->old++ >= rd->p->verify_from && rd->checked < VERIFY_PER_READ) {
		rd->checked++;
		if (!still_zombie(rd->p, pid, &e)) {
			if (rd->n_drop == rd->cap_drop) {
				size_t cap = rd->cap_drop ? rd->cap_drop * 2 : 16;

				grown = realloc(rd->drop, cap * sizeof(*grown));
				if (!grown)
					return;
				rd->drop = grown;
				rd->cap_drop = cap;
			}
			rd->drop[rd->n_drop].pid = pid;
			rd->drop[rd->n_drop++].start_ns = e.start_ns;
			return;
		}
	}
	e.comm[sizeof(e.comm) - 1] = '\0';
	e.parent_comm[sizeof(e.parent_comm) - 1] = '\0';
	rd->v->zombie(rd->v->ctx, e.cgid, pid, e.ppid, e.comm, e.parent_comm,
		      (rd->now - e.ts) / 1e9);
}

/* Entries /proc contradicted, unless their pid's process exited again meanwhile. */
static void drop_stale(struct pm_proc *p, struct exited_read *rd)
{
	int fds[] = { bpf_map__fd(p->skel->maps.exited), bpf_map__fd(p->skel->maps.exited_spill) };
	struct pm_exited e;
	size_t i, t;

	for (i = 0; i < rd->n_drop; i++) {
		for (t = 0; t < sizeof(fds) / sizeof(fds[0]); t++) {
			if (bpf_map_lookup_elem(fds[t], &rd->drop[i].pid, &e) || rd->now < e.ts ||
			    e.start_ns != rd->drop[i].start_ns)
				continue;
			if (!bpf_map_delete_elem(fds[t], &rd->drop[i].pid))
				p->stale++;
		}
	}
	/* the next read checks the entries after these */
	p->verify_from = rd->checked == VERIFY_PER_READ ? p->verify_from + rd->checked : 0;
	free(rd->drop);
}

static void starts_entry(void *ctx, const void *key, const void *value)
{
	const struct pm_proc_val *sum = value;
	const struct pm_cg_key *k = key;
	struct exited_read *rd = ctx;

	if (k->hier == rd->p->hier)
		rd->v->starts(rd->v->ctx, k->cgid, sum);
}

int proc__read(struct pm_proc *p, const struct pm_proc_visitor *v)
{
	struct exited_read rd = {
		.p = p, .v = v, .now = bpfutil__now_ns(), .grace_ns = p->grace_ns
	};

	/* the cgroups that forked, exec'd or exited since the last read */
	if (!p->changed.set)
		bpfutil__changed_init(&p->changed, p->skel->maps.proc_changed,
				      p->skel->maps.proc_changed_counts,
				      &p->skel->bss->proc_changed_epoch);
	bpfutil__changed_each(&p->changed, p->skel->maps.proc_stats, starts_entry, NULL, &rd);
	u64map__init(&rd.seen);
	bpfutil__for_each(p->skel->maps.exited, exited_entry, &rd);
	/* the spill only while in use: a walk visits every bucket of a table */
	if (bpfutil__spill_due(&p->spill, p->skel->maps.exited_spills)) {
		rd.n = 0;
		bpfutil__for_each(p->skel->maps.exited_spill, exited_entry, &rd);
		p->spill.held = rd.n > 0;
	}
	u64map__free(&rd.seen);
	drop_stale(p, &rd);
	return 0;
}

int proc__remove(struct pm_proc *p, const __u64 *cgids, size_t n)
{
	return bpfutil__delete_cgroups(p->skel->maps.proc_stats, p->hier, cgids, n, NULL);
}

int proc__refusals(struct pm_proc *p, pm_refusal_fn fn, void *ctx)
{
	return bpfutil__read_refusals(p->skel->maps.refusals, p->hier, fn, ctx);
}

void proc__errors(struct pm_proc *p, __u64 errs[PM_PROC_ERR_MAX])
{
	bpfutil__sum_counters(p->skel->maps.proc_errors, PM_PROC_ERR_KERNEL, errs);
	errs[PM_PROC_ERR_STALE] = p->stale;
}

void proc__close(struct pm_proc *p)
{
	if (!p)
		return;
	if (p->skel)
		pin__release(&p->pin, p->skel->skeleton);
	proc_bpf__destroy(p->skel);
	bpfutil__changed_free(&p->changed);
	free(p);
}

/* ---- the collector's source ---- */

static void src_proc_starts(void *ctx, __u64 cgid, const struct pm_proc_val *sum)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);

	if (r && !r->retired) {
		usage__raise(&r->total.starts, sum->starts);
		usage__raise(&r->total.exits, sum->exits);
		usage__raise(&r->total.joins, sum->joins);
	}
}

static void src_proc_zombie(void *ctx, __u64 cgid, __u32 pid, __u32 ppid, const char *comm,
			    const char *parent_comm, double age_s)
{
	const struct pm_sink *sink = ctx;
	struct pm_zombie_snap z = { .pid = pid, .ppid = ppid, .age_seconds = age_s };

	snprintf(z.comm, sizeof(z.comm), "%s", comm);
	snprintf(z.parent_comm, sizeof(z.parent_comm), "%s", parent_comm);
	sink->zombie(sink->ctx, cgid, &z);
}

static int src_proc_open(void **out, const struct pm_source_env *env, char *err, size_t errlen)
{
	return proc__open((struct pm_proc **)out, env->hier, env->cfg->collect.zombie_grace_ms,
			  env->force_raw_tp, env->cfg->collect.proc_root, err, errlen);
}

static int src_proc_read(void *src, const struct pm_sink *sink)
{
	struct pm_proc_visitor v = {
		.starts = src_proc_starts,
		.zombie = src_proc_zombie,
		.ctx = (void *)sink,
	};

	return proc__read(src, &v);
}

static int src_proc_refusals(void *src, pm_refusal_fn fn, void *ctx)
{
	return proc__refusals(src, fn, ctx);
}

static int src_proc_forget(void *src, const __u64 *cgids, size_t n, int *res)
{
	memset(res, 0, n * sizeof(*res));
	proc__remove(src, cgids, n);
	return 0;
}

static void src_proc_errors(void *src, struct pm_agent_stats *st)
{
	__u64 errs[PM_PROC_ERR_MAX];

	proc__errors(src, errs);
	st->proc_insert_failures = errs[PM_PROC_ERR_CGROUP_FULL];
	st->exited_insert_failures = errs[PM_PROC_ERR_EXITED_FULL];
	st->exited_stale = errs[PM_PROC_ERR_STALE];
	st->table_refusals[PM_TABLE_EXITED] += errs[PM_PROC_ERR_EXITED_FULL];
	st->table_refusals[PM_TABLE_CGROUPS] += errs[PM_PROC_ERR_CGROUP_FULL];
}

static void src_proc_close(void *src)
{
	proc__close(src);
}

const struct pm_source pm_source_proc = {
	.name = "proc",
	.reading = "reading the process counters",
	.open = src_proc_open,
	.read = src_proc_read,
	.refusals = src_proc_refusals,
	.forget = src_proc_forget,
	.errors = src_proc_errors,
	.close = src_proc_close,
};
