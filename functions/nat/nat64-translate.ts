/**
 * NAT64 header translation (RFC 7915, as RFC 6146 uses it), IN PLACE in a pool buffer.
 *
 * The L4 header stays where it is and the IP header is rewritten in front of it: IPv6 → IPv4
 * the frame's start moves FORWARD by the IPv6 header's length (extension headers included)
 * minus 20, IPv4 → IPv6 it moves BACK into the buffer's headroom by 40 minus the IPv4
 * header's length (≤ 20 bytes; pool buffers keep 128). The link header (MACs, VLAN tags) is
 * moved with it and its EtherType changed; the frame's end never moves (Ethernet padding is
 * kept as padding). Each function returns how far the frame's start moved forward (negative:
 * back); the caller adds it to the frame offset and subtracts it from the length.
 *
 * Checksums: the new IPv4 header's is computed from the values written; the TCP/UDP one is
 * updated incrementally (RFC 1624) for the pseudo-header change (two 32-bit addresses ↔ two
 * 128-bit ones; length and protocol are the same numbers) fused with the port change. A
 * UDP checksum 0 (none) stays 0 towards IPv4 and is computed in full towards IPv6, where it
 * is mandatory (RFC 7915 §4.5). No allocation, no throw.
 *
 * @example
 * ```ts
 * const moved = nat64ToIpv4(view, L.frameOffset, L.l3Offset, L.l4Offset, L.ipTotalLength - L.ipHeaderLength, L.ipProto, addrSum, ext, dst4, extPort, id);
 * off += moved; len -= moved;
 * ```
 */
import { writeUdpChecksumIpv6 } from '../../src/packet/checksum-ipv6.ts';
import type { Nat64Prefix } from './nat64-address.ts';

/** Folds a one's complement accumulator (< 2^26) to 16 bits. (The helpers below are shared with `nat64-icmp-error.ts`.) */
export function fold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** One's complement sum of the 16-bit halves of the 4 words at `at` (an IPv6 address). */
export function sum128(view: DataView, at: number): number {
  const a = view.getUint32(at);
  const b = view.getUint32(at + 4);
  const c = view.getUint32(at + 8);
  const d = view.getUint32(at + 12);
  return (a >>> 16) + (a & 0xffff) + (b >>> 16) + (b & 0xffff) + (c >>> 16) + (c & 0xffff) + (d >>> 16) + (d & 0xffff);
}

/** Sum of the two 16-bit halves of a 32-bit value. */
export function halves(v: number): number {
  return (v >>> 16) + (v & 0xffff);
}

/**
 * Moves the link header `[frameOffset, l3)` by `by` bytes (either way, overlapping allowed)
 * and sets its EtherType (the last two bytes) to `ethertype`. The header is 14 bytes plus 4
 * per VLAN tag and every shift is even (IP header lengths differ by multiples of 4): the
 * addresses and tags before the EtherType move as 32-bit words, from the end when the frame
 * moves forward and from the start when it moves back, so no word is read after it was
 * written over.
 */
export function moveLinkHeader(view: DataView, frameOffset: number, l3: number, by: number, ethertype: number): void {
  if (by > 0) for (let k = l3 - 6; k >= frameOffset; k -= 4) view.setInt32(k + by, view.getInt32(k));
  else if (by < 0) for (let k = frameOffset; k < l3 - 2; k += 4) view.setInt32(k + by, view.getInt32(k));
  view.setUint16(l3 + by - 2, ethertype);
}

/** Writes a 20-byte IPv4 header at `at` with its checksum. */
export function writeIpv4Header(view: DataView, at: number, tos: number, total: number, id: number, ttl: number, proto: number, src: number, dst: number): void {
  const w0 = (0x45000000 | (tos << 16) | (total & 0xffff)) >>> 0;
  // RFC 7915 §5.1: DF set when the packet is larger than 1260 bytes (the IPv6 minimum MTU minus 20), the ID then 0.
  const w1 = total > 1260 ? 0x4000 : (id & 0xffff) << 16;
  const w2 = ((ttl << 24) | (proto << 16)) >>> 0;
  view.setUint32(at, w0);
  view.setUint32(at + 4, w1);
  view.setUint32(at + 8, w2);
  view.setUint32(at + 12, src);
  view.setUint32(at + 16, dst);
  view.setUint16(at + 10, ~fold(halves(w0) + halves(w1) + halves(w2) + halves(src) + halves(dst)) & 0xffff);
}

/**
 * Writes a 40-byte IPv6 header at `at`: traffic class `tc`, flow label 0, `payload` bytes,
 * next header `next`, hop limit `hops`, source embedding `src4` in `prefix` (when `srcFirst`)
 * or `addr[0…3]` (else), the destination the other of the two. Returns the sum of the two
 * addresses' 16-bit words (the pseudo-header's, for a checksum: < 2^20, not folded).
 */
export function writeIpv6Header(view: DataView, at: number, tc: number, payload: number, next: number, hops: number, prefix: Nat64Prefix, src4: number, addr: Uint32Array, srcFirst: boolean): number {
  view.setUint32(at, (0x60000000 | (tc << 20)) >>> 0);
  view.setUint32(at + 4, (((payload & 0xffff) << 16) | (next << 8) | hops) >>> 0);
  const a = srcFirst ? at + 24 : at + 8;
  const w0 = addr[0];
  const w1 = addr[1];
  const w2 = addr[2];
  const w3 = addr[3];
  view.setUint32(a, w0);
  view.setUint32(a + 4, w1);
  view.setUint32(a + 8, w2);
  view.setUint32(a + 12, w3);
  return prefix.embed(view, srcFirst ? at + 8 : at + 24, src4) + halves(w0) + halves(w1) + halves(w2) + halves(w3);
}

/** Updates the TCP (6) / UDP (17) checksum at `l4` for an address-sum change `dA` (already "old complement + new") and a port change. */
function adjustTransport(view: DataView, l4: number, proto: number, dA: number, portField: number, port: number, keepZero: boolean): void {
  const oldP = view.getUint16(l4 + portField);
  view.setUint16(l4 + portField, port);
  const cf = l4 + (proto === 6 ? 16 : 6);
  const c = view.getUint16(cf);
  if (proto === 17 && c === 0 && keepZero) return;
  const n = ~fold((~c & 0xffff) + dA + (~oldP & 0xffff) + port) & 0xffff;
  view.setUint16(cf, proto === 17 && n === 0 ? 0xffff : n);
}

/**
 * Rewrites the echo header at `l4` (type/code word and identifier) between ICMPv6 and ICMP
 * and returns the checksum change as a one's complement sum to add ("old complement + new").
 */
export function echoHeader(view: DataView, l4: number, type: number, id: number): number {
  const oldTc = view.getUint16(l4);
  const tc = (type << 8) | (oldTc & 0xff);
  const oldId = view.getUint16(l4 + 4);
  view.setUint16(l4, tc);
  view.setUint16(l4 + 4, id);
  return (~oldTc & 0xffff) + tc + (~oldId & 0xffff) + id;
}

/**
 * IPv6 → IPv4 for a TCP or UDP packet or an ICMPv6 echo (58: request 128 → 8, reply
 * 129 → 0) from an inside IPv6 host (RFC 7915 §5.1, §5.2): source becomes `src4`:`sport`
 * (the NAT64 mapping's external endpoint; for echo the identifier), destination `dst4`
 * (the IPv4 address embedded in the IPv6 destination). Traffic class → TOS, hop limit → TTL
 * (copied: hop limits are the gateway's job), extension headers dropped, `id` the IPv4
 * identification when DF is clear. The ICMP checksum is the ICMPv6 one without its
 * pseudo-header, adjusted for the type and identifier. Returns how far the frame's start
 * moved (≥ 20).
 *
 * @param upperLength bytes after the IPv6 header and its extension headers
 * @param addrSum the sum of the 16-bit words of the IPv6 source and destination addresses
 *   (the caller read them; < 2^20, not folded)
 */
export function nat64ToIpv4(
  view: DataView,
  frameOffset: number,
  l3: number,
  l4: number,
  upperLength: number,
  proto: number,
  addrSum: number,
  src4: number,
  dst4: number,
  sport: number,
  id: number,
): number {
  const tos = (view.getUint32(l3) >>> 20) & 0xff;
  const ttl = view.getUint8(l3 + 7);
  const oldSum = fold(addrSum);
  let proto4 = proto;
  if (proto === 58) {
    proto4 = 1;
    const pseudo = fold(oldSum + (upperLength >>> 16) + (upperLength & 0xffff) + 58);
    const d = echoHeader(view, l4, view.getUint8(l4) === 128 ? 8 : 0, sport);
    view.setUint16(l4 + 2, ~fold((~view.getUint16(l4 + 2) & 0xffff) + (~pseudo & 0xffff) + d) & 0xffff);
  } else {
    adjustTransport(view, l4, proto, (~oldSum & 0xffff) + halves(src4) + halves(dst4), 0, sport, true);
  }
  const by = l4 - 20 - l3;
  writeIpv4Header(view, l4 - 20, tos, 20 + upperLength, id, ttl, proto4, src4, dst4);
  moveLinkHeader(view, frameOffset, l3, by, 0x0800);
  return by;
}

/**
 * IPv4 → IPv6 for a TCP or UDP packet or an ICMP echo reply (1: 0 → 129, 8 → 128) to a
 * NAT64 mapping (RFC 7915 §4.1, §4.2): source becomes the IPv4 source embedded in
 * `prefix`, destination the mapping's internal IPv6 address `addr[0…3]` and port (identifier)
 * `dport`. TOS → traffic class, TTL → hop limit, flow label 0, IPv4 options dropped; the
 * ICMPv6 checksum gains its pseudo-header. Returns how far the frame's start moved
 * (−20 … 0: back into the headroom).
 */
export function nat64ToIpv6(
  view: DataView,
  frameOffset: number,
  l3: number,
  l4: number,
  l4Length: number,
  proto: number,
  prefix: Nat64Prefix,
  addr: Uint32Array,
  dport: number,
): number {
  const tos = view.getUint8(l3 + 1);
  const ttl = view.getUint8(l3 + 8);
  const payload = view.getUint16(l3 + 2) - (l4 - l3);
  const src4 = view.getInt32(l3 + 12);
  const oldSum = fold(halves(src4) + halves(view.getInt32(l3 + 16)));
  const by = l4 - 40 - l3;
  moveLinkHeader(view, frameOffset, l3, by, 0x86dd);
  const h = l4 - 40;
  const newSum = writeIpv6Header(view, h, tos, payload, proto === 1 ? 58 : proto, ttl, prefix, src4, addr, true);
  if (proto === 1) {
    const d = echoHeader(view, l4, view.getUint8(l4) === 0 ? 129 : 128, dport);
    const c = view.getUint16(l4 + 2);
    view.setUint16(l4 + 2, ~fold((~c & 0xffff) + d + newSum + (payload >>> 16) + (payload & 0xffff) + 58) & 0xffff);
    return by;
  }
  const dA = (~oldSum & 0xffff) + newSum;
  const zeroUdp = proto === 17 && view.getUint16(l4 + 6) === 0;
  adjustTransport(view, l4, proto, dA, 2, dport, false);
  if (zeroUdp) {
    view.setUint16(l4 + 6, 0);
    writeUdpChecksumIpv6(view, h, l4, l4Length);
  }
  return by;
}
