import { CaptureFormatError } from '../errors/catalog.ts';
import type { CaptureFileInfo, CaptureInterface } from './capture-file-info.ts';
import type { CaptureReader, CaptureReadOptions, TruncationPolicy } from './capture-reader.ts';
import { createCaptureRecord, type CaptureRecord } from './capture-record.ts';
import { PcapFormat } from './pcap-format.ts';

/**
 * Reader for classic libpcap files: both byte orders, microsecond and nanosecond magics.
 *
 * Only the low 16 bits of the header's link-type field are the link type (the upper bits
 * carry FCS information), so `0x30000001` and `0x04000001` read as Ethernet. Record
 * lengths are reported as written, however odd (`caplen > snaplen`, `caplen > len`,
 * `len == 0`); only the file's own end bounds a record.
 *
 * @example
 * ```ts
 * const reader = new PcapReader(readFileSync('trace.pcap'));
 * const rec = createCaptureRecord();
 * while (reader.next(rec)) handle(rec.data, rec.tsSec, rec.tsNsec);
 * ```
 */
export class PcapReader implements CaptureReader {
  readonly info: CaptureFileInfo;
  readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly le: boolean;
  private readonly tsUnitsPerSecond: number;
  private readonly linkType: number;
  private readonly policy: TruncationPolicy;
  private cursor: number = PcapFormat.FILE_HEADER_LEN;
  private index = 0;
  private cutAt = -1;

  constructor(bytes: Uint8Array, options: CaptureReadOptions = {}) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.policy = options.truncated ?? 'throw';
    if (bytes.byteLength < PcapFormat.FILE_HEADER_LEN) {
      throw new CaptureFormatError(`pcap: file is ${bytes.byteLength} bytes, shorter than the 24-byte global header`);
    }
    const magic = this.view.getUint32(0, true);
    let nano: boolean;
    if (magic === PcapFormat.MAGIC_MICRO_LE || magic === PcapFormat.MAGIC_MICRO_BE) nano = false;
    else if (magic === PcapFormat.MAGIC_NANO_LE || magic === PcapFormat.MAGIC_NANO_BE) nano = true;
    else if (magic === PcapFormat.MAGIC_MODIFIED_LE || magic === PcapFormat.MAGIC_MODIFIED_BE) {
      throw new CaptureFormatError('pcap: modified (Kuznetzov) pcap format is not supported');
    } else {
      throw new CaptureFormatError(`pcap: bad magic 0x${magic.toString(16).padStart(8, '0')}`);
    }
    this.le = magic === PcapFormat.MAGIC_MICRO_LE || magic === PcapFormat.MAGIC_NANO_LE;
    this.tsUnitsPerSecond = nano ? 1e9 : 1e6;
    const v = this.view;
    const versionMajor = v.getUint16(4, this.le);
    const versionMinor = v.getUint16(6, this.le);
    if (versionMajor !== 2) {
      throw new CaptureFormatError(`pcap: unsupported version ${versionMajor}.${versionMinor} (expected 2.x)`);
    }
    const snaplen = v.getUint32(16, this.le);
    const rawLinkTypeField = v.getUint32(20, this.le);
    this.linkType = rawLinkTypeField & PcapFormat.LINKTYPE_MASK;
    const fcsLength = (rawLinkTypeField & PcapFormat.FCS_PRESENT_BIT) !== 0 ? (rawLinkTypeField >>> 28) * 2 : -1;
    const iface: CaptureInterface = {
      linkType: this.linkType,
      snaplen,
      tsUnitsPerSecond: this.tsUnitsPerSecond,
      tsOffsetSec: 0,
      fcsLength,
      name: '',
    };
    this.info = {
      format: 'pcap',
      littleEndian: this.le,
      versionMajor,
      versionMinor,
      linkType: this.linkType,
      snaplen,
      interfaces: [iface],
      rawLinkTypeField,
      thiszone: v.getInt32(8, this.le),
      sigfigs: v.getUint32(12, this.le),
    };
  }

  get truncatedAt(): number {
    return this.cutAt;
  }

  next(into: CaptureRecord): boolean {
    const at = this.cursor;
    const size = this.bytes.byteLength;
    if (at >= size) return false;
    const v = this.view;
    const le = this.le;
    if (size - at < PcapFormat.RECORD_HEADER_LEN) {
      this.cutAt = at;
      this.cursor = size;
      if (this.policy === 'flag') return false;
      throw new CaptureFormatError(
        `pcap: record ${this.index} at byte ${at}: file ends inside the record header (${size - at} of 16 bytes)`,
      );
    }
    const caplen = v.getUint32(at + 8, le);
    const dataAt = at + PcapFormat.RECORD_HEADER_LEN;
    let present = caplen;
    let truncated = false;
    if (caplen > size - dataAt) {
      this.cutAt = at;
      if (this.policy !== 'flag') {
        this.cursor = size;
        throw new CaptureFormatError(
          `pcap: record ${this.index} at byte ${at}: caplen ${caplen} but only ${size - dataAt} bytes left in the file`,
        );
      }
      present = size - dataAt;
      truncated = true;
    }
    let sec = v.getUint32(at, le);
    let frac = v.getUint32(at + 4, le);
    if (frac >= this.tsUnitsPerSecond) {
      // Fuzzed files put anything here: carry whole seconds so tsNsec stays in range.
      const carry = Math.floor(frac / this.tsUnitsPerSecond);
      sec += carry;
      frac -= carry * this.tsUnitsPerSecond;
    }
    into.index = this.index++;
    into.tsSec = sec;
    into.tsNsec = this.tsUnitsPerSecond === 1e9 ? frac : frac * 1000;
    into.caplen = present;
    into.origLen = v.getUint32(at + 12, le);
    into.offset = dataAt;
    into.data = this.bytes.subarray(dataAt, dataAt + present);
    into.linkType = this.linkType;
    into.interfaceId = 0;
    into.truncated = truncated;
    this.cursor = dataAt + present;
    return true;
  }

  *[Symbol.iterator](): Iterator<CaptureRecord> {
    for (;;) {
      const rec = createCaptureRecord();
      if (!this.next(rec)) return;
      yield rec;
    }
  }
}
