// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * listen: the address `podmeter receive --listen` takes (common/listen.c).
 * It reads as the agent's --listen does (agent/config.c): the same inputs
 * pass, with the same host and port, and the same are refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "podmeter/config.h"
#include "podmeter/listen.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *in, *host;
	uint16_t port;
} good[] = {
	{ "127.0.0.1:9477", "127.0.0.1", 9477 },
	{ ":9477", "", 9477 },
	{ "0.0.0.0:65535", "0.0.0.0", 65535 },
	{ "localhost:1", "localhost", 1 },
	{ "node-1.example.com:080", "node-1.example.com", 80 },
	{ "[::1]:9477", "::1", 9477 },
	{ "[::]:9477", "::", 9477 },
	{ "[fe80::1%eth0]:80", "fe80::1%eth0", 80 },
	{ "[2001:db8::a:b]:443", "2001:db8::a:b", 443 },
};

static const char *const bad[] = {
	"",
	"127.0.0.1",
	"127.0.0.1:",
	":0",
	":65536",
	":99999999999",
	"::1:9477",
	"[::1]9477",
	"[::1",
	"[::1]:",
	"[]:9477",
	"[nothost]:80",
	"[127.0.0.1]:80",
	"[fe80::1%]:80",
	"host:-1",
	"host:+80",
	"host:80x",
	"a b:80",
	" :80",
	"host: 80",
	"ho/st:80",
	"[::1]:0",
	"[::1]:70000",
	"h\x01st:80",
	"[::1%\x7f]:80",
};

static void test_good(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		char host[256] = "unset";
		uint16_t port = 0;
		const char *why = NULL;
		int ret = listen__parse(good[i].in, host, sizeof(host), &port, &why);

		if (ret || strcmp(host, good[i].host) || port != good[i].port)
			fail_msg("\"%s\": ret %d host \"%s\" port %u", good[i].in, ret, host, port);
	}
}

static void test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char host[256] = "unset";
		uint16_t port = 7;
		const char *why = NULL;
		int ret = listen__parse(bad[i], host, sizeof(host), &port, &why);

		if (ret >= 0 || strcmp(host, "unset") || port != 7)
			fail_msg("\"%s\": ret %d host \"%s\" port %u, want an error", bad[i], ret,
				 host, port);
		/* a phrase for the message: one line */
		if (!why || !why[0] || strchr(why, '\n'))
			fail_msg("\"%s\": no reason given", bad[i]);
		/* and NULL for @why is allowed */
		assert_int_equal(listen__parse(bad[i], host, sizeof(host), &port, NULL), ret);
	}
}

static void test_host_too_long(void **state)
{
	char host[4];
	uint16_t port = 7;

	(void)state;
	assert_int_equal(listen__parse("abc:80", host, sizeof(host), &port, NULL), 0);
	assert_string_equal(host, "abc");
	assert_int_equal(port, 80);
	strcpy(host, "xyz");
	assert_int_equal(listen__parse("abcd:81", host, sizeof(host), &port, NULL), -ENAMETOOLONG);
	assert_string_equal(host, "xyz");
	assert_int_equal(port, 80);
	assert_int_equal(listen__parse(NULL, host, sizeof(host), &port, NULL), -EINVAL);
	assert_int_equal(listen__parse("a:1", host, 0, &port, NULL), -EINVAL);
}

/*
 * podmeter receive --listen and podmeter run --listen take the same
 * addresses: the agent's key, set as a flag or the config file sets it.
 */
static void test_same_as_agent(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good) + ARRAY_SIZE(bad); i++) {
		const char *in = i < ARRAY_SIZE(good) ? good[i].in : bad[i - ARRAY_SIZE(good)];
		char h1[sizeof(((struct pm_config *)0)->http.listen_host)] = "", err[256] = "";
		struct pm_config cfg;
		uint16_t p1 = 0;
		int r1 = listen__parse(in, h1, sizeof(h1), &p1, NULL), r2;

		config__defaults(&cfg);
		r2 = config__set(&cfg, "listen", in, err, sizeof(err));
		if (!r1 != !r2 ||
		    (!r1 && (strcmp(h1, cfg.http.listen_host) || p1 != cfg.http.listen_port)))
			fail_msg("\"%s\": receive %d \"%s\" %u, run %d \"%s\" %u (%s)", in, r1, h1,
				 p1, r2, cfg.http.listen_host, cfg.http.listen_port, err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_host_too_long),
		cmocka_unit_test(test_same_as_agent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
