/**
 * The host side of a trace session at the chain's ends: while a session is on, every frame
 * that enters the chain from a port gets a mark in its pool metadata (`PacketMeta.trace`):
 * `session << 16 | seq` for the first `count` frames the filter passes (seq 1, 2, …), and
 * `session << 16` for the others, so no frame carries a stale mark of this session. It
 * also notes when a marked frame leaves the chain. The data plane calls it once per batch,
 * and only while a session is on (`ChainDataPlane.startTrace`).
 *
 * @example
 * ```ts
 * const marker = new TraceMarker(session, compileFilter('tcp and syn'), 1);
 * dataPlane.startTrace(marker);
 * ```
 */
import { FrameTuple, formatFrameTuple } from '../capture/frame-tuple.ts';
import type { PacketFilter } from '../capture/packet-filter.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import type { PoolHandle } from '../pool/pool-handle.ts';
import { markEntering, type SeqClaims } from './entering-marks.ts';
import { TRACE_SEQ_MAX, TRACE_SESSION_MAX } from './trace-layout.ts';
import { InvalidArgumentError } from '../errors/catalog.ts';

/** A packet the marker chose, as it entered the chain. */
export interface TracedEntry {
  /** Unix ms. */
  readonly timeMs: number;
  /** `inside` or `outside`. */
  readonly side: 'inside' | 'outside';
  /** tcpdump-style line (`formatFrameTuple`) with the length. */
  readonly packet: string;
}

export class TraceMarker implements SeqClaims {
  /** Packets marked so far (their seqs are 1..issued). */
  issued = 0;
  /** Entry of seq k at index k − 1. */
  readonly entries: TracedEntry[] = [];
  /** `left[seq]` = 1 once the frame left the chain through a port. */
  readonly left: Uint8Array;
  private readonly tuple = new FrameTuple();
  private readonly base: number;

  constructor(
    readonly session: number,
    readonly filter: PacketFilter,
    readonly count: number,
  ) {
    if (!Number.isInteger(session) || session < 1 || session > TRACE_SESSION_MAX) throw new InvalidArgumentError(`trace session ${session} outside 1..${TRACE_SESSION_MAX}`);
    if (!Number.isInteger(count) || count < 1 || count > TRACE_SEQ_MAX) throw new InvalidArgumentError(`trace count ${count} outside 1..${TRACE_SEQ_MAX}`);
    this.base = (session << 16) >>> 0;
    this.left = new Uint8Array(count + 1);
  }

  /** Marks buffers `ids[0, n)` of `pool`, entering from side `side` (0 inside, 1 outside). */
  mark(pool: PacketPool, ids: Uint32Array, n: number, side: number): void {
    markEntering(pool, ids, n, this.base, this.issued < this.count ? this.filter : null, this.tuple, this, side);
  }

  /** The next seq, 0 once `count` were issued (`SeqClaims`). */
  claim(): number {
    return this.issued < this.count ? ++this.issued : 0;
  }

  /** Keeps the entry of `seq` (at index `seq − 1`) as a tcpdump-style line (`SeqClaims`). */
  record(seq: number, _pool: PoolHandle, _off: number, len: number, tuple: FrameTuple, side: number): void {
    this.entries.push({ timeMs: Date.now(), side: side === 0 ? 'inside' : 'outside', packet: `${formatFrameTuple(tuple)} len ${len}` });
  }

  /** Buffers `ids[0, n)` of `pool` leave the chain through a port: notes the traced ones. */
  exited(pool: PacketPool, ids: Uint32Array, n: number): void {
    const marks = pool.meta.trace;
    for (let i = 0; i < n; i++) {
      const mark = marks[ids[i]];
      const seq = mark & 0xffff;
      if (mark >>> 16 === this.session && seq >= 1 && seq <= this.issued) this.left[seq] = 1;
    }
  }
}
