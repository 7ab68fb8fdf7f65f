// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads bpf/cuda.bpf.c, finds the copies of libcuda.so mapped by processes
 * and attaches its programs to each, and reads CUDA use per cgroup.
 *
 * Uprobes belong to a file (an inode), not to a process: one attachment to
 * a library counts every process that maps it, in any container, and a
 * second one would count every call twice. A library is known by the
 * device and inode /proc/<pid>/maps gives, and is opened inside the
 * process's root so a container's own copy is found. Containers of one
 * image map one file of its layer, but each through an overlayfs mount of
 * its own, which maps name by its own device (Linux >= 6.8): a file opened
 * is checked against those attached already (struct pm_file_id) before it
 * is attached again.
 *
 * Everything a pod controls is handled apart from the collector: the
 * files are its (podfile opens them safely, elfsym reads them bounded),
 * and looking through maps, opening, reading and attaching happen in a
 * thread of this module's, handed the pods' processes at each walk. A
 * file that hangs or takes long stalls that thread only; the collector
 * and /healthz go on. The libraries table is shared by every pod: each
 * pod may add at most CUDA_LIBS_PER_POD files to it, and a refused file
 * is not looked at again for CUDA_RETRY_S.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include <podmeter/elfsym.h>
#include <podmeter/esc.h>
#include <podmeter/podfile.h>
#include <podmeter/source.h>
#include <podmeter/u64map.h>
#include "cuda.skel.h"

#define CUDA_MAX_LIBS	     256       /* distinct libcuda files, attached or refused */
#define CUDA_LIBS_PER_POD    4	       /* ... of them brought by one pod */
#define CUDA_RETRY_S	     600       /* a refused file is looked at again after */
#define CUDA_MAPS_MAX_LINES  65536     /* of one process's maps (vm.max_map_count is 65530) */
#define CUDA_POD_ROUND_LINES (1 << 20) /* maps lines read for one pod in a round */
#define CUDA_STUCK_S	     30	       /* one file this long: logged */
#define CUDA_JOIN_S	     2	       /* stopping waits this long for the scanner */

_Static_assert(PM_CUDA_REFUSE_FILE + PM_PODFILE_ESCAPE == PM_CUDA_REFUSE_ESCAPE &&
		       PM_CUDA_REFUSE_FILE + PM_PODFILE_DENIED == PM_CUDA_REFUSE_DENIED &&
		       PM_CUDA_REFUSE_FILE + PM_PODFILE_ERR_MAX == PM_CUDA_REFUSE_BAD_ELF,
	       "file refusals follow enum pm_podfile_err");
#define CUDA_RESCAN_MIN_S 5   /* a process without libcuda: first rescan after */
#define CUDA_RESCAN_MAX_S 60  /* ... backing off to */
#define CUDA_RECHECK_S	  30  /* a process with libcuda: pid reuse checked every */
#define CUDA_FORGET_S	  300 /* a pid not passed to scan for this long is forgotten */
#define CUDA_MAPS_FULL_S  600 /* maps read again after this even when its size stayed */
#define CUDA_REAP_EVERY	  5   /* reads between releases of dead processes' memory */
#define CUDA_YOUNG_S	  2   /* a process this young is first looked at the next round */
#define NSEC_PER_SEC	  1000000000ULL

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
	bool ret; /* the return probe of the same family too */
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
	__u64 pod;	      /* the pod that brought it (its key), against the per-pod share */
	__u64 retry_ns;	      /* refused: looked at again after; 0 when attached */
	struct pm_file_id id; /* attached: the file, whichever mount maps it */
	size_t nlinks;
	struct bpf_link *links[2 * CUDA_NPROBES];
};

/* What is known of a pid handed to the scanner (the scanner's alone). */
struct cuda_pid {
	__u64 start;	 /* start time in clock ticks, against pid reuse */
	__u64 next_ns;	 /* not looked at again before */
	__u64 passed_ns; /* last handed over */
	__u64 cgid;	 /* its cgroup and that cgroup's CPU time at the last look */
	__u64 ran_ns;	 /* (0: not known) */
	__u64 vsize;	 /* its address space's size at the last maps read */
	__u64 maps_ns;	 /* ... and when */
	__u32 backoff_s;
	bool mapped; /* maps a libcuda already attached */
};

struct pm_cuda {
	struct cuda_bpf *skel;
	enum pm_hier hier;
	long clk_tck;
	unsigned int reads;
	char proc_root[PATH_MAX];
	struct bpf_program *progs[P_NONE];
	struct bpf_program *ret_progs[P_NONE];
	struct u64map released; /* cgid -> __u64 bytes of dead processes' allocations */

	/* the scanner thread: handed jobs under lock, the rest its own */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct pm_cuda_job *jobs; /* the latest walk's, not taken yet */
	size_t n_jobs;
	bool pending;
	bool stop;
	uint64_t refused[PM_CUDA_REFUSE_MAX]; /* by reason; under lock */
	char busy[PATH_MAX + 64];	      /* what it does now; under lock */
	__u64 busy_since_ns;		      /* 0 when waiting */
	bool stuck_logged;
	atomic_size_t n_attached;
	struct cuda_lib *libs[CUDA_MAX_LIBS];
	size_t nlibs;
	__u64 pruned_ns;
	struct u64map pids;	 /* pid -> struct cuda_pid */
	struct u64map pod_lines; /* pod -> maps lines read this round */
};

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
	u64map__init(&c->pod_lines);
	u64map__init(&c->released);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
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

static void refuse(struct pm_cuda *c, enum pm_cuda_refusal why)
{
	pthread_mutex_lock(&c->lock);
	c->refused[why]++;
	pthread_mutex_unlock(&c->lock);
}

/* What the scanner is doing, for the log when it takes long; NULL: waiting. */
static void busy(struct pm_cuda *c, const char *what, int pid)
{
	char e[PM_ESC_BUF];

	pthread_mutex_lock(&c->lock);
	if (what) {
		snprintf(c->busy, sizeof(c->busy), "pid %d, \"%s\"", pid,
			 esc__str(e, sizeof(e), what));
		c->busy_since_ns = bpfutil__now_ns();
	} else {
		c->busy_since_ns = 0;
		c->stuck_logged = false;
	}
	pthread_mutex_unlock(&c->lock);
}

static struct bpf_link *attach_one(struct bpf_program *prog, const char *path, __u64 off,
				   bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);

	/*
	 * pid -1: every process that maps the file. The offset is ours (elfsym):
	 * libbpf, given no function name, does not read the file itself.
	 */
	return bpf_program__attach_uprobe_opts(prog, -1, path, off, &opts);
}

/*
 * Attach every entry point the file defines. The return probe goes first:
 * an entry probe never runs without the return probe that ends its call.
 */
static int attach_lib(struct pm_cuda *c, struct cuda_lib *lib, int fd, const uint64_t *offs,
		      const char *shown)
{
	char path[64], e[PM_ESC_BUF];
	struct bpf_link *ret, *entry;
	const struct cuda_probe *p;
	size_t k;
	int err = 0;

	/* the open file: neither a process exiting nor the path changing can race */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (k = 0; k < CUDA_NPROBES; k++) {
		p = &cuda_probes[k];
		if (!offs[k])
			continue;
		if (p->ret) {
			ret = attach_one(c->ret_progs[p->entry], path, offs[k], true);
			if (!ret) {
				err = -errno;
				continue;
			}
			lib->links[lib->nlinks++] = ret;
		}
		entry = attach_one(c->progs[p->entry], path, offs[k], false);
		if (!entry) {
			err = -errno;
			continue;
		}
		lib->links[lib->nlinks++] = entry;
	}
	if (!lib->nlinks) {
		fprintf(stderr,
			"warning: cuda: \"%s\": no driver API entry point could be probed: "
			"%s; CUDA use through it is not counted\n",
			esc__str(e, sizeof(e), shown), strerror(-err));
		return err;
	}
	if (err)
		fprintf(stderr,
			"warning: cuda: \"%s\": some entry points could not be probed: %s; "
			"counting through the %zu probes attached\n",
			esc__str(e, sizeof(e), shown), strerror(-err), lib->nlinks);
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

/* An attached library that is the file @id, through another mount. */
static bool attached_as(const struct pm_cuda *c, const struct pm_file_id *id)
{
	size_t i;

	for (i = 0; i < c->nlibs; i++)
		if (!c->libs[i]->retry_ns && c->libs[i]->nlinks &&
		    podfile__same(&c->libs[i]->id, id))
			return true;
	return false;
}

/*
 * A slot for a file @pod brings: none beyond its share; when the table is
 * full, the longest-refused file's slot (refused files are only remembered
 * so as not to try them again at once).
 */
static struct cuda_lib *lib_slot(struct pm_cuda *c, __u64 pod)
{
	struct cuda_lib *lib = NULL;
	size_t i, mine = 0, victim = CUDA_MAX_LIBS;

	for (i = 0; i < c->nlibs; i++) {
		mine += c->libs[i]->pod == pod;
		if (c->libs[i]->retry_ns &&
		    (victim == CUDA_MAX_LIBS || c->libs[i]->retry_ns < c->libs[victim]->retry_ns))
			victim = i;
	}
	if (mine >= CUDA_LIBS_PER_POD) {
		refuse(c, PM_CUDA_REFUSE_POD_SHARE);
		return NULL;
	}
	if (c->nlibs < CUDA_MAX_LIBS) {
		lib = calloc(1, sizeof(*lib));
		if (lib)
			c->libs[c->nlibs++] = lib;
		return lib;
	}
	if (victim == CUDA_MAX_LIBS) {
		refuse(c, PM_CUDA_REFUSE_TABLE_FULL);
		return NULL;
	}
	lib = c->libs[victim];
	memset(lib, 0, sizeof(*lib));
	return lib;
}

/*
 * Open and read a file a maps line names; 0 with @offs filled, -EEXIST when
 * it is a library attached already (another mount of it), or the refusal.
 */
static int examine(struct pm_cuda *c, const struct pm_cuda_job *j, const char *range,
		   const char *file, __u64 dev, __u64 ino, struct pm_podfile *pf,
		   uint64_t offs[CUDA_NPROBES])
{
	const char *names[CUDA_NPROBES];
	enum pm_podfile_err pe;
	size_t k;
	int n;

	busy(c, file, j->pid);
	pe = podfile__open(c->proc_root, j->pid, file, range, dev, ino, pf);
	if (pe != PM_PODFILE_OK) {
		busy(c, NULL, 0);
		return pe == PM_PODFILE_GONE ? -ENOENT : PM_CUDA_REFUSE_FILE + (int)pe;
	}
	if (attached_as(c, &pf->id)) {
		busy(c, NULL, 0);
		close(pf->fd);
		return -EEXIST;
	}
	for (k = 0; k < CUDA_NPROBES; k++)
		names[k] = cuda_probes[k].sym;
	n = elfsym__find(&(struct pm_elf_src){ .fd = pf->fd, .size = pf->size }, names,
			 CUDA_NPROBES, offs);
	busy(c, NULL, 0);
	if (n < 0)
		return PM_CUDA_REFUSE_BAD_ELF;
	return n ? 0 : PM_CUDA_REFUSE_NO_SYMBOLS;
}

/*
 * A libcuda maps line: attach to its file unless known already. Returns 1
 * when newly attached, 0 when known (attached, or refused recently), or a
 * negative errno (the process or file gone: looked at again later).
 */
static int add_lib(struct pm_cuda *c, const struct pm_cuda_job *j, const char *line)
{
	char range[64], file[PATH_MAX], shown[PM_ESC_BUF], *deleted;
	unsigned int major, minor;
	unsigned long long ino;
	uint64_t offs[CUDA_NPROBES];
	__u64 now = bpfutil__now_ns();
	struct pm_podfile pf;
	struct cuda_lib *lib;
	int why;

	if (sscanf(line, "%63s %*s %*s %x:%x %llu %4095[^\n]", range, &major, &minor, &ino, file) !=
		    5 ||
	    file[0] != '/')
		return -EINVAL;
	deleted = strstr(file, " (deleted)");
	if (deleted)
		*deleted = '\0';
	lib = find_lib(c, makedev(major, minor), ino);
	if (lib && (!lib->retry_ns || now < lib->retry_ns))
		return 0;
	why = examine(c, j, range, file, makedev(major, minor), ino, &pf, offs);
	if (why == -ENOENT)
		return why;
	if (why == -EEXIST)
		return 0;
	if (!lib)
		lib = lib_slot(c, j->pod);
	if (!lib) {
		if (!why)
			close(pf.fd);
		return 0;
	}
	lib->dev = makedev(major, minor);
	lib->ino = ino;
	lib->pod = j->pod;
	lib->retry_ns = 0;
	if (!why) {
		lib->id = pf.id;
		why = attach_lib(c, lib, pf.fd, offs, file) ? PM_CUDA_REFUSE_ATTACH : 0;
		close(pf.fd);
	}
	if (why) {
		refuse(c, why);
		lib->retry_ns = now + CUDA_RETRY_S * NSEC_PER_SEC;
		return 0;
	}
	atomic_fetch_add(&c->n_attached, 1);
	fprintf(stderr,
		"podmeter: cuda: probes on \"%s\", mapped by pid %d (%zu libcuda file%s in all)\n",
		esc__str(shown, sizeof(shown), file), j->pid, atomic_load(&c->n_attached),
		atomic_load(&c->n_attached) > 1 ? "s" : "");
	return 1;
}

static bool is_libcuda(const char *line)
{
	const char *file = strrchr(line, '/');

	return file && !strncmp(file + 1, "libcuda.so", strlen("libcuda.so"));
}

/*
 * Look through a process's maps, at most CUDA_MAPS_MAX_LINES lines, and
 * what is left of its pod's lines for this round. Returns the libraries
 * newly attached, and sets @mapped when it maps a libcuda that is known.
 */
static int scan_maps(struct pm_cuda *c, const struct pm_cuda_job *j, bool *mapped)
{
	char path[PATH_MAX + 32], *line = NULL;
	uintptr_t used = (uintptr_t)u64map__get(&c->pod_lines, j->pod);
	size_t cap = 0, lines = 0;
	int n = 0, ret;
	FILE *f;

	*mapped = false;
	snprintf(path, sizeof(path), "%s/%d/maps", c->proc_root, j->pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (++lines > CUDA_MAPS_MAX_LINES || used + lines > CUDA_POD_ROUND_LINES) {
			refuse(c, PM_CUDA_REFUSE_MAPS_LONG);
			break;
		}
		if (!strstr(line, "libcuda.so") || !is_libcuda(line))
			continue;
		ret = add_lib(c, j, line);
		if (ret >= 0)
			*mapped = true;
		if (ret > 0)
			n += ret;
	}
	free(line);
	fclose(f);
	u64map__put(&c->pod_lines, j->pod, (void *)(used + lines));
	return n;
}

/*
 * Fields 22 and 23 of /proc/<pid>/stat: the start time in clock ticks
 * (returned; 0 when the process is gone) and the address space's size in
 * bytes (into @vsize when not NULL).
 */
static __u64 proc_stat(const char *proc_root, __u32 pid, __u64 *vsize)
{
	char path[PATH_MAX + 32], buf[1024], *p;
	unsigned long long start, vs;
	ssize_t n;
	int fd;

	/* open and read, no stdio: a scan reads one for every process it looks at */
	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu %llu",
			 &start, &vs) != 2)
		return 0;
	if (vsize)
		*vsize = vs;
	return start;
}

/* Whether a process that started at @start (clock ticks since boot) is younger than CUDA_YOUNG_S. */
static bool young(const struct pm_cuda *c, __u64 start)
{
	struct timespec ts;
	__u64 now;

	if (c->clk_tck <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts))
		return false;
	now = (__u64)ts.tv_sec * c->clk_tck + (__u64)ts.tv_nsec / (NSEC_PER_SEC / c->clk_tck);
	return now < start + CUDA_YOUNG_S * c->clk_tck;
}

/*
 * One pid: its maps are read when it is new, then again with a growing
 * interval while it maps no libcuda (a program loads it after it starts),
 * and once it does, only its start time is checked, against pid reuse.
 * Neither when nothing of its cgroup ran since the last look: a process
 * maps nothing without running, and a pid taken again by a process of the
 * same cgroup ran there. Nor, for CUDA_MAPS_FULL_S, while its address
 * space keeps the size it had at the last read: loading a library maps
 * more (the kernel's maps text costs some 50 us a process; the size comes
 * with the start time). Nor, the first time, when it started less than
 * CUDA_YOUNG_S ago: a program loads libcuda after it starts (an import, its
 * first CUDA call), so a look that early mostly finds nothing and is made
 * again, and a process that lives less than a walk (a container that comes
 * and goes) is gone by the next round.
 */
static int scan_pid(struct pm_cuda *c, const struct pm_cuda_job *j, __u64 now)
{
	struct cuda_pid *p = u64map__get(&c->pids, j->pid);
	__u64 start, vsize = 0;
	bool mapped;
	int n;

	if (p) {
		p->passed_ns = now;
		if (now < p->next_ns)
			return 0;
		if (j->ran_ns && p->cgid == j->cgid && p->ran_ns == j->ran_ns) {
			p->next_ns = now +
				     (p->mapped ? CUDA_RECHECK_S : p->backoff_s) * NSEC_PER_SEC;
			return 0;
		}
	}
	start = proc_stat(c->proc_root, j->pid, &vsize);
	if (!start) {
		free(u64map__del(&c->pids, j->pid));
		return 0;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || u64map__put(&c->pids, j->pid, p)) {
			free(p);
			return -ENOMEM;
		}
		p->passed_ns = now;
	}
	p->cgid = j->cgid;
	p->ran_ns = j->ran_ns;
	if (p->start != start) {
		p->start = start;
		p->mapped = false;
		p->maps_ns = 0;
		p->backoff_s = 0;
	}
	if (p->mapped) {
		p->next_ns = now + CUDA_RECHECK_S * NSEC_PER_SEC;
		return 0;
	}
	if (!p->maps_ns && young(c, start)) {
		p->ran_ns = 0; /* looked at next round, whether it ran or not */
		return 0;
	}
	if (p->maps_ns && vsize == p->vsize && now - p->maps_ns < CUDA_MAPS_FULL_S * NSEC_PER_SEC) {
		n = 0;
		mapped = false;
	} else {
		n = scan_maps(c, j, &mapped);
		p->mapped = mapped;
		p->vsize = vsize;
		p->maps_ns = now;
	}
	p->backoff_s = !p->backoff_s ? CUDA_RESCAN_MIN_S
				     : (p->backoff_s * 2 > CUDA_RESCAN_MAX_S ? CUDA_RESCAN_MAX_S
									     : p->backoff_s * 2);
	p->next_ns = now + (mapped ? CUDA_RECHECK_S : p->backoff_s) * NSEC_PER_SEC;
	return n;
}

/* Forget pids no longer handed over (gone, or no longer a pod's). */
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

/* One round over a walk's processes. */
static void scan_round(struct pm_cuda *c, const struct pm_cuda_job *jobs, size_t n)
{
	__u64 now = bpfutil__now_ns();
	size_t i;

	u64map__free(&c->pod_lines);
	u64map__init(&c->pod_lines);
	for (i = 0; i < n; i++)
		if (jobs[i].pid > 0 && scan_pid(c, &jobs[i], now) < 0)
			break;
	forget_pids(c, now);
}

static void *scanner(void *arg)
{
	struct pm_cuda *c = arg;
	struct pm_cuda_job *jobs;
	size_t n;

	pthread_setname_np(pthread_self(), "pm-cuda");
	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (!c->pending && !c->stop)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->stop) {
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		jobs = c->jobs;
		n = c->n_jobs;
		c->jobs = NULL;
		c->n_jobs = 0;
		c->pending = false;
		pthread_mutex_unlock(&c->lock);
		scan_round(c, jobs, n);
		free(jobs);
	}
}

int cuda__start(struct pm_cuda *c)
{
	int ret = pthread_create(&c->thread, NULL, scanner, c);

	if (ret)
		return -ret;
	c->started = true;
	return 0;
}

int cuda__scan(struct pm_cuda *c, const struct pm_cuda_job *jobs, size_t n)
{
	struct pm_cuda_job *copy = malloc((n ? n : 1) * sizeof(*copy));

	if (!copy)
		return -ENOMEM;
	memcpy(copy, jobs, n * sizeof(*copy));
	pthread_mutex_lock(&c->lock);
	/* a round not started yet is replaced by the newer walk's */
	free(c->jobs);
	c->jobs = copy;
	c->n_jobs = n;
	c->pending = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void cuda__refusals(struct pm_cuda *c, uint64_t out[PM_CUDA_REFUSE_MAX], char *stuck, size_t len)
{
	__u64 now = bpfutil__now_ns();

	pthread_mutex_lock(&c->lock);
	memcpy(out, c->refused, sizeof(c->refused));
	stuck[0] = '\0';
	if (c->busy_since_ns && now - c->busy_since_ns > CUDA_STUCK_S * NSEC_PER_SEC &&
	    !c->stuck_logged) {
		snprintf(stuck, len, "%.0f s on %s", (now - c->busy_since_ns) / 1e9, c->busy);
		c->stuck_logged = true;
	}
	pthread_mutex_unlock(&c->lock);
}

size_t cuda__libraries(const struct pm_cuda *c)
{
	return atomic_load(&c->n_attached);
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
	struct u64map starts; /* tgid -> its start in clock ticks + 1 (never NULL) */
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
			start = proc_stat(c->proc_root, key.tgid, NULL) + 1;
			u64map__put(&starts, key.tgid, (void *)start);
		}
		if (start - 1 == a.start_time / (NSEC_PER_SEC / c->clk_tck) ||
		    bpf_map_delete_elem(fd, &key))
			continue;
		add_released(c, a.cgid, a.size);
	}
	u64map__free(&starts);
}

struct cuda_walk {
	const struct pm_cuda *c;
	const struct pm_cuda_visitor *v;
};

/* One cuda_stats entry: a cgroup's calls summed over CPUs, less what dead processes held. */
static void cuda_stats_entry(void *ctx, const void *key, const void *val)
{
	const struct cuda_walk *w = ctx;
	struct pm_cuda_val sum; /* bytes_held: the CPUs' signed amounts, summed */
	struct pm_cg_key k;
	__u64 *released;

	memcpy(&k, key, sizeof(k));
	if (k.hier != w->c->hier)
		return;
	memcpy(&sum, val, sizeof(sum));
	released = u64map__get(&w->c->released, k.cgid);
	if (released)
		sum.bytes_held -= (__s64)*released;
	if (sum.bytes_held < 0)
		sum.bytes_held = 0;
	w->v->usage(w->v->ctx, k.cgid, &sum);
}

int cuda__read(struct pm_cuda *c, const struct pm_cuda_visitor *v)
{
	struct cuda_walk w = { c, v };

	if (c->reads++ % CUDA_REAP_EVERY == 0)
		release_dead(c);
	/* in batches: a walk key by key costs two calls an entry, and more in a sparse map */
	return bpfutil__for_each(c->skel->maps.cuda_stats, cuda_stats_entry, &w);
}

int cuda__remove(struct pm_cuda *c, const __u64 *cgids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(u64map__del(&c->released, cgids[i]));
	/* the table is this run's (not pinned): without a library probed, it is empty */
	if (!atomic_load(&c->n_attached))
		return 0;
	return bpfutil__delete_cgroups(c->skel->maps.cuda_stats, c->hier, cgids, n, NULL);
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

/* The scanner stopped, or false when it is stuck in a file past CUDA_JOIN_S. */
static bool stop_scanner(struct pm_cuda *c)
{
	struct timespec until;

	if (!c->started)
		return true;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CUDA_JOIN_S;
	if (pthread_timedjoin_np(c->thread, NULL, &until)) {
		fprintf(stderr,
			"warning: cuda: the library scanner does not stop (%s); leaving it\n",
			c->busy);
		return false;
	}
	return true;
}

void cuda__close(struct pm_cuda *c)
{
	size_t i, k;

	if (!c)
		return;
	/* stuck in a pod's file: what it uses stays, the process is ending anyway */
	if (!stop_scanner(c))
		return;
	free(c->jobs);
	u64map__free(&c->pod_lines);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	for (i = 0; i < c->nlibs; i++) {
		for (k = 0; k < c->libs[i]->nlinks; k++)
			bpf_link__destroy(c->libs[i]->links[k]);
		free(c->libs[i]);
	}
	cuda_bpf__destroy(c->skel);
	free_values(&c->pids);
	free_values(&c->released);
	free(c);
}

/* ---- the collector's source ---- */

static void src_cuda_usage(void *ctx, __u64 cgid, const struct pm_cuda_val *sum)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);

	if (r)
		r->total.cuda = *sum;
}

static int src_cuda_open(void **out, const struct pm_source_env *env, char *err, size_t errlen)
{
	char why[512];

	(void)err;
	(void)errlen;
	if (cuda__open((struct pm_cuda **)out, env->hier, env->cfg->collect.proc_root, why,
		       sizeof(why))) {
		fprintf(stderr, "warning: cuda: %s; running without CUDA counts\n", why);
		*out = NULL;
	}
	return 0;
}

static int src_cuda_read(void *src, const struct pm_sink *sink)
{
	struct pm_cuda_visitor v = { .usage = src_cuda_usage, .ctx = (void *)sink };

	return cuda__libraries(src) ? cuda__read(src, &v) : 0;
}

static int src_cuda_forget(void *src, const __u64 *cgids, size_t n, int *res)
{
	memset(res, 0, n * sizeof(*res));
	cuda__remove(src, cgids, n);
	return 0;
}

static void src_cuda_errors(void *src, struct pm_agent_stats *st)
{
	__u64 errs[PM_CUDA_ERR_MAX] = {}, unmatched;
	char stuck[PATH_MAX + 128];

	cuda__errors(src, errs);
	/* a call over its share returns without an entry: a refusal, not a loss */
	unmatched = errs[PM_CUDA_ERR_UNMATCHED] - errs[PM_CUDA_ERR_PENDING_REFUSED];
	if (errs[PM_CUDA_ERR_UNMATCHED] < errs[PM_CUDA_ERR_PENDING_REFUSED])
		unmatched = 0;
	st->cuda_insert_failures = errs[PM_CUDA_ERR_CGROUP_FULL] + errs[PM_CUDA_ERR_ALLOC_FULL] +
				   unmatched;
	cuda__refusals(src, st->cuda_refusals, stuck, sizeof(stuck));
	if (stuck[0])
		fprintf(stderr,
			"warning: cuda: the library scanner has spent %s; "
			"libraries of new processes wait, the rest is counted\n",
			stuck);
	st->table_refusals[PM_TABLE_CUDA_ALLOCS] += errs[PM_CUDA_ERR_ALLOC_FULL] +
						    errs[PM_CUDA_ERR_ALLOC_REFUSED];
	st->table_refusals[PM_TABLE_CUDA_PENDING] += errs[PM_CUDA_ERR_PENDING_REFUSED];
	st->table_refusals[PM_TABLE_CGROUPS] += errs[PM_CUDA_ERR_CGROUP_FULL];
}

/* At each walk new processes may map libcuda: handed over, the scanner reads their files. */
static void src_cuda_walked(void *src, const struct pm_cuda_job *jobs, size_t n)
{
	if (cuda__scan(src, jobs, n))
		fprintf(stderr, "warning: cuda: out of memory; new processes' libcuda is looked "
				"for at the next walk\n");
}

static void src_cuda_present(void *src, struct pm_snapshot *s)
{
	s->has_cuda = cuda__libraries(src) > 0;
}

static int src_cuda_start(void *src)
{
	return cuda__start(src);
}

static void src_cuda_close(void *src)
{
	cuda__close(src);
}

const struct pm_source pm_source_cuda = {
	.name = "cuda",
	.reading = "reading the GPU counters",
	.open = src_cuda_open,
	.read = src_cuda_read,
	.forget = src_cuda_forget,
	.errors = src_cuda_errors,
	.walked = src_cuda_walked,
	.present = src_cuda_present,
	.start = src_cuda_start,
	.close = src_cuda_close,
	.optional = true,
};
