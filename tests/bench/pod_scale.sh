#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The agent's own cost against the number of pods. A benchmark, not a test:
# it prints figures and fails only when it cannot measure.
#
# For each count in COUNTS (default "0 100 1000 5000"): the agent is started
# (--interval 1s --cgroup-mode v2), then COUNT fake pods are made by
# build/bench/pod_farm (cgroupfs shape kubepods/besteffort/pod<uid>/<id>, in
# cgroup v2 and the memory hierarchy, one process each that sleeps and wakes
# every WAKE seconds; with KUBELET=1 a stand-in kubelet lists them and the
# agent is given its URL); once the agent shows (and names) them all and has walked the
# hierarchy twice more, its CPU time (/proc/<pid>/stat utime + stime, all
# threads) is read over WINDOW seconds with nothing scraping it ("first"),
# then over WINDOW seconds again after SETTLE more ("steady"), and its RSS
# at the end. The baseline is the first count (0: the agent on this node with
# no fake pod); every figure is also printed as a ratio to it.
#
# Goal (issue 15): at 1,000 pods under 0.5% of a core and under 24 MiB RSS.
# Knobs: COUNTS, WINDOW (20), SETTLE (60; 0: the first window only), WAKE
# (10), KUBELET (0), PERF_OUT (a file: perf records the agent's stacks over
# the last window; its CPU figure then includes perf's sampling). Root.
# SCALE_OUT=FILE also writes "COUNT PCT RSS_MIB STEADY" lines there (churn.sh
# compares with the 1,000 line).
set -u
. "$(dirname "$0")/farm_lib.sh"

COUNTS=${COUNTS:-0 100 1000 5000}
WINDOW=${WINDOW:-20}
WAKE=${WAKE:-10}
KUBELET=${KUBELET:-0}	# 1: a stand-in kubelet lists the farm's pods, so the agent names them
KPORT=${KPORT:-19489}
SETTLE=${SETTLE:-60}
farm_setup || exit 1
echo "bench: pod_scale: counts $COUNTS, ${WINDOW}s window, processes wake every ${WAKE}s, $(nproc) CPUs$([ "$KUBELET" = 1 ] && echo ", pods listed by a kubelet")"

# kubelet N: a stand-in kubelet serving a PodList of the farm's first N pods
KUBELET_PID=""
kubelet() {
	python3 - "$1" "$PREFIX" >"$WORK/pods.json" <<'PY' || return 1
import json, sys
n, prefix = int(sys.argv[1]), sys.argv[2]
items = [{"metadata": {"name": "app-%d" % i, "namespace": "farm",
                       "uid": "%s-0000-4000-8000-%012x" % (prefix, i),
                       "labels": {"app": "farm"}},
          "spec": {"nodeName": "node-a", "containers": [
              {"name": "app", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
          "status": {"phase": "Running", "qosClass": "Burstable"}} for i in range(n)]
print(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": items}))
PY
	echo ok >"$WORK/kmode"
	python3 "$(dirname "$0")/../integration/fake_kubelet.py" --port "$KPORT" \
		--podlist "$WORK/pods.json" --mode-file "$WORK/kmode" --lifetime 3600 &
	KUBELET_PID=$!
	STARTED_PIDS+=("$KUBELET_PID")
	sleep 0.7
}

declare -A pct steady rss hwm
stage() {
	local n=$1 seen=0 i args=(--cgroup-mode v2)
	if [ "$KUBELET" = 1 ]; then
		kubelet "$n" || return 1
		args+=(--kubelet "http://127.0.0.1:$KPORT/pods")
	fi
	start_agent "${args[@]}" || return 1
	if [ "$n" -gt 0 ]; then
		farm_start hold "$WORK/farm.out" "$n" "$WAKE"
		farm_wait '^ready' 300 || return 1
		for ((i = 0; i < 120; i++)); do
			scrape "$WORK/m" && seen=$(our_pods "$WORK/m")
			[ "$seen" -ge "$n" ] && break
			sleep 0.5
		done
		[ "$seen" -ge "$n" ] || { echo "bench: the agent shows $seen of $n pods"; return 1; }
		if [ "$KUBELET" = 1 ]; then
			# a kubelet list is taken up to 4096 pods (PM_KUBELET_MAX_PODS)
			local want=$((n < 4096 ? n : 4096))
			for ((i = 0; i < 120; i++)); do
				scrape "$WORK/m"
				seen=$(grep -c '^podmeter_pod_cpu_seconds_total{.*namespace="farm"' "$WORK/m")
				[ "$seen" -ge "$want" ] && break
				sleep 0.5
			done
			[ "$seen" -ge "$want" ] || { echo "bench: the agent names $seen of $want pods"; return 1; }
		fi
	fi
	wait_walks 2 || return 1
	PERF_OUT=$([ "$SETTLE" -gt 0 ] || echo "${PERF_OUT:-}") agent_window "$WINDOW" || return 1
	pct[$n]=$PCT rss[$n]=$RSS_MIB hwm[$n]=$HWM_MIB steady[$n]=n/a
	if [ "$SETTLE" -gt 0 ]; then
		sleep "$SETTLE"
		agent_window "$WINDOW" || return 1
		steady[$n]=$PCT rss[$n]=$RSS_MIB hwm[$n]=$HWM_MIB
	fi
	scrape "$WORK/m"
	printf 'bench: pod_scale: %5d pods: %.3f%% of a core at first, %s%% steady, RSS %s MiB (peak %s), agent shows %d of them, %s collections in %s s\n' \
		"$n" "${pct[$n]}" "${steady[$n]}" "$RSS_MIB" "$HWM_MIB" "$(our_pods "$WORK/m")" \
		"$(metric_value "$WORK/m" podmeter_agent_collect_duration_seconds_count "")" \
		"$(metric_value "$WORK/m" podmeter_agent_collect_duration_seconds_sum "" |
			awk '{ printf "%.3f", $1 }')"
	farm_stop || { echo "bench: pod_farm failed:"; tail -5 "$WORK/farm.out"; return 1; }
	stop_agent
	if [ -n "$KUBELET_PID" ]; then
		kill "$KUBELET_PID" 2>/dev/null
		wait "$KUBELET_PID" 2>/dev/null
		KUBELET_PID=""
	fi
}

for n in $COUNTS; do
	stage "$n" || exit 1
done

base=${COUNTS%% *}
echo
printf '%6s %10s %10s %8s %9s %10s %10s\n' pods "CPU first" "CPU steady" "x base" "RSS MiB" "x base" "peak MiB"
for n in $COUNTS; do
	# x base: of the steady figures, or of the first ones when there are none
	awk -v n="$n" -v p="${pct[$n]}" -v sp="${steady[$n]}" -v b="${pct[$base]}" \
		-v bs="${steady[$base]}" -v r="${rss[$n]}" -v br="${rss[$base]}" -v h="${hwm[$n]}" 'BEGIN {
		q = sp != "n/a" ? sp : p; bq = bs != "n/a" ? bs : b
		printf "%6d %10.3f %10s %8s %9.1f %10.2f %10.1f\n", n, p, sp,
			(bq > 0 ? sprintf("%.2f", q / bq) : "n/a"), r, (br > 0 ? r / br : 0), h }'
done
echo "(CPU in % of a core over ${WINDOW}s: first, once the agent shows the pods; steady, ${SETTLE}s later (SETTLE=0: none, and x base is of the first))"
echo "(CPU resolution $(awk -v hz="$HZ" -v w="$WINDOW" 'BEGIN { printf "%.3f", 100 / hz / w }')% of a core; goal at 1000 pods: < 0.5% and < 24 MiB RSS)"
if [ -n "${SCALE_OUT:-}" ]; then
	for n in $COUNTS; do echo "$n ${pct[$n]} ${rss[$n]} ${steady[$n]}"; done >"$SCALE_OUT"
fi
