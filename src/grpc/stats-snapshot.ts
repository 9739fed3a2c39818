/**
 * One message of the `StreamStats` stream as the client hands it out.
 *
 * @example
 * ```ts
 * for await (const snap of client.streamStats({ intervalMs: 500 })) {
 *   for (const r of snap.instances) console.log(new Date(snap.time), r.instance, r.rxPps);
 * }
 * ```
 */
import type { InstanceRates } from '../controller/controller-api.ts';

/** Per-instance rates at one moment. */
export interface StatsSnapshot {
  /** Unix time in ms when the server took the snapshot. */
  readonly time: number;
  readonly instances: readonly InstanceRates[];
}
