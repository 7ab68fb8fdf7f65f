// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tenant strings made safe for a log line (agent/esc.c): what comes out is
 * printable ASCII that unescapes to the start of the input, "..." marking a
 * cut, within the buffer whatever its size (the first byte chooses it).
 */
#include <podmeter/esc.h>
#include "fuzz.h"

/* Undo the escapes of @s into @out; its length. */
static size_t unescape(const char *s, char *out)
{
	size_t n = 0;
	unsigned int v;

	while (*s) {
		if (s[0] == '\\' && s[1] == 'x') {
			fuzz_assert(sscanf(s + 2, "%2x", &v) == 1);
			out[n++] = (char)v;
			s += 4;
		} else if (s[0] == '\\') {
			fuzz_assert(s[1] == '\\' || s[1] == '"');
			out[n++] = s[1];
			s += 2;
		} else {
			out[n++] = *s++;
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src, dst[PM_ESC_BUF], back[PM_ESC_BUF];
	size_t len, n, i, srclen;

	if (!size)
		return 0;
	len = data[0] % 2 ? PM_ESC_BUF : 1 + data[0] % sizeof(dst);
	src = fuzz_cstr(data + 1, size - 1);
	srclen = strlen(src);
	esc__str(dst, len, src);
	n = strlen(dst);
	fuzz_assert(n < len);
	for (i = 0; i < n; i++)
		fuzz_assert(dst[i] >= 0x20 && dst[i] < 0x7f);
	if (n >= 3 && !strcmp(dst + n - 3, "...") && srclen > 0) {
		dst[n - 3] = '\0'; /* a cut, or a source ending in "..." itself */
		n = unescape(dst, back);
		fuzz_assert(!memcmp(back, src, n));
	} else {
		n = unescape(dst, back);
		fuzz_assert(!memcmp(back, src, n));
		/* uncut with room to spare: all of it */
		if (len == PM_ESC_BUF)
			fuzz_assert(n == srclen);
	}
	free(src);
	return 0;
}
