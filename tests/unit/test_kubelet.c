// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PodList parsing against a fixture written in the kubelet's /pods format
 * (tests/unit/fixtures/podlist.json): names, owners (a ReplicaSet reported as
 * its Deployment), QoS, container ids, requests and limits, malformed pods
 * skipped, bodies that are not a PodList refused.
 */
#include <errno.h>
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
	assert_int_equal(skipped, 2);	/* "12x" is no quantity; a pod without uid */

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
	assert_int_equal(pods[0].containers[1].limits.cpu_milli, -1);	/* not set */

	assert_string_equal(pods[1].owner_kind, "StatefulSet");
	assert_string_equal(pods[1].owner_name, "trainer");
	assert_int_equal(pods[1].qos, PM_QOS_GUARANTEED);
	assert_int_equal(pods[1].containers[0].requests.gpus, 2);
	assert_int_equal(pods[1].containers[0].requests.memory_bytes, 16LL << 30);
	assert_string_equal(pods[1].containers[0].id, "aa11");

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
		"", "not json", "[]", "{\"kind\":\"Status\",\"items\":[]}", "{\"items\":{}}",
		"<html>503</html>", "{\"items\": [", "{\"a\":1,\"a\":2,\"items\":[]}",
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
	assert_int_equal(kubelet__parse_pods(body, strlen(body), &pods, &n, &skipped, err,
					     sizeof(err)), 0);
	assert_int_equal(n, 0);
	kubelet__free_pods(pods, n);
}

/* One pod "p" in namespace "ns" whose one container has @resources (a JSON object). */
static char *one_pod(const char *resources)
{
	static const char fmt[] =
		"{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"uid\":"
		"\"2f5a7c1e-3b4d-4e8f-9a0b-1c2d3e4f5a6b\",\"namespace\":\"ns\",\"name\":\"p\"},"
		"\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":%s}]}}]}";
	char *json;

	assert_true(asprintf(&json, fmt, resources) > 0);
	return json;
}

/*
 * Tenant numbers: negative quantities skip the pod (the API server refuses
 * them), larger ones than the documented maxima are clamped to them, and the
 * two GPU vendors' counts add up to at most PM_GPUS_MAX.
 */
static void test_resources_clamped(void **state)
{
	static const struct {
		const char *res;
		int64_t cpu, mem, gpus;	/* requests; -2: the pod is skipped */
	} cases[] = {
		{ "{\"requests\":{\"cpu\":\"250m\",\"memory\":\"1Gi\"}}", 250, 1LL << 30, 0 },
		{ "{\"requests\":{\"cpu\":\"-1\"}}", -2, 0, 0 },
		{ "{\"requests\":{\"memory\":\"-1Ki\"}}", -2, 0, 0 },
		{ "{\"requests\":{\"nvidia.com/gpu\":\"-3\"}}", -2, 0, 0 },
		{ "{\"requests\":{\"cpu\":\"-0\"}}", 0, -1, 0 },
		/* 2^63 millicores and more: past int64, clamped */
		{ "{\"requests\":{\"cpu\":\"9223372036854775808\",\"memory\":\"8Ei\"}}",
		  PM_CPU_MILLI_MAX, PM_MEMORY_BYTES_MAX, 0 },
		/* within int64, above the maxima: clamped */
		{ "{\"requests\":{\"cpu\":\"1100000000\",\"memory\":\"5Pi\"}}",
		  PM_CPU_MILLI_MAX, PM_MEMORY_BYTES_MAX, 0 },
		{ "{\"requests\":{\"nvidia.com/gpu\":\"9223372036854775807\","
		  "\"amd.com/gpu\":\"9223372036854775807\"}}", -1, -1, PM_GPUS_MAX },
		{ "{\"requests\":{\"nvidia.com/gpu\":\"1048575\",\"amd.com/gpu\":\"2\"}}", -1, -1,
		  PM_GPUS_MAX },
		{ "{\"requests\":{\"nvidia.com/gpu\":\"2\",\"amd.com/gpu\":\"3\"}}", -1, -1, 5 },
	};
	struct pm_pod_meta *pods;
	size_t n, skipped, i;
	char err[256], *json;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json = one_pod(cases[i].res);
		assert_int_equal(kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err,
						     sizeof(err)), 0);
		if (cases[i].cpu == -2) {
			assert_int_equal(n, 0);
			assert_int_equal(skipped, 1);
		} else {
			assert_int_equal(n, 1);
			assert_int_equal(pods[0].containers[0].requests.cpu_milli, cases[i].cpu);
			assert_int_equal(pods[0].containers[0].requests.memory_bytes, cases[i].mem);
			assert_int_equal(pods[0].containers[0].requests.gpus, cases[i].gpus);
		}
		kubelet__free_pods(pods, n);
		free(json);
	}
}

/* A PodList of @n_items items, the first @named of them a valid pod with @ctrs containers. */
static char *many(size_t n_items, size_t named, size_t ctrs)
{
	size_t cap = n_items * 3 + named * (ctrs * 96 + 256) + 64, len = 0, i, k;
	char *json = malloc(cap);

	assert_non_null(json);
	len += snprintf(json + len, cap - len, "{\"items\":[");
	for (i = 0; i < n_items; i++) {
		if (i >= named) {
			len += snprintf(json + len, cap - len, "%s{}", i ? "," : "");
			continue;
		}
		len += snprintf(json + len, cap - len,
				"%s{\"metadata\":{\"uid\":\"%08zx-0000-4000-8000-000000000000\","
				"\"namespace\":\"ns\",\"name\":\"p%zu\"},\"spec\":{\"containers\":[",
				i ? "," : "", i, i);
		for (k = 0; k < ctrs; k++)
			len += snprintf(json + len, cap - len, "%s{\"name\":\"c%zu\"}", k ? "," : "", k);
		len += snprintf(json + len, cap - len,
				"]},\"status\":{\"containerStatuses\":[{\"name\":\"c0\","
				"\"containerID\":\"containerd://aa\"},{\"name\":\"c0\","
				"\"containerID\":\"containerd://bb\"}]}}");
	}
	len += snprintf(json + len, cap - len, "]}");
	assert_true(len < cap);
	return json;
}

/*
 * Pods past PM_POD_MAX_CONTAINERS are skipped; items that are no pods cost
 * nothing kept; of two statuses of one container name, the last wins.
 */
static void test_bounds(void **state)
{
	struct pm_pod_meta *pods;
	size_t n, skipped;
	char err[256], *json;

	(void)state;
	json = many(3, 3, PM_POD_MAX_CONTAINERS);
	assert_int_equal(kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err,
					     sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pods[2].n_containers, PM_POD_MAX_CONTAINERS);
	assert_string_equal(pods[2].containers[0].id, "bb");
	assert_string_equal(pods[2].containers[1].id, "");
	kubelet__free_pods(pods, n);
	free(json);

	json = many(2, 1, PM_POD_MAX_CONTAINERS + 1);
	assert_int_equal(kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err,
					     sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(skipped, 2);
	kubelet__free_pods(pods, n);
	free(json);

	/* 100000 "{}" and 40 pods: the pods kept, in order, the rest counted */
	json = many(100040, 40, 1);
	assert_int_equal(kubelet__parse_pods(json, strlen(json), &pods, &n, &skipped, err,
					     sizeof(err)), 0);
	assert_int_equal(n, 40);
	assert_int_equal(skipped, 100000);
	assert_string_equal(pods[39].name, "p39");
	kubelet__free_pods(pods, n);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_not_a_podlist),
		cmocka_unit_test(test_empty_list),
		cmocka_unit_test(test_resources_clamped),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
