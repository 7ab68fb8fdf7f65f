#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Per-pod network by direction and class against bytes really sent.
# Four test hosts (network namespaces, veth pairs); the agent's config puts
# them in four classes. A fake pod sends 20 MB over TCP to the cross_zone
# host, 5 MB over UDP to the cross_region host, and receives 10 MB over TCP
# from the internet host. The truth is each peer's own interface counters:
# link-layer bytes less 14 bytes of Ethernet header per frame = the IP bytes
# that crossed (plus the few ARP frames the interface also counts: 28 bytes
# each, allowed 3 of them). Each class's bytes must match them within 1% and
# lie between the payload and payload + 80 bytes per segment (IPv4 header 20,
# TCP header at most 60; a segment carries at most the 1448-byte MSS of the
# 1500-byte veth MTU, plus 16 segments for the handshake and close; UDP: one
# datagram of 1400 bytes each); in_zone and local stay at zero.
set -u
. "$(dirname "$0")/lib.sh"

V2=$(cg_v2_root)
[ -n "$V2" ] || { echo "  skip: no cgroup v2 hierarchy"; exit 0; }
echo "net: cgroup v2 at $V2"
NS=(pmt-iz pmt-cz pmt-cr pmt-in)	# in_zone, cross_zone, cross_region, internet
NETS=()
cleanup_net() {
	local i
	for i in 0 1 2 3; do
		ip netns del "${NS[$i]}" 2>/dev/null
		ip link del "pmh$i" 2>/dev/null
	done
}
trap 'cleanup_net; cleanup' EXIT

# host side 10.99.N.1, peer 10.99.N.2
for i in 0 1 2 3; do
	n=${NS[$i]}
	ip netns add "$n" || { fail "ip netns add $n"; finish; exit; }
	ip link add "pmh$i" type veth peer name "pmp$i" netns "$n" || { fail "veth $i"; finish; exit; }
	sysctl -qw "net.ipv6.conf.pmh$i.disable_ipv6=1"
	ip netns exec "$n" sysctl -qw "net.ipv6.conf.pmp$i.disable_ipv6=1"
	ip addr add "10.99.$((i + 1)).1/24" dev "pmh$i"
	ip link set "pmh$i" up
	ip -n "$n" addr add "10.99.$((i + 1)).2/24" dev "pmp$i"
	ip -n "$n" link set "pmp$i" up
	ip -n "$n" link set lo up
done

cat >"$WORK/podmeter.yaml" <<YAML
net_cross_zone: 10.99.2.0/24
net_cross_region: 10.99.3.0/24
net_internet: 10.99.4.0/24
price_egress_cross_zone: 0.02
price_egress_cross_region: 0.05
price_egress_internet: 0.12
YAML

uid=$(newuid)
ctr="$V2/kubepods/burstable/pod$uid/$(printf '%064x' $RANDOM)"
mkcg "$ctr" || { fail "create fake pod"; finish; exit; }
start_agent --cgroup-mode v2 --config "$WORK/podmeter.yaml" || { fail "agent start"; finish; exit; }

# the peer's IP bytes and packets, each way (link bytes less 14 per frame)
peer_l3() {	# peer_l3 NS IF rx|tx -> "bytes packets"
	ip -n "$1" -s -j link show "$2" | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"][sys.argv[1]]
print(s["bytes"] - 14 * s["packets"], s["packets"])' "$3"
}

TCP_OUT=$((20 << 20))
UDP_OUT=$((5 << 20))
TCP_IN=$((10 << 20))

# sinks and the sender/receiver, bounded in time
ip netns exec pmt-cz timeout 60 python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.2.2", 5001)); s.listen(1); c, _ = s.accept(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    n += len(b)
print(n)' >"$WORK/cz.out" 2>&1 &
ip netns exec pmt-cr timeout 60 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.99.3.2", 5002)); s.settimeout(5)
n = 0
try:
    while True: n += len(s.recv(65536))
except socket.timeout: pass
print(n)' >"$WORK/cr.out" 2>&1 &
sleep 0.5

read -r cz_rx0 _ < <(peer_l3 pmt-cz pmp1 rx); read -r cz_tx0 _ < <(peer_l3 pmt-cz pmp1 tx)
read -r cr_rx0 _ < <(peer_l3 pmt-cr pmp2 rx)
read -r in_rx0 _ < <(peer_l3 pmt-in pmp3 rx); read -r in_tx0 _ < <(peer_l3 pmt-in pmp3 tx)
scrape "$WORK/m0"

# the pod: TCP out, UDP out (paced so the peer keeps up), TCP in
run_in_cg "$ctr" timeout 60 python3 -c '
import socket, sys, time
tcp_out, udp_out, tcp_in = map(int, sys.argv[1:4])
c = socket.create_connection(("10.99.2.2", 5001)); c.sendall(b"x" * tcp_out)
c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sent = 0
while sent < udp_out:
    n = min(1400, udp_out - sent); u.sendto(b"u" * n, ("10.99.3.2", 5002)); sent += n
    if sent % (1400 * 64) == 0: time.sleep(0.001)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.99.4.1", 5003)); l.listen(1)
open(sys.argv[4], "w").write("listening\n")
a, _ = l.accept(); got = 0
while True:
    b = a.recv(1 << 16)
    if not b: break
    got += len(b)
open(sys.argv[4], "a").write("got %d\n" % got)' "$TCP_OUT" "$UDP_OUT" "$TCP_IN" "$WORK/pod.out"
for _ in $(seq 1 100); do grep -q listening "$WORK/pod.out" 2>/dev/null && break; sleep 0.1; done
ip netns exec pmt-in timeout 60 python3 -c '
import socket, sys
c = socket.create_connection(("10.99.4.1", 5003)); c.sendall(b"y" * int(sys.argv[1])); c.close()' \
	"$TCP_IN"
for _ in $(seq 1 100); do grep -q "^got" "$WORK/pod.out" 2>/dev/null && break; sleep 0.1; done
wait_sinks() { local i; for i in $(seq 1 100); do [ -s "$WORK/cz.out" ] && [ -s "$WORK/cr.out" ] && return; sleep 0.1; done; }
wait_sinks
sleep 1.5
scrape "$WORK/m1"

read -r cz_rx1 _ < <(peer_l3 pmt-cz pmp1 rx); read -r cz_tx1 _ < <(peer_l3 pmt-cz pmp1 tx)
read -r cr_rx1 _ < <(peer_l3 pmt-cr pmp2 rx)
read -r in_rx1 _ < <(peer_l3 pmt-in pmp3 rx); read -r in_tx1 _ < <(peer_l3 pmt-in pmp3 tx)
log "sinks got: cross_zone $(cat "$WORK/cz.out") B, cross_region $(cat "$WORK/cr.out") B; pod $(grep got "$WORK/pod.out")"

delta() {	# podmeter's bytes of (direction, class) between the scrapes
	local sel="uid=\"$uid\",direction=\"$1\",class=\"$2\""
	awk -v a="$(metric_value "$WORK/m0" podmeter_pod_network_bytes_total "$sel")" \
	    -v b="$(metric_value "$WORK/m1" podmeter_pod_network_bytes_total "$sel")" \
	    'BEGIN { if (a == "missing" || b == "missing") print "missing"; else printf "%.0f\n", b - a }'
}
check() {	# check WHAT MEASURED TRUTH PAYLOAD MAX_OVERHEAD (-1: retransmits may add any amount)
	local what=$1 m=$2 t=$3 pay=$4 over=$5
	if [ "$m" = missing ]; then fail "$what: no series"; return; fi
	if awk -v m="$m" -v t="$t" -v p="$pay" -v o="$over" 'BEGIN {
		d = m - t; if (d < 0) d = -d
		exit !(d <= 0.01 * t + 3 * 28 && m >= p && (o < 0 || m <= p + o)) }'; then
		pass "$what: podmeter $m B, peer's interface $t B, payload $pay B"
	else
		fail "$what: podmeter $m B, peer's interface $t B, payload $pay B (1%; payload .. payload + $over)"
	fi
}
# TCP: at least the payload (a retransmit on the veth adds to both counts);
# UDP: the payload plus 28 header bytes a datagram, 1400 bytes each
check "tx cross_zone (TCP)" "$(delta tx cross_zone)" $((cz_rx1 - cz_rx0)) "$TCP_OUT" -1
check "tx cross_region (UDP)" "$(delta tx cross_region)" $((cr_rx1 - cr_rx0)) "$UDP_OUT" \
	$(((UDP_OUT + 1399) / 1400 * 28))
check "rx internet (TCP)" "$(delta rx internet)" $((in_tx1 - in_tx0)) "$TCP_IN" -1
# the acknowledgements going the other way: no payload, the interface is the truth
check "rx cross_zone (ACKs)" "$(delta rx cross_zone)" $((cz_tx1 - cz_tx0)) 0 -1
check "tx internet (ACKs)" "$(delta tx internet)" $((in_rx1 - in_rx0)) 0 -1
# egress priced per class ($/GiB from the config) against the peers' own byte counts
cost_of() { metric_value "$1" podmeter_pod_cost_dollars_total "uid=\"$uid\",resource=\"network\""; }
c0=$(cost_of "$WORK/m0")
c1=$(cost_of "$WORK/m1")
want=$(awk -v cz=$((cz_rx1 - cz_rx0)) -v cr=$((cr_rx1 - cr_rx0)) -v in_=$((in_rx1 - in_rx0)) \
	'BEGIN { printf "%.12f\n", (cz * 0.02 + cr * 0.05 + in_ * 0.12) / 1073741824 }')
got=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.12f\n", b - a }')
near "$got" "$want" 0.01 && pass "network cost \$$got, egress at the peers priced \$$want" ||
	fail "network cost \$$got (from $c0 to $c1), egress at the peers priced \$$want (1%)"
for dir in tx rx; do
	for cls in in_zone local; do
		d=$(delta "$dir" "$cls")
		[ "$d" = 0 ] && pass "$dir $cls stays at 0" || fail "$dir $cls: $d B, want 0"
	done
done

# the container removed: its entries leave net_stats and tcp_retrans once it is
# retired, and its pod keeps every byte it counted
cgid=$(stat -c %i "$ctr")
n0=$(map_entries_of net_stats "$cgid")
rmdir "$ctr"
for _ in $(seq 1 300); do	# retired after two reads, the entries gone at a read within 10 s
	n1=$(map_entries_of net_stats "$cgid")
	r1=$(map_entries_of tcp_retrans "$cgid")
	[ "$n1$r1" = 00 ] && break
	sleep 0.1
done
scrape "$WORK/m2"
lost=""
for dir in tx rx; do
	for cls in cross_zone cross_region internet; do
		sel="uid=\"$uid\",direction=\"$dir\",class=\"$cls\""
		a=$(metric_value "$WORK/m1" podmeter_pod_network_bytes_total "$sel")
		b=$(metric_value "$WORK/m2" podmeter_pod_network_bytes_total "$sel")
		awk -v a="$a" -v b="$b" 'BEGIN { exit !(b >= a) }' || lost="$lost $dir $cls: $a -> $b;"
	done
done
[ "$n0" -gt 0 ] && [ "$n1" = 0 ] && [ "$r1" = 0 ] && [ -z "$lost" ] &&
	pass "removed container: net_stats entries $n0 -> $n1, tcp_retrans $r1; its pod kept every byte" ||
	fail "removed container: net_stats entries $n0 -> $n1, tcp_retrans $r1;$lost"
stop_agent
finish
