#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# What the GPU ioctl signal costs the node's syscalls. A benchmark, not a
# test: it prints ratios against a baseline measured in the same run and
# never fails on a figure.
#
# Three loads, each a tight loop of one syscall (gpu_floor spin):
#   getppid     any syscall that is not an ioctl: what every process pays
#   ioctl-null  an ioctl on a file that is not a GPU (/dev/null)
#   ioctl-gpu   an ioctl on a GPU device file (a fake one: /dev/full's numbers), counted
# under four conditions, in interleaved rounds:
#   none          no program
#   no-gpu        the signal loaded on a node without GPU devices: its programs
#                 are attached only while there is one, so this should be none
#   syscalls      syscalls/sys_{enter,exit}_ioctl, the fake GPU in the table
#                 (the agent's default)
#   raw_syscalls  raw sys_enter/sys_exit (the fallback), the fake GPU in the table
# With syscall tracepoints attached, getppid shows what every syscall pays
# for the kernel's traced entry path (the programs themselves run for ioctl
# only); ioctl-null adds the fd lookup of each ioctl; ioctl-gpu the counting.
# stress-ng --syscall is not used: its bogo op is a mix of syscalls with
# process creation, a few hundred per second, too coarse for seconds-long runs.
#
# Run as root, from the repository root:
#   GPU_FLOOR=build/bench/gpu_floor tests/bench/syscall_overhead.sh
# Knobs: DUR (seconds per load and condition, 0.8), ROUNDS (3). The defaults
# take about 30 s.
set -euo pipefail

GPU_FLOOR=${GPU_FLOOR:-build/bench/gpu_floor}
DUR=${DUR:-0.8}
ROUNDS=${ROUNDS:-3}
CONDITIONS=(none no-gpu syscalls raw_syscalls)
LOADS=(getppid ioctl-null ioctl-gpu)

WORK=""
TOOL_PID=""
RATE=""
declare -A RATES=()	# "<condition> <load>" -> rates of the rounds, space-separated
declare -A COUNTED=()	# condition -> calls the program counted, summed over rounds
declare -A ISSUED=()	# condition -> ioctl-gpu calls made, summed over rounds

log() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

stop_tool() {
	local i
	[[ -n $TOOL_PID ]] || return 0
	kill -TERM "$TOOL_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$TOOL_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$TOOL_PID" 2>/dev/null || true
	wait "$TOOL_PID" 2>/dev/null || true
	TOOL_PID=""
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	stop_tool
	if [[ -n $WORK ]]; then
		if ((rc == 0)); then
			rm -rf "$WORK"
		else
			printf 'bench: failed (exit %s); logs kept in %s\n' "$rc" "$WORK" >&2
		fi
	fi
	exit "$rc"
}

check_env() {
	((EUID == 0)) || die "must run as root (loads BPF programs, makes a device node)"
	if ! [[ $DUR =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v d="$DUR" 'BEGIN { exit !(d > 0) }'; then
		die "DUR=$DUR: want a positive number of seconds"
	fi
	[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS=$ROUNDS: want a positive whole number"
	[[ -x $GPU_FLOOR ]] || die "GPU_FLOOR=$GPU_FLOOR is not executable; build it first"
	command -v awk >/dev/null || die "awk not found"
}

# Other programs on the syscall hooks weigh on every condition; say so.
note_foreign_bpf() {
	local n
	command -v bpftool >/dev/null || return 0
	n=$(bpftool prog show 2>/dev/null |
		grep -cE '^[0-9]+: (tracing|raw_tracepoint|tracepoint|kprobe|perf_event) ' || true)
	((n == 0)) || log "note: $n tracing BPF programs already loaded; they weigh on every condition"
}

# An empty dev root (no GPU of this node counts) and the fake GPU.
make_devices() {
	mkdir "$WORK/dev"
	mknod "$WORK/nvidiabench0" c 1 7 || die "mknod $WORK/nvidiabench0: cannot make the fake GPU"
}

start_tool() {
	local cond=$1 log=$WORK/attach-$1.log args=() i
	case $cond in
	none) return 0 ;;
	no-gpu) args=("$WORK/dev" "") ;;
	syscalls) args=("$WORK/dev" "$WORK/nvidiabench0") ;;
	raw_syscalls) args=(--raw "$WORK/dev" "$WORK/nvidiabench0") ;;
	esac
	"$GPU_FLOOR" attach "${args[@]}" >"$log" 2>&1 &
	TOOL_PID=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "gpu_floor: attached" "$log" && break
		kill -0 "$TOOL_PID" 2>/dev/null || die "gpu_floor exited before it attached; see $log"
		sleep 0.1
	done
	grep -q "gpu_floor: attached" "$log" || die "gpu_floor not attached after 30s; see $log"
	case $cond in
	no-gpu | syscalls) grep -q "(syscalls," "$log" ||
		die "$cond: the syscall tracepoints did not attach; see $log" ;;
	esac
}

# The counted calls gpu_floor prints as it stops.
stop_and_count() {
	local cond=$1 log=$WORK/attach-$1.log n
	[[ $cond == none ]] && return 0
	stop_tool
	n=$(awk '/gpu_floor: counted/ { print $3 }' "$log")
	[[ $n =~ ^[0-9]+$ ]] || die "$cond: gpu_floor printed no count; see $log"
	COUNTED[$cond]=$((${COUNTED[$cond]:-0} + n))
}

# One load for DUR seconds; sets RATE (calls/s) and adds ioctl-gpu calls to ISSUED.
run_load() {
	local cond=$1 load=$2 out
	case $load in
	getppid) out=$("$GPU_FLOOR" spin getppid - "$DUR") ;;
	ioctl-null) out=$("$GPU_FLOOR" spin ioctl /dev/null "$DUR") ;;
	ioctl-gpu) out=$("$GPU_FLOOR" spin ioctl "$WORK/nvidiabench0" "$DUR") ;;
	esac
	read -r calls RATE <<<"$out"
	[[ $RATE =~ ^[0-9]+$ ]] || die "$cond/$load: no rate from gpu_floor spin: '$out'"
	[[ $load == ioctl-gpu ]] && ISSUED[$cond]=$((${ISSUED[$cond]:-0} + calls))
	return 0
}

median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

measure() {
	local r c l line
	log "${ROUNDS} rounds x ${#CONDITIONS[@]} conditions x ${#LOADS[@]} loads x ${DUR}s"
	for ((r = 1; r <= ROUNDS; r++)); do
		for c in "${CONDITIONS[@]}"; do
			start_tool "$c"
			line=""
			for l in "${LOADS[@]}"; do
				run_load "$c" "$l"
				RATES["$c $l"]+="$RATE "
				line+=" $l $RATE/s"
			done
			stop_and_count "$c"
			log "round $r/$ROUNDS: $c:$line"
		done
	done
}

# The median over rounds of each round's rate under @cond over that round's "none".
paired_ratio() {
	local cond=$1 load=$2
	# shellcheck disable=SC2046,SC2086 # the rates are space-separated lists
	median $(paste -d' ' <(printf '%s\n' ${RATES["$cond $load"]}) \
		<(printf '%s\n' ${RATES["none $load"]}) | awk '{ print $1 / $2 }')
}

# Per load: median rate, paired ratio, and the time added per call.
report() {
	local l c base med
	echo
	printf '%-11s %-13s %14s %13s %14s\n' load condition "median calls/s" "paired ratio" \
		"added ns/call"
	for l in "${LOADS[@]}"; do
		# shellcheck disable=SC2086 # the rates are space-separated lists
		base=$(median ${RATES["none $l"]})
		for c in "${CONDITIONS[@]}"; do
			# shellcheck disable=SC2086
			med=$(median ${RATES["$c $l"]})
			awk -v l="$l" -v c="$c" -v m="$med" -v p="$(paired_ratio "$c" "$l")" \
				-v b="$base" 'BEGIN {
				printf "%-11s %-13s %14.0f %13.3f %14.1f\n", l, c, m, p, 1e9 / m - 1e9 / b }'
		done
	done
	echo
	for c in syscalls raw_syscalls; do
		echo "sanity: $c counted ${COUNTED[$c]:-0} of the ${ISSUED[$c]:-0} ioctls" \
			"made on the fake GPU"
	done
	echo "syscall-heavy load (getppid), throughput with the program / without:" \
		"syscalls $(paired_ratio syscalls getppid)," \
		"raw_syscalls $(paired_ratio raw_syscalls getppid)"
}

main() {
	check_env
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	WORK=$(mktemp -d /tmp/podmeter-gpu-bench.XXXXXX)
	note_foreign_bpf
	make_devices
	measure
	report
	log "done"
}

main "$@"
