/**
 * Capture file I/O: readers for classic pcap and pcapng, a classic pcap writer.
 *
 * @example
 * ```ts
 * import { openCapture, PcapWriter } from '../pcap/index.ts';
 * const reader = openCapture(bytes);
 * const out = new PcapWriter();
 * for (const rec of reader) out.write(rec.data, rec.tsSec, rec.tsNsec, rec.origLen);
 * ```
 */
export type { CaptureFileInfo, CaptureInterface } from './capture-file-info.ts';
export type { CaptureReader, CaptureReadOptions, TruncationPolicy } from './capture-reader.ts';
export { createCaptureRecord, type CaptureRecord } from './capture-record.ts';
export { splitTimestamp } from './capture-timestamp.ts';
export { LinkType, type LinkTypeValue } from './link-type.ts';
export { openCapture } from './open-capture.ts';
export { PcapFormat, PcapngFormat } from './pcap-format.ts';
export { PcapReader } from './pcap-reader.ts';
export { PcapWriter, type PcapWriterOptions } from './pcap-writer.ts';
export { PcapngReader } from './pcapng-reader.ts';
