import type { InstanceRates } from '../controller/controller-api.ts';
import { BuiltinCounter } from '../pipeline/compiled-pipeline.ts';
import { Side } from '../pipeline/verdict.ts';
import type { InstanceStatsSource, StatsSources } from './instance-stats-source.ts';
import { isLoopStats, LoopStat } from './loop-stats.ts';

/** Totals the sampler differences, in this order. */
const RX_PACKETS = 0;
const TX_PACKETS = 1;
const DROPS = 2;
const RX_BYTES = 3;
const BUSY_NS = 4;
const FIELDS = 5;

/** What the sampler remembers of one instance between samples. */
interface Previous {
  /** The counter array read last time: another array means the instance was replaced. */
  counters: Float64Array;
  loopStats: Float64Array | undefined;
  time: number;
  readonly totals: Float64Array;
  last: InstanceRates;
  /** Sample round the instance was last seen in. */
  round: number;
}

function readTotals(source: InstanceStatsSource, out: Float64Array): void {
  const c = source.counters;
  out[RX_PACKETS] = c[BuiltinCounter.RX_INSIDE_PACKETS] + c[BuiltinCounter.RX_OUTSIDE_PACKETS];
  out[TX_PACKETS] = c[BuiltinCounter.TX_INSIDE_PACKETS] + c[BuiltinCounter.TX_OUTSIDE_PACKETS];
  out[DROPS] = c[BuiltinCounter.DROPPED_PACKETS];
  out[RX_BYTES] = c[BuiltinCounter.RX_INSIDE_BYTES] + c[BuiltinCounter.RX_OUTSIDE_BYTES];
  out[BUSY_NS] = isLoopStats(source.loopStats) ? source.loopStats[LoopStat.BUSY_NS] : 0;
}

/** What total `i` moved since `p`: the whole current value after a reset or a replacement. */
function moved(cur: Float64Array, p: Float64Array, i: number, replaced: boolean): number {
  const delta = cur[i] - p[i];
  return replaced || delta < 0 ? cur[i] : delta;
}

function clampUnit(x: number): number {
  return x > 0 ? (x < 1 ? x : 1) : 0;
}

function occupancyOf(source: InstanceStatsSource): number {
  const a = clampUnit(source.queueOccupancy(Side.INSIDE));
  const b = clampUnit(source.queueOccupancy(Side.OUTSIDE));
  return a > b ? a : b;
}

/**
 * Per-instance rates from the shared counters: each `sample(now)` reads every source's
 * totals and divides what moved since the previous sample by the time between them.
 * Periodic work only (one read of a few counter slots per instance per sample).
 *
 * - An instance seen for the first time has zero rates in that sample (no interval yet).
 * - An instance that is no longer listed is forgotten; listed again, it starts over.
 * - A counter that went backwards was reset: what it holds now is what moved since
 *   (Prometheus `rate()` semantics). A source whose `counters` (or `loopStats`) is now a
 *   different array is an instance replaced under the same id: every total starts over.
 * - `now` not after the previous sample (same tick, clock going back): the previous
 *   rates are repeated and the baseline is kept.
 * - `queueOccupancy` is the fuller of the two receiveqs at sample time; `busyRatio` is
 *   busy time / wall time from `loopStats` (0 when the source has none).
 *
 * @example
 * ```ts
 * const sampler = new RateSampler(() => dataPlane.statsSources());
 * setInterval(() => sampler.sample(performance.now()), 1000).unref();
 * const rates = sampler.latest('web-edge');        // what ControllerApi.stats() returns
 * ```
 */
export class RateSampler {
  private readonly sources: StatsSources;
  private readonly previous = new Map<string, Previous>();
  private readonly now = new Float64Array(FIELDS);
  private round = 0;
  private rates: InstanceRates[] = [];

  /** `sources` lists the instances to sample, called once per `sample`. */
  constructor(sources: StatsSources) {
    this.sources = sources;
  }

  /** Samples every source at `now` (ms, any monotonic clock) and returns their rates. */
  sample(now: number): InstanceRates[] {
    const round = ++this.round;
    const out: InstanceRates[] = [];
    const cur = this.now;
    for (const source of this.sources()) {
      readTotals(source, cur);
      const prev = this.previous.get(source.id);
      if (prev === undefined) {
        const rates = zeroRates(source, occupancyOf(source));
        this.previous.set(source.id, { counters: source.counters, loopStats: source.loopStats, time: now, totals: Float64Array.from(cur), last: rates, round });
        out.push(rates);
        continue;
      }
      prev.round = round;
      const dt = (now - prev.time) / 1000;
      if (!(dt > 0)) {
        out.push(prev.last);
        continue;
      }
      const replaced = prev.counters !== source.counters;
      const p = prev.totals;
      const rates: InstanceRates = {
        instance: source.id,
        chain: source.chain,
        function: source.function,
        rxPps: moved(cur, p, RX_PACKETS, replaced) / dt,
        txPps: moved(cur, p, TX_PACKETS, replaced) / dt,
        dropPps: moved(cur, p, DROPS, replaced) / dt,
        rxBps: moved(cur, p, RX_BYTES, replaced) / dt,
        queueOccupancy: occupancyOf(source),
        busyRatio: clampUnit(moved(cur, p, BUSY_NS, prev.loopStats !== source.loopStats) / (dt * 1e9)),
      };
      p.set(cur);
      prev.counters = source.counters;
      prev.loopStats = source.loopStats;
      prev.time = now;
      prev.last = rates;
      out.push(rates);
    }
    for (const [id, prev] of this.previous) if (prev.round !== round) this.previous.delete(id);
    this.rates = out;
    return out;
  }

  /** Rates of the last `sample`, of one chain or of all. */
  latest(chain?: string): InstanceRates[] {
    return chain === undefined ? this.rates.slice() : this.rates.filter((r) => r.chain === chain);
  }
}

function zeroRates(source: InstanceStatsSource, queueOccupancy: number): InstanceRates {
  return { instance: source.id, chain: source.chain, function: source.function, rxPps: 0, txPps: 0, dropPps: 0, rxBps: 0, queueOccupancy, busyRatio: 0 };
}
