import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';

/**
 * Joins a source and a sink into one chain end: frames enter from `source`, frames that
 * leave the chain at this end go to `sink`.
 *
 * @example
 * ```ts
 * const inside = new DuplexPort(new GeneratorPort(syns), new SinkPort({ capture: true }));
 * ```
 */
export class DuplexPort<S extends ChainPort, K extends ChainPort> implements ChainPort {
  constructor(
    readonly source: S,
    readonly sink: K,
  ) {}

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    return this.source.fill(pool, ids, max);
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    this.sink.take(pool, ids, n);
  }
}
