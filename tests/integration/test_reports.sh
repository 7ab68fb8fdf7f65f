#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Reports end to end: agent -> spool -> shipper -> (a faulty proxy) ->
# `podmeter receive`, on loopback, with 1 s windows.
#   - the receiver stopped for 30 s, then restarted;
#   - the proxy answering 500, hanging past the timeout, closing mid-body;
#   - the agent killed with SIGKILL and restarted on the same spool;
# then every sequence number is at the receiver exactly once and in order, or
# still in the spool; and the CPU a pod used, summed over all reports, equals
# the kernel's cpu.stat for it (1%). A report decoded by protoc (a decoder
# nobody here wrote) shows what `podmeter decode` shows. And a spool on a
# tiny tmpfs: a clear error, the oldest dropped and counted, the agent goes on.
set -u
. "$(dirname "$0")/lib.sh"

V2=$(cg_v2_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
echo "reports: cgroup v2 at $V2"
RPORT=${RPORT:-19490}
PPORT=${PPORT:-19491}
RECV="$WORK/recv"
SPOOL="$WORK/spool"
TINY="$WORK/tiny"
trap 'umount "$TINY" 2>/dev/null; cleanup' EXIT

start_receiver() {
	"$PODMETER" receive --listen "127.0.0.1:$RPORT" --out "$RECV" >>"$WORK/recv.log" 2>&1 &
	RECV_PID=$!
	STARTED_PIDS+=("$RECV_PID")
	for _ in $(seq 1 50); do
		curl -s -o /dev/null "http://127.0.0.1:$RPORT/" && return 0
		sleep 0.1
	done
	return 1
}
AGENT_FLAGS=(--cgroup-mode v2 --report-window 1s --node-name "test-node" --cluster lab
	--reconciler "http://127.0.0.1:$PPORT/v1/reports" --reconciler-timeout 2s
	--reconciler-retry-max 2s)

start_receiver || { fail "receiver did not start: $(cat "$WORK/recv.log")"; finish; exit; }
echo pass >"$WORK/mode"
python3 "$(dirname "$0")/fault_proxy.py" --port "$PPORT" --to "127.0.0.1:$RPORT" \
	--mode-file "$WORK/mode" --lifetime 240 &
STARTED_PIDS+=("$!")
sleep 0.5
start_agent "${AGENT_FLAGS[@]}" || { fail "agent start"; finish; exit; }

# a pod that spins for about 2 s, born after the agent: all its CPU is in the reports
uid=$(newuid)
ctr="$V2/kubepods/burstable/pod$uid/$(printf '%064x' $RANDOM)"
mkcg "$ctr" || { fail "create fake pod"; finish; exit; }
run_in_cg "$ctr" timeout 2 sh -c 'while :; do :; done'
sleep 4

log "receiver stopped for 30 s"
kill -TERM "$RECV_PID"
wait "$RECV_PID" 2>/dev/null
sleep 30
start_receiver || fail "receiver did not restart"
sleep 6
for mode in 500 hang close; do
	log "proxy: $mode"
	echo "$mode" >"$WORK/mode"
	sleep 5
	echo pass >"$WORK/mode"
	sleep 4
done
scrape "$WORK/m.faults"

log "agent killed with SIGKILL, restarted on the same spool"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=""
mv "$WORK/agent.log" "$WORK/agent.1.log"
start_agent "${AGENT_FLAGS[@]}" || { fail "agent restart"; finish; exit; }
sleep 5
stop_agent || fail "agent exit status on SIGTERM"
grep -q "warning" "$WORK/recv.log" && log "receiver: $(grep -c warning "$WORK/recv.log") warnings"

# every sequence number: at the receiver once, in order, or still spooled
python3 - "$RECV/reports.jsonl" "$SPOOL" "$uid" "$(kernel_cpu_ns "$ctr")" \
	"$PODMETER" >"$WORK/verdicts" 2>&1 <<'PY'
import json, os, subprocess, sys
recv, spool, uid, kernel_ns, podmeter = sys.argv[1:6]
got = [json.loads(l) for l in open(recv)]
seqs = [r["seq"] for r in got]
spooled = sorted(int(f[:-4]) for f in os.listdir(spool) if f.endswith(".pmr"))
out = []
def check(ok, what):
    out.append(("PASS " if ok else "FAIL ") + what)
check(seqs == list(range(1, len(seqs) + 1)),
      "receiver: %d reports, seq 1..%d, each once, in order%s" %
      (len(seqs), len(seqs), "" if seqs == list(range(1, len(seqs) + 1)) else ": %s" % seqs))
check(all(r["node"] == "test-node" and r["cluster"] == "lab" for r in got), "node and cluster")
want_spooled = list(range(len(seqs) + 1, len(seqs) + 1 + len(spooled)))
check(spooled == want_spooled,
      "the spool holds the rest, if any (the final report may not have gone out): %s" % spooled)
reports = got + [json.loads(subprocess.run([podmeter, "decode", os.path.join(spool, "%020d.pmr" % s)],
                                           capture_output=True, check=True, text=True).stdout)
                 for s in spooled]
check(any(r["final"] for r in reports[-1:]), "the last report is marked final")
cpu = sum(p["cpu_usec"] for r in reports for p in r["pods"] if p["uid"] == uid)
kernel_us = int(kernel_ns) / 1000
check(abs(cpu - kernel_us) <= 0.01 * kernel_us and kernel_us > 1e5,  # a busy machine gives the 2 s spin less
      "pod CPU summed over %d reports %.0f us, kernel cpu.stat %.0f us (1%%)" %
      (len(reports), cpu, kernel_us))
ends = [(r["window_start"], r["window_end"]) for r in got]
gaps = [i for i in range(1, len(ends)) if abs(ends[i][0] - ends[i - 1][1]) > 1e-6]
check(len(gaps) <= 1, "windows chain end to start (one break allowed: the SIGKILL), breaks at %s" % gaps)
print("\n".join(out))
PY
take_verdicts "$WORK/verdicts"
for mode in 500 hang close; do
	grep -q "^$mode " "$WORK/mode.log" && pass "proxy saw a '$mode' request" ||
		fail "the '$mode' fault was never exercised"
done
r=$(metric_value "$WORK/m.faults" podmeter_agent_reports_retries_total "")
awk -v r="$r" 'BEGIN { exit !(r >= 3) }' && pass "retries counted: $r" || fail "retries: $r"
grep -q "duplicate" "$WORK/recv.log" && pass "receiver dropped a duplicate (the answer lost mid-body)" ||
	fail "no duplicate seen after 'close': $(tail -3 "$WORK/recv.log")"

# a spool on a tiny tmpfs: clear error, oldest dropped and counted, still running
mkdir -p "$TINY" && mount -t tmpfs -o size=16k tmpfs "$TINY" || { fail "mount tmpfs"; finish; exit; }
for i in $(seq 1 40); do
	mkcg "$V2/kubepods/besteffort/pod$(newuid)" || break
done
mv "$WORK/agent.log" "$WORK/agent.2.log"
start_agent --cgroup-mode v2 --report-window 1s --spool "$TINY" --spool-max-bytes 1Mi ||
	{ fail "agent start on tmpfs"; finish; exit; }
sleep 12
scrape "$WORK/m.tiny"
d=$(metric_value "$WORK/m.tiny" podmeter_agent_reports_dropped_total "")
w=$(metric_value "$WORK/m.tiny" podmeter_agent_reports_written_total "")
awk -v d="$d" 'BEGIN { exit !(d >= 1) }' && pass "tiny spool: $d dropped (counted), $w written" ||
	fail "tiny spool: dropped $d, written $w"
grep -q "No space left on device" "$WORK/agent.log" && pass "tiny spool: the error says why" ||
	fail "tiny spool: no clear error: $(grep -i spool "$WORK/agent.log" | tail -2)"
c1=$(metric_value "$WORK/m.tiny" podmeter_agent_collect_duration_seconds_count "")
sleep 2
scrape "$WORK/m.tiny2"
c2=$(metric_value "$WORK/m.tiny2" podmeter_agent_collect_duration_seconds_count "")
awk -v a="$c1" -v b="$c2" 'BEGIN { exit !(b > a) }' && pass "tiny spool: the agent keeps collecting" ||
	fail "tiny spool: collection stopped ($c1 -> $c2)"
# interop: protoc decodes a spooled report the same way
f=$(ls "$TINY"/*.pmr 2>/dev/null | tail -1)
if [ -n "$f" ]; then
	tail -c +17 "$f" | gzip -dc | protoc --decode podmeter.v1.NodeReport -Iexporter \
		exporter/podmeter.proto >"$WORK/protoc.txt" 2>&1
	"$PODMETER" decode "$f" >"$WORK/decode.json"
	python3 - "$WORK/protoc.txt" "$WORK/decode.json" <<'PY' && pass "protoc --decode agrees with podmeter decode" ||
import json, re, sys
text = open(sys.argv[1]).read()
j = json.load(open(sys.argv[2]))
seq = int(re.search(r"^seq: (\d+)$", text, re.M).group(1))
node = re.search(r'^node: "(.*)"$', text, re.M).group(1)
uids = re.findall(r'^  uid: "(.*)"$', text, re.M)
cpu = [int(x) for x in re.findall(r"^  cpu_usec: (\d+)$", text, re.M)]
ok = (seq == j["seq"] and node == j["node"] and uids == [p["uid"] for p in j["pods"]]
      and cpu == [p["cpu_usec"] for p in j["pods"] if p["cpu_usec"]])
sys.exit(0 if ok and uids else 1)
PY
		fail "protoc and podmeter decode differ: $(head -c 300 "$WORK/protoc.txt")"
else
	fail "no spooled report to decode"
fi

# a report whose empty pods would unpack and render a thousandfold: refused from its
# packed bytes (413), the receiver's memory barely moving
bomb="tests/fuzz/regress/decode/empty-pods-1MiB.gz"
if [ -f "$bomb" ] && [ -n "$RECV_PID" ]; then
	rss0=$(awk '/^VmHWM/ { print $2 }' "/proc/$RECV_PID/status")
	code=$(curl -s -o "$WORK/bomb.out" -w '%{http_code}' -m 20 --data-binary "@$bomb" \
		-H 'Content-Type: application/x-protobuf' -H 'Content-Encoding: gzip' \
		-H 'X-Podmeter-Node: bomb' -H 'X-Podmeter-Seq: 1' "http://127.0.0.1:$RPORT/v1/reports")
	rss1=$(awk '/^VmHWM/ { print $2 }' "/proc/$RECV_PID/status")
	[ "$code" = 413 ] && [ $((rss1 - rss0)) -lt 65536 ] &&
		pass "1 MiB of empty pods: $code ($(head -c 120 "$WORK/bomb.out")), peak RSS +$(((rss1 - rss0) / 1024)) MiB" ||
		fail "1 MiB of empty pods: $code, peak RSS ${rss0} -> ${rss1} kB"
fi

stop_agent || fail "agent exit status"
umount "$TINY"
finish
