// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A packed NodeReport rendered as JSON (exporter/pbjson.c). What renders is
 * one line of valid JSON with every NodeReport field; what the bound check
 * calls broken protobuf-c must refuse too.
 */
#include <jansson.h>
#include <podmeter/report.h>
#include "podmeter.pb-c.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Podmeter__V1__NodeReport *r;
	char err[256], *s;
	json_error_t jerr;
	json_t *j;
	int ret;

	ret = pbjson__check(data, size, err, sizeof(err));
	fuzz_assert(!ret || ret == -EINVAL || ret == -EFBIG);
	if (ret == -EINVAL) {
		r = podmeter__v1__node_report__unpack(NULL, size, data);
		fuzz_assert(!r);
	}
	s = pbjson__report(data, size, err, sizeof(err));
	fuzz_assert(!ret || !s);
	if (!s)
		return 0;
	fuzz_assert(!strchr(s, '\n'));
	j = json_loads(s, 0, &jerr);
	fuzz_assert(j && json_object_size(j) == podmeter__v1__node_report__descriptor.n_fields);
	json_decref(j);
	free(s);
	return 0;
}
