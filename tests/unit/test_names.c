// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * names: the labels of the snapshot's enums, written once in common/names.c
 * for /metrics, /v1/pods and reports. The strings are part of the interface
 * (label values, JSON keys): each is checked letter by letter, and a value
 * out of range gives the documented fallback, never an out-of-bounds read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "podmeter/names.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct names_case {
	const char *what;
	const char *(*name)(int);
	int n;			 /* values in the enum */
	const char *const *want; /* n labels */
	const char *out;	 /* out of range; NULL: NULL */
};

static const char *const want_qos[] = { "", "guaranteed", "burstable", "besteffort" };
static const char *const want_runtime[] = { "", "containerd", "crio", "crio-conmon", "docker" };
static const char *const want_oh[] = { "unit", "slice", "container", "other" };
static const char *const want_res[] = { "cpu", "memory", "gpu", "network" };
static const char *const want_class[] = { "local", "in_zone", "cross_zone", "cross_region",
					  "internet" };
static const char *const want_dir[] = { "tx", "rx" };
static const char *const want_mem[] = { "file", "anon", "swap", "shmem" };
static const char *const want_zombie[] = { "process", "workload", "orphan", "gpu" };
static const char *const want_gpu_op[] = { "alloc", "free", "control", "map", "unmap", "other" };
static const char *const want_table[] = { "mm_state",	 "exited",	 "gpu_inflight",
					  "cuda_allocs", "cuda_pending", "cgroups" };
/* the podfile reasons 0-1 (ok, gone) have no refusal label: the file went away */
static const char *const want_cuda[] = {
	NULL,	   NULL,	 "escape", "not_regular", "other_file", "too_big",   "denied",
	"bad_elf", "no_symbols", "attach", "pod_share",	  "table_full", "maps_long",
};

static const struct names_case cases[] = {
	{ "qos", names__qos, PM_QOS_CLASSES, want_qos, "" },
	{ "runtime", names__runtime, PM_RT_RUNTIMES, want_runtime, "" },
	{ "overhead kind", names__oh_kind, PM_OH_KINDS, want_oh, NULL },
	{ "resource", names__res, PM_RES_MAX, want_res, "" },
	{ "network class", names__net_class, PM_NET_CLASSES, want_class, "" },
	{ "direction", names__net_dir, PM_NET_DIRS, want_dir, "" },
	{ "memory kind", names__mem_kind, PM_MEM_KINDS, want_mem, "" },
	{ "zombie kind", names__zombie, PM_ZOMBIE_KINDS, want_zombie, "?" },
	{ "gpu op", names__gpu_op, PM_GPU_OPS, want_gpu_op, "other" },
	{ "table", names__table, PM_SNAP_TABLES, want_table, "" },
	{ "cuda refusal", names__cuda_refusal, PM_CUDA_REFUSE_MAX, want_cuda, NULL },
};

static void check_label(const char *what, int v, const char *got, const char *want)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(got, want))
		fail_msg("%s %d: \"%s\", want \"%s\"", what, v, got ? got : "(null)",
			 want ? want : "(null)");
}

static void test_labels(void **state)
{
	static const int out[] = { -1, -1000, 1 << 30 };
	size_t i, k;
	int v;

	(void)state;
	/* the enums and the expected tables have the same number of rows */
	assert_int_equal(ARRAY_SIZE(want_qos), PM_QOS_CLASSES);
	assert_int_equal(ARRAY_SIZE(want_runtime), PM_RT_RUNTIMES);
	assert_int_equal(ARRAY_SIZE(want_oh), PM_OH_KINDS);
	assert_int_equal(ARRAY_SIZE(want_res), PM_RES_MAX);
	assert_int_equal(ARRAY_SIZE(want_class), PM_NET_CLASSES);
	assert_int_equal(ARRAY_SIZE(want_dir), PM_NET_DIRS);
	assert_int_equal(ARRAY_SIZE(want_mem), PM_MEM_KINDS);
	assert_int_equal(ARRAY_SIZE(want_zombie), PM_ZOMBIE_KINDS);
	assert_int_equal(ARRAY_SIZE(want_gpu_op), PM_GPU_OPS);
	assert_int_equal(ARRAY_SIZE(want_table), PM_SNAP_TABLES);
	assert_int_equal(ARRAY_SIZE(want_cuda), PM_CUDA_REFUSE_MAX);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct names_case *c = &cases[i];

		for (v = 0; v < c->n; v++)
			check_label(c->what, v, c->name(v), c->want[v]);
		check_label(c->what, c->n, c->name(c->n), c->out);
		for (k = 0; k < ARRAY_SIZE(out); k++)
			check_label(c->what, out[k], c->name(out[k]), c->out);
	}
}

/* A label stands for one value: two values with one label would merge two series. */
static void test_distinct(void **state)
{
	size_t i;
	int a, b;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct names_case *c = &cases[i];

		for (a = 0; a < c->n; a++)
			for (b = a + 1; b < c->n; b++)
				if (c->name(a) && c->name(b) && !strcmp(c->name(a), c->name(b)))
					fail_msg("%s: %d and %d are both \"%s\"", c->what, a, b,
						 c->name(a));
	}
}

/* The named indices are the ones the snapshot's arrays and the kernel side use. */
static void test_indices(void **state)
{
	(void)state;
	assert_string_equal(names__net_dir(PM_NET_TX), "tx");
	assert_string_equal(names__net_dir(PM_NET_RX), "rx");
	assert_string_equal(names__net_class(PM_NET_CROSS_ZONE), "cross_zone");
	assert_string_equal(names__mem_kind(PM_MEM_SHMEM), "shmem");
	assert_string_equal(names__qos(PM_QOS_BESTEFFORT), "besteffort");
	assert_string_equal(names__runtime(PM_RT_CRIO_CONMON), "crio-conmon");
	assert_string_equal(names__res(PM_RES_NETWORK), "network");
	assert_string_equal(names__gpu_op(PM_GPU_OP_UNMAP), "unmap");
	assert_string_equal(names__zombie(PM_ZOMBIE_ORPHAN), "orphan");
	assert_string_equal(names__oh_kind(PM_OH_OTHER), "other");
	assert_string_equal(names__cuda_refusal(PM_CUDA_REFUSE_MAPS_LONG), "maps_long");
	assert_null(names__cuda_refusal(PM_CUDA_REFUSE_FILE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_indices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
