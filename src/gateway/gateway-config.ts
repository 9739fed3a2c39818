import type { Cidr } from '../config/net-schemas.ts';
import { prefixMask } from '../config/net-schemas.ts';
import { parseIpv4 } from '../packet/ipv4.ts';
import { ipv6Mask, parseIpv6Prefix, type Ipv6Address } from '../packet/ipv6-address.ts';

/** An address the gateway owns, with the prefix length of its subnet (host bits kept). */
export interface GatewayAddress {
  readonly address: number;
  readonly prefix: number;
  readonly mask: number;
}

/** An IPv6 address the gateway owns, with the prefix length of its subnet (host bits kept). */
export interface GatewayAddress6 {
  readonly address: Ipv6Address;
  readonly prefix: number;
  readonly mask: Ipv6Address;
}

/** An IPv6 subnet (host bits cleared), as four words with its prefix length and mask. */
export interface Prefix6 {
  readonly addr: Ipv6Address;
  readonly prefix: number;
  readonly mask: Ipv6Address;
}

/**
 * What a `GatewayEdge` needs to know, in numeric form (see `vxlan-port-config.ts` for the
 * YAML shape it comes from).
 *
 * @example
 * ```ts
 * const cfg: GatewayEdgeConfig = {
 *   addresses: [parseGatewayAddress('198.18.1.1/24')!],
 *   mac: defaultGatewayMac(0xc6120101),
 *   peerSubnets: [[{ addr: 0xc6120100, prefix: 24, mask: 0xffffff00 }]],
 * };
 * ```
 */
export interface GatewayEdgeConfig {
  /** `[0]` is the interface address (source of ARP requests and ICMP errors); the others are answered by proxy ARP (VIPs, NAT addresses). */
  readonly addresses: readonly GatewayAddress[];
  /** The gateway's MAC as (hi16, lo32). */
  readonly mac: readonly [number, number];
  /** Subnets reachable through each peer (on-link: the gateway ARPs for the destination itself), by peer index. */
  readonly peerSubnets: readonly (readonly Cidr[])[];
  /**
   * IPv6 addresses: `[0]` is the IPv6 interface address (source of neighbour solicitations
   * and ICMPv6 errors by default, answers pings); the others are answered by neighbour
   * advertisements too (VIPs). None (the default): IPv6 frames are dropped `ipv6_no_address`.
   */
  readonly addresses6?: readonly GatewayAddress6[];
  /** IPv6 subnets reachable through each peer (on-link: resolved by neighbour solicitation), by peer index. */
  readonly peerSubnets6?: readonly (readonly Prefix6[])[];
}

/** Tuning of a `GatewayEdge`; every field has a default. */
export interface GatewayEdgeOptions {
  /** Neighbour table slots, a power of two (default 1024). */
  readonly neighbourCapacity?: number;
  /** Next hops that may be unresolved at once, each with a hold queue (default 64). */
  readonly maxPending?: number;
  /** Frames held per unresolved next hop (default 32: a burst of new connections to one server). */
  readonly holdPerAddress?: number;
  /** Give up on an unresolved next hop after this long, ms (default 3000). */
  readonly resolveTimeoutMs?: number;
  /** Repeat an unanswered ARP request (neighbour solicitation) at most this often, ms (default 1000). */
  readonly probeIntervalMs?: number;
  /** Forget a neighbour not heard from for this long, ms (default 300 000). */
  readonly reachableMs?: number;
}

/**
 * Parses `a.b.c.d/len` (or a bare address, /32) keeping the host bits: `198.18.1.1/24` is
 * the address 198.18.1.1 on the subnet 198.18.1.0/24. `undefined` when malformed.
 *
 * @example
 * ```ts
 * parseGatewayAddress('198.18.1.1/24'); // { address: 0xc6120101, prefix: 24, mask: 0xffffff00 }
 * ```
 */
export function parseGatewayAddress(text: string): GatewayAddress | undefined {
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(text);
  if (m === null) return undefined;
  const address = parseIpv4(m[1]);
  const prefix = m[2] === undefined ? 32 : Number(m[2]);
  if (address === undefined || prefix > 32) return undefined;
  return { address, prefix, mask: prefixMask(prefix) };
}

/**
 * A gateway address of either family, tagged with it (host bits kept): the edge answers ARP
 * for IPv4 ones and neighbour solicitations for IPv6 ones.
 */
export type TaggedGatewayAddress = ({ readonly family: 4 } & GatewayAddress) | ({ readonly family: 6 } & GatewayAddress6);

/**
 * `parseGatewayAddress` for either family: `a.b.c.d/len` or `ipv6/len` (a bare address is
 * /32 or /128), host bits kept. `undefined` when malformed.
 *
 * @example
 * ```ts
 * parseTaggedGatewayAddress('2001:db8:1::1/64'); // { family: 6, address: [0x20010db8, 0x10000, 0, 1], prefix: 64, mask: [0xffffffff, 0xffffffff, 0, 0] }
 * ```
 */
export function parseTaggedGatewayAddress(text: string): TaggedGatewayAddress | undefined {
  const v4 = parseGatewayAddress(text);
  if (v4 !== undefined) return { family: 4, ...v4 };
  if (!text.includes(':')) return undefined;
  const v6 = parseIpv6Prefix(text);
  return typeof v6 === 'string' ? undefined : { family: 6, address: v6.addr, prefix: v6.prefix, mask: ipv6Mask(v6.prefix) };
}

/**
 * The default gateway MAC for an interface address: locally administered, unicast,
 * `02:00:` followed by the four address bytes (198.18.1.1 → 02:00:c6:12:01:01), so two
 * edges of one chain never share a MAC.
 */
export function defaultGatewayMac(address: number): [number, number] {
  return [0x0200, address >>> 0];
}

/**
 * The default MAC of a gateway whose interface addresses are `addresses` (either family, in
 * order): `defaultGatewayMac` of the first IPv4 one; an IPv6-only gateway takes `02:00:`
 * and its first IPv6 address's four words XORed (2001:db8:1::1 → 02:00:20:00:0d:b9), so
 * edges on different prefixes differ.
 */
export function defaultGatewayMacOf(addresses: readonly TaggedGatewayAddress[]): [number, number] {
  const v4 = addresses.find((a) => a.family === 4);
  if (v4 !== undefined) return defaultGatewayMac(v4.address);
  const v6 = addresses.find((a) => a.family === 6);
  return defaultGatewayMac(v6 === undefined ? 0 : v6.address[0] ^ v6.address[1] ^ v6.address[2] ^ v6.address[3]);
}
