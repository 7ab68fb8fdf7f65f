// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: what the reconciler parses besides reports: a node tokens file
 * (reconciler/auth.c), and GET /v1/costs's query values, "by" and "since"
 * (reconciler/costs.c), split from the input at its first NUL bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth.h"
#include "costs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 2), err[256], *by, *since;
	struct costs_query q;
	double secs;
	size_t n;

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = s[size + 1] = '\0';
	if (!auth__parse_node_tokens(s, &n, err, sizeof(err)) && n > size)
		abort(); /* more entries than lines could hold */
	by = s;
	since = by + strlen(by) + 1 <= s + size ? by + strlen(by) + 1 : s + size;
	if (!costs__parse_by(by, &q) && q.by == COSTS_BY_LABEL && !q.label[0])
		abort();
	if (!costs__parse_duration(since, &secs) && !(secs >= 0 && isfinite(secs)))
		abort();
	free(s);
	return 0;
}
