# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Helpers for the reconciler's tests (no root, no BPF): a reconciler started
# and stopped, the load generator, results tallied as lib.sh does.
#   RECONCILER=build/podmeter-reconciler LOAD=build/bench/reconciler_load

RECONCILER=${RECONCILER:-build/podmeter-reconciler}
LOAD=${LOAD:-build/bench/reconciler_load}
REC_PORT=${REC_PORT:-19480}
REC_URL="http://127.0.0.1:$REC_PORT"
REC_PID=""
RWORK=$(mktemp -d /tmp/podmeter-rec.XXXXXX)
RSTARTED=()
FAILS=0
PASSES=0

log() { echo "  $*"; }
pass() { PASSES=$((PASSES + 1)); echo "  ok    $*"; }
fail() { FAILS=$((FAILS + 1)); echo "  FAIL  $*"; }
check() { if eval "$1"; then pass "$2"; else fail "$2"; fi; }

# start_reconciler ARGS...: serve on REC_PORT, logging to $RWORK/serve.log; waits for /healthz
start_reconciler() {
	"$RECONCILER" serve --listen "127.0.0.1:$REC_PORT" "$@" >>"$RWORK/serve.log" 2>&1 &
	REC_PID=$!
	local i scheme=http
	case " $* " in *" --tls-cert "*) scheme=https ;; esac
	for i in $(seq 1 100); do
		curl -sfk "$scheme://127.0.0.1:$REC_PORT/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$REC_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "  reconciler did not come up:"; tail -5 "$RWORK/serve.log"
	return 1
}

stop_reconciler() {
	[ -n "$REC_PID" ] || return 0
	kill -TERM "$REC_PID" 2>/dev/null
	local rc=0
	wait "$REC_PID" || rc=$?
	REC_PID=""
	return $rc
}

# status CURL-ARGS...: the HTTP status of one request
status() { curl -s -o "$RWORK/body" -w '%{http_code}' "$@"; }

# post_report TOKEN NODE FILE [more curl args]: POST a gzip'ed report body as an agent does
post_report() {
	local tok=$1 node=$2 file=$3
	shift 3
	status -X POST -H "Content-Type: application/x-protobuf" -H "Content-Encoding: gzip" \
		-H "X-Podmeter-Node: $node" ${tok:+-H "Authorization: Bearer $tok"} \
		--data-binary "@$file" "$@" "$REC_URL/v1/reports"
}

# metric NAME SELECTOR: a sample of the reconciler's /metrics ("missing" when absent)
metric() {
	curl -sk "${REC_SCHEME:-http}://127.0.0.1:$REC_PORT/metrics" | awk -v name="$1" -v sel="$2" '
		index($0, name "{") == 1 || $1 == name {
			if (sel == "" || index($0, sel)) { print $NF; found = 1; exit }
		}
		END { if (!found) print "missing" }'
}

rec_cleanup() {
	local p
	[ -n "$REC_PID" ] && kill -KILL "$REC_PID" 2>/dev/null
	for p in "${RSTARTED[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	declare -F pg_stop >/dev/null && pg_stop
	rm -rf "$RWORK"
}
trap rec_cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
