import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIpv6,
  formatIpv6Prefix,
  ipv6EmbedsIpv4,
  ipv6FromBytes,
  ipv6HasHostBits,
  ipv6Mask,
  ipv6Network,
  ipv6Problem,
  ipv6ToBytes,
  parseIpv6,
  parseIpv6Prefix,
  type Ipv6Address,
} from '../../../src/packet/ipv6-address.ts';

const word = fc.nat({ max: 0xffffffff });
/** Random addresses, with many zero groups (runs to compress) and the mixed-notation prefixes. */
const address: fc.Arbitrary<Ipv6Address> = fc.oneof(
  fc.tuple(word, word, word, word),
  fc.tuple(...[0, 1, 2, 3].map(() => fc.oneof(fc.constant(0), fc.constant(0xffff), fc.constant(0xffff0000), fc.nat({ max: 0xffff }), word))) as unknown as fc.Arbitrary<[number, number, number, number]>,
  word.map((v4): Ipv6Address => [0, 0, 0xffff, v4]),
  word.map((v4): Ipv6Address => [0x0064ff9b, 0, 0, v4]),
);

/** WHATWG URL host serialisation: RFC 5952 compression, lower case, never mixed notation. */
function urlForm(text: string): string {
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

describe('IPv6 address text', () => {
  it('parses the RFC 4291 forms into four big-endian words', () => {
    expect(parseIpv6('2001:DB8:0:0:8:800:200C:417A')).toEqual([0x20010db8, 0, 0x00080800, 0x200c417a]);
    expect(parseIpv6('2001:db8::8:800:200c:417a')).toEqual([0x20010db8, 0, 0x00080800, 0x200c417a]);
    expect(parseIpv6('ff01::101')).toEqual([0xff010000, 0, 0, 0x101]);
    expect(parseIpv6('::1')).toEqual([0, 0, 0, 1]);
    expect(parseIpv6('::')).toEqual([0, 0, 0, 0]);
    expect(parseIpv6('1::')).toEqual([0x00010000, 0, 0, 0]);
    expect(parseIpv6('0:0:0:0:0:0:13.1.68.3')).toEqual([0, 0, 0, 0x0d014403]);
    expect(parseIpv6('::ffff:198.18.0.1')).toEqual([0, 0, 0xffff, 0xc6120001]);
    expect(parseIpv6('64:ff9b::198.18.0.1')).toEqual([0x0064ff9b, 0, 0, 0xc6120001]);
    expect(parseIpv6('1:2:3:4:5:6:7::')).toEqual([0x00010002, 0x00030004, 0x00050006, 0x00070000]);
    expect(parseIpv6('::2:3:4:5:6:7:8')).toEqual([0x00000002, 0x00030004, 0x00050006, 0x00070008]);
  });

  it('refuses what is not an address, saying why', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['fe80::1%eth0', /zone id "%eth0" not accepted/],
      ['[::1]', /brackets/],
      ['2001:db8::/32', /prefix length/],
      ['2001:db8:::1', /":::" is not a form/],
      ['1::2::3', /"::" may appear only once/],
      ['1:2:3:4:5:6:7', /7 groups; an address has 8/],
      ['1:2:3:4:5:6:7:8:9', /9 groups/],
      ['1:2:3:4::5:6:7:8', /at least one zero group/],
      ['12345::', /more than 4 hex digits/],
      ['g::1', /"g" is not a group/],
      [':1:2:3:4:5:6:7', /single ":"/],
      ['1:2:3:4:5:6:7:', /single ":"/],
      ['::1.2.3.256', /not a dotted-quad/],
      ['::01.2.3.4', /no leading zeros/],
      ['1.2.3.4::', /must come last/],
      ['::1.2.3.4:1', /must come last/],
      ['1:2:3:4:5:6:7:1.2.3.4', /9 groups|more/],
      ['198.18.0.1', /1 groups|8/],
      ['x'.repeat(60), /too long/],
    ];
    for (const [text, why] of cases) {
      expect(parseIpv6(text), text).toBeUndefined();
      expect(ipv6Problem(text), text).toMatch(why);
    }
    expect(ipv6Problem('::1')).toBeUndefined();
  });

  it('accepts exactly what Node accepts, zone ids aside', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.'.split('')), maxLength: 45 })), (text) => {
        expect(parseIpv6(text) !== undefined).toBe(isIPv6(text) && !text.includes('%'));
      }),
      { numRuns: 1500 },
    );
  });

  it('formats by every rule of RFC 5952', () => {
    // §4.1 leading zeros suppressed
    expect(formatIpv6(parseIpv6('2001:0db8:0000:0000:0000:0000:0000:0001')!)).toBe('2001:db8::1');
    // §4.2.1 "::" as long as possible
    expect(formatIpv6(parseIpv6('2001:db8:0:0:0:0:2:1')!)).toBe('2001:db8::2:1');
    // §4.2.2 never "::" for a single zero group
    expect(formatIpv6(parseIpv6('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1');
    // §4.2.3 the longest run, the first of equal runs
    expect(formatIpv6(parseIpv6('2001:0:0:1:0:0:0:1')!)).toBe('2001:0:0:1::1');
    expect(formatIpv6(parseIpv6('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    // §4.3 lower case
    expect(formatIpv6(parseIpv6('2001:DB8::AB:CD')!)).toBe('2001:db8::ab:cd');
    // §5 mixed notation only for well-known embedding prefixes
    expect(formatIpv6(parseIpv6('0:0:0:0:0:ffff:c612:1')!)).toBe('::ffff:198.18.0.1');
    expect(formatIpv6(parseIpv6('::ffff:0:c612:1')!)).toBe('::ffff:0:198.18.0.1');
    expect(formatIpv6(parseIpv6('64:ff9b::c612:1')!)).toBe('64:ff9b::198.18.0.1');
    expect(formatIpv6(parseIpv6('::1')!)).toBe('::1');
    expect(formatIpv6(parseIpv6('::c612:1')!)).toBe('::c612:1');
    expect(formatIpv6([0, 0, 0, 0])).toBe('::');
    expect(formatIpv6([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff])).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    expect(formatIpv6([0x00010000, 0, 0, 0])).toBe('1::');
    expect(formatIpv6([0x00640000, 0, 0, 0x00000001])).toBe('64::1');
  });

  it('round-trips random addresses, in the canonical form', () => {
    fc.assert(
      fc.property(address, (a) => {
        const text = formatIpv6(a);
        expect(parseIpv6(text)).toEqual(a);
        expect(text).toBe(text.toLowerCase());
        expect(text).not.toMatch(/(^|:)0[0-9a-f]/);
        expect(text.split('::').length).toBeLessThanOrEqual(2);
        if (!ipv6EmbedsIpv4(a)) expect(text).toBe(urlForm(text));
        else expect(text).toMatch(/\d+\.\d+\.\d+\.\d+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('formats any accepted text canonically: a fixed point, and what WHATWG URL writes', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const a = parseIpv6(text);
        expect(a).toBeDefined();
        const canonical = formatIpv6(a!);
        expect(formatIpv6(parseIpv6(canonical)!)).toBe(canonical);
        if (!ipv6EmbedsIpv4(a!)) expect(canonical).toBe(urlForm(text));
      }),
      { numRuns: 1500 },
    );
  });

  it('moves to and from the 16 bytes of a header field', () => {
    fc.assert(
      fc.property(address, (a) => {
        const bytes = ipv6ToBytes(a);
        expect(ipv6FromBytes(bytes)).toEqual(a);
        const padded = new Uint8Array(20);
        padded.set(bytes, 3);
        expect(ipv6FromBytes(padded, 3)).toEqual(a);
      }),
    );
    expect([...ipv6ToBytes(parseIpv6('2001:db8::1')!)]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });
});

describe('IPv6 prefixes', () => {
  it('parses addr/len keeping host bits, and tells whether any are set', () => {
    expect(parseIpv6Prefix('2001:db8::/32')).toEqual({ addr: [0x20010db8, 0, 0, 0], prefix: 32 });
    expect(parseIpv6Prefix('2001:db8::1')).toEqual({ addr: [0x20010db8, 0, 0, 1], prefix: 128 });
    expect(parseIpv6Prefix('::/0')).toEqual({ addr: [0, 0, 0, 0], prefix: 0 });
    const host = parseIpv6Prefix('2001:db8::1/64');
    expect(typeof host).toBe('object');
    if (typeof host === 'string') return;
    expect(ipv6HasHostBits(host.addr, host.prefix)).toBe(true);
    expect(ipv6Network(host.addr, host.prefix)).toEqual([0x20010db8, 0, 0, 0]);
    expect(ipv6HasHostBits([0x20010db8, 0, 0, 0], 32)).toBe(false);
    expect(formatIpv6Prefix({ addr: [0x20010db8, 0, 0, 0], prefix: 32 })).toBe('2001:db8::/32');
  });

  it('refuses bad lengths and bad addresses with the reason', () => {
    expect(parseIpv6Prefix('2001:db8::/129')).toBe('prefix length 129 out of range 0-128');
    expect(parseIpv6Prefix('2001:db8::/')).toMatch(/not a prefix length/);
    expect(parseIpv6Prefix('2001:db8::/3x')).toMatch(/not a prefix length/);
    expect(parseIpv6Prefix('2001:db8::/1/2')).toMatch(/not a prefix length/);
    expect(parseIpv6Prefix('2001:db8:::/32')).toMatch(/group/);
    expect(parseIpv6Prefix('fe80::%1/64')).toMatch(/zone id/);
  });

  it('builds masks bit by bit', () => {
    expect(ipv6Mask(0)).toEqual([0, 0, 0, 0]);
    expect(ipv6Mask(36)).toEqual([0xffffffff, 0xf0000000, 0, 0]);
    expect(ipv6Mask(128)).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 128 }), (len) => {
        const m = ipv6Mask(len);
        let ones = 0;
        for (const w of m) ones += w.toString(2).replace(/0/g, '').length;
        expect(ones).toBe(len);
        expect(ipv6HasHostBits(m, len)).toBe(false);
      }),
    );
  });
});
