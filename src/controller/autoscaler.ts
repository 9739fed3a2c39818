import { loadFunctionName, type ChainRuntime, type FunctionRuntime } from './chain-runtime.ts';
import type { InstanceRates } from './controller-api.ts';
import type { ScalingDecision } from './scaling-policy.ts';

/** What the autoscaler needs from the controller. */
export interface AutoscalerHost {
  /** The running chains. */
  chains(): Iterable<ChainRuntime>;
  /** Rates of the last sample of one chain's instances. */
  rates(chain: string): InstanceRates[];
  /** Applies a decision (records the event, reconciles). */
  scale(chain: ChainRuntime, fn: FunctionRuntime, decision: ScalingDecision): Promise<void>;
}

/**
 * The control loop that scales functions to their traffic: every `intervalMs` it sums
 * each function's measured load (packets/s of all its instances, the fullest queue, the
 * highest busy ratio), feeds it to the function's `ScalingPolicy` and applies what the
 * policy decides. Functions with `min === max` are never touched; a chain being deleted
 * is skipped; one decision per function is in flight at a time.
 *
 * @example
 * ```ts
 * const autoscaler = new Autoscaler(host, 500);
 * autoscaler.start();
 * ```
 */
export class Autoscaler {
  private timer: NodeJS.Timeout | undefined;
  private readonly busy = new Set<FunctionRuntime>();

  constructor(
    private readonly host: AutoscalerHost,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(performance.now()), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over every function (exposed for tests). */
  tick(now: number): void {
    for (const chain of this.host.chains()) {
      if (chain.phase === 'Deleting') continue;
      const rates = this.host.rates(chain.name);
      for (const fn of chain.functions) {
        const { min, max } = fn.spec.scaling;
        if (min === max || this.busy.has(fn)) continue;
        let totalPps = 0;
        let queue = 0;
        let busy = 0;
        const measured = loadFunctionName(fn);
        for (const r of rates) {
          if (r.function !== measured) continue;
          totalPps += r.rxPps;
          if (r.queueOccupancy > queue) queue = r.queueOccupancy;
          if (r.busyRatio > busy) busy = r.busyRatio;
        }
        const decision = fn.policy.observe({ now, replicas: fn.desired, totalPps, maxQueueOccupancy: queue, maxBusyRatio: busy });
        if (decision === null || decision.replicas === fn.desired) continue;
        this.busy.add(fn);
        void this.host.scale(chain, fn, decision).finally(() => this.busy.delete(fn));
      }
    }
  }
}
