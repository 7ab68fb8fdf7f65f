#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Per-pod CPU against the kernel's own accounting.
#   test_cpu.sh v2|v1 [tp_btf|raw_tp]
# Fake pods in both kubelet shapes run real load (100%, 30%, 0% of a core);
# each pod's podmeter_pod_cpu_seconds_total must move like the pod cgroup's
# cpu.stat usage_usec (v2) or cpuacct.usage (v1) over the same window, within
# 1%. The kernel is read just before and just after each scrape, so the truth
# lies in a known interval; the tolerance applies on top of that interval.
set -u
. "$(dirname "$0")/lib.sh"

MODE=${1:-v2}
ATTACH=${2:-tp_btf}
WINDOW=${WINDOW:-5}
TOL=0.01

if [ "$MODE" = v2 ]; then ROOT=$(cg_v2_root); else ROOT=$(cg_v1_cpuacct_root); fi
[ -n "$ROOT" ] || { echo "  skip: no $MODE cgroup hierarchy with cpu accounting"; exit 0; }
echo "cpu: cgroup $MODE at $ROOT, $ATTACH"

u() { printf '%08x-%04x-4%03x-8%03x-%012x' $((RANDOM * RANDOM)) $RANDOM $((RANDOM % 4096)) $((RANDOM % 4096)) $((RANDOM * RANDOM * RANDOM)); }
cid() { printf '%064x' 0 | sed "s/^.\{8\}/$(printf '%08x' $((RANDOM * RANDOM)))/"; }

# name  pod-cgroup  container-cgroup  load(% of a core)
declare -A POD_DIR UID_OF LOAD
add_pod() {
	local name=$1 shape=$2 qos=$3 load=$4 uid c pod
	uid=$(u)
	c=$(cid)
	if [ "$shape" = systemd ]; then
		pod="$ROOT/kubepods.slice/kubepods-$qos.slice/kubepods-$qos-pod${uid//-/_}.slice"
		mkcg "$pod/cri-containerd-$c.scope" || return 1
		c="$pod/cri-containerd-$c.scope"
	else
		pod="$ROOT/kubepods/$qos/pod$uid"
		mkcg "$pod/$c" || return 1
		c="$pod/$c"
	fi
	POD_DIR[$name]=$pod
	UID_OF[$name]=$uid
	LOAD[$name]=$load
	if [ "$load" -eq 0 ]; then
		run_in_cg "$c" sleep 600
	else
		run_in_cg "$c" stress-ng --cpu 1 --cpu-load "$load" --timeout 120s
	fi
}

add_pod sd100 systemd burstable 100 || { fail "create fake pods under $ROOT"; finish; exit; }
add_pod fs30 cgroupfs burstable 30
add_pod sd0 systemd besteffort 0
add_pod fs0 cgroupfs besteffort 0
PODS="sd100 fs30 sd0 fs0"

if [ "$ATTACH" = raw_tp ]; then
	PODMETER_FORCE_RAW_TP=1 start_agent --cgroup-mode "$MODE" || { fail "agent start"; finish; exit; }
else
	start_agent --cgroup-mode "$MODE" || { fail "agent start"; finish; exit; }
fi
sleep 2

# sample N: kernel before, scrape, kernel after (CPU time and run-queue wait)
# (again while the agent serves a collection begun before the last "before" reading:
# the truth must bracket the whole of the collection)
sample() {
	local n=$1 p t0 i
	for ((i = 0; i < 10; i++)); do
		for p in $PODS; do
			kernel_cpu_ns "${POD_DIR[$p]}" >"$WORK/k$n.pre.$p"
			kernel_runq_ns "${POD_DIR[$p]}" >"$WORK/q$n.pre.$p"
		done
		t0=$(date +%s.%N)
		scrape "$WORK/m$n" || fail "scrape $n"
		for p in $PODS; do
			kernel_cpu_ns "${POD_DIR[$p]}" >"$WORK/k$n.post.$p"
			kernel_runq_ns "${POD_DIR[$p]}" >"$WORK/q$n.post.$p"
		done
		collected_since "$WORK/m$n" "$t0" && break
		sleep 0.3
	done
}

# compare_line POD A B WHAT METRIC KERNEL-PREFIX TOL: POD between samples A and B
# into LINE; true when within the kernel's bracket
compare_line() {
	local p=$1 a=$2 b=$3 what=$4 metric=$5 k=$6 tol=$7 ma mb lo hi d
	ma=$(metric_value "$WORK/m$a" "$metric" "uid=\"${UID_OF[$p]}\"")
	mb=$(metric_value "$WORK/m$b" "$metric" "uid=\"${UID_OF[$p]}\"")
	if [ "$ma" = missing ] || [ "$mb" = missing ]; then
		LINE="$what: pod $p (${LOAD[$p]}%) has no $metric series"
		return 1
	fi
	lo=$(( $(cat "$WORK/$k$b.pre.$p") - $(cat "$WORK/$k$a.post.$p") ))
	hi=$(( $(cat "$WORK/$k$b.post.$p") - $(cat "$WORK/$k$a.pre.$p") ))
	d=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.6f", b - a }')
	lo=$(awk -v x="$lo" 'BEGIN { printf "%.6f", x / 1e9 }')
	hi=$(awk -v x="$hi" 'BEGIN { printf "%.6f", x / 1e9 }')
	LINE="$what: pod $p (${LOAD[$p]}%): podmeter ${d}s, kernel ${lo}..${hi}s"
	within "$d" "$lo" "$hi" "$tol" && return 0
	LINE="$LINE (tolerance $tol)"
	return 1
}

# compare POD A B WHAT METRIC KERNEL-PREFIX TOL: pass or fail
compare() {
	if compare_line "$@"; then pass "$LINE"; else fail "$LINE"; fi
}

sample 0
sleep "$WINDOW"
sample 1
for p in $PODS; do
	compare "$p" 0 1 "cpu, ${WINDOW}s window" podmeter_pod_cpu_seconds_total k "$TOL"
done
# run-queue wait: the sum of the pod's threads' schedstat run_delay
for p in sd100 fs30; do
	compare "$p" 0 1 "run-queue wait, ${WINDOW}s window" \
		podmeter_pod_cpu_runqueue_seconds_total q "$TOL"
done

# a flat-out task never switches out: read it twice, 1 s apart. On this VM
# the threads of PID 1 (the sandbox's own) switch out without the
# sched_switch tracepoint (bpftrace misses the same switches): the task that
# then takes the CPU is unseen until its own switch-out, which for a
# flat-out task may come a second later, and is counted then (a resync).
# Such a pair is shown, with the resyncs it saw, and one more pair read.
sleep 1
sample 2
if compare_line sd100 1 2 "cpu, flat-out, 1s apart" podmeter_pod_cpu_seconds_total k "$TOL"; then
	pass "$LINE"
else
	r0=$(metric_value "$WORK/m1" podmeter_agent_sched_resyncs_total "")
	log "first pair: $LINE; scheduler resyncs $r0 -> $(metric_value "$WORK/m2" podmeter_agent_sched_resyncs_total "")"
	sleep 1
	sample 3
	sleep 1
	sample 4
	compare sd100 3 4 "cpu, flat-out, 1s apart (again)" podmeter_pod_cpu_seconds_total k "$TOL"
fi

# exposition format and the other endpoints
if promtool check metrics <"$WORK/m1" >"$WORK/promtool.out" 2>&1; then
	pass "promtool check metrics"
else
	fail "promtool check metrics: $(head -5 "$WORK/promtool.out")"
fi
att=$(grep -c "podmeter_agent_build_info{.*attach=\"$ATTACH\"" "$WORK/m1")
[ "$att" -eq 1 ] && pass "attached via $ATTACH" || fail "build_info does not say attach=\"$ATTACH\""
if curl -sf "$PM_URL/v1/pods" | python3 -c '
import json, sys
d = json.load(sys.stdin)
uids = {p["uid"] for p in d["pods"]}
sys.exit(0 if set(sys.argv[1:]) <= uids else 1)' "${UID_OF[@]}"; then
	pass "/v1/pods lists every fake pod"
else
	fail "/v1/pods does not list every fake pod"
fi

# a pod goes away: its cgroups are read one last time, then removed from the map
removed0=$(metric_value "$WORK/m1" podmeter_agent_cgroups_removed_total "")
for pid in $(find "${POD_DIR[fs30]}" -name cgroup.procs -exec cat {} + 2>/dev/null) \
	   $(find "${POD_DIR[fs30]}" -name tasks -exec cat {} + 2>/dev/null); do
	kill -KILL "$pid" 2>/dev/null
done
sleep 0.5
final=$(kernel_cpu_ns "${POD_DIR[fs30]}")
rmdir "${POD_DIR[fs30]}"/* 2>/dev/null
rmdir "${POD_DIR[fs30]}"
ok=0
for _ in $(seq 1 20); do
	sleep 0.5
	scrape "$WORK/m3"
	removed1=$(metric_value "$WORK/m3" podmeter_agent_cgroups_removed_total "")
	# only the container cgroup ran tasks, so only it has a map entry
	awk -v a="$removed0" -v b="$removed1" 'BEGIN { exit !(b >= a + 1) }' && { ok=1; break; }
done
[ $ok -eq 1 ] && pass "dead pod cgroups removed from the map ($removed0 -> $removed1)" ||
	fail "dead pod cgroups not removed ($removed0 -> $removed1)"
# the counter starts at agent start: compare what it gained since sample 0
m0=$(metric_value "$WORK/m0" podmeter_pod_cpu_seconds_total "uid=\"${UID_OF[fs30]}\"")
m3=$(metric_value "$WORK/m3" podmeter_pod_cpu_seconds_total "uid=\"${UID_OF[fs30]}\"")
lo=$(awk -v f="$final" -v k="$(cat "$WORK/k0.post.fs30")" 'BEGIN { printf "%.6f", (f - k) / 1e9 }')
hi=$(awk -v f="$final" -v k="$(cat "$WORK/k0.pre.fs30")" 'BEGIN { printf "%.6f", (f - k) / 1e9 }')
d=$(awk -v a="$m0" -v b="$m3" 'BEGIN { printf "%.6f", b - a }')
within "$d" "$lo" "$hi" "$TOL" && pass "gone pod keeps its final total: ${d}s, kernel ${lo}..${hi}s" ||
	fail "gone pod's final total: ${d}s, kernel ${lo}..${hi}s"

# run-queue wait across migrations: one spinner more than the node has CPUs
# keeps a queue, and the load balancer moves waiting threads to the other
# CPU, the kernel adding their wait so far to run_delay between two slices.
# Frozen (cgroup.freeze), nothing in the pod runs or waits, so its totals
# are read exactly at both ends of the window: the pod's figures must move
# like its threads' schedstat sums, within 0.2% (charging each slice's wait
# from its own switch-in alone lost 0.5 to 2% of it here).
freeze() {
	local i
	echo "$2" >"$1/cgroup.freeze" || return 1
	for ((i = 0; i < 50; i++)); do
		grep -qx "frozen $2" "$1/cgroup.events" && return 0
		sleep 0.1
	done
	return 1
}
# frozen_sample POD N: the kernel's figures, then a collection made after them
frozen_sample() {
	local t0 i
	kernel_cpu_ns "$1" >"$WORK/fk$2"
	kernel_runq_ns "$1" >"$WORK/fq$2"
	t0=$(date +%s.%N)
	for ((i = 0; i < 20; i++)); do
		sleep 0.3
		scrape "$WORK/fm$2" || continue
		collected_since "$WORK/fm$2" "$t0" && return 0
	done
	return 1
}
frozen_check() {
	local uid=$1 metric=$2 k=$3 what=$4 d kd
	d=$(awk -v a="$(metric_value "$WORK/fm0" "$metric" "uid=\"$uid\"")" \
		-v b="$(metric_value "$WORK/fm1" "$metric" "uid=\"$uid\"")" 'BEGIN { printf "%.6f", b - a }')
	kd=$(awk -v a="$(cat "$WORK/${k}0")" -v b="$(cat "$WORK/${k}1")" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
	if awk -v d="$d" -v k="$kd" 'BEGIN { exit !(k > 1 && d >= k * 0.998 && d <= k * 1.002) }'; then
		pass "$what: podmeter ${d}s, kernel ${kd}s"
	else
		fail "$what: podmeter ${d}s, kernel ${kd}s (0.2%, and over 1 s)"
	fi
}
if [ "$MODE" = v2 ]; then
	muid=$(u)
	mpod="$ROOT/kubepods/burstable/pod$muid"
	mctr="$mpod/$(cid)"
	if mkcg "$mctr" && [ -f "$mpod/cgroup.freeze" ]; then
		run_in_cg "$mctr" stress-ng --cpu $(($(nproc) + 1)) --timeout 60s
		sleep 2
		if freeze "$mpod" 1 && frozen_sample "$mpod" 0 && freeze "$mpod" 0; then
			sleep "$((WINDOW * 2))"
			if freeze "$mpod" 1 && frozen_sample "$mpod" 1; then
				frozen_check "$muid" podmeter_pod_cpu_runqueue_seconds_total fq \
					"run-queue wait, $(($(nproc) + 1)) spinners, frozen ends"
				frozen_check "$muid" podmeter_pod_cpu_seconds_total fk \
					"cpu, $(($(nproc) + 1)) spinners, frozen ends"
			else
				fail "freeze the spinners' pod (second end)"
			fi
		else
			fail "freeze the spinners' pod (first end)"
		fi
		freeze "$mpod" 0
	else
		echo "  skip: no cgroup.freeze under $ROOT"
	fi
fi

if stop_agent; then pass "SIGTERM: clean exit"; else fail "SIGTERM: exit status $?"; fi
finish
