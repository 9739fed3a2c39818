import type { Metric, Registry } from 'prom-client';
import { InvalidArgumentError } from '../errors/catalog.ts';

/** One labelled series handed to a `CollectedHistogram` at scrape time. */
export interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** Per-bucket counts, NOT cumulative: `bounds.length` finite buckets, then +Inf. */
  readonly counts: ArrayLike<number>;
  /** Index of the first bucket in `counts` (to read a slice of a shared block in place). */
  readonly offset: number;
  /** Sum of the observed values, in the histogram's unit. */
  readonly sum: number;
}

/** Options of a `CollectedHistogram`. */
export interface CollectedHistogramOptions {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Finite upper bounds, ascending, in the histogram's unit (seconds). */
  readonly bounds: readonly number[];
  readonly registry: Registry;
  /** Lists the series to export now; called once per scrape. */
  readonly collect: () => Iterable<HistogramSeries>;
}

/**
 * A Prometheus histogram whose buckets are counted elsewhere (e.g. in shared memory by an
 * instance loop) and only read at scrape time. prom-client's `Histogram` can only
 * `observe` one value at a time, so this is a minimal custom metric the registry formats
 * like its own: `<name>_bucket{…,le}` (cumulative), `<name>_sum`, `<name>_count`.
 *
 * @example
 * ```ts
 * new CollectedHistogram({
 *   name: 'nfvkit_batch_duration_seconds', help: '…', labelNames: ['instance'],
 *   bounds: [1e-6, 2e-6, 4e-6], registry,
 *   collect: () => [{ labels: { instance: 'a' }, counts: block, offset: 2, sum: block[1] / 1e9 }],
 * });
 * ```
 */
export class CollectedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly string[];
  private readonly les: readonly string[];
  private readonly source: () => Iterable<HistogramSeries>;

  constructor(opts: CollectedHistogramOptions) {
    for (let i = 1; i < opts.bounds.length; i++) {
      if (!(opts.bounds[i] > opts.bounds[i - 1])) throw new InvalidArgumentError(`histogram ${opts.name}: bounds must ascend`);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    this.les = [...opts.bounds.map((b) => String(b)), '+Inf'];
    this.source = opts.collect;
    // The registry only calls name/help/type, get() and reset() on a metric.
    opts.registry.registerMetric(this as unknown as Metric);
  }

  /** The series as prom-client's registry formats them. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Array<{ metricName: string; labels: Record<string, string>; value: number }> }> {
    const values: Array<{ metricName: string; labels: Record<string, string>; value: number }> = [];
    const les = this.les;
    for (const s of this.source()) {
      let cumulative = 0;
      for (let i = 0; i < les.length; i++) {
        cumulative += s.counts[s.offset + i];
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: les[i] }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: cumulative });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Nothing to reset: the counts live with their owner. */
  reset(): void {}
}
