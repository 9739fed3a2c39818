import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { Doorbell } from '../../../src/virtio/doorbell.ts';
import { VirtioNetDevice, waitForRxOnAny } from '../../../src/virtio/virtio-net-device.ts';
import { deviceEnd } from '../../../src/virtio/virtio-net-device-end.ts';

const HOST = 1;
const GUEST = 2;

function setup() {
  const host = PacketPool.create({ bufferCount: 256, owner: HOST });
  const guestPool = host.withOwner(GUEST);
  const devs = [0, 1].map(() => VirtioNetDevice.create({ queueSize: 16, driverOwner: GUEST, deviceOwner: HOST }));
  const irqSab = new SharedArrayBuffer(4);
  const guests = devs.map((d) => d.driverEnd(guestPool));
  const backends = devs.map((d) => deviceEnd(d, host));
  for (const b of backends) b.setInterrupt(new Doorbell(new Int32Array(irqSab), 0));
  for (const g of guests) g.refillRx();
  return { host, guests, backends, irq: new Doorbell(new Int32Array(irqSab), 0), irqSab };
}

function deliverOne(host: PacketPool, backend: ReturnType<typeof setup>['backends'][number]): void {
  const ids = new Uint32Array(1);
  host.allocBatch(ids, 1);
  host.copyIn(ids[0], new Uint8Array(60), 0, 60);
  expect(backend.deliverRx(ids, 1)).toBe(1);
}

describe('shared receive interrupt', () => {
  it('rings the shared bell for either device once the driver armed it, and not while polling', () => {
    const { host, guests, backends, irq } = setup();
    deliverOne(host, backends[1]);
    expect(irq.sequence()).toBe(0);
    const got = new Uint32Array(16);
    expect(guests[1].receive(got, 16)).toBe(1);
    expect(waitForRxOnAny(guests, irq, 0)).toBe(false);
    for (const g of guests) g.armRx();
    deliverOne(host, backends[1]);
    expect(irq.sequence()).toBe(1);
    expect(waitForRxOnAny(guests, irq, 1000)).toBe(true);
  });

  it('rings the shared bell when the host takes transmitted frames, once the driver armed for room', () => {
    const { host, guests, backends, irq } = setup();
    const ids = new Uint32Array(16);
    const guestPool = host.withOwner(GUEST);
    expect(guestPool.allocBatch(ids, 16)).toBe(16);
    for (const id of ids) guestPool.copyIn(id, new Uint8Array(60), 0, 60);
    expect(guests[0].transmit(ids, 16)).toBe(16);
    expect(guests[0].txRoom()).toBe(0);
    const got = new Uint32Array(16);
    expect(backends[0].pollTx(got, 4)).toBe(4);
    expect(irq.sequence()).toBe(0);
    expect(guests[0].armTx()).toBe(true);
    expect(guests[0].txRoom()).toBe(4);
    expect(guests[0].armTx()).toBe(false);
    expect(backends[0].pollTx(got.subarray(4), 16)).toBe(12);
    expect(irq.sequence()).toBe(1);
    guests[0].disarmTx();
    host.freeBatch(got, 16);
  });

  it("rings the host's line when the driver posts receive buffers, only while the host armed for room (frames waiting toward a full receiveq)", () => {
    const { host, guests, backends } = setup();
    const hostBell = new Doorbell(new Int32Array(new SharedArrayBuffer(4)), 0);
    guests[0].setTxInterrupt(hostBell);
    // The host fills every posted buffer: no room left.
    const ids = new Uint32Array(16);
    expect(host.allocBatch(ids, 16)).toBe(16);
    for (const id of ids) host.copyIn(id, new Uint8Array(60), 0, 60);
    expect(backends[0].deliverRx(ids, 16)).toBe(16);
    expect(backends[0].rxRoom()).toBe(0);
    expect(backends[0].armRxRoom()).toBe(false);
    // The driver takes 8 frames and posts 8 buffers again: the armed host is rung once.
    const got = new Uint32Array(16);
    expect(guests[0].receive(got, 8)).toBe(8);
    host.withOwner(GUEST).freeBatch(got, 8);
    expect(hostBell.sequence()).toBe(1);
    expect(backends[0].rxRoom()).toBe(8);
    expect(backends[0].armRxRoom()).toBe(true);
    backends[0].disarmRxRoom();
    // Disarmed (and nothing taken since): the next buffers posted ring nobody.
    expect(host.allocBatch(ids, 8)).toBe(8);
    for (const id of ids.subarray(0, 8)) host.copyIn(id, new Uint8Array(60), 0, 60);
    expect(backends[0].deliverRx(ids, 8)).toBe(8);
    expect(guests[0].receive(got, 16)).toBe(16);
    expect(hostBell.sequence()).toBe(1);
    host.withOwner(GUEST).freeBatch(got, 16);
  });

  it('wakes a driver sleeping in another thread when the OTHER device gets a frame', async () => {
    const { host, guests, backends, irqSab } = setup();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    // The sleeper only needs the bell: it waits like waitForRxOnAny does after arming.
    for (const g of guests) g.armRx();
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const bell = new Int32Array(workerData.irq); const flag = new Int32Array(workerData.flag);
       Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);
       const t0 = Date.now(); const r = Atomics.wait(bell, 0, 0, 5000);
       Atomics.store(flag, 0, r === 'ok' ? 2 + (Date.now() - t0) : -1); Atomics.notify(flag, 0);`,
      { eval: true, workerData: { irq: irqSab, flag: flag.buffer } },
    );
    try {
      while (Atomics.load(flag, 0) === 0) await new Promise((r) => setTimeout(r, 1));
      await new Promise((r) => setTimeout(r, 20));
      deliverOne(host, backends[1]);
      const deadline = Date.now() + 2000;
      while (Atomics.load(flag, 0) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      expect(Atomics.load(flag, 0)).toBeGreaterThanOrEqual(2);
      expect(Atomics.load(flag, 0) - 2).toBeLessThan(1000);
      expect(guests[1].armRx()).toBe(true);
    } finally {
      await worker.terminate();
    }
  });
});
