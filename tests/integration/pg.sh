# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A throwaway PostgreSQL server for the reconciler's tests, from Debian's
# postgresql package: initdb in a temporary directory, a Unix socket there
# (no TCP port), stopped and removed by pg_stop. PostgreSQL refuses to run
# as root: as root the server runs as the "postgres" user.
#   . tests/integration/pg.sh; pg_start || exit; ...; pg_stop
# pg_start sets PG_URL (a libpq URL for database "podmeter") and PG_DIR.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PG_PORT=${PG_PORT:-$((54000 + $$ % 1000))}
PG_DIR=""
PG_URL=""

pg_as() {	# run a PostgreSQL program as the user the server runs as
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	[ -x "$PG_BIN/initdb" ] || { echo "  pg: no initdb under /usr/lib/postgresql (apt-get install postgresql)"; return 1; }
	PG_DIR=$(mktemp -d /tmp/podmeter-pg.XXXXXX) || return 1
	[ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DIR"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
		>"$PG_DIR/initdb.log" 2>&1 || { echo "  pg: initdb failed:"; cat "$PG_DIR/initdb.log"; return 1; }
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-k $PG_DIR -p $PG_PORT -c listen_addresses= -c max_connections=64" start \
		>/dev/null 2>&1 || { echo "  pg: the server did not start:"; cat "$PG_DIR/server.log"; return 1; }
	pg_as "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U postgres podmeter ||
		{ echo "  pg: createdb failed"; return 1; }
	PG_URL="postgresql:///podmeter?host=$PG_DIR&port=$PG_PORT&user=postgres"
}

pg_psql() {	# pg_psql SQL: one statement's rows, unaligned
	pg_as "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d podmeter -tA -c "$1"
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	PG_DIR=""
}
