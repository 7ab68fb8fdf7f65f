// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ELF symbol reading (agent/signal/elfsym.c): the file a pod maps as libcuda, read
 * from a buffer. Every offset found lies inside the file, and the count is
 * the offsets found.
 */
#include <podmeter/elfsym.h>
#include "fuzz.h"

static const char *const names[] = {
	"cuLaunchKernel", "cuLaunchKernelEx", "cuMemAlloc_v2", "cuMemFree_v2",
	"cuMemcpy",	  "cuCtxSynchronize", "cuInit",	       "",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_elf_src src = { .fd = -1, .buf = data, .size = size };
	uint64_t offs[NNAMES];
	size_t i, found = 0;
	int ret;

	memset(offs, 0xa5, sizeof(offs));
	ret = elfsym__find(&src, names, NNAMES, offs);
	fuzz_assert(ret >= 0 || ret == -ENOEXEC || ret == -E2BIG || ret == -ETIMEDOUT ||
		    ret == -EIO || ret == -ENOMEM);
	if (ret < 0)
		return 0;
	for (i = 0; i < NNAMES; i++) {
		fuzz_assert(offs[i] < size || !offs[i]);
		found += offs[i] != 0;
	}
	fuzz_assert((size_t)ret == found);
	return 0;
}
