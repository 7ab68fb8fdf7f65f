#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Exactly once through crashes: 30 simulated nodes keep sending (each
# retrying a report until it is acknowledged, as an agent's spool does,
# duplicates and reordering included) while the reconciler is killed with
# SIGKILL three times and restarted on the same store. Afterwards every
# node's sequence is in the ledger exactly once, and the cost totals are
# the sums of what the load generator sent: on SQLite, and on PostgreSQL
# (a server from Debian's postgresql package, initdb'ed for the test).
#   test_reconciler_kill.sh [sqlite|postgresql|both]
set -u
. "$(dirname "$0")/reconciler_lib.sh"
. "$(dirname "$0")/pg.sh"
REC_PORT=${REC_PORT:-19482}
REC_URL="http://127.0.0.1:$REC_PORT"
WHICH=${1:-both}
NODES=30
REPORTS=40

# rows NODE-COUNT: "node seq count" of the ledger, by the engine's own client
ledger_rows() {
	case $1 in
	sqlite:*) sqlite3 -separator ' ' "${1#sqlite:}" \
		"SELECT node, seq, COUNT(*) FROM ledger GROUP BY node, seq ORDER BY node, seq" ;;
	*) pg_psql "SELECT node, seq, COUNT(*) FROM ledger GROUP BY node, seq ORDER BY node, seq" |
		tr '|' ' ' ;;
	esac
}

run_one() {
	local store=$1 name=$2 i
	log "$name: $NODES nodes x $REPORTS reports, SIGKILL three times"
	start_reconciler --store "$store" --node-tokens "$RWORK/tokens" ||
		{ fail "$name: reconciler start"; return; }
	"$LOAD" --url "$REC_URL/v1/reports" --nodes $NODES --reports $REPORTS --pods 10 \
		--concurrency 6 --rate 150 --dup 0.05 --reorder 0.05 --sums "$RWORK/$name.sums" \
		>"$RWORK/$name.load" 2>&1 &
	local load=$!
	RSTARTED+=("$load")
	for i in 1 2 3; do
		sleep 1.5
		kill -KILL "$REC_PID"
		wait "$REC_PID" 2>/dev/null
		REC_PID=""
		log "$name: killed ($i), restarting"
		start_reconciler --store "$store" --node-tokens "$RWORK/tokens" ||
			{ fail "$name: restart $i"; return; }
	done
	wait "$load"
	sed 's/^/  /' "$RWORK/$name.load"
	"$RECONCILER" costs --store "$store" --by node --since 3d --format json >"$RWORK/$name.costs" ||
		fail "$name: costs"
	stop_reconciler || fail "$name: exit status on SIGTERM"
	ledger_rows "$store" >"$RWORK/$name.ledger"
	python3 - "$RWORK/$name.sums" "$RWORK/$name.costs" "$RWORK/$name.ledger" $NODES $REPORTS \
		"$name" >"$RWORK/$name.verdicts" 2>&1 <<'PY'
import json, sys
sums, costs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
rows = [l.split() for l in open(sys.argv[3]) if l.strip()]
nodes, reports, name = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
out = []
def check(ok, what):
    out.append(("PASS " if ok else "FAIL ") + name + ": " + what)
check(sums["acked"] == nodes * reports, "the load generator had every report acknowledged: %d of %d"
      % (sums["acked"], nodes * reports))
twice = [r for r in rows if int(r[2]) != 1]
check(not twice, "no (node, seq) in the ledger twice: %s" % twice[:3])
by = {}
for n, s, c in rows:
    by.setdefault(n, []).append(int(s))
want = list(range(1, reports + 1))
bad = [n for n in by if sorted(by[n]) != want]
check(len(by) == nodes and not bad, "every node's seq 1..%d once: %d nodes, wrong: %s" % (reports, len(by), bad[:3]))
res = ["cpu", "memory", "gpu", "network"]
got = [round(sum(r["cost"][k] for r in costs["rows"]) * 1e9) for k in res]
check(got == sums["cost"], "cost by resource in the store %s nanodollars, sent %s" % (got, sums["cost"]))
idle = round(sum(r["idle"]["total"] for r in costs["rows"]) * 1e9)
check(idle == sum(sums["idle"]), "idle %d, sent %d" % (idle, sum(sums["idle"])))
print("\n".join(out))
PY
	while read -r v line; do [ "$v" = PASS ] && pass "$line" || fail "$line"; done <"$RWORK/$name.verdicts"
	grep -q "stored\|duplicates" "$RWORK/$name.load" || true
}

"$LOAD" --write-tokens "$RWORK/tokens" --nodes $NODES || { fail "tokens"; finish; exit; }
case $WHICH in sqlite | both) run_one "sqlite:$RWORK/kill.db" sqlite ;; esac
case $WHICH in postgresql | both)
	if pg_start; then
		run_one "$PG_URL" postgresql
	else
		fail "postgresql: no server"
	fi
	;;
esac
finish
