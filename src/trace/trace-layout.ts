/**
 * The trace area: shared memory (Int32 words) between one instance and the host, through
 * which the instance hands back what its pipeline did to traced packets. The host owns
 * words 0 and 3, the instance words 1 and 2 and the slots; the host trusts nothing it reads
 * there (`readTraceRecords` checks every field against the instance's manifest).
 *
 * ```
 * word 0  session     host: the trace session on now (0: off; the instance's loop reads it once per batch)
 * word 1  written     instance: records written so far (slot = written % TRACE_SLOTS)
 * word 2  lost        instance: records it had no free slot for
 * word 3  consumed    host: records read so far (a slot is free again once consumed passes it)
 * slots   TRACE_SLOTS × TRACE_SLOT_WORDS from word TRACE_HEADER_WORDS on
 * ```
 *
 * A record (one slot): session, trace id (the packet's mark), part (a fused chain's
 * function), arrival side, steps, notes, the packet as it arrived (a snapshot), then up to
 * `TRACE_MAX_STEPS` steps (element, verdict, reason, snapshot after it) and up to
 * `TRACE_MAX_NOTES` notes (element, note id, value).
 *
 * A frame's mark (`PacketMeta.trace`) is `session << 16 | seq`: seq 1.. for the packets the
 * host chose to trace when they entered the chain, 0 for the others.
 */

/** Header words before the slots. */
export const TRACE_HEADER_WORDS = 16;
/** Records an area holds before the host reads them. */
export const TRACE_SLOTS = 32;
/** Words of one record. */
export const TRACE_SLOT_WORDS = 256;
/** Bytes of one instance's trace area. */
export const TRACE_AREA_BYTES = (TRACE_HEADER_WORDS + TRACE_SLOTS * TRACE_SLOT_WORDS) * 4;

/** Header word indices. */
export const TraceWord = {
  SESSION: 0,
  WRITTEN: 1,
  LOST: 2,
  CONSUMED: 3,
} as const;

/** Words of a packet snapshot: src, dst, sport, dport, proto, TCP flags, TTL, length. */
export const SNAPSHOT_WORDS = 8;
/** Record header words before the arrival snapshot. */
export const RECORD_HEADER_WORDS = 6;
/** Words of one step: element, verdict, reason, snapshot. */
export const STEP_WORDS = 3 + SNAPSHOT_WORDS;
/** Words of one note: element, note id, value. */
export const NOTE_WORDS = 3;
/** Most steps (elements passed) one record holds. */
export const TRACE_MAX_STEPS = 16;
/** Most notes one record holds. */
export const TRACE_MAX_NOTES = 16;
/** Word offset of the steps inside a record. */
export const STEPS_AT = RECORD_HEADER_WORDS + SNAPSHOT_WORDS;
/** Word offset of the notes inside a record. */
export const NOTES_AT = STEPS_AT + TRACE_MAX_STEPS * STEP_WORDS;

/** Record header word indices. */
export const RecordWord = {
  SESSION: 0,
  MARK: 1,
  PART: 2,
  SIDE: 3,
  STEPS: 4,
  NOTES: 5,
} as const;

/** Most trace sessions before ids wrap (16 bits of a mark). */
export const TRACE_SESSION_MAX = 0xffff;
/** Most packets one session traces (16 bits of a mark). */
export const TRACE_SEQ_MAX = 0xffff;

if (NOTES_AT + TRACE_MAX_NOTES * NOTE_WORDS > TRACE_SLOT_WORDS) throw new RangeError('trace record layout does not fit its slot');
