// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter decode FILE (exporter/decode.c): a spool file, gzip or a packed
 * report, through the spool, gzip and JSON layers as the command runs them.
 */
#include <podmeter/report.h>
#include "fuzz.h"

static struct fuzz_file file;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* the JSON it prints is not what is checked */
	if (!freopen("/dev/null", "w", stdout))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cmd[] = "decode";
	char *argv[] = { cmd, file.path, NULL };
	int ret;

	fuzz_file_put(&file, data, size);
	ret = decode__main(2, argv);
	fuzz_assert(ret == 0 || ret == 1);
	return 0;
}
