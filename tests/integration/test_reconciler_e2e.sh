#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Real agents -> reconciler -> costs, reconciled with the agents' own
# counters. Two agents (nodes node-a and node-b, each with its token, 2 s
# windows) measure this machine's pods, among them two fake pods named by a
# stand-in kubelet: "web" (team payments, spinning) and "batch" (team data,
# sleeping on its requests). After about 30 s each agent's /metrics is read
# and the agent stopped; a final report its shipper had no time for is
# posted from its spool by hand, as its next start would. Then the
# reconciler's costs (GET /v1/costs and the CLI, SQLite store) equal the
# sum of the agents' own counters over the same span, within 2%: in all,
# by resource, the idle cost, and the two teams' pods.
set -u
. "$(dirname "$0")/lib.sh"

RECONCILER=${RECONCILER:-build/podmeter-reconciler}
V2=$(cg_v2_root)
MEM=$(cg_mem_root)
[ -n "$V2" ] && [ -n "$MEM" ] || { echo "  skip: needs cgroup v2 and a memory controller"; exit 0; }
echo "reconciler e2e: cgroup v2 at $V2"
RPORT=${RPORT:-19484}
KPORT=${KPORT:-19485}
PM_PORT2=${PM_PORT2:-19486}
REC_PID=""
AGENT2_PID=""
trap '[ -n "$AGENT2_PID" ] && kill -KILL "$AGENT2_PID" 2>/dev/null;
	"$PODMETER" unpin --pin-dir "$PM_PIN_DIR-b" >/dev/null 2>&1;
	[ -n "$REC_PID" ] && kill -KILL "$REC_PID" 2>/dev/null; cleanup' EXIT

declare -A UID_OF CTR_OF
for p in web batch; do
	UID_OF[$p]=$(newuid)
	CTR_OF[$p]=$(printf '%064x' $((RANDOM * 65536 + RANDOM)))
	make_pod "kubepods/burstable/pod${UID_OF[$p]}/${CTR_OF[$p]}" ||
		{ fail "create fake pod $p"; finish; exit; }
done
ctr() { echo "kubepods/burstable/pod${UID_OF[$1]}/${CTR_OF[$1]}"; }
# shellcheck disable=SC2046 # one word per cgroup dir
run_in_cgs $(cg_dirs "$(ctr web)") -- sh -c 'while :; do :; done'
# shellcheck disable=SC2046
run_in_cgs $(cg_dirs "$(ctr batch)") -- sleep 300
python3 - "${UID_OF[web]}" "${CTR_OF[web]}" "${UID_OF[batch]}" "${CTR_OF[batch]}" \
	>"$WORK/pods.json" <<'PY'
import json, sys
a = sys.argv[1:]
def pod(uid, cid, name, owner, team, cpu, mem):
    return {"metadata": {"name": name, "namespace": "shop", "uid": uid, "labels": {"team": team},
                         "ownerReferences": [{"kind": "StatefulSet", "name": owner, "controller": True}]},
            "spec": {"nodeName": "node-a", "containers": [{"name": "main", "resources": {
                "requests": {"cpu": cpu, "memory": mem}}}]},
            "status": {"phase": "Running", "qosClass": "Burstable",
                       "containerStatuses": [{"name": "main", "containerID": "containerd://" + cid}]}}
print(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [
    pod(a[0], a[1], "web-0", "web", "payments", "250m", "64Mi"),
    pod(a[2], a[3], "batch-0", "batch", "data", "500m", "256Mi")]}))
PY
echo ok >"$WORK/kmode"
python3 "$(dirname "$0")/fake_kubelet.py" --port "$KPORT" --podlist "$WORK/pods.json" \
	--mode-file "$WORK/kmode" --lifetime 150 &
STARTED_PIDS+=("$!")

printf 'lab/node-a tok-a-%s\nlab/node-b tok-b-%s\n' $RANDOM $RANDOM >"$WORK/node-tokens"
awk '$1 == "lab/node-a" { print $2 }' "$WORK/node-tokens" >"$WORK/a.token"
awk '$1 == "lab/node-b" { print $2 }' "$WORK/node-tokens" >"$WORK/b.token"
echo "test api-$RANDOM$RANDOM" >"$WORK/api-tokens"
API=$(awk '{ print $2 }' "$WORK/api-tokens")
STORE="sqlite:$WORK/rec.db"
"$RECONCILER" serve --listen "127.0.0.1:$RPORT" --store "$STORE" --node-tokens "$WORK/node-tokens" \
	--api-tokens "$WORK/api-tokens" >"$WORK/rec.log" 2>&1 &
REC_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$RPORT/healthz" >/dev/null && break; sleep 0.1; done
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$KPORT/pods" && break; sleep 0.1; done

COMMON=(--cgroup-mode v2 --report-window 2s --cluster lab --kubelet "http://127.0.0.1:$KPORT/pods"
	--kubelet-interval 1s --report-labels team --reconciler "http://127.0.0.1:$RPORT/v1/reports"
	--reconciler-retry-max 1s --price-node-hour 1.2)
start_agent "${COMMON[@]}" --node-name node-a --reconciler-token-file "$WORK/a.token" ||
	{ fail "agent node-a"; finish; exit; }
"$PODMETER" run --listen "127.0.0.1:$PM_PORT2" --interval 1s --spool "$WORK/spool-b" \
	--pin-dir "$PM_PIN_DIR-b" "${COMMON[@]}" --node-name node-b \
	--reconciler-token-file "$WORK/b.token" >"$WORK/agent-b.log" 2>&1 &
AGENT2_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PM_PORT2/healthz" >/dev/null && break; sleep 0.1; done
sleep 30

# the agents' own counters, then stopped at once
curl -sf "$PM_URL/metrics" >"$WORK/m.a"
curl -sf "http://127.0.0.1:$PM_PORT2/metrics" >"$WORK/m.b"
kill -TERM "$AGENT_PID" "$AGENT2_PID"
wait "$AGENT_PID"; wait "$AGENT2_PID"
AGENT_PID=""
AGENT2_PID=""
# what a shipper had no time for: posted from the spool, as the agent's next start would
for n in a b; do
	dir="$WORK/spool"
	[ $n = b ] && dir="$WORK/spool-b"
	for f in "$dir"/*.pmr; do
		[ -e "$f" ] || continue
		seq=$(basename "$f" .pmr | sed 's/^0*//')
		tail -c +17 "$f" >"$WORK/left.gz"
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/x-protobuf" \
			-H "Content-Encoding: gzip" -H "X-Podmeter-Node: node-$n" -H "X-Podmeter-Seq: $seq" \
			-H "Authorization: Bearer $(cat "$WORK/$n.token")" --data-binary "@$WORK/left.gz" \
			"http://127.0.0.1:$RPORT/v1/reports")
		log "node-$n: seq $seq left in the spool, posted: $code"
	done
done
curl -sf -H "Authorization: Bearer $API" "http://127.0.0.1:$RPORT/v1/costs?by=label:team&since=1d" \
	>"$WORK/api.json" || fail "GET /v1/costs"
"$RECONCILER" costs --store "$STORE" --by node --since 1d --format json >"$WORK/cli.json" ||
	fail "costs CLI"
kill -TERM "$REC_PID"
wait "$REC_PID"
REC_PID=""
log "stored: $(sqlite3 "$WORK/rec.db" "SELECT node || ' ' || COUNT(*) FROM ledger GROUP BY node" | tr '\n' ' ')"

python3 - "$WORK/m.a" "$WORK/m.b" "$WORK/api.json" "$WORK/cli.json" "${UID_OF[web]}" \
	"${UID_OF[batch]}" >"$WORK/verdicts" 2>&1 <<'PY'
import json, re, sys
ma, mb, api, cli, web, batch = sys.argv[1:7]
api, cli = json.load(open(api)), json.load(open(cli))
SAMPLE = re.compile(r'^(\w+)\{(.*)\} (\S+)$')
def samples(path):
    for line in open(path):
        m = SAMPLE.match(line.strip())
        if m:
            yield m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(2))), float(m.group(3))
res = ["cpu", "memory", "gpu", "network"]
agents = {r: 0.0 for r in res}
idle, team = 0.0, {"payments": 0.0, "data": 0.0}
for path in (ma, mb):
    for name, lab, v in samples(path):
        if name == "podmeter_pod_cost_dollars_total":
            agents[lab["resource"]] += v
            if lab.get("uid") == web:
                team["payments"] += v
            elif lab.get("uid") == batch:
                team["data"] += v
        elif name == "podmeter_node_idle_cost_dollars_total":
            idle += v
out = []
def check(ok, what):
    out.append(("PASS " if ok else "FAIL ") + what)
def near(a, b, tol=0.02):
    return abs(a - b) <= tol * abs(b) + 1e-9
for name, doc in (("GET /v1/costs by team", api), ("costs --by node", cli)):
    for r in res:
        got = sum(row["cost"][r] for row in doc["rows"])
        if agents[r] > 0 or got > 0:
            check(near(got, agents[r]), "%s: %s cost $%.6f, the agents' /metrics $%.6f (2%%)" % (name, r, got, agents[r]))
    got = sum(row["idle"]["total"] for row in doc["rows"])
    check(near(got, idle), "%s: idle $%.6f, the agents' /metrics $%.6f (2%%)" % (name, got, idle))
check(agents["cpu"] > 0 and idle > 0, "there was cost to count: cpu $%.6f, idle $%.6f" % (agents["cpu"], idle))
rows = {r["label"]: r for r in api["rows"]}
for t in ("payments", "data"):
    got = rows.get(t, {}).get("cost", {}).get("total", 0)
    check(team[t] > 0 and near(got, team[t]), "team %s: $%.6f, its pod's /metrics $%.6f (2%%)" % (t, got, team[t]))
nodes = sorted(r["node"] for r in cli["rows"])
check(nodes == ["node-a", "node-b"], "one row a node: %s" % nodes)
print("\n".join(out))
PY
take_verdicts "$WORK/verdicts"
grep -q "refused" "$WORK/rec.log" && log "reconciler refusals: $(grep -c refused "$WORK/rec.log")"
finish
