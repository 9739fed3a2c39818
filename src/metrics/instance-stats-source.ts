import type { CounterInfo } from '../pipeline/compiled-pipeline.ts';
import type { SideNumber } from '../pipeline/verdict.ts';

/**
 * What the metrics exporter and the rate sampler read of one running instance. Everything
 * is read periodically (at scrape or sampling time), never per packet; the data plane
 * implements it over the shared memory it already has.
 *
 * - `counters` / `counterInfo`: the pipeline's live counters and what each slot counts
 *   (`ImageManifest.counters`); slots 0…8 are the built-in traffic counters
 *   (`BuiltinCounter`), entries with `drop: true` are drop reasons.
 * - `queueOccupancy(side)`: how full the side's receiveq is now, 0..1 (see
 *   `receiveQueueOccupancy` for virtio device ends).
 * - `loopStats`: the instance loop's batch count, busy nanoseconds and batch-time
 *   histogram (`loop-stats.ts` layout); absent while the loop does not measure them.
 *
 * @example
 * ```ts
 * const source: InstanceStatsSource = {
 *   id: 'web-edge/fw-0', chain: 'web-edge', function: 'fw',
 *   counters: host.counters, counterInfo: manifest.counters,
 *   queueOccupancy: (side) => receiveQueueOccupancy(side === Side.INSIDE ? host.eth0 : host.eth1),
 * };
 * ```
 */
export interface InstanceStatsSource {
  /** Instance id, `<chain>/<function>-<n>` (`InstanceStatus.id`). */
  readonly id: string;
  readonly chain: string;
  /** Function name in the chain spec. */
  readonly function: string;
  /** The pipeline's counters, live (shared memory the instance writes). */
  readonly counters: Float64Array;
  /** What each counter slot counts, indexed like `counters`. */
  readonly counterInfo: readonly CounterInfo[];
  /** Occupancy of the side's receive queue now, 0..1. */
  queueOccupancy(side: SideNumber): number;
  /** The loop-statistics block (`LOOP_STATS_LENGTH` slots), when the instance keeps one. */
  readonly loopStats?: Float64Array;
  /** Calls its sandbox denied, one word per `SANDBOX_REASONS` entry (an instance process; a fused replica's count with its first function). */
  readonly sandboxDenied?: Int32Array;
}

/** Lists the instances to read now (called once per scrape or sample). */
export type StatsSources = () => Iterable<InstanceStatsSource>;
