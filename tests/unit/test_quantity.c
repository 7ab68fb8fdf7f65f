// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kubernetes quantities, each form the API server accepts, against values
 * worked out by hand from the suffix definitions (k8s.io/apimachinery
 * resource.Quantity: binary Ki..Ei = 2^10..2^60, decimal n..E = 10^-9..10^18,
 * e/E exponents), rounded up as MilliValue() and Value() round.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <podmeter/quantity.h>

struct qcase {
	const char *in;
	int64_t milli; /* MilliValue() */
	int64_t units; /* Value() */
};

static const struct qcase good[] = {
	{ "100m", 100, 1 }, /* 0.1 core; Value() rounds up to 1 */
	{ "0.5", 500, 1 },
	{ "2", 2000, 2 },
	{ "1e3", 1000000, 1000 },
	{ "1E3", 1000000, 1000 },
	{ "128974848", 128974848000LL, 128974848 },
	{ "129e6", 129000000000LL, 129000000 },
	{ "123Mi", 128974848000LL, 128974848 }, /* 123 x 2^20 */
	{ "1Gi", 1073741824000LL, 1073741824 },
	{ "1G", 1000000000000LL, 1000000000 },
	{ "500k", 500000000, 500000 },
	{ "1.5Gi", 1610612736000LL, 1610612736 },
	{ "250m", 250, 1 },
	{ "1500m", 1500, 2 },
	{ "0", 0, 0 },
	{ "0.0", 0, 0 },
	{ "1n", 1, 1 }, /* 1e-9 rounds up in both */
	{ "1u", 1, 1 },
	{ "5Ki", 5120000, 5120 },
	{ "1Ti", 1099511627776000LL, 1099511627776LL },
	{ "2Pi", 2251799813685248000LL, 2251799813685248LL },
	{ "1M", 1000000000, 1000000 },
	{ "+3", 3000, 3 },
	{ "-1", -1000, -1 },
	{ ".5", 500, 1 },
	{ "1e-3", 1, 1 },
	{ "12e+2", 1200000, 1200 },
};

static const char *const bad[] = {
	"",	".",	"Mi",  "1.2.3", "5 Mi", " 5",
	"5 ",	"1KiB", "1Kb", "abc",	"1e",	"1e+",
	"1ee3", "--1",	"1,5", "0x10",	"1Mi2", "12345678901234567890123456789012345678901",
};

static void test_good(void **state)
{
	struct pm_quantity q;
	int64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (quantity__parse(good[i].in, &q))
			fail_msg("%s: rejected", good[i].in);
		assert_int_equal(quantity__milli(&q, &v), 0);
		if (v != good[i].milli)
			fail_msg("%s: milli %lld, want %lld", good[i].in, (long long)v,
				 (long long)good[i].milli);
		assert_int_equal(quantity__units(&q, &v), 0);
		if (v != good[i].units)
			fail_msg("%s: units %lld, want %lld", good[i].in, (long long)v,
				 (long long)good[i].units);
	}
}

static void test_bad(void **state)
{
	struct pm_quantity q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (quantity__parse(bad[i], &q) != -EINVAL)
			fail_msg("\"%s\": accepted", bad[i]);
	assert_int_equal(quantity__parse(NULL, &q), -EINVAL);
}

static void test_range(void **state)
{
	struct pm_quantity q;
	int64_t v;

	(void)state;
	/* 8Ei = 2^63 bytes: one past INT64_MAX */
	assert_int_equal(quantity__parse("8Ei", &q), 0);
	assert_int_equal(quantity__units(&q, &v), -ERANGE);
	/* fits in units, not in thousandths */
	assert_int_equal(quantity__parse("1Ei", &q), 0);
	assert_int_equal(quantity__units(&q, &v), 0);
	assert_true(v == (int64_t)1 << 60);
	assert_int_equal(quantity__milli(&q, &v), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
