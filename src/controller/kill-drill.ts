import { FlowContinuityPort } from '../dataplane/ports/flow-continuity-port.ts';
import { ProcessIsolate } from '../runtime/process-isolate.ts';
import type { ChainEnd } from './chain-ends.ts';
import type { ControllerEvent } from './controller-api.ts';
import { Controller, type ControllerOptions } from './controller.ts';

/** Flows of the drill's generator. */
export const DRILL_FLOWS = 1024;
/**
 * Window in which a flow must be seen to count as carrying traffic, ms: the shortest one. A
 * window is extended (see `KillDrill`) until the servers received frames enough for two of
 * the generator's rounds over its flows, at most `DRILL_WINDOW_MAX_MS`.
 */
export const DRILL_WINDOW_MS = 400;
/** Longest a window is extended to, ms. */
export const DRILL_WINDOW_MAX_MS = 5000;
const DRILL_CHAIN = 'drill';

/** The drill's chain: web-edge (fw → lb → nat) on 1024 generated TCP flows at a bounded rate and count. */
export function drillSpec(placement: 'isolated' | 'fused'): string {
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: ${DRILL_CHAIN} }
spec:
  ingress: { type: generator, flows: ${DRILL_FLOWS}, packetSize: 64, protocol: tcp, clients: 198.18.1.0/24, service: "198.18.2.100:80", rate: 60000, total: 6000000 }
  egress: { type: responder }
  placement: ${placement}
  functions:
    - name: fw
      function: firewall
      config:
        defaultPolicy: drop
        stateful: true
        rules: [{ name: web, action: allow, side: inside, proto: tcp, dst: 198.18.2.100, dport: 80 }]
      scaling: { min: 1, max: 1 }
    - name: lb
      function: load-balancer
      config:
        services:
          - name: web
            vip: 198.18.2.100
            port: 80
            proto: tcp
            backends: [{ address: 198.18.3.11, port: 8080 }, { address: 198.18.3.12, port: 8080 }, { address: 198.18.3.13, port: 8080 }]
      scaling: { min: 1, max: 1 }
    - name: nat
      function: nat
      config:
        snat: { addresses: 198.18.3.1/32, match: [198.18.1.0/24] }
      scaling: { min: 1, max: 1 }
`;
}

/** What one kill did to the flows that were carrying traffic before it. */
export interface KillResult {
  /** Function named, and the instance killed (in a fused chain: the replica running it). */
  readonly function: string;
  readonly instance: string;
  /** Flows carrying traffic before the kill. */
  readonly before: number;
  /** Of those, flows reaching the servers afterwards with the same backend and NAT port. */
  readonly kept: number;
  /** Longest gap between two frames of a kept flow, p50 and p99 over the kept flows, ms. */
  readonly outageP50: number;
  readonly outageP99: number;
  /** Connections the successor took over (undefined: no successor took the state over). */
  readonly adopted: number | undefined;
  /** Its lifecycle after the kill: `instance-failed +41 ms, …`. */
  readonly timeline: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A kill drill: runs the drill chain on a controller of its own, lets every flow open, then
 * kills instances one by one (SIGKILL for an instance process, `terminate` for a worker
 * thread) and measures, for each kill, how many established flows kept working and how long
 * each was interrupted. The instance mode is the controller's default (`NFVKIT_INSTANCE_MODE`).
 *
 * @example
 * ```ts
 * const drill = await KillDrill.start({ registry, store }, 'isolated');
 * const r = await drill.kill('lb'); // { kept: 1024, outageP99: 310, … }
 * await drill.close();
 * ```
 */
export class KillDrill {
  readonly events: ControllerEvent[] = [];

  private constructor(
    readonly controller: Controller,
    readonly servers: FlowContinuityPort,
  ) {}

  /** Starts the controller and the chain; resolves once the flows that opened carry traffic steadily. */
  static async start(options: Omit<ControllerOptions, 'endFactories'>, placement: 'isolated' | 'fused'): Promise<KillDrill> {
    const servers = new FlowContinuityPort();
    const controller = await Controller.create({
      autoscale: false,
      deleteTimeoutMs: 500,
      ...options,
      endFactories: { responder: async (): Promise<ChainEnd> => ({ port: servers, stats: () => ({}), close: async () => undefined }) },
    });
    const drill = new KillDrill(controller, servers);
    controller.subscribe((e) => drill.events.push(e), 0);
    await controller.apply(drillSpec(placement), 'drill.yaml');
    // The generator opens every flow with one SYN and waits for the answers; flows whose
    // handshake got lost stay closed. Wait until the count of flows carrying data is steady.
    let last = -1;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const seen = servers.seenSince(await drill.window()).size;
      if (seen === last && seen > 0) break;
      last = seen;
    }
    return drill;
  }

  /**
   * Waits out a window of traffic and returns its start (`performance.now()` ms): at least
   * `DRILL_WINDOW_MS`, and longer while the servers have not yet received two frames per
   * generator flow in it (at most `DRILL_WINDOW_MAX_MS`). The generator sends one frame per
   * flow in turn, so a window of two rounds sees every flow that carries traffic. A fixed
   * 400 ms window needs the chain to carry 2,560 frames a second or more: on a loaded machine
   * (more busy threads than cores) it carried a few hundred to a few thousand at times, in
   * batches, and a window then saw a quarter or half of the flows, however many were working.
   */
  private async window(): Promise<number> {
    const from = performance.now();
    const frames = this.servers.responder.frames;
    await sleep(DRILL_WINDOW_MS);
    while (this.servers.responder.frames - frames < 2 * DRILL_FLOWS && performance.now() - from < DRILL_WINDOW_MAX_MS) await sleep(20);
    return from;
  }

  /** Kills the active instance running function `fn`, waits for its successor and a window of traffic after it. */
  async kill(fn: string): Promise<KillResult> {
    const before = this.servers.seenSince(await this.window());
    const runtime = this.controller.runtimes().find((r) => r.name === DRILL_CHAIN)!;
    const stage = runtime.stageOf(fn);
    const victim = stage.live.find((i) => i.state === 'active')!;
    this.servers.resetGaps();
    const killedAt = Date.now();
    if (victim.host.worker instanceof ProcessIsolate) process.kill(victim.host.worker.pid!, 'SIGKILL');
    else await victim.host.worker.terminate();
    const tookOver = (e: ControllerEvent) => e.type === 'instance-ready' && e.function === stage.name && e.details?.tookOverFrom === `${DRILL_CHAIN}/${victim.id}`;
    for (const deadline = Date.now() + 5000; !this.events.some(tookOver) && Date.now() < deadline; ) await sleep(10);
    // A window that starts a window after the successor is ready (frames it passed, none the
    // killed instance left in other instances' rings).
    await sleep(DRILL_WINDOW_MS);
    const since = await this.window();
    const ready = this.events.find(tookOver);
    const { kept, outageP50, outageP99 } = this.servers.continuity(before, performance.now() - since);
    const timeline = this.events
      .filter((e) => e.time >= killedAt && e.function === stage.name)
      .map((e) => `${e.type} +${e.time - killedAt} ms`)
      .join(', ');
    return { function: fn, instance: victim.id, before: before.size, kept, outageP50, outageP99, adopted: ready === undefined ? undefined : Number(ready.details?.adopted), timeline };
  }

  async close(): Promise<void> {
    await this.controller.close();
  }
}
