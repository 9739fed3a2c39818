import { describe, expect, it } from 'vitest';
import { BufferOwnershipError } from '../../../src/errors/catalog.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { FREE_OWNER, PoolHandle } from '../../../src/pool/pool-handle.ts';

describe('PoolHandle', () => {
  it('makes a scratch pool with every buffer free, lowest ids first, that another handle can attach to', () => {
    const pool = PoolHandle.scratch({ bufferCount: 64, owner: 1 });
    expect(pool).not.toBeInstanceOf(PacketPool);
    expect(pool.freeCount()).toBe(64);
    const ids = new Uint32Array(65);
    expect(pool.allocBatch(ids, 65)).toBe(64);
    expect(Array.from(ids.subarray(0, 4))).toEqual([0, 1, 2, 3]);
    expect(pool.allocBatch(ids, 1)).toBe(0);
    expect(pool.meta.dataOff[5]).toBe(pool.headroom);
    pool.freeBatch(ids, 64);
    expect(pool.freeCount()).toBe(64);

    const peer = PoolHandle.attach(pool.sab, { owner: 2 });
    expect([peer.bufferCount, peer.stride, peer.headroom, peer.dataAreaOffset]).toEqual([64, pool.stride, pool.headroom, pool.dataAreaOffset]);
    expect(peer.allocBatch(ids, 2)).toBe(2);
    expect(pool.ownerOf(ids[0])).toBe(2);
  });

  it('attached to a pool the host created, it blocks on the lock and never defers: a foreign free throws at once', () => {
    const host = PacketPool.create({ bufferCount: 8 });
    const instance = PoolHandle.attach(host.sab, { owner: 5 });
    expect(instance).not.toBeInstanceOf(PacketPool);
    expect('reclaimOwner' in instance || 'leakCheck' in instance || 'checkLock' in instance).toBe(false);
    const ids = new Uint32Array(2);
    expect(host.allocBatch(ids, 2)).toBe(2);
    expect(() => instance.freeBatch(ids, 2)).toThrow(BufferOwnershipError);
    expect(host.ownerOf(ids[0])).toBe(1);
    host.transferBatch(ids, 2, 5);
    instance.freeBatch(ids, 2);
    expect(host.ownerOf(ids[0])).toBe(FREE_OWNER);
    expect(host.leakCheck()).toEqual([]);
  });
});
