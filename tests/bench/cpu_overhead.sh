#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# podmeter overhead figures. A benchmark, not a test: it prints ratios against
# a baseline measured in the same run and never fails on a figure.
#
#   a. context-switch storm (stress-ng --switch) under: no BPF, the floor (an
#      empty tp_btf/sched_switch program), podmeter, and an equivalent bpftrace
#      script; interleaved rounds, median per condition.
#   a2. time spent inside the floor and podmeter programs per switch, from the
#      kernel's BPF run-time statistics.
#   b. podmeter's own CPU and memory with 200 fake pods.
#
# Run as root, from the repository root:
#   PODMETER=build/podmeter FLOOR=build/bench/floor tests/bench/cpu_overhead.sh
# Knobs: DUR (seconds per storm, 10), ROUNDS (3), TICKS (seconds for part b, 30),
# PARTS (the parts to run, "a a2 b").
set -euo pipefail

PODMETER=${PODMETER:-build/podmeter}
FLOOR=${FLOOR:-build/bench/floor}
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-3}
TICKS=${TICKS:-30}
PARTS=${PARTS:-a a2 b}
NPODS=200
WARMUP=3
CONDITIONS=(none floor podmeter bpftrace)

# The bpftrace equivalent of podmeter's CPU program: on-CPU time of the task
# switched out, keyed by its cgroup.
# shellcheck disable=SC2016 # bpftrace variables, not the shell's
BT_PROG='tracepoint:sched:sched_switch { $t = @ts[cpu]; if ($t) { @ns[cgroup] = sum(nsecs - $t); } @ts[cpu] = nsecs; }'

WORK=""
TRACEFS_MOUNTED=""
declare -a PIDS=()	# long-running processes started here, still to be stopped
declare -a SLEEPERS=()	# the fake pods' processes
declare -a CGROUPS=()	# cgroups created here, in creation order
TOOL_PID=""		# the floor, podmeter or bpftrace process of the current condition
TOOL_SIG=TERM
OPS=""

log() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

untrack() {
	local p keep=()
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# Signal @pid, wait up to @secs for it to exit, then SIGKILL it. Reaps it.
stop_pid() {
	local pid=$1 sig=$2 secs=$3 i
	kill -"$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		printf 'bench: pid %s ignored SIG%s for %ss, killing it\n' "$pid" "$sig" "$secs" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	untrack "$pid"
}

kill_sleepers() {
	local d p
	# cgroup.kill (5.14+) also catches anything a sleeper might have forked.
	for d in "${CGROUPS[@]}"; do
		if [[ $d == *.scope && -e $d/cgroup.kill ]]; then
			echo 1 2>/dev/null >"$d/cgroup.kill" || true
		fi
	done
	for p in "${SLEEPERS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${SLEEPERS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	SLEEPERS=()
}

# Deepest first; a cgroup empties a moment after its last task is reaped.
remove_cgroups() {
	local i j d left=0
	for ((i = ${#CGROUPS[@]} - 1; i >= 0; i--)); do
		d=${CGROUPS[i]}
		for ((j = 0; j < 50; j++)); do
			rmdir "$d" 2>/dev/null && break
			[[ -d $d ]] || break
			sleep 0.1
		done
		if [[ -d $d ]]; then
			printf 'bench: cannot remove %s; remove it by hand\n' "$d" >&2
			left=$((left + 1))
		fi
	done
	CGROUPS=()
	return $((left > 0))
}

cleanup() {
	local rc=$? p
	set +e
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do
		if [[ $p == "$TOOL_PID" ]]; then
			stop_pid "$p" "$TOOL_SIG" 10
		else
			stop_pid "$p" TERM 5
		fi
	done
	kill_sleepers
	remove_cgroups
	[[ -n $TRACEFS_MOUNTED ]] && umount "$TRACEFS_MOUNTED"
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
	local v c
	((EUID == 0)) || die "must run as root (loads BPF programs, creates cgroups)"
	for v in DUR ROUNDS TICKS; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v}: want a positive whole number"
	done
	for v in $PARTS; do
		[[ $v == a || $v == a2 || $v == b ]] || die "PARTS=$PARTS: want parts among a, a2, b"
	done
	for c in stress-ng bpftrace curl ss getconf awk; do
		command -v "$c" >/dev/null || die "$c not found; run 'make test-deps'"
	done
	[[ -x $PODMETER ]] || die "PODMETER=$PODMETER is not executable; run 'make'"
	[[ -x $FLOOR ]] || die "FLOOR=$FLOOR is not executable; run 'make build/bench/floor'"
}

# bpftrace resolves tracepoints through tracefs; mount it for the run if absent.
ensure_tracefs() {
	[[ -d /sys/kernel/tracing/events/sched ]] && return 0
	[[ -d /sys/kernel/debug/tracing/events/sched ]] && return 0
	mount -t tracefs tracefs /sys/kernel/tracing ||
		die "cannot mount tracefs on /sys/kernel/tracing; bpftrace needs it"
	TRACEFS_MOUNTED=/sys/kernel/tracing
}

# Other tracing programs add to every condition; say so rather than hide it.
note_foreign_bpf() {
	local n
	command -v bpftool >/dev/null || return 0
	n=$(bpftool prog show 2>/dev/null |
		grep -cE '^[0-9]+: (tracing|raw_tracepoint|tracepoint|kprobe|perf_event) ' || true)
	((n == 0)) || log "note: $n tracing BPF programs already loaded; they weigh on every condition"
}

free_port() {
	local i port
	for ((i = 0; i < 50; i++)); do
		port=$((20000 + RANDOM % 40000))
		if [[ -z $(ss -Htln "sport = :$port") ]]; then
			echo "$port"
			return 0
		fi
	done
	die "no free TCP port found in 50 tries"
}

# Wait until @file holds @pattern; fail if @pid dies or @secs pass.
wait_for_line() {
	local file=$1 pattern=$2 pid=$3 secs=$4 what=$5 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || die "$what exited before it was ready; see $file"
		sleep 0.1
	done
	die "$what not ready after ${secs}s; see $file"
}

wait_for_metrics() {
	local url=$1 pid=$2 secs=$3 log=$4 i
	for ((i = 0; i < secs * 4; i++)); do
		curl -fsS --max-time 1 -o /dev/null "$url" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || die "podmeter exited before /metrics answered; see $log"
		sleep 0.25
	done
	die "podmeter: $url not answering after ${secs}s; see $log"
}

start_floor() {
	local log=$WORK/floor.log
	"$FLOOR" >"$log" 2>&1 &
	TOOL_PID=$! TOOL_SIG=TERM
	PIDS+=("$TOOL_PID")
	wait_for_line "$log" "floor: attached" "$TOOL_PID" 30 floor
}

# Sets PM_URL. Extra arguments go to `podmeter run`.
start_podmeter() {
	local log=$1 port
	shift
	port=$(free_port)
	PM_URL=http://127.0.0.1:$port/metrics
	"$PODMETER" run --listen "127.0.0.1:$port" --interval 1s --spool /tmp/podmeter-bench-spool --pin-dir none "$@" >"$log" 2>&1 &
	TOOL_PID=$! TOOL_SIG=TERM
	PIDS+=("$TOOL_PID")
	wait_for_metrics "$PM_URL" "$TOOL_PID" 30 "$log"
}

start_bpftrace() {
	local log=$WORK/bpftrace.log
	bpftrace -e "$BT_PROG" >"$log" 2>&1 &
	TOOL_PID=$! TOOL_SIG=INT
	PIDS+=("$TOOL_PID")
	wait_for_line "$log" "Attaching" "$TOOL_PID" 60 bpftrace
}

stop_tool() {
	[[ -n $TOOL_PID ]] || return 0
	stop_pid "$TOOL_PID" "$TOOL_SIG" 15
	TOOL_PID=""
}

# One storm; sets OPS to stress-ng's bogo ops/s (real time).
# With STORM_CPU=N: one pair of processes on CPU N alone (every switch from
# one task to the other, none to or from the idle task).
storm() {
	local log=$WORK/storm-$1-$2.log pid rc=0 pin=() workers=2
	if [[ -n ${STORM_CPU:-} ]]; then
		pin=(taskset -c "$STORM_CPU")
		workers=1
	fi
	timeout --kill-after=5 $((DUR + 60)) "${pin[@]}" \
		stress-ng --switch "$workers" --timeout "${DUR}s" --metrics-brief --temp-path "$WORK" \
		>"$log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait "$pid" || rc=$?
	untrack "$pid"
	((rc == 0)) || die "stress-ng failed (exit $rc) under '$1'; see $log"
	# "stress-ng: metrc: [pid] switch  <bogo ops> <real> <usr> <sys> <ops/s real> <ops/s cpu>"
	OPS=$(awk '/metrc:/ { for (i = 1; i < NF; i++) if ($i == "switch" && $(i + 1) ~ /^[0-9]+$/) {
		print $(i + 5); exit } }' "$log")
	[[ $OPS =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "no bogo ops/s in stress-ng output; see $log"
}

median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

storm_bench() {
	local r c
	declare -A runs=()

	log "part a: context-switch storm, ${ROUNDS} rounds x ${#CONDITIONS[@]} conditions x ${DUR}s"
	for ((r = 1; r <= ROUNDS; r++)); do
		for c in "${CONDITIONS[@]}"; do
			log "round $r/$ROUNDS: $c: starting"
			case $c in
			floor) start_floor ;;
			podmeter) start_podmeter "$WORK/podmeter-storm.log" ;;
			bpftrace) start_bpftrace ;;
			esac
			log "round $r/$ROUNDS: $c: stress-ng --switch 2 for ${DUR}s"
			storm "$c" "$r"
			stop_tool
			runs[$c]+="$OPS "
			log "round $r/$ROUNDS: $c: $OPS ops/s"
		done
	done

	local none med
	declare -A meds=()
	for c in "${CONDITIONS[@]}"; do
		# shellcheck disable=SC2086 # the runs are a space-separated list
		meds[$c]=$(median ${runs[$c]})
	done
	none=${meds[none]}

	echo
	printf '%-10s %14s %14s %8s\n' condition "median ops/s" "ratio to none" "loss %"
	for c in "${CONDITIONS[@]}"; do
		med=${meds[$c]}
		awk -v c="$c" -v m="$med" -v n="$none" \
			'BEGIN { printf "%-10s %14.0f %14.3f %8.2f\n", c, m, m / n, (1 - m / n) * 100 }'
	done
	# paired: each round's ratio to that round's own "none", median over rounds
	echo
	printf '%-10s %22s %8s\n' condition "median paired ratio" "loss %"
	local paired=()
	for c in "${CONDITIONS[@]}"; do
		# shellcheck disable=SC2086 # the runs are space-separated lists
		med=$(paste -d' ' <(printf '%s\n' ${runs[$c]}) <(printf '%s\n' ${runs[none]}) |
			awk '{ print $1 / $2 }' | sort -g |
			awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
		paired+=("$med")
		awk -v c="$c" -v m="$med" 'BEGIN { printf "%-10s %22.3f %8.2f\n", c, m, (1 - m) * 100 }'
	done
	awk -v f="${paired[1]}" -v p="${paired[2]}" 'BEGIN {
		if (1 - f <= 0)
			printf "paired: podmeter loss / floor loss = n/a (floor loss within noise)\n"
		else
			printf "paired: podmeter loss / floor loss = %.2f\n", (1 - p) / (1 - f)
	}'
	awk -v f="${meds[floor]}" -v p="${meds[podmeter]}" -v n="$none" 'BEGIN {
		fl = 1 - f / n; pl = 1 - p / n
		if (fl <= 0)
			printf "podmeter loss / floor loss = n/a (floor loss %.2f%% is within noise; raise DUR or ROUNDS)\n", fl * 100
		else
			printf "podmeter loss / floor loss = %.2f\n", pl / fl
	}'
	echo "goal: <= 1.5"
	echo
}

# Time inside each program per sched_switch, from the kernel's own BPF run-time
# statistics (kernel.bpf_stats_enabled): the floor and podmeter attached at
# once, over the same storm. Far steadier than throughput on a shared VM; the
# stats themselves add the same clock reads to both.
prog_cost_bench() {
	local was
	was=$(sysctl -n kernel.bpf_stats_enabled)
	log "part a2: time per sched_switch inside each program (bpf_stats), ${DUR}s storm"
	sysctl -qw kernel.bpf_stats_enabled=1
	start_floor
	local floor_pid=$TOOL_PID
	TOOL_PID=""
	start_podmeter "$WORK/podmeter-cost.log"
	bpftool prog show -j >"$WORK/progs0.json"
	storm cost 1
	bpftool prog show -j >"$WORK/progs1.json"
	# the same with the storm on one CPU: every switch from task to task
	STORM_CPU=$(($(nproc) - 1)) storm cost 2
	bpftool prog show -j >"$WORK/progs2.json"
	stop_tool
	stop_pid "$floor_pid" TERM 15
	untrack "$floor_pid"
	sysctl -qw kernel.bpf_stats_enabled="$was"
	python3 - "$WORK"/progs{0,1,2}.json <<'PY'
import json, sys
def load(path):
    return {p.get("name"): p for p in json.load(open(path)) if p.get("run_cnt")}
snaps = [load(p) for p in sys.argv[1:]]
for what, a, b in (("stress-ng --switch 2", 0, 1), ("one pair on one CPU", 1, 2)):
    d = {}
    for name in ("probe_tp_btf", "tp_btf_sched_switch"):
        if name not in snaps[b]:
            print("no run-time statistics found (kernel.bpf_stats_enabled unsupported?)")
            sys.exit(0)
        old = snaps[a].get(name, {"run_cnt": 0, "run_time_ns": 0})
        d[name] = (snaps[b][name]["run_cnt"] - old["run_cnt"],
                   snaps[b][name]["run_time_ns"] - old["run_time_ns"])
    (fc, ft), (pc, pt) = d["probe_tp_btf"], d["tp_btf_sched_switch"]
    if not fc or not pc:
        print("%s: no switches counted" % what)
        continue
    fn, pn = ft / fc, pt / pc
    print("%s:" % what)
    print("  empty tp_btf program: %6.1f ns per switch (%d switches)" % (fn, fc))
    print("  podmeter cpu program: %6.1f ns per switch (%d switches)" % (pn, pc))
    print("  podmeter adds %.1f ns per switch over the empty program (ratio %.2f)" % (pn - fn, pn / fn))
PY
	echo
}

v2_mount() {
	awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
		/proc/self/mountinfo
}

# mkdir @dir unless present; only what this run creates is removed.
make_cgroup() {
	[[ -d $1 ]] && return 0
	mkdir "$1" || die "cannot create cgroup $1"
	CGROUPS+=("$1")
}

random_hex() {
	local u
	u=$(</proc/sys/kernel/random/uuid)
	echo "${u//-/}"
}

# Pods in the kubelet systemd-driver shape, one sleeping process each. Each
# process joins its scope before exec'ing sleep, so its first run is already
# inside the pod. Their uids and container ids go to @idfile.
make_pods() {
	local v2=$1 idfile=$2 qos i uid cid pod scope
	qos=$v2/kubepods.slice/kubepods-besteffort.slice
	make_cgroup "$v2/kubepods.slice"
	make_cgroup "$qos"
	: >"$idfile"
	for ((i = 0; i < NPODS; i++)); do
		uid=$(</proc/sys/kernel/random/uuid)
		cid=$(random_hex)$(random_hex)
		pod=$qos/kubepods-besteffort-pod${uid//-/_}.slice
		scope=$pod/cri-containerd-$cid.scope
		make_cgroup "$pod"
		make_cgroup "$scope"
		(echo "$BASHPID" >"$scope/cgroup.procs" && exec sleep 600 >/dev/null 2>&1) &
		SLEEPERS+=("$!")
		printf '%s\n%s\n' "$uid" "$cid" >>"$idfile"
	done
	# Each sleeper either moved itself in or died; count what landed.
	local n=0
	for ((i = 0; i < 50; i++)); do
		n=$(cat "$qos"/kubepods-besteffort-pod*.slice/cri-containerd-*.scope/cgroup.procs \
			2>/dev/null | wc -l)
		((n >= NPODS)) && break
		sleep 0.1
	done
	((n >= NPODS)) || die "only $n of $NPODS fake pods got their process"
}

# A sleep that a signal to this script interrupts at once.
nap() {
	local pid
	sleep "$1" &
	pid=$!
	PIDS+=("$pid")
	wait "$pid" || true
	untrack "$pid"
}

cpu_ticks() {
	local s
	s=$(<"/proc/$1/stat")
	s=${s##*) }
	# shellcheck disable=SC2086 # split into fields: state is $1, utime $12, stime $13
	set -- $s
	echo $((${12} + ${13}))
}

status_kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

agent_bench() {
	local v2 idfile=$WORK/pod-ids log=$WORK/podmeter-pods.log hz t0 t1 rss0 rss hwm n mine

	v2=$(v2_mount)
	[[ -n $v2 ]] || die "no cgroup2 mount in /proc/self/mountinfo; part b needs cgroup v2"
	hz=$(getconf CLK_TCK)

	log "part b: podmeter with $NPODS fake pods, ${TICKS}s at --interval 1s"
	log "starting podmeter --cgroup-mode v2"
	start_podmeter "$log" --cgroup-mode v2
	log "creating $NPODS pod cgroups under $v2/kubepods.slice"
	make_pods "$v2" "$idfile"
	log "warm-up ${WARMUP}s"
	nap "$WARMUP"
	kill -0 "$TOOL_PID" 2>/dev/null || die "podmeter exited during warm-up; see $log"
	t0=$(cpu_ticks "$TOOL_PID")
	rss0=$(status_kb "$TOOL_PID" VmRSS)
	log "measuring ${TICKS}s"
	nap "$TICKS"
	kill -0 "$TOOL_PID" 2>/dev/null || die "podmeter exited during the measurement; see $log"
	t1=$(cpu_ticks "$TOOL_PID")
	rss=$(status_kb "$TOOL_PID" VmRSS)
	hwm=$(status_kb "$TOOL_PID" VmHWM)
	curl -fsS --max-time 5 -o "$WORK/metrics.txt" "$PM_URL" ||
		die "podmeter: GET $PM_URL failed after the run; see $log"
	stop_tool

	echo
	awk -v r="$rss" -v h="$hwm" -v d=$((t1 - t0)) -v hz="$hz" -v n="$TICKS" -v p="$NPODS" 'BEGIN {
		printf "podmeter with %d pods: RSS %.1f MiB (peak %.1f MiB), CPU per collection tick %.2f ms (%d ticks)\n",
			p, r / 1024, h / 1024, d / hz * 1000 / n, n }'
	awk -v a="$rss0" -v b="$rss" 'BEGIN { printf "RSS change over the measured ticks: %+.1f MiB\n", (b - a) / 1024 }'
	echo "(CPU from /proc/<pid>/stat in 1/${hz}s units: resolution $(awk -v hz="$hz" -v n="$TICKS" \
		'BEGIN { printf "%.2f", 1000 / hz / n }') ms per tick)"
	n=$(grep -c '^podmeter_pod_cpu_seconds_total[{ ]' "$WORK/metrics.txt" || true)
	mine=$(grep '^podmeter_pod_cpu_seconds_total[{ ]' "$WORK/metrics.txt" |
		grep -c -F -f "$idfile" || true)
	echo "sanity: /metrics shows $n podmeter_pod_cpu_seconds_total series," \
		"$mine naming the fake pods (want >= $NPODS)"
	echo

	log "removing the fake pods"
	kill_sleepers
	remove_cgroups || die "some cgroups were left behind (listed above)"
}

main() {
	check_env
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	WORK=$(mktemp -d /tmp/podmeter-bench.XXXXXX)
	ensure_tracefs
	note_foreign_bpf
	[[ " $PARTS " == *" a "* ]] && storm_bench
	[[ " $PARTS " == *" a2 "* ]] && prog_cost_bench
	[[ " $PARTS " == *" b "* ]] && agent_bench
	log "done"
}

main "$@"
