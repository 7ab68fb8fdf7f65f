// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The web config file (TLS and bearer tokens for the HTTP endpoint), in the
 * format of Prometheus exporters' --web.config.file:
 *
 *   tls_server_config:
 *     cert_file: server.crt
 *     key_file: server.key
 *     client_auth_type: RequireAndVerifyClientCert
 *     client_ca_file: ca.crt
 *     min_version: TLS12
 *   bearer_tokens_file: tokens
 *
 * Every key is checked at load, and the files it names with GnuTLS, so a
 * mistake stops the agent at start rather than leaving the endpoint open.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <yaml.h>
#include <podmeter/webcfg.h>

#define WEB_WHY_MAX 512

struct web_key {
	const char *section; /* NULL: top level */
	const char *key;
	int (*set)(struct pm_web_config *wc, const char *dir, const char *v, char *why, size_t len);
};

static void web_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void web_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int webcfg__read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	ssize_t n = 0;
	size_t got;
	int fd, ret = 0;
	char *buf;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PM_WEB_FILE_MAX) {
		ret = !S_ISREG(st.st_mode) ? -EINVAL : -EFBIG;
		goto out_close;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	/* a read may return less than asked: until the size fstat gave, or the end */
	for (got = 0; got < (size_t)st.st_size; got += n) {
		n = read(fd, buf + got, st.st_size - got);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	if (n < 0) {
		ret = -errno;
		free(buf);
		goto out_close;
	}
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
out_close:
	close(fd);
	return ret;
}

/* ---- bearer tokens ---- */

static bool web_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static int web_token_line(struct pm_web_tokens *t, char *line, int lineno, char *err, size_t errlen)
{
	char *end = line + strlen(line);
	size_t n;

	while (isspace((unsigned char)*line))
		line++;
	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*line || *line == '#')
		return 0;
	n = end - line;
	for (end = line; *end && web_token_char(*end); end++)
		;
	if (*end || n < PM_WEB_TOKEN_MIN || n > PM_WEB_TOKEN_MAX) {
		web_err(err, errlen, "line %d: a token is %d to %d visible ASCII characters",
			lineno, PM_WEB_TOKEN_MIN, PM_WEB_TOKEN_MAX);
		return -EINVAL;
	}
	if (t->n == PM_WEB_TOKENS_MAX) {
		web_err(err, errlen, "more than %d tokens", PM_WEB_TOKENS_MAX);
		return -E2BIG;
	}
	memcpy(t->token[t->n++], line, n + 1);
	return 0;
}

int webcfg__load_tokens(struct pm_web_tokens *t, const char *path, char *err, size_t errlen)
{
	char *buf, *line, *save;
	int ret, lineno = 0;
	size_t len;

	t->n = 0;
	ret = webcfg__read_file(path, &buf, &len);
	if (ret) {
		web_err(err, errlen, "%s", strerror(-ret));
		return ret;
	}
	if (strlen(buf) != len) {
		web_err(err, errlen, "a NUL byte in the file");
		free(buf);
		return -EINVAL;
	}
	for (line = buf; line && !ret; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		ret = web_token_line(t, line, ++lineno, err, errlen);
	}
	free(buf);
	if (!ret && !t->n) {
		web_err(err, errlen, "no token in it");
		ret = -EINVAL;
	}
	return ret;
}

/* Equal in time that depends on @a's length only. */
static bool web_same(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;
	unsigned char d = alen != blen;

	for (i = 0; i < alen; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[blen ? i % blen : 0];
	return !d;
}

bool webcfg__bearer_ok(const struct pm_web_tokens *t, const char *authorization)
{
	const char *tok;
	bool ok = false;
	size_t n;
	int i;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7))
		return false;
	tok = authorization + 7;
	n = strlen(tok);
	for (i = 0; i < t->n; i++)
		ok |= web_same(tok, n, t->token[i]);
	return ok;
}

/* ---- the keys ---- */

/* @v, relative to the web config file's directory unless absolute, into @dst. */
static int web_path(char *dst, const char *dir, const char *v, char *why, size_t len)
{
	int n = *v == '/' ? snprintf(dst, PATH_MAX, "%s", v)
			  : snprintf(dst, PATH_MAX, "%s/%s", dir, v);

	if (n < 0 || n >= PATH_MAX) {
		web_err(why, len, "path longer than %d bytes", PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	if (access(dst, R_OK)) {
		web_err(why, len, "%s: %s", dst, strerror(errno));
		return -errno;
	}
	return 0;
}

static int web_set_cert(struct pm_web_config *wc, const char *dir, const char *v, char *why,
			size_t len)
{
	return web_path(wc->cert_file, dir, v, why, len);
}

static int web_set_key(struct pm_web_config *wc, const char *dir, const char *v, char *why,
		       size_t len)
{
	return web_path(wc->key_file, dir, v, why, len);
}

static int web_set_ca(struct pm_web_config *wc, const char *dir, const char *v, char *why,
		      size_t len)
{
	return web_path(wc->client_ca_file, dir, v, why, len);
}

static int web_set_tokens(struct pm_web_config *wc, const char *dir, const char *v, char *why,
			  size_t len)
{
	return web_path(wc->tokens_file, dir, v, why, len);
}

static int web_set_client_auth(struct pm_web_config *wc, const char *dir, const char *v, char *why,
			       size_t len)
{
	static const struct {
		const char *name;
		enum pm_client_auth auth;
	} types[] = {
		{ "NoClientCert", PM_CLIENT_AUTH_NONE },
		{ "VerifyClientCertIfGiven", PM_CLIENT_AUTH_IF_GIVEN },
		{ "RequireAndVerifyClientCert", PM_CLIENT_AUTH_REQUIRE },
	};
	size_t i;

	(void)dir;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (!strcmp(v, types[i].name)) {
			wc->client_auth = types[i].auth;
			return 0;
		}
	}
	web_err(why, len,
		"\"%.64s\" is not NoClientCert, VerifyClientCertIfGiven or "
		"RequireAndVerifyClientCert (certificates not verified are not accepted)",
		v);
	return -EINVAL;
}

static int web_set_min_version(struct pm_web_config *wc, const char *dir, const char *v, char *why,
			       size_t len)
{
	(void)dir;
	if (strcmp(v, "TLS12") && strcmp(v, "TLS13")) {
		web_err(why, len, "\"%.64s\" is not TLS12 or TLS13", v);
		return -EINVAL;
	}
	wc->tls13 = !strcmp(v, "TLS13");
	return 0;
}

static const struct web_key web_keys[] = {
	{ "tls_server_config", "cert_file", web_set_cert },
	{ "tls_server_config", "key_file", web_set_key },
	{ "tls_server_config", "client_auth_type", web_set_client_auth },
	{ "tls_server_config", "client_ca_file", web_set_ca },
	{ "tls_server_config", "min_version", web_set_min_version },
	{ NULL, "bearer_tokens_file", web_set_tokens },
};

#define WEB_NKEYS (sizeof(web_keys) / sizeof(web_keys[0]))

/* ---- the file ---- */

static const char *web_scalar(const yaml_node_t *n)
{
	const char *s;

	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	return strlen(s) == n->data.scalar.length ? s : NULL;
}

static void web_known(const char *section, char *buf, size_t len)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < WEB_NKEYS; i++)
		if ((section && web_keys[i].section && !strcmp(section, web_keys[i].section)) ||
		    (!section && !web_keys[i].section))
			at += snprintf(buf + at, len - at, "%s%s", at ? ", " : "", web_keys[i].key);
	if (!section)
		snprintf(buf + at, len - at, ", tls_server_config");
}

struct web_load {
	struct pm_web_config *wc;
	yaml_document_t *doc;
	const char *dir; /* paths are relative to it */
	uint64_t seen;	 /* keys met, by row */
	bool tls;	 /* tls_server_config met */
};

static int web_mapping(struct web_load *l, yaml_node_t *map, const char *section, char *err,
		       size_t errlen);

static int web_pair(struct web_load *l, yaml_node_pair_t *pair, const char *section, char *err,
		    size_t errlen)
{
	yaml_node_t *kn = yaml_document_get_node(l->doc, pair->key);
	yaml_node_t *vn = yaml_document_get_node(l->doc, pair->value);
	const char *key = web_scalar(kn), *val = web_scalar(vn);
	char why[WEB_WHY_MAX];
	size_t line = kn->start_mark.line + 1, i;

	if (key && !section && !strcmp(key, "tls_server_config")) {
		if (vn->type != YAML_MAPPING_NODE) {
			web_err(err, errlen, "line %zu: tls_server_config: expected a mapping",
				line);
			return -EINVAL;
		}
		l->tls = true;
		return web_mapping(l, vn, key, err, errlen);
	}
	for (i = 0; key && i < WEB_NKEYS; i++) {
		if (strcmp(key, web_keys[i].key) || (!section) != (!web_keys[i].section))
			continue;
		if (l->seen & (1ULL << i)) {
			web_err(err, errlen, "line %zu: %s: given twice; keep one", line, key);
			return -EINVAL;
		}
		l->seen |= 1ULL << i;
		if (!val || !*val) {
			web_err(err, errlen, "line %zu: %s: expected one value", line, key);
			return -EINVAL;
		}
		if (web_keys[i].set(l->wc, l->dir, val, why, sizeof(why))) {
			web_err(err, errlen, "line %zu: %s: %s", line, key, why);
			return -EINVAL;
		}
		return 0;
	}
	web_known(section, why, sizeof(why));
	web_err(err, errlen, "line %zu: %s%s\"%.64s\" is not supported by podmeter; known keys: %s",
		line, section ? section : "", section ? ": " : "", key ? key : "?", why);
	return -EINVAL;
}

static int web_mapping(struct web_load *l, yaml_node_t *map, const char *section, char *err,
		       size_t errlen)
{
	yaml_node_pair_t *pair;
	int ret;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		ret = web_pair(l, pair, section, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* The certificate with its key, and the CA, as GnuTLS will load them. */
static int web_check_tls(const struct pm_web_config *wc, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t cred;
	int ret;

	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		web_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = gnutls_certificate_set_x509_key_file(cred, wc->cert_file, wc->key_file,
						   GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		web_err(err, errlen, "cert_file %s, key_file %s: %s", wc->cert_file, wc->key_file,
			gnutls_strerror(ret));
	} else if (wc->client_ca_file[0]) {
		ret = gnutls_certificate_set_x509_trust_file(cred, wc->client_ca_file,
							     GNUTLS_X509_FMT_PEM);
		if (ret <= 0)
			web_err(err, errlen, "client_ca_file %s: %s", wc->client_ca_file,
				ret ? gnutls_strerror(ret) : "no certificate in it");
		ret = ret <= 0 ? -1 : 0;
	}
	gnutls_certificate_free_credentials(cred);
	return ret < 0 ? -EINVAL : 0;
}

/* What exporter-toolkit also refuses, and what podmeter cannot do without. */
static int web_check(const struct pm_web_config *wc, bool tls_section, char *err, size_t errlen)
{
	struct pm_web_tokens *t;
	int ret;

	if (tls_section && (!wc->cert_file[0] || !wc->key_file[0])) {
		web_err(err, errlen, "tls_server_config: give both cert_file and key_file");
		return -EINVAL;
	}
	if (wc->client_auth != PM_CLIENT_AUTH_NONE && !wc->client_ca_file[0]) {
		web_err(err, errlen, "tls_server_config: client_auth_type needs client_ca_file");
		return -EINVAL;
	}
	if (wc->client_ca_file[0] && wc->client_auth == PM_CLIENT_AUTH_NONE) {
		web_err(err, errlen,
			"tls_server_config: client_ca_file without client_auth_type; "
			"set RequireAndVerifyClientCert");
		return -EINVAL;
	}
	if (tls_section && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		web_err(err, errlen, "tls_server_config: this libmicrohttpd was built without TLS");
		return -EPROTONOSUPPORT;
	}
	if (tls_section && (ret = web_check_tls(wc, err, errlen)))
		return ret;
	if (!wc->tokens_file[0])
		return 0;
	t = malloc(sizeof(*t));
	if (!t) {
		web_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = webcfg__load_tokens(t, wc->tokens_file, err, errlen);
	free(t);
	return ret;
}

static int web_doc(struct web_load *l, char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(l->doc);
	int ret;

	if (!root || (root->type == YAML_SCALAR_NODE && !root->data.scalar.length))
		return 0; /* empty: plain HTTP, no token */
	if (root->type != YAML_MAPPING_NODE) {
		web_err(err, errlen,
			"expected a mapping (tls_server_config:, bearer_tokens_file:)");
		return -EINVAL;
	}
	ret = web_mapping(l, root, NULL, err, errlen);
	return ret ? ret : web_check(l->wc, l->tls, err, errlen);
}

int webcfg__load(struct pm_web_config *wc, const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX], *slash, why[WEB_WHY_MAX];
	yaml_parser_t parser;
	yaml_document_t doc;
	struct pm_web_config tmp = { 0 };
	FILE *f;
	int ret;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		strcpy(dir, ".");
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		web_err(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		web_err(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		web_err(err, errlen, "%s: line %zu: %s", path, parser.problem_mark.line + 1,
			parser.problem ? parser.problem : "not YAML");
		ret = -EINVAL;
	} else {
		struct web_load l = { .wc = &tmp, .doc = &doc, .dir = dir };

		ret = web_doc(&l, why, sizeof(why));
		if (ret)
			web_err(err, errlen, "%s: %s", path, why);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	if (!ret)
		*wc = tmp;
	return ret;
}
