// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads bpf/cuda.bpf.c, finds the copies of libcuda.so mapped by processes
 * and attaches its programs to each, and reads CUDA use per cgroup.
 *
 * Uprobes belong to a file (an inode), not to a process: one attachment to
 * a library counts every process that maps it, in any container. A library
 * is known by the device and inode /proc/<pid>/maps gives, which are the
 * ones uprobes are keyed by (for overlayfs, the underlying file's), and is
 * opened through the process's root so a container's own copy is found.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>
#include <podmeter/cuda.h>
#include <podmeter/u64map.h>
#include "cuda.skel.h"

#define CUDA_MAX_LIBS		64	/* distinct libcuda files attached */
#define CUDA_RESCAN_MIN_S	5	/* a process without libcuda: first rescan after */
#define CUDA_RESCAN_MAX_S	60	/* ... backing off to */
#define CUDA_RECHECK_S		30	/* a process with libcuda: pid reuse checked every */
#define CUDA_FORGET_S		300	/* a pid not passed to scan for this long is forgotten */
#define CUDA_REAP_EVERY		5	/* reads between releases of dead processes' memory */
#define NSEC_PER_SEC		1000000000ULL

/*
 * Entry points and the programs attached to them. Programs of one shape are
 * attached to every variant: _v2 names, Async twins, and the per-thread
 * default stream ones (_ptds, _ptsz) that code built with
 * --default-stream per-thread calls instead.
 */
enum cuda_prog {
	P_LAUNCH,
	P_MEMCPY,
	P_ALLOC,
	P_ALLOC_PITCH,
	P_FREE,
	P_SYNC,
	P_NONE,
};

static const struct cuda_probe {
	const char *sym;
	enum cuda_prog entry;
	bool ret;	/* the return probe of the same family too */
} cuda_probes[] = {
	{ "cuLaunchKernel", P_LAUNCH, false },
	{ "cuLaunchKernel_ptsz", P_LAUNCH, false },
	{ "cuLaunchKernelEx", P_LAUNCH, false },
	{ "cuLaunchKernelEx_ptsz", P_LAUNCH, false },
	{ "cuLaunchCooperativeKernel", P_LAUNCH, false },
	{ "cuLaunchCooperativeKernel_ptsz", P_LAUNCH, false },
	{ "cuMemAlloc_v2", P_ALLOC, true },
	{ "cuMemAllocManaged", P_ALLOC, true },
	{ "cuMemAllocAsync", P_ALLOC, true },
	{ "cuMemAllocAsync_ptsz", P_ALLOC, true },
	{ "cuMemAllocPitch_v2", P_ALLOC_PITCH, true },
	{ "cuMemFree_v2", P_FREE, false },
	{ "cuMemFreeAsync", P_FREE, false },
	{ "cuMemFreeAsync_ptsz", P_FREE, false },
	{ "cuMemcpy", P_MEMCPY, false },
	{ "cuMemcpy_ptds", P_MEMCPY, false },
	{ "cuMemcpyAsync", P_MEMCPY, false },
	{ "cuMemcpyAsync_ptsz", P_MEMCPY, false },
	{ "cuMemcpyHtoD_v2", P_MEMCPY, false },
	{ "cuMemcpyHtoD_v2_ptds", P_MEMCPY, false },
	{ "cuMemcpyHtoDAsync_v2", P_MEMCPY, false },
	{ "cuMemcpyHtoDAsync_v2_ptsz", P_MEMCPY, false },
	{ "cuMemcpyDtoH_v2", P_MEMCPY, false },
	{ "cuMemcpyDtoH_v2_ptds", P_MEMCPY, false },
	{ "cuMemcpyDtoHAsync_v2", P_MEMCPY, false },
	{ "cuMemcpyDtoHAsync_v2_ptsz", P_MEMCPY, false },
	{ "cuMemcpyDtoD_v2", P_MEMCPY, false },
	{ "cuMemcpyDtoD_v2_ptds", P_MEMCPY, false },
	{ "cuMemcpyDtoDAsync_v2", P_MEMCPY, false },
	{ "cuMemcpyDtoDAsync_v2_ptsz", P_MEMCPY, false },
	{ "cuCtxSynchronize", P_SYNC, true },
	{ "cuStreamSynchronize", P_SYNC, true },
	{ "cuStreamSynchronize_ptsz", P_SYNC, true },
};

#define CUDA_NPROBES (sizeof(cuda_probes) / sizeof(cuda_probes[0]))

/* One libcuda file, as maps names it: device and inode. */
struct cuda_lib {
	__u64 dev;
	__u64 ino;
	size_t nlinks;
	struct bpf_link *links[2 * CUDA_NPROBES];
};

/* What is known of a pid passed to cuda__scan(). */
struct cuda_pid {
	__u64 start;		/* start time in clock ticks, against pid reuse */
	__u64 next_ns;		/* not looked at again before */
	__u64 passed_ns;	/* last passed to cuda__scan() */
	__u32 backoff_s;
	bool mapped;		/* maps a libcuda already attached */
};

struct pm_cuda {
	struct cuda_bpf *skel;
	enum pm_hier hier;
	int ncpus;
	long clk_tck;
	unsigned int reads;
	__u64 pruned_ns;
	char proc_root[PATH_MAX];
	struct pm_cuda_val *vals;
	struct bpf_program *progs[P_NONE];
	struct bpf_program *ret_progs[P_NONE];
	struct cuda_lib *libs[CUDA_MAX_LIBS];
	size_t nlibs;
	struct u64map pids;	/* pid -> struct cuda_pid */
	struct u64map released;	/* cgid -> __u64 bytes of dead processes' allocations */
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* open -> configure -> load; programs are attached per library by cuda__scan() */
static int load(struct pm_cuda *c, char *err, size_t errlen)
{
	const char *what = "open";
	int ret;

	c->skel = cuda_bpf__open();
	if (!c->skel) {
		ret = -errno;
		goto out_err;
	}
	c->skel->rodata->track_v1 = c->hier == PM_HIER_V1_CPUACCT;
	c->skel->rodata->hier = c->hier;
	what = "load";
	ret = cuda_bpf__load(c->skel);
	if (ret) {
		cuda_bpf__destroy(c->skel);
		c->skel = NULL;
		goto out_err;
	}
	c->progs[P_LAUNCH] = c->skel->progs.uprobe_launch;
	c->progs[P_MEMCPY] = c->skel->progs.uprobe_memcpy;
	c->progs[P_ALLOC] = c->skel->progs.uprobe_alloc;
	c->progs[P_ALLOC_PITCH] = c->skel->progs.uprobe_alloc_pitch;
	c->progs[P_FREE] = c->skel->progs.uprobe_free;
	c->progs[P_SYNC] = c->skel->progs.uprobe_sync;
	c->ret_progs[P_ALLOC] = c->skel->progs.uretprobe_alloc;
	c->ret_progs[P_ALLOC_PITCH] = c->skel->progs.uretprobe_alloc;
	c->ret_progs[P_SYNC] = c->skel->progs.uretprobe_sync;
	return 0;

out_err:
	snprintf(err, errlen, "cuda: %s uprobe programs: %s", what, strerror(-ret));
	return ret;
}

int cuda__open(struct pm_cuda **out, enum pm_hier hier, const char *proc_root, char *err,
	       size_t errlen)
{
	struct pm_cuda *c;
	int ret = -ENOMEM;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_nomem;
	c->hier = hier;
	c->clk_tck = sysconf(_SC_CLK_TCK);
	snprintf(c->proc_root, sizeof(c->proc_root), "%s", proc_root);
	u64map__init(&c->pids);
	u64map__init(&c->released);
	c->ncpus = libbpf_num_possible_cpus();
	if (c->ncpus <= 0)
		goto out_nomem;
	c->vals = calloc(c->ncpus, sizeof(*c->vals));
	if (!c->vals)
		goto out_nomem;
	ret = load(c, err, errlen);
	if (ret)
		goto out_free;
	*out = c;
	return 0;

out_nomem:
	snprintf(err, errlen, "cuda: set-up: %s", strerror(ENOMEM));
out_free:
	cuda__close(c);
	return ret;
}

/*
 * Which of cuda_probes the file defines, by its symbol tables: an entry
 * point the driver version lacks is skipped without asking libbpf (which
 * would warn for each).
 */
static int defined_symbols(int fd, bool found[CUDA_NPROBES])
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	const char *name;
	size_t i, k, n;
	Elf_Data *data;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -EINVAL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; data && i < n; i++) {
			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    !sym.st_value ||
			    (GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
			     GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC))
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			for (k = 0; name && k < CUDA_NPROBES; k++)
				if (!strcmp(name, cuda_probes[k].sym))
					found[k] = true;
		}
	}
	elf_end(elf);
	return 0;
}

static struct bpf_link *attach_one(struct bpf_program *prog, const char *path, const char *sym,
				   bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = sym, .retprobe = retprobe);

	/* pid -1: every process that maps the file */
	return bpf_program__attach_uprobe_opts(prog, -1, path, 0, &opts);
}

/*
 * Attach every entry point the file defines. The return probe goes first:
 * an entry probe never runs without the return probe that ends its call.
 */
static int attach_lib(struct pm_cuda *c, struct cuda_lib *lib, int fd, const char *shown)
{
	bool found[CUDA_NPROBES] = {};
	char path[64];
	struct bpf_link *ret, *entry;
	const struct cuda_probe *p;
	size_t k;
	int err = 0;

	if (defined_symbols(fd, found))
		return -ENOEXEC;
	/* the open file: neither a process exiting nor the path changing can race */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (k = 0; k < CUDA_NPROBES; k++) {
		p = &cuda_probes[k];
		if (!found[k])
			continue;
		ret = NULL;
		if (p->ret) {
			ret = attach_one(c->ret_progs[p->entry], path, p->sym, true);
			if (!ret) {
				err = -errno;
				continue;
			}
			lib->links[lib->nlinks++] = ret;
		}
		entry = attach_one(c->progs[p->entry], path, p->sym, false);
		if (!entry) {
			err = -errno;
			continue;
		}
		lib->links[lib->nlinks++] = entry;
	}
	if (!lib->nlinks) {
		fprintf(stderr, "warning: cuda: %s: no driver API entry point could be probed: %s; "
				"CUDA use through it is not counted\n",
			shown, err ? strerror(-err) : "none found");
		return err ? err : -ENOENT;
	}
	if (err)
		fprintf(stderr, "warning: cuda: %s: some entry points could not be probed: %s; "
				"counting through the %zu probes attached\n",
			shown, strerror(-err), lib->nlinks);
	return 0;
}

static struct cuda_lib *find_lib(const struct pm_cuda *c, __u64 dev, __u64 ino)
{
	size_t i;

	for (i = 0; i < c->nlibs; i++)
		if (c->libs[i]->dev == dev && c->libs[i]->ino == ino)
			return c->libs[i];
	return NULL;
}

/*
 * Open the file a maps line names: through the process's root, or, when
 * that path no longer names the mapped file (deleted, replaced by an
 * upgrade), through map_files.
 */
static int open_mapped(const struct pm_cuda *c, int pid, const char *range, const char *file,
		       __u64 ino)
{
	char path[PATH_MAX * 2];
	struct stat st;
	int fd = -1;

	if (snprintf(path, sizeof(path), "%s/%d/root%s", c->proc_root, pid, file) <
	    (int)sizeof(path))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && st.st_ino == ino)
		return fd;
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/%d/map_files/%s", c->proc_root, pid, range);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A libcuda maps line: attach to its file unless done already. Returns 1 when newly attached. */
static int add_lib(struct pm_cuda *c, int pid, const char *line)
{
	char range[64], file[PATH_MAX], *deleted;
	unsigned int major, minor;
	unsigned long long ino;
	struct cuda_lib *lib;
	int fd, ret;

	if (sscanf(line, "%63s %*s %*s %x:%x %llu %4095[^\n]", range, &major, &minor, &ino,
		   file) != 5 || file[0] != '/')
		return -EINVAL;
	deleted = strstr(file, " (deleted)");
	if (deleted)
		*deleted = '\0';
	if (find_lib(c, makedev(major, minor), ino))
		return 0;
	if (c->nlibs == CUDA_MAX_LIBS)
		return -ENOSPC;
	fd = open_mapped(c, pid, range, file, ino);
	if (fd < 0)
		return fd;
	lib = calloc(1, sizeof(*lib));
	if (!lib) {
		close(fd);
		return -ENOMEM;
	}
	lib->dev = makedev(major, minor);
	lib->ino = ino;
	/* kept even when nothing attached: the same file is not tried again */
	c->libs[c->nlibs++] = lib;
	ret = attach_lib(c, lib, fd, file);
	close(fd);
	return ret ? ret : 1;
}

static bool is_libcuda(const char *line)
{
	const char *file = strrchr(line, '/');

	return file && !strncmp(file + 1, "libcuda.so", strlen("libcuda.so"));
}

/*
 * Look through a process's maps. Returns the libraries newly attached, and
 * sets @mapped when it maps a libcuda that is attached, or was tried.
 */
static int scan_maps(struct pm_cuda *c, int pid, bool *mapped)
{
	char path[PATH_MAX + 32], *line = NULL;
	size_t cap = 0;
	int n = 0, ret;
	FILE *f;

	*mapped = false;
	snprintf(path, sizeof(path), "%s/%d/maps", c->proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (!strstr(line, "libcuda.so") || !is_libcuda(line))
			continue;
		/* a file that could not be opened is retried when the pid is rescanned */
		ret = add_lib(c, pid, line);
		if (ret >= 0)
			*mapped = true;
		if (ret > 0)
			n += ret;
	}
	free(line);
	fclose(f);
	return n;
}

/* Field 22 of /proc/<pid>/stat, in clock ticks; 0 when the process is gone. */
static __u64 start_ticks(const char *proc_root, __u32 pid)
{
	char path[PATH_MAX + 32], buf[1024], *p;
	unsigned long long start;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
				"%*d %*d %*d %*d %llu", &start) != 1)
		return 0;
	return start;
}

/*
 * One pid: its maps are read when it is new, then again with a growing
 * interval while it maps no libcuda (a program loads it after it starts),
 * and once it does, only its start time is checked, against pid reuse.
 */
static int scan_pid(struct pm_cuda *c, int pid, __u64 now)
{
	struct cuda_pid *p = u64map__get(&c->pids, pid);
	__u64 start;
	bool mapped;
	int n;

	if (p) {
		p->passed_ns = now;
		if (now < p->next_ns)
			return 0;
	}
	start = start_ticks(c->proc_root, pid);
	if (!start) {
		free(u64map__del(&c->pids, pid));
		return 0;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || u64map__put(&c->pids, pid, p)) {
			free(p);
			return -ENOMEM;
		}
		p->passed_ns = now;
	}
	if (p->start != start) {
		p->start = start;
		p->mapped = false;
		p->backoff_s = 0;
	}
	if (p->mapped) {
		p->next_ns = now + CUDA_RECHECK_S * NSEC_PER_SEC;
		return 0;
	}
	n = scan_maps(c, pid, &mapped);
	p->mapped = mapped;
	p->backoff_s = !p->backoff_s ? CUDA_RESCAN_MIN_S
				     : (p->backoff_s * 2 > CUDA_RESCAN_MAX_S ? CUDA_RESCAN_MAX_S
									     : p->backoff_s * 2);
	p->next_ns = now + (mapped ? CUDA_RECHECK_S : p->backoff_s) * NSEC_PER_SEC;
	return n;
}

/* Forget pids no longer passed in (gone, or no longer a pod's). */
static void forget_pids(struct pm_cuda *c, __u64 now)
{
	struct cuda_pid *p;
	size_t it = 0, n = 0, i;
	uint64_t pid, *old;
	void *val;

	if (now - c->pruned_ns < CUDA_FORGET_S * NSEC_PER_SEC / 4)
		return;
	c->pruned_ns = now;
	old = calloc(c->pids.len + 1, sizeof(*old));
	if (!old)
		return;
	while (u64map__next(&c->pids, &it, &pid, &val)) {
		p = val;
		if (now - p->passed_ns > CUDA_FORGET_S * NSEC_PER_SEC)
			old[n++] = pid;
	}
	for (i = 0; i < n; i++)
		free(u64map__del(&c->pids, old[i]));
	free(old);
}

int cuda__scan(struct pm_cuda *c, const int *pids, size_t n)
{
	__u64 now = now_ns();
	int attached = 0, ret;
	size_t i;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		ret = scan_pid(c, pids[i], now);
		if (ret < 0)
			return ret;
		attached += ret;
	}
	forget_pids(c, now);
	return attached;
}

int cuda__scan_all(struct pm_cuda *c)
{
	size_t n = 0, cap = 0;
	int *pids = NULL, *grown, ret;
	struct dirent *d;
	char *end;
	long pid;
	DIR *dir;

	dir = opendir(c->proc_root);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		pid = strtol(d->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			grown = realloc(pids, cap * sizeof(*pids));
			if (!grown) {
				ret = -ENOMEM;
				goto out_free_pids;
			}
			pids = grown;
		}
		pids[n++] = (int)pid;
	}
	ret = cuda__scan(c, pids, n);
out_free_pids:
	free(pids);
	closedir(dir);
	return ret;
}

size_t cuda__libraries(const struct pm_cuda *c)
{
	size_t i, n = 0;

	for (i = 0; i < c->nlibs; i++)
		n += c->libs[i]->nlinks > 0;
	return n;
}

static int add_released(struct pm_cuda *c, __u64 cgid, __u64 bytes)
{
	__u64 *v = u64map__get(&c->released, cgid);

	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v || u64map__put(&c->released, cgid, v)) {
			free(v);
			return -ENOMEM;
		}
	}
	*v += bytes;
	return 0;
}

/*
 * A process that exits frees its device memory without cuMemFree: its
 * allocations are dropped from the table and their bytes released from the
 * cgroups they were charged to (kept here: a per-CPU value written from
 * user space would race the programs'). The next key is taken before an
 * entry is deleted: a deleted key would restart the walk.
 */
static void release_dead(struct pm_cuda *c)
{
	int fd = bpf_map__fd(c->skel->maps.cuda_allocs);
	struct pm_cuda_alloc_key key, next;
	struct pm_cuda_alloc a;
	struct u64map starts;	/* tgid -> its start in clock ticks + 1 (never NULL) */
	uintptr_t start;
	int more;

	u64map__init(&starts);
	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more) {
		key = next;
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (bpf_map_lookup_elem(fd, &key, &a))
			continue;
		/* one /proc read per process and walk; the start time tells reused pids apart */
		start = (uintptr_t)u64map__get(&starts, key.tgid);
		if (!start) {
			start = start_ticks(c->proc_root, key.tgid) + 1;
			u64map__put(&starts, key.tgid, (void *)start);
		}
		if (start - 1 == a.start_time / (NSEC_PER_SEC / c->clk_tck) ||
		    bpf_map_delete_elem(fd, &key))
			continue;
		add_released(c, a.cgid, a.size);
	}
	u64map__free(&starts);
}

int cuda__read(struct pm_cuda *c, const struct pm_cuda_visitor *v)
{
	int fd = bpf_map__fd(c->skel->maps.cuda_stats), i;
	struct pm_cg_key key, next, *prev = NULL;
	struct pm_cuda_val sum;
	__u64 *released;

	if (c->reads++ % CUDA_REAP_EVERY == 0)
		release_dead(c);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.hier != c->hier || bpf_map_lookup_elem(fd, &key, c->vals))
			continue;
		memset(&sum, 0, sizeof(sum));
		for (i = 0; i < c->ncpus; i++) {
			sum.launches += c->vals[i].launches;
			sum.allocs += c->vals[i].allocs;
			sum.frees += c->vals[i].frees;
			sum.bytes_held += c->vals[i].bytes_held;
			sum.bytes_copied += c->vals[i].bytes_copied;
			sum.sync_ns += c->vals[i].sync_ns;
			sum.sync_calls += c->vals[i].sync_calls;
		}
		released = u64map__get(&c->released, key.cgid);
		if (released)
			sum.bytes_held -= (__s64)*released;
		if (sum.bytes_held < 0)
			sum.bytes_held = 0;
		v->usage(v->ctx, key.cgid, &sum);
	}
	return 0;
}

void cuda__remove(struct pm_cuda *c, __u64 cgid)
{
	struct pm_cg_key key = { .cgid = cgid, .hier = c->hier };

	bpf_map_delete_elem(bpf_map__fd(c->skel->maps.cuda_stats), &key);
	free(u64map__del(&c->released, cgid));
}

void cuda__errors(struct pm_cuda *c, __u64 errs[PM_CUDA_ERR_MAX])
{
	bpfutil__sum_counters(c->skel->maps.cuda_errors, PM_CUDA_ERR_MAX, errs);
}

static void free_values(struct u64map *m)
{
	size_t it = 0;
	uint64_t key;
	void *val;

	while (u64map__next(m, &it, &key, &val))
		free(val);
	u64map__free(m);
}

void cuda__close(struct pm_cuda *c)
{
	size_t i, k;

	if (!c)
		return;
	for (i = 0; i < c->nlibs; i++) {
		for (k = 0; k < c->libs[i]->nlinks; k++)
			bpf_link__destroy(c->libs[i]->links[k]);
		free(c->libs[i]);
	}
	cuda_bpf__destroy(c->skel);
	free_values(&c->pids);
	free_values(&c->released);
	free(c->vals);
	free(c);
}
