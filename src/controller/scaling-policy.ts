/** The bounds and target a function declares (`spec.functions[i].scaling`). */
export interface ScalingBounds {
  readonly min: number;
  readonly max: number;
  /** Target load per instance, packets per second. */
  readonly target: number;
  /** Least time between two scaling steps, seconds. */
  readonly cooldownSeconds: number;
}

/** Tuning of the policy (defaults suit a 1 s sampling interval). */
export interface ScalingPolicyOptions {
  /** Load must stay above the target this long before scaling out, ms (default 1000). */
  readonly outAfterMs?: number;
  /** Load must stay below `inBelow × target` this long before scaling in, ms (default 10000). */
  readonly inAfterMs?: number;
  /** Scale in only below this fraction of the target (hysteresis band), default 0.5. */
  readonly inBelow?: number;
  /** Queue occupancy (0..1) that counts as overload whatever the packet rate, default 0.8. */
  readonly queueHigh?: number;
  /** Busy ratio (0..1) that counts as overload whatever the packet rate, default 0.9. */
  readonly busyHigh?: number;
  /**
   * Most replicas a scale-out asks for, below `max` (default: none). A fused chain's
   * controller sets the machine's cores: each replica is one busy thread, and replicas
   * beyond the cores share them and add no throughput (under unpaced traffic the load per
   * replica stays above any target, so without the cap a first step jumps straight to
   * `max`). Bounds still hold: `min` above the cap wins, and a manual scale may go to `max`.
   */
  readonly outCap?: number;
}

/** One observation of a function's instances. */
export interface ScalingSample {
  /** Clock, ms (monotonic). */
  readonly now: number;
  /** Instances now serving (ready, current image). */
  readonly replicas: number;
  /** Packets per second over all its instances. */
  readonly totalPps: number;
  /** Fullest receive queue among the instances, 0..1. */
  readonly maxQueueOccupancy: number;
  /** Highest busy ratio among the instances, 0..1. */
  readonly maxBusyRatio: number;
}

/** What the policy wants, with the figures behind it. */
export interface ScalingDecision {
  readonly replicas: number;
  readonly direction: 'out' | 'in';
  /** E.g. `load 2.40 Mpps over 2 instances > target 1.00 Mpps per instance for 1.0 s`. */
  readonly reason: string;
  readonly details: Readonly<Record<string, string | number>>;
}

/**
 * The autoscaler's decision rule for one function, free of I/O and clocks (the caller
 * passes `now`), so it is tested with a fake clock and synthetic load:
 * - **out** when the load per instance stays above the target (or a queue or the busy
 *   ratio is near full) for `outAfterMs`: to `ceil(totalPps / target)` instances (at least
 *   one more), capped at `max` and at `outCap`;
 * - **in** when the load stays below `inBelow × target` for `inAfterMs`: to the count that
 *   keeps the load per instance under `0.8 × target`, at most halving, floored at `min`;
 * - the band between is **hysteresis**: no change, and the timers restart, so noise
 *   around the target does not flap;
 * - after any step, nothing for `cooldownSeconds`; replicas outside `min..max` are
 *   brought back in bounds at once.
 *
 * @example
 * ```ts
 * const policy = new ScalingPolicy({ min: 1, max: 4, target: 1e6, cooldownSeconds: 10 });
 * const d = policy.observe({ now, replicas: 1, totalPps: 2.5e6, maxQueueOccupancy: 0.1, maxBusyRatio: 0.7 });
 * if (d !== null) scaleTo(d.replicas, d.reason);
 * ```
 */
export class ScalingPolicy {
  private current: ScalingBounds;
  private readonly outAfterMs: number;
  private readonly inAfterMs: number;
  private readonly inBelow: number;
  private readonly queueHigh: number;
  private readonly busyHigh: number;
  private readonly outCap: number;
  private highSince = -1;
  private lowSince = -1;
  private lastStep = Number.NEGATIVE_INFINITY;

  constructor(bounds: ScalingBounds, options: ScalingPolicyOptions = {}) {
    this.current = bounds;
    this.outAfterMs = options.outAfterMs ?? 1000;
    this.inAfterMs = options.inAfterMs ?? 10_000;
    this.inBelow = options.inBelow ?? 0.5;
    this.queueHigh = options.queueHigh ?? 0.8;
    this.busyHigh = options.busyHigh ?? 0.9;
    this.outCap = options.outCap ?? Number.POSITIVE_INFINITY;
  }

  /** The bounds and target decisions respect (the function's `scaling`). */
  get bounds(): ScalingBounds {
    return this.current;
  }

  /** Takes new bounds (an apply changed the function's `scaling`); the next decision respects them. */
  setBounds(bounds: ScalingBounds): void {
    this.current = bounds;
  }

  /** Records that the function was scaled by someone else (manual override) at `now`. */
  noteStep(now: number): void {
    this.lastStep = now;
    this.highSince = -1;
    this.lowSince = -1;
  }

  /** Feeds one sample; returns a decision, or null to keep the current count. */
  observe(s: ScalingSample): ScalingDecision | null {
    const { min, max, target, cooldownSeconds } = this.bounds;
    if (s.replicas < min || s.replicas > max) {
      const to = Math.min(max, Math.max(min, s.replicas));
      return this.step(s.now, to, to > s.replicas ? 'out' : 'in', `replicas ${s.replicas} outside bounds ${min}..${max}`, {});
    }
    const per = s.replicas > 0 ? s.totalPps / s.replicas : s.totalPps;
    const saturated = s.maxQueueOccupancy >= this.queueHigh || s.maxBusyRatio >= this.busyHigh;
    const high = per > target || saturated;
    const low = !saturated && per < this.inBelow * target;
    this.highSince = high ? (this.highSince < 0 ? s.now : this.highSince) : -1;
    this.lowSince = low ? (this.lowSince < 0 ? s.now : this.lowSince) : -1;
    if (s.now - this.lastStep < cooldownSeconds * 1000) return null;
    const figures = {
      totalPps: Math.round(s.totalPps),
      perInstancePps: Math.round(per),
      targetPps: target,
      queue: s.maxQueueOccupancy.toFixed(2),
      busy: s.maxBusyRatio.toFixed(2),
      from: s.replicas,
    };
    const ceiling = Math.min(max, this.outCap);
    if (high && s.now - this.highSince >= this.outAfterMs && s.replicas < ceiling) {
      const wanted = Math.max(s.replicas + 1, Math.ceil(s.totalPps / target));
      const to = Math.min(ceiling, wanted);
      const why = saturated && per <= target ? `queue ${figures.queue} / busy ${figures.busy} near full` : `load ${rate(per)} per instance > target ${rate(target)}`;
      const capped = wanted > to && to === this.outCap && this.outCap < max ? ` (capped at ${to} replicas)` : '';
      return this.step(s.now, to, 'out', `scale-out: ${why} for ${((s.now - this.highSince) / 1000).toFixed(1)} s${capped}`, figures);
    }
    if (low && s.now - this.lowSince >= this.inAfterMs && s.replicas > min) {
      const keep = Math.ceil(s.totalPps / (0.8 * target));
      const to = Math.max(min, Math.ceil(s.replicas / 2), keep, 1);
      if (to >= s.replicas) return null;
      return this.step(s.now, to, 'in', `scale-in: load ${rate(per)} per instance < ${rate(this.inBelow * target)} for ${((s.now - this.lowSince) / 1000).toFixed(1)} s`, figures);
    }
    return null;
  }

  private step(now: number, to: number, direction: 'out' | 'in', reason: string, figures: Record<string, string | number>): ScalingDecision {
    this.noteStep(now);
    return { replicas: to, direction, reason, details: { ...figures, to } };
  }
}

/** `2.40 Mpps`, `850 kpps`, `12 pps`. */
function rate(pps: number): string {
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)} Mpps`;
  if (pps >= 1e3) return `${(pps / 1e3).toFixed(0)} kpps`;
  return `${pps.toFixed(0)} pps`;
}
