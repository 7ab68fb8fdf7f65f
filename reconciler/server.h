/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The reconciler's HTTP(S) endpoint (libmicrohttpd, a thread a connection):
 *   POST /v1/reports   the agents' reports: parse -> bound -> authenticate -> act
 *   GET  /v1/costs     costs as JSON (?by=...&since=...), with an API token
 *   GET  /metrics      its own metrics
 *   GET  /healthz
 */
#ifndef PODMETER_RECONCILER_SERVER_H
#define PODMETER_RECONCILER_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "auth.h"
#include "metrics.h"
#include "store.h"
#include "writer.h"

struct rec_server_cfg {
	const char *host; /* "" = every address */
	uint16_t port;
	const char *tls_cert, *tls_key; /* PEM files; NULL = plain HTTP */
	const char *client_ca;		/* PEM: clients may name their node by certificate */
	bool insecure_no_auth;
	double request_max_s; /* a whole request; 0 = REC_REQUEST_MAX_S */
};

struct rec_server_deps {
	struct rec_writer *writer;
	struct rec_auth *auth;
	struct rec_metrics *metrics;
	struct store *reader; /* GET /v1/costs, the store's size */
	pthread_mutex_t *reader_lock;
};

struct rec_server;

int server__start(struct rec_server **out, const struct rec_server_cfg *cfg,
		  const struct rec_server_deps *deps, char *err, size_t errlen);
/* Stops taking connections, waits for the requests in flight. */
void server__stop(struct rec_server *s);
/* The port bound (for ":0"). */
uint16_t server__port(const struct rec_server *s);

#endif /* PODMETER_RECONCILER_SERVER_H */
