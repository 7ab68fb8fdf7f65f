#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Reading resident memory at start (the task iterator in bpf/mem.bpf.c): N
# idle processes in one fake pod, started before the agent. A benchmark, not
# a test: it prints what the agent logged of the walk (tasks, ms), how long
# until /healthz answered, and the pod's resident memory against its
# processes' VmRSS summed, and the same for a second pod of N processes
# started after the agent (counted by the tracepoints alone): the baseline,
# as both read the kernel's counters as get_mm_counter() does. Knobs: N
# (12000, kept 2000 below pid_max for the two pods), KIB (64, touched by each
# process). Root.
set -u
. "$(dirname "$0")/../integration/lib.sh"

IDLE_PROCS=${IDLE_PROCS:-build/bench/idle_procs}
N=${N:-12000}
KIB=${KIB:-64}
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
if [ -z "$V2" ] || [ -z "$MEM" ]; then
	echo "bench: mem_seed: needs cgroup v2 and a memory controller"
	exit 0
fi
nprocs() { local n=0; for _ in /proc/[0-9]*; do n=$((n + 1)); done; echo "$n"; }
room=$((($(cat /proc/sys/kernel/pid_max) - $(nprocs) - 2000) / 2))
[ "$N" -gt "$room" ] && N=$room
now_ms() { echo $(($(date +%s%N) / 1000000)); }

before="" before_ctr="" after="" after_ctr=""
# idle_pod VAR: a pod of N idle processes, its uid in VAR, its container in VAR_ctr
idle_pod() {
	local u c
	u=$(newuid)
	c="kubepods/besteffort/pod$u/$(printf '%064x' $RANDOM)"
	make_pod "$c" || { echo "bench: mem_seed: cannot make a pod cgroup"; exit 1; }
	# shellcheck disable=SC2046 # one word per cgroup dir
	run_in_cgs $(cg_dirs "$c") -- sh -c "exec $IDLE_PROCS $N $KIB > $WORK/$1.out"
	for _ in $(seq 1 1200); do grep -q '^ready' "$WORK/$1.out" 2>/dev/null && break; sleep 0.1; done
	echo "bench: mem_seed: $1: $(cat "$WORK/$1.out"), $KIB KiB each, $(nprocs) processes on the node"
	printf -v "$1" %s "$u"
	printf -v "$1_ctr" %s "$c"
}
# compare LABEL UID CTR: the pod's figure once a collection has it, against VmRSS summed
compare() {
	local m k
	for _ in $(seq 1 100); do
		scrape "$WORK/m"
		m=$(awk -v sel="uid=\"$2\"" 'index($0, "podmeter_pod_memory_rss_bytes{") == 1 &&
			index($0, sel) && !index($0, "kind=\"swap\"") { s += $NF } END { printf "%.0f", s }' "$WORK/m")
		[ "$m" != 0 ] && break
		sleep 0.3
	done
	k=$(for p in $(cat "$V2/$3/cgroup.procs"); do cat "/proc/$p/status" 2>/dev/null; done |
		awk '$1 == "VmRSS:" { s += $2 * 1024 } END { printf "%.0f", s }')
	awk -v l="$1" -v m="$m" -v k="$k" 'BEGIN { printf "bench: mem_seed: %s: pod rss %.1f MiB, VmRSS summed %.1f MiB, ratio %.3f\n",
		l, m / 1048576, k / 1048576, k ? m / k : 0 }'
}

idle_pod before
t0=$(now_ms)
start_agent --cgroup-mode v2 || exit 1
echo "bench: mem_seed: /healthz after $(($(now_ms) - t0)) ms"
echo "bench: mem_seed: agent: $(grep -m1 'resident memory' "$WORK/agent.log")"
compare "started before the agent (read at start)" "$before" "$before_ctr"
idle_pod after
compare "started after the agent (tracepoints)" "$after" "$after_ctr"
stop_agent
