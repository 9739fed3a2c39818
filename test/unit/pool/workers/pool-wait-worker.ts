import { parentPort, workerData } from 'node:worker_threads';
import { PacketPool } from '../../../../src/pool/packet-pool.ts';

const { sab, owner } = workerData as { sab: SharedArrayBuffer; owner: number };
const pool = PacketPool.attach(sab, { owner });
const ids = new Uint32Array(4);
parentPort!.postMessage({ type: 'attached' });
const t0 = performance.now();
const got = pool.allocBatch(ids, 4);
const waitedMs = performance.now() - t0;
pool.freeBatch(ids, got);
parentPort!.postMessage({ type: 'done', got, waitedMs });
