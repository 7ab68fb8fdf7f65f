// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Durations of the config ("1.5s", "500ms", "2h"; agent/config.c). */
#include <inttypes.h>
#include <podmeter/config.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), text[32];
	uint64_t ms, again;
	int ret;

	ret = config__parse_duration_ms(s, &ms);
	fuzz_assert(!ret || ret == -EINVAL || ret == -ERANGE);
	if (!ret) {
		/* what parses prints as whole milliseconds and parses to the same */
		snprintf(text, sizeof(text), "%" PRIu64 "ms", ms);
		fuzz_assert(!config__parse_duration_ms(text, &again) && again == ms);
	}
	free(s);
	return 0;
}
