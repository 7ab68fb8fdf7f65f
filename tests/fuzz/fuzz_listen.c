// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Listen addresses, "HOST:PORT" and "[V6]:PORT" (agent/config.c). */
#include <podmeter/config.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), host[64], again_host[64], text[96];
	uint16_t port, again_port;

	if (!config__parse_listen(s, host, sizeof(host), &port)) {
		fuzz_assert(port >= 1 && strlen(host) < sizeof(host));
		snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
		fuzz_assert(!config__parse_listen(text, again_host, sizeof(again_host), &again_port));
		fuzz_assert(again_port == port && !strcmp(again_host, host));
	}
	free(s);
	return 0;
}
