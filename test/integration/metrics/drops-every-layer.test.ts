import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import type { ChainEnd } from '../../../src/controller/chain-ends.ts';
import { openVxlanEnd } from '../../../src/ports/vxlan.ts';
import { attachControllerMetrics } from '../../../src/controller/controller-metrics.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { HOST_DROP_LIST } from '../../../src/dataplane/host-drop-reason.ts';
import { RunSummary } from '../../../src/cli/run-summary.ts';
import type { ChainPort } from '../../../src/dataplane/chain-port.ts';
import { writeVxlanHeader } from '../../../src/dataplane/ports/vxlan-header.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { startMetricsServer, type MetricsServer } from '../../../src/metrics/metrics-server.ts';
import { NfvkitMetrics } from '../../../src/metrics/nfvkit-metrics.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import type { PacketPool } from '../../../src/pool/packet-pool.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { parseExposition, valueOf, type Exposition } from '../../unit/metrics/exposition.ts';

const udp = (dstPort: number): Uint8Array =>
  buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120105, dstIp: 0xc6120201, srcPort: 10_000 + dstPort, dstPort, payloadLength: 18 });

function badChecksum(): Uint8Array {
  const frame = udp(81);
  frame[14 + 10] ^= 0xff;
  return frame;
}

/**
 * An ingress that injects one drop per layer it can reach, once: a frame whose IPv4
 * checksum is wrong (the pipeline drops it), a TCP frame (the spec's classifier admits UDP
 * only: a port drop), a frame placed at offset 0 of its buffer (no room for the virtio-net
 * header: the host's device end drops it, a ring drop) and the id of a buffer it already
 * freed (the host cannot take it: a host drop). Then it sends nothing.
 */
class DropInjector implements ChainPort {
  done = false;

  fill(pool: PacketPool, ids: Uint32Array): number {
    if (this.done) return 0;
    this.done = true;
    if (pool.allocBatch(ids, 4) !== 4) throw new Error('pool exhausted');
    const put = (id: number, frame: Uint8Array) => pool.copyIn(id, frame, 0, frame.length);
    put(ids[0], badChecksum());
    put(ids[1], buildFrame({ proto: IpProto.TCP, srcIp: 0xc6120105, dstIp: 0xc6120201, srcPort: 10_001, dstPort: 80 }));
    const atZero = udp(82);
    new Uint8Array(pool.view.buffer, pool.view.byteOffset + pool.bufferOffset(ids[2]), atZero.length).set(atZero);
    pool.meta.dataOff[ids[2]] = 0;
    pool.meta.length[ids[2]] = atZero.length;
    put(ids[3], udp(83));
    pool.freeBatch(ids.subarray(3), 1);
    return 4;
  }

  take(pool: PacketPool, ids: Uint32Array, n: number): void {
    pool.freeBatch(ids, n);
  }
}

const injectorSpec = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: inject }
spec:
  ingress: { type: generator }
  egress: { type: sink }
  classifier: { protocols: [udp] }
  functions:
    - { name: hop, function: pass-through }
`;

function vxlanSpec(clientPort: number): string {
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: edge }
spec:
  ingress:
    type: vxlan
    listen: { address: 127.0.0.1, port: 4789 }
    gateway: { addresses: [198.18.1.1/24] }
    peers:
      - { name: client, vni: 100, remote: 127.0.0.1, port: ${clientPort}, subnets: [198.18.1.0/24] }
  egress: { type: sink }
  functions:
    - { name: hop, function: pass-through }
`;
}

function datagram(flags: number, vni: number, frame: Uint8Array): Buffer {
  const d = Buffer.alloc(8 + frame.length);
  writeVxlanHeader(d, 0, vni);
  d[0] = flags;
  d.set(frame, 8);
  return d;
}

async function until<T>(read: () => Promise<T>, ok: (x: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const x = await read();
    if (ok(x)) return x;
    if (performance.now() > deadline) return x;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('every drop is a metric: one injected at each layer shows in /metrics with its reason', () => {
  const root = mkdtempSync(join(tmpdir(), 'nfvkit-drops-'));
  const injector = new DropInjector();
  const metrics = new NfvkitMetrics();
  let controller: Controller;
  let server: MetricsServer;
  let client: Socket;
  let detach: () => void;
  let portOfEdge = 0;

  beforeAll(async () => {
    client = createSocket('udp4');
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    controller = await Controller.create({
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(join(root, 'store')),
      warm: false,
      autoscale: false,
      imageGc: false,
      endFactories: {
        generator: async (): Promise<ChainEnd> => ({ port: injector, stats: () => ({}), close: async () => undefined }),
        // The spec names a port; the test listens on any free one.
        vxlan: async (spec, context) => {
          if (spec.type !== 'vxlan') throw new Error(`not a vxlan port: ${spec.type}`);
          const end = await openVxlanEnd({ ...spec, listen: { address: '127.0.0.1', port: spec.listen.port } }, context, { listenPort: 0 });
          portOfEdge = (end.port as unknown as { localPort: number }).localPort;
          return end;
        },
      },
    });
    detach = attachControllerMetrics(controller, metrics);
    server = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0 });
    await controller.apply(injectorSpec, 'inject.yaml');
    await controller.apply(vxlanSpec(client.address().port), 'edge.yaml');
  }, 60_000);

  afterAll(async () => {
    detach?.();
    await server?.close();
    await controller?.close(0);
    client?.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function scrape(): Promise<Exposition> {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    const exp = parseExposition(await res.text());
    expect(exp.problems).toEqual([]);
    return exp;
  }

  it('pipeline, port (classifier), ring and host drops of one chain', async () => {
    const value = (exp: Exposition, name: string, labels: Record<string, string>) => valueOf(exp, name, { chain: 'inject', ...labels });
    const exp = await until(scrape, (e) =>
      value(e, 'nfvkit_function_drops_total', { function: 'hop', reason: 'ipv4_bad_checksum' }) === 1 &&
      value(e, 'nfvkit_ring_drops_total', { side: 'inside', reason: 'rx_no_headroom' }) === 1,
    );
    expect(value(exp, 'nfvkit_function_drops_total', { function: 'hop', reason: 'ipv4_bad_checksum' })).toBe(1);
    expect(value(exp, 'nfvkit_port_drops_total', { side: 'inside', port: 'generator', reason: 'classifier' })).toBe(1);
    const ring = exp.families.get('nfvkit_ring_drops_total')!.samples.filter((s) => s.labels.chain === 'inject' && s.labels.reason === 'rx_no_headroom' && s.labels.side === 'inside');
    expect(ring).toHaveLength(1);
    expect(ring[0].labels).toMatchObject({ function: 'hop', instance: expect.stringMatching(/^inject\/hop-\d+$/) });
    expect(ring[0].value).toBe(1);
    expect(value(exp, 'nfvkit_host_drops_total', { function: 'hop', reason: 'ownership' })).toBe(1);
    // Every declared reason has its series, at 0 when nothing was dropped for it.
    expect(value(exp, 'nfvkit_host_drops_total', { function: 'hop', reason: 'no_instance' })).toBe(0);
    // The per-function host drops are the chain's totals.
    const dp = controller.runtimes().find((r) => r.name === 'inject')!.dataPlane;
    for (const d of HOST_DROP_LIST.declared) expect(value(exp, 'nfvkit_host_drops_total', { function: 'hop', reason: d.name }), d.name).toBe(dp.drops[d.field]);
    expect(value(exp, 'nfvkit_ring_drops_total', { side: 'outside', reason: 'rx_ring_full' })).toBe(0);
  });

  it("nfvkit up's summary names the same host, ring and pipeline drops", async () => {
    await until(scrape, (e) => valueOf(e, 'nfvkit_ring_drops_total', { chain: 'inject', side: 'inside', reason: 'rx_no_headroom' }) === 1);
    const text = RunSummary.capture(controller).render(1000);
    const chain = text.slice(text.indexOf('chain/inject:'), text.indexOf('chain/edge:') > text.indexOf('chain/inject:') ? text.indexOf('chain/edge:') : undefined);
    expect(chain).toMatch(/\n {4}hop-\d+:ipv4_bad_checksum +1(\n|$)/);
    expect(chain).toMatch(/\n {4}hop-\d+:inside:rx_no_headroom +1(\n|$)/);
    expect(chain).toMatch(/\n {4}host:ownership +1(\n|$)/);
  });

  it('VXLAN port and gateway drops of a chain end', async () => {
    expect(portOfEdge).toBeGreaterThan(0);
    const frame = buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120105, dstIp: 0xc6120201, srcPort: 5000, dstPort: 53, payloadLength: 10, dstMac: [0x0200, 0x99] });
    // No I flag: the port drops it (bad_flags); a frame to another MAC: the gateway drops it.
    client.send(datagram(0x00, 100, frame), portOfEdge, '127.0.0.1');
    client.send(datagram(0x08, 100, frame), portOfEdge, '127.0.0.1');
    const value = (exp: Exposition, name: string, labels: Record<string, string>) => valueOf(exp, name, { chain: 'edge', side: 'inside', port: 'vxlan', ...labels });
    const exp = await until(scrape, (e) => value(e, 'nfvkit_port_drops_total', { reason: 'bad_flags' }) === 1 && value(e, 'nfvkit_gateway_drops_total', { reason: 'not_for_gateway' }) === 1);
    expect(value(exp, 'nfvkit_port_drops_total', { reason: 'bad_flags' })).toBe(1);
    expect(value(exp, 'nfvkit_gateway_drops_total', { reason: 'not_for_gateway' })).toBe(1);
    expect(value(exp, 'nfvkit_port_drops_total', { reason: 'unknown_vni' })).toBe(0);
    expect(value(exp, 'nfvkit_gateway_drops_total', { reason: 'no_route' })).toBe(0);
  });
});
