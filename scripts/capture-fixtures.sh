#!/usr/bin/env bash
# Captures the golden pcap fixtures under test/fixtures/pcap/ from real Linux kernel
# traffic, and writes next to each capture an oracle decoded by an independent decoder
# (tshark). Tests read only the committed files; they never run this script.
#
# Needs root, iproute2, ethtool, tcpdump, tshark, iputils-ping, curl, node, python3:
#   DEBIAN_FRONTEND=noninteractive apt-get install -y iproute2 ethtool tcpdump tshark iputils-ping curl
# (answer "no" to wireshark-common/install-setuid; noninteractive does).
#
# Topology: two network namespaces with unique names and two veth pairs, addresses from
# the benchmarking range 198.18.0.0/15:
#   veth0 (198.18.0.1 <-> 198.18.0.2): plain Ethernet.
#   veth1 (198.18.100.1 <-> 198.18.100.2): 802.1Q VLAN 100, priority 3, on the wire.
# This kernel has no 802.1Q devices (CONFIG_VLAN_8021Q unset), no tc vlan action and no
# bridge VLAN filtering, so the tag is pushed and popped by the kernel's own
# skb_vlan_push/skb_vlan_pop helpers, called from a five-instruction eBPF program attached
# to veth1 with TCX (egress: push; ingress: pop), loaded by the small Python helper below.
# Checksum offload is turned off on every device: on veth the kernel otherwise leaves
# TCP/UDP checksums partial (CHECKSUM_PARTIAL) and the captured values would be wrong.
# Everything created is deleted by the EXIT trap.
#
# Usage: sudo scripts/capture-fixtures.sh   (from the repository root or anywhere)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/test/fixtures/pcap"
SUF="$$-$RANDOM"
NSA="nfvkit-fx-a-$SUF"   # client side
NSB="nfvkit-fx-b-$SUF"   # server side, where every capture runs
TMP="$(mktemp -d /tmp/nfvkit-fx.XXXXXX)"
PIDS=()

A_IP=198.18.0.1; B_IP=198.18.0.2
A_VIP=198.18.100.1; B_VIP=198.18.100.2
A_MAC=02:00:5e:12:00:0a; B_MAC=02:00:5e:12:00:0b
A_VMAC=02:00:5e:12:01:0a; B_VMAC=02:00:5e:12:01:0b
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

[ "$(id -u)" = 0 ] || { echo "capture-fixtures: must run as root" >&2; exit 1; }
for tool in ip ethtool tcpdump tshark ping curl node python3; do
  command -v "$tool" >/dev/null || { echo "capture-fixtures: missing $tool" >&2; exit 1; }
done
mkdir -p "$OUT"

inA() { ip netns exec "$NSA" "$@"; }
inB() { ip netns exec "$NSB" "$@"; }

ip netns add "$NSA"
ip netns add "$NSB"
for ns in "$NSA" "$NSB"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$NSA" link add veth0 address "$A_MAC" type veth peer name veth0 netns "$NSB" address "$B_MAC"
ip -n "$NSA" link add veth1 address "$A_VMAC" type veth peer name veth1 netns "$NSB" address "$B_VMAC"
ip -n "$NSA" addr add "$A_IP/24" dev veth0
ip -n "$NSB" addr add "$B_IP/24" dev veth0
ip -n "$NSA" addr add "$A_VIP/24" dev veth1
ip -n "$NSB" addr add "$B_VIP/24" dev veth1
for ns in "$NSA" "$NSB"; do
  for dev in veth0 veth1; do
    # Real checksums on the wire; one segment per frame; VLAN tags in the frame bytes.
    ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off rxvlan off txvlan off >/dev/null
    ip -n "$ns" link set "$dev" up
  done
done

# VLAN tagger: loads two eBPF SCHED_CLS programs (push VLAN tag on egress, pop it on
# ingress) and attaches them to a device with TCX links, held until SIGTERM.
cat >"$TMP/vlan-tagger.py" <<'PY'
import ctypes, os, signal, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_BPF = 321  # x86_64
BPF_PROG_LOAD, BPF_LINK_CREATE = 5, 28
BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, BPF_TCX_EGRESS = 3, 46, 47
FUNC_SKB_VLAN_PUSH, FUNC_SKB_VLAN_POP = 18, 19
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    fd = libc.syscall(SYS_BPF, cmd, buf, 128)
    if fd < 0:
        raise OSError(ctypes.get_errno(), 'bpf(%d): %s' % (cmd, os.strerror(ctypes.get_errno())))
    return fd
def insn(code, dst=0, imm=0):
    return struct.pack('<BBhi', code, dst, 0, imm)
MOV_K, CALL, EXIT = 0xb7, 0x85, 0x95
def load(prog, keep):
    code, lic = ctypes.create_string_buffer(prog, len(prog)), ctypes.create_string_buffer(b'GPL')
    keep += [code, lic]
    attr = struct.pack('<IIQQ', BPF_PROG_TYPE_SCHED_CLS, len(prog) // 8, ctypes.addressof(code), ctypes.addressof(lic))
    return bpf(BPF_PROG_LOAD, attr)
dev, vid, pcp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# r2 = htons(ETH_P_8021Q), r3 = TCI; call skb_vlan_push(skb, r2, r3); return TCX_PASS
push = insn(MOV_K, 2, 0x0081) + insn(MOV_K, 3, (pcp << 13) | vid) + insn(CALL, 0, FUNC_SKB_VLAN_PUSH) + insn(MOV_K, 0, 0) + insn(EXIT)
pop = insn(CALL, 0, FUNC_SKB_VLAN_POP) + insn(MOV_K, 0, 0) + insn(EXIT)
ifindex, keep = socket.if_nametoindex(dev), []
for prog, where in ((pop, BPF_TCX_INGRESS), (push, BPF_TCX_EGRESS)):
    keep.append(bpf(BPF_LINK_CREATE, struct.pack('<IIII', load(prog, keep), ifindex, where, 0)))
print('ready', flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
PY
for ns in "$NSA" "$NSB"; do
  ip netns exec "$ns" python3 "$TMP/vlan-tagger.py" veth1 100 3 >"$TMP/tagger-$ns.log" 2>&1 &
  PIDS+=($!)
done
for ns in "$NSA" "$NSB"; do
  for _ in $(seq 1 50); do grep -q ready "$TMP/tagger-$ns.log" && break; sleep 0.1; done
  grep -q ready "$TMP/tagger-$ns.log" || { echo "capture-fixtures: VLAN tagger failed" >&2; cat "$TMP/tagger-$ns.log" >&2; exit 1; }
done

# The HTTP server (Node, no Date header so the bytes depend only on the request).
# (Background jobs are started with `ip netns exec` directly, not through inB, so that $!
# is the process itself and the EXIT trap can stop it.)
ip netns exec "$NSB" node -e "
  require('node:http').createServer((req, res) => {
    res.sendDate = false;
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end('hello from nfvkit\n');
  }).listen($HTTP_PORT, '0.0.0.0');
" &
PIDS+=($!)
for _ in $(seq 1 50); do
  inB ss -ltn "sport = :$HTTP_PORT" | grep -q LISTEN && break
  sleep 0.1
done

# start_capture <name> <device> <filter>: tcpdump in the server namespace (both directions).
CAP_PID=""
start_capture() {
  local log="$TMP/$1.log"
  ip netns exec "$NSB" tcpdump -i "$2" -n -U --immediate-mode -s 0 -Z root -w "$TMP/$1.pcap" "$3" 2>"$log" &
  CAP_PID=$!
  PIDS+=("$CAP_PID")
  for _ in $(seq 1 50); do grep -q "listening on" "$log" && return 0; sleep 0.1; done
  echo "capture-fixtures: tcpdump did not start for $1" >&2; cat "$log" >&2; exit 1
}
stop_capture() {
  sleep 0.5
  kill -TERM "$CAP_PID"
  wait "$CAP_PID" || true
  cp "$TMP/$1.pcap" "$OUT/$1.pcap"
}

flush_neigh() {
  for ns in "$NSA" "$NSB"; do
    ip -n "$ns" neigh flush dev veth0
    ip -n "$ns" neigh flush dev veth1
  done
}

udp_send() { # udp_send <src> <dst> <dport> <no-checksum 0|1> <size>...
  inA python3 - "$@" <<'PY'
import socket, sys
src, dst, dport, nocheck = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == '1'
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if nocheck:
    s.setsockopt(socket.SOL_SOCKET, 11, 1)  # SO_NO_CHECK: send UDP checksum 0
s.bind((src, 0))
for n in map(int, sys.argv[5:]):
    s.sendto(bytes((i * 7 + n) & 0xff for i in range(n)), (dst, dport))
PY
}

http_get() { inA curl -sS --max-time 5 -o /dev/null "http://$1:$HTTP_PORT/hello"; }

# 1. TCP: handshake, one small HTTP request/response, FIN teardown.
inA ping -c 1 -W 2 "$B_IP" >/dev/null
start_capture tcp-http veth0 "tcp port $HTTP_PORT"
http_get "$B_IP"
stop_capture tcp-http

# 2. UDP: several payload sizes with checksums, one datagram sent without a checksum.
start_capture udp veth0 "udp and host $A_IP"
udp_send "$A_IP" "$B_IP" 9999 0 0 1 18 100 512 1472
udp_send "$A_IP" "$B_IP" 9999 1 33
stop_capture udp

# 3. ICMP: echo request/reply, then a port unreachable quoting a UDP datagram.
start_capture icmp veth0 "icmp"
inA ping -c 2 -i 0.2 -s 56 -W 2 "$B_IP" >/dev/null
udp_send "$A_IP" "$B_IP" 33434 0 12
stop_capture icmp

# 4. ARP: request and reply (neighbour caches flushed first).
flush_neigh
start_capture arp veth0 "arp"
inA ping -c 1 -W 2 "$B_IP" >/dev/null
stop_capture arp

# 5. 802.1Q VLAN 100: ARP, ICMP echo, UDP, and an HTTP exchange, all tagged.
flush_neigh
start_capture vlan veth1 "vlan 100"
inA ping -c 1 -W 2 "$B_VIP" >/dev/null
udp_send "$A_VIP" "$B_VIP" 9999 0 64
http_get "$B_VIP"
stop_capture vlan

# Oracle: tshark's decode of the fields the golden tests compare, one object per frame,
# every field a list of strings (a second value is the header quoted in an ICMP error).
FIELDS=(
  frame.number frame.len frame.cap_len
  eth.dst eth.src eth.type vlan.id vlan.priority vlan.dei vlan.etype
  arp.hw.type arp.proto.type arp.hw.size arp.proto.size arp.opcode
  arp.src.hw_mac arp.src.proto_ipv4 arp.dst.hw_mac arp.dst.proto_ipv4
  ip.version ip.hdr_len ip.dsfield ip.len ip.id ip.flags ip.flags.df ip.flags.mf ip.frag_offset
  ip.ttl ip.proto ip.checksum ip.checksum.status ip.src ip.dst
  tcp.srcport tcp.dstport tcp.seq_raw tcp.ack_raw tcp.hdr_len tcp.flags tcp.window_size_value
  tcp.checksum tcp.checksum.status tcp.urgent_pointer tcp.len
  udp.srcport udp.dstport udp.length udp.checksum udp.checksum.status
  icmp.type icmp.code icmp.checksum icmp.checksum.status icmp.ident icmp.seq
)
TSHARK_ARGS=(-n -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -T json)
for f in "${FIELDS[@]}"; do TSHARK_ARGS+=(-e "$f"); done
TSHARK_VERSION="$(tshark --version 2>/dev/null | head -1)"
for name in tcp-http udp icmp arp vlan; do
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
  echo "capture-fixtures: $name.pcap $(stat -c %s "$OUT/$name.pcap") bytes, $(python3 -c "import json;print(len(json.load(open('$OUT/$name.oracle.json'))['frames']))") frames"
done
