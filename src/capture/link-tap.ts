/**
 * A tap on one link of a chain's data plane: the data plane hands it each batch that
 * crosses the link (before the frames move on), and it copies those its filter passes into
 * its `CaptureQueue`, up to `limit` frames. The data plane checks for taps once per batch
 * (`ChainDataPlane.attachTap`): with none attached the link does no work for capture.
 *
 * @example
 * ```ts
 * const tap = new LinkTap(compileFilter('tcp port 80'), new CaptureQueue(), { snaplen: 128, limit: 1000 });
 * dataPlane.attachTap(1, tap);
 * // … read tap.queue; when tap.done:
 * dataPlane.detachTap(1, tap);
 * ```
 */
import type { PacketPool } from '../pool/packet-pool.ts';
import type { CaptureQueue } from './capture-queue.ts';
import { FrameTuple, readFrameTuple } from './frame-tuple.ts';
import type { PacketFilter } from './packet-filter.ts';

/** Options of a `LinkTap`. */
export interface LinkTapOptions {
  /** Bytes kept of each frame (default: whole frames). */
  readonly snaplen?: number;
  /** Frames to copy, then the tap stops (0 or omitted: no limit). */
  readonly limit?: number;
}

export class LinkTap {
  /** Frames the filter passed (copied or dropped by the queue). */
  matched = 0;
  /** Frames that crossed the link while the tap was attached. */
  seen = 0;
  private readonly tuple = new FrameTuple();
  private readonly snaplen: number;
  private readonly limit: number;

  constructor(
    readonly filter: PacketFilter,
    readonly queue: CaptureQueue,
    options: LinkTapOptions = {},
  ) {
    this.snaplen = options.snaplen !== undefined && options.snaplen > 0 ? options.snaplen : Number.MAX_SAFE_INTEGER;
    this.limit = options.limit ?? 0;
  }

  /** True once `limit` frames matched: the tap takes no more. */
  get done(): boolean {
    return this.limit > 0 && this.matched >= this.limit;
  }

  /**
   * One batch crossing the link: buffers `ids[0, n)` of `pool`, moving toward the chain's
   * outside (`toward` 1) or back (0). Reads the pool's shared metadata once per frame and
   * skips a frame it does not place inside its buffer (an instance wrote it).
   */
  frames(pool: PacketPool, ids: Uint32Array, n: number, toward: number): void {
    if (this.done) return;
    const view = pool.view;
    const bytes = pool.bytes;
    const meta = pool.meta;
    const stride = pool.stride;
    const base = pool.dataAreaOffset;
    const tuple = this.tuple;
    const match = this.filter.matches;
    const queue = this.queue;
    const now = performance.timeOrigin + performance.now();
    this.seen += n;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const dataOff = meta.dataOff[id];
      const len = meta.length[id];
      if (dataOff > stride || len > stride - dataOff) continue;
      const off = base + id * stride + dataOff;
      readFrameTuple(view, off, len, tuple);
      if (!match(tuple)) continue;
      this.matched++;
      queue.push(bytes, off, len < this.snaplen ? len : this.snaplen, len, toward, now);
      if (this.done) return;
    }
  }
}
