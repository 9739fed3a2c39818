import type { Cidr } from '../config/net-schemas.ts';
import type { GatewayAddress, GatewayAddress6, Prefix6 } from './gateway-config.ts';

/** A prefix as address words (most significant first) and its length: what `PrefixRoutes` is built from. */
export interface RoutePrefix {
  readonly words: readonly number[];
  readonly prefix: number;
}

/** The words of the mask of a `prefix`-bit prefix over `width` 32-bit words. */
function maskWords(prefix: number, width: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i));
    out.push(bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
  }
  return out;
}

/**
 * The gateway's routes of one family: each peer's subnets, sorted longest prefix first, in
 * typed arrays of `width` words per address (1 for IPv4, 4 for IPv6: one body for both).
 * `lookup` is a linear scan, which beats a trie for the handful of subnets a port has;
 * routes of equal network and prefix on several peers form a group (an ARP request or
 * neighbour solicitation for an address in it goes to every peer of the group). Addresses
 * are passed as four words `k0..k3`, of which an IPv4 table reads `k0`.
 *
 * @example
 * ```ts
 * const routes = PrefixRoutes.ipv4([[cidr('198.18.2.0/24')], [cidr('198.18.2.128/25')]], [gw]);
 * routes.peerOf(routes.lookup(0xc6120281)); // 1 (the /25 wins)
 * ```
 */
export class PrefixRoutes {
  /** Number of routes. */
  readonly size: number;
  /** Words per address: 1 or 4. */
  readonly width: number;
  private readonly net: Uint32Array;
  private readonly mask: Uint32Array;
  private readonly prefix: Uint8Array;
  private readonly peer: Uint16Array;
  private readonly source: Uint32Array;

  /**
   * @param peerSubnets subnets per peer index
   * @param addresses the gateway's addresses of the family; each route's source (of ARP
   *   requests, neighbour solicitations, ICMP errors) is the one whose subnet holds the
   *   route's network (longest such prefix), else `addresses[0]` (none: the zero address)
   */
  constructor(peerSubnets: readonly (readonly RoutePrefix[])[], addresses: readonly RoutePrefix[], width: 1 | 4) {
    const within = (words: readonly number[], net: readonly number[], mask: readonly number[]) => mask.every((m, i) => ((words[i] & m) >>> 0) === net[i]);
    const all: Array<{ net: number[]; mask: number[]; prefix: number; peer: number }> = [];
    peerSubnets.forEach((subnets, peer) => {
      for (const s of subnets) {
        const mask = maskWords(s.prefix, width);
        all.push({ net: mask.map((m, i) => ((s.words[i] ?? 0) & m) >>> 0), mask, prefix: s.prefix, peer });
      }
    });
    const compare = (a: readonly number[], b: readonly number[]) => {
      for (let i = 0; i < width; i++) if (a[i] !== b[i]) return a[i] - b[i];
      return 0;
    };
    all.sort((a, b) => b.prefix - a.prefix || compare(a.net, b.net) || a.peer - b.peer);
    this.size = all.length;
    this.width = width;
    this.net = Uint32Array.from(all.flatMap((r) => r.net));
    this.mask = Uint32Array.from(all.flatMap((r) => r.mask));
    this.prefix = Uint8Array.from(all, (r) => r.prefix);
    this.peer = Uint16Array.from(all, (r) => r.peer);
    this.source = Uint32Array.from(
      all.flatMap((r) => {
        let best: readonly number[] = addresses.length > 0 ? addresses[0].words : new Array<number>(width).fill(0);
        let bestPrefix = -1;
        for (const a of addresses) {
          const m = maskWords(a.prefix, width);
          if (a.prefix > bestPrefix && within(r.net, m.map((x, i) => ((a.words[i] ?? 0) & x) >>> 0), m)) {
            best = a.words;
            bestPrefix = a.prefix;
          }
        }
        return Array.from({ length: width }, (_, i) => (best[i] ?? 0) >>> 0);
      }),
    );
  }

  /** Routes of IPv4 subnets (`Cidr`) with the gateway's IPv4 addresses. */
  static ipv4(peerSubnets: readonly (readonly Cidr[])[], addresses: readonly GatewayAddress[]): PrefixRoutes {
    return new PrefixRoutes(
      peerSubnets.map((subnets) => subnets.map((c) => ({ words: [c.addr], prefix: c.prefix }))),
      addresses.map((a) => ({ words: [a.address], prefix: a.prefix })),
      1,
    );
  }

  /** Routes of IPv6 subnets with the gateway's IPv6 addresses. */
  static ipv6(peerSubnets: readonly (readonly Prefix6[])[], addresses: readonly GatewayAddress6[]): PrefixRoutes {
    return new PrefixRoutes(
      peerSubnets.map((subnets) => subnets.map((p) => ({ words: p.addr, prefix: p.prefix }))),
      addresses.map((a) => ({ words: a.address, prefix: a.prefix })),
      4,
    );
  }

  /** True when route `r` holds the address `k0..k3`. */
  private holds(r: number, k0: number, k1: number, k2: number, k3: number): boolean {
    const net = this.net;
    const mask = this.mask;
    if (this.width === 1) return ((k0 & mask[r]) >>> 0) === net[r];
    const b = r << 2;
    return ((k0 & mask[b]) >>> 0) === net[b] && ((k1 & mask[b + 1]) >>> 0) === net[b + 1]
      && ((k2 & mask[b + 2]) >>> 0) === net[b + 2] && ((k3 & mask[b + 3]) >>> 0) === net[b + 3];
  }

  /** Index of the longest-prefix route holding the address (the first of its group), or -1. */
  lookup(k0: number, k1 = 0, k2 = 0, k3 = 0): number {
    for (let r = 0; r < this.size; r++) if (this.holds(r, k0, k1, k2, k3)) return r;
    return -1;
  }

  /** Peer index of route `r`. */
  peerOf(r: number): number {
    return this.peer[r];
  }

  /** Word `i` (0 for IPv4) of the gateway's source address along route `r`. */
  sourceOf(r: number, i = 0): number {
    return this.source[r * this.width + i];
  }

  /** One past the last route of `r`'s group (same network and prefix, other peers). */
  groupEnd(r: number): number {
    let e = r + 1;
    while (e < this.size && this.sameNetwork(e, r)) e++;
    return e;
  }

  /** True when routes `a` and `b` have the same network and prefix. */
  private sameNetwork(a: number, b: number): boolean {
    const w = this.width;
    for (let i = 0; i < w; i++) if (this.net[a * w + i] !== this.net[b * w + i]) return false;
    return this.prefix[a] === this.prefix[b];
  }

  /** True when one of `peer`'s subnets holds the address (used to decide what to learn from that peer). */
  peerCovers(peer: number, k0: number, k1 = 0, k2 = 0, k3 = 0): boolean {
    for (let r = 0; r < this.size; r++) if (this.peer[r] === peer && this.holds(r, k0, k1, k2, k3)) return true;
    return false;
  }
}
