import { describe, expect, it } from 'vitest';
import { BufferOwnershipError } from '../../../src/errors/catalog.ts';
import { BufferRecycler } from '../../../src/pool/buffer-recycler.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { PoolHandle } from '../../../src/pool/pool-handle.ts';
import { GeneratorPort } from '../../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../../src/dataplane/ports/sink-port.ts';

const instance = (host: PacketPool, owner = 5): PoolHandle => PoolHandle.attach(host.sab, { owner });

describe('BufferRecycler', () => {
  it('hands the buffers it was given out again, reset, without the pool allocating or freeing them', () => {
    const host = PacketPool.create({ bufferCount: 64 });
    const pool = instance(host);
    const recycler = new BufferRecycler(16);
    const ids = new Uint32Array(8);
    expect(recycler.alloc(pool, ids, 8)).toBe(8);
    const first = Array.from(ids);
    for (const id of first) {
      pool.meta.length[id] = 60;
      pool.meta.dataOff[id] = 10;
      pool.meta.flowHash[id] = 7;
    }
    recycler.give(pool, ids, 8);
    expect(recycler.size).toBe(8);
    expect(host.inUse()).toBe(8);
    const before = host.stats();
    const again = new Uint32Array(8);
    expect(recycler.alloc(pool, again, 8)).toBe(8);
    expect(Array.from(again).sort()).toEqual([...first].sort());
    for (const id of again) expect([pool.meta.length[id], pool.meta.dataOff[id], pool.meta.flowHash[id]]).toEqual([0, pool.headroom, 0]);
    const after = host.stats();
    expect([after.allocs, after.frees]).toEqual([before.allocs, before.frees]);
    recycler.give(pool, again, 8);
    recycler.drain(pool);
    expect(recycler.size).toBe(0);
    expect(host.inUse()).toBe(0);
    expect(host.leakCheck()).toEqual([]);
  });

  it('frees what does not fit, and takes from the pool what it does not keep', () => {
    const host = PacketPool.create({ bufferCount: 64 });
    const pool = instance(host);
    const recycler = new BufferRecycler(4);
    const ids = new Uint32Array(10);
    expect(pool.allocBatch(ids, 10)).toBe(10);
    recycler.give(pool, ids, 10);
    expect(recycler.size).toBe(4);
    expect(host.inUse()).toBe(4);
    expect(recycler.alloc(pool, ids, 10)).toBe(10);
    expect(recycler.size).toBe(0);
    expect(host.inUse()).toBe(10);
    expect(new Set(ids).size).toBe(10);
    pool.freeBatch(ids, 10);
    expect(host.leakCheck()).toEqual([]);
  });

  it('refuses a double free, a buffer listed twice and a buffer it does not own, keeping none of that batch', () => {
    const host = PacketPool.create({ bufferCount: 64 });
    const pool = instance(host);
    const recycler = new BufferRecycler(16);
    const ids = new Uint32Array(4);
    pool.allocBatch(ids, 4);
    recycler.give(pool, ids.subarray(0, 1), 1);
    expect(() => recycler.give(pool, Uint32Array.of(ids[1], ids[0]), 2)).toThrow(BufferOwnershipError);
    expect(() => recycler.give(pool, Uint32Array.of(ids[2], ids[2]), 2)).toThrow(BufferOwnershipError);
    const foreign = new Uint32Array(1);
    host.allocBatch(foreign, 1);
    expect(() => recycler.give(pool, Uint32Array.of(ids[3], foreign[0]), 2)).toThrow(BufferOwnershipError);
    expect(recycler.size).toBe(1);
    recycler.give(pool, ids.subarray(1), 3);
    expect(recycler.size).toBe(4);
    recycler.drain(pool);
    host.freeBatch(foreign, 1);
    expect(host.leakCheck()).toEqual([]);
  });

  it('forgets a kept buffer whose ownership word was changed under it', () => {
    const host = PacketPool.create({ bufferCount: 64 });
    const pool = instance(host);
    const recycler = new BufferRecycler(16);
    const ids = new Uint32Array(2);
    pool.allocBatch(ids, 2);
    recycler.give(pool, ids, 2);
    Atomics.store(pool.meta.state, ids[1], 99);
    const out = new Uint32Array(2);
    expect(recycler.alloc(pool, out, 1)).toBe(1);
    expect(out[0]).not.toBe(ids[1]);
    expect(recycler.size).toBe(0);
  });

  it('lets a generator fill again what its sink took, the pool allocating only the first round', () => {
    const host = PacketPool.create({ bufferCount: 1024 });
    const pool = instance(host);
    const recycler = new BufferRecycler();
    const frame = Uint8Array.from({ length: 60 }, (_, i) => i);
    const gen = new GeneratorPort([frame], { total: Infinity, recycler });
    const sink = new SinkPort({ recycler });
    const ids = new Uint32Array(256);
    for (let round = 0; round < 10; round++) {
      const n = gen.fill(pool, ids, 256);
      expect(n).toBe(256);
      expect(Array.from(pool.bytes.subarray(pool.dataOffset(ids[3]), pool.dataOffset(ids[3]) + 60))).toEqual(Array.from(frame));
      sink.take(pool, ids, n);
    }
    expect(sink.frames).toBe(2560);
    expect(host.stats().allocs).toBe(256);
    expect(host.stats().copiesIn).toBe(2560);
    recycler.drain(pool);
    expect(host.leakCheck()).toEqual([]);
  });
});
