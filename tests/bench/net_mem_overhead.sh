#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# podmeter's cost on the network and memory paths. A benchmark, not a test:
# it prints ratios against a baseline measured in the same run.
#   a. loopback TCP throughput (iperf3), without and with podmeter (its
#      cgroup_skb programs see every packet); goal: under 3% loss;
#   b. a page-fault storm (stress-ng --fault: rss_stat and page_fault_user
#      fire on every fault), without and with podmeter.
# Interleaved rounds; per condition the median of each round's ratio to that
# round's own baseline. Knobs: DUR (seconds per run, 8), ROUNDS (5).
set -euo pipefail

PODMETER=${PODMETER:-build/podmeter}
DUR=${DUR:-8}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-15201}
PM_PORT=${PM_PORT:-19480}
PM_PID=""

log() { printf 'bench: %s\n' "$*" >&2; }
cleanup() { [[ -n $PM_PID ]] && kill "$PM_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

start_podmeter() {
	"$PODMETER" run --listen "127.0.0.1:$PM_PORT" --spool /tmp/podmeter-bench-spool --pin-dir none >/tmp/podmeter-bench-agent.log 2>&1 &
	PM_PID=$!
	for _ in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$PM_PORT/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "podmeter did not start: $(cat /tmp/podmeter-bench-agent.log)" >&2
	exit 1
}
stop_podmeter() { kill "$PM_PID"; wait "$PM_PID" || true; PM_PID=""; }

iperf_bps() {
	iperf3 -s -1 -p "$PORT" -B 127.0.0.1 >/dev/null 2>&1 &
	local srv=$!
	sleep 0.3
	timeout $((DUR + 30)) iperf3 -c 127.0.0.1 -p "$PORT" -t "$DUR" -J |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'
	wait "$srv" || true
}

fault_ops() {
	timeout $((DUR + 30)) stress-ng --fault 1 --timeout "${DUR}s" --metrics-brief \
		--temp-path "${TMPDIR:-/tmp}" 2>&1 |
		awk '/metrc:/ && $4 == "fault" && $5 ~ /^[0-9]+$/ { print $9; exit }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run_pair() {	# run_pair NAME FN: ROUNDS x (without, with); prints the median paired ratio
	local name=$1 fn=$2 r base with ratios=()
	for ((r = 1; r <= ROUNDS; r++)); do
		base=$($fn)
		start_podmeter
		with=$($fn)
		stop_podmeter
		ratios+=("$(awk -v a="$with" -v b="$base" 'BEGIN { print a / b }')")
		log "$name round $r/$ROUNDS: without $base, with podmeter $with"
	done
	printf '%s\n' "${ratios[@]}" | median
}

[[ $(id -u) -eq 0 ]] || { echo "bench: needs root" >&2; exit 1; }
log "a. loopback TCP (iperf3), ${ROUNDS} rounds x ${DUR}s"
r=$(run_pair iperf3 iperf_bps)
awk -v r="$r" 'BEGIN { printf "iperf3 loopback: with podmeter / without = %.3f (loss %.2f%%); goal: loss < 3%%\n", r, (1 - r) * 100 }'
log "b. page-fault storm (stress-ng --fault 1), ${ROUNDS} rounds x ${DUR}s"
r=$(run_pair faults fault_ops)
awk -v r="$r" 'BEGIN { printf "page faults: with podmeter / without = %.3f (loss %.2f%%)\n", r, (1 - r) * 100 }'
