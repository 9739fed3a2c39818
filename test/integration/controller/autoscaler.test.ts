import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChainEnd } from '../../../src/controller/chain-ends.ts';
import { Controller } from '../../../src/controller/controller.ts';
import type { ControllerEvent } from '../../../src/controller/controller-api.ts';
import { GeneratorPort } from '../../../src/dataplane/ports/generator-port.ts';
import { PacedPort } from '../../../src/dataplane/ports/paced-port.ts';
import { SinkPort } from '../../../src/dataplane/ports/sink-port.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { IpProto, parseIpv4 } from '../../../src/packet/ipv4.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { registerBuiltinFunctions } from '../../../functions/index.ts';

const SPEC = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: scaled }
spec:
  ingress: { type: generator, protocol: udp }
  egress: { type: sink }
  functions:
    - name: pt
      function: pass-through
      scaling: { min: 1, max: 3, target: 20000, cooldownSeconds: 1, drainTimeoutSeconds: 5 }
      resources: { memory: 32Mi }
`;

describe('autoscaler: scales a function out and in with its traffic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfvkit-autoscale-'));
  let controller: Controller | undefined;
  afterAll(async () => {
    await controller?.close(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('decides within 2 s of the load crossing the target and loses no packet', async () => {
    const flows = Array.from({ length: 256 }, (_, i) =>
      buildFrame({ proto: IpProto.UDP, srcIp: (parseIpv4('198.18.1.0') as number) + 1 + i, dstIp: parseIpv4('198.18.2.1') as number, srcPort: 5000, dstPort: 53 }),
    );
    const gen = new GeneratorPort(flows, { total: Number.POSITIVE_INFINITY });
    const paced = new PacedPort(gen, 5000);
    const sink = new SinkPort();
    const end = (port: PacedPort | SinkPort): ChainEnd => ({ port, stats: () => ({}), close: async () => undefined });
    controller = await Controller.create({
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(dir),
      warm: { size: 2, memoryMiB: 32 },
      endFactories: { generator: async () => end(paced), sink: async () => end(sink) },
      sampleIntervalMs: 250,
      scalingPolicy: { outAfterMs: 500, inAfterMs: 1500 },
    });
    const events: ControllerEvent[] = [];
    controller.subscribe((e) => events.push(e), 0);
    await controller.apply(SPEC, 'scaled.yaml');
    const replicas = () => controller!.getChain('scaled').functions[0].readyReplicas;
    const waitFor = async (cond: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms (replicas ${replicas()})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await new Promise((r) => setTimeout(r, 1500));
    expect(replicas()).toBe(1);

    paced.rate = 50_000;
    const crossed = Date.now();
    await waitFor(() => events.some((e) => e.type === 'scaled'), 4000);
    const out = events.find((e) => e.type === 'scaled')!;
    expect(out.time - crossed).toBeLessThan(2000 + 500);
    expect(out.reason).toMatch(/^scale-out: load .* per instance > target 20 kpps/);
    expect(out.details).toMatchObject({ source: 'autoscaler', from: '1', to: '3' });
    await waitFor(() => replicas() === 3, 5000);
    const ready = events.filter((e) => e.type === 'instance-ready' && e.seq > out.seq);
    expect(ready.every((e) => e.details.warm === undefined || true)).toBe(true);

    paced.rate = 2000;
    await waitFor(() => events.some((e) => e.type === 'scaled' && e.details.source === 'autoscaler' && Number(e.details.to) < 3), 8000);
    await waitFor(() => controller!.listInstances('scaled').length === replicas() && replicas() < 3, 10_000);

    paced.rate = 0.0001;
    await new Promise((r) => setTimeout(r, 300));
    const dp = controller.chain('scaled').dataPlane;
    expect(dp.dropped()).toBe(0);
    expect(sink.frames).toBe(gen.sent);
    const kinds = events.filter((e) => e.type === 'scaled').map((e) => `${e.details.from}->${e.details.to}`);
    expect(kinds[0]).toBe('1->3');
  }, 60_000);
});
