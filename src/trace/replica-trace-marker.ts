/**
 * The host side of a trace session on a chain whose ends run in its replicas: a
 * `TraceMarker` whose packets are marked by the replicas' own ports (`IngressMarker`)
 * rather than by the host. `arm` publishes the session, its count and its filter text in
 * the chain's ingress trace block (`ingress-trace-layout.ts`); `sync` brings in the
 * entries the replicas completed (in seq order: `issued` counts the complete ones from
 * seq 1 on) and which of those packets left the chain; `disarm` ends the session there.
 * Every entry is checked before it is used: its session, side and length.
 *
 * @example
 * ```ts
 * const marker = dataPlane.startTrace((s) => new ReplicaTraceMarker(s, compileFilter(text), text, 1, block));
 * marker.arm();
 * marker.sync(); // in each poll
 * ```
 */
import { FrameTuple, formatFrameTuple, readFrameTuple } from '../capture/frame-tuple.ts';
import { MAX_FILTER_LENGTH, type PacketFilter } from '../capture/packet-filter.ts';
import { InvalidArgumentError, SharedLayoutError } from '../errors/catalog.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import { ENTRIES_AT, ENTRY_BYTES, ENTRY_WORDS, EntryWord, FILTER_AT, INGRESS_TRACE_BYTES, INGRESS_TRACE_ENTRIES, IngressWord } from './ingress-trace-layout.ts';
import { TraceMarker } from './trace-marker.ts';

export class ReplicaTraceMarker extends TraceMarker {
  private readonly words: Int32Array;
  private readonly times: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly frame: DataView;
  private readonly entryTuple = new FrameTuple();
  /** Entries checked so far that did not check out (counted once each). */
  rejected = 0;

  /**
   * @param filterText the text `filter` was compiled from (the replicas compile it again)
   * @param block the chain's ingress trace block (`INGRESS_TRACE_BYTES`)
   */
  constructor(
    session: number,
    filter: PacketFilter,
    private readonly filterText: string,
    count: number,
    block: SharedArrayBuffer,
  ) {
    super(session, filter, count);
    if (count > INGRESS_TRACE_ENTRIES) throw new InvalidArgumentError(`trace count ${count} above ${INGRESS_TRACE_ENTRIES} for ends in the replicas`);
    if (filterText.length > MAX_FILTER_LENGTH) throw new InvalidArgumentError(`trace filter longer than ${MAX_FILTER_LENGTH} characters`);
    if (block.byteLength < INGRESS_TRACE_BYTES) throw new SharedLayoutError(`ingress trace block of ${block.byteLength} B is smaller than ${INGRESS_TRACE_BYTES} B`);
    this.words = new Int32Array(block, 0, INGRESS_TRACE_BYTES / 4);
    this.times = new Float64Array(block, 0, INGRESS_TRACE_BYTES / 8);
    this.bytes = new Uint8Array(block, 0, INGRESS_TRACE_BYTES);
    this.frame = new DataView(new ArrayBuffer(ENTRY_BYTES));
  }

  /** The host marks nothing: the replicas' ports do. */
  override mark(_pool: PacketPool, _ids: Uint32Array, _n: number, _side: number): void {}

  /** Publishes the session in the block (its entries cleared, then the session word last). */
  arm(): void {
    const w = this.words;
    Atomics.store(w, IngressWord.SESSION, 0);
    for (let seq = 1; seq <= this.count; seq++) Atomics.store(w, ENTRIES_AT + (seq - 1) * ENTRY_WORDS + EntryWord.SESSION, 0);
    const text = new Uint16Array(w.buffer, FILTER_AT * 4, MAX_FILTER_LENGTH);
    for (let k = 0; k < this.filterText.length; k++) text[k] = this.filterText.charCodeAt(k);
    w[IngressWord.FILTER_LENGTH] = this.filterText.length;
    w[IngressWord.COUNT] = this.count;
    Atomics.store(w, IngressWord.CLAIMED, this.session << 16);
    Atomics.store(w, IngressWord.SESSION, this.session);
  }

  /** Ends the session in the block (if it is still this one). */
  disarm(): void {
    Atomics.compareExchange(this.words, IngressWord.SESSION, this.session, 0);
  }

  /** Brings in the entries completed since the last call, in seq order, and the packets that left. */
  sync(): void {
    const w = this.words;
    const session = this.session;
    while (this.issued < this.count) {
      const seq = this.issued + 1;
      const at = ENTRIES_AT + (seq - 1) * ENTRY_WORDS;
      if (Atomics.load(w, at + EntryWord.SESSION) !== session) break;
      const side = w[at + EntryWord.SIDE];
      const len = w[at + EntryWord.LENGTH];
      let packet = '(entry rejected: side or length out of range)';
      if ((side === 0 || side === 1) && len >= 0 && len <= 0xffff) {
        const keep = len < ENTRY_BYTES ? len : ENTRY_BYTES;
        new Uint8Array(this.frame.buffer).set(this.bytes.subarray((at + EntryWord.BYTES) * 4, (at + EntryWord.BYTES) * 4 + keep));
        readFrameTuple(this.frame, 0, keep, this.entryTuple);
        packet = `${formatFrameTuple(this.entryTuple)} len ${len}`;
      } else this.rejected++;
      const timeMs = this.times[(at + EntryWord.TIME) / 2];
      this.entries.push({ timeMs: Number.isFinite(timeMs) ? timeMs : Date.now(), side: side === 1 ? 'outside' : 'inside', packet });
      this.issued = seq;
    }
    for (let seq = 1; seq <= this.issued; seq++) {
      if (this.left[seq] === 0 && Atomics.load(w, ENTRIES_AT + (seq - 1) * ENTRY_WORDS + EntryWord.LEFT) === session) this.left[seq] = 1;
    }
  }
}
