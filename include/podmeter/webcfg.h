/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who may read the agent's HTTP endpoint: a web config file in the format
 * Prometheus exporters read (exporter-toolkit's tls_server_config), plus
 * bearer_tokens_file, podmeter's own.
 */
#ifndef PODMETER_WEBCFG_H
#define PODMETER_WEBCFG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

enum pm_client_auth {
	PM_CLIENT_AUTH_NONE,	 /* NoClientCert */
	PM_CLIENT_AUTH_IF_GIVEN, /* VerifyClientCertIfGiven */
	PM_CLIENT_AUTH_REQUIRE,	 /* RequireAndVerifyClientCert */
};

struct pm_web_config {
	char cert_file[PATH_MAX]; /* "" = plain HTTP */
	char key_file[PATH_MAX];
	char client_ca_file[PATH_MAX];
	enum pm_client_auth client_auth;
	bool tls13;		    /* min_version TLS13; TLS12 otherwise */
	char tokens_file[PATH_MAX]; /* "" = no token asked */
};

#define PM_WEB_TOKENS_MAX 32
#define PM_WEB_TOKEN_MIN  16 /* shorter is guessable */
#define PM_WEB_TOKEN_MAX  512
#define PM_WEB_FILE_MAX	  (1u << 20) /* a PEM or token file */

struct pm_web_tokens {
	int n;
	char token[PM_WEB_TOKENS_MAX][PM_WEB_TOKEN_MAX + 1];
};

/*
 * Load and check a web config file: the keys known, the certificate, key
 * and CA readable and matching (GnuTLS), the token file well formed. Paths
 * may be relative to the file's directory. Returns 0, or a negative errno
 * with @err set.
 */
int webcfg__load(struct pm_web_config *wc, const char *path, char *err, size_t errlen);

/*
 * The tokens of a bearer token file: one a line, blank lines and lines
 * starting with # passed over; each 16 to 512 visible ASCII characters.
 */
int webcfg__load_tokens(struct pm_web_tokens *t, const char *path, char *err, size_t errlen);

/*
 * Whether an Authorization header value ("Bearer <token>") names one of @t;
 * its time depends on the header's length only.
 */
bool webcfg__bearer_ok(const struct pm_web_tokens *t, const char *authorization);

/* A small file, whole and NUL-terminated (at most PM_WEB_FILE_MAX), malloc'ed. */
int webcfg__read_file(const char *path, char **out, size_t *len);

#endif /* PODMETER_WEBCFG_H */
