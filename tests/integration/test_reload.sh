#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# SIGHUP reloads prices, network classes and thresholds from the config file
# while a pod burns CPU: the new price shows, the classes in the kernel are
# the new ones, and the pod's CPU seconds go on from where they were (still
# matching cpu.stat). A bad file is refused with the running config kept.
set -u
. "$(dirname "$0")/lib.sh"

ROOT=$(cg_v2_root)
[ -n "$ROOT" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
echo "reload: SIGHUP with a changed config file"

uid=$(newuid)
pod="$ROOT/kubepods/burstable/pod$uid"
mkcg "$pod" || { fail "create $pod"; finish; exit; }
cat >"$WORK/podmeter.yaml" <<'EOF'
price_cpu_core_hour: 0.03
net_cross_zone: 10.77.0.0/16
idle_cpu_ratio: 0.05
EOF
start_agent --cgroup-mode v2 --config "$WORK/podmeter.yaml" || { fail "agent start"; finish; exit; }
run_in_cg "$pod" timeout 8 sh -c 'while :; do :; done'
burner=$LAST_PID
sleep 2
scrape "$WORK/m1"
p1=$(metric_value "$WORK/m1" podmeter_price_dollars 'resource="cpu"')
c1=$(metric_value "$WORK/m1" podmeter_pod_cpu_seconds_total "uid=\"$uid\"")

# networks in the class maps of every loaded podmeter, as a.b.c.d/len
class_dump() {
	bpftool map dump name class_v4 2>/dev/null | python3 -c '
import re, sys
t = sys.stdin.read()
for p, a in re.findall(r"\"prefixlen\":\s*(\d+),\s*\"addr\":\s*\[([^\]]*)\]", t):
    print(".".join(str(int(x, 0)) for x in a.split(",")) + "/" + p)' 2>/dev/null
}
class_dump | grep -q "^10.77.0.0/16$" && pass "10.77.0.0/16 in the kernel's classes before" ||
	fail "10.77.0.0/16 not in the classes: $(class_dump | head -3)"

cat >"$WORK/podmeter.yaml" <<'EOF'
price_cpu_core_hour: 0.5
net_cross_zone: 10.88.0.0/16
idle_cpu_ratio: 0.2
EOF
kill -HUP "$AGENT_PID"
sleep 1.5
kill -0 "$AGENT_PID" 2>/dev/null && pass "agent running after SIGHUP" || fail "agent gone after SIGHUP"
grep -q "reloaded $WORK/podmeter.yaml" "$WORK/agent.log" && pass "reload logged" ||
	fail "no reload line: $(tail -2 "$WORK/agent.log")"
scrape "$WORK/m2"
p2=$(metric_value "$WORK/m2" podmeter_price_dollars 'resource="cpu"')
c2=$(metric_value "$WORK/m2" podmeter_pod_cpu_seconds_total "uid=\"$uid\"")
awk -v a="$p1" -v b="$p2" 'BEGIN { exit !(a == 0.03 && b == 0.5) }' && pass "CPU price $p1 -> $p2 \$/core-hour" ||
	fail "CPU price $p1 -> $p2, want 0.03 -> 0.5"
if class_dump | grep -q "^10.88.0.0/16$" && ! class_dump | grep -q "^10.77.0.0/16$"; then
	pass "classes in the kernel replaced: 10.88.0.0/16 in, 10.77.0.0/16 out"
else
	fail "classes after reload: $(class_dump | grep -E '^10.(77|88)' | tr '\n' ' ')"
fi
awk -v a="$c1" -v b="$c2" 'BEGIN { exit !(b > a && a > 0.05) }' &&
	pass "pod CPU goes on across the reload: ${c1}s -> ${c2}s" ||
	fail "pod CPU ${c1}s -> ${c2}s across the reload"

# a bad file: refused, the running config kept
printf 'price_cpu_core_hour: lots\n' >"$WORK/podmeter.yaml"
kill -HUP "$AGENT_PID"
sleep 1.5
scrape "$WORK/m3"
p3=$(metric_value "$WORK/m3" podmeter_price_dollars 'resource="cpu"')
if kill -0 "$AGENT_PID" 2>/dev/null && awk -v c="$p3" 'BEGIN { exit !(c == 0.5) }' &&
	grep -q "warning: reload: .*price_cpu_core_hour.*keeping the running config" "$WORK/agent.log"; then
	pass "bad file refused: $(grep -m1 'warning: reload' "$WORK/agent.log")"
else
	fail "bad file: price $p3, log: $(tail -2 "$WORK/agent.log")"
fi
# a setting only a restart changes: named
printf 'price_cpu_core_hour: 0.5\nreport_window: 30s\n' >"$WORK/podmeter.yaml"
kill -HUP "$AGENT_PID"
sleep 1.5
grep -q "report_window changed; it takes effect at restart" "$WORK/agent.log" &&
	pass "restart-only setting named" || fail "no warning for report_window: $(tail -2 "$WORK/agent.log")"

pod_cpu_after_load "pod CPU after three reloads" "$burner" "$pod" "$uid"
stop_agent
finish
