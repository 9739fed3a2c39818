import type { ChainDataPlane } from './chain-data-plane.ts';
import type { ChainPort } from './chain-port.ts';

/**
 * What a pump loop drives: the part of `ChainDataPlane` it uses (`linkMode` absent: `host`).
 */
export type Pumpable = Pick<ChainDataPlane, 'pump' | 'waitForWork' | 'wakeAll' | 'hasFramesInFlight'> & { readonly linkMode?: ChainDataPlane['linkMode'] };

/** Options of a `PumpLoop`. */
export interface PumpLoopOptions {
  /** Longest stretch of pumping before the event loop gets a turn, ms (default 5). */
  readonly sliceMs?: number;
  /** Nothing moved for this long: stop spinning and sleep (default 0.1). */
  readonly spinMs?: number;
  /**
   * Longest idle sleep on the target's interrupt, ms (default 1): an instance that transmits
   * or `wake()` ends it at once.
   */
  readonly idlePollMs?: number;
}

/** Slice of a loop whose ports wait on sockets: datagrams only arrive between slices. */
const SOCKET_SLICE_MS = 0.05;

/**
 * Runs a data plane continuously inside the event loop, for the controller and for
 * `ChainDataPlane.runUntil` (one scheduler for both): pumps in
 * slices of a few ms, yielding between slices (setImmediate) so RPCs, metrics scrapes,
 * sockets and instance supervision run. While frames are inside instances it keeps
 * polling; after `spinMs` without movement and nothing in flight it sleeps on the target's
 * interrupt line (`waitForWork`), leaving the cores to the instances, and a port that
 * received frames calls `wake()` to resume at once. Over direct links (`linkMode`
 * `direct`) frames in flight do not keep it polling: they cross the instances between the
 * chain's ends without the host, so its next work is a whole chain away, and its polling
 * took a core from the instances (0.4–0.9 of one in pass-through ×3, nearly every pass
 * empty); it sleeps after `spinMs` without movement, woken when an end instance transmits
 * or posts the receive buffers frames wait for (`waitForWork`).
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
  private running = false;
  private sleeping = false;
  /** Bumped when a sleep is cut short by `wake`, so its late resolution is ignored. */
  private sleepToken = 0;
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
    const sockets = inside.onReadable !== undefined || outside.onReadable !== undefined;
    this.sliceMs = options.sliceMs ?? (sockets ? SOCKET_SLICE_MS : 5);
    this.spinMs = options.spinMs ?? 0.1;
    this.idlePollMs = options.idlePollMs ?? 1;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // Socket-fed ports wake a sleeping loop when datagrams arrive.
    this.inside.onReadable?.(this.wakeUp);
    this.outside.onReadable?.(this.wakeUp);
    this.schedule(0);
  }

  private readonly wakeUp = (): void => this.wake();

  /** Resumes pumping now (a port got frames while the loop idled). */
  wake(): void {
    if (!this.running) return;
    if (!this.sleeping) return;
    // Resume now rather than when the interrupt's promise settles (one more loop turn).
    this.sleeping = false;
    this.sleepToken++;
    this.target.wakeAll();
    this.schedule(0);
  }

  /** Stops after the current slice. */
  stop(): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.running = false;
    this.inside.onReadable?.(null);
    this.outside.onReadable?.(null);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
    // A sleep still pending must not resume a later start() as a second chain of slices.
    this.sleeping = false;
    this.sleepToken++;
    this.target.wakeAll();
    return new Promise<void>((resolve) => {
      this.stopped = resolve;
      setImmediate(() => this.stopped?.());
    });
  }

  private schedule(delayMs: number): void {
    if (delayMs === 0) {
      this.immediate = setImmediate(() => this.slice());
      return;
    }
    this.sleeping = true;
    const token = this.sleepToken;
    void this.target.waitForWork(delayMs).then(() => {
      if (token !== this.sleepToken) return;
      this.sleeping = false;
      this.slice();
    });
  }

  private slice(): void {
    this.immediate = undefined;
    if (!this.running) return;
    const start = performance.now();
    let now = start;
    let passes = 0;
    for (;;) {
      if (this.target.pump(this.inside, this.outside) > 0) this.lastMove = performance.now();
      if ((++passes & 15) !== 0) continue;
      now = performance.now();
      if (now - start >= this.sliceMs) break;
      // Within a slice, frames inside instances keep it polling (their answer is near),
      // unless they cross direct links (see the class documentation).
      if (now - this.lastMove >= this.spinMs) {
        if (this.target.linkMode !== 'direct' && this.target.hasFramesInFlight()) this.lastMove = now;
        else break;
      }
    }
    // Nothing moved for spinMs: sleep on the interrupt, in flight or not (an instance that
    // transmits rings it, so the wake is prompt; polling instead takes the core the instances
    // need: HTTP ×1 through web-edge 1.0k → 0.3k req/s). Nothing is scheduled after stop()
    // (called from a port inside `pump`).
    if (this.running) this.schedule(now - this.lastMove >= this.spinMs ? this.idlePollMs : 0);
  }
}
