import type { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { HEAP_MEMORY, type MemfdMemory, type SharedMemory } from '../memory/shared-memory.ts';
import { SANDBOX_REASONS } from './sandbox-reasons.ts';
import { INSTANCE_BOOT_GATE } from './boot-gate.ts';
import { ProcessIsolate, type ProcessSandbox } from './process-isolate.ts';
import type { ImageManifest } from '../image/image-manifest.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import { VirtioNetDevice } from '../virtio/virtio-net-device.ts';
import type { InstanceLinksData, InstanceMessage, InstancePortsData, InstanceStartup, InstanceWorkerData } from './instance-main.ts';
import { createLoopStats } from '../metrics/loop-stats.ts';
import { TRACE_AREA_BYTES } from '../trace/trace-layout.ts';
import type { InstanceShard } from '../pipeline/compiled-pipeline.ts';
import { Doorbell } from '../virtio/doorbell.ts';
import { deviceEnd, type VirtioNetDeviceEnd } from '../virtio/virtio-net-device-end.ts';

/** Why an instance was declared failed. */
export type InstanceFailureReason =
  /** The instance threw (worker `error` event). */
  | 'crashed'
  /** It exceeded its image's memory limit (`ERR_WORKER_OUT_OF_MEMORY`). */
  | 'out-of-memory'
  /** Its loop heartbeat did not move for `hangTimeoutMs` (or a stop did not finish). */
  | 'hung'
  /** It did not post `ready` within `bootTimeoutMs`. */
  | 'boot-timeout'
  /** Its thread ended without the shutdown protocol. */
  | 'exited'
  /** It broke the ring or buffer protocol: the host found a bad index, descriptor or ownership word (`fault`). */
  | 'protocol-violation'
  /** It held the pool lock past the pool's lock timeout; the host took the lock back (`fault`). */
  | 'lock-held';

/** Lifecycle events of an instance, in order of occurrence (`InstanceHost.events`). */
export type InstanceEvent =
  /** The isolate is running (worker `online`); `ms` since spawn. */
  | { readonly type: 'booted'; readonly ms: number }
  /** The instance posted `ready`; `bootMs` from spawn to ready; where its start-up time went. */
  | { readonly type: 'ready'; readonly bootMs: number; readonly startup?: InstanceStartup }
  /** The instance failed, was terminated and its buffers went back to the pool (`reclaimed`). */
  | { readonly type: 'failed'; readonly reason: InstanceFailureReason; readonly detail: string; readonly reclaimed: number }
  /** Clean shutdown finished; `received` packets over the run, `discarded` left in transmitqs. */
  | { readonly type: 'stopped'; readonly received: number; readonly discarded: number };

/** Lifecycle state of an `InstanceHost`. */
export type InstanceState = 'booting' | 'running' | 'stopping' | 'stopped' | 'failed';

/**
 * Where an instance runs: a worker thread (`Worker`) or its own process (`ProcessIsolate`),
 * both seen through these events: `online`, `message` (an `InstanceMessage`), `error`
 * (`code` `ERR_WORKER_OUT_OF_MEMORY` for a heap limit), `exit` (code).
 */
export interface InstanceIsolate extends Pick<EventEmitter, 'on' | 'once'> {
  /** Ends it at once; resolves once it is gone. */
  terminate(): Promise<unknown>;
  /** True when it was started ahead, idle, before this instance (a warm pool's): booted at once. */
  readonly prestarted?: boolean;
}

/** Starts the isolate of an instance (a cold worker by default; `WarmPool` and `processSpawner` pass their own). */
export type InstanceSpawner = (imagePath: string, workerData: InstanceWorkerData, memoryMiB: number) => InstanceIsolate;

/**
 * Starts each instance as its own OS process (see `ProcessIsolate`) mapping `memory`, the
 * data plane's memfd; with `sandbox`, the process enters the sandbox before `ready`.
 */
export function processSpawner(memory: MemfdMemory, bootstrap: string, sandbox: ProcessSandbox): InstanceSpawner {
  return (imagePath, workerData, memoryMiB) => {
    const isolate = new ProcessIsolate(memoryMiB, bootstrap, memory);
    isolate.boot(imagePath, workerData, memory, sandbox);
    return isolate;
  };
}

/** Options of `InstanceHost.boot`. */
export interface InstanceHostOptions {
  /** Absolute path of the sealed `image.mjs`. */
  readonly imagePath: string;
  /** The image's manifest (its counters and memory limit are used). */
  readonly manifest: Pick<ImageManifest, 'counters' | 'memoryMiB'>;
  /** The shared packet pool. */
  readonly pool: PacketPool;
  /**
   * Where the instance's devices, counters and wait words are allocated (default: the
   * heap, for worker threads). Must be the pool's memory when the instance is a process.
   */
  readonly memory?: SharedMemory;
  /** Pool owner id of the instance (driver ends); unique among live instances. */
  readonly owner: number;
  /** Pool owner id of the host's device ends of this instance (default `owner + 1`); unique too. */
  readonly deviceOwner?: number;
  /** Virtqueue size of eth0 and eth1 (default 256). */
  readonly queueSize?: number;
  /** Optional control words for the pipeline. */
  readonly controlSab?: SharedArrayBuffer;
  /** The instance's shard of resources its function's instances must not share (`PipelineRuntime.shard`). */
  readonly shard?: InstanceShard;
  /** The host's interrupt line (one int32), rung when the instance transmits and the host asked (`armTx`). */
  readonly hostIrqSab?: SharedArrayBuffer;
  /**
   * The instance's interrupt line, when it is not its own word: Int32 `index` of `sab` (an
   * instance with direct links sleeps on its lane's line in the link area, which its peers
   * ring too). Default: a word allocated for it.
   */
  readonly irq?: { readonly sab: SharedArrayBuffer; readonly index: number };
  /** Direct links of the instance (`InstanceWorkerData.links`). */
  readonly links?: InstanceLinksData;
  /**
   * Counter memory the instance writes (default: a new zeroed buffer, one float64 per
   * counter). `WarmPool` passes the memory a preloaded image's pipeline was built on.
   */
  readonly countersSab?: SharedArrayBuffer;
  /** The chain's ends placed in the instance (it opens them itself; see `InstanceWorkerData.ports`). */
  readonly ports?: InstancePortsData;
  /**
   * The instance's sandbox counters (`sandboxCounters`, `SANDBOX_REASONS.length` words) when
   * allocated ahead in `memory` (a warm process pool arms the process with them before the
   * devices are built); the instance owns them from then on. Default: allocated here.
   */
  readonly sandboxSab?: SharedArrayBuffer;
  /** Host memory the pipeline keeps its connection state in (`InstanceWorkerData.stateSab`). */
  readonly stateSab?: SharedArrayBuffer;
  /** A failed instance's state for this one to take over (`InstanceWorkerData.previousStateSab`). */
  readonly previousStateSab?: SharedArrayBuffer;
  /** A running instance whose heartbeat stalls this long is `hung` (default 1000 ms). */
  readonly hangTimeoutMs?: number;
  /** No `ready` within this is `boot-timeout` (default 10000 ms). */
  readonly bootTimeoutMs?: number;
  /** How the isolate is started (default: a cold `Worker`, see `coldSpawn`). */
  readonly spawn?: InstanceSpawner;
  /** The isolate `spawn` returns is already running (a warm pool's): `booted` is recorded at once. */
  readonly warm?: boolean;
  /** Called for every lifecycle event, after it is recorded. */
  readonly onEvent?: (event: InstanceEvent) => void;
}

/**
 * Young-generation limit of an instance isolate, MiB. Instance code does not allocate per
 * packet, so a small nursery costs nothing on the data path and saves ~2 MiB of RSS per
 * idle instance (bench `boot`: 10.9 → 8.9 MiB).
 */
export const INSTANCE_YOUNG_GENERATION_MIB = 2;

/** The resource limits of an instance isolate whose image asks for `memoryMiB`. */
export function instanceResourceLimits(memoryMiB: number): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } {
  return { maxOldGenerationSizeMb: memoryMiB, maxYoungGenerationSizeMb: INSTANCE_YOUNG_GENERATION_MIB };
}

/**
 * Cold start: a new isolate on the image with its memory limit. `execArgv: []` keeps a host
 * that runs under tsx from loading its loader into the instance (which triples boot time).
 */
export function coldSpawn(imagePath: string, workerData: InstanceWorkerData, memoryMiB: number): Worker {
  return new Worker(imagePath, { workerData, execArgv: [], resourceLimits: instanceResourceLimits(memoryMiB) });
}

/**
 * Supervises one image instance: creates its two devices (`eth0` inside, `eth1` outside),
 * starts its isolate, measures boot (spawn → `ready`), watches it, and stops it.
 *
 * **Containment.** A crash (`error`), an out-of-memory kill, a stalled heartbeat (the instance
 * loop bumps a shared word every pass; the host samples it), a missed boot deadline or an
 * unexpected exit marks the instance `failed` with that reason: the worker is terminated, the
 * pool lock is released if it died holding it, and every buffer owned by the instance or by
 * this host's device ends is freed (`PacketPool.reclaimOwner`), so the pool's `leakCheck()`
 * is clean and other instances on the same pool keep running.
 *
 * The host feeds `eth0`/`eth1` through the device ends (`deliverRx`, `pollTx`) using `pool`,
 * the handle acting for `deviceOwner`. Check `state === 'running'` before touching the device
 * ends after an `await`: once failed, the rings are dead and their buffers are back in the
 * pool; buffers polled from them must not be kept across an `await`.
 *
 * @example
 * ```ts
 * const host = await InstanceHost.boot({ imagePath, manifest, pool, owner: 10 });
 * if (host.state !== 'running') throw new Error(host.failure?.reason);
 * const ids = new Uint32Array(32);
 * const n = host.pool.allocBatch(ids, Math.min(32, host.eth0.rxRoom()));
 * // … copyIn frames …
 * host.eth0.deliverRx(ids, n);
 * await host.stop();
 * ```
 */
export class InstanceHost {
  /** Lifecycle events so far. */
  readonly events: InstanceEvent[] = [];
  /** Pool handle acting for `deviceOwner`: allocate frames to deliver with it. */
  readonly pool: PacketPool;
  /** Host (device) end of eth0, the inside. */
  readonly eth0: VirtioNetDeviceEnd;
  /** Host (device) end of eth1, the outside. */
  readonly eth1: VirtioNetDeviceEnd;
  /** The pipeline's counters (shared memory the instance writes). */
  readonly counters: Float64Array;
  /** The instance loop's batch count, busy time and batch-time histogram (`src/metrics/loop-stats.ts`). */
  readonly loopStats: Float64Array;
  /**
   * The instance's trace area (`src/trace/trace-layout.ts`): the host starts and stops a
   * trace session in it and reads the records the instance writes (never trusting them).
   */
  readonly traceArea: Int32Array;
  readonly owner: number;
  readonly deviceOwner: number;
  /** Denied calls of a sandboxed instance process, one word per `SANDBOX_REASONS` entry. */
  readonly sandboxCounters: Int32Array;
  /** The instance's isolate (a worker thread or a process). */
  readonly worker: InstanceIsolate;
  state: InstanceState = 'booting';
  /** Spawn → `ready`, ms (NaN until ready). */
  bootMs = Number.NaN;
  /** Set when `state` is `failed`. */
  failure: { readonly reason: InstanceFailureReason; readonly detail: string } | undefined;

  private readonly stopWord: Int32Array;
  /** The instance's interrupt line (both receiveqs): rung on stop too, so an idle loop sees the stop word at once. */
  private readonly irq: Doorbell;
  private readonly heartbeat: Int32Array;
  private readonly hangTimeoutMs: number;
  private readonly onEvent: ((event: InstanceEvent) => void) | undefined;
  private readonly spawnedAt: number;
  private readonly exited: Promise<void>;
  private contained = false;
  private readonly waiters: Array<() => void> = [];
  private readonly seen = new Set<InstanceMessage['type']>();
  private stoppedMessage: Extract<InstanceMessage, { type: 'stopped' }> | undefined;
  private bootTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  private lastBeatAt = 0;
  private containing: Promise<void> | undefined;
  private readonly memory: SharedMemory;
  /** Shared buffers allocated for this instance, released once it is gone. */
  private readonly allocated: SharedArrayBuffer[] = [];

  private constructor(opts: InstanceHostOptions) {
    const deviceOwner = opts.deviceOwner ?? opts.owner + 1;
    if (deviceOwner === opts.owner || deviceOwner === opts.pool.ownerId || opts.owner === opts.pool.ownerId) {
      throw new InvalidArgumentError(`instance owner ${opts.owner}, device owner ${deviceOwner} and the pool handle's owner ${opts.pool.ownerId} must differ`);
    }
    this.owner = opts.owner;
    this.deviceOwner = deviceOwner;
    this.hangTimeoutMs = opts.hangTimeoutMs ?? 1000;
    this.onEvent = opts.onEvent;
    this.pool = opts.pool.withOwner(deviceOwner);
    const queueSize = opts.queueSize ?? 256;
    const memory = (this.memory = opts.memory ?? HEAP_MEMORY);
    const allocate = (bytes: number): SharedArrayBuffer => {
      const sab = memory.allocate(bytes);
      this.allocated.push(sab);
      return sab;
    };
    const dev0 = VirtioNetDevice.create({ queueSize, driverOwner: opts.owner, deviceOwner, allocate });
    const dev1 = VirtioNetDevice.create({ queueSize, driverOwner: opts.owner, deviceOwner, allocate });
    const countersSab = opts.countersSab ?? allocate(Math.max(8, opts.manifest.counters.length * 8));
    if (countersSab.byteLength < opts.manifest.counters.length * 8) {
      throw new InvalidArgumentError(`counter memory of ${countersSab.byteLength} B is too small for ${opts.manifest.counters.length} counters`);
    }
    const stopSab = allocate(4);
    const heartbeatSab = allocate(4);
    const irqSab = opts.irq?.sab ?? allocate(4);
    const irqIndex = opts.irq?.index ?? 0;
    if (opts.sandboxSab !== undefined && opts.sandboxSab.byteLength < SANDBOX_REASONS.length * 4) {
      throw new InvalidArgumentError(`sandbox counters of ${opts.sandboxSab.byteLength} B are too small for ${SANDBOX_REASONS.length} reasons`);
    }
    if (opts.sandboxSab !== undefined) this.allocated.push(opts.sandboxSab);
    const sandboxSab = opts.sandboxSab ?? allocate(SANDBOX_REASONS.length * 4);
    this.loopStats = createLoopStats(allocate);
    this.traceArea = new Int32Array(allocate(TRACE_AREA_BYTES));
    this.counters = new Float64Array(countersSab);
    this.stopWord = new Int32Array(stopSab);
    this.heartbeat = new Int32Array(heartbeatSab);
    this.sandboxCounters = new Int32Array(sandboxSab);
    const base = {
      poolSab: opts.pool.sab,
      eth0Sab: dev0.sab,
      eth1Sab: dev1.sab,
      countersSab,
      stopSab,
      heartbeatSab,
      irqSab,
      ...(irqIndex === 0 ? {} : { irqIndex }),
      sandboxSab,
      loopStatsSab: this.loopStats.buffer as SharedArrayBuffer,
      traceSab: this.traceArea.buffer as SharedArrayBuffer,
      owner: opts.owner,
    };
    const workerData: InstanceWorkerData = {
      ...base,
      ...(opts.controlSab === undefined ? {} : { controlSab: opts.controlSab }),
      ...(opts.shard === undefined ? {} : { shard: opts.shard }),
      ...(opts.hostIrqSab === undefined ? {} : { hostIrqSab: opts.hostIrqSab }),
      ...(opts.ports === undefined ? {} : { ports: opts.ports }),
      ...(opts.links === undefined ? {} : { links: opts.links }),
      ...(opts.stateSab === undefined ? {} : { stateSab: opts.stateSab }),
      ...(opts.previousStateSab === undefined ? {} : { previousStateSab: opts.previousStateSab }),
    };

    this.spawnedAt = performance.now();
    this.worker = (opts.spawn ?? coldSpawn)(opts.imagePath, workerData, opts.manifest.memoryMiB);
    this.eth0 = deviceEnd(dev0, this.pool);
    this.eth1 = deviceEnd(dev1, this.pool);
    // One interrupt line for both receiveqs: the instance sleeps on it and wakes for either side.
    const irq = new Doorbell(new Int32Array(irqSab), irqIndex);
    this.irq = irq;
    this.eth0.setInterrupt(irq);
    this.eth1.setInterrupt(irq);
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    if (opts.warm === true || this.worker.prestarted === true) this.record({ type: 'booted', ms: 0 });
    else this.worker.once('online', () => this.record({ type: 'booted', ms: performance.now() - this.spawnedAt }));
    this.worker.on('message', (m: InstanceMessage) => this.onMessage(m));
    this.worker.on('error', (err: Error & { code?: string }) => {
      const reason = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out-of-memory' : 'crashed';
      void this.fail(reason, `${err.name}: ${err.message}`);
    });
    this.worker.on('exit', (code) => {
      if (!this.seen.has('stopped') && this.containing === undefined) void this.fail('exited', `exit code ${code} without the shutdown protocol`);
    });
    this.bootTimer = setTimeout(() => void this.fail('boot-timeout', `no ready within ${opts.bootTimeoutMs ?? 10000} ms`), opts.bootTimeoutMs ?? 10000);
  }

  /**
   * Starts an instance and resolves once it is `running` (ready) or `failed` (check `state`;
   * a failed boot has already been contained). Never rejects for a failing instance. A boot
   * that starts an isolate (not `warm`) waits for a slot of `INSTANCE_BOOT_GATE` first
   * (synchronously taken when one is free); its `bootTimeoutMs` runs from then.
   */
  static boot(opts: InstanceHostOptions): Promise<InstanceHost> {
    return opts.warm === true ? InstanceHost.start(opts) : INSTANCE_BOOT_GATE.run(() => InstanceHost.start(opts));
  }

  private static async start(opts: InstanceHostOptions): Promise<InstanceHost> {
    const host = new InstanceHost(opts);
    await host.until(() => host.state !== 'booting');
    return host;
  }

  /** Resolves when the instance is stopped or failed and contained. */
  async settled(): Promise<void> {
    await this.until(() => this.state === 'stopped' || this.state === 'failed');
    if (this.containing !== undefined) await this.containing;
  }

  /**
   * Clean shutdown: set the stop word, wait for `closing`, hand back both devices' posted
   * receive buffers, wait for `stopped` and the thread's exit, then free what is still
   * waiting in the transmitqs (count in the `stopped` event). A stop that does not finish
   * within `timeoutMs` fails the instance as `hung` (contained the same way).
   */
  async stop(timeoutMs = 2000): Promise<InstanceEvent> {
    if (this.state === 'running') {
      this.state = 'stopping';
      this.clearTimers();
      Atomics.store(this.stopWord, 0, 1);
      Atomics.notify(this.stopWord, 0);
      this.irq.ring();
      const timer = setTimeout(() => void this.fail('hung', `stop did not finish within ${timeoutMs} ms`), timeoutMs);
      await this.until(() => this.seen.has('closing') || this.state === 'failed');
      if (this.state === 'stopping') {
        this.eth0.returnRx();
        this.eth1.returnRx();
        await this.until(() => this.seen.has('stopped') || this.state === 'failed');
      }
      if (this.state === 'stopping') {
        await this.exited;
        clearTimeout(timer);
        const discarded = this.drainTx(this.eth0) + this.drainTx(this.eth1);
        this.state = 'stopped';
        this.releaseMemory();
        this.record({ type: 'stopped', received: this.stoppedMessage?.received ?? 0, discarded });
        this.wake(); // `settled()` waiters
      } else {
        clearTimeout(timer);
      }
    }
    if (this.state === 'booting') await this.fail('exited', 'stopped while booting');
    if (this.containing !== undefined) await this.containing;
    return this.events[this.events.length - 1];
  }

  /** The most recent heartbeat count (passes of the instance loop). */
  beats(): number {
    return Atomics.load(this.heartbeat, 0);
  }

  private onMessage(m: InstanceMessage): void {
    this.seen.add(m.type);
    if (m.type === 'ready' && this.state === 'booting') {
      this.bootMs = performance.now() - this.spawnedAt;
      this.state = 'running';
      clearTimeout(this.bootTimer);
      this.bootTimer = undefined;
      this.lastBeat = this.beats();
      this.lastBeatAt = performance.now();
      const every = Math.max(5, this.hangTimeoutMs / 4);
      this.watchTimer = setInterval(() => this.checkHeartbeat(), every);
      this.watchTimer.unref();
      this.record(m.startup === undefined ? { type: 'ready', bootMs: this.bootMs } : { type: 'ready', bootMs: this.bootMs, startup: m.startup });
    } else if (m.type === 'stopped') {
      this.stoppedMessage = m;
    }
    this.wake();
  }

  private checkHeartbeat(): void {
    if (this.state !== 'running') return;
    const beat = this.beats();
    const now = performance.now();
    if (beat !== this.lastBeat) {
      this.lastBeat = beat;
      this.lastBeatAt = now;
    } else if (now - this.lastBeatAt > this.hangTimeoutMs) {
      void this.fail('hung', `no heartbeat for ${(now - this.lastBeatAt).toFixed(0)} ms`);
    }
  }

  /**
   * Fails the instance for a fault the host found in shared memory it writes (see
   * `InstanceFailureReason`): contained like any failure, buffers of both owner ids
   * reclaimed, a `failed` event with `reason` and `detail`. Idempotent (the first reason
   * wins); resolves once contained. For the supervisor, never for the instance itself.
   */
  fault(reason: InstanceFailureReason, detail: string): Promise<void> {
    return this.fail(reason, detail);
  }

  /**
   * After a failure was contained (worker gone, buffers reclaimed): frees buffers the host
   * handed this instance's device ends since (frames routed to it before the data plane took
   * it out). Returns how many; 0 before containment, which reclaims them itself.
   */
  reclaimLate(): number {
    return this.contained ? this.pool.reclaimOwner(this.owner) + this.pool.reclaimOwner(this.deviceOwner) : 0;
  }

  /** Terminates, reclaims, records `failed`; idempotent (the first reason wins). */
  private fail(reason: InstanceFailureReason, detail: string): Promise<void> {
    if (this.containing !== undefined) return this.containing;
    if (this.state === 'stopped') return Promise.resolve();
    this.state = 'failed';
    this.failure = { reason, detail };
    this.clearTimers();
    this.containing = (async () => {
      await this.worker.terminate();
      await this.exited;
      const pool = this.pool;
      pool.releaseLockOf(this.owner);
      const reclaimed = pool.reclaimOwner(this.owner) + pool.reclaimOwner(this.deviceOwner);
      this.contained = true;
      this.releaseMemory();
      this.record({ type: 'failed', reason, detail, reclaimed });
    })();
    this.wake();
    void this.containing.then(() => this.wake());
    return this.containing;
  }

  /** Gives the instance's devices, counters and words back to the memory: only once it is gone, so it cannot write to a new owner's. */
  private releaseMemory(): void {
    for (const sab of this.allocated.splice(0)) this.memory.release(sab);
  }

  private drainTx(end: VirtioNetDeviceEnd): number {
    const ids = new Uint32Array(256);
    let total = 0;
    for (;;) {
      const n = end.pollTx(ids, ids.length);
      if (n === 0) return total;
      this.pool.freeBatch(ids, n);
      total += n;
    }
  }

  private clearTimers(): void {
    if (this.bootTimer !== undefined) clearTimeout(this.bootTimer);
    if (this.watchTimer !== undefined) clearInterval(this.watchTimer);
    this.bootTimer = undefined;
    this.watchTimer = undefined;
  }

  private record(event: InstanceEvent): void {
    this.events.push(event);
    this.onEvent?.(event);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
