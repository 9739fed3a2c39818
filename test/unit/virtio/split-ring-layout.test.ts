import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, SharedLayoutError } from '../../../src/errors/catalog.ts';
import { SplitRing } from '../../../src/virtio/split-ring.ts';
import { computeSplitRingLayout } from '../../../src/virtio/split-ring-layout.ts';
import { VirtqueueDevice } from '../../../src/virtio/virtqueue-device.ts';
import { VirtqueueDriver } from '../../../src/virtio/virtqueue-driver.ts';

const up = (n: number, a: number): number => Math.ceil(n / a) * a;

function spec(n: number, base: number, usedAlign: number) {
  const desc = base + 192;
  const avail = desc + 16 * n;
  const used = up(avail + 6 + 2 * n, usedAlign);
  return {
    desc: (i: number) => desc + 16 * i,
    availFlags: avail,
    availIdx: avail + 2,
    availRing: (i: number) => avail + 4 + 2 * i,
    usedEvent: avail + 4 + 2 * n,
    usedFlags: used,
    usedIdx: used + 2,
    usedElem: (i: number) => used + 4 + 8 * i,
    availEvent: used + 4 + 8 * n,
    descStart: desc,
    availStart: avail,
    usedStart: used,
    end: used + 6 + 8 * n,
  };
}

function ringIn(n: number, base: number, usedAlign: number, eventIdx = true): SplitRing {
  const sab = new SharedArrayBuffer(base + SplitRing.bytesNeeded(n, { usedAlign }) + 64);
  return SplitRing.createIn(sab, base, n, { usedAlign, eventIdx });
}

describe('split ring layout', () => {
  for (const n of [1, 2, 8, 256, 1024, 32768]) {
    for (const [base, usedAlign] of [
      [0, 4],
      [128, 64],
      [4096, 4096],
    ]) {
      it(`offsets of a queue of ${n} at base ${base}, used aligned to ${usedAlign}, follow the spec formulas`, () => {
        const s = spec(n, base, usedAlign);
        const l = computeSplitRingLayout(n, { base, usedAlign });
        expect(l.descOffset).toBe(s.descStart);
        expect(l.descOffset % 16).toBe(0);
        expect(l.availOffset).toBe(s.availStart);
        expect(l.availOffset % 2).toBe(0);
        expect(l.availIdxOffset).toBe(s.availIdx);
        expect(l.availRingOffset).toBe(s.availRing(0));
        expect(l.usedEventOffset).toBe(s.usedEvent);
        expect(l.usedOffset).toBe(s.usedStart);
        expect(l.usedOffset % 4).toBe(0);
        expect(l.usedIdxOffset).toBe(s.usedIdx);
        expect(l.usedRingOffset).toBe(s.usedElem(0));
        expect(l.availEventOffset).toBe(s.availEvent);
        expect(base + l.totalBytes).toBeGreaterThanOrEqual(s.end);
        expect(l.totalBytes % 64).toBe(0);
      });
    }
  }

  for (const n of [1, 256, 32768]) {
    it(`descriptors, rings and event fields written through the API read back little-endian from raw memory (size ${n})`, () => {
      const base = 128;
      const ring = ringIn(n, base, 64);
      const s = spec(n, base, 64);
      const dv = new DataView(ring.sab);
      const drv = new VirtqueueDriver(ring);
      const dev = new VirtqueueDevice(ring);
      const addrOf = (i: number): number => 0x1_0000_0000 * (i % 3) + 0x10000 + i * 2176;
      const count = n;
      for (let i = 0; i < count; i++) expect(drv.stage(addrOf(i), 60 + (i % 1000), i % 2 === 1, 1000 + i)).toBe(true);
      expect(drv.stage(0, 0, false, 0)).toBe(false);
      drv.publish();
      expect(dv.getUint16(s.availIdx, true)).toBe(count & 0xffff);
      expect(dv.getUint16(s.availFlags, true)).toBe(0);
      const heads0: number[] = [];
      const rawDescs: Array<[bigint, number, number, number]> = [];
      const wantDescs: Array<[bigint, number, number, number]> = [];
      for (let i = 0; i < count; i++) {
        const head = dv.getUint16(s.availRing(i), true);
        heads0.push(head);
        const d = s.desc(head % n);
        rawDescs.push([dv.getBigUint64(d, true), dv.getUint32(d + 8, true), dv.getUint16(d + 12, true), dv.getUint16(d + 14, true)]);
        wantDescs.push([BigInt(addrOf(i)), 60 + (i % 1000), i % 2 === 1 ? 2 : 0, 0]);
      }
      expect(rawDescs).toEqual(wantDescs);
      expect(new Set(heads0).size).toBe(count);
      expect(Math.max(...heads0)).toBe(n - 1);

      const heads = new Uint32Array(n);
      const addrs = new Float64Array(n);
      const lens = new Uint32Array(n);
      expect(dev.pop(heads, addrs, lens, n)).toBe(count);
      expect([...heads]).toEqual(heads0);
      expect([...addrs]).toEqual(wantDescs.map((d) => Number(d[0])));
      const written = lens.map((_, i) => 7 * i + 1);
      dev.pushBatch(heads, written, count);
      expect(dv.getUint16(s.usedIdx, true)).toBe(count & 0xffff);
      const rawUsed: Array<[number, number]> = [];
      for (let i = 0; i < count; i++) rawUsed.push([dv.getUint32(s.usedElem(i), true), dv.getUint32(s.usedElem(i) + 4, true)]);
      expect(rawUsed).toEqual(heads0.map((h, i) => [h, 7 * i + 1]));
      const tokens = new Uint32Array(n);
      const got = new Uint32Array(n);
      expect(drv.reclaim(tokens, got, n)).toBe(count);
      expect([...tokens]).toEqual(heads0.map((_, i) => 1000 + i));
      expect([...got]).toEqual([...written]);

      expect(drv.waitForUsed(0)).toBe(false);
      expect(dv.getUint16(s.usedEvent, true)).toBe(count & 0xffff);
      expect(dev.waitForAvail(0)).toBe(false);
      expect(dv.getUint16(s.availEvent, true)).toBe(count & 0xffff);
      expect(dv.getUint16(s.usedFlags, true)).toBe(0);
    });
  }

  it('a chain is linked through next with NEXT set on all but the last, writable parts last', () => {
    const ring = ringIn(8, 0, 4);
    const s = spec(8, 0, 4);
    const dv = new DataView(ring.sab);
    const drv = new VirtqueueDriver(ring);
    expect(drv.stageChain([100, 200, 300], [12, 60, 1500], 3, 2, 42)).toBe(true);
    drv.publish();
    let d = dv.getUint16(s.availRing(0), true);
    const seen: Array<[number, number, number]> = [];
    for (;;) {
      const at = s.desc(d);
      const flags = dv.getUint16(at + 12, true);
      seen.push([Number(dv.getBigUint64(at, true)), dv.getUint32(at + 8, true), flags]);
      if ((flags & 1) === 0) break;
      d = dv.getUint16(at + 14, true);
    }
    expect(seen).toEqual([
      [100, 12, 1],
      [200, 60, 1],
      [300, 1500, 2],
    ]);
  });

  it('without EVENT_IDX the flags carry notification suppression', () => {
    const ring = ringIn(4, 0, 4, false);
    const s = spec(4, 0, 4);
    const dv = new DataView(ring.sab);
    const drv = new VirtqueueDriver(ring);
    const dev = new VirtqueueDevice(ring);
    expect(dv.getUint16(s.availFlags, true)).toBe(1);
    expect(dv.getUint16(s.usedFlags, true)).toBe(1);
    drv.enableUsedNotifications();
    dev.enableAvailNotifications();
    expect(dv.getUint16(s.availFlags, true)).toBe(0);
    expect(dv.getUint16(s.usedFlags, true)).toBe(0);
    drv.disableUsedNotifications();
    expect(dv.getUint16(s.availFlags, true)).toBe(1);
  });
});

describe('queue size and attach validation', () => {
  it('accepts only powers of two up to 32768', () => {
    for (const bad of [0, -1, 3, 6, 1000, 32769, 65536, 1.5, Number.NaN]) {
      expect(() => computeSplitRingLayout(bad), String(bad)).toThrow(InvalidArgumentError);
      expect(() => SplitRing.create(bad), String(bad)).toThrow(InvalidArgumentError);
    }
    for (let n = 1; n <= 32768; n *= 2) expect(computeSplitRingLayout(n).queueSize).toBe(n);
  });

  it('rejects a bad base or used alignment', () => {
    expect(() => computeSplitRingLayout(8, { base: 32 })).toThrow(InvalidArgumentError);
    expect(() => computeSplitRingLayout(8, { usedAlign: 2 })).toThrow(InvalidArgumentError);
    expect(() => computeSplitRingLayout(8, { usedAlign: 48 })).toThrow(InvalidArgumentError);
  });

  it('attach finds the same geometry and rejects foreign memory', () => {
    const ring = ringIn(64, 256, 64, false);
    const again = SplitRing.attach(ring.sab, 256);
    expect(again.layout).toEqual(ring.layout);
    expect(again.eventIdx).toBe(false);
    expect(() => SplitRing.attach(ring.sab, 0)).toThrow(SharedLayoutError);
    expect(() => SplitRing.attach(new SharedArrayBuffer(64))).toThrow(SharedLayoutError);
    const bad = new SharedArrayBuffer(ring.sab.byteLength);
    new Uint8Array(bad).set(new Uint8Array(ring.sab));
    new DataView(bad).setUint32(256 + 8, 100, true);
    expect(() => SplitRing.attach(bad, 256)).toThrow(SharedLayoutError);
  });
});
