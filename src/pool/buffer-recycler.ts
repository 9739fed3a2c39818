import { BufferOwnershipError } from '../errors/catalog.ts';
import type { PoolHandle } from './pool-handle.ts';

/** Buffers a recycler keeps at most unless told otherwise: four full batches. */
export const DEFAULT_RECYCLER_CAPACITY = 1024;

/**
 * Buffers an instance keeps for its own next allocations instead of giving them back to
 * the pool (DPDK's per-core mempool cache): what its sink is done with, its generator fills
 * again. A buffer it keeps stays owned by the instance (the pool counts it in use, and a
 * failed instance's are reclaimed with the rest of its buffers), so a recycled batch takes
 * neither the pool lock nor a compare-and-swap per buffer, and the buffers stay in this
 * core's cache instead of wandering to another replica's through the shared free stack.
 * Private to one thread; its owner must `drain` it before stopping. Recycled buffers are
 * not counted as the pool's allocations and frees.
 *
 * @example
 * ```ts
 * const recycler = new BufferRecycler();
 * const n = recycler.alloc(pool, ids, 256); // kept buffers first, the rest from the pool
 * // … frames in, through the chain, out …
 * recycler.give(pool, ids, n);              // kept for the next alloc (the overflow freed)
 * recycler.drain(pool);                     // at the end: everything back to the pool
 * ```
 */
export class BufferRecycler {
  private readonly ids: Uint32Array;
  private count = 0;
  /** One byte per buffer of the pool: 1 while kept here (a buffer given twice is refused). */
  private kept: Uint8Array = new Uint8Array(0);

  constructor(readonly capacity = DEFAULT_RECYCLER_CAPACITY) {
    this.ids = new Uint32Array(capacity);
  }

  /** Buffers kept now. */
  get size(): number {
    return this.count;
  }

  /**
   * Takes `ids[0..n)`, all owned by `pool`'s owner, to hand out again; frees (`freeBatch`)
   * what does not fit. Throws `BufferOwnershipError`, keeping none of the batch, when it
   * names a buffer kept already or one twice (a double free), and hands a batch naming a
   * buffer the owner does not hold to `freeBatch` whole, which refuses it as a free would.
   */
  give(pool: PoolHandle, ids: Uint32Array, n: number): void {
    if (n <= 0) return;
    let kept = this.kept;
    if (kept.length !== pool.bufferCount) kept = this.kept = new Uint8Array(pool.bufferCount);
    const state = pool.meta.state;
    const me = pool.ownerId;
    const room = this.capacity - this.count;
    const keep = n < room ? n : room;
    const count = pool.bufferCount;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (!(id < count) || state[id] !== me || kept[id] !== 0) {
        for (let j = 0; j < i; j++) kept[ids[j]] = 0;
        if (id < count && kept[id] !== 0) throw new BufferOwnershipError(`free of buffer ${id} by owner ${me}: it is free already (double free)`);
        pool.freeBatch(ids, n);
        return;
      }
      kept[id] = 1;
    }
    const mine = this.ids;
    let c = this.count;
    for (let i = 0; i < keep; i++) mine[c++] = ids[i];
    this.count = c;
    if (keep < n) {
      for (let i = keep; i < n; i++) kept[ids[i]] = 0;
      // The overflow, moved to the front of `ids` (the caller is done with them).
      for (let i = keep; i < n; i++) ids[i - keep] = ids[i];
      pool.freeBatch(ids, n - keep);
    }
  }

  /**
   * Up to `n` buffers into `out[0..)`: kept ones first, each reset as `allocBatch` resets a
   * buffer (`dataOff` = headroom, `length` 0), then the rest from `pool.allocBatch`.
   * Returns how many. A kept buffer whose ownership word no longer names the owner (only a
   * hostile instance writes it) is forgotten, not handed out.
   */
  alloc(pool: PoolHandle, out: Uint32Array, n: number): number {
    if (n > out.length) n = out.length;
    if (n <= 0) return 0;
    let got = 0;
    if (this.count < n) {
      got = pool.allocBatch(out, n - this.count);
      if (this.count === 0) return got;
    }
    const meta = pool.meta;
    const state = meta.state;
    const me = pool.ownerId;
    const headroom = pool.headroom;
    const kept = this.kept;
    const mine = this.ids;
    let c = this.count;
    while (got < n && c > 0) {
      const id = mine[--c];
      kept[id] = 0;
      if (state[id] !== me) continue;
      meta.reset(id, headroom);
      out[got++] = id;
    }
    this.count = c;
    return got;
  }

  /** Frees every buffer kept (those the owner still holds) back to the pool. */
  drain(pool: PoolHandle): void {
    const state = pool.meta.state;
    const me = pool.ownerId;
    const mine = this.ids;
    let mineCount = 0;
    for (let i = 0; i < this.count; i++) {
      const id = mine[i];
      this.kept[id] = 0;
      if (state[id] === me) mine[mineCount++] = id;
    }
    this.count = 0;
    pool.freeBatch(mine, mineCount);
  }
}
