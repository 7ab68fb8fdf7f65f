#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Node overhead by systemd unit, slice and container, against the kernel.
#   Units system.slice/pm-test-<rand>-*.service and a docker/<64 hex> cgroup
#   (made in the cgroup v2 tree, and in the v1 memory hierarchy on a hybrid
#   host) run real load. Each group's CPU must move like its cgroup's cpu.stat
#   usage_usec over the same window (1%); the container's working set must
#   match its memory cgroup's usage less inactive file pages (5%). A unit whose
#   cgroup is removed keeps its CPU, as the kernel last counted it. With more
#   groups than --overhead-groups, the rest are one "other" row, and the rows
#   add up to the node's overhead CPU and cost. A hostile unit name is escaped
#   (promtool, jq). `podmeter top` shows the groups below the pods.
set -u
. "$(dirname "$0")/lib.sh"

PM_ALLOC=${PM_ALLOC:-build/tests/pm_alloc}
WINDOW=${WINDOW:-5}
TOL=0.01
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] && [ -n "$MEM" ] || { echo "  skip: needs cgroup v2 and a memory controller"; exit 0; }
echo "overhead: cgroup v2 at $V2, memory controller at $MEM"

R=$(printf '%04x%04x' $RANDOM $RANDOM)
ID=$(printf '%08x' $((RANDOM * RANDOM)))$(printf '%056x' $RANDOM)
SPIN="system.slice/pm-test-$R-spin.service"
GONE="system.slice/pm-test-$R-gone.service"
CTR="docker/$ID"
HOSTILE="system.slice/pm-test-$R-\"q\\\\$(printf '\033')[31m.service"
EXTRA=("system.slice/pm-test-$R-a.service" "system.slice/pm-test-$R-b.service")

# a group's row in /v1/pods: oh FILE NAME FIELD (jq path after the row)
oh() { jq -r --arg g "$2" "[.overhead[] | select(.group == \$g)][0] | $3 // \"missing\"" "$1"; }
pods() { curl -sf "$PM_URL/v1/pods" >"$1"; }

for c in "$SPIN" "$GONE" "$CTR" "$HOSTILE" "${EXTRA[@]}"; do
	make_pod "$c" || { fail "create cgroup $c"; finish; exit; }
done
start_agent --cgroup-mode v2 --overhead-groups 1000 || { fail "agent start"; finish; exit; }

# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(cg_dirs "$SPIN") -- stress-ng --cpu 1 --cpu-load 100 --timeout 120s
run_in_cgs $(cg_dirs "$GONE") -- stress-ng --cpu 1 --cpu-load 30 --timeout 120s
gone_pid=$LAST_PID
run_in_cgs $(cg_dirs "$CTR") -- sh -c "exec $PM_ALLOC 128 > $WORK/alloc.out"
run_in_cgs $(cg_dirs "$CTR") -- stress-ng --cpu 1 --cpu-load 20 --timeout 120s
run_in_cgs $(cg_dirs "$HOSTILE") -- sleep 600
for c in "${EXTRA[@]}"; do run_in_cgs $(cg_dirs "$c") -- sleep 600; done
for _ in $(seq 1 100); do grep -qx touched "$WORK/alloc.out" 2>/dev/null && break; sleep 0.1; done
grep -qx touched "$WORK/alloc.out" || fail "pm_alloc did not touch its memory"
sleep 2

# sample N: the kernel before and after a read of /v1/pods. The agent collects
# at most every 0.25 s and may serve a collection begun before the kernel's
# last "before" reading: read again until the snapshot's time is inside the bracket.
sample() {
	local n=$1 c t0 try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		for c in SPIN GONE CTR; do kernel_cpu_ns "$V2/${!c}" >"$WORK/k$n.pre.$c"; done
		t0=$(date +%s.%N)
		pods "$WORK/p$n" || fail "GET /v1/pods $n"
		for c in SPIN GONE CTR; do kernel_cpu_ns "$V2/${!c}" >"$WORK/k$n.post.$c"; done
		jq -e --argjson t0 "$t0" '.read_time >= $t0' "$WORK/p$n" >/dev/null 2>&1 && break
		sleep 0.3
	done
}
compare() {	# compare VAR GROUP A B
	local ma mb lo hi d
	ma=$(oh "$WORK/p$3" "$2" .cpu_seconds)
	mb=$(oh "$WORK/p$4" "$2" .cpu_seconds)
	if [ "$ma" = missing ] || [ "$mb" = missing ]; then
		fail "cpu: no overhead row for $2"
		return
	fi
	lo=$(( $(cat "$WORK/k$4.pre.$1") - $(cat "$WORK/k$3.post.$1") ))
	hi=$(( $(cat "$WORK/k$4.post.$1") - $(cat "$WORK/k$3.pre.$1") ))
	d=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.6f", b - a }')
	lo=$(awk -v x="$lo" 'BEGIN { printf "%.6f", x / 1e9 }')
	hi=$(awk -v x="$hi" 'BEGIN { printf "%.6f", x / 1e9 }')
	if within "$d" "$lo" "$hi" "$TOL"; then
		pass "cpu, ${WINDOW}s window: $2: podmeter ${d}s, cpu.stat ${lo}..${hi}s"
	else
		fail "cpu, ${WINDOW}s window: $2: podmeter ${d}s, cpu.stat ${lo}..${hi}s ($TOL)"
	fi
}
sample 0
sleep "$WINDOW"
sample 1
compare SPIN "pm-test-$R-spin.service" 0 1
compare GONE "pm-test-$R-gone.service" 0 1
compare CTR "docker ${ID:0:12}" 0 1
k=$(oh "$WORK/p1" "pm-test-$R-spin.service" .kind)
[ "$k" = unit ] && pass "system.slice/<name>.service is kind unit" || fail "spin group kind: $k"
k=$(oh "$WORK/p1" "docker ${ID:0:12}" .kind)
[ "$k" = container ] && pass "docker/<id> is container \"docker <short id>\"" ||
	fail "docker group kind: $k"

# memory: the container's working set, read at walks
wait_walks
pods "$WORK/pm"
m=$(oh "$WORK/pm" "docker ${ID:0:12}" .memory_bytes)
u=$(kernel_mem_usage "$MEM/$CTR")
inact=$(awk '$1 == "inactive_file" || $1 == "total_inactive_file" { print $2; exit }' \
	"$MEM/$CTR/memory.stat")
ws=$((u - inact))
if [ "$m" != missing ] && [ "$m" != null ] && near "$m" "$ws" 0.05 && [ "$ws" -gt $((100 << 20)) ]; then
	pass "memory: docker ${ID:0:12}: podmeter $m B, memory cgroup working set $ws B"
else
	fail "memory: docker ${ID:0:12}: podmeter $m B, memory cgroup working set $ws B (5%)"
fi

# the rows add up to the node's overhead (CPU, cost) in the same reading
sums_match() {	# sums_match FILE WHAT
	local r
	r=$(jq -r '[([.overhead[].cpu_seconds] | add), .node.cpu_seconds_overhead,
		([.overhead[].cost_dollars | .cpu + .memory] | add),
		(.node.overhead_cost_dollars | .cpu + .memory)] | @tsv' "$1")
	# shellcheck disable=SC2086
	set -- $r "$2"
	if near "$1" "$2" 0.000001 && near "$3" "$4" 0.000001 && awk -v x="$2" 'BEGIN { exit !(x > 0) }'; then
		pass "$5: rows add up to the node's overhead: cpu ${1}s of ${2}s, \$$3 of \$$4"
	else
		fail "$5: rows' cpu ${1}s, node overhead ${2}s; rows' cost \$$3, node \$$4"
	fi
}
sums_match "$WORK/pm" "all groups"

# a unit whose cgroup goes keeps what the kernel last counted for it
pkill -KILL -P "$gone_pid" 2>/dev/null
kill -KILL "$gone_pid"
for _ in $(seq 1 50); do [ -z "$(cat "$V2/$GONE/cgroup.procs")" ] && break; sleep 0.1; done
kgone=$(kernel_cpu_ns "$V2/$GONE")
for d in $(cg_dirs "$GONE"); do rmdir "$d"; done
# seen gone at a walk, then read dead twice before its totals go to its group
wait_walks 2
sleep 3
pods "$WORK/pg"
m=$(oh "$WORK/pg" "pm-test-$R-gone.service" .cpu_seconds)
kd=$(awk -v k="$kgone" 'BEGIN { printf "%.6f", k / 1e9 }')
if [ "$m" != missing ] && within "$m" "$kd" "$kd" "$TOL"; then
	pass "removed unit keeps its cpu: podmeter ${m}s, cpu.stat last ${kd}s"
else
	fail "removed unit: podmeter ${m}s, cpu.stat last ${kd}s"
fi
sums_match "$WORK/pg" "after a removal"

# hostile name: escaped in the exposition and in JSON
scrape "$WORK/metrics"
if promtool check metrics <"$WORK/metrics" >"$WORK/promtool.out" 2>&1; then
	pass "promtool check metrics"
else
	fail "promtool check metrics: $(head -5 "$WORK/promtool.out")"
fi
if grep -qF "pm-test-$R-\\\\\\\"q" "$WORK/metrics" && ! grep -q "$(printf '\033')" "$WORK/metrics" &&
	jq -e --arg p "pm-test-$R-" '[.overhead[].group | select(startswith($p + "\\\"q"))] | length == 1' \
		"$WORK/pm" >/dev/null; then
	pass "a hostile unit name is escaped (no raw ESC, quotes escaped)"
else
	fail "hostile unit name: $(grep "pm-test-$R-.*q" "$WORK/metrics" | head -2 | cat -v)"
fi

# top: the groups below the pods
"$PODMETER" top --once --url "$PM_URL/v1/pods" >"$WORK/top.out" 2>&1
if grep -q "^NODE OVERHEAD" "$WORK/top.out" && grep -q "^pm-test-$R-spin.service .* unit" "$WORK/top.out"; then
	pass "podmeter top shows pm-test-$R-spin.service below the pods"
else
	fail "podmeter top: $(cat -v "$WORK/top.out" | head -20)"
fi

# more groups than --overhead-groups: the rest in one "other" row
stop_agent
start_agent --cgroup-mode v2 --overhead-groups 2 || { fail "agent start (2 groups)"; finish; exit; }
sleep 3
pods "$WORK/p2"
n=$(jq '.overhead | length' "$WORK/p2")
last=$(jq -r '.overhead[-1] | "\(.kind) \(.group)"' "$WORK/p2")
ours=$(jq --arg p "pm-test-$R-" '[.overhead[].group | select(startswith($p))] | length' "$WORK/p2")
[ "$n" = 3 ] && [ "$last" = "other other" ] && [ "$ours" -le 2 ] &&
	pass "--overhead-groups 2: 2 groups and \"other\" (we made 5 live groups)" ||
	fail "--overhead-groups 2: $n rows, last \"$last\", $ours of ours shown"
top2=$(jq -r '.overhead[0].group' "$WORK/p2")
[ "$top2" = "pm-test-$R-spin.service" ] && pass "the costliest group comes first: $top2" ||
	fail "first row: $top2, not the 100% spinner"
sums_match "$WORK/p2" "2 groups and other"
scrape "$WORK/m2"
rows=$(grep -c '^podmeter_overhead_cpu_seconds_total{' "$WORK/m2")
[ "$rows" = 3 ] && pass "/metrics: 3 podmeter_overhead_cpu_seconds_total series" ||
	fail "/metrics: $rows podmeter_overhead_cpu_seconds_total series"

stop_agent
finish
