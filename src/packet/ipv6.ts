/**
 * IPv6 header view (RFC 8200 §3).
 *
 * Functions take a `DataView` over the whole memory and the ABSOLUTE offset `l3` of the
 * IPv6 header, like `ipv4.ts`. An address is 128 bits: it is read and written as four
 * unsigned 32-bit words, most significant first (`ipv6SrcWord(view, l3, 0)` is the first
 * 32 bits of the source, `2001:0db8` for `2001:db8::1` → 0x20010db8), so nothing is
 * allocated per packet. IPv6 has no header checksum; the TCP, UDP and ICMPv6 checksums cover
 * the addresses through the pseudo-header (`checksum-ipv6.ts`), so rewrite addresses with
 * `rewrite-ipv6.ts` to keep them right.
 *
 * Layout: version/traffic class/flow label (0..3), payload length (4), next header (6),
 * hop limit (7), source (8..23), destination (24..39). The payload length counts every byte
 * after the 40-byte header, extension headers included; extension headers are walked by
 * `ipv6-extension-headers.ts`.
 *
 * @example
 * ```ts
 * if (ipv6Version(view, l3) === 6 && ipv6HopLimit(view, l3) > 1) {
 *   const isDocPrefix = ipv6SrcWord(view, l3, 0) === 0x20010db8; // 2001:db8::/32
 * }
 * ```
 */

/** Length of the fixed IPv6 header. */
export const IPV6_HEADER_LENGTH = 40;

/** Offset of the source address inside the header. */
export const IPV6_SRC_OFFSET = 8;

/** Offset of the destination address inside the header. */
export const IPV6_DST_OFFSET = 24;

/** Next-header values nfvkit knows: upper layers and extension headers (IANA protocol numbers). */
export const Ipv6NextHeader = {
  HOP_BY_HOP: 0,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NO_NEXT_HEADER: 59,
  DESTINATION_OPTIONS: 60,
} as const;

/** Version field (should be 6). */
export function ipv6Version(view: DataView, l3: number): number {
  return view.getUint8(l3) >>> 4;
}

/** Traffic class (8 bits: DSCP << 2 | ECN). */
export function ipv6TrafficClass(view: DataView, l3: number): number {
  return (view.getUint16(l3) >>> 4) & 0xff;
}

/** Sets the traffic class, keeping version and flow label. */
export function setIpv6TrafficClass(view: DataView, l3: number, tc: number): void {
  view.setUint16(l3, (view.getUint16(l3) & 0xf00f) | ((tc & 0xff) << 4));
}

/** Flow label (20 bits). */
export function ipv6FlowLabel(view: DataView, l3: number): number {
  return view.getUint32(l3) & 0xfffff;
}

/** Sets the flow label, keeping version and traffic class. */
export function setIpv6FlowLabel(view: DataView, l3: number, label: number): void {
  view.setUint32(l3, ((view.getUint32(l3) & 0xfff00000) | (label & 0xfffff)) >>> 0);
}

/** Writes the first word: version, traffic class and flow label at once. */
export function setIpv6VersionClassLabel(view: DataView, l3: number, version: number, tc: number, label: number): void {
  view.setUint32(l3, (((version & 0x0f) << 28) | ((tc & 0xff) << 20) | (label & 0xfffff)) >>> 0);
}

/** Payload length: bytes after the 40-byte header (extension headers included). */
export function ipv6PayloadLength(view: DataView, l3: number): number {
  return view.getUint16(l3 + 4);
}

/** Sets the payload length. */
export function setIpv6PayloadLength(view: DataView, l3: number, length: number): void {
  view.setUint16(l3 + 4, length);
}

/** Next header of the fixed header (an upper layer or the first extension header). */
export function ipv6NextHeader(view: DataView, l3: number): number {
  return view.getUint8(l3 + 6);
}

/** Sets the next header of the fixed header. */
export function setIpv6NextHeader(view: DataView, l3: number, next: number): void {
  view.setUint8(l3 + 6, next);
}

/** Hop limit. */
export function ipv6HopLimit(view: DataView, l3: number): number {
  return view.getUint8(l3 + 7);
}

/** Sets the hop limit (no checksum covers it). */
export function setIpv6HopLimit(view: DataView, l3: number, hops: number): void {
  view.setUint8(l3 + 7, hops);
}

/** Word `i` (0..3, most significant first) of the source address, unsigned. */
export function ipv6SrcWord(view: DataView, l3: number, i: number): number {
  return view.getUint32(l3 + 8 + (i << 2));
}

/** Word `i` (0..3, most significant first) of the destination address, unsigned. */
export function ipv6DstWord(view: DataView, l3: number, i: number): number {
  return view.getUint32(l3 + 24 + (i << 2));
}

/** Sets word `i` of the source address (field only: checksums are not fixed). */
export function setIpv6SrcWord(view: DataView, l3: number, i: number, word: number): void {
  view.setUint32(l3 + 8 + (i << 2), word >>> 0);
}

/** Sets word `i` of the destination address (field only: checksums are not fixed). */
export function setIpv6DstWord(view: DataView, l3: number, i: number, word: number): void {
  view.setUint32(l3 + 24 + (i << 2), word >>> 0);
}

/**
 * Copies the source address into `out[at..at+3]` (words, most significant first). `out` is
 * a caller-owned `Uint32Array` (or `Int32Array`: the same bits), allocated once.
 */
export function readIpv6Src(view: DataView, l3: number, out: Uint32Array | Int32Array, at = 0): void {
  out[at] = view.getUint32(l3 + 8);
  out[at + 1] = view.getUint32(l3 + 12);
  out[at + 2] = view.getUint32(l3 + 16);
  out[at + 3] = view.getUint32(l3 + 20);
}

/** Copies the destination address into `out[at..at+3]` (see {@link readIpv6Src}). */
export function readIpv6Dst(view: DataView, l3: number, out: Uint32Array | Int32Array, at = 0): void {
  out[at] = view.getUint32(l3 + 24);
  out[at + 1] = view.getUint32(l3 + 28);
  out[at + 2] = view.getUint32(l3 + 32);
  out[at + 3] = view.getUint32(l3 + 36);
}

/** True when the source address equals the destination address of the same header. */
export function ipv6SrcEqualsDst(view: DataView, l3: number): boolean {
  return view.getInt32(l3 + 8) === view.getInt32(l3 + 24) && view.getInt32(l3 + 12) === view.getInt32(l3 + 28)
    && view.getInt32(l3 + 16) === view.getInt32(l3 + 32) && view.getInt32(l3 + 20) === view.getInt32(l3 + 36);
}

/** True for a multicast address (ff00::/8) at `addr` (the absolute offset of its first byte). */
export function ipv6IsMulticastAt(view: DataView, addr: number): boolean {
  return view.getUint8(addr) === 0xff;
}

/** True for the unspecified address (::) at `addr`. */
export function ipv6IsUnspecifiedAt(view: DataView, addr: number): boolean {
  return (view.getInt32(addr) | view.getInt32(addr + 4) | view.getInt32(addr + 8) | view.getInt32(addr + 12)) === 0;
}

/** True for a link-local unicast address (fe80::/10) at `addr`. */
export function ipv6IsLinkLocalAt(view: DataView, addr: number): boolean {
  return (view.getUint16(addr) & 0xffc0) === 0xfe80;
}

/**
 * Formats the 16 address bytes at `addr` in full, uncompressed form (`2001:db8:0:0:0:0:0:1`):
 * eight groups without leading zeros. Allocates: logs and tests only. The compressed text
 * form (RFC 5952) belongs to the address module of the configuration layer.
 *
 * @example
 * ```ts
 * ipv6ToFullString(view, l3 + IPV6_SRC_OFFSET); // '2001:db8:0:0:0:0:0:1'
 * ```
 */
export function ipv6ToFullString(view: DataView, addr: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(view.getUint16(addr + 2 * i).toString(16));
  return groups.join(':');
}
