import { describe, expect, it } from 'vitest';
import { MAGLEV_DEFAULT_TABLE_SIZE, MaglevTable, maglevDiff, maglevEntries } from '../../../src/flow/maglev.ts';
import { isPrime } from '../../../src/flow/maglev-permutation.ts';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';

const servers = (n: number, weight = 1) => Array.from({ length: n }, (_, i) => ({ name: `198.18.${i >> 8}.${i & 255}:80`, weight }));

describe('MaglevTable', () => {
  it('fills all 65537 slots by default, equal backends within one slot of each other', () => {
    const t = MaglevTable.build(servers(7));
    expect(t.tableSize).toBe(MAGLEV_DEFAULT_TABLE_SIZE);
    expect(t.entries.every((e) => e >= 0 && e < 7)).toBe(true);
    const counts = Array.from(t.counts());
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(65537);
  });

  it('gives a backend of weight 2 twice the slots of a backend of weight 1', () => {
    const t = MaglevTable.build([
      { name: 'a', weight: 1 },
      { name: 'b', weight: 2 },
    ]);
    const [a, b] = t.counts();
    expect(a + b).toBe(65537);
    expect(Math.abs(b - 2 * a)).toBeLessThanOrEqual(2);
    expect(Math.abs(a - 65537 / 3)).toBeLessThan(1);
  });

  it('sends hashes to entries[hash mod M], treating hashes as unsigned', () => {
    const t = MaglevTable.build(servers(3), { tableSize: 307 });
    for (const h of [0, 1, 306, 307, 12345, 0x7fffffff, 0xffffffff]) expect(t.lookup(h)).toBe(t.entries[h % 307]);
    expect(t.lookup(-1)).toBe(t.entries[0xffffffff % 307]);
  });

  it('handles no backend, one backend and only drained backends', () => {
    expect(MaglevTable.build([], { tableSize: 7 }).lookup(3)).toBe(-1);
    expect(Array.from(MaglevTable.build([{ name: 'x' }], { tableSize: 7 }).entries)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    const drained = MaglevTable.build([{ name: 'x', weight: 0 }], { tableSize: 7 });
    expect(Array.from(drained.entries)).toEqual([-1, -1, -1, -1, -1, -1, -1]);
  });

  it('drains a backend (weight 0) without changing other indices, and undrains back to the same table', () => {
    const t = MaglevTable.build(servers(4));
    const name = t.backends[1].name;
    const drained = t.withWeight(name, 0);
    expect(drained.backends.map((b) => b.name)).toEqual(t.backends.map((b) => b.name));
    expect(drained.counts()[1]).toBe(0);
    let kept = 0;
    for (let s = 0; s < t.tableSize; s++) if (t.entries[s] !== 1 && drained.entries[s] === t.entries[s]) kept++;
    const others = t.tableSize - t.counts()[1];
    expect(kept / others).toBeGreaterThan(0.99);
    expect(maglevDiff(drained.withWeight(name, 1), t)).toBe(0);
  });

  it('removing one of N ∈ {5, 10, 50, 100} backends from the default table moves its share plus under 1 % of the slots', () => {
    for (const n of [5, 10, 50, 100]) {
      const t = MaglevTable.build(servers(n));
      for (const victim of [0, n >> 1, n - 1]) {
        const owned = t.counts()[victim] / t.tableSize;
        const moved = maglevDiff(t, t.withBackendRemoved(t.backends[victim].name));
        expect(moved).toBeGreaterThanOrEqual(owned);
        expect(moved - owned, `N=${n} victim ${victim}`).toBeLessThan(0.01);
      }
    }
  });

  it('interleaves weighted turns, so removing or re-weighting one weighted backend moves little beyond its own share', () => {
    for (const weights of [[1, 2, 3, 4, 5], [1, 1, 1, 8], [10, 1, 1, 1, 1, 1, 1]]) {
      const t = MaglevTable.build(weights.map((weight, i) => ({ name: `198.18.0.${i}:80`, weight })));
      const m = t.tableSize;
      for (const [i, b] of t.backends.entries()) {
        const removed = t.withBackendRemoved(b.name);
        expect(maglevDiff(t, removed) - t.counts()[i] / m, `${weights} remove ${i}`).toBeLessThan(0.005);
        const heavier = t.withWeight(b.name, b.weight + 1);
        const gained = (heavier.counts()[i] - t.counts()[i]) / m;
        expect(maglevDiff(t, heavier) - gained, `${weights} reweight ${i}`).toBeLessThan(0.005);
      }
    }
  });

  it('keeps every slot of surviving backends that did not move when one is removed (diff counts by name)', () => {
    const t = MaglevTable.build(servers(5), { tableSize: 1009 });
    const u = t.withBackendRemoved(t.backends[0].name);
    let same = 0;
    for (let s = 0; s < 1009; s++) if (t.entries[s] > 0 && u.entries[s] === t.entries[s] - 1) same++;
    expect(maglevDiff(t, u)).toBeCloseTo(1 - same / 1009, 12);
    expect(maglevDiff(u, t)).toBeCloseTo(maglevDiff(t, u), 12);
    expect(maglevDiff(t, t)).toBe(0);
  });

  it('rejects bad sizes, names and weights', () => {
    expect(() => MaglevTable.build([], { tableSize: 65536 })).toThrow(InvalidArgumentError);
    expect(() => MaglevTable.build([], { tableSize: 1 })).toThrow(InvalidArgumentError);
    expect(() => MaglevTable.build([], { tableSize: 16777259 })).toThrow(InvalidArgumentError);
    expect(() => MaglevTable.build([{ name: '' }])).toThrow(InvalidArgumentError);
    expect(() => MaglevTable.build([{ name: 'a' }, { name: 'a' }])).toThrow(/repeated/);
    expect(() => MaglevTable.build([{ name: 'a', weight: 1.5 }])).toThrow(InvalidArgumentError);
    expect(() => MaglevTable.build([{ name: 'a', weight: -1 }])).toThrow(InvalidArgumentError);
    expect(() => MaglevTable.build([{ name: 'a', weight: 65536 }])).toThrow(InvalidArgumentError);
    expect(() => MaglevTable.build(servers(8), { tableSize: 7 })).toThrow(/cannot hold/);
    expect(() => MaglevTable.build(servers(2)).withBackendRemoved('nope')).toThrow(/no Maglev backend/);
    expect(() => MaglevTable.build(servers(2)).withBackendAdded(servers(1)[0])).toThrow(/repeated/);
    const small = MaglevTable.build(servers(2), { tableSize: 7 });
    expect(() => maglevDiff(small, MaglevTable.build(servers(2)))).toThrow(InvalidArgumentError);
  });

  it('maglevEntries gives the slots of MaglevTable.build, after the same checks', () => {
    for (const [list, m] of [
      [servers(7), MAGLEV_DEFAULT_TABLE_SIZE],
      [servers(12).map((b, i) => ({ ...b, weight: i % 4 })), 251],
      [servers(3, 0), 13],
      [[], 7],
    ] as const) {
      expect(maglevEntries(list, m)).toEqual(MaglevTable.build(list, { tableSize: m }).entries);
    }
    expect(maglevEntries(servers(3))).toEqual(MaglevTable.build(servers(3)).entries);
    expect(() => maglevEntries([], 65536)).toThrow(InvalidArgumentError);
    expect(() => maglevEntries([{ name: 'a' }, { name: 'a' }], 7)).toThrow(/repeated/);
    expect(() => maglevEntries(servers(8), 7)).toThrow(/cannot hold/);
  });

  it('builds a 1000-backend weighted table of 65537 slots quickly', () => {
    const start = performance.now();
    const t = MaglevTable.build(servers(1000).map((b, i) => ({ ...b, weight: 1 + (i % 5) })));
    expect(performance.now() - start).toBeLessThan(2000);
    expect(t.counts().reduce((a, b) => a + b, 0)).toBe(65537);
  });
});

describe('isPrime', () => {
  it('tells primes from composites', () => {
    const primes = [2, 3, 5, 7, 11, 13, 251, 65537, 655373, 2147483647];
    const composites = [0, 1, 4, 9, 25, 49, 65535, 65536, 1_000_001, 2147483649, 1.5, -7];
    for (const p of primes) expect(isPrime(p), String(p)).toBe(true);
    for (const c of composites) expect(isPrime(c), String(c)).toBe(false);
  });
});
