# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Helpers for the root integration tests: fake pods (cgroups with real
# processes), the agent, and comparisons against the kernel's own accounting.
# Everything created is recorded and removed by cleanup, even on failure.

PODMETER=${PODMETER:-build/podmeter}
PM_PORT=${PM_PORT:-19477}
PM_URL="http://127.0.0.1:$PM_PORT"
WORK=$(mktemp -d /tmp/podmeter-it.XXXXXX)
# the agent's pinned set: bpffs mounted if the host has not, one directory a
# test, unpinned at cleanup
PM_BPFFS=/sys/fs/bpf
[ "$(stat -f -c %T "$PM_BPFFS" 2>/dev/null)" = bpf_fs ] || mount -t bpf bpf "$PM_BPFFS" 2>/dev/null
PM_PIN_DIR="$PM_BPFFS/podmeter-it-$(basename "$WORK" | tr -c 'A-Za-z0-9\n' _)"
CREATED_DIRS=()	# cgroup dirs we made, removed in reverse order
STARTED_PIDS=()	# processes we started
AGENT_PID=""
FAILS=0
PASSES=0

log() { echo "  $*"; }

pass() { PASSES=$((PASSES + 1)); echo "  ok    $*"; }

fail() { FAILS=$((FAILS + 1)); echo "  FAIL  $*"; }

# cgroup2 mount and the v1 hierarchy carrying cpuacct, from mountinfo
cg_v2_root() { awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo; }
cg_v1_cpuacct_root() {
	awk '$9 == "cgroup" && $NF ~ /(^|,)cpuacct(,|$)/ { print $5; exit }' /proc/self/mountinfo
}

# the memory controller's hierarchy: cgroup v2 when it has the controller,
# else the v1 "memory" mount
cg_mem_root() {
	local v2
	v2=$(cg_v2_root)
	if [ -n "$v2" ] && grep -qw memory "$v2/cgroup.controllers" 2>/dev/null; then
		echo "$v2"
	else
		awk '$9 == "cgroup" && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo
	fi
}

# the memory cgroup's usage in bytes (v2 memory.current, v1 memory.usage_in_bytes)
kernel_mem_usage() {
	if [ -f "$1/memory.current" ]; then cat "$1/memory.current"; else cat "$1/memory.usage_in_bytes"; fi
}

# OOM kills the memory cgroup saw (v2 memory.events, v1 memory.oom_control)
kernel_oom_kills() {
	local f="$1/memory.events"
	[ -f "$f" ] || f="$1/memory.oom_control"
	awk '$1 == "oom_kill" { print $2; found = 1 } END { if (!found) print 0 }' "$f"
}

# a fresh pod uid, in the API server's format
newuid() {
	printf '%08x-%04x-4%03x-8%03x-%012x' $((RANDOM * RANDOM)) $RANDOM $((RANDOM % 4096)) \
		$((RANDOM % 4096)) $((RANDOM * RANDOM * RANDOM))
}

# a pod's cgroup REL in v2 and, when the memory controller lives elsewhere
# (hybrid), in the memory hierarchy too; needs V2 and MEM set
make_pod() {
	local rel=$1
	mkcg "$V2/$rel" || return 1
	[ "$MEM" = "$V2" ] || mkcg "$MEM/$rel"
}
cg_dirs() {
	if [ "$MEM" = "$V2" ]; then echo "$V2/$1"; else echo "$V2/$1 $MEM/$1"; fi
}

# near A B TOL: |A - B| <= TOL * B
near() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t * b) }'
}

# start CMD... inside every cgroup DIR given before "--"; its pid in LAST_PID
run_in_cgs() {
	local dirs=()
	while [ "$1" != "--" ]; do dirs+=("$1"); shift; done
	shift
	sh -c 'while [ "$1" != "--" ]; do echo $$ > "$1/cgroup.procs" || exit 1; shift; done
		shift; exec "$@"' sh "${dirs[@]}" -- "$@" &
	LAST_PID=$!
	disown "$LAST_PID"
	STARTED_PIDS+=("$LAST_PID")
}

# mkdir -p that remembers each level it created
mkcg() {
	local path=$1 cur="" part
	local IFS=/
	for part in $path; do
		[ -z "$part" ] && continue
		cur="$cur/$part"
		if [ ! -d "$cur" ]; then
			mkdir "$cur" || return 1
			CREATED_DIRS+=("$cur")
		fi
	done
}

# start CMD... inside cgroup DIR; its pid in LAST_PID (not printed: a $(...)
# subshell would not record it for cleanup)
run_in_cg() {
	local dir=$1
	shift
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$dir" "$@" >/dev/null 2>&1 &
	LAST_PID=$!
	disown "$LAST_PID"	# no job-control notice when cleanup kills it
	STARTED_PIDS+=("$LAST_PID")
}

# the pod's CPU time by the kernel, in ns: v2 cpu.stat usage_usec or v1 cpuacct.usage
kernel_cpu_ns() {
	local dir=$1
	if [ -f "$dir/cpu.stat" ]; then
		awk '$1 == "usage_usec" { printf "%.0f\n", $2 * 1000 }' "$dir/cpu.stat"
	else
		cat "$dir/cpuacct.usage"
	fi
}

# sum of run_delay (ns) in /proc/<tid>/schedstat over every thread of the cgroup tree
kernel_runq_ns() {
	local dir=$1 files=() t
	for t in $(find "$dir" \( -name cgroup.threads -o -name tasks \) -exec cat {} + 2>/dev/null); do
		files+=("/proc/$t/schedstat")
	done
	[ ${#files[@]} -eq 0 ] && { echo 0; return; }
	awk '{ s += $2 } END { printf "%.0f\n", s }' "${files[@]}" 2>/dev/null
}

start_agent() {
	"$PODMETER" run --listen "127.0.0.1:$PM_PORT" --interval 1s --spool "$WORK/spool" \
		--pin-dir "$PM_PIN_DIR" "$@" \
		>"$WORK/agent.log" 2>&1 &
	AGENT_PID=$!
	local i
	for i in $(seq 1 100); do
		curl -sf "$PM_URL/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "agent did not come up:"; cat "$WORK/agent.log"
	return 1
}

stop_agent() {
	[ -n "$AGENT_PID" ] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null
	local rc=0
	wait "$AGENT_PID" || rc=$?
	AGENT_PID=""
	return $rc
}

scrape() { curl -sf "$PM_URL/metrics" >"$1"; }

# agent_map_id NAME: the id of the running agent's BPF map NAME (by its open descriptors)
agent_map_id() {
	local f id
	for f in /proc/"$AGENT_PID"/fdinfo/*; do
		id=$(awk '$1 == "map_id:" { print $2 }' "$f" 2>/dev/null)
		[ -n "$id" ] && bpftool map show id "$id" 2>/dev/null | grep -q " name $1 " &&
			{ echo "$id"; return; }
	done
}

# map_entries_of NAME CGID: how many entries of the agent's map NAME have a key that
# starts with cgroup id CGID (the 8 bytes of every per-cgroup key)
map_entries_of() {
	bpftool -j map dump id "$(agent_map_id "$1")" 2>/dev/null | python3 -c '
import json, sys
want = int(sys.argv[1])
print(sum(int.from_bytes(bytes(int(b, 16) for b in e["key"][:8]), "little") == want
	  for e in json.load(sys.stdin)))' "$2"
}

# collected_since FILE T0: the scrape in FILE is of a collection made at or after T0 (seconds)
collected_since() {
	awk -v t0="$2" '$1 == "podmeter_collection_time_seconds" { ok = $2 >= t0 }
		END { exit !ok }' "$1"
}

# wait_walks [N]: until N (default 2) more walks of the cgroup hierarchy have ended,
# so that one began after the call (the working sets, processes and throttling are
# read at walks); at most 60 s, whatever the machine's load makes of the ticks
wait_walks() {
	local n=${1:-2} w0 w i
	w0=$(curl -sf "$PM_URL/metrics" | awk '$1 == "podmeter_agent_cgroup_walks_total" { print $2 }')
	for ((i = 0; i < 600; i++)); do
		w=$(curl -sf "$PM_URL/metrics" | awk '$1 == "podmeter_agent_cgroup_walks_total" { print $2 }')
		[ -n "$w0" ] && [ -n "$w" ] && [ "$w" -ge $((w0 + n)) ] && return 0
		sleep 0.1
	done
	echo "  (no $n walks in 60 s: $w0 -> $w)"
	return 1
}

# value of a sample: metric_value FILE NAME LABEL_SUBSTRING
metric_value() {
	awk -v name="$2" -v sel="$3" '
		index($0, name "{") == 1 || $1 == name {
			if (sel == "" || index($0, sel)) { print $NF; found = 1; exit }
		}
		END { if (!found) print "missing" }' "$1"
}

# near MEASURED LO HI TOL: LO*(1-TOL) <= MEASURED <= HI*(1+TOL), plus 1 ms slack
within() {
	awk -v m="$1" -v lo="$2" -v hi="$3" -v tol="$4" 'BEGIN {
		exit !(m >= lo * (1 - tol) - 0.001 && m <= hi * (1 + tol) + 0.001) }'
}

# PASS/FAIL lines a checker script wrote, as passes and failures; other lines logged
take_verdicts() {
	local verdict line
	while read -r verdict line; do
		case $verdict in
		PASS) pass "$line" ;;
		FAIL) fail "$line" ;;
		*) log "$verdict $line" ;;
		esac
	done <"$1"
}

# once the load in a pod has ended (PID exited, both sides still): the pod's
# CPU seconds against its cgroup's cpu.stat, within 1%
# pod_cpu_after_load LABEL PID POD_DIR UID
pod_cpu_after_load() {
	local k m kd
	while kill -0 "$2" 2>/dev/null; do sleep 0.5; done
	sleep 2
	scrape "$WORK/pod_cpu"
	k=$(kernel_cpu_ns "$3")
	m=$(metric_value "$WORK/pod_cpu" podmeter_pod_cpu_seconds_total "uid=\"$4\"")
	kd=$(awk -v k="$k" 'BEGIN { printf "%.6f", k / 1e9 }')
	if within "$m" "$kd" "$kd" 0.01; then
		pass "$1: podmeter ${m}s, cpu.stat ${kd}s"
	else
		fail "$1: podmeter ${m}s, cpu.stat ${kd}s (1%)"
	fi
}

cleanup() {
	local i p
	[ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
	"$PODMETER" unpin --pin-dir "$PM_PIN_DIR" >/dev/null 2>&1
	for p in "${STARTED_PIDS[@]}"; do
		pkill -KILL -P "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	# and whatever else still lives in a cgroup this test made
	for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do
		for p in $(cat "${CREATED_DIRS[$i]}/cgroup.procs" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	# disowned processes are not waited for: give them a moment to leave
	for p in "${STARTED_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			rmdir "${CREATED_DIRS[$i]}" 2>/dev/null && break
			[ -d "${CREATED_DIRS[$i]}" ] || break
			sleep 0.2
		done
		[ -d "${CREATED_DIRS[$i]}" ] && echo "  warning: could not remove ${CREATED_DIRS[$i]}"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
