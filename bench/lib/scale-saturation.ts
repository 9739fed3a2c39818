/**
 * The chain's HTTP throughput at saturation with a fixed number of replicas (the `scale`
 * suite's "max replicas ÷ min replicas" figure).
 *
 * One web lab per measurement (client and three HTTP servers in network namespaces, VXLAN
 * to the chain in this process), the web-edge chain applied with every function held at
 * `replicas` (autoscaler off), then the closed-loop client of the `http` suite in the client
 * namespace (`connections` keep-alive connections, each sending its next request as soon as
 * the last is answered) for a warm-up and a measured window. What it got answered in the
 * window is the chain's throughput; failed requests and TCP resets are counted; the chain
 * must leak no buffer. Everything it starts is removed in `finally`. (The `scale` suite's
 * traffic agent paces autocannon by the second and saturates itself first: ~2,400 req/s at
 * 16 connections where this client gets 7,000 through the same chain.)
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
import { closedLoopIn } from './http-load.ts';

/** What `measureSaturation` is asked to run. */
export interface SaturationOptions {
  /** Replicas of every function (isolated) or of the chain (fused). */
  readonly replicas: number;
  readonly placement: NonNullable<WebChainSpecOptions['placement']>;
  /** Closed-loop keep-alive connections. */
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
  readonly p50Us: number;
  readonly p99Us: number;
  /** Failed requests (errors, resets, non-2xx) in the window. */
  readonly failed: number;
  /** TCP EstabResets in the client and server namespaces. */
  readonly resets: number;
  /** Ready instances of each function while measured (`fw 2, lb 2, nat 2`). */
  readonly instances: string;
  readonly leakedBuffers: string;
}

/** Runs one saturation measurement (see the module documentation). */
export async function measureSaturation(options: SaturationOptions, progress: (line: string) => void): Promise<SaturationResult> {
  const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-saturation-'));
  const web = await WebLab.create({ prefix: 'nfvt' });
  let edge: WebEdgeChain | undefined;
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
    const instances = edge.controller.getChain('web-edge-saturation').functions.map((f) => `${f.name} ${f.readyReplicas}`).join(', ');
    const namespaces = [web.client, ...web.backends.map((b) => b.ns)];
    const before = await Promise.all(namespaces.map((ns) => tcpMib(web.lab, ns)));
    const loop = await closedLoopIn(web.lab, web.client, web.targets.chain, options.connections, options.seconds, options.warmupSeconds);
    const after = await Promise.all(namespaces.map((ns) => tcpMib(web.lab, ns)));
    const resets = after.reduce((n, m, i) => n + tcpMibDelta(before[i], m).EstabResets, 0);
    const failed = loop.errors + loop.non2xx;
    progress(`  ${options.replicas} replica(s), ${placement}: ${loop.rps} req/s, p50/p99 ${loop.p50}/${loop.p99} µs, ${failed} failed; ${instances}`);
    const { leakedBuffers } = await edge.close(500);
    edge = undefined;
    return { replicas: options.replicas, placement, rps: loop.rps, p50Us: loop.p50, p99Us: loop.p99, failed, resets, instances, leakedBuffers };
  } finally {
    await edge?.close(0).catch(() => undefined);
    await web.destroy();
    rmSync(storeDir, { recursive: true, force: true });
  }
}
