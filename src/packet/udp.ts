/**
 * UDP header view (RFC 768).
 *
 * Functions take a `DataView` over the whole memory and the ABSOLUTE offset `l4` of the UDP
 * header. A checksum field of 0 means "no checksum" (see `checksum.ts`).
 *
 * Layout: src port (0), dst port (2), length (4), checksum (6).
 *
 * @example
 * ```ts
 * const payloadBytes = udpLength(view, l4) - UDP_HEADER_LENGTH;
 * ```
 */

/** Length of the UDP header. */
export const UDP_HEADER_LENGTH = 8;

/** Source port. */
export function udpSrcPort(view: DataView, l4: number): number {
  return view.getUint16(l4);
}

/** Sets the source port (field only; `rewriteSrcPort` in `rewrite.ts` fixes the checksum). */
export function setUdpSrcPort(view: DataView, l4: number, port: number): void {
  view.setUint16(l4, port);
}

/** Destination port. */
export function udpDstPort(view: DataView, l4: number): number {
  return view.getUint16(l4 + 2);
}

/** Sets the destination port (field only). */
export function setUdpDstPort(view: DataView, l4: number, port: number): void {
  view.setUint16(l4 + 2, port);
}

/** Length field: header + payload in bytes. */
export function udpLength(view: DataView, l4: number): number {
  return view.getUint16(l4 + 4);
}

/** Sets the length field. */
export function setUdpLength(view: DataView, l4: number, length: number): void {
  view.setUint16(l4 + 4, length);
}

/** Checksum field (0 = not computed by the sender). */
export function udpChecksum(view: DataView, l4: number): number {
  return view.getUint16(l4 + 6);
}

/** Sets the checksum field. */
export function setUdpChecksum(view: DataView, l4: number, checksum: number): void {
  view.setUint16(l4 + 6, checksum);
}
