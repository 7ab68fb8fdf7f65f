/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The daemon's modules: CPU signal, collector. */
#ifndef PODMETER_AGENT_H
#define PODMETER_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <podmeter/config.h>
#include <podmeter/cpu.h>
#include <podmeter/mem.h>
#include <podmeter/net.h>
#include <podmeter/proc.h>
#include <podmeter/snapshot.h>

/* ---- agent/bpfutil.c ---- */
struct bpf_map;

/* Sum a per-CPU array of @n __u64 counters over CPUs into @out (0 on error). */
void bpfutil__sum_counters(struct bpf_map *map, __u32 n, __u64 *out);
bool bpfutil__kernel_at_least(int major, int minor);

/* ---- agent/cpu.c: loads bpf/cpu.bpf.c and reads its maps ---- */
struct pm_cpu;

struct pm_cpu_visitor {
	/* once per cgroup in the map, values summed over CPUs */
	void (*cgroup)(void *ctx, __u64 cgid, const struct pm_cpu_val *sum);
	/* amounts not in the map yet: pending on a CPU, or the slice running now */
	void (*inflight)(void *ctx, __u64 cgid, __u64 oncpu_ns, __u64 runq_ns);
	/* a cgroup a CPU still holds (pending or running): not to be retired yet */
	void (*held)(void *ctx, __u64 cgid);
	/* a cgroup made since the last read, with its path from the hierarchy root */
	void (*born)(void *ctx, __u64 cgid, const char *path);
	void *ctx;
};

/*
 * Open, configure for @hier, load and attach (running slices are read from
 * @proc_root/<tid>/schedstat): tp_btf first, raw_tp when
 * tp_btf cannot load or attach (or when @force_raw_tp). Returns 0 or a
 * negative errno with @err set.
 */
int cpu__open(struct pm_cpu **out, enum pm_hier hier, const char *proc_root, bool force_raw_tp,
	      char *err, size_t errlen);
const char *cpu__attach_mode(const struct pm_cpu *cpu);
/* Visit new cgroups, every cgroup in the map, then what the map does not hold yet. */
int cpu__read(struct pm_cpu *cpu, const struct pm_cpu_visitor *v);
int cpu__remove(struct pm_cpu *cpu, __u64 cgid);
void cpu__errors(struct pm_cpu *cpu, __u64 errs[PM_CPU_ERR_MAX]);
void cpu__close(struct pm_cpu *cpu);

/* ---- agent/mem.c: loads bpf/mem.bpf.c and reads its maps ---- */
struct pm_mem;

struct pm_mem_visitor {
	/* cumulative page faults and OOM kills of a cgroup */
	void (*events)(void *ctx, __u64 cgid, __u64 faults, __u64 oom_kills);
	/* resident bytes of one address space, of one kind (enum pm_mem_kind) */
	void (*rss)(void *ctx, __u64 cgid, int kind, __u64 bytes);
	/* an OOM kill since the last read */
	void (*oom)(void *ctx, __u64 cgid, __u32 pid, const char *comm);
	void *ctx;
};

int mem__open(struct pm_mem **out, enum pm_hier hier, const char *proc_root, bool force_raw_tp,
	      char *err, size_t errlen);
int mem__read(struct pm_mem *mem, const struct pm_mem_visitor *v);
int mem__remove(struct pm_mem *mem, __u64 cgid);
void mem__errors(struct pm_mem *mem, __u64 errs[PM_MEM_ERR_MAX]);
void mem__close(struct pm_mem *mem);

/* ---- agent/net.c: loads bpf/net.bpf.c (cgroup v2 ids only) ---- */
struct pm_net;

struct pm_net_visitor {
	/* cumulative IP bytes and packets of a cgroup, one direction and class */
	void (*traffic)(void *ctx, __u64 cgid, __u32 dir, __u32 cls, __u64 bytes, __u64 packets);
	/* cumulative TCP retransmits of a cgroup */
	void (*retransmits)(void *ctx, __u64 cgid, __u64 n);
	void *ctx;
};

int net__open(struct pm_net **out, const struct pm_config *cfg, const char *v2_root,
	      bool force_raw_tp, char *err, size_t errlen);
int net__read(struct pm_net *net, const struct pm_net_visitor *v);
void net__remove(struct pm_net *net, __u64 cgid);
void net__errors(struct pm_net *net, __u64 errs[PM_NET_ERR_MAX]);
void net__close(struct pm_net *net);

/* ---- agent/proc.c: loads bpf/proc.bpf.c ---- */
struct pm_proc;

struct pm_proc_visitor {
	/* cumulative processes started in a cgroup */
	void (*starts)(void *ctx, __u64 cgid, __u64 n);
	/* a process exited longer than the grace period ago and not reaped */
	void (*zombie)(void *ctx, __u64 cgid, __u32 pid, __u32 ppid, const char *comm,
		       const char *parent_comm, double age_s);
	void *ctx;
};

int proc__open(struct pm_proc **out, enum pm_hier hier, __u64 zombie_grace_ms, bool force_raw_tp,
	       char *err, size_t errlen);
int proc__read(struct pm_proc *p, const struct pm_proc_visitor *v);
void proc__remove(struct pm_proc *p, __u64 cgid);
void proc__errors(struct pm_proc *p, __u64 errs[PM_PROC_ERR_MAX]);
void proc__close(struct pm_proc *p);

/* ---- agent/kubemeta.c: pod names, owners, requests (kubelet or /var/log/pods) ---- */
struct pm_kubemeta;

int kubemeta__open(struct pm_kubemeta **out, const struct pm_config *cfg);
void kubemeta__poke(struct pm_kubemeta *k);	/* refresh now: an unknown pod showed up */
size_t kubemeta__label(struct pm_kubemeta *k, struct pm_snapshot *s);
uint64_t kubemeta__errors(struct pm_kubemeta *k);
void kubemeta__close(struct pm_kubemeta *k);

/* ---- agent/collector.c: maps -> pods -> snapshots ---- */
struct pm_collector;

int collector__open(struct pm_collector **out, const struct pm_config *cfg, char *err,
		    size_t errlen);
/* Collect now and publish a new snapshot. */
int collector__tick(struct pm_collector *c);
/* A snapshot collected no earlier than this call (collects when needed). */
struct pm_snapshot *collector__fresh(void *collector);
void collector__close(struct pm_collector *c);
/* The hierarchy walked for pods (for the start-up line). */
const char *collector__root(const struct pm_collector *c);
const char *collector__attach_mode(const struct pm_collector *c);
/* The last periodic snapshot, referenced (put it); NULL before the first. */
struct pm_snapshot *collector__last(struct pm_collector *c);
/* Called at each collection to fill the report counters of the snapshot. */
void collector__set_report_stats(struct pm_collector *c,
				 void (*fn)(void *ctx, struct pm_report_stats *st), void *ctx);

/* ---- agent/reporter.c: windows -> reports -> spool -> shipper ---- */
struct pm_reporter;

int reporter__open(struct pm_reporter **out, const struct pm_config *cfg, char *err,
		   size_t errlen);
/* A periodic snapshot: added to the window, which is closed into a report when due. */
void reporter__tick(struct pm_reporter *r, const struct pm_snapshot *s);
/* Stopping: close the window so far into a final report. */
void reporter__finish(struct pm_reporter *r);
void reporter__stats(void *r, struct pm_report_stats *st);
void reporter__close(struct pm_reporter *r);

#endif /* PODMETER_AGENT_H */
