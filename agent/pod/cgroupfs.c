// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where the cgroup hierarchies are mounted. Nodes come pure v2, hybrid (v1
 * controllers beside a v2 "unified" mount) or v1 only; the agent needs the v2
 * mount for cgroup ids and, failing that, the v1 hierarchy carrying cpuacct.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <podmeter/cgroupfs.h>

/* The v1 controllers a "cgroup" mount's super options may name (v1 is frozen). */
static const char *const cgroupfs_v1_controllers[] = {
	"cpu",	 "cpuacct",    "cpuset",  "memory", "devices", "freezer", "net_cls", "net_prio",
	"blkio", "perf_event", "hugetlb", "pids",   "rdma",    "misc",	  "debug",
};

static bool cgroupfs_is_controller(const char *opt)
{
	size_t i;

	if (!strncmp(opt, "name=", 5))
		return opt[5] != '\0';
	for (i = 0; i < sizeof(cgroupfs_v1_controllers) / sizeof(cgroupfs_v1_controllers[0]); i++)
		if (!strcmp(opt, cgroupfs_v1_controllers[i]))
			return true;
	return false;
}

static bool cgroupfs_is_odigit(char c)
{
	return c >= '0' && c <= '7';
}

/* mountinfo escapes space, tab, newline and backslash in paths as \ooo. */
static void cgroupfs_unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && cgroupfs_is_odigit(s[1]) && cgroupfs_is_odigit(s[2]) &&
		    cgroupfs_is_odigit(s[3])) {
			*out++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* Keep only the controllers of comma-separated super options; 0 or -ENAMETOOLONG. */
static int cgroupfs_controllers(const char *super_opts, char *out, size_t len)
{
	char buf[1024], *opt, *save = NULL;
	size_t used = 0;
	int n;

	if (snprintf(buf, sizeof(buf), "%s", super_opts) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	out[0] = '\0';
	for (opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (!cgroupfs_is_controller(opt))
			continue;
		n = snprintf(out + used, len - used, "%s%s", used ? "," : "", opt);
		if (n < 0 || (size_t)n >= len - used)
			return -ENAMETOOLONG;
		used += n;
	}
	return 0;
}

static bool cgroupfs_has_option(const char *options, const char *want)
{
	size_t n = strlen(want);
	const char *p = options;

	while ((p = strstr(p, want))) {
		if ((p == options || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

static void cgroupfs_add_v1(struct pm_cgroupfs *fs, const char *path, const char *options)
{
	struct pm_cg_v1 *v1;
	int i;

	if (cgroupfs_has_option(options, "cpuacct") && !fs->v1_cpuacct[0])
		snprintf(fs->v1_cpuacct, sizeof(fs->v1_cpuacct), "%s", path);
	/* The same hierarchy may be mounted twice (bind mounts): list it once. */
	for (i = 0; i < fs->n_v1; i++)
		if (!strcmp(fs->v1[i].path, path))
			return;
	if (fs->n_v1 >= PM_CG_MAX_V1)
		return;
	v1 = &fs->v1[fs->n_v1++];
	snprintf(v1->path, sizeof(v1->path), "%s", path);
	snprintf(v1->options, sizeof(v1->options), "%s", options);
}

/*
 * One mountinfo line:
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * (id parent maj:min root mount-point options [optional...] - fstype source super-options)
 */
static void cgroupfs_parse_line(struct pm_cgroupfs *fs, char *line)
{
	char *field[6], *sep, *fstype, *super_opts, *save = NULL;
	char options[sizeof(fs->v1[0].options)];
	int i;

	sep = strstr(line, " - ");
	if (!sep)
		return;
	*sep = '\0';
	for (i = 0; i < 5; i++) {
		field[i] = strtok_r(i ? NULL : line, " ", &save);
		if (!field[i])
			return;
	}
	save = NULL;
	fstype = strtok_r(sep + 3, " \n", &save);
	if (!fstype || !strtok_r(NULL, " \n", &save))
		return;
	super_opts = strtok_r(NULL, " \n", &save);
	cgroupfs_unescape(field[4]);
	if (strlen(field[4]) >= PATH_MAX)
		return;
	if (!strcmp(fstype, "cgroup2")) {
		if (!fs->v2[0])
			snprintf(fs->v2, sizeof(fs->v2), "%s", field[4]);
	} else if (!strcmp(fstype, "cgroup") && super_opts &&
		   !cgroupfs_controllers(super_opts, options, sizeof(options))) {
		cgroupfs_add_v1(fs, field[4], options);
	}
}

int cgroupfs__from_mountinfo(struct pm_cgroupfs *fs, const char *mountinfo_path)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	memset(fs, 0, sizeof(*fs));
	f = fopen(mountinfo_path, "re");
	if (!f)
		return -ENOENT;
	while (getline(&line, &cap, f) > 0)
		cgroupfs_parse_line(fs, line);
	free(line);
	fclose(f);
	return 0;
}

/* "<a>/<b>" without doubling a trailing slash of @a; 0 or -ENAMETOOLONG. */
static int cgroupfs_join(char *out, size_t len, const char *a, const char *b)
{
	size_t n = strlen(a);
	int w;

	w = snprintf(out, len, "%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static bool cgroupfs_has_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (cgroupfs_join(path, sizeof(path), dir, name))
		return false;
	return !stat(path, &st) && S_ISREG(st.st_mode);
}

bool cgroupfs__has_dir(const char *root, const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (cgroupfs_join(path, sizeof(path), root, dir))
		return false;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* A real directory, not a symlink: hybrid roots link "cpu" -> "cpu,cpuacct". */
static bool cgroupfs_is_real_dir(int dfd, const char *name)
{
	struct stat st;

	return !fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode);
}

static void cgroupfs_scan_v1(struct pm_cgroupfs *fs, const char *root, int dfd, const char *name)
{
	char path[PATH_MAX];

	if (name[0] == '.' || !cgroupfs_is_real_dir(dfd, name))
		return;
	if (cgroupfs_join(path, sizeof(path), root, name) || !strcmp(path, fs->v2))
		return;
	if (cgroupfs_has_file(path, "cpuacct.usage") && !fs->v1_cpuacct[0])
		snprintf(fs->v1_cpuacct, sizeof(fs->v1_cpuacct), "%s", path);
	if (!cgroupfs_has_file(path, "cgroup.procs") || fs->n_v1 >= PM_CG_MAX_V1 ||
	    strlen(name) >= sizeof(fs->v1[0].options))
		return;
	snprintf(fs->v1[fs->n_v1].path, sizeof(fs->v1[0].path), "%s", path);
	snprintf(fs->v1[fs->n_v1].options, sizeof(fs->v1[0].options), "%s", name);
	fs->n_v1++;
}

static int cgroupfs_scan_root(struct pm_cgroupfs *fs, const char *root)
{
	struct dirent **names;
	int dfd, n, i;

	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	/* Sorted, so the first cpuacct hierarchy and the v1[] order are stable. */
	n = scandir(root, &names, NULL, alphasort);
	if (n < 0) {
		n = -errno;
		close(dfd);
		return n;
	}
	for (i = 0; i < n; i++) {
		cgroupfs_scan_v1(fs, root, dfd, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	close(dfd);
	return 0;
}

int cgroupfs__from_root(struct pm_cgroupfs *fs, const char *root)
{
	struct stat st;
	int err;

	memset(fs, 0, sizeof(*fs));
	if (stat(root, &st) || !S_ISDIR(st.st_mode))
		return -ENOENT;
	if (strlen(root) >= sizeof(fs->v2))
		return -ENAMETOOLONG;
	/* Pure v2: the subdirectories are child cgroups, not hierarchies. */
	if (cgroupfs_has_file(root, "cgroup.controllers")) {
		snprintf(fs->v2, sizeof(fs->v2), "%s", root);
		return 0;
	}
	if (cgroupfs__has_dir(root, "unified")) {
		cgroupfs_join(fs->v2, sizeof(fs->v2), root, "unified");
		if (!cgroupfs_has_file(fs->v2, "cgroup.controllers"))
			fs->v2[0] = '\0';
	}
	err = cgroupfs_scan_root(fs, root);
	if (err)
		return err;
	if (!fs->v2[0] && !fs->n_v1 && !fs->v1_cpuacct[0])
		return -EINVAL;
	return 0;
}

/* Does @v2's cgroup.controllers list @ctl? */
static bool cgroupfs_v2_has(const char *v2, const char *ctl)
{
	char path[PATH_MAX + 32], name[64];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", v2);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fscanf(f, "%63s", name) == 1)
		found = !strcmp(name, ctl);
	fclose(f);
	return found;
}

int cgroupfs__controller_root(const struct pm_cgroupfs *fs, const char *ctl, char *out, size_t len,
			      bool *v2)
{
	int i;

	*v2 = false;
	out[0] = '\0';
	if (fs->v2[0] && cgroupfs_v2_has(fs->v2, ctl)) {
		*v2 = true;
		snprintf(out, len, "%s", fs->v2);
		return 0;
	}
	for (i = 0; i < fs->n_v1; i++) {
		if (cgroupfs_has_option(fs->v1[i].options, ctl)) {
			snprintf(out, len, "%s", fs->v1[i].path);
			return 0;
		}
	}
	return -ENOENT;
}

int cgroupfs__cpu_quota_set(const char *dir)
{
	char path[PATH_MAX + 32], buf[64], *end;
	bool v2 = true;
	long long q;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cpu.max", dir);
	f = fopen(path, "re");
	if (!f) {
		v2 = false;
		snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
		f = fopen(path, "re");
	}
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -ENODATA;
	}
	fclose(f);
	if (v2 && !strncmp(buf, "max", 3) && (buf[3] == ' ' || buf[3] == '\n' || !buf[3]))
		return 0;
	errno = 0;
	q = strtoll(buf, &end, 10);
	if (end == buf || errno || (*end != ' ' && *end != '\n' && *end))
		return -EINVAL;
	return v2 ? q > 0 : q != -1;
}

int cgroupfs__cpu_throttling(const char *path, uint64_t *periods, uint64_t *usec)
{
	unsigned long long v;
	bool got_p = false, got_t = false;
	char name[64];
	FILE *f;

	*periods = *usec = 0;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fscanf(f, "%63s %llu", name, &v) == 2) {
		if (!strcmp(name, "nr_throttled")) {
			*periods = v;
			got_p = true;
		} else if (!strcmp(name, "throttled_usec")) {
			*usec = v;
			got_t = true;
		} else if (!strcmp(name, "throttled_time")) {
			*usec = v / 1000;
			got_t = true;
		}
	}
	fclose(f);
	return got_p && got_t ? 0 : -ENODATA;
}
