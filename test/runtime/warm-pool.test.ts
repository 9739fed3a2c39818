import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuildImageResult } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { WarmPool } from '../../src/runtime/warm-pool.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { faultyFunction, THROW_PORT } from './faulty-function.ts';
import { forward, udpFrame } from './runtime-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'nfvkit-warm-pool-'));
const store = ImageStore.open(root);
const pool = PacketPool.create({ bufferCount: 4096, owner: 1 });
let image: BuildImageResult;
let faulty: BuildImageResult;
let warm: WarmPool;

const frames = (n: number, port = 80): Uint8Array[] => Array.from({ length: n }, (_, i) => udpFrame(port, i));

beforeAll(async () => {
  image = await buildImage(passThrough, {}, { store });
  faulty = await buildImage(faultyFunction, {}, { store });
  warm = await WarmPool.create({ size: 2, memoryMiB: 16 });
}, 30_000);

afterAll(async () => {
  await warm.close();
  rmSync(root, { recursive: true, force: true });
});

describe('WarmPool', () => {
  it('boots an image in a pre-booted isolate, forwards, refills, and stops cleanly', async () => {
    expect(warm.idleCount).toBe(2);
    const host = await warm.acquire({ imagePath: image.imagePath, manifest: image.manifest, pool, owner: 10 });
    expect(host.state).toBe('running');
    expect(host.events.map((e) => e.type)).toEqual(['booted', 'ready']);
    expect(warm.misses).toBe(0);
    expect(await forward(host, frames(400))).toBe(400);
    await warm.full();
    expect(warm.idleCount).toBe(2);
    expect(await host.stop()).toMatchObject({ type: 'stopped' });
    expect(pool.leakCheck()).toEqual([]);
  });

  it('boots several instances at once, more than the idle isolates (cold misses), all forwarding', async () => {
    const hosts = await Promise.all([0, 1, 2].map((k) => warm.acquire({ imagePath: image.imagePath, manifest: image.manifest, pool, owner: 20 + 2 * k })));
    expect(hosts.map((h) => h.state)).toEqual(['running', 'running', 'running']);
    expect(warm.misses).toBe(1);
    for (const h of hosts) expect(await forward(h, frames(100))).toBe(100);
    for (const h of hosts) await h.stop();
    expect(pool.leakCheck()).toEqual([]);
  });

  it('contains a warm-booted instance that crashes', async () => {
    const host = await warm.acquire({ imagePath: faulty.imagePath, manifest: faulty.manifest, pool, owner: 40 });
    expect(host.state).toBe('running');
    await forward(host, [...frames(50), udpFrame(THROW_PORT)]);
    await host.settled();
    expect(host.failure?.reason).toBe('crashed');
    expect(pool.leakCheck()).toEqual([]);
  });

  it('boots preloaded images without importing them, and contains a preloaded one that crashes', async () => {
    const copy = join(root, 'preloaded.mjs');
    copyFileSync(image.imagePath, copy);
    const pre = await WarmPool.create({ size: 1, memoryMiB: 16, preload: [copy, faulty.imagePath] });
    rmSync(copy);
    try {
      const host = await pre.acquire({ imagePath: copy, manifest: image.manifest, pool, owner: 60 });
      expect(host.state).toBe('running');
      expect(await forward(host, frames(300))).toBe(300);
      await host.stop();
      expect(await pre.full()).toBe(false);
      expect(pre.lastStartError).toMatch(/preloaded\.mjs/);
      copyFileSync(image.imagePath, copy);
      expect(await pre.full()).toBe(true);
      const bad = await pre.acquire({ imagePath: faulty.imagePath, manifest: faulty.manifest, pool, owner: 62 });
      expect(bad.state).toBe('running');
      expect(await forward(bad, frames(50))).toBe(50);
      await forward(bad, [udpFrame(THROW_PORT)]);
      await bad.settled();
      expect(bad.failure?.reason).toBe('crashed');
      expect(pre.misses).toBe(0);
      expect(await pre.full()).toBe(true);
    } finally {
      await pre.close();
    }
    expect(pool.leakCheck()).toEqual([]);
  });

  it('refuses an image that needs more memory than the pool class', async () => {
    await expect(warm.acquire({ imagePath: image.imagePath, manifest: { ...image.manifest, memoryMiB: 64 }, pool, owner: 50 })).rejects.toThrow(/64 MiB/);
  });
});
