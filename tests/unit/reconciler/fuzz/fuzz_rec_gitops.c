// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: what the reconciler reads from a GitOps repository, which
 * anyone who can push there writes: .podmeter/policy.yaml (and a local
 * policy), .podmeter/targets.yaml, a kustomization (the patches: line the
 * bot adds), manifests (workloads, HPAs) and the bot's own patch file read
 * back and regenerated. The input is split at its NUL bytes into those
 * files; each one that parses is used as the cycle uses it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const char *part[4];
};

/* A tree of four files: the kustomization, a manifest, the patch file, the values file. */
static int mem_read(void *ctx, const char *path, char **out, size_t *len)
{
	static const char *const names[] = { "d/kustomization.yaml", "d/m.yaml",
					     ("d/" TGT_PATCH_FILE), "v.yaml" };
	struct mem *m = ctx;
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(path, names[i]))
			continue;
		*len = strlen(m->part[i]);
		*out = strdup(m->part[i]);
		return *out ? 0 : -12;
	}
	return -2;
}

static int mem_list(void *ctx, const char *path, int (*fn)(void *c, const char *name, bool dir),
		    void *c)
{
	(void)ctx;
	(void)path;
	(void)fn;
	(void)c;
	return -2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *p[6], err[512], *kz;
	struct pol_settings st;
	struct tree_src src;
	struct targets t;
	struct policy pol;
	struct mf_index ix;
	struct changes c = { 0 };
	struct gs_item it;
	struct mem m;
	size_t i, k = 0;
	int e;

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	p[k++] = s;
	for (i = 0; i < size && k < 6; i++)
		if (!s[i])
			p[k++] = s + i + 1;
	while (k < 6)
		p[k++] = s + size;
	if (!policy__load(&pol, p[0], strlen(p[0]), p[1], strlen(p[1]), err, sizeof(err))) {
		policy__for(&pol, "shop", "Deployment", "web", &st);
		policy__in_scope(&pol, "shop", "Deployment", "web", err, sizeof(err));
		policy__frozen(&pol, 1790208000, err, sizeof(err));
		policy__free(&pol);
	}
	if (!targets__parse(&t, p[2], strlen(p[2]), err, sizeof(err)))
		targets__free(&t);
	kz = kustomization__add_patch(p[3], strlen(p[3]), TGT_PATCH_FILE, &e);
	free(kz);
	m = (struct mem){ { p[3], p[4], p[5], p[5] } };
	src = (struct tree_src){ &m, mem_read, mem_list };
	memset(&t, 0, sizeof(t));
	t.n = 1;
	snprintf(t.v[0].path, sizeof(t.v[0].path), "d");
	if (!mf__scan(&ix, &src, &t.v[0], "podmeter.io/rightsize", "false", err, sizeof(err)))
		mf__free(&ix);
	memset(&it, 0, sizeof(it));
	snprintf(it.wl.kind, sizeof(it.wl.kind), "Deployment");
	snprintf(it.wl.name, sizeof(it.wl.name), "web");
	snprintf(it.container, sizeof(it.container), "app");
	snprintf(it.resource, sizeof(it.resource), "cpu");
	it.proposed = 0.25;
	targets__render(&t.v[0], &src, &it, 1, &c, err, sizeof(err));
	changes__free(&c);
	free(s);
	return 0;
}
