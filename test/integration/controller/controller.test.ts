import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../../src/controller/controller.ts';
import type { ChainEnd } from '../../../src/controller/chain-ends.ts';
import type { ControllerEvent } from '../../../src/controller/controller-api.ts';
import { createControllerClient, type ControllerClient } from '../../../src/grpc/controller-client.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { parseIpv4 } from '../../../src/packet/ipv4.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { TcpClientPort, TcpResponderPort, type ClientFlow } from '../../support/tcp-ports.ts';

const ip = (s: string): number => parseIpv4(s) as number;
const VIP = ip('198.18.2.100');

function spec(placement: Placement, extraRule = '', natMax = 2): string {
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: edge }
spec:
  ingress: { type: generator }
  egress: { type: sink }
  functions:
    - name: fw
      function: firewall
      config:
        defaultPolicy: drop
        rules:
          - { name: web, action: allow, side: inside, proto: tcp, dst: 198.18.2.100, dport: 80 }${extraRule}
      scaling: { min: 1, max: 3, drainTimeoutSeconds: 20 }
      resources: { memory: 64Mi }
    - name: nat
      function: nat
      config: { snat: { addresses: 198.18.3.1/32 } }
      scaling: { min: 1, max: ${natMax} }
      resources: { memory: 64Mi }
  placement: ${placement}
`;
}

/** Test ends: simulated TCP clients inside, simulated servers outside. */
function ends(client: TcpClientPort, server: TcpResponderPort) {
  const end = (port: TcpClientPort | TcpResponderPort): ChainEnd => ({ port, stats: () => ({}), close: async () => undefined });
  return { generator: async () => end(client), sink: async () => end(server) };
}

async function until(cond: () => boolean, timeoutMs: number, tick?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    tick?.();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The gRPC status name a call failed with. */
async function statusOf(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'OK',
    (err: { statusName?: string }) => err.statusName ?? String(err),
  );
}

type Placement = 'isolated' | 'fused';

/**
 * What differs between the placements (ARCHITECTURE.md "Placements"): isolated runs an image
 * and instance set per function, each scaled within its own bounds; fused runs one image of
 * both functions as replicas (stage `fused`) scaled together, any function's name scaling
 * them, within bounds that cover every function's (1..3 here: the most of the maxes).
 */
const PLACEMENTS = [
  { placement: 'isolated' as const, units: ['fw', 'nat'], unitOf: (fn: string) => fn, pastMax: 3 },
  { placement: 'fused' as const, units: ['fused'], unitOf: () => 'fused', pastMax: 4 },
];

describe.each(PLACEMENTS)('controller over gRPC: apply, scale, rolling update, delete with real instances ($placement placement)', ({ placement, units, unitOf, pastMax }) => {
  let controller: Controller;
  let server: ControllerServer;
  let rpc: ControllerClient;
  let store: string;
  const client = new TcpClientPort(VIP, 80);
  const servers = new TcpResponderPort();
  const events: ControllerEvent[] = [];

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'nfvkit-controller-'));
    controller = await Controller.create({
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(store),
      warm: false,
      autoscale: false,
      endFactories: ends(client, servers),
      sampleIntervalMs: 100,
    });
    server = await startControllerServer(controller);
    rpc = createControllerClient(`127.0.0.1:${server.port}`);
    void (async () => {
      for await (const e of rpc.watchEvents()) events.push(e);
    })();
  });
  afterAll(async () => {
    rpc?.close();
    await server?.close();
    await controller?.close(0);
    rmSync(store, { recursive: true, force: true });
  });

  it('answers health SERVING and rejects a broken spec with every issue, starting nothing', async () => {
    expect(await rpc.checkHealth()).toBe('SERVING');
    const broken = spec(placement).replace('max: 3', 'max: 0').replace('dport: 80', 'dport: 70000');
    const err = (await rpc.applyChain(broken, 'broken.yaml').catch((e: unknown) => e)) as { statusName: string; fieldViolations: { field: string; description: string }[] };
    expect(err.statusName).toBe('INVALID_ARGUMENT');
    expect(err.fieldViolations.map((v) => ({ field: v.field, description: v.description }))).toEqual([
      { field: 'spec.functions[0].config.rules[0].dport', description: 'broken.yaml:13:93 port out of range 0-65535' },
      { field: 'spec.functions[0].scaling.min', description: 'broken.yaml:14:23 min (1) > max (0)' },
      { field: 'spec.functions[0].scaling.max', description: 'broken.yaml:14:31 must be >= 1' },
    ]);
    expect(await rpc.listChains()).toEqual([]);
    expect(await statusOf(rpc.getChain('edge'))).toBe('NOT_FOUND');
    expect(events).toEqual([]);
  });

  it('applies a chain, is idempotent, scales within bounds and rolls a config change without losing a flow', async () => {
    const first = await rpc.applyChain(spec(placement), 'edge.yaml');
    expect(first.changed).toBe(true);
    expect(first.chain.phase).toBe('Ready');
    expect(first.chain.placement).toBe(placement);
    expect(first.chain.functions.map((f) => [f.name, f.readyReplicas])).toEqual([['fw', 1], ['nat', 1]]);
    // The event stream delivers asynchronously: let it catch up with the first apply before counting.
    await until(() => events.filter((e) => e.type === 'instance-ready').length >= units.length, 5000);
    const seqAfterApply = events.length;
    const again = await rpc.applyChain(spec(placement), 'edge.yaml');
    expect(again.changed).toBe(false);
    expect(again.chain.generation).toBe(1);
    expect(events.length).toBe(seqAfterApply);

    const flows: ClientFlow[] = Array.from({ length: 30 }, (_, i) => client.open(ip('198.18.1.10') + i, 30000 + i));
    const talk = () => {
      const open = flows.filter((f) => f.state === 'open');
      if (open.every((f) => f.acked === f.sent)) for (const f of open) client.send(f);
    };
    await until(() => flows.every((f) => f.state === 'open' && f.acked >= 2), 10_000, talk);

    expect(await statusOf(rpc.scaleFunction('edge', 'nat', pastMax))).toBe('FAILED_PRECONDITION');
    expect(await statusOf(rpc.scaleFunction('edge', 'nope', 1))).toBe('NOT_FOUND');
    expect(await statusOf(rpc.scaleFunction('nope', 'fw', 1))).toBe('NOT_FOUND');
    const fw = await rpc.scaleFunction('edge', 'fw', 2);
    expect(fw).toMatchObject({ desiredReplicas: 2, readyReplicas: 2 });
    expect((await rpc.listInstances('edge')).filter((i) => i.function === unitOf('fw')).map((i) => i.state)).toEqual(['ready', 'ready']);
    // Fused: nat's replicas are fw's (one unit); isolated: nat kept its one instance.
    expect((await rpc.getChain('edge')).functions.map((f) => [f.name, f.readyReplicas])).toEqual([['fw', 2], ['nat', placement === 'fused' ? 2 : 1]]);

    // A rule-set change that still allows the flows: new image, new instances, old ones drain.
    const oldImage = (await rpc.getChain('edge')).functions[0].imageId;
    const updated = await rpc.applyChain(spec(placement, "\n          - { name: tls, action: allow, side: inside, proto: tcp, dport: 443 }"), 'edge.yaml');
    expect(updated.changed).toBe(true);
    expect(updated.chain.generation).toBe(2);
    const newImage = updated.chain.functions[0].imageId;
    expect(newImage).not.toBe(oldImage);
    // Fused: the firewall's change rebuilt the one image of both; isolated: nat's image stayed.
    if (placement === 'fused') expect(updated.chain.functions[1].imageId).toBe(newImage);
    else expect(updated.chain.functions[1].imageId).not.toBe(newImage);
    const fwInstances = () => controller.listInstances('edge').filter((i) => i.function === unitOf('fw'));
    expect(fwInstances().filter((i) => i.imageId === newImage && i.state === 'ready')).toHaveLength(2);
    expect(fwInstances().filter((i) => i.imageId === oldImage).every((i) => i.state === 'draining')).toBe(true);

    // Established flows keep working on the draining instances, new flows go to the new image.
    const target = Math.max(...flows.map((f) => f.sent)) + 3;
    await until(() => flows.every((f) => f.acked >= target), 10_000, talk);
    const late = Array.from({ length: 10 }, (_, i) => client.open(ip('198.18.1.100') + i, 31000 + i));
    await until(() => late.every((f) => f.state === 'open'), 10_000, talk);
    const dp = controller.chain('edge').dataPlane;
    for (const f of late) expect(dp.pinnedInstance(0, f.srcIp, VIP, f.sport, 80, 6)?.manifest.id).toBe(newImage);

    // When the old flows end, the old instances stop.
    for (const f of flows) client.close(f);
    await until(() => fwInstances().every((i) => i.imageId === newImage), 15_000, talk);
    expect(flows.every((f) => f.state === 'closed' && f.acked === f.sent && f.wrongSource === 0)).toBe(true);
    for (const f of flows) expect(servers.tuples.get(f.id)?.size).toBe(1);
    expect(dp.dropped()).toBe(0);

    const live = controller.listInstances('edge').map((i) => i.id).sort();
    // A row per instance; a fused replica has one per function it runs (each part's own counter block).
    const rowsOf = (ids: string[]) => (placement === 'fused' ? ids.flatMap((id) => [`${id}/fw`, `${id}/nat`]) : ids);
    let snapshots = 0;
    for await (const snapshot of rpc.streamStats({ chain: 'edge', intervalMs: 100 })) {
      const ids = snapshot.instances.map((r) => r.instance).sort();
      if (JSON.stringify(ids) === JSON.stringify(rowsOf(live)) && snapshot.instances.some((r) => r.rxPps > 0)) {
        for (const r of snapshot.instances) expect(r.instance.endsWith(`/${r.function}`) || r.instance.startsWith(`edge/${r.function}-`), r.instance).toBe(true);
        break;
      }
      if (++snapshots > 30) throw new Error(`stats never showed ${rowsOf(live).join(', ')} with traffic: ${JSON.stringify(snapshot.instances)}`);
      for (const f of late) client.send(f);
    }

    const kinds = events.map((e) => `${e.type}${e.function ? ':' + e.function : ''}`);
    // An image per unit (the fused one of fw and nat), then one boot and ready per unit.
    expect(kinds.slice(0, units.length + 1)).toEqual([...units.map((u) => `image-built:${u}`), 'applied']);
    const booted = kinds.slice(units.length + 1, 3 * units.length + 1);
    expect([...booted].sort()).toEqual(units.flatMap((u) => [`instance-booted:${u}`, `instance-ready:${u}`]).sort());
    for (const u of units) expect(kinds.indexOf(`instance-booted:${u}`)).toBeLessThan(kinds.indexOf(`instance-ready:${u}`));
    expect(kinds).toContain('scaled:fw');
    const rolled = events.findIndex((e) => e.type === 'applied' && e.reason.startsWith('rolling update'));
    expect(rolled).toBeGreaterThan(0);
    const afterRoll = kinds.slice(rolled);
    const fwUnit = unitOf('fw');
    expect(afterRoll.indexOf(`instance-ready:${fwUnit}`)).toBeLessThan(afterRoll.indexOf(`instance-draining:${fwUnit}`));
    expect(afterRoll.indexOf(`instance-draining:${fwUnit}`)).toBeLessThan(afterRoll.indexOf(`instance-stopped:${fwUnit}`));

    for (const f of late) client.close(f);
    await rpc.deleteChain('edge');
    expect(await rpc.listChains()).toEqual([]);
    await until(() => events.at(-1)?.type === 'deleted', 2000);
    expect(events.at(-1)).toMatchObject({ type: 'deleted', chain: 'edge', details: { leakedBuffers: '0' } });
    expect(await statusOf(rpc.deleteChain('edge'))).toBe('NOT_FOUND');
  }, 90_000);
});
