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
  /** The receive queue was full when the datagram arrived (the chain is not keeping up). */
  QUEUE_FULL: 0,
  /** Shorter than a VXLAN header plus an Ethernet header. */
  RUNT: 1,
  /** VXLAN header without the I flag. */
  BAD_FLAGS: 2,
  /** A VNI no peer of this port has. */
  UNKNOWN_VNI: 3,
  /** The inner frame does not fit a pool buffer (in) or a send slot (out). */
  FRAME_TOO_LARGE: 4,
  /** Every send slot was still in flight (the socket's send path is behind). */
  SEND_BACKLOG: 5,
  /** The socket reported an error for a send (e.g. ICMP port unreachable from the peer). */
  SEND_ERROR: 6,
} as const;

/** Number of VXLAN drop codes. */
export const VXLAN_DROP_COUNT = 7;

/** snake_case name of each code, indexed by code. */
export const VXLAN_DROP_NAMES: readonly string[] = Object.freeze(
  (Object.keys(VxlanDrop) as Array<keyof typeof VxlanDrop>)
    .sort((a, b) => VxlanDrop[a] - VxlanDrop[b])
    .map((k) => k.toLowerCase()),
);
