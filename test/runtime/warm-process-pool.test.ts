import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainDataPlane, type DataPlaneEvent, type StageImage } from '../../src/dataplane/chain-data-plane.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { MemfdMemory } from '../../src/memory/shared-memory.ts';
import { ProcessIsolate } from '../../src/runtime/process-isolate.ts';
import { processBootstrapPath } from '../../src/runtime/runtime-bundle.ts';
import { SANDBOX_REASONS, SANDBOX_UID, type SandboxReason } from '../../src/runtime/sandbox-reasons.ts';
import { hostileFunction } from '../fixtures/functions/hostile-function.ts';
import { WarmProcessPool } from '../../src/runtime/warm-process-pool.ts';
import { PERFORMANCE_MODULE, performanceProbe } from './performance-probe.ts';
import { faultyFunction } from './faulty-function.ts';
import { udpFrame } from './runtime-helpers.ts';

let dir: string;
let image: StageImage;
/** Hostile images whose attack hits the named sandbox wall. */
const hostile = new Map<SandboxReason, StageImage>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nfvkit-warm-process-'));
  const store = ImageStore.open(join(dir, 'images'));
  image = await buildImage(faultyFunction, {}, { store });
  hostile.set('file', await buildImage(hostileFunction, { attack: 'read-file', port: 1 }, { store }));
  hostile.set('socket', await buildImage(hostileFunction, { attack: 'open-socket', port: 1 }, { store }));
}, 60_000);

/** The `Seccomp:` mode and real uid of a process (`/proc/<pid>/status`), and whether it maps a memfd named `name`. */
function processState(pid: number, name: string): { seccomp: number; uid: number; maps: boolean } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    seccomp: Number(/^Seccomp:\s+(\d+)/m.exec(status)?.[1]),
    uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]),
    maps: readFileSync(`/proc/${pid}/maps`, 'utf8').includes(`/memfd:${name}`),
  };
}

async function until(what: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!what()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.runIf(MemfdMemory.available())('warm process pool', () => {
  it('boots instances in processes started ahead on pipelines built ahead (booted at once, memfd opened through /proc, counters in the pool\'s memfd), refills, and falls back to cold when empty', async () => {
    const warm = await WarmProcessPool.create({ size: 2, memoryMiB: 64, preload: [image.imagePath] });
    const events: DataPlaneEvent[] = [];
    const dp = ChainDataPlane.create(['pass'], { bufferCount: 4096, onEvent: (e) => events.push(e) });
    try {
      await warm.full();
      const a = await dp.addInstance(0, image, { warm });
      const b = await dp.addInstance(0, image, { warm });
      expect(warm.warmBoots).toBe(2);
      // Both ran on the pipeline their process built ahead, counting in the warm pool's memfd.
      expect(warm.preparedBoots).toBe(2);
      for (const inst of [a, b]) {
        expect(inst.host.worker).toBeInstanceOf(ProcessIsolate);
        expect(inst.host.events[0]).toEqual({ type: 'booted', ms: 0 });
      }
      expect(events.filter((e) => e.type === 'instance-ready').map((e) => e.type === 'instance-ready' && e.warm)).toEqual([true, true]);
      // The pool refills behind them; a third boot while it refills may be warm or cold, never lost.
      const c = await dp.addInstance(0, image, { warm });
      expect(warm.warmBoots + warm.coldBoots).toBe(3);
      expect(c.host.state).toBe('running');
      const gen = new GeneratorPort([udpFrame(9, 1), udpFrame(9, 2), udpFrame(9, 3)], { total: 30_000 });
      const sink = new SinkPort();
      await dp.runUntil(gen, sink, () => gen.done && sink.frames + dp.dropped() >= gen.sent, 20_000);
      expect(sink.frames).toBe(30_000);
      // Every instance's counters reach the host, prepared ones (in the warm memfd) included.
      const rx = [a, b, c].map((inst) => inst.host.counters[0] + inst.host.counters[1]);
      expect(rx.reduce((x, y) => x + y, 0)).toBe(30_000);
    } finally {
      expect((await dp.shutdown()).leaks).toEqual([]);
      await warm.full();
      const idle = (warm as unknown as { idle: ProcessIsolate[] }).idle.map((p) => p.pid!);
      expect(idle).toHaveLength(2);
      await warm.close();
      expect(idle.filter(alive)).toEqual([]);
    }
  }, 60_000);

  it('arms the process it takes before building the instance: the memfd mapped and, for an image preloaded and no runtime to import, the sandbox entered before the boot message', async () => {
    const bootstrap = await processBootstrapPath();
    const memory = MemfdMemory.create(1 << 20, 'nfvkit-arm-test');
    const root = process.getuid?.() === 0;
    const sandbox = { uid: root ? SANDBOX_UID : -1, gid: SANDBOX_UID };
    const started: ProcessIsolate[] = [];
    const armed = async (files: boolean, preload: boolean): Promise<ReturnType<typeof processState>> => {
      const p = new ProcessIsolate(64, bootstrap);
      started.push(p);
      p.on('error', () => {});
      if (preload) p.preload(image.imagePath);
      await until(() => p.idle);
      p.arm(image.imagePath, memory, sandbox, memory.allocate(SANDBOX_REASONS.length * 4), files);
      await until(() => processState(p.pid!, 'nfvkit-arm-test').maps);
      // The sandbox is entered right after the mapping, in the same step (or begun on the addon's thread).
      await new Promise((resolve) => setTimeout(resolve, 50));
      return processState(p.pid!, 'nfvkit-arm-test');
    };
    try {
      const early = await armed(false, true);
      // The ids and the filter may still be changing on the addon's thread (sandboxBegin).
      if (early.seccomp !== 2) await until(() => processState(started[0].pid!, 'nfvkit-arm-test').seccomp === 2, 5000);
      Object.assign(early, processState(started[0].pid!, 'nfvkit-arm-test'));
      expect(early.seccomp).toBe(2);
      if (root) expect(early.uid).toBe(SANDBOX_UID);
      // A boot that will import a runtime bundle, or the image itself, reads files: the sandbox waits for ready.
      for (const late of [await armed(true, true), await armed(false, false)]) {
        expect(late.seccomp).toBe(0);
        if (root) expect(late.uid).toBe(0);
      }
      expect(() => started[0].arm(image.imagePath, memory, sandbox, memory.allocate(SANDBOX_REASONS.length * 4), false)).toThrow(/armed once/);
    } finally {
      await Promise.all(started.map((p) => p.terminate()));
      memory.close();
    }
  }, 60_000);

  it('a process started ahead has loaded performance before it builds a pipeline (a stateful boot reads it first when it attaches its state)', async () => {
    const store = ImageStore.open(join(dir, 'probe-images'));
    const probe = await buildImage(performanceProbe, {}, { store });
    const slot = probe.manifest.counters.findIndex((c) => c.name.endsWith('performance_not_loaded'));
    expect(slot).toBeGreaterThan(0);
    const warm = await WarmProcessPool.create({ size: 1, memoryMiB: 64, preload: [probe.imagePath], learn: 0 });
    const dp = ChainDataPlane.create(['probe'], { bufferCount: 4096, instanceMode: 'process' });
    try {
      await warm.full();
      const inst = await dp.addInstance(0, probe, { warm });
      expect(warm.preparedBoots).toBe(1);
      expect(inst.host.counters[slot]).toBe(0);
      // The probe does see an unloaded performance: in a process that never read it.
      const fresh = spawnSync(process.execPath, ['-e', `console.log(process.moduleLoadList.includes(${JSON.stringify(PERFORMANCE_MODULE)}))`], { encoding: 'utf8' });
      expect(fresh.stdout.trim()).toBe('false');
    } finally {
      await dp.shutdown();
      await warm.close();
    }
  }, 60_000);

  it('an armed process maps the pages the boot will write to (touch) before its boot message; ranges outside the memory are refused', async () => {
    const bootstrap = await processBootstrapPath();
    const memory = MemfdMemory.create(1 << 20, 'nfvkit-touch-test');
    const hot = memory.allocate(256 * 1024);
    new Uint8Array(hot).fill(1); // pages the host wrote exist in the memfd
    const started: ProcessIsolate[] = [];
    /** Resident KiB of the memfd's mapping in process `pid`. */
    const rssKiB = (pid: number): number => {
      const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
      const at = smaps.indexOf('/memfd:nfvkit-touch-test');
      return at < 0 ? -1 : Number(/\nRss:\s+(\d+) kB/.exec(smaps.slice(at))?.[1]);
    };
    const armed = async (touch: boolean): Promise<number> => {
      const p = new ProcessIsolate(64, bootstrap);
      started.push(p);
      p.on('error', () => {});
      await until(() => p.idle);
      p.arm(image.imagePath, memory, null, memory.allocate(SANDBOX_REASONS.length * 4), false, touch ? [memory.locate(hot)!] : []);
      await until(() => rssKiB(p.pid!) >= (touch ? 256 : 0));
      await new Promise((resolve) => setTimeout(resolve, 50));
      return rssKiB(p.pid!);
    };
    try {
      expect(await armed(true)).toBeGreaterThanOrEqual(256);
      expect(await armed(false)).toBeLessThan(64);
      // A refused arm leaves the process unarmed: it can be armed right afterwards.
      const p = new ProcessIsolate(64, bootstrap);
      started.push(p);
      p.on('error', () => {});
      const counters = memory.allocate(SANDBOX_REASONS.length * 4);
      expect(() => p.arm(image.imagePath, memory, null, counters, false, [{ offset: memory.bytes - 4096, length: 8192 }])).toThrow(/must lie in the memory armed/);
      expect(() => p.arm(image.imagePath, memory, null, counters, false, [{ offset: -1, length: 10 }])).toThrow(/must lie in the memory armed/);
      p.arm(image.imagePath, memory, null, counters, false, [memory.locate(hot)!]);
      await until(() => rssKiB(p.pid!) >= 256);
    } finally {
      await Promise.all(started.map((x) => x.terminate()));
      memory.close();
    }
  }, 60_000);

  it('instances booted from armed processes deny and count hostile calls in their own sandbox counters, preloaded or imported at boot', async () => {
    const walls = [...hostile.keys()];
    const warm = await WarmProcessPool.create({ size: 2, memoryMiB: 64, preload: [hostile.get('file')!.imagePath], learn: 0 });
    const planes: ChainDataPlane[] = [];
    try {
      for (const wall of walls) {
        const dp = ChainDataPlane.create(['hostile'], { bufferCount: 2048 });
        planes.push(dp);
        await warm.full();
        await dp.addInstance(0, hostile.get(wall)!, { warm });
        const gen = new GeneratorPort([udpFrame(9, 1), udpFrame(9, 2)], { total: 64 });
        const sink = new SinkPort();
        await dp.runUntil(gen, sink, () => gen.done && sink.frames + dp.dropped() >= gen.sent, 5000);
        const host = dp.instances()[0].host;
        expect(host.state).toBe('running');
        expect(host.sandboxCounters[SANDBOX_REASONS.indexOf(wall)], wall).toBeGreaterThan(0);
        const failed = dp.instances()[0].manifest.counters.findIndex((c) => c.name === 'attack_failed');
        expect(host.counters[failed], wall).toBe(1);
      }
      expect(warm.warmBoots).toBe(walls.length);
      expect(warm.preparedBoots).toBe(1);
    } finally {
      for (const dp of planes) expect((await dp.shutdown()).leaks).toEqual([]);
      await warm.close();
    }
  }, 60_000);

  it('kills the process it armed when the host refuses the boot options, and gives the sandbox counters back', async () => {
    const warm = await WarmProcessPool.create({ size: 1, memoryMiB: 64, preload: [image.imagePath], learn: 0 });
    const dp = ChainDataPlane.create(['pass'], { bufferCount: 1024 });
    const memory = dp.memory as MemfdMemory;
    try {
      await warm.full();
      const [taken] = (warm as unknown as { idle: ProcessIsolate[] }).idle.map((p) => p.pid!);
      const free = memory.freeBytes();
      // The pool handle's own owner id as the instance's: InstanceHost refuses it.
      const refused = warm.acquire({ imagePath: image.imagePath, manifest: image.manifest, pool: dp.pool, owner: dp.pool.ownerId, memory, sandbox: null });
      await expect(refused).rejects.toThrow(/must differ/);
      await until(() => !alive(taken), 5000);
      expect(memory.freeBytes()).toBe(free);
    } finally {
      await dp.shutdown();
      await warm.close();
    }
  }, 30_000);
});
