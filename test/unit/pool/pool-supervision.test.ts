import { describe, expect, it } from 'vitest';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { H_FREE_TOP, H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, H_STRIDE, POOL_HEADER_BYTES, POOL_MAGIC } from '../../../src/pool/pool-layout.ts';
import { lockAcquire } from '../../../src/pool/pool-lock.ts';
import { startModuleWorker } from '../../../src/runtime/module-worker.ts';

const WAITER = new URL('./workers/pool-wait-worker.ts', import.meta.url);

function header(pool: PacketPool): Int32Array {
  return new Int32Array(pool.sab, 0, POOL_HEADER_BYTES / 4);
}

function stackOf(pool: PacketPool): Uint32Array {
  return new Uint32Array(pool.sab, POOL_HEADER_BYTES, pool.bufferCount);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `checkLock` every 2 ms until it names a holder or `ms` pass. */
async function offenderWithin(pool: PacketPool, ms: number): Promise<{ holder: number; after: number }> {
  const t0 = performance.now();
  for (;;) {
    const holder = pool.checkLock();
    const after = performance.now() - t0;
    if (holder !== 0 || after > ms) return { holder, after };
    await sleep(2);
  }
}

describe('the supervisor and a lock an instance keeps', () => {
  it('never blocks: allocations come back short and frees wait, until checkLock takes the lock back and names the holder', async () => {
    // The timeout is long enough that a thread descheduled between the calls below (more
    // busy threads than cores) is not yet past it: past it the supervisor rightly takes the
    // lock back at its next look and frees at once (with 30 ms that happened under load).
    const timeoutMs = 300;
    const pool = PacketPool.create({ bufferCount: 64, lockTimeoutMs: timeoutMs });
    const ids = new Uint32Array(8);
    expect(pool.allocBatch(ids, 4)).toBe(4);
    lockAcquire(header(pool), H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, 7);
    const t0 = performance.now();
    expect(pool.allocBatch(new Uint32Array(8), 8)).toBe(0);
    pool.freeBatch(ids, 4);
    expect(pool.freeOwned(ids, 0)).toBe(0);
    // Waiting for the lock would take the whole timeout (the holder never lets go), and the
    // frees would be done (in use 0): neither happened.
    expect(performance.now() - t0).toBeLessThan(timeoutMs / 3);
    expect(pool.inUse()).toBe(4);
    expect(pool.stats().allocShortfall).toBe(8);
    const { holder } = await offenderWithin(pool, 5000);
    expect(holder).toBe(7);
    // The supervisor timed the hold from its first look (the allocation above).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(timeoutMs);
    expect(Atomics.load(header(pool), H_LOCK)).toBe(0);
    expect(pool.inUse()).toBe(0);
    expect(pool.stats()).toMatchObject({ lockSteals: 1, frees: 4 });
    expect(pool.leakCheck()).toEqual([]);
    expect(pool.checkLock()).toBe(0);
  });

  it('catches a holder that keeps the lock word set while it bumps the sequence, and names -1 for a hold naming nobody', async () => {
    const pool = PacketPool.create({ bufferCount: 16, lockTimeoutMs: 20 });
    const w = header(pool);
    Atomics.store(w, H_LOCK, 1);
    Atomics.store(w, H_LOCK_HOLDER, 9);
    // The sequence moves before every look, so no single hold ever grows old, however long
    // this thread is descheduled between looks (a 1 ms timer bumping it beside a 2 ms poll
    // could fall behind the poll under load and let a single hold pass the timeout).
    const t0 = performance.now();
    let holder = 0;
    while (holder === 0 && performance.now() - t0 < 1000) {
      Atomics.add(w, H_LOCK_SEQ, 1);
      holder = pool.checkLock();
      if (holder === 0) await sleep(2);
    }
    expect(holder).toBe(9);
    // Caught as held at every look over twice the timeout, not as one old hold.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40);
    Atomics.store(w, H_LOCK, 1);
    Atomics.store(w, H_LOCK_HOLDER, 0);
    expect((await offenderWithin(pool, 1000)).holder).toBe(-1);
    expect(pool.alloc()).toBe(0);
  });

  it('reclaimOwner waits about twice the timeout at most for a lock another owner keeps, and that owner is reported', () => {
    const pool = PacketPool.create({ bufferCount: 32, lockTimeoutMs: 20 });
    const dead = pool.withOwner(7);
    expect(dead.allocBatch(new Uint32Array(5), 5)).toBe(5);
    lockAcquire(header(pool), H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, 8);
    const t0 = performance.now();
    expect(pool.reclaimOwner(7)).toBe(5);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(18);
    expect(waited).toBeLessThan(300);
    expect(pool.checkLock()).toBe(8);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('lets an instance thread queued behind the kept lock run again once the supervisor takes it back', async () => {
    const pool = PacketPool.create({ bufferCount: 32, lockTimeoutMs: 30 });
    lockAcquire(header(pool), H_LOCK, H_LOCK_HOLDER, H_LOCK_SEQ, 7);
    const worker = startModuleWorker(WAITER, { workerData: { sab: pool.sab, owner: 8 } });
    try {
      const done = new Promise<{ got: number; waitedMs: number }>((resolve, reject) => {
        worker.on('message', (m: { type: string; got: number; waitedMs: number }) => {
          if (m.type === 'done') resolve(m);
        });
        worker.once('error', reject);
      });
      const { holder } = await offenderWithin(pool, 5000);
      expect(holder).toBe(7);
      const result = await done;
      expect(result.got).toBe(4);
      expect(pool.leakCheck()).toEqual([]);
    } finally {
      await worker.terminate();
    }
  }, 20_000);
});

describe('the supervisor and a corrupted free stack', () => {
  it('skips ids out of range, in use or listed twice, and never hands a buffer out twice', () => {
    const pool = PacketPool.create({ bufferCount: 32 });
    const inst = pool.withOwner(5);
    const held = new Uint32Array(4);
    expect(inst.allocBatch(held, 4)).toBe(4);
    const stack = stackOf(pool);
    const top = Atomics.load(header(pool), H_FREE_TOP);
    stack[top - 1] = 999;
    stack[top - 2] = held[0];
    stack[top - 3] = stack[top - 4];
    const out = new Uint32Array(32);
    const got = pool.allocBatch(out, 32);
    const given = Array.from(out.subarray(0, got));
    expect(new Set(given).size).toBe(got);
    expect(given.some((id) => held.includes(id) || id >= 32)).toBe(false);
    expect(got).toBe(25);
    expect(pool.stats().freeStackRejects).toBe(3);
    pool.freeBatch(out, got);
    inst.freeBatch(held, 4);
    expect(pool.leakCheck()).toEqual([{ id: -1, owner: -1 }]);
    expect(pool.reclaimAllBut([1])).toBe(0);
    expect(pool.leakCheck()).toEqual([]);
    expect(pool.freeCount()).toBe(32);
  });

  it('rebuilds a free-stack top out of range instead of reading past the stack', () => {
    const pool = PacketPool.create({ bufferCount: 16 });
    const ids = new Uint32Array(16);
    expect(pool.allocBatch(ids, 3)).toBe(3);
    for (const bad of [0x7fffffff, -5, 17]) {
      Atomics.store(header(pool), H_FREE_TOP, bad);
      const more = new Uint32Array(16);
      const got = pool.allocBatch(more, 16);
      expect(got).toBe(13);
      expect(Array.from(more.subarray(0, got)).some((id) => ids.subarray(0, 3).includes(id))).toBe(false);
      pool.freeBatch(more, got);
    }
    pool.freeBatch(ids, 3);
    expect(pool.leakCheck()).toEqual([]);
    expect(pool.stats().freeStackRejects).toBe(3);
  });
});

describe('the supervisor and scribbled ownership words', () => {
  it('freeOwned frees what the handle holds, skips the rest and never throws', () => {
    const pool = PacketPool.create({ bufferCount: 16 });
    const ids = new Uint32Array(4);
    expect(pool.allocBatch(ids, 4)).toBe(4);
    Atomics.store(pool.meta.state, ids[1], 9);
    expect(pool.freeOwned([ids[0], ids[1], ids[2], ids[2], 9999, -1], 6)).toBe(4);
    expect(pool.ownerOf(ids[1])).toBe(9);
    expect(pool.ownerOf(ids[3])).toBe(1);
    expect(pool.leakCheck().map((b) => b.owner).sort()).toEqual([1, 9]);
    expect(pool.stats().ownershipErrors).toBe(4);
  });

  it('reclaimAllBut frees what names no live owner, keeps live owners’ buffers, and repairs the header', () => {
    const pool = PacketPool.create({ bufferCount: 32 });
    const live = pool.withOwner(5);
    const held = new Uint32Array(3);
    expect(live.allocBatch(held, 3)).toBe(3);
    const scribbled = new Uint32Array(3);
    expect(pool.withOwner(7).allocBatch(scribbled, 3)).toBe(3);
    Atomics.store(pool.meta.state, scribbled[0], 12345);
    Atomics.store(pool.meta.state, scribbled[1], -1);
    Atomics.store(pool.meta.state, 30, -77);
    const w = header(pool);
    Atomics.store(w, 0, 0);
    Atomics.store(w, H_STRIDE, 4096);
    expect(() => PacketPool.attach(pool.sab, { owner: 9 })).toThrow();
    expect(pool.reclaimAllBut([1, 5])).toBe(4);
    expect(pool.leakCheck()).toEqual(Array.from(held).map((id) => ({ id, owner: 5 })));
    expect(Atomics.load(w, 0) >>> 0).toBe(POOL_MAGIC);
    expect(PacketPool.attach(pool.sab, { owner: 9 }).stride).toBe(pool.stride);
    const rest = new Uint32Array(32);
    const got = pool.allocBatch(rest, 32);
    expect(got).toBe(29);
    expect(new Set(rest.subarray(0, got)).size).toBe(29);
    pool.freeBatch(rest, got);
    live.freeBatch(held, 3);
    expect(pool.leakCheck()).toEqual([]);
  });
});
