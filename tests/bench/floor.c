// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: the empty tp_btf/sched_switch program from
 * bpf/probe.bpf.c, attached and nothing else. Whatever it costs is the price
 * of having any program on sched_switch; cpu_overhead.sh compares podmeter's
 * cost against it.
 *
 *   floor        attach, print "floor: attached", wait for SIGINT/SIGTERM
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "probe.skel.h"

/* Blocked before anything is attached so that a signal sent as soon as
 * "attached" is printed is never lost: sigwait() picks it up. */
static int floor__block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, set, NULL))
		return -errno;
	return 0;
}

static int floor__open(struct probe_bpf **out)
{
	struct probe_bpf *skel;
	int err;

	skel = probe_bpf__open();
	if (!skel)
		return -errno;

	/* Only the sched_switch program: the others would cost nothing on this
	 * path, but a kernel without uprobe or cgroup_skb support must not keep
	 * the floor from loading. */
	bpf_program__set_autoload(skel->progs.probe_raw_tp, false);
	bpf_program__set_autoload(skel->progs.probe_uprobe, false);
	bpf_program__set_autoload(skel->progs.probe_cgroup_skb, false);

	err = probe_bpf__load(skel);
	if (err) {
		probe_bpf__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

static int floor__attach(struct probe_bpf *skel)
{
	skel->links.probe_tp_btf = bpf_program__attach(skel->progs.probe_tp_btf);
	if (!skel->links.probe_tp_btf)
		return -errno;
	return 0;
}

int main(void)
{
	struct probe_bpf *skel = NULL;
	sigset_t set;
	int err, sig;

	err = floor__block_signals(&set);
	if (err) {
		fprintf(stderr, "floor: block SIGINT/SIGTERM: %s\n", strerror(-err));
		return 1;
	}

	err = floor__open(&skel);
	if (err) {
		fprintf(stderr,
			"floor: load probe programs: %s; run as root on a kernel with BTF\n",
			strerror(-err));
		return 1;
	}

	err = floor__attach(skel);
	if (err) {
		fprintf(stderr, "floor: attach tp_btf/sched_switch: %s\n", strerror(-err));
		goto out_destroy;
	}

	printf("floor: attached\n");
	fflush(stdout);

	err = sigwait(&set, &sig);
	if (err)
		fprintf(stderr, "floor: sigwait: %s\n", strerror(err));

out_destroy:
	probe_bpf__destroy(skel);
	return err ? 1 : 0;
}
