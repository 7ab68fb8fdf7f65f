#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Per-pod memory against the processes' own VmRSS, the memory cgroup's usage
# and the kernel's OOM kill count.
#   test_mem.sh [tp_btf|raw_tp]
#   A fake pod whose process touched 64 MiB and went idle before the agent
#   started: its RSS is read at the start and matches the process's VmRSS
#   within 5%, then again (not twice) once it grows by 32 MiB, after a SIGKILL
#   and restart that adopts the pinned table, after a start with nothing
#   pinned, and in a pod made after the start that it is moved to.
#   A fake pod maps and touches 256 MiB, then frees half: the reported RSS
#   follows both within 5%. Its page faults match the process's own fault
#   count (minflt + majflt) within 5%. A pod over its memory limit is
#   OOM-killed: one OOM kill, as the memory cgroup counts it.
set -u
. "$(dirname "$0")/lib.sh"

PM_ALLOC=${PM_ALLOC:-build/tests/pm_alloc}
ATTACH=${1:-tp_btf}	# tp_btf, or raw_tp: the twins
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] && [ -n "$MEM" ] || { echo "  skip: needs cgroup v2 and a memory controller"; exit 0; }
echo "mem: ids from cgroup v2 at $V2, memory controller at $MEM, $ATTACH"
[ "$ATTACH" = raw_tp ] && export PODMETER_FORCE_RAW_TP=1

wait_line() {
	local file=$1 want=$2 i
	for i in $(seq 1 100); do grep -qx "$want" "$file" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
rss_of() {	# podmeter's resident bytes of a pod: file + anon + shmem
	awk -v sel="uid=\"$2\"" 'index($0, "podmeter_pod_memory_rss_bytes{") == 1 && index($0, sel) &&
		!index($0, "kind=\"swap\"") { s += $NF } END { printf "%.0f\n", s }' "$1"
}
vmrss_of() {	# the process's own VmRSS, bytes
	awk '$1 == "VmRSS:" { print $2 * 1024 }' "/proc/$1/status"
}
faults_of() {	# the process's own minflt + majflt
	awk '{ sub(/.*\) /, ""); print $8 + $10 }' "/proc/$1/stat"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# a pod idle since before the agent: no counter of its changes after the start
iuid=$(newuid)
ipod="kubepods/burstable/pod$iuid"
ictr="$ipod/$(printf '%064x' $((RANDOM + 2)))"
make_pod "$ictr" || { fail "create idle pod"; finish; exit; }
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$ictr") -- sh -c "exec $PM_ALLOC 64 > $WORK/idle.out"
ipid=$LAST_PID
wait_line "$WORK/idle.out" touched || { fail "idle pm_alloc did not touch its memory"; finish; exit; }

uid=$(newuid)
pod="kubepods/burstable/pod$uid"
ctr="$pod/$(printf '%064x' $RANDOM)"
make_pod "$ctr" || { fail "create fake pod"; finish; exit; }
start_agent --cgroup-mode v2 || { fail "agent start"; finish; exit; }

# check_rss_of WHAT PID UID [POD]: the pod's RSS against the process's VmRSS
# and the memory cgroup's usage (with POD), 5%; waits (30 s at most) for an
# agent that has just started to report
check_rss_of() {
	local what=$1 p=$2 u=$3 d=${4:-} m k c
	for _ in $(seq 1 60); do
		scrape "$WORK/m.$what"
		m=$(rss_of "$WORK/m.$what" "$u")
		k=$(vmrss_of "$p")
		near "$m" "$k" 0.05 && break
		sleep 0.5
	done
	near "$m" "$k" 0.05 && pass "$what: rss $(mib "$m"), the process's VmRSS $(mib "$k")" ||
		fail "$what: rss $(mib "$m"), the process's VmRSS $(mib "$k") (5%)"
	[ -n "$d" ] || return 0
	c=$(kernel_mem_usage "$MEM/$d")
	near "$m" "$c" 0.05 && pass "$what: rss $(mib "$m"), memory cgroup usage $(mib "$c")" ||
		fail "$what: rss $(mib "$m"), memory cgroup usage $(mib "$c") (5%)"
}
check_rss_of "idle since before the start" "$ipid" "$iuid" "$ipod"
kill -USR2 "$ipid"
wait_line "$WORK/idle.out" grown || fail "idle pm_alloc did not grow"
check_rss_of "idle one grown by 32 MiB" "$ipid" "$iuid" "$ipod"

# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(cg_dirs "$ctr") -- sh -c "exec $PM_ALLOC 256 > $WORK/alloc.out"
pid=$LAST_PID
wait_line "$WORK/alloc.out" touched || { fail "pm_alloc did not touch its memory"; finish; exit; }
sleep 2.5
check_rss() { check_rss_of "$1" "$pid" "$uid" "$pod"; }
check_rss "256 MiB touched"

f=$(metric_value "$WORK/m.256 MiB touched" podmeter_pod_page_faults_total "uid=\"$uid\"")
k=$(faults_of "$pid")
near "$f" "$k" 0.05 && pass "page faults: podmeter $f, the process's own $k" ||
	fail "page faults: podmeter $f, the process's own $k (5%)"
wait_walks	# the working set is read at each tree walk (every 5 ticks)
scrape "$WORK/m.ws"
ws=$(metric_value "$WORK/m.ws" podmeter_pod_memory_working_set_bytes "uid=\"$uid\"")
[ "$ws" != missing ] && near "$ws" "$(kernel_mem_usage "$MEM/$pod")" 0.05 &&
	pass "working set $(mib "$ws")" || fail "working set: $ws"

kill -USR1 "$pid"
wait_line "$WORK/alloc.out" freed || fail "pm_alloc did not free half"
sleep 2.5
check_rss "half freed"

# over its limit: the kernel kills it, once
uid2=$(newuid)
pod2="kubepods/burstable/pod$uid2"
ctr2="$pod2/$(printf '%064x' $((RANDOM + 1)))"
make_pod "$ctr2" || { fail "create OOM pod"; finish; exit; }
if [ -f "$MEM/$pod2/memory.max" ]; then
	echo $((64 << 20)) >"$MEM/$pod2/memory.max"
	echo 0 >"$MEM/$pod2/memory.swap.max" 2>/dev/null
else
	echo $((64 << 20)) >"$MEM/$pod2/memory.limit_in_bytes"
	echo $((64 << 20)) >"$MEM/$pod2/memory.memsw.limit_in_bytes" 2>/dev/null
fi
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$ctr2") -- "$PM_ALLOC" 256
# v2 counts OOM kills up the tree; v1 in the victim's own memory cgroup
oom_truth() {
	local a b
	a=$(kernel_oom_kills "$MEM/$pod2")
	b=$(kernel_oom_kills "$MEM/$ctr2")
	echo $((a > b ? a : b))
}
for _ in $(seq 1 50); do
	[ "$(oom_truth)" -ge 1 ] && break
	sleep 0.1
done
sleep 2.5
scrape "$WORK/m.oom"
o=$(metric_value "$WORK/m.oom" podmeter_pod_oom_kills_total "uid=\"$uid2\"")
ko=$(oom_truth)
[ "$ko" -ge 1 ] && [ "$o" = "$ko" ] && pass "OOM kills: podmeter $o, memory cgroup $ko" ||
	fail "OOM kills: podmeter $o, memory cgroup $ko"
grep -q "^oom: pid .* killed in pod $uid2" "$WORK/agent.log" && pass "OOM kill logged with its pod" ||
	fail "OOM kill not logged: $(grep oom "$WORK/agent.log")"

# restarts: the pinned table adopted and read anew, then nothing pinned
{ kill -KILL "$AGENT_PID" && wait "$AGENT_PID"; } 2>/dev/null
AGENT_PID=""
start_agent --cgroup-mode v2 || { fail "agent restart"; finish; exit; }
grep -q "incompatible" "$WORK/agent.log" && fail "restart saw an incompatible set"
check_rss_of "after a SIGKILL and restart" "$ipid" "$iuid" "$ipod"
{ kill -KILL "$AGENT_PID" && wait "$AGENT_PID"; } 2>/dev/null
AGENT_PID=""
"$PODMETER" unpin --pin-dir "$PM_PIN_DIR" >/dev/null || fail "unpin"
start_agent --cgroup-mode v2 || { fail "agent start after unpin"; finish; exit; }
check_rss_of "started with nothing pinned" "$ipid" "$iuid" "$ipod"
grep -q "warning: mem: .*resident memory at start" "$WORK/agent.log" &&
	fail "seed: $(grep -m1 "resident memory at start" "$WORK/agent.log")"

# the idle process moved to a pod made after the start: counted there at once
# (against VmRSS only: the memory cgroup keeps its charges where they were made)
muid=$(newuid)
mctr="kubepods/burstable/pod$muid/$(printf '%064x' $((RANDOM + 3)))"
make_pod "$mctr" || { fail "create the pod moved to"; finish; exit; }
for d in $(cg_dirs "$mctr"); do echo "$ipid" >"$d/cgroup.procs" || fail "move to $d"; done
check_rss_of "idle one moved to a new pod" "$ipid" "$muid"
scrape "$WORK/m.left"
left=$(rss_of "$WORK/m.left" "$iuid")
[ "$(cat "$V2/$ictr/cgroup.procs")" = "" ] && [ "$left" = 0 ] &&
	pass "the pod it left: rss $(mib "$left"), no process" ||
	fail "the pod it left: rss $(mib "$left"), processes $(cat "$V2/$ictr/cgroup.procs" | tr '\n' ' ')"

stop_agent
finish
