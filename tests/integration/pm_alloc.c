// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test load for memory: maps and touches N MiB in two halves, says
 * "touched"; on SIGUSR1 unmaps one half and says "freed"; on SIGUSR2 maps
 * and touches another half and says "grown"; otherwise waits. With FILE, it
 * reads FILE once before "touched", and again on SIGHUP, saying "reread":
 * through one buffer touched first, so a read makes no page fault and moves
 * no resident byte (the second read of a page puts it on the active list).
 *   pm_alloc MIB [FILE]
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t freeing, growing, rereading;
static char buf[1 << 20];

static void on_usr1(int sig)
{
	(void)sig;
	freeing = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	growing = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	rereading = 1;
}

/* FILE read whole into buf, a chunk at a time; exits on an error. */
static void read_file(const char *path)
{
	ssize_t n;
	off_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror("pm_alloc: open");
		exit(1);
	}
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0)
		off += n;
	if (n < 0) {
		perror("pm_alloc: read");
		exit(1);
	}
	close(fd);
}

static void *touch(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("pm_alloc: mmap");
		exit(1);
	}
	/* no huge pages: one fault per 4 KiB page, as the test counts them */
	madvise(p, len, MADV_NOHUGEPAGE);
	memset(p, 0xa5, len);
	return p;
}

int main(int argc, char **argv)
{
	size_t half;
	sigset_t sigs, waiting;
	void *a, *b;

	if ((argc != 2 && argc != 3) || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: pm_alloc MIB [FILE]\n");
		return 2;
	}
	half = (size_t)atol(argv[1]) << 19;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	signal(SIGHUP, on_hup);
	/* the signals wait, blocked, until sigsuspend(): none is missed */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, &waiting);
	a = touch(half);
	b = touch(half);
	if (argc == 3) {
		memset(buf, 0x5a, sizeof(buf));
		read_file(argv[2]);
	}
	printf("touched\n");
	fflush(stdout);
	for (;;) {
		if (freeing && b) {
			munmap(b, half);
			b = NULL;
			printf("freed\n");
			fflush(stdout);
		}
		if (growing) {
			growing = 0;
			touch(half);
			printf("grown\n");
			fflush(stdout);
		}
		if (rereading && argc == 3) {
			rereading = 0;
			read_file(argv[2]);
			printf("reread\n");
			fflush(stdout);
		}
		sigsuspend(&waiting);
	}
	return a ? 0 : 1;
}
