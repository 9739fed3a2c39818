import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { lbBackends } from '../../functions/load-balancer/lb-backends.ts';
import { BackendControlBlock } from '../../src/backends/backend-control-block.ts';
import { BackendState } from '../../src/backends/backend-control-layout.ts';
import { ChainDataPlane, createDataPlanePool, type StageImage } from '../../src/dataplane/chain-data-plane.ts';
import type { StageInstance } from '../../src/dataplane/stage.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { MemfdMemory } from '../../src/memory/shared-memory.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import { WarmPool } from '../../src/runtime/warm-pool.ts';
import { WarmProcessPool } from '../../src/runtime/warm-process-pool.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';

let dir: string;
let image: StageImage;
const CONFIG = { services: [{ name: 'dns', vip: '198.18.2.100', port: 53, proto: 'udp', backends: [{ address: '198.19.0.1' }, { address: '198.19.0.2' }, { address: '198.19.0.3' }] }], maglevTableSize: 251 };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nfvkit-warm-control-'));
  image = await buildImage(loadBalancer, CONFIG, { store: ImageStore.open(join(dir, 'images')) });
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** UDP frames of `flows` new flows (from `first` on) to the service. */
const frames = (first: number, flows: number): Uint8Array[] =>
  Array.from({ length: flows }, (_, f) => buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120100 + first + f, dstIp: 0xc6120264, srcPort: 20000 + first + f, dstPort: 53, payloadLength: 18 }));

const counter = (inst: StageInstance, name: string): number => inst.host.counters[inst.manifest.counters.findIndex((c) => c.name === name)];

const MODES: readonly (readonly ['process' | 'worker', boolean])[] = [
  ['process', MemfdMemory.available()],
  ['worker', true],
];

describe.each(MODES)('a pipeline built ahead in a warm %s gets its control words at boot', (mode, available) => {
  it.runIf(available)('boots on the prepared pipeline with the states written before the boot, and follows changes after it', async () => {
    const warm = mode === 'process' ? await WarmProcessPool.create({ size: 1, memoryMiB: 256, preload: [image.imagePath] }) : await WarmPool.create({ size: 1, memoryMiB: 256, preload: [image.imagePath], prepare: true });
    const dp = ChainDataPlane.create(['lb'], { pool: createDataPlanePool(4096, mode) });
    try {
      await warm.full();
      const block = BackendControlBlock.create(3, (n) => dp.memory.allocate(n));
      block.set(2, BackendState.DRAINING);
      const inst = await dp.addInstance(0, image, { warm, controlSab: block.buffer });
      expect(warm.preparedBoots).toBe(1);
      const run = async (from: number, flows: number): Promise<void> => {
        const gen = new GeneratorPort(frames(from, flows), { total: flows });
        const sink = new SinkPort();
        await dp.runUntil(gen, sink, () => gen.done && sink.frames + dp.dropped() >= gen.sent, 20_000);
        expect(sink.frames).toBe(flows);
      };
      await run(0, 300);
      expect(counter(inst, lbBackends.newFlowsCounter(2))).toBe(0);
      expect(counter(inst, lbBackends.newFlowsCounter(0)) + counter(inst, lbBackends.newFlowsCounter(1))).toBe(300);
      block.set(2, BackendState.ACTIVE);
      block.set(0, BackendState.DRAINING);
      const zero = counter(inst, lbBackends.newFlowsCounter(0));
      await run(1000, 300);
      expect(counter(inst, lbBackends.newFlowsCounter(0))).toBe(zero);
      expect(counter(inst, lbBackends.newFlowsCounter(2))).toBeGreaterThan(0);
      expect(counter(inst, 'control_changes')).toBe(1);
    } finally {
      expect((await dp.shutdown()).leaks).toEqual([]);
      await warm.close();
    }
  }, 60_000);
});
