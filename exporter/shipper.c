// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The shipper: a thread that POSTs the spool's reports, oldest first, with
 * libcurl. A report leaves the spool only on a 2xx (removed) or a lasting
 * refusal, any other 4xx (moved to rejected/). Everything else, 401, 403,
 * 408, 429, 5xx or no answer, is retried with the same report after an exponential,
 * jittered backoff, so a receiver that comes back gets the reports in order.
 * One log line per change of state, never one per try.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <podmeter/curlutil.h>
#include <podmeter/report.h>
#include <podmeter/spool.h>

#define SHIPPER_CONNECT_MAX_MS 5000
#define SHIPPER_BODY_KEEP      200 /* of a refusal's body, in the reason */
/* whatever the settings say, never retry in a tight loop */
#define SHIPPER_BACKOFF_FLOOR_MS 100

struct pm_shipper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop, woken, started;
	struct pm_spool *spool;
	char *url, *node, *token_file, *ca_file, *cert_file, *key_file;
	uint64_t timeout_ms, backoff_min_ms, backoff_max_ms;
	struct pm_shipper_stats st;
	/* the thread's own */
	CURL *curl;
	bool failing;
	unsigned int rand;
};

enum ship_result {
	SHIP_SENT,
	SHIP_RETRY,
	SHIP_REJECTED,
};

struct ship_body {
	char buf[SHIPPER_BODY_KEEP + 1];
	size_t len;
};

/* Keep the start of the answer, read and discard the rest. */
static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct ship_body *b = ctx;
	size_t add = size * n, room = SHIPPER_BODY_KEEP - b->len;

	if (room) {
		memcpy(b->buf + b->len, p, add < room ? add : room);
		b->len += add < room ? add : room;
	}
	return add;
}

static struct curl_slist *ship_headers(struct pm_shipper *s, uint64_t seq)
{
	struct curl_slist *hdrs = NULL, *more;
	char line[512];
	const char *fixed[] = {
		"Content-Type: " PM_REPORT_CONTENT_TYPE,
		"Content-Encoding: gzip",
		"Expect:", /* no 100-continue round trip for large reports */
		line,
	};
	size_t i;

	snprintf(line, sizeof(line), "X-Podmeter-Node: %s", s->node);
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		more = curl_slist_append(hdrs, fixed[i]);
		if (!more)
			goto fail;
		hdrs = more;
	}
	snprintf(line, sizeof(line), "X-Podmeter-Seq: %" PRIu64, seq);
	more = curl_slist_append(hdrs, line);
	if (!more)
		goto fail;
	/* without a token file, or unreadable: sent without; the receiver's 401 says why */
	return curlutil__bearer(more, s->token_file);

fail:
	curl_slist_free_all(hdrs);
	return NULL;
}

static void ship_setopts(struct pm_shipper *s, const void *payload, size_t len,
			 struct curl_slist *hdrs, struct ship_body *body)
{
	uint64_t connect_ms = SHIPPER_CONNECT_MAX_MS;
	CURL *c = s->curl;

	if (s->timeout_ms && s->timeout_ms < connect_ms)
		connect_ms = s->timeout_ms;
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (s->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	if (s->cert_file[0])
		curl_easy_setopt(c, CURLOPT_SSLCERT, s->cert_file);
	if (s->key_file[0])
		curl_easy_setopt(c, CURLOPT_SSLKEY, s->key_file);
}

/* The refusal as one printable line: "HTTP 400: <start of the body>". */
static void ship_reason(char *buf, size_t len, long status, struct ship_body *body)
{
	size_t i;

	for (i = 0; i < body->len; i++) {
		if ((unsigned char)body->buf[i] < 0x20 || body->buf[i] == 0x7f)
			body->buf[i] = ' ';
	}
	body->buf[body->len] = '\0';
	snprintf(buf, len, "HTTP %ld: %s", status, body->len ? body->buf : "(empty body)");
}

/* POST one report. @why says what went wrong, on retry and rejection alike. */
static enum ship_result ship_one(struct pm_shipper *s, uint64_t seq, const void *payload,
				 size_t len, char *why, size_t whylen)
{
	struct ship_body body = { .len = 0 };
	struct curl_slist *hdrs;
	long status = 0;
	CURLcode rc;

	hdrs = ship_headers(s, seq);
	if (!hdrs) {
		snprintf(why, whylen, "out of memory");
		return SHIP_RETRY;
	}
	ship_setopts(s, payload, len, hdrs, &body);
	rc = curl_easy_perform(s->curl);
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return SHIP_RETRY;
	}
	if (status >= 200 && status < 300)
		return SHIP_SENT;
	ship_reason(why, whylen, status, &body);
	/*
	 * 408 and 429 ask to come back later; 401 and 403 are about the
	 * credentials, not the report (a token rotates, a role binding is
	 * fixed): retried too, so no report is set aside for them. 3xx are not
	 * followed: a setting to fix.
	 */
	if (status >= 400 && status < 500 && status != 408 && status != 429 && status != 401 &&
	    status != 403)
		return SHIP_REJECTED;
	return SHIP_RETRY;
}

static double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void ship_state(struct pm_shipper *s, bool failing, const char *why)
{
	if (failing == s->failing)
		return;
	s->failing = failing;
	if (failing)
		fprintf(stderr,
			"warning: reports: POST %s: %s; retrying with backoff, "
			"reports stay in the spool\n",
			s->url, why);
	else
		fprintf(stderr, "reports: %s answering again\n", s->url);
}

/* Sleep about @ms (50-100% of it, so a fleet of agents spreads out), or until stopped. */
static void ship_backoff(struct pm_shipper *s, uint64_t ms)
{
	struct timespec until;
	uint64_t ns;

	ms = ms / 2 + (ms / 2 + 1) * (uint64_t)rand_r(&s->rand) / ((uint64_t)RAND_MAX + 1);
	clock_gettime(CLOCK_MONOTONIC, &until);
	ns = until.tv_nsec + ms % 1000 * 1000000;
	until.tv_sec += ms / 1000 + ns / 1000000000;
	until.tv_nsec = ns % 1000000000;
	pthread_mutex_lock(&s->lock);
	while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->lock);
}

static uint64_t next_delay(struct pm_shipper *s, uint64_t delay)
{
	if (!delay)
		return s->backoff_min_ms;
	if (delay >= s->backoff_max_ms / 2)
		return s->backoff_max_ms > delay ? s->backoff_max_ms : delay;
	return delay * 2;
}

/* Send the oldest report. Returns the backoff to wait before the next try, 0 for none. */
static uint64_t ship_oldest(struct pm_shipper *s, uint64_t seq, void *payload, size_t len,
			    uint64_t delay)
{
	enum ship_result r;
	char why[SHIPPER_BODY_KEEP + 64];
	int ret;

	r = ship_one(s, seq, payload, len, why, sizeof(why));
	if (r == SHIP_RETRY) {
		pthread_mutex_lock(&s->lock);
		s->st.retries++;
		pthread_mutex_unlock(&s->lock);
		ship_state(s, true, why);
		return next_delay(s, delay);
	}
	ship_state(s, false, NULL); /* it answered, even if to refuse */
	if (r == SHIP_SENT) {
		/* -ENOENT: the spool dropped it meanwhile, to stay bounded */
		ret = spool__remove(s->spool, seq);
		if (ret && ret != -ENOENT)
			fprintf(stderr,
				"warning: reports: spool: remove report %" PRIu64
				" (sent): %s; it may be sent again after a restart\n",
				seq, strerror(-ret));
		pthread_mutex_lock(&s->lock);
		s->st.sent++;
		s->st.last_success = now_unix();
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	ret = spool__reject(s->spool, seq, why);
	fprintf(stderr, "warning: reports: POST %s: report %" PRIu64 " refused, %s; %s%s\n", s->url,
		seq, why,
		!ret		 ? "kept in the spool's rejected/ directory"
		: ret == -ENOENT ? "it had been dropped from the spool already"
				 : "deleted, it could not be moved to rejected/: ",
		ret && ret != -ENOENT ? strerror(-ret) : "");
	pthread_mutex_lock(&s->lock);
	s->st.rejected++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void *run(void *arg)
{
	struct pm_shipper *s = arg;
	uint64_t seq, delay = 0;
	char why[128];
	void *payload;
	size_t len;
	int ret;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		s->woken = false; /* what is put from here on is seen by spool__oldest */
		pthread_mutex_unlock(&s->lock);
		ret = spool__oldest(s->spool, &seq, &payload, &len);
		if (!ret) {
			delay = ship_oldest(s, seq, payload, len, delay);
			free(payload);
		} else if (ret != -ENOENT) {
			snprintf(why, sizeof(why), "spool: read the oldest report: %s",
				 strerror(-ret));
			ship_state(s, true, why);
			delay = next_delay(s, delay);
		}
		if (delay)
			ship_backoff(s, delay);
		pthread_mutex_lock(&s->lock);
		/* an empty spool: sleep until a report is put, or stop */
		while (ret == -ENOENT && !s->stop && !s->woken)
			pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void shipper_free(struct pm_shipper *s)
{
	if (s->curl)
		curl_easy_cleanup(s->curl);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->url);
	free(s->node);
	free(s->token_file);
	free(s->ca_file);
	free(s->cert_file);
	free(s->key_file);
	free(s);
}

static int shipper_init(struct pm_shipper *s, struct pm_spool *spool,
			const struct pm_shipper_opts *o)
{
	pthread_condattr_t ca;

	s->spool = spool;
	s->url = strdup(o->url ? o->url : "");
	s->node = strdup(o->node ? o->node : "");
	s->token_file = strdup(o->token_file ? o->token_file : "");
	s->ca_file = strdup(o->ca_file ? o->ca_file : "");
	s->cert_file = strdup(o->cert_file ? o->cert_file : "");
	s->key_file = strdup(o->key_file ? o->key_file : "");
	s->timeout_ms = o->timeout_ms;
	s->backoff_min_ms = o->backoff_min_ms > SHIPPER_BACKOFF_FLOOR_MS ? o->backoff_min_ms
									 : SHIPPER_BACKOFF_FLOOR_MS;
	s->backoff_max_ms = o->backoff_max_ms > s->backoff_min_ms ? o->backoff_max_ms
								  : s->backoff_min_ms;
	s->rand = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!s->url || !s->node || !s->token_file || !s->ca_file || !s->cert_file || !s->key_file)
		return -ENOMEM;
	curlutil__global_init();
	s->curl = curl_easy_init();
	return s->curl ? 0 : -ENOMEM;
}

int shipper__start(struct pm_shipper **out, struct pm_spool *spool, const struct pm_shipper_opts *o,
		   char *err, size_t errlen)
{
	struct pm_shipper *s;
	int ret;

	if (!o->url || !o->url[0]) {
		snprintf(err, errlen, "reports: no receiver URL set");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "reports: out of memory");
		return -ENOMEM;
	}
	ret = shipper_init(s, spool, o);
	if (ret) {
		snprintf(err, errlen, "reports: out of memory");
		goto out_free;
	}
	ret = -pthread_create(&s->thread, NULL, run, s);
	if (ret) {
		snprintf(err, errlen, "reports: start the shipper thread: %s", strerror(-ret));
		goto out_free;
	}
	s->started = true;
	*out = s;
	return 0;

out_free:
	shipper_free(s);
	return ret;
}

void shipper__wake(struct pm_shipper *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->woken = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void shipper__stats(struct pm_shipper *s, struct pm_shipper_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

void shipper__stop(struct pm_shipper *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	shipper_free(s);
}
