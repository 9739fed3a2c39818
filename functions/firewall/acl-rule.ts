/**
 * The firewall's rule model after validation: every rule a plain object of numbers, in
 * priority order (index 0 is tried first). Both the rule compiler and the interpreter work on
 * this form; `config.ts` turns what users write into it.
 *
 * A packet is classified on six fields, the same for every protocol: arrival side, IP
 * protocol, source and destination address, and two 16-bit "port" fields: for TCP/UDP the
 * source and destination ports, for ICMP 0 and the ICMP type, for anything else 0 and 0. The
 * overloading is safe because a rule may constrain ports only with `proto` tcp/udp and the
 * ICMP type only with `proto` icmp (the schema enforces it).
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
  /** Source network address (host bits clear) and prefix length. */
  srcAddr: number;
  srcPrefix: number;
  dstAddr: number;
  dstPrefix: number;
  /** Inclusive TCP/UDP source port range. */
  sportFrom: number;
  sportTo: number;
  /** Inclusive TCP/UDP destination port range. */
  dportFrom: number;
  dportTo: number;
  /** Inclusive ICMP type range. */
  icmpFrom: number;
  icmpTo: number;
}

/** A rule matching every packet (a template for building rules). */
export const ANY_RULE: Readonly<AclRule> = Object.freeze({
  action: Action.ALLOW,
  reject: RejectWith.AUTO,
  side: -1,
  proto: 0,
  srcAddr: 0,
  srcPrefix: 0,
  dstAddr: 0,
  dstPrefix: 0,
  sportFrom: 0,
  sportTo: 65535,
  dportFrom: 0,
  dportTo: 65535,
  icmpFrom: 0,
  icmpTo: 255,
});

/** The header fields a rule decision looks at. */
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
  [lo[2], hi[2]] = prefixRange(rule.srcAddr, rule.srcPrefix);
  [lo[3], hi[3]] = prefixRange(rule.dstAddr, rule.dstPrefix);
  if (rule.proto === 1) {
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
 * `[sport, dport]` for TCP/UDP, `[0, type]` for ICMP, `[0, 0]` otherwise.
 */
export function packetPorts(pkt: AclPacket): [number, number] {
  if (pkt.proto === 6 || pkt.proto === 17) return [pkt.sport, pkt.dport];
  if (pkt.proto === 1) return [0, pkt.icmpType ?? 0];
  return [0, 0];
}
