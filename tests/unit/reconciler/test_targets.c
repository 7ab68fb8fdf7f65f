// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where changes go: targets.yaml, the manifests' workloads and HPAs, the
 * kustomization's one added line, and the bot's own files written,
 * read back and regenerated (a later change keeps the earlier ones). The
 * rendering with kubectl is in tests/integration/test_reconciler_propose.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "cycle.h"
#include "targets.h"
#include "yamlt.h"

#define MIB 1048576.0

static char dir[256];

static void put(const char *path, const char *text)
{
	char full[600], *slash;
	FILE *f;

	snprintf(full, sizeof(full), "%s/%s", dir, path);
	for (slash = full + strlen(dir) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		mkdir(full, 0755);
		*slash = '/';
	}
	f = fopen(full, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	static int n;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pm_rec_targets.%d.%d",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), n++);
	return mkdir(dir, 0755);
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void test_add_patch(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "resources:\n- a.yaml\n", "resources:\n- a.yaml\npatches:\n- path: P\n" },
		{ "resources:\n- a.yaml", "resources:\n- a.yaml\npatches:\n- path: P\n" },
		{ "patches:\n  - path: x.yaml\nresources: [a.yaml]\n",
		  "patches:\n  - path: P\n  - path: x.yaml\nresources: [a.yaml]\n" },
		{ "patches: []\nnamespace: shop\n", "patches:\n- path: P\nnamespace: shop\n" },
		{ "# a comment\npatches:\n- path: ./P\n", NULL },
		{ "patches:\n- path: P\n  target: {kind: Deployment}\n", NULL },
	};
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = kustomization__add_patch(cases[i].in, strlen(cases[i].in), "P", &err);

		assert_int_equal(err, 0);
		if (!cases[i].out) {
			assert_null(out);
			continue;
		}
		assert_non_null(out);
		assert_string_equal(out, cases[i].out);
		free(out);
	}
	assert_null(kustomization__add_patch("patches: {a: 1}\n", 16, "P", &err));
	assert_int_not_equal(err, 0);
}

static void item(struct gs_item *it, const char *kind, const char *name, const char *ctr,
		 const char *res, double cur, double v)
{
	memset(it, 0, sizeof(*it));
	snprintf(it->wl.cluster, sizeof(it->wl.cluster), "lab");
	snprintf(it->wl.ns, sizeof(it->wl.ns), "shop");
	snprintf(it->wl.kind, sizeof(it->wl.kind), "%s", kind);
	snprintf(it->wl.name, sizeof(it->wl.name), "%s", name);
	snprintf(it->container, sizeof(it->container), "%s", ctr);
	snprintf(it->resource, sizeof(it->resource), "%s", res);
	it->current = cur;
	it->proposed = v;
}

/* Write @c's files into the directory, as a merge would. */
static void apply(struct changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		char *text = strndup(c->v[i].data, c->v[i].len);

		put(c->v[i].path, text);
		free(text);
	}
	changes__free(c);
}

static const char *leaf(struct yt *y, const char *kind, const char *name, const char *ctr,
			const char *a, const char *b)
{
	size_t i, k;

	for (i = 0; i < y->n; i++) {
		yaml_document_t *d = &y->docs[i];
		yaml_node_t *r = yt__root(y, i), *cs;

		if (!yt__str(yt__get(d, r, "kind")) ||
		    strcmp(yt__str(yt__get(d, r, "kind")), kind) ||
		    strcmp(yt__str(yt__path(d, r, "metadata", "name", NULL)), name))
			continue;
		if (!ctr)
			return yt__str(yt__path(d, r, "spec", a, NULL));
		cs = yt__path(d, r, "spec", "template", "spec", "containers", NULL);
		for (k = 0; k < yt__len(cs); k++) {
			yaml_node_t *c = yt__item(d, cs, k);

			if (!strcmp(yt__str(yt__get(d, c, "name")), ctr))
				return yt__str(yt__path(d, c, "resources", a, b, NULL));
		}
	}
	return NULL;
}

static void read_yaml(const char *path, struct yt *y)
{
	struct tree_src t;
	char *data, err[256];
	size_t len;

	tree_src__dir(&t, dir);
	assert_int_equal(t.read(t.ctx, path, &data, &len), 0);
	assert_int_equal(yt__parse(y, data, len, err, sizeof(err)), 0);
	free(data);
}

static void test_kustomize(void **state)
{
	const char
		*ty = "targets:\n  - cluster: lab\n    namespace: shop\n    kustomize: apps/shop\n";
	struct targets t;
	struct tree_src src;
	struct changes c = { 0 };
	struct gs_item it[4];
	struct mf_index ix;
	const struct mf_workload *w;
	struct yt y;
	char err[256];

	(void)state;
	put("apps/shop/kustomization.yaml", "resources:\n- base\n- hpa.yaml\n");
	put("apps/shop/base/kustomization.yaml", "resources: [deploy.yaml]\n");
	put("apps/shop/base/deploy.yaml",
	    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n"
	    "    podmeter.io/rightsize: \"false\"\nspec:\n  template:\n    spec:\n      containers:\n"
	    "      - name: app\n        image: x\n---\napiVersion: apps/v1\nkind: StatefulSet\n"
	    "metadata: {name: db}\nspec:\n  template:\n    spec:\n      containers: [{name: pg}]\n");
	put("apps/shop/hpa.yaml",
	    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: db}\n"
	    "spec:\n  scaleTargetRef: {kind: StatefulSet, name: db}\n  metrics:\n"
	    "  - {type: Resource, resource: {name: memory}}\n---\n"
	    "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\n"
	    "spec:\n  scaleTargetRef: {kind: Deployment, name: web}\n");
	assert_int_equal(targets__parse(&t, ty, strlen(ty), err, sizeof(err)), 0);
	assert_non_null(targets__find(&t, "lab", "shop"));
	assert_null(targets__find(&t, "lab", "pay"));
	assert_null(targets__find(&t, "prod", "shop"));
	tree_src__dir(&src, dir);
	assert_int_equal(mf__scan(&ix, &src, &t.v[0], "podmeter.io/rightsize", "false", err,
				  sizeof(err)),
			 0);
	w = mf__find(&ix, "Deployment", "web");
	assert_non_null(w);
	assert_true(w->opted_out && w->hpa_cpu && mf__has_container(w, "app"));
	w = mf__find(&ix, "StatefulSet", "db");
	assert_true(w && !w->opted_out && !w->hpa_cpu && mf__has_container(w, "pg"));
	mf__free(&ix);
	/* first change: web's CPU and its limit, db's memory */
	item(&it[0], "Deployment", "web", "app", "cpu", 1, 0.35);
	item(&it[1], "Deployment", "web", "app", "cpu_limit", 2, 0.7);
	item(&it[2], "StatefulSet", "db", "pg", "memory", 1024 * MIB, 410 * MIB);
	assert_int_equal(targets__render(&t.v[0], &src, it, 3, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 2); /* the patch file and the kustomization's line */
	apply(&c);
	/* second change, on the new base: web's memory; removing db's CPU limit; replicas */
	item(&it[0], "Deployment", "web", "app", "memory", 512 * MIB, 300 * MIB);
	item(&it[1], "StatefulSet", "db", "pg", "cpu_limit", 1, -1);
	item(&it[2], "StatefulSet", "db", "", "replicas", -1, 0);
	item(&it[3], "Deployment", "web", "app", "cpu", 0.35, 0.3);
	assert_int_equal(targets__render(&t.v[0], &src, it, 4, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 1); /* the kustomization lists it already */
	apply(&c);
	read_yaml("apps/shop/" TGT_PATCH_FILE, &y);
	assert_string_equal(leaf(&y, "Deployment", "web", "app", "requests", "cpu"), "300m");
	assert_string_equal(leaf(&y, "Deployment", "web", "app", "limits", "cpu"), "700m");
	assert_string_equal(leaf(&y, "Deployment", "web", "app", "requests", "memory"), "300Mi");
	assert_string_equal(leaf(&y, "StatefulSet", "db", "pg", "requests", "memory"), "410Mi");
	assert_string_equal(leaf(&y, "StatefulSet", "db", "pg", "limits", "cpu"), "null");
	assert_string_equal(leaf(&y, "StatefulSet", "db", NULL, "replicas", NULL), "0");
	yt__free(&y);
	targets__free(&t);
}

static void test_helm(void **state)
{
	const char *ty = "targets:\n  - namespace: ^sh\n    group: shop-values\n    helm:\n"
			 "      values: charts/shop/values-podmeter.yaml\n      workloads:\n"
			 "        Deployment/web:\n          replicas: web.replicaCount\n"
			 "          containers:\n            app: web.resources\n"
			 "            envoy: web.mesh.sidecar.resources\n";
	struct targets t;
	struct tree_src src;
	struct changes c = { 0 };
	struct gs_item it[3];
	struct yt y;
	char err[256], grp[200];
	yaml_document_t *d;

	(void)state;
	assert_int_equal(targets__parse(&t, ty, strlen(ty), err, sizeof(err)), 0);
	assert_non_null(targets__find(&t, "any", "shop"));
	targets__group(&t.v[0], "lab", "shop", grp, sizeof(grp));
	assert_string_equal(grp, "shop-values");
	tree_src__dir(&src, dir);
	item(&it[0], "Deployment", "web", "app", "cpu", 1, 0.25);
	item(&it[1], "Deployment", "web", "envoy", "memory", 128 * MIB, 64 * MIB);
	item(&it[2], "Deployment", "web", "", "replicas", -1, 0);
	assert_int_equal(targets__render(&t.v[0], &src, it, 3, &c, err, sizeof(err)), 0);
	apply(&c);
	item(&it[0], "Deployment", "web", "app", "memory", 1024 * MIB, 2048 * MIB);
	assert_int_equal(targets__render(&t.v[0], &src, it, 1, &c, err, sizeof(err)), 0);
	apply(&c);
	read_yaml("charts/shop/values-podmeter.yaml", &y);
	d = &y.docs[0];
	assert_string_equal(yt__str(yt__path(d, yt__root(&y, 0), "web", "resources", "requests",
					     "cpu", NULL)),
			    "250m");
	assert_string_equal(yt__str(yt__path(d, yt__root(&y, 0), "web", "resources", "requests",
					     "memory", NULL)),
			    "2Gi");
	assert_string_equal(yt__str(yt__path(d, yt__root(&y, 0), "web", "mesh", "sidecar",
					     "resources", "requests", "memory", NULL)),
			    "64Mi");
	assert_string_equal(yt__str(yt__path(d, yt__root(&y, 0), "web", "replicaCount", NULL)),
			    "0");
	yt__free(&y);
	targets__free(&t);
}

static void test_targets_bad(void **state)
{
	static const char *const bad[] = {
		"targets:\n  - kustomize: a\n",
		"targets:\n  - namespace: x\n",
		"targets:\n  - namespace: x\n    kustomize: ../outside\n",
		"targets:\n  - namespace: x\n    kustomize: /abs\n",
		"targets:\n  - namespace: x\n    helm: {values: v.yaml, workloads: {web: {}}}\n",
		"targets: [\n",
	};
	struct targets t;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(targets__parse(&t, bad[i], strlen(bad[i]), err, sizeof(err)),
				     0);
		assert_non_null(strstr(err, "targets"));
	}
}

/* A pull request's body stays under the forges' limit, dropping detail as it must. */
static void test_body_bounded(void **state)
{
	struct group g;
	char *doc, *body, hash[17];
	size_t i;

	(void)state;
	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "lab-shop");
	snprintf(g.kind, sizeof(g.kind), "resize");
	g.items = calloc(1000, sizeof(*g.items));
	assert_non_null(g.items);
	for (g.n = 0; g.n < 2; g.n++) {
		char name[32];

		snprintf(name, sizeof(name), "web-%zu", g.n);
		item(&g.items[g.n], "Deployment", name, "app", "cpu", 1, 0.5);
	}
	report__hash(&g, hash);
	doc = report__doc(&g, "lab-shop#1", hash);
	body = report__body(&g, "lab-shop#1", hash, doc);
	assert_non_null(strstr(body, "```json")); /* small: everything */
	free(body);
	free(doc);
	for (i = g.n; i < 1000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "a-rather-long-workload-name-%zu", i);
		item(&g.items[i], "Deployment", name, "app", "cpu", 1, 0.5);
	}
	g.n = 1000;
	doc = report__doc(&g, "lab-shop#2", hash);
	body = report__body(&g, "lab-shop#2", hash, doc);
	assert_true(strlen(doc) > 60000);
	assert_true(strlen(body) <= 60000);
	assert_null(strstr(body, "```json"));
	assert_non_null(strstr(body, "850 more: see `.podmeter/proposals/lab-shop.json`"));
	assert_true(!strncmp(body, "<!-- podmeter-proposal group=lab-shop id=lab-shop#2 ", 52));
	free(body);
	free(doc);
	free(g.items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_patch),
		cmocka_unit_test_setup_teardown(test_kustomize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helm, setup, teardown),
		cmocka_unit_test(test_targets_bad),
		cmocka_unit_test(test_body_bounded),
	};

	return cmocka_run_group_tests_name("targets", tests, NULL, NULL);
}
