import { writeSync } from 'node:fs';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { crossProcessFutex, type FutexOps } from '../memory/cross-process.ts';

/**
 * A doorbell: one shared Int32 word per direction of a virtqueue. Ringing adds one to the
 * word and wakes its sleepers; a sleeper reads the word *before* its last check for
 * work and then waits on that value, so a ring that happens between the check and the
 * wait makes the wait return at once ("not-equal") instead of being lost.
 *
 * The wake mechanism follows the memory the word lives in: `Atomics.wait/notify` for
 * memory of this process (worker threads), the kernel's futex (native addon) for memory
 * other processes map (`crossesProcesses`), since V8's waits are not woken from another
 * process and the two mechanisms do not wake each other. A sleeper that is an event loop
 * in another process (the controller) is woken through a pipe it reads (`wakeFd`).
 *
 * Rings are rare by design: the queues only ring when the peer asked for it (flags or
 * EVENT_IDX), and a peer only asks right before it sleeps.
 *
 * @example
 * ```ts
 * const seen = bell.sequence();
 * if (!queue.hasWork()) bell.wait(seen, 10);   // sleeps ≤ 10 ms unless rung
 * // elsewhere: bell.ring();
 * ```
 */
/** What a ring writes to a wake pipe. */
const WAKE_BYTE = new Uint8Array([1]);

export class Doorbell {
  private readonly words: Int32Array;
  private readonly index: number;
  /** The futex calls when the word crosses processes, else null (Atomics). */
  private readonly futex: FutexOps | null;

  /** A pipe whose reader is the sleeper's event loop (see the constructor), or -1. */
  private readonly wakeFd: number;

  /**
   * @param words Int32 view of shared memory; @param index the word's index in it
   * @param wakeFd when the sleeper is an event loop in another process (the controller
   *   waiting for its instances' transmits), the pipe that loop reads: a ring writes one
   *   byte there instead of waking a futex (one hop to the loop, no thread in between)
   */
  constructor(words: Int32Array, index: number, wakeFd = -1) {
    this.words = words;
    this.index = index;
    this.wakeFd = wakeFd;
    this.futex = crossProcessFutex(words.buffer) ?? null;
  }

  /** Wakes whoever sleeps on this doorbell. */
  ring(): void {
    Atomics.add(this.words, this.index, 1);
    if (this.wakeFd >= 0) {
      try {
        writeSync(this.wakeFd, WAKE_BYTE);
      } catch {
        // EAGAIN: the pipe is full of wake-ups the reader has not drained, so it will wake anyway.
      }
    } else if (this.futex === null) Atomics.notify(this.words, this.index);
    else this.futex.futexWake(this.words, this.index, 0x7fffffff);
  }

  /** Current ring count (wraps); pass it to `wait` after checking for work. */
  sequence(): number {
    return Atomics.load(this.words, this.index);
  }

  /**
   * Sleeps until the doorbell rings, unless it rang since `seen` was read, for at most
   * `timeoutMs`. Returns Atomics.wait's answer: "ok" (rung), "not-equal" (rung before
   * sleeping) or "timed-out".
   */
  wait(seen: number, timeoutMs: number): 'ok' | 'not-equal' | 'timed-out' {
    if (this.futex === null) return Atomics.wait(this.words, this.index, seen, timeoutMs);
    return this.futex.futexWait(this.words, this.index, seen, Math.ceil(timeoutMs));
  }

  /**
   * `wait` for a thread that must not block (the controller's), on memory of this process:
   * resolves with the same answers. A sleeper in another process than its ringers uses a
   * wake pipe instead (see the constructor), so memory that crosses processes is refused.
   */
  async waitAsync(seen: number, timeoutMs: number): Promise<'ok' | 'not-equal' | 'timed-out'> {
    if (this.futex !== null) throw new InvalidArgumentError('waitAsync on memory shared with other processes: use a wake pipe');
    const result = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.words, this.index, seen, timeoutMs);
    return result.async ? result.value : result.value;
  }
}

/**
 * Idle policy "spin briefly, then sleep": a poll loop calls `idle()` after a poll that
 * found nothing and `busy()` after one that found work; `idle()` returns true once the
 * loop has spun `spins` empty polls in a row, telling it to arm notifications and wait on
 * its doorbell. Spinning covers the short gaps of a busy peer without a syscall; the wait
 * stops an idle thread from eating a core (two spinning peers on a 2-core host are fine,
 * more collapse).
 *
 * Each empty `idle()` also pauses for `pause` iterations of private arithmetic before the
 * caller polls again (what `rte_pause()` is to DPDK): re-reading the peer's index in a
 * tight loop keeps pulling its cache line, which also holds the ring slots the peer is
 * writing, and slows the peer down.
 *
 * @example
 * ```ts
 * const backoff = new SpinThenWait(1000);
 * for (;;) {
 *   const n = device.pop(heads, addrs, lens, 32);
 *   if (n > 0) { backoff.busy(); handle(n); continue; }
 *   if (backoff.idle()) device.waitForAvail(5);
 * }
 * ```
 */
export class SpinThenWait {
  readonly spins: number;
  readonly pause: number;
  private empty = 0;
  /** Result of the pause arithmetic, kept so the compiler cannot drop the loop. */
  private sink = 0;

  constructor(spins = 1000, pause = 50) {
    this.spins = spins;
    this.pause = pause;
  }

  /** A poll found work: start spinning afresh next time. */
  busy(): void {
    this.empty = 0;
  }

  /** A poll found nothing; true means "stop spinning, sleep now" (the counter restarts). */
  idle(): boolean {
    if (++this.empty < this.spins) {
      let x = this.sink;
      for (let i = 0; i < this.pause; i++) x = (x * 31 + i) | 0;
      this.sink = x;
      return false;
    }
    this.empty = 0;
    return true;
  }
}

/** `Atomics.waitAsync` (Node 16+, ES2024), which the project's ES2022 lib does not declare. */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}
