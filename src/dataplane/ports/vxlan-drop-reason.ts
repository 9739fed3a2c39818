import { counterList } from '../../counters/counter-list.ts';

/**
 * Why a `VxlanPort` dropped a datagram or frame at the socket layer (the gateway's own
 * reasons are in `GatewayDrop`): one declaration gives the codes (`VxlanDrop`), names and
 * help. Codes index a counter array; names are stable (append only) and are the `reason`
 * of `nfvkit_port_drops_total`.
 *
 * @example
 * ```ts
 * port.drops[VxlanDrop.UNKNOWN_VNI];
 * VXLAN_DROP_NAMES[VxlanDrop.QUEUE_FULL]; // 'queue_full'
 * ```
 */
export const VXLAN_DROP_LIST = counterList([
  { name: 'queue_full', drop: true, help: "the dgram back end's receive queue was full when the datagram arrived (the chain is not keeping up)" },
  { name: 'runt', drop: true, help: 'shorter than a VXLAN header plus an Ethernet header' },
  { name: 'bad_flags', drop: true, help: 'VXLAN header without the I flag' },
  { name: 'unknown_vni', drop: true, help: 'a VNI no peer of this port has' },
  { name: 'truncated', drop: true, help: 'the datagram was larger than a pool buffer: the kernel truncated it (`MSG_TRUNC`)' },
  { name: 'send_backlog', drop: true, help: "the socket would not take more and the send backlog was full (the socket's send path is behind)" },
  { name: 'send_error', drop: true, help: 'the kernel refused a send (e.g. no route, ICMP port unreachable from the peer)' },
  { name: 'receive_error', drop: true, help: 'a receive reported a socket error (e.g. an ICMP error queued on the socket)' },
  { name: 'no_headroom', drop: true, help: 'a frame leaving the chain had less headroom than the VXLAN header needs' },
  { name: 'no_buffer', drop: true, help: 'no pool buffer was free for a frame the gateway built (ARP request)' },
  { name: 'unknown_source', drop: true, help: 'the datagram came from an address (or source port) that is no peer of this port and in no `allowedSources` prefix' },
  { name: 'peer_mismatch', drop: true, help: "the datagram came from a peer, but its VNI is another peer's (and no `allowedSources` prefix admits the sender)" },
  { name: 'socket_rcvbuf', drop: true, help: "the kernel dropped the datagram: the socket's receive buffer was full (read from /proc/net/udp at stats time)" },
] as const);

/** The codes by UPPER_SNAKE name. */
export const VxlanDrop = VXLAN_DROP_LIST.index;

/** Number of VXLAN drop codes. */
export const VXLAN_DROP_COUNT = VXLAN_DROP_LIST.count;

/** snake_case name of each code, indexed by code. */
export const VXLAN_DROP_NAMES: readonly string[] = VXLAN_DROP_LIST.names;
