import { counterList } from '../counters/counter-list.ts';

/**
 * Why a `GatewayEdge` dropped a frame: one declaration gives the codes (`GatewayDrop`),
 * names and help. Codes index a `Float64Array` of counters; `GATEWAY_DROP_NAMES[code]` is
 * the snake_case name used in stats and metrics (`nfvkit_gateway_drops_total{reason}`).
 * Stable: append only.
 *
 * @example
 * ```ts
 * edge.drops[GatewayDrop.TTL_EXCEEDED]; // frames whose TTL ran out here
 * GATEWAY_DROP_NAMES[GatewayDrop.NO_ROUTE]; // 'no_route'
 * ```
 */
export const GATEWAY_DROP_LIST = counterList([
  { name: 'not_for_gateway', drop: true, help: 'unicast to another MAC, or a broadcast/multicast frame that is not ARP or neighbour discovery' },
  { name: 'malformed', drop: true, help: "the frame did not parse (the gateway's `parseDrops` keep the parser's reason)" },
  { name: 'arp_not_for_us', drop: true, help: 'an ARP request or reply about an address the gateway does not own' },
  { name: 'for_gateway', drop: true, help: "addressed to the gateway's interface address, and not an echo request it answers" },
  { name: 'ttl_exceeded', drop: true, help: 'TTL ran out here (an ICMP time exceeded went back when RFC 1122 permits one)' },
  { name: 'no_route', drop: true, help: "leaving the chain toward an address in no peer's subnets" },
  { name: 'egress_not_ipv4', drop: true, help: 'leaving the chain, but not an untagged IPv4 or IPv6 frame (the name is kept from when the gateway routed IPv4 only)' },
  { name: 'hold_queue_full', drop: true, help: 'the next hop is unresolved and its hold queue (or every hold queue) is full' },
  { name: 'neighbour_table_full', drop: true, help: 'no room in the neighbour table for a new next hop' },
  { name: 'resolve_timeout', drop: true, help: 'held for a next hop that never answered ARP (a neighbour solicitation) within the resolve timeout' },
  { name: 'held_at_close', drop: true, help: 'held frames released when the port closed' },
  { name: 'ipv6_no_address', drop: true, help: 'an IPv6 frame, but the gateway has no IPv6 address (none configured)' },
  { name: 'ndp_invalid', drop: true, help: 'a neighbour solicitation or advertisement failing RFC 4861 §7.1 validation (hop limit not 255, code not 0, short, bad checksum, multicast target, malformed options, a solicitation from :: not to a solicited-node address or with a link-layer option, a solicited advertisement to a multicast address, an advertisement without a target link-layer address)' },
  { name: 'ndp_not_for_us', drop: true, help: "a neighbour solicitation for an address the gateway does not own, or an advertisement for one outside the sending peer's subnets (or for the gateway's own)" },
  { name: 'ndp_unsupported', drop: true, help: 'a router solicitation or advertisement or a redirect: the gateway neither sends nor follows them (routes are configured)' },
  { name: 'hop_limit_exceeded', drop: true, help: 'the IPv6 hop limit ran out here (an ICMPv6 time exceeded went back when RFC 4443 permits one)' },
  { name: 'multicast_not_routed', drop: true, help: 'an IPv6 packet to a multicast address other than neighbour discovery: the gateway routes unicast only' },
  { name: 'link_local_not_routed', drop: true, help: 'an IPv6 packet from or to a link-local address (fe80::/10) that is not for the gateway: it must not leave its link (RFC 4291 §2.5.6)' },
] as const);

/** The codes by UPPER_SNAKE name. */
export const GatewayDrop = GATEWAY_DROP_LIST.index;

/** Number of gateway drop codes. */
export const GATEWAY_DROP_COUNT = GATEWAY_DROP_LIST.count;

/** snake_case name of each code, indexed by code. */
export const GATEWAY_DROP_NAMES: readonly string[] = GATEWAY_DROP_LIST.names;
