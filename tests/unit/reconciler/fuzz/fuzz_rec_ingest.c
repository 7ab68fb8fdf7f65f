// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: a report body as the reconciler takes it (reconciler/ingest.c).
 * The input is packed protobuf, gzip'ed here so that the fuzzer's mutations
 * reach the decoder; the raw input is also tried as the body itself. What
 * decodes is checked; what passes the check is within every bound of
 * reconciler/rec_limits.h, counted here again from the decoded report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/report.h>
#include "ingest.h"
#include "rec_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_abort(const char *what)
{
	fprintf(stderr, "fuzz: %s\n", what);
	abort();
}

static void one(const void *body, size_t len)
{
	Podmeter__V1__NodeReport *r;
	enum rec_reason reason;
	char why[256];
	size_t i, containers = 0;

	if (ingest__decode(body, len, &r, &reason, why, sizeof(why)))
		return;
	if (!ingest__check(r, 1790000000.0, &reason, why, sizeof(why))) {
		if (r->n_pods > REC_PODS_MAX || !r->node[0] || !r->seq)
			fuzz_abort("a report past the check's bounds was taken");
		for (i = 0; i < r->n_pods; i++) {
			if (r->pods[i]->n_containers > REC_CONTAINERS_MAX ||
			    r->pods[i]->n_labels > REC_LABELS_MAX || !r->pods[i]->uid[0])
				fuzz_abort("a pod past the check's bounds was taken");
			containers += r->pods[i]->n_containers;
		}
		if (containers > REC_CONTAINERS_TOTAL)
			fuzz_abort("more containers than the bound were taken");
	}
	ingest__free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	void *gz;

	one(data, size);
	if (!gz__compress(data, size, &gz, &len)) {
		one(gz, len);
		free(gz);
	}
	return 0;
}
