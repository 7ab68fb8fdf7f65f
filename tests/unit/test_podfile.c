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
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	if (symlink("/etc", p)) /* a directory link out of the "root" */
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

/* "0 <id> 1" into /proc/self/<file>: root in a user namespace of our own */
static int map_self(const char *file, unsigned int id)
{
	char p[64], line[64];
	int fd, n, ret;

	snprintf(p, sizeof(p), "/proc/self/%s", file);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = snprintf(line, sizeof(line), "%s", strcmp(file, "setgroups") ? "" : "deny");
	if (!n)
		n = snprintf(line, sizeof(line), "0 %u 1", id);
	ret = write(fd, line, n) == n ? 0 : -1;
	close(fd);
	return ret;
}

/* an overlayfs of @lower at <dir>/m<n> (its own upper and work dirs) */
static int mount_overlay(const char *lower, int n)
{
	char up[PATH_MAX], work[PATH_MAX], mnt[PATH_MAX], opts[3 * PATH_MAX + 64];

	snprintf(up, sizeof(up), "%s/u%d", dir, n);
	snprintf(work, sizeof(work), "%s/w%d", dir, n);
	snprintf(mnt, sizeof(mnt), "%s/m%d", dir, n);
	if (mkdir(up, 0700) || mkdir(work, 0700) || mkdir(mnt, 0700))
		return -1;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lower, up, work);
	return mount("overlay", mnt, "overlay", 0, opts);
}

/* podfile__open of <dir>/<name>, with the device and inode stat gives (maps, Linux >= 6.8) */
static int open_as_mapped(const char *name, struct pm_podfile *pf)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (stat(p, &st))
		return -1;
	return podfile__open("/proc", getpid(), p, NULL, st.st_dev, st.st_ino, pf) ? -1 : 0;
}

/*
 * In a user and mount namespace of its own: two overlayfs mounts of one
 * layer, as two containers of one image have. Exit status: 0, 77 when
 * overlayfs cannot be mounted here, else the number of the failed check.
 */
static int overlay_child(void)
{
	struct pm_podfile a, b, other, under;
	char lower[PATH_MAX], p[PATH_MAX], file[PATH_MAX];
	struct stat st;
	uid_t uid = getuid();
	gid_t gid = getgid();

	snprintf(lower, sizeof(lower), "%s/layer", dir);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) || map_self("setgroups", 0) ||
	    map_self("uid_map", uid) || map_self("gid_map", gid) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || mount_overlay(lower, 1) ||
	    mount_overlay(lower, 2))
		return 77;
	if (open_as_mapped("m1/lib.so", &a) || open_as_mapped("m2/lib.so", &b) ||
	    open_as_mapped("m1/other.so", &other))
		return 1;
	if (!a.overlay || !b.overlay || a.id.dev || !podfile__same(&a.id, &b.id))
		return 2; /* one file of the layer, whichever mount */
	if (podfile__same(&a.id, &other.id))
		return 3; /* another file of the same size */
	/* before Linux 6.8 maps named the file underneath: its device, the inode above */
	snprintf(file, sizeof(file), "%s/layer/lib.so", dir);
	if (stat(file, &st))
		return 4;
	snprintf(p, sizeof(p), "%s/m2/lib.so", dir);
	if (podfile__open("/proc", getpid(), p, NULL, st.st_dev, st.st_ino, &under) ||
	    !podfile__same(&under.id, &a.id))
		return 5;
	/* the file itself, not through overlayfs, keeps its device */
	if (podfile__open("/proc", getpid(), file, NULL, st.st_dev, st.st_ino, &under) ||
	    under.overlay || under.id.dev != (uint64_t)st.st_dev)
		return 6;
	return 0;
}

static void test_overlay_mounts(void **state)
{
	char p[PATH_MAX];
	const char *names[] = { "lib.so", "other.so" };
	int status, i;
	pid_t pid;
	FILE *f;

	(void)state;
	snprintf(p, sizeof(p), "%s/layer", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	for (i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/layer/%s", dir, names[i]);
		f = fopen(p, "w");
		assert_non_null(f);
		fputs("same size\n", f);
		fclose(f);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		_exit(overlay_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
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
		cmocka_unit_test(test_regular), cmocka_unit_test(test_hostile_shapes),
		cmocka_unit_test(test_in_root), cmocka_unit_test(test_overlay_mounts),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
