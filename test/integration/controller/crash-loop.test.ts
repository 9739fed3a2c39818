import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import type { ChainEnd, ChainEndFactory } from '../../../src/controller/chain-ends.ts';
import type { ChainPhase, ControllerEvent } from '../../../src/controller/controller-api.ts';
import { Controller, type ControllerOptions } from '../../../src/controller/controller.ts';
import { GeneratorPort } from '../../../src/dataplane/ports/generator-port.ts';
import { PacedPort } from '../../../src/dataplane/ports/paced-port.ts';
import { SinkPort } from '../../../src/dataplane/ports/sink-port.ts';
import { createControllerClient, type ControllerClient } from '../../../src/grpc/controller-client.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import type { PacketPool } from '../../../src/pool/packet-pool.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { faultyFunction, THROW_PORT } from '../../runtime/faulty-function.ts';
import { udpFrame } from '../../runtime/runtime-helpers.ts';

/** Every frame goes to the port on which the faulty function throws. */
const poison = Array.from({ length: 64 }, (_, i) => udpFrame(THROW_PORT, i));

function spec(name: string, placement: 'isolated' | 'fused'): string {
  const healthy = placement === 'fused' ? '\n    - name: hop\n      function: pass-through' : '';
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: ${name} }
spec:
  ingress: { type: generator, protocol: udp }
  egress: { type: sink }
  placement: ${placement}
  functions:${healthy}
    - name: crashy
      function: faulty-test
      scaling: { min: 1, max: 1 }
`;
}

/** A controller whose chains take poison at `rate` frames/s; remembers each chain's pool and its free count before any instance. */
async function crashController(dir: string, rate: number, options: Partial<ControllerOptions>) {
  const pools = new Map<string, { pool: PacketPool; freeAtStart: number }>();
  const end = (port: PacedPort | SinkPort): ChainEnd => ({ port, stats: () => ({}), close: async () => undefined });
  const generator: ChainEndFactory = async (_spec, context) => {
    pools.set(context.chain, { pool: context.pool, freeAtStart: context.pool.freeCount() });
    return end(new PacedPort(new GeneratorPort(poison, { total: Number.POSITIVE_INFINITY }), rate));
  };
  const controller = await Controller.create({
    registry: registerBuiltinFunctions(new FunctionRegistry()).register(faultyFunction),
    store: ImageStore.open(dir),
    warm: false,
    autoscale: false,
    deleteTimeoutMs: 500,
    endFactories: { generator, sink: async () => end(new SinkPort()) },
    ...options,
  });
  const events: ControllerEvent[] = [];
  controller.subscribe((e) => events.push(e), 0);
  return { controller, events, pools };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('crash loop: a function whose instances keep failing', () => {
  let dir: string | undefined;
  let setup: Awaited<ReturnType<typeof crashController>>;
  let server: ControllerServer;
  let rpc: ControllerClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nfvkit-crash-loop-'));
    setup = await crashController(dir, 2000, { restartBackoff: { baseMs: 50, maxMs: 400, resetAfterMs: 5000 } });
    server = await startControllerServer(setup.controller);
    rpc = createControllerClient(`127.0.0.1:${server.port}`);
  });
  afterAll(async () => {
    rpc?.close();
    await server?.close();
    await setup?.controller.close(0);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  for (const placement of ['isolated', 'fused'] as const) {
    it(`is never reported Ready, not even while a replacement is up (${placement}); describe shows the back-off`, async () => {
      const { controller, events, pools } = setup;
      const name = `loop-${placement}`;
      const unit = placement === 'fused' ? 'fused' : 'crashy';
      const mine = (type: string) => events.filter((e) => e.chain === name && e.type === type);
      // The phase at the moment each replacement starts taking flows (when the old code said Ready).
      const atReady: { phase: ChainPhase; ready: number }[] = [];
      const off = controller.subscribe((e) => {
        if (e.chain !== name || e.type !== 'instance-ready' || mine('instance-failed').length === 0) return;
        const status = controller.getChain(name);
        atReady.push({ phase: status.phase, ready: status.functions.find((f) => f.name === 'crashy')!.readyReplicas });
      }, events.length === 0 ? 0 : events[events.length - 1].seq);
      try {
        await controller.apply(spec(name, placement), `${name}.yaml`);
        await until(() => mine('instance-failed').length > 0, 10_000, 'first failure');
        const phases = new Set<ChainPhase>();
        const end = Date.now() + 3000;
        while (Date.now() < end) {
          phases.add(controller.getChain(name).phase);
          await sleep(15);
        }
        expect([...phases]).toEqual(['Degraded']);
        expect(atReady.length).toBeGreaterThanOrEqual(2);
        expect(atReady.every((s) => s.ready === 1 && s.phase === 'Degraded')).toBe(true);

        const delayed = mine('restart-delayed');
        expect(delayed.length).toBeGreaterThanOrEqual(3);
        expect(delayed.every((e) => e.function === unit)).toBe(true);
        expect(delayed.slice(0, 3).map((e) => [e.details.failures, e.details.delayMs])).toEqual([['1', '50'], ['2', '100'], ['3', '200']]);
        expect(delayed.at(-1)!.details.delayMs).toBe('400');

        // Over gRPC: the event type, the back-off of every function of the unit, why Degraded.
        const status = await rpc.getChain(name);
        expect(status.phase).toBe('Degraded');
        expect(status.phaseReason).toMatch(new RegExp(`${unit}: \\d+ failures, restarts back off 400 ms`));
        for (const f of status.functions) {
          expect(f.failures).toBeGreaterThanOrEqual(delayed.length);
          expect(f.restartDelayMs).toBe(400);
        }
        let wired: ControllerEvent | undefined;
        for await (const e of rpc.watchEvents({ chain: name, afterSeq: delayed[0].seq - 1 })) {
          wired = e;
          break;
        }
        expect(wired).toMatchObject({ type: 'restart-delayed', function: unit, details: { failures: '1', delayMs: '50' } });
      } finally {
        off();
      }

      const { pool, freeAtStart } = pools.get(name)!;
      await controller.deleteChain(name);
      expect(pool.freeCount()).toBe(freeAtStart);
      expect(pool.leakCheck()).toEqual([]);
      expect(mine('deleted').at(-1)!.details.leakedBuffers).toBe('0');
    }, 60_000);
  }
});

describe('show it (issue 16): a function that throws on every packet for 60 s', () => {
  let dir: string | undefined;
  let setup: Awaited<ReturnType<typeof crashController>> | undefined;
  afterAll(async () => {
    await setup?.controller.close(0);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('restarts back off (100 ms doubling, 30 s cap), the phase is Degraded at every sample, and the pool is whole after delete', async () => {
    dir = mkdtempSync(join(tmpdir(), 'nfvkit-crash-loop-60s-'));
    setup = await crashController(dir, 5000, {});
    const { controller, events, pools } = setup;
    const name = 'throws';
    const mine = (type: string) => events.filter((e) => e.chain === name && e.type === type);
    await controller.apply(spec(name, 'isolated'), 'throws.yaml');
    await until(() => mine('instance-failed').length > 0, 10_000, 'first failure');

    const samples: ChainPhase[] = [];
    const reasons: string[] = [];
    const start = Date.now();
    while (Date.now() - start < 60_000) {
      const status = controller.getChain(name);
      samples.push(status.phase);
      reasons.push(status.phaseReason);
      await sleep(250);
    }
    expect(samples.length).toBeGreaterThan(200);
    expect(samples.filter((p) => p !== 'Degraded')).toEqual([]);
    expect(reasons.every((r) => /crashy: \d+ failures?, restarts back off/.test(r))).toBe(true);

    // Without back-off this was ~4 restarts a second (~240 in 60 s); with it, 100 ms × 2^k
    // waits sum to 51 s after 9 restarts.
    const booted = mine('instance-booted');
    const delayed = mine('restart-delayed');
    const restarts = booted.length - 1;
    expect(restarts).toBeGreaterThanOrEqual(6);
    expect(restarts).toBeLessThanOrEqual(11);
    const expected = delayed.map((_, k) => String(Math.min(30_000, 100 * 2 ** k)));
    expect(delayed.map((e) => e.details.delayMs)).toEqual(expected);
    // Every replacement waited out the delay announced before it, and the gaps grew.
    for (let k = 1; k < booted.length; k++) {
      const before = delayed.filter((e) => e.seq < booted[k].seq).at(-1)!;
      expect(booted[k].time - before.time).toBeGreaterThanOrEqual(Number(before.details.waitMs) - 2);
    }
    const gaps = booted.slice(1).map((b, k) => b.time - booted[k].time);
    for (let k = 4; k < gaps.length; k++) expect(gaps[k]).toBeGreaterThan(gaps[k - 1]);
    expect(gaps.at(-1)).toBeGreaterThan(6000);
    const status = controller.getChain(name).functions[0];
    expect(status.failures).toBe(delayed.length);

    const { pool, freeAtStart } = pools.get(name)!;
    await controller.deleteChain(name);
    expect(pool.freeCount()).toBe(freeAtStart);
    expect(pool.leakCheck()).toEqual([]);
  }, 120_000);
});
