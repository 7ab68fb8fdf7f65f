// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the HTTP clients (kubelet, top, shipper) share: a bounded body, the bearer token. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/curlutil.h>

#define CURLUTIL_TOKEN_MAX 8192

/* libssh2.h's LIBSSH2_INIT_NO_CRYPTO */
#define SSH2_INIT_NO_CRYPTO 0x0001

CURLcode curlutil__global_init(void)
{
	int (*ssh2_init)(int flags);

	/*
	 * libssh2 counts its starts and starts its cryptography only on the
	 * first: a first start without it leaves libcurl's own start (and a TLS
	 * backend other than OpenSSL) the only one. Looked up, not linked:
	 * present only where this libcurl brought it.
	 */
	*(void **)&ssh2_init = dlsym(RTLD_DEFAULT, "libssh2_init");
	if (ssh2_init)
		ssh2_init(SSH2_INIT_NO_CRYPTO);
	return curl_global_init(CURL_GLOBAL_DEFAULT);
}

size_t curlutil__collect(char *p, size_t size, size_t n, void *body)
{
	struct pm_curl_body *b = body;
	size_t add = size * n;
	char *grown;

	if (b->len + add + 1 > b->max)
		return 0; /* aborts the transfer */
	grown = realloc(b->buf, b->len + add + 1);
	if (!grown)
		return 0;
	b->buf = grown;
	memcpy(b->buf + b->len, p, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

struct curl_slist *curlutil__bearer(struct curl_slist *hdrs, const char *token_file)
{
	char token[CURLUTIL_TOKEN_MAX], hdr[CURLUTIL_TOKEN_MAX + 32];
	struct curl_slist *more;
	size_t n;
	FILE *f;

	if (!token_file[0])
		return hdrs;
	f = fopen(token_file, "re");
	if (!f)
		return hdrs;
	n = fread(token, 1, sizeof(token) - 1, f);
	fclose(f);
	while (n && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' ' ||
		     token[n - 1] == '\t'))
		n--;
	token[n] = '\0';
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
	more = curl_slist_append(hdrs, hdr);
	return more ? more : hdrs;
}
