import { InvalidArgumentError } from '../errors/catalog.ts';
import { LinkType } from './link-type.ts';
import { PcapFormat } from './pcap-format.ts';

/** Options of a `PcapWriter`. */
export interface PcapWriterOptions {
  /** Link type of every record (default Ethernet). */
  linkType?: number;
  /** Snapshot length: longer packets are cut to it, keeping their original length (default 262144). */
  snaplen?: number;
  /** Timestamp resolution of the file (default `micro`). */
  resolution?: 'micro' | 'nano';
  /** Initial buffer size in bytes; the buffer doubles as needed (default 64 KiB). */
  initialCapacity?: number;
}

/**
 * Writes a classic little-endian pcap file (version 2.4) into a growing in-memory buffer:
 * for capture ports and tests. `bytes()` views everything written so far; `drain()` hands
 * out the unsent part (header first) and empties the buffer, for streaming to a file.
 *
 * @example
 * ```ts
 * const w = new PcapWriter({ resolution: 'nano' });
 * w.write(frame, 1_700_000_000, 123_456_789);
 * writeFileSync('out.pcap', w.bytes());
 * ```
 */
export class PcapWriter {
  /** Link type written in the header. */
  readonly linkType: number;
  readonly snaplen: number;
  readonly nano: boolean;
  private buf: Uint8Array;
  private view: DataView;
  private used = 0;
  private count = 0;

  constructor(options: PcapWriterOptions = {}) {
    this.linkType = options.linkType ?? LinkType.ETHERNET;
    this.snaplen = options.snaplen ?? 262144;
    this.nano = (options.resolution ?? 'micro') === 'nano';
    if (!Number.isInteger(this.linkType) || this.linkType < 0 || this.linkType > 0xffff) {
      throw new InvalidArgumentError(`pcap writer: link type ${this.linkType} is not a 16-bit value`);
    }
    if (!Number.isInteger(this.snaplen) || this.snaplen < 1 || this.snaplen > 0xffffffff) {
      throw new InvalidArgumentError(`pcap writer: snaplen ${this.snaplen} must be a positive 32-bit integer`);
    }
    const cap = Math.max(options.initialCapacity ?? 65536, PcapFormat.FILE_HEADER_LEN);
    this.buf = new Uint8Array(cap);
    this.view = new DataView(this.buf.buffer);
    const v = this.view;
    v.setUint32(0, this.nano ? PcapFormat.MAGIC_NANO_LE : PcapFormat.MAGIC_MICRO_LE, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, this.snaplen, true);
    v.setUint32(20, this.linkType, true);
    this.used = PcapFormat.FILE_HEADER_LEN;
  }

  /** Records written so far. */
  get records(): number {
    return this.count;
  }

  /**
   * Appends one record. `tsNsec` is nanoseconds within the second (rounded down to
   * microseconds in a `micro` file); `origLen` defaults to the packet's length.
   */
  write(data: Uint8Array, tsSec = 0, tsNsec = 0, origLen: number = data.byteLength): void {
    if (!Number.isInteger(tsSec) || tsSec < 0 || tsSec > 0xffffffff) {
      throw new InvalidArgumentError(`pcap writer: timestamp seconds ${tsSec} out of 32-bit range`);
    }
    if (!Number.isInteger(tsNsec) || tsNsec < 0 || tsNsec > 999_999_999) {
      throw new InvalidArgumentError(`pcap writer: timestamp nanoseconds ${tsNsec} out of range`);
    }
    if (!Number.isInteger(origLen) || origLen < 0 || origLen > 0xffffffff) {
      throw new InvalidArgumentError(`pcap writer: original length ${origLen} out of 32-bit range`);
    }
    const caplen = Math.min(data.byteLength, this.snaplen);
    this.reserve(PcapFormat.RECORD_HEADER_LEN + caplen);
    const v = this.view;
    const at = this.used;
    v.setUint32(at, tsSec, true);
    v.setUint32(at + 4, this.nano ? tsNsec : Math.floor(tsNsec / 1000), true);
    v.setUint32(at + 8, caplen, true);
    v.setUint32(at + 12, origLen, true);
    this.buf.set(caplen === data.byteLength ? data : data.subarray(0, caplen), at + PcapFormat.RECORD_HEADER_LEN);
    this.used = at + PcapFormat.RECORD_HEADER_LEN + caplen;
    this.count++;
  }

  /** A view of the file as written so far (since the last `drain()`); valid until the next write. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.used);
  }

  /** Returns a copy of the bytes not yet drained and empties the buffer. */
  drain(): Uint8Array {
    const out = this.buf.slice(0, this.used);
    this.used = 0;
    return out;
  }

  private reserve(extra: number): void {
    const need = this.used + extra;
    if (need <= this.buf.byteLength) return;
    let cap = this.buf.byteLength * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.used));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}
