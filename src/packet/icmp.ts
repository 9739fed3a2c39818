/**
 * ICMP (for IPv4, RFC 792) view.
 *
 * Functions take a `DataView` over the whole memory and the ABSOLUTE offset `l4` of the ICMP
 * header. Echo request/reply carry an identifier and a sequence number in bytes 4..7; error
 * messages (destination unreachable, time exceeded, parameter problem, …) quote the offending
 * IPv4 header plus at least 8 bytes of its payload starting at byte 8.
 *
 * @example
 * ```ts
 * if (icmpType(view, l4) === IcmpType.ECHO_REQUEST) {
 *   const id = icmpEchoId(view, l4);
 * } else if (isIcmpError(icmpType(view, l4))) {
 *   const inner = icmpInnerIpv4Offset(l4); // quoted IPv4 header; bounds-check before reading
 * }
 * ```
 */

/** Length of the fixed ICMP header (type, code, checksum, 4 bytes of rest-of-header). */
export const ICMP_HEADER_LENGTH = 8;

/** ICMP message types. */
export const IcmpType = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
} as const;

/** Codes of destination-unreachable messages that nfvkit emits or interprets. */
export const IcmpUnreachableCode = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAGMENTATION_NEEDED: 4,
  ADMIN_PROHIBITED: 13,
} as const;

/** Codes of time-exceeded messages. */
export const IcmpTimeExceededCode = {
  TTL: 0,
  REASSEMBLY: 1,
} as const;

/** True for echo request and echo reply (the types with identifier/sequence). */
export function isIcmpEcho(type: number): boolean {
  return type === 0 || type === 8;
}

/** True for error types that quote an inner IPv4 header (3, 4, 5, 11, 12). */
export function isIcmpError(type: number): boolean {
  return type === 3 || type === 11 || type === 12 || type === 5 || type === 4;
}

/** Message type. */
export function icmpType(view: DataView, l4: number): number {
  return view.getUint8(l4);
}

/** Sets the type (field only; see `checksum.ts` to fix the checksum). */
export function setIcmpType(view: DataView, l4: number, type: number): void {
  view.setUint8(l4, type);
}

/** Message code. */
export function icmpCode(view: DataView, l4: number): number {
  return view.getUint8(l4 + 1);
}

/** Sets the code. */
export function setIcmpCode(view: DataView, l4: number, code: number): void {
  view.setUint8(l4 + 1, code);
}

/** Checksum field. */
export function icmpChecksum(view: DataView, l4: number): number {
  return view.getUint16(l4 + 2);
}

/** Sets the checksum field. */
export function setIcmpChecksum(view: DataView, l4: number, checksum: number): void {
  view.setUint16(l4 + 2, checksum);
}

/** Echo identifier (bytes 4..5). */
export function icmpEchoId(view: DataView, l4: number): number {
  return view.getUint16(l4 + 4);
}

/** Sets the echo identifier (field only; `rewriteIcmpEchoId` in `rewrite.ts` fixes the checksum). */
export function setIcmpEchoId(view: DataView, l4: number, id: number): void {
  view.setUint16(l4 + 4, id);
}

/** Echo sequence number (bytes 6..7). */
export function icmpEchoSeq(view: DataView, l4: number): number {
  return view.getUint16(l4 + 6);
}

/** Sets the echo sequence number. */
export function setIcmpEchoSeq(view: DataView, l4: number, seq: number): void {
  view.setUint16(l4 + 6, seq);
}

/** The 4-byte rest-of-header of non-echo messages (e.g. next-hop MTU for code 4). */
export function icmpRestOfHeader(view: DataView, l4: number): number {
  return view.getUint32(l4 + 4);
}

/** Offset of the quoted IPv4 header inside an ICMP error message at `l4`. */
export function icmpInnerIpv4Offset(l4: number): number {
  return l4 + ICMP_HEADER_LENGTH;
}
