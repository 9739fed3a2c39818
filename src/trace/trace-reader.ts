/**
 * The host side of a trace area: reads the records an instance wrote since the last read,
 * checks every field against what the host knows of the instance (its session, the marks
 * it handed out, the shape of each of its pipelines), frees the slots, and returns the
 * records that passed. An instance writes this memory, so nothing in it is trusted: a
 * record that does not check out is counted in `rejected` and dropped, and a write count
 * that runs ahead of the slots is clamped.
 *
 * @example
 * ```ts
 * const got = readTraceRecords(inst.traceArea, session, issued, shapes);
 * for (const r of got.records) show(r);
 * ```
 */
import {
  NOTE_WORDS,
  NOTES_AT,
  RECORD_HEADER_WORDS,
  RecordWord,
  SNAPSHOT_WORDS,
  STEP_WORDS,
  STEPS_AT,
  TRACE_HEADER_WORDS,
  TRACE_MAX_NOTES,
  TRACE_MAX_STEPS,
  TRACE_SLOT_WORDS,
  TRACE_SLOTS,
  TraceWord,
} from './trace-layout.ts';

/** A packet's fields as a trace record holds them. */
export interface TraceSnapshot {
  /** Addresses, unsigned 32-bit (0 when the frame is not IPv4). */
  readonly src: number;
  readonly dst: number;
  readonly sport: number;
  readonly dport: number;
  readonly proto: number;
  readonly tcpFlags: number;
  readonly ttl: number;
  /** Frame length. */
  readonly len: number;
}

/** What one element did. */
export interface TraceStepRecord {
  /** Index into the pipeline's `PipelineTraceInfo.elements`. */
  readonly element: number;
  /** 0 inside, 1 outside, 255 drop. */
  readonly verdict: number;
  /** For a drop: the counter slot naming the reason (relative to the pipeline's block). */
  readonly reason: number;
  /** The packet after the element. */
  readonly after: TraceSnapshot;
}

/** A note an element reported. */
export interface TraceNoteRecord {
  readonly element: number;
  /** Index into `PipelineTraceInfo.notes`. */
  readonly note: number;
  readonly value: number;
}

/** One checked record: one pipeline's pass over one traced packet. */
export interface TraceRecord {
  /** The packet's number in its session (from 1). */
  readonly seq: number;
  /** A fused pipeline's part (0 otherwise). */
  readonly part: number;
  /** Side it arrived on: 0 inside, 1 outside. */
  readonly side: number;
  readonly arrived: TraceSnapshot;
  readonly steps: readonly TraceStepRecord[];
  readonly notes: readonly TraceNoteRecord[];
}

/** What the host knows of one pipeline (a fused image: one per part) to check records against. */
export interface TracePipelineShape {
  readonly elements: number;
  /** Each note's element. */
  readonly noteElements: readonly number[];
  /** Counters of the pipeline (a drop's reason must name one). */
  readonly counters: number;
}

/** What one read found. */
export interface TraceRead {
  readonly records: TraceRecord[];
  /** Records that did not check out (dropped). */
  readonly rejected: number;
  /** Records the instance says it had no free slot for, so far. */
  readonly lost: number;
}

/**
 * Reads and frees what `area` holds for `session`: records whose mark names a packet the
 * host traced (seq 1..`issued`) and whose fields fit `shapes`.
 */
export function readTraceRecords(area: Int32Array, session: number, issued: number, shapes: readonly TracePipelineShape[]): TraceRead {
  const written = Atomics.load(area, TraceWord.WRITTEN);
  let consumed = area[TraceWord.CONSUMED];
  let rejected = 0;
  const records: TraceRecord[] = [];
  let pending = written - consumed;
  if (pending < 0 || pending > TRACE_SLOTS) {
    // The instance's count is not one it could have reached: read none, start over from it.
    rejected += pending > 0 ? TRACE_SLOTS : 0;
    pending = 0;
    consumed = written;
  }
  for (let i = 0; i < pending; i++) {
    const at = TRACE_HEADER_WORDS + ((consumed + i) % TRACE_SLOTS) * TRACE_SLOT_WORDS;
    const r = readRecord(area, at, session, issued, shapes);
    if (r === null) rejected++;
    else records.push(r);
  }
  Atomics.store(area, TraceWord.CONSUMED, written);
  const lost = area[TraceWord.LOST];
  return { records, rejected, lost: lost > 0 ? lost : 0 };
}

function readRecord(a: Int32Array, at: number, session: number, issued: number, shapes: readonly TracePipelineShape[]): TraceRecord | null {
  const mark = a[at + RecordWord.MARK] >>> 0;
  const seq = mark & 0xffff;
  const part = a[at + RecordWord.PART];
  const side = a[at + RecordWord.SIDE];
  const stepCount = a[at + RecordWord.STEPS];
  const noteCount = a[at + RecordWord.NOTES];
  if (a[at + RecordWord.SESSION] !== session || mark >>> 16 !== session || seq < 1 || seq > issued) return null;
  if (!(part >= 0 && part < shapes.length) || (side !== 0 && side !== 1)) return null;
  if (!(stepCount >= 0 && stepCount <= TRACE_MAX_STEPS && noteCount >= 0 && noteCount <= TRACE_MAX_NOTES)) return null;
  const shape = shapes[part];
  const steps: TraceStepRecord[] = [];
  for (let k = 0; k < stepCount; k++) {
    const s = at + STEPS_AT + k * STEP_WORDS;
    const element = a[s];
    const verdict = a[s + 1];
    const reason = a[s + 2];
    if (!(element >= 0 && element < shape.elements)) return null;
    if (verdict !== 0 && verdict !== 1 && verdict !== 255) return null;
    if (verdict === 255 && !(reason >= 0 && reason < shape.counters)) return null;
    steps.push({ element, verdict, reason: verdict === 255 ? reason : 0, after: snapshotAt(a, s + 3) });
  }
  const notes: TraceNoteRecord[] = [];
  for (let k = 0; k < noteCount; k++) {
    const s = at + NOTES_AT + k * NOTE_WORDS;
    const element = a[s];
    const note = a[s + 1];
    if (!(note >= 0 && note < shape.noteElements.length) || shape.noteElements[note] !== element) return null;
    notes.push({ element, note, value: a[s + 2] });
  }
  return { seq, part, side, arrived: snapshotAt(a, at + RECORD_HEADER_WORDS), steps, notes };
}

function snapshotAt(a: Int32Array, at: number): TraceSnapshot {
  const u16 = (x: number): number => (x >>> 0) & 0xffff;
  return {
    src: a[at] >>> 0,
    dst: a[at + 1] >>> 0,
    sport: u16(a[at + 2]),
    dport: u16(a[at + 3]),
    proto: (a[at + 4] >>> 0) & 0xff,
    tcpFlags: (a[at + 5] >>> 0) & 0xff,
    ttl: (a[at + 6] >>> 0) & 0xff,
    len: Math.max(0, Math.min(a[at + 7], 1 << 16)),
  };
}

if (SNAPSHOT_WORDS !== 8) throw new RangeError('trace snapshots have 8 words');
