/**
 * ARP view for Ethernet/IPv4 (RFC 826): the only ARP flavour nfvkit speaks.
 *
 * Functions take a `DataView` over the whole memory and the ABSOLUTE offset `a` of the ARP
 * header (the frame's `l3Offset`). MACs are (hi16, lo32) pairs, IPv4 addresses unsigned
 * 32-bit numbers, as in `ethernet.ts` / `ipv4.ts`.
 *
 * Layout: htype (0), ptype (2), hlen (4), plen (5), op (6), sha (8), spa (14), tha (18), tpa (24).
 *
 * @example
 * ```ts
 * // Answer a request for an address we own, in place, then send the frame back.
 * if (arpOp(view, a) === ArpOp.REQUEST && arpTpa(view, a) === myIp) {
 *   arpFrameToReply(view, frameOffset, a, myMacHi16, myMacLo32);
 * }
 * ```
 */

/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LENGTH = 28;
/** htype for Ethernet. */
export const ARP_HTYPE_ETHERNET = 1;
/** ptype for IPv4. */
export const ARP_PTYPE_IPV4 = 0x0800;

/** ARP operation codes. */
export const ArpOp = {
  REQUEST: 1,
  REPLY: 2,
} as const;

/** Hardware type (1 = Ethernet). */
export function arpHtype(view: DataView, a: number): number {
  return view.getUint16(a);
}

/** Protocol type (0x0800 = IPv4). */
export function arpPtype(view: DataView, a: number): number {
  return view.getUint16(a + 2);
}

/** Hardware address length (6). */
export function arpHlen(view: DataView, a: number): number {
  return view.getUint8(a + 4);
}

/** Protocol address length (4). */
export function arpPlen(view: DataView, a: number): number {
  return view.getUint8(a + 5);
}

/** Operation (see {@link ArpOp}). */
export function arpOp(view: DataView, a: number): number {
  return view.getUint16(a + 6);
}

/** Sets the operation. */
export function setArpOp(view: DataView, a: number, op: number): void {
  view.setUint16(a + 6, op);
}

/** Writes the fixed Ethernet/IPv4 preamble: htype 1, ptype 0x0800, hlen 6, plen 4, and `op`. */
export function writeArpHeader(view: DataView, a: number, op: number): void {
  view.setUint16(a, ARP_HTYPE_ETHERNET);
  view.setUint16(a + 2, ARP_PTYPE_IPV4);
  view.setUint8(a + 4, 6);
  view.setUint8(a + 5, 4);
  view.setUint16(a + 6, op);
}

/** Sender hardware address, first two bytes. */
export function arpShaHi16(view: DataView, a: number): number {
  return view.getUint16(a + 8);
}

/** Sender hardware address, last four bytes. */
export function arpShaLo32(view: DataView, a: number): number {
  return view.getUint32(a + 10);
}

/** Sets the sender hardware address. */
export function setArpSha(view: DataView, a: number, hi16: number, lo32: number): void {
  view.setUint16(a + 8, hi16);
  view.setUint32(a + 10, lo32 >>> 0);
}

/** Sender protocol (IPv4) address. */
export function arpSpa(view: DataView, a: number): number {
  return view.getUint32(a + 14);
}

/** Sets the sender protocol address. */
export function setArpSpa(view: DataView, a: number, addr: number): void {
  view.setUint32(a + 14, addr >>> 0);
}

/** Target hardware address, first two bytes. */
export function arpThaHi16(view: DataView, a: number): number {
  return view.getUint16(a + 18);
}

/** Target hardware address, last four bytes. */
export function arpThaLo32(view: DataView, a: number): number {
  return view.getUint32(a + 20);
}

/** Sets the target hardware address. */
export function setArpTha(view: DataView, a: number, hi16: number, lo32: number): void {
  view.setUint16(a + 18, hi16);
  view.setUint32(a + 20, lo32 >>> 0);
}

/** Target protocol (IPv4) address. */
export function arpTpa(view: DataView, a: number): number {
  return view.getUint32(a + 24);
}

/** Sets the target protocol address. */
export function setArpTpa(view: DataView, a: number, addr: number): void {
  view.setUint32(a + 24, addr >>> 0);
}

/**
 * Turns the ARP request at `a` into the reply "tpa is at (macHi16, macLo32)", in place:
 * op = REPLY, target = old sender, sender = (our MAC, old target address).
 * The Ethernet header is not touched (see {@link arpFrameToReply}).
 */
export function arpToReply(view: DataView, a: number, macHi16: number, macLo32: number): void {
  const askedFor = view.getUint32(a + 24);
  view.setUint16(a + 6, ArpOp.REPLY);
  view.setUint16(a + 18, view.getUint16(a + 8));
  view.setUint32(a + 20, view.getUint32(a + 10));
  view.setUint32(a + 24, view.getUint32(a + 14));
  view.setUint16(a + 8, macHi16);
  view.setUint32(a + 10, macLo32 >>> 0);
  view.setUint32(a + 14, askedFor);
}

/**
 * Like {@link arpToReply}, and also readdresses the Ethernet header at `eth`:
 * destination = the requester's MAC (old sha), source = our MAC. VLAN tags are kept.
 */
export function arpFrameToReply(view: DataView, eth: number, a: number, macHi16: number, macLo32: number): void {
  view.setUint16(eth, view.getUint16(a + 8));
  view.setUint32(eth + 2, view.getUint32(a + 10));
  view.setUint16(eth + 6, macHi16);
  view.setUint32(eth + 8, macLo32 >>> 0);
  arpToReply(view, a, macHi16, macLo32);
}
