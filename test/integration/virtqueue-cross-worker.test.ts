import { describe, expect, it } from 'vitest';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { startModuleWorker } from '../../src/runtime/module-worker.ts';
import { SpinThenWait } from '../../src/virtio/doorbell.ts';
import { SplitRing } from '../../src/virtio/split-ring.ts';
import { VirtqueueDriver } from '../../src/virtio/virtqueue-driver.ts';
import {
  S_BAD_LEN,
  S_BAD_OWNER,
  S_DISTINCT,
  S_DUPLICATES,
  S_KICKS,
  S_OUT_OF_ORDER,
  S_READY,
  S_STOP,
} from './workers/virtqueue-device-stats.ts';

const WORKER = new URL('./workers/virtqueue-device-worker.ts', import.meta.url);
const TOTAL = 1_000_000;
const QUEUE = 256;
const BUDGET_MS = 15_000;
const DRIVER = 1;
const DEVICE = 2;

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('virtqueue between the main thread and a worker', () => {
  it.each([
    { mode: 'one used element per buffer', inOrder: false },
    { mode: 'IN_ORDER, one used element per batch', inOrder: true },
  ])(`moves ${TOTAL} pool buffers through a ${QUEUE}-entry queue and back ($mode): none lost, none repeated, order kept, none leaked`, async ({ inOrder }) => {
    const pool = PacketPool.create({ bufferCount: 2 * QUEUE, stride: 256, headroom: 64, owner: DRIVER });
    const ring = SplitRing.create(QUEUE, { eventIdx: true, inOrder });
    const stats = new Int32Array(new SharedArrayBuffer(64));
    const worker = startModuleWorker(WORKER, {
      workerData: { pool: pool.sab, ring: ring.sab, stats: stats.buffer, owner: DEVICE, driverOwner: DRIVER, total: TOTAL, deadlineMs: BUDGET_MS + 5000, batchUsed: inOrder },
    });
    let failure: Error | null = null;
    worker.on('error', (e) => {
      failure = e;
    });
    const finished = new Promise<void>((resolve) => {
      worker.once('message', () => resolve());
      worker.once('exit', () => resolve());
    });
    try {
      const started = Date.now();
      while (Atomics.load(stats, S_READY) === 0) {
        if (failure) throw failure;
        if (Date.now() - started > 10_000) throw new Error('device worker did not start');
        await new Promise((r) => setTimeout(r, 5));
      }
      const drv = new VirtqueueDriver(ring);
      const batch = 64;
      const ids = new Uint32Array(batch);
      const addrs = new Float64Array(batch);
      const lens = new Uint32Array(batch).fill(64);
      const tokens = new Uint32Array(batch);
      const outTokens = new Uint32Array(QUEUE);
      const outAddrs = new Float64Array(QUEUE);
      const back = new Uint32Array(QUEUE);
      const backoff = new SpinThenWait(4000);
      let sent = 0;
      let reclaimed = 0;
      let orderErrors = 0;
      let contentErrors = 0;
      const t0 = Date.now();
      while (reclaimed < TOTAL) {
        if (failure) throw failure;
        if (Date.now() - t0 > BUDGET_MS) throw new Error(`only ${reclaimed} of ${TOTAL} descriptors came back within ${BUDGET_MS} ms`);
        const sliceEnd = performance.now() + 40;
        while (reclaimed < TOTAL && performance.now() < sliceEnd) {
          const r = drv.reclaim(outTokens, null, QUEUE, outAddrs);
          for (let i = 0; i < r; i++) {
            const id = pool.bufferIdAt(outAddrs[i]);
            back[i] = id;
            if (outTokens[i] !== reclaimed + i) orderErrors++;
            if (pool.view.getUint32(outAddrs[i], true) !== outTokens[i] || pool.ownerOf(id) !== DRIVER) contentErrors++;
          }
          if (r > 0) pool.freeBatch(back, r);
          reclaimed += r;
          let added = 0;
          const room = Math.min(batch, drv.freeDescriptors, TOTAL - sent);
          if (room > 0) {
            const got = pool.allocBatch(ids, room);
            for (let i = 0; i < got; i++) {
              const at = pool.dataOffset(ids[i]);
              pool.view.setUint32(at, sent + i, true);
              pool.meta.length[ids[i]] = 64;
              addrs[i] = at;
              tokens[i] = sent + i;
            }
            pool.transferBatch(ids, got, DEVICE);
            added = drv.addBatch(addrs, lens, tokens, got, false);
            sent += added;
          }
          if (r > 0 || added > 0) backoff.busy();
          else if (backoff.idle()) drv.waitForUsed(2);
        }
        await tick();
      }
      const elapsed = Date.now() - t0;
      Atomics.store(stats, S_STOP, 1);
      ring.availBell.ring();
      await finished;
      if (failure) throw failure;

      expect(reclaimed).toBe(TOTAL);
      expect(orderErrors).toBe(0);
      expect(contentErrors).toBe(0);
      expect({
        distinct: stats[S_DISTINCT],
        outOfOrder: stats[S_OUT_OF_ORDER],
        duplicates: stats[S_DUPLICATES],
        badOwner: stats[S_BAD_OWNER],
        badLen: stats[S_BAD_LEN],
      }).toEqual({ distinct: TOTAL, outOfOrder: 0, duplicates: 0, badOwner: 0, badLen: 0 });
      expect(Atomics.load(ring.u16, ring.availIdxH)).toBe(TOTAL & 0xffff);
      expect(Atomics.load(ring.u16, ring.usedIdxH)).toBe(TOTAL & 0xffff);
      expect(drv.freeDescriptors).toBe(QUEUE);
      expect(pool.leakCheck()).toEqual([]);
      const s = pool.stats();
      expect(s).toMatchObject({ allocs: TOTAL, frees: TOTAL, transfers: 2 * TOTAL, ownershipErrors: 0, copiesIn: 0, copiesOut: 0, inUse: 0 });
      const kicks = drv.notificationsSent + stats[S_KICKS];
      expect(kicks * 8).toBeLessThan(TOTAL);
      console.log(`${inOrder ? 'IN_ORDER: ' : ''}${TOTAL} descriptors in ${elapsed} ms; doorbell rings: driver ${drv.notificationsSent}, device ${stats[S_KICKS]}; driver sleeps ${drv.sleeps}`);
    } finally {
      Atomics.store(stats, S_STOP, 1);
      ring.availBell.ring();
      await worker.terminate();
    }
  });
});
