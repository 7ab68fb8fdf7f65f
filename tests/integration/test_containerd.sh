#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Pods made by a real runtime: Debian's containerd and runc, a daemon of the
# test's own (private config, root, state, socket), an OCI image built here
# from busybox-static and the test programs (no registry) and imported with
# `ctr image import`. Pods are made the way the kubelet's CRI calls make them:
# a pause container holding the pod's network namespace (a veth to a peer
# namespace), app containers joining it, each with its own pid and mount
# namespaces, all under the pod's cgroup in the kubelet's layout:
#   cgroupfs  /kubepods/<qos>/pod<uid>/<container id>
#   systemd   kubepods-<qos>-pod<uid_>.slice:cri-containerd:<id> (runc's
#             systemd driver; only where systemd is PID 1)
# The agent runs with a stand-in kubelet whose containerStatuses carry the
# runtime's container ids, and is checked against the kernel:
#   - a pod's CPU against its cgroup's cpu.stat, over the same window (1%),
#     and again across a container restarted by the runtime (same id) and
#     one replaced by a new container (new id, as the kubelet does);
#   - its resident memory against its processes' VmRSS and its memory
#     cgroup's usage, its working set against that usage (5%);
#   - its network bytes against the peer end of its veth (1%);
#   - names and container ids from the kubelet matched to the runtime's;
#   - a libcuda.so.1 in the image (overlayfs), found inside the container's
#     mount namespace and probed: launches, memory and bytes copied equal
#     what the driver did;
#   - symlinks planted in a container to a file outside it (the last
#     component, and a directory on the way): refused or resolved inside
#     the container, never followed out (fanotify on the host file: never
#     opened nor read).
set -u
. "$(dirname "$0")/lib.sh"

CUDA_DRIVER=${CUDA_DRIVER:-build/tests/fake_cuda/cuda_driver}
LIBCUDA=$(dirname "$CUDA_DRIVER")/libcuda.so.1
PM_ALLOC=${PM_ALLOC:-build/tests/pm_alloc}
HOSTILE=${HOSTILE:-build/tests/hostile}
KPORT=${KPORT:-$((PM_PORT + 11))}
HERE=$(dirname "$0")
TOL=0.01

skip() { echo "  skip: $*"; exit 0; }
for c in containerd ctr runc containerd-shim-runc-v2 busybox ip python3 curl; do
	command -v "$c" >/dev/null || skip "no $c (packaging/deps.sh test installs containerd, runc, busybox-static)"
done
BUSYBOX=$(command -v busybox)
ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic executable' || skip "$BUSYBOX is not static (busybox-static)"
for f in "$CUDA_DRIVER" "$LIBCUDA" "$PM_ALLOC" "$HOSTILE"; do
	[ -x "$f" ] || [ -f "$f" ] || skip "build $f first (make test builds it)"
done
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] && [ -n "$MEM" ] || skip "needs cgroup v2 (network, cgroup ids) and a memory controller"

# Everything made here is recorded and removed by cleanup_cd, even on failure.
CD="$WORK/containerd"
CD_SOCK="$CD/containerd.sock"
CD_NS=podmeter-it
CD_PID=""
CONTAINERS=()		# ids, removed in reverse order
NETNS=()		# network namespaces
POD_RELS=()		# pod cgroups, relative to every hierarchy
PRE_EXISTING=" "	# kubepods levels that were there before
SHARE="$WORK/share"	# bind-mounted at /share in every container
IMAGE=podmeter.test/pod:it
RUN_DIR_MADE=""
declare -A P_UID P_QOS P_DRIVER P_PAUSE P_NETNS C_ID	# pods and containers by name
mkdir -p "$CD" "$SHARE"

ctr_() { timeout 30 ctr --address "$CD_SOCK" --namespace "$CD_NS" "$@"; }

cg_roots() { awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo; }

remember_kubepods() {
	local r q
	for r in $(cg_roots); do
		for q in kubepods kubepods/burstable kubepods/besteffort; do
			[ -d "$r/$q" ] && PRE_EXISTING+="$r/$q "
		done
	done
}

cleanup_cd() {
	local r rel d p m dirs left
	if [ ${#CONTAINERS[@]} -gt 0 ]; then
		ctr_ task delete -f "${CONTAINERS[@]}" >/dev/null 2>&1
		ctr_ container delete "${CONTAINERS[@]}" >/dev/null 2>&1
	fi
	if [ -n "$CD_PID" ]; then
		kill -TERM "$CD_PID" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$CD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$CD_PID" 2>/dev/null
		wait "$CD_PID" 2>/dev/null
	fi
	# every cgroup of our pods, in every hierarchy
	dirs=()
	for r in $(cg_roots); do
		for rel in "${POD_RELS[@]}"; do
			[ -d "$r/$rel" ] && dirs+=("$r/$rel")
		done
	done
	# what the runtime left running in them (a daemon that failed)
	if [ ${#dirs[@]} -gt 0 ]; then
		for p in $(find "${dirs[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	fi
	# shims this daemon started (they outlive it by design): named by our socket
	for p in $(grep -lF -- "$CD_SOCK" /proc/[0-9]*/cmdline 2>/dev/null); do
		p=${p#/proc/}
		kill -KILL "${p%/cmdline}" 2>/dev/null
	done
	for m in $(awk -v d="$CD/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	for d in "${NETNS[@]}"; do ip netns del "$d" 2>/dev/null; done
	cleanup_systemd
	# pod cgroups (runc removes its containers' own), and the kubepods levels made for them
	for _ in $(seq 1 20); do
		left=()
		for d in "${dirs[@]}"; do [ -d "$d" ] && left+=("$d"); done
		[ ${#left[@]} -eq 0 ] && break
		find "${left[@]}" -depth -type d -delete 2>/dev/null
		sleep 0.1
	done
	for d in "${dirs[@]}"; do [ -d "$d" ] && echo "  warning: could not remove $d"; done
	for r in $(cg_roots); do
		for d in kubepods/burstable kubepods/besteffort kubepods; do
			case $PRE_EXISTING in *" $r/$d "*) continue ;; esac
			rmdir "$r/$d" 2>/dev/null
		done
	done
	if [ -n "$RUN_DIR_MADE" ]; then
		rmdir /run/containerd/s /run/containerd/fifo /run/containerd/runc /run/containerd 2>/dev/null
	fi
	cleanup
}
# runc's systemd driver asks systemd (PID 1) for the pod's slice and a scope
SYSTEMD=""
SYSTEMD_WHY="systemd is not PID 1 here"
SD_MADE=()	# kubepods slices that were not active before
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ]; then
	SYSTEMD=1
	for u in kubepods.slice kubepods-burstable.slice; do
		systemctl is-active -q "$u" || SD_MADE+=("$u")
	done
fi
cleanup_systemd() {
	local i
	[ -n "$SYSTEMD" ] || return 0
	[ -n "${P_UID[sd]:-}" ] && systemctl stop "kubepods-burstable-pod${P_UID[sd]//-/_}.slice" 2>/dev/null
	for ((i = ${#SD_MADE[@]} - 1; i >= 0; i--)); do systemctl stop "${SD_MADE[$i]}" 2>/dev/null; done
}
trap cleanup_cd EXIT
remember_kubepods
[ -d /run/containerd ] || RUN_DIR_MADE=1

# --- the daemon, with nothing shared with a containerd the machine may run --------
cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.zfs",
	"io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
	"io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CD_SOCK"
[ttrpc]
  address = "$CD_SOCK.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CD/opt"
EOF
containerd --config "$CD/config.toml" >"$CD/containerd.log" 2>&1 &
CD_PID=$!
for _ in $(seq 1 100); do
	ctr_ version >/dev/null 2>&1 && break
	kill -0 "$CD_PID" 2>/dev/null || break
	sleep 0.1
done
ctr_ version >/dev/null 2>&1 || { fail "containerd did not start: $(tail -3 "$CD/containerd.log")"; finish; exit; }
echo "containerd: $(containerd --version | awk '{ print $3 }'), runc $(runc --version | awk 'NR == 1 { print $3 }'), cgroup v2 at $V2, memory at $MEM"
if [ -n "$SYSTEMD" ]; then
	log "systemd cgroup driver: a pod through runc's systemd cgroup manager too"
else
	log "skip: the systemd cgroup driver half (kubepods-<qos>-pod<uid>.slice:cri-containerd:<id>): $SYSTEMD_WHY"
fi
SNAP=overlayfs
ctr_ plugins ls 2>/dev/null | grep -q 'overlayfs .* ok' || SNAP=native

# --- the image: busybox-static, the test programs and the libraries they need -------
image_args=(--entry "/bin/busybox=$BUSYBOX")
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] || image_args+=(--link "/bin/$a=busybox")
done
for f in "$CUDA_DRIVER" "$PM_ALLOC"; do
	for lib in $(ldd "$f" | awk '$2 == "=>" && $3 ~ /^\/(usr\/)?lib/ { print $3 } $1 ~ /^\// { print $1 }'); do
		image_args+=(--entry "$lib=$lib")
	done
done
image_args+=(--entry "/opt/pm/cuda_driver=$CUDA_DRIVER" --entry "/opt/pm/libcuda.so.1=$LIBCUDA"
	--entry "/opt/pm/pm_alloc=$PM_ALLOC" --entry "/opt/pm/hostile=$HOSTILE"
	--entry "/lib/cuda1/libcuda.so.1=$LIBCUDA" --entry "/lib/cuda2/libcuda.so.1=$LIBCUDA"
	--dir /tmp --dir /share --dir /proc --dir /sys --dir /dev)
python3 "$HERE/oci_image.py" --out "$CD/image.tar" --name "$IMAGE" "${image_args[@]}" ||
	{ fail "build the OCI image"; finish; exit; }
ctr_ image import "$CD/image.tar" >"$CD/import.log" 2>&1 ||
	{ fail "ctr image import: $(tail -2 "$CD/import.log")"; finish; exit; }
ctr_ image ls -q | grep -qx "$IMAGE" && pass "image built here and imported: $IMAGE ($SNAP snapshotter)" ||
	fail "image not listed after import: $(ctr_ image ls -q)"

# --- pods the kubelet's way ---------------------------------------------------------
newcid() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# runc's cgroupsPath for a container, and the pod's cgroup under a hierarchy root
cg_path() {	# cg_path DRIVER QOS UID ID
	if [ "$1" = systemd ]; then
		echo "kubepods-$2-pod${3//-/_}.slice:cri-containerd:$4"
	else
		echo "/kubepods/$2/pod$3/$4"
	fi
}
pod_rel() {	# pod_rel DRIVER QOS UID
	if [ "$1" = systemd ]; then
		echo "kubepods.slice/kubepods-$2.slice/kubepods-$2-pod${3//-/_}.slice"
	else
		echo "kubepods/$2/pod$3"
	fi
}
# new_pod POD QOS DRIVER: its netns, its cgroup, its pause container
new_pod() {
	local pod=$1 uid ns
	uid=$(newuid)
	ns="pmcd-$pod-$$"
	P_UID[$pod]=$uid
	P_QOS[$pod]=$2
	P_DRIVER[$pod]=$3
	P_NETNS[$pod]=$ns
	ip netns add "$ns" || return 1
	NETNS+=("$ns")
	ip -n "$ns" link set lo up
	POD_RELS+=("$(pod_rel "$3" "$2" "$uid")")
	run_container "$pod" pause /bin/sleep 100000 || return 1
	P_PAUSE[$pod]=${C_ID[$pod/pause]}
}
# run_container POD NAME CMD...: an app container joining the pause container's
# network, IPC and UTS namespaces (the pause container: the pod's netns)
run_container() {
	local pod=$1 name=$2 id ns_args=() sd_args=() ppid
	shift 2
	id=$(newcid)
	if [ "$name" = pause ]; then
		ns_args=(--with-ns "network:/var/run/netns/${P_NETNS[$pod]}")
	else
		ppid=$(cat "$CD/pid.${P_PAUSE[$pod]}")
		ns_args=(--with-ns "network:/proc/$ppid/ns/net" --with-ns "ipc:/proc/$ppid/ns/ipc"
			--with-ns "uts:/proc/$ppid/ns/uts")
	fi
	[ "${P_DRIVER[$pod]}" = systemd ] && sd_args=(--runc-systemd-cgroup)
	CONTAINERS+=("$id")
	ctr_ run -d --null-io --snapshotter "$SNAP" --fifo-dir "$CD/fifo" --runc-root "$CD/runc" \
		"${sd_args[@]}" "${ns_args[@]}" --pid-file "$CD/pid.$id" \
		--mount "type=bind,src=$SHARE,dst=/share,options=rbind:rw" \
		--cgroup "$(cg_path "${P_DRIVER[$pod]}" "${P_QOS[$pod]}" "${P_UID[$pod]}" "$id")" \
		"$IMAGE" "$id" "$@" >"$CD/run.$id.log" 2>&1 ||
		{ echo "  ctr run $pod/$name: $(tail -2 "$CD/run.$id.log")"; return 1; }
	C_ID[$pod/$name]=$id
}
# the runtime kills a task and deletes it once it has exited
stop_task() {
	ctr_ task kill -s KILL "$1" >/dev/null 2>&1
	for _ in $(seq 1 50); do ctr_ task delete "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
task_pid() { cat "$CD/pid.${C_ID[$1]}"; }
# the pod's cgroup in the v2 tree and in the memory hierarchy
pod_v2() { echo "$V2/$(pod_rel "${P_DRIVER[$1]}" "${P_QOS[$1]}" "${P_UID[$1]}")"; }
pod_mem() { echo "$MEM/$(pod_rel "${P_DRIVER[$1]}" "${P_QOS[$1]}" "${P_UID[$1]}")"; }
# every process of the pod, by the kernel: its cgroup tree
pod_pids() { find "$(pod_v2 "$1")" -name cgroup.procs -exec cat {} + 2>/dev/null; }
# wait_ticks [N]: until N (default 2) more collections have ended, so that one
# began after the call; at most 30 s, whatever the machine's load makes of them
wait_ticks() {
	local n=${1:-2} c0 c
	c0=$(curl -sf "$PM_URL/metrics" | awk '$1 == "podmeter_agent_collect_duration_seconds_count" { print $2 }')
	for _ in $(seq 1 300); do
		c=$(curl -sf "$PM_URL/metrics" | awk '$1 == "podmeter_agent_collect_duration_seconds_count" { print $2 }')
		[ -n "$c0" ] && [ -n "$c" ] && [ "$c" -ge $((c0 + n)) ] && return 0
		sleep 0.1
	done
	echo "  (no $n collections in 30 s: $c0 -> $c)"
	return 1
}
wait_file() {	# wait_file FILE PATTERN [TENTHS]
	local i
	for i in $(seq 1 "${3:-100}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

# a first container, to know whether this machine can run them at all
CONTAINERS+=(pm-probe)
if ! ctr_ run --rm --null-io --snapshotter "$SNAP" --fifo-dir "$CD/fifo" --runc-root "$CD/runc" \
	--cgroup "" "$IMAGE" pm-probe /bin/true >"$CD/probe.log" 2>&1; then
	skip "runc cannot run a container here: $(tail -1 "$CD/probe.log")"
fi

# --- a hostile pod, before the agent: symlinks out of its containers ---------------
# A host directory holding a real libcuda; the pod's processes map their own
# copies, then the pod replaces them: /lib/cuda1/libcuda.so.1 by a symlink to
# the host file, /lib/cuda2 by a symlink to the host directory. Opened from
# the host through /proc/<pid>/root, either would lead to the host file.
HOSTLIB="$WORK/hostlib"
mkdir -p "$HOSTLIB"
cp "$LIBCUDA" "$HOSTLIB/libcuda.so.1"
new_pod evil besteffort cgroupfs || { fail "create the hostile pod"; finish; exit; }
run_container evil map1 /bin/sh -c 'exec /opt/pm/hostile map /lib/cuda1/libcuda.so.1 >/share/map1.out 2>&1'
run_container evil map2 /bin/sh -c 'exec /opt/pm/hostile map /lib/cuda2/libcuda.so.1 >/share/map2.out 2>&1'
wait_file "$SHARE/map1.out" mapped && wait_file "$SHARE/map2.out" mapped ||
	fail "hostile containers did not map their libraries: $(cat "$SHARE"/map*.out)"
ctr_ task exec --fifo-dir "$CD/fifo" --exec-id plant1 "${C_ID[evil/map1]}" /bin/sh -c \
	"ln -s $HOSTLIB/libcuda.so.1 /lib/cuda1/x && mv -f /lib/cuda1/x /lib/cuda1/libcuda.so.1" &&
	ctr_ task exec --fifo-dir "$CD/fifo" --exec-id plant2 "${C_ID[evil/map2]}" /bin/sh -c \
		"rm -rf /lib/cuda2 && ln -s $HOSTLIB /lib/cuda2" ||
	fail "plant the symlinks in the hostile pod"
log "hostile pod's maps now: $(grep -h cuda "/proc/$(task_pid evil/map1)/maps" "/proc/$(task_pid evil/map2)/maps" |
	awk '{ $1 = $2 = $3 = ""; print }' | sort -u | tr '\n' ';')"
python3 "$HERE/open_watch.py" --out "$WORK/watch.log" --stop "$WORK/watch.stop" \
	"$HOSTLIB/libcuda.so.1" >"$WORK/watch.out" 2>&1 &
STARTED_PIDS+=("$!")
disown "$!"
wait_file "$WORK/watch.out" watching || fail "fanotify watcher: $(cat "$WORK/watch.out")"

# --- two pods of one image driving CUDA: one libcuda file under two overlay mounts -----
# Their drivers wait for a line on their FIFO; started before the agent, like the
# hostile pod, so the agent's first scan covers them all.
cuda_pod() {	# cuda_pod POD DRIVER-ARGS
	new_pod "$1" besteffort cgroupfs || return 1
	run_container "$1" cuda /bin/sh -c "exec /opt/pm/cuda_driver -w $2 -e 120000 \
		</share/go.$1 >/share/cuda.$1.out 2>&1"
}
mkfifo "$SHARE/go.gpu" "$SHARE/go.gpu2"
exec 7<>"$SHARE/go.gpu" 8<>"$SHARE/go.gpu2"
cuda_pod gpu "-l 300 -L 25 -a 1048576 -a 4096 -a 65536 -f 1 -c 1000 -s 5" &&
	cuda_pod gpu2 "-l 120 -a 8192 -c 300" || { fail "start the CUDA pods"; finish; exit; }

# --- the stand-in kubelet and the agent ---------------------------------------------
# PodList from $WORK/pods.txt: "POD NAMESPACE NAME" lines, then "  CONTAINER ID" lines
write_podlist() {
	python3 - "$WORK/pods.txt" >"$WORK/pods.json.new" <<'PY'
import json, sys
items, cur = [], None
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    if not line.startswith(" "):
        uid, ns, name, qos = f
        cur = {"metadata": {"name": name, "namespace": ns, "uid": uid},
               "spec": {"nodeName": "node-cd", "containers": []},
               "status": {"phase": "Running", "qosClass": qos, "containerStatuses": []}}
        items.append(cur)
        continue
    cname, cid = f
    res = {"requests": {"cpu": "100m", "memory": "64Mi"}} if qos == "Burstable" else {}
    cur["spec"]["containers"].append({"name": cname, "resources": res})
    cur["status"]["containerStatuses"].append(
        {"name": cname, "containerID": "containerd://" + cid, "ready": True,
         "restartCount": 0, "state": {"running": {}}})
print(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": items}))
PY
	mv "$WORK/pods.json.new" "$WORK/pods.json"
}
# the kubelet lists a pod's app containers, not its pause container
describe_pods() {
	local pod qos k
	: >"$WORK/pods.txt"
	for pod in "$@"; do
		[ "${P_QOS[$pod]}" = burstable ] && qos=Burstable || qos=BestEffort
		echo "${P_UID[$pod]} shop $pod-7f9c $qos" >>"$WORK/pods.txt"
		for k in "${!C_ID[@]}"; do
			[ "${k%%/*}" = "$pod" ] && [ "${k#*/}" != pause ] &&
				echo "  ${k#*/} ${C_ID[$k]}" >>"$WORK/pods.txt"
		done
	done
	write_podlist
}
describe_pods evil gpu gpu2
echo ok >"$WORK/kubelet.mode"
python3 "$HERE/fake_kubelet.py" --port "$KPORT" --podlist "$WORK/pods.json" \
	--mode-file "$WORK/kubelet.mode" --lifetime 400 &
STARTED_PIDS+=("$!")
disown "$!"
mknod "$WORK/nvidiatest0" c 1 7
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$KPORT/pods" >/dev/null && break; sleep 0.1; done
start_agent --cgroup-mode v2 --gpu-devices "$WORK/nvidiatest0" --kubelet "http://127.0.0.1:$KPORT/pods" \
	--kubelet-interval 1s || { fail "agent start"; finish; exit; }

# the hostile pod is scanned in the agent's first walk
escapes() { scrape "$WORK/m.esc" && metric_value "$WORK/m.esc" podmeter_agent_cuda_library_refusals_total 'reason="escape"'; }
for _ in $(seq 1 100); do [ "$(escapes)" != missing ] && [ "$(escapes)" -ge 1 ] && break; sleep 0.1; done

# --- the pods measured --------------------------------------------------------------
SPIN='while :; do :; done'
new_pod web burstable cgroupfs || { fail "create pod web"; finish; exit; }
run_container web spin /bin/sh -c "$SPIN" &&
	run_container web mem /bin/sh -c 'exec /opt/pm/pm_alloc 256 >/share/mem.out 2>&1' ||
	{ fail "start pod web's containers"; finish; exit; }
CPU_PODS="web"
if [ -n "$SYSTEMD" ]; then
	new_pod sd burstable systemd && run_container sd spin /bin/sh -c "$SPIN" &&
		CPU_PODS="web sd" || fail "a pod through runc's systemd cgroup driver"
fi
describe_pods evil gpu gpu2 $CPU_PODS
log "agent pid $AGENT_PID; pods: web ${P_UID[web]}, gpu ${P_UID[gpu]}, gpu2 ${P_UID[gpu2]}, evil ${P_UID[evil]}"
wait_file "$SHARE/mem.out" touched || fail "pm_alloc in pod web did not touch its memory"

# --- CPU over a window, against the pod cgroup's cpu.stat ----------------------------
# sample N: the kernel's figures for $CPU_PODS just before and just after a scrape
# (again while the agent serves a collection begun before the last "before" reading:
# the truth must bracket the whole of the collection)
sample() {
	local pod t0 i
	for ((i = 0; i < 10; i++)); do
		for pod in $CPU_PODS; do kernel_cpu_ns "$(pod_v2 "$pod")" >"$WORK/k$1.pre.$pod"; done
		t0=$(date +%s.%N)
		scrape "$WORK/m$1" || fail "scrape $1"
		for pod in $CPU_PODS; do kernel_cpu_ns "$(pod_v2 "$pod")" >"$WORK/k$1.post.$pod"; done
		collected_since "$WORK/m$1" "$t0" && break
		sleep 0.3
	done
}
compare_cpu() {	# compare_cpu A B WHAT POD
	local ma mb lo hi d
	ma=$(metric_value "$WORK/m$1" podmeter_pod_cpu_seconds_total "uid=\"${P_UID[$4]}\"")
	mb=$(metric_value "$WORK/m$2" podmeter_pod_cpu_seconds_total "uid=\"${P_UID[$4]}\"")
	if [ "$ma" = missing ] || [ "$mb" = missing ]; then
		fail "$3: pod $4 has no CPU series"
		return
	fi
	lo=$(awk -v a="$(cat "$WORK/k$1.post.$4")" -v b="$(cat "$WORK/k$2.pre.$4")" \
		'BEGIN { printf "%.6f", (b - a) / 1e9 }')
	hi=$(awk -v a="$(cat "$WORK/k$1.pre.$4")" -v b="$(cat "$WORK/k$2.post.$4")" \
		'BEGIN { printf "%.6f", (b - a) / 1e9 }')
	d=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.6f", b - a }')
	within "$d" "$lo" "$hi" "$TOL" && pass "$3: podmeter ${d}s, pod cgroup's cpu.stat ${lo}..${hi}s" ||
		fail "$3: podmeter ${d}s, pod cgroup's cpu.stat ${lo}..${hi}s (1%)"
}
for pod in $CPU_PODS; do
	for _ in $(seq 1 50); do
		scrape "$WORK/m.seen"
		[ "$(metric_value "$WORK/m.seen" podmeter_pod_cpu_seconds_total "uid=\"${P_UID[$pod]}\"")" != missing ] &&
			break
		sleep 0.1
	done
done
sample 0
sleep 5
sample 1
compare_cpu 0 1 "cpu, pause + spinning + allocating containers, 5s" web
[ -n "$SYSTEMD" ] && compare_cpu 0 1 "cpu, systemd driver (${P_UID[sd]//-/_}.slice), 5s" sd

# --- memory: resident against the processes and the memory cgroup ---------------------
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
rss_of() {	# podmeter's resident bytes of a pod: file + anon + shmem
	awk -v sel="uid=\"$2\"" 'index($0, "podmeter_pod_memory_rss_bytes{") == 1 && index($0, sel) &&
		!index($0, "kind=\"swap\"") { s += $NF } END { printf "%.0f\n", s }' "$1"
}
vmrss_sum() {	# the pod's processes' own VmRSS, summed
	local p s=0 v
	for p in $(pod_pids "$1"); do
		v=$(awk '$1 == "VmRSS:" { print $2 * 1024 }' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
# the working set is read at each tree walk: one ending now began after the touch (> 5 s ago)
wait_walks 1 || fail "no walk of the cgroup tree"
scrape "$WORK/m.mem"
m=$(rss_of "$WORK/m.mem" "${P_UID[web]}")
k=$(vmrss_sum web)
u=$(kernel_mem_usage "$(pod_mem web)")
near "$m" "$k" 0.05 && pass "memory: rss $(mib "$m"), the pod's processes' VmRSS $(mib "$k")" ||
	fail "memory: rss $(mib "$m"), the pod's processes' VmRSS $(mib "$k") (5%)"
near "$m" "$u" 0.05 && pass "memory: rss $(mib "$m"), the pod's memory cgroup $(mib "$u")" ||
	fail "memory: rss $(mib "$m"), the pod's memory cgroup $(mib "$u") (5%)"
ws=$(metric_value "$WORK/m.mem" podmeter_pod_memory_working_set_bytes "uid=\"${P_UID[web]}\"")
[ "$ws" != missing ] && near "$ws" "$u" 0.05 && pass "memory: working set $(mib "$ws"), cgroup $(mib "$u")" ||
	fail "memory: working set $ws, the pod's memory cgroup $(mib "$u") (5%)"

# --- CUDA inside the containers' mount namespaces ---------------------------------------
# the first scan covered every pod made before the agent: it ends with this line
wait_file "$WORK/agent.log" 'cuda: probes on' 200 &&
	pass "libcuda.so.1 of the image found and probed: $(grep -m1 'cuda: probes on' "$WORK/agent.log")" ||
	fail "libcuda of pods gpu, gpu2 not probed: $(grep -i cuda "$WORK/agent.log")"
echo go >&7
echo go >&8
wait_file "$SHARE/cuda.gpu.out" '^sync_ns=' && wait_file "$SHARE/cuda.gpu2.out" '^sync_ns=' ||
	fail "the CUDA drivers did not finish: $(cat "$SHARE"/cuda.*.out)"
wait_ticks
scrape "$WORK/m.cuda"
kv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$SHARE/cuda.$1.out"; }
check_eq() {	# check_eq POD WHAT METRIC KEY
	local got want
	got=$(metric_value "$WORK/m.cuda" "$3" "uid=\"${P_UID[$1]}\"")
	want=$(kv "$1" "$4")
	[ "$got" = "$want" ] && pass "$1: $2: podmeter $got, its driver $want" ||
		fail "$1: $2: podmeter $got, its driver $want"
}
for pod in gpu gpu2; do
	check_eq "$pod" "CUDA kernel launches" podmeter_pod_gpu_kernel_launches_total launches
	check_eq "$pod" "CUDA memory held" podmeter_pod_gpu_memory_bytes held_bytes
	check_eq "$pod" "CUDA bytes copied" podmeter_pod_gpu_memcpy_bytes_total copied_bytes
done

# --- network: the pod's veth, against its peer's counters -----------------------------
PEER="pmcd-peer-$$"
ip netns add "$PEER" && NETNS+=("$PEER") || { fail "ip netns add $PEER"; finish; exit; }
ip -n "$PEER" link add pmcd0 type veth peer name eth0 netns "${P_NETNS[web]}" ||
	{ fail "veth into pod web's netns"; finish; exit; }
ip netns exec "$PEER" sysctl -qw net.ipv6.conf.pmcd0.disable_ipv6=1
ip netns exec "${P_NETNS[web]}" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
ip -n "$PEER" addr add 10.97.0.1/24 dev pmcd0
ip -n "$PEER" link set pmcd0 up
ip -n "${P_NETNS[web]}" addr add 10.97.0.2/24 dev eth0
ip -n "${P_NETNS[web]}" link set eth0 up
TX=$((20 << 20))
RX=$((10 << 20))
peer_l3() {	# the peer's IP bytes one way: link bytes less 14 a frame
	ip -n "$PEER" -s -j link show pmcd0 | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"][sys.argv[1]]
print(s["bytes"] - 14 * s["packets"])' "$1"
}
# the peer: takes what the pod sends, then sends to the pod's listener
ip netns exec "$PEER" timeout 60 python3 -c '
import socket, sys, time
tx, rx = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.97.0.1", 5001)); l.listen(1); print("listening", flush=True)
c, _ = l.accept(); n = 0
while n < tx:
    b = c.recv(1 << 16)
    if not b: break
    n += len(b)
c.close(); print("got", n, flush=True)
for _ in range(100):
    try:
        s = socket.create_connection(("10.97.0.2", 5002)); break
    except OSError: time.sleep(0.1)
s.sendall(b"y" * rx); s.close(); print("sent", rx, flush=True)' "$TX" "$RX" >"$WORK/peer.out" 2>&1 &
STARTED_PIDS+=("$!")
disown "$!"
wait_file "$WORK/peer.out" listening || fail "peer sink: $(cat "$WORK/peer.out")"
rx0=$(peer_l3 rx)
tx0=$(peer_l3 tx)
scrape "$WORK/m.net0"
run_container web net /bin/sh -c "head -c $TX /dev/zero | nc 10.97.0.1 5001;
	nc -l -p 5002 >/dev/null; echo done >/share/net.out" || fail "start pod web's net container"
wait_file "$WORK/peer.out" '^sent' 300 && wait_file "$SHARE/net.out" done 300 ||
	fail "traffic did not complete: $(cat "$WORK/peer.out")"
wait_ticks
scrape "$WORK/m.net1"
rx1=$(peer_l3 rx)
tx1=$(peer_l3 tx)
net_delta() {	# podmeter's bytes of a direction, all classes, between the scrapes
	awk -v sel="uid=\"${P_UID[web]}\",direction=\"$1\"" 'FNR == 1 { f++ }
		index($0, "podmeter_pod_network_bytes_total{") == 1 && index($0, sel) {
			if (f == 1) a += $NF; else b += $NF }
		END { printf "%.0f\n", b - a }' "$WORK/m.net0" "$WORK/m.net1"
}
check_net() {	# check_net WHAT MEASURED TRUTH PAYLOAD
	if awk -v m="$2" -v t="$3" -v p="$4" 'BEGIN { d = m - t; if (d < 0) d = -d
		exit !(d <= 0.01 * t + 3 * 28 && m >= p) }'; then
		pass "$1: podmeter $2 B, the veth's peer $3 B, payload $4 B"
	else
		fail "$1: podmeter $2 B, the veth's peer $3 B, payload $4 B (1%)"
	fi
}
check_net "network tx" "$(net_delta tx)" $((rx1 - rx0)) "$TX"
check_net "network rx" "$(net_delta rx)" $((tx1 - tx0)) "$RX"

# --- identity: the kubelet's names on the runtime's container ids -----------------------
# /v1/pods against the runtime's ids, the kubelet's names and the pause containers
check_identity() {
	local pod pauses=""
	for pod in "${!P_PAUSE[@]}"; do pauses+="${P_UID[$pod]}=${P_PAUSE[$pod]} "; done
	curl -sf "$PM_URL/v1/pods" >"$WORK/pods.v1"
	python3 - "$WORK/pods.v1" "$WORK/pods.txt" "$WORK/runtime.ids" "$pauses" <<'PY'
import json, sys
snap = {p["uid"]: p for p in json.load(open(sys.argv[1]))["pods"]}
runtime = set(open(sys.argv[3]).read().split())
pause = dict(kv.split("=") for kv in sys.argv[4].split())
bad, named = [], 0
for line in open(sys.argv[2]):
    f = line.split()
    if not line.startswith(" "):
        uid, ns, name = f[0], f[1], f[2]
        p = snap.get(uid)
        ctrs = {c["id"]: c for c in p["containers"]} if p else {}
        if not p:
            bad.append("pod %s missing" % name)
            continue
        if (p["namespace"], p["pod"]) != (ns, name):
            bad.append("pod %s named %s/%s" % (uid, p["namespace"], p["pod"]))
        for c in p["containers"]:
            if c["id"] and c["id"] not in runtime:
                bad.append("%s: container id %s is not the runtime's" % (name, c["id"][:12]))
            if c["id"] and c["runtime"] != "containerd":
                bad.append("%s: runtime %r" % (name, c["runtime"]))
        c = ctrs.get(pause.get(uid))
        if not c or c["name"]:
            bad.append("%s: pause container %s %s" % (name, pause.get(uid, "?")[:12],
                                                      "named %r" % c["name"] if c else "missing"))
        continue
    if not p:
        continue
    cname, cid = f
    c = ctrs.get(cid)
    if not c:
        bad.append("%s/%s: no container %s" % (name, cname, cid[:12]))
    elif c["name"] != cname:
        bad.append("%s: container %s named %r, want %r" % (name, cid[:12], c["name"], cname))
    else:
        named += 1
print("FAIL" if bad else "PASS", "; ".join(bad) if bad else
      "%d containers named from the kubelet on the runtime's ids, %d pause containers unnamed"
      % (named, len(pause)))
PY
}
# the verdict once the kubelet's latest list has been taken (it is read every second)
identity_verdict() {	# identity_verdict WHEN
	ctr_ containers ls -q >"$WORK/runtime.ids"
	for _ in $(seq 1 30); do
		check_identity >"$WORK/identity.out"
		grep -q ^PASS "$WORK/identity.out" && break
		sleep 0.2
	done
	sed -i "s/^\(PASS\|FAIL\) /\1 $1: /" "$WORK/identity.out"
	take_verdicts "$WORK/identity.out"
}
identity_verdict "identity"

# --- restarts: the runtime's own (same id), then the kubelet's (a new container) --------
sample 2
stop_task "${C_ID[web/spin]}"
ctr_ task start -d --null-io --fifo-dir "$CD/fifo" --pid-file "$CD/pid.${C_ID[web/spin]}" \
	"${C_ID[web/spin]}" >"$CD/restart.log" 2>&1 || fail "restart the spinning task: $(cat "$CD/restart.log")"
sleep 3
sample 3
compare_cpu 2 3 "cpu across a task killed and started again (same container id)" web
old=${C_ID[web/spin]}
stop_task "$old"
ctr_ container delete "$old" >/dev/null 2>&1
run_container web spin /bin/sh -c "$SPIN" || fail "replace the spinning container"
describe_pods evil gpu gpu2 $CPU_PODS
sleep 3
sample 4
compare_cpu 3 4 "cpu across a container replaced by a new one (new id)" web
compare_cpu 0 4 "cpu, the pod's whole life here" web
identity_verdict "identity after the replacement"

# --- symlinks out of the hostile pod: never followed -----------------------------------
e=$(escapes)
[ "$e" != missing ] && [ "$e" -ge 1 ] && pass "symlink at the library's path refused as escape ($e)" ||
	fail "symlink at the library's path: escape refusals $e, want >= 1"
touch "$WORK/watch.stop"
sleep 0.3
# fanotify names the process: other agents on this machine (other tests) are not ours to judge
awk -v me="$AGENT_PID" '$2 != me { print "another process opened it: " $0 }' "$WORK/watch.log" |
	sort -u | while read -r l; do log "$l"; done
if awk -v me="$AGENT_PID" '$2 == me { found = 1 } END { exit !found }' "$WORK/watch.log"; then
	fail "the agent opened the host file behind the pod's symlinks: $(grep -m1 " $AGENT_PID " "$WORK/watch.log")"
else
	# the watcher sees an open when there is one
	rm -f "$WORK/watch.stop"
	python3 "$HERE/open_watch.py" --out "$WORK/watch2.log" --stop "$WORK/watch.stop" \
		"$HOSTLIB/libcuda.so.1" >"$WORK/watch2.out" 2>&1 &
	STARTED_PIDS+=("$!")
	disown "$!"
	wait_file "$WORK/watch2.out" watching
	sh -c 'echo $$ >"$1"; exec head -c 1 "$0" >/dev/null' "$HOSTLIB/libcuda.so.1" "$WORK/reader.pid"
	wait_file "$WORK/watch2.log" "^[0-9a-f]* $(cat "$WORK/reader.pid") " 20 &&
		pass "the host file behind the pod's symlinks: never opened nor read by the agent (the test's own read is seen)" ||
		fail "fanotify control: the test's own read of the host file was not seen"
	touch "$WORK/watch.stop"
fi
kill -0 "$AGENT_PID" && pass "agent still running" || fail "agent died"
if stop_agent; then pass "SIGTERM: clean exit"; else fail "SIGTERM: exit status $?"; fi

finish
