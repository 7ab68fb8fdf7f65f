#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# podmeter-reconciler serve over real HTTP, SQLite store (PostgreSQL:
# test_reconciler_pg.sh), reports made by the load generator:
#   - it refuses to start without authentication;
#   - node tokens: 401 without a token or with an unknown one, 403 with
#     another node's, 200 with the node's own; the file re-read on SIGHUP;
#   - every bound refuses with its status and is counted under its reason:
#     media type, gzip, protobuf, header mismatch, body size, inflated size,
#     decoded size (a million empty pods), time per request (a slow client:
#     mid-body there is no answering it, so it is counted and closed),
#     connections per client;
#   - exactly once: a report twice is one report; a far jump in sequence is
#     stored and counted and later reports are not duplicates; a reused
#     sequence is refused (409);
#   - 20 simulated nodes' reports, duplicates and reordering included: the
#     costs at GET /v1/costs (API token) and from the CLI are the sums of
#     what the load generator sent, to the nanodollar;
#   - TokenReview against a stand-in API server: the token's node claim
#     names the node; answers are cached; an API server that is down is 503;
#   - mTLS: a client certificate names its node (CN system:node:NAME);
#   - retention runs by itself (--compact-every) and keeps the rollups;
#   - the agent does not link what only the reconciler needs.
set -u
. "$(dirname "$0")/reconciler_lib.sh"
REC_PORT=${REC_PORT:-19480}
REC_URL="http://127.0.0.1:$REC_PORT"
APORT=${APORT:-19481}
DB="sqlite:$RWORK/rec.db"
N0=sim-node-00000
N1=sim-node-00001

PODMETER=${PODMETER:-build/podmeter}
needed=$(objdump -p "$PODMETER" 2>/dev/null | awk '$1 == "NEEDED" { print $2 }' | tr '\n' ' ')
rneeded=$(objdump -p "$RECONCILER" 2>/dev/null | awk '$1 == "NEEDED" { print $2 }' | tr '\n' ' ')
check 'echo "$rneeded" | grep -q libsqlite3 && ! echo "$needed" | grep -Eq "libsqlite3|libpq|libgit2"' \
	"the agent links none of libsqlite3, libpq, libgit2 (it links: $needed)"
"$RECONCILER" serve --listen "127.0.0.1:$REC_PORT" --store "$DB" >"$RWORK/noauth.log" 2>&1
rc=$?
check '[ $rc -eq 2 ] && grep -q "refusing to start without authentication" "$RWORK/noauth.log"' \
	"no authentication given: refuses to start ($rc: $(head -c 80 "$RWORK/noauth.log"))"

"$LOAD" --write-tokens "$RWORK/tokens" --nodes 20 || { fail "load --write-tokens"; finish; exit; }
tok() { awk -v n="lab/$1" '$1 == n { print $2 }' "$RWORK/tokens"; }
T0=$(tok $N0)
T1=$(tok $N1)
echo "grafana api-$RANDOM$RANDOM" >"$RWORK/api"
API=$(awk '{ print $2 }' "$RWORK/api")
for s in 1 2 3 4; do "$LOAD" --dump "$RWORK/r$s.gz" --seq-start $s --pods 5; done
"$LOAD" --dump "$RWORK/jump.gz" --seq-start 5000000 --pods 5 --time-base $(($(date +%s) - 5000000 * 60))
"$LOAD" --dump "$RWORK/reused.gz" --seq-start 1 --pods 5 --time-base 1700000000
start_reconciler --store "$DB" --node-tokens "$RWORK/tokens" --api-tokens "$RWORK/api" \
	--request-timeout 3s || { fail "reconciler start"; finish; exit; }

log "who may send"
s=$(post_report "" $N0 "$RWORK/r1.gz")
check '[ "$s" = 401 ]' "no token: $s"
s=$(post_report "tok-nobody-knows" $N0 "$RWORK/r1.gz")
check '[ "$s" = 401 ]' "unknown token: $s"
s=$(post_report "$T1" $N0 "$RWORK/r1.gz")
check '[ "$s" = 403 ] && grep -q "$N1" "$RWORK/body"' "another node's token: $s ($(cat "$RWORK/body"))"
s=$(post_report "$T0" $N0 "$RWORK/r1.gz")
check '[ "$s" = 200 ] && grep -qx stored "$RWORK/body"' "the node's own token: $s $(cat "$RWORK/body")"
s=$(post_report "$T0" $N0 "$RWORK/r1.gz")
check '[ "$s" = 200 ] && grep -qx duplicate "$RWORK/body"' "the same report again: $s $(cat "$RWORK/body")"

log "bounds and malformed input"
s=$(post_report "$T1" $N1 "$RWORK/r2.gz")
check '[ "$s" = 400 ] && grep -q header_mismatch "$RWORK/body"' "X-Podmeter-Node names another node than the body: $s"
s=$(post_report "$T0" $N0 "$RWORK/r2.gz" -H "X-Podmeter-Seq: 9")
check '[ "$s" = 400 ]' "X-Podmeter-Seq not the body's: $s"
s=$(status -X POST -H "Content-Type: text/plain" -H "Content-Encoding: gzip" -H "X-Podmeter-Node: $N0" \
	-H "Authorization: Bearer $T0" --data-binary "@$RWORK/r2.gz" "$REC_URL/v1/reports")
check '[ "$s" = 415 ]' "wrong Content-Type: $s"
printf 'not gzip at all' >"$RWORK/junk"
s=$(post_report "$T0" $N0 "$RWORK/junk")
check '[ "$s" = 400 ] && grep -q bad_gzip "$RWORK/body"' "a body that is not gzip: $s"
python3 - "$RWORK" <<'PY'
import gzip, os, sys
d = sys.argv[1]
open(d + "/notpb.gz", "wb").write(gzip.compress(b"\xff" * 64))
open(d + "/zeros.gz", "wb").write(gzip.compress(bytes(33 << 20), 1))
# a node name, then a million empty PodReports (field 9, length 0)
open(d + "/empty.gz", "wb").write(gzip.compress(b"\x12\x0esim-node-00000" + b"\x4a\x00" * 1000000))
open(d + "/big", "wb").write(os.urandom(5 << 20))
PY
s=$(post_report "$T0" $N0 "$RWORK/notpb.gz")
check '[ "$s" = 400 ] && grep -q bad_protobuf "$RWORK/body"' "gzip of no protobuf: $s"
s=$(post_report "$T0" $N0 "$RWORK/zeros.gz")
check '[ "$s" = 413 ] && grep -q inflated_too_large "$RWORK/body"' "33 MiB once inflated: $s"
s=$(post_report "$T0" $N0 "$RWORK/empty.gz")
check '[ "$s" = 413 ] && grep -q decoded_too_large "$RWORK/body"' \
	"a million empty pods ($(stat -c %s "$RWORK/empty.gz") bytes): $s"
s=$(post_report "$T0" $N0 "$RWORK/big")
check '[ "$s" = 413 ] && grep -q body_too_large "$RWORK/body"' "a 5 MiB body: $s"
python3 - "$REC_PORT" "$T0" >"$RWORK/slow" 2>&1 <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
           "Content-Encoding: gzip\r\nX-Podmeter-Node: sim-node-00000\r\n"
           "Authorization: Bearer %s\r\nContent-Length: 100\r\n\r\n" % sys.argv[2]).encode())
t0 = time.time()
answer = b""
s.settimeout(1)
try:
    for i in range(20):		# a byte a second: never idle, never done
        s.sendall(b"x")
        try:
            answer = s.recv(200)
        except socket.timeout:
            continue
        break			# an answer, or b"": closed
except OSError:
    pass			# reset: closed
if answer:
    print("answered %s after %.0f s" % (answer.split(b"\r\n")[0].decode(), time.time() - t0))
else:
    print("closed after %.0f s" % (time.time() - t0))
PY
check 'grep -Eq "^closed after ([3-9]|1[0-5]) s" "$RWORK/slow"' \
	"a client dripping a byte a second: closed at the 3 s bound (timeout counted below) ($(cat "$RWORK/slow"))"
python3 - "$REC_PORT" >"$RWORK/conns" <<'PY'
import socket, sys, time
socks, closed = [], set()
for i in range(80):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.setblocking(False)
    socks.append(s)
deadline = time.time() + 10	# however busy the machine, the server gets to them
while len(closed) < 16 and time.time() < deadline:
    time.sleep(0.2)
    for i, s in enumerate(socks):
        if i in closed:
            continue
        try:
            if s.recv(1) == b"":
                closed.add(i)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(i)
print(len(closed))
for s in socks:
    s.close()
PY
c=$(cat "$RWORK/conns")
check '[ "$c" -ge 16 ]' "80 connections from one client: $c closed at once (64 a client)"
s=$(post_report "$T0" $N0 "$RWORK/r2.gz")
check '[ "$s" = 200 ]' "and the next request is served: $s"

log "sequences"
s=$(post_report "$T0" $N0 "$RWORK/jump.gz")
check '[ "$s" = 200 ] && grep -qx stored "$RWORK/body"' "seq 5000000 after 2: stored ($s)"
check '[ "$(metric podmeter_reconciler_seq_jumps_total "")" = 1 ]' "the jump counted"
grep -q "far past the node's last sequence" "$RWORK/serve.log" && pass "the jump logged" || fail "the jump not logged"
s=$(post_report "$T0" $N0 "$RWORK/r3.gz")
check '[ "$s" = 200 ] && grep -qx stored "$RWORK/body"' "seq 3 after the jump: not a duplicate ($s $(cat "$RWORK/body"))"
s=$(post_report "$T0" $N0 "$RWORK/reused.gz")
check '[ "$s" = 409 ] && grep -q seq_reused "$RWORK/body"' "seq 1 for another window: $s"

log "SIGHUP re-reads the tokens"
sed -i "s|^lab/$N0 .*|lab/$N0 tok-renewed-$RANDOM|" "$RWORK/tokens"
NEW=$(tok $N0)
# wait_log N TEXT: until TEXT is in the log N times (a busy machine may take its time)
wait_log() {
	for _ in $(seq 1 100); do
		[ "$(grep -c "$2" "$RWORK/serve.log")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
kill -HUP "$REC_PID"
wait_log 1 "tokens re-read" || fail "SIGHUP: no reload logged"
s=$(post_report "$T0" $N0 "$RWORK/r4.gz")
check '[ "$s" = 401 ]' "the old token after SIGHUP: $s"
s=$(post_report "$NEW" $N0 "$RWORK/r4.gz")
check '[ "$s" = 200 ]' "the new one: $s"
printf 'lab/a tok-same\nlab/b tok-same\n' >"$RWORK/tokens.bad"
cp "$RWORK/tokens" "$RWORK/tokens.good"
cp "$RWORK/tokens.bad" "$RWORK/tokens"
kill -HUP "$REC_PID"
wait_log 1 "keeping the tokens" || fail "SIGHUP with a bad file: nothing logged"
cp "$RWORK/tokens.good" "$RWORK/tokens"
s=$(post_report "$NEW" $N0 "$RWORK/r4.gz")
check '[ "$s" = 200 ] && grep -q "keeping the tokens" "$RWORK/serve.log"' \
	"a bad file on SIGHUP: refused, the tokens kept ($s)"

log "every refusal counted"
for want in unauthenticated:3 forbidden:1 header_mismatch:2 media_type:1 bad_gzip:1 bad_protobuf:1 \
	inflated_too_large:1 decoded_too_large:1 body_too_large:1 timeout:1 seq_reused:1; do
	r=${want%:*}
	n=${want#*:}
	v=$(metric podmeter_reconciler_refusals_total "reason=\"$r\"")
	check '[ "$v" = "$n" ]' "refusals_total{reason=\"$r\"} $v (caused $n)"
done
stop_reconciler || fail "exit status on SIGTERM"

log "20 nodes x 10 reports, duplicates and reordering: costs are the sums sent"
"$LOAD" --write-tokens "$RWORK/tokens.load" --nodes 20
start_reconciler --store "sqlite:$RWORK/load.db" --node-tokens "$RWORK/tokens.load" \
	--api-tokens "$RWORK/api" || { fail "reconciler start"; finish; exit; }
"$LOAD" --url "$REC_URL/v1/reports" --nodes 20 --reports 10 --pods 10 --concurrency 4 \
	--dup 0.1 --reorder 0.1 --seq-start 1000 --sums "$RWORK/sums.json" >"$RWORK/load.out" 2>&1
cat "$RWORK/load.out" | sed 's/^/  /'
s=$(status "$REC_URL/v1/costs?by=namespace&since=3d")
check '[ "$s" = 401 ]' "GET /v1/costs without an API token: $s"
s=$(status -H "Authorization: Bearer $T1" "$REC_URL/v1/costs?by=namespace&since=3d")
check '[ "$s" = 401 ]' "GET /v1/costs with a node's token: $s"
s=$(status -H "Authorization: Bearer $API" "$REC_URL/v1/costs?by=label:team&since=3d")
cp "$RWORK/body" "$RWORK/costs.json"
check '[ "$s" = 200 ]' "GET /v1/costs?by=label:team with an API token: $s"
"$RECONCILER" costs --store "sqlite:$RWORK/load.db" --by node --since 3d --format json \
	>"$RWORK/cli.json" 2>"$RWORK/cli.err" || fail "costs CLI: $(cat "$RWORK/cli.err")"
python3 - "$RWORK/sums.json" "$RWORK/costs.json" "$RWORK/cli.json" >"$RWORK/verdicts" 2>&1 <<'PY'
import json, sys
sums, api, cli = (json.load(open(p)) for p in sys.argv[1:4])
out = []
def check(ok, what):
    out.append(("PASS " if ok else "FAIL ") + what)
res = ["cpu", "memory", "gpu", "network"]
want_cost = [v / 1e9 for v in sums["cost"]]
want_idle = sum(sums["idle"]) / 1e9
for name, doc in (("GET /v1/costs by label:team", api), ("costs --by node", cli)):
    got = [sum(r["cost"][k] for r in doc["rows"]) for k in res]
    idle = sum(r["idle"]["total"] for r in doc["rows"])
    check(all(abs(g - w) <= 1e-9 * max(w, 1) + 1e-9 for g, w in zip(got, want_cost)),
          "%s: cost by resource %s, sent %s" % (name, ["%.6f" % g for g in got], ["%.6f" % w for w in want_cost]))
    check(abs(idle - want_idle) <= 1e-9 * want_idle + 1e-9, "%s: idle %.6f, sent %.6f" % (name, idle, want_idle))
    check(abs(sum(r["share"] for r in doc["rows"]) - 1) < 1e-6, "%s: shares add up to 1" % name)
check(len(cli["rows"]) == 20, "one row a node: %d" % len(cli["rows"]))
teams = sorted(r["label"] for r in api["rows"])
check(teams == ["__idle__"] + ["team-%d" % i for i in range(5)], "rows by team: %s" % teams)
check(sums["acked"] == 200, "every report acknowledged: %d of 200" % sums["acked"])
print("\n".join(out))
PY
while read -r v line; do [ "$v" = PASS ] && pass "$line" || fail "$line"; done <"$RWORK/verdicts"
st=$(metric podmeter_reconciler_reports_total 'verdict="stored"')
du=$(metric podmeter_reconciler_reports_total 'verdict="duplicate"')
ld=$(python3 -c "import json; d=json.load(open('$RWORK/sums.json'))['nodes']; print(sum(n['duplicates'] for n in d.values()))")
check '[ "$st" = 200 ] && [ "$du" = "$ld" ]' "reports_total: $st stored, $du duplicates (the load generator was told $ld)"
lag=$(metric podmeter_reconciler_node_lag_seconds "node=\"$N1\"")
check '[ "$lag" != missing ]' "per-node lag: $N1 ${lag}s"
check '[ "$(metric podmeter_reconciler_store_bytes "")" -gt 0 ]' "store size in /metrics"
check '[ "$(metric podmeter_reconciler_transaction_seconds_count "")" -gt 0 ]' "transaction latency in /metrics"
stop_reconciler || fail "exit status on SIGTERM"

log "retention by itself: the windows (a day old) past a 1 h retention go, the rollups stay"
start_reconciler --store "sqlite:$RWORK/load.db" --node-tokens "$RWORK/tokens.load" \
	--retention 1h --compact-every 1s || { fail "reconciler start"; finish; exit; }
for _ in $(seq 1 100); do
	[ "$(metric podmeter_reconciler_compactions_total 'result="ok"')" -ge 1 ] 2>/dev/null && break
	sleep 0.2
done
left=$(sqlite3 "$RWORK/load.db" "SELECT COUNT(*) FROM pod_windows")
deleted=$(metric podmeter_reconciler_compaction_rows_deleted_total "")
check '[ "$left" = 0 ] && [ "$deleted" -ge 2000 ]' "pod-windows left: $left, rows deleted: $deleted (200 reports x 10 pods)"
"$RECONCILER" costs --store "sqlite:$RWORK/load.db" --by node --since 3d --format json >"$RWORK/after.json"
python3 -c "
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(abs(a['total']['total'] - b['total']['total']) > 1e-9)" "$RWORK/cli.json" "$RWORK/after.json" &&
	pass "the costs from the rollups are what they were" || fail "costs changed by retention"
stop_reconciler || fail "exit status on SIGTERM"

log "TokenReview against a stand-in API server"
echo "reconciler-sa-$RANDOM" >"$RWORK/own.token"
printf 'sa-token-a %s\nsa-token-b %s\nsa-token-other - \nsa-token-user %s system:serviceaccount:default:x\n' \
	$N0 $N1 $N0 >"$RWORK/sa.tokens"
echo ok >"$RWORK/amode"
python3 "$(dirname "$0")/fake_apiserver.py" --port "$APORT" --tokens "$RWORK/sa.tokens" \
	--caller-token "$(cat "$RWORK/own.token")" --mode-file "$RWORK/amode" --lifetime 120 &
RSTARTED+=("$!")
for _ in $(seq 1 100); do	# up when it answers (401: no caller token)
	[ "$(status -X POST "http://127.0.0.1:$APORT/")" = 401 ] && break
	sleep 0.1
done
start_reconciler --store "sqlite:$RWORK/tr.db" \
	--tokenreview "http://127.0.0.1:$APORT/apis/authentication.k8s.io/v1/tokenreviews" \
	--tokenreview-token-file "$RWORK/own.token" --tokenreview-ca-file "" ||
	{ fail "reconciler start"; finish; exit; }
s=$(post_report sa-token-a $N0 "$RWORK/r1.gz")
check '[ "$s" = 200 ]' "the node's ServiceAccount token: $s"
s=$(post_report sa-token-a $N0 "$RWORK/r2.gz")
check '[ "$s" = 200 ] && [ "$(grep -c "^sa-token-a " "$RWORK/amode.log")" = 1 ]' \
	"again: $s, the review cached ($(grep -c "^sa-token-a " "$RWORK/amode.log") review)"
check 'grep -q "^sa-token-a podmeter-reconciler$" "$RWORK/amode.log"' "the audience asked: podmeter-reconciler"
s=$(post_report sa-token-b $N0 "$RWORK/r3.gz")
check '[ "$s" = 403 ]' "node-b's token for node-a: $s"
s=$(post_report sa-token-zzz $N0 "$RWORK/r3.gz")
check '[ "$s" = 401 ]' "a token the API server does not know: $s"
s=$(post_report sa-token-other $N0 "$RWORK/r3.gz")
check '[ "$s" = 401 ] && grep -q "node claim" "$RWORK/body"' "a token without a node claim: $s"
s=$(post_report sa-token-user $N0 "$RWORK/r3.gz")
check '[ "$s" = 401 ]' "another ServiceAccount's token: $s"
echo down >"$RWORK/amode"
s=$(post_report sa-token-new $N0 "$RWORK/r3.gz")
check '[ "$s" = 503 ] && grep -q auth_unavailable "$RWORK/body"' "API server down: $s (the agent retries)"
v=$(metric podmeter_reconciler_tokenreview_requests_total 'result="error"')
check '[ "$v" = 1 ]' "tokenreview errors counted: $v"
stop_reconciler

log "mTLS: the client certificate names the node"
(cd "$RWORK" &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=podmeter-ca -keyout ca.key -out ca.pem &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=reconciler -keyout srv.key -out srv.csr &&
	printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile srv.ext -out srv.pem &&
	for n in $N0 $N1; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=system:node:$n" -keyout "$n.key" -out "$n.csr" &&
		openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out "$n.pem" || exit 1
	done
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=system:node:$N0" -keyout rogue.key -out rogue.pem
) >"$RWORK/openssl.log" 2>&1 || { fail "openssl: $(tail -2 "$RWORK/openssl.log")"; finish; exit; }
start_reconciler --store "sqlite:$RWORK/tls.db" --tls-cert "$RWORK/srv.pem" --tls-key "$RWORK/srv.key" \
	--client-ca "$RWORK/ca.pem" || { fail "reconciler start (TLS)"; finish; exit; }
REC_URL="https://127.0.0.1:$REC_PORT"
TLS=(--cacert "$RWORK/ca.pem")
s=$(post_report "" $N0 "$RWORK/r1.gz" "${TLS[@]}" --cert "$RWORK/$N0.pem" --key "$RWORK/$N0.key")
check '[ "$s" = 200 ]' "node-a's certificate for node-a: $s"
s=$(post_report "" $N0 "$RWORK/r2.gz" "${TLS[@]}" --cert "$RWORK/$N1.pem" --key "$RWORK/$N1.key")
check '[ "$s" = 403 ]' "node-b's certificate for node-a: $s"
s=$(post_report "" $N0 "$RWORK/r2.gz" "${TLS[@]}")
check '[ "$s" = 401 ]' "no certificate: $s"
s=$(post_report "" $N0 "$RWORK/r2.gz" "${TLS[@]}" --cert "$RWORK/rogue.pem" --key "$RWORK/rogue.key")
check '[ "$s" = 401 ]' "a certificate the CA did not sign: $s"
stop_reconciler
finish
