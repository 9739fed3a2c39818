import { SharedLayoutError, InvalidArgumentError } from '../errors/catalog.ts';
import { Doorbell } from './doorbell.ts';
import { assertLittleEndianHost } from './little-endian.ts';
import {
  VIRTIO_F_EVENT_IDX_BIT,
  VIRTIO_F_IN_ORDER_BIT,
  VIRTIO_F_VERSION_1_BIT,
  computeSplitRingLayout,
  type SplitRingLayout,
} from './split-ring-layout.ts';

/** "VQSR" read as a little-endian u32. */
export const RING_MAGIC = 0x52535156;
/** Bump when the control block or region layout changes. */
export const RING_LAYOUT_VERSION = 1;

const CB_MAGIC = 0;
const CB_VERSION = 1;
const CB_QUEUE_SIZE = 2;
const CB_FEATURES_LO = 3;
const CB_FEATURES_HI = 4;
const CB_USED_ALIGN = 5;
const CB_TOTAL_BYTES = 6;

/** Options of a new ring. */
export interface SplitRingOptions {
  /** Negotiate VIRTIO_F_EVENT_IDX (default true): used_event / avail_event suppression. */
  eventIdx?: boolean;
  /**
   * Negotiate VIRTIO_F_IN_ORDER (default false): the device uses buffers in the order
   * they were made available and may mark a whole batch used with one used element
   * (virtio 1.2 §2.7 "In-order use of descriptors"). Only for devices that complete in
   * order, such as a transmit path.
   */
  inOrder?: boolean;
  /** Used ring alignment, a power of two ≥ 4 (default 64). */
  usedAlign?: number;
}

/**
 * The shared memory of one split virtqueue: its layout, typed-array views relative to
 * the region's base, the negotiated features and the two doorbells. Both ends build a
 * `VirtqueueDriver` or `VirtqueueDevice` on a `SplitRing` over the same memory; send
 * `{ sab, base }` to the other thread and `SplitRing.attach` there.
 *
 * Entries are plain typed-array writes; only the indices (avail->idx, used->idx) and the
 * notification fields (flags, used_event, avail_event) go through `Atomics`, which is what
 * orders the plain writes before them (see the driver and device).
 *
 * @example
 * ```ts
 * const ring = SplitRing.create(256);                       // own SharedArrayBuffer
 * worker.postMessage({ sab: ring.sab, base: ring.layout.base });
 * // in the worker: const ring = SplitRing.attach(sab, base);
 * ```
 */
export class SplitRing {
  readonly sab: SharedArrayBuffer;
  readonly layout: SplitRingLayout;
  readonly queueSize: number;
  /** VIRTIO_F_EVENT_IDX negotiated. */
  readonly eventIdx: boolean;
  /** VIRTIO_F_IN_ORDER negotiated. */
  readonly inOrder: boolean;
  /** Feature bits 0..31 and 32..63. */
  readonly featuresLo: number;
  readonly featuresHi: number;
  /** le16 view of the region (index = (absolute offset − base) / 2). */
  readonly u16: Uint16Array;
  /** le32 view of the region. */
  readonly u32: Uint32Array;
  /** Int32 view of the region (doorbells). */
  readonly i32: Int32Array;
  /** Index of descriptor 0 in `u32` (descriptor d spans u32[descW + 4d … + 3]). */
  readonly descW: number;
  readonly availFlagsH: number;
  readonly availIdxH: number;
  readonly availRingH: number;
  readonly usedEventH: number;
  readonly usedFlagsH: number;
  readonly usedIdxH: number;
  /** Index of used->ring[0].id in `u32`. */
  readonly usedRingW: number;
  readonly availEventH: number;
  /** Rung by the driver after making buffers available; the device sleeps on it. */
  readonly availBell: Doorbell;
  /** Rung by the device after marking buffers used; the driver sleeps on it. */
  readonly usedBell: Doorbell;

  private constructor(sab: SharedArrayBuffer, layout: SplitRingLayout) {
    assertLittleEndianHost();
    this.sab = sab;
    this.layout = layout;
    this.queueSize = layout.queueSize;
    const b = layout.base;
    this.u16 = new Uint16Array(sab, b, layout.totalBytes / 2);
    this.u32 = new Uint32Array(sab, b, layout.totalBytes / 4);
    this.i32 = new Int32Array(sab, b, layout.totalBytes / 4);
    this.featuresLo = this.u32[(layout.controlOffset - b) / 4 + CB_FEATURES_LO];
    this.featuresHi = this.u32[(layout.controlOffset - b) / 4 + CB_FEATURES_HI];
    this.eventIdx = (this.featuresLo & (1 << VIRTIO_F_EVENT_IDX_BIT)) !== 0;
    this.inOrder = (this.featuresHi & (1 << (VIRTIO_F_IN_ORDER_BIT - 32))) !== 0;
    this.descW = (layout.descOffset - b) / 4;
    this.availFlagsH = (layout.availFlagsOffset - b) / 2;
    this.availIdxH = (layout.availIdxOffset - b) / 2;
    this.availRingH = (layout.availRingOffset - b) / 2;
    this.usedEventH = (layout.usedEventOffset - b) / 2;
    this.usedFlagsH = (layout.usedFlagsOffset - b) / 2;
    this.usedIdxH = (layout.usedIdxOffset - b) / 2;
    this.usedRingW = (layout.usedRingOffset - b) / 4;
    this.availEventH = (layout.availEventOffset - b) / 2;
    this.availBell = new Doorbell(this.i32, (layout.availDoorbellOffset - b) / 4);
    this.usedBell = new Doorbell(this.i32, (layout.usedDoorbellOffset - b) / 4);
  }

  /** Bytes a ring of `queueSize` needs (its region size). */
  static bytesNeeded(queueSize: number, opts: SplitRingOptions = {}): number {
    return computeSplitRingLayout(queueSize, opts.usedAlign === undefined ? {} : { usedAlign: opts.usedAlign }).totalBytes;
  }

  /** Creates a ring in its own fresh SharedArrayBuffer. */
  static create(queueSize: number, opts: SplitRingOptions = {}): SplitRing {
    const sab = new SharedArrayBuffer(SplitRing.bytesNeeded(queueSize, opts));
    return SplitRing.createIn(sab, 0, queueSize, opts);
  }

  /**
   * Initialises a ring at byte `base` (a multiple of 64) of `sab`, which must be zeroed
   * there (fresh memory). Throws `InvalidArgumentError` if it does not fit.
   */
  static createIn(sab: SharedArrayBuffer, base: number, queueSize: number, opts: SplitRingOptions = {}): SplitRing {
    const layout = computeSplitRingLayout(queueSize, { base, usedAlign: opts.usedAlign ?? 64 });
    if (base + layout.totalBytes > sab.byteLength) {
      throw new InvalidArgumentError(`ring of ${layout.totalBytes} bytes at ${base} does not fit ${sab.byteLength} bytes`);
    }
    const cb = new Uint32Array(sab, base, 16);
    cb[CB_VERSION] = RING_LAYOUT_VERSION;
    cb[CB_QUEUE_SIZE] = queueSize;
    cb[CB_FEATURES_LO] = (opts.eventIdx ?? true) ? 1 << VIRTIO_F_EVENT_IDX_BIT : 0;
    cb[CB_FEATURES_HI] = (1 << (VIRTIO_F_VERSION_1_BIT - 32)) | (opts.inOrder ? 1 << (VIRTIO_F_IN_ORDER_BIT - 32) : 0);
    cb[CB_USED_ALIGN] = layout.usedAlign;
    cb[CB_TOTAL_BYTES] = layout.totalBytes;
    Atomics.store(cb, CB_MAGIC, RING_MAGIC);
    return new SplitRing(sab, layout);
  }

  /** Attaches to a ring created elsewhere; throws `SharedLayoutError` if the region is not one. */
  static attach(sab: SharedArrayBuffer, base = 0): SplitRing {
    if (!(sab instanceof SharedArrayBuffer)) throw new SharedLayoutError('virtqueue memory must be a SharedArrayBuffer');
    if (!Number.isInteger(base) || base < 0 || base % 64 !== 0 || base + 64 > sab.byteLength) {
      throw new SharedLayoutError(`no ring control block at byte ${base} of ${sab.byteLength}`);
    }
    const cb = new Uint32Array(sab, base, 16);
    const magic = Atomics.load(cb, CB_MAGIC);
    if (magic !== RING_MAGIC) throw new SharedLayoutError(`ring magic 0x${magic.toString(16)} at byte ${base} is not 0x${RING_MAGIC.toString(16)}`);
    if (cb[CB_VERSION] !== RING_LAYOUT_VERSION) throw new SharedLayoutError(`ring layout version ${cb[CB_VERSION]}, expected ${RING_LAYOUT_VERSION}`);
    let layout: SplitRingLayout;
    try {
      layout = computeSplitRingLayout(cb[CB_QUEUE_SIZE], { base, usedAlign: cb[CB_USED_ALIGN] });
    } catch (e) {
      throw new SharedLayoutError(`ring control block holds an invalid geometry: ${(e as Error).message}`);
    }
    if (layout.totalBytes !== cb[CB_TOTAL_BYTES] || base + layout.totalBytes > sab.byteLength) {
      throw new SharedLayoutError(`ring region of ${cb[CB_TOTAL_BYTES]} bytes does not match its layout (${layout.totalBytes}) or memory`);
    }
    return new SplitRing(sab, layout);
  }
}
