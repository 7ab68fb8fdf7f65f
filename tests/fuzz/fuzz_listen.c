// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Listen addresses, "HOST:PORT" and "[V6]:PORT": common/listen.c (podmeter
 * receive) and the agent's listen key (podmeter run) read each the same way.
 */
#include <podmeter/config.h>
#include <podmeter/listen.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pm_config cfg;
	char *s = fuzz_cstr(data, size), host[sizeof(cfg.http.listen_host)],
	     again_host[sizeof(host)], text[sizeof(host) + 16], err[256];
	uint16_t port, again_port;
	const char *why = NULL;
	int ret = listen__parse(s, host, sizeof(host), &port, &why);

	config__defaults(&cfg);
	fuzz_assert(!ret == !config__set(&cfg, "listen", s, err, sizeof(err)));
	if (!ret) {
		fuzz_assert(port >= 1 && strlen(host) < sizeof(host));
		fuzz_assert(cfg.http.listen_port == port && !strcmp(cfg.http.listen_host, host));
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
