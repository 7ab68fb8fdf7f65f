// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * URLs as people type them: "https://node:10250" means the kubelet's /pods,
 * "http://host:9477/" an agent's /v1/pods. Only http and https, a host that
 * is a name or an address, a port in range; anything else is refused here,
 * with a reason, rather than by curl at the first request.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <podmeter/url.h>

#define URL_SCHEME_SHOWN 16 /* an unknown scheme longer than this is not quoted back */

static bool url_printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* "http://" or "https://": the length of the scheme and "://"; 0 with @why set when neither. */
static size_t url_scheme(const char *in, char *scheme, char *why, size_t whylen)
{
	const char *sep = strstr(in, "://");
	size_t n = sep ? (size_t)(sep - in) : 0;

	if (sep && n == 4 && !strncasecmp(in, "http", 4)) {
		strcpy(scheme, "http");
		return 7;
	}
	if (sep && n == 5 && !strncasecmp(in, "https", 5)) {
		strcpy(scheme, "https");
		return 8;
	}
	if (!sep || n == 0 || memchr(in, '/', n))
		snprintf(why, whylen, "has no scheme; write http://HOST:PORT or https://HOST:PORT");
	else if (n <= URL_SCHEME_SHOWN && url_printable(in, n) && !memchr(in, '"', n))
		snprintf(why, whylen, "has scheme \"%.*s\"; use http:// or https://", (int)n, in);
	else
		snprintf(why, whylen, "has an unknown scheme; use http:// or https://");
	return 0;
}

static bool url_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static bool url_host_ok(const char *h, size_t n)
{
	size_t i;

	if (h[0] == '[') { /* [IPv6], as RFC 3986 writes it */
		if (n < 4 || h[n - 1] != ']' || !memchr(h, ':', n))
			return false;
		for (i = 1; i < n - 1; i++)
			if (!strchr("0123456789abcdefABCDEF:.", h[i]))
				return false;
		return true;
	}
	for (i = 0; i < n; i++)
		if (!url_name_char(h[i]))
			return false;
	return h[0] != '.' && h[0] != '-';
}

/* ":PORT" after the host, if any: 1-65535 in decimal. */
static int url_port(const char *p, size_t n, char *why, size_t whylen)
{
	unsigned long port = 0;
	size_t i;

	if (n == 0)
		return 0;
	if (n == 1) {
		snprintf(why, whylen, "has no port after ':'");
		return -EINVAL;
	}
	for (i = 1; i < n; i++) {
		if (p[i] < '0' || p[i] > '9') {
			snprintf(why, whylen, "has a port that is not a number");
			return -EINVAL;
		}
		if (port <= 65535)
			port = port * 10 + (unsigned long)(p[i] - '0');
	}
	if (port == 0 || port > 65535) {
		snprintf(why, whylen, "has a port out of range; use 1-65535");
		return -EINVAL;
	}
	return 0;
}

/* HOST[:PORT] of @n bytes at @a. */
static int url_authority(const char *a, size_t n, char *why, size_t whylen)
{
	const char *colon;
	size_t hostlen;

	if (memchr(a, '@', n)) {
		snprintf(why, whylen,
			 "has a user name before '@'; give credentials in a file instead");
		return -EINVAL;
	}
	if (n && a[0] == '[') {
		const char *close = memchr(a, ']', n);

		hostlen = close ? (size_t)(close - a) + 1 : n;
	} else {
		colon = memchr(a, ':', n);
		hostlen = colon ? (size_t)(colon - a) : n;
	}
	if (hostlen == 0 || (hostlen == 2 && a[0] == '[')) {
		snprintf(why, whylen, "has no host; write http://HOST:PORT");
		return -EINVAL;
	}
	if (hostlen > 253 + 2 || !url_host_ok(a, hostlen)) {
		snprintf(why, whylen, "has a host that is not an address or name");
		return -EINVAL;
	}
	if (hostlen < n && a[hostlen] != ':') {
		snprintf(why, whylen, "has a host that is not an address or name");
		return -EINVAL;
	}
	return url_port(a + hostlen, n - hostlen, why, whylen);
}

int url__normalize(const char *in, const char *default_path, char *out, size_t outlen, char *why,
		   size_t whylen)
{
	char scheme[8];
	const char *auth, *path;
	size_t skip, authlen, pathlen, need;
	int ret;

	if (!in || !*in) {
		snprintf(why, whylen, "is empty; write http://HOST:PORT or https://HOST:PORT");
		return -EINVAL;
	}
	if (!url_printable(in, strlen(in))) {
		snprintf(why, whylen, "has a space, a control character or a byte outside ASCII");
		return -EINVAL;
	}
	skip = url_scheme(in, scheme, why, whylen);
	if (!skip)
		return -EINVAL;
	auth = in + skip;
	authlen = strcspn(auth, "/?#");
	ret = url_authority(auth, authlen, why, whylen);
	if (ret)
		return ret;
	path = auth + authlen;
	pathlen = strcspn(path, "?#");
	if (!default_path || pathlen > 1)
		default_path = ""; /* the path as given */
	else
		path += pathlen; /* the default, then any query */
	need = strlen(scheme) + 3 + authlen + strlen(default_path) + strlen(path);
	if (need >= outlen) {
		snprintf(why, whylen, "is too long; %zu bytes at most", outlen ? outlen - 1 : 0);
		return -EINVAL;
	}
	snprintf(out, outlen, "%s://%.*s%s%s", scheme, (int)authlen, auth, default_path, path);
	return 0;
}
