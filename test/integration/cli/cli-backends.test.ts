import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import type { BackendStatus } from '../../../src/controller/backend-status.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { attachControllerMetrics } from '../../../src/controller/controller-metrics.ts';
import { NfvkitMetrics } from '../../../src/metrics/nfvkit-metrics.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { runCaptured, type CliRun } from '../../unit/cli/run-captured.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-cli-backends-'));
const FLOWS = 64;
const SPEC = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: cli-lb
spec:
  ingress: { type: generator, flows: ${FLOWS}, rate: 20000, protocol: udp, service: "198.18.2.100:53" }
  egress: { type: sink }
  placement: isolated
  functions:
    - name: lb
      function: load-balancer
      config:
        maglevTableSize: 251
        services:
          - name: dns
            vip: 198.18.2.100
            port: 53
            proto: udp
            backends: [{ address: 198.19.0.1 }, { address: 198.19.0.2 }, { address: 198.19.0.3 }]
      scaling: { min: 1, max: 2 }
      resources: { memory: 64Mi }
`;

let controller: Controller;
let server: ControllerServer;

beforeAll(async () => {
  controller = await Controller.create({ registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(join(dir, 'store')), warm: false, autoscale: false, deleteTimeoutMs: 100 });
  server = await startControllerServer(controller, { shutdownGraceMs: 500 });
  await controller.apply(SPEC, 'cli-lb.yaml');
});

afterAll(async () => {
  await server?.close();
  await controller?.close(0);
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]): Promise<CliRun> => runCaptured([...args, '--server', server.address]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rows(): Promise<BackendStatus[]> {
  const r = await cli(['backends', 'cli-lb', '-o', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as BackendStatus[];
}

async function until(what: string, test: (b: BackendStatus[]) => boolean, timeoutMs = 10_000): Promise<BackendStatus[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const now = await rows();
    if (test(now)) return now;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(now.map((b) => [b.backend, b.state, b.connections, b.newFlows]))}`);
    await sleep(50);
  }
}

const sum = (b: BackendStatus[], k: 'connections' | 'newFlows') => b.reduce((n, x) => n + x[k], 0);

describe('nfvkit backends against a real controller (load balancer, generated UDP flows)', () => {
  it('lists the backends as a table: state, health unchecked, live connections of every flow', async () => {
    const now = await until('every flow connected', (b) => sum(b, 'connections') === FLOWS);
    expect(now.map((b) => [b.service, b.backend, b.state, b.health, b.effective])).toEqual(['198.19.0.1:53', '198.19.0.2:53', '198.19.0.3:53'].map((x) => ['dns', x, 'active', 'unchecked', 'active']));
    expect(now.every((b) => b.connections > 0)).toBe(true);
    const text = await cli(['backends', 'list', 'cli-lb', '--function', 'lb']);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^SERVICE\s+BACKEND\s+STATE\s+HEALTH\s+EFFECTIVE\s+CONNS\s+NEW FLOWS\s+CHANGED\s+DETAIL$/);
    expect(text.stdout).toMatch(/dns\s+198\.19\.0\.3:53\s+active\s+unchecked\s+active\s+\d+/);
    // The same figures in /metrics.
    const metrics = new NfvkitMetrics();
    const detach = attachControllerMetrics(controller, metrics);
    const exposition = await metrics.registry.metrics();
    detach();
    const conns = [...exposition.matchAll(/^nfvkit_backend_connections\{chain="cli-lb",function="lb",service="dns",backend="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));
    expect(conns.length).toBe(3);
    expect(conns.reduce((a, b) => a + b, 0)).toBe(FLOWS);
    expect(exposition).toContain('nfvkit_backend_info{chain="cli-lb",function="lb",service="dns",backend="198.19.0.3:53",state="active",health="unchecked",effective="active"} 1');
  });

  it('drain keeps a backend’s flows; an instance booted later gives it no new flow; remove drops its flows, which go elsewhere', async () => {
    const drained = await cli(['backends', 'drain', 'cli-lb', 'dns', '198.19.0.3:53']);
    expect(drained.code, drained.stderr).toBe(0);
    expect(drained.stdout).toMatch(/^backend 198\.19\.0\.3:53 of cli-lb\/lb service dns: draining \(effective draining, \d+ connections?\)\n$/);
    const kept = (await rows())[2];
    expect(kept).toMatchObject({ state: 'draining', effective: 'draining' });
    expect(kept.connections).toBeGreaterThan(0);
    expect(controller.events.since(0).filter((e) => e.type === 'backend-state').map((e) => e.details)).toEqual([
      { service: 'dns', backend: '198.19.0.3:53', from: 'active', to: 'draining', effective: 'draining', source: 'SetBackendState' },
    ]);

    // A second instance boots after the drain, then the first one goes: every flow is new to the second.
    await controller.scaleFunction('cli-lb', 'lb', 2);
    const rt = controller.chain('cli-lb');
    const [first, second] = rt.stageOf('lb').live;
    expect(second?.state).toBe('active');
    await rt.dataPlane.drainInstance(first.id, 'test: leave the flows to the instance booted later', 100);
    const moved = await until('every flow on the later instance', (b) => sum(b, 'connections') === FLOWS && rt.stageOf('lb').live.every((i) => i !== first));
    expect(moved[2]).toMatchObject({ connections: 0, newFlows: 0 });

    const removed = await cli(['backends', 'remove', 'cli-lb', 'dns', '198.19.0.1:53', '-o', 'json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ backend: '198.19.0.1:53', state: 'removed', effective: 'removed' });
    const left = await until('flows of the removed backend balanced afresh', (b) => b[0].connections === 0 && b[1].connections === FLOWS);
    expect(left.map((b) => b.state)).toEqual(['removed', 'active', 'draining']);
    expect(rt.functionCounter('lb', 'backend_removed')).toBeGreaterThan(0);

    expect((await cli(['backends', 'activate', 'cli-lb', 'dns', '198.19.0.1:53'])).code).toBe(0);
    expect((await cli(['backends', 'activate', 'cli-lb', 'dns', '198.19.0.3:53'])).code).toBe(0);
    expect((await rows()).map((b) => b.effective)).toEqual(['active', 'active', 'active']);
  });

  it('exits 3 for an unknown chain, service or backend, 4 for a function without backends, 2 for a malformed line', async () => {
    expect((await cli(['backends', 'nope'])).code).toBe(3);
    const service = await cli(['backends', 'drain', 'cli-lb', 'web', '198.19.0.1:53']);
    expect(service.code).toBe(3);
    expect(service.stderr).toContain('has no service "web"; it has "dns"');
    expect((await cli(['backends', 'drain', 'cli-lb', 'dns', '198.19.0.9:53'])).code).toBe(3);
    expect((await cli(['backends', 'drain', 'cli-lb', 'dns'])).code).toBe(2);
    expect((await cli(['backends', 'cli-lb', 'extra'])).code).toBe(2);
    await controller.apply(SPEC.replace('name: cli-lb', 'name: cli-pass').replace(/functions:[\s\S]*$/, 'functions:\n    - { name: hop, function: pass-through }\n'), 'cli-pass.yaml');
    expect((await cli(['backends', 'cli-pass'])).code).toBe(4);
  });
});
