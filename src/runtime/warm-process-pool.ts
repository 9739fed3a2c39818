import { resolve } from 'node:path';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { MemfdMemory, type SharedRange } from '../memory/shared-memory.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import { INSTANCE_BOOT_GATE } from './boot-gate.ts';
import { SANDBOX_REASONS } from './sandbox-reasons.ts';
import { ProcessIsolate, type ProcessSandbox } from './process-isolate.ts';
import { processBootstrapPath } from './runtime-bundle.ts';
import { InstanceHost, processSpawner, type InstanceHostOptions } from './instance-host.ts';

/** Counter memory per image a warm process builds ahead: room for 4096 counters (a fused chain of the three builtins has ~150). */
const COUNTER_BLOCK_BYTES = 4096 * 8;

/** Options of `WarmProcessPool.create`. */
export interface WarmProcessPoolOptions {
  /** Processes kept started and idle (default 2). */
  readonly size?: number;
  /** Heap limit of every process of the pool, MiB: images asking for more start cold. */
  readonly memoryMiB: number;
  /** Absolute paths of images every idle process imports ahead (default none). */
  readonly preload?: readonly string[];
  /** Images booted from the pool (or given to `learnImages`) that idle processes import ahead from then on, at most this many, newest kept (default 8). */
  readonly learn?: number;
}

/**
 * Where the pool's header, free stack and buffer metadata lie in `memory` (what every boot
 * writes to when it stocks its receive queues), or none when the pool is not in it.
 */
function poolMetadata(memory: MemfdMemory, pool: PacketPool): SharedRange[] {
  const at = memory.locate(pool.sab);
  return at === undefined ? [] : [{ offset: at.offset, length: Math.min(at.length, pool.bufferOffset(0)) }];
}

/** Longest a warm process being started holds its boot slot, ms (an instance's boot deadline). */
const WARM_START_SLOT_MS = 10_000;

/** After this many processes of the pool died idle in a row, it stops refilling (something is wrong with the machine). */
const MAX_IDLE_DEATHS = 8;

/**
 * Instance processes started ahead, idle in their bootstrap with the ESM loader warm and
 * the pool's images imported and their pipelines built (`preload`, and the images it
 * learned from boots): a boot from the pool skips process start-up (~70 ms here) and, for
 * a preloaded image, only maps the data plane's memfd and stocks its queues (the image is
 * imported and its pipeline built on boot otherwise). A pipeline built ahead counts in a
 * block of the pool's own memfd (every process's fd 5), which the instance keeps as its
 * counter memory. One pool serves
 * every data plane of a controller (a process gets its memfd when it boots, through
 * `/proc/<controller>/fd/<n>`). Each process taken is replaced in the background.
 *
 * @example
 * ```ts
 * const warm = await WarmProcessPool.create({ size: 2, memoryMiB: 256 });
 * const host = await warm.acquire({ imagePath, manifest, pool, owner: 10, memory, sandbox: { uid: 65534, gid: 65534 } });
 * await warm.close();
 * ```
 */
export class WarmProcessPool {
  readonly size: number;
  readonly memoryMiB: number;
  /** Boots served by an idle process of the pool. */
  warmBoots = 0;
  /** Warm boots on a pipeline the process built ahead. */
  preparedBoots = 0;
  /** Boots that had to start a process (pool empty, or the image needs more memory). */
  coldBoots = 0;
  private readonly bootstrap: string;
  private readonly idle: ProcessIsolate[] = [];
  /** Where pipelines built ahead keep their counters (fd 5 of every process of the pool). */
  private readonly warmMemory: MemfdMemory;
  /** Per idle process, the counter block of each image it built ahead. */
  private readonly blocks = new Map<ProcessIsolate, Map<string, SharedArrayBuffer>>();
  private readonly preload: readonly string[];
  private readonly learn: number;
  /** Learned images, oldest first. */
  private readonly learned: string[] = [];
  private idleDeaths = 0;
  /** A refill is starting a process (one at a time). */
  private refilling = false;
  /** Ends the boot slot of each process still starting. */
  private readonly starting = new Map<ProcessIsolate, () => void>();
  private closed = false;

  private constructor(size: number, memoryMiB: number, bootstrap: string, preload: readonly string[], learn: number) {
    this.warmMemory = MemfdMemory.create((size + 1) * (preload.length + learn + 1) * COUNTER_BLOCK_BYTES, 'nfvkit-warm-counters');
    this.size = size;
    this.memoryMiB = memoryMiB;
    this.bootstrap = bootstrap;
    this.preload = preload;
    this.learn = learn;
  }

  /** Images idle processes import ahead: `preload`, then the learned ones. */
  get preloads(): readonly string[] {
    return [...this.preload, ...this.learned];
  }

  /**
   * Learns images ahead of their boots (a controller that just built a chain's images calls
   * this): every idle process imports them now, every new one at start. Images above the
   * pool's heap class are skipped.
   */
  learnImages(images: ReadonlyArray<{ readonly imagePath: string; readonly memoryMiB: number }>): void {
    for (const image of images) if (image.memoryMiB <= this.memoryMiB) this.learnImage(resolve(image.imagePath));
  }

  /** Stops preloading these images (they were removed from the image store). */
  forget(imagePaths: readonly string[]): void {
    for (const p of imagePaths.map((x) => resolve(x))) {
      const at = this.learned.indexOf(p);
      if (at >= 0) this.learned.splice(at, 1);
    }
  }

  private learnImage(imagePath: string): void {
    if (this.learn === 0 || this.preload.includes(imagePath)) return;
    const at = this.learned.indexOf(imagePath);
    if (at >= 0) this.learned.splice(at, 1);
    else for (const p of this.idle) this.preloadInto(p, imagePath);
    this.learned.push(imagePath);
    if (this.learned.length > this.learn) this.learned.shift();
  }

  /** Starts the pool's processes (it does not wait for them: see `full`). */
  static async create(opts: WarmProcessPoolOptions): Promise<WarmProcessPool> {
    const size = opts.size ?? 2;
    if (!Number.isInteger(size) || size < 0 || size > 64) throw new InvalidArgumentError(`warm pool size must be an integer in 0..64, got ${size}`);
    if (!Number.isInteger(opts.memoryMiB) || opts.memoryMiB < 8) throw new InvalidArgumentError(`warm pool memory must be an integer ≥ 8 MiB, got ${opts.memoryMiB}`);
    const learn = opts.learn ?? 8;
    if (!Number.isInteger(learn) || learn < 0) throw new InvalidArgumentError(`warm pool learn must be a whole number of images, got ${learn}`);
    const pool = new WarmProcessPool(size, opts.memoryMiB, await processBootstrapPath(), (opts.preload ?? []).map((p) => resolve(p)), learn);
    pool.refill();
    return pool;
  }

  /**
   * Boots an instance (see `InstanceHost.boot`) in an idle process of the pool when the
   * image fits its heap class (the instance then runs with the pool's limit; on the
   * pipeline built ahead when the process preloaded the image), else in a process started
   * for it. `opts.memory` is the data plane's memfd.
   */
  acquire(opts: InstanceHostOptions & { readonly memory: MemfdMemory; readonly sandbox: ProcessSandbox }): Promise<InstanceHost> {
    const imagePath = resolve(opts.imagePath);
    const fits = opts.manifest.memoryMiB <= this.memoryMiB;
    const taken = fits ? this.take() : undefined;
    if (fits) this.learnImage(imagePath);
    if (taken !== undefined) this.warmBoots++;
    else this.coldBoots++;
    const blocks = taken === undefined ? undefined : this.blocks.get(taken);
    if (taken !== undefined) this.blocks.delete(taken);
    const counters = opts.countersSab === undefined ? blocks?.get(imagePath) : undefined;
    for (const [path, block] of blocks ?? []) if (path !== imagePath || counters === undefined) this.warmMemory.release(block);
    if (counters !== undefined) this.preparedBoots++;
    // The process taken maps the memory and enters its sandbox now, while the devices are built below.
    const sandboxSab = taken === undefined ? undefined : this.arm(taken, imagePath, opts);
    let spawned = false;
    const booting = InstanceHost.boot({
      ...opts,
      ...(counters === undefined ? {} : { countersSab: counters }),
      ...(sandboxSab === undefined ? {} : { sandboxSab }),
      // A process started ahead boots at once; one started for this instance waits for its boot slot.
      warm: taken !== undefined,
      spawn:
        taken === undefined
          ? processSpawner(opts.memory, this.bootstrap, opts.sandbox)
          : (path, data) => {
              spawned = true;
              taken.boot(path, data, opts.memory, opts.sandbox, counters === undefined ? undefined : this.warmMemory);
              return taken;
            },
    });
    if (taken !== undefined) {
      // Options the host refused: the process armed for it is of no use to anyone.
      booting.catch(() => {
        if (spawned) return;
        void taken.terminate();
        if (sandboxSab !== undefined) opts.memory.release(sandboxSab);
      });
    }
    // The process taken is replaced once this boot is over and its caller has the instance:
    // starting one forks the controller (the host thread stops for milliseconds) and takes a
    // core for ~100 ms, which would slow the boot it serves.
    const refill = (): void => void setImmediate(() => this.refill());
    if (taken !== undefined) void booting.then(refill, refill);
    // The prepared counters are the instance's for as long as it lives (none lives if the host refused the options).
    if (counters !== undefined) {
      const release = (): void => this.warmMemory.release(counters);
      void booting.then((host) => host.settled()).then(release, release);
    }
    return booting;
  }

  /**
   * Arms `p` for an instance of `imagePath` (`ProcessIsolate.arm`) with sandbox counters
   * allocated in the instance's memory now; returns them (the host's `sandboxSab`), or
   * undefined when the memory is full (the host then allocates them and reports it).
   */
  private arm(p: ProcessIsolate, imagePath: string, opts: InstanceHostOptions & { readonly memory: MemfdMemory; readonly sandbox: ProcessSandbox }): SharedArrayBuffer | undefined {
    let sandboxSab: SharedArrayBuffer;
    try {
      sandboxSab = opts.memory.allocate(SANDBOX_REASONS.length * 4);
    } catch {
      return undefined;
    }
    p.arm(imagePath, opts.memory, opts.sandbox, sandboxSab, opts.ports !== undefined || opts.links !== undefined, poolMetadata(opts.memory, opts.pool));
    return sandboxSab;
  }

  /** Resolves once every slot holds an idle process (or `timeoutMs` passed). */
  async full(timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.closed && performance.now() < deadline && (this.idle.length < this.size || this.idle.some((p) => !p.idle))) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Kills the idle processes; the pool starts no more. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((p) => p.terminate()));
    this.warmMemory.close();
  }

  /** Has `p` import `imagePath` ahead and build its pipeline on a counter block of the warm memory. */
  private preloadInto(p: ProcessIsolate, imagePath: string): void {
    let blocks = this.blocks.get(p);
    if (blocks === undefined) this.blocks.set(p, (blocks = new Map()));
    if (blocks.has(imagePath)) return;
    let block: SharedArrayBuffer | undefined;
    try {
      block = this.warmMemory.allocate(COUNTER_BLOCK_BYTES);
    } catch {
      block = undefined; // full: preload without building ahead
    }
    if (block !== undefined) blocks.set(imagePath, block);
    const range = block === undefined ? undefined : this.warmMemory.locate(block);
    p.preload(imagePath, range === undefined ? undefined : { ...range, warmBytes: this.warmMemory.bytes });
  }

  private dropBlocks(p: ProcessIsolate): void {
    for (const block of this.blocks.get(p)?.values() ?? []) this.warmMemory.release(block);
    this.blocks.delete(p);
  }

  /** The oldest idle process that is ready, else any started one (the caller refills behind it). */
  private take(): ProcessIsolate | undefined {
    const i = this.idle.findIndex((p) => p.available && p.idle);
    const at = i >= 0 ? i : this.idle.findIndex((p) => p.available);
    if (at < 0) return undefined;
    const [taken] = this.idle.splice(at, 1);
    taken.removeAllListeners('exit');
    this.starting.get(taken)?.();
    this.starting.delete(taken);
    return taken;
  }

  /**
   * Starts the missing processes one at a time, each through `INSTANCE_BOOT_GATE` (held
   * until it waits idle or is gone): refilling never competes with the boots of an apply
   * for the controller's thread and cores.
   */
  private refill(): void {
    if (this.refilling || !this.wantsMore()) return;
    this.refilling = true;
    void INSTANCE_BOOT_GATE.run(async () => {
      if (!this.wantsMore()) return;
      const p = new ProcessIsolate(this.memoryMiB, this.bootstrap, undefined, this.warmMemory);
      for (const imagePath of this.preloads) this.preloadInto(p, imagePath);
      p.on('error', () => {}); // an idle process's failure shows as its exit
      // The slot is held until it waits idle, is gone, or is taken for an instance (`take`).
      const started = new Promise<void>((resolve) => this.starting.set(p, resolve));
      const settle = (): void => {
        this.starting.get(p)?.();
        this.starting.delete(p);
      };
      p.once('idle', settle);
      p.once('exit', settle);
      setTimeout(settle, WARM_START_SLOT_MS).unref(); // a process that never says idle gives the slot back
      p.once('idle', () => (this.idleDeaths = 0));
      p.once('exit', () => {
        const at = this.idle.indexOf(p);
        if (at < 0) return;
        this.idle.splice(at, 1);
        this.dropBlocks(p);
        this.idleDeaths++;
        this.refill();
      });
      this.idle.push(p);
      await started;
    }).finally(() => {
      this.refilling = false;
      this.refill();
    });
  }

  private wantsMore(): boolean {
    return !this.closed && this.idle.length < this.size && this.idleDeaths < MAX_IDLE_DEATHS;
  }
}
