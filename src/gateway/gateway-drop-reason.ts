/**
 * Why a `GatewayEdge` dropped a frame. Codes index a `Float64Array` of counters;
 * `GATEWAY_DROP_NAMES[code]` is the snake_case name used in stats and metrics
 * (`gateway:not_for_gateway`). Stable: append only.
 *
 * @example
 * ```ts
 * edge.drops[GatewayDrop.TTL_EXCEEDED]; // frames whose TTL ran out here
 * GATEWAY_DROP_NAMES[GatewayDrop.NO_ROUTE]; // 'no_route'
 * ```
 */
export const GatewayDrop = {
  /** Unicast to another MAC, or a broadcast/multicast frame that is not ARP. */
  NOT_FOR_GATEWAY: 0,
  /** The frame did not parse (see `parseDrops` for the parser's reason). */
  MALFORMED: 1,
  /** An ARP request or reply about an address the gateway does not own. */
  ARP_NOT_FOR_US: 2,
  /** Addressed to the gateway's interface address, and not an echo request it answers. */
  FOR_GATEWAY: 3,
  /** TTL ran out here (an ICMP time exceeded went back when RFC 1122 permits one). */
  TTL_EXCEEDED: 4,
  /** Leaving the chain toward an address in no peer's subnets. */
  NO_ROUTE: 5,
  /** Leaving the chain, but not an untagged IPv4 frame. */
  EGRESS_NOT_IPV4: 6,
  /** The next hop is unresolved and its hold queue (or every hold queue) is full. */
  HOLD_QUEUE_FULL: 7,
  /** No room in the neighbour table for a new next hop. */
  NEIGHBOUR_TABLE_FULL: 8,
  /** Held for a next hop that never answered ARP within the resolve timeout. */
  RESOLVE_TIMEOUT: 9,
  /** Held frames released when the port closed. */
  HELD_AT_CLOSE: 10,
} as const;

/** Number of gateway drop codes. */
export const GATEWAY_DROP_COUNT = 11;

/** snake_case name of each code, indexed by code. */
export const GATEWAY_DROP_NAMES: readonly string[] = Object.freeze(
  (Object.keys(GatewayDrop) as Array<keyof typeof GatewayDrop>)
    .sort((a, b) => GatewayDrop[a] - GatewayDrop[b])
    .map((k) => k.toLowerCase()),
);
