/**
 * The bounded queue between a link tap (the producer, on the pump) and a capture's reader
 * (a gRPC stream, on the same event loop): copies of frames in one byte ring, their lengths,
 * times and directions in fixed arrays. Its memory is allocated once; a frame that does not
 * fit (ring full: the reader is slow) is counted in `dropped` and never waited for, so a
 * capture costs the chain only its own copy.
 *
 * @example
 * ```ts
 * const q = new CaptureQueue(1 << 20, 1024);
 * q.push(bytes, off, 64, 64, 1, Date.now());
 * while (q.count > 0) {
 *   send(q.frame(), q.originalLength(), q.timeMs());
 *   q.pop();
 * }
 * ```
 */
import { InvalidArgumentError } from '../errors/catalog.ts';

/** Bytes of copies a capture queue holds by default (4 MiB). */
export const DEFAULT_CAPTURE_QUEUE_BYTES = 4 << 20;
/** Frames a capture queue holds by default. */
export const DEFAULT_CAPTURE_QUEUE_FRAMES = 8192;

export class CaptureQueue {
  /** Frames waiting. */
  count = 0;
  /** Frames that did not fit (queue full), since creation. */
  dropped = 0;
  /** Frames queued, since creation. */
  queued = 0;
  private readonly bytes: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  private readonly origLengths: Int32Array;
  private readonly towards: Uint8Array;
  private readonly times: Float64Array;
  private head = 0;
  private byteHead = 0;
  private byteTail = 0;

  constructor(
    readonly capacityBytes = DEFAULT_CAPTURE_QUEUE_BYTES,
    readonly capacityFrames = DEFAULT_CAPTURE_QUEUE_FRAMES,
  ) {
    if (!Number.isInteger(capacityBytes) || capacityBytes < 64) throw new InvalidArgumentError(`capture queue: ${capacityBytes} bytes is too small`);
    if (!Number.isInteger(capacityFrames) || capacityFrames < 1) throw new InvalidArgumentError(`capture queue: ${capacityFrames} frames is too few`);
    this.bytes = new Uint8Array(capacityBytes);
    this.offsets = new Int32Array(capacityFrames);
    this.lengths = new Int32Array(capacityFrames);
    this.origLengths = new Int32Array(capacityFrames);
    this.towards = new Uint8Array(capacityFrames);
    this.times = new Float64Array(capacityFrames);
  }

  /**
   * Copies `src[off, off + len)` in, with the frame's length on the link, its direction (1
   * toward the chain's outside, 0 back) and the time (Unix ms); false (counted) when full.
   */
  push(src: Uint8Array, off: number, len: number, origLen: number, toward: number, timeMs: number): boolean {
    if (this.count === this.capacityFrames) {
      this.dropped++;
      return false;
    }
    const at = this.reserve(len);
    if (at < 0) {
      this.dropped++;
      return false;
    }
    this.bytes.set(src.subarray(off, off + len), at);
    this.byteTail = at + len;
    const slot = (this.head + this.count) % this.capacityFrames;
    this.offsets[slot] = at;
    this.lengths[slot] = len;
    this.origLengths[slot] = origLen;
    this.towards[slot] = toward;
    this.times[slot] = timeMs;
    this.count++;
    this.queued++;
    return true;
  }

  /** Where `len` bytes fit (contiguously), or -1. */
  private reserve(len: number): number {
    const cap = this.capacityBytes;
    if (this.count === 0) {
      this.byteHead = 0;
      this.byteTail = 0;
      return len <= cap ? 0 : -1;
    }
    const head = this.byteHead;
    const tail = this.byteTail;
    if (tail > head) {
      if (cap - tail >= len) return tail;
      return len <= head ? 0 : -1;
    }
    return head - tail >= len ? tail : -1;
  }

  /** The oldest frame's copy (a view, valid until `pop`). */
  frame(): Uint8Array {
    const s = this.head;
    return this.bytes.subarray(this.offsets[s], this.offsets[s] + this.lengths[s]);
  }

  /** The oldest frame's length on the link. */
  originalLength(): number {
    return this.origLengths[this.head];
  }

  /** The oldest frame's direction: 1 toward the chain's outside, 0 back. */
  toward(): number {
    return this.towards[this.head];
  }

  /** When the oldest frame was copied, Unix ms (fractional). */
  timeMs(): number {
    return this.times[this.head];
  }

  /** Forgets the oldest frame. */
  pop(): void {
    if (this.count === 0) return;
    this.head = (this.head + 1) % this.capacityFrames;
    this.count--;
    if (this.count > 0) this.byteHead = this.offsets[this.head];
  }
}
