/**
 * Worker side of the "virtqueue" bench suite. Roles:
 * - `driver`: makes `batch` descriptors available per call and reclaims used ones, forever,
 *   publishing its completed count to ctl[CTL_DONE] every few iterations;
 * - `device`: pops up to `batch` chains per call and marks them used (no length written;
 *   with IN_ORDER one used element per batch);
 * - `pm-sender` / `pm-receiver`: the postMessage baseline, 64-byte Uint8Array per message,
 *   at most `window` messages outstanding;
 * - `spsc-producer` / `spsc-consumer`: a bare single-producer ring of u32 (no descriptors),
 *   the machine's ceiling for any shared-memory queue, to read the other figures against.
 * All roles stop when ctl[CTL_STOP] becomes 1.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SpinThenWait } from '../../src/virtio/doorbell.ts';
import { SplitRing } from '../../src/virtio/split-ring.ts';
import { VirtqueueDevice } from '../../src/virtio/virtqueue-device.ts';
import { VirtqueueDriver } from '../../src/virtio/virtqueue-driver.ts';

export const CTL_STOP = 0;
export const CTL_DONE = 1;
export const CTL_RECEIVED = 2;
export const CTL_READY = 3;

interface Params {
  role: 'driver' | 'device' | 'pm-sender' | 'pm-receiver' | 'spsc-producer' | 'spsc-consumer';
  ctl: SharedArrayBuffer;
  ring?: SharedArrayBuffer;
  batch: number;
  port?: MessagePort;
  window?: number;
}

const p = workerData as Params;
const ctl = new Int32Array(p.ctl);

function ready(): void {
  Atomics.add(ctl, CTL_READY, 1);
  Atomics.notify(ctl, CTL_READY);
}

/** Buffers the driver cycles through: 1024 distinct 2176-byte buffers, one descriptor each. */
const BUFFERS = 1024;

function runDriver(): object {
  const ring = SplitRing.attach(p.ring!, 0);
  const drv = new VirtqueueDriver(ring);
  const b = p.batch;
  // The buffers' addresses and lengths, laid out once; batch k posts the window starting
  // at (k * b) mod 1024, so every descriptor carries a different buffer than the last
  // time round. Tokens are not needed: completions are only counted.
  const addrs = new Float64Array(BUFFERS);
  const lens = new Uint32Array(BUFFERS).fill(64);
  for (let i = 0; i < BUFFERS; i++) addrs[i] = 4096 + i * 2176;
  const backoff = new SpinThenWait(20000);
  let from = 0;
  let done = 0;
  let iter = 0;
  ready();
  while (Atomics.load(ctl, CTL_STOP) === 0) {
    const r = drv.reclaim(null, null, ring.queueSize);
    done += r;
    let added = 0;
    if (drv.freeDescriptors >= b) {
      added = drv.addBatch(addrs, lens, null, b, false, from);
      from = (from + added) & (BUFFERS - 1);
    }
    if ((++iter & 15) === 0) Atomics.store(ctl, CTL_DONE, done | 0);
    if (r > 0 || added > 0) backoff.busy();
    else if (backoff.idle()) drv.waitForUsed(5);
  }
  return { done, kicks: drv.notificationsSent, sleeps: drv.sleeps };
}

function runDevice(): object {
  const ring = SplitRing.attach(p.ring!, 0);
  const dev = new VirtqueueDevice(ring);
  const b = p.batch;
  const heads = new Uint16Array(b);
  const addrs = new Float64Array(b);
  const lens = new Uint32Array(b);
  const backoff = new SpinThenWait(20000);
  ready();
  while (Atomics.load(ctl, CTL_STOP) === 0) {
    const n = dev.pop(heads, addrs, lens, b);
    if (n > 0) {
      dev.pushBatch(heads, null, n);
      backoff.busy();
    } else if (backoff.idle()) dev.waitForAvail(5);
  }
  return { kicks: dev.notificationsSent, sleeps: dev.sleeps };
}

function runSender(): Promise<object> {
  const port = p.port!;
  const win = p.window ?? 1024;
  const msg = new Uint8Array(64);
  let sent = 0;
  ready();
  return new Promise((resolve) => {
    const pump = (): void => {
      while (Atomics.load(ctl, CTL_STOP) === 0) {
        const received = Atomics.load(ctl, CTL_RECEIVED);
        if (sent - received >= win) {
          Atomics.wait(ctl, CTL_RECEIVED, received, 5);
          continue;
        }
        msg[0] = sent & 0xff;
        port.postMessage(msg);
        sent++;
        if ((sent & 4095) === 0) {
          setImmediate(pump);
          return;
        }
      }
      resolve({ sent });
    };
    pump();
  });
}

function runReceiver(): Promise<object> {
  const port = p.port!;
  let received = 0;
  return new Promise((resolve) => {
    port.on('message', (m: Uint8Array) => {
      if (m.length !== 64) throw new Error('bad message');
      received++;
      Atomics.store(ctl, CTL_RECEIVED, received);
      if ((received & 63) === 0) Atomics.notify(ctl, CTL_RECEIVED);
    });
    const check = setInterval(() => {
      if (Atomics.load(ctl, CTL_STOP) !== 0) {
        clearInterval(check);
        port.close();
        resolve({ received });
      }
    }, 10);
    ready();
  });
}

const SPSC_SIZE = 256;
const SPSC_HEAD = 16;
const SPSC_TAIL = 32;
const SPSC_DATA = 64;

function runSpsc(producer: boolean): object {
  const u32 = new Uint32Array(p.ring!);
  const b = p.batch;
  const mask = SPSC_SIZE - 1;
  const backoff = new SpinThenWait(20000);
  let n = 0;
  let iter = 0;
  let sum = 0;
  ready();
  while (Atomics.load(ctl, CTL_STOP) === 0) {
    let moved = 0;
    if (producer) {
      const tail = Atomics.load(u32, SPSC_TAIL);
      if (((n - tail) >>> 0) + b <= SPSC_SIZE) {
        for (let i = 0; i < b; i++) u32[SPSC_DATA + ((n + i) & mask)] = n + i;
        n = (n + b) >>> 0;
        Atomics.store(u32, SPSC_HEAD, n);
        moved = b;
      }
    } else {
      let k = (Atomics.load(u32, SPSC_HEAD) - n) >>> 0;
      if (k > b) k = b;
      for (let i = 0; i < k; i++) sum += u32[SPSC_DATA + ((n + i) & mask)];
      if (k > 0) {
        n = (n + k) >>> 0;
        Atomics.store(u32, SPSC_TAIL, n);
        if ((++iter & 15) === 0) Atomics.store(ctl, CTL_DONE, n | 0);
        moved = k;
      }
    }
    if (moved > 0) backoff.busy();
    else if (backoff.idle()) Atomics.wait(ctl, CTL_STOP, 0, 1);
  }
  return { moved: n, sum };
}

const result =
  p.role === 'driver'
    ? runDriver()
    : p.role === 'device'
      ? runDevice()
      : p.role === 'spsc-producer' || p.role === 'spsc-consumer'
        ? runSpsc(p.role === 'spsc-producer')
        : p.role === 'pm-sender'
          ? await runSender()
          : await runReceiver();
parentPort!.postMessage(result);
