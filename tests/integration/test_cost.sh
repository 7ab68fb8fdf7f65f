#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Cost against the kernel's own accounting. Three fake pods with requests
# served by a stand-in kubelet, on a node priced at $1.20/h split by
# OpenCost's default ratios (Appendix A):
#   busy  requests 100m, spins one core: CPU cost = cpu.stat time x price
#   idle  requests 500m, 64Mi, 1 GPU, sleeps: CPU, memory and GPU cost =
#         request x time x price; CPU waste = (request - use) x time x price
#   alloc requests 32Mi, holds 128 MiB: memory cost = working set x time x price
# Over a window of about 10 s, each within 1% (node idle: 2%).
set -u
. "$(dirname "$0")/lib.sh"

PM_ALLOC=${PM_ALLOC:-build/tests/pm_alloc}
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] && [ -n "$MEM" ] || { echo "  skip: needs cgroup v2 and a memory controller"; exit 0; }
echo "cost: cgroup v2 at $V2, memory controller at $MEM"
KPORT=${KPORT:-19489}
NODE_PRICE=1.2

declare -A UID_OF CTR_OF
for p in busy idle alloc; do
	UID_OF[$p]=$(newuid)
	CTR_OF[$p]=$(printf '%064x' $((RANDOM * 65536 + RANDOM)))
	make_pod "kubepods/burstable/pod${UID_OF[$p]}/${CTR_OF[$p]}" ||
		{ fail "create fake pod $p"; finish; exit; }
done
ctr() { echo "kubepods/burstable/pod${UID_OF[$1]}/${CTR_OF[$1]}"; }
# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(cg_dirs "$(ctr busy)") -- sh -c 'while :; do :; done'
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr idle)") -- sleep 300
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr alloc)") -- sh -c "exec $PM_ALLOC 128 > $WORK/alloc.out"

python3 - "${UID_OF[busy]}" "${CTR_OF[busy]}" "${UID_OF[idle]}" "${CTR_OF[idle]}" \
	"${UID_OF[alloc]}" "${CTR_OF[alloc]}" >"$WORK/pods.json" <<'PY'
import json, sys
a = sys.argv[1:]
def pod(name, uid, cid, requests):
    return {"metadata": {"name": name, "namespace": "cost", "uid": uid},
            "spec": {"nodeName": "node-a", "containers": [
                {"name": "main", "resources": {"requests": requests}}]},
            "status": {"phase": "Running", "qosClass": "Burstable", "containerStatuses": [
                {"name": "main", "containerID": "containerd://" + cid}]}}
print(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [
    pod("busy", a[0], a[1], {"cpu": "100m", "memory": "16Mi"}),
    pod("idle", a[2], a[3], {"cpu": "500m", "memory": "64Mi", "nvidia.com/gpu": "1"}),
    pod("alloc", a[4], a[5], {"cpu": "50m", "memory": "32Mi"})]}))
PY
echo ok >"$WORK/mode"
python3 "$(dirname "$0")/fake_kubelet.py" --port "$KPORT" --podlist "$WORK/pods.json" \
	--mode-file "$WORK/mode" --lifetime 60 &
STARTED_PIDS+=("$!")
sleep 0.5
start_agent --cgroup-mode v2 --kubelet "http://127.0.0.1:$KPORT/pods" \
	--node-cpu-cores 2 --node-memory 4Gi --node-gpus 1 --price-node-hour "$NODE_PRICE" ||
	{ fail "agent start"; finish; exit; }
wait_walks	# names from the kubelet; working sets read at a tree walk (every 5 ticks)

# the working set as the kernel counts it: usage less inactive file pages
kernel_ws() {
	local dir=$1 usage inactive
	usage=$(kernel_mem_usage "$dir")
	inactive=$(awk '$1 == "inactive_file" || $1 == "total_inactive_file" { v = $2 }
		END { print v + 0 }' "$dir/memory.stat")
	echo $((usage - inactive))
}
# one observation around a /v1/pods: the kernel's CPU time of busy and idle, the
# working sets of the alloc pod, the idle pod and the idle container. The agent
# collects at most every 0.25 s and may serve a snapshot begun before the
# kernel's last "before" reading: taken again until the snapshot's time is inside.
observe() {
	local out=$1 b0 i0 b1 i1 t0 try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		b0=$(kernel_cpu_ns "$V2/$(ctr busy)")
		i0=$(kernel_cpu_ns "$V2/$(ctr idle)")
		t0=$(date +%s.%N)
		curl -sf "$PM_URL/v1/pods" >"$out.json"
		b1=$(kernel_cpu_ns "$V2/$(ctr busy)")
		i1=$(kernel_cpu_ns "$V2/$(ctr idle)")
		python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["read_time"] < float(sys.argv[2]))' \
			"$out.json" "$t0" 2>/dev/null && break
		sleep 0.3
	done
	echo "$(((b0 + b1) / 2)) $(((i0 + i1) / 2))" \
		"$(kernel_ws "$MEM/kubepods/burstable/pod${UID_OF[alloc]}")" \
		"$(kernel_ws "$MEM/kubepods/burstable/pod${UID_OF[idle]}")" \
		"$(kernel_ws "$MEM/$(ctr idle)")" >"$out.kernel"
}
observe "$WORK/o1"
sleep 10
observe "$WORK/o2"
# the alloc pod's working set is read at walks: the kernel's at both ends must agree
python3 - "$WORK/o1" "$WORK/o2" "${UID_OF[busy]}" "${UID_OF[idle]}" "${UID_OF[alloc]}" \
	"$NODE_PRICE" >"$WORK/verdicts" <<'PY'
import json, sys
o1, o2, ub, ui, ua, node_price = sys.argv[1:7]
node_price = float(node_price)
GIB = 1 << 30
def load(o):
    j = json.load(open(o + ".json"))
    k = [int(x) for x in open(o + ".kernel").read().split()]
    return j, k
j1, k1 = load(o1)
j2, k2 = load(o2)
def pod(j, uid):
    return [p for p in j["pods"] if p["uid"] == uid][0]
def d(uid, kind, res):
    return pod(j2, uid)[kind][res] - pod(j1, uid)[kind][res]
dt = j2["time"] - j1["time"]
# Appendix A, worked here: base prices = OpenCost defaults, capacity 2 cores, 4 GiB, 1 GPU
base = {"cpu": 0.031611, "memory": 0.004237, "gpu": 0.95}
scale = node_price / (2 * base["cpu"] + 4 * base["memory"] + 1 * base["gpu"])
price = {r: base[r] * scale for r in base}
prices = j2["node"]["prices"]
out = []
def check(what, got, want, tol):
    ok = abs(got - want) <= tol * abs(want) and want > 0
    out.append("%s %s: podmeter $%.9f, formula on the kernel's figures $%.9f (%g%%)" %
               ("PASS" if ok else "FAIL", what, got, want, tol * 100))
for r, key in (("cpu", "cpu_core_hour"), ("memory", "memory_gib_hour"), ("gpu", "gpu_hour")):
    check("%s price per unit-hour" % r, prices[key], price[r], 1e-9)
check("node price from its parts", 2 * prices["cpu_core_hour"] + 4 * prices["memory_gib_hour"] +
      prices["gpu_hour"], node_price, 1e-9)
busy_s = (k2[0] - k1[0]) / 1e9
idle_s = (k2[1] - k1[1]) / 1e9
check("busy: cpu cost (usage over a 100m request)", d(ub, "cost_dollars", "cpu"),
      busy_s * price["cpu"] / 3600, 0.01)
check("idle: cpu cost (the 500m request)", d(ui, "cost_dollars", "cpu"),
      max(0.5 * dt, idle_s) * price["cpu"] / 3600, 0.01)
check("idle: cpu waste", d(ui, "waste_dollars", "cpu"), (0.5 * dt - idle_s) * price["cpu"] / 3600,
      0.01)
# what the pod's cgroup holds beyond its container's (charged before the move) is usage
residual = max(0, (k1[3] + k2[3]) / 2 - (k1[4] + k2[4]) / 2)
check("idle: memory cost (the 64Mi request)", d(ui, "cost_dollars", "memory"),
      (64 * 2**20 + residual) * dt / GIB * price["memory"] / 3600, 0.01)
check("idle: gpu cost (1 requested)", d(ui, "cost_dollars", "gpu"), dt * price["gpu"] / 3600, 0.01)
ws = (k1[2] + k2[2]) / 2
check("alloc: memory cost (working set over a 32Mi request)", d(ua, "cost_dollars", "memory"),
      ws * dt / GIB * price["memory"] / 3600, 0.01)
# node idle CPU: 2 cores less what the pods were allocated, by the kernel's figures
alloc_cpu = busy_s + max(0.5 * dt, idle_s) + 0.05 * dt
idle_cost = j2["node"]["idle_cost_dollars"]["cpu"] - j1["node"]["idle_cost_dollars"]["cpu"]
check("node idle cpu", idle_cost, (2 * dt - alloc_cpu) * price["cpu"] / 3600, 0.02)
out.append("INFO window %.3f s; busy %.3f cpu-s, idle %.4f cpu-s, alloc working set %.1f MiB, "
           "idle pod beyond its container %.0f KiB" % (dt, busy_s, idle_s, ws / 2**20, residual / 1024))
print("\n".join(out))
PY
take_verdicts "$WORK/verdicts"
[ -s "$WORK/verdicts" ] || fail "no verdicts: $(tail -3 "$WORK/agent.log")"
stop_agent
finish
