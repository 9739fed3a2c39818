/**
 * The firewall's rule model after validation: every rule a plain object of numbers, in
 * priority order (index 0 is tried first). Both the rule compiler and the interpreter work on
 * this form; `config.ts` turns what users write into it.
 *
 * A packet is classified on six fields, the same for every protocol: arrival side, IP
 * protocol, source and destination address, and two 16-bit "port" fields: for TCP/UDP the
 * source and destination ports, for ICMP and ICMPv6 0 and the message type, for anything
 * else 0 and 0. The overloading is safe because a rule may constrain ports only with `proto`
 * tcp/udp and the type only with `proto` icmp or icmpv6 (the schema enforces it).
 *
 * Dual stack, as nftables' `inet` family: a rule with an address belongs to that address's
 * family (`family` 4 or 6) and never matches a packet of the other; a rule without addresses
 * (`family` 0) matches both. IPv6 prefixes are four 32-bit words (`srcAddr6`, `dstAddr6`,
 * most significant first, unsigned) with a prefix length up to 128; IPv4 ones stay in
 * `srcAddr`/`dstAddr`.
 *
 * @example
 * ```ts
 * const rule: AclRule = { ...ANY_RULE, action: Action.ALLOW, proto: 6, dstAddr: 0xc6120000, dstPrefix: 15, dportFrom: 443, dportTo: 443 };
 * firstMatch([rule], { side: 0, proto: 6, src: 1, dst: 0xc6120001, sport: 40000, dport: 443 }); // 0
 * ```
 */

/** What a rule (or the default policy) does with a packet. */
export const Action = {
  ALLOW: 0,
  DROP: 1,
  REJECT: 2,
} as const;

/** Action names, indexed by action number. */
export const ACTION_NAMES = ['allow', 'drop', 'reject'] as const;

/** How a reject answers, beyond the ICMP destination-unreachable codes (0…15), which are used as is. */
export const RejectWith = {
  /** TCP → RST (RST+ACK for a segment without ACK); anything else → ICMP port unreachable. */
  AUTO: -1,
  /** TCP reset (rules with `proto: tcp` only). */
  TCP_RESET: -2,
} as const;

/** Four unsigned 32-bit words of an IPv6 address, most significant first. */
export type AddressWords = readonly [number, number, number, number];

/** The all-zero IPv6 address words (the network of `::/0`). */
export const ZERO_WORDS: AddressWords = Object.freeze([0, 0, 0, 0]) as AddressWords;

/** One validated rule. Absent constraints are full ranges (`0.0.0.0/0`, `0-65535`, …). */
export interface AclRule {
  /** `Action.*`. */
  action: number;
  /** `RejectWith.*` or an ICMP unreachable code (0…15); only meaningful for REJECT. */
  reject: number;
  /** Arrival side (0 inside, 1 outside), or -1 for either. */
  side: number;
  /** IP protocol number, 0 for any. */
  proto: number;
  /**
   * Address family the rule applies to: 4 or 6 (it has an address of that family), or 0
   * (no address: both families; then both prefixes are 0).
   */
  family: number;
  /** IPv4 rules: source network address (host bits clear) and prefix length; IPv6 rules: 0 and the IPv6 prefix length (0–128). */
  srcAddr: number;
  srcPrefix: number;
  dstAddr: number;
  dstPrefix: number;
  /** IPv6 rules: source and destination network (host bits clear); all zero otherwise. */
  srcAddr6: AddressWords;
  dstAddr6: AddressWords;
  /** Inclusive TCP/UDP source port range. */
  sportFrom: number;
  sportTo: number;
  /** Inclusive TCP/UDP destination port range. */
  dportFrom: number;
  dportTo: number;
  /** Inclusive ICMP (or ICMPv6) type range. */
  icmpFrom: number;
  icmpTo: number;
  /**
   * Set only on the rules of a per-family classifier plan (`address-reduction.ts`): the
   * address dimensions as inclusive ranges of reduced 32-bit values `[srcLo, srcHi, dstLo,
   * dstHi]`, which replace the prefixes in the rule's box.
   */
  readonly addrRanges?: readonly [number, number, number, number];
}

/** A rule matching every packet (a template for building rules). */
export const ANY_RULE: Readonly<AclRule> = Object.freeze({
  action: Action.ALLOW,
  reject: RejectWith.AUTO,
  side: -1,
  proto: 0,
  family: 0,
  srcAddr: 0,
  srcPrefix: 0,
  dstAddr: 0,
  dstPrefix: 0,
  srcAddr6: ZERO_WORDS,
  dstAddr6: ZERO_WORDS,
  sportFrom: 0,
  sportTo: 65535,
  dportFrom: 0,
  dportTo: 65535,
  icmpFrom: 0,
  icmpTo: 255,
});

/** The header fields a rule decision looks at, for an IPv4 packet. */
export interface AclPacket {
  side: number;
  proto: number;
  /** Addresses as unsigned 32-bit numbers. */
  src: number;
  dst: number;
  /** TCP/UDP ports (ignored for other protocols). */
  sport: number;
  dport: number;
  /** ICMP type (ignored for other protocols). */
  icmpType?: number;
}

/** The header fields a rule decision looks at, for an IPv6 packet (ports as in {@link AclPacket}; `icmpType` for ICMPv6). */
export interface AclPacket6 {
  side: number;
  /** Upper-layer protocol (after the extension headers). */
  proto: number;
  /** Addresses as four 32-bit words, most significant first (unsigned or int32). */
  src: ArrayLike<number>;
  dst: ArrayLike<number>;
  sport: number;
  dport: number;
  icmpType?: number;
}

/** IP protocol number of ICMP. */
export const PROTO_ICMP = 1;
/** IP protocol number (next header) of ICMPv6. */
export const PROTO_ICMPV6 = 58;

/** Number of classification dimensions. */
export const DIM_COUNT = 6;
/** Dimension indices: side, protocol, source, destination, port A, port B. */
export const Dim = { SIDE: 0, PROTO: 1, SRC: 2, DST: 3, SPORT: 4, DPORT: 5 } as const;
/** Width of each dimension in bits. */
export const DIM_BITS: readonly number[] = [1, 8, 32, 32, 16, 16];
/** Largest value of each dimension. */
export const DIM_FULL: readonly number[] = [1, 255, 0xffffffff, 0xffffffff, 65535, 65535];

/** Inclusive range `[lo, hi]` of a CIDR block as unsigned numbers. */
export function prefixRange(addr: number, prefix: number): [number, number] {
  const size = 2 ** (32 - prefix);
  const lo = Math.floor((addr >>> 0) / size) * size;
  return [lo, lo + size - 1];
}

/**
 * A rule as a box in the six classification dimensions: `lo[d]`, `hi[d]` inclusive,
 * unsigned. This is the only place where the field overloading (ports / ICMP type) is decided.
 */
export function ruleBox(rule: AclRule, lo: number[], hi: number[]): void {
  lo[0] = rule.side < 0 ? 0 : rule.side;
  hi[0] = rule.side < 0 ? 1 : rule.side;
  lo[1] = rule.proto === 0 ? 0 : rule.proto;
  hi[1] = rule.proto === 0 ? 255 : rule.proto;
  const ranges = rule.addrRanges;
  if (ranges !== undefined) {
    [lo[2], hi[2], lo[3], hi[3]] = ranges;
  } else {
    [lo[2], hi[2]] = prefixRange(rule.srcAddr, rule.srcPrefix);
    [lo[3], hi[3]] = prefixRange(rule.dstAddr, rule.dstPrefix);
  }
  if (rule.proto === PROTO_ICMP || rule.proto === PROTO_ICMPV6) {
    lo[4] = 0;
    hi[4] = 65535;
    lo[5] = rule.icmpFrom;
    hi[5] = rule.icmpTo === 255 && rule.icmpFrom === 0 ? 65535 : rule.icmpTo;
  } else {
    lo[4] = rule.sportFrom;
    hi[4] = rule.sportTo;
    lo[5] = rule.dportFrom;
    hi[5] = rule.dportTo;
  }
}

/**
 * The two 16-bit port fields of a packet as the classifier sees them (see the module doc):
 * `[sport, dport]` for TCP/UDP, `[0, type]` for ICMP and ICMPv6, `[0, 0]` otherwise.
 */
export function packetPorts(pkt: AclPacket | AclPacket6): [number, number] {
  if (pkt.proto === 6 || pkt.proto === 17) return [pkt.sport, pkt.dport];
  if (pkt.proto === PROTO_ICMP || pkt.proto === PROTO_ICMPV6) return [0, pkt.icmpType ?? 0];
  return [0, 0];
}
