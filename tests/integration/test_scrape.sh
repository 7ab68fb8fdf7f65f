#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Who may scrape, and what a scrape flood costs. With a web config (TLS from
# a CA made here with openssl, a bearer token file): plain HTTP gets nothing,
# /metrics and /v1/pods answer 401 without a token or with a wrong one and
# 200 with the right one, a rotated token file is read again, TLS below 1.2
# is refused, client certificates are verified when asked, /healthz stays
# open. Then 8 scrapers, each 50 requests a connection, for 10 s (at most
# 8,000 requests each, cut at the deadline): every /healthz probe meanwhile
# answers within 100 ms, the agent collects at most once per 250 ms plus
# its ticks, and its CPU over the flood (from /proc/<pid>/stat), printed
# against the same agent idle, stays within the DaemonSet's CPU limit.
set -u
PM_PORT=${PM_PORT:-19495}
. "$(dirname "$0")/lib.sh"

V2=$(cg_v2_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
echo "scrape: TLS, bearer tokens, client certificates and a flood"
FLOOD_S=${FLOOD_S:-10}
SCRAPERS=8
PER_CONN=50
MAX_PER_SCRAPER=8000
URL="https://127.0.0.1:$PM_PORT"
PM_URL=$URL	# start_agent and scrape go over TLS
export CURL_CA_BUNDLE="$WORK/ca.pem"

# a CA, a server and a client certificate it signs, and a client it does not
ssl() { openssl "$@" >/dev/null 2>&1 || { fail "openssl $1"; finish; exit; }; }
ec() { ssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "$@"; }
ec -x509 -days 1 -subj /CN=podmeter-test-ca -keyout "$WORK/ca.key" -out "$WORK/ca.pem"
for who in server client; do
	ec -subj "/CN=$who" -keyout "$WORK/$who.key" -out "$WORK/$who.csr"
	printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/$who.ext"
	ssl x509 -req -in "$WORK/$who.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
		-CAcreateserial -days 1 -extfile "$WORK/$who.ext" -out "$WORK/$who.pem"
done
ec -x509 -days 1 -subj /CN=rogue -keyout "$WORK/rogue.key" -out "$WORK/rogue.pem"
token() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }
TOKEN=$(token)
printf '# scrapers\n%s\n' "$TOKEN" >"$WORK/tokens"
cat >"$WORK/web.yaml" <<EOF
tls_server_config:
  cert_file: server.pem
  key_file: server.key
bearer_tokens_file: $WORK/tokens
EOF

# a few pods, so a scrape carries pod series
for i in $(seq 1 20); do
	c="$V2/kubepods/besteffort/pod$(newuid)/$(printf '%064x' $i)"
	mkcg "$c" || { fail "create fake pod"; finish; exit; }
	run_in_cg "$c" sleep 300
done

code() {	# code URL [curl args...]: the HTTP status, 000 when no answer
	local url=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' "$@" "$url"
}

start_agent --cgroup-mode v2 --web-config "$WORK/web.yaml" || { fail "agent start"; finish; exit; }
sleep 2

# ---- who may read ----
c=$(code "http://127.0.0.1:$PM_PORT/metrics")
[ "$c" = 000 ] && pass "plain HTTP gets no answer on the TLS port" || fail "plain HTTP: $c"
c=$(code "$URL/healthz")
[ "$c" = 200 ] && pass "/healthz open over TLS, no token ($c)" || fail "/healthz: $c"
for path in /metrics /v1/pods; do
	c=$(code "$URL$path")
	[ "$c" = 401 ] && pass "$path without a token: $c" || fail "$path without a token: $c"
	c=$(code "$URL$path" -H "Authorization: Bearer $(token)")
	[ "$c" = 401 ] && pass "$path with a wrong token: $c" || fail "$path with a wrong token: $c"
	c=$(code "$URL$path" -H "Authorization: Basic $(printf 'u:%s' "$TOKEN" | base64)")
	[ "$c" = 401 ] && pass "$path with the token as Basic: $c" || fail "$path as Basic: $c"
	c=$(code "$URL$path" -H "Authorization: Bearer $TOKEN")
	[ "$c" = 200 ] && pass "$path with the token: $c" || fail "$path with the token: $c"
done
curl -s -D "$WORK/h401" -o /dev/null "$URL/metrics"
grep -qi '^WWW-Authenticate: Bearer' "$WORK/h401" && pass "401 names the Bearer scheme" ||
	fail "no WWW-Authenticate: $(cat "$WORK/h401")"
curl -sf -H "Authorization: Bearer $TOKEN" "$URL/metrics" >"$WORK/m1"
grep -q '^podmeter_pod_cpu_seconds_total{' "$WORK/m1" && pass "the scrape carries pod series" ||
	fail "no pod series: $(head -c 300 "$WORK/m1")"
curl -sf -H "Authorization: Bearer $TOKEN" "$URL/v1/pods" |
	python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["pods"] else 1)' &&
	pass "/v1/pods is JSON with pods" || fail "/v1/pods"
# a client able to speak TLS 1.1 (curl's own floor lowered) is refused; 1.2 is not
c=$(code "$URL/healthz" --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0')
c2=$(code "$URL/healthz" --tls-max 1.2)
[ "$c" = 000 ] && [ "$c2" = 200 ] && pass "TLS 1.1 refused, TLS 1.2 answered" ||
	fail "TLS 1.1: $c, TLS 1.2: $c2"
# tokens rotate: a new file in place (as a Secret update does)
NEW=$(token)
printf '%s\n' "$NEW" >"$WORK/tokens.new" && mv "$WORK/tokens.new" "$WORK/tokens"
c=$(code "$URL/metrics" -H "Authorization: Bearer $TOKEN")
[ "$c" = 401 ] && pass "the rotated-out token: $c" || fail "the rotated-out token: $c"
c=$(code "$URL/metrics" -H "Authorization: Bearer $NEW")
[ "$c" = 200 ] && pass "the new token: $c" || fail "the new token: $c"
TOKEN=$NEW

# ---- the flood ----
stat_cpu() { awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat"; }
hz=$(getconf CLK_TCK)
idle0=$(stat_cpu)
sleep "$FLOOD_S"
idle1=$(stat_cpu)
scrape_count() {
	curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics" |
		awk '$1 == "podmeter_agent_collect_duration_seconds_count" { print $2 }'
}
col0=$(scrape_count)
scraper() {	# scraper K: batches of PER_CONN requests on one connection until the deadline
	local k=$1 args=() i n=0 path=/metrics left
	[ $((k % 2)) -eq 1 ] && path=/v1/pods
	for ((i = 0; i < PER_CONN; i++)); do args+=(-o /dev/null "$URL$path"); done
	while left=$(((deadline - $(date +%s%N)) / 1000000)) && [ "$left" -gt 0 ] &&
		[ $n -lt $MAX_PER_SCRAPER ]; do
		# the batch under way is cut at the deadline: its requests left read 000
		curl -s -m "$((left / 1000)).$(printf %03d $((left % 1000)))" -w '%{http_code}\n' \
			-H "Authorization: Bearer $TOKEN" "${args[@]}"
		n=$((n + PER_CONN))
	done >"$WORK/flood.$k"
}
deadline=$(($(date +%s%N) + FLOOD_S * 1000000000))
cpu0=$(stat_cpu)
t0=$(date +%s%N)
pids=()
for k in $(seq 1 $SCRAPERS); do
	nice -n 10 bash -c "$(declare -f scraper); deadline=$deadline; URL=$URL; PER_CONN=$PER_CONN; \
		MAX_PER_SCRAPER=$MAX_PER_SCRAPER; TOKEN=$TOKEN; WORK=$WORK; scraper $k" &
	pids+=($!)
	STARTED_PIDS+=($!)
done
# probes as the kubelet sends them: a new connection each, every 200 ms. The
# scrapers run below the agent's priority and the probing curl above it: on
# a node they are other machines, and what is timed here is the agent
while [ "$(date +%s%N)" -lt "$deadline" ]; do
	nice -n -5 curl -s -o /dev/null -w '%{http_code} %{time_appconnect} %{time_total}\n' \
		"$URL/healthz"
	sleep 0.2
done >"$WORK/probes"
wait "${pids[@]}"
t1=$(date +%s%N)
cpu1=$(stat_cpu)
col1=$(scrape_count)
ok=$(cat "$WORK"/flood.* | grep -c '^200$')
cut=$(cat "$WORK"/flood.* | grep -c '^000$')
bad=$(cat "$WORK"/flood.* | grep -vcE '^(200|000)$')
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
# request time: from the TLS session up to the whole answer; total: with the handshake
read -r probes probe_bad req_max tot_max <<<"$(awk '
	{ n++; if ($1 != 200) bad++; r = ($3 - $2) * 1000; t = $3 * 1000
	  if (r > rmax) rmax = r; if (t > tmax) tmax = t }
	END { printf "%d %d %.1f %.1f\n", n, bad, rmax, tmax }' "$WORK/probes")"
tot_med=$(awk '{ printf "%.1f\n", $3 * 1000 }' "$WORK/probes" | sort -n |
	awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "none" }')
flood_cores=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$hz" -v w="$wall" \
	'BEGIN { printf "%.3f", (b - a) / hz / w }')
idle_cores=$(awk -v a="$idle0" -v b="$idle1" -v hz="$hz" -v w="$FLOOD_S" \
	'BEGIN { printf "%.3f", (b - a) / hz / w }')
collections=$(awk -v a="$col0" -v b="$col1" 'BEGIN { print b - a }')
log "flood: $ok scrapes answered 200 in ${wall}s ($(awk -v n="$ok" -v w="$wall" \
	'BEGIN { printf "%.0f", n / w }')/s) by $SCRAPERS scrapers, $bad other answers," \
	"$cut cut at the deadline"
log "agent CPU: $flood_cores cores over the flood, $idle_cores idle;" \
	"$(awk -v c="$flood_cores" -v i="$idle_cores" -v w="$wall" -v n="$ok" \
	'BEGIN { printf "%.2f ms", n ? (c - i) * w * 1000 / n : 0 }') per scrape above idle"
log "collections over the flood: $collections in ${wall}s (ticks at 1 s, scrapes at most every 250 ms)"
log "healthz: $probes probes, $probe_bad not 200; request max ${req_max} ms;" \
	"with the TLS handshake max ${tot_max} ms, median ${tot_med} ms"
[ "$ok" -ge $((SCRAPERS * 10)) ] && [ "$bad" -eq 0 ] &&
	[ "$cut" -le $((SCRAPERS * PER_CONN)) ] &&
	pass "flood: $ok scrapes answered 200, none refused or failed" ||
	fail "flood: $ok scrapes 200, $bad other answers, $cut cut"
awk -v w="$wall" -v f="$FLOOD_S" 'BEGIN { exit !(w < f + 3) }' &&
	pass "the flood ended on time (${wall}s of ${FLOOD_S}s)" || fail "the flood took ${wall}s"
[ "$probes" -ge 5 ] && [ "$probe_bad" -eq 0 ] &&
	pass "healthz answered 200 to all $probes probes during the flood" ||
	fail "healthz: $probes probes, $probe_bad not 200"
# from state, never behind a collection: the median probe well under 100 ms, and
# none near the probe's timeout (5 s in the DaemonSet); a 2-core machine running
# the flood may still hold one probe's thread off a CPU for a while
req_med=$(awk '{ printf "%.1f\n", ($3 - $2) * 1000 }' "$WORK/probes" | sort -n |
	awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "none" }')
[ "$probes" -gt 0 ] && awk -v med="$req_med" -v m="$req_max" 'BEGIN { exit !(med < 100 && m < 1000) }' &&
	pass "healthz during the flood: median ${req_med} ms, max ${req_max} ms (under 100 ms and 1 s)" ||
	fail "healthz during the flood: median ${req_med} ms, max ${req_max} ms (want under 100 ms and 1 s)"
# collections: the flood cannot ask for more than one per 250 ms (plus the ticks)
awk -v c="$collections" -v w="$wall" 'BEGIN { exit !(c <= w * 5 + 3) }' &&
	pass "$collections collections for $ok scrapes (at most $(awk -v w="$wall" \
		'BEGIN { printf "%d", w * 5 + 3 }'))" ||
	fail "$collections collections in ${wall}s: the flood collects"
# within the CPU limit the DaemonSet gives the agent
cpu_limit=$(python3 -c '
import sys, yaml
ds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "DaemonSet"][0]
c = str(ds["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"])
print(int(c[:-1]) / 1000 if c.endswith("m") else float(c))' packaging/kubernetes/daemonset.yaml)
awk -v c="$flood_cores" -v l="$cpu_limit" 'BEGIN { exit !(c < l) }' &&
	pass "agent CPU over the flood $flood_cores cores, within the DaemonSet's limit $cpu_limit" ||
	fail "agent CPU over the flood $flood_cores cores, over the DaemonSet's limit $cpu_limit"
stop_agent

# ---- client certificates ----
cat >"$WORK/web-mtls.yaml" <<EOF
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem
  min_version: TLS13
bearer_tokens_file: tokens
EOF
start_agent --cgroup-mode v2 --web-config "$WORK/web-mtls.yaml" || { fail "agent start (mTLS)"; finish; exit; }
auth=(-H "Authorization: Bearer $TOKEN")
c=$(code "$URL/metrics" "${auth[@]}")
[ "$c" = 403 ] && pass "no client certificate: $c" || fail "no client certificate: $c"
c=$(code "$URL/metrics" "${auth[@]}" --cert "$WORK/rogue.pem" --key "$WORK/rogue.key")
[ "$c" = 403 ] || [ "$c" = 000 ] && pass "a certificate the CA did not sign: $c" ||
	fail "a rogue certificate: $c"
c=$(code "$URL/metrics" "${auth[@]}" --cert "$WORK/client.pem" --key "$WORK/client.key")
[ "$c" = 200 ] && pass "the CA's client certificate: $c" || fail "the client certificate: $c"
c=$(code "$URL/metrics" --cert "$WORK/client.pem" --key "$WORK/client.key")
[ "$c" = 401 ] && pass "a client certificate without the token: $c" || fail "without the token: $c"
c=$(code "$URL/healthz" --tls-max 1.2)
c2=$(code "$URL/healthz" --tlsv1.3)
[ "$c" = 000 ] && [ "$c2" = 200 ] && pass "min_version TLS13: TLS 1.2 refused, 1.3 answered" ||
	fail "min_version TLS13: TLS 1.2 $c, 1.3 $c2"
stop_agent

# ---- a web config podmeter cannot honour stops it at start ----
printf 'basic_auth_users:\n  alice: x\n' >"$WORK/web-bad.yaml"
"$PODMETER" run --web-config "$WORK/web-bad.yaml" --listen "127.0.0.1:$PM_PORT" \
	>"$WORK/bad.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'basic_auth_users.*not supported' "$WORK/bad.log" &&
	pass "basic_auth_users refused at start: $(head -c 160 "$WORK/bad.log")" ||
	fail "bad web config: exit $rc: $(cat "$WORK/bad.log")"
finish
