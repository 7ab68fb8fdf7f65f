/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* agent/signal/podfile.c: opening a file on a pod's behalf, inside the pod's root. */
#ifndef PODMETER_PODFILE_H
#define PODMETER_PODFILE_H

#include <stdbool.h>
#include <stdint.h>

#define PM_PODFILE_MAX_SIZE (1ULL << 30) /* bytes: larger files are refused */

/* Why a file was refused: counted per reason. */
enum pm_podfile_err {
	PM_PODFILE_OK = 0,
	PM_PODFILE_GONE,   /* the process or the file is gone */
	PM_PODFILE_ESCAPE, /* resolving it would leave the pod's root, or a symlink at the end */
	PM_PODFILE_NOT_REGULAR, /* a FIFO, a device, a socket, a directory */
	PM_PODFILE_OTHER_FILE,	/* not the (device, inode) the mapping names */
	PM_PODFILE_TOO_BIG,
	PM_PODFILE_DENIED, /* no permission (capabilities) */
	PM_PODFILE_ERR_MAX,
};

/*
 * What a file is, whichever mount shows it. A file of an image layer is one
 * inode underneath (the one uprobes attach to), but every container's
 * overlayfs mount gives it a device of its own, and since Linux 6.8 maps
 * name that device (before, the file underneath). So on overlayfs the
 * device is left out: the inode, the size and the change time (which only
 * the kernel sets) tell the file.
 */
struct pm_file_id {
	uint64_t dev; /* 0 on overlayfs */
	uint64_t ino;
	uint64_t size;
	int64_t ctime_ns;
};

struct pm_podfile {
	int fd; /* O_RDONLY | O_NONBLOCK | O_CLOEXEC, a regular file */
	uint64_t size;
	bool overlay; /* on overlayfs */
	struct pm_file_id id;
};

/*
 * Open @path as process @pid sees it (@proc_root: the host's /proc), and
 * only if it is the regular file (@dev, @ino) that its maps name.
 *
 * @path is resolved inside /proc/<pid>/root with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS), or, where openat2 is missing, one component at a
 * time refusing every symlink and "..". The last component is never
 * followed (O_NOFOLLOW), and it is first opened O_PATH: nothing is opened
 * for reading (no FIFO, no device driver's open) before fstat shows a
 * regular file of at most PM_PODFILE_MAX_SIZE bytes with the mapping's
 * inode. On overlayfs the mapping may name the file underneath (before
 * Linux 6.8): the inode must match, the device need not.
 *
 * When @path no longer names the mapped file (" (deleted)", replaced by
 * an upgrade) and @range is given, /proc/<pid>/map_files/@range is tried:
 * the kernel's own link to the mapped file, checked the same way.
 *
 * Returns PM_PODFILE_OK with @out filled (close out->fd), or the reason.
 */
enum pm_podfile_err podfile__open(const char *proc_root, int pid, const char *path,
				  const char *range, uint64_t dev, uint64_t ino,
				  struct pm_podfile *out);

/*
 * The resolution podfile__open uses: an O_PATH fd of @path's last component
 * under @rootfd, not followed, or -errno (-ELOOP, -EXDEV: it would leave).
 * Without @try_openat2, the fallback walk (for tests).
 */
int podfile__resolve(int rootfd, const char *path, bool try_openat2);

/* @a and @b are the same file (struct pm_file_id). */
bool podfile__same(const struct pm_file_id *a, const struct pm_file_id *b);

/* Short names of the reasons, for metrics and logs ("gone", "escape", ...). */
const char *podfile__reason(enum pm_podfile_err e);

#endif /* PODMETER_PODFILE_H */
