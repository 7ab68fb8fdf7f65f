// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * usage__add: every counter of struct pm_usage is added, word by word, so a
 * field added to the struct and forgotten in usage__add fails here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <podmeter/usage.h>

#define WORDS  (sizeof(struct pm_usage) / sizeof(__u64))
#define GPU_AT (offsetof(struct pm_usage, gpu) / sizeof(__u64))
#define HELD_AT                                                                                    \
	((offsetof(struct pm_usage, cuda) + offsetof(struct pm_cuda_val, bytes_held)) /            \
	 sizeof(__u64))

_Static_assert(sizeof(struct pm_usage) % sizeof(__u64) == 0, "pm_usage is whole words");

/* Word i of a usage holds i + 1 (+ @base), but for the GPU pointer. */
static void fill(struct pm_usage *u, __u64 base)
{
	__u64 w[WORDS];
	size_t i;

	for (i = 0; i < WORDS; i++)
		w[i] = i + 1 + base;
	memcpy(u, w, sizeof(w));
	u->gpu = NULL;
}

static void words(const struct pm_usage *u, __u64 w[WORDS])
{
	memcpy(w, u, sizeof(*u));
}

static void test_every_counter_added(void **state)
{
	struct pm_usage to, from;
	__u64 w[WORDS];
	size_t i;

	(void)state;
	fill(&to, 1000);
	fill(&from, 0);
	assert_int_equal(usage__add(&to, &from), 0);
	words(&to, w);
	for (i = 0; i < WORDS; i++) {
		if (i == GPU_AT)
			continue;
		/* held device memory is the cgroup's now: it is never summed */
		if (i == HELD_AT)
			assert_int_equal(w[i], i + 1 + 1000);
		else
			assert_int_equal(w[i], 2 * (i + 1) + 1000);
	}
	assert_null(to.gpu);
}

static void test_gpu_table_made_and_summed(void **state)
{
	struct pm_usage to = {}, from = {};

	(void)state;
	from.gpu = calloc(1, sizeof(*from.gpu));
	assert_non_null(from.gpu);
	from.gpu->calls[PM_GPU_MAX_DEVS - 1][PM_GPU_OPS - 1] = 7;
	from.gpu->ns[0][0] = 11;
	assert_int_equal(usage__add(&to, &from), 0);
	assert_non_null(to.gpu);
	assert_ptr_not_equal(to.gpu, from.gpu);
	assert_int_equal(usage__add(&to, &from), 0);
	assert_int_equal(to.gpu->calls[PM_GPU_MAX_DEVS - 1][PM_GPU_OPS - 1], 14);
	assert_int_equal(to.gpu->ns[0][0], 22);
	assert_int_equal(to.gpu->calls[0][0], 0);
	usage__free(&to);
	assert_null(to.gpu);
	assert_int_equal(to.oncpu_ns, 0);
	usage__free(&from);
}

static void test_net_dirs(void **state)
{
	struct pm_usage u = {};
	uint64_t out[2];
	int k;

	(void)state;
	for (k = 0; k < PM_NET_CLASSES; k++) {
		u.net_bytes[PM_NET_TX][k] = 1ULL << k;
		u.net_bytes[PM_NET_RX][k] = 100;
		u.net_packets[PM_NET_TX][k] = 5; /* packets are not bytes */
	}
	usage__net_dirs(&u, out);
	assert_int_equal(out[0], (1ULL << PM_NET_CLASSES) - 1);
	assert_int_equal(out[1], 100 * PM_NET_CLASSES);
}

static void test_raise_never_steps_back(void **state)
{
	__u64 v = 10;

	(void)state;
	usage__raise(&v, 5);
	assert_int_equal(v, 10);
	usage__raise(&v, 12);
	assert_int_equal(v, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_counter_added),
		cmocka_unit_test(test_gpu_table_made_and_summed),
		cmocka_unit_test(test_net_dirs),
		cmocka_unit_test(test_raise_never_steps_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
