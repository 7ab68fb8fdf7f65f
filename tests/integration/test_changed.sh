#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Counters read by change, against what really happened.
#   test_changed.sh [tp_btf|raw_tp]
# The agent reads a cgroup's page-fault and process counters only when its
# programs saw them move since the last read (the changed sets,
# bpf/tables.bpf.h). One pod forks bursts of /bin/true with quiet reads in
# between, another's process touches memory in bursts: after each burst the
# first pod's process starts equal the forks it made and its CPU moved as
# its cgroup's cpu.stat (1%, the pod quiet at the scrape), the second's page
# faults and resident bytes move as its process's own counts (5%, and 0 once
# it exits); a third pod that started one process before the first scrape
# keeps its counts. Then the agent stops, the first pod forks more while none
# runs, and a new agent (adopting the pinned counters) counts those too.
set -u
. "$(dirname "$0")/lib.sh"

ATTACH=${1:-tp_btf}
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] && [ -n "$MEM" ] || { echo "  skip: needs cgroup v2 and a memory controller"; exit 0; }
echo "changed: ids from cgroup v2 at $V2, memory controller at $MEM, $ATTACH"

faults_of() { # the process's own minflt + majflt
	awk '{ sub(/.*\) /, ""); print $8 + $10 }' "/proc/$1/stat"
}
agent() {
	if [ "$ATTACH" = raw_tp ]; then
		PODMETER_FORCE_RAW_TP=1 start_agent --cgroup-mode v2 --interval 200ms
	else
		start_agent --cgroup-mode v2 --interval 200ms
	fi
}
# a few quiet reads, then a scrape of a collection made after them
quiet_scrape() {
	local t0
	sleep 0.6
	t0=$(date +%s.%N)
	for _ in $(seq 1 50); do
		scrape "$1" && collected_since "$1" "$t0" && return 0
		sleep 0.1
	done
	return 1
}
starts() { metric_value "$1" podmeter_pod_process_starts_total "uid=\"$2\""; }
faults() { metric_value "$1" podmeter_pod_page_faults_total "uid=\"$2\""; }
cpu() { metric_value "$1" podmeter_pod_cpu_seconds_total "uid=\"$2\""; }
rss() { # resident bytes of a pod: file + anon + shmem, as VmRSS
	awk -v sel="uid=\"$2\"" 'index($0, "podmeter_pod_memory_rss_bytes{") == 1 && index($0, sel) &&
		!index($0, "kind=\"swap\"") {
		s += $NF } END { printf "%.0f\n", s }' "$1"
}

declare -A CTR
for p in forker toucher quiet; do
	u=$(newuid)
	eval "U_$p=$u"
	CTR[$p]="kubepods/burstable/pod$u/$(printf '%064x' $RANDOM)"
	make_pod "${CTR[$p]}" || { fail "create fake pod $p"; finish; exit; }
done
# shellcheck disable=SC2154 # set by the eval above
uf=$U_forker ut=$U_toucher uq=$U_quiet

# the forker: K from the fifo, K forks of /bin/true, the running total out
# (read, [ and $((...)) are built into the shell: the only forks are the K)
mkfifo "$WORK/forks"
# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(cg_dirs "${CTR[forker]}") -- sh -c 'exec 3<"$1"; t=0
	while read k <&3; do
		i=0; while [ $i -lt "$k" ]; do /bin/true; i=$((i + 1)); done
		t=$((t + k)); echo "$t" >>"$2"
	done' sh "$WORK/forks" "$WORK/forked"
exec 4>"$WORK/forks"
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "${CTR[toucher]}") -- sh -c "exec $PM_ALLOC 16 >$WORK/alloc.out"
tpid=$LAST_PID
# shellcheck disable=SC2046
mkfifo "$WORK/quiet"
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "${CTR[quiet]}") -- sh -c "read go <$WORK/quiet; /bin/true; exec sleep 600"
for _ in $(seq 1 100); do grep -qx touched "$WORK/alloc.out" 2>/dev/null && break; sleep 0.1; done

agent || { fail "agent start"; finish; exit; }
echo go >"$WORK/quiet" # the quiet pod starts one process, then nothing more
wait_walks 2
quiet_scrape "$WORK/s0" || { fail "no fresh scrape"; finish; exit; }
kf0=$(faults_of "$tpid")
kc0=$(kernel_cpu_ns "$V2/${CTR[forker]%/*}")
s0=$(starts "$WORK/s0" "$uf")
q0=$(starts "$WORK/s0" "$uq")
qf0=$(faults "$WORK/s0" "$uq")
f0=$(faults "$WORK/s0" "$ut")
[ "$s0" != missing ] && [ "$q0" = 1 ] && [ "$qf0" != missing ] && [ "$qf0" -gt 0 ] &&
	pass "first read: the quiet pod's one process start and its $qf0 page faults" ||
	fail "first read: process starts $s0 (forker), $q0 (quiet, want 1), faults $qf0 (quiet, want > 0)"

want=0 bad=""
for r in 1 2 3 4 5 6; do
	k=$((RANDOM % 40 + 10))
	want=$((want + k))
	echo "$k" >&4
	for _ in $(seq 1 200); do [ "$(tail -1 "$WORK/forked" 2>/dev/null)" = "$want" ] && break; sleep 0.05; done
	kill -USR2 "$tpid"
	for _ in $(seq 1 100); do [ "$(grep -c grown "$WORK/alloc.out")" -ge "$r" ] && break; sleep 0.05; done
	quiet_scrape "$WORK/s$r" || { bad+=" round $r: no fresh scrape"; continue; }
	s=$(starts "$WORK/s$r" "$uf")
	d=$((s - s0))
	[ "$d" = "$want" ] || bad+=" round $r: starts $d, forks $want;"
	c=$(awk -v a="$(cpu "$WORK/s0" "$uf")" -v b="$(cpu "$WORK/s$r" "$uf")" 'BEGIN { printf "%.6f", b - a }')
	kc=$(awk -v a="$kc0" -v b="$(kernel_cpu_ns "$V2/${CTR[forker]%/*}")" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
	within "$c" "$kc" "$kc" 0.01 || bad+=" round $r: CPU ${c}s, cpu.stat ${kc}s;"
	f=$(($(faults "$WORK/s$r" "$ut") - f0))
	kf=$(($(faults_of "$tpid") - kf0))
	near "$f" "$kf" 0.05 || bad+=" round $r: faults $f, the process's own $kf;"
	m=$(rss "$WORK/s$r" "$ut")
	km=$(awk '$1 == "VmRSS:" { print $2 * 1024 }' "/proc/$tpid/status")
	near "$m" "$km" 0.05 || bad+=" round $r: resident $m, VmRSS $km;"
done
[ -z "$bad" ] && pass "6 bursts with quiet reads between: process starts equal the forks ($want), CPU cpu.stat's (${c}s, ${kc}s), page faults the process's own ($f, $kf), resident bytes its VmRSS ($m, $km)" ||
	fail "bursts:$bad"

# the toucher exits: its address space leaves mm_state, and its pod's resident bytes go
kill "$tpid"
quiet_scrape "$WORK/s6x" || fail "no fresh scrape after the exit"
m=$(rss "$WORK/s6x" "$ut")
[ "$m" = 0 ] && pass "the toucher exited: its pod's resident bytes 0" ||
	fail "the toucher exited: its pod's resident bytes $m, want 0"

q=$(starts "$WORK/s6" "$uq")
qf=$(faults "$WORK/s6" "$uq")
[ "$q" = "$q0" ] && [ "$qf" = "$qf0" ] &&
	pass "the quiet pod: process starts $q, faults $qf, as at the first read" ||
	fail "the quiet pod: process starts $q0 -> $q, faults $qf0 -> $qf"

# counted while no agent runs, taken by the next one's first read
stop_agent
k=$((RANDOM % 40 + 10))
want=$((want + k))
echo "$k" >&4
for _ in $(seq 1 200); do [ "$(tail -1 "$WORK/forked" 2>/dev/null)" = "$want" ] && break; sleep 0.05; done
agent || { fail "agent restart"; finish; exit; }
wait_walks 2
quiet_scrape "$WORK/s7" || fail "no fresh scrape after the restart"
d=$(($(starts "$WORK/s7" "$uf") - s0))
[ "$d" = "$want" ] && pass "after a restart: process starts $d, forks $want ($k while no agent ran)" ||
	fail "after a restart: process starts $d, forks $want ($k while no agent ran)"

exec 4>&-
stop_agent
finish
