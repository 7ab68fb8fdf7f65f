// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test load for CPU attribution across a move: ROUNDS times, a child with
 * THREADS threads spins for RUN_MS of wall time; MOVE_MS after its start,
 * while its threads are on a CPU, the parent writes its pid into
 * CGROUP_PROCS (the whole thread group moves). What ran before the move is
 * its old cgroup's, the rest the new one's, as the kernel charges it.
 * Prints "moved N" when done.
 *   mover ROUNDS THREADS RUN_MS MOVE_MS CGROUP_PROCS
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t deadline_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *spin(void *arg)
{
	(void)arg;
	while (now_ns() < deadline_ns)
		;
	return NULL;
}

static int child(int threads, int run_ms)
{
	pthread_t tid[64];
	int i, n = 0;

	deadline_ns = now_ns() + (uint64_t)run_ms * 1000000ULL;
	for (i = 1; i < threads && n < 64; i++)
		if (!pthread_create(&tid[n], NULL, spin, NULL))
			n++;
	spin(NULL);
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	return 0;
}

static int move(pid_t pid, const char *procs)
{
	char num[16];
	FILE *f = fopen(procs, "we");
	int ok;

	if (!f)
		return -1;
	snprintf(num, sizeof(num), "%d\n", (int)pid);
	ok = fputs(num, f) >= 0;
	return fclose(f) || !ok ? -1 : 0;
}

int main(int argc, char **argv)
{
	int rounds, threads, run_ms, move_ms, i, st;
	pid_t pid;

	if (argc != 6) {
		fprintf(stderr, "usage: mover ROUNDS THREADS RUN_MS MOVE_MS CGROUP_PROCS\n");
		return 2;
	}
	rounds = atoi(argv[1]);
	threads = atoi(argv[2]);
	run_ms = atoi(argv[3]);
	move_ms = atoi(argv[4]);
	if (rounds < 1 || threads < 1 || threads > 64 || run_ms < 1 || move_ms < 0 ||
	    move_ms >= run_ms) {
		fprintf(stderr, "mover: bad arguments\n");
		return 2;
	}
	for (i = 0; i < rounds; i++) {
		pid = fork();
		if (pid < 0) {
			perror("mover: fork");
			return 1;
		}
		if (!pid)
			_exit(child(threads, run_ms));
		usleep(move_ms * 1000);
		if (move(pid, argv[5])) {
			fprintf(stderr, "mover: %s: %s\n", argv[5], strerror(errno));
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return 1;
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "mover: child failed\n");
			return 1;
		}
	}
	printf("moved %d\n", rounds);
	return 0;
}
