import type { FlowKey6 } from '../packet/flow-key-ipv6.ts';

/**
 * Directional 5-tuple hash for the conntrack index (murmur3-style mixing of three 32-bit
 * words plus the protocol, with a per-table seed so flows cannot be aimed at one bucket
 * by an outsider who does not know the seed).
 *
 * Deliberately NOT symmetric: the two directions of a flow are two different keys in the
 * index and should land in different places. No allocation.
 *
 * @example
 * ```ts
 * const h = tupleHash(seed, 6, 0xc6120001, 0xc6120002, 40000, 80);
 * ```
 */
export function tupleHash(seed: number, proto: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number): number {
  let h = (seed ^ Math.imul(proto & 0xff, 0x9e3779b1)) | 0;
  h = mixWord(h, srcIp | 0);
  h = mixWord(h, dstIp | 0);
  h = mixWord(h, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff));
  return finish(h, 13);
}

/**
 * {@link tupleHash} for an IPv6 5-tuple: the same seeded murmur3-style mixing over the
 * eight address words (source then destination, most significant first) and the ports
 * word, directional like the IPv4 form. Reads the key's addresses and ports; the protocol
 * is given (`key.proto` is not read), so a reply tuple hashes with its connection's. No
 * allocation.
 *
 * @example
 * ```ts
 * const key = new FlowKey6();
 * key.set([0x20010db8, 0, 0, 1], [0x20010db8, 0, 0, 2], 40000, 80, 6);
 * const h = tupleHash6(seed, 6, key);
 * ```
 */
export function tupleHash6(seed: number, proto: number, key: FlowKey6): number {
  let h = (seed ^ Math.imul(proto & 0xff, 0x9e3779b1)) | 0;
  h = mixWord(h, key.s0 | 0);
  h = mixWord(h, key.s1 | 0);
  h = mixWord(h, key.s2 | 0);
  h = mixWord(h, key.s3 | 0);
  h = mixWord(h, key.d0 | 0);
  h = mixWord(h, key.d1 | 0);
  h = mixWord(h, key.d2 | 0);
  h = mixWord(h, key.d3 | 0);
  h = mixWord(h, ((key.srcPort & 0xffff) << 16) | (key.dstPort & 0xffff));
  return finish(h, 37);
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * One murmur3 body round. `x × 5` is written `(x << 2) + x`: the same word once truncated,
 * one `Math.imul` call fewer in the bytecode, so more rounds fit V8's inlining budget of
 * the batch loop that looks tuples up.
 */
function mixWord(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  let x = h ^ k;
  x = (x << 13) | (x >>> 19);
  return ((x << 2) + x + 0xe6546b64) | 0;
}
