import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuildImageResult } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import type { InstanceEvent, InstanceHost } from '../../src/runtime/instance-host.ts';
import type { InstanceStartup } from '../../src/runtime/instance-main.ts';
import { WarmPool } from '../../src/runtime/warm-pool.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { faultyFunction, THROW_PORT } from './faulty-function.ts';
import { forward, udpFrame } from './runtime-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'nfvkit-warm-pool-'));
const store = ImageStore.open(root);
const pool = PacketPool.create({ bufferCount: 4096, owner: 1 });
let image: BuildImageResult;
let faulty: BuildImageResult;
let fw: BuildImageResult;
let warm: WarmPool;

const frames = (n: number, port = 80): Uint8Array[] => Array.from({ length: n }, (_, i) => udpFrame(port, i));

function startup(host: InstanceHost): InstanceStartup | undefined {
  return host.events.find((e): e is Extract<InstanceEvent, { type: 'ready' }> => e.type === 'ready')?.startup;
}

function counter(host: InstanceHost, image: BuildImageResult, name: string): number {
  const slot = image.manifest.counters.findIndex((c) => c.name === name);
  expect(slot, name).toBeGreaterThanOrEqual(0);
  return host.counters[slot];
}

async function until(done: () => boolean, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
}

beforeAll(async () => {
  image = await buildImage(passThrough, {}, { store });
  faulty = await buildImage(faultyFunction, {}, { store });
  fw = await buildImage(firewall, { defaultPolicy: 'drop', rules: [{ action: 'allow', proto: 'udp', dport: 53 }] }, { store, memoryMiB: 64 });
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
    expect(startup(host)).toMatchObject({ prepared: false });
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

  it('builds a preloaded pipeline ahead: the instance runs it on the counter memory the host reads', async () => {
    const pre = await WarmPool.create({ size: 1, memoryMiB: 64, preload: [fw.imagePath] });
    try {
      const host = await pre.acquire({ imagePath: fw.imagePath, manifest: fw.manifest, pool, owner: 70 });
      expect(host.state).toBe('running');
      expect(pre.preparedBoots).toBe(1);
      expect(startup(host)).toMatchObject({ prepared: true, pipelineMs: 0 });
      expect(await forward(host, frames(120, 53))).toBe(120);
      expect(counter(host, fw, 'rx_inside_packets')).toBe(120);
      expect(counter(host, fw, 'tx_outside_packets')).toBe(120);
      await forward(host, frames(30, 80), 200);
      await until(() => counter(host, fw, 'default_policy') === 30);
      expect(counter(host, fw, 'default_policy')).toBe(30);
      expect(counter(host, fw, 'dropped_packets')).toBe(30);
      await host.stop();
    } finally {
      await pre.close();
    }
    expect(pool.leakCheck()).toEqual([]);
  });

  it('builds the pipeline at boot when asked not to prepare, or when the acquire brings control memory its pipeline cannot take (no setControl)', async () => {
    const lazy = await WarmPool.create({ size: 1, memoryMiB: 64, preload: [fw.imagePath], prepare: false });
    const eager = await WarmPool.create({ size: 1, memoryMiB: 64, preload: [fw.imagePath] });
    try {
      const a = await lazy.acquire({ imagePath: fw.imagePath, manifest: fw.manifest, pool, owner: 72 });
      const b = await eager.acquire({ imagePath: fw.imagePath, manifest: fw.manifest, pool, owner: 74, controlSab: new SharedArrayBuffer(64) });
      for (const host of [a, b]) {
        expect(host.state).toBe('running');
        expect(startup(host)?.prepared).toBe(false);
        expect(await forward(host, frames(40, 53))).toBe(40);
        expect(counter(host, fw, 'tx_outside_packets')).toBe(40);
        await host.stop();
      }
      expect(lazy.preparedBoots).toBe(0);
      expect(lazy.misses + eager.misses).toBe(0);
    } finally {
      await lazy.close();
      await eager.close();
    }
    expect(pool.leakCheck()).toEqual([]);
  });

  it('learns preloads: an image acquired once is preloaded and prepared in the isolates started after', async () => {
    const copy = join(root, 'learned.mjs');
    copyFileSync(fw.imagePath, copy);
    const learning = await WarmPool.create({ size: 1, memoryMiB: 64, learn: 2 });
    try {
      const first = await learning.acquire({ imagePath: copy, manifest: fw.manifest, pool, owner: 90 });
      expect(startup(first)?.prepared).toBe(false);
      expect(learning.preloads).toEqual([copy]);
      await first.stop();
      await learning.full();
      const second = await learning.acquire({ imagePath: copy, manifest: fw.manifest, pool, owner: 92 });
      expect(startup(second)).toMatchObject({ prepared: true, pipelineMs: 0 });
      expect(await forward(second, frames(50, 53))).toBe(50);
      expect(counter(second, fw, 'tx_outside_packets')).toBe(50);
      await second.stop();
      await learning.full();
      rmSync(copy);
      const other = await learning.acquire({ imagePath: image.imagePath, manifest: image.manifest, pool, owner: 94 });
      expect(learning.preloads).toEqual([copy, image.imagePath]);
      await other.stop();
      await learning.full();
      expect(await learning.full()).toBe(true);
      expect(learning.startFailures).toBe(1);
      expect(learning.preloads).toEqual([image.imagePath]);
      expect(learning.preparedBoots).toBe(1);
    } finally {
      await learning.close();
    }
    expect(pool.leakCheck()).toEqual([]);
  });

  it('learns images ahead of any acquire: idle isolates are replaced by ones that prepared them', async () => {
    const ahead = await WarmPool.create({ size: 2, memoryMiB: 64, learn: 2 });
    try {
      await ahead.learnImages([{ imagePath: fw.imagePath, memoryMiB: fw.manifest.memoryMiB }, { imagePath: '/too/big.mjs', memoryMiB: 4096 }]);
      expect(ahead.preloads).toEqual([fw.imagePath]);
      expect(ahead.idleCount).toBe(2);
      const first = await ahead.acquire({ imagePath: fw.imagePath, manifest: fw.manifest, pool, owner: 96 });
      expect(startup(first)).toMatchObject({ prepared: true, pipelineMs: 0 });
      await first.stop();
      expect(ahead.preparedBoots).toBe(1);
    } finally {
      await ahead.close();
    }
    expect(pool.leakCheck()).toEqual([]);
  });

  it('keeps the idle isolate when an acquire is refused before it starts', async () => {
    await warm.full();
    const idle = warm.idleCount;
    await expect(warm.acquire({ imagePath: image.imagePath, manifest: image.manifest, pool, owner: 80, countersSab: new SharedArrayBuffer(8) })).rejects.toThrow(/counter memory/);
    expect(warm.idleCount).toBe(idle);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('refuses an image that needs more memory than the pool class', async () => {
    await expect(warm.acquire({ imagePath: image.imagePath, manifest: { ...image.manifest, memoryMiB: 64 }, pool, owner: 50 })).rejects.toThrow(/64 MiB/);
  });
});
