#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# CPU across a move: a process moved into a pod's container while its
# threads are on a CPU (as a runtime places a container's first process, or
# a shell moves itself and execs) is its old cgroup's up to the move and the
# container's after it, as the kernel charges it. Over many short runs, most
# of each run after the move, the pod's podmeter_pod_cpu_seconds_total must
# move like the pod cgroup's own usage, within 1%.
#   test_move.sh v2|v1 [tp_btf|raw_tp]
# The tracepoint names the thread group's leader only: the threads running
# at the move are found on the CPUs (both twins). The mover runs SCHED_FIFO
# (its children reset to normal): a mover preempted between the cgroup
# change and the tracepoint leaves the ticks in between on the wrong side
# (README, a task moved while it runs).
set -u
. "$(dirname "$0")/lib.sh"

MODE=${1:-v2}
ATTACH=${2:-tp_btf}
MOVER=${MOVER:-build/tests/mover}
TOL=0.01

if [ "$MODE" = v2 ]; then ROOT=$(cg_v2_root); else ROOT=$(cg_v1_cpuacct_root); fi
[ -n "$ROOT" ] || { echo "  skip: no $MODE cgroup hierarchy with cpu accounting"; exit 0; }
[ -x "$MOVER" ] || { fail "MOVER=$MOVER is not executable; run make"; finish; exit; }
RT=(chrt --reset-on-fork --fifo 10)
"${RT[@]}" true 2>/dev/null || { echo "  note: chrt cannot give SCHED_FIFO here; the mover runs as is"; RT=(); }
echo "move: cgroup $MODE at $ROOT, $ATTACH"

uid=$(newuid)
pod="$ROOT/kubepods/burstable/pod$uid"
ctr="$pod/$(printf '%064x' $((RANDOM * 7919)))"
mkcg "$ctr" || { fail "create $ctr"; finish; exit; }

if [ "$ATTACH" = raw_tp ]; then
	PODMETER_FORCE_RAW_TP=1 start_agent --cgroup-mode "$MODE" || { fail "agent start"; finish; exit; }
else
	start_agent --cgroup-mode "$MODE" || { fail "agent start"; finish; exit; }
fi
wait_walks 1

# kernel before, then a scrape of a collection made after that reading
sample() {
	local n=$1 t0 i
	for ((i = 0; i < 20; i++)); do
		kernel_cpu_ns "$pod" >"$WORK/k$n"
		t0=$(date +%s.%N)
		sleep 0.2
		scrape "$WORK/m$n" || fail "scrape $n"
		collected_since "$WORK/m$n" "$t0" && return 0
		sleep 0.3
	done
	fail "sample $n: no collection newer than the kernel's reading"
}

# check A B WHAT: the pod's podmeter total and its cgroup's usage moved alike
check() {
	local ma mb d kd
	ma=$(metric_value "$WORK/m$1" podmeter_pod_cpu_seconds_total "uid=\"$uid\"")
	mb=$(metric_value "$WORK/m$2" podmeter_pod_cpu_seconds_total "uid=\"$uid\"")
	if [ "$ma" = missing ] || [ "$mb" = missing ]; then
		fail "$3: the pod has no podmeter_pod_cpu_seconds_total series"
		return
	fi
	d=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.6f", b - a }')
	kd=$(awk -v a="$(cat "$WORK/k$1")" -v b="$(cat "$WORK/k$2")" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
	if awk -v k="$kd" 'BEGIN { exit !(k < 0.3) }'; then
		fail "$3: the pod's cgroup gained only ${kd}s: the moved load did not run there"
	elif within "$d" "$kd" "$kd" "$TOL"; then
		pass "$3: podmeter ${d}s, kernel ${kd}s"
	else
		fail "$3: podmeter ${d}s, kernel ${kd}s (tolerance $TOL); agent counters at the two scrapes:" \
			"$(grep -h -E '^podmeter_agent_sched_(resyncs|lost)_total' "$WORK/m$1" "$WORK/m$2" | tr '\n' ' ')"
	fi
}

# no slice ends at the move: each run goes on spinning where it was moved
sample 0
"${RT[@]}" "$MOVER" 20 1 60 10 "$ctr/cgroup.procs" >"$WORK/mover1.out" 2>&1 || fail "mover: $(cat "$WORK/mover1.out")"
sleep 1.5
sample 1
check 0 1 "20 single-threaded runs moved 10 ms into 60 ms"

"${RT[@]}" "$MOVER" 10 2 80 10 "$ctr/cgroup.procs" >"$WORK/mover2.out" 2>&1 ||
	fail "mover: $(cat "$WORK/mover2.out")"
sleep 1.5
sample 2
check 1 2 "10 two-threaded runs moved 10 ms into 80 ms"

if stop_agent; then pass "SIGTERM: clean exit"; else fail "SIGTERM: exit status $?"; fi
finish
