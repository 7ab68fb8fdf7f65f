// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* u64map against a brute-force reference array under random operations. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>
#include <podmeter/u64map.h>

#define KEYS 512 /* small key space: many collisions, deletes, re-inserts */
#define OPS  200000

static void test_random_ops_match_reference(void **state)
{
	static uintptr_t ref[KEYS];
	struct u64map m;
	size_t i, iter = 0, seen = 0, live = 0;
	uint64_t k;
	void *v;

	(void)state;
	u64map__init(&m);
	srand(42);
	for (i = 0; i < OPS; i++) {
		uint64_t key = (uint64_t)(rand() % KEYS) * 4096 + 1; /* cgroup-like ids */
		size_t idx = (key - 1) / 4096;

		switch (rand() % 3) {
		case 0:
		case 1:
			assert_int_equal(u64map__put(&m, key, (void *)(i + 1)), 0);
			ref[idx] = i + 1;
			break;
		default:
			assert_ptr_equal(u64map__del(&m, key), (void *)ref[idx]);
			ref[idx] = 0;
		}
		/* every key agrees with the reference after each op on a sample */
		idx = rand() % KEYS;
		assert_ptr_equal(u64map__get(&m, idx * 4096 + 1), (void *)ref[idx]);
	}
	for (i = 0; i < KEYS; i++) {
		assert_ptr_equal(u64map__get(&m, i * 4096 + 1), (void *)ref[i]);
		live += ref[i] != 0;
	}
	assert_int_equal(m.len, live);
	while (u64map__next(&m, &iter, &k, &v)) {
		assert_ptr_equal(v, (void *)ref[(k - 1) / 4096]);
		seen++;
	}
	assert_int_equal(seen, live);
	u64map__free(&m);
}

static void test_null_value_and_empty_map(void **state)
{
	struct u64map m;

	(void)state;
	u64map__init(&m);
	assert_null(u64map__get(&m, 7));
	assert_null(u64map__del(&m, 7));
	assert_int_equal(u64map__put(&m, 7, NULL), -22);
	u64map__free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_ops_match_reference),
		cmocka_unit_test(test_null_value_and_empty_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
