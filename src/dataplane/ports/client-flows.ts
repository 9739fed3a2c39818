import { buildIpv6Frame } from '../../packet/ipv6-frame-builder.ts';
import { IpProto } from '../../packet/ipv4.ts';
import { TcpFlag } from '../../packet/tcp.ts';
import { writeFrame } from '../../traffic/frame-builder.ts';

/**
 * The flows of a generator as plain numbers (no schema: instances build their frames from
 * it): `flows` simulated clients of one service, client `i` at host `1 + i % hosts` of the
 * `clients` block with source port `CLIENT_PORT_BASE + ⌊i / hosts⌋` (connection generation
 * 0; see `clientSourcePort`), `packetSize`-byte data frames.
 */
export interface ClientFlowsSpec {
  readonly flows: number;
  readonly packetSize: number;
  /** `IpProto.TCP` or `IpProto.UDP`. */
  readonly proto: number;
  readonly family: 4 | 6;
  /** The clients' network: one word (IPv4) or four (IPv6, big-endian). */
  readonly clients: readonly number[];
  /** Usable host numbers in the clients' block (1 … hosts). */
  readonly hosts: number;
  /** The service's address, as `clients`. */
  readonly service: readonly number[];
  readonly servicePort: number;
}

/** Source port of connection generation 0 of the first row of clients. */
export const CLIENT_PORT_BASE = 10_000;

/** What a flow frame is: the opening SYN, a data segment (or UDP datagram), the closing FIN. */
export const FlowFrameKind = { SYN: 0, DATA: 1, FIN: 2 } as const;

/** Room for one TCP SYN or FIN frame (Ethernet + IPv6 + TCP headers, no options; an IPv4 one is shorter). */
export const CONTROL_FRAME_ROOM = 80;

/**
 * Rows of clients (source ports) one connection generation uses, and how many generations
 * fit in the ports above `CLIENT_PORT_BASE`: generation `g` of flow `i` uses source port
 * `CLIENT_PORT_BASE + (g mod generations) × rows + ⌊i / hosts⌋`.
 */
export function clientPortPlan(spec: Pick<ClientFlowsSpec, 'flows' | 'hosts'>): { rows: number; generations: number } {
  const rows = Math.max(1, Math.ceil(spec.flows / spec.hosts));
  return { rows, generations: Math.max(1, Math.floor((65_536 - CLIENT_PORT_BASE) / rows)) };
}

/** The source port of flow `i` in connection generation `generation` (see `clientPortPlan`). */
export function clientSourcePort(spec: Pick<ClientFlowsSpec, 'flows' | 'hosts'>, i: number, generation: number): number {
  const { rows, generations } = clientPortPlan(spec);
  return CLIENT_PORT_BASE + (generation % generations) * rows + Math.floor(i / spec.hosts);
}

/** Bytes of headers of one data frame (the frame is never shorter). */
export function clientHeaderBytes(spec: Pick<ClientFlowsSpec, 'family' | 'proto'>): number {
  return 14 + (spec.family === 4 ? 20 : 40) + (spec.proto === IpProto.TCP ? 20 : 8);
}

/**
 * Writes frame `kind` of flow `i` in connection generation `generation` at `offset` and
 * returns its length: the SYN (seq 1000), a data segment (ACK|PSH, seq 1001, ack 1: the
 * responder's SYN-ACK has seq 0) or UDP datagram of `packetSize` bytes, the FIN (FIN|ACK,
 * seq 1001). Control path: called when a flow opens or closes, never per data frame.
 *
 * @example
 * ```ts
 * const len = writeClientFrame(spec, view, 0, 7, 0, FlowFrameKind.SYN);
 * ```
 */
export function writeClientFrame(spec: ClientFlowsSpec, view: DataView, offset: number, i: number, generation: number, kind: number): number {
  const host = 1 + (i % spec.hosts);
  const srcPort = clientSourcePort(spec, i, generation);
  const payloadLength = kind === FlowFrameKind.DATA ? Math.max(0, spec.packetSize - clientHeaderBytes(spec)) : 0;
  const tcpFlags = kind === FlowFrameKind.SYN ? TcpFlag.SYN : kind === FlowFrameKind.FIN ? TcpFlag.FIN | TcpFlag.ACK : TcpFlag.ACK | TcpFlag.PSH;
  const seq = kind === FlowFrameKind.SYN ? 1000 : 1001;
  const ack = kind === FlowFrameKind.SYN ? 0 : 1;
  if (spec.family === 4) {
    return writeFrame(view, offset, { proto: spec.proto, srcIp: (spec.clients[0] + host) >>> 0, dstIp: spec.service[0] >>> 0, srcPort, dstPort: spec.servicePort, tcpFlags, seq, ack, payloadLength });
  }
  const c = spec.clients;
  return buildIpv6Frame(view, offset, {
    proto: spec.proto,
    // The host number goes into the low 32 bits (the prefix's host part is at least that wide, or the block is smaller than the flows).
    src: groups([c[0], c[1], c[2], (c[3] + host) >>> 0]),
    dst: groups(spec.service),
    srcPort,
    dstPort: spec.servicePort,
    tcpFlags,
    tcpSeq: seq,
    tcpAck: ack,
    payloadLength,
  });
}

/** Four address words as eight 16-bit groups. */
function groups(words: readonly number[]): number[] {
  return words.flatMap((x) => [(x >>> 16) & 0xffff, x & 0xffff]);
}
