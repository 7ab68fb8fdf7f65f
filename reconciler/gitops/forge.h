/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pull requests through a forge's REST API (libcurl, jansson): GitHub,
 * GitLab (merge requests) and Gitea, the calls podmeter uses and nothing
 * more. No call is retried here: the caller's cycle finds what a call left
 * behind (an open pull request by its branch) before it asks again.
 */
#ifndef PODMETER_RECONCILER_FORGE_H
#define PODMETER_RECONCILER_FORGE_H

#include <stddef.h>
#include <stdint.h>

enum forge_kind { FORGE_GITHUB = 0, FORGE_GITLAB, FORGE_GITEA };

struct forge_cfg {
	enum forge_kind kind;
	const char *api_url; /* https://api.github.com, https://gitlab.example/api/v4, .../api/v1 */
	const char *repo;    /* OWNER/NAME (GitLab: the project's path or id) */
	const char *token_file;
	const char *ca_file;
	double timeout_s;
};

struct forge_pr {
	int64_t number; /* GitLab: the merge request's iid */
	char url[512];
	char state[16]; /* open, closed, merged */
	double merged_at, closed_at;
};

struct forge;

/* "github", "gitlab", "gitea"; 0 or -EINVAL */
int forge__parse_kind(const char *s, enum forge_kind *k);
const char *forge__kind_name(enum forge_kind k);
int forge__open(struct forge **out, const struct forge_cfg *cfg, char *err, size_t errlen);
void forge__close(struct forge *f);
/* The last error, for a message. */
const char *forge__error(const struct forge *f);

/* The open pull request from @branch into @base; -ENOENT when there is none. */
int forge__find_pr(struct forge *f, const char *branch, const char *base, struct forge_pr *out);
/* -EEXIST when the forge says one is open for @branch already (422, 409). */
int forge__create_pr(struct forge *f, const char *branch, const char *base, const char *title,
		     const char *body, struct forge_pr *out);
int forge__update_pr(struct forge *f, int64_t number, const char *title, const char *body);
int forge__get_pr(struct forge *f, int64_t number, struct forge_pr *out);
int forge__close_pr(struct forge *f, int64_t number);
int forge__comment(struct forge *f, int64_t number, const char *body);
/* Add @add labels, remove @remove ones (either may be NULL-terminated empty). */
int forge__labels(struct forge *f, int64_t number, const char *const *add,
		  const char *const *remove);

/* An open issue labelled @label whose body holds @marker; -ENOENT. */
int forge__find_issue(struct forge *f, const char *label, const char *marker, int64_t *number);
int forge__create_issue(struct forge *f, const char *title, const char *body, const char *label,
			int64_t *number);
int forge__update_issue(struct forge *f, int64_t number, const char *title, const char *body);

#endif /* PODMETER_RECONCILER_FORGE_H */
