import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Controller } from '../../../src/controller/controller.ts';
import { STATE_FILE, StateStore } from '../../../src/controller/state-store.ts';
import type { ChainStatus } from '../../../src/controller/controller-api.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { registerBuiltinFunctions } from '../../../functions/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-controller-state-'));
const stateDir = join(dir, 'state');
const images = ImageStore.open(join(dir, 'images'));
const registry = registerBuiltinFunctions(new FunctionRegistry());

/** An isolated chain of one pass-through function (`verify` changes its config, hence its image). */
const alpha = (verify: boolean): string => `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: alpha }
spec:
  ingress: { type: generator, flows: 16, rate: 200 }
  egress: { type: sink }
  functions:
    - name: hop
      function: pass-through
      config: { verifyL4Checksum: ${verify} }
      scaling: { min: 1, max: 3 }
      resources: { memory: 32Mi }
  placement: isolated
`;

/** A fused chain of two functions: one unit of replicas. */
const beta = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: beta }
spec:
  ingress: { type: generator, flows: 16, rate: 200 }
  egress: { type: sink }
  functions:
    - name: first
      function: pass-through
      resources: { memory: 32Mi }
    - name: second
      function: pass-through
      config: { verifyL4Checksum: true }
      scaling: { min: 1, max: 2 }
      resources: { memory: 32Mi }
  placement: fused
`;

const controllers: Controller[] = [];
const stores: StateStore[] = [];
afterAll(async () => {
  for (const c of controllers) await c.close(0).catch(() => undefined);
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(stateStore: StateStore | undefined): Promise<Controller> {
  const controller = await Controller.create({ registry, store: images, warm: false, autoscale: false, deleteTimeoutMs: 0, sampleIntervalMs: 100, ...(stateStore === undefined ? {} : { stateStore }) });
  controllers.push(controller);
  return controller;
}

function openStore(): StateStore {
  const store = StateStore.open(stateDir);
  stores.push(store);
  return store;
}

/** What must survive a restart: generation, spec, replicas wanted and ready per function. */
const essentials = (chains: ChainStatus[]) =>
  chains.map((c) => ({ name: c.name, generation: c.generation, phase: c.phase, specYaml: c.specYaml, appliedAt: c.appliedAt, functions: c.functions.map((f) => [f.name, f.desiredReplicas, f.readyReplicas]) }));

describe('controller desired state across a restart', () => {
  let before: ReturnType<typeof essentials>;

  it('applies two chains, updates and scales one, and saves each step', async () => {
    const store = openStore();
    const controller = await start(store);
    expect(await controller.restore()).toEqual({ restored: [], failed: [] });
    await controller.apply(alpha(false), 'alpha.yaml');
    await controller.apply(beta, 'beta.yaml');
    expect(store.load().chains.map((c) => [c.name, c.generation, c.replicas])).toEqual([
      ['alpha', 1, { hop: 1 }],
      ['beta', 1, { fused: 1 }],
    ]);
    await controller.apply(alpha(true), 'alpha.yaml');
    await controller.scaleFunction('alpha', 'hop', 3);
    await controller.scaleFunction('beta', 'second', 2);
    expect(store.load().chains.map((c) => [c.name, c.generation, c.replicas, c.source])).toEqual([
      ['alpha', 2, { hop: 3 }, 'alpha.yaml'],
      ['beta', 1, { fused: 2 }, 'beta.yaml'],
    ]);
    before = essentials(controller.listChains());
    expect(before.map((c) => [c.name, c.generation, c.phase, c.functions])).toEqual([
      ['alpha', 2, 'Ready', [['hop', 3, 3]]],
      ['beta', 1, 'Ready', [['first', 2, 2], ['second', 2, 2]]],
    ]);
    // Shutting down stops the chains; it does not forget them.
    await controller.close(0);
    await store.close();
    expect(StateStore.open(stateDir).load().chains.map((c) => c.name)).toEqual(['alpha', 'beta']);
  });

  it('a new controller on the same store restores both chains with their generation and replicas', async () => {
    const store = openStore();
    const controller = await start(store);
    const result = await controller.restore();
    expect(result).toEqual({ restored: ['alpha', 'beta'], failed: [] });
    expect(essentials(controller.listChains())).toEqual(before);
    expect(controller.listInstances('alpha').filter((i) => i.state === 'ready')).toHaveLength(3);
    expect(controller.events.since(0).filter((e) => e.type === 'applied').map((e) => [e.chain, e.reason, e.details.generation])).toEqual([
      ['alpha', 'chain restored from the state store', '2'],
      ['beta', 'chain restored from the state store', '1'],
    ]);

    // Applying the stored spec again changes nothing; a delete removes the chain from the store.
    const again = await controller.apply(alpha(true), 'alpha.yaml');
    expect([again.changed, again.chain.generation]).toEqual([false, 2]);
    await controller.deleteChain('beta');
    expect(store.load().chains.map((c) => [c.name, c.generation, c.replicas])).toEqual([['alpha', 2, { hop: 3 }]]);
    await controller.close(0);
  });

  it('refuses a corrupt snapshot before starting anything, and keeps a chain it cannot start', async () => {
    const store = openStore();
    const good = store.load();
    writeFileSync(join(stateDir, STATE_FILE), 'nfvkit-state 1 ' + '0'.repeat(64) + ' 2\n{}');
    const controller = await start(store);
    await expect(controller.restore()).rejects.toMatchObject({ code: 'NFVKIT_ERR_STATE_STORE', message: expect.stringMatching(/is corrupt: checksum mismatch/) });
    expect(controller.listChains()).toEqual([]);
    await controller.close(0);

    // A stored chain whose spec no longer validates (its function is unknown here) stays stored.
    const broken = { name: 'gamma', source: 'gamma.yaml', specYaml: alpha(false).replace('name: alpha', 'name: gamma').replace('pass-through', 'no-such-fn'), generation: 4, appliedAt: 1, replicas: { hop: 1 } };
    await store.save({ chains: [...good.chains, broken] });
    const next = await start(store);
    const result = await next.restore();
    expect(result.restored).toEqual(['alpha']);
    expect(result.failed.map((f) => [f.name, (f.error as { code?: string }).code])).toEqual([['gamma', 'NFVKIT_ERR_CONFIG_INVALID']]);
    await next.scaleFunction('alpha', 'hop', 2);
    expect(store.load().chains.map((c) => [c.name, c.generation, c.replicas])).toEqual([
      ['alpha', 2, { hop: 2 }],
      ['gamma', 4, { hop: 1 }],
    ]);
    await next.deleteChain('gamma');
    expect(store.load().chains.map((c) => c.name)).toEqual(['alpha']);
  });

  it('a controller without a store keeps nothing and restores nothing', async () => {
    const controller = await start(undefined);
    expect(await controller.restore()).toEqual({ restored: [], failed: [] });
  });
});
