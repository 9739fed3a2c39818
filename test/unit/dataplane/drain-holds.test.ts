import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { passThrough } from '../../../functions/pass-through/pipeline.ts';
import { ChainDataPlane } from '../../../src/dataplane/chain-data-plane.ts';
import { NULL_PORT } from '../../../src/dataplane/chain-port.ts';
import { buildImage } from '../../../src/image/image-builder.ts';
import { ImageStore } from '../../../src/image/image-store.ts';

describe('drainInstance with holds: flows the host cannot see keep the drain going', () => {
  let dp: ChainDataPlane | undefined;
  afterEach(async () => {
    await dp?.shutdown().catch(() => undefined);
    dp = undefined;
  });

  it('an instance with no pin stays draining while holds() says true, stops once it says false, and the timeout still bounds it', async () => {
    const image = await buildImage(passThrough, {}, { store: ImageStore.open(join(tmpdir(), 'nfvkit-drain-holds-test-images')) });
    const plane = (dp = ChainDataPlane.create(['pass'], { instanceMode: 'worker', bufferCount: 256 }));
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => plane.addInstance(0, image)));
    let holding = true;
    let stopped = false;
    const drained = plane.drainInstance(a.id, 'test', 20_000, () => holding).then(() => (stopped = true));
    await plane.runUntil(NULL_PORT, NULL_PORT, () => false, 300);
    expect(a.state).toBe('draining');
    expect(stopped).toBe(false);
    holding = false;
    expect(await plane.runUntil(NULL_PORT, NULL_PORT, () => stopped, 5000)).toBe(true);
    await drained;
    expect(a.state).toBe('gone');

    // Bounded by its timeout even when it keeps holding.
    const t0 = performance.now();
    let done = false;
    const bounded = plane.drainInstance(b.id, 'test', 400, () => true).then(() => (done = true));
    expect(await plane.runUntil(NULL_PORT, NULL_PORT, () => done, 5000)).toBe(true);
    await bounded;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
    expect(b.state).toBe('gone');
    expect(c.state).toBe('active');
  }, 60_000);
});
