import { BuiltinCounter, type InstanceShard, type ModuleCounter, type PipelineInstance, type PipelineModule, type PipelineRuntime, type StateTakeover } from './compiled-pipeline.ts';
import { MAX_BATCH, PacketBatch } from './packet-batch.ts';
import { Side, Verdict } from './verdict.ts';
import type { PacketTracer } from '../trace/packet-tracer.ts';

/** Where one function's counters sit in a fused pipeline's counter array. */
export interface FusedPart {
  readonly name: string;
  /** Slot of its first counter. */
  readonly firstCounter: number;
  readonly counterCount: number;
}

/** Counter slots of each part, in chain order: each keeps its own block, one after the other. */
export function fusedParts(parts: readonly Pick<PipelineModule, 'COUNTERS'>[], names: readonly string[]): FusedPart[] {
  let first = 0;
  return parts.map((p, i) => {
    const part = { name: names[i], firstCounter: first, counterCount: p.COUNTERS.length };
    first += p.COUNTERS.length;
    return part;
  });
}

/**
 * The counters of a fused pipeline: each part's block, its elements named
 * `<function>/<element>` (the parts' entries as they are: with help for compiled
 * pipelines' `CounterInfo`, without for modules' `ModuleCounter`).
 */
export function fusedCounters<C extends ModuleCounter>(parts: readonly { readonly COUNTERS: readonly C[] }[], names: readonly string[]): C[] {
  return parts.flatMap((p, i) => p.COUNTERS.map((c) => ({ ...c, element: `${names[i]}/${c.element}` })));
}

/** The state of a fused pipeline: each part's state, one after the other, in chain order. */
export function fusedStateBytes(parts: readonly Pick<PipelineModule, 'STATE_BYTES'>[]): number {
  return parts.reduce((s, p) => s + (p.STATE_BYTES ?? 0), 0);
}

/**
 * Most times (× parts) a packet may enter a function in one batch: a packet that bounces
 * between functions (each sending it back) is dropped after this, counted in the
 * `dropped_packets` of the function that sent it last and in `loops()`.
 */
const MAX_VISITS_FACTOR = 4;

/**
 * Runs the functions of a chain as one pipeline, to completion, on the thread that holds
 * the batch (fused placement: NetBricks, BESS, VPP). Each part is an unchanged compiled
 * pipeline with its own counters (a block of the fused counter array), config and drop
 * reasons.
 *
 * A packet from the inside enters part 0 on its inside; one from the outside enters the
 * last part on its outside. A part's verdict moves the packet on: out its outside → the
 * next part's inside (or out of the chain after the last), out its inside → the previous
 * part's outside (or out of the chain before the first), drop → done. Every part runs
 * over a sub-batch of the packets waiting at it; sweeps go forward, then back, until no
 * packet is left inside the chain. Bytes never move; the sub-batches carry ids, offsets,
 * lengths and sides (a part may rewrite offset and length: a header pushed, a reply
 * built in place).
 *
 * @example
 * ```ts
 * const fused = createFusedPipeline([fw, lb, nat], { counters });
 * fused.processBatch(batch, now); // verdicts: chain inside, chain outside or drop
 * ```
 */
export function createFusedPipeline(parts: readonly Pick<PipelineModule, 'createPipeline' | 'COUNTERS' | 'STATE_BYTES'>[], rt: PipelineRuntime): PipelineInstance & { readonly loops: () => number } {
  const n = parts.length;
  if (n === 0) throw new RangeError('a fused pipeline needs at least one part');
  const need = parts.reduce((s, p) => s + p.COUNTERS.length, 0);
  if (!(rt.counters instanceof Float64Array) || rt.counters.length < need) throw new RangeError(`a fused pipeline of ${n} parts needs ${need} counters`);
  const instances: PipelineInstance[] = [];
  const dropSlot = new Uint32Array(n);
  let first = 0;
  for (const [k, p] of parts.entries()) {
    const counters = rt.counters.subarray(first, first + p.COUNTERS.length);
    dropSlot[k] = first + BuiltinCounter.DROPPED_PACKETS;
    first += p.COUNTERS.length;
    instances.push(p.createPipeline({ counters, control: rt.control, shard: rt.shard }));
  }
  // Per part, the packets waiting at it, and where each came from in the caller's batch.
  let work: PacketBatch[] = [];
  let origin: Uint16Array[] = [];
  let spare: PacketBatch | undefined;
  let spareOrigin: Uint16Array = new Uint16Array(MAX_BATCH);
  let view: DataView | undefined;
  const visits = new Uint8Array(MAX_BATCH);
  let loops = 0;

  function enqueue(k: number, from: PacketBatch, i: number, side: number, index: number): void {
    const w = work[k];
    const j = w.count;
    w.push(from.ids[i], from.offsets[i], from.lengths[i], side);
    origin[k][j] = index;
  }

  /**
   * Runs part k over what waits at it (its tracing variant when `tracer` is given);
   * routes each packet onward or writes its final verdict into `out`.
   */
  function runPart(k: number, out: PacketBatch, now: number, tracer: PacketTracer | null): void {
    const w = work[k];
    if (w.count === 0) return;
    // Swap in a fresh batch for packets that come back to this part during the sweep.
    const mine = w;
    const from = origin[k];
    if (tracer === null) instances[k].processBatch(mine, now);
    else {
      tracer.part = k;
      const traced = instances[k].processBatchTraced;
      if (traced !== undefined) traced(mine, now, tracer);
      else instances[k].processBatch(mine, now);
    }
    work[k] = spare as PacketBatch;
    origin[k] = spareOrigin;
    spare = mine;
    spareOrigin = from;
    work[k].clear();
    for (let i = 0; i < mine.count; i++) {
      const index = from[i];
      const verdict = mine.verdicts[i];
      out.offsets[index] = mine.offsets[i];
      out.lengths[index] = mine.lengths[i];
      if (verdict === Verdict.DROP) {
        out.verdicts[index] = Verdict.DROP;
        out.reasons[index] = mine.reasons[i];
        continue;
      }
      const next = verdict === Verdict.OUTSIDE ? k + 1 : k - 1;
      if (next < 0 || next >= n) {
        out.verdicts[index] = verdict;
        continue;
      }
      if (++visits[index] > MAX_VISITS_FACTOR * n) {
        out.verdicts[index] = Verdict.DROP;
        out.reasons[index] = 0;
        rt.counters[dropSlot[k]]++;
        loops++;
        continue;
      }
      enqueue(next, mine, i, verdict === Verdict.OUTSIDE ? Side.INSIDE : Side.OUTSIDE, index);
    }
  }

  function processBatch(batch: PacketBatch, now: number): void {
    run(batch, now, null);
  }

  /** `processBatch` with each part's tracing variant, its records naming the part. */
  function processBatchTraced(batch: PacketBatch, now: number, tracer: PacketTracer): void {
    run(batch, now, tracer);
    tracer.part = 0;
  }

  function run(batch: PacketBatch, now: number, tracer: PacketTracer | null): void {
    if (view !== batch.view) {
      view = batch.view;
      work = Array.from({ length: n }, () => new PacketBatch(batch.view));
      origin = Array.from({ length: n }, () => new Uint16Array(MAX_BATCH));
      spare = new PacketBatch(batch.view);
    }
    const count = batch.count;
    if (count === 0) return;
    const sides = batch.sides;
    const side = sides[0];
    let oneSide = true;
    for (let i = 1; i < count; i++) {
      if (sides[i] !== side) {
        oneSide = false;
        break;
      }
    }
    if (oneSide) {
      // Every packet from one side (what an instance loop hands over): straight through.
      if (straight(batch, now, tracer, side)) return;
    } else {
      for (let i = 0; i < count; i++) {
        visits[i] = 1;
        if (sides[i] === Side.INSIDE) enqueue(0, batch, i, Side.INSIDE, i);
        else enqueue(n - 1, batch, i, Side.OUTSIDE, i);
      }
    }
    for (;;) {
      let waiting = 0;
      for (let k = 0; k < n; k++) runPart(k, batch, now, tracer);
      for (let k = n - 1; k >= 0; k--) runPart(k, batch, now, tracer);
      for (let k = 0; k < n; k++) waiting += work[k].count;
      if (waiting === 0) break;
    }
  }

  /**
   * The parts over the caller's batch itself, one after the other in the batch's direction
   * (all from `side`), as long as every packet moves on to the next part: no sub-batch is
   * built or copied back. Returns true when every verdict is final. When one packet does
   * not move on (a drop, a reply sent back), the packets of the part that just ran are
   * routed as `runPart` routes them and the sweep it was in is finished over the work
   * queues; the caller then runs the usual sweeps until none is left (false). The order of
   * the parts' runs is the one the sweeps would have had.
   */
  function straight(batch: PacketBatch, now: number, tracer: PacketTracer | null, side: number): boolean {
    const count = batch.count;
    const verdicts = batch.verdicts;
    const forward = side === Side.INSIDE;
    const onward = forward ? Verdict.OUTSIDE : Verdict.INSIDE;
    let k = forward ? 0 : n - 1;
    for (let step = 1; ; step++) {
      if (tracer === null) instances[k].processBatch(batch, now);
      else {
        tracer.part = k;
        const traced = instances[k].processBatchTraced;
        if (traced !== undefined) traced(batch, now, tracer);
        else instances[k].processBatch(batch, now);
      }
      const next = forward ? k + 1 : k - 1;
      let i = 0;
      while (i < count && verdicts[i] === onward) i++;
      if (i === count) {
        // Everyone moves on: out of the chain after the last part, else into the next as it is.
        if (next < 0 || next >= n) return true;
        // As `push` leaves a packet entering a part: no verdict yet.
        verdicts.fill(Verdict.DROP, 0, count);
        batch.reasons.fill(0, 0, count);
        k = next;
        continue;
      }
      for (let j = 0; j < count; j++) {
        visits[j] = step;
        const verdict = verdicts[j];
        if (verdict === Verdict.DROP) continue;
        const to = verdict === Verdict.OUTSIDE ? k + 1 : k - 1;
        if (to < 0 || to >= n) continue;
        if (++visits[j] > MAX_VISITS_FACTOR * n) {
          verdicts[j] = Verdict.DROP;
          batch.reasons[j] = 0;
          rt.counters[dropSlot[k]]++;
          loops++;
          continue;
        }
        enqueue(to, batch, j, verdict === Verdict.OUTSIDE ? Side.INSIDE : Side.OUTSIDE, j);
      }
      // The rest of the sweep the part ran in (forward: the parts after it, then back).
      if (forward) {
        for (let p = next; p < n; p++) runPart(p, batch, now, tracer);
        for (let p = n - 1; p >= 0; p--) runPart(p, batch, now, tracer);
      } else {
        for (let p = next; p >= 0; p--) runPart(p, batch, now, tracer);
      }
      return false;
    }
  }

  function setControl(control: Int32Array): void {
    for (const p of instances) p.setControl?.(control);
  }

  function setShard(shard: InstanceShard): void {
    for (const p of instances) p.setShard?.(shard);
  }

  function attachState(state: Uint8Array, previous: Uint8Array | undefined, now: number): StateTakeover {
    const took: StateTakeover = { adopted: 0, rejected: 0 };
    let at = 0;
    for (const [k, p] of parts.entries()) {
      const bytes = p.STATE_BYTES ?? 0;
      if (bytes === 0) continue;
      const mine = instances[k].attachState?.(state.subarray(at, at + bytes), previous?.subarray(at, at + bytes), now);
      at += bytes;
      took.adopted += mine?.adopted ?? 0;
      took.rejected += mine?.rejected ?? 0;
    }
    return took;
  }

  return { processBatch, processBatchTraced, setShard, setControl, attachState, loops: () => loops };
}
