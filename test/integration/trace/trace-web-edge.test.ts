import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import { createControllerClient } from '../../../src/grpc/controller-client.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import type { PacketTraceView } from '../../../src/trace/trace-session.ts';
import { runCaptured } from '../../unit/cli/run-captured.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-trace-it-'));
const topology = parseYaml(readFileSync(new URL('../../../topologies/web-edge.yaml', import.meta.url), 'utf8')) as Record<string, any>;

/** web-edge as the topology declares it, with its clients' SYNs paced so a trace started after the apply meets some. */
function webEdge(name: string, placement: 'isolated' | 'fused'): string {
  const spec = structuredClone(topology);
  spec.metadata.name = name;
  spec.spec.placement = placement;
  spec.spec.ingress.rate = 400;
  return stringify(spec);
}

let controller: Controller;
let server: ControllerServer;

beforeAll(async () => {
  // Host ends: these tests watch frames enter and leave the chain through the host (ends in the replicas: test/integration/controller/replica-ends.test.ts).
  controller = await Controller.create({ registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(join(dir, 'store')), warm: false, deleteTimeoutMs: 100, endsInReplicas: false });
  server = await startControllerServer(controller, { shutdownGraceMs: 500 });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await controller?.close(0);
  rmSync(dir, { recursive: true, force: true });
});

async function traceOne(chain: string, filter: string): Promise<PacketTraceView[]> {
  const client = createControllerClient(server.address);
  try {
    const got: PacketTraceView[] = [];
    for await (const p of client.trace(chain, { count: 1, filter, timeoutMs: 8000 })) got.push(p);
    return got;
  } finally {
    client.close();
  }
}

function checkSyn(p: PacketTraceView): void {
  expect(p.entered).toBe('inside');
  expect(p.packet).toMatch(/^tcp 198\.18\.1\.\d+:\d+ > 198\.18\.2\.100:80 \[S\] len \d+$/);
  expect(p.functions.map((f) => f.function)).toEqual(['fw', 'lb', 'nat']);
  const [fw, lb, nat] = p.functions;
  expect(fw.arrived).toBe('inside');
  expect(fw.steps.map((s) => s.element)).toEqual(['parse-frame', 'firewall']);
  expect(fw.steps[1]).toMatchObject({ verdict: 'outside', dropReason: '', notes: ['rule 0 (web): allow'], rewrites: [] });
  const balance = lb.steps[lb.steps.length - 1];
  expect(balance).toMatchObject({ element: 'lb-maglev', verdict: 'outside' });
  expect(balance.notes).toContain('connection new, balanced by Maglev');
  const backend = balance.notes.find((n) => n.startsWith('backend '))!;
  expect(backend).toMatch(/^backend 198\.18\.3\.1[123]:8080\/tcp of service web$/);
  const address = /198\.18\.3\.1[123]/.exec(backend)![0];
  expect(balance.rewrites).toEqual([`ip.dst 198.18.2.100 -> ${address}`, 'tcp.dport 80 -> 8080']);
  expect(nat.packet).toContain(`> ${address}:8080 [S]`);
  const mapping = nat.steps[nat.steps.length - 1];
  expect(mapping.verdict).toBe('outside');
  expect(mapping.rewrites[0]).toMatch(/^ip\.src 198\.18\.1\.\d+ -> 198\.18\.3\.1$/);
  expect(mapping.rewrites[1]).toMatch(/^tcp\.sport \d+ -> \d+$/);
}

describe('trace through web-edge (firewall → load balancer → NAT)', () => {
  it('names the firewall rule, the LB backend and the NAT mapping of a SYN, isolated (an instance per function)', async () => {
    await controller.apply(webEdge('web-edge-iso', 'isolated'), 'web-edge.yaml');
    const [p] = await traceOne('web-edge-iso', 'tcp and syn and not ack');
    expect(p).toBeDefined();
    checkSyn(p);
    expect(p.functions.map((f) => f.instance)).toEqual(['web-edge-iso/fw-0', 'web-edge-iso/lb-0', 'web-edge-iso/nat-0']);
    // Off again once the trace is done: no instance is left in its tracing variant.
    for (const inst of controller.chain('web-edge-iso').dataPlane.instances()) expect(inst.host.traceArea[0]).toBe(0);
  }, 90_000);

  it('does the same in a fused replica, and prints it VPP style from the command line', async () => {
    await controller.apply(webEdge('web-edge-fused', 'fused'), 'web-edge.yaml');
    const [p] = await traceOne('web-edge-fused', 'tcp and syn and not ack');
    expect(p).toBeDefined();
    checkSyn(p);
    expect(new Set(p.functions.map((f) => f.instance))).toEqual(new Set(['web-edge-fused/fused-0']));

    const r = await runCaptured(['trace', 'web-edge-fused', '-c', '1', '--timeout', '8s', 'tcp', 'and', 'syn', 'and', 'not', 'ack', '--server', server.address]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Packet 1\n {2}\d\d:\d\d:\d\d\.\d{3} entered inside: tcp 198\.18\.1\.\d+:\d+ > 198\.18\.2\.100:80 \[S\]/);
    expect(r.stdout).toMatch(/\n {2}fw \(web-edge-fused\/fused-0\) arrived inside: /);
    expect(r.stdout).toMatch(/\n {4}firewall +-> outside\n +rule 0 \(web\): allow\n/);
    expect(r.stdout).toMatch(/\n +backend 198\.18\.3\.1[123]:8080\/tcp of service web\n +rewrote ip\.dst 198\.18\.2\.100 -> 198\.18\.3\.1[123]\n/);
    expect(r.stdout).toMatch(/\n +rewrote ip\.src 198\.18\.1\.\d+ -> 198\.18\.3\.1\n/);
  }, 90_000);

  it('shows a drop with its reason', async () => {
    await controller.apply(
      `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: fw-drop }
spec:
  placement: isolated
  ingress: { type: generator, protocol: udp, flows: 16, clients: 198.18.1.0/24, service: "198.18.2.100:53", rate: 2000 }
  egress: { type: sink }
  functions:
    - name: fw
      function: firewall
      config: { defaultPolicy: drop, rules: [{ name: web, action: allow, proto: tcp, dport: 80 }] }
`,
      'fw-drop.yaml',
    );
    const [p] = await traceOne('fw-drop', 'udp');
    expect(p.functions).toHaveLength(1);
    expect(p.functions[0].steps[1]).toMatchObject({ element: 'firewall', verdict: 'drop', dropReason: 'default_policy', notes: ['rule none: default policy'] });
    const r = await runCaptured(['trace', 'fw-drop', '-c', '2', 'udp', '--server', server.address]);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/firewall +-> drop \(default_policy\)/g)).toHaveLength(2);
  }, 60_000);

  it('refuses a second trace and a bad filter, and ends empty when nothing matches', async () => {
    // Replies to the clients enter from the outside; none matches a filter on a client source, so a trace of one ends empty at its timeout.
    const none = await runCaptured(['trace', 'web-edge-iso', '-c', '1', '--timeout', '300ms', 'src', 'host', '203.0.113.1', '--server', server.address]);
    expect(none.code).toBe(0);
    expect(none.stderr).toBe('0 of 1 packet traced before the timeout\n');
    const bad = await runCaptured(['trace', 'web-edge-iso', 'tcp', 'and', '--server', server.address]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/filter: column 8: expected a primitive/);
    const first = controller.openTrace('web-edge-iso', { count: 1, filter: 'host 203.0.113.9', timeoutMs: 5000 });
    try {
      expect(() => controller.openTrace('web-edge-iso', { count: 1 })).toThrow(/a trace is already running on chain "web-edge-iso"/);
    } finally {
      first.close();
    }
  }, 30_000);
});
