/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* common/listen.c: the address an HTTP endpoint listens on. */
#ifndef PODMETER_LISTEN_H
#define PODMETER_LISTEN_H

#include <stddef.h>
#include <stdint.h>

/*
 * "HOST:PORT", "[IPV6]:PORT" (a zone allowed: "[fe80::1%eth0]:80") or ":PORT"
 * (every address, @host ""): the host is an address or a name of letters,
 * digits, '.', '-' and '_'; the port 1-65535, digits only. Returns 0 with
 * @host and @port set; -EINVAL or -ERANGE (port) with both untouched and
 * *@why (when @why is not NULL) a phrase to follow the input in a message
 * ("has no :PORT, e.g. 127.0.0.1:9477"); -ENAMETOOLONG when the host does not
 * fit @hostlen.
 */
int listen__parse(const char *s, char *host, size_t hostlen, uint16_t *port, const char **why);

#endif /* PODMETER_LISTEN_H */
