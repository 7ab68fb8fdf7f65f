#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Pod names, owners and requests from a stand-in kubelet (a local HTTP server
# serving a PodList written in the kubelet's format), and what the agent does
# when the kubelet answers garbage or goes away: it keeps the last names,
# counts the errors, and keeps measuring. Without a kubelet, names come from
# /var/log/pods-style directories.
set -u
. "$(dirname "$0")/lib.sh"

V2=$(cg_v2_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
echo "kubelet: stand-in /pods on loopback"
KPORT=${KPORT:-19488}
newuid() {
	printf '%08x-%04x-4%03x-8%03x-%012x' $((RANDOM * RANDOM)) $RANDOM $((RANDOM % 4096)) \
		$((RANDOM % 4096)) $((RANDOM * RANDOM * RANDOM))
}
u1=$(newuid)
u2=$(newuid)
for u in "$u1" "$u2"; do
	c="$V2/kubepods/burstable/pod$u/$(printf '%064x' $RANDOM)"
	mkcg "$c" || { fail "create fake pod"; finish; exit; }
	run_in_cg "$c" sleep 120
done

podlist() {	# podlist UID... : a PodList with one Deployment pod per uid
	python3 - "$@" <<'PY'
import json, sys
items = []
for i, uid in enumerate(sys.argv[1:]):
    items.append({
        "metadata": {"name": "web-5d9c8f7b6-p%d" % i, "namespace": "shop", "uid": uid,
                     "labels": {"pod-template-hash": "5d9c8f7b6"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "web-5d9c8f7b6", "uid": "r", "controller": True}]},
        "spec": {"nodeName": "node-a", "containers": [
            {"name": "app", "resources": {
                "requests": {"cpu": "250m", "memory": "128Mi", "nvidia.com/gpu": "1"},
                "limits": {"cpu": "1", "memory": "256Mi", "nvidia.com/gpu": "1"}}},
            {"name": "side", "resources": {"requests": {"cpu": "0.1", "memory": "64M"}}}]},
        "status": {"phase": "Running", "qosClass": "Burstable"}})
print(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": items}))
PY
}
mkdir -p "$WORK/www"
podlist "$u1" >"$WORK/www/pods"
(cd "$WORK/www" && exec timeout 120 python3 -m http.server "$KPORT" --bind 127.0.0.1) \
	>/dev/null 2>&1 &
server=$!
STARTED_PIDS+=("$server")
sleep 0.5
start_agent --cgroup-mode v2 --kubelet "http://127.0.0.1:$KPORT/pods" --kubelet-interval 1s ||
	{ fail "agent start"; finish; exit; }
sleep 2.5
scrape "$WORK/m1"
sel1="namespace=\"shop\",pod=\"web-5d9c8f7b6-p0\",uid=\"$u1\""
grep -q "^podmeter_pod_cpu_seconds_total{$sel1}" "$WORK/m1" && pass "pod named from /pods" ||
	fail "pod not named: $(grep "$u1" "$WORK/m1" | head -2)"
grep -q "^podmeter_pod_info{uid=\"$u1\",namespace=\"shop\",pod=\"web-5d9c8f7b6-p0\",owner_kind=\"Deployment\",owner_name=\"web\",qos=\"burstable\",node=\"node-a\"} 1" "$WORK/m1" &&
	pass "pod_info: the ReplicaSet's Deployment, QoS and node" ||
	fail "pod_info: $(grep "^podmeter_pod_info{uid=\"$u1\"" "$WORK/m1")"
# 250m + 0.1 cores, 128Mi + 64M bytes, 1 GPU: worked out from the PodList
for want in "podmeter_pod_cpu_request_cores 0.35" "podmeter_pod_memory_request_bytes 198217728" \
	"podmeter_pod_gpu_request 1" "podmeter_pod_cpu_limit_cores 1" \
	"podmeter_pod_memory_limit_bytes 268435456"; do
	set -- $want
	got=$(metric_value "$WORK/m1" "$1" "uid=\"$u1\"")
	awk -v a="$got" -v b="$2" 'BEGIN { exit !(a == b) }' && pass "$1 = $got" ||
		fail "$1 = $got, want $2"
done
grep -q "^podmeter_pod_cpu_seconds_total{namespace=\"\",pod=\"\",uid=\"$u2\"}" "$WORK/m1" &&
	pass "a pod the kubelet does not list keeps its uid, unnamed" || fail "unlisted pod"

# the kubelet answers garbage, then is gone: names kept, errors counted, still measuring
echo '<html>502 Bad Gateway</html>' >"$WORK/www/pods"
sleep 2.5
scrape "$WORK/m2"
e2=$(metric_value "$WORK/m2" podmeter_agent_kubelet_errors_total "")
kill "$server" 2>/dev/null
sleep 2.5
scrape "$WORK/m3"
e3=$(metric_value "$WORK/m3" podmeter_agent_kubelet_errors_total "")
awk -v a="$e2" -v b="$e3" 'BEGIN { exit !(a >= 1 && b > a) }' &&
	pass "kubelet errors counted: $e2 after garbage, $e3 after it went away" ||
	fail "kubelet errors: $e2, $e3"
grep -q "^podmeter_pod_cpu_seconds_total{$sel1}" "$WORK/m3" && pass "names kept while the kubelet is down" ||
	fail "names lost while the kubelet is down"
c2=$(metric_value "$WORK/m2" podmeter_agent_collect_duration_seconds_count "")
c3=$(metric_value "$WORK/m3" podmeter_agent_collect_duration_seconds_count "")
awk -v a="$c2" -v b="$c3" 'BEGIN { exit !(b > a) }' && pass "still collecting ($c2 -> $c3)" ||
	fail "collection stopped ($c2 -> $c3)"
grep -c "warning: kubelet: GET" "$WORK/agent.log" | awk '{ exit !($1 <= 2) }' &&
	pass "logged once per state change" || fail "kubelet errors logged every time"
stop_agent

# no kubelet: <namespace>_<name>_<uid> directories name the pods
mkdir -p "$WORK/logpods/batch_report-1_$u2"
start_agent --cgroup-mode v2 --log-pods-dir "$WORK/logpods" || { fail "agent start"; finish; exit; }
sleep 2
scrape "$WORK/m4"
grep -q "^podmeter_pod_cpu_seconds_total{namespace=\"batch\",pod=\"report-1\",uid=\"$u2\"}" "$WORK/m4" &&
	pass "named from the log directory without a kubelet" ||
	fail "not named from the log directory: $(grep "$u2" "$WORK/m4" | head -1)"
stop_agent
finish
