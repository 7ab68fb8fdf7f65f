// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Node and API tokens (reconciler/auth.c): the file's shape, who may send
 * for which node (401 without a token or with an unknown one, 403 with
 * another node's), the cluster binding, a reload that keeps the old tables
 * when the new file is bad. TokenReview runs against a stand-in API server
 * in tests/integration/test_reconciler.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "auth.h"

static char dir[] = "/tmp/pm_rec_auth.XXXXXX";
static char nodes_path[64], api_path[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_parse(void **state)
{
	static const struct {
		const char *text;
		int ret;
		size_t n;
	} cases[] = {
		{ "node-a tok-aaaaaaaa\n# a comment\n\n  node-b   tok-bbbbbbbb  \n", 0, 2 },
		{ "prod/node-a tok-1\nnode-a tok-2\n", 0, 2 },
		{ "", 0, 0 },
		{ "node-a\n", -EINVAL, 0 },			/* no token */
		{ "node-a tok extra\n", -EINVAL, 0 },		/* three fields */
		{ "node-a tok-1\nnode-b tok-1\n", -EINVAL, 0 }, /* one token, two nodes */
		{ "node-a tok\x01x\n", -EINVAL, 0 },		/* not printable */
	};
	char err[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		n = 0;
		assert_int_equal(auth__parse_node_tokens(cases[i].text, &n, err, sizeof(err)),
				 cases[i].ret);
		if (cases[i].ret)
			assert_true(err[0] != '\0');
		else
			assert_int_equal(n, cases[i].n);
	}
}

static struct rec_auth *open_auth(struct rec_metrics *m)
{
	struct rec_auth_cfg cfg = { .node_tokens = nodes_path, .api_tokens = api_path };
	struct rec_auth *a;
	char err[256];

	if (auth__open(&a, &cfg, m, err, sizeof(err)))
		fail_msg("auth: %s", err);
	return a;
}

static void test_nodes(void **state)
{
	struct rec_metrics *m = metrics__new("sqlite");
	struct rec_auth *a;
	char why[256];

	(void)state;
	write_file(nodes_path, "node-a tok-aaaaaaaa\nprod/node-b tok-bbbbbbbb\n");
	write_file(api_path, "grafana api-1111\napi-2222\n");
	a = open_auth(m);
	assert_true(auth__nodes_enabled(a));
	assert_int_equal(auth__node(a, "Bearer tok-aaaaaaaa", "lab", "node-a", why, sizeof(why)),
			 AUTH_OK);
	assert_int_equal(auth__node(a, "bearer   tok-aaaaaaaa ", NULL, "node-a", why, sizeof(why)),
			 AUTH_OK);
	assert_int_equal(auth__node(a, NULL, "lab", "node-a", why, sizeof(why)), AUTH_MISSING);
	assert_int_equal(auth__node(a, "Basic dXNlcjpwYXNz", "lab", "node-a", why, sizeof(why)),
			 AUTH_MISSING);
	assert_int_equal(auth__node(a, "Bearer tok-nobody", "lab", "node-a", why, sizeof(why)),
			 AUTH_UNKNOWN);
	assert_int_equal(auth__node(a, "Bearer tok-aaaaaaaa", "lab", "node-b", why, sizeof(why)),
			 AUTH_OTHER);
	assert_non_null(strstr(why, "node-a"));
	/* bound to cluster prod */
	assert_int_equal(auth__node(a, "Bearer tok-bbbbbbbb", "prod", "node-b", why, sizeof(why)),
			 AUTH_OK);
	assert_int_equal(auth__node(a, "Bearer tok-bbbbbbbb", "lab", "node-b", why, sizeof(why)),
			 AUTH_OTHER);
	assert_int_equal(auth__node(a, "Bearer tok-bbbbbbb", "prod", "node-b", why, sizeof(why)),
			 AUTH_UNKNOWN); /* a prefix is not the token */
	assert_int_equal(auth__api(a, "Bearer api-1111"), AUTH_OK);
	assert_int_equal(auth__api(a, "Bearer api-2222"), AUTH_OK);
	assert_int_equal(auth__api(a, "Bearer tok-aaaaaaaa"), AUTH_UNKNOWN);
	assert_int_equal(auth__api(a, NULL), AUTH_MISSING);

	/* SIGHUP: a new file takes effect; a bad one is refused and the old kept */
	write_file(nodes_path, "node-a tok-new-aaaa\n");
	assert_int_equal(auth__reload(a, why, sizeof(why)), 0);
	assert_int_equal(auth__node(a, "Bearer tok-aaaaaaaa", "lab", "node-a", why, sizeof(why)),
			 AUTH_UNKNOWN);
	assert_int_equal(auth__node(a, "Bearer tok-new-aaaa", "lab", "node-a", why, sizeof(why)),
			 AUTH_OK);
	write_file(nodes_path, "node-a tok-x\nnode-b tok-x\n");
	assert_int_equal(auth__reload(a, why, sizeof(why)), -EINVAL);
	assert_int_equal(auth__node(a, "Bearer tok-new-aaaa", "lab", "node-a", why, sizeof(why)),
			 AUTH_OK);
	unlink(nodes_path);
	assert_true(auth__reload(a, why, sizeof(why)) < 0);
	assert_int_equal(auth__node(a, "Bearer tok-new-aaaa", "lab", "node-a", why, sizeof(why)),
			 AUTH_OK);
	auth__close(a);
	metrics__free(m);
}

static void test_cert_names(void **state)
{
	(void)state;
	assert_string_equal(auth__cert_node("system:node:node-a"), "node-a");
	assert_string_equal(auth__cert_node("node-b"), "node-b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_cert_names),
	};
	int fails;

	if (!mkdtemp(dir))
		return 1;
	snprintf(nodes_path, sizeof(nodes_path), "%s/nodes", dir);
	snprintf(api_path, sizeof(api_path), "%s/api", dir);
	fails = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(nodes_path);
	unlink(api_path);
	rmdir(dir);
	return fails;
}
