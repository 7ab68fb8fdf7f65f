// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgroupfs: mountinfo fixtures (real layouts copied from nodes) written to temp
 * files, and --cgroup-root layouts built as temp directory trees.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <podmeter/cgroupfs.h>

struct v1_want {
	const char *path;
	const char *options;
};

struct mountinfo_case {
	const char *name;
	const char *text;
	const char *v2;
	const char *v1_cpuacct;
	int n_v1;
	struct v1_want v1[PM_CG_MAX_V1];
};

/* The build machine (hybrid): v1 controllers one per mount, v2 at unified/. */
static const char hybrid[] =
	"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
	"23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
	"27 1 254:0 / / rw,relatime - ext4 /dev/vda "
	"rw,discard,resv_strict,resuid=65534,resgid=65534\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
	"37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
	"38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* A systemd node booted with the unified hierarchy (production default). */
static const char pure_v2[] =
	"24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"25 29 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
	"29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro\n"
	"35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
	"rw,nsdelegate,memory_recursiveprot\n"
	"36 24 0:31 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw\n"
	"37 24 0:32 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:11 - bpf bpf "
	"rw,mode=700\n";

/* Older systemd, v1 only: co-mounted controllers and non-controller options. */
static const char v1_combined[] =
	"18 24 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw\n"
	"21 18 0:18 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,mode=755\n"
	"22 21 0:19 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup "
	"cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
	"25 21 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - "
	"cgroup cgroup rw,cpu,cpuacct\n"
	"26 21 0:23 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - "
	"cgroup cgroup rw,net_cls,net_prio\n"
	"27 21 0:24 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:13 - cgroup "
	"cgroup rw,cpuset,clone_children\n"
	"28 21 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
	"cgroup rw,memory\n"
	/* A bind mount of a hierarchy already listed (same path): listed once. */
	"29 21 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - "
	"cgroup cgroup rw,cpu,cpuacct\n";

/* Mount points escape space (\040), tab (\011) and backslash (\134). */
static const char escaped[] =
	"50 1 0:40 / /mnt/my\\040cgroups rw,relatime - cgroup2 cgroup2 rw\n"
	"51 1 0:41 / /mnt/tab\\011and\\134slash rw,relatime - cgroup cgroup rw,cpuacct\n";

/* In a container with the host's cgroupfs bind-mounted: the first cgroup2 wins. */
static const char two_v2[] =
	"600 500 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw\n"
	"601 500 0:30 / /host/sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw\n";

/* Malformed lines (no " - ", too few fields) are skipped, not fatal. */
static const char malformed[] = "garbage\n"
				"1 2 3 - cgroup2 cgroup2 rw\n"
				"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2\n"
				"42 31 0:38 / /ok rw,relatime - cgroup2 cgroup2 rw\n";

static const char no_cgroup[] = "22 27 0:21 / /proc rw,relatime - proc proc rw\n";

static struct mountinfo_case mountinfo_cases[] = {
	{ "mountinfo/hybrid",
	  hybrid,
	  "/sys/fs/cgroup/unified",
	  "/sys/fs/cgroup/cpuacct",
	  9,
	  { { "/sys/fs/cgroup/cpu", "cpu" },
	    { "/sys/fs/cgroup/cpuacct", "cpuacct" },
	    { "/sys/fs/cgroup/cpuset", "cpuset" },
	    { "/sys/fs/cgroup/memory", "memory" },
	    { "/sys/fs/cgroup/devices", "devices" },
	    { "/sys/fs/cgroup/freezer", "freezer" },
	    { "/sys/fs/cgroup/blkio", "blkio" },
	    { "/sys/fs/cgroup/pids", "pids" },
	    { "/sys/fs/cgroup/systemd", "name=systemd" } } },
	{ "mountinfo/pure_v2", pure_v2, "/sys/fs/cgroup", "", 0, { { 0 } } },
	{ "mountinfo/v1_combined",
	  v1_combined,
	  "",
	  "/sys/fs/cgroup/cpu,cpuacct",
	  5,
	  { { "/sys/fs/cgroup/systemd", "name=systemd" },
	    { "/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct" },
	    { "/sys/fs/cgroup/net_cls,net_prio", "net_cls,net_prio" },
	    { "/sys/fs/cgroup/cpuset", "cpuset" },
	    { "/sys/fs/cgroup/memory", "memory" } } },
	{ "mountinfo/escaped",
	  escaped,
	  "/mnt/my cgroups",
	  "/mnt/tab\tand\\slash",
	  1,
	  { { "/mnt/tab\tand\\slash", "cpuacct" } } },
	{ "mountinfo/two_v2", two_v2, "/sys/fs/cgroup", "", 0, { { 0 } } },
	{ "mountinfo/malformed", malformed, "/ok", "", 0, { { 0 } } },
	{ "mountinfo/no_cgroup", no_cgroup, "", "", 0, { { 0 } } },
	{ "mountinfo/empty", "", "", "", 0, { { 0 } } },
};

static void write_temp(char *path, size_t len, const char *text)
{
	const char *tmp = getenv("TMPDIR");
	size_t n = strlen(text);
	int fd;

	snprintf(path, len, "%s/pm_mountinfo.XXXXXX", tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

static void assert_v1(const struct pm_cgroupfs *fs, const struct v1_want *want, int n)
{
	int i;

	assert_int_equal(fs->n_v1, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(fs->v1[i].path, want[i].path);
		assert_string_equal(fs->v1[i].options, want[i].options);
	}
}

static void test_mountinfo(void **state)
{
	const struct mountinfo_case *c = *state;
	struct pm_cgroupfs fs;
	char path[PATH_MAX];

	write_temp(path, sizeof(path), c->text);
	memset(&fs, 0x5a, sizeof(fs));
	assert_int_equal(cgroupfs__from_mountinfo(&fs, path), 0);
	unlink(path);
	assert_string_equal(fs.v2, c->v2);
	assert_string_equal(fs.v1_cpuacct, c->v1_cpuacct);
	assert_v1(&fs, c->v1, c->n_v1);
}

static void test_mountinfo_missing(void **state)
{
	struct pm_cgroupfs fs;

	(void)state;
	assert_int_equal(cgroupfs__from_mountinfo(&fs, "/nonexistent/pm/mountinfo"), -ENOENT);
}

/* --cgroup-root trees, built under a temp directory. */

static char tree_root[PATH_MAX];

static void tree_make(const char *rel, bool is_dir)
{
	char path[PATH_MAX * 2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tree_root, rel);
	if (is_dir) {
		assert_int_equal(mkdir(path, 0755), 0);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void tree_link(const char *target, const char *rel)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", tree_root, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int tree_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(tree_root, sizeof(tree_root), "%s/pm_cgroot.XXXXXX", tmp ? tmp : "/tmp");
	return mkdtemp(tree_root) ? 0 : -1;
}

static int tree_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int tree_teardown(void **state)
{
	(void)state;
	return nftw(tree_root, tree_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void tree_path(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", tree_root, rel);
}

static void test_root_hybrid(void **state)
{
	char want_v2[PATH_MAX * 2], want_acct[PATH_MAX * 2], want_mem[PATH_MAX * 2],
		want_sd[PATH_MAX * 2];
	struct pm_cgroupfs fs;

	(void)state;
	tree_make("cpu,cpuacct", true);
	tree_make("cpu,cpuacct/cgroup.procs", false);
	tree_make("cpu,cpuacct/cpuacct.usage", false);
	tree_link("cpu,cpuacct", "cpu");
	tree_link("cpu,cpuacct", "cpuacct");
	tree_make("memory", true);
	tree_make("memory/cgroup.procs", false);
	tree_make("systemd", true);
	tree_make("systemd/cgroup.procs", false);
	tree_make("unified", true);
	tree_make("unified/cgroup.controllers", false);
	tree_make("unified/cgroup.procs", false);
	tree_make("not-a-hierarchy", true);
	tree_make("stray-file", false);

	assert_int_equal(cgroupfs__from_root(&fs, tree_root), 0);
	tree_path(want_v2, sizeof(want_v2), "unified");
	tree_path(want_acct, sizeof(want_acct), "cpu,cpuacct");
	tree_path(want_mem, sizeof(want_mem), "memory");
	tree_path(want_sd, sizeof(want_sd), "systemd");
	assert_string_equal(fs.v2, want_v2);
	assert_string_equal(fs.v1_cpuacct, want_acct);
	/* Sorted; symlinks, unified/ and directories without cgroup.procs left out. */
	assert_v1(&fs,
		  (struct v1_want[]){ { want_acct, "cpu,cpuacct" },
				      { want_mem, "memory" },
				      { want_sd, "systemd" } },
		  3);
}

static void test_root_v1_only(void **state)
{
	char want_acct[PATH_MAX * 2];
	struct pm_cgroupfs fs;

	(void)state;
	tree_make("cpuacct", true);
	tree_make("cpuacct/cgroup.procs", false);
	tree_make("cpuacct/cpuacct.usage", false);
	/* unified/ without cgroup.controllers is not a v2 mount. */
	tree_make("unified", true);

	assert_int_equal(cgroupfs__from_root(&fs, tree_root), 0);
	tree_path(want_acct, sizeof(want_acct), "cpuacct");
	assert_string_equal(fs.v2, "");
	assert_string_equal(fs.v1_cpuacct, want_acct);
	assert_v1(&fs, (struct v1_want[]){ { want_acct, "cpuacct" } }, 1);
}

static void test_root_pure_v2(void **state)
{
	struct pm_cgroupfs fs;

	(void)state;
	tree_make("cgroup.controllers", false);
	tree_make("cgroup.procs", false);
	/* A child cgroup, not a v1 hierarchy. */
	tree_make("kubepods.slice", true);
	tree_make("kubepods.slice/cgroup.procs", false);
	tree_make("kubepods.slice/cgroup.controllers", false);

	assert_int_equal(cgroupfs__from_root(&fs, tree_root), 0);
	assert_string_equal(fs.v2, tree_root);
	assert_string_equal(fs.v1_cpuacct, "");
	assert_int_equal(fs.n_v1, 0);
}

static void test_root_empty(void **state)
{
	struct pm_cgroupfs fs;

	(void)state;
	tree_make("something", true);
	assert_int_equal(cgroupfs__from_root(&fs, tree_root), -EINVAL);
}

static void test_root_not_dir(void **state)
{
	char file[PATH_MAX * 2];
	struct pm_cgroupfs fs;

	(void)state;
	tree_make("file", false);
	tree_path(file, sizeof(file), "file");
	assert_int_equal(cgroupfs__from_root(&fs, file), -ENOENT);
	assert_int_equal(cgroupfs__from_root(&fs, "/nonexistent/pm/cgroup"), -ENOENT);
}

static void test_has_dir(void **state)
{
	(void)state;
	tree_make("unified", true);
	tree_make("file", false);
	tree_link("unified", "link");
	assert_true(cgroupfs__has_dir(tree_root, "unified"));
	assert_true(cgroupfs__has_dir(tree_root, "link"));
	assert_false(cgroupfs__has_dir(tree_root, "file"));
	assert_false(cgroupfs__has_dir(tree_root, "absent"));
	assert_false(cgroupfs__has_dir("/nonexistent/pm", "unified"));
}

static void tree_write(const char *rel, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tree_root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The cpu controller's hierarchy: v2 when it lists "cpu", else the v1 mount naming it. */
static void test_controller_root(void **state)
{
	char out[PATH_MAX * 2], want[PATH_MAX * 2];
	struct pm_cgroupfs fs;
	bool v2;

	(void)state;
	tree_make("cpu,cpuacct", true);
	tree_make("cpu,cpuacct/cgroup.procs", false);
	tree_make("memory", true);
	tree_make("memory/cgroup.procs", false);
	tree_make("unified", true);
	tree_write("unified/cgroup.controllers", "io pids\n");
	tree_make("unified/cgroup.procs", false);
	assert_int_equal(cgroupfs__from_root(&fs, tree_root), 0);
	assert_int_equal(cgroupfs__controller_root(&fs, "cpu", out, sizeof(out), &v2), 0);
	tree_path(want, sizeof(want), "cpu,cpuacct");
	assert_string_equal(out, want);
	assert_false(v2);
	assert_int_equal(cgroupfs__controller_root(&fs, "hugetlb", out, sizeof(out), &v2), -ENOENT);
	assert_string_equal(out, "");
	/* the same, once v2 has the controller */
	tree_write("unified/cgroup.controllers", "cpuset cpu io memory pids\n");
	assert_int_equal(cgroupfs__controller_root(&fs, "cpu", out, sizeof(out), &v2), 0);
	tree_path(want, sizeof(want), "unified");
	assert_string_equal(out, want);
	assert_true(v2);
}

/* cpu.stat as v2 and v1 write it; a file without the throttling lines is -ENODATA. */
static void test_cpu_throttling(void **state)
{
	char path[PATH_MAX * 2];
	uint64_t periods, usec;

	(void)state;
	tree_path(path, sizeof(path), "cpu.stat");
	tree_write("cpu.stat", "usage_usec 96842\nuser_usec 70000\nsystem_usec 26842\n"
			       "nr_periods 120\nnr_throttled 37\nthrottled_usec 4012345\n"
			       "nr_bursts 0\nburst_usec 0\n");
	assert_int_equal(cgroupfs__cpu_throttling(path, &periods, &usec), 0);
	assert_int_equal(periods, 37);
	assert_int_equal(usec, 4012345);
	tree_write("cpu.stat", "nr_periods 9\nnr_throttled 8\nthrottled_time 1234567890\n");
	assert_int_equal(cgroupfs__cpu_throttling(path, &periods, &usec), 0);
	assert_int_equal(periods, 8);
	assert_int_equal(usec, 1234567);
	tree_write("cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\n");
	assert_int_equal(cgroupfs__cpu_throttling(path, &periods, &usec), -ENODATA);
	tree_path(path, sizeof(path), "absent/cpu.stat");
	assert_int_equal(cgroupfs__cpu_throttling(path, &periods, &usec), -ENOENT);
}

/* A CFS quota of its own, as v2's cpu.max and v1's cpu.cfs_quota_us write it. */
static void test_cpu_quota(void **state)
{
	static const struct {
		const char *file, *text;
		int want;
	} cases[] = {
		{ "v2/cpu.max", "max 100000\n", 0 },
		{ "v2/cpu.max", "50000 100000\n", 1 },
		{ "v2/cpu.max", "max\n", 0 },
		{ "v2/cpu.max", "maximal 1\n", -EINVAL },
		{ "v2/cpu.max", "", -ENODATA },
		{ "v1/cpu.cfs_quota_us", "-1\n", 0 },
		{ "v1/cpu.cfs_quota_us", "20000\n", 1 },
		{ "v1/cpu.cfs_quota_us", "12x\n", -EINVAL },
	};
	char dir[PATH_MAX * 2];
	size_t i;

	(void)state;
	tree_make("v2", true);
	tree_make("v1", true);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tree_write(cases[i].file, cases[i].text);
		tree_path(dir, sizeof(dir), cases[i].file[1] == '2' ? "v2" : "v1");
		if (cgroupfs__cpu_quota_set(dir) != cases[i].want)
			fail_msg("%s \"%s\": got %d, want %d", cases[i].file, cases[i].text,
				 cgroupfs__cpu_quota_set(dir), cases[i].want);
	}
	tree_path(dir, sizeof(dir), "absent");
	assert_int_equal(cgroupfs__cpu_quota_set(dir), -ENOENT);
}

#define N_MI (sizeof(mountinfo_cases) / sizeof(mountinfo_cases[0]))

int main(void)
{
	struct CMUnitTest mi[N_MI + 1];
	const struct CMUnitTest root[] = {
		cmocka_unit_test_setup_teardown(test_root_hybrid, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_root_v1_only, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_root_pure_v2, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_root_empty, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_root_not_dir, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_has_dir, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_controller_root, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cpu_throttling, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cpu_quota, tree_setup, tree_teardown),
	};
	size_t i;
	int fails;

	for (i = 0; i < N_MI; i++)
		mi[i] = (struct CMUnitTest){ .name = mountinfo_cases[i].name,
					     .test_func = test_mountinfo,
					     .initial_state = &mountinfo_cases[i] };
	mi[N_MI] = (struct CMUnitTest)cmocka_unit_test(test_mountinfo_missing);
	fails = _cmocka_run_group_tests("cgroupfs mountinfo", mi, N_MI + 1, NULL, NULL);
	fails += cmocka_run_group_tests_name("cgroupfs root", root, NULL, NULL);
	return fails;
}
