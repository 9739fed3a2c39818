/**
 * ICMPv6 view (RFC 4443) with neighbour discovery (RFC 4861).
 *
 * Functions take a `DataView` over the whole memory and the ABSOLUTE offset `l4` of the
 * ICMPv6 header (`layout.l4Offset` when `layout.ipProto === 58`). Every message starts with
 * type, code and checksum (the checksum covers the IPv6 pseudo-header: `checksum-ipv6.ts`).
 * Types below 128 are errors; an error quotes as much of the offending packet as fits in the
 * minimum MTU, starting with its IPv6 header at byte 8 ({@link icmpv6QuotedOffset}); use
 * `findIcmpv6Quote` (`icmpv6-quote.ts`) for its headers and `extractIcmpv6InnerFlowKey`
 * (`flow-key-ipv6.ts`) for the flow it is about. Echo carries an
 * identifier and a sequence number; neighbour solicitation / advertisement a target address
 * at byte 8, router advertisement its parameters, and all NDP messages options after their
 * fixed part ({@link findNdpOption}).
 *
 * @example
 * ```ts
 * const type = icmpv6Type(view, l4);
 * if (type === Icmpv6Type.ECHO_REQUEST) {
 *   const id = icmpv6EchoId(view, l4);
 * } else if (type === Icmpv6Type.NEIGHBOR_SOLICITATION && l4Length >= NDP_NS_NA_LENGTH) {
 *   const target = ndpTargetOffset(l4); // 16 bytes
 *   const sll = findNdpOption(view, l4 + NDP_NS_NA_LENGTH, l4 + l4Length, NdpOption.SOURCE_LINK_LAYER_ADDRESS);
 * }
 * ```
 */

/** Length of the fixed ICMPv6 header nfvkit reads (type, code, checksum, 4 bytes of body). */
export const ICMPV6_HEADER_LENGTH = 8;

/** ICMPv6 message types. */
export const Icmpv6Type = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  ROUTER_SOLICITATION: 133,
  ROUTER_ADVERTISEMENT: 134,
  NEIGHBOR_SOLICITATION: 135,
  NEIGHBOR_ADVERTISEMENT: 136,
  REDIRECT: 137,
} as const;

/** Codes of destination-unreachable messages (RFC 4443 §3.1). */
export const Icmpv6UnreachableCode = {
  NO_ROUTE: 0,
  ADMIN_PROHIBITED: 1,
  BEYOND_SCOPE: 2,
  ADDRESS: 3,
  PORT: 4,
  SOURCE_POLICY: 5,
  REJECT_ROUTE: 6,
} as const;

/** Codes of time-exceeded messages. */
export const Icmpv6TimeExceededCode = {
  HOP_LIMIT: 0,
  REASSEMBLY: 1,
} as const;

/** Codes of parameter-problem messages. */
export const Icmpv6ParameterProblemCode = {
  HEADER_FIELD: 0,
  NEXT_HEADER: 1,
  OPTION: 2,
  FIRST_FRAGMENT_INCOMPLETE: 3,
} as const;

/** NDP option types (RFC 4861 §4.6). */
export const NdpOption = {
  SOURCE_LINK_LAYER_ADDRESS: 1,
  TARGET_LINK_LAYER_ADDRESS: 2,
  PREFIX_INFORMATION: 3,
  REDIRECTED_HEADER: 4,
  MTU: 5,
} as const;

/** Neighbour advertisement flags (first byte after the checksum, as returned by {@link ndpAdvertisementFlags}). */
export const NdpAdvertisementFlag = {
  ROUTER: 0x80,
  SOLICITED: 0x40,
  OVERRIDE: 0x20,
} as const;

/** Bytes of a neighbour solicitation / advertisement before its options (header, reserved, target). */
export const NDP_NS_NA_LENGTH = 24;
/** Bytes of a router solicitation before its options. */
export const NDP_RS_LENGTH = 8;
/** Bytes of a router advertisement before its options. */
export const NDP_RA_LENGTH = 16;
/** The hop limit every NDP message must arrive with (RFC 4861 §6.1, §7.1.1: not forwarded by a router). */
export const NDP_HOP_LIMIT = 255;

/** True for an error message (types 0..127), which quotes the packet that caused it. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/** True for the errors that quote a packet and that nfvkit matches to a flow (1, 2, 3, 4). */
export function isIcmpv6QuotingError(type: number): boolean {
  return type >= 1 && type <= 4;
}

/** True for echo request and echo reply. */
export function isIcmpv6Echo(type: number): boolean {
  return type === 128 || type === 129;
}

/** True for the neighbour-discovery messages RS, RA, NS, NA and redirect (133..137). */
export function isNdp(type: number): boolean {
  return type >= 133 && type <= 137;
}

/** Type. */
export function icmpv6Type(view: DataView, l4: number): number {
  return view.getUint8(l4);
}

/** Sets the type. */
export function setIcmpv6Type(view: DataView, l4: number, type: number): void {
  view.setUint8(l4, type);
}

/** Code. */
export function icmpv6Code(view: DataView, l4: number): number {
  return view.getUint8(l4 + 1);
}

/** Sets the code. */
export function setIcmpv6Code(view: DataView, l4: number, code: number): void {
  view.setUint8(l4 + 1, code);
}

/** Checksum field. */
export function icmpv6Checksum(view: DataView, l4: number): number {
  return view.getUint16(l4 + 2);
}

/** Sets the checksum field. */
export function setIcmpv6Checksum(view: DataView, l4: number, checksum: number): void {
  view.setUint16(l4 + 2, checksum);
}

/** Echo identifier. */
export function icmpv6EchoId(view: DataView, l4: number): number {
  return view.getUint16(l4 + 4);
}

/** Echo sequence number. */
export function icmpv6EchoSeq(view: DataView, l4: number): number {
  return view.getUint16(l4 + 6);
}

/** MTU of a packet-too-big message. */
export function icmpv6Mtu(view: DataView, l4: number): number {
  return view.getUint32(l4 + 4);
}

/** Pointer of a parameter-problem message: offset in the quoted packet of the faulty byte. */
export function icmpv6Pointer(view: DataView, l4: number): number {
  return view.getUint32(l4 + 4);
}

/** Offset of the quoted packet's IPv6 header in an error message (bounds-check before reading). */
export function icmpv6QuotedOffset(l4: number): number {
  return l4 + 8;
}

/** Offset of the 16-byte target address of a neighbour solicitation / advertisement (or redirect). */
export function ndpTargetOffset(l4: number): number {
  return l4 + 8;
}

/** Flags of a neighbour advertisement (see {@link NdpAdvertisementFlag}). */
export function ndpAdvertisementFlags(view: DataView, l4: number): number {
  return view.getUint8(l4 + 4) & 0xe0;
}

/** Current hop limit a router advertisement proposes (0: unspecified). */
export function ndpRaCurHopLimit(view: DataView, l4: number): number {
  return view.getUint8(l4 + 4);
}

/** Flags byte of a router advertisement (M 0x80, O 0x40, …). */
export function ndpRaFlags(view: DataView, l4: number): number {
  return view.getUint8(l4 + 5);
}

/** Router lifetime of a router advertisement, in seconds. */
export function ndpRaRouterLifetime(view: DataView, l4: number): number {
  return view.getUint16(l4 + 6);
}

/** Reachable time of a router advertisement, in milliseconds. */
export function ndpRaReachableTime(view: DataView, l4: number): number {
  return view.getUint32(l4 + 8);
}

/** Retransmission timer of a router advertisement, in milliseconds. */
export function ndpRaRetransTimer(view: DataView, l4: number): number {
  return view.getUint32(l4 + 12);
}

/**
 * Finds the first NDP option of type `type` among the options in `[from, end)` and returns
 * its offset, -1 when there is none, or -2 when the options are malformed (an option of
 * length 0, or one that runs past `end`: RFC 4861 §4.6 says to drop such a message). An
 * option's length is in units of 8 bytes, its type and length included; a link-layer
 * address option's MAC is at offset + 2.
 */
export function findNdpOption(view: DataView, from: number, end: number, type: number): number {
  let p = from;
  let found = -1;
  while (p + 2 <= end) {
    const len = view.getUint8(p + 1) << 3;
    if (len === 0 || p + len > end) return -2;
    if (found < 0 && view.getUint8(p) === type) found = p;
    p += len;
  }
  return p === end ? found : -2;
}
