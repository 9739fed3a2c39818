import type { Cidr } from '../config/net-schemas.ts';
import type { GatewayAddress } from './gateway-config.ts';

/**
 * The gateway's routes: each peer's subnets, sorted longest prefix first, in typed arrays.
 * `lookup` is a linear scan, which beats a trie for the handful of subnets a port has;
 * routes of equal network and prefix on several peers form a group (an ARP request for an
 * address in it goes to every peer of the group).
 *
 * @example
 * ```ts
 * const routes = new PrefixRoutes([[cidr('198.18.2.0/24')], [cidr('198.18.2.128/25')]], [gw]);
 * routes.peerOf(routes.lookup(0xc6120281)); // 1 (the /25 wins)
 * ```
 */
export class PrefixRoutes {
  /** Number of routes. */
  readonly size: number;
  private readonly net: Uint32Array;
  private readonly mask: Uint32Array;
  private readonly prefix: Uint8Array;
  private readonly peer: Uint16Array;
  private readonly source: Uint32Array;

  /**
   * @param peerSubnets subnets per peer index
   * @param addresses the gateway's addresses; each route's ARP source is the one whose
   *   subnet holds the route's network (longest such prefix), else `addresses[0]`
   */
  constructor(peerSubnets: readonly (readonly Cidr[])[], addresses: readonly GatewayAddress[]) {
    const all: Array<{ net: number; mask: number; prefix: number; peer: number }> = [];
    peerSubnets.forEach((subnets, peer) => {
      for (const s of subnets) all.push({ net: (s.addr & s.mask) >>> 0, mask: s.mask >>> 0, prefix: s.prefix, peer });
    });
    all.sort((a, b) => b.prefix - a.prefix || a.net - b.net || a.peer - b.peer);
    this.size = all.length;
    this.net = Uint32Array.from(all, (r) => r.net);
    this.mask = Uint32Array.from(all, (r) => r.mask);
    this.prefix = Uint8Array.from(all, (r) => r.prefix);
    this.peer = Uint16Array.from(all, (r) => r.peer);
    this.source = Uint32Array.from(all, (r) => {
      let best = addresses.length > 0 ? addresses[0].address : 0;
      let bestPrefix = -1;
      for (const a of addresses) {
        if (a.prefix > bestPrefix && ((r.net & a.mask) >>> 0) === ((a.address & a.mask) >>> 0)) {
          best = a.address;
          bestPrefix = a.prefix;
        }
      }
      return best;
    });
  }

  /** Index of the longest-prefix route holding `ip` (the first of its group), or -1. */
  lookup(ip: number): number {
    const net = this.net;
    const mask = this.mask;
    for (let r = 0; r < this.size; r++) {
      if (((ip & mask[r]) >>> 0) === net[r]) return r;
    }
    return -1;
  }

  /** Peer index of route `r`. */
  peerOf(r: number): number {
    return this.peer[r];
  }

  /** Source address for ARP requests sent along route `r`. */
  sourceOf(r: number): number {
    return this.source[r];
  }

  /** One past the last route of `r`'s group (same network and prefix, other peers). */
  groupEnd(r: number): number {
    let e = r + 1;
    while (e < this.size && this.net[e] === this.net[r] && this.prefix[e] === this.prefix[r]) e++;
    return e;
  }

  /** True when one of `peer`'s subnets holds `ip` (used to decide what to learn from that peer). */
  peerCovers(peer: number, ip: number): boolean {
    for (let r = 0; r < this.size; r++) {
      if (this.peer[r] === peer && ((ip & this.mask[r]) >>> 0) === this.net[r]) return true;
    }
    return false;
  }
}
