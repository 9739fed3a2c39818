import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shardPortRange } from '../../../functions/nat/nat-engine.ts';

describe('NAT port shards', () => {
  it('cuts the range into disjoint slices that cover it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60000 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 64 }), (from, width, count) => {
        const to = Math.min(65535, from + width);
        const slices = Array.from({ length: count }, (_, index) => shardPortRange(from, to, { index, count }));
        if (to - from + 1 < count) return slices.every(([a, b]) => a === from && b === to);
        for (let i = 0; i < count; i++) {
          const [a, b] = slices[i];
          if (a > b) return false;
          if (i === 0 && a !== from) return false;
          if (i > 0 && a !== slices[i - 1][1] + 1) return false;
        }
        return slices[count - 1][1] === to;
      }),
    );
  });

  it('gives the whole range without a shard', () => {
    expect(shardPortRange(1024, 65535)).toEqual([1024, 65535]);
    expect(shardPortRange(1024, 65535, { index: 0, count: 1 })).toEqual([1024, 65535]);
    expect(shardPortRange(20000, 29999, { index: 1, count: 4 })).toEqual([22500, 24999]);
  });
});

describe('PortAllocator.restrict', () => {
  it('narrows a built allocator to a shard: every port handed out lies in it', async () => {
    const { PortAllocator, PORT_EXHAUSTED } = await import('../../../functions/nat/port-allocator.ts');
    const ports = new PortAllocator(1, [0], 20000, 29999);
    ports.restrict(22500, 24999);
    expect(ports.freePorts(0)).toBe(2500);
    const seen = new Set<number>();
    for (let i = 0; i < 2500; i++) {
      const key = ports.allocate(0, 0, i * 7919);
      expect(key).not.toBe(PORT_EXHAUSTED);
      ports.setOwner(key, i);
      const port = ports.portOf(key);
      expect(port >= 22500 && port <= 24999).toBe(true);
      seen.add(port);
    }
    expect(seen.size).toBe(2500);
    expect(ports.allocate(0, 0, 1)).toBe(PORT_EXHAUSTED);
    expect(() => ports.restrict(20000, 29999)).toThrow(/not inside/);
  });
});

describe('PortAllocator.restrict free counts', () => {
  it('leaves exactly the ports of the new range free, whatever the range', async () => {
    const { PortAllocator } = await import('../../../functions/nat/port-allocator.ts');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 3000 }), (x, y, da, db) => {
        const from = Math.min(x, y);
        const to = Math.max(x, y);
        const ports = new PortAllocator(1, [0], from, to);
        const a = Math.min(to, from + da);
        const b = Math.max(a, to - db);
        ports.restrict(a, b);
        return ports.freePorts(0) === b - a + 1 && ports.freePorts(1) === b - a + 1;
      }),
      { numRuns: 200 },
    );
  });
});
