#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The reconciler's PostgreSQL store, on a real server from Debian's
# postgresql package (initdb in a temporary directory):
#   - the store's unit tests (tests/unit/reconciler/test_store.c) run again
#     on it: exactly once, sequences, hourly split, groupings, merged
#     quantiles against the union of the samples, retention;
#   - the same schema as SQLite: every table with the same columns, types
#     and primary key, at the same schema version (podmeter-reconciler
#     migrate on both).
set -u
. "$(dirname "$0")/reconciler_lib.sh"
. "$(dirname "$0")/pg.sh"
STORE_TEST=${STORE_TEST:-build/tests/reconciler/test_store}

pg_start || { fail "postgresql: no server"; finish; exit; }
log "postgresql $("$PG_BIN/postgres" --version | awk '{ print $3 }') at $PG_DIR"
if PM_TEST_PG="$PG_URL" "$STORE_TEST" >"$RWORK/store.out" 2>&1; then
	pass "store unit tests on SQLite and PostgreSQL: $(grep -c '^\[       OK' "$RWORK/store.out") passed"
else
	fail "store unit tests: $(grep -E 'FAILED|ERROR' "$RWORK/store.out" | head -5)"
fi
grep -E "^p[0-9]+:" "$RWORK/store.out" | sort -u | sed 's/^/  merged quantiles: /'

pg_psql "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1
a=$("$RECONCILER" migrate --store "$PG_URL" 2>&1)
b=$("$RECONCILER" migrate --store "sqlite:$RWORK/schema.db" 2>&1)
check '[ "${a#* store}" = "${b#* store}" ] && echo "$a" | grep -q "^postgresql store at schema version [0-9]"' \
	"migrate: \"$a\", \"$b\""
pg_psql "SELECT c.table_name, c.column_name, c.data_type, c.ordinal_position
	FROM information_schema.columns c WHERE c.table_schema = 'public'
	ORDER BY c.table_name, c.ordinal_position" >"$RWORK/pg.cols"
pg_psql "SELECT tc.table_name, k.column_name FROM information_schema.table_constraints tc
	JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name
	WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'
	ORDER BY tc.table_name, k.ordinal_position" >"$RWORK/pg.pk"
python3 - "$RWORK/schema.db" "$RWORK/pg.cols" "$RWORK/pg.pk" >"$RWORK/verdicts" 2>&1 <<'PY'
import sqlite3, sys
db, pg_cols, pg_pk = sys.argv[1:4]
norm = {"bigint": "bigint", "integer": "integer", "text": "text", "bytea": "bytea",
        "double precision": "double precision"}
pg, pk = {}, {}
for line in open(pg_cols):
    t, c, ty, _ = line.strip().split("|")
    pg.setdefault(t, []).append((c, norm.get(ty, ty)))
for line in open(pg_pk):
    t, c = line.strip().split("|")
    pk.setdefault(t, []).append(c)
con = sqlite3.connect(db)
lite, lpk = {}, {}
for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
    cols = con.execute("PRAGMA table_info(%s)" % t).fetchall()
    lite[t] = [(c[1], c[2].lower()) for c in cols]
    keyed = sorted((c[5], c[1]) for c in cols if c[5])
    if keyed:
        lpk[t] = [name for _, name in keyed]
out = []
def check(ok, what):
    out.append(("PASS " if ok else "FAIL ") + what)
check(sorted(lite) == sorted(pg), "the same tables: %s" % ", ".join(sorted(lite)))
diff = [t for t in lite if lite[t] != pg.get(t)]
check(not diff, "every table's columns and types alike (%d columns); differ: %s" %
      (sum(len(v) for v in lite.values()), [(t, lite[t], pg.get(t)) for t in diff][:1]))
check(lpk == pk, "the same primary keys: %s" % ("" if lpk == pk else (lpk, pk)))
print("\n".join(out))
PY
while read -r v line; do [ "$v" = PASS ] && pass "$line" || fail "$line"; done <"$RWORK/verdicts"
finish
