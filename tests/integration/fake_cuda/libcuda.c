// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A stand-in for libcuda.so.1 on machines without a GPU: the driver API
 * entry points podmeter probes, with the real signatures, doing no GPU work.
 * Allocations hand out made-up device addresses (never 0, never reused),
 * size 0 fails as the real driver's does, copies do nothing, synchronize
 * calls sleep FAKE_CUDA_SYNC_US (default 2000) microseconds so that time
 * waited is measurable.
 *
 * Build: cc -O0 -g -shared -fPIC -Wl,-soname,libcuda.so.1 -o libcuda.so.1 libcuda.c
 * (-O0 and noinline keep every entry point a real function of its own.)
 */
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default"), noinline))

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUctx_st *CUcontext;
typedef struct CUlaunchConfig_st CUlaunchConfig;

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
};

#define FAKE_BASE  0x7f0000000000ULL
#define FAKE_ALIGN 512ULL

static CUdeviceptr next_dptr = FAKE_BASE;

static CUresult fake_alloc(CUdeviceptr *dptr, size_t bytes)
{
	if (!dptr || !bytes)
		return CUDA_ERROR_INVALID_VALUE;
	*dptr = __atomic_fetch_add(&next_dptr, (bytes + FAKE_ALIGN - 1) & ~(FAKE_ALIGN - 1),
				   __ATOMIC_RELAXED);
	return CUDA_SUCCESS;
}

static CUresult fake_wait(void)
{
	const char *us = getenv("FAKE_CUDA_SYNC_US");
	long n = us ? atol(us) : 2000;
	struct timespec ts = { .tv_sec = n / 1000000, .tv_nsec = n % 1000000 * 1000 };

	nanosleep(&ts, NULL);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuInit(unsigned int flags)
{
	(void)flags;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
			       unsigned int gridDimZ, unsigned int blockDimX,
			       unsigned int blockDimY, unsigned int blockDimZ,
			       unsigned int sharedMemBytes, CUstream hStream, void **kernelParams,
			       void **extra)
{
	(void)f, (void)gridDimX, (void)gridDimY, (void)gridDimZ, (void)blockDimX;
	(void)blockDimY, (void)blockDimZ, (void)sharedMemBytes, (void)hStream;
	(void)kernelParams, (void)extra;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
				 void **extra)
{
	(void)config, (void)f, (void)kernelParams, (void)extra;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	return fake_alloc(dptr, bytesize);
}

EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	(void)flags;
	return fake_alloc(dptr, bytesize);
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	(void)hStream;
	return fake_alloc(dptr, bytesize);
}

/* Rows padded to FAKE_ALIGN bytes, as the real driver pads them to its pitch. */
EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
				   size_t Height, unsigned int ElementSizeBytes)
{
	size_t pitch = (WidthInBytes + FAKE_ALIGN - 1) & ~(FAKE_ALIGN - 1);
	CUresult ret;

	if (!pPitch || !WidthInBytes || !Height || !ElementSizeBytes)
		return CUDA_ERROR_INVALID_VALUE;
	ret = fake_alloc(dptr, pitch * Height);
	if (ret == CUDA_SUCCESS)
		*pPitch = pitch;
	return ret;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	return dptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	(void)hStream;
	return dptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
	(void)dst, (void)src, (void)ByteCount;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
	(void)dst, (void)src, (void)ByteCount, (void)hStream;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	(void)dstDevice, (void)srcHost, (void)ByteCount;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
				     CUstream hStream)
{
	(void)dstDevice, (void)srcHost, (void)ByteCount, (void)hStream;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	(void)dstHost, (void)srcDevice, (void)ByteCount;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
				     CUstream hStream)
{
	(void)dstHost, (void)srcDevice, (void)ByteCount, (void)hStream;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
	(void)dstDevice, (void)srcDevice, (void)ByteCount;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
				     CUstream hStream)
{
	(void)dstDevice, (void)srcDevice, (void)ByteCount, (void)hStream;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void)
{
	return fake_wait();
}

EXPORT CUresult cuStreamSynchronize(CUstream hStream)
{
	(void)hStream;
	return fake_wait();
}
