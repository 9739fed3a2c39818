import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Controller } from '../../../src/controller/controller.ts';
import type { ControllerEvent } from '../../../src/controller/controller-api.ts';
import { buildImage } from '../../../src/image/image-builder.ts';
import { LEASES_DIR } from '../../../src/image/image-lease.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { registerBuiltinFunctions } from '../../../functions/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-controller-image-gc-'));
const store = ImageStore.open(join(dir, 'images'));
const registry = registerBuiltinFunctions(new FunctionRegistry());
const GRACE_MS = 600;

const isolated = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: alpha }
spec:
  ingress: { type: generator, flows: 4, rate: 100 }
  egress: { type: sink }
  functions:
    - name: hop
      function: pass-through
      resources: { memory: 32Mi }
  placement: isolated
`;

const fused = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: beta }
spec:
  ingress: { type: generator, flows: 4, rate: 100 }
  egress: { type: sink }
  functions:
    - name: first
      function: pass-through
      resources: { memory: 32Mi }
    - name: second
      function: pass-through
      config: { verifyL4Checksum: true }
      resources: { memory: 32Mi }
  placement: fused
`;

const controllers: Controller[] = [];
afterAll(async () => {
  for (const c of controllers) await c.close(0).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function start(graceMs: number): Promise<Controller> {
  const c = await Controller.create({ registry, store, warm: false, autoscale: false, deleteTimeoutMs: 0, sampleIntervalMs: 100, imageGc: { graceMs, intervalMs: 100 } });
  controllers.push(c);
  return c;
}

const ids = (): string[] => store.list().map((e) => e.id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('controller image garbage collection', () => {
  it('keeps the images its chains use, removes an unused one after the grace period, and a deleted chain\'s image once its grace has passed', async () => {
    const spare = await buildImage(registry.get('pass-through'), { verifyL4Checksum: true }, { store, memoryMiB: 48 });
    const controller = await start(GRACE_MS);
    const events: ControllerEvent[] = [];
    controller.subscribe((e) => events.push(e), 0);
    const alpha = (await controller.apply(isolated, 'alpha.yaml')).chain;
    const beta = (await controller.apply(fused, 'beta.yaml')).chain;
    const alphaImage = alpha.functions[0].imageId;
    const betaImage = beta.functions[0].imageId;
    expect(beta.placement).toBe('fused');
    expect(new Set([alphaImage, betaImage, spare.manifest.id]).size).toBe(3);
    expect(controller.imagesInUse()).toEqual(new Set([alphaImage, betaImage]));

    const removed = (events: readonly ControllerEvent[], id: string): boolean => events.some((e) => e.type === 'image-gc' && e.details.ids?.split(',').includes(id.slice(0, 12)) === true);
    await sleep(GRACE_MS + 300);
    expect(removed(events, spare.manifest.id)).toBe(true);
    expect(ids().sort()).toEqual([alphaImage, betaImage].sort());

    // A second controller on the same store that collects every unused image at once takes a
    // fresh unused image, never the first controller's.
    const spare2 = await buildImage(registry.get('pass-through'), { verifyL4Checksum: true }, { store, memoryMiB: 40 });
    const other = await start(0);
    const deadline2 = Date.now() + 3000;
    while (ids().includes(spare2.manifest.id) && Date.now() < deadline2) await sleep(20);
    expect(removed(other.events.since(0), spare2.manifest.id)).toBe(true);
    await sleep(300);
    expect(ids().sort()).toEqual([alphaImage, betaImage].sort());
    await other.close(0);

    await controller.deleteChain('alpha');
    expect(ids()).toContain(alphaImage); // within its grace period
    expect(controller.imagesInUse()).toEqual(new Set([betaImage]));
    const deadline = Date.now() + GRACE_MS + 3000;
    while (ids().includes(alphaImage) && Date.now() < deadline) await sleep(50);
    expect(ids()).toEqual([betaImage]);
    const gc = events.filter((e) => e.type === 'image-gc' && e.details.ids?.includes(alphaImage.slice(0, 12)));
    expect(gc).toHaveLength(1);
    expect(gc[0]).toMatchObject({ chain: '', details: { removed: '1', removedByCap: '0' } });
    expect(Number(gc[0].details.freedBytes)).toBeGreaterThan(0);
    expect(controller.imageStoreUsage()).toMatchObject({ images: 1, inUseImages: 1 });

    await controller.close(0);
    expect(readdirSync(join(store.dir, LEASES_DIR))).toEqual([]);
    expect(existsSync(join(store.dir, betaImage))).toBe(true); // closing lets go, it does not delete
  });

  it('evicts unused images when a build pushes the store over its cap, and warns when in-use images alone exceed it', async () => {
    const spare = await buildImage(registry.get('pass-through'), { verifyL4Checksum: true }, { store, memoryMiB: 48 });
    const before = store.usage().bytes;
    const controller = await Controller.create({ registry, store, warm: false, autoscale: false, deleteTimeoutMs: 0, imageGc: { graceMs: 3_600_000, capBytes: 1000 } });
    controllers.push(controller);
    const events: ControllerEvent[] = [];
    controller.subscribe((e) => events.push(e), 0);
    const alpha = (await controller.apply(isolated, 'alpha.yaml')).chain;
    // alpha's image was built (the first test's was removed): the store went over 1000 bytes.
    expect(before).toBeGreaterThan(1000);
    expect(ids()).not.toContain(spare.manifest.id);
    expect(ids()).toContain(alpha.functions[0].imageId);
    const gc = events.filter((e) => e.type === 'image-gc');
    expect(gc.map((e) => e.reason)).toEqual([
      expect.stringMatching(/^removed \d+ unused images? \(image added, \d+ to stay under the cap\)$/),
      expect.stringMatching(/^image store over its cap: \d+ bytes > 1000 and every image left is in use or kept; nothing more is removed$/),
    ]);
    await controller.close(0);
  });
});
