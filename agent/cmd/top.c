// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter top: the node's pods from a running agent's /v1/pods, refreshed
 * every second like top(1): CPU, memory, network, GPU, cost per hour, idle
 * and zombie flags. Rates come from two readings of the agent's cumulative
 * counters, so the first frame waits one interval.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <podmeter/agent.h>
#include <podmeter/esc.h>
#include <podmeter/curlutil.h>
#include <podmeter/names.h>
#include <podmeter/url.h>

#define TOP_MAX_BODY	(256u << 20)
#define TOP_DEFAULT_URL "http://127.0.0.1:9477/v1/pods"
/* 10000-01-01: a reading's time past it (or before 1970) is shown as --:--:-- */
#define TOP_TIME_MAX 253402300800.0

struct top_row {
	char uid[40];
	char name[128]; /* namespace/pod, or the uid */
	double cpu;	/* cores */
	double mem;	/* bytes: working set */
	double net;	/* bytes/s, both directions */
	double gpu;	/* kernel launches/s */
	double cost;	/* dollars an hour */
	char flags[48];
};

struct top_read {
	double time;
	json_t *root;
};

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

/* A /v1/pods document into @r: 0, or -EINVAL when it is not one. */
static int top_parse(const char *body, size_t len, struct top_read *r)
{
	json_error_t jerr;

	r->root = json_loadb(body ? body : "", len, 0, &jerr);
	if (!r->root || !json_is_array(json_object_get(r->root, "pods"))) {
		json_decref(r->root);
		r->root = NULL;
		return -EINVAL;
	}
	r->time = json_number_value(json_object_get(r->root, "time"));
	return 0;
}

static int fetch(const char *url, struct top_read *r, char *err, size_t errlen)
{
	struct pm_curl_body b = { .max = TOP_MAX_BODY };
	int ret;
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curlutil__collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || status != 200) {
		snprintf(err, errlen, "GET %s: %s", url,
			 rc != CURLE_OK ? curl_easy_strerror(rc) : "not 200");
		free(b.buf);
		return -EIO;
	}
	ret = top_parse(b.buf, b.len, r);
	free(b.buf);
	if (ret)
		snprintf(err, errlen, "GET %s: not a podmeter /v1/pods document", url);
	return ret;
}

static double num(json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) && o) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	o = o ? json_object_get(o, path) : NULL;
	return json_is_number(o) ? json_number_value(o) : 0;
}

static double net_bytes(json_t *pod)
{
	json_t *net = json_object_get(pod, "network"), *bytes;
	double sum = 0;
	int d, k;

	for (k = 0; net && k < PM_NET_CLASSES; k++) {
		for (d = 0; d < PM_NET_DIRS; d++) {
			bytes = json_object_get(json_object_get(net, names__net_dir(d)), "bytes");
			sum += num(bytes, names__net_class(k));
		}
	}
	return sum;
}

static double cost_total(json_t *pod)
{
	json_t *c = json_object_get(pod, "cost_dollars");
	double sum = 0;
	int r;

	for (r = 0; r < PM_RES_MAX; r++)
		sum += num(c, names__res(r));
	return sum;
}

/* The pods of a reading by uid (the first of a uid wins): one lookup per pod, not a scan. */
static json_t *index_pods(json_t *pods)
{
	json_t *idx = json_object(), *p;
	const char *uid;
	size_t i;

	json_array_foreach(pods, i, p)
	{
		uid = json_string_value(json_object_get(p, "uid")) ?: "";
		if (idx && !json_object_get(idx, uid) && json_object_set(idx, uid, p)) {
			json_decref(idx);
			idx = NULL;
		}
	}
	return idx;
}

static void flags_of(json_t *pod, char *out, size_t len)
{
	json_t *z = json_object_get(pod, "zombie"), *k;
	size_t i, n = 0;

	out[0] = '\0';
	if (json_is_true(json_object_get(pod, "idle")))
		n += snprintf(out + n, len - n, "idle");
	json_array_foreach(z, i, k) if (n < len)
		n += snprintf(out + n, len - n, "%szombie:%s", n ? " " : "",
			      json_string_value(k) ?: "?");
}

/* Rows from two readings: rates over the interval between them. */
static size_t rows_of(const struct top_read *a, const struct top_read *b, struct top_row **out)
{
	json_t *pods = json_object_get(b->root, "pods"), *p, *q, *before;
	double dt = b->time - a->time;
	struct top_row *rows;
	size_t i, n = json_array_size(pods);

	*out = NULL;
	before = index_pods(json_object_get(a->root, "pods"));
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows || !before) {
		free(rows);
		json_decref(before);
		return 0;
	}
	json_array_foreach(pods, i, p)
	{
		struct top_row *r = &rows[i];
		const char *ns = json_string_value(json_object_get(p, "namespace")) ?: "";
		const char *name = json_string_value(json_object_get(p, "pod")) ?: "";
		const char *uid = json_string_value(json_object_get(p, "uid")) ?: "";

		snprintf(r->uid, sizeof(r->uid), "%s", uid);
		if (name[0])
			snprintf(r->name, sizeof(r->name), "%s/%s", ns, name);
		else
			snprintf(r->name, sizeof(r->name), "%s", uid);
		r->mem = num(p, "memory.working_set_bytes");
		flags_of(p, r->flags, sizeof(r->flags));
		q = json_object_get(before, uid);
		if (!q || dt <= 0)
			continue;
		r->cpu = fmax(0, (num(p, "cpu_seconds") - num(q, "cpu_seconds")) / dt);
		r->net = fmax(0, (net_bytes(p) - net_bytes(q)) / dt);
		r->gpu = fmax(0, (num(p, "gpu.cuda.kernel_launches") -
				  num(q, "gpu.cuda.kernel_launches")) /
					 dt);
		r->cost = fmax(0, (cost_total(p) - cost_total(q)) / dt * 3600);
	}
	json_decref(before);
	*out = rows;
	return n;
}

/* @ctx: the sort key, one of "cmng$p" (qsort_r: no process-wide setting) */
static int cmp_row(const void *x, const void *y, void *ctx)
{
	const struct top_row *a = x, *b = y;
	double d;

	switch (*(const char *)ctx) {
	case 'm':
		d = b->mem - a->mem;
		break;
	case 'n':
		d = b->net - a->net;
		break;
	case 'g':
		d = b->gpu - a->gpu;
		break;
	case '$':
		d = b->cost - a->cost;
		break;
	case 'p':
		return strcmp(a->name, b->name);
	default:
		d = b->cpu - a->cpu;
	}
	return d < 0 ? -1 : d > 0 ? 1 : strcmp(a->name, b->name);
}

static void human_bytes(double v, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f%s" : "%.0f%s", v, units[u]);
}

/*
 * The time of day of a reading. The agent's "time" is unix seconds, but
 * converting a double that time_t cannot hold is undefined, and localtime()
 * has no answer for a year past int.
 */
static void clock_of(double t, char *out, size_t len)
{
	struct tm tm;
	time_t s;

	if (!(t >= 0 && t < TOP_TIME_MAX))
		goto unknown;
	s = (time_t)t;
	if (localtime_r(&s, &tm) && strftime(out, len, "%H:%M:%S", &tm))
		return;
unknown:
	snprintf(out, len, "--:--:--");
}

/* The node's overhead rows of a reading (units, slices, containers outside pods). */
static json_t *oh_find(json_t *rows, const char *group, const char *kind)
{
	json_t *g;
	size_t i;

	json_array_foreach(
		rows, i,
		g) if (!strcmp(json_string_value(json_object_get(g, "group")) ?: "", group) &&
		       !strcmp(json_string_value(json_object_get(g, "kind")) ?: "", kind)) return g;
	return NULL;
}

static void frame_overhead(FILE *f, const struct top_read *a, const struct top_read *b)
{
	json_t *rows = json_object_get(b->root, "overhead"), *g, *q;
	double dt = b->time - a->time;
	char name[PM_ESC_BUF], ekind[PM_ESC_BUF], mem[16], net[16];
	size_t i;

	if (!json_array_size(rows))
		return;
	fprintf(f, "\n%-48s %7s %9s %10s %8s %10s  %s\n", "NODE OVERHEAD", "CPU", "MEM", "NET/s",
		"", "$/HOUR", "KIND");
	json_array_foreach(rows, i, g)
	{
		const char *grp = json_string_value(json_object_get(g, "group")) ?: "";
		const char *kind = json_string_value(json_object_get(g, "kind")) ?: "";
		double cpu = 0, nb = 0, cost = 0;

		q = oh_find(json_object_get(a->root, "overhead"), grp, kind);
		if (q && dt > 0) {
			cpu = fmax(0, (num(g, "cpu_seconds") - num(q, "cpu_seconds")) / dt);
			nb = fmax(0, (num(g, "network.tx_bytes") + num(g, "network.rx_bytes") -
				      num(q, "network.tx_bytes") - num(q, "network.rx_bytes")) /
					     dt);
			cost = fmax(0, (cost_total(g) - cost_total(q)) / dt * 3600);
		}
		if (json_is_number(json_object_get(g, "memory_bytes")))
			human_bytes(num(g, "memory_bytes"), mem, sizeof(mem));
		else
			snprintf(mem, sizeof(mem), "-");
		human_bytes(nb, net, sizeof(net));
		/* the agent escapes names; another server's are escaped here */
		esc__str(name, sizeof(name), grp);
		esc__str(ekind, sizeof(ekind), kind);
		fprintf(f, "%-48.48s %7.3f %9s %10s %8s %10.6f  %.12s\n", name, cpu, mem, net, "",
			cost, ekind);
	}
}

static void frame(FILE *f, const struct top_read *a, const struct top_read *b, struct top_row *rows,
		  size_t n, char sort, int lines, bool clear)
{
	char mem[16], net[16], when[32];
	double cost = 0;
	size_t i;

	if (n)
		qsort_r(rows, n, sizeof(*rows), cmp_row, &sort);
	for (i = 0; i < n; i++)
		cost += rows[i].cost;
	clock_of(b->time, when, sizeof(when));
	if (clear)
		fputs("\033[H\033[2J", f);
	/* rates are over the two readings' collections: the interval shown */
	fprintf(f,
		"podmeter top - %s  over %.3f s  %zu pods  $%.4f/h  sort: %c (c cpu, m mem, "
		"n net, g gpu, $ cost, p pod; q quits)\n\n",
		when, b->time - a->time, n, cost, sort);
	fprintf(f, "%-48s %7s %9s %10s %8s %10s  %s\n", "POD", "CPU", "MEM", "NET/s", "GPU/s",
		"$/HOUR", "FLAGS");
	for (i = 0; i < n && (lines <= 0 || (int)i < lines); i++) {
		human_bytes(rows[i].mem, mem, sizeof(mem));
		human_bytes(rows[i].net, net, sizeof(net));
		fprintf(f, "%-48.48s %7.3f %9s %10s %8.1f %10.6f  %s\n", rows[i].name, rows[i].cpu,
			mem, net, rows[i].gpu, rows[i].cost, rows[i].flags);
	}
	frame_overhead(f, a, b);
	fflush(f);
}

int top__frame(FILE *f, const char *prev, size_t prevlen, const char *cur, size_t curlen)
{
	struct top_read a = { 0 }, b = { 0 };
	struct top_row *rows;
	size_t n;
	int ret;

	ret = top_parse(prev, prevlen, &a);
	if (!ret)
		ret = top_parse(cur, curlen, &b);
	if (!ret) {
		n = rows_of(&a, &b, &rows);
		frame(f, &a, &b, rows, n, 'c', 0, false);
		free(rows);
	}
	json_decref(a.root);
	json_decref(b.root);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: podmeter top [--url URL] [--once] [--sort c|m|n|g|$|p] [--interval S]\n"
		"  --url URL       a running agent, e.g. http://HOST:9477 (its /v1/pods; a\n"
		"                  path given is kept; default %s)\n"
		"  --once          print one frame (after one interval) and exit: for scripts\n"
		"  --sort KEY      c cpu (default), m memory, n network, g GPU launches, $ cost,\n"
		"                  p pod name; keys typed while it runs change it too\n"
		"  --interval S    seconds between frames (default 1)\n",
		TOP_DEFAULT_URL);
}

/* A key typed at the terminal, without waiting: 0 when none. */
static int key_pressed(double wait_s)
{
	struct timeval tv = { (time_t)wait_s, (suseconds_t)((wait_s - (time_t)wait_s) * 1e6) };
	fd_set fds;
	char ch;

	FD_ZERO(&fds);
	FD_SET(0, &fds);
	if (select(1, &fds, NULL, NULL, &tv) > 0 && read(0, &ch, 1) == 1)
		return ch;
	return 0;
}

/* --url as people type it: http://HOST:PORT means its /v1/pods (agent/url.c). */
static int top_url(const char *arg, char *url, size_t len)
{
	char why[128], shown[PM_ESC_BUF];

	if (!url__normalize(arg, "/v1/pods", url, len, why, sizeof(why)))
		return 0;
	fprintf(stderr, "top: --url: \"%s\" %s\n", esc__str(shown, sizeof(shown), arg), why);
	return -EINVAL;
}

int top__main(int argc, char **argv)
{
	const char *url_arg = TOP_DEFAULT_URL;
	char url[PM_URL_MAX];
	struct top_read prev = { 0 }, cur = { 0 };
	double interval = 1;
	char sort = 'c';
	bool once = false;
	struct termios saved;
	bool restore = false;
	struct top_row *rows = NULL;
	char err[512];
	size_t n;
	int i, key, ret = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--once"))
			once = true;
		else if (!strcmp(argv[i], "--url") && i + 1 < argc)
			url_arg = argv[++i];
		else if (!strcmp(argv[i], "--sort") && i + 1 < argc &&
			 strchr("cmng$p", argv[i + 1][0]) && argv[i + 1][0] && !argv[i + 1][1])
			sort = argv[++i][0];
		else if (!strcmp(argv[i], "--interval") && i + 1 < argc &&
			 (interval = atof(argv[++i])) >= 0.1 && interval <= 3600)
			;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "top: bad argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (top_url(url_arg, url, sizeof(url)))
		return 2;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* keys without Enter while it runs on a terminal */
	if (!once && isatty(0) && !tcgetattr(0, &saved)) {
		struct termios raw = saved;

		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		restore = !tcsetattr(0, TCSANOW, &raw);
	}
	curlutil__global_init();
	if (fetch(url, &prev, err, sizeof(err))) {
		fprintf(stderr, "top: %s; is the agent running? (--url)\n", err);
		ret = 1;
		goto out;
	}
	while (!top_stop) {
		key = once ? (usleep((useconds_t)(interval * 1e6)), 0) : key_pressed(interval);
		if (key == 'q')
			break;
		if (key && strchr("cmng$p", key))
			sort = (char)key;
		if (fetch(url, &cur, err, sizeof(err))) {
			fprintf(stderr, "top: %s\n", err);
			ret = 1;
			break;
		}
		n = rows_of(&prev, &cur, &rows);
		frame(stdout, &prev, &cur, rows, n, sort, once ? 0 : 40, !once);
		free(rows);
		json_decref(prev.root);
		prev = cur;
		cur.root = NULL;
		if (once)
			break;
	}
out:
	if (restore)
		tcsetattr(0, TCSANOW, &saved);
	json_decref(prev.root);
	json_decref(cur.root);
	curl_global_cleanup();
	return ret;
}
