// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drives the GPU ioctl signal: opens a device file and issues NVIDIA-style
 * ioctls of each op class, then prints how many of each it issued. The
 * device need not be a GPU: the syscall happens and is counted whatever the
 * driver answers (ENOTTY from /dev/full's numbers, for a fake GPU made with
 * mknod), so errors are ignored.
 *
 *   gpu_ioctl PATH N_CONTROL N_ALLOC N_FREE N_MAP N_OTHER [N_UNMAP]
 *
 * Prints one "<op> <count>" line per op. Within a class the cmds cycle
 * through its escape numbers; "other" alternates a non-NVIDIA cmd and an
 * NVIDIA escape outside the classes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#define NV_CMD(nr) _IOC(_IOC_READ | _IOC_WRITE, 'F', (nr), 32)

struct op_class {
	const char *name;
	unsigned int cmds[4];
	unsigned int ncmds;
};

static const struct op_class classes[] = {
	{ "control", { NV_CMD(0x2A) }, 1 },
	{ "alloc", { NV_CMD(0x27), NV_CMD(0x28), NV_CMD(0x2B), NV_CMD(0x54) }, 4 },
	{ "free", { NV_CMD(0x29) }, 1 },
	{ "map", { NV_CMD(0x4E), NV_CMD(0x57) }, 2 },
	{ "other", { _IOC(_IOC_READ | _IOC_WRITE, 'd', 0x01, 32), NV_CMD(0xC8) }, 2 },
	{ "unmap", { NV_CMD(0x4F), NV_CMD(0x58) }, 2 },
};

#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

static int parse_count(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long want[NCLASSES] = { 0 }, done[NCLASSES] = { 0 }, i;
	unsigned char buf[32];
	size_t c;
	int fd;

	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: %s PATH N_CONTROL N_ALLOC N_FREE N_MAP N_OTHER [N_UNMAP]\n",
			argv[0]);
		return 2;
	}
	for (c = 0; c < NCLASSES && (int)c + 2 < argc; c++) {
		if (parse_count(argv[c + 2], &want[c])) {
			fprintf(stderr, "gpu_ioctl: %s: not a count\n", argv[c + 2]);
			return 2;
		}
	}
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "gpu_ioctl: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (c = 0; c < NCLASSES; c++) {
		for (i = 0; i < want[c]; i++) {
			memset(buf, 0, sizeof(buf));
			/* ENOTTY and the like are expected: the call is what is counted */
			(void)ioctl(fd, classes[c].cmds[i % classes[c].ncmds], buf);
			done[c]++;
		}
	}
	close(fd);
	for (c = 0; c < NCLASSES; c++)
		printf("%s %lu\n", classes[c].name, done[c]);
	return 0;
}
