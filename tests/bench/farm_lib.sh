# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared by pod_scale.sh and churn.sh: the integration tests' helpers
# (tests/integration/lib.sh: the agent, fake pod cgroups, cleanup) plus the
# pod farm (build/bench/pod_farm), the agent's CPU and memory from /proc, and
# a cleanup that removes whatever the farm made, also when it was killed.
. "$(dirname "$0")/../integration/lib.sh"

POD_FARM=${POD_FARM:-build/bench/pod_farm}
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
HZ=$(getconf CLK_TCK)
# names this run's pods: pod<PREFIX>-0000-4000-8000-<n>
PREFIX=$(printf '%04x%04x' $RANDOM $RANDOM)
QOS_DIRS=()	# the farm's QOSDIR arguments: v2 first, then the memory hierarchy
FARM_PID=""
FARM_OUT=""

# the agent's user + system time, in clock ticks (all its threads)
cpu_ticks() {
	local s
	s=$(<"/proc/$1/stat")
	s=${s##*) }
	# shellcheck disable=SC2086 # fields: state is $1, utime $12, stime $13
	set -- $s
	echo $((${12} + ${13}))
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# the QoS directory in each hierarchy the pods live in (created if absent,
# removed at cleanup only when created here)
farm_setup() {
	local rel=kubepods/besteffort
	[ -n "$V2" ] || { echo "bench: needs a cgroup v2 hierarchy"; return 1; }
	[ -x "$POD_FARM" ] || { echo "bench: POD_FARM=$POD_FARM is not executable; run make"; return 1; }
	mkcg "$V2/$rel" || return 1
	QOS_DIRS=("$V2/$rel")
	if [ -n "$MEM" ] && [ "$MEM" != "$V2" ]; then
		mkcg "$MEM/$rel" || return 1
		QOS_DIRS+=("$MEM/$rel")
	fi
}

# farm_start OUTFILE ARGS...: pod_farm ARGS (after the mode and prefix) in the
# background, its stdin a pipe that ends when this script does
farm_start() {
	local mode=$1
	FARM_OUT=$2
	shift 2
	mkfifo "$WORK/farm.ctl"
	exec 7<>"$WORK/farm.ctl"
	"$POD_FARM" "$mode" "$PREFIX" "$@" "${QOS_DIRS[@]}" <"$WORK/farm.ctl" >"$FARM_OUT" 2>&1 &
	FARM_PID=$!
}

# farm_wait PATTERN SECS: until the farm's output holds PATTERN
farm_wait() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -q -- "$1" "$FARM_OUT" 2>/dev/null && return 0
		kill -0 "$FARM_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: pod_farm: no \"$1\" after $2 s:"
	tail -5 "$FARM_OUT"
	return 1
}

# SIGTERM: the farm kills its processes and removes its cgroups
farm_stop() {
	local i rc=0
	[ -n "$FARM_PID" ] || return 0
	kill -TERM "$FARM_PID" 2>/dev/null
	for ((i = 0; i < 600; i++)); do
		kill -0 "$FARM_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$FARM_PID" 2>/dev/null
	wait "$FARM_PID" 2>/dev/null || rc=$?
	FARM_PID=""
	exec 7>&-
	rm -f "$WORK/farm.ctl"
	return $rc
}

# whatever a killed farm left: its processes, then its containers and pods
farm_sweep() {
	local q d p
	for q in "${QOS_DIRS[@]}"; do
		for d in "$q"/pod"$PREFIX"-*/* "$q"/pod"$PREFIX"-*; do
			[ -d "$d" ] || continue
			for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		done
	done
	for q in "${QOS_DIRS[@]}"; do
		for d in "$q"/pod"$PREFIX"-*/*/ "$q"/pod"$PREFIX"-*/; do
			[ -d "$d" ] || continue
			for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; sleep 0.2; done
			[ -d "$d" ] && echo "  warning: could not remove $d"
		done
	done
}

bench_cleanup() {
	local rc=$?
	farm_stop
	[ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
	farm_sweep
	cleanup
	exit $rc
}
trap bench_cleanup EXIT

# agent_window SECS: the agent's CPU over SECS seconds as % of one core in
# PCT, its resident memory at the end in RSS_MIB and its peak in HWM_MIB.
# PERF_OUT=FILE: perf records its stacks (PERF_FREQ, 499 Hz); SMAPS_OUT=FILE:
# its /proc/<pid>/smaps at the end.
agent_window() {
	local t0 t1
	t0=$(cpu_ticks "$AGENT_PID")
	if [ -n "${PERF_OUT:-}" ]; then
		perf record -q --call-graph dwarf,16384 -F "${PERF_FREQ:-499}" -p "$AGENT_PID" -o "$PERF_OUT" -- sleep "$1" 2>/dev/null
	else
		sleep "$1"
	fi
	kill -0 "$AGENT_PID" 2>/dev/null || { echo "bench: the agent exited"; return 1; }
	[ -z "${SMAPS_OUT:-}" ] || cp "/proc/$AGENT_PID/smaps" "$SMAPS_OUT"
	t1=$(cpu_ticks "$AGENT_PID")
	PCT=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v s="$1" 'BEGIN { printf "%.3f", d / hz / s * 100 }')
	RSS_MIB=$(awk -v k="$(status_kb "$AGENT_PID" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')
	HWM_MIB=$(awk -v k="$(status_kb "$AGENT_PID" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')
}

# pods of this run in a scrape
our_pods() { grep '^podmeter_pod_cpu_seconds_total{' "$1" | grep -c "uid=\"$PREFIX-" || true; }
