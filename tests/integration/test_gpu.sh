#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# GPU-driver use per pod, without a GPU, against the calls really made:
#   - driver calls: a device node made here (the numbers of /dev/full, named
#     like an NVIDIA device) is declared with --gpu-devices; a fake pod issues
#     a known number of NVIDIA-style ioctls of each op class on it;
#   - CUDA: a fake libcuda.so.1 (tests/integration/fake_cuda) with the real
#     signatures, driven inside a fake pod: launches, allocations, frees,
#     memory held, bytes copied and time in synchronize equal what the
#     driver did (its own count and clock).
set -u
. "$(dirname "$0")/lib.sh"

GPU_IOCTL=${GPU_IOCTL:-build/tests/gpu_ioctl}
CUDA_DRIVER=${CUDA_DRIVER:-build/tests/fake_cuda/cuda_driver}
V2=$(cg_v2_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
echo "gpu: cgroup v2 at $V2, a fake NVIDIA device node and a fake libcuda.so.1"

dev="$WORK/nvidiatest0"
mknod "$dev" c 1 7 || { fail "mknod"; finish; exit; }
u1=$(newuid)
u2=$(newuid)
c1="$V2/kubepods/burstable/pod$u1/$(printf '%064x' $((RANDOM + 1)))"
c2="$V2/kubepods/burstable/pod$u2/$(printf '%064x' $((RANDOM + 2)))"
mkcg "$c1" && mkcg "$c2" || { fail "create fake pods"; finish; exit; }
start_agent --cgroup-mode v2 --gpu-devices "$dev" || { fail "agent start"; finish; exit; }
# a GPU node: CAP_SYS_ADMIN stays for perf's uprobe PMU (CUDA libraries of later processes)
eff=$(awk '/^CapEff/ { print $2 }' "/proc/$AGENT_PID/status")
want=$(printf '%016x' $(((1 << 39) | (1 << 38) | (1 << 21) | (1 << 19))))
[ "$eff" = "$want" ] && pass "GPU node: capabilities after start $eff (BPF PERFMON SYS_ADMIN SYS_PTRACE)" ||
	fail "GPU node: capabilities after start $eff, want $want"
grep -q "gpu: ioctls via .*nvidiatest0" "$WORK/agent.log" && pass "device declared: $(grep 'gpu: ioctls' "$WORK/agent.log")" ||
	fail "device not taken: $(grep gpu "$WORK/agent.log")"

# driver calls, per op class
run_in_cg "$c1" sh -c "exec $GPU_IOCTL $dev 500 120 80 40 30 20 >$WORK/ioctl.out"
for _ in $(seq 1 50); do [ -s "$WORK/ioctl.out" ] && [ "$(wc -l <"$WORK/ioctl.out")" -ge 6 ] && break; sleep 0.1; done
sleep 1.5
scrape "$WORK/m1"
while read -r op n; do
	got=$(metric_value "$WORK/m1" podmeter_pod_gpu_driver_calls_total \
		"uid=\"$u1\",device=\"nvidiatest0\",op=\"$op\"")
	[ "$got" = "$n" ] && pass "driver calls, $op: podmeter $got, issued $n" ||
		fail "driver calls, $op: podmeter $got, issued $n"
done <"$WORK/ioctl.out"
t=$(metric_value "$WORK/m1" podmeter_pod_gpu_driver_seconds_total "uid=\"$u1\",device=\"nvidiatest0\"")
awk -v t="$t" 'BEGIN { exit !(t > 0 && t < 1) }' && pass "time in driver calls: ${t}s" ||
	fail "time in driver calls: $t"
# the container removed: its entries leave gpu_stats once it is retired, its pod keeps its calls
cgid=$(stat -c %i "$c1")
n0=$(map_entries_of gpu_stats "$cgid")
rmdir "$c1"
for _ in $(seq 1 300); do	# retired after two reads, the entries gone at a read within 10 s
	n1=$(map_entries_of gpu_stats "$cgid")
	[ "$n1" = 0 ] && break
	sleep 0.1
done
scrape "$WORK/m1b"
calls_of() {	# the pod's driver calls, every op summed
	awk -v sel="uid=\"$u1\"" 'index($0, "podmeter_pod_gpu_driver_calls_total{") == 1 &&
		index($0, sel) { n += $NF } END { print n + 0 }' "$1"
}
kept=$(awk -v a="$(calls_of "$WORK/m1")" -v b="$(calls_of "$WORK/m1b")" \
	'BEGIN { print (a == b && a > 0) ? "kept" : a " -> " b }')
[ "$n0" -gt 0 ] && [ "$n1" = 0 ] && [ "$kept" = kept ] &&
	pass "removed container: gpu_stats entries $n0 -> $n1; its pod kept its calls" ||
	fail "removed container: gpu_stats entries $n0 -> $n1; its pod's calls $kept"

# CUDA: the driver maps the library, waits until the agent has attached, then works
mkfifo "$WORK/go"
exec 7<>"$WORK/go"
run_in_cg "$c2" sh -c "exec $CUDA_DRIVER -w -l 300 -L 25 -a 1048576 -a 4096 -a 65536 -f 1 \
	-c 1000 -s 5 -e 4000 <$WORK/go >$WORK/cuda.out"
driver=$LAST_PID
# its own library's line: another pod's is no sign that this one is probed
for _ in $(seq 1 150); do grep -q "cuda: probes on .*by pid $driver " "$WORK/agent.log" && break; sleep 0.1; done
grep -q "cuda: probes on .*by pid $driver " "$WORK/agent.log" && pass "fake libcuda found in the pod's maps" ||
	fail "libcuda not found: $(grep -i cuda "$WORK/agent.log")"
echo go >&7
for _ in $(seq 1 50); do grep -q "^launches=" "$WORK/cuda.out" 2>/dev/null && break; sleep 0.1; done
sleep 1.5
scrape "$WORK/m2"
kv() { awk -F= -v k="$1" '$1 == k { print $2 }' "$WORK/cuda.out"; }
launches=$(kv launches)
check_eq() {	# check_eq WHAT METRIC WANT
	local got
	got=$(metric_value "$WORK/m2" "$2" "uid=\"$u2\"")
	[ "$got" = "$3" ] && pass "$1: podmeter $got, the driver $3" || fail "$1: podmeter $got, the driver $3"
}
check_eq "kernel launches" podmeter_pod_gpu_kernel_launches_total "$launches"
check_eq "memory held" podmeter_pod_gpu_memory_bytes "$(kv held_bytes)"
check_eq "bytes copied" podmeter_pod_gpu_memcpy_bytes_total "$(kv copied_bytes)"
s=$(metric_value "$WORK/m2" podmeter_pod_gpu_sync_seconds_total "uid=\"$u2\"")
w=$(awk -v ns="$(kv sync_ns)" 'BEGIN { printf "%.6f", ns / 1e9 }')
near "$s" "$w" 0.05 && pass "time in synchronize: podmeter ${s}s, the driver's clock ${w}s" ||
	fail "time in synchronize: podmeter ${s}s, the driver's clock ${w}s (5%)"
curl -sf "$PM_URL/v1/pods" | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["pods"] if p["uid"] == sys.argv[1]][0]
sys.exit(0 if p["gpu"]["cuda"]["kernel_launches"] == int(sys.argv[2]) else 1)' "$u2" "$launches" &&
	pass "/v1/pods carries the CUDA figures" || fail "/v1/pods: no CUDA figures"
# the driver exits: the memory it held is released
pid=$(kv pid)
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
sleep 7	# dead owners' allocations are released every few reads
scrape "$WORK/m3"
h=$(metric_value "$WORK/m3" podmeter_pod_gpu_memory_bytes "uid=\"$u2\"")
[ "$h" = 0 ] && pass "memory held after the process exited: 0" || fail "memory held after exit: $h"
exec 7>&-
stop_agent || fail "agent exit status"
finish
