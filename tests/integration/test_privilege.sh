#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Least privilege: the capabilities `podmeter check --required-caps` names are
# enough to start everything (the DaemonSet grants exactly these; reading
# resident memory at start included), the ones this kernel can show are each
# needed, and after start the agent keeps only CAP_BPF, CAP_PERFMON and
# CAP_SYS_PTRACE.
set -u
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || { echo "  skip: no setpriv"; exit 0; }
echo "privilege: capabilities needed and kept"
# the DaemonSet mounts the host's tracefs; without CAP_SYS_ADMIN the agent cannot
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing

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

# every thread's sets: "tid comm CapPrm CapEff CapBnd NoNewPrivs", one line each
thread_caps() {
	local st
	for st in /proc/"$1"/task/*/status; do
		awk -v tid="$(basename "$(dirname "$st")")" '
			/^Name:/ { n = $2 } /^CapPrm/ { p = $2 } /^CapEff/ { e = $2 }
			/^CapBnd/ { b = $2 } /^NoNewPrivs/ { s = $2 }
			END { print tid, n, p, e, b, s }' "$st" 2>/dev/null
	done
}

# check_threads LABEL PID BND_MAIN BND_OTHER: the main thread and the CUDA library
# scanner (pm-cuda: it opens pods' files and attaches uprobes) hold exactly what is
# kept after start, every other thread holds nothing; each has no_new_privs; the
# bounding sets are BND_MAIN and BND_OTHER
check_threads() {
	local label=$1 pid=$2 bnd_main=$3 bnd_other=$4 tid comm prm eff bnd nnp n=0 bad=""
	while read -r tid comm prm eff bnd nnp; do
		n=$((n + 1))
		if [ "$tid" = "$pid" ] || [ "$comm" = pm-cuda ]; then
			[ "$prm" = "$want" ] && [ "$eff" = "$want" ] && [ "$bnd" = "$bnd_main" ] ||
				bad="$bad main($prm/$eff/$bnd)"
		else
			[ "$((16#$prm))" -eq 0 ] && [ "$((16#$eff))" -eq 0 ] && [ "$bnd" = "$bnd_other" ] ||
				bad="$bad $comm[$tid]($prm/$eff/$bnd)"
		fi
		[ "$nnp" = 1 ] || bad="$bad $comm[$tid](no_new_privs $nnp)"
	done < <(thread_caps "$pid")
	[ "$n" -ge 3 ] && [ -z "$bad" ] &&
		pass "$label: $n threads; main and pm-cuda keep $want, the others hold none; bounding main $bnd_main, others $bnd_other" ||
		fail "$label: $n threads;$bad"
}

want=$(printf '%016x' $(((1 << 39) | (1 << 38) | (1 << 19))))	# BPF, PERFMON, SYS_PTRACE
req=0
for c in "${need[@]}"; do
	num=$(awk -v c="$c" 'BEGIN { split("CAP_SYS_PTRACE 19 CAP_NET_ADMIN 12 CAP_SYS_RESOURCE 24 CAP_PERFMON 38 CAP_BPF 39 CAP_SYS_ADMIN 21", a, " ");
		for (i = 1; i < 12; i += 2) if (a[i] == c) print a[i + 1] }')
	[ -n "$num" ] && req=$((req | (1 << num)))
done
# what setpriv can give: the required set within this shell's own bounding set
reqhex=$(printf '%016x' $((req & 16#$(awk '/^CapBnd/ { print $2 }' /proc/self/status))))

# as the DaemonSet starts it: the bounding set is the required set, no CAP_SETPCAP,
# so no thread can shrink the bounding set; none may hold more than it keeps
setpriv --bounding-set="$(caps_without "")" --inh-caps=-all "$PODMETER" run \
	--listen "127.0.0.1:$PM_PORT" --interval 1s --spool "$WORK/spool" --pin-dir none \
	>"$WORK/ds.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 100); do curl -sf "$PM_URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
check_threads "granted set only (DaemonSet)" "$AGENT_PID" "$reqhex" "$reqhex"
stop_agent
# the task iterator that reads resident memory at start needs nothing more
grep -q "^mem: resident memory read at start" "$WORK/ds.log" &&
	pass "granted set only: $(grep -m1 "^mem: resident memory read at start" "$WORK/ds.log")" ||
	fail "granted set only: $(grep -m1 "resident memory" "$WORK/ds.log")"

# as root with every capability: the bounding sets shrink too
start_agent || { fail "agent start"; finish; exit; }
check_threads "as root" "$AGENT_PID" "$want" "0000000000000000"
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
