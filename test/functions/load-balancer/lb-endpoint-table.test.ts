import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EndpointTable } from '../../../functions/load-balancer/endpoint-table.ts';

const endpoint = fc.record({ proto: fc.constantFrom(6, 17), addr: fc.integer({ min: 0, max: 0xffffffff }), port: fc.integer({ min: 0, max: 0xffff }) });
const word = fc.oneof(fc.constantFrom(0, 1, 0x20010db8, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
/** An endpoint of either family; IPv6 words drawn from a few values, so equal addresses and prefixes happen. */
const endpoint46 = fc.record({
  family: fc.constantFrom(4, 6),
  proto: fc.constantFrom(6, 17),
  words: fc.tuple(word, word, word, word),
  port: fc.constantFrom(0, 80, 443, 0xffff),
});

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

  it('keeps IPv4 and IPv6 endpoints apart and finds each like a Map keyed by family (property)', () => {
    fc.assert(
      fc.property(fc.array(endpoint46, { maxLength: 200 }), fc.array(endpoint46, { maxLength: 100 }), (added, probes) => {
        const table = new EndpointTable(added.length);
        const oracle = new Map<string, number>();
        const key = (e: (typeof added)[number]) => (e.family === 4 ? `4/${e.proto}/${e.words[0]}/${e.port}` : `6/${e.proto}/${e.words.join(',')}/${e.port}`);
        const find = (e: (typeof added)[number]) => (e.family === 4 ? table.find(e.proto, e.words[0], e.port) : table.find6(e.proto, e.words[0], e.words[1], e.words[2], e.words[3], e.port));
        added.forEach((e, i) => {
          const had = oracle.has(key(e));
          const ok = e.family === 4 ? table.add(e.proto, e.words[0], e.port, i) : table.add6(e.proto, e.words[0], e.words[1], e.words[2], e.words[3], e.port, i);
          expect(ok).toBe(!had);
          if (!had) oracle.set(key(e), i);
        });
        for (const e of [...added, ...probes]) expect(find(e)).toBe(oracle.get(key(e)) ?? -1);
      }),
      { numRuns: 200, seed: 17 },
    );
  });

  it('an IPv6 address whose words are an IPv4 address and zeros is not that IPv4 endpoint', () => {
    const table = new EndpointTable(2);
    table.add(6, 0xc6120064, 80, 0);
    table.add6(6, 0x20010db8, 0, 0, 0x100, 80, 1);
    expect(table.find6(6, 0xc6120064, 0, 0, 0, 80)).toBe(-1);
    expect(table.find(6, 0x20010db8, 80)).toBe(-1);
    expect(table.find6(6, 0x20010db8, 0, 0, 0x100, 80)).toBe(1);
    expect(table.find6(17, 0x20010db8, 0, 0, 0x100, 80)).toBe(-1);
  });
});
