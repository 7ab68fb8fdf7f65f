// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A report's body into a checked NodeReport (reconciler/ingest.c): every
 * bound refuses with its reason, the rest goes through; repeated empty
 * messages, which unpack a hundredfold and render a thousandfold, stop at
 * the decoding budget.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ingest.h"
#include "rec_limits.h"
#include "fixture.h"

#define NOW 1790000000.0

static int decode(const void *body, size_t len, Podmeter__V1__NodeReport **r,
		  enum rec_reason *reason)
{
	char why[256] = "";
	int ret = ingest__decode(body, len, r, reason, why, sizeof(why));

	if (ret)
		assert_true(why[0] != '\0');
	return ret;
}

static void test_good_report(void **state)
{
	Podmeter__V1__NodeReport *r;
	enum rec_reason reason;
	char why[256];
	struct fx f;
	size_t len;
	void *gz;

	(void)state;
	fx_init(&f, "lab", "node-a", 7, NOW - 60, NOW);
	fx_pod(&f, "u1", "shop", "web-1", "Deployment", "web", 10, 20);
	gz = fx_wire(&f, &len);
	assert_int_equal(decode(gz, len, &r, &reason), 0);
	assert_string_equal(r->node, "node-a");
	assert_int_equal(r->seq, 7);
	assert_int_equal(ingest__check(r, NOW, &reason, why, sizeof(why)), 0);
	ingest__free(r);
	free(gz);
	fx_free(&f);
}

static void test_bad_bodies(void **state)
{
	static const char not_gzip[] = "<html>hello</html>";
	unsigned char junk[64];
	Podmeter__V1__NodeReport *r;
	enum rec_reason reason;
	size_t len;
	void *gz;

	(void)state;
	assert_int_equal(decode(not_gzip, sizeof(not_gzip), &r, &reason), -1);
	assert_int_equal(reason, REASON_BAD_GZIP);
	memset(junk, 0xff, sizeof(junk)); /* gzip of bytes that are no protobuf */
	assert_int_equal(gz__compress(junk, sizeof(junk), &gz, &len), 0);
	assert_int_equal(decode(gz, len, &r, &reason), -1);
	assert_int_equal(reason, REASON_BAD_PROTOBUF);
	free(gz);
}

/* More than REC_INFLATED_MAX once inflated: refused before it is all in memory. */
static void test_inflated_bound(void **state)
{
	size_t n = REC_INFLATED_MAX + 1, len;
	Podmeter__V1__NodeReport *r;
	enum rec_reason reason;
	char *zeros = calloc(1, n);
	void *gz;

	(void)state;
	assert_non_null(zeros);
	assert_int_equal(gz__compress(zeros, n, &gz, &len), 0);
	free(zeros);
	print_message("%zu MiB of zeros in %zu bytes of gzip\n", n >> 20, len);
	assert_int_equal(decode(gz, len, &r, &reason), -1);
	assert_int_equal(reason, REASON_INFLATED_TOO_LARGE);
	free(gz);
}

/*
 * A NodeReport of a node name, then a million empty PodReports (field 9,
 * length 0: two bytes each). Unpacked, each is a whole PodReport struct:
 * hundreds of MiB from 2 MiB. The budget stops it.
 */
static void test_empty_messages(void **state)
{
	size_t n = 1000000, len, i, off = 0;
	unsigned char *pb = malloc(2 * n + 16);
	Podmeter__V1__NodeReport *r;
	enum rec_reason reason;
	void *gz;

	(void)state;
	assert_non_null(pb);
	pb[off++] = 0x12; /* field 2 (node), length-delimited */
	pb[off++] = 1;
	pb[off++] = 'n';
	for (i = 0; i < n; i++) {
		pb[off++] = 0x4a; /* field 9 (pods), length-delimited */
		pb[off++] = 0;
	}
	assert_int_equal(gz__compress(pb, off, &gz, &len), 0);
	free(pb);
	print_message("%zu empty pods: %zu bytes on the wire, %zu bytes a PodReport unpacked\n", n,
		      len, sizeof(Podmeter__V1__PodReport));
	assert_true(n * sizeof(Podmeter__V1__PodReport) > REC_DECODED_MAX);
	assert_int_equal(decode(gz, len, &r, &reason), -1);
	assert_int_equal(reason, REASON_DECODED_TOO_LARGE);
	free(gz);
}

/* Decoded fine, refused by the check: one case a row. */
static void test_checks(void **state)
{
	static const struct {
		const char *what;
		enum rec_reason want;
	} cases[] = {
		{ "no node", REASON_BAD_REPORT },
		{ "seq 0", REASON_BAD_REPORT },
		{ "old window", REASON_BAD_REPORT },
		{ "future window", REASON_BAD_REPORT },
		{ "reversed window", REASON_BAD_REPORT },
		{ "bad utf-8", REASON_BAD_REPORT },
		{ "control char", REASON_BAD_REPORT },
		{ "long name", REASON_BAD_REPORT },
		{ "no uid", REASON_BAD_REPORT },
		{ "too many pods", REASON_TOO_MANY_ITEMS },
		{ "too many containers", REASON_TOO_MANY_ITEMS },
		{ "too many labels", REASON_TOO_MANY_ITEMS },
	};
	Podmeter__V1__PodReport *p;
	enum rec_reason reason;
	char why[256], long_name[400];
	size_t i, k;
	struct fx f;

	(void)state;
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_init(&f, "lab", "node-a", 3, NOW - 60, NOW);
		p = fx_pod(&f, "u1", "shop", "web-1", "Deployment", "web", 1, 1);
		switch (i) {
		case 0:
			f.r.node = "";
			break;
		case 1:
			f.r.seq = 0;
			break;
		case 2:
			f.r.window_start = 1000;
			f.r.window_end = 1060;
			break;
		case 3:
			f.r.window_end = NOW + 3 * 86400;
			break;
		case 4:
			f.r.window_start = NOW + 1;
			break;
		case 5:
			p->name = "web\xc3(";
			break;
		case 6:
			p->namespace_ = "sh\nop";
			break;
		case 7:
			p->owner_name = long_name;
			break;
		case 8:
			p->uid = "";
			break;
		case 9:
			f.r.pods = fx_alloc(&f, (REC_PODS_MAX + 1) * sizeof(*f.r.pods));
			for (f.r.n_pods = 0; f.r.n_pods <= REC_PODS_MAX; f.r.n_pods++)
				f.r.pods[f.r.n_pods] = p;
			break;
		case 10:
			p->containers = fx_alloc(&f, (REC_CONTAINERS_MAX + 1) * sizeof(void *));
			for (k = 0; k <= REC_CONTAINERS_MAX; k++)
				fx_container(&f, p, "c", NULL);
			break;
		case 11:
			p->labels = fx_alloc(&f, (REC_LABELS_MAX + 1) * sizeof(void *));
			for (k = 0; k <= REC_LABELS_MAX; k++)
				fx_label(&f, p, "k", "v");
			break;
		}
		why[0] = '\0';
		if (ingest__check(&f.r, NOW, &reason, why, sizeof(why)) != -1)
			fail_msg("%s: not refused", cases[i].what);
		print_message("%-20s %s: %s\n", cases[i].what, rec_reasons[reason].name, why);
		assert_int_equal(reason, cases[i].want);
		assert_true(why[0] != '\0');
		fx_free(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_report),    cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_inflated_bound), cmocka_unit_test(test_empty_messages),
		cmocka_unit_test(test_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
