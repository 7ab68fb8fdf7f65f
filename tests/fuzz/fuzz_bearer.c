// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Bearer tokens (exporter/webcfg.c): a token file, then after the first NUL
 * byte an Authorization header from anyone who reaches the port. The header
 * passes exactly when it is "Bearer " (any case) and one of the file's
 * tokens, as compared here with strcmp.
 */
#include <strings.h>
#include <podmeter/webcfg.h>
#include "fuzz.h"

static struct fuzz_file file;
static struct pm_web_tokens tokens;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t filelen = nul ? (size_t)(nul - data) : size;
	char err[256], *header;
	bool want = false;
	int i;

	fuzz_file_put(&file, data, filelen);
	if (webcfg__load_tokens(&tokens, file.path, err, sizeof(err))) {
		fuzz_assert(err[0] && !strchr(err, '\n'));
		return 0;
	}
	fuzz_assert(tokens.n >= 1 && tokens.n <= PM_WEB_TOKENS_MAX);
	for (i = 0; i < tokens.n; i++)
		fuzz_assert(strlen(tokens.token[i]) >= PM_WEB_TOKEN_MIN &&
			    strlen(tokens.token[i]) <= PM_WEB_TOKEN_MAX);
	header = nul ? fuzz_cstr(nul + 1, size - filelen - 1) : fuzz_cstr(data, 0);
	if (!strncasecmp(header, "Bearer ", 7))
		for (i = 0; i < tokens.n; i++)
			want |= !strcmp(header + 7, tokens.token[i]);
	fuzz_assert(webcfg__bearer_ok(&tokens, header) == want);
	/* and each token of the file, as a scraper would send it */
	for (i = 0; i < tokens.n; i++) {
		char h[PM_WEB_TOKEN_MAX + 8];

		snprintf(h, sizeof(h), "bearer %s", tokens.token[i]);
		fuzz_assert(webcfg__bearer_ok(&tokens, h));
	}
	free(header);
	return 0;
}
