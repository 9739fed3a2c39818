import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixMask, type Cidr } from '../../../src/config/net-schemas.ts';
import { parseGatewayAddress } from '../../../src/gateway/gateway-config.ts';
import { PrefixRoutes } from '../../../src/gateway/prefix-routes.ts';
import { cidr, ip } from './support.ts';

describe('PrefixRoutes', () => {
  it('finds the longest matching prefix, like a brute-force scan', () => {
    const cidrArb = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 8, max: 32 })).map(([low, prefix]): Cidr => {
      const mask = prefixMask(prefix);
      return { addr: ((0xc6120000 | low) & mask) >>> 0, prefix, mask };
    });
    fc.assert(
      fc.property(fc.array(fc.array(cidrArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 20, maxLength: 40 }), (peers, lows) => {
        const routes = new PrefixRoutes(peers, [parseGatewayAddress('198.18.0.1/16')!]);
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
    const routes = new PrefixRoutes([[cidr('198.18.1.0/24')], [cidr('198.18.2.0/24')], [cidr('198.18.2.0/24'), cidr('198.18.7.0/24')]], gw);
    const r = routes.lookup(ip('198.18.2.9'));
    expect(routes.groupEnd(r) - r).toBe(2);
    expect([routes.peerOf(r), routes.peerOf(r + 1)]).toEqual([1, 2]);
    expect(routes.sourceOf(r)).toBe(ip('198.18.2.1'));
    expect(routes.sourceOf(routes.lookup(ip('198.18.7.7')))).toBe(ip('198.18.1.1'));
    expect(routes.peerCovers(2, ip('198.18.7.200'))).toBe(true);
    expect(routes.peerCovers(1, ip('198.18.7.200'))).toBe(false);
    expect(routes.lookup(ip('198.19.0.1'))).toBe(-1);
  });
});
