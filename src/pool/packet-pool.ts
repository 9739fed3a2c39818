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
  C_TRANSFERS,
  DEFAULT_HEADROOM,
  DEFAULT_STRIDE,
  H_FREE_TOP,
  H_LOCK,
  H_LOCK_HOLDER,
  POOL_HEADER_BYTES,
  computePoolLayout,
  readPoolHeader,
  writePoolHeader,
  type PoolLayout,
} from './pool-layout.ts';
import { lockAcquire, lockForceRelease, lockRelease } from './pool-lock.ts';
import { addCounter64, readCounter64 } from './shared-counter.ts';

/** The `state` word of a free buffer. Any other value is the id of the buffer's owner. */
export const FREE_OWNER = 0;
/** Largest owner id (owner ids are positive Int32 values). */
export const MAX_OWNER_ID = 0x7fffffff;

/** Options of `PacketPool.create`. */
export interface PacketPoolOptions {
  /** Number of buffers (default 4096). */
  bufferCount?: number;
  /** Bytes per buffer, a multiple of 64 (default 2176). */
  stride?: number;
  /** Bytes reserved before the frame of a fresh buffer (default 128). */
  headroom?: number;
  /** Owner id of the returned handle (default 1). */
  owner?: number;
}

/** Accounting snapshot; every figure is pool-wide (all threads, all owners). */
export interface PoolStats {
  allocs: number;
  frees: number;
  /** Buffers asked for by `allocBatch` that could not be given (pool empty). */
  allocShortfall: number;
  copiesIn: number;
  bytesIn: number;
  copiesOut: number;
  bytesOut: number;
  /** `copyIn`/`copyOut` calls refused because the bytes did not fit. */
  copyRejects: number;
  transfers: number;
  ownershipErrors: number;
  inUse: number;
}

/** A buffer that is not free, as reported by `leakCheck`. */
export interface HeldBuffer {
  id: number;
  owner: number;
}

/**
 * The packet pool ("guest memory"): ONE SharedArrayBuffer holding a header, a free
 * stack, fixed-shape metadata (see `PacketMeta`) and `bufferCount` buffers of `stride`
 * bytes. Any thread can `attach` the same memory; all handles see the same buffers,
 * metadata, free stack and counters. Packet code works in place through `view`/`bytes`
 * at `dataOffset(id)`; descriptor addresses are byte offsets into this memory.
 *
 * **Ownership rules.**
 * - Every handle acts for one *owner id* (positive Int32: an instance, a port, a queue
 *   end). Each buffer's `state` word holds `FREE_OWNER` (0) or the id of its one owner.
 * - `allocBatch` makes the calling handle's owner the owner. Only the owner may write
 *   the buffer's bytes or metadata, `free` it or `transfer` it.
 * - Ownership moves with descriptors: whoever posts a buffer to a queue transfers it to
 *   the owner id of the queue's other end (`transfer`/`transferBatch`, one atomic
 *   compare-and-swap per buffer, so a wrong current owner is detected).
 * - `freeBatch` of a buffer that is free (double free) or owned by another id (foreign
 *   free) throws `BufferOwnershipError` — a programming error, not a bad packet — after
 *   counting it in `ownershipErrors`; such a batch frees nothing (checked under the lock
 *   before any change). `copyIn` on a buffer the caller does not own throws the same.
 * - `leakCheck()` lists every buffer that is not free, with its owner: after a run that
 *   drained every queue it must be empty.
 *
 * **Copies.** `copyIn`/`copyOut` are the only sanctioned ways bytes enter or leave the
 * pool; they count copies and bytes in shared counters, so a test can prove that no
 * copy happened between two points (`stats().copiesIn` unchanged).
 *
 * **Concurrency.** Alloc and free take a futex-style lock once per batch (see
 * `pool-lock.ts`); the critical section pops or pushes ids on the free stack and sets
 * their state words. Counters are 64-bit pairs updated with `Atomics`.
 *
 * @example
 * ```ts
 * const pool = PacketPool.create({ bufferCount: 4096 });          // owner 1
 * const ids = new Uint32Array(32);
 * const n = pool.allocBatch(ids, 32);                            // n ≤ 32
 * pool.copyIn(ids[0], frame, 0, frame.length);                   // the one copy in
 * pool.view.getUint16(pool.dataOffset(ids[0]) + 12);              // EtherType, in place
 * pool.freeBatch(ids, n);
 * // in a worker: const peer = PacketPool.attach(workerData.poolSab, { owner: 2 });
 * ```
 */
export class PacketPool {
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
  private readonly layout: PoolLayout;
  private readonly words: Uint32Array;
  private readonly iwords: Int32Array;
  private readonly stack: Uint32Array;

  private constructor(sab: SharedArrayBuffer, layout: PoolLayout, owner: number) {
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

  /** Creates a pool in fresh shared memory with every buffer free. */
  static create(opts: PacketPoolOptions = {}): PacketPool {
    const layout = computePoolLayout({
      bufferCount: opts.bufferCount ?? 4096,
      stride: opts.stride ?? DEFAULT_STRIDE,
      headroom: opts.headroom ?? DEFAULT_HEADROOM,
    });
    const sab = new SharedArrayBuffer(layout.totalBytes);
    const pool = new PacketPool(sab, layout, opts.owner ?? 1);
    // Ids pushed in reverse so that the first allocations return 0, 1, 2, …
    for (let i = 0; i < layout.bufferCount; i++) pool.stack[i] = layout.bufferCount - 1 - i;
    pool.iwords[H_FREE_TOP] = layout.bufferCount;
    for (let i = 0; i < layout.bufferCount; i++) pool.meta.reset(i, layout.headroom);
    writePoolHeader(pool.words, layout);
    return pool;
  }

  /**
   * Attaches to a pool created elsewhere (usually another thread), acting as `owner`.
   * Throws `SharedLayoutError` if the memory does not hold the layout this build expects.
   */
  static attach(sab: SharedArrayBuffer, opts: { owner: number }): PacketPool {
    return new PacketPool(sab, readPoolHeader(sab), opts.owner);
  }

  /** Another handle on the same memory acting for `owner`. */
  withOwner(owner: number): PacketPool {
    return new PacketPool(this.sab, this.layout, owner);
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
    const me = this.ownerId;
    lockAcquire(w, H_LOCK, H_LOCK_HOLDER, me);
    const top = w[H_FREE_TOP];
    const got = n < top ? n : top;
    const base = top - got;
    for (let i = 0; i < got; i++) {
      const id = this.stack[top - 1 - i];
      out[i] = id;
      Atomics.store(state, id, me);
    }
    Atomics.store(w, H_FREE_TOP, base);
    lockRelease(w, H_LOCK, H_LOCK_HOLDER);
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
   * another owner, out of range, or listed twice.
   */
  freeBatch(ids: ArrayLike<number>, n: number): void {
    if (n <= 0) return;
    if (n > ids.length) throw new InvalidArgumentError(`freeBatch of ${n} ids from an array of ${ids.length}`);
    const w = this.iwords;
    const state = this.meta.state;
    const me = this.ownerId;
    const count = this.bufferCount;
    lockAcquire(w, H_LOCK, H_LOCK_HOLDER, me);
    let bad = -1;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < count) || Atomics.load(state, id) !== me) {
        bad = i;
        break;
      }
      // Mark so that a duplicate inside the batch is caught on its second occurrence.
      Atomics.store(state, id, -1);
    }
    if (bad >= 0) {
      const err = this.ownershipError('free', ids[bad]);
      for (let i = 0; i < bad; i++) Atomics.store(state, ids[i], me);
      lockRelease(w, H_LOCK, H_LOCK_HOLDER);
      addCounter64(this.words, C_OWNERSHIP_ERRORS, 1);
      throw err;
    }
    let top = w[H_FREE_TOP];
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      this.stack[top++] = id;
      Atomics.store(state, id, FREE_OWNER);
    }
    Atomics.store(w, H_FREE_TOP, top);
    lockRelease(w, H_LOCK, H_LOCK_HOLDER);
    addCounter64(this.words, C_FREES, n);
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
   * nothing) if `dst` is too small.
   */
  copyOut(id: number, dst: Uint8Array, dstOff: number): number {
    const len = this.meta.length[id];
    if (dstOff < 0 || dstOff + len > dst.length) {
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

  /** Number of free buffers. */
  freeCount(): number {
    return Atomics.load(this.iwords, H_FREE_TOP);
  }

  /** Number of buffers not free (any owner). */
  inUse(): number {
    return this.bufferCount - this.freeCount();
  }

  /** Pool-wide accounting. */
  stats(): PoolStats {
    const w = this.words;
    return {
      allocs: readCounter64(w, C_ALLOCS),
      frees: readCounter64(w, C_FREES),
      allocShortfall: readCounter64(w, C_ALLOC_SHORTFALL),
      copiesIn: readCounter64(w, C_COPIES_IN),
      bytesIn: readCounter64(w, C_BYTES_IN),
      copiesOut: readCounter64(w, C_COPIES_OUT),
      bytesOut: readCounter64(w, C_BYTES_OUT),
      copyRejects: readCounter64(w, C_COPY_REJECTS),
      transfers: readCounter64(w, C_TRANSFERS),
      ownershipErrors: readCounter64(w, C_OWNERSHIP_ERRORS),
      inUse: this.inUse(),
    };
  }

  /**
   * Every buffer that is not free, with its owner, in id order. Empty when everything
   * came back. Also cross-checks the free stack: a free-stack count that disagrees with
   * the state words is reported as buffers owned by -1.
   */
  leakCheck(): HeldBuffer[] {
    const held: HeldBuffer[] = [];
    const state = this.meta.state;
    for (let id = 0; id < this.bufferCount; id++) {
      const owner = Atomics.load(state, id);
      if (owner !== FREE_OWNER) held.push({ id, owner });
    }
    if (held.length === 0 && this.freeCount() !== this.bufferCount) held.push({ id: -1, owner: -1 });
    return held;
  }

  /**
   * Releases the pool lock if the owner `deadOwner` holds it: for a supervisor after it
   * terminated a worker that might have been inside `allocBatch`/`freeBatch`. Returns
   * whether it did. Never call it for an owner whose thread still runs.
   */
  releaseLockOf(deadOwner: number): boolean {
    return lockForceRelease(this.iwords, H_LOCK, H_LOCK_HOLDER, deadOwner);
  }

  /**
   * Frees every buffer owned by `deadOwner`, for a supervisor after the thread acting as
   * that owner was terminated (crash, out of memory, hang). Releases the lock first if the
   * dead owner held it, then, under the lock, also frees buffers a batch free left marked
   * half-way (state -1) and rebuilds the free stack from the state words, so a thread killed
   * between two stores of `allocBatch`/`freeBatch` leaves nothing inconsistent. Returns how
   * many buffers it freed. O(bufferCount): a rare event, not a hot path. Never call it for an
   * owner whose thread still runs.
   *
   * @example
   * ```ts
   * await worker.terminate();
   * const freed = pool.reclaimOwner(instanceOwner);
   * ```
   */
  reclaimOwner(deadOwner: number): number {
    if (!Number.isInteger(deadOwner) || deadOwner < 1 || deadOwner > MAX_OWNER_ID) {
      throw new InvalidArgumentError(`owner id must be an integer in 1..${MAX_OWNER_ID}, got ${deadOwner}`);
    }
    const w = this.iwords;
    const state = this.meta.state;
    lockForceRelease(w, H_LOCK, H_LOCK_HOLDER, deadOwner);
    lockAcquire(w, H_LOCK, H_LOCK_HOLDER, this.ownerId);
    let freed = 0;
    for (let id = 0; id < this.bufferCount; id++) {
      const owner = Atomics.load(state, id);
      if (owner === deadOwner || owner === -1) {
        Atomics.store(state, id, FREE_OWNER);
        freed++;
      }
    }
    // Rebuild the free stack (lowest ids on top, as after `create`).
    let top = 0;
    for (let id = this.bufferCount - 1; id >= 0; id--) {
      if (Atomics.load(state, id) === FREE_OWNER) this.stack[top++] = id;
    }
    Atomics.store(w, H_FREE_TOP, top);
    lockRelease(w, H_LOCK, H_LOCK_HOLDER);
    if (freed > 0) addCounter64(this.words, C_FREES, freed);
    return freed;
  }

  private ownershipError(op: string, id: number): BufferOwnershipError {
    if (!(id >= 0 && id < this.bufferCount)) {
      return new BufferOwnershipError(`${op} of buffer ${id}: no such buffer (pool has ${this.bufferCount})`);
    }
    const owner = Atomics.load(this.meta.state, id);
    const what = owner === FREE_OWNER ? 'it is free (double free or use after free)' : owner === -1 ? 'it is listed twice in the batch' : `it is owned by ${owner}`;
    return new BufferOwnershipError(`${op} of buffer ${id} by owner ${this.ownerId}: ${what}`);
  }
}
