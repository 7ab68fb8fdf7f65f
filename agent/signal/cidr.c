// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* CIDR parsing for the network classes. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <podmeter/cidr.h>
#include <podmeter/net.h>

static bool host_bits_zero(const struct pm_cidr *c)
{
	int bytes = c->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < bytes; i++) {
		int keep = c->prefix - i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if (c->addr[i] & ~mask)
			return false;
	}
	return true;
}

int cidr__parse(const char *s, struct pm_cidr *out, char *why, size_t whylen)
{
	char buf[64], *slash, *end;
	long prefix;
	int max;

	memset(out, 0, sizeof(*out));
	if (strlen(s) >= sizeof(buf)) {
		snprintf(why, whylen, "\"%.40s...\" is too long for a CIDR", s);
		return -EINVAL;
	}
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else {
		snprintf(why, whylen, "\"%s\" is not an IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8)", s);
		return -EINVAL;
	}
	max = out->family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash) {
		errno = 0;
		prefix = strtol(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno || prefix < 0 ||
		    prefix > max) {
			snprintf(why, whylen, "\"%s\": prefix length must be 0-%d", s, max);
			return -EINVAL;
		}
	}
	out->prefix = (uint8_t)prefix;
	if (!host_bits_zero(out)) {
		snprintf(why, whylen, "\"%s\" has host bits set; give the network address", s);
		return -EINVAL;
	}
	return 0;
}

int cidr__find(const struct pm_cidr *set, int n, const struct pm_cidr *c)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i].family == c->family && set[i].prefix == c->prefix &&
		    !memcmp(set[i].addr, c->addr, sizeof(c->addr)))
			return i;
	return -1;
}

int cidr__parse_list(const char *s, int class, struct pm_cidr *out, int max, int *n, char *why,
		     size_t whylen)
{
	const char *p = s;

	while (*p) {
		char item[64];
		size_t len;
		int ret;

		while (isspace((unsigned char)*p) || *p == ',')
			p++;
		len = strcspn(p, ", \t\r\n");
		if (!len)
			break;
		if (len >= sizeof(item)) {
			snprintf(why, whylen, "\"%.40s...\" is too long for a CIDR", p);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		p += len;
		if (*n >= max) {
			snprintf(why, whylen, "more than %d CIDRs", max);
			return -E2BIG;
		}
		ret = cidr__parse(item, &out[*n], why, whylen);
		if (ret)
			return ret;
		if (cidr__find(out, *n, &out[*n]) >= 0) {
			snprintf(why, whylen, "%s is given twice", item);
			return -EEXIST;
		}
		out[(*n)++].class = (uint8_t) class;
	}
	return 0;
}

int cidr__defaults(struct pm_cidr *out, int max)
{
	static const struct {
		const char *cidr;
		int class;
	} defs[] = {
		{ "127.0.0.0/8", PM_NET_LOCAL },      { "::1/128", PM_NET_LOCAL },
		{ "10.0.0.0/8", PM_NET_IN_ZONE },     { "172.16.0.0/12", PM_NET_IN_ZONE },
		{ "192.168.0.0/16", PM_NET_IN_ZONE }, { "100.64.0.0/10", PM_NET_IN_ZONE },
		{ "169.254.0.0/16", PM_NET_IN_ZONE }, { "fc00::/7", PM_NET_IN_ZONE },
		{ "fe80::/10", PM_NET_IN_ZONE },
	};
	char why[128];
	int i, n = 0;

	for (i = 0; i < (int)(sizeof(defs) / sizeof(defs[0])) && n < max; i++) {
		if (cidr__parse(defs[i].cidr, &out[n], why, sizeof(why)))
			return -EINVAL;
		out[n++].class = (uint8_t)defs[i].class;
	}
	return n;
}

void cidr__format(const struct pm_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, c->prefix);
}
