// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgroup paths outside pods -> node overhead groups (agent/pod/ohpath.c). */
#include <podmeter/ohpath.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct pm_oh_group g;
	size_t i, n;

	fuzz_assert(ohpath__parse(s, &g) == 0);
	fuzz_assert(g.kind >= 0 && g.kind < PM_OH_OTHER);
	n = strlen(g.name);
	fuzz_assert(n > 0 && n <= PM_OH_NAME_MAX);
	/* safe for a log line, a label, a JSON string and a terminal */
	for (i = 0; i < n; i++)
		fuzz_assert(g.name[i] >= 0x20 && g.name[i] < 0x7f);
	fuzz_assert(g.path_len <= strlen(s));
	free(s);
	return 0;
}
