import { describe, expect, it } from 'vitest';
import { ANY_RULE, type AclRule } from '../../../functions/firewall/acl-rule.ts';
import {
  bigIntToWords,
  buildAddressReduction,
  buildReductionIndex,
  reduceAddress,
  REDUCTION_LEAF,
} from '../../../functions/firewall/address-reduction.ts';
import { Rng } from '../../support/rng.ts';

const SPACE = 1n << 128n;

/** An IPv6 rule on source prefix `addr/prefix` (the reduction only looks at addresses). */
function rule(addr: bigint, prefix: number): AclRule {
  return { ...ANY_RULE, family: 6, srcAddr6: bigIntToWords(addr), srcPrefix: prefix };
}

function rand128(rng: Rng): bigint {
  return (BigInt(rng.next()) << 96n) | (BigInt(rng.next()) << 64n) | (BigInt(rng.next()) << 32n) | BigInt(rng.next());
}

/** The reference: index of the last boundary ≤ v, by a plain scan of the sorted boundaries. */
function reference(points: readonly bigint[], v: bigint): number {
  let i = 0;
  while (i + 1 < points.length && points[i + 1] <= v) i++;
  return i;
}

/** Rule sets shaped to stress the index: clustered deep in one /120, dense in one byte slice, hosts, a few /32s. */
const SHAPES: Record<string, (rng: Rng) => AclRule[]> = {
  'sites, subnets and hosts under a few /32s': (rng) =>
    Array.from({ length: 400 }, () => {
      const base = (0x20010db8n + BigInt(rng.int(3))) << 96n;
      const prefix = [48, 56, 64, 128][rng.int(4)];
      return rule(base | (rand128(rng) & ((1n << 96n) - 1n)), prefix);
    }),
  'hosts packed into one /120 (the trie runs to the last byte)': (rng) =>
    Array.from({ length: 200 }, () => rule((0x20010db8n << 96n) | BigInt(rng.int(256)), 128)),
  'one byte slice holding many boundaries, then nothing': (rng) =>
    Array.from({ length: 300 }, () => rule((0xfe80n << 112n) | (BigInt(rng.int(1 << 16)) << 64n), 64)),
  'prefixes of every length, anywhere': (rng) => Array.from({ length: 300 }, () => rule(rand128(rng), 1 + rng.int(128))),
  'fewer boundaries than a leaf holds': (rng) => Array.from({ length: 3 }, () => rule(rand128(rng), 1 + rng.int(128))),
  'the last address of the space as a host': () => [rule(SPACE - 1n, 128), rule(0n, 128)],
};

describe('reduceAddress over its index = the last boundary at or before the address', () => {
  for (const [name, make] of Object.entries(SHAPES)) {
    it(name, () => {
      const rng = new Rng(name.length * 7919);
      const red = buildAddressReduction(make(rng));
      const index = buildReductionIndex(red.src, red.srcCount);
      const points = [...red.srcIndex.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      expect(points.length).toBe(red.srcCount);
      const queries: bigint[] = [0n, SPACE - 1n];
      for (const p of points) queries.push(p, p - 1n, p + 1n, p + 255n, p - 256n);
      for (let i = 0; i < 2000; i++) queries.push(rand128(rng));
      for (const v of queries) {
        if (v < 0n || v >= SPACE) continue;
        const w = bigIntToWords(v);
        const got = reduceAddress(red.src, red.srcCount, red.srcShift, index, w[0] | 0, w[1] | 0, w[2] | 0, w[3] | 0) >>> 0;
        expect(got, v.toString(16)).toBe((reference(points, v) * 2 ** red.srcShift) >>> 0);
      }
    });
  }

  it('leaves at most REDUCTION_LEAF boundaries to the scan of any leaf', () => {
    const rng = new Rng(5);
    const red = buildAddressReduction(SHAPES['one byte slice holding many boundaries, then nothing'](rng));
    const index = buildReductionIndex(red.src, red.srcCount);
    const leaves = Array.from(index).filter((e) => e < 0).map((e) => ~e);
    // Consecutive leaves name boundaries at most REDUCTION_LEAF (+1 for the one the slice starts at) apart.
    const sorted = [...new Set(leaves)].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i] - sorted[i - 1]).toBeLessThanOrEqual(REDUCTION_LEAF + 1);
    expect(index.length % 256).toBe(0);
  });
});
