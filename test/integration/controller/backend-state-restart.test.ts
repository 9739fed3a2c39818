import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { StateStore } from '../../../src/controller/state-store.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-backend-restart-'));
const images = ImageStore.open(join(dir, 'images'));
const registry = registerBuiltinFunctions(new FunctionRegistry());
const SPEC = (placement: 'isolated' | 'fused', backend2: 'active' | 'draining') => `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: lbs }
spec:
  ingress: { type: generator, flows: 16, rate: 200, protocol: udp, service: "198.18.2.100:53" }
  egress: { type: sink }
  placement: ${placement}
  functions:
    - name: lb
      function: load-balancer
      config:
        maglevTableSize: 251
        services:
          - { name: dns, vip: 198.18.2.100, port: 53, proto: udp, backends: [{ address: 198.19.0.1 }, { address: 198.19.0.2, state: ${backend2} }, { address: 198.19.0.3 }] }
      resources: { memory: 64Mi }
`;

const controllers: Controller[] = [];
const stores: StateStore[] = [];
afterAll(async () => {
  for (const c of controllers) await c.close(0).catch(() => undefined);
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(placement: string): Promise<Controller> {
  const stateStore = StateStore.open(join(dir, `state-${placement}`));
  stores.push(stateStore);
  const controller = await Controller.create({ registry, store: images, warm: false, autoscale: false, deleteTimeoutMs: 0, stateStore });
  controllers.push(controller);
  return controller;
}

// Isolated: the generator and sink on the host; fused: the chain's ends in its replica.
describe.each(['isolated', 'fused'] as const)('backend states set at run time across a controller restart (%s placement)', (placement) => {
  it('keeps what SetBackendState changed (and only that) in the state store, and a restored chain starts with it', async () => {
    const first = await start(placement);
    const store = stores.length - 1;
    await first.apply(SPEC(placement, 'draining'), 'lbs.yaml');
    await first.setBackendState('lbs', undefined, 'dns', '198.19.0.3:53', 'removed');
    await first.setBackendState('lbs', 'lb', 'dns', '198.19.0.2:53', 'active');
    await first.setBackendState('lbs', 'lb', 'dns', '198.19.0.1:53', 'draining');
    await first.setBackendState('lbs', 'lb', 'dns', '198.19.0.1:53', 'active');
    expect(stores[store].load().chains[0].backends).toEqual({ lb: { 'dns 198.19.0.2:53': 'active', 'dns 198.19.0.3:53': 'removed' } });
    await first.close(0);
    await stores[store].close();

    const second = await start(placement);
    expect((await second.restore()).restored).toEqual(['lbs']);
    expect(second.getChain('lbs').placement).toBe(placement);
    expect(second.listBackends('lbs').map((b) => [b.backend, b.state, b.effective])).toEqual([
      ['198.19.0.1:53', 'active', 'active'],
      ['198.19.0.2:53', 'active', 'active'],
      ['198.19.0.3:53', 'removed', 'removed'],
    ]);
    expect(second.events.since(0).filter((e) => e.type === 'backend-state').map((e) => e.reason)).toEqual([
      'backend 198.19.0.2:53 of service dns activated (restored from the state store)',
      'backend 198.19.0.3:53 of service dns removed: no new flows, established ones dropped (restored from the state store)',
    ]);
    // The instance booted by the restore applies them: its flows never reach the removed backend.
    const rt = second.chain('lbs');
    for (let i = 0; i < 100 && rt.backends().reduce((n, b) => n + b.connections, 0) < 16; i++) await new Promise((r) => setTimeout(r, 50));
    expect(second.listBackends('lbs')[2].newFlows).toBe(0);
    expect(second.listBackends('lbs').reduce((n, b) => n + b.connections, 0)).toBe(16);
  });
});
