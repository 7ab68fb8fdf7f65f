// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loads bpf/proc.bpf.c; reads process starts per cgroup and unreaped exits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>
#include <podmeter/proc.h>
#include <podmeter/u64map.h>
#include <podmeter/pin.h>
#include "proc.skel.h"

struct pm_proc {
	struct proc_bpf *skel;
	struct pm_pin pin;
	enum pm_hier hier;
	int ncpus;
	__u64 grace_ns;
	struct pm_proc_val *vals;
};

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
}

/* open -> configure -> load -> attach; one cleanup path */
static int load(struct pm_proc *p, bool tp_btf, char *err, size_t errlen)
{
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
	bpfutil__size_by_tasks(p->skel->maps.exited, PM_PROC_MAX_EXITED);
	what = "pin";
	ret = pin__prepare(&p->pin, p->skel->obj, NULL);
	if (!ret) {
		what = "load";
		ret = proc_bpf__load(p->skel);
	}
	if (!ret) {
		what = "attach";
		ret = pin__attach(&p->pin, p->skel->skeleton, NULL, NULL);
	}
	if (!ret) {
		pin__commit(&p->pin, p->skel->obj);
		return 0;
	}
	proc_bpf__destroy(p->skel);
	p->skel = NULL;
out_err:
	snprintf(err, errlen, "proc: %s %s programs: %s", what, tp_btf ? "tp_btf" : "raw_tp",
		 strerror(-ret));
	return ret;
}

int proc__open(struct pm_proc **out, enum pm_hier hier, __u64 zombie_grace_ms, bool force_raw_tp,
	       char *err, size_t errlen)
{
	struct pm_proc *p;
	int ret = -ENOMEM;

	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_nomem;
	p->hier = hier;
	p->grace_ns = zombie_grace_ms * 1000000ULL;
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0)
		goto out_nomem;
	p->vals = calloc(p->ncpus, sizeof(*p->vals));
	if (!p->vals)
		goto out_nomem;
	ret = force_raw_tp ? -EOPNOTSUPP : load(p, true, err, errlen);
	if (ret) {
		if (!force_raw_tp)
			fprintf(stderr, "warning: %s; falling back to raw_tp\n", err);
		ret = load(p, false, err, errlen);
		if (ret)
			goto out_free;
	}
	*out = p;
	return 0;

out_nomem:
	snprintf(err, errlen, "proc: set-up: %s", strerror(ENOMEM));
out_free:
	proc__close(p);
	return ret;
}

static __u64 ktime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct exited_read {
	const struct pm_proc_visitor *v;
	__u64 now, grace_ns;
	struct u64map seen;	/* a pid deleted and made again during the walk: taken once */
};

/* Unreaped exits older than the grace period are zombies. */
static void exited_entry(void *ctx, const void *key, const void *value)
{
	struct exited_read *rd = ctx;
	struct pm_exited e = *(const struct pm_exited *)value;
	__u32 pid = *(const __u32 *)key;

	if (rd->now < e.ts || rd->now - e.ts < rd->grace_ns || u64map__get(&rd->seen, pid) ||
	    u64map__put(&rd->seen, pid, &rd->seen))
		return;
	e.comm[sizeof(e.comm) - 1] = '\0';
	e.parent_comm[sizeof(e.parent_comm) - 1] = '\0';
	rd->v->zombie(rd->v->ctx, e.cgid, pid, e.ppid, e.comm, e.parent_comm,
		      (rd->now - e.ts) / 1e9);
}

int proc__read(struct pm_proc *p, const struct pm_proc_visitor *v)
{
	int fd = bpf_map__fd(p->skel->maps.proc_stats), i;
	struct pm_cg_key key, next, *prev = NULL;
	struct exited_read rd = { .v = v, .now = ktime_ns(), .grace_ns = p->grace_ns };
	__u64 starts;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.hier != p->hier || bpf_map_lookup_elem(fd, &key, p->vals))
			continue;
		for (starts = 0, i = 0; i < p->ncpus; i++)
			starts += p->vals[i].starts;
		v->starts(v->ctx, key.cgid, starts);
	}
	u64map__init(&rd.seen);
	bpfutil__for_each(p->skel->maps.exited, exited_entry, &rd);
	u64map__free(&rd.seen);
	return 0;
}

void proc__remove(struct pm_proc *p, __u64 cgid)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = p->hier };

	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.proc_stats), &key);
}

int proc__refusals(struct pm_proc *p, pm_refusal_fn fn, void *ctx)
{
	return bpfutil__read_refusals(p->skel->maps.refusals, p->hier, fn, ctx);
}

void proc__errors(struct pm_proc *p, __u64 errs[PM_PROC_ERR_MAX])
{
	bpfutil__sum_counters(p->skel->maps.proc_errors, PM_PROC_ERR_MAX, errs);
}

void proc__close(struct pm_proc *p)
{
	if (!p)
		return;
	if (p->skel)
		pin__release(&p->pin, p->skel->skeleton);
	proc_bpf__destroy(p->skel);
	free(p->vals);
	free(p);
}
