// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PodList parsing against a fixture written in the kubelet's /pods format
 * (tests/unit/fixtures/podlist.json): names, owners (a ReplicaSet reported as
 * its Deployment), QoS, container ids, requests and limits, malformed pods
 * skipped, bodies that are not a PodList refused. The same fixture fed in
 * pieces of every size gives the same pods; values podmeter does not read
 * (megabytes of annotations) pass; tenant numbers clamp as documented.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <podmeter/kubelet.h>

#ifndef FIXTURES
#define FIXTURES "tests/unit/fixtures"
#endif

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	assert_non_null(f);
	buf = malloc(1 << 16);
	assert_non_null(buf);
	*len = fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static void test_fixture(void **state)
{
	struct pm_pod_meta *pods;
	size_t n, skipped, len;
	char err[256], *json = slurp(FIXTURES "/podlist.json", &len);

	(void)state;
	assert_int_equal(kubelet__parse_pods(json, len, &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(skipped, 2); /* "12x" is no quantity; a pod without uid */

	assert_string_equal(pods[0].uid, "2f5a7c1e-3b4d-4e8f-9a0b-1c2d3e4f5a6b");
	assert_string_equal(pods[0].namespace_, "shop");
	assert_string_equal(pods[0].name, "web-5d9c8f7b6-x2kqp");
	assert_string_equal(pods[0].node, "node-a");
	assert_string_equal(pods[0].phase, "Running");
	assert_int_equal(pods[0].qos, PM_QOS_BURSTABLE);
	assert_string_equal(pods[0].owner_kind, "Deployment");
	assert_string_equal(pods[0].owner_name, "web");
	assert_int_equal(pods[0].n_containers, 2);
	assert_string_equal(pods[0].containers[0].name, "app");
	assert_string_equal(pods[0].containers[0].id,
			    "495bedb5e9bccf9d7e53e088bfff2ee8619d180c14e8c761e128050d18759e06");
	assert_int_equal(pods[0].containers[0].requests.cpu_milli, 250);
	assert_int_equal(pods[0].containers[0].requests.memory_bytes, 128 << 20);
	assert_int_equal(pods[0].containers[0].limits.cpu_milli, 1000);
	assert_int_equal(pods[0].containers[0].limits.memory_bytes, 256 << 20);
	assert_int_equal(pods[0].containers[1].requests.cpu_milli, 100);
	assert_int_equal(pods[0].containers[1].requests.memory_bytes, 64000000);
	assert_int_equal(pods[0].containers[1].limits.cpu_milli, -1); /* not set */

	assert_string_equal(pods[1].owner_kind, "StatefulSet");
	assert_string_equal(pods[1].owner_name, "trainer");
	assert_int_equal(pods[1].qos, PM_QOS_GUARANTEED);
	assert_int_equal(pods[1].containers[0].requests.gpus, 2);
	assert_int_equal(pods[1].containers[0].requests.memory_bytes, 16LL << 30);
	assert_string_equal(pods[1].containers[0].id, "aa11");
	/* labels, for --report-labels */
	assert_int_equal(pods[0].n_labels, 2);
	assert_string_equal(kubelet__label(&pods[0], "app"), "web");
	assert_string_equal(kubelet__label(&pods[0], "pod-template-hash"), "5d9c8f7b6");
	assert_null(kubelet__label(&pods[0], "team"));
	assert_int_equal(pods[1].n_labels, 0);
	assert_null(kubelet__label(&pods[1], "app"));

	/* a static pod: 32-hex uid, owned by its Node, no container status yet */
	assert_string_equal(pods[2].uid, "5c7d9a3f0e1b2c4d6e8f0a1b3c5d7e9f");
	assert_string_equal(pods[2].owner_kind, "Node");
	assert_string_equal(pods[2].containers[0].id, "");
	kubelet__free_pods(pods, n);
	free(json);
}

static void test_not_a_podlist(void **state)
{
	static const char *const bodies[] = {
		"",
		"not json",
		"[]",
		"{\"kind\":\"Status\",\"items\":[]}",
		"{\"items\":{}}",
		"<html>503</html>",
		"{\"items\": [",
		"{\"items\":[],\"items\":[]}",
		"{\"items\":[]} trailing",
		"{\"items\":[],\"kind\":\"Status\"}",
		"{\"items\":null}",
		"{\"kind\":\"PodList\"}",
		"{\"items\":[]}{\"items\":[]}",
		"{\"items\":[{\"metadata\":{\"name\":\"\xff\"}}]}",
	};
	struct pm_pod_meta *pods;
	size_t n, skipped, i;
	char err[256];

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		err[0] = '\0';
		if (kubelet__parse_pods(bodies[i], strlen(bodies[i]), &pods, &n, &skipped, err,
					sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bodies[i]);
		assert_true(err[0] != '\0');
		assert_null(pods);
	}
}

static void test_empty_list(void **state)
{
	const char *body = "{\"kind\":\"PodList\",\"items\":[]}";
	struct pm_pod_meta *pods;
	size_t n, skipped;
	char err[256];

	(void)state;
	assert_int_equal(
		kubelet__parse_pods(body, strlen(body), &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	kubelet__free_pods(pods, n);
}

/* Field by field: what kubemeta__label reads of a pod. */
static void assert_same_pods(const struct pm_pod_meta *a, const struct pm_pod_meta *b, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		assert_string_equal(a[i].uid, b[i].uid);
		assert_string_equal(a[i].namespace_, b[i].namespace_);
		assert_string_equal(a[i].name, b[i].name);
		assert_string_equal(a[i].node, b[i].node);
		assert_string_equal(a[i].phase, b[i].phase);
		assert_int_equal(a[i].qos, b[i].qos);
		assert_string_equal(a[i].owner_kind, b[i].owner_kind);
		assert_string_equal(a[i].owner_name, b[i].owner_name);
		assert_int_equal(a[i].n_labels, b[i].n_labels);
		for (k = 0; k < a[i].n_labels; k++) {
			assert_string_equal(a[i].labels[k].key, b[i].labels[k].key);
			assert_string_equal(a[i].labels[k].value, b[i].labels[k].value);
		}
		assert_int_equal(a[i].n_containers, b[i].n_containers);
		for (k = 0; k < a[i].n_containers; k++) {
			const struct pm_container_meta *x = &a[i].containers[k];
			const struct pm_container_meta *y = &b[i].containers[k];

			assert_string_equal(x->name, y->name);
			assert_string_equal(x->id, y->id);
			assert_memory_equal(&x->requests, &y->requests, sizeof(x->requests));
			assert_memory_equal(&x->limits, &y->limits, sizeof(x->limits));
		}
	}
}

/* @json fed in pieces of @step bytes, the first @first bytes long. */
static int parse_in_pieces(const char *json, size_t len, size_t first, size_t step,
			   struct pm_pod_meta **pods, size_t *n, size_t *skipped)
{
	struct pm_kubelet_parser *p;
	size_t at = 0, piece = first;
	char err[256];
	int ret = 0;

	assert_int_equal(kubelet__parser_new(&p), 0);
	while (!ret && at < len) {
		if (piece > len - at)
			piece = len - at;
		ret = kubelet__parser_feed(p, json + at, piece);
		at += piece;
		piece = step;
	}
	if (!ret)
		ret = kubelet__parser_finish(p, pods, n, skipped, err, sizeof(err));
	kubelet__parser_free(p);
	return ret;
}

/* Every split of the fixture into two pieces, and pieces of 1 to 64 bytes. */
static void test_streamed_in_pieces(void **state)
{
	struct pm_pod_meta *whole, *pods;
	size_t n0, s0, n, skipped, len, cut, step;
	char err[256], *json = slurp(FIXTURES "/podlist.json", &len);

	(void)state;
	assert_int_equal(kubelet__parse_pods(json, len, &whole, &n0, &s0, err, sizeof(err)), 0);
	for (cut = 0; cut <= len; cut++) {
		assert_int_equal(parse_in_pieces(json, len, cut, len, &pods, &n, &skipped), 0);
		assert_int_equal(n, n0);
		assert_int_equal(skipped, s0);
		assert_same_pods(pods, whole, n);
		kubelet__free_pods(pods, n);
	}
	for (step = 1; step <= 64; step++) {
		assert_int_equal(parse_in_pieces(json, len, step, step, &pods, &n, &skipped), 0);
		assert_int_equal(n, n0);
		assert_same_pods(pods, whole, n);
		kubelet__free_pods(pods, n);
	}
	kubelet__free_pods(whole, n0);
	free(json);
}

/* A PodList of one pod whose metadata and container are given. */
static char *one_pod(const char *meta, const char *container, const char *status)
{
	char *json;

	assert_true(asprintf(&json,
			     "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{%s},"
			     "\"spec\":{\"nodeName\":\"n\",\"containers\":[%s]},"
			     "\"status\":{%s}}]}",
			     meta, container, status) > 0);
	return json;
}

#define UID  "\"uid\":\"0d7c8a55-6f2b-4f0e-9b1d-3a8e5c7d9f10\""
#define META UID ",\"namespace\":\"ns\",\"name\":\"p\""
#define CTR  "{\"name\":\"c\"}"

struct pod_case {
	const char *what, *meta, *container, *status;
	bool kept;
};

static const struct pod_case pod_cases[] = {
	{ "plain", META, CTR, "", true },
	{ "no uid", "\"namespace\":\"ns\",\"name\":\"p\"", CTR, "", false },
	{ "uid too long",
	  "\"uid\":\"0d7c8a55-6f2b-4f0e-9b1d-3a8e5c7d9f10x\",\"namespace\":\"ns\","
	  "\"name\":\"p\"",
	  CTR, "", false },
	{ "name a number", UID ",\"namespace\":\"ns\",\"name\":5", CTR, "", false },
	{ "name twice", META ",\"name\":\"q\"", CTR, "", false },
	{ "name null: absent", UID ",\"namespace\":\"ns\",\"name\":null", CTR, "", false },
	{ "name with a NUL", UID ",\"namespace\":\"ns\",\"name\":\"a\\u0000b\"", CTR, "", false },
	{ "namespace too long",
	  UID ",\"name\":\"p\",\"namespace\":"
	      "\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	      "nnnnnnnnnnnnn\"",
	  CTR, "", false },
	{ "container without a name", META, "{\"image\":\"x\"}", "", false },
	{ "container not an object", META, "\"c\"", "", false },
	{ "requests not an object", META, "{\"name\":\"c\",\"resources\":{\"requests\":[\"cpu\"]}}",
	  "", false },
	{ "cpu a number", META, "{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":1}}}", "",
	  false },
	{ "cpu twice", META,
	  "{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"1\",\"cpu\":\"2\"}}}", "",
	  false },
	{ "cpu no quantity", META,
	  "{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"1 core\"}}}", "", false },
	{ "phase too long", META, CTR, "\"phase\":\"RunningRunningRunning\"", false },
	{ "qosClass a number: ignored", META, CTR, "\"qosClass\":3", true },
	{ "unread fields of any type", META ",\"x\":[1,{\"y\":null}],\"generation\":7",
	  "{\"name\":\"c\",\"ports\":[{\"containerPort\":80}],\"tty\":true}",
	  "\"conditions\":[{\"type\":\"Ready\"}],\"startTime\":null", true },
	{ "duplicates in unread fields", META ",\"annotations\":{\"a\":\"1\",\"a\":\"2\"}", CTR, "",
	  true },
};

static void test_malformed_pods(void **state)
{
	struct pm_pod_meta *pods;
	size_t n, skipped, i;
	char err[256], *json;

	(void)state;
	for (i = 0; i < sizeof(pod_cases) / sizeof(pod_cases[0]); i++) {
		const struct pod_case *c = &pod_cases[i];

		json = one_pod(c->meta, c->container, c->status);
		if (kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err, sizeof(err)))
			fail_msg("%s: refused: %s", c->what, err);
		if (n != (c->kept ? 1u : 0u) || skipped != (c->kept ? 0u : 1u))
			fail_msg("%s: %zu kept, %zu skipped", c->what, n, skipped);
		kubelet__free_pods(pods, n);
		free(json);
	}
}

/* Items that are no object are skipped pods, not a broken list. */
static void test_items_not_objects(void **state)
{
	const char *body = "{\"items\":[5,null,[],\"x\",true,{},{\"metadata\":{" META "},"
			   "\"spec\":{\"containers\":[" CTR "]},\"status\":[\"Running\"]}]}";
	struct pm_pod_meta *pods;
	size_t n, skipped;
	char err[256];

	(void)state;
	assert_int_equal(
		kubelet__parse_pods(body, strlen(body), &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 1); /* a status that is no object is passed over */
	assert_int_equal(skipped, 6);
	kubelet__free_pods(pods, n);
}

static int64_t request_of(const char *quantities, int which)
{
	struct pm_pod_meta *pods;
	size_t n, skipped;
	char err[256], ctr[512], *json;
	int64_t v;

	snprintf(ctr, sizeof(ctr), "{\"name\":\"c\",\"resources\":{\"requests\":{%s}}}",
		 quantities);
	json = one_pod(META, ctr, "");
	assert_int_equal(
		kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	v = which == 0	 ? pods[0].containers[0].requests.cpu_milli
	    : which == 1 ? pods[0].containers[0].requests.memory_bytes
			 : pods[0].containers[0].requests.gpus;
	kubelet__free_pods(pods, n);
	free(json);
	return v;
}

/* Tenant numbers: within [0, 2^53] whatever the spec says. */
static void test_clamps(void **state)
{
	(void)state;
	assert_int_equal(request_of("\"cpu\":\"1500m\"", 0), 1500);
	assert_int_equal(request_of("\"cpu\":\"-2\"", 0), 0);
	assert_int_equal(request_of("\"cpu\":\"9e99\"", 0), PM_KUBELET_QTY_MAX);
	assert_int_equal(request_of("\"memory\":\"8Ei\"", 1), PM_KUBELET_QTY_MAX);
	assert_int_equal(request_of("\"memory\":\"8Pi\"", 1), PM_KUBELET_QTY_MAX); /* 2^53 */
	assert_int_equal(request_of("\"memory\":\"7Pi\"", 1), 7LL << 50);
	assert_int_equal(request_of("\"nvidia.com/gpu\":\"2\",\"amd.com/gpu\":\"3\"", 2), 5);
	assert_int_equal(request_of("\"nvidia.com/gpu\":\"9e18\",\"amd.com/gpu\":\"9e18\"", 2),
			 PM_KUBELET_QTY_MAX);
	assert_int_equal(kubelet__qty_add(PM_KUBELET_QTY_MAX, PM_KUBELET_QTY_MAX),
			 PM_KUBELET_QTY_MAX);
	assert_int_equal(kubelet__qty_add(INT64_MAX, INT64_MAX), PM_KUBELET_QTY_MAX);
	assert_int_equal(kubelet__qty_add(2, 3), 5);
}

static void owner_of(const char *meta, const char *kind, const char *name)
{
	struct pm_pod_meta *pods;
	size_t n, skipped;
	char err[256], *json = one_pod(meta, CTR, "");

	assert_int_equal(
		kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(pods[0].owner_kind, kind);
	assert_string_equal(pods[0].owner_name, name);
	kubelet__free_pods(pods, n);
	free(json);
}

static void test_owners(void **state)
{
	(void)state;
	/* the hash label after the references still names the Deployment */
	owner_of(META ",\"ownerReferences\":[{\"controller\":true,\"kind\":\"ReplicaSet\","
		      "\"name\":\"web-abc\"}],\"labels\":{\"pod-template-hash\":\"abc\"}",
		 "Deployment", "web");
	owner_of(META ",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-abc\"}]", "",
		 "");
	owner_of(META ",\"ownerReferences\":["
		      "{\"kind\":\"Job\",\"name\":\"j\",\"controller\":false},"
		      "{\"name\":\"s\",\"kind\":\"StatefulSet\",\"controller\":true},"
		      "{\"kind\":\"Job\",\"name\":\"k\",\"controller\":true}]",
		 "StatefulSet", "s");
	owner_of(META ",\"ownerReferences\":[{\"controller\":true,\"kind\":7,\"name\":\"x\"},"
		      "{\"kind\":\"Job\",\"name\":\"k\",\"controller\":true}]",
		 "", "");
	owner_of(META ",\"ownerReferences\":[{\"controller\":true,\"kind\":\"ReplicaSet\","
		      "\"name\":\"web-abc\"}]",
		 "ReplicaSet", "web-abc");
}

/* @n bytes of "a", as a JSON string. */
static char *big_string(size_t n)
{
	char *s = malloc(n + 3);

	assert_non_null(s);
	s[0] = '"';
	memset(s + 1, 'a', n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

/* Annotations of megabytes pass; one token past 16 MiB is refused. */
static void test_big_values(void **state)
{
	struct pm_pod_meta *pods;
	size_t n, skipped, len;
	char *val, *json;

	(void)state;
	val = big_string(4u << 20);
	assert_true(asprintf(&json,
			     "{\"items\":[{\"metadata\":{" META ",\"annotations\":"
			     "{\"a\":%s,\"b\":%s}},\"spec\":{\"containers\":[" CTR "]}}]}",
			     val, val) > 0);
	len = strlen(json);
	assert_int_equal(parse_in_pieces(json, len, 16384, 16384, &pods, &n, &skipped), 0);
	assert_int_equal(n, 1);
	assert_string_equal(pods[0].name, "p");
	kubelet__free_pods(pods, n);
	free(json);
	free(val);

	val = big_string((16u << 20) + (128u << 10));
	assert_true(asprintf(&json, "{\"items\":[{\"metadata\":{\"x\":%s}}]}", val) > 0);
	assert_int_equal(parse_in_pieces(json, strlen(json), 16384, 16384, &pods, &n, &skipped),
			 -E2BIG);
	free(json);
	free(val);
}

static void test_too_deep(void **state)
{
	struct pm_pod_meta *pods;
	size_t n, skipped, i;
	char err[256], json[256];

	(void)state;
	strcpy(json, "{\"items\":[{\"x\":");
	for (i = 0; i < 70; i++)
		strcat(json, "[");
	assert_int_equal(kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err,
					     sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "nested deeper"));
}

/* More containers than PM_KUBELET_MAX_CONTAINERS: the pod is skipped. */
static void test_container_cap(void **state)
{
	struct pm_pod_meta *pods;
	size_t n, skipped, i, at = 0;
	char err[256], *ctrs = malloc(32 * (PM_KUBELET_MAX_CONTAINERS + 1)), *json;

	(void)state;
	assert_non_null(ctrs);
	for (i = 0; i <= PM_KUBELET_MAX_CONTAINERS; i++)
		at += sprintf(ctrs + at, "%s{\"name\":\"c%zu\"}", i ? "," : "", i);
	json = one_pod(META, ctrs, "");
	assert_int_equal(
		kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(skipped, 1);
	kubelet__free_pods(pods, n);
	free(json);
	/* one fewer fits */
	strrchr(ctrs, ',')[0] = '\0';
	json = one_pod(META, ctrs, "");
	assert_int_equal(
		kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pods[0].n_containers, PM_KUBELET_MAX_CONTAINERS);
	kubelet__free_pods(pods, n);
	free(json);
	free(ctrs);
}

/* Pods past PM_KUBELET_MAX_PODS are skipped and counted. */
static void test_pod_cap(void **state)
{
	size_t extra = 5, total = PM_KUBELET_MAX_PODS + extra, i, at, n, skipped;
	const char *pod = "{\"metadata\":{\"uid\":\"u%zu\",\"namespace\":\"ns\",\"name\":\"p\"},"
			  "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}";
	char err[256], *json = malloc(total * 128 + 32);
	struct pm_pod_meta *pods;

	(void)state;
	assert_non_null(json);
	at = sprintf(json, "{\"items\":[");
	for (i = 0; i < total; i++) {
		at += i ? sprintf(json + at, ",") : 0;
		at += sprintf(json + at, pod, i);
	}
	strcpy(json + at, "]}");
	assert_int_equal(
		kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, PM_KUBELET_MAX_PODS);
	assert_int_equal(skipped, extra);
	assert_string_equal(pods[n - 1].uid, "u4095");
	kubelet__free_pods(pods, n);
	free(json);
}

/* Labels: strings that fit are kept, the rest skipped; at most PM_META_LABELS_MAX. */
static void test_labels(void **state)
{
	char head[] = "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"uid\":\"u1\","
		      "\"namespace\":\"ns\",\"name\":\"p\",\"labels\":{";
	char tail[] = "}},\"spec\":{\"containers\":[]}}]}";
	char *json = malloc(1 << 16), long_value[80];
	struct pm_pod_meta *pods;
	size_t n, skipped, len = 0;
	char err[256];
	int i;

	(void)state;
	assert_non_null(json);
	memset(long_value, 'v', 64);
	long_value[64] = '\0';
	len += sprintf(json + len, "%s\"team\":\"payments\",\"num\":7,\"long\":\"%s\"", head,
		       long_value);
	for (i = 0; i < 100; i++)
		len += sprintf(json + len, ",\"k%d\":\"v%d\"", i, i);
	len += sprintf(json + len, "%s", tail);
	assert_int_equal(kubelet__parse_pods(json, len, &pods, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(kubelet__label(&pods[0], "team"), "payments");
	assert_null(kubelet__label(&pods[0], "num"));  /* not a string */
	assert_null(kubelet__label(&pods[0], "long")); /* longer than a label value can be */
	assert_int_equal(pods[0].n_labels, PM_META_LABELS_MAX);
	kubelet__free_pods(pods, n);
	free(json);
}

/* With the keys reports name, only those labels are kept; one given twice: malformed. */
static void test_labels_wanted(void **state)
{
	static const char *const keys[] = { "team", "tier" };
	const char *json = "{\"items\":["
			   "{\"metadata\":{" UID ",\"namespace\":\"ns\",\"name\":\"a\",\"labels\":"
			   "{\"app\":\"x\",\"team\":\"pay\",\"pod-template-hash\":\"abc\"},"
			   "\"ownerReferences\":[{\"controller\":true,\"kind\":\"ReplicaSet\","
			   "\"name\":\"w-abc\"}]},"
			   "\"spec\":{\"containers\":[" CTR "]}},"
			   "{\"metadata\":{" UID ",\"namespace\":\"ns\",\"name\":\"b\",\"labels\":"
			   "{\"team\":\"pay\",\"team\":\"ops\"}},\"spec\":{\"containers\":[" CTR
			   "]}}]}";
	struct pm_kubelet_parser *p;
	struct pm_pod_meta *pods;
	size_t n, skipped;
	char err[256];

	(void)state;
	assert_int_equal(kubelet__parser_new(&p), 0);
	kubelet__parser_labels(p, keys, 2);
	assert_int_equal(kubelet__parser_feed(p, json, strlen(json)), 0);
	assert_int_equal(kubelet__parser_finish(p, &pods, &n, &skipped, err, sizeof(err)), 0);
	kubelet__parser_free(p);
	assert_int_equal(n, 1);
	assert_int_equal(skipped, 1);
	assert_int_equal(pods[0].n_labels, 1);
	assert_string_equal(kubelet__label(&pods[0], "team"), "pay");
	assert_null(kubelet__label(&pods[0], "app"));
	/* the hash still tells the Deployment, though not kept as a label */
	assert_string_equal(pods[0].owner_kind, "Deployment");
	assert_string_equal(pods[0].owner_name, "w");
	kubelet__free_pods(pods, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),	       cmocka_unit_test(test_labels),
		cmocka_unit_test(test_labels_wanted),  cmocka_unit_test(test_not_a_podlist),
		cmocka_unit_test(test_empty_list),     cmocka_unit_test(test_streamed_in_pieces),
		cmocka_unit_test(test_malformed_pods), cmocka_unit_test(test_items_not_objects),
		cmocka_unit_test(test_clamps),	       cmocka_unit_test(test_owners),
		cmocka_unit_test(test_big_values),     cmocka_unit_test(test_too_deep),
		cmocka_unit_test(test_container_cap),  cmocka_unit_test(test_pod_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
