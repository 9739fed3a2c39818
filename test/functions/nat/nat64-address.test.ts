import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NAT64_CANONICAL, NAT64_NOT_CANONICAL, NAT64_OUTSIDE, NAT64_PREFIX_LENGTHS, nat64EmbedWords, nat64Prefix, nat64ExtractWords, type Nat64Prefix } from '../../../functions/nat/nat64-address.ts';
import { parseIpv6, parseIpv6Prefix } from '../../../src/packet/ipv6-address.ts';
import { ip } from './nat-harness.ts';

const prefix = (text: string): Nat64Prefix => {
  const p = parseIpv6Prefix(text);
  if (typeof p === 'string') throw new Error(p);
  return nat64Prefix(p.addr, p.prefix);
};
const v6 = (text: string): number[] => [...(parseIpv6(text) ?? [])];

const at = (words: readonly number[]): DataView => {
  const v = new DataView(new ArrayBuffer(16));
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0));
  return v;
};

describe('nat64: RFC 6052 address mapping', () => {
  // RFC 6052 §2.4, the table of examples: 192.0.2.33 in each prefix length.
  const TABLE: Array<[string, string]> = [
    ['2001:db8::/32', '2001:db8:c000:221::'],
    ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
    ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
    ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
    ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100:0'],
    ['2001:db8:122:344::/96', '2001:db8:122:344::192.0.2.33'],
    ['64:ff9b::/96', '64:ff9b::192.0.2.33'],
  ];
  for (const [p, embedded] of TABLE) {
    it(`${p}: 192.0.2.33 ↔ ${embedded}`, () => {
      const np = prefix(p);
      expect(nat64EmbedWords(np, ip('192.0.2.33'))).toEqual(v6(embedded));
      expect(nat64ExtractWords(np, v6(embedded))).toBe(ip('192.0.2.33'));
      expect(np.match(at(v6(embedded)), 0)).toBe(NAT64_CANONICAL);
    });
  }

  it('refuses to extract from an address outside the prefix or with a non-zero u octet or suffix', () => {
    const p48 = prefix('2001:db8:122::/48');
    expect(p48.match(at(v6('2001:db8:123:c000:2:2100::')), 0)).toBe(NAT64_OUTSIDE);
    expect(p48.match(at(v6('2001:db8:122:c000:2:2100::1')), 0)).toBe(NAT64_NOT_CANONICAL);
    expect(p48.match(at(v6('2001:db8:122:c000:102:2100::')), 0)).toBe(NAT64_NOT_CANONICAL); // u octet 0x01
    expect(nat64ExtractWords(p48, v6('2001:db8:122:c000:2:2100::1'))).toBe(-1);
    const wkp = prefix('64:ff9b::/96');
    expect(wkp.match(at(v6('64:ff9b:1::192.0.2.33')), 0)).toBe(NAT64_OUTSIDE);
    expect(wkp.match(at(v6('2001:db8::192.0.2.33')), 0)).toBe(NAT64_OUTSIDE);
  });

  it('refuses a length RFC 6052 does not define', () => {
    expect(() => nat64Prefix([0x20010db8, 0, 0, 0], 80)).toThrow(/RFC 6052/);
  });

  it('embed then extract gives the IPv4 address back, for every prefix length (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...NAT64_PREFIX_LENGTHS), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 0xffffffff }), (len, words, v4) => {
        words[2] &= len === 96 ? 0x00ffffff : 0xffffffff; // bits 64-71 of a /96 must be zero
        const p = nat64Prefix(words, len);
        const e = nat64EmbedWords(p, v4);
        expect(e[2] >>> 24).toBe(0); // byte 8: the u octet (or, in a /96, prefix bits that must be zero)
        expect(p.match(at(e), 0)).toBe(NAT64_CANONICAL);
        expect(nat64ExtractWords(p, e)).toBe(v4 >>> 0);
      }),
      { numRuns: 300 },
    );
  });
});
