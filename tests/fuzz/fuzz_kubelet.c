// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kubelet's GET /pods body (agent/pod/kubelet.c), parsed as it streams. The
 * body is fed whole, then again in pieces whose sizes the input's first
 * bytes choose: both must keep the same pods, and every number kept stays
 * within the documented clamps.
 */
#include <podmeter/kubelet.h>
#include "fuzz.h"

static void check_resources(const struct pm_resources *r)
{
	fuzz_assert(r->cpu_milli >= -1 && r->cpu_milli <= PM_KUBELET_QTY_MAX);
	fuzz_assert(r->memory_bytes >= -1 && r->memory_bytes <= PM_KUBELET_QTY_MAX);
	fuzz_assert(r->gpus >= 0 && r->gpus <= PM_KUBELET_QTY_MAX);
}

static void check_pods(const struct pm_pod_meta *pods, size_t n)
{
	size_t i, k;

	fuzz_assert(n <= PM_KUBELET_MAX_PODS);
	for (i = 0; i < n; i++) {
		fuzz_assert(strlen(pods[i].uid) <= PM_UID_LEN);
		fuzz_assert(pods[i].n_containers <= PM_KUBELET_MAX_CONTAINERS);
		fuzz_assert(pods[i].n_labels <= PM_META_LABELS_MAX);
		for (k = 0; k < pods[i].n_containers; k++) {
			fuzz_assert(strlen(pods[i].containers[k].id) <= PM_CID_MAX);
			check_resources(&pods[i].containers[k].requests);
			check_resources(&pods[i].containers[k].limits);
		}
	}
}

/* Fed in pieces of 1 to 64 bytes, sizes taken from @data in turn. */
static int parse_pieces(const uint8_t *data, size_t size, struct pm_pod_meta **pods, size_t *n,
			size_t *skipped)
{
	struct pm_kubelet_parser *p;
	size_t off = 0, k = 0, piece;
	char err[256];
	int ret;

	fuzz_assert(!kubelet__parser_new(&p));
	for (ret = 0; off < size && !ret; off += piece) {
		piece = 1 + data[k++ % size] % 64;
		if (piece > size - off)
			piece = size - off;
		ret = kubelet__parser_feed(p, (const char *)data + off, piece);
	}
	if (!ret)
		ret = kubelet__parser_finish(p, pods, n, skipped, err, sizeof(err));
	kubelet__parser_free(p);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_pod_meta *pods, *again = NULL;
	size_t n, skipped, n2 = 0, skipped2 = 0, i;
	char err[256];
	int ret, ret2;

	ret = kubelet__parse_pods((const char *)data, size, &pods, &n, &skipped, err, sizeof(err));
	ret2 = parse_pieces(data, size, &again, &n2, &skipped2);
	fuzz_assert(!ret == !ret2);
	if (ret) {
		fuzz_assert(err[0] && !strchr(err, '\n'));
		return 0;
	}
	check_pods(pods, n);
	fuzz_assert(n == n2 && skipped == skipped2);
	for (i = 0; i < n; i++) {
		fuzz_assert(!strcmp(pods[i].uid, again[i].uid));
		fuzz_assert(pods[i].n_containers == again[i].n_containers);
	}
	kubelet__free_pods(pods, n);
	kubelet__free_pods(again, n2);
	return 0;
}
