import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/image/canonical-json.ts';

describe('canonicalJson', () => {
  it('sorts keys, leaves out undefined properties, writes undefined array items as null', () => {
    expect(canonicalJson({ b: 1, a: [true, null, undefined, 'x'], c: undefined, d: { z: 0.5, y: -0 } })).toBe('{"a":[true,null,null,"x"],"b":1,"d":{"y":0,"z":0.5}}');
    expect(canonicalJson(Object.assign(Object.create(null), { k: 'v' }))).toBe('{"k":"v"}');
  });

  it('names the path of the first value that is not JSON data, in the order it writes', () => {
    const cases: [unknown, string][] = [
      [{ a: [1, { b: Number.NaN }] }, '$.a[1].b is NaN, not a finite number'],
      [{ x: new Map() }, '$.x is a Map, not plain data'],
      [{ y: [() => 1] }, '$.y[0] is a function, not JSON data'],
      [{ z: 1n, a: 1n }, '$.a is a bigint, not JSON data'],
      [{ arr: [undefined, Number.POSITIVE_INFINITY] }, '$.arr[1] is Infinity, not a finite number'],
      [Symbol('s'), '$ is a symbol, not JSON data'],
    ];
    for (const [value, message] of cases) expect(() => canonicalJson(value)).toThrow(expect.objectContaining({ code: 'NFVKIT_ERR_INVALID_ARGUMENT', message: `canonical JSON: ${message}` }));
  });

  it('a large manifest-like value reads back equal', () => {
    const big = { counters: Array.from({ length: 4251 }, (_, i) => ({ name: `rule_${i}_hits`, element: `fw${i % 13}/firewall`, drop: false, help: `packets that matched rule ${i}` })) };
    expect(JSON.parse(canonicalJson(big))).toEqual(big);
  });
});
