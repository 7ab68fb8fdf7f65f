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

k0=$(kernel_cpu_ns "$cb")
"$PODMETER" top --url "$PM_URL/v1/pods" --once >"$WORK/frame" 2>&1 || fail "top --once: $(cat "$WORK/frame")"
k1=$(kernel_cpu_ns "$cb")
first=$(awk 'NR == 4 { print $1 }' "$WORK/frame")
[ "$first" = "$busy" ] && pass "--once: the busy pod first" || fail "--once: first row $first: $(cat "$WORK/frame")"
cpu=$(awk -v u="$busy" '$1 == u { print $2 }' "$WORK/frame")
grep -q "^$idle " "$WORK/frame" && pass "--once: the idle pod listed" || fail "--once: idle pod missing"
# the frame's interval is about a second, between two agent collections
kc=$(awk -v a="$k0" -v b="$k1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
awk -v c="$cpu" 'BEGIN { exit !(c > 0.8 && c < 1.05) }' &&
	pass "--once: busy pod at $cpu cores (kernel: ${kc} s of CPU over the call)" ||
	fail "--once: busy pod at $cpu cores (kernel: ${kc} s of CPU over the call)"

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
