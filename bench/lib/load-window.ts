/**
 * Counts what a client's requests did, in time windows: good responses and their latency,
 * failures by reason, separately for the load (`load`: autocannon or short connections)
 * and the long-lived connections (`long`). `take(t)` closes the current window and returns
 * it as a `LoadSample`; totals keep running.
 *
 * @example
 * ```ts
 * const window = new LoadWindow();
 * window.ok(1.8, 'load');
 * window.fail('load', 'ECONNRESET');
 * setInterval(() => samples.push(window.take(Date.now())), 250);
 * window.totals.failures; // { 'load: ECONNRESET': 1 }
 * ```
 */

/** Which requests a record belongs to. */
export type LoadSource = 'load' | 'long';

/** One window (all JSON). Latencies in ms, of the `load` requests that ended in it. */
export interface LoadSample {
  /** Unix ms at the end of the window. */
  readonly t: number;
  /** Length of the window, ms. */
  readonly ms: number;
  readonly ok: number;
  readonly failed: number;
  readonly longOk: number;
  readonly longFailed: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Counts since the start. */
export interface LoadTotals {
  ok: number;
  failed: number;
  longOk: number;
  longFailed: number;
  /** Failures by `<source>: <reason>`. */
  readonly failures: Record<string, number>;
}

/** Nearest-rank percentile of sorted values (0 when empty). */
export function percentileOf(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The windowed recorder; see the module documentation. */
export class LoadWindow {
  readonly totals: LoadTotals = { ok: 0, failed: 0, longOk: 0, longFailed: 0, failures: {} };
  /** Latencies of every good `load` request since the start (ms), for whole-run percentiles. */
  private all = new Float64Array(1 << 16);
  private allCount = 0;
  private latencies: number[] = [];
  private windowOk = 0;
  private windowFailed = 0;
  private windowLongOk = 0;
  private windowLongFailed = 0;
  private start = Date.now();

  /** A good response after `ms` (NaN: counted, no latency sample). */
  ok(ms: number, source: LoadSource): void {
    if (source === 'long') {
      this.windowLongOk++;
      this.totals.longOk++;
      return;
    }
    this.windowOk++;
    this.totals.ok++;
    if (Number.isFinite(ms)) this.latency(ms);
  }

  /** A latency sample of a `load` request counted elsewhere (`ok` with NaN), ms. */
  latency(ms: number): void {
    this.latencies.push(ms);
    if (this.allCount === this.all.length) {
      const grown = new Float64Array(this.all.length * 2);
      grown.set(this.all);
      this.all = grown;
    }
    this.all[this.allCount++] = ms;
  }

  /** A failed request (or connection) and why. */
  fail(source: LoadSource, reason: string): void {
    const key = `${source}: ${reason}`;
    this.totals.failures[key] = (this.totals.failures[key] ?? 0) + 1;
    if (source === 'long') {
      this.windowLongFailed++;
      this.totals.longFailed++;
    } else {
      this.windowFailed++;
      this.totals.failed++;
    }
  }

  /** Closes the window at Unix ms `t` and starts the next. */
  take(t: number): LoadSample {
    const sorted = Float64Array.from(this.latencies).sort();
    const r = (x: number) => Math.round(x * 1000) / 1000;
    const sample: LoadSample = {
      t,
      ms: t - this.start,
      ok: this.windowOk,
      failed: this.windowFailed,
      longOk: this.windowLongOk,
      longFailed: this.windowLongFailed,
      p50: r(percentileOf(sorted, 50)),
      p90: r(percentileOf(sorted, 90)),
      p99: r(percentileOf(sorted, 99)),
      max: r(sorted.length === 0 ? 0 : sorted[sorted.length - 1]),
    };
    this.start = t;
    this.latencies = [];
    this.windowOk = this.windowFailed = this.windowLongOk = this.windowLongFailed = 0;
    return sample;
  }

  /** Latency samples recorded so far (a mark for `percentiles(from)`). */
  get latencyCount(): number {
    return this.allCount;
  }

  /** Latency percentiles (ms) of the good `load` requests recorded since mark `from` (default: all). */
  percentiles(from = 0): { p50: number; p90: number; p99: number; max: number; count: number } {
    const sorted = this.all.slice(Math.max(0, Math.min(from, this.allCount)), this.allCount).sort();
    const n = sorted.length;
    return { p50: percentileOf(sorted, 50), p90: percentileOf(sorted, 90), p99: percentileOf(sorted, 99), max: n === 0 ? 0 : sorted[n - 1], count: n };
  }
}
