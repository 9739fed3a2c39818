/**
 * Upper-layer checksums over IPv6 (RFC 8200 §8.1) and the RFC 1624 update for a 128-bit
 * address.
 *
 * TCP, UDP and ICMPv6 (unlike ICMP for IPv4) all cover the IPv6 pseudo-header: source
 * address, destination address, the 32-bit upper-layer length and the next-header value of
 * the upper layer (not of an extension header). Functions take the ABSOLUTE offset `l3` of
 * the IPv6 header and, as `dstAt`, the offset of the destination address the pseudo-header
 * uses: the header's own by default, or the final destination a routing header names
 * (`Ipv6HeaderChain.finalDestination`). They build on the sums of `checksum.ts` and never
 * allocate.
 *
 * UDP over IPv6 must carry a checksum: a 0 field is not "none" as over IPv4 but invalid
 * (RFC 8200 §8.1; RFC 6935 allows it only on tunnels configured for it), so
 * {@link verifyUdpChecksumIpv6} refuses it; a computed 0 is sent as 0xFFFF.
 *
 * @example
 * ```ts
 * writeTcpChecksumIpv6(view, l3, l4, tcpLength);
 * verifyIcmpv6Checksum(view, l3, l4, icmpLength); // true
 * // rewriting the destination: one update for all 128 bits
 * const c = checksumUpdate128(tcpChecksum(view, l4), o0, o1, o2, o3, n0, n1, n2, n3);
 * ```
 */
import { finishChecksum, foldSum, sumWords } from './checksum.ts';

/**
 * Sum of the IPv6 pseudo-header: the 16-byte addresses at `srcAt` and `dstAt`, the 32-bit
 * upper-layer length and `next` (the upper-layer protocol). Usable as `initial` of `sumWords`.
 */
export function pseudoHeaderSumIpv6(view: DataView, srcAt: number, dstAt: number, next: number, upperLength: number): number {
  let sum = 0;
  for (let i = 0; i < 16; i += 4) {
    const s = view.getUint32(srcAt + i);
    const d = view.getUint32(dstAt + i);
    sum += (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff);
  }
  return sum + Math.floor(upperLength / 0x10000) + (upperLength & 0xffff) + next;
}

/** Upper-layer checksum over `[l4, l4 + length)` with the pseudo-header, the field at `l4 + field` taken as zero. */
function computeWithPseudoHeader(view: DataView, l3: number, dstAt: number, next: number, l4: number, length: number, field: number): number {
  const ph = pseudoHeaderSumIpv6(view, l3 + 8, dstAt, next, length);
  return finishChecksum(sumWords(view, l4 + field + 2, Math.max(0, length - field - 2), sumWords(view, l4, field, ph)));
}

/** True when `[l4, l4 + length)` with the pseudo-header sums to 0xFFFF. */
function verifyWithPseudoHeader(view: DataView, l3: number, dstAt: number, next: number, l4: number, length: number): boolean {
  return foldSum(sumWords(view, l4, length, pseudoHeaderSumIpv6(view, l3 + 8, dstAt, next, length))) === 0xffff;
}

/** TCP checksum the segment at `l4` (`length` bytes) of the IPv6 packet at `l3` should carry. */
export function computeTcpChecksumIpv6(view: DataView, l3: number, l4: number, length: number, dstAt = l3 + 24): number {
  return computeWithPseudoHeader(view, l3, dstAt, 6, l4, length, 16);
}

/** True when the TCP segment's checksum verifies over IPv6. */
export function verifyTcpChecksumIpv6(view: DataView, l3: number, l4: number, length: number, dstAt = l3 + 24): boolean {
  return verifyWithPseudoHeader(view, l3, dstAt, 6, l4, length);
}

/** Computes and stores the TCP checksum over IPv6. */
export function writeTcpChecksumIpv6(view: DataView, l3: number, l4: number, length: number, dstAt = l3 + 24): void {
  view.setUint16(l4 + 16, computeTcpChecksumIpv6(view, l3, l4, length, dstAt));
}

/** UDP checksum the datagram at `l4` (`udpLen` = its length field) should carry over IPv6; never 0. */
export function computeUdpChecksumIpv6(view: DataView, l3: number, l4: number, udpLen: number, dstAt = l3 + 24): number {
  const c = computeWithPseudoHeader(view, l3, dstAt, 17, l4, udpLen, 6);
  return c === 0 ? 0xffff : c;
}

/** True when the UDP checksum verifies over IPv6; false for a 0 field (no checksum is invalid over IPv6). */
export function verifyUdpChecksumIpv6(view: DataView, l3: number, l4: number, udpLen: number, dstAt = l3 + 24): boolean {
  if (view.getUint16(l4 + 6) === 0) return false;
  return verifyWithPseudoHeader(view, l3, dstAt, 17, l4, udpLen);
}

/** Computes and stores the UDP checksum over IPv6. */
export function writeUdpChecksumIpv6(view: DataView, l3: number, l4: number, udpLen: number, dstAt = l3 + 24): void {
  view.setUint16(l4 + 6, computeUdpChecksumIpv6(view, l3, l4, udpLen, dstAt));
}

/** ICMPv6 checksum the message at `l4` (`length` bytes) should carry (pseudo-header included, RFC 4443 §2.3). */
export function computeIcmpv6Checksum(view: DataView, l3: number, l4: number, length: number, dstAt = l3 + 24): number {
  return computeWithPseudoHeader(view, l3, dstAt, 58, l4, length, 2);
}

/** True when the ICMPv6 message's checksum verifies. */
export function verifyIcmpv6Checksum(view: DataView, l3: number, l4: number, length: number, dstAt = l3 + 24): boolean {
  return verifyWithPseudoHeader(view, l3, dstAt, 58, l4, length);
}

/** Computes and stores the ICMPv6 checksum. */
export function writeIcmpv6Checksum(view: DataView, l3: number, l4: number, length: number, dstAt = l3 + 24): void {
  view.setUint16(l4 + 2, computeIcmpv6Checksum(view, l3, l4, length, dstAt));
}

/**
 * New checksum after a 128-bit field covered by `checksum` (an IPv6 address in the
 * pseudo-header) changes from words `o0..o3` to `n0..n3` (most significant first; unsigned
 * or int32 aliases): RFC 1624 eqn. 3 over the eight 16-bit halves. Pure arithmetic.
 *
 * @example
 * ```ts
 * const c = checksumUpdate128(old, 0x20010db8, 0, 0, 1, 0x20010db8, 0, 0, 2); // 2001:db8::1 → 2001:db8::2
 * ```
 */
export function checksumUpdate128(
  checksum: number, o0: number, o1: number, o2: number, o3: number, n0: number, n1: number, n2: number, n3: number,
): number {
  let s = (~checksum & 0xffff)
    + (~o0 >>> 16 & 0xffff) + (~o0 & 0xffff) + (~o1 >>> 16 & 0xffff) + (~o1 & 0xffff)
    + (~o2 >>> 16 & 0xffff) + (~o2 & 0xffff) + (~o3 >>> 16 & 0xffff) + (~o3 & 0xffff)
    + (n0 >>> 16 & 0xffff) + (n0 & 0xffff) + (n1 >>> 16 & 0xffff) + (n1 & 0xffff)
    + (n2 >>> 16 & 0xffff) + (n2 & 0xffff) + (n3 >>> 16 & 0xffff) + (n3 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
