// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libgit2: a bare cache, commits from file contents, pushes with a lease. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <git2.h>
#include "gitw.h"

#define TRAILER "Podmeter-Group: "

struct gitw {
	struct gitw_cfg cfg;
	git_repository *repo;
	git_tree *tree; /* of gitw__tree */
	int cred_tries;
	char expect[GITW_SHA]; /* push lease */
	char why[256];	       /* from callbacks */
};

static void lg_err(char *err, size_t errlen, const char *what)
{
	const git_error *e = git_error_last();

	snprintf(err, errlen, "%s: %s", what, e && e->message ? e->message : "failed");
}

static int read_secret(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int cred_cb(git_credential **out, const char *url, const char *user_from_url,
		   unsigned int allowed, void *payload)
{
	struct gitw *g = payload;
	char secret[4096] = "";

	(void)url;
	if (g->cred_tries++ > 0) {
		snprintf(g->why, sizeof(g->why), "credentials refused");
		return GIT_EUSER;
	}
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && g->cfg.ssh_key) {
		if (g->cfg.ssh_passphrase_file &&
		    read_secret(g->cfg.ssh_passphrase_file, secret, sizeof(secret)))
			return GIT_EUSER;
		return git_credential_ssh_key_new(out,
						  user_from_url	    ? user_from_url
						  : g->cfg.username ? g->cfg.username
								    : "git",
						  g->cfg.ssh_pubkey, g->cfg.ssh_key,
						  secret[0] ? secret : NULL);
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && g->cfg.token_file) {
		if (read_secret(g->cfg.token_file, secret, sizeof(secret))) {
			snprintf(g->why, sizeof(g->why), "cannot read %s", g->cfg.token_file);
			return GIT_EUSER;
		}
		return git_credential_userpass_plaintext_new(
			out, g->cfg.username ? g->cfg.username : "x-access-token", secret);
	}
	snprintf(g->why, sizeof(g->why), "the remote asks for credentials podmeter was not given");
	return GIT_PASSTHROUGH;
}

static int b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static size_t b64_decode(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;
	int bits = 0, v;
	unsigned int acc = 0;

	for (; *s && *s != '='; s++) {
		v = b64_val((unsigned char)*s);
		if (v < 0)
			return 0;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return 0;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

/* ssh: the server's raw key must be a line of known_hosts ("HOST[,HOST] TYPE BASE64"). */
static bool known_host(const char *file, const char *host, const unsigned char *key, size_t len)
{
	char line[16384], hosts[4096], type[64], b64[12288];
	unsigned char raw[9216];
	FILE *f = fopen(file, "r");
	bool ok = false;

	if (!f)
		return false;
	while (!ok && fgets(line, sizeof(line), f)) {
		char *h, *save;

		if (sscanf(line, "%4095s %63s %12287s", hosts, type, b64) != 3 || hosts[0] == '#')
			continue;
		for (h = strtok_r(hosts, ",", &save); h && !ok; h = strtok_r(NULL, ",", &save)) {
			char bracket[512];

			snprintf(bracket, sizeof(bracket), "[%s]", host);
			if (strcmp(h, host) && strncmp(h, bracket, strlen(bracket)))
				continue;
			ok = b64_decode(b64, raw, sizeof(raw)) == len && !memcmp(raw, key, len);
		}
	}
	fclose(f);
	return ok;
}

static int cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct gitw *g = payload;
	git_cert_hostkey *hk = (git_cert_hostkey *)cert;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH; /* TLS: libgit2's verification stands */
	if (!g->cfg.known_hosts)
		return valid ? 0 : GIT_PASSTHROUGH;
	if ((hk->type & GIT_CERT_SSH_RAW) &&
	    known_host(g->cfg.known_hosts, host, (const unsigned char *)hk->hostkey,
		       hk->hostkey_len))
		return 0;
	snprintf(g->why, sizeof(g->why), "ssh: %s's key is not in %s", host, g->cfg.known_hosts);
	return GIT_ECERTIFICATE;
}

static void callbacks(struct gitw *g, git_remote_callbacks *cb)
{
	cb->credentials = cred_cb;
	cb->certificate_check = cert_cb;
	cb->payload = g;
	g->cred_tries = 0;
	g->why[0] = '\0';
}

static pthread_once_t lg_once = PTHREAD_ONCE_INIT;

static void lg_init(void)
{
	git_libgit2_init();
}

int gitw__open(struct gitw **out, const struct gitw_cfg *cfg, char *err, size_t errlen)
{
	struct gitw *g = calloc(1, sizeof(*g));
	git_remote *remote = NULL;
	struct stat st;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	pthread_once(&lg_once, lg_init);
	g->cfg = *cfg;
	if (cfg->ca_file)
		git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, cfg->ca_file, NULL);
	if (stat(cfg->cache_dir, &st) == 0 && !git_repository_open_bare(&g->repo, cfg->cache_dir)) {
		if (git_remote_lookup(&remote, g->repo, "origin"))
			git_remote_create(&remote, g->repo, "origin", cfg->url);
		else if (strcmp(git_remote_url(remote), cfg->url))
			git_remote_set_url(g->repo, "origin", cfg->url);
	} else if (git_repository_init(&g->repo, cfg->cache_dir, 1) ||
		   git_remote_create(&remote, g->repo, "origin", cfg->url)) {
		lg_err(err, errlen, cfg->cache_dir);
		gitw__close(g);
		return -EIO;
	}
	git_remote_free(remote);
	*out = g;
	return 0;
}

void gitw__close(struct gitw *g)
{
	if (!g)
		return;
	git_tree_free(g->tree);
	git_repository_free(g->repo);
	free(g);
}

int gitw__fetch(struct gitw *g, char *err, size_t errlen)
{
	char *spec = "+refs/heads/*:refs/remotes/origin/*";
	git_strarray specs = { &spec, 1 };
	git_fetch_options fo;
	git_remote *remote;
	int ret;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	if (git_remote_lookup(&remote, g->repo, "origin")) {
		lg_err(err, errlen, "origin");
		return -EIO;
	}
	callbacks(g, &fo.callbacks);
	fo.prune = GIT_FETCH_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	ret = git_remote_fetch(remote, &specs, &fo, NULL);
	if (ret) {
		lg_err(err, errlen, g->why[0] ? g->why : "fetch");
		if (g->why[0])
			snprintf(err, errlen, "fetch %s: %s", g->cfg.url, g->why);
	}
	git_remote_free(remote);
	return ret ? -EIO : 0;
}

int gitw__head(struct gitw *g, const char *branch, char sha[GITW_SHA])
{
	char ref[512];
	git_oid oid;

	snprintf(ref, sizeof(ref), "refs/remotes/origin/%s", branch);
	if (git_reference_name_to_id(&oid, g->repo, ref))
		return -ENOENT;
	git_oid_tostr(sha, GITW_SHA, &oid);
	return 0;
}

static int tree_read(void *ctx, const char *path, char **data, size_t *len)
{
	struct gitw *g = ctx;
	git_tree_entry *e;
	git_blob *blob;
	int ret = 0;

	if (git_tree_entry_bypath(&e, g->tree, path))
		return -ENOENT;
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
	    git_blob_lookup(&blob, g->repo, git_tree_entry_id(e))) {
		git_tree_entry_free(e);
		return -ENOENT;
	}
	*len = (size_t)git_blob_rawsize(blob);
	*data = *len > (16u << 20) ? NULL : malloc(*len + 1);
	if (*data) {
		memcpy(*data, git_blob_rawcontent(blob), *len);
		(*data)[*len] = '\0';
	} else {
		ret = *len > (16u << 20) ? -EFBIG : -ENOMEM;
	}
	git_blob_free(blob);
	git_tree_entry_free(e);
	return ret;
}

static int tree_list(void *ctx, const char *path, int (*fn)(void *c, const char *name, bool dir),
		     void *c)
{
	struct gitw *g = ctx;
	git_tree_entry *e = NULL;
	git_tree *t;
	size_t i;
	int ret = 0;

	if (path[0]) {
		if (git_tree_entry_bypath(&e, g->tree, path) ||
		    git_tree_entry_type(e) != GIT_OBJECT_TREE ||
		    git_tree_lookup(&t, g->repo, git_tree_entry_id(e))) {
			git_tree_entry_free(e);
			return -ENOENT;
		}
		git_tree_entry_free(e);
	} else if (git_tree_dup(&t, g->tree)) {
		return -ENOMEM;
	}
	for (i = 0; !ret && i < git_tree_entrycount(t); i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);

		ret = fn(c, git_tree_entry_name(te), git_tree_entry_type(te) == GIT_OBJECT_TREE);
	}
	git_tree_free(t);
	return ret;
}

static int commit_of(struct gitw *g, const char *sha, git_commit **c)
{
	git_oid oid;

	if (git_oid_fromstr(&oid, sha) || git_commit_lookup(c, g->repo, &oid))
		return -ENOENT;
	return 0;
}

int gitw__tree(struct gitw *g, const char *sha, struct tree_src *t)
{
	git_commit *c;
	int ret;

	ret = commit_of(g, sha, &c);
	if (ret)
		return ret;
	git_tree_free(g->tree);
	g->tree = NULL;
	ret = git_commit_tree(&g->tree, c) ? -EIO : 0;
	git_commit_free(c);
	t->ctx = g;
	t->read = tree_read;
	t->list = tree_list;
	return ret;
}

int gitw__commit(struct gitw *g, const char *base_sha, const struct changes *c, const char *message,
		 double when, char sha[GITW_SHA], bool *same, char *err, size_t errlen)
{
	git_tree_update *up = calloc(c->n ? c->n : 1, sizeof(*up));
	git_signature *sig = NULL;
	git_commit *base = NULL;
	git_tree *base_tree = NULL, *tree = NULL;
	git_oid tree_id, commit_id;
	size_t i;
	int ret = -EIO;

	if (!up)
		return -ENOMEM;
	if (commit_of(g, base_sha, &base) || git_commit_tree(&base_tree, base)) {
		snprintf(err, errlen, "base commit %s not in the cache", base_sha);
		goto out;
	}
	for (i = 0; i < c->n; i++) {
		if (git_blob_create_from_buffer(&up[i].id, g->repo, c->v[i].data, c->v[i].len)) {
			lg_err(err, errlen, c->v[i].path);
			goto out;
		}
		up[i].action = GIT_TREE_UPDATE_UPSERT;
		up[i].filemode = GIT_FILEMODE_BLOB;
		up[i].path = c->v[i].path;
	}
	if (git_tree_create_updated(&tree_id, g->repo, base_tree, c->n, up) ||
	    git_tree_lookup(&tree, g->repo, &tree_id)) {
		lg_err(err, errlen, "tree");
		goto out;
	}
	*same = !git_oid_cmp(&tree_id, git_tree_id(base_tree));
	if (git_signature_new(&sig, g->cfg.author_name, g->cfg.author_email,
			      (git_time_t)floor(when), 0) ||
	    git_commit_create(&commit_id, g->repo, NULL, sig, sig, "UTF-8", message, tree, 1,
			      (const git_commit **)&base)) {
		lg_err(err, errlen, "commit");
		goto out;
	}
	git_oid_tostr(sha, GITW_SHA, &commit_id);
	ret = 0;
out:
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base_tree);
	git_commit_free(base);
	free(up);
	return ret;
}

/* The lease: the remote's branch must still be what podmeter saw. */
static int negotiate_cb(const git_push_update **updates, size_t len, void *payload)
{
	struct gitw *g = payload;
	char have[GITW_SHA];
	size_t i;

	for (i = 0; i < len; i++) {
		bool absent = git_oid_is_zero(&updates[i]->src);

		git_oid_tostr(have, sizeof(have), &updates[i]->src);
		if (g->expect[0] ? absent || strcmp(have, g->expect) : !absent) {
			snprintf(g->why, sizeof(g->why), "%s is at %s, not %s: somebody pushed",
				 updates[i]->dst_refname, absent ? "nothing" : have,
				 g->expect[0] ? g->expect : "nothing");
			return GIT_EUSER;
		}
	}
	return 0;
}

static int update_cb(const char *ref, const char *status, void *payload)
{
	struct gitw *g = payload;

	if (status)
		snprintf(g->why, sizeof(g->why), "%s: %s", ref, status);
	return 0;
}

int gitw__push(struct gitw *g, const char *branch, const char *sha, const char *expect, char *err,
	       size_t errlen)
{
	git_push_options po;
	char spec[1200], local[560], *s = spec;
	git_strarray specs = { &s, 1 };
	git_reference *ref = NULL;
	git_remote *remote = NULL;
	git_oid oid;
	int ret;

	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	snprintf(local, sizeof(local), "refs/heads/%s", branch);
	snprintf(spec, sizeof(spec), "+%s:%s", local, local);
	snprintf(g->expect, sizeof(g->expect), "%s", expect);
	if (git_oid_fromstr(&oid, sha) ||
	    git_reference_create(&ref, g->repo, local, &oid, 1, "podmeter") ||
	    git_remote_lookup(&remote, g->repo, "origin")) {
		lg_err(err, errlen, branch);
		git_reference_free(ref);
		return -EIO;
	}
	git_reference_free(ref);
	callbacks(g, &po.callbacks);
	po.callbacks.push_negotiation = negotiate_cb;
	po.callbacks.push_update_reference = update_cb;
	ret = git_remote_push(remote, &specs, &po);
	git_remote_free(remote);
	if (ret || g->why[0]) {
		if (g->why[0])
			snprintf(err, errlen, "push %s: %s", branch, g->why);
		else
			lg_err(err, errlen, "push");
		return strstr(g->why, "somebody pushed") ? -ESTALE : -EIO;
	}
	return 0;
}

bool gitw__is_ours(struct gitw *g, const char *sha, const char *group)
{
	const git_signature *a;
	git_commit *c;
	char want[300];
	bool ours;

	if (commit_of(g, sha, &c))
		return false;
	snprintf(want, sizeof(want), "\n" TRAILER "%s\n", group);
	a = git_commit_author(c);
	ours = a && a->email && !strcmp(a->email, g->cfg.author_email) &&
	       strstr(git_commit_message(c), want);
	git_commit_free(c);
	return ours;
}

bool gitw__parent_is(struct gitw *g, const char *sha, const char *base)
{
	git_commit *c;
	char p[GITW_SHA] = "";
	bool is;

	if (commit_of(g, sha, &c))
		return false;
	if (git_commit_parentcount(c) == 1)
		git_oid_tostr(p, sizeof(p), git_commit_parent_id(c, 0));
	is = !strcmp(p, base);
	git_commit_free(c);
	return is;
}
