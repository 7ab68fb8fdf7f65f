// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* podmeter: per-pod resource telemetry for Kubernetes nodes. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>
#include <podmeter/caps.h>
#include <podmeter/check.h>
#include <podmeter/config.h>
#include <podmeter/exporter.h>
#include <podmeter/pin.h>
#include <podmeter/report.h>
#include <podmeter/replay.h>

/* libbpf's own lines already start with "libbpf: "; the verifier's log lines do not. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return n;
	/* one call per line: other threads log too */
	return fprintf(stderr, "%s%s", strncmp(line, "libbpf: ", 8) ? "libbpf: " : "", line);
}

/* Block the stop signals in every thread; the main loop takes them. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

static void add_ms(struct timespec *t, unsigned long long ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

#define AGENT_MMAP_MIN (1 << 20)
/*
 * Free heap pages are handed back this often: what the ticks' arrays, a
 * kubelet list's parse and a scrape's body leave free between live blocks
 * stays resident otherwise (a trim at 1,000 pods gives back 2.2 MiB of
 * 28.5). Each trim walks the free lists (about a millisecond), and the
 * pages the next ticks take again are faulted in anew: at 1,000 pods, 10 s
 * against 60 s made 1,500 more page faults a minute (about 0.02% of a
 * core on the build VM, where a fault costs 10 us) for 2 MiB less resident
 * on average.
 */
#define AGENT_TRIM_S 10

/* One periodic collection, and its snapshot into the report window; older renderings go. */
static void tick(struct pm_collector *col, struct pm_reporter *rep, struct pm_http *http)
{
	struct pm_snapshot *s;
	int err;

	err = collector__tick(col);
	if (err) {
		fprintf(stderr, "warning: collect: %s; trying again next tick\n", strerror(-err));
		return;
	}
	s = collector__last(col);
	if (s)
		reporter__tick(rep, s);
	http__snapshot_out(http, s);
	snapshot__put(s);
}

struct run_args {
	int argc;
	char **argv;
};

/* Settings that only a restart changes (not reloadable in the key table): named. */
static void reload_warn_fixed(const struct pm_config *a, const struct pm_config *b)
{
	const char *keys[64];
	int i, n;

	n = config__fixed_changed(a, b, keys, 64);
	for (i = 0; i < n && i < 64; i++)
		fprintf(stderr, "warning: reload: %s changed; it takes effect at restart\n",
			keys[i]);
}

/* SIGHUP: the config file and flags again; the agent goes on either way. */
static void reload(struct pm_collector *col, struct pm_config *cfg, const struct run_args *ra)
{
	static struct pm_config fresh;
	char err[2048];
	int ret;

	ret = config__from_args(&fresh, ra->argc, ra->argv, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "warning: reload: %s; keeping the running config\n",
			ret > 0 ? "no config" : err);
		return;
	}
	ret = collector__reload(col, &fresh, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "warning: reload: %s; keeping the running config\n", err);
		return;
	}
	reload_warn_fixed(cfg, &fresh);
	fprintf(stderr, "podmeter: reloaded %s: prices, network classes, thresholds\n",
		fresh.config_file[0] ? fresh.config_file : "flags");
}

/* Tick on a fixed schedule until a stop signal; returns the signal. */
static int tick_loop(struct pm_collector *col, struct pm_reporter *rep, struct pm_http *http,
		     struct pm_config *cfg, const sigset_t *set, const struct run_args *ra)
{
	static const struct timespec no_wait;
	struct timespec next, now, wait, trim;
	int sig;

	clock_gettime(CLOCK_MONOTONIC, &next);
	trim = next;
	for (;;) {
		add_ms(&next, cfg->collect.interval_ms);
		tick(col, rep, http);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - trim.tv_sec >= AGENT_TRIM_S) {
			malloc_trim(0);
			trim = now;
		}
		if (!before(&now, &next)) {
			/* overran: take a pending signal, then a whole interval from now */
			next = now;
			wait = no_wait;
		} else {
			wait.tv_sec = next.tv_sec - now.tv_sec;
			wait.tv_nsec = next.tv_nsec - now.tv_nsec;
			if (wait.tv_nsec < 0) {
				wait.tv_sec--;
				wait.tv_nsec += 1000000000;
			}
		}
		sig = sigtimedwait(set, NULL, &wait);
		if (sig == SIGHUP)
			reload(col, cfg, ra);
		else if (sig > 0)
			return sig;
	}
}

/* What runs beside the tick loop, each in threads of its own. */
struct services {
	struct pm_collector *col;
	const struct pm_config *cfg;
	struct pm_reporter *rep;
	struct pm_http *http;
	pthread_t watchdog;
	bool watching;
	atomic_bool stop;
	char err[2048];
	int ret;
};

/* Says once when periodic collections stop ending, and what they were doing. */
static void *watch(void *arg)
{
	struct services *sv = arg;
	char msg[256];

	pthread_setname_np(pthread_self(), "pm-watchdog");
	while (!atomic_load(&sv->stop)) {
		sleep(1);
		collector__health(sv->col, msg, sizeof(msg));
	}
	return NULL;
}

/*
 * Capabilities belong to threads, and a thread starts with its creator's:
 * the kubelet client, the shipper, the HTTP server and the watchdog start
 * from this thread, which holds none, so none of theirs holds any.
 */
static void *start_services(void *arg)
{
	struct services *sv = arg;
	const struct pm_config *cfg = sv->cfg;

	sv->ret = caps__drop_all();
	if (sv->ret) {
		snprintf(sv->err, sizeof(sv->err), "capabilities: drop for the service threads: %s",
			 strerror(-sv->ret));
		return NULL;
	}
	sv->ret = collector__start_meta(sv->col, cfg, sv->err, sizeof(sv->err));
	if (sv->ret)
		return NULL;
	sv->ret = reporter__open(&sv->rep, cfg, sv->err, sizeof(sv->err));
	if (sv->ret)
		return NULL;
	collector__set_report_stats(sv->col, reporter__stats, sv->rep);
	sv->http = http__start(cfg->http.listen_host, cfg->http.listen_port, collector__fresh,
			       collector__health, sv->col, &cfg->http.web);
	if (!sv->http) {
		sv->ret = -errno;
		snprintf(sv->err, sizeof(sv->err),
			 "listen on %s:%u: %s; choose another with --listen", cfg->http.listen_host,
			 cfg->http.listen_port, strerror(errno));
		return NULL;
	}
	sv->watching = !pthread_create(&sv->watchdog, NULL, watch, sv);
	return NULL;
}

static int services__start(struct services *sv)
{
	pthread_t t;
	int ret;

	ret = pthread_create(&t, NULL, start_services, sv);
	if (ret) {
		snprintf(sv->err, sizeof(sv->err), "start threads: %s", strerror(ret));
		return -ret;
	}
	pthread_join(t, NULL);
	return sv->ret;
}

static void services__stop(struct services *sv)
{
	atomic_store(&sv->stop, true);
	if (sv->watching)
		pthread_join(sv->watchdog, NULL);
	http__stop(sv->http);
	reporter__close(sv->rep);
}

static void drop_caps(struct pm_collector *col)
{
	char kept[256];
	int ret;

	ret = caps__drop_after_start(kept, sizeof(kept), collector__gpu_node(col));
	if (ret)
		fprintf(stderr, "warning: capabilities: %s; running with what it started with\n",
			strerror(-ret));
	else
		fprintf(stderr, "podmeter: capabilities kept after start: %s\n",
			kept[0] ? kept : "none");
}

static int cmd_run(int argc, char **argv)
{
	struct services sv = { 0 };
	struct pm_collector *col = NULL;
	struct pm_config cfg;
	char err[2048];
	sigset_t set;
	int ret, sig;

	ret = config__from_args(&cfg, argc, argv, err, sizeof(err));
	if (ret)
		return ret > 0 ? 0 : (fprintf(stderr, "podmeter: %s\n", err), 2);
	/*
	 * Blocks of AGENT_MMAP_MIN or more (a metrics body, a large node's
	 * snapshot) are mapped and unmapped whole: glibc would otherwise raise
	 * the bar to the largest block freed and keep such blocks resident.
	 */
	mallopt(M_MMAP_THRESHOLD, AGENT_MMAP_MIN);
	/*
	 * One heap for all threads: each thread's own arena (the scanner, the
	 * kubelet's, the server's) would keep what it freed resident apart;
	 * they rarely allocate at once. 2 MiB less at 1,000 pods.
	 */
	mallopt(M_ARENA_MAX, 1);
	block_signals(&set);
	libbpf_set_print(libbpf_print);

	ret = collector__open(&col, &cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "podmeter: %s (run 'podmeter check' for what this node lacks)\n",
			err);
		return 1;
	}
	sv.col = col;
	sv.cfg = &cfg;
	if (services__start(&sv)) {
		fprintf(stderr, "podmeter: %s\n", sv.err);
		services__stop(&sv);
		collector__close(col);
		return 1;
	}
	drop_caps(col);
	ret = collector__start_scanner(col);
	if (ret)
		fprintf(stderr,
			"warning: cuda: start the library scanner: %s; running without "
			"CUDA counts\n",
			strerror(-ret));
	tick(col, sv.rep, sv.http);
	fprintf(stderr,
		"podmeter %s: cpu via %s, pods under %s; serving http://%s:%u/metrics, "
		"collecting every %llu ms\n",
		PM_VERSION, collector__attach_mode(col), collector__root(col),
		cfg.http.listen_host[0] ? cfg.http.listen_host : "0.0.0.0", cfg.http.listen_port,
		(unsigned long long)cfg.collect.interval_ms);

	sig = tick_loop(col, sv.rep, sv.http, &cfg, &set, &(struct run_args){ argc, argv });
	fprintf(stderr, "podmeter: %s, stopping\n", strsignal(sig));
	/* the window so far becomes a final report */
	tick(col, sv.rep, sv.http);
	reporter__finish(sv.rep);
	services__stop(&sv);
	collector__close(col);
	return 0;
}

static int cmd_check(int argc, char **argv)
{
	struct pm_config cfg;
	char err[2048];
	int ret;

	if (argc == 2 && !strcmp(argv[1], "--required-caps")) {
		caps__print_required(stdout);
		return 0;
	}
	ret = config__from_args(&cfg, argc, argv, err, sizeof(err));
	if (ret)
		return ret > 0 ? 0 : (fprintf(stderr, "podmeter: %s\n", err), 2);
	return check__run(&cfg, stdout);
}

/* Uninstall: counting stops, pinned counts are gone. */
static int cmd_unpin(int argc, char **argv)
{
	const char *dir = config__key_default("pin_dir");
	int i, n;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pin-dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strncmp(argv[i], "--pin-dir=", 10)) {
			dir = argv[i] + 10;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: podmeter unpin [--pin-dir DIR]\n"
			       "Removes everything the agent pinned under DIR (default %s):\n"
			       "its programs detach and its counts are gone.\n",
			       config__key_default("pin_dir"));
			return 0;
		} else {
			fprintf(stderr,
				"podmeter: unpin: unknown argument \"%s\"; see "
				"podmeter unpin --help\n",
				argv[i]);
			return 2;
		}
	}
	if (dir[0] != '/') {
		fprintf(stderr, "podmeter: unpin: --pin-dir: \"%s\" is not an absolute path\n",
			dir);
		return 2;
	}
	n = pin__remove(dir);
	if (n == -EXDEV) {
		fprintf(stderr, "podmeter: unpin: %s is not on a bpffs mount; nothing removed\n",
			dir);
		return 1;
	}
	if (n < 0) {
		fprintf(stderr, "podmeter: unpin: %s: %s\n", dir, strerror(-n));
		return 1;
	}
	printf("podmeter: %s: %d pinned object%s removed\n", dir, n, n == 1 ? "" : "s");
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("podmeter %s (%s)\n", PM_VERSION, PM_GIT_REV);
	return 0;
}

static int cmd_help(int argc, char **argv);

/* The commands, bpftool-style: a row each; the usage text is made from them. */
static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help; /* NULL: not listed (an alias) */
} cmds[] = {
	{ "run", cmd_run,
	  "run the agent in the foreground (SIGINT/SIGTERM stop it; SIGHUP\n"
	  "reloads prices, network classes and thresholds)" },
	{ "check", cmd_check,
	  "probe this node for what the agent needs\n"
	  "(podmeter check --required-caps: the capabilities to grant)" },
	{ "receive", receiver__main, "a reference receiver for reports (podmeter receive --help)" },
	{ "decode", decode__main, "print a report file as JSON (podmeter decode FILE)" },
	{ "replay", replay__main,
	  "score a timestamp,value CSV with the anomaly models (podmeter replay --help)" },
	{ "top", top__main, "the node's pods from a running agent, refreshed every second" },
	{ "unpin", cmd_unpin,
	  "remove the programs, links and counters pinned under bpffs\n"
	  "(podmeter unpin [--pin-dir DIR]; for uninstall)" },
	{ "version", cmd_version, "print the version" },
	{ "--version", cmd_version, NULL },
	{ "help", cmd_help, "this text" },
	{ "--help", cmd_help, NULL },
	{ "-h", cmd_help, NULL },
};

static void usage(FILE *f)
{
	const char *line, *nl;
	size_t i;

	fprintf(f, "usage: podmeter <command> [flags]\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!cmds[i].help)
			continue;
		for (line = cmds[i].help; line; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			fprintf(f, "  %-8s %.*s\n", line == cmds[i].help ? cmds[i].name : "",
				nl ? (int)(nl - line) : (int)strlen(line), line);
		}
	}
	fprintf(f, "\nflags of run and check:\n");
	config__usage(f);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, cmd[0] ? "podmeter: unknown command \"%s\"\n" : "podmeter: no command%s\n",
		cmd);
	usage(stderr);
	return 2;
}
