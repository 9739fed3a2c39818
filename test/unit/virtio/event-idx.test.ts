import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vringNeedEvent } from '../../../src/virtio/event-idx.ts';
import { SplitRing } from '../../../src/virtio/split-ring.ts';
import { VirtqueueDevice } from '../../../src/virtio/virtqueue-device.ts';
import { VirtqueueDriver } from '../../../src/virtio/virtqueue-driver.ts';

function crossed(event: number, newIdx: number, oldIdx: number): boolean {
  const steps = (newIdx - oldIdx + 65536) % 65536;
  for (let k = 0; k < steps; k++) if ((oldIdx + k) % 65536 === event) return true;
  return false;
}

describe('vring_need_event', () => {
  it('truth table', () => {
    const table: Array<[number, number, number, boolean]> = [
      [0, 1, 0, true],
      [0, 0, 0, false],
      [5, 6, 5, true],
      [5, 5, 4, false],
      [4, 5, 4, true],
      [3, 10, 0, true],
      [10, 10, 0, false],
      [9, 10, 0, true],
      [11, 10, 0, false],
      [65535, 0, 65535, true],
      [65535, 2, 65530, true],
      [1, 2, 65530, true],
      [2, 2, 65530, false],
      [65529, 2, 65530, false],
      [100, 100, 100, false],
      [0, 32768, 0, true],
      [32767, 32768, 0, true],
      [32768, 32768, 0, false],
    ];
    for (const [e, n, o, want] of table) {
      expect(vringNeedEvent(e, n, o), `event ${e} new ${n} old ${o}`).toBe(want);
      expect(crossed(e, n, o)).toBe(want);
    }
  });

  it('equals "the event index lies in [old, new) mod 2^16" (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 3000 }), (old, event, delta) => {
        const n = (old + delta) & 0xffff;
        return vringNeedEvent(event, n, old) === crossed(event, n, old);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('notification suppression between busy peers', () => {
  for (const eventIdx of [true, false]) {
    it(`${eventIdx ? 'EVENT_IDX' : 'flags'}: a polling peer is never rung; an armed one ${eventIdx ? 'once' : 'until it disarms'}`, () => {
      const armedRings = eventIdx ? 1 : 2;
      const ring = SplitRing.create(64, { eventIdx });
      const drv = new VirtqueueDriver(ring);
      const dev = new VirtqueueDevice(ring);
      const heads = new Uint32Array(64);
      const addrs = new Float64Array(64);
      const lens = new Uint32Array(64);
      const toks = new Uint32Array(64);
      const one = [0];
      for (let i = 0; i < 20_000; i++) {
        drv.addBatch(one, one, one, 1, false);
        const n = dev.pop(heads, addrs, lens, 64);
        dev.pushBatch(heads, lens, n);
        drv.reclaim(toks, lens, 64);
      }
      expect(drv.notificationsSent).toBe(0);
      expect(dev.notificationsSent).toBe(0);

      const availSeq = ring.availBell.sequence();
      expect(dev.enableAvailNotifications()).toBe(false);
      drv.addBatch(one, one, one, 1, false);
      drv.addBatch(one, one, one, 1, false);
      expect(drv.notificationsSent).toBe(armedRings);
      expect(ring.availBell.sequence()).toBe(availSeq + armedRings);
      dev.disableAvailNotifications();
      const n = dev.pop(heads, addrs, lens, 64);
      expect(n).toBe(2);

      const usedSeq = ring.usedBell.sequence();
      expect(drv.enableUsedNotifications()).toBe(false);
      dev.pushBatch(heads, lens, 1);
      dev.pushBatch(heads.subarray(1), lens, 1);
      expect(dev.notificationsSent).toBe(armedRings);
      expect(ring.usedBell.sequence()).toBe(usedSeq + armedRings);
      expect(drv.reclaim(toks, lens, 64)).toBe(2);
    });
  }

  it('arming reports work already pending so the caller does not sleep', () => {
    const ring = SplitRing.create(8);
    const drv = new VirtqueueDriver(ring);
    const dev = new VirtqueueDevice(ring);
    drv.addBatch([0], [1], [0], 1, false);
    expect(dev.enableAvailNotifications()).toBe(true);
    expect(dev.waitForAvail(1000)).toBe(true);
    expect(dev.sleeps).toBe(0);
  });

  it('waiting with nothing pending times out', () => {
    const ring = SplitRing.create(8);
    const dev = new VirtqueueDevice(ring);
    const t = performance.now();
    expect(dev.waitForAvail(30)).toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(25);
    expect(dev.sleeps).toBe(1);
  });
});
