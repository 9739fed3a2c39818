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
 *
 * Start-up is split so that a warm isolate (`WarmPool`) can do the expensive part before
 * any instance is asked for: when it preloads an image, the image hands it a
 * `PreloadedImage` whose `prepare()` builds the pipeline (its tables: conntrack, Maglev,
 * decision trees, all from the configuration sealed in the image) on counter memory of its
 * own and rehearses the shared-memory wiring on scratch memory, so that the instance's
 * start-up code is compiled too. Booting it then only attaches the pool and the devices,
 * stocks the receive queues and says `ready`.
 */
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type * as LocalPortsModule from '../dataplane/ports/local-ports.ts';
import type * as DirectLinkModule from '../dataplane/links/direct-link.ts';
import type { DirectLinksData } from '../dataplane/links/direct-link.ts';
import type { LocalPorts, LocalPortsSpec } from '../dataplane/ports/local-ports.ts';
import { SharedLayoutError } from '../errors/catalog.ts';
import type { PipelineInstance, PipelineModule, StateTakeover } from '../pipeline/compiled-pipeline.ts';
import { PoolHandle } from '../pool/pool-handle.ts';
import { Doorbell } from '../virtio/doorbell.ts';
import { VirtioNetDevice, type VirtioNetDriverEnd } from '../virtio/virtio-net-device.ts';
import { InstanceLoop } from './instance-loop.ts';
import { PacketTracer } from '../trace/packet-tracer.ts';
import { TRACE_AREA_BYTES } from '../trace/trace-layout.ts';

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
  /** Optional int32 interrupt line the host rings for either receiveq (the loop sleeps on it). */
  readonly irqSab?: SharedArrayBuffer;
  /** Int32 index of the interrupt line in `irqSab` (default 0; a lane's line in the link area for direct links). */
  readonly irqIndex?: number;
  /** Optional int32 interrupt line of the host, rung when a transmit rings the device (the host sleeps on it). */
  readonly hostIrqSab?: SharedArrayBuffer;
  /** In an instance process: the pipe the host's loop reads, written once per ring of `hostIrqSab`. */
  readonly hostIrqFd?: number;
  /** Optional loop-statistics block (`src/metrics/loop-stats.ts`): batches, busy time, batch-time histogram. */
  readonly loopStatsSab?: SharedArrayBuffer;
  /** Optional trace area (`TRACE_AREA_BYTES`, `src/trace/trace-layout.ts`): while its session word is set, batches run the pipeline's tracing variant. */
  readonly traceSab?: SharedArrayBuffer;
  /** Optional shard of resources the function's instances must not share (`PipelineRuntime.shard`). */
  readonly shard?: { readonly index: number; readonly count: number };
  /** The chain's ends placed in this instance: it imports `bundle` (the port runtime) and opens them itself. */
  readonly ports?: InstancePortsData;
  /** Direct links to the adjacent stages' instances: it imports `bundle` (the direct-link runtime) and links its direct sides through it. */
  readonly links?: InstanceLinksData;
  /** Optional int32 per `SANDBOX_REASONS`: the sandbox of an instance process counts denied calls here. */
  readonly sandboxSab?: SharedArrayBuffer;
  /** Host memory (`manifest.stateBytes`) the pipeline keeps its connection state in (`PipelineInstance.attachState`). */
  readonly stateSab?: SharedArrayBuffer;
  /** The state of a failed instance of the same image, which this one takes over before `ready`. */
  readonly previousStateSab?: SharedArrayBuffer;
}

/** See `InstanceWorkerData.ports`. */
export interface InstancePortsData {
  /** Absolute path of the port runtime (`portRuntimePath()`). */
  readonly bundle: string;
  readonly spec: LocalPortsSpec;
  /** `LOCAL_PORT_COUNTERS` float64 slots the ports count in. */
  readonly countersSab: SharedArrayBuffer;
}

/** See `InstanceWorkerData.links`. */
export interface InstanceLinksData {
  /** Absolute path of the direct-link runtime (`directLinkRuntimePath()`). */
  readonly bundle: string;
  readonly data: DirectLinksData;
}

/**
 * How long an idle instance keeps polling (beyond the loop's `IDLE_SPINS` empty passes) before it
 * sleeps on its interrupt, ms. Zero: with more busy threads than cores a spinning instance
 * takes the core the next hop needs. Measured on the 2-vCPU VM (bench http, 10 connections,
 * closed loop): 0.5 ms → 1.6k req/s, 0.05 → 6.4k, 0.01 → 7.4k, 0 → 7.8k; bench chain
 * fw → lb → NAT 0.20 → 0.46 Mpps with 0.2 → 0 (and the shared interrupt).
 */
export const INSTANCE_SPIN_MS = 0;

/**
 * `Symbol.for` key of the global under which a warm isolate's bootstrap leaves the
 * `InstanceWorkerData` of the image it is about to import (its `workerData` was fixed when
 * the isolate was created), or a registrar function while it preloads an image (see
 * `startInstanceIfBooted` and `WarmPool`).
 */
export const WARM_BOOT_KEY = 'nfvkit.warmBoot';

/**
 * `Symbol.for` key of the global under which an instance process's bootstrap
 * (`src/runtime/instance-process.ts`) leaves a `ProcessBoot` before it imports the image.
 */
export const PROCESS_BOOT_KEY = 'nfvkit.processBoot';

/** Where a preloaded image in an instance process sends its messages, and its sandbox step (`PreloadedImage.boot`). */
export interface ProcessVia {
  readonly port: Pick<MessagePort, 'postMessage'>;
  readonly beforeReady: (() => void) | undefined;
}

/**
 * What an instance process's bootstrap hands the image (see `PROCESS_BOOT_KEY`); while it
 * preloads an image, a registrar the image calls with its `PreloadedImage` instead.
 */
export interface ProcessBoot {
  /** The instance's data, its buffers mapped from the data plane's memfd. */
  readonly data: InstanceWorkerData;
  /** Where the instance's messages go (a blocking write to the host's pipe). */
  readonly port: Pick<MessagePort, 'postMessage'>;
  /** Run right before `ready`, after everything needing files or sockets is open (the sandbox). */
  readonly beforeReady: (() => void) | undefined;
}

/**
 * Milliseconds on the monotonic clock all threads of the process share (`process.hrtime`),
 * sub-millisecond. Used for start-up marks, so that the host can set an instance's marks
 * against its own; unlike `performance`, it costs nothing on first use in a new isolate
 * (`performance` is loaded lazily, ~1 ms).
 *
 * @example
 * ```ts
 * const t0 = monotonicMs(); // … later, in any thread: monotonicMs() - t0
 * ```
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

/**
 * Where an instance's start-up time went, measured inside its isolate. Times are
 * `monotonicMs()`, so the host can set them against its own clock: host post →
 * `startedAt` is the message delivery (plus the isolate start and image import when they
 * happen then), `readyAt` → host is the way back.
 *
 * @example
 * ```ts
 * const host = await warm.acquire({ imagePath, manifest, pool, owner: 10, onEvent: (e) => {
 *   if (e.type === 'ready' && e.startup) console.log(e.startup.prepared, e.startup.attachMs, monotonicMs() - e.startup.readyAt);
 * } });
 * ```
 */
export interface InstanceStartup {
  /** When `runInstance` began. */
  readonly startedAt: number;
  /** Pool and both devices attached (driver ends made), ms. */
  readonly attachMs: number;
  /** `createPipeline` (tables built from the sealed configuration), ms; 0 when prepared. */
  readonly pipelineMs: number;
  /** Instance loop made and both receive queues stocked, ms (the sandbox not included). */
  readonly refillMs: number;
  /** Entering the sandbox (an instance process, right before `ready`; 0 elsewhere), ms. */
  readonly sandboxMs: number;
  /** True when the pipeline was built ahead, when a warm isolate preloaded the image. */
  readonly prepared: boolean;
  /** When `ready` was posted. */
  readonly readyAt: number;
  /** What the instance took over from `previousStateSab` (absent: it was given none). */
  readonly takeover?: StateTakeover;
}

/**
 * Messages an instance posts to its host, in this order:
 * `ready` (pool and queues attached, pipeline created, receive queues stocked: 64 buffers
 * each, the rest right after `ready`),
 * `closing` (stop seen; the host should now `returnRx()` both devices),
 * `stopped` (every buffer it held is back; totals of the run).
 */
export type InstanceMessage =
  | { readonly type: 'ready'; readonly name: string; readonly counters: number; readonly startup?: InstanceStartup }
  | { readonly type: 'closing' }
  | { readonly type: 'stopped'; readonly received: number; readonly batches: number };

/** The part of a generated pipeline module an image needs (`FUNCTION_NAME` is optional). */
export type ImagePipeline = Pick<PipelineModule, 'createPipeline' | 'COUNTERS'> & { readonly FUNCTION_NAME?: string };

/**
 * What an image hands a warm isolate that preloads it (the argument of the registrar the
 * isolate leaves under `Symbol.for(WARM_BOOT_KEY)`). Used by `WarmPool`'s bootstrap.
 *
 * @example
 * ```js
 * let image;
 * globalThis[Symbol.for(WARM_BOOT_KEY)] = (x) => { image = x; };
 * await import(imageUrl);                      // hands over its PreloadedImage
 * const countersSab = image.prepare();         // → host, which passes it back as countersSab
 * // later, on the host's request: image.boot(workerData, true);
 * ```
 */
export interface PreloadedImage {
  /** Number of pipeline counters (`COUNTERS.length`). */
  readonly counterCount: number;
  /**
   * Builds the pipeline now, on `countersSab` or counter memory allocated here (returned:
   * the host must give exactly this memory to the instance as `countersSab`, then boot
   * with `prepared`),
   * and rehearses the start-up (see `rehearse`). Call at most once.
   */
  prepare(countersSab?: SharedArrayBuffer): SharedArrayBuffer;
  /**
   * Runs the instance's start-up code once on scratch memory (a small private pool and two
   * devices), so that it is compiled before an instance is asked for. No pipeline is built.
   */
  rehearse(): void;
  /**
   * Runs an instance of the image in this thread (see `runInstance`). With `prepared`, the
   * pipeline `prepare` built is used, provided `data.countersSab` is the memory `prepare`
   * returned (a `controlSab` is given to it with `setControl`; a pipeline without
   * `setControl` is then created anew); otherwise a pipeline is created as usual.
   */
  boot(data: InstanceWorkerData, prepared: boolean, via?: ProcessVia): void;
}

/** True when `data` has the shape of `InstanceWorkerData` (shared buffers and an owner id). */
export function isInstanceWorkerData(data: unknown): data is InstanceWorkerData {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return typeof d.owner === 'number' && ['poolSab', 'eth0Sab', 'eth1Sab', 'countersSab', 'stopSab'].every((k) => d[k] instanceof SharedArrayBuffer);
}

/** Throws unless `sab` holds a float64 for each of `pipeline`'s counters. */
function checkCounterMemory(sab: SharedArrayBuffer, pipeline: ImagePipeline): void {
  const count = pipeline.COUNTERS.length;
  if (sab.byteLength < count * 8) throw new SharedLayoutError(`counter memory of ${sab.byteLength} B is too small for ${count} counters`);
}

/**
 * Boots an instance when this module runs as an image in a worker whose `workerData` is an
 * `InstanceWorkerData`; otherwise does nothing (the image was imported in process, e.g. to
 * call its `createPipeline` directly). In a warm isolate whose `workerData` is not an
 * `InstanceWorkerData`, the data is taken from `globalThis[Symbol.for(WARM_BOOT_KEY)]`
 * (set by the isolate's bootstrap just before it imports the image); if that global is a
 * function instead, the isolate is preloading the image: it is called with the image's
 * `PreloadedImage`, and nothing runs now. Returns whether an instance ran.
 */
export function startInstanceIfBooted(pipeline: ImagePipeline): boolean {
  const g = globalThis as Record<symbol, unknown>;
  const processBoot = g[Symbol.for(PROCESS_BOOT_KEY)] as ProcessBoot | ((image: PreloadedImage) => void) | undefined;
  if (typeof processBoot === 'function') {
    processBoot(preloadedImage(pipeline, undefined));
    return false;
  }
  if (processBoot !== undefined) {
    delete g[Symbol.for(PROCESS_BOOT_KEY)];
    runInstance(pipeline, processBoot.data, processBoot.port, undefined, processBoot.beforeReady);
    return true;
  }
  if (isMainThread || parentPort === null) return false;
  let data: unknown = workerData;
  if (!isInstanceWorkerData(data)) {
    // A warm isolate (see `WarmPool`): its bootstrap left the data under a global symbol.
    const key = Symbol.for(WARM_BOOT_KEY);
    data = g[key];
    if (typeof data === 'function') {
      (data as (image: PreloadedImage) => void)(preloadedImage(pipeline, parentPort));
      return false;
    }
    delete g[key];
    if (!isInstanceWorkerData(data)) return false;
  }
  runInstance(pipeline, data, parentPort);
  return true;
}

function preloadedImage(pipeline: ImagePipeline, port: MessagePort | undefined): PreloadedImage {
  let ready: { counters: Float64Array; instance: PipelineInstance } | undefined;
  const rehearse = (instance?: PipelineInstance): void => rehearseStartup(pipeline, instance ?? { processBatch() {} });
  return {
    counterCount: pipeline.COUNTERS.length,
    prepare(countersSab) {
      const sab = countersSab ?? new SharedArrayBuffer(Math.max(8, pipeline.COUNTERS.length * 8));
      checkCounterMemory(sab, pipeline);
      const counters = new Float64Array(sab);
      const instance = pipeline.createPipeline({ counters });
      ready = { counters, instance };
      rehearse(instance);
      return sab;
    },
    rehearse,
    boot(data, prepared, via) {
      const built = prepared && ready !== undefined && sameMemory(ready.counters, data.countersSab) && (data.controlSab === undefined || ready.instance.setControl !== undefined) ? ready.instance : undefined;
      ready = undefined;
      const to = via?.port ?? port;
      if (to === undefined) throw new SharedLayoutError('a preloaded image booted with nowhere to send its messages');
      runInstance(pipeline, data, to, built, via?.beforeReady);
    },
  };
}

/**
 * True when `sab` is the memory `counters` views (two handles on shared memory are
 * different objects): a nonce written through one must be read through the other. Only
 * used before the instance runs, while nothing else writes the counters.
 */
function sameMemory(counters: Float64Array, sab: SharedArrayBuffer): boolean {
  if (sab.byteLength !== counters.byteLength) return false;
  const other = new Float64Array(sab);
  const nonce = Math.random() + 1;
  counters[0] = nonce;
  const same = other[0] === nonce;
  counters[0] = 0;
  return same;
}

/**
 * The instance's start-up (`startAttached`, the code a boot runs) once on scratch memory
 * (a private pool, two devices of the default 256 descriptors, the interrupt words), with
 * nowhere to post `ready`, then one idle poll: a boot then runs it compiled and warm (the
 * refill loops over full queues, as at a boot).
 */
function rehearseStartup(pipeline: ImagePipeline, instance: PipelineInstance): void {
  const word = (): SharedArrayBuffer => new SharedArrayBuffer(8 + pipeline.COUNTERS.length * 8);
  const device = (): SharedArrayBuffer => VirtioNetDevice.create({ queueSize: 256, driverOwner: 2, deviceOwner: 3 }).sab;
  const data = { poolSab: PoolHandle.scratch({ bufferCount: 1024, owner: 1 }).sab, eth0Sab: device(), eth1Sab: device(), countersSab: word(), stopSab: word(), irqSab: word(), hostIrqSab: word(), owner: 2 };
  startAttached(pipeline, data, { postMessage() {} }, instance, monotonicMs(), undefined, undefined).loop.pollOnce(0);
}

function attach(poolSab: SharedArrayBuffer, eth0Sab: SharedArrayBuffer, eth1Sab: SharedArrayBuffer, owner: number): { pool: PoolHandle; eth0: VirtioNetDriverEnd; eth1: VirtioNetDriverEnd } {
  const pool = PoolHandle.attach(poolSab, { owner });
  return { pool, eth0: VirtioNetDevice.attach(eth0Sab).driverEnd(pool), eth1: VirtioNetDevice.attach(eth1Sab).driverEnd(pool) };
}

/**
 * Runs one instance to completion in the calling thread: attach the pool and both devices,
 * create the pipeline with its counters in shared memory (unless `prepared` is given: a
 * pipeline already built on `data.countersSab`), stock the receive queues, post `ready`
 * (with the start-up times, `InstanceStartup`), poll until the stop word is set, then hand
 * back every buffer and post `stopped`. Blocks the thread (the loop sleeps on the receive
 * doorbells when idle). `beforeReady` runs right before `ready` (an instance process enters
 * its sandbox there).
 *
 * @example
 * ```ts
 * // inside a worker started on a built image:
 * runInstance({ createPipeline, COUNTERS }, workerData as InstanceWorkerData, parentPort!);
 * ```
 */
export function runInstance(
  pipeline: ImagePipeline,
  data: InstanceWorkerData,
  port: Pick<MessagePort, 'postMessage'>,
  prepared?: PipelineInstance,
  beforeReady?: () => void,
): void {
  const startedAt = monotonicMs();
  const { ports, links } = data;
  if (ports === undefined && links === undefined) {
    runAttached(pipeline, data, port, prepared, startedAt, undefined, beforeReady);
    return;
  }
  // The port and direct-link runtimes are plain JavaScript beside the images (images do not
  // carry them); a failure to load one fails the instance.
  void Promise.all([ports?.bundle, links?.bundle].map((b) => b && import(pathToFileURL(b).href))).then((modules) => {
    const [p, l] = modules as [typeof LocalPortsModule | undefined, typeof DirectLinkModule | undefined];
    runAttached(pipeline, data, port, prepared, startedAt, p?.openLocalPorts(ports!.spec, new Float64Array(ports!.countersSab), data.poolSab), beforeReady, l);
  });
}

/** The trace area the host gave, checked for size. */
function traceArea(sab: SharedArrayBuffer): Int32Array {
  if (sab.byteLength < TRACE_AREA_BYTES) throw new SharedLayoutError(`trace area of ${sab.byteLength} B is smaller than ${TRACE_AREA_BYTES} B`);
  return new Int32Array(sab, 0, TRACE_AREA_BYTES / 4);
}

/**
 * Attaches the instance, builds or takes its pipeline, makes its loop, stocks both
 * receive queues with 64 buffers each, runs `beforeReady` and posts `ready`:
 * everything a boot does before the instance can serve.
 */
function startAttached(
  pipeline: ImagePipeline,
  data: InstanceWorkerData,
  port: Pick<MessagePort, 'postMessage'>,
  prepared: PipelineInstance | undefined,
  startedAt: number,
  local: LocalPorts | undefined,
  beforeReady: (() => void) | undefined,
  linksModule?: typeof DirectLinkModule,
): { loop: InstanceLoop; pool: PoolHandle; eth0: VirtioNetDriverEnd; eth1: VirtioNetDriverEnd } {
  checkCounterMemory(data.countersSab, pipeline);
  const { pool, eth0, eth1 } = attach(data.poolSab, data.eth0Sab, data.eth1Sab, data.owner);
  const attached = monotonicMs();
  if (prepared !== undefined && data.shard !== undefined) prepared.setShard?.(data.shard);
  if (prepared !== undefined && data.controlSab !== undefined) prepared.setControl?.(new Int32Array(data.controlSab));
  const instance =
    prepared ??
    pipeline.createPipeline({
      counters: new Float64Array(data.countersSab),
      ...(data.controlSab === undefined ? {} : { control: new Int32Array(data.controlSab) }),
      ...(data.shard === undefined ? {} : { shard: data.shard }),
    });
  const took = attachState(instance, data);
  const created = monotonicMs();
  const irq = data.irqSab === undefined ? undefined : new Doorbell(new Int32Array(data.irqSab), data.irqIndex ?? 0);
  if (data.hostIrqSab !== undefined) {
    const hostIrq = new Doorbell(new Int32Array(data.hostIrqSab), 0, data.hostIrqFd);
    eth0.setTxInterrupt(hostIrq);
    eth1.setTxInterrupt(hostIrq);
  }
  const stats = data.loopStatsSab === undefined ? undefined : new Float64Array(data.loopStatsSab);
  const tracer = data.traceSab === undefined ? undefined : new PacketTracer(traceArea(data.traceSab), pool.meta.trace);
  const loop = new InstanceLoop(pool, linksModule?.linkSides(data.links!.data, pool, irq!, eth0, eth1) ?? [eth0, eth1], instance, irq, stats, local?.ports, tracer, local?.wait);
  // 64 receive buffers on each queue before `ready`, the rest right after it (`runAttached`):
  // each buffer posted cost a boot ~1 µs of CPU, ~0.5 ms for two queues of 256.
  eth0.refillRx(64);
  eth1.refillRx(64);
  const refilled = monotonicMs();
  beforeReady?.();
  const readyAt = monotonicMs();
  const startup: InstanceStartup = {
    startedAt,
    attachMs: attached - startedAt,
    pipelineMs: prepared === undefined ? created - attached : 0,
    refillMs: refilled - created,
    sandboxMs: readyAt - refilled,
    prepared: prepared !== undefined,
    readyAt,
    ...(took === undefined ? {} : { takeover: took }),
  };
  post(port, { type: 'ready', name: pipeline.FUNCTION_NAME ?? 'unknown', counters: pipeline.COUNTERS.length, startup });
  return { loop, pool, eth0, eth1 };
}

/** `startAttached`, then the rest of both receiveqs stocked, the loop until the stop word is set, then the shutdown. */
function runAttached(...args: Parameters<typeof startAttached>): void {
  const [, data, port, , , local] = args;
  const { loop, pool, eth0, eth1 } = startAttached(...args);
  eth0.refillRx();
  eth1.refillRx();
  const heartbeat = data.heartbeatSab === undefined ? undefined : new Int32Array(data.heartbeatSab, 0, 1);
  loop.run(new Int32Array(data.stopSab, 0, 1), () => performance.now(), INSTANCE_SPIN_MS, heartbeat);
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
  local?.close(pool);
  post(port, { type: 'stopped', received: loop.received, batches: loop.batches });
}

/**
 * Gives the pipeline its state memory, taking over a failed predecessor's when the host
 * passed one; returns what was taken over (undefined without a predecessor).
 */
function attachState(instance: PipelineInstance, data: InstanceWorkerData): StateTakeover | undefined {
  if (data.stateSab === undefined || instance.attachState === undefined) return undefined;
  const previous = data.previousStateSab === undefined ? undefined : new Uint8Array(data.previousStateSab);
  const took = instance.attachState(new Uint8Array(data.stateSab), previous, performance.now());
  return previous === undefined ? undefined : took;
}

function post(port: Pick<MessagePort, 'postMessage'>, message: InstanceMessage): void {
  port.postMessage(message);
}
