import { CaptureFormatError } from '../errors/catalog.ts';
import type { CaptureFileInfo, CaptureInterface } from './capture-file-info.ts';
import type { CaptureReader, CaptureReadOptions, TruncationPolicy } from './capture-reader.ts';
import { createCaptureRecord, type CaptureRecord } from './capture-record.ts';
import { splitTimestamp } from './capture-timestamp.ts';
import { PcapngFormat as F } from './pcap-format.ts';

const BOM_SWAPPED = 0x4d3c2b1a;
const UTF8 = new TextDecoder('utf-8');

/**
 * Reader for pcapng files: Section Header Blocks in either byte order (each section keeps
 * its own), Interface Description Blocks (per-interface link type, snaplen, `if_tsresol`,
 * `if_tsoffset`, `if_fcslen`, `if_name`), Enhanced, Simple and obsolete Packet Blocks.
 * Every other block (statistics, name resolution, decryption secrets, custom) is skipped.
 *
 * Leading non-packet blocks are read by the constructor, so `info.interfaces` is filled
 * for the usual SHB, IDB…, packets layout before the first `next()`.
 *
 * @example
 * ```ts
 * const reader = new PcapngReader(readFileSync('trace.pcapng'));
 * for (const rec of reader) console.log(rec.interfaceId, rec.linkType, rec.caplen);
 * ```
 */
export class PcapngReader implements CaptureReader {
  readonly info: CaptureFileInfo;
  readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly policy: TruncationPolicy;
  private readonly interfaces: CaptureInterface[] = [];
  private le = true;
  private cursor = 0;
  private index = 0;
  private cutAt = -1;
  private pending: CaptureRecord | null = null;
  private deferred: unknown = null;

  constructor(bytes: Uint8Array, options: CaptureReadOptions = {}) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.policy = options.truncated ?? 'throw';
    if (bytes.byteLength < F.MIN_SHB_LEN) {
      throw new CaptureFormatError(`pcapng: file is ${bytes.byteLength} bytes, shorter than a section header block`);
    }
    if (this.view.getUint32(0, true) !== F.BLOCK_SHB) {
      throw new CaptureFormatError('pcapng: file does not start with a section header block');
    }
    this.info = {
      format: 'pcapng',
      littleEndian: true,
      versionMajor: 0,
      versionMinor: 0,
      linkType: -1,
      snaplen: 0,
      interfaces: this.interfaces,
      rawLinkTypeField: -1,
      thiszone: 0,
      sigfigs: 0,
    };
    this.readSectionHeader(0);
    this.info.littleEndian = this.le;
    this.info.versionMajor = this.view.getUint16(12, this.le);
    this.info.versionMinor = this.view.getUint16(14, this.le);
    // Read ahead to the first packet so the interfaces are known; keep that packet.
    // A bad or cut-off first packet is reported by the first next(), not by the constructor.
    const first = createCaptureRecord();
    try {
      if (this.step(first)) this.pending = first;
    } catch (err) {
      this.deferred = err;
    }
  }

  get truncatedAt(): number {
    return this.cutAt;
  }

  next(into: CaptureRecord): boolean {
    if (this.deferred !== null) {
      const err = this.deferred;
      this.deferred = null;
      throw err;
    }
    const held = this.pending;
    if (held !== null) {
      this.pending = null;
      Object.assign(into, held);
      return true;
    }
    return this.step(into);
  }

  *[Symbol.iterator](): Iterator<CaptureRecord> {
    for (;;) {
      const rec = createCaptureRecord();
      if (!this.next(rec)) return;
      yield rec;
    }
  }

  /** Walks blocks from the cursor until one packet record is filled (true) or the file ends. */
  private step(into: CaptureRecord): boolean {
    const size = this.bytes.byteLength;
    const v = this.view;
    while (this.cursor < size) {
      const at = this.cursor;
      if (size - at < 8) return this.cut(at, `file ends inside a block header (${size - at} bytes left)`);
      const type = v.getUint32(at, this.le);
      if (type === F.BLOCK_SHB) {
        if (size - at < 12) return this.cut(at, 'file ends inside a section header block');
        this.readSectionHeader(at);
        continue;
      }
      const total = v.getUint32(at + 4, this.le);
      if (total < F.MIN_BLOCK_LEN || total % 4 !== 0) {
        throw new CaptureFormatError(`pcapng: block at byte ${at} (type 0x${type.toString(16)}) has bad length ${total}`);
      }
      if (total > size - at) {
        if (this.policy === 'flag' && this.partialPacket(at, type, into)) return true;
        return this.cut(at, `block of ${total} bytes runs past the end of the file (${size - at} left)`);
      }
      if (v.getUint32(at + total - 4, this.le) !== total) {
        throw new CaptureFormatError(`pcapng: block at byte ${at}: trailing length differs from leading length ${total}`);
      }
      this.cursor = at + total;
      if (type === F.BLOCK_EPB || type === F.BLOCK_PB) {
        this.packet(at, total, type, into, false);
        return true;
      }
      if (type === F.BLOCK_SPB) {
        this.simplePacket(at, total, into, false);
        return true;
      }
      if (type === F.BLOCK_IDB) this.readInterface(at, total);
    }
    return false;
  }

  /** Records a file cut off at `at`; throws or ends the iteration per the policy. */
  private cut(at: number, why: string): false {
    this.cutAt = at;
    this.cursor = this.bytes.byteLength;
    if (this.policy === 'flag') return false;
    throw new CaptureFormatError(`pcapng: record ${this.index} at byte ${at}: ${why}`);
  }

  /** Flag policy: returns a packet block cut by the end of the file, if its fixed fields are all there. */
  private partialPacket(at: number, type: number, into: CaptureRecord): boolean {
    const left = this.bytes.byteLength - at;
    if ((type === F.BLOCK_EPB || type === F.BLOCK_PB) && left >= 28) {
      this.cutAt = at;
      this.cursor = this.bytes.byteLength;
      this.packet(at, left, type, into, true);
      return true;
    }
    if (type === F.BLOCK_SPB && left >= 12) {
      this.cutAt = at;
      this.cursor = this.bytes.byteLength;
      this.simplePacket(at, left, into, true);
      return true;
    }
    return false;
  }

  private readSectionHeader(at: number): void {
    const v = this.view;
    const bom = v.getUint32(at + 8, true);
    if (bom === F.BYTE_ORDER_MAGIC) this.le = true;
    else if (bom === BOM_SWAPPED) this.le = false;
    else throw new CaptureFormatError(`pcapng: section header at byte ${at} has bad byte-order magic 0x${bom.toString(16)}`);
    const size = this.bytes.byteLength;
    if (size - at < F.MIN_SHB_LEN) {
      this.cut(at, 'file ends inside a section header block');
      return;
    }
    const total = v.getUint32(at + 4, this.le);
    if (total < F.MIN_SHB_LEN || total % 4 !== 0) {
      throw new CaptureFormatError(`pcapng: section header at byte ${at} has bad length ${total}`);
    }
    if (total > size - at) {
      this.cut(at, `section header of ${total} bytes runs past the end of the file`);
      return;
    }
    if (v.getUint32(at + total - 4, this.le) !== total) {
      throw new CaptureFormatError(`pcapng: section header at byte ${at}: trailing length differs from ${total}`);
    }
    const major = v.getUint16(at + 12, this.le);
    if (major !== 1) {
      throw new CaptureFormatError(`pcapng: unsupported version ${major}.${v.getUint16(at + 14, this.le)} (expected 1.x)`);
    }
    this.interfaces.length = 0;
    this.cursor = at + total;
  }

  private readInterface(at: number, total: number): void {
    const v = this.view;
    const le = this.le;
    if (total < 20) throw new CaptureFormatError(`pcapng: interface block at byte ${at} is too short (${total})`);
    const iface: CaptureInterface = {
      linkType: v.getUint16(at + 8, le),
      snaplen: v.getUint32(at + 12, le),
      tsUnitsPerSecond: 1e6,
      tsOffsetSec: 0,
      fcsLength: -1,
      name: '',
    };
    const end = at + total - 4;
    let o = at + 16;
    while (o + 4 <= end) {
      const code = v.getUint16(o, le);
      const len = v.getUint16(o + 2, le);
      const value = o + 4;
      if (code === F.OPT_END) break;
      if (value + len > end) {
        throw new CaptureFormatError(`pcapng: interface block at byte ${at}: option ${code} runs past the block`);
      }
      if (code === F.OPT_IF_TSRESOL && len >= 1) iface.tsUnitsPerSecond = tsResolution(v.getUint8(value), at);
      else if (code === F.OPT_IF_TSOFFSET && len >= 8) iface.tsOffsetSec = Number(v.getBigInt64(value, le));
      else if (code === F.OPT_IF_FCSLEN && len >= 1) iface.fcsLength = v.getUint8(value);
      else if (code === F.OPT_IF_NAME) iface.name = UTF8.decode(this.bytes.subarray(value, value + len));
      o = value + ((len + 3) & ~3);
    }
    this.interfaces.push(iface);
    if (this.info.linkType === -1) {
      this.info.linkType = iface.linkType;
      this.info.snaplen = iface.snaplen;
    }
  }

  /** Enhanced (type 6) or obsolete (type 2) Packet Block; `avail` is the block length or, when cut, the bytes left. */
  private packet(at: number, avail: number, type: number, into: CaptureRecord, cut: boolean): void {
    const v = this.view;
    const le = this.le;
    if (!cut && avail < 32) throw new CaptureFormatError(`pcapng: packet block at byte ${at} is too short (${avail})`);
    const ifaceId = type === F.BLOCK_EPB ? v.getUint32(at + 8, le) : v.getUint16(at + 8, le);
    const iface = this.iface(ifaceId, at);
    const caplen = v.getUint32(at + 20, le);
    let present = caplen;
    if (cut) present = Math.min(caplen, avail - 28);
    else if (caplen > avail - 32) {
      throw new CaptureFormatError(`pcapng: packet block at byte ${at}: caplen ${caplen} exceeds the block's ${avail - 32} data bytes`);
    }
    splitTimestamp(v.getUint32(at + 12, le), v.getUint32(at + 16, le), iface.tsUnitsPerSecond, into);
    into.tsSec += iface.tsOffsetSec;
    this.fill(into, at + 28, present, v.getUint32(at + 24, le), iface, ifaceId, cut);
  }

  /** Simple Packet Block: no timestamp, interface 0, captured length derived from the block. */
  private simplePacket(at: number, avail: number, into: CaptureRecord, cut: boolean): void {
    if (!cut && avail < 16) throw new CaptureFormatError(`pcapng: simple packet block at byte ${at} is too short (${avail})`);
    const iface = this.iface(0, at);
    const origLen = this.view.getUint32(at + 8, this.le);
    let caplen = Math.min(origLen, cut ? avail - 12 : avail - 16);
    if (iface.snaplen !== 0 && caplen > iface.snaplen) caplen = iface.snaplen;
    into.tsSec = 0;
    into.tsNsec = 0;
    this.fill(into, at + 12, caplen, origLen, iface, 0, cut);
  }

  private fill(
    into: CaptureRecord,
    dataAt: number,
    caplen: number,
    origLen: number,
    iface: CaptureInterface,
    ifaceId: number,
    cut: boolean,
  ): void {
    into.index = this.index++;
    into.caplen = caplen;
    into.origLen = origLen;
    into.offset = dataAt;
    into.data = this.bytes.subarray(dataAt, dataAt + caplen);
    into.linkType = iface.linkType;
    into.interfaceId = ifaceId;
    into.truncated = cut;
  }

  private iface(id: number, at: number): CaptureInterface {
    const iface = this.interfaces[id];
    if (iface === undefined) {
      throw new CaptureFormatError(
        `pcapng: packet block at byte ${at} names interface ${id}, but the section has ${this.interfaces.length}`,
      );
    }
    return iface;
  }
}

/** Units per second from an `if_tsresol` byte: 10^-n, or 2^-n when the top bit is set. */
function tsResolution(raw: number, at: number): number {
  const exp = raw & 0x7f;
  if ((raw & 0x80) !== 0) {
    if (exp > 63) throw new CaptureFormatError(`pcapng: interface block at byte ${at}: if_tsresol 2^-${exp} unsupported`);
    return 2 ** exp;
  }
  if (exp > 22) throw new CaptureFormatError(`pcapng: interface block at byte ${at}: if_tsresol 10^-${exp} unsupported`);
  // Parsed, not computed, so that every power up to 1e22 is exact.
  return Number(`1e${exp}`);
}
