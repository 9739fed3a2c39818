import type { CaptureFileInfo } from './capture-file-info.ts';
import type { CaptureRecord } from './capture-record.ts';

/**
 * How a reader treats a file that ends inside a record (a capture that was cut off).
 * - `throw` (default): `next()` throws `CaptureFormatError` naming the record and offset.
 * - `flag`: a record whose header is complete is returned with `truncated: true` and the
 *   bytes that are present; an incomplete header ends the iteration. Either way
 *   `reader.truncatedAt` gives the file offset where the incomplete record starts.
 */
export type TruncationPolicy = 'throw' | 'flag';

/** Options shared by the pcap and pcapng readers. */
export interface CaptureReadOptions {
  truncated?: TruncationPolicy;
}

/**
 * A forward-only reader over the packet records of one capture file held in memory. The
 * records' `data` are views into the caller's buffer; keep the buffer alive and unchanged
 * while using them. Every problem with the file is a `CaptureFormatError`.
 *
 * @example
 * ```ts
 * const reader = openCapture(readFileSync('trace.pcap'));
 * for (const rec of reader) console.log(rec.tsSec, rec.caplen, rec.origLen);
 * ```
 */
export interface CaptureReader extends Iterable<CaptureRecord> {
  /** File-level facts (format, byte order, link type, interfaces). */
  readonly info: CaptureFileInfo;
  /** A DataView over the whole file; `record.offset` indexes into it. */
  readonly view: DataView;
  /** File offset of a record cut off by the end of the file, or -1. */
  readonly truncatedAt: number;
  /**
   * Fills `into` with the next packet record and returns true, or returns false at the
   * end of the file. Allocates only the `data` view.
   */
  next(into: CaptureRecord): boolean;
}
