import { Verdict } from './verdict.ts';

/** Most descriptors a batch holds (VPP's frame size; netmap batches likewise). */
export const MAX_BATCH = 256;

/**
 * A batch of packets in the pool, the unit of work of every pipeline. Struct of typed
 * arrays, allocated once per instance and reused for every batch: the per-packet loop
 * never allocates.
 *
 * On entry the owner fills `count`, `ids`, `offsets`, `lengths` and `sides`; the pipeline
 * fills `verdicts` and `reasons` and may rewrite `offsets`/`lengths` (a header pushed into
 * the headroom, a reply built in place). Packet bytes are read and written in place
 * through `view`, a DataView over the whole pool.
 *
 * @example
 * ```ts
 * const batch = new PacketBatch(pool.view);
 * batch.push(id, pool.dataOffset(id), pool.meta.length[id], Side.INSIDE);
 * pipeline.processBatch(batch, Date.now());
 * if (batch.verdicts[0] === Verdict.DROP) console.log(counterNames[batch.reasons[0]]);
 * ```
 */
export class PacketBatch {
  /** Packets in the batch. */
  count = 0;
  /** Pool buffer id of each packet. */
  readonly ids = new Uint32Array(MAX_BATCH);
  /** Absolute byte offset of each frame's first byte in `view`. */
  readonly offsets = new Int32Array(MAX_BATCH);
  /** Frame length in bytes. */
  readonly lengths = new Int32Array(MAX_BATCH);
  /** Side each packet arrived on. */
  readonly sides = new Uint8Array(MAX_BATCH);
  /** Pipeline output: side to leave on, or `Verdict.DROP`. */
  readonly verdicts = new Uint8Array(MAX_BATCH);
  /** Pipeline output: for dropped packets, the index of the counter naming the reason. */
  readonly reasons = new Uint16Array(MAX_BATCH);

  /** @param view DataView over the whole packet pool (or any memory holding the frames) */
  constructor(readonly view: DataView) {}

  /** Appends a packet; returns false when the batch is full. */
  push(id: number, offset: number, length: number, side: number): boolean {
    const i = this.count;
    if (i >= MAX_BATCH) return false;
    this.ids[i] = id;
    this.offsets[i] = offset;
    this.lengths[i] = length;
    this.sides[i] = side;
    this.verdicts[i] = Verdict.DROP;
    this.reasons[i] = 0;
    this.count = i + 1;
    return true;
  }

  /** Empties the batch (the arrays are kept). */
  clear(): void {
    this.count = 0;
  }
}
