import type { ChainPort } from './chain-port.ts';

/** What a pump loop drives: `ChainDataPlane` (or anything with its `pump`). */
export interface Pumpable {
  pump(inside: ChainPort, outside: ChainPort): number;
  /** Resolves when there may be work (or after `timeoutMs`); without it the loop polls on a timer. */
  waitForWork?(timeoutMs: number): Promise<void>;
  /** Ends a `waitForWork` early. */
  wakeAll?(): void;
  /** True while work is under way elsewhere (frames inside instances): keep polling, do not sleep. */
  hasFramesInFlight?(): boolean;
}

/** Options of a `PumpLoop`. */
export interface PumpLoopOptions {
  /** Longest stretch of pumping before the event loop gets a turn, ms (default 5). */
  readonly sliceMs?: number;
  /** Nothing moved for this long: stop spinning and sleep (default 0.1). */
  readonly spinMs?: number;
  /**
   * Longest idle sleep, ms (default 1): on the target's interrupt (`waitForWork`, ended by an
   * instance transmitting) or a timer. `wake()` ends it at once.
   */
  readonly idlePollMs?: number;
}

/**
 * Runs a data plane continuously inside the event loop, for the controller: pumps in
 * slices of a few ms, yielding between slices (setImmediate) so RPCs, metrics scrapes,
 * sockets and instance supervision run; after `spinMs` without movement it drops to a
 * 1 ms poll, and a port that received frames calls `wake()` to resume at once.
 *
 * @example
 * ```ts
 * const loop = new PumpLoop(dataPlane, inside, outside);
 * loop.start();
 * // … later
 * await loop.stop();
 * ```
 */
export class PumpLoop {
  /** Slices run, and slices that ended idle (for profiles). */
  slices = 0;
  idleWaits = 0;
  private running = false;
  private sleeping = false;
  /** Bumped when a sleep is cut short by `wake`, so its late resolution is ignored. */
  private sleepToken = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private stopped: (() => void) | undefined;
  private lastMove = performance.now();
  private readonly sliceMs: number;
  private readonly spinMs: number;
  private readonly idlePollMs: number;

  constructor(
    private readonly target: Pumpable,
    private readonly inside: ChainPort,
    private readonly outside: ChainPort,
    options: PumpLoopOptions = {},
  ) {
    this.sliceMs = options.sliceMs ?? 5;
    this.spinMs = options.spinMs ?? 0.1;
    this.idlePollMs = options.idlePollMs ?? 1;
  }

  /** True between `start` and `stop`. */
  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Resumes pumping now (a port got frames while the loop idled). */
  wake(): void {
    if (!this.running) return;
    if (this.sleeping) {
      // Resume now rather than when the interrupt's promise settles (one more loop turn).
      this.sleeping = false;
      this.sleepToken++;
      this.target.wakeAll?.();
      this.schedule(0);
      return;
    }
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  /** Stops after the current slice. */
  stop(): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.target.wakeAll?.();
    return new Promise<void>((resolve) => {
      this.stopped = resolve;
      setImmediate(() => this.stopped?.());
    });
  }

  private schedule(delayMs: number): void {
    if (delayMs === 0) this.immediate = setImmediate(() => this.slice());
    else if (this.target.waitForWork !== undefined) {
      this.idleWaits++;
      this.sleeping = true;
      const token = this.sleepToken;
      void this.target.waitForWork(delayMs).then(() => {
        if (token !== this.sleepToken) return;
        this.sleeping = false;
        this.slice();
      });
    } else {
      this.idleWaits++;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.slice();
      }, delayMs);
    }
  }

  private slice(): void {
    this.immediate = undefined;
    if (!this.running) return;
    this.slices++;
    const start = performance.now();
    let now = start;
    let passes = 0;
    for (;;) {
      if (this.target.pump(this.inside, this.outside) > 0) this.lastMove = performance.now();
      if ((++passes & 15) !== 0) continue;
      now = performance.now();
      if (now - start >= this.sliceMs) break;
      if (now - this.lastMove >= this.spinMs) {
        if (this.target.hasFramesInFlight?.() === true) this.lastMove = now;
        else break;
      }
    }
    this.schedule(now - this.lastMove >= this.spinMs ? this.idlePollMs : 0);
  }
}
