import { InvalidArgumentError } from '../errors/catalog.ts';

/**
 * Byte layout of one virtio 1.x split virtqueue (virtio 1.2 §2.7 "Split Virtqueues"),
 * computed with the spec's formulas:
 *
 * | part             | size (queue size N)  | alignment |
 * |------------------|----------------------|-----------|
 * | descriptor table | 16 · N               | 16        |
 * | available ring   | 6 + 2 · N            | 2         |
 * | used ring        | 6 + 8 · N            | 4         |
 *
 * ```c
 * struct virtq_desc  { le64 addr; le32 len; le16 flags; le16 next; };           // 16 B
 * struct virtq_avail { le16 flags; le16 idx; le16 ring[N]; le16 used_event; };
 * struct virtq_used  { le16 flags; le16 idx; struct { le32 id; le32 len; } ring[N]; le16 avail_event; };
 * ```
 *
 * nfvkit places a queue in a region of a SharedArrayBuffer (its own, or part of a larger
 * one), starting on a 64-byte boundary:
 *
 * ```
 * base + 0     control block (64 B): magic, version, queue size, features, used alignment
 * base + 64    available-buffer doorbell (Int32, own cache line; the device sleeps on it)
 * base + 128   used-buffer doorbell      (Int32, own cache line; the driver sleeps on it)
 * base + 192   descriptor table          16·N bytes
 * desc + 16·N  available ring            6 + 2·N bytes (everything in it is written by the driver)
 * alignUp(avail + 6 + 2·N, usedAlign)    used ring, 6 + 8·N bytes (written by the device)
 * ```
 *
 * `usedAlign` is any power of two ≥ 4: 4 is the spec's minimum, the default 64 keeps the
 * driver-written and device-written parts on separate cache lines, 4096 reproduces the
 * legacy interface's `vring_size()` layout.
 *
 * @example
 * ```ts
 * const l = computeSplitRingLayout(256);
 * l.availIdxOffset;   // byte offset of avail->idx
 * l.usedRingOffset;   // byte offset of used->ring[0]
 * ```
 */

/** This descriptor continues via the `next` field. */
export const VIRTQ_DESC_F_NEXT = 1;
/** Buffer is device write-only (otherwise device read-only). */
export const VIRTQ_DESC_F_WRITE = 2;
/** Buffer contains a list of buffer descriptors (needs VIRTIO_F_INDIRECT_DESC; not negotiated by nfvkit). */
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail->flags: the driver asks not to be interrupted (used-buffer notifications off). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used->flags: the device asks not to be notified (available-buffer notifications off). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Feature bit 28: indirect descriptors (not offered). */
export const VIRTIO_F_INDIRECT_DESC_BIT = 28;
/** Feature bit 29: used_event / avail_event notification suppression. */
export const VIRTIO_F_EVENT_IDX_BIT = 29;
/** Feature bit 35: the device uses descriptors in the order they were made available. */
export const VIRTIO_F_IN_ORDER_BIT = 35;
/** Feature bit 32: virtio 1.x (always set; lives in the high feature word). */
export const VIRTIO_F_VERSION_1_BIT = 32;

/** Largest queue size of a split virtqueue. */
export const MAX_QUEUE_SIZE = 32768;
/** Descriptor size in bytes. */
export const DESC_BYTES = 16;
export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;
/** Bytes before the descriptor table: control block and two doorbell lines. */
export const RING_PREFIX_BYTES = 192;
/** Region bases and sizes are multiples of this. */
export const RING_REGION_ALIGN = 64;

/** Size of the descriptor table: 16 · N. */
export function descTableBytes(queueSize: number): number {
  return DESC_BYTES * queueSize;
}

/** Size of the available ring including used_event: 6 + 2 · N. */
export function availRingBytes(queueSize: number): number {
  return 6 + 2 * queueSize;
}

/** Size of the used ring including avail_event: 6 + 8 · N. */
export function usedRingBytes(queueSize: number): number {
  return 6 + 8 * queueSize;
}

/** Rounds `n` up to a multiple of the power of two `a`. */
export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Throws `InvalidArgumentError` unless `queueSize` is a power of two in 1..32768. */
export function validateQueueSize(queueSize: number): void {
  if (!Number.isInteger(queueSize) || queueSize < 1 || queueSize > MAX_QUEUE_SIZE || (queueSize & (queueSize - 1)) !== 0) {
    throw new InvalidArgumentError(`virtqueue size must be a power of two in 1..${MAX_QUEUE_SIZE}, got ${queueSize}`);
  }
}

/** Every byte offset of one split virtqueue, absolute within its SharedArrayBuffer. */
export interface SplitRingLayout {
  queueSize: number;
  usedAlign: number;
  base: number;
  controlOffset: number;
  availDoorbellOffset: number;
  usedDoorbellOffset: number;
  descOffset: number;
  availOffset: number;
  availFlagsOffset: number;
  availIdxOffset: number;
  availRingOffset: number;
  usedEventOffset: number;
  usedOffset: number;
  usedFlagsOffset: number;
  usedIdxOffset: number;
  usedRingOffset: number;
  availEventOffset: number;
  /** Region size from `base`, rounded up to 64. */
  totalBytes: number;
}

/**
 * Computes the layout of a queue of `queueSize` entries placed at byte `base` (a multiple
 * of 64) of its shared memory. Throws `InvalidArgumentError` for a bad size, base or
 * used-ring alignment.
 */
export function computeSplitRingLayout(queueSize: number, opts: { base?: number; usedAlign?: number } = {}): SplitRingLayout {
  validateQueueSize(queueSize);
  const base = opts.base ?? 0;
  const usedAlign = opts.usedAlign ?? 64;
  if (!Number.isInteger(base) || base < 0 || base % RING_REGION_ALIGN !== 0) {
    throw new InvalidArgumentError(`ring base must be a non-negative multiple of ${RING_REGION_ALIGN}, got ${base}`);
  }
  if (!Number.isInteger(usedAlign) || usedAlign < USED_ALIGN || (usedAlign & (usedAlign - 1)) !== 0) {
    throw new InvalidArgumentError(`used ring alignment must be a power of two ≥ ${USED_ALIGN}, got ${usedAlign}`);
  }
  const descOffset = alignUp(base + RING_PREFIX_BYTES, DESC_ALIGN);
  const availOffset = alignUp(descOffset + descTableBytes(queueSize), AVAIL_ALIGN);
  const usedOffset = alignUp(availOffset + availRingBytes(queueSize), usedAlign);
  const end = usedOffset + usedRingBytes(queueSize);
  return {
    queueSize,
    usedAlign,
    base,
    controlOffset: base,
    availDoorbellOffset: base + 64,
    usedDoorbellOffset: base + 128,
    descOffset,
    availOffset,
    availFlagsOffset: availOffset,
    availIdxOffset: availOffset + 2,
    availRingOffset: availOffset + 4,
    usedEventOffset: availOffset + 4 + 2 * queueSize,
    usedOffset,
    usedFlagsOffset: usedOffset,
    usedIdxOffset: usedOffset + 2,
    usedRingOffset: usedOffset + 4,
    availEventOffset: usedOffset + 4 + 8 * queueSize,
    totalBytes: alignUp(end - base, RING_REGION_ALIGN),
  };
}
