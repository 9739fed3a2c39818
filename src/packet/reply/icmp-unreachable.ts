/**
 * ICMP destination-unreachable replies (RFC 792; RFC 1122 §3.2.2), built IN PLACE over the
 * received datagram: what Linux's `REJECT --reject-with icmp-port-unreachable` (or
 * `icmp-admin-prohibited`, …) sends, as a bump-in-the-wire middlebox without an address
 * of its own.
 *
 * The frame becomes: the same link header with MACs swapped (VLAN tags kept), a fresh IPv4
 * header (20 bytes, TOS 0xc0 "internetwork control", TTL 64, ID 0, source = the received
 * datagram's destination, destination = its source), the 8-byte ICMP header (type 3, the
 * given code) and the quote: the received IPv4 header, options included, plus the first
 * 8 bytes of its payload (fewer if it had fewer). The reply's IPv4 packet is at most
 * 28 + 60 + 8 = 96 bytes from `l3`, so a short frame grows: the buffer must have that room
 * after `l3` (pool buffers have far more).
 *
 * Check {@link icmpErrorPermitted} first: no ICMP error answers an ICMP error, a broadcast
 * or multicast, a non-initial fragment or a datagram whose source is not one host.
 *
 * @example
 * ```ts
 * if (icmpErrorPermitted(view, off, L.l3Offset, L.l4Offset)) {
 *   len = writeIcmpUnreachable(view, off, L.l3Offset, IcmpUnreachableCode.PORT);
 *   verdict = side;
 * }
 * ```
 */
import { writeIcmpChecksum, writeIpv4HeaderChecksum } from '../checksum.ts';
import { swapEthAddresses } from '../ethernet.ts';

/** Bytes of the received datagram's payload quoted after its IPv4 header. */
export const ICMP_QUOTED_PAYLOAD = 8;

/** Bytes the reply adds in front of the quote: IPv4 header (20) + ICMP header (8). */
export const ICMP_UNREACHABLE_OVERHEAD = 28;

/**
 * True when both ends of the IPv4 datagram at `l3` (frame at `frameOffset`) may be
 * answered: it is IPv4 (false for IPv6: see `icmpv6-error.ts`), its destination MAC is
 * unicast, and both its addresses name one host (not 0/8, 127/8, multicast, class E or
 * broadcast). Whether the datagram itself may be answered is the caller's part
 * ({@link icmpErrorPermitted}, `tcpResetPermitted`).
 */
export function ipv4ReplyPermitted(view: DataView, frameOffset: number, l3: number): boolean {
  if (view.getUint8(l3) >>> 4 !== 4 || (view.getUint8(frameOffset) & 0x01) !== 0) return false;
  const src = view.getUint8(l3 + 12);
  const dst = view.getUint8(l3 + 16);
  return src !== 0 && src !== 127 && src < 224 && dst !== 0 && dst !== 127 && dst < 224;
}

/**
 * True when an ICMP error may be sent about the IPv4 datagram at `l3` (frame at
 * `frameOffset`, L4 header at `l4`, or -1 if unknown): {@link ipv4ReplyPermitted}, and it is
 * not itself an ICMP error (types 3, 4, 5, 11, 12) nor a non-initial fragment.
 */
export function icmpErrorPermitted(view: DataView, frameOffset: number, l3: number, l4: number): boolean {
  if (!ipv4ReplyPermitted(view, frameOffset, l3) || (view.getUint16(l3 + 6) & 0x1fff) !== 0) return false;
  if (view.getUint8(l3 + 9) === 1 && l4 >= 0) {
    const type = view.getUint8(l4);
    if (type === 3 || type === 4 || type === 5 || type === 11 || type === 12) return false;
  }
  return true;
}

/**
 * Rewrites the parsed IPv4 frame at `frameOffset` (IPv4 header at `l3`) into an ICMP
 * destination unreachable with `code` (`IcmpUnreachableCode`: 3 port, 13 administratively
 * prohibited, …) and returns the new frame length. No allocation.
 */
export function writeIcmpUnreachable(view: DataView, frameOffset: number, l3: number, code: number): number {
  return writeIcmpError(view, frameOffset, l3, 3, code, -1);
}

/**
 * The body of every ICMP error nfvkit writes over IPv4 (destination unreachable here, time
 * exceeded at the gateway): rewrites the parsed IPv4 frame at `frameOffset` (IPv4 header at
 * `l3`) into an ICMP error of `type` and `code` quoting the datagram's header and 8 bytes,
 * MACs swapped, sent from `from` (an address, unsigned) or, when `from` is -1, from the
 * datagram's own destination, to its source. Returns the new frame length. No allocation.
 */
export function writeIcmpError(view: DataView, frameOffset: number, l3: number, type: number, code: number, from: number): number {
  const ihl = (view.getUint8(l3) & 0x0f) << 2;
  const total = view.getUint16(l3 + 2);
  const payload = total - ihl;
  const quote = ihl + (payload < ICMP_QUOTED_PAYLOAD ? payload : ICMP_QUOTED_PAYLOAD);
  const srcIp = view.getUint32(l3 + 12);
  const dstIp = view.getUint32(l3 + 16);

  // Move the quote 28 bytes up, last byte first (the ranges overlap).
  const to = l3 + ICMP_UNREACHABLE_OVERHEAD;
  for (let i = quote - 1; i >= 0; i--) view.setUint8(to + i, view.getUint8(l3 + i));

  swapEthAddresses(view, frameOffset);

  // IPv4 header.
  const length = ICMP_UNREACHABLE_OVERHEAD + quote;
  view.setUint32(l3, 0x45c00000 | length); // version 4, IHL 5, TOS 0xc0, total length
  view.setUint32(l3 + 4, 0); // ID 0, no flags, offset 0
  view.setUint32(l3 + 8, 0x40010000); // TTL 64, protocol 1, checksum 0
  view.setUint32(l3 + 12, from === -1 ? dstIp : from >>> 0);
  view.setUint32(l3 + 16, srcIp);
  writeIpv4HeaderChecksum(view, l3);

  // ICMP header: type, code, checksum, unused.
  const icmp = l3 + 20;
  view.setUint32(icmp, ((type & 0xff) << 24) | ((code & 0xff) << 16));
  view.setUint32(icmp + 4, 0);
  writeIcmpChecksum(view, icmp, 8 + quote);
  return l3 - frameOffset + length;
}
