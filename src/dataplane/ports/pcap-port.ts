import { CaptureFormatError } from '../../errors/catalog.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import { createCaptureRecord, type CaptureRecord } from '../../pcap/capture-record.ts';
import type { CaptureReader } from '../../pcap/capture-reader.ts';
import { LinkType } from '../../pcap/link-type.ts';
import { openCapture } from '../../pcap/open-capture.ts';
import { PcapWriter, type PcapWriterOptions } from '../../pcap/pcap-writer.ts';
import type { ChainPort } from '../chain-port.ts';

/**
 * Replays the Ethernet records of a capture file (pcap or pcapng, held in memory) into a
 * chain: one `copyIn` per record. Records of another link type, cut-off records and
 * records larger than a pool buffer are skipped and counted. A damaged record (a block
 * whose lengths do not add up) ends the replay there and sets `damaged`; the packet path
 * never throws.
 *
 * @example
 * ```ts
 * const src = new PcapInPort(readFileSync('trace.pcap'));
 * await chain.run(src, out, () => src.done && out.frames + chain.dropped() >= src.sent);
 * ```
 */
export class PcapInPort implements ChainPort {
  /** Frames put into the pool. */
  sent = 0;
  /** Records skipped: not Ethernet, truncated, or too large for a buffer. */
  skipped = 0;
  /** Frames that left the chain at this end (freed). */
  received = 0;
  /** True when the replay stopped early at a damaged record. */
  damaged = false;
  private readonly reader: CaptureReader;
  private readonly record: CaptureRecord = createCaptureRecord();
  private pending = false;
  private ended = false;

  constructor(bytes: Uint8Array) {
    this.reader = openCapture(bytes, { truncated: 'flag' });
  }

  /** True when the file has been read to its end. */
  get done(): boolean {
    return this.ended && !this.pending;
  }

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    let n = 0;
    const rec = this.record;
    while (n < max) {
      if (!this.pending) {
        if (this.ended || !this.nextRecord(rec)) {
          this.ended = true;
          break;
        }
        this.pending = true;
      }
      if (rec.linkType !== LinkType.ETHERNET || rec.truncated || rec.caplen === 0) {
        this.skipped++;
        this.pending = false;
        continue;
      }
      if (pool.allocBatch(ids.subarray(n, n + 1), 1) === 0) break;
      if (!pool.copyIn(ids[n], rec.data, 0, rec.caplen)) {
        pool.free(ids[n]);
        this.skipped++;
      } else n++;
      this.pending = false;
    }
    this.sent += n;
    return n;
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    this.received += n;
    pool.freeBatch(ids, n);
  }

  private nextRecord(rec: CaptureRecord): boolean {
    try {
      return this.reader.next(rec);
    } catch (err) {
      if (!(err instanceof CaptureFormatError)) throw err;
      this.damaged = true;
      return false;
    }
  }
}

/**
 * Writes every frame that leaves the chain at this end to a pcap file held in memory
 * (`PcapWriter`; one `copyOut` per frame into a scratch buffer, the one copy out), then
 * frees the buffers. Timestamps are the host's wall clock at the moment the frame left.
 *
 * @example
 * ```ts
 * const out = new PcapOutPort();
 * …
 * writeFileSync('out.pcap', out.writer.bytes());
 * ```
 */
export class PcapOutPort implements ChainPort {
  readonly writer: PcapWriter;
  frames = 0;
  private readonly scratch = new Uint8Array(65536);

  constructor(options: PcapWriterOptions = {}) {
    this.writer = new PcapWriter(options);
  }

  fill(): number {
    return 0;
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    const nowMs = Date.now();
    const sec = Math.floor(nowMs / 1000);
    const nsec = (nowMs % 1000) * 1_000_000;
    for (let i = 0; i < n; i++) {
      const len = pool.copyOut(ids[i], this.scratch, 0);
      if (len >= 0) this.writer.write(this.scratch.subarray(0, len), sec, nsec);
    }
    this.frames += n;
    pool.freeBatch(ids, n);
  }
}
