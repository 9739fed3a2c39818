/**
 * IPv4 header view (RFC 791).
 *
 * Functions take a `DataView` over the whole memory and the ABSOLUTE offset `l3` of the
 * IPv4 header. Addresses are unsigned 32-bit numbers: the host-order value of the
 * network-order field (198.18.0.1 === 0xC6120001). Setters write the field only; to keep
 * the checksums right use the helpers in `rewrite.ts` (or recompute with `checksum.ts`).
 *
 * Layout: ver/IHL (0), DSCP/ECN (1), total length (2), id (4), flags/fragment offset (6),
 * TTL (8), protocol (9), header checksum (10), src (12), dst (16), options (20..IHL×4).
 *
 * @example
 * ```ts
 * if (ipv4Protocol(view, l3) === IpProto.UDP && ipv4Dst(view, l3) === parseIpv4('198.18.0.1')) {
 *   // …
 * }
 * ```
 */

/** Length of an IPv4 header without options. */
export const IPV4_MIN_HEADER_LENGTH = 20;
/** Largest IPv4 header (IHL 15). */
export const IPV4_MAX_HEADER_LENGTH = 60;

/** IP protocol numbers nfvkit knows. */
export const IpProto = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
} as const;

/** Flag bits of the 3-bit flags field (as returned by `ipv4Flags`). */
export const Ipv4Flag = {
  /** Reserved bit (must be zero). */
  RESERVED: 4,
  /** Don't Fragment. */
  DF: 2,
  /** More Fragments. */
  MF: 1,
} as const;

/** IPv4 option types with special meaning for the option walk. */
export const Ipv4Option = {
  /** End of option list. */
  EOL: 0,
  /** No operation (one byte, padding). */
  NOP: 1,
} as const;

/** Version field (should be 4). */
export function ipv4Version(view: DataView, l3: number): number {
  return view.getUint8(l3) >>> 4;
}

/** IHL: header length in 32-bit words (5..15). */
export function ipv4Ihl(view: DataView, l3: number): number {
  return view.getUint8(l3) & 0x0f;
}

/** Header length in bytes (IHL × 4). */
export function ipv4HeaderLength(view: DataView, l3: number): number {
  return (view.getUint8(l3) & 0x0f) << 2;
}

/** Sets version and IHL (in words). */
export function setIpv4VersionIhl(view: DataView, l3: number, version: number, ihl: number): void {
  view.setUint8(l3, ((version & 0x0f) << 4) | (ihl & 0x0f));
}

/** The whole TOS byte (DSCP << 2 | ECN). */
export function ipv4Tos(view: DataView, l3: number): number {
  return view.getUint8(l3 + 1);
}

/** DSCP (6 bits). */
export function ipv4Dscp(view: DataView, l3: number): number {
  return view.getUint8(l3 + 1) >>> 2;
}

/** ECN (2 bits). */
export function ipv4Ecn(view: DataView, l3: number): number {
  return view.getUint8(l3 + 1) & 3;
}

/** Sets DSCP, keeping ECN. */
export function setIpv4Dscp(view: DataView, l3: number, dscp: number): void {
  view.setUint8(l3 + 1, ((dscp & 0x3f) << 2) | (view.getUint8(l3 + 1) & 3));
}

/** Sets ECN, keeping DSCP. */
export function setIpv4Ecn(view: DataView, l3: number, ecn: number): void {
  view.setUint8(l3 + 1, (view.getUint8(l3 + 1) & 0xfc) | (ecn & 3));
}

/** Total length (header + payload) in bytes. */
export function ipv4TotalLength(view: DataView, l3: number): number {
  return view.getUint16(l3 + 2);
}

/** Sets the total length. */
export function setIpv4TotalLength(view: DataView, l3: number, length: number): void {
  view.setUint16(l3 + 2, length);
}

/** Identification. */
export function ipv4Id(view: DataView, l3: number): number {
  return view.getUint16(l3 + 4);
}

/** Sets the identification. */
export function setIpv4Id(view: DataView, l3: number, id: number): void {
  view.setUint16(l3 + 4, id);
}

/** The 3 flag bits (see {@link Ipv4Flag}). */
export function ipv4Flags(view: DataView, l3: number): number {
  return view.getUint8(l3 + 6) >>> 5;
}

/** Sets the 3 flag bits, keeping the fragment offset. */
export function setIpv4Flags(view: DataView, l3: number, flags: number): void {
  view.setUint16(l3 + 6, ((flags & 7) << 13) | (view.getUint16(l3 + 6) & 0x1fff));
}

/** True when Don't Fragment is set. */
export function ipv4DontFragment(view: DataView, l3: number): boolean {
  return (view.getUint8(l3 + 6) & 0x40) !== 0;
}

/** True when More Fragments is set. */
export function ipv4MoreFragments(view: DataView, l3: number): boolean {
  return (view.getUint8(l3 + 6) & 0x20) !== 0;
}

/** True when the reserved (evil) bit is set. */
export function ipv4ReservedFlag(view: DataView, l3: number): boolean {
  return (view.getUint8(l3 + 6) & 0x80) !== 0;
}

/** Fragment offset in 8-byte units (13 bits). */
export function ipv4FragmentOffset(view: DataView, l3: number): number {
  return view.getUint16(l3 + 6) & 0x1fff;
}

/** Sets the fragment offset (8-byte units), keeping the flags. */
export function setIpv4FragmentOffset(view: DataView, l3: number, units: number): void {
  view.setUint16(l3 + 6, (view.getUint16(l3 + 6) & 0xe000) | (units & 0x1fff));
}

/** True when the packet is a fragment: MF set or fragment offset non-zero. */
export function ipv4IsFragment(view: DataView, l3: number): boolean {
  return (view.getUint16(l3 + 6) & 0x3fff) !== 0;
}

/** Time to live. */
export function ipv4Ttl(view: DataView, l3: number): number {
  return view.getUint8(l3 + 8);
}

/** Sets the TTL (does not fix the checksum; see `decrementTtl` in `rewrite.ts`). */
export function setIpv4Ttl(view: DataView, l3: number, ttl: number): void {
  view.setUint8(l3 + 8, ttl);
}

/** Protocol number (see {@link IpProto}). */
export function ipv4Protocol(view: DataView, l3: number): number {
  return view.getUint8(l3 + 9);
}

/** Sets the protocol number. */
export function setIpv4Protocol(view: DataView, l3: number, proto: number): void {
  view.setUint8(l3 + 9, proto);
}

/** Header checksum field. */
export function ipv4Checksum(view: DataView, l3: number): number {
  return view.getUint16(l3 + 10);
}

/** Sets the header checksum field. */
export function setIpv4Checksum(view: DataView, l3: number, checksum: number): void {
  view.setUint16(l3 + 10, checksum);
}

/** Source address (unsigned 32-bit). */
export function ipv4Src(view: DataView, l3: number): number {
  return view.getUint32(l3 + 12);
}

/** Sets the source address (field only). */
export function setIpv4Src(view: DataView, l3: number, addr: number): void {
  view.setUint32(l3 + 12, addr >>> 0);
}

/** Destination address (unsigned 32-bit). */
export function ipv4Dst(view: DataView, l3: number): number {
  return view.getUint32(l3 + 16);
}

/** Sets the destination address (field only). */
export function setIpv4Dst(view: DataView, l3: number, addr: number): void {
  view.setUint32(l3 + 16, addr >>> 0);
}

/**
 * Formats an address as dotted quad. Allocates: logs and config only.
 *
 * @example
 * ```ts
 * ipv4ToString(0xc6120001); // '198.18.0.1'
 * ```
 */
export function ipv4ToString(addr: number): string {
  return `${(addr >>> 24) & 0xff}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/**
 * Parses a dotted quad into an unsigned 32-bit number; `undefined` if malformed.
 *
 * @example
 * ```ts
 * parseIpv4('198.18.0.1') === 0xc6120001; // true
 * ```
 */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return undefined;
  let addr = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255) return undefined;
    addr = addr * 256 + b;
  }
  return addr;
}
