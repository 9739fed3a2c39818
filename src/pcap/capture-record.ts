/**
 * One packet record of a capture file, as the readers hand it out. The same object can be
 * refilled record after record with `reader.next(record)`, so a replay loop allocates
 * nothing but the `data` view.
 *
 * Lengths are reported as the file states them: `caplen > origLen`, `origLen === 0` or
 * `caplen > snaplen` are read, not rejected (fuzzed and buggy captures have them).
 *
 * @example
 * ```ts
 * const rec = createCaptureRecord();
 * while (reader.next(rec)) parseFrame(reader.view, rec.offset, rec.caplen, layout);
 * ```
 */
export interface CaptureRecord {
  /** 0-based position of the record among the file's packet records. */
  index: number;
  /** Timestamp, whole seconds since the Unix epoch (pcapng `if_tsoffset` applied). */
  tsSec: number;
  /** Timestamp, nanoseconds within the second (0 … 999 999 999). */
  tsNsec: number;
  /** Bytes captured, i.e. `data.length`. */
  caplen: number;
  /** Length of the packet on the wire (may be 0 or smaller than `caplen` in bad files). */
  origLen: number;
  /** Byte offset of the packet's first byte in the file (and in `reader.view`). */
  offset: number;
  /** The captured bytes: a view into the file buffer, not a copy. */
  data: Uint8Array;
  /** Link-layer header type of the record's interface (see `LinkType`). */
  linkType: number;
  /** pcapng interface id within the current section; 0 for classic pcap. */
  interfaceId: number;
  /** True when the file ended inside this record and `data` holds only what was present. */
  truncated: boolean;
}

const EMPTY = new Uint8Array(0);

/** A blank record to pass to `CaptureReader.next`. */
export function createCaptureRecord(): CaptureRecord {
  return {
    index: -1,
    tsSec: 0,
    tsNsec: 0,
    caplen: 0,
    origLen: 0,
    offset: 0,
    data: EMPTY,
    linkType: 0,
    interfaceId: 0,
    truncated: false,
  };
}
