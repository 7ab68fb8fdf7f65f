// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* targets.yaml, the manifests' workloads and HPAs, and the bot's own files. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "decide.h"
#include "targets.h"
#include "yamlt.h"

/* keys are built from names bounded far below their buffers (GS_NAME, TGT_PATH) */
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define MF_MAX_FILES 2000
#define MF_MAX_DEPTH 16
#define MAX_FILE     (16 << 20)

/* ---- a directory as a tree ---- */

static int dir_read(void *ctx, const char *path, char **data, size_t *len)
{
	char full[4096];
	struct stat st;
	FILE *f;
	size_t n;

	snprintf(full, sizeof(full), "%s/%s", (const char *)ctx, path);
	if (stat(full, &st) || !S_ISREG(st.st_mode))
		return -ENOENT;
	if (st.st_size > MAX_FILE)
		return -EFBIG;
	f = fopen(full, "rb");
	if (!f)
		return -errno;
	*data = malloc((size_t)st.st_size + 1);
	n = *data ? fread(*data, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	if (!*data)
		return -ENOMEM;
	(*data)[n] = '\0';
	*len = n;
	return 0;
}

static int dir_list(void *ctx, const char *path, int (*fn)(void *c, const char *name, bool dir),
		    void *c)
{
	char full[4096];
	struct dirent *e;
	DIR *d;
	int ret = 0;

	snprintf(full, sizeof(full), "%s/%s", (const char *)ctx, path);
	d = opendir(full);
	if (!d)
		return -ENOENT;
	while (!ret && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		ret = fn(c, e->d_name, e->d_type == DT_DIR);
	}
	closedir(d);
	return ret;
}

void tree_src__dir(struct tree_src *t, const char *root)
{
	t->ctx = (void *)root;
	t->read = dir_read;
	t->list = dir_list;
}

/* ---- targets.yaml ---- */

static int helm_wls(struct tgt *tg, yaml_document_t *d, yaml_node_t *m, char *err, size_t errlen)
{
	yaml_node_pair_t *pr;

	if (!m)
		return 0;
	if (!yt__is_map(m)) {
		snprintf(err, errlen, "helm.workloads: a mapping of KIND/NAME");
		return -EINVAL;
	}
	tg->wls = calloc(TGT_HELM_WLS, sizeof(*tg->wls));
	if (!tg->wls)
		return -ENOMEM;
	for (pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
		const char *k = yt__str(yaml_document_get_node(d, pr->key));
		yaml_node_t *v = yaml_document_get_node(d, pr->value), *cs;
		struct tgt_helm_wl *w;
		yaml_node_pair_t *c;

		if (!k || !strchr(k, '/') || tg->n_wls == TGT_HELM_WLS) {
			snprintf(err, errlen, "helm.workloads: \"%s\": KIND/NAME", k ? k : "?");
			return -EINVAL;
		}
		w = &tg->wls[tg->n_wls++];
		snprintf(w->workload, sizeof(w->workload), "%s", k);
		if (yt__str(yt__get(d, v, "replicas")))
			snprintf(w->replicas, sizeof(w->replicas), "%s",
				 yt__str(yt__get(d, v, "replicas")));
		cs = yt__get(d, v, "containers");
		if (!yt__is_map(cs)) {
			snprintf(err, errlen,
				 "helm.workloads.%s.containers: a mapping of "
				 "container: values.path.to.resources",
				 k);
			return -EINVAL;
		}
		for (c = cs->data.mapping.pairs.start; c < cs->data.mapping.pairs.top; c++) {
			const char *cn = yt__str(yaml_document_get_node(d, c->key));
			const char *path = yt__str(yaml_document_get_node(d, c->value));

			if (!cn || !path || !*path || w->n_ctr == TGT_HELM_CTRS) {
				snprintf(err, errlen, "helm.workloads.%s.containers: bad entry", k);
				return -EINVAL;
			}
			snprintf(w->ctr[w->n_ctr], sizeof(w->ctr[0]), "%s", cn);
			snprintf(w->path[w->n_ctr++], sizeof(w->path[0]), "%s", path);
		}
	}
	return 0;
}

/* A repository path: relative, no "..", no leading "/". */
static bool safe_path(const char *p)
{
	const char *s;

	if (!p || !*p || p[0] == '/' || strlen(p) >= TGT_PATH)
		return false;
	for (s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return false;
	return true;
}

static int one_target(struct tgt *tg, yaml_document_t *d, yaml_node_t *n, size_t i, char *err,
		      size_t errlen)
{
	const char *cl = yt__str(yt__get(d, n, "cluster")),
		   *ns = yt__str(yt__get(d, n, "namespace"));
	const char *kz = yt__str(yt__get(d, n, "kustomize")),
		   *grp = yt__str(yt__get(d, n, "group"));
	yaml_node_t *helm = yt__get(d, n, "helm");
	const char *values = yt__str(yt__get(d, helm, "values"));

	if (!ns || (!kz == !helm)) {
		snprintf(err, errlen, "targets[%zu]: needs namespace, and kustomize or helm", i);
		return -EINVAL;
	}
	snprintf(tg->cluster, sizeof(tg->cluster), "%s", cl ? cl : "");
	snprintf(tg->ns, sizeof(tg->ns), "%s", ns);
	snprintf(tg->group, sizeof(tg->group), "%s", grp ? grp : "");
	if (ns[0] == '^') {
		if (regcomp(&tg->re, ns, REG_EXTENDED | REG_NOSUB)) {
			snprintf(err, errlen, "targets[%zu]: bad expression %s", i, ns);
			return -EINVAL;
		}
		tg->is_re = true;
	}
	tg->type = kz ? TGT_KUSTOMIZE : TGT_HELM;
	if (!safe_path(kz ? kz : values)) {
		snprintf(err, errlen, "targets[%zu]: %s: a path inside the repository", i,
			 kz ? "kustomize" : "helm.values");
		return -EINVAL;
	}
	snprintf(tg->path, sizeof(tg->path), "%s", kz ? kz : values);
	return kz ? 0 : helm_wls(tg, d, yt__get(d, helm, "workloads"), err, errlen);
}

int targets__parse(struct targets *t, const char *text, size_t len, char *err, size_t errlen)
{
	yaml_node_t *root, *list;
	yaml_document_t *d;
	struct yt y;
	char why[256];
	size_t i;
	int ret;

	memset(t, 0, sizeof(*t));
	ret = yt__parse(&y, text, len, why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, ".podmeter/targets.yaml: %s", why);
		return ret;
	}
	d = &y.docs[0];
	root = yt__root(&y, 0);
	list = yt__get(d, root, "targets");
	for (i = 0; !ret && i < yt__len(list) && i < TGT_MAX; i++) {
		ret = one_target(&t->v[t->n], d, yt__item(d, list, i), i, why, sizeof(why));
		t->n++;
	}
	yt__free(&y);
	if (ret) {
		snprintf(err, errlen, ".podmeter/targets.yaml: %s", why);
		targets__free(t);
	}
	return ret;
}

void targets__free(struct targets *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (t->v[i].is_re)
			regfree(&t->v[i].re);
		free(t->v[i].wls);
	}
	memset(t, 0, sizeof(*t));
}

const struct tgt *targets__find(const struct targets *t, const char *cluster, const char *ns)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct tgt *tg = &t->v[i];

		if (tg->cluster[0] && strcmp(tg->cluster, cluster))
			continue;
		if (tg->is_re ? !regexec(&tg->re, ns, 0, NULL, 0) : !strcmp(tg->ns, ns))
			return tg;
	}
	return NULL;
}

/* Branch-safe: letters, digits, '-', '_', '.'; others become '-'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			*s = '-';
}

void targets__group(const struct tgt *tg, const char *cluster, const char *ns, char *out,
		    size_t len)
{
	if (tg->group[0])
		snprintf(out, len, "%s", tg->group);
	else if (cluster[0])
		snprintf(out, len, "%s-%s", cluster, ns);
	else
		snprintf(out, len, "%s", ns);
	sanitize(out);
}

/* ---- manifests ---- */

void mf__free(struct mf_index *ix)
{
	free(ix->v);
	memset(ix, 0, sizeof(*ix));
}

static struct mf_workload *mf_add(struct mf_index *ix, const char *kind, const char *name)
{
	size_t i;

	for (i = 0; i < ix->n; i++)
		if (!strcmp(ix->v[i].kind, kind) && !strcmp(ix->v[i].name, name))
			return &ix->v[i];
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 16;
		struct mf_workload *g = realloc(ix->v, cap * sizeof(*g));

		if (!g)
			return NULL;
		ix->v = g;
		ix->cap = cap;
	}
	memset(&ix->v[ix->n], 0, sizeof(ix->v[0]));
	snprintf(ix->v[ix->n].kind, sizeof(ix->v[0].kind), "%s", kind);
	snprintf(ix->v[ix->n].name, sizeof(ix->v[0].name), "%s", name);
	return &ix->v[ix->n++];
}

const struct mf_workload *mf__find(const struct mf_index *ix, const char *kind, const char *name)
{
	size_t i;

	for (i = 0; i < ix->n; i++)
		if (!strcmp(ix->v[i].kind, kind) && !strcmp(ix->v[i].name, name))
			return &ix->v[i];
	return NULL;
}

bool mf__has_container(const struct mf_workload *w, const char *ctr)
{
	int i;

	for (i = 0; i < w->n_ctr; i++)
		if (!strcmp(w->ctr[i], ctr))
			return true;
	return false;
}

static bool is_workload_kind(const char *k)
{
	return k && (!strcmp(k, "Deployment") || !strcmp(k, "StatefulSet") ||
		     !strcmp(k, "DaemonSet") || !strcmp(k, "ReplicaSet"));
}

struct scan {
	struct mf_index *ix;
	const struct tree_src *src;
	const char *opt_key, *opt_val;
	char *err;
	size_t errlen;
};

static void scan_workload(struct scan *sc, yaml_document_t *d, yaml_node_t *root, const char *kind,
			  const char *name)
{
	yaml_node_t *ctrs = yt__path(d, root, "spec", "template", "spec", "containers", NULL);
	const char *ns = yt__str(yt__path(d, root, "metadata", "namespace", NULL));
	const char *opt = yt__str(yt__path(d, root, "metadata", "annotations", sc->opt_key, NULL));
	struct mf_workload *w = mf_add(sc->ix, kind, name);
	size_t i;

	if (!w)
		return;
	snprintf(w->ns, sizeof(w->ns), "%s", ns ? ns : "");
	w->opted_out |= opt && !strcmp(opt, sc->opt_val);
	for (i = 0; i < yt__len(ctrs) && w->n_ctr < MF_CTRS; i++) {
		const char *cn = yt__str(yt__get(d, yt__item(d, ctrs, i), "name"));

		if (cn && !mf__has_container(w, cn))
			snprintf(w->ctr[w->n_ctr++], sizeof(w->ctr[0]), "%s", cn);
	}
}

/* autoscaling/v1 and v2 without metrics scale on CPU; v2 says so in metrics[] */
static bool hpa_on_cpu(yaml_document_t *d, yaml_node_t *root)
{
	yaml_node_t *spec = yt__get(d, root, "spec"), *metrics = yt__get(d, spec, "metrics");
	size_t i;

	if (yt__get(d, spec, "targetCPUUtilizationPercentage") || !yt__len(metrics))
		return true;
	for (i = 0; i < yt__len(metrics); i++) {
		yaml_node_t *m = yt__item(d, metrics, i);
		const char *r = yt__str(yt__path(d, m, "resource", "name", NULL));
		const char *cr = yt__str(yt__path(d, m, "containerResource", "name", NULL));

		if ((r && !strcmp(r, "cpu")) || (cr && !strcmp(cr, "cpu")))
			return true;
	}
	return false;
}

static void scan_doc(struct scan *sc, yaml_document_t *d, yaml_node_t *root, bool second_pass)
{
	const char *kind = yt__str(yt__get(d, root, "kind"));
	const char *name = yt__str(yt__path(d, root, "metadata", "name", NULL));
	struct mf_workload *w;

	if (!kind || !name)
		return;
	if (!second_pass && is_workload_kind(kind)) {
		scan_workload(sc, d, root, kind, name);
	} else if (second_pass && !strcmp(kind, "HorizontalPodAutoscaler") && hpa_on_cpu(d, root)) {
		const char *tk = yt__str(yt__path(d, root, "spec", "scaleTargetRef", "kind", NULL));
		const char *tn = yt__str(yt__path(d, root, "spec", "scaleTargetRef", "name", NULL));

		if (!tk || !tn || !(w = (struct mf_workload *)mf__find(sc->ix, tk, tn)))
			return;
		w->hpa_cpu = true;
		snprintf(w->hpa, sizeof(w->hpa), "%s", name);
	}
}

static void join(char *out, size_t len, const char *dir, const char *name)
{
	if (dir[0])
		snprintf(out, len, "%s/%s", dir, name);
	else
		snprintf(out, len, "%s", name);
}

/* Every document of a manifest file, twice: workloads, then the HPAs that scale them. */
static int scan_file(struct scan *sc, const char *path, struct yt *keep)
{
	char *data, why[256];
	size_t len;
	int ret;

	if (sc->ix->files++ > MF_MAX_FILES)
		return -E2BIG;
	ret = sc->src->read(sc->src->ctx, path, &data, &len);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	ret = yt__parse(keep, data, len, why, sizeof(why));
	free(data);
	if (ret) {
		snprintf(sc->err, sc->errlen, "%s: %s", path, why);
		return ret;
	}
	return 0;
}

static const char *const kz_names[] = { "kustomization.yaml", "kustomization.yml", "Kustomization",
					NULL };

static int read_kustomization(const struct tree_src *src, const char *dir, char **data, size_t *len,
			      char *name, size_t namelen)
{
	char path[TGT_PATH * 2];
	int i, ret = -ENOENT;

	for (i = 0; kz_names[i] && ret == -ENOENT; i++) {
		join(path, sizeof(path), dir, kz_names[i]);
		ret = src->read(src->ctx, path, data, len);
		if (!ret && name)
			snprintf(name, namelen, "%s", path);
	}
	return ret;
}

struct docs {
	struct yt *v;
	size_t n, cap;
};

static struct yt *docs_push(struct docs *ds)
{
	if (ds->n == ds->cap) {
		size_t cap = ds->cap ? ds->cap * 2 : 16;
		struct yt *g = realloc(ds->v, cap * sizeof(*g));

		if (!g)
			return NULL;
		ds->v = g;
		ds->cap = cap;
	}
	memset(&ds->v[ds->n], 0, sizeof(ds->v[0]));
	return &ds->v[ds->n++];
}

static bool is_remote(const char *s)
{
	return strstr(s, "://") || !strncmp(s, "github.com/", 11) || !strncmp(s, "git@", 4);
}

static bool is_yaml(const char *s)
{
	size_t n = strlen(s);

	return (n > 5 && !strcmp(s + n - 5, ".yaml")) || (n > 4 && !strcmp(s + n - 4, ".yml"));
}

/* Normalise "a/b/../c" and "./x": kustomize paths are relative to their kustomization. */
static int norm_path(char *out, size_t len, const char *dir, const char *rel)
{
	char tmp[TGT_PATH * 2], *parts[128], *save, *tok;
	size_t n = 0, i, o = 0;

	join(tmp, sizeof(tmp), dir, rel);
	for (tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (!n)
				return -EINVAL; /* outside the repository */
			n--;
			continue;
		}
		if (n == 128)
			return -E2BIG;
		parts[n++] = tok;
	}
	out[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s", i ? "/" : "",
				      parts[i]);
	return o < len ? 0 : -ENAMETOOLONG;
}

static int scan_kustomize(struct scan *sc, const char *dir, struct docs *ds, int depth)
{
	static const char *const lists[] = { "resources", "bases", "components", NULL };
	char *data, path[TGT_PATH * 2];
	struct yt kz;
	size_t len, i;
	int l, ret;

	if (depth > MF_MAX_DEPTH)
		return -ELOOP;
	ret = read_kustomization(sc->src, dir, &data, &len, NULL, 0);
	if (ret)
		return ret;
	ret = yt__parse(&kz, data, len, sc->err, sc->errlen);
	free(data);
	if (ret)
		return ret;
	for (l = 0; !ret && lists[l]; l++) {
		yaml_node_t *seq = yt__get(&kz.docs[0], yt__root(&kz, 0), lists[l]);

		for (i = 0; !ret && i < yt__len(seq); i++) {
			const char *r = yt__str(yt__item(&kz.docs[0], seq, i));
			struct yt *y;

			if (!r || is_remote(r) || norm_path(path, sizeof(path), dir, r))
				continue;
			if (!is_yaml(r)) {
				ret = scan_kustomize(sc, path, ds, depth + 1);
				ret = ret == -ENOENT ? 0 : ret;
				continue;
			}
			y = docs_push(ds);
			ret = y ? scan_file(sc, path, y) : -ENOMEM;
		}
	}
	yt__free(&kz);
	return ret;
}

static int scan_helm(struct scan *sc, const struct tgt *tg)
{
	size_t i;
	int k;

	for (i = 0; i < tg->n_wls; i++) {
		const struct tgt_helm_wl *h = &tg->wls[i];
		const char *slash = strchr(h->workload, '/');
		char kind[64];
		struct mf_workload *w;

		snprintf(kind, sizeof(kind), "%.*s", (int)(slash - h->workload), h->workload);
		w = mf_add(sc->ix, kind, slash + 1);
		if (!w)
			return -ENOMEM;
		for (k = 0; k < h->n_ctr && w->n_ctr < MF_CTRS; k++)
			snprintf(w->ctr[w->n_ctr++], sizeof(w->ctr[0]), "%s", h->ctr[k]);
	}
	return 0;
}

int mf__scan(struct mf_index *ix, const struct tree_src *src, const struct tgt *tg,
	     const char *opt_key, const char *opt_val, char *err, size_t errlen)
{
	struct scan sc = { ix, src, opt_key, opt_val, err, errlen };
	struct docs ds = { 0 };
	size_t i, k;
	int ret, pass;

	memset(ix, 0, sizeof(*ix));
	err[0] = '\0';
	if (tg->type == TGT_HELM)
		return scan_helm(&sc, tg);
	ret = scan_kustomize(&sc, tg->path, &ds, 0);
	if (ret == -ENOENT)
		snprintf(err, errlen, "%s: no kustomization.yaml", tg->path);
	else if (ret && !err[0])
		snprintf(err, errlen, "%s: %s", tg->path, strerror(-ret));
	for (pass = 0; !ret && pass < 2; pass++)
		for (i = 0; i < ds.n; i++)
			for (k = 0; k < ds.v[i].n; k++)
				scan_doc(&sc, &ds.v[i].docs[k], yt__root(&ds.v[i], k), pass);
	for (i = 0; i < ds.n; i++)
		yt__free(&ds.v[i]);
	free(ds.v);
	return ret;
}

/* ---- changes ---- */

void changes__free(struct changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].data);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

struct file_change *changes__get(struct changes *c, const char *path)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].path, path))
			return &c->v[i];
	return NULL;
}

int changes__set(struct changes *c, const char *path, char *data, size_t len)
{
	struct file_change *f = changes__get(c, path);

	if (!f) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 8;
			struct file_change *g = realloc(c->v, cap * sizeof(*g));

			if (!g) {
				free(data);
				return -ENOMEM;
			}
			c->v = g;
			c->cap = cap;
		}
		f = &c->v[c->n++];
		memset(f, 0, sizeof(*f));
		snprintf(f->path, sizeof(f->path), "%s", path);
	}
	free(f->data);
	f->data = data;
	f->len = len;
	return 0;
}

/* ---- the bot's values: a flat map of path -> scalar ("null" removes) ---- */

struct kv {
	char key[1300];
	char val[64];
};

struct kvs {
	struct kv *v;
	size_t n, cap;
};

static int kvs_set(struct kvs *m, const char *key, const char *val)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].key, key))
			break;
	if (i == m->n) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? m->cap * 2 : 32;
			struct kv *g = realloc(m->v, cap * sizeof(*g));

			if (!g)
				return -ENOMEM;
			m->v = g;
			m->cap = cap;
		}
		m->n++;
		snprintf(m->v[i].key, sizeof(m->v[i].key), "%s", key);
	}
	snprintf(m->v[i].val, sizeof(m->v[i].val), "%s", val);
	return 0;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

/* A scalar as written back: quantities quoted, "null" bare, numbers bare. */
static void emit_scalar(struct yt_buf *b, const char *v)
{
	const char *s = v;

	if (!strcmp(v, "null")) {
		yt_buf__printf(b, "null");
		return;
	}
	for (; *s >= '0' && *s <= '9'; s++)
		;
	if (!*s && *v)
		yt_buf__printf(b, "%s", v);
	else
		yt_buf__quoted(b, v);
}

/* A mapping key: bare when it is a plain word, quoted otherwise. */
static void yt_key(struct yt_buf *b, const char *k)
{
	const char *s;
	bool plain = (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z');

	for (s = k; plain && *s; s++)
		plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || *s == '_' || *s == '-';
	if (plain && strcmp(k, "null") && strcmp(k, "true") && strcmp(k, "false") &&
	    strcmp(k, "yes") && strcmp(k, "no") && strcmp(k, "on") && strcmp(k, "off"))
		yt_buf__printf(b, "%s", k);
	else
		yt_buf__quoted(b, k);
}

/* Rows [lo, hi) share their first @depth components; emit them as nested mappings. */
static void emit_tree(struct yt_buf *b, struct kv *v, size_t lo, size_t hi, size_t off, int indent)
{
	size_t i = lo;

	while (i < hi) {
		const char *k = v[i].key + off, *dot = strchr(k, '.');
		size_t klen = dot ? (size_t)(dot - k) : strlen(k), j = i + 1;
		char name[256];

		snprintf(name, sizeof(name), "%.*s", (int)klen, k);
		while (j < hi && !strncmp(v[j].key + off, k, klen) &&
		       (v[j].key[off + klen] == '.' || v[j].key[off + klen] == '\0'))
			j++;
		yt_buf__printf(b, "%*s", indent, "");
		yt_key(b, name);
		if (!dot) {
			yt_buf__printf(b, ": ");
			emit_scalar(b, v[i].val);
			yt_buf__printf(b, "\n");
		} else {
			yt_buf__printf(b, ":\n");
			emit_tree(b, v, i, j, off + klen + 1, indent + 2);
		}
		i = j;
	}
}

/* Our own values file back into paths: every scalar leaf. */
static int flatten(struct kvs *m, yaml_document_t *d, yaml_node_t *n, const char *prefix)
{
	yaml_node_pair_t *pr;
	char path[600];
	int ret = 0;

	if (!yt__is_map(n))
		return yt__str(n) ? kvs_set(m, prefix,
					    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
							    !strcmp(yt__str(n), "null")
						    ? "null"
						    : yt__str(n))
				  : 0;
	for (pr = n->data.mapping.pairs.start; !ret && pr < n->data.mapping.pairs.top; pr++) {
		const char *k = yt__str(yaml_document_get_node(d, pr->key));

		if (!k)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k);
		ret = flatten(m, d, yaml_document_get_node(d, pr->value), path);
	}
	return ret;
}

static void item_value(const struct gs_item *it, char *buf, size_t len)
{
	bool cpu = !strncmp(it->resource, "cpu", 3);

	if (it->proposed < 0)
		snprintf(buf, len, "null");
	else if (!strcmp(it->resource, "replicas"))
		snprintf(buf, len, "%.0f", it->proposed);
	else if (cpu)
		decide__fmt_cpu(it->proposed, buf, len);
	else
		decide__fmt_mem(it->proposed, buf, len);
}

/* "requests.cpu" for "cpu", "limits.memory" for "memory_limit" */
static const char *res_path(const char *r)
{
	if (!strcmp(r, "cpu"))
		return "requests.cpu";
	if (!strcmp(r, "memory"))
		return "requests.memory";
	if (!strcmp(r, "cpu_limit"))
		return "limits.cpu";
	if (!strcmp(r, "memory_limit"))
		return "limits.memory";
	return NULL;
}

static const char HEADER[] =
	"# Owned by podmeter-reconciler: regenerated from the base branch at each cycle,\n"
	"# edits here are overwritten. To keep a value, change policy (.podmeter/policy.yaml)\n"
	"# or close the pull request; podmeter remembers a rejection.\n";

/* Helm: values path -> value */
static int render_helm(const struct tgt *tg, const struct tree_src *src,
		       const struct gs_item *items, size_t n, struct changes *c, char *err,
		       size_t errlen)
{
	struct kvs m = { 0 };
	struct yt_buf b = { 0 };
	char *data = NULL, key[600], val[64];
	size_t len, i;
	int ret = src->read(src->ctx, tg->path, &data, &len), k;
	struct yt y;

	if (!ret) {
		ret = yt__parse(&y, data, len, err, errlen);
		if (!ret && y.n)
			ret = flatten(&m, &y.docs[0], yt__root(&y, 0), "");
		if (!ret)
			yt__free(&y);
	} else if (ret == -ENOENT) {
		ret = 0;
	}
	free(data);
	for (i = 0; !ret && i < n; i++) {
		const struct gs_item *it = &items[i];
		const struct tgt_helm_wl *h = NULL;
		char wl[400];
		size_t w;

		snprintf(wl, sizeof(wl), "%s/%s", it->wl.kind, it->wl.name);
		for (w = 0; w < tg->n_wls && !h; w++)
			if (!strcmp(tg->wls[w].workload, wl))
				h = &tg->wls[w];
		if (!h)
			continue;
		item_value(it, val, sizeof(val));
		key[0] = '\0';
		if (!strcmp(it->resource, "replicas") && h->replicas[0])
			snprintf(key, sizeof(key), "%s", h->replicas);
		for (k = 0; k < h->n_ctr && !key[0] && res_path(it->resource); k++)
			if (!strcmp(h->ctr[k], it->container))
				snprintf(key, sizeof(key), "%s.%s", h->path[k],
					 res_path(it->resource));
		if (key[0])
			ret = kvs_set(&m, key, val);
	}
	if (!ret) {
		qsort(m.v, m.n, sizeof(*m.v), kv_cmp);
		yt_buf__printf(&b, "%s", HEADER);
		emit_tree(&b, m.v, 0, m.n, 0, 0);
		ret = b.err;
	}
	free(m.v);
	if (ret) {
		yt_buf__free(&b);
		return ret;
	}
	return changes__set(c, tg->path, b.s, b.n);
}

/* Kustomize: the patch file's documents as paths "KIND\x1fNAME\x1fCONTAINER\x1frequests.cpu". */
static int patch_read(struct kvs *m, const char *data, size_t len, char *err, size_t errlen)
{
	struct yt y;
	size_t i, k;
	int ret = yt__parse(&y, data, len, err, errlen);

	for (i = 0; !ret && i < y.n; i++) {
		yaml_document_t *d = &y.docs[i];
		yaml_node_t *r = yt__root(&y, i), *ctrs, *rep;
		const char *kind = yt__str(yt__get(d, r, "kind"));
		const char *name = yt__str(yt__path(d, r, "metadata", "name", NULL));
		char key[1300];

		if (!kind || !name)
			continue;
		rep = yt__path(d, r, "spec", "replicas", NULL);
		snprintf(key, sizeof(key), "%s\x1f%s\x1f\x1freplicas", kind, name);
		if (yt__str(rep))
			ret = kvs_set(m, key, yt__str(rep));
		ctrs = yt__path(d, r, "spec", "template", "spec", "containers", NULL);
		for (k = 0; !ret && k < yt__len(ctrs); k++) {
			yaml_node_t *c = yt__item(d, ctrs, k);
			const char *cn = yt__str(yt__get(d, c, "name"));
			char prefix[600];

			if (!cn)
				continue;
			snprintf(prefix, sizeof(prefix), "%s\x1f%s\x1f%s\x1f", kind, name, cn);
			struct kvs sub = { 0 };
			size_t j;

			ret = flatten(&sub, d, yt__get(d, c, "resources"), "");
			for (j = 0; !ret && j < sub.n; j++) {
				snprintf(key, sizeof(key), "%s%s", prefix, sub.v[j].key);
				ret = kvs_set(m, key, sub.v[j].val);
			}
			free(sub.v);
		}
	}
	yt__free(&y);
	return ret;
}

static const char *api_version(const char *kind)
{
	return !strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet") ||
			       !strcmp(kind, "DaemonSet") || !strcmp(kind, "ReplicaSet")
		       ? "apps/v1"
		       : NULL;
}

/* "KIND\x1fNAME\x1fCONTAINER\x1fPATH" split in place into its four parts. */
static void split4(char *key, char **part)
{
	int k = 0;

	part[k++] = key;
	for (; *key && k < 4; key++) {
		if (*key == '\x1f') {
			*key = '\0';
			part[k++] = key + 1;
		}
	}
	while (k < 4)
		part[k++] = key;
}

/* One document per workload: strategic merge patches kustomize applies by kind and name. */
static void patch_emit(struct yt_buf *b, struct kv *v, size_t n)
{
	char prev_wl[700] = "", key[600], wl[700], ctr[GS_NAME], *part[4];
	struct kv *run = calloc(n ? n : 1, sizeof(*run));
	size_t i, j, k;
	bool started = false;

	if (!run) {
		b->err = -ENOMEM;
		return;
	}
	yt_buf__printf(b, "%s", HEADER);
	for (i = 0; i < n; i = j) {
		snprintf(key, sizeof(key), "%s", v[i].key);
		split4(key, part);
		snprintf(wl, sizeof(wl), "%s/%s", part[0], part[1]);
		snprintf(ctr, sizeof(ctr), "%s", part[2]);
		if (strcmp(wl, prev_wl)) {
			yt_buf__printf(b, "---\napiVersion: %s\nkind: %s\nmetadata:\n  name: ",
				       api_version(part[0]), part[0]);
			yt_buf__quoted(b, part[1]);
			yt_buf__printf(b, "\nspec:\n");
			snprintf(prev_wl, sizeof(prev_wl), "%s", wl);
			started = false;
		}
		/* the run of this workload and container */
		for (j = i, k = 0; j < n; j++, k++) {
			snprintf(key, sizeof(key), "%s", v[j].key);
			split4(key, part);
			snprintf(run[k].key, sizeof(run[k].key), "%s", part[3]);
			snprintf(run[k].val, sizeof(run[k].val), "%s", v[j].val);
			if (strncmp(v[j].key, v[i].key, strlen(wl) + strlen(ctr) + 2) ||
			    strcmp(part[2], ctr))
				break;
		}
		if (!ctr[0]) { /* replicas: their container part is empty, they sort first */
			for (size_t r = 0; r < k; r++)
				if (!strcmp(run[r].key, "replicas"))
					yt_buf__printf(b, "  replicas: %s\n", run[r].val);
			continue;
		}
		if (!started)
			yt_buf__printf(b, "  template:\n    spec:\n      containers:\n");
		started = true;
		yt_buf__printf(b, "      - name: ");
		yt_buf__quoted(b, ctr);
		yt_buf__printf(b, "\n        resources:\n");
		emit_tree(b, run, 0, k, 0, 10);
	}
	free(run);
}

static int render_kustomize(const struct tgt *tg, const struct tree_src *src,
			    const struct gs_item *items, size_t n, struct changes *c, char *err,
			    size_t errlen)
{
	char path[TGT_PATH * 2], kzpath[TGT_PATH * 2], key[1300], val[64], *data = NULL, *kz;
	struct yt_buf b = { 0 };
	struct kvs m = { 0 };
	size_t len, i;
	int ret, e = 0;

	join(path, sizeof(path), tg->path, TGT_PATCH_FILE);
	ret = src->read(src->ctx, path, &data, &len);
	if (!ret)
		ret = patch_read(&m, data, len, err, errlen);
	else if (ret == -ENOENT)
		ret = 0;
	free(data);
	for (i = 0; !ret && i < n; i++) {
		const struct gs_item *it = &items[i];

		if (!api_version(it->wl.kind))
			continue;
		item_value(it, val, sizeof(val));
		if (!strcmp(it->resource, "replicas"))
			snprintf(key, sizeof(key), "%s\x1f%s\x1f\x1freplicas", it->wl.kind,
				 it->wl.name);
		else if (res_path(it->resource))
			snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s", it->wl.kind, it->wl.name,
				 it->container, res_path(it->resource));
		else
			continue;
		ret = kvs_set(&m, key, val);
	}
	if (!ret) {
		qsort(m.v, m.n, sizeof(*m.v), kv_cmp);
		patch_emit(&b, m.v, m.n);
		ret = b.err;
	}
	free(m.v);
	if (!ret)
		ret = changes__set(c, path, b.s, b.n);
	else
		yt_buf__free(&b);
	if (ret)
		return ret;
	/* the kustomization lists the patch once; after that it is never touched */
	ret = read_kustomization(src, tg->path, &data, &len, kzpath, sizeof(kzpath));
	if (ret) {
		snprintf(err, errlen, "%s: no kustomization.yaml", tg->path);
		return ret;
	}
	kz = kustomization__add_patch(data, len, TGT_PATCH_FILE, &e);
	free(data);
	if (e) {
		snprintf(err, errlen, "%s: cannot add %s to patches", kzpath, TGT_PATCH_FILE);
		return e;
	}
	return kz ? changes__set(c, kzpath, kz, strlen(kz)) : 0;
}

int targets__render(const struct tgt *tg, const struct tree_src *src, const struct gs_item *items,
		    size_t n, struct changes *c, char *err, size_t errlen)
{
	err[0] = '\0';
	if (tg->type == TGT_HELM)
		return render_helm(tg, src, items, n, c, err, errlen);
	return render_kustomize(tg, src, items, n, c, err, errlen);
}

/* ---- the kustomization's patches: list ---- */

static bool listed(const char *text, size_t len, const char *file, int *err)
{
	char why[256];
	struct yt y;
	yaml_node_t *seq;
	size_t i;
	bool found = false;

	*err = yt__parse(&y, text, len, why, sizeof(why));
	if (*err)
		return false;
	seq = yt__get(&y.docs[0], yt__root(&y, 0), "patches");
	if (seq && seq->type != YAML_SEQUENCE_NODE)
		*err = -EINVAL;
	for (i = 0; i < yt__len(seq); i++) {
		const char *p = yt__str(yt__get(&y.docs[0], yt__item(&y.docs[0], seq, i), "path"));

		found |= p && (!strcmp(p, file) || (!strncmp(p, "./", 2) && !strcmp(p + 2, file)));
	}
	yt__free(&y);
	return found;
}

/* The line that starts "patches:" at column 0, or NULL. */
static const char *patches_line(const char *text)
{
	const char *l = text;

	for (; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, "patches:", 8))
			return l;
	return NULL;
}

char *kustomization__add_patch(const char *text, size_t len, const char *file, int *err)
{
	const char *line, *eol, *next;
	struct yt_buf b = { 0 };
	int indent = 0;

	if (listed(text, len, file, err) || *err)
		return NULL;
	line = patches_line(text);
	if (!line) {
		/* no patches yet: a list of its own at the end */
		yt_buf__printf(&b, "%.*s%spatches:\n- path: %s\n", (int)len, text,
			       len && text[len - 1] != '\n' ? "\n" : "", file);
	} else {
		eol = strchr(line, '\n');
		next = eol ? eol + 1 : line + strlen(line);
		if (strstr(line, "[]") && (!eol || strstr(line, "[]") < eol)) {
			/* "patches: []" */
			yt_buf__printf(&b, "%.*spatches:\n- path: %s\n%s", (int)(line - text), text,
				       file, next);
		} else {
			while (next[indent] == ' ')
				indent++;
			yt_buf__printf(&b, "%.*s%*s- path: %s\n%s", (int)(next - text), text,
				       indent, "", file, next);
		}
	}
	if (b.err) {
		*err = b.err;
		yt_buf__free(&b);
		return NULL;
	}
	return b.s;
}
