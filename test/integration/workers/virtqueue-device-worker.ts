import { parentPort, workerData } from 'node:worker_threads';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { SpinThenWait } from '../../../src/virtio/doorbell.ts';
import { SplitRing } from '../../../src/virtio/split-ring.ts';
import { VirtqueueDevice } from '../../../src/virtio/virtqueue-device.ts';

import {
  S_BAD_LEN,
  S_BAD_OWNER,
  S_DISTINCT,
  S_DUPLICATES,
  S_KICKS,
  S_OUT_OF_ORDER,
  S_READY,
  S_RECEIVED,
  S_SLEEPS,
  S_STOP,
} from './virtqueue-device-stats.ts';

interface Params {
  pool: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  owner: number;
  driverOwner: number;
  total: number;
  deadlineMs: number;
  batchUsed: boolean;
}

const p = workerData as Params;
const stats = new Int32Array(p.stats);
const pool = PacketPool.attach(p.pool, { owner: p.owner });
const ring = SplitRing.attach(p.ring, 0);
const dev = new VirtqueueDevice(ring);
const batch = 64;
const heads = new Uint16Array(batch);
const addrs = new Float64Array(batch);
const lens = new Uint32Array(batch);
const zero = new Uint32Array(batch);
const ids = new Uint32Array(batch);
const seen = new Uint8Array(Math.ceil(p.total / 8));
const backoff = new SpinThenWait(4000);
let expected = 0;
let outOfOrder = 0;
let duplicates = 0;
let badOwner = 0;
let badLen = 0;
let distinct = 0;
const deadline = Date.now() + p.deadlineMs;
let iter = 0;

Atomics.store(stats, S_READY, 1);
Atomics.notify(stats, S_READY);
while (Atomics.load(stats, S_STOP) === 0) {
  const n = dev.pop(heads, addrs, lens, batch);
  if (n === 0) {
    if (backoff.idle()) {
      dev.waitForAvail(2);
      if (Date.now() > deadline) break;
    }
    continue;
  }
  backoff.busy();
  for (let i = 0; i < n; i++) {
    const id = pool.bufferIdAt(addrs[i]);
    ids[i] = id;
    if (pool.ownerOf(id) !== p.owner) badOwner++;
    if (lens[i] !== 64) badLen++;
    const seq = pool.view.getUint32(addrs[i], true);
    if (seq !== expected) outOfOrder++;
    expected = seq + 1;
    if (seq < p.total) {
      const bit = 1 << (seq & 7);
      if ((seen[seq >>> 3] & bit) !== 0) duplicates++;
      else {
        seen[seq >>> 3] |= bit;
        distinct++;
      }
    }
  }
  pool.transferBatch(ids, n, p.driverOwner);
  dev.pushBatch(heads, p.batchUsed ? null : zero, n);
  if ((++iter & 255) === 0) Atomics.store(stats, S_RECEIVED, distinct);
}
stats[S_OUT_OF_ORDER] = outOfOrder;
stats[S_DUPLICATES] = duplicates;
stats[S_BAD_OWNER] = badOwner;
stats[S_BAD_LEN] = badLen;
stats[S_DISTINCT] = distinct;
stats[S_KICKS] = dev.notificationsSent;
stats[S_SLEEPS] = dev.sleeps;
Atomics.store(stats, S_RECEIVED, distinct);
parentPort!.postMessage('done');
