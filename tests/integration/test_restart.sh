#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Restarts without losing counts: the agent is killed with SIGKILL while a pod
# burns CPU, a new agent adopts the programs and counters pinned under bpffs,
# and the pod's CPU seconds still match its cgroup's cpu.stat. Then: an
# incompatible pinned set is replaced cleanly, a clean stop leaves counting
# on, and `podmeter unpin` removes everything. Without bpffs: mounted on
# /sys/fs/bpf with CAP_SYS_ADMIN, else one warning; counting on either way.
set -u
. "$(dirname "$0")/lib.sh"

ROOT=$(cg_v2_root)
[ -n "$ROOT" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
echo "restart: cgroup v2 at $ROOT, pinned under $PM_PIN_DIR"

# sched_switch programs attached on the whole machine (other tools may have some)
switch_links() { bpftool link list 2>/dev/null | grep -c "tp 'sched_switch'"; }
links0=$(switch_links)

uid=$(newuid)
pod="$ROOT/kubepods/besteffort/pod$uid"
ctr="$pod/$(printf '%064x' $RANDOM)"
mkcg "$pod" && mkcg "$ctr" || { fail "create $ctr"; finish; exit; }

start_agent --cgroup-mode v2 || { fail "agent start"; finish; exit; }
# a container that burns 0.5 s and is removed: the agent folds its total into
# the pod and deletes its map entry before the kill
gone="$pod/$(printf '%064x' $((RANDOM + 1)))"
mkdir "$gone" && sh -c 'echo $$ > "$0/cgroup.procs" && exec timeout 0.5 sh -c "while :; do :; done"' "$gone"
rmdir "$gone" || fail "rmdir $gone"
# one CPU flat out for 18 s, all of it in the pod, from after the agent started
run_in_cg "$ctr" timeout 18 sh -c 'while :; do :; done'
burner=$LAST_PID
for _ in $(seq 1 20); do
	sleep 1
	scrape "$WORK/m0"
	[ "$(metric_value "$WORK/m0" podmeter_agent_cgroups_removed_total "")" != 0 ] && break
done
removed=$(metric_value "$WORK/m0" podmeter_agent_cgroups_removed_total "")
[ "$removed" != 0 ] && pass "removed container retired before the kill ($removed map entry deleted)" ||
	fail "removed container not retired before the kill"
{ kill -KILL "$AGENT_PID" && wait "$AGENT_PID"; } 2>/dev/null
AGENT_PID=""
sleep 1
if ls "$PM_PIN_DIR"/cpu_bpf/link_*sched_switch >/dev/null 2>&1 &&
	[ "$(switch_links)" -eq $((links0 + 1)) ]; then
	pass "killed agent: its sched_switch program stays attached, pinned"
else
	fail "killed agent: pinned links $(ls "$PM_PIN_DIR"/cpu_bpf 2>&1 | tr '\n' ' '), sched_switch links $links0 -> $(switch_links)"
fi
start_agent --cgroup-mode v2 || { fail "agent restart"; finish; exit; }
grep -q "incompatible" "$WORK/agent.log" && fail "restart saw an incompatible set: $(grep incompatible "$WORK/agent.log")"
pod_cpu_after_load "pod CPU across a SIGKILL and restart, a removed container included" \
	"$burner" "$pod" "$uid"
n=$(switch_links)
[ "$n" -eq $((links0 + 1)) ] && pass "one sched_switch program after the restart ($links0 -> $n)" ||
	fail "sched_switch programs $links0 -> $n after the restart (want +1)"

# a set pinned by another layout version: replaced, not adopted
{ kill -KILL "$AGENT_PID" && wait "$AGENT_PID"; } 2>/dev/null
AGENT_PID=""
bpftool map update pinned "$PM_PIN_DIR/cpu_bpf/layout" key 0 0 0 0 value 99 0 0 0 0 0 0 0 ||
	fail "could not rewrite the pinned layout"
start_agent --cgroup-mode v2 || { fail "agent start over an incompatible set"; finish; exit; }
sleep 2
scrape "$WORK/m2"
m2=$(metric_value "$WORK/m2" podmeter_pod_cpu_seconds_total "uid=\"$uid\"")
if grep -q "incompatible set (another layout version)" "$WORK/agent.log" &&
	[ "$(switch_links)" -eq $((links0 + 1)) ] && awk -v m="$m2" 'BEGIN { exit !(m < 0.5) }'; then
	pass "incompatible set replaced: logged, one program, counts start over (${m2}s)"
else
	fail "incompatible set: log '$(grep -m1 pin: "$WORK/agent.log")', links $(switch_links), pod ${m2}s"
fi

# a clean stop leaves counting on; unpin ends it
stop_agent || fail "SIGTERM: exit status"
[ "$(switch_links)" -eq $((links0 + 1)) ] && pass "SIGTERM: counting goes on (program pinned)" ||
	fail "SIGTERM: sched_switch links $links0 -> $(switch_links)"
out=$("$PODMETER" unpin --pin-dir "$PM_PIN_DIR" 2>&1)
if [ $? -eq 0 ] && [ ! -e "$PM_PIN_DIR" ] && [ "$(switch_links)" -eq "$links0" ]; then
	pass "unpin: $out; sched_switch links back to $links0"
else
	fail "unpin: $out; dir $(ls -d "$PM_PIN_DIR" 2>&1); links $(switch_links), want $links0"
fi
out=$("$PODMETER" unpin --pin-dir /tmp 2>&1)
[ $? -eq 1 ] && pass "unpin outside bpffs refused: $out" || fail "unpin /tmp: $out"

# No bpffs where the pins go: the agent mounts one on /sys/fs/bpf when it may,
# else says once that pinning is off, and counts either way.
# fresh_pod_cpu LABEL: a pod made now burns 1.5 s; the agent's CPU against cpu.stat
fresh_pod_cpu() {
	local u p c
	u=$(newuid)
	p="$ROOT/kubepods/besteffort/pod$u"
	c="$p/$(printf '%064x' $RANDOM)"
	mkcg "$p" && mkcg "$c" || { fail "$1: create $c"; return; }
	run_in_cg "$c" timeout 1.5 sh -c 'while :; do :; done'
	pod_cpu_after_load "$1" "$LAST_PID" "$p" "$u"
}
pin_warnings() { grep -c "^warning: pin:" "$WORK/agent.log"; }

# a pin directory on another file system ($WORK's): not mounted over
wfs=$(stat -f -c %T "$WORK")
start_agent --cgroup-mode v2 --pin-dir "$WORK/pins" || { fail "agent start, --pin-dir on $wfs"; finish; exit; }
fresh_pod_cpu "--pin-dir on $wfs: pod CPU"
stop_agent
if [ "$(pin_warnings)" = 1 ] && [ ! -e "$WORK/pins" ] &&
	grep -q "^warning: pin: $WORK/pins is not on a bpffs mount.*pinning is off" "$WORK/agent.log"; then
	pass "--pin-dir on $wfs: one warning, nothing made there: $(grep "^warning: pin:" "$WORK/agent.log")"
else
	fail "--pin-dir on $wfs: $(pin_warnings) warnings: $(grep "pin:" "$WORK/agent.log" | head -3)"
fi

# a host without bpffs: a mount namespace of the agent's own (unshare -m, private),
# with a tmpfs over /sys/fs/bpf; the machine's own /sys/fs/bpf is not touched
real_podmeter=$PODMETER
ns_podmeter() {	# ns_podmeter PREFIX: $WORK/podmeter-ns runs podmeter there, under PREFIX
	cat >"$WORK/podmeter-ns" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /sys/fs/bpf && exec "\$@"' sh $1 "$real_podmeter" "\$@"
EOF
	chmod +x "$WORK/podmeter-ns"
}
ns_podmeter ""
PODMETER="$WORK/podmeter-ns" start_agent --cgroup-mode v2 || { fail "agent start without bpffs"; finish; exit; }
fs=$(nsenter -t "$AGENT_PID" -m stat -f -c %T /sys/fs/bpf 2>&1)
pinned=$(nsenter -t "$AGENT_PID" -m ls "$PM_PIN_DIR/cpu_bpf" 2>&1 | tr '\n' ' ')
fresh_pod_cpu "bpffs mounted by the agent: pod CPU"
stop_agent
if grep -q "^podmeter: pin: mounted bpffs on /sys/fs/bpf" "$WORK/agent.log" && [ "$(pin_warnings)" = 0 ] &&
	[ "$fs" = bpf_fs ] && [[ " $pinned" == *" layout "* ]]; then
	pass "no bpffs, CAP_SYS_ADMIN: mounted on /sys/fs/bpf ($fs), the set pinned there ($pinned)"
else
	fail "no bpffs, CAP_SYS_ADMIN: /sys/fs/bpf $fs, pinned: $pinned; log: $(grep "pin:" "$WORK/agent.log" | head -3)"
fi
[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] && [ ! -e "$PM_PIN_DIR" ] &&
	pass "the machine's /sys/fs/bpf untouched" ||
	fail "the machine's /sys/fs/bpf: $(stat -f -c %T /sys/fs/bpf), $(ls -d "$PM_PIN_DIR" 2>&1)"

# ... and without CAP_SYS_ADMIN: one warning saying why, counting on
ns_podmeter "setpriv --bounding-set=-sys_admin --inh-caps=-all"
PODMETER="$WORK/podmeter-ns" start_agent --cgroup-mode v2 ||
	{ fail "agent start without bpffs nor CAP_SYS_ADMIN"; finish; exit; }
fresh_pod_cpu "no bpffs, no CAP_SYS_ADMIN: pod CPU"
stop_agent
if [ "$(pin_warnings)" = 1 ] && ! grep -q "mounted bpffs" "$WORK/agent.log" &&
	grep -q "^warning: pin: .*takes CAP_SYS_ADMIN.*pinning is off" "$WORK/agent.log"; then
	pass "no bpffs, no CAP_SYS_ADMIN: one warning: $(grep "^warning: pin:" "$WORK/agent.log")"
else
	fail "no bpffs, no CAP_SYS_ADMIN: $(pin_warnings) warnings: $(grep "pin:" "$WORK/agent.log" | head -3)"
fi
finish
