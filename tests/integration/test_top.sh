#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# podmeter top against a running agent: --once prints one frame, the busy
# pod first with the CPU the kernel's cpu.stat gives over the same second;
# run in tmux, the screen shows the pods, keys change the sort, q quits.
set -u
. "$(dirname "$0")/lib.sh"

V2=$(cg_v2_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
command -v tmux >/dev/null || { echo "  skip: no tmux"; exit 0; }
echo "top: cgroup v2 at $V2"
busy=$(newuid)
idle=$(newuid)
cb="$V2/kubepods/burstable/pod$busy/$(printf '%064x' $((RANDOM + 1)))"
ci="$V2/kubepods/burstable/pod$idle/$(printf '%064x' $((RANDOM + 2)))"
mkcg "$cb" && mkcg "$ci" || { fail "create fake pods"; finish; exit; }
run_in_cg "$cb" timeout 60 sh -c 'while :; do :; done'
run_in_cg "$ci" sleep 60
start_agent --cgroup-mode v2 || { fail "agent start"; finish; exit; }
sleep 2

# The frame's rates are over two agent collections, "over DT s". A scrape may be
# served a collection up to 0.25 s old, so the kernel's reading is taken more than
# that before the call: both collections lie between k0 and k1.
k0=$(kernel_cpu_ns "$cb")
t0=$(date +%s.%N)
sleep 0.4
"$PODMETER" top --url "$PM_URL/v1/pods" --once >"$WORK/frame" 2>&1 || fail "top --once: $(cat "$WORK/frame")"
k1=$(kernel_cpu_ns "$cb")
t1=$(date +%s.%N)
# sorted by CPU: the busy pod above the idle one (other pods on the node may be busier)
rb=$(awk -v u="$busy" '$1 == u { print NR }' "$WORK/frame")
ri=$(awk -v u="$idle" '$1 == u { print NR }' "$WORK/frame")
[ -n "$rb" ] && [ -n "$ri" ] && [ "$rb" -lt "$ri" ] && pass "--once: the busy pod above the idle one" ||
	fail "--once: busy pod at row ${rb:-none}, idle at ${ri:-none}: $(cat "$WORK/frame")"
cpu=$(awk -v u="$busy" '$1 == u { print $2 }' "$WORK/frame")
dt=$(awk 'NR == 1 { for (i = 1; i < NF; i++) if ($i == "over") print $(i + 1) }' "$WORK/frame")
grep -q "^$idle " "$WORK/frame" && pass "--once: the idle pod listed" || fail "--once: idle pod missing"
# what top shows, CPU x DT, is the pod's CPU over its interval: at most what the kernel
# gave it over the wider window, and at least that less one core (one spinning thread)
# over the part of the window outside the interval; 1% and 10 ms for the readings
kc=$(awk -v a="$k0" -v b="$k1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
win=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
awk -v c="$cpu" -v dt="$dt" -v kc="$kc" -v w="$win" 'BEGIN {
	used = c * dt; exit !(dt > 0 && used <= kc * 1.01 + 0.01 && used >= kc - (w - dt) - 0.01) }' &&
	pass "--once: busy pod at $cpu cores over ${dt}s; kernel: ${kc}s of CPU in the ${win}s around it" ||
	fail "--once: busy pod at $cpu cores over ${dt}s; kernel: ${kc}s of CPU in the ${win}s around it"

# --url as people type it: the agent's address alone, or with "/", means its
# /v1/pods (the agent answers 404 on other paths); no scheme is refused
for u in "$PM_URL" "$PM_URL/"; do
	"$PODMETER" top --url "$u" --once >"$WORK/frame.url" 2>&1 && grep -q "^$busy " "$WORK/frame.url" &&
		pass "--url $u: the pods of its /v1/pods" || fail "--url $u: $(head -c 300 "$WORK/frame.url")"
done
rc=0
"$PODMETER" top --url "127.0.0.1:$PM_PORT" --once >"$WORK/frame.bad" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- '--url: "127.0.0.1:'"$PM_PORT"'" has no scheme' "$WORK/frame.bad" &&
	pass "--url without a scheme refused, naming the flag" ||
	fail "--url without a scheme: exit $rc: $(head -c 300 "$WORK/frame.bad")"

# interactive, in tmux
s="pmtop$$"
tmux new-session -d -s "$s" -x 150 -y 30 "$PODMETER top --url $PM_URL/v1/pods" ||
	{ fail "tmux"; finish; exit; }
sleep 2.5
tmux capture-pane -p -t "$s" >"$WORK/screen1"
grep -q "podmeter top" "$WORK/screen1" && grep -q "$busy" "$WORK/screen1" &&
	pass "tmux: the screen shows the pods" || fail "tmux screen: $(head -5 "$WORK/screen1")"
grep -q "sort: c" "$WORK/screen1" && pass "tmux: sorted by CPU" || fail "tmux: not sorted by CPU"
tmux send-keys -t "$s" p
sleep 1.5
tmux capture-pane -p -t "$s" >"$WORK/screen2"
grep -q "sort: p" "$WORK/screen2" && pass "tmux: 'p' sorts by pod" || fail "tmux: 'p': $(head -1 "$WORK/screen2")"
tmux send-keys -t "$s" q
sleep 1.5
tmux has-session -t "$s" 2>/dev/null && { fail "tmux: 'q' did not quit"; tmux kill-session -t "$s"; } ||
	pass "tmux: 'q' quits"
stop_agent
finish
