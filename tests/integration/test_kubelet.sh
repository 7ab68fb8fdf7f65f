#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Pod names, owners and requests from a stand-in kubelet (a local HTTP server
# serving a PodList written in the kubelet's format), and what the agent does
# when the kubelet answers garbage or goes away: it keeps the last names,
# counts the errors, and keeps measuring. The largest list a node serves (250
# pods with 1 MiB of annotations each) fetched again and again: the agent's
# peak RSS plus its BPF memory against the DaemonSet's memory limit. Without a
# kubelet, names come from /var/log/pods-style directories.
set -u
. "$(dirname "$0")/lib.sh"

V2=$(cg_v2_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
echo "kubelet: stand-in /pods on loopback"
KPORT=${KPORT:-19488}
u1=$(newuid)
u2=$(newuid)
u3=$(newuid)
for u in "$u1" "$u2" "$u3"; do
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
# HTTPS with a certificate made here, and a bearer token
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=kubelet \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
	>/dev/null 2>&1 || { fail "openssl: make a certificate"; finish; exit; }
echo "test-token-$RANDOM" >"$WORK/token"
podlist "$u1" >"$WORK/pods.json"
echo ok >"$WORK/mode"
python3 "$(dirname "$0")/fake_kubelet.py" --port "$KPORT" --podlist "$WORK/pods.json" \
	--mode-file "$WORK/mode" --cert "$WORK/cert.pem" --key "$WORK/key.pem" --lifetime 400 \
	--big-uid "$u3" --big-pods 250 --big-annotation-bytes $((1 << 20)) &
server=$!
STARTED_PIDS+=("$server")
sleep 0.7
sel1="namespace=\"shop\",pod=\"web-5d9c8f7b6-p0\",uid=\"$u1\""

# URLs as people type them: the kubelet without a path means its /pods (the
# stand-in answers 404 elsewhere, as a kubelet does); a path given, as through
# the API server's node proxy, is kept; a URL without a scheme is refused
named_via() {	# named_via URL: an agent given --kubelet URL names the first pod
	local i
	start_agent --cgroup-mode v2 --kubelet "$1" --kubelet-interval 1s \
		--kubelet-ca-file "$WORK/cert.pem" --kubelet-token-file "$WORK/token" || return 1
	for i in $(seq 1 100); do
		curl -sf "$PM_URL/metrics" | grep -q "^podmeter_pod_cpu_seconds_total{$sel1}" && break
		sleep 0.2
	done
	scrape "$WORK/m.url"
	stop_agent
	grep -q "^podmeter_pod_cpu_seconds_total{$sel1}" "$WORK/m.url"
}
if named_via "https://127.0.0.1:$KPORT"; then
	[ "$(cat "$WORK/mode.path")" = /pods ] && pass "--kubelet https://127.0.0.1:$KPORT: GET /pods, pod named" ||
		fail "--kubelet without a path: the kubelet was asked for $(cat "$WORK/mode.path")"
else
	fail "--kubelet without a path: pod not named: $(tail -3 "$WORK/agent.log")"
fi
proxy=/api/v1/nodes/node-a/proxy/pods
if named_via "https://127.0.0.1:$KPORT$proxy"; then
	[ "$(cat "$WORK/mode.path")" = "$proxy" ] && pass "--kubelet ...$proxy: the path kept" ||
		fail "--kubelet with a proxy path: the kubelet was asked for $(cat "$WORK/mode.path")"
else
	fail "--kubelet with a proxy path: pod not named: $(tail -3 "$WORK/agent.log")"
fi
rc=0
timeout 30 "$PODMETER" run --listen "127.0.0.1:$PM_PORT" --pin-dir none \
	--kubelet "127.0.0.1:$KPORT/pods" >"$WORK/badurl.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- '--kubelet: "127.0.0.1:'"$KPORT"'/pods" has no scheme' "$WORK/badurl.log" &&
	pass "--kubelet without a scheme refused, naming the flag" ||
	fail "--kubelet without a scheme: exit $rc: $(head -c 300 "$WORK/badurl.log")"

start_agent --cgroup-mode v2 --kubelet "https://127.0.0.1:$KPORT/pods" --kubelet-interval 1s \
	--kubelet-ca-file "$WORK/cert.pem" --kubelet-token-file "$WORK/token" ||
	{ fail "agent start"; finish; exit; }
sleep 2.5
scrape "$WORK/m1"
grep -q "^podmeter_pod_cpu_seconds_total{$sel1}" "$WORK/m1" && pass "pod named from /pods over HTTPS" ||
	fail "pod not named: $(grep "$u1" "$WORK/m1" | head -2) $(tail -3 "$WORK/agent.log")"
[ "$(cat "$WORK/mode.auth")" = "Bearer $(cat "$WORK/token")" ] &&
	pass "bearer token from the token file sent" || fail "Authorization: $(cat "$WORK/mode.auth")"
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
if curl -sf "$PM_URL/v1/pods" | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["pods"] if p["uid"] == sys.argv[1]][0]
sys.exit(0 if p["namespace"] == "shop" and p["owner"] == {"kind": "Deployment", "name": "web"}
	and p["requests"]["memory_bytes"] == 198217728 and p["limits"]["gpus"] == 1 else 1)' "$u1"; then
	pass "/v1/pods carries names, owner, requests and limits"
else
	fail "/v1/pods: $(curl -sf "$PM_URL/v1/pods" | head -c 400)"
fi
grep -q "^podmeter_pod_cpu_seconds_total{namespace=\"\",pod=\"\",uid=\"$u2\"}" "$WORK/m1" &&
	pass "a pod the kubelet does not list keeps its uid, unnamed" || fail "unlisted pod"

# the kubelet misbehaves: names kept, errors counted, collection goes on
errors_before=$(metric_value "$WORK/m1" podmeter_agent_kubelet_errors_total "")
for mode in 500 truncated garbage hang; do
	echo "$mode" >"$WORK/mode"
	[ "$mode" = hang ] && sleep 12 || sleep 2.5	# a hung request times out after 10 s
	scrape "$WORK/m.$mode"
	e=$(metric_value "$WORK/m.$mode" podmeter_agent_kubelet_errors_total "")
	awk -v a="$errors_before" -v b="$e" 'BEGIN { exit !(b > a) }' &&
		pass "$mode: counted ($errors_before -> $e)" || fail "$mode: not counted ($errors_before -> $e)"
	errors_before=$e
	grep -q "^podmeter_pod_cpu_seconds_total{$sel1}" "$WORK/m.$mode" &&
		pass "$mode: last good names kept" || fail "$mode: names lost"
done
c0=$(metric_value "$WORK/m1" podmeter_agent_collect_duration_seconds_count "")
c1=$(metric_value "$WORK/m.hang" podmeter_agent_collect_duration_seconds_count "")
awk -v a="$c0" -v b="$c1" 'BEGIN { exit !(b >= a + 15) }' &&
	pass "collection went on through a hung kubelet ($c0 -> $c1)" ||
	fail "collection stalled ($c0 -> $c1)"
grep -c "warning: kubelet: GET" "$WORK/agent.log" | awk '{ exit !($1 == 1) }' &&
	pass "logged once for the whole failing spell" || fail "kubelet errors logged every time"
# the kubelet comes back with a second pod: named after the next refresh
podlist "$u1" "$u2" >"$WORK/pods.json"
echo ok >"$WORK/mode"
sleep 12
scrape "$WORK/m.back"
grep -q "^podmeter_pod_cpu_seconds_total{namespace=\"shop\",pod=\"web-5d9c8f7b6-p1\",uid=\"$u2\"}" "$WORK/m.back" &&
	pass "kubelet back: the new pod is named" || fail "kubelet back: $(grep "$u2" "$WORK/m.back" | head -1)"
grep -q "kubelet: GET .*: answering again" "$WORK/agent.log" && pass "recovery logged" ||
	fail "recovery not logged"

# the largest list a node serves, again and again: memory stays bounded
sent() { if [ -f "$WORK/mode.sent" ]; then wc -l <"$WORK/mode.sent"; else echo 0; fi; }
base_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$AGENT_PID/status")
e0=$(metric_value "$WORK/m.back" podmeter_agent_kubelet_errors_total "")
echo big >"$WORK/mode"
for _ in $(seq 1 180); do
	[ "$(sent)" -ge 3 ] && break
	kill -0 "$AGENT_PID" 2>/dev/null || break
	sleep 1
done
sleep 2	# the last list parsed and published
scrape "$WORK/m.big"
lists=$(sent)
list_bytes=$(sort -n "$WORK/mode.sent" 2>/dev/null | head -1)
peak_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$AGENT_PID/status")
# BPF maps and programs are charged to the agent's memory cgroup, not its RSS
bpf_kb=$(for fd in /proc/$AGENT_PID/fd/*; do
	case $(readlink "$fd" 2>/dev/null) in
	anon_inode:bpf-map | anon_inode:bpf-prog) cat "/proc/$AGENT_PID/fdinfo/${fd##*/}" ;;
	esac
done | awk '$1 == "memlock:" { s += $2 } END { printf "%d\n", s / 1024 }')
limit_mib=$(python3 -c '
import sys, yaml
ds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "DaemonSet"][0]
m = ds["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
print(int(m[:-2]) * {"Mi": 1, "Gi": 1024}[m[-2:]])' packaging/kubernetes/daemonset.yaml)
log "largest list: $lists lists of $((${list_bytes:-0} >> 20)) MiB; agent VmHWM $((base_kb >> 10)) MiB" \
	"before, $((peak_kb >> 10)) MiB after; BPF memory $((bpf_kb >> 10)) MiB;" \
	"limit ${limit_mib} MiB"
[ "$lists" -ge 3 ] && [ "${list_bytes:-0}" -ge $((250 << 20)) ] &&
	pass "250 pods of 1 MiB annotations sent whole $lists times" ||
	fail "big lists sent: $lists of ${list_bytes:-0} bytes"
grep -q "^podmeter_pod_cpu_seconds_total{namespace=\"bulk\",pod=\"big-0\",uid=\"$u3\"}" "$WORK/m.big" &&
	pass "a pod named from the 250 MiB list" ||
	fail "not named from the big list: $(grep "$u3" "$WORK/m.big" | head -1) $(tail -3 "$WORK/agent.log")"
e1=$(metric_value "$WORK/m.big" podmeter_agent_kubelet_errors_total "")
[ "$e1" = "$e0" ] && pass "no kubelet error over the big lists" || fail "kubelet errors $e0 -> $e1"
[ $(((peak_kb + bpf_kb) >> 10)) -lt "$limit_mib" ] &&
	pass "peak RSS + BPF $(((peak_kb + bpf_kb) >> 10)) MiB < the DaemonSet's limit $limit_mib MiB" ||
	fail "peak RSS + BPF $(((peak_kb + bpf_kb) >> 10)) MiB >= limit $limit_mib MiB"
# parsed as it streams: what the list adds is a small fraction of it
[ $((peak_kb - base_kb)) -lt $((${list_bytes:-0} / 1024 / 16)) ] &&
	pass "RSS grew $(((peak_kb - base_kb) >> 10)) MiB for a $((${list_bytes:-0} >> 20)) MiB list" ||
	fail "RSS grew $(((peak_kb - base_kb) >> 10)) MiB for a $((${list_bytes:-0} >> 20)) MiB list"
echo ok >"$WORK/mode"
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
