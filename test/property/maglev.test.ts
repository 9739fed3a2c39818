import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MaglevTable, maglevDiff, type MaglevBackend } from '../../src/flow/maglev.ts';
import { isPrime, maglevPermutation } from '../../src/flow/maglev-permutation.ts';

function nextPrime(n: number): number {
  let p = n;
  while (!isPrime(p)) p++;
  return p;
}

function referencePseudocode1(names: string[], m: number): string[] {
  const perms = names.map((name) => {
    const { offset, skip } = maglevPermutation(name, m);
    return Array.from({ length: m }, (_, j) => (offset + j * skip) % m);
  });
  const next = names.map(() => 0);
  const entry: string[] = new Array<string>(m).fill('');
  let n = 0;
  for (;;) {
    for (let i = 0; i < names.length; i++) {
      let c = perms[i][next[i]];
      while (entry[c] !== '') c = perms[i][++next[i]];
      entry[c] = names[i];
      next[i]++;
      if (++n === m) return entry;
    }
  }
}

const namesArb = (min: number, max: number): fc.Arbitrary<string[]> =>
  fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: min, maxLength: max });

const sizedArb = (min: number, max: number) =>
  fc
    .tuple(namesArb(min, max), fc.integer({ min: 1, max: 100 }))
    .map(([names, extra]) => ({ names, m: nextPrime(100 * names.length + 1 + extra * names.length) }));

const byName = (t: MaglevTable): string[] => Array.from(t.entries, (i) => (i < 0 ? '' : t.backends[i].name));

describe('Maglev properties', () => {
  it('with equal weights equals the paper’s Pseudocode 1 taking turns in name order', () => {
    fc.assert(
      fc.property(namesArb(1, 12), fc.constantFrom(7, 13, 101, 251, 1009), (names, m) => {
        fc.pre(names.length <= m);
        const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(byName(MaglevTable.build(names.map((name) => ({ name })), { tableSize: m }))).toEqual(referencePseudocode1(sorted, m));
      }),
      { numRuns: 150 },
    );
  });

  it('permutations visit every slot once', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom(2, 3, 5, 97, 211), (name, m) => {
        const { offset, skip } = maglevPermutation(name, m);
        expect(offset).toBeGreaterThanOrEqual(0);
        expect(offset).toBeLessThan(m);
        expect(skip).toBeGreaterThanOrEqual(1);
        expect(skip).toBeLessThan(m);
        const seen = new Set(Array.from({ length: m }, (_, j) => (offset + j * skip) % m));
        expect(seen.size).toBe(m);
      }),
    );
  });

  it('with M > 100·N and equal weights no backend gets more than 1 % above its share', () => {
    fc.assert(
      fc.property(sizedArb(1, 40), ({ names, m }) => {
        const counts = MaglevTable.build(names.map((name) => ({ name })), { tableSize: m }).counts();
        const share = m / names.length;
        for (const c of counts) {
          expect(c).toBeLessThanOrEqual(share * 1.01);
          expect(c).toBeGreaterThanOrEqual(Math.floor(share));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('gives weighted backends ⌊share⌋ or ⌈share⌉ slots of M·w/Σw', () => {
    const arb = fc
      .tuple(sizedArb(1, 20), fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 20, maxLength: 20 }))
      .filter(([, w]) => w.some((x) => x > 0));
    fc.assert(
      fc.property(arb, ([{ names, m }, weights]) => {
        const backends: MaglevBackend[] = names.map((name, i) => ({ name, weight: weights[i] }));
        const total = backends.reduce((s, b) => s + (b.weight ?? 1), 0);
        fc.pre(total > 0);
        const counts = MaglevTable.build(backends, { tableSize: m }).counts();
        backends.forEach((b, i) => {
          const share = (m * (b.weight ?? 1)) / total;
          expect(counts[i]).toBeGreaterThanOrEqual(Math.floor(share));
          expect(counts[i]).toBeLessThanOrEqual(Math.ceil(share));
          if (share >= 100) expect(counts[i]).toBeLessThanOrEqual(share * 1.01);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('does not depend on the order of the backend list', () => {
    const arb = sizedArb(1, 20).chain(({ names, m }) =>
      fc.tuple(fc.constant(m), fc.shuffledSubarray(names.map((name, i) => ({ name, weight: 1 + (i % 3) })), { minLength: names.length, maxLength: names.length }), fc.constant(names)),
    );
    fc.assert(
      fc.property(arb, ([m, shuffled, names]) => {
        const a = MaglevTable.build(names.map((name, i) => ({ name, weight: 1 + (i % 3) })), { tableSize: m });
        const b = MaglevTable.build(shuffled, { tableSize: m });
        expect(byName(b)).toEqual(byName(a));
        expect(maglevDiff(a, b)).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  // Margins. The removed (added) backend's own share must move; anything more is the extra
  // churn of Maglev's permutations (not minimal disruption; the paper shows it shrinking
  // as M grows). Measured with these generators: M = 65537, N ≤ 64, 8000 cases: extra mean 0.2 %,
  // p99.9 ≈ 1 %, max 3.1 % → bound 5 % per case. M just above 100·N, 20000 cases: mean
  // 1.7–2.0 %, but a heavy tail (two backends drawing the same skip walk their slots in
  // lockstep; max 36 %) → bound the mean of 100 cases by 4 %.
  const defaultSizeArb = fc.tuple(namesArb(2, 64), fc.nat());
  /**
   * Maglev's small-disruption bound holds for backends whose permutations differ: two
   * backends with the same skip walk the table as shifts of one another, and removing or
   * adding a third reshuffles their slots wholesale (seen: 3 backends, 22 % moved beyond the
   * victim's share). Such a pair is rare (about N² / 2M) and left out of these two properties.
   */
  const distinctSkips = (names: readonly string[], m: number): boolean => new Set(names.map((n) => maglevPermutation(n, m).skip)).size === names.length;

  it('removing one of N backends from the default table moves its own share plus at most 5 % of M', () => {
    fc.assert(
      fc.property(defaultSizeArb, ([names, pick]) => {
        const t = MaglevTable.build(names.map((name) => ({ name })));
        const m = t.tableSize;
        fc.pre(distinctSkips(names, m));
        const victim = names[pick % names.length];
        const owned = t.counts()[t.indexOf(victim)] / m;
        const u = t.withBackendRemoved(victim);
        const moved = maglevDiff(t, u);
        expect(owned).toBeLessThanOrEqual(Math.ceil(m / names.length) / m);
        expect(moved).toBeGreaterThanOrEqual(owned);
        expect(moved - owned).toBeLessThanOrEqual(0.05);
      }),
      { numRuns: 25 },
    );
  });

  it('adding a backend to the default table moves its new share plus at most 5 % of M; adding a removed one back restores the table', () => {
    fc.assert(
      fc.property(defaultSizeArb, ([names, pick]) => {
        const full = MaglevTable.build(names.map((name) => ({ name })));
        const m = full.tableSize;
        fc.pre(distinctSkips(names, m));
        const victim = names[pick % names.length];
        const without = full.withBackendRemoved(victim);
        const back = without.withBackendAdded({ name: victim });
        expect(byName(back)).toEqual(byName(full));
        const gained = back.counts()[back.indexOf(victim)] / m;
        const moved = maglevDiff(without, back);
        expect(moved).toBeGreaterThanOrEqual(gained);
        expect(moved - gained).toBeLessThanOrEqual(0.05);
      }),
      { numRuns: 25 },
    );
  });

  it('with M just above 100·N, removing or adding one backend moves on average its share plus under 4 % of M', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(sizedArb(2, 30), fc.nat()), { minLength: 100, maxLength: 100 }), (cases) => {
        let extraRemove = 0;
        let extraAdd = 0;
        for (const [{ names, m }, pick] of cases) {
          const t = MaglevTable.build(names.map((name) => ({ name })), { tableSize: m });
          const victim = names[pick % names.length];
          const u = t.withBackendRemoved(victim);
          const removedShare = t.counts()[t.indexOf(victim)] / m;
          expect(maglevDiff(t, u)).toBeGreaterThanOrEqual(removedShare);
          extraRemove += maglevDiff(t, u) - removedShare;
          const a = t.withBackendAdded({ name: 'newcomer-backend' });
          extraAdd += maglevDiff(t, a) - a.counts()[names.length] / m;
        }
        expect(extraRemove / cases.length).toBeLessThanOrEqual(0.04);
        expect(extraAdd / cases.length).toBeLessThanOrEqual(0.04);
      }),
      { numRuns: 8 },
    );
  });

  it('draining (weight 0) gives the slots removing would, and undraining restores the table', () => {
    fc.assert(
      fc.property(sizedArb(2, 20), fc.nat(), ({ names, m }, pick) => {
        const t = MaglevTable.build(names.map((name) => ({ name })), { tableSize: m });
        const victim = names[pick % names.length];
        const drained = t.withWeight(victim, 0);
        expect(drained.counts()[t.indexOf(victim)]).toBe(0);
        expect(maglevDiff(drained, t.withBackendRemoved(victim))).toBe(0);
        expect(byName(drained.withWeight(victim, 1))).toEqual(byName(t));
      }),
      { numRuns: 40 },
    );
  });
});
