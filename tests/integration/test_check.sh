#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# `podmeter check` against what this node really has (mountinfo, BTF), and
# the agent refusing bad input with a clear message.
set -u
. "$(dirname "$0")/lib.sh"
echo "check"

"$PODMETER" check >"$WORK/check.out" 2>&1
rc=$?
[ $rc -eq 0 ] && pass "check exits 0 on this node" || fail "check exit $rc: $(tail -1 "$WORK/check.out")"
for f in btf tp_btf raw_tp tracefs "cgroup v2" "cgroup v1" cgroup_skb uprobes memlock capabilities \
	 "cpu hooks" "memory hooks" "network hooks" "process hooks"; do
	grep -q "^$f  *\(ok\|missing\)" "$WORK/check.out" && pass "check prints $f" ||
		fail "check has no line for $f"
done
v2=$(cg_v2_root)
if [ -n "$v2" ]; then
	grep -q "^cgroup v2  *ok .*$v2" "$WORK/check.out" && pass "check finds cgroup v2 at $v2" ||
		fail "check does not report cgroup v2 at $v2"
fi
if [ -r /sys/kernel/btf/vmlinux ]; then
	grep -q "^btf  *ok" "$WORK/check.out" && pass "check sees BTF" || fail "check misses BTF"
fi
if grep -q " tracefs " /proc/self/mountinfo; then want=ok; else want=missing; fi
grep -q "^tracefs  *$want" "$WORK/check.out" && pass "tracefs reported $want, as mountinfo says" ||
	fail "tracefs not reported $want"

# a root with no cgroup hierarchy in it: cannot run, says why
mkdir -p "$WORK/empty"
"$PODMETER" check --cgroup-root "$WORK/empty" >"$WORK/check2.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "^cannot run: " "$WORK/check2.out" &&
	pass "check without cgroups: exit $rc, $(grep '^cannot run' "$WORK/check2.out")" ||
	fail "check without cgroups: exit $rc"

# bad input: a clear error naming the problem, non-zero exit, nothing started
bad() {
	local want=$1
	shift
	"$PODMETER" "$@" >"$WORK/bad.out" 2>&1
	local rc=$?
	if [ $rc -ne 0 ] && grep -q -- "$want" "$WORK/bad.out"; then
		pass "podmeter $*: exit $rc, $(head -1 "$WORK/bad.out")"
	else
		fail "podmeter $*: exit $rc, $(head -1 "$WORK/bad.out")"
	fi
}
bad "interval" run --interval 0s
bad "listen" run --listen 127.0.0.1:99999
bad "--bogus" run --bogus
bad "unknown command" frobnicate
printf 'interval: 1s\nlisten: [oops\n' >"$WORK/bad.yaml"
bad "bad.yaml" run --config "$WORK/bad.yaml"
printf 'colour: blue\n' >"$WORK/bad2.yaml"
bad "colour" run --config "$WORK/bad2.yaml"

# port already taken: the agent says so and exits
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1", '"$PM_PORT"')); s.listen(); time.sleep(30)' &
holder=$!
STARTED_PIDS+=("$holder")
sleep 0.5
bad "--listen" run --listen "127.0.0.1:$PM_PORT" --pin-dir "$PM_PIN_DIR"
kill "$holder" 2>/dev/null

"$PODMETER" version | grep -q "^podmeter $(cat VERSION) " && pass "version" || fail "version"
finish
