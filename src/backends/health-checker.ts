import { BackendHealth, type HealthState } from './backend-health.ts';
import { probeBackend, type Probe, type ProbeTarget } from './health-probe.ts';

/** One backend to check. */
export interface HealthTarget {
  /** The caller's name for it (unique among the targets). */
  readonly key: string;
  readonly probe: ProbeTarget;
  /** Ms from the start of one probe to the start of the next (≥ `probe.timeoutMs`). */
  readonly intervalMs: number;
  readonly rise: number;
  readonly fall: number;
}

/** A backend's health changed. */
export interface HealthChange {
  readonly key: string;
  readonly from: HealthState;
  readonly to: HealthState;
  /** The last probe's detail (`ECONNREFUSED`, `HTTP 200`). */
  readonly detail: string;
  /** Probes in a row that agreed (≥ `fall` or `rise`). */
  readonly probes: number;
}

/** What is known of one target. */
export interface HealthReport {
  readonly state: HealthState;
  /** The last probe's detail ('' before the first). */
  readonly detail: string;
  /** Unix ms of the last change of state (0: none yet). */
  readonly changedAt: number;
  /** Unix ms of the last probe's end (0: none yet). */
  readonly probedAt: number;
}

interface Running {
  readonly target: HealthTarget;
  readonly health: BackendHealth;
  timer: ReturnType<typeof setTimeout> | undefined;
  detail: string;
  changedAt: number;
  probedAt: number;
  streak: number;
  lastOk: boolean | undefined;
}

/**
 * Active health checks of a set of backends, on the event loop: each target is probed every
 * `intervalMs` (the first probes spread over one interval, never two probes of one target at
 * once), its results counted by its rise/fall rule (`BackendHealth`), each change of state
 * reported to `onChange`. Timers are unref'd; `stop()` ends them (a probe under way finishes
 * and is ignored).
 *
 * @example
 * ```ts
 * const checker = new HealthChecker(targets, (c) => console.log(c.key, c.from, '→', c.to, c.detail));
 * checker.start();
 * checker.report('web/198.19.0.1:8080').state; // 'up'
 * checker.stop();
 * ```
 */
export class HealthChecker {
  private readonly running = new Map<string, Running>();
  private stopped = true;

  constructor(
    targets: readonly HealthTarget[],
    private readonly onChange: (change: HealthChange) => void,
    private readonly probe: Probe = probeBackend,
  ) {
    for (const target of targets) {
      this.running.set(target.key, { target, health: new BackendHealth(target.rise, target.fall), timer: undefined, detail: '', changedAt: 0, probedAt: 0, streak: 0, lastOk: undefined });
    }
  }

  /** Starts probing (target i of n first after i/n of its interval). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const n = this.running.size;
    [...this.running.values()].forEach((r, i) => this.schedule(r, Math.floor((i * r.target.intervalMs) / n)));
  }

  /** Stops every timer; results of probes under way are ignored. */
  stop(): void {
    this.stopped = true;
    for (const r of this.running.values()) {
      clearTimeout(r.timer);
      r.timer = undefined;
    }
  }

  /** Keys of the targets. */
  keys(): string[] {
    return [...this.running.keys()];
  }

  /** What is known of target `key`, undefined when it is not checked. */
  report(key: string): HealthReport | undefined {
    const r = this.running.get(key);
    return r === undefined ? undefined : { state: r.health.state, detail: r.detail, changedAt: r.changedAt, probedAt: r.probedAt };
  }

  private schedule(r: Running, delayMs: number): void {
    if (this.stopped) return;
    r.timer = setTimeout(() => void this.run(r), Math.max(0, delayMs));
    r.timer.unref?.();
  }

  private async run(r: Running): Promise<void> {
    r.timer = undefined;
    const started = Date.now();
    const result = await this.probe(r.target.probe).catch((err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }));
    if (this.stopped) return;
    r.detail = result.detail;
    r.probedAt = Date.now();
    r.streak = result.ok === r.lastOk ? r.streak + 1 : 1;
    r.lastOk = result.ok;
    const from = r.health.state;
    const to = r.health.record(result.ok);
    if (to !== undefined) {
      r.changedAt = r.probedAt;
      this.onChange({ key: r.target.key, from, to, detail: result.detail, probes: r.streak });
    }
    this.schedule(r, started + r.target.intervalMs - Date.now());
  }
}
