/**
 * Why a `VxlanPort` dropped a datagram or frame at the socket layer (the gateway's own
 * reasons are in `GatewayDrop`). Codes index a counter array; names are stable.
 *
 * @example
 * ```ts
 * port.drops[VxlanDrop.UNKNOWN_VNI];
 * VXLAN_DROP_NAMES[VxlanDrop.QUEUE_FULL]; // 'queue_full'
 * ```
 */
export const VxlanDrop = {
  /** The dgram back end's receive queue was full when the datagram arrived (the chain is not keeping up). */
  QUEUE_FULL: 0,
  /** Shorter than a VXLAN header plus an Ethernet header. */
  RUNT: 1,
  /** VXLAN header without the I flag. */
  BAD_FLAGS: 2,
  /** A VNI no peer of this port has. */
  UNKNOWN_VNI: 3,
  /** The datagram was larger than a pool buffer: the kernel truncated it (`MSG_TRUNC`). */
  TRUNCATED: 4,
  /** The socket would not take more and the send backlog was full (the socket's send path is behind). */
  SEND_BACKLOG: 5,
  /** The kernel refused a send (e.g. no route, ICMP port unreachable from the peer). */
  SEND_ERROR: 6,
  /** A receive reported a socket error (e.g. an ICMP error queued on the socket). */
  RECEIVE_ERROR: 7,
  /** A frame leaving the chain had less headroom than the VXLAN header needs. */
  NO_HEADROOM: 8,
  /** No pool buffer was free for a frame the gateway built (ARP request). */
  NO_BUFFER: 9,
  /** The datagram came from an address (or source port) that is no peer of this port and in no `allowedSources` prefix. */
  UNKNOWN_SOURCE: 10,
  /** The datagram came from a peer, but its VNI is another peer's (and no `allowedSources` prefix admits the sender). */
  PEER_MISMATCH: 11,
} as const;

/** Number of VXLAN drop codes. */
export const VXLAN_DROP_COUNT = Object.keys(VxlanDrop).length;

/** snake_case name of each code, indexed by code. */
export const VXLAN_DROP_NAMES: readonly string[] = Object.freeze(
  (Object.keys(VxlanDrop) as Array<keyof typeof VxlanDrop>)
    .sort((a, b) => VxlanDrop[a] - VxlanDrop[b])
    .map((k) => k.toLowerCase()),
);
