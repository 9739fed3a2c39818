/**
 * The VXLAN header (RFC 7348 §5): 8 bytes in front of the inner Ethernet frame, carried in
 * UDP (IANA port 4789).
 *
 * ```
 * 0      1      2      3
 * flags  reserved (24 bits)       flags: R R R R I R R R — I (0x08) = "VNI valid"
 * VNI (24 bits)        reserved
 * ```
 *
 * Works on plain byte arrays (a received datagram, a send buffer) without allocating.
 * Reserved bits are written as zero and ignored on receipt, as the RFC says; a header
 * without the I flag is refused.
 *
 * @example
 * ```ts
 * writeVxlanHeader(buf, 0, 100);
 * readVxlanVni(buf, 0, buf.length); // 100
 * ```
 */

/** Bytes of the VXLAN header. */
export const VXLAN_HEADER_LENGTH = 8;
/** The I flag: the VNI field is valid. */
export const VXLAN_FLAG_I = 0x08;
/** IANA-assigned VXLAN UDP port. */
export const VXLAN_DEFAULT_PORT = 4789;
/** Largest VNI (24 bits). */
export const VXLAN_MAX_VNI = 0xffffff;

/** Negative results of {@link readVxlanVni}. */
export const VxlanHeaderError = {
  /** Fewer than 8 bytes. */
  RUNT: -1,
  /** The I flag is clear. */
  BAD_FLAGS: -2,
} as const;

/** Writes a VXLAN header with the I flag and `vni` at `buf[off..off + 8)`. */
export function writeVxlanHeader(buf: Uint8Array, off: number, vni: number): void {
  buf[off] = VXLAN_FLAG_I;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = (vni >>> 16) & 0xff;
  buf[off + 5] = (vni >>> 8) & 0xff;
  buf[off + 6] = vni & 0xff;
  buf[off + 7] = 0;
}

/**
 * The VNI of the VXLAN header at `buf[off..)` of a datagram of `len` bytes, or a negative
 * {@link VxlanHeaderError} (runt, I flag clear).
 */
export function readVxlanVni(buf: Uint8Array, off: number, len: number): number {
  if (len < VXLAN_HEADER_LENGTH) return VxlanHeaderError.RUNT;
  if ((buf[off] & VXLAN_FLAG_I) === 0) return VxlanHeaderError.BAD_FLAGS;
  return (buf[off + 4] << 16) | (buf[off + 5] << 8) | buf[off + 6];
}
