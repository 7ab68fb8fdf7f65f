// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The GPU ioctl signal alone, for syscall_overhead.sh: bpf/gpu.bpf.c loaded
 * through agent/signal/gpu.c and nothing else, and the syscall loops it is
 * measured against.
 *
 *   gpu_floor attach [--raw] DEV_ROOT PATHS
 *       attach, with the GPU device files found under DEV_ROOT and at PATHS
 *       (comma-separated, as the agent's extra paths; "" for none), print
 *       "gpu_floor: attached (<mode>, <n> devices)", wait for SIGINT/SIGTERM,
 *       then print "gpu_floor: counted <calls> calls". With no device the
 *       loader leaves nothing attached.
 *   gpu_floor spin getppid|ioctl PATH SECONDS
 *       issue the syscall in a loop (ioctl: NVIDIA's RM_CONTROL number on
 *       PATH, whatever the driver answers) and print "<calls> <calls/s>"
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <podmeter/agent.h>

#define SPIN_BATCH 1024 /* calls between clock reads */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int spin(const char *kind, const char *path, double secs)
{
	unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, 'F', 0x2A, 32), calls = 0;
	bool ioctls = !strcmp(kind, "ioctl");
	unsigned char buf[32] = { 0 };
	double start, end;
	int fd = -1, i;

	if (ioctls) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "gpu_floor: open %s: %s\n", path, strerror(errno));
			return 1;
		}
	} else if (strcmp(kind, "getppid")) {
		fprintf(stderr, "gpu_floor: spin %s: want getppid or ioctl\n", kind);
		return 2;
	}
	start = now_s();
	do {
		for (i = 0; i < SPIN_BATCH; i++) {
			if (ioctls)
				(void)ioctl(fd, cmd, buf);
			else
				(void)syscall(SYS_getppid); /* not cached by libc */
		}
		calls += SPIN_BATCH;
		end = now_s();
	} while (end - start < secs);
	if (fd >= 0)
		close(fd);
	printf("%lu %.0f\n", calls, calls / (end - start));
	return 0;
}

static void add_calls(void *ctx, __u64 cgid, const char *device, int op, __u64 calls, __u64 ns)
{
	(void)cgid, (void)device, (void)op, (void)ns;
	*(__u64 *)ctx += calls;
}

static int attach(bool raw, const char *dev_root, const char *paths)
{
	__u64 counted = 0;
	struct pm_gpu_visitor v = { .ioctl = add_calls, .ctx = &counted };
	struct pm_gpu *g;
	char err[512];
	sigset_t set;
	int ret, sig;

	/* blocked before attaching: a signal sent once "attached" is out is not lost */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ret = gpu__open(&g, PM_HIER_V2, dev_root, paths, raw, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "gpu_floor: %s; run as root on a kernel with BTF\n", err);
		return 1;
	}
	printf("gpu_floor: attached (%s, %d devices)\n", gpu__attach_mode(g), gpu__refresh(g));
	fflush(stdout);
	sigwait(&set, &sig);
	gpu__read(g, &v);
	printf("gpu_floor: counted %llu calls\n", (unsigned long long)counted);
	gpu__close(g);
	return 0;
}

int main(int argc, char **argv)
{
	bool raw = argc > 2 && !strcmp(argv[2], "--raw");

	if (argc >= 4 && !strcmp(argv[1], "attach") && argc == 4 + raw)
		return attach(raw, argv[2 + raw], argv[3 + raw]);
	if (argc == 5 && !strcmp(argv[1], "spin"))
		return spin(argv[2], argv[3], atof(argv[4]));
	fprintf(stderr,
		"usage: %s attach [--raw] DEV_ROOT PATHS\n"
		"       %s spin getppid|ioctl PATH SECONDS\n",
		argv[0], argv[0]);
	return 2;
}
