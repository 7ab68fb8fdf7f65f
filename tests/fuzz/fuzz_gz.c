// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gzip, as reports arrive (exporter/gz.c): bounded inflate, and compress -> inflate is identity. */
#include <podmeter/report.h>
#include "fuzz.h"

#define FUZZ_GZ_MAX (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outlen, gzlen;
	void *out, *gz;
	int ret;

	ret = gz__decompress(data, size, FUZZ_GZ_MAX, &out, &outlen);
	fuzz_assert(!ret || ret == -EINVAL || ret == -EFBIG);
	if (!ret) {
		fuzz_assert(outlen <= FUZZ_GZ_MAX);
		free(out);
	}
	fuzz_assert(!gz__compress(data, size, &gz, &gzlen));
	fuzz_assert(!gz__decompress(gz, gzlen, size, &out, &outlen));
	fuzz_assert(outlen == size && !memcmp(out, data, size));
	free(out);
	free(gz);
	return 0;
}
