// Blocks in the addon's futexWait on word 0 of `sab` (word 1 says "about to wait") and posts the answer.
import { parentPort, workerData } from 'node:worker_threads';
import { nativeAddonOrNull } from '../../../../src/native/native-addon.ts';

const { sab, timeoutMs } = workerData as { sab: SharedArrayBuffer; timeoutMs: number };
const addon = nativeAddonOrNull();
if (addon === null) {
  parentPort?.postMessage({ error: 'native addon not available in the worker' });
} else {
  const words = new Int32Array(sab);
  Atomics.store(words, 1, 1);
  const started = performance.now();
  const result = addon.futexWait(words, 0, 0, timeoutMs);
  parentPort?.postMessage({ result, elapsedMs: performance.now() - started });
}
