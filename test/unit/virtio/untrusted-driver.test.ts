import { describe, expect, it } from 'vitest';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import type { SplitRing } from '../../../src/virtio/split-ring.ts';
import { VIRTQ_DESC_F_NEXT } from '../../../src/virtio/split-ring-layout.ts';
import { VirtioNetDevice } from '../../../src/virtio/virtio-net-device.ts';
import { deviceEnd } from '../../../src/virtio/virtio-net-device-end.ts';

const GUEST = 2;
const DEVICE = 3;

function setup() {
  const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
  const dev = VirtioNetDevice.create({ queueSize: 8, driverOwner: GUEST, deviceOwner: DEVICE });
  const guestPool = pool.withOwner(GUEST);
  const devicePool = pool.withOwner(DEVICE);
  return { pool, dev, guestPool, devicePool, guest: dev.driverEnd(guestPool), backend: deviceEnd(dev, devicePool) };
}

function frames(pool: PacketPool, n: number): Uint32Array {
  const ids = new Uint32Array(n);
  expect(pool.allocBatch(ids, n)).toBe(n);
  for (let i = 0; i < n; i++) expect(pool.copyIn(ids[i], new Uint8Array(60).fill(i), 0, 60)).toBe(true);
  return ids;
}

/** Byte offset of the descriptor the driver made available last on `ring`. */
function lastDesc(ring: SplitRing): number {
  const dv = new DataView(ring.sab);
  const l = ring.layout;
  const idx = dv.getUint16(l.availIdxOffset, true);
  const head = dv.getUint16(l.availRingOffset + 2 * ((idx - 1) & (ring.queueSize - 1)), true);
  return l.descOffset + 16 * head;
}

/** Releases everything the three owners hold; the pool must then be whole. */
function settle(s: ReturnType<typeof setup>): void {
  s.pool.reclaimOwner(GUEST);
  s.pool.reclaimOwner(DEVICE);
  s.pool.reclaimAllBut([1]);
  expect(s.pool.leakCheck()).toEqual([]);
}

const out = new Uint32Array(16);

describe('device end of an untrusted driver: transmitq', () => {
  const cases: Array<[string, (s: ReturnType<typeof setup>, dv: DataView) => void, RegExp]> = [
    ['an available index far ahead', (s, dv) => dv.setUint16(s.dev.tx.layout.availIdxOffset, 1000, true), /chains available/],
    ['a head out of range', (s, dv) => dv.setUint16(s.dev.tx.layout.availRingOffset, 200, true), /names descriptor 200/],
    ['a descriptor address past the pool', (s, dv) => dv.setUint32(lastDesc(s.dev.tx), s.pool.sab.byteLength + 100, true), /not a buffer handed/],
    ['a descriptor address above 4 GiB', (s, dv) => dv.setUint32(lastDesc(s.dev.tx) + 4, 1, true), /not a buffer handed/],
    ['a huge length', (s, dv) => dv.setUint32(lastDesc(s.dev.tx) + 8, 0xffffffff, true), /not a buffer handed/],
    ['a length under the header', (s, dv) => dv.setUint32(lastDesc(s.dev.tx) + 8, 4, true), /not a buffer handed/],
    ['a buffer it did not hand over', (s, dv) => dv.setUint32(lastDesc(s.dev.tx), s.pool.bufferOffset(40) + 100, true), /not a buffer handed/],
    ['a chained descriptor', (s, dv) => dv.setUint16(lastDesc(s.dev.tx) + 12, VIRTQ_DESC_F_NEXT, true), /flags/],
  ];
  for (const [what, corrupt, reason] of cases) {
    it(`counts ${what} as a violation, never throws, and takes nothing more`, () => {
      const s = setup();
      const dv = new DataView(s.dev.sab);
      const ids = frames(s.guestPool, 3);
      expect(s.guest.transmit(ids, 3)).toBe(3);
      corrupt(s, dv);
      const n = s.backend.pollTx(out, 16);
      expect(n).toBeLessThan(3);
      expect(s.backend.violations).toBeGreaterThan(0);
      expect(s.backend.violation).toMatch(reason);
      for (let i = 0; i < n; i++) expect(s.pool.ownerOf(out[i])).toBe(DEVICE);
      s.devicePool.freeBatch(out, n);
      expect(s.guest.transmit(frames(s.guestPool, 1), 1)).toBe(1);
      expect(s.backend.pollTx(out, 16)).toBe(0);
      settle(s);
    });
  }

  it('takes a buffer named by two descriptors once, and calls it a violation', () => {
    const s = setup();
    const dv = new DataView(s.dev.sab);
    const ids = frames(s.guestPool, 2);
    expect(s.guest.transmit(ids, 2)).toBe(2);
    const last = lastDesc(s.dev.tx);
    dv.setUint32(last, dv.getUint32(last - 16, true), true);
    expect(s.backend.pollTx(out, 16)).toBe(1);
    expect(out[0]).toBe(ids[0]);
    expect(s.backend.violation).toMatch(/not a buffer handed/);
    settle(s);
  });

  it('rejects a head made available again before it was used', () => {
    const s = setup();
    const dv = new DataView(s.dev.sab);
    const ids = frames(s.guestPool, 1);
    expect(s.guest.transmit(ids, 1)).toBe(1);
    const l = s.dev.tx.layout;
    dv.setUint16(l.availRingOffset + 2, dv.getUint16(l.availRingOffset, true), true);
    dv.setUint16(l.availIdxOffset, 2, true);
    expect(s.backend.pollTx(out, 16)).toBe(0);
    expect(s.backend.violation).toMatch(/again before it was used/);
    settle(s);
  });
});

describe('device end of an untrusted driver: receiveq', () => {
  it('refuses a receive descriptor naming a buffer it was not handed: frames freed, nothing thrown', () => {
    const s = setup();
    expect(s.guest.refillRx()).toBe(8);
    const foreign = s.pool.alloc();
    new DataView(s.dev.sab).setUint32(lastDesc(s.dev.rx), s.pool.bufferOffset(foreign) + 64, true);
    const ids = frames(s.devicePool, 8);
    expect(s.backend.deliverRx(ids, 8)).toBe(0);
    expect(s.backend.violation).toMatch(/does not hold a buffer handed/);
    expect(s.backend.rxCounters.dropsBadDescriptor).toBe(8);
    expect(s.pool.leakCheck().some((b) => b.owner === DEVICE && ids.includes(b.id))).toBe(false);
    expect(s.backend.deliverRx(frames(s.devicePool, 1), 1)).toBe(0);
    expect(s.backend.returnRx()).toBe(0);
    s.pool.free(foreign);
    settle(s);
  });

  it('delivers nothing to a receive ring whose available index runs ahead', () => {
    const s = setup();
    expect(s.guest.refillRx()).toBe(8);
    new DataView(s.dev.sab).setUint16(s.dev.rx.layout.availIdxOffset, 0x8000, true);
    expect(s.backend.deliverRx(frames(s.devicePool, 2), 2)).toBe(0);
    expect(s.backend.violation).toMatch(/chains available/);
    settle(s);
  });

  it('drops a frame whose shared metadata lies about its length or offset, without a violation (anyone could have written it)', () => {
    const s = setup();
    expect(s.guest.refillRx()).toBe(8);
    const ids = frames(s.devicePool, 4);
    s.pool.meta.length[ids[0]] = 0xffffffff;
    s.pool.meta.dataOff[ids[1]] = 0xfffffff0;
    s.pool.meta.dataOff[ids[2]] = s.pool.stride - 10;
    expect(s.backend.deliverRx(ids, 4)).toBe(1);
    expect(s.backend.rxCounters.dropsBadDescriptor).toBe(3);
    expect(s.backend.violations).toBe(0);
    const rx = new Uint32Array(8);
    expect(s.guest.receive(rx, 8)).toBe(1);
    expect(rx[0]).toBe(ids[3]);
    s.guestPool.freeBatch(rx, 1);
    settle(s);
  });

  it('skips a frame re-owned under it and hands the descriptor back empty', () => {
    const s = setup();
    expect(s.guest.refillRx()).toBe(8);
    const ids = frames(s.devicePool, 2);
    Atomics.store(s.pool.meta.state, ids[0], 9);
    expect(s.backend.deliverRx(ids, 2)).toBe(1);
    expect(s.pool.ownerOf(ids[0])).toBe(9);
    expect(s.backend.violations).toBe(0);
    const rx = new Uint32Array(8);
    expect(s.guest.receive(rx, 8)).toBe(1);
    expect(rx[0]).toBe(ids[1]);
    s.guestPool.freeBatch(rx, 1);
    settle(s);
  });

  it('audits the buffers a driver posted: all still its own passes, one re-owned under it is a violation', () => {
    const s = setup();
    expect(s.guest.refillRx()).toBe(8);
    expect(s.backend.auditPostedRx()).toBe(true);
    expect(s.backend.violations).toBe(0);
    const dv = new DataView(s.dev.sab);
    const l = s.dev.rx.layout;
    const head = dv.getUint16(l.availRingOffset + 2 * 3, true);
    const id = s.pool.bufferIdAt(Number(dv.getBigUint64(l.descOffset + 16 * head, true)));
    Atomics.store(s.pool.meta.state, id, 0x00abcdef);
    expect(s.backend.auditPostedRx()).toBe(false);
    expect(s.backend.violation).toMatch(new RegExp(`receiveq buffer ${id} was re-owned \\(owner ${0x00abcdef}\\) while posted`));
    settle(s);
  });

  it('refuses one buffer posted in two receive descriptors', () => {
    const s = setup();
    expect(s.guest.refillRx()).toBe(8);
    const dv = new DataView(s.dev.sab);
    const l = s.dev.rx.layout;
    const first = l.descOffset + 16 * dv.getUint16(l.availRingOffset, true);
    const second = l.descOffset + 16 * dv.getUint16(l.availRingOffset + 2, true);
    dv.setUint32(second, dv.getUint32(first, true), true);
    expect(s.backend.deliverRx(frames(s.devicePool, 2), 2)).toBe(0);
    expect(s.backend.violation).toMatch(/descriptor \d+ \(addr \d+\) does not hold a buffer handed/);
    settle(s);
  });

  it('refuses a receive ring holding a buffer that is also a frame on its way to it', () => {
    const s = setup();
    expect(s.guest.refillRx()).toBe(8);
    const dv = new DataView(s.dev.sab);
    const l = s.dev.rx.layout;
    const posted = s.pool.bufferIdAt(dv.getUint32(l.descOffset + 16 * dv.getUint16(l.availRingOffset, true), true));
    const ids = frames(s.devicePool, 2);
    const both = Uint32Array.of(ids[0], posted);
    expect(s.backend.deliverRx(both, 2)).toBe(0);
    expect(s.backend.violation).toMatch(/also a frame on its way/);
    expect(s.pool.ownerOf(ids[0])).toBe(0);
    s.devicePool.free(ids[1]);
    settle(s);
  });
});
