// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podfile: what a pod can put at a library's path. Runs as any user: the
 * process opens files as itself sees them (its own pid), and resolution is
 * checked under a directory standing in for a pod's root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <podmeter/podfile.h>

static char dir[] = "/tmp/pm-podfile-XXXXXX";

static int setup(void **state)
{
	char p[PATH_MAX];
	FILE *f;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(p, sizeof(p), "%s/lib.so", dir);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("not really a library\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	if (mkfifo(p, 0600))
		return -1;
	snprintf(p, sizeof(p), "%s/link.so", dir);
	if (symlink("/etc/passwd", p))
		return -1;
	snprintf(p, sizeof(p), "%s/dlink", dir);
	if (symlink("/etc", p))	/* a directory link out of the "root" */
		return -1;
	snprintf(p, sizeof(p), "%s/sub", dir);
	return mkdir(p, 0700);
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

static enum pm_podfile_err open_own(const char *name, uint64_t dev, uint64_t ino,
				    struct pm_podfile *pf)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return podfile__open("/proc", getpid(), p, NULL, dev, ino, pf);
}

static void test_regular(void **state)
{
	struct pm_podfile pf;
	char p[PATH_MAX];
	struct stat st;
	int flags;

	(void)state;
	snprintf(p, sizeof(p), "%s/lib.so", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(open_own("lib.so", st.st_dev, st.st_ino, &pf), PM_PODFILE_OK);
	assert_true(pf.fd >= 0);
	assert_int_equal(pf.size, (uint64_t)st.st_size);
	flags = fcntl(pf.fd, F_GETFL);
	assert_true(flags & O_NONBLOCK);
	assert_int_equal(flags & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(pf.fd, F_GETFD) & FD_CLOEXEC);
	close(pf.fd);
	/* another inode, another device: not the mapped file */
	assert_int_equal(open_own("lib.so", st.st_dev, st.st_ino + 1, &pf), PM_PODFILE_OTHER_FILE);
	assert_int_equal(open_own("lib.so", st.st_dev + 1, st.st_ino, &pf), PM_PODFILE_OTHER_FILE);
	assert_int_equal(pf.fd, -1);
}

static void test_hostile_shapes(void **state)
{
	struct pm_podfile pf;
	char p[PATH_MAX];
	struct stat st;

	(void)state;
	/* a FIFO: refused without opening it (an open for reading would block) */
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(open_own("fifo", st.st_dev, st.st_ino, &pf), PM_PODFILE_NOT_REGULAR);
	/* a device */
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_int_equal(podfile__open("/proc", getpid(), "/dev/null", NULL, st.st_dev, st.st_ino,
				       &pf),
			 PM_PODFILE_NOT_REGULAR);
	/* a directory */
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(open_own("sub", st.st_dev, st.st_ino, &pf), PM_PODFILE_NOT_REGULAR);
	/* a symlink as the last component is never followed, even to the right file */
	assert_int_equal(stat("/etc/passwd", &st), 0);
	assert_int_equal(open_own("link.so", st.st_dev, st.st_ino, &pf), PM_PODFILE_ESCAPE);
	assert_int_equal(open_own("missing.so", st.st_dev, st.st_ino, &pf), PM_PODFILE_GONE);
}

/* Under a directory standing in for a pod's root, nothing resolves outside it. */
static void test_in_root(void **state)
{
	int root, fd, mode;

	(void)state;
	root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(root >= 0);
	for (mode = 0; mode < 2; mode++) {
		/* "/dlink" inside this root is a link to the host's /etc */
		fd = podfile__resolve(root, "/dlink/passwd", mode);
		assert_true(fd < 0);
		assert_true(mode ? fd == -ENOENT : fd == -ELOOP);
		fd = podfile__resolve(root, "/../../../etc/passwd", mode);
		assert_true(fd < 0);
		assert_true(mode ? fd == -ENOENT : fd == -EXDEV);
		fd = podfile__resolve(root, "/lib.so", mode);
		assert_true(fd >= 0);
		close(fd);
		fd = podfile__resolve(root, "sub/../lib.so", mode);
		if (mode) {
			assert_true(fd >= 0);
			close(fd);
		} else {
			assert_int_equal(fd, -EXDEV);
		}
	}
	close(root);
}

static void test_reasons(void **state)
{
	int e;

	(void)state;
	for (e = 0; e < PM_PODFILE_ERR_MAX; e++)
		assert_non_null(podfile__reason(e));
	assert_string_equal(podfile__reason(PM_PODFILE_ERR_MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regular),
		cmocka_unit_test(test_hostile_shapes),
		cmocka_unit_test(test_in_root),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
