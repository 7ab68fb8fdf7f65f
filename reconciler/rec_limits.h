/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every bound the reconciler puts on its input, in one place. Each refusal
 * they cause has an HTTP status and a counter (reconciler/metrics.c's
 * reasons table).
 */
#ifndef PODMETER_RECONCILER_LIMITS_H
#define PODMETER_RECONCILER_LIMITS_H

/* ---- a request ---- */
#define REC_BODY_MAX	   (4u << 20)  /* gzip'ed body as sent; 413 */
#define REC_INFLATED_MAX   (32u << 20) /* the body inflated; 413 */
#define REC_DECODED_MAX	   (64u << 20) /* memory protobuf-c may take to unpack it; 413 */
#define REC_REQUEST_MAX_S  60	       /* a whole request, headers to last byte; 408 */
#define REC_IDLE_TIMEOUT_S 30	       /* a connection with nothing to say */
#define REC_HEADER_MAX	   (16u << 10) /* MHD's memory for a request's headers */
#define REC_TOKEN_MAX	   8192	       /* a bearer token */
#define REC_QUERY_MAX	   512	       /* GET /v1/costs: the query string */

/* ---- a decoded report; 413 past any of them ---- */
#define REC_PODS_MAX	     2000 /* pods in a report (kubelet allows 110-250) */
#define REC_CONTAINERS_MAX   64	  /* containers in a pod */
#define REC_CONTAINERS_TOTAL 8000 /* containers in a report */
#define REC_FINDINGS_MAX     4000 /* findings in a report, node and pods */
#define REC_ATTRS_MAX	     32	  /* attributes of a finding */
#define REC_LABELS_MAX	     16	  /* labels of a pod */
#define REC_NET_MAX	     64	  /* traffic entries of a pod */
#define REC_HIST_KEYS_MAX    512  /* buckets of a histogram */
#define REC_NAME_MAX	     253  /* node, pod, owner names (a DNS subdomain) */
#define REC_STRING_MAX	     1024 /* any other string */

/* ---- connections and the queue ---- */
#define REC_CONNS_MAX	 256 /* open connections, over all clients */
#define REC_CONNS_PER_IP 64
#define REC_BACKLOG	 128
#define REC_QUEUE_MAX	 4096 /* reports waiting for the writer; 503 past it */
#define REC_BATCH_MAX	 256  /* reports in one transaction (group commit) */

/* ---- sequence numbers ---- */
/* a report this far past its node's last sequence is a jump: logged and counted */
#define REC_SEQ_JUMP_MAX 1000000ULL

/* ---- authentication ---- */
#define REC_TOKENS_MAX	      100000	  /* lines of a tokens file */
#define REC_TOKENREVIEW_CACHE 4096	  /* TokenReview answers kept */
#define REC_TOKENREVIEW_TTL_S 60	  /* ... this long (a refusal: 10 s) */
#define REC_TOKENREVIEW_BODY  (64u << 10) /* the API server's answer */

/* ---- what the reconciler tracks in memory ---- */
#define REC_NODES_TRACKED 100000 /* nodes with per-node metrics */

#endif /* PODMETER_RECONCILER_LIMITS_H */
