// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgroup paths -> pod identity (agent/pod/podpath.c). */
#include <ctype.h>
#include <podmeter/podpath.h>
#include "fuzz.h"

static bool lower_hex(const char *s, bool dashes)
{
	for (; *s; s++)
		if (!(isdigit((unsigned char)*s) || (*s >= 'a' && *s <= 'f') ||
		      (dashes && *s == '-')))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct pm_pod_ident id;
	size_t n;
	int ret;

	ret = podpath__parse(s, &id);
	fuzz_assert(!ret || ret == -ENOENT || ret == -EINVAL);
	if (!ret) {
		n = strlen(id.uid);
		fuzz_assert((n == PM_UID_LEN || n == PM_UID_HASH_LEN) && lower_hex(id.uid, true));
		fuzz_assert(strlen(id.container_id) <= PM_CID_MAX &&
			    lower_hex(id.container_id, false));
		fuzz_assert((id.runtime == PM_RT_NONE) == !id.container_id[0]);
		fuzz_assert(id.qos != PM_QOS_UNKNOWN);
	}
	free(s);
	return 0;
}
