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
#include <podmeter/pin.h>
#include <podmeter/source.h>
#include "cpu.skel.h"

struct thread_stat {
	__u64 runtime; /* se.sum_exec_runtime: current to the last scheduler tick */
	__u64 delay;   /* sched_info.run_delay */
	__u64 pcount;  /* sched_info.pcount: times put on a CPU */
};

struct pm_cpu_sample {
	__u64 cgid;
	struct pm_cpu_val sum;
	bool found;  /* (redo) in the map when read again */
	bool merged; /* (redo) replaced a sample of the walk */
};

#define FLUSH_LOG (1 << PM_CPU_FLUSH_BITS)
/*
 * Flushes that may land between the second state read and the copy of the
 * logs: a log is taken when it holds the walk's flushes with this many
 * slots to spare.
 */
#define FLUSH_SLACK 16

struct pm_cpu {
	struct cpu_bpf *skel;
	struct pm_pin pin;
	enum pm_hier hier;
	int ncpus;
	const char *mode;
	struct pm_cpu_run *runs;      /* before the map's walk ... */
	struct pm_cpu_run *runs2;     /* ... and after */
	struct pm_cpu_run *runs3;     /* ... and after the running threads' schedstat */
	struct pm_cpu_flushlog *logs; /* per CPU, read after runs2 */
	struct pm_cpu_sample *redo;   /* cgroups flushed behind the walk, read again */
	size_t n_redo;
	bool *flushed_after;		      /* per CPU: flushed between runs2 and runs3 */
	struct thread_stat *ts;		      /* running threads' schedstat, per CPU */
	int hierarchy_id;		      /* counted hierarchy, for cgroup_mkdir events */
	struct ring_buffer *born;	      /* cgroup_mkdir, _rename and _rmdir events */
	const struct pm_cpu_visitor *visitor; /* during cpu__read() */
	struct pm_cpu_sample *samples;	      /* one map walk */
	struct pm_changed changed;	      /* cpu_stats' changed set */
	size_t n_samples, cap_samples;
	char proc_root[PATH_MAX];
};

static void set_twin(struct cpu_bpf *skel, bool tp_btf)
{
	bpf_program__set_autoload(skel->progs.tp_btf_sched_switch, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_switch, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_cgroup_mkdir, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_cgroup_mkdir, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_cgroup_rename, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_cgroup_rename, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_cgroup_rmdir, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_cgroup_rmdir, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_cgroup_attach_task, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_cgroup_attach_task, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_sched_migrate_task, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_migrate_task, !tp_btf);
}

static int on_born(void *ctx, void *data, size_t len)
{
	const struct pm_cg_born *e = data;
	struct pm_cpu *cpu = ctx;
	char path[PM_CG_PATH_MAX];

	if (len < sizeof(*e) || !cpu->visitor)
		return 0;
	if (e->kind == PM_TREE_GONE) {
		cpu->visitor->gone(cpu->visitor->ctx, e->cgid);
		return 0;
	}
	/* the ring is mapped read-only: terminate a copy; a rename names no one path */
	snprintf(path, sizeof(path), "%.*s", PM_CG_PATH_MAX - 1,
		 e->kind == PM_TREE_MADE ? e->path : "");
	cpu->visitor->born(cpu->visitor->ctx, e->cgid, path);
	return 0;
}

/*
 * The v1 hierarchy carrying cpuacct, by number (/proc/cgroups), to match
 * cgroup_mkdir events against; the v2 hierarchy is number 0.
 */
static int cpuacct_hierarchy(const char *proc_root, int *id)
{
	char path[PATH_MAX + 16], name[64];
	int hier, n, en;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroups", proc_root);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((n = fscanf(f, "%63s %d %*d %d", name, &hier, &en)) != EOF) {
		if (n == 3 && !strcmp(name, "cpuacct")) {
			fclose(f);
			*id = hier;
			return 0;
		}
		if (n != 3 && fscanf(f, "%*[^\n]") == EOF)
			break;
	}
	fclose(f);
	return -ENOENT;
}

/* open -> configure -> load -> attach, one twin; one cleanup path */
static int load_twin(void *ctx, bool tp_btf, char *err, size_t errlen)
{
	struct pm_cpu *cpu = ctx;
	const char *what = "open";
	int ret;

	cpu->skel = cpu_bpf__open();
	if (!cpu->skel) {
		ret = -errno;
		goto out_err;
	}
	cpu->skel->rodata->track_v1 = cpu->hier == PM_HIER_V1_CPUACCT;
	cpu->skel->rodata->hier = cpu->hier;
	cpu->skel->rodata->hierarchy_id = cpu->hierarchy_id;
	cpu->skel->rodata->nr_cpus = libbpf_num_possible_cpus() > 0 ? libbpf_num_possible_cpus()
								    : 1;
	set_twin(cpu->skel, tp_btf);
	ret = pin__load(&cpu->pin, cpu->skel->skeleton, NULL, &what);
	if (ret)
		goto out_destroy;
	what = "ring buffer of";
	cpu->born = ring_buffer__new(bpf_map__fd(cpu->skel->maps.cg_born), on_born, cpu, NULL);
	if (!cpu->born) {
		ret = -errno;
		goto out_destroy;
	}
	cpu->mode = tp_btf ? "tp_btf" : "raw_tp";
	return 0;

out_destroy:
	ring_buffer__free(cpu->born);
	cpu->born = NULL;
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
	if (hier == PM_HIER_V1_CPUACCT && cpuacct_hierarchy(proc_root, &cpu->hierarchy_id))
		fprintf(stderr,
			"warning: cpu: no cpuacct line in %s/cgroups; "
			"pods are found by walking the tree only\n",
			proc_root);
	if (cpu->ncpus <= 0) {
		ret = cpu->ncpus ? cpu->ncpus : -EINVAL;
		goto out_err;
	}
	cpu->runs = calloc(cpu->ncpus, sizeof(*cpu->runs));
	cpu->runs2 = calloc(cpu->ncpus, sizeof(*cpu->runs2));
	cpu->runs3 = calloc(cpu->ncpus, sizeof(*cpu->runs3));
	cpu->logs = calloc(cpu->ncpus, sizeof(*cpu->logs));
	cpu->redo = calloc((size_t)cpu->ncpus * FLUSH_LOG, sizeof(*cpu->redo));
	cpu->flushed_after = calloc(cpu->ncpus, sizeof(*cpu->flushed_after));
	cpu->ts = calloc(cpu->ncpus, sizeof(*cpu->ts));
	if (!cpu->runs || !cpu->runs2 || !cpu->runs3 || !cpu->logs || !cpu->redo ||
	    !cpu->flushed_after || !cpu->ts)
		goto out_err;

	ret = bpfutil__load_twin(load_twin, cpu, force_raw_tp, err, errlen);
	if (ret)
		goto out_free;
	*out = cpu;
	return 0;

out_err:
	snprintf(err, errlen, "cpu: set-up: %s", strerror(-ret));
out_free:
	if (cpu) {
		free(cpu->runs);
		free(cpu->runs2);
		free(cpu->runs3);
		free(cpu->logs);
		free(cpu->redo);
		free(cpu->flushed_after);
		free(cpu->ts);
		free(cpu);
	}
	return ret;
}

const char *cpu__attach_mode(const struct pm_cpu *cpu)
{
	return cpu->mode;
}

/* /proc/<tid>/schedstat of a running thread (the host's /proc: hostPID). */
static int thread_schedstat(const struct pm_cpu *cpu, __u32 tid, struct thread_stat *ts)
{
	char path[PATH_MAX + 32];
	unsigned long long rt, rd, pc;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/%u/schedstat", cpu->proc_root, tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%llu %llu %llu", &rt, &rd, &pc);
	fclose(f);
	if (n != 3)
		return -EINVAL;
	ts->runtime = rt;
	ts->delay = rd;
	ts->pcount = pc;
	return 0;
}

#define WHOLE_TRIES 4

static bool whole(const struct pm_cpu_run *r)
{
	return r->seq_begin == r->seq_end;
}

/*
 * The per-CPU state, each CPU's copy whole (see struct pm_cpu_run); a CPU
 * still torn after a few tries is marked and skipped by this read.
 */
static int read_runs(struct pm_cpu *cpu, struct pm_cpu_run *runs)
{
	int fd = bpf_map__fd(cpu->skel->maps.cpu_run), i, tries;
	__u32 zero = 0;
	bool torn;

	for (tries = 0; tries < WHOLE_TRIES; tries++) {
		if (bpf_map_lookup_elem(fd, &zero, runs))
			return -errno;
		for (torn = false, i = 0; i < cpu->ncpus; i++)
			torn |= !whole(&runs[i]);
		if (!torn)
			return 0;
	}
	for (i = 0; i < cpu->ncpus; i++)
		if (!whole(&runs[i]))
			runs[i].task = runs[i].pid = 0; /* see visit_unflushed() */
	return 0;
}

/*
 * The slice @b saw running still ran at @c, and @ts, read between the two,
 * is its task's schedstat in that slice (pcount moves once when a slice
 * starts): what it ran up to @ts is in no CPU's pending amounts nor in the
 * map.
 */
static bool same_slice(const struct pm_cpu_run *b, const struct pm_cpu_run *c,
		       const struct thread_stat *ts)
{
	return b->task && b->pid && b->task == c->task && b->sum_start == c->sum_start &&
	       ts->pcount == b->pcount_start + 1;
}

/* schedstat of the tasks @runs saw running; pcount 0 where none or unread */
static void read_running(struct pm_cpu *cpu, const struct pm_cpu_run *runs)
{
	int i;

	for (i = 0; i < cpu->ncpus; i++)
		if (!runs[i].pid || thread_schedstat(cpu, runs[i].pid, &cpu->ts[i]))
			cpu->ts[i].pcount = 0; /* fails same_slice() */
}

static int cmp_cgid(const void *a, const void *b)
{
	__u64 x = ((const struct pm_cpu_sample *)a)->cgid,
	      y = ((const struct pm_cpu_sample *)b)->cgid;

	return x < y ? -1 : x > y;
}

/* @cgid was read again after the second state read, and found in the map. */
static bool redone(const struct pm_cpu *cpu, __u64 cgid)
{
	struct pm_cpu_sample k = { .cgid = cgid }, *r;

	if (!cpu->n_redo)
		return false;
	r = bsearch(&k, cpu->redo, cpu->n_redo, sizeof(k), cmp_cgid);
	return r && r->found;
}

/*
 * The slice @b saw running ended after the second state read, on a CPU
 * that flushed before the third (the reading agent itself often takes the
 * CPU then): @ts, its task's schedstat with no slice begun since, is where
 * it ended or stands. It is in the CPU's pending amounts at the third read,
 * or flushed behind the walk: in neither of what visit_unflushed() counts
 * for that CPU, unless its cgroup was read again (it may be in that).
 * Not when the task was moved as it ran: the cgroup of its end is unknown.
 */
static bool ended_behind(const struct pm_cpu *cpu, const struct pm_cpu_run *b,
			 const struct thread_stat *ts)
{
	return b->task && b->pid && ts->pcount == b->pcount_start + 1 && b->moved_task != b->task &&
	       !redone(cpu, b->cgid);
}

/*
 * What the map did not hold at the second state read, per CPU: the amounts
 * pending then (or at the third state read, when the CPU flushed nothing
 * in between: those include the slices that ended since), and the slice
 * running then, up to its task's schedstat, when it still ran at the third
 * state read or ended behind a flush (ended_behind(); a running slice
 * reaches the map only after it ends). What a flush moved into the map
 * behind the walk was read again after the second state read
 * (reread_flushed()); a CPU that flushed after the second may
 * have moved its pending amounts into what was read again: for those
 * cgroups they are not counted twice (they come with the next read).
 * Every state read's cgroups are reported held, so none is retired while a
 * CPU may still move amounts of it into the map.
 */
static void visit_unflushed(struct pm_cpu *cpu, const struct pm_cpu_visitor *v)
{
	int i;

	for (i = 0; i < cpu->ncpus; i++) {
		const struct pm_cpu_run *a = &cpu->runs[i], *b = &cpu->runs2[i];
		const struct pm_cpu_run *c = &cpu->runs3[i], *p;
		const struct thread_stat *ts = &cpu->ts[i];
		__u64 end;

		v->held(v->ctx, a->pend_cgid);
		v->held(v->ctx, a->cgid);
		v->held(v->ctx, b->pend_cgid);
		v->held(v->ctx, b->cgid);
		v->held(v->ctx, c->pend_cgid);
		v->held(v->ctx, c->cgid);
		/* no flush since the second read: the third's pending holds all of it */
		p = !cpu->flushed_after[i] && whole(b) ? c : b;
		if (p->task && (p->pend_oncpu_ns || p->pend_runq_ns) &&
		    !(cpu->flushed_after[i] && redone(cpu, p->pend_cgid)))
			v->inflight(v->ctx, p->pend_cgid, p->pend_oncpu_ns, p->pend_runq_ns);
		if (same_slice(b, c, ts)) {
			/* moved to another cgroup as it ran: what ran since is the other's */
			end = ts->runtime;
			if (c->moved_task == c->task && c->moved_sum < end)
				end = c->moved_sum;
		} else if (cpu->flushed_after[i] && ended_behind(cpu, b, ts)) {
			end = ts->runtime;
		} else {
			continue;
		}
		v->inflight(v->ctx, b->cgid, end > b->sum_start ? end - b->sum_start : 0,
			    ts->delay > b->delay_start ? ts->delay - b->delay_start : 0);
	}
}

struct sample_walk {
	struct pm_cpu *cpu;
	int err;
};

static struct pm_cpu_sample *sample_push(struct pm_cpu *cpu)
{
	struct pm_cpu_sample *smp;

	if (cpu->n_samples == cpu->cap_samples) {
		size_t cap = cpu->cap_samples ? cpu->cap_samples * 2 : 256;

		smp = realloc(cpu->samples, cap * sizeof(*smp));
		if (!smp)
			return NULL;
		cpu->samples = smp;
		cpu->cap_samples = cap;
	}
	return &cpu->samples[cpu->n_samples++];
}

static void sample_entry(void *ctx, const void *key, const void *value)
{
	const struct pm_cg_key *k = key;
	struct sample_walk *w = ctx;
	struct pm_cpu *cpu = w->cpu;
	struct pm_cpu_sample *smp;

	if (k->hier != cpu->hier || w->err)
		return; /* not ours */
	smp = sample_push(cpu);
	if (!smp) {
		w->err = -ENOMEM;
		return;
	}
	smp->cgid = k->cgid;
	memcpy(&smp->sum, value, sizeof(smp->sum)); /* summed over the CPUs */
}

/*
 * Sum each cgroup of our hierarchy whose entry moved since the last walk
 * (every cgroup at times: bpfutil__changed_each()) into cpu->samples. The
 * collector keeps what the others read last.
 */
static int walk_map(struct pm_cpu *cpu)
{
	struct sample_walk w = { .cpu = cpu };
	int err;

	cpu->n_samples = 0;
	if (!cpu->changed.set)
		bpfutil__changed_init(&cpu->changed, cpu->skel->maps.cpu_changed,
				      cpu->skel->maps.cpu_changed_counts,
				      &cpu->skel->bss->cpu_changed_epoch);
	err = bpfutil__changed_each(&cpu->changed, cpu->skel->maps.cpu_stats, sample_entry, NULL,
				    &w);
	return err < 0 ? err : w.err;
}

/*
 * More than this much flushed behind the walk, and not in the CPUs' logs:
 * read again. What a flush moves is what was pending at the first state
 * read plus the slice that was running then (it ended, went pending, and
 * was flushed before the second). cpu->ts: the tasks running at the first.
 */
#define AT_RISK_NS 1000000ULL
#define READ_TRIES 4

static bool flushed_much(const struct pm_cpu *cpu)
{
	const struct pm_cpu_run *a;
	__u64 risk;
	int i;

	for (i = 0; i < cpu->ncpus; i++) {
		a = &cpu->runs[i];
		if (a->flushes == cpu->runs2[i].flushes)
			continue;
		risk = a->pend_oncpu_ns + a->pend_runq_ns;
		if (a->pid && cpu->ts[i].pcount && cpu->ts[i].runtime > a->sum_start)
			risk += cpu->ts[i].runtime - a->sum_start;
		if (risk > AT_RISK_NS)
			return true;
	}
	return false;
}

/* Some CPU flushed between the two state reads (or a copy was torn). */
static bool flushed_behind(const struct pm_cpu *cpu)
{
	int i;

	for (i = 0; i < cpu->ncpus; i++)
		if (!whole(&cpu->runs[i]) || !whole(&cpu->runs2[i]) ||
		    cpu->runs[i].flushes != cpu->runs2[i].flushes)
			return true;
	return false;
}

/*
 * The cgroups the CPUs flushed between the two state reads, from their logs
 * (struct pm_cpu_flushlog), sorted and each once in cpu->redo: false when a
 * log may no longer hold them all or a copy was torn.
 */
static bool collect_redo(struct pm_cpu *cpu)
{
	__u32 zero = 0;
	size_t n = 0, i, u;
	__u64 f;
	int c;

	for (c = 0; c < cpu->ncpus; c++) {
		const struct pm_cpu_run *a = &cpu->runs[c], *b = &cpu->runs2[c];

		if (!whole(a) || !whole(b) || b->flushes - a->flushes > FLUSH_LOG - FLUSH_SLACK)
			return false;
	}
	if (bpf_map_lookup_elem(bpf_map__fd(cpu->skel->maps.cpu_flushlog), &zero, cpu->logs))
		return false;
	for (c = 0; c < cpu->ncpus; c++) {
		const struct pm_cpu_run *a = &cpu->runs[c], *b = &cpu->runs2[c];

		for (f = a->flushes; f != b->flushes; f++)
			cpu->redo[n++] = (struct pm_cpu_sample){
				.cgid = cpu->logs[c].cgid[f & (FLUSH_LOG - 1)],
			};
	}
	qsort(cpu->redo, n, sizeof(*cpu->redo), cmp_cgid);
	for (i = 0, u = 0; i < n; i++)
		if (!u || cpu->redo[i].cgid != cpu->redo[u - 1].cgid)
			cpu->redo[u++].cgid = cpu->redo[i].cgid;
	cpu->n_redo = u;
	return true;
}

/*
 * Read the cgroups flushed behind the walk again (after the second state
 * read): what is read again replaces the walk's figure, or adds a cgroup
 * the walk had not met.
 */
static int reread_flushed(struct pm_cpu *cpu)
{
	struct pm_cg_key key = { .hier = cpu->hier };
	struct pm_cpu_sample k = { 0 }, *r, *smp;
	size_t i, n;
	int err;

	for (i = 0; i < cpu->n_redo; i++) {
		r = &cpu->redo[i];
		key.cgid = r->cgid;
		err = bpfutil__lookup(cpu->skel->maps.cpu_stats, &key, &r->sum);
		r->found = !err;
		if (err && err != -ENOENT)
			return err;
	}
	/* the walk's samples are in the map's order: one search each */
	for (i = 0, n = cpu->n_samples; i < n; i++) {
		k.cgid = cpu->samples[i].cgid;
		r = bsearch(&k, cpu->redo, cpu->n_redo, sizeof(k), cmp_cgid);
		if (r && r->found) {
			cpu->samples[i].sum = r->sum;
			r->merged = true;
		}
	}
	for (i = 0; i < cpu->n_redo; i++) {
		r = &cpu->redo[i];
		if (!r->found || r->merged)
			continue;
		smp = sample_push(cpu);
		if (!smp)
			return -ENOMEM;
		*smp = *r;
	}
	return 0;
}

/*
 * A slice running at the second state read ended before the third, behind
 * a flush, and its task ran again before its schedstat was read: where it
 * ended is unknown, and it may have gone into the map behind the walk, in
 * nothing this read counts. Read again.
 */
#define AFTER_TRIES 2

static bool slice_behind(const struct pm_cpu *cpu)
{
	int i;

	for (i = 0; i < cpu->ncpus; i++) {
		const struct pm_cpu_run *b = &cpu->runs2[i], *c = &cpu->runs3[i];
		const struct thread_stat *ts = &cpu->ts[i];

		if (cpu->flushed_after[i] && b->task && b->pid && !same_slice(b, c, ts) &&
		    !ended_behind(cpu, b, ts))
			return true;
	}
	return false;
}

/* The first state read gives way to the second, the second to the third. */
static void rotate(struct pm_cpu *cpu)
{
	struct pm_cpu_run *first = cpu->runs;

	cpu->runs = cpu->runs2;
	cpu->runs2 = cpu->runs3;
	cpu->runs3 = first;
}

/*
 * Per-CPU state, the map, the per-CPU state again, the cgroups flushed
 * behind the walk again, the running threads' schedstat, the per-CPU state
 * a third time: see visit_unflushed() (and again from the third when a
 * slice was lost in between: slice_behind()). The collector keeps each
 * cgroup's total monotonic across reads.
 */
int cpu__read(struct pm_cpu *cpu, const struct pm_cpu_visitor *v)
{
	int i, err, tries = 0;
	size_t k;

	/* births first: a new cgroup is named before its usage is read */
	cpu->visitor = v;
	err = ring_buffer__consume(cpu->born);
	cpu->visitor = NULL;
	if (err < 0)
		return err;
	for (;;) {
		cpu->n_redo = 0;
		err = read_runs(cpu, cpu->runs);
		if (!err)
			err = walk_map(cpu);
		if (!err)
			err = read_runs(cpu, cpu->runs2);
		if (err)
			return err;
		if (!flushed_behind(cpu))
			break;
		if (collect_redo(cpu)) {
			err = reread_flushed(cpu);
			if (err)
				return err;
			break;
		}
		/* a log overrun: the walk again, when much may be missing */
		cpu->n_redo = 0;
		read_running(cpu, cpu->runs);
		if (!flushed_much(cpu) || ++tries == READ_TRIES)
			break;
	}
	for (tries = 0;; tries++) {
		read_running(cpu, cpu->runs2);
		err = read_runs(cpu, cpu->runs3);
		if (err)
			return err;
		for (i = 0; i < cpu->ncpus; i++)
			cpu->flushed_after[i] = !whole(&cpu->runs3[i]) ||
						cpu->runs3[i].flushes != cpu->runs2[i].flushes;
		if (tries == AFTER_TRIES || !slice_behind(cpu))
			break;
		/* the third state read as the second: read again what was flushed since */
		rotate(cpu);
		if (!collect_redo(cpu)) {
			rotate(cpu);
			rotate(cpu);
			break;
		}
		err = reread_flushed(cpu);
		if (err)
			return err;
	}

	for (k = 0; k < cpu->n_samples; k++)
		v->cgroup(v->ctx, cpu->samples[k].cgid, &cpu->samples[k].sum);
	visit_unflushed(cpu, v);
	return 0;
}

static void retired_key(struct pm_retired_key *k, const char *uid)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->uid, sizeof(k->uid), "%s", uid);
}

int cpu__retired_get(struct pm_cpu *cpu, const char *uid, struct pm_retired_val *v)
{
	struct pm_retired_key k;

	retired_key(&k, uid);
	if (bpf_map_lookup_elem(bpf_map__fd(cpu->skel->maps.cpu_retired), &k, v))
		return -errno;
	return 0;
}

int cpu__retired_set(struct pm_cpu *cpu, const char *uid, const struct pm_retired_val *v)
{
	struct pm_retired_key k;

	retired_key(&k, uid);
	if (bpf_map_update_elem(bpf_map__fd(cpu->skel->maps.cpu_retired), &k, v, BPF_ANY))
		return -errno;
	return 0;
}

void cpu__retired_del(struct pm_cpu *cpu, const char *uid)
{
	struct pm_retired_key k;

	retired_key(&k, uid);
	bpf_map_delete_elem(bpf_map__fd(cpu->skel->maps.cpu_retired), &k);
}

int cpu__remove(struct pm_cpu *cpu, const __u64 *cgids, size_t n, int *res)
{
	return bpfutil__delete_cgroups(cpu->skel->maps.cpu_stats, cpu->hier, cgids, n, res);
}

int cpu__refusals(struct pm_cpu *cpu, pm_refusal_fn fn, void *ctx)
{
	return bpfutil__read_refusals(cpu->skel->maps.refusals, cpu->hier, fn, ctx);
}

void cpu__errors(struct pm_cpu *cpu, __u64 errs[PM_CPU_ERR_MAX])
{
	bpfutil__sum_counters(cpu->skel->maps.cpu_errors, PM_CPU_ERR_MAX, errs);
}

void cpu__close(struct pm_cpu *cpu)
{
	if (!cpu)
		return;
	ring_buffer__free(cpu->born);
	if (cpu->skel)
		pin__release(&cpu->pin, cpu->skel->skeleton);
	cpu_bpf__destroy(cpu->skel);
	free(cpu->runs);
	free(cpu->runs2);
	free(cpu->runs3);
	free(cpu->logs);
	free(cpu->redo);
	free(cpu->flushed_after);
	free(cpu->ts);
	free(cpu->samples);
	bpfutil__changed_free(&cpu->changed);
	free(cpu);
}

/* ---- the collector's source ---- */

static void src_cpu_cgroup(void *ctx, __u64 cgid, const struct pm_cpu_val *sum)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);

	if (!r)
		return;
	r->in_map = true;
	r->map_oncpu_ns = sum->oncpu_ns;
	r->map_runq_ns = sum->runq_ns;
}

static void src_cpu_inflight(void *ctx, __u64 cgid, __u64 oncpu_ns, __u64 runq_ns)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = cgid ? sink->cgroup(sink->ctx, cgid) : NULL;

	if (!r)
		return;
	r->now.inflight_oncpu_ns += oncpu_ns;
	r->now.inflight_runq_ns += runq_ns;
}

static void src_cpu_held(void *ctx, __u64 cgid)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = cgid ? sink->known(sink->ctx, cgid) : NULL;

	if (r)
		r->now.held = true;
}

static void src_cpu_born(void *ctx, __u64 cgid, const char *path)
{
	const struct pm_sink *sink = ctx;

	sink->born(sink->ctx, cgid, path);
}

static void src_cpu_gone(void *ctx, __u64 cgid)
{
	const struct pm_sink *sink = ctx;

	sink->gone(sink->ctx, cgid);
}

static int src_cpu_open(void **out, const struct pm_source_env *env, char *err, size_t errlen)
{
	return cpu__open((struct pm_cpu **)out, env->hier, env->cfg->collect.proc_root,
			 env->force_raw_tp, err, errlen);
}

static int src_cpu_read(void *src, const struct pm_sink *sink)
{
	struct pm_cpu_visitor v = {
		.cgroup = src_cpu_cgroup,
		.inflight = src_cpu_inflight,
		.held = src_cpu_held,
		.born = src_cpu_born,
		.gone = src_cpu_gone,
		.ctx = (void *)sink,
	};

	return cpu__read(src, &v);
}

static int src_cpu_refusals(void *src, pm_refusal_fn fn, void *ctx)
{
	return cpu__refusals(src, fn, ctx);
}

static int src_cpu_forget(void *src, const __u64 *cgids, size_t n, int *res)
{
	return cpu__remove(src, cgids, n, res);
}

static void src_cpu_errors(void *src, struct pm_agent_stats *st)
{
	__u64 errs[PM_CPU_ERR_MAX];

	cpu__errors(src, errs);
	st->cgroup_insert_failures = errs[PM_CPU_ERR_CGROUP_FULL];
	st->sched_resyncs = errs[PM_CPU_ERR_RESYNC];
	st->born_lost = errs[PM_CPU_ERR_BORN_LOST];
	st->sched_slices_lost = errs[PM_CPU_ERR_SLICE_LOST];
	st->sched_waits_lost = errs[PM_CPU_ERR_WAIT_LOST];
	st->table_refusals[PM_TABLE_CGROUPS] += errs[PM_CPU_ERR_CGROUP_FULL];
}

static const char *src_cpu_attach_mode(void *src)
{
	return cpu__attach_mode(src);
}

/* The pinned map holds CPU time only: the rest of a restart's retired usage starts at 0. */
static int src_cpu_keep_get(void *src, const char *uid, struct pm_usage *u)
{
	struct pm_retired_val v;
	int err = cpu__retired_get(src, uid, &v);

	if (!err) {
		u->oncpu_ns = v.oncpu_ns;
		u->runq_ns = v.runq_ns;
	}
	return err;
}

static int src_cpu_keep_set(void *src, const char *uid, const struct pm_usage *u)
{
	struct pm_retired_val v = { .oncpu_ns = u->oncpu_ns, .runq_ns = u->runq_ns };

	return cpu__retired_set(src, uid, &v);
}

static void src_cpu_keep_del(void *src, const char *uid)
{
	cpu__retired_del(src, uid);
}

static void src_cpu_close(void *src)
{
	cpu__close(src);
}

const struct pm_source pm_source_cpu = {
	.name = "cpu",
	.reading = "reading the CPU counters",
	.open = src_cpu_open,
	.read = src_cpu_read,
	.refusals = src_cpu_refusals,
	.forget = src_cpu_forget,
	.errors = src_cpu_errors,
	.attach_mode = src_cpu_attach_mode,
	.keep_get = src_cpu_keep_get,
	.keep_set = src_cpu_keep_set,
	.keep_del = src_cpu_keep_del,
	.close = src_cpu_close,
};
