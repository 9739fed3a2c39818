/**
 * A mutex on one Int32 word of shared memory, safe between worker_threads: the classic
 * three-state futex mutex (0 free, 1 held, 2 held and someone may sleep) with a short spin
 * before sleeping in `Atomics.wait`. The pool holds it for a handful of loads and stores
 * per *batch*, so contention is short; the spin covers it without a syscall, and the
 * wait keeps a thread whose peer was descheduled (2 cores, more threads) from burning
 * its slice.
 *
 * The holder's owner id is recorded in a second word so that a supervisor can release
 * the lock of a worker that was terminated while holding it (`forceRelease`).
 *
 * @example
 * ```ts
 * lockAcquire(words, H_LOCK, H_LOCK_HOLDER, ownerId);
 * // … critical section …
 * lockRelease(words, H_LOCK, H_LOCK_HOLDER);
 * ```
 */

/** Spins before sleeping; a pool critical section is well under a microsecond. */
const SPINS = 200;

/** Acquires the lock word `lock` of `words`, recording `holder` (non-zero) in `holderIdx`. */
export function lockAcquire(words: Int32Array, lock: number, holderIdx: number, holder: number): void {
  let c = Atomics.compareExchange(words, lock, 0, 1);
  if (c !== 0) {
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(words, lock) === 0) {
        c = Atomics.compareExchange(words, lock, 0, 1);
        if (c === 0) break;
      }
    }
    if (c !== 0) {
      if (c !== 2) c = Atomics.exchange(words, lock, 2);
      while (c !== 0) {
        Atomics.wait(words, lock, 2, 50);
        c = Atomics.exchange(words, lock, 2);
      }
    }
  }
  Atomics.store(words, holderIdx, holder);
}

/** Releases the lock, waking one sleeper if any. */
export function lockRelease(words: Int32Array, lock: number, holderIdx: number): void {
  Atomics.store(words, holderIdx, 0);
  if (Atomics.sub(words, lock, 1) !== 1) {
    Atomics.store(words, lock, 0);
    Atomics.notify(words, lock, 1);
  }
}

/**
 * Releases the lock if (and only if) it is held by `holder`. For a supervisor whose
 * worker was terminated inside a critical section; never call it for a live holder.
 * Returns whether the lock was released.
 */
export function lockForceRelease(words: Int32Array, lock: number, holderIdx: number, holder: number): boolean {
  if (holder === 0 || Atomics.compareExchange(words, holderIdx, holder, 0) !== holder) return false;
  Atomics.store(words, lock, 0);
  Atomics.notify(words, lock);
  return true;
}
