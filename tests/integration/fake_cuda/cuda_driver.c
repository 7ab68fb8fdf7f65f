// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drives the CUDA driver API a known number of times, for podmeter's CUDA
 * probes to be compared against: linked against libcuda.so.1 (the fake one
 * in this directory on machines without a GPU), so the library is in the
 * process's maps before any work. With -w it waits for a line on stdin
 * first, giving the agent time to find the library and attach.
 *
 *   -l N       N cuLaunchKernel calls            -L N   N cuLaunchKernelEx calls
 *   -a SIZE    cuMemAlloc_v2 of SIZE bytes       -M SIZE  cuMemAllocManaged
 *   -S SIZE    cuMemAllocAsync                   -P WxH   cuMemAllocPitch_v2
 *   -f N       free the first N allocations (cuMemFreeAsync for -S ones,
 *              cuMemFree_v2 for the others); -f -1 frees all of them
 *   -c BYTES   one copy of BYTES with each of the 8 cuMemcpy* variants
 *   -s N       N cuCtxSynchronize calls          -t N   N cuStreamSynchronize calls
 *   -w         wait for a line on stdin          -e MS  stay MS milliseconds before exiting
 *   -A N:SIZE  N more cuMemAlloc_v2 of SIZE bytes, never freed (a table filler)
 *   -T N       N threads at once, each in one cuCtxSynchronize (with
 *              FAKE_CUDA_SYNC_US long, they are all inside together)
 * -a, -M, -S, -P and -c repeat. Prints what it did, one key=value a line;
 * a failed allocation (size 0) is counted apart and holds nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUlaunchConfig_st CUlaunchConfig;

CUresult cuInit(unsigned int flags);
CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
			unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
			unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
			void **kernelParams, void **extra);
CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
			  void **extra);
CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize);
CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags);
CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream);
CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
			    unsigned int ElementSizeBytes);
CUresult cuMemFree_v2(CUdeviceptr dptr);
CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream);
CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount);
CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream);
CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount);
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
			      CUstream hStream);
CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount);
CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
			      CUstream hStream);
CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount);
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
			      CUstream hStream);
CUresult cuCtxSynchronize(void);
CUresult cuStreamSynchronize(CUstream hStream);

#define MAX_OPS 4096

enum alloc_kind { ALLOC_PLAIN, ALLOC_MANAGED, ALLOC_ASYNC, ALLOC_PITCH };

struct alloc {
	enum alloc_kind kind;
	size_t size, height; /* width and rows for ALLOC_PITCH */
	CUdeviceptr dptr;
	size_t held; /* bytes the driver gave; 0 when it failed */
};

struct plan {
	long launches, launches_ex, frees, syncs, stream_syncs, exit_ms, bulk, threads;
	size_t bulk_size;
	int wait;
	size_t nallocs, ncopies;
	struct alloc allocs[MAX_OPS];
	size_t copies[MAX_OPS];
};

struct done {
	unsigned long long launches, allocs, alloc_failed, frees, alloc_bytes, freed_bytes;
	unsigned long long copies, copied_bytes, syncs, sync_ns, thread_syncs;
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int add_alloc(struct plan *p, enum alloc_kind kind, const char *arg)
{
	struct alloc *a;

	if (p->nallocs == MAX_OPS)
		return -1;
	a = &p->allocs[p->nallocs++];
	a->kind = kind;
	if (kind == ALLOC_PITCH)
		return sscanf(arg, "%zux%zu", &a->size, &a->height) == 2 ? 0 : -1;
	a->size = strtoull(arg, NULL, 0);
	return 0;
}

static int parse(struct plan *p, int argc, char **argv)
{
	int o, err = 0;

	while ((o = getopt(argc, argv, "l:L:a:M:S:P:f:c:s:t:we:A:T:")) != -1) {
		switch (o) {
		case 'l':
			p->launches = atol(optarg);
			break;
		case 'L':
			p->launches_ex = atol(optarg);
			break;
		case 'a':
			err |= add_alloc(p, ALLOC_PLAIN, optarg);
			break;
		case 'M':
			err |= add_alloc(p, ALLOC_MANAGED, optarg);
			break;
		case 'S':
			err |= add_alloc(p, ALLOC_ASYNC, optarg);
			break;
		case 'P':
			err |= add_alloc(p, ALLOC_PITCH, optarg);
			break;
		case 'f':
			p->frees = atol(optarg);
			break;
		case 'c':
			if (p->ncopies == MAX_OPS)
				return -1;
			p->copies[p->ncopies++] = strtoull(optarg, NULL, 0);
			break;
		case 's':
			p->syncs = atol(optarg);
			break;
		case 't':
			p->stream_syncs = atol(optarg);
			break;
		case 'w':
			p->wait = 1;
			break;
		case 'e':
			p->exit_ms = atol(optarg);
			break;
		case 'A':
			if (sscanf(optarg, "%ld:%zu", &p->bulk, &p->bulk_size) != 2)
				return -1;
			break;
		case 'T':
			p->threads = atol(optarg);
			break;
		default:
			return -1;
		}
	}
	return err;
}

static void do_alloc(struct alloc *a, struct done *d)
{
	size_t pitch = 0;
	CUresult r;

	switch (a->kind) {
	case ALLOC_PLAIN:
		r = cuMemAlloc_v2(&a->dptr, a->size);
		break;
	case ALLOC_MANAGED:
		r = cuMemAllocManaged(&a->dptr, a->size, 1);
		break;
	case ALLOC_ASYNC:
		r = cuMemAllocAsync(&a->dptr, a->size, NULL);
		break;
	default:
		r = cuMemAllocPitch_v2(&a->dptr, &pitch, a->size, a->height, 4);
		break;
	}
	if (r) {
		d->alloc_failed++;
		return;
	}
	a->held = a->kind == ALLOC_PITCH ? pitch * a->height : a->size;
	d->allocs++;
	d->alloc_bytes += a->held;
}

static void do_free(struct alloc *a, struct done *d)
{
	if (!a->held)
		return;
	if (a->kind == ALLOC_ASYNC ? cuMemFreeAsync(a->dptr, NULL) : cuMemFree_v2(a->dptr))
		return;
	d->frees++;
	d->freed_bytes += a->held;
	a->held = 0;
}

static void do_copies(size_t n, struct done *d)
{
	static char host[1];
	CUdeviceptr dev = 0x1000;

	cuMemcpy(dev, dev, n);
	cuMemcpyAsync(dev, dev, n, NULL);
	cuMemcpyHtoD_v2(dev, host, n);
	cuMemcpyHtoDAsync_v2(dev, host, n, NULL);
	cuMemcpyDtoH_v2(host, dev, n);
	cuMemcpyDtoHAsync_v2(host, dev, n, NULL);
	cuMemcpyDtoD_v2(dev, dev, n);
	cuMemcpyDtoDAsync_v2(dev, dev, n, NULL);
	d->copies += 8;
	d->copied_bytes += 8ULL * n;
}

static void do_bulk(const struct plan *p, struct done *d)
{
	CUdeviceptr dptr;
	long k;

	for (k = 0; k < p->bulk; k++) {
		if (cuMemAlloc_v2(&dptr, p->bulk_size)) {
			d->alloc_failed++;
			continue;
		}
		d->allocs++;
		d->alloc_bytes += p->bulk_size;
	}
}

static void *sync_thread(void *arg)
{
	(void)arg;
	return (void *)(long)(cuCtxSynchronize() == 0);
}

/* Threads created first, then joined: each sits in its call while the others start. */
static void do_threads(const struct plan *p, struct done *d)
{
	pthread_t *tids = calloc(p->threads, sizeof(*tids));
	pthread_attr_t attr;
	void *ok;
	long k, n = 0;

	if (!tids)
		return;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (; n < p->threads; n++)
		if (pthread_create(&tids[n], &attr, sync_thread, NULL))
			break;
	for (k = 0; k < n; k++)
		if (!pthread_join(tids[k], &ok) && ok)
			d->thread_syncs++;
	pthread_attr_destroy(&attr);
	free(tids);
}

static void run(struct plan *p, struct done *d)
{
	unsigned long long t;
	size_t i;
	long k;

	for (k = 0; k < p->launches; k++)
		if (!cuLaunchKernel(NULL, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL))
			d->launches++;
	for (k = 0; k < p->launches_ex; k++)
		if (!cuLaunchKernelEx(NULL, NULL, NULL, NULL))
			d->launches++;
	for (i = 0; i < p->nallocs; i++)
		do_alloc(&p->allocs[i], d);
	for (i = 0; i < p->nallocs && (p->frees < 0 || (long)i < p->frees); i++)
		do_free(&p->allocs[i], d);
	for (i = 0; i < p->ncopies; i++)
		do_copies(p->copies[i], d);
	for (k = 0; k < p->syncs + p->stream_syncs; k++) {
		t = now_ns();
		if (k < p->syncs ? cuCtxSynchronize() : cuStreamSynchronize(NULL))
			continue;
		d->sync_ns += now_ns() - t;
		d->syncs++;
	}
	do_bulk(p, d);
	if (p->threads > 0)
		do_threads(p, d);
}

int main(int argc, char **argv)
{
	static struct plan p;
	struct done d = {};
	char line[64];

	if (parse(&p, argc, argv)) {
		fprintf(stderr,
			"usage: %s [-l N] [-L N] [-a SIZE]... [-M SIZE]... [-S SIZE]... "
			"[-P WxH]... [-f N] [-c BYTES]... [-s N] [-t N] [-w] [-e MS] "
			"[-A N:SIZE] [-T N]\n",
			argv[0]);
		return 2;
	}
	if (cuInit(0))
		return 1;
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	if (p.wait && !fgets(line, sizeof(line), stdin))
		return 1;
	run(&p, &d);
	printf("launches=%llu\nallocs=%llu\nalloc_failed=%llu\nfrees=%llu\nalloc_bytes=%llu\n"
	       "freed_bytes=%llu\nheld_bytes=%llu\ncopies=%llu\ncopied_bytes=%llu\nsyncs=%llu\n"
	       "sync_ns=%llu\nthread_syncs=%llu\n",
	       d.launches, d.allocs, d.alloc_failed, d.frees, d.alloc_bytes, d.freed_bytes,
	       d.alloc_bytes - d.freed_bytes, d.copies, d.copied_bytes, d.syncs, d.sync_ns,
	       d.thread_syncs);
	fflush(stdout);
	if (p.exit_ms > 0)
		usleep(p.exit_ms * 1000);
	return 0;
}
