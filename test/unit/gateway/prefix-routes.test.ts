import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixMask, type Cidr } from '../../../src/config/net-schemas.ts';
import { parseGatewayAddress } from '../../../src/gateway/gateway-config.ts';
import { PrefixRoutes } from '../../../src/gateway/prefix-routes.ts';
import { parseIpv6 } from '../../../src/packet/ipv6-address.ts';
import { cidr, ip } from './support.ts';

describe('PrefixRoutes', () => {
  it('finds the longest matching prefix, like a brute-force scan', () => {
    const cidrArb = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 8, max: 32 })).map(([low, prefix]): Cidr => {
      const mask = prefixMask(prefix);
      return { addr: ((0xc6120000 | low) & mask) >>> 0, prefix, mask };
    });
    fc.assert(
      fc.property(fc.array(fc.array(cidrArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 20, maxLength: 40 }), (peers, lows) => {
        const routes = PrefixRoutes.ipv4(peers, [parseGatewayAddress('198.18.0.1/16')!]);
        const inside = peers.flat().flatMap((c, i) => [c.addr, (c.addr | (lows[i % lows.length] & ~c.mask)) >>> 0]);
        for (const addr of [...lows.map((low) => (0xc6120000 | low) >>> 0), ...inside]) {
          let best = -1;
          peers.forEach((subnets) => subnets.forEach((c) => {
            if (((addr & c.mask) >>> 0) === c.addr && c.prefix > best) best = c.prefix;
          }));
          const r = routes.lookup(addr);
          if (best < 0) expect(r).toBe(-1);
          else {
            const peer = routes.peerOf(r);
            expect(peers[peer].some((c) => c.prefix === best && ((addr & c.mask) >>> 0) === c.addr)).toBe(true);
          }
        }
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('groups equal prefixes of several peers, answers peerCovers, and picks the ARP source per subnet', () => {
    const gw = ['198.18.1.1/24', '198.18.2.1/24'].map((s) => parseGatewayAddress(s)!);
    const routes = PrefixRoutes.ipv4([[cidr('198.18.1.0/24')], [cidr('198.18.2.0/24')], [cidr('198.18.2.0/24'), cidr('198.18.7.0/24')]], gw);
    const r = routes.lookup(ip('198.18.2.9'));
    expect(routes.groupEnd(r) - r).toBe(2);
    expect([routes.peerOf(r), routes.peerOf(r + 1)]).toEqual([1, 2]);
    expect(routes.sourceOf(r)).toBe(ip('198.18.2.1'));
    expect(routes.sourceOf(routes.lookup(ip('198.18.7.7')))).toBe(ip('198.18.1.1'));
    expect(routes.peerCovers(2, ip('198.18.7.200'))).toBe(true);
    expect(routes.peerCovers(1, ip('198.18.7.200'))).toBe(false);
    expect(routes.lookup(ip('198.19.0.1'))).toBe(-1);
  });

  it('routes IPv6 by longest prefix over four words with the same body, and picks the source per subnet', () => {
    const p6 = (text: string) => {
      const [a, p] = text.split('/');
      return { words: [...parseIpv6(a)!], prefix: Number(p) };
    };
    const routes = new PrefixRoutes([[p6('2001:db8:1::/64')], [p6('2001:db8::/32')], [p6('2001:db8:1:0:8000::/65')]], [p6('2001:db8:1::1/64'), p6('2001:db8:2::1/64')], 4);
    const at = (text: string) => routes.lookup(...(parseIpv6(text)! as unknown as [number, number, number, number]));
    expect(routes.peerOf(at('2001:db8:1::9'))).toBe(0);
    expect(routes.peerOf(at('2001:db8:1:0:8000::9'))).toBe(2);
    expect(routes.peerOf(at('2001:db8:7::9'))).toBe(1);
    expect(at('2001:db9::1')).toBe(-1);
    const r = at('2001:db8:1::9');
    expect([0, 1, 2, 3].map((i) => routes.sourceOf(r, i))).toEqual([...parseIpv6('2001:db8:1::1')!]);
    expect([0, 1, 2, 3].map((i) => routes.sourceOf(at('2001:db8:7::9'), i))).toEqual([...parseIpv6('2001:db8:1::1')!]);
    expect(routes.peerCovers(1, ...(parseIpv6('2001:db8:ffff::1')! as unknown as [number, number, number, number]))).toBe(true);
    expect(routes.peerCovers(0, ...(parseIpv6('2001:db8:2::1')! as unknown as [number, number, number, number]))).toBe(false);
  });
});
