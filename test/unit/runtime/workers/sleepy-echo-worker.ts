import { parentPort } from 'node:worker_threads';

/** Test worker: answers `{ id, echo }` after `delayMs`; `crash: true` throws instead. */
parentPort!.on('message', (m: { id: number; echo: string; delayMs: number; crash?: boolean }) => {
  if (m.crash === true) throw new Error('asked to crash');
  setTimeout(() => parentPort!.postMessage({ id: m.id, echo: m.echo }), m.delayMs);
});
