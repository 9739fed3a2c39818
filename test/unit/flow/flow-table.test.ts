import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { FLOW_NOT_FOUND, FlowTable, FlowTableStatus } from '../../../src/flow/flow-table.ts';
import { FlowKey, flowHashDirected } from '../../../src/packet/flow-key.ts';

type Key = [number, number, number, number, number];
const str = (k: Key) => k.join('/');

const keyArb = (ips: number, ports: number): fc.Arbitrary<Key> =>
  fc.tuple(
    fc.integer({ min: 0, max: ips - 1 }).map((i) => (0xc6120000 + i * 0x01000001) >>> 0),
    fc.constantFrom(0xc6130001, 0xffffffff, 0),
    fc.integer({ min: 0, max: ports - 1 }).map((p) => (p * 4099) & 0xffff),
    fc.constantFrom(80, 0, 65535),
    fc.constantFrom(6, 17, 1),
  );

type Cmd = { op: 'insert'; key: Key; value: number } | { op: 'delete'; key: Key } | { op: 'lookup'; key: Key };
const cmdArb = (ips: number, ports: number): fc.Arbitrary<Cmd> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('insert' as const), key: keyArb(ips, ports), value: fc.integer({ min: 0, max: 0xffffffff }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb(ips, ports) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('lookup' as const), key: keyArb(ips, ports) }) },
  );

function runAgainstOracle(capacity: number, cmds: Cmd[], seed?: number): void {
  const table = new FlowTable(capacity, seed);
  const oracle = new Map<string, number>();
  for (const c of cmds) {
    const s = str(c.key);
    if (c.op === 'insert') {
      const had = oracle.has(s);
      const status = table.insert(...c.key, c.value);
      if (had) expect(status).toBe(FlowTableStatus.UPDATED);
      else if (oracle.size >= capacity) expect(status).toBe(FlowTableStatus.FULL);
      else expect(status).toBe(FlowTableStatus.INSERTED);
      if (status !== FlowTableStatus.FULL) oracle.set(s, c.value);
    } else if (c.op === 'delete') {
      expect(table.delete(...c.key)).toBe(oracle.delete(s));
    } else {
      expect(table.lookup(...c.key)).toBe(oracle.get(s) ?? FLOW_NOT_FOUND);
    }
    expect(table.size).toBe(oracle.size);
  }
  for (const [s, v] of oracle) {
    const k = s.split('/').map(Number) as Key;
    const slot = table.find(...k);
    expect(slot).not.toBe(FLOW_NOT_FOUND);
    expect(table.value(slot)).toBe(v);
  }
}

describe('FlowTable', () => {
  it('behaves like a Map on random insert/delete/lookup sequences (small, often full)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.array(cmdArb(6, 6), { maxLength: 300 }), fc.integer(), (cap, cmds, seed) => {
        runAgainstOracle(cap, cmds, seed);
      }),
      { numRuns: 1500 },
    );
  });

  it('behaves like a Map on long sequences with heavy churn and clustering', () => {
    fc.assert(
      fc.property(fc.array(cmdArb(64, 64), { minLength: 2000, maxLength: 4000 }), (cmds) => {
        runAgainstOracle(1500, cmds);
      }),
      { numRuns: 20, endOnFailure: true },
    );
  });

  it('backward-shift delete keeps probe chains intact in clusters that collide and wrap around', () => {
    const t = new FlowTable(64, 7);
    const mask = t.slotCount - 1;
    const keys: Key[] = [];
    for (let i = 0; keys.length < 60; i++) {
      const k: Key = [i, 7, 1, 2, 6];
      const home = flowHashDirected(...k, 7) & mask;
      if (home === mask - 1 || home === mask || home === 1) keys.push(k);
    }
    keys.forEach((k, i) => expect(t.insert(...k, i)).toBe(FlowTableStatus.INSERTED));
    const alive = new Set(keys.map((_, i) => i));
    for (const i of [0, 1, 5, 2, 59, 30, 31, 17, 44, 3]) {
      expect(t.delete(...keys[i])).toBe(true);
      alive.delete(i);
      keys.forEach((k, j) => expect(t.lookup(...k)).toBe(alive.has(j) ? j : FLOW_NOT_FOUND));
    }
    expect(t.size).toBe(50);
  });

  it('is bounded: inserts fail with FULL, updates still work, a delete frees room', () => {
    const t = new FlowTable(3);
    expect(t.slotCount).toBe(8);
    for (let i = 0; i < 3; i++) expect(t.insert(i, 0, 0, 0, 6, i)).toBe(FlowTableStatus.INSERTED);
    expect(t.insert(9, 0, 0, 0, 6, 9)).toBe(FlowTableStatus.FULL);
    expect(t.lookup(9, 0, 0, 0, 6)).toBe(FLOW_NOT_FOUND);
    expect(t.insert(1, 0, 0, 0, 6, 42)).toBe(FlowTableStatus.UPDATED);
    expect(t.lookup(1, 0, 0, 0, 6)).toBe(42);
    expect(t.delete(0, 0, 0, 0, 6)).toBe(true);
    expect(t.insert(9, 0, 0, 0, 6, 9)).toBe(FlowTableStatus.INSERTED);
    t.clear();
    expect(t.size).toBe(0);
    expect(t.lookup(9, 0, 0, 0, 6)).toBe(FLOW_NOT_FOUND);
  });

  it('distinguishes keys that differ only in protocol, direction or port order', () => {
    const t = new FlowTable(16);
    t.insert(1, 2, 3, 4, 6, 10);
    t.insert(1, 2, 3, 4, 17, 11);
    t.insert(2, 1, 4, 3, 6, 12);
    t.insert(1, 2, 4, 3, 6, 13);
    expect([t.lookup(1, 2, 3, 4, 6), t.lookup(1, 2, 3, 4, 17), t.lookup(2, 1, 4, 3, 6), t.lookup(1, 2, 4, 3, 6)]).toEqual([10, 11, 12, 13]);
    const slot = t.find(1, 2, 3, 4, 17);
    t.setValue(slot, 0xffffffff);
    expect(t.lookup(1, 2, 3, 4, 17)).toBe(0xffffffff);
  });

  it('FlowKey variants and int32 address aliases name the same entries', () => {
    const t = new FlowTable(8);
    const key = new FlowKey(0xc6120001, 0xfffffffe, 40000, 443, 6);
    expect(t.insertKey(key, 5)).toBe(FlowTableStatus.INSERTED);
    expect(t.lookup(0xc6120001, 0xfffffffe, 40000, 443, 6)).toBe(5);
    expect(t.find(0xc6120001 | 0, 0xfffffffe | 0, 40000, 443, 6)).toBe(t.findKey(key));
    expect(t.insert(0xc6120001 | 0, -2, 40000, 443, 6, 6)).toBe(FlowTableStatus.UPDATED);
    expect(t.value(t.findKey(key))).toBe(6);
    key.reverse();
    expect(t.findKey(key)).toBe(FLOW_NOT_FOUND);
    expect(t.deleteKey(key)).toBe(false);
    key.reverse();
    expect(t.deleteKey(key)).toBe(true);
    expect(t.size).toBe(0);
  });

  it('findKey finds exactly what find finds, hits and misses, in a crowded table', () => {
    fc.assert(
      fc.property(fc.array(keyArb(40, 40), { minLength: 1, maxLength: 120 }), fc.array(keyArb(40, 40), { maxLength: 60 }), fc.integer(), (stored, probes, seed) => {
        const t = new FlowTable(128, seed);
        stored.forEach((k, i) => t.insert(...k, i));
        const key = new FlowKey();
        for (const k of [...stored, ...probes]) {
          key.set(...k);
          expect(t.findKey(key)).toBe(t.find(...k));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects a bad capacity at construction', () => {
    for (const bad of [0, -1, 1.5, 2 ** 24 + 1, Number.NaN]) expect(() => new FlowTable(bad)).toThrow(InvalidArgumentError);
  });
});
