// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Files opened on a pod's behalf: the libraries its processes map.
 *
 * The pod chooses the path, what lies at it (a FIFO would block an open
 * for reading forever, a device runs its driver's open), and the symlinks
 * on the way (one to /etc/shadow, or to the agent's own files). So the
 * path is resolved inside the process's root and never through a link
 * that leaves it; the last component is opened O_PATH, which opens
 * nothing, and only a regular file of bounded size with the inode the
 * mapping names is then opened for reading, through the agent's own fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <podmeter/podfile.h>

#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif
#define PODFILE_MAX_DEPTH 64 /* path components, in the fallback walk */

static atomic_bool podfile_no_openat2; /* the kernel said ENOSYS once */

static const char *const podfile_reasons[PM_PODFILE_ERR_MAX] = {
	[PM_PODFILE_OK] = "ok",
	[PM_PODFILE_GONE] = "gone",
	[PM_PODFILE_ESCAPE] = "escape",
	[PM_PODFILE_NOT_REGULAR] = "not_regular",
	[PM_PODFILE_OTHER_FILE] = "other_file",
	[PM_PODFILE_TOO_BIG] = "too_big",
	[PM_PODFILE_DENIED] = "denied",
};

const char *podfile__reason(enum pm_podfile_err e)
{
	return e < PM_PODFILE_ERR_MAX ? podfile_reasons[e] : "unknown";
}

static enum pm_podfile_err reason_of(int err)
{
	switch (err) {
	case ELOOP:
	case EXDEV:
		return PM_PODFILE_ESCAPE;
	case EACCES:
	case EPERM:
		return PM_PODFILE_DENIED;
	default:
		return PM_PODFILE_GONE;
	}
}

/*
 * Where openat2 is missing: one component at a time, each O_PATH and not
 * followed; a symlink anywhere or a ".." is refused (paths in maps are
 * already resolved, so an honest one has neither).
 */
static int resolve_walk(int rootfd, const char *path)
{
	char buf[PATH_MAX], *comp, *save = NULL;
	int cur = rootfd, next, depth = 0;
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..") || ++depth > PODFILE_MAX_DEPTH) {
			next = -EXDEV;
			goto out;
		}
		next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			next = -errno;
			goto out;
		}
		if (cur != rootfd)
			close(cur);
		cur = next;
		/* every component but the last must be a directory, not a link to one */
		if (save && *save && (fstat(cur, &st) || !S_ISDIR(st.st_mode))) {
			next = S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
			goto out;
		}
	}
	return cur == rootfd ? -EISDIR : cur;
out:
	if (cur != rootfd)
		close(cur);
	return next;
}

int podfile__resolve(int rootfd, const char *path, bool try_openat2)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (try_openat2 && !atomic_load(&podfile_no_openat2)) {
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS)
			return -errno;
		atomic_store(&podfile_no_openat2, true);
	}
	return resolve_walk(rootfd, path);
}

bool podfile__same(const struct pm_file_id *a, const struct pm_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->ctime_ns == b->ctime_ns;
}

static bool on_overlay(int fd)
{
	struct statfs sf;

	return !fstatfs(fd, &sf) && (unsigned long)sf.f_type == OVERLAYFS_SUPER_MAGIC;
}

/* @opath is what the mapping names, a regular file, not too big: open it for reading. */
static enum pm_podfile_err check_and_open(int opath, uint64_t dev, uint64_t ino,
					  struct pm_podfile *out)
{
	char self[64];
	struct stat st, again;
	int fd;

	if (fstat(opath, &st))
		return PM_PODFILE_GONE;
	if (S_ISLNK(st.st_mode))
		return PM_PODFILE_ESCAPE;
	if (!S_ISREG(st.st_mode))
		return PM_PODFILE_NOT_REGULAR;
	out->overlay = on_overlay(opath);
	if ((uint64_t)st.st_ino != ino || ((uint64_t)st.st_dev != dev && !out->overlay))
		return PM_PODFILE_OTHER_FILE;
	if ((uint64_t)st.st_size > PM_PODFILE_MAX_SIZE)
		return PM_PODFILE_TOO_BIG;
	/* our own fd's link: the very file fstat just saw, whatever the pod does now */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", opath);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return reason_of(errno);
	if (fstat(fd, &again) || again.st_ino != st.st_ino || again.st_dev != st.st_dev) {
		close(fd);
		return PM_PODFILE_OTHER_FILE;
	}
	out->fd = fd;
	out->size = st.st_size;
	out->id = (struct pm_file_id){
		.dev = out->overlay ? 0 : (uint64_t)st.st_dev,
		.ino = st.st_ino,
		.size = st.st_size,
		.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec,
	};
	return PM_PODFILE_OK;
}

static enum pm_podfile_err open_in_root(const char *proc_root, int pid, const char *path,
					uint64_t dev, uint64_t ino, struct pm_podfile *out)
{
	char root[PATH_MAX];
	enum pm_podfile_err e;
	int rootfd, fd;

	/* the process's root, asked of the kernel: the one magic link we follow */
	snprintf(root, sizeof(root), "%s/%d/root", proc_root, pid);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return reason_of(errno);
	fd = podfile__resolve(rootfd, path, true);
	close(rootfd);
	if (fd < 0)
		return reason_of(-fd);
	e = check_and_open(fd, dev, ino, out);
	close(fd);
	return e;
}

enum pm_podfile_err podfile__open(const char *proc_root, int pid, const char *path,
				  const char *range, uint64_t dev, uint64_t ino,
				  struct pm_podfile *out)
{
	enum pm_podfile_err e, e2;
	char link[PATH_MAX];
	int fd;

	out->fd = -1;
	e = open_in_root(proc_root, pid, path, dev, ino, out);
	if (e != PM_PODFILE_GONE && e != PM_PODFILE_OTHER_FILE)
		return e;
	if (!range || !range[0] || strchr(range, '/'))
		return e;
	/* the mapped file itself, when the path names another now (or nothing) */
	snprintf(link, sizeof(link), "%s/%d/map_files/%s", proc_root, pid, range);
	fd = open(link, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return e;
	e2 = check_and_open(fd, dev, ino, out);
	close(fd);
	return e2 == PM_PODFILE_OK ? e2 : e;
}
