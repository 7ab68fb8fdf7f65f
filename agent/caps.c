// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Least privilege. The agent starts with the capabilities below (the
 * DaemonSet adds exactly these, `podmeter check --required-caps` prints them)
 * and, once its programs are loaded and attached, keeps only those it uses
 * while running: map reads and deletes, uprobes on CUDA libraries of new
 * processes, and reading other containers' /proc/<pid>/root.
 *
 * Uprobes on libcuda.so.1 go through perf's uprobe PMU, which asks for
 * CAP_SYS_ADMIN (Linux 6.16, and stable kernels since mid-2025, went back to
 * it from CAP_PERFMON). It is not in the required set: granted (the GPU
 * overlay of the manifests does), it is kept on nodes with GPU devices, for
 * CUDA libraries of processes that start later, and dropped elsewhere.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <podmeter/caps.h>

/* From linux/capability.h of 5.8, for older headers. */
#define PM_CAP_SETPCAP	    8
#define PM_CAP_SYS_ADMIN    21
#define PM_CAP_SYS_PTRACE   19
#define PM_CAP_NET_ADMIN    12
#define PM_CAP_SYS_RESOURCE 24
#define PM_CAP_PERFMON	    38
#define PM_CAP_BPF	    39

const struct pm_cap_need caps__needed[] = {
	{ PM_CAP_BPF, "CAP_BPF", true, "load programs, create and read maps" },
	{ PM_CAP_PERFMON, "CAP_PERFMON", true,
	  "tracing programs and uprobes (also for processes that start later)" },
	{ PM_CAP_NET_ADMIN, "CAP_NET_ADMIN", false, "cgroup_skb programs at the cgroup root" },
	{ PM_CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE", false,
	  "raise RLIMIT_MEMLOCK for maps on kernels before 5.11" },
	{ PM_CAP_SYS_PTRACE, "CAP_SYS_PTRACE", true,
	  "find libcuda through /proc/<pid>/root of other containers" },
	{ 0, NULL, false, NULL },
};

void caps__print_required(FILE *f)
{
	const struct pm_cap_need *n;

	for (n = caps__needed; n->name; n++)
		fprintf(f, "%s\n", n->name);
}

static bool kernel_knows(int cap)
{
	return prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0;
}

bool caps__held(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[cap / 32].effective & (1u << (cap % 32));
}

/* Set the calling thread's capabilities to @keep; the bounding set too when it may. */
static int set_thread_caps(unsigned long long keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	int cap;

	/*
	 * The bounding set first, while CAP_SETPCAP may still be held; without
	 * it (the DaemonSet does not grant it) the bounding set stays what the
	 * runtime made it, the granted set: with no_new_privs and no exec it
	 * can give nothing back.
	 */
	if (caps__held(PM_CAP_SETPCAP))
		for (cap = 0; kernel_knows(cap); cap++)
			if (!(keep & (1ULL << cap)))
				prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	data[0].permitted = data[0].effective = (__u32)keep;
	data[1].permitted = data[1].effective = (__u32)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	/* per thread too: a thread that drops sets its own */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}

int caps__drop_after_start(char *kept, size_t len, bool uprobes)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	unsigned long long keep = 0, have;
	const struct pm_cap_need *n;
	size_t off = 0;
	int err;

	kept[0] = '\0';
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	have = data[0].permitted | (unsigned long long)data[1].permitted << 32;
	for (n = caps__needed; n->name; n++)
		if (n->after_start)
			keep |= 1ULL << n->cap;
	/* before 5.8 CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON */
	if (!kernel_knows(PM_CAP_BPF) || uprobes)
		keep |= 1ULL << PM_CAP_SYS_ADMIN;
	keep &= have;
	err = set_thread_caps(keep);
	if (err)
		return err;
	for (n = caps__needed; n->name; n++)
		if (keep & (1ULL << n->cap))
			off += snprintf(kept + off, off < len ? len - off : 0, "%s%s",
					off ? " " : "", n->name);
	if (keep & (1ULL << PM_CAP_SYS_ADMIN))
		snprintf(kept + off, off < len ? len - off : 0, "%sCAP_SYS_ADMIN", off ? " " : "");
	return 0;
}

int caps__drop_all(void)
{
	return set_thread_caps(0);
}
