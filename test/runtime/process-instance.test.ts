import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainDataPlane, type StageImage } from '../../src/dataplane/chain-data-plane.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { MemfdMemory } from '../../src/memory/shared-memory.ts';
import { ProcessIsolate } from '../../src/runtime/process-isolate.ts';
import { SANDBOX_REASONS, SANDBOX_UID, type SandboxReason } from '../../src/runtime/sandbox-reasons.ts';
import { ATTACKS, hostileFunction, type Attack } from '../fixtures/functions/hostile-function.ts';
import { faultyFunction } from './faulty-function.ts';
import { udpFrame } from './runtime-helpers.ts';

const available = MemfdMemory.available();
if (!available && process.env.NFVKIT_NATIVE_REQUIRED === '1') throw new Error('the native addon is required here but did not load');

/** The sandbox wall each attack must hit (read-env has none: there is nothing to read). */
const WALL: Partial<Record<Attack, SandboxReason>> = { 'read-file': 'file', 'open-socket': 'socket', 'kill-controller': 'signal' };

let dir: string;
let passImage: StageImage;
const hostileImages = new Map<Attack, StageImage>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nfvkit-process-instance-'));
  const store = ImageStore.open(join(dir, 'images'));
  passImage = await buildImage(faultyFunction, {}, { store });
  for (const attack of ATTACKS) hostileImages.set(attack, await buildImage(hostileFunction, { attack, port: 1 }, { store }));
}, 120_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `frames` frames through a one-stage data plane; resolves with what the sink got. */
async function run(dp: ChainDataPlane, frames: number, timeoutMs = 10_000): Promise<number> {
  const gen = new GeneratorPort([udpFrame(9, 1), udpFrame(9, 2)], { total: frames });
  const sink = new SinkPort();
  await dp.runUntil(gen, sink, () => gen.done && sink.frames + dp.dropped() >= gen.sent, timeoutMs);
  return sink.frames;
}

function sandboxCounts(dp: ChainDataPlane): Record<SandboxReason, number> {
  const counters = dp.instances()[0].host.sandboxCounters;
  return Object.fromEntries(SANDBOX_REASONS.map((r, i) => [r, counters[i]])) as Record<SandboxReason, number>;
}

function counter(dp: ChainDataPlane, name: string): number {
  const inst = dp.instances()[0];
  return inst.host.counters[inst.manifest.counters.findIndex((c) => c.name === name)];
}

describe.runIf(available)('instances as sandboxed processes', () => {
  it('runs each instance as its own process: seccomp on, no new privileges, no secret in its environment, unprivileged when the host is root', async () => {
    process.env.NFVKIT_TOKEN = 'secret-token-of-the-controller';
    const dp = ChainDataPlane.create(['pass'], { bufferCount: 2048 });
    try {
      expect(dp.instanceMode).toBe('process');
      const inst = await dp.addInstance(0, passImage);
      expect(inst.host.worker).toBeInstanceOf(ProcessIsolate);
      const pid = (inst.host.worker as ProcessIsolate).pid!;
      expect(pid).not.toBe(process.pid);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      expect(status).toMatch(/^Seccomp:\s+2$/m);
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      const ready = inst.host.events.find((e) => e.type === 'ready');
      expect(ready?.type === 'ready' ? ready.startup?.sandboxMs : undefined).toBeGreaterThan(0);
      if (process.getuid?.() === 0) {
        expect(status).toMatch(new RegExp(`^Uid:\\s+${SANDBOX_UID}\\s+${SANDBOX_UID}\\s+${SANDBOX_UID}\\s`, 'm'));
        expect(status).toMatch(new RegExp(`^Gid:\\s+${SANDBOX_UID}\\s+${SANDBOX_UID}\\s+${SANDBOX_UID}\\s`, 'm'));
        expect(status).toMatch(/^Groups:\s*$/m);
      }
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      expect(environ).not.toContain('NFVKIT_TOKEN');
      // No V8 flag (one would make V8 refuse Node's code cache): the heap limit is the bootstrap's argument.
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(argv.slice(1, argv.findIndex((a) => a.endsWith('.mjs')))).toEqual(['--v8-pool-size=1']);
      expect(argv[argv.findIndex((a) => a.endsWith('.mjs')) + 1]).toBe(String(passImage.manifest.memoryMiB));
      expect(await run(dp, 5000)).toBe(5000);
      // A well-behaved instance hits no wall.
      expect(Array.from(inst.host.sandboxCounters)).toEqual(SANDBOX_REASONS.map(() => 0));
    } finally {
      delete process.env.NFVKIT_TOKEN;
      const { leaks } = await dp.shutdown();
      expect(leaks).toEqual([]);
    }
  }, 30_000);

  it('denies and counts every hostile attempt inside the instance, while a neighbour chain loses no frame', async () => {
    process.env.NFVKIT_TOKEN = 'secret-token-of-the-controller';
    const healthy = ChainDataPlane.create(['pass'], { bufferCount: 4096 });
    const hostile: ChainDataPlane[] = [];
    try {
      await healthy.addInstance(0, passImage);
      const total = 200_000;
      const carried = run(healthy, total, 60_000);
      for (const attack of ATTACKS) {
        const dp = ChainDataPlane.create(['hostile'], { bufferCount: 2048 });
        hostile.push(dp);
        await dp.addInstance(0, hostileImages.get(attack)!);
        await run(dp, 64, 5000);
        if (attack === 'exit') {
          // Its own exit is allowed: the instance is gone, contained, and nothing else is.
          expect(dp.stages[0].bySlot[0].state).toBe('gone');
          continue;
        }
        expect(counter(dp, 'attack_succeeded'), attack).toBe(0);
        expect(counter(dp, 'attack_failed'), attack).toBe(1);
        const counts = sandboxCounts(dp);
        const wall = WALL[attack];
        if (wall !== undefined) expect(counts[wall], `${attack}: ${JSON.stringify(counts)}`).toBeGreaterThan(0);
        if (attack === 'exec') expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
        // It keeps forwarding: a denied call is its problem, not the chain's.
        expect(dp.instances()[0].host.state).toBe('running');
      }
      expect(await carried).toBe(total);
      expect(healthy.dropped()).toBe(0);
    } finally {
      delete process.env.NFVKIT_TOKEN;
      for (const dp of hostile) expect((await dp.shutdown()).leaks).toEqual([]);
      expect((await healthy.shutdown()).leaks).toEqual([]);
    }
  }, 120_000);
});
