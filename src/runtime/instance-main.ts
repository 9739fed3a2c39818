/**
 * The entry code of an image: what runs inside the worker isolate an image is booted in.
 * An image's bundle is `pipeline.mjs` (generated) + this module + the library modules both
 * import; its entry, written by the image builder, is three lines:
 *
 * ```js
 * import { createPipeline, COUNTERS, FUNCTION_NAME } from 'nfvkit-image:pipeline.mjs';
 * import { startInstanceIfBooted } from '#nfvkit/runtime/instance-main.ts';
 * startInstanceIfBooted({ createPipeline, COUNTERS, FUNCTION_NAME });
 * ```
 *
 * and it re-exports the pipeline, so the same bytes can also be imported in process.
 *
 * The host starts an image with a plain `new Worker(imagePath, { workerData, execArgv: [],
 * resourceLimits: { maxOldGenerationSizeMb: manifest.memoryMiB } })`: no tsx is needed, and
 * `execArgv: []` keeps a host that runs under tsx from loading its loader into the instance
 * (which triples the boot time).
 */
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SharedLayoutError } from '../errors/catalog.ts';
import type { PipelineModule } from '../pipeline/compiled-pipeline.ts';
import { PacketPool } from '../pool/packet-pool.ts';
import { VirtioNetDevice } from '../virtio/virtio-net-device.ts';
import { InstanceLoop } from './instance-loop.ts';

/**
 * What the host hands an instance worker (`new Worker(image, { workerData })`). Every
 * buffer is shared memory the host created; the instance attaches to it.
 */
export interface InstanceWorkerData {
  /** The packet pool (`PacketPool.sab`). */
  readonly poolSab: SharedArrayBuffer;
  /** Device `eth0`, the inside (`VirtioNetDevice.sab`); the instance is its driver. */
  readonly eth0Sab: SharedArrayBuffer;
  /** Device `eth1`, the outside. */
  readonly eth1Sab: SharedArrayBuffer;
  /** One float64 per pipeline counter (`manifest.counters.length * 8` bytes at least). */
  readonly countersSab: SharedArrayBuffer;
  /** One int32: the host stores non-zero to stop the instance. */
  readonly stopSab: SharedArrayBuffer;
  /** Optional control words for the pipeline (`PipelineRuntime.control`). */
  readonly controlSab?: SharedArrayBuffer;
  /** Pool owner id of the instance (the devices' driver owner). */
  readonly owner: number;
  /** Optional int32 the instance loop increments on every pass (a liveness heartbeat). */
  readonly heartbeatSab?: SharedArrayBuffer;
}

/**
 * `Symbol.for` key of the global under which a warm isolate's bootstrap leaves the
 * `InstanceWorkerData` of the image it is about to import (its `workerData` was fixed when
 * the isolate was created), or a registrar function while it preloads an image (see
 * `startInstanceIfBooted` and `WarmPool`).
 */
export const WARM_BOOT_KEY = 'nfvkit.warmBoot';

/**
 * Messages an instance posts to its host, in this order:
 * `ready` (pool and queues attached, pipeline created, receive queues stocked),
 * `closing` (stop seen; the host should now `returnRx()` both devices),
 * `stopped` (every buffer it held is back; totals of the run).
 */
export type InstanceMessage =
  | { readonly type: 'ready'; readonly name: string; readonly counters: number }
  | { readonly type: 'closing' }
  | { readonly type: 'stopped'; readonly received: number; readonly batches: number };

/** The part of a generated pipeline module an image needs (`FUNCTION_NAME` is optional). */
export type ImagePipeline = Pick<PipelineModule, 'createPipeline' | 'COUNTERS'> & { readonly FUNCTION_NAME?: string };

/** True when `data` has the shape of `InstanceWorkerData` (shared buffers and an owner id). */
export function isInstanceWorkerData(data: unknown): data is InstanceWorkerData {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return (
    d.poolSab instanceof SharedArrayBuffer &&
    d.eth0Sab instanceof SharedArrayBuffer &&
    d.eth1Sab instanceof SharedArrayBuffer &&
    d.countersSab instanceof SharedArrayBuffer &&
    d.stopSab instanceof SharedArrayBuffer &&
    typeof d.owner === 'number'
  );
}

/**
 * Boots an instance when this module runs as an image in a worker whose `workerData` is an
 * `InstanceWorkerData`; otherwise does nothing (the image was imported in process, e.g. to
 * call its `createPipeline` directly). In a warm isolate whose `workerData` is not an
 * `InstanceWorkerData`, the data is taken from `globalThis[Symbol.for(WARM_BOOT_KEY)]`
 * (set by the isolate's bootstrap just before it imports the image); if that global is a
 * function instead, the isolate is preloading the image: it is called with a function that
 * boots this image's instance later (`boot(data)`), and nothing runs now. Returns whether it ran.
 */
export function startInstanceIfBooted(pipeline: ImagePipeline): boolean {
  if (isMainThread || parentPort === null) return false;
  let data: unknown = workerData;
  if (!isInstanceWorkerData(data)) {
    // A warm isolate (see `WarmPool`): its bootstrap left the data under a global symbol.
    const key = Symbol.for(WARM_BOOT_KEY);
    const g = globalThis as Record<symbol, unknown>;
    data = g[key];
    const port = parentPort;
    if (typeof data === 'function') {
      // A warm isolate preloading this image: hand it the boot function for later.
      (data as (boot: (d: InstanceWorkerData) => void) => void)((d) => runInstance(pipeline, d, port));
      return false;
    }
    delete g[key];
    if (!isInstanceWorkerData(data)) return false;
  }
  runInstance(pipeline, data, parentPort);
  return true;
}

/**
 * Runs one instance to completion in the calling thread: attach the pool and both devices,
 * create the pipeline with its counters in shared memory, stock the receive queues, post
 * `ready`, poll until the stop word is set, then hand back every buffer and post `stopped`.
 * Blocks the thread (the loop sleeps on the receive doorbells when idle).
 *
 * @example
 * ```ts
 * // inside a worker started on a built image:
 * runInstance({ createPipeline, COUNTERS }, workerData as InstanceWorkerData, parentPort!);
 * ```
 */
export function runInstance(pipeline: ImagePipeline, data: InstanceWorkerData, port: Pick<MessagePort, 'postMessage'>): void {
  const need = pipeline.COUNTERS.length * 8;
  if (data.countersSab.byteLength < need) {
    throw new SharedLayoutError(`counter memory of ${data.countersSab.byteLength} B is too small for ${pipeline.COUNTERS.length} counters (${need} B)`);
  }
  const pool = PacketPool.attach(data.poolSab, { owner: data.owner });
  const eth0 = VirtioNetDevice.attach(data.eth0Sab).driverEnd(pool);
  const eth1 = VirtioNetDevice.attach(data.eth1Sab).driverEnd(pool);
  const instance = pipeline.createPipeline(
    data.controlSab === undefined
      ? { counters: new Float64Array(data.countersSab) }
      : { counters: new Float64Array(data.countersSab), control: new Int32Array(data.controlSab) },
  );
  const loop = new InstanceLoop(pool, [eth0, eth1], instance);
  eth0.refillRx();
  eth1.refillRx();
  post(port, { type: 'ready', name: pipeline.FUNCTION_NAME ?? 'unknown', counters: pipeline.COUNTERS.length });

  const heartbeat = data.heartbeatSab === undefined ? undefined : new Int32Array(data.heartbeatSab, 0, 1);
  loop.run(new Int32Array(data.stopSab, 0, 1), () => performance.now(), 0.2, heartbeat);

  // Shutdown: stop refilling, let the host hand back the posted receive buffers, free them.
  eth0.close();
  eth1.close();
  post(port, { type: 'closing' });
  const deadline = performance.now() + 2000;
  const scratch = new Uint32Array(256);
  while ((eth0.rxq.chainsInFlight > 0 || eth1.rxq.chainsInFlight > 0) && performance.now() < deadline) {
    let n = eth0.receive(scratch, scratch.length);
    if (n > 0) pool.freeBatch(scratch, n);
    n = eth1.receive(scratch, scratch.length);
    if (n > 0) pool.freeBatch(scratch, n);
  }
  eth0.reclaimTx();
  eth1.reclaimTx();
  post(port, { type: 'stopped', received: loop.received, batches: loop.batches });
}

function post(port: Pick<MessagePort, 'postMessage'>, message: InstanceMessage): void {
  port.postMessage(message);
}
