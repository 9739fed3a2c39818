import type { PoolHandle } from './pool-handle.ts';

/**
 * Frames a traffic source sends over and over (a generator's templates), held packed as
 * 32-bit words so that copying one into a pool buffer is a short word loop instead of a
 * `TypedArray.set` (on shared memory a call into the runtime per frame, which costs more
 * than the copy for small frames). Each copy is still the one counted copy in
 * (`PoolHandle.countIn`, once per batch).
 *
 * The frames are copied when the templates are made: changing a source array afterwards
 * changes nothing.
 *
 * @example
 * ```ts
 * const templates = new FrameTemplates(flows.map((f) => buildFrame(f)));
 * const got = pool.allocBatch(ids, 64);
 * const kept = templates.copyIn(pool, ids, got, next); // ids[0..kept) hold frames next, next + 1, …
 * ```
 */
export class FrameTemplates {
  /** Number of frames. */
  readonly count: number;
  /** Every frame, each from a word boundary, its last word padded with zeros. */
  private readonly words: Int32Array;
  /** Word where each frame starts in `words`. */
  private readonly starts: Int32Array;
  /** Byte length of each frame. */
  private readonly lengths: Int32Array;
  /** The frames as given, for the copies the word loop cannot do. */
  private readonly frames: readonly Uint8Array[];
  /** Int32 view over the pool last copied into (made once per pool). */
  private poolWords: Int32Array | undefined;

  constructor(frames: readonly Uint8Array[]) {
    this.count = frames.length;
    this.frames = frames;
    this.starts = new Int32Array(frames.length);
    this.lengths = new Int32Array(frames.length);
    let total = 0;
    for (const [t, f] of frames.entries()) {
      this.starts[t] = total;
      this.lengths[t] = f.length;
      total += (f.length + 3) >>> 2;
    }
    this.words = new Int32Array(total);
    const bytes = new Uint8Array(this.words.buffer);
    for (const [t, f] of frames.entries()) bytes.set(f, this.starts[t] * 4);
  }

  /** Byte length of frame `t`. */
  length(t: number): number {
    return this.lengths[t];
  }

  /**
   * Copies frames `first`, `first + 1`, … (wrapping after the last) into the buffers
   * `ids[0..n)` of `pool`, each at its data offset with `meta.length` set, and compacts
   * `ids` to the buffers filled: a buffer this handle no longer owns (only a hostile
   * instance re-owns a buffer under its holder) is skipped and takes no frame. Returns how
   * many were filled. Counts one copy in per frame and their bytes, once for the batch; a
   * frame that does not fit its buffer goes through `pool.copyIn` (which counts the reject).
   */
  copyIn(pool: PoolHandle, ids: Uint32Array, n: number, first: number): number {
    let dst = this.poolWords;
    if (dst === undefined || dst.buffer !== pool.sab) {
      dst = new Int32Array(pool.sab, 0, pool.sab.byteLength >>> 2);
      this.poolWords = dst;
    }
    const words = this.words;
    const starts = this.starts;
    const lengths = this.lengths;
    const state = pool.meta.state;
    const length = pool.meta.length;
    const dataOff = pool.meta.dataOff;
    const me = pool.ownerId;
    const base = pool.dataAreaOffset;
    const stride = pool.stride;
    const count = this.count;
    let t = first;
    let kept = 0;
    let copied = 0;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      // A plain read: the same check as an atomic load here (the word may change any time after).
      if (state[id] !== me) continue;
      const len = lengths[t];
      const off = dataOff[id];
      const at = base + id * stride + off;
      const w = (len + 3) >>> 2;
      if ((at & 3) === 0 && off + w * 4 <= stride) {
        let s = starts[t];
        const end = (at >>> 2) + w;
        for (let d = at >>> 2; d < end; d++) dst[d] = words[s++];
        length[id] = len;
        copied++;
        bytes += len;
      } else {
        pool.copyIn(id, this.frames[t], 0, len);
      }
      ids[kept++] = id;
      if (++t === count) t = 0;
    }
    if (copied > 0) pool.countIn(copied, bytes);
    return kept;
  }
}
