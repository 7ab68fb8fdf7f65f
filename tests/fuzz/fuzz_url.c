// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * URLs of --kubelet, --reconciler, top --url and their config keys
 * (agent/url.c url__normalize). The first byte picks the output buffer's size,
 * so that the "too long" edge is reached too.
 */
#include <podmeter/url.h>
#include "fuzz.h"

static const char *const fuzz_defaults[] = { "/pods", "/v1/pods", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[PM_URL_MAX], again[PM_URL_MAX], why[128];
	const char *dflt;
	size_t outlen, i;
	char *s;
	int ret;

	if (!size)
		return 0;
	outlen = 1 + data[0] % PM_URL_MAX;
	dflt = fuzz_defaults[data[0] % 3];
	s = fuzz_cstr(data + 1, size - 1);
	strcpy(out, "untouched");
	why[0] = '\0';
	ret = url__normalize(s, dflt, out, outlen, why, sizeof(why));
	if (ret) {
		/* refused: a reason of one line, and the output as it was */
		fuzz_assert(ret == -EINVAL && why[0] && !strchr(why, '\n'));
		fuzz_assert(!strcmp(out, "untouched"));
		free(s);
		return 0;
	}
	fuzz_assert(strlen(out) < outlen);
	fuzz_assert(!strncmp(out, "http://", 7) || !strncmp(out, "https://", 8));
	for (i = 0; out[i]; i++)
		fuzz_assert((unsigned char)out[i] > ' ' && (unsigned char)out[i] < 0x7f);
	/* a path after the host when there is a default: never bare, never "/" alone */
	if (dflt) {
		const char *p = strchr(out, ':') + 3;

		p += strcspn(p, "/?#");
		fuzz_assert(*p == '/' && p[1] && p[1] != '?' && p[1] != '#');
	}
	/* what comes out goes in again unchanged */
	fuzz_assert(!url__normalize(out, dflt, again, sizeof(again), why, sizeof(why)));
	fuzz_assert(!strcmp(out, again));
	free(s);
	return 0;
}
