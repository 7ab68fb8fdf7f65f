// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loads bpf/mem.bpf.c; reads resident memory, page faults and OOM kills. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>
#include <podmeter/mem.h>
#include <podmeter/pin.h>
#include <podmeter/source.h>
#include <podmeter/u64map.h>
#include "mem.skel.h"

#define VALIDATE_MS 300000 /* between checks that owners are alive, after the first read's */
#define SEED_BATCH  4096   /* tasks the seed walks per read(2): one byte each */
#define SEED_MS	    2000   /* the most the seed may take */

struct pm_mem {
	struct mem_bpf *skel;
	struct pm_pin pin;
	enum pm_hier hier;
	bool seed; /* seed_task loaded: a task iterator */
	long page_size;
	bool checked;		    /* owners checked once */
	struct timespec checked_at; /* monotonic */
	struct ring_buffer *ooms;
	const struct pm_mem_visitor *visitor; /* during mem__read() */
	struct pm_spill spill;		      /* mm_spill */
	struct pm_changed changed;	      /* mem_events' changed set */
	struct pm_changed mm_changed;	      /* mm_state's */
	struct u64map mms;		      /* mm_state as last read, by tgid: struct mm_seen */
	__u64 mms_gen;			      /* reads of it */
};

/* An mm_state entry as last read. */
struct mm_seen {
	__u64 cgid;
	__s64 pages[PM_MEM_KINDS];
	__u64 gen; /* the read that saw it last */
};

static void set_twin(struct mem_bpf *skel, bool tp_btf, bool faults, bool seed)
{
	/* the seed is run by the agent (seed_all()), never attached or pinned */
	bpf_program__set_autoload(skel->progs.seed_task, seed);
	bpf_program__set_autoattach(skel->progs.seed_task, false);
	bpf_program__set_autoload(skel->progs.tp_btf_rss_stat, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_rss_stat, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_mark_victim, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_mark_victim, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_sched_process_fork, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_process_fork, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_cgroup_attach_task, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_cgroup_attach_task, !tp_btf);
	bpf_program__set_autoload(skel->progs.tp_btf_sched_process_exit, tp_btf);
	bpf_program__set_autoload(skel->progs.raw_tp_sched_process_exit, !tp_btf);
	/* exceptions:page_fault_user is x86 only */
	bpf_program__set_autoload(skel->progs.tp_btf_page_fault_user, tp_btf && faults);
	bpf_program__set_autoload(skel->progs.raw_tp_page_fault_user, !tp_btf && faults);
}

static int on_oom(void *ctx, void *data, size_t len)
{
	const struct pm_oom_event *e = data;
	struct pm_mem *mem = ctx;
	char comm[sizeof(e->comm) + 1];

	if (len < sizeof(*e) || !mem->visitor)
		return 0;
	snprintf(comm, sizeof(comm), "%.*s", (int)sizeof(e->comm), e->comm);
	mem->visitor->oom(mem->visitor->ctx, e->cgid, e->pid, comm);
	return 0;
}

/* open -> configure -> load -> attach; one cleanup path */
static int load(void *ctx, bool tp_btf, char *err, size_t errlen)
{
	struct pm_mem *mem = ctx;
	bool faults = libbpf_find_vmlinux_btf_id("page_fault_user", BPF_TRACE_RAW_TP) > 0;
	const char *what = "open";
	int ret;

	mem->skel = mem_bpf__open();
	if (!mem->skel) {
		ret = -errno;
		goto out_err;
	}
	mem->skel->rodata->track_v1 = mem->hier == PM_HIER_V1_CPUACCT;
	mem->skel->rodata->hier = mem->hier;
	set_twin(mem->skel, tp_btf, faults, mem->seed);
	/* one entry per process: the node cannot have more */
	bpfutil__size_split(mem->skel->maps.mm_state, mem->skel->maps.mm_spill, PM_MEM_MAX_MMS);
	ret = pin__load(&mem->pin, mem->skel->skeleton, NULL, &what);
	if (ret)
		goto out_destroy;
	what = "ring buffer of";
	mem->ooms = ring_buffer__new(bpf_map__fd(mem->skel->maps.oom_events), on_oom, mem, NULL);
	if (!mem->ooms) {
		ret = -errno;
		goto out_destroy;
	}
	if (!faults)
		fprintf(stderr, "warning: mem: no page_fault_user tracepoint on this kernel; "
				"page faults are not counted\n");
	return 0;

out_destroy:
	mem_bpf__destroy(mem->skel);
	mem->skel = NULL;
out_err:
	snprintf(err, errlen, "mem: %s %s programs: %s", what, tp_btf ? "tp_btf" : "raw_tp",
		 strerror(-ret));
	return ret;
}

/* tp_btf, else raw_tp */
static int load_twin(struct pm_mem *mem, bool force_raw_tp, char *err, size_t errlen)
{
	return bpfutil__load_twin(load, mem, force_raw_tp, err, errlen);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Every process's resident memory as it stands now (seed_task in
 * bpf/mem.bpf.c), once the programs are attached so that no change falls
 * in between. Bounded: a walk past SEED_MS stops, and the processes it has
 * not reached are counted from their next change. Returns 0 or -errno, and
 * the tasks walked in @tasks.
 */
static int seed(struct pm_mem *mem, unsigned long *tasks, long *ms)
{
	struct timespec t0;
	struct bpf_link *link;
	char buf[SEED_BATCH];
	int fd, ret = 0;
	ssize_t n;

	*tasks = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!mem->seed)
		return -EOPNOTSUPP;
	link = bpf_program__attach_iter(mem->skel->progs.seed_task, NULL);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		ret = -errno;
		goto out_link;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*tasks += n;
		if (ms_since(&t0) > SEED_MS) {
			ret = -ETIME;
			break;
		}
	}
	if (n < 0)
		ret = -errno;
	close(fd);
out_link:
	bpf_link__destroy(link);
	*ms = ms_since(&t0);
	return ret;
}

static void seed_all(struct pm_mem *mem)
{
	unsigned long tasks;
	long ms = 0;
	int err = seed(mem, &tasks, &ms);

	if (!err)
		fprintf(stderr, "mem: resident memory read at start: %lu tasks in %ld ms\n", tasks,
			ms);
	else if (err == -ETIME)
		fprintf(stderr,
			"warning: mem: reading resident memory at start stopped after %lu "
			"tasks (%ld ms); processes not reached are counted from their next "
			"change\n",
			tasks, ms);
	else if (err)
		fprintf(stderr,
			"warning: mem: reading resident memory at start: %s; processes "
			"idle since before the start are counted from their next change\n",
			strerror(-err));
}

int mem__open(struct pm_mem **out, enum pm_hier hier, const char *proc_root, bool force_raw_tp,
	      char *err, size_t errlen)
{
	struct pm_mem *mem;
	int ret = -ENOMEM;

	mem = calloc(1, sizeof(*mem));
	if (!mem)
		goto out_nomem;
	mem->hier = hier;
	mem->page_size = sysconf(_SC_PAGESIZE);
	(void)proc_root; /* the owner checks need no more than kill(2) */
	mem->seed = libbpf_find_vmlinux_btf_id("task", BPF_TRACE_ITER) > 0;
	ret = load_twin(mem, force_raw_tp, err, errlen);
	if (ret && mem->seed) {
		fprintf(stderr,
			"warning: %s; loading again without reading resident memory "
			"at start\n",
			err);
		mem->seed = false;
		ret = load_twin(mem, force_raw_tp, err, errlen);
	}
	if (ret)
		goto out_free;
	seed_all(mem);
	*out = mem;
	return 0;

out_nomem:
	snprintf(err, errlen, "mem: set-up: %s", strerror(ENOMEM));
out_free:
	free(mem);
	return ret;
}

struct rss_read {
	struct pm_mem *mem;
	const struct pm_mem_visitor *v;
	bool keep;   /* mm_state: entries kept in mem->mms; else (the spill) reported */
	bool check;  /* owners checked this read */
	__u32 *dead; /* their tgids, deleted after the walk */
	size_t n_dead, cap_dead;
	size_t n; /* entries seen */
};

static void keep(struct rss_read *rd, __u32 tgid, const struct pm_mm_state *st)
{
	struct pm_mem *mem = rd->mem;
	struct mm_seen *s = u64map__get(&mem->mms, tgid);

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || u64map__put(&mem->mms, tgid, s)) {
			free(s);
			bpfutil__changed_whole_next(&mem->mm_changed); /* out of memory: again */
			return;
		}
	}
	s->cgid = st->cgid;
	memcpy(s->pages, st->pages, sizeof(s->pages));
	s->gen = mem->mms_gen;
}

/* An entry gone from mm_state (its process exited). */
static void mm_gone(void *ctx, const void *key)
{
	struct rss_read *rd = ctx;

	free(u64map__del(&rd->mem->mms, *(const __u32 *)key));
}

/* After a whole read: what it did not see is gone. */
static void drop_unseen(struct pm_mem *mem)
{
	size_t it = 0, n = 0, i;
	uint64_t tgid, *old;
	struct mm_seen *s;
	void *val;

	old = calloc(mem->mms.len + 1, sizeof(*old));
	if (!old)
		return;
	while (u64map__next(&mem->mms, &it, &tgid, &val)) {
		s = val;
		if (s->gen != mem->mms_gen)
			old[n++] = tgid;
	}
	for (i = 0; i < n; i++)
		free(u64map__del(&mem->mms, old[i]));
	free(old);
}

static void report_kept(struct pm_mem *mem, const struct pm_mem_visitor *v)
{
	struct mm_seen *s;
	uint64_t tgid;
	size_t it = 0;
	void *val;
	int k;

	while (u64map__next(&mem->mms, &it, &tgid, &val)) {
		s = val;
		for (k = 0; k < PM_MEM_KINDS; k++)
			if (s->pages[k] > 0)
				v->rss(v->ctx, s->cgid, k, (__u64)s->pages[k] * mem->page_size);
	}
}

static void free_kept(struct pm_mem *mem)
{
	uint64_t tgid;
	size_t it = 0;
	void *val;

	while (u64map__next(&mem->mms, &it, &tgid, &val))
		free(val);
	u64map__free(&mem->mms);
}

static void rss_entry(void *ctx, const void *key, const void *value)
{
	const struct pm_mm_state *st = value;
	struct rss_read *rd = ctx;
	__u32 *grown;
	int k;

	rd->n++;
	if (rd->check && kill(st->tgid, 0) && errno == ESRCH) {
		if (rd->n_dead == rd->cap_dead) {
			grown = realloc(rd->dead, (rd->cap_dead * 2 + 64) * sizeof(*grown));
			if (!grown)
				return;
			rd->dead = grown;
			rd->cap_dead = rd->cap_dead * 2 + 64;
		}
		rd->dead[rd->n_dead++] = *(const __u32 *)key;
		return;
	}
	if (rd->keep) {
		keep(rd, *(const __u32 *)key, st);
		return;
	}
	for (k = 0; k < PM_MEM_KINDS; k++)
		if (st->pages[k] > 0)
			rd->v->rss(rd->v->ctx, st->cgid, k,
				   (__u64)st->pages[k] * rd->mem->page_size);
}

/* The entries of dead owners a read found, out of @map and of what the agent keeps. */
static void drop_dead(struct bpf_map *map, struct rss_read *rd)
{
	size_t i;

	for (i = 0; i < rd->n_dead; i++) {
		bpf_map_delete_elem(bpf_map__fd(map), &rd->dead[i]);
		free(u64map__del(&rd->mem->mms, rd->dead[i]));
	}
	rd->n_dead = 0;
}

/* One of the two tables, whole, its dead owners' entries deleted after. */
static void read_table(struct bpf_map *map, struct rss_read *rd)
{
	rd->n = 0;
	bpfutil__for_each(map, rss_entry, rd);
	drop_dead(map, rd);
}

/*
 * Resident pages by cgroup. mm_state is read by change (the processes whose
 * counters moved, were made or exited: mm_changed), into mem->mms, which is
 * what is reported. The kernel drops a process's entry at its exit;
 * entries whose owner is gone (exits missed while no program was attached:
 * a pinned table from before) are dropped at the first read, and every
 * VALIDATE_MS after, a signal 0 to each owner, in case (a whole read). The
 * spill is read only while it is in use.
 */
static void read_rss(struct pm_mem *mem, const struct pm_mem_visitor *v)
{
	struct rss_read rd = { .mem = mem, .v = v, .keep = true };
	int whole;

	if (!mem->mm_changed.set)
		bpfutil__changed_init(&mem->mm_changed, mem->skel->maps.mm_changed,
				      mem->skel->maps.mm_changed_counts,
				      &mem->skel->bss->mm_changed_epoch);
	if (!mem->checked || ms_since(&mem->checked_at) >= VALIDATE_MS) {
		rd.check = mem->checked = true;
		clock_gettime(CLOCK_MONOTONIC, &mem->checked_at);
		bpfutil__changed_whole_next(&mem->mm_changed);
	}
	mem->mms_gen++;
	whole = bpfutil__changed_each(&mem->mm_changed, mem->skel->maps.mm_state, rss_entry,
				      mm_gone, &rd);
	if (whole == 1)
		drop_unseen(mem);
	drop_dead(mem->skel->maps.mm_state, &rd);
	report_kept(mem, v);
	rd.keep = false;
	if (bpfutil__spill_due(&mem->spill, mem->skel->maps.mm_spills)) {
		read_table(mem->skel->maps.mm_spill, &rd);
		mem->spill.held = rd.n > 0;
	}
	free(rd.dead);
}

struct events_read {
	const struct pm_mem *mem;
	const struct pm_mem_visitor *v;
};

static void events_entry(void *ctx, const void *key, const void *value)
{
	const struct pm_mem_val *sum = value;
	const struct pm_cg_key *k = key;
	struct events_read *rd = ctx;

	if (k->hier == rd->mem->hier)
		rd->v->events(rd->v->ctx, k->cgid, sum->faults, sum->oom_kills);
}

/* The cgroups whose processes faulted or were chosen by the OOM killer since the last read. */
static void read_events(struct pm_mem *mem, const struct pm_mem_visitor *v)
{
	struct events_read rd = { .mem = mem, .v = v };

	if (!mem->changed.set)
		bpfutil__changed_init(&mem->changed, mem->skel->maps.mem_changed,
				      mem->skel->maps.mem_changed_counts,
				      &mem->skel->bss->mem_changed_epoch);
	bpfutil__changed_each(&mem->changed, mem->skel->maps.mem_events, events_entry, NULL, &rd);
}

int mem__read(struct pm_mem *mem, const struct pm_mem_visitor *v)
{
	int err;

	mem->visitor = v;
	err = ring_buffer__consume(mem->ooms);
	mem->visitor = NULL;
	if (err < 0)
		return err;
	read_events(mem, v);
	read_rss(mem, v);
	return 0;
}

int mem__refusals(struct pm_mem *mem, pm_refusal_fn fn, void *ctx)
{
	return bpfutil__read_refusals(mem->skel->maps.refusals, mem->hier, fn, ctx);
}

int mem__remove(struct pm_mem *mem, const __u64 *cgids, size_t n)
{
	return bpfutil__delete_cgroups(mem->skel->maps.mem_events, mem->hier, cgids, n, NULL);
}

void mem__errors(struct pm_mem *mem, __u64 errs[PM_MEM_ERR_MAX])
{
	bpfutil__sum_counters(mem->skel->maps.mem_errors, PM_MEM_ERR_MAX, errs);
}

void mem__close(struct pm_mem *mem)
{
	if (!mem)
		return;
	ring_buffer__free(mem->ooms);
	if (mem->skel)
		pin__release(&mem->pin, mem->skel->skeleton);
	mem_bpf__destroy(mem->skel);
	bpfutil__changed_free(&mem->changed);
	bpfutil__changed_free(&mem->mm_changed);
	free_kept(mem);
	free(mem);
}

/* ---- the collector's source ---- */

static void src_mem_events(void *ctx, __u64 cgid, __u64 faults, __u64 oom_kills)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);

	if (!r || r->retired)
		return;
	usage__raise(&r->total.faults, faults);
	usage__raise(&r->total.oom_kills, oom_kills);
}

static void src_mem_rss(void *ctx, __u64 cgid, int kind, __u64 bytes)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);

	if (r && kind >= 0 && kind < PM_MEM_KINDS)
		r->now.rss_bytes[kind] += bytes;
}

static void src_mem_oom(void *ctx, __u64 cgid, __u32 pid, const char *comm)
{
	const struct pm_sink *sink = ctx;

	sink->oom(sink->ctx, cgid, pid, comm);
}

static int src_mem_open(void **out, const struct pm_source_env *env, char *err, size_t errlen)
{
	return mem__open((struct pm_mem **)out, env->hier, env->cfg->collect.proc_root,
			 env->force_raw_tp, err, errlen);
}

static int src_mem_read(void *src, const struct pm_sink *sink)
{
	struct pm_mem_visitor v = {
		.events = src_mem_events,
		.rss = src_mem_rss,
		.oom = src_mem_oom,
		.ctx = (void *)sink,
	};

	return mem__read(src, &v);
}

static int src_mem_refusals(void *src, pm_refusal_fn fn, void *ctx)
{
	return mem__refusals(src, fn, ctx);
}

/* Memory events of a cgroup come only from its tasks: none are left. */
static int src_mem_forget(void *src, const __u64 *cgids, size_t n, int *res)
{
	memset(res, 0, n * sizeof(*res));
	mem__remove(src, cgids, n);
	return 0;
}

static void src_mem_errors(void *src, struct pm_agent_stats *st)
{
	__u64 errs[PM_MEM_ERR_MAX];

	mem__errors(src, errs);
	st->mem_insert_failures = errs[PM_MEM_ERR_CGROUP_FULL];
	st->mm_insert_failures = errs[PM_MEM_ERR_MM_FULL];
	st->oom_lost = errs[PM_MEM_ERR_OOM_LOST];
	st->table_refusals[PM_TABLE_MMS] += errs[PM_MEM_ERR_MM_FULL];
	st->table_refusals[PM_TABLE_CGROUPS] += errs[PM_MEM_ERR_CGROUP_FULL];
}

static void src_mem_close(void *src)
{
	mem__close(src);
}

const struct pm_source pm_source_mem = {
	.name = "mem",
	.reading = "reading the memory counters",
	.open = src_mem_open,
	.read = src_mem_read,
	.refusals = src_mem_refusals,
	.forget = src_mem_forget,
	.errors = src_mem_errors,
	.close = src_mem_close,
};
