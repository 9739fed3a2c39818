/**
 * A trace in progress on one chain (`ControllerApi.openTrace`): starts a session on the
 * chain's data plane (`TraceMarker` at its ends on the host, or, given a `ReplicaIngress`,
 * `ReplicaTraceMarker` with the replicas' own ports marking; the tracing variant in every instance),
 * gathers the records its instances write, checks them (`readTraceRecords`) and assembles
 * them per packet, function by function in the order the packet met them. A packet is
 * complete once it left the chain, was dropped, or nothing more came for it for
 * `QUIET_MS`; `poll` hands out the complete ones. The session ends (and the data plane's
 * instances go back to their normal loop) once `count` packets are out or at the timeout.
 *
 * @example
 * ```ts
 * const trace = new TraceSession(dataPlane, 'web-edge', compileFilter('tcp and syn'), 1, 10_000);
 * const timer = setInterval(() => { for (const p of trace.poll()) show(p); if (trace.finished) clearInterval(timer); }, 20);
 * ```
 */
import type { PacketFilter } from '../capture/packet-filter.ts';
import type { ChainDataPlane } from '../dataplane/chain-data-plane.ts';
import type { StageInstance } from '../dataplane/stage.ts';
import { formatFunctionTrace, type FunctionTraceView } from './trace-format.ts';
import { ReplicaTraceMarker } from './replica-trace-marker.ts';
import { TraceMarker } from './trace-marker.ts';
import { readTraceRecords, type TracePipelineShape } from './trace-reader.ts';

/** A packet with nothing new for this long is complete, ms. */
export const QUIET_MS = 300;

/** One traced packet, function by function. */
export interface PacketTraceView {
  /** From 1, in the order packets entered. */
  readonly seq: number;
  /** When it entered the chain, Unix ms. */
  readonly timeMs: number;
  /** `inside` or `outside`. */
  readonly entered: string;
  readonly packet: string;
  readonly functions: readonly FunctionTraceView[];
  /** Records instances could not keep or that did not check out, since the start. */
  readonly lost: number;
}

/** Where a chain's ends run in its replicas: the block their ports mark through, and the filter's text they compile. */
export interface ReplicaIngress {
  /** The chain's ingress trace block (`ingress-trace-layout.ts`). */
  readonly block: SharedArrayBuffer;
  /** The text the session's filter was compiled from. */
  readonly filterText: string;
}

interface Pending {
  readonly functions: FunctionTraceView[];
  lastAt: number;
  dropped: boolean;
}

export class TraceSession {
  private readonly marker: TraceMarker;
  private readonly pending = new Map<number, Pending>();
  private emitted = 0;
  private nextSeq = 1;
  private lostTotal = 0;
  private rejectedTotal = 0;
  private readonly deadline: number;
  private closedFlag = false;
  private readonly lostBy = new Map<StageInstance, number>();

  constructor(
    private readonly dataPlane: ChainDataPlane,
    private readonly chainName: string,
    filter: PacketFilter,
    readonly count: number,
    timeoutMs: number,
    ingress?: ReplicaIngress,
  ) {
    this.marker = dataPlane.startTrace((session) => (ingress === undefined ? new TraceMarker(session, filter, count) : new ReplicaTraceMarker(session, filter, ingress.filterText, count, ingress.block)));
    // The replicas mark only once every instance's trace area names the session.
    if (this.marker instanceof ReplicaTraceMarker) this.marker.arm();
    this.deadline = performance.now() + timeoutMs;
  }

  /** Packets marked so far. */
  get matched(): number {
    return this.marker.issued;
  }

  /** True once every packet is out, the timeout passed, or the session was closed. */
  get finished(): boolean {
    return this.closedFlag || this.emitted >= this.count;
  }

  /** Reads what the instances wrote and returns the packets complete now, in order. */
  poll(now = performance.now()): PacketTraceView[] {
    if (this.closedFlag) return [];
    if (this.marker instanceof ReplicaTraceMarker) this.marker.sync();
    this.read(now);
    const timedOut = now >= this.deadline;
    const out: PacketTraceView[] = [];
    while (this.nextSeq <= this.marker.issued) {
      const seq = this.nextSeq;
      const p = this.pending.get(seq);
      const entry = this.marker.entries[seq - 1];
      const left = this.marker.left[seq] === 1;
      const quiet = now - (p?.lastAt ?? now) >= QUIET_MS || (p === undefined && Date.now() - entry.timeMs >= QUIET_MS * 3);
      if (!(timedOut || left || p?.dropped === true || quiet)) break;
      out.push({ seq, timeMs: entry.timeMs, entered: entry.side, packet: entry.packet, functions: p?.functions ?? [], lost: this.lostTotal + this.rejectedTotal + this.entriesRejected() });
      this.pending.delete(seq);
      this.nextSeq++;
      this.emitted++;
    }
    if (timedOut || this.emitted >= this.count) this.close();
    return out;
  }

  /** Ends the session; idempotent. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.marker instanceof ReplicaTraceMarker) this.marker.disarm();
    this.dataPlane.stopTrace(this.marker);
  }

  /** Entries from the replicas' ports that did not check out. */
  private entriesRejected(): number {
    return this.marker instanceof ReplicaTraceMarker ? this.marker.rejected : 0;
  }

  private read(now: number): void {
    for (const stage of this.dataPlane.stages) {
      for (const inst of stage.live) {
        const m = inst.manifest;
        const infos = m.trace ?? [];
        const parts = m.parts ?? [{ name: stage.name, firstCounter: 0, counterCount: m.counters.length }];
        const shapes: TracePipelineShape[] = parts.map((p, k) => ({
          elements: infos[k]?.elements.length ?? 0,
          noteElements: infos[k]?.notes.map((n) => n.element) ?? [],
          counters: p.counterCount,
        }));
        const got = readTraceRecords(inst.host.traceArea, this.marker.session, this.marker.issued, shapes);
        this.rejectedTotal += got.rejected;
        this.lostTotal += got.lost - (this.lostBy.get(inst) ?? 0);
        this.lostBy.set(inst, got.lost);
        for (const r of got.records) {
          const part = parts[r.part];
          const view = formatFunctionTrace(r, {
            function: part.name,
            instance: `${this.chainName}/${inst.id}`,
            ...(infos[r.part] === undefined ? {} : { info: infos[r.part] }),
            counters: m.counters.slice(part.firstCounter, part.firstCounter + part.counterCount).map((c) => c.name),
          });
          let p = this.pending.get(r.seq);
          if (p === undefined) this.pending.set(r.seq, (p = { functions: [], lastAt: now, dropped: false }));
          p.functions.push(view);
          p.lastAt = now;
          if (view.steps.length > 0 && view.steps[view.steps.length - 1].verdict === 'drop') p.dropped = true;
        }
      }
    }
  }
}
