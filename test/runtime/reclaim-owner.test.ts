import { describe, expect, it } from 'vitest';
import { H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, POOL_HEADER_BYTES } from '../../src/pool/pool-layout.ts';
import { lockAcquire } from '../../src/pool/pool-lock.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';

describe('PacketPool.reclaimOwner', () => {
  it('frees every buffer of the dead owner and nothing of the others', () => {
    const host = PacketPool.create({ bufferCount: 64, owner: 1 });
    const dead = host.withOwner(7);
    const live = host.withOwner(8);
    const ids = new Uint32Array(16);
    expect(dead.allocBatch(ids, 10)).toBe(10);
    dead.transferBatch(ids, 3, 8);
    expect(live.allocBatch(new Uint32Array(5), 5)).toBe(5);
    expect(host.reclaimOwner(7)).toBe(7);
    expect(host.leakCheck().every((b) => b.owner === 8)).toBe(true);
    expect(host.inUse()).toBe(8);
    expect(host.reclaimOwner(8)).toBe(8);
    expect(host.leakCheck()).toEqual([]);
    const all = new Uint32Array(64);
    expect(host.allocBatch(all, 64)).toBe(64);
    expect(new Set(all).size).toBe(64);
  });

  it('recovers from an owner killed inside freeBatch: lock held, half-marked states, stale free-stack top', () => {
    const host = PacketPool.create({ bufferCount: 32, owner: 1 });
    const dead = host.withOwner(7);
    const ids = new Uint32Array(6);
    expect(dead.allocBatch(ids, 6)).toBe(6);
    const words = new Int32Array(host.sab, 0, POOL_HEADER_BYTES / 4);
    lockAcquire(words, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, 7);
    Atomics.store(host.meta.state, ids[0], -1);
    Atomics.store(host.meta.state, ids[1], 0);
    expect(host.reclaimOwner(7)).toBe(5);
    expect(host.leakCheck()).toEqual([]);
    expect(host.freeCount()).toBe(32);
    const all = new Uint32Array(32);
    expect(host.allocBatch(all, 32)).toBe(32);
    expect(new Set(all).size).toBe(32);
    host.freeBatch(all, 32);
  });

  it('rejects an invalid owner id', () => {
    expect(() => PacketPool.create({ bufferCount: 8 }).reclaimOwner(0)).toThrow(/owner id/);
  });
});
