/**
 * The ingress trace block: shared memory (Int32 words) between the host and every replica
 * of a chain whose ends run in its replicas (`ReplicaEnds`), through which the host starts
 * a trace session at the replicas' own ingress ports. Each replica marks the frames its
 * ports put into the chain (`IngressMarker`), as the host's `TraceMarker` marks those
 * entering through it; the seqs come from one shared claim word, so a session's count
 * holds across all replicas. Neither side trusts what the other wrote: the replica checks
 * the filter's length and the count against the block, the host every entry's session,
 * side and length (`ReplicaTraceMarker`).
 *
 * ```
 * word 0   session   host: the session on now (0: off; a replica's ports read it once per batch)
 * word 1   count     host: packets the session traces in all (1..INGRESS_TRACE_ENTRIES)
 * word 2   claimed   replicas: session << 16 | seqs claimed so far (compare-and-swap, never past count)
 * word 3   filter    host: the filter's length in UTF-16 code units (0..MAX_FILTER_LENGTH)
 * words FILTER_AT.. the filter text, two code units a word
 * words ENTRIES_AT.. entry of seq k at ENTRIES_AT + (k − 1) × ENTRY_WORDS
 * ```
 *
 * An entry: session (stored last by the replica: the entry is complete once it equals the
 * session on), side (0 inside, 1 outside), the frame's length, left (the session once the
 * frame left the chain through a replica's port), the time it entered (Unix ms, float64),
 * and the frame's first `ENTRY_BYTES` bytes (the host formats the packet line from them).
 */
import { MAX_FILTER_LENGTH } from '../capture/packet-filter.ts';

/** Header words before the filter text. */
export const INGRESS_HEADER_WORDS = 4;
/** Most packets one session of the block traces (a trace asks for at most `MAX_TRACE_COUNT`). */
export const INGRESS_TRACE_ENTRIES = 1000;
/** Frame bytes an entry keeps. */
export const ENTRY_BYTES = 128;
/** Words of one entry: session, side, length, left, time (2 words), the frame's first bytes. */
export const ENTRY_WORDS = 6 + ENTRY_BYTES / 4;
/** Word of the filter text. */
export const FILTER_AT = INGRESS_HEADER_WORDS;
/** Word of the first entry: after room for `MAX_FILTER_LENGTH` code units, rounded to an even word (an entry's time is a float64). */
export const ENTRIES_AT = FILTER_AT + Math.ceil(MAX_FILTER_LENGTH / 4) * 2;
/** Bytes of a chain's ingress trace block. */
export const INGRESS_TRACE_BYTES = (ENTRIES_AT + INGRESS_TRACE_ENTRIES * ENTRY_WORDS) * 4;

/** Header word indices. */
export const IngressWord = {
  SESSION: 0,
  COUNT: 1,
  CLAIMED: 2,
  FILTER_LENGTH: 3,
} as const;

/** Entry word indices. */
export const EntryWord = {
  SESSION: 0,
  SIDE: 1,
  LENGTH: 2,
  LEFT: 3,
  /** Float64 (two words). */
  TIME: 4,
  BYTES: 6,
} as const;

if (ENTRIES_AT % 2 !== 0 || ENTRY_WORDS % 2 !== 0) throw new RangeError('ingress trace layout: entries not 8-byte aligned');
