// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter top (agent/cmd/top.c): two /v1/pods readings, split at the first NUL
 * byte (one reading twice when there is none), rendered as one frame.
 */
#include <podmeter/agent.h>
#include "fuzz.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	const char *nul = memchr(doc, '\0', size);
	size_t first = nul ? (size_t)(nul - doc) : size;
	int ret;

	if (!devnull && !(devnull = fopen("/dev/null", "we")))
		abort();
	if (nul)
		ret = top__frame(devnull, doc, first, nul + 1, size - first - 1);
	else
		ret = top__frame(devnull, doc, size, doc, size);
	fuzz_assert(!ret || ret == -EINVAL);
	return 0;
}
