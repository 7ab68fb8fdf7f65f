// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* CIDR lists of the net_<class> settings (agent/signal/cidr.c): what parses, prints and parses back. */
#include <sys/socket.h>
#include <podmeter/cidr.h>
#include "fuzz.h"

#define FUZZ_CIDRS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), why[256], text[64];
	struct pm_cidr set[FUZZ_CIDRS], again;
	int n = 0, i, ret;

	ret = cidr__parse_list(s, 1, set, FUZZ_CIDRS, &n, why, sizeof(why));
	fuzz_assert(n >= 0 && n <= FUZZ_CIDRS);
	fuzz_assert(!ret || why[0]);
	for (i = 0; i < n; i++) {
		fuzz_assert(set[i].family == AF_INET || set[i].family == AF_INET6);
		fuzz_assert(set[i].prefix <= (set[i].family == AF_INET ? 32 : 128));
		cidr__format(&set[i], text, sizeof(text));
		fuzz_assert(!cidr__parse(text, &again, why, sizeof(why)));
		fuzz_assert(again.family == set[i].family && again.prefix == set[i].prefix &&
			    !memcmp(again.addr, set[i].addr, sizeof(again.addr)));
		fuzz_assert(cidr__find(set, n, &set[i]) == i);
	}
	free(s);
	return 0;
}
