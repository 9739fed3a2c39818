/**
 * The rule interpreter: a plain first-match scan, rule after rule, in priority order.
 *
 * Two forms, deliberately written independently of the rule compiler:
 * - {@link firstMatch} (IPv4 packets) and {@link firstMatch6} (IPv6 packets) work on the
 *   validated rule objects with CIDR masks and explicit protocol cases; a rule of the other
 *   family is skipped, a rule without addresses (family 0) applies to both. They are the
 *   ORACLE the property tests hold the compiled classifiers to.
 * - {@link linearClassify} scans the packed rule table (`rule-table.ts`) and is what a
 *   pipeline runs with `classifier.algorithm: linear`: the baseline the compiled code is
 *   benchmarked against (a fair one: typed arrays, no allocation).
 *
 * Both return the index of the first matching rule, or -1 (default policy).
 *
 * @example
 * ```ts
 * const r = firstMatch(rules, { side: 0, proto: 17, src, dst, sport: 5353, dport: 53 });
 * const action = r < 0 ? defaultAction : rules[r].action;
 * ```
 */
import type { FlowKey6 } from '../../src/packet/flow-key-ipv6.ts';
import type { AclPacket, AclPacket6, AclRule } from './acl-rule.ts';
import { RULE_WORDS } from './rule-table.ts';

function inPrefix(addr: number, net: number, prefix: number): boolean {
  if (prefix === 0) return true;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return ((addr ^ net) & mask) >>> 0 === 0;
}

/** Index of the first rule matching `pkt`, or -1. Reference semantics; not for the hot path. */
export function firstMatch(rules: readonly AclRule[], pkt: AclPacket): number {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.family === 6) continue;
    if (r.side >= 0 && r.side !== pkt.side) continue;
    if (r.proto !== 0 && r.proto !== pkt.proto) continue;
    if (!inPrefix(pkt.src >>> 0, r.srcAddr >>> 0, r.srcPrefix)) continue;
    if (!inPrefix(pkt.dst >>> 0, r.dstAddr >>> 0, r.dstPrefix)) continue;
    if (!portsMatch(r, pkt.proto, pkt.sport, pkt.dport, pkt.icmpType ?? 0)) continue;
    return i;
  }
  return -1;
}

function portsMatch(r: AclRule, proto: number, sport: number, dport: number, icmpType: number): boolean {
  if (proto === 6 || proto === 17) return sport >= r.sportFrom && sport <= r.sportTo && dport >= r.dportFrom && dport <= r.dportTo;
  if (proto === 1 || proto === 58) return icmpType >= r.icmpFrom && icmpType <= r.icmpTo;
  return true;
}

/** True when the 128-bit `addr` (four words) lies in `net`/`prefix`, compared bit by bit. */
function inPrefix6(addr: ArrayLike<number>, net: ArrayLike<number>, prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit++) {
    const w = bit >>> 5;
    const shift = 31 - (bit & 31);
    if (((addr[w] >>> shift) & 1) !== ((net[w] >>> shift) & 1)) return false;
  }
  return true;
}

/**
 * Index of the first rule matching the IPv6 packet `pkt`, or -1: IPv4 rules are skipped,
 * rules without addresses apply. Reference semantics (bit-by-bit prefix test); not for the
 * hot path.
 *
 * @example
 * ```ts
 * firstMatch6(rules, { side: 0, proto: 6, src: [0x20010db8, 0, 0, 1], dst: key6Dst, sport: 40000, dport: 443 });
 * ```
 */
export function firstMatch6(rules: readonly AclRule[], pkt: AclPacket6): number {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.family === 4) continue;
    if (r.side >= 0 && r.side !== pkt.side) continue;
    if (r.proto !== 0 && r.proto !== pkt.proto) continue;
    if (r.family === 6 && !inPrefix6(pkt.src, r.srcAddr6, r.srcPrefix)) continue;
    if (r.family === 6 && !inPrefix6(pkt.dst, r.dstAddr6, r.dstPrefix)) continue;
    if (!portsMatch(r, pkt.proto, pkt.sport, pkt.dport, pkt.icmpType ?? 0)) continue;
    return i;
  }
  return -1;
}

/**
 * The rule-decision fields of an IPv6 packet from its flow key (`extractFlowKey6`), its
 * arrival side and, for ICMPv6, its message type (the key holds the echo identifier in its
 * ports, which rules do not look at). Allocates: for tests and tools.
 *
 * @example
 * ```ts
 * extractFlowKey6(view, layout, key);
 * const rule = firstMatch6(rules, aclPacket6(side, key, view.getUint8(layout.l4Offset)));
 * ```
 */
export function aclPacket6(side: number, key: FlowKey6, icmpType = 0): AclPacket6 {
  return {
    side,
    proto: key.proto,
    src: [key.s0, key.s1, key.s2, key.s3],
    dst: [key.d0, key.d1, key.d2, key.d3],
    sport: key.srcPort,
    dport: key.dstPort,
    icmpType,
  };
}

/**
 * First-match scan over a packed rule table of `count` rules; the packet is given as the six
 * classifier fields (`side`, `proto`, addresses as 32-bit patterns, the two port fields —
 * see `acl-rule.ts`). Returns the rule index or -1. No allocation.
 */
export function linearClassify(
  table: Int32Array,
  count: number,
  side: number,
  proto: number,
  src: number,
  dst: number,
  sp: number,
  dp: number,
): number {
  for (let r = 0, b = 0; r < count; r++, b += RULE_WORDS) {
    if (
      ((side - table[b]) >>> 0) <= (table[b + 1] >>> 0) &&
      ((proto - table[b + 2]) >>> 0) <= (table[b + 3] >>> 0) &&
      (((src - table[b + 4]) | 0) >>> 0) <= (table[b + 5] >>> 0) &&
      (((dst - table[b + 6]) | 0) >>> 0) <= (table[b + 7] >>> 0) &&
      ((sp - table[b + 8]) >>> 0) <= (table[b + 9] >>> 0) &&
      ((dp - table[b + 10]) >>> 0) <= (table[b + 11] >>> 0)
    ) {
      return r;
    }
  }
  return -1;
}
