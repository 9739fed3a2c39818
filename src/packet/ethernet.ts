/**
 * Ethernet II header view, with 802.1Q / 802.1ad VLAN tags.
 *
 * Every function takes a `DataView` over the whole memory (e.g. the packet pool) and an
 * ABSOLUTE byte offset. A MAC address is read and written as two numbers, `hi16` (first two
 * bytes) and `lo32` (last four bytes, unsigned), so per-packet code never allocates;
 * `macToString` / `parseMac` are for config and logs only.
 *
 * Layout: dst MAC (0..5), src MAC (6..11), EtherType/TPID (12..13). A VLAN tag is the TPID
 * (0x8100 or 0x88a8) followed by the TCI (PCP 3 bits, DEI 1 bit, VID 12 bits) and the next
 * EtherType.
 *
 * @example
 * ```ts
 * if (ethType(view, off) === EtherType.ARP) {
 *   setMac(view, off + ETH_DST_OFFSET, macSrcHi16(view, off), macSrcLo32(view, off));
 * }
 * ```
 */

/** Length of the untagged Ethernet header (no FCS). */
export const ETH_HEADER_LENGTH = 14;
/** Length of one VLAN tag (TPID + TCI). */
export const VLAN_TAG_LENGTH = 4;
/** Offset of the destination MAC inside the header. */
export const ETH_DST_OFFSET = 0;
/** Offset of the source MAC inside the header. */
export const ETH_SRC_OFFSET = 6;
/** Offset of the (outer) EtherType / TPID inside the header. */
export const ETH_TYPE_OFFSET = 12;
/** Most VLAN tags `parseFrame` accepts (single tag or QinQ). */
export const MAX_VLAN_TAGS = 2;

/** EtherType values nfvkit knows. */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  /** 802.1Q customer VLAN tag. */
  VLAN: 0x8100,
  /** 802.1ad service VLAN tag (QinQ outer tag). */
  QINQ: 0x88a8,
  IPV6: 0x86dd,
} as const;

/** True for a TPID that starts a VLAN tag (0x8100 or 0x88a8). */
export function isVlanTpid(type: number): boolean {
  return type === 0x8100 || type === 0x88a8;
}

/** First two bytes of the MAC at `macOffset`. */
export function macHi16(view: DataView, macOffset: number): number {
  return view.getUint16(macOffset);
}

/** Last four bytes of the MAC at `macOffset`, as an unsigned 32-bit number. */
export function macLo32(view: DataView, macOffset: number): number {
  return view.getUint32(macOffset + 2);
}

/** Writes a MAC given as (hi16, lo32) at `macOffset`. */
export function setMac(view: DataView, macOffset: number, hi16: number, lo32: number): void {
  view.setUint16(macOffset, hi16);
  view.setUint32(macOffset + 2, lo32 >>> 0);
}

/** Copies the 6-byte MAC at `fromOffset` to `toOffset` (both absolute). */
export function copyMac(view: DataView, fromOffset: number, toOffset: number): void {
  const hi = view.getUint16(fromOffset);
  const lo = view.getUint32(fromOffset + 2);
  view.setUint16(toOffset, hi);
  view.setUint32(toOffset + 2, lo);
}

/** Destination MAC, first two bytes. */
export function ethDstHi16(view: DataView, off: number): number {
  return view.getUint16(off);
}

/** Destination MAC, last four bytes. */
export function ethDstLo32(view: DataView, off: number): number {
  return view.getUint32(off + 2);
}

/** Source MAC, first two bytes. */
export function ethSrcHi16(view: DataView, off: number): number {
  return view.getUint16(off + 6);
}

/** Source MAC, last four bytes. */
export function ethSrcLo32(view: DataView, off: number): number {
  return view.getUint32(off + 8);
}

/** Sets the destination MAC. */
export function setEthDst(view: DataView, off: number, hi16: number, lo32: number): void {
  setMac(view, off, hi16, lo32);
}

/** Sets the source MAC. */
export function setEthSrc(view: DataView, off: number, hi16: number, lo32: number): void {
  setMac(view, off + 6, hi16, lo32);
}

/** Swaps source and destination MAC in place (for replies). */
export function swapEthAddresses(view: DataView, off: number): void {
  const dHi = view.getUint16(off);
  const dLo = view.getUint32(off + 2);
  view.setUint16(off, view.getUint16(off + 6));
  view.setUint32(off + 2, view.getUint32(off + 8));
  view.setUint16(off + 6, dHi);
  view.setUint32(off + 8, dLo);
}

/** The outer EtherType or TPID (bytes 12..13). */
export function ethType(view: DataView, off: number): number {
  return view.getUint16(off + 12);
}

/** Sets the outer EtherType or TPID. */
export function setEthType(view: DataView, off: number, type: number): void {
  view.setUint16(off + 12, type);
}

/** TPID of the VLAN tag at `tagOffset` (0x8100 / 0x88a8). */
export function vlanTpid(view: DataView, tagOffset: number): number {
  return view.getUint16(tagOffset);
}

/** Full 16-bit TCI of the tag at `tagOffset` (offset of its TPID). */
export function vlanTci(view: DataView, tagOffset: number): number {
  return view.getUint16(tagOffset + 2);
}

/** VLAN ID (12 bits) of the tag at `tagOffset`. */
export function vlanId(view: DataView, tagOffset: number): number {
  return view.getUint16(tagOffset + 2) & 0x0fff;
}

/** Priority code point (3 bits) of the tag at `tagOffset`. */
export function vlanPcp(view: DataView, tagOffset: number): number {
  return view.getUint8(tagOffset + 2) >>> 5;
}

/** Drop-eligible indicator (0/1) of the tag at `tagOffset`. */
export function vlanDei(view: DataView, tagOffset: number): number {
  return (view.getUint8(tagOffset + 2) >>> 4) & 1;
}

/** EtherType that follows the tag at `tagOffset` (may be another TPID). */
export function vlanInnerType(view: DataView, tagOffset: number): number {
  return view.getUint16(tagOffset + 4);
}

/** Writes a whole tag at `tagOffset`: TPID, PCP, DEI, VID. Does not touch the inner type. */
export function setVlanTag(view: DataView, tagOffset: number, tpid: number, pcp: number, dei: number, vid: number): void {
  view.setUint16(tagOffset, tpid);
  view.setUint16(tagOffset + 2, ((pcp & 7) << 13) | ((dei & 1) << 12) | (vid & 0x0fff));
}

/** Rewrites only the VLAN ID of the tag at `tagOffset`, keeping PCP and DEI. */
export function setVlanId(view: DataView, tagOffset: number, vid: number): void {
  view.setUint16(tagOffset + 2, (view.getUint16(tagOffset + 2) & 0xf000) | (vid & 0x0fff));
}

/**
 * Formats a MAC as `aa:bb:cc:dd:ee:ff`. Allocates: config and logs only.
 *
 * @example
 * ```ts
 * macToString(0x0200, 0x00000001); // '02:00:00:00:00:01'
 * ```
 */
export function macToString(hi16: number, lo32: number): string {
  const b = [(hi16 >>> 8) & 0xff, hi16 & 0xff, (lo32 >>> 24) & 0xff, (lo32 >>> 16) & 0xff, (lo32 >>> 8) & 0xff, lo32 & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * Parses `aa:bb:cc:dd:ee:ff` (or `-` separated) into `[hi16, lo32]`; returns `undefined`
 * for anything else. Allocates: config only.
 */
export function parseMac(text: string): [number, number] | undefined {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (m === null) return undefined;
  const b = m.slice(1).map((x) => parseInt(x, 16));
  return [(b[0] << 8) | b[1], ((b[2] << 24) | (b[3] << 16) | (b[4] << 8) | b[5]) >>> 0];
}
