// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* GitHub, GitLab and Gitea: the REST shapes of pull requests, labels, issues and comments. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include "forge.h"

#define FORGE_BODY_MAX (8 << 20) /* an answer larger than this is refused */
#define FORGE_PAGES    20	 /* Gitea: pages of pull requests looked through */

struct forge {
	struct forge_cfg cfg;
	char token[4096];
	char repo_enc[768]; /* GitLab: the project path URL-encoded */
	char err[512];
	CURL *curl;
};

struct resp {
	char *s;
	size_t n;
	long status;
	json_t *json;
};

int forge__parse_kind(const char *s, enum forge_kind *k)
{
	static const char *const names[] = { "github", "gitlab", "gitea" };
	int i;

	for (i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*k = (enum forge_kind)i;
			return 0;
		}
	return -EINVAL;
}

const char *forge__kind_name(enum forge_kind k)
{
	return k == FORGE_GITHUB ? "github" : k == FORGE_GITLAB ? "gitlab" : "gitea";
}

static int ffail(struct forge *f, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	return ret;
}

const char *forge__error(const struct forge *f)
{
	return f->err;
}

static int read_token(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	if (!fp)
		return -errno;
	n = fread(buf, 1, len - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n ? 0 : -EINVAL;
}

int forge__open(struct forge **out, const struct forge_cfg *cfg, char *err, size_t errlen)
{
	struct forge *f = calloc(1, sizeof(*f));
	char *enc;

	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	if (!cfg->api_url || !cfg->repo || !strchr(cfg->repo, '/')) {
		snprintf(err, errlen, "forge: give --forge-url and --forge-repo OWNER/NAME");
		free(f);
		return -EINVAL;
	}
	if (cfg->token_file && read_token(cfg->token_file, f->token, sizeof(f->token))) {
		snprintf(err, errlen, "forge: cannot read a token from %s", cfg->token_file);
		free(f);
		return -EINVAL;
	}
	f->curl = curl_easy_init();
	enc = f->curl ? curl_easy_escape(f->curl, cfg->repo, 0) : NULL;
	if (!enc) {
		forge__close(f);
		return -ENOMEM;
	}
	snprintf(f->repo_enc, sizeof(f->repo_enc), "%s", enc);
	curl_free(enc);
	*out = f;
	return 0;
}

void forge__close(struct forge *f)
{
	if (!f)
		return;
	if (f->curl)
		curl_easy_cleanup(f->curl);
	free(f);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nmemb;
	char *g;

	if (r->n + n > FORGE_BODY_MAX)
		return 0;
	g = realloc(r->s, r->n + n + 1);
	if (!g)
		return 0;
	memcpy(g + r->n, p, n);
	r->s = g;
	r->n += n;
	r->s[r->n] = '\0';
	return n;
}

static void resp_free(struct resp *r)
{
	free(r->s);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* METHOD /path?query with @body (JSON, may be NULL): 0 with r->status set, or -EIO. */
static int call(struct forge *f, const char *method, const char *path, json_t *body, struct resp *r)
{
	struct curl_slist *h = NULL;
	char url[2048], auth[4200], *data = NULL;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", f->cfg.api_url, path);
	curl_easy_reset(f->curl);
	if (f->cfg.kind == FORGE_GITLAB)
		snprintf(auth, sizeof(auth), "PRIVATE-TOKEN: %s", f->token);
	else if (f->cfg.kind == FORGE_GITEA)
		snprintf(auth, sizeof(auth), "Authorization: token %s", f->token);
	else
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->token);
	if (f->token[0])
		h = curl_slist_append(h, auth);
	h = curl_slist_append(h, f->cfg.kind == FORGE_GITHUB ? "Accept: application/vnd.github+json"
							     : "Accept: application/json");
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "User-Agent: podmeter-reconciler");
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	curl_easy_setopt(f->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->curl, CURLOPT_TIMEOUT_MS,
			 (long)((f->cfg.timeout_s > 0 ? f->cfg.timeout_s : 30) * 1000));
	curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (f->cfg.ca_file)
		curl_easy_setopt(f->curl, CURLOPT_CAINFO, f->cfg.ca_file);
	if (body) {
		data = json_dumps(body, JSON_COMPACT);
		if (!data) {
			curl_slist_free_all(h);
			return ffail(f, -ENOMEM, "out of memory");
		}
		curl_easy_setopt(f->curl, CURLOPT_POSTFIELDS, data);
	}
	rc = curl_easy_perform(f->curl);
	curl_slist_free_all(h);
	free(data);
	if (rc != CURLE_OK) {
		resp_free(r);
		return ffail(f, -EIO, "%s %s: %s", method, path, curl_easy_strerror(rc));
	}
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->s)
		r->json = json_loads(r->s, 0, NULL);
	return 0;
}

/* Like call, and anything but 2xx is an error naming the status and the forge's message. */
static int call_ok(struct forge *f, const char *method, const char *path, json_t *body,
		   struct resp *r)
{
	int ret = call(f, method, path, body, r);
	const char *msg;

	if (ret)
		return ret;
	if (r->status >= 200 && r->status < 300)
		return 0;
	msg = json_string_value(json_object_get(r->json, "message"));
	ffail(f, r->status == 404 ? -ENOENT : -EIO, "%s %s: HTTP %ld%s%s", method, path, r->status,
	      msg ? ": " : "", msg ? msg : "");
	resp_free(r);
	return r->status == 404 ? -ENOENT : -EIO;
}

/* "2024-01-02T03:04:05Z", "...05.123Z", "...05+01:00"; 0 for null */
static double iso_time(json_t *v)
{
	const char *s = json_string_value(v), *rest;
	struct tm tm;
	double t;
	int sign, hh, mm;

	if (!s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return 0;
	t = (double)timegm(&tm);
	if (*rest == '.')
		for (rest++; *rest >= '0' && *rest <= '9'; rest++)
			;
	if ((*rest == '+' || *rest == '-') && sscanf(rest + 1, "%d:%d", &hh, &mm) == 2) {
		sign = *rest == '+' ? 1 : -1;
		t -= sign * (hh * 3600 + mm * 60);
	}
	return t;
}

static void pr_of(struct forge *f, json_t *o, struct forge_pr *pr)
{
	const char *st = json_string_value(json_object_get(o, "state"));

	memset(pr, 0, sizeof(*pr));
	pr->number = json_integer_value(
		json_object_get(o, f->cfg.kind == FORGE_GITLAB ? "iid" : "number"));
	snprintf(pr->url, sizeof(pr->url), "%s",
		 json_string_value(
			 json_object_get(o, f->cfg.kind == FORGE_GITLAB ? "web_url" : "html_url"))
			 ?: "");
	pr->merged_at = iso_time(json_object_get(o, "merged_at"));
	pr->closed_at = iso_time(json_object_get(o, "closed_at"));
	if (f->cfg.kind == FORGE_GITLAB)
		snprintf(pr->state, sizeof(pr->state), "%s",
			 st && !strcmp(st, "opened")   ? "open"
			 : st && !strcmp(st, "merged") ? "merged"
						       : "closed");
	else
		snprintf(pr->state, sizeof(pr->state), "%s",
			 json_is_true(json_object_get(o, "merged")) || pr->merged_at > 0 ? "merged"
			 : st && !strcmp(st, "open")					 ? "open"
						     : "closed");
}

static char *esc(struct forge *f, const char *s)
{
	return curl_easy_escape(f->curl, s, 0);
}

static int find_gitea(struct forge *f, const char *branch, const char *base, struct forge_pr *out)
{
	char path[1024];
	struct resp r;
	size_t i;
	int page, ret;

	for (page = 1; page <= FORGE_PAGES; page++) {
		snprintf(path, sizeof(path), "/repos/%s/pulls?state=open&limit=50&page=%d",
			 f->cfg.repo, page);
		ret = call_ok(f, "GET", path, NULL, &r);
		if (ret)
			return ret;
		for (i = 0; i < json_array_size(r.json); i++) {
			json_t *o = json_array_get(r.json, i);
			const char *h = json_string_value(
				json_object_get(json_object_get(o, "head"), "ref"));
			const char *b = json_string_value(
				json_object_get(json_object_get(o, "base"), "ref"));

			if (h && b && !strcmp(h, branch) && !strcmp(b, base)) {
				pr_of(f, o, out);
				resp_free(&r);
				return 0;
			}
		}
		i = json_array_size(r.json);
		resp_free(&r);
		if (i < 50)
			break;
	}
	return -ENOENT;
}

int forge__find_pr(struct forge *f, const char *branch, const char *base, struct forge_pr *out)
{
	char path[1400], owner[256], *eb = esc(f, branch), *ebase = esc(f, base);
	struct resp r;
	int ret;

	if (!eb || !ebase) {
		curl_free(eb);
		curl_free(ebase);
		return -ENOMEM;
	}
	snprintf(owner, sizeof(owner), "%.*s", (int)(strchr(f->cfg.repo, '/') - f->cfg.repo),
		 f->cfg.repo);
	if (f->cfg.kind == FORGE_GITEA) {
		curl_free(eb);
		curl_free(ebase);
		return find_gitea(f, branch, base, out);
	}
	if (f->cfg.kind == FORGE_GITHUB)
		snprintf(path, sizeof(path),
			 "/repos/%s/pulls?state=open&head=%s:%s&base=%s&per_page=100", f->cfg.repo,
			 owner, eb, ebase);
	else
		snprintf(path, sizeof(path),
			 "/projects/%s/merge_requests?state=opened&source_branch=%s"
			 "&target_branch=%s",
			 f->repo_enc, eb, ebase);
	curl_free(eb);
	curl_free(ebase);
	ret = call_ok(f, "GET", path, NULL, &r);
	if (ret)
		return ret;
	if (!json_array_size(r.json)) {
		resp_free(&r);
		return -ENOENT;
	}
	pr_of(f, json_array_get(r.json, 0), out);
	resp_free(&r);
	return 0;
}

static void pr_path(struct forge *f, int64_t n, char *path, size_t len)
{
	if (f->cfg.kind == FORGE_GITLAB)
		snprintf(path, len, "/projects/%s/merge_requests/%lld", f->repo_enc, (long long)n);
	else
		snprintf(path, len, "/repos/%s/pulls/%lld", f->cfg.repo, (long long)n);
}

int forge__create_pr(struct forge *f, const char *branch, const char *base, const char *title,
		     const char *body, struct forge_pr *out)
{
	json_t *o;
	char path[1024];
	struct resp r;
	int ret;

	if (f->cfg.kind == FORGE_GITLAB) {
		snprintf(path, sizeof(path), "/projects/%s/merge_requests", f->repo_enc);
		o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "source_branch", branch, "target_branch",
			      base, "title", title, "description", body, "remove_source_branch", 1);
	} else {
		snprintf(path, sizeof(path), "/repos/%s/pulls", f->cfg.repo);
		o = json_pack("{s:s, s:s, s:s, s:s}", "head", branch, "base", base, "title", title,
			      "body", body);
	}
	if (!o)
		return -ENOMEM;
	ret = call(f, "POST", path, o, &r);
	json_decref(o);
	if (ret)
		return ret;
	if (r.status == 422 || r.status == 409) {
		const char *msg = json_string_value(json_object_get(r.json, "message"));

		/* a duplicate, or another refusal: the caller looks for an open one to tell */
		ffail(f, -EEXIST, "POST %s: HTTP %ld%s%s", path, r.status, msg ? ": " : "",
		      msg ? msg : "");
		resp_free(&r);
		return -EEXIST;
	}
	if (r.status != 201 && r.status != 200) {
		ffail(f, -EIO, "POST %s: HTTP %ld", path, r.status);
		resp_free(&r);
		return -EIO;
	}
	pr_of(f, r.json, out);
	resp_free(&r);
	return out->number > 0 ? 0 : ffail(f, -EIO, "POST %s: no number in the answer", path);
}

static int send_json(struct forge *f, const char *method, const char *path, json_t *o)
{
	struct resp r;
	int ret;

	if (!o)
		return -ENOMEM;
	ret = call_ok(f, method, path, o, &r);
	json_decref(o);
	if (!ret)
		resp_free(&r);
	return ret;
}

int forge__update_pr(struct forge *f, int64_t number, const char *title, const char *body)
{
	char path[1024];

	pr_path(f, number, path, sizeof(path));
	return send_json(f, f->cfg.kind == FORGE_GITLAB ? "PUT" : "PATCH", path,
			 json_pack("{s:s, s:s}", "title", title,
				   f->cfg.kind == FORGE_GITLAB ? "description" : "body", body));
}

int forge__get_pr(struct forge *f, int64_t number, struct forge_pr *out)
{
	char path[1024];
	struct resp r;
	int ret;

	pr_path(f, number, path, sizeof(path));
	ret = call_ok(f, "GET", path, NULL, &r);
	if (ret)
		return ret;
	pr_of(f, r.json, out);
	resp_free(&r);
	return 0;
}

int forge__close_pr(struct forge *f, int64_t number)
{
	char path[1024];

	pr_path(f, number, path, sizeof(path));
	if (f->cfg.kind == FORGE_GITLAB)
		return send_json(f, "PUT", path, json_pack("{s:s}", "state_event", "close"));
	return send_json(f, "PATCH", path, json_pack("{s:s}", "state", "closed"));
}

int forge__comment(struct forge *f, int64_t number, const char *body)
{
	char path[1024];

	if (f->cfg.kind == FORGE_GITLAB)
		snprintf(path, sizeof(path), "/projects/%s/merge_requests/%lld/notes", f->repo_enc,
			 (long long)number);
	else
		snprintf(path, sizeof(path), "/repos/%s/issues/%lld/comments", f->cfg.repo,
			 (long long)number);
	return send_json(f, "POST", path, json_pack("{s:s}", "body", body));
}

/* Gitea: a label's id by name, made when missing. */
static int gitea_label(struct forge *f, const char *name, int64_t *id)
{
	char path[1024];
	struct resp r;
	size_t i;
	int ret;

	snprintf(path, sizeof(path), "/repos/%s/labels?limit=50", f->cfg.repo);
	ret = call_ok(f, "GET", path, NULL, &r);
	if (ret)
		return ret;
	for (i = 0; i < json_array_size(r.json); i++) {
		json_t *o = json_array_get(r.json, i);
		const char *n = json_string_value(json_object_get(o, "name"));

		if (n && !strcmp(n, name)) {
			*id = json_integer_value(json_object_get(o, "id"));
			resp_free(&r);
			return 0;
		}
	}
	resp_free(&r);
	snprintf(path, sizeof(path), "/repos/%s/labels", f->cfg.repo);
	ret = call_ok(f, "POST", path, json_pack("{s:s, s:s}", "name", name, "color", "#5319e7"),
		      &r);
	if (ret)
		return ret;
	*id = json_integer_value(json_object_get(r.json, "id"));
	resp_free(&r);
	return *id > 0 ? 0 : -EIO;
}

static char *joined(const char *const *v)
{
	size_t n = 1, i;
	char *s;

	for (i = 0; v && v[i]; i++)
		n += strlen(v[i]) + 1;
	s = calloc(1, n);
	for (i = 0; s && v && v[i]; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, v[i]);
	}
	return s;
}

static int labels_gitlab(struct forge *f, int64_t number, const char *const *add,
			 const char *const *remove)
{
	char path[1024], *a = joined(add), *r = joined(remove);
	int ret = -ENOMEM;

	pr_path(f, number, path, sizeof(path));
	if (a && r)
		ret = send_json(f, "PUT", path,
				json_pack("{s:s, s:s}", "add_labels", a, "remove_labels", r));
	free(a);
	free(r);
	return ret;
}

int forge__labels(struct forge *f, int64_t number, const char *const *add,
		  const char *const *remove)
{
	json_t *arr;
	char path[1024], *e;
	int64_t id;
	size_t i;
	int ret = 0;

	if (f->cfg.kind == FORGE_GITLAB)
		return labels_gitlab(f, number, add, remove);
	arr = json_array();
	for (i = 0; arr && add && add[i] && !ret; i++) {
		if (f->cfg.kind == FORGE_GITEA) {
			ret = gitea_label(f, add[i], &id);
			if (!ret)
				json_array_append_new(arr, json_integer(id));
		} else {
			json_array_append_new(arr, json_string(add[i]));
		}
	}
	snprintf(path, sizeof(path), "/repos/%s/issues/%lld/labels", f->cfg.repo,
		 (long long)number);
	if (!ret && json_array_size(arr))
		ret = send_json(f, "POST", path, json_pack("{s:O}", "labels", arr));
	json_decref(arr);
	for (i = 0; !ret && remove && remove[i]; i++) {
		struct resp r;

		if (f->cfg.kind == FORGE_GITEA) {
			ret = gitea_label(f, remove[i], &id);
			if (ret)
				break;
			snprintf(path, sizeof(path), "/repos/%s/issues/%lld/labels/%lld",
				 f->cfg.repo, (long long)number, (long long)id);
		} else {
			e = esc(f, remove[i]);
			snprintf(path, sizeof(path), "/repos/%s/issues/%lld/labels/%s", f->cfg.repo,
				 (long long)number, e ? e : "");
			curl_free(e);
		}
		ret = call(f, "DELETE", path, NULL, &r); /* 404: it was not there */
		if (!ret && r.status >= 300 && r.status != 404)
			ret = ffail(f, -EIO, "DELETE %s: HTTP %ld", path, r.status);
		resp_free(&r);
	}
	return ret;
}

static void issues_path(struct forge *f, char *path, size_t len)
{
	if (f->cfg.kind == FORGE_GITLAB)
		snprintf(path, len, "/projects/%s/issues", f->repo_enc);
	else
		snprintf(path, len, "/repos/%s/issues", f->cfg.repo);
}

int forge__find_issue(struct forge *f, const char *label, const char *marker, int64_t *number)
{
	char path[1400], base[1024], *e = esc(f, label);
	struct resp r;
	size_t i;
	int ret;

	if (!e)
		return -ENOMEM;
	issues_path(f, base, sizeof(base));
	snprintf(path, sizeof(path), "%s?state=%s&labels=%s%s", base,
		 f->cfg.kind == FORGE_GITLAB ? "opened" : "open", e,
		 f->cfg.kind == FORGE_GITEA ? "&type=issues" : "&per_page=100");
	curl_free(e);
	ret = call_ok(f, "GET", path, NULL, &r);
	if (ret)
		return ret;
	ret = -ENOENT;
	for (i = 0; i < json_array_size(r.json) && ret; i++) {
		json_t *o = json_array_get(r.json, i);
		const char *b = json_string_value(
			json_object_get(o, f->cfg.kind == FORGE_GITLAB ? "description" : "body"));

		if (b && strstr(b, marker)) {
			*number = json_integer_value(
				json_object_get(o, f->cfg.kind == FORGE_GITLAB ? "iid" : "number"));
			ret = 0;
		}
	}
	resp_free(&r);
	return ret;
}

int forge__create_issue(struct forge *f, const char *title, const char *body, const char *label,
			int64_t *number)
{
	char path[1024];
	struct resp r;
	json_t *o;
	int64_t id;
	int ret;

	issues_path(f, path, sizeof(path));
	if (f->cfg.kind == FORGE_GITLAB) {
		o = json_pack("{s:s, s:s, s:s}", "title", title, "description", body, "labels",
			      label);
	} else if (f->cfg.kind == FORGE_GITEA) {
		ret = gitea_label(f, label, &id);
		if (ret)
			return ret;
		o = json_pack("{s:s, s:s, s:[I]}", "title", title, "body", body, "labels",
			      (json_int_t)id);
	} else {
		o = json_pack("{s:s, s:s, s:[s]}", "title", title, "body", body, "labels", label);
	}
	if (!o)
		return -ENOMEM;
	ret = call_ok(f, "POST", path, o, &r);
	json_decref(o);
	if (ret)
		return ret;
	*number = json_integer_value(
		json_object_get(r.json, f->cfg.kind == FORGE_GITLAB ? "iid" : "number"));
	resp_free(&r);
	return *number > 0 ? 0 : -EIO;
}

int forge__update_issue(struct forge *f, int64_t number, const char *title, const char *body)
{
	char path[2048], base[1024];

	issues_path(f, base, sizeof(base));
	snprintf(path, sizeof(path), "%s/%lld", base, (long long)number);
	return send_json(f, f->cfg.kind == FORGE_GITLAB ? "PUT" : "PATCH", path,
			 json_pack("{s:s, s:s}", "title", title,
				   f->cfg.kind == FORGE_GITLAB ? "description" : "body", body));
}
