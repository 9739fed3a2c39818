import { BufferOwnershipError, InvalidArgumentError, PoolExhaustedError } from '../errors/catalog.ts';
import { PacketMeta } from './packet-meta.ts';
import {
  C_ALLOCS,
  C_ALLOC_SHORTFALL,
  C_BYTES_IN,
  C_BYTES_OUT,
  C_COPIES_IN,
  C_COPIES_OUT,
  C_COPY_REJECTS,
  C_FREES,
  C_OWNERSHIP_ERRORS,
  C_STACK_REJECTS,
  C_TRANSFERS,
  DEFAULT_HEADROOM,
  DEFAULT_STRIDE,
  H_FREE_TOP,
  H_LOCK,
  H_LOCK_HOLDER,
  H_LOCK_SEQ,
  POOL_HEADER_BYTES,
  computePoolLayout,
  readPoolHeader,
  writePoolHeader,
  type PoolLayout,
} from './pool-layout.ts';
import { lockAcquire, lockRelease } from './pool-lock.ts';
import { addCounter64 } from './shared-counter.ts';

/** The `state` word of a free buffer. Any other value is the id of the buffer's owner. */
export const FREE_OWNER = 0;
/** Largest owner id (owner ids are positive Int32 values). */
export const MAX_OWNER_ID = 0x7fffffff;

/**
 * A handle on a packet pool ("guest memory", see `PacketPool` for its layout and rules)
 * acting for one owner id: what an instance does with the pool it `attach`es to, and what
 * every handle can do. Allocation, frees, ownership transfers, copies in and out, all on the
 * shared memory with the pool's one lock; it blocks on that lock when another thread holds
 * it (for a microsecond or so).
 *
 * The thread that creates the pool (the host) holds a `PacketPool`, this handle plus the
 * supervision an instance never runs (lock timeouts, deferred frees, reclaims, leak
 * checks): an image bundles only this class, not the supervisor's code.
 *
 * @example
 * ```ts
 * // in an instance: workerData.poolSab is the pool the host created
 * const pool = PoolHandle.attach(workerData.poolSab, { owner: 2 });
 * const ids = new Uint32Array(32);
 * const n = pool.allocBatch(ids, 32);
 * pool.freeBatch(ids, n);
 * ```
 */
export class PoolHandle {
  /** The whole pool's shared memory. */
  readonly sab: SharedArrayBuffer;
  /** DataView over the whole pool (big-endian network fields: `view.getUint16(off)`). */
  readonly view: DataView;
  /** Bytes of the whole pool. */
  readonly bytes: Uint8Array;
  /** Per-buffer metadata arrays. */
  readonly meta: PacketMeta;
  readonly bufferCount: number;
  readonly stride: number;
  readonly headroom: number;
  /** Owner id this handle allocates, frees and transfers as. */
  readonly ownerId: number;
  /** Byte offset of buffer 0. */
  readonly dataAreaOffset: number;
  protected readonly layout: PoolLayout;
  protected readonly words: Uint32Array;
  protected readonly iwords: Int32Array;
  protected readonly stack: Uint32Array;

  protected constructor(sab: SharedArrayBuffer, layout: PoolLayout, owner: number) {
    if (!Number.isInteger(owner) || owner < 1 || owner > MAX_OWNER_ID) {
      throw new InvalidArgumentError(`owner id must be an integer in 1..${MAX_OWNER_ID}, got ${owner}`);
    }
    this.sab = sab;
    this.layout = layout;
    this.ownerId = owner;
    this.view = new DataView(sab);
    this.bytes = new Uint8Array(sab);
    this.words = new Uint32Array(sab, 0, POOL_HEADER_BYTES / 4);
    this.iwords = new Int32Array(sab, 0, POOL_HEADER_BYTES / 4);
    this.stack = new Uint32Array(sab, layout.stackOffset, layout.bufferCount);
    this.meta = new PacketMeta(sab, layout.metaOffsets, layout.bufferCount);
    this.bufferCount = layout.bufferCount;
    this.stride = layout.stride;
    this.headroom = layout.headroom;
    this.dataAreaOffset = layout.dataOffset;
  }

  /**
   * A pool in fresh heap memory, every buffer free, that only the calling thread uses and
   * nobody supervises: an instance's start-up rehearsal runs its loop on one. Pools that
   * instances share are made by `PacketPool.create`.
   */
  static scratch(opts: { bufferCount: number; owner: number }): PoolHandle {
    const layout = computePoolLayout({ bufferCount: opts.bufferCount, stride: DEFAULT_STRIDE, headroom: DEFAULT_HEADROOM });
    const pool = new PoolHandle(new SharedArrayBuffer(layout.totalBytes), layout, opts.owner);
    pool.format();
    return pool;
  }

  /**
   * Attaches to a pool created elsewhere (usually another thread), acting as `owner`.
   * Throws `SharedLayoutError` if the memory does not hold the layout this build expects.
   */
  static attach(sab: SharedArrayBuffer, opts: { owner: number }): PoolHandle {
    return new PoolHandle(sab, readPoolHeader(sab), opts.owner);
  }

  /** Absolute byte offset of the start of buffer `id` (its headroom included). */
  bufferOffset(id: number): number {
    return this.dataAreaOffset + id * this.stride;
  }

  /** Absolute byte offset of buffer `id`'s frame: `bufferOffset(id) + meta.dataOff[id]`. */
  dataOffset(id: number): number {
    return this.dataAreaOffset + id * this.stride + this.meta.dataOff[id];
  }

  /** Bytes available to the frame of `id` from its current data offset to the buffer's end. */
  capacity(id: number): number {
    return this.stride - this.meta.dataOff[id];
  }

  /**
   * Grows the frame of `id` at the front by `n` bytes of headroom (to push a header, like
   * `rte_pktmbuf_prepend`): `dataOff -= n`, `length += n`. Returns false, changing
   * nothing, if the headroom is smaller than `n`.
   */
  prepend(id: number, n: number): boolean {
    const meta = this.meta;
    if (n < 0 || meta.dataOff[id] < n) return false;
    meta.dataOff[id] -= n;
    meta.length[id] += n;
    return true;
  }

  /**
   * Removes `n` bytes from the front of the frame of `id` (to strip a header, like
   * `rte_pktmbuf_adj`): `dataOff += n`, `length -= n`. Returns false, changing nothing,
   * if the frame is shorter than `n`.
   */
  adj(id: number, n: number): boolean {
    const meta = this.meta;
    if (n < 0 || meta.length[id] < n) return false;
    meta.dataOff[id] += n;
    meta.length[id] -= n;
    return true;
  }

  /** The buffer containing absolute byte `offset`, or -1 outside the data area. */
  bufferIdAt(offset: number): number {
    const rel = offset - this.dataAreaOffset;
    if (rel < 0) return -1;
    const id = (rel / this.stride) | 0;
    return id < this.bufferCount ? id : -1;
  }

  /** Current owner id of buffer `id` (`FREE_OWNER` when free). */
  ownerOf(id: number): number {
    return Atomics.load(this.meta.state, id);
  }

  /**
   * Allocates up to `n` buffers into `out[0..)`, taking the lock once. Returns how many
   * were allocated (fewer than `n` when the pool runs short; the shortfall is counted).
   * Each buffer comes back owned by this handle with reset metadata (`dataOff` =
   * headroom, `length` 0).
   */
  allocBatch(out: Uint32Array, n: number): number {
    if (n > out.length) n = out.length;
    if (n <= 0) return 0;
    const w = this.iwords;
    const state = this.meta.state;
    const stack = this.stack;
    const count = this.bufferCount;
    const me = this.ownerId;
    if (!this.lock()) {
      addCounter64(this.words, C_ALLOC_SHORTFALL, n);
      return 0;
    }
    let top = this.validTop();
    let got = 0;
    let rejects = 0;
    // Claim each popped id with a compare-and-swap: an id out of range, not free, or on the
    // stack twice is skipped (only a writer that ignores the protocol puts one there).
    while (got < n && top > 0) {
      const id = stack[--top];
      if (id < count && Atomics.compareExchange(state, id, FREE_OWNER, me) === FREE_OWNER) out[got++] = id;
      else rejects++;
    }
    Atomics.store(w, H_FREE_TOP, top);
    lockRelease(w, H_LOCK, H_LOCK_HOLDER);
    if (rejects > 0) addCounter64(this.words, C_STACK_REJECTS, rejects);
    const meta = this.meta;
    const headroom = this.headroom;
    for (let i = 0; i < got; i++) meta.reset(out[i], headroom);
    if (got > 0) addCounter64(this.words, C_ALLOCS, got);
    if (got < n) addCounter64(this.words, C_ALLOC_SHORTFALL, n - got);
    return got;
  }

  /** Allocates one buffer; throws `PoolExhaustedError` when none is free. */
  alloc(): number {
    const one = new Uint32Array(1);
    if (this.allocBatch(one, 1) !== 1) {
      throw new PoolExhaustedError(`pool of ${this.bufferCount} buffers has none free`);
    }
    return one[0];
  }

  /**
   * Frees `ids[0..n)`, all owned by this handle, taking the lock once. Throws
   * `BufferOwnershipError` (freeing none of the batch) if one is free already, owned by
   * another owner, out of range, or listed twice. The supervisor's handle (`PacketPool`)
   * that finds the lock held defers the frees (checked for ownership now, done when it next
   * holds the lock; a repeat within the batch is then skipped and counted instead).
   */
  freeBatch(ids: ArrayLike<number>, n: number): void {
    if (n <= 0) return;
    if (n > ids.length) throw new InvalidArgumentError(`freeBatch of ${n} ids from an array of ${ids.length}`);
    const w = this.iwords;
    const state = this.meta.state;
    const me = this.ownerId;
    const count = this.bufferCount;
    if (!this.lockOrDefer(ids, n)) return;
    let bad = -1;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      // Mark so that a duplicate inside the batch is caught on its second occurrence.
      if (!(id >= 0 && id < count) || Atomics.compareExchange(state, id, me, -1) !== me) {
        bad = i;
        break;
      }
    }
    if (bad >= 0) {
      const err = this.ownershipError('free', ids[bad]);
      for (let i = 0; i < bad; i++) Atomics.store(state, ids[i], me);
      lockRelease(w, H_LOCK, H_LOCK_HOLDER);
      addCounter64(this.words, C_OWNERSHIP_ERRORS, 1);
      throw err;
    }
    const pushed = this.pushMarked(ids, n);
    lockRelease(w, H_LOCK, H_LOCK_HOLDER);
    addCounter64(this.words, C_FREES, pushed);
  }

  /** Frees one buffer (see `freeBatch`). */
  free(id: number): void {
    this.freeBatch([id], 1);
  }

  /**
   * Moves ownership of `ids[0..n)` from this handle's owner to `to`, one atomic
   * compare-and-swap each. Throws `BufferOwnershipError` at the first buffer this owner
   * does not hold; the ones before it have moved.
   */
  transferBatch(ids: ArrayLike<number>, n: number, to: number): void {
    if (!(to >= 1 && to <= MAX_OWNER_ID)) throw new InvalidArgumentError(`cannot transfer to owner ${to}`);
    const state = this.meta.state;
    const me = this.ownerId;
    const count = this.bufferCount;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < count) || Atomics.compareExchange(state, id, me, to) !== me) {
        if (i > 0) addCounter64(this.words, C_TRANSFERS, i);
        addCounter64(this.words, C_OWNERSHIP_ERRORS, 1);
        throw this.ownershipError('transfer', id);
      }
    }
    if (n > 0) addCounter64(this.words, C_TRANSFERS, n);
  }

  /** Moves ownership of one buffer to `to`; returns false (counting an error) instead of throwing. */
  tryTransfer(id: number, to: number): boolean {
    if (id >= 0 && id < this.bufferCount && Atomics.compareExchange(this.meta.state, id, this.ownerId, to) === this.ownerId) {
      addCounter64(this.words, C_TRANSFERS, 1);
      return true;
    }
    addCounter64(this.words, C_OWNERSHIP_ERRORS, 1);
    return false;
  }

  /** Moves ownership of one buffer to `to` (see `transferBatch`). */
  transfer(id: number, to: number): void {
    this.transferBatch([id], 1, to);
  }

  /**
   * Copies `len` bytes of `src` from `srcOff` into buffer `id` at its data offset and
   * sets `meta.length`. Counts one copy and `len` bytes. Returns false (counting a
   * reject, copying nothing) if the bytes do not fit the buffer's capacity or the source.
   * Throws `BufferOwnershipError` if this handle does not own `id`.
   */
  copyIn(id: number, src: Uint8Array, srcOff: number, len: number): boolean {
    if (!(id >= 0 && id < this.bufferCount) || Atomics.load(this.meta.state, id) !== this.ownerId) {
      addCounter64(this.words, C_OWNERSHIP_ERRORS, 1);
      throw this.ownershipError('copyIn', id);
    }
    if (len < 0 || srcOff < 0 || srcOff + len > src.length || len > this.capacity(id)) {
      addCounter64(this.words, C_COPY_REJECTS, 1);
      return false;
    }
    const at = this.dataOffset(id);
    // A full-array source needs no view object; otherwise one subarray per copy (edge, not hot path).
    if (srcOff === 0 && len === src.length) this.bytes.set(src, at);
    else this.bytes.set(src.subarray(srcOff, srcOff + len), at);
    this.meta.length[id] = len;
    addCounter64(this.words, C_COPIES_IN, 1);
    addCounter64(this.words, C_BYTES_IN, len);
    return true;
  }

  /**
   * Copies buffer `id`'s frame (`meta.length` bytes at its data offset) into `dst` at
   * `dstOff`. Counts one copy. Returns the byte count, or -1 (counting a reject, copying
   * nothing) if `dst` is too small or the metadata does not describe a frame inside the
   * buffer.
   */
  copyOut(id: number, dst: Uint8Array, dstOff: number): number {
    const len = this.meta.length[id];
    const dataOff = this.meta.dataOff[id];
    if (dstOff < 0 || dstOff + len > dst.length || dataOff > this.stride || len > this.stride - dataOff) {
      addCounter64(this.words, C_COPY_REJECTS, 1);
      return -1;
    }
    const at = this.dataOffset(id);
    dst.set(this.bytes.subarray(at, at + len), dstOff);
    addCounter64(this.words, C_COPIES_OUT, 1);
    addCounter64(this.words, C_BYTES_OUT, len);
    return len;
  }

  /**
   * Counts `frames` frames of `bytes` bytes in all that entered the pool without `copyIn`:
   * a socket (the kernel) wrote them straight into their buffers. Each is still one copy in.
   */
  countIn(frames: number, bytes: number): void {
    addCounter64(this.words, C_COPIES_IN, frames);
    addCounter64(this.words, C_BYTES_IN, bytes);
  }

  /** Counts `frames` frames of `bytes` bytes that left the pool without `copyOut` (a socket sent them from their buffers). */
  countOut(frames: number, bytes: number): void {
    addCounter64(this.words, C_COPIES_OUT, frames);
    addCounter64(this.words, C_BYTES_OUT, bytes);
  }

  /**
   * Number of free buffers (the free-stack top, clamped to 0…bufferCount: the word is
   * shared memory). On the supervisor's handle (`PacketPool`) it first does the frees it
   * deferred, if it can take the lock.
   */
  freeCount(): number {
    const top = Atomics.load(this.iwords, H_FREE_TOP);
    return top < 0 ? 0 : top > this.bufferCount ? this.bufferCount : top;
  }

  /** Number of buffers not free (any owner). */
  inUse(): number {
    return this.bufferCount - this.freeCount();
  }

  /** Writes a fresh pool into this handle's memory: every buffer free and reset, then the header. */
  protected format(): void {
    const count = this.bufferCount;
    // Ids pushed in reverse so that the first allocations return 0, 1, 2, …
    for (let i = 0; i < count; i++) this.stack[i] = count - 1 - i;
    this.iwords[H_FREE_TOP] = count;
    for (let i = 0; i < count; i++) this.meta.reset(i, this.headroom);
    writePoolHeader(this.words, this.layout);
  }

  /**
   * Takes the pool lock and returns true; an instance's handle blocks until it has it. The
   * supervisor's (`PacketPool`) may return false instead of waiting on a holder it does
   * not trust.
   */
  protected lock(): boolean {
    lockAcquire(this.iwords, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, this.ownerId);
    return true;
  }

  /**
   * Takes the lock for a free of `ids[0..n)` and returns true, or returns false when the
   * free was deferred instead (only the supervisor's handle defers: `PacketPool`).
   */
  protected lockOrDefer(_ids: ArrayLike<number>, _n: number): boolean {
    return this.lock();
  }

  /** Under the lock: pushes `ids[0..n)` (state words marked -1 by `freeBatch`) and marks them free. Returns n. */
  protected pushMarked(ids: ArrayLike<number>, n: number): number {
    const state = this.meta.state;
    const top = this.validTop();
    if (top + n > this.bufferCount) {
      // More free buffers than buffers: the stack holds stale entries. Rebuild it.
      for (let i = 0; i < n; i++) Atomics.store(state, ids[i], FREE_OWNER);
      addCounter64(this.words, C_STACK_REJECTS, 1);
      this.rebuildStack();
      return n;
    }
    const stack = this.stack;
    let t = top;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      stack[t++] = id;
      Atomics.store(state, id, FREE_OWNER);
    }
    Atomics.store(this.iwords, H_FREE_TOP, t);
    return n;
  }

  /** Under the lock: the free-stack top, or, when the shared word is out of range, the top of a rebuilt stack. */
  protected validTop(): number {
    const top = Atomics.load(this.iwords, H_FREE_TOP);
    if (top >= 0 && top <= this.bufferCount) return top;
    addCounter64(this.words, C_STACK_REJECTS, 1);
    return this.rebuildStack();
  }

  /** Under the lock: rebuilds the free stack from the state words (lowest ids on top, as after `create`). Returns its top. */
  protected rebuildStack(): number {
    const state = this.meta.state;
    const stack = this.stack;
    let top = 0;
    for (let id = this.bufferCount - 1; id >= 0; id--) {
      if (Atomics.load(state, id) === FREE_OWNER) stack[top++] = id;
    }
    Atomics.store(this.iwords, H_FREE_TOP, top);
    return top;
  }

  protected ownershipError(op: string, id: number): BufferOwnershipError {
    if (!(id >= 0 && id < this.bufferCount)) {
      return new BufferOwnershipError(`${op} of buffer ${id}: no such buffer (pool has ${this.bufferCount})`);
    }
    const owner = Atomics.load(this.meta.state, id);
    const what = owner === FREE_OWNER ? 'it is free (double free or use after free)' : owner === -1 ? 'it is listed twice in the batch' : `it is owned by ${owner}`;
    return new BufferOwnershipError(`${op} of buffer ${id} by owner ${this.ownerId}: ${what}`);
  }
}
