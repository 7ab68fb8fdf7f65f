// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a hostile tenant's process does to the agent, for test_hostile.sh.
 * Built static, so it also runs chrooted in a directory that stands in for
 * a container's root.
 *
 *   hostile map FILE [BYTES]        map FILE (its first BYTES, default 4096)
 *   hostile maps N FILE             make N mappings first, then map FILE
 *   hostile name NAME BYTES         take NAME as the process name, then touch
 *                                   BYTES of memory (an OOM kill, in a small cgroup)
 *   hostile jail DIR ARGS...        in a mount namespace of its own with DIR as
 *                                   its root (pivot_root, as container runtimes
 *                                   do), then ARGS as above: its maps then name
 *                                   files as seen from DIR
 *
 * "map" and "maps" print "mapped" once the mapping exists, then wait until
 * killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <unistd.h>

static int map_file(const char *path, size_t len)
{
	void *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "hostile: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "hostile: mmap %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

/* N mappings: one region, every other page's protection changed, so none merge. */
static int many_maps(long n)
{
	long page = sysconf(_SC_PAGESIZE), i;
	char *p = mmap(NULL, (size_t)n * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "hostile: mmap: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i += 2) {
		if (mprotect(p + i * page, page, PROT_READ)) {
			fprintf(stderr, "hostile: mprotect at %ld: %s (vm.max_map_count?)\n", i,
				strerror(errno));
			return 1;
		}
	}
	return 0;
}

static void wait_forever(void)
{
	printf("mapped\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* DIR as the root of a mount namespace of our own, the old root detached. */
static int jail(const char *dir)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) || chdir(dir) ||
	    syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) || chdir("/")) {
		fprintf(stderr, "hostile: jail %s: %s\n", dir, strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "jail")) {
		if (jail(argv[2]))
			return 1;
		argv += 2;
		argc -= 2;
	}
	if (argc >= 3 && !strcmp(argv[1], "map")) {
		if (map_file(argv[2], argc > 3 ? strtoul(argv[3], NULL, 0) : 4096))
			return 1;
		wait_forever();
	}
	if (argc == 4 && !strcmp(argv[1], "maps")) {
		if (many_maps(strtol(argv[2], NULL, 0)) || map_file(argv[3], 4096))
			return 1;
		wait_forever();
	}
	if (argc == 4 && !strcmp(argv[1], "name")) {
		size_t len = strtoul(argv[3], NULL, 0), i;
		char *m;

		prctl(PR_SET_NAME, argv[2], 0, 0, 0);
		m = malloc(len);
		for (i = 0; m && i < len; i += 4096)
			m[i] = 1;
		printf("survived\n");
		return 0;
	}
	fprintf(stderr, "usage: hostile map FILE [BYTES] | maps N FILE | name NAME BYTES\n");
	return 2;
}
