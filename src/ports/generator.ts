import { z } from 'zod';
import type { ChainEnd } from '../controller/chain-ends.ts';
import type { ChainPort } from '../dataplane/chain-port.ts';
import { CONTROL_FRAME_ROOM, clientHeaderBytes, FlowFrameKind, writeClientFrame, type ClientFlowsSpec } from '../dataplane/ports/client-flows.ts';
import { GeneratorPort } from '../dataplane/ports/generator-port.ts';
import { PacedPort } from '../dataplane/ports/paced-port.ts';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { parseIpPrefix, type IpPrefix } from '../config/net-schemas.ts';
import { IpProto } from '../packet/ipv4.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import type { SpecIssue } from '../spec/chain-spec-rules.ts';
import { limitMessage, SPEC_LIMITS } from '../spec/spec-limits.ts';
import { endpointText, ipPrefixText, parseEndpoint, type Endpoint } from '../spec/spec-values.ts';
import { definePortType } from './port-type.ts';

/** Most generator flows: `SPEC_LIMITS.generatorFrameBytes` of the smallest frames (the product is checked by the port type's `check`). */
export const MAX_GENERATOR_FLOWS = Math.floor(SPEC_LIMITS.generatorFrameBytes.value / 60);

const generatorPortSchema = z
  .object({
    type: z.literal('generator'),
    flows: z
      .number()
      .int()
      .min(1)
      .max(MAX_GENERATOR_FLOWS)
      .default(1024)
      .meta({ description: `Distinct flows, default 1024; flows × packetSize at most ${SPEC_LIMITS.generatorFrameBytes.value} bytes (one frame is built per flow).` }),
    packetSize: z.number().int().min(60).max(1514).default(64).meta({ description: 'Frame size in bytes without FCS (60-1514), default 64.' }),
    protocol: z.enum(['tcp', 'udp']).default('tcp').meta({ description: 'Transport protocol, default tcp.' }),
    clients: ipPrefixText.default('198.18.1.0/24').meta({ description: 'Prefix of the client addresses (IPv4 or IPv6, the family of `service`).' }),
    service: endpointText.default('198.18.2.100:80').meta({ description: 'Destination of every flow: "a.b.c.d:port" or "[2001:db8::1]:port".' }),
    total: z.number().int().min(1).optional().meta({ description: 'Frames to send in all; omitted: until stopped.' }),
    rate: z.number().min(0).optional().meta({ description: 'Packets per second; omitted or 0: unpaced.' }),
  })
  .strict()
  .meta({ description: 'In-memory traffic generator.' });

/**
 * An in-memory traffic source (the embedded default, for benchmarks and `npm start`):
 * `flows` distinct flows (client address × port) of `packetSize`-byte frames (60–1514,
 * default 64; never shorter than the headers) from the `clients` prefix to `service`, both
 * IPv4 or both IPv6, `tcp` or `udp`, `total` frames in all
 * (omitted: until stopped) at `rate` packets per second (omitted or 0: as fast as the chain
 * takes them).
 *
 * ```yaml
 * ingress: { type: generator, flows: 1024, packetSize: 64, protocol: tcp, clients: 198.18.1.0/24, service: "198.18.2.100:80" }
 * ingress: { type: generator, clients: "2001:db8:1::/64", service: "[2001:db8:2::100]:80" }
 * ```
 */
export type GeneratorPortSpec = z.output<typeof generatorPortSchema>;

/** The `generator` port type: flows × packet size within `SPEC_LIMITS.generatorFrameBytes`. */
export const generatorPortType = definePortType({
  type: 'generator',
  schema: generatorPortSchema,
  check: (port, at) => {
    const issues: SpecIssue[] = [];
    const flows = port.flows ?? 1024;
    const size = port.packetSize ?? 64;
    if (typeof flows === 'number' && typeof size === 'number' && Number.isInteger(flows) && Number.isInteger(size) && flows * size > SPEC_LIMITS.generatorFrameBytes.value) {
      issues.push({ path: [...at, 'flows'], message: `${flows} flows × ${size} B frames: ${limitMessage('generatorFrameBytes', flows * size)}` });
    }
    const clients = typeof port.clients === 'string' ? parseIpPrefix(port.clients) : undefined;
    const service = typeof port.service === 'string' ? parseEndpoint(port.service) : undefined;
    if (typeof clients === 'object' && service !== undefined && clients.family !== service.family) {
      issues.push({ path: [...at, 'service'], message: `an IPv${service.family} service for IPv${clients.family} clients (${port.clients}): both must be one family` });
    }
    return issues;
  },
  open: (spec) => openGenerator(spec),
});

/** Frame bytes the generator builds between two yields to the event loop (~85 frames of 1514 B, a few ms here). */
export const GENERATOR_SLICE_BYTES = 128 * 1024;

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
async function openGenerator(spec: GeneratorPortSpec): Promise<ChainEnd> {
  const flows = clientFlowsOf(spec);
  const proto = flows.proto;
  const data: Uint8Array[] = [];
  const syns: Uint8Array[] = [];
  // Every frame is a view into one buffer: thousands of small ArrayBuffers stalled the
  // event loop in garbage collection for up to a second.
  const synBytes = proto === IpProto.TCP ? CONTROL_FRAME_ROOM : 0;
  const bytes = new Uint8Array(spec.flows * (Math.max(spec.packetSize, clientHeaderBytes(flows)) + synBytes));
  const view = new DataView(bytes.buffer);
  let offset = 0;
  let sliceBytes = 0;
  for (let i = 0; i < spec.flows; i++) {
    const length = writeClientFrame(flows, view, offset, i, 0, FlowFrameKind.DATA);
    data.push(bytes.subarray(offset, offset + length));
    offset += length;
    if (proto === IpProto.TCP) {
      const synLength = writeClientFrame(flows, view, offset, i, 0, FlowFrameKind.SYN);
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

/**
 * The flows of a validated generator spec as plain numbers (what an instance builds them
 * from when the ends run in the replicas). `InvalidArgumentError` when flows × packet size
 * exceeds `SPEC_LIMITS.generatorFrameBytes` (specs that bypassed the schema).
 */
export function clientFlowsOf(spec: GeneratorPortSpec): ClientFlowsSpec {
  const frameBytes = spec.flows * spec.packetSize;
  if (frameBytes > SPEC_LIMITS.generatorFrameBytes.value) {
    throw new InvalidArgumentError(`generator: ${limitMessage('generatorFrameBytes', frameBytes)}`);
  }
  // Both were validated (and checked to be one family) by the spec.
  const block = parseIpPrefix(spec.clients) as IpPrefix;
  const service = parseEndpoint(spec.service) as Endpoint;
  const hostBits = (block.family === 4 ? 32 : 128) - block.prefix;
  const hosts = hostBits >= 32 ? 2 ** 32 - 2 : Math.max(1, 2 ** hostBits - 2);
  const words = (a: number | readonly number[]): number[] => (typeof a === 'number' ? [a] : [...a]);
  return {
    flows: spec.flows,
    packetSize: spec.packetSize,
    proto: spec.protocol === 'udp' ? IpProto.UDP : IpProto.TCP,
    family: block.family,
    clients: words(block.addr as number | readonly number[]),
    hosts,
    service: words(service.addr as number | readonly number[]),
    servicePort: service.port,
  };
}

/** Handshake SYNs first, then data; see `openGenerator`. */
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

