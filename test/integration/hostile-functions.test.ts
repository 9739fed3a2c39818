import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainDataPlane, type DataPlaneEvent, type DataPlaneFaults, type InstanceMode, type StageImage } from '../../src/dataplane/chain-data-plane.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { PacedPort } from '../../src/dataplane/ports/paced-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { PumpLoop } from '../../src/dataplane/pump-loop.ts';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import type { PipelineDefinition } from '../../src/pipeline/define-pipeline.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import type { InstanceFailureReason } from '../../src/runtime/instance-host.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { corruptPoolHeader } from '../fixtures/functions/hostile-memory/corrupt-pool-header.ts';
import { corruptRing } from '../fixtures/functions/hostile-memory/corrupt-ring.ts';
import { forgeOwner } from '../fixtures/functions/hostile-memory/forge-owner.ts';
import { holdPoolLock } from '../fixtures/functions/hostile-memory/hold-pool-lock.ts';
import { HOSTILE_PORT } from '../fixtures/functions/hostile-memory/hostile-trigger.ts';
import { allocateUnbounded, spinForever, throwPerPacket } from '../fixtures/functions/hostile-memory/misbehaving-code.ts';
import { scribblePool } from '../fixtures/functions/hostile-memory/scribble-pool.ts';
import { INSTANCE_MODES } from '../support/instance-modes.ts';

const udp = (i: number, dstPort: number): Uint8Array =>
  buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120100 + (i % 200), dstIp: 0xc6130001, srcPort: 10000 + i, dstPort, payloadLength: 18 });
const healthyFrames = Array.from({ length: 64 }, (_, i) => udp(i, 80));
/** 99 ordinary frames, then the one that sets the hostile function off (it acts once). */
const hostileFrames = Array.from({ length: 100 }, (_, i) => udp(i, i === 99 ? HOSTILE_PORT : 80));

const NO_FAULTS: DataPlaneFaults = { protocolViolations: 0, lockHeld: 0, lockUnattributed: 0, scrubbed: 0, caught: 0 };

interface Case {
  readonly what: string;
  readonly fn: PipelineDefinition<Record<string, never>>;
  /** The reason its instance must fail with; undefined: nobody can be blamed, the chain must recover. */
  readonly reason?: InstanceFailureReason;
  /** Another reason allowed: the instance's own driver may trip over what it scribbled before the host sees it. */
  readonly orReason?: InstanceFailureReason;
  readonly detail?: RegExp;
  readonly hangTimeoutMs?: number;
  /**
   * It writes ownership words while the host works on those buffers: a port can then throw
   * (caught at the port's or the instance's boundary in the pump, `faults.caught`).
   */
  readonly racesTheHost?: boolean;
  /** Only in these instance modes (the ring fixtures find their rings through a worker's `workerData`). */
  readonly modes?: readonly InstanceMode[];
  /** Checks on the hostile chain once it failed or recovered. */
  readonly check?: (plane: ChainDataPlane, sink: SinkPort) => void;
}

const cases: Case[] = [
  {
    what: 'scribbles over the pool outside its packets (ownership words, lengths, offsets, bytes, free stack)',
    fn: scribblePool,
    reason: 'protocol-violation',
    orReason: 'crashed',
    detail: /^protocol-violation: (eth[01] (receiveq|transmitq)|the host failed serving it: BufferOwnershipError|a buffer it transmitted changed owner before the host took it)|^crashed: VirtqueueProtocolError/,
    racesTheHost: true,
    check: (plane) => expect(plane.faults.scrubbed).toBeGreaterThan(0),
  },
  {
    what: 'overwrites the pool header, lock words included',
    fn: corruptPoolHeader,
    check: (plane) => {
      expect(plane.faults.lockUnattributed).toBeGreaterThan(0);
      expect(plane.instances().map((i) => i.host.state)).toEqual(['running']);
      expect(PacketPool.attach(plane.pool.sab, { owner: 99 }).bufferCount).toBe(plane.pool.bufferCount);
    },
  },
  { what: 'pushes its transmit ring’s available index far ahead', fn: corruptRing('avail-ahead'), modes: ['worker'], reason: 'protocol-violation', detail: /eth1 transmitq: driver made \d+ chains available/ },
  { what: 'posts a descriptor whose address is outside the pool', fn: corruptRing('desc-addr'), modes: ['worker'], reason: 'protocol-violation', detail: /eth1 transmitq descriptor \d+ \(addr \d+, len 100\) is not a buffer handed/ },
  { what: 'posts a descriptor with a huge length', fn: corruptRing('desc-len'), modes: ['worker'], reason: 'protocol-violation', detail: /len 4294967295\) is not a buffer handed/ },
  {
    what: 'writes a foreign owner id into the ownership words of its buffers',
    fn: forgeOwner,
    reason: 'protocol-violation',
    detail: /^protocol-violation: (eth[01] (receiveq|transmitq)|a buffer it transmitted changed owner)/,
    check: (plane) => expect(plane.faults.scrubbed).toBeGreaterThan(0),
  },
  {
    what: 'takes the pool lock and keeps it',
    fn: holdPoolLock,
    reason: 'lock-held',
    detail: /kept the pool lock/,
    check: (plane) => {
      expect(plane.faults.lockHeld).toBe(1);
      expect(plane.pool.stats().lockSteals).toBe(1);
    },
  },
  { what: 'throws on every packet', fn: throwPerPacket, reason: 'crashed', detail: /hostile: thrown on a frame/ },
  { what: 'spins forever', fn: spinForever, reason: 'hung', detail: /heartbeat/, hangTimeoutMs: 300 },
  { what: 'allocates without bound', fn: allocateUnbounded, reason: 'out-of-memory', hangTimeoutMs: 3000 },
];

const root = mkdtempSync(join(tmpdir(), 'nfvkit-hostile-'));
const store = ImageStore.open(root);
const images = new Map<string, StageImage>();
let healthyImage: StageImage;

beforeAll(async () => {
  healthyImage = await buildImage(passThrough, {}, { store });
  for (const c of cases) images.set(c.fn.name, await buildImage(c.fn, {}, { store }));
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** What the hostile chain looks like, for a failure message. */
function diagnose(plane: ChainDataPlane, sink: SinkPort, events: readonly DataPlaneEvent[]): string {
  const inst = plane.stages[0].bySlot[0];
  const h = inst?.host;
  return JSON.stringify({
    state: h?.state,
    violations: [h?.eth0.violation, h?.eth1.violation],
    rxRoom: [h?.eth0.rxRoom(), h?.eth1.rxRoom()],
    fifo: [inst?.toEth0.count, inst?.toEth1.count],
    sink: sink.frames,
    faults: plane.faults,
    drops: plane.drops,
    pool: plane.pool.stats(),
    events,
  });
}

describe.each(INSTANCE_MODES)('a hostile function next to a healthy chain (%s instances)', (instanceMode) => {
  for (const c of cases) {
    if (c.modes !== undefined && !c.modes.includes(instanceMode)) continue;
    it(`${c.what}: the host survives, the healthy chain loses nothing, ${c.reason === undefined ? 'the hostile chain recovers' : `the instance fails as ${c.reason}`}, no pool leaks`, async () => {
      const healthy = ChainDataPlane.create(['healthy'], { instanceMode, bufferCount: 2048, queueSize: 64 });
      const events: DataPlaneEvent[] = [];
      const hostile = ChainDataPlane.create(['hostile'], { instanceMode, bufferCount: 2048, queueSize: 64, onEvent: (e) => events.push(e) });
      const loops: PumpLoop[] = [];
      try {
        await healthy.addInstance(0, healthyImage);
        await hostile.addInstance(0, images.get(c.fn.name)!, c.hangTimeoutMs === undefined ? {} : { hangTimeoutMs: c.hangTimeoutMs });
        const healthyGen = new GeneratorPort(healthyFrames, { total: Number.MAX_SAFE_INTEGER });
        const healthyIn = new PacedPort(healthyGen, 100_000);
        const healthySink = new SinkPort();
        const hostileIn = new PacedPort(new GeneratorPort(hostileFrames, { total: Number.MAX_SAFE_INTEGER }), 50_000);
        const hostileSink = new SinkPort();
        loops.push(new PumpLoop(healthy, healthyIn, healthySink), new PumpLoop(hostile, hostileIn, hostileSink));
        for (const loop of loops) loop.start();

        const failed = () => events.find((e) => e.type === 'instance-failed');
        const settled =
          c.reason === undefined
            ? () => hostileSink.frames > 5_000 && hostile.faults.lockUnattributed > 0 && hostile.faults.scrubbed >= 0 && healthySink.frames > 5_000
            : () => failed() !== undefined && hostile.instances().length === 0 && healthySink.frames > 5_000;
        const ok = await until(settled, 8_000);
        expect(ok, ok ? '' : diagnose(hostile, hostileSink, events)).toBe(true);
        healthyIn.rate = 0;
        hostileIn.rate = 0;
        expect(await until(() => healthySink.frames === healthyGen.sent, 2_000)).toBe(true);
        await Promise.all(loops.map((l) => l.stop()));

        expect(healthy.dropped()).toBe(0);
        expect(healthy.faults).toEqual(NO_FAULTS);
        expect(healthy.instances().map((i) => i.host.state)).toEqual(['running']);
        if (c.reason !== undefined) {
          const event = failed()!;
          expect(event.type === 'instance-failed' && event.reason).toMatch(new RegExp(`^(${c.reason}|${c.orReason ?? c.reason}): `));
          if (c.detail !== undefined) expect(event.type === 'instance-failed' && event.reason).toMatch(c.detail);
          await hostile.stages[0].bySlot[0].host.settled();
        }
        c.check?.(hostile, hostileSink);
        if (c.racesTheHost !== true) expect(hostile.faults.caught).toBe(0);
      } finally {
        for (const loop of loops) await loop.stop();
        const healthyReport = await healthy.shutdown();
        const hostileReport = await hostile.shutdown();
        expect(healthyReport.leaks).toEqual([]);
        expect(hostileReport.leaks).toEqual([]);
        expect(hostile.pool.leakCheck()).toEqual([]);
      }
    }, 20_000);
  }
});
