/**
 * IPv6 for the rule compiler: a rule set's 128-bit prefixes reduced to 32-bit values, so the
 * IPv6 classifier is the IPv4 one (same plans, trees, leaf encoding and generated code) run
 * on reduced addresses.
 *
 * Per address dimension (source, destination), the IPv6 prefixes of the rules cut the
 * 128-bit space into elementary intervals: the sorted, distinct boundaries are `::` plus each
 * prefix's first address and the address after its last. An address reduces to the index of
 * the interval holding it, shifted left so the indices spread over the whole 32-bit range
 * (the decision trees cut aligned slices of it, as they do real IPv4 addresses). Every
 * prefix is a union of whole intervals, so it becomes one contiguous range of reduced
 * values and a rule becomes a box (`AclRule.addrRanges`): a packet's reduced address lies
 * in a rule's range exactly when its address lies in the rule's prefix.
 *
 * At run time {@link reduceAddress} is a binary search over the boundaries (one `Int32Array`
 * per dimension, four words per boundary with the sign bits flipped so that signed compares
 * order them as unsigned numbers): about log2(2 × prefixes) steps, each usually decided by
 * the first word; no allocation.
 *
 * @example
 * ```ts
 * const red = buildAddressReduction(rules6);
 * const s = reduceAddress(red.src, red.srcCount, red.srcShift, w0, w1, w2, w3);
 * const box = reducedRule(rules6[0], red).addrRanges; // [srcLo, srcHi, dstLo, dstHi]
 * ```
 */
import type { AclRule, AddressWords } from './acl-rule.ts';

/** Boundaries of both address dimensions of an IPv6 rule set (see the module doc). */
export interface AddressReduction {
  /** Source boundaries, four sign-flipped words each, ascending; the first is `::`. */
  readonly src: Int32Array;
  readonly srcCount: number;
  /** Left shift of a source interval index (32 − bits of the largest index). */
  readonly srcShift: number;
  readonly dst: Int32Array;
  readonly dstCount: number;
  readonly dstShift: number;
  /** Build-time lookups: boundary (as a 128-bit number) → interval index. */
  readonly srcIndex: ReadonlyMap<bigint, number>;
  readonly dstIndex: ReadonlyMap<bigint, number>;
}

const SPACE = 1n << 128n;

/** The 128-bit number of four words. */
export function wordsToBigInt(w: ArrayLike<number>): bigint {
  return ((BigInt(w[0] >>> 0) << 96n) | (BigInt(w[1] >>> 0) << 64n) | (BigInt(w[2] >>> 0) << 32n) | BigInt(w[3] >>> 0));
}

/** The four unsigned words of a 128-bit number (taken modulo 2^128). */
export function bigIntToWords(v: bigint): AddressWords {
  const x = ((v % SPACE) + SPACE) % SPACE;
  return [Number((x >> 96n) & 0xffffffffn), Number((x >> 64n) & 0xffffffffn), Number((x >> 32n) & 0xffffffffn), Number(x & 0xffffffffn)];
}

/** First address and the address after the last (possibly 2^128) of an IPv6 prefix. */
export function prefixBounds6(net: AddressWords, prefix: number): [bigint, bigint] {
  const size = 1n << BigInt(128 - prefix);
  const lo = (wordsToBigInt(net) / size) * size;
  return [lo, lo + size];
}

function bitsFor(count: number): number {
  let bits = 1;
  while (2 ** bits < count) bits++;
  return bits;
}

function dimension(points: Set<bigint>): { words: Int32Array; count: number; shift: number; index: Map<bigint, number> } {
  const sorted = [...points].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const words = new Int32Array(sorted.length * 4);
  const index = new Map<bigint, number>();
  sorted.forEach((p, i) => {
    const w = bigIntToWords(p);
    for (let k = 0; k < 4; k++) words[i * 4 + k] = (w[k] ^ 0x80000000) | 0;
    index.set(p, i);
  });
  return { words, count: sorted.length, shift: 32 - bitsFor(sorted.length), index };
}

/** The boundaries of the IPv6 rules (`family` 6) among `rules`; other rules are ignored. */
export function buildAddressReduction(rules: readonly AclRule[]): AddressReduction {
  const src = new Set<bigint>([0n]);
  const dst = new Set<bigint>([0n]);
  for (const r of rules) {
    if (r.family !== 6) continue;
    for (const [set, net, prefix] of [[src, r.srcAddr6, r.srcPrefix], [dst, r.dstAddr6, r.dstPrefix]] as const) {
      if (prefix === 0) continue;
      const [lo, end] = prefixBounds6(net, prefix);
      set.add(lo);
      if (end < SPACE) set.add(end);
    }
  }
  const s = dimension(src);
  const d = dimension(dst);
  return {
    src: s.words,
    srcCount: s.count,
    srcShift: s.shift,
    srcIndex: s.index,
    dst: d.words,
    dstCount: d.count,
    dstShift: d.shift,
    dstIndex: d.index,
  };
}

/** Inclusive range of reduced values of a prefix in one dimension. */
function reducedRange(index: ReadonlyMap<bigint, number>, count: number, shift: number, net: AddressWords, prefix: number): [number, number] {
  if (prefix === 0) return [0, 0xffffffff];
  const [lo, end] = prefixBounds6(net, prefix);
  const first = index.get(lo) as number;
  const last = end < SPACE ? (index.get(end) as number) - 1 : count - 1;
  return [first * 2 ** shift, last === count - 1 ? 0xffffffff : (last + 1) * 2 ** shift - 1];
}

/**
 * `rule` as a rule of the IPv6 plan: its addresses as reduced ranges (`addrRanges`; a rule
 * without addresses gets full ranges). Only for rules of family 6 or 0.
 */
export function reducedRule(rule: AclRule, red: AddressReduction): AclRule {
  const [sLo, sHi] = rule.family === 6 ? reducedRange(red.srcIndex, red.srcCount, red.srcShift, rule.srcAddr6, rule.srcPrefix) : [0, 0xffffffff];
  const [dLo, dHi] = rule.family === 6 ? reducedRange(red.dstIndex, red.dstCount, red.dstShift, rule.dstAddr6, rule.dstPrefix) : [0, 0xffffffff];
  return { ...rule, addrRanges: [sLo, sHi, dLo, dHi] };
}

/**
 * The reduced value (an int32 pattern) of the address `w0…w3` (int32 or unsigned words,
 * most significant first) over `count` boundaries. Per packet: no allocation.
 */
export function reduceAddress(bounds: Int32Array, count: number, shift: number, w0: number, w1: number, w2: number, w3: number): number {
  const a0 = (w0 ^ 0x80000000) | 0;
  const a1 = (w1 ^ 0x80000000) | 0;
  const a2 = (w2 ^ 0x80000000) | 0;
  const a3 = (w3 ^ 0x80000000) | 0;
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    const b = mid << 2;
    const c0 = bounds[b];
    let le: boolean;
    if (c0 !== a0) le = c0 < a0;
    else if (bounds[b + 1] !== a1) le = bounds[b + 1] < a1;
    else if (bounds[b + 2] !== a2) le = bounds[b + 2] < a2;
    else le = bounds[b + 3] <= a3;
    if (le) lo = mid;
    else hi = mid - 1;
  }
  return (lo << shift) | 0;
}
