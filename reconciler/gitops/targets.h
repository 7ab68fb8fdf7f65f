/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a change goes: `.podmeter/targets.yaml` maps a cluster and
 * namespace to a kustomize directory (the bot owns one patch file there,
 * added to the kustomization's `patches:` once) or to a Helm values file
 * the bot owns (with the path to each container's resources). What the
 * manifests say (workloads, containers, HorizontalPodAutoscalers, the
 * opt-out annotation) is read from the same tree. The bot never rewrites a
 * file it does not own; the one edit of another file is the line that adds
 * its patch to `patches:`, once.
 */
#ifndef PODMETER_RECONCILER_TARGETS_H
#define PODMETER_RECONCILER_TARGETS_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include "gstore.h"

#define TGT_PATCH_FILE "podmeter-resources.yaml" /* in each kustomize directory */
#define TGT_PATH       512
#define TGT_MAX	       256
#define TGT_HELM_WLS   64
#define TGT_HELM_CTRS  16

/* A tree of files: a commit (gitw.c) or a directory. */
struct tree_src {
	void *ctx;
	/* The file at @path, malloc'ed; -ENOENT when there is none. */
	int (*read)(void *ctx, const char *path, char **data, size_t *len);
	/* Each entry of directory @path; -ENOENT when there is none. */
	int (*list)(void *ctx, const char *path, int (*fn)(void *c, const char *name, bool dir),
		    void *c);
};

/* A directory on disk as a tree_src (tests, dry runs against a checkout). */
void tree_src__dir(struct tree_src *t, const char *root);

enum tgt_type { TGT_KUSTOMIZE = 0, TGT_HELM };

struct tgt_helm_wl {
	char workload[320]; /* KIND/NAME */
	char replicas[256]; /* values path of its replica count; "" none */
	char ctr[TGT_HELM_CTRS][128], path[TGT_HELM_CTRS][256];
	int n_ctr;
};

struct tgt {
	char cluster[GS_NAME]; /* "" any */
	char ns[GS_NAME];      /* exact, or a regular expression when it starts with ^ */
	regex_t re;
	bool is_re;
	char group[128]; /* the branch podmeter/<group>; "" = <cluster>-<namespace> */
	enum tgt_type type;
	char path[TGT_PATH]; /* kustomize directory, or the bot's values file */
	struct tgt_helm_wl *wls;
	size_t n_wls;
};

struct targets {
	struct tgt v[TGT_MAX];
	size_t n;
};

int targets__parse(struct targets *t, const char *text, size_t len, char *err, size_t errlen);
void targets__free(struct targets *t);
/* The first target of @cluster and @ns, NULL when none. */
const struct tgt *targets__find(const struct targets *t, const char *cluster, const char *ns);
/* The group of @tg for @cluster and @ns: a branch name's last part. */
void targets__group(const struct tgt *tg, const char *cluster, const char *ns, char *out,
		    size_t len);

/* ---- what the manifests say ---- */

#define MF_CTRS 32

struct mf_workload {
	char kind[64], name[GS_NAME], ns[GS_NAME];
	char ctr[MF_CTRS][128];
	int n_ctr;
	bool opted_out; /* the policy's annotation says so */
	bool hpa_cpu;	/* an HPA scales it on CPU */
	char hpa[GS_NAME];
};

struct mf_index {
	struct mf_workload *v;
	size_t n, cap;
	int files; /* manifest files read */
};

/*
 * Read the manifests of @tg: for kustomize, its directory and the
 * resources its kustomization names (recursively, remote ones skipped);
 * for Helm, the workloads of the mapping (its containers, replicas,
 * `hpaCpu: true` where a chart's HPA scales it). @opt_key=@opt_val is the
 * opt-out annotation.
 */
int mf__scan(struct mf_index *ix, const struct tree_src *src, const struct tgt *tg,
	     const char *opt_key, const char *opt_val, char *err, size_t errlen);
void mf__free(struct mf_index *ix);
const struct mf_workload *mf__find(const struct mf_index *ix, const char *kind, const char *name);
bool mf__has_container(const struct mf_workload *w, const char *ctr);

/* ---- writing ---- */

struct file_change {
	char path[TGT_PATH];
	char *data;
	size_t len;
};

struct changes {
	struct file_change *v;
	size_t n, cap;
};

void changes__free(struct changes *c);
/* The change to @path, made from @src's file when first asked for; NULL on error. */
struct file_change *changes__get(struct changes *c, const char *path);
int changes__set(struct changes *c, const char *path, char *data, size_t len);

/*
 * Apply @items (one target's) onto the bot's files of @tg as @src has them:
 * the kustomize patch file (and the kustomization's `patches:` entry, once),
 * or the Helm values file. @c gets the new contents.
 */
int targets__render(const struct tgt *tg, const struct tree_src *src, const struct gs_item *items,
		    size_t n, struct changes *c, char *err, size_t errlen);

/* Add "- path: @file" to a kustomization's patches (malloc'ed), NULL when already there. */
char *kustomization__add_patch(const char *text, size_t len, const char *file, int *err);

#endif /* PODMETER_RECONCILER_TARGETS_H */
