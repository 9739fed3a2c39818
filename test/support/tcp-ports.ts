import type { ChainPort } from '../../src/dataplane/chain-port.ts';
import { DuplexPort } from '../../src/dataplane/ports/duplex-port.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { parseFrame, ParseFlag } from '../../src/packet/parse-frame.ts';
import { ipv4Dst, ipv4Src, IpProto } from '../../src/packet/ipv4.ts';
import { tcpAck, tcpDstPort, tcpFlags, tcpSeq, tcpSrcPort, TcpFlag } from '../../src/packet/tcp.ts';
import type { PacketPool } from '../../src/pool/packet-pool.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';

/** A parsed TCP frame: addresses, ports, flags, sequence numbers and the 4-byte flow id payload. */
export interface TcpSegment {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  flags: number;
  seq: number;
  ack: number;
  /** First 4 payload bytes (the client's flow id), -1 without payload. */
  flowId: number;
  checksumsValid: boolean;
}

const layout = new FrameLayout();
const scratch = new Uint8Array(2048);

/** Copies a frame out of the pool and parses it (test helper: allocates). */
export function readSegment(pool: PacketPool, id: number): TcpSegment | null {
  const len = pool.copyOut(id, scratch, 0);
  return parseSegment(scratch.subarray(0, len));
}

/** Parses a TCP frame (checksums verified: null when they are wrong, or it is no TCP frame). */
export function parseSegment(frame: Uint8Array): TcpSegment | null {
  const len = frame.byteLength;
  const view = new DataView(frame.buffer, frame.byteOffset, len);
  if (parseFrame(view, 0, len, layout, ParseFlag.VERIFY_L4_CHECKSUM) !== 0 || layout.ipProto !== IpProto.TCP) return null;
  const l3 = layout.l3Offset;
  const l4 = layout.l4Offset;
  return {
    src: ipv4Src(view, l3),
    dst: ipv4Dst(view, l3),
    sport: tcpSrcPort(view, l4),
    dport: tcpDstPort(view, l4),
    flags: tcpFlags(view, l4),
    seq: tcpSeq(view, l4),
    ack: tcpAck(view, l4),
    flowId: layout.payloadLength >= 4 ? view.getUint32(layout.payloadOffset) : -1,
    checksumsValid: true,
  };
}

/** Copies up to `max` queued frames into fresh pool buffers (a test port's `fill`). */
function fillFromQueue(queue: Uint8Array[], pool: PacketPool, ids: Uint32Array, max: number): number {
  const got = pool.allocBatch(ids, Math.min(max, queue.length));
  for (let i = 0; i < got; i++) {
    const frame = queue.shift()!;
    pool.copyIn(ids[i], frame, 0, frame.length);
  }
  return got;
}

function flowPayload(flowId: number): Uint8Array {
  const p = new Uint8Array(4);
  new DataView(p.buffer).setUint32(0, flowId);
  return p;
}

/** Client-side state of one simulated TCP connection. */
export interface ClientFlow {
  readonly id: number;
  readonly srcIp: number;
  readonly sport: number;
  state: 'new' | 'syn-sent' | 'open' | 'fin-sent' | 'closed';
  seq: number;
  /** Data segments sent and acknowledged. */
  sent: number;
  acked: number;
  /** Replies whose source was not the service address. */
  wrongSource: number;
}

/**
 * The inside end of a test: simulated TCP clients talking to `service:port`. `open`,
 * `send` and `close` queue segments; replies (SYN-ACK, ACK, FIN-ACK) advance the flows.
 * Each data segment carries the flow id as payload so the server side can recognise it.
 */
export class TcpClientPort implements ChainPort {
  readonly flows: ClientFlow[] = [];
  readonly queue: Uint8Array[] = [];
  /** Frames that were not a valid reply of a known flow. */
  strays = 0;
  private readonly byPort = new Map<number, ClientFlow>();

  constructor(
    readonly service: number,
    readonly servicePort: number,
  ) {}

  /** Adds a flow from `srcIp:sport` and queues its SYN. */
  open(srcIp: number, sport: number): ClientFlow {
    const flow: ClientFlow = { id: this.flows.length, srcIp, sport, state: 'syn-sent', seq: 1000, sent: 0, acked: 0, wrongSource: 0 };
    this.flows.push(flow);
    this.byPort.set(sport, flow);
    this.segment(flow, TcpFlag.SYN, 0, false);
    return flow;
  }

  /** Queues one data segment on an open flow. */
  send(flow: ClientFlow): void {
    if (flow.state !== 'open') return;
    flow.sent++;
    this.segment(flow, TcpFlag.ACK | TcpFlag.PSH, 0, true);
    flow.seq += 4;
  }

  /** Queues a FIN on an open flow. */
  close(flow: ClientFlow): void {
    if (flow.state !== 'open') return;
    flow.state = 'fin-sent';
    this.segment(flow, TcpFlag.FIN | TcpFlag.ACK, 0, false);
    flow.seq += 1;
  }

  fill(pool: PacketPool, ids: Uint32Array, max: number): number {
    return fillFromQueue(this.queue, pool, ids, max);
  }

  take(pool: PacketPool, ids: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      const s = readSegment(pool, ids[i]);
      const flow = s === null ? undefined : this.byPort.get(s.dport);
      if (s === null || flow === undefined || s.dst !== flow.srcIp) {
        this.strays++;
        continue;
      }
      if (s.src !== this.service || s.sport !== this.servicePort) flow.wrongSource++;
      if (flow.state === 'syn-sent' && s.flags === (TcpFlag.SYN | TcpFlag.ACK)) {
        flow.seq += 1;
        flow.state = 'open';
        this.segment(flow, TcpFlag.ACK, s.seq + 1, false);
      } else if ((s.flags & TcpFlag.FIN) !== 0) {
        flow.state = 'closed';
        this.segment(flow, TcpFlag.ACK, s.seq + 1, false);
      } else if (s.flags === TcpFlag.ACK && (flow.state === 'open' || flow.state === 'fin-sent')) {
        flow.acked++;
      }
    }
    pool.freeBatch(ids, n);
  }

  private segment(flow: ClientFlow, flags: number, ack: number, data: boolean): void {
    this.queue.push(
      buildFrame({
        proto: IpProto.TCP,
        srcIp: flow.srcIp,
        dstIp: this.service,
        srcPort: flow.sport,
        dstPort: this.servicePort,
        tcpFlags: flags,
        seq: flow.seq,
        ack,
        ...(data ? { payload: flowPayload(flow.id) } : {}),
      }),
    );
  }
}

/**
 * The outside end of a test: one TCP server answering every segment it sees (SYN →
 * SYN-ACK, data → ACK, FIN → FIN-ACK), recording for each client flow id the tuple it
 * arrived with, so a test can prove that a flow's translation never changed.
 */
export class TcpResponderPort implements ChainPort {
  readonly queue: Uint8Array[] = [];
  /** Flow id → `src:sport>dst:dport` of every data segment seen (a live flow must keep one). */
  readonly tuples = new Map<number, Set<string>>();
  /** Destination addresses seen (backends). */
  readonly servers = new Set<number>();
  segments = 0;

  fill(pool: PacketPool, ids: Uint32Array, max: number): number {
    return fillFromQueue(this.queue, pool, ids, max);
  }

  take(pool: PacketPool, ids: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      const s = readSegment(pool, ids[i]);
      if (s === null) continue;
      this.segments++;
      this.servers.add(s.dst);
      if (s.flowId >= 0) {
        const set = this.tuples.get(s.flowId) ?? new Set<string>();
        set.add(`${s.src}:${s.sport}>${s.dst}:${s.dport}`);
        this.tuples.set(s.flowId, set);
      }
      const reply = (flags: number, seq: number, ack: number) =>
        this.queue.push(buildFrame({ proto: IpProto.TCP, srcIp: s.dst, dstIp: s.src, srcPort: s.dport, dstPort: s.sport, tcpFlags: flags, seq, ack }));
      if (s.flags === TcpFlag.SYN) reply(TcpFlag.SYN | TcpFlag.ACK, 5000, s.seq + 1);
      else if ((s.flags & TcpFlag.FIN) !== 0) reply(TcpFlag.FIN | TcpFlag.ACK, 5001, s.seq + 1);
      else if (s.flowId >= 0) reply(TcpFlag.ACK, 5001, s.seq + 4);
    }
    pool.freeBatch(ids, n);
  }
}

/** A chain end whose source of frames can be replaced between runs (a `GeneratorPort` each time). */
export class SwitchableSource implements ChainPort {
  gen = new GeneratorPort([], { total: 0 });
  fill(pool: PacketPool, ids: Uint32Array, max: number): number {
    return this.gen.fill(pool, ids, max);
  }
  take(pool: PacketPool, ids: Uint32Array, n: number): void {
    this.gen.take(pool, ids, n);
  }
}

/**
 * The two ends of a request/reply run: `requests` enter inside; the outside sends what its
 * `outsideSource.gen` is set to (the replies, once the requests came out); both sinks capture.
 */
export function requestReplyEnds(requests: Uint8Array[]) {
  const insideSink = new SinkPort({ capture: true });
  const outsideSink = new SinkPort({ capture: true });
  const outsideSource = new SwitchableSource();
  return { inside: new DuplexPort(new GeneratorPort(requests), insideSink), outside: new DuplexPort(outsideSource, outsideSink), insideSink, outsideSink, outsideSource };
}
