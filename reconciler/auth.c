// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Node and API tokens, TokenReview (see auth.h). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include "auth.h"
#include "rec_limits.h"

#define TOKEN_FILE_MAX (16u << 20)
#define NODE_CLAIM     "authentication.kubernetes.io/node-name"

struct tok_ent {
	char *token;
	char *cluster; /* NULL: any cluster */
	char *name;    /* the node, or the API client */
};

struct tok_table {
	struct tok_ent *e;
	size_t n;
	size_t *slot; /* open addressing: index + 1 into e, 0 = empty */
	size_t cap;
};

struct tr_ent {
	char *token;
	char *node; /* NULL: refused */
	double until;
};

struct rec_auth {
	struct rec_auth_cfg cfg;
	struct rec_metrics *m;
	uint64_t seed;
	pthread_rwlock_t lock;
	struct tok_table nodes, api;
	bool has_nodes, has_api;
	pthread_mutex_t tr_lock;
	struct tr_ent tr[REC_TOKENREVIEW_CACHE];
	size_t tr_n;
};

/* ---- token tables ---- */

static uint64_t tok_hash(uint64_t seed, const char *s)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* The whole of both compared, whatever differs first. */
static bool tok_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return !d;
}

static void tok_free(struct tok_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->e[i].token);
		free(t->e[i].cluster);
		free(t->e[i].name);
	}
	free(t->e);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static const struct tok_ent *tok_find(const struct tok_table *t, uint64_t seed, const char *token)
{
	size_t j;

	if (!t->cap)
		return NULL;
	for (j = tok_hash(seed, token) & (t->cap - 1); t->slot[j]; j = (j + 1) & (t->cap - 1))
		if (tok_equal(t->e[t->slot[j] - 1].token, token))
			return &t->e[t->slot[j] - 1];
	return NULL;
}

static int tok_index(struct tok_table *t, uint64_t seed, char *err, size_t errlen)
{
	size_t i, j;

	for (t->cap = 16; t->cap < 2 * t->n + 2; t->cap *= 2)
		;
	t->slot = calloc(t->cap, sizeof(*t->slot));
	if (!t->slot) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < t->n; i++) {
		if (tok_find(t, seed, t->e[i].token)) {
			snprintf(err, errlen, "the token of \"%.100s\" is given twice",
				 t->e[i].name);
			return -EINVAL;
		}
		for (j = tok_hash(seed, t->e[i].token) & (t->cap - 1); t->slot[j];
		     j = (j + 1) & (t->cap - 1))
			;
		t->slot[j] = i + 1;
	}
	return 0;
}

static bool token_chars_ok(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* "NAME TOKEN" (API files also just "TOKEN"); NAME may be CLUSTER/NODE in node files. */
static int tok_line(struct tok_table *t, char *line, bool node_file, char *why, size_t whylen)
{
	char *f[3], *save = NULL, *slash;
	struct tok_ent *e = &t->e[t->n];
	int n = 0;

	for (char *tok = strtok_r(line, " \t\r", &save); tok && n < 3;
	     tok = strtok_r(NULL, " \t\r", &save))
		f[n++] = tok;
	if (!n || f[0][0] == '#')
		return 0;
	if (n == 3 || (n == 1 && node_file)) {
		snprintf(why, whylen, "not \"%s TOKEN\"", node_file ? "NODE" : "NAME");
		return -EINVAL;
	}
	if (n == 1) {
		f[1] = f[0];
		f[0] = "";
	}
	if (strlen(f[1]) > REC_TOKEN_MAX || !token_chars_ok(f[1]) ||
	    strlen(f[0]) > REC_NAME_MAX * 2) {
		snprintf(why, whylen, "a token is printable ASCII, at most %d bytes",
			 REC_TOKEN_MAX);
		return -EINVAL;
	}
	slash = node_file ? strchr(f[0], '/') : NULL;
	e->token = strdup(f[1]);
	e->cluster = slash ? strndup(f[0], slash - f[0]) : NULL;
	e->name = strdup(slash ? slash + 1 : f[0]);
	t->n++;
	if (!e->token || !e->name || (slash && !e->cluster)) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int tok_parse(struct tok_table *t, uint64_t seed, const char *text, bool node_file,
		     char *err, size_t errlen)
{
	char *copy = strdup(text), *line, why[160];
	size_t lines = 1, no = 0;
	const char *p;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (p = text; *p; p++)
		lines += *p == '\n';
	if (lines > REC_TOKENS_MAX) {
		snprintf(err, errlen, "more than %d lines", REC_TOKENS_MAX);
		ret = -EINVAL;
		goto out;
	}
	t->e = calloc(lines, sizeof(*t->e));
	if (!t->e) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* strtok_r skips empty lines: count them by hand for the line numbers */
	for (line = copy; line && !ret; no++) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		ret = tok_line(t, line, node_file, why, sizeof(why));
		if (ret)
			snprintf(err, errlen, "line %zu: %s", no + 1, why);
		line = nl ? nl + 1 : NULL;
	}
	if (!ret)
		ret = tok_index(t, seed, err, errlen);
out:
	free(copy);
	if (ret)
		tok_free(t);
	return ret;
}

static int read_file(const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;
	char *buf;

	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(TOKEN_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n = fread(buf, 1, TOKEN_FILE_MAX + 1, f);
	fclose(f);
	if (n > TOKEN_FILE_MAX) {
		free(buf);
		snprintf(err, errlen, "%s: larger than %u MiB", path, TOKEN_FILE_MAX >> 20);
		return -EFBIG;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		free(buf);
		snprintf(err, errlen, "%s: has a NUL byte", path);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

static int load(struct tok_table *t, uint64_t seed, const char *path, bool node_file, char *err,
		size_t errlen)
{
	char why[256], *text;
	int ret = read_file(path, &text, err, errlen);

	if (ret)
		return ret;
	ret = tok_parse(t, seed, text, node_file, why, sizeof(why));
	free(text);
	if (ret)
		snprintf(err, errlen, "%s: %s", path, why);
	return ret;
}

int auth__parse_node_tokens(const char *text, size_t *n_entries, char *err, size_t errlen)
{
	struct tok_table t;
	int ret = tok_parse(&t, 1, text, true, err, errlen);

	if (!ret) {
		*n_entries = t.n;
		tok_free(&t);
	}
	return ret;
}

/* ---- open, reload ---- */

int auth__reload(struct rec_auth *a, char *err, size_t errlen)
{
	struct tok_table nodes = { 0 }, api = { 0 };
	int ret = 0;

	if (a->has_nodes)
		ret = load(&nodes, a->seed, a->cfg.node_tokens, true, err, errlen);
	if (!ret && a->has_api)
		ret = load(&api, a->seed, a->cfg.api_tokens, false, err, errlen);
	if (ret) {
		tok_free(&nodes);
		return ret;
	}
	pthread_rwlock_wrlock(&a->lock);
	tok_free(&a->nodes);
	tok_free(&a->api);
	a->nodes = nodes;
	a->api = api;
	pthread_rwlock_unlock(&a->lock);
	return 0;
}

int auth__open(struct rec_auth **out, const struct rec_auth_cfg *cfg, struct rec_metrics *m,
	       char *err, size_t errlen)
{
	struct rec_auth *a = calloc(1, sizeof(*a));
	int ret;

	*out = NULL;
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->cfg = *cfg;
	a->m = m;
	a->has_nodes = cfg->node_tokens && *cfg->node_tokens;
	a->has_api = cfg->api_tokens && *cfg->api_tokens;
	if (getrandom(&a->seed, sizeof(a->seed), 0) != sizeof(a->seed))
		a->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	pthread_rwlock_init(&a->lock, NULL);
	pthread_mutex_init(&a->tr_lock, NULL);
	ret = auth__reload(a, err, errlen);
	if (ret) {
		auth__close(a);
		return ret;
	}
	*out = a;
	return 0;
}

void auth__close(struct rec_auth *a)
{
	size_t i;

	if (!a)
		return;
	tok_free(&a->nodes);
	tok_free(&a->api);
	for (i = 0; i < a->tr_n; i++) {
		free(a->tr[i].token);
		free(a->tr[i].node);
	}
	pthread_rwlock_destroy(&a->lock);
	pthread_mutex_destroy(&a->tr_lock);
	free(a);
}

bool auth__nodes_enabled(const struct rec_auth *a)
{
	return a->has_nodes || (a->cfg.tokenreview_url && *a->cfg.tokenreview_url);
}

bool auth__api_enabled(const struct rec_auth *a)
{
	return a->has_api;
}

const char *auth__bearer(const char *h, size_t *len)
{
	if (!h)
		return NULL;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	*len = strlen(h);
	while (*len && (h[*len - 1] == ' ' || h[*len - 1] == '\t'))
		(*len)--;
	return *len && *len <= REC_TOKEN_MAX ? h : NULL;
}

const char *auth__cert_node(const char *cn)
{
	return !strncmp(cn, "system:node:", 12) ? cn + 12 : cn;
}

/* ---- TokenReview ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Under tr_lock: 1 with *@node (NULL: refused) from the cache, 0 when not there. */
static int tr_cached(struct rec_auth *a, const char *token, char **node)
{
	double now = now_s();
	size_t i;

	for (i = 0; i < a->tr_n; i++) {
		if (a->tr[i].until > now && tok_equal(a->tr[i].token, token)) {
			*node = a->tr[i].node ? strdup(a->tr[i].node) : NULL;
			return 1;
		}
	}
	return 0;
}

static void tr_remember(struct rec_auth *a, const char *token, const char *node)
{
	struct tr_ent *e;
	double now = now_s();
	size_t i;

	pthread_mutex_lock(&a->tr_lock);
	for (i = 0; i < a->tr_n && a->tr[i].until > now; i++)
		;
	if (i == a->tr_n && a->tr_n == REC_TOKENREVIEW_CACHE)
		i = (size_t)(now * 1000) % REC_TOKENREVIEW_CACHE; /* full: take any */
	e = &a->tr[i];
	if (i == a->tr_n)
		a->tr_n++;
	free(e->token);
	free(e->node);
	e->token = strdup(token);
	e->node = node ? strdup(node) : NULL;
	e->until = now + (node ? REC_TOKENREVIEW_TTL_S : 10);
	if (!e->token)
		e->until = 0;
	pthread_mutex_unlock(&a->tr_lock);
}

struct tr_body {
	char *buf;
	size_t len;
};

static size_t tr_collect(char *p, size_t size, size_t n, void *ctx)
{
	struct tr_body *b = ctx;
	size_t add = size * n;
	char *grown;

	if (b->len + add > REC_TOKENREVIEW_BODY)
		return 0;
	grown = realloc(b->buf, b->len + add + 1);
	if (!grown)
		return 0;
	b->buf = grown;
	memcpy(b->buf + b->len, p, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

static char *tr_request_body(const struct rec_auth *a, const char *token)
{
	json_t *spec = json_pack("{s:s}", "token", token), *req;
	char *s;

	if (spec && a->cfg.tokenreview_audience && *a->cfg.tokenreview_audience)
		json_object_set_new(spec, "audiences",
				    json_pack("[s]", a->cfg.tokenreview_audience));
	req = json_pack("{s:s,s:s,s:o}", "apiVersion", "authentication.k8s.io/v1", "kind",
			"TokenReview", "spec", spec);
	if (!req)
		return NULL;
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return s;
}

/* The reconciler's own token, for the API server; read each time (projected tokens rotate). */
static struct curl_slist *tr_headers(const struct rec_auth *a)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char tok[REC_TOKEN_MAX + 1], line[REC_TOKEN_MAX + 32];
	size_t n = 0;
	FILE *f;

	if (!a->cfg.tokenreview_token || !*a->cfg.tokenreview_token)
		return h;
	f = fopen(a->cfg.tokenreview_token, "re");
	if (f) {
		n = fread(tok, 1, REC_TOKEN_MAX, f);
		fclose(f);
	}
	while (n && isspace((unsigned char)tok[n - 1]))
		n--;
	tok[n] = '\0';
	if (n) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", tok);
		h = curl_slist_append(h, line);
	}
	return h;
}

/* The answer's node claim, when authenticated as the agents' user; NULL otherwise. */
static int tr_answer(const struct rec_auth *a, const char *body, char **node, char *why,
		     size_t whylen)
{
	json_t *root = json_loads(body, 0, NULL), *st, *user, *claim;
	const char *name;
	int ret = 0;

	*node = NULL;
	st = json_object_get(root, "status");
	if (!json_is_object(st)) {
		snprintf(why, whylen, "the API server's answer is not a TokenReview");
		json_decref(root);
		return -EPROTO;
	}
	user = json_object_get(st, "user");
	name = json_string_value(json_object_get(user, "username"));
	claim = json_array_get(json_object_get(json_object_get(user, "extra"), NODE_CLAIM), 0);
	if (!json_is_true(json_object_get(st, "authenticated")))
		snprintf(why, whylen, "the API server does not know the token");
	else if (!name || strcmp(name, a->cfg.tokenreview_user))
		snprintf(why, whylen, "the token is %.100s's, not %.100s's", name ? name : "nobody",
			 a->cfg.tokenreview_user);
	else if (!json_is_string(claim))
		snprintf(why, whylen,
			 "the token has no node claim (a projected, pod-bound token "
			 "is needed)");
	else if (!(*node = strdup(json_string_value(claim))))
		ret = -ENOMEM;
	json_decref(root);
	return ret;
}

/* Ask the API server: 0 with *@node (NULL: refused), or -EIO (unreachable, bad answer). */
static int tr_ask(struct rec_auth *a, const char *token, char **node, char *why, size_t whylen)
{
	struct tr_body b = { 0 };
	struct curl_slist *h = tr_headers(a);
	char *req = tr_request_body(a, token);
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	int ret;

	if (c && req && h) {
		curl_easy_setopt(c, CURLOPT_URL, a->cfg.tokenreview_url);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tr_collect);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		if (a->cfg.tokenreview_ca && *a->cfg.tokenreview_ca)
			curl_easy_setopt(c, CURLOPT_CAINFO, a->cfg.tokenreview_ca);
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
	if (rc != CURLE_OK || (status != 201 && status != 200)) {
		snprintf(why, whylen, "TokenReview: %s",
			 rc != CURLE_OK ? curl_easy_strerror(rc) : "");
		if (rc == CURLE_OK)
			snprintf(why, whylen, "TokenReview: HTTP %ld from the API server", status);
		ret = -EIO;
	} else {
		ret = tr_answer(a, b.buf ? b.buf : "", node, why, whylen);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(req);
	free(b.buf);
	return ret;
}

static enum auth_result tokenreview(struct rec_auth *a, const char *token, const char *node,
				    char *why, size_t whylen)
{
	char *claim = NULL;
	int hit, ret;

	pthread_mutex_lock(&a->tr_lock);
	hit = tr_cached(a, token, &claim);
	pthread_mutex_unlock(&a->tr_lock);
	if (!hit) {
		ret = tr_ask(a, token, &claim, why, whylen);
		if (ret) {
			metrics__tokenreview(a->m, "error");
			return AUTH_UNAVAILABLE;
		}
		metrics__tokenreview(a->m, claim ? "authenticated" : "refused");
		tr_remember(a, token, claim);
	}
	if (!claim) {
		if (hit)
			snprintf(why, whylen, "the API server refused the token");
		return AUTH_UNKNOWN;
	}
	ret = strcmp(claim, node) ? AUTH_OTHER : AUTH_OK;
	if (ret == AUTH_OTHER)
		snprintf(why, whylen, "the token is bound to node %.100s", claim);
	free(claim);
	return ret;
}

enum auth_result auth__node(struct rec_auth *a, const char *authorization, const char *cluster,
			    const char *node, char *why, size_t whylen)
{
	const struct tok_ent *e;
	char token[REC_TOKEN_MAX + 1];
	enum auth_result r = AUTH_UNKNOWN;
	const char *t;
	size_t len;

	t = auth__bearer(authorization, &len);
	if (!t) {
		snprintf(why, whylen, "no bearer token");
		return AUTH_MISSING;
	}
	memcpy(token, t, len);
	token[len] = '\0';
	snprintf(why, whylen, "the token is not one this reconciler knows");
	pthread_rwlock_rdlock(&a->lock);
	e = tok_find(&a->nodes, a->seed, token);
	if (e &&
	    (strcmp(e->name, node) || (e->cluster && cluster && strcmp(e->cluster, cluster)))) {
		snprintf(why, whylen, "the token is %s%s%.100s's", e->cluster ? e->cluster : "",
			 e->cluster ? "/" : "", e->name);
		r = AUTH_OTHER;
	} else if (e) {
		r = AUTH_OK;
	}
	pthread_rwlock_unlock(&a->lock);
	if (r == AUTH_UNKNOWN && a->cfg.tokenreview_url && *a->cfg.tokenreview_url)
		r = tokenreview(a, token, node, why, whylen);
	return r;
}

enum auth_result auth__api(struct rec_auth *a, const char *authorization)
{
	char token[REC_TOKEN_MAX + 1];
	enum auth_result r;
	const char *t;
	size_t len;

	t = auth__bearer(authorization, &len);
	if (!t)
		return AUTH_MISSING;
	memcpy(token, t, len);
	token[len] = '\0';
	pthread_rwlock_rdlock(&a->lock);
	r = tok_find(&a->api, a->seed, token) ? AUTH_OK : AUTH_UNKNOWN;
	pthread_rwlock_unlock(&a->lock);
	return r;
}
