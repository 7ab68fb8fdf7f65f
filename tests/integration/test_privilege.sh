#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Least privilege: the capabilities `podmeter check --required-caps` names are
# enough to start everything (the DaemonSet grants exactly these), the ones
# this kernel can show are each needed, and after start the agent keeps only
# CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE.
set -u
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || { echo "  skip: no setpriv"; exit 0; }
echo "privilege: capabilities needed and kept"

mapfile -t need < <("$PODMETER" check --required-caps)
[ "${#need[@]}" -ge 3 ] && pass "required: ${need[*]}" || fail "required caps: ${need[*]}"

# setpriv's list for a set of CAP_ names, less those named in $1 (space-separated)
caps_without() {
	local c out="" lc
	for c in "${need[@]}"; do
		case " $1 " in *" $c "*) continue ;; esac
		lc=$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')
		out="$out,+$lc"
	done
	echo "-all$out"
}

# start under a bounding set; prints the exit status (124: still running at the end)
try_start() {
	local log=$1
	shift
	timeout 5 setpriv --bounding-set="$1" --inh-caps=-all "$PODMETER" run \
		--listen "127.0.0.1:$PM_PORT" --interval 1s --spool "$WORK/spool" --pin-dir none \
		>"$log" 2>&1
	echo $?
}

rc=$(try_start "$WORK/all.log" "$(caps_without "")")
if [ "$rc" -eq 124 ] && grep -q "cpu via tp_btf" "$WORK/all.log" &&
	! grep -q "warning" "$WORK/all.log"; then
	pass "with exactly the required set: everything loads and attaches, no warning"
else
	fail "with the required set: rc $rc, $(grep -m2 -E 'warning|podmeter:' "$WORK/all.log" | tr '\n' ' ')"
fi
rc=$(try_start "$WORK/nonet.log" "$(caps_without CAP_NET_ADMIN)")
grep -q "net: attach.*Operation not permitted" "$WORK/nonet.log" &&
	pass "without CAP_NET_ADMIN: $(grep -m1 'net:' "$WORK/nonet.log")" ||
	fail "without CAP_NET_ADMIN: rc $rc, $(head -3 "$WORK/nonet.log" | tr '\n' ' ')"
rc=$(try_start "$WORK/noperf.log" "$(caps_without CAP_PERFMON)")
[ "$rc" -eq 1 ] && grep -q "Operation not permitted" "$WORK/noperf.log" &&
	pass "without CAP_PERFMON: exit 1, $(tail -1 "$WORK/noperf.log")" ||
	fail "without CAP_PERFMON: rc $rc, $(tail -2 "$WORK/noperf.log" | tr '\n' ' ')"

# after start: only what is used while running
start_agent || { fail "agent start"; finish; exit; }
eff=$(awk '/^CapEff/ { print $2 }' "/proc/$AGENT_PID/status")
bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$AGENT_PID/status")
want=$(printf '%016x' $(((1 << 39) | (1 << 38) | (1 << 19))))	# BPF, PERFMON, SYS_PTRACE
[ "$eff" = "$want" ] && [ "$bnd" = "$want" ] &&
	pass "after start: effective and bounding $eff (CAP_BPF CAP_PERFMON CAP_SYS_PTRACE)" ||
	fail "after start: effective $eff, bounding $bnd, want $want"
nnp=$(awk '/^NoNewPrivs/ { print $2 }' "/proc/$AGENT_PID/status")
[ "$nnp" = 1 ] && pass "no_new_privs set" || fail "NoNewPrivs: $nnp"
scrape "$WORK/m0"
sleep 2.5
scrape "$WORK/m1"
a=$(metric_value "$WORK/m0" podmeter_agent_collect_duration_seconds_count "")
b=$(metric_value "$WORK/m1" podmeter_agent_collect_duration_seconds_count "")
o0=$(metric_value "$WORK/m0" podmeter_node_cpu_seconds_total 'scope="overhead"')
o1=$(metric_value "$WORK/m1" podmeter_node_cpu_seconds_total 'scope="overhead"')
awk -v a="$a" -v b="$b" -v x="$o0" -v y="$o1" 'BEGIN { exit !(b > a && y > x) }' &&
	pass "still collecting with the dropped set: collections $a -> $b, overhead CPU $o0 -> $o1" ||
	fail "collections $a -> $b, overhead CPU $o0 -> $o1"
stop_agent
finish
