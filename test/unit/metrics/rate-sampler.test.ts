import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLoopStats, LoopStat } from '../../../src/metrics/loop-stats.ts';
import { RateSampler } from '../../../src/metrics/rate-sampler.ts';
import { BuiltinCounter } from '../../../src/pipeline/compiled-pipeline.ts';
import { FakeSource } from './fake-source.ts';

function setup(...ids: string[]) {
  const sources = ids.map((id) => new FakeSource(id));
  let listed = sources;
  const sampler = new RateSampler(() => listed);
  return { sources, sampler, list: (s: FakeSource[]) => (listed = s) };
}

describe('RateSampler', () => {
  it('reports zero rates on first sight, then deltas over elapsed time', () => {
    const { sources: [a], sampler } = setup('edge/fw-0');
    a.traffic(5000, 4000, 10);
    expect(sampler.sample(1000)).toEqual([
      { instance: 'edge/fw-0', chain: 'edge', function: 'fw', rxPps: 0, txPps: 0, dropPps: 0, rxBps: 0, queueOccupancy: 0, busyRatio: 0 },
    ]);
    a.traffic(2000, 1500, 50, 64);
    a.counters[BuiltinCounter.RX_OUTSIDE_PACKETS] += 1000;
    a.counters[BuiltinCounter.TX_INSIDE_PACKETS] += 500;
    a.counters[BuiltinCounter.RX_OUTSIDE_BYTES] += 1000 * 1500;
    const [r] = sampler.sample(1500);
    expect(r.rxPps).toBeCloseTo(6000);
    expect(r.txPps).toBeCloseTo(4000);
    expect(r.dropPps).toBeCloseTo(100);
    expect(r.rxBps).toBeCloseTo((2000 * 64 + 1000 * 1500) / 0.5);
  });

  it('matches total/elapsed for any sequence of increments and sampling times', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1e6), fc.integer({ min: 1, max: 5000 })), { minLength: 1, maxLength: 20 }), (steps) => {
        const { sources: [a], sampler } = setup('i');
        let t = 0;
        sampler.sample(t);
        for (const [packets, dtMs] of steps) {
          a.traffic(packets, packets);
          t += dtMs;
          const [r] = sampler.sample(t);
          expect(r.rxPps).toBeCloseTo((packets * 1000) / dtMs, 6);
          expect(r.txPps).toBeCloseTo((packets * 1000) / dtMs, 6);
        }
      }),
    );
  });

  it('treats a counter that went backwards as reset (its new value moved since)', () => {
    const { sources: [a], sampler } = setup('i');
    a.traffic(10_000, 10_000);
    sampler.sample(0);
    a.counters.fill(0);
    a.traffic(300, 200);
    const [r] = sampler.sample(1000);
    expect(r.rxPps).toBe(300);
    expect(r.txPps).toBe(200);
    a.traffic(100, 100);
    expect(sampler.sample(2000)[0].rxPps).toBe(100);
  });

  it('starts over when the same id comes with a new counter array (instance replaced)', () => {
    const { sources: [a], sampler } = setup('i');
    a.traffic(100, 100);
    sampler.sample(0);
    a.counters = new Float64Array(a.counters.length);
    a.traffic(500, 400);
    const [r] = sampler.sample(1000);
    expect(r.rxPps).toBe(500);
    expect(r.txPps).toBe(400);
  });

  it('forgets instances that disappear and starts afresh when they come back', () => {
    const { sources: [a, b], sampler, list } = setup('i-a', 'i-b');
    sampler.sample(0);
    a.traffic(100, 100);
    b.traffic(200, 200);
    expect(sampler.sample(1000).map((r) => [r.instance, r.rxPps])).toEqual([['i-a', 100], ['i-b', 200]]);
    list([a]);
    expect(sampler.sample(2000).map((r) => r.instance)).toEqual(['i-a']);
    b.traffic(700, 700);
    list([a, b]);
    const back = sampler.sample(3000).find((r) => r.instance === 'i-b');
    expect(back?.rxPps).toBe(0);
    b.traffic(50, 50);
    expect(sampler.sample(4000).find((r) => r.instance === 'i-b')?.rxPps).toBe(50);
  });

  it('repeats the last rates when the clock did not advance, keeping the baseline', () => {
    const { sources: [a], sampler } = setup('i');
    sampler.sample(1000);
    a.traffic(100, 0);
    const first = sampler.sample(2000)[0];
    a.traffic(100, 0);
    expect(sampler.sample(2000)[0]).toEqual(first);
    expect(sampler.sample(1500)[0]).toEqual(first);
    expect(sampler.sample(3000)[0].rxPps).toBe(100);
  });

  it('reports the fuller receive queue, clamped to 0..1', () => {
    const { sources: [a], sampler } = setup('i');
    a.occupancy = [0.25, 0.5];
    expect(sampler.sample(0)[0].queueOccupancy).toBe(0.5);
    a.occupancy = [1.7, -1];
    expect(sampler.sample(1000)[0].queueOccupancy).toBe(1);
    a.occupancy = [Number.NaN, 0.1];
    expect(sampler.sample(2000)[0].queueOccupancy).toBe(0.1);
  });

  it('computes the busy ratio from the loop statistics, clamped to 0..1, and 0 without them', () => {
    const { sources: [a, b], sampler } = setup('with', 'without');
    a.loopStats = createLoopStats();
    sampler.sample(0);
    a.loopStats[LoopStat.BUSY_NS] += 250e6;
    b.traffic(1, 1);
    const [ra, rb] = sampler.sample(1000);
    expect(ra.busyRatio).toBeCloseTo(0.25);
    expect(rb.busyRatio).toBe(0);
    a.loopStats[LoopStat.BUSY_NS] += 3e9;
    expect(sampler.sample(2000)[0].busyRatio).toBe(1);
  });

  it('keeps the last sample for latest(), filtered by chain', () => {
    const sources = [new FakeSource('a/fw-0', 'a'), new FakeSource('b/fw-0', 'b'), new FakeSource('a/nat-0', 'a', 'nat')];
    const sampler = new RateSampler(() => sources);
    expect(sampler.latest()).toEqual([]);
    sampler.sample(0);
    expect(sampler.latest().map((r) => r.instance)).toEqual(['a/fw-0', 'b/fw-0', 'a/nat-0']);
    expect(sampler.latest('a').map((r) => r.instance)).toEqual(['a/fw-0', 'a/nat-0']);
    expect(sampler.latest('zzz')).toEqual([]);
    expect(sampler.latest('a')[1].function).toBe('nat');
  });
});
