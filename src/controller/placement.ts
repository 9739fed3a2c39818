import { availableParallelism } from 'node:os';
import type { ChainSpecBody } from '../spec/chain-spec.ts';

/** What a chain runs as, and why. */
export interface PlacementDecision {
  readonly placement: 'isolated' | 'fused';
  /** One sentence for `describe` and the `applied` event. */
  readonly reason: string;
}

/**
 * Resolves `spec.placement`. `isolated` and `fused` are taken as written. `auto` fuses a
 * chain of two or more built functions when the machine has fewer cores than isolated
 * placement keeps busy threads (one per function instance, plus the host thread that moves
 * frames between them): more threads than cores collapse to the scheduler's time slice
 * (NETLAB), while a fused replica runs every function on the thread that holds the batch.
 *
 * @example
 * ```ts
 * resolvePlacement(spec.spec, 2); // { placement: 'fused', reason: 'auto: 2 cores for 4 busy threads if isolated' }
 * ```
 */
export function resolvePlacement(spec: Pick<ChainSpecBody, 'placement' | 'functions'>, cores = availableParallelism()): PlacementDecision {
  const n = spec.functions.length;
  if (spec.placement === 'isolated') return { placement: 'isolated', reason: 'spec.placement: isolated' };
  if (spec.placement === 'fused') return { placement: 'fused', reason: 'spec.placement: fused' };
  if (n < 2) return { placement: 'isolated', reason: 'auto: one function, nothing to fuse' };
  if (spec.functions.some((f) => f.image !== undefined)) return { placement: 'isolated', reason: 'auto: prebuilt images cannot be fused' };
  const busy = n + 1;
  if (cores < busy) return { placement: 'fused', reason: `auto: ${cores} cores for ${busy} busy threads if isolated` };
  return { placement: 'isolated', reason: `auto: ${cores} cores give each of ${busy} busy threads its own` };
}
