import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../../src/native/native-addon.ts';
import { startModuleWorker } from '../../../src/runtime/module-worker.ts';

const status = loadNativeAddon();
const WORKER = new URL('./workers/udp-poll-worker.ts', import.meta.url);
const ROUNDS = 10;

/** Resolves with the first message matching `pick`, rejects on a worker error or early exit. */
function message<T>(w: Worker, pick: (m: Record<string, unknown>) => boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>): void => {
      if (!pick(m)) return;
      cleanup();
      resolve(m as T);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`worker exited early with code ${code}`));
    };
    const cleanup = (): void => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
  });
}

/** Binds `port` on loopback with a plain dgram socket: fails if the worker's fd is still open. */
async function bindsAgain(port: number): Promise<void> {
  const s = createSocket('udp4');
  try {
    s.bind(port, '127.0.0.1');
    await Promise.race([once(s, 'listening'), once(s, 'error').then(([e]) => Promise.reject(e))]);
    expect(s.address().port).toBe(port);
  } finally {
    s.close();
  }
}

/** Sends datagrams to `port` from every turn of the event loop until stopped. */
function flood(port: number): { stop: () => Promise<void>; sent: () => number } {
  const s: Socket = createSocket('udp4');
  const payload = Buffer.alloc(200, 0x5a);
  let sent = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    for (let i = 0; i < 16; i++) s.send(payload, port, '127.0.0.1');
    sent += 16;
    setImmediate(tick);
  };
  tick();
  return {
    sent: () => sent,
    stop: async () => {
      running = false;
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

describe.skipIf(!status.available)('a worker polling a native socket', () => {
  const what = { exit: 'calls process.exit from the readiness callback', 'close-exit': 'closes the socket and calls process.exit at once', terminate: 'is terminated' };
  for (const mode of ['exit', 'close-exit', 'terminate'] as const) {
    it(`${what[mode]} while datagrams keep arriving: no crash, the port binds again (${ROUNDS} rounds)`, async () => {
      const sab = new SharedArrayBuffer(64 * 2048);
      let port = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const worker = startModuleWorker(WORKER, { workerData: { sab, port, mode, exitAfter: 50 } });
        let traffic: ReturnType<typeof flood> | undefined;
        try {
          const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
          const ready = await message<{ port: number }>(worker, (m) => typeof m.port === 'number');
          if (port === 0) port = ready.port;
          expect(ready.port).toBe(port);
          const receiving = mode === 'terminate' ? message(worker, (m) => m.receiving === true) : undefined;
          traffic = flood(port);
          if (mode === 'terminate') {
            await receiving;
            await worker.terminate();
            expect(await exited).toBe(1);
          } else {
            expect(await exited, 'the worker exits with its own code').toBe(7);
          }
          // Datagrams still arriving at the now closed port must not matter either.
          await new Promise((r) => setTimeout(r, 5));
          await traffic.stop();
          traffic = undefined;
          await bindsAgain(port);
        } finally {
          await traffic?.stop();
          await worker.terminate();
        }
      }
    });
  }
});
