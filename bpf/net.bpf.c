// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Network bytes and packets per cgroup, direction and destination class, from
 * cgroup_skb programs at the cgroup v2 root; TCP retransmits per cgroup.
 *
 * cgroup_skb sees each IP packet of a socket once, at the IP layer: its
 * length is the IP packet's (headers on, link layer off). The peer address
 * (destination on egress, source on ingress) is looked up in an LPM trie of
 * CIDRs -> class; no match is "internet".
 *
 * A socket's cgroup below a container (made inside it) is counted in the
 * container's entry, as in the other objects (bpf/tables.bpf.h). cgroup_skb
 * programs cannot read the cgroup tree, so the decision is taken when such a
 * cgroup is made (cgroup_mkdir) and kept in net_fold.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "common.bpf.h"
#include "tables.bpf.h"
#include <podmeter/net.h>

#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PM_NET_MAX_KEYS);
	__type(key, struct pm_net_key);
	__type(value, struct pm_net_val);
} net_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, PM_NET_MAX_KEYS);
	__type(key, __u64);
	__type(value, __u64);
} tcp_retrans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PM_NET_MAX_CIDRS);
	__type(key, struct pm_lpm_v4);
	__type(value, __u32);
} class_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PM_NET_MAX_CIDRS);
	__type(key, struct pm_lpm_v6);
	__type(value, __u32);
} class_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PM_NET_ERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} net_errors SEC(".maps");

/* cgroup v2 id -> the id it is counted as, for cgroups made below a container */
PM_FOLD_MAP(net_fold);

/* Set once a counter of net_stats or tcp_retrans moved (moved_set()); a read clears it. */
volatile __u32 net_moved;

/* A socket's cgroup as counted; only asked when it has no entry of its own. */
static __always_inline __u64 counted(__u64 cgid)
{
	__u64 *to = bpf_map_lookup_elem(&net_fold, &cgid);

	return to ? *to : cgid;
}

/* The peer's class: destination on egress, source on ingress. */
static __always_inline __u32 peer_class(struct __sk_buff *skb, __u32 dir)
{
	__u32 *cls = NULL;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct pm_lpm_v4 key = { .prefixlen = 32 };
		__u32 off = dir == PM_NET_TX ? offsetof(struct iphdr, daddr)
					     : offsetof(struct iphdr, saddr);

		if (bpf_skb_load_bytes(skb, off, key.addr, sizeof(key.addr)))
			return PM_NET_INTERNET;
		cls = bpf_map_lookup_elem(&class_v4, &key);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct pm_lpm_v6 key = { .prefixlen = 128 };
		__u32 off = dir == PM_NET_TX ? offsetof(struct ipv6hdr, daddr)
					     : offsetof(struct ipv6hdr, saddr);

		if (bpf_skb_load_bytes(skb, off, key.addr, sizeof(key.addr)))
			return PM_NET_INTERNET;
		cls = bpf_map_lookup_elem(&class_v6, &key);
	}
	return cls && *cls < PM_NET_CLASSES ? *cls : PM_NET_INTERNET;
}

static __always_inline void account(struct __sk_buff *skb, __u32 dir)
{
	struct pm_net_key key = { .cgid = bpf_skb_cgroup_id(skb), .dir = dir };
	static const struct pm_net_val zero;
	struct pm_net_val *v;

	key.class = peer_class(skb, dir);
	v = bpf_map_lookup_elem(&net_stats, &key);
	if (!v) {
		__u64 to = counted(key.cgid);

		if (to != key.cgid) {
			key.cgid = to;
			v = bpf_map_lookup_elem(&net_stats, &key);
		}
	}
	if (!v)
		v = map_try_init(&net_stats, &key, &zero, &net_errors, PM_NET_ERR_STATS_FULL);
	if (!v)
		return;
	v->bytes += skb->len;
	v->packets++;
	moved_set(&net_moved);
}

SEC("cgroup_skb/egress")
int net_egress(struct __sk_buff *skb)
{
	account(skb, PM_NET_TX);
	return 1;
}

SEC("cgroup_skb/ingress")
int net_ingress(struct __sk_buff *skb)
{
	account(skb, PM_NET_RX);
	return 1;
}

static __always_inline int handle_retransmit(const struct sock *sk)
{
	__u64 cgid = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id), *v;
	static const __u64 zero;

	v = bpf_map_lookup_elem(&tcp_retrans, &cgid);
	if (!v) {
		cgid = counted(cgid);
		v = bpf_map_lookup_elem(&tcp_retrans, &cgid);
	}
	if (!v)
		v = map_try_init(&tcp_retrans, &cgid, &zero, &net_errors, PM_NET_ERR_RETRANS_FULL);
	if (!v)
		return 0;
	*v += 1;
	moved_set(&net_moved);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tp_btf_tcp_retransmit_skb, const struct sock *sk)
{
	return handle_retransmit(sk);
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(raw_tp_tcp_retransmit_skb, const struct sock *sk)
{
	return handle_retransmit(sk);
}

/*
 * A cgroup v2 cgroup is made: when it lies below a container, its sockets
 * will be counted in the container. One program for both kinds of kernel
 * (it runs only at mkdir); a cgroup made while no program was attached gets
 * its own entries.
 */
SEC("raw_tp/cgroup_mkdir")
int BPF_PROG(raw_tp_net_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	__u64 cgid, to, cgp;

	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0 ||
	    bpf_probe_read_kernel(&cgp, sizeof(cgp), &cgrp))
		return 0;
	cgid = BPF_CORE_READ(cgrp, kn, id);
	to = pm_fold_compute(cgp);
	if (to != cgid)
		bpf_map_update_elem(&net_fold, &cgid, &to, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
