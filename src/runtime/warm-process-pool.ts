import { resolve } from 'node:path';
import { InvalidArgumentError } from '../errors/catalog.ts';
import type { MemfdMemory } from '../memory/shared-memory.ts';
import { ProcessIsolate, type ProcessSandbox } from './process-isolate.ts';
import { processBootstrapPath } from './runtime-bundle.ts';
import type { InstanceSpawner } from './instance-host.ts';

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

/** After this many processes of the pool died idle in a row, it stops refilling (something is wrong with the machine). */
const MAX_IDLE_DEATHS = 8;

/**
 * Instance processes started ahead, idle in their bootstrap with the ESM loader warm and
 * the pool's images imported and their start-up rehearsed (`preload`, and the images it
 * learned from boots): a boot from the pool skips process start-up (~70 ms here) and, for
 * a preloaded image, only maps the data plane's memfd, builds the pipeline and stocks its
 * queues (the image is imported on boot otherwise). One pool serves
 * every data plane of a controller (a process gets its memfd when it boots, through
 * `/proc/<controller>/fd/<n>`). Each process taken is replaced in the background.
 *
 * @example
 * ```ts
 * const warm = await WarmProcessPool.create({ size: 2, memoryMiB: 256 });
 * const spawn = warm.spawner(memory, { uid: 65534, gid: 65534 });   // an InstanceSpawner
 * const host = await InstanceHost.boot({ imagePath, manifest, pool, owner: 10, memory, spawn, warm: true });
 * await warm.close();
 * ```
 */
export class WarmProcessPool {
  readonly size: number;
  readonly memoryMiB: number;
  /** Boots served by an idle process of the pool. */
  warmBoots = 0;
  /** Boots that had to start a process (pool empty, or the image needs more memory). */
  coldBoots = 0;
  private readonly bootstrap: string;
  private readonly idle: ProcessIsolate[] = [];
  private readonly preload: readonly string[];
  private readonly learn: number;
  /** Learned images, oldest first. */
  private readonly learned: string[] = [];
  private idleDeaths = 0;
  private closed = false;

  private constructor(size: number, memoryMiB: number, bootstrap: string, preload: readonly string[], learn: number) {
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
    else for (const p of this.idle) p.preload(imagePath);
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
   * An `InstanceSpawner` for a data plane over `memory`: it takes an idle process of the
   * pool when the image fits its heap class (the instance then runs with the pool's
   * limit), else starts one for the image.
   */
  spawner(memory: MemfdMemory, sandbox: ProcessSandbox): InstanceSpawner {
    return (imagePath, data, memoryMiB) => {
      const taken = memoryMiB <= this.memoryMiB ? this.take() : undefined;
      if (memoryMiB <= this.memoryMiB) this.learnImage(resolve(imagePath));
      if (taken !== undefined) this.warmBoots++;
      else this.coldBoots++;
      const isolate = taken ?? new ProcessIsolate(memoryMiB, this.bootstrap, memory);
      isolate.boot(imagePath, data, memory, sandbox);
      return isolate;
    };
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
  }

  /** The oldest idle process that is ready, else any started one; refills behind it. */
  private take(): ProcessIsolate | undefined {
    const i = this.idle.findIndex((p) => p.available && p.idle);
    const at = i >= 0 ? i : this.idle.findIndex((p) => p.available);
    if (at < 0) return undefined;
    const [taken] = this.idle.splice(at, 1);
    taken.removeAllListeners('exit');
    queueMicrotask(() => this.refill());
    return taken;
  }

  private refill(): void {
    while (!this.closed && this.idle.length < this.size && this.idleDeaths < MAX_IDLE_DEATHS) {
      const p = new ProcessIsolate(this.memoryMiB, this.bootstrap);
      for (const imagePath of this.preloads) p.preload(imagePath);
      p.on('error', () => {}); // an idle process's failure shows as its exit
      p.once('idle', () => (this.idleDeaths = 0));
      p.once('exit', () => {
        const at = this.idle.indexOf(p);
        if (at < 0) return;
        this.idle.splice(at, 1);
        this.idleDeaths++;
        this.refill();
      });
      this.idle.push(p);
    }
  }
}
