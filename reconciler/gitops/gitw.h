/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * git through libgit2, without a work tree: a bare cache of the GitOps
 * repository fetched each cycle (file://, https, ssh), files read from a
 * commit, one commit made on top of the base branch from a set of file
 * contents, and a branch pushed only when the remote still has what podmeter
 * last saw there (force-with-lease, checked in libgit2's push negotiation).
 */
#ifndef PODMETER_RECONCILER_GITW_H
#define PODMETER_RECONCILER_GITW_H

#include <stdbool.h>
#include <stddef.h>
#include "targets.h"

#define GITW_SHA 41

struct gitw_cfg {
	const char *url;	/* file:///..., https://..., ssh://... or git@host:path */
	const char *cache_dir;	/* the bare cache */
	const char *username;	/* https: with the token (default "x-access-token"); ssh: user */
	const char *token_file; /* https: password or token */
	const char *ssh_key;	/* ssh: private key file */
	const char *ssh_pubkey; /* ssh: public key file (optional) */
	const char *ssh_passphrase_file;
	const char *known_hosts; /* ssh: the server's key must be listed here */
	const char *ca_file;	 /* https: CA bundle */
	const char *author_name, *author_email;
};

struct gitw;

int gitw__open(struct gitw **out, const struct gitw_cfg *cfg, char *err, size_t errlen);
void gitw__close(struct gitw *g);
/* Every branch of the remote into refs/remotes/origin/ (pruned). */
int gitw__fetch(struct gitw *g, char *err, size_t errlen);
/* The remote's @branch as last fetched; -ENOENT when it has none. */
int gitw__head(struct gitw *g, const char *branch, char sha[GITW_SHA]);
/* Read files of commit @sha (valid until the next call on @g). */
int gitw__tree(struct gitw *g, const char *sha, struct tree_src *t);
/*
 * A commit on @base_sha with @c's files, @message, author and committer
 * the bot at @when (so that the same inputs make the same commit id).
 * *@same is set when the tree is the base's (nothing to change).
 */
int gitw__commit(struct gitw *g, const char *base_sha, const struct changes *c, const char *message,
		 double when, char sha[GITW_SHA], bool *same, char *err, size_t errlen);
/*
 * Push @sha to @branch if the remote's @branch is still @expect ("" = it
 * must not exist): -ESTALE when it moved (somebody pushed), -EIO otherwise.
 */
int gitw__push(struct gitw *g, const char *branch, const char *sha, const char *expect, char *err,
	       size_t errlen);
/* Whether commit @sha is podmeter's for @group (its trailer and author). */
bool gitw__is_ours(struct gitw *g, const char *sha, const char *group);
/* Whether @sha's first parent is @base. */
bool gitw__parent_is(struct gitw *g, const char *sha, const char *base);

#endif /* PODMETER_RECONCILER_GITW_H */
