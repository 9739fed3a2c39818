import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import { LocalPortCounter } from '../../src/dataplane/ports/local-ports.ts';
import { buildFusedImage, buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { BuiltinCounter } from '../../src/pipeline/compiled-pipeline.ts';
import { TcpFlag } from '../../src/packet/tcp.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { INSTANCE_MODES } from '../support/instance-modes.ts';

const ip = (s: string): number => parseIpv4(s) as number;
const store = () => ImageStore.open(join(tmpdir(), 'nfvkit-local-ports-test-images'));
const PARTS = [
  { name: 'fw', definition: firewall, config: { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 }] } },
  { name: 'lb', definition: loadBalancer, config: { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: ['198.18.3.11', '198.18.3.12'].map((address) => ({ address, port: 8080 })) }] } },
  { name: 'nat', definition: nat, config: { snat: { addresses: '198.18.3.1/32', ports: '20000-29999' } } },
];

/** SYNs of `flows` TCP flows to the web service, for replica `r` of `replicas` (its share of the flows). */
function syns(flows: number, r: number, replicas: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let f = r; f < flows; f += replicas) {
    out.push(buildFrame({ proto: IpProto.TCP, srcIp: ip('198.18.1.0') + 1 + (f >> 6), dstIp: ip('198.18.2.10'), srcPort: 40000 + f, dstPort: 80, tcpFlags: TcpFlag.SYN, minFrameLength: 60 }));
  }
  return out;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

describe.each(INSTANCE_MODES)('ports placed in the instances: no frame crosses the host (%s instances)', (instanceMode) => {
  let dp: ChainDataPlane | undefined;
  afterEach(async () => {
    await dp?.shutdown().catch(() => undefined);
    dp = undefined;
  });

  it('each fused replica carries its own flows from its generator through fw → lb → NAT to its responder and back, to completion on its own thread', async () => {
    const image = await buildFusedImage(PARTS, { store: store() });
    dp = ChainDataPlane.create(['web'], { instanceMode, bufferCount: 4096 });
    // One SYN per flow (a repeated SYN on an answered flow is invalid to the stateful firewall).
    const total = 2000;
    const replicas = await Promise.all(
      [0, 1].map((r) => dp!.addInstance(0, image, { shards: 2, ports: { inside: { type: 'generator', frames: syns(2 * total, r, 2), total }, outside: { type: 'responder' } } })),
    );
    // Every SYN is answered by a SYN-ACK that comes all the way back to the generator.
    expect(await until(() => replicas.every((i) => i.portCounters![LocalPortCounter.INSIDE_OUT] === total), 20_000)).toBe(true);
    for (const i of replicas) {
      const c = i.portCounters!;
      expect(c[LocalPortCounter.INSIDE_IN]).toBe(total);
      expect(c[LocalPortCounter.OUTSIDE_OUT]).toBe(total);
      expect(c[LocalPortCounter.OUTSIDE_IN]).toBe(total);
      // The fused pipeline's firewall block counted them both ways.
      expect(i.host.counters[BuiltinCounter.RX_INSIDE_PACKETS]).toBe(total);
      expect(i.host.counters[BuiltinCounter.TX_INSIDE_PACKETS]).toBe(total);
    }
    // The host moved nothing.
    expect(dp.traffic).toEqual({ enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 });
    expect(dp.passes).toBe(0);
    const { leaks } = await dp.shutdown();
    dp = undefined;
    expect(leaks).toEqual([]);
  }, 60_000);

  it('a single-function instance with a generator and a sink frees every frame, and an instance stopped mid-run leaks nothing', async () => {
    const image = await buildImage(passThrough, {}, { store: store() });
    dp = ChainDataPlane.create(['pass'], { instanceMode, bufferCount: 2048 });
    const inst = await dp.addInstance(0, image, { ports: { inside: { type: 'generator', frames: syns(64, 0, 1) }, outside: { type: 'sink' } } });
    expect(await until(() => inst.portCounters![LocalPortCounter.OUTSIDE_OUT] > 50_000, 20_000)).toBe(true);
    expect(inst.portCounters![LocalPortCounter.INSIDE_OUT]).toBe(0);
    const { leaks } = await dp.shutdown();
    dp = undefined;
    expect(leaks).toEqual([]);
  }, 60_000);
});
