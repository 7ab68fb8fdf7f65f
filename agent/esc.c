// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Names a tenant controls reach the log: a newline in a process name would
 * forge a log line, an escape sequence would drive the terminal reading
 * it, and a long name would bury the rest. Everything outside printable
 * ASCII is shown as \xNN, and the length is bounded.
 */
#include <stdio.h>
#include <string.h>
#include <podmeter/esc.h>

const char *esc__str(char *dst, size_t len, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, i;
	unsigned char c;

	if (!len)
		return dst;
	if (!src)
		src = "(null)";
	for (i = 0; src[i] && i < PM_ESC_SHOWN; i++) {
		c = (unsigned char)src[i];
		if (n + 5 > len) /* an escape and the NUL */
			break;
		if (c == '\\' || c == '"') {
			dst[n++] = '\\';
			dst[n++] = c;
		} else if (c < 0x20 || c >= 0x7f) {
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		} else {
			dst[n++] = c;
		}
	}
	if (src[i] && n + 4 <= len) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
	return dst;
}
