#!/usr/bin/env bash
# Captures the IPv6 golden pcap fixtures under test/fixtures/pcap/ from real Linux kernel
# traffic, and writes next to each capture an oracle decoded by an independent decoder
# (tshark), the same way scripts/capture-fixtures.sh does for IPv4. Tests read only the
# committed files; they never run this script.
#
# Needs root, iproute2, ethtool, tcpdump, tshark, curl, node, python3 (no ping: echo
# requests are sent from a raw ICMPv6 socket, whose checksum the kernel computes).
#
# Topology: two network namespaces with unique names and one veth pair, addresses from the
# documentation prefix 2001:db8::/32 (RFC 3849): 2001:db8::1 (A, client) <-> 2001:db8::2
# (B, server). Addresses are added with `nodad` and link-local ones are not generated
# (addr_gen_mode 1), router solicitations are off: no DAD, MLD or RS frames in the way.
# Checksum offload is turned off on both ends, so every checksum on the wire is the real
# one. Everything created is deleted by the EXIT trap.
#
# Usage: sudo scripts/capture-fixtures-ipv6.sh   (from the repository root or anywhere)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/test/fixtures/pcap"
SUF="$$-$RANDOM"
NSA="nfvkit-fx6-a-$SUF"   # client side
NSB="nfvkit-fx6-b-$SUF"   # server side, where every capture runs
TMP="$(mktemp -d /tmp/nfvkit-fx6.XXXXXX)"
PIDS=()

A_IP=2001:db8::1; B_IP=2001:db8::2
A_MAC=02:00:5e:12:06:0a; B_MAC=02:00:5e:12:06:0b
HTTP_PORT=8080

cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$NSA" 2>/dev/null
  ip netns del "$NSB" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "capture-fixtures-ipv6: must run as root" >&2; exit 1; }
for tool in ip ethtool tcpdump tshark curl node python3; do
  command -v "$tool" >/dev/null || { echo "capture-fixtures-ipv6: missing $tool" >&2; exit 1; }
done
mkdir -p "$OUT"

inA() { ip netns exec "$NSA" "$@"; }
inB() { ip netns exec "$NSB" "$@"; }

ip netns add "$NSA"
ip netns add "$NSB"
for ns in "$NSA" "$NSB"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
    net.ipv6.conf.default.addr_gen_mode=1 net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.router_solicitations=0 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.all.router_solicitations=0
  ip -n "$ns" link set lo up
done
ip -n "$NSA" link add veth0 address "$A_MAC" type veth peer name veth0 netns "$NSB" address "$B_MAC"
ip -n "$NSA" addr add "$A_IP/64" dev veth0 nodad
ip -n "$NSB" addr add "$B_IP/64" dev veth0 nodad
for ns in "$NSA" "$NSB"; do
  ip netns exec "$ns" ethtool -K veth0 tx off rx off tso off gso off gro off >/dev/null
  ip -n "$ns" link set veth0 up
done

# The HTTP server (Node, no Date header so the bytes depend only on the request).
ip netns exec "$NSB" node -e "
  require('node:http').createServer((req, res) => {
    res.sendDate = false;
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end('hello from nfvkit\n');
  }).listen($HTTP_PORT, '::');
" &
PIDS+=($!)
for _ in $(seq 1 50); do
  inB ss -ltn "sport = :$HTTP_PORT" | grep -q LISTEN && break
  sleep 0.1
done

CAP_PID=""
start_capture() {
  local log="$TMP/$1.log"
  : >"$log"
  ip netns exec "$NSB" tcpdump -i "$2" -n -U --immediate-mode -s 0 -Z root -w "$TMP/$1.pcap" "$3" 2>"$log" &
  CAP_PID=$!
  PIDS+=("$CAP_PID")
  for _ in $(seq 1 50); do grep -q "listening on" "$log" && return 0; sleep 0.1; done
  echo "capture-fixtures-ipv6: tcpdump did not start for $1" >&2; cat "$log" >&2; exit 1
}
stop_capture() {
  sleep 0.5
  kill -TERM "$CAP_PID"
  wait "$CAP_PID" || true
  cp "$TMP/$1.pcap" "$OUT/$1.pcap"
}

flush_neigh() {
  ip -n "$NSA" -6 neigh flush dev veth0
  ip -n "$NSB" -6 neigh flush dev veth0
}

# udp_send <src> <dst> <dport> <options: none|dst|hop+dst> <size>...
udp_send() {
  inA python3 - "$@" <<'PY'
import socket, sys
src, dst, dport, opts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
pad = bytes([0, 0, 1, 4, 0, 0, 0, 0])  # next header and length (filled by the kernel), PadN of 4
if opts in ('dst', 'hop+dst'):
    s.setsockopt(socket.IPPROTO_IPV6, 59, pad)  # IPV6_DSTOPTS
if opts == 'hop+dst':
    s.setsockopt(socket.IPPROTO_IPV6, 54, pad)  # IPV6_HOPOPTS
s.bind((src, 0))
for n in map(int, sys.argv[5:]):
    s.sendto(bytes((i * 7 + n) & 0xff for i in range(n)), (dst, dport))
PY
}

# echo_send <src> <dst> <count>: ICMPv6 echo requests from a raw socket, each answered.
echo_send() {
  inA python3 - "$@" <<'PY'
import socket, sys
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.bind((src, 0))
s.settimeout(2)
for seq in range(1, count + 1):
    s.sendto(bytes([128, 0, 0, 0, 0x4e, 0x66, 0, seq]) + bytes(range(56)), (dst, 0))
    while True:
        reply = s.recv(2048)
        if reply[0] == 129 and reply[7] == seq:
            break
PY
}

http_get() { inA curl -sS --max-time 5 -o /dev/null "http://[$1]:$HTTP_PORT/hello"; }

# Neighbours resolved first, so the captures below hold only their own traffic.
echo_send "$A_IP" "$B_IP" 1

# 1. TCP over IPv6: handshake, one small HTTP request/response, FIN teardown.
start_capture tcp-http-ipv6 veth0 "ip6 and tcp port $HTTP_PORT"
http_get "$B_IP"
stop_capture tcp-http-ipv6

# 2. UDP over IPv6: several sizes, one behind a destination options header, one behind
#    hop-by-hop and destination options, and one of 3000 bytes the kernel fragments.
start_capture udp-ipv6 veth0 "ip6 and src host $A_IP and not icmp6"
udp_send "$A_IP" "$B_IP" 9999 none 0 1 18 100 512 1452
udp_send "$A_IP" "$B_IP" 9999 dst 33
udp_send "$A_IP" "$B_IP" 9999 hop+dst 44
udp_send "$A_IP" "$B_IP" 9999 none 3000
stop_capture udp-ipv6

# 3. ICMPv6 echo request/reply.
start_capture icmpv6-echo veth0 "icmp6 and (ip6[40] == 128 or ip6[40] == 129)"
echo_send "$A_IP" "$B_IP" 2
stop_capture icmpv6-echo

# 4. An ICMPv6 error: port unreachable quoting the IPv6/UDP datagram.
start_capture icmpv6-error veth0 "ip6 and (udp or (icmp6 and ip6[40] == 1))"
udp_send "$A_IP" "$B_IP" 33434 none 12
stop_capture icmpv6-error

# 5. Neighbour discovery: solicitation to the solicited-node multicast group, advertisement.
flush_neigh
start_capture ndp veth0 "icmp6 and (ip6[40] == 135 or ip6[40] == 136)"
udp_send "$A_IP" "$B_IP" 9999 none 8
stop_capture ndp

# Oracle: tshark's decode of the fields the golden tests compare, one object per frame,
# every field a list of strings (a second value is the packet quoted in an ICMPv6 error).
# Reassembly is off: each fragment is decoded as it is on the wire.
FIELDS=(
  frame.number frame.len frame.cap_len eth.dst eth.src eth.type
  ipv6.version ipv6.tclass ipv6.flow ipv6.plen ipv6.nxt ipv6.hlim ipv6.src ipv6.dst
  ipv6.hopopts.nxt ipv6.hopopts.len ipv6.dstopts.nxt ipv6.dstopts.len
  ipv6.fraghdr.nxt ipv6.fraghdr.offset ipv6.fraghdr.more ipv6.fraghdr.ident
  tcp.srcport tcp.dstport tcp.seq_raw tcp.ack_raw tcp.hdr_len tcp.flags tcp.window_size_value
  tcp.checksum tcp.checksum.status tcp.urgent_pointer tcp.len
  udp.srcport udp.dstport udp.length udp.checksum udp.checksum.status
  icmpv6.type icmpv6.code icmpv6.checksum icmpv6.checksum.status icmpv6.echo.identifier icmpv6.echo.sequence_number
  icmpv6.nd.ns.target_address icmpv6.nd.na.target_address icmpv6.nd.na.flag.r icmpv6.nd.na.flag.s icmpv6.nd.na.flag.o
  icmpv6.opt.type icmpv6.opt.length icmpv6.opt.linkaddr
)
TSHARK_ARGS=(-n -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -o ipv6.defragment:FALSE -T json)
for f in "${FIELDS[@]}"; do TSHARK_ARGS+=(-e "$f"); done
TSHARK_VERSION="$(tshark --version 2>/dev/null | head -1)"
for name in tcp-http-ipv6 udp-ipv6 icmpv6-echo icmpv6-error ndp; do
  tshark -r "$OUT/$name.pcap" "${TSHARK_ARGS[@]}" 2>/dev/null >"$TMP/$name.json"
  python3 - "$TMP/$name.json" "$OUT/$name.oracle.json" "$TSHARK_VERSION" "tshark -r $name.pcap ${TSHARK_ARGS[*]}" <<'PY'
import json, sys
raw, out, version, command = sys.argv[1:5]
frames = [p['_source']['layers'] for p in json.load(open(raw))]
with open(out, 'w') as f:
    f.write('{\n')
    f.write('  "decoder": %s,\n' % json.dumps(version))
    f.write('  "command": %s,\n' % json.dumps(command))
    f.write('  "checksumStatus": "1 = good, 0 = bad, 2 = not checked, 3 = not present (UDP 0)",\n')
    f.write('  "frames": [\n')
    f.write(',\n'.join('    ' + json.dumps(fr, separators=(',', ':')) for fr in frames))
    f.write('\n  ]\n}\n')
PY
  echo "capture-fixtures-ipv6: $name.pcap $(stat -c %s "$OUT/$name.pcap") bytes, $(python3 -c "import json;print(len(json.load(open('$OUT/$name.oracle.json'))['frames']))") frames"
done
