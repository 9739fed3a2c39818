import { InvalidArgumentError } from '../errors/catalog.ts';
import type { ChainPort } from '../dataplane/chain-port.ts';
import { GeneratorPort } from '../dataplane/ports/generator-port.ts';
import { PacedPort } from '../dataplane/ports/paced-port.ts';
import { ResponderPort } from '../dataplane/ports/responder-port.ts';
import { SinkPort } from '../dataplane/ports/sink-port.ts';
import { VxlanPort } from '../dataplane/ports/vxlan-port.ts';
import { IpProto } from '../packet/ipv4.ts';
import { TcpFlag } from '../packet/tcp.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import type { GeneratorPortSpec, PortSpec } from '../spec/port-spec.ts';
import type { ClassifierSpec } from '../spec/chain-spec.ts';
import { ClassifierPort, type ClassifierRules } from '../dataplane/ports/classifier-port.ts';
import { PROTOCOL_NUMBERS, ipv4Address, ipv4Cidr, portRange } from '../config/net-schemas.ts';
import { writeFrame } from '../traffic/frame-builder.ts';
import { limitMessage, SPEC_LIMITS } from '../spec/spec-limits.ts';
import type { DataDir } from './data-dir.ts';
import { openPcapEnd } from './pcap-end.ts';

/**
 * Drops at one chain end by layer, each declared reason present (0 included), for
 * `nfvkit_port_drops_total` and `nfvkit_gateway_drops_total`.
 */
export interface EndDrops {
  /** The port's own: socket and encapsulation reasons (`VxlanDrop`), a classifier's rejects (`classifier`). */
  readonly port: Readonly<Record<string, number>>;
  /** The L3 gateway edge's (`GatewayDrop`), for a port that is one (VXLAN). */
  readonly gateway?: Readonly<Record<string, number>>;
}

/** One end of a running chain: its port, what it counted, and how to release it. */
export interface ChainEnd {
  readonly port: ChainPort;
  /** Port-level figures (frames sent/received, drops by reason …) for `describe`. */
  stats(): Record<string, number>;
  /** Its drops by layer and reason (read at scrape time); absent for ends that never drop. */
  drops?(): EndDrops;
  /** Releases sockets and files (writes captures). */
  close(): Promise<void>;
}

/** Where a chain's ends are being created. */
export interface ChainEndContext {
  /** Chain name (labels, messages). */
  readonly chain: string;
  /** `inside` (ingress) or `outside` (egress). */
  readonly side: 'inside' | 'outside';
  /**
   * The only directories files named in the spec resolve in (`nfvkit up --data-dir`); never
   * the client-supplied source name.
   */
  readonly dataDir: DataDir;
  /** The chain's packet pool: socket ports receive into and send from its memory. */
  readonly pool: PacketPool;
}

/** Creates a chain end for one port type. */
export type ChainEndFactory = (spec: PortSpec, context: ChainEndContext) => Promise<ChainEnd>;

/**
 * The chain ends the controller builds from port specs: `generator`, `responder`, `sink`,
 * `pcap` and `vxlan` (real traffic through the L3 gateway edge). Callers may add or
 * replace factories (`ControllerOptions.endFactories`).
 */
export const BUILTIN_END_FACTORIES: Readonly<Partial<Record<string, ChainEndFactory>>> = {
  generator: (spec) => generatorEnd(spec as GeneratorPortSpec),
  responder: async () => {
    const servers = new ResponderPort();
    return { port: servers, stats: () => ({ framesOut: servers.frames, bytesOut: servers.bytes, synAcks: servers.synAcks, finAcks: servers.finAcks }), close: async () => undefined };
  },
  sink: async () => {
    const sink = new SinkPort();
    return { port: sink, stats: () => ({ framesOut: sink.frames, bytesOut: sink.bytes }), close: async () => undefined };
  },
  vxlan: async (spec, context) => {
    // The port validates its own config (strict): everything but the spec's `type`.
    const { type: _type, ...config } = spec;
    const port = await VxlanPort.open(config, context.pool);
    return {
      port,
      stats: () => {
        const st = port.stats();
        const out: Record<string, number> = { framesIn: st.entered, framesOut: st.left, datagramsIn: st.received, datagramsOut: st.sent };
        for (const [reason, n] of Object.entries(st.drops)) out[`drops:${reason}`] = n;
        return out;
      },
      drops: () => port.dropCounts(),
      close: () => port.close(),
    };
  },
  pcap: async (spec, context) => {
    if (spec.type !== 'pcap') throw new InvalidArgumentError('not a pcap port');
    return openPcapEnd(spec, context.dataDir, context.side === 'inside' ? 'spec.ingress' : 'spec.egress');
  },
};

/** Frame bytes the generator builds between two yields to the event loop (~85 frames of 1514 B, a few ms here). */
export const GENERATOR_SLICE_BYTES = 128 * 1024;
/** Room for one TCP SYN frame (Ethernet + IPv4 + TCP headers, no options). */
const SYN_FRAME_ROOM = 64;

/**
 * The generator end: `flows` simulated clients of `service` from the `clients` block. TCP
 * flows first send one SYN each and wait (up to 1 s) for the answers, so stateful
 * functions see handshakes (with a `responder` egress); then one data segment per flow in
 * turn, endlessly unless `total` is given, paced at `rate` when given.
 *
 * One frame is built per flow, at most `SPEC_LIMITS.generatorFrameBytes` in all (the spec
 * schema refuses more; checked again here for specs that bypass it), yielding to the event
 * loop after every `GENERATOR_SLICE_BYTES` so that gRPC, metrics and the data plane of other
 * chains keep running while a large generator is prepared.
 */
async function generatorEnd(spec: GeneratorPortSpec): Promise<ChainEnd> {
  const frameBytes = spec.flows * spec.packetSize;
  if (frameBytes > SPEC_LIMITS.generatorFrameBytes.value) {
    throw new InvalidArgumentError(`generator: ${limitMessage('generatorFrameBytes', frameBytes)}`);
  }
  const block = ipv4Cidr.parse(spec.clients);
  const base = block.addr;
  const hosts = Math.max(1, 2 ** (32 - block.prefix) - 2);
  const [svcAddr, svcPort] = spec.service.split(':');
  const dst = ipv4Address.parse(svcAddr);
  const dport = Number(svcPort);
  const proto = spec.protocol === 'udp' ? IpProto.UDP : IpProto.TCP;
  const headers = 14 + 20 + (proto === IpProto.TCP ? 20 : 8);
  const data: Uint8Array[] = [];
  const syns: Uint8Array[] = [];
  // Every frame is a view into one buffer: thousands of small ArrayBuffers stalled the
  // event loop in garbage collection for up to a second.
  const synBytes = proto === IpProto.TCP ? SYN_FRAME_ROOM : 0;
  const bytes = new Uint8Array(spec.flows * (Math.max(spec.packetSize, headers) + synBytes));
  const view = new DataView(bytes.buffer);
  let offset = 0;
  let sliceBytes = 0;
  for (let i = 0; i < spec.flows; i++) {
    const src = (base + 1 + (i % hosts)) >>> 0;
    const sport = 10_000 + Math.floor(i / hosts);
    const common = { proto, srcIp: src, dstIp: dst, srcPort: sport, dstPort: dport };
    const length = writeFrame(view, offset, { ...common, tcpFlags: TcpFlag.ACK | TcpFlag.PSH, seq: 1001, ack: 1, payloadLength: Math.max(0, spec.packetSize - headers) });
    data.push(bytes.subarray(offset, offset + length));
    offset += length;
    if (proto === IpProto.TCP) {
      const synLength = writeFrame(view, offset, { ...common, tcpFlags: TcpFlag.SYN, seq: 1000 });
      syns.push(bytes.subarray(offset, offset + synLength));
      offset += synLength;
    }
    sliceBytes += spec.packetSize;
    if (sliceBytes >= GENERATOR_SLICE_BYTES) {
      sliceBytes = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  const total = spec.total ?? Number.POSITIVE_INFINITY;
  const clients = new ClientsPort(syns, data, total);
  const port = spec.rate === undefined || spec.rate === 0 ? clients : new PacedPort(clients, spec.rate);
  return { port, stats: () => ({ framesIn: clients.sent, framesBack: clients.received }), close: async () => undefined };
}

/** Handshake SYNs first, then data; see `generatorEnd`. */
class ClientsPort implements ChainPort {
  sent = 0;
  received = 0;
  private readonly syn: GeneratorPort;
  private readonly data: GeneratorPort;
  private synsDoneAt = -1;

  constructor(syns: readonly Uint8Array[], data: readonly Uint8Array[], total: number) {
    this.syn = new GeneratorPort(syns);
    this.data = new GeneratorPort(data, { total: Math.max(0, total - syns.length) });
  }

  fill(pool: PacketPool, ids: Uint32Array, max: number): number {
    let n = 0;
    if (!this.syn.done) n = this.syn.fill(pool, ids, max);
    else {
      if (this.synsDoneAt < 0) this.synsDoneAt = performance.now();
      const answered = this.received >= this.syn.total || performance.now() - this.synsDoneAt > 1000;
      if (answered) n = this.data.fill(pool, ids, max);
    }
    this.sent += n;
    return n;
  }

  take(pool: PacketPool, ids: Uint32Array, n: number): void {
    this.received += n;
    pool.freeBatch(ids, n);
  }
}

/** Port-drop reason of the frames an ingress classifier rejected. */
export const CLASSIFIER_DROP = 'classifier';

/** Puts the spec's classifier in front of an ingress end (its rejects show in `stats()`). */
export function classifiedEnd(end: ChainEnd, classifier: ClassifierSpec): ChainEnd {
  const port = new ClassifierPort(end.port, classifierRules(classifier));
  return {
    ...end,
    port,
    stats: () => ({ ...end.stats(), 'drops:classifier': port.rejected }),
    drops: () => {
      const inner = end.drops?.();
      return { ...inner, port: { ...inner?.port, [CLASSIFIER_DROP]: port.rejected } };
    },
  };
}

/** The numeric rules of a classifier spec (its values were validated by the spec parser). */
export function classifierRules(spec: ClassifierSpec): ClassifierRules {
  const protocols = (spec.protocols ?? []).map((p) => PROTOCOL_NUMBERS[p]);
  const destinations = (spec.destinations ?? []).map((text): [number, number] => {
    const { addr, mask } = ipv4Cidr.parse(text);
    return [addr, mask];
  });
  const ports = (spec.ports ?? []).map((p): [number, number] => {
    const { from, to } = portRange.parse(p);
    return [from, to];
  });
  return { protocols, destinations, ports };
}
