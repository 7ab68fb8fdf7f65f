#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Hostile pods: what a tenant controls must not stall, blind or steer the agent.
# Each fake pod does one thing, all at once, while an honest pod works:
#   - a library path that turns into a FIFO, and one that turns into a device;
#   - a chrooted process whose library path turns into a symlink out of its root;
#   - a 2 GiB (sparse) file and a malformed ELF named libcuda.so.1;
#   - six different libcuda files in one pod (its share of the table is 4);
#   - 100,000 mappings before its libcuda;
#   - a process name with a newline and terminal escapes, OOM-killed.
# Throughout, /healthz answers within 1 s; at the end the honest pod's CPU
# matches cpu.stat and its CUDA launches what its driver made, and each
# refusal is counted under its reason.
set -u
. "$(dirname "$0")/lib.sh"

HOSTILE=${HOSTILE:-build/tests/hostile}
CUDA_DRIVER=${CUDA_DRIVER:-build/tests/fake_cuda/cuda_driver}
LIBCUDA=$(dirname "$CUDA_DRIVER")/libcuda.so.1
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
[ -x "$HOSTILE" ] && [ -f "$LIBCUDA" ] || { echo "  skip: build $HOSTILE and $CUDA_DRIVER first"; exit 0; }
echo "hostile: cgroup v2 at $V2, memory at $MEM"

# new_pod VAR: a fake pod's container cgroup (v2, and the memory hierarchy when
# apart), its path under the roots in VAR (not $(...): cleanup must see what it made)
new_pod() {
	local rel
	rel="kubepods/burstable/pod$(newuid)/$(printf '%064x' $((RANDOM * RANDOM)))"
	make_pod "$rel" || return 1
	printf -v "$1" '%s' "$rel"
}
uid_of() { echo "$1" | sed 's|.*/pod\([^/]*\)/.*|\1|'; }

# run CMD... in the pod REL; waits for its "mapped" line when it maps something
in_pod() {
	local rel=$1 out
	shift
	out="$WORK/out.$RANDOM$RANDOM"
	# shellcheck disable=SC2046
	run_in_cgs $(cg_dirs "$rel") -- sh -c 'exec "$@" >"$0" 2>&1' "$out" "$@"
	for _ in $(seq 1 50); do grep -q mapped "$out" 2>/dev/null && return 0; sleep 0.1; done
	echo "  ($* did not map: $(cat "$out"))"
	return 1
}

mkdir -p "$WORK/lib"
cp "$LIBCUDA" "$WORK/lib/seed.so"

# a path that turns into a FIFO, and one into a device, once mapped
new_pod p_fifo && new_pod p_dev || { fail "create pods"; finish; exit; }
for kind in fifo dev; do
	mkdir -p "$WORK/$kind"
	cp "$LIBCUDA" "$WORK/$kind/libcuda.so.1"
done
in_pod "$p_fifo" "$HOSTILE" map "$WORK/fifo/libcuda.so.1" &&
	mkfifo "$WORK/fifo/x" && mv -f "$WORK/fifo/x" "$WORK/fifo/libcuda.so.1"
in_pod "$p_dev" "$HOSTILE" map "$WORK/dev/libcuda.so.1" &&
	mknod "$WORK/dev/x" c 1 3 && mv -f "$WORK/dev/x" "$WORK/dev/libcuda.so.1"

# a process with its own root and mount namespace, as in a container: its library
# becomes a symlink to a host file (a FIFO, which an open for reading would hang on)
new_pod p_esc || { fail "create pods"; finish; exit; }
ROOT="$WORK/root"
mkdir -p "$ROOT/lib"
cp "$LIBCUDA" "$ROOT/lib/libcuda.so.1"
mkfifo "$WORK/host-secret"
in_pod "$p_esc" "$HOSTILE" jail "$ROOT" map /lib/libcuda.so.1 &&
	ln -sfn "$WORK/host-secret" "$ROOT/lib/x" && mv -f "$ROOT/lib/x" "$ROOT/lib/libcuda.so.1"

# a huge sparse file, and an ELF whose section table points past its end
new_pod p_big && new_pod p_bad || { fail "create pods"; finish; exit; }
mkdir -p "$WORK/big" "$WORK/bad"
truncate -s 2G "$WORK/big/libcuda.so.1"
cp "$LIBCUDA" "$WORK/bad/libcuda.so.1"
printf '\xff\xff\xff\xff\xff\xff\xff\x7f' |
	dd of="$WORK/bad/libcuda.so.1" bs=1 seek=40 conv=notrunc status=none	# e_shoff
in_pod "$p_big" "$HOSTILE" map "$WORK/big/libcuda.so.1"
in_pod "$p_bad" "$HOSTILE" map "$WORK/bad/libcuda.so.1"

# six libcuda files in one pod: four fit its share of the table
new_pod p_share || { fail "create pods"; finish; exit; }
for i in 1 2 3 4 5 6; do
	mkdir -p "$WORK/share$i"
	cp "$LIBCUDA" "$WORK/share$i/libcuda.so.1"
	in_pod "$p_share" "$HOSTILE" map "$WORK/share$i/libcuda.so.1"
done

# 100,000 mappings before its libcuda
old_max_maps=$(sysctl -n vm.max_map_count)
sysctl -qw vm.max_map_count=300000
new_pod p_maps || { fail "create pods"; finish; exit; }
mkdir -p "$WORK/maps"
cp "$LIBCUDA" "$WORK/maps/libcuda.so.1"
in_pod "$p_maps" "$HOSTILE" maps 100000 "$WORK/maps/libcuda.so.1"

# the honest pod drives the fake CUDA driver once its library is probed, and spins;
# its driver starts before the agent, like every pod above: all are in the first walk
new_pod p_ok || { fail "create pods"; finish; exit; }
mkfifo "$WORK/go"
exec 7<>"$WORK/go"
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$p_ok") -- sh -c "exec $CUDA_DRIVER -w -l 200 -L 25 -a 4096 -f 1 \
	<$WORK/go >$WORK/cuda.out"
driver=$LAST_PID
sleep 0.5
mkdev="$WORK/nvidiatest0"
mknod "$mkdev" c 1 7
start_agent --cgroup-mode v2 --gpu-devices "$mkdev" || { fail "agent start"; finish; exit; }
health_watch() {
	while :; do
		curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}\n' "$PM_URL/healthz" \
			>>"$WORK/health"
		sleep 0.2
	done
}
health_watch &
HW=$!
STARTED_PIDS+=("$HW")
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$p_ok") -- timeout 12 sh -c 'while :; do :; done'
spin=$LAST_PID

# a process name with a newline and escapes, killed by the OOM killer
new_pod p_oom || { fail "create pods"; finish; exit; }
if [ -f "$MEM/${p_oom%/*}/memory.max" ]; then
	echo $((32 << 20)) >"$MEM/${p_oom%/*}/memory.max"
	echo 0 >"$MEM/${p_oom%/*}/memory.swap.max" 2>/dev/null
else
	echo $((32 << 20)) >"$MEM/${p_oom%/*}/memory.limit_in_bytes"
fi
# 14 bytes: the kernel keeps 15 of a name
evil=$'\noom: pid 1\x1b[J'
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$p_oom") -- "$HOSTILE" name "$evil" $((256 << 20))

# the agent finds the honest pod's library whatever the others did
for _ in $(seq 1 300); do grep -q "cuda: probes on .*by pid $driver " "$WORK/agent.log" && break; sleep 0.1; done
echo go >&7
for _ in $(seq 1 100); do grep -q "^launches=" "$WORK/cuda.out" 2>/dev/null && break; sleep 0.1; done
wait_walks	# a walk (every 5 ticks) and a tick after the driver ran
scrape "$WORK/m"

# each refusal under its reason
refused() { metric_value "$WORK/m" podmeter_agent_cuda_library_refusals_total "reason=\"$1\""; }
check_refused() {
	local got
	got=$(refused "$1")
	[ "$got" != missing ] && [ "$got" -ge "$2" ] && pass "$3: refused as $1 ($got)" ||
		fail "$3: $1 refusals $got, want >= $2"
}
check_refused not_regular 2 "a FIFO and a device at a library's path"
check_refused escape 1 "a symlink out of the pod's root"
check_refused too_big 1 "a 2 GiB file"
check_refused bad_elf 1 "a malformed ELF"
check_refused pod_share 2 "six libraries in one pod"
check_refused maps_long 1 "100,000 mappings"
sysctl -qw vm.max_map_count="$old_max_maps"

# the honest pod, counted right
want=$(sed -n 's/^launches=//p' "$WORK/cuda.out")
got=$(metric_value "$WORK/m" podmeter_pod_gpu_kernel_launches_total "uid=\"$(uid_of "$p_ok")\"")
[ -n "$want" ] && [ "$got" = "$want" ] && pass "honest pod: CUDA launches $got, its driver $want" ||
	fail "honest pod: CUDA launches $got, its driver ${want:-none}"
pod_cpu_after_load "honest pod: CPU" "$spin" "$V2/${p_ok%/*}" "$(uid_of "$p_ok")"

# the name in the log: escaped, on one line, forging nothing
for _ in $(seq 1 50); do grep -q "^oom: " "$WORK/agent.log" && break; sleep 0.1; done
if grep -qF 'oom: pid' "$WORK/agent.log" && grep -qF '("\x0aoom: pid 1\x1b[J")' "$WORK/agent.log" &&
	! grep -q "^oom: pid 1 (x)" "$WORK/agent.log" && ! grep -q $'\x1b' "$WORK/agent.log"; then
	pass "process name escaped in the log: $(grep -m1 '^oom: ' "$WORK/agent.log")"
else
	fail "process name in the log: $(grep -a 'oom' "$WORK/agent.log" | cat -v | head -3)"
fi

# never a slow or failed /healthz
kill "$HW" 2>/dev/null
read -r n bad worst < <(awk '{ n++; if ($1 != 200) bad++; if ($2 > w) w = $2 }
	END { printf "%d %d %.3f\n", n, bad, w }' "$WORK/health")
[ "$n" -ge 20 ] && [ "$bad" -eq 0 ] && awk -v w="$worst" 'BEGIN { exit !(w < 1) }' &&
	pass "/healthz: $n answers, all 200, slowest ${worst}s" ||
	fail "/healthz: $n answers, $bad not 200, slowest ${worst}s"
kill -0 "$AGENT_PID" && pass "agent still running" || fail "agent died"
stop_agent
finish
