import { describe, expect, it } from 'vitest';
import { VirtqueueProtocolError } from '../../../src/errors/catalog.ts';
import { SplitRing } from '../../../src/virtio/split-ring.ts';
import { VIRTIO_F_IN_ORDER_BIT } from '../../../src/virtio/split-ring-layout.ts';
import { VirtqueueDevice } from '../../../src/virtio/virtqueue-device.ts';
import { VirtqueueDriver } from '../../../src/virtio/virtqueue-driver.ts';

function setup(size: number) {
  const ring = SplitRing.create(size, { inOrder: true });
  return { ring, dv: new DataView(ring.sab), drv: new VirtqueueDriver(ring), dev: new VirtqueueDevice(ring) };
}

describe('VIRTIO_F_IN_ORDER', () => {
  it('is recorded in the feature bits and seen by attach', () => {
    const { ring } = setup(8);
    expect(ring.featuresHi & (1 << (VIRTIO_F_IN_ORDER_BIT - 32))).not.toBe(0);
    expect(SplitRing.attach(ring.sab).inOrder).toBe(true);
    expect(SplitRing.create(8).inOrder).toBe(false);
  });

  it('uses descriptors in table order, chains linked to x + 1 and wrapping to 0', () => {
    const { ring, dv, drv, dev } = setup(4);
    const l = ring.layout;
    const heads = new Uint32Array(4);
    const addrs = new Float64Array(4);
    const lens = new Uint32Array(4);
    const toks = new Uint32Array(4);
    drv.stage(1, 1, false, 0);
    drv.stage(2, 1, false, 1);
    drv.publish();
    dev.pop(heads, addrs, lens, 4);
    dev.pushBatch(heads, null, 2);
    expect(drv.reclaim(toks, null, 4)).toBe(2);
    expect(drv.stageChain([10, 11, 12], [1, 1, 1], 3, 3, 9)).toBe(true);
    drv.publish();
    const descAt = (d: number): [number, number] => [dv.getUint16(l.descOffset + 16 * d + 12, true), dv.getUint16(l.descOffset + 16 * d + 14, true)];
    expect(dv.getUint16(l.availRingOffset + 2 * 2, true)).toBe(2);
    expect([descAt(2), descAt(3), descAt(0)]).toEqual([
      [1, 3],
      [1, 0],
      [0, 0],
    ]);
    expect(Number(dv.getBigUint64(l.descOffset, true))).toBe(12);
  });

  it('a batch marked used with one element returns every chain in order across index wrap-around', () => {
    const size = 64;
    const total = 3 * 65536 + 100;
    const { ring, drv, dev } = setup(size);
    const heads = new Uint32Array(size);
    const addrs = new Float64Array(size);
    const lens = new Uint32Array(size);
    const toks = new Uint32Array(size);
    const outLens = new Uint32Array(size);
    const usedW = ring.usedRingW;
    const batches = [1, 7, 64, 13, 32, 5];
    let sent = 0;
    let popped = 0;
    let got = 0;
    let errors = 0;
    let b = 0;
    while (got < total) {
      const want = Math.min(batches[b++ % batches.length], total - sent);
      for (let i = 0; i < want && drv.stage(sent * 8, 60, false, sent); i++) sent++;
      drv.publish();
      const n = dev.pop(heads, addrs, lens, batches[b % batches.length]);
      for (let i = 0; i < n; i++) if (addrs[i] !== (popped + i) * 8) errors++;
      popped += n;
      if (n > 0) {
        const usedIdx = Atomics.load(ring.u16, ring.usedIdxH);
        for (let i = 0; i < n; i++) ring.u32[usedW + 2 * ((usedIdx + i) & (size - 1))] = 0xffffffff;
        dev.pushBatch(heads, null, n);
        for (let i = 0; i < n - 1; i++) if (ring.u32[usedW + 2 * ((usedIdx + i) & (size - 1))] !== 0xffffffff) errors++;
        if (ring.u32[usedW + 2 * ((usedIdx + n - 1) & (size - 1))] !== heads[n - 1]) errors++;
        if (Atomics.load(ring.u16, ring.usedIdxH) !== ((usedIdx + n) & 0xffff)) errors++;
      }
      const r = drv.reclaim(toks, b % 2 === 0 ? outLens : null, size);
      for (let i = 0; i < r; i++) if (toks[i] !== got + i) errors++;
      got += r;
    }
    expect(errors).toBe(0);
    expect([sent, popped, got]).toEqual([total, total, total]);
    expect(drv.freeDescriptors).toBe(size);
    expect(drv.chainsInFlight).toBe(0);
  });

  it('reports per-chain lengths when the device writes every element, 0 for skipped ones', () => {
    const { drv, dev } = setup(8);
    const heads = new Uint32Array(8);
    const addrs = new Float64Array(8);
    const lens = new Uint32Array(8);
    drv.addBatch([1, 2, 3, 4], [1, 1, 1, 1], [10, 11, 12, 13], 4, true);
    dev.pop(heads, addrs, lens, 8);
    dev.pushBatch(heads, [100, 101], 2);
    dev.pushBatch(heads.subarray(2), null, 2);
    const toks = new Uint32Array(8);
    const out = new Uint32Array(8);
    expect(drv.reclaim(toks, out, 8)).toBe(4);
    expect([...toks.subarray(0, 4)]).toEqual([10, 11, 12, 13]);
    expect([...out.subarray(0, 4)]).toEqual([100, 101, 0, 0]);
  });

  it('counts completions without tokens or lengths, posting from a window of a larger array', () => {
    const { drv, dev } = setup(8);
    const addrs = Float64Array.from({ length: 20 }, (_, i) => 1000 + i);
    const lens = new Uint32Array(20).fill(60);
    const heads = new Uint32Array(8);
    const popped = new Float64Array(8);
    const plens = new Uint32Array(8);
    expect(drv.addBatch(addrs, lens, null, 5, false, 12)).toBe(5);
    expect(dev.pop(heads, popped, plens, 8)).toBe(5);
    expect([...popped.subarray(0, 5)]).toEqual([1012, 1013, 1014, 1015, 1016]);
    dev.pushBatch(heads, null, 5);
    expect(drv.reclaim(null, null, 3)).toBe(3);
    expect(drv.reclaim(null, null, 8)).toBe(2);
    expect(drv.freeDescriptors).toBe(8);
  });

  it('rejects a device whose last used element does not name the expected chain', () => {
    const { drv, dev } = setup(8);
    const heads = new Uint32Array(8);
    const addrs = new Float64Array(8);
    const lens = new Uint32Array(8);
    drv.addBatch([1, 2, 3], [1, 1, 1], [0, 1, 2], 3, false);
    dev.pop(heads, addrs, lens, 8);
    dev.pushBatch([heads[0], heads[2], heads[1]], null, 3);
    expect(() => drv.reclaim(new Uint32Array(8), null, 8)).toThrow(VirtqueueProtocolError);
  });
});
