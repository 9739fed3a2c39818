import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitTimestamp } from '../../../src/pcap/capture-timestamp.ts';

function oracle(high: number, low: number, ups: bigint): [number, number] {
  const v = (BigInt(high) << 32n) | BigInt(low);
  return [Number(v / ups), Number(((v % ups) * 1_000_000_000n) / ups)];
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const units = fc.oneof(
  fc.integer({ min: 0, max: 22 }).map((e) => 10n ** BigInt(e)),
  fc.integer({ min: 0, max: 63 }).map((e) => 1n << BigInt(e)),
);

describe('splitTimestamp', () => {
  it('equals exact BigInt division for every resolution and value', () => {
    fc.assert(
      fc.property(u32, u32, units, (high, low, ups) => {
        const out = { tsSec: 0, tsNsec: 0 };
        splitTimestamp(high, low, Number(ups), out);
        expect([out.tsSec, out.tsNsec]).toEqual(oracle(high, low, ups));
      }),
      { numRuns: 3000 },
    );
  });

  it('is exact at the edges of the number fast path', () => {
    const out = { tsSec: 0, tsNsec: 0 };
    for (const [high, low] of [
      [0x1fffff, 0xffffffff],
      [0x200000, 0],
      [0xffffffff, 0xffffffff],
      [0x17a2bc3d, 0x4e5f6071],
    ]) {
      for (const ups of [1000n, 1_000_000n, 1_000_000_000n, 1n << 32n, 10n ** 12n]) {
        splitTimestamp(high, low, Number(ups), out);
        expect([out.tsSec, out.tsNsec]).toEqual(oracle(high, low, ups));
      }
    }
  });
});
