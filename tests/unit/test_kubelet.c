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
	assert_null(kubelet__label(&pods[0], "num"));	/* not a string */
	assert_null(kubelet__label(&pods[0], "long"));	/* longer than a label value can be */
	assert_int_equal(pods[0].n_labels, PM_META_LABELS_MAX);
	kubelet__free_pods(pods, n);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_not_a_podlist),
		cmocka_unit_test(test_empty_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
