// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ohpath: cgroup paths outside pods -> node overhead groups. Cases are the
 * trees systemd, docker, podman, containerd/nerdctl, CRI-O and lxc make, and
 * hostile names. Each case runs with and without the leading '/' and with a
 * trailing '/'; the path is an exact-size heap copy so ASan sees over-reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "podmeter/ohpath.h"

#define ID64 "495bedb5e9bccf9d7e53e088bfff2ee8619d180c14e8c761e128050d18759e06"
#define ID12 "495bedb5e9bc"

struct ohcase {
	const char *path;
	enum pm_oh_kind kind;
	const char *name;
	const char *group_path; /* the group's own cgroup, as a prefix of path */
	bool own_memory;
};

static const struct ohcase cases[] = {
	{ "/", PM_OH_SLICE, "/", "", false },
	{ "", PM_OH_SLICE, "/", "", false },
	{ "/init.scope", PM_OH_UNIT, "init.scope", "/init.scope", true },
	{ "/system.slice", PM_OH_SLICE, "system.slice", "/system.slice", false },
	{ "/system.slice/sshd.service", PM_OH_UNIT, "sshd.service", "/system.slice/sshd.service",
	  true },
	{ "/system.slice/containerd.service/sub/deeper", PM_OH_UNIT, "containerd.service",
	  "/system.slice/containerd.service", true },
	{ "/system.slice/system-getty.slice/getty@tty1.service", PM_OH_UNIT, "getty@tty1.service",
	  "/system.slice/system-getty.slice/getty@tty1.service", true },
	{ "/system.slice/system-getty.slice", PM_OH_SLICE, "system-getty.slice",
	  "/system.slice/system-getty.slice", false },
	{ "/system.slice/var-lib.mount", PM_OH_UNIT, "var-lib.mount", "/system.slice/var-lib.mount",
	  true },
	{ "/system.slice/docker-" ID64 ".scope", PM_OH_CONTAINER, "docker " ID12,
	  "/system.slice/docker-" ID64 ".scope", true },
	{ "/system.slice/docker-" ID64 ".scope/init", PM_OH_CONTAINER, "docker " ID12,
	  "/system.slice/docker-" ID64 ".scope", true },
	{ "/system.slice/docker-notanid.scope", PM_OH_UNIT, "docker-notanid.scope",
	  "/system.slice/docker-notanid.scope", true },
	{ "/machine.slice/libpod-" ID64 ".scope/container", PM_OH_CONTAINER, "podman " ID12,
	  "/machine.slice/libpod-" ID64 ".scope", true },
	{ "/machine.slice/libpod-conmon-" ID64 ".scope", PM_OH_UNIT, "libpod-conmon-" ID64 ".scope",
	  "/machine.slice/libpod-conmon-" ID64 ".scope", true },
	{ "/system.slice/nerdctl-" ID64 ".scope", PM_OH_CONTAINER, "nerdctl " ID12,
	  "/system.slice/nerdctl-" ID64 ".scope", true },
	{ "/system.slice/cri-containerd-" ID64 ".scope", PM_OH_CONTAINER, "containerd " ID12,
	  "/system.slice/cri-containerd-" ID64 ".scope", true },
	{ "/machine.slice", PM_OH_SLICE, "machine.slice", "/machine.slice", false },
	{ "/user.slice", PM_OH_SLICE, "user.slice", "/user.slice", false },
	{ "/user.slice/user-1000.slice", PM_OH_SLICE, "user-1000.slice",
	  "/user.slice/user-1000.slice", true },
	{ "/user.slice/user-1000.slice/user@1000.service/app.slice/libpod-" ID64 ".scope",
	  PM_OH_SLICE, "user-1000.slice", "/user.slice/user-1000.slice", true },
	{ "/user.slice/user-1000.slice/session-3.scope", PM_OH_SLICE, "user-1000.slice",
	  "/user.slice/user-1000.slice", true },
	{ "/docker", PM_OH_SLICE, "docker", "/docker", false },
	{ "/docker/" ID64, PM_OH_CONTAINER, "docker " ID12, "/docker/" ID64, true },
	{ "/docker/" ID64 "/child", PM_OH_CONTAINER, "docker " ID12, "/docker/" ID64, true },
	{ "/default/" ID64, PM_OH_CONTAINER, "default " ID12, "/default/" ID64, true },
	{ "/libpod_parent/libpod-" ID64, PM_OH_CONTAINER, "podman " ID12,
	  "/libpod_parent/libpod-" ID64, true },
	{ "/libpod_parent/conmon", PM_OH_SLICE, "libpod_parent", "/libpod_parent", false },
	{ "/lxc.payload.web1", PM_OH_CONTAINER, "lxc web1", "/lxc.payload.web1", true },
	{ "/lxc.payload.web1/system.slice", PM_OH_CONTAINER, "lxc web1", "/lxc.payload.web1",
	  true },
	{ "/lxc/db", PM_OH_CONTAINER, "lxc db", "/lxc/db", true },
	{ "/kubepods.slice", PM_OH_SLICE, "kubepods.slice", "/kubepods.slice", false },
	{ "/kubepods.slice/kubepods-besteffort.slice", PM_OH_SLICE, "kubepods.slice",
	  "/kubepods.slice", false },
	{ "/kubepods/besteffort", PM_OH_SLICE, "kubepods", "/kubepods", false },
	{ "/mygroup/worker", PM_OH_SLICE, "mygroup", "/mygroup", false },
	/* hostile names: escaped, and cut */
	{ "/system.slice/a\"b\\c\nd\x1b[31m.service", PM_OH_UNIT,
	  "a\\\"b\\\\c\\x0ad\\x1b[31m.service", "/system.slice/a\"b\\c\nd\x1b[31m.service", true },
	{ "/system.slice/\xc3\xa9t\xe9.service", PM_OH_UNIT, "\\xc3\\xa9t\\xe9.service",
	  "/system.slice/\xc3\xa9t\xe9.service", true },
	{ "//system.slice//sshd.service//", PM_OH_UNIT, "sshd.service",
	  "//system.slice//sshd.service", true },
};

static char *dup_exact(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	assert_non_null(d);
	memcpy(d, s, n);
	return d;
}

static void check(const struct ohcase *c, const char *path, size_t prefix_skew)
{
	struct pm_oh_group g;
	char *p = dup_exact(path);
	size_t want_len = strlen(c->group_path);

	memset(&g, 0x5a, sizeof(g));
	assert_int_equal(ohpath__parse(p, &g), 0);
	assert_int_equal(g.kind, c->kind);
	assert_string_equal(g.name, c->name);
	assert_int_equal(g.own_memory, c->own_memory);
	if (want_len)
		assert_int_equal(g.path_len, want_len - prefix_skew);
	else
		assert_true(g.path_len <= 1);
	free(p);
}

static void test_table(void **state)
{
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ohcase *c = &cases[i];

		check(c, c->path, 0);
		snprintf(buf, sizeof(buf), "%s/", c->path);
		check(c, buf, 0);
		if (c->path[0] == '/' && c->path[1] != '/') {
			check(c, c->path + 1, 1);
		}
	}
}

/* A name longer than the group's holds is cut, marked, and still escaped. */
static void test_long_name(void **state)
{
	char path[600] = "/system.slice/";
	struct pm_oh_group g;
	size_t n = strlen(path);

	(void)state;
	memset(path + n, '\n', 400);
	strcpy(path + n + 400, ".service");
	assert_int_equal(ohpath__parse(path, &g), 0);
	assert_int_equal(g.kind, PM_OH_UNIT);
	assert_true(strlen(g.name) <= PM_OH_NAME_MAX);
	assert_null(strchr(g.name, '\n'));
	assert_non_null(strstr(g.name, "..."));
	assert_int_equal(g.path_len, strlen(path));
}

/* A plain name too long is cut and marked too: two long names differ at the cut. */
static void test_long_plain_name(void **state)
{
	char path[300] = "/system.slice/";
	struct pm_oh_group g;
	size_t n = strlen(path);

	(void)state;
	memset(path + n, 'a', 200);
	strcpy(path + n + 200, ".service");
	assert_int_equal(ohpath__parse(path, &g), 0);
	assert_true(strlen(g.name) <= PM_OH_NAME_MAX);
	assert_non_null(strstr(g.name, "..."));
	assert_int_equal(g.path_len, strlen(path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_long_plain_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
