import { describe, expect, it } from 'vitest';
import { MAPPING_MISS, MAPPING_PORTS_EXHAUSTED, MAPPING_TABLE_FULL, NatMappingTable } from '../../../functions/nat/mapping-table.ts';
import { NatProto } from '../../../functions/nat/nat-proto.ts';
import { PORT_EXHAUSTED, PortAllocator } from '../../../functions/nat/port-allocator.ts';

const EXT = [0xc6126401, 0xc6126402];

function table(from: number, to: number, capacity: number): { ports: PortAllocator; t: NatMappingTable } {
  const ports = new PortAllocator(2, [0, 1], from, to);
  const t = new NatMappingTable(ports, { capacity, staticCapacity: 1, timeoutsMs: [10, 100, 30, 20], externalAddresses: EXT, seed: 7 });
  return { ports, t };
}

describe('nat: port allocator', () => {
  it('hands out every port of the range exactly once per protocol, then reports exhaustion', () => {
    const ports = new PortAllocator(1, [0], 40000, 40099);
    const seen = new Set<number>();
    for (let k = 0; k < 100; k++) {
      const key = ports.allocate(NatProto.UDP, 0, Math.imul(k + 1, 0x9e3779b1));
      expect(key).not.toBe(PORT_EXHAUSTED);
      ports.setOwner(key, k);
      seen.add(ports.portOf(key));
    }
    expect(seen.size).toBe(100);
    expect(Math.min(...seen)).toBe(40000);
    expect(Math.max(...seen)).toBe(40099);
    expect(ports.allocate(NatProto.UDP, 0, 5)).toBe(PORT_EXHAUSTED);
    expect(ports.freePorts(NatProto.TCP)).toBe(100);
    ports.release(ports.key(NatProto.UDP, 0, 40077));
    expect(ports.portOf(ports.allocate(NatProto.UDP, 0, 123))).toBe(40077);
  });

  it('never hands out a reserved port', () => {
    const ports = new PortAllocator(1, [0], 1000, 1002);
    expect(ports.reserve(ports.key(NatProto.TCP, 0, 1001), 0)).toBe(true);
    expect(ports.reserve(ports.key(NatProto.TCP, 0, 1001), 1)).toBe(false);
    const got = [ports.allocate(NatProto.TCP, 0, 1), ports.allocate(NatProto.TCP, 0, 1)].map((k) => ports.portOf(k)).sort();
    expect(got).toEqual([1000, 1002]);
    expect(ports.allocate(NatProto.TCP, 0, 1)).toBe(PORT_EXHAUSTED);
  });
});

describe('nat: mapping table', () => {
  it('reclaims an expired mapping of the same protocol when ports run out, even before a sweep', () => {
    const { t } = table(500, 500, 16);
    const a = t.create(NatProto.UDP, 1, 1, 0);
    const b = t.create(NatProto.UDP, 1, 2, 0);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThanOrEqual(0);
    expect(t.extAddrOf(a)).not.toBe(t.extAddrOf(b));
    expect(t.create(NatProto.UDP, 1, 3, 29)).toBe(MAPPING_PORTS_EXHAUSTED);
    expect(t.create(NatProto.TCP, 1, 3, 29)).toBeGreaterThanOrEqual(0);
    t.touch(b, 2, 10);
    const c = t.create(NatProto.UDP, 1, 3, 30);
    expect(c).toBeGreaterThanOrEqual(0);
    expect(t.lookup(NatProto.UDP, 1, 1)).toBe(MAPPING_MISS);
    expect(t.lookup(NatProto.UDP, 1, 2)).toBe(b);
    expect(t.extAddrOf(c)).toBe(EXT.find((x) => x !== t.extAddrOf(b)));
    expect(t.takeExpiredCount()).toBe(1);
  });

  it('reclaims the earliest expired mapping when the table is full, and refuses while all are live', () => {
    const { t } = table(500, 600, 2);
    t.create(NatProto.ICMP, 1, 1, 0);
    t.create(NatProto.TCP, 1, 1, 5);
    expect(t.create(NatProto.UDP, 1, 1, 9)).toBe(MAPPING_TABLE_FULL);
    expect(t.create(NatProto.UDP, 1, 1, 14)).toBe(MAPPING_TABLE_FULL);
    expect(t.create(NatProto.UDP, 1, 1, 15)).toBeGreaterThanOrEqual(0);
    expect(t.lookup(NatProto.TCP, 1, 1)).toBe(MAPPING_MISS);
    expect(t.lookup(NatProto.ICMP, 1, 1)).toBeGreaterThanOrEqual(0);
    expect(t.size).toBe(2);
  });

  it('expires in order across refreshes, exactly T after the last packet, and keeps lookups right under churn', () => {
    const ports = new PortAllocator(1, [0], 1024, 65535);
    const T = 30_000;
    const t = new NatMappingTable(ports, { capacity: 4096, staticCapacity: 0, timeoutsMs: [T, T, T, T], externalAddresses: [EXT[0]], seed: 3 });
    const last = new Map<number, number>();
    let now = 0;
    for (let round = 0; round < 20_000; round++) {
      now += 5;
      const r = Math.imul(round, 2654435761) >>> 16;
      const port = (r & 1) === 0 ? r % 16 : r % 3000;
      const e = t.lookup(NatProto.UDP, 9, port);
      if (e === MAPPING_MISS || t.isExpired(e, now)) {
        if (e !== MAPPING_MISS) t.remove(e);
        expect(t.create(NatProto.UDP, 9, port, now)).toBeGreaterThanOrEqual(0);
      } else {
        t.touch(e, 2, now);
      }
      last.set(port, now);
      t.expire(now, 8);
      for (const [p, at] of last) if (at + T <= now) last.delete(p);
      expect(t.nextExpiry()).toBeGreaterThan(now);
    }
    expect(t.size).toBe(last.size);
    for (const [p, at] of last) {
      const e = t.lookup(NatProto.UDP, 9, p);
      expect(e).toBeGreaterThanOrEqual(0);
      expect(t.expiresOf(e)).toBe(at + T);
    }
  });

  it('an empty table writes nothing into the zeroed records it is given; a successor counts their never-used entries neither adopted nor rejected', () => {
    const made = () => new NatMappingTable(new PortAllocator(1, [0], 1024, 2047), { capacity: 64, staticCapacity: 0, timeoutsMs: [1000, 1000, 1000, 1000], externalAddresses: [EXT[0]], seed: 5 });
    const bytes = NatMappingTable.recordBytes(64, 0);
    const marked = new Uint8Array(bytes).fill(0xab);
    expect(made().attach(marked, undefined, 0, 0)).toEqual({ adopted: 0, rejected: 0 });
    expect(marked.every((b) => b === 0xab)).toBe(true);
    // Attached empty to zeroed records, then used: a successor takes over exactly the live mappings.
    const records = new Uint8Array(bytes);
    const a = made();
    a.attach(records, undefined, 0, 0);
    const ext = [1, 2, 3].map((port) => a.extPortOf(a.create(NatProto.UDP, 0x0a000001, port, 10)));
    a.remove(a.lookup(NatProto.UDP, 0x0a000001, 2));
    const b = made();
    expect(b.attach(new Uint8Array(bytes), records, 0, 20)).toEqual({ adopted: 2, rejected: 0 });
    expect([1, 3].map((port) => b.extPortOf(b.lookup(NatProto.UDP, 0x0a000001, port)))).toEqual([ext[0], ext[2]]);
    expect(b.lookup(NatProto.UDP, 0x0a000001, 2)).toBe(MAPPING_MISS);
    // A table holding a mapping when attached copies its records over whatever was there.
    const early = made();
    early.create(NatProto.TCP, 0x0a000002, 80, 10);
    const dirty = new Uint8Array(bytes).fill(0xab);
    early.attach(dirty, undefined, 0, 0);
    expect(made().attach(new Uint8Array(bytes), dirty, 0, 20)).toEqual({ adopted: 1, rejected: 0 });
  });
});
