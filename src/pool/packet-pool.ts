import { InvalidArgumentError } from '../errors/catalog.ts';
import type { SharedMemory } from '../memory/shared-memory.ts';
import {
  C_ALLOCS,
  C_ALLOC_SHORTFALL,
  C_BYTES_IN,
  C_BYTES_OUT,
  C_COPIES_IN,
  C_COPIES_OUT,
  C_COPY_REJECTS,
  C_FREES,
  C_LOCK_STEALS,
  C_OWNERSHIP_ERRORS,
  C_STACK_REJECTS,
  C_TRANSFERS,
  DEFAULT_HEADROOM,
  DEFAULT_STRIDE,
  H_FREE_TOP,
  H_LOCK,
  H_LOCK_HOLDER,
  H_LOCK_SEQ,
  computePoolLayout,
  writePoolHeader,
  type PoolLayout,
} from './pool-layout.ts';
import { FREE_OWNER, MAX_OWNER_ID, PoolHandle } from './pool-handle.ts';
import { lockForceRelease, lockRelease, lockSteal, lockTryAcquire } from './pool-lock.ts';
import { DEFAULT_LOCK_TIMEOUT_MS, PoolSupervision } from './pool-supervision.ts';
import { addCounter64, readCounter64 } from './shared-counter.ts';

export { FREE_OWNER, MAX_OWNER_ID, PoolHandle };

/** Polls of the lock word a supervisor handle makes before it defers (never sleeps). */
const SUPERVISOR_SPINS = 100;

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
  /**
   * How long an instance may hold the pool lock before the creating thread (the
   * supervisor) takes it back and reports the holder (`checkLock`), ms (default 400, see
   * `DEFAULT_LOCK_TIMEOUT_MS`).
   */
  lockTimeoutMs?: number;
  /** Where the pool's memory comes from (default: the heap; a `MemfdMemory` for instance processes). */
  memory?: SharedMemory;
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
  /** Holds of the lock the supervisor took back after the timeout. */
  lockSteals: number;
  /** Free-stack entries that were not free buffers, and free-stack tops out of range. */
  freeStackRejects: number;
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
 * **Supervisor and instances.** The handles of the thread that `create`d the pool (and
 * those it makes with `withOwner`) are the supervisor's: a `PacketPool`. Handles made by
 * `attach` are an instance's: a `PoolHandle` (`pool-handle.ts`), which `PacketPool`
 * extends with the supervision below, so an image bundles none of it. Everything in the
 * pool's memory can be written by any instance, so the supervisor trusts none of it (see
 * `PoolSupervision`):
 * - it never blocks on the lock: it tries for a few polls, then an allocation comes back
 *   short and a free is deferred until it next holds the lock; a hold that outlasts
 *   `lockTimeoutMs` is taken back and its holder reported by `checkLock`;
 * - every id popped from the free stack must be a buffer whose state word is free (one
 *   compare-and-swap claims it, so a duplicate on the stack is caught); a free-stack top
 *   out of range is repaired by rebuilding the stack from the state words;
 * - `freeOwned` frees what the handle owns and skips the rest (a buffer an instance
 *   re-owned under it) instead of throwing; `reclaimOwner` and `reclaimAllBut` rebuild
 *   the free stack, and `reclaimAllBut` frees buffers whose state word names no live owner
 *   (what an instance scribbled there), so a hostile instance's words cannot leak buffers
 *   past its failure.
 * These checks bound what one instance can do to the pool's *global* state; the bytes and
 * metadata of any buffer stay writable by every instance of the pool (one trust domain:
 * use one pool per chain).
 *
 * @example
 * ```ts
 * const pool = PacketPool.create({ bufferCount: 4096 });          // owner 1
 * const ids = new Uint32Array(32);
 * const n = pool.allocBatch(ids, 32);                            // n ≤ 32
 * pool.copyIn(ids[0], frame, 0, frame.length);                   // the one copy in
 * pool.view.getUint16(pool.dataOffset(ids[0]) + 12);              // EtherType, in place
 * pool.freeBatch(ids, n);
 * // in a worker: const peer = PoolHandle.attach(workerData.poolSab, { owner: 2 });
 * ```
 */
export class PacketPool extends PoolHandle {
  /** The supervisor's private state, shared by the handles `withOwner` makes. */
  private readonly supervision: PoolSupervision;

  private constructor(sab: SharedArrayBuffer, layout: PoolLayout, owner: number, supervision: PoolSupervision) {
    super(sab, layout, owner);
    this.supervision = supervision;
  }

  /** Creates a pool in fresh shared memory with every buffer free. */
  static create(opts: PacketPoolOptions = {}): PacketPool {
    const layout = computePoolLayout({
      bufferCount: opts.bufferCount ?? 4096,
      stride: opts.stride ?? DEFAULT_STRIDE,
      headroom: opts.headroom ?? DEFAULT_HEADROOM,
    });
    const timeout = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    if (!(timeout > 0)) throw new InvalidArgumentError(`lockTimeoutMs must be positive, got ${timeout}`);
    const sab = opts.memory === undefined ? new SharedArrayBuffer(layout.totalBytes) : opts.memory.allocate(layout.totalBytes);
    const pool = new PacketPool(sab, layout, opts.owner ?? 1, new PoolSupervision(timeout, layout.bufferCount));
    pool.format();
    return pool;
  }

  /** Another supervisor's handle on the same memory acting for `owner`. */
  withOwner(owner: number): PacketPool {
    return new PacketPool(this.sab, this.layout, owner, this.supervision);
  }

  /**
   * Frees those of `ids[0..n)` this handle owns and skips the others (out of range, free,
   * another owner's, listed twice), counting each skip in `ownershipErrors`. Never throws:
   * for a supervisor freeing buffers an instance may have re-owned under it. Deferred like
   * `freeBatch` when the lock is held. Returns how many it skipped.
   */
  freeOwned(ids: ArrayLike<number>, n: number): number {
    if (n > ids.length) n = ids.length;
    if (n <= 0) return 0;
    const w = this.iwords;
    const state = this.meta.state;
    const me = this.ownerId;
    const count = this.bufferCount;
    let skipped = 0;
    if (!this.lockOrDeferAny(n)) {
      const sup = this.supervision;
      for (let i = 0; i < n; i++) {
        const id = ids[i];
        if (id >= 0 && id < count && Atomics.load(state, id) === me) sup.defer(id, me);
        else skipped++;
      }
      if (skipped > 0) addCounter64(this.words, C_OWNERSHIP_ERRORS, skipped);
      return skipped;
    }
    const stack = this.stack;
    let top = this.validTop();
    let freed = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      // The compare-and-swap also catches a repeat: its first occurrence already freed it.
      if (id >= 0 && id < count && top < count && Atomics.compareExchange(state, id, me, FREE_OWNER) === me) {
        stack[top++] = id;
        freed++;
      } else skipped++;
    }
    Atomics.store(w, H_FREE_TOP, top);
    lockRelease(w, H_LOCK, H_LOCK_HOLDER);
    if (freed > 0) addCounter64(this.words, C_FREES, freed);
    if (skipped > 0) addCounter64(this.words, C_OWNERSHIP_ERRORS, skipped);
    return skipped;
  }

  /** The number of free buffers, after the frees this handle deferred if it can take the lock (see `PoolHandle.freeCount`). */
  override freeCount(): number {
    this.settle();
    return super.freeCount();
  }

  /** Pool-wide accounting. */
  stats(): PoolStats {
    this.settle();
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
      lockSteals: readCounter64(w, C_LOCK_STEALS),
      freeStackRejects: readCounter64(w, C_STACK_REJECTS),
      inUse: this.inUse(),
    };
  }

  /**
   * Every buffer that is not free, with its owner, in id order. Empty when everything
   * came back. Also cross-checks the free stack: a free-stack count that disagrees with
   * the state words is reported as buffers owned by -1.
   */
  leakCheck(): HeldBuffer[] {
    this.settle();
    const held: HeldBuffer[] = [];
    const state = this.meta.state;
    for (let id = 0; id < this.bufferCount; id++) {
      const owner = Atomics.load(state, id);
      if (owner !== FREE_OWNER) held.push({ id, owner });
    }
    if (held.length === 0 && Atomics.load(this.iwords, H_FREE_TOP) !== this.bufferCount) held.push({ id: -1, owner: -1 });
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
   * between two stores of `allocBatch`/`freeBatch` leaves nothing inconsistent, and rewrites
   * the header's geometry words. Returns how many buffers it freed. O(bufferCount): a rare
   * event, not a hot path. Never call it for an owner whose thread still runs. On the
   * supervisor's handle it waits for the lock at most about twice `lockTimeoutMs` (another
   * instance keeping it loses it, see `checkLock`).
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
    this.lockAlways();
    let freed = 0;
    for (let id = 0; id < this.bufferCount; id++) {
      const owner = Atomics.load(state, id);
      if (owner === deadOwner || owner === -1) {
        Atomics.store(state, id, FREE_OWNER);
        freed++;
      }
    }
    this.rebuildStack();
    writePoolHeader(this.words, this.layout);
    lockRelease(w, H_LOCK, H_LOCK_HOLDER);
    if (freed > 0) addCounter64(this.words, C_FREES, freed);
    return freed;
  }

  /**
   * Frees every buffer whose state word names none of the `live` owner ids (free buffers
   * aside): for the supervisor after an instance failed, since a hostile instance can write
   * any value into any state word (an id nobody has, a failed owner's, -1). Buffers of live
   * owners are left alone, so nothing another instance holds is freed under it. Like
   * `reclaimOwner` it rebuilds the free stack and rewrites the header's geometry words
   * (so instances booted later can attach). Returns how many it freed. O(bufferCount ·
   * live.length), for rare events. `live` must hold every owner id that may hold a buffer
   * (the supervisor's own, every running or booting instance's and device end's).
   *
   * @example
   * ```ts
   * pool.reclaimAllBut([DATA_PLANE_OWNER, ...running.flatMap((h) => [h.owner, h.deviceOwner])]);
   * ```
   */
  reclaimAllBut(live: readonly number[]): number {
    const w = this.iwords;
    const state = this.meta.state;
    this.lockAlways();
    let freed = 0;
    for (let id = 0; id < this.bufferCount; id++) {
      const owner = Atomics.load(state, id);
      if (owner !== FREE_OWNER && !live.includes(owner)) {
        Atomics.store(state, id, FREE_OWNER);
        freed++;
      }
    }
    this.rebuildStack();
    writePoolHeader(this.words, this.layout);
    lockRelease(w, H_LOCK, H_LOCK_HOLDER);
    if (freed > 0) addCounter64(this.words, C_FREES, freed);
    return freed;
  }

  /**
   * For the supervisor, once per pump pass (cheap while the lock is free and nothing is
   * deferred): does the frees it deferred when it can take the lock, takes the lock back
   * from a hold older than `lockTimeoutMs`, and returns the holder of a hold it took back
   * (the id in the holder word; -1 when that named nobody), oldest first, or 0. The caller
   * fails that holder; until then its waiting peers run again.
   *
   * @example
   * ```ts
   * const holder = pool.checkLock();
   * if (holder !== 0) dataPlane.failOwner(holder, 'lock-held');
   * ```
   */
  checkLock(): number {
    const sup = this.supervision;
    const w = this.iwords;
    if (Atomics.load(w, H_LOCK) === 0) sup.watch.reset();
    if ((sup.deferredCount > 0 || Atomics.load(w, H_LOCK) !== 0) && this.lock()) lockRelease(w, H_LOCK, H_LOCK_HOLDER);
    return sup.hasOffenders() ? sup.takeOffender() : 0;
  }

  /**
   * Takes the pool lock without blocking on it: polls a few times and otherwise takes it
   * only from a hold past the timeout (see `PoolSupervision`); returns whether it holds the
   * lock. Deferred frees are done first.
   */
  protected override lock(): boolean {
    const w = this.iwords;
    const sup = this.supervision;
    if (lockTryAcquire(w, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, this.ownerId, SUPERVISOR_SPINS)) sup.watch.reset();
    else if (!this.stealStuck()) return false;
    if (sup.deferredCount > 0) this.flushDeferred();
    return true;
  }

  /** Supervisor: does the deferred frees now if the lock can be had (before figures are read). */
  private settle(): void {
    if (this.supervision.deferredCount > 0 && this.lock()) lockRelease(this.iwords, H_LOCK, H_LOCK_HOLDER);
  }

  /**
   * Takes the lock for a free of `ids[0..n)`, or, when the lock is held and there is room,
   * checks now that this handle owns each one (throwing `BufferOwnershipError` as
   * `freeBatch` does, deferring none) and defers the frees: returns false then. Waits
   * (bounded) when there is no room to defer.
   */
  protected override lockOrDefer(ids: ArrayLike<number>, n: number): boolean {
    if (!this.lockOrDeferAny(n)) {
      const state = this.meta.state;
      const me = this.ownerId;
      for (let i = 0; i < n; i++) {
        const id = ids[i];
        if (!(id >= 0 && id < this.bufferCount) || Atomics.load(state, id) !== me) {
          addCounter64(this.words, C_OWNERSHIP_ERRORS, 1);
          throw this.ownershipError('free', id);
        }
      }
      for (let i = 0; i < n; i++) this.supervision.defer(ids[i], me);
      return false;
    }
    return true;
  }

  /** `lock`, or false when `n` frees can be deferred instead; waits (bounded) when they cannot. */
  private lockOrDeferAny(n: number): boolean {
    if (this.lock()) return true;
    if (this.supervision.canDefer(n)) return false;
    this.lockAlways();
    return true;
  }


  /**
   * Takes the lock, for work that cannot be deferred (reclaims). The supervisor waits in
   * 1 ms sleeps on the lock word until it gets it or the hold is past the timeout (then it
   * takes it back): at most about twice `lockTimeoutMs`.
   */
  private lockAlways(): void {
    const w = this.iwords;
    while (!this.lock()) {
      const v = Atomics.load(w, H_LOCK);
      if (v !== 0) Atomics.wait(w, H_LOCK, v, 1);
    }
  }

  /** Supervisor: takes the lock back if its current hold is past the timeout, queueing the holder as an offender. */
  private stealStuck(): boolean {
    const sup = this.supervision;
    const w = this.iwords;
    const holder = sup.watch.stuckHolder(w, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, performance.now());
    if (holder === 0) return false;
    lockSteal(w, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, this.ownerId);
    addCounter64(this.words, C_LOCK_STEALS, 1);
    sup.addOffender(holder);
    // Whatever the holder left half-done on the free stack: rebuild it from the state words.
    this.rebuildStack();
    return true;
  }

  /** Under the lock: the frees the supervisor deferred, each re-checked against its owner. */
  private flushDeferred(): void {
    const sup = this.supervision;
    const ids = sup.deferredIds!;
    const owners = sup.deferredOwners!;
    const n = sup.deferredCount;
    sup.deferredCount = 0;
    const state = this.meta.state;
    const stack = this.stack;
    const count = this.bufferCount;
    let top = this.validTop();
    let freed = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const owner = owners[i];
      if (top < count && Atomics.compareExchange(state, id, owner, FREE_OWNER) === owner) {
        stack[top++] = id;
        freed++;
      }
    }
    Atomics.store(this.iwords, H_FREE_TOP, top);
    if (freed > 0) addCounter64(this.words, C_FREES, freed);
    if (freed < n) addCounter64(this.words, C_OWNERSHIP_ERRORS, n - freed);
  }
}
