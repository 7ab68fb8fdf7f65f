// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Bench load for reading resident memory at start: forks N processes that
 * each touch K KiB of their own and wait; says "ready N" once all are up.
 * They go with it (SIGKILL on the parent's death).
 *   idle_procs N KIB
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static void child(size_t len)
{
	char *p;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		memset(p, 0xa5, len);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	long n, i;
	size_t len;

	if (argc != 3 || (n = atol(argv[1])) <= 0 || atol(argv[2]) <= 0) {
		fprintf(stderr, "usage: idle_procs N KIB\n");
		return 2;
	}
	len = (size_t)atol(argv[2]) << 10;
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			child(len);
		if (pid < 0) {
			perror("idle_procs: fork");
			break;
		}
	}
	printf("ready %ld\n", i);
	fflush(stdout);
	for (;;)
		pause();
}
