/**
 * `struct virtio_net_hdr` (virtio 1.2 §5.1.6 "Device Operation"), 12 bytes, little-endian,
 * with `num_buffers` always present as in virtio 1.x:
 *
 * ```c
 * struct virtio_net_hdr {
 *   u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size;
 *   le16 csum_start; le16 csum_offset; le16 num_buffers;
 * };
 * ```
 *
 * **Where it sits in nfvkit.** In the buffer's headroom, immediately before the frame:
 * header at `pool.dataOffset(id) - 12`, frame at `pool.dataOffset(id)`. A descriptor's
 * `addr` points at the header and its `len` is `12 + frame length`, so one descriptor
 * carries header and frame (as with VIRTIO_F_ANY_LAYOUT, implied by virtio 1.x), and the
 * frame itself never moves. A buffer whose frame starts fewer than 12 bytes into it cannot
 * carry a header; the net device counts it as a drop.
 *
 * @example
 * ```ts
 * const at = pool.dataOffset(id) - VIRTIO_NET_HDR_SIZE;
 * writeVirtioNetHeaderEmpty(pool.view, at, 0);       // TX: no offloads
 * const h = readVirtioNetHeader(pool.view, at, hdrScratch);
 * ```
 */

/** Size of `struct virtio_net_hdr` in virtio 1.x. */
export const VIRTIO_NET_HDR_SIZE = 12;

/** flags: the frame needs a checksum at csum_start + csum_offset. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** flags: the checksum was validated. */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
/** flags: receive segment coalescing info in csum fields. */
export const VIRTIO_NET_HDR_F_RSC_INFO = 4;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** Byte offsets of the fields inside the header. */
export const VNH_FLAGS = 0;
export const VNH_GSO_TYPE = 1;
export const VNH_HDR_LEN = 2;
export const VNH_GSO_SIZE = 4;
export const VNH_CSUM_START = 6;
export const VNH_CSUM_OFFSET = 8;
export const VNH_NUM_BUFFERS = 10;

/** The header's fields as numbers. */
export interface VirtioNetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  numBuffers: number;
}

/** A zeroed header object, for use as `readVirtioNetHeader`'s reusable output. */
export function emptyVirtioNetHeader(): VirtioNetHeader {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0, numBuffers: 0 };
}

/** Reads the header at byte `at` of `view` into `out` (no allocation) and returns `out`. */
export function readVirtioNetHeader(view: DataView, at: number, out: VirtioNetHeader): VirtioNetHeader {
  out.flags = view.getUint8(at + VNH_FLAGS);
  out.gsoType = view.getUint8(at + VNH_GSO_TYPE);
  out.hdrLen = view.getUint16(at + VNH_HDR_LEN, true);
  out.gsoSize = view.getUint16(at + VNH_GSO_SIZE, true);
  out.csumStart = view.getUint16(at + VNH_CSUM_START, true);
  out.csumOffset = view.getUint16(at + VNH_CSUM_OFFSET, true);
  out.numBuffers = view.getUint16(at + VNH_NUM_BUFFERS, true);
  return out;
}

/** Writes every field of `h` at byte `at` of `view`. */
export function writeVirtioNetHeader(view: DataView, at: number, h: VirtioNetHeader): void {
  view.setUint8(at + VNH_FLAGS, h.flags);
  view.setUint8(at + VNH_GSO_TYPE, h.gsoType);
  view.setUint16(at + VNH_HDR_LEN, h.hdrLen, true);
  view.setUint16(at + VNH_GSO_SIZE, h.gsoSize, true);
  view.setUint16(at + VNH_CSUM_START, h.csumStart, true);
  view.setUint16(at + VNH_CSUM_OFFSET, h.csumOffset, true);
  view.setUint16(at + VNH_NUM_BUFFERS, h.numBuffers, true);
}

/**
 * Writes a header with no offloads (flags 0, GSO_NONE) and the given `num_buffers`: 0 on
 * transmit (the driver leaves it 0), 1 on receive without VIRTIO_NET_F_MRG_RXBUF.
 */
export function writeVirtioNetHeaderEmpty(view: DataView, at: number, numBuffers: number): void {
  view.setUint32(at, 0, true);
  view.setUint32(at + 4, 0, true);
  view.setUint16(at + 8, 0, true);
  view.setUint16(at + VNH_NUM_BUFFERS, numBuffers, true);
}
