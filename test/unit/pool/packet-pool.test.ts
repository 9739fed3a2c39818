import { describe, expect, it } from 'vitest';
import { BufferOwnershipError, InvalidArgumentError, PoolExhaustedError, SharedLayoutError } from '../../../src/errors/catalog.ts';
import { FREE_OWNER, PacketPool } from '../../../src/pool/packet-pool.ts';
import {
  H_LOCK,
  H_LOCK_HOLDER,
  POOL_HEADER_BYTES,
  POOL_LAYOUT_VERSION,
  POOL_MAGIC,
  computePoolLayout,
} from '../../../src/pool/pool-layout.ts';
import { META_FIELDS } from '../../../src/pool/packet-meta.ts';

describe('pool layout', () => {
  it('uses the documented defaults and a validatable header', () => {
    const pool = PacketPool.create({ bufferCount: 8 });
    expect(pool.stride).toBe(2176);
    expect(pool.headroom).toBe(128);
    const dv = new DataView(pool.sab);
    expect(dv.getUint32(0, true)).toBe(POOL_MAGIC);
    expect(dv.getUint32(4, true)).toBe(POOL_LAYOUT_VERSION);
    expect(dv.getUint32(8, true)).toBe(8);
    expect(dv.getUint32(12, true)).toBe(2176);
    expect(dv.getUint32(16, true)).toBe(128);
    expect(pool.sab.byteLength).toBe(computePoolLayout({ bufferCount: 8, stride: 2176, headroom: 128 }).totalBytes);
  });

  it('places regions on cache lines without overlap', () => {
    const l = computePoolLayout({ bufferCount: 1000, stride: 2176, headroom: 128 });
    const regions: Array<[number, number]> = [
      [0, POOL_HEADER_BYTES],
      [l.stackOffset, l.stackOffset + 4 * 1000],
      ...META_FIELDS.map((f): [number, number] => [l.metaOffsets[f.name], l.metaOffsets[f.name] + (f.kind === 'f64' ? 8 : f.kind === 'u16' ? 2 : 4) * 1000]),
      [l.dataOffset, l.dataOffset + 2176 * 1000],
    ];
    for (const [s] of regions) expect(s % 64).toBe(0);
    const sorted = [...regions].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i][0]).toBeGreaterThanOrEqual(sorted[i - 1][1]);
    expect(l.totalBytes).toBe(l.dataOffset + 2176 * 1000);
  });

  it('rejects bad geometry', () => {
    expect(() => PacketPool.create({ bufferCount: 0 })).toThrow(InvalidArgumentError);
    expect(() => PacketPool.create({ stride: 2000 })).toThrow(InvalidArgumentError);
    expect(() => PacketPool.create({ stride: 256, headroom: 256 })).toThrow(InvalidArgumentError);
    expect(() => PacketPool.create({ headroom: 12 })).toThrow(InvalidArgumentError);
    expect(() => PacketPool.create({ owner: 0 })).toThrow(InvalidArgumentError);
  });

  it('dataOffset, bufferOffset and bufferIdAt agree', () => {
    const pool = PacketPool.create({ bufferCount: 4 });
    const id = pool.alloc();
    expect(pool.dataOffset(id)).toBe(pool.dataAreaOffset + id * 2176 + 128);
    expect(pool.bufferIdAt(pool.dataOffset(id))).toBe(id);
    expect(pool.bufferIdAt(pool.bufferOffset(3) + 2175)).toBe(3);
    expect(pool.bufferIdAt(pool.bufferOffset(3) + 2176)).toBe(-1);
    expect(pool.bufferIdAt(pool.dataAreaOffset - 1)).toBe(-1);
    pool.meta.dataOff[id] = 100;
    expect(pool.dataOffset(id)).toBe(pool.bufferOffset(id) + 100);
    expect(pool.capacity(id)).toBe(2076);
  });
});

describe('headroom', () => {
  it('prepend and adj move the frame start within the buffer and refuse to leave it', () => {
    const pool = PacketPool.create({ bufferCount: 2 });
    const id = pool.alloc();
    pool.meta.length[id] = 100;
    expect(pool.prepend(id, 50)).toBe(true);
    expect([pool.meta.dataOff[id], pool.meta.length[id]]).toEqual([78, 150]);
    expect(pool.prepend(id, 79)).toBe(false);
    expect(pool.adj(id, 150)).toBe(true);
    expect([pool.meta.dataOff[id], pool.meta.length[id]]).toEqual([228, 0]);
    expect(pool.adj(id, 1)).toBe(false);
    expect([pool.meta.dataOff[id], pool.meta.length[id]]).toEqual([228, 0]);
  });
});

describe('alloc and free', () => {
  it('allocates distinct owned buffers with reset metadata and frees them', () => {
    const pool = PacketPool.create({ bufferCount: 16, owner: 7 });
    const ids = new Uint32Array(16);
    expect(pool.allocBatch(ids, 10)).toBe(10);
    expect(new Set(ids.subarray(0, 10)).size).toBe(10);
    for (const id of ids.subarray(0, 10)) {
      expect(pool.ownerOf(id)).toBe(7);
      expect(pool.meta.dataOff[id]).toBe(128);
      expect(pool.meta.length[id]).toBe(0);
    }
    expect(pool.inUse()).toBe(10);
    pool.meta.length[ids[0]] = 99;
    pool.meta.flowHash[ids[0]] = 5;
    pool.freeBatch(ids, 10);
    expect(pool.inUse()).toBe(0);
    expect(pool.leakCheck()).toEqual([]);
    const again = new Uint32Array(16);
    expect(pool.allocBatch(again, 16)).toBe(16);
    for (const id of again) expect(pool.meta.length[id]).toBe(0);
    expect(pool.meta.flowHash[ids[0]]).toBe(0);
    expect(pool.stats()).toMatchObject({ allocs: 26, frees: 10, inUse: 16 });
  });

  it('returns a partial count when exhausted and counts the shortfall', () => {
    const pool = PacketPool.create({ bufferCount: 5 });
    const ids = new Uint32Array(8);
    expect(pool.allocBatch(ids, 8)).toBe(5);
    expect(pool.allocBatch(ids, 3)).toBe(0);
    expect(pool.stats().allocShortfall).toBe(6);
    expect(() => pool.alloc()).toThrow(PoolExhaustedError);
  });

  it('detects double free, foreign free, duplicates and out-of-range ids, freeing nothing of that batch', () => {
    const a = PacketPool.create({ bufferCount: 8, owner: 1 });
    const b = a.withOwner(2);
    const ids = new Uint32Array(4);
    a.allocBatch(ids, 4);
    const bid = b.alloc();
    a.free(ids[0]);
    expect(() => a.free(ids[0])).toThrow(BufferOwnershipError);
    expect(() => a.free(bid)).toThrow(/owned by 2/);
    expect(() => a.freeBatch([ids[1], ids[2], ids[1]], 3)).toThrow(/listed twice/);
    expect(() => a.freeBatch([ids[1], 999], 2)).toThrow(/no such buffer/);
    expect(a.ownerOf(ids[1])).toBe(1);
    expect(a.ownerOf(ids[2])).toBe(1);
    expect(a.inUse()).toBe(4);
    expect(a.stats().ownershipErrors).toBe(4);
    a.freeBatch([ids[1], ids[2], ids[3]], 3);
    b.free(bid);
    expect(a.leakCheck()).toEqual([]);
  });

  it('leakCheck names every held buffer with its owner', () => {
    const a = PacketPool.create({ bufferCount: 8, owner: 3 });
    const x = a.alloc();
    const y = a.alloc();
    a.transfer(y, 9);
    expect(a.leakCheck()).toEqual([
      { id: x, owner: 3 },
      { id: y, owner: 9 },
    ]);
  });

  it('transfers move ownership once and reject a non-owner', () => {
    const a = PacketPool.create({ bufferCount: 4, owner: 1 });
    const b = a.withOwner(2);
    const id = a.alloc();
    a.transfer(id, 2);
    expect(a.ownerOf(id)).toBe(FREE_OWNER + 2);
    expect(() => a.transfer(id, 2)).toThrow(BufferOwnershipError);
    expect(a.tryTransfer(id, 3)).toBe(false);
    expect(() => a.free(id)).toThrow(BufferOwnershipError);
    b.free(id);
    expect(a.stats()).toMatchObject({ transfers: 1, ownershipErrors: 3 });
  });
});

describe('copy accounting', () => {
  it('copyIn/copyOut are counted and round-trip the bytes', () => {
    const pool = PacketPool.create({ bufferCount: 4 });
    const id = pool.alloc();
    const frame = Uint8Array.from({ length: 60 }, (_, i) => i + 1);
    expect(pool.copyIn(id, frame, 0, 60)).toBe(true);
    expect(pool.meta.length[id]).toBe(60);
    expect(pool.bytes[pool.dataOffset(id) + 59]).toBe(60);
    expect(pool.copyIn(id, frame, 10, 20)).toBe(true);
    expect(pool.bytes[pool.dataOffset(id)]).toBe(11);
    const out = new Uint8Array(30);
    expect(pool.copyOut(id, out, 5)).toBe(20);
    expect([...out.subarray(5, 25)]).toEqual([...frame.subarray(10, 30)]);
    expect(pool.copyOut(id, out, 15)).toBe(-1);
    expect(pool.copyIn(id, frame, 50, 20)).toBe(false);
    expect(pool.copyIn(id, new Uint8Array(4000), 0, 4000)).toBe(false);
    expect(pool.stats()).toMatchObject({ copiesIn: 2, bytesIn: 80, copiesOut: 1, bytesOut: 20, copyRejects: 3 });
  });

  it('copyIn into a buffer the caller does not own throws', () => {
    const pool = PacketPool.create({ bufferCount: 4 });
    const id = pool.alloc();
    pool.free(id);
    expect(() => pool.copyIn(id, new Uint8Array(4), 0, 4)).toThrow(BufferOwnershipError);
    expect(pool.stats().copiesIn).toBe(0);
  });
});

describe('attach', () => {
  it('sees the same buffers, metadata and counters', () => {
    const a = PacketPool.create({ bufferCount: 8, stride: 256, headroom: 64 });
    const b = PacketPool.attach(a.sab, { owner: 2 });
    expect([b.bufferCount, b.stride, b.headroom]).toEqual([8, 256, 64]);
    const id = b.alloc();
    b.view.setUint32(b.dataOffset(id), 0xdeadbeef);
    b.meta.port[id] = 4;
    expect(a.view.getUint32(a.dataOffset(id))).toBe(0xdeadbeef);
    expect(a.meta.port[id]).toBe(4);
    expect(a.leakCheck()).toEqual([{ id, owner: 2 }]);
    expect(a.stats().allocs).toBe(1);
  });

  it('rejects memory with another layout', () => {
    const good = PacketPool.create({ bufferCount: 8 });
    const copy = (): SharedArrayBuffer => {
      const s = new SharedArrayBuffer(good.sab.byteLength);
      new Uint8Array(s).set(new Uint8Array(good.sab));
      return s;
    };
    const badMagic = copy();
    new DataView(badMagic).setUint32(0, 0x12345678, true);
    expect(() => PacketPool.attach(badMagic, { owner: 2 })).toThrow(SharedLayoutError);
    const badVersion = copy();
    new DataView(badVersion).setUint32(4, POOL_LAYOUT_VERSION + 1, true);
    expect(() => PacketPool.attach(badVersion, { owner: 2 })).toThrow(/version/);
    const badStride = copy();
    new DataView(badStride).setUint32(12, 4096, true);
    expect(() => PacketPool.attach(badStride, { owner: 2 })).toThrow(SharedLayoutError);
    const badOffset = copy();
    new DataView(badOffset).setUint32(28, 64, true);
    expect(() => PacketPool.attach(badOffset, { owner: 2 })).toThrow(/offsets/);
    const truncated = new SharedArrayBuffer(good.sab.byteLength - 64);
    new Uint8Array(truncated).set(new Uint8Array(good.sab, 0, truncated.byteLength));
    expect(() => PacketPool.attach(truncated, { owner: 2 })).toThrow(/needs/);
    expect(() => PacketPool.attach(new SharedArrayBuffer(16), { owner: 2 })).toThrow(SharedLayoutError);
  });
});

describe('lock recovery', () => {
  it('releases the lock of a dead holder only', () => {
    const pool = PacketPool.create({ bufferCount: 4, owner: 1 });
    const words = new Int32Array(pool.sab, 0, 64);
    Atomics.store(words, H_LOCK, 1);
    Atomics.store(words, H_LOCK_HOLDER, 5);
    expect(pool.releaseLockOf(6)).toBe(false);
    expect(pool.releaseLockOf(5)).toBe(true);
    expect(pool.alloc()).toBe(0);
  });
});
