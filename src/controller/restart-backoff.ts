import { InvalidArgumentError } from '../errors/catalog.ts';

/** Tuning of a restart back-off (`ControllerOptions.restartBackoff`). */
export interface RestartBackoffOptions {
  /** Wait before the replacement after a first failure, ms (default 100). */
  readonly baseMs?: number;
  /** Longest wait, ms (default 30 000). */
  readonly maxMs?: number;
  /**
   * Time without a failure after which the failures are forgotten, ms (default 10 000); at
   * least twice the last wait, so a long wait is followed by a long enough proof.
   */
  readonly resetAfterMs?: number;
}

/** Where a back-off stands. */
export interface RestartBackoffState {
  /** Failures since the unit last stayed healthy (0: healthy, no wait). */
  readonly failures: number;
  /** Wait the last failure imposed, ms (0 when healthy). */
  readonly delayMs: number;
  /** Clock time (ms, the caller's clock) before which no replacement boots; 0 when healthy. */
  readonly restartAt: number;
}

/** Default wait after a first failure, ms. */
export const DEFAULT_RESTART_BASE_MS = 100;
/** Default longest wait, ms. */
export const DEFAULT_RESTART_MAX_MS = 30_000;
/** Default healthy time that forgets the failures, ms. */
export const DEFAULT_RESTART_RESET_MS = 10_000;

/**
 * Crash-loop back-off of one restart unit (a function, or a fused chain's replicas), free of
 * I/O and clocks (the caller passes `now`, monotonic ms), so it is tested with a fake clock:
 * - a failure at or after the current wait's end starts a new round: the `k`-th round in a
 *   row waits `baseMs × 2^(k−1)`, capped at `maxMs`;
 * - failures during a wait (other instances of the same unit failing meanwhile) are
 *   counted but do not lengthen it: the rounds, not the instances, set the exponent;
 * - after `max(resetAfterMs, 2 × the last wait)` without a failure, counted from the end of
 *   the wait (when the replacement could boot; every failure falls before it), everything
 *   is forgotten: the next failure waits `baseMs` again.
 *
 * @example
 * ```ts
 * const backoff = new RestartBackoff({ baseMs: 100, maxMs: 30_000 });
 * backoff.fail(performance.now());        // { failures: 1, delayMs: 100, restartAt: now + 100 }
 * backoff.waitMs(performance.now());      // > 0: boot no replacement yet
 * backoff.failing(performance.now());     // true until it stayed healthy long enough
 * ```
 */
export class RestartBackoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
  private failures = 0;
  private rounds = 0;
  private delayMs = 0;
  private restartAt = 0;

  /** Throws `InvalidArgumentError` unless `0 < baseMs <= maxMs` and `resetAfterMs >= 0`. */
  constructor(options: RestartBackoffOptions = {}) {
    this.baseMs = options.baseMs ?? DEFAULT_RESTART_BASE_MS;
    this.maxMs = options.maxMs ?? DEFAULT_RESTART_MAX_MS;
    this.resetAfterMs = options.resetAfterMs ?? DEFAULT_RESTART_RESET_MS;
    if (!(this.baseMs > 0) || !(this.maxMs >= this.baseMs) || !(this.resetAfterMs >= 0)) {
      throw new InvalidArgumentError(`restart back-off needs 0 < baseMs <= maxMs and resetAfterMs >= 0, got ${this.baseMs}, ${this.maxMs}, ${this.resetAfterMs}`);
    }
  }

  /** Records a failure at `now`; returns the state it leaves (the wait it imposes). */
  fail(now: number): RestartBackoffState {
    this.expire(now);
    this.failures++;
    if (this.rounds === 0 || now >= this.restartAt) {
      this.rounds++;
      // 2^(k−1) without overflow: past 2^52 every cap is reached anyway.
      this.delayMs = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.rounds - 1, 52));
      this.restartAt = now + this.delayMs;
    }
    return this.state(now);
  }

  /** Ms until a replacement may boot (0: now). */
  waitMs(now: number): number {
    this.expire(now);
    return Math.max(0, this.restartAt - now);
  }

  /** True from a failure until the unit stayed healthy for the reset time. */
  failing(now: number): boolean {
    this.expire(now);
    return this.failures > 0;
  }

  /** The state at `now` (failures forgotten if the unit stayed healthy long enough). */
  state(now: number): RestartBackoffState {
    this.expire(now);
    return { failures: this.failures, delayMs: this.delayMs, restartAt: this.restartAt };
  }

  /** Forgets every failure (e.g. the unit runs a new image). */
  reset(): void {
    this.failures = 0;
    this.rounds = 0;
    this.delayMs = 0;
    this.restartAt = 0;
  }

  private expire(now: number): void {
    if (this.failures === 0) return;
    if (now - this.restartAt >= Math.max(this.resetAfterMs, 2 * this.delayMs)) this.reset();
  }
}
