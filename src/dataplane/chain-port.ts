import type { PoolHandle } from '../pool/pool-handle.ts';

/**
 * One end of a service chain (the inside end before the first function, or the outside
 * end after the last). The chain host calls it from its one thread, with the host's pool
 * handle:
 * - `fill` puts up to `max` frames into fresh pool buffers (`allocBatch` + one `copyIn`
 *   each: the one copy in) and writes their ids to `ids[0..)`; returns how many.
 * - `take` receives `ids[0..n)`, frames that left the chain at this end; the port owns
 *   them now and must free them (after an optional `copyOut`).
 *
 * @example
 * ```ts
 * const sink: ChainPort = { fill: () => 0, take: (pool, ids, n) => pool.freeBatch(ids, n) };
 * ```
 */
export interface ChainPort {
  fill(pool: PoolHandle, ids: Uint32Array, max: number): number;
  take(pool: PoolHandle, ids: Uint32Array, n: number): void;
  /**
   * A port fed by a socket: `callback` runs from the event loop when frames arrived while
   * the pump loop sleeps (`null` stops it). Ports without it are polled.
   */
  onReadable?(callback: (() => void) | null): void;
}

/** A port that sends nothing and frees what leaves: the default for an unused chain end. */
export const NULL_PORT: ChainPort = {
  fill: () => 0,
  take: (pool, ids, n) => pool.freeBatch(ids, n),
};
