// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A spool file (exporter/spool.c): header, length and CRC checked; the payload as written. */
#include <zlib.h>
#include <podmeter/spool.h>
#include "fuzz.h"

static struct fuzz_file file;

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	void *payload;
	size_t len;
	int ret;

	fuzz_file_put(&file, data, size);
	err[0] = '\0';
	ret = spool__read_file(file.path, &payload, &len, err, sizeof(err));
	if (ret) {
		fuzz_assert(ret == -EINVAL && err[0]);
		return 0;
	}
	/* checked here from the format (include/podmeter/spool.h), not by the spool's code */
	fuzz_assert(size >= PM_SPOOL_HEADER && !memcmp(data, PM_SPOOL_MAGIC, 4));
	fuzz_assert(len == size - PM_SPOOL_HEADER && le32(data + 4) == len && !le32(data + 12));
	fuzz_assert(!memcmp(payload, data + PM_SPOOL_HEADER, len));
	fuzz_assert(crc32(0, (const Bytef *)payload, (uInt)len) == le32(data + 8));
	free(payload);
	return 0;
}
