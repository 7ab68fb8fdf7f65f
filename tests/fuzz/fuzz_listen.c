// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Listen addresses, "HOST:PORT" and "[V6]:PORT": common/listen.c (podmeter
 * receive) and agent/config.c (podmeter run) read each the same way.
 */
#include <podmeter/config.h>
#include <podmeter/listen.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), host[64], again_host[64], text[96], run_host[64];
	uint16_t port, again_port, run_port;
	const char *why = NULL;
	int ret = listen__parse(s, host, sizeof(host), &port, &why);

	fuzz_assert(ret == config__parse_listen(s, run_host, sizeof(run_host), &run_port));
	if (!ret) {
		fuzz_assert(port >= 1 && strlen(host) < sizeof(host));
		fuzz_assert(run_port == port && !strcmp(run_host, host));
		snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
		ret = listen__parse(text, again_host, sizeof(again_host), &again_port, NULL);
		fuzz_assert(!ret);
		fuzz_assert(again_port == port && !strcmp(again_host, host));
	} else {
		fuzz_assert(why && why[0] && !strchr(why, '\n'));
	}
	free(s);
	return 0;
}
