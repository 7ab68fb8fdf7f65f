// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The web config file (exporter/webcfg.c): TLS and token settings in the
 * Prometheus exporters' format, written into a directory of its own that
 * holds a matching certificate and key (tls.crt, tls.key, also as ca.crt)
 * and a token file (tokens), made for these runs only, so that relative
 * paths reach the checks past them.
 */
#include <fcntl.h>
#include <podmeter/webcfg.h>
#include "fuzz.h"

static const char fuzz_key[] = "-----BEGIN PRIVATE KEY-----\n"
			       "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOXDbP5JCDJY29u4Z\n"
			       "Bl7pgtsdwwTBRROMoey4cqwsHbmhRANCAAQpga7v/JvwXX6kwAr53t+HHyNwfdEX\n"
			       "05j9jzrJR8e/NgZSo8I6gQD5VC1SLW4cKI68u9OufISLJrS3Fu0CiPAo\n"
			       "-----END PRIVATE KEY-----\n";
static const char fuzz_crt[] = "-----BEGIN CERTIFICATE-----\n"
			       "MIIBhzCCAS2gAwIBAgIUWebZgTHttQaa1bu8Dk4Zl9VzF5MwCgYIKoZIzj0EAwIw\n"
			       "GDEWMBQGA1UEAwwNcG9kbWV0ZXItZnV6ejAgFw0yNjEyMDQxODQ3MDZaGA8yMTI2\n"
			       "MTExMDE4NDcwNlowGDEWMBQGA1UEAwwNcG9kbWV0ZXItZnV6ejBZMBMGByqGSM49\n"
			       "AgEGCCqGSM49AwEHA0IABCmBru/8m/BdfqTACvne34cfI3B90RfTmP2POslHx782\n"
			       "BlKjwjqBAPlULVItbhwojry70658hIsmtLcW7QKI8CijUzBRMB0GA1UdDgQWBBSH\n"
			       "F52kmQ2pA4LPBWoZ3H+Wt5ki/TAfBgNVHSMEGDAWgBSHF52kmQ2pA4LPBWoZ3H+W\n"
			       "t5ki/TAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCJC7QbO5EV\n"
			       "CUQoeuPMgs7SDfbuAS3nd2uYEfYCtWLe7gIgZr0ne3o3sD5BcbC5ECXzeqc07wPu\n"
			       "XCPlS7sbUmFDeIE=\n"
			       "-----END CERTIFICATE-----\n";

static char dir[] = "/tmp/fuzz_webcfg.XXXXXX", path[64];

static void rm(const char *name)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
}

static void cleanup(void)
{
	static const char *const names[] = { "tls.key", "tls.crt", "ca.crt", "tokens", "web.yaml" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		rm(names[i]);
	rmdir(dir);
}

static void put(const char *name, const void *buf, size_t len)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char tokens[] = "# scrapers\nprometheus-0123456789abcdef\n";

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	put("tls.key", fuzz_key, sizeof(fuzz_key) - 1);
	put("tls.crt", fuzz_crt, sizeof(fuzz_crt) - 1);
	put("ca.crt", fuzz_crt, sizeof(fuzz_crt) - 1);
	put("tokens", tokens, sizeof(tokens) - 1);
	snprintf(path, sizeof(path), "%s/web.yaml", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pm_web_config wc, before;
	char err[1024];
	int fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd))
		abort();
	memset(&wc, 0x5a, sizeof(wc));
	memcpy(&before, &wc, sizeof(wc));
	err[0] = '\0';
	ret = webcfg__load(&wc, path, err, sizeof(err));
	if (ret) {
		fuzz_assert(err[0]);
		/* a refused file leaves the settings as they were */
		fuzz_assert(!memcmp(&wc, &before, sizeof(wc)));
		return 0;
	}
	fuzz_assert(strnlen(wc.cert_file, sizeof(wc.cert_file)) < sizeof(wc.cert_file));
	fuzz_assert(strnlen(wc.tokens_file, sizeof(wc.tokens_file)) < sizeof(wc.tokens_file));
	return 0;
}
