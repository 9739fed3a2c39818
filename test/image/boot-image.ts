import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ImageManifest } from '../../src/image/image-manifest.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import type { InstanceMessage, InstanceWorkerData } from '../../src/runtime/instance-main.ts';
import { VirtioNetDevice } from '../../src/virtio/virtio-net-device.ts';
import { deviceEnd, type VirtioNetDeviceEnd } from '../../src/virtio/virtio-net-device-end.ts';

export const HOST = 1;
export const INSTANCE = 2;

export interface BootedImage {
  readonly worker: Worker;
  readonly pool: PacketPool;
  readonly host0: VirtioNetDeviceEnd;
  readonly host1: VirtioNetDeviceEnd;
  readonly counters: Float64Array;
  readonly bootMs: number;
  readonly ready: Extract<InstanceMessage, { type: 'ready' }>;
  stop(): Promise<{ received: number; exitCode: number }>;
}

/** Starts a built image in a plain Worker (no tsx), wired to a fresh pool and eth0/eth1 like the demo. */
export async function bootImage(imagePath: string, manifest: ImageManifest, bufferCount = 2048): Promise<BootedImage> {
  const pool = PacketPool.create({ bufferCount, owner: HOST });
  const eth0 = VirtioNetDevice.create({ queueSize: 256, driverOwner: INSTANCE, deviceOwner: HOST });
  const eth1 = VirtioNetDevice.create({ queueSize: 256, driverOwner: INSTANCE, deviceOwner: HOST });
  const countersSab = new SharedArrayBuffer(manifest.counters.length * 8);
  const stopSab = new SharedArrayBuffer(4);
  const workerData: InstanceWorkerData = { poolSab: pool.sab, eth0Sab: eth0.sab, eth1Sab: eth1.sab, countersSab, stopSab, owner: INSTANCE };
  const messages: InstanceMessage[] = [];
  const waiters: Array<() => void> = [];
  const started = performance.now();
  // execArgv: [] — an image is plain JS; without it the worker inherits the host's tsx loader (~75 ms).
  const worker = new Worker(imagePath, { workerData, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: manifest.memoryMiB } });
  let failure: unknown;
  worker.on('message', (m: InstanceMessage) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  worker.on('error', (err) => {
    failure = err;
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = async <T extends InstanceMessage['type']>(type: T): Promise<Extract<InstanceMessage, { type: T }>> => {
    for (;;) {
      const found = messages.find((m) => m.type === type);
      if (found) return found as Extract<InstanceMessage, { type: T }>;
      if (failure !== undefined) throw failure;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const ready = await waitFor('ready');
  const bootMs = performance.now() - started;
  const host0 = deviceEnd(eth0, pool);
  const host1 = deviceEnd(eth1, pool);
  const exited = once(worker, 'exit') as Promise<[number]>;
  return {
    worker,
    pool,
    host0,
    host1,
    counters: new Float64Array(countersSab),
    bootMs,
    ready,
    async stop() {
      Atomics.store(new Int32Array(stopSab), 0, 1);
      await waitFor('closing');
      host0.returnRx();
      host1.returnRx();
      const stopped = await waitFor('stopped');
      const [exitCode] = await exited;
      return { received: stopped.received, exitCode };
    },
  };
}
