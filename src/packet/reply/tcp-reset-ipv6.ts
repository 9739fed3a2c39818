/**
 * TCP reset replies over IPv6, built IN PLACE over the received segment: what Linux's
 * `REJECT --reject-with tcp-reset` sends for IPv6 (`nf_send_reset6`). The segment part is
 * the IPv4 writer's (`writeResetSegment` in `tcp-reset.ts`: the same flags, sequence and
 * acknowledgment rules); this file writes the IPv6 header around it.
 *
 * - Link layer: MACs swapped, VLAN tags kept.
 * - IPv6: a fresh 40-byte header (extension headers dropped), addresses swapped, traffic
 *   class 0, flow label 0, hop limit 64, next header 6.
 * - TCP: 20 bytes, checksum over the IPv6 pseudo-header.
 *
 * Check {@link tcpResetPermitted6} first.
 *
 * @example
 * ```ts
 * if (tcpResetPermitted6(view, off, L.l3Offset, L.l4Offset)) {
 *   len = writeTcpReset6(view, off, L.l3Offset, L.l4Offset);
 *   verdict = side;
 * }
 * ```
 */
import { writeTcpChecksumIpv6 } from '../checksum-ipv6.ts';
import { swapEthAddresses } from '../ethernet.ts';
import { ipv6ReplyPermitted } from './icmpv6-error.ts';
import { writeResetSegment } from './tcp-reset.ts';

/** Length of the IPv6 + TCP headers of a reset over IPv6. */
export const TCP_RESET6_L3_LENGTH = 60;

/**
 * True when a reset may answer the TCP segment at `l4` (-1 for a later fragment: no TCP
 * header, no reset) of the IPv6 packet at `l3`: it is not itself a reset, and
 * `ipv6ReplyPermitted` (unicast MAC and destination, a source that is one host).
 */
export function tcpResetPermitted6(view: DataView, frameOffset: number, l3: number, l4: number): boolean {
  if (l4 < 0 || (view.getUint8(l4 + 13) & 0x04) !== 0) return false;
  return ipv6ReplyPermitted(view, frameOffset, l3);
}

/**
 * Rewrites the parsed TCP/IPv6 frame at `frameOffset` (IPv6 header at `l3`, TCP header at
 * `l4`, after any extension headers) into the reset that answers it and returns the new
 * frame length (`l3 - frameOffset + 60`). No allocation; never longer than the original.
 */
export function writeTcpReset6(view: DataView, frameOffset: number, l3: number, l4: number): number {
  const payload = 40 + view.getUint16(l3 + 4) - (l4 - l3) - ((view.getUint8(l4 + 12) >>> 4) << 2);
  swapEthAddresses(view, frameOffset);
  writeResetSegment(view, l4, l3 + 40, payload);
  for (let i = 8; i < 24; i += 4) {
    const a = view.getUint32(l3 + i);
    view.setUint32(l3 + i, view.getUint32(l3 + 16 + i));
    view.setUint32(l3 + 16 + i, a);
  }
  view.setUint32(l3, 0x60000000); // version 6, traffic class 0, flow label 0
  view.setUint32(l3 + 4, (20 << 16) | (6 << 8) | 64); // payload length 20, TCP, hop limit 64
  writeTcpChecksumIpv6(view, l3, l3 + 40, 20);
  return l3 - frameOffset + TCP_RESET6_L3_LENGTH;
}
