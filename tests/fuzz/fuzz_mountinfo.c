// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/self/mountinfo, where the cgroup hierarchies are (agent/pod/cgroupfs.c). */
#include <podmeter/cgroupfs.h>
#include "fuzz.h"

static struct fuzz_file file;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pm_cgroupfs fs;
	int i;

	fuzz_file_put(&file, data, size);
	fuzz_assert(!cgroupfs__from_mountinfo(&fs, file.path));
	fuzz_assert(fs.n_v1 >= 0 && fs.n_v1 <= PM_CG_MAX_V1);
	fuzz_assert(strnlen(fs.v2, sizeof(fs.v2)) < sizeof(fs.v2));
	fuzz_assert(strnlen(fs.v1_cpuacct, sizeof(fs.v1_cpuacct)) < sizeof(fs.v1_cpuacct));
	for (i = 0; i < fs.n_v1; i++) {
		fuzz_assert(strnlen(fs.v1[i].path, sizeof(fs.v1[i].path)) < sizeof(fs.v1[i].path));
	}
	return 0;
}
