import { describe, expect, it } from 'vitest';
import type { ChainPort } from '../../../src/dataplane/chain-port.ts';
import { GeneratorPort } from '../../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../../src/dataplane/ports/sink-port.ts';
import type { PipelineInstance } from '../../../src/pipeline/compiled-pipeline.ts';
import type { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { Verdict } from '../../../src/pipeline/verdict.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { IDLE_SPINS, InstanceLoop } from '../../../src/runtime/instance-loop.ts';
import { Doorbell } from '../../../src/virtio/doorbell.ts';
import { VirtioNetDevice } from '../../../src/virtio/virtio-net-device.ts';
import { deviceEnd, type VirtioNetDeviceEnd } from '../../../src/virtio/virtio-net-device-end.ts';

const HOST = 1; // device ends (the data plane's side)
const GUEST = 2; // driver ends (the instance)

/** Frame byte 0 carries a tag the test pipelines act on; bytes 1 and 3 a sequence number. */
const ACT = { PASS: 0, DROP: 1, BOUNCE: 2, TRIM: 3 } as const;

/**
 * A pipeline as the fused loop behaves: reads each frame (absolute offsets into the pool),
 * sets a verdict; PASS sends out on the opposite side, BOUNCE back on the arrival side,
 * TRIM strips the first 2 bytes and the last 4 and passes.
 */
function tagPipeline(log: Array<{ side: number; n: number }> = []): PipelineInstance {
  return {
    processBatch(batch: PacketBatch): void {
      log.push({ side: batch.sides[0], n: batch.count });
      for (let i = 0; i < batch.count; i++) {
        const side = batch.sides[i];
        const act = batch.view.getUint8(batch.offsets[i]);
        if (act === ACT.DROP) {
          batch.verdicts[i] = Verdict.DROP;
          batch.reasons[i] = 3;
        } else if (act === ACT.BOUNCE) batch.verdicts[i] = side;
        else {
          if (act === ACT.TRIM) {
            batch.offsets[i] += 2;
            batch.lengths[i] -= 6;
          }
          batch.verdicts[i] = side === 0 ? Verdict.OUTSIDE : Verdict.INSIDE;
        }
      }
    },
  };
}

function setup(queueSize = 16, bufferCount = 256, pipeline: PipelineInstance = tagPipeline()) {
  const host = PacketPool.create({ bufferCount, owner: HOST });
  const guest = host.withOwner(GUEST);
  const dev0 = VirtioNetDevice.create({ queueSize, driverOwner: GUEST, deviceOwner: HOST });
  const dev1 = VirtioNetDevice.create({ queueSize, driverOwner: GUEST, deviceOwner: HOST });
  // The instance attaches to the device memory, as instance-main does in its worker.
  const eth0 = VirtioNetDevice.attach(dev0.sab).driverEnd(guest);
  const eth1 = VirtioNetDevice.attach(dev1.sab).driverEnd(guest);
  const back0 = deviceEnd(dev0, host);
  const back1 = deviceEnd(dev1, host);
  eth0.refillRx();
  eth1.refillRx();
  const loop = new InstanceLoop(guest, [eth0, eth1], pipeline);
  return { host, guest, eth0, eth1, back0, back1, loop, baseline: host.inUse() };
}

/**
 * Host-side frames (owned by HOST) of 64 bytes: byte 0 = action, bytes 1 and 3 = seq (so a
 * frame TRIMmed by 2 bytes still shows it at byte 1), the rest a pattern.
 */
function frames(pool: PacketPool, acts: readonly number[], seq0 = 0): Uint32Array {
  const ids = new Uint32Array(acts.length);
  expect(pool.allocBatch(ids, acts.length)).toBe(acts.length);
  for (let i = 0; i < acts.length; i++) {
    const bytes = Uint8Array.from({ length: 64 }, (_, k) => (k === 0 ? acts[i] : k === 1 || k === 3 ? (seq0 + i) & 0xff : (k * 7 + i) & 0xff));
    expect(pool.copyIn(ids[i], bytes, 0, bytes.length)).toBe(true);
  }
  return ids;
}

function polled(back: VirtioNetDeviceEnd, host: PacketPool): { ids: number[]; seqs: number[] } {
  const out = new Uint32Array(512);
  const n = back.pollTx(out, out.length);
  const ids = [...out.subarray(0, n)];
  return { ids, seqs: ids.map((id) => host.bytes[host.dataOffset(id) + 1]) };
}

function freeAll(host: PacketPool, ids: readonly number[]): void {
  host.freeBatch(Uint32Array.from(ids), ids.length);
}

/** Shuts the devices down as the instance does at stop, so every buffer comes home. */
function teardown(s: ReturnType<typeof setup>): void {
  s.eth0.close();
  s.eth1.close();
  s.back0.returnRx();
  s.back1.returnRx();
  const rx = new Uint32Array(512);
  while (s.eth0.receive(rx, rx.length) + s.eth1.receive(rx, rx.length) > 0);
  s.eth0.reclaimTx();
  s.eth1.reclaimTx();
  expect(s.host.leakCheck()).toEqual([]);
}

describe('InstanceLoop over virtio-net devices', () => {
  it('carries frames from eth0 to eth1 (verdict OUTSIDE) in order, zero copy, and frees drops', () => {
    const s = setup();
    const { host, back0, back1, loop } = s;
    const acts = [ACT.PASS, ACT.DROP, ACT.PASS, ACT.DROP, ACT.PASS, ACT.PASS, ACT.DROP, ACT.PASS];
    const ids = frames(host, acts);
    const copies = host.stats();
    expect(back0.deliverRx(ids, ids.length)).toBe(8);
    expect(loop.pollOnce(0)).toBe(8);
    expect(loop.received).toBe(8);
    expect(loop.batches).toBe(1);

    const out = polled(back1, host);
    expect(out.seqs).toEqual([0, 2, 4, 5, 7]);
    // The very buffers that came in (only ids moved), now owned by the host again.
    expect(out.ids).toEqual([ids[0], ids[2], ids[4], ids[5], ids[7]]);
    for (const id of out.ids) {
      expect(host.ownerOf(id)).toBe(HOST);
      expect(host.meta.length[id]).toBe(64);
    }
    expect(polled(back0, host).ids).toEqual([]);
    expect(host.stats().copiesIn).toBe(copies.copiesIn);
    expect(host.stats().copiesOut).toBe(copies.copiesOut);
    // The three dropped buffers went back to the pool: what is in use is the refilled
    // receiveqs plus the five frames the host now holds.
    expect(host.inUse()).toBe(s.baseline + 5);
    freeAll(host, out.ids);
    expect(host.inUse()).toBe(s.baseline);
    expect(loop.pollOnce(1)).toBe(0);
    teardown(s);
  });

  it('sends eth1 arrivals out of eth0, bounces on the arrival side, and keeps the pipeline’s trims', () => {
    const s = setup();
    const { host, back0, back1, loop } = s;
    const fromInside = frames(host, [ACT.BOUNCE, ACT.TRIM, ACT.PASS], 0);
    const fromOutside = frames(host, [ACT.PASS, ACT.BOUNCE, ACT.DROP, ACT.TRIM], 100);
    back0.deliverRx(fromInside, 3);
    back1.deliverRx(fromOutside, 4);
    expect(loop.pollOnce(0)).toBe(7);
    expect(loop.batches).toBe(2);

    const out0 = polled(back0, host);
    const out1 = polled(back1, host);
    expect(out0.seqs).toEqual([0, 100, 103].map((x) => x & 0xff));
    expect(out1.seqs).toEqual([1, 2, 101]);
    // The trimmed frames (seq 1 and 103): data offset moved by 2, length 64 − 6; their bytes intact.
    for (const [id, i] of [
      [out1.ids[0], 1],
      [out0.ids[2], 3],
    ] as const) {
      expect(host.meta.length[id]).toBe(58);
      const at = host.dataOffset(id);
      for (let k = 4; k < 60; k++) expect(host.bytes[at + k - 2]).toBe((k * 7 + i) & 0xff);
    }
    for (const id of [out1.ids[1], out0.ids[0]]) expect(host.meta.length[id]).toBe(64);
    freeAll(host, [...out0.ids, ...out1.ids]);
    expect(host.inUse()).toBe(s.baseline);
    teardown(s);
  });

  it('back-pressures a full transmitq: leaves frames in the receiveq instead of dropping them', () => {
    const s = setup(8);
    const { host, eth0, eth1, back0, back1, loop } = s;
    back0.deliverRx(frames(host, Array(8).fill(ACT.PASS), 0), 8);
    expect(loop.pollOnce(0)).toBe(8);
    // eth1's transmitq now holds 8 frames the host has not taken: no room.
    expect(eth1.txq.freeDescriptors).toBe(0);
    back0.deliverRx(frames(host, Array(8).fill(ACT.PASS), 8), 8);
    for (let i = 0; i < 5; i++) expect(loop.pollOnce(i)).toBe(0);
    expect(loop.received).toBe(8);
    expect(eth0.rxq.hasUsed()).toBe(true);
    expect(eth1.txCounters.dropsRingFull).toBe(0);
    expect(eth0.txCounters.dropsRingFull).toBe(0);
    // Traffic from the other side waits too: its batch could need eth0's or eth1's ring.
    back1.deliverRx(frames(host, [ACT.BOUNCE], 200), 1);
    expect(loop.pollOnce(9)).toBe(0);

    // The host drains eth1: the loop resumes where it stopped, nothing lost.
    const first = polled(back1, host);
    expect(first.seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(loop.pollOnce(10)).toBe(8);
    const second = polled(back1, host);
    expect(second.seqs).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    // eth1's ring was full again after side 0's batch: the bounce waited for this pass.
    expect(loop.pollOnce(11)).toBe(1);
    const third = polled(back1, host);
    expect(third.seqs).toEqual([200]);
    expect(eth1.txCounters.dropsRingFull).toBe(0);
    expect(loop.received).toBe(17);
    freeAll(host, [...first.ids, ...second.ids, ...third.ids]);
    expect(host.inUse()).toBe(s.baseline);
    teardown(s);
  });

  it('takes no more than the emptier transmitq can hold', () => {
    const s = setup(8);
    const { host, eth1, back0, back1, loop } = s;
    back0.deliverRx(frames(host, Array(5).fill(ACT.PASS), 0), 5);
    expect(loop.pollOnce(0)).toBe(5);
    expect(eth1.txq.freeDescriptors).toBe(3);
    back0.deliverRx(frames(host, Array(8).fill(ACT.PASS), 5), 8);
    expect(loop.pollOnce(1)).toBe(3);
    expect(eth1.txCounters.dropsRingFull).toBe(0);
    const a = polled(back1, host);
    expect(loop.pollOnce(2)).toBe(5);
    const b = polled(back1, host);
    expect([...a.seqs, ...b.seqs]).toEqual(Array.from({ length: 13 }, (_, i) => i));
    freeAll(host, [...a.ids, ...b.ids]);
    teardown(s);
  });

  it('run() returns at once when the stop word is already set', () => {
    const s = setup();
    s.back0.deliverRx(frames(s.host, [ACT.PASS]), 1);
    const stop = new Int32Array(new SharedArrayBuffer(4));
    Atomics.store(stop, 0, 1);
    const heartbeat = new Int32Array(new SharedArrayBuffer(4));
    s.loop.run(stop, () => 0, 0.2, heartbeat);
    expect(s.loop.received).toBe(0);
    expect(Atomics.load(heartbeat, 0)).toBe(0);
    expect(s.loop.pollOnce(0)).toBe(1);
    freeAll(s.host, polled(s.back1, s.host).ids);
    teardown(s);
  });

  it('run() polls (sleeping on the shared interrupt when idle), beats the heartbeat, and stops on the stop word', () => {
    const irq = new Doorbell(new Int32Array(new SharedArrayBuffer(4)), 0);
    const s = setup(16);
    s.back0.setInterrupt(irq);
    s.back1.setInterrupt(irq);
    const loop = new InstanceLoop(s.guest, [s.eth0, s.eth1], tagPipeline(), irq);
    s.back0.deliverRx(frames(s.host, [ACT.PASS, ACT.DROP, ACT.PASS]), 3);
    s.back1.deliverRx(frames(s.host, [ACT.PASS], 50), 1);
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const heartbeat = new Int32Array(new SharedArrayBuffer(4));
    // run() blocks this thread: the clock it reads each pass sets the stop word once the
    // frames are through and some idle passes (with sleeps) went by, or after 20 s at most.
    const deadline = performance.now() + 20_000;
    let idlePasses = 0;
    const clock = (): number => {
      const now = performance.now();
      if (loop.received >= 4 && ++idlePasses > 300) Atomics.store(stop, 0, 1);
      if (now > deadline) Atomics.store(stop, 0, 2);
      return now;
    };
    loop.run(stop, clock, 0.05, heartbeat);
    expect(Atomics.load(stop, 0)).toBe(1); // stopped by the test, not by the deadline
    expect(loop.received).toBe(4);
    expect(Atomics.load(heartbeat, 0)).toBeGreaterThan(300);
    const out1 = polled(s.back1, s.host);
    const out0 = polled(s.back0, s.host);
    expect(out1.seqs).toEqual([0, 2]);
    expect(out0.seqs).toEqual([50]);
    freeAll(s.host, [...out0.ids, ...out1.ids]);
    teardown(s);
  });
});

describe('InstanceLoop with the chain ports placed in the instance', () => {
  /** Generator frames: UDP-ish 60-byte templates whose byte 0 is the action, byte 1 the template index. */
  function templates(acts: readonly number[]): Uint8Array[] {
    return acts.map((a, i) => Uint8Array.from({ length: 60 }, (_, k) => (k === 0 ? a : k === 1 ? i : k)));
  }

  it('carries frames from the inside port through the pipeline to the outside port; devices stay idle', () => {
    const s = setup();
    const { guest, eth0, eth1, back0, back1 } = s;
    const before = guest.inUse();
    const gen = new GeneratorPort(templates([ACT.PASS, ACT.DROP, ACT.PASS, ACT.TRIM]), { total: 1000 });
    const sink = new SinkPort({ capture: true });
    const log: Array<{ side: number; n: number }> = [];
    const loop = new InstanceLoop(guest, [eth0, eth1], tagPipeline(log), undefined, undefined, [gen, sink]);
    let passes = 0;
    while (!gen.done && passes++ < 100) loop.pollOnce(passes);
    expect(gen.done).toBe(true);
    expect(gen.sent).toBe(1000);
    expect(loop.received).toBe(1000);
    expect(sink.frames).toBe(750);
    expect(sink.bytes).toBe(500 * 60 + 250 * 54);
    // Batches are at most MAX_BATCH (256) frames, all from the inside.
    expect(log.every((b) => b.side === 0 && b.n <= 256)).toBe(true);
    expect(log.reduce((n, b) => n + b.n, 0)).toBe(1000);
    // In template order, the dropped ones missing; the trimmed one cut as the pipeline said.
    expect(sink.captured.slice(0, 6).map((f) => [f.length, f[1]])).toEqual([
      [60, 0],
      [60, 2],
      [54, 3], // TRIM skipped bytes 0–1: byte 1 of the output is byte 3 of the template (3)
      [60, 0],
      [60, 2],
      [54, 3],
    ]);
    expect(gen.received).toBe(0);
    // Nothing went to or came from the devices; every buffer is back.
    expect(polled(back0, s.host).ids).toEqual([]);
    expect(polled(back1, s.host).ids).toEqual([]);
    expect(eth0.rxCounters.packets + eth1.rxCounters.packets + eth0.txCounters.packets + eth1.txCounters.packets).toBe(0);
    expect(guest.inUse()).toBe(before);
    expect(loop.pollOnce(999)).toBe(0);
    teardown(s);
  });

  it('hands bounced frames back to the port they came from, and takes from both ports', () => {
    const s = setup();
    const inside = new GeneratorPort(templates([ACT.BOUNCE, ACT.PASS]), { total: 10 });
    const outside = new GeneratorPort(templates([ACT.PASS, ACT.PASS, ACT.DROP]), { total: 9 });
    const loop = new InstanceLoop(s.guest, [s.eth0, s.eth1], tagPipeline(), undefined, undefined, [inside, outside]);
    expect(loop.pollOnce(0)).toBe(19);
    expect(loop.batches).toBe(2);
    expect(inside.received).toBe(5 + 6); // 5 bounced + 6 passed from outside
    expect(outside.received).toBe(5); // passed from inside
    expect(s.host.inUse()).toBe(s.baseline);
    teardown(s);
  });

  it('run() with ports returns when a port sets the stop word', () => {
    const s = setup();
    const gen = new GeneratorPort(templates([ACT.PASS, ACT.DROP]), { total: 600 });
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const sink = new SinkPort();
    let idleAfterDone = 0;
    const stopper: ChainPort = {
      fill: () => 0,
      take: (pool, ids, n) => sink.take(pool, ids, n),
    };
    const loop = new InstanceLoop(s.guest, [s.eth0, s.eth1], tagPipeline(), undefined, undefined, [gen, stopper]);
    const deadline = performance.now() + 20_000;
    loop.run(
      stop,
      () => {
        const now = performance.now();
        // Idle passes after the generator is done (the loop sleeps ≤ 1 ms on the stop word in between).
        if (gen.done && ++idleAfterDone > 50) Atomics.store(stop, 0, 1);
        if (now > deadline) Atomics.store(stop, 0, 2);
        return now;
      },
      0.05,
    );
    expect(Atomics.load(stop, 0)).toBe(1);
    expect(loop.received).toBe(600);
    expect(sink.frames).toBe(300);
    expect(s.host.inUse()).toBe(s.baseline);
    teardown(s);
  });
});

describe('InstanceLoop over direct links', () => {
  /** A Link stub: `rx` frames waiting, `room` free places, what it was given. */
  function stubLink(pool: PacketPool, direct: boolean, rx: number[], room: number) {
    const sent: number[] = [];
    let armedTx = 0;
    let armedRx = 0;
    return {
      sent,
      armedTx: () => armedTx,
      armedRx: () => armedRx,
      link: {
        direct,
        txRoom: () => room,
        receive(out: Uint32Array, max: number): number {
          const n = Math.min(max, rx.length);
          for (let i = 0; i < n; i++) out[i] = rx.shift()!;
          return n;
        },
        transmit(ids: Uint32Array, n: number): number {
          for (let i = 0; i < n; i++) sent.push(ids[i]);
          return n;
        },
        armRx: () => (armedRx++, rx.length > 0),
        disarmRx: () => undefined,
        armTx: () => (armedTx++, room > 0),
        disarmTx: () => undefined,
        hasRx: () => rx.length > 0,
        waitForRx: () => rx.length > 0,
      },
      pool,
    };
  }

  it('takes a batch from a direct link with room only where it forwards: two neighbours with full rings both ways cannot wait on each other', () => {
    const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
    const guest = pool.withOwner(2);
    const ids = frames(guest, [ACT.PASS, ACT.PASS, ACT.PASS], 0);
    // Left (direct): 3 frames waiting, no room back toward it. Right: room.
    const left = stubLink(pool, true, Array.from(ids), 0);
    const right = stubLink(pool, true, [], 8);
    const loop = new InstanceLoop(guest, [left.link, right.link], tagPipeline());
    expect(loop.pollOnce(0)).toBe(3);
    expect(right.sent).toEqual(Array.from(ids));
    // Without `direct` the same batch waits for room on both sides (the host-forwarded rule).
    const ids2 = frames(guest, [ACT.PASS], 10);
    const hostLeft = stubLink(pool, false, Array.from(ids2), 0);
    const loop2 = new InstanceLoop(guest, [hostLeft.link, right.link], tagPipeline());
    expect(loop2.pollOnce(1)).toBe(0);
    guest.freeBatch(Uint32Array.from([...right.sent, ...ids2]), right.sent.length + 1);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('run() with spinMs 0 sleeps after one round of IDLE_SPINS empty passes (not two)', () => {
    const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
    const guest = pool.withOwner(2);
    const left = stubLink(pool, true, [], 8);
    const right = stubLink(pool, true, [], 8);
    const irq = new Doorbell(new Int32Array(new SharedArrayBuffer(4)), 0);
    const loop = new InstanceLoop(guest, [left.link, right.link], tagPipeline(), irq);
    const stop = new Int32Array(new SharedArrayBuffer(4));
    let passes = 0;
    loop.run(
      stop,
      () => {
        // Stop on the pass after the 5th sleep.
        if (left.armedRx() >= 5) Atomics.store(stop, 0, 1);
        passes++;
        return performance.now();
      },
      0,
    );
    expect(left.armedRx()).toBe(5);
    expect(passes).toBe(5 * IDLE_SPINS + 1);
    expect(IDLE_SPINS).toBeLessThanOrEqual(16);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('run() held back by a full peer sleeps until the peer takes frames instead of spinning (frames waiting do not end its sleeps)', () => {
    const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
    const guest = pool.withOwner(2);
    const ids = frames(guest, [ACT.PASS, ACT.PASS], 0);
    const left = stubLink(pool, true, Array.from(ids), 8);
    const right = stubLink(pool, true, [], 0);
    const irq = new Doorbell(new Int32Array(new SharedArrayBuffer(4)), 0);
    const loop = new InstanceLoop(guest, [left.link, right.link], tagPipeline(), irq);
    const stop = new Int32Array(new SharedArrayBuffer(4));
    let passes = 0;
    const t0 = performance.now();
    loop.run(stop, () => {
      const now = performance.now();
      if (++passes > 1_000_000 || now - t0 > 200) Atomics.store(stop, 0, 1);
      return now;
    });
    // Spinning makes ~10^6 passes in 200 ms; 1 ms sleeps after each short round of polls, a few thousand.
    expect(passes).toBeLessThan(40_000);
    expect(right.armedTx()).toBeGreaterThan(20);
    expect(right.sent).toEqual([]);
    guest.freeBatch(ids, 2);
    expect(pool.leakCheck()).toEqual([]);
  });
});
