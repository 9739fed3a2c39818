import type { PoolHandle } from './pool-handle.ts';

/**
 * Frames a traffic source sends over and over (a generator's templates, a clients port's
 * data frame per flow), held packed as 32-bit words so that copying a small one into a
 * pool buffer is a short word loop instead of a `TypedArray.set` (on shared memory a call
 * into the runtime per frame, which costs more than the copy for small frames; frames
 * longer than `WORD_LOOP_MAX` take the one call). The owner word
 * of each buffer is read once, as a plain read; each copy is still the one counted copy
 * in, counted once per batch (`PoolHandle.countIn`).
 *
 * Two entries over one per-frame body: `copyIn` fills a batch with frames in turn (a
 * generator); `copyOne` fills one buffer with the frame its caller picked (a clients port,
 * whose frame depends on the flow), and `countCopies` counts what `copyOne` copied, once
 * per batch. A template is rewritten in place with `rewrite` (control path: a flow that
 * opens from a new source port).
 *
 * The frames are copied when the templates are made: changing a source array afterwards
 * changes nothing.
 *
 * @example
 * ```ts
 * const templates = new FrameTemplates(flows.map((f) => buildFrame(f)));
 * const got = pool.allocBatch(ids, 64);
 * const kept = templates.copyIn(pool, ids, got, next); // ids[0..kept) hold frames next, next + 1, …
 *
 * let n = 0;
 * for (let i = 0; i < got; i++) if (templates.copyOne(pool, ids[i], flowOf(i))) ids[n++] = ids[i];
 * templates.countCopies(pool);
 * ```
 */
/**
 * Frames up to this many bytes are copied by the word loop, longer ones by one
 * `TypedArray.set` (in pair-by-pair runs the loop stopped paying from about 96 bytes).
 */
export const WORD_LOOP_MAX = 64;

export class FrameTemplates {
  /** Number of frames. */
  readonly count: number;
  /** Every frame, each from a word boundary, its last word padded with zeros. */
  private readonly words: Int32Array;
  /** Word where each frame starts in `words`. */
  private readonly starts: Int32Array;
  /** Byte length of each frame. */
  private readonly lengths: Int32Array;
  /** Each frame as bytes over `words`, for the copies the word loop cannot do. */
  private readonly views: readonly Uint8Array[];
  /** The pool last copied into, and an Int32 view over it (made once per pool). */
  private pool: PoolHandle | undefined;
  private poolWords = new Int32Array(new SharedArrayBuffer(4));
  private poolBytes = new Uint8Array(this.poolWords.buffer);
  /** Copies `copyOne` made and their bytes, not yet counted (`countCopies`). */
  private pendingCopies = 0;
  private pendingBytes = 0;

  constructor(frames: readonly Uint8Array[]) {
    this.count = frames.length;
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
    this.views = frames.map((f, t) => bytes.subarray(this.starts[t] * 4, this.starts[t] * 4 + f.length));
  }

  /** `count` frames of `length` zero bytes each, to be written with `rewrite`. */
  static blank(count: number, length: number): FrameTemplates {
    const zero = new Uint8Array(length);
    return new FrameTemplates(Array.from({ length: count }, () => zero));
  }

  /** Byte length of frame `t`. */
  length(t: number): number {
    return this.lengths[t];
  }

  /**
   * Replaces frame `t` by `frame` (copied), which must have frame `t`'s length. Control
   * path (a flow opening anew); throws `RangeError` on another length.
   */
  rewrite(t: number, frame: Uint8Array): void {
    if (frame.length !== this.lengths[t]) throw new RangeError(`frame ${t} is ${this.lengths[t]} B, not ${frame.length} B`);
    this.views[t].set(frame);
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
    const count = this.count;
    let t = first;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (!this.copyOne(pool, id, t)) continue;
      ids[kept++] = id;
      if (++t === count) t = 0;
    }
    this.countCopies(pool);
    return kept;
  }

  /**
   * Copies frame `t` into buffer `id` of `pool` at its data offset and sets its
   * `meta.length`. Returns false, copying nothing, if this handle does not own `id` (only
   * a hostile instance re-owns a buffer under its holder). The copy is counted by the next
   * `countCopies` (call it once per batch); a frame that does not fit its buffer goes
   * through `pool.copyIn`, which counts it (or its reject) at once.
   */
  copyOne(pool: PoolHandle, id: number, t: number): boolean {
    if (pool !== this.pool) this.bind(pool);
    // A plain read: the same check as an atomic load here (the word may change any time after).
    if (pool.meta.state[id] !== pool.ownerId) return false;
    const len = this.lengths[t];
    const off = pool.meta.dataOff[id];
    const stride = pool.stride;
    const at = pool.dataAreaOffset + id * stride + off;
    const w = (len + 3) >>> 2;
    if (len > WORD_LOOP_MAX && off + len <= stride) {
      // Longer frames: one runtime call copies faster than the loop.
      this.poolBytes.set(this.views[t], at);
      pool.meta.length[id] = len;
      this.pendingCopies++;
      this.pendingBytes += len;
    } else if ((at & 3) === 0 && off + w * 4 <= stride) {
      const dst = this.poolWords;
      const words = this.words;
      let s = this.starts[t];
      const end = (at >>> 2) + w;
      for (let d = at >>> 2; d < end; d++) dst[d] = words[s++];
      pool.meta.length[id] = len;
      this.pendingCopies++;
      this.pendingBytes += len;
    } else {
      pool.copyIn(id, this.views[t], 0, len);
    }
    return true;
  }

  /** Counts in `pool` the copies `copyOne` made since the last call (one `countIn`). */
  countCopies(pool: PoolHandle): void {
    if (this.pendingCopies === 0) return;
    pool.countIn(this.pendingCopies, this.pendingBytes);
    this.pendingCopies = 0;
    this.pendingBytes = 0;
  }

  /** Makes `pool` the one copied into (copies not yet counted are counted in the one before). */
  private bind(pool: PoolHandle): void {
    if (this.pool !== undefined) this.countCopies(this.pool);
    this.pool = pool;
    if (this.poolWords.buffer !== pool.sab) {
      this.poolWords = new Int32Array(pool.sab, 0, pool.sab.byteLength >>> 2);
      this.poolBytes = new Uint8Array(pool.sab);
    }
  }
}
