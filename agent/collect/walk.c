// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The walk: the cgroup hierarchy, to name the ids the sources report (pod,
 * container, or node overhead), count pods' processes and read what only
 * cgroup files hold (working sets, CPU throttling).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <podmeter/cgroupfs.h>
#include <podmeter/esc.h>
#include "collect.h"

#define WALK_MAX_DEPTH	   32
#define WALK_REFRESH_EVERY 12 /* walks: a quiet cgroup's working set, after reclaim */
#define WALK_QUIET_EVERY   60 /* walks: a quiet cgroup's files read again, whatever happened */
#define WALK_FULL_EVERY	   60 /* walks: the hierarchy itself read, whatever the events say */
#define WALK_SETTLE	   2  /* walks: a working set read in full again after it was busy */

/* Pod or node overhead, from the cgroup's path; once per cgroup. */
void walk__classify(struct pm_collector *c, struct cg_rec *r, const char *rel)
{
	char erel[PM_ESC_BUF];
	struct pm_pod_ident id;
	int err;

	if (r->parsed)
		return;
	err = podpath__parse(rel, &id);
	if (err == -EINVAL)
		fprintf(stderr,
			"warning: cgroup: malformed pod cgroup path \"%s\"; "
			"counting it as node overhead\n",
			esc__str(erel, sizeof(erel), rel));
	if (err) {
		r->parsed = true;
		r->grp = overhead__ref(c->oh, rel);
		return;
	}
	r->pod = ledger__pod(c, &id);
	if (!r->pod)
		return; /* out of memory: classified again next time */
	r->parsed = true;
	r->pod->refs++;
	if (id.runtime == PM_RT_NONE && !r->pod->path)
		r->pod->path = strdup(rel); /* NULL (out of memory): no working set */
	memcpy(r->container_id, id.container_id, sizeof(r->container_id));
	r->runtime = id.runtime;
}

/* @r's path, as a walk or an event names it: false when it could not be kept. */
static bool set_rel(struct cg_rec *r, const char *rel)
{
	char *copy;

	if (r->rel && !strcmp(r->rel, rel))
		return true;
	copy = strdup(rel);
	if (!copy)
		return false;
	free(r->rel);
	r->rel = copy;
	return true;
}

/*
 * A cgroup made, named by its event's path from the hierarchy's root: the
 * next walk finds it with those the last one found (walk_records()) when
 * such paths lead into the walked hierarchy, which the first one after
 * each full walk is checked for (its inode is the id). False when they do
 * not (a mount of a part of the hierarchy) or it could not be checked
 * (gone already), and for a path cut short or none (a rename, which moves
 * the paths below it too).
 */
bool walk__born(struct pm_collector *c, struct cg_rec *r, const char *path)
{
	char full[PATH_MAX + PM_CG_PATH_MAX];
	const char *at;
	struct stat st;
	int depth = 0;

	if (path[0] != '/' || strlen(path) >= PM_CG_PATH_MAX - 1)
		return false;
	/* only what a listing would find (walk_dir()): no dot names, no deeper */
	for (at = path; (at = strchr(at, '/')); at++)
		if (at[1] == '.' || ++depth > WALK_MAX_DEPTH)
			return false;
	if (!c->stats.tree_reads || c->born_checked != c->stats.tree_reads) {
		if ((size_t)snprintf(full, sizeof(full), "%s%s", c->root, path) >= sizeof(full) ||
		    stat(full, &st) || st.st_ino != r->cgid)
			return false;
		c->born_checked = c->stats.tree_reads;
	}
	if (!set_rel(r, path))
		return false;
	r->walk_gen = c->walk_gen;
	return true;
}

/*
 * A pod cgroup's processes, by the kernel's list (cgroup.procs), kept with
 * the record; r->procs is its line count. Unreadable: none.
 */
static void read_procs(struct pm_collector *c, struct cg_rec *r, const char *rel)
{
	char path[2 * PATH_MAX], line[32];
	int *grown;
	__u64 n = 0;
	FILE *f;

	r->n_pids = 0;
	r->procs = 0;
	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", c->root, rel);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int pid = atoi(line);

		n++;
		if (pid <= 0)
			continue;
		if (r->n_pids == r->cap_pids) {
			size_t cap = r->cap_pids ? r->cap_pids * 2 : 4;

			grown = realloc(r->pids, cap * sizeof(*grown));
			if (!grown)
				continue;
			r->pids = grown;
			r->cap_pids = cap;
		}
		r->pids[r->n_pids++] = pid;
	}
	fclose(f);
	r->procs = n;
}

/*
 * A pod cgroup's processes, as of its last read, to the sources that follow
 * processes (CUDA's library scanner, NVML's per-process figures).
 */
static void add_jobs(struct pm_collector *c, struct cg_rec *r)
{
	struct pm_cuda_job *grown;
	size_t i;

	for (i = 0; i < r->n_pids; i++) {
		if (c->n_jobs == c->cap_jobs) {
			c->cap_jobs = c->cap_jobs ? c->cap_jobs * 2 : 256;
			grown = realloc(c->jobs, c->cap_jobs * sizeof(*grown));
			if (!grown) {
				c->cap_jobs = c->n_jobs;
				return;
			}
			c->jobs = grown;
		}
		c->jobs[c->n_jobs++] = (struct pm_cuda_job){ .pid = r->pids[i],
							     .cgid = r->cgid,
							     .pod = ledger__uid_hash(r->pod->uid),
							     .ran_ns = c->walk_cpu
									       ? r->n.total.oncpu_ns
									       : 0 };
		u64map__put(&c->pid_cg, (uint64_t)r->pids[i], r);
	}
}

/*
 * A cgroup file, whole, in one or a few read()s: its length, or -1. A file
 * longer than the buffer is cut (memory.stat is about 2 KiB).
 */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

/* The value of @key's "key value" line in @buf (a file's text); -1 when absent or bad. */
static long long kv_value(const char *buf, const char *key)
{
	size_t klen = strlen(key);
	const char *at;
	char *end;
	long long v;

	for (at = buf; at; at = strchr(at, '\n')) {
		if (*at == '\n')
			at++;
		if (strncmp(at, key, klen) || at[klen] != ' ')
			continue;
		errno = 0;
		v = strtoll(at + klen + 1, &end, 10);
		return end == at + klen + 1 || errno ? -1 : v;
	}
	return -1;
}

/* The value of a "key value" line of a cgroup file; -1 when absent. */
static long long cg_stat(const char *path, const char *key)
{
	char buf[16384];

	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	return kv_value(buf, key);
}

/* The memory cgroup's usage (memory.current, v1 memory.usage_in_bytes); -1 when none. */
static long long mem_usage(const struct pm_collector *c, const char *rel)
{
	char path[2 * PATH_MAX + 32], buf[32], *end;
	long long usage;

	if (!c->mem_root[0] || !rel[0])
		return -1;
	snprintf(path, sizeof(path), "%s/%s/%s", c->mem_root, rel,
		 c->mem_v2 ? "memory.current" : "memory.usage_in_bytes");
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	errno = 0;
	usage = strtoll(buf, &end, 10);
	return end == buf || errno || usage < 0 ? -1 : usage;
}

static long long ws_of_usage(const struct pm_collector *c, const char *rel, long long usage)
{
	char path[2 * PATH_MAX + 32];
	long long inactive;

	if (usage < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/memory.stat", c->mem_root, rel);
	inactive = cg_stat(path, c->mem_v2 ? "inactive_file" : "total_inactive_file");
	if (inactive < 0)
		inactive = 0;
	return usage > inactive ? usage - inactive : 0;
}

/*
 * Working set as the kubelet and cAdvisor count it: the memory cgroup's
 * usage less its inactive file pages. -1 when there is no memory cgroup.
 */
long long walk__working_set(const struct pm_collector *c, const char *rel)
{
	return ws_of_usage(c, rel, mem_usage(c, rel));
}

/* Whether the node reclaimed memory after the walk @since (reclaim_seen()). */
static bool reclaimed_since(const struct pm_collector *c, __u64 since)
{
	return c->reclaim_walk > since;
}

/*
 * A working set read again, last @last when the usage was *@usage: the
 * usage first (a small file), then memory.stat's inactive file pages only
 * when the usage moved, the node reclaimed since the walk @since, or
 * @full. With the same usage and no reclaim, pages move between the file
 * lists only when something touches them: @full when the cgroup ran
 * (ws_ran()), at the walks that settle it after (WALK_SETTLE), and at the
 * full reads' turn.
 */
static long long ws_again(const struct pm_collector *c, const char *rel, long long *usage,
			  long long last, __u64 since, bool full)
{
	long long now = mem_usage(c, rel);

	if (!full && last >= 0 && now >= 0 && now == *usage && !reclaimed_since(c, since))
		return last;
	*usage = now;
	return ws_of_usage(c, rel, now);
}

static long long oh_working_set(void *c, const char *rel)
{
	return walk__working_set(c, rel);
}

/* A container's CPU throttling, from the cpu controller's cpu.stat; kept when unreadable. */
static void read_throttling(const struct pm_collector *c, struct cg_rec *r, const char *rel)
{
	char path[2 * PATH_MAX + 16];
	uint64_t periods, usec;

	if (!c->cpu_root[0])
		return;
	snprintf(path, sizeof(path), "%s/%s/cpu.stat", c->cpu_root, rel);
	if (cgroupfs__cpu_throttling(path, &periods, &usec))
		return;
	r->n.total.throttled_periods = periods;
	r->n.total.throttled_usec = usec;
}

/*
 * A container's own CFS quota, from the cpu controller. None without the
 * files (the controller does not manage it); any other failure: as if set.
 */
static bool quota_set(const struct pm_collector *c, const char *rel)
{
	char dir[2 * PATH_MAX];
	int ret;

	if (!c->cpu_root[0])
		return false; /* no throttling is read at all */
	snprintf(dir, sizeof(dir), "%s/%s", c->cpu_root, rel);
	ret = cgroupfs__cpu_quota_set(dir);
	return ret != 0 && ret != -ENOENT;
}

/*
 * Which of a pod cgroup's files are read again at this walk. All of them
 * when it is new, with no CPU source to tell, and at its turn every
 * WALK_QUIET_EVERY-th walk (spread by cgroup id), for what changes with
 * nothing of it running and no event to tell: page cache or socket buffers
 * charged to it. Otherwise each file when what changes it happened since
 * its last read:
 *  - cgroup.procs: a process started, ended or was moved in (without a
 *    process source: it ran, or its turn every WALK_REFRESH_EVERY-th walk,
 *    for a sleeping process moved in);
 *  - the working set: a page fault or a change of resident bytes, or
 *    WALK_RAN_NS of CPU (page cache and kernel memory grow without faults,
 *    but not without running); without a memory source: it ran. And at its
 *    turn every WALK_REFRESH_EVERY-th walk when the node reclaimed memory
 *    since its last read (reclaim_seen()), which lowers it with nothing of
 *    it running. And at each of the WALK_SETTLE walks after one at which
 *    it was busy (WALK_RAN_NS since the walk before), in full: a read while
 *    it ran may fall in the middle of its work (pages still moving to the
 *    active list, the kernel's per-CPU batches of them not yet drained),
 *    and what it did after the read may be too little CPU to count as
 *    running and too little memory to move the usage, which the memory
 *    controller charges in batches. Busy since the walk before, not since
 *    the read: a process that wakes for a moment now and then gathers
 *    WALK_RAN_NS over minutes, read once for it, with nothing to settle;
 *  - throttling: only with a CFS quota of its own (without one it is never
 *    throttled), after WALK_RAN_NS of CPU: less cannot have used up a
 *    quota, whose least is 1 ms a period. The quota is read with the rest,
 *    and once more after the cgroup first ran: a runtime sets the limits
 *    after making the cgroup, before it starts the process.
 * A woken idle process (a health check, a timer) re-reads nothing.
 */
#define WALK_RAN_NS 1000000ULL

enum { FILE_PROCS = 1, FILE_WS = 2, FILE_THROTTLE = 4, FILE_QUOTA = 8, FILE_ALL = 15 };

static __u64 rss_sum(const struct cg_rec *r)
{
	__u64 sum = 0;
	int k;

	for (k = 0; k < PM_MEM_KINDS; k++)
		sum += r->n.now.rss_bytes[k];
	return sum;
}

/*
 * It ran WALK_RAN_NS since its working set was read: it may have touched
 * file pages, which moves them between the file lists with its usage the same.
 */
static bool ws_ran(const struct cg_rec *r)
{
	return r->n.total.oncpu_ns - r->ws_oncpu_ns >= WALK_RAN_NS;
}

/* What moves when cgroup.procs may have changed: process events, else CPU time. */
static __u64 procs_mark(const struct pm_collector *c, const struct pm_usage *u)
{
	return c->walk_proc ? u->starts + u->exits + u->joins : u->oncpu_ns;
}

static unsigned int files_due(const struct pm_collector *c, const struct cg_rec *r)
{
	const struct pm_usage *u = &r->n.total;
	__u64 turn = c->walk_gen + r->cgid;
	unsigned int due = 0;

	if (!c->walk_cpu || !r->files_read || turn % WALK_QUIET_EVERY == 0)
		return FILE_ALL;
	if (procs_mark(c, u) != r->procs_mark || (!c->walk_proc && turn % WALK_REFRESH_EVERY == 0))
		due |= FILE_PROCS;
	if ((turn % WALK_REFRESH_EVERY == 0 && reclaimed_since(c, r->ws_walk)) || ws_ran(r) ||
	    r->ws_settle ||
	    (c->walk_mem ? u->faults != r->ws_faults || rss_sum(r) != r->ws_rss
			 : u->oncpu_ns != r->ws_oncpu_ns))
		due |= FILE_WS;
	if (!r->quota_ran && u->oncpu_ns)
		due |= FILE_QUOTA;
	if (r->cpu_quota && u->oncpu_ns - r->thr_oncpu_ns >= WALK_RAN_NS)
		due |= FILE_THROTTLE;
	return due;
}

static void walk_found(struct pm_collector *c, __u64 ino, const char *rel)
{
	struct cg_rec *r = ledger__cgroup(c, ino);
	unsigned int due;
	bool busy;

	if (!r)
		return;
	set_rel(r, rel); /* out of memory: the old path, or none, until the next walk */
	r->walk_gen = c->walk_gen;
	r->dead = false;
	walk__classify(c, r, rel);
	if (!r->pod)
		return;
	r->pod->live_cgroups++;
	busy = r->files_read && r->n.total.oncpu_ns - r->walk_oncpu_ns >= WALK_RAN_NS;
	r->walk_oncpu_ns = r->n.total.oncpu_ns;
	due = files_due(c, r);
	r->files_read = true;
	if (due & FILE_PROCS) {
		r->procs_mark = procs_mark(c, &r->n.total);
		read_procs(c, r, rel);
	}
	if (due & FILE_WS) {
		/* memory.stat whatever the usage: it ran, or it is settling */
		bool full = ws_ran(r) || r->ws_settle;

		r->ws_settle = busy ? WALK_SETTLE : r->ws_settle ? r->ws_settle - 1 : 0;
		r->pod->files_stale = true;
		r->pod->files_ran |= full;
		r->ws_oncpu_ns = r->n.total.oncpu_ns;
		r->ws_faults = r->n.total.faults;
		r->ws_rss = rss_sum(r);
		/* a container's own, for its allocation; the pod's is read for the pod */
		if (r->container_id[0])
			r->working_set = ws_again(c, rel, &r->ws_usage, r->working_set, r->ws_walk,
						  due == FILE_ALL || full);
		r->ws_walk = c->walk_gen;
	}
	if ((due & FILE_QUOTA) && r->container_id[0]) {
		r->cpu_quota = quota_set(c, rel);
		r->quota_ran = r->n.total.oncpu_ns > 0;
		if (r->cpu_quota)
			due |= FILE_THROTTLE;
	}
	if (due & FILE_THROTTLE) {
		r->thr_oncpu_ns = r->n.total.oncpu_ns;
		if (r->container_id[0])
			read_throttling(c, r, rel);
	}
	add_jobs(c, r);
}

static void walk_dir(struct pm_collector *c, int dfd, char *rel, size_t len, int depth)
{
	struct dirent *de;
	DIR *d;

	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (len + 1 + n >= PATH_MAX || depth >= WALK_MAX_DEPTH)
			continue;
		rel[len] = '/';
		memcpy(rel + len + 1, de->d_name, n + 1);
		/* cgroupfs inode numbers are the kernfs ids BPF sees */
		walk_found(c, de->d_ino, rel);
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			walk_dir(c, sub, rel, len + 1 + n, depth + 1);
		rel[len] = '\0';
	}
	closedir(d);
}

/*
 * Reclaim on the node, for the working sets of cgroups that did not run:
 * /proc/vmstat's pgscan_anon and pgscan_file count pages scanned by every
 * reclaimer (kswapd, direct, a cgroup's limit or memory.high,
 * memory.reclaim), drop_pagecache and drop_slab the writes to drop_caches.
 * Their sum, or UINT64_MAX when unreadable.
 */
static __u64 reclaim_count(const struct pm_collector *c)
{
	static const char *const keys[] = { "pgscan_anon", "pgscan_file", "drop_pagecache",
					    "drop_slab" };
	char path[PATH_MAX + 16], buf[16384];
	__u64 sum = 0;
	long long v;
	size_t k;

	snprintf(path, sizeof(path), "%s/vmstat", c->proc_root);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return UINT64_MAX;
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		v = kv_value(buf, keys[k]);
		if (v > 0)
			sum += v;
	}
	return sum;
}

/* Whether the node reclaimed since the last walk: reclaim_walk is this walk then. */
static void reclaim_seen(struct pm_collector *c)
{
	__u64 n = reclaim_count(c);

	if (n == UINT64_MAX || n != c->reclaim_mark)
		c->reclaim_walk = c->walk_gen;
	c->reclaim_mark = n;
}

/*
 * Whether this walk may take the hierarchy from the records and events
 * (light) rather than read it: with the CPU source's cgroup_mkdir,
 * cgroup_rename and cgroup_rmdir events, a cgroup removed since is named,
 * one made since is found by its path (walk__born()), and one renamed, one
 * whose path does not lead to it, or an id no walk has found asks for a
 * full walk. Full also when events were lost, at the first walk, and every
 * WALK_FULL_EVERY-th walk whatever happened: a cgroup whose making no event
 * told is found at once when anything in it runs (its id is unknown), so
 * the listing only finds the ones where nothing ran.
 */
static bool walk_light(struct pm_collector *c)
{
	if (!c->walk_cpu || !c->walk_gen || c->tree_born || c->unknown_seen ||
	    c->stats.born_lost != c->tree_lost_walked || c->light_walks + 1 >= WALK_FULL_EVERY)
		return false;
	return true;
}

/*
 * The cgroups the last walk found, and those made since (walk__born()),
 * less those removed since, as found again.
 */
static void walk_records(struct pm_collector *c)
{
	struct cg_rec **found = NULL, *r;
	size_t i = 0, n = 0, cap = 0;
	uint64_t key;
	void *v;

	/* walk_found() may add records: collect first, then visit */
	while (u64map__next(&c->cgroups, &i, &key, &v)) {
		r = v;
		if (!r->rel || r->removed || r->walk_gen != c->walk_gen - 1)
			continue;
		if (n == cap) {
			struct cg_rec **grown;

			cap = cap ? cap * 2 : 256;
			grown = realloc(found, cap * sizeof(*grown));
			if (!grown) {
				free(found);
				c->tree_born = true; /* read the hierarchy next time */
				return;
			}
			found = grown;
		}
		found[n++] = r;
	}
	for (i = 0; i < n; i++)
		walk_found(c, found[i]->cgid, found[i]->rel);
	free(found);
}

static void walk(struct pm_collector *c)
{
	static char rel[PATH_MAX];
	struct pod_rec *p;
	struct cg_rec *r;
	struct stat st;
	size_t i = 0;
	uint64_t key;
	bool light;
	void *v;
	int fd;

	c->walk_gen++;
	c->stats.walks++;
	light = walk_light(c);
	reclaim_seen(c);
	i = 0;
	c->ticks_since_walk = 0;
	c->n_jobs = 0;
	u64map__free(&c->pid_cg);
	u64map__init(&c->pid_cg);
	while (u64map__next(&c->pods, &i, &key, &v))
		for (p = v; p; p = p->next_same_hash)
			p->live_cgroups = 0;
	if (light) {
		c->light_walks++;
		walk_records(c);
	} else {
		fd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st)) {
			fprintf(stderr, "warning: cgroup: open %s: %s; keeping the last view\n",
				c->root, strerror(errno));
			if (fd >= 0)
				close(fd);
			return;
		}
		c->stats.tree_reads++;
		c->light_walks = 0;
		c->tree_born = false;
		c->tree_lost_walked = c->stats.born_lost;
		rel[0] = '\0';
		walk_found(c, st.st_ino, "/");
		walk_dir(c, fd, rel, 0, 0);
	}
	for (i = 0; u64map__next(&c->cgroups, &i, &key, &v);) {
		r = v;
		r->dead = r->walk_gen != c->walk_gen;
		if (r->dead) {
			r->procs = 0;
			r->n_pids = 0;
			r->working_set = -1;
		}
	}
}

/*
 * Pods' working sets: of those with a cgroup read again at this walk
 * (files_due()), and every other at its turn every WALK_REFRESH_EVERY-th
 * walk after reclaim on the node, every WALK_QUIET_EVERY-th whatever
 * happened. A pod's cgroup holds more than its containers' (the pause
 * container's, pages of removed containers), so it is read, not summed.
 */
static void refresh_working_sets(struct pm_collector *c)
{
	struct pod_rec *p;
	size_t i = 0;
	uint64_t key;
	void *v;

	while (u64map__next(&c->pods, &i, &key, &v))
		for (p = v; p; p = p->next_same_hash) {
			__u64 turn = c->walk_gen + key;
			bool full = !p->ws_walk || turn % WALK_QUIET_EVERY == 0;

			if (full || p->files_stale ||
			    (turn % WALK_REFRESH_EVERY == 0 && reclaimed_since(c, p->ws_walk))) {
				p->working_set = p->path ? ws_again(c, p->path, &p->ws_usage,
								    p->working_set, p->ws_walk,
								    full || p->files_ran)
							 : -1;
				p->ws_walk = c->walk_gen;
			}
			p->files_stale = p->files_ran = false;
		}
}

/* The walk and what follows it: working sets, overhead groups, the sources' rescans. */
void walk__run(struct pm_collector *c)
{
	const struct pm_source_inst *s;

	walk(c);
	refresh_working_sets(c);
	overhead__refresh(c->oh, oh_working_set, c);
	for (s = c->srcs; s < c->srcs + c->n_srcs; s++)
		if (s->ops->walked)
			s->ops->walked(s->src, c->jobs, c->n_jobs);
}
