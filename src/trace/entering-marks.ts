import type { FrameTuple } from '../capture/frame-tuple.ts';
import { readFrameTuple } from '../capture/frame-tuple.ts';
import type { PacketFilter } from '../capture/packet-filter.ts';
import type { PoolHandle } from '../pool/pool-handle.ts';

/**
 * How a trace marker claims the seq of a frame its filter passed and records that frame's
 * entry: the host's `TraceMarker` counts seqs itself and keeps entries in a list; a
 * replica's `IngressMarker` claims them from a word all replicas share and writes the
 * entries into the ingress trace block. The one loop over the batch is `markEntering`.
 */
export interface SeqClaims {
  /** The next seq (1, 2, …), or 0 when none is left. */
  claim(): number;
  /**
   * Records the entry of `seq`: `len` bytes at byte `off` of `pool.view`, whose tuple is in
   * `tuple`, entering from `side` (0 inside, 1 outside).
   */
  record(seq: number, pool: PoolHandle, off: number, len: number, tuple: FrameTuple, side: number): void;
}

/**
 * Marks buffers `ids[0, n)` of `pool` entering the chain from `side` (`PacketMeta.trace`):
 * `base | seq` for each frame `filter` passes while `claims` gives seqs (its entry
 * recorded), `base` (the session alone) for every other one, so no frame keeps a stale
 * mark. A frame whose metadata does not describe bytes inside its buffer is marked `base`
 * and not read. With `filter` null every frame gets `base`. Returns false when the seqs ran
 * out during the batch (the caller stops filtering), true otherwise.
 *
 * @example
 * ```ts
 * if (!markEntering(pool, ids, n, (session << 16) >>> 0, filter, tuple, this, side)) this.filter = null;
 * ```
 */
export function markEntering(pool: PoolHandle, ids: Uint32Array, n: number, base: number, filter: PacketFilter | null, tuple: FrameTuple, claims: SeqClaims, side: number): boolean {
  const meta = pool.meta;
  const marks = meta.trace;
  if (filter === null) {
    for (let i = 0; i < n; i++) marks[ids[i]] = base;
    return true;
  }
  const view = pool.view;
  const stride = pool.stride;
  const area = pool.dataAreaOffset;
  let live = true;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    marks[id] = base;
    if (!live) continue;
    const dataOff = meta.dataOff[id];
    const len = meta.length[id];
    if (dataOff > stride || len > stride - dataOff) continue;
    const off = area + id * stride + dataOff;
    readFrameTuple(view, off, len, tuple);
    if (!filter.matches(tuple)) continue;
    const seq = claims.claim();
    if (seq === 0) {
      live = false;
      continue;
    }
    marks[id] = (base | seq) >>> 0;
    claims.record(seq, pool, off, len, tuple, side);
  }
  return live;
}
