/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who may send, and who may read:
 *   - node tokens: a file of "NODE TOKEN" lines ("CLUSTER/NODE TOKEN" binds
 *     the cluster too), re-read on SIGHUP;
 *   - TokenReview: the agent's projected ServiceAccount token, checked by
 *     the API server; the node comes from the token's node claim
 *     (authentication.kubernetes.io/node-name);
 *   - API tokens for GET /v1/costs: "NAME TOKEN" lines, re-read on SIGHUP.
 * Client certificates (mTLS) are checked by the server; this names the
 * node a certificate's subject gives.
 */
#ifndef PODMETER_RECONCILER_AUTH_H
#define PODMETER_RECONCILER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include "metrics.h"

struct rec_auth_cfg {
	const char *node_tokens;       /* file, or NULL */
	const char *api_tokens;	       /* file, or NULL */
	const char *tokenreview_url;   /* https://API/apis/authentication.k8s.io/v1/tokenreviews */
	const char *tokenreview_token; /* the reconciler's own token file */
	const char *tokenreview_ca;    /* the API server's CA file */
	const char *tokenreview_audience; /* asked of the token; NULL = the API server's */
	const char *tokenreview_user;	  /* the agents' ServiceAccount user name */
};

enum auth_result {
	AUTH_OK = 0,
	AUTH_MISSING,	  /* no credentials: 401 */
	AUTH_UNKNOWN,	  /* credentials nobody issued: 401 */
	AUTH_OTHER,	  /* another node's: 403 */
	AUTH_UNAVAILABLE, /* the API server did not answer: 503 */
};

struct rec_auth;

int auth__open(struct rec_auth **out, const struct rec_auth_cfg *cfg, struct rec_metrics *m,
	       char *err, size_t errlen);
void auth__close(struct rec_auth *a);
/* SIGHUP: the token files again; a bad file is refused and the old tables kept. */
int auth__reload(struct rec_auth *a, char *err, size_t errlen);

bool auth__nodes_enabled(const struct rec_auth *a);
bool auth__api_enabled(const struct rec_auth *a);

/*
 * May the bearer token in @authorization (the header, or NULL) send
 * reports for @node of @cluster (NULL: any cluster, checked later)?
 * @why says why not.
 */
enum auth_result auth__node(struct rec_auth *a, const char *authorization, const char *cluster,
			    const char *node, char *why, size_t whylen);

/* May it read costs? */
enum auth_result auth__api(struct rec_auth *a, const char *authorization);

/* The node a certificate subject's common name names: "system:node:NAME" or NAME. */
const char *auth__cert_node(const char *common_name);

/* The token of an "Authorization: Bearer TOKEN" header, NULL when there is none. */
const char *auth__bearer(const char *authorization, size_t *len);

/* Parse a node tokens file's text; for tests. 0 or -EINVAL with @err. */
int auth__parse_node_tokens(const char *text, size_t *n_entries, char *err, size_t errlen);

#endif /* PODMETER_RECONCILER_AUTH_H */
