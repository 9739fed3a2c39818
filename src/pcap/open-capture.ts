import { CaptureFormatError } from '../errors/catalog.ts';
import type { CaptureReader, CaptureReadOptions } from './capture-reader.ts';
import { PcapFormat, PcapngFormat } from './pcap-format.ts';
import { PcapReader } from './pcap-reader.ts';
import { PcapngReader } from './pcapng-reader.ts';

/**
 * Opens a capture file held in memory, choosing the pcap or pcapng reader from its first
 * four bytes. Throws `CaptureFormatError` for anything else.
 *
 * @example
 * ```ts
 * const reader = openCapture(readFileSync('test/fixtures/pcap/tcp-http.pcap'));
 * const rec = createCaptureRecord();
 * while (reader.next(rec)) tally(parseFrame(reader.view, rec.offset, rec.caplen, layout));
 * ```
 */
export function openCapture(bytes: Uint8Array, options: CaptureReadOptions = {}): CaptureReader {
  if (bytes.byteLength < 4) {
    throw new CaptureFormatError(`capture: file is ${bytes.byteLength} bytes, too short to hold a magic number`);
  }
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (magic === PcapngFormat.BLOCK_SHB) return new PcapngReader(bytes, options);
  switch (magic) {
    case PcapFormat.MAGIC_MICRO_LE:
    case PcapFormat.MAGIC_MICRO_BE:
    case PcapFormat.MAGIC_NANO_LE:
    case PcapFormat.MAGIC_NANO_BE:
    case PcapFormat.MAGIC_MODIFIED_LE:
    case PcapFormat.MAGIC_MODIFIED_BE:
      return new PcapReader(bytes, options);
    default:
      throw new CaptureFormatError(`capture: unknown magic 0x${magic.toString(16).padStart(8, '0')} (neither pcap nor pcapng)`);
  }
}
