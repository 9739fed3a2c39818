/**
 * TCP header view (RFC 9293).
 *
 * Functions take a `DataView` over the whole memory and the ABSOLUTE offset `l4` of the TCP
 * header. Sequence and acknowledgement numbers are unsigned 32-bit numbers.
 *
 * Layout: src port (0), dst port (2), seq (4), ack (8), data offset/flags (12), window (14),
 * checksum (16), urgent pointer (18), options (20..data offset × 4).
 *
 * @example
 * ```ts
 * const f = tcpFlags(view, l4);
 * const isSyn = (f & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN;
 * ```
 */

/** Length of a TCP header without options. */
export const TCP_MIN_HEADER_LENGTH = 20;

/** TCP flag bits as in the flags byte (byte 13). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** Source port. */
export function tcpSrcPort(view: DataView, l4: number): number {
  return view.getUint16(l4);
}

/** Sets the source port (field only; `rewriteSrcPort` in `rewrite.ts` fixes the checksum). */
export function setTcpSrcPort(view: DataView, l4: number, port: number): void {
  view.setUint16(l4, port);
}

/** Destination port. */
export function tcpDstPort(view: DataView, l4: number): number {
  return view.getUint16(l4 + 2);
}

/** Sets the destination port (field only). */
export function setTcpDstPort(view: DataView, l4: number, port: number): void {
  view.setUint16(l4 + 2, port);
}

/** Sequence number. */
export function tcpSeq(view: DataView, l4: number): number {
  return view.getUint32(l4 + 4);
}

/** Sets the sequence number. */
export function setTcpSeq(view: DataView, l4: number, seq: number): void {
  view.setUint32(l4 + 4, seq >>> 0);
}

/** Acknowledgement number. */
export function tcpAck(view: DataView, l4: number): number {
  return view.getUint32(l4 + 8);
}

/** Sets the acknowledgement number. */
export function setTcpAck(view: DataView, l4: number, ack: number): void {
  view.setUint32(l4 + 8, ack >>> 0);
}

/** Data offset in 32-bit words (5..15). */
export function tcpDataOffset(view: DataView, l4: number): number {
  return view.getUint8(l4 + 12) >>> 4;
}

/** Header length in bytes (data offset × 4). */
export function tcpHeaderLength(view: DataView, l4: number): number {
  return (view.getUint8(l4 + 12) >>> 4) << 2;
}

/** Sets the data offset (words), keeping the reserved bits. */
export function setTcpDataOffset(view: DataView, l4: number, words: number): void {
  view.setUint8(l4 + 12, ((words & 0x0f) << 4) | (view.getUint8(l4 + 12) & 0x0f));
}

/** The 8 flag bits (see {@link TcpFlag}). */
export function tcpFlags(view: DataView, l4: number): number {
  return view.getUint8(l4 + 13);
}

/** Sets the 8 flag bits. */
export function setTcpFlags(view: DataView, l4: number, flags: number): void {
  view.setUint8(l4 + 13, flags);
}

/** Receive window. */
export function tcpWindow(view: DataView, l4: number): number {
  return view.getUint16(l4 + 14);
}

/** Sets the receive window. */
export function setTcpWindow(view: DataView, l4: number, window: number): void {
  view.setUint16(l4 + 14, window);
}

/** Checksum field. */
export function tcpChecksum(view: DataView, l4: number): number {
  return view.getUint16(l4 + 16);
}

/** Sets the checksum field. */
export function setTcpChecksum(view: DataView, l4: number, checksum: number): void {
  view.setUint16(l4 + 16, checksum);
}

/** Urgent pointer. */
export function tcpUrgent(view: DataView, l4: number): number {
  return view.getUint16(l4 + 18);
}

/** Sets the urgent pointer. */
export function setTcpUrgent(view: DataView, l4: number, urgent: number): void {
  view.setUint16(l4 + 18, urgent);
}
