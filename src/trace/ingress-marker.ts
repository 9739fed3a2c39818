/**
 * The replica side of a trace session at a chain's ends run in its replicas: what a
 * replica's own ports call for each batch they put into the chain (`entered`) and take
 * out of it (`left`). While the ingress trace block (`ingress-trace-layout.ts`) names a
 * session, every frame entering gets a mark in its pool metadata (`PacketMeta.trace`) as
 * the host's `TraceMarker` gives it: `session << 16 | seq` for the frames the session's
 * filter passes while seqs remain (claimed from the block's shared claim word, so the
 * session's count holds across all replicas), `session << 16` for the others; the entry of
 * each traced frame goes into the block for the host. The filter is compiled here from
 * the block's text, once per session; a text too long or that does not parse traces
 * nothing. With no session on, a batch costs one shared-word look.
 *
 * @example
 * ```ts
 * const marker = new IngressMarker(traceBlock);
 * const n = port.fill(pool, ids, max);
 * marker.entered(pool, ids, n, 0);
 * ```
 */
import { compileFilter, MAX_FILTER_LENGTH, type PacketFilter } from '../capture/packet-filter.ts';
import { FrameTuple } from '../capture/frame-tuple.ts';
import { SharedLayoutError } from '../errors/catalog.ts';
import type { PoolHandle } from '../pool/pool-handle.ts';
import { markEntering, type SeqClaims } from './entering-marks.ts';
import { ENTRIES_AT, ENTRY_BYTES, ENTRY_WORDS, EntryWord, FILTER_AT, INGRESS_TRACE_BYTES, INGRESS_TRACE_ENTRIES, IngressWord } from './ingress-trace-layout.ts';

export class IngressMarker implements SeqClaims {
  private readonly words: Int32Array;
  private readonly times: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly text: Uint16Array;
  private readonly tuple = new FrameTuple();
  /** The session `filter` was compiled for (0: none yet). */
  private session = 0;
  private filter: PacketFilter | null = null;
  private count = 0;

  constructor(block: SharedArrayBuffer) {
    if (block.byteLength < INGRESS_TRACE_BYTES) throw new SharedLayoutError(`ingress trace block of ${block.byteLength} B is smaller than ${INGRESS_TRACE_BYTES} B`);
    this.words = new Int32Array(block, 0, INGRESS_TRACE_BYTES / 4);
    this.times = new Float64Array(block, 0, INGRESS_TRACE_BYTES / 8);
    this.bytes = new Uint8Array(block, 0, INGRESS_TRACE_BYTES);
    this.text = new Uint16Array(block, FILTER_AT * 4, MAX_FILTER_LENGTH);
  }

  /** Buffers `ids[0, n)` of `pool` enter the chain from side `side` (0 inside, 1 outside). */
  entered(pool: PoolHandle, ids: Uint32Array, n: number, side: number): void {
    if (n === 0) return;
    const session = Atomics.load(this.words, IngressWord.SESSION);
    if (session === 0) return;
    if (session !== this.session) this.begin(session);
    if (!markEntering(pool, ids, n, (session << 16) >>> 0, this.filter, this.tuple, this, side)) this.filter = null;
  }

  /** Buffers `ids[0, n)` of `pool` leave the chain through this replica's port: notes the traced ones. */
  left(pool: PoolHandle, ids: Uint32Array, n: number): void {
    if (n === 0) return;
    const session = Atomics.load(this.words, IngressWord.SESSION);
    if (session === 0) return;
    if (session !== this.session) this.begin(session);
    const marks = pool.meta.trace;
    const count = this.count;
    for (let i = 0; i < n; i++) {
      const mark = marks[ids[i]];
      const seq = mark & 0xffff;
      if (mark >>> 16 === session && seq >= 1 && seq <= count) Atomics.store(this.words, ENTRIES_AT + (seq - 1) * ENTRY_WORDS + EntryWord.LEFT, session);
    }
  }

  /** A new session: its count and its filter, both checked against the block. */
  private begin(session: number): void {
    const w = this.words;
    this.session = session;
    this.filter = null;
    const count = w[IngressWord.COUNT];
    const length = w[IngressWord.FILTER_LENGTH];
    this.count = count >= 1 && count <= INGRESS_TRACE_ENTRIES ? count : 0;
    if (this.count === 0 || length < 0 || length > MAX_FILTER_LENGTH) return;
    let text = '';
    for (let k = 0; k < length; k++) text += String.fromCharCode(this.text[k]);
    try {
      this.filter = compileFilter(text);
    } catch {
      // The host compiled the same text before it started the session: nothing to trace.
    }
  }

  /** The next seq of this session, 0 when none is left or the block moved to another session (`SeqClaims`). */
  claim(): number {
    const w = this.words;
    const session = this.session;
    for (;;) {
      const cur = Atomics.load(w, IngressWord.CLAIMED);
      const seq = (cur & 0xffff) + 1;
      if (cur >>> 16 !== session || seq > this.count) return 0;
      if (Atomics.compareExchange(w, IngressWord.CLAIMED, cur, (session << 16) | seq) === cur) return seq;
    }
  }

  /** Writes the entry of `seq` into the block, its session word last (`SeqClaims`). */
  record(seq: number, pool: PoolHandle, off: number, len: number, _tuple: FrameTuple, side: number): void {
    const at = ENTRIES_AT + (seq - 1) * ENTRY_WORDS;
    const w = this.words;
    w[at + EntryWord.SIDE] = side;
    w[at + EntryWord.LENGTH] = len;
    w[at + EntryWord.LEFT] = 0;
    this.times[(at + EntryWord.TIME) / 2] = Date.now();
    const keep = len < ENTRY_BYTES ? len : ENTRY_BYTES;
    this.bytes.set(new Uint8Array(pool.view.buffer, pool.view.byteOffset + off, keep), (at + EntryWord.BYTES) * 4);
    Atomics.store(w, at + EntryWord.SESSION, this.session);
  }
}
