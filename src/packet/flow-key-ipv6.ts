/**
 * Flow keys for IPv6: the 5-tuple with 128-bit addresses, and its symmetric hash. The IPv4
 * forms (`flow-key.ts`) are unchanged; these sit beside them for dual-stack tables.
 *
 * An address is four int32 words, most significant first (the bits of the network-order
 * field), kept in fixed number fields so nothing is allocated per packet. `flowHash6` is
 * SYMMETRIC, like `flowHash`: both directions of a connection hash alike, because the two
 * endpoints are put in canonical order (lower address first, compared as unsigned 128-bit
 * numbers; equal addresses: lower port first) before the murmur3 32-bit rounds over the
 * eight address words and the ports word, seeded with the protocol.
 *
 * Ports: TCP/UDP ports; ICMPv6 echo request/reply the identifier as both ports (as conntrack
 * does), so the echo and its reply are one flow; other ICMPv6 messages, other protocols and
 * later fragments (which have no upper-layer header) ports 0. ICMPv6 errors have their own
 * key with ports 0; {@link extractIcmpv6InnerFlowKey} gives the flow they are about.
 *
 * @example
 * ```ts
 * const key = new FlowKey6();                     // once, reused per packet
 * if (parseFrame(view, off, len, layout) === DropReason.OK && extractFlowKey6(view, layout, key)) {
 *   const worker = flowHash6(key, seed) % workers;  // the same for the reply
 * }
 * ```
 */
import type { FrameLayout } from './frame-layout.ts';
import { findIcmpv6Quote, Icmpv6Quote } from './icmpv6-quote.ts';

/** A caller-owned, fixed-shape IPv6 5-tuple. */
export class FlowKey6 {
  /** Source address words (int32, most significant first). */
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  /** Destination address words. */
  d0 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  srcPort = 0;
  dstPort = 0;
  /** Upper-layer protocol (6, 17, 58, …). */
  proto = 0;

  /** Sets the addresses from words (unsigned or int32), ports and protocol. */
  set(src: ArrayLike<number>, dst: ArrayLike<number>, srcPort: number, dstPort: number, proto: number): void {
    this.s0 = src[0] | 0;
    this.s1 = src[1] | 0;
    this.s2 = src[2] | 0;
    this.s3 = src[3] | 0;
    this.d0 = dst[0] | 0;
    this.d1 = dst[1] | 0;
    this.d2 = dst[2] | 0;
    this.d3 = dst[3] | 0;
    this.srcPort = srcPort;
    this.dstPort = dstPort;
    this.proto = proto;
  }

  /** Swaps source and destination in place (the key of the reply direction). */
  reverse(): void {
    let t = this.s0; this.s0 = this.d0; this.d0 = t;
    t = this.s1; this.s1 = this.d1; this.d1 = t;
    t = this.s2; this.s2 = this.d2; this.d2 = t;
    t = this.s3; this.s3 = this.d3; this.d3 = t;
    t = this.srcPort; this.srcPort = this.dstPort; this.dstPort = t;
  }

  /** True when every field equals `other`'s. */
  equals(other: FlowKey6): boolean {
    return this.s0 === other.s0 && this.s1 === other.s1 && this.s2 === other.s2 && this.s3 === other.s3
      && this.d0 === other.d0 && this.d1 === other.d1 && this.d2 === other.d2 && this.d3 === other.d3
      && this.srcPort === other.srcPort && this.dstPort === other.dstPort && this.proto === other.proto;
  }
}

/** Reads the addresses of the IPv6 header at `l3` into `key`. */
function readAddresses(view: DataView, l3: number, key: FlowKey6): void {
  key.s0 = view.getInt32(l3 + 8);
  key.s1 = view.getInt32(l3 + 12);
  key.s2 = view.getInt32(l3 + 16);
  key.s3 = view.getInt32(l3 + 20);
  key.d0 = view.getInt32(l3 + 24);
  key.d1 = view.getInt32(l3 + 28);
  key.d2 = view.getInt32(l3 + 32);
  key.d3 = view.getInt32(l3 + 36);
}

/** Both ports in one word (`src << 16 | dst`) for the upper layer at `l4` (-1: none). */
function portsOf(view: DataView, proto: number, l4: number): number {
  if (l4 < 0) return 0;
  if (proto === 6 || proto === 17) return view.getInt32(l4);
  if (proto === 58) {
    const type = view.getUint8(l4);
    if (type === 128 || type === 129) {
      const id = view.getUint16(l4 + 4);
      return (id << 16) | id;
    }
  }
  return 0;
}

/**
 * Fills `key` from an IPv6 frame that `parseFrame` accepted; false (key untouched) when the
 * frame is not IPv6 (IPv4, ARP: use `extractFlowKey`).
 */
export function extractFlowKey6(view: DataView, layout: FrameLayout, key: FlowKey6): boolean {
  const l3 = layout.l3Offset;
  if (layout.ethertype !== 0x86dd || l3 < 0) return false;
  readAddresses(view, l3, key);
  const proto = layout.ipProto;
  key.proto = proto;
  const ports = portsOf(view, proto, layout.l4Offset);
  key.srcPort = ports >>> 16;
  key.dstPort = ports & 0xffff;
  return true;
}

/** Where the quoted packet is (one per module: no allocation per packet). */
const quoted = new Icmpv6Quote();

/**
 * For an ICMPv6 error quoting a packet (destination unreachable, packet too big, time
 * exceeded, parameter problem) that `parseFrame` accepted, fills `key` with the 5-tuple of
 * the QUOTED packet (found by `findIcmpv6Quote`) as it was sent (source = the host that received the error; `reverse()`
 * gives the error's own direction). The quoted packet's extension headers are walked with
 * the same bound as the parser's, inside the quote (which may stop anywhere after the
 * upper-layer ports: RFC 4443 quotes as much as fits in 1280 bytes). Returns false when the
 * frame is not such an error, or the quote is not a version-6 header followed by a chain
 * whose upper-layer header has its first 8 bytes inside the quote (for TCP/UDP/ICMPv6).
 */
export function extractIcmpv6InnerFlowKey(view: DataView, layout: FrameLayout, key: FlowKey6): boolean {
  if (!findIcmpv6Quote(view, layout, quoted)) return false;
  const proto = quoted.proto;
  if (quoted.l4 < 0 && !quoted.laterFragment && (proto === 6 || proto === 17 || proto === 58)) return false;
  readAddresses(view, quoted.l3, key);
  key.proto = proto;
  const ports = portsOf(view, proto, quoted.l4);
  key.srcPort = ports >>> 16;
  key.dstPort = ports & 0xffff;
  return true;
}

/** One murmur3 32-bit body round: mixes word `k` into `h`. */
function round(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  return (((h << 13) | (h >>> 19)) * 5 + 0xe6546b64) | 0;
}

/**
 * Directed hash of an IPv6 5-tuple given as words (int32 or unsigned), unsigned 32-bit:
 * murmur3_32 over (s0..s3, d0..d3, srcPort << 16 | dstPort), seeded with `seed` mixed with
 * the protocol, then the murmur3 finalizer. `(a→b)` and `(b→a)` differ.
 */
export function flowHash6Directed(
  s0: number, s1: number, s2: number, s3: number, d0: number, d1: number, d2: number, d3: number,
  srcPort: number, dstPort: number, proto: number, seed = 0,
): number {
  let h = seed ^ Math.imul(proto & 0xff, 0x9e3779b1);
  h = round(h, s0 | 0);
  h = round(h, s1 | 0);
  h = round(h, s2 | 0);
  h = round(h, s3 | 0);
  h = round(h, d0 | 0);
  h = round(h, d1 | 0);
  h = round(h, d2 | 0);
  h = round(h, d3 | 0);
  h = round(h, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff));
  h ^= 36;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** -1, 0 or 1: the source address against the destination, as unsigned 128-bit numbers. */
function compareAddresses(k: FlowKey6): number {
  if (k.s0 !== k.d0) return k.s0 >>> 0 < k.d0 >>> 0 ? -1 : 1;
  if (k.s1 !== k.d1) return k.s1 >>> 0 < k.d1 >>> 0 ? -1 : 1;
  if (k.s2 !== k.d2) return k.s2 >>> 0 < k.d2 >>> 0 ? -1 : 1;
  if (k.s3 !== k.d3) return k.s3 >>> 0 < k.d3 >>> 0 ? -1 : 1;
  return 0;
}

/**
 * Symmetric hash of an IPv6 5-tuple (unsigned 32-bit): {@link flowHash6Directed} of the
 * endpoints in canonical order, so a key and its `reverse()` hash alike.
 *
 * @example
 * ```ts
 * const h = flowHash6(key, seed);
 * key.reverse();
 * flowHash6(key, seed) === h; // true
 * ```
 */
export function flowHash6(key: FlowKey6, seed = 0): number {
  const c = compareAddresses(key);
  if (c < 0 || (c === 0 && key.srcPort <= key.dstPort)) {
    return flowHash6Directed(key.s0, key.s1, key.s2, key.s3, key.d0, key.d1, key.d2, key.d3, key.srcPort, key.dstPort, key.proto, seed);
  }
  return flowHash6Directed(key.d0, key.d1, key.d2, key.d3, key.s0, key.s1, key.s2, key.s3, key.dstPort, key.srcPort, key.proto, seed);
}
