import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EndpointTable } from '../../../functions/load-balancer/endpoint-table.ts';

const endpoint = fc.record({ proto: fc.constantFrom(6, 17), addr: fc.integer({ min: 0, max: 0xffffffff }), port: fc.integer({ min: 0, max: 0xffff }) });

describe('EndpointTable', () => {
  it('finds exactly what was added, like a Map (property)', () => {
    fc.assert(
      fc.property(fc.array(endpoint, { maxLength: 300 }), fc.array(endpoint, { maxLength: 100 }), (added, probes) => {
        const table = new EndpointTable(added.length);
        const oracle = new Map<string, number>();
        added.forEach((e, i) => {
          const key = `${e.proto}/${e.addr}/${e.port}`;
          expect(table.add(e.proto, e.addr, e.port, i)).toBe(!oracle.has(key));
          if (!oracle.has(key)) oracle.set(key, i);
        });
        expect(table.size).toBe(oracle.size);
        for (const e of [...added, ...probes]) expect(table.find(e.proto, e.addr, e.port)).toBe(oracle.get(`${e.proto}/${e.addr}/${e.port}`) ?? -1);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('refuses entries beyond its sizing instead of degrading', () => {
    const table = new EndpointTable(2);
    let accepted = 0;
    for (let i = 0; i < 20; i++) if (table.add(6, 0xc6120000 + i, 80, i)) accepted++;
    expect(accepted).toBe(4);
    expect(table.find(6, 0xc6120003, 80)).toBe(3);
    expect(table.find(6, 0xc6120010, 80)).toBe(-1);
  });
});
