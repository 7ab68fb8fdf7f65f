// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Bench load: fake pods in the cgroupfs shape, made and removed faster than a
 * shell can, so that the agent's cost is measured and not the load's.
 *
 *   pod_farm hold PREFIX N WAKE_S QOSDIR...
 *	N pods QOSDIR/pod<uid>/<id>, one process each that wakes every WAKE_S
 *	seconds (a random phase; 0: never) and sleeps again. Says "ready N", then holds
 *	them until its stdin ends or SIGTERM/SIGINT; removes them all.
 *   pod_farm churn PREFIX NPODS RATE SECS LIFE_MS BURN_MS QOSDIR...
 *	NPODS pods without processes; for SECS seconds, RATE containers a
 *	second, in turn across the pods, each with one process that burns
 *	BURN_MS of CPU and sleeps; each container is removed LIFE_MS after its
 *	birth: its process killed and reaped, then its usage read from the
 *	first QOSDIR's cpu.stat (usage_usec) right before its rmdir. Prints a
 *	"pod UID USEC CONTAINERS" line per pod (the kernel's usage of its removed
 *	containers) and "churn ..." totals, says "ready", holds the empty pods
 *	until its stdin ends or a signal, and removes them.
 *
 * The uid of pod i is PREFIX-0000-4000-8000-<i, 12 hex>; PREFIX (8 hex) names
 * the run, so that a script can find and remove what a killed farm left. The
 * first QOSDIR must be cgroup v2's (cpu.stat); the others (v1 memory, ...)
 * get the same directories and the same processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_DIRS 8

static const char *prefix;
static char **qos;
static int n_qos;
static volatile sig_atomic_t stop;

struct ctr {
	pid_t pid;
	int pod;
	uint64_t born_ns;
	unsigned long seq;
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void pod_path(char *buf, size_t len, int d, int pod)
{
	snprintf(buf, len, "%s/pod%s-0000-4000-8000-%012x", qos[d], prefix, pod);
}

static void ctr_path(char *buf, size_t len, int d, int pod, unsigned long seq)
{
	char p[4096];

	pod_path(p, sizeof(p), d, pod);
	snprintf(buf, len, "%s/%s%056lx", p, prefix, seq);
}

static int make_dirs(int pod, long seq)
{
	char path[4200];
	int d;

	for (d = 0; d < n_qos; d++) {
		if (seq < 0)
			pod_path(path, sizeof(path), d, pod);
		else
			ctr_path(path, sizeof(path), d, pod, seq);
		if (mkdir(path, 0755) && errno != EEXIST) {
			fprintf(stderr, "pod_farm: mkdir %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* rmdir in every hierarchy, retried while the last task leaves (EBUSY) */
static int remove_dirs(int pod, long seq)
{
	char path[4200];
	int d, i, bad = 0;

	for (d = n_qos - 1; d >= 0; d--) {
		if (seq < 0)
			pod_path(path, sizeof(path), d, pod);
		else
			ctr_path(path, sizeof(path), d, pod, seq);
		for (i = 0; i < 500; i++) {
			if (!rmdir(path) || errno == ENOENT)
				break;
			usleep(2000);
		}
		if (i == 500) {
			fprintf(stderr, "pod_farm: rmdir %s: %s\n", path, strerror(errno));
			bad = -1;
		}
	}
	return bad;
}

/* Write @pid into the container's cgroup.procs in every hierarchy. */
static int place(pid_t pid, int pod, long seq)
{
	char path[4300], num[16];
	int d, fd, len, bad = 0;

	len = snprintf(num, sizeof(num), "%d", (int)pid);
	for (d = 0; d < n_qos; d++) {
		ctr_path(path, sizeof(path), d, pod, seq);
		strcat(path, "/cgroup.procs");
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, num, len) != len) {
			fprintf(stderr, "pod_farm: %s: %s\n", path, strerror(errno));
			bad = -1;
		}
		if (fd >= 0)
			close(fd);
	}
	return bad;
}

/*
 * A container's process: placed in its cgroups by the farm while it waits on
 * a pipe, as a runtime places a container's first process; then it burns
 * @burn_ns of CPU and sleeps. The child may still be on a CPU when it is
 * placed (it has not reached the pipe yet) and burn on without a switch:
 * what it ran before the move is the farm's cgroup's, the rest the
 * container's, as the kernel charges it.
 */
static pid_t spawn(int pod, long seq, uint64_t burn_ns, unsigned wake_s)
{
	int go[2];
	pid_t pid;
	uint64_t t0;
	char b;

	if (pipe2(go, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid) {
		close(go[0]);
		if (pid > 0 && place(pid, pod, seq)) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			pid = -1;
		}
		close(go[1]); /* the child goes on at EOF */
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	close(go[1]);
	if (read(go[0], &b, 1) < 0)
		_exit(1);
	close(go[0]);
	t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	while (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0 < burn_ns)
		;
	if (!wake_s)
		for (;;)
			pause();
	sleep(1 + (unsigned)getpid() % wake_s);
	for (;;)
		sleep(wake_s);
}

static long long usage_usec(int pod, unsigned long seq)
{
	char path[4300], name[64];
	long long v;
	FILE *f;

	ctr_path(path, sizeof(path), 0, pod, seq);
	strcat(path, "/cpu.stat");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2)
		if (!strcmp(name, "usage_usec")) {
			fclose(f);
			return v;
		}
	fclose(f);
	return -1;
}

/* Until stdin ends or a signal comes. */
static void hold(void)
{
	char buf[64];

	while (!stop && read(0, buf, sizeof(buf)) > 0)
		;
}

static int cmd_hold(int n, unsigned wake_s)
{
	pid_t *pids = calloc(n, sizeof(*pids));
	int i, made = 0, bad = 0;

	if (!pids)
		return 1;
	for (i = 0; i < n && !stop; i++, made++) {
		if (make_dirs(i, -1) || make_dirs(i, 0))
			break;
		pids[i] = spawn(i, 0, 0, wake_s);
		if (pids[i] < 0) {
			perror("pod_farm: fork");
			break;
		}
	}
	if (made == n && !stop) {
		printf("ready %d\n", n);
		fflush(stdout);
		hold();
	}
	for (i = 0; i < made; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (i = 0; i < made; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	for (i = 0; i <= made && i < n; i++)
		bad |= remove_dirs(i, 0) | remove_dirs(i, -1);
	printf("removed %d\n", made);
	return made == n && !bad ? 0 : 1;
}

/* Kill, reap, read the usage, rmdir: the kernel's last word on the container. */
static int retire(struct ctr *c, long long *pod_usec)
{
	long long u = -1;
	int tries;

	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	for (tries = 0; tries < 500; tries++) {
		char path[4200];

		u = usage_usec(c->pod, c->seq);
		ctr_path(path, sizeof(path), 0, c->pod, c->seq);
		if (!rmdir(path))
			break;
		if (errno != EBUSY) {
			fprintf(stderr, "pod_farm: rmdir %s: %s\n", path, strerror(errno));
			return -1;
		}
		usleep(1000);
	}
	if (u < 0)
		return -1;
	pod_usec[c->pod] += u;
	return remove_dirs(c->pod, c->seq);
}

static int cmd_churn(int npods, int rate, int secs, int life_ms, int burn_ms)
{
	size_t cap = (size_t)rate * (life_ms / 1000 + 2) + 16, head = 0, tail = 0;
	struct ctr *ring = calloc(cap, sizeof(*ring));
	long long *usec = calloc(npods, sizeof(*usec));
	long *count = calloc(npods, sizeof(*count));
	uint64_t t0, next, period = 1000000000ULL / rate, end;
	unsigned long seq = 0, removed = 0;
	int i, bad = 0;

	if (!ring || !usec || !count)
		return 1;
	for (i = 0; i < npods; i++)
		if (make_dirs(i, -1))
			goto out_pods;
	t0 = next = now_ns(CLOCK_MONOTONIC);
	end = t0 + (uint64_t)secs * 1000000000ULL;
	while (!stop && next < end) {
		uint64_t t = now_ns(CLOCK_MONOTONIC);
		struct ctr *c;

		while (tail != head &&
		       t - ring[tail % cap].born_ns >= (uint64_t)life_ms * 1000000) {
			bad |= retire(&ring[tail % cap], usec);
			tail++;
			removed++;
		}
		if (t < next) {
			usleep((next - t) / 1000);
			continue;
		}
		next += period;
		if (head - tail == cap)
			continue; /* behind: the ring is full, skip a birth */
		c = &ring[head % cap];
		c->pod = seq % npods;
		c->seq = seq;
		c->born_ns = t;
		if (make_dirs(c->pod, seq)) {
			bad = -1;
			break;
		}
		c->pid = spawn(c->pod, seq, (uint64_t)burn_ms * 1000000, 0);
		if (c->pid < 0) {
			perror("pod_farm: fork");
			remove_dirs(c->pod, seq);
			bad = -1;
			break;
		}
		count[c->pod]++;
		head++;
		seq++;
	}
	for (; tail != head; tail++, removed++)
		bad |= retire(&ring[tail % cap], usec);
	for (i = 0; i < npods; i++)
		printf("pod %s-0000-4000-8000-%012x %lld %ld\n", prefix, i, usec[i], count[i]);
	printf("churn %lu created %lu removed %.1f s\n", seq, removed,
	       (now_ns(CLOCK_MONOTONIC) - t0) / 1e9);
	printf("ready\n");
	fflush(stdout);
	if (!bad)
		hold();
out_pods:
	for (i = 0; i < npods; i++)
		bad |= remove_dirs(i, -1);
	return bad ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: pod_farm hold PREFIX N WAKE_S QOSDIR...\n"
			"       pod_farm churn PREFIX NPODS RATE SECS LIFE_MS BURN_MS QOSDIR...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int nargs;

	if (argc < 3 || strlen(argv[2]) != 8 || strspn(argv[2], "0123456789abcdef") != 8)
		return usage();
	prefix = argv[2];
	nargs = !strcmp(argv[1], "hold") ? 5 : !strcmp(argv[1], "churn") ? 8 : 0;
	if (!nargs || argc <= nargs || argc - nargs > MAX_DIRS)
		return usage();
	qos = argv + nargs;
	n_qos = argc - nargs;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (nargs == 5) {
		int n = atoi(argv[3]), wake = atoi(argv[4]);

		if (n <= 0 || wake < 0)
			return usage();
		return cmd_hold(n, wake);
	}
	int npods = atoi(argv[3]), rate = atoi(argv[4]), secs = atoi(argv[5]);
	int life = atoi(argv[6]), burn = atoi(argv[7]);

	if (npods <= 0 || rate <= 0 || rate > 1000 || secs <= 0 || life <= 0 || burn < 0)
		return usage();
	return cmd_churn(npods, rate, secs, life, burn);
}
