// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* propose, explain, and serve's proposer thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "costs.h"
#include "metrics.h"

#define DEFAULT_CACHE  "/var/lib/podmeter-reconciler/git"
#define DEFAULT_AUTHOR "podmeter-reconciler"
#define DEFAULT_EMAIL  "podmeter-reconciler@users.noreply.podmeter.io"

void proposer__defaults(struct proposer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cfg.base = "main";
	o->cfg.git.cache_dir = DEFAULT_CACHE;
	o->cfg.git.author_name = DEFAULT_AUTHOR;
	o->cfg.git.author_email = DEFAULT_EMAIL;
	o->cfg.dashboard = "issue";
	o->cfg.out = stderr;
	o->cfg.forge.timeout_s = 30;
}

int proposer__opt(struct proposer_opts *o, const char *a, const char *v)
{
	static const struct {
		const char *flag;
		size_t off;
	} strs[] = {
#define S(f, m) { f, offsetof(struct proposer_opts, m) }
		S("--base", cfg.base),
		S("--git-cache", cfg.git.cache_dir),
		S("--git-username", cfg.git.username),
		S("--git-token-file", cfg.git.token_file),
		S("--git-ssh-key", cfg.git.ssh_key),
		S("--git-ssh-pubkey", cfg.git.ssh_pubkey),
		S("--git-ssh-passphrase-file", cfg.git.ssh_passphrase_file),
		S("--git-known-hosts", cfg.git.known_hosts),
		S("--git-ca-file", cfg.git.ca_file),
		S("--git-author-name", cfg.git.author_name),
		S("--git-author-email", cfg.git.author_email),
		S("--forge-url", cfg.forge.api_url),
		S("--forge-repo", cfg.forge.repo),
		S("--forge-token-file", cfg.forge.token_file),
		S("--forge-ca-file", cfg.forge.ca_file),
		S("--policy", cfg.policy_file),
		S("--crash-at", cfg.crash_at),
#undef S
	};
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (!strcmp(a, strs[i].flag)) {
			*(const char **)((char *)o + strs[i].off) = v;
			return 1;
		}
	}
	if (!strcmp(a, "--repo")) {
		o->cfg.git.url = v;
		o->repo_given = true;
		return 1;
	}
	if (!strcmp(a, "--forge")) {
		o->cfg.has_forge = true;
		return forge__parse_kind(v, &o->cfg.forge.kind) ? -1 : 1;
	}
	if (!strcmp(a, "--dashboard")) {
		o->cfg.dashboard = v;
		return !strcmp(v, "issue") || !strcmp(v, "file") || !strcmp(v, "none") ? 1 : -1;
	}
	if (!strcmp(a, "--propose-every"))
		return costs__parse_duration(v, &o->every) || o->every <= 0 ? -1 : 1;
	return 0;
}

void proposer__usage(FILE *f)
{
	fprintf(f,
		"the GitOps repository (libgit2):\n"
		"  --repo URL                  file:///..., https://..., ssh://... or git@host:path\n"
		"  --base BRANCH               the branch pull requests go into (default main)\n"
		"  --git-cache DIR             a bare cache of it (default %s)\n"
		"  --git-username U            https user (default x-access-token), ssh user\n"
		"  --git-token-file F          https password or token\n"
		"  --git-ssh-key F             ssh private key (--git-ssh-pubkey F, optional)\n"
		"  --git-ssh-passphrase-file F its passphrase\n"
		"  --git-known-hosts F         ssh: the server's key must be listed here\n"
		"  --git-ca-file F             https: CA bundle\n"
		"  --git-author-name N, --git-author-email E   the commits' author\n"
		"the forge (pull requests):\n"
		"  --forge github|gitlab|gitea\n"
		"  --forge-url URL             its API (https://api.github.com, .../api/v4, .../api/v1)\n"
		"  --forge-repo OWNER/NAME     (GitLab: the project's path)\n"
		"  --forge-token-file F        --forge-ca-file F\n"
		"  --policy FILE               local policy under the repository's .podmeter/policy.yaml\n"
		"  --dashboard issue|file|none zombies, orphans, idle: an issue (default) or\n"
		"                              PODMETER-DASHBOARD.md on branch podmeter/dashboard\n",
		DEFAULT_CACHE);
}

int proposer__check(const struct proposer_opts *o, char *err, size_t errlen)
{
	if (!o->repo_given) {
		snprintf(err, errlen, "give --repo URL (the GitOps repository)");
		return -EINVAL;
	}
	if (o->cfg.has_forge && (!o->cfg.forge.api_url || !o->cfg.forge.repo)) {
		snprintf(err, errlen, "--forge needs --forge-url and --forge-repo");
		return -EINVAL;
	}
	return 0;
}

/* SQLite: a lock file beside the store, so that propose and serve do not write git at once. */
static int sqlite_lock(const char *url)
{
	char path[4096];
	int fd;

	if (strncmp(url, "sqlite:", 7))
		return -2;
	snprintf(path, sizeof(path), "%s.propose-lock", url + 7);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void summary(FILE *f, const struct cycle_result *r)
{
	fprintf(f,
		"cycle: %d groups; %d candidates, %d pushed, %d opened, %d updated, %d merged, "
		"%d closed, %d superseded, %d verified, %d reverted, %d left alone, %d errors\n",
		r->groups, r->candidates, r->pushed, r->opened, r->updated, r->merged, r->closed,
		r->superseded, r->verified, r->reverted, r->left_alone, r->errors);
}

/* ---- propose ---- */

static void propose_usage(FILE *f)
{
	fprintf(f, "usage: podmeter-reconciler propose --store URL --repo URL [--forge KIND ...] "
		   "[--dry-run]\n\nOne cycle: decide, guard, and write pull requests (--dry-run: "
		   "print what it would write, change nothing).\n\n");
	proposer__usage(f);
}

int propose__main(int argc, char **argv)
{
	struct proposer_opts o;
	struct cycle_result res;
	const char *store_url = NULL;
	struct store *s;
	char err[1024];
	int i, r, lock = -2, ret;

	proposer__defaults(&o);
	o.cfg.out = stdout;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			propose_usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--dry-run")) {
			o.cfg.dry_run = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "propose: %s: unknown, or needs a value\n", argv[i]);
			return 2;
		}
		if (!strcmp(argv[i], "--store")) {
			store_url = argv[++i];
			continue;
		}
		r = proposer__opt(&o, argv[i], argv[i + 1]);
		if (r <= 0) {
			fprintf(stderr, "propose: %s %s: %s\n", argv[i], argv[i + 1],
				r ? "bad value" : "unknown flag");
			return 2;
		}
		i++;
	}
	if (!store_url || proposer__check(&o, err, sizeof(err))) {
		fprintf(stderr, "propose: %s\n", store_url ? err : "give --store URL");
		return 2;
	}
	if (store__open(&s, store_url, err, sizeof(err))) {
		fprintf(stderr, "propose: %s\n", err);
		return 1;
	}
	if (!o.cfg.dry_run && (lock = sqlite_lock(store_url)) == -1) {
		fprintf(stderr, "propose: another process writes for this store now\n");
		store__close(s);
		return 1;
	}
	ret = cycle__run(s, &o.cfg, &res, err, sizeof(err));
	if (ret)
		fprintf(stderr, "propose: %s\n", err);
	else
		summary(stdout, &res);
	if (lock >= 0)
		close(lock);
	store__close(s);
	return ret ? 1 : res.errors ? 3 : 0;
}

/* ---- explain ---- */

static int show_verdict(void *ctx, const struct gs_wl *w, const struct gs_verdict *v)
{
	char *last = ctx;
	char key[1200];

	snprintf(key, sizeof(key), "%s/%s/%s/%s", w->cluster, w->ns, w->kind, w->name);
	if (strcmp(key, last)) {
		printf("%s/%s/%s (cluster \"%s\")\n", w->ns, w->kind, w->name, w->cluster);
		snprintf(last, 1200, "%s", key);
	}
	printf("  %-12s %-8s %-10s %-7s %s\n", v->container, v->resource, v->rule, v->outcome,
	       v->detail);
	return 0;
}

static void when(double t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

static void value(const struct gs_item *it, double v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "unset");
	else if (!strcmp(it->resource, "replicas"))
		snprintf(buf, len, "%.0f", v);
	else if (!strncmp(it->resource, "cpu", 3))
		decide__fmt_cpu(v, buf, len);
	else
		decide__fmt_mem(v, buf, len);
}

static int show_prop(void *ctx, const struct gs_prop *p, const struct gs_item *it)
{
	char *last = ctx, c[32], m[32];

	if (strcmp(last, p->id)) {
		snprintf(last, 1200, "%s", p->id);
		when(p->created_at, c, sizeof(c));
		when(p->merged_at, m, sizeof(m));
		printf("  %s %s %s #%lld %s created %s merged %s\n", p->id, p->kind,
		       gs_state_names[p->state], (long long)p->number, p->url, c, m);
		if (p->outcome && p->outcome[0])
			printf("    outcome: %s\n", p->outcome);
	}
	value(it, it->current, c, sizeof(c));
	value(it, it->proposed, m, sizeof(m));
	printf("    %s %s: %s -> %s\n", it->container[0] ? it->container : "*", it->resource, c, m);
	return 0;
}

int explain__main(int argc, char **argv)
{
	const char *store_url = NULL, *target = NULL, *slash, *slash2;
	char last[1200] = "", err[512];
	struct gs_wl w;
	struct store *s;
	int i, ret;

	memset(&w, 0, sizeof(w));
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--store") && i + 1 < argc)
			store_url = argv[++i];
		else if (!strcmp(argv[i], "--cluster") && i + 1 < argc)
			snprintf(w.cluster, sizeof(w.cluster), "%s", argv[++i]);
		else if (argv[i][0] != '-' && !target)
			target = argv[i];
		else
			store_url = NULL, i = argc;
	}
	if (!store_url || !target || !(slash = strchr(target, '/'))) {
		fprintf(stderr, "usage: podmeter-reconciler explain --store URL [--cluster C] "
				"NAMESPACE/WORKLOAD (WORKLOAD: NAME or KIND/NAME)\n");
		return 2;
	}
	snprintf(w.ns, sizeof(w.ns), "%.*s", (int)(slash - target), target);
	slash2 = strchr(slash + 1, '/');
	if (slash2) {
		snprintf(w.kind, sizeof(w.kind), "%.*s", (int)(slash2 - slash - 1), slash + 1);
		snprintf(w.name, sizeof(w.name), "%s", slash2 + 1);
	} else {
		snprintf(w.name, sizeof(w.name), "%s", slash + 1);
	}
	if (store__open(&s, store_url, err, sizeof(err))) {
		fprintf(stderr, "explain: %s\n", err);
		return 1;
	}
	ret = gstore__verdicts(s, &w, show_verdict, last);
	if (!ret && !last[0])
		printf("%s: no verdicts yet (no cycle has judged it: is it reported, and has "
		       "propose or serve --propose-every run?)\n",
		       target);
	if (!ret) {
		printf("proposals:\n");
		last[0] = '\0';
		ret = gstore__props_of(s, &w, show_prop, last);
		if (!ret && !last[0])
			printf("  none\n");
	}
	store__close(s);
	if (ret)
		fprintf(stderr, "explain: the store: %s\n", strerror(-ret));
	return ret ? 1 : 0;
}

/* ---- serve's proposer ---- */

struct proposer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct proposer_opts o;
	const char *store_url;
	struct rec_metrics *m;
};

static void count(struct proposer *p, struct store *s)
{
	int64_t n[GS_N_STATES], sav[GS_N_STATES];
	double stages[3];

	if (gstore__prop_counts(s, n, sav))
		return;
	stages[0] = (sav[GS_CANDIDATE] + sav[GS_PUSHED] + sav[GS_OPEN]) / 1e9;
	stages[1] = (sav[GS_MERGED] + sav[GS_VERIFIED] + sav[GS_REVERTED]) / 1e9;
	stages[2] = sav[GS_VERIFIED] / 1e9;
	metrics__proposals(p->m, gs_state_names, n, GS_N_STATES, stages);
}

static void one_cycle(struct proposer *p, struct store *s)
{
	struct cycle_result res;
	char err[1024];
	int lock = sqlite_lock(p->store_url), ret;

	if (lock == -1) {
		metrics__cycle(p->m, "not_writer");
		count(p, s);
		return;
	}
	ret = cycle__run(s, &p->o.cfg, &res, err, sizeof(err));
	if (lock >= 0)
		close(lock);
	if (ret == -EAGAIN) {
		metrics__cycle(p->m, "not_writer");
	} else if (ret) {
		fprintf(stderr, "warning: propose: %s; trying again in %.0f s\n", err, p->o.every);
		metrics__cycle(p->m, "error");
	} else {
		summary(stderr, &res);
		metrics__cycle(p->m, res.errors ? "error" : "ok");
	}
	count(p, s);
}

static void *proposer_run(void *arg)
{
	struct proposer *p = arg;
	struct store *s = NULL;
	struct timespec until;
	char err[512];

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		pthread_mutex_unlock(&p->lock);
		if (!s && store__open(&s, p->store_url, err, sizeof(err)))
			fprintf(stderr, "warning: propose: store: %s; trying again later\n", err);
		if (s)
			one_cycle(p, s);
		pthread_mutex_lock(&p->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)p->o.every;
		until.tv_nsec += (long)((p->o.every - (time_t)p->o.every) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&p->lock);
	store__close(s);
	return NULL;
}

int proposer__start(struct proposer **out, const struct proposer_opts *o, const char *store_url,
		    struct rec_metrics *m)
{
	struct proposer *p;
	int ret;

	*out = NULL;
	if (!o->every)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->o = *o;
	p->o.cfg.out = stderr;
	p->store_url = store_url;
	p->m = m;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	ret = -pthread_create(&p->thread, NULL, proposer_run, p);
	if (ret) {
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void proposer__stop(struct proposer *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	free(p);
}
