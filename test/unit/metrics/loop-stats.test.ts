import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BATCH_BUCKET_BOUNDS_NS, createLoopStats, isLoopStats, LOOP_STATS_LENGTH, LoopStat, recordBatch } from '../../../src/metrics/loop-stats.ts';

function oracleBucket(ns: number): number {
  const i = BATCH_BUCKET_BOUNDS_NS.findIndex((bound) => Math.ceil(ns / 1000) * 1000 <= bound);
  return i < 0 ? BATCH_BUCKET_BOUNDS_NS.length : i;
}

describe('loop statistics block', () => {
  it('has power-of-two µs bounds from 1 µs and fits in shared memory', () => {
    expect(BATCH_BUCKET_BOUNDS_NS[0]).toBe(1000);
    expect(BATCH_BUCKET_BOUNDS_NS.at(-1)).toBe(1000 * 2 ** 20);
    const stats = createLoopStats();
    expect(stats.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(stats.length).toBe(LOOP_STATS_LENGTH);
    expect(LOOP_STATS_LENGTH).toBe(LoopStat.FIRST_BUCKET + BATCH_BUCKET_BOUNDS_NS.length + 1);
    expect(isLoopStats(stats)).toBe(true);
    expect(isLoopStats(new Float64Array(3))).toBe(false);
    expect(isLoopStats(undefined)).toBe(false);
  });

  it('puts edge values in the right bucket', () => {
    const cases: Array<[number, number]> = [
      [0, 0],
      [1, 0],
      [1000, 0],
      [1001, 1],
      [2000, 1],
      [2001, 2],
      [4000, 2],
      [1000 * 2 ** 20, 20],
      [1000 * 2 ** 20 + 1, 21],
      [1e15, 21],
    ];
    for (const [ns, bucket] of cases) {
      const stats = createLoopStats();
      recordBatch(stats, ns);
      expect(Array.from(stats.subarray(LoopStat.FIRST_BUCKET)).indexOf(1), `${ns} ns`).toBe(bucket);
    }
  });

  it('counts batches, sums busy time and agrees with a linear bucket search', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 5e9, noNaN: true }), { maxLength: 50 }), (times) => {
        const stats = createLoopStats();
        const expected = new Array<number>(BATCH_BUCKET_BOUNDS_NS.length + 1).fill(0);
        for (const ns of times) {
          recordBatch(stats, ns);
          expected[oracleBucket(ns)]++;
        }
        expect(stats[LoopStat.BATCHES]).toBe(times.length);
        expect(stats[LoopStat.BUSY_NS]).toBeCloseTo(times.reduce((a, b) => a + b, 0), 0);
        expect(Array.from(stats.subarray(LoopStat.FIRST_BUCKET))).toEqual(expected);
      }),
    );
  });

  it('counts a negative or NaN time as a zero-length batch', () => {
    const stats = createLoopStats();
    recordBatch(stats, -5);
    recordBatch(stats, Number.NaN);
    expect(stats[LoopStat.BATCHES]).toBe(2);
    expect(stats[LoopStat.BUSY_NS]).toBe(0);
    expect(stats[LoopStat.FIRST_BUCKET]).toBe(2);
  });
});
