import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuildImageResult } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { InstanceHost, type InstanceFailureReason } from '../../src/runtime/instance-host.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { faultyFunction, HOG_PORT, SPIN_PORT, THROW_PORT } from './faulty-function.ts';
import { forward, udpFrame } from './runtime-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'nfvkit-instance-host-'));
const store = ImageStore.open(root);
const pool = PacketPool.create({ bufferCount: 4096, owner: 1 });
let healthyImage: BuildImageResult;
let faultyImage: BuildImageResult;
let healthy: InstanceHost;

const frames = (n: number, port = 80): Uint8Array[] => Array.from({ length: n }, (_, i) => udpFrame(port, i));

beforeAll(async () => {
  healthyImage = await buildImage(passThrough, {}, { store });
  faultyImage = await buildImage(faultyFunction, {}, { store });
  healthy = await InstanceHost.boot({ imagePath: healthyImage.imagePath, manifest: healthyImage.manifest, pool, owner: 10, hangTimeoutMs: 300 });
}, 30_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('InstanceHost', () => {
  it('boots cold, records booted and ready, forwards, and stops cleanly with every buffer back', async () => {
    const host = await InstanceHost.boot({ imagePath: faultyImage.imagePath, manifest: faultyImage.manifest, pool, owner: 20 });
    expect(host.state).toBe('running');
    expect(host.bootMs).toBeGreaterThan(0);
    expect(host.events.map((e) => e.type)).toEqual(['booted', 'ready']);
    expect(await forward(host, frames(500))).toBe(500);
    expect(host.beats()).toBeGreaterThan(0);
    const settled = host.settled();
    const last = await host.stop();
    expect(last).toMatchObject({ type: 'stopped', discarded: 0 });
    expect(host.state).toBe('stopped');
    // A clean stop settles whoever waits for the instance to be gone (a warm pool releasing its counters).
    expect(await Promise.race([settled.then(() => 'settled'), new Promise((r) => setTimeout(() => r('pending'), 1000))])).toBe('settled');
    expect(pool.leakCheck().filter((b) => b.owner === 20 || b.owner === 21)).toEqual([]);
  });

  // Each case's hang timeout: 300 ms finds the spinner quickly; the allocator needs its own
  // watchdog out of the way, since its loop does not beat while V8 fills the heap and runs
  // its last-resort collections (~100-160 ms alone, > 300 ms with more busy threads than
  // cores), and the first reason found wins: with 300 ms it was failed as hung under load.
  const cases: Array<[string, number, InstanceFailureReason, RegExp, number]> = [
    ['throws on a magic packet', THROW_PORT, 'crashed', /magic packet/, 300],
    ['allocates without bound', HOG_PORT, 'out-of-memory', /memory/i, 3000],
    ['spins forever', SPIN_PORT, 'hung', /heartbeat/, 300],
  ];
  for (const [what, port, reason, detail, hangTimeoutMs] of cases) {
    it(`contains an instance that ${what}: reason ${reason}, buffers reclaimed, others keep forwarding`, async () => {
      const host = await InstanceHost.boot({ imagePath: faultyImage.imagePath, manifest: faultyImage.manifest, pool, owner: 30, hangTimeoutMs });
      expect(host.state).toBe('running');
      expect(await forward(host, frames(200))).toBe(200);
      await forward(host, [...frames(100), udpFrame(port), ...frames(100)], 10_000);
      await host.settled();
      expect(host.state).toBe('failed');
      expect(host.failure?.reason).toBe(reason);
      expect(host.failure?.detail).toMatch(detail);
      const failed = host.events.at(-1);
      expect(failed).toMatchObject({ type: 'failed', reason });
      expect(failed?.type === 'failed' && failed.reclaimed).toBeGreaterThan(0);
      expect(pool.leakCheck().filter((b) => b.owner === 30 || b.owner === 31)).toEqual([]);
      expect(healthy.state).toBe('running');
      expect(await forward(healthy, frames(300))).toBe(300);
    }, 20_000);
  }

  it('lets an idle instance sleep (its doorbell, not a 1 ms poll, wakes it) and wakes it at once for frames', async () => {
    await forward(healthy, frames(10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = healthy.beats();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Each sleep is followed by a short spin (64 passes); sleeps grow to 16 ms while idle:
    // a few thousand passes a second, where a 1 ms poll made ~65,000.
    const passes = healthy.beats() - before;
    expect(passes).toBeGreaterThan(0);
    expect(passes).toBeLessThan(10_000);
    const woke = performance.now();
    expect(await forward(healthy, frames(1))).toBe(1);
    expect(performance.now() - woke).toBeLessThan(500);
  });

  it('keeps an idle healthy instance alive past its hang timeout, then the pool is whole after it stops', async () => {
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(healthy.state).toBe('running');
    expect(await healthy.stop()).toMatchObject({ type: 'stopped' });
    expect(pool.leakCheck()).toEqual([]);
  });
});
