import { mkdtempSync, rmSync } from 'node:fs';
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
import { WarmProcessPool } from '../../src/runtime/warm-process-pool.ts';
import { faultyFunction } from './faulty-function.ts';
import { udpFrame } from './runtime-helpers.ts';

let dir: string;
let image: StageImage;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nfvkit-warm-process-'));
  image = await buildImage(faultyFunction, {}, { store: ImageStore.open(join(dir, 'images')) });
}, 60_000);

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
});
