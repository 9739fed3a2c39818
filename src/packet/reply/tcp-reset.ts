/**
 * TCP reset replies, built IN PLACE over the received segment (RFC 9293 §3.10.7.1, and what
 * Linux's `REJECT --reject-with tcp-reset` sends): the frame is turned into the RST that
 * answers it, so it can leave on the side it arrived on without touching the packet pool.
 *
 * - Link layer: source and destination MAC swapped; VLAN tags (between the MACs and `l3`)
 *   are kept.
 * - IPv4: a fresh 20-byte header (options dropped), addresses swapped, TTL 64, ID 0, DF,
 *   TOS 0, checksum computed.
 * - TCP: ports swapped, 20-byte header, window 0. If the received segment had ACK, the reset
 *   is `RST` with `seq = received ack`; otherwise it is `RST|ACK` with `seq = 0` and
 *   `ack = received seq + payload length + SYN + FIN` (so a SYN gets `RST,ACK ack=isn+1`).
 *
 * Never answer a reset with a reset, nor a datagram whose addresses do not name one host:
 * check {@link tcpResetPermitted} first.
 *
 * @example
 * ```ts
 * if (tcpResetPermitted(view, off, L.l3Offset, L.l4Offset)) {
 *   len = writeTcpReset(view, off, L.l3Offset, L.l4Offset);
 *   verdict = side; // back where it came from
 * }
 * ```
 */
import { writeIpv4HeaderChecksum, writeTcpChecksum } from '../checksum.ts';
import { swapEthAddresses } from '../ethernet.ts';
import { ipv4ReplyPermitted } from './icmp-unreachable.ts';

/** Length of the IPv4 + TCP headers of a reset (no options). */
export const TCP_RESET_L3_LENGTH = 40;

/**
 * True when a reset may be sent for the TCP segment at `l4` (IPv4 header at `l3`, frame at
 * `frameOffset`): the segment is not itself a reset, and `ipv4ReplyPermitted` (IPv4 — false
 * for IPv6: see `tcp-reset-ipv6.ts` —, unicast MAC, both addresses one host).
 */
export function tcpResetPermitted(view: DataView, frameOffset: number, l3: number, l4: number): boolean {
  return (view.getUint8(l4 + 13) & 0x04) === 0 && ipv4ReplyPermitted(view, frameOffset, l3);
}

/**
 * Rewrites the parsed TCP/IPv4 frame at `frameOffset` (IPv4 header at `l3`, TCP header at
 * `l4`) into the reset that answers it and returns the new frame length
 * (`l3 - frameOffset + 40`). No allocation; the result never grows past the original headers.
 */
export function writeTcpReset(view: DataView, frameOffset: number, l3: number, l4: number): number {
  // Read everything needed before anything is overwritten (the TCP header moves if the
  // received IPv4 header had options).
  const srcIp = view.getUint32(l3 + 12);
  const dstIp = view.getUint32(l3 + 16);
  const payload = view.getUint16(l3 + 2) - (l4 - l3) - ((view.getUint8(l4 + 12) >>> 4) << 2);

  swapEthAddresses(view, frameOffset);
  // The TCP header first: it is read from `l4` and written at `l3 + 20` (≤ l4).
  writeResetSegment(view, l4, l3 + 20, payload);

  // IPv4 header.
  view.setUint32(l3, 0x45000000 | TCP_RESET_L3_LENGTH); // version 4, IHL 5, TOS 0, total length
  view.setUint32(l3 + 4, 0x00004000); // ID 0, DF, fragment offset 0
  view.setUint32(l3 + 8, 0x40060000); // TTL 64, protocol 6, checksum 0
  view.setUint32(l3 + 12, dstIp);
  view.setUint32(l3 + 16, srcIp);
  writeIpv4HeaderChecksum(view, l3);
  writeTcpChecksum(view, l3, l3 + 20, 20);
  return l3 - frameOffset + TCP_RESET_L3_LENGTH;
}

/**
 * Writes at `t` the 20-byte TCP header of the reset that answers the segment whose header
 * is at `l4` (`t` ≤ `l4`: every field is read before the first write) and that carried
 * `payload` bytes of data: ports swapped, window 0, checksum 0 (the caller computes it over
 * its family's pseudo-header). With ACK received, `RST` with `seq = received ack`; else
 * `RST|ACK` with `seq = 0` and `ack = seq + payload + SYN + FIN`. Shared by the IPv4 and
 * IPv6 writers (`tcp-reset-ipv6.ts`).
 */
export function writeResetSegment(view: DataView, l4: number, t: number, payload: number): void {
  const ports = view.getUint32(l4);
  const seq = view.getUint32(l4 + 4);
  const ack = view.getUint32(l4 + 8);
  const flags = view.getUint8(l4 + 13);
  view.setUint32(t, ((ports << 16) | (ports >>> 16)) >>> 0);
  if ((flags & 0x10) !== 0) {
    view.setUint32(t + 4, ack);
    view.setUint32(t + 8, 0);
    view.setUint32(t + 12, 0x50040000); // data offset 5, RST, window 0
  } else {
    const consumed = payload + ((flags & 0x02) !== 0 ? 1 : 0) + ((flags & 0x01) !== 0 ? 1 : 0);
    view.setUint32(t + 4, 0);
    view.setUint32(t + 8, (seq + consumed) >>> 0);
    view.setUint32(t + 12, 0x50140000); // data offset 5, RST|ACK, window 0
  }
  view.setUint32(t + 16, 0); // checksum 0, urgent pointer 0
}
