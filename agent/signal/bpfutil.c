// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Small things every signal's loader needs. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>

/* @sum = the @ncpus copies of a value of @vsz bytes in @copies, counter by __u64 counter. */
static void sum_copies(__u64 *sum, const void *copies, size_t vsz, int ncpus)
{
	const __u64 *v = copies;
	size_t n = vsz / sizeof(__u64), f;
	int c;

	memcpy(sum, v, vsz);
	for (c = 1; c < ncpus; c++)
		for (f = 0, v += n; f < n; f++)
			sum[f] += v[f];
}

void bpfutil__sum_counters(struct bpf_map *map, __u32 n, __u64 *out)
{
	int fd = bpf_map__fd(map), ncpus = libbpf_num_possible_cpus();
	__u64 *vals = ncpus > 0 ? calloc(ncpus, sizeof(*vals)) : NULL;
	__u32 i;

	for (i = 0; i < n; i++) {
		out[i] = 0;
		if (vals && !bpf_map_lookup_elem(fd, &i, vals))
			sum_copies(&out[i], vals, sizeof(*vals), ncpus);
	}
	free(vals);
}

bool bpfutil__kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma, mi;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

static __u32 read_sysctl(const char *path, __u32 fallback)
{
	unsigned long v;
	FILE *f = fopen(path, "re");
	int n;

	if (!f)
		return fallback;
	n = fscanf(f, "%lu", &v);
	fclose(f);
	return n == 1 && v > 0 && v <= UINT32_MAX ? (__u32)v : fallback;
}

__u32 bpfutil__task_limit(__u32 *pid_max, __u32 *threads_max)
{
	/* the kernel's own bounds: PID_MAX_LIMIT, and its default pid_max */
	__u32 p = read_sysctl("/proc/sys/kernel/pid_max", 4194304);
	__u32 t = read_sysctl("/proc/sys/kernel/threads-max", 4194304);

	if (pid_max)
		*pid_max = p;
	if (threads_max)
		*threads_max = t;
	return p < t ? p : t;
}

bool bpfutil__alloc_on_use(void)
{
	/* 6.1: run-time allocated hash maps in every tracing program (bpf_mem_alloc) */
	return bpfutil__kernel_at_least(6, 1);
}

void bpfutil__size_by_tasks(struct bpf_map *map, __u32 prealloc_max)
{
	__u32 n = bpfutil__task_limit(NULL, NULL);

	if (bpfutil__alloc_on_use()) {
		bpf_map__set_map_flags(map, bpf_map__map_flags(map) | BPF_F_NO_PREALLOC);
	} else if (n > prealloc_max) {
		n = prealloc_max;
	}
	bpf_map__set_max_entries(map, n);
}

#define PM_SPILL_MIN 4096

void bpfutil__size_split(struct bpf_map *first, struct bpf_map *spill, __u32 first_max)
{
	__u32 n = bpfutil__task_limit(NULL, NULL), f = n < first_max ? n : first_max;

	if (bpfutil__alloc_on_use()) {
		bpf_map__set_map_flags(first, bpf_map__map_flags(first) | BPF_F_NO_PREALLOC);
		bpf_map__set_map_flags(spill, bpf_map__map_flags(spill) | BPF_F_NO_PREALLOC);
		/* allocated as used: a spill with no rest to hold costs its buckets alone */
		bpf_map__set_max_entries(spill, n > f ? n - f : PM_SPILL_MIN);
	} else {
		bpf_map__set_max_entries(spill, 1); /* preallocated: the first alone */
	}
	bpf_map__set_max_entries(first, f);
}

bool bpfutil__spill_due(struct pm_spill *s, struct bpf_map *spills)
{
	__u32 zero = 0;
	__u64 n = 0;
	bool due;

	if (bpfutil__lookup(spills, &zero, &n))
		return true; /* unreadable: read the spill */
	/* counted before the read: an insert after it is seen next time */
	due = !s->read || s->held || n != s->spills;
	s->read = true;
	s->spills = n;
	return due;
}

__u64 bpfutil__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/*
 * The flag is taken before the read: a count after it sets it again, for
 * the next read. A count before it is in the table the read visits.
 */
bool bpfutil__moved_due(struct pm_moved *m, volatile __u32 *flag)
{
	if (__atomic_exchange_n(flag, 0, __ATOMIC_SEQ_CST) || !m->read)
		return true;
	return m->gone_since_ns && bpfutil__now_ns() - m->gone_since_ns >= PM_MOVED_GONE_NS;
}

int bpfutil__moved_gone(struct pm_moved *m, __u64 cgid)
{
	if (!m->gone_since_ns)
		m->gone_since_ns = bpfutil__now_ns();
	return u64map__put(&m->gone, cgid, m);
}

bool bpfutil__moved_drop(const struct pm_moved *m, struct bpf_map *map, const void *key, __u64 cgid)
{
	if (!m->gone.len || !u64map__get(&m->gone, cgid))
		return false;
	bpf_map_delete_elem(bpf_map__fd(map), key);
	return true;
}

int bpfutil__moved_read(struct pm_moved *m, int err)
{
	m->read = !err; /* failed: what moved is read next time */
	if (err)
		return err;
	m->gone_since_ns = 0;
	u64map__free(&m->gone);
	return 0;
}

void bpfutil__moved_free(struct pm_moved *m)
{
	u64map__free(&m->gone);
}

/* The next key is taken before an entry is deleted: a deleted key restarts the walk. */
int bpfutil__read_refusals(struct bpf_map *map, enum pm_hier hier, pm_refusal_fn fn, void *ctx)
{
	int fd = bpf_map__fd(map), more;
	struct pm_refusal_key key, next;
	__u64 n;

	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more) {
		key = next;
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (key.hier != hier || key.table >= PM_TABLES || bpf_map_lookup_elem(fd, &key, &n))
			continue;
		if (fn(ctx, key.cgid, key.table, n))
			bpf_map_delete_elem(fd, &key);
	}
	return 0;
}

#define BATCH 256

struct entry_walk {
	pm_entry_fn fn;
	void *ctx;
	int ncpus; /* copies of each value; 1 unless per-CPU */
	size_t vsz;
	__u64 *sum; /* a per-CPU map's value, summed */
};

/* @val: the entry's ncpus copies. */
static void entry(struct entry_walk *w, const void *key, const void *val)
{
	if (w->ncpus == 1) {
		w->fn(w->ctx, key, val);
		return;
	}
	sum_copies(w->sum, val, w->vsz, w->ncpus);
	w->fn(w->ctx, key, w->sum);
}

/* Key by key, for kernels without batch lookups (before 5.6). */
static int for_each_walk(int fd, size_t ksz, void *key, void *next, void *val, struct entry_walk *w)
{
	int more = !bpf_map_get_next_key(fd, NULL, next);

	while (more) {
		memcpy(key, next, ksz);
		/* the next key first: a deleted key would restart the walk */
		more = !bpf_map_get_next_key(fd, key, next);
		if (!bpf_map_lookup_elem(fd, key, val))
			entry(w, key, val);
	}
	return 0;
}

static bool per_cpu(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

int bpfutil__for_each(struct bpf_map *map, pm_entry_fn fn, void *ctx)
{
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	struct entry_walk w = { .fn = fn, .ctx = ctx, .ncpus = 1, .vsz = vsz };
	int fd = bpf_map__fd(map), err = 0;
	char *keys = NULL, *vals = NULL;
	__u64 token = 0; /* the kernel's position: a bucket number for hashes */
	bool first = true;
	__u32 n, i;

	if (per_cpu(bpf_map__type(map))) {
		/* each CPU's copy in turn, as the kernel copies them out */
		w.ncpus = libbpf_num_possible_cpus();
		if (w.ncpus <= 0)
			return w.ncpus ? w.ncpus : -EINVAL;
		if (vsz % sizeof(__u64))
			return -EINVAL;
		w.sum = malloc(vsz);
		if (!w.sum)
			return -ENOMEM;
		vsz *= w.ncpus;
	}
	keys = malloc(BATCH * ksz);
	vals = malloc(BATCH * vsz);
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out_free;
	}
	do {
		n = BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &n, NULL);
		if (err < 0 && err != -ENOENT) {
			if (first)
				err = for_each_walk(fd, ksz, keys, keys + ksz, vals, &w);
			break; /* a bucket of more than BATCH entries: not with a hash's spread */
		}
		for (i = 0; i < n; i++)
			entry(&w, keys + i * ksz, vals + i * vsz);
		first = false;
	} while (!err);
	if (err == -ENOENT)
		err = 0;
out_free:
	free(keys);
	free(vals);
	free(w.sum);
	return err;
}

int bpfutil__lookup(struct bpf_map *map, const void *key, void *value)
{
	size_t vsz = bpf_map__value_size(map);
	int ncpus, err = 0;
	void *copies;

	if (!per_cpu(bpf_map__type(map)))
		return bpf_map_lookup_elem(bpf_map__fd(map), key, value) ? -errno : 0;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	if (vsz % sizeof(__u64))
		return -EINVAL;
	copies = malloc(vsz * ncpus);
	if (!copies)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(map), key, copies))
		err = -errno;
	else
		sum_copies(value, copies, vsz, ncpus);
	free(copies);
	return err;
}

int bpfutil__load_twin(int (*load)(void *ctx, bool tp_btf, char *err, size_t errlen), void *ctx,
		       bool force_raw_tp, char *err, size_t errlen)
{
	int ret = force_raw_tp ? -EOPNOTSUPP : load(ctx, true, err, errlen);

	if (!ret)
		return 0;
	if (!force_raw_tp)
		fprintf(stderr, "warning: %s; falling back to raw_tp\n", err);
	return load(ctx, false, err, errlen);
}

/* ---- stats maps read by change ---- */

/* A whole read this often even so: a bound on what a mark the set lost could hide. */
#define PM_CHANGED_WHOLE_EVERY 60
/* ... and when more than this share of the entries (and 64) changed */
#define PM_CHANGED_WHOLE_SHARE 4

void bpfutil__changed_init(struct pm_changed *c, struct bpf_map *set, struct bpf_map *counts,
			   __u64 *epoch)
{
	struct timespec now;

	memset(c, 0, sizeof(*c));
	c->set = set;
	c->counts = counts;
	c->epoch = epoch;
	/*
	 * Marks in pinned values are from an earlier agent's epochs: start
	 * where none of them can be.
	 */
	clock_gettime(CLOCK_REALTIME, &now);
	__atomic_store_n(c->epoch, (__u64)now.tv_sec * 1000000000ULL + now.tv_nsec,
			 __ATOMIC_RELEASE);
}

static int keys_room(struct pm_changed_key **keys, size_t *cap, size_t want)
{
	struct pm_changed_key *grown;
	size_t n = *cap ? *cap : 256;

	if (want <= *cap)
		return 0;
	while (n < want)
		n *= 2;
	grown = realloc(*keys, n * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	*keys = grown;
	*cap = n;
	return 0;
}

/*
 * The set's keys into c->keys, deleted from it; those put in at @epoch
 * (after the agent moved to it) also into c->last, for the next read.
 */
static int drain(struct pm_changed *c, __u64 epoch)
{
	size_t ksz = bpf_map__key_size(c->set);
	int fd = bpf_map__fd(c->set), err;
	__u64 vals[BATCH], token = 0;
	char raw[BATCH * sizeof(struct pm_changed_key)];
	bool first = true;
	__u32 n, i;

	if (ksz > sizeof(struct pm_changed_key))
		return -EINVAL;
	c->n_keys = c->n_last = 0;
	do {
		err = keys_room(&c->keys, &c->cap_keys, c->n_keys + BATCH);
		if (!err)
			err = keys_room(&c->last, &c->cap_last, c->n_last + BATCH);
		if (err)
			return err;
		n = BATCH;
		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &token, &token, raw, vals,
						      &n, NULL);
		if (err < 0 && err != -ENOENT)
			return err;
		for (i = 0; i < n; i++) {
			struct pm_changed_key *k = &c->keys[c->n_keys + i];

			memset(k, 0, sizeof(*k));
			memcpy(k, raw + i * ksz, ksz);
			if (vals[i] == epoch)
				c->last[c->n_last++] = *k;
		}
		c->n_keys += n;
		first = false;
	} while (!err);
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct pm_changed_key));
}

/*
 * Whether this read must be whole; c->keys holds the drained set either
 * way, and c->last the part of it the next read looks at again.
 */
static bool whole_due(struct pm_changed *c)
{
	__u32 lost_key = PM_CHANGED_LOST, puts_key = PM_CHANGED_PUTS;
	__u64 lost = 0, puts = 0, epoch;
	bool whole, fresh;
	int err;

	/*
	 * A new epoch first: a counter that moves from now on is marked again.
	 * One marked at the new epoch before the drain, and counted again
	 * unmarked after it, is read by the next read too (drain()).
	 */
	epoch = __atomic_add_fetch(c->epoch, 1, __ATOMIC_SEQ_CST);
	whole = c->no_batch || !c->whole_done || c->reads >= PM_CHANGED_WHOLE_EVERY;
	/*
	 * Nothing put in since the last drain began: nothing to drain. A put
	 * is counted after its key is in, and the count read before the drain.
	 */
	fresh = !bpfutil__lookup(c->counts, &puts_key, &puts);
	if (c->no_batch || (fresh && c->drained && puts == c->puts_seen)) {
		c->n_keys = c->n_last = 0;
		err = 0;
	} else {
		err = drain(c, epoch);
		c->drained = !err && fresh;
		c->puts_seen = puts;
	}
	if (err) {
		/*
		 * Whole, and from now on when the kernel has no batch deletes
		 * (before 5.6); not for want of memory. The keys drained so
		 * far stay for the next read to look at again.
		 */
		c->no_batch = err != -ENOMEM;
		whole = true;
	}
	if (bpfutil__lookup(c->counts, &lost_key, &lost) || lost != c->lost_seen)
		whole = true;
	c->lost_seen = lost;
	return whole;
}

struct counted {
	pm_entry_fn fn;
	void *ctx;
	size_t n;
};

static void count_entry(void *ctx, const void *key, const void *value)
{
	struct counted *w = ctx;

	w->n++;
	w->fn(w->ctx, key, value);
}

static int read_whole(struct pm_changed *c, struct bpf_map *stats, pm_entry_fn fn, void *ctx)
{
	struct counted w = { .fn = fn, .ctx = ctx };
	int err = bpfutil__for_each(stats, count_entry, &w);

	if (!err) {
		c->whole_done = true;
		c->reads = 0;
		c->entries = w.n;
	}
	return err;
}

void bpfutil__changed_whole_next(struct pm_changed *c)
{
	c->whole_done = false;
}

int bpfutil__changed_each(struct pm_changed *c, struct bpf_map *stats, pm_entry_fn fn,
			  pm_key_fn gone, void *ctx)
{
	size_t vsz = bpf_map__value_size(stats), n, i, u;
	void *val;
	int err;

	/* the last read's keys to look at again, before the drain replaces them */
	n = c->n_last;
	if (keys_room(&c->prev, &c->cap_prev, n)) {
		n = 0;
		c->whole_done = false; /* read whole instead */
	}
	memcpy(c->prev, c->last, n * sizeof(*c->prev));
	/* a batch read costs less than a lookup a cgroup once many changed */
	if (whole_due(c) || c->n_keys + n > c->entries / PM_CHANGED_WHOLE_SHARE + 64) {
		err = read_whole(c, stats, fn, ctx);
		return err ? err : 1;
	}
	c->reads++;
	val = malloc(vsz);
	if (!val || keys_room(&c->keys, &c->cap_keys, c->n_keys + n)) {
		free(val);
		c->whole_done = false; /* what was drained is read next time, whole */
		return -ENOMEM;
	}
	/* this read's and the ones the last read left, each once */
	memcpy(c->keys + c->n_keys, c->prev, n * sizeof(*c->keys));
	n += c->n_keys;
	qsort(c->keys, n, sizeof(*c->keys), cmp_key);
	for (i = 0, u = 0; i < n; i++)
		if (!u || cmp_key(&c->keys[i], &c->keys[u - 1]))
			c->keys[u++] = c->keys[i];
	for (i = 0; i < u; i++) {
		err = bpfutil__lookup(stats, &c->keys[i], val);
		if (!err)
			fn(ctx, &c->keys[i], val);
		else if (err == -ENOENT && gone)
			gone(ctx, &c->keys[i]);
	}
	free(val);
	return 0;
}

/* One key at a time, from @i on. */
static void delete_each(int fd, const struct pm_cg_key *keys, size_t i, size_t n, int *res)
{
	int got;

	for (; i < n; i++) {
		got = !bpf_map_delete_elem(fd, &keys[i]) ? 1 : errno == ENOENT ? 0 : -errno;
		if (res)
			res[i] = got;
	}
}

int bpfutil__delete_cgroups(struct bpf_map *map, enum pm_hier hier, const __u64 *cgids, size_t n,
			    int *res)
{
	int fd = bpf_map__fd(map), err;
	struct pm_cg_key *keys;
	size_t i;
	__u32 count;

	if (!n)
		return 0;
	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		keys[i].cgid = cgids[i];
		keys[i].hier = hier;
	}
	/* a batch stops at the first key it cannot delete: that one, then the rest */
	for (i = 0; i < n;) {
		count = n - i;
		err = bpf_map_delete_batch(fd, &keys[i], &count, NULL);
		if (err && err != -ENOENT) {
			/*
			 * Refused (no batches before 5.6), where the count is
			 * not written back: one at a time (a key the batch
			 * deleted already reads absent).
			 */
			delete_each(fd, keys, i, n, res);
			break;
		}
		if (count > n - i)
			count = n - i;
		for (; count; count--, i++)
			if (res)
				res[i] = 1;
		if (!err || i == n)
			break;
		if (res)
			res[i] = 0; /* absent */
		i++;
	}
	free(keys);
	return 0;
}

void bpfutil__changed_free(struct pm_changed *c)
{
	free(c->keys);
	free(c->last);
	free(c->prev);
	c->keys = c->last = c->prev = NULL;
}
