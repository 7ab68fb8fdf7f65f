// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* esc__str: tenant strings made safe for one log line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <podmeter/esc.h>

static void test_table(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "nginx", "nginx" },
		{ "a\nb", "a\\x0ab" },
		{ "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m" },
		{ "tab\there\r", "tab\\x09here\\x0d" },
		{ "q\"uo\\te", "q\\\"uo\\\\te" },
		{ "\x7f\x9b\xff", "\\x7f\\x9b\\xff" },
		{ "", "" },
		{ NULL, "(null)" },
	};
	char buf[PM_ESC_BUF];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(esc__str(buf, sizeof(buf), cases[i].in), cases[i].out);
}

static void test_bounded(void **state)
{
	char src[4096], buf[PM_ESC_BUF], small[8];
	const char *out;

	(void)state;
	/* every byte an escape: the longest output, still within the buffer */
	memset(src, '\n', sizeof(src) - 1);
	src[sizeof(src) - 1] = '\0';
	out = esc__str(buf, sizeof(buf), src);
	assert_int_equal(strlen(out), PM_ESC_SHOWN * 4 + 3);
	assert_non_null(strstr(out, "..."));
	assert_null(strchr(out, '\n'));
	memset(src, 'x', sizeof(src) - 1);
	out = esc__str(buf, sizeof(buf), src);
	assert_int_equal(strlen(out), PM_ESC_SHOWN + 3);
	/* a small buffer cuts at a whole escape and stays terminated */
	out = esc__str(small, sizeof(small), "\n\n\n");
	assert_string_equal(out, "\\x0a...");
	out = esc__str(small, sizeof(small), "abcdefghij");
	assert_true(strlen(out) < sizeof(small));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
