import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { attachControllerMetrics } from '../../../src/controller/controller-metrics.ts';
import { createControllerClient, type ControllerClient } from '../../../src/grpc/controller-client.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { startMetricsServer, type MetricsServer } from '../../../src/metrics/metrics-server.ts';
import { NfvkitMetrics } from '../../../src/metrics/nfvkit-metrics.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { SPEC_LIMITS } from '../../../src/spec/spec-limits.ts';
import { idleLag, lagBudgetMs, withLagProbe, type LagFigures } from '../../support/lag-probe.ts';

const L = SPEC_LIMITS;
const packetSize = 1514;
const flows = Math.floor(L.generatorFrameBytes.value / packetSize);

/**
 * The largest spec the limits allow, as far as the controller's own work goes: 64 labels,
 * as many firewalls of `configListItems` rules as `specBytes` holds (13), each its own
 * image and stage, `scaling.max` summing to `instancesPerChain`, and a generator of
 * `generatorFrameBytes`. Each function starts with one instance (fused: one replica of all).
 */
function largestSpec(name: string, placement: 'isolated' | 'fused'): { text: string; functions: number } {
  const rules = Array.from({ length: L.configListItems.value }, (_, i) => `            - { action: allow, proto: tcp, src: 10.${(i >> 8) & 255}.${i & 255}.0/24, dport: ${1 + i} }`).join('\n');
  const make = (n: number): string => {
    const max = (k: number): number => Math.floor(L.instancesPerChain.value / n) + (k < L.instancesPerChain.value % n ? 1 : 0);
    const functions = Array.from({ length: n }, (_, k) => `    - name: fw${k}\n      function: firewall\n      scaling: { min: 1, max: ${max(k)} }\n      resources: { memory: 64Mi }\n      config:\n        rules:\n${rules}`);
    return [
      'apiVersion: nfvkit.dev/v1',
      'kind: ServiceFunctionChain',
      'metadata:',
      `  name: ${name}`,
      '  labels:',
      ...Array.from({ length: L.labels.value }, (_, i) => `    label-${i}: value-${i}`),
      'spec:',
      `  ingress: { type: generator, flows: ${flows}, packetSize: ${packetSize}, protocol: tcp, clients: 198.18.0.0/16, service: "198.18.2.100:80", rate: 2000 }`,
      '  egress: { type: sink }',
      `  placement: ${placement}`,
      '  functions:',
      ...functions,
      '',
    ].join('\n');
  };
  let n = 1;
  while (n < L.functionsPerChain.value && Buffer.byteLength(make(n + 1)) <= L.specBytes.value) n++;
  return { text: make(n), functions: n };
}

// Fused: the firewalls compiled into one image run by one replica (ARCHITECTURE.md "Placements").
describe.each(['isolated', 'fused'] as const)('the largest allowed spec applies while the controller stays responsive (issue 13 item 2; %s placement)', (placement) => {
  let dir: string;
  let controller: Controller;
  let server: ControllerServer;
  let rpc: ControllerClient;
  let metricsServer: MetricsServer;
  let detachMetrics: () => void;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nfvkit-largest-'));
    controller = await Controller.create({
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(join(dir, 'images')),
      dataDir: { dataDir: join(dir, 'data') },
      warm: false,
      autoscale: false,
      imageGc: false,
      deleteTimeoutMs: 100,
    });
    const metrics = new NfvkitMetrics();
    detachMetrics = attachControllerMetrics(controller, metrics);
    metricsServer = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0 });
    server = await startControllerServer(controller);
    rpc = createControllerClient(`127.0.0.1:${server.port}`);
  });
  afterAll(async () => {
    rpc?.close();
    await server?.close();
    detachMetrics?.();
    await metricsServer?.close();
    await controller?.close(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('ApplyChain of the largest spec over gRPC: every ListChains and /metrics call answered meanwhile, event-loop p99 lag within 50 ms', async () => {
    const { text, functions } = largestSpec('largest', placement);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(L.specBytes.value);
    expect(functions).toBeGreaterThanOrEqual(12);
    const attempts: { lag: LagFigures; idle: LagFigures; budgetMs: number; calls: number; slowestMs: number; applyMs: number }[] = [];
    // A shared machine's bursts from other processes are not the apply's lag: up to three
    // applies (the first builds the images), each measured against an idle loop as long.
    for (let attempt = 1; attempt <= 3; attempt++) {
      let applying = true;
      const answered: number[] = [];
      let scrapes = 0;
      const failures: unknown[] = [];
      const started = performance.now();
      const { result, lag } = await withLagProbe(async () => {
        // ListChains every 50 ms; /metrics every second (a scrape of a chain of 13 instances
        // formats its series on the loop: ~20 ms, Prometheus asks every 15 s).
        const probe = (async () => {
          let lastScrape = -Infinity;
          while (applying) {
            const t0 = performance.now();
            try {
              await rpc.listChains();
              if (t0 - lastScrape >= 1000) {
                lastScrape = t0;
                const res = await fetch(metricsServer.url);
                expect(res.status).toBe(200);
                expect(await res.text()).toContain('nfvkit_');
                scrapes++;
              }
              answered.push(performance.now() - t0);
            } catch (err) {
              failures.push(err);
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })();
        try {
          return await rpc.applyChain(text, 'largest.yaml');
        } finally {
          applying = false;
          await probe;
        }
      });
      const applyMs = performance.now() - started;
      const idle = await idleLag(Math.max(500, applyMs));
      expect(failures).toEqual([]);
      expect(result.changed).toBe(true);
      expect(result.chain.functions).toHaveLength(functions);
      const listed = await rpc.listChains();
      expect(listed.map((c) => c.name)).toEqual(['largest']);
      const instances = controller.listInstances('largest');
      expect(instances.filter((i) => i.state === 'ready')).toHaveLength(placement === 'fused' ? 1 : functions);
      attempts.push({ lag, idle, budgetMs: lagBudgetMs(idle), calls: answered.length, slowestMs: Math.max(...answered), applyMs });
      console.log(
        `largest spec, ${placement} (${Buffer.byteLength(text)} B: ${functions} firewalls × ${L.configListItems.value} rules, ${flows} generator flows × ${packetSize} B) attempt ${attempt}: apply ${applyMs.toFixed(0)} ms; ` +
          `lag p99 ${lag.p99Ms.toFixed(1)} ms, max ${lag.maxMs.toFixed(1)} ms; idle p99 ${idle.p99Ms.toFixed(1)} ms; budget ${lagBudgetMs(idle).toFixed(1)} ms; ` +
          `${answered.length} ListChains and ${scrapes} /metrics answered, slowest ${Math.max(...answered).toFixed(0)} ms`,
      );
      expect(answered.length).toBeGreaterThanOrEqual(3);
      expect(scrapes).toBeGreaterThanOrEqual(2);
      await rpc.deleteChain('largest');
      if (lag.p99Ms < lagBudgetMs(idle)) break;
    }
    const last = attempts[attempts.length - 1];
    expect(last.lag.p99Ms).toBeLessThan(last.budgetMs);
  }, 300_000);
});
