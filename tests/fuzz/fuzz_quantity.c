// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Resource quantities (common/quantity.c). Both roundings are ceilings, so
 * whatever the value v: ceil(1000 v) <= 1000 ceil(v) < ceil(1000 v) + 1000.
 */
#include <podmeter/quantity.h>
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct pm_quantity q;
	int64_t milli, units;
	__int128 u1000;
	int rm, ru;

	if (!quantity__parse(s, &q)) {
		rm = quantity__milli(&q, &milli);
		ru = quantity__units(&q, &units);
		fuzz_assert(!rm || rm == -ERANGE);
		fuzz_assert(!ru || ru == -ERANGE);
		if (!rm && !ru) {
			u1000 = (__int128)units * 1000;
			fuzz_assert(milli <= u1000 && u1000 < (__int128)milli + 1000);
		}
		/* a value whose thousandths fit has units that fit */
		fuzz_assert(rm || !ru);
	}
	free(s);
	return 0;
}
