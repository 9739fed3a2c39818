import { LocalPortCounter } from '../dataplane/ports/local-ports.ts';

/** What the choice reads of an instance: its host pins, and its own ports' counters when its ends run in it. */
export interface ScaleInCandidate {
  /** Flows the host's steering pins to it (0 when the ends run in the replicas: no frame crosses the host). */
  readonly flows: number;
  /** Its ports' counters (`LocalPortCounter` slots) when its ends run in it. */
  readonly portCounters: Float64Array | undefined;
}

/**
 * The open flows that drain with `inst`: its clients port's `FLOWS_OPEN` when its ends run
 * in it (each closes with a FIN and opens anew on another replica), its host pins otherwise.
 */
export function openFlowsOf(inst: ScaleInCandidate): number {
  const c = inst.portCounters;
  return c === undefined ? inst.flows : c[LocalPortCounter.FLOWS_OPEN];
}

/**
 * The `count` instances a scale-in drains: those with the fewest open flows (`openFlowsOf`),
 * so the fewest connections move; ties keep their order.
 *
 * @example
 * ```ts
 * for (const inst of scaleInVictims(ready, ready.length - desired)) drain(inst);
 * ```
 */
export function scaleInVictims<T extends ScaleInCandidate>(instances: readonly T[], count: number): T[] {
  if (count <= 0) return [];
  return [...instances].sort((a, b) => openFlowsOf(a) - openFlowsOf(b)).slice(0, count);
}
