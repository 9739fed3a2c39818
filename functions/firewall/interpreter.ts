/**
 * The rule interpreter: a plain first-match scan, rule after rule, in priority order.
 *
 * Two forms, deliberately written independently of the rule compiler:
 * - {@link firstMatch} works on the validated rule objects with CIDR masks and explicit
 *   protocol cases. It is the ORACLE the property tests hold the compiled classifier to.
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
import type { AclPacket, AclRule } from './acl-rule.ts';
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
    if (r.side >= 0 && r.side !== pkt.side) continue;
    if (r.proto !== 0 && r.proto !== pkt.proto) continue;
    if (!inPrefix(pkt.src >>> 0, r.srcAddr >>> 0, r.srcPrefix)) continue;
    if (!inPrefix(pkt.dst >>> 0, r.dstAddr >>> 0, r.dstPrefix)) continue;
    if (pkt.proto === 6 || pkt.proto === 17) {
      if (pkt.sport < r.sportFrom || pkt.sport > r.sportTo) continue;
      if (pkt.dport < r.dportFrom || pkt.dport > r.dportTo) continue;
    } else if (pkt.proto === 1) {
      const t = pkt.icmpType ?? 0;
      if (t < r.icmpFrom || t > r.icmpTo) continue;
    }
    return i;
  }
  return -1;
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
