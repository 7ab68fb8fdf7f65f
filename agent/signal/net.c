// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads bpf/net.bpf.c: cgroup_skb programs at the cgroup v2 root, the CIDR
 * classes in LPM tries, TCP retransmits; reads bytes and packets per cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <podmeter/agent.h>
#include <podmeter/cidr.h>
#include <podmeter/net.h>
#include <podmeter/pin.h>
#include <podmeter/source.h>
#include "net.skel.h"

struct pm_net {
	struct net_bpf *skel;
	struct pm_pin pin;
	struct pm_moved moved; /* read when counted, removed cgroups' entries deleted then */
};

#define NET_DEFAULT_CIDRS 16

/* Built-in classes first, then the config's: the config wins for the same network. */
static int all_classes(const struct pm_config *cfg, struct pm_cidr *out)
{
	int n = cidr__defaults(out, NET_DEFAULT_CIDRS);

	memcpy(out + n, cfg->net.cidrs, cfg->net.n_cidrs * sizeof(*out));
	return n + cfg->net.n_cidrs;
}

static int fill_classes(struct pm_net *net, const struct pm_cidr *all, int n, char *err,
			size_t errlen)
{
	int i;

	for (i = 0; i < n; i++) {
		const struct pm_cidr *c = &all[i];
		__u32 cls = c->class;
		int ret;

		if (c->family == AF_INET) {
			struct pm_lpm_v4 k = { .prefixlen = c->prefix };

			memcpy(k.addr, c->addr, 4);
			ret = bpf_map_update_elem(bpf_map__fd(net->skel->maps.class_v4), &k, &cls,
						  0);
		} else {
			struct pm_lpm_v6 k = { .prefixlen = c->prefix };

			memcpy(k.addr, c->addr, 16);
			ret = bpf_map_update_elem(bpf_map__fd(net->skel->maps.class_v6), &k, &cls,
						  0);
		}
		if (ret) {
			snprintf(err, errlen, "net: load network classes: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static bool listed(const struct pm_cidr *all, int n, int family, __u32 prefix, const void *addr)
{
	int i;

	for (i = 0; i < n; i++)
		if (all[i].family == family && all[i].prefix == prefix &&
		    !memcmp(all[i].addr, addr, family == AF_INET ? 4 : 16))
			return true;
	return false;
}

/* Remove networks no longer listed (after the listed ones were written). */
static void prune_classes(struct bpf_map *map, const struct pm_cidr *all, int n, int family)
{
	struct pm_lpm_v6 key, next; /* the larger of the two key shapes */
	int fd = bpf_map__fd(map);
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		/* a deleted key cannot lead on: walk again from the start */
		if (!listed(all, n, family, key.prefixlen, key.addr) &&
		    !bpf_map_delete_elem(fd, &key))
			prev = NULL;
	}
}

int net__set_classes(struct pm_net *net, const struct pm_config *cfg, char *err, size_t errlen)
{
	struct pm_cidr all[NET_DEFAULT_CIDRS + PM_CFG_MAX_CIDRS];
	int n = all_classes(cfg, all), ret = fill_classes(net, all, n, err, errlen);

	if (ret)
		return ret;
	prune_classes(net->skel->maps.class_v4, all, n, AF_INET);
	prune_classes(net->skel->maps.class_v6, all, n, AF_INET6);
	return 0;
}

/* cgroup_skb programs at the v2 root (fd in @ctx); the rest as libbpf would. */
static struct bpf_link *attach_prog(struct bpf_program *prog, void *ctx)
{
	if (bpf_program__type(prog) == BPF_PROG_TYPE_CGROUP_SKB)
		return bpf_program__attach_cgroup(prog, *(int *)ctx);
	return bpf_program__attach(prog);
}

/* Configuration, not counts: the classes are filled fresh by each agent. */
static const char *const net_transient[] = { "class_v4", "class_v6", NULL };

int net__open(struct pm_net **out, const struct pm_config *cfg, const char *v2_root,
	      bool force_raw_tp, char *err, size_t errlen)
{
	struct pm_net *net;
	int ret = -ENOMEM, fd;

	net = calloc(1, sizeof(*net));
	if (!net)
		goto out_nomem;
	net->skel = net_bpf__open();
	if (!net->skel) {
		ret = -errno;
		snprintf(err, errlen, "net: open: %s", strerror(-ret));
		goto out_free;
	}
	bpf_program__set_autoload(net->skel->progs.tp_btf_tcp_retransmit_skb, !force_raw_tp);
	bpf_program__set_autoload(net->skel->progs.raw_tp_tcp_retransmit_skb, force_raw_tp);
	ret = pin__prepare(&net->pin, net->skel->obj, net_transient);
	if (!ret)
		ret = net_bpf__load(net->skel);
	if (ret) {
		snprintf(err, errlen, "net: load: %s", strerror(-ret));
		goto out_free;
	}
	ret = net__set_classes(net, cfg, err, errlen); /* none pruned: the maps are new */
	if (ret)
		goto out_free;
	fd = open(v2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "net: open %s: %s", v2_root, strerror(-ret));
		goto out_free;
	}
	ret = pin__attach(&net->pin, net->skel->skeleton, attach_prog, &fd);
	close(fd);
	if (ret) {
		snprintf(err, errlen, "net: attach to %s: %s", v2_root, strerror(-ret));
		goto out_free;
	}
	pin__commit(&net->pin, net->skel->obj);
	*out = net;
	return 0;

out_nomem:
	snprintf(err, errlen, "net: set-up: %s", strerror(ENOMEM));
out_free:
	net__close(net);
	return ret;
}

struct net_walk {
	const struct pm_net *net;
	const struct pm_net_visitor *v;
};

/* One net_stats entry: its per-CPU values summed. */
static void net_traffic_entry(void *ctx, const void *key, const void *val)
{
	const struct net_walk *w = ctx;
	const struct pm_net_val *sum = val;
	struct pm_net_key k;

	memcpy(&k, key, sizeof(k));
	if (bpfutil__moved_drop(&w->net->moved, w->net->skel->maps.net_stats, key, k.cgid))
		return;
	if (k.dir < PM_NET_DIRS && k.class < PM_NET_CLASSES)
		w->v->traffic(w->v->ctx, k.cgid, k.dir, k.class, sum->bytes, sum->packets);
}

static void net_retrans_entry(void *ctx, const void *key, const void *val)
{
	const struct net_walk *w = ctx;
	__u64 cgid, n;

	memcpy(&cgid, key, sizeof(cgid));
	memcpy(&n, val, sizeof(n));
	if (bpfutil__moved_drop(&w->net->moved, w->net->skel->maps.tcp_retrans, key, cgid))
		return;
	w->v->retransmits(w->v->ctx, cgid, n);
}

/*
 * Both maps in batches: a walk key by key costs two calls an entry, and more
 * in a sparse map. Not at all while no counter moved (the totals read last
 * stand), unless cgroups were removed a while ago: their entries are deleted
 * on the way (a dead cgroup's sockets may still bring some in after; those
 * are new).
 */
int net__read(struct pm_net *net, const struct pm_net_visitor *v)
{
	struct net_walk w = { net, v };
	int err;

	if (!bpfutil__moved_due(&net->moved, &net->skel->bss->net_moved))
		return 0;
	err = bpfutil__for_each(net->skel->maps.net_stats, net_traffic_entry, &w);
	if (!err)
		err = bpfutil__for_each(net->skel->maps.tcp_retrans, net_retrans_entry, &w);
	return bpfutil__moved_read(&net->moved, err);
}

/*
 * A dead cgroup's entries go at the next read, which visits every entry
 * anyway: deleting each direction and class here cost a call each, most of
 * them for keys a cgroup never had.
 */
int net__remove(struct pm_net *net, __u64 cgid)
{
	return bpfutil__moved_gone(&net->moved, cgid);
}

void net__errors(struct pm_net *net, __u64 errs[PM_NET_ERR_MAX])
{
	bpfutil__sum_counters(net->skel->maps.net_errors, PM_NET_ERR_MAX, errs);
}

void net__close(struct pm_net *net)
{
	if (!net)
		return;
	if (net->skel)
		pin__release(&net->pin, net->skel->skeleton);
	net_bpf__destroy(net->skel);
	bpfutil__moved_free(&net->moved);
	free(net);
}

/* ---- the collector's source ---- */

static void src_net_traffic(void *ctx, __u64 cgid, __u32 dir, __u32 cls, __u64 bytes, __u64 packets)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);

	if (!r || r->retired)
		return;
	usage__raise(&r->total.net_bytes[dir][cls], bytes);
	usage__raise(&r->total.net_packets[dir][cls], packets);
}

static void src_net_retransmits(void *ctx, __u64 cgid, __u64 n)
{
	const struct pm_sink *sink = ctx;
	struct pm_cg_counts *r = sink->cgroup(sink->ctx, cgid);

	if (r && !r->retired)
		usage__raise(&r->total.retransmits, n);
}

/* Network is counted by cgroup v2 id: without v2 ids there is none. */
static int src_net_open(void **out, const struct pm_source_env *env, char *err, size_t errlen)
{
	char why[512];

	(void)err;
	(void)errlen;
	*out = NULL;
	if (env->hier != PM_HIER_V2) {
		fprintf(stderr, "warning: net: sockets carry cgroup v2 ids only; "
				"no per-pod network with --cgroup-mode v1\n");
		return 0;
	}
	if (net__open((struct pm_net **)out, env->cfg, env->fs->v2, env->force_raw_tp, why,
		      sizeof(why))) {
		fprintf(stderr, "warning: %s; going on without per-pod network\n", why);
		*out = NULL;
	}
	return 0;
}

static int src_net_read(void *src, const struct pm_sink *sink)
{
	struct pm_net_visitor v = {
		.traffic = src_net_traffic,
		.retransmits = src_net_retransmits,
		.ctx = (void *)sink,
	};

	return net__read(src, &v);
}

static int src_net_forget(void *src, const __u64 *cgids, size_t n, int *res)
{
	size_t i;

	for (i = 0; i < n; i++)
		res[i] = net__remove(src, cgids[i]);
	return 0;
}

static void src_net_errors(void *src, struct pm_agent_stats *st)
{
	__u64 errs[PM_NET_ERR_MAX];

	net__errors(src, errs);
	st->net_insert_failures = errs[PM_NET_ERR_STATS_FULL] + errs[PM_NET_ERR_RETRANS_FULL];
}

static void src_net_present(void *src, struct pm_snapshot *s)
{
	(void)src;
	s->has_net = 1;
}

static int src_net_reload(void *src, const struct pm_config *cfg, char *err, size_t errlen)
{
	return net__set_classes(src, cfg, err, errlen);
}

static void src_net_close(void *src)
{
	net__close(src);
}

const struct pm_source pm_source_net = {
	.name = "net",
	.reading = "reading the network counters",
	.open = src_net_open,
	.read = src_net_read,
	.forget = src_net_forget,
	.errors = src_net_errors,
	.present = src_net_present,
	.reload = src_net_reload,
	.close = src_net_close,
};
