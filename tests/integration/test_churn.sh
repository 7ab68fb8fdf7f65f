#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Containers come and go: one pod whose containers each live a moment, burn
# some CPU and are removed. The pod's total must still match its own cgroup's
# usage (the kernel keeps the usage of removed children in the parent), and
# the agent's map must shrink back: dead cgroups are read one last time and
# removed.
set -u
. "$(dirname "$0")/lib.sh"

ROOT=$(cg_v2_root)
[ -n "$ROOT" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
ROUNDS=${ROUNDS:-12}
echo "churn: $ROUNDS short-lived containers in one pod, cgroup v2 at $ROOT"

uid=$(printf '%08x-%04x-4%03x-8%03x-%012x' $((RANDOM * RANDOM)) $RANDOM $((RANDOM % 4096)) \
	$((RANDOM % 4096)) $((RANDOM * RANDOM * RANDOM)))
pod="$ROOT/kubepods/besteffort/pod$uid"
mkcg "$pod" || { fail "create $pod"; finish; exit; }

start_agent --cgroup-mode v2 || { fail "agent start"; finish; exit; }
sleep 2
scrape "$WORK/m0"
k0=$(kernel_cpu_ns "$pod")
tracked0=$(metric_value "$WORK/m0" podmeter_agent_cgroups_tracked "")
removed0=$(metric_value "$WORK/m0" podmeter_agent_cgroups_removed_total "")

# a walk over an unchanged tree takes it from the records and the mkdir/rmdir
# events: over 20 quiet seconds the walks go on (every 5 ticks) while at most
# the every-60th-walk listing (and one for a cgroup something else made) reads
# the directories
sleep 20
scrape "$WORK/mq"
walks=$(awk -v a="$(metric_value "$WORK/m0" podmeter_agent_cgroup_walks_total "")" \
	-v b="$(metric_value "$WORK/mq" podmeter_agent_cgroup_walks_total "")" 'BEGIN { print b - a }')
lists=$(awk -v a="$(metric_value "$WORK/m0" podmeter_agent_cgroup_tree_reads_total "")" \
	-v b="$(metric_value "$WORK/mq" podmeter_agent_cgroup_tree_reads_total "")" 'BEGIN { print b - a }')
if [ "$walks" -ge 3 ] && [ "$lists" -le $((walks - 2)) ]; then
	pass "quiet tree: $walks walks, $lists of them listed the hierarchy"
else
	fail "quiet tree: $walks walks, $lists of them listed the hierarchy (want >= 3 walks, 2 or more without a listing)"
fi

# a container made now is found by its mkdir event's path, not by listing the
# hierarchy: its processes are counted from its own cgroup.procs (a rename,
# which v1 hierarchies alone allow, moves the paths below it too: the next
# walk lists the hierarchy)
lists_of() { metric_value "$1" podmeter_agent_cgroup_tree_reads_total ""; }
born="$pod/$(printf '%064x' 1)"
mkcg "$born" || fail "mkdir $born"
scrape "$WORK/mb0"
for i in 1 2 3; do run_in_cg "$born" sleep 120; done
wait_walks 2
scrape "$WORK/mb1"
lists=$(($(lists_of "$WORK/mb1") - $(lists_of "$WORK/mb0")))
procs=$(metric_value "$WORK/mb1" podmeter_pod_processes "uid=\"$uid\"")
if [ "$procs" = 3 ] && [ "$lists" -eq 0 ]; then
	pass "container made after the first walk: 3 processes read, no listing of the hierarchy"
else
	fail "container made after the first walk: $procs processes read (want 3), $lists listings (want 0)"
fi
# its entries in the per-cgroup tables, to see them go once it is removed
born_id=$(stat -c %i "$born")
entries_of() {	# entries_of MAP ID...: entries of the agent's MAP keyed by any of the cgroup IDs
	bpftool -j map dump id "$(agent_map_id "$1")" 2>/dev/null | python3 -c '
import json, sys
want = set(int(a) for a in sys.argv[1:])
print(sum(int.from_bytes(bytes(int(b, 16) for b in e["key"][:8]), "little") in want
	  for e in json.load(sys.stdin)))' "${@:2}"
}
TABLES="cpu_stats mem_events proc_stats"
held=""
for m in $TABLES; do held="$held $m:$(entries_of "$m" "$born_id")"; done
for p in $(cat "$born/cgroup.procs"); do kill -KILL "$p"; done
for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$born" 2>/dev/null && break; sleep 0.2; done

ids=()
for i in $(seq 1 "$ROUNDS"); do
	# and one where nothing ran: no entry in any table, among those retired with it
	e="$pod/$(printf '%064x' $((i * 7919 + 1)))"
	mkdir "$e" && rmdir "$e" || { fail "mkdir and rmdir $e"; break; }
	c="$pod/$(printf '%064x' $((i * 7919)))"
	mkdir "$c" || { fail "mkdir $c"; break; }
	ids+=("$(stat -c %i "$c")")
	# a few processes, each burning ~0.1 s, then the container is removed
	sh -c 'echo $$ > "$0/cgroup.procs" && for j in 1 2 3; do
		timeout 0.1 sh -c "while :; do :; done"; done' "$c"
	rmdir "$c" || { fail "rmdir $c"; break; }
	# the agent walks every 5 ticks: let some containers live across a walk
	[ $((i % 4)) -eq 0 ] && sleep 1.2
done

# every removed container is retired within a walk plus two reads
sleep 9
scrape "$WORK/m1"
k1=$(kernel_cpu_ns "$pod")
m0=$(metric_value "$WORK/m0" podmeter_pod_cpu_seconds_total "uid=\"$uid\"")
m1=$(metric_value "$WORK/m1" podmeter_pod_cpu_seconds_total "uid=\"$uid\"")
d=$(awk -v a="$m0" -v b="$m1" 'BEGIN { printf "%.6f", b - a }')
kd=$(awk -v a="$k0" -v b="$k1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
ov=$(metric_value "$WORK/m1" podmeter_node_cpu_seconds_total 'scope="overhead"')
if within "$d" "$kd" "$kd" 0.01; then
	pass "pod total across $ROUNDS removed containers: podmeter ${d}s, kernel ${kd}s"
else
	fail "pod total across $ROUNDS removed containers: podmeter ${d}s, kernel ${kd}s (1%)"
	for f in podmeter_agent_sched_resyncs_total podmeter_agent_cgroups_removed_total; do
		echo "        $f: $(metric_value "$WORK/m0" "$f" "") -> $(metric_value "$WORK/m1" "$f" "")"
	done
	for f in cpu_stats cg_born; do
		echo "        $f insert failures: $(metric_value "$WORK/m1" \
			podmeter_agent_map_insert_failures_total "map=\"$f\"")"
	done
	echo "        overhead: $(metric_value "$WORK/m0" podmeter_node_cpu_seconds_total 'scope="overhead"') -> $ov"
fi
[ "$ov" != missing ] && pass "node overhead series present" || fail "no node overhead series"

# every removed container's entries left the tables, one delete a table and read for all
left=""
for m in $TABLES; do left="$left $m:$(entries_of "$m" "$born_id" "${ids[@]}")"; done
if [[ "$held" =~ ^(\ [a-z_]+:[1-9][0-9]*)+$ ]] && [[ "$left" =~ ^(\ [a-z_]+:0)+$ ]]; then
	pass "removed containers' table entries deleted:$left (a live one's:$held)"
else
	fail "removed containers' table entries:$left (want none; a live one's:$held, want some in each)"
fi

tracked1=$(metric_value "$WORK/m1" podmeter_agent_cgroups_tracked "")
removed1=$(metric_value "$WORK/m1" podmeter_agent_cgroups_removed_total "")
if awk -v a="$removed0" -v b="$removed1" -v n="$ROUNDS" 'BEGIN { exit !(b - a >= n) }'; then
	pass "map entries of removed containers deleted: $removed0 -> $removed1"
else
	fail "map entries of removed containers deleted: $removed0 -> $removed1 (want +$ROUNDS)"
fi
# the map holds what lives, not what lived: back near where it started
if awk -v a="$tracked0" -v b="$tracked1" 'BEGIN { exit !(b <= a + 3) }'; then
	pass "map size back to ${tracked1} entries (was ${tracked0})"
else
	fail "map grew from ${tracked0} to ${tracked1} entries"
fi
stop_agent
finish
