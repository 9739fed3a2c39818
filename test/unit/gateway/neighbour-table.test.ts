import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NeighbourState, NeighbourTable } from '../../../src/gateway/neighbour-table.ts';

type Op = { kind: 'add'; ip: number } | { kind: 'del'; ip: number } | { kind: 'hold'; ip: number; handle: number };

describe('NeighbourTable', () => {
  it('agrees with a Map model over random adds, removes and holds (backward-shift deletion keeps every key findable)', () => {
    const ipArb = fc.integer({ min: 0, max: 40 }).map((i) => (0xc6120000 + i * 4099) >>> 0);
    const opArb = fc.oneof(
      ipArb.map((ip): Op => ({ kind: 'add', ip })),
      ipArb.map((ip): Op => ({ kind: 'del', ip })),
      fc.tuple(ipArb, fc.nat(1000)).map(([ip, handle]): Op => ({ kind: 'hold', ip, handle })),
    );
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 50, maxLength: 300 }), (ops) => {
        const t = new NeighbourTable(16, 4, 3);
        const model = new Map<number, number[]>();
        const out = new Uint32Array(16);
        for (const op of ops) {
          const s = t.find(op.ip, 0, 0, 0);
          expect(s >= 0).toBe(model.has(op.ip));
          if (op.kind === 'add' && s < 0) {
            const got = t.insertIncomplete(op.ip, 0, 0, 0, 0);
            if (model.size >= 15) expect(got).toBe(-1);
            else model.set(op.ip, []);
          } else if (op.kind === 'del' && s >= 0) {
            const n = t.takePending(s, out);
            expect(Array.from(out.subarray(0, n))).toEqual(model.get(op.ip));
            t.remove(s);
            model.delete(op.ip);
          } else if (op.kind === 'hold' && s >= 0) {
            const held = model.get(op.ip)!;
            const queuesInUse = [...model.values()].filter((h) => h.length > 0).length;
            const ok = t.hold(s, op.handle);
            const expected = held.length < 3 && (held.length > 0 || queuesInUse < 4);
            expect(ok).toBe(expected);
            if (ok) held.push(op.handle);
          }
          expect(t.count).toBe(model.size);
        }
        for (const [ipv4, held] of model) {
          const s = t.find(ipv4, 0, 0, 0);
          expect(t.state[s]).toBe(NeighbourState.INCOMPLETE);
          expect(t.heldFor(s)).toBe(held.length);
        }
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('keeps MAC, peer and times per entry and refuses to remove an entry that still holds frames', () => {
    const t = new NeighbourTable(8, 2, 2);
    const s = t.insertReachable(0xc6120202, 0, 0, 0, 0x0200, 0xdeadbeef, 3, 12.5);
    expect([t.macHi[s], t.macLo[s], t.peer[s], t.seenAt[s], t.state[s]]).toEqual([0x0200, 0xdeadbeef, 3, 12.5, NeighbourState.REACHABLE]);
    const u = t.insertIncomplete(0xc6120203, 0, 0, 0, 1);
    expect(t.hold(u, 9)).toBe(true);
    expect(() => t.remove(u)).toThrow(/still holds frames/);
    expect(() => new NeighbourTable(12)).toThrow(/power of two/);
  });

  it('keys IPv6 neighbours on all four words with the same body (width 4): addresses differing in one word are distinct', () => {
    const keyArb = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 5 })).map(([word, v]) => {
      const k = [0x20010db8, 0, 0, 1];
      k[word] = (k[word] + v * 0x10001) >>> 0;
      return k;
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), keyArb), { minLength: 30, maxLength: 200 }), (ops) => {
        const t = new NeighbourTable(32, 4, 2, 4);
        const model = new Map<string, number>();
        for (const [add, k] of ops) {
          const s = t.find(k[0], k[1], k[2], k[3]);
          expect(s >= 0).toBe(model.has(k.join()));
          if (add && s < 0) {
            const got = t.insertReachable(k[0], k[1], k[2], k[3], 0x0200, model.size, 1, 0);
            expect(got).toBeGreaterThanOrEqual(0);
            expect(Array.from(t.key.subarray(got * 4, got * 4 + 4))).toEqual(k);
            model.set(k.join(), model.size);
          } else if (!add && s >= 0) {
            t.remove(s);
            model.delete(k.join());
          }
          expect(t.count).toBe(model.size);
        }
        for (const key of model.keys()) {
          const k = key.split(',').map(Number);
          expect(t.state[t.find(k[0], k[1], k[2], k[3])]).toBe(NeighbourState.REACHABLE);
        }
      }),
      { numRuns: 200, seed: 8 },
    );
    expect(() => new NeighbourTable(8, 1, 1, 2 as 4)).toThrow(/key width/);
  });
});
