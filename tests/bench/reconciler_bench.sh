#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# podmeter-reconciler under load (make bench; not a test): simulated nodes of
# 30 pods each post over real HTTP (tests/bench/reconciler_load.c, duplicates
# and reordering included), against SQLite and against PostgreSQL (a server
# initdb'ed here). Printed, for each store:
#   - reports/s sustained, many nodes sending at once (48 connections);
#   - p50 and p99 acknowledgement latency at half the goal (100 reports/s);
#   - bytes stored per node-day (60 s windows: 1,440 reports), from the
#     store's growth over the reports it took;
# and, in the same run, the reference receiver `podmeter receive` (a JSON
# line a report, no store) as the baseline the figures are a ratio to.
#   RECONCILER=build/podmeter-reconciler LOAD=build/bench/reconciler_load \
#   PODMETER=build/podmeter tests/bench/reconciler_bench.sh
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/integration/pg.sh
RECONCILER=${RECONCILER:-build/podmeter-reconciler}
LOAD=${LOAD:-build/bench/reconciler_load}
PODMETER=${PODMETER:-build/podmeter}
PORT=${BENCH_PORT:-19496}
URL="http://127.0.0.1:$PORT/v1/reports"
W=$(mktemp -d /tmp/podmeter-bench.XXXXXX)
PID=""
trap '[ -n "$PID" ] && kill -KILL $PID 2>/dev/null; pg_stop; rm -rf "$W"' EXIT
NODES=400
GOAL=200

up() {
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
		sleep 0.1
	done
	return 1
}
down() { kill -TERM "$PID"; wait "$PID" 2>/dev/null; PID=""; }
# field NAME FILE: a figure of the load generator's output
rate_of() { sed -n 's/.*: \([0-9.]*\) reports\/s.*/\1/p' "$1"; }
lat_of() { sed -n "s/.*latency p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\\$2/p" "$1"; }
size_of() {
	case $1 in
	sqlite:*) stat -c %s "${1#sqlite:}" ;;
	*) pg_psql "SELECT pg_database_size(current_database())" ;;
	esac
}

"$LOAD" --write-tokens "$W/tokens" --nodes $NODES || exit 1
echo "reconciler bench: $NODES simulated nodes x 30 pods, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"

# the baseline: the reference receiver, same load generator, same machine, same run
"$PODMETER" receive --listen "127.0.0.1:$PORT" --out "$W/recv" >"$W/recv.log" 2>&1 &
PID=$!
up || { echo "receive did not start"; exit 1; }
"$LOAD" --url "$URL" --nodes $NODES --reports 5 --concurrency 48 --seq-start 1 >"$W/base.out"
down
BASE=$(rate_of "$W/base.out")
echo "  podmeter receive (JSON lines, no store): $BASE reports/s"

pg_start >/dev/null || { echo "postgresql did not start"; exit 1; }
printf '  %-10s %12s %10s %12s %12s %16s\n' store reports/s "x receive" "p50 (ms)" "p99 (ms)" "bytes/node-day"
for store in "sqlite:$W/bench.db" "$PG_URL"; do
	name=${store%%:*}
	"$RECONCILER" migrate --store "$store" >/dev/null || { echo "$name: migrate failed"; continue; }
	empty=$(size_of "$store")
	"$RECONCILER" serve --listen "127.0.0.1:$PORT" --store "$store" --node-tokens "$W/tokens" \
		>"$W/$name.log" 2>&1 &
	PID=$!
	up || { echo "$name: reconciler did not start"; cat "$W/$name.log"; continue; }
	"$LOAD" --url "$URL" --nodes $NODES --reports 5 --concurrency 48 --seq-start 1 >"$W/$name.max"
	"$LOAD" --url "$URL" --nodes $NODES --reports 3 --concurrency 48 --rate $((GOAL / 2)) \
		--seq-start 6 >"$W/$name.half"
	stored=$(curl -s "http://127.0.0.1:$PORT/metrics" |
		sed -n 's/^podmeter_reconciler_reports_total{verdict="stored"} //p')
	down
	[ "$name" = sqlite ] && sqlite3 "${store#sqlite:}" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	[ "$name" = postgresql ] && pg_psql "VACUUM" >/dev/null 2>&1 && pg_psql "CHECKPOINT" >/dev/null
	full=$(size_of "$store")
	rate=$(rate_of "$W/$name.max")
	per_day=$(awk -v a="$full" -v b="$empty" -v n="$stored" 'BEGIN { printf "%.0f", (a - b) / n * 1440 }')
	printf '  %-10s %12s %10s %12s %12s %16s\n' "$name" "$rate" \
		"$(awk -v r="$rate" -v b="$BASE" 'BEGIN { printf "%.2f", r / b }')" \
		"$(lat_of "$W/$name.half" 1)" "$(lat_of "$W/$name.half" 2)" "$per_day"
	grep -h "^load:" "$W/$name.max" "$W/$name.half" | sed 's/^/      /'
done
echo "  goals: >= $GOAL reports/s with each store; p99 < 100 ms at $((GOAL / 2)) reports/s"
echo "  (bytes/node-day: the store's growth over $((NODES * 8)) reports of 30 pods, times 1,440;"
echo "   raw pod-windows are most of it and are kept 7 days, rollups 400)"
