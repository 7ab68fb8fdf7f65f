// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loads bpf/cpu.bpf.c and reads per-cgroup on-CPU and run-queue time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>
#include "cpu.skel.h"

struct pm_cpu {
	struct cpu_bpf *skel;
	enum pm_hier hier;
	int ncpus;
	const char *mode;
	struct pm_cpu_val *vals;	/* ncpus values, one lookup */
	struct pm_cpu_run *runs;	/* before reading runtimes ... */
	struct pm_cpu_run *runs2;	/* ... and after */
	char proc_root[PATH_MAX];
};

static void set_twin(struct cpu_bpf *skel, bool tp_btf)
{
	bpf_program__set_autoload(skel->progs.tp_btf_sched_switch, tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_sched_wakeup, tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_sched_wakeup_new, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_switch, !tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_wakeup, !tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_wakeup_new, !tp_btf);
}

/* open -> configure -> load -> attach, one twin; one cleanup path */
static int load_twin(struct pm_cpu *cpu, bool tp_btf, char *err, size_t errlen)
{
	const char *what = "open";
	int ret;

	cpu->skel = cpu_bpf__open();
	if (!cpu->skel) {
		ret = -errno;
		goto out_err;
	}
	cpu->skel->rodata->track_v2 = cpu->hier == PM_HIER_V2;
	cpu->skel->rodata->track_v1 = cpu->hier == PM_HIER_V1_CPUACCT;
	set_twin(cpu->skel, tp_btf);
	what = "load";
	ret = cpu_bpf__load(cpu->skel);
	if (ret)
		goto out_destroy;
	what = "attach";
	ret = cpu_bpf__attach(cpu->skel);
	if (ret)
		goto out_destroy;
	cpu->mode = tp_btf ? "tp_btf" : "raw_tp";
	return 0;

out_destroy:
	cpu_bpf__destroy(cpu->skel);
	cpu->skel = NULL;
out_err:
	snprintf(err, errlen, "cpu: %s %s programs: %s", what, tp_btf ? "tp_btf" : "raw_tp",
		 strerror(-ret));
	return ret;
}

int cpu__open(struct pm_cpu **out, enum pm_hier hier, const char *proc_root, bool force_raw_tp,
	      char *err, size_t errlen)
{
	struct pm_cpu *cpu;
	int ret = -ENOMEM;

	cpu = calloc(1, sizeof(*cpu));
	if (!cpu)
		goto out_err;
	cpu->hier = hier;
	snprintf(cpu->proc_root, sizeof(cpu->proc_root), "%s", proc_root);
	cpu->ncpus = libbpf_num_possible_cpus();
	if (cpu->ncpus <= 0) {
		ret = cpu->ncpus ? cpu->ncpus : -EINVAL;
		goto out_err;
	}
	cpu->vals = calloc(cpu->ncpus, sizeof(*cpu->vals));
	cpu->runs = calloc(cpu->ncpus, sizeof(*cpu->runs));
	cpu->runs2 = calloc(cpu->ncpus, sizeof(*cpu->runs2));
	if (!cpu->vals || !cpu->runs || !cpu->runs2)
		goto out_err;

	ret = force_raw_tp ? -EOPNOTSUPP : load_twin(cpu, true, err, errlen);
	if (ret) {
		if (!force_raw_tp)
			fprintf(stderr, "warning: %s; falling back to raw_tp\n", err);
		ret = load_twin(cpu, false, err, errlen);
		if (ret)
			goto out_free;
	}
	*out = cpu;
	return 0;

out_err:
	snprintf(err, errlen, "cpu: set-up: %s", strerror(-ret));
out_free:
	if (cpu) {
		free(cpu->vals);
		free(cpu->runs);
		free(cpu->runs2);
		free(cpu);
	}
	return ret;
}

const char *cpu__attach_mode(const struct pm_cpu *cpu)
{
	return cpu->mode;
}

static void sum_cpus(const struct pm_cpu *cpu, struct pm_cpu_val *sum)
{
	int i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < cpu->ncpus; i++) {
		sum->oncpu_ns += cpu->vals[i].oncpu_ns;
		sum->runq_ns += cpu->vals[i].runq_ns;
		sum->switches_in += cpu->vals[i].switches_in;
	}
}

/* The kernel's runtime of a running thread, to the nanosecond (task_sched_runtime). */
static int thread_runtime(const struct pm_cpu *cpu, __u32 tid, __u64 *ns)
{
	char path[PATH_MAX + 32];
	unsigned long long v;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/%u/schedstat", cpu->proc_root, tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%llu", &v);
	fclose(f);
	if (n != 1)
		return -EINVAL;
	*ns = v;
	return 0;
}

static int read_runs(struct pm_cpu *cpu, struct pm_cpu_run *runs)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(cpu->skel->maps.cpu_run), &zero, runs))
		return -errno;
	return 0;
}

/*
 * A task running flat out is charged only when it switches out; add what it
 * ran since it switched in. Only when the CPU ran the same slice before and
 * after the runtime was read: otherwise the slice was closed meanwhile and
 * the next read has it.
 */
static int read_inflight(struct pm_cpu *cpu, const struct pm_cpu_visitor *v)
{
	__u64 *rt = (__u64 *)cpu->vals;	/* reused: the map walk is over */
	int i, err;

	err = read_runs(cpu, cpu->runs);
	if (err)
		return err;
	for (i = 0; i < cpu->ncpus; i++)
		if (!cpu->runs[i].pid || thread_runtime(cpu, cpu->runs[i].pid, &rt[i]))
			rt[i] = 0;
	err = read_runs(cpu, cpu->runs2);
	if (err)
		return err;
	for (i = 0; i < cpu->ncpus; i++) {
		const struct pm_cpu_run *r = &cpu->runs[i];
		__u64 cgid = cpu->hier == PM_HIER_V2 ? r->cg_v2 : r->cg_v1;

		if (!rt[i] || !cgid || r->start_ns != cpu->runs2[i].start_ns ||
		    r->pid != cpu->runs2[i].pid || rt[i] <= r->sum_start)
			continue;
		v->inflight(v->ctx, cgid, rt[i] - r->sum_start);
	}
	return 0;
}

/*
 * The map is read before the in-flight slices: a switch between the two reads
 * then at worst delays part of a slice to the next read, and never counts it
 * twice. (The collector keeps each cgroup's total monotonic.)
 */
int cpu__read(struct pm_cpu *cpu, const struct pm_cpu_visitor *v)
{
	int fd = bpf_map__fd(cpu->skel->maps.cpu_stats);
	struct pm_cg_key key, next, *prev = NULL;
	struct pm_cpu_val sum;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, cpu->vals))
			continue;	/* removed meanwhile */
		if (key.hier != cpu->hier)
			continue;
		sum_cpus(cpu, &sum);
		v->cgroup(v->ctx, key.cgid, &sum);
	}
	return read_inflight(cpu, v);
}

int cpu__remove(struct pm_cpu *cpu, __u64 cgid)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = cpu->hier };

	if (bpf_map_delete_elem(bpf_map__fd(cpu->skel->maps.cpu_stats), &key))
		return -errno;
	return 0;
}

void cpu__errors(struct pm_cpu *cpu, __u64 errs[PM_CPU_ERR_MAX])
{
	int fd = bpf_map__fd(cpu->skel->maps.cpu_errors);
	__u64 *vals = calloc(cpu->ncpus, sizeof(*vals));
	__u32 i;
	int c;

	for (i = 0; i < PM_CPU_ERR_MAX; i++) {
		errs[i] = 0;
		if (!vals || bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (c = 0; c < cpu->ncpus; c++)
			errs[i] += vals[c];
	}
	free(vals);
}

void cpu__close(struct pm_cpu *cpu)
{
	if (!cpu)
		return;
	cpu_bpf__destroy(cpu->skel);
	free(cpu->vals);
	free(cpu->runs);
	free(cpu->runs2);
	free(cpu);
}
