/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* agent/url.c: the URLs of flags and config keys, as people type them. */
#ifndef PODMETER_URL_H
#define PODMETER_URL_H

#include <stddef.h>

#define PM_URL_MAX 512 /* bytes, with the NUL: the config's URL fields */

/*
 * @in, an http:// or https:// URL as given on a flag or in the config, into
 * @out: the scheme in lower case, the host and port as given, and the path
 * as given, except that no path or a bare "/" becomes @default_path (for
 * "https://node:10250", "/pods"; a query after it is kept). A path given
 * stays whole, e.g. an API server's /api/v1/nodes/NAME/proxy/pods.
 * Returns 0, or -EINVAL with @why set to a phrase that follows the value in
 * the caller's message ("has no scheme; ..."), without the value itself, and
 * @out left as it was.
 */
int url__normalize(const char *in, const char *default_path, char *out, size_t outlen, char *why,
		   size_t whylen);

#endif /* PODMETER_URL_H */
