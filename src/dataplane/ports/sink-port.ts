import type { BufferRecycler } from '../../pool/buffer-recycler.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';

/** Options of a `SinkPort`. */
export interface SinkPortOptions {
  /** Keep a copy of every frame (`copyOut`, counted) in `captured` (default false). */
  readonly capture?: boolean;
  /**
   * Give the buffers to this recycler instead of freeing them (a generator in the same
   * instance allocates from it: `GeneratorPortOptions.recycler`). Default: freed.
   */
  readonly recycler?: BufferRecycler;
}

/**
 * The end of a chain that only receives: counts frames and bytes, optionally copies each
 * frame out (`pool.copyOut`, the one counted copy out), then frees the buffers (or gives
 * them to its `recycler`).
 *
 * @example
 * ```ts
 * const sink = new SinkPort({ capture: true });
 * await chain.run(gen, sink, () => sink.frames === 100);
 * sink.captured[0]; // Uint8Array of the first frame that left
 * ```
 */
export class SinkPort implements ChainPort {
  frames = 0;
  bytes = 0;
  /** Copies of the frames, when `capture` is on. */
  readonly captured: Uint8Array[] = [];
  private readonly capture: boolean;
  private readonly recycler: BufferRecycler | undefined;

  constructor(options: SinkPortOptions = {}) {
    this.capture = options.capture === true;
    this.recycler = options.recycler;
  }

  fill(): number {
    return 0;
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    const length = pool.meta.length;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      this.bytes += length[id];
      if (this.capture) {
        const copy = new Uint8Array(length[id]);
        pool.copyOut(id, copy, 0);
        this.captured.push(copy);
      }
    }
    this.frames += n;
    if (this.recycler === undefined) pool.freeBatch(ids, n);
    else this.recycler.give(pool, ids, n);
  }
}
