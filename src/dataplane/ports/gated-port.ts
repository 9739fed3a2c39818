import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';

/**
 * A chain end that can stop taking frames in: until `close()` it is the wrapped port; after
 * it, `fill` gives nothing (what the wrapped port would have given stays with it: a socket
 * keeps its datagrams, a generator its frames) while frames leaving the chain are still
 * handed to the wrapped port. A chain being deleted closes its ingress this way, so the
 * frames already inside can leave before the instances stop.
 *
 * @example
 * ```ts
 * const ingress = new GatedPort(end.port);
 * // … at deletion
 * ingress.close();
 * while (dataPlane.hasFramesInFlight()) await tick();
 * ```
 */
export class GatedPort implements ChainPort {
  private closed = false;
  /** The wrapped port's readiness, when it has one (`ChainPort.onReadable`). */
  readonly onReadable?: (callback: (() => void) | null) => void;

  constructor(readonly inner: ChainPort) {
    if (inner.onReadable !== undefined) this.onReadable = (callback) => inner.onReadable!(callback);
  }

  /** Stops taking frames in (for good). */
  close(): void {
    this.closed = true;
  }

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    return this.closed ? 0 : this.inner.fill(pool, ids, max);
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    this.inner.take(pool, ids, n);
  }
}
