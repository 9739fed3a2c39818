import type { BufferRecycler } from '../../pool/buffer-recycler.ts';
import { FrameTemplates } from '../../pool/frame-templates.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';

/** Options of a `GeneratorPort`. */
export interface GeneratorPortOptions {
  /** Frames to send in all (default: each template once). */
  readonly total?: number;
  /** Allocate from this recycler (buffers a sink in the same instance gave it) before the pool. Default: the pool. */
  readonly recycler?: BufferRecycler;
}

/**
 * An in-memory traffic source: sends `total` frames, cycling over `templates` (one per
 * flow, or flows × frames laid out in the order to send). Each frame enters the pool with
 * one copy (`FrameTemplates.copyIn`), the one counted copy in. Frames that leave the chain
 * at this end are counted and freed.
 *
 * @example
 * ```ts
 * const gen = new GeneratorPort(flows.map((f) => buildFrame(f)), { total: 1_000_000 });
 * await chain.run(gen, sink, () => gen.done && sink.frames + chain.dropped() >= gen.sent);
 * ```
 */
export class GeneratorPort implements ChainPort {
  readonly total: number;
  /** Frames put into the pool. */
  sent = 0;
  /** Frames that came back out of the chain at this end. */
  received = 0;
  /** `allocBatch` gave fewer buffers than asked (pool exhausted): retried on the next call. */
  allocShortfall = 0;
  private readonly templates: FrameTemplates;
  private readonly recycler: BufferRecycler | undefined;
  private next = 0;

  constructor(templates: readonly Uint8Array[], options: GeneratorPortOptions = {}) {
    this.templates = new FrameTemplates(templates);
    this.total = options.total ?? templates.length;
    this.recycler = options.recycler;
  }

  /** True when every frame has been sent. */
  get done(): boolean {
    return this.sent >= this.total;
  }

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    const left = this.total - this.sent;
    const want = max < left ? max : left;
    if (want <= 0) return 0;
    const got = this.recycler === undefined ? pool.allocBatch(ids, want) : this.recycler.alloc(pool, ids, want);
    if (got < want) this.allocShortfall += want - got;
    // A buffer re-owned under us since the allocation (only a hostile instance writes that word) is not ours to fill.
    const kept = this.templates.copyIn(pool, ids, got, this.next);
    this.next = (this.next + kept) % this.templates.count;
    this.sent += kept;
    return kept;
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    this.received += n;
    pool.freeBatch(ids, n);
  }
}
