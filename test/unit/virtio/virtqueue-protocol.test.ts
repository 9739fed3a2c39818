import { describe, expect, it } from 'vitest';
import { VirtqueueProtocolError } from '../../../src/errors/catalog.ts';
import { SplitRing } from '../../../src/virtio/split-ring.ts';
import { VirtqueueDevice } from '../../../src/virtio/virtqueue-device.ts';
import { VirtqueueDriver } from '../../../src/virtio/virtqueue-driver.ts';

function setup(size = 8) {
  const ring = SplitRing.create(size);
  const dv = new DataView(ring.sab);
  return { ring, dv, l: ring.layout, drv: new VirtqueueDriver(ring), dev: new VirtqueueDevice(ring) };
}

const out = (n = 8) => ({ heads: new Uint32Array(n), addrs: new Float64Array(n), lens: new Uint32Array(n), flags: new Uint16Array(n) });

describe('device-side protocol checks', () => {
  it('rejects an avail index that runs more than a queue ahead', () => {
    const { dv, l, dev } = setup();
    dv.setUint16(l.availIdxOffset, 9, true);
    const o = out();
    expect(() => dev.pop(o.heads, o.addrs, o.lens, 8)).toThrow(VirtqueueProtocolError);
  });

  it('rejects a head out of range and an INDIRECT descriptor', () => {
    const { dv, l, dev } = setup();
    dv.setUint16(l.availRingOffset, 8, true);
    dv.setUint16(l.availIdxOffset, 1, true);
    const o = out();
    expect(() => dev.pop(o.heads, o.addrs, o.lens, 8)).toThrow(/descriptor 8/);
    const s2 = setup();
    s2.dv.setUint16(s2.l.descOffset + 16 * 3 + 12, 4, true);
    s2.dv.setUint16(s2.l.availRingOffset, 3, true);
    s2.dv.setUint16(s2.l.availIdxOffset, 1, true);
    expect(() => s2.dev.pop(o.heads, o.addrs, o.lens, 8)).toThrow(/INDIRECT/);
  });

  it('detects a chain loop, a next out of range, and a chain longer than the caller allows', () => {
    const { dv, l, dev, drv } = setup();
    drv.stageChain([1, 2, 3], [1, 1, 1], 3, 3, 0);
    drv.publish();
    const o = out();
    expect(dev.pop(o.heads, o.addrs, o.lens, 8)).toBe(1);
    const head = o.heads[0];
    expect(() => dev.readChain(head, o.addrs, o.lens, o.flags, 2)).toThrow(/longer than 2/);
    expect(dev.readChain(head, o.addrs, o.lens, o.flags, 8)).toBe(3);
    const last = dv.getUint16(l.descOffset + 16 * dv.getUint16(l.descOffset + 16 * head + 14, true) + 14, true);
    dv.setUint16(l.descOffset + 16 * last + 12, 1, true);
    dv.setUint16(l.descOffset + 16 * last + 14, head, true);
    expect(() => dev.readChain(head, o.addrs, o.lens, o.flags, 100)).toThrow(/loops/);
    dv.setUint16(l.descOffset + 16 * last + 14, 200, true);
    expect(() => dev.readChain(head, o.addrs, o.lens, o.flags, 100)).toThrow(/reaches descriptor 200/);
  });

  it('refuses to mark used more than it popped', () => {
    const { dev } = setup();
    expect(() => dev.pushBatch([0], [0], 1)).toThrow(VirtqueueProtocolError);
    expect(() => dev.stageUsed(0, 0)).toThrow(VirtqueueProtocolError);
  });
});

describe('driver-side protocol checks', () => {
  it('rejects a used id that is not in flight, a repeated one, and a used index ahead of what is in flight', () => {
    const { dv, l, drv, dev } = setup();
    drv.addBatch([10, 20], [1, 1], [7, 8], 2, false);
    const o = out();
    dev.pop(o.heads, o.addrs, o.lens, 8);
    dev.pushBatch([o.heads[0], o.heads[0]], [0, 0], 2);
    const toks = new Uint32Array(8);
    expect(() => drv.reclaim(toks, o.lens, 8)).toThrow(/not the head of a chain in flight/);
    expect(toks[0]).toBe(7);
    expect(drv.chainsInFlight).toBe(1);
    dv.setUint16(l.usedIdxOffset, 5, true);
    expect(() => drv.reclaim(toks, o.lens, 8)).toThrow(/in flight/);
  });

  it('stageChain refuses a chain it cannot fit without staging part of it', () => {
    const { drv } = setup(4);
    expect(drv.stageChain([1, 2, 3], [1, 1, 1], 3, 3, 0)).toBe(true);
    expect(drv.stageChain([1, 2], [1, 1], 2, 2, 0)).toBe(false);
    expect(drv.freeDescriptors).toBe(1);
    expect(() => drv.stageChain([1], [1], 0, 0, 0)).toThrow();
  });
});
