/**
 * The Internet checksum: full computation (RFC 1071) and incremental update (RFC 1624).
 *
 * Full functions sum 16-bit big-endian words of a byte range of a `DataView` (ABSOLUTE
 * offsets) in an integer accumulator, fold with end-around carry and complement. They never
 * allocate. The checksum of all-zero data is 0xFFFF, as RFC 1071 computes it (this only
 * arises for an all-zero ICMP message; TCP/UDP include the pseudo-header and IPv4 its version).
 *
 * Incremental updates use RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`, which for a correctly
 * checksummed packet gives exactly what a full recompute gives (the property tests check this).
 * `rewrite.ts` builds on them to rewrite addresses, ports, TTL and ICMP ids in place.
 *
 * UDP: a transmitted checksum of 0 means "none" and verifies as valid; a computed 0 is sent
 * as 0xFFFF (RFC 768).
 *
 * @example
 * ```ts
 * writeIpv4HeaderChecksum(view, l3);
 * writeUdpChecksum(view, l3, l4, udpLength(view, l4));
 * verifyIpv4HeaderChecksum(view, l3); // true
 * // DNAT by hand: new checksum after the 32-bit destination changes
 * const c = checksumUpdate32(ipv4Checksum(view, l3), oldDst, newDst);
 * ```
 */

/** Accumulator bound before a fold is forced (keeps the sum a small integer). */
const FOLD_EVERY_WORDS = 8192;

/**
 * Adds the 16-bit big-endian words of `[offset, offset + length)` to `initial` and returns
 * the (unfolded, non-negative integer) sum. An odd last byte is padded with a zero byte.
 * Feed the result to {@link foldSum} / {@link finishChecksum}, or to another call as `initial`
 * (only if the previous range had an even length, as usual for one's complement sums).
 */
export function sumWords(view: DataView, offset: number, length: number, initial = 0): number {
  let sum = initial > 0xffff ? foldSum(initial) : initial;
  let i = offset;
  const end4 = offset + (length & ~3);
  while (i < end4) {
    // Chunks of bounded size keep `sum` below 2^31 so it stays an integer (no doubles).
    const stop = Math.min(end4, i + FOLD_EVERY_WORDS * 4);
    for (; i < stop; i += 4) {
      const w = view.getUint32(i);
      sum += (w >>> 16) + (w & 0xffff);
    }
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  const rest = offset + length - i;
  if (rest >= 2) {
    sum += view.getUint16(i);
    i += 2;
  }
  if ((rest & 1) !== 0) sum += view.getUint8(i) << 8;
  return sum;
}

/** Folds an accumulator to 16 bits with end-around carry (0 only for an all-zero sum). */
export function foldSum(sum: number): number {
  while (sum > 0xffff) {
    sum = sum > 0xffffffff ? (sum % 0x10000) + Math.floor(sum / 0x10000) : (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

/** Checksum field value for an accumulator: the complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/**
 * RFC 1071 checksum of a byte range.
 *
 * @example
 * ```ts
 * // RFC 1071 §3 example bytes 00 01 f2 03 f4 f5 f6 f7: sum 0xddf2, checksum 0x220d
 * internetChecksum(new DataView(Uint8Array.of(0, 1, 0xf2, 3, 0xf4, 0xf5, 0xf6, 0xf7).buffer), 0, 8); // 0x220d
 * ```
 */
export function internetChecksum(view: DataView, offset: number, length: number, initial = 0): number {
  return finishChecksum(sumWords(view, offset, length, initial));
}

/**
 * Sum of the IPv4 pseudo-header (src, dst, zero/protocol, L4 length), for TCP and UDP.
 * Addresses unsigned or as int32 aliases. Result is a small non-negative integer usable as
 * `initial` of {@link sumWords}.
 */
export function pseudoHeaderSum(src: number, dst: number, proto: number, l4Length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + l4Length;
}

// ---------------------------------------------------------------- IPv4 header

/** Header checksum the IPv4 header at `l3` should carry (checksum field taken as zero). */
export function computeIpv4HeaderChecksum(view: DataView, l3: number): number {
  const hlen = (view.getUint8(l3) & 0x0f) << 2;
  return finishChecksum(sumWords(view, l3 + 12, Math.max(0, hlen - 12), sumWords(view, l3, 10)));
}

/** Computes and stores the IPv4 header checksum. */
export function writeIpv4HeaderChecksum(view: DataView, l3: number): void {
  view.setUint16(l3 + 10, computeIpv4HeaderChecksum(view, l3));
}

/**
 * True when the IPv4 header at `l3` (IHL × 4 bytes, which the caller has bounds-checked)
 * sums to 0xFFFF including its checksum field. Specialised for the common IHL 5 case.
 */
export function verifyIpv4HeaderChecksum(view: DataView, l3: number): boolean {
  const ihl = view.getUint8(l3) & 0x0f;
  let sum: number;
  if (ihl === 5) {
    const a = view.getUint32(l3);
    const b = view.getUint32(l3 + 4);
    const c = view.getUint32(l3 + 8);
    const d = view.getUint32(l3 + 12);
    const e = view.getUint32(l3 + 16);
    sum = (a >>> 16) + (a & 0xffff) + (b >>> 16) + (b & 0xffff) + (c >>> 16) + (c & 0xffff)
      + (d >>> 16) + (d & 0xffff) + (e >>> 16) + (e & 0xffff);
  } else {
    sum = sumWords(view, l3, ihl << 2);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

// ---------------------------------------------------------------- TCP / UDP / ICMP

/** TCP checksum the segment at `l4` (of `l4Length` bytes, inside the IPv4 packet at `l3`) should carry. */
export function computeTcpChecksum(view: DataView, l3: number, l4: number, l4Length: number): number {
  const ph = pseudoHeaderSum(view.getInt32(l3 + 12), view.getInt32(l3 + 16), 6, l4Length);
  return finishChecksum(sumWords(view, l4 + 18, Math.max(0, l4Length - 18), sumWords(view, l4, 16, ph)));
}

/** True when the TCP segment's checksum verifies. */
export function verifyTcpChecksum(view: DataView, l3: number, l4: number, l4Length: number): boolean {
  const ph = pseudoHeaderSum(view.getInt32(l3 + 12), view.getInt32(l3 + 16), 6, l4Length);
  return foldSum(sumWords(view, l4, l4Length, ph)) === 0xffff;
}

/** Computes and stores the TCP checksum. */
export function writeTcpChecksum(view: DataView, l3: number, l4: number, l4Length: number): void {
  view.setUint16(l4 + 16, computeTcpChecksum(view, l3, l4, l4Length));
}

/**
 * UDP checksum the datagram at `l4` (`udpLen` = its UDP length field) should carry;
 * never 0 (a computed 0 is returned as 0xFFFF).
 */
export function computeUdpChecksum(view: DataView, l3: number, l4: number, udpLen: number): number {
  const ph = pseudoHeaderSum(view.getInt32(l3 + 12), view.getInt32(l3 + 16), 17, udpLen);
  const c = finishChecksum(sumWords(view, l4 + 8, Math.max(0, udpLen - 8), sumWords(view, l4, 6, ph)));
  return c === 0 ? 0xffff : c;
}

/** True when the UDP checksum is 0 (none sent) or verifies. */
export function verifyUdpChecksum(view: DataView, l3: number, l4: number, udpLen: number): boolean {
  if (view.getUint16(l4 + 6) === 0) return true;
  const ph = pseudoHeaderSum(view.getInt32(l3 + 12), view.getInt32(l3 + 16), 17, udpLen);
  return foldSum(sumWords(view, l4, udpLen, ph)) === 0xffff;
}

/** Computes and stores the UDP checksum. */
export function writeUdpChecksum(view: DataView, l3: number, l4: number, udpLen: number): void {
  view.setUint16(l4 + 6, computeUdpChecksum(view, l3, l4, udpLen));
}

/** ICMP checksum the message at `l4` (`length` bytes, no pseudo-header) should carry. */
export function computeIcmpChecksum(view: DataView, l4: number, length: number): number {
  return finishChecksum(sumWords(view, l4 + 4, Math.max(0, length - 4), sumWords(view, l4, 2)));
}

/** True when the ICMP message's checksum verifies. */
export function verifyIcmpChecksum(view: DataView, l4: number, length: number): boolean {
  return foldSum(sumWords(view, l4, length)) === 0xffff;
}

/** Computes and stores the ICMP checksum. */
export function writeIcmpChecksum(view: DataView, l4: number, length: number): void {
  view.setUint16(l4 + 2, computeIcmpChecksum(view, l4, length));
}

// ---------------------------------------------------------------- RFC 1624 incremental

/**
 * New checksum after a 16-bit field covered by `checksum` changes from `oldValue` to
 * `newValue` (RFC 1624 eqn. 3). Pure arithmetic, no memory access.
 *
 * @example
 * ```ts
 * const c = checksumUpdate16(tcpChecksum(view, l4), oldPort, newPort);
 * ```
 */
export function checksumUpdate16(checksum: number, oldValue: number, newValue: number): number {
  let s = (~checksum & 0xffff) + (~oldValue & 0xffff) + (newValue & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** New checksum after a 32-bit field (e.g. an IPv4 address) changes (RFC 1624 eqn. 3, two halves). */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  let s = (~checksum & 0xffff) + (~oldValue >>> 16 & 0xffff) + (~oldValue & 0xffff)
    + (newValue >>> 16 & 0xffff) + (newValue & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
