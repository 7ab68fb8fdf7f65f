// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Pod metadata in a thread of its own, so a slow kubelet never delays a
 * collection: the kubelet's /pods (libcurl) every interval and whenever an
 * unknown pod shows up; without a kubelet, what /var/log/pods directory
 * names (<namespace>_<name>_<uid>) tell. The last good metadata is kept when
 * the kubelet is down, slow or answers garbage.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <podmeter/agent.h>
#include <podmeter/curlutil.h>
#include <podmeter/kubelet.h>

/*
 * The list is parsed as it arrives and never held whole, so its size does not
 * bound memory; these bound the time one refresh may take. A kubelet that
 * sends less than LOW_SPEED bytes a second for LOW_SPEED_S is given up on
 * (a hung one after 10 s), and no list may take longer than TIMEOUT or be
 * longer than MAX_BODY (250 pods of 1.5 MiB, etcd's largest object, are
 * about 375 MiB).
 */
#define MAX_BODY    (1ull << 30)
#define TIMEOUT_MS  120000L
#define LOW_SPEED   1024L
#define LOW_SPEED_S 10L
/* A refresh asked for by an unknown pod waits this long, or twice the last one. */
#define POKE_GAP_MS 1000

/* What labeling needs of a listed container. */
struct meta_ctr {
	char id[PM_CID_MAX + 1];
	char name[64]; /* a DNS label: 63 bytes at most (cut so) */
	struct pm_resources requests, limits;
};

/* What labeling needs of a listed pod: the rest of its metadata is in its names. */
struct meta_pod {
	char uid[PM_UID_LEN + 1];
	enum pm_qos qos;
	struct pm_pod_names *names; /* NULL (out of memory): "" */
	size_t n_containers;
	struct meta_ctr *containers; /* in the list's one block */
};

struct pm_kubemeta {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop, poked, started;
	bool curl_started; /* curlutil__global_init() was called */
	struct pm_config cfg;
	struct meta_pod *pods; /* the last good list, in uid order */
	size_t n_pods;
	struct meta_ctr *ctrs; /* its containers, one block */
	uint64_t errors;
	bool failing;	  /* for one log line per state change */
	bool listed;	  /* a kubelet list is in hand: unlisted pods are orphans */
	int n_label_keys; /* --report-labels, split */
	char label_keys[PM_POD_LABELS][PM_LABEL_KEY_MAX + 1];
};

/* The body as it arrives, into the parser; an error body is dropped. */
struct fetch_sink {
	CURL *curl;
	struct pm_kubelet_parser *parser;
	long status;
	unsigned long long bytes;
	bool parse_failed, too_long;
};

static size_t fetch_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct fetch_sink *s = arg;
	size_t len = size * n;

	if (!s->status)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200)
		return len;
	s->bytes += len;
	if (s->bytes > MAX_BODY) {
		s->too_long = true;
		return 0; /* aborts the transfer */
	}
	if (kubelet__parser_feed(s->parser, ptr, len)) {
		s->parse_failed = true;
		return 0;
	}
	return len;
}

static void fetch_options(CURL *c, const struct pm_config *cfg, struct curl_slist *hdrs,
			  struct fetch_sink *sink)
{
	curl_easy_setopt(c, CURLOPT_URL, cfg->kubelet.url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (cfg->kubelet.ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->kubelet.ca_file);
	if (cfg->kubelet.insecure_tls) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/*
 * GET the pod list into @parser. Returns 0, or -EIO with @err set; when the
 * parser refused the body, -EINVAL and the parser has the reason.
 */
static int fetch(const struct pm_config *cfg, struct pm_kubelet_parser *parser, char *err,
		 size_t errlen)
{
	struct curl_slist *hdrs = curlutil__bearer(NULL, cfg->kubelet.token_file);
	struct fetch_sink sink = { .curl = curl_easy_init(), .parser = parser };
	CURLcode rc;

	if (!sink.curl) {
		snprintf(err, errlen, "curl: out of memory");
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	fetch_options(sink.curl, cfg, hdrs, &sink);
	rc = curl_easy_perform(sink.curl);
	curl_easy_getinfo(sink.curl, CURLINFO_RESPONSE_CODE, &sink.status);
	curl_easy_cleanup(sink.curl);
	curl_slist_free_all(hdrs);
	if (sink.parse_failed)
		return -EINVAL;
	if (sink.too_long) {
		snprintf(err, errlen, "longer than %llu MiB", MAX_BODY >> 20);
		return -EIO;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(rc));
		return -EIO;
	}
	if (sink.status != 200) {
		snprintf(err, errlen, "HTTP %ld", sink.status);
		return -EIO;
	}
	return 0;
}

/* Without a kubelet: "<namespace>_<name>_<uid>" directories. */
static int scan_log_pods(const char *dir, struct pm_pod_meta **out, size_t *n)
{
	struct pm_pod_meta *pods = NULL, *grown;
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*n = 0;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *uid = strrchr(de->d_name, '_'), *name = strchr(de->d_name, '_');
		struct pm_pod_meta *m;

		if (!uid || !name || name == uid || strlen(uid + 1) > PM_UID_LEN ||
		    (size_t)(name - de->d_name) >= sizeof(m->namespace_) ||
		    (size_t)(uid - name - 1) >= sizeof(m->name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(pods, cap * sizeof(*pods));
			if (!grown)
				break;
			pods = grown;
		}
		m = &pods[(*n)++];
		memset(m, 0, sizeof(*m));
		memcpy(m->namespace_, de->d_name, name - de->d_name);
		memcpy(m->name, name + 1, uid - name - 1);
		strcpy(m->uid, uid + 1);
	}
	closedir(d);
	*out = pods;
	return 0;
}

static int cmp_uid(const void *a, const void *b)
{
	return strcmp(((const struct pm_pod_meta *)a)->uid, ((const struct pm_pod_meta *)b)->uid);
}

static void free_list(struct meta_pod *pods, size_t n, struct meta_ctr *ctrs)
{
	size_t i;

	for (i = 0; pods && i < n; i++)
		snapshot__names_put(pods[i].names);
	free(pods);
	free(ctrs);
}

static struct pm_pod_names *names_of(const struct pm_kubemeta *k, const struct pm_pod_meta *m);

/*
 * The new list (freed here), in uid order as a snapshot's pods are:
 * kubemeta__label() merges the two. What labeling needs is kept, each
 * pod's names made once (about 400 bytes a pod of one container, where the
 * parsed list takes 1.7 KiB). Snapshots keep the names they were given. A
 * list with no room to keep it leaves the last one in place.
 */
static void publish(struct pm_kubemeta *k, struct pm_pod_meta *pods, size_t n)
{
	struct meta_pod *mp = calloc(n ? n : 1, sizeof(*mp)), *old;
	struct meta_ctr *ctrs = NULL, *old_ctrs;
	size_t i, j, n_ctrs = 0, n_old;

	for (i = 0; i < n; i++)
		n_ctrs += pods[i].n_containers;
	if (n_ctrs)
		ctrs = malloc(n_ctrs * sizeof(*ctrs));
	if (!mp || (n_ctrs && !ctrs)) {
		free(mp);
		free(ctrs);
		kubelet__free_pods(pods, n);
		fprintf(stderr,
			"warning: kubelet: no memory for a list of %zu pods; keeping the "
			"last one\n",
			n);
		return;
	}
	qsort(pods, n, sizeof(*pods), cmp_uid);
	for (i = 0, n_ctrs = 0; i < n; i++) {
		memcpy(mp[i].uid, pods[i].uid, sizeof(mp[i].uid));
		mp[i].qos = pods[i].qos;
		mp[i].names = names_of(k, &pods[i]);
		mp[i].n_containers = pods[i].n_containers;
		mp[i].containers = ctrs + n_ctrs;
		for (j = 0; j < pods[i].n_containers; j++, n_ctrs++) {
			const struct pm_container_meta *c = &pods[i].containers[j];

			memcpy(ctrs[n_ctrs].id, c->id, sizeof(ctrs[n_ctrs].id));
			snprintf(ctrs[n_ctrs].name, sizeof(ctrs[n_ctrs].name), "%.63s", c->name);
			ctrs[n_ctrs].requests = c->requests;
			ctrs[n_ctrs].limits = c->limits;
		}
	}
	kubelet__free_pods(pods, n);
	pthread_mutex_lock(&k->lock);
	old = k->pods;
	old_ctrs = k->ctrs;
	n_old = k->n_pods;
	k->pods = mp;
	k->ctrs = ctrs;
	k->n_pods = n;
	k->listed = k->cfg.kubelet.url[0] != '\0';
	pthread_mutex_unlock(&k->lock);
	free_list(old, n_old, old_ctrs);
}

static void state_change(struct pm_kubemeta *k, bool failing, const char *why)
{
	pthread_mutex_lock(&k->lock);
	if (failing)
		k->errors++;
	pthread_mutex_unlock(&k->lock);
	if (failing == k->failing)
		return;
	k->failing = failing;
	if (failing)
		fprintf(stderr, "warning: kubelet: GET %s: %s; keeping the last pod metadata\n",
			k->cfg.kubelet.url, why);
	else
		fprintf(stderr, "kubelet: GET %s: answering again\n", k->cfg.kubelet.url);
}

/* The kubelet's list, parsed as it arrives. */
static int list_pods(struct pm_kubemeta *k, struct pm_pod_meta **pods, size_t *n, size_t *skipped,
		     char *err, size_t errlen)
{
	const char *keys[PM_POD_LABELS];
	struct pm_kubelet_parser *parser;
	int i, ret;

	if (kubelet__parser_new(&parser)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < k->n_label_keys; i++)
		keys[i] = k->label_keys[i];
	kubelet__parser_labels(parser, keys, k->n_label_keys); /* the ones reports name */
	/* not started at open: a URL a reload set */
	if (!k->curl_started)
		k->curl_started = !curlutil__global_init();
	ret = fetch(&k->cfg, parser, err, errlen);
	if (!ret || ret == -EINVAL)
		ret = kubelet__parser_finish(parser, pods, n, skipped, err, errlen);
	kubelet__parser_free(parser);
	return ret;
}

static void refresh(struct pm_kubemeta *k)
{
	struct pm_pod_meta *pods;
	size_t n, skipped;
	char err[256];

	if (!k->cfg.kubelet.url[0]) {
		if (!scan_log_pods(k->cfg.kubelet.log_pods_dir, &pods, &n))
			publish(k, pods, n);
		return;
	}
	if (list_pods(k, &pods, &n, &skipped, err, sizeof(err))) {
		state_change(k, true, err);
		return;
	}
	if (skipped)
		fprintf(stderr,
			"warning: kubelet: %zu pods in /pods malformed or past podmeter's "
			"limits; labelled from their cgroups only\n",
			skipped);
	publish(k, pods, n);
	state_change(k, false, NULL);
}

static struct timespec clock_in(clockid_t clock, uint64_t ms)
{
	struct timespec t;

	clock_gettime(clock, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/*
 * Until the interval is over, or a poke once the gap after the last refresh
 * has passed: pods that keep appearing cannot keep the thread parsing.
 * Returns true when asked to stop.
 */
static bool wait_next(struct pm_kubemeta *k, uint64_t took_ms)
{
	uint64_t gap = took_ms * 2 > POKE_GAP_MS ? took_ms * 2 : POKE_GAP_MS;
	struct timespec until = clock_in(CLOCK_REALTIME, k->cfg.kubelet.interval_ms);
	struct timespec soon = clock_in(CLOCK_REALTIME, gap), *t;
	bool stop;

	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		t = k->poked && before(&soon, &until) ? &soon : &until;
		if (pthread_cond_timedwait(&k->wake, &k->lock, t) == ETIMEDOUT)
			break;
	}
	k->poked = false;
	stop = k->stop;
	pthread_mutex_unlock(&k->lock);
	return stop;
}

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *run(void *arg)
{
	struct pm_kubemeta *k = arg;
	uint64_t t0;

	do {
		t0 = mono_ms();
		refresh(k);
	} while (!wait_next(k, mono_ms() - t0));
	return NULL;
}

/* The config checked the keys: at most PM_POD_LABELS, each short enough. */
static void split_label_keys(struct pm_kubemeta *k)
{
	char copy[sizeof(k->cfg.report.labels)], *tok, *save;

	strcpy(copy, k->cfg.report.labels);
	for (tok = strtok_r(copy, ",", &save); tok && k->n_label_keys < PM_POD_LABELS;
	     tok = strtok_r(NULL, ",", &save))
		snprintf(k->label_keys[k->n_label_keys++], PM_LABEL_KEY_MAX + 1, "%s", tok);
}

int kubemeta__open(struct pm_kubemeta **out, const struct pm_config *cfg)
{
	struct pm_kubemeta *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	k->cfg = *cfg;
	split_label_keys(k);
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->wake, NULL);
	/*
	 * Only with a kubelet to ask: libcurl's start brings up its TLS library.
	 * A URL a reload sets later starts it at the first request (list_pods()).
	 */
	k->curl_started = cfg->kubelet.url[0] && !curlutil__global_init();
	ret = pthread_create(&k->thread, NULL, run, k);
	if (ret) {
		kubemeta__close(k);
		return -ret;
	}
	k->started = true;
	*out = k;
	return 0;
}

void kubemeta__poke(struct pm_kubemeta *k)
{
	pthread_mutex_lock(&k->lock);
	k->poked = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
}

bool kubemeta__listed(struct pm_kubemeta *k)
{
	bool listed;

	pthread_mutex_lock(&k->lock);
	listed = k->listed;
	pthread_mutex_unlock(&k->lock);
	return listed;
}

uint64_t kubemeta__errors(struct pm_kubemeta *k)
{
	uint64_t n;

	pthread_mutex_lock(&k->lock);
	n = k->errors;
	pthread_mutex_unlock(&k->lock);
	return n;
}

/* A set value (>= 0) added to a sum that is -1 until one is; saturating (kubelet.h). */
static void add_set(int64_t *sum, int64_t v)
{
	if (v >= 0)
		*sum = kubelet__qty_add(*sum < 0 ? 0 : *sum, v);
}

static void sum_resources(const struct meta_pod *m, struct pm_pod_snap *ps)
{
	size_t i;

	ps->cpu_request_milli = ps->memory_request_bytes = -1;
	ps->cpu_limit_milli = ps->memory_limit_bytes = -1;
	ps->gpu_request = ps->gpu_limit = 0;
	for (i = 0; i < m->n_containers; i++) {
		const struct meta_ctr *c = &m->containers[i];

		add_set(&ps->cpu_request_milli, c->requests.cpu_milli);
		add_set(&ps->memory_request_bytes, c->requests.memory_bytes);
		add_set(&ps->cpu_limit_milli, c->limits.cpu_milli);
		add_set(&ps->memory_limit_bytes, c->limits.memory_bytes);
		ps->gpu_request = kubelet__qty_add(ps->gpu_request, c->requests.gpus);
		ps->gpu_limit = kubelet__qty_add(ps->gpu_limit, c->limits.gpus);
	}
}

/*
 * Each container's own requests, by container id. Returns how many it does
 * not know: a sandbox, or a container started since the last refresh.
 */
static size_t container_resources(const struct meta_pod *m, struct pm_pod_snap *ps)
{
	size_t i, j, unknown = 0;

	for (i = 0; i < ps->n_containers; i++) {
		struct pm_container_snap *cs = &ps->containers[i];
		const struct meta_ctr *cm = NULL;

		for (j = 0; j < m->n_containers && !cm && cs->id[0]; j++)
			if (!strcmp(m->containers[j].id, cs->id))
				cm = &m->containers[j];
		if (!cm) {
			unknown += cs->id[0] != '\0';
			continue;
		}
		snprintf(cs->name, sizeof(cs->name), "%s", cm->name);
		cs->cpu_request_milli = cm->requests.cpu_milli;
		cs->memory_request_bytes = cm->requests.memory_bytes;
		cs->gpu_request = cm->requests.gpus;
		cs->cpu_limit_milli = cm->limits.cpu_milli;
		cs->memory_limit_bytes = cm->limits.memory_bytes;
		cs->gpu_limit = cm->limits.gpus;
	}
	return unknown;
}

/* A pod's names, with the values of the keys --report-labels names; NULL: out of memory. */
static struct pm_pod_names *names_of(const struct pm_kubemeta *k, const struct pm_pod_meta *m)
{
	const char *labels[PM_POD_LABELS] = { 0 };
	int i;

	for (i = 0; i < k->n_label_keys; i++)
		labels[i] = kubelet__label(m, k->label_keys[i]);
	return snapshot__names_new(m->namespace_, m->name, m->owner_kind, m->owner_name, m->node,
				   labels);
}

/*
 * Name the snapshot's pods and price their containers' requests; returns
 * how many pods and containers it does not know. Both lists are in uid
 * order: one pass over each.
 */
size_t kubemeta__label(struct pm_kubemeta *k, struct pm_snapshot *s)
{
	size_t i, j = 0, unknown = 0;

	pthread_mutex_lock(&k->lock);
	s->n_label_keys = k->n_label_keys;
	memcpy(s->label_keys, k->label_keys, sizeof(s->label_keys));
	for (i = 0; i < s->n_pods; i++) {
		struct pm_pod_snap *ps = &s->pods[i];
		const struct meta_pod *m = NULL;
		int c = 1;

		while (j < k->n_pods && (c = strcmp(k->pods[j].uid, ps->uid)) < 0)
			j++;
		if (j < k->n_pods && !c)
			m = &k->pods[j];
		ps->cpu_request_milli = ps->memory_request_bytes = -1;
		ps->cpu_limit_milli = ps->memory_limit_bytes = -1;
		if (!m) {
			unknown++;
			continue;
		}
		snapshot__pod_names(ps, snapshot__names_get(m->names)); /* NULL: "" */
		if (m->qos != PM_QOS_UNKNOWN)
			ps->qos = m->qos;
		ps->has_meta = true;
		sum_resources(m, ps);
		unknown += container_resources(m, ps);
	}
	pthread_mutex_unlock(&k->lock);
	return unknown;
}

void kubemeta__close(struct pm_kubemeta *k)
{
	if (!k)
		return;
	if (k->started) {
		pthread_mutex_lock(&k->lock);
		k->stop = true;
		pthread_cond_signal(&k->wake);
		pthread_mutex_unlock(&k->lock);
		pthread_join(k->thread, NULL);
	}
	free_list(k->pods, k->n_pods, k->ctrs);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->wake);
	if (k->curl_started)
		curl_global_cleanup();
	free(k);
}
