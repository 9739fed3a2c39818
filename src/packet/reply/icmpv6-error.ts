/**
 * ICMPv6 error messages (RFC 4443 §2.4, §3), built IN PLACE over the packet that caused
 * them: destination unreachable for a firewall's reject (what Linux's `REJECT
 * --reject-with icmp6-port-unreachable` / `icmp6-adm-prohibited` sends), parameter problem,
 * and time exceeded for a gateway whose hop limit ran out.
 *
 * The frame becomes: the same link header with MACs swapped (VLAN tags kept), a fresh
 * 40-byte IPv6 header (traffic class 0, flow label 0, hop limit 64, next header 58, no
 * extension headers; destination = the packet's source; source = the packet's destination,
 * or the address the caller names), the 8-byte ICMPv6 header (type, code, the 32-bit field
 * after the checksum) and the quote: the packet as received, from its IPv6 header on, as
 * much of it as keeps the error within the IPv6 minimum MTU (1280 bytes: a quote of at most
 * 1232). The checksum covers the pseudo-header. The reply is 48 bytes longer than the
 * packet, at most 1280 bytes from `l3`: the buffer needs that room (pool buffers have it).
 *
 * Check {@link icmpv6ErrorPermitted} first (RFC 4443 §2.4 (e)): no error answers an ICMPv6
 * error or redirect, a packet sent to a multicast address (or a link-layer multicast), or
 * one whose source is unspecified or multicast.
 *
 * @example
 * ```ts
 * if (icmpv6ErrorPermitted(view, off, L.l3Offset, L.l4Offset, L.ipProto)) {
 *   len = writeIcmpv6Error(view, off, L.l3Offset, Icmpv6Type.DEST_UNREACHABLE, Icmpv6UnreachableCode.PORT, 0, null);
 *   verdict = side;
 * }
 * ```
 */
import { writeIcmpv6Checksum } from '../checksum-ipv6.ts';
import { swapEthAddresses } from '../ethernet.ts';

/** The IPv6 minimum MTU (RFC 8200 §5): an ICMPv6 error is never longer. */
export const IPV6_MIN_MTU = 1280;

/** Bytes an ICMPv6 error puts in front of its quote: IPv6 header (40) + ICMPv6 header (8). */
export const ICMPV6_ERROR_OVERHEAD = 48;

/**
 * True when both ends of the IPv6 packet at `l3` (frame at `frameOffset`) may be answered:
 * its destination MAC is unicast, its destination address is not multicast and its source
 * is neither unspecified nor multicast (RFC 4443 §2.4 (e.3)–(e.6); the same rule keeps a TCP
 * reset from going anywhere but to one host). Whether the packet itself may be answered is
 * the caller's part ({@link icmpv6ErrorPermitted}, `tcpResetPermitted6`).
 */
export function ipv6ReplyPermitted(view: DataView, frameOffset: number, l3: number): boolean {
  if (view.getUint8(l3) >>> 4 !== 6 || (view.getUint8(frameOffset) & 0x01) !== 0) return false;
  if (view.getUint8(l3 + 24) === 0xff || view.getUint8(l3 + 8) === 0xff) return false;
  return (view.getInt32(l3 + 8) | view.getInt32(l3 + 12) | view.getInt32(l3 + 16) | view.getInt32(l3 + 20)) !== 0;
}

/**
 * True when an ICMPv6 error may be sent about the IPv6 packet at `l3` whose upper-layer
 * protocol is `proto` (header at `l4`, or -1 for a later fragment): {@link ipv6ReplyPermitted},
 * and the packet is not an ICMPv6 error (types 0–127) or redirect (137), nor an ICMPv6
 * later fragment, whose type cannot be seen.
 */
export function icmpv6ErrorPermitted(view: DataView, frameOffset: number, l3: number, l4: number, proto: number): boolean {
  if (proto === 58) {
    if (l4 < 0) return false;
    const type = view.getUint8(l4);
    if (type < 128 || type === 137) return false;
  }
  return ipv6ReplyPermitted(view, frameOffset, l3);
}

/**
 * Rewrites the parsed IPv6 frame at `frameOffset` (IPv6 header at `l3`) into an ICMPv6
 * error of `type` and `code` whose 32-bit field after the checksum is `rest` (0 for
 * unreachable and time exceeded, the pointer of a parameter problem, the MTU of packet too
 * big), sent from `from` (four address words, most significant first) or, when `from` is
 * `null`, from the packet's own destination (a middlebox without an address). Returns the
 * new frame length. No allocation.
 */
export function writeIcmpv6Error(view: DataView, frameOffset: number, l3: number, type: number, code: number, rest: number, from: Uint32Array | null): number {
  const packet = 40 + view.getUint16(l3 + 4);
  const room = IPV6_MIN_MTU - ICMPV6_ERROR_OVERHEAD;
  const quote = packet < room ? packet : room;

  // Move the quote 48 bytes up, last byte first (the ranges overlap).
  const q = l3 + ICMPV6_ERROR_OVERHEAD;
  for (let i = quote - 1; i >= 0; i--) view.setUint8(q + i, view.getUint8(l3 + i));

  swapEthAddresses(view, frameOffset);
  view.setUint32(l3, 0x60000000); // version 6, traffic class 0, flow label 0
  view.setUint32(l3 + 4, ((8 + quote) << 16) | (58 << 8) | 64); // payload length, ICMPv6, hop limit 64
  // The addresses come from the quote, which holds the packet's header as received.
  for (let i = 0; i < 16; i += 4) {
    view.setUint32(l3 + 8 + i, from === null ? view.getUint32(q + 24 + i) : from[i >>> 2]);
    view.setUint32(l3 + 24 + i, view.getUint32(q + 8 + i));
  }
  view.setUint32(l3 + 40, ((type & 0xff) << 24) | ((code & 0xff) << 16));
  view.setUint32(l3 + 44, rest >>> 0);
  writeIcmpv6Checksum(view, l3, l3 + 40, 8 + quote);
  return l3 - frameOffset + ICMPV6_ERROR_OVERHEAD + quote;
}

/**
 * Offset, from `l3`, of the next-header field that names the upper-layer protocol whose
 * header starts at `upper` (`l3 + layout.ipHeaderLength`): 6 without extension headers,
 * else the first byte of the last extension header. The pointer of a parameter problem
 * "unrecognized next header" (code 1) about that protocol, as a host that does not speak it
 * sends (RFC 8200 §4, the IPv6 form of IPv4's protocol unreachable).
 */
export function ipv6UpperNextHeaderPointer(view: DataView, l3: number, upper: number): number {
  let at = l3 + 40;
  let next = view.getUint8(l3 + 6);
  let pointer = 6;
  while (at < upper) {
    pointer = at - l3;
    const len = next === 44 ? 8 : next === 51 ? (view.getUint8(at + 1) + 2) << 2 : (view.getUint8(at + 1) + 1) << 3;
    next = view.getUint8(at);
    at += len;
  }
  return pointer;
}
