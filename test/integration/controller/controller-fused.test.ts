import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Controller } from '../../../src/controller/controller.ts';
import type { ChainEnd } from '../../../src/controller/chain-ends.ts';
import { resolvePlacement } from '../../../src/controller/placement.ts';
import type { ControllerClient } from '../../../src/grpc/controller-client.ts';
import { parseIpv4 } from '../../../src/packet/ipv4.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { startControllerHarness, type ControllerHarness } from '../../support/controller-harness.ts';
import { TcpClientPort, TcpResponderPort, type ClientFlow } from '../../support/tcp-ports.ts';

const ip = (s: string): number => parseIpv4(s) as number;
const VIP = ip('198.18.2.100');

function spec(extraRule = '', placement = 'fused'): string {
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: edge }
spec:
  ingress: { type: generator }
  egress: { type: sink }
  placement: ${placement}
  functions:
    - name: fw
      function: firewall
      config:
        defaultPolicy: drop
        rules:
          - { name: web, action: allow, side: inside, proto: tcp, dst: 198.18.2.100, dport: 80 }${extraRule}
      scaling: { min: 1, max: 3, drainTimeoutSeconds: 20 }
    - name: nat
      function: nat
      config: { snat: { addresses: 198.18.3.1/32 } }
      scaling: { min: 1, max: 2 }
`;
}

async function until(cond: () => boolean, timeoutMs: number, tick?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    tick?.();
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('spec.placement', () => {
  const registry = registerBuiltinFunctions(new FunctionRegistry());
  it('auto fuses a chain when the cores cannot give every busy thread its own, and keeps one function or prebuilt images isolated', () => {
    const chain = parseChainSpec(spec('', 'auto'), 'edge.yaml', registry).spec;
    expect(resolvePlacement(chain, 2)).toEqual({ placement: 'fused', reason: 'auto: 2 cores for 3 busy threads if isolated' });
    expect(resolvePlacement(chain, 8)).toEqual({ placement: 'isolated', reason: 'auto: 8 cores give each of 3 busy threads its own' });
    expect(resolvePlacement({ ...chain, functions: chain.functions.slice(0, 1) }, 1).placement).toBe('isolated');
    expect(resolvePlacement({ ...chain, placement: 'isolated' }, 1)).toEqual({ placement: 'isolated', reason: 'spec.placement: isolated' });
  });

  it('refuses fused placement of a prebuilt image, with its position', () => {
    const text = spec().replace('      function: nat\n      config: { snat: { addresses: 198.18.3.1/32 } }', '      image: 0123456789ab');
    expect(() => parseChainSpec(text, 'edge.yaml', registry)).toThrow(/edge\.yaml:\d+:\d+ .*fused placement compiles every function into one image/);
  });
});

describe('controller with fused placement: one image, replicas scaled together, every function still seen', () => {
  let h: ControllerHarness;
  let controller: Controller;
  let rpc: ControllerClient;
  const client = new TcpClientPort(VIP, 80);
  const servers = new TcpResponderPort();

  beforeAll(async () => {
    const end = (port: TcpClientPort | TcpResponderPort): ChainEnd => ({ port, stats: () => ({}), close: async () => undefined });
    h = await startControllerHarness('controller-fused', { endFactories: { generator: async () => end(client), sink: async () => end(servers) }, sampleIntervalMs: 100 });
    ({ controller, rpc } = h);
  });
  afterAll(() => h?.close());

  it('applies, carries flows, scales by any function name, rolls a config change without losing a flow, and deletes cleanly', async () => {
    const first = await rpc.applyChain(spec(), 'edge.yaml');
    expect(first.chain).toMatchObject({ phase: 'Ready', placement: 'fused', placementReason: 'spec.placement: fused' });
    expect(first.chain.functions.map((f) => [f.name, f.function, f.readyReplicas, f.min, f.max])).toEqual([
      ['fw', 'firewall', 1, 1, 3],
      ['nat', 'nat', 1, 1, 3],
    ]);
    const image = first.chain.functions[0].imageId;
    expect(first.chain.functions[1].imageId).toBe(image);
    expect((await rpc.listInstances('edge')).map((i) => [i.id, i.function, i.state])).toEqual([['edge/fused-0', 'fused', 'ready']]);

    const flows: ClientFlow[] = Array.from({ length: 30 }, (_, i) => client.open(ip('198.18.1.10') + i, 30000 + i));
    const talk = () => {
      const open = flows.filter((f) => f.state === 'open');
      if (open.every((f) => f.acked === f.sent)) for (const f of open) client.send(f);
    };
    await until(() => flows.every((f) => f.state === 'open' && f.acked >= 2), 10_000, talk);

    // Per-function rates from each function's block of the replica's counters.
    await until(() => {
      talk();
      const rates = controller.sampleStats();
      return ['fw', 'nat'].every((fn) => rates.some((r) => r.function === fn && r.rxPps > 0));
    }, 10_000);

    // Scaling any function scales the replicas (the NAT shard of each replica keeps ports apart).
    const scaled = await rpc.scaleFunction('edge', 'nat', 2);
    expect(scaled).toMatchObject({ desiredReplicas: 2, readyReplicas: 2 });
    expect((await rpc.getChain('edge')).functions.map((f) => f.desiredReplicas)).toEqual([2, 2]);
    const more = Array.from({ length: 30 }, (_, i) => client.open(ip('198.18.1.100') + i, 31000 + i));
    const everyone = () => [...flows, ...more];
    const talkAll = () => {
      const open = everyone().filter((f) => f.state === 'open');
      if (open.every((f) => f.acked === f.sent)) for (const f of open) client.send(f);
    };
    await until(() => more.every((f) => f.state === 'open' && f.acked >= 2), 10_000, talkAll);
    const dp = controller.chain('edge').dataPlane;
    expect(new Set(everyone().map((f) => dp.pinnedInstance(0, f.srcIp, VIP, f.sport, 80, 6)?.id))).toEqual(new Set(['fused-0', 'fused-1']));

    // A firewall rule change rebuilds the fused image; established flows finish on the old replicas.
    const updated = await rpc.applyChain(spec("\n          - { name: tls, action: allow, side: inside, proto: tcp, dport: 443 }"), 'edge.yaml');
    expect(updated.chain.generation).toBe(2);
    const newImage = updated.chain.functions[0].imageId;
    expect(newImage).not.toBe(image);
    expect(updated.chain.functions[1].imageId).toBe(newImage);
    const target = Math.max(...everyone().map((f) => f.sent)) + 3;
    await until(() => everyone().every((f) => f.acked >= target), 10_000, talkAll);
    for (const f of everyone()) client.close(f);
    await until(() => controller.listInstances('edge').every((i) => i.imageId === newImage), 20_000, talkAll);
    expect(everyone().every((f) => f.state === 'closed' && f.wrongSource === 0)).toBe(true);
    for (const f of everyone()) expect(servers.tuples.get(f.id)?.size).toBe(1);
    expect(dp.dropped()).toBe(0);

    const describe = await rpc.getChain('edge');
    expect(describe.placement).toBe('fused');
    await rpc.deleteChain('edge');
    expect(await rpc.listChains()).toEqual([]);
  }, 90_000);
});
