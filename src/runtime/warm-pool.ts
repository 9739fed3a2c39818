import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { InstanceHost, instanceResourceLimits, type InstanceHostOptions } from './instance-host.ts';
import { WARM_BOOT_KEY, type InstanceWorkerData } from './instance-main.ts';

/**
 * The bootstrap of a warm isolate: plain CommonJS (no tsx in the isolate). It starts the ESM
 * loader (its first use costs more than an image), imports every preloaded image with
 * `globalThis[Symbol.for(WARM_BOOT_KEY)]` set to a registrar (so the image hands over its boot
 * function instead of booting), says `warm`, then waits for `{ imagePath, workerData }`: a
 * preloaded image boots at once; any other is imported with the data left under the same
 * global, which the image's `startInstanceIfBooted` picks up. A failure surfaces as the
 * worker's `error`. The preload list is `workerData.preload`.
 */
export const WARM_BOOTSTRAP =
  `const { parentPort, workerData } = require('node:worker_threads');\n` +
  `const { pathToFileURL } = require('node:url');\n` +
  `const key = Symbol.for(${JSON.stringify(WARM_BOOT_KEY)});\n` +
  `const boots = new Map();\n` +
  `(async () => {\n` +
  `  await import('data:text/javascript,export default 0');\n` +
  `  for (const path of workerData.preload) {\n` +
  `    globalThis[key] = (boot) => boots.set(path, boot);\n` +
  `    await import(pathToFileURL(path).href);\n` +
  `    delete globalThis[key];\n` +
  `  }\n` +
  `  parentPort.once('message', (m) => {\n` +
  `    const boot = boots.get(m.imagePath);\n` +
  `    if (boot !== undefined) return boot(m.workerData);\n` +
  `    globalThis[key] = m.workerData;\n` +
  `    import(pathToFileURL(m.imagePath).href);\n` +
  `  });\n` +
  `  parentPort.postMessage('warm');\n` +
  `})();\n`;

/** Options of `WarmPool.create`. */
export interface WarmPoolOptions {
  /** Isolates kept booted and idle (default 2). */
  readonly size?: number;
  /**
   * Heap limit of every isolate of the pool, MiB: the pool's memory class. Resource limits
   * are fixed when an isolate is created, so an instance started warm runs with this limit,
   * not its manifest's; `acquire` refuses images that ask for more.
   */
  readonly memoryMiB: number;
  /**
   * Absolute paths of images every idle isolate imports ahead of time (default none): an
   * acquire of one of them only runs the instance's start-up, without loading the image.
   * Costs each idle isolate the memory of those images.
   */
  readonly preload?: readonly string[];
}

/**
 * Pre-booted worker isolates for one memory class: `acquire` loads an image into an idle
 * isolate instead of creating one, which takes the isolate and event-loop start-up off the
 * boot path. Each isolate serves one instance (it is not reused after the instance ends);
 * the pool starts a replacement in the background after every `acquire`. When no isolate is
 * idle, `acquire` starts one cold (counted in `misses`). Images listed in `preload` are
 * already loaded in every idle isolate, so acquiring one skips the import too.
 *
 * @example
 * ```ts
 * const warm = await WarmPool.create({ size: 4, memoryMiB: 64, preload: [imagePath] });
 * const host = await warm.acquire({ imagePath, manifest, pool, owner: 10 });
 * // … host.eth0.deliverRx(…) …
 * await host.stop();
 * await warm.close();
 * ```
 */
export class WarmPool {
  readonly size: number;
  readonly memoryMiB: number;
  /** Acquisitions that found no idle isolate and started one cold. */
  misses = 0;
  /** Isolates that failed to start (the last error in `lastStartError`). */
  startFailures = 0;
  lastStartError: string | undefined;
  private readonly idle: Worker[] = [];
  private starting = 0;
  private closed = false;
  private readonly waiters: Array<() => void> = [];

  private readonly preload: readonly string[];

  private constructor(size: number, memoryMiB: number, preload: readonly string[]) {
    this.size = size;
    this.memoryMiB = memoryMiB;
    this.preload = preload;
  }

  /** Creates the pool and resolves once `size` isolates are idle. */
  static async create(opts: WarmPoolOptions): Promise<WarmPool> {
    const size = opts.size ?? 2;
    if (!Number.isInteger(size) || size < 0 || size > 256) throw new InvalidArgumentError(`warm pool size must be 0..256, got ${size}`);
    if (!Number.isInteger(opts.memoryMiB) || opts.memoryMiB < 1) throw new InvalidArgumentError(`warm pool memory must be a whole number of MiB, got ${opts.memoryMiB}`);
    const pool = new WarmPool(size, opts.memoryMiB, (opts.preload ?? []).map((p) => resolve(p)));
    pool.refill();
    if (!(await pool.full())) {
      await pool.close();
      throw new InvalidArgumentError(`warm pool isolates failed to start: ${pool.lastStartError}`);
    }
    return pool;
  }

  /** Isolates idle now. */
  get idleCount(): number {
    return this.idle.length;
  }

  /**
   * Starts isolates up to `size` if none is starting, waits for those being started and
   * says whether `size` are idle. False when one failed to start (see `startFailures`, e.g.
   * a preloaded image that cannot be loaded any more).
   */
  async full(): Promise<boolean> {
    if (this.starting === 0) this.refill();
    while (!this.closed && this.starting > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.idle.length >= this.size;
  }

  /**
   * Boots an image instance in an idle isolate (see `InstanceHost.boot`; resolves when it is
   * running or failed). Throws `InvalidArgumentError` if the image needs more memory than
   * the pool's class.
   */
  async acquire(opts: Omit<InstanceHostOptions, 'spawn' | 'warm'>): Promise<InstanceHost> {
    if (opts.manifest.memoryMiB > this.memoryMiB) {
      throw new InvalidArgumentError(`image needs ${opts.manifest.memoryMiB} MiB; this warm pool's isolates have ${this.memoryMiB} MiB`);
    }
    const worker = this.idle.shift();
    if (worker === undefined) this.misses++;
    const host = InstanceHost.boot({
      ...opts,
      warm: worker !== undefined,
      spawn: (imagePath: string, workerData: InstanceWorkerData) => {
        const w = worker ?? this.spawn();
        w.ref();
        w.postMessage({ imagePath: resolve(imagePath), workerData });
        return w;
      },
    });
    this.refill();
    return host;
  }

  /** Terminates the idle isolates; instances already acquired are not affected. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await Promise.all(this.idle.splice(0).map((w) => w.terminate()));
  }

  private spawn(): Worker {
    return new Worker(WARM_BOOTSTRAP, {
      eval: true,
      execArgv: [],
      workerData: { preload: this.preload },
      resourceLimits: instanceResourceLimits(this.memoryMiB),
    });
  }

  private refill(): void {
    while (!this.closed && this.idle.length + this.starting < this.size) {
      this.starting++;
      const w = this.spawn();
      const dead = (err: Error): void => {
        this.startFailures++;
        this.lastStartError = `${err.name}: ${err.message}`;
        this.starting--;
        this.wake();
      };
      w.once('error', dead);
      w.once('message', () => {
        w.off('error', dead);
        this.starting--;
        if (this.closed) void w.terminate();
        else {
          w.unref(); // an idle isolate does not keep the process alive; acquire refs it
          this.idle.push(w);
        }
        this.wake();
      });
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
