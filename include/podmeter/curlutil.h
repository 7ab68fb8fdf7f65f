/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* common/curlutil.c: what the HTTP clients (kubelet, top, shipper) share. */
#ifndef PODMETER_CURLUTIL_H
#define PODMETER_CURLUTIL_H

#include <stddef.h>
#include <curl/curl.h>

/* A response body, NUL-terminated; a body longer than @max aborts the transfer. */
struct pm_curl_body {
	char *buf; /* free() it */
	size_t len;
	size_t max;
};

/*
 * curl_global_init(CURL_GLOBAL_DEFAULT), without the cryptography start of
 * the SSH library some libcurl builds link (libssh2 starts OpenSSL: 1.5 MiB
 * resident for a protocol podmeter never speaks). Call it before any other
 * libcurl call; pair it with curl_global_cleanup().
 */
CURLcode curlutil__global_init(void);
/* CURLOPT_WRITEFUNCTION for a struct pm_curl_body (CURLOPT_WRITEDATA). */
size_t curlutil__collect(char *p, size_t size, size_t n, void *body);
/*
 * @hdrs with "Authorization: Bearer <token>" appended, the token read from
 * @token_file now (service-account tokens rotate), trailing blanks cut.
 * @hdrs unchanged when there is no file or it cannot be read.
 */
struct curl_slist *curlutil__bearer(struct curl_slist *hdrs, const char *token_file);

#endif /* PODMETER_CURLUTIL_H */
