import { writeIcmpChecksum, writeIpv4HeaderChecksum } from '../packet/checksum.ts';
import { setMac } from '../packet/ethernet.ts';
import { ICMP_QUOTED_PAYLOAD, ICMP_UNREACHABLE_OVERHEAD } from '../packet/reply/icmp-unreachable.ts';

/**
 * Rewrites the IPv4 frame at `frameOffset` (IPv4 header at `l3`), whose TTL ran out at the
 * gateway, into an ICMP time exceeded in transit (type 11, code 0; RFC 792, RFC 1812
 * §4.3.2) IN PLACE, and returns the new frame length. Like `writeIcmpUnreachable`, but sent
 * by a router that has an address: the source is `fromIp` (the gateway's address), the
 * Ethernet destination is the sender's MAC and the source is the gateway's MAC (macHi16,
 * macLo32). The quote is the datagram as received (TTL included) plus 8 bytes of payload.
 * The buffer needs 96 bytes after `l3`. Check `icmpErrorPermitted` first. No allocation.
 *
 * @example
 * ```ts
 * if (ttl <= 1 && icmpErrorPermitted(view, off, l3, l4)) {
 *   len = writeIcmpTimeExceeded(view, off, l3, gatewayIp, macHi, macLo);
 * }
 * ```
 */
export function writeIcmpTimeExceeded(view: DataView, frameOffset: number, l3: number, fromIp: number, macHi16: number, macLo32: number): number {
  const ihl = (view.getUint8(l3) & 0x0f) << 2;
  const payload = view.getUint16(l3 + 2) - ihl;
  const quote = ihl + (payload < ICMP_QUOTED_PAYLOAD ? payload : ICMP_QUOTED_PAYLOAD);
  const srcIp = view.getUint32(l3 + 12);

  // Move the quote 28 bytes up, last byte first (the ranges overlap).
  const to = l3 + ICMP_UNREACHABLE_OVERHEAD;
  for (let i = quote - 1; i >= 0; i--) view.setUint8(to + i, view.getUint8(l3 + i));

  setMac(view, frameOffset, view.getUint16(frameOffset + 6), view.getUint32(frameOffset + 8));
  setMac(view, frameOffset + 6, macHi16, macLo32);

  const length = ICMP_UNREACHABLE_OVERHEAD + quote;
  view.setUint32(l3, 0x45c00000 | length); // version 4, IHL 5, TOS 0xc0, total length
  view.setUint32(l3 + 4, 0); // ID 0, no flags, offset 0
  view.setUint32(l3 + 8, 0x40010000); // TTL 64, protocol 1, checksum 0
  view.setUint32(l3 + 12, fromIp >>> 0);
  view.setUint32(l3 + 16, srcIp);
  writeIpv4HeaderChecksum(view, l3);

  const icmp = l3 + 20;
  view.setUint32(icmp, 0x0b000000); // type 11, code 0 (TTL exceeded in transit)
  view.setUint32(icmp + 4, 0);
  writeIcmpChecksum(view, icmp, 8 + quote);
  return l3 - frameOffset + length;
}
