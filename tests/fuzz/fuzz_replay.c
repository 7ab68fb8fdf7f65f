// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The CSV series of podmeter replay (agent/cmd/replay.c), with the generic defaults. */
#include <podmeter/replay.h>
#include "fuzz.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_replay_opts o;
	char err[512];
	FILE *in;
	int ret;

	if (!size)
		return 0; /* fmemopen wants a buffer */
	if (!devnull && !(devnull = fopen("/dev/null", "we")))
		abort();
	in = fmemopen((void *)data, size, "r");
	if (!in)
		abort();
	fuzz_assert(!replay__defaults(&o, PM_REPLAY_GENERIC));
	err[0] = '\0';
	ret = replay__run(in, devnull, &o, err, sizeof(err));
	fuzz_assert(!ret || (err[0] && !strchr(err, '\n')));
	fclose(in);
	return 0;
}
