#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A quiet pod's working set after reclaim, against the memory cgroup's own.
#   test_reclaim.sh
#   A fake pod's process writes and reads 64 MiB of page cache, then sleeps:
#   nothing of the pod runs, faults or changes its resident bytes again (the
#   cache is read again by a short process of the pod first while the
#   kernel keeps much of it inactive). Its
#   memory cgroup's limit is then lowered to 8 MiB and the kernel reclaims
#   the cache. The pod's working set (usage less inactive file pages, as the
#   kubelet counts it) matches the kernel's before (5%) and after (1 MiB),
#   within 14 walks of the reclaim: the agent reads a quiet cgroup's working
#   set again when /proc/vmstat shows the node reclaimed.
#   A second pod is busy for a moment (faults in 8 MiB), then reads a cached
#   file a second time with no fault and next to no CPU: its working set
#   follows the kernel's (1 MiB) within 2 walks.
set -u
. "$(dirname "$0")/lib.sh"

V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] && [ -n "$MEM" ] || { echo "  skip: needs cgroup v2 and a memory controller"; exit 0; }
echo "reclaim: ids from cgroup v2 at $V2, memory controller at $MEM"

# the kernel's working set of a memory cgroup: usage less inactive file pages
kernel_ws() {
	local u i
	u=$(kernel_mem_usage "$1")
	i=$(awk '$1 == "total_inactive_file" || ($1 == "inactive_file" && !v1) {
		v = $2; if ($1 == "total_inactive_file") v1 = 1 } END { print v + 0 }' "$1/memory.stat")
	echo $((u > i ? u - i : 0))
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
agent_ws() {
	scrape "$WORK/m" && metric_value "$WORK/m" podmeter_pod_memory_working_set_bytes "uid=\"$uid\""
}
PM_ALLOC=${PM_ALLOC:-build/tests/pm_alloc}
# within_mib A K: A and K at most 1 MiB apart
within_mib() { awk -v a="$1" -v k="$2" 'BEGIN { d = a - k; exit !(d * d <= 1048576 * 1048576) }'; }
# wait_line FILE LINE: until FILE has LINE, 10 s at most; fails without it
wait_line() {
	for _ in $(seq 1 100); do grep -qx "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

uid=$(newuid)
pod="kubepods/burstable/pod$uid"
ctr="$pod/$(printf '%064x' $RANDOM)"
make_pod "$ctr" || { fail "create fake pod"; finish; exit; }
start_agent --cgroup-mode v2 --interval 200ms || { fail "agent start"; finish; exit; }

# the pod's own page cache: written, synced, read twice (active), then sleep
# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(cg_dirs "$ctr") -- sh -c "head -c 64M /dev/urandom >$WORK/cache.bin && sync &&
	cat $WORK/cache.bin >/dev/null && cat $WORK/cache.bin >/dev/null &&
	echo cached >$WORK/pod.out && exec sleep 600"
wait_line "$WORK/pod.out" cached || { fail "the pod did not fill its page cache"; finish; exit; }
# The kernel moves pages read again to the active list in per-CPU batches,
# drained at that CPU's next exit or unmap, whoever's. Compaction drains them
# all now, so that the kernel's figure is final within the walks in which the
# agent reads a cgroup again after it ran (WALK_SETTLE).
drain_lru() { [ -w /proc/sys/vm/compact_memory ] && echo 1 >/proc/sys/vm/compact_memory 2>/dev/null; }
drain_lru

# The kernel may leave some of the cache on its inactive list (an access it
# did not promote): read it twice more in the pod, a few times at most, until
# the kernel's own working set holds it. The check below stays the kernel's.
for try in 1 2 3 4; do
	k=$(kernel_ws "$MEM/$pod")
	[ "$k" -ge $((48 << 20)) ] && break
	echo "  (the kernel's working set of the pod is $(mib "$k"); reading its cache again, $try)"
	# shellcheck disable=SC2046 # one word per cgroup dir
	run_in_cgs $(cg_dirs "$ctr") -- sh -c "cat $WORK/cache.bin >/dev/null &&
		cat $WORK/cache.bin >/dev/null && echo again >$WORK/again.$try"
	for _ in $(seq 1 100); do [ -s "$WORK/again.$try" ] && break; sleep 0.1; done
	drain_lru
done

wait_walks 2
k=$(kernel_ws "$MEM/$pod")
a=$(agent_ws)
[ "$a" != missing ] && [ "$k" -ge $((48 << 20)) ] && near "$a" "$k" 0.05 &&
	pass "before reclaim: working set $(mib "$a"), the kernel's $(mib "$k")" ||
	fail "before reclaim: working set $a, the kernel's $k (5%, at least 48 MiB)"

# A pod busy for a moment, then touching its pages with next to no CPU: a
# second read of a cached file makes no fault, moves no resident byte and
# does not change the usage, but puts the pages on the active list. The
# agent reads a cgroup's working set in full at the walks after one at which
# it was busy, and so sees it.
uid2=$(newuid)
pod2="kubepods/burstable/pod$uid2"
ctr2="$pod2/$(printf '%064x' $RANDOM)"
make_pod "$ctr2" || { fail "create the second fake pod"; finish; exit; }
# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(cg_dirs "$ctr2") -- sh -c "head -c 4M /dev/urandom >$WORK/reread.bin && sync &&
	exec $PM_ALLOC 16 $WORK/reread.bin >$WORK/reread.out"
wait_line "$WORK/reread.out" touched
pid2=$(pgrep -f "pm_alloc 16 $WORK/reread.bin" | head -1)
if [ -z "$pid2" ] || ! grep -qx touched "$WORK/reread.out"; then
	fail "the second pod's process did not start"
	stop_agent
	finish
	exit
fi
wait_walks 3
kill -USR2 "$pid2"
wait_line "$WORK/reread.out" grown
wait_walks 2 # the walk that saw it busy has ended
drain_lru
k0=$(kernel_ws "$MEM/$pod2")
kill -HUP "$pid2"
wait_line "$WORK/reread.out" reread
drain_lru
k=$(kernel_ws "$MEM/$pod2")
wait_walks 2
a=$(uid=$uid2 agent_ws)
[ "$a" != missing ] && [ $((k - k0)) -ge $((3 << 20)) ] &&
	within_mib "$a" "$k" &&
	pass "pages made active with no fault after a busy moment: working set $(mib "$a"), the kernel's $(mib "$k") (was $(mib "$k0"))" ||
	fail "pages made active after a busy moment: working set $a, the kernel's $k, before the second read $k0 (1 MiB; the kernel's to grow by at least 3 MiB)"

lower_limit() {
	if [ -f "$MEM/$pod/memory.max" ]; then
		echo $((8 << 20)) >"$MEM/$pod/memory.max"
	else
		echo $((8 << 20)) >"$MEM/$pod/memory.limit_in_bytes"
	fi
}
# the write waits for the reclaim, which a signal to this shell interrupts
lowered=
for _ in 1 2 3; do lower_limit 2>/dev/null && lowered=1 && break; done
[ -n "$lowered" ] || { fail "lower the pod's memory limit (3 tries)"; finish; exit; }
for ((i = 0; i < 14; i++)); do
	wait_walks 1 || break
	k=$(kernel_ws "$MEM/$pod")
	a=$(agent_ws)
	[ "$a" != missing ] && within_mib "$a" "$k" &&
		break
done
[ "$a" != missing ] && [ "$k" -le $((8 << 20)) ] &&
	within_mib "$a" "$k" &&
	pass "after reclaim: working set $(mib "$a"), the kernel's $(mib "$k"), $((i + 1)) walks" ||
	fail "after reclaim: working set $a, the kernel's $k (1 MiB) after 14 walks"

kill "$pid2" 2>/dev/null
stop_agent
finish
