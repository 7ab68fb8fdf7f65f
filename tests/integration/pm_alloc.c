// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test load for memory: maps and touches N MiB in two halves, says
 * "touched"; on SIGUSR1 unmaps one half and says "freed"; on SIGUSR2 maps
 * and touches another half and says "grown"; otherwise waits.
 *   pm_alloc MIB
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t freeing, growing;

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

	if (argc != 2 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: pm_alloc MIB\n");
		return 2;
	}
	half = (size_t)atol(argv[1]) << 19;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	/* the signals wait, blocked, until sigsuspend(): none is missed */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigprocmask(SIG_BLOCK, &sigs, &waiting);
	a = touch(half);
	b = touch(half);
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
		sigsuspend(&waiting);
	}
	return a ? 0 : 1;
}
