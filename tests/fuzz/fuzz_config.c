// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The YAML config file and every key's setter (agent/config.c). */
#include <podmeter/config.h>
#include "fuzz.h"

static struct fuzz_file file;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pm_config cfg, before;
	char err[1024];
	int ret;

	config__defaults(&cfg);
	memcpy(&before, &cfg, sizeof(cfg));
	fuzz_file_put(&file, data, size);
	err[0] = '\0';
	ret = config__load_file(&cfg, file.path, err, sizeof(err));
	fuzz_assert(!ret || (err[0] && !strchr(err, '\n')));
	/* a file that is refused leaves the settings as they were */
	fuzz_assert(!ret || !memcmp(&cfg, &before, sizeof(cfg)));
	fuzz_assert(cfg.net.n_cidrs >= 0 && cfg.net.n_cidrs <= PM_CFG_MAX_CIDRS);
	return 0;
}
