import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';

/**
 * Limits how fast a source port puts frames into the chain: a token bucket of `rate`
 * frames per second holding at most `burst` frames (default rate / 100, ≥ 32). Frames
 * leaving at this end go to the wrapped port.
 *
 * @example
 * ```ts
 * const paced = new PacedPort(new GeneratorPort(templates, { total: Infinity }), 100_000);
 * ```
 */
export class PacedPort implements ChainPort {
  private tokens = 0;
  private last = performance.now();
  private readonly burst: number;

  constructor(
    readonly inner: ChainPort,
    /** Frames per second; may be changed while running. */
    public rate: number,
    burst?: number,
  ) {
    this.burst = burst ?? Math.max(32, Math.ceil(rate / 100));
  }

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    const allowed = Math.floor(this.tokens);
    if (allowed <= 0) return 0;
    const n = this.inner.fill(pool, ids, max < allowed ? max : allowed);
    this.tokens -= n;
    return n;
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    this.inner.take(pool, ids, n);
  }
}
