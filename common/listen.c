// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Listen addresses: "HOST:PORT", "[V6]:PORT", ":PORT" (podmeter receive --listen). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <podmeter/listen.h>

static bool listen_hostname_ok(const char *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)h[i]) && !strchr(".-_", h[i]))
			return false;
	}
	return true;
}

static bool listen_ipv6_ok(const char *h, size_t n)
{
	const char *zone = memchr(h, '%', n);
	size_t an = zone ? (size_t)(zone - h) : n;
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (an >= sizeof(buf))
		return false;
	/* A zone ("fe80::1%eth0") names an interface. */
	if (zone && (an + 1 == n || !listen_hostname_ok(zone + 1, n - an - 1)))
		return false;
	memcpy(buf, h, an);
	buf[an] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* Port: 1-65535, digits only. */
static int listen_port(const char *s, uint16_t *port, const char **why)
{
	unsigned long v = 0;
	const char *p;

	if (!*s) {
		*why = "has no port after ':'";
		return -EINVAL;
	}
	for (p = s; *p; p++) {
		if (!isdigit((unsigned char)*p)) {
			*why = "has a port that is not a number";
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			break;
	}
	if (v < 1 || v > 65535) {
		*why = "has a port out of range; use 1-65535";
		return -ERANGE;
	}
	*port = (uint16_t)v;
	return 0;
}

static int listen_parse(const char *s, char *host, size_t hostlen, uint16_t *port, const char **why)
{
	const char *h = s, *colon;
	size_t hn;
	int ret;

	if (*s == '[') {
		colon = strchr(s, ']');
		h = s + 1;
		hn = colon ? (size_t)(colon - h) : 0;
		if (!colon || colon[1] != ':' || !listen_ipv6_ok(h, hn)) {
			*why = "is not [IPV6]:PORT, e.g. [::1]:9477";
			return -EINVAL;
		}
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			*why = "has no :PORT, e.g. 127.0.0.1:9477";
			return -EINVAL;
		}
		hn = (size_t)(colon - s);
		if (memchr(s, ':', hn)) {
			*why = "has an IPv6 address without brackets; write [::1]:9477";
			return -EINVAL;
		}
		if (!listen_hostname_ok(s, hn)) {
			*why = "has a host that is not an address or name";
			return -EINVAL;
		}
	}
	if (hn >= hostlen) {
		*why = "has a host name that is too long";
		return -ENAMETOOLONG;
	}
	ret = listen_port(colon + 1, port, why);
	if (ret)
		return ret;
	memcpy(host, h, hn);
	host[hn] = '\0';
	return 0;
}

int listen__parse(const char *s, char *host, size_t hostlen, uint16_t *port, const char **why)
{
	const char *unused;

	if (!why)
		why = &unused;
	*why = "is not HOST:PORT";
	if (!s || !host || !hostlen || !port)
		return -EINVAL;
	return listen_parse(s, host, hostlen, port, why);
}
