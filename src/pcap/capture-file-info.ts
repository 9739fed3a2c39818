/**
 * What a capture file says about itself, besides its records.
 *
 * @example
 * ```ts
 * const { format, littleEndian, linkType } = openCapture(bytes).info;
 * ```
 */
export interface CaptureFileInfo {
  /** `pcap` (libpcap classic format) or `pcapng`. */
  format: 'pcap' | 'pcapng';
  /** Byte order of the file (pcapng: of the first section). */
  littleEndian: boolean;
  /** Format version (pcap: 2.4; pcapng: 1.0). */
  versionMajor: number;
  versionMinor: number;
  /**
   * Link type of the file (pcap) or of the first interface (pcapng; -1 when the file
   * describes no interface before its first packet).
   */
  linkType: number;
  /** Snapshot length from the header or the first interface (0 = unlimited in pcapng). */
  snaplen: number;
  /**
   * Interfaces of the current section, in id order. Classic pcap has exactly one. For
   * pcapng the array grows while reading when Interface Description Blocks follow packets.
   */
  interfaces: CaptureInterface[];
  /** Classic pcap only: the raw 32-bit link-type field (upper bits carry FCS flags). */
  rawLinkTypeField: number;
  /** Classic pcap only: the `thiszone` and `sigfigs` header fields (ignored for timestamps). */
  thiszone: number;
  sigfigs: number;
}

/**
 * An interface a capture was taken on: classic pcap's global header, or one pcapng
 * Interface Description Block.
 */
export interface CaptureInterface {
  /** Link-layer header type (low 16 bits of the pcap header field). */
  linkType: number;
  /** Snapshot length (0 = unlimited in pcapng). */
  snaplen: number;
  /** Timestamp units per second: 1e6 (pcap µs, pcapng default), 1e9 (ns), or 2^n. */
  tsUnitsPerSecond: number;
  /** Seconds added to every timestamp (pcapng `if_tsoffset`; 0 otherwise). */
  tsOffsetSec: number;
  /** Bytes of frame check sequence at the end of each packet, -1 when unknown. */
  fcsLength: number;
  /** pcapng `if_name`, or '' when absent. */
  name: string;
}
