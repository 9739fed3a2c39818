import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, SharedLayoutError } from '../../../src/errors/catalog.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { VirtioNetDevice } from '../../../src/virtio/virtio-net-device.ts';
import { deviceEnd } from '../../../src/virtio/virtio-net-device-end.ts';

const GUEST = 2;
const HOST = 1;

function setup(queueSize = 8, bufferCount = 64) {
  const host = PacketPool.create({ bufferCount, owner: HOST });
  const guestPool = host.withOwner(GUEST);
  const dev = VirtioNetDevice.create({ queueSize, driverOwner: GUEST, deviceOwner: HOST });
  const again = VirtioNetDevice.attach(dev.sab);
  return { host, guestPool, dev, guest: again.driverEnd(guestPool), backend: deviceEnd(dev, host) };
}

function frames(pool: PacketPool, n: number, tag: number): Uint32Array {
  const ids = new Uint32Array(n);
  expect(pool.allocBatch(ids, n)).toBe(n);
  for (let i = 0; i < n; i++) {
    const bytes = Uint8Array.from({ length: 60 + i }, (_, k) => (tag + i + k) & 0xff);
    expect(pool.copyIn(ids[i], bytes, 0, bytes.length)).toBe(true);
  }
  return ids;
}

function frameOk(pool: PacketPool, id: number, i: number, tag: number): boolean {
  if (pool.meta.length[id] !== 60 + i) return false;
  const at = pool.dataOffset(id);
  for (let k = 0; k < 60 + i; k++) if (pool.bytes[at + k] !== ((tag + i + k) & 0xff)) return false;
  return true;
}

describe('virtio-net device', () => {
  it('carries frames both ways without a copy, moving ownership with the descriptors', () => {
    const { host, guest, backend } = setup();
    expect(guest.refillRx()).toBe(8);
    expect(host.leakCheck().every((b) => b.owner === HOST)).toBe(true);
    const ids = frames(host, 5, 40);
    const copies = host.stats().copiesIn;

    expect(backend.deliverRx(ids, 5)).toBe(5);
    const rx = new Uint32Array(16);
    expect(guest.receive(rx, 16)).toBe(5);
    expect([...rx.subarray(0, 5)]).toEqual([...ids]);
    for (let i = 0; i < 5; i++) {
      expect(host.ownerOf(rx[i])).toBe(GUEST);
      expect(frameOk(host, rx[i], i, 40)).toBe(true);
      const hdr = host.dataOffset(rx[i]) - 12;
      expect(host.view.getUint16(hdr + 10, true)).toBe(1);
      expect(host.view.getUint32(hdr, true)).toBe(0);
    }

    expect(guest.transmit(rx, 5)).toBe(5);
    for (let i = 0; i < 5; i++) expect(host.ownerOf(rx[i])).toBe(HOST);
    const tx = new Uint32Array(16);
    expect(backend.pollTx(tx, 16)).toBe(5);
    expect([...tx.subarray(0, 5)]).toEqual([...ids]);
    for (let i = 0; i < 5; i++) expect(frameOk(host, tx[i], i, 40)).toBe(true);
    expect(host.stats().copiesIn).toBe(copies);
    expect(host.stats().copiesOut).toBe(0);
    expect(guest.rxCounters).toMatchObject({ packets: 5, bytes: 5 * 60 + 10 });
    expect(backend.txCounters).toMatchObject({ packets: 5, bytes: 5 * 60 + 10, dropsBadDescriptor: 0 });
    host.freeBatch(tx, 5);

    guest.close();
    expect(backend.returnRx()).toBe(8);
    expect(guest.receive(rx, 16)).toBe(0);
    expect(guest.reclaimTx()).toBe(5);
    expect(host.leakCheck()).toEqual([]);
  });

  it('drops with named reasons and frees what it drops', () => {
    const { host, guest, backend } = setup(4);
    guest.refillRx();
    const ids = frames(host, 7, 0);
    host.meta.dataOff[ids[1]] = 4;
    expect(backend.deliverRx(ids, 7)).toBe(4);
    expect(backend.rxCounters).toMatchObject({ packets: 4, dropsNoHeadroom: 1, dropsRingFull: 2 });
    const rx = new Uint32Array(8);
    expect(guest.receive(rx, 8)).toBe(4);
    expect([...rx.subarray(0, 4)]).toEqual([ids[0], ids[2], ids[3], ids[4]]);

    const extra = new Uint32Array(3);
    guest.pool.allocBatch(extra, 3);
    const all = Uint32Array.from([...rx.subarray(0, 4), ...extra]);
    guest.pool.meta.dataOff[all[0]] = 8;
    expect(guest.transmit(all, 7)).toBe(4);
    expect(guest.txCounters).toMatchObject({ packets: 4, dropsNoHeadroom: 1, dropsRingFull: 2 });
    const tx = new Uint32Array(8);
    expect(backend.pollTx(tx, 8)).toBe(4);
    host.freeBatch(tx, 4);
    guest.close();
    backend.returnRx();
    guest.receive(rx, 8);
    expect(host.leakCheck()).toEqual([]);
  });

  it('skips and counts a transmit descriptor that points at a buffer the device does not hold', () => {
    const { host, guest, backend } = setup(4);
    const ids = new Uint32Array(2);
    guest.pool.allocBatch(ids, 2);
    expect(guest.transmit(ids, 2)).toBe(2);
    const ring = guest.txq.ring;
    const d = ring.u16[ring.availRingH];
    ring.u32[ring.descW + 4 * d] = host.bufferOffset(60);
    const tx = new Uint32Array(4);
    expect(backend.pollTx(tx, 4)).toBe(1);
    expect(backend.txCounters.dropsBadDescriptor).toBe(1);
    expect(guest.reclaimTx()).toBe(2);
  });

  it('validates owners and layout', () => {
    const { host, dev } = setup();
    expect(() => dev.driverEnd(host)).toThrow(InvalidArgumentError);
    expect(() => deviceEnd(dev, host.withOwner(GUEST))).toThrow(InvalidArgumentError);
    expect(() => VirtioNetDevice.create({ driverOwner: 1, deviceOwner: 1 })).toThrow(InvalidArgumentError);
    expect(() => VirtioNetDevice.attach(new SharedArrayBuffer(4096))).toThrow(SharedLayoutError);
  });
});
