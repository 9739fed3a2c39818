/**
 * A mutex on one Int32 word of shared memory, safe between worker threads and between
 * instance processes: the classic three-state futex mutex (0 free, 1 held, 2 held and
 * someone may sleep) with a short spin before sleeping (`Atomics.wait`, or the kernel's
 * futex for memory other processes map, see `crossProcessFutex`). The pool holds it for a handful of loads and stores
 * per *batch*, so contention is short; the spin covers it without a syscall, and the
 * wait keeps a thread whose peer was descheduled (2 cores, more threads) from burning
 * its slice.
 *
 * Two more words make a holder accountable: the holder's owner id, and an acquisition
 * sequence bumped by every acquire. An instance takes the lock with `lockAcquire` (it may
 * block); the supervisor never blocks on it: it `lockTryAcquire`s with a bounded spin and,
 * when that fails, watches the hold with `LockWatch` on its own clock (the words are in
 * memory an instance can write, so no deadline stored there could be trusted). The same
 * (sequence, holder) seen for longer than a timeout is a holder that keeps the lock: the
 * supervisor takes it (`lockSteal`) and fails that holder.
 *
 * The holder word is written by the acquirer, so a hostile instance can name another
 * owner of the same pool in it; `LockWatch` reports the id it finds, and the caller
 * decides whether that id can be blamed. Every instance of one pool is one trust domain:
 * one instance can already overwrite the others' packets.
 *
 * @example
 * ```ts
 * lockAcquire(words, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, ownerId);        // an instance
 * // … critical section …
 * lockRelease(words, H_LOCK, H_LOCK_HOLDER);
 * if (lockTryAcquire(words, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, hostId, 64)) { … }  // the supervisor
 * ```
 */

import { crossProcessFutex } from '../memory/cross-process.ts';

/**
 * Sleeps on `words[index]` while it holds `expected`, at most `ms`: with the kernel's futex
 * when the memory crosses processes (instance processes share the pool), else `Atomics.wait`,
 * which is not woken from another process.
 */
function sleep(words: Int32Array, index: number, expected: number, ms: number): void {
  const futex = crossProcessFutex(words.buffer);
  if (futex === undefined) Atomics.wait(words, index, expected, ms);
  else futex.futexWait(words, index, expected, ms);
}

/** Wakes up to `count` sleepers of `words[index]`, by the mechanism `sleep` used. */
function wake(words: Int32Array, index: number, count: number): void {
  const futex = crossProcessFutex(words.buffer);
  if (futex === undefined) Atomics.notify(words, index, count);
  else futex.futexWake(words, index, count);
}

/** Spins before sleeping; a pool critical section is well under a microsecond. */
const SPINS = 200;
/** Looks that must all find the lock held before `LockWatch` blames a holder that keeps bumping the sequence. */
const MIN_SAMPLES = 8;

/**
 * Acquires the lock word `lock` of `words`, recording `holder` (non-zero) in `holderIdx`
 * and bumping the acquisition sequence at `seqIdx`. Blocks until it gets the lock.
 */
export function lockAcquire(words: Int32Array, lock: number, holderIdx: number, seqIdx: number, holder: number): void {
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
        sleep(words, lock, 2, 50);
        c = Atomics.exchange(words, lock, 2);
      }
    }
  }
  Atomics.store(words, holderIdx, holder);
  Atomics.add(words, seqIdx, 1);
}

/**
 * Tries to acquire the lock for at most `spins` polls, never sleeping. Returns whether it
 * holds the lock (then as `lockAcquire` would leave it).
 */
export function lockTryAcquire(words: Int32Array, lock: number, holderIdx: number, seqIdx: number, holder: number, spins: number): boolean {
  let c = Atomics.compareExchange(words, lock, 0, 1);
  for (let i = 0; c !== 0 && i < spins; i++) {
    if (Atomics.load(words, lock) === 0) c = Atomics.compareExchange(words, lock, 0, 1);
  }
  if (c !== 0) return false;
  Atomics.store(words, holderIdx, holder);
  Atomics.add(words, seqIdx, 1);
  return true;
}

/** Releases the lock, waking one sleeper if any. */
export function lockRelease(words: Int32Array, lock: number, holderIdx: number): void {
  Atomics.store(words, holderIdx, 0);
  if (Atomics.sub(words, lock, 1) !== 1) {
    Atomics.store(words, lock, 0);
    wake(words, lock, 1);
  }
}

/**
 * Takes the lock from whoever holds it, for a supervisor that found it held past its
 * timeout (`LockWatch`). The lock is left "held, maybe waiters", so `lockRelease` wakes
 * the instances that queued behind the stuck holder.
 */
export function lockSteal(words: Int32Array, lock: number, holderIdx: number, seqIdx: number, holder: number): void {
  Atomics.store(words, lock, 2);
  Atomics.store(words, holderIdx, holder);
  Atomics.add(words, seqIdx, 1);
}

/**
 * Releases the lock if (and only if) it is held by `holder`. For a supervisor whose
 * worker was terminated inside a critical section; never call it for a live holder.
 * Returns whether the lock was released.
 */
export function lockForceRelease(words: Int32Array, lock: number, holderIdx: number, holder: number): boolean {
  if (holder === 0 || Atomics.compareExchange(words, holderIdx, holder, 0) !== holder) return false;
  Atomics.store(words, lock, 0);
  wake(words, lock, 0x7fffffff);
  return true;
}

/**
 * The supervisor's view of one lock's hold, on the supervisor's clock: a hold is the same
 * (sequence, holder) pair while the lock word says held. `stuckHolder` returns the holder
 * of a hold older than `timeoutMs`, or 0. A holder that keeps the lock word set while it
 * bumps the sequence (so no single hold grows old) is caught too: the lock found held at
 * every one of at least `MIN_SAMPLES` looks spanning twice the timeout counts as stuck (a
 * legitimate hold is well under a microsecond; the supervisor looks about once a
 * millisecond). Private to the supervisor's thread.
 *
 * @example
 * ```ts
 * const watch = new LockWatch(100);
 * const stuck = watch.stuckHolder(words, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, performance.now());
 * if (stuck !== 0) { lockSteal(…); …; lockRelease(…); blame(stuck); }
 * ```
 */
export class LockWatch {
  /** How long one hold may last before its holder is blamed, ms. */
  readonly timeoutMs: number;
  private seq = 0;
  private holder = 0;
  private since = -1;
  /** First look of the current run of looks that all found the lock held, and how many. */
  private heldSince = -1;
  private looks = 0;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  /**
   * 0 while the lock is free or its current hold is younger than `timeoutMs` at `nowMs`;
   * otherwise the id in the holder word, or -1 when that word names no owner (≤ 0).
   */
  stuckHolder(words: Int32Array, lock: number, holderIdx: number, seqIdx: number, nowMs: number): number {
    if (Atomics.load(words, lock) === 0) {
      this.reset();
      return 0;
    }
    if (this.heldSince < 0) {
      this.heldSince = nowMs;
      this.looks = 0;
    }
    this.looks++;
    const seq = Atomics.load(words, seqIdx);
    const holder = Atomics.load(words, holderIdx);
    if (this.since < 0 || seq !== this.seq || holder !== this.holder) {
      this.seq = seq;
      this.holder = holder;
      this.since = nowMs;
    }
    const oneHold = nowMs - this.since > this.timeoutMs;
    const neverFree = this.looks >= MIN_SAMPLES && nowMs - this.heldSince > 2 * this.timeoutMs;
    if (!oneHold && !neverFree) return 0;
    this.reset();
    return holder > 0 ? holder : -1;
  }

  /** Forgets what it timed (the lock was seen free, or the supervisor took it). */
  reset(): void {
    this.since = -1;
    this.heldSince = -1;
  }
}
