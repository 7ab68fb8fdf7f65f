/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CIDRs and the network classes egress is priced by. */
#ifndef PODMETER_CIDR_H
#define PODMETER_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <podmeter/names.h> /* enum pm_net_class, names__net_class */

struct pm_cidr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; IPv4 in the first 4 */
	uint8_t prefix;	  /* 0-32 or 0-128 */
	uint8_t class;	  /* enum pm_net_class (names__net_class) */
};

/* "10.0.0.0/8", "fd00::/8"; a bare address is a /32 or /128. Host bits must be 0. */
int cidr__parse(const char *s, struct pm_cidr *out, char *why, size_t whylen);

/*
 * A comma-separated list of CIDRs, all of @class, appended to @out (room for
 * @max, @n in use). Spaces around items are allowed; an empty list is fine.
 */
int cidr__parse_list(const char *s, int class, struct pm_cidr *out, int max, int *n, char *why,
		     size_t whylen);

/* The same network twice is an error (in two classes, it would be ambiguous). */
int cidr__find(const struct pm_cidr *set, int n, const struct pm_cidr *c);

/* Built-in classes: loopback local; RFC 1918, CGNAT, link-local, ULA in_zone. */
int cidr__defaults(struct pm_cidr *out, int max);

/* "10.0.0.0/8" */
void cidr__format(const struct pm_cidr *c, char *buf, size_t len);

#endif /* PODMETER_CIDR_H */
