/**
 * The chain's HTTP throughput at saturation with a fixed number of replicas (the `scale`
 * suite's "max replicas ÷ min replicas" figure).
 *
 * One web lab per measurement (client and three HTTP servers in network namespaces, VXLAN
 * to the chain in this process), the web-edge chain applied with every function held at
 * `replicas` (autoscaler off), then autocannon in the client namespace with no rate limit
 * (keep-alive, `connections` connections) for a warm-up and a measured window. What the
 * servers answered in the window is the chain's throughput; failed requests and TCP resets
 * are counted; the chain must leak no buffer. Everything it starts is removed in `finally`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { startWebEdgeChain, type WebEdgeChain } from '../../src/netlab/web-edge-chain.ts';
import { WebLab, type WebChainSpecOptions } from '../../src/netlab/web-lab.ts';
import { FunctionRegistry } from '../../src/pipeline/function-registry.ts';
import { tcpMib, tcpMibDelta } from './tcp-mib.ts';
import { TrafficAgent } from './traffic-agent-client.ts';

/** What `measureSaturation` is asked to run. */
export interface SaturationOptions {
  /** Replicas of every function (isolated) or of the chain (fused). */
  readonly replicas: number;
  readonly placement: NonNullable<WebChainSpecOptions['placement']>;
  /** autocannon connections (keep-alive, no reconnects). */
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
}

/** One saturation measurement. */
export interface SaturationResult {
  readonly replicas: number;
  /** The placement the controller chose, and why. */
  readonly placement: string;
  /** Requests answered per second in the measured window. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Failed requests over warm-up and window. */
  readonly failed: number;
  /** TCP EstabResets in the client and server namespaces. */
  readonly resets: number;
  /** Ready instances of each function while measured (`fw 2, lb 2, nat 2`). */
  readonly instances: string;
  readonly leakedBuffers: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Far above what the machine serves: autocannon sends as fast as answers come back. */
const UNLIMITED_RATE = 1_000_000;

/** Runs one saturation measurement (see the module documentation). */
export async function measureSaturation(options: SaturationOptions, progress: (line: string) => void): Promise<SaturationResult> {
  const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-saturation-'));
  const web = await WebLab.create({ prefix: 'nfvt' });
  let edge: WebEdgeChain | undefined;
  let agent: TrafficAgent | undefined;
  try {
    const fixed = { min: options.replicas, max: options.replicas };
    edge = await startWebEdgeChain(web, {
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(storeDir),
      name: 'web-edge-saturation',
      placement: options.placement,
      scaling: { fw: fixed, lb: fixed, nat: fixed },
    });
    const placement = `${edge.runtime.placement.placement} (${edge.runtime.placement.reason})`;
    agent = await TrafficAgent.start(web.lab, web.client, { sampleMs: 250 });
    const namespaces = [web.client, ...web.backends.map((b) => b.ns)];
    const before = await Promise.all(namespaces.map((ns) => tcpMib(web.lab, ns)));
    await agent.loadAutocannon({ url: web.targets.chain, connections: options.connections, rate: UNLIMITED_RATE });
    await sleep(options.warmupSeconds * 1000);
    const start = await agent.totals();
    const t0 = performance.now();
    await sleep(options.seconds * 1000);
    const end = await agent.totals();
    const elapsed = (performance.now() - t0) / 1000;
    const latency = await agent.latency(start.latencyMark);
    const instances = edge.controller.getChain('web-edge-saturation').functions.map((f) => `${f.name} ${f.readyReplicas}`).join(', ');
    const totals = await agent.stopLoad();
    const after = await Promise.all(namespaces.map((ns) => tcpMib(web.lab, ns)));
    const resets = after.reduce((n, m, i) => n + tcpMibDelta(before[i], m).EstabResets, 0);
    const ac = totals.autocannon;
    const failed = totals.totals.failed + ac.reduce((n, s) => n + s.errors + s.non2xx, 0);
    const rps = (end.totals.ok - start.totals.ok) / elapsed;
    progress(`  ${options.replicas} replica(s), ${placement}: ${Math.round(rps)} req/s, p50/p99 ${latency.p50.toFixed(2)}/${latency.p99.toFixed(2)} ms, ${failed} failed; ${instances}`);
    await agent.stop();
    agent = undefined;
    const { leakedBuffers } = await edge.close(500);
    edge = undefined;
    return { replicas: options.replicas, placement, rps, p50Ms: latency.p50, p99Ms: latency.p99, failed, resets, instances, leakedBuffers };
  } finally {
    await agent?.stop().catch(() => undefined);
    await edge?.close(0).catch(() => undefined);
    await web.destroy();
    rmSync(storeDir, { recursive: true, force: true });
  }
}
