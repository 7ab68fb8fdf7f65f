#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The proposal state machine under SIGKILL: propose kills itself (a real
# SIGKILL, --crash-at) at each step (candidate recorded; branch pushed,
# not recorded; pushed recorded; pull request created, not recorded;
# open recorded; an open pull request updated, not recorded; a pull
# request closed, not recorded). The next cycle must leave exactly one
# pull request per group on the forge, each recorded open in the store
# with its number, and its branch at the commit the store names; a pull
# request podmeter closed itself is superseded, not taken for a rejection.
# Then PostgreSQL with writers racing: the advisory lock lets one write.
set -u
. "$(dirname "$0")/reconciler_lib.sh"
. "$(dirname "$0")/gitops_lib.sh"
. "$(dirname "$0")/pg.sh"

H=$RWORK/history
mkdir -p "$H"
start_reconciler --store "sqlite:$H/rec.db" --insecure-no-auth || { fail "reconciler"; finish; exit; }
history
stop_reconciler

# consistent DIR STORE_DB FLAVOR: one open pull request per group, as the store says
consistent() {
	forge_state >"$1/state.json"
	sqlite3 -separator '|' "$2" "SELECT grp, state, number, commit_sha, branch FROM proposals" >"$1/rows"
	for b in $(git --git-dir="$1/gitops.git" for-each-ref --format='%(refname:short)' refs/heads/podmeter); do
		echo "$b $(git --git-dir="$1/gitops.git" rev-parse "$b")"
	done >"$1/branches"
	python3 - "$1" "$3" <<'PY'
import json, sys
d, fl = sys.argv[1], sys.argv[2]
prs = [p for p in json.load(open(d + "/state.json"))[fl]["prs"] if p["state"] == "open"]
rows = [l.strip().split("|") for l in open(d + "/rows") if l.strip()]
heads = dict(l.split() for l in open(d + "/branches") if l.strip())
live = [r for r in rows if r[1] in ("candidate", "pushed", "open")]
bad = []
by_head = {}
for p in prs:
    by_head.setdefault(p["head"], []).append(p["number"])
bad += ["%s has %d open pull requests" % (h, len(n)) for h, n in by_head.items() if len(n) > 1]
for r in live:
    if r[1] != "open":
        bad.append("%s left %s" % (r[0], r[1]))
    elif [int(r[2])] != by_head.get(r[4]):
        bad.append("%s recorded #%s, forge has %s" % (r[0], r[2], by_head.get(r[4])))
    elif heads.get(r[4]) != r[3]:
        bad.append("%s: branch at %s, store says %s" % (r[0], heads.get(r[4]), r[3]))
recorded = {r[4] for r in live}
bad += ["pull request on %s not recorded" % h for h in by_head if h not in recorded]
print("; ".join(bad) if bad else "ok %d open, %d rows" % (len(prs), len(rows)))
PY
}

# fresh NAME: a repository, a forge and the history's store
fresh() {
	D=$RWORK/$1
	mkdir -p "$D"
	make_repo "$D"
	stop_forge
	start_forge "$D" || return 1
	cp "$H/rec.db" "$D/rec.db"
}

for step in after-candidate after-push after-pushed after-create after-open; do
	fresh "$step" || { fail "forge"; continue; }
	propose "$D" github "sqlite:$D/rec.db" --crash-at "$step" >"$D/crash.out" 2>&1
	rc=$?
	propose "$D" github "sqlite:$D/rec.db" >"$D/p1.out" 2>&1
	propose "$D" github "sqlite:$D/rec.db" >"$D/p2.out" 2>&1
	v=$(consistent "$D" "$D/rec.db" github)
	check '[ $rc = 137 ] && [ "${v#ok 3 open}" != "$v" ]' "SIGKILL $step (rc $rc), then two cycles: $v"
done

# an open pull request updated, then killed before the store knew
fresh after-update || fail "forge"
propose "$D" github "sqlite:$D/rec.db" >"$D/p0.out" 2>&1
sed -i 's/^  minDays: 2$/  minDays: 2\n  cpu:\n    target: 0.6/' "$D/work/.podmeter/policy.yaml"
repo_commit "$D" "policy: target 0.6"
propose "$D" github "sqlite:$D/rec.db" --crash-at after-update >"$D/crash.out" 2>&1
rc=$?
propose "$D" github "sqlite:$D/rec.db" >"$D/p1.out" 2>&1
v=$(consistent "$D" "$D/rec.db" github)
check '[ $rc = 137 ] && [ "${v#ok 3 open}" != "$v" ] &&
	[ "$(sqlite3 "$D/rec.db" "SELECT state FROM proposals WHERE id = '\''lab-pay#1'\''")" = superseded ] &&
	[ "$(pyq "[p[\"body\"].startswith(\"<!-- podmeter-proposal group=lab-pay id=lab-pay#2 \") for p in s[\"github\"][\"prs\"] if p[\"head\"] == \"podmeter/lab-pay\"]")" = "[True]" ]' \
	"SIGKILL after-update (rc $rc): the same pull request now carries lab-pay#2: $v"

# podmeter closes a pull request itself, then is killed before recording it
fresh after-close || fail "forge"
propose "$D" github "sqlite:$D/rec.db" >"$D/p0.out" 2>&1
cat >>"$D/work/.podmeter/policy.yaml" <<'EOF'
scope:
  namespaces:
    exclude: ["^pay$"]
EOF
repo_commit "$D" "policy: pay out of scope"
propose "$D" github "sqlite:$D/rec.db" --crash-at after-close >"$D/crash.out" 2>&1
rc=$?
propose "$D" github "sqlite:$D/rec.db" >"$D/p1.out" 2>&1
v=$(consistent "$D" "$D/rec.db" github)
check '[ $rc = 137 ] && [ "${v#ok 2 open}" != "$v" ] &&
	[ "$(sqlite3 "$D/rec.db" "SELECT state FROM proposals WHERE grp = '\''lab-pay'\''")" = superseded ] &&
	[ "$(pyq "[p[\"state\"] for p in s[\"github\"][\"prs\"] if p[\"head\"] == \"podmeter/lab-pay\"][0]")" = closed ]' \
	"SIGKILL after-close (rc $rc): closed on the forge, superseded in the store, not a rejection: $v"

# ---- PostgreSQL: replicas racing for the writer's lock ----
if pg_start; then
	D=$RWORK/pg
	mkdir -p "$D"
	make_repo "$D"
	stop_forge
	start_forge "$D"
	start_reconciler --store "$PG_URL" --insecure-no-auth || fail "reconciler on postgresql"
	history
	stop_reconciler
	key=$(printf '%d' 0x706f646d6574)
	pg_as "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d podmeter -qtA \
		-c "SELECT pg_advisory_lock($key)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	holder=$!
	RSTARTED+=("$holder")
	for _ in $(seq 1 50); do
		[ "$(pg_psql "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'")" -gt 0 ] && break
		sleep 0.1
	done
	propose "$D" github "$PG_URL" >"$D/locked.out" 2>&1
	check 'grep -q "another replica holds the writer" "$D/locked.out" && [ "$(pyq "len(s[\"github\"][\"prs\"])")" = 0 ]' \
		"postgresql: while another session holds the lock, propose writes nothing"
	pg_psql "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'" >/dev/null
	wait "$holder" 2>/dev/null
	for i in 1 2 3 4; do
		propose "$D" github "$PG_URL" >"$D/race.$i.out" 2>&1 &
	done
	wait $(jobs -p | grep -v "^$FORGE_PID$") 2>/dev/null
	propose "$D" github "$PG_URL" >"$D/last.out" 2>&1
	open=$(pg_psql "SELECT COUNT(*) FROM proposals WHERE state = 'open'")
	check '[ "$(pyq "len(s[\"github\"][\"prs\"])")" = 3 ] && [ "$open" = 3 ]' \
		"postgresql: four writers at once, then one more: 3 pull requests, $open open proposals ($(grep -l 'another replica' "$D"/race.*.out 2>/dev/null | wc -l) waited for the lock)"
	pg_stop
else
	fail "postgresql: no server"
fi
[ -n "${KEEP:-}" ] && cp -r "$RWORK" "$KEEP"
finish
