import { describe, expect, it } from 'vitest';
import { startModuleWorker } from '../../../src/runtime/module-worker.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';

const WORKER = new URL('./workers/pool-churn-worker.ts', import.meta.url);

interface ChurnResult {
  allocated?: number;
  corrupt?: number;
  wrongOwner?: number;
  error?: string;
  code?: string;
}

function result(w: ReturnType<typeof startModuleWorker>): Promise<ChurnResult> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe('pool shared between threads', () => {
  it('two workers and the main thread churn one small pool without double allocation or leak', async () => {
    const pool = PacketPool.create({ bufferCount: 48, stride: 128, headroom: 0, owner: 1 });
    const start = new SharedArrayBuffer(8);
    const go = new Int32Array(start);
    const rounds = 20_000;
    const workers = [2, 3].map((owner) => startModuleWorker(WORKER, { workerData: { sab: pool.sab, owner, rounds, start } }));
    try {
      const results = workers.map(result);
      const deadline = Date.now() + 20_000;
      while (Atomics.load(go, 1) < 2) {
        if (Date.now() > deadline) throw new Error('workers did not attach');
        await new Promise((r) => setTimeout(r, 5));
      }
      Atomics.store(go, 0, 1);
      Atomics.notify(go, 0);
      const ids = new Uint32Array(32);
      let mine = 0;
      let corrupt = 0;
      for (let r = 0; r < rounds; r++) {
        const n = pool.allocBatch(ids, 1 + (r % 32));
        mine += n;
        for (let i = 0; i < n; i++) pool.view.setUint32(pool.dataOffset(ids[i]), 65536 + r, true);
        for (let i = 0; i < n; i++) if (pool.view.getUint32(pool.dataOffset(ids[i]), true) !== 65536 + r) corrupt++;
        pool.freeBatch(ids, n);
      }
      const [w2, w3] = await Promise.all(results);
      expect(w2.error).toBeUndefined();
      expect(w3.error).toBeUndefined();
      expect(corrupt + w2.corrupt! + w3.corrupt!).toBe(0);
      expect(w2.wrongOwner! + w3.wrongOwner!).toBe(0);
      const total = mine + w2.allocated! + w3.allocated!;
      const s = pool.stats();
      expect(s.allocs).toBe(total);
      expect(s.frees).toBe(total);
      expect(s.ownershipErrors).toBe(0);
      expect(total).toBeGreaterThan(rounds);
      expect(pool.leakCheck()).toEqual([]);
      expect(pool.freeCount()).toBe(48);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });

  it('a worker attaching to memory with a different layout gets SharedLayoutError', async () => {
    const pool = PacketPool.create({ bufferCount: 4 });
    new DataView(pool.sab).setUint32(4, 999, true);
    const w = startModuleWorker(WORKER, { workerData: { sab: pool.sab, owner: 2, rounds: 1, start: new SharedArrayBuffer(8) } });
    try {
      expect(await result(w)).toEqual({ error: 'SharedLayoutError', code: 'NFVKIT_ERR_SHARED_LAYOUT' });
    } finally {
      await w.terminate();
    }
  });
});
