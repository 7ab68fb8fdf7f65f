#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The reconciler's Grafana dashboards (packaging/grafana/podmeter-reconciler-
# dashboard.json for Grafana's PostgreSQL data source, -sqlite.json for its
# SQLite one): the same queries in both, and every query run against a
# SQLite store and a PostgreSQL store the load generator filled, with
# Grafana's $__from and $__to put in as Grafana does. Each returns rows, and
# what the panels add up to is what the load generator sent: cost over time
# by namespace and by team, idle cost, reports stored, nodes, findings.
set -u
. "$(dirname "$0")/reconciler_lib.sh"
. "$(dirname "$0")/pg.sh"
REC_PORT=${REC_PORT:-19487}
REC_URL="http://127.0.0.1:$REC_PORT"
NODES=10
REPORTS=15
TBASE=$(( $(date +%s) / 3600 * 3600 - 7200 ))

"$LOAD" --write-tokens "$RWORK/tokens" --nodes $NODES || { fail "tokens"; finish; exit; }
pg_start || { fail "postgresql: no server"; finish; exit; }
for store in "sqlite:$RWORK/dash.db" "$PG_URL"; do
	name=${store%%:*}
	start_reconciler --store "$store" --node-tokens "$RWORK/tokens" || { fail "$name: start"; continue; }
	"$LOAD" --url "$REC_URL/v1/reports" --nodes $NODES --reports $REPORTS --pods 20 --concurrency 4 \
		--time-base $TBASE --sums "$RWORK/$name.sums" >"$RWORK/$name.load" 2>&1 || fail "$name: load"
	stop_reconciler
done
python3 - "$RWORK" "$PG_BIN/psql" "$PG_DIR" "$PG_PORT" $TBASE $REPORTS >"$RWORK/verdicts" 2>&1 <<'PY'
import json, sqlite3, subprocess, sys, time
work, psql, pgdir, pgport = sys.argv[1:5]
tbase, reports = float(sys.argv[5]), int(sys.argv[6])
out = []
def check(ok, what):
    out.append(("PASS " if ok else "FAIL ") + what)
boards = {k: json.load(open("packaging/grafana/podmeter-reconciler-dashboard%s.json" % k))
          for k in ("", "-sqlite")}
def queries(d):
    return [(p["title"], t["rawSql"], t["format"]) for p in d["panels"] for t in p.get("targets", [])]
pgq, sqq = queries(boards[""]), queries(boards["-sqlite"])
check(pgq == sqq and len(pgq) >= 8, "both dashboards hold the same %d queries" % len(pgq))
check(all(t["datasource"]["type"] == "grafana-postgresql-datasource"
          for p in boards[""]["panels"] for t in p.get("targets", [])), "PostgreSQL: every target on the data source variable's type")
check(all(t["datasource"]["type"] == "frser-sqlite-datasource"
          for p in boards["-sqlite"]["panels"] for t in p.get("targets", [])), "SQLite: every target on the SQLite plugin")
now_ms = int(time.time() * 1000)
frm, to = now_ms - 3 * 86400 * 1000, now_ms + 3600 * 1000
def grafana(sql):  # Grafana interpolates its global variables as numbers
    return sql.replace("$__from", str(frm)).replace("$__to", str(to))
def run_sqlite(sql):
    con = sqlite3.connect(work + "/dash.db")
    cur = con.execute(grafana(sql))
    return [d[0] for d in cur.description], cur.fetchall()
def run_pg(sql):
    r = subprocess.run(["runuser", "-u", "postgres", "--", psql, "-h", pgdir, "-p", pgport, "-U",
                        "postgres", "-d", "podmeter", "-X", "-A", "-F", "\t", "--pset=footer=off",
                        "-v", "ON_ERROR_STOP=1", "-c", grafana(sql)], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr.strip())
    lines = r.stdout.rstrip("\n").split("\n")
    cols = lines[0].split("\t")
    rows = [tuple(v for v in l.split("\t")) for l in lines[1:] if l]
    return cols, rows
def col(cols, rows, name):
    i = cols.index(name)
    return [float(r[i]) for r in rows]
for engine, run in (("sqlite", run_sqlite), ("postgresql", run_pg)):
    sums = json.load(open("%s/%s.sums" % (work, engine)))
    cost, idle = sum(sums["cost"]) * 1e-9, sum(sums["idle"]) * 1e-9
    for title, sql, fmt in pgq:
        try:
            cols, rows = run(sql)
        except Exception as e:
            check(False, "%s: %s: %s" % (engine, title, e))
            continue
        ok = len(rows) > 0 and (fmt != "time_series" or cols[0] == "time")
        check(ok, "%s: %s: %d rows, columns %s" % (engine, title, len(rows), ",".join(cols)))
        def near(got, want, what):
            check(abs(got - want) <= 1e-6 * max(want, 1e-9), "%s: %s: %s %.6f, sent %.6f" % (engine, title, what, got, want))
        if title.startswith("Cost by namespace ($"):
            near(sum(col(cols, rows, "cost")), cost, "cost over time")
        elif title.startswith("Cost by team"):
            near(sum(col(cols, rows, "cost")), cost, "cost over time")
            teams = sorted({r[cols.index("metric")] for r in rows})
            check(teams == ["team-%d" % i for i in range(5)], "%s: teams %s" % (engine, teams))
        elif title.startswith("Idle cost"):
            near(sum(col(cols, rows, "idle")), idle, "idle over time")
        elif title.startswith("Cost by namespace over"):
            near(sum(col(cols, rows, "cpu") + col(cols, rows, "memory") + col(cols, rows, "gpu") +
                     col(cols, rows, "network")), cost, "cost")
        elif title.startswith("Reports stored"):
            near(sum(col(cols, rows, "reports")), sums["acked"], "reports")
        elif title.startswith("Nodes"):
            check(len(rows) == len(sums["nodes"]), "%s: a row a node: %d" % (engine, len(rows)))
        elif title.startswith("Idle and zombie"):
            check(all(r[cols.index("kind")] == "idle" for r in rows) and len(rows) == 2 * len(sums["nodes"]),
                  "%s: the idle findings, one row each however many windows saw them: %d" % (engine, len(rows)))
            first = {float(r[cols.index("first_seen")]) for r in rows}
            last = {float(r[cols.index("last_seen")]) for r in rows}
            check(first == {tbase} and last == {tbase + reports * 60.0},
                  "%s: first seen at the first window's start, last at the last's end: %s, %s" % (engine, first, last))
print("\n".join(out))
PY
while read -r v line; do [ "$v" = PASS ] && pass "$line" || fail "$line"; done <"$RWORK/verdicts"
finish
