import { LockWatch } from './pool-lock.ts';

/**
 * How long an instance may hold the pool lock before the supervisor takes it back, ms. A
 * legitimate hold lasts about a microsecond, but its thread can be descheduled inside it
 * (more busy threads than cores): the timeout must outlast any such pause, since taking the
 * lock from a live holder breaks mutual exclusion (the free stack is then rebuilt and
 * validated, but the holder is failed). It must also stay below the instances' hang
 * timeout (1 s by default), so that instances queued behind a kept lock are not taken for
 * hung.
 */
export const DEFAULT_LOCK_TIMEOUT_MS = 400;

/**
 * What the supervisor (the thread that created a pool: the host) keeps about the pool in
 * its own memory, shared by every handle it makes with `withOwner` and never by handles
 * other threads `attach`. It exists because the pool's header, free stack and lock words
 * are in memory every instance can write, so the supervisor may not wait on them:
 *
 * - `watch` times the current hold of the pool lock on the supervisor's clock
 *   (`LockWatch`): a hold older than `lockTimeoutMs` is taken back and its holder is
 *   queued as an offender for the data plane to fail (`PacketPool.checkLock`).
 * - Frees the supervisor could not do at once (the lock was held and not yet stuck) wait
 *   here as (buffer id, owner) pairs and are done, re-validated, the next time a
 *   supervisor handle holds the lock.
 *
 * Why a lock with a supervisor's timeout rather than per-instance caches refilled by the
 * host: instances allocate and free in batches on their own threads today (receive-queue
 * refills, dropped packets, ports placed in the instance), all through the one free stack;
 * a timed lock keeps that hot path as it is and bounds what a stuck or hostile holder
 * costs (one timeout, then it is failed), while the supervisor never blocks on it.
 *
 * @example
 * ```ts
 * const pool = PacketPool.create({ bufferCount: 4096, lockTimeoutMs: 400 }); // makes one
 * const offender = pool.checkLock(performance.now());                        // each pump pass
 * ```
 */
export class PoolSupervision {
  readonly watch: LockWatch;
  /** Pairs waiting to be freed: `deferredIds[i]` held by `deferredOwners[i]`. */
  deferredIds: Uint32Array | null = null;
  deferredOwners: Int32Array | null = null;
  deferredCount = 0;
  private readonly capacity: number;
  private readonly offenders: number[] = [];

  constructor(lockTimeoutMs: number, bufferCount: number) {
    this.watch = new LockWatch(lockTimeoutMs);
    this.capacity = bufferCount;
  }

  /** Room for `n` more deferred frees. */
  canDefer(n: number): boolean {
    return this.deferredCount + n <= this.capacity;
  }

  /** Queues buffer `id` of `owner` to be freed when the lock is next held (the caller checked `canDefer`). */
  defer(id: number, owner: number): void {
    if (this.deferredIds === null || this.deferredOwners === null) {
      this.deferredIds = new Uint32Array(this.capacity);
      this.deferredOwners = new Int32Array(this.capacity);
    }
    this.deferredIds[this.deferredCount] = id;
    this.deferredOwners[this.deferredCount++] = owner;
  }

  /** Records that the lock was taken back from `holder` (an owner id, or -1 for none). */
  addOffender(holder: number): void {
    this.offenders.push(holder);
  }

  /** The oldest offender not yet reported, or 0. */
  takeOffender(): number {
    return this.offenders.length === 0 ? 0 : this.offenders.shift()!;
  }

  /** Whether offenders wait to be reported. */
  hasOffenders(): boolean {
    return this.offenders.length > 0;
  }
}
