import { parentPort, workerData } from 'node:worker_threads';
import { PacketPool } from '../../../../src/pool/packet-pool.ts';

interface Params {
  sab: SharedArrayBuffer;
  owner: number;
  rounds: number;
  start: SharedArrayBuffer;
}

const { sab, owner, rounds, start } = workerData as Params;
try {
  const pool = PacketPool.attach(sab, { owner });
  const go = new Int32Array(start);
  Atomics.add(go, 1, 1);
  Atomics.notify(go, 1);
  Atomics.wait(go, 0, 0, 10_000);
  const ids = new Uint32Array(32);
  let allocated = 0;
  let corrupt = 0;
  let wrongOwner = 0;
  for (let r = 0; r < rounds; r++) {
    const n = pool.allocBatch(ids, 1 + (r % 32));
    allocated += n;
    for (let i = 0; i < n; i++) {
      pool.view.setUint32(pool.dataOffset(ids[i]), owner * 65536 + r, true);
      if (pool.ownerOf(ids[i]) !== owner) wrongOwner++;
    }
    for (let i = 0; i < n; i++) {
      if (pool.view.getUint32(pool.dataOffset(ids[i]), true) !== owner * 65536 + r) corrupt++;
    }
    pool.freeBatch(ids, n);
  }
  parentPort!.postMessage({ allocated, corrupt, wrongOwner });
} catch (e) {
  parentPort!.postMessage({ error: (e as Error).name, code: (e as { code?: string }).code });
}
