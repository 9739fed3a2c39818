import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop lag while some work runs: a timer-based histogram (perf_hooks), in ms. */
export interface LagFigures {
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly samples: number;
}

/** Timer resolution of the probe, ms. */
export const LAG_RESOLUTION_MS = 10;

/** Runs `work` with `monitorEventLoopDelay` sampling every 10 ms and returns its result and the lag figures. */
export async function withLagProbe<T>(work: () => Promise<T>): Promise<{ result: T; lag: LagFigures }> {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  histogram.enable();
  try {
    const result = await work();
    return { result, lag: { p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6, samples: histogram.count } };
  } finally {
    histogram.disable();
  }
}

/** The lag of an idle loop over `ms` on this machine now (a shared machine's own share of the lag). */
export async function idleLag(ms: number): Promise<LagFigures> {
  return (await withLagProbe(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))).lag;
}

/**
 * The p99 budget of a lag test: 50 ms, plus what an idle loop already loses on this machine
 * beyond the timer resolution (a loaded shared machine delays every timer, work or not).
 */
export function lagBudgetMs(idle: LagFigures): number {
  return 50 + Math.max(0, idle.p99Ms - LAG_RESOLUTION_MS);
}

/**
 * Runs `work` under the probe up to `attempts` times, each followed by an idle measurement
 * as long; returns the first attempt within its budget, else the last (a shared machine's
 * bursts from other processes are not the work's lag; work that blocks fails every time).
 */
export async function lagWithinBudget(work: () => Promise<unknown>, attempts = 3): Promise<{ lag: LagFigures; idle: LagFigures; budgetMs: number; attempt: number }> {
  let last: { lag: LagFigures; idle: LagFigures; budgetMs: number; attempt: number } | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const started = performance.now();
    const { lag } = await withLagProbe(work);
    const idle = await idleLag(Math.max(500, performance.now() - started));
    last = { lag, idle, budgetMs: lagBudgetMs(idle), attempt };
    if (lag.p99Ms < last.budgetMs) return last;
  }
  return last as { lag: LagFigures; idle: LagFigures; budgetMs: number; attempt: number };
}
