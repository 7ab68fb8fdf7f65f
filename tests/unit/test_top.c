// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podmeter top's frame from two /v1/pods readings: rates from the readings'
 * counters and times, the clock of the reading, and readings whose "time"
 * no clock can show (1e17 s is past any year localtime() knows, 1e19 past
 * time_t).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <podmeter/agent.h>

/* The frame of readings @a then @b, malloc'ed. */
static char *frame_of(const char *a, const char *b, int *ret)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	*ret = top__frame(f, a, strlen(a), b, strlen(b));
	assert_int_equal(fclose(f), 0);
	return out;
}

/* The row of @name in @frame, as "name cpu mem ...": its CPU cores. */
static double cpu_of(const char *frame, const char *name)
{
	const char *row = strstr(frame, name);
	char col[64];
	double cpu;

	assert_non_null(row);
	assert_int_equal(sscanf(row, "%63s %lf", col, &cpu), 2);
	return cpu;
}

static void test_rates(void **state)
{
	/* 10 s apart: 5 CPU-seconds more is 0.5 cores; the first of a repeated uid counts */
	const char *a = "{\"time\":1790000000,\"pods\":["
			"{\"uid\":\"u1\",\"namespace\":\"ns\",\"pod\":\"web\",\"cpu_seconds\":100},"
			"{\"uid\":\"u1\",\"namespace\":\"ns\",\"pod\":\"web\",\"cpu_seconds\":0},"
			"{\"uid\":\"u2\",\"namespace\":\"ns\",\"pod\":\"db\",\"cpu_seconds\":40}]}";
	const char *b = "{\"time\":1790000010,\"pods\":["
			"{\"uid\":\"u1\",\"namespace\":\"ns\",\"pod\":\"web\",\"cpu_seconds\":105},"
			"{\"uid\":\"u2\",\"namespace\":\"ns\",\"pod\":\"db\",\"cpu_seconds\":52},"
			"{\"uid\":\"u3\",\"namespace\":\"ns\",\"pod\":\"new\",\"cpu_seconds\":9}]}";
	char *out, want[16];
	time_t t = 1790000010;
	struct tm tm;
	int ret;

	(void)state;
	out = frame_of(a, b, &ret);
	assert_int_equal(ret, 0);
	assert_true(cpu_of(out, "ns/web") == 0.5);
	assert_true(cpu_of(out, "ns/db") == 1.2);
	assert_true(cpu_of(out, "ns/new") == 0); /* not in the first reading: no rate */
	assert_non_null(localtime_r(&t, &tm));
	strftime(want, sizeof(want), "%H:%M:%S", &tm);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, " 3 pods"));
	free(out);
}

static void test_time_out_of_range(void **state)
{
	static const char *const times[] = { "1e17",	     "1e19", "-1e19",
					     "253402300800", "-5",   "\"noon\"" };
	char a[128], *out;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		snprintf(a, sizeof(a),
			 "{\"time\":%s,\"pods\":[{\"uid\":\"u1\",\"cpu_seconds\":1}]}", times[i]);
		out = frame_of(a, a, &ret);
		assert_int_equal(ret, 0);
		if (i < 5)
			assert_non_null(strstr(out, "podmeter top - --:--:--"));
		free(out);
	}
}

static void test_not_a_reading(void **state)
{
	static const char *const bad[] = { "", "[]", "{\"pods\":{}}", "{\"time\":1", "null" };
	const char *good = "{\"time\":1,\"pods\":[]}";
	char *out;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = frame_of(good, bad[i], &ret);
		assert_int_equal(ret, -EINVAL);
		assert_string_equal(out, "");
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_time_out_of_range),
		cmocka_unit_test(test_not_a_reading),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
