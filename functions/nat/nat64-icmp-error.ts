/**
 * NAT64 translation of ICMP error messages with the packet they quote (RFC 7915 §4.2,
 * §5.2), IN PLACE, like `nat64-translate.ts`: the quoted packet's L4 bytes stay where they
 * are, and the outer IP header, the ICMP header and the quoted IP header are rewritten in
 * front of them (IPv4 → IPv6 the frame grows by up to 40 bytes into the headroom, IPv6 →
 * IPv4 it shrinks by 40 plus the outer extension headers). The quoted packet is translated
 * as the NAT translated it on its way (its address and port / echo identifier mapped, its
 * checksum adjusted when quoted); the outer ICMP/ICMPv6 checksum is computed in full (errors
 * are rare). No allocation, no throw. Types and codes map per the RFC's tables
 * ({@link icmp4ErrorTo6}, {@link icmp6ErrorTo4}).
 *
 * @example
 * ```ts
 * const t = icmp4ErrorTo6(type, code);   // -1: not translated (dropped)
 * if (t >= 0) start = nat64ErrorToIpv6(view, L.frameOffset, l3, end, inner, innerL4, t, rest, prefix, client, port);
 * ```
 */
import { writeIcmpChecksum } from '../../src/packet/checksum.ts';
import { writeIcmpv6Checksum } from '../../src/packet/checksum-ipv6.ts';
import type { Nat64Prefix } from './nat64-address.ts';
import { echoHeader, fold, halves, moveLinkHeader, sum128, writeIpv4Header, writeIpv6Header } from './nat64-translate.ts';

/** Largest IPv6 packet an ICMPv6 error may be (RFC 4443 §2.4 (c)): the quote is cut to fit. */
const ICMPV6_ERROR_MAX = 1280;

/** RFC 7915 §4.2 Figure 3: IPv4 parameter-problem pointer → IPv6 pointer (-1: not translated). */
const POINTER_4_TO_6 = [0, 1, 4, 4, -1, -1, -1, -1, 7, 6, -1, -1, 8, 8, 8, 8, 24, 24, 24, 24];

/**
 * ICMPv4 error type and code → ICMPv6 `type << 8 | code`, with bit 16 set when the rest of
 * the header is a parameter-problem pointer to map, bit 17 when it is an MTU, bit 18 when
 * the ICMPv6 pointer is 6 whatever the ICMPv4 header said (protocol unreachable → the next
 * header field) (RFC 7915 §4.2); -1 when the message is not translated (dropped).
 */
export function icmp4ErrorTo6(type: number, code: number): number {
  if (type === 3) {
    if (code === 0 || code === 1 || code === 5 || code === 6 || code === 7 || code === 8 || code === 11 || code === 12) return 0x0100;
    if (code === 9 || code === 10 || code === 13 || code === 15) return 0x0101;
    if (code === 3) return 0x0104;
    if (code === 2) return 0x40401; // parameter problem, unrecognized next header, pointer 6
    if (code === 4) return 0x20200; // packet too big
    return -1;
  }
  if (type === 11 && code <= 1) return 0x0300 | code;
  if (type === 12 && (code === 0 || code === 2)) return 0x10400;
  return -1;
}

/**
 * ICMPv6 error type and code → ICMPv4 `type << 8 | code`, bit 16 for a pointer to map, bit
 * 17 for an MTU (RFC 7915 §5.2); -1 when not translated.
 */
export function icmp6ErrorTo4(type: number, code: number): number {
  if (type === 1) {
    if (code === 0 || code === 2 || code === 3) return 0x0301;
    if (code === 1) return 0x030a;
    if (code === 4) return 0x0303;
    return -1;
  }
  if (type === 2) return 0x20304;
  if (type === 3 && code <= 1) return 0x0b00 | code;
  if (type === 4) return code === 0 ? 0x10c00 : code === 1 ? 0x0302 : -1;
  return -1;
}

/** RFC 7915 §5.2 Figure 6: IPv6 parameter-problem pointer → IPv4 pointer (-1: not translated). */
function pointer6To4(p: number): number {
  if (p <= 1) return p;
  if (p === 4 || p === 5) return 2;
  if (p === 6) return 9;
  if (p === 7) return 8;
  if (p >= 8 && p < 24) return 12;
  if (p >= 24 && p < 40) return 16;
  return -1;
}

/**
 * ICMPv4 error from the outside about a packet NAT64 translated out → ICMPv6 error to the
 * inside IPv6 host (`client[0…3]`, its port or echo identifier `port`). `t` is
 * {@link icmp4ErrorTo6}'s result (≥ 0), `rest` the ICMPv4 header's last four bytes; the
 * quoted IPv4 header is at `inner` (complete, the caller checked) and its L4 at `innerL4`
 * (≥ 8 bytes before `end`, the ICMP message's end). Returns the frame's new start, or -1
 * when a parameter-problem pointer has no IPv6 counterpart (nothing was written). The new
 * frame ends at the IPv6 payload's end: `start + (l3 - frameOffset) + 40 + payload length`.
 */
export function nat64ErrorToIpv6(
  view: DataView,
  frameOffset: number,
  l3: number,
  end: number,
  inner: number,
  innerL4: number,
  t: number,
  rest: number,
  prefix: Nat64Prefix,
  client: Uint32Array,
  port: number,
): number {
  let rest6 = 0;
  if ((t & 0x40000) !== 0) rest6 = 6;
  else if ((t & 0x10000) !== 0) {
    const p = rest >>> 24;
    rest6 = p < POINTER_4_TO_6.length ? POINTER_4_TO_6[p] : -1;
    if (rest6 < 0) return -1;
  } else if ((t & 0x20000) !== 0) {
    const mtu = rest & 0xffff;
    rest6 = mtu === 0 ? ICMPV6_ERROR_MAX : Math.max(ICMPV6_ERROR_MAX, mtu + 20);
  }
  // Read everything the headers in front of the quoted L4 hold before writing over them.
  const tos = view.getUint8(l3 + 1);
  const ttl = view.getUint8(l3 + 8);
  const from4 = view.getUint32(l3 + 12);
  const iTos = view.getUint8(inner + 1);
  const iPayload = view.getUint16(inner + 2) - (innerL4 - inner);
  const iTtl = view.getUint8(inner + 8);
  const iProto = view.getUint8(inner + 9);
  const iSrc = view.getUint32(inner + 12);
  const iDst = view.getUint32(inner + 16);

  const h = innerL4 - 88; // outer IPv6 header; ICMPv6 at h + 40, quoted IPv6 at h + 48
  const start = h - (l3 - frameOffset);
  moveLinkHeader(view, frameOffset, l3, start - frameOffset, 0x86dd);
  const stop = end - h > ICMPV6_ERROR_MAX ? h + ICMPV6_ERROR_MAX : end;
  const length = stop - h - 40;
  writeIpv6Header(view, h, tos, length, 58, ttl, prefix, from4, client, true);
  const m = h + 40;
  view.setUint32(m, (t & 0xffff) << 16);
  view.setUint32(m + 4, rest6);
  // The quoted packet as the client sent it: from the client to the server's embedded address.
  const q = h + 48;
  const newSum = writeIpv6Header(view, q, iTos, iPayload, iProto === 1 ? 58 : iProto, iTtl, prefix, iDst, client, false);
  if (iProto === 1) {
    const d = echoHeader(view, innerL4, 128, port);
    const c = view.getUint16(innerL4 + 2);
    view.setUint16(innerL4 + 2, ~fold((~c & 0xffff) + d + newSum + (iPayload >>> 16) + (iPayload & 0xffff) + 58) & 0xffff);
  } else {
    const oldP = view.getUint16(innerL4);
    view.setUint16(innerL4, port);
    const cf = innerL4 + (iProto === 6 ? 16 : 6);
    if (cf + 2 <= stop) {
      const c = view.getUint16(cf);
      if (iProto === 6 || c !== 0) {
        const oldSum = fold(halves(iSrc) + halves(iDst));
        const n = ~fold((~c & 0xffff) + (~oldSum & 0xffff) + newSum + (~oldP & 0xffff) + port) & 0xffff;
        view.setUint16(cf, iProto === 17 && n === 0 ? 0xffff : n);
      }
    }
  }
  writeIcmpv6Checksum(view, h, m, stop - m);
  return start;
}

/**
 * ICMPv6 error from the inside IPv6 host about a packet NAT64 translated in → ICMPv4
 * error to the IPv4 server: the outer source becomes `ext4` (the mapping's external
 * address), the outer destination `to4` (extracted from the outer IPv6 destination), the
 * quoted packet's destination `ext4`:`port` and its source `from4` (the server, extracted
 * from the quoted source). `t` is {@link icmp6ErrorTo4}'s result, `rest` the ICMPv6
 * header's last four bytes; the quoted IPv6 header is at `inner` (40 bytes, no extension
 * header) and its L4 at `inner + 40` (≥ 8 bytes before `end`). `id` is the outer IPv4
 * identification. Returns the frame's new start, or -1 when a parameter-problem pointer has
 * no IPv4 counterpart (nothing written); the frame still ends at `end`.
 */
export function nat64ErrorToIpv4(
  view: DataView,
  frameOffset: number,
  l3: number,
  l4: number,
  end: number,
  inner: number,
  t: number,
  rest: number,
  ext4: number,
  to4: number,
  from4: number,
  port: number,
  id: number,
): number {
  let rest4 = 0;
  if ((t & 0x10000) !== 0) {
    const p = pointer6To4(rest >>> 0);
    if (p < 0) return -1;
    rest4 = (p << 24) >>> 0;
  } else if ((t & 0x20000) !== 0) {
    const mtu = rest >>> 0;
    rest4 = mtu - 20 > 0xffff ? 0xffff : mtu - 20;
  }
  const tos = (view.getUint32(l3) >>> 20) & 0xff;
  const ttl = view.getUint8(l3 + 7);
  const iTos = (view.getUint32(inner) >>> 20) & 0xff;
  const iPayload = view.getUint16(inner + 4);
  const iNext = view.getUint8(inner + 6);
  const iHops = view.getUint8(inner + 7);
  const oldSum = fold(sum128(view, inner + 8) + sum128(view, inner + 24));
  const innerL4 = inner + 40;
  const iProto = iNext === 58 ? 1 : iNext;
  // The quoted L4 first (it stays in place), then the headers in front of it.
  if (iNext === 58) {
    const pseudo = fold(oldSum + (iPayload >>> 16) + (iPayload & 0xffff) + 58);
    const d = echoHeader(view, innerL4, 0, port);
    view.setUint16(innerL4 + 2, ~fold((~view.getUint16(innerL4 + 2) & 0xffff) + (~pseudo & 0xffff) + d) & 0xffff);
  } else {
    const oldP = view.getUint16(innerL4 + 2);
    view.setUint16(innerL4 + 2, port);
    const cf = innerL4 + (iNext === 6 ? 16 : 6);
    if (cf + 2 <= end) {
      const c = view.getUint16(cf);
      if (iNext === 6 || c !== 0) {
        const n = ~fold((~c & 0xffff) + (~oldSum & 0xffff) + halves(from4) + halves(ext4) + (~oldP & 0xffff) + port) & 0xffff;
        view.setUint16(cf, iNext === 17 && n === 0 ? 0xffff : n);
      }
    }
  }
  const h = innerL4 - 48; // outer IPv4; ICMP at h + 20, quoted IPv4 at h + 28
  writeIpv4Header(view, innerL4 - 20, iTos, 20 + iPayload, 0, iHops, iProto, from4, ext4);
  view.setUint32(h + 20, (t & 0xffff) << 16);
  view.setUint32(h + 24, rest4);
  writeIcmpChecksum(view, h + 20, end - h - 20);
  writeIpv4Header(view, h, tos, end - h, id, ttl, 1, ext4, to4);
  const start = h - (l3 - frameOffset);
  moveLinkHeader(view, frameOffset, l3, start - frameOffset, 0x0800);
  return start;
}
