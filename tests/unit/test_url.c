// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* url__normalize: the URLs of --kubelet, --reconciler and top --url as people type them. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <podmeter/url.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_good(void **state)
{
	static const struct {
		const char *in, *dflt, *out;
	} cases[] = {
		/* no path, or a bare "/": the default path */
		{ "https://node:10250", "/pods", "https://node:10250/pods" },
		{ "https://node:10250/", "/pods", "https://node:10250/pods" },
		{ "http://host:9477", "/v1/pods", "http://host:9477/v1/pods" },
		{ "http://host:9477/", "/v1/pods", "http://host:9477/v1/pods" },
		{ "http://127.0.0.1", "/v1/pods", "http://127.0.0.1/v1/pods" },
		{ "http://[::1]:9477", "/v1/pods", "http://[::1]:9477/v1/pods" },
		{ "http://[fe80::1]/", "/v1/pods", "http://[fe80::1]/v1/pods" },
		{ "http://host:9477?x=1", "/v1/pods", "http://host:9477/v1/pods?x=1" },
		{ "http://host:9477/?x=1", "/v1/pods", "http://host:9477/v1/pods?x=1" },
		/* the scheme in lower case; host and path as given */
		{ "HTTPS://Node-A.example:10250", "/pods", "https://Node-A.example:10250/pods" },
		{ "Http://h_1:1", "/x", "http://h_1:1/x" },
		/* a path given is kept whole */
		{ "https://node:10250/pods", "/pods", "https://node:10250/pods" },
		{ "http://host:9477/v1/pods", "/v1/pods", "http://host:9477/v1/pods" },
		{ "https://api:6443/api/v1/nodes/node-a/proxy/pods", "/pods",
		  "https://api:6443/api/v1/nodes/node-a/proxy/pods" },
		{ "http://host:9477/v1/pods/", "/v1/pods", "http://host:9477/v1/pods/" },
		{ "http://host:9477/other", "/v1/pods", "http://host:9477/other" },
		{ "http://h:65535//", "/p", "http://h:65535//" },
		/* no default: as given */
		{ "http://host:9477", NULL, "http://host:9477" },
		{ "http://host:9477/", NULL, "http://host:9477/" },
	};
	char out[PM_URL_MAX], why[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		why[0] = '\0';
		memset(out, 'z', sizeof(out));
		if (url__normalize(cases[i].in, cases[i].dflt, out, sizeof(out), why, sizeof(why)))
			fail_msg("%s: refused: %s", cases[i].in, why);
		assert_string_equal(out, cases[i].out);
	}
}

static void test_bad(void **state)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
		{ "", "is empty" },
		{ "node:10250", "no scheme" },
		{ "node:10250/pods", "no scheme" },
		{ "//node:10250/pods", "no scheme" },
		{ "http:/node", "no scheme" },
		{ "/pods://x", "no scheme" },
		{ "://node", "no scheme" },
		{ "ftp://node/pods", "scheme \"ftp\"" },
		{ "file:///etc/passwd", "scheme \"file\"" },
		{ "httpss://node", "scheme \"httpss\"" },
		{ "averyveryverylongscheme://node", "unknown scheme" },
		{ "http://", "no host" },
		{ "http:///pods", "no host" },
		{ "https://:10250/pods", "no host" },
		{ "http://[]:80/", "no host" },
		{ "http://?x", "no host" },
		{ "http://node:", "no port after" },
		{ "http://node:/pods", "no port after" },
		{ "http://node:0", "out of range" },
		{ "http://node:65536", "out of range" },
		{ "http://node:99999999999999999999999", "out of range" },
		{ "http://node:-1", "not a number" },
		{ "http://node:80a", "not a number" },
		{ "http://node:1:2", "not a number" },
		{ "http://[::1", "not an address or name" },
		{ "http://[::1]x:80", "not an address or name" },
		{ "http://[zz::1]:80", "not an address or name" },
		{ "http://[1234]:80", "not an address or name" },
		{ "http://::1:80", "no host" },
		{ "http://$(NODE_NAME):10250", "not an address or name" },
		{ "http://-node:1", "not an address or name" },
		{ "http://user:pw@node/pods", "user name" },
		{ "http://no de/pods", "space" },
		{ "http://node/po\nds", "control character" },
		{ "http://n\xc3\xb6"
		  "de/",
		  "outside ASCII" },
	};
	char out[PM_URL_MAX], why[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		strcpy(out, "untouched");
		why[0] = '\0';
		if (!url__normalize(cases[i].in, "/pods", out, sizeof(out), why, sizeof(why)))
			fail_msg("%s: taken as %s", cases[i].in, out);
		if (!strstr(why, cases[i].why))
			fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].in, why, cases[i].why);
		assert_null(strchr(why, '\n'));
		assert_string_equal(out, "untouched");
	}
}

/* What does not fit is refused, not cut: a cut URL would name another resource. */
static void test_length(void **state)
{
	char in[PM_URL_MAX + 16], out[PM_URL_MAX], small[24], why[128];
	size_t n;

	(void)state;
	/* a path given exactly filling the buffer with its NUL */
	n = PM_URL_MAX - 1;
	memcpy(in, "http://h/", 9);
	memset(in + 9, 'a', n - 9);
	in[n] = '\0';
	assert_int_equal(url__normalize(in, "/pods", out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, in);
	/* one byte more */
	in[n] = 'a';
	in[n + 1] = '\0';
	strcpy(out, "untouched");
	assert_int_equal(url__normalize(in, "/pods", out, sizeof(out), why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "too long"));
	assert_string_equal(out, "untouched");
	/* a host longer than a DNS name */
	memcpy(in, "http://", 7);
	memset(in + 7, 'a', 300);
	in[307] = '\0';
	assert_int_equal(url__normalize(in, "/pods", out, sizeof(out), why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not an address or name"));
	/* the default path is what overflows */
	assert_int_equal(url__normalize("http://host:9477", "/v1/pods", small, sizeof(small), why,
					sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "too long"));
	assert_int_equal(url__normalize("http://host:9477", "/v1", small, sizeof(small), why,
					sizeof(why)),
			 0);
	assert_string_equal(small, "http://host:9477/v1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
