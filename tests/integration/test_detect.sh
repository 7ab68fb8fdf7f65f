#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Idle and zombie detection with fake pods and a 30 s window: busy, idle,
# a burst every 20 s, unreaped children, a memory holder doing nothing, an
# orphan cgroup (absent from the kubelet's list) and a fake-CUDA holder that
# launches nothing. Each is classified as expected, and nothing else is
# flagged.
set -u
. "$(dirname "$0")/lib.sh"

PM_ALLOC=${PM_ALLOC:-build/tests/pm_alloc}
CUDA_DRIVER=${CUDA_DRIVER:-build/tests/fake_cuda/cuda_driver}
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] && [ -n "$MEM" ] || { echo "  skip: needs cgroup v2 and a memory controller"; exit 0; }
echo "detect: cgroup v2 at $V2, memory at $MEM, 30 s window"
KPORT=${KPORT:-19492}
PODS="busy idle burst unreaped holder orphan gpu"
declare -A UID_OF CTR_OF
for p in $PODS; do
	UID_OF[$p]=$(newuid)
	CTR_OF[$p]=$(printf '%064x' $((RANDOM * 65536 + RANDOM)))
	make_pod "kubepods/burstable/pod${UID_OF[$p]}/${CTR_OF[$p]}" || { fail "create pod $p"; finish; exit; }
done
ctr() { echo "kubepods/burstable/pod${UID_OF[$1]}/${CTR_OF[$1]}"; }

# the kubelet lists every pod but the orphan
listed=()
for p in $PODS; do [ "$p" = orphan ] || listed+=("$p" "${UID_OF[$p]}" "${CTR_OF[$p]}"); done
python3 - "${listed[@]}" >"$WORK/pods.json" <<'PY'
import json, sys
a = sys.argv[1:]
items = []
for i in range(0, len(a), 3):
    name, uid, cid = a[i:i + 3]
    items.append({"metadata": {"name": name, "namespace": "detect", "uid": uid},
                  "spec": {"containers": [{"name": "main", "resources": {"requests": {"cpu": "500m"}}}]},
                  "status": {"phase": "Running", "containerStatuses": [
                      {"name": "main", "containerID": "containerd://" + cid}]}})
print(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": items}))
PY
echo ok >"$WORK/mode"
python3 "$(dirname "$0")/fake_kubelet.py" --port "$KPORT" --podlist "$WORK/pods.json" \
	--mode-file "$WORK/mode" --lifetime 120 &
STARTED_PIDS+=("$!")
sleep 0.5
# a GPU node: a device node declared as a GPU (CUDA uprobes are kept for GPU nodes)
mknod "$WORK/nvidiatest0" c 1 7 || fail "mknod"
start_agent --cgroup-mode v2 --kubelet "http://127.0.0.1:$KPORT/pods" --kubelet-interval 2s \
	--idle-window 30s --zombie-grace 2s --gpu-devices "$WORK/nvidiatest0" ||
	{ fail "agent start"; finish; exit; }

# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(cg_dirs "$(ctr busy)") -- timeout 100 sh -c 'while :; do :; done'
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr idle)") -- sleep 100
# about 1 s of CPU every 20 s
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr burst)") -- timeout 100 sh -c \
	'while :; do timeout 1 sh -c "while :; do :; done"; sleep 19; done'
# two children exit and their parent never reaps them
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr unreaped)") -- python3 -c '
import os, time
for _ in range(2):
    if os.fork() == 0:
        os._exit(0)
time.sleep(100)'
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr holder)") -- sh -c "exec $PM_ALLOC 64 >$WORK/alloc.out"
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr orphan)") -- sleep 100
# 8 MiB of GPU memory held, no launch: allocated once the agent has probed the library
mkfifo "$WORK/go"
exec 7<>"$WORK/go"
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr gpu)") -- sh -c "exec $CUDA_DRIVER -w -a 8388608 -e 100000 <$WORK/go >$WORK/cuda.out"
driver=$LAST_PID
# its own library's line (another pod's is no sign this one is probed); a busy machine scans late
for _ in $(seq 1 300); do grep -q "cuda: probes on .*by pid $driver " "$WORK/agent.log" && break; sleep 0.1; done
echo go >&7

sleep 42
curl -sf "$PM_URL/v1/pods" >"$WORK/pods.out" || fail "GET /v1/pods"
scrape "$WORK/m"
python3 - "$WORK/pods.out" "${UID_OF[busy]}" "${UID_OF[idle]}" "${UID_OF[burst]}" \
	"${UID_OF[unreaped]}" "${UID_OF[holder]}" "${UID_OF[orphan]}" "${UID_OF[gpu]}" \
	>"$WORK/verdicts" <<'PY'
import json, sys
pods = {p["uid"]: p for p in json.load(open(sys.argv[1]))["pods"]}
want = dict(zip(sys.argv[2:], [[], ["idle"], [], ["zombie-process"], ["zombie-workload"],
                               ["zombie-orphan"], ["zombie-gpu"]]))
names = dict(zip(sys.argv[2:], ["busy", "idle", "burst", "unreaped", "holder", "orphan", "gpu"]))
for uid, kinds in want.items():
    p = pods.get(uid)
    if p is None:
        print("FAIL %s: not in /v1/pods" % names[uid])
        continue
    got = sorted(f["kind"] for f in p["findings"])
    ok = got == kinds and p["idle"] == (kinds == ["idle"])
    ev = "; ".join("%s: %s" % (f["kind"], f["detail"]) for f in p["findings"])
    print("%s %s: %s%s" % ("PASS" if ok else "FAIL", names[uid], got or "nothing flagged",
                           " (%s)" % ev if ev else ""))
PY
while read -r verdict line; do
	case $verdict in
	PASS) pass "$line" ;;
	*) fail "$line" ;;
	esac
done <"$WORK/verdicts"
v=$(metric_value "$WORK/m" podmeter_pod_idle "uid=\"${UID_OF[idle]}\"")
[ "$v" = 1 ] && pass "podmeter_pod_idle 1 for the idle pod" || fail "podmeter_pod_idle: $v"
v=$(metric_value "$WORK/m" podmeter_pod_zombie "uid=\"${UID_OF[gpu]}\",kind=\"gpu\"")
[ "$v" = 1 ] && pass "podmeter_pod_zombie{kind=\"gpu\"} 1" || fail "podmeter_pod_zombie gpu: $v"
exec 7>&-
stop_agent || fail "agent exit status"
finish
