/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between bpf/net.bpf.c and agent/signal/net.c: fixed-size, __u32/__u64 only. */
#ifndef PODMETER_NET_H
#define PODMETER_NET_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PM_NET_MAX_KEYS	 65536 /* cgroups x directions x classes seen */
#define PM_NET_MAX_CIDRS 4096  /* per address family */

/* Where traffic goes (tx) or comes from (rx): what egress is priced by. */
enum pm_net_class {
	PM_NET_LOCAL = 0,
	PM_NET_IN_ZONE,
	PM_NET_CROSS_ZONE,
	PM_NET_CROSS_REGION,
	PM_NET_INTERNET, /* no CIDR matched */
	PM_NET_CLASSES,
};

enum pm_net_dir {
	PM_NET_TX = 0,
	PM_NET_RX = 1,
	PM_NET_DIRS,
};

struct pm_net_key {
	__u64 cgid; /* cgroup v2 id of the socket */
	__u32 dir;
	__u32 class;
};

/* Per-CPU value of net_stats: IP packets and their bytes (IP header on). */
struct pm_net_val {
	__u64 bytes;
	__u64 packets;
};

/* LPM trie keys: prefix length, then the address in network byte order. */
struct pm_lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct pm_lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

enum pm_net_err {
	PM_NET_ERR_STATS_FULL = 0,
	PM_NET_ERR_RETRANS_FULL = 1,
	PM_NET_ERR_MAX,
};

#endif /* PODMETER_NET_H */
